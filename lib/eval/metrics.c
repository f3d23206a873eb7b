/* metrics.c - confusion counts, the paper's ratios, binned rate maps and the
 * report built from them (see cc_eval.h for the definitions).
 *
 * Maps store counts, not rates, so that maps can be merged and a reader can
 * see how many records stand behind each value; the normalised integrals
 * (IOR, IOS) are plain means over non-empty cells because the cells are
 * equal in log(SNR) and in (onset, ratio) area respectively.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cc_eval.h"

void cc_eval_count(const float *score, const uint8_t *label, size_t n, double cutoff,
                   cc_eval_counts *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < n; i++) {
        int acc = cc_eval_accepts(score[i], cutoff);
        if (label[i])
            acc ? c->tp++ : c->fn++;
        else
            acc ? c->fp++ : c->tn++;
    }
}

static double ratio(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : NAN;
}

void cc_eval_metrics_from(cc_eval_metrics *m)
{
    const cc_eval_counts *c = &m->c;
    m->recall = ratio(c->tp, c->tp + c->fn);
    m->selectivity = ratio(c->tn, c->tn + c->fp);
    m->ba = (m->recall + m->selectivity) / 2; /* NaN propagates */
    m->precision = ratio(c->tp, c->tp + c->fp);
    m->accuracy = ratio(c->tp + c->tn, c->tp + c->tn + c->fp + c->fn);
}

void cc_eval_at(const float *score, const uint8_t *label, size_t n, double cutoff,
                cc_eval_metrics *m)
{
    m->cutoff = cutoff;
    cc_eval_count(score, label, n, cutoff, &m->c);
    cc_eval_metrics_from(m);
}

size_t cc_eval_default_cutoffs(double *cut, size_t max)
{
    size_t n = 0;
    for (int i = 1; i <= 19 && n < max; i++) cut[n++] = i * 0.05;
    return n;
}

/* ---- maps ---- */

int cc_eval_map_init(cc_eval_map *m, size_t nx, double x_lo, double x_hi, int x_log, size_t ny,
                     double y_lo, double y_hi, cc_err *e)
{
    memset(m, 0, sizeof *m);
    if (nx == 0 || ny == 0 || nx > 4096 || ny > 4096)
        return cc_err_set(e, "eval map: expected 1..4096 bins per axis, found %zu x %zu", nx, ny);
    if (!(isfinite(x_lo) && isfinite(x_hi) && x_lo < x_hi) || (x_log && !(x_lo > 0)))
        return cc_err_set(e, "eval map: x range [%g, %g]: expected finite lo < hi%s", x_lo, x_hi,
                          x_log ? " with lo > 0 (log bins)" : "");
    if (ny > 1 && !(isfinite(y_lo) && isfinite(y_hi) && y_lo < y_hi))
        return cc_err_set(e, "eval map: y range [%g, %g]: expected finite lo < hi", y_lo, y_hi);
    m->n = calloc(nx * ny, sizeof *m->n);
    m->k = calloc(nx * ny, sizeof *m->k);
    if (!m->n || !m->k) {
        cc_eval_map_release(m);
        return cc_err_set(e, "eval map: out of memory for %zu x %zu cells", nx, ny);
    }
    m->nx = nx, m->ny = ny;
    m->x_lo = x_lo, m->x_hi = x_hi, m->x_log = x_log;
    m->y_lo = ny > 1 ? y_lo : 0, m->y_hi = ny > 1 ? y_hi : 1;
    return 0;
}

void cc_eval_map_release(cc_eval_map *m)
{
    if (!m) return;
    free(m->n);
    free(m->k);
    memset(m, 0, sizeof *m);
}

/* Bin index of v in [lo, hi) split into nb bins (hi itself goes to the last
 * bin), or -1 outside. */
static long bin_of(double v, double lo, double hi, size_t nb)
{
    if (!(v >= lo && v <= hi)) return -1;
    long i = (long)((v - lo) / (hi - lo) * (double)nb);
    return i >= (long)nb ? (long)nb - 1 : i;
}

int cc_eval_map_add(cc_eval_map *m, double x, double y, int success)
{
    long ix = m->x_log ? (x > 0 ? bin_of(log(x), log(m->x_lo), log(m->x_hi), m->nx) : -1)
                       : bin_of(x, m->x_lo, m->x_hi, m->nx);
    long iy = m->ny > 1 ? bin_of(y, m->y_lo, m->y_hi, m->ny) : 0;
    if (ix < 0 || iy < 0) return -1;
    size_t c = (size_t)iy * m->nx + (size_t)ix;
    m->n[c]++;
    if (success) m->k[c]++;
    return 0;
}

double cc_eval_map_edge_x(const cc_eval_map *m, size_t i)
{
    double f = (double)i / (double)m->nx;
    return m->x_log ? exp(log(m->x_lo) + f * (log(m->x_hi) - log(m->x_lo)))
                    : m->x_lo + f * (m->x_hi - m->x_lo);
}

double cc_eval_map_edge_y(const cc_eval_map *m, size_t i)
{
    return m->y_lo + (double)i / (double)m->ny * (m->y_hi - m->y_lo);
}

double cc_eval_map_rate(const cc_eval_map *m, size_t ix, size_t iy)
{
    size_t c = iy * m->nx + ix;
    return ratio(m->k[c], m->n[c]);
}

double cc_eval_map_integral(const cc_eval_map *m, size_t *n_empty)
{
    double sum = 0;
    size_t used = 0, empty = 0;
    for (size_t iy = 0; iy < m->ny; iy++)
        for (size_t ix = 0; ix < m->nx; ix++) {
            double r = cc_eval_map_rate(m, ix, iy);
            if (isnan(r))
                empty++;
            else
                sum += r, used++;
        }
    if (n_empty) *n_empty = empty;
    return used ? sum / (double)used : NAN;
}

/* ---- the report ---- */

static void copy_name(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

void cc_eval_report_init(cc_eval_report *r, const char *classifier, const char *model,
                         const char *source, double cutoff)
{
    memset(r, 0, sizeof *r);
    copy_name(r->classifier, sizeof r->classifier, classifier);
    copy_name(r->model, sizeof r->model, model);
    copy_name(r->source, sizeof r->source, source);
    r->cutoff = cutoff;
    r->ior_value = r->ios_value = NAN;
    r->at.recall = r->at.selectivity = r->at.ba = r->at.precision = r->at.accuracy = NAN;
}

void cc_eval_report_labels(cc_eval_report *r, const float *score, const uint8_t *label,
                           const int *class_id, size_t n)
{
    double cut[CC_EVAL_MAXCUT];
    r->n = n;
    cc_eval_at(score, label, n, r->cutoff, &r->at);
    r->n_sweep = cc_eval_default_cutoffs(cut, CC_EVAL_MAXCUT);
    for (size_t j = 0; j < r->n_sweep; j++) cc_eval_at(score, label, n, cut[j], &r->sweep[j]);
    r->has_classes = class_id != NULL;
    memset(r->cls_n, 0, sizeof r->cls_n);
    memset(r->cls_acc, 0, sizeof r->cls_acc);
    if (!class_id) return;
    for (size_t i = 0; i < n; i++) {
        int c = class_id[i] >= 0 && class_id[i] < CC_EVAL_NCLASS ? class_id[i] : 0;
        r->cls_n[c]++;
        if (cc_eval_accepts(score[i], r->cutoff)) r->cls_acc[c]++;
    }
}

/* Fills map from the records of set with finite x (and y when 2-D), counting
 * acceptance (want_accept) or rejection as success. */
static void fill_map(cc_eval_map *m, const cc_eval_set *set, const double *x, const double *y,
                     int want_label, int want_accept, double cutoff)
{
    for (size_t i = 0; i < set->n; i++) {
        if (set->label[i] != want_label || !isfinite(x[i]) || (y && !isfinite(y[i]))) continue;
        int acc = cc_eval_accepts(set->score[i], cutoff);
        cc_eval_map_add(m, x[i], y ? y[i] : 0, want_accept ? acc : !acc);
    }
}

int cc_eval_report_ior(cc_eval_report *r, const cc_eval_set *set, double snr_lo, double snr_hi,
                       size_t nbins, cc_err *e)
{
    cc_eval_map_release(&r->ior);
    if (cc_eval_map_init(&r->ior, nbins, snr_lo, snr_hi, 1, 1, 0, 1, e))
        return cc_err_prefix(e, "IOR");
    snprintf(r->ior.what, sizeof r->ior.what, "recall");
    snprintf(r->ior.x_label, sizeof r->ior.x_label, "SNR (pulse height / baseline RMS)");
    fill_map(&r->ior, set, set->snr, NULL, 1, 1, r->cutoff);
    r->ior_value = cc_eval_map_integral(&r->ior, &r->ior_empty);
    r->has_ior = 1;
    return 0;
}

int cc_eval_report_ios(cc_eval_report *r, const cc_eval_set *set, size_t nx, double dt_lo,
                       double dt_hi, size_t ny, double r_lo, double r_hi, cc_err *e)
{
    cc_eval_map_release(&r->ios);
    if (cc_eval_map_init(&r->ios, nx, dt_lo, dt_hi, 0, ny, r_lo, r_hi, e))
        return cc_err_prefix(e, "IOS");
    snprintf(r->ios.what, sizeof r->ios.what, "selectivity");
    snprintf(r->ios.x_label, sizeof r->ios.x_label, "onset difference (ms)");
    snprintf(r->ios.y_label, sizeof r->ios.y_label, "pulse-height ratio PH2/PH1");
    fill_map(&r->ios, set, set->dt_ms, set->ratio, 0, 0, r->cutoff);
    r->ios_value = cc_eval_map_integral(&r->ios, &r->ios_empty);
    r->has_ios = 1;
    return 0;
}

void cc_eval_report_release(cc_eval_report *r)
{
    cc_eval_map_release(&r->ior);
    cc_eval_map_release(&r->ios);
    memset(r, 0, sizeof *r);
}
