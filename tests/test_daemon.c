/* test_daemon.c - the real cryocleand over real ZeroMQ sockets on loopback.
 *
 * Each test writes a configuration with ephemeral ports, starts the daemon
 * with a test NOTIFY_SOCKET (the systemd notify protocol), pushes records
 * and checks that every record ends as exactly one decision or in a counter
 * that says why, under normal load, malformed input, SIGHUP reloads (good and
 * broken) and SIGTERM drain.
 */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "cc_proto.h"
#include "cc_test.h"

typedef cct_daemon env;

/* The classifier part of the test configuration. */
static void write_conf(env *v, const char *cutoff, const char *extra)
{
    char body[4096];
    snprintf(body, sizeof body,
             "classifiers:\n"
             "  cuts: {plugin: cuts}\n"
             "channels:\n"
             "  default: {classifier: cuts, cutoff: %s}\n"
             "processing: {workers: 2, max_batch: 32, max_wait_ms: 2, queue_capacity: 256}\n"
             "monitor: {interval_s: 0.2}\n"
             "%s",
             cutoff, extra ? extra : "");
    cct_daemon_conf(v, body);
}

static void start(env *v, const char *extra)
{
    cct_daemon_init(v);
    write_conf(v, "0.5", extra);
    cct_daemon_up(v, NULL);
}

static void finish(env *v)
{
    cct_daemon_down(v);
}

/* ---- records ---- */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}
static double gauss(uint64_t *s)
{
    double u = ((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0;
    double w = ((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0;
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * w);
}

enum kind { K_PULSE, K_JUMP, K_NOISE };
#define NS 8192
#define FS 25000.0f

/* Fills int16 codes for a record of kind k (scale 20/65536 V per code). */
static void make_samples(int16_t *out, enum kind k, uint64_t *rng)
{
    const double scale = 20.0 / 65536.0;
    for (int i = 0; i < NS; i++) {
        double t = (i - NS / 4) / (double)FS * 1000.0; /* ms */
        double v = 0.002 * gauss(rng);
        if (k == K_PULSE && t > 0.0) v += 0.5 * (exp(-t / 20.0) - exp(-t / 0.5));
        if (k == K_JUMP && t > 0.0) v += 0.8 * (1.0 - exp(-t / 0.3));
        long c = lround(v / scale);
        out[i] = (int16_t)(c > 32767 ? 32767 : c < -32768 ? -32768 : c);
    }
}

static void fill_hdr(cc_rec_hdr *h, uint64_t inst, uint64_t seq, uint32_t ch)
{
    memset(h, 0, sizeof *h);
    h->instance_id = inst;
    h->seq = seq;
    h->channel = ch;
    h->module = (uint16_t)(ch / 2);
    h->timestamp_ns = 1700000000000000000ull + seq * 1000;
    h->run = 42;
    h->sample_type = CC_S_INT16;
    h->adc_scale = 20.0 / 65536.0;
    h->sample_rate_hz = FS;
    h->trigger_index = NS / 4;
    h->n_samples = NS;
}

static void send_frames(void *s, const void *topic, size_t tl, const void *hdr, size_t hl,
                        const void *smp, size_t sl, int nframes)
{
    const void *d[3] = {topic, hdr, smp};
    size_t l[3] = {tl, hl, sl};
    for (int i = 0; i < nframes; i++)
        ck_assert_int_ge(zmq_send(s, d[i], l[i], i + 1 < nframes ? ZMQ_SNDMORE : 0), 0);
}

static void send_record(void *s, uint64_t inst, uint64_t seq, uint32_t ch, enum kind k,
                        uint64_t *rng)
{
    static int16_t smp[NS];
    cc_rec_hdr h;
    uint8_t hb[CC_REC_HDR_LEN];
    char topic[CC_TOPIC_MAX];
    fill_hdr(&h, inst, seq, ch);
    make_samples(smp, k, rng);
    cc_rec_hdr_encode(&h, hb);
    int tl = cc_topic_record(topic, sizeof topic, ch);
    send_frames(s, topic, (size_t)tl, hb, sizeof hb, smp, sizeof smp, 3);
}

/* Waits until one warm-up record is decided, so all subscriptions are live. */
static void warm_up(env *v, uint64_t inst, uint64_t *seq, uint64_t *rng)
{
    cc_decision d;
    for (int tries = 0; tries < 100; tries++) {
        send_record(v->push, inst, (*seq)++, 1, K_PULSE, rng);
        if (cct_recv_decision(v->dec, &d, 200)) {
            while (cct_recv_decision(v->dec, &d, 300)) {
            }
            zmq_pollitem_t p = {.socket = v->clean, .events = ZMQ_POLLIN};
            while (zmq_poll(&p, 1, 100) > 0) { /* drop warm-up clean records */
                zmq_msg_t m;
                zmq_msg_init(&m);
                zmq_msg_recv(&m, v->clean, 0);
                zmq_msg_close(&m);
            }
            return;
        }
    }
    ck_abort_msg("no decision for any warm-up record (log: %s)", v->log);
}

START_TEST(test_flow_and_clean_stream)
{
    env v;
    start(&v, NULL);
    uint64_t rng = 0x9e3779b97f4a7c15ull, seq = 1, inst = 0x1234567890abcdefull;
    warm_up(&v, inst, &seq, &rng);
    const int N = 3000;
    uint64_t first = seq;
    unsigned char *seen = calloc(N, 1);
    unsigned char *acc = calloc(N, 1);
    enum kind *kinds = calloc(N, sizeof *kinds);
    int got = 0, n_acc = 0, pulses_acc = 0, jumps_rej = 0, npulse = 0, njump = 0;
    for (int i = 0; i < N; i++) {
        kinds[i] = (enum kind)(i % 3);
        npulse += kinds[i] == K_PULSE;
        njump += kinds[i] == K_JUMP;
        send_record(v.push, inst, seq++, (uint32_t)(i % 7), kinds[i], &rng);
        cc_decision d;
        while (cct_recv_decision(v.dec, &d, 0)) {
            ck_assert_uint_ge(d.seq, first);
            int k = (int)(d.seq - first);
            ck_assert_int_lt(k, N);
            ck_assert_msg(!seen[k], "seq %d decided twice", k);
            seen[k] = 1;
            got++;
            if (d.verdict == CC_V_ACCEPT) acc[k] = 1;
        }
    }
    cc_decision d;
    while (got < N && cct_recv_decision(v.dec, &d, 5000)) {
        int k = (int)(d.seq - first);
        ck_assert_int_lt(k, N);
        ck_assert_msg(!seen[k], "seq %d decided twice", k);
        seen[k] = 1;
        got++;
        ck_assert_uint_eq(d.instance_id, inst);
        ck_assert_uint_eq(d.run, 42);
        ck_assert_uint_eq(d.channel, (uint32_t)(k % 7));
        ck_assert_str_eq(d.classifier, "cuts");
        ck_assert_msg(d.verdict == (d.score >= d.cutoff ? CC_V_ACCEPT : CC_V_REJECT),
                      "verdict %d does not follow score %g vs cutoff %g", d.verdict, d.score,
                      d.cutoff);
        if (d.verdict == CC_V_ACCEPT) acc[k] = 1;
    }
    ck_assert_int_eq(got, N);
    for (int k = 0; k < N; k++) {
        n_acc += acc[k];
        pulses_acc += kinds[k] == K_PULSE && acc[k];
        jumps_rej += kinds[k] == K_JUMP && !acc[k];
    }
    /* the cuts classifier must actually discriminate */
    ck_assert_msg(pulses_acc > npulse * 9 / 10, "only %d of %d pulses accepted", pulses_acc,
                  npulse);
    ck_assert_msg(jumps_rej > njump * 9 / 10, "only %d of %d jumps rejected", jumps_rej, njump);

    /* the clean stream carries exactly the accepted records, byte for byte */
    int clean = 0;
    zmq_pollitem_t p = {.socket = v.clean, .events = ZMQ_POLLIN};
    while (clean < n_acc && zmq_poll(&p, 1, 3000) > 0) {
        zmq_msg_t f[3];
        for (int i = 0; i < 3; i++) {
            zmq_msg_init(&f[i]);
            ck_assert_int_ge(zmq_msg_recv(&f[i], v.clean, 0), 0);
        }
        ck_assert_uint_eq(zmq_msg_size(&f[1]), CC_REC_HDR_LEN);
        ck_assert_uint_eq(zmq_msg_size(&f[2]), NS * 2);
        cc_rec_hdr h;
        ck_assert_int_eq(cc_rec_hdr_decode(zmq_msg_data(&f[1]), CC_REC_HDR_LEN, &h), 0);
        int k = (int)(h.seq - first);
        ck_assert_msg(k >= 0 && k < N && acc[k], "clean stream carried a record not accepted");
        for (int i = 0; i < 3; i++) zmq_msg_close(&f[i]);
        clean++;
    }
    ck_assert_int_eq(clean, n_acc);

    char json[4096];
    cct_monitor_settled(&v, seq - 1, json, sizeof json);
    cct_check_identity(json);
    ck_assert_uint_eq(cct_json_u64(json, "received"), (unsigned long long)(seq - 1));
    ck_assert_uint_eq(cct_json_u64(json, "lost_upstream"), 0);
    ck_assert_int_eq(cct_daemon_stop(v.pid, SIGTERM, 20000), 0);
    finish(&v);
    free(seen);
    free(acc);
    free(kinds);
}
END_TEST

/* Every kind of malformed message: the daemon survives, answers what has a
 * readable identity with an "invalid" decision and counts the rest by reason. */
START_TEST(test_malformed_input)
{
    env v;
    start(&v, NULL);
    uint64_t rng = 7, seq = 1, inst = 0xabcdef;
    warm_up(&v, inst, &seq, &rng);
    static int16_t smp[NS];
    make_samples(smp, K_PULSE, &rng);
    char topic[16] = "rec/003/";
    uint8_t hb[CC_REC_HDR_LEN + 8];
    cc_rec_hdr h;
    struct {
        const char *what;
        cc_reason expect;
        int decided;
    } cases[] = {
        {"one frame", CC_R_FRAME_COUNT, 0},
        {"header only", CC_R_NO_SAMPLES, 1},
        {"four frames", CC_R_FRAME_COUNT, 1},
        {"truncated header", CC_R_TRUNCATED, 0},
        {"wrong magic", CC_R_BAD_MAGIC, 0},
        {"version 2", CC_R_BAD_VERSION, 0},
        {"zero length", CC_R_ZERO_LENGTH, 1},
        {"sample type 9", CC_R_SAMPLE_TYPE, 1},
        {"length mismatch", CC_R_LENGTH_MISMATCH, 1},
        {"trigger out of range", CC_R_BAD_FIELD, 1},
        {"NaN samples", CC_R_NAN, 1},
        {"too long", CC_R_TOO_LONG, 1},
    };
    const int ncases = (int)(sizeof cases / sizeof cases[0]);
    uint64_t seq_of[16];
    for (int c = 0; c < ncases; c++) {
        fill_hdr(&h, inst, seq, 3);
        seq_of[c] = seq++;
        const void *samples = smp;
        size_t slen = sizeof smp;
        float fs[NS];
        switch (c) {
        case 6:
            h.n_samples = 0;
            slen = 0;
            break;
        case 7:
            h.sample_type = 9;
            break;
        case 8:
            slen = sizeof smp - 2;
            break;
        case 9:
            h.trigger_index = NS;
            break;
        case 10:
            h.sample_type = CC_S_FLOAT32;
            h.adc_scale = 1.0;
            for (int i = 0; i < NS; i++) fs[i] = i == 100 ? NAN : 0.001f * (float)i;
            samples = fs;
            slen = sizeof fs;
            break;
        case 11:
            h.n_samples = 2000000;
            slen = 4000000;
            break;
        }
        cc_rec_hdr_encode(&h, hb);
        size_t hl = CC_REC_HDR_LEN;
        if (c == 3) hl = 40;
        if (c == 4) hb[0] ^= 0xff;
        if (c == 5) hb[4] = 2;
        if (c == 0) {
            send_frames(v.push, topic, 8, NULL, 0, NULL, 0, 1);
        } else if (c == 1) {
            send_frames(v.push, topic, 8, hb, hl, NULL, 0, 2);
        } else if (c == 2) {
            ck_assert_int_ge(zmq_send(v.push, topic, 8, ZMQ_SNDMORE), 0);
            ck_assert_int_ge(zmq_send(v.push, hb, hl, ZMQ_SNDMORE), 0);
            ck_assert_int_ge(zmq_send(v.push, smp, sizeof smp, ZMQ_SNDMORE), 0);
            ck_assert_int_ge(zmq_send(v.push, "x", 1, 0), 0);
        } else if (c == 11) {
            void *big = calloc(1, slen);
            send_frames(v.push, topic, 8, hb, hl, big, slen, 3);
            free(big);
        } else {
            send_frames(v.push, topic, 8, hb, hl, samples, slen, 3);
        }
    }
    /* a good record afterwards is still decided normally */
    send_record(v.push, inst, seq++, 3, K_PULSE, &rng);
    int expect_dec = 1;
    for (int c = 0; c < ncases; c++) expect_dec += cases[c].decided;
    int got = 0, good = 0;
    cc_decision d;
    while (got < expect_dec && cct_recv_decision(v.dec, &d, 5000)) {
        got++;
        if (d.seq == seq - 1) {
            ck_assert_int_ne(d.verdict, CC_V_INVALID);
            good = 1;
            continue;
        }
        int c = 0;
        while (c < ncases && seq_of[c] != d.seq) c++;
        ck_assert_msg(c < ncases && cases[c].decided, "unexpected decision for seq %llu",
                      (unsigned long long)d.seq);
        ck_assert_int_eq(d.verdict, CC_V_INVALID);
        ck_assert_msg(d.reason == cases[c].expect, "%s: reason %s, expected %s", cases[c].what,
                      cc_reason_name((cc_reason)d.reason), cc_reason_name(cases[c].expect));
        ck_assert_msg(isnan(d.score), "invalid decision with a score");
    }
    ck_assert_int_eq(got, expect_dec);
    ck_assert(good);
    char json[4096];
    cct_monitor_settled(&v, seq - 1, json, sizeof json);
    cct_check_identity(json);
    ck_assert_uint_eq(cct_json_u64(json, "received"), (unsigned long long)(seq - 1));
    ck_assert_uint_eq(cct_json_u64(json, "undecidable"), 4);
    ck_assert_uint_eq(cct_json_u64(json, "frame_count"), 2);
    ck_assert_uint_eq(cct_json_u64(json, "truncated"), 1);
    ck_assert_uint_eq(cct_json_u64(json, "bad_magic"), 1);
    ck_assert_uint_eq(cct_json_u64(json, "bad_version"), 1);
    ck_assert_uint_eq(cct_json_u64(json, "nan"), 1);
    ck_assert_uint_eq(cct_json_u64(json, "invalid"), (unsigned long long)expect_dec - 1);
    ck_assert_int_eq(cct_daemon_stop(v.pid, SIGTERM, 20000), 0);
    finish(&v);
}
END_TEST

typedef struct pusher {
    void *ctx;
    const char *ep;
    int n;
    uint64_t inst, first;
    volatile int done;
} pusher;

static void *push_main(void *arg)
{
    pusher *p = arg;
    void *s = zmq_socket(p->ctx, ZMQ_PUSH);
    int linger = 10000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(s, p->ep);
    uint64_t rng = 99;
    for (int i = 0; i < p->n; i++) {
        send_record(s, p->inst, p->first + (uint64_t)i, (uint32_t)(i % 5), (enum kind)(i % 3),
                    &rng);
        if (i % 50 == 0) usleep(2000);
    }
    zmq_close(s);
    p->done = 1;
    return NULL;
}

/* SIGHUP while records flow: good reloads change the cutoff, a broken file is
 * refused and the old configuration keeps running; not one record is lost. */
START_TEST(test_reload_under_load)
{
    env v;
    start(&v, NULL);
    uint64_t rng = 5, seq = 1, inst = 77;
    warm_up(&v, inst, &seq, &rng);
    const int N = 4000;
    pusher p = {.ctx = v.ctx, .ep = v.ep_in, .n = N, .inst = inst, .first = seq};
    pthread_t thr;
    pthread_create(&thr, NULL, push_main, &p);
    unsigned char *seen = calloc(N, 1);
    int got = 0, reloads = 0, cutoff_seen = 0;
    char msg[4096];
    cc_decision d;
    while (got < N) {
        if (!cct_recv_decision(v.dec, &d, 10000)) break;
        int k = (int)(d.seq - p.first);
        ck_assert_msg(k >= 0 && k < N && !seen[k], "bad or duplicate decision seq %llu",
                      (unsigned long long)d.seq);
        seen[k] = 1;
        got++;
        if (fabsf(d.cutoff - 0.75f) < 1e-6f) cutoff_seen = 1;
        if (got == N / 5 || got == 2 * N / 5 || got == 3 * N / 5) {
            int broken = got == 2 * N / 5;
            if (broken) {
                const char *bad = "inputs: [\nthis is not yaml";
                cct_write_file(v.conf, bad, strlen(bad));
            } else {
                write_conf(&v, got == N / 5 ? "0.75" : "0.5", NULL);
            }
            kill(v.pid, SIGHUP);
            ck_assert_msg(cct_notify_wait(&v.notify, "RELOADING=1", 10000, msg, sizeof msg),
                          "no RELOADING=1");
            ck_assert_msg(strstr(msg, "MONOTONIC_USEC=") != NULL,
                          "RELOADING=1 without MONOTONIC_USEC");
            ck_assert_msg(cct_notify_wait(&v.notify, "READY=1", 10000, msg, sizeof msg),
                          "no READY=1 after reload");
            if (broken)
                ck_assert_msg(strstr(msg, "reload failed") && strstr(msg, "cryoclean.yaml:"),
                              "broken reload not reported with its position: %s", msg);
            else
                ck_assert_msg(strstr(msg, "reloaded") != NULL, "%s", msg);
            reloads++;
        }
    }
    pthread_join(thr, NULL);
    ck_assert_int_eq(got, N);
    ck_assert_int_eq(reloads, 3);
    ck_assert_msg(cutoff_seen, "the reloaded cutoff 0.75 never appeared in decisions");
    char json[4096];
    cct_monitor_settled(&v, p.first - 1 + (unsigned long long)N, json, sizeof json);
    cct_check_identity(json);
    ck_assert_uint_eq(cct_json_u64(json, "received"), p.first - 1 + (unsigned long long)N);
    ck_assert_uint_eq(cct_json_u64(json, "reloads"), 2);
    ck_assert_uint_eq(cct_json_u64(json, "reload_failures"), 1);
    ck_assert_uint_eq(cct_json_u64(json, "lost_upstream"), 0);
    ck_assert_int_eq(cct_daemon_stop(v.pid, SIGTERM, 20000), 0);
    finish(&v);
    free(seen);
}
END_TEST

/* SIGTERM with a full queue: STOPPING=1, then every record the daemon took
 * in is decided before it exits 0. */
START_TEST(test_sigterm_drains)
{
    env v;
    start(&v, NULL);
    uint64_t rng = 11, seq = 1, inst = 1234;
    warm_up(&v, inst, &seq, &rng);
    char json[4096];
    cct_monitor_latest(&v, json, sizeof json);
    const int N = 1500;
    for (int i = 0; i < N; i++) send_record(v.push, inst, seq++, 2, (enum kind)(i % 3), &rng);
    kill(v.pid, SIGTERM);
    char msg[1024];
    ck_assert_msg(cct_notify_wait(&v.notify, "STOPPING=1", 10000, msg, sizeof msg),
                  "no STOPPING=1");
    int got = 0;
    cc_decision d;
    while (cct_recv_decision(v.dec, &d, 3000)) got++;
    ck_assert_int_eq(cct_daemon_stop(v.pid, 0, 30000), 0);
    /* the final monitor message, sent after the drain, must balance */
    json[0] = '\0';
    zmq_pollitem_t p = {.socket = v.mon, .events = ZMQ_POLLIN};
    while (zmq_poll(&p, 1, 500) > 0) {
        char topic[32];
        zmq_recv(v.mon, topic, sizeof topic, 0);
        int l = zmq_recv(v.mon, json, sizeof json - 1, 0);
        json[l] = '\0';
    }
    ck_assert_msg(json[0], "no final monitor message");
    cct_check_identity(json);
    ck_assert_uint_eq(cct_json_u64(json, "in_flight"), 0);
    unsigned long long rec = cct_json_u64(json, "received");
    ck_assert_msg(rec > 1, "nothing was received");
    /* every received record after the warm-up was decided and published */
    ck_assert_uint_eq((unsigned long long)got, rec - (seq - 1 - (unsigned long long)N));
    finish(&v);
}
END_TEST

/* Sequence gaps are counted as upstream loss, exactly; a new instance id is a
 * publisher restart, not a loss; repeated numbers are "reordered". The
 * watchdog is fed (WATCHDOG=1) while the threads make progress. */
START_TEST(test_loss_accounting_and_watchdog)
{
    env v;
    setenv("WATCHDOG_USEC", "600000", 1);
    start(&v, NULL);
    unsetenv("WATCHDOG_USEC");
    char msg[1024];
    ck_assert_msg(cct_notify_wait(&v.notify, "WATCHDOG=1", 5000, msg, sizeof msg),
                  "no WATCHDOG=1 although WATCHDOG_USEC was set");
    uint64_t rng = 3, seq = 1, inst = 555;
    warm_up(&v, inst, &seq, &rng);
    uint64_t warm = seq - 1;
    int sent = 0;
    for (uint64_t s = seq; s < seq + 10; s++, sent++)
        send_record(v.push, inst, s, 4, K_NOISE, &rng);
    /* skip 5 */
    for (uint64_t s = seq + 15; s < seq + 20; s++, sent++)
        send_record(v.push, inst, s, 4, K_NOISE, &rng);
    /* a repeated number */
    send_record(v.push, inst, seq + 19, 4, K_NOISE, &rng);
    sent++;
    /* the publisher restarts: new instance id, sequence starts anew */
    for (uint64_t s = 1; s <= 5; s++, sent++) send_record(v.push, inst + 1, s, 4, K_NOISE, &rng);
    int got = 0;
    cc_decision d;
    while (got < sent && cct_recv_decision(v.dec, &d, 5000)) got++;
    ck_assert_int_eq(got, sent);
    char json[4096];
    cct_monitor_settled(&v, warm + (unsigned long long)sent, json, sizeof json);
    cct_check_identity(json);
    ck_assert_uint_eq(cct_json_u64(json, "lost_upstream"), 5);
    ck_assert_uint_eq(cct_json_u64(json, "reordered"), 1);
    ck_assert_uint_eq(cct_json_u64(json, "publishers"), 2);
    ck_assert_int_eq(cct_daemon_stop(v.pid, SIGTERM, 20000), 0);
    finish(&v);
}
END_TEST

/* A broken configuration at start: exit 1 with a positioned message. */
START_TEST(test_bad_config_at_start)
{
    char dir[256], conf[512], log[512];
    cct_tmpdir(dir, sizeof dir);
    snprintf(conf, sizeof conf, "%s/bad.yaml", dir);
    snprintf(log, sizeof log, "%s/log", dir);
    const char *text =
        "inputs:\n  - {endpoint: tcp://127.0.0.1:1, socket: pul}\noutputs: {}\n"
        "classifiers: {cuts: {plugin: cuts}}\nchannels: {default: {classifier: cuts}}\n";
    cct_write_file(conf, text, strlen(text));
    cct_notify n;
    cct_notify_open(&n, dir);
    const char *args[] = {"--config", conf, NULL};
    pid_t pid = cct_daemon_start(n.path, log, args);
    ck_assert_int_eq(cct_daemon_stop(pid, 0, 20000), 1);
    FILE *f = fopen(log, "r");
    char buf[2048] = "";
    size_t r = fread(buf, 1, sizeof buf - 1, f);
    buf[r] = '\0';
    fclose(f);
    ck_assert_msg(strstr(buf, "bad.yaml:2:") && strstr(buf, "'pul'"), "log: %s", buf);
    cct_notify_close(&n);
}
END_TEST

/* The embedded default configuration classifies with the shipped CNN: its
 * relative model path resolves against --conf-dir (the installed confdir by
 * default; build/conf mirrors it). A missing model is an error naming it. */
static int run_check(const char *conf_dir, char *out, size_t len)
{
    char exe[1024], plugins[1024], cmd[4096];
    CCT_BUILD("daemon/cryocleand", exe);
    CCT_BUILD("plugins", plugins);
    snprintf(cmd, sizeof cmd, "%s --plugin-dir %s --conf-dir %s --check 2>&1", exe, plugins,
             conf_dir);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(test_embedded_default_uses_cnn)
{
    char conf[1024], out[4096];
    CCT_BUILD("conf", conf);
    int rc = run_check(conf, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "<embedded> is valid: 1 inputs, 2 classifiers"), "%s", out);
    rc = run_check("/nonexistent-confdir", out, sizeof out);
    ck_assert_msg(rc == 1 && strstr(out, "/nonexistent-confdir/models/cnn-sev-default.yaml"),
                  "exit %d: %s", rc, out);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("daemon");
    TCase *t = tcase_create("daemon");
    tcase_set_timeout(t, 240);
    tcase_add_test(t, test_flow_and_clean_stream);
    tcase_add_test(t, test_malformed_input);
    tcase_add_test(t, test_reload_under_load);
    tcase_add_test(t, test_sigterm_drains);
    tcase_add_test(t, test_bad_config_at_start);
    tcase_add_test(t, test_embedded_default_uses_cnn);
    tcase_add_test(t, test_loss_accounting_and_watchdog);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return cct_run(suite());
}
