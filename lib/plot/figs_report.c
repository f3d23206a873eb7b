/* figs_report.c - the figures drawn from an evaluation report: the cutoff
 * sweep (paper Fig. 4), recall versus SNR and the pile-up selectivity map
 * (Fig. 6). Every number drawn is read from the report, never recomputed.
 */
#include <math.h>
#include <plplot.h>
#include <stdio.h>

#include "plot_internal.h"

/* Lower axis end for values in [lo, 1]: a multiple of 0.05 below lo. */
static double floor_to(double lo)
{
    double v = floor(lo * 20.0 - 0.5) / 20.0;
    return v < 0 ? 0 : v;
}

/* "classifier X (model Y), source, N records" with N from the map if given. */
static void subtitle(const cc_eval_report *r, const cc_eval_map *m, char *buf, size_t len)
{
    uint64_t n = r->n;
    if (m) {
        n = 0;
        for (size_t i = 0; i < m->nx * m->ny; i++) n += m->n[i];
    }
    snprintf(buf, len, "classifier %s (model %s), %s, %llu records", r->classifier, r->model,
             r->source, (unsigned long long)n);
}

/* Draws series j of the sweep (0 BA, 1 recall, 2 selectivity, 3 precision)
 * through its defined points. */
static void sweep_series(const cc_eval_report *r, int j, int col, double width)
{
    PLFLT x[CC_EVAL_MAXCUT], y[CC_EVAL_MAXCUT];
    int n = 0;
    for (size_t i = 0; i < r->n_sweep; i++) {
        const cc_eval_metrics *m = &r->sweep[i];
        double v = j == 0 ? m->ba : j == 1 ? m->recall : j == 2 ? m->selectivity : m->precision;
        if (isfinite(v)) x[n] = m->cutoff, y[n++] = v;
    }
    plcol0(col);
    plwidth(width);
    if (n > 1) plline(n, x, y);
    plstring(n, x, y, "#(728)");
    plwidth(1.0);
}

int plot_sweep(const cc_eval_report *r, const char *png, cc_err *e)
{
    PLFLT cut[CC_EVAL_MAXCUT], rec[CC_EVAL_MAXCUT], pre[CC_EVAL_MAXCUT];
    int n = 0;
    double lo = 1.0;
    for (size_t i = 0; i < r->n_sweep; i++) {
        const cc_eval_metrics *m = &r->sweep[i];
        const double v[4] = {m->ba, m->recall, m->selectivity, m->precision};
        for (int j = 0; j < 4; j++)
            if (isfinite(v[j])) lo = fmin(lo, v[j]);
        if (!isfinite(m->recall) || !isfinite(m->precision)) continue;
        cut[n] = m->cutoff, rec[n] = m->recall, pre[n] = m->precision;
        n++;
    }
    if (!isfinite(r->sweep[0].ba) && n == 0)
        return cc_err_set(e, "plot sweep: every metric is undefined (one class only and "
                             "nothing accepted?)");
    if (plot_begin(png, e)) return -1;
    char sub[400], t[96];
    subtitle(r, NULL, sub, sizeof sub);
    plot_page_title("Precision-recall and balanced accuracy versus cutoff", sub);
    double y0 = floor_to(lo);

    plot_frame(0.1, 0.46, 0.12, 0.84, y0, 1.005, y0, 1.005, 0, 0, "recall R = TP/T",
               "precision P = TP/(TP+FP)", "Precision-recall curve");
    plcol0(COL_BLUE);
    plwidth(2.0);
    if (n > 1) plline(n, rec, pre);
    plstring(n, rec, pre, "#(728)");
    plwidth(1.0);
    plcol0(COL_FG);
    plschr(0.0, 0.7);
    for (int i = 0; i<n; i += n> 4 ? n / 4 : 1) {
        snprintf(t, sizeof t, "%.2f", cut[i]);
        plptex(rec[i], pre[i] - 0.024 * (1.005 - y0), 1, 0, 0.5, t);
    }
    plschr(0.0, 1.0);
    plot_entry pe[] = {{"cutoffs 0.05..0.95 (labels: cutoff)", COL_BLUE, "#(728)"}};
    plot_legend(pe, 1, PL_POSITION_LEFT | PL_POSITION_BOTTOM);

    snprintf(t, sizeof t, "BA = %.4f at cutoff %.2f", r->at.ba, r->cutoff);
    plot_frame(0.58, 0.96, 0.12, 0.84, 0.0, 1.0, y0, 1.005, 0, 0, "cutoff on the score P(clean)",
               "metric value (fraction)", t);
    const int cols[] = {COL_FG, COL_BLUE, COL_ORANGE, COL_GREEN};
    for (int j = 0; j < 4; j++) sweep_series(r, j, cols[j], j == 0 ? 3.0 : 2.0);
    PLFLT vx[2] = {r->cutoff, r->cutoff}, vy[2] = {y0, 1.005};
    plcol0(COL_RED);
    pllsty(2);
    plline(2, vx, vy);
    pllsty(1);
    plot_entry le[] = {{"balanced accuracy (R+S)/2", COL_FG, NULL},
                       {"recall R", COL_BLUE, NULL},
                       {"selectivity S = TN/N", COL_ORANGE, NULL},
                       {"precision P", COL_GREEN, NULL},
                       {"working cutoff", COL_RED, NULL}};
    plot_legend(le, 5, PL_POSITION_LEFT | PL_POSITION_BOTTOM);
    return plot_end(png, e);
}

int plot_ior(const cc_eval_report *r, const char *png, cc_err *e)
{
    const cc_eval_map *m = &r->ior;
    PLFLT x[4096], y[4096], lo[4096], hi[4096];
    int n = 0;
    for (size_t i = 0; i < m->nx && n < 4096; i++) {
        double v = cc_eval_map_rate(m, i, 0);
        if (isnan(v)) continue;
        double c = sqrt(cc_eval_map_edge_x(m, i) * cc_eval_map_edge_x(m, i + 1));
        double s = sqrt(v * (1 - v) / (double)m->n[i]);
        x[n] = log10(c), y[n] = v, lo[n] = fmax(0, v - s), hi[n] = fmin(1, v + s);
        n++;
    }
    if (n == 0) return cc_err_set(e, "plot ior: every SNR bin is empty");
    if (plot_begin(png, e)) return -1;
    char sub[400], t[128];
    subtitle(r, m, sub, sizeof sub);
    snprintf(t, sizeof t, "Recall of simulated clean pulses versus SNR: IOR = %.4f", r->ior_value);
    plot_page_title(t, sub);
    snprintf(t, sizeof t, "%zu log bins over SNR %.3g..%.3g, cutoff %.2f", m->nx, m->x_lo, m->x_hi,
             r->cutoff);
    plot_frame(0.1, 0.95, 0.12, 0.84, log10(m->x_lo), log10(m->x_hi), 0.0, 1.05, 1, 0,
               "SNR = pulse height / baseline RMS (dimensionless)", "recall R = TP/T (fraction)",
               t);
    PLFLT gx[2] = {log10(m->x_lo), log10(m->x_hi)}, gy[2] = {r->ior_value, r->ior_value};
    plcol0(COL_ORANGE);
    pllsty(2);
    plline(2, gx, gy);
    pllsty(1);
    plcol0(COL_BLUE);
    plwidth(2.0);
    plline(n, x, y);
    plerry(n, x, lo, hi);
    plstring(n, x, y, "#(728)");
    plwidth(1.0);
    plot_entry le[] = {{"recall per SNR bin (+-1 sigma binomial)", COL_BLUE, "#(728)"},
                       {"IOR: mean recall over log SNR", COL_ORANGE, NULL}};
    plot_legend(le, 2, PL_POSITION_RIGHT | PL_POSITION_BOTTOM);
    return plot_end(png, e);
}

int plot_ios(const cc_eval_report *r, const char *png, cc_err *e)
{
    const cc_eval_map *m = &r->ios;
    if (plot_begin(png, e)) return -1;
    char sub[400], t[160];
    subtitle(r, m, sub, sizeof sub);
    snprintf(t, sizeof t, "Selectivity of simulated two-pulse pile-up: IOS = %.4f", r->ios_value);
    plot_page_title(t, sub);
    snprintf(t, sizeof t, "%zu x %zu cells, cutoff %.2f; grey = no records", m->nx, m->ny,
             r->cutoff);
    plot_frame(0.1, 0.95, 0.30, 0.84, m->x_lo, m->x_hi, m->y_lo, m->y_hi, 0, 0,
               "onset difference of the second pulse (ms)", "pulse-height ratio PH2/PH1 (fraction)",
               t);
    for (size_t iy = 0; iy < m->ny; iy++)
        for (size_t ix = 0; ix < m->nx; ix++) {
            double v = cc_eval_map_rate(m, ix, iy);
            PLFLT x0 = cc_eval_map_edge_x(m, ix), x1 = cc_eval_map_edge_x(m, ix + 1);
            PLFLT y0 = cc_eval_map_edge_y(m, iy), y1 = cc_eval_map_edge_y(m, iy + 1);
            PLFLT px[4] = {x0, x1, x1, x0}, py[4] = {y0, y0, y1, y1};
            if (isnan(v))
                plcol0(COL_GREY);
            else
                plcol1(v);
            plfill(4, px, py);
        }
    plcol0(COL_FG);
    plbox("bcst", 0, 0, "bcst", 0, 0);
    plot_colorbar(0.3, 0.75, 0.11, 0.15, 0.0, 1.0, "selectivity S = TN/N per cell (fraction)");
    return plot_end(png, e);
}
