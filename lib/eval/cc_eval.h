/* cc_eval.h - how good is a classifier, in the CRESST paper's own terms.
 *
 * Everything here works on plain arrays: a score per record (P(clean) in
 * [0, 1], accepted when score >= cutoff, as in the daemon), a label (1 clean,
 * 0 artefact) and optionally the artefact class and the physics truth of
 * simulated records. Conventions (domain notes section 10):
 *
 *   T = records labelled clean, N = records labelled artefact
 *   recall R = TP/T, selectivity S = TN/N, BA = (R + S)/2,
 *   precision P = TP/(TP + FP); a ratio with an empty denominator is NaN
 *   (written as null in JSON), never a made-up 0 or 1.
 *
 * Binned rates (cc_eval_map) serve both simulated figures of merit:
 *   IOR: recall of clean pulses in log-spaced SNR bins over [3, 300]; IOR is
 *        the mean recall over the bins = the integral of recall over log SNR
 *        divided by log(300/3).
 *   IOS: selectivity of two-pulse pile-up on a grid of onset difference (ms)
 *        x pulse-height ratio PH2/PH1; IOS is the mean over the cells = the
 *        normalised integral over that rectangle.
 * Empty bins are left out of the mean and counted, so a sparse run says so.
 *
 * A cc_eval_set holds what one evaluation run saw per record (score, label,
 * truth, a 512-bin block-mean view in volts for the pictures); cc_eval_run()
 * fills it by pulling records from a source and classifying them in batches
 * exactly as the daemon's workers do (cc_prep_record to info.input_len when
 * input_len > 0, raw volts always). A cc_eval_report is the summary written
 * as JSON (cc_eval_write_json) or as a table (cc_eval_print_table), and read
 * back by `cryoclean plot` (cc_eval_read_json).
 *
 * No globals; nothing here is shared between threads.
 */
#ifndef CC_EVAL_H
#define CC_EVAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cc_err.h"
#include "cc_registry.h"
#include "cc_sim.h"

#define CC_EVAL_MAXCUT 64  /* cutoffs in a sweep */
#define CC_EVAL_NCLASS 32  /* class ids are < this */
#define CC_EVAL_VIEW   512 /* samples of the stored per-record view */

/* ---- confusion and the paper's ratios ---- */

/* Confusion counts at one cutoff; T = tp + fn, N = tn + fp. */
typedef struct cc_eval_counts {
    uint64_t tp, fn, tn, fp;
} cc_eval_counts;

typedef struct cc_eval_metrics {
    double cutoff;
    cc_eval_counts c;
    double recall, selectivity, ba, precision, accuracy; /* NaN when undefined */
} cc_eval_metrics;

/* The daemon's decision: the score and the cutoff are compared as floats
 * (so score 0.95f is accepted at cutoff 0.95). Used everywhere here. */
static inline int cc_eval_accepts(float score, double cutoff)
{
    return score >= (float)cutoff;
}

/* Counts score[i] >= cutoff against label[i] (nonzero = clean). */
void cc_eval_count(const float *score, const uint8_t *label, size_t n, double cutoff,
                   cc_eval_counts *c);

/* Derives the ratios of m from m->c (m->cutoff is kept). */
void cc_eval_metrics_from(cc_eval_metrics *m);

/* cc_eval_count + cc_eval_metrics_from at one cutoff. */
void cc_eval_at(const float *score, const uint8_t *label, size_t n, double cutoff,
                cc_eval_metrics *m);

/* Writes the paper's cutoffs 0.05, 0.10, ..., 0.95 into cut[max]; returns 19
 * (or max if smaller). */
size_t cc_eval_default_cutoffs(double *cut, size_t max);

/* ---- binned acceptance rates: recall versus SNR, selectivity maps ---- */

typedef struct cc_eval_map {
    size_t nx, ny; /* ny = 1 for a 1-D curve */
    double x_lo, x_hi, y_lo, y_hi;
    int x_log;     /* x bins equal in log(x) */
    uint64_t *n;   /* [ny * nx] records per cell, row-major (iy * nx + ix) */
    uint64_t *k;   /* [ny * nx] successes per cell */
    char what[24]; /* "recall" or "selectivity" */
    char x_label[48], y_label[48];
} cc_eval_map;

/* Allocates an empty map; ranges must be finite with lo < hi (lo > 0 when
 * x_log). Returns 0, or -1 with e naming the bad argument. */
int cc_eval_map_init(cc_eval_map *m, size_t nx, double x_lo, double x_hi, int x_log, size_t ny,
                     double y_lo, double y_hi, cc_err *e);

/* Frees the counts and zeroes m (NULL-safe). */
void cc_eval_map_release(cc_eval_map *m);

/* Counts one record at (x, y) (y ignored when ny == 1); success nonzero adds
 * to k. Returns 0, or -1 when the point is outside the map (not counted). */
int cc_eval_map_add(cc_eval_map *m, double x, double y, int success);

/* Bin edge i (0..nx) of x, or of y for cc_eval_map_edge_y. */
double cc_eval_map_edge_x(const cc_eval_map *m, size_t i);
double cc_eval_map_edge_y(const cc_eval_map *m, size_t i);

/* k/n of a cell, NaN when the cell is empty. */
double cc_eval_map_rate(const cc_eval_map *m, size_t ix, size_t iy);

/* Mean rate over the non-empty cells (the normalised integral); NaN if all
 * are empty. *n_empty (if non-NULL) receives the number of empty cells. */
double cc_eval_map_integral(const cc_eval_map *m, size_t *n_empty);

/* ---- what one run saw, record by record ---- */

typedef struct cc_eval_set {
    size_t n, cap;
    float *score;      /* [n] */
    uint8_t *label;    /* [n] 1 clean, 0 artefact */
    int *class_id;     /* [n] cc_sim_class, 0 if unknown */
    uint32_t *ch;      /* [n] channel index within the module */
    uint64_t *event;   /* [n] module event number (records of one event are adjacent) */
    double *ph;        /* [n] pulse height estimated from the view, volts */
    double *snr;       /* [n] true SNR of simulated records, NaN if unknown */
    double *dt_ms;     /* [n] pile-up onset difference, NaN if not a two-pulse record */
    double *ratio;     /* [n] pile-up pulse-height ratio PH2/PH1, NaN likewise */
    float *view;       /* [n * CC_EVAL_VIEW] block means in volts */
    double view_dt_ms; /* duration of one view bin (of the last record added) */
} cc_eval_set;

/* Frees the arrays and zeroes s (NULL-safe). */
void cc_eval_set_release(cc_eval_set *s);

/* Where cc_eval_run() gets its records: next() fills rec (initialised for
 * the source's record length) and the pile-up coordinates (NaN when not
 * applicable); returns 0, 1 at the end, or -1 with e. */
typedef struct cc_eval_source {
    void *ctx;
    uint32_t n_samples; /* length of every record */
    uint64_t total;     /* records the source holds, 0 = unbounded / unknown */
    int (*next)(void *ctx, cc_sim_record *rec, double *dt_ms, double *ratio, cc_err *e);
    void (*free)(void *ctx); /* releases ctx (cc_eval_source_free calls it) */
} cc_eval_source;

/* Progress callback: done records so far (may be NULL). */
typedef void (*cc_eval_progress_fn)(void *ctx, size_t done);

/* Pulls up to max_records from src, classifies them with cl in batches of
 * batch records (preprocessing as the daemon does), and appends them to set.
 * A record the preprocessing refuses (NaN/Inf, too short) gets score 0 as
 * the daemon rejects it. Returns the number of records added, or -1 with e. */
long cc_eval_run(const cc_classifier *cl, cc_eval_source *src, size_t max_records, size_t batch,
                 cc_eval_set *set, cc_eval_progress_fn progress, void *pctx, cc_err *e);

/* ---- simulated sources ---- */

typedef struct cc_eval_report cc_eval_report; /* below */

/* Convenience: runs n records of the simulator's class mix (cfg, seed)
 * through cl in batches of batch into set, then fills r's metrics, sweep
 * and classes from all of set (r initialised by the caller). 0 or -1. */
int cc_eval_mix(const cc_classifier *cl, const cc_sim_config *cfg, uint64_t seed, size_t n,
                size_t batch, cc_eval_set *set, cc_eval_report *r, cc_eval_progress_fn progress,
                void *pctx, cc_err *e);

/* A mixture of all classes from cfg (cc_sim_next: module events, channel
 * after channel). *src is valid until cc_eval_source_free. */
int cc_eval_source_mix(cc_eval_source *src, const cc_sim_config *cfg, uint64_t seed, cc_err *e);

/* IOR: clean event pulses in channel 0 of cfg, onset at the trigger, SNR
 * log-uniform over [snr_lo, snr_hi], no saturation. */
int cc_eval_source_ior(cc_eval_source *src, const cc_sim_config *cfg, uint64_t seed, double snr_lo,
                       double snr_hi, cc_err *e);

/* IOS: two-pulse pile-up in channel 0: an event pulse at the trigger with SNR
 * log-uniform over [snr_lo, snr_hi], plus a second pulse of the same shape
 * dt ~ U(dt_lo, dt_hi) ms later with height ratio ~ U(r_lo, r_hi) times the
 * first. Labelled artefact (class CC_SIM_PILEUP). */
int cc_eval_source_ios(cc_eval_source *src, const cc_sim_config *cfg, uint64_t seed, double snr_lo,
                       double snr_hi, double dt_lo, double dt_hi, double r_lo, double r_hi,
                       cc_err *e);

/* Labelled records of group ("events", "noise", "testpulses") of a
 * Cait-layout HDF5 file (lib/io), channel after channel, event after event.
 * Labels are Cait class numbers; records of classes cryoclean does not know
 * (0 = unlabelled) are skipped and counted. Fails if the group has no labels. */
int cc_eval_source_h5(cc_eval_source *src, const char *path, const char *group, cc_err *e);

/* Records an HDF5 source skipped so far for want of a known label (0 for
 * other sources). */
size_t cc_eval_source_skipped(const cc_eval_source *src);

/* Frees a source made by one of the functions above and zeroes it. */
void cc_eval_source_free(cc_eval_source *src);

/* ---- the summary ---- */

struct cc_eval_report {
    char classifier[64], model[24];
    char source[256]; /* "simulated mix, seed 1", a file name, ... */
    double cutoff;
    size_t n;
    cc_eval_metrics at;                    /* at the cutoff */
    size_t n_sweep;                        /* 0 = no sweep */
    cc_eval_metrics sweep[CC_EVAL_MAXCUT]; /* over the cutoffs */
    int has_classes;
    uint64_t cls_n[CC_EVAL_NCLASS], cls_acc[CC_EVAL_NCLASS]; /* records, accepted, by class */
    int has_ior, has_ios;
    cc_eval_map ior, ios;
    double ior_value, ios_value;
    size_t ior_empty, ios_empty;
};

/* Zeroes r and sets the names (copied, truncated). */
void cc_eval_report_init(cc_eval_report *r, const char *classifier, const char *model,
                         const char *source, double cutoff);

/* Fills the metrics at r->cutoff, the sweep over the default cutoffs and,
 * when class_id is non-NULL, the counts by class, from n records. */
void cc_eval_report_labels(cc_eval_report *r, const float *score, const uint8_t *label,
                           const int *class_id, size_t n);

/* Builds the IOR map (30 log bins over [3, 300]) from the clean records of
 * set that carry an SNR and sets r->ior_value. 0 or -1 with e. */
int cc_eval_report_ior(cc_eval_report *r, const cc_eval_set *set, double snr_lo, double snr_hi,
                       size_t nbins, cc_err *e);

/* Builds the IOS map (nx x ny cells over the given ranges) from the records
 * of set that carry pile-up coordinates and sets r->ios_value. */
int cc_eval_report_ios(cc_eval_report *r, const cc_eval_set *set, size_t nx, double dt_lo,
                       double dt_hi, size_t ny, double r_lo, double r_hi, cc_err *e);

/* Frees the maps and zeroes r. */
void cc_eval_report_release(cc_eval_report *r);

/* Writes r as one JSON object (format in docs/EVAL.md). 0 or -1 with e. */
int cc_eval_write_json(const cc_eval_report *r, FILE *f, cc_err *e);

/* Reads a JSON file written by cc_eval_write_json into *r (initialised
 * here; release with cc_eval_report_release). 0 or -1 with e positioned. */
int cc_eval_read_json(const char *path, cc_eval_report *r, cc_err *e);

/* Prints the readable summary: metrics at the cutoff, the sweep, the
 * classes, IOR and IOS. */
void cc_eval_print_table(const cc_eval_report *r, FILE *f);

/* ---- principal components (for the module manifold) ---- */

/* Projects the n rows of x[n * d] (row-major) on their first k principal
 * components (k <= d): out[n * k], and the k eigenvalues (variances, largest
 * first) into var[k] if non-NULL, and the k unit axes into axes[k * d] if
 * non-NULL. Uses LAPACK dsyev from OpenBLAS on the d x d covariance.
 * 0 or -1 with e. */
int cc_eval_pca(const float *x, size_t n, size_t d, size_t k, double *out, double *var,
                double *axes, cc_err *e);

#endif
