/* plot.c - PNG pages, palette, frames, legends and colour bars on PLplot,
 * and the dispatch from figure kinds to the figure files.
 *
 * A page is one plinit() .. plend() cycle of the pngcairo driver with a
 * white background and a fixed 8-colour palette (cmap0) plus a
 * perceptually ordered blue-green-yellow ramp (cmap1) for maps. PLplot exits
 * the process on a fatal driver error; to turn the likely failures (an
 * unwritable path, a missing driver) into errors, the path is opened here
 * first and the result is checked after plend().
 */
#include <errno.h>
#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "plot_internal.h"

static const char *const kind_names[CC_PLOT_NKIND] = {"sweep",    "ior",      "ios",
                                                      "spectrum", "manifold", "examples"};

const char *cc_plot_kind_name(cc_plot_kind k)
{
    return k >= 0 && k < CC_PLOT_NKIND ? kind_names[k] : NULL;
}

int cc_plot_kind_from_name(const char *name)
{
    for (int k = 0; k < CC_PLOT_NKIND; k++)
        if (strcmp(name, kind_names[k]) == 0) return k;
    return -1;
}

int cc_plot_kind_needs_report(cc_plot_kind k)
{
    return k == CC_PLOT_SWEEP || k == CC_PLOT_IOR || k == CC_PLOT_IOS;
}

int plot_begin(const char *png, cc_err *e)
{
    FILE *f = fopen(png, "wb");
    if (!f) return cc_err_set(e, "%s: cannot create the PNG: %s", png, strerror(errno));
    fclose(f);
    static const PLINT r[] = {255, 0, 31, 255, 44, 214, 148, 160};
    static const PLINT g[] = {255, 0, 119, 127, 160, 39, 103, 160};
    static const PLINT b[] = {255, 0, 180, 14, 44, 40, 189, 160};
    static const PLFLT pos[] = {0.0, 0.35, 0.7, 1.0};
    static const PLFLT c1r[] = {0.27, 0.19, 0.35, 0.99}, c1g[] = {0.00, 0.41, 0.77, 0.91},
                       c1b[] = {0.33, 0.56, 0.42, 0.14};
    char geo[32];
    snprintf(geo, sizeof geo, "%dx%d", CC_PLOT_WIDTH, CC_PLOT_HEIGHT);
    plsdev("pngcairo");
    plsfnam(png);
    plsetopt("geometry", geo);
    plscmap0(r, g, b, 8);
    plscmap1n(256);
    plscmap1l(1, 4, pos, c1r, c1g, c1b, NULL);
    plinit();
    pladv(0);
    plschr(0.0, 1.0);
    plwidth(1.0);
    return 0;
}

int plot_end(const char *png, cc_err *e)
{
    plend();
    struct stat st;
    if (stat(png, &st) != 0 || st.st_size < 100)
        return cc_err_set(e,
                          "%s: PLplot (pngcairo driver) wrote no image; is "
                          "plplot-driver-cairo installed?",
                          png);
    return 0;
}

void plot_frame(double x0, double x1, double y0, double y1, double wx0, double wx1, double wy0,
                double wy1, int log_x, int log_y, const char *xl, const char *yl, const char *title)
{
    plvpor(x0, x1, y0, y1);
    plwind(wx0, wx1, wy0, wy1);
    plcol0(COL_GREY);
    pllsty(3);
    plbox(log_x ? "gl" : "g", 0, 0, log_y ? "gl" : "g", 0, 0);
    pllsty(1);
    plcol0(COL_FG);
    plbox(log_x ? "bcnstl" : "bcnst", 0, 0, log_y ? "bcnstvl" : "bcnstv", 0, 0);
    pllab(xl, yl, title);
}

void plot_legend(const plot_entry *ent, int n, int position)
{
    PLINT opt[8], tcol[8], lcol[8], lsty[8], scol[8], snum[8];
    PLFLT lw[8], ssc[8], w, h;
    const char *txt[8], *sym[8];
    if (n > 8) n = 8;
    for (int i = 0; i < n; i++) {
        opt[i] = ent[i].symbol ? PL_LEGEND_SYMBOL : PL_LEGEND_LINE;
        tcol[i] = COL_FG, lcol[i] = scol[i] = ent[i].col;
        lsty[i] = 1, lw[i] = 2.0, ssc[i] = 1.0, snum[i] = 3;
        txt[i] = ent[i].text;
        sym[i] = ent[i].symbol ? ent[i].symbol : "";
    }
    plcol0(COL_FG);
    pllegend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
             position | PL_POSITION_INSIDE | PL_POSITION_VIEWPORT, 0.02, 0.03, 0.08, COL_BG, COL_FG,
             1, 0, 0, n, opt, 1.0, 0.8, 2.0, 0.0, tcol, txt, NULL, NULL, NULL, NULL, lcol, lsty, lw,
             scol, ssc, snum, sym);
}

void plot_colorbar(double x0, double x1, double y0, double y1, double lo, double hi,
                   const char *label)
{
    enum { N = 128 };
    plvpor(x0, x1, y0, y1);
    plwind(lo, hi, 0, 1);
    for (int i = 0; i < N; i++) {
        PLFLT a = lo + (hi - lo) * i / N, b = lo + (hi - lo) * (i + 1) / N;
        PLFLT px[4] = {a, b, b, a}, py[4] = {0, 0, 1, 1};
        plcol1((i + 0.5) / N);
        plfill(4, px, py);
    }
    plcol0(COL_FG);
    plbox("bcnst", 0, 0, "bc", 0, 0);
    plmtex("b", 3.2, 0.5, 0.5, label);
}

int cc_plot_draw(cc_plot_kind k, const cc_eval_report *r, const cc_eval_set *s, double cutoff,
                 const char *png, cc_err *e)
{
    const char *name = cc_plot_kind_name(k);
    if (!name) return cc_err_set(e, "plot: unknown figure kind %d", (int)k);
    if (cc_plot_kind_needs_report(k) && !r)
        return cc_err_set(e, "plot %s: needs an evaluation report", name);
    if (!cc_plot_kind_needs_report(k) && (!s || s->n == 0))
        return cc_err_set(e, "plot %s: needs evaluated records (e.g. eval --simulate N)", name);
    switch (k) {
    case CC_PLOT_SWEEP:
        if (!r->n_sweep) return cc_err_set(e, "plot sweep: the report has no cutoff sweep");
        return plot_sweep(r, png, e);
    case CC_PLOT_IOR:
        if (!r->has_ior) return cc_err_set(e, "plot ior: the report has no IOR scan (eval --ior)");
        return plot_ior(r, png, e);
    case CC_PLOT_IOS:
        if (!r->has_ios) return cc_err_set(e, "plot ios: the report has no IOS scan (eval --ios)");
        return plot_ios(r, png, e);
    case CC_PLOT_SPECTRUM:
        return plot_spectrum(s, cutoff, png, e);
    case CC_PLOT_MANIFOLD:
        return plot_manifold(s, cutoff, png, e);
    case CC_PLOT_EXAMPLES:
        return plot_examples(s, cutoff, png, e);
    default:
        return cc_err_set(e, "plot: unknown figure kind %d", (int)k);
    }
}

int cc_plot_all(const cc_eval_report *r, const cc_eval_set *s, double cutoff, const char *dir,
                FILE *log, cc_err *e)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return cc_err_set(e, "%s: cannot create the plot directory: %s", dir, strerror(errno));
    int n = 0;
    for (int k = 0; k < CC_PLOT_NKIND; k++) {
        if (cc_plot_kind_needs_report(k)) {
            if (!r || (k == CC_PLOT_SWEEP && !r->n_sweep) || (k == CC_PLOT_IOR && !r->has_ior) ||
                (k == CC_PLOT_IOS && !r->has_ios))
                continue;
        } else if (!s || !s->n) {
            continue;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.png", dir, kind_names[k]);
        if (cc_plot_draw(k, r, s, cutoff, path, e)) return -1;
        if (log) fprintf(log, "wrote %s\n", path);
        n++;
    }
    return n;
}

void plot_page_title(const char *title, const char *subtitle)
{
    plvpor(0.0, 1.0, 0.0, 1.0);
    plwind(0.0, 1.0, 0.0, 1.0);
    plcol0(COL_FG);
    plschr(0.0, 1.25);
    plptex(0.5, 0.965, 1.0, 0.0, 0.5, title);
    plschr(0.0, 0.9);
    if (subtitle) plptex(0.5, 0.925, 1.0, 0.0, 0.5, subtitle);
    plschr(0.0, 1.0);
}
