/* train.c - the training passes of the engine: a forward that keeps every
 * layer's output, the loss, and the backward through the layer list.
 *
 * llm.c layout: activations live in one buffer with per-layer offsets (layer
 * i's output for n records at acts + n * off[i]), gradients in one flat buffer
 * with the parameters' offsets. The forward calls the plain per-layer kernels
 * (nn_layer_forward: no conv/relu/pool fusion, no in-place reuse), so the
 * values equal the inference path's to rounding. The backward walks the
 * layers from the last, keeping dL/d(activation) in two ping-pong buffers and
 * calling each kernel's *_backward() (layers.c), which accumulates into the
 * layer's slice of the gradient buffer. Shape-only layers (flatten, reshape,
 * and dropout when off) pass the gradient through without a copy.
 *
 * Modes (cc_nn_train_opts): BatchNorm with the batch statistics keeps each
 * layer's mean and 1/std in the layer's cache for the backward and moves the
 * running statistics in the model's buffer during the forward; dropout's mask
 * is a hash of (seed, step, layer, element), recomputed by the backward.
 */
#include "nn_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cc_nn_tws {
    size_t max_batch, n;
    cc_nn_train_opts opts;
    size_t *off;    /* per layer: output offset per record */
    size_t *coff;   /* per layer: offset of its training cache (LSTM) */
    const float *x; /* input of the last forward (caller's) */
    float *acts, *g0, *g1, *scratch, *cache;
};

static float *falloc(size_t n)
{
    return aligned_alloc(64, ((n ? n : 1) * sizeof(float) + 63) / 64 * 64);
}

cc_nn_tws *cc_nn_tws_new(const cc_nn_model *m, size_t max_batch, cc_err *e)
{
    if (!m || !max_batch) {
        cc_err_set(e, "nn: training workspace needs a model and a batch size");
        return NULL;
    }
    cc_nn_tws *w = calloc(1, sizeof *w);
    if (!w || !(w->off = calloc(m->n_layers + 1, sizeof *w->off)) ||
        !(w->coff = calloc(m->n_layers + 1, sizeof *w->coff))) {
        if (w) free(w->off);
        free(w);
        cc_err_set(e, "out of memory");
        return NULL;
    }
    size_t tot = 0, scr = 0, cache = 0;
    for (size_t i = 0; i < m->n_layers; i++) {
        const nn_layer *l = &m->layers[i];
        w->off[i] = tot;
        tot += l->out_r * l->out_c;
        size_t s = nn_layer_scratch(l, max_batch);
        size_t sb = l->kind == NN_L_CONV1D    ? nn_conv1d_backward_scratch(&l->u.conv, max_batch)
                    : l->kind == NN_L_LSTM    ? nn_lstm_backward_scratch(&l->u.lstm, max_batch)
                    : l->kind == NN_L_ENCODER ? nn_encoder_backward_scratch(&l->u.enc, max_batch)
                                              : 0;
        s = sb > s ? sb : s;
        w->coff[i] = cache;
        if (l->kind == NN_L_BATCHNORM) cache += 2 * l->in_r;
        if (l->kind == NN_L_LSTM) cache += nn_lstm_train_cache(&l->u.lstm, max_batch);
        if (l->kind == NN_L_ENCODER) cache += nn_encoder_train_cache(&l->u.enc, max_batch);
        scr = s > scr ? s : scr;
    }
    w->off[m->n_layers] = tot;
    w->max_batch = max_batch;
    w->opts = (cc_nn_train_opts){.batchnorm = CC_NN_BN_BATCH, .dropout = 1};
    w->acts = falloc(max_batch * tot);
    w->g0 = falloc(max_batch * m->max_act);
    w->g1 = falloc(max_batch * m->max_act);
    w->scratch = falloc(scr);
    w->cache = falloc(cache);
    if (!w->acts || !w->g0 || !w->g1 || !w->scratch || !w->cache) {
        cc_nn_tws_free(&w);
        cc_err_set(e, "out of memory for a training workspace of %zu records", max_batch);
    }
    return w;
}

void cc_nn_tws_free(cc_nn_tws **w)
{
    if (!w || !*w) return;
    free((*w)->off);
    free((*w)->coff);
    free((*w)->cache);
    free((*w)->acts);
    free((*w)->g0);
    free((*w)->g1);
    free((*w)->scratch);
    free(*w);
    *w = NULL;
}

void cc_nn_tws_set_opts(cc_nn_tws *w, const cc_nn_train_opts *o)
{
    w->opts = *o;
}

static float *act(const cc_nn_tws *w, size_t i)
{
    return w->acts + w->n * w->off[i];
}

/* PyTorch's BatchNorm momentum. */
#define BN_MOMENTUM 0.1f

static uint64_t mix64(uint64_t z)
{
    z += UINT64_C(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* The dropout key of layer i under the workspace's seed and step. */
static uint64_t dropout_key(const cc_nn_tws *w, size_t i)
{
    return mix64(mix64(mix64(w->opts.seed ^ UINT64_C(0x64726f706f757421)) ^ w->opts.step) ^
                 (uint64_t)i);
}

static int dropout_on(const cc_nn_tws *w, const nn_layer *l)
{
    return l->kind == NN_L_DROPOUT && w->opts.dropout && l->u.drop.p > 0.0f;
}

static int bn_batch(const cc_nn_tws *w, const nn_layer *l)
{
    return w->opts.batchnorm == CC_NN_BN_BATCH &&
           (l->kind == NN_L_BATCHNORM || (l->kind == NN_L_ENCODER && !l->u.enc.layernorm));
}

/* The batch-statistics view of a BatchNorm encoder's norms (tensors 8-11
 * and 14-17: weight, bias, running mean, running var). */
static nn_encoder_bn encoder_bn(const cc_nn_model *m, const nn_layer *l)
{
    return (nn_encoder_bn){
        nn_tensor_ptr(m, l, 8),  nn_tensor_ptr(m, l, 9),  nn_tensor_ptr(m, l, 14),
        nn_tensor_ptr(m, l, 15), nn_tensor_ptr(m, l, 10), nn_tensor_ptr(m, l, 11),
        nn_tensor_ptr(m, l, 16), nn_tensor_ptr(m, l, 17), BN_MOMENTUM};
}

const float *cc_nn_train_forward(cc_nn_model *m, cc_nn_tws *w, const float *x, size_t n, cc_err *e)
{
    if (!m || !w || n > w->max_batch) {
        cc_err_set(e, "%s: training batch of %zu records exceeds the workspace's %zu",
                   m ? m->name : "nn", n, w ? w->max_batch : 0);
        return NULL;
    }
    for (size_t i = 0; i < m->n_layers; i++) {
        const nn_layer *l = &m->layers[i];
        size_t per = l->kind == NN_L_BATCHNORM ? l->in_c : l->in_r;
        if (bn_batch(w, l) && n * per < 2) {
            cc_err_set(e,
                       "%s: layer %zu (%s): BatchNorm with batch statistics needs more than one "
                       "value per channel (batch of %zu; use batchnorm: frozen)",
                       m->name, i + 1, l->type, n);
            return NULL;
        }
    }
    w->n = n, w->x = x;
    const float *cur = x;
    for (size_t i = 0; i < m->n_layers; i++) {
        const nn_layer *l = &m->layers[i];
        float *dst = act(w, i);
        if (bn_batch(w, l) && l->kind == NN_L_BATCHNORM) {
            nn_batchnorm_train_forward(n, l->in_r, l->in_c, 0, nn_tensor_ptr(m, l, 0),
                                       nn_tensor_ptr(m, l, 1), l->u.norm.eps, BN_MOMENTUM, cur, dst,
                                       w->cache + w->coff[i], nn_tensor_ptr(m, l, 2),
                                       nn_tensor_ptr(m, l, 3));
        } else if (dropout_on(w, l)) {
            nn_dropout_forward(n * l->in_r * l->in_c, l->u.drop.p, dropout_key(w, i), cur, dst);
        } else if (l->kind == NN_L_LSTM) {
            nn_lstm_dir p[32];
            nn_lstm_params(m, l, p);
            nn_lstm_train_forward(&l->u.lstm, n, cur, p, dst, w->cache + w->coff[i]);
        } else if (l->kind == NN_L_ENCODER) {
            nn_encoder_params p = nn_encoder_params_of(m, l);
            const int bb = bn_batch(w, l);
            nn_encoder_bn bn = bb ? encoder_bn(m, l) : (nn_encoder_bn){0};
            nn_encoder_train_forward(&l->u.enc, n, &p, bb ? &bn : NULL, cur, dst,
                                     w->cache + w->coff[i], w->scratch);
        } else
            nn_layer_forward(m, l, n, cur, dst, w->scratch);
        cur = dst;
    }
    return cur;
}

/* The target class for a label under the card's output map; -1 if the map
 * cannot express it. */
static long target_index(const cc_nn_model *m, int clean)
{
    if (clean) return (long)m->out_index;
    if (m->n_out == 2) return (long)(1 - m->out_index);
    return -1;
}

double cc_nn_loss(const cc_nn_model *m, const float *out, const uint8_t *label, size_t n,
                  double w_clean, double w_artefact, float *dout, cc_err *e)
{
    const size_t K = m->n_out;
    int bce = m->outmap == NN_OUT_SIGMOID || (m->outmap == NN_OUT_IDENTITY && K == 1);
    if (!bce && target_index(m, 0) < 0) {
        cc_err_set(e,
                   "%s: no training loss for %zu outputs with this output map (need one "
                   "sigmoid logit or two classes)",
                   m->name, K);
        return NAN;
    }
    memset(dout, 0, n * K * sizeof *dout);
    double loss = 0;
    for (size_t i = 0; i < n; i++) {
        const double wt = (label[i] ? w_clean : w_artefact) / (double)n;
        const float *y = out + i * K;
        float *d = dout + i * K;
        const double t = label[i] ? 1.0 : 0.0;
        if (m->outmap == NN_OUT_SIGMOID) {
            /* BCE with logits, PyTorch's stable form */
            double z = y[m->out_index];
            loss += wt * (fmax(z, 0) - z * t + log1p(exp(-fabs(z))));
            d[m->out_index] = (float)(wt * (1.0 / (1.0 + exp(-z)) - t));
        } else if (bce) {
            double p = fmin(fmax(y[0], 1e-12), 1 - 1e-12);
            loss += -wt * (t * log(p) + (1 - t) * log(1 - p));
            d[0] = (float)(wt * ((1 - t) / (1 - p) - t / p));
        } else {
            size_t c = (size_t)target_index(m, label[i]);
            if (m->outmap == NN_OUT_EXP) {
                loss += -wt * y[c];
                d[c] = (float)-wt;
            } else {
                double p = fmax(y[c], 1e-12);
                loss += -wt * log(p);
                d[c] = (float)(-wt / p);
            }
        }
    }
    return loss;
}

int cc_nn_backward(const cc_nn_model *m, cc_nn_tws *w, const float *dout, float *grad, float *dx,
                   cc_err *e)
{
    if (!w->x) return cc_err_set(e, "%s: backward without a training forward", m->name);
    const size_t n = w->n;
    const float *dy = dout;
    for (size_t i = m->n_layers; i-- > 0;) {
        const nn_layer *l = &m->layers[i];
        const float *in = i ? act(w, i - 1) : w->x, *out = act(w, i);
        const size_t ni = n * l->in_r * l->in_c;
        float *d = i ? (dy == w->g0 ? w->g1 : w->g0) : dx;
        float *g0 = l->np ? grad + m->tensors[l->p0].p.offset : NULL;
        float *g1 = l->np > 1 ? grad + m->tensors[l->p0 + 1].p.offset : NULL;
        switch (l->kind) {
        case NN_L_CONV1D:
            nn_conv1d_backward(&l->u.conv, n, in, nn_tensor_ptr(m, l, 0), dy, d, g0, g1,
                               w->scratch);
            break;
        case NN_L_LSTM: {
            nn_lstm_dir p[32];
            nn_lstm_grad g[32];
            nn_lstm_params(m, l, p);
            for (size_t k = 0; k < l->u.lstm.layers * l->u.lstm.dirs; k++) {
                const nn_tensor *t = &m->tensors[l->p0 + 5 * k];
                g[k] = (nn_lstm_grad){grad + t[0].p.offset, grad + t[1].p.offset,
                                      grad + t[2].p.offset, grad + t[3].p.offset};
            }
            nn_lstm_backward(&l->u.lstm, n, w->cache + w->coff[i], p, g, dy, d, w->scratch);
            break;
        }
        case NN_L_ENCODER: {
            const int ln = l->u.enc.layernorm;
            const nn_tensor *t = &m->tensors[l->p0];
            nn_encoder_params p = nn_encoder_params_of(m, l);
            nn_encoder_stats st = {0};
            if (!ln)
                st = (nn_encoder_stats){nn_tensor_ptr(m, l, 10), nn_tensor_ptr(m, l, 11),
                                        nn_tensor_ptr(m, l, 16), nn_tensor_ptr(m, l, 17)};
            nn_encoder_grads g = {grad + t[0].p.offset,
                                  grad + t[3].p.offset,
                                  grad + t[4].p.offset,
                                  grad + t[5].p.offset,
                                  grad + t[6].p.offset,
                                  grad + t[7].p.offset,
                                  grad + t[8].p.offset,
                                  grad + t[9].p.offset,
                                  grad + t[ln ? 10 : 14].p.offset,
                                  grad + t[ln ? 11 : 15].p.offset};
            const int bb = bn_batch(w, l);
            nn_encoder_bn bn = bb ? encoder_bn(m, l) : (nn_encoder_bn){0};
            nn_encoder_backward(&l->u.enc, n, &p, &st, bb ? &bn : NULL, &g, in,
                                w->cache + w->coff[i], dy, d, w->scratch);
            break;
        }
        case NN_L_LAYERNORM:
            nn_layernorm_backward(n * l->in_r, l->in_c, in, nn_tensor_ptr(m, l, 0), l->u.norm.eps,
                                  dy, d, g0, g1);
            break;
        case NN_L_BATCHNORM:
            if (bn_batch(w, l)) {
                nn_batchnorm_train_backward(n, l->in_r, l->in_c, 0, in, nn_tensor_ptr(m, l, 0),
                                            w->cache + w->coff[i], dy, d, g0, g1);
                break;
            }
            nn_batchnorm_backward(n, l->in_r, l->in_c, in, nn_tensor_ptr(m, l, 2),
                                  nn_tensor_ptr(m, l, 3), nn_tensor_ptr(m, l, 4), l->u.norm.eps, dy,
                                  d, g0, g1, 0);
            break;
        case NN_L_MAXPOOL1D:
        case NN_L_AVGPOOL1D:
            if (d) nn_pool1d_backward(&l->u.pool, n * l->in_r, in, dy, d);
            break;
        case NN_L_LINEAR:
            nn_linear_backward(n * l->in_r, l->u.lin.nin, l->u.lin.nout, in, nn_tensor_ptr(m, l, 0),
                               dy, d, g0, l->u.lin.bias ? g1 : NULL);
            break;
        case NN_L_ACT:
            if (d) nn_act_backward(l->u.act, ni, in, out, dy, d);
            break;
        case NN_L_SOFTMAX:
        case NN_L_LOGSOFTMAX:
            if (d)
                nn_softmax_backward(n * l->in_r, l->in_c, out, dy, d, l->kind == NN_L_LOGSOFTMAX);
            break;
        case NN_L_TRANSPOSE:
            if (d) nn_transpose_forward(n, l->out_r, l->out_c, dy, d);
            break;
        case NN_L_DROPOUT:
            if (dropout_on(w, l)) {
                if (d) nn_dropout_backward(ni, l->u.drop.p, dropout_key(w, i), dy, d);
                break;
            }
            if (i == 0 && d) memcpy(d, dy, ni * sizeof *d);
            continue; /* off: the identity */
        case NN_L_POSENC:
            for (size_t b = 0; b < n; b++)
                for (size_t j = 0; j < l->in_r * l->in_c; j++)
                    g0[j] += dy[b * l->in_r * l->in_c + j];
            __attribute__((fallthrough)); /* the input gradient is dy itself */
        case NN_L_FLATTEN:
        case NN_L_RESHAPE:
            if (i == 0 && d) memcpy(d, dy, ni * sizeof *d);
            continue; /* dy passes through unchanged */
        default:
            return cc_err_set(e, "%s: layer %zu (%s) has no backward pass", m->name, i + 1,
                              l->type);
        }
        dy = d;
    }
    return 0;
}

size_t cc_nn_buf_len(const cc_nn_model *m)
{
    return m->buf_len;
}

float *cc_nn_params_mut(cc_nn_model *m)
{
    return m->buf;
}

void cc_nn_params_changed(cc_nn_model *m)
{
    nn_compute_derived(m);
}

void cc_nn_reinit(cc_nn_model *m, uint64_t seed)
{
    for (size_t i = 0; i < m->n_tensors; i++) {
        const nn_tensor *t = &m->tensors[i];
        if (t->derived) continue;
        for (size_t j = 0; j < t->p.numel; j++)
            m->buf[t->p.offset + j] = cc_nn_init_value(seed, t->p.name, j, t->lo, t->hi);
    }
    nn_compute_derived(m);
}

int cc_nn_save_weights(const cc_nn_model *m, const char *path, const char *const *meta, cc_err *e)
{
    const char **names = calloc(m->n_tensors, sizeof *names);
    size_t *nd = calloc(m->n_tensors, sizeof *nd), k = 0;
    uint64_t *shp = calloc(m->n_tensors * 4, sizeof *shp);
    const uint64_t **shapes = calloc(m->n_tensors, sizeof *shapes);
    const float **data = calloc(m->n_tensors, sizeof *data);
    int rc;
    if (!names || !nd || !shp || !shapes || !data) {
        rc = cc_err_set(e, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < m->n_tensors; i++) {
        const nn_tensor *t = &m->tensors[i];
        if (t->derived) continue;
        names[k] = t->p.name, nd[k] = t->p.ndim, data[k] = m->buf + t->p.offset;
        for (size_t d = 0; d < t->p.ndim; d++) shp[4 * k + d] = t->p.shape[d];
        shapes[k] = shp + 4 * k;
        k++;
    }
    rc = cc_st_write(path, k, names, nd, shapes, data, meta, e);
out:
    free(names), free(nd), free(shp), free(shapes), free(data);
    return rc;
}
