/* output.c - the output thread: decisions, the clean stream and monitors.
 *
 * This thread alone owns the output sockets (ZeroMQ sockets are not thread
 * safe). For every decided item it counts the verdict (the one place where
 * decisions are counted), publishes the decision and, for accepted records,
 * re-sends the original three frames unchanged on the clean stream. PUB
 * sockets use ZMQ_XPUB_NODROP with non-blocking sends, so a subscriber at its
 * HWM turns into a counted drop instead of a silent one or a stalled daemon.
 * It also owns the monitor (lib/monitor): every decision is recorded there;
 * every monitor interval it closes alert bins, delivers alert transitions
 * (ZeroMQ alert/ topic, journal, optional command), publishes the monitor
 * messages of every channel, module and the total, renders the Prometheus
 * text for the metrics endpoint and refreshes the status line for systemd.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_metrics.h"
#include "daemon.h"
#include "log.h"

static int open_pub(ccd *d, const char *what, const cc_conf_output *o, void **out, cc_err *e)
{
    *out = NULL;
    if (!o->endpoint[0]) return 0;
    void *s = zmq_socket(d->zctx, ZMQ_PUB);
    if (!s) return cc_err_set(e, "%s output: zmq_socket: %s", what, zmq_strerror(errno));
    int one = 1, linger = 2000, hwm = d->boot_cfg->out_hwm;
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_XPUB_NODROP, &one, sizeof one);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (o->bind ? zmq_bind(s, o->endpoint) : zmq_connect(s, o->endpoint)) {
        int err = errno;
        zmq_close(s);
        return cc_err_set(e, "%s output %s: cannot %s: %s", what, o->endpoint,
                          o->bind ? "bind" : "connect", zmq_strerror(err));
    }
    log_info("%s output: PUB %s %s", what, o->bind ? "bound to" : "connected to", o->endpoint);
    *out = s;
    return 0;
}

int ccd_output_open(ccd *d, cc_err *e)
{
    const cc_config *c = d->boot_cfg;
    if (open_pub(d, "decisions", &c->decisions, &d->dec_sock, e) ||
        open_pub(d, "clean", &c->clean, &d->clean_sock, e) ||
        open_pub(d, "monitor", &c->monitor, &d->mon_sock, e))
        return -1;
    if (c->control.endpoint[0]) {
        d->ctl_sock = zmq_socket(d->zctx, ZMQ_REP);
        int linger = 0;
        zmq_setsockopt(d->ctl_sock, ZMQ_LINGER, &linger, sizeof linger);
        if (!d->ctl_sock || (c->control.bind ? zmq_bind(d->ctl_sock, c->control.endpoint)
                                             : zmq_connect(d->ctl_sock, c->control.endpoint)))
            return cc_err_set(e, "control output %s: cannot %s: %s", c->control.endpoint,
                              c->control.bind ? "bind" : "connect", zmq_strerror(errno));
        log_info("control: REP %s %s", c->control.bind ? "bound to" : "connected to",
                 c->control.endpoint);
    }
    if (!(d->mon = cc_monitor_new(&c->monitor_cfg, e))) return cc_err_prefix(e, "monitor");
    cc_alert_sink_config sc;
    cc_alert_sink_config_default(&sc);
    if (cc_alert_sink_config_from_yaml(c->alert_notify, &sc, e) ||
        !(d->sink = cc_alert_sink_new(&sc, e)))
        return -1;
    return 0;
}

void ccd_output_close(ccd *d)
{
    if (d->dec_sock) zmq_close(d->dec_sock);
    if (d->clean_sock) zmq_close(d->clean_sock);
    if (d->mon_sock) zmq_close(d->mon_sock);
    if (d->ctl_sock) zmq_close(d->ctl_sock);
    d->dec_sock = d->clean_sock = d->mon_sock = d->ctl_sock = NULL;
    cc_alert_sink_free(&d->sink);
    cc_monitor_free(&d->mon);
}

/* Sends frames as one message without blocking; 0 sent, -1 dropped (HWM) or failed. */
static int send_frames(void *s, const void *const *data, const size_t *len, int n)
{
    for (int i = 0; i < n; i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < n ? ZMQ_SNDMORE : 0);
        if (zmq_send(s, data[i], len[i], flags) < 0) return -1;
    }
    return 0;
}

static void count_decision(ccd *d, const cc_decision *dec)
{
    switch (dec->verdict) {
    case CC_V_ACCEPT:
        atomic_fetch_add(&d->c.accepted, 1);
        break;
    case CC_V_REJECT:
        atomic_fetch_add(&d->c.rejected, 1);
        break;
    default:
        atomic_fetch_add(&d->c.invalid_by[dec->reason < CC_R_COUNT ? dec->reason : 0], 1);
        atomic_fetch_add(&d->c.invalid, 1);
        break;
    }
}

static void publish(ccd *d, ccd_item *it)
{
    count_decision(d, &it->dec);
    cc_err e = {""};
    if (cc_monitor_record(d->mon, it->dec.channel, it->dec.module, it->dec.verdict, it->dec.reason,
                          it->dec.score, it->pulse_height, it->dec.latency_us, ccd_real_ns(), &e))
        log_limited(63, LOG_WARNING, "monitor: %s", e.msg);
    if (d->dec_sock) {
        char topic[CC_TOPIC_MAX];
        uint8_t body[CC_DEC_LEN];
        int tl = cc_topic_decision(topic, sizeof topic, it->dec.channel);
        cc_decision_encode(&it->dec, body);
        const void *data[2] = {topic, body};
        size_t len[2] = {(size_t)tl, sizeof body};
        if (send_frames(d->dec_sock, data, len, 2) == 0)
            atomic_fetch_add(&d->c.published_decisions, 1);
        else
            atomic_fetch_add(&d->c.out_dropped_decisions, 1);
    }
    if (d->clean_sock && it->dec.verdict == CC_V_ACCEPT && it->nframes == 3) {
        const void *data[3];
        size_t len[3];
        for (int i = 0; i < 3; i++) {
            data[i] = zmq_msg_data(&it->frames[i]);
            len[i] = zmq_msg_size(&it->frames[i]);
        }
        if (send_frames(d->clean_sock, data, len, 3) == 0)
            atomic_fetch_add(&d->c.published_clean, 1);
        else
            atomic_fetch_add(&d->c.out_dropped_clean, 1);
    }
    ccd_item_free(it);
}

#define LD(x) LDC(x)

/* Writes the totals as the v1 "daemon" JSON object into buf. */
static int counters_json(ccd *d, char *buf, size_t len, double rate_in)
{
    int o = snprintf(buf, len,
                     "{\"v\":1,\"type\":\"daemon\",\"time_ns\":%llu,\"rate_in\":%.3f,"
                     "\"received\":%llu,\"accepted\":%llu,\"rejected\":%llu,\"invalid\":%llu,"
                     "\"undecidable\":%llu,\"in_flight\":%llu,\"lost_upstream\":%llu,"
                     "\"reordered\":%llu,\"publishers\":%llu,\"out_dropped_decisions\":%llu,"
                     "\"out_dropped_clean\":%llu,\"queue_work\":%zu,\"queue_out\":%zu,"
                     "\"reloads\":%llu,\"reload_failures\":%llu,\"reasons\":{",
                     (unsigned long long)ccd_real_ns(), rate_in, LD(d->c.received),
                     LD(d->c.accepted), LD(d->c.rejected), LD(d->c.invalid), LD(d->c.undecidable),
                     LD(d->c.received) - LD(d->c.accepted) - LD(d->c.rejected) - LD(d->c.invalid) -
                         LD(d->c.undecidable),
                     LD(d->c.lost_upstream), LD(d->c.reordered), LD(d->c.publishers),
                     LD(d->c.out_dropped_decisions), LD(d->c.out_dropped_clean),
                     ccd_queue_depth(d->work), ccd_queue_depth(d->out), LD(d->c.reloads),
                     LD(d->c.reload_failures));
    int first = 1;
    for (int r = CC_R_INVALID_FIRST; r < CC_R_COUNT && o < (int)len; r++) {
        unsigned long long v = LD(d->c.invalid_by[r]) + LD(d->c.undecidable_by[r]);
        if (!v) continue;
        o += snprintf(buf + o, len - (size_t)o, "%s\"%s\":%llu", first ? "" : ",",
                      cc_reason_name((cc_reason)r), v);
        first = 0;
    }
    if (o < (int)len) o += snprintf(buf + o, len - (size_t)o, "}}");
    return o < (int)len ? o : (int)len - 1;
}

/* Sends a text message on the monitor socket. */
static void send_text(ccd *d, const char *topic, const char *text, size_t len)
{
    const void *data[2] = {topic, text};
    size_t l[2] = {strlen(topic), len};
    if (d->mon_sock) send_frames(d->mon_sock, data, l, 2);
}

typedef struct tick_ctx {
    ccd *d;
    cc_text *txt;
    uint64_t now; /* the tick's clock: the sink measures command timeouts on it */
} tick_ctx;

/* Delivers one alert transition: ZeroMQ alert topic, log, journal, command. */
static void on_alert(const cc_alert_event *ev, void *user)
{
    tick_ctx *t = user;
    char topic[CC_TOPIC_MAX], line[256];
    cc_err e = {""};
    cc_metrics_alert_line(ev, line, sizeof line);
    log_msg(ev->to == CC_ALERT_ALARM     ? LOG_CRIT
            : ev->to == CC_ALERT_WARNING ? LOG_WARNING
                                         : LOG_NOTICE,
            "alert: %s", line);
    if (cc_metrics_alert_json(ev, topic, t->txt, &e) == 0)
        send_text(t->d, topic, t->txt->s, t->txt->len);
    cc_alert_sink_deliver(t->d->sink, ev, t->now);
}

/* Publishes every entity's monitor message for every window. */
static void publish_monitors(ccd *d, cc_text *txt, uint64_t now)
{
    static const cc_mon_kind kinds[] = {CC_MON_TOTAL, CC_MON_MODULE, CC_MON_CHANNEL};
    const cc_monitor_config *mc = cc_monitor_config_get(d->mon);
    char topic[CC_TOPIC_MAX];
    cc_err e = {""};
    for (size_t k = 0; k < 3; k++)
        for (size_t i = 0; i < cc_monitor_count(d->mon, kinds[k]); i++)
            for (uint32_t w = 0; w < mc->n_windows; w++)
                if (cc_metrics_monitor_json(d->mon, kinds[k], i, w, now, topic, txt, &e) == 0)
                    send_text(d, topic, txt->s, txt->len);
}

static void render_metrics(ccd *d, cc_text *txt, uint64_t now)
{
    cc_daemon_counters dc = {.received = atomic_load(&d->c.received),
                             .decided = atomic_load(&d->c.accepted) + atomic_load(&d->c.rejected) +
                                        atomic_load(&d->c.invalid),
                             .uptime_s = (double)(ccd_mono_ns() - d->start_ns) / 1e9,
                             .alerts_enabled = cc_monitor_config_get(d->mon)->alert.enabled};
    for (int r = 0; r < CC_R_COUNT; r++) dc.dropped[r] = atomic_load(&d->c.undecidable_by[r]);
    cc_err e = {""};
    cc_text_reset(txt);
    if (cc_metrics_prometheus(d->mon, &dc, now, txt, &e) ||
        cc_metrics_http_publish(d->http, txt->s, txt->len, &e))
        log_limited(59, LOG_ERR, "metrics: %s", e.msg);
}

static void tick(ccd *d, double dt, uint64_t *last_received, uint64_t *lost_seen, cc_text *txt)
{
    uint64_t now = ccd_real_ns();
    uint64_t lost = atomic_load(&d->c.lost_upstream);
    if (lost > *lost_seen) cc_monitor_loss(d->mon, lost - *lost_seen, now);
    *lost_seen = lost;
    cc_monitor_gauge(d->mon, "queue_work", (double)ccd_queue_depth(d->work), NULL);
    cc_monitor_gauge(d->mon, "queue_out", (double)ccd_queue_depth(d->out), NULL);
    tick_ctx tc = {d, txt, now};
    cc_monitor_tick(d->mon, now, on_alert, &tc);
    cc_alert_sink_poll(d->sink, now);

    uint64_t rec = atomic_load(&d->c.received);
    double rate = dt > 0 ? (double)(rec - *last_received) / dt : 0.0;
    *last_received = rec;
    char status[256], mon[160];
    cc_metrics_status(d->mon, now, mon, sizeof mon);
    snprintf(status, sizeof status, "%s; decided %llu, invalid %llu, undecidable %llu", mon,
             LD(d->c.accepted) + LD(d->c.rejected) + LD(d->c.invalid), LD(d->c.invalid),
             LD(d->c.undecidable));
    pthread_mutex_lock(&d->status_mu);
    memcpy(d->status, status, sizeof status);
    pthread_mutex_unlock(&d->status_mu);
    char json[2048];
    int l = counters_json(d, json, sizeof json, rate);
    send_text(d, "mon/daemon/", json, (size_t)l);
    publish_monitors(d, txt, now);
    if (d->http) render_metrics(d, txt, now);
}

/* Runs one shift-crew command: "clear CH", "clear all" or "relearn CH".
 * Alert transitions it causes go out like any other (alert topic, journal,
 * command). Writes a one-line reply starting with "ok" or "error". */
static void control_command(ccd *d, const char *req, char *reply, size_t len, cc_text *txt)
{
    char verb[16] = "", arg[32] = "";
    uint64_t now = ccd_real_ns();
    tick_ctx tc = {d, txt, now};
    cc_err e = {""};
    if (sscanf(req, "%15s %31s", verb, arg) != 2 ||
        (strcmp(verb, "clear") && strcmp(verb, "relearn"))) {
        snprintf(reply, len,
                 "error: unknown command '%.60s' (known: clear CHANNEL|all, relearn CHANNEL)", req);
        return;
    }
    if (!strcmp(verb, "clear") && !strcmp(arg, "all")) {
        int n = 0;
        for (size_t i = 0; i < cc_monitor_count(d->mon, CC_MON_CHANNEL); i++)
            n += cc_monitor_clear(d->mon, cc_monitor_id(d->mon, CC_MON_CHANNEL, i), now, on_alert,
                                  &tc, NULL) == 1;
        snprintf(reply, len, "ok: %d alarm%s cleared", n, n == 1 ? "" : "s");
        return;
    }
    char *end;
    unsigned long ch = strtoul(arg, &end, 10);
    if (*end || ch > UINT32_MAX) {
        snprintf(reply, len, "error: '%s' is not a channel number", arg);
        return;
    }
    int r = !strcmp(verb, "clear")
                ? cc_monitor_clear(d->mon, (uint32_t)ch, now, on_alert, &tc, &e)
                : cc_monitor_relearn(d->mon, (uint32_t)ch, now, on_alert, &tc, &e);
    if (r < 0)
        snprintf(reply, len, "error: %s", e.msg);
    else if (!strcmp(verb, "clear"))
        snprintf(reply, len, r ? "ok: channel %lu cleared" : "ok: channel %lu was not in ALARM",
                 ch);
    else
        snprintf(reply, len, "ok: channel %lu learns its baseline again", ch);
    log_notice("control: '%s' -> %s", req, reply);
}

/* Answers pending control requests without blocking. */
static void poll_control(ccd *d, cc_text *txt)
{
    if (!d->ctl_sock) return;
    for (int k = 0; k < 16; k++) {
        char req[128], reply[256];
        int n = zmq_recv(d->ctl_sock, req, sizeof req - 1, ZMQ_DONTWAIT);
        if (n < 0) return;
        req[n < (int)sizeof req - 1 ? n : (int)sizeof req - 1] = '\0';
        int more = 0;
        size_t ml = sizeof more;
        zmq_getsockopt(d->ctl_sock, ZMQ_RCVMORE, &more, &ml);
        while (more) { /* a request is one frame; drop extras */
            char junk[64];
            zmq_recv(d->ctl_sock, junk, sizeof junk, 0);
            zmq_getsockopt(d->ctl_sock, ZMQ_RCVMORE, &more, &ml);
        }
        control_command(d, req, reply, sizeof reply, txt);
        zmq_send(d->ctl_sock, reply, strlen(reply), 0);
    }
}

void *ccd_output_main(void *arg)
{
    ccd *d = arg;
    ccd_item *items[256];
    uint64_t interval_ns = (uint64_t)(d->boot_cfg->monitor_interval_s * 1e9);
    uint64_t next = ccd_mono_ns() + interval_ns, last_tick = ccd_mono_ns(), last_rec = 0,
             lost_seen = 0;
    cc_text txt = {0};
    for (;;) {
        atomic_fetch_add(&d->beat_output, 1);
        uint64_t now = ccd_mono_ns();
        int wait_ms = now >= next ? 0 : (int)((next - now) / 1000000) + 1;
        if (wait_ms > 200) wait_ms = 200;
        if (d->ctl_sock && wait_ms > 50) wait_ms = 50; /* answer the crew promptly */
        size_t n = ccd_queue_pop(d->out, (void **)items, 256, wait_ms, 0);
        for (size_t i = 0; i < n; i++) publish(d, items[i]);
        poll_control(d, &txt);
        now = ccd_mono_ns();
        if (now >= next) {
            tick(d, (double)(now - last_tick) / 1e9, &last_rec, &lost_seen, &txt);
            last_tick = now;
            next = now + interval_ns;
        }
        if (n == 0 && ccd_queue_finished(d->out)) break;
    }
    tick(d, (double)(ccd_mono_ns() - last_tick) / 1e9, &last_rec, &lost_seen, &txt);
    cc_text_free(&txt);
    return NULL;
}
