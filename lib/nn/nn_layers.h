/* nn_layers.h - layer kernels of the nn engine (internal to lib/nn).
 *
 * Every kernel works on a whole batch of B records. Activations are row-major
 * [B][rows][cols] arrays (PyTorch's [N][C][L] for convolutions, [N][T][F] for
 * sequences). Kernels take parameters as plain pointers into the model's flat
 * parameter buffer, never allocate, and receive any scratch memory they need
 * from the caller (the sizes are given by the matching *_scratch function).
 *
 * llm.c layout: each layer has `<layer>_forward()` and, for training,
 * `<layer>_backward()` declared here side by side and defined side by side in
 * the same source file (train.c drives them). Backward kernels accumulate
 * into parameter gradients (+=) and overwrite input gradients.
 *
 * NN_HOT marks element-wise loops that are compiled for AVX-512, AVX2+FMA and
 * baseline x86-64 and picked at load time (GCC target_clones), so the library
 * stays portable while the hot loops use the machine's vector width.
 */
#ifndef NN_LAYERS_H
#define NN_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) &&                             \
    !defined(__SANITIZE_ADDRESS__)
#define NN_HOT                                                                                     \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), optimize("O3")))
#else
#define NN_HOT
#endif

/* ---- layers.c: convolution, pooling, linear, element-wise, normalisation --- */

/* Conv1d: in [B][cin][lin] -> out [B][cout][lout], w [cout][cin][k], bias [cout] or
 * NULL. lout = (lin + 2 pad - dil (k - 1) - 1) / stride + 1. */
typedef struct nn_conv1d {
    size_t cin, lin, cout, lout, k, stride, pad, dil;
} nn_conv1d;
typedef struct nn_pool1d nn_pool1d;
size_t nn_conv1d_scratch(const nn_conv1d *c, size_t B);
/* With pool non-NULL (only when nn_conv1d_fusable(c)), the output is the
 * pooled [B][cout][pool->lout] (then ReLU if relu): conv -> (relu) -> maxpool
 * in one pass without the full-size intermediate. */
void nn_conv1d_forward(const nn_conv1d *c, size_t B, const float *in, const float *w,
                       const float *bias, float *out, float *scratch, const nn_pool1d *pool,
                       int relu);
int nn_conv1d_fusable(const nn_conv1d *c);
/* Backward: from in, w and dout [B][cout][lout], accumulates dw [cout][cin][k]
 * and db [cout] (NULL: no bias) and writes din [B][cin][lin] (NULL: not
 * needed, e.g. the first layer). scratch: nn_conv1d_backward_scratch floats. */
size_t nn_conv1d_backward_scratch(const nn_conv1d *c, size_t B);
void nn_conv1d_backward(const nn_conv1d *c, size_t B, const float *in, const float *w,
                        const float *dout, float *din, float *dw, float *db, float *scratch);

/* Max / average pooling over the last axis: in [rows][lin] -> out [rows][lout],
 * rows = B x channels; padding counts as -inf (max) or 0 (average, PyTorch's
 * count_include_pad=True). */
struct nn_pool1d {
    size_t lin, lout, k, stride, pad;
    int is_max;
};
/* Rows of in start in_ld floats apart, rows of out out_ld apart; add is added
 * to every result, then relu applies max(., 0) (ReLU and max pooling commute). */
void nn_pool1d_forward(const nn_pool1d *p, size_t rows, const float *in, size_t in_ld, float *out,
                       size_t out_ld, float add, int relu);
/* Backward over contiguous rows (in [rows][lin], dout/din as the shapes say):
 * din is overwritten. */
void nn_pool1d_backward(const nn_pool1d *p, size_t rows, const float *in, const float *dout,
                        float *din);

/* Linear: in [rows][nin] -> out [rows][nout] = in W^T + bias (bias may be NULL). */
void nn_linear_forward(size_t rows, size_t nin, size_t nout, const float *in, const float *w,
                       const float *bias, float *out);
/* Backward: dw [nout][nin] and db [nout] (may be NULL) accumulate, din
 * [rows][nin] (may be NULL) is overwritten. */
void nn_linear_backward(size_t rows, size_t nin, size_t nout, const float *in, const float *w,
                        const float *dout, float *din, float *dw, float *db);

/* Element-wise activations in place over n values. */
typedef enum { NN_ACT_RELU, NN_ACT_SIGMOID, NN_ACT_TANH, NN_ACT_GELU } nn_act;
void nn_act_forward(nn_act a, size_t n, float *x);
/* Backward from the layer's input x and output y: din = dout * f'(x). */
void nn_act_backward(nn_act a, size_t n, const float *x, const float *y, const float *dout,
                     float *din);

/* Softmax or log-softmax over the last axis of [rows][n], in place. */
void nn_softmax_forward(size_t rows, size_t n, float *x, int log);
/* Backward from the outputs y; din overwritten. */
void nn_softmax_backward(size_t rows, size_t n, const float *y, const float *dout, float *din,
                         int log);

/* [B][r][c] -> [B][c][r]. */
void nn_transpose_forward(size_t B, size_t r, size_t c, const float *in, float *out);

/* Per-channel affine y = x * scale[ch] + shift[ch] (a folded BatchNorm). With
 * channels_last the layout is [rows][C], otherwise [B][C][L]. In place. */
void nn_affine_forward(size_t B, size_t C, size_t L, int channels_last, const float *scale,
                       const float *shift, float *x);

/* LayerNorm over the last axis of [rows][n] with weight and bias, in place. */
void nn_layernorm_forward(size_t rows, size_t n, const float *w, const float *b, float eps,
                          float *x);
/* Backward from the input x: dw, db accumulate; din (may be NULL) overwritten. */
void nn_layernorm_backward(size_t rows, size_t n, const float *x, const float *w, float eps,
                           const float *dout, float *din, float *dw, float *db);
/* BatchNorm1d backward with frozen running statistics (the inference affine;
 * PyTorch's eval mode) over x [B][C][L] (or [B*L][C] with channels_last): dw,
 * db accumulate, din (may be NULL) = dout scale. */
void nn_batchnorm_backward(size_t B, size_t C, size_t L, const float *x, const float *mean,
                           const float *var, const float *scale, float eps, const float *dout,
                           float *din, float *dw, float *db, int channels_last);
/* BatchNorm1d with batch statistics (PyTorch's train mode) over x [B][C][L]
 * (or [B*L][C] with channels_last): out = (x - mean) / sqrt(var + eps) w + b
 * with the per-channel mean and biased variance over batch and length; x and
 * out may be the same. Writes mean and 1/sqrt(var + eps) to stats [2C] for
 * the backward and, unless rmean is NULL, moves rmean/rvar [C] towards the
 * batch mean and *unbiased* variance by momentum. */
void nn_batchnorm_train_forward(size_t B, size_t C, size_t L, int channels_last, const float *w,
                                const float *b, float eps, float momentum, const float *x,
                                float *out, float *stats, float *rmean, float *rvar);
/* Its backward, through the batch mean and variance: dw, db accumulate, din
 * (may be NULL) overwritten. */
void nn_batchnorm_train_backward(size_t B, size_t C, size_t L, int channels_last, const float *x,
                                 const float *w, const float *stats, const float *dout, float *din,
                                 float *dw, float *db);

/* Inverted dropout (training) over n values: out = in / (1 - p) where kept,
 * 0 with probability p. The mask is a pure function of (key, element index)
 * (a counter-based hash, no state), so the backward recomputes it: din =
 * dout / (1 - p) where kept, else 0. in/out and dout/din may be the same. */
void nn_dropout_forward(size_t n, float p, uint64_t key, const float *in, float *out);
void nn_dropout_backward(size_t n, float p, uint64_t key, const float *dout, float *din);

/* Adds pe [T][D] to every record of x [B][T][D], in place. */
void nn_add_bcast_forward(size_t B, size_t TD, const float *pe, float *x);

/* ---- lstm.c: multi-layer (bidirectional) LSTM, PyTorch semantics -------------- */

/* Parameters of one layer and direction, PyTorch gate order i, f, g, o:
 * w_ih [4H][nin], w_hh [4H][H], bias [4H] = b_ih + b_hh (summed at load). */
typedef struct nn_lstm_dir {
    const float *w_ih, *w_hh, *bias;
} nn_lstm_dir;
typedef struct nn_lstm {
    size_t T, nin, H, layers, dirs; /* dirs: 1 or 2 */
} nn_lstm;
size_t nn_lstm_scratch(const nn_lstm *l, size_t B);
/* in [B][T][nin] -> out [B][T][dirs*H]; p[layer*dirs + dir]. */
void nn_lstm_forward(const nn_lstm *l, size_t B, const float *in, const nn_lstm_dir *p, float *out,
                     float *scratch);
/* Training: the forward keeps the layer inputs, gates and cell states in
 * cache (nn_lstm_train_cache floats); the backward through time accumulates
 * the gradients of every layer and direction (b_ih and b_hh get the same
 * gradient) and writes din [B][T][nin] unless NULL. */
typedef struct nn_lstm_grad {
    float *w_ih, *w_hh, *b_ih, *b_hh;
} nn_lstm_grad;
size_t nn_lstm_train_cache(const nn_lstm *l, size_t B);
size_t nn_lstm_backward_scratch(const nn_lstm *l, size_t B);
void nn_lstm_train_forward(const nn_lstm *l, size_t B, const float *in, const nn_lstm_dir *p,
                           float *out, float *cache);
void nn_lstm_backward(const nn_lstm *l, size_t B, float *cache, const nn_lstm_dir *p,
                      const nn_lstm_grad *g, const float *dout, float *din, float *scratch);

/* ---- attention.c: a tsai/TST transformer encoder layer ------------------------ */

typedef struct nn_encoder {
    size_t T, D, heads, dff;
    int layernorm; /* 0: BatchNorm over d_model (folded), 1: LayerNorm */
    int gelu;      /* 1: GELU in the feed-forward, 0: ReLU */
    float eps;
} nn_encoder;
/* Parameter pointers: wqkv [3D][D] (W_Q, W_K, W_V stacked), wo [D][D],
 * norm1/norm2 scale+shift (BatchNorm, folded) or weight+bias (LayerNorm),
 * ff1 [dff][D] + b, ff2 [D][dff] + b. */
typedef struct nn_encoder_params {
    const float *wqkv, *wo, *n1a, *n1b, *ff1w, *ff1b, *ff2w, *ff2b, *n2a, *n2b;
} nn_encoder_params;
size_t nn_encoder_scratch(const nn_encoder *c, size_t B);
/* x [B][T][D] in place. */
void nn_encoder_forward(const nn_encoder *c, size_t B, const nn_encoder_params *p, float *x,
                        float *scratch);
/* Training: the forward keeps the intermediates in cache
 * (nn_encoder_train_cache floats; scratch >= T x T) and writes out [B][T][D];
 * the backward accumulates the gradients g (wqkv is the stacked [3D][D]
 * block; n1w/n1b, n2w/n2b the norms' weight and bias) and writes din unless
 * NULL. With BatchNorm and bn NULL, the norms use the running statistics,
 * frozen (the folded p->n1a.. and st in the backward); with bn, the batch
 * statistics over B x T rows (PyTorch's train mode), the forward moving the
 * running statistics in bn, and the backward goes through the batch mean and
 * variance (st unused). */
typedef struct nn_encoder_grads {
    float *wqkv, *wo, *ff1w, *ff1b, *ff2w, *ff2b, *n1w, *n1b, *n2w, *n2b;
} nn_encoder_grads;
typedef struct nn_encoder_stats {
    const float *mean1, *var1, *mean2, *var2; /* BatchNorm only */
} nn_encoder_stats;
typedef struct nn_encoder_bn {
    const float *w1, *b1, *w2, *b2;         /* norm1, norm2 weight and bias */
    float *rmean1, *rvar1, *rmean2, *rvar2; /* running statistics, updated */
    float momentum;
} nn_encoder_bn;
size_t nn_encoder_train_cache(const nn_encoder *c, size_t B);
size_t nn_encoder_backward_scratch(const nn_encoder *c, size_t B);
void nn_encoder_train_forward(const nn_encoder *c, size_t B, const nn_encoder_params *p,
                              const nn_encoder_bn *bn, const float *x, float *out, float *cache,
                              float *scratch);
void nn_encoder_backward(const nn_encoder *c, size_t B, const nn_encoder_params *p,
                         const nn_encoder_stats *st, const nn_encoder_bn *bn,
                         const nn_encoder_grads *g, const float *x, float *cache, const float *dout,
                         float *din, float *scratch);

/* ---- shared element-wise helpers (layers.c) ---------------------------------- */
void nn_sigmoid_inplace(size_t n, float *x);
void nn_tanh_inplace(size_t n, float *x);

#endif
