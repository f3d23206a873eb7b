/* test_mainpar.c - the main parameters against analytic Proebst pulses.
 *
 * The references are computed from the continuous pulse p(t) (crossing times
 * by bisection, the peak by golden-section search), not from the code under
 * test; tolerances allow for Cait's integer crossing indices (up to 1 sample
 * each) and the 2 ms moving average.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cc_mainpar.h"
#include "cc_test.h"

#define N    16384
#define FS   25000.0
#define TRIG (N / 4)

/* Proebst et al. 1995, times in ms, t = 0 at the trigger. */
typedef struct shape {
    double t0, an, at, tau_n, tau_in, tau_t;
} shape;

static const shape phonon = {-1.11, 4.0, 0.02, 4.15, 2.1, 53.06};
static const shape light = {0.77, 51.76, 50.81, 37.24, 8.33, 8.59};

static double proebst(const shape *s, double t)
{
    if (t <= s->t0) return 0.0;
    double u = t - s->t0;
    return s->an * (exp(-u / s->tau_n) - exp(-u / s->tau_in)) +
           s->at * (exp(-u / s->tau_t) - exp(-u / s->tau_n));
}

static double t_of(size_t i)
{
    return ((double)i - TRIG) / FS * 1000.0;
}

/* p smoothed like the record: the mean of p at t + k/fs, k = -25..24 (no
 * edges: the pulses stay far from the ends of the window). */
static double smoothed(const shape *s, double t)
{
    double sum = 0;
    for (int k = -25; k <= 24; k++) sum += proebst(s, t + k / FS * 1000.0);
    return sum / 50;
}

typedef double (*curve)(const shape *, double);

/* Peak time of f by golden-section search on [t0 - 2, t0 + 100 ms]. */
static double peak_time_of(curve f, const shape *s)
{
    double a = s->t0 - 2, b = s->t0 + 100.0, g = (sqrt(5.0) - 1) / 2;
    while (b - a > 1e-9) {
        double c = b - g * (b - a), d = a + g * (b - a);
        if (f(s, c) > f(s, d))
            b = d;
        else
            a = c;
    }
    return (a + b) / 2;
}

static double peak_time(const shape *s)
{
    return peak_time_of(proebst, s);
}

/* Time in [a, b] where f crosses level (f - level changes sign once). */
static double crossing_of(curve f, const shape *s, double a, double b, double level)
{
    int up = f(s, a) < level;
    while (b - a > 1e-9) {
        double m = (a + b) / 2;
        if ((f(s, m) < level) == up)
            a = m;
        else
            b = m;
    }
    return (a + b) / 2;
}

static double crossing(const shape *s, double a, double b, double level)
{
    return crossing_of(proebst, s, a, b, level);
}

/* Reference main parameters of f: peak, and the 20/80/90/36.8 % crossings (ms). */
typedef struct ref {
    double tp, peak, t20, t80, t90, t37;
} ref;

static ref reference(curve f, const shape *s)
{
    ref r;
    r.tp = peak_time_of(f, s);
    r.peak = f(s, r.tp);
    r.t20 = crossing_of(f, s, s->t0 - 2, r.tp, 0.2 * r.peak);
    r.t80 = crossing_of(f, s, s->t0 - 2, r.tp, 0.8 * r.peak);
    r.t90 = crossing_of(f, s, r.tp, r.tp + 2000, 0.9 * r.peak);
    r.t37 = crossing_of(f, s, r.tp, r.tp + 2000, 0.368 * r.peak);
    return r;
}

/* x[i] = offset + scale * p(t_i) / max p. */
static void make_pulse(float *x, const shape *s, double height, double offset)
{
    double pmax = proebst(s, peak_time(s));
    for (size_t i = 0; i < N; i++) x[i] = (float)(offset + height * proebst(s, t_of(i)) / pmax);
}

static float x[N], scratch[N];

/* Adds a phonon pulse of the given height at the trigger. */
static void add_pulse_to(float *v, double height)
{
    double pmax = proebst(&phonon, peak_time(&phonon));
    for (size_t i = 0; i < N; i++) v[i] += (float)(height * proebst(&phonon, t_of(i)) / pmax);
}

/* One sample is 0.04 ms; Cait's indices are the last sample before / first
 * after a crossing, so each time is within one sample of the reference. */
#define SAMPLE_MS (1000.0 / FS)

static void check_shape(const shape *s, double height)
{
    make_pulse(x, s, height, 0.25);
    cc_mainpar p;
    ck_assert_int_eq(cc_mainpar_compute(x, N, FS, TRIG, scratch, &p), CC_MP_OK);
    ck_assert_double_eq_tol(p.offset, 0.25, 1e-6);

    /* against the smoothed analytic pulse: tight */
    ref m = reference(smoothed, s);
    double scale = height / proebst(s, peak_time(s));
    ck_assert_msg(fabs(p.pulse_height - scale * m.peak) < 1e-4 * height, "height %g, expected %g",
                  p.pulse_height, scale * m.peak);
    ck_assert_msg(fabs(t_of(p.t_max) - m.tp) < 0.1, "t_max %g ms, expected %g", t_of(p.t_max),
                  m.tp);
    ck_assert_msg(p.onset_ms <= m.t20 && p.onset_ms > m.t20 - 1.01 * SAMPLE_MS,
                  "onset %g ms, expected the sample before %g", p.onset_ms, m.t20);
    /* rise and decay are differences of two such indices: up to two samples long */
    ck_assert_msg(p.rise_time_ms >= m.t80 - m.t20 && p.rise_time_ms < m.t80 - m.t20 + 2 * SAMPLE_MS,
                  "rise %g ms, expected %g", p.rise_time_ms, m.t80 - m.t20);
    ck_assert_msg(p.decay_time_ms >= m.t37 - m.t90 &&
                      p.decay_time_ms < m.t37 - m.t90 + 2 * SAMPLE_MS,
                  "decay %g ms, expected %g", p.decay_time_ms, m.t37 - m.t90);
    ck_assert_msg(t_of(p.t_end) >= m.t37 && t_of(p.t_end) < m.t37 + 1.01 * SAMPLE_MS,
                  "t_end %g ms, expected the sample after %g", t_of(p.t_end), m.t37);

    /* against the pulse itself: what the 2 ms smoothing costs */
    ref a = reference(proebst, s);
    ck_assert_msg(fabs(p.pulse_height - height) < 0.03 * height, "height %g vs true %g",
                  p.pulse_height, height);
    ck_assert_msg(fabs(p.onset_ms - a.t20) < 0.3, "onset %g vs true %g", p.onset_ms, a.t20);
    ck_assert_msg(fabs(p.rise_time_ms - (a.t80 - a.t20)) < 0.4, "rise %g vs true %g",
                  p.rise_time_ms, a.t80 - a.t20);
    ck_assert_msg(fabs(p.decay_time_ms - (a.t37 - a.t90)) < 0.1 * (a.t37 - a.t90),
                  "decay %g vs true %g", p.decay_time_ms, a.t37 - a.t90);
    ck_assert(p.t_zero < p.t_rise && p.t_rise <= p.t_max && p.t_max <= p.t_decaystart &&
              p.t_decaystart <= p.t_half && p.t_half <= p.t_end);
    ck_assert_uint_eq(p.flags, 0);
    /* additional parameters on a noiseless pulse */
    ck_assert_double_eq_tol(p.max, p.pulse_height, 1e-9);
    ck_assert_msg(fabs(p.min) < 1e-5 * height, "min %g", p.min);
    ck_assert_double_eq_tol(p.mean_start, 0.0, 1e-6 * height);
    ck_assert_double_eq_tol(p.var_start, 0.0, 1e-9);
    ck_assert(p.skew > 1.0); /* a pulse on a long flat baseline is right-skewed */
    ck_assert_double_eq_tol(p.linear_drift, 0.0, 1e-3 * height / N);
    ck_assert_msg(p.der_max_pos > p.t_zero && p.der_max_pos < p.t_max, "der_max_pos %u",
                  p.der_max_pos);
    ck_assert_msg(p.der_min_pos > p.t_max, "der_min_pos %u", p.der_min_pos);
    ck_assert(p.der_max > 0 && p.der_min < 0);
    ck_assert_msg(p.rerise < 1e-5 * height, "rerise %g on a clean decay", p.rerise);
}

START_TEST(phonon_pulse)
{
    check_shape(&phonon, 0.8);
    /* rise 20-80 % of this shape is about 1.2 ms, the peak about 1.8 ms after t0 */
    cc_mainpar p;
    cc_mainpar_compute(x, N, FS, TRIG, scratch, &p);
    ck_assert_msg(p.rise_time_ms > 1.0 && p.rise_time_ms < 1.5, "rise %g", p.rise_time_ms);
}
END_TEST

START_TEST(light_pulse)
{
    check_shape(&light, 2.5);
}
END_TEST

/* The slope of the smoothed trace is the slope of the analytic pulse. */
START_TEST(derivative_extrema)
{
    make_pulse(x, &phonon, 1.0, 0.0);
    cc_mainpar p;
    cc_mainpar_compute(x, N, FS, TRIG, scratch, &p);
    /* s[i+1] - s[i] = (x[i+25] - x[i-25]) / 50 away from the edges */
    double pmax = proebst(&phonon, peak_time(&phonon)), best = 0, worst = 0;
    size_t ibest = 0, iworst = 0;
    for (size_t i = 25; i + 25 < N; i++) {
        double d = (proebst(&phonon, t_of(i + 25)) - proebst(&phonon, t_of(i - 25))) / 50 / pmax;
        if (d > best) best = d, ibest = i;
        if (d < worst) worst = d, iworst = i;
    }
    ck_assert_msg(fabs(p.der_max - best) < 1e-4 * best, "der_max %g, expected %g", p.der_max, best);
    ck_assert_msg(fabs(p.der_min - worst) < 1e-4 * -worst, "der_min %g, expected %g", p.der_min,
                  worst);
    /* the extrema are flat: float rounding may pick the neighbour */
    ck_assert_msg(labs((long)p.der_max_pos - (long)ibest) <= 1, "der_max_pos %u, expected %zu",
                  p.der_max_pos, ibest);
    ck_assert_msg(labs((long)p.der_min_pos - (long)iworst) <= 1, "der_min_pos %u, expected %zu",
                  p.der_min_pos, iworst);
}
END_TEST

/* s[i] is exactly the mean of raw[i-25 .. i+24] minus the offset, edges repeated. */
START_TEST(smoothing_window)
{
    unsigned r = 12345;
    for (size_t i = 0; i < N; i++) {
        r = r * 1103515245u + 12345u;
        x[i] = (float)((r >> 8) % 1000) * 1e-3f;
    }
    cc_mainpar p;
    ck_assert_int_eq(cc_mainpar_compute(x, N, FS, TRIG, scratch, &p), CC_MP_OK);
    double off = 0;
    for (size_t i = 0; i < N / 8; i++) off += x[i];
    off /= N / 8;
    ck_assert_double_eq_tol(p.offset, off, 1e-9);
    const size_t probe[] = {0, 1, 24, 25, 26, 1000, N - 26, N - 25, N - 24, N - 1};
    for (size_t k = 0; k < sizeof probe / sizeof probe[0]; k++) {
        double s = 0;
        for (long j = (long)probe[k] - 25; j <= (long)probe[k] + 24; j++)
            s += x[j < 0 ? 0 : j >= N ? N - 1 : j];
        ck_assert_msg(fabs(scratch[probe[k]] - (s / 50 - off)) < 1e-5, "s[%zu] = %g, expected %g",
                      probe[k], scratch[probe[k]], s / 50 - off);
    }
}
END_TEST

/* A pure ramp: the drift is its slope, (n - 500) / n of it by Cait's formula. */
START_TEST(ramp_drift)
{
    const double a = -2e-6;
    for (size_t i = 0; i < N; i++) x[i] = (float)(0.1 + a * (double)i);
    cc_mainpar p;
    ck_assert_int_eq(cc_mainpar_compute(x, N, FS, TRIG, scratch, &p), CC_MP_OK);
    ck_assert_msg(fabs(p.linear_drift - a * (N - 500.0) / N) < 2e-3 * fabs(a), "drift %g",
                  p.linear_drift);
    ck_assert_double_eq_tol(p.offset, 0.1 + a * (N / 8 - 1) / 2.0, 1e-6);
    ck_assert_double_eq_tol(p.mean_end - p.mean_start, a * (N - N / 8), 1e-6);
    /* after removing the drift the rest still falls (by 500/n of the slope): max at the start */
    ck_assert_uint_lt(p.t_max, 30);
    ck_assert_uint_eq(p.flags & CC_MP_FLAT, 0);
}
END_TEST

START_TEST(constant_trace)
{
    for (size_t i = 0; i < N; i++) x[i] = -1.25f;
    cc_mainpar p;
    ck_assert_int_eq(cc_mainpar_compute(x, N, FS, TRIG, scratch, &p), CC_MP_OK);
    ck_assert(p.flags & CC_MP_FLAT);
    ck_assert_double_eq(p.offset, -1.25);
    ck_assert_double_eq(p.pulse_height, 0.0);
    ck_assert_double_eq(p.var, 0.0);
    ck_assert_double_eq(p.skew, 0.0);
    ck_assert_double_eq(p.linear_drift, 0.0);
    ck_assert_double_eq(p.rise_time_ms, 0.0);
    ck_assert_double_eq(p.decay_time_ms, 0.0);
    ck_assert_uint_eq(p.t_max, 0);
}
END_TEST

START_TEST(short_and_invalid)
{
    make_pulse(x, &phonon, 1.0, 0.0);
    cc_mainpar p;
    p.offset = 7;
    ck_assert_int_eq(cc_mainpar_compute(x, CC_MP_MIN_SAMPLES - 1, FS, 0, scratch, &p),
                     CC_MP_TOO_SHORT);
    ck_assert_double_eq(p.offset, 0.0);
    ck_assert_int_eq(cc_mainpar_compute(x, N, 0.0, TRIG, scratch, &p), CC_MP_BADARG);
    ck_assert_int_eq(cc_mainpar_compute(x, N, FS, TRIG, NULL, &p), CC_MP_BADARG);
    x[5000] = NAN;
    ck_assert_int_eq(cc_mainpar_compute(x, N, FS, TRIG, scratch, &p), CC_MP_NONFINITE);
    x[5000] = INFINITY;
    ck_assert_int_eq(cc_mainpar_compute(x, N, FS, TRIG, scratch, &p), CC_MP_NONFINITE);
    ck_assert_str_eq(cc_mainpar_status_str(CC_MP_NONFINITE), "non-finite");
}
END_TEST

/* A 600-sample record: 75-sample drift windows, the pulse still measured. */
START_TEST(short_record_pulse)
{
    const size_t n = 600;
    shape s = phonon;
    s.t0 = ((double)n / 4 - TRIG) / FS * 1000.0; /* pulse starts at sample n/4 */
    make_pulse(x, &s, 1.0, 0.0);
    cc_mainpar p;
    ck_assert_int_eq(cc_mainpar_compute(x, n, FS, n / 4, scratch, &p), CC_MP_OK);
    ck_assert_msg(fabs(p.pulse_height - 1.0) < 0.03, "height %g", p.pulse_height);
    double tp = peak_time(&s), t20 = crossing(&s, s.t0, tp, 0.2 * proebst(&s, tp));
    ck_assert_msg(fabs(p.onset_ms - (t20 - s.t0)) < 0.3, "onset %g, expected %g", p.onset_ms,
                  t20 - s.t0);
    /* drift windows of n/8 = 75 samples; the trace ends on the decay */
    double head = 0, tail = 0;
    for (size_t i = 0; i < 75; i++) head += scratch[i], tail += scratch[n - 75 + i];
    ck_assert(tail > head + 1.0);
    ck_assert_double_eq_tol(p.linear_drift, (tail - head) / 75 / n, 1e-9);
}
END_TEST

/* A step never decays; a second pulse on the tail shows as a re-rise. */
START_TEST(step_and_pileup)
{
    for (size_t i = 0; i < N; i++) x[i] = i < TRIG ? 0.0f : 0.5f;
    cc_mainpar p;
    cc_mainpar_compute(x, N, FS, TRIG, scratch, &p);
    ck_assert(p.flags & CC_MP_NO_DECAY);
    ck_assert_uint_eq(p.t_end, N - 1);
    ck_assert_double_eq_tol(p.mean_end, 0.5, 1e-6);

    shape late = phonon;
    late.t0 += 100.0; /* second pulse 100 ms later, 0.3 of the first */
    make_pulse(x, &phonon, 1.0, 0.0);
    double pmax = proebst(&late, peak_time(&late));
    for (size_t i = 0; i < N; i++) x[i] += (float)(0.3 * proebst(&late, t_of(i)) / pmax);
    cc_mainpar_compute(x, N, FS, TRIG, scratch, &p);
    ck_assert_uint_eq(p.flags, 0);
    ck_assert_msg(fabs(p.rerise - 0.3) < 0.01, "rerise %g, expected ~0.3", p.rerise);
    ref m = reference(smoothed, &phonon);
    ck_assert_msg(fabs(p.onset_ms - m.t20) < 1.01 * SAMPLE_MS, "onset %g, expected %g", p.onset_ms,
                  m.t20);
}
END_TEST

/* Moments, against a naive computation on the smoothed trace the caller gets back. */
static void naive(const float *v, size_t a, size_t b, double *mean, double *var, double *skew)
{
    double m = 0, m2 = 0, m3 = 0;
    for (size_t i = a; i < b; i++) m += v[i];
    m /= (double)(b - a);
    for (size_t i = a; i < b; i++) {
        m2 += (v[i] - m) * (v[i] - m);
        m3 += (v[i] - m) * (v[i] - m) * (v[i] - m);
    }
    m2 /= (double)(b - a);
    m3 /= (double)(b - a);
    *mean = m, *var = m2, *skew = m3 / pow(m2, 1.5);
}

static double gauss(unsigned *r)
{
    double u[2];
    for (int k = 0; k < 2; k++) {
        *r = *r * 1103515245u + 12345u;
        u[k] = ((*r >> 8) + 0.5) / 16777216.0;
    }
    return sqrt(-2 * log(u[0])) * cos(2 * M_PI * u[1]);
}

START_TEST(moments_and_noise)
{
    unsigned r = 99;
    const double sigma = 1e-3;
    for (size_t i = 0; i < N; i++) x[i] = (float)(0.5 + sigma * gauss(&r));
    add_pulse_to(x, 0.05);
    cc_mainpar p;
    ck_assert_int_eq(cc_mainpar_compute(x, N, FS, TRIG, scratch, &p), CC_MP_OK);
    double m, v, k;
    naive(scratch, 0, N, &m, &v, &k);
    ck_assert_double_eq_tol(p.mean, m, 1e-9);
    ck_assert_double_eq_tol(p.var, v, 1e-9 * v);
    ck_assert_double_eq_tol(p.skew, k, 1e-6);
    naive(scratch, 0, N / 8, &m, &v, &k);
    ck_assert_double_eq_tol(p.mean_start, m, 1e-9);
    ck_assert_double_eq_tol(p.var_start, v, 1e-6 * v);
    naive(scratch, N - N / 8, N, &m, &v, &k);
    ck_assert_double_eq_tol(p.mean_end, m, 1e-9);
    ck_assert_double_eq_tol(p.var_end, v, 1e-6 * v);
    /* white noise: the 50-sample mean has sigma / sqrt(50); the pulse spoils
     * only a block or two of the median */
    ck_assert_msg(fabs(p.noise_rms / (sigma / sqrt(50)) - 1) < 0.1, "noise_rms %g", p.noise_rms);
    /* without the pulse (whose sharp onset fills the residual), the residual
     * keeps sqrt(1 - 1/50) of sigma and peaks at 4-5 sigma */
    r = 99;
    for (size_t i = 0; i < N; i++) x[i] = (float)(0.5 + sigma * gauss(&r));
    ck_assert_int_eq(cc_mainpar_compute(x, N, FS, TRIG, scratch, &p), CC_MP_OK);
    ck_assert_msg(fabs(p.resid_rms / (sigma * sqrt(1 - 1 / 50.0)) - 1) < 0.03, "resid_rms %g",
                  p.resid_rms);
    ck_assert_msg(p.resid_max > 3.5 * sigma && p.resid_max < 5.5 * sigma, "resid_max %g",
                  p.resid_max);
    /* a one-sample spike of 20 sigma stands out in the residual, not in s */
    x[10000] += (float)(20 * sigma);
    cc_mainpar q;
    cc_mainpar_compute(x, N, FS, TRIG, scratch, &q);
    ck_assert_msg(fabs(q.resid_max - 20 * sigma * 49 / 50) < 4 * sigma, "resid_max %g",
                  q.resid_max);
    ck_assert_msg(q.pulse_height < 1.5 * p.pulse_height, "height %g", q.pulse_height);
    ck_assert_double_eq_tol(q.noise_rms, p.noise_rms, 0.05 * p.noise_rms);
}
END_TEST

/* Random records of random lengths: every index inside the record, the
 * crossing order holds, every number finite. */
START_TEST(random_records_keep_invariants)
{
    unsigned r = 7;
    for (int rep = 0; rep < 300; rep++) {
        r = r * 1103515245u + 12345u;
        size_t n = CC_MP_MIN_SAMPLES + (r >> 8) % (N - CC_MP_MIN_SAMPLES);
        int kind = rep % 4;
        for (size_t i = 0; i < n; i++) {
            double g = gauss(&r);
            x[i] = (float)(kind == 0   ? g
                           : kind == 1 ? (i > n / 3 ? 1e6 : -1e6) + g
                           : kind == 2 ? (i % 97 == 0 ? 1e3 * g : 0.0)
                                       : 1e-30 * g);
        }
        cc_mainpar p;
        ck_assert_int_eq(cc_mainpar_compute(x, n, FS, (int64_t)n / 4, scratch, &p), CC_MP_OK);
        ck_assert(p.t_zero < n && p.t_rise < n && p.t_max < n && p.t_end < n);
        ck_assert(p.t_zero <= p.t_max && p.t_max <= p.t_end);
        ck_assert(p.t_decaystart <= p.t_half && p.t_half <= p.t_end);
        ck_assert(p.der_max_pos + 1 < n && p.der_min_pos + 1 < n);
        const double v[] = {
            p.pulse_height, p.offset, p.linear_drift, p.rise_time_ms, p.decay_time_ms,  p.onset_ms,
            p.var,          p.skew,   p.noise_rms,    p.resid_max,    p.height_nodrift, p.rerise};
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
            ck_assert_msg(isfinite(v[k]), "rep %d n %zu value %zu = %g", rep, n, k, v[k]);
    }
    x[0] = 2e15f;
    cc_mainpar p;
    ck_assert_int_eq(cc_mainpar_compute(x, 1000, FS, 250, scratch, &p), CC_MP_NONFINITE);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("mainpar");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, phonon_pulse);
    tcase_add_test(tc, light_pulse);
    tcase_add_test(tc, derivative_extrema);
    tcase_add_test(tc, smoothing_window);
    tcase_add_test(tc, ramp_drift);
    tcase_add_test(tc, constant_trace);
    tcase_add_test(tc, short_and_invalid);
    tcase_add_test(tc, short_record_pulse);
    tcase_add_test(tc, step_and_pileup);
    tcase_add_test(tc, moments_and_noise);
    tcase_add_test(tc, random_records_keep_invariants);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cct_run(make_suite());
}
