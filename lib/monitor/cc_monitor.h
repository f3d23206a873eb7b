/* cc_monitor.h - sliding-window statistics per channel, per module and in total.
 *
 * The daemon's monitor-owning thread calls cc_monitor_record() once per
 * decision, cc_monitor_loss() for sequence gaps, cc_monitor_gauge() for queue
 * depths and cc_monitor_tick() periodically; every call takes `now_ns` (any
 * monotonic clock in ns) so tests and benches drive time themselves.
 *
 * Memory is fixed per entity (channel, module, total):
 * - a ring of 1-s slots, as long as the longest window, with the counts
 *   records / accepted / rejected / invalid / lost: rates over any window are
 *   exact to the second;
 * - per window W a ring of ceil(W/q) + 1 slots of q = W/10 s (at least 1 s)
 *   with the histograms (reasons, 20 score bins, pulse height of accepted
 *   and of rejected records in CC_MON_PH_BINS log bins, latency in log2/4
 *   buckets): a window's histograms cover between W and W + q seconds.
 * Each slot stores its absolute second, so stale slots are skipped when read
 * and reset when written: nothing has to run between records.
 *
 * "Artefact" means rejected by the classifier; artefact fraction =
 * rejected / (accepted + rejected). Invalid records count in the trigger rate
 * and by reason, not as artefacts.
 *
 * Alerts (cc_alert.h): with alerts enabled every channel owns a detector;
 * cc_monitor_tick() closes alert bins of bin_s seconds from the 1-s ring and
 * reports state changes through a callback.
 *
 * Channels and modules appear on first use, kept in sorted arrays (binary
 * search; an insertion shifts the indices, so indices are valid until the
 * next cc_monitor_record()). Not thread-safe; no globals.
 */
#ifndef CC_MONITOR_H
#define CC_MONITOR_H

#include <stddef.h>
#include <stdint.h>

#include "cc_alert.h"
#include "cc_err.h"
#include "cc_proto.h"
#include "cc_yaml.h"

#define CC_MON_MAX_WINDOWS 4
#define CC_MON_SCORE_BINS  20 /* score in [0,1] */
#define CC_MON_PH_BINS     24 /* log-spaced between ph_min_v and ph_max_v */
#define CC_MON_LAT_BINS    96 /* bucket b: [2^(b/4), 2^((b+1)/4)) us; last is overflow */
#define CC_MON_MAX_GAUGES  16
#define CC_MON_GAUGE_NAME  32

typedef struct cc_monitor_config {
    uint32_t n_windows;
    uint32_t window_s[CC_MON_MAX_WINDOWS]; /* ascending, default 10, 60, 600 */
    double ph_min_v, ph_max_v;             /* pulse-height range (1e-4, 10) */
    uint32_t max_channels;                 /* refuse more than this (4096) */
    cc_alert_config alert;
} cc_monitor_config;

typedef enum cc_mon_kind { CC_MON_TOTAL = 0, CC_MON_CHANNEL = 1, CC_MON_MODULE = 2 } cc_mon_kind;

/* Statistics of one entity over one window. */
typedef struct cc_mon_stats {
    uint32_t window_s;
    double span_s; /* seconds actually covered (shorter right after start) */
    uint64_t records, accepted, rejected, invalid, lost;
    double rate_hz, accepted_hz, rejected_hz, invalid_hz, lost_hz;
    double artefact_frac; /* NaN when no record was classified */
    /* From the histogram ring (covers W .. W + W/10): */
    uint64_t reasons[CC_R_COUNT];
    uint64_t score_hist[CC_MON_SCORE_BINS];
    uint64_t ph_accepted[CC_MON_PH_BINS], ph_rejected[CC_MON_PH_BINS];
    uint64_t lat_n;
    double lat_p50_us, lat_p90_us, lat_p99_us; /* NaN when lat_n == 0 */
} cc_mon_stats;

/* Cumulative counts since start (for Prometheus counters). */
typedef struct cc_mon_totals {
    uint64_t records, accepted, rejected, invalid, lost;
    uint64_t reasons[CC_R_COUNT];
    uint64_t lat_n;
    double lat_sum_us;
} cc_mon_totals;

typedef struct cc_monitor cc_monitor;

/* Called by cc_monitor_tick() for each alert event. */
typedef void (*cc_alert_cb)(const cc_alert_event *ev, void *user);

/* Defaults: windows 10/60/600 s, pulse heights 1e-4..10 V, 4096 channels,
 * cc_alert_config_default(). */
void cc_monitor_config_default(cc_monitor_config *c);

/* Reads a `monitor:` mapping over c: windows_s: [..], pulse_height_v: [min,
 * max], max_channels, alerts: {...} (the daemon passes its top-level
 * `alerts:` to cc_alert_config_from_yaml() instead); interval_s is the
 * daemon's and skipped. Unknown keys are errors. */
int cc_monitor_config_from_yaml(const cc_ynode *map, cc_monitor_config *c, cc_err *e);

/* Creates a monitor (computing the alert design when alerts are enabled).
 * NULL with e on a bad configuration or OOM. */
cc_monitor *cc_monitor_new(const cc_monitor_config *c, cc_err *e);

/* Frees *m and sets it to NULL. */
void cc_monitor_free(cc_monitor **m);

/* The configuration in use. */
const cc_monitor_config *cc_monitor_config_get(const cc_monitor *m);

/* Accounts for one decision: verdict (enum cc_verdict), reason (cc_reason),
 * score (NaN to skip), pulse height in volts (<= 0 or NaN to skip), latency
 * in us. Fails (-1, e) only when a new channel would exceed max_channels. */
int cc_monitor_record(cc_monitor *m, uint32_t channel, uint16_t module, int verdict, int reason,
                      float score, float pulse_height_v, uint32_t latency_us, uint64_t now_ns,
                      cc_err *e);

/* Accounts for `lost` records missing upstream (sequence gaps). */
void cc_monitor_loss(cc_monitor *m, uint64_t lost, uint64_t now_ns);

/* Sets a named gauge (queue depths...). Names are [a-z0-9_], at most
 * CC_MON_GAUGE_NAME-1 chars; -1 with e on a bad name or too many gauges. */
int cc_monitor_gauge(cc_monitor *m, const char *name, double value, cc_err *e);

/* Number of gauges and the i-th one. */
size_t cc_monitor_n_gauges(const cc_monitor *m);
void cc_monitor_gauge_at(const cc_monitor *m, size_t i, const char **name, double *value);

/* Closes the alert bins that ended before now_ns and calls cb (may be NULL)
 * for each event. Call at least every few seconds. Returns the event count. */
int cc_monitor_tick(cc_monitor *m, uint64_t now_ns, cc_alert_cb cb, void *user);

/* Clears a latched alarm of channel by hand. Returns 1 and calls cb if the
 * state changed, 0 if not, -1 with e for an unknown channel. */
int cc_monitor_clear(cc_monitor *m, uint32_t channel, uint64_t now_ns, cc_alert_cb cb, void *user,
                     cc_err *e);

/* Makes channel learn its baseline again (NO-STATS), e.g. after a crew
 * accepted a new level. Returns 1 and calls cb, or -1 with e for an unknown
 * channel or with alerts disabled. */
int cc_monitor_relearn(cc_monitor *m, uint32_t channel, uint64_t now_ns, cc_alert_cb cb, void *user,
                       cc_err *e);

/* Number of entities of a kind (1 for CC_MON_TOTAL), the id of the i-th
 * (channel or module number; 0 for the total), and the index of an id (-1 if
 * absent). Channels and modules are in ascending id order. */
size_t cc_monitor_count(const cc_monitor *m, cc_mon_kind kind);
uint32_t cc_monitor_id(const cc_monitor *m, cc_mon_kind kind, size_t i);
long cc_monitor_find(const cc_monitor *m, cc_mon_kind kind, uint32_t id);

/* Statistics of entity i over window number w (index into window_s) at now_ns. */
void cc_monitor_stats(const cc_monitor *m, cc_mon_kind kind, size_t i, uint32_t w, uint64_t now_ns,
                      cc_mon_stats *out);

/* Cumulative counts of entity i. */
const cc_mon_totals *cc_monitor_totals(const cc_monitor *m, cc_mon_kind kind, size_t i);

/* The alert detector of channel index i, or NULL when alerts are disabled. */
const cc_alert *cc_monitor_alert(const cc_monitor *m, size_t i);

/* Lower edge in volts of pulse-height bin b (b == CC_MON_PH_BINS gives the
 * upper edge of the last bin). */
double cc_monitor_ph_edge(const cc_monitor *m, int b);

/* Latency bucket of a value in us, and the lower edge in us of bucket b. */
int cc_monitor_lat_bucket(double us);
double cc_monitor_lat_edge(int b);

#endif
