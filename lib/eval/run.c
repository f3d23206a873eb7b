/* run.c - running a classifier over labelled records, and the simulated
 * record sources of the paper's section 4.2.
 *
 * cc_eval_run() mirrors the daemon's worker (daemon/worker.c) through
 * lib/clean's cc_clean_classify(), shared with `cryoclean classify`: records
 * are collected into a batch, each is preprocessed with cc_prep_record() to the
 * classifier's input_len when that is nonzero (a refused record is rejected
 * with score 0 and never reaches the plugin), and the plugin sees raw volts,
 * the preprocessed matrix and the per-record meta in one classify() call
 * with its own workspace. Besides the score, the set keeps a 512-bin
 * block-mean view of every record in volts for the pictures.
 *
 * Sources draw from the simulator (lib/sim) with a fixed seed. For IOR and
 * IOS the channel is the module's channel 0 with its preset shape and noise,
 * onsets exactly at the trigger and saturation off, so that the curves
 * measure SNR and pile-up resolution alone. The IOS second pulse is the
 * same shape taken from a noise-free simulator (rms 1e-7 V, no ADC, no
 * drift) scaled and shifted onto the first record, then re-rasterised to
 * the ADC grid if the configuration asks for it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cc_clean.h"
#include "cc_eval.h"
#include "cc_preproc.h"

/* ---- the per-record set ---- */

void cc_eval_set_release(cc_eval_set *s)
{
    if (!s) return;
    free(s->score), free(s->label), free(s->class_id), free(s->ch), free(s->event);
    free(s->ph), free(s->snr), free(s->dt_ms), free(s->ratio), free(s->view);
    memset(s, 0, sizeof *s);
}

#define GROW(p, cap)                                                                               \
    do {                                                                                           \
        void *q_ = realloc((p), (cap) * sizeof *(p));                                              \
        if (!q_) return -1;                                                                        \
        (p) = q_;                                                                                  \
    } while (0)

static int set_reserve(cc_eval_set *s, size_t want)
{
    if (want <= s->cap) return 0;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < want) cap *= 2;
    GROW(s->score, cap);
    GROW(s->label, cap);
    GROW(s->class_id, cap);
    GROW(s->ch, cap);
    GROW(s->event, cap);
    GROW(s->ph, cap);
    GROW(s->snr, cap);
    GROW(s->dt_ms, cap);
    GROW(s->ratio, cap);
    void *v = realloc(s->view, cap * CC_EVAL_VIEW * sizeof *s->view);
    if (!v) return -1;
    s->view = v;
    s->cap = cap;
    return 0;
}

/* Pulse height of a view: maximum minus the mean of the pre-trigger bins
 * (all bins up to 8 before the trigger bin, at least one). */
static double view_ph(const float *v, uint32_t trig_bin)
{
    size_t nb = trig_bin > 8 ? trig_bin - 8 : 1;
    double base = 0, mx = -INFINITY;
    for (size_t i = 0; i < nb; i++) base += v[i];
    for (size_t i = 0; i < CC_EVAL_VIEW; i++) mx = fmax(mx, v[i]);
    return mx - base / (double)nb;
}

static void set_append(cc_eval_set *s, const cc_sim_record *r, float score, double dt, double ratio)
{
    size_t i = s->n++;
    float *v = s->view + i * CC_EVAL_VIEW;
    s->score[i] = score;
    s->label[i] = r->accept ? 1 : 0;
    s->class_id[i] = r->class_id;
    s->ch[i] = r->ch_index;
    s->event[i] = r->event;
    s->snr[i] = r->snr > 0 ? r->snr : NAN;
    s->dt_ms[i] = dt, s->ratio[i] = ratio;
    if (cc_prep_downsample(r->samples, r->n_samples, v, CC_EVAL_VIEW) != CC_PREP_OK) {
        for (size_t j = 0; j < CC_EVAL_VIEW; j++) v[j] = NAN;
        s->ph[i] = NAN;
    } else {
        s->ph[i] = view_ph(v, (uint32_t)((uint64_t)r->trigger_index * CC_EVAL_VIEW /
                                         (r->n_samples ? r->n_samples : 1)));
    }
    s->view_dt_ms = 1e3 * r->n_samples / CC_EVAL_VIEW / r->fs_hz;
}

/* ---- running the classifier ---- */

typedef struct runner {
    size_t batch;
    cc_sim_record *rec;
    double *dt, *ratio;
    cc_record_meta *meta;
    const float **raw;
    float *scores;
    cc_clean_ws *cw; /* preprocessing + the plugin's workspace (lib/clean) */
} runner;

static void runner_free(runner *r)
{
    if (r->rec)
        for (size_t i = 0; i < r->batch; i++) cc_sim_record_release(&r->rec[i]);
    cc_clean_ws_free(&r->cw);
    free(r->rec), free(r->dt), free(r->ratio), free(r->meta), free(r->raw), free(r->scores);
}

static int runner_new(const cc_classifier *cl, size_t batch, uint32_t n_samples, runner *r,
                      cc_err *e)
{
    memset(r, 0, sizeof *r);
    r->batch = batch;
    r->rec = calloc(batch, sizeof *r->rec);
    r->dt = calloc(batch, sizeof *r->dt), r->ratio = calloc(batch, sizeof *r->ratio);
    r->meta = calloc(batch, sizeof *r->meta), r->raw = calloc(batch, sizeof *r->raw);
    r->scores = calloc(batch, sizeof *r->scores);
    if (!r->rec || !r->dt || !r->ratio || !r->meta || !r->raw || !r->scores) {
        runner_free(r);
        return cc_err_set(e, "eval: out of memory for a batch of %zu records", batch);
    }
    for (size_t i = 0; i < batch; i++)
        if (cc_sim_record_init(&r->rec[i], n_samples, e)) {
            runner_free(r);
            return cc_err_prefix(e, "eval");
        }
    if (!(r->cw = cc_clean_ws_new(cl, batch, e))) {
        runner_free(r);
        return cc_err_prefix(e, "eval");
    }
    return 0;
}

/* Classifies rec[0..n) into scores[], as the daemon's classify_group does
 * (cc_clean_classify); refused records get score 0. */
static int runner_classify(runner *r, size_t n, cc_err *e)
{
    for (size_t i = 0; i < n; i++) {
        const cc_sim_record *rec = &r->rec[i];
        r->raw[i] = rec->samples;
        r->meta[i] = (cc_record_meta){.channel = rec->channel,
                                      .module = rec->module,
                                      .n_samples = rec->n_samples,
                                      .trigger_index = rec->trigger_index,
                                      .sample_rate_hz = (float)rec->fs_hz};
    }
    if (cc_clean_classify(r->cw, r->raw, r->meta, n, 0.0f, r->scores, e))
        return cc_err_prefix(e, "eval");
    return 0;
}

long cc_eval_run(const cc_classifier *cl, cc_eval_source *src, size_t max_records, size_t batch,
                 cc_eval_set *set, cc_eval_progress_fn progress, void *pctx, cc_err *e)
{
    runner r;
    if (batch == 0) batch = 64;
    if (runner_new(cl, batch, src->n_samples, &r, e)) return -1;
    size_t done = 0;
    int end = 0;
    long ret = -1;
    while (!end && done < max_records) {
        size_t n = 0;
        while (n < batch && done + n < max_records) {
            int s = src->next(src->ctx, &r.rec[n], &r.dt[n], &r.ratio[n], e);
            if (s < 0) goto out;
            if (s > 0) {
                end = 1;
                break;
            }
            n++;
        }
        if (runner_classify(&r, n, e)) goto out;
        if (set_reserve(set, set->n + n)) {
            cc_err_set(e, "eval: out of memory for %zu records", set->n + n);
            goto out;
        }
        for (size_t i = 0; i < n; i++) set_append(set, &r.rec[i], r.scores[i], r.dt[i], r.ratio[i]);
        done += n;
        if (progress) progress(pctx, done);
    }
    ret = (long)done;
out:
    runner_free(&r);
    return ret;
}

/* ---- simulated sources ---- */

enum src_mode { SRC_MIX, SRC_IOR, SRC_IOS };

typedef struct src_ctx {
    enum src_mode mode;
    cc_sim *sim;
    double snr_lo, snr_hi, dt_lo, dt_hi, r_lo, r_hi;
    float *tmpl; /* IOS: unit-height pulse with onset at the trigger */
    double rms, fs, t;
    int adc;
} src_ctx;

/* Sets channel 0 of cfg up for single-pulse draws with heights given per
 * record (the range is set before each draw). */
static void single_pulse_cfg(cc_sim_config *c)
{
    c->n_channels = 1;
    c->onset_ms = 0.0;
    c->ch[0].sat_v = 0.0;
    c->ch[0].line_frac = 0.0;
    c->ch[0].ph_dist = CC_SIM_PH_LOGUNIFORM;
}

static int next_mix(src_ctx *c, cc_sim_record *rec, cc_err *e)
{
    return cc_sim_next(c->sim, rec, e);
}

static int next_ior(src_ctx *c, cc_sim_record *rec, cc_err *e)
{
    if (cc_sim_make(c->sim, 0, CC_SIM_EVENT, c->t, rec, e)) return -1;
    c->t += 1.0;
    return 0;
}

static int next_ios(src_ctx *c, cc_sim_record *rec, double *dt, double *ratio, cc_err *e)
{
    if (cc_sim_make(c->sim, 0, CC_SIM_EVENT, c->t, rec, e)) return -1;
    c->t += 1.0;
    *dt = c->dt_lo + cc_sim_uniform(c->sim) * (c->dt_hi - c->dt_lo);
    *ratio = c->r_lo + cc_sim_uniform(c->sim) * (c->r_hi - c->r_lo);
    double a = *ratio * rec->ph_v;
    size_t shift = (size_t)lround(*dt * 1e-3 * c->fs), n = rec->n_samples;
    const float q = (float)CC_SIM_ADC_VOLTS_PER_CODE;
    for (size_t j = shift; j < n; j++) {
        float v = rec->samples[j] + (float)(a * c->tmpl[j - shift]);
        rec->samples[j] = c->adc ? q * nearbyintf(v / q) : v;
    }
    rec->class_id = CC_SIM_PILEUP;
    rec->accept = 0;
    rec->n_pulses = 2;
    rec->pulse_ph_v[1] = a;
    rec->pulse_onset_ms[1] = rec->onset_ms + *dt;
    return 0;
}

static int src_next(void *ctx, cc_sim_record *rec, double *dt, double *ratio, cc_err *e)
{
    src_ctx *c = ctx;
    *dt = *ratio = NAN;
    switch (c->mode) {
    case SRC_MIX:
        return next_mix(c, rec, e);
    case SRC_IOR:
        return next_ior(c, rec, e);
    case SRC_IOS:
        return next_ios(c, rec, dt, ratio, e);
    }
    return cc_err_set(e, "eval: unknown source mode %d", (int)c->mode);
}

static void src_free(void *ctx)
{
    src_ctx *c = ctx;
    cc_sim_free(&c->sim);
    free(c->tmpl);
    free(c);
}

static int src_open(cc_eval_source *src, src_ctx *c, const cc_sim_config *cfg, uint64_t seed,
                    cc_err *e)
{
    if (!(c->sim = cc_sim_new(cfg, seed, e))) {
        src_free(c);
        return cc_err_prefix(e, "eval source");
    }
    c->fs = cfg->fs_hz, c->rms = cfg->ch[0].rms_v, c->adc = cfg->adc;
    src->ctx = c;
    src->n_samples = cfg->n_samples;
    src->next = src_next;
    src->free = src_free;
    return 0;
}

int cc_eval_source_mix(cc_eval_source *src, const cc_sim_config *cfg, uint64_t seed, cc_err *e)
{
    memset(src, 0, sizeof *src);
    src_ctx *c = calloc(1, sizeof *c);
    if (!c) return cc_err_set(e, "eval source: out of memory");
    c->mode = SRC_MIX;
    return src_open(src, c, cfg, seed, e);
}

static int check_range(const char *what, double lo, double hi, double min, cc_err *e)
{
    if (!(isfinite(lo) && isfinite(hi) && lo >= min && lo < hi))
        return cc_err_set(e, "eval source: %s range [%g, %g]: expected %g <= lo < hi", what, lo, hi,
                          min);
    return 0;
}

int cc_eval_source_ior(cc_eval_source *src, const cc_sim_config *cfg, uint64_t seed, double snr_lo,
                       double snr_hi, cc_err *e)
{
    memset(src, 0, sizeof *src);
    if (check_range("SNR", snr_lo, snr_hi, 1e-3, e)) return -1;
    cc_sim_config c1 = *cfg;
    single_pulse_cfg(&c1);
    c1.ch[0].ph_min_v = snr_lo * c1.ch[0].rms_v;
    c1.ch[0].ph_max_v = snr_hi * c1.ch[0].rms_v;
    src_ctx *c = calloc(1, sizeof *c);
    if (!c) return cc_err_set(e, "eval source: out of memory");
    c->mode = SRC_IOR;
    return src_open(src, c, &c1, seed, e);
}

/* The noise-free unit pulse of channel 0 of cfg, onset at the trigger. */
static float *unit_pulse(const cc_sim_config *cfg, cc_err *e)
{
    cc_sim_config c0 = *cfg;
    single_pulse_cfg(&c0);
    c0.adc = 0;
    c0.ch[0].rms_v = 1e-7;
    c0.ch[0].drift_v = 0.0;
    c0.ch[0].ph_min_v = 1.0, c0.ch[0].ph_max_v = 1.0 + 1e-9;
    cc_sim *s = cc_sim_new(&c0, 1, e);
    if (!s) return NULL;
    cc_sim_record r = {0};
    float *t = NULL;
    if (!cc_sim_record_init(&r, c0.n_samples, e) && !cc_sim_make(s, 0, CC_SIM_EVENT, 0, &r, e)) {
        t = r.samples, r.samples = NULL;
        for (uint32_t j = 0; j < c0.n_samples; j++) t[j] = (float)(t[j] / r.ph_v);
    }
    cc_sim_record_release(&r);
    cc_sim_free(&s);
    return t;
}

int cc_eval_source_ios(cc_eval_source *src, const cc_sim_config *cfg, uint64_t seed, double snr_lo,
                       double snr_hi, double dt_lo, double dt_hi, double r_lo, double r_hi,
                       cc_err *e)
{
    memset(src, 0, sizeof *src);
    if (check_range("SNR", snr_lo, snr_hi, 1e-3, e) ||
        check_range("onset difference (ms)", dt_lo, dt_hi, 0, e) ||
        check_range("pulse-height ratio", r_lo, r_hi, 0, e))
        return -1;
    cc_sim_config c1 = *cfg;
    single_pulse_cfg(&c1);
    c1.ch[0].ph_min_v = snr_lo * c1.ch[0].rms_v;
    c1.ch[0].ph_max_v = snr_hi * c1.ch[0].rms_v;
    src_ctx *c = calloc(1, sizeof *c);
    if (!c) return cc_err_set(e, "eval source: out of memory");
    c->mode = SRC_IOS;
    c->dt_lo = dt_lo, c->dt_hi = dt_hi, c->r_lo = r_lo, c->r_hi = r_hi;
    if (!(c->tmpl = unit_pulse(cfg, e))) {
        free(c);
        return cc_err_prefix(e, "eval source: IOS template");
    }
    return src_open(src, c, &c1, seed, e);
}

void cc_eval_source_free(cc_eval_source *src)
{
    if (src->ctx && src->free) src->free(src->ctx);
    memset(src, 0, sizeof *src);
}

int cc_eval_mix(const cc_classifier *cl, const cc_sim_config *cfg, uint64_t seed, size_t n,
                size_t batch, cc_eval_set *set, cc_eval_report *r, cc_eval_progress_fn progress,
                void *pctx, cc_err *e)
{
    cc_eval_source src;
    if (cc_eval_source_mix(&src, cfg, seed, e)) return -1;
    long got = cc_eval_run(cl, &src, n, batch, set, progress, pctx, e);
    cc_eval_source_free(&src);
    if (got < 0) return -1;
    cc_eval_report_labels(r, set->score, set->label, set->class_id, set->n);
    return 0;
}
