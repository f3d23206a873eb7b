/* figs_set.c - the figures drawn from per-record results: the pulse-height
 * spectrum (paper Fig. 8), the module manifold (Fig. 7) and a grid of example
 * records (Fig. 5).
 *
 * The spectrum uses channel 0 (the phonon channel of a module) and the
 * pulse height estimated from each record's 512-bin view. The manifold
 * groups adjacent records of one module event (same event number, channels
 * 0..n-1), min-max scales each channel's view as the networks' input is
 * scaled, concatenates them (n x 512) and projects on the first two
 * principal components (cc_eval_pca); an event is cleaned when every channel
 * is accepted, as the paper defines a clean event.
 */
#include <math.h>
#include <plplot.h>
#include <stdlib.h>
#include <string.h>

#include "cc_preproc.h"
#include "plot_internal.h"

/* ---- spectrum ---- */

enum { NBIN = 120 };

int plot_spectrum(const cc_eval_set *s, double cutoff, const char *png, cc_err *e)
{
    double hmax = 0;
    size_t n0 = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->ch[i] == 0 && isfinite(s->ph[i])) hmax = fmax(hmax, s->ph[i]), n0++;
    if (n0 == 0 || !(hmax > 0))
        return cc_err_set(e, "plot spectrum: no channel-0 record with a positive pulse height");
    double w = hmax * 1.02 / NBIN;
    double cnt[3][NBIN] = {{0}};
    for (size_t i = 0; i < s->n; i++) {
        if (s->ch[i] != 0 || !isfinite(s->ph[i])) continue;
        int b = s->ph[i] <= 0 ? 0 : (int)(s->ph[i] / w);
        if (b >= NBIN) b = NBIN - 1;
        cnt[0][b]++;
        if (cc_eval_accepts(s->score[i], cutoff)) cnt[1][b]++;
        if (s->label[i]) cnt[2][b]++;
    }
    double top = 1;
    for (int b = 0; b < NBIN; b++) top = fmax(top, cnt[0][b]);
    if (plot_begin(png, e)) return -1;
    char t[160];
    snprintf(t, sizeof t, "%zu records of channel 0, cutoff %.2f, bin width %.3g mV", n0, cutoff,
             w * 1e3);
    plot_page_title("Pulse-height spectrum: all / accepted by the model / by the labels", t);
    plot_frame(0.1, 0.95, 0.12, 0.86, 0.0, NBIN * w, -0.3, log10(top) + 0.3, 0, 1,
               "pulse height above the pre-trigger baseline (V)", "records per bin", "");
    const int cols[3] = {COL_FG, COL_BLUE, COL_ORANGE};
    const int sty[3] = {1, 1, 2};
    for (int k = 0; k < 3; k++) {
        PLFLT x[2 * NBIN + 2], y[2 * NBIN + 2];
        int m = 0;
        for (int b = 0; b < NBIN; b++) {
            double v = cnt[k][b] > 0 ? log10(cnt[k][b]) : -0.3; /* empty bins at the floor */
            x[m] = b * w, y[m++] = v;
            x[m] = (b + 1) * w, y[m++] = v;
        }
        plcol0(cols[k]);
        pllsty(sty[k]);
        plwidth(k == 0 ? 1.5 : 2.0);
        plline(m, x, y);
    }
    pllsty(1);
    plwidth(1.0);
    plot_entry le[] = {{"all records", COL_FG, NULL},
                       {"accepted by the model (score >= cutoff)", COL_BLUE, NULL},
                       {"accepted by the labels (truth: clean)", COL_ORANGE, NULL}};
    plot_legend(le, 3, PL_POSITION_RIGHT | PL_POSITION_TOP);
    return plot_end(png, e);
}

/* ---- manifold ---- */

/* Rows of the manifold: one per complete module event. */
typedef struct events {
    size_t n, nch;
    float *x;       /* [n * nch * CC_EVAL_VIEW] */
    uint8_t *clean; /* model: every channel accepted */
    uint8_t *truth; /* labels: every channel clean */
} events;

static int collect_events(const cc_eval_set *s, double cutoff, events *ev, cc_err *e)
{
    size_t nch = 1;
    for (size_t i = 0; i < s->n; i++)
        if (s->ch[i] + 1 > nch) nch = s->ch[i] + 1;
    memset(ev, 0, sizeof *ev);
    ev->nch = nch;
    ev->x = malloc((s->n / nch + 1) * nch * CC_EVAL_VIEW * sizeof *ev->x);
    ev->clean = malloc(s->n / nch + 1), ev->truth = malloc(s->n / nch + 1);
    if (!ev->x || !ev->clean || !ev->truth)
        return cc_err_set(e, "plot manifold: out of memory for %zu events", s->n / nch);
    for (size_t i = 0; i + nch <= s->n;) {
        int ok = 1;
        for (size_t c = 0; c < nch && ok; c++)
            ok = s->ch[i + c] == c && s->event[i + c] == s->event[i] &&
                 isfinite(s->view[(i + c) * CC_EVAL_VIEW]);
        if (!ok) {
            i++;
            continue;
        }
        float *row = ev->x + ev->n * nch * CC_EVAL_VIEW;
        uint8_t cl = 1, tr = 1;
        for (size_t c = 0; c < nch; c++) {
            memcpy(row + c * CC_EVAL_VIEW, s->view + (i + c) * CC_EVAL_VIEW,
                   CC_EVAL_VIEW * sizeof *row);
            cc_prep_minmax(row + c * CC_EVAL_VIEW, CC_EVAL_VIEW);
            cl &= cc_eval_accepts(s->score[i + c], cutoff);
            tr &= s->label[i + c] != 0;
        }
        ev->clean[ev->n] = cl, ev->truth[ev->n] = tr;
        ev->n++;
        i += nch;
    }
    if (ev->n < 3) return cc_err_set(e, "plot manifold: only %zu complete module events", ev->n);
    return 0;
}

static void events_free(events *ev)
{
    free(ev->x), free(ev->clean), free(ev->truth);
}

int plot_manifold(const cc_eval_set *s, double cutoff, const char *png, cc_err *e)
{
    events ev;
    double *pc = NULL, var[2];
    PLFLT *x = NULL, *y = NULL;
    int rc = -1;
    if (collect_events(s, cutoff, &ev, e)) goto out;
    size_t d = ev.nch * CC_EVAL_VIEW;
    pc = malloc(ev.n * 2 * sizeof *pc);
    x = malloc(ev.n * sizeof *x), y = malloc(ev.n * sizeof *y);
    if (!pc || !x || !y) {
        cc_err_set(e, "plot manifold: out of memory");
        goto out;
    }
    if (cc_eval_pca(ev.x, ev.n, d, 2, pc, var, NULL, e)) goto out;
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (size_t i = 0; i < ev.n; i++) {
        x0 = fmin(x0, pc[2 * i]), x1 = fmax(x1, pc[2 * i]);
        y0 = fmin(y0, pc[2 * i + 1]), y1 = fmax(y1, pc[2 * i + 1]);
    }
    double mx = 0.05 * (x1 - x0) + 1e-9, my = 0.05 * (y1 - y0) + 1e-9;
    if (plot_begin(png, e)) goto out;
    char t[200], l0[64], l1[64], xl[64], yl[64];
    size_t nclean = 0;
    for (size_t i = 0; i < ev.n; i++) nclean += ev.clean[i];
    snprintf(t, sizeof t, "%zu events of %zu channels x %d samples (min-max scaled), cutoff %.2f",
             ev.n, ev.nch, CC_EVAL_VIEW, cutoff);
    plot_page_title("Module manifold: first two principal components, all versus cleaned", t);
    snprintf(xl, sizeof xl, "PC 1 (variance %.3g, arb. units)", var[0]);
    snprintf(yl, sizeof yl, "PC 2 (variance %.3g, arb. units)", var[1]);
    plot_frame(0.1, 0.95, 0.12, 0.86, x0 - mx, x1 + mx, y0 - my, y1 + my * 6, 0, 0, xl, yl, "");
    const int pass_col[2] = {COL_GREY, COL_BLUE};
    for (int pass = 0; pass < 2; pass++) {
        int m = 0;
        for (size_t i = 0; i < ev.n; i++)
            if (pass == 0 || ev.clean[i]) x[m] = pc[2 * i], y[m++] = pc[2 * i + 1];
        plcol0(pass_col[pass]);
        plschr(0.0, pass ? 0.5 : 0.8);
        plstring(m, x, y, pass ? "#(727)" : "#(728)");
    }
    plschr(0.0, 1.0);
    snprintf(l0, sizeof l0, "all events (%zu)", ev.n);
    snprintf(l1, sizeof l1, "cleaned by the model (%zu)", nclean);
    plot_entry le[] = {{l0, COL_GREY, "#(728)"}, {l1, COL_BLUE, "#(727)"}};
    plot_legend(le, 2, PL_POSITION_RIGHT | PL_POSITION_TOP);
    rc = plot_end(png, e);
out:
    events_free(&ev);
    free(pc), free(x), free(y);
    return rc;
}

/* ---- examples ---- */

enum { GX = 4, GY = 3 };

int plot_examples(const cc_eval_set *s, double cutoff, const char *png, cc_err *e)
{
    size_t pick[GX * GY], np = 0;
    /* misclassified first, then one correct record per class in order */
    for (size_t i = 0; i < s->n && np < GX * GY; i++)
        if (cc_eval_accepts(s->score[i], cutoff) != (s->label[i] != 0) &&
            isfinite(s->view[i * CC_EVAL_VIEW]))
            pick[np++] = i;
    size_t nwrong = np;
    int seen[CC_EVAL_NCLASS] = {0};
    for (size_t i = 0; i < s->n && np < GX * GY; i++) {
        int c = s->class_id[i] >= 0 && s->class_id[i] < CC_EVAL_NCLASS ? s->class_id[i] : 0;
        if (cc_eval_accepts(s->score[i], cutoff) == (s->label[i] != 0) && !seen[c] &&
            isfinite(s->view[i * CC_EVAL_VIEW]))
            seen[c] = 1, pick[np++] = i;
    }
    if (np == 0) return cc_err_set(e, "plot examples: no record with a valid view");
    if (plot_begin(png, e)) return -1;
    char t[160];
    snprintf(t, sizeof t,
             "panel title: true class: score; %zu misclassified (red), %zu correct (blue), "
             "cutoff %.2f",
             nwrong, np - nwrong, cutoff);
    plot_page_title("Example records with their scores", t);
    PLFLT x[CC_EVAL_VIEW], y[CC_EVAL_VIEW];
    plschr(0.0, 0.65);
    for (size_t k = 0; k < np; k++) {
        size_t i = pick[k], gx = k % GX, gy = k / GX;
        const float *v = s->view + i * CC_EVAL_VIEW;
        double lo = INFINITY, hi = -INFINITY;
        for (int j = 0; j < CC_EVAL_VIEW; j++) {
            x[j] = (j + 0.5) * s->view_dt_ms, y[j] = 1e3 * v[j]; /* mV */
            lo = fmin(lo, y[j]), hi = fmax(hi, y[j]);
        }
        double pad = 0.08 * (hi - lo) + 1e-6;
        const char *cn = cc_sim_class_name(s->class_id[i]);
        snprintf(t, sizeof t, "%s: %.3f", cn ? cn : "?", (double)s->score[i]);
        double vx0 = 0.07 + gx * 0.2325, vy1 = 0.86 - gy * 0.28;
        plot_frame(vx0, vx0 + 0.19, vy1 - 0.2, vy1, 0, CC_EVAL_VIEW * s->view_dt_ms, lo - pad,
                   hi + pad, 0, 0, gy == GY - 1 || k + GX >= np ? "time (ms)" : "",
                   gx == 0 ? "signal (mV)" : "", t);
        plcol0(k < nwrong ? COL_RED : COL_BLUE);
        plline(CC_EVAL_VIEW, x, y);
    }
    plschr(0.0, 1.0);
    return plot_end(png, e);
}
