/* bench_daemon.c - records/s through the real cryocleand beside the bare
 * classifier measured in the same run.
 *
 *   bench_daemon [--plugin cuts|nn] [--model CARD] [--records N] [--workers W]
 *                [--samples S]
 *
 * Reference: the same plugin called in this process on the same records,
 * exactly as a worker does (int16 -> volts, preprocessing, batches of 64),
 * on one thread. Then the daemon (build/daemon/cryocleand, PULL input,
 * W workers) is fed the same records over loopback as fast as it takes them
 * and the time from the first record sent to the last decision received
 * gives its throughput. The ratio daemon / (reference x W) says what the
 * pipeline (ZeroMQ, queues, threads, publishing) costs; on a machine with
 * fewer cores than W + 2 threads it is also bounded by the cores.
 * Wall-clock times: run it on a quiet machine.
 */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "cc_preproc.h"
#include "cc_proto.h"
#include "cc_registry.h"
#include "cc_sim.h"

#define NDISTINCT 256
#define BATCH     64

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_daemon: %s: %s\n", what, msg);
    exit(1);
}

typedef struct recs {
    cc_rec_hdr hdr[NDISTINCT];
    int16_t *adc[NDISTINCT];
    uint32_t n;
} recs;

static void make_records(recs *r, uint32_t samples)
{
    cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cfg.n_samples = samples;
    cc_err e = {""};
    cc_sim *s = cc_sim_new(&cfg, 7, &e);
    cc_sim_record sr;
    if (!s || cc_sim_record_init(&sr, samples, &e)) die("simulator", e.msg);
    r->n = samples;
    for (int i = 0; i < NDISTINCT; i++) {
        if (cc_sim_next(s, &sr, &e)) die("simulator", e.msg);
        r->adc[i] = malloc(samples * sizeof(int16_t));
        cc_sim_to_adc(sr.samples, samples, r->adc[i]);
        r->hdr[i] = (cc_rec_hdr){.channel = sr.channel,
                                 .module = sr.module,
                                 .sample_type = CC_S_INT16,
                                 .adc_scale = 20.0 / 65536.0,
                                 .sample_rate_hz = (float)sr.fs_hz,
                                 .trigger_index = sr.trigger_index,
                                 .n_samples = samples,
                                 .instance_id = 0xbe7c4,
                                 .run = 1};
    }
    cc_sim_record_release(&sr);
    cc_sim_free(&s);
}

/* The plugin in-process, one thread, as a worker calls it. */
static double reference(const recs *r, const char *plugin_dir, const char *plugin,
                        const char *model, uint64_t n)
{
    cc_registry *reg = cc_registry_new(plugin_dir);
    cc_err e = {""};
    char conf[PATH_MAX + 32];
    cc_ydoc *doc = NULL;
    if (model) {
        snprintf(conf, sizeof conf, "model: %s\n", model);
        doc = cc_ydoc_load_string("bench", conf, strlen(conf), &e);
    }
    cc_classifier cl;
    if (cc_classifier_create(reg, plugin, plugin, doc ? doc->root : NULL, ".", &cl, &e))
        die("classifier", e.msg);
    void *ws = cl.ops->ws_new(cl.inst, BATCH);
    size_t L = cl.info.input_len;
    float *raw[BATCH], *x = malloc(BATCH * (L ? L : 1) * sizeof *x), scores[BATCH];
    const float *braw[BATCH];
    cc_record_meta meta[BATCH];
    for (int i = 0; i < BATCH; i++) raw[i] = malloc(r->n * sizeof(float));
    uint64_t done = 0;
    double t0 = now();
    while (done < n) {
        for (int i = 0; i < BATCH; i++) {
            int k = (int)((done + (uint64_t)i) % NDISTINCT);
            cc_rec_to_volts(&r->hdr[k], r->adc[k], raw[i]);
            if (L) cc_prep_record(raw[i], r->n, x + (size_t)i * L, L);
            braw[i] = raw[i];
            meta[i] = (cc_record_meta){.channel = r->hdr[k].channel,
                                       .n_samples = r->n,
                                       .trigger_index = r->hdr[k].trigger_index,
                                       .sample_rate_hz = r->hdr[k].sample_rate_hz};
        }
        cc_batch b = {.n = BATCH, .meta = meta, .raw = braw, .x = L ? x : NULL, .input_len = L};
        if (cl.ops->classify(cl.inst, ws, &b, scores, &e)) die("classify", e.msg);
        done += BATCH;
    }
    double rate = (double)done / (now() - t0);
    for (int i = 0; i < BATCH; i++) free(raw[i]);
    free(x);
    cl.ops->ws_free(cl.inst, ws);
    cc_classifier_destroy(&cl);
    cc_registry_free(&reg);
    cc_ydoc_free(&doc);
    return rate;
}

static int free_port(void)
{
    static int p = 0;
    if (!p) p = 40000 + (int)(getpid() % 20000);
    return p++;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"plugin", 1, 0, 'p'},  {"model", 1, 0, 'm'},
                                         {"records", 1, 0, 'n'}, {"workers", 1, 0, 'w'},
                                         {"samples", 1, 0, 's'}, {0, 0, 0, 0}};
    const char *plugin = "cuts", *model = NULL;
    uint64_t n = 20000;
    int workers = 2, c;
    uint32_t samples = 16384;
    while ((c = getopt_long(argc, argv, "p:m:n:w:s:", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            plugin = optarg;
            break;
        case 'm':
            model = optarg;
            break;
        case 'n':
            n = strtoull(optarg, NULL, 10);
            break;
        case 'w':
            workers = atoi(optarg);
            break;
        case 's':
            samples = (uint32_t)atoi(optarg);
            break;
        default:
            return 2;
        }
    }
    char self[PATH_MAX], dir[PATH_MAX], daemon[PATH_MAX + 32], plugins[PATH_MAX + 32];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) die("readlink", "cannot find myself");
    self[sl] = '\0';
    snprintf(dir, sizeof dir, "%s", dirname(self));
    snprintf(daemon, sizeof daemon, "%s/../daemon/cryocleand", dir);
    snprintf(plugins, sizeof plugins, "%s/../plugins", dir);
    char modelabs[PATH_MAX] = "";
    if (model && !realpath(model, modelabs)) die(model, "no such model card");

    recs r;
    make_records(&r, samples);
    printf("bench_daemon: plugin %s%s%s, %u samples per record, %llu records, %d workers\n", plugin,
           model ? " model " : "", model ? model : "", samples, (unsigned long long)n, workers);
    double ref = reference(&r, plugins, plugin, model ? modelabs : NULL, n / 4 + BATCH);

    char tmp[] = "/tmp/bench_daemon.XXXXXX", conf[PATH_MAX], ep_in[64], ep_dec[64];
    if (!mkdtemp(tmp)) die("mkdtemp", "failed");
    snprintf(conf, sizeof conf, "%s/c.yaml", tmp);
    snprintf(ep_in, sizeof ep_in, "tcp://127.0.0.1:%d", free_port());
    snprintf(ep_dec, sizeof ep_dec, "tcp://127.0.0.1:%d", free_port());
    FILE *f = fopen(conf, "w");
    fprintf(f,
            "inputs: [{endpoint: %s, socket: pull, mode: bind, hwm: 1000}]\n"
            "outputs: {decisions: {endpoint: %s}, clean: off, monitor: off}\n"
            "plugin_dir: %s\n"
            "classifiers: {c: {plugin: %s%s%s%s}}\n"
            "channels: {default: {classifier: c}}\n"
            "processing: {workers: %d, max_batch: %d, max_wait_ms: 2}\n"
            "log: {level: warning}\n",
            ep_in, ep_dec, plugins, plugin, model ? ", config: {model: " : "",
            model ? modelabs : "", model ? "}" : "", workers, BATCH);
    fclose(f);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
        execl(daemon, daemon, "--config", conf, (char *)NULL);
        _exit(127);
    }
    void *ctx = zmq_ctx_new();
    void *push = zmq_socket(ctx, ZMQ_PUSH), *sub = zmq_socket(ctx, ZMQ_SUB);
    int hwm = 0;
    zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "dec/", 4);
    zmq_connect(sub, ep_dec);
    zmq_connect(push, ep_in);
    uint8_t hb[CC_REC_HDR_LEN];
    char topic[CC_TOPIC_MAX];
    /* warm up until decisions flow (daemon started, subscription live) */
    uint64_t seq = 0, got = 0;
    zmq_pollitem_t pi = {.socket = sub, .events = ZMQ_POLLIN};
    for (int tries = 0; tries < 300 && !got; tries++) {
        cc_rec_hdr h = r.hdr[0];
        h.seq = seq++;
        cc_rec_hdr_encode(&h, hb);
        int tl = cc_topic_record(topic, sizeof topic, h.channel);
        zmq_send(push, topic, (size_t)tl, ZMQ_SNDMORE);
        zmq_send(push, hb, sizeof hb, ZMQ_SNDMORE);
        zmq_send(push, r.adc[0], samples * 2, 0);
        if (zmq_poll(&pi, 1, 100) > 0) got = 1;
    }
    if (!got) die("daemon", "no decision within 30 s");
    char buf[256];
    while (zmq_poll(&pi, 1, 500) > 0) zmq_recv(sub, buf, sizeof buf, 0);
    got = 0;
    uint64_t sent = 0, frames = 0;
    double t0 = now();
    while (got < n) {
        while (sent < n) { /* send without blocking; then drain decisions */
            int k = (int)(sent % NDISTINCT);
            cc_rec_hdr h = r.hdr[k];
            h.seq = seq;
            cc_rec_hdr_encode(&h, hb);
            int tl = cc_topic_record(topic, sizeof topic, h.channel);
            if (zmq_send(push, topic, (size_t)tl, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) break;
            seq++; /* only records really sent take a sequence number */
            zmq_send(push, hb, sizeof hb, ZMQ_SNDMORE);
            zmq_send(push, r.adc[k], samples * 2, 0);
            sent++;
            if (sent % 64 == 0) break;
        }
        while (zmq_poll(&pi, 1, sent < n ? 0 : 5000) > 0) {
            int more = 1;
            size_t ml = sizeof more;
            zmq_recv(sub, buf, sizeof buf, 0);
            zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ml);
            frames++;
            if (more) zmq_recv(sub, buf, sizeof buf, 0);
            got++;
            if (got >= n) break;
        }
        if (sent >= n && zmq_poll(&pi, 1, 0) == 0 && got < n && now() - t0 > 600) break;
    }
    double dt = now() - t0;
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    double rate = (double)got / dt;
    printf("\n%-34s %12s\n", "", "records/s");
    printf("%-34s %12.0f\n", "plugin in-process, 1 thread", ref);
    printf("%-34s %12.0f   (%llu of %llu decided)\n", "cryocleand over loopback", rate,
           (unsigned long long)got, (unsigned long long)n);
    printf("%-34s %12.2f\n", "daemon / reference", rate / ref);
    printf("%-34s %12.2f   (%d workers)\n", "daemon / (reference x workers)",
           rate / (ref * workers), workers);
    zmq_close(push);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    unlink(conf);
    rmdir(tmp);
    return got == n ? 0 : 1;
}
