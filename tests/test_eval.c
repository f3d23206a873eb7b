/* test_eval.c - the paper's metrics on known inputs: a hand-made confusion,
 * a cutoff sweep over known scores, NaN for undefined ratios, binned maps and
 * their normalised integrals, PCA of data with known principal axes, the JSON
 * round trip, the batching of cc_eval_run through a test classifier, the
 * IOR / IOS sources' truth, and the real `cuts` plugin on simulated data. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_eval.h"
#include "cc_h5.h"
#include "cc_test.h"

START_TEST(known_confusion)
{
    /* 5 clean (4 accepted), 5 artefacts (2 accepted) */
    const float s[] = {0.9f, 0.8f, 0.7f, 0.6f, 0.1f, 0.95f, 0.5f, 0.2f, 0.3f, 0.4f};
    const uint8_t l[] = {1, 1, 1, 1, 1, 0, 0, 0, 0, 0};
    cc_eval_metrics m;
    cc_eval_at(s, l, 10, 0.5, &m);
    ck_assert_uint_eq(m.c.tp, 4);
    ck_assert_uint_eq(m.c.fn, 1);
    ck_assert_uint_eq(m.c.tn, 3);
    ck_assert_uint_eq(m.c.fp, 2);
    ck_assert_double_eq_tol(m.recall, 0.8, 1e-15);
    ck_assert_double_eq_tol(m.selectivity, 0.6, 1e-15);
    ck_assert_double_eq_tol(m.ba, 0.7, 1e-15);
    ck_assert_double_eq_tol(m.precision, 4.0 / 6.0, 1e-15);
    ck_assert_double_eq_tol(m.accuracy, 0.7, 1e-15);
    /* score == cutoff accepts, as in the daemon */
    cc_eval_at(s, l, 10, 0.95, &m);
    ck_assert_uint_eq(m.c.fp, 1);
    ck_assert_uint_eq(m.c.tp, 0);
    ck_assert_double_eq(m.precision, 0.0);
    /* no artefacts at all: selectivity and BA undefined, not 0 or 1 */
    cc_eval_at(s, l, 5, 0.5, &m);
    ck_assert(isnan(m.selectivity) && isnan(m.ba));
    ck_assert_double_eq_tol(m.recall, 0.8, 1e-15);
    cc_eval_at(s, l, 10, 2.0, &m); /* nothing accepted: precision undefined */
    ck_assert(isnan(m.precision));
}
END_TEST

START_TEST(sweep_of_known_scores)
{
    /* scores i/100, clean iff i >= 50: perfect at 0.5, known values elsewhere */
    float s[100];
    uint8_t l[100];
    int cls[100];
    for (int i = 0; i < 100; i++) s[i] = i / 100.0f, l[i] = i >= 50, cls[i] = i >= 50 ? 1 : 4;
    cc_eval_report r;
    cc_eval_report_init(&r, "test", "m", "known", 0.5);
    cc_eval_report_labels(&r, s, l, cls, 100);
    ck_assert_uint_eq(r.n_sweep, 19);
    ck_assert_double_eq_tol(r.sweep[0].cutoff, 0.05, 1e-12);
    ck_assert_double_eq_tol(r.sweep[18].cutoff, 0.95, 1e-12);
    ck_assert_double_eq(r.at.ba, 1.0);
    const cc_eval_metrics *q = &r.sweep[4]; /* cutoff 0.25 */
    ck_assert_double_eq_tol(q->cutoff, 0.25, 1e-12);
    ck_assert_double_eq(q->recall, 1.0);
    ck_assert_double_eq_tol(q->selectivity, 0.5, 1e-12);
    ck_assert_double_eq_tol(q->precision, 50.0 / 75.0, 1e-12);
    q = &r.sweep[14]; /* cutoff 0.75: i >= 75 accepted (0.75f >= 0.75 in float) */
    ck_assert_double_eq_tol(q->recall, q->c.tp / 50.0, 1e-12);
    ck_assert_uint_ge(q->c.tp, 24);
    ck_assert_uint_le(q->c.tp, 26);
    ck_assert_double_eq(q->selectivity, 1.0);
    for (size_t j = 1; j < r.n_sweep; j++) /* recall never rises with the cutoff */
        ck_assert(r.sweep[j].recall <= r.sweep[j - 1].recall);
    ck_assert_uint_eq(r.cls_n[1], 50);
    ck_assert_uint_eq(r.cls_acc[1], 50);
    ck_assert_uint_eq(r.cls_n[4], 50);
    ck_assert_uint_eq(r.cls_acc[4], 0);
    cc_eval_report_release(&r);
}
END_TEST

START_TEST(maps_and_integrals)
{
    cc_eval_map m;
    cc_err e = {""};
    ck_assert_int_eq(cc_eval_map_init(&m, 2, 3.0, 300.0, 1, 1, 0, 1, &e), 0);
    ck_assert_double_eq_tol(cc_eval_map_edge_x(&m, 1), 30.0, 1e-9); /* log middle */
    /* bin 0: 3 of 4 accepted; bin 1: 1 of 1 */
    ck_assert_int_eq(cc_eval_map_add(&m, 3.0, 0, 1), 0);
    cc_eval_map_add(&m, 10.0, 0, 1), cc_eval_map_add(&m, 29.0, 0, 1);
    cc_eval_map_add(&m, 5.0, 0, 0), cc_eval_map_add(&m, 300.0, 0, 1);
    ck_assert_int_eq(cc_eval_map_add(&m, 2.9, 0, 1), -1);
    ck_assert_int_eq(cc_eval_map_add(&m, 301.0, 0, 1), -1);
    ck_assert_double_eq_tol(cc_eval_map_rate(&m, 0, 0), 0.75, 1e-15);
    size_t empty = 9;
    ck_assert_double_eq_tol(cc_eval_map_integral(&m, &empty), (0.75 + 1.0) / 2, 1e-15);
    ck_assert_uint_eq(empty, 0);
    cc_eval_map_release(&m);

    /* 2-D: 2 x 2, one empty cell left out of the mean */
    ck_assert_int_eq(cc_eval_map_init(&m, 2, 0, 10, 0, 2, 0, 1, &e), 0);
    cc_eval_map_add(&m, 1, 0.1, 1), cc_eval_map_add(&m, 1, 0.1, 0); /* (0,0): 0.5 */
    cc_eval_map_add(&m, 7, 0.2, 1);                                 /* (1,0): 1 */
    cc_eval_map_add(&m, 2, 0.9, 0);                                 /* (0,1): 0 */
    ck_assert_double_eq_tol(cc_eval_map_integral(&m, &empty), 0.5, 1e-15);
    ck_assert_uint_eq(empty, 1);
    ck_assert(isnan(cc_eval_map_rate(&m, 1, 1)));
    cc_eval_map_release(&m);

    ck_assert_int_eq(cc_eval_map_init(&m, 4, 0.0, 10.0, 1, 1, 0, 1, &e), -1);
    ck_assert_msg(strstr(e.msg, "lo > 0"), "%s", e.msg);
}
END_TEST

/* Deterministic normal draws (Box-Muller on an LCG). */
static double gauss(uint64_t *st)
{
    *st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
    double u = ((*st >> 11) + 0.5) / 9007199254740992.0;
    *st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
    double v = ((*st >> 11) + 0.5) / 9007199254740992.0;
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

START_TEST(pca_finds_known_axes)
{
    enum { N = 4000, D = 6 };
    const double u[D] = {1 / sqrt(2), 1 / sqrt(2), 0, 0, 0, 0};
    const double w[D] = {0, 0, 0.6, -0.8, 0, 0};
    float *x = malloc(sizeof(float) * N * D);
    uint64_t st = 42;
    for (int i = 0; i < N; i++) {
        double a = 3.0 * gauss(&st), b = 1.0 * gauss(&st);
        for (int j = 0; j < D; j++)
            x[i * D + j] = (float)(5.0 + a * u[j] + b * w[j] + 0.05 * gauss(&st));
    }
    double out[N * 2], var[2], axes[2 * D];
    cc_err e = {""};
    ck_assert_msg(cc_eval_pca(x, N, D, 2, out, var, axes, &e) == 0, "%s", e.msg);
    ck_assert_double_eq_tol(var[0], 9.0, 0.5); /* +0.05^2 noise, sampling ~ 2% */
    ck_assert_double_eq_tol(var[1], 1.0, 0.08);
    double d0 = 0, d1 = 0, p = 0;
    for (int j = 0; j < D; j++) d0 += axes[j] * u[j], d1 += axes[D + j] * w[j];
    ck_assert_double_gt(fabs(d0), 0.999);
    ck_assert_double_gt(fabs(d1), 0.999);
    /* projections are centred and have the eigenvalue as variance */
    double m = 0, v = 0;
    for (int i = 0; i < N; i++) m += out[2 * i], p += out[2 * i] * out[2 * i + 1];
    m /= N;
    for (int i = 0; i < N; i++) v += (out[2 * i] - m) * (out[2 * i] - m);
    ck_assert_double_eq_tol(m, 0.0, 1e-6);
    ck_assert_double_eq_tol(v / (N - 1), var[0], 1e-6 * var[0]);
    ck_assert_double_eq_tol(p / N, 0.0, 1e-6); /* PC1 and PC2 uncorrelated */
    ck_assert_int_eq(cc_eval_pca(x, 1, D, 2, out, var, NULL, &e), -1);
    free(x);
}
END_TEST

START_TEST(json_round_trip)
{
    float s[100];
    uint8_t l[100];
    int cls[100];
    for (int i = 0; i < 100; i++)
        s[i] = (float)((i * 37) % 100) / 100.0f, l[i] = i % 3 != 0, cls[i] = l[i] ? 3 : 7;
    cc_eval_report r, q;
    cc_err e = {""};
    cc_eval_report_init(&r, "cuts \"x\"", "model", "unit test", 0.4);
    cc_eval_report_labels(&r, s, l, cls, 100);
    cc_eval_set set = {0};
    set.n = 100;
    set.score = s, set.label = l;
    double snr[100], dt[100], ratio[100];
    for (int i = 0; i < 100; i++) snr[i] = 3.0 * pow(100.0, i / 99.0), dt[i] = i, ratio[i] = 0.5;
    set.snr = snr, set.dt_ms = dt, set.ratio = ratio;
    ck_assert_int_eq(cc_eval_report_ior(&r, &set, 3, 300, 10, &e), 0);
    ck_assert_int_eq(cc_eval_report_ios(&r, &set, 5, 0, 100, 3, 0.1, 1.0, &e), 0);
    char dir[256], path[300];
    cct_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/r.json", dir);
    FILE *f = fopen(path, "w");
    ck_assert_int_eq(cc_eval_write_json(&r, f, &e), 0);
    fclose(f);
    ck_assert_msg(cc_eval_read_json(path, &q, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(q.classifier, "cuts \"x\"");
    ck_assert_double_eq(q.cutoff, 0.4);
    ck_assert_uint_eq(q.n, 100);
    ck_assert_uint_eq(q.n_sweep, r.n_sweep);
    for (size_t j = 0; j < r.n_sweep; j++) {
        ck_assert_uint_eq(q.sweep[j].c.tp, r.sweep[j].c.tp);
        ck_assert_uint_eq(q.sweep[j].c.fp, r.sweep[j].c.fp);
        ck_assert_double_eq(q.sweep[j].cutoff, r.sweep[j].cutoff);
        ck_assert_double_eq(q.sweep[j].ba, r.sweep[j].ba);
    }
    ck_assert_uint_eq(q.cls_n[3], r.cls_n[3]);
    ck_assert_uint_eq(q.cls_acc[7], r.cls_acc[7]);
    ck_assert(q.has_ior && q.has_ios);
    ck_assert_double_eq(q.ior_value, r.ior_value);
    ck_assert_double_eq(q.ios_value, r.ios_value);
    ck_assert_uint_eq(q.ios.ny, 3);
    ck_assert_int_eq(memcmp(q.ios.k, r.ios.k, 15 * sizeof *q.ios.k), 0);
    ck_assert_int_eq(memcmp(q.ior.n, r.ior.n, 10 * sizeof *q.ior.n), 0);
    ck_assert_str_eq(q.ios.y_label, r.ios.y_label);
    cc_eval_report_release(&q);
    cc_eval_report_release(&r);
    /* a broken file is an error with a position */
    f = fopen(path, "w");
    fputs("{\"classifier\": \"x\", \"cutoff\": \"high\"}\n", f);
    fclose(f);
    ck_assert_int_eq(cc_eval_read_json(path, &q, &e), -1);
    ck_assert_msg(strstr(e.msg, "r.json:1:") && strstr(e.msg, "cutoff"), "%s", e.msg);
}
END_TEST

/* ---- a classifier without a plugin file: checks what the runner hands it ---- */

typedef struct probe {
    uint32_t n_samples; /* expected record length */
    int calls;
    size_t max_n, records;
    int bad_x;
} probe;

static void *probe_ws_new(void *inst, size_t max_batch)
{
    (void)max_batch;
    return inst;
}
static void probe_ws_free(void *inst, void *ws)
{
    (void)inst, (void)ws;
}
static int probe_classify(void *inst, void *ws, const cc_batch *b, float *scores, cc_err *e)
{
    (void)ws, (void)e;
    probe *p = inst;
    p->calls++;
    p->records += b->n;
    if (b->n > p->max_n) p->max_n = b->n;
    for (size_t i = 0; i < b->n; i++) {
        const float *x = b->x + i * b->input_len;
        float lo = 1, hi = 0;
        for (size_t j = 0; j < b->input_len; j++) lo = fminf(lo, x[j]), hi = fmaxf(hi, x[j]);
        if (b->input_len != 512 || lo != 0.0f || hi != 1.0f || b->meta[i].n_samples != p->n_samples)
            p->bad_x++;
        scores[i] = 1.0f; /* accepts everything */
    }
    return 0;
}

static cc_classifier probe_classifier(probe *p)
{
    static const cc_classifier_ops ops = {.abi = CC_PLUGIN_ABI,
                                          .size = sizeof ops,
                                          .name = "probe",
                                          .ws_new = probe_ws_new,
                                          .classify = probe_classify,
                                          .ws_free = probe_ws_free};
    cc_classifier c = {.ops = &ops, .inst = p};
    c.info.input_len = 512, c.info.default_cutoff = 0.5f;
    snprintf(c.name, sizeof c.name, "probe");
    return c;
}

/* Runs n records of the IOR scan (a = {snr_lo, snr_hi}) or the IOS scan
 * (a = {snr_lo, snr_hi, dt_lo, dt_hi, r_lo, r_hi}) of the default module
 * through the probe in batches of batch. */
static cc_eval_set probe_scan(probe *p, int ios, const double *a, size_t n, size_t batch)
{
    cc_classifier cl = probe_classifier(p);
    cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cc_eval_source src;
    cc_err e = {""};
    cc_eval_set set = {0};
    int rc = ios ? cc_eval_source_ios(&src, &cfg, 9, a[0], a[1], a[2], a[3], a[4], a[5], &e)
                 : cc_eval_source_ior(&src, &cfg, 7, a[0], a[1], &e);
    ck_assert_msg(rc == 0, "%s", e.msg);
    ck_assert_int_eq(cc_eval_run(&cl, &src, n, batch, &set, NULL, NULL, &e), (long)n);
    cc_eval_source_free(&src);
    return set;
}

START_TEST(runner_batches_like_the_daemon)
{
    probe p = {.n_samples = 16384};
    cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cc_err e = {""};
    cc_eval_set set = probe_scan(&p, 0, (const double[]){3.0, 300.0}, 20, 7);
    ck_assert_int_eq(p.calls, 3); /* 7 + 7 + 6 */
    ck_assert_uint_eq(p.max_n, 7);
    ck_assert_uint_eq(p.records, 20);
    ck_assert_int_eq(p.bad_x, 0);
    ck_assert_uint_eq(set.n, 20);
    for (size_t i = 0; i < set.n; i++) {
        ck_assert_uint_eq(set.label[i], 1);
        ck_assert_int_eq(set.class_id[i], 1);
        ck_assert(set.snr[i] >= 3.0 * 0.999 && set.snr[i] <= 300.0 * 1.001);
        /* the view's pulse height matches the truth within noise + binning */
        double ph = set.snr[i] * cfg.ch[0].rms_v;
        ck_assert_double_eq_tol(set.ph[i], ph, 0.05 * ph + 3 * cfg.ch[0].rms_v);
    }
    /* accept-all: recall 1 everywhere, IOR 1 */
    cc_eval_report r;
    cc_eval_report_init(&r, "probe", "probe", "t", 0.5);
    ck_assert_int_eq(cc_eval_report_ior(&r, &set, 3, 300, 5, &e), 0);
    ck_assert_double_eq(r.ior_value, 1.0);
    cc_eval_set_release(&set);

    /* IOS source: artefacts with pile-up coordinates in range; accept-all gives IOS 0 */
    set = probe_scan(&p, 1, (const double[]){20, 200, 0, 300, 0.1, 1.0}, 30, 64);
    for (size_t i = 0; i < set.n; i++) {
        ck_assert_uint_eq(set.label[i], 0);
        ck_assert_int_eq(set.class_id[i], CC_SIM_PILEUP);
        ck_assert(set.dt_ms[i] >= 0 && set.dt_ms[i] <= 300);
        ck_assert(set.ratio[i] >= 0.1 && set.ratio[i] <= 1.0);
    }
    ck_assert_int_eq(cc_eval_report_ios(&r, &set, 4, 0, 300, 3, 0.1, 1.0, &e), 0);
    ck_assert_double_eq(r.ios_value, 0.0);
    cc_eval_report_release(&r);
    cc_eval_set_release(&set);
}
END_TEST

START_TEST(ios_second_pulse_is_there)
{
    /* A second pulse of ratio 1 at dt = 200 ms: the view rises again to at
     * least the first pulse's height just after dt. */
    probe p = {.n_samples = 16384};
    cc_eval_set set =
        probe_scan(&p, 1, (const double[]){100, 101, 200, 200.001, 1.0, 1.0001}, 3, 8);
    for (size_t i = 0; i < set.n; i++) {
        const float *v = set.view + i * CC_EVAL_VIEW;
        size_t trig = CC_EVAL_VIEW / 4, second = trig + (size_t)(200.0 / set.view_dt_ms);
        float m1 = -1, m2 = -1;
        for (size_t j = trig; j < trig + 40; j++) m1 = fmaxf(m1, v[j]);
        for (size_t j = second; j < second + 40 && j < CC_EVAL_VIEW; j++) m2 = fmaxf(m2, v[j]);
        ck_assert_msg(m2 > 0.8 * m1, "record %zu: second maximum %g vs first %g", i, m2, m1);
    }
    cc_eval_set_release(&set);
}
END_TEST

START_TEST(labelled_hdf5_file)
{
    /* 2 channels x 5 events x 1024 samples; event 3 of channel 1 unlabelled */
    enum { C = 2, K = 5, N = 1024 };
    const int32_t labels[C * K] = {1, 4, 3, 7, 2, 1, 5, 3, 0, 2};
    float *ev = malloc(sizeof(float) * C * K * N);
    double snr[C * K];
    for (int c = 0; c < C; c++)
        for (int i = 0; i < K; i++) {
            for (int s = 0; s < N; s++)
                ev[(c * K + i) * N + s] = s >= N / 4 ? (float)(0.01 * (c * K + i + 1)) : 0.0f;
            snr[c * K + i] = 10.0 * (c * K + i + 1);
        }
    char dir[256], path[300];
    cct_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/l.h5", dir);
    cc_err e = {""};
    cc_h5_writer *w = cc_h5_writer_new(path, C, N, CC_H5_LABELS | CC_H5_TRUE_SNR, &e);
    ck_assert_msg(w != NULL, "%s", e.msg);
    ck_assert_int_eq(cc_h5_writer_set_meta(w, NULL, 25000.0, N / 4, &e), 0);
    cc_h5_batch b = {.k = K, .event = ev, .labels = (int32_t *)labels, .true_snr = snr};
    ck_assert_msg(cc_h5_writer_append(w, "events", &b, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(cc_h5_writer_close(&w, &e), 0);

    probe p = {.n_samples = N};
    cc_classifier cl = probe_classifier(&p);
    cc_eval_source src;
    cc_eval_set set = {0};
    ck_assert_msg(cc_eval_source_h5(&src, path, "events", &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(src.total, C * K);
    ck_assert_int_eq(cc_eval_run(&cl, &src, SIZE_MAX, 4, &set, NULL, NULL, &e), C * K - 1);
    ck_assert_uint_eq(cc_eval_source_skipped(&src), 1);
    cc_eval_source_free(&src);
    ck_assert_int_eq(p.bad_x, 0);
    /* order: channel after channel within an event, events in order; truth carried over */
    const int want_ev[] = {0, 0, 1, 1, 2, 2, 3, 4, 4};
    for (size_t i = 0; i < set.n; i++) {
        int c = (int)set.ch[i], k = (int)set.event[i];
        ck_assert_int_eq(k, want_ev[i]);
        ck_assert_int_eq(set.class_id[i], labels[c * K + k]);
        ck_assert_int_eq(set.label[i], cc_sim_class_accept(labels[c * K + k]) == 1);
        ck_assert_double_eq_tol(set.snr[i], snr[c * K + k], 1e-12);
        ck_assert_double_eq_tol(set.ph[i], 0.01 * (c * K + k + 1), 1e-6);
    }
    cc_eval_set_release(&set);
    /* a file without labels cannot be evaluated */
    w = cc_h5_writer_new(path, C, N, 0, &e);
    b.labels = NULL;
    ck_assert_int_eq(cc_h5_writer_append(w, "events", &b, &e), 0);
    ck_assert_int_eq(cc_h5_writer_close(&w, &e), 0);
    ck_assert_int_eq(cc_eval_source_h5(&src, path, "events", &e), -1);
    ck_assert_msg(strstr(e.msg, "labels"), "%s", e.msg);
    free(ev);
}
END_TEST

START_TEST(cuts_on_simulated_mix)
{
    cc_registry *reg = cc_registry_new(cct_env("CC_PLUGIN_DIR"));
    cc_classifier cl;
    cc_err e = {""};
    ck_assert_msg(cc_classifier_create(reg, "cuts", "cuts", NULL, ".", &cl, &e) == 0, "%s", e.msg);
    cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cc_eval_set set = {0};
    cc_eval_report r;
    cc_eval_report_init(&r, cl.name, cl.info.model, "mix", 0.5);
    ck_assert_msg(cc_eval_mix(&cl, &cfg, 1, 300, 64, &set, &r, NULL, NULL, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(set.n, 300);
    uint64_t tot = 0;
    for (int c = 0; c < CC_EVAL_NCLASS; c++) {
        tot += r.cls_n[c];
        ck_assert_uint_le(r.cls_acc[c], r.cls_n[c]);
    }
    ck_assert_uint_eq(tot, 300);
    const cc_eval_counts *k = &r.at.c;
    ck_assert_uint_eq(k->tp + k->fn + k->tn + k->fp, 300);
    for (size_t i = 0; i < set.n; i++)
        ck_assert_int_eq(set.label[i], cc_sim_class_accept(set.class_id[i]) == 1);
    /* the classical cuts are a decent cleaner of the default module */
    ck_assert_msg(r.at.ba > 0.85, "BA %.4f", r.at.ba);
    ck_assert_msg(r.at.recall > 0.95, "recall %.4f", r.at.recall);
    cc_eval_report_release(&r);
    cc_eval_set_release(&set);
    cc_classifier_destroy(&cl);
    cc_registry_free(&reg);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("eval");
    TCase *t = tcase_create("eval");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, known_confusion);
    tcase_add_test(t, sweep_of_known_scores);
    tcase_add_test(t, maps_and_integrals);
    tcase_add_test(t, pca_finds_known_axes);
    tcase_add_test(t, json_round_trip);
    tcase_add_test(t, runner_batches_like_the_daemon);
    tcase_add_test(t, ios_second_pulse_is_there);
    tcase_add_test(t, labelled_hdf5_file);
    tcase_add_test(t, cuts_on_simulated_mix);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return cct_run(suite());
}
