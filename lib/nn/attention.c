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
    return nb * c->T * (3 * c->D + c->D + c->dff + c->D) + c->T * c->T;
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
    float *tmp = hid + nb * T * F, *S = tmp + nb * T * D;
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
                nn_softmax_forward(T, T, S, 0);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)dk, (int)T,
                            1.0f, S, (int)T, q + 2 * D, (int)(3 * D), 0.0f,
                            ctx + r * T * D + h * dk, (int)D);
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
