/* test_metrics.c - Prometheus exposition (checked by the real promtool),
 * monitor/alert JSON (checked by a real JSON parser), the status line and
 * the HTTP endpoint over loopback. */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cc_metrics.h"
#include "cc_test.h"
#include "metrics_http.h"

#define SEC 1000000000ull

/* Channels 7 and 12: 10 records/s for 120 s from t = 0, channel 7 with 20%
 * artefacts, channel 12 with 50%, one NaN record per second on 12; alarms
 * forced on channel 12 by a x5 step after learning. */
static cc_monitor *fed_monitor(uint64_t *now)
{
    cc_monitor_config c;
    cc_monitor_config_default(&c);
    c.alert.learn_bins = 5;
    c.alert.min_counts = 5;
    cc_err e = {0};
    cc_monitor *m = cc_monitor_new(&c, &e);
    ck_assert_msg(m != NULL, "%s", e.msg);
    uint64_t t;
    for (t = 1; t <= 180; t++) {
        for (int i = 0; i < 10; i++) {
            int r7 = i < 2, r12 = t < 120 ? i == 0 : i < 5;
            cc_monitor_record(m, 7, 1, r7 ? CC_V_REJECT : CC_V_ACCEPT, r7, 0.3f, 0.01f, 200,
                              t * SEC + (uint64_t)i, &e);
            cc_monitor_record(m, 12, 1, r12 ? CC_V_REJECT : CC_V_ACCEPT, r12, 0.6f, 0.02f, 400,
                              t * SEC + (uint64_t)i, &e);
        }
        cc_monitor_record(m, 12, 1, CC_V_INVALID, CC_R_NAN, NAN, NAN, 10, t * SEC + 50, &e);
        cc_monitor_tick(m, t * SEC + 100, NULL, NULL);
    }
    cc_monitor_loss(m, 17, 180 * SEC);
    cc_monitor_gauge(m, "ingest", 5, &e);
    *now = 180 * SEC + 900000000ull;
    return m;
}

static int run(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int have_promtool(void)
{
    return run("command -v promtool >/dev/null 2>&1") == 0;
}

/* Runs `promtool check metrics` on text; returns its exit status and puts
 * its output into out. */
static int promtool_check(const char *text, size_t len, char *out, size_t outlen)
{
    char dir[256], in[300], cmd[800];
    cct_tmpdir(dir, sizeof dir);
    snprintf(in, sizeof in, "%s/metrics.txt", dir);
    cct_write_file(in, text, len);
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s > %s/out.txt 2>&1", in, dir);
    int rc = run(cmd);
    snprintf(cmd, sizeof cmd, "%s/out.txt", dir);
    FILE *f = fopen(cmd, "r");
    size_t n = f ? fread(out, 1, outlen - 1, f) : 0;
    out[n] = 0;
    if (f) fclose(f);
    return rc;
}

START_TEST(prometheus_text)
{
    uint64_t now;
    cc_monitor *m = fed_monitor(&now);
    cc_daemon_counters dc = {.received = 3800, .decided = 3780, .uptime_s = 181.5};
    dc.dropped[CC_R_BAD_MAGIC] = 20;
    cc_text t = {0};
    cc_err e = {0};
    ck_assert_int_eq(cc_metrics_prometheus(m, &dc, now, &t, &e), 0);
    const char *want[] = {
        "# TYPE cryoclean_received_total counter\ncryoclean_received_total 3800\n",
        "cryoclean_dropped_total{reason=\"bad_magic\"} 20\n",
        "cryoclean_dropped_total{reason=\"truncated\"} 0\n",
        "cryoclean_records_total{channel=\"7\",verdict=\"rejected\"} 360\n",
        "cryoclean_records_total{channel=\"12\",verdict=\"invalid\"} 180\n",
        "cryoclean_module_records_total{module=\"1\",verdict=\"accepted\"} 2816\n",
        "cryoclean_reason_records_total{channel=\"12\",reason=\"nan\"} 180\n",
        "cryoclean_trigger_rate_hz{channel=\"7\",window=\"10s\"} 10\n",
        "cryoclean_artefact_fraction{channel=\"7\",window=\"60s\"} 0.2\n",
        "cryoclean_artefact_fraction{channel=\"12\",window=\"10s\"} 0.5\n",
        "cryoclean_alert_state{channel=\"12\"} 3\n",
        "cryoclean_alert_state{channel=\"7\"} 1\n",
        "cryoclean_alarms_total{channel=\"12\"} 1\n",
        "cryoclean_input_lost_total 17\n",
        "cryoclean_queue_depth{queue=\"ingest\"} 5\n",
        "# TYPE cryoclean_latency_seconds summary\n",
        "cryoclean_latency_seconds_count 3780\n",
        "cryoclean_monitor_channels 2\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        ck_assert_msg(strstr(t.s, want[i]), "missing '%s' in:\n%s", want[i], t.s);
    /* Latency p50 over 60 s: half at 200 us, half at 400 us, plus 10-us invalids. */
    const char *q = strstr(t.s, "cryoclean_latency_seconds{quantile=\"0.5\"} ");
    ck_assert_ptr_nonnull(q);
    double p50 = atof(q + strlen("cryoclean_latency_seconds{quantile=\"0.5\"} "));
    ck_assert_msg(p50 > 190e-6 && p50 < 240e-6, "p50 %g", p50);
    if (!have_promtool()) {
        fprintf(stderr, "SKIP promtool check: promtool not found (Debian package prometheus)\n");
    } else {
        char out[4096];
        int rc = promtool_check(t.s, t.len, out, sizeof out);
        ck_assert_msg(rc == 0 && out[0] == 0, "promtool rc %d: %s", rc, out);
        /* promtool really checks: a counter without _total is reported. */
        const char *bad = "# HELP x_count bad\n# TYPE x_count counter\nx_count 1\n";
        rc = promtool_check(bad, strlen(bad), out, sizeof out);
        ck_assert_msg(strstr(out, "_total"), "promtool said: %s", out);
    }
    cc_text_free(&t);
    cc_monitor_free(&m);
}
END_TEST

/* Checks JSON with Python's parser and an assertion expression over `d`. */
static void json_check(const char *json, const char *expr)
{
    char dir[256], path[300], py[300], script[1500], cmd[700];
    cct_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.json", dir);
    snprintf(py, sizeof py, "%s/check.py", dir);
    cct_write_file(path, json, strlen(json));
    snprintf(script, sizeof script,
             "import json, sys\nd = json.load(open(sys.argv[1]))\nsys.exit(0 if (%s) else 3)\n",
             expr);
    cct_write_file(py, script, strlen(script));
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s", py, path);
    int rc = run(cmd);
    ck_assert_msg(rc == 0, "python check (%s) failed with %d on:\n%s", expr, rc, json);
}

START_TEST(monitor_json)
{
    uint64_t now;
    cc_monitor *m = fed_monitor(&now);
    cc_text t = {0};
    cc_err e = {0};
    char topic[CC_TOPIC_MAX];
    long i12 = cc_monitor_find(m, CC_MON_CHANNEL, 12);
    ck_assert_int_eq(cc_metrics_monitor_json(m, CC_MON_CHANNEL, (size_t)i12, 1, now, topic, &t, &e),
                     0);
    ck_assert_str_eq(topic, "mon/012/");
    json_check(t.s, "d['v']==1 and d['type']=='monitor' and d['scope']=='channel' and "
                    "d['channel']==12 and d['window_s']==60 and d['records']==660 and "
                    "d['invalid']==60 and abs(d['artefact_frac']-0.5)<1e-9 and "
                    "d['reasons']['nan']>=60 and len(d['score_hist'])==20 and "
                    "d['score_hist'][12]>=600 and len(d['ph_accepted'])==24 and "
                    "d['alert']['state']=='alarm' and d['alert']['ratio']>=1 and "
                    "abs(d['alert']['baseline_per_bin']-10)<1e-9");
    ck_assert_int_eq(cc_metrics_monitor_json(m, CC_MON_TOTAL, 0, 0, now, topic, &t, &e), 0);
    ck_assert_str_eq(topic, "mon/all/");
    json_check(t.s, "d['scope']=='all' and d['channels']==2 and d['alarms_active']==1 and "
                    "d['lost_total']==17 and d['gauges']['ingest']==5 and d['records']==210");
    ck_assert_int_eq(cc_metrics_monitor_json(m, CC_MON_MODULE, 0, 0, now, topic, &t, &e), 0);
    ck_assert_str_eq(topic, "mon/mod/001/");
    ck_assert_int_eq(cc_metrics_monitor_json(m, CC_MON_TOTAL, 0, 7, now, topic, &t, &e), -1);
    ck_assert_msg(strstr(e.msg, "window 7"), "%s", e.msg);

    cc_alert_event ev = {.channel = 7,
                         .from = CC_ALERT_WARNING,
                         .to = CC_ALERT_ALARM,
                         .cause = CC_AC_BERNOULLI,
                         .ratio = 1.5,
                         .mu0 = 2,
                         .p0 = 0.2,
                         .bin_records = 10,
                         .bin_artefacts = 7,
                         .t_ns = 5};
    ck_assert_int_eq(cc_metrics_alert_json(&ev, topic, &t, &e), 0);
    ck_assert_str_eq(topic, "alert/007/");
    json_check(t.s, "d['type']=='alert' and d['state']=='alarm' and d['from']=='warning' and "
                    "d['cause']=='bernoulli' and d['reminder']==False and d['bin_artefacts']==7 "
                    "and d['message'].startswith('channel 7: ALARM (artefact fraction up')");
    cc_text_free(&t);
    cc_monitor_free(&m);
}
END_TEST

START_TEST(status_line)
{
    uint64_t now;
    cc_monitor *m = fed_monitor(&now);
    char buf[160];
    cc_metrics_status(m, now, buf, sizeof buf);
    /* Last 10 s: 21 rec/s over 2 channels; rejected (2 + 5) / 20 = 35%. */
    ck_assert_str_eq(buf, "in 21.0 rec/s, rejected 35.0%, lost 17, alarms 1 (ch 12)");
    cc_monitor_free(&m);
}
END_TEST

/* A plain HTTP/1.0 GET over loopback; returns the whole response. */
static char *http_get(int port, const char *path)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_msg(connect(s, (struct sockaddr *)&a, sizeof a) == 0, "connect to %d", port);
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    ck_assert_int_eq(write(s, req, (size_t)n), n);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ssize_t r;
    while ((r = read(s, buf + len, cap - len - 1)) > 0) {
        len += (size_t)r;
        if (len + 1 == cap) buf = realloc(buf, cap *= 2);
    }
    buf[len] = 0;
    close(s);
    return buf;
}

START_TEST(http_endpoint)
{
    cc_metrics_http_config c;
    cc_metrics_http_config_default(&c);
    ck_assert_int_eq(c.enabled, 0);
    ck_assert_str_eq(c.bind, "127.0.0.1");
    ck_assert_int_eq(c.port, 9103);
    c.port = 0; /* any free port */
    cc_err e = {0};
    cc_metrics_http *h = cc_metrics_http_start(&c, &e);
    ck_assert_msg(h != NULL, "%s", e.msg);
    int port = cc_metrics_http_port(h);
    ck_assert_int_gt(port, 0);

    uint64_t now;
    cc_monitor *m = fed_monitor(&now);
    cc_text t = {0};
    cc_daemon_counters dc = {.received = 10, .decided = 9};
    cc_metrics_prometheus(m, &dc, now, &t, &e);
    ck_assert_int_eq(cc_metrics_http_publish(h, t.s, t.len, &e), 0);

    char *resp = http_get(port, "/metrics");
    ck_assert_msg(strncmp(resp, "HTTP/1.", 7) == 0 && strstr(resp, " 200 "), "%.200s", resp);
    ck_assert_msg(strstr(resp, "Content-Type: text/plain; version=0.0.4"), "%.400s", resp);
    char *body = strstr(resp, "\r\n\r\n");
    ck_assert_ptr_nonnull(body);
    body += 4;
    ck_assert_str_eq(body, t.s);
    if (have_promtool()) {
        char out[4096];
        int rc = promtool_check(body, strlen(body), out, sizeof out);
        ck_assert_msg(rc == 0 && out[0] == 0, "promtool rc %d: %s", rc, out);
    } else {
        fprintf(stderr, "SKIP promtool check: promtool not found (Debian package prometheus)\n");
    }
    free(resp);
    resp = http_get(port, "/nope");
    ck_assert_msg(strstr(resp, " 404 "), "%.200s", resp);
    free(resp);
    ck_assert_uint_eq(cc_metrics_http_scrapes(h), 1);

    /* A second server on the same port fails with a message naming the address. */
    c.port = port;
    ck_assert_ptr_null(cc_metrics_http_start(&c, &e));
    ck_assert_msg(strstr(e.msg, "127.0.0.1"), "%s", e.msg);
    cc_metrics_http_stop(&h);
    ck_assert_ptr_null(h);

    const char *y = "metrics:\n  enabled: true\n  bind: ::1\n  port: 9200\n";
    cc_ydoc *doc = cc_ydoc_load_string("x.yaml", y, strlen(y), &e);
    cc_metrics_http_config_default(&c);
    ck_assert_int_eq(cc_metrics_http_config_from_yaml(cc_y_get(doc->root, "metrics"), &c, &e), 0);
    ck_assert_int_eq(c.enabled, 1);
    ck_assert_str_eq(c.bind, "::1");
    ck_assert_int_eq(c.port, 9200);
    cc_ydoc_free(&doc);
    const char *bad = "metrics:\n  bind: localhost\n";
    doc = cc_ydoc_load_string("x.yaml", bad, strlen(bad), &e);
    ck_assert_int_eq(cc_metrics_http_config_from_yaml(cc_y_get(doc->root, "metrics"), &c, &e), -1);
    ck_assert_msg(strstr(e.msg, "x.yaml:2") && strstr(e.msg, "localhost"), "%s", e.msg);
    cc_ydoc_free(&doc);
    cc_text_free(&t);
    cc_monitor_free(&m);
}
END_TEST

/* Every metric the Grafana dashboard queries is one we export. */
START_TEST(grafana_uses_our_metrics)
{
    uint64_t now;
    cc_monitor *m = fed_monitor(&now);
    cc_daemon_counters dc = {.received = 1};
    cc_text t = {0};
    cc_metrics_prometheus(m, &dc, now, &t, NULL);
    char dir[256], prom[300], py[300], dash[512], cmd[1400];
    cct_tmpdir(dir, sizeof dir);
    snprintf(prom, sizeof prom, "%s/m.txt", dir);
    snprintf(py, sizeof py, "%s/g.py", dir);
    cct_write_file(prom, t.s, t.len);
    const char *script =
        "import json, re, sys\n"
        "d = json.load(open(sys.argv[1]))\n"
        "exprs = [t['expr'] for p in d['panels'] for t in p['targets']]\n"
        "exprs += [v['definition'] for v in d['templating']['list'] if 'definition' in v]\n"
        "used = set(re.findall(r'cryoclean_[a-z_]+', ' '.join(exprs)))\n"
        "have = set(re.findall(r'^# TYPE (\\S+)', open(sys.argv[2]).read(), re.M))\n"
        "missing = sorted(used - have)\n"
        "print('missing:', missing) if missing else None\n"
        "sys.exit(1 if missing or len(used) < 10 or len(d['panels']) < 10 else 0)\n";
    cct_write_file(py, script, strlen(script));
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %s", py,
             CCT_SRC("conf/grafana/cryoclean.json", dash), prom);
    ck_assert_int_eq(run(cmd), 0);
    cc_text_free(&t);
    cc_monitor_free(&m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, prometheus_text);
    tcase_add_test(tc, monitor_json);
    tcase_add_test(tc, status_line);
    tcase_add_test(tc, http_endpoint);
    tcase_add_test(tc, grafana_uses_our_metrics);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cct_run(suite());
}
