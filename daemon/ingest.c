/* ingest.c - the ingest thread: input sockets -> items on the work queue.
 *
 * Every message taken from a socket is counted as received and then ends in
 * exactly one place: an item for the workers, an "invalid" decision straight
 * to the output queue (header readable, record unusable), or an undecidable
 * counter by reason (no readable identity). Sequence gaps per publisher are
 * accounted here because this thread sees records in arrival order. When the
 * work queue is full this thread blocks: PULL inputs then push back on the
 * sender; SUB inputs drop at their HWM, which shows up as sequence loss.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cc_seqtrack.h"
#include "daemon.h"
#include "log.h"

static int open_one(ccd *d, const cc_conf_input *in, void **out, cc_err *e)
{
    void *s = zmq_socket(d->zctx, in->kind == CC_SOCK_SUB ? ZMQ_SUB : ZMQ_PULL);
    if (!s) return cc_err_set(e, "input %s: zmq_socket: %s", in->endpoint, zmq_strerror(errno));
    int64_t maxmsg = (int64_t)d->boot_cfg->max_message_bytes * 2;
    int linger = 0;
    zmq_setsockopt(s, ZMQ_RCVHWM, &in->hwm, sizeof in->hwm);
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    for (size_t i = 0; i < in->nsubscribe; i++)
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, in->subscribe[i], strlen(in->subscribe[i]));
    int r = in->bind ? zmq_bind(s, in->endpoint) : zmq_connect(s, in->endpoint);
    if (r) {
        int err = errno;
        zmq_close(s);
        return cc_err_set(e, "input %s: cannot %s: %s", in->endpoint, in->bind ? "bind" : "connect",
                          zmq_strerror(err));
    }
    *out = s;
    return 0;
}

int ccd_ingest_open(ccd *d, cc_err *e)
{
    const cc_config *c = d->boot_cfg;
    d->in_socks = calloc(c->ninputs, sizeof *d->in_socks);
    if (!d->in_socks) return cc_err_set(e, "out of memory");
    for (size_t i = 0; i < c->ninputs; i++) {
        if (open_one(d, &c->inputs[i], &d->in_socks[i], e)) return -1;
        log_info("input %zu: %s %s %s", i, c->inputs[i].kind == CC_SOCK_SUB ? "SUB" : "PULL",
                 c->inputs[i].bind ? "bound to" : "connected to", c->inputs[i].endpoint);
    }
    return 0;
}

/* Counts a message without readable identity. */
static void undecidable(ccd *d, cc_reason r, size_t nframes, size_t hlen)
{
    atomic_fetch_add(&d->c.undecidable_by[r], 1);
    atomic_fetch_add(&d->c.undecidable, 1);
    log_limited(r, LOG_WARNING,
                "dropped a message without readable record identity: %s (%zu frames, header "
                "frame %zu bytes)",
                cc_reason_name(r), nframes, hlen);
}

/* Answers a record whose header is readable but which cannot be classified. */
static void invalid(ccd *d, ccd_item *it, cc_reason r)
{
    cc_decision *dec = &it->dec;
    dec->verdict = CC_V_INVALID;
    dec->reason = (uint8_t)r;
    dec->score = NAN;
    dec->cutoff = NAN;
    it->pulse_height = NAN;
    log_limited(r, LOG_WARNING, "invalid record: channel %u seq %llu: %s", it->hdr.channel,
                (unsigned long long)it->hdr.seq, cc_reason_name(r));
    if (ccd_queue_push(d->out, it)) ccd_item_free(it);
}

static void fill_identity(ccd_item *it)
{
    const cc_rec_hdr *h = &it->hdr;
    cc_decision *dec = &it->dec;
    dec->instance_id = h->instance_id;
    dec->seq = h->seq;
    dec->timestamp_ns = h->timestamp_ns;
    dec->channel = h->channel;
    dec->module = h->module;
    dec->run = h->run;
}

/* Receives one whole multipart message from s and routes it. */
static void ingest_one(ccd *d, void *s, cc_seqtrack *seq)
{
    ccd_item *it = calloc(1, sizeof *it);
    zmq_msg_t extra;
    size_t nframes = 0, total = 0;
    int more = 1;
    while (more) {
        zmq_msg_t *m = it && nframes < 3 ? &it->frames[nframes] : &extra;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, s, 0) < 0) {
            zmq_msg_close(m);
            if (errno == EINTR || errno == EAGAIN) continue;
            log_limited(60, LOG_ERR, "input receive failed: %s", zmq_strerror(errno));
            break;
        }
        total += zmq_msg_size(m);
        more = zmq_msg_more(m);
        if (m == &extra)
            zmq_msg_close(m);
        else
            it->nframes++;
        nframes++;
    }
    atomic_fetch_add(&d->c.received, 1);
    if (!it) { /* out of memory: account for the message all the same */
        undecidable(d, CC_R_OVERSIZED, nframes, 0);
        return;
    }
    it->t_recv_ns = ccd_mono_ns();
    it->pulse_height = NAN;
    size_t hlen = nframes >= 2 ? zmq_msg_size(&it->frames[1]) : 0;
    cc_reason r = nframes >= 2 ? cc_rec_hdr_decode(zmq_msg_data(&it->frames[1]), hlen, &it->hdr)
                               : CC_R_FRAME_COUNT;
    if (r != CC_R_ACCEPTED) {
        undecidable(d, r, nframes, hlen);
        ccd_item_free(it);
        return;
    }
    fill_identity(it);
    uint64_t lost = cc_seqtrack_push(seq, it->hdr.instance_id, it->hdr.seq);
    cc_seqtrack_stats st;
    cc_seqtrack_stats_get(seq, &st);
    atomic_store(&d->c.lost_upstream, st.lost);
    atomic_store(&d->c.reordered, st.reordered);
    atomic_store(&d->c.publishers, st.publishers);
    if (lost)
        log_limited(61, LOG_WARNING, "input loss: %llu records missing before channel %u seq %llu",
                    (unsigned long long)lost, it->hdr.channel, (unsigned long long)it->hdr.seq);
    cc_reason bad = CC_R_ACCEPTED;
    if (nframes == 2)
        bad = CC_R_NO_SAMPLES;
    else if (nframes != 3)
        bad = CC_R_FRAME_COUNT;
    else if (total > d->boot_cfg->max_message_bytes)
        bad = CC_R_OVERSIZED;
    else
        bad = cc_rec_validate(&it->hdr, zmq_msg_size(&it->frames[2]), d->boot_cfg->max_samples);
    if (bad != CC_R_ACCEPTED) {
        invalid(d, it, bad);
        return;
    }
    if (ccd_queue_push(d->work, it)) ccd_item_free(it); /* only when shutting down hard */
}

void *ccd_ingest_main(void *arg)
{
    ccd *d = arg;
    size_t n = d->boot_cfg->ninputs;
    zmq_pollitem_t *items = calloc(n, sizeof *items);
    cc_seqtrack *seq = cc_seqtrack_new(4096);
    if (!items || !seq) {
        log_err("ingest: out of memory");
        abort();
    }
    for (size_t i = 0; i < n; i++)
        items[i] = (zmq_pollitem_t){.socket = d->in_socks[i], .events = ZMQ_POLLIN};
    while (!atomic_load(&d->stop_ingest)) {
        atomic_fetch_add(&d->beat_ingest, 1);
        int r = zmq_poll(items, (int)n, 100);
        if (r < 0) {
            if (errno == EINTR) continue;
            log_err("ingest: zmq_poll: %s", zmq_strerror(errno));
            break;
        }
        for (size_t i = 0; i < n; i++) {
            /* take a bounded burst per socket so one input cannot starve the others */
            for (int k = 0; k < 256 && !atomic_load(&d->stop_ingest); k++) {
                int ev = 0;
                size_t evl = sizeof ev;
                if (zmq_getsockopt(d->in_socks[i], ZMQ_EVENTS, &ev, &evl) || !(ev & ZMQ_POLLIN))
                    break;
                ingest_one(d, d->in_socks[i], seq);
            }
        }
    }
    /* Stopping: take what already sits in the local socket buffers (bounded in
     * time) so that records the DAQ handed over are decided, not discarded. */
    uint64_t until = ccd_mono_ns() + 1000000000ull;
    for (int got = 1; got && ccd_mono_ns() < until;) {
        got = 0;
        for (size_t i = 0; i < n; i++) {
            int ev = 0;
            size_t evl = sizeof ev;
            if (zmq_getsockopt(d->in_socks[i], ZMQ_EVENTS, &ev, &evl) == 0 && (ev & ZMQ_POLLIN)) {
                ingest_one(d, d->in_socks[i], seq);
                got = 1;
            }
        }
    }
    for (size_t i = 0; i < n; i++) zmq_close(d->in_socks[i]);
    free(items);
    cc_seqtrack_free(&seq);
    return NULL;
}
