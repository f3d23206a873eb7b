/* cmd_replay.c - `cryoclean replay`: publish v1 records over ZeroMQ.
 *
 * Sources: a Cait-layout HDF5 file (--file, read in chunks), a live module
 * simulation (--simulate, the default) or a scenario (--scenario: per
 * channel, per class rates over time). Each record is one three-frame
 * message [topic "rec/%03u/"][72-byte header][int16 samples, adc_scale
 * 20/65536] (or float32 volts with --float32). The publisher draws a random
 * 64-bit instance id at start; sequence numbers start at 0 and grow by one
 * per record.
 *
 * Pacing: --rate HZ (records per second, absolute schedule, so no drift),
 * --fast (no pacing), or for scenarios the scenario clock (x --speed).
 *
 * PUB and slow joiners: a PUB socket drops what it sends before a
 * subscriber's subscription has arrived. replay uses an XPUB socket: with
 * --wait-subscribers N it reads subscription messages until N subscribers are
 * there (XPUB_VERBOSE) before the first record; without it, it waits
 * --settle MS (default 500) after bind/connect. XPUB_NODROP makes a full
 * queue block the publisher instead of dropping (disable with --drop), so
 * every record sent is delivered to every subscriber that was there.
 * PUSH blocks until a peer is connected and never drops; with --connect
 * ZMQ_IMMEDIATE keeps records from being queued for a peer that is not there.
 *
 * At the end (count, duration, end of file/scenario, SIGINT/SIGTERM) it
 * reports what it sent by class and channel, on stderr and with
 * --report-json FILE as JSON, and closes with a linger so queued records are
 * delivered.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "cc_h5.h"
#include "cc_proto.h"
#include "cc_sim.h"
#include "cmds.h"

#define MAX_CH 4096

static volatile sig_atomic_t g_stop; /* set by SIGINT/SIGTERM (process state in a tool) */

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cryoclean replay [SOURCE] [SOCKET] [PACING] [options]\n"
            "Publishes wire-protocol v1 records over ZeroMQ and reports what it sent.\n\n"
            "source (one of):\n"
            "  --simulate            live simulation of a module (default; --config, --channels)\n"
            "  --file FILE.h5        records of a Cait-layout file (--group, --loop)\n"
            "  --scenario FILE.yaml  per-channel, per-class rates over time (docs/SIMULATOR.md)\n"
            "socket:\n"
            "  --endpoint EP         default tcp://127.0.0.1:5555\n"
            "  --bind | --connect    default --bind\n"
            "  --pub | --push        default --pub (an XPUB socket)\n"
            "  --wait-subscribers N  PUB: wait for N subscriptions before sending\n"
            "  --wait-timeout S      give up waiting after S seconds (default 30)\n"
            "  --settle MS           PUB without --wait-subscribers: pause after setup (500)\n"
            "  --drop                PUB: let a full queue drop records (default: block)\n"
            "  --hwm N               send high-water mark (default 1000)\n"
            "  --linger MS           wait at most MS for queued records at exit (default 30000)\n"
            "pacing and end:\n"
            "  --rate HZ             records per second (default 100; scenarios: their clock)\n"
            "  --fast                as fast as possible\n"
            "  --speed X             scenario clock speed-up (default 1)\n"
            "  -n, --count N         stop after N records\n"
            "  --duration S          stop after S seconds (scenario time for scenarios)\n"
            "records:\n"
            "  --config FILE         simulator YAML; --channels N (1-3), --samples N\n"
            "  --modules M           simulate M modules taking turns (module ids +m,\n"
            "                        channel ids +m*channels; default 1)\n"
            "  --seed S              RNG seed (default: random, printed)\n"
            "  --run N               run number in the header (default 1)\n"
            "  --module M            module id for file records (default 0)\n"
            "  --group G             file group (default events)\n"
            "  --loop                restart the file at its end\n"
            "  --float32             send float32 volts instead of int16 ADC codes\n"
            "report:\n"
            "  --report-json FILE    write the report as JSON\n"
            "  -q, --quiet           no report on stderr\n"
            "  -h, --help\n");
}

typedef struct opts {
    const char *endpoint, *file, *scenario, *config, *report, *group;
    int bind, push, fast, quiet, loop, f32, drop, simulate;
    long long count, samples, channels, modules, wait_subs, hwm, linger, settle, module, run;
    double rate, duration, speed, wait_timeout;
    unsigned long long seed;
    int have_seed;
} opts;

/* ---- report ---- */

typedef struct chstat {
    uint32_t id;
    uint64_t sent, accept, reject, by_class[CC_SIM_NCLASS_ID + 1]; /* [NCLASS] = unlabelled */
} chstat;

typedef struct report {
    chstat *ch;
    size_t nch;
    uint64_t sent, by_class[CC_SIM_NCLASS_ID + 1], accept, reject, waits;
    uint64_t instance, first_seq, last_seq;
    double t0, t1;
    uint64_t *win_count; /* per scenario window */
} report;

static chstat *chstat_for(report *r, uint32_t id)
{
    for (size_t i = 0; i < r->nch; i++)
        if (r->ch[i].id == id) return &r->ch[i];
    if (r->nch == MAX_CH) return NULL;
    chstat *c = realloc(r->ch, sizeof *c * (r->nch + 1));
    if (!c) return NULL;
    r->ch = c;
    c = &r->ch[r->nch++];
    memset(c, 0, sizeof *c);
    c->id = id;
    return c;
}

static void count(report *r, uint32_t ch, int cls)
{
    int k = cls > 0 && cls < CC_SIM_NCLASS_ID && cc_sim_class_name(cls) ? cls : CC_SIM_NCLASS_ID;
    int acc = k < CC_SIM_NCLASS_ID ? cc_sim_class_accept(k) : -1;
    r->sent++;
    r->by_class[k]++;
    r->accept += acc == 1, r->reject += acc == 0;
    chstat *c = chstat_for(r, ch);
    if (c) c->sent++, c->by_class[k]++, c->accept += acc == 1, c->reject += acc == 0;
}

static const char *cname(int k)
{
    return k < CC_SIM_NCLASS_ID ? cc_sim_class_name(k) : "unlabelled";
}

static int cmp_ch(const void *a, const void *b)
{
    const chstat *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void write_classes(FILE *f, const uint64_t *bc)
{
    int first = 1;
    fputc('{', f);
    for (int k = 0; k <= CC_SIM_NCLASS_ID; k++)
        if (bc[k]) {
            fprintf(f, "%s\"%s\": %llu", first ? "" : ", ", cname(k), (unsigned long long)bc[k]);
            first = 0;
        }
    fputc('}', f);
}

static int write_report(const report *r, const opts *o, const cc_scenario *scn, FILE *f)
{
    fprintf(f,
            "{\n  \"instance_id\": \"0x%016llx\",\n  \"first_seq\": %llu,\n  \"last_seq\": %llu,\n"
            "  \"sent\": %llu,\n  \"truth_accept\": %llu,\n  \"truth_reject\": %llu,\n"
            "  \"duration_s\": %.3f,\n  \"endpoint\": \"%s\",\n  \"socket\": \"%s\",\n"
            "  \"blocked_waits\": %llu,\n  \"by_class\": ",
            (unsigned long long)r->instance, (unsigned long long)r->first_seq,
            (unsigned long long)r->last_seq, (unsigned long long)r->sent,
            (unsigned long long)r->accept, (unsigned long long)r->reject, r->t1 - r->t0,
            o->endpoint, o->push ? "push" : "pub", (unsigned long long)r->waits);
    write_classes(f, r->by_class);
    fprintf(f, ",\n  \"by_channel\": {");
    for (size_t i = 0; i < r->nch; i++) {
        const chstat *c = &r->ch[i];
        fprintf(
            f,
            "%s\n    \"%u\": {\"sent\": %llu, \"accept\": %llu, \"reject\": %llu, \"by_class\": ",
            i ? "," : "", c->id, (unsigned long long)c->sent, (unsigned long long)c->accept,
            (unsigned long long)c->reject);
        write_classes(f, c->by_class);
        fputc('}', f);
    }
    fprintf(f, "\n  }");
    if (scn) {
        fprintf(f, ",\n  \"windows\": [");
        for (size_t i = 0; i < cc_scenario_n_windows(scn); i++) {
            const cc_scenario_window *w = cc_scenario_window_get(scn, i);
            fprintf(f,
                    "%s\n    {\"channel\": %u, \"class\": \"%s\", \"from_s\": %g, \"to_s\": %g, "
                    "\"sent_in_window\": %llu}",
                    i ? "," : "", w->channel, cc_sim_class_name(w->class_id), w->from_s,
                    isinf(w->to_s) ? -1.0 : w->to_s, (unsigned long long)r->win_count[i]);
        }
        fprintf(f, "\n  ]");
    }
    fprintf(f, "\n}\n");
    return ferror(f) ? -1 : 0;
}

static void print_report(const report *r, FILE *f)
{
    double d = r->t1 - r->t0;
    fprintf(f, "cryoclean replay: sent %llu records in %.2f s (%.0f/s), instance 0x%016llx",
            (unsigned long long)r->sent, d, d > 0 ? (double)r->sent / d : 0.0,
            (unsigned long long)r->instance);
    if (r->sent)
        fprintf(f, ", seq %llu..%llu", (unsigned long long)r->first_seq,
                (unsigned long long)r->last_seq);
    fputc('\n', f);
    fprintf(f, "  truth: %llu clean, %llu artefacts\n  by class:", (unsigned long long)r->accept,
            (unsigned long long)r->reject);
    for (int k = 0; k <= CC_SIM_NCLASS_ID; k++)
        if (r->by_class[k]) fprintf(f, " %s %llu", cname(k), (unsigned long long)r->by_class[k]);
    fprintf(f, "\n  by channel:");
    for (size_t i = 0; i < r->nch && i < 64; i++)
        fprintf(f, " %u:%llu", r->ch[i].id, (unsigned long long)r->ch[i].sent);
    fprintf(f, "%s\n", r->nch > 64 ? " ..." : "");
}

/* ---- time ---- */

static double mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t wall_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void sleep_until(double t)
{
    for (;;) {
        double d = t - mono();
        if (d <= 0 || g_stop) return;
        struct timespec ts = {(time_t)d, (long)((d - floor(d)) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

/* ---- sending ---- */

typedef struct pub {
    void *ctx, *sock;
    uint64_t instance, seq;
    uint8_t *samples;
    size_t cap;
    report *rep;
    int f32;
    const char *what; /* "no PULL peer ..." / "subscribers ..." for the stall warning */
    int quiet, warned;
} pub;

/* sends one frame; retries while a NODROP XPUB or PUSH is full. A stop
 * request abandons only a message's first frame (nothing half-sent). */
static int send_frame(pub *p, const void *buf, size_t len, int more, int first)
{
    double blocked_since = 0;
    for (;;) {
        int rc = zmq_send(p->sock, buf, len, (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT);
        if (rc >= 0) return 0;
        if (errno != EAGAIN && errno != EINTR) {
            fprintf(stderr, "cryoclean replay: zmq_send: %s\n", zmq_strerror(errno));
            return -1;
        }
        if (g_stop && first) return -1;
        p->rep->waits++;
        /* back-pressure is not loss, but a silent stall looks like a hang */
        const double now = mono();
        if (!blocked_since) blocked_since = now;
        if (!p->warned && !p->quiet && now - blocked_since > 3.0) {
            fprintf(stderr, "cryoclean replay: blocked for 3 s: %s; waiting (Ctrl-C stops)\n",
                    p->what);
            p->warned = 1;
        }
        zmq_pollitem_t it = {p->sock, 0, ZMQ_POLLOUT, 0};
        if (zmq_poll(&it, 1, 1) < 0 && errno != EINTR) return -1;
    }
}

static int publish(pub *p, const cc_rec_hdr *h0, const float *v, int cls)
{
    cc_rec_hdr h = *h0;
    h.instance_id = p->instance;
    h.seq = p->seq;
    h.sample_type = p->f32 ? CC_S_FLOAT32 : CC_S_INT16;
    h.adc_scale = p->f32 ? 1.0 : CC_SIM_ADC_VOLTS_PER_CODE;
    size_t len = (size_t)h.n_samples * (p->f32 ? 4 : 2);
    if (len > p->cap) {
        uint8_t *b = realloc(p->samples, len);
        if (!b) return -1;
        p->samples = b, p->cap = len;
    }
    if (p->f32)
        memcpy(p->samples, v, len); /* little-endian hosts only, as the protocol */
    else
        cc_sim_to_adc(v, h.n_samples, (int16_t *)p->samples);
    char topic[CC_TOPIC_MAX];
    int tl = cc_topic_record(topic, sizeof topic, h.channel);
    uint8_t hdr[CC_REC_HDR_LEN];
    cc_rec_hdr_encode(&h, hdr);
    /* the first frame may wait for room; once it is queued, the rest follow */
    if (send_frame(p, topic, (size_t)tl, 1, 1)) return -1;
    if (send_frame(p, hdr, sizeof hdr, 1, 0) || send_frame(p, p->samples, len, 0, 0)) return -1;
    if (p->rep->sent == 0) p->rep->first_seq = p->seq;
    p->rep->last_seq = p->seq;
    p->seq++;
    count(p->rep, h.channel, cls);
    return 0;
}

static int wait_subscribers(pub *p, long long n, double timeout)
{
    long long subs = 0;
    double end = mono() + timeout;
    while (subs < n) {
        if (g_stop) return -1;
        int ms = (int)((end - mono()) * 1000);
        if (ms <= 0) {
            fprintf(stderr, "cryoclean replay: %lld of %lld subscribers after %.0f s; giving up\n",
                    subs, n, timeout);
            return -1;
        }
        zmq_pollitem_t it = {p->sock, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&it, 1, ms > 200 ? 200 : ms);
        if (rc < 0 && errno != EINTR) return -1;
        if (rc <= 0) continue;
        uint8_t buf[256];
        int len = zmq_recv(p->sock, buf, sizeof buf, ZMQ_DONTWAIT);
        if (len < 1) continue;
        subs += buf[0] == 1 ? 1 : buf[0] == 0 ? -1 : 0;
    }
    return 0;
}

static int setsockopt_i(void *s, int opt, int v, const char *name)
{
    if (zmq_setsockopt(s, opt, &v, sizeof v) == 0) return 0;
    fprintf(stderr, "cryoclean replay: zmq_setsockopt %s: %s\n", name, zmq_strerror(errno));
    return -1;
}

static int parse_opts(int argc, char **argv, opts *o)
{
    /* clang-format off */
    enum {
        O_ENDPOINT = 256, O_BIND, O_CONNECT, O_PUB, O_PUSH, O_RATE, O_FAST, O_DURATION, O_FILE,
        O_SCEN, O_SIM, O_CONFIG, O_CHANNELS, O_SAMPLES, O_SEED, O_RUN, O_MODULE, O_GROUP,
        O_LOOP, O_MODULES, O_F32, O_WAIT, O_WAITTO, O_SETTLE, O_DROP, O_HWM, O_LINGER, O_REPORT,
        O_SPEED
    };
    static const struct option lo[] = {
        {"endpoint", 1, 0, O_ENDPOINT}, {"bind", 0, 0, O_BIND}, {"connect", 0, 0, O_CONNECT},
        {"pub", 0, 0, O_PUB}, {"push", 0, 0, O_PUSH}, {"rate", 1, 0, O_RATE},
        {"fast", 0, 0, O_FAST}, {"count", 1, 0, 'n'}, {"duration", 1, 0, O_DURATION},
        {"file", 1, 0, O_FILE}, {"scenario", 1, 0, O_SCEN}, {"simulate", 0, 0, O_SIM},
        {"config", 1, 0, O_CONFIG}, {"channels", 1, 0, O_CHANNELS},
        {"modules", 1, 0, O_MODULES}, {"samples", 1, 0, O_SAMPLES}, {"seed", 1, 0, O_SEED},
        {"run", 1, 0, O_RUN}, {"module", 1, 0, O_MODULE}, {"group", 1, 0, O_GROUP},
        {"loop", 0, 0, O_LOOP}, {"float32", 0, 0, O_F32},
        {"wait-subscribers", 1, 0, O_WAIT}, {"wait-timeout", 1, 0, O_WAITTO},
        {"settle", 1, 0, O_SETTLE}, {"drop", 0, 0, O_DROP}, {"hwm", 1, 0, O_HWM},
        {"linger", 1, 0, O_LINGER}, {"report-json", 1, 0, O_REPORT}, {"speed", 1, 0, O_SPEED},
        {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    /* clang-format on */
    *o = (opts){.endpoint = "tcp://127.0.0.1:5555",
                .group = "events",
                .bind = 1,
                .count = -1,
                .modules = 1,
                .hwm = 1000,
                .linger = 30000,
                .settle = 500,
                .rate = 100,
                .duration = INFINITY,
                .speed = 1,
                .wait_timeout = 30,
                .run = 1};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:qh", lo, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case O_ENDPOINT:
            o->endpoint = optarg;
            break;
        case O_BIND:
            o->bind = 1;
            break;
        case O_CONNECT:
            o->bind = 0;
            break;
        case O_PUB:
            o->push = 0;
            break;
        case O_PUSH:
            o->push = 1;
            break;
        case O_RATE:
            o->rate = strtod(optarg, &end);
            break;
        case O_FAST:
            o->fast = 1;
            break;
        case 'n':
            o->count = strtoll(optarg, &end, 10);
            break;
        case O_DURATION:
            o->duration = strtod(optarg, &end);
            break;
        case O_FILE:
            o->file = optarg;
            break;
        case O_SCEN:
            o->scenario = optarg;
            break;
        case O_SIM:
            o->simulate = 1;
            break;
        case O_CONFIG:
            o->config = optarg;
            break;
        case O_CHANNELS:
            o->channels = strtoll(optarg, &end, 10);
            break;
        case O_MODULES:
            o->modules = strtoll(optarg, &end, 10);
            break;
        case O_SAMPLES:
            o->samples = strtoll(optarg, &end, 10);
            break;
        case O_SEED:
            o->seed = strtoull(optarg, &end, 0), o->have_seed = 1;
            break;
        case O_RUN:
            o->run = strtoll(optarg, &end, 10);
            break;
        case O_MODULE:
            o->module = strtoll(optarg, &end, 10);
            break;
        case O_GROUP:
            o->group = optarg;
            break;
        case O_LOOP:
            o->loop = 1;
            break;
        case O_F32:
            o->f32 = 1;
            break;
        case O_WAIT:
            o->wait_subs = strtoll(optarg, &end, 10);
            break;
        case O_WAITTO:
            o->wait_timeout = strtod(optarg, &end);
            break;
        case O_SETTLE:
            o->settle = strtoll(optarg, &end, 10);
            break;
        case O_DROP:
            o->drop = 1;
            break;
        case O_HWM:
            o->hwm = strtoll(optarg, &end, 10);
            break;
        case O_LINGER:
            o->linger = strtoll(optarg, &end, 10);
            break;
        case O_REPORT:
            o->report = optarg;
            break;
        case O_SPEED:
            o->speed = strtod(optarg, &end);
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
        if (end && (*end || end == optarg)) {
            fprintf(stderr, "cryoclean replay: expected a number, found '%s'\n", optarg);
            return -1;
        }
    }
    const char *bad = optind < argc ? "unexpected argument"
                      : (o->file != NULL) + (o->scenario != NULL) + o->simulate > 1
                          ? "choose one of --file, --scenario, --simulate"
                      : !(o->rate > 0)                      ? "--rate must be > 0"
                      : !(o->speed > 0)                     ? "--speed must be > 0"
                      : !(o->duration > 0)                  ? "--duration must be > 0"
                      : o->hwm < 0 || o->hwm > 10000000     ? "--hwm must be in [0, 1e7]"
                      : o->wait_subs < 0                    ? "--wait-subscribers must be >= 0"
                      : o->wait_subs && o->push             ? "--wait-subscribers is for --pub"
                      : o->module < 0 || o->module > 65535  ? "--module must be in [0, 65535]"
                      : o->run < 0 || o->run > 0xffffffffll ? "--run must be a 32-bit number"
                                                            : NULL;
    if (bad) {
        fprintf(stderr, "cryoclean replay: %s\n", bad);
        usage(stderr);
        return -1;
    }
    return 0;
}

/* ---- sources ---- */

typedef struct source {
    cc_sim **sims; /* live simulation: one per module */
    uint32_t nsim, cur;
    cc_scenario *scn;
    cc_h5_reader *h5;
    cc_sim_record rec;
    /* file state */
    uint64_t ev;
    uint32_t ch, chunk_k;
    uint64_t chunk0;
    cc_h5_batch b;
    uint32_t module;
} source;

/* next record: header fields (without identity), samples, class; 1, 0 at end, -1 */
static int source_next(source *s, const opts *o, cc_rec_hdr *h, const float **v, int *cls,
                       double *t_s, cc_err *e)
{
    memset(h, 0, sizeof *h);
    h->run = (uint32_t)o->run;
    if (s->h5) {
        const cc_h5_info *in = cc_h5_reader_info(s->h5);
        if (s->ev >= in->n_events) {
            if (!o->loop || in->n_events == 0) return 0;
            s->ev = 0;
        }
        if (s->ev < s->chunk0 || s->ev >= s->chunk0 + s->chunk_k) {
            uint64_t left = in->n_events - s->ev;
            s->b.k = left < 16 ? (uint32_t)left : 16;
            if (cc_h5_reader_read(s->h5, s->ev, &s->b, e)) return -1;
            s->chunk0 = s->ev, s->chunk_k = s->b.k;
        }
        uint32_t i = (uint32_t)(s->ev - s->chunk0), k = s->chunk_k;
        *v = s->b.event + ((size_t)s->ch * k + i) * in->n_samples;
        *cls = s->b.labels[(size_t)s->ch * k + i];
        h->channel = s->ch < 64 ? in->channel_ids[s->ch] : s->ch;
        h->module = (uint16_t)s->module;
        h->sample_rate_hz = in->fs_hz > 0 ? (float)in->fs_hz : 25000.0f;
        h->trigger_index = in->trigger_index;
        h->n_samples = in->n_samples;
        h->timestamp_ns = s->b.time_s[i] > 0 ? (uint64_t)s->b.time_s[i] * 1000000000ull +
                                                   (uint64_t)s->b.time_mus[i] * 1000ull
                                             : wall_ns();
        *t_s = NAN;
        if (++s->ch == in->n_channels) s->ch = 0, s->ev++;
        return 1;
    }
    int rc = s->scn ? cc_scenario_next(s->scn, &s->rec, e)
                    : (cc_sim_next(s->sims[s->cur], &s->rec, e) ? -1 : 1);
    if (rc <= 0) return rc;
    if (!s->scn && s->rec.ch_index + 1 == cc_sim_get_config(s->sims[s->cur])->n_channels)
        s->cur = (s->cur + 1) % s->nsim; /* modules take turns, event by event */
    const cc_sim_record *r = &s->rec;
    *v = r->samples;
    *cls = r->class_id;
    *t_s = r->time_s;
    h->channel = r->channel;
    h->module = r->module;
    h->flags = r->testpulse ? CC_REC_F_TESTPULSE : 0;
    h->sample_rate_hz = (float)r->fs_hz;
    h->trigger_index = r->trigger_index;
    h->n_samples = r->n_samples;
    return 1;
}

static int source_open(source *s, const opts *o, cc_err *e)
{
    memset(s, 0, sizeof *s);
    s->module = (uint32_t)o->module;
    if (o->file) {
        if (!(s->h5 = cc_h5_reader_open(o->file, o->group, e))) return -1;
        const cc_h5_info *in = cc_h5_reader_info(s->h5);
        size_t npc = (size_t)in->n_channels * 16;
        s->b.event = malloc(sizeof(float) * npc * in->n_samples);
        s->b.labels = malloc(sizeof(int32_t) * npc);
        s->b.time_s = malloc(sizeof(int64_t) * 16);
        s->b.time_mus = malloc(sizeof(int32_t) * 16);
        if (!s->b.event || !s->b.labels || !s->b.time_s || !s->b.time_mus)
            return cc_err_set(e, "out of memory for %u x 16 x %u samples", in->n_channels,
                              in->n_samples);
        return 0;
    }
    if (o->scenario) {
        if (!(s->scn = cc_scenario_load(o->scenario, o->seed, e))) return -1;
        return cc_sim_record_init(&s->rec, cc_scenario_n_samples(s->scn), e);
    }
    cc_sim_config cfg;
    if (o->config ? cc_sim_config_load(o->config, &cfg, e) : (cc_sim_config_default(&cfg), 0))
        return -1;
    if (o->samples) cfg.n_samples = (uint32_t)o->samples;
    if (o->channels) {
        if (o->channels < 1 || o->channels > CC_SIM_MAX_CH)
            return cc_err_set(e, "--channels: expected 1..%d, found %lld", CC_SIM_MAX_CH,
                              o->channels);
        cfg.n_channels = (uint32_t)o->channels;
    }
    if (!(s->sims = calloc((size_t)o->modules, sizeof *s->sims)))
        return cc_err_set(e, "out of memory");
    uint32_t base_mod = cfg.module, ids[CC_SIM_MAX_CH];
    for (uint32_t c = 0; c < cfg.n_channels; c++) ids[c] = cfg.ch[c].id;
    for (s->nsim = 0; s->nsim < (uint32_t)o->modules; s->nsim++) {
        /* module m: module id base+m, channel ids shifted by m * channels */
        uint32_t m = s->nsim;
        cfg.module = (uint16_t)(base_mod + m);
        for (uint32_t c = 0; c < cfg.n_channels; c++) cfg.ch[c].id = ids[c] + m * cfg.n_channels;
        if (!(s->sims[m] = cc_sim_new(&cfg, o->seed + m, e))) return -1;
    }
    return cc_sim_record_init(&s->rec, cfg.n_samples, e);
}

static void source_close(source *s)
{
    for (uint32_t m = 0; m < s->nsim; m++) cc_sim_free(&s->sims[m]);
    free(s->sims);
    cc_scenario_free(&s->scn);
    cc_h5_reader_close(&s->h5);
    cc_sim_record_release(&s->rec);
    free(s->b.event), free(s->b.labels), free(s->b.time_s), free(s->b.time_mus);
}

int cmd_replay(int argc, char **argv)
{
    opts o;
    if (parse_opts(argc, argv, &o)) return 2;
    uint64_t rnd[2] = {0, 0};
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        rnd[0] = wall_ns(), rnd[1] = (uint64_t)getpid();
    if (!o.have_seed) o.seed = rnd[1];
    cc_err e = {{0}};
    source src;
    report rep = {0};
    char what[1200];
    snprintf(what, sizeof what,
             o.push ? "no PULL peer is reading from %s" : "a subscriber of %s is not keeping up",
             o.endpoint);
    pub p = {.instance = rnd[0], .rep = &rep, .f32 = o.f32, .what = what, .quiet = o.quiet};
    rep.instance = p.instance;
    int rc = 1;
    if (source_open(&src, &o, &e)) {
        fprintf(stderr, "cryoclean replay: %s\n", e.msg);
        source_close(&src);
        return 1;
    }
    if (src.scn &&
        !(rep.win_count = calloc(cc_scenario_n_windows(src.scn) + 1, sizeof(uint64_t)))) {
        source_close(&src);
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    p.ctx = zmq_ctx_new();
    p.sock = p.ctx ? zmq_socket(p.ctx, o.push ? ZMQ_PUSH : ZMQ_XPUB) : NULL;
    if (!p.sock) {
        fprintf(stderr, "cryoclean replay: zmq: %s\n", zmq_strerror(errno));
        goto out;
    }
    if (setsockopt_i(p.sock, ZMQ_SNDHWM, (int)o.hwm, "SNDHWM") ||
        setsockopt_i(p.sock, ZMQ_LINGER, (int)o.linger, "LINGER") ||
        /* connect: queue only to established connections, so a record is never
         * parked for a peer that is not there (PUSH then waits instead) */
        (!o.bind && setsockopt_i(p.sock, ZMQ_IMMEDIATE, 1, "IMMEDIATE")) ||
        (!o.push && setsockopt_i(p.sock, ZMQ_XPUB_VERBOSE, 1, "XPUB_VERBOSE")) ||
        (!o.push && !o.drop && setsockopt_i(p.sock, ZMQ_XPUB_NODROP, 1, "XPUB_NODROP")))
        goto out;
    if ((o.bind ? zmq_bind(p.sock, o.endpoint) : zmq_connect(p.sock, o.endpoint)) != 0) {
        fprintf(stderr, "cryoclean replay: cannot %s %s: %s\n", o.bind ? "bind" : "connect",
                o.endpoint, zmq_strerror(errno));
        goto out;
    }
    if (!o.quiet)
        fprintf(stderr, "cryoclean replay: %s %s %s, instance 0x%016llx, seed %llu\n",
                o.push ? "PUSH" : "PUB", o.bind ? "bound to" : "connected to", o.endpoint,
                (unsigned long long)p.instance, (unsigned long long)o.seed);
    if (!o.push) {
        if (o.wait_subs) {
            if (wait_subscribers(&p, o.wait_subs, o.wait_timeout)) goto out;
        } else if (o.settle > 0) {
            sleep_until(mono() + (double)o.settle / 1000.0);
        }
    }
    rep.t0 = mono();
    uint64_t start_ns = wall_ns();
    double period = 1.0 / o.rate;
    for (uint64_t i = 0; !g_stop && (o.count < 0 || (long long)i < o.count); i++) {
        cc_rec_hdr h;
        const float *v;
        int cls;
        double ts;
        int got = source_next(&src, &o, &h, &v, &cls, &ts, &e);
        if (got < 0) {
            fprintf(stderr, "cryoclean replay: %s\n", e.msg);
            goto out;
        }
        if (!got) break;
        if (src.scn) {
            if (ts > o.duration) break;
            h.timestamp_ns = start_ns + (uint64_t)(ts * 1e9);
            if (!o.fast) sleep_until(rep.t0 + ts / o.speed);
            for (size_t w = 0; w < cc_scenario_n_windows(src.scn); w++) {
                const cc_scenario_window *win = cc_scenario_window_get(src.scn, w);
                rep.win_count[w] += win->channel == h.channel && win->class_id == cls &&
                                    ts >= win->from_s && ts < win->to_s;
            }
        } else {
            if (mono() - rep.t0 > o.duration) break;
            if (!o.fast) sleep_until(rep.t0 + (double)i * period);
            if (!src.h5) h.timestamp_ns = wall_ns();
        }
        if (g_stop) break;
        if (publish(&p, &h, v, cls)) {
            if (g_stop) break;
            goto out;
        }
    }
    rc = 0;
out:
    rep.t1 = mono();
    if (p.sock) zmq_close(p.sock); /* lingers until queued records are delivered */
    if (p.ctx) zmq_ctx_term(p.ctx);
    qsort(rep.ch, rep.nch, sizeof *rep.ch, cmp_ch);
    if (!o.quiet) print_report(&rep, stderr);
    if (o.report) {
        FILE *f = fopen(o.report, "w");
        if (!f || write_report(&rep, &o, src.scn, f) || fclose(f)) {
            fprintf(stderr, "cryoclean replay: cannot write %s\n", o.report);
            rc = 1;
        }
    }
    source_close(&src);
    free(rep.ch);
    free(rep.win_count);
    free(p.samples);
    return rc;
}
