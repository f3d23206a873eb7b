/* attention.c - one transformer encoder layer as in tsai's TST (post-norm):
 *
 *   x = norm1(x + MHA(x) W_O^T);  x = norm2(x + W_2 act(W_1 x + b_1) + b_2)
 *
 * MHA: Q, K, V = x W_Q^T, x W_K^T, x W_V^T (no biases; one sgemm against the
 * stacked [3D][D] weights), per head softmax(Q_h K_h^T / sqrt(d_k)) V_h.
 * norm is BatchNorm over d_model (running statistics folded into scale and
 * shift at load) or LayerNorm. Records are processed in small chunks so the
 * [T][3D] projections and the [T][dff] hidden layer stay in cache-sized
 * scratch; per record the GEMMs already have T rows.
 */
#include "nn_layers.h"
#include "nn_math.h"

#include <cblas.h>
#include <math.h>

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
