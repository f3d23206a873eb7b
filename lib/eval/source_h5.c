/* source_h5.c - labelled records from a Cait-layout HDF5 file (lib/io).
 *
 * Events are read in chunks of CHUNK events of all channels (memory stays
 * bounded whatever the file size) and handed out channel after channel,
 * event after event, as the simulator's stream does, so module events stay
 * adjacent for the manifold. The `labels` dataset holds Cait class numbers;
 * a record whose class cryoclean does not know (0 = unlabelled, or a class
 * outside cc_sim's list) has no truth to compare with: it is skipped and
 * counted (cc_eval_source_skipped). Simulated files' true_ph / true_snr /
 * true_onset / true_npulses fill the record's truth when present.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cc_eval.h"
#include "cc_h5.h"

enum { CHUNK = 64 };

typedef struct h5_ctx {
    cc_h5_reader *rd;
    cc_h5_info info;
    cc_h5_batch b;
    uint64_t first; /* first event of the chunk in b */
    uint32_t k;     /* events in the chunk */
    uint64_t ev;    /* next event */
    uint32_t ch;    /* next channel */
    size_t skipped;
} h5_ctx;

static void h5_free(void *ctx)
{
    h5_ctx *c = ctx;
    if (!c) return;
    cc_h5_reader_close(&c->rd);
    free(c->b.event), free(c->b.labels), free(c->b.true_ph), free(c->b.true_snr);
    free(c->b.true_onset), free(c->b.true_npulses);
    free(c);
}

/* Fills rec from channel ch of event i of the chunk. */
static void h5_record(const h5_ctx *c, uint32_t i, uint32_t ch, int label, cc_sim_record *rec)
{
    const cc_h5_info *in = &c->info;
    size_t j = (size_t)ch * c->k + i;
    memcpy(rec->samples, c->b.event + j * in->n_samples, in->n_samples * sizeof *rec->samples);
    rec->n_samples = in->n_samples;
    rec->trigger_index = in->trigger_index;
    rec->fs_hz = in->fs_hz > 0 ? in->fs_hz : 25000.0;
    rec->channel = ch < 64 ? in->channel_ids[ch] : ch;
    rec->ch_index = ch;
    rec->module = 0;
    rec->event = c->first + i;
    rec->time_s = 0;
    rec->class_id = label;
    rec->accept = cc_sim_class_accept(label) == 1;
    rec->testpulse = label == CC_SIM_TESTPULSE;
    rec->ph_v = c->b.true_ph[j];
    rec->onset_ms = c->b.true_onset[j];
    rec->snr = c->b.true_snr[j];
    rec->n_pulses = c->b.true_npulses[j];
}

static int h5_next(void *ctx, cc_sim_record *rec, double *dt, double *ratio, cc_err *e)
{
    h5_ctx *c = ctx;
    *dt = *ratio = NAN;
    for (;;) {
        if (c->ev >= c->info.n_events) return 1;
        if (c->ev >= c->first + c->k) { /* read the next chunk */
            uint64_t left = c->info.n_events - c->ev;
            c->first = c->ev;
            c->k = c->b.k = left < CHUNK ? (uint32_t)left : CHUNK;
            if (cc_h5_reader_read(c->rd, c->first, &c->b, e)) return -1;
        }
        uint32_t i = (uint32_t)(c->ev - c->first), ch = c->ch;
        if (++c->ch == c->info.n_channels) c->ch = 0, c->ev++;
        int label = c->b.labels[(size_t)ch * c->k + i];
        if (cc_sim_class_accept(label) < 0) {
            c->skipped++;
            continue;
        }
        h5_record(c, i, ch, label, rec);
        return 0;
    }
}

int cc_eval_source_h5(cc_eval_source *src, const char *path, const char *group, cc_err *e)
{
    memset(src, 0, sizeof *src);
    h5_ctx *c = calloc(1, sizeof *c);
    if (!c) return cc_err_set(e, "eval source: out of memory");
    if (!(c->rd = cc_h5_reader_open(path, group, e))) {
        h5_free(c);
        return -1;
    }
    c->info = *cc_h5_reader_info(c->rd);
    if (!(c->info.fields & CC_H5_LABELS)) {
        h5_free(c);
        return cc_err_set(e,
                          "%s: group '%s' has no 'labels' dataset; evaluation needs labelled "
                          "records (Cait class numbers per channel and event)",
                          path, group);
    }
    size_t per = (size_t)c->info.n_channels * CHUNK;
    c->b.event = malloc(per * c->info.n_samples * sizeof *c->b.event);
    c->b.labels = malloc(per * sizeof *c->b.labels);
    c->b.true_ph = malloc(per * sizeof *c->b.true_ph);
    c->b.true_snr = malloc(per * sizeof *c->b.true_snr);
    c->b.true_onset = malloc(per * sizeof *c->b.true_onset);
    c->b.true_npulses = malloc(per * sizeof *c->b.true_npulses);
    if (!c->b.event || !c->b.labels || !c->b.true_ph || !c->b.true_snr || !c->b.true_onset ||
        !c->b.true_npulses) {
        h5_free(c);
        return cc_err_set(e, "eval source: out of memory for %d events of %s", CHUNK, path);
    }
    src->ctx = c;
    src->n_samples = c->info.n_samples;
    src->total = c->info.n_events * c->info.n_channels;
    src->next = h5_next;
    src->free = h5_free;
    return 0;
}

size_t cc_eval_source_skipped(const cc_eval_source *src)
{
    return src->next == h5_next ? ((const h5_ctx *)src->ctx)->skipped : 0;
}
