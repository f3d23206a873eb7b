/* lstm.c - multi-layer, optionally bidirectional LSTM (PyTorch semantics).
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
