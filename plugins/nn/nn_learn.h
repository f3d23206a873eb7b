/* nn_learn.h - the nn plugin's learnt standard events (standard_events: learn).
 *
 * Each channel starts with the bootstrap card (a shape-blind model). The
 * records it accepts with P(clean) >= min_score feed a per-channel
 * standard-event learner (lib/sev); when the learner has its pulses, the
 * thread that completed it fits the pulse shape outside the lock, renders it
 * at the trigger and preprocesses it like a record, and from then on the
 * channel's records go to the template-conditioned card with it. A failed fit
 * leaves the channel with the bootstrap; both outcomes are logged through the
 * host (cc_plugin_env.log). State lives in the plugin instance: a reload
 * learns again, unless the learnt shapes are kept in a file (`save`). Thread-safe: one mutex guards
 * the channel table; channels are separate heap objects, so a table that grows never moves a
 * channel a fitting thread holds.
 */
#ifndef NN_LEARN_H
#define NN_LEARN_H

#include "cc_nn.h"
#include "cc_plugin.h"
#include "cc_sev.h"

typedef struct nn_learn nn_learn;

/* A learner set for input length L, taking ownership of boot. save (may be
 * NULL): a detector preset that keeps the learnt standard events - read at
 * start if it exists (those channels start learnt), rewritten whenever a
 * channel is learnt. env->name names the classifier in log lines, card the
 * conditioned card. NULL with e on no memory or an unreadable save file
 * (boot is freed). */
nn_learn *nn_learn_new(cc_nn_model *boot, size_t L, const cc_sev_learn_opts *opts, double min_score,
                       const char *save, const cc_plugin_env *env, const char *card, cc_err *e);

/* Frees *l (learners, templates, the bootstrap model) and sets it to NULL. */
void nn_learn_free(nn_learn **l);

/* The bootstrap model (read-only). */
const cc_nn_model *nn_learn_boot(const nn_learn *l);

/* Splits batch b (preprocessed inputs b->x of length L) under one lock:
 * records of channels with a learnt standard event for their length go to
 * x2 (record, then standard event: 2 x L each) with their indices in
 * im[0..*nm); the others (registered as learning on first sight) to xb with
 * indices ib[0..*nb). Returns 0, or -1 when out of memory. */
int nn_learn_split(nn_learn *l, const cc_batch *b, float *x2, size_t *im, size_t *nm, float *xb,
                   size_t *ib, size_t *nb);

/* Offers records idx[0..n) of batch b, scored score[0..n) by the bootstrap,
 * to their channels' learners, and fits the channels this completes. */
void nn_learn_offer(nn_learn *l, const cc_batch *b, const size_t *idx, const float *score,
                    size_t n);

#endif
