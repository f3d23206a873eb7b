/* metrics.c - Prometheus text, monitor/alert JSON and the status line
 * (see cc_metrics.h and docs/MONITORING.md). */
#include "cc_metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cc_text_printf(cc_text *t, const char *fmt, ...)
{
    if (t->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = t->cap - t->len;
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (t->s && (size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + (size_t)n + 1) cap *= 2;
        char *s = realloc(t->s, cap);
        if (!s) {
            t->oom = 1;
            return;
        }
        t->s = s, t->cap = cap;
        t->s[t->len] = 0;
    }
}

void cc_text_reset(cc_text *t)
{
    t->len = 0;
    t->oom = 0;
    if (t->s) t->s[0] = 0;
}

void cc_text_free(cc_text *t)
{
    free(t->s);
    *t = (cc_text){0};
}

static int finish(cc_text *t, cc_err *e)
{
    if (t->oom) return cc_err_set(e, "metrics: out of memory formatting %zu bytes", t->len);
    if (!t->s) cc_text_printf(t, "%s", "");
    return t->oom ? cc_err_set(e, "metrics: out of memory") : 0;
}

/* ---- Prometheus ------------------------------------------------------------- */

/* A sample value in exposition syntax. */
static const char *pv(double v, char buf[32])
{
    if (isnan(v)) return "NaN";
    if (isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    snprintf(buf, 32, "%.10g", v);
    return buf;
}

static void family(cc_text *t, const char *name, const char *type, const char *help)
{
    cc_text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static const char *const verdicts[] = {"accepted", "rejected", "invalid"};

static void prom_counts(cc_text *t, const cc_monitor *m, cc_mon_kind kind, const char *name,
                        const char *label)
{
    for (size_t i = 0; i < cc_monitor_count(m, kind); i++) {
        const cc_mon_totals *x = cc_monitor_totals(m, kind, i);
        uint64_t v[3] = {x->accepted, x->rejected, x->invalid};
        for (int k = 0; k < 3; k++)
            cc_text_printf(t, "%s{%s=\"%u\",verdict=\"%s\"} %llu\n", name, label,
                           cc_monitor_id(m, kind, i), verdicts[k], (unsigned long long)v[k]);
    }
}

/* One gauge family over channels and windows, taking a field of cc_mon_stats. */
static void prom_window_gauge(cc_text *t, const cc_monitor *m, uint64_t now_ns, const char *name,
                              const char *help, size_t off)
{
    const cc_monitor_config *c = cc_monitor_config_get(m);
    char b[32];
    family(t, name, "gauge", help);
    for (size_t i = 0; i < cc_monitor_count(m, CC_MON_CHANNEL); i++)
        for (uint32_t w = 0; w < c->n_windows; w++) {
            cc_mon_stats s;
            cc_monitor_stats(m, CC_MON_CHANNEL, i, w, now_ns, &s);
            double v = *(const double *)((const char *)&s + off);
            cc_text_printf(t, "%s{channel=\"%u\",window=\"%us\"} %s\n", name,
                           cc_monitor_id(m, CC_MON_CHANNEL, i), c->window_s[w], pv(v, b));
        }
}

/* The alert view of a channel as doubles, for the families below. */
typedef struct alert_nums {
    double state, ratio_poisson, ratio_bernoulli, mu0, alarms;
} alert_nums;

typedef struct alert_field {
    const char *labels; /* extra labels after channel="N" */
    size_t off;         /* offset in alert_nums */
} alert_field;

/* One family over all channels with nf samples per channel. */
static void prom_alert_family(cc_text *t, const cc_monitor *m, const char *name, const char *type,
                              const char *help, const alert_field *f, int nf)
{
    char b[32];
    family(t, name, type, help);
    for (size_t i = 0; i < cc_monitor_count(m, CC_MON_CHANNEL); i++) {
        cc_alert_view v;
        cc_alert_view_get(cc_monitor_alert(m, i), &v);
        alert_nums x = {(double)v.state, v.ratio_poisson, v.ratio_bernoulli, v.mu0,
                        (double)v.alarms};
        for (int k = 0; k < nf; k++)
            cc_text_printf(t, "%s{channel=\"%u\"%s} %s\n", name,
                           cc_monitor_id(m, CC_MON_CHANNEL, i), f[k].labels,
                           pv(*(const double *)((const char *)&x + f[k].off), b));
    }
}

static void prom_alerts(cc_text *t, const cc_monitor *m)
{
    const alert_field state = {"", offsetof(alert_nums, state)};
    const alert_field ratio[] = {
        {",detector=\"poisson\"", offsetof(alert_nums, ratio_poisson)},
        {",detector=\"bernoulli\"", offsetof(alert_nums, ratio_bernoulli)}};
    const alert_field mu0 = {"", offsetof(alert_nums, mu0)};
    const alert_field alarms = {"", offsetof(alert_nums, alarms)};
    prom_alert_family(t, m, "cryoclean_alert_state", "gauge",
                      "Alert state per channel: 0 no_stats, 1 ok, 2 warning, 3 alarm.", &state, 1);
    prom_alert_family(t, m, "cryoclean_alert_cusum_ratio", "gauge",
                      "CUSUM statistic over its alarm threshold (S/h; 1 raises an alarm).", ratio,
                      2);
    prom_alert_family(t, m, "cryoclean_alert_baseline_artefacts", "gauge",
                      "Learned baseline artefact count per alert bin (0 while no_stats).", &mu0, 1);
    prom_alert_family(t, m, "cryoclean_alarms_total", "counter",
                      "Alarms raised per channel since start.", &alarms, 1);
}

int cc_metrics_prometheus(const cc_monitor *m, const cc_daemon_counters *dc, uint64_t now_ns,
                          cc_text *t, cc_err *e)
{
    const cc_monitor_config *c = cc_monitor_config_get(m);
    const cc_mon_totals *all = cc_monitor_totals(m, CC_MON_TOTAL, 0);
    char b[32];
    if (dc) {
        family(t, "cryoclean_received_total", "counter", "Messages read from the input socket.");
        cc_text_printf(t, "cryoclean_received_total %llu\n", (unsigned long long)dc->received);
        family(t, "cryoclean_decided_total", "counter", "Decisions published.");
        cc_text_printf(t, "cryoclean_decided_total %llu\n", (unsigned long long)dc->decided);
        family(t, "cryoclean_dropped_total", "counter",
               "Messages dropped without a decision, by reason.");
        for (int r = 0; r < CC_R_COUNT; r++)
            if (dc->dropped[r] || r >= CC_R_NDECIDABLE)
                cc_text_printf(t, "cryoclean_dropped_total{reason=\"%s\"} %llu\n",
                               cc_reason_name((cc_reason)r), (unsigned long long)dc->dropped[r]);
        family(t, "cryoclean_uptime_seconds", "gauge", "Seconds since the daemon started.");
        cc_text_printf(t, "cryoclean_uptime_seconds %s\n", pv(dc->uptime_s, b));
    }
    if (cc_monitor_n_gauges(m)) {
        family(t, "cryoclean_queue_depth", "gauge", "Current depth of an internal queue.");
        for (size_t i = 0; i < cc_monitor_n_gauges(m); i++) {
            const char *name;
            double v;
            cc_monitor_gauge_at(m, i, &name, &v);
            cc_text_printf(t, "cryoclean_queue_depth{queue=\"%s\"} %s\n", name, pv(v, b));
        }
    }
    family(t, "cryoclean_input_lost_total", "counter",
           "Records missing upstream, from sequence-number gaps.");
    cc_text_printf(t, "cryoclean_input_lost_total %llu\n", (unsigned long long)all->lost);
    family(t, "cryoclean_monitor_channels", "gauge", "Channels seen since start.");
    cc_text_printf(t, "cryoclean_monitor_channels %zu\n", cc_monitor_count(m, CC_MON_CHANNEL));

    family(t, "cryoclean_records_total", "counter", "Records decided per channel, by verdict.");
    prom_counts(t, m, CC_MON_CHANNEL, "cryoclean_records_total", "channel");
    family(t, "cryoclean_module_records_total", "counter",
           "Records decided per detector module, by verdict.");
    prom_counts(t, m, CC_MON_MODULE, "cryoclean_module_records_total", "module");
    family(t, "cryoclean_reason_records_total", "counter",
           "Records per channel and reason (reasons seen at least once).");
    for (size_t i = 0; i < cc_monitor_count(m, CC_MON_CHANNEL); i++) {
        const cc_mon_totals *x = cc_monitor_totals(m, CC_MON_CHANNEL, i);
        for (int r = 0; r < CC_R_COUNT; r++)
            if (x->reasons[r])
                cc_text_printf(
                    t, "cryoclean_reason_records_total{channel=\"%u\",reason=\"%s\"} %llu\n",
                    cc_monitor_id(m, CC_MON_CHANNEL, i), cc_reason_name((cc_reason)r),
                    (unsigned long long)x->reasons[r]);
    }
    prom_window_gauge(t, m, now_ns, "cryoclean_trigger_rate_hz",
                      "Records per second per channel over a sliding window.",
                      offsetof(cc_mon_stats, rate_hz));
    prom_window_gauge(t, m, now_ns, "cryoclean_rejected_rate_hz",
                      "Artefacts (classifier rejections) per second over a sliding window.",
                      offsetof(cc_mon_stats, rejected_hz));
    prom_window_gauge(t, m, now_ns, "cryoclean_artefact_fraction",
                      "Rejected / (accepted + rejected) over a sliding window (NaN if none).",
                      offsetof(cc_mon_stats, artefact_frac));
    if (c->alert.enabled) prom_alerts(t, m);

    /* Latency: a summary whose quantiles cover the second window (60 s by default). */
    uint32_t lw = c->n_windows > 1 ? 1 : 0;
    cc_mon_stats s;
    cc_monitor_stats(m, CC_MON_TOTAL, 0, lw, now_ns, &s);
    char help[128];
    snprintf(
        help, sizeof help,
        "Receive-to-decision latency; quantiles over the last %u s, sum and count since start.",
        c->window_s[lw]);
    family(t, "cryoclean_latency_seconds", "summary", help);
    const double q[3] = {0.5, 0.9, 0.99}, v[3] = {s.lat_p50_us, s.lat_p90_us, s.lat_p99_us};
    for (int k = 0; k < 3; k++)
        cc_text_printf(t, "cryoclean_latency_seconds{quantile=\"%g\"} %s\n", q[k],
                       pv(v[k] * 1e-6, b));
    cc_text_printf(t, "cryoclean_latency_seconds_sum %s\n", pv(all->lat_sum_us * 1e-6, b));
    cc_text_printf(t, "cryoclean_latency_seconds_count %llu\n", (unsigned long long)all->lat_n);
    return finish(t, e);
}

/* ---- JSON ------------------------------------------------------------------------ */

static const char *jv(double v, char buf[32])
{
    if (!isfinite(v)) return "null";
    snprintf(buf, 32, "%.6g", v);
    return buf;
}

static void json_u64s(cc_text *t, const char *key, const uint64_t *v, int n)
{
    cc_text_printf(t, ",\"%s\":[", key);
    for (int i = 0; i < n; i++) cc_text_printf(t, "%s%llu", i ? "," : "", (unsigned long long)v[i]);
    cc_text_printf(t, "]");
}

static void json_alert_view(cc_text *t, const cc_alert *a)
{
    cc_alert_view v;
    char b[6][32];
    cc_alert_view_get(a, &v);
    double r = v.ratio_poisson > v.ratio_bernoulli ? v.ratio_poisson : v.ratio_bernoulli;
    cc_text_printf(t,
                   ",\"alert\":{\"state\":\"%s\",\"ratio\":%s,\"ratio_poisson\":%s,"
                   "\"ratio_bernoulli\":%s,\"baseline_per_bin\":%s,\"baseline_frac\":%s,"
                   "\"dispersion\":%s,\"since_ns\":%llu,\"alarms\":%llu}",
                   cc_alert_state_name(v.state), jv(r, b[0]), jv(v.ratio_poisson, b[1]),
                   jv(v.ratio_bernoulli, b[2]), jv(v.mu0, b[3]), jv(v.p0, b[4]),
                   jv(v.dispersion, b[5]), (unsigned long long)v.since_ns,
                   (unsigned long long)v.alarms);
}

int cc_metrics_monitor_json(const cc_monitor *m, cc_mon_kind kind, size_t i, uint32_t w,
                            uint64_t now_ns, char topic[CC_TOPIC_MAX], cc_text *t, cc_err *e)
{
    const cc_monitor_config *c = cc_monitor_config_get(m);
    if (w >= c->n_windows)
        return cc_err_set(e, "monitor json: window %u out of range (%u windows)", w, c->n_windows);
    if (kind != CC_MON_TOTAL && i >= cc_monitor_count(m, kind))
        return cc_err_set(e, "monitor json: index %zu out of range (%zu)", i,
                          cc_monitor_count(m, kind));
    uint32_t id = cc_monitor_id(m, kind, i);
    cc_mon_stats s;
    cc_monitor_stats(m, kind, i, w, now_ns, &s);
    char b[12][32];
    cc_text_reset(t);
    if (kind == CC_MON_CHANNEL) {
        snprintf(topic, CC_TOPIC_MAX, "mon/%03u/", id);
        cc_text_printf(t, "{\"v\":%d,\"type\":\"monitor\",\"scope\":\"channel\",\"channel\":%u",
                       CC_MON_JSON_VERSION, id);
    } else if (kind == CC_MON_MODULE) {
        snprintf(topic, CC_TOPIC_MAX, "mon/mod/%03u/", id);
        cc_text_printf(t, "{\"v\":%d,\"type\":\"monitor\",\"scope\":\"module\",\"module\":%u",
                       CC_MON_JSON_VERSION, id);
    } else {
        snprintf(topic, CC_TOPIC_MAX, "mon/all/");
        cc_text_printf(t, "{\"v\":%d,\"type\":\"monitor\",\"scope\":\"all\"", CC_MON_JSON_VERSION);
    }
    cc_text_printf(t,
                   ",\"t_ns\":%llu,\"window_s\":%u,\"span_s\":%s,\"records\":%llu,"
                   "\"accepted\":%llu,\"rejected\":%llu,\"invalid\":%llu,\"lost\":%llu,"
                   "\"rate_hz\":%s,\"accepted_hz\":%s,\"rejected_hz\":%s,\"invalid_hz\":%s,"
                   "\"lost_hz\":%s,\"artefact_frac\":%s",
                   (unsigned long long)now_ns, s.window_s, jv(s.span_s, b[0]),
                   (unsigned long long)s.records, (unsigned long long)s.accepted,
                   (unsigned long long)s.rejected, (unsigned long long)s.invalid,
                   (unsigned long long)s.lost, jv(s.rate_hz, b[1]), jv(s.accepted_hz, b[2]),
                   jv(s.rejected_hz, b[3]), jv(s.invalid_hz, b[4]), jv(s.lost_hz, b[5]),
                   jv(s.artefact_frac, b[6]));
    cc_text_printf(t, ",\"reasons\":{");
    for (int r = 0, first = 1; r < CC_R_COUNT; r++)
        if (s.reasons[r]) {
            cc_text_printf(t, "%s\"%s\":%llu", first ? "" : ",", cc_reason_name((cc_reason)r),
                           (unsigned long long)s.reasons[r]);
            first = 0;
        }
    cc_text_printf(t, "}");
    json_u64s(t, "score_hist", s.score_hist, CC_MON_SCORE_BINS);
    cc_text_printf(t, ",\"ph_range_v\":[%s,%s]", jv(c->ph_min_v, b[7]), jv(c->ph_max_v, b[8]));
    json_u64s(t, "ph_accepted", s.ph_accepted, CC_MON_PH_BINS);
    json_u64s(t, "ph_rejected", s.ph_rejected, CC_MON_PH_BINS);
    cc_text_printf(t, ",\"latency_us\":{\"n\":%llu,\"p50\":%s,\"p90\":%s,\"p99\":%s}",
                   (unsigned long long)s.lat_n, jv(s.lat_p50_us, b[9]), jv(s.lat_p90_us, b[10]),
                   jv(s.lat_p99_us, b[11]));
    if (kind == CC_MON_CHANNEL && c->alert.enabled) json_alert_view(t, cc_monitor_alert(m, i));
    if (kind == CC_MON_TOTAL) {
        size_t n = cc_monitor_count(m, CC_MON_CHANNEL), al = 0, wa = 0;
        for (size_t k = 0; c->alert.enabled && k < n; k++) {
            cc_alert_view v;
            cc_alert_view_get(cc_monitor_alert(m, k), &v);
            al += v.state == CC_ALERT_ALARM;
            wa += v.state == CC_ALERT_WARNING;
        }
        cc_text_printf(t, ",\"channels\":%zu,\"alarms_active\":%zu,\"warnings_active\":%zu", n, al,
                       wa);
        cc_text_printf(t, ",\"lost_total\":%llu,\"gauges\":{",
                       (unsigned long long)cc_monitor_totals(m, CC_MON_TOTAL, 0)->lost);
        for (size_t k = 0; k < cc_monitor_n_gauges(m); k++) {
            const char *name;
            double v;
            cc_monitor_gauge_at(m, k, &name, &v);
            cc_text_printf(t, "%s\"%s\":%s", k ? "," : "", name, jv(v, b[0]));
        }
        cc_text_printf(t, "}");
    }
    cc_text_printf(t, "}");
    return finish(t, e);
}

void cc_metrics_alert_line(const cc_alert_event *ev, char *buf, size_t len)
{
    const char *to = ev->to == CC_ALERT_ALARM     ? "ALARM"
                     : ev->to == CC_ALERT_WARNING ? "WARNING"
                     : ev->to == CC_ALERT_OK      ? "OK"
                                                  : "NO-STATS";
    switch (ev->cause) {
    case CC_AC_POISSON:
    case CC_AC_BERNOULLI:
    case CC_AC_REMINDER:
        snprintf(buf, len,
                 "channel %u: %s%s (%s, S/h %.2f): %llu artefacts in %llu records this bin, "
                 "baseline %.2f per bin (fraction %.3f)",
                 ev->channel, to, ev->cause == CC_AC_REMINDER ? " still" : "",
                 ev->cause == CC_AC_BERNOULLI ? "artefact fraction up" : "artefact rate up",
                 ev->ratio, (unsigned long long)ev->bin_artefacts,
                 (unsigned long long)ev->bin_records, ev->mu0, ev->p0);
        break;
    case CC_AC_LEARNED:
        snprintf(buf, len,
                 "channel %u: %s, baseline learned: %.2f artefacts per bin (fraction %.3f)",
                 ev->channel, to, ev->mu0, ev->p0);
        break;
    default:
        snprintf(buf, len, "channel %u: %s (%s, was %s)", ev->channel, to,
                 cc_alert_cause_name(ev->cause), cc_alert_state_name(ev->from));
    }
}

int cc_metrics_alert_json(const cc_alert_event *ev, char topic[CC_TOPIC_MAX], cc_text *t, cc_err *e)
{
    char line[256], b[3][32];
    cc_metrics_alert_line(ev, line, sizeof line);
    snprintf(topic, CC_TOPIC_MAX, "alert/%03u/", ev->channel);
    cc_text_reset(t);
    cc_text_printf(t,
                   "{\"v\":%d,\"type\":\"alert\",\"channel\":%u,\"t_ns\":%llu,\"state\":\"%s\","
                   "\"from\":\"%s\",\"cause\":\"%s\",\"reminder\":%s,\"ratio\":%s,"
                   "\"baseline_per_bin\":%s,\"baseline_frac\":%s,\"bin_records\":%llu,"
                   "\"bin_artefacts\":%llu,\"message\":\"",
                   CC_MON_JSON_VERSION, ev->channel, (unsigned long long)ev->t_ns,
                   cc_alert_state_name(ev->to), cc_alert_state_name(ev->from),
                   cc_alert_cause_name(ev->cause), ev->cause == CC_AC_REMINDER ? "true" : "false",
                   jv(ev->ratio, b[0]), jv(ev->mu0, b[1]), jv(ev->p0, b[2]),
                   (unsigned long long)ev->bin_records, (unsigned long long)ev->bin_artefacts);
    for (const char *p = line; *p; p++) {
        if (*p == '"' || *p == '\\')
            cc_text_printf(t, "\\%c", *p);
        else if ((unsigned char)*p < 0x20)
            cc_text_printf(t, "\\u%04x", *p);
        else
            cc_text_printf(t, "%c", *p);
    }
    cc_text_printf(t, "\"}");
    return finish(t, e);
}

void cc_metrics_status(const cc_monitor *m, uint64_t now_ns, char *buf, size_t len)
{
    cc_mon_stats s;
    cc_monitor_stats(m, CC_MON_TOTAL, 0, 0, now_ns, &s);
    const cc_monitor_config *c = cc_monitor_config_get(m);
    size_t n = cc_monitor_count(m, CC_MON_CHANNEL), alarms = 0;
    char list[64] = "";
    size_t ll = 0;
    for (size_t i = 0; c->alert.enabled && i < n; i++) {
        cc_alert_view v;
        cc_alert_view_get(cc_monitor_alert(m, i), &v);
        if (v.state != CC_ALERT_ALARM) continue;
        if (++alarms <= 4 && ll < sizeof list)
            ll += (size_t)snprintf(list + ll, sizeof list - ll, "%s%u", alarms > 1 ? ", " : "",
                                   cc_monitor_id(m, CC_MON_CHANNEL, i));
    }
    double rej = isnan(s.artefact_frac) ? 0 : 100.0 * s.artefact_frac;
    int k = snprintf(buf, len, "in %.1f rec/s, rejected %.1f%%, lost %llu, alarms %zu", s.rate_hz,
                     rej, (unsigned long long)cc_monitor_totals(m, CC_MON_TOTAL, 0)->lost, alarms);
    if (alarms && k > 0 && (size_t)k < len)
        snprintf(buf + k, len - (size_t)k, " (ch %s%s)", list, alarms > 4 ? ", ..." : "");
}
