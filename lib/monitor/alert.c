/* alert.c - CUSUM detectors, threshold design and the alert state machine
 * (see cc_alert.h for the method). */
#include "cc_alert.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GRID_LO     CC_ALERT_MU_MIN
#define GRID_DECADE 4  /* grid points per decade of mu0 */
#define GRID_N      21 /* 0.1 .. 10000 */
#define BINS_WEEK   (7.0 * 86400.0)

struct cc_alert_design {
    cc_alert_config c;
    double arl0;      /* per detector, bins */
    double h[GRID_N]; /* Poisson threshold at mu = GRID_LO * 10^(i/GRID_DECADE) */
};

struct cc_alert {
    const cc_alert_design *d;
    uint32_t channel;
    cc_alert_state state;
    uint64_t learn_bins, learn_n, learn_k;
    double learn_k2;
    double mu0, n_mean, p0;    /* baseline */
    double var;                /* variance of k per bin (baseline) */
    double kref, hP, a, b, hB; /* derived from the baseline */
    double S, W;
    double last_rp, last_rb; /* S/hP, W/hB of the last bin before any restart */
    uint32_t quiet;
    uint64_t since_ns, last_emit_ns, alarms;
    double dispersion;
};

void cc_alert_config_default(cc_alert_config *c)
{
    *c = (cc_alert_config){.enabled = 1,
                           .bin_s = 10,
                           .false_alarms_per_week = 1.0,
                           .min_change = 2.0,
                           .learn_bins = 60,
                           .min_counts = 20,
                           .baseline_alpha = 0.002,
                           .warn_ratio = 0.8,
                           .clear_ratio = 0.4,
                           .auto_clear_bins = 30,
                           .reminder_s = 600};
}

int cc_alert_config_from_yaml(const cc_ynode *map, cc_alert_config *c, cc_err *e)
{
    static const char *const known[] = {"enabled",
                                        "bin_s",
                                        "false_alarms_per_week",
                                        "min_change",
                                        "learn_bins",
                                        "min_counts",
                                        "baseline_alpha",
                                        "warn_ratio",
                                        "clear_ratio",
                                        "auto_clear_bins",
                                        "reminder_s",
                                        "notify",
                                        NULL}; /* notify: daemon/alert_sink.h */
    if (!map) return 0;
    if (cc_y_expect(map, CC_Y_MAP, "alerts", e) || cc_y_check_keys(map, known, e)) return -1;
    int64_t v;
    if (cc_y_bool(map, "enabled", 0, &c->enabled, e)) return -1;
#define U32(key, lo, hi, field)                                                                    \
    v = c->field;                                                                                  \
    if (cc_y_i64(map, key, 0, lo, hi, &v, e)) return -1;                                           \
    c->field = (uint32_t)v;
    U32("bin_s", 1, 3600, bin_s);
    U32("learn_bins", 1, 1000000, learn_bins);
    U32("min_counts", 1, 1000000000, min_counts);
    U32("auto_clear_bins", 0, 1000000, auto_clear_bins);
    U32("reminder_s", 0, 86400 * 7, reminder_s);
#undef U32
    if (cc_y_f64(map, "false_alarms_per_week", 0, 1e-6, 1e4, &c->false_alarms_per_week, e) ||
        cc_y_f64(map, "min_change", 0, 1.05, 100, &c->min_change, e) ||
        cc_y_f64(map, "baseline_alpha", 0, 0, 0.5, &c->baseline_alpha, e) ||
        cc_y_f64(map, "warn_ratio", 0, 0.01, 1, &c->warn_ratio, e) ||
        cc_y_f64(map, "clear_ratio", 0, 0, 1, &c->clear_ratio, e))
        return -1;
    if (c->clear_ratio >= c->warn_ratio)
        return cc_y_err(e, map, "alerts: clear_ratio (%g) must be below warn_ratio (%g)",
                        c->clear_ratio, c->warn_ratio);
    return 0;
}

const char *cc_alert_state_name(cc_alert_state s)
{
    static const char *const n[] = {"no_stats", "ok", "warning", "alarm"};
    return (unsigned)s < 4 ? n[s] : "unknown";
}

const char *cc_alert_cause_name(cc_alert_cause c)
{
    static const char *const n[] = {"learned",    "poisson", "bernoulli", "quiet",
                                    "auto_clear", "cleared", "reminder",  "relearn"};
    return (unsigned)c < sizeof n / sizeof n[0] ? n[c] : "unknown";
}

/* ---- ARL by a Brook-Evans Markov chain ---------------------------------- */

/* Solves (I - R) L = 1 in place (R is m x m, row-major, sub-stochastic, so
 * I - R is weakly diagonally dominant and needs no pivoting). Returns L[0]. */
static double solve_arl(double *A, double *L, int m)
{
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < m; j++) A[i * m + j] = (i == j) - A[i * m + j];
        L[i] = 1.0;
    }
    for (int p = 0; p < m; p++) {
        double piv = A[p * m + p];
        if (!(fabs(piv) > 1e-300)) return INFINITY;
        for (int i = p + 1; i < m; i++) {
            double f = A[i * m + p] / piv;
            if (f == 0) continue;
            for (int j = p; j < m; j++) A[i * m + j] -= f * A[p * m + j];
            L[i] -= f * L[p];
        }
    }
    for (int i = m - 1; i >= 0; i--) {
        double s = L[i];
        for (int j = i + 1; j < m; j++) s -= A[i * m + j] * L[j];
        L[i] = s / A[i * m + i];
    }
    return L[0];
}

double cc_alert_arl_poisson(double mu, double kref, double h, int states)
{
    if (!(mu > 0) || !(kref > 0) || !(h > 0) || !isfinite(mu + kref + h)) return -1;
    int m = states;
    if (m <= 0) {
        double want = ceil(8.0 * h / kref);
        m = want < 100 ? 100 : want > 400 ? 400 : (int)want;
    }
    double w = h / (m - 0.5);
    long xlo = (long)floor(mu - 12.0 * sqrt(mu) - 10.0), xhi;
    if (xlo < 0) xlo = 0;
    xhi = (long)ceil(mu + 12.0 * sqrt(mu) + h + kref + 10.0);
    size_t nx = (size_t)(xhi - xlo + 1);
    double *pmf = malloc(nx * sizeof *pmf);
    double *A = calloc((size_t)m * m, sizeof *A), *L = malloc((size_t)m * sizeof *L);
    double r = -1;
    if (!pmf || !A || !L) goto out;
    for (size_t i = 0; i < nx; i++) {
        double x = (double)(xlo + (long)i);
        pmf[i] = exp(-mu + x * log(mu) - lgamma(x + 1.0));
    }
    for (int i = 0; i < m; i++) {
        double v = i * w;
        for (size_t xi = 0; xi < nx; xi++) {
            double u = v + (double)(xlo + (long)xi) - kref;
            if (u >= h) break;
            int j = u <= 0 ? 0 : (int)floor(u / w + 0.5);
            A[i * m + j] += pmf[xi];
        }
    }
    r = solve_arl(A, L, m);
out:
    free(pmf);
    free(A);
    free(L);
    return r;
}

static double arl_excess(double mu0, double kref, double h, double target)
{
    double a = cc_alert_arl_poisson(mu0, kref, h, 0);
    return a > 0 && isfinite(a) ? log(a) - target : 50.0;
}

double cc_alert_h_poisson(double mu0, double c, double arl0)
{
    if (!(mu0 > 0) || !(c > 1) || !(arl0 > 1)) return -1;
    double kref = (c * mu0 - mu0) / log(c), target = log(arl0);
    /* A non-finite or negative ARL means the chain is numerically singular:
     * the ARL is far above any target, so treat it as "too high". */
#define F(hh) arl_excess(mu0, kref, (hh), target)
    double lo = 0.25, flo = F(lo);
    while (flo > 0 && lo > 1e-3) flo = F(lo /= 2);
    if (flo > 0) return lo;
    double hi = lo, fhi = flo;
    while (fhi < 0) {
        lo = hi, flo = fhi;
        hi *= 2;
        if (hi > 1e5) return -1;
        fhi = F(hi);
    }
    int side = 0;
    for (int it = 0; it < 60 && hi - lo > 1e-4 * hi; it++) {
        double x = hi - fhi * (hi - lo) / (fhi - flo), fx = F(x);
        if (fx > 0) {
            hi = x, fhi = fx;
            if (side == 1) flo /= 2;
            side = 1;
        } else {
            lo = x, flo = fx;
            if (side == -1) fhi /= 2;
            side = -1;
        }
    }
#undef F
    return 0.5 * (lo + hi);
}

/* ---- design --------------------------------------------------------------- */

cc_alert_design *cc_alert_design_new(const cc_alert_config *c, cc_err *e)
{
    if (c->bin_s < 1 || c->bin_s > 3600)
        return cc_err_set(e, "alerts.bin_s: expected 1..3600 s, found %u", c->bin_s), NULL;
    if (!(c->false_alarms_per_week > 0))
        return cc_err_set(e, "alerts.false_alarms_per_week: expected > 0, found %g",
                          c->false_alarms_per_week),
               NULL;
    if (!(c->min_change >= 1.05 && c->min_change <= 100))
        return cc_err_set(e, "alerts.min_change: expected 1.05..100, found %g", c->min_change),
               NULL;
    if (!(c->clear_ratio >= 0 && c->clear_ratio < c->warn_ratio && c->warn_ratio <= 1))
        return cc_err_set(e, "alerts: expected 0 <= clear_ratio < warn_ratio <= 1, found %g and %g",
                          c->clear_ratio, c->warn_ratio),
               NULL;
    if (c->learn_bins < 1 || c->min_counts < 1)
        return cc_err_set(e, "alerts: learn_bins and min_counts must be >= 1, found %u and %u",
                          c->learn_bins, c->min_counts),
               NULL;
    cc_alert_design *d = calloc(1, sizeof *d);
    if (!d) return cc_err_set(e, "alerts: out of memory"), NULL;
    d->c = *c;
    /* Two detectors per channel share the false-alarm budget. */
    d->arl0 = 2.0 * (BINS_WEEK / c->bin_s) / c->false_alarms_per_week;
    for (int i = 0; i < GRID_N; i++) {
        double mu = GRID_LO * pow(10.0, (double)i / GRID_DECADE);
        d->h[i] = cc_alert_h_poisson(mu, c->min_change, d->arl0);
        if (!(d->h[i] > 0)) {
            cc_err_set(e, "alerts: no threshold for mu0=%g, change x%g, ARL0 %g bins", mu,
                       c->min_change, d->arl0);
            free(d);
            return NULL;
        }
    }
    return d;
}

void cc_alert_design_free(cc_alert_design **d)
{
    if (!d || !*d) return;
    free(*d);
    *d = NULL;
}

const cc_alert_config *cc_alert_design_config(const cc_alert_design *d)
{
    return &d->c;
}

double cc_alert_design_arl0(const cc_alert_design *d)
{
    return d->arl0;
}

double cc_alert_design_h(const cc_alert_design *d, double mu0)
{
    double x = log10((mu0 > GRID_LO ? mu0 : GRID_LO) / GRID_LO) * GRID_DECADE;
    if (x >= GRID_N - 1) return d->h[GRID_N - 1];
    int i = (int)x;
    double f = x - i;
    return d->h[i] * (1 - f) + d->h[i + 1] * f;
}

/* ---- per-channel detector ------------------------------------------------ */

cc_alert *cc_alert_new(const cc_alert_design *d, uint32_t channel, uint64_t now_ns)
{
    cc_alert *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->d = d;
    a->channel = channel;
    a->state = CC_ALERT_NOSTATS;
    a->since_ns = a->last_emit_ns = now_ns;
    return a;
}

void cc_alert_free(cc_alert **a)
{
    if (!a || !*a) return;
    free(*a);
    *a = NULL;
}

/* Recomputes reference values and thresholds from the baseline. */
static void derive(cc_alert *a)
{
    double c = a->d->c.min_change, mu = a->mu0 > CC_ALERT_MU_MIN ? a->mu0 : CC_ALERT_MU_MIN;
    /* Over-dispersion D = var/mean (bursts): k/D has the mean and variance of a
     * Poisson(mu/D) count, so the CUSUM on k with the same kref needs the
     * threshold D * h(mu/D) (quasi-Poisson). */
    double D = a->dispersion > 1 ? a->dispersion : 1;
    a->kref = (c * mu - mu) / log(c);
    a->hP = D * cc_alert_design_h(a->d, mu / D);
    double p0 = a->p0 < 1e-6 ? 1e-6 : a->p0 > 1 - 1e-6 ? 1 - 1e-6 : a->p0;
    double p1 = c * p0 < 0.5 * (1 + p0) ? c * p0 : 0.5 * (1 + p0);
    a->a = log(p1 / p0);
    a->b = log((1 - p0) / (1 - p1));
    a->hB = a->a * D * cc_alert_design_h(a->d, a->n_mean * p0 / D);
}

static double ratio_of(const cc_alert *a)
{
    double rp = a->S / a->hP, rb = a->W / a->hB;
    return rp > rb ? rp : rb;
}

static int emit(cc_alert *a, cc_alert_event *ev, cc_alert_state to, cc_alert_cause cause,
                double ratio, uint64_t n, uint64_t k, uint64_t now_ns)
{
    *ev = (cc_alert_event){.channel = a->channel,
                           .from = a->state,
                           .to = to,
                           .cause = cause,
                           .ratio = ratio,
                           .mu0 = a->mu0,
                           .p0 = a->p0,
                           .bin_records = n,
                           .bin_artefacts = k,
                           .t_ns = now_ns};
    if (to != a->state) a->since_ns = now_ns;
    a->state = to;
    a->last_emit_ns = now_ns;
    return 1;
}

static int learn(cc_alert *a, uint64_t n, uint64_t k, uint64_t now_ns, cc_alert_event *ev)
{
    a->learn_bins++;
    a->learn_n += n;
    a->learn_k += k;
    a->learn_k2 += (double)k * (double)k;
    if (a->learn_bins < a->d->c.learn_bins || a->learn_k < a->d->c.min_counts) return 0;
    double nb = (double)a->learn_bins;
    a->mu0 = (double)a->learn_k / nb;
    a->n_mean = (double)a->learn_n / nb;
    a->p0 = (double)a->learn_k / (double)a->learn_n;
    a->var = a->learn_k2 / nb - a->mu0 * a->mu0;
    a->dispersion = a->var / a->mu0;
    a->S = a->W = 0;
    derive(a);
    return emit(a, ev, CC_ALERT_OK, CC_AC_LEARNED, 0, n, k, now_ns);
}

int cc_alert_bin(cc_alert *a, uint64_t n, uint64_t k, uint64_t now_ns, cc_alert_event *ev)
{
    const cc_alert_config *c = &a->d->c;
    if (k > n) k = n;
    if (a->state == CC_ALERT_NOSTATS) return learn(a, n, k, now_ns, ev);
    /* Whether this bin may update the baseline is decided before it is seen:
     * gating on the updated statistic would keep only low bins (a biased,
     * too low baseline and too many false alarms). */
    int quiet_before = ratio_of(a) < c->clear_ratio;
    a->S += (double)k - a->kref;
    if (a->S < 0) a->S = 0;
    if (n > 0) {
        a->W += (double)k * a->a - (double)(n - k) * a->b;
        if (a->W < 0) a->W = 0;
    }
    int cross_p = a->S >= a->hP, cross_b = a->W >= a->hB;
    double pre = ratio_of(a);
    a->last_rp = a->S / a->hP;
    a->last_rb = a->W / a->hB;
    cc_alert_cause cause =
        cross_p || (!cross_b && a->S / a->hP >= a->W / a->hB) ? CC_AC_POISSON : CC_AC_BERNOULLI;
    if (cross_p) a->S = 0;
    if (cross_b) a->W = 0;
    double r = ratio_of(a);
    int cross = cross_p || cross_b;
    switch (a->state) {
    case CC_ALERT_OK:
    case CC_ALERT_WARNING:
        if (cross) {
            a->alarms++;
            a->quiet = 0;
            return emit(a, ev, CC_ALERT_ALARM, cause, pre, n, k, now_ns);
        }
        if (a->state == CC_ALERT_OK && r >= c->warn_ratio)
            return emit(a, ev, CC_ALERT_WARNING, cause, r, n, k, now_ns);
        if (a->state == CC_ALERT_WARNING && r < c->clear_ratio)
            return emit(a, ev, CC_ALERT_OK, CC_AC_QUIET, r, n, k, now_ns);
        if (a->state == CC_ALERT_OK && c->baseline_alpha > 0 && quiet_before) {
            /* Slow update, only while nothing is suspicious: a CUSUM on its way up
             * must not be absorbed into the baseline. */
            double al = c->baseline_alpha, dk = (double)k - a->mu0;
            a->var = (1 - al) * a->var + al * dk * dk;
            a->mu0 = (1 - al) * a->mu0 + al * (double)k;
            if (a->mu0 > 0) a->dispersion = a->var / a->mu0;
            a->n_mean = (1 - al) * a->n_mean + al * (double)n;
            if (a->n_mean > 0) a->p0 = a->mu0 / a->n_mean;
            derive(a);
        }
        return 0;
    case CC_ALERT_ALARM:
        a->quiet = cross ? 0 : r < c->clear_ratio ? a->quiet + 1 : 0;
        if (c->auto_clear_bins && a->quiet >= c->auto_clear_bins) {
            a->S = a->W = 0;
            return emit(a, ev, CC_ALERT_OK, CC_AC_AUTO_CLEAR, r, n, k, now_ns);
        }
        if (c->reminder_s && now_ns - a->last_emit_ns >= (uint64_t)c->reminder_s * 1000000000ull)
            return emit(a, ev, CC_ALERT_ALARM, CC_AC_REMINDER, cross ? pre : r, n, k, now_ns);
        return 0;
    default:
        return 0;
    }
}

int cc_alert_clear(cc_alert *a, uint64_t now_ns, cc_alert_event *ev)
{
    if (a->state != CC_ALERT_ALARM && a->state != CC_ALERT_WARNING) return 0;
    a->S = a->W = a->last_rp = a->last_rb = 0;
    a->quiet = 0;
    return emit(a, ev, CC_ALERT_OK, CC_AC_CLEARED, 0, 0, 0, now_ns);
}

int cc_alert_relearn(cc_alert *a, uint64_t now_ns, cc_alert_event *ev)
{
    a->learn_bins = a->learn_n = a->learn_k = 0;
    a->learn_k2 = 0;
    a->S = a->W = a->last_rp = a->last_rb = 0;
    a->quiet = 0;
    return emit(a, ev, CC_ALERT_NOSTATS, CC_AC_RELEARN, 0, 0, 0, now_ns);
}

void cc_alert_view_get(const cc_alert *a, cc_alert_view *out)
{
    int on = a->state != CC_ALERT_NOSTATS;
    *out = (cc_alert_view){.state = a->state,
                           .ratio_poisson = on ? a->last_rp : 0,
                           .ratio_bernoulli = on ? a->last_rb : 0,
                           .h_poisson = on ? a->hP : 0,
                           .h_bernoulli = on ? a->hB : 0,
                           .mu0 = a->mu0,
                           .p0 = a->p0,
                           .n_mean = a->n_mean,
                           .since_ns = a->since_ns,
                           .alarms = a->alarms,
                           .dispersion = a->dispersion};
}
