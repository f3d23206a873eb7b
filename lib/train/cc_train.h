/* cc_train.h - training a model card on labelled records: the paper's recipe.
 *
 * A training run is described by one YAML file (docs/TRAINING.md lists
 * every key and its default) and produces a model card + safetensors weights
 * that lib/nn loads like any exported model. The recipe defaults are the
 * CRESST data-cleaning paper's (domain notes section 9):
 *
 *  - data: labelled records from Cait-layout HDF5 files (lib/io; simulated by
 *    `cryoclean sim` or real), every channel, labels = Cait class numbers
 *    mapped to clean/artefact (cc_sim_class_accept; unknown and 0 skipped),
 *    preprocessed once at load exactly as the daemon does (lib/prep: block
 *    means to the card's input length, min-max). The validation set is a
 *    separate list of files, so the split is by file/detector, never by
 *    record (a file listed in both is refused).
 *  - augmentation on draw: artificial pile-up with p = 0.2 (an event or test
 *    pulse record plus a copy of itself shifted by U(1, 3L/4) bins, relabelled
 *    artefact), Gaussian noise with p = 0.2 (sigma U(0.01, 0.1) of the
 *    record's range), a random shift of up to 26 bins either way (edge
 *    values repeated) always; records changed by pile-up or noise are
 *    min-max scaled again.
 *  - loss: the card's output map (cc_nn_loss: BCE on a sigmoid logit, NLL on
 *    a log_softmax head) with class weights that make both classes weigh the
 *    same over the training set (counted after the expected pile-up relabels).
 *  - Adam (PyTorch's update, no weight decay) with the per-model learning
 *    rate of the paper: 1e-5 for a network with an encoder, 1e-4 with an
 *    LSTM, 5e-5 for a CNN of more than 3 convolutions (TSCN), else 5e-4.
 *  - PyTorch's train() mode: BatchNorm on batch statistics, updating its
 *    running statistics (batchnorm: frozen keeps them), and inverted dropout
 *    with masks keyed by (seed, step, layer, element) (dropout: false turns
 *    it off); validation and the output use the running statistics.
 *  - mini-batches of 64; weak shuffling (each batch from one file, the order
 *    of the batches random); validation after every epoch; the weights of the
 *    epoch with the best validation balanced accuracy are kept.
 *
 * Determinism: every random draw comes from splitmix64 streams keyed by the
 * seed, the epoch and the batch index, so a run is reproducible for a seed
 * and a resumed run continues exactly as an uninterrupted one would (on the
 * same machine and OpenBLAS build).
 *
 * Checkpoints: after every epoch the parameters, the best parameters, Adam's
 * moments and the history are written to one safetensors file (atomically,
 * via a temporary file and rename); cc_train_run with resume set continues
 * after the last completed epoch.
 *
 * No globals; a cc_train owns all its memory. Not thread-safe.
 */
#ifndef CC_TRAIN_H
#define CC_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "cc_err.h"
#include "cc_nn.h"

#define CC_TRAIN_MAX_FILES 256

/* Every knob of a run (cc_train_config_load fills the defaults first). */
typedef struct cc_train_config {
    char model[1024];  /* architecture card (its weights are replaced unless init: card) */
    char output[1024]; /* card to write; weights go beside it as .safetensors */
    char checkpoint[1024];
    char name[24], description[256];
    char *train_files[CC_TRAIN_MAX_FILES], *val_files[CC_TRAIN_MAX_FILES];
    size_t n_train, n_val;
    char group[64];        /* HDF5 group, default "events" */
    uint64_t max_per_file; /* records per file, 0 = all */
    int init_from_card;    /* 1: start from the card's weights; 0: reinit with seed */
    uint64_t seed;
    uint32_t epochs, batch;
    double lr; /* 0 = the paper's rate for the architecture */
    double beta1, beta2, eps;
    int cosine;       /* learning-rate schedule: 1 cosine decay to lr_min, 0 constant */
    double lr_min;    /* the cosine schedule's floor (PyTorch's eta_min), default 0 */
    double ema;       /* decay of an exponential moving average of the weights that is
                         validated and kept instead of the raw ones; 0 = off */
    int balance;      /* class-balanced loss weights */
    int weak_shuffle; /* 1: batches from one file; 0: records from all files */
    int bn_frozen;    /* batchnorm: frozen (1) or batch (0, PyTorch's train mode) */
    int dropout;      /* dropout: true (1, inverted dropout) or false (identity) */
    double pileup_p, noise_p, noise_lo, noise_hi;
    double pileup_ratio_lo, pileup_ratio_hi; /* the copy's scale, U(lo, hi); paper: 1 */
    double pileup_near;     /* P(onset difference log-uniform, not uniform); paper: 0 */
    uint32_t pileup_dt_min; /* smallest onset difference in input bins; paper: 1 */
    uint32_t shift_max;
    double tpl_stretch_lo, tpl_stretch_hi; /* template-conditioned cards: the standard event
                                              stretched in time by a factor log-uniform in
                                              [lo, hi] around the trigger; default 1, 1 (off) */
    char source_dir[1024];                 /* directory of the config (relative paths) */
} cc_train_config;

/* Defaults (the paper's recipe; no model or data). */
void cc_train_config_default(cc_train_config *c);

/* Loads a training config (top-level key `train`); paths relative to the
 * file's directory, data files relative to data.dir (itself relative to the
 * file; default the file's directory) or to data_dir when non-NULL (the
 * command line's --data-dir). Unknown keys are errors with file:line:col. */
int cc_train_config_load(const char *path, const char *data_dir, cc_train_config *c, cc_err *e);

/* Frees the file lists. */
void cc_train_config_release(cc_train_config *c);

/* What a progress callback sees (called about once per second and at the
 * end of each epoch with validation metrics filled in). */
typedef struct cc_train_status {
    uint32_t epoch, epochs;  /* 1-based */
    uint64_t step, steps;    /* within the epoch */
    double loss;             /* running mean of the epoch's training loss */
    double rec_per_s, eta_s; /* over the whole run so far / remaining */
    int end_of_epoch;        /* 1: validation below is filled */
    double val_loss, val_ba, val_recall, val_selectivity, val_precision;
    int best; /* this epoch is the best so far */
} cc_train_status;

typedef void (*cc_train_progress_fn)(void *ctx, const cc_train_status *s);

/* The result of a run. */
typedef struct cc_train_result {
    uint32_t best_epoch, epochs_run;
    double best_ba, best_recall, best_selectivity, best_precision;
    size_t n_train, n_val; /* records */
    double seconds;        /* wall time of this invocation's training */
    double w_clean, w_artefact;
} cc_train_result;

/* One Adam step with PyTorch's update (no weight decay, no amsgrad) over the
 * model's loaded (non-derived) tensors: am, av [cc_nn_buf_len] are the first
 * and second moments, t the 1-based step number. Then the derived tensors
 * are recomputed. */
void cc_train_adam_step(cc_nn_model *m, const float *grad, float *am, float *av, uint64_t t,
                        double lr, double beta1, double beta2, double eps);

/* The learning rate of the 1-based Adam step `step` of a run of `steps`
 * steps with base rate lr: lr itself for the constant schedule; for cosine,
 * lr_min + (lr - lr_min) (1 + cos(pi (step - 1) / steps)) / 2 (PyTorch's
 * CosineAnnealingLR with T_max = steps, stepped once per batch). */
double cc_train_lr(const cc_train_config *c, double lr, uint64_t step, uint64_t steps);

/* One step of the weight average: avg = d avg + (1 - d) p over n values with
 * d = min(decay, (1 + t) / (10 + t)) at the 1-based step t (the short
 * warm-up lets the average leave the initial weights quickly). */
void cc_train_ema_update(float *avg, const float *p, size_t n, double decay, uint64_t t);

/* Runs the training described by c: loads the data, trains, writes the
 * checkpoint every epoch and finally the card (+ weights) at c->output with
 * provenance (data, date, epochs, seed, `command`) and the validation
 * metrics, and the self-test outputs computed by this engine; then loads the
 * written card as a check. resume: continue from c->checkpoint. 0 or -1. */
int cc_train_run(const cc_train_config *c, const char *command, int resume,
                 cc_train_progress_fn progress, void *ctx, cc_train_result *res, cc_err *e);

#endif
