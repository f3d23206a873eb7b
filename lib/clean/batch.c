/* batch.c - classifying a batch of records as the daemon's workers do
 * (see cc_clean.h). The workspace holds everything one call needs, so
 * cc_clean_classify() never allocates.
 */
#include <stdlib.h>
#include <string.h>

#include "cc_clean.h"
#include "cc_preproc.h"

struct cc_clean_ws {
    const cc_classifier *cl;
    size_t max_batch, L;
    void *ws;             /* the plugin's workspace */
    float *x;             /* [max_batch * L] preprocessed inputs */
    float *bscores;       /* [max_batch] scores of the records the plugin saw */
    size_t *sel;          /* [max_batch] their index in the caller's batch */
    const float **raw;    /* [max_batch] */
    cc_record_meta *meta; /* [max_batch] */
};

void cc_clean_ws_free(cc_clean_ws **wp)
{
    if (!wp || !*wp) return;
    cc_clean_ws *w = *wp;
    if (w->ws) w->cl->ops->ws_free(w->cl->inst, w->ws);
    free(w->x), free(w->bscores), free(w->sel), free(w->raw), free(w->meta);
    free(w);
    *wp = NULL;
}

cc_clean_ws *cc_clean_ws_new(const cc_classifier *cl, size_t max_batch, cc_err *e)
{
    cc_clean_ws *w = calloc(1, sizeof *w);
    if (!w) {
        cc_err_set(e, "out of memory");
        return NULL;
    }
    w->cl = cl, w->max_batch = max_batch ? max_batch : 1, w->L = cl->info.input_len;
    size_t mb = w->max_batch;
    w->x = calloc(mb * (w->L ? w->L : 1), sizeof *w->x);
    w->bscores = calloc(mb, sizeof *w->bscores);
    w->sel = calloc(mb, sizeof *w->sel);
    w->raw = calloc(mb, sizeof *w->raw);
    w->meta = calloc(mb, sizeof *w->meta);
    if (!w->x || !w->bscores || !w->sel || !w->raw || !w->meta) {
        cc_clean_ws_free(&w);
        cc_err_set(e, "classifier '%s': out of memory for a batch of %zu records", cl->name, mb);
        return NULL;
    }
    if (!(w->ws = cl->ops->ws_new(cl->inst, mb))) {
        cc_clean_ws_free(&w);
        cc_err_set(e, "classifier '%s': no workspace for batches of %zu records", cl->name, mb);
        return NULL;
    }
    return w;
}

int cc_clean_classify(cc_clean_ws *w, const float *const *raw, const cc_record_meta *meta, size_t n,
                      float refused, float *scores, cc_err *e)
{
    const cc_classifier *cl = w->cl;
    size_t k = 0, L = w->L;
    if (n > w->max_batch)
        return cc_err_set(e, "classifier '%s': batch of %zu records, the workspace holds %zu",
                          cl->name, n, w->max_batch);
    for (size_t i = 0; i < n; i++) {
        scores[i] = refused;
        if (L && (meta[i].n_samples < L ||
                  cc_prep_record(raw[i], meta[i].n_samples, w->x + k * L, L) != CC_PREP_OK))
            continue;
        w->sel[k] = i;
        w->raw[k] = raw[i];
        w->meta[k] = meta[i];
        k++;
    }
    if (!k) return 0;
    cc_batch b = {.n = k, .meta = w->meta, .raw = w->raw, .x = L ? w->x : NULL, .input_len = L};
    e->msg[0] = '\0'; /* a note the plugin leaves for records it scored NaN */
    if (cl->ops->classify(cl->inst, w->ws, &b, w->bscores, e))
        return cc_err_prefix(e, "classifier '%s' on a batch of %zu", cl->name, k);
    for (size_t j = 0; j < k; j++) {
        float s = w->bscores[j];
        if (!(s >= 0.0f && s <= 1.0f) && e->msg[0])
            return cc_err_prefix(e, "classifier '%s': record %zu not scored", cl->name, w->sel[j]);
        if (!(s >= 0.0f && s <= 1.0f))
            return cc_err_set(e, "classifier '%s': score %g outside [0, 1]", cl->name, (double)s);
        scores[w->sel[j]] = s;
    }
    return 0;
}
