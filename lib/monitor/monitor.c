/* monitor.c - sliding-window statistics (see cc_monitor.h). */
#include "cc_monitor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Counters of a 1-s slot. */
enum { F_REC, F_ACC, F_REJ, F_INV, F_LOST, F_N };
/* Counters of a histogram slot. */
enum {
    H_REASON = 0,
    H_SCORE = H_REASON + CC_R_COUNT,
    H_PHA = H_SCORE + CC_MON_SCORE_BINS,
    H_PHR = H_PHA + CC_MON_PH_BINS,
    H_LAT = H_PHR + CC_MON_PH_BINS,
    H_N = H_LAT + CC_MON_LAT_BINS
};

/* A ring of `len` slots of `slot_s` seconds, `stride` counters each; t[i] is
 * the absolute slot number stored in slot i (-1 when empty). */
typedef struct ring {
    uint32_t slot_s, len, stride;
    int64_t *t;
    uint32_t *c;
} ring;

typedef struct ent {
    uint32_t id;
    int64_t first_s;
    int64_t next_bin; /* first alert bin not yet fed */
    ring fine;
    ring hist[CC_MON_MAX_WINDOWS];
    cc_mon_totals tot;
    cc_alert *alert;
} ent;

typedef struct table {
    ent **v;
    size_t n, cap;
} table;

struct cc_monitor {
    cc_monitor_config c;
    cc_alert_design *design;
    int64_t t0_s; /* first second seen, -1 before */
    ent *total;
    table ch, mod;
    struct {
        char name[CC_MON_GAUGE_NAME];
        double v;
    } gauge[CC_MON_MAX_GAUGES];
    size_t n_gauges;
    double ph_log_min, ph_log_span;
};

void cc_monitor_config_default(cc_monitor_config *c)
{
    *c = (cc_monitor_config){.n_windows = 3,
                             .window_s = {10, 60, 600},
                             .ph_min_v = 1e-4,
                             .ph_max_v = 10.0,
                             .max_channels = 4096};
    cc_alert_config_default(&c->alert);
}

static int check_config(const cc_monitor_config *c, cc_err *e)
{
    if (c->n_windows < 1 || c->n_windows > CC_MON_MAX_WINDOWS)
        return cc_err_set(e, "monitor.windows_s: expected 1..%d windows, found %u",
                          CC_MON_MAX_WINDOWS, c->n_windows);
    for (uint32_t i = 0; i < c->n_windows; i++)
        if (c->window_s[i] < 1 || c->window_s[i] > 86400 ||
            (i && c->window_s[i] <= c->window_s[i - 1]))
            return cc_err_set(e,
                              "monitor.windows_s[%u]: expected ascending seconds in 1..86400, "
                              "found %u",
                              i, c->window_s[i]);
    if (!(c->ph_min_v > 0 && c->ph_max_v > c->ph_min_v && isfinite(c->ph_max_v)))
        return cc_err_set(e, "monitor.pulse_height_v: expected 0 < min < max, found [%g, %g]",
                          c->ph_min_v, c->ph_max_v);
    if (c->max_channels < 1)
        return cc_err_set(e, "monitor.max_channels: expected >= 1, found %u", c->max_channels);
    return 0;
}

int cc_monitor_config_from_yaml(const cc_ynode *map, cc_monitor_config *c, cc_err *e)
{
    /* interval_s (publishing period) belongs to the daemon; accepted here. */
    static const char *const known[] = {"windows_s", "pulse_height_v", "max_channels",
                                        "alerts",    "interval_s",     NULL};
    if (!map) return 0;
    if (cc_y_expect(map, CC_Y_MAP, "monitor", e) || cc_y_check_keys(map, known, e)) return -1;
    const cc_ynode *w = cc_y_get(map, "windows_s");
    if (w) {
        if (cc_y_expect(w, CC_Y_SEQ, "monitor.windows_s", e)) return -1;
        if (w->n < 1 || w->n > CC_MON_MAX_WINDOWS)
            return cc_y_err(e, w, "monitor.windows_s: expected 1..%d windows, found %zu",
                            CC_MON_MAX_WINDOWS, w->n);
        for (size_t i = 0; i < w->n; i++) {
            int64_t v;
            if (cc_y_node_i64(w->kids[i], 1, 86400, &v, e)) return -1;
            if (i && v <= c->window_s[i - 1])
                return cc_y_err(e, w->kids[i],
                                "monitor.windows_s: expected ascending values, found %lld after %u",
                                (long long)v, c->window_s[i - 1]);
            c->window_s[i] = (uint32_t)v;
        }
        c->n_windows = (uint32_t)w->n;
    }
    const cc_ynode *ph = cc_y_get(map, "pulse_height_v");
    if (ph) {
        if (cc_y_expect(ph, CC_Y_SEQ, "monitor.pulse_height_v", e)) return -1;
        if (ph->n != 2)
            return cc_y_err(e, ph, "monitor.pulse_height_v: expected [min, max], found %zu items",
                            ph->n);
        if (cc_y_node_f64(ph->kids[0], 1e-12, 1e6, &c->ph_min_v, e) ||
            cc_y_node_f64(ph->kids[1], 1e-12, 1e6, &c->ph_max_v, e))
            return -1;
        if (c->ph_max_v <= c->ph_min_v)
            return cc_y_err(e, ph, "monitor.pulse_height_v: expected min < max, found [%g, %g]",
                            c->ph_min_v, c->ph_max_v);
    }
    int64_t v = c->max_channels;
    if (cc_y_i64(map, "max_channels", 0, 1, 1 << 20, &v, e)) return -1;
    c->max_channels = (uint32_t)v;
    return cc_alert_config_from_yaml(cc_y_get(map, "alerts"), &c->alert, e);
}

/* ---- rings ---------------------------------------------------------------- */

static int ring_init(ring *r, uint32_t slot_s, uint32_t len, uint32_t stride)
{
    r->slot_s = slot_s, r->len = len, r->stride = stride;
    r->t = malloc(len * sizeof *r->t);
    r->c = calloc((size_t)len * stride, sizeof *r->c);
    if (!r->t || !r->c) return -1;
    for (uint32_t i = 0; i < len; i++) r->t[i] = -1;
    return 0;
}

static void ring_free(ring *r)
{
    free(r->t);
    free(r->c);
}

/* Counters of the slot holding second `sec`, reset if it held an older slot. */
static uint32_t *ring_at(ring *r, int64_t sec)
{
    int64_t s = sec / r->slot_s;
    uint32_t i = (uint32_t)(s % r->len);
    uint32_t *c = r->c + (size_t)i * r->stride;
    if (r->t[i] != s) {
        memset(c, 0, r->stride * sizeof *c);
        r->t[i] = s;
    }
    return c;
}

/* Adds the slots numbered [s_lo, s_hi] that are still stored into out[stride]. */
static void ring_sum(const ring *r, int64_t s_lo, int64_t s_hi, uint64_t *out)
{
    if (s_lo < s_hi - (int64_t)r->len + 1) s_lo = s_hi - (int64_t)r->len + 1;
    for (int64_t s = s_lo < 0 ? 0 : s_lo; s <= s_hi; s++) {
        uint32_t i = (uint32_t)(s % r->len);
        if (r->t[i] != s) continue;
        const uint32_t *c = r->c + (size_t)i * r->stride;
        for (uint32_t k = 0; k < r->stride; k++) out[k] += c[k];
    }
}

/* ---- entities ------------------------------------------------------------- */

static void ent_free(ent **pe)
{
    ent *x = *pe;
    if (!x) return;
    ring_free(&x->fine);
    for (int w = 0; w < CC_MON_MAX_WINDOWS; w++) ring_free(&x->hist[w]);
    cc_alert_free(&x->alert);
    free(x);
    *pe = NULL;
}

static ent *ent_new(const cc_monitor *m, uint32_t id, int with_alert, int64_t sec, uint64_t now_ns)
{
    ent *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->id = id;
    x->first_s = sec;
    uint32_t bin = m->c.alert.bin_s, wmax = m->c.window_s[m->c.n_windows - 1];
    int bad = ring_init(&x->fine, 1, wmax > 2 * bin ? wmax : 2 * bin, F_N);
    for (uint32_t w = 0; w < m->c.n_windows; w++) {
        /* Slots of q = W/10 s (>= 1): ceil(W/q) full ones plus the current one. */
        uint32_t W = m->c.window_s[w], q = W / 10 ? W / 10 : 1;
        bad |= ring_init(&x->hist[w], q, (W + q - 1) / q + 1, H_N);
    }
    if (with_alert && m->design) {
        x->alert = cc_alert_new(m->design, id, now_ns);
        x->next_bin = sec / bin + 1; /* skip the partial first bin */
        bad |= !x->alert;
    }
    if (bad) ent_free(&x);
    return x;
}

/* Binary search: index of id, or -(insertion point) - 1. */
static long table_search(const table *t, uint32_t id)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->v[mid]->id < id)
            lo = mid + 1;
        else if (t->v[mid]->id > id)
            hi = mid;
        else
            return (long)mid;
    }
    return -(long)lo - 1;
}

static ent *table_get(cc_monitor *m, table *t, uint32_t id, int with_alert, int64_t sec,
                      uint64_t now_ns, cc_err *e)
{
    long i = table_search(t, id);
    if (i >= 0) return t->v[i];
    size_t at = (size_t)(-i - 1);
    if (with_alert && t->n >= m->c.max_channels)
        return cc_err_set(e, "monitor: channel %u refused: already %zu channels (max_channels)", id,
                          t->n),
               NULL;
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        ent **v = realloc(t->v, cap * sizeof *v);
        if (!v) return cc_err_set(e, "monitor: out of memory"), NULL;
        t->v = v, t->cap = cap;
    }
    ent *x = ent_new(m, id, with_alert, sec, now_ns);
    if (!x) return cc_err_set(e, "monitor: out of memory for channel/module %u", id), NULL;
    memmove(t->v + at + 1, t->v + at, (t->n - at) * sizeof *t->v);
    t->v[at] = x;
    t->n++;
    return x;
}

cc_monitor *cc_monitor_new(const cc_monitor_config *c, cc_err *e)
{
    if (check_config(c, e)) return NULL;
    cc_monitor *m = calloc(1, sizeof *m);
    if (!m) return cc_err_set(e, "monitor: out of memory"), NULL;
    m->c = *c;
    m->t0_s = -1;
    m->ph_log_min = log(c->ph_min_v);
    m->ph_log_span = log(c->ph_max_v) - m->ph_log_min;
    if (c->alert.enabled && !(m->design = cc_alert_design_new(&c->alert, e))) {
        free(m);
        return NULL;
    }
    if (!(m->total = ent_new(m, 0, 0, 0, 0))) {
        cc_monitor_free(&m);
        return cc_err_set(e, "monitor: out of memory"), NULL;
    }
    return m;
}

static void table_free(table *t)
{
    for (size_t i = 0; i < t->n; i++) ent_free(&t->v[i]);
    free(t->v);
}

void cc_monitor_free(cc_monitor **pm)
{
    cc_monitor *m = pm ? *pm : NULL;
    if (!m) return;
    table_free(&m->ch);
    table_free(&m->mod);
    ent_free(&m->total);
    cc_alert_design_free(&m->design);
    free(m);
    *pm = NULL;
}

const cc_monitor_config *cc_monitor_config_get(const cc_monitor *m)
{
    return &m->c;
}

/* ---- recording ------------------------------------------------------------ */

int cc_monitor_lat_bucket(double us)
{
    if (!(us >= 1.0)) return 0;
    double b = floor(4.0 * log2(us));
    return b >= CC_MON_LAT_BINS - 1 ? CC_MON_LAT_BINS - 1 : (int)b;
}

double cc_monitor_lat_edge(int b)
{
    return b <= 0 ? 0.0 : exp2(b / 4.0);
}

double cc_monitor_ph_edge(const cc_monitor *m, int b)
{
    return exp(m->ph_log_min + m->ph_log_span * b / CC_MON_PH_BINS);
}

static int64_t now_sec(cc_monitor *m, uint64_t now_ns)
{
    int64_t s = (int64_t)(now_ns / 1000000000ull);
    if (m->t0_s < 0) m->t0_s = s;
    return s;
}

static void ent_add(const cc_monitor *m, ent *x, int64_t sec, int verdict, int reason, float score,
                    int ph_bin, int lat_bin, uint32_t latency_us)
{
    uint32_t *f = ring_at(&x->fine, sec);
    f[F_REC]++;
    x->tot.records++;
    if (verdict == CC_V_ACCEPT)
        f[F_ACC]++, x->tot.accepted++;
    else if (verdict == CC_V_REJECT)
        f[F_REJ]++, x->tot.rejected++;
    else
        f[F_INV]++, x->tot.invalid++;
    x->tot.reasons[reason]++;
    x->tot.lat_n++;
    x->tot.lat_sum_us += latency_us;
    for (uint32_t w = 0; w < m->c.n_windows; w++) {
        uint32_t *h = ring_at(&x->hist[w], sec);
        h[H_REASON + reason]++;
        if (score >= 0 && score <= 1) {
            int sb = (int)(score * CC_MON_SCORE_BINS);
            h[H_SCORE + (sb >= CC_MON_SCORE_BINS ? CC_MON_SCORE_BINS - 1 : sb)]++;
        }
        if (ph_bin >= 0 && verdict != CC_V_INVALID)
            h[(verdict == CC_V_ACCEPT ? H_PHA : H_PHR) + ph_bin]++;
        h[H_LAT + lat_bin]++;
    }
}

int cc_monitor_record(cc_monitor *m, uint32_t channel, uint16_t module, int verdict, int reason,
                      float score, float pulse_height_v, uint32_t latency_us, uint64_t now_ns,
                      cc_err *e)
{
    int64_t sec = now_sec(m, now_ns);
    if (reason < 0 || reason >= CC_R_COUNT) reason = CC_R_BAD_FIELD;
    if (verdict != CC_V_ACCEPT && verdict != CC_V_REJECT) verdict = CC_V_INVALID;
    ent *c = table_get(m, &m->ch, channel, 1, sec, now_ns, e);
    if (!c) return -1;
    ent *mo = table_get(m, &m->mod, module, 0, sec, now_ns, e);
    if (!mo) return -1;
    int ph_bin = -1;
    if (pulse_height_v > 0 && isfinite(pulse_height_v)) {
        double x = (log(pulse_height_v) - m->ph_log_min) / m->ph_log_span * CC_MON_PH_BINS;
        ph_bin = x < 0 ? 0 : x >= CC_MON_PH_BINS ? CC_MON_PH_BINS - 1 : (int)x;
    }
    int lb = cc_monitor_lat_bucket(latency_us);
    ent_add(m, c, sec, verdict, reason, score, ph_bin, lb, latency_us);
    ent_add(m, mo, sec, verdict, reason, score, ph_bin, lb, latency_us);
    ent_add(m, m->total, sec, verdict, reason, score, ph_bin, lb, latency_us);
    return 0;
}

void cc_monitor_loss(cc_monitor *m, uint64_t lost, uint64_t now_ns)
{
    int64_t sec = now_sec(m, now_ns);
    ring_at(&m->total->fine, sec)[F_LOST] += (uint32_t)lost;
    m->total->tot.lost += lost;
}

int cc_monitor_gauge(cc_monitor *m, const char *name, double value, cc_err *e)
{
    size_t n = strlen(name);
    if (n == 0 || n >= CC_MON_GAUGE_NAME ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
        return cc_err_set(e, "monitor gauge '%s': expected 1..%d chars of [a-z0-9_]", name,
                          CC_MON_GAUGE_NAME - 1);
    for (size_t i = 0; i < m->n_gauges; i++)
        if (strcmp(m->gauge[i].name, name) == 0) return m->gauge[i].v = value, 0;
    if (m->n_gauges == CC_MON_MAX_GAUGES)
        return cc_err_set(e, "monitor gauge '%s': already %d gauges", name, CC_MON_MAX_GAUGES);
    memcpy(m->gauge[m->n_gauges].name, name, n + 1);
    m->gauge[m->n_gauges++].v = value;
    return 0;
}

size_t cc_monitor_n_gauges(const cc_monitor *m)
{
    return m->n_gauges;
}

void cc_monitor_gauge_at(const cc_monitor *m, size_t i, const char **name, double *value)
{
    *name = m->gauge[i].name;
    *value = m->gauge[i].v;
}

/* ---- alerts ----------------------------------------------------------------- */

int cc_monitor_tick(cc_monitor *m, uint64_t now_ns, cc_alert_cb cb, void *user)
{
    if (!m->design) return 0;
    int64_t sec = now_sec(m, now_ns), bin = m->c.alert.bin_s, now_bin = sec / bin;
    int events = 0;
    for (size_t i = 0; i < m->ch.n; i++) {
        ent *x = m->ch.v[i];
        int64_t oldest = (sec - (int64_t)x->fine.len + 1 + bin - 1) / bin; /* still stored */
        if (x->next_bin < oldest) x->next_bin = oldest;
        for (; x->next_bin < now_bin; x->next_bin++) {
            uint64_t f[F_N] = {0};
            ring_sum(&x->fine, x->next_bin * bin, x->next_bin * bin + bin - 1, f);
            uint64_t end_ns = (uint64_t)(x->next_bin + 1) * bin * 1000000000ull;
            cc_alert_event ev;
            if (cc_alert_bin(x->alert, f[F_ACC] + f[F_REJ], f[F_REJ], end_ns, &ev)) {
                events++;
                if (cb) cb(&ev, user);
            }
        }
    }
    return events;
}

int cc_monitor_clear(cc_monitor *m, uint32_t channel, uint64_t now_ns, cc_alert_cb cb, void *user,
                     cc_err *e)
{
    long i = table_search(&m->ch, channel);
    if (i < 0) return cc_err_set(e, "monitor: cannot clear channel %u: never seen", channel);
    if (!m->ch.v[i]->alert) return 0;
    cc_alert_event ev;
    if (!cc_alert_clear(m->ch.v[i]->alert, now_ns, &ev)) return 0;
    if (cb) cb(&ev, user);
    return 1;
}

int cc_monitor_relearn(cc_monitor *m, uint32_t channel, uint64_t now_ns, cc_alert_cb cb, void *user,
                       cc_err *e)
{
    long i = table_search(&m->ch, channel);
    if (i < 0 || !m->ch.v[i]->alert)
        return cc_err_set(e, "monitor: cannot relearn channel %u: %s", channel,
                          i < 0 ? "never seen" : "alerts are disabled");
    cc_alert_event ev;
    cc_alert_relearn(m->ch.v[i]->alert, now_ns, &ev);
    if (cb) cb(&ev, user);
    return 1;
}

/* ---- reading ---------------------------------------------------------------- */

static const table *table_of(const cc_monitor *m, cc_mon_kind kind)
{
    return kind == CC_MON_CHANNEL ? &m->ch : &m->mod;
}

static const ent *ent_of(const cc_monitor *m, cc_mon_kind kind, size_t i)
{
    return kind == CC_MON_TOTAL ? m->total : table_of(m, kind)->v[i];
}

size_t cc_monitor_count(const cc_monitor *m, cc_mon_kind kind)
{
    return kind == CC_MON_TOTAL ? 1 : table_of(m, kind)->n;
}

uint32_t cc_monitor_id(const cc_monitor *m, cc_mon_kind kind, size_t i)
{
    return ent_of(m, kind, i)->id;
}

long cc_monitor_find(const cc_monitor *m, cc_mon_kind kind, uint32_t id)
{
    if (kind == CC_MON_TOTAL) return 0;
    long i = table_search(table_of(m, kind), id);
    return i >= 0 ? i : -1;
}

const cc_mon_totals *cc_monitor_totals(const cc_monitor *m, cc_mon_kind kind, size_t i)
{
    return &ent_of(m, kind, i)->tot;
}

const cc_alert *cc_monitor_alert(const cc_monitor *m, size_t i)
{
    return m->ch.v[i]->alert;
}

static double percentile(const uint64_t *lat, uint64_t n, double q)
{
    double target = q * (double)n, cum = 0;
    for (int b = 0; b < CC_MON_LAT_BINS; b++) {
        if (!lat[b]) continue;
        if (cum + (double)lat[b] >= target) {
            double lo = cc_monitor_lat_edge(b), hi = cc_monitor_lat_edge(b + 1);
            return lo + (hi - lo) * (target - cum) / (double)lat[b];
        }
        cum += (double)lat[b];
    }
    return cc_monitor_lat_edge(CC_MON_LAT_BINS);
}

void cc_monitor_stats(const cc_monitor *m, cc_mon_kind kind, size_t i, uint32_t w, uint64_t now_ns,
                      cc_mon_stats *out)
{
    const ent *x = ent_of(m, kind, i);
    int64_t sec = (int64_t)(now_ns / 1000000000ull), W = m->c.window_s[w];
    memset(out, 0, sizeof *out);
    out->window_s = (uint32_t)W;
    int64_t have = m->t0_s < 0 ? 1 : sec - m->t0_s + 1;
    out->span_s = (double)(have < 1 ? 1 : have < W ? have : W);
    uint64_t f[F_N] = {0};
    ring_sum(&x->fine, sec - W + 1, sec, f);
    out->records = f[F_REC], out->accepted = f[F_ACC], out->rejected = f[F_REJ];
    out->invalid = f[F_INV], out->lost = f[F_LOST];
    out->rate_hz = f[F_REC] / out->span_s;
    out->accepted_hz = f[F_ACC] / out->span_s;
    out->rejected_hz = f[F_REJ] / out->span_s;
    out->invalid_hz = f[F_INV] / out->span_s;
    out->lost_hz = f[F_LOST] / out->span_s;
    uint64_t cl = f[F_ACC] + f[F_REJ];
    out->artefact_frac = cl ? (double)f[F_REJ] / (double)cl : NAN;
    const ring *r = &x->hist[w];
    uint64_t h[H_N] = {0};
    int64_t s_now = sec / r->slot_s;
    ring_sum(r, s_now - ((int64_t)r->len - 1), s_now, h);
    memcpy(out->reasons, h + H_REASON, sizeof out->reasons);
    memcpy(out->score_hist, h + H_SCORE, sizeof out->score_hist);
    memcpy(out->ph_accepted, h + H_PHA, sizeof out->ph_accepted);
    memcpy(out->ph_rejected, h + H_PHR, sizeof out->ph_rejected);
    for (int b = 0; b < CC_MON_LAT_BINS; b++) out->lat_n += h[H_LAT + b];
    if (out->lat_n) {
        out->lat_p50_us = percentile(h + H_LAT, out->lat_n, 0.50);
        out->lat_p90_us = percentile(h + H_LAT, out->lat_n, 0.90);
        out->lat_p99_us = percentile(h + H_LAT, out->lat_n, 0.99);
    } else {
        out->lat_p50_us = out->lat_p90_us = out->lat_p99_us = NAN;
    }
}
