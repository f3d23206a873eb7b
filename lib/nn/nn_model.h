/* nn_model.h - the model structure shared by card.c and model.c (internal).
 *
 * card.c turns the YAML layer list into nn_layer entries (with per-record
 * shapes checked layer by layer) and declares every parameter tensor the
 * architecture needs; model.c fills the flat buffer (from safetensors or the
 * seeded generator), computes derived tensors, runs batches and the self-test.
 */
#ifndef NN_MODEL_H
#define NN_MODEL_H

#include "cc_nn.h"
#include "cc_yaml.h"
#include "nn_layers.h"

typedef enum {
    NN_L_CONV1D,
    NN_L_MAXPOOL1D,
    NN_L_AVGPOOL1D,
    NN_L_LINEAR,
    NN_L_ACT,
    NN_L_SOFTMAX,
    NN_L_LOGSOFTMAX,
    NN_L_FLATTEN,
    NN_L_RESHAPE,
    NN_L_TRANSPOSE,
    NN_L_DROPOUT,
    NN_L_LSTM,
    NN_L_POSENC,
    NN_L_ENCODER,
    NN_L_BATCHNORM,
    NN_L_LAYERNORM,
} nn_kind;

typedef enum { NN_OUT_SIGMOID, NN_OUT_SOFTMAX, NN_OUT_EXP, NN_OUT_IDENTITY } nn_outmap;

typedef struct nn_layer {
    nn_kind kind;
    const char *type;                /* as written in the card */
    char name[64];                   /* tensor name prefix */
    size_t in_r, in_c, out_r, out_c; /* per-record shapes [rows][cols] */
    union {
        nn_conv1d conv;
        nn_pool1d pool;
        struct {
            size_t nin, nout;
            int bias;
        } lin;
        nn_act act;
        nn_lstm lstm;
        nn_encoder enc;
        struct {
            int learned;
        } pe;
        struct {
            float eps;
        } norm;
        struct {
            float p; /* dropout probability (training only) */
        } drop;
    } u;
    size_t p0, np; /* tensors [p0, p0 + np) of the model's table */
    int in_place;  /* transforms its input buffer in place */
    double flops;  /* per record */
} nn_layer;

/* A tensor of the flat buffer: loaded (from the file or the seeded
 * generator, range [lo, hi)) or derived from loaded ones at load time. */
typedef struct nn_tensor {
    cc_nn_param p;
    double lo, hi;
    int derived;
} nn_tensor;

struct cc_nn_model {
    char name[24];
    char *card_path, *weights_desc;
    size_t input_len, n_out; /* input_len: samples per input channel */
    size_t input_ch;         /* 1: the record; 2: the record and its channel's standard event */
    float cutoff;
    nn_outmap outmap;
    size_t out_index;
    nn_layer *layers;
    size_t n_layers;
    nn_tensor *tensors;
    size_t n_tensors, cap_tensors;
    float *buf; /* flat parameters, then derived tensors */
    size_t buf_len, n_params;
    size_t max_act; /* largest per-record activation, floats */
    double st_err;  /* self-test max abs error */
    size_t st_n;
};

/* Parses the card's layer list (seq) into m->layers and declares tensors. */
int nn_card_layers(cc_nn_model *m, const cc_ynode *seq, cc_err *e);

/* Pointer to tensor j of layer l in the flat buffer. */
static inline float *nn_tensor_ptr(const cc_nn_model *m, const nn_layer *l, size_t j)
{
    return m->buf + m->tensors[l->p0 + j].p.offset;
}

/* Recomputes the derived tensors (folded BatchNorm, summed LSTM biases,
 * sinusoidal tables) from the loaded ones; after load and after a training
 * step changed the parameters. */
void nn_compute_derived(cc_nn_model *m);

/* The plain forward of one layer over a batch of B (no fusion): out gets
 * the layer's output (in is copied first for in-place layers). train.c
 * keeps every layer's output this way. */
void nn_layer_forward(const cc_nn_model *m, const nn_layer *l, size_t B, const float *in,
                      float *out, float *scratch);

/* The per-(layer, direction) parameter pointers of an LSTM layer l into
 * p[layers * dirs] (tensors 5k..5k+4: w_ih, w_hh, b_ih, b_hh, summed bias). */
static inline void nn_lstm_params(const cc_nn_model *m, const nn_layer *l, nn_lstm_dir *p)
{
    for (size_t k = 0; k < l->u.lstm.layers * l->u.lstm.dirs; k++)
        p[k] = (nn_lstm_dir){nn_tensor_ptr(m, l, 5 * k), nn_tensor_ptr(m, l, 5 * k + 1),
                             nn_tensor_ptr(m, l, 5 * k + 4)};
}

/* The parameter pointers of an encoder layer l (tensors: 0-2 W_Q, W_K, W_V
 * stacked, 3 W_O, 4-7 feed-forward; LayerNorm 8-11 weight/bias x 2;
 * BatchNorm 8-13 and 14-19: weight, bias, mean, var, folded scale, shift). */
static inline nn_encoder_params nn_encoder_params_of(const cc_nn_model *m, const nn_layer *l)
{
    int ln = l->u.enc.layernorm;
    return (nn_encoder_params){
        nn_tensor_ptr(m, l, 0),           nn_tensor_ptr(m, l, 3), nn_tensor_ptr(m, l, ln ? 8 : 12),
        nn_tensor_ptr(m, l, ln ? 9 : 13), nn_tensor_ptr(m, l, 4), nn_tensor_ptr(m, l, 5),
        nn_tensor_ptr(m, l, 6),           nn_tensor_ptr(m, l, 7), nn_tensor_ptr(m, l, ln ? 10 : 18),
        nn_tensor_ptr(m, l, ln ? 11 : 19)};
}

/* Scratch floats layer l needs for a batch of B. */
size_t nn_layer_scratch(const nn_layer *l, size_t B);

#endif
