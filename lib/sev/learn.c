/* learn.c - see cc_sev.h. */
#include "cc_sev.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cc_preproc.h"

int cc_sev_find_pulse(const float *x, uint32_t n, uint32_t trig, double min_snr, double *ma,
                      cc_sev_pulse *p)
{
    const uint32_t nb = n / 8, h = CC_SEV_SMOOTH / 2;
    double m = 0, v = 0;
    for (uint32_t i = 0; i < nb; i++) m += x[i];
    m /= nb;
    for (uint32_t i = 0; i < nb; i++) v += (x[i] - m) * (x[i] - m);
    p->base = m, p->sd = sqrt(v / nb);
    /* centred moving average: ma[i] = mean of x[i - h .. i + h - 1] */
    uint32_t ip = h;
    double s = 0;
    for (uint32_t i = 0; i < CC_SEV_SMOOTH; i++) s += x[i];
    for (uint32_t i = h; i + h <= n; i++) {
        ma[i] = s / CC_SEV_SMOOTH;
        if (ma[i] > ma[ip]) ip = i;
        if (i + h < n) s += (double)x[i + h] - x[i - h];
    }
    p->ph = ma[ip] - m, p->peak = ip;
    uint32_t c = ip;
    while (c > h && ma[c - 1] - m >= 0.5 * p->ph) c--;
    p->cross = c;
    return p->sd > 0 && p->ph / p->sd >= min_snr && ip > trig && ip < n / 2;
}

int cc_sev_input(const cc_sim_shape *sh, double fs_hz, uint32_t trig, uint32_t n, float *out,
                 size_t len)
{
    float *raw = malloc(n * sizeof *raw);
    if (!raw) return -1;
    cc_sim_shape_render(sh, fs_hz, trig, raw, n);
    int rc = cc_prep_record(raw, n, out, len) == CC_PREP_OK ? 0 : -1;
    free(raw);
    return rc;
}

/* cumulative deviation bands of stage 2 (units of the baseline noise) */
#define NBAND 5
static const double band_max[NBAND] = {1.5, 2.0, 3.0, 5.0, INFINITY};
#define KEEP 0.7 /* the standard event keeps the tightest band with 70 % of the pulses */

struct cc_sev_learner {
    uint32_t n, trig;
    double fs;
    cc_sev_learn_opts o;
    long long align; /* 50 % crossing of the first pulse, -1 before */
    uint32_t n0, n1; /* pulses of stage 1 and 2 */
    double *sum[NBAND + 1];
    uint32_t *cnt[NBAND + 1]; /* [0]: stage 1, [1 + k]: band k */
    uint32_t nband[NBAND];
    float *sev0; /* the first standard event (after stage 1) */
    double *ma;
};

void cc_sev_learner_free(cc_sev_learner **lp)
{
    if (!lp || !*lp) return;
    cc_sev_learner *l = *lp;
    for (int k = 0; k <= NBAND; k++) free(l->sum[k]), free(l->cnt[k]);
    free(l->sev0);
    free(l->ma);
    free(l);
    *lp = NULL;
}

cc_sev_learner *cc_sev_learner_new(uint32_t n, double fs_hz, uint32_t trig,
                                   const cc_sev_learn_opts *opts, cc_err *e)
{
    cc_sev_learn_opts o = {.pulses = 200, .min_snr = 20};
    if (opts) o = *opts;
    if (n < 4 * CC_SEV_SMOOTH || trig >= n || !(fs_hz > 0) || o.pulses < 10 || !(o.min_snr > 0)) {
        cc_err_set(e,
                   "standard-event learner: records of %u samples (>= %d), trigger %u, rate %g Hz, "
                   "%u pulses (>= 10), min SNR %g: out of range",
                   n, 4 * CC_SEV_SMOOTH, trig, fs_hz, o.pulses, o.min_snr);
        return NULL;
    }
    cc_sev_learner *l = calloc(1, sizeof *l);
    int ok = l != NULL;
    for (int k = 0; ok && k <= NBAND; k++)
        ok = (l->sum[k] = calloc(n, sizeof *l->sum[k])) &&
             (l->cnt[k] = calloc(n, sizeof *l->cnt[k]));
    ok = ok && (l->sev0 = calloc(n, sizeof *l->sev0)) && (l->ma = calloc(n, sizeof *l->ma));
    if (!ok) {
        cc_sev_learner_free(&l);
        cc_err_set(e, "standard-event learner: out of memory for %u samples", n);
        return NULL;
    }
    l->n = n, l->trig = trig, l->fs = fs_hz, l->o = o, l->align = -1;
    return l;
}

/* Adds pulse x (normalised by p, shifted by shift) into average k. */
static void accumulate(cc_sev_learner *l, int k, const float *x, const cc_sev_pulse *p,
                       long long shift)
{
    for (uint32_t i = 0; i < l->n; i++) {
        long long j = (long long)i + shift;
        if (j < 0 || j >= (long long)l->n) continue;
        l->sum[k][j] += (x[i] - p->base) / p->ph;
        l->cnt[k][j]++;
    }
}

/* The mean of average k into y[n], edges without pulses held at the nearest value. */
static void mean_of(const cc_sev_learner *l, int k, float *y)
{
    long long first = -1;
    for (uint32_t i = 0; i < l->n; i++) {
        y[i] = l->cnt[k][i] ? (float)(l->sum[k][i] / l->cnt[k][i]) : NAN;
        if (first < 0 && l->cnt[k][i]) first = i;
    }
    for (uint32_t i = 0; first >= 0 && i < l->n; i++)
        if (isnan(y[i])) y[i] = i < first ? y[first] : y[i - 1];
}

int cc_sev_learner_add(cc_sev_learner *l, const float *x)
{
    const uint32_t half = l->o.pulses / 2;
    cc_sev_pulse p;
    if (cc_sev_learner_complete(l) || !cc_sev_find_pulse(x, l->n, l->trig, l->o.min_snr, l->ma, &p))
        return 0;
    if (l->align < 0) l->align = p.cross;
    const long long shift = l->align - (long long)p.cross;
    if (l->n0 < half) {
        accumulate(l, 0, x, &p, shift);
        if (++l->n0 == half) mean_of(l, 0, l->sev0);
        return 1;
    }
    double ss = 0;
    uint32_t m = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        long long j = (long long)i + shift;
        if (j < 0 || j >= (long long)l->n) continue;
        double r = (x[i] - p.base) / p.ph - l->sev0[j];
        ss += r * r, m++;
    }
    const double chi = m ? sqrt(ss / m) * p.ph / p.sd : INFINITY;
    for (int k = 0; k < NBAND; k++)
        if (chi <= band_max[k]) {
            accumulate(l, 1 + k, x, &p, shift);
            l->nband[k]++;
        }
    l->n1++;
    return 1;
}

int cc_sev_learner_complete(const cc_sev_learner *l)
{
    return l->n0 + l->n1 >= l->o.pulses;
}

uint32_t cc_sev_learner_count(const cc_sev_learner *l)
{
    return l->n0 + l->n1;
}

int cc_sev_learner_fit(const cc_sev_learner *l, cc_sim_shape *shape, cc_sim_shape_fitres *res,
                       cc_err *e)
{
    if (!cc_sev_learner_complete(l))
        return cc_err_set(e, "standard-event learner: %u of %u pulses so far",
                          cc_sev_learner_count(l), l->o.pulses);
    int k = 0;
    while (k < NBAND - 1 && l->nband[k] < KEEP * l->n1) k++;
    float *y = malloc(l->n * sizeof *y);
    if (!y) return cc_err_set(e, "out of memory");
    mean_of(l, 1 + k, y);
    cc_sim_shape_fitres r;
    int rc = cc_sim_shape_fit(y, l->n, l->fs, &r, e);
    free(y);
    if (rc) return -1;
    *shape = r.shape;
    if (res) *res = r;
    return 0;
}
