/* sim_pulse.c - the deterministic building blocks of a simulated trace.
 *
 * Time grid: sample i is at t = (i - trig)/fs, so t = 0 at the trigger.
 * Exponentials are the hot path (three per Proebst pulse). They are added by
 * a blocked recurrence: 16 lanes hold exp() at 16 consecutive samples and
 * are multiplied by exp(-16/(tau*fs)) per block; every 64 blocks the lanes
 * are recomputed exactly so float rounding does not accumulate. The three
 * terms of a pulse share one pass over the trace. An exponential is dropped
 * once it has decayed by e^-40, which also keeps denormals out of the loop.
 */
#include <math.h>
#include <string.h>

#include "sim_internal.h"
#include "sim_vec.h"

#define LANES   16
#define REFRESH 64 /* blocks between exact recomputations */
#define MAXT    3  /* exponentials added in one pass */

/* One exponential term amp * exp(-(i - t0s)/tau_s) for i in [i0, iend). */
typedef struct expterm {
    double amp, tau_s;
    uint32_t iend;
    double rj[LANES]; /* exp(-j/tau_s) */
    float r;          /* exp(-LANES/tau_s) */
} expterm;

/* lane[j] = amp * exp(-(i + j - t0s)/tau_s) from one exp() and the factors rj */
static void exp_lanes(float lane[LANES], const expterm *t, double i, double t0s)
{
    double e0 = t->amp * exp(-(i - t0s) / t->tau_s);
    for (int j = 0; j < LANES; j++) lane[j] = (float)(e0 * t->rj[j]);
}

/* Adds the sum of nt <= 3 exponentials with a common onset in one pass over
 * the trace (each term stops once it has decayed by e^-40). */
SIM_CLONES static void add_exps(float *x, uint32_t n, double fs, uint32_t trig, double onset_ms,
                                const double *amp, const double *tau_ms, int nt)
{
    double t0s = (double)trig + onset_ms * 1e-3 * fs; /* onset in samples */
    double first = floor(t0s) + 1.0;
    if (first < 0.0) first = 0.0;
    if (first >= (double)n) return;
    uint32_t i0 = (uint32_t)first, imax = i0;
    expterm t[MAXT];
    float lane[MAXT][LANES], r[MAXT];
    for (int k = 0; k < MAXT; k++) {
        memset(lane[k], 0, sizeof lane[k]);
        r[k] = 0.0f;
        t[k].iend = i0;
        if (k >= nt || amp[k] == 0.0 || !(tau_ms[k] > 0.0)) continue;
        t[k].amp = amp[k];
        t[k].tau_s = tau_ms[k] * 1e-3 * fs;
        double last = t0s + 40.0 * t[k].tau_s;
        if (last <= first) continue;
        t[k].iend = last >= (double)n ? n : (uint32_t)last + 1;
        double r1 = exp(-1.0 / t[k].tau_s);
        t[k].rj[0] = 1.0;
        for (int j = 1; j < LANES; j++) t[k].rj[j] = t[k].rj[j - 1] * r1;
        r[k] = t[k].r = (float)(t[k].rj[LANES - 1] * r1);
        exp_lanes(lane[k], &t[k], (double)i0, t0s);
        if (t[k].iend > imax) imax = t[k].iend;
    }
    uint32_t i = i0;
    unsigned blk = 0;
    for (; i + LANES <= imax; i += LANES) {
        if (++blk == REFRESH) {
            blk = 0;
            for (int k = 0; k < MAXT; k++)
                if (i < t[k].iend) exp_lanes(lane[k], &t[k], (double)i, t0s);
        }
        for (int k = 0; k < MAXT; k++) /* a finished term contributes nothing */
            if (i >= t[k].iend && r[k] != 0.0f) memset(lane[k], 0, sizeof lane[k]), r[k] = 0.0f;
        v8f l0 = vload(lane[0]), l1 = vload(lane[1]), l2 = vload(lane[2]);
        vstore(x + i, vload(x + i) + (l0 + l1 + l2));
        vstore(lane[0], l0 * r[0]);
        vstore(lane[1], l1 * r[1]);
        vstore(lane[2], l2 * r[2]);
    }
    for (int j = 0; i < imax; i++, j++)
        for (int k = 0; k < MAXT; k++)
            if (i < t[k].iend) x[i] += lane[k][j];
}

void sim_add_exp(float *x, uint32_t n, double fs, uint32_t trig, double amp, double onset_ms,
                 double tau_ms)
{
    add_exps(x, n, fs, trig, onset_ms, &amp, &tau_ms, 1);
}

/* Unnormalised Proebst shape at dt ms after the onset. */
static double proebst(const cc_sim_shape *sh, double dt)
{
    if (dt <= 0) return 0.0;
    return sh->an * (exp(-dt / sh->tau_n) - exp(-dt / sh->tau_in)) +
           sh->at * (exp(-dt / sh->tau_t) - exp(-dt / sh->tau_n));
}

double sim_shape_peak(const cc_sim_shape *sh, double *tpeak_ms)
{
    double tmax = 10.0 * fmax(sh->tau_n, fmax(sh->tau_in, sh->tau_t));
    double best = 0.0, tb = 0.0;
    double step = tmax / 20000.0;
    for (double t = step; t <= tmax; t += step) {
        double v = proebst(sh, t);
        if (v > best) best = v, tb = t;
    }
    /* refine on a finer grid around the coarse maximum */
    double lo = fmax(tb - step, step * 1e-3), hi = tb + step;
    for (int k = 0; k <= 2000; k++) {
        double t = lo + (hi - lo) * k / 2000.0;
        double v = proebst(sh, t);
        if (v > best) best = v, tb = t;
    }
    if (tpeak_ms) *tpeak_ms = tb;
    return best;
}

void sim_add_shape(float *x, uint32_t n, double fs, uint32_t trig, const cc_sim_shape *sh,
                   double amp, double onset_ms)
{
    /* an*(e_n - e_in) + at*(e_t - e_n) = (an-at)*e_n - an*e_in + at*e_t */
    const double a[3] = {amp * (sh->an - sh->at), -amp * sh->an, amp * sh->at};
    const double tau[3] = {sh->tau_n, sh->tau_in, sh->tau_t};
    add_exps(x, n, fs, trig, onset_ms, a, tau, 3);
}

/* First sample index at or after time t_ms, clamped to [0, n]. */
static uint32_t idx_at(uint32_t n, double fs, uint32_t trig, double t_ms)
{
    double v = ceil((double)trig + t_ms * 1e-3 * fs);
    if (v < 0) return 0;
    if (v > (double)n) return n;
    return (uint32_t)v;
}

void sim_add_step(float *x, uint32_t n, double fs, uint32_t trig, double h, double t_ms,
                  double w_ms, int ramp)
{
    uint32_t i0 = idx_at(n, fs, trig, t_ms);
    if (ramp) {
        uint32_t i1 = idx_at(n, fs, trig, t_ms + w_ms);
        double t0s = (double)trig + t_ms * 1e-3 * fs, ws = w_ms * 1e-3 * fs;
        for (uint32_t i = i0; i < i1; i++) x[i] += (float)(h * ((double)i - t0s) / ws);
        for (uint32_t i = i1; i < n; i++) x[i] += (float)h;
    } else {
        for (uint32_t i = i0; i < n; i++) x[i] += (float)h;
        sim_add_exp(x, n, fs, trig, -h, t_ms, w_ms);
    }
}

void sim_add_box(float *x, uint32_t n, double fs, uint32_t trig, double h, double t_ms, double w_ms)
{
    uint32_t i0 = idx_at(n, fs, trig, t_ms), i1 = idx_at(n, fs, trig, t_ms + w_ms);
    if (i1 == i0 && i0 < n) i1 = i0 + 1; /* at least one sample */
    for (uint32_t i = i0; i < i1; i++) x[i] += (float)h;
}

/* The loops below run over whole vectors: n is a multiple of 16 (see
 * cc_sim_config_check). */

/* x[i] += c0 + u*(c1 + u*(c2 + u*c3)), u = 2i/(n-1) - 1, for the block at i */
VINLINE v8f poly_block(v8f v, uint32_t i, float sc, const float c[4])
{
    const v8i lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    v8f u = __builtin_convertvector(lane + (int32_t)i, v8f) * sc - 1.0f;
    return v + (c[0] + u * (c[1] + u * (c[2] + u * c[3])));
}

SIM_CLONES void sim_add_poly(float *x, uint32_t n, const double c[4])
{
    if (n < 2) return;
    const float cf[4] = {(float)c[0], (float)c[1], (float)c[2], (float)c[3]};
    float sc = 2.0f / (float)(n - 1);
    for (uint32_t i = 0; i < n; i += VL) vstore(x + i, poly_block(vload(x + i), i, sc, cf));
}

void sim_add_ramp(float *x, uint32_t n, double fs, uint32_t trig, double slope, double t_ms)
{
    uint32_t i0 = idx_at(n, fs, trig, t_ms);
    double t0s = (double)trig + t_ms * 1e-3 * fs;
    double k = slope / fs;
    for (uint32_t i = i0; i < n; i++) x[i] += (float)(k * ((double)i - t0s));
}

void sim_add_square(float *x, uint32_t n, double fs, double h, double period_ms, double phase_ms)
{
    double half = period_ms * 1e-3 * fs; /* samples per level */
    double ph = phase_ms * 1e-3 * fs;
    for (uint32_t i = 0; i < n; i++) {
        long k = (long)floor(((double)i + ph) / half);
        if (k & 1) x[i] += (float)h;
    }
}

/* Generalised logistic rescaled to L(0) = 0, L'(0) = 1, L(+inf) = k:
 * L(x) = a * (P / (1 + q*exp(-b*x))^(1/nu) - 1), P = (1+q)^(1/nu),
 * a = k/(P-1), b = nu*(1+q)*(P-1)/(k*q). Samples with |x| < 0.003*k are left
 * as they are: there L(x) - x ~ b*x^2/2 stays below 1e-5*k, a tenth of an
 * ADC step for k of a few volts, and the pulse region is all that costs. */
SIM_CLONES void sim_saturate(float *x, uint32_t n, double k, double a, double b, double nu,
                             double q)
{
    double p = pow(1.0 + q, 1.0 / nu);
    float lim2 = (float)(0.003 * k * 0.003 * k), fa = (float)a, fb = (float)b, fp = (float)p,
          fq = (float)q;
    for (uint32_t i0 = 0; i0 < n; i0 += VL) {
        v8f v = vload(x + i0);
        v8i big = vgt(v * v, v * 0.0f + lim2);
        if (!vany(big)) continue;
        if (nu == 1.0) {
            v8f d = 1.0f + fq * vexp(-fb * v);
            vstore(x + i0, fa * (fp / d - 1.0f));
        } else {
            for (uint32_t i = i0; i < i0 + VL; i++) {
                double d = 1.0 + q * exp(-b * (double)x[i]);
                x[i] = (float)(a * (p * pow(d, -1.0 / nu) - 1.0));
            }
        }
    }
}

SIM_CLONES void sim_rasterise(float *x, uint32_t n, const double *c)
{
    const float inv = 65536.0f / 20.0f, q = 20.0f / 65536.0f;
    const float magic = 12582912.0f; /* 1.5 * 2^23: round to nearest even */
    const v8f zero = {0};
    const v8f lo = zero - 32768.0f, hi = zero + 32767.0f;
    const float cf[4] = {c ? (float)c[0] : 0.0f, c ? (float)c[1] : 0.0f, c ? (float)c[2] : 0.0f,
                         c ? (float)c[3] : 0.0f};
    float sc = n > 1 ? 2.0f / (float)(n - 1) : 0.0f;
    for (uint32_t i = 0; i < n; i += VL) {
        v8f v = vload(x + i);
        if (c) v = poly_block(v, i, sc, cf);
        v8f k = v * inv;
        k = vsel(vgt(lo, k), lo, k);
        k = vsel(vgt(k, hi), hi, k);
        vstore(x + i, ((k + magic) - magic) * q); /* not folded without -ffast-math */
    }
}

void cc_sim_shape_render(const cc_sim_shape *sh, double fs_hz, double onset, float *x, uint32_t n)
{
    memset(x, 0, sizeof *x * n);
    double peak = sim_shape_peak(sh, NULL);
    if (peak > 0) sim_add_shape(x, n, fs_hz, 0, sh, 1.0 / peak, onset * 1e3 / fs_hz);
}
