/* test_monitor.c - sliding windows, histograms, percentiles, entities,
 * configuration and alert bins driven through cc_monitor_tick(). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cc_monitor.h"
#include "cc_test.h"

#define SEC 1000000000ull

static cc_monitor *new_monitor(int alerts)
{
    cc_monitor_config c;
    cc_monitor_config_default(&c);
    c.alert.enabled = alerts;
    c.alert.learn_bins = 10;
    c.alert.min_counts = 20;
    cc_err e = {0};
    cc_monitor *m = cc_monitor_new(&c, &e);
    ck_assert_msg(m != NULL, "%s", e.msg);
    return m;
}

/* Channel 7 (module 1): 10 records per second from t = 1000 s, every 4th
 * rejected, plus one invalid (NaN) record per second; latencies 100..1099 us. */
static void feed(cc_monitor *m, int seconds)
{
    cc_err e = {0};
    for (int s = 0; s < seconds; s++) {
        uint64_t t = (1000ull + (uint64_t)s) * SEC;
        for (int i = 0; i < 10; i++) {
            int rej = i % 4 == 0;
            uint32_t lat = 100 + (uint32_t)((s * 10 + i) % 1000);
            ck_assert_int_eq(cc_monitor_record(m, 7, 1, rej ? CC_V_REJECT : CC_V_ACCEPT,
                                               rej ? CC_R_REJECTED : CC_R_ACCEPTED,
                                               rej ? 0.125f : 0.875f, rej ? 0.5f : 1e-3f, lat,
                                               t + (uint64_t)i * 1000, &e),
                             0);
        }
        ck_assert_int_eq(
            cc_monitor_record(m, 7, 1, CC_V_INVALID, CC_R_NAN, NAN, NAN, 50, t + 999, &e), 0);
    }
}

START_TEST(windows_and_rates)
{
    cc_monitor *m = new_monitor(0);
    feed(m, 100); /* t = 1000 .. 1099 */
    ck_assert_uint_eq(cc_monitor_count(m, CC_MON_CHANNEL), 1);
    cc_mon_stats s;
    uint64_t now = 1099 * SEC + 5000;
    cc_monitor_stats(m, CC_MON_CHANNEL, 0, 0, now, &s); /* 10 s */
    ck_assert_uint_eq(s.window_s, 10);
    ck_assert_double_eq(s.span_s, 10);
    ck_assert_uint_eq(s.records, 110);
    ck_assert_uint_eq(s.rejected, 30);
    ck_assert_uint_eq(s.accepted, 70);
    ck_assert_uint_eq(s.invalid, 10);
    ck_assert_double_eq_tol(s.rate_hz, 11.0, 1e-12);
    ck_assert_double_eq_tol(s.rejected_hz, 3.0, 1e-12);
    ck_assert_double_eq_tol(s.artefact_frac, 0.3, 1e-12);
    /* The 600-s window has only 100 s of history. */
    cc_monitor_stats(m, CC_MON_CHANNEL, 0, 2, now, &s);
    ck_assert_double_eq(s.span_s, 100);
    ck_assert_uint_eq(s.records, 1100);
    ck_assert_double_eq_tol(s.rate_hz, 11.0, 1e-12);
    /* Histograms of the 10-s window: 1-s slots, 11 of them. */
    cc_monitor_stats(m, CC_MON_CHANNEL, 0, 0, now, &s);
    ck_assert_uint_eq(s.reasons[CC_R_ACCEPTED], 77);
    ck_assert_uint_eq(s.reasons[CC_R_REJECTED], 33);
    ck_assert_uint_eq(s.reasons[CC_R_NAN], 11);
    ck_assert_uint_eq(s.score_hist[2], 33);  /* 0.125 */
    ck_assert_uint_eq(s.score_hist[17], 77); /* 0.875 */
    /* 1e-3 V: log bin (ln(1e-3/1e-4)/ln(1e5)) * 24 = 4.8 -> 4; 0.5 V -> 17.76 -> 17. */
    ck_assert_uint_eq(s.ph_accepted[4], 77);
    ck_assert_uint_eq(s.ph_rejected[17], 33);
    ck_assert_uint_eq(s.ph_accepted[17] + s.ph_rejected[4], 0);
    ck_assert_double_eq_tol(cc_monitor_ph_edge(m, 0), 1e-4, 1e-12);
    ck_assert_double_eq_tol(cc_monitor_ph_edge(m, CC_MON_PH_BINS), 10, 1e-9);
    /* Latency over the whole 600-s window: 1000 values 100..1099 plus 100 at 50 us. */
    cc_monitor_stats(m, CC_MON_CHANNEL, 0, 2, now, &s);
    ck_assert_uint_eq(s.lat_n, 1100);
    ck_assert_msg(fabs(s.lat_p50_us - 555) / 555 < 0.1, "p50 %g", s.lat_p50_us);
    ck_assert_msg(fabs(s.lat_p90_us - 999) / 999 < 0.1, "p90 %g", s.lat_p90_us);
    ck_assert_msg(fabs(s.lat_p99_us - 1088) / 1088 < 0.1, "p99 %g", s.lat_p99_us);
    ck_assert_int_eq(cc_monitor_lat_bucket(1000), 39); /* 4*log2(1000) = 39.86 */
    /* Old data leaves the windows: 30 s later the 10-s window is empty. */
    cc_monitor_stats(m, CC_MON_CHANNEL, 0, 0, 1130 * SEC, &s);
    ck_assert_uint_eq(s.records, 0);
    ck_assert(isnan(s.artefact_frac));
    ck_assert(isnan(s.lat_p50_us));
    ck_assert_uint_eq(s.reasons[CC_R_ACCEPTED], 0);
    cc_monitor_stats(m, CC_MON_CHANNEL, 0, 1, 1130 * SEC, &s); /* 60 s: 1071..1130 */
    ck_assert_uint_eq(s.records, 29 * 11);
    /* Cumulative totals never forget. */
    const cc_mon_totals *tot = cc_monitor_totals(m, CC_MON_CHANNEL, 0);
    ck_assert_uint_eq(tot->records, 1100);
    ck_assert_uint_eq(tot->rejected, 300);
    ck_assert_uint_eq(tot->reasons[CC_R_NAN], 100);
    /* Module and total see the same records. */
    cc_monitor_stats(m, CC_MON_MODULE, 0, 0, now, &s);
    ck_assert_uint_eq(cc_monitor_id(m, CC_MON_MODULE, 0), 1);
    ck_assert_uint_eq(s.records, 110);
    cc_monitor_stats(m, CC_MON_TOTAL, 0, 0, now, &s);
    ck_assert_uint_eq(s.records, 110);
    cc_monitor_free(&m);
    ck_assert_ptr_null(m);
}
END_TEST

START_TEST(ring_wraps_after_long_silence)
{
    cc_monitor *m = new_monitor(0);
    feed(m, 5);
    cc_err e = {0};
    /* 10000 s later (the ring is 600 s long): stale slots must not count. */
    uint64_t t = 11000 * SEC;
    for (int i = 0; i < 3; i++)
        cc_monitor_record(m, 7, 1, CC_V_ACCEPT, CC_R_ACCEPTED, 0.9f, 1e-3f, 10, t, &e);
    cc_mon_stats s;
    for (uint32_t w = 0; w < 3; w++) {
        cc_monitor_stats(m, CC_MON_CHANNEL, 0, w, t, &s);
        ck_assert_uint_eq(s.records, 3);
        ck_assert_uint_eq(s.reasons[CC_R_ACCEPTED], 3);
    }
    cc_monitor_free(&m);
}
END_TEST

START_TEST(short_window_histograms)
{
    cc_monitor_config c;
    cc_monitor_config_default(&c);
    c.alert.enabled = 0;
    c.n_windows = 2;
    c.window_s[0] = 5, c.window_s[1] = 30;
    cc_err e = {0};
    cc_monitor *m = cc_monitor_new(&c, &e);
    ck_assert_msg(m != NULL, "%s", e.msg);
    for (uint64_t t = 0; t <= 40; t++)
        cc_monitor_record(m, 1, 0, CC_V_ACCEPT, CC_R_ACCEPTED, 0.5f, 0.1f, 10, t * SEC, &e);
    cc_mon_stats s;
    cc_monitor_stats(m, CC_MON_CHANNEL, 0, 0, 40 * SEC + 1, &s);
    ck_assert_uint_eq(s.records, 5);                /* 36..40 */
    ck_assert_uint_eq(s.reasons[CC_R_ACCEPTED], 6); /* 1-s slots 35..40 */
    cc_monitor_stats(m, CC_MON_CHANNEL, 0, 1, 40 * SEC + 1, &s);
    ck_assert_uint_eq(s.records, 30);                /* 11..40 */
    ck_assert_uint_eq(s.reasons[CC_R_ACCEPTED], 32); /* 3-s slots 3..13: 9..40 */
    cc_monitor_free(&m);
}
END_TEST

START_TEST(channels_loss_gauges)
{
    cc_monitor_config c;
    cc_monitor_config_default(&c);
    c.alert.enabled = 0;
    c.max_channels = 4;
    cc_err e = {0};
    cc_monitor *m = cc_monitor_new(&c, &e);
    const uint32_t ids[] = {30, 5, 17, 7};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(cc_monitor_record(m, ids[i], (uint16_t)(ids[i] / 10), CC_V_ACCEPT, 0, 0.5f,
                                           0.1f, 10, 5 * SEC, &e),
                         0);
    ck_assert_uint_eq(cc_monitor_count(m, CC_MON_CHANNEL), 4);
    const uint32_t sorted[] = {5, 7, 17, 30};
    for (size_t i = 0; i < 4; i++)
        ck_assert_uint_eq(cc_monitor_id(m, CC_MON_CHANNEL, i), sorted[i]);
    ck_assert_int_eq(cc_monitor_find(m, CC_MON_CHANNEL, 17), 2);
    ck_assert_int_eq(cc_monitor_find(m, CC_MON_CHANNEL, 18), -1);
    ck_assert_uint_eq(cc_monitor_count(m, CC_MON_MODULE), 3); /* 0, 1, 3 */
    ck_assert_int_eq(cc_monitor_record(m, 99, 0, CC_V_ACCEPT, 0, 0.5f, 0.1f, 10, 5 * SEC, &e), -1);
    ck_assert_msg(strstr(e.msg, "channel 99") && strstr(e.msg, "max_channels"), "%s", e.msg);

    cc_monitor_loss(m, 40, 6 * SEC);
    cc_monitor_loss(m, 2, 7 * SEC);
    cc_mon_stats s;
    cc_monitor_stats(m, CC_MON_TOTAL, 0, 0, 7 * SEC, &s);
    ck_assert_uint_eq(s.lost, 42);
    ck_assert_double_eq_tol(s.lost_hz, 42.0 / 3.0, 1e-12); /* 3 s since start */
    ck_assert_uint_eq(cc_monitor_totals(m, CC_MON_TOTAL, 0)->lost, 42);

    ck_assert_int_eq(cc_monitor_gauge(m, "ingest_queue", 12, &e), 0);
    ck_assert_int_eq(cc_monitor_gauge(m, "ingest_queue", 3, &e), 0);
    ck_assert_int_eq(cc_monitor_gauge(m, "Bad-Name", 1, &e), -1);
    ck_assert_msg(strstr(e.msg, "Bad-Name"), "%s", e.msg);
    ck_assert_uint_eq(cc_monitor_n_gauges(m), 1);
    const char *name;
    double v;
    cc_monitor_gauge_at(m, 0, &name, &v);
    ck_assert_str_eq(name, "ingest_queue");
    ck_assert_double_eq(v, 3);
    cc_monitor_free(&m);
}
END_TEST

START_TEST(config_yaml)
{
    const char *y = "monitor:\n  windows_s: [5, 30]\n  pulse_height_v: [0.001, 2]\n"
                    "  alerts:\n    bin_s: 2\n";
    cc_err e = {0};
    cc_ydoc *doc = cc_ydoc_load_string("m.yaml", y, strlen(y), &e);
    cc_monitor_config c;
    cc_monitor_config_default(&c);
    ck_assert_int_eq(cc_monitor_config_from_yaml(cc_y_get(doc->root, "monitor"), &c, &e), 0);
    ck_assert_uint_eq(c.n_windows, 2);
    ck_assert_uint_eq(c.window_s[1], 30);
    ck_assert_double_eq(c.ph_max_v, 2);
    ck_assert_uint_eq(c.alert.bin_s, 2);
    cc_ydoc_free(&doc);
    const char *bad = "monitor:\n  windows_s: [60, 10]\n";
    doc = cc_ydoc_load_string("m.yaml", bad, strlen(bad), &e);
    cc_monitor_config_default(&c);
    ck_assert_int_eq(cc_monitor_config_from_yaml(cc_y_get(doc->root, "monitor"), &c, &e), -1);
    ck_assert_msg(strstr(e.msg, "m.yaml:2:") && strstr(e.msg, "ascending"), "%s", e.msg);
    cc_ydoc_free(&doc);
    const char *unk = "monitor:\n  window: [60]\n";
    doc = cc_ydoc_load_string("m.yaml", unk, strlen(unk), &e);
    ck_assert_int_eq(cc_monitor_config_from_yaml(cc_y_get(doc->root, "monitor"), &c, &e), -1);
    ck_assert_msg(strstr(e.msg, "window"), "%s", e.msg);
    cc_ydoc_free(&doc);
    cc_monitor_config_default(&c);
    c.window_s[1] = 5;
    ck_assert_ptr_null(cc_monitor_new(&c, &e));
    ck_assert_msg(strstr(e.msg, "windows_s[1]"), "%s", e.msg);
}
END_TEST

typedef struct {
    cc_alert_event ev[64];
    int n;
} events;

static void collect(const cc_alert_event *ev, void *user)
{
    events *x = user;
    if (x->n < 64) x->ev[x->n++] = *ev;
}

START_TEST(alert_bins_from_ticks)
{
    cc_monitor *m = new_monitor(1);
    cc_err e = {0};
    events got = {0};
    /* Channel 3: 3 records/s, 10% artefacts (3 per 10-s bin), from t = 100 s;
     * ticks every second; from t = 400 s artefacts x5 (15 per bin). */
    uint64_t alarm_t = 0;
    for (uint64_t t = 100; t < 600; t++) {
        for (int i = 0; i < 3; i++) {
            int rej = t < 400 ? (t % 10 == 0 && i == 0) || (t % 10 == 5 && i < 2)
                              : (i < 2 && t % 2 == 0) || (i == 0);
            cc_monitor_record(m, 3, 0, rej ? CC_V_REJECT : CC_V_ACCEPT,
                              rej ? CC_R_REJECTED : CC_R_ACCEPTED, 0.5f, 0.1f, 100,
                              t * SEC + (uint64_t)i, &e);
        }
        cc_monitor_tick(m, t * SEC + 500000000ull, collect, &got);
        for (int k = 0; k < got.n && !alarm_t; k++)
            if (got.ev[k].to == CC_ALERT_ALARM) alarm_t = t;
    }
    ck_assert_int_ge(got.n, 2);
    ck_assert_int_eq(got.ev[0].cause, CC_AC_LEARNED);
    ck_assert_uint_eq(got.ev[0].channel, 3);
    ck_assert_double_eq_tol(got.ev[0].mu0, 3.0, 1e-12);
    ck_assert_double_eq_tol(got.ev[0].p0, 0.1, 1e-12);
    /* The first bin [100,110) is partial-skipped; 10 bins learned -> event at t = 210. */
    ck_assert_uint_eq(got.ev[0].t_ns, 210 * SEC);
    ck_assert_msg(alarm_t > 400 && alarm_t <= 440, "alarm at %llu", (unsigned long long)alarm_t);
    cc_alert_view v;
    cc_alert_view_get(cc_monitor_alert(m, 0), &v);
    ck_assert_int_eq(v.state, CC_ALERT_ALARM);
    events cl = {0};
    ck_assert_int_eq(cc_monitor_clear(m, 3, 600 * SEC, collect, &cl, &e), 1);
    ck_assert_int_eq(cl.ev[0].cause, CC_AC_CLEARED);
    ck_assert_int_eq(cc_monitor_clear(m, 4, 600 * SEC, collect, &cl, &e), -1);
    ck_assert_int_eq(cc_monitor_relearn(m, 3, 600 * SEC, collect, &cl, &e), 1);
    ck_assert_int_eq(cl.ev[1].to, CC_ALERT_NOSTATS);
    ck_assert_int_eq(cc_monitor_relearn(m, 4, 600 * SEC, collect, &cl, &e), -1);
    ck_assert_msg(strstr(e.msg, "channel 4"), "%s", e.msg);
    cc_monitor_free(&m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("monitor");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, windows_and_rates);
    tcase_add_test(tc, ring_wraps_after_long_silence);
    tcase_add_test(tc, short_window_histograms);
    tcase_add_test(tc, channels_loss_gauges);
    tcase_add_test(tc, config_yaml);
    tcase_add_test(tc, alert_bins_from_ticks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cct_run(suite());
}
