/* cc_nn.h - the neural-network engine: model cards, safetensors weights,
 * batched CPU inference on OpenBLAS.
 *
 * A model is a YAML *model card* (architecture as a layer list with shapes,
 * input length and preprocessing, how the outputs map to P(clean), default
 * cutoff, provenance and a self-test) plus its weights: a safetensors file, or
 * a documented seeded initialisation for architecture-only cards. docs/NN.md
 * describes the card format.
 *
 * Design:
 *  - All parameters of a model live in one flat float buffer; every tensor
 *    has a name, a shape and an offset into it (llm.c style), so a training
 *    pass can later keep a gradient buffer with the same offsets.
 *  - Layers run over a whole batch at once (records are rows of a
 *    [batch][channels][length] array, PyTorch's NCL layout), so the heavy work
 *    is a few large cblas_sgemm calls per layer.
 *  - A model is read-only after cc_nn_load() and may be shared by any number
 *    of threads. Each thread owns a cc_nn_ws workspace sized for a maximum
 *    batch once; cc_nn_forward() never allocates.
 *  - Every load runs the card's self-test (the reference framework's outputs
 *    for a few inputs); a mismatch fails the load, so a corrupt or mis-mapped
 *    model is refused at load, not discovered in production.
 *
 * The safetensors reader is strict: it refuses headers over 100 MB, gaps or
 * overlaps between tensors, sizes that do not match shape x dtype, data that
 * does not cover the file exactly and unknown dtypes, naming the file, the
 * tensor and the problem.
 */
#ifndef CC_NN_H
#define CC_NN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cc_err.h"

/* ---- safetensors ---------------------------------------------------------- */

#define CC_ST_MAX_HEADER (100u * 1000u * 1000u)
#define CC_ST_MAX_DIMS   8

typedef enum { CC_ST_F32 = 1, CC_ST_F64, CC_ST_F16, CC_ST_BF16 } cc_st_dtype;

typedef struct cc_st_tensor {
    char *name;
    cc_st_dtype dtype;
    size_t ndim;
    uint64_t shape[CC_ST_MAX_DIMS];
    uint64_t numel;
    const unsigned char *data; /* into the file's bytes; little-endian, row-major */
    size_t nbytes;
} cc_st_tensor;

typedef struct cc_st_file {
    char *name;           /* path or label used in messages */
    unsigned char *bytes; /* the whole file (owned) */
    size_t size;
    cc_st_tensor *tensors; /* sorted by data offset */
    size_t n;
    char **meta_keys, **meta_vals; /* __metadata__ (string -> string) */
    size_t n_meta;
} cc_st_file;

/* Reads and validates the safetensors file at path. NULL with e naming the
 * file (and the tensor) on any problem. Free with cc_st_free(). */
cc_st_file *cc_st_open(const char *path, cc_err *e);

/* Validates len bytes of safetensors data (copied); name is used in messages. */
cc_st_file *cc_st_parse(const char *name, const void *buf, size_t len, cc_err *e);

/* Frees f and sets *f to NULL. */
void cc_st_free(cc_st_file **f);

/* The tensor called name, or NULL. */
const cc_st_tensor *cc_st_find(const cc_st_file *f, const char *name);

/* Converts tensor t to float32 into out[t->numel]. */
void cc_st_to_f32(const cc_st_tensor *t, float *out);

/* Dtype name as written in the header ("F32", ...). */
const char *cc_st_dtype_name(cc_st_dtype d);

/* Writes n F32 tensors (names[i], ndims[i], shapes[i], data[i]) to path, with
 * optional metadata pairs (meta[2k] = key, meta[2k+1] = value, NULL-ended).
 * 0 or -1 with e. Used by tests and tools. */
int cc_st_write(const char *path, size_t n, const char *const *names, const size_t *ndims,
                const uint64_t *const *shapes, const float *const *data, const char *const *meta,
                cc_err *e);

/* ---- models --------------------------------------------------------------- */

typedef struct cc_nn_model cc_nn_model;
typedef struct cc_nn_ws cc_nn_ws;

/* One named parameter tensor of a loaded model. */
typedef struct cc_nn_param {
    char name[96];
    size_t ndim;
    size_t shape[4];
    size_t offset, numel; /* into the flat parameter buffer */
} cc_nn_param;

/* Loads the model card at path and its weights (relative to the card's
 * directory), checks every tensor's shape against the architecture and runs
 * the self-test. NULL with e on any error ("model card x.yaml:12:5: ...",
 * "x.safetensors: tensor 'fc1.weight': shape [200, 60], expected [200, 70]",
 * "x.yaml: self-test failed: ..."). */
cc_nn_model *cc_nn_load(const char *card_path, cc_err *e);

/* Frees the model and sets *m to NULL. */
void cc_nn_free(cc_nn_model **m);

/* Accessors: card name, input length (samples per input channel), input
 * channels (1: the preprocessed record; 2: the record, then its channel's
 * preprocessed standard event - docs/NN.md), number of raw network outputs,
 * default cutoff, parameter count, self-test max abs error and count of
 * test inputs. A record's network input is channels * input_len values. */
const char *cc_nn_name(const cc_nn_model *m);
size_t cc_nn_input_len(const cc_nn_model *m);
size_t cc_nn_input_channels(const cc_nn_model *m);
size_t cc_nn_n_outputs(const cc_nn_model *m);
float cc_nn_cutoff(const cc_nn_model *m);
size_t cc_nn_n_params(const cc_nn_model *m);
double cc_nn_selftest_error(const cc_nn_model *m, size_t *n_inputs);

/* The flat parameter buffer (read-only) and the number of tensors in it. */
const float *cc_nn_params(const cc_nn_model *m, size_t *n_tensors);

/* Tensor i (< n_tensors) of the buffer; *derived (if non-NULL) is set to 1
 * for tensors computed at load (folded BatchNorm etc.), not read from weights. */
const cc_nn_param *cc_nn_param_at(const cc_nn_model *m, size_t i, int *derived);

/* Prints the layer list with output shapes and parameter counts to f. */
void cc_nn_describe(const cc_nn_model *m, FILE *f);

/* Approximate floating-point operations per record of one forward pass. */
double cc_nn_flops(const cc_nn_model *m);

/* Allocates a workspace for batches of up to max_batch records; NULL on
 * allocation failure. One per thread. */
cc_nn_ws *cc_nn_ws_new(const cc_nn_model *m, size_t max_batch);

/* Frees the workspace and sets *w to NULL. */
void cc_nn_ws_free(cc_nn_ws **w);

/* Runs the network on n records x[n * channels * input_len] (preprocessed) and writes
 * the raw outputs out[n * n_outputs]. n <= the workspace's max_batch, else -1
 * with e. Never allocates. */
int cc_nn_forward(const cc_nn_model *m, cc_nn_ws *w, const float *x, size_t n, float *out,
                  cc_err *e);

/* Like cc_nn_forward() but maps the outputs to P(clean) in [0, 1] as the card
 * says (sigmoid / softmax / exp of a log-probability / identity). */
int cc_nn_score(const cc_nn_model *m, cc_nn_ws *w, const float *x, size_t n, float *p_clean,
                cc_err *e);

/* The self-test input generator (documented in docs/NN.md, mirrored in
 * tools/export_torch.py): record index of seed, len values, min-max scaled. */
void cc_nn_test_input(uint64_t seed, size_t index, float *x, size_t len);

/* The seeded weight generator: value i of the stream for tensor name under
 * seed, uniform in [lo, hi). Mirrored in tools/export_torch.py. */
float cc_nn_init_value(uint64_t seed, const char *name, uint64_t i, double lo, double hi);

/* ---- training (train.c) ------------------------------------------------------
 * llm.c style: the gradients live in one flat buffer with the parameters'
 * offsets (cc_nn_buf_len floats; tensor i's gradient is at
 * cc_nn_param_at(m, i)->offset). A cc_nn_tws keeps every layer's output of a
 * training forward (and the LSTM's gates and cell states, the encoder's
 * intermediates, BatchNorm's batch statistics) for the backward pass. Every
 * layer type has a backward pass.
 *
 * By default training follows PyTorch's train() mode:
 *  - BatchNorm1d (also inside the encoder) normalises with the batch
 *    statistics (mean and biased variance per channel over batch and
 *    length), the backward goes through them, and the forward moves
 *    running_mean / running_var in the model's buffer by momentum 0.1
 *    towards the batch mean and the *unbiased* batch variance. They get a
 *    zero gradient (Adam leaves them alone); inference keeps using them
 *    (eval mode) once cc_nn_params_changed() has refolded them (the Adam step
 *    does). A batch with one value per channel is refused, as in PyTorch.
 *  - dropout is inverted dropout with the layer's p; the mask is a pure
 *    function of (seed, step, layer index, element index in the batch), so a
 *    run is deterministic for a seed and a resumed run equals an
 *    uninterrupted one; the backward applies the same mask. PyTorch's masks
 *    differ (another generator), the distribution is the same.
 * CC_NN_BN_FROZEN keeps the running statistics fixed (eval-mode BatchNorm:
 * its weight and bias train on the folded affine; for fine-tuning on small
 * batches); dropout = 0 makes dropout the identity. */

typedef struct cc_nn_tws cc_nn_tws;

typedef enum { CC_NN_BN_BATCH = 0, CC_NN_BN_FROZEN = 1 } cc_nn_bn_mode;

/* Options of training passes (cc_nn_tws_set_opts). A new workspace has
 * {CC_NN_BN_BATCH, dropout 1, seed 0, step 0}. */
typedef struct cc_nn_train_opts {
    cc_nn_bn_mode batchnorm;
    int dropout;   /* 1: inverted dropout with each layer's p; 0: the identity */
    uint64_t seed; /* dropout masks are keyed by (seed, step, layer, element) */
    uint64_t step; /* the training step (set it before each forward) */
} cc_nn_train_opts;

/* A training workspace for batches of up to max_batch records; NULL with e on
 * allocation failure. */
cc_nn_tws *cc_nn_tws_new(const cc_nn_model *m, size_t max_batch, cc_err *e);

/* Sets the options of the following forward / backward passes (a backward
 * must see the options of its forward). */
void cc_nn_tws_set_opts(cc_nn_tws *w, const cc_nn_train_opts *o);

/* Frees the workspace and sets *w to NULL. */
void cc_nn_tws_free(cc_nn_tws **w);

/* Training forward of n records x[n * input_len]: keeps every activation in w
 * and returns the raw outputs [n * n_outputs] (inside w, valid until the next
 * call), or NULL with e. With batch-statistics BatchNorm it updates the
 * running statistics in m's buffer (not the folded inference tensors: call
 * cc_nn_params_changed() before inference). */
const float *cc_nn_train_forward(cc_nn_model *m, cc_nn_tws *w, const float *x, size_t n, cc_err *e);

/* The training loss of the last forward's outputs out[n * n_outputs] against
 * label[n] (1 clean, 0 artefact), each record weighted by w_clean or
 * w_artefact: mean over records of weight x loss, where the loss follows the
 * card's output map - sigmoid: binary cross entropy on the logit
 * out[index]; exp (log_softmax head): NLL of the target class (index for
 * clean, the other of two for an artefact); softmax / identity: -log of the
 * target's probability (or BCE on the single probability). Writes dL/dout to
 * dout[n * n_outputs]. Returns the loss, or NaN with e for an unsupported head. */
double cc_nn_loss(const cc_nn_model *m, const float *out, const uint8_t *label, size_t n,
                  double w_clean, double w_artefact, float *dout, cc_err *e);

/* Backward of the last cc_nn_train_forward() from dout [n * n_outputs]:
 * accumulates dL/dparam into grad[cc_nn_buf_len] (zero it per step
 * yourself) and writes dL/dx to dx[n * input_len] unless dx is NULL. */
int cc_nn_backward(const cc_nn_model *m, cc_nn_tws *w, const float *dout, float *grad, float *dx,
                   cc_err *e);

/* Length of the flat parameter buffer (loaded + derived tensors), floats. */
size_t cc_nn_buf_len(const cc_nn_model *m);

/* The parameter buffer for writing (an optimiser step); call
 * cc_nn_params_changed() afterwards. A model being trained must not be shared
 * with other threads. */
float *cc_nn_params_mut(cc_nn_model *m);
void cc_nn_params_changed(cc_nn_model *m);

/* Refills every loaded tensor from the documented seeded generator (a fresh
 * initialisation for training, docs/NN.md). */
void cc_nn_reinit(cc_nn_model *m, uint64_t seed);

/* Writes the loaded (non-derived) tensors to a safetensors file with
 * metadata pairs (NULL-ended, may be NULL). 0 or -1 with e. */
int cc_nn_save_weights(const cc_nn_model *m, const char *path, const char *const *meta, cc_err *e);

#endif
