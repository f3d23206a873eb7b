/* sim_pulse.c - the deterministic building blocks of a simulated trace.
 *
 * Time grid: sample i is at t = (i - trig)/fs, so t = 0 at the trigger.
 * Exponentials are the hot path (three per Proebst pulse). They are added by
 * a blocked recurrence: 16 lanes hold exp() at 16 consecutive samples and
 * are multiplied by exp(-16/(tau*fs)) per block; every 64 blocks the lanes
 * are recomputed exactly so float rounding does not accumulate. An
 * exponential is dropped once it has decayed by e^-40, which also keeps
 * denormals out of the hot loop.
 */
#include <math.h>
#include <string.h>

#include "sim_internal.h"
#include "sim_vec.h"

#define LANES   16
#define REFRESH 64 /* blocks between exact recomputations */

/* lane[j] = amp * exp(-(i0 + j - t0s)/tau_s) from one exp() and the lane
 * factors rj[j] = exp(-j/tau_s). */
static void exp_lanes(float lane[LANES], const double rj[LANES], double amp, double i0, double t0s,
                      double tau_s)
{
    double e0 = amp * exp(-(i0 - t0s) / tau_s);
    for (int j = 0; j < LANES; j++) lane[j] = (float)(e0 * rj[j]);
}

SIM_CLONES void sim_add_exp(float *x, uint32_t n, double fs, uint32_t trig, double amp,
                            double onset_ms, double tau_ms)
{
    if (amp == 0.0 || !(tau_ms > 0.0)) return;
    double t0s = (double)trig + onset_ms * 1e-3 * fs; /* onset in samples */
    double tau_s = tau_ms * 1e-3 * fs;                /* tau in samples */
    double first = floor(t0s) + 1.0;
    if (first < 0.0) first = 0.0;
    if (first >= (double)n) return;
    double last = t0s + 40.0 * tau_s;
    if (last <= first) return;
    uint32_t i0 = (uint32_t)first;
    uint32_t iend = last >= (double)n ? n : (uint32_t)last + 1;
    float lane[LANES];
    double rj[LANES], r1 = exp(-1.0 / tau_s);
    rj[0] = 1.0;
    for (int j = 1; j < LANES; j++) rj[j] = rj[j - 1] * r1;
    float r = (float)(rj[LANES - 1] * r1);
    uint32_t i = i0;
    unsigned blk = 0;
    exp_lanes(lane, rj, amp, (double)i, t0s, tau_s);
    for (; i + LANES <= iend; i += LANES) {
        if (++blk == REFRESH) {
            exp_lanes(lane, rj, amp, (double)i, t0s, tau_s);
            blk = 0;
        }
        float *xi = x + i;
        for (int j = 0; j < LANES; j++) {
            xi[j] += lane[j];
            lane[j] *= r;
        }
    }
    for (int j = 0; i < iend; i++, j++) x[i] += lane[j];
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
    sim_add_exp(x, n, fs, trig, amp * (sh->an - sh->at), onset_ms, sh->tau_n);
    sim_add_exp(x, n, fs, trig, -amp * sh->an, onset_ms, sh->tau_in);
    sim_add_exp(x, n, fs, trig, amp * sh->at, onset_ms, sh->tau_t);
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

SIM_CLONES void sim_add_poly(float *x, uint32_t n, const double c[4])
{
    if (n < 2) return;
    float c0 = (float)c[0], c1 = (float)c[1], c2 = (float)c[2], c3 = (float)c[3];
    float sc = 2.0f / (float)(n - 1);
    const v8i lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    for (uint32_t i = 0; i < n; i += VL) {
        v8f u = __builtin_convertvector(lane + (int32_t)i, v8f) * sc - 1.0f;
        vstore(x + i, vload(x + i) + (c0 + u * (c1 + u * (c2 + u * c3))));
    }
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

SIM_CLONES void sim_rasterise(float *x, uint32_t n)
{
    const float inv = 65536.0f / 20.0f, q = 20.0f / 65536.0f;
    const float magic = 12582912.0f; /* 1.5 * 2^23: round to nearest even */
    const v8f zero = {0};
    const v8f lo = zero - 32768.0f, hi = zero + 32767.0f;
    for (uint32_t i = 0; i < n; i += VL) {
        v8f c = vload(x + i) * inv;
        c = vsel(vgt(lo, c), lo, c);
        c = vsel(vgt(c, hi), hi, c);
        vstore(x + i, ((c + magic) - magic) * q); /* not folded without -ffast-math */
    }
}
