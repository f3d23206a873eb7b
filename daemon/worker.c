/* worker.c - classification workers: batches of items -> decisions.
 *
 * A worker pops up to max_batch items (waiting at most max_wait_ms for a
 * batch to fill), converts samples to volts, preprocesses per classifier
 * input length, groups the batch by the classifier each channel is mapped to
 * and calls each plugin once per group. It holds one pipeline reference and
 * per-classifier workspaces; when a reload publishes a new pipeline the
 * worker switches between batches, so no record is lost or decided twice.
 * Buffers grow to the largest record seen and are then reused.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cc_preproc.h"
#include "daemon.h"
#include "log.h"

typedef struct worker {
    ccd *d;
    int idx;
    ccd_pipeline *p;
    void **ws; /* [p->cfg->nclassifiers] */
    size_t max_batch;
    float **raw;    /* [max_batch] volts buffers */
    size_t *rawcap; /* [max_batch] */
    float *x;       /* [max_batch * p->max_input_len] */
    float *scores;
    cc_record_meta *meta;
    const float **braw;
    size_t *sel; /* indices of the batch in the current group */
    float *cutoff;
    size_t *cls;
} worker;

static void drop_pipeline(worker *w)
{
    if (!w->p) return;
    for (size_t i = 0; i < w->p->cfg->nclassifiers; i++)
        if (w->ws[i]) w->p->cls[i].ops->ws_free(w->p->cls[i].inst, w->ws[i]);
    free(w->ws);
    free(w->x);
    w->ws = NULL;
    w->x = NULL;
    ccd_pipeline_release(w->p);
    w->p = NULL;
}

/* Switches to the current pipeline if a reload replaced ours. */
static int refresh_pipeline(worker *w)
{
    if (w->p && w->p->generation == atomic_load(&w->d->pipe_generation)) return 0;
    drop_pipeline(w);
    ccd_pipeline *p = ccd_pipeline_acquire(w->d);
    w->p = p;
    w->ws = calloc(p->cfg->nclassifiers, sizeof *w->ws);
    w->x = calloc(w->max_batch * (p->max_input_len ? p->max_input_len : 1), sizeof *w->x);
    if (!w->ws || !w->x) return -1;
    for (size_t i = 0; i < p->cfg->nclassifiers; i++)
        if (!(w->ws[i] = p->cls[i].ops->ws_new(p->cls[i].inst, w->max_batch))) {
            log_err("worker %d: classifier '%s' could not allocate its workspace", w->idx,
                    p->cls[i].name);
            return -1;
        }
    return 0;
}

/* Rough pulse height for the monitor's spectra: the largest 16-sample block
 * mean above the mean of the first eighth of the record. */
static float pulse_height(const float *v, size_t n)
{
    size_t pre = n / 8 ? n / 8 : 1;
    double off = 0.0;
    for (size_t i = 0; i < pre; i++) off += v[i];
    off /= (double)pre;
    double best = -HUGE_VAL;
    for (size_t i = 0; i + 16 <= n; i += 16) {
        double s = 0.0;
        for (size_t k = 0; k < 16; k++) s += v[i + k];
        if (s / 16.0 > best) best = s / 16.0;
    }
    return best == -HUGE_VAL ? NAN : (float)(best - off);
}

static void mark_invalid(ccd_item *it, cc_reason r)
{
    it->dec.verdict = CC_V_INVALID;
    it->dec.reason = (uint8_t)r;
    it->dec.score = NAN;
}

/* Converts and checks every record; returns how many are still classifiable. */
static void prepare(worker *w, ccd_item **items, size_t n)
{
    const cc_config *cfg = w->p->cfg;
    for (size_t i = 0; i < n; i++) {
        ccd_item *it = items[i];
        const cc_conf_channel *rule = cc_config_channel(cfg, it->hdr.channel);
        const cc_classifier *cl = &w->p->cls[rule->classifier];
        w->cls[i] = rule->classifier;
        w->cutoff[i] = isnan(rule->cutoff) ? cl->info.default_cutoff : rule->cutoff;
        memcpy(it->dec.classifier, cl->name, sizeof it->dec.classifier - 1);
        memcpy(it->dec.model, cl->info.model, sizeof it->dec.model - 1);
        it->dec.cutoff = w->cutoff[i];
        it->dec.verdict = 255; /* undecided */
        size_t ns = it->hdr.n_samples;
        if (w->rawcap[i] < ns) {
            float *r = realloc(w->raw[i], ns * sizeof *r);
            if (!r) {
                mark_invalid(it, CC_R_CLASSIFIER_ERROR);
                continue;
            }
            w->raw[i] = r;
            w->rawcap[i] = ns;
        }
        if (cc_rec_to_volts(&it->hdr, zmq_msg_data(&it->frames[2]), w->raw[i]) != CC_R_ACCEPTED) {
            mark_invalid(it, CC_R_NAN);
            continue;
        }
        it->pulse_height = pulse_height(w->raw[i], ns);
        if (cl->info.input_len && ns < cl->info.input_len) mark_invalid(it, CC_R_TOO_SHORT);
    }
}

/* Classifies the records of one classifier group. */
static void classify_group(worker *w, ccd_item **items, size_t n, size_t ci)
{
    const cc_classifier *cl = &w->p->cls[ci];
    size_t L = cl->info.input_len, k = 0;
    for (size_t i = 0; i < n; i++) {
        ccd_item *it = items[i];
        if (w->cls[i] != ci || it->dec.verdict != 255) continue;
        if (L && cc_prep_record(w->raw[i], it->hdr.n_samples, w->x + k * L, L) != CC_PREP_OK) {
            mark_invalid(it, CC_R_NAN);
            continue;
        }
        w->sel[k] = i;
        w->braw[k] = w->raw[i];
        w->meta[k] = (cc_record_meta){.channel = it->hdr.channel,
                                      .module = it->hdr.module,
                                      .n_samples = it->hdr.n_samples,
                                      .trigger_index = it->hdr.trigger_index,
                                      .sample_rate_hz = it->hdr.sample_rate_hz};
        k++;
    }
    if (!k) return;
    cc_batch b = {.n = k, .meta = w->meta, .raw = w->braw, .x = L ? w->x : NULL, .input_len = L};
    cc_err e = {""};
    int r = cl->ops->classify(cl->inst, w->ws[ci], &b, w->scores, &e);
    if (r)
        log_limited(62, LOG_ERR, "classifier '%s' failed on a batch of %zu: %s", cl->name, k,
                    e.msg);
    else if (e.msg[0]) /* some records scored NaN, with the plugin's reason */
        log_limited(58, LOG_WARNING, "classifier '%s': %s", cl->name, e.msg);
    for (size_t j = 0; j < k; j++) {
        ccd_item *it = items[w->sel[j]];
        float s = w->scores[j];
        if (r || !(s >= 0.0f && s <= 1.0f)) {
            mark_invalid(it, CC_R_CLASSIFIER_ERROR);
            continue;
        }
        it->dec.score = s;
        it->dec.verdict = s >= w->cutoff[w->sel[j]] ? CC_V_ACCEPT : CC_V_REJECT;
        it->dec.reason = it->dec.verdict == CC_V_ACCEPT ? CC_R_ACCEPTED : CC_R_REJECTED;
    }
}

static void process(worker *w, ccd_item **items, size_t n)
{
    prepare(w, items, n);
    for (size_t ci = 0; ci < w->p->cfg->nclassifiers; ci++) classify_group(w, items, n, ci);
    uint64_t t = ccd_mono_ns();
    for (size_t i = 0; i < n; i++) {
        ccd_item *it = items[i];
        uint64_t us = (t - it->t_recv_ns) / 1000;
        it->dec.latency_us = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
        if (ccd_queue_push(w->d->out, it)) ccd_item_free(it);
    }
    atomic_fetch_add(&w->d->c.batches, 1);
}

static void worker_free(worker *w)
{
    drop_pipeline(w);
    for (size_t i = 0; w->raw && i < w->max_batch; i++) free(w->raw[i]);
    free(w->raw);
    free(w->rawcap);
    free(w->scores);
    free(w->meta);
    free(w->braw);
    free(w->sel);
    free(w->cutoff);
    free(w->cls);
}

void *ccd_worker_main(void *arg)
{
    ccd_worker_arg *a = arg;
    worker w = {.d = a->d, .idx = a->idx, .max_batch = (size_t)a->d->boot_cfg->max_batch};
    size_t mb = w.max_batch;
    w.raw = calloc(mb, sizeof *w.raw);
    w.rawcap = calloc(mb, sizeof *w.rawcap);
    w.scores = calloc(mb, sizeof *w.scores);
    w.meta = calloc(mb, sizeof *w.meta);
    w.braw = calloc(mb, sizeof *w.braw);
    w.sel = calloc(mb, sizeof *w.sel);
    w.cutoff = calloc(mb, sizeof *w.cutoff);
    w.cls = calloc(mb, sizeof *w.cls);
    ccd_item **items = calloc(mb, sizeof *items);
    if (!w.raw || !w.rawcap || !w.scores || !w.meta || !w.braw || !w.sel || !w.cutoff || !w.cls ||
        !items) {
        log_err("worker %d: out of memory", w.idx);
        abort();
    }
    int wait_ms = a->d->boot_cfg->max_wait_ms;
    for (;;) {
        atomic_fetch_add(&a->d->beat_workers[w.idx], 1);
        size_t n = ccd_queue_pop(a->d->work, (void **)items, mb, 200, wait_ms);
        if (n == 0) {
            if (ccd_queue_finished(a->d->work)) break;
            continue;
        }
        if (refresh_pipeline(&w)) {
            log_err("worker %d: cannot set up the classifiers; answering the batch as "
                    "classifier_error",
                    w.idx);
            for (size_t i = 0; i < n; i++) {
                mark_invalid(items[i], CC_R_CLASSIFIER_ERROR);
                if (ccd_queue_push(a->d->out, items[i])) ccd_item_free(items[i]);
            }
            drop_pipeline(&w);
            continue;
        }
        process(&w, items, n);
    }
    worker_free(&w);
    free(items);
    return NULL;
}
