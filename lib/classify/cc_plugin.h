/* cc_plugin.h - the classifier plugin ABI, version 1.
 *
 * A classifier plugin is a shared object in the daemon's configured plugin
 * directory, named <name>.so, that exports exactly one symbol:
 *
 *     const cc_classifier_ops *cryoclean_classifier_v1(void);
 *
 * The returned table must have abi == CC_PLUGIN_ABI and size >=
 * sizeof(cc_classifier_ops) of the ABI it was built against; the loader
 * refuses anything else with a message naming the file and both versions.
 *
 * Life cycle (the core owns every lifetime; a plugin never sees sockets,
 * threads or other plugins):
 *   create()    once per configured classifier, from its YAML `config:` block,
 *               on the main thread; fills cc_classifier_info.
 *   ws_new()    once per worker thread: scratch memory for batches of up to
 *               max_batch records, so classify() never allocates.
 *   classify()  from any worker thread concurrently, each with its own
 *               workspace; the instance is shared, so whatever a plugin
 *               changes in it after create() it guards itself (the nn
 *               plugin's learnt standard events: one mutex).
 *   ws_free(), destroy()  when the configuration is replaced or at exit.
 *
 * Scores are P(clean) in [0, 1]; the core compares them with the channel's
 * cutoff (score >= cutoff accepts). Adding fields at the end of the structs
 * below keeps ABI 1; anything else bumps CC_PLUGIN_ABI.
 */
#ifndef CC_PLUGIN_H
#define CC_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "cc_err.h"
#include "cc_yaml.h"

#define CC_PLUGIN_ABI    1
#define CC_PLUGIN_SYMBOL "cryoclean_classifier_v1"

/* What an instance tells the core after create(). */
typedef struct cc_classifier_info {
    size_t input_len;     /* preprocessed length the model wants; 0 = raw volts only */
    float default_cutoff; /* used when the channel config gives none */
    char model[24];       /* model name reported in decisions (NUL-terminated) */
} cc_classifier_info;

/* Per-record facts from the header, for classifiers that need them. */
typedef struct cc_record_meta {
    uint32_t channel;
    uint16_t module;
    uint32_t n_samples;
    uint32_t trigger_index;
    float sample_rate_hz;
} cc_record_meta;

/* A batch handed to classify(). */
typedef struct cc_batch {
    size_t n;                   /* records in the batch (1..max_batch) */
    const cc_record_meta *meta; /* [n] */
    const float *const *raw;    /* [n] raw samples in volts, meta[i].n_samples each */
    const float *x;             /* [n * input_len] preprocessed (block mean + min-max);
                                   NULL when input_len == 0 */
    size_t input_len;
} cc_batch;

/* Where a plugin reads relative file names from (model cards etc.), and
 * where it reports what the operator should know. */
typedef struct cc_plugin_env {
    const char *config_dir; /* directory of the configuration file */
    const char *name;       /* the classifier's configured name, for messages */
    /* Logs one line at a syslog level (LOG_INFO, LOG_WARNING, ...) through the
     * host (the daemon's log, a tool's stderr); thread-safe, may be called from
     * classify(). Valid for the instance's lifetime; copy it in create(). */
    void (*log)(void *ctx, int level, const char *msg);
    void *log_ctx;
} cc_plugin_env;

typedef struct cc_classifier_ops {
    uint32_t abi;  /* CC_PLUGIN_ABI */
    uint32_t size; /* sizeof(cc_classifier_ops) */
    const char *name;
    const char *version;

    /* Creates an instance from conf (a YAML mapping, or NULL when absent).
     * Returns 0 and sets *inst and *info, or -1 with a positioned error. */
    int (*create)(const cc_ynode *conf, const cc_plugin_env *env, void **inst,
                  cc_classifier_info *info, cc_err *e);

    /* Scratch memory for one worker thread and batches up to max_batch; NULL on failure. */
    void *(*ws_new)(void *inst, size_t max_batch);

    /* Writes scores[i] = P(clean) for each record of b. Returns 0, or -1 with e
     * (the whole batch is then answered "classifier_error"). A record the
     * plugin cannot score while the others are fine gets NaN (answered
     * "classifier_error" alone); the plugin then leaves a note in e, which the
     * core logs (rate-limited) although classify() returned 0. */
    int (*classify)(void *inst, void *ws, const cc_batch *b, float *scores, cc_err *e);

    void (*ws_free)(void *inst, void *ws);
    void (*destroy)(void *inst);
} cc_classifier_ops;

typedef const cc_classifier_ops *(*cc_classifier_entry_fn)(void);

#endif
