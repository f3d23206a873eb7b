/* lstm.c - multi-layer, optionally bidirectional LSTM (PyTorch semantics),
 * forward for inference and for training, and backward through time (end).
 *
 * PyTorch gate order i, f, g, o; gates = x W_ih^T + b_ih + h W_hh^T + b_hh;
 * c' = f c + i g; h' = o tanh(c'). Sequences are kept time-major
 * [T][B][features] inside the layer stack, so the rows of any run of steps
 * are contiguous: the input projection is one sgemm over B x T rows per
 * direction (TMVA SOFIE's trick) - in blocks of ~2048 rows when B x T is
 * larger, so the gate block stays in cache - and each step adds h_{t-1}
 * W_hh^T with one sgemm of B rows (beta = 1, straight into the gate block)
 * before the element-wise cell (which adds the summed biases). The hidden
 * state is read back from the layer's output sequence, so no copies; the
 * reverse direction walks the blocks and steps backwards and writes the
 * upper H columns. Input and output are batch-major [B][T][...].
 */
#include "nn_layers.h"
#include "nn_math.h"

#include <cblas.h>
#include <string.h>

/* Steps per block of the input projection: ~2048 rows per sgemm. */
static size_t lstm_block(const nn_lstm *l, size_t B)
{
    size_t tb = 2048 / (B ? B : 1);
    return tb < 1 ? 1 : tb > l->T ? l->T : tb;
}

static size_t lstm_width(const nn_lstm *l)
{
    size_t dh = l->dirs * l->H;
    return l->nin > dh ? l->nin : dh;
}

/* Records per pass (bounds the scratch for large batches; 32, 64 and 256
 * measured within noise of each other on one AVX-512 core). */
#define LSTM_CHUNK 256

size_t nn_lstm_scratch(const nn_lstm *l, size_t B)
{
    B = B < LSTM_CHUNK ? B : LSTM_CHUNK;
    return 2 * l->T * B * lstm_width(l) + lstm_block(l, B) * B * 4 * l->H + B * l->H;
}

/* One cell update for one record: g [4H] pre-activations without the bias,
 * bias [4H] = b_ih + b_hh, c [H] in/out, h [H] out. */
NN_HOT static void lstm_cell(size_t H, const float *restrict g, const float *restrict bias,
                             float *restrict c, float *restrict h)
{
    for (size_t j = 0; j < H; j++) {
        float i = nn_sigmoidf(g[j] + bias[j]), f = nn_sigmoidf(g[H + j] + bias[H + j]);
        float gg = nn_tanhf(g[2 * H + j] + bias[2 * H + j]);
        float o = nn_sigmoidf(g[3 * H + j] + bias[3 * H + j]);
        float cn = f * c[j] + i * gg;
        c[j] = cn;
        h[j] = o * nn_tanhf(cn);
    }
}

/* [n1][n2][w] -> [n2][n1][w] */
static void swap_major(size_t n1, size_t n2, size_t w, const float *in, float *out)
{
    for (size_t i = 0; i < n1; i++)
        for (size_t j = 0; j < n2; j++)
            memcpy(out + (j * n1 + i) * w, in + (i * n2 + j) * w, w * sizeof *out);
}

static void lstm_chunk(const nn_lstm *l, size_t B, const float *in, const nn_lstm_dir *p,
                       float *out, float *scratch)
{
    const size_t T = l->T, H = l->H, D = l->dirs, G = 4 * H, DH = D * H, W = lstm_width(l);
    const size_t tb = lstm_block(l, B);
    float *xa = scratch, *xb = xa + T * B * W, *gx = xb + T * B * W, *cst = gx + tb * B * G;
    swap_major(B, T, l->nin, in, xa); /* time-major [T][B][nin] */
    float *x = xa, *y = xb;
    size_t nin = l->nin;
    for (size_t layer = 0; layer < l->layers; layer++) {
        for (size_t d = 0; d < D; d++) {
            const nn_lstm_dir *q = &p[layer * D + d];
            memset(cst, 0, B * H * sizeof *cst);
            const size_t nblk = (T + tb - 1) / tb;
            for (size_t kb = 0; kb < nblk; kb++) {
                const size_t blk = d ? nblk - 1 - kb : kb, t0 = blk * tb;
                const size_t nt = T - t0 < tb ? T - t0 : tb;
                /* input projection of nt steps x B records: one sgemm */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(nt * B), (int)G,
                            (int)nin, 1.0f, x + t0 * B * nin, (int)nin, q->w_ih, (int)nin, 0.0f, gx,
                            (int)G);
                for (size_t k = 0; k < nt; k++) {
                    const size_t t = d ? t0 + nt - 1 - k : t0 + k;
                    const int first = d ? t == T - 1 : t == 0;
                    float *g = gx + (t - t0) * B * G;
                    if (!first) {
                        const size_t tp = d ? t + 1 : t - 1;
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)G, (int)H,
                                    1.0f, y + tp * B * DH + d * H, (int)DH, q->w_hh, (int)H, 1.0f,
                                    g, (int)G);
                    }
                    for (size_t b = 0; b < B; b++)
                        lstm_cell(H, g + b * G, q->bias, cst + b * H, y + (t * B + b) * DH + d * H);
                }
            }
        }
        float *tmp = x;
        x = y, y = tmp;
        nin = DH;
    }
    swap_major(T, B, DH, x, out); /* back to [B][T][dirs*H] */
}

void nn_lstm_forward(const nn_lstm *l, size_t B, const float *in, const nn_lstm_dir *p, float *out,
                     float *scratch)
{
    for (size_t b0 = 0; b0 < B; b0 += LSTM_CHUNK)
        lstm_chunk(l, B - b0 < LSTM_CHUNK ? B - b0 : LSTM_CHUNK, in + b0 * l->T * l->nin, p,
                   out + b0 * l->T * l->dirs * l->H, scratch);
}

/* ---- training: forward keeping the gates, backward through time ------------
 *
 * The training forward runs the same recurrence without blocking or
 * chunking and keeps, per layer, the time-major layer input X_l [T][B][nin_l]
 * (then the last layer's output), and per layer and direction the activated
 * gates i, f, g, o [T][B][4H] and the cell states c [T][B][H]. The backward
 * walks each direction against its processing order:
 *   dh = dY[t] + dh_next;  do = dh tanh(c_t);  dc = dc_next + dh o (1 - tanh^2 c_t)
 *   di = dc g;  dg = dc i;  df = dc c_prev;  dc_next = dc f
 *   dA[t] = (di i(1-i), df f(1-f), dg (1-g^2), do o(1-o));  dh_next = dA[t] W_hh
 *   dW_hh += dA[t]^T h_prev
 * and then, over all steps at once, dW_ih += dA^T X_l, db += sum dA (the same
 * for b_ih and b_hh) and dX_l += dA W_ih (both directions add into dX_l).
 */

static size_t lstm_layer_in(const nn_lstm *l, size_t layer)
{
    return layer ? l->dirs * l->H : l->nin;
}

size_t nn_lstm_train_cache(const nn_lstm *l, size_t B)
{
    const size_t TB = l->T * B, DH = l->dirs * l->H;
    size_t n = 0;
    for (size_t k = 0; k < l->layers; k++) n += TB * lstm_layer_in(l, k);
    return n + TB * DH + l->layers * l->dirs * TB * 5 * l->H;
}

size_t nn_lstm_backward_scratch(const nn_lstm *l, size_t B)
{
    return 2 * l->T * B * lstm_width(l) + l->T * B * 4 * l->H + 2 * B * l->H;
}

/* Pointers into the cache: X[layer] (X[layers] = the last output), and the
 * gates / cell states of (layer, dir). */
static float *cache_x(const nn_lstm *l, size_t B, float *cache, size_t layer)
{
    size_t off = 0;
    for (size_t k = 0; k < layer; k++) off += l->T * B * lstm_layer_in(l, k);
    return cache + off;
}

static float *cache_gates(const nn_lstm *l, size_t B, float *cache, size_t layer, size_t d)
{
    const size_t TB = l->T * B;
    return cache_x(l, B, cache, l->layers) + TB * l->dirs * l->H +
           (layer * l->dirs + d) * TB * 5 * l->H;
}

NN_HOT static void lstm_cell_keep(size_t H, float *restrict g, const float *restrict bias,
                                  const float *restrict cp, float *restrict c, float *restrict h)
{
    for (size_t j = 0; j < H; j++) {
        float i = nn_sigmoidf(g[j] + bias[j]), f = nn_sigmoidf(g[H + j] + bias[H + j]);
        float gg = nn_tanhf(g[2 * H + j] + bias[2 * H + j]);
        float o = nn_sigmoidf(g[3 * H + j] + bias[3 * H + j]);
        float cn = f * (cp ? cp[j] : 0.0f) + i * gg;
        g[j] = i, g[H + j] = f, g[2 * H + j] = gg, g[3 * H + j] = o;
        c[j] = cn;
        h[j] = o * nn_tanhf(cn);
    }
}

void nn_lstm_train_forward(const nn_lstm *l, size_t B, const float *in, const nn_lstm_dir *p,
                           float *out, float *cache)
{
    const size_t T = l->T, H = l->H, D = l->dirs, G = 4 * H, DH = D * H;
    swap_major(B, T, l->nin, in, cache_x(l, B, cache, 0));
    for (size_t layer = 0; layer < l->layers; layer++) {
        const size_t nin = lstm_layer_in(l, layer);
        const float *x = cache_x(l, B, cache, layer);
        float *y = cache_x(l, B, cache, layer + 1);
        for (size_t d = 0; d < D; d++) {
            const nn_lstm_dir *q = &p[layer * D + d];
            float *gt = cache_gates(l, B, cache, layer, d), *cs = gt + T * B * G;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(T * B), (int)G, (int)nin,
                        1.0f, x, (int)nin, q->w_ih, (int)nin, 0.0f, gt, (int)G);
            for (size_t k = 0; k < T; k++) {
                const size_t t = d ? T - 1 - k : k, tp = d ? t + 1 : t - 1;
                float *g = gt + t * B * G;
                if (k)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)G, (int)H,
                                1.0f, y + tp * B * DH + d * H, (int)DH, q->w_hh, (int)H, 1.0f, g,
                                (int)G);
                for (size_t b = 0; b < B; b++)
                    lstm_cell_keep(H, g + b * G, q->bias, k ? cs + (tp * B + b) * H : NULL,
                                   cs + (t * B + b) * H, y + (t * B + b) * DH + d * H);
            }
        }
    }
    swap_major(T, B, DH, cache_x(l, B, cache, l->layers), out);
}

NN_HOT static void lstm_cell_backward(size_t H, const float *restrict g, const float *restrict c,
                                      const float *restrict cp, const float *restrict dy,
                                      float *restrict dh, float *restrict dc, float *restrict da)
{
    for (size_t j = 0; j < H; j++) {
        const float i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j];
        const float tc = nn_tanhf(c[j]), h = dy[j] + dh[j];
        const float dcj = dc[j] + h * o * (1.0f - tc * tc);
        da[j] = dcj * gg * i * (1.0f - i);
        da[H + j] = cp ? dcj * cp[j] * f * (1.0f - f) : 0.0f;
        da[2 * H + j] = dcj * i * (1.0f - gg * gg);
        da[3 * H + j] = h * tc * o * (1.0f - o);
        dc[j] = dcj * f;
    }
}

void nn_lstm_backward(const nn_lstm *l, size_t B, float *cache, const nn_lstm_dir *p,
                      const nn_lstm_grad *gr, const float *dout, float *din, float *scratch)
{
    const size_t T = l->T, H = l->H, D = l->dirs, G = 4 * H, DH = D * H, W = lstm_width(l);
    float *dy = scratch, *dx = dy + T * B * W, *da = dx + T * B * W, *dh = da + T * B * G;
    float *dc = dh + B * H;
    swap_major(B, T, DH, dout, dy); /* [T][B][DH] */
    for (size_t layer = l->layers; layer-- > 0;) {
        const size_t nin = lstm_layer_in(l, layer);
        const float *x = cache_x(l, B, cache, layer), *y = cache_x(l, B, cache, layer + 1);
        memset(dx, 0, T * B * nin * sizeof *dx);
        for (size_t d = 0; d < D; d++) {
            const nn_lstm_dir *q = &p[layer * D + d];
            const nn_lstm_grad *g = &gr[layer * D + d];
            const float *gt = cache_gates(l, B, cache, layer, d), *cs = gt + T * B * G;
            memset(dh, 0, 2 * B * H * sizeof *dh); /* dh and dc */
            for (size_t k = T; k-- > 0;) {
                const size_t t = d ? T - 1 - k : k, tp = d ? t + 1 : t - 1;
                float *a = da + t * B * G;
                for (size_t b = 0; b < B; b++)
                    lstm_cell_backward(H, gt + (t * B + b) * G, cs + (t * B + b) * H,
                                       k ? cs + (tp * B + b) * H : NULL,
                                       dy + (t * B + b) * DH + d * H, dh + b * H, dc + b * H,
                                       a + b * G);
                /* dh_next = dA[t] W_hh; dW_hh += dA[t]^T h_prev */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)H, (int)G, 1.0f,
                            a, (int)G, q->w_hh, (int)H, 0.0f, dh, (int)H);
                if (k)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)G, (int)H, (int)B,
                                1.0f, a, (int)G, y + tp * B * DH + d * H, (int)DH, 1.0f, g->w_hh,
                                (int)H);
            }
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)G, (int)nin, (int)(T * B),
                        1.0f, da, (int)G, x, (int)nin, 1.0f, g->w_ih, (int)nin);
            for (size_t r = 0; r < T * B; r++)
                for (size_t j = 0; j < G; j++) {
                    g->b_ih[j] += da[r * G + j];
                    g->b_hh[j] += da[r * G + j];
                }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(T * B), (int)nin, (int)G,
                        1.0f, da, (int)G, q->w_ih, (int)nin, 1.0f, dx, (int)nin);
        }
        float *tmp = dy;
        dy = dx, dx = tmp;
    }
    if (din) swap_major(T, B, l->nin, dy, din);
}
