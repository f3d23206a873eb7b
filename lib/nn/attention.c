/* attention.c - one transformer encoder layer as in tsai's TST (post-norm),
 * forward and (at the end) training forward + backward:
 *
 *   x = norm1(x + MHA(x) W_O^T);  x = norm2(x + W_2 act(W_1 x + b_1) + b_2)
 *
 * MHA: Q, K, V = x W_Q^T, x W_K^T, x W_V^T (no biases; one sgemm against the
 * stacked [3D][D] weights), per head softmax(Q_h K_h^T / sqrt(d_k)) V_h.
 * norm is BatchNorm over d_model (running statistics folded into scale and
 * shift at load; training may use the batch statistics instead) or LayerNorm. Records are processed
 * in small chunks so the [T][3D] projections and the [T][dff] hidden layer stay in cache-sized
 * scratch; per record the GEMMs already have T rows.
 */
#include "nn_layers.h"
#include "nn_math.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

static size_t enc_chunk(const nn_encoder *c, size_t B)
{
    size_t per = c->T * (3 * c->D + c->D + c->dff + c->D);
    size_t nb = (1u << 20) / (per ? per : 1);
    if (nb < 1) nb = 1;
    return nb < B ? nb : B;
}

size_t nn_encoder_scratch(const nn_encoder *c, size_t B)
{
    size_t nb = enc_chunk(c, B);
    return nb * c->T * (3 * c->D + c->D + c->dff + c->D) + c->T * c->T + c->T;
}

/* exp(s - rowmax) in place for each row of S [T][T]; inv[t] = 1 / row sum.
 * The division is applied to the T x d_k context instead of the T x T
 * weights (the same numbers, d_k / T of the work). */
NN_HOT static void softmax_unnormalised(size_t T, float *S, float *inv)
{
    for (size_t t = 0; t < T; t++) {
        float *v = S + t * T, m = v[0], s = 0.0f;
        size_t j = 0;
        if (T >= 16) {
            nn_v16 vm = *(const nn_v16 *)v;
            for (j = 16; j + 16 <= T; j += 16) NN_V16_MAX_INTO(vm, *(const nn_v16 *)(v + j));
            for (int k = 0; k < 16; k++) m = vm[k] > m ? vm[k] : m;
        }
        for (; j < T; j++) m = v[j] > m ? v[j] : m;
        for (j = 0; j < T; j++) v[j] = nn_expf(v[j] - m);
        nn_v16 acc = {0};
        for (j = 0; j + 16 <= T; j += 16) acc += *(const nn_v16 *)(v + j);
        for (int k = 0; k < 16; k++) s += acc[k];
        for (; j < T; j++) s += v[j];
        inv[t] = 1.0f / s;
    }
}

NN_HOT static void scale_rows(size_t T, size_t n, size_t ld, const float *inv, float *x)
{
    for (size_t t = 0; t < T; t++)
        for (size_t j = 0; j < n; j++) x[t * ld + j] *= inv[t];
}

NN_HOT static void add_inplace(size_t n, const float *a, float *x)
{
    for (size_t i = 0; i < n; i++) x[i] += a[i];
}

static void norm(const nn_encoder *c, size_t rows, const float *a, const float *b, float *x)
{
    if (c->layernorm)
        nn_layernorm_forward(rows, c->D, a, b, c->eps, x);
    else
        nn_affine_forward(1, c->D, rows, 1, a, b, x);
}

void nn_encoder_forward(const nn_encoder *c, size_t B, const nn_encoder_params *p, float *x,
                        float *scratch)
{
    const size_t T = c->T, D = c->D, H = c->heads, dk = D / H, F = c->dff;
    const size_t nb = enc_chunk(c, B);
    float *qkv = scratch, *ctx = qkv + nb * T * 3 * D, *hid = ctx + nb * T * D;
    float *tmp = hid + nb * T * F, *S = tmp + nb * T * D, *inv = S + T * T;
    const float scale = 1.0f / sqrtf((float)dk);
    for (size_t b0 = 0; b0 < B; b0 += nb) {
        const size_t m = B - b0 < nb ? B - b0 : nb, rows = m * T;
        float *xc = x + b0 * T * D;
        nn_linear_forward(rows, D, 3 * D, xc, p->wqkv, NULL, qkv);
        for (size_t r = 0; r < m; r++)
            for (size_t h = 0; h < H; h++) {
                const float *q = qkv + r * T * 3 * D + h * dk;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)T, (int)dk, scale,
                            q, (int)(3 * D), q + D, (int)(3 * D), 0.0f, S, (int)T);
                softmax_unnormalised(T, S, inv);
                float *cx = ctx + r * T * D + h * dk;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)dk, (int)T,
                            1.0f, S, (int)T, q + 2 * D, (int)(3 * D), 0.0f, cx, (int)D);
                scale_rows(T, dk, D, inv, cx);
            }
        nn_linear_forward(rows, D, D, ctx, p->wo, NULL, tmp);
        add_inplace(rows * D, tmp, xc);
        norm(c, rows, p->n1a, p->n1b, xc);
        nn_linear_forward(rows, D, F, xc, p->ff1w, p->ff1b, hid);
        nn_act_forward(c->gelu ? NN_ACT_GELU : NN_ACT_RELU, rows * F, hid);
        nn_linear_forward(rows, F, D, hid, p->ff2w, p->ff2b, tmp);
        add_inplace(rows * D, tmp, xc);
        norm(c, rows, p->n2a, p->n2b, xc);
    }
}

/* ---- training: forward keeping the intermediates, backward -----------------
 *
 * The training forward runs the whole batch at once (rows = B x T) and keeps
 * per record qkv [T][3D], the context [T][D], s1 = x + attention [T][D],
 * x1 = norm1(s1), the feed-forward pre-activation and activation [T][dff]
 * and s2 = x1 + ff [T][D]; the attention weights P are recomputed per record
 * and head in the backward (T x T each would not fit for the TST). Softmax is
 * normalised before P V here (the inference path scales the context rows
 * instead: the same numbers to rounding). Backward, per head:
 *   dV = P^T dctx,  dP = dctx V^T,  dS = P (dP - rowsum(dP P)) / sqrt(d_k),
 *   dQ = dS K,  dK = dS^T Q.
 * Norms: LayerNorm, or BatchNorm with the batch statistics (PyTorch's train
 * mode; the mean and 1/std of both are kept after the per-record cache) or
 * with frozen running statistics.
 */

static size_t enc_cache_per_rec(const nn_encoder *c)
{
    return c->T * (7 * c->D + 2 * c->dff);
}

/* Per record, then the batch statistics of both BatchNorms (mean and
 * 1/sqrt(var + eps), 2 x 2D). */
size_t nn_encoder_train_cache(const nn_encoder *c, size_t B)
{
    return B * enc_cache_per_rec(c) + 4 * c->D;
}

size_t nn_encoder_backward_scratch(const nn_encoder *c, size_t B)
{
    return B * c->T * (8 * c->D + c->dff) + 2 * c->T * c->T;
}

typedef struct enc_cache {
    float *qkv, *ctx, *s1, *x1, *hpre, *hact, *s2, *bn1, *bn2;
} enc_cache;

static enc_cache enc_cache_at(const nn_encoder *c, size_t B, float *cache)
{
    const size_t R = B * c->T, D = c->D, F = c->dff;
    enc_cache k;
    k.qkv = cache, k.ctx = k.qkv + R * 3 * D, k.s1 = k.ctx + R * D, k.x1 = k.s1 + R * D;
    k.hpre = k.x1 + R * D, k.hact = k.hpre + R * F, k.s2 = k.hact + R * F;
    k.bn1 = k.s2 + R * D, k.bn2 = k.bn1 + 2 * D;
    return k;
}

/* S = scale Q_h K_h^T, then the normalised softmax, for record r, head h. */
static void enc_probs(const nn_encoder *c, const float *qkv_r, size_t h, float *S)
{
    const size_t T = c->T, D = c->D, dk = D / c->heads;
    const float *q = qkv_r + h * dk;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)T, (int)dk,
                1.0f / sqrtf((float)dk), q, (int)(3 * D), q + D, (int)(3 * D), 0.0f, S, (int)T);
    nn_softmax_forward(T, T, S, 0);
}

/* A training norm over rows [R][D]: batch-statistics BatchNorm if bn (norm 1
 * or 2, statistics to stats), else the inference norm. x and out may alias. */
static void train_norm(const nn_encoder *c, size_t R, const nn_encoder_params *p,
                       const nn_encoder_bn *bn, int second, const float *x, float *out,
                       float *stats)
{
    if (bn && !c->layernorm) {
        nn_batchnorm_train_forward(
            1, c->D, R, 1, second ? bn->w2 : bn->w1, second ? bn->b2 : bn->b1, c->eps, bn->momentum,
            x, out, stats, second ? bn->rmean2 : bn->rmean1, second ? bn->rvar2 : bn->rvar1);
        return;
    }
    if (out != x) memcpy(out, x, R * c->D * sizeof *out);
    norm(c, R, second ? p->n2a : p->n1a, second ? p->n2b : p->n1b, out);
}

void nn_encoder_train_forward(const nn_encoder *c, size_t B, const nn_encoder_params *p,
                              const nn_encoder_bn *bn, const float *x, float *out, float *cache,
                              float *scratch)
{
    const size_t T = c->T, D = c->D, H = c->heads, dk = D / H, F = c->dff, R = B * T;
    enc_cache k = enc_cache_at(c, B, cache);
    nn_linear_forward(R, D, 3 * D, x, p->wqkv, NULL, k.qkv);
    for (size_t r = 0; r < B; r++)
        for (size_t h = 0; h < H; h++) {
            const float *qr = k.qkv + r * T * 3 * D;
            enc_probs(c, qr, h, scratch);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)dk, (int)T, 1.0f,
                        scratch, (int)T, qr + 2 * D + h * dk, (int)(3 * D), 0.0f,
                        k.ctx + r * T * D + h * dk, (int)D);
        }
    nn_linear_forward(R, D, D, k.ctx, p->wo, NULL, k.s1);
    add_inplace(R * D, x, k.s1);
    train_norm(c, R, p, bn, 0, k.s1, k.x1, k.bn1);
    nn_linear_forward(R, D, F, k.x1, p->ff1w, p->ff1b, k.hpre);
    memcpy(k.hact, k.hpre, R * F * sizeof *k.hact);
    nn_act_forward(c->gelu ? NN_ACT_GELU : NN_ACT_RELU, R * F, k.hact);
    nn_linear_forward(R, F, D, k.hact, p->ff2w, p->ff2b, k.s2);
    add_inplace(R * D, k.x1, k.s2);
    train_norm(c, R, p, bn, 1, k.s2, out, k.bn2);
}

static void norm_backward(const nn_encoder *c, size_t R, const float *s, const float *a,
                          const float *mean, const float *var, const float *bw, const float *stats,
                          const float *dy, float *ds, float *dw, float *db)
{
    if (bw && !c->layernorm)
        nn_batchnorm_train_backward(1, c->D, R, 1, s, bw, stats, dy, ds, dw, db);
    else if (c->layernorm)
        nn_layernorm_backward(R, c->D, s, a, c->eps, dy, ds, dw, db);
    else
        nn_batchnorm_backward(1, c->D, R, s, mean, var, a, c->eps, dy, ds, dw, db, 1);
}

void nn_encoder_backward(const nn_encoder *c, size_t B, const nn_encoder_params *p,
                         const nn_encoder_stats *st, const nn_encoder_bn *bn,
                         const nn_encoder_grads *g, const float *x, float *cache, const float *dout,
                         float *din, float *scratch)
{
    const size_t T = c->T, D = c->D, H = c->heads, dk = D / H, F = c->dff, R = B * T;
    enc_cache k = enc_cache_at(c, B, cache);
    float *ds2 = scratch, *dx1 = ds2 + R * D, *dh = dx1 + R * D, *dctx = dh + R * F;
    float *dqkv = dctx + R * D, *ds1 = dqkv + R * 3 * D, *P = ds1 + R * D, *dP = P + T * T;
    /* x2 = norm2(s2), s2 = x1 + ff2(act(ff1(x1))) */
    norm_backward(c, R, k.s2, p->n2a, st->mean2, st->var2, bn ? bn->w2 : NULL, k.bn2, dout, ds2,
                  g->n2w, g->n2b);
    nn_linear_backward(R, F, D, k.hact, p->ff2w, ds2, dh, g->ff2w, g->ff2b);
    nn_act_backward(c->gelu ? NN_ACT_GELU : NN_ACT_RELU, R * F, k.hpre, k.hact, dh, dh);
    nn_linear_backward(R, D, F, k.x1, p->ff1w, dh, dx1, g->ff1w, g->ff1b);
    add_inplace(R * D, ds2, dx1);
    /* x1 = norm1(s1), s1 = x + ctx W_O^T */
    norm_backward(c, R, k.s1, p->n1a, st->mean1, st->var1, bn ? bn->w1 : NULL, k.bn1, dx1, ds1,
                  g->n1w, g->n1b);
    nn_linear_backward(R, D, D, k.ctx, p->wo, ds1, dctx, g->wo, NULL);
    const float scale = 1.0f / sqrtf((float)dk);
    for (size_t r = 0; r < B; r++)
        for (size_t h = 0; h < H; h++) {
            const float *qr = k.qkv + r * T * 3 * D, *dc = dctx + r * T * D + h * dk;
            float *dq = dqkv + r * T * 3 * D + h * dk;
            enc_probs(c, qr, h, P);
            /* dV = P^T dctx; dP = dctx V^T */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)dk, (int)T, 1.0f, P,
                        (int)T, dc, (int)D, 0.0f, dq + 2 * D, (int)(3 * D));
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)T, (int)dk, 1.0f, dc,
                        (int)D, qr + 2 * D + h * dk, (int)(3 * D), 0.0f, dP, (int)T);
            for (size_t t = 0; t < T; t++) {
                double sum = 0.0; /* float loses dS of the small Q/K gradients */
                float *pr = P + t * T, *dr = dP + t * T;
                for (size_t j = 0; j < T; j++) sum += (double)pr[j] * dr[j];
                for (size_t j = 0; j < T; j++) dr[j] = (float)(pr[j] * (dr[j] - sum) * scale);
            }
            /* dQ = dS K; dK = dS^T Q */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)dk, (int)T, 1.0f,
                        dP, (int)T, qr + D + h * dk, (int)(3 * D), 0.0f, dq, (int)(3 * D));
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)dk, (int)T, 1.0f, dP,
                        (int)T, qr + h * dk, (int)(3 * D), 0.0f, dq + D, (int)(3 * D));
        }
    nn_linear_backward(R, D, 3 * D, x, p->wqkv, dqkv, din, g->wqkv, NULL);
    if (din) add_inplace(R * D, ds1, din);
}
