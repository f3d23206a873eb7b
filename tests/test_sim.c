/* test_sim.c - statistical and per-class tests of the simulator (lib/sim). */
#include <dirent.h>
#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cc_sev.h"
#include "cc_sim.h"
#include "cc_test.h"

static cc_sim *mk(const cc_sim_config *cfg, uint64_t seed)
{
    cc_err e = {{0}};
    cc_sim *s = cc_sim_new(cfg, seed, &e);
    ck_assert_msg(s != NULL, "cc_sim_new: %s", e.msg);
    return s;
}

static double mean(const float *x, uint32_t a, uint32_t b)
{
    double s = 0;
    for (uint32_t i = a; i < b; i++) s += x[i];
    return s / (double)(b - a);
}

static double rms_of(const float *x, uint32_t n)
{
    double m = mean(x, 0, n), s = 0;
    for (uint32_t i = 0; i < n; i++) s += (x[i] - m) * (x[i] - m);
    return sqrt(s / n);
}

/* index of the maximum of a 50-sample moving average, and its value minus
 * the mean of the first n/8 samples (Cait's main-parameter pulse height) */
static double smoothed_max(const float *x, uint32_t n, uint32_t *at)
{
    double off = mean(x, 0, n / 8), acc = 0, best = -1e30;
    for (uint32_t i = 0; i < n; i++) {
        acc += x[i];
        if (i >= 50) acc -= x[i - 50];
        if (i >= 49 && acc / 50 > best) best = acc / 50, *at = i - 25;
    }
    return best - off;
}

START_TEST(determinism)
{
    cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cfg.n_samples = 4096;
    cc_sim *a = mk(&cfg, 7), *b = mk(&cfg, 7), *c = mk(&cfg, 8);
    cc_sim_record ra, rb, rc;
    cc_err e = {{0}};
    ck_assert_int_eq(cc_sim_record_init(&ra, 4096, &e), 0);
    ck_assert_int_eq(cc_sim_record_init(&rb, 4096, &e), 0);
    ck_assert_int_eq(cc_sim_record_init(&rc, 4096, &e), 0);
    int differ = 0;
    for (int k = 0; k < 60; k++) {
        ck_assert_int_eq(cc_sim_next(a, &ra, &e), 0);
        ck_assert_int_eq(cc_sim_next(b, &rb, &e), 0);
        ck_assert_int_eq(cc_sim_next(c, &rc, &e), 0);
        ck_assert_int_eq(ra.class_id, rb.class_id);
        ck_assert_int_eq(ra.channel, rb.channel);
        ck_assert(ra.ph_v == rb.ph_v);
        ck_assert_int_eq(memcmp(ra.samples, rb.samples, 4096 * sizeof(float)), 0);
        differ += memcmp(ra.samples, rc.samples, 4096 * sizeof(float)) != 0;
        ck_assert_uint_eq(ra.ch_index, (uint32_t)(k % 2)); /* stream goes channel by channel */
        ck_assert_uint_eq(ra.event, (uint64_t)(k / 2));
    }
    ck_assert_int_eq(differ, 60);
    cc_sim_record_release(&ra);
    cc_sim_record_release(&rb);
    cc_sim_record_release(&rc);
    cc_sim_free(&a);
    cc_sim_free(&b);
    cc_sim_free(&c);
    ck_assert_ptr_null(a);
}
END_TEST

/* The averaged periodogram equals N^2 * rms^2 * NPS_k / (2 * sum NPS) per bin
 * (see sim_noise.c); checked in bands of 32 bins, and the RMS directly. */
START_TEST(noise_spectrum_and_rms)
{
    cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    const uint32_t n = 8192, nb = n / 2 + 1, nrec = 300;
    cfg.n_samples = n;
    cfg.n_channels = 1;
    cfg.adc = 0;
    cfg.ch[0].drift_v = 0;
    memset(cfg.class_weight, 0, sizeof cfg.class_weight);
    cfg.class_weight[CC_SIM_NOISE] = 1;
    cc_sim *s = mk(&cfg, 1234);
    cc_sim_record r;
    cc_err e = {{0}};
    ck_assert_int_eq(cc_sim_record_init(&r, n, &e), 0);
    float *in = fftwf_malloc(sizeof(float) * n);
    fftwf_complex *out = fftwf_malloc(sizeof(fftwf_complex) * nb);
    fftwf_plan p = fftwf_plan_dft_r2c_1d((int)n, in, out, FFTW_ESTIMATE);
    double *pg = calloc(nb, sizeof(double)), rms_sum = 0;
    for (uint32_t k = 0; k < nrec; k++) {
        ck_assert_int_eq(cc_sim_next(s, &r, &e), 0);
        ck_assert_int_eq(r.class_id, CC_SIM_NOISE);
        ck_assert_int_eq(r.accept, 1);
        memcpy(in, r.samples, sizeof(float) * n);
        rms_sum += rms_of(r.samples, n);
        fftwf_execute(p);
        for (uint32_t j = 0; j < nb; j++) pg[j] += out[j][0] * out[j][0] + out[j][1] * out[j][1];
    }
    double rms = rms_sum / nrec;
    ck_assert_msg(fabs(rms / cfg.ch[0].rms_v - 1) < 0.03, "rms %g, requested %g", rms,
                  cfg.ch[0].rms_v);
    double sum = 0;
    for (uint32_t j = 1; j + 1 < nb; j++) sum += cc_sim_nps_eval(&cfg.ch[0].nps, j * cfg.fs_hz / n);
    ck_assert(pg[0] / nrec < 1e-6 * pg[10] / nrec + 1e-12); /* zero DC */
    int bands = 0;
    for (uint32_t j0 = 1; j0 + 32 < nb; j0 += 32) {
        double m = 0, x = 0;
        for (uint32_t j = j0; j < j0 + 32; j++) {
            m += pg[j] / nrec;
            x += (double)n * n * cfg.ch[0].rms_v * cfg.ch[0].rms_v *
                 cc_sim_nps_eval(&cfg.ch[0].nps, j * cfg.fs_hz / n) / (2 * sum);
        }
        ck_assert_msg(fabs(m / x - 1) < 0.08, "band at %.1f Hz: periodogram / NPS = %.3f",
                      j0 * cfg.fs_hz / n, m / x);
        bands++;
    }
    ck_assert_int_eq(bands, 127);
    /* the 50 Hz line stands out of its neighbourhood */
    uint32_t b50 = (uint32_t)lround(50.0 * n / cfg.fs_hz);
    ck_assert(pg[b50] > 2.0 * pg[b50 + 6]);
    fftwf_destroy_plan(p);
    fftwf_free(in);
    fftwf_free(out);
    free(pg);
    cc_sim_record_release(&r);
    cc_sim_free(&s);
}
END_TEST

START_TEST(snr_and_pulse_height)
{
    cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cfg.n_channels = 1;
    cfg.ch[0].ph_dist = CC_SIM_PH_UNIFORM;
    cfg.ch[0].ph_min_v = cfg.ch[0].ph_max_v = 0.04; /* SNR 40 */
    cfg.ch[0].line_frac = 0;
    cc_sim *s = mk(&cfg, 99);
    cc_sim_record r;
    cc_err e = {{0}};
    ck_assert_int_eq(cc_sim_record_init(&r, cfg.n_samples, &e), 0);
    double sum = 0;
    for (int k = 0; k < 100; k++) {
        ck_assert_int_eq(cc_sim_make(s, 0, CC_SIM_EVENT, k, &r, &e), 0);
        ck_assert_double_eq_tol(r.snr, 40.0, 1e-9);
        ck_assert(fabs(r.onset_ms) <= cfg.onset_ms);
        uint32_t at;
        sum += smoothed_max(r.samples, r.n_samples, &at);
        /* the phonon shape peaks 2.9 ms after its onset */
        double tmax_ms = ((double)at - r.trigger_index) / 25.0;
        ck_assert_msg(fabs(tmax_ms - (r.onset_ms + 2.9)) < 1.5, "t_max %g onset %g", tmax_ms,
                      r.onset_ms);
    }
    /* the 50-sample average lowers the peak a little; noise adds a positive bias */
    ck_assert_msg(fabs(sum / 100 / 0.04 - 1) < 0.05, "mean height %g V for 0.04 V", sum / 100);
    cc_sim_record_release(&r);
    cc_sim_free(&s);
}
END_TEST

/* records of one class on channel 0, no drift */
typedef struct {
    cc_sim *s;
    cc_sim_record r;
    cc_sim_config cfg;
} fx;

static void fx_init(fx *f, uint64_t seed)
{
    cc_sim_config_default(&f->cfg);
    f->cfg.n_channels = 1;
    f->cfg.ch[0].drift_v = 0;
    f->s = mk(&f->cfg, seed);
    cc_err e = {{0}};
    ck_assert_int_eq(cc_sim_record_init(&f->r, f->cfg.n_samples, &e), 0);
}

static void fx_make(fx *f, int cls)
{
    cc_err e = {{0}};
    ck_assert_msg(cc_sim_make(f->s, 0, cls, 0, &f->r, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(f->r.class_id, cls);
    ck_assert_int_eq(f->r.accept, cc_sim_class_accept(cls));
}

static void fx_done(fx *f)
{
    cc_sim_record_release(&f->r);
    cc_sim_free(&f->s);
}

static uint32_t idx_ms(const cc_sim_record *r, double t_ms)
{
    double v = r->trigger_index + t_ms * r->fs_hz * 1e-3;
    return v < 0 ? 0 : v >= r->n_samples ? r->n_samples - 1 : (uint32_t)v;
}

START_TEST(jump_has_a_baseline_step)
{
    fx f;
    fx_init(&f, 5);
    int pos = 0, neg = 0;
    for (int k = 0; k < 60; k++) {
        fx_make(&f, CC_SIM_JUMP);
        const cc_sim_record *r = &f.r;
        uint32_t i = idx_ms(r, r->artefact_ms);
        double before = mean(r->samples, i > 400 ? i - 400 : 0, i > 20 ? i - 20 : 1);
        double after = mean(r->samples, i + 200, i + 600 < r->n_samples ? i + 600 : r->n_samples);
        double h = r->artefact_v;
        ck_assert_msg(fabs((after - before) - h) < 0.02 * fabs(h) + 0.002, "step %g for h %g",
                      after - before, h);
        pos += h > 0, neg += h < 0;
        ck_assert_int_eq(r->n_pulses, 0);
    }
    ck_assert(pos > 10 && neg > 10);
    fx_done(&f);
}
END_TEST

START_TEST(spike_is_short)
{
    fx f;
    fx_init(&f, 6);
    for (int k = 0; k < 60; k++) {
        fx_make(&f, CC_SIM_SPIKE);
        const cc_sim_record *r = &f.r;
        double h = r->artefact_v;
        ck_assert(fabs(h) >= 0.01);
        uint32_t wide = 0;
        for (uint32_t i = 0; i < r->n_samples; i++)
            wide += fabs(r->samples[i]) > fabs(h) / 2 && (r->samples[i] > 0) == (h > 0);
        ck_assert_msg(wide >= 1 && wide <= 26, "excursion of %u samples for h %g", wide, h);
        uint32_t i = idx_ms(r, r->artefact_ms);
        ck_assert(fabs(r->samples[i + 1] - h) < 0.1 * fabs(h) + 0.005);
    }
    fx_done(&f);
}
END_TEST

START_TEST(pileup_has_a_second_pulse)
{
    fx f;
    fx_init(&f, 7);
    int checked = 0, hist[6] = {0};
    for (int k = 0; k < 300; k++) {
        fx_make(&f, CC_SIM_PILEUP);
        const cc_sim_record *r = &f.r;
        ck_assert(r->n_pulses >= 2 && r->n_pulses <= 5);
        hist[r->n_pulses]++;
        for (int j = 1; j < r->n_pulses; j++)
            ck_assert(r->pulse_onset_ms[j] >= r->pulse_onset_ms[0] + 3.0);
        double t2 = r->pulse_onset_ms[1], ph2 = r->pulse_ph_v[1];
        int clear = ph2 > 0.02 && ph2 > 0.2 * r->pulse_ph_v[0] && t2 - r->pulse_onset_ms[0] > 30 &&
                    t2 + 10 < 0.5 * 655.36;
        for (int j = 2; j < r->n_pulses; j++)
            if (fabs(r->pulse_onset_ms[j] - t2) < 10) clear = 0;
        if (!clear || r->saturated) continue;
        double pre = mean(r->samples, idx_ms(r, t2 - 1.0), idx_ms(r, t2));
        double top = mean(r->samples, idx_ms(r, t2 + 1.3), idx_ms(r, t2 + 2.3));
        ck_assert_msg(top - pre > 0.7 * ph2, "second pulse: rise %g for ph %g", top - pre, ph2);
        checked++;
    }
    ck_assert(checked > 20);
    ck_assert(hist[2] > hist[5]); /* p = .4 / .3 / .2 / .1 */
    fx_done(&f);
}
END_TEST

START_TEST(onsets_early_late_and_clean)
{
    fx f;
    fx_init(&f, 8);
    int early = 0, late = 0;
    for (int k = 0; k < 80; k++) {
        fx_make(&f, CC_SIM_EARLYLATE);
        const cc_sim_record *r = &f.r;
        ck_assert(fabs(r->onset_ms) >= 40.0);
        early += r->onset_ms<0, late += r->onset_ms> 0;
        if (r->ph_v > 0.02 && !r->saturated) {
            uint32_t at;
            smoothed_max(r->samples, r->n_samples, &at);
            double tmax = ((double)at - r->trigger_index) / 25.0;
            ck_assert_msg(fabs(tmax - r->onset_ms - 2.9) < 2.0, "t_max %g, onset %g", tmax,
                          r->onset_ms);
        }
    }
    ck_assert(early > 10 && late > 10);
    for (int k = 0; k < 40; k++) {
        fx_make(&f, CC_SIM_EVENT);
        ck_assert(fabs(f.r.onset_ms) <= 2.0);
        fx_make(&f, CC_SIM_TESTPULSE);
        ck_assert(f.r.onset_ms == 0.0 && f.r.testpulse == 1 && f.r.accept == 1);
    }
    fx_done(&f);
}
END_TEST

START_TEST(baseline_artefacts)
{
    fx f;
    fx_init(&f, 9);
    const uint32_t n = f.cfg.n_samples;
    const double rms = f.cfg.ch[0].rms_v;
    for (int k = 0; k < 40; k++) {
        fx_make(&f, CC_SIM_DECAY);
        double d = mean(f.r.samples, 0, n / 8) - mean(f.r.samples, 7 * n / 8, n);
        ck_assert_msg(d > 3 * rms, "decaying baseline drops by %g only", d);
        ck_assert(mean(f.r.samples, 0, 50) > mean(f.r.samples, 1000, 1050));

        fx_make(&f, CC_SIM_RISE);
        double slope = f.r.artefact_v, t0 = f.r.artefact_ms;
        double expect = slope * ((0.75 * 655.36 - t0) * 1e-3);
        double end = mean(f.r.samples, n - 50, n);
        ck_assert_msg(fabs(end - expect) < 0.05 * expect + 0.003, "ramp end %g expected %g", end,
                      expect);

        fx_make(&f, CC_SIM_SQUARE);
        ck_assert_msg(rms_of(f.r.samples, n) > 1.3 * rms, "square wave rms %g",
                      rms_of(f.r.samples, n));

        fx_make(&f, CC_SIM_NOISE);
        ck_assert(rms_of(f.r.samples, n) < 1.2 * rms && f.r.n_pulses == 0);

        fx_make(&f, CC_SIM_RESET);
        ck_assert(mean(f.r.samples, 7 * n / 8, n) < -0.2 * f.r.ph_v);

        fx_make(&f, CC_SIM_TAIL);
        ck_assert(mean(f.r.samples, 7 * n / 8, n) > 0.1 * f.r.ph_v);

        fx_make(&f, CC_SIM_CARRIER);
        if (f.r.ph_v > 0.02 && !f.r.saturated) {
            uint32_t at;
            smoothed_max(f.r.samples, n, &at);
            double tmax = ((double)at - f.r.trigger_index) / 25.0 - f.r.onset_ms;
            ck_assert_msg(tmax < 1.6, "carrier peaks %g ms after its onset", tmax);
        }
        fx_make(&f, CC_SIM_DECAY_PULSE);
        ck_assert(f.r.n_pulses == 1 && f.r.artefact_v > 0);
        fx_make(&f, CC_SIM_DECAY_TAIL);
        ck_assert(f.r.n_pulses == 1 && f.r.artefact_v > 0);
    }
    fx_done(&f);
}
END_TEST

START_TEST(module_events_are_coincident)
{
    cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cfg.n_channels = 3;
    cfg.ch[2].id = 9;
    cfg.n_samples = 8192;
    cc_sim *s = mk(&cfg, 11);
    cc_sim_record r[3];
    cc_err e = {{0}};
    for (int c = 0; c < 3; c++) ck_assert_int_eq(cc_sim_record_init(&r[c], 8192, &e), 0);
    int counts[CC_SIM_NCLASS_ID] = {0}, local = 0;
    double last_t = -1;
    for (int k = 0; k < 600; k++) {
        ck_assert_int_eq(cc_sim_next_event(s, r, &e), 0);
        ck_assert(r[0].time_s > last_t);
        last_t = r[0].time_s;
        ck_assert_uint_eq(r[2].channel, 9);
        for (int c = 0; c < 3; c++) {
            counts[r[c].class_id]++;
            ck_assert(r[c].event == r[0].event && r[c].time_s == r[0].time_s);
        }
        if (r[0].class_id == CC_SIM_EVENT && r[1].class_id == CC_SIM_EVENT) {
            ck_assert(r[0].onset_ms == r[1].onset_ms && r[1].onset_ms == r[2].onset_ms);
            ck_assert(r[1].ph_v > 0 && r[2].ph_v > 0);
        }
        int nart = 0;
        for (int c = 0; c < 3; c++) nart += !r[c].accept;
        if (r[0].class_id == CC_SIM_JUMP || r[1].class_id == CC_SIM_JUMP ||
            r[2].class_id == CC_SIM_JUMP) {
            ck_assert_int_eq(nart, 1); /* a jump is local to one channel */
            local++;
        }
    }
    ck_assert(local > 5);
    int ids[CC_SIM_NCLASS_ID], nid = cc_sim_class_list(ids, CC_SIM_NCLASS_ID);
    ck_assert_int_eq(nid, 15);
    for (int i = 0; i < nid; i++)
        ck_assert_msg(counts[ids[i]] > 0, "class %s never drawn", cc_sim_class_name(ids[i]));
    ck_assert(counts[CC_SIM_EVENT] > counts[CC_SIM_JUMP]);
    for (int c = 0; c < 3; c++) cc_sim_record_release(&r[c]);
    cc_sim_free(&s);
}
END_TEST

START_TEST(adc_and_saturation)
{
    fx f;
    fx_init(&f, 12);
    int16_t *codes = malloc(sizeof(int16_t) * f.cfg.n_samples);
    int sat = 0;
    for (int k = 0; k < 200; k++) {
        fx_make(&f, CC_SIM_EVENT);
        cc_sim_to_adc(f.r.samples, f.r.n_samples, codes);
        for (uint32_t i = 0; i < f.r.n_samples; i += 97)
            ck_assert(f.r.samples[i] == (float)(codes[i] * (20.0 / 65536.0)));
        uint32_t at;
        double h = smoothed_max(f.r.samples, f.r.n_samples, &at);
        ck_assert(h < f.cfg.ch[0].sat_v); /* the logistic never exceeds its level */
        if (f.r.saturated) {
            sat++;
            ck_assert(h < 0.95 * f.r.ph_v);
        }
    }
    ck_assert(sat > 0);
    free(codes);
    fx_done(&f);
}
END_TEST

START_TEST(config_yaml)
{
    char dir[256], path[300];
    cct_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/sim.yaml", dir);
    const char *good = "sim:\n  samples: 8192\n  classes: {event: 1, jump: 1}\n  channels:\n"
                       "    - {kind: phonon, id: 7, rms_v: 0.002}\n"
                       "    - {kind: light, id: 8, nps: {terms: [{c: 1, alpha: 1}]}}\n";
    cct_write_file(path, good, strlen(good));
    cc_sim_config cfg;
    cc_err e = {{0}};
    ck_assert_msg(cc_sim_config_load(path, &cfg, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(cfg.n_samples, 8192);
    ck_assert_uint_eq(cfg.n_channels, 2);
    ck_assert_uint_eq(cfg.ch[0].id, 7);
    ck_assert(cfg.ch[0].rms_v == 0.002 && cfg.ch[1].nps.n_terms == 1);
    ck_assert(cfg.class_weight[CC_SIM_NOISE] == 0 && cfg.class_weight[CC_SIM_JUMP] == 1);
    const char *bad = "sim:\n  samples: 8192\n  chanels: []\n";
    cct_write_file(path, bad, strlen(bad));
    ck_assert_int_eq(cc_sim_config_load(path, &cfg, &e), -1);
    ck_assert_msg(strstr(e.msg, ":3:") && strstr(e.msg, "chanels"), "%s", e.msg);
    const char *bad2 = "classes: {jumps: 1}\n";
    cct_write_file(path, bad2, strlen(bad2));
    ck_assert_int_eq(cc_sim_config_load(path, &cfg, &e), -1);
    ck_assert_msg(strstr(e.msg, "jumps") && strstr(e.msg, ":1:"), "%s", e.msg);
    cc_sim_config_default(&cfg);
    cfg.n_samples = 1000;
    ck_assert_ptr_null(cc_sim_new(&cfg, 1, &e));
    ck_assert_msg(strstr(e.msg, "samples") && strstr(e.msg, "1000"), "%s", e.msg);
}
END_TEST

START_TEST(shipped_yaml_files_load)
{
    char dir[512], path[800];
    cc_err e = {{0}};
    int n = 0;
    DIR *d = opendir(CCT_SRC("conf/sim", dir));
    ck_assert_ptr_nonnull(d);
    for (struct dirent *de; (de = readdir(d));) {
        if (!strstr(de->d_name, ".yaml")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        cc_sim_config cfg;
        ck_assert_msg(cc_sim_config_load(path, &cfg, &e) == 0, "%s", e.msg);
        cc_sim *s = mk(&cfg, 1);
        cc_sim_free(&s);
        n++;
    }
    closedir(d);
    ck_assert(n >= 3);
    /* module-2ch.yaml spells out the defaults */
    cc_sim_config a, b;
    cc_sim_config_default(&a);
    snprintf(path, sizeof path, "%s/module-2ch.yaml", dir);
    ck_assert_int_eq(cc_sim_config_load(path, &b, &e), 0);
    ck_assert_int_eq(memcmp(&a, &b, sizeof a), 0);
    d = opendir(CCT_SRC("conf/scenarios", dir));
    ck_assert_ptr_nonnull(d);
    n = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (!strstr(de->d_name, ".yaml")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        cc_scenario *s = cc_scenario_load(path, 1, &e);
        ck_assert_msg(s != NULL, "%s", e.msg);
        ck_assert(cc_scenario_n_windows(s) >= 1);
        cc_scenario_free(&s);
        n++;
    }
    closedir(d);
    ck_assert(n >= 2);
}
END_TEST

START_TEST(scenario_rates_and_order)
{
    char path[512];
    cc_err e = {{0}};
    cc_scenario *s = cc_scenario_load(CCT_SRC("conf/scenarios/calibration-run.yaml", path), 5, &e);
    ck_assert_msg(s != NULL, "%s", e.msg);
    ck_assert(cc_scenario_duration(s) == 120.0);
    ck_assert_uint_eq(cc_scenario_n_samples(s), 16384);
    ck_assert_double_eq_tol(cc_scenario_rate(s, 0, CC_SIM_PILEUP, 10), 0.3, 1e-12);
    ck_assert_double_eq_tol(cc_scenario_rate(s, 0, CC_SIM_PILEUP, 70), 3.0, 1e-12);
    ck_assert_double_eq_tol(cc_scenario_rate(s, 0, CC_SIM_PILEUP, 90), 0.3, 1e-12);
    ck_assert_double_eq_tol(cc_scenario_rate(s, 5, CC_SIM_SQUARE, 29.9), 0.0, 1e-12);
    ck_assert_double_eq_tol(cc_scenario_rate(s, 5, CC_SIM_SQUARE, 1000), 1.0, 1e-12);
    ck_assert_double_eq_tol(cc_scenario_rate(s, 9, CC_SIM_EVENT, 1), 0.0, 1e-12);
    cc_sim_record r;
    ck_assert_int_eq(cc_sim_record_init(&r, 16384, &e), 0);
    double last = 0;
    int n = 0, pile_in = 0, pile_out = 0, sq_before = 0, sq_after = 0, ch1 = 0;
    int rc;
    while ((rc = cc_scenario_next(s, &r, &e)) == 1) {
        ck_assert(r.time_s >= last && r.time_s <= 120.0);
        last = r.time_s;
        n++;
        if (r.channel == 0 && r.class_id == CC_SIM_PILEUP) {
            if (r.time_s >= 60 && r.time_s < 90)
                pile_in++;
            else
                pile_out++;
            ck_assert(r.n_pulses >= 2);
        }
        if (r.channel == 5 && r.class_id == CC_SIM_SQUARE) r.time_s < 30 ? sq_before++ : sq_after++;
        if (r.channel == 1) {
            ch1++;
            ck_assert_uint_eq(r.module, 0);
        }
        if (r.channel == 5) ck_assert_uint_eq(r.module, 1);
    }
    ck_assert_int_eq(rc, 0);
    /* expectations: 90 in the window, 27 outside; 0 and 90 squares; 660 on channel 1 */
    ck_assert_msg(pile_in > 60 && pile_in < 120, "pile-up in window %d", pile_in);
    ck_assert_msg(pile_out > 12 && pile_out < 45, "pile-up outside %d", pile_out);
    ck_assert_int_eq(sq_before, 0);
    ck_assert_msg(sq_after > 60 && sq_after < 120, "squares %d", sq_after);
    ck_assert_msg(ch1 > 560 && ch1 < 760, "channel 1: %d", ch1);
    /* the same seed gives the same records */
    cc_scenario *s2 = cc_scenario_load(path, 5, &e);
    cc_sim_record r2;
    cc_sim_record_init(&r2, 16384, &e);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(cc_scenario_next(s2, &r2, &e), 1);
        if (i == 0) ck_assert(r2.time_s > 0);
    }
    cc_scenario_free(&s2);
    cc_scenario_free(&s);
    ck_assert_ptr_null(s);
    cc_sim_record_release(&r);
    cc_sim_record_release(&r2);
}
END_TEST

/* pileup_dt_ms narrows where the later pile-up pulses start (close pile-up
 * for training); the YAML key and its errors. */
START_TEST(pileup_dt_window)
{
    cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cfg.n_samples = 4096;
    cfg.n_channels = 1;
    memset(cfg.class_weight, 0, sizeof cfg.class_weight);
    cfg.class_weight[CC_SIM_PILEUP] = 1;
    cfg.pileup_dt_lo_ms = 3, cfg.pileup_dt_hi_ms = 12;
    cc_sim *s = mk(&cfg, 77);
    cc_sim_record r;
    cc_err e = {{0}};
    ck_assert_int_eq(cc_sim_record_init(&r, cfg.n_samples, &e), 0);
    double lo = 1e9, hi = -1e9;
    for (int i = 0; i < 300; i++) {
        ck_assert_int_eq(cc_sim_next(s, &r, &e), 0);
        for (int j = 1; j < r.n_pulses; j++) {
            double dt = r.pulse_onset_ms[j] - r.pulse_onset_ms[0];
            lo = fmin(lo, dt), hi = fmax(hi, dt);
        }
    }
    ck_assert_msg(lo >= 3 && lo < 3.5 && hi <= 12 && hi > 11.5, "dt in [%g, %g]", lo, hi);
    cc_sim_record_release(&r);
    cc_sim_free(&s);
    const char *yml = "sim:\n  pileup_dt_ms: [3, 25]\n";
    char dir[256], path[512];
    cct_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/pd.yaml", dir);
    cct_write_file(path, yml, strlen(yml));
    ck_assert_msg(cc_sim_config_load(path, &cfg, &e) == 0, "%s", e.msg);
    ck_assert(cfg.pileup_dt_lo_ms == 3 && cfg.pileup_dt_hi_ms == 25);
    yml = "sim:\n  pileup_dt_ms: [9, 2]\n";
    cct_write_file(path, yml, strlen(yml));
    ck_assert_int_eq(cc_sim_config_load(path, &cfg, &e), -1);
    ck_assert_msg(strstr(e.msg, "pd.yaml:2:") && strstr(e.msg, "pileup_dt_ms"), "%s", e.msg);
}
END_TEST

/* max |a - b| over n samples, relative to the peak of b */
static double max_rel_diff(const float *a, const float *b, uint32_t n)
{
    double d = 0, pk = 0;
    for (uint32_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i])), pk = fmax(pk, b[i]);
    return d / pk;
}

/* cc_sim_shape_render draws the simulator's pulse; cc_sim_shape_fit gets a
 * known shape back (det-t2 phonon and light shapes, 8192 samples at 25 kHz). */
START_TEST(shape_render_and_fit)
{
    const cc_sim_shape shapes[2] = {{5.0, 0.6, 12.0, 2.5, 45.0}, {15.0, 10.0, 50.0, 9.0, 20.0}};
    const uint32_t n = 8192;
    const double fs = 25000;
    float *x = malloc(sizeof *x * n), *y = malloc(sizeof *y * n);
    ck_assert(x && y);
    cc_err e = {{0}};
    /* the render is what the simulator draws: a noiseless event pulse of
     * height 0.5 V at onset 0 (the trigger), ADC off */
    cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cfg.n_samples = n, cfg.n_channels = 1, cfg.adc = 0, cfg.onset_ms = 0;
    cfg.ch[0].shape = shapes[0], cfg.ch[0].rms_v = 1e-9, cfg.ch[0].drift_v = 0;
    cfg.ch[0].sat_v = 0, cfg.ch[0].ph_dist = CC_SIM_PH_UNIFORM;
    cfg.ch[0].ph_min_v = cfg.ch[0].ph_max_v = 0.5, cfg.ch[0].line_frac = 0;
    memset(cfg.class_weight, 0, sizeof cfg.class_weight);
    cfg.class_weight[CC_SIM_EVENT] = 1;
    cc_sim *s = mk(&cfg, 3);
    cc_sim_record r;
    ck_assert_int_eq(cc_sim_record_init(&r, n, &e), 0);
    ck_assert_int_eq(cc_sim_next(s, &r, &e), 0);
    cc_sim_shape_render(&shapes[0], fs, n / 4 + r.onset_ms * 1e-3 * fs, x, n);
    for (uint32_t i = 0; i < n; i++) x[i] *= 0.5f;
    ck_assert_msg(max_rel_diff(r.samples, x, n) < 1e-4, "render vs sim %g",
                  max_rel_diff(r.samples, x, n));
    cc_sim_record_release(&r);
    cc_sim_free(&s);
    for (int k = 0; k < 2; k++) {
        cc_sim_shape_render(&shapes[k], fs, 2048.3, x, n);
        float pk = 0;
        for (uint32_t i = 0; i < n; i++) pk = fmaxf(pk, x[i]);
        ck_assert(fabsf(pk - 1.0f) < 1e-4f && x[2048] == 0.0f && x[2049] > 0.0f);
        cc_sim_shape_fitres f;
        ck_assert_msg(cc_sim_shape_fit(x, n, fs, &f, &e) == 0, "%s", e.msg);
        cc_sim_shape_render(&f.shape, fs, f.onset, y, n);
        double d = max_rel_diff(y, x, n);
        ck_assert_msg(
            d < 0.005 && f.rms < 1e-3 && fabs(f.peak - 1) < 0.01 && fabs(f.onset - 2048.3) < 1.0,
            "shape %d: max diff %g, rms %g, peak %g, onset %g", k, d, f.rms, f.peak, f.onset);
    }
    ck_assert_int_eq(cc_sim_shape_fit(x, 10, fs, &(cc_sim_shape_fitres){0}, &e), -1);
    free(x), free(y);
}
END_TEST

/* Runs build/tools/cryoclean with args (NULL-terminated, without argv[0]),
 * stdout and stderr to log; returns the exit status. */
static int run_tool(const char *log, const char *const *args)
{
    char exe[1024], cmd[4096];
    CCT_BUILD("tools/cryoclean", exe);
    size_t k = (size_t)snprintf(cmd, sizeof cmd, "'%s'", exe);
    for (int i = 0; args[i]; i++) k += (size_t)snprintf(cmd + k, sizeof cmd - k, " '%s'", args[i]);
    snprintf(cmd + k, sizeof cmd - k, " >'%s' 2>&1", log);
    ck_assert(k < sizeof cmd - 600);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Runs the tool with argv, requires exit status rc (else fails showing its
 * output) and returns that output (stdout + stderr); the caller frees it. */
static char *tool_output(const char *log, const char *const *argv, int rc)
{
    int got = run_tool(log, argv);
    char *out = cct_slurp(log, NULL);
    ck_assert_msg(got == rc, "cryoclean %s: exit %d, expected %d: %s", argv[0], got, rc, out);
    return out;
}

/* `cryoclean sev` on a simulated det-t2 run gives back its shapes and noise. */
START_TEST(sev_end_to_end)
{
    char dir[256], conf[1024], h5[512], yml[512], log[512];
    cct_tmpdir(dir, sizeof dir);
    CCT_SRC("conf/train/sim-det-t2.yaml", conf);
    snprintf(h5, sizeof h5, "%s/run.h5", dir);
    snprintf(yml, sizeof yml, "%s/det.yaml", dir);
    snprintf(log, sizeof log, "%s/log", dir);
    const char *sim[] = {"sim", "-q", "-c", conf, "-o", h5, "-n", "3000", "-s", "5", NULL};
    free(tool_output(log, sim, 0));
    const char *sev[] = {"sev", h5, "--labels", "-q", "--kind", "1:veto", "-o", yml, NULL};
    char *out = tool_output(log, sev, 0);
    ck_assert_msg(strstr(out, "phonon") && strstr(out, "veto") && strstr(out, "residual"), "%s",
                  out);
    free(out);
    char *y = cct_slurp(yml, NULL);
    ck_assert_msg(strstr(y, "# Fitted by `cryoclean sev` from") && strstr(y, "fs_hz: 25000") &&
                      strstr(y, "rms_v from pulse-free records"),
                  "%s", y);
    free(y);
    cc_sim_config pre, fit;
    cc_err e = {{0}};
    ck_assert_msg(cc_sim_config_load(conf, &pre, &e) == 0, "%s", e.msg);
    ck_assert_msg(cc_sim_config_load(yml, &fit, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(fit.n_samples, 8192);
    ck_assert_int_eq(fit.n_channels, 2);
    uint32_t n = fit.n_samples;
    float *a = malloc(sizeof *a * n), *b = malloc(sizeof *b * n);
    ck_assert(a && b);
    for (uint32_t c = 0; c < 2; c++) {
        ck_assert_int_eq(fit.ch[c].id, pre.ch[c].id);
        ck_assert_int_eq(fit.ch[c].kind, c ? CC_SIM_VETO : pre.ch[c].kind); /* --kind 1:veto */
        cc_sim_shape_render(&pre.ch[c].shape, fit.fs_hz, 2048, a, n);
        cc_sim_shape_render(&fit.ch[c].shape, fit.fs_hz, 2048, b, n);
        double d = max_rel_diff(b, a, n), rr = fit.ch[c].rms_v / pre.ch[c].rms_v;
        /* measured: 0.10 % / 0.06 % of the peak, rms_v 2 % / 4.4 % low */
        ck_assert_msg(d < 0.005, "channel %u: max diff %g", c, d);
        ck_assert_msg(fabs(rr - 1) < 0.07, "channel %u: rms_v %g vs %g", c, fit.ch[c].rms_v,
                      pre.ch[c].rms_v);
    }
    free(a), free(b);
    /* no classify results: the error names the dataset */
    const char *sc[] = {"sev", h5, "--scores", "-q", "-o", yml, NULL};
    out = tool_output(log, sc, 1);
    ck_assert_msg(strstr(out, "cryoclean sev: ") && strstr(out, "run.h5: events/cryoclean/accept"),
                  "%s", out);
    free(out);
    /* too few pulses: the error names the channel and the count */
    const char *hi[] = {"sev", h5, "--labels", "-q", "--min-snr", "1e6", "-o", yml, NULL};
    out = tool_output(log, hi, 1);
    ck_assert_msg(strstr(out, "channel 0: 0 pulses"), "%s", out);
    free(out);
    const char *both[] = {"sev", h5, "--labels", "--scores", "-o", yml, NULL};
    free(tool_output(log, both, 2));
}
END_TEST

/* The streaming standard-event learner: fed det-t2-like phonon records that
 * a lenient classifier accepted (events with onsets up to +-20 ms, one in
 * ten a pile-up record), its fitted shape renders within 1 % of the peak
 * of the true one; errors are named. */
START_TEST(sev_learner)
{
    cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cfg.n_samples = 8192, cfg.n_channels = 1;
    cfg.ch[0].shape = (cc_sim_shape){.an = 5, .at = 0.6, .tau_n = 12, .tau_in = 2.5, .tau_t = 45};
    cfg.ch[0].rms_v = 0.0009;
    cc_sim *s = mk(&cfg, 91);
    cc_err e = {{0}};
    cc_sim_record r;
    ck_assert_int_eq(cc_sim_record_init(&r, cfg.n_samples, &e), 0);
    cc_sev_learn_opts o = {.pulses = 120, .min_snr = 20};
    cc_sev_learner *l = cc_sev_learner_new(cfg.n_samples, cfg.fs_hz, cfg.n_samples / 4, &o, &e);
    ck_assert_msg(l != NULL, "%s", e.msg);
    cc_sim_shape got;
    ck_assert_int_eq(cc_sev_learner_fit(l, &got, NULL, &e), -1);
    ck_assert_msg(strstr(e.msg, "0 of 120 pulses"), "%s", e.msg);
    int offered = 0;
    for (int i = 0; i < 2000 && !cc_sev_learner_complete(l); i++) {
        int cls = i % 10 == 9 ? CC_SIM_PILEUP : CC_SIM_EVENT;
        ck_assert_int_eq(cc_sim_make(s, 0, cls, i, &r, &e), 0);
        cc_sev_learner_add(l, r.samples);
        offered++;
    }
    ck_assert_msg(cc_sev_learner_complete(l), "only %u pulses in %d records",
                  cc_sev_learner_count(l), offered);
    cc_sim_shape_fitres fr;
    ck_assert_msg(cc_sev_learner_fit(l, &got, &fr, &e) == 0, "%s", e.msg);
    static float a[8192], b[8192];
    cc_sim_shape_render(&cfg.ch[0].shape, cfg.fs_hz, 2048, a, 8192);
    cc_sim_shape_render(&got, cfg.fs_hz, 2048, b, 8192);
    double worst = 0;
    for (int i = 0; i < 8192; i++) worst = fmax(worst, fabs(a[i] - b[i]));
    ck_assert_msg(worst < 0.01, "learnt shape off by %.4f of the peak", worst);
    ck_assert_int_eq(cc_sev_learner_add(l, r.samples), 0); /* complete: takes no more */
    cc_sev_learner_free(&l);
    ck_assert_ptr_null(l);
    ck_assert_ptr_null(cc_sev_learner_new(32, 25000, 8, NULL, &e));
    ck_assert_msg(strstr(e.msg, "32 samples"), "%s", e.msg);
    cc_sim_record_release(&r);
    cc_sim_free(&s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sim");
    TCase *t = tcase_create("sim");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, determinism);
    tcase_add_test(t, pileup_dt_window);
    tcase_add_test(t, noise_spectrum_and_rms);
    tcase_add_test(t, snr_and_pulse_height);
    tcase_add_test(t, jump_has_a_baseline_step);
    tcase_add_test(t, spike_is_short);
    tcase_add_test(t, pileup_has_a_second_pulse);
    tcase_add_test(t, onsets_early_late_and_clean);
    tcase_add_test(t, baseline_artefacts);
    tcase_add_test(t, module_events_are_coincident);
    tcase_add_test(t, adc_and_saturation);
    tcase_add_test(t, config_yaml);
    tcase_add_test(t, shipped_yaml_files_load);
    tcase_add_test(t, scenario_rates_and_order);
    tcase_add_test(t, shape_render_and_fit);
    tcase_add_test(t, sev_end_to_end);
    tcase_add_test(t, sev_learner);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return cct_run(suite());
}
