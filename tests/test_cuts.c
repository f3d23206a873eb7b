/* test_cuts.c - the `cuts` classifier plugin, loaded for real through the registry.
 *
 * Synthetic CRESST-like records (16384 samples at 25 kHz, trigger at 1/4,
 * white Gaussian noise of 1 mV from a fixed seed) of the clean and artefact
 * classes of the domain notes; the shipped defaults must accept the clean
 * ones and reject the artefacts. Opening one cut in the config and seeing the
 * artefact pass again shows which cut did the work.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_mainpar.h"
#include "cc_registry.h"
#include "cc_test.h"

#define N     16384
#define FS    25000.0
#define TRIG  (N / 4)
#define NOISE 1e-3

/* ---- synthetic records ---- */

typedef struct shape {
    double t0, an, at, tau_n, tau_in, tau_t; /* ms, Proebst et al. 1995 */
} shape;

static const shape phonon = {-1.11, 4.0, 0.02, 4.15, 2.1, 53.06};
static const shape light = {0.77, 51.76, 50.81, 37.24, 8.33, 8.59};
static const shape carrier = {0.0, 1.73, 1.65, 136.0, 0.38, 2.13};

static double t_ms(size_t i)
{
    return ((double)i - TRIG) / FS * 1000.0;
}

static double proebst(const shape *s, double t)
{
    if (t <= s->t0) return 0.0;
    double u = t - s->t0;
    return s->an * (exp(-u / s->tau_n) - exp(-u / s->tau_in)) +
           s->at * (exp(-u / s->tau_t) - exp(-u / s->tau_n));
}

/* Adds a pulse of the given height (its maximum) with onset shifted by dt ms. */
static void add_pulse(float *x, const shape *s0, double height, double dt)
{
    shape s = *s0;
    s.t0 += dt;
    double pmax = 0;
    for (double t = s.t0; t < s.t0 + 200; t += 0.01) pmax = fmax(pmax, proebst(&s, t));
    for (size_t i = 0; i < N; i++) x[i] += (float)(height * proebst(&s, t_ms(i)) / pmax);
}

static uint64_t rng = 88172645463325252ull;

static double uniform(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}

/* Baseline 0.3 V plus white Gaussian noise of rms sigma (Box-Muller). */
static void noise(float *x, double sigma)
{
    for (size_t i = 0; i < N; i++)
        x[i] = (float)(0.3 + sigma * sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform()));
}

/* Baseline 0.3 V plus red noise of rms sigma: AR(1) with a 20 ms memory, the
 * low-frequency wander (mean levels differing by several smoothed rms from
 * one end of the window to the other) that white noise lacks. */
static void red_noise(float *x, double sigma)
{
    const double a = exp(-1.0 / 500);
    double y = 0;
    for (size_t i = 0; i < N; i++) {
        y = a * y + sqrt(1 - a * a) * sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform());
        x[i] = (float)(0.3 + sigma * y);
    }
}

/* Adds v(t) for t >= t0 (ms): the artefact shapes of Cait's simulator. */
static void add_step(float *x, double t0, double h, double w_ms)
{
    for (size_t i = 0; i < N; i++) {
        double u = t_ms(i) - t0;
        if (u < 0) continue;
        x[i] += (float)(h > 0 ? h * fmin(u / w_ms, 1.0) : h * (1 - exp(-u / w_ms)));
    }
}

static void add_box(float *x, double t0, double h, double w_ms)
{
    for (size_t i = 0; i < N; i++)
        if (t_ms(i) >= t0 && t_ms(i) < t0 + w_ms) x[i] += (float)h;
}

static void add_ramp(float *x, double t0, double v_per_s)
{
    for (size_t i = 0; i < N; i++)
        if (t_ms(i) > t0) x[i] += (float)(v_per_s * (t_ms(i) - t0) / 1000);
}

/* Soft saturation K tanh(v / K) of everything above the baseline 0.3 V. */
static void saturate(float *x, double k)
{
    for (size_t i = 0; i < N; i++) x[i] = (float)(0.3 + k * tanh((x[i] - 0.3) / k));
}

/* ---- the plugin ---- */

static cc_registry *reg;
static cc_classifier clf;
static void *ws;

static void load(const char *yaml)
{
    cc_err e = {""};
    reg = cc_registry_new(cct_env("CC_PLUGIN_DIR"));
    ck_assert_ptr_nonnull(reg);
    cc_ydoc *doc = NULL;
    if (yaml) {
        doc = cc_ydoc_load_string("cuts.yaml", yaml, strlen(yaml), &e);
        ck_assert_msg(doc != NULL, "%s", e.msg);
    }
    int r = cc_classifier_create(reg, "cuts", "cuts", doc ? doc->root : NULL, ".", &clf, &e);
    ck_assert_msg(r == 0, "%s", e.msg);
    cc_ydoc_free(&doc);
    ck_assert_ptr_nonnull(ws = clf.ops->ws_new(clf.inst, 4));
}

static void unload(void)
{
    clf.ops->ws_free(clf.inst, ws);
    cc_classifier_destroy(&clf);
    cc_registry_free(&reg);
}

static float score_n(const float *x, size_t n, uint32_t channel)
{
    cc_record_meta m = {.channel = channel,
                        .n_samples = (uint32_t)n,
                        .trigger_index = (uint32_t)(n / 4),
                        .sample_rate_hz = (float)FS};
    const float *raw[1] = {x};
    cc_batch b = {.n = 1, .meta = &m, .raw = raw};
    float s = -1;
    cc_err e = {""};
    ck_assert_msg(clf.ops->classify(clf.inst, ws, &b, &s, &e) == 0, "%s", e.msg);
    ck_assert_msg(s == 0.0f || s == 1.0f, "score %g is not a hard 0/1", s);
    return s;
}

/* Asserts the score and prints the main parameters when it is wrong. */
static void expect(const char *what, const float *x, uint32_t channel, float want)
{
    float got = score_n(x, N, channel);
    if (got == want) return;
    static float s[N];
    cc_mainpar p;
    cc_mainpar_compute(x, N, FS, TRIG, s, &p);
    ck_abort_msg("%s: score %g, expected %g (ph %.4g above-drift %.4g rms %.3g slope %.3g onset "
                 "%.3g rise %.3g decay %.3g%s tail %.3g rerise %.3g min %.3g)",
                 what, got, want, p.pulse_height, p.height_nodrift, p.noise_rms, p.linear_drift,
                 p.onset_ms, p.rise_time_ms, p.decay_time_ms,
                 p.flags & CC_MP_NO_DECAY ? " (no decay)" : "", p.mean_end / p.pulse_height,
                 p.rerise, p.min_nodrift);
}

static float x[N];

/* ---- clean records ---- */

START_TEST(accepts_clean)
{
    load(NULL);
    ck_assert_str_eq(clf.info.model, "cuts");
    ck_assert_uint_eq(clf.info.input_len, 0);
    for (int k = 0; k < 10; k++) { /* ten noise realisations each */
        noise(x, NOISE);
        expect("noise trace", x, 1, 1);
        noise(x, NOISE);
        add_pulse(x, &phonon, 0.1, 0);
        expect("phonon pulse, 0.1 V", x, 1, 1);
        noise(x, NOISE);
        add_pulse(x, &phonon, 0.006, 0);
        expect("phonon pulse, 6 mV (SNR 6 raw, ~40 smoothed)", x, 1, 1);
    }
    noise(x, NOISE);
    add_pulse(x, &phonon, 3.0, 15);
    expect("phonon pulse 15 ms after the trigger", x, 1, 1);
    noise(x, NOISE);
    add_pulse(x, &phonon, 0.5, -15);
    expect("phonon pulse 15 ms before the trigger", x, 1, 1);
    noise(x, NOISE);
    add_pulse(x, &light, 0.05, 0);
    expect("light-detector pulse", x, 1, 1);
    noise(x, NOISE);
    add_pulse(x, &carrier, 0.2, 0);
    expect("carrier event", x, 1, 1);
    noise(x, NOISE);
    add_pulse(x, &phonon, 20.0, 0);
    saturate(x, 2.0);
    expect("saturated pulse (flat top)", x, 1, 1);
    noise(x, NOISE);
    add_ramp(x, -200, 0.03);
    expect("noise with a typical slope (0.03 V/s)", x, 1, 1);
    for (int k = 0; k < 20; k++) {
        red_noise(x, NOISE);
        expect("red noise trace", x, 1, 1);
        red_noise(x, NOISE);
        add_pulse(x, &phonon, 0.01, 0);
        expect("phonon pulse of 10 mV on red noise", x, 1, 1);
    }
    unload();
}
END_TEST

/* ---- artefacts ---- */

START_TEST(rejects_artefacts)
{
    load(NULL);
    noise(x, NOISE);
    add_step(x, 2, 0.5, 0.5);
    expect("SQUID jump up", x, 1, 0);
    noise(x, NOISE);
    add_step(x, 2, -0.5, 0.5);
    expect("SQUID jump down", x, 1, 0);
    noise(x, NOISE);
    add_pulse(x, &phonon, 0.3, 0);
    add_step(x, 50, -0.2, 0.2);
    expect("pulse with a SQUID jump down on its decay", x, 1, 0);
    noise(x, NOISE);
    add_box(x, 0.5, 0.5, 0.5);
    expect("spike up", x, 1, 0);
    noise(x, NOISE);
    add_box(x, 60, -0.5, 0.3);
    expect("spike down", x, 1, 0);
    noise(x, NOISE);
    add_box(x, -40, 0.03, 0.04); /* 30 mV for one sample: 0.6 mV after smoothing */
    expect("one-sample spike, invisible after smoothing", x, 1, 0);
    noise(x, NOISE);
    add_pulse(x, &phonon, 0.2, 100);
    expect("pulse 100 ms late", x, 1, 0);
    noise(x, NOISE);
    add_pulse(x, &phonon, 0.2, -80);
    expect("pulse 80 ms early", x, 1, 0);
    noise(x, NOISE);
    add_ramp(x, -163, 0.3);
    expect("temperature rise, 0.3 V/s", x, 1, 0);
    noise(x, NOISE);
    add_pulse(x, &phonon, 0.3, 0);
    add_pulse(x, &phonon, 0.1, 120);
    expect("pile-up, second pulse a third of the first", x, 1, 0);
    noise(x, NOISE);
    add_pulse(x, &phonon, 8.0, -200);
    expect("decaying baseline", x, 1, 0);
    noise(x, NOISE);
    add_pulse(x, &phonon, 8.0, -200);
    add_pulse(x, &phonon, 0.5, 0);
    expect("decaying baseline with a pulse", x, 1, 0);
    noise(x, NOISE);
    add_pulse(x, &phonon, 0.4, 0);
    add_step(x, phonon.t0, 0.1, 1);
    expect("pulse with a tail (step of 0.25 x height)", x, 1, 0);
    noise(x, NOISE);
    add_pulse(x, &phonon, 0.2, 0);
    add_step(x, phonon.t0, 0.04, 1); /* slope 2.4e-6 V/sample: within the slope cut */
    expect("pulse with a tail (step of 0.2 x height)", x, 1, 0);
    noise(x, NOISE);
    add_pulse(x, &phonon, 0.4, 0);
    add_step(x, phonon.t0 + phonon.tau_in, -0.2, 0.1);
    expect("reset (negative jump after the rise)", x, 1, 0);
    unload();
}
END_TEST

/* Opening one cut lets exactly its artefact through: the cuts do the work. */
START_TEST(each_cut_does_its_job)
{
    /* a spike fails both the rise and the decay lower bound */
    load("default: {rise_time_ms: [null, 25]}\n");
    noise(x, NOISE);
    add_box(x, 0.5, 0.5, 0.5);
    expect("spike with the rise lower bound open", x, 1, 0);
    unload();
    load("default: {decay_time_ms: [null, 200]}\n");
    expect("spike with the decay lower bound open", x, 1, 0);
    unload();
    load("default:\n"
         "  rise_time_ms: [null, 25]\n"
         "  decay_time_ms: [null, 200]\n");
    expect("spike with rise/decay lower bounds open", x, 1, 1);
    unload();

    /* a tail is a step: it ends high (tail_fraction) and the baseline before
     * the pulse lies below the line through both ends (min_sigma) */
    load("default: {min_sigma: [null, null]}\n");
    noise(x, NOISE);
    add_pulse(x, &phonon, 0.2, 0);
    add_step(x, phonon.t0, 0.04, 1);
    expect("pulse with a tail, min_sigma open", x, 1, 0);
    unload();
    load("default: {tail_fraction: [null, null]}\n");
    expect("pulse with a tail, tail_fraction open", x, 1, 0);
    unload();
    load("default: {tail_fraction: [null, null], min_sigma: [null, null]}\n");
    expect("pulse with a tail, both open", x, 1, 1);
    unload();

    load("default: {spike_sigma: [null, 1.0e+3]}\n");
    noise(x, NOISE);
    add_box(x, -40, 0.03, 0.04);
    expect("one-sample spike with the spike cut at 1000 rms", x, 1, 1);
    unload();

    load("default: {onset_ms: [null, null]}\n");
    noise(x, NOISE);
    add_pulse(x, &phonon, 0.2, 100);
    expect("late pulse with the onset cut open", x, 1, 1);
    unload();

    load("default: {slope: [~, ~]}\n");
    noise(x, NOISE);
    add_ramp(x, -163, 0.3);
    expect("temperature rise with the slope cut open", x, 1, 1);
    unload();

    load("default: {rerise_sigma: [null, null]}\n");
    noise(x, NOISE);
    add_pulse(x, &phonon, 0.3, 0);
    add_pulse(x, &phonon, 0.1, 120);
    expect("pile-up with the re-rise cut open", x, 1, 1);
    unload();

    /* a threshold above the pulse makes it a noise trace: no timing cuts, but
     * the spike cut of noise traces sees its sharp onset in the residual */
    load("pulse_threshold: {sigma: 5, volts: 0.5}\n");
    noise(x, NOISE);
    add_pulse(x, &phonon, 0.2, 100);
    expect("late pulse below a 0.5 V threshold", x, 1, 0);
    unload();
    load("pulse_threshold: {sigma: 5, volts: 0.5}\n"
         "default: {spike_sigma: [null, null]}\n");
    expect("late pulse below a 0.5 V threshold, spike cut open", x, 1, 1);
    add_pulse(x, &phonon, 1.0, 0);
    expect("late pulse behind a 1 V pulse", x, 1, 0);
    unload();
}
END_TEST

START_TEST(channel_overrides)
{
    load("default:\n"
         "  rise_time_ms: [0.8, 25]\n"
         "  spike_sigma: [null, null]\n"
         "channels:\n"
         "  7: { rise_time_ms: [0.1, 1.0] }\n"
         "  9: { pulse_threshold: {volts: 1.0} }\n");
    noise(x, NOISE);
    add_pulse(x, &phonon, 0.1, 0); /* rise about 1.7 ms after smoothing */
    expect("phonon pulse on channel 3 (default cuts)", x, 3, 1);
    expect("phonon pulse on channel 7 (rise <= 1 ms)", x, 7, 0);
    noise(x, NOISE);
    add_pulse(x, &phonon, 0.2, 100);
    expect("late pulse on channel 3", x, 3, 0);
    expect("late pulse on channel 9 (threshold 1 V)", x, 9, 1);
    /* the override inherits the rest of the defaults */
    noise(x, NOISE);
    add_ramp(x, -163, 0.3);
    expect("temperature rise on channel 7", x, 7, 0);
    unload();
}
END_TEST

START_TEST(invalid_records)
{
    load("max_samples: 20000\n");
    noise(x, NOISE);
    for (size_t i = 0; i < N; i++) x[i] = 0.125f;
    ck_assert_float_eq(score_n(x, N, 1), 0.0f); /* flat: dead channel */
    noise(x, NOISE);
    ck_assert_float_eq(score_n(x, 100, 1), 0.0f); /* too short */
    x[5000] = NAN;
    ck_assert_float_eq(score_n(x, N, 1), 0.0f);
    /* longer than max_samples: the batch fails with a message */
    static float big[30000];
    cc_record_meta m = {.channel = 4, .n_samples = 30000, .sample_rate_hz = 25000};
    const float *raw[1] = {big};
    cc_batch b = {.n = 1, .meta = &m, .raw = raw};
    float s;
    cc_err e = {""};
    ck_assert_int_eq(clf.ops->classify(clf.inst, ws, &b, &s, &e), -1);
    ck_assert_msg(strstr(e.msg, "30000") && strstr(e.msg, "max_samples"), "%s", e.msg);
    unload();

    load("reject_flat: false\n");
    for (size_t i = 0; i < N; i++) x[i] = 0.125f;
    ck_assert_float_eq(score_n(x, N, 1), 1.0f);
    unload();
}
END_TEST

/* A batch of mixed records is scored record by record. */
START_TEST(batch)
{
    load(NULL);
    static float a[N], b2[N], c[N];
    noise(a, NOISE);
    add_pulse(a, &phonon, 0.1, 0);
    noise(b2, NOISE);
    add_step(b2, 2, 0.5, 0.5);
    noise(c, NOISE);
    cc_record_meta m[3];
    for (int i = 0; i < 3; i++)
        m[i] = (cc_record_meta){.channel = (uint32_t)i,
                                .n_samples = N,
                                .trigger_index = TRIG,
                                .sample_rate_hz = (float)FS};
    const float *raw[3] = {a, b2, c};
    cc_batch b = {.n = 3, .meta = m, .raw = raw};
    float s[3];
    cc_err e = {""};
    ck_assert_int_eq(clf.ops->classify(clf.inst, ws, &b, s, &e), 0);
    ck_assert_float_eq(s[0], 1.0f);
    ck_assert_float_eq(s[1], 0.0f);
    ck_assert_float_eq(s[2], 1.0f);
    unload();
}
END_TEST

/* ---- configuration errors ---- */

static void expect_error(const char *yaml, const char *const *needles)
{
    cc_err e = {""};
    cc_registry *r = cc_registry_new(cct_env("CC_PLUGIN_DIR"));
    cc_ydoc *doc = cc_ydoc_load_string("cuts.yaml", yaml, strlen(yaml), &e);
    ck_assert_msg(doc != NULL, "%s", e.msg);
    cc_classifier c;
    ck_assert_int_eq(cc_classifier_create(r, "mycuts", "cuts", doc->root, ".", &c, &e), -1);
    for (const char *const *n = needles; *n; n++)
        ck_assert_msg(strstr(e.msg, *n), "'%s' not in: %s", *n, e.msg);
    cc_ydoc_free(&doc);
    cc_registry_free(&r);
}

START_TEST(config_errors)
{
    expect_error("default:\n  rise_tme_ms: [0.1, 3]\n",
                 (const char *[]){"cuts.yaml:2:3:", "rise_tme_ms", "rise_time_ms", "onset_ms",
                                  "slope", NULL});
    expect_error(
        "channels:\n  7: {onset: [1, 2]}\n",
        (const char *[]){"cuts.yaml:2:7:", "channels.7", "'onset'", "pulse_threshold", NULL});
    expect_error("default:\n  onset_ms: [5, -5]\n",
                 (const char *[]){"cuts.yaml:2:13:", "onset_ms", "low <= high", NULL});
    expect_error("default:\n  slope: [a, 1]\n",
                 (const char *[]){"cuts.yaml:2:11:", "slope", "number or null", "'a'", NULL});
    expect_error("default:\n  slope: 0.001\n",
                 (const char *[]){"cuts.yaml:2:10:", "slope", "[low, high]", NULL});
    expect_error("default:\n  slope: [1, 2, 3]\n", (const char *[]){"2:10:", "[low, high]", NULL});
    expect_error("pulse_treshold: 5\n",
                 (const char *[]){"cuts.yaml:1:1:", "pulse_treshold", "pulse_threshold", NULL});
    expect_error("pulse_threshold: {sigma: -1}\n",
                 (const char *[]){"cuts.yaml:1:26:", "sigma", NULL});
    expect_error("pulse_threshold: {rms: 5}\n", (const char *[]){"1:19:", "'rms'", "volts", NULL});
    expect_error("channels:\n  x7: {slope: [0, 1]}\n",
                 (const char *[]){"cuts.yaml:2:3:", "channel number", "'x7'", NULL});
    expect_error("channels:\n  7: {}\n  07: {}\n", (const char *[]){"3:3:", "7", "twice", NULL});
    expect_error("max_samples: 10\n", (const char *[]){"1:14:", "max_samples", NULL});
    expect_error("[1, 2]\n", (const char *[]){"config", "mapping", NULL});
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("cuts");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, accepts_clean);
    tcase_add_test(tc, rejects_artefacts);
    tcase_add_test(tc, each_cut_does_its_job);
    tcase_add_test(tc, channel_overrides);
    tcase_add_test(tc, invalid_records);
    tcase_add_test(tc, batch);
    tcase_add_test(tc, config_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cct_run(make_suite());
}
