/* output.c - the output thread: decisions, the clean stream and monitors.
 *
 * This thread alone owns the output sockets (ZeroMQ sockets are not thread
 * safe). For every decided item it counts the verdict (the one place where
 * decisions are counted), publishes the decision and, for accepted records,
 * re-sends the original three frames unchanged on the clean stream. PUB
 * sockets use ZMQ_XPUB_NODROP with non-blocking sends, so a subscriber at its
 * HWM turns into a counted drop instead of a silent one or a stalled daemon.
 * Every monitor interval it publishes the monitor message and refreshes the
 * one-line status that main sends to systemd.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

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
    return open_pub(d, "decisions", &c->decisions, &d->dec_sock, e) ||
                   open_pub(d, "clean", &c->clean, &d->clean_sock, e) ||
                   open_pub(d, "monitor", &c->monitor, &d->mon_sock, e)
               ? -1
               : 0;
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

static void tick(ccd *d, double dt, uint64_t *last_received)
{
    uint64_t rec = atomic_load(&d->c.received);
    double rate = dt > 0 ? (double)(rec - *last_received) / dt : 0.0;
    *last_received = rec;
    uint64_t acc = atomic_load(&d->c.accepted), rej = atomic_load(&d->c.rejected);
    char status[256];
    snprintf(status, sizeof status,
             "in %.1f rec/s; decided %llu (rejected %.1f%%, invalid %llu); undecidable %llu; "
             "lost upstream %llu",
             rate, (unsigned long long)(acc + rej + atomic_load(&d->c.invalid)),
             acc + rej ? 100.0 * (double)rej / (double)(acc + rej) : 0.0, LD(d->c.invalid),
             LD(d->c.undecidable), LD(d->c.lost_upstream));
    pthread_mutex_lock(&d->status_mu);
    memcpy(d->status, status, sizeof status);
    pthread_mutex_unlock(&d->status_mu);
    if (d->mon_sock) {
        char json[2048];
        int l = counters_json(d, json, sizeof json, rate);
        const void *data[2] = {"mon/daemon/", json};
        size_t len[2] = {11, (size_t)l};
        send_frames(d->mon_sock, data, len, 2);
    }
}

void *ccd_output_main(void *arg)
{
    ccd *d = arg;
    ccd_item *items[256];
    uint64_t interval_ns = (uint64_t)(d->boot_cfg->monitor_interval_s * 1e9);
    uint64_t next = ccd_mono_ns() + interval_ns, last_tick = ccd_mono_ns(), last_rec = 0;
    for (;;) {
        atomic_fetch_add(&d->beat_output, 1);
        uint64_t now = ccd_mono_ns();
        int wait_ms = now >= next ? 0 : (int)((next - now) / 1000000) + 1;
        if (wait_ms > 200) wait_ms = 200;
        size_t n = ccd_queue_pop(d->out, (void **)items, 256, wait_ms, 0);
        for (size_t i = 0; i < n; i++) publish(d, items[i]);
        now = ccd_mono_ns();
        if (now >= next) {
            tick(d, (double)(now - last_tick) / 1e9, &last_rec);
            last_tick = now;
            next = now + interval_ns;
        }
        if (n == 0 && ccd_queue_finished(d->out)) break;
    }
    tick(d, (double)(ccd_mono_ns() - last_tick) / 1e9, &last_rec);
    return NULL;
}
