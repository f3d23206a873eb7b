/* cc_metrics.h - what the monitor says to the outside: Prometheus text,
 * monitor/alert JSON messages and the systemd STATUS= line.
 *
 * Everything here only formats text into a growable buffer (cc_text); the
 * daemon owns the sockets (ZeroMQ publisher, HTTP server) and decides when to
 * send. Formats are documented in docs/MONITORING.md:
 *
 * - Prometheus text exposition 0.0.4: # HELP / # TYPE for every family,
 *   counters end in _total, labels channel="7", window="60s", ...; names are
 *   prefixed cryoclean_. Checked with `promtool check metrics` in the tests.
 * - Monitor JSON v1 on topic "mon/007/" (channel), "mon/mod/003/" (module)
 *   or "mon/all/" (totals): {"v":1,"type":"monitor","scope":"channel",
 *   "channel":7,"t_ns":...,"window_s":60,...}. One message = one entity over
 *   one window. Fields are only ever added within v1.
 * - Alert JSON v1 on topic "alert/007/": one state change or reminder.
 * Topics are zero-padded and end in '/', so a SUB prefix never matches a
 * longer channel number ("mon/007/" does not match "mon/0070/").
 */
#ifndef CC_METRICS_H
#define CC_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "cc_alert.h"
#include "cc_err.h"
#include "cc_monitor.h"
#include "cc_proto.h"

#define CC_MON_JSON_VERSION 1

/* A growable NUL-terminated string. Zero-initialise; cc_text_free() when
 * done. On OOM `oom` is set and later appends are ignored. */
typedef struct cc_text {
    char *s;
    size_t len, cap;
    int oom;
} cc_text;

/* Appends printf-formatted text. */
void cc_text_printf(cc_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Empties t (keeps the memory). */
void cc_text_reset(cc_text *t);

/* Frees the memory and zeroes t. */
void cc_text_free(cc_text *t);

/* The daemon's own counters, passed in by the lead's code. */
typedef struct cc_daemon_counters {
    uint64_t received;            /* messages read from the input socket */
    uint64_t decided;             /* decisions published */
    uint64_t dropped[CC_R_COUNT]; /* messages dropped without a decision, by reason */
    double uptime_s;
    int alerts_enabled;
} cc_daemon_counters;

/* Renders the whole exposition (monitor + daemon counters; dc may be NULL)
 * at now_ns into out (appended). Returns 0, or -1 with e on OOM. */
int cc_metrics_prometheus(const cc_monitor *m, const cc_daemon_counters *dc, uint64_t now_ns,
                          cc_text *out, cc_err *e);

/* Encodes the monitor message of entity (kind, i) over window number w into
 * out (replacing its content) and its topic into topic. Returns 0 or -1/e. */
int cc_metrics_monitor_json(const cc_monitor *m, cc_mon_kind kind, size_t i, uint32_t w,
                            uint64_t now_ns, char topic[CC_TOPIC_MAX], cc_text *out, cc_err *e);

/* Encodes an alert event into out (replacing its content) and its topic
 * ("alert/%03u/") into topic. Returns 0 or -1/e. */
int cc_metrics_alert_json(const cc_alert_event *ev, char topic[CC_TOPIC_MAX], cc_text *out,
                          cc_err *e);

/* One human line for an alert event ("channel 7: OK -> ALARM (artefact rate
 * x2.3 over baseline 3.1/bin)"), for journals and commands. */
void cc_metrics_alert_line(const cc_alert_event *ev, char *buf, size_t len);

/* The systemd STATUS= line over the first (shortest) window, e.g.
 * "in 812.3 rec/s, rejected 12.1%, lost 0, alarms 1 (ch 7)". */
void cc_metrics_status(const cc_monitor *m, uint64_t now_ns, char *buf, size_t len);

#endif
