/* mainpar.c - see cc_mainpar.h.
 *
 * Layout: one pass checks the input, one smooths it into the caller's
 * scratch (four interleaved running sums, so the additions do not wait on
 * each other), then a few fused passes over the smoothed trace: extrema and
 * t_max; moments; per-block noise and residual; the extras; and the crossing
 * searches, which only walk from t_max to the crossings. Sums are in double;
 * the smoothed trace is float, ample for volts from a 16-bit ADC.
 */
#include "cc_mainpar.h"

#include <math.h>
#include <string.h>

const char *cc_mainpar_status_str(cc_mp_status s)
{
    switch (s) {
    case CC_MP_OK:
        return "ok";
    case CC_MP_TOO_SHORT:
        return "too short";
    case CC_MP_NONFINITE:
        return "non-finite";
    case CC_MP_BADARG:
        return "bad argument";
    }
    return "unknown";
}

/* Sum of v[a, b) with four accumulators. */
static double sum4(const float *v, size_t a, size_t b)
{
    double acc[4] = {0, 0, 0, 0};
    size_t i = a;
    for (; i + 4 <= b; i += 4)
        for (int k = 0; k < 4; k++) acc[k] += v[i + (size_t)k];
    for (; i < b; i++) acc[0] += v[i];
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

/* x[k] with k clamped to [0, n-1]: the edge padding of the moving average. */
static inline double clamped(const float *x, size_t n, ptrdiff_t k)
{
    if (k < 0) return x[0];
    if ((size_t)k >= n) return x[n - 1];
    return x[k];
}

/* Sum of x[i-25 .. i+24] minus 50 offsets, edges repeated. */
static double window(const float *x, size_t n, double offset, ptrdiff_t i)
{
    double sum = -CC_MP_SMOOTH * offset;
    for (ptrdiff_t j = i - CC_MP_SMOOTH / 2; j < i + (CC_MP_SMOOTH + 1) / 2; j++)
        sum += clamped(x, n, j);
    return sum;
}

/* s[i] = mean of x[i-25 .. i+24] (edges repeated) minus offset. The edge
 * values are summed directly; the interior, where the window lies inside x,
 * by running sums over four chunks at once (the last also takes the rest). */
static void smooth(const float *x, size_t n, double offset, float *s)
{
    enum { BEFORE = CC_MP_SMOOTH / 2, AFTER = CC_MP_SMOOTH - BEFORE - 1, K = 4 };
    const size_t lo = BEFORE, hi = n - AFTER, len = (hi - lo) / K;
    for (size_t i = 0; i < lo; i++)
        s[i] = (float)(window(x, n, offset, (ptrdiff_t)i) / CC_MP_SMOOTH);
    for (size_t i = hi; i < n; i++)
        s[i] = (float)(window(x, n, offset, (ptrdiff_t)i) / CC_MP_SMOOTH);
    double sum[K];
    for (size_t k = 0; k < K; k++) {
        sum[k] = window(x, n, offset, (ptrdiff_t)(lo + k * len));
        s[lo + k * len] = (float)(sum[k] / CC_MP_SMOOTH);
    }
    for (size_t j = 1; j < len; j++)
        for (size_t k = 0; k < K; k++) {
            size_t i = lo + k * len + j;
            sum[k] += (double)x[i + AFTER] - x[i - 1 - BEFORE];
            s[i] = (float)(sum[k] / CC_MP_SMOOTH);
        }
    for (size_t i = lo + K * len; i < hi; i++) {
        sum[K - 1] += (double)x[i + AFTER] - x[i - 1 - BEFORE];
        s[i] = (float)(sum[K - 1] / CC_MP_SMOOTH);
    }
}

/* Population mean, variance and skewness of s[a, b). */
static void moments(const float *s, size_t a, size_t b, double *mean, double *var, double *skew)
{
    double cnt = (double)(b - a), mu = sum4(s, a, b) / cnt;
    double m2[2] = {0, 0}, m3[2] = {0, 0};
    size_t i = a;
    for (; i + 2 <= b; i += 2)
        for (int k = 0; k < 2; k++) {
            double d = s[i + (size_t)k] - mu;
            m2[k] += d * d;
            m3[k] += d * d * d;
        }
    for (; i < b; i++) {
        double d = s[i] - mu;
        m2[0] += d * d;
        m3[0] += d * d * d;
    }
    double v = (m2[0] + m2[1]) / cnt, t = (m3[0] + m3[1]) / cnt;
    *mean = mu;
    *var = v;
    if (skew) *skew = v > 0.0 ? t / pow(v, 1.5) : 0.0;
}

/* Extrema of s and of its first difference, and Cait's t_max (the argmax of
 * s[i] - linear_drift * i), in one pass. */
static void extrema(const float *s, size_t n, cc_mainpar *p)
{
    float mx = s[0], mn = s[0];
    double dmax = (double)s[1] - s[0], dmin = dmax, best = -INFINITY, drift = p->linear_drift;
    size_t dmaxp = 0, dminp = 0, tmax = 0;
    for (size_t i = 0; i < n; i++) {
        float v = s[i];
        mx = v > mx ? v : mx;
        mn = v < mn ? v : mn;
        double t = v - drift * (double)i;
        if (t > best) best = t, tmax = i;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        double d = (double)s[i + 1] - s[i];
        if (d > dmax) dmax = d, dmaxp = i;
        if (d < dmin) dmin = d, dminp = i;
    }
    p->max = mx, p->min = mn;
    p->der_max = dmax, p->der_min = dmin;
    p->der_max_pos = (uint32_t)dmaxp, p->der_min_pos = (uint32_t)dminp;
    p->t_max = (uint32_t)tmax;
}

/* Interior block k of CC_MP_NOISE_BLOCKS: [*a, *b). */
static void block(size_t n, size_t k, size_t *a, size_t *b)
{
    const size_t edge = CC_MP_SMOOTH / 2, len = n - CC_MP_SMOOTH;
    *a = edge + k * len / CC_MP_NOISE_BLOCKS;
    *b = edge + (k + 1) * len / CC_MP_NOISE_BLOCKS;
}

/* Median of r[CC_MP_NOISE_BLOCKS] (sorted in place). */
static double median_blocks(double *r)
{
    enum { B = CC_MP_NOISE_BLOCKS };
    for (size_t k = 1; k < B; k++)
        for (size_t j = k; j > 0 && r[j - 1] > r[j]; j--) {
            double t = r[j];
            r[j] = r[j - 1], r[j - 1] = t;
        }
    return (r[(B - 1) / 2] + r[B / 2]) / 2;
}

/* noise_rms (each block's RMS of s about its least-squares line, median) and
 * the residual x - offset - s (largest magnitude; median of block RMS). */
static void noise(const float *x, const float *s, size_t n, cc_mainpar *p)
{
    double rs[CC_MP_NOISE_BLOCKS], rr[CC_MP_NOISE_BLOCKS], rmax = 0.0;
    for (size_t k = 0; k < CC_MP_NOISE_BLOCKS; k++) {
        size_t a, b;
        block(n, k, &a, &b);
        double m = (double)(b - a), c = (double)(a + b - 1) / 2, my = sum4(s, a, b) / m;
        double sxx = m * (m * m - 1) / 12, sxy = 0, syy = 0, ss = 0;
        for (size_t i = a; i < b; i++) {
            double y = s[i] - my, r = (x[i] - p->offset) - s[i];
            sxy += ((double)i - c) * y;
            syy += y * y;
            ss += r * r;
            rmax = fabs(r) > rmax ? fabs(r) : rmax;
        }
        double res = syy - (sxx > 0 ? sxy * sxy / sxx : 0);
        rs[k] = res > 0 ? sqrt(res / m) : 0.0;
        rr[k] = sqrt(ss / m);
    }
    p->noise_rms = median_blocks(rs);
    p->resid_rms = median_blocks(rr);
    p->resid_max = rmax;
}

/* The extras relative to the baseline line m0 + slope * (i - c0), over the
 * interior only (edge values repeat raw[0] or raw[n-1] up to 26 times). */
static void extras(const float *s, size_t n, double m0, double c0, double slope, cc_mainpar *p)
{
    const size_t a = CC_MP_SMOOTH / 2, b = n - CC_MP_SMOOTH / 2, t = p->t_max > a ? p->t_max : a;
    double hi = -INFINITY, lo = INFINITY, low_since = INFINITY, rerise = 0.0;
    for (size_t i = a; i < b; i++) {
        double v = s[i] - (m0 + slope * ((double)i - c0));
        hi = v > hi ? v : hi;
        lo = v < lo ? v : lo;
        if (i < t) continue;
        low_since = v < low_since ? v : low_since;
        rerise = v - low_since > rerise ? v - low_since : rerise;
    }
    p->height_nodrift = hi, p->min_nodrift = lo, p->rerise = rerise;
}

static void crossings(const float *s, size_t n, cc_mainpar *p)
{
    const double h = s[p->t_max];
    size_t tmax = p->t_max, tz = 0, tr = 0, te = n - 1, th, td;
    for (size_t i = tmax; i-- > 0;)
        if (s[i] < 0.2 * h) {
            tz = i;
            break;
        }
    for (size_t i = tz; i < n; i++)
        if (s[i] > 0.8 * h) {
            tr = i;
            break;
        }
    p->flags |= CC_MP_NO_DECAY;
    for (size_t i = tmax; i < n; i++)
        if (s[i] < 0.368 * h) {
            te = i;
            p->flags &= ~CC_MP_NO_DECAY;
            break;
        }
    th = te;
    for (size_t i = te + 1; i-- > 0;)
        if (s[i] > 0.736 * h) {
            th = i;
            break;
        }
    td = th;
    for (size_t i = th + 1; i-- > 0;)
        if (s[i] > 0.9 * h) {
            td = i;
            break;
        }
    p->t_zero = (uint32_t)tz;
    p->t_rise = (uint32_t)tr;
    p->t_end = (uint32_t)te;
    p->t_half = (uint32_t)th;
    p->t_decaystart = (uint32_t)td;
}

cc_mp_status cc_mainpar_compute(const float *x, size_t n, double fs_hz, int64_t trigger,
                                float *scratch, cc_mainpar *out)
{
    if (!out) return CC_MP_BADARG;
    memset(out, 0, sizeof *out);
    if (!x || !scratch || !(fs_hz > 0.0) || !isfinite(fs_hz)) return CC_MP_BADARG;
    if (n < CC_MP_MIN_SAMPLES) return CC_MP_TOO_SHORT;
    if (n > UINT32_MAX) return CC_MP_BADARG;
    int bad = 0;
    for (size_t i = 0; i < n; i++) bad |= !(fabsf(x[i]) <= CC_MP_MAX_ABS);
    if (bad) return CC_MP_NONFINITE;

    cc_mainpar *p = out;
    float *s = scratch;
    const size_t n8 = n / 8, w = n >= 1000 ? CC_MP_DRIFT_WIN : n8;
    const double ms = 1000.0 / fs_hz;
    p->n = (uint32_t)n;
    p->offset = sum4(x, 0, n8) / (double)n8;
    smooth(x, n, p->offset, s);

    double m0 = sum4(s, 0, w) / (double)w, m1 = sum4(s, n - w, n) / (double)w;
    p->linear_drift = (m1 - m0) / (double)n;
    extrema(s, n, p);
    p->pulse_height = p->max;
    if (p->max == p->min) p->flags |= CC_MP_FLAT;
    moments(s, 0, n, &p->mean, &p->var, &p->skew);
    moments(s, 0, n8, &p->mean_start, &p->var_start, NULL);
    moments(s, n - n8, n, &p->mean_end, &p->var_end, NULL);
    noise(x, s, n, p);
    extras(s, n, m0, (w - 1) / 2.0, (m1 - m0) / (double)(n - w), p);
    crossings(s, n, p);
    p->rise_time_ms = ((double)p->t_rise - p->t_zero) * ms;
    p->decay_time_ms = ((double)p->t_end - p->t_decaystart) * ms;
    p->onset_ms = ((double)p->t_zero - (double)trigger) * ms;
    return CC_MP_OK;
}
