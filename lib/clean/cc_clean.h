/* cc_clean.h - offline cleaning of recorded files: classify records in
 * batches as the daemon does, and keep the results beside the raw data.
 *
 * Batches (cc_clean_ws / cc_clean_classify): one workspace per thread and
 * classifier holds the plugin's workspace and the scratch arrays of a batch.
 * Each record is preprocessed with cc_prep_record() to the classifier's
 * input_len when that is nonzero, exactly as daemon/worker.c does; a record
 * the preprocessing refuses (NaN/Inf, shorter than input_len) never reaches
 * the plugin and gets the caller's `refused` score (the daemon answers it
 * "invalid": NaN here, 0 in lib/eval). The plugin sees raw volts, the
 * preprocessed matrix and the meta of the records it gets in one call.
 *
 * Results (cc_clean_out), in a Cait-layout file (domain notes section 11):
 *   <group>/cryoclean/score         float32 (n_channels, n_events) P(clean), NaN = invalid
 *   <group>/cryoclean/accept        uint8   (n_channels, n_events) score >= cutoff
 *   <group>/cryoclean/module_accept uint8   (n_channels, n_events) all channels of
 *                                   this record's module accept (the paper's rule)
 *   <group>/cryoclean/event_accept  uint8   (n_events) all channels of the file accept
 * and attributes on the group: classifiers, models (strings per channel),
 * cutoffs (float32 per channel), channel_ids and module_ids (int32 per
 * channel), modules (where the module mapping came from), settings (the
 * command line's classifier choice, used to resume), source_file,
 * source_group, cryoclean_version, created (UTC ISO-8601), n_events and
 * complete_events. Modules: the whole file is one detector module (Cait
 * writes one module per file) unless a mapping is given (the group's
 * `module_ids` attribute, cc_clean_module_ids, or the caller's); with one
 * module, every row of module_accept equals event_accept.
 *
 * Commit protocol: results are written into <group>/cryoclean.partial; the
 * attribute complete_events says how many leading events [0, complete) hold
 * final values (rows after it are unspecified: fill values NaN / 0) and is
 * updated and flushed after every chunk. cc_clean_out_commit() (only when
 * complete_events == n_events) deletes an older <group>/cryoclean (allowed
 * by `force` at open) and renames the partial group to <group>/cryoclean,
 * so <group>/cryoclean only ever holds complete results. Opening over a
 * partial group with the same settings and shape resumes after its
 * complete_events; other partial groups are discarded.
 *
 * In place, the input file is opened read-write and the raw datasets are
 * never written. With an output file, it holds the same results group plus
 * copies of the group's hours, time_s, time_mus and labels datasets and its
 * attributes (channel_ids, sample_rate_hz, trigger_index).
 *
 * HDF5 is not thread-safe: one thread owns a cc_clean_out and any
 * cc_h5_reader of the same file. Open the cc_clean_out before the reader of
 * the same file (HDF5 shares one read-write handle; the reverse order fails).
 */
#ifndef CC_CLEAN_H
#define CC_CLEAN_H

#include <stddef.h>
#include <stdint.h>

#include "cc_err.h"
#include "cc_registry.h"

/* ---- classifying batches ---- */

typedef struct cc_clean_ws cc_clean_ws;

/* Creates the batch workspace of cl for up to max_batch records (the
 * plugin's ws_new included). NULL with e on failure. */
cc_clean_ws *cc_clean_ws_new(const cc_classifier *cl, size_t max_batch, cc_err *e);

/* Frees *w (and the plugin workspace) and sets it to NULL; NULL-safe. */
void cc_clean_ws_free(cc_clean_ws **w);

/* Scores n <= max_batch records raw[i] (meta[i].n_samples volts each) into
 * scores[i]; refused records get `refused`. Returns 0, or -1 with e when the
 * plugin fails or returns a score outside [0, 1]. */
int cc_clean_classify(cc_clean_ws *w, const float *const *raw, const cc_record_meta *meta, size_t n,
                      float refused, float *scores, cc_err *e);

/* ---- results in HDF5 ---- */

typedef struct cc_clean_out cc_clean_out;

/* What the results say about themselves (copied at open). */
typedef struct cc_clean_desc {
    uint32_t n_channels;
    uint64_t n_events;
    const char *const *classifier; /* [n_channels] configured classifier names */
    const char *const *model;      /* [n_channels] model names the plugins report */
    const float *cutoff;           /* [n_channels] */
    const uint32_t *channel_ids;   /* [n_channels] */
    const uint32_t *module_ids;    /* [n_channels] */
    const char *module_rule;       /* where module_ids came from, for the reader */
    const char *settings;          /* e.g. "--classifier cuts --cutoff 0.5"; resume key */
    const char *version;           /* cryoclean version */
} cc_clean_desc;

/* Opens the results of group of in_path: in place when out_path is NULL,
 * else in out_path (created, or reopened to resume). Fails when complete
 * results exist and force is 0 (with force, an output file is recreated;
 * in place the old results are replaced at commit). *resume receives the
 * first event still to classify (0 unless a matching partial group exists).
 * Returns NULL with e naming the file and the cause. */
cc_clean_out *cc_clean_out_open(const char *in_path, const char *group, const char *out_path,
                                const cc_clean_desc *d, int force, uint64_t *resume, cc_err *e);

/* Writes events [first, first + k) of score, accept and module_accept
 * ([n_channels * k], laid out [c * k + i]) and event_accept ([k]). 0 or -1. */
int cc_clean_out_write(cc_clean_out *o, uint64_t first, uint32_t k, const float *score,
                       const uint8_t *accept, const uint8_t *module_accept,
                       const uint8_t *event_accept, cc_err *e);

/* Sets complete_events and flushes the file. 0 or -1 with e. */
int cc_clean_out_mark(cc_clean_out *o, uint64_t complete_events, cc_err *e);

/* Publishes the partial results as <group>/cryoclean (see above); fails
 * unless complete_events == n_events. 0 or -1 with e. */
int cc_clean_out_commit(cc_clean_out *o, cc_err *e);

/* Reads the module of each of the n channels from the integer attribute
 * `module_ids` of group in path. Returns 1 when present (module[] filled),
 * 0 when absent (module[] untouched), -1 with e when it has the wrong type,
 * length or a negative value. Opens the file read-only on its own. */
int cc_clean_module_ids(const char *path, const char *group, uint32_t n, uint32_t *module,
                        cc_err *e);

/* Path of the results group inside the file as it stands now. */
const char *cc_clean_out_group(const cc_clean_out *o);

/* Flushes and closes the file; frees *o and sets it to NULL. Returns -1 with
 * e if the final flush or close failed. NULL-safe. */
int cc_clean_out_close(cc_clean_out **o, cc_err *e);

#endif
