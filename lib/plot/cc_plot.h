/* cc_plot.h - the CRESST paper's figures as PNG files, drawn with PLplot.
 *
 * Every figure is one PNG of CC_PLOT_WIDTH x CC_PLOT_HEIGHT pixels written by
 * PLplot's pngcairo driver (Debian plplot-driver-cairo), with a title, axes
 * with units, and a legend whenever more than one thing is drawn:
 *
 *   sweep     precision-recall curve and BA / recall / selectivity / precision
 *             versus cutoff (paper Fig. 4)              - from a report
 *   ior       recall versus SNR, log bins, with IOR      (Fig. 6 left)
 *   ios       pile-up selectivity map over onset difference x pulse-height
 *             ratio, with IOS                           (Fig. 6 right)
 *   spectrum  pulse-height spectrum: all records, accepted by the model,
 *             accepted by the labels                    (Fig. 8) - from a set
 *   manifold  module events (all channels' 512-bin views, each min-max
 *             scaled, concatenated) on their first two principal components,
 *             all versus cleaned by the model           (Fig. 7)
 *   examples  a grid of records with score and truth, misclassified first
 *             (Fig. 5)
 *
 * Reports come from cc_eval.h (computed or read back from JSON); sets are
 * the per-record results of cc_eval_run(). The numbers drawn are the ones in
 * the report, so a test of the report is a test of the figure's content.
 *
 * Threads: PLplot keeps its streams in process-wide state inside the
 * library, so these functions must not run concurrently; cryoclean calls
 * them from one thread of a command-line tool. No state of our own.
 */
#ifndef CC_PLOT_H
#define CC_PLOT_H

#include <stddef.h>
#include <stdint.h>

#include "cc_err.h"
#include "cc_eval.h"

#define CC_PLOT_WIDTH  900
#define CC_PLOT_HEIGHT 650

/* Figure kinds in the order above; names as in cc_plot_kind_name(). */
typedef enum cc_plot_kind {
    CC_PLOT_SWEEP = 0,
    CC_PLOT_IOR,
    CC_PLOT_IOS,
    CC_PLOT_SPECTRUM,
    CC_PLOT_MANIFOLD,
    CC_PLOT_EXAMPLES,
    CC_PLOT_NKIND
} cc_plot_kind;

/* "sweep", "ior", ... or NULL for an unknown kind. */
const char *cc_plot_kind_name(cc_plot_kind k);

/* The kind with that name, or -1. */
int cc_plot_kind_from_name(const char *name);

/* 1 if the kind draws from a report (sweep, ior, ios), 0 if from a set. */
int cc_plot_kind_needs_report(cc_plot_kind k);

/* Draws one figure into png. Report kinds need r (with a sweep / has_ior /
 * has_ios as appropriate), set kinds need s and use cutoff. Returns 0, or
 * -1 with e naming the figure and what was missing or failed. */
int cc_plot_draw(cc_plot_kind k, const cc_eval_report *r, const cc_eval_set *s, double cutoff,
                 const char *png, cc_err *e);

/* Draws every figure the inputs allow into dir/<kind>.png; prints each path
 * written to log (if non-NULL). Returns the number written, or -1 with e. */
int cc_plot_all(const cc_eval_report *r, const cc_eval_set *s, double cutoff, const char *dir,
                FILE *log, cc_err *e);

#endif
