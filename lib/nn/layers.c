/* layers.c - forward and backward kernels of the convolutional and
 * element-wise layers.
 * See nn_layers.h for layouts. Each forward has its backward (training)
 * beside it: conv1d, pooling, linear, activations, softmax, LayerNorm,
 * BatchNorm (frozen statistics).
 *
 * Conv1d is im2col + one cblas_sgemm. For small outputs (the CNNs' later
 * layers, a few dozen positions) the im2col columns of a chunk of records are
 * placed side by side so one sgemm covers the chunk, then scattered back to
 * [B][cout][lout]; for long outputs one sgemm per record writes straight into
 * place. Layers with few taps (cin x k <= 16, e.g. a first layer with one
 * input channel) run as a direct vectorised loop, which beats a GEMM of such
 * a small inner dimension. conv -> [relu] -> maxpool can run fused (model.c
 * decides): the pooled rows are taken straight from the GEMM's output, with
 * the bias added after the max, so the full-size output is never re-laid out.
 */
#include "nn_layers.h"
#include "nn_math.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* Records per chunk for the batched im2col path: ~64 KB of columns + output
 * (measured best for the paper CNN on a 1 MB L2). */
static size_t conv_chunk(const nn_conv1d *c, size_t B)
{
    size_t per = c->cin * c->k * c->lout + c->cout * c->lout;
    size_t nb = (16u * 1024u) / (per ? per : 1);
    if (nb < 1) nb = 1;
    return nb < B ? nb : B;
}

static int conv_batched(const nn_conv1d *c)
{
    return c->lout < 128;
}

#define NN_TILE        16
#define NN_DIRECT_TAPS 16
static int conv_direct(const nn_conv1d *c)
{
    return c->dil == 1 && c->cin * c->k <= NN_DIRECT_TAPS;
}

size_t nn_conv1d_scratch(const nn_conv1d *c, size_t B)
{
    if (conv_direct(c)) return c->cin * (c->lin + c->stride) + c->cout * c->lout;
    if (!conv_batched(c)) return c->cin * c->k * c->lout;
    size_t nb = conv_chunk(c, B);
    return nb * (c->cin * c->k * c->lout + c->cout * c->lout);
}

/* Valid output range [*lo, *hi) of tap offset off (o*stride + off inside [0, lin)). */
static void tap_range(const nn_conv1d *c, long off, size_t *lo, size_t *hi)
{
    const long s = (long)c->stride;
    long last = (long)c->lin - 1 - off;
    *lo = off < 0 ? (size_t)((-off + s - 1) / s) : 0;
    *hi = last < 0 ? 0 : (size_t)(last / s) + 1;
    if (*hi > c->lout) *hi = c->lout;
    if (*lo > *hi) *lo = *hi;
}

NN_HOT static void im2col(const nn_conv1d *c, const float *in, float *col, size_t ldc)
{
    const size_t s = c->stride;
    for (size_t kk = 0; kk < c->k; kk++) {
        const long off = (long)(kk * c->dil) - (long)c->pad;
        size_t lo, hi;
        tap_range(c, off, &lo, &hi);
        for (size_t ci = 0; ci < c->cin; ci++) {
            float *dst = col + (ci * c->k + kk) * ldc;
            const float *src = in + ci * c->lin + off;
            for (size_t o = 0; o < lo; o++) dst[o] = 0.0f;
            if (s == 1)
                memcpy(dst + lo, src + lo, (hi - lo) * sizeof *dst);
            else
                for (size_t o = lo; o < hi; o++) dst[o] = src[o * s];
            for (size_t o = hi; o < c->lout; o++) dst[o] = 0.0f;
        }
    }
}

/* Direct convolution for few taps (cin x k <= NN_DIRECT_TAPS, dilation 1),
 * vectorised over output positions: y[co][o] = b[co] + sum_{ci,k}
 * w[co][ci][k] x[ci][o*s + k - pad]. For stride s > 1 each input row is
 * first split into s phases (ph[ci][r][j] = x[ci][j*s + r]) so every tap
 * reads a contiguous run; the interior (all taps valid) is computed 16
 * outputs at a time with the sum in registers, the edges tap by tap. For such
 * layers this beats im2col + a GEMM with an inner dimension of <= 16 (at 32
 * taps - the paper CNN's second layer - the GEMM measured faster). */

NN_HOT static void conv_direct_rec(const nn_conv1d *c, const float *in, const float *w,
                                   const float *bias, float *out, float *ph)
{
    const size_t s = c->stride, lp = (c->lin + s - 1) / s, K = c->k, NT = c->cin * K;
    const float *src[NN_DIRECT_TAPS];
    size_t lo[NN_DIRECT_TAPS], hi[NN_DIRECT_TAPS], ilo = 0, ihi = c->lout;
    if (s > 1)
        for (size_t ci = 0; ci < c->cin; ci++)
            for (size_t r = 0; r < s; r++)
                for (size_t j = 0; j < lp; j++)
                    ph[(ci * s + r) * lp + j] =
                        j * s + r < c->lin ? in[ci * c->lin + j * s + r] : 0.0f;
    for (size_t kk = 0; kk < K; kk++) {
        const long off = (long)kk - (long)c->pad;
        tap_range(c, off, &lo[kk], &hi[kk]);
        for (size_t ci = 0; ci < c->cin; ci++) {
            if (s == 1)
                src[ci * K + kk] = in + ci * c->lin + off;
            else {
                long r = ((off % (long)s) + (long)s) % (long)s, q = (off - r) / (long)s;
                src[ci * K + kk] = ph + (ci * s + (size_t)r) * lp + q;
            }
        }
        ilo = lo[kk] > ilo ? lo[kk] : ilo;
        ihi = hi[kk] < ihi ? hi[kk] : ihi;
    }
    if (ihi < ilo) ihi = ilo;
    /* tiles cover [ilo, ihi); the last one is shifted back to end at ihi (it
     * recomputes a few outputs), so no scalar remainder unless ihi - ilo < 16 */
    const size_t tend = ihi - ilo >= NN_TILE ? ihi : ilo;
    for (size_t co = 0; co < c->cout; co++) {
        float *y = out + co * c->lout;
        const float b0 = bias ? bias[co] : 0.0f, *wk = w + co * NT;
        for (size_t o0 = ilo; o0 < tend; o0 += NN_TILE) {
            const size_t o = o0 + NN_TILE <= ihi ? o0 : ihi - NN_TILE;
            nn_v16 acc = (nn_v16){0} + b0;
            for (size_t t = 0; t < NT; t++) acc += wk[t] * *(const nn_v16 *)(src[t] + o);
            *(nn_v16 *)(y + o) = acc;
        }
        /* edges: [0, ilo) and [tend, lout), tap by tap */
        for (size_t o = 0; o < ilo; o++) y[o] = b0;
        for (size_t o = tend; o < c->lout; o++) y[o] = b0;
        for (size_t t = 0; t < NT; t++) {
            const float wv = wk[t], *x = src[t];
            const size_t l0 = lo[t % K], h0 = hi[t % K];
            for (size_t o = l0; o < (h0 < ilo ? h0 : ilo); o++) y[o] += wv * x[o];
            for (size_t o = (l0 > tend ? l0 : tend); o < h0; o++) y[o] += wv * x[o];
        }
    }
}

NN_HOT static void fill_bias_rows(float *out, size_t rows, size_t n, size_t ld, const float *bias)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < n; j++) out[r * ld + j] = bias ? bias[r] : 0.0f;
}

void nn_conv1d_forward(const nn_conv1d *c, size_t B, const float *in, const float *w,
                       const float *bias, float *out, float *scratch, const nn_pool1d *pool,
                       int relu)
{
    const size_t kin = c->cin * c->k, isz = c->cin * c->lin, osz = c->cout * c->lout;
    if (conv_direct(c)) {
        float *cy = scratch + c->cin * (c->lin + c->stride);
        for (size_t b = 0; b < B; b++) {
            if (!pool) {
                conv_direct_rec(c, in + b * isz, w, bias, out + b * osz, scratch);
                continue;
            }
            conv_direct_rec(c, in + b * isz, w, bias, cy, scratch);
            nn_pool1d_forward(pool, c->cout, cy, c->lout, out + b * c->cout * pool->lout,
                              pool->lout, 0.0f, relu);
        }
        return;
    }
    if (!conv_batched(c)) {
        for (size_t b = 0; b < B; b++) {
            const float *col = in + b * isz;
            if (!(c->k == 1 && c->stride == 1 && c->pad == 0)) {
                im2col(c, in + b * isz, scratch, c->lout);
                col = scratch;
            }
            float *y = out + b * osz;
            fill_bias_rows(y, c->cout, c->lout, c->lout, bias);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)c->cout, (int)c->lout,
                        (int)kin, 1.0f, w, (int)kin, col, (int)c->lout, 1.0f, y, (int)c->lout);
        }
        return;
    }
    const size_t nb = conv_chunk(c, B);
    float *col = scratch, *tmp = scratch + nb * kin * c->lout;
    for (size_t b0 = 0; b0 < B; b0 += nb) {
        size_t m = B - b0 < nb ? B - b0 : nb, ld = m * c->lout;
        for (size_t j = 0; j < m; j++) im2col(c, in + (b0 + j) * isz, col + j * c->lout, ld);
        /* with max pooling the bias is added after the max (exact: rounding of
         * x + b is monotonic in x), on 1/k of the values */
        if (!pool) fill_bias_rows(tmp, c->cout, ld, ld, bias);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)c->cout, (int)ld, (int)kin,
                    1.0f, w, (int)kin, col, (int)ld, pool ? 0.0f : 1.0f, tmp, (int)ld);
        if (pool) { /* rows (co, j) of tmp are [lout] runs: pool them straight into place */
            const size_t po = c->cout * pool->lout;
            for (size_t co = 0; co < c->cout; co++)
                nn_pool1d_forward(pool, m, tmp + co * ld, c->lout, out + b0 * po + co * pool->lout,
                                  po, bias ? bias[co] : 0.0f, relu);
            continue;
        }
        for (size_t j = 0; j < m; j++)
            for (size_t co = 0; co < c->cout; co++)
                memcpy(out + (b0 + j) * osz + co * c->lout, tmp + co * ld + j * c->lout,
                       c->lout * sizeof *out);
    }
}

int nn_conv1d_fusable(const nn_conv1d *c)
{
    return conv_direct(c) || conv_batched(c);
}

/* Backward of conv1d (training): chunks of records side by side as in the
 * forward's batched path. With col = im2col(x) [cin*k][m*lout] and dy
 * gathered to [cout][m*lout]: dW += dy col^T, db += row sums of dy, and
 * dcol = W^T dy scattered back (col2im, accumulating) into din. */
static size_t conv_bwd_chunk(const nn_conv1d *c, size_t B)
{
    size_t per = (c->cin * c->k + c->cout) * c->lout;
    size_t nb = (64u * 1024u) / (per ? per : 1);
    if (nb < 1) nb = 1;
    return nb < B ? nb : B;
}

size_t nn_conv1d_backward_scratch(const nn_conv1d *c, size_t B)
{
    return conv_bwd_chunk(c, B) * (c->cin * c->k + c->cout) * c->lout;
}

NN_HOT static void col2im_add(const nn_conv1d *c, const float *col, size_t ldc, float *din)
{
    const size_t s = c->stride;
    for (size_t kk = 0; kk < c->k; kk++) {
        const long off = (long)(kk * c->dil) - (long)c->pad;
        size_t lo, hi;
        tap_range(c, off, &lo, &hi);
        for (size_t ci = 0; ci < c->cin; ci++) {
            const float *src = col + (ci * c->k + kk) * ldc;
            float *dst = din + ci * c->lin + off;
            for (size_t o = lo; o < hi; o++) dst[o * s] += src[o];
        }
    }
}

void nn_conv1d_backward(const nn_conv1d *c, size_t B, const float *in, const float *w,
                        const float *dout, float *din, float *dw, float *db, float *scratch)
{
    const size_t kin = c->cin * c->k, isz = c->cin * c->lin, osz = c->cout * c->lout;
    const size_t nb = conv_bwd_chunk(c, B);
    float *col = scratch, *dy = scratch + nb * kin * c->lout;
    if (din) memset(din, 0, B * isz * sizeof *din);
    for (size_t b0 = 0; b0 < B; b0 += nb) {
        const size_t m = B - b0 < nb ? B - b0 : nb, ld = m * c->lout;
        for (size_t j = 0; j < m; j++) {
            im2col(c, in + (b0 + j) * isz, col + j * c->lout, ld);
            for (size_t co = 0; co < c->cout; co++)
                memcpy(dy + co * ld + j * c->lout, dout + (b0 + j) * osz + co * c->lout,
                       c->lout * sizeof *dy);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c->cout, (int)kin, (int)ld, 1.0f,
                    dy, (int)ld, col, (int)ld, 1.0f, dw, (int)kin);
        if (db)
            for (size_t co = 0; co < c->cout; co++) {
                float acc = 0.0f;
                for (size_t j = 0; j < ld; j++) acc += dy[co * ld + j];
                db[co] += acc;
            }
        if (!din) continue;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kin, (int)ld, (int)c->cout, 1.0f,
                    w, (int)kin, dy, (int)ld, 0.0f, col, (int)ld);
        for (size_t j = 0; j < m; j++) col2im_add(c, col + j * c->lout, ld, din + (b0 + j) * isz);
    }
}

/* Max pooling with kernel == stride == K and no padding, K a constant so the
 * strided loads vectorise as shuffles. */
#define MAXPOOL_K(K)                                                                               \
    NN_HOT static void maxpool_##K(size_t rows, size_t lout, const float *in, size_t ild,          \
                                   float *out, size_t old, float add, int relu)                    \
    {                                                                                              \
        const float lo = relu ? 0.0f : -INFINITY;                                                  \
        for (size_t r = 0; r < rows; r++) {                                                        \
            const float *x = in + r * ild;                                                         \
            float *y = out + r * old;                                                              \
            for (size_t o = 0; o < lout; o++) {                                                    \
                float m = x[o * K];                                                                \
                for (size_t k = 1; k < K; k++) m = x[o * K + k] > m ? x[o * K + k] : m;            \
                m += add;                                                                          \
                y[o] = m > lo ? m : lo;                                                            \
            }                                                                                      \
        }                                                                                          \
    }
MAXPOOL_K(2)
MAXPOOL_K(4)

NN_HOT void nn_pool1d_forward(const nn_pool1d *p, size_t rows, const float *in, size_t in_ld,
                              float *out, size_t out_ld, float add, int relu)
{
    if (p->is_max && p->pad == 0 && p->stride == p->k && (p->k == 2 || p->k == 4)) {
        (p->k == 2 ? maxpool_2 : maxpool_4)(rows, p->lout, in, in_ld, out, out_ld, add, relu);
        return;
    }
    const float scale = 1.0f / (float)p->k;
    for (size_t r = 0; r < rows; r++) {
        const float *x = in + r * in_ld;
        float *y = out + r * out_ld;
        for (size_t o = 0; o < p->lout; o++) {
            float m = p->is_max ? -INFINITY : 0.0f;
            for (size_t k = 0; k < p->k; k++) {
                long i = (long)(o * p->stride + k) - (long)p->pad;
                if (i < 0 || (size_t)i >= p->lin) continue;
                if (p->is_max)
                    m = x[i] > m ? x[i] : m;
                else
                    m += x[i];
            }
            m = (p->is_max ? m : m * scale) + add;
            y[o] = relu && !(m > 0.0f) ? 0.0f : m;
        }
    }
}

/* Backward of pooling: max routes each output gradient to the first maximum
 * of its window (PyTorch's choice on ties), average spreads it over the
 * window's k slots (padding included, so slots outside the input drop). */
void nn_pool1d_backward(const nn_pool1d *p, size_t rows, const float *in, const float *dout,
                        float *din)
{
    const float scale = 1.0f / (float)p->k;
    memset(din, 0, rows * p->lin * sizeof *din);
    for (size_t r = 0; r < rows; r++) {
        const float *x = in + r * p->lin, *dy = dout + r * p->lout;
        float *dx = din + r * p->lin;
        for (size_t o = 0; o < p->lout; o++) {
            long best = -1;
            float m = -INFINITY;
            for (size_t k = 0; k < p->k; k++) {
                long i = (long)(o * p->stride + k) - (long)p->pad;
                if (i < 0 || (size_t)i >= p->lin) continue;
                if (!p->is_max)
                    dx[i] += dy[o] * scale;
                else if (best < 0 || x[i] > m || isnan(x[i]))
                    m = x[i], best = i;
            }
            if (p->is_max && best >= 0) dx[best] += dy[o];
        }
    }
}

NN_HOT static void add_bias(size_t rows, size_t n, const float *bias, float *out)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < n; j++) out[r * n + j] = bias[j];
}

void nn_linear_forward(size_t rows, size_t nin, size_t nout, const float *in, const float *w,
                       const float *bias, float *out)
{
    if (bias) add_bias(rows, nout, bias, out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)nout, (int)nin, 1.0f, in,
                (int)nin, w, (int)nin, bias ? 1.0f : 0.0f, out, (int)nout);
}

/* dW += dout^T in, db += column sums of dout, din = dout W (din may be NULL). */
void nn_linear_backward(size_t rows, size_t nin, size_t nout, const float *in, const float *w,
                        const float *dout, float *din, float *dw, float *db)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nout, (int)nin, (int)rows, 1.0f, dout,
                (int)nout, in, (int)nin, 1.0f, dw, (int)nin);
    if (db)
        for (size_t r = 0; r < rows; r++)
            for (size_t j = 0; j < nout; j++) db[j] += dout[r * nout + j];
    if (din)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)nin, (int)nout, 1.0f,
                    dout, (int)nout, w, (int)nin, 0.0f, din, (int)nin);
}

NN_HOT void nn_sigmoid_inplace(size_t n, float *x)
{
    for (size_t i = 0; i < n; i++) x[i] = nn_sigmoidf(x[i]);
}

NN_HOT void nn_tanh_inplace(size_t n, float *x)
{
    for (size_t i = 0; i < n; i++) x[i] = nn_tanhf(x[i]);
}

NN_HOT static void relu_inplace(size_t n, float *x)
{
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

NN_HOT static void gelu_inplace(size_t n, float *x)
{
    for (size_t i = 0; i < n; i++) x[i] = nn_geluf(x[i]);
}

void nn_act_forward(nn_act a, size_t n, float *x)
{
    switch (a) {
    case NN_ACT_RELU:
        relu_inplace(n, x);
        break;
    case NN_ACT_SIGMOID:
        nn_sigmoid_inplace(n, x);
        break;
    case NN_ACT_TANH:
        nn_tanh_inplace(n, x);
        break;
    case NN_ACT_GELU:
        gelu_inplace(n, x);
        break;
    }
}

/* din = dout * f'(x), from the output y = f(x) (ReLU, sigmoid, tanh) or the
 * input x (GELU: Phi(x) + x phi(x), exact erf form as the forward). */
NN_HOT void nn_act_backward(nn_act a, size_t n, const float *x, const float *y, const float *dout,
                            float *din)
{
    for (size_t i = 0; i < n; i++) {
        float d;
        switch (a) {
        case NN_ACT_RELU:
            d = y[i] > 0.0f ? 1.0f : 0.0f;
            break;
        case NN_ACT_SIGMOID:
            d = y[i] * (1.0f - y[i]);
            break;
        case NN_ACT_TANH:
            d = 1.0f - y[i] * y[i];
            break;
        default:
            d = 0.5f * (1.0f + nn_erff(x[i] * 0.70710678118654752f)) +
                x[i] * 0.39894228040143268f * nn_expf(-0.5f * x[i] * x[i]);
            break;
        }
        din[i] = dout[i] * d;
    }
}

/* Float reductions do not vectorise without -ffast-math, so the max and the
 * sum run on 16-lane partials (vector extensions), the exp loop plainly. */
NN_HOT void nn_softmax_forward(size_t rows, size_t n, float *x, int log)
{
    for (size_t r = 0; r < rows; r++) {
        float *v = x + r * n, m = v[0], s = 0.0f;
        size_t j = 0;
        if (n >= 16) {
            nn_v16 vm = *(const nn_v16 *)v;
            for (j = 16; j + 16 <= n; j += 16) NN_V16_MAX_INTO(vm, *(const nn_v16 *)(v + j));
            for (int t = 0; t < 16; t++) m = vm[t] > m ? vm[t] : m;
        }
        for (; j < n; j++) m = v[j] > m ? v[j] : m;
        if (log) {
            for (j = 0; j < n; j++) s += expf(v[j] - m);
            float ls = m + logf(s);
            for (j = 0; j < n; j++) v[j] -= ls;
            continue;
        }
        for (j = 0; j < n; j++) v[j] = nn_expf(v[j] - m);
        nn_v16 acc = {0};
        for (j = 0; j + 16 <= n; j += 16) acc += *(const nn_v16 *)(v + j);
        for (int t = 0; t < 16; t++) s += acc[t];
        for (; j < n; j++) s += v[j];
        const float inv = 1.0f / s;
        for (j = 0; j < n; j++) v[j] *= inv;
    }
}

/* From the outputs y [rows][n]: softmax din = y (dout - sum(dout y)),
 * log-softmax din = dout - exp(y) sum(dout). */
void nn_softmax_backward(size_t rows, size_t n, const float *y, const float *dout, float *din,
                         int log)
{
    for (size_t r = 0; r < rows; r++) {
        const float *v = y + r * n, *g = dout + r * n;
        float *d = din + r * n, s = 0.0f;
        for (size_t j = 0; j < n; j++) s += log ? g[j] : g[j] * v[j];
        for (size_t j = 0; j < n; j++) d[j] = log ? g[j] - expf(v[j]) * s : v[j] * (g[j] - s);
    }
}

void nn_transpose_forward(size_t B, size_t r, size_t c, const float *in, float *out)
{
    for (size_t b = 0; b < B; b++) {
        const float *x = in + b * r * c;
        float *y = out + b * r * c;
        for (size_t i = 0; i < r; i++)
            for (size_t j = 0; j < c; j++) y[j * r + i] = x[i * c + j];
    }
}

NN_HOT void nn_affine_forward(size_t B, size_t C, size_t L, int channels_last, const float *scale,
                              const float *shift, float *x)
{
    if (channels_last) {
        for (size_t r = 0; r < B * L; r++)
            for (size_t ch = 0; ch < C; ch++) x[r * C + ch] = x[r * C + ch] * scale[ch] + shift[ch];
        return;
    }
    for (size_t b = 0; b < B; b++)
        for (size_t ch = 0; ch < C; ch++) {
            float *v = x + (b * C + ch) * L;
            for (size_t l = 0; l < L; l++) v[l] = v[l] * scale[ch] + shift[ch];
        }
}

NN_HOT void nn_layernorm_forward(size_t rows, size_t n, const float *w, const float *b, float eps,
                                 float *x)
{
    for (size_t r = 0; r < rows; r++) {
        float *v = x + r * n, mean = 0.0f, var = 0.0f;
        for (size_t j = 0; j < n; j++) mean += v[j];
        mean /= (float)n;
        for (size_t j = 0; j < n; j++) var += (v[j] - mean) * (v[j] - mean);
        float inv = 1.0f / sqrtf(var / (float)n + eps);
        for (size_t j = 0; j < n; j++) v[j] = (v[j] - mean) * inv * w[j] + b[j];
    }
}

/* LayerNorm backward from the layer's input x: with xh = (x - mean) inv,
 * dw += sum dy xh, db += sum dy, din = inv (g - mean(g) - xh mean(g xh)),
 * g = dy w. */
void nn_layernorm_backward(size_t rows, size_t n, const float *x, const float *w, float eps,
                           const float *dout, float *din, float *dw, float *db)
{
    for (size_t r = 0; r < rows; r++) {
        const float *v = x + r * n, *dy = dout + r * n;
        float mean = 0.0f, var = 0.0f, mg = 0.0f, mgx = 0.0f;
        for (size_t j = 0; j < n; j++) mean += v[j];
        mean /= (float)n;
        for (size_t j = 0; j < n; j++) var += (v[j] - mean) * (v[j] - mean);
        const float inv = 1.0f / sqrtf(var / (float)n + eps);
        for (size_t j = 0; j < n; j++) {
            const float xh = (v[j] - mean) * inv, g = dy[j] * w[j];
            dw[j] += dy[j] * xh;
            db[j] += dy[j];
            mg += g, mgx += g * xh;
        }
        mg /= (float)n, mgx /= (float)n;
        if (din)
            for (size_t j = 0; j < n; j++)
                din[r * n + j] = inv * (dy[j] * w[j] - mg - (v[j] - mean) * inv * mgx);
    }
}

/* BatchNorm backward with its running statistics (frozen: the folded affine
 * y = x scale + shift of inference, PyTorch's eval mode): dweight += sum dy
 * (x - mean) / sqrt(var + eps), dbias += sum dy, din = dy scale. Layout as
 * nn_affine_forward: [B][C][L], or [B*L][C] with channels_last. */
void nn_batchnorm_backward(size_t B, size_t C, size_t L, const float *x, const float *mean,
                           const float *var, const float *scale, float eps, const float *dout,
                           float *din, float *dw, float *db, int channels_last)
{
    for (size_t c = 0; c < C; c++) {
        const float is = 1.0f / sqrtf(var[c] + eps);
        float sw = 0.0f, sb = 0.0f;
        for (size_t b = 0; b < B; b++)
            for (size_t l = 0; l < L; l++) {
                const size_t o = channels_last ? (b * L + l) * C + c : (b * C + c) * L + l;
                sw += dout[o] * (x[o] - mean[c]) * is;
                sb += dout[o];
                if (din) din[o] = dout[o] * scale[c];
            }
        dw[c] += sw, db[c] += sb;
    }
}

NN_HOT void nn_add_bcast_forward(size_t B, size_t TD, const float *pe, float *x)
{
    for (size_t b = 0; b < B; b++)
        for (size_t i = 0; i < TD; i++) x[b * TD + i] += pe[i];
}

/* BatchNorm with batch statistics (PyTorch's train mode). channels_last
 * [R][C] is the NCL layout with B = R and L = 1, so one loop serves both.
 * Sums are taken in double over chunks of channels (two passes: mean, then
 * the centred squares), as PyTorch accumulates in double on the CPU. */
#define BN_CHUNK 64

void nn_batchnorm_train_forward(size_t B, size_t C, size_t L, int channels_last, const float *w,
                                const float *b, float eps, float momentum, const float *x,
                                float *out, float *stats, float *rmean, float *rvar)
{
    if (channels_last) B *= L, L = 1;
    const size_t N = B * L;
    for (size_t c0 = 0; c0 < C; c0 += BN_CHUNK) {
        const size_t nc = C - c0 < BN_CHUNK ? C - c0 : BN_CHUNK;
        double s[BN_CHUNK] = {0}, q[BN_CHUNK] = {0};
        for (size_t r = 0; r < B; r++)
            for (size_t k = 0; k < nc; k++) {
                const float *v = x + (r * C + c0 + k) * L;
                for (size_t l = 0; l < L; l++) s[k] += v[l];
            }
        for (size_t k = 0; k < nc; k++) s[k] /= (double)N;
        for (size_t r = 0; r < B; r++)
            for (size_t k = 0; k < nc; k++) {
                const float *v = x + (r * C + c0 + k) * L;
                for (size_t l = 0; l < L; l++) q[k] += (v[l] - s[k]) * (v[l] - s[k]);
            }
        for (size_t k = 0; k < nc; k++) {
            const size_t c = c0 + k;
            const double var = q[k] / (double)N;
            stats[c] = (float)s[k];
            stats[C + c] = (float)(1.0 / sqrt(var + (double)eps));
            if (rmean) {
                const double m = momentum, unb = N > 1 ? q[k] / (double)(N - 1) : var;
                rmean[c] = (float)((1 - m) * rmean[c] + m * s[k]);
                rvar[c] = (float)((1 - m) * rvar[c] + m * unb);
            }
        }
        for (size_t r = 0; r < B; r++)
            for (size_t k = 0; k < nc; k++) {
                const size_t c = c0 + k, o = (r * C + c) * L;
                const double mu = stats[c], a = (double)stats[C + c] * w[c], sh = b[c];
                for (size_t l = 0; l < L; l++) out[o + l] = (float)((x[o + l] - mu) * a + sh);
            }
    }
}

void nn_batchnorm_train_backward(size_t B, size_t C, size_t L, int channels_last, const float *x,
                                 const float *w, const float *stats, const float *dout, float *din,
                                 float *dw, float *db)
{
    if (channels_last) B *= L, L = 1;
    const double N = (double)(B * L);
    for (size_t c0 = 0; c0 < C; c0 += BN_CHUNK) {
        const size_t nc = C - c0 < BN_CHUNK ? C - c0 : BN_CHUNK;
        double sd[BN_CHUNK] = {0}, sdx[BN_CHUNK] = {0};
        for (size_t r = 0; r < B; r++)
            for (size_t k = 0; k < nc; k++) {
                const size_t c = c0 + k, o = (r * C + c) * L;
                const float mu = stats[c], is = stats[C + c];
                for (size_t l = 0; l < L; l++) {
                    sd[k] += dout[o + l];
                    sdx[k] += (double)dout[o + l] * ((x[o + l] - mu) * is);
                }
            }
        for (size_t k = 0; k < nc; k++) dw[c0 + k] += (float)sdx[k], db[c0 + k] += (float)sd[k];
        if (!din) continue;
        for (size_t r = 0; r < B; r++)
            for (size_t k = 0; k < nc; k++) {
                const size_t c = c0 + k, o = (r * C + c) * L;
                const double mu = stats[c], is = stats[C + c], g = w[c] * is;
                const double md = sd[k] / N, mdx = sdx[k] / N;
                for (size_t l = 0; l < L; l++)
                    din[o + l] = (float)(g * (dout[o + l] - md - (x[o + l] - mu) * is * mdx));
            }
    }
}

/* The dropout mask: element i is kept unless the top 24 bits of
 * splitmix64(key + i) fall below p x 2^24. */
static int dropout_keep(uint64_t key, size_t i, uint32_t thr)
{
    uint64_t z = key + (uint64_t)i + UINT64_C(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return (uint32_t)((z ^ (z >> 31)) >> 40) >= thr;
}

static uint32_t dropout_thr(float p)
{
    return (uint32_t)llround((double)p * 16777216.0);
}

void nn_dropout_forward(size_t n, float p, uint64_t key, const float *in, float *out)
{
    const uint32_t thr = dropout_thr(p);
    const float s = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    for (size_t i = 0; i < n; i++) out[i] = dropout_keep(key, i, thr) ? in[i] * s : 0.0f;
}

void nn_dropout_backward(size_t n, float p, uint64_t key, const float *dout, float *din)
{
    nn_dropout_forward(n, p, key, dout, din);
}
