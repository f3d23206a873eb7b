/* model.c - loading a model card and its weights, running batches, and the
 * self-test that every load performs.
 *
 * Load: parse the card (card.c builds the layers and declares the tensors),
 * lay all tensors out in one flat buffer (declaration order; the encoder's
 * W_Q, W_K, W_V are declared back to back so they form one [3D][D] matrix),
 * fill it from the safetensors file (every tensor of the card must be there
 * with exactly the declared shape, and every tensor of the file must be used)
 * or from the seeded generator, compute the derived tensors (folded
 * BatchNorm, summed LSTM biases, sinusoidal encodings), then run the
 * self-test. Forward: two ping-pong activation buffers of max_batch x the
 * largest per-record activation, plus one scratch area sized for the most
 * demanding layer, all allocated in cc_nn_ws_new().
 */
#include "nn_model.h"

#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cc_nn_ws {
    size_t max_batch;
    float *a, *b, *scratch;
};

/* ---- seeded generators (mirrored in tools/export_torch.py) ---------------- */

static uint64_t fnv1a64(const char *s)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (; *s; s++) h = (h ^ (unsigned char)*s) * UINT64_C(0x100000001b3);
    return h;
}

static uint64_t splitmix64(uint64_t z)
{
    z += UINT64_C(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static double rand_u(uint64_t key, uint64_t i)
{
    return (double)(splitmix64(key + i) >> 40) * (1.0 / 16777216.0);
}

float cc_nn_init_value(uint64_t seed, const char *name, uint64_t i, double lo, double hi)
{
    return (float)(lo + (hi - lo) * rand_u(splitmix64(seed ^ fnv1a64(name)), i));
}

void cc_nn_test_input(uint64_t seed, size_t index, float *x, size_t len)
{
    char name[48];
    snprintf(name, sizeof name, "selftest-input-%zu", index);
    uint64_t key = splitmix64(seed ^ fnv1a64(name));
    double onset = floor((double)len * (0.2 + 0.3 * rand_u(key, 0)));
    double amp = 3.0 * rand_u(key, 1), tr = 1.0 + 4.0 * rand_u(key, 2);
    double td = 10.0 + 60.0 * rand_u(key, 3), lo = HUGE_VAL, hi = -HUGE_VAL;
    double *v = malloc(len * sizeof *v);
    if (!v) {
        memset(x, 0, len * sizeof *x);
        return;
    }
    for (size_t j = 0; j < len; j++) {
        double t = (double)j - onset;
        v[j] =
            0.3 * (rand_u(key, 4 + j) - 0.5) + (t >= 0 ? amp * (exp(-t / td) - exp(-t / tr)) : 0);
        lo = v[j] < lo ? v[j] : lo;
        hi = v[j] > hi ? v[j] : hi;
    }
    for (size_t j = 0; j < len; j++) x[j] = hi > lo ? (float)((v[j] - lo) / (hi - lo)) : 0.0f;
    free(v);
}

/* ---- weights ---------------------------------------------------------------- */

static void fmt_shape(char *buf, size_t len, size_t nd, const uint64_t *s64, const size_t *sz)
{
    size_t k = (size_t)snprintf(buf, len, "[");
    for (size_t i = 0; i < nd && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%llu", i ? ", " : "",
                              (unsigned long long)(s64 ? s64[i] : sz[i]));
    if (k < len) snprintf(buf + k, len - k, "]");
}

static int load_file(cc_nn_model *m, const char *path, cc_err *e)
{
    cc_st_file *f = cc_st_open(path, e);
    if (!f) return -1;
    int rc = 0;
    size_t used = 0;
    for (size_t i = 0; i < m->n_tensors && !rc; i++) {
        nn_tensor *t = &m->tensors[i];
        if (t->derived) continue;
        const cc_st_tensor *s = cc_st_find(f, t->p.name);
        char want[96], got[96];
        if (!s) {
            rc = cc_err_set(e, "%s: tensor '%s' (needed by the card) is missing", path, t->p.name);
            break;
        }
        used++;
        int same = s->ndim == t->p.ndim;
        for (size_t d = 0; same && d < s->ndim; d++) same = s->shape[d] == t->p.shape[d];
        if (!same) {
            fmt_shape(want, sizeof want, t->p.ndim, NULL, t->p.shape);
            fmt_shape(got, sizeof got, s->ndim, s->shape, NULL);
            rc = cc_err_set(e, "%s: tensor '%s': shape %s, but the card's architecture needs %s",
                            path, t->p.name, got, want);
            break;
        }
        cc_st_to_f32(s, m->buf + t->p.offset);
        for (size_t j = 0; j < t->p.numel && !rc; j++)
            if (!isfinite(m->buf[t->p.offset + j]))
                rc = cc_err_set(e, "%s: tensor '%s': value %zu is not finite", path, t->p.name, j);
    }
    if (!rc && used != f->n)
        for (size_t i = 0; i < f->n; i++) {
            size_t j = 0;
            while (j < m->n_tensors && strcmp(m->tensors[j].p.name, f->tensors[i].name)) j++;
            if (j == m->n_tensors || m->tensors[j].derived) {
                rc = cc_err_set(e,
                                "%s: tensor '%s' is not used by the card (%zu tensors in the "
                                "file, %zu expected)",
                                path, f->tensors[i].name, f->n, used);
                break;
            }
        }
    cc_st_free(&f);
    return rc;
}

static void fold_bn(float *w, size_t C, float eps)
{
    /* w: weight, bias, mean, var, scale, shift (each C). */
    for (size_t c = 0; c < C; c++) {
        float s = w[c] / sqrtf(w[3 * C + c] + eps);
        w[4 * C + c] = s;
        w[5 * C + c] = w[C + c] - w[2 * C + c] * s;
    }
}

void nn_compute_derived(cc_nn_model *m)
{
    for (size_t i = 0; i < m->n_layers; i++) {
        nn_layer *l = &m->layers[i];
        if (l->kind == NN_L_LSTM) {
            const nn_lstm *s = &l->u.lstm;
            for (size_t k = 0; k < s->layers * s->dirs; k++) {
                const float *bi = nn_tensor_ptr(m, l, 5 * k + 2),
                            *bh = nn_tensor_ptr(m, l, 5 * k + 3);
                float *sum = nn_tensor_ptr(m, l, 5 * k + 4);
                for (size_t g = 0; g < 4 * s->H; g++) sum[g] = bi[g] + bh[g];
            }
        } else if (l->kind == NN_L_BATCHNORM)
            fold_bn(nn_tensor_ptr(m, l, 0), l->in_r, l->u.norm.eps);
        else if (l->kind == NN_L_ENCODER && !l->u.enc.layernorm) {
            /* tensors 8..13 attention BN (+ scale, shift), 14..19 feed-forward BN */
            fold_bn(nn_tensor_ptr(m, l, 8), l->u.enc.D, l->u.enc.eps);
            fold_bn(nn_tensor_ptr(m, l, 14), l->u.enc.D, l->u.enc.eps);
        } else if (l->kind == NN_L_POSENC && !l->u.pe.learned) {
            float *pe = nn_tensor_ptr(m, l, 0);
            size_t T = l->in_r, D = l->in_c;
            for (size_t t = 0; t < T; t++)
                for (size_t d = 0; d < D; d++) {
                    double f = exp(-(double)(d & ~(size_t)1) * log(10000.0) / (double)D);
                    pe[t * D + d] = (float)(d % 2 ? cos((double)t * f) : sin((double)t * f));
                }
        }
    }
}

/* ---- forward ------------------------------------------------------------------ */

cc_nn_ws *cc_nn_ws_new(const cc_nn_model *m, size_t max_batch)
{
    if (!m || !max_batch) return NULL;
    cc_nn_ws *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    size_t scr = 0;
    for (size_t i = 0; i < m->n_layers; i++) {
        size_t s = nn_layer_scratch(&m->layers[i], max_batch);
        scr = s > scr ? s : scr;
    }
    w->max_batch = max_batch;
    w->a = aligned_alloc(64, (max_batch * m->max_act * sizeof(float) + 63) / 64 * 64);
    w->b = aligned_alloc(64, (max_batch * m->max_act * sizeof(float) + 63) / 64 * 64);
    w->scratch = aligned_alloc(64, ((scr ? scr : 1) * sizeof(float) + 63) / 64 * 64);
    if (!w->a || !w->b || !w->scratch) cc_nn_ws_free(&w);
    return w;
}

void cc_nn_ws_free(cc_nn_ws **w)
{
    if (!w || !*w) return;
    free((*w)->a);
    free((*w)->b);
    free((*w)->scratch);
    free(*w);
    *w = NULL;
}

void nn_layer_forward(const cc_nn_model *m, const nn_layer *l, size_t B, const float *in,
                      float *out, float *scratch)
{
    const size_t ni = B * l->in_r * l->in_c;
    if (l->in_place && in != out) memcpy(out, in, ni * sizeof *out);
    switch (l->kind) {
    case NN_L_CONV1D:
        nn_conv1d_forward(&l->u.conv, B, in, nn_tensor_ptr(m, l, 0),
                          l->np > 1 ? nn_tensor_ptr(m, l, 1) : NULL, out, scratch, NULL, 0);
        break;
    case NN_L_MAXPOOL1D:
    case NN_L_AVGPOOL1D:
        nn_pool1d_forward(&l->u.pool, B * l->in_r, in, l->in_c, out, l->out_c, 0.0f, 0);
        break;
    case NN_L_LINEAR:
        nn_linear_forward(B * l->in_r, l->u.lin.nin, l->u.lin.nout, in, nn_tensor_ptr(m, l, 0),
                          l->u.lin.bias ? nn_tensor_ptr(m, l, 1) : NULL, out);
        break;
    case NN_L_ACT:
        nn_act_forward(l->u.act, ni, out);
        break;
    case NN_L_SOFTMAX:
    case NN_L_LOGSOFTMAX:
        nn_softmax_forward(B * l->in_r, l->in_c, out, l->kind == NN_L_LOGSOFTMAX);
        break;
    case NN_L_TRANSPOSE:
        nn_transpose_forward(B, l->in_r, l->in_c, in, out);
        break;
    case NN_L_LSTM: {
        const nn_lstm *s = &l->u.lstm;
        nn_lstm_dir p[32]; /* card.c allows at most 16 layers x 2 directions */
        nn_lstm_params(m, l, p);
        nn_lstm_forward(s, B, in, p, out, scratch);
        break;
    }
    case NN_L_POSENC:
        nn_add_bcast_forward(B, l->in_r * l->in_c, nn_tensor_ptr(m, l, 0), out);
        break;
    case NN_L_ENCODER: {
        nn_encoder_params p = nn_encoder_params_of(m, l);
        nn_encoder_forward(&l->u.enc, B, &p, out, scratch);
        break;
    }
    case NN_L_BATCHNORM:
        nn_affine_forward(B, l->in_r, l->in_c, 0, nn_tensor_ptr(m, l, 4), nn_tensor_ptr(m, l, 5),
                          out);
        break;
    case NN_L_LAYERNORM:
        nn_layernorm_forward(B * l->in_r, l->in_c, nn_tensor_ptr(m, l, 0), nn_tensor_ptr(m, l, 1),
                             l->u.norm.eps, out);
        break;
    case NN_L_FLATTEN:
    case NN_L_RESHAPE:
    case NN_L_DROPOUT:
        break;
    }
}

/* Runs the layers; returns the final activation (x or a workspace buffer). */
static const float *forward(const cc_nn_model *m, cc_nn_ws *w, const float *x, size_t n)
{
    const float *cur = x;
    float *bufs[2] = {w->a, w->b};
    int next = 0;
    for (size_t i = 0; i < m->n_layers; i++) {
        const nn_layer *l = &m->layers[i];
        /* conv -> [relu] -> maxpool in one pass; relu -> maxpool as maxpool -> relu
         * (they commute), so ReLU touches 1/k of the data */
        const nn_layer *l1 = i + 1 < m->n_layers ? &m->layers[i + 1] : NULL;
        const nn_layer *l2 = i + 2 < m->n_layers ? &m->layers[i + 2] : NULL;
        int relu1 = l1 && l1->kind == NN_L_ACT && l1->u.act == NN_ACT_RELU;
        const nn_layer *pl = l1 && l1->kind == NN_L_MAXPOOL1D            ? l1
                             : relu1 && l2 && l2->kind == NN_L_MAXPOOL1D ? l2
                                                                         : NULL;
        if (l->kind == NN_L_CONV1D && pl && nn_conv1d_fusable(&l->u.conv)) {
            float *dst = bufs[next];
            nn_conv1d_forward(&l->u.conv, n, cur, nn_tensor_ptr(m, l, 0),
                              l->np > 1 ? nn_tensor_ptr(m, l, 1) : NULL, dst, w->scratch,
                              &pl->u.pool, pl == l2);
            i += pl == l2 ? 2 : 1;
            cur = dst, next ^= 1;
            continue;
        }
        if (l->kind == NN_L_ACT && l->u.act == NN_ACT_RELU && l1 && l1->kind == NN_L_MAXPOOL1D) {
            float *dst = bufs[next];
            nn_pool1d_forward(&l1->u.pool, n * l1->in_r, cur, l1->in_c, dst, l1->out_c, 0.0f, 1);
            i++;
            cur = dst, next ^= 1;
            continue;
        }
        if (l->in_place && cur != x) {
            nn_layer_forward(m, l, n, cur, (float *)cur, w->scratch);
            continue;
        }
        float *dst = bufs[next];
        nn_layer_forward(m, l, n, cur, dst, w->scratch);
        cur = dst, next ^= 1;
    }
    return cur;
}

static int check_batch(const cc_nn_model *m, const cc_nn_ws *w, size_t n, cc_err *e)
{
    if (!m || !w) return cc_err_set(e, "nn: no model or workspace");
    if (n > w->max_batch)
        return cc_err_set(e, "%s: batch of %zu records exceeds the workspace's %zu", m->name, n,
                          w->max_batch);
    return 0;
}

int cc_nn_forward(const cc_nn_model *m, cc_nn_ws *w, const float *x, size_t n, float *out,
                  cc_err *e)
{
    if (check_batch(m, w, n, e)) return -1;
    if (n) memcpy(out, forward(m, w, x, n), n * m->n_out * sizeof *out);
    return 0;
}

int cc_nn_score(const cc_nn_model *m, cc_nn_ws *w, const float *x, size_t n, float *p_clean,
                cc_err *e)
{
    if (check_batch(m, w, n, e)) return -1;
    if (!n) return 0;
    const float *o = forward(m, w, x, n);
    const size_t k = m->n_out;
    for (size_t i = 0; i < n; i++) {
        const float *y = o + i * k;
        double p;
        if (m->outmap == NN_OUT_SIGMOID)
            p = 1.0 / (1.0 + exp(-(double)y[m->out_index]));
        else if (m->outmap == NN_OUT_EXP)
            p = exp((double)y[m->out_index]);
        else if (m->outmap == NN_OUT_IDENTITY)
            p = y[m->out_index];
        else {
            double mx = y[0], s = 0;
            for (size_t j = 1; j < k; j++) mx = y[j] > mx ? y[j] : mx;
            for (size_t j = 0; j < k; j++) s += exp((double)y[j] - mx);
            p = exp((double)y[m->out_index] - mx) / s;
        }
        p_clean[i] = !(p >= 0) ? 0.0f : p > 1 ? 1.0f : (float)p;
    }
    return 0;
}

/* ---- card ---------------------------------------------------------------------- */

static int selftest(cc_nn_model *m, const cc_ynode *st, cc_err *e)
{
    static const char *const keys[] = {"tolerance", "seed", "count", "inputs", "outputs", NULL};
    double tol = 1e-4;
    int64_t seed = 0, count = 0;
    const cc_ynode *ins = cc_y_get(st, "inputs"), *outs = cc_y_get(st, "outputs");
    if (cc_y_expect(st, CC_Y_MAP, "selftest", e) || cc_y_check_keys(st, keys, e) ||
        cc_y_f64(st, "tolerance", 0, 0, 1, &tol, e) ||
        cc_y_i64(st, "seed", !ins, 0, INT64_MAX, &seed, e) ||
        cc_y_i64(st, "count", !ins, 1, 1024, &count, e) ||
        cc_y_expect(outs, CC_Y_SEQ, "selftest.outputs", e))
        return -1;
    if (ins && (cc_y_expect(ins, CC_Y_SEQ, "selftest.inputs", e) || !ins->n))
        return ins && ins->type == CC_Y_SEQ ? cc_y_err(e, ins, "selftest.inputs is empty") : -1;
    size_t n = ins ? ins->n : (size_t)count, L = m->input_ch * m->input_len, K = m->n_out;
    if (outs->n != n)
        return cc_y_err(e, outs, "selftest.outputs has %zu entries, expected %zu (one per input)",
                        outs->n, n);
    float *x = calloc(n * L + n * K, sizeof *x);
    double *v = NULL;
    size_t nv = 0;
    cc_nn_ws *w = cc_nn_ws_new(m, n);
    int rc = 0;
    if (!x || !w) {
        rc = cc_err_set(e, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        if (!ins) {
            cc_nn_test_input((uint64_t)seed, i, x + i * L, L);
            continue;
        }
        if (cc_y_f64_list(ins->kids[i], &v, &nv, e))
            rc = -1;
        else if (nv != L)
            rc = cc_y_err(e, ins->kids[i], "selftest input %zu has %zu values, expected %zu", i, nv,
                          L);
        else
            for (size_t j = 0; j < L; j++) x[i * L + j] = (float)v[j];
        free(v), v = NULL;
    }
    if (rc || cc_nn_forward(m, w, x, n, x + n * L, e)) {
        rc = -1;
        goto out;
    }
    m->st_err = 0, m->st_n = n;
    for (size_t i = 0; i < n && !rc; i++) {
        if (cc_y_f64_list(outs->kids[i], &v, &nv, e)) {
            rc = -1;
            break;
        }
        if (nv != K)
            rc = cc_y_err(e, outs->kids[i],
                          "selftest output %zu has %zu values, the network "
                          "gives %zu",
                          i, nv, K);
        for (size_t j = 0; j < K && !rc; j++) {
            /* absolute below 1, relative above (log-probabilities reach -30) */
            double got = x[n * L + i * K + j], d = fabs(got - v[j]) / fmax(1.0, fabs(v[j]));
            if (!(d <= tol))
                rc = cc_err_set(e,
                                "self-test failed: input %zu output %zu: got %.8g, the reference "
                                "gives %.8g (error %.3g > tolerance %.3g); wrong weights or "
                                "architecture?",
                                i, j, got, v[j], d, tol);
            if (d > m->st_err) m->st_err = d;
        }
        free(v), v = NULL;
    }
out:
    free(v);
    free(x);
    cc_nn_ws_free(&w);
    return rc;
}

static int parse_output(cc_nn_model *m, const cc_ynode *o, cc_err *e)
{
    static const char *const keys[] = {"map", "index", NULL};
    static const char *const maps[] = {"sigmoid", "softmax", "exp", "identity", NULL};
    const char *s;
    int64_t idx = 0;
    if (cc_y_expect(o, CC_Y_MAP, "output", e) || cc_y_check_keys(o, keys, e) ||
        cc_y_str(o, "map", 1, &s, e) || cc_y_i64(o, "index", 0, 0, 1 << 20, &idx, e))
        return -1;
    int k = 0;
    while (maps[k] && strcmp(maps[k], s)) k++;
    if (!maps[k])
        return cc_y_err(e, cc_y_get(o, "map"),
                        "output.map: expected sigmoid, softmax, exp or "
                        "identity, found '%s'",
                        s);
    m->outmap = (nn_outmap)k, m->out_index = (size_t)idx;
    if (m->out_index >= m->n_out)
        return cc_y_err(e, o, "output.index %zu, but the network has %zu outputs", m->out_index,
                        m->n_out);
    return 0;
}

static int parse_input(cc_nn_model *m, const cc_ynode *in, cc_err *e)
{
    static const char *const keys[] = {"length", "channels", "preprocessing", NULL};
    static const char *const pkeys[] = {"downsample", "scale", NULL};
    int64_t len = 0, ch = 1;
    const char *ds = NULL, *sc = NULL;
    const cc_ynode *p = cc_y_get(in, "preprocessing");
    if (cc_y_expect(in, CC_Y_MAP, "input", e) || cc_y_check_keys(in, keys, e) ||
        cc_y_i64(in, "length", 1, 1, 1 << 24, &len, e) ||
        cc_y_i64(in, "channels", 0, 1, 2, &ch, e) ||
        cc_y_expect(p, CC_Y_MAP, "input.preprocessing", e) || cc_y_check_keys(p, pkeys, e) ||
        cc_y_str(p, "downsample", 1, &ds, e) || cc_y_str(p, "scale", 1, &sc, e))
        return -1;
    if (strcmp(ds, "block_mean"))
        return cc_y_err(e, cc_y_get(p, "downsample"),
                        "downsample: only block_mean is supported, "
                        "found '%s'",
                        ds);
    if (strcmp(sc, "minmax"))
        return cc_y_err(e, cc_y_get(p, "scale"), "scale: only minmax is supported, found '%s'", sc);
    m->input_len = (size_t)len, m->input_ch = (size_t)ch;
    return 0;
}

static int load_card(cc_nn_model *m, const cc_ydoc *doc, const char *path, cc_err *e)
{
    static const char *const keys[] = {"format",     "name",     "description", "input",
                                       "layers",     "output",   "cutoff",      "weights",
                                       "provenance", "selftest", NULL};
    const cc_ynode *r = doc->root;
    const char *fmt, *name, *wf = NULL;
    double cutoff;
    if (cc_y_expect(r, CC_Y_MAP, "model card", e) || cc_y_check_keys(r, keys, e) ||
        cc_y_str(r, "format", 1, &fmt, e) || cc_y_str(r, "name", 1, &name, e) ||
        cc_y_f64(r, "cutoff", 1, 0, 1, &cutoff, e))
        return -1;
    if (strcmp(fmt, "cryoclean-model-card/1"))
        return cc_y_err(e, cc_y_get(r, "format"),
                        "format: expected cryoclean-model-card/1, found "
                        "'%s'",
                        fmt);
    if (!*name || strlen(name) >= sizeof m->name)
        return cc_y_err(e, cc_y_get(r, "name"), "name: 1 to %zu characters", sizeof m->name - 1);
    strcpy(m->name, name);
    m->cutoff = (float)cutoff;
    const cc_ynode *prov = cc_y_get(r, "provenance");
    const char *src;
    if (cc_y_expect(prov, CC_Y_MAP, "provenance", e) || cc_y_str(prov, "source", 1, &src, e) ||
        parse_input(m, cc_y_get(r, "input"), e) || nn_card_layers(m, cc_y_get(r, "layers"), e) ||
        parse_output(m, cc_y_get(r, "output"), e))
        return -1;
    size_t off = 0;
    for (size_t i = 0; i < m->n_tensors; i++) {
        for (size_t j = 0; j < i; j++)
            if (!strcmp(m->tensors[i].p.name, m->tensors[j].p.name))
                return cc_err_set(e,
                                  "tensor '%s' is declared by two layers (give layers distinct "
                                  "names)",
                                  m->tensors[i].p.name);
        m->tensors[i].p.offset = off;
        off += m->tensors[i].p.numel;
        if (!m->tensors[i].derived) m->n_params += m->tensors[i].p.numel;
    }
    m->buf_len = off;
    if (!(m->buf = calloc(off ? off : 1, sizeof *m->buf))) return cc_err_set(e, "out of memory");
    const cc_ynode *wn = cc_y_get(r, "weights");
    if (wn && wn->type == CC_Y_MAP) {
        static const char *const wkeys[] = {"seed", NULL};
        int64_t seed;
        if (cc_y_check_keys(wn, wkeys, e) || cc_y_i64(wn, "seed", 1, 0, INT64_MAX, &seed, e))
            return -1;
        for (size_t i = 0; i < m->n_tensors; i++) {
            nn_tensor *t = &m->tensors[i];
            if (t->derived) continue;
            for (size_t j = 0; j < t->p.numel; j++)
                m->buf[t->p.offset + j] =
                    cc_nn_init_value((uint64_t)seed, t->p.name, j, t->lo, t->hi);
        }
        char d[64];
        snprintf(d, sizeof d, "seeded random init (seed %lld)", (long long)seed);
        m->weights_desc = strdup(d);
    } else {
        if (cc_y_str(r, "weights", 1, &wf, e)) return -1;
        char *dir = strdup(path), *full = NULL;
        if (!dir) return cc_err_set(e, "out of memory");
        int k =
            wf[0] == '/' ? asprintf(&full, "%s", wf) : asprintf(&full, "%s/%s", dirname(dir), wf);
        free(dir);
        if (k < 0) return cc_err_set(e, "out of memory");
        m->weights_desc = full;
        if (load_file(m, full, e)) return -1;
    }
    nn_compute_derived(m);
    return selftest(m, cc_y_get(r, "selftest"), e);
}

cc_nn_model *cc_nn_load(const char *card_path, cc_err *e)
{
    cc_ydoc *doc = cc_ydoc_load_file(card_path, e);
    if (!doc) return NULL;
    cc_nn_model *m = calloc(1, sizeof *m);
    if (!m || !(m->card_path = strdup(card_path))) {
        free(m);
        cc_ydoc_free(&doc);
        cc_err_set(e, "out of memory");
        return NULL;
    }
    if (load_card(m, doc, card_path, e)) {
        if (e && !strstr(e->msg, card_path)) cc_err_prefix(e, "model card %s", card_path);
        cc_nn_free(&m);
    }
    cc_ydoc_free(&doc);
    return m;
}

void cc_nn_free(cc_nn_model **m)
{
    if (!m || !*m) return;
    free((*m)->layers);
    free((*m)->tensors);
    free((*m)->buf);
    free((*m)->card_path);
    free((*m)->weights_desc);
    free(*m);
    *m = NULL;
}

/* ---- accessors ------------------------------------------------------------------ */

const char *cc_nn_name(const cc_nn_model *m)
{
    return m->name;
}

size_t cc_nn_input_len(const cc_nn_model *m)
{
    return m->input_len;
}

size_t cc_nn_input_channels(const cc_nn_model *m)
{
    return m->input_ch;
}

size_t cc_nn_n_outputs(const cc_nn_model *m)
{
    return m->n_out;
}

float cc_nn_cutoff(const cc_nn_model *m)
{
    return m->cutoff;
}

size_t cc_nn_n_params(const cc_nn_model *m)
{
    return m->n_params;
}

double cc_nn_selftest_error(const cc_nn_model *m, size_t *n_inputs)
{
    if (n_inputs) *n_inputs = m->st_n;
    return m->st_err;
}

const float *cc_nn_params(const cc_nn_model *m, size_t *n_tensors)
{
    if (n_tensors) *n_tensors = m->n_tensors;
    return m->buf;
}

const cc_nn_param *cc_nn_param_at(const cc_nn_model *m, size_t i, int *derived)
{
    if (i >= m->n_tensors) return NULL;
    if (derived) *derived = m->tensors[i].derived;
    return &m->tensors[i].p;
}

double cc_nn_flops(const cc_nn_model *m)
{
    double f = 0;
    for (size_t i = 0; i < m->n_layers; i++) f += m->layers[i].flops;
    return f;
}

void cc_nn_describe(const cc_nn_model *m, FILE *f)
{
    fprintf(f, "model %s: input [%zu, %zu], %zu outputs, %zu parameters, weights: %s\n", m->name,
            m->input_ch, m->input_len, m->n_out, m->n_params,
            m->weights_desc ? m->weights_desc : "-");
    for (size_t i = 0; i < m->n_layers; i++) {
        const nn_layer *l = &m->layers[i];
        size_t np = 0;
        for (size_t j = 0; j < l->np; j++)
            if (!m->tensors[l->p0 + j].derived) np += m->tensors[l->p0 + j].p.numel;
        fprintf(f, "  %2zu %-12s %-24s [%zu, %zu] -> [%zu, %zu]", i + 1, l->type, l->name, l->in_r,
                l->in_c, l->out_r, l->out_c);
        if (np) fprintf(f, "  %zu params", np);
        fputc('\n', f);
    }
    static const char *const maps[] = {"sigmoid", "softmax", "exp", "identity"};
    fprintf(f, "  P(clean) = %s(output[%zu]), default cutoff %.3g; %.3g MFLOP per record\n",
            maps[m->outmap], m->out_index, m->cutoff, cc_nn_flops(m) / 1e6);
}
