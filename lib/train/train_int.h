/* train_int.h - internals of lib/train shared by its files.
 *
 * data.c: the record sets (every labelled record of a list of HDF5 files,
 * preprocessed once) and the augmentations applied on draw; the random
 * streams. trainer.c: the loop, Adam, checkpoints and the output card.
 */
#ifndef TRAIN_INT_H
#define TRAIN_INT_H

#include "cc_train.h"

/* One file's records: x [n][ch * len] preprocessed (with ch = 2 each record
 * is followed by its channel's preprocessed standard event), label 1 clean /
 * 0 artefact, cls the Cait class number. */
typedef struct tr_file {
    char *path;
    size_t n, n_clean, n_skipped;
    float *x;
    uint8_t *label, *cls;
} tr_file;

typedef struct tr_set {
    tr_file *f;
    size_t nf, n;
} tr_set;

/* Loads every labelled record of the files (group, all channels), at most
 * max per file (0 = all), preprocessed to len; with ch = 2 each record gets
 * its channel's standard event (/stdevent/event, required) as channel 2. */
int tr_set_load(tr_set *s, char *const *paths, size_t n, const char *group, size_t len, size_t ch,
                uint64_t max, cc_err *e);
void tr_set_free(tr_set *s);

/* splitmix64 stream. */
typedef struct tr_rng {
    uint64_t s;
} tr_rng;
uint64_t tr_next(tr_rng *r);
double tr_uniform(tr_rng *r);         /* [0, 1) */
double tr_gauss(tr_rng *r);           /* N(0, 1), Box-Muller */
size_t tr_below(tr_rng *r, size_t n); /* uniform in [0, n) */
tr_rng tr_stream(uint64_t seed, uint64_t a, uint64_t b);

/* The augmentations of one drawn record (cc_train.h): x [len] -> out [len],
 * *out_label the label after a pile-up relabel. */
void tr_augment(const cc_train_config *c, tr_rng *r, const float *x, uint8_t label, uint8_t cls,
                size_t len, float *out, uint8_t *out_label);

/* The standard event tpl[len] stretched in time by factor f around the
 * trigger bin len/4 (linear interpolation, ends held), min-max scaled, into
 * out[len]: a template f times slower (f > 1) or faster. */
void tr_stretch_template(const float *tpl, size_t len, double f, float *out);

/* 1 if the pile-up augmentation applies to records of this class (event and
 * test pulses: a record with one pulse). */
int tr_pileup_class(uint8_t cls);

#endif
