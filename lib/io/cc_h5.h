/* cc_h5.h - record sets in Cait's HDF5 layout, written and read in chunks.
 *
 * Layout (domain notes section 11), per group ("events", "noise",
 * "testpulses"):
 *   event        float32 (n_channels, n_events, n_samples), volts
 *   hours        float64 (n_events)         time since the start of the file
 *   time_s       int64   (n_events)         Unix seconds
 *   time_mus     int32   (n_events)         microseconds within time_s
 *   labels       int32   (n_channels, n_events), Cait class numbers; one
 *                attribute per class: name -> number
 *   true_ph      float64 (n_channels, n_events) simulated pulse height, V
 *   true_onset   float64 (n_channels, n_events) onset vs trigger, ms (NaN: none)
 *   true_snr     float64 (n_channels, n_events)
 *   true_npulses int32   (n_channels, n_events) pulses in the window
 * and group attributes channel_ids (int32, n_channels), sample_rate_hz
 * (float64), trigger_index (int32). Arrays such as noise/nps can be added
 * with cc_h5_writer_put_2d().
 *
 * Memory stays bounded: datasets are chunked along the event axis (about
 * 1 MiB per chunk of `event`) and extended as batches are appended; the
 * reader reads any range of events [first, first+k) of all channels.
 *
 * Reading validates what it relies on: `event` must exist, be a float type
 * of rank 3 with n_events and n_samples >= 1; every optional dataset that is
 * present must have the expected rank, shape and type class. Errors name the
 * file, the dataset, what was expected and what was found. Integer or float
 * labels are both accepted (converted to int32). HDF5's own error stack is
 * silenced around calls that may fail, so messages come through cc_err only.
 *
 * Not thread-safe (the Debian libhdf5 is built without thread safety): use
 * one reader/writer per thread only if all HDF5 calls are serialised.
 */
#ifndef CC_H5_H
#define CC_H5_H

#include <stddef.h>
#include <stdint.h>

#include "cc_err.h"

/* Optional per-event datasets (bit flags). */
enum {
    CC_H5_TIME = 1u << 0,    /* hours, time_s, time_mus */
    CC_H5_LABELS = 1u << 1,  /* labels */
    CC_H5_TRUE_PH = 1u << 2, /* true_ph */
    CC_H5_TRUE_ONSET = 1u << 3,
    CC_H5_TRUE_SNR = 1u << 4,
    CC_H5_TRUE_NPULSES = 1u << 5,
    CC_H5_ALL = 0x3f
};

/* A batch of k events of all channels. Arrays are laid out like the file:
 * event[c][i][s] = event[(c*k + i)*n_samples + s], per-channel arrays
 * x[c][i] = x[c*k + i]. On writing, a NULL array writes defaults (0, or
 * NaN for true_onset) if the dataset was requested; on reading, NULL arrays
 * are skipped and arrays of absent datasets are filled with those defaults. */
typedef struct cc_h5_batch {
    uint32_t k;
    float *event;
    double *hours;
    int64_t *time_s;
    int32_t *time_mus;
    int32_t *labels;
    double *true_ph, *true_onset, *true_snr;
    int32_t *true_npulses;
} cc_h5_batch;

/* ---- writing ---- */

typedef struct cc_h5_writer cc_h5_writer;

/* Creates (truncates) path for records of n_channels x n_samples. fields
 * (CC_H5_*) selects the optional datasets every group gets. */
cc_h5_writer *cc_h5_writer_new(const char *path, uint32_t n_channels, uint32_t n_samples,
                               unsigned fields, cc_err *e);

/* Group attributes written when a group is created: wire channel ids
 * (n_channels values; NULL = 0..n-1), sample rate and trigger index. Call
 * before the first append. */
int cc_h5_writer_set_meta(cc_h5_writer *w, const uint32_t *channel_ids, double fs_hz,
                          uint32_t trigger_index, cc_err *e);

/* Class names for the `labels` attributes (n pairs, copied). Call before the
 * first append. */
int cc_h5_writer_set_label_names(cc_h5_writer *w, size_t n, const int *ids,
                                 const char *const *names, cc_err *e);

/* Appends b->k events to group (created on first use; at most 8 groups). */
int cc_h5_writer_append(cc_h5_writer *w, const char *group, const cc_h5_batch *b, cc_err *e);

/* Writes a float32 (rows, cols) dataset at path inside the file ("noise/nps"),
 * creating the group if needed. */
int cc_h5_writer_put_2d(cc_h5_writer *w, const char *path, const float *data, uint32_t rows,
                        uint32_t cols, cc_err *e);

/* Events written so far to group (0 if none). */
uint64_t cc_h5_writer_count(const cc_h5_writer *w, const char *group);

/* Flushes and closes; frees *w and sets it to NULL. Returns -1 if the final
 * flush failed (the file may be incomplete). NULL-safe. */
int cc_h5_writer_close(cc_h5_writer **w, cc_err *e);

/* ---- reading ---- */

typedef struct cc_h5_reader cc_h5_reader;

/* What a reader found. */
typedef struct cc_h5_info {
    uint32_t n_channels, n_samples;
    uint64_t n_events;
    unsigned fields;          /* CC_H5_* present in the group */
    double fs_hz;             /* 0 if the file does not say */
    uint32_t trigger_index;   /* n_samples/4 if the file does not say */
    uint32_t channel_ids[64]; /* 0..n-1 if the file does not say (first 64) */
} cc_h5_info;

/* Opens group of path for reading and validates its datasets. */
cc_h5_reader *cc_h5_reader_open(const char *path, const char *group, cc_err *e);

/* The shape and contents found by cc_h5_reader_open. */
const cc_h5_info *cc_h5_reader_info(const cc_h5_reader *r);

/* Reads events [first, first + out->k) of all channels into out's non-NULL
 * arrays (sized for out->k events). Fails if the range is outside the file. */
int cc_h5_reader_read(cc_h5_reader *r, uint64_t first, cc_h5_batch *out, cc_err *e);

/* Reads the whole numeric dataset `name` (relative to the group, e.g.
 * "cryoclean/accept") of shape (n_channels, n_events) as float into
 * out[n_channels * n_events]. Fails, naming file and dataset, when it is
 * missing or has another rank, shape or type. */
int cc_h5_reader_get_2d(cc_h5_reader *r, const char *name, float *out, cc_err *e);

/* Reads the standard events /stdevent/event (Cait's layout: float, shape
 * (n_channels, n_samples), one template pulse per channel) into
 * out[n_channels * n_samples]. Returns 0, 1 when the file has none, or -1
 * with e when it is there with another rank, shape or type. */
int cc_h5_reader_get_stdevent(cc_h5_reader *r, float *out, cc_err *e);

/* Looks up the class number of a label name in the `labels` attributes;
 * returns -1 if absent. */
int cc_h5_reader_label_id(cc_h5_reader *r, const char *name);

/* Closes the file, frees *r and sets it to NULL (NULL-safe). */
void cc_h5_reader_close(cc_h5_reader **r);

#endif
