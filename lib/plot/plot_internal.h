/* plot_internal.h - what the figure files of lib/plot share: opening and
 * closing a PNG page, the palette, legends and a few axis helpers on top of
 * PLplot. Not installed; the public API is cc_plot.h. */
#ifndef CC_PLOT_INTERNAL_H
#define CC_PLOT_INTERNAL_H

#include "cc_plot.h"

/* cmap0 indices of the palette set by plot_begin(). */
enum { COL_BG = 0, COL_FG, COL_BLUE, COL_ORANGE, COL_GREEN, COL_RED, COL_PURPLE, COL_GREY };

/* One legend entry: a line (symbol NULL) or a symbol in colour col. */
typedef struct plot_entry {
    const char *text;
    int col;
    const char *symbol; /* UTF-8 glyph, NULL = line */
} plot_entry;

/* Starts a PNG page of CC_PLOT_WIDTH x CC_PLOT_HEIGHT at png (checked writable
 * first). 0 or -1 with e. */
int plot_begin(const char *png, cc_err *e);

/* Finishes the page and checks that png exists and is not empty. */
int plot_end(const char *png, cc_err *e);

/* Sets viewport [x0,x1]x[y0,y1] (normalised page coordinates), window and
 * a boxed frame with ticks; log_x / log_y take log10 windows. Axis labels and
 * the panel title go through pllab. */
void plot_frame(double x0, double x1, double y0, double y1, double wx0, double wx1, double wy0,
                double wy1, int log_x, int log_y, const char *xl, const char *yl,
                const char *title);

/* Draws a legend with n entries inside the current viewport at position
 * (PL_POSITION_* flags). */
void plot_legend(const plot_entry *ent, int n, int position);

/* Draws a horizontal colour bar for cmap1 over [lo, hi] in the viewport
 * [x0,x1]x[y0,y1], labelled label. */
void plot_colorbar(double x0, double x1, double y0, double y1, double lo, double hi,
                   const char *label);

/* Writes a page title (and a smaller subtitle, may be NULL) at the top. */
void plot_page_title(const char *title, const char *subtitle);

/* The figures (figs_report.c, figs_set.c). */
int plot_sweep(const cc_eval_report *r, const char *png, cc_err *e);
int plot_ior(const cc_eval_report *r, const char *png, cc_err *e);
int plot_ios(const cc_eval_report *r, const char *png, cc_err *e);
int plot_spectrum(const cc_eval_set *s, double cutoff, const char *png, cc_err *e);
int plot_manifold(const cc_eval_set *s, double cutoff, const char *png, cc_err *e);
int plot_examples(const cc_eval_set *s, double cutoff, const char *png, cc_err *e);

#endif
