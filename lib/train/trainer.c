/* trainer.c - the training loop: batches, Adam, validation, checkpoints and
 * the output card (recipe and guarantees in cc_train.h).
 *
 * One epoch: a permutation of every file's records (weak shuffling: batches
 * are runs of one file's permutation, then the list of batches is permuted;
 * full shuffling: one permutation over all records), each batch augmented on
 * draw from a stream keyed by (seed, epoch, batch), one training forward
 * (PyTorch's train() mode unless batchnorm: frozen / dropout: false; it also
 * moves BatchNorm's running statistics), the loss, one backward into the flat
 * gradient buffer and one Adam step over the loaded (non-derived) tensors
 * (the running statistics have a zero gradient: Adam leaves them as they are). Then the validation
 * set runs through the inference path (cc_nn_score, exactly what the daemon computes), the best
 * epoch's parameters are copied aside and the checkpoint is written.
 *
 * The output card copies the architecture card's input, layers and output
 * blocks verbatim (text), names the weights file written beside it, and
 * carries the self-test outputs computed by this engine: for a model trained
 * here, cryoclean is the reference framework.
 */
#include "train_int.h"

#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cc_eval.h"
#include "cc_nn.h"

#define CKPT_FORMAT "cryoclean-train-checkpoint/1"

typedef struct run {
    const cc_train_config *c;
    cc_nn_model *m;
    tr_set tr, va;
    size_t L, X, nb; /* samples per input channel, values per record, flat buffer length */
    float *grad, *am, *av, *best;
    float *ema, *raw; /* weight average and the raw weights while it is validated; NULL if off */
    uint64_t step;    /* Adam steps so far */
    uint64_t steps;   /* Adam steps of the whole run (epochs x batches per epoch) */
    uint32_t epoch;   /* completed epochs */
    cc_train_result res;
    double lr, w_clean, w_art, seconds;
} run;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The paper's learning rate for the architecture (cc_train.h). */
static double paper_lr(const cc_nn_model *m)
{
    size_t nt, convs = 0;
    cc_nn_params(m, &nt);
    for (size_t i = 0; i < nt; i++) {
        const char *n = cc_nn_param_at(m, i, NULL)->name;
        if (strstr(n, "self_attn.W_Q")) return 1e-5;
        if (strstr(n, "weight_hh_l0")) return 1e-4;
        const cc_nn_param *p = cc_nn_param_at(m, i, NULL);
        if (p->ndim == 3 && strstr(n, ".weight")) convs++;
    }
    return convs > 3 ? 5e-5 : 5e-4;
}

void cc_train_adam_step(cc_nn_model *m, const float *grad, float *am, float *av, uint64_t t,
                        double lr, double beta1, double beta2, double eps)
{
    float *p = cc_nn_params_mut(m);
    const double bc1 = 1 - pow(beta1, (double)t), bc2 = 1 - pow(beta2, (double)t);
    const float b1 = (float)beta1, b2 = (float)beta2, ep = (float)eps;
    const float step = (float)(lr / bc1), sbc2 = (float)sqrt(bc2);
    size_t nt;
    cc_nn_params(m, &nt);
    for (size_t k = 0; k < nt; k++) {
        int derived;
        const cc_nn_param *q = cc_nn_param_at(m, k, &derived);
        if (derived) continue;
        for (size_t i = q->offset; i < q->offset + q->numel; i++) {
            const float g = grad[i];
            am[i] = b1 * am[i] + (1 - b1) * g;
            av[i] = b2 * av[i] + (1 - b2) * g * g;
            p[i] -= step * am[i] / (sqrtf(av[i]) / sbc2 + ep);
        }
    }
    cc_nn_params_changed(m);
}

double cc_train_lr(const cc_train_config *c, double lr, uint64_t step, uint64_t steps)
{
    if (!c->cosine || !steps) return lr;
    const double x = step > steps ? 1.0 : (double)(step - (step > 0)) / (double)steps;
    return c->lr_min + 0.5 * (lr - c->lr_min) * (1 + cos(M_PI * x));
}

static void adam_step(run *r)
{
    const cc_train_config *c = r->c;
    r->step++;
    cc_train_adam_step(r->m, r->grad, r->am, r->av, r->step,
                       cc_train_lr(c, r->lr, r->step, r->steps), c->beta1, c->beta2, c->eps);
    if (r->ema) cc_train_ema_update(r->ema, cc_nn_params(r->m, NULL), r->nb, c->ema, r->step);
}

void cc_train_ema_update(float *avg, const float *p, size_t n, double decay, uint64_t t)
{
    const double warm = (1.0 + (double)t) / (10.0 + (double)t);
    const float d = (float)(decay < warm ? decay : warm), a = 1 - d;
    for (size_t i = 0; i < n; i++) avg[i] = d * avg[i] + a * p[i];
}

/* Puts the averaged weights in the model (in = 1) or the raw ones back (in = 0). */
static void ema_swap(run *r, int in)
{
    if (!r->ema) return;
    float *p = cc_nn_params_mut(r->m);
    if (in) memcpy(r->raw, p, r->nb * sizeof *p);
    memcpy(p, in ? r->ema : r->raw, r->nb * sizeof *p);
    cc_nn_params_changed(r->m);
}

/* ---- checkpoints -------------------------------------------------------------- */

static int ckpt_write(run *r, cc_err *e)
{
    const cc_train_config *c = r->c;
    char tmp[1100], ep[32], st[32], be[32], ba[4][32], sd[32], sec[32];
    snprintf(tmp, sizeof tmp, "%s.tmp", c->checkpoint);
    snprintf(ep, sizeof ep, "%u", r->epoch);
    snprintf(st, sizeof st, "%llu", (unsigned long long)r->step);
    snprintf(be, sizeof be, "%u", r->res.best_epoch);
    snprintf(ba[0], sizeof ba[0], "%.17g", r->res.best_ba);
    snprintf(ba[1], sizeof ba[1], "%.17g", r->res.best_recall);
    snprintf(ba[2], sizeof ba[2], "%.17g", r->res.best_selectivity);
    snprintf(ba[3], sizeof ba[3], "%.17g", r->res.best_precision);
    snprintf(sd, sizeof sd, "%llu", (unsigned long long)c->seed);
    snprintf(sec, sizeof sec, "%.3f", r->seconds);
    const char *meta[] = {"format",
                          CKPT_FORMAT,
                          "epoch",
                          ep,
                          "step",
                          st,
                          "best_epoch",
                          be,
                          "best_ba",
                          ba[0],
                          "best_recall",
                          ba[1],
                          "best_selectivity",
                          ba[2],
                          "best_precision",
                          ba[3],
                          "seed",
                          sd,
                          "seconds",
                          sec,
                          NULL};
    const char *names[] = {"params", "best", "adam_m", "adam_v", "ema"};
    size_t nd[5] = {1, 1, 1, 1, 1};
    uint64_t len = r->nb;
    const uint64_t *shp[5] = {&len, &len, &len, &len, &len};
    const float *data[5] = {cc_nn_params(r->m, NULL), r->best, r->am, r->av, r->ema};
    if (cc_st_write(tmp, r->ema ? 5 : 4, names, nd, shp, data, meta, e)) return -1;
    if (rename(tmp, c->checkpoint))
        return cc_err_set(e, "%s: cannot rename to %s", tmp, c->checkpoint);
    return 0;
}

static const char *meta_get(const cc_st_file *f, const char *k)
{
    for (size_t i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta_keys[i], k)) return f->meta_vals[i];
    return NULL;
}

static int ckpt_read(run *r, cc_err *e)
{
    const cc_train_config *c = r->c;
    cc_st_file *f = cc_st_open(c->checkpoint, e);
    if (!f) return cc_err_prefix(e, "--resume");
    int rc = 0;
    const char *fmt = meta_get(f, "format"), *sd = meta_get(f, "seed");
    float *dst[5] = {cc_nn_params_mut(r->m), r->best, r->am, r->av, r->ema};
    const char *names[] = {"params", "best", "adam_m", "adam_v", "ema"};
    if (!fmt || strcmp(fmt, CKPT_FORMAT) || !sd || !meta_get(f, "epoch")) {
        rc = cc_err_set(e, "%s: not a cryoclean training checkpoint", c->checkpoint);
        goto out;
    }
    if (strtoull(sd, NULL, 10) != c->seed) {
        rc = cc_err_set(e, "%s: written with seed %s, the config says %llu", c->checkpoint, sd,
                        (unsigned long long)c->seed);
        goto out;
    }
    for (int i = 0; i < (r->ema ? 5 : 4); i++) {
        const cc_st_tensor *t = cc_st_find(f, names[i]);
        if (!t || t->numel != r->nb) {
            rc = cc_err_set(e, "%s: tensor '%s' missing or not %zu values (another model%s?)",
                            c->checkpoint, names[i], r->nb, i == 4 ? ", a run without ema" : "");
            goto out;
        }
        cc_st_to_f32(t, dst[i]);
    }
    cc_nn_params_changed(r->m);
    r->epoch = (uint32_t)strtoul(meta_get(f, "epoch"), NULL, 10);
    r->step = strtoull(meta_get(f, "step") ? meta_get(f, "step") : "0", NULL, 10);
    r->res.best_epoch = (uint32_t)strtoul(meta_get(f, "best_epoch") ?: "0", NULL, 10);
    r->res.best_ba = strtod(meta_get(f, "best_ba") ?: "-1", NULL);
    r->res.best_recall = strtod(meta_get(f, "best_recall") ?: "nan", NULL);
    r->res.best_selectivity = strtod(meta_get(f, "best_selectivity") ?: "nan", NULL);
    r->res.best_precision = strtod(meta_get(f, "best_precision") ?: "nan", NULL);
    r->seconds = strtod(meta_get(f, "seconds") ?: "0", NULL);
out:
    cc_st_free(&f);
    return rc;
}

/* ---- one epoch ---------------------------------------------------------------- */

/* The epoch's record order (global indices) and batch list [start, start+len). */
static size_t plan_epoch(const run *r, uint32_t epoch, uint32_t *perm, size_t *bstart, size_t *blen)
{
    tr_rng rng = tr_stream(r->c->seed, epoch, 0);
    const size_t B = r->c->batch;
    size_t off = 0, nbat = 0;
    for (size_t f = 0; f < r->tr.nf; f++) {
        const size_t n = r->tr.f[f].n;
        for (size_t i = 0; i < n; i++) perm[off + i] = (uint32_t)(off + i);
        for (size_t i = n; i > 1; i--) {
            size_t j = tr_below(&rng, i), t = perm[off + i - 1];
            perm[off + i - 1] = perm[off + j], perm[off + j] = (uint32_t)t;
        }
        if (r->c->weak_shuffle)
            for (size_t s = 0; s < n; s += B)
                bstart[nbat] = off + s, blen[nbat++] = n - s < B ? n - s : B;
        off += n;
    }
    if (!r->c->weak_shuffle) {
        for (size_t i = off; i > 1; i--) {
            size_t j = tr_below(&rng, i), t = perm[i - 1];
            perm[i - 1] = perm[j], perm[j] = (uint32_t)t;
        }
        for (size_t s = 0; s < off; s += B)
            bstart[nbat] = s, blen[nbat++] = off - s < B ? off - s : B;
        return nbat;
    }
    for (size_t i = nbat; i > 1; i--) {
        size_t j = tr_below(&rng, i), a = bstart[i - 1], b = blen[i - 1];
        bstart[i - 1] = bstart[j], blen[i - 1] = blen[j], bstart[j] = a, blen[j] = b;
    }
    return nbat;
}

/* Record g of the training set (file-major global index). */
static const tr_file *locate(const tr_set *s, size_t *g)
{
    size_t f = 0;
    while (*g >= s->f[f].n) *g -= s->f[f++].n;
    return &s->f[f];
}

static int validate(run *r, cc_nn_ws *ws, float *score, uint8_t *lab, cc_train_status *st,
                    cc_err *e)
{
    size_t k = 0;
    double loss = 0;
    for (size_t f = 0; f < r->va.nf; f++) {
        const tr_file *vf = &r->va.f[f];
        for (size_t i = 0; i < vf->n; i += 256) {
            size_t n = vf->n - i < 256 ? vf->n - i : 256;
            if (cc_nn_score(r->m, ws, vf->x + i * r->X, n, score + k, e)) return -1;
            memcpy(lab + k, vf->label + i, n);
            k += n;
        }
    }
    for (size_t i = 0; i < k; i++) {
        double p = fmin(fmax(score[i], 1e-7), 1 - 1e-7);
        loss -= lab[i] ? r->w_clean * log(p) : r->w_art * log(1 - p);
    }
    cc_eval_metrics mt;
    cc_eval_at(score, lab, k, cc_nn_cutoff(r->m), &mt);
    st->val_loss = loss / (double)k, st->val_ba = mt.ba, st->val_recall = mt.recall;
    st->val_selectivity = mt.selectivity, st->val_precision = mt.precision;
    return 0;
}

static int train_loop(run *r, const char *command, cc_train_progress_fn progress, void *ctx,
                      cc_err *e)
{
    (void)command;
    const cc_train_config *c = r->c;
    const size_t N = r->tr.n, B = c->batch, K = cc_nn_n_outputs(r->m);
    const size_t maxb = N / B + r->tr.nf + 1;
    uint32_t *perm = malloc(N * sizeof *perm);
    size_t *bs = malloc(maxb * sizeof *bs), *bl = malloc(maxb * sizeof *bl);
    float *xb = malloc(B * r->X * sizeof *xb), *dout = malloc(B * K * sizeof *dout);
    float *vscore = malloc((r->va.n ? r->va.n : 1) * sizeof *vscore);
    uint8_t *lb = malloc(B), *vlab = malloc(r->va.n ? r->va.n : 1);
    cc_nn_tws *tw = cc_nn_tws_new(r->m, B, e);
    cc_nn_ws *ws = cc_nn_ws_new(r->m, 256);
    int rc = 0;
    if (!tw) {
        rc = -1;
        goto out;
    }
    if (!perm || !bs || !bl || !xb || !dout || !vscore || !lb || !vlab || !ws) {
        rc = cc_err_set(e, "out of memory");
        goto out;
    }
    /* PyTorch's train() mode unless the config says otherwise; the dropout
     * masks are keyed by the seed and the (checkpointed) step */
    cc_nn_train_opts to = {c->bn_frozen ? CC_NN_BN_FROZEN : CC_NN_BN_BATCH, c->dropout, c->seed, 0};
    const double t_start = now_s(), sec0 = r->seconds;
    const uint64_t rec0 = (uint64_t)r->epoch * N;
    uint64_t done = 0;
    for (uint32_t ep = r->epoch + 1; ep <= c->epochs && !rc; ep++) {
        const size_t nbat = plan_epoch(r, ep, perm, bs, bl);
        r->steps = (uint64_t)c->epochs * nbat; /* the same number of batches every epoch */
        double loss_sum = 0, last = now_s();
        size_t loss_n = 0;
        cc_train_status st = {.epoch = ep, .epochs = c->epochs, .steps = nbat};
        for (size_t k = 0; k < nbat; k++) {
            tr_rng rng = tr_stream(c->seed, ep, 1 + k);
            for (size_t j = 0; j < bl[k]; j++) {
                size_t g = perm[bs[k] + j];
                const tr_file *f = locate(&r->tr, &g);
                const float *src = f->x + g * r->X;
                float *dst = xb + j * r->X;
                tr_augment(c, &rng, src, f->label[g], f->cls[g], r->L, dst, lb + j);
                /* the standard event is the detector's, not the record's: no record
                 * augmentation; optionally stretched in time, from a stream of its own so
                 * the record augmentations stay those of a run without it */
                if (r->X > r->L && c->tpl_stretch_hi > c->tpl_stretch_lo) {
                    tr_rng sr = tr_stream(c->seed ^ UINT64_C(0x7465), ep, 1 + perm[bs[k] + j]);
                    const double lf = log(c->tpl_stretch_lo) +
                                      tr_uniform(&sr) * log(c->tpl_stretch_hi / c->tpl_stretch_lo);
                    tr_stretch_template(src + r->L, r->L, exp(lf), dst + r->L);
                } else if (r->X > r->L)
                    memcpy(dst + r->L, src + r->L, (r->X - r->L) * sizeof *dst);
            }
            to.step = r->step + 1;
            cc_nn_tws_set_opts(tw, &to);
            const float *y = cc_nn_train_forward(r->m, tw, xb, bl[k], e);
            if (!y) {
                rc = -1;
                break;
            }
            double loss = cc_nn_loss(r->m, y, lb, bl[k], r->w_clean, r->w_art, dout, e);
            if (!isfinite(loss)) {
                rc = isnan(loss) && e && *e->msg
                         ? -1
                         : cc_err_set(e, "epoch %u step %zu: loss is %g", ep, k + 1, loss);
                break;
            }
            memset(r->grad, 0, r->nb * sizeof *r->grad);
            if (cc_nn_backward(r->m, tw, dout, r->grad, NULL, e)) {
                rc = -1;
                break;
            }
            adam_step(r);
            loss_sum += loss * (double)bl[k], loss_n += bl[k], done += bl[k];
            double t = now_s();
            if (progress && (t - last >= 1.0 || k + 1 == nbat)) {
                last = t;
                st.step = k + 1, st.loss = loss_sum / (double)loss_n;
                st.rec_per_s = (double)done / (t - t_start);
                st.eta_s = (double)((uint64_t)c->epochs * N - rec0 - done) / st.rec_per_s;
                progress(ctx, &st);
            }
        }
        if (rc) break;
        r->seconds = sec0 + (now_s() - t_start);
        ema_swap(r, 1); /* validate (and keep) the averaged weights */
        if (validate(r, ws, vscore, vlab, &st, e)) {
            rc = -1;
            break;
        }
        r->epoch = ep;
        st.end_of_epoch = 1, st.loss = loss_sum / (double)(loss_n ? loss_n : 1);
        st.best = st.val_ba > r->res.best_ba || !r->res.best_epoch;
        if (st.best) {
            memcpy(r->best, cc_nn_params(r->m, NULL), r->nb * sizeof *r->best);
            r->res.best_epoch = ep, r->res.best_ba = st.val_ba;
            r->res.best_recall = st.val_recall, r->res.best_selectivity = st.val_selectivity;
            r->res.best_precision = st.val_precision;
        }
        ema_swap(r, 0);
        if (progress) progress(ctx, &st);
        rc = ckpt_write(r, e);
    }
out:
    free(perm), free(bs), free(bl), free(xb), free(dout), free(vscore), free(lb), free(vlab);
    cc_nn_tws_free(&tw);
    cc_nn_ws_free(&ws);
    return rc;
}

/* ---- the output card ---------------------------------------------------------- */

/* Appends the top-level block `key:` of the card text (the key line and the
 * indented or list lines after it) to out. */
static int copy_block(const char *text, const char *key, FILE *out)
{
    size_t kl = strlen(key);
    const char *p = text;
    while (p && *p) {
        if (!strncmp(p, key, kl) && p[kl] == ':') {
            const char *q = p;
            do {
                const char *nl = strchr(q, '\n');
                size_t n = nl ? (size_t)(nl - q) + 1 : strlen(q);
                fwrite(q, 1, n, out);
                q += n;
            } while (*q == ' ' || *q == '-' || *q == '\t');
            return 0;
        }
        p = strchr(p, '\n');
        if (p) p++;
    }
    return -1;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) free(s), s = NULL;
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

/* A YAML double-quoted scalar. */
static void yq(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        if ((unsigned char)*s >= 0x20) fputc(*s, f);
    }
    fputc('"', f);
}

static void file_list(FILE *f, const tr_set *s)
{
    for (size_t i = 0; i < s->nf; i++)
        fprintf(f, "%s%s (%zu records, %zu clean)", i ? ", " : "", s->f[i].path, s->f[i].n,
                s->f[i].n_clean);
}

static int write_card(run *r, const char *command, cc_err *e)
{
    const cc_train_config *c = r->c;
    char wpath[1100], *dup = strdup(c->output), *text = read_text(c->model), *buf = NULL;
    size_t blen = 0;
    int rc = 0;
    if (!dup || !text) {
        rc = cc_err_set(e, "%s: cannot read the architecture card", c->model);
        goto out;
    }
    snprintf(wpath, sizeof wpath, "%s", c->output);
    char *dot = strrchr(wpath, '.');
    if (dot && (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml"))) *dot = 0;
    strcat(wpath, ".safetensors");
    char date[32], seed[32];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->seed);
    const char *meta[] = {"source", "cryoclean train", "trained", date, "seed", seed, NULL};
    if (cc_nn_save_weights(r->m, wpath, meta, e)) {
        rc = -1;
        goto out;
    }
    FILE *f = open_memstream(&buf, &blen);
    if (!f) {
        rc = cc_err_set(e, "out of memory");
        goto out;
    }
    char *wdup = strdup(wpath);
    fprintf(
        f,
        "# cryoclean model card (docs/NN.md). Written by `cryoclean train` (docs/TRAINING.md).\n");
    fprintf(f, "format: cryoclean-model-card/1\nname: %s\ndescription: ",
            *c->name ? c->name : cc_nn_name(r->m));
    yq(f, *c->description ? c->description : "trained by cryoclean train");
    fputc('\n', f);
    copy_block(text, "input", f);
    fprintf(f, "weights: %s\n", wdup ? basename(wdup) : wpath);
    free(wdup);
    if (copy_block(text, "layers", f) || copy_block(text, "output", f)) {
        fclose(f);
        rc = cc_err_set(e, "%s: no top-level layers/output block to copy", c->model);
        goto out;
    }
    fprintf(f, "cutoff: %g\nprovenance:\n  source: ", (double)cc_nn_cutoff(r->m));
    char s[4096], ema[48] = "";
    if (c->ema > 0) snprintf(ema, sizeof ema, ", weight average (EMA %g)", c->ema);
    snprintf(s, sizeof s, "cryoclean train (lib/train), architecture from %s", c->model);
    yq(f, s);
    fprintf(f, "\n  trained: ");
    snprintf(s, sizeof s,
             "%s; %u epochs run, best validation epoch %u; batch %u, Adam lr %g%s%s, seed %llu, "
             "batchnorm %s, dropout %s, %.0f s of training",
             date, r->epoch, r->res.best_epoch, c->batch, r->lr,
             c->cosine ? " (cosine schedule)" : "", ema, (unsigned long long)c->seed,
             c->bn_frozen ? "frozen" : "batch", c->dropout ? "on" : "off", r->seconds);
    yq(f, s);
    fprintf(f, "\n  data: ");
    char *dl = NULL;
    size_t dn = 0;
    FILE *d = open_memstream(&dl, &dn);
    fprintf(d, "train: ");
    file_list(d, &r->tr);
    fprintf(d, "; validation: ");
    file_list(d, &r->va);
    fclose(d);
    yq(f, dl ? dl : "");
    free(dl);
    fprintf(f, "\n  command: ");
    yq(f, command ? command : "");
    fprintf(f, "\n  metrics: ");
    snprintf(s, sizeof s,
             "validation at cutoff %g (epoch %u): BA %.4f, recall %.4f, selectivity %.4f, "
             "precision %.4f",
             (double)cc_nn_cutoff(r->m), r->res.best_epoch, r->res.best_ba, r->res.best_recall,
             r->res.best_selectivity, r->res.best_precision);
    yq(f, s);
    fprintf(f, "\n  selftest: \"reference outputs computed by cryoclean's engine, the training "
               "framework of this model\"\n");
    /* self-test: 8 generated inputs through the inference path */
    const size_t L = r->X, K = cc_nn_n_outputs(r->m);
    float x[8 * 4096], y[8 * 16];
    cc_nn_ws *ws = L <= 4096 && K <= 16 ? cc_nn_ws_new(r->m, 8) : NULL;
    for (size_t i = 0; ws && i < 8; i++) cc_nn_test_input(99, i, x + i * L, L);
    if (!ws || cc_nn_forward(r->m, ws, x, 8, y, e)) {
        cc_nn_ws_free(&ws);
        fclose(f);
        rc = ws ? -1 : cc_err_set(e, "self-test: input or outputs too large");
        goto out;
    }
    cc_nn_ws_free(&ws);
    fprintf(f, "selftest:\n  tolerance: 1e-05\n  seed: 99\n  count: 8\n  outputs:\n");
    for (size_t i = 0; i < 8; i++) {
        fprintf(f, "    - [");
        for (size_t k = 0; k < K; k++) fprintf(f, "%s%.9g", k ? ", " : "", (double)y[i * K + k]);
        fprintf(f, "]\n");
    }
    fclose(f);
    FILE *o = fopen(c->output, "w");
    if (!o || fwrite(buf, 1, blen, o) != blen) rc = cc_err_set(e, "%s: cannot write", c->output);
    if (o && fclose(o)) rc = cc_err_set(e, "%s: cannot write", c->output);
out:
    free(buf), free(dup), free(text);
    return rc;
}

/* ---- the run ------------------------------------------------------------------- */

int cc_train_run(const cc_train_config *c, const char *command, int resume,
                 cc_train_progress_fn progress, void *ctx, cc_train_result *res, cc_err *e)
{
    run r = {.c = c};
    int rc = -1;
    r.res.best_ba = -1;
    if (!(r.m = cc_nn_load(c->model, e))) return -1;
    r.L = cc_nn_input_len(r.m), r.nb = cc_nn_buf_len(r.m);
    r.X = cc_nn_input_channels(r.m) * r.L;
    if (!c->init_from_card) cc_nn_reinit(r.m, c->seed);
    r.lr = c->lr > 0 ? c->lr : paper_lr(r.m);
    r.grad = calloc(r.nb, sizeof *r.grad), r.am = calloc(r.nb, sizeof *r.am);
    r.av = calloc(r.nb, sizeof *r.av), r.best = calloc(r.nb, sizeof *r.best);
    if (c->ema > 0) {
        r.ema = malloc(r.nb * sizeof *r.ema), r.raw = malloc(r.nb * sizeof *r.raw);
        if (r.ema) memcpy(r.ema, cc_nn_params(r.m, NULL), r.nb * sizeof *r.ema);
    }
    if (!r.grad || !r.am || !r.av || !r.best || (c->ema > 0 && (!r.ema || !r.raw))) {
        cc_err_set(e, "out of memory");
        goto out;
    }
    const size_t ch = cc_nn_input_channels(r.m);
    if (tr_set_load(&r.tr, c->train_files, c->n_train, c->group, r.L, ch, c->max_per_file, e) ||
        tr_set_load(&r.va, c->val_files, c->n_val, c->group, r.L, ch, c->max_per_file, e))
        goto out;
    /* class weights: both classes weigh the same after the expected relabels */
    double n_clean = 0, n_pile = 0;
    for (size_t f = 0; f < r.tr.nf; f++)
        for (size_t i = 0; i < r.tr.f[f].n; i++) {
            n_clean += r.tr.f[f].label[i];
            n_pile += r.tr.f[f].label[i] && tr_pileup_class(r.tr.f[f].cls[i]);
        }
    n_clean -= c->pileup_p * n_pile;
    const double N = (double)r.tr.n, n_art = N - n_clean;
    r.w_clean = c->balance && n_clean > 0 ? N / (2 * n_clean) : 1.0;
    r.w_art = c->balance && n_art > 0 ? N / (2 * n_art) : 1.0;
    if (resume && ckpt_read(&r, e)) goto out;
    if (train_loop(&r, command, progress, ctx, e)) goto out;
    if (r.res.best_epoch) {
        memcpy(cc_nn_params_mut(r.m), r.best, r.nb * sizeof *r.best);
        cc_nn_params_changed(r.m);
    }
    if (write_card(&r, command, e)) goto out;
    cc_nn_model *chk = cc_nn_load(c->output, e);
    if (!chk) {
        cc_err_prefix(e, "the written card does not load");
        goto out;
    }
    cc_nn_free(&chk);
    rc = 0;
out:
    r.res.epochs_run = r.epoch, r.res.n_train = r.tr.n, r.res.n_val = r.va.n;
    r.res.seconds = r.seconds, r.res.w_clean = r.w_clean, r.res.w_artefact = r.w_art;
    if (res) *res = r.res;
    tr_set_free(&r.tr);
    tr_set_free(&r.va);
    free(r.grad), free(r.am), free(r.av), free(r.best), free(r.ema), free(r.raw);
    cc_nn_free(&r.m);
    return rc;
}
