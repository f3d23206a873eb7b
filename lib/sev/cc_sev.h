/* cc_sev.h - standard events: the pulses of clean records, aligned and
 * averaged into a channel's typical pulse, and the simulator's pulse model
 * fitted to it.
 *
 * cc_sev_find_pulse() is the per-record step `cryoclean sev` (offline, over
 * a recorded file) and the learner below (online, record by record) share.
 * The learner turns a stream of records that a classifier accepted into a
 * fitted pulse shape in bounded memory:
 *   1. the first `pulses` / 2 pulses (SNR and position cuts) are averaged,
 *      each shifted so that its 50 % rise crossing sits where the first
 *      one's did, and divided by its height: a first standard event;
 *   2. each further pulse's RMS deviation from it, in units of the pulse's
 *      baseline noise (about 1 for a clean pulse of that shape, more for
 *      pile-up, tails and saturated tops a classifier let through), decides
 *      which of a few cumulative averages (deviation <= 1.5, 2, 3, 5, any)
 *      it joins;
 *   3. after `pulses` / 2 more, the tightest average that holds at least
 *      70 % of them is the standard event, and cc_sim_shape_fit() gives its
 *      shape.
 * No globals; one learner per channel; not thread-safe by itself.
 */
#ifndef CC_SEV_H
#define CC_SEV_H

#include <stddef.h>
#include <stdint.h>

#include "cc_err.h"
#include "cc_sim.h"

/* Width of the moving average that finds a pulse's maximum (samples). */
#define CC_SEV_SMOOTH 16

/* What cc_sev_find_pulse() measures in a record. */
typedef struct cc_sev_pulse {
    double base;    /* mean of the first n/8 samples */
    double sd;      /* their standard deviation */
    double ph;      /* height of the moving average's maximum above base */
    uint32_t peak;  /* index of that maximum */
    uint32_t cross; /* first index of the rise at or above 50 % of ph */
} cc_sev_pulse;

/* Measures x[0..n) (n >= 4 * CC_SEV_SMOOTH) into *p, using ma[0..n) as
 * scratch (ma[i] = the centred moving average where defined). Returns 1 when
 * x holds a usable pulse: ph / sd >= min_snr and the maximum after trig and
 * before n/2; else 0. */
int cc_sev_find_pulse(const float *x, uint32_t n, uint32_t trig, double min_snr, double *ma,
                      cc_sev_pulse *p);

/* A standard event as a network input: shape sh rendered with peak 1 and
 * its onset at sample trig over n samples at fs_hz (cc_sim_shape_render),
 * then preprocessed like a record (lib/prep: block means to len, min-max)
 * into out[len]. Returns 0, or -1 when out of memory or n < len. */
int cc_sev_input(const cc_sim_shape *sh, double fs_hz, uint32_t trig, uint32_t n, float *out,
                 size_t len);

/* Settings of a learner. */
typedef struct cc_sev_learn_opts {
    uint32_t pulses; /* pulses in all (half for the first average), >= 10; default 200 */
    double min_snr;  /* pulse height / baseline RMS, default 20 */
} cc_sev_learn_opts;

typedef struct cc_sev_learner cc_sev_learner;

/* A learner for records of n samples (n >= 64) at fs_hz, trigger at trig;
 * opts NULL = defaults. NULL with e on bad arguments or no memory. */
cc_sev_learner *cc_sev_learner_new(uint32_t n, double fs_hz, uint32_t trig,
                                   const cc_sev_learn_opts *opts, cc_err *e);

/* Offers a record the classifier accepted. Returns 1 when it was used as a
 * pulse, 0 when not (no pulse passing the cuts, or already complete). */
int cc_sev_learner_add(cc_sev_learner *l, const float *x);

/* 1 once the learner has all its pulses (cc_sev_learner_fit() may run). */
int cc_sev_learner_complete(const cc_sev_learner *l);

/* Pulses used so far (both stages). */
uint32_t cc_sev_learner_count(const cc_sev_learner *l);

/* Fits the simulator's pulse model to the standard event of a complete
 * learner: *shape, and res (may be NULL) as cc_sim_shape_fit() reports it.
 * -1 with e when incomplete or when the fit fails. */
int cc_sev_learner_fit(const cc_sev_learner *l, cc_sim_shape *shape, cc_sim_shape_fitres *res,
                       cc_err *e);

/* Frees *l and sets it to NULL (NULL-safe). */
void cc_sev_learner_free(cc_sev_learner **l);

#endif
