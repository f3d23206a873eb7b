/* main.c - cryocleand: records in over ZeroMQ, decisions out.
 *
 * The main thread parses the configuration, loads the classifiers, opens the
 * sockets, starts the ingest, worker and output threads (see daemon.h) and
 * then only handles signals (through a signalfd) and systemd:
 *   READY=1 after sockets are bound and classifiers loaded;
 *   STATUS= once a second with rates and counters;
 *   WATCHDOG=1 only while every thread shows progress;
 *   SIGHUP: RELOADING=1 + MONOTONIC_USEC, load the new configuration and
 *     classifiers beside the running ones, swap, READY=1; a broken new
 *     configuration keeps the old one running and says why;
 *   SIGTERM/SIGINT: STOPPING=1, stop reading, drain every queued record to a
 *     decision, flush the outputs, exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

extern const char cc_default_conf[];
extern const size_t cc_default_conf_len;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cryocleand [--config FILE] [--plugin-dir DIR] [--conf-dir DIR] [--check]\n"
            "                  [--print-config]\n"
            "\n"
            "  -c, --config FILE      configuration (default: the embedded default, printed by\n"
            "                         --print-config; the systemd unit uses " CC_CONF_FILE ")\n"
            "  -p, --plugin-dir DIR   load classifier plugins from DIR (overrides plugin_dir)\n"
            "  -d, --conf-dir DIR     where the embedded default's relative paths (its model,\n"
            "                         models/cnn-default.yaml) resolve; default " CC_CONF_DIR "\n"
            "  -t, --check            load the configuration and classifiers, then exit\n"
            "      --print-config     print the embedded default configuration\n"
            "  -h, --help             this text\n"
            "  -V, --version          version\n");
}

/* A file, or the embedded default whose relative paths (models/...) resolve
 * against conf_dir: the installed configuration directory unless overridden. */
static cc_config *load_config(const char *path, const char *conf_dir, cc_err *e)
{
    if (path) return cc_config_load_file(path, e);
    return cc_config_load_string("<embedded default config>", conf_dir, cc_default_conf,
                                 cc_default_conf_len, e);
}

static ccd_pipeline *load_pipeline(ccd *d, cc_err *e)
{
    cc_config *cfg = load_config(d->config_path, d->conf_dir, e);
    if (!cfg) return NULL;
    char dir[CC_ENDPOINT_MAX * 2];
    ccd_plugin_dir(cfg, d->plugin_dir_override, dir, sizeof dir);
    return ccd_pipeline_new(cfg, dir, e);
}

static int same_inputs(const cc_config *a, const cc_config *b)
{
    if (a->ninputs != b->ninputs) return 0;
    for (size_t i = 0; i < a->ninputs; i++) {
        const cc_conf_input *x = &a->inputs[i], *y = &b->inputs[i];
        if (strcmp(x->endpoint, y->endpoint) || x->kind != y->kind || x->bind != y->bind ||
            x->hwm != y->hwm || x->nsubscribe != y->nsubscribe)
            return 0;
        for (size_t j = 0; j < x->nsubscribe; j++)
            if (strcmp(x->subscribe[j], y->subscribe[j])) return 0;
    }
    return 1;
}

/* Names the settings that only take effect at start, if the new file changed them. */
static void warn_restart_only(const cc_config *old, const cc_config *nw)
{
    if (!same_inputs(old, nw)) log_warn("reload: 'inputs' changed; this needs a restart");
    if (strcmp(old->decisions.endpoint, nw->decisions.endpoint) ||
        strcmp(old->clean.endpoint, nw->clean.endpoint) ||
        strcmp(old->monitor.endpoint, nw->monitor.endpoint) || old->out_hwm != nw->out_hwm)
        log_warn("reload: 'outputs' changed; this needs a restart");
    if (old->workers != nw->workers || old->max_batch != nw->max_batch ||
        old->max_wait_ms != nw->max_wait_ms || old->queue_capacity != nw->queue_capacity ||
        old->max_samples != nw->max_samples || old->max_message_bytes != nw->max_message_bytes ||
        old->monitor_interval_s != nw->monitor_interval_s)
        log_warn("reload: 'processing' or 'monitor' changed; this needs a restart");
}

static void reload(ccd *d)
{
    uint64_t usec = ccd_mono_ns() / 1000;
    sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading configuration",
               (unsigned long long)usec);
    log_notice("reloading %s", d->config_path ? d->config_path : "the embedded configuration");
    cc_err e = {""};
    ccd_pipeline *p = load_pipeline(d, &e);
    if (!p) {
        atomic_fetch_add(&d->c.reload_failures, 1);
        log_err("reload failed, keeping the running configuration: %s", e.msg);
        sd_notifyf(0, "READY=1\nSTATUS=reload failed, running the previous configuration: %.180s",
                   e.msg);
        return;
    }
    warn_restart_only(d->boot_cfg, p->cfg);
    log_set_level(p->cfg->log_level);
    pthread_mutex_lock(&d->pipe_mu);
    ccd_pipeline *old = d->pipe;
    p->generation = old->generation + 1;
    d->pipe = p;
    atomic_store(&d->pipe_generation, p->generation);
    pthread_mutex_unlock(&d->pipe_mu);
    ccd_pipeline_release(old);
    atomic_fetch_add(&d->c.reloads, 1);
    log_notice("reload done: %zu classifiers, %zu channel rules (generation %llu)",
               p->cfg->nclassifiers, p->cfg->nchannels, (unsigned long long)p->generation);
    sd_notify(0, "READY=1\nSTATUS=configuration reloaded");
}

/* 1 when every thread advanced its heartbeat since the last call. */
static int threads_progress(ccd *d, uint64_t *last, int n)
{
    int ok = 1;
    uint64_t v = atomic_load(&d->beat_ingest);
    ok &= v != last[0];
    last[0] = v;
    v = atomic_load(&d->beat_output);
    ok &= v != last[1];
    last[1] = v;
    for (int i = 0; i < n; i++) {
        v = atomic_load(&d->beat_workers[i]);
        ok &= v != last[2 + i];
        last[2 + i] = v;
    }
    return ok;
}

static int start_threads(ccd *d, ccd_worker_arg *args)
{
    if (pthread_create(&d->output_thr, NULL, ccd_output_main, d)) return -1;
    for (int i = 0; i < d->nworkers; i++) {
        args[i] = (ccd_worker_arg){.d = d, .idx = i};
        if (pthread_create(&d->worker_thr[i], NULL, ccd_worker_main, &args[i])) return -1;
    }
    return pthread_create(&d->ingest_thr, NULL, ccd_ingest_main, d) ? -1 : 0;
}

/* Stops reading, lets every queued record reach a decision, flushes outputs. */
static void drain(ccd *d)
{
    atomic_store(&d->stop_ingest, 1);
    pthread_join(d->ingest_thr, NULL);
    ccd_queue_close(d->work);
    for (int i = 0; i < d->nworkers; i++) pthread_join(d->worker_thr[i], NULL);
    ccd_queue_close(d->out);
    pthread_join(d->output_thr, NULL);
}

static void log_totals(ccd *d)
{
    log_notice("totals: received %llu = accepted %llu + rejected %llu + invalid %llu + "
               "undecidable %llu; lost upstream %llu; output drops %llu decisions, %llu clean",
               LDC(d->c.received), LDC(d->c.accepted), LDC(d->c.rejected), LDC(d->c.invalid),
               LDC(d->c.undecidable), LDC(d->c.lost_upstream), LDC(d->c.out_dropped_decisions),
               LDC(d->c.out_dropped_clean));
}

static pid_t main_tid;

/* Runs only on threads that were created before main() could block the
 * signals (OpenBLAS starts its pool when the library loads): hand the signal
 * to the main thread, where it stays pending for the signalfd. */
static void forward_signal(int sig)
{
    int saved = errno;
    syscall(SYS_tgkill, getpid(), main_tid, sig);
    errno = saved;
}

/* Blocks the control signals in the main thread (every thread we create
 * inherits the mask) and forwards them from threads that libraries made. */
static void take_signals(sigset_t *mask)
{
    sigemptyset(mask);
    sigaddset(mask, SIGTERM);
    sigaddset(mask, SIGINT);
    sigaddset(mask, SIGHUP);
    main_tid = (pid_t)syscall(SYS_gettid);
    pthread_sigmask(SIG_BLOCK, mask, NULL);
    struct sigaction sa = {.sa_handler = forward_signal};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int run(ccd *d, sigset_t *mask)
{
    cc_err e = {""};
    int sfd = signalfd(-1, mask, SFD_CLOEXEC);
    if (sfd < 0) return log_err("signalfd: %s", strerror(errno)), 1;

    d->zctx = zmq_ctx_new();
    d->work = ccd_queue_new((size_t)d->boot_cfg->queue_capacity);
    d->out = ccd_queue_new((size_t)d->boot_cfg->queue_capacity);
    d->nworkers = d->boot_cfg->workers;
    d->beat_workers = calloc((size_t)d->nworkers, sizeof *d->beat_workers);
    d->worker_thr = calloc((size_t)d->nworkers, sizeof *d->worker_thr);
    ccd_worker_arg *args = calloc((size_t)d->nworkers, sizeof *args);
    uint64_t *beats = calloc((size_t)d->nworkers + 2, sizeof *beats);
    if (!d->zctx || !d->work || !d->out || !d->beat_workers || !d->worker_thr || !args || !beats)
        return log_err("out of memory"), 1;
    d->start_ns = ccd_mono_ns();
    cc_metrics_http_config hc;
    cc_metrics_http_config_default(&hc);
    if (cc_metrics_http_config_from_yaml(d->boot_cfg->metrics_node, &hc, &e) ||
        (hc.enabled && !(d->http = cc_metrics_http_start(&hc, &e))) || ccd_output_open(d, &e) ||
        ccd_ingest_open(d, &e)) {
        log_err("%s", e.msg);
        sd_notifyf(0, "STATUS=failed: %.200s", e.msg);
        return 1;
    }
    if (d->http)
        log_info("metrics: Prometheus endpoint http://%s:%d/metrics", hc.bind,
                 cc_metrics_http_port(d->http));
    if (start_threads(d, args)) return log_err("cannot start threads: %s", strerror(errno)), 1;

    uint64_t wd_usec = 0;
    int wd = sd_watchdog_enabled(0, &wd_usec) > 0;
    sd_notifyf(0, "READY=1\nSTATUS=running: %zu classifiers, %d workers",
               d->pipe->cfg->nclassifiers, d->nworkers);
    log_notice("ready: %zu inputs, %zu classifiers, %d workers%s", d->boot_cfg->ninputs,
               d->pipe->cfg->nclassifiers, d->nworkers, wd ? ", watchdog on" : "");

    uint64_t period_ns = 1000000000ull;
    if (wd && wd_usec * 1000 / 2 < period_ns) period_ns = wd_usec * 1000 / 2;
    uint64_t next = ccd_mono_ns() + period_ns;
    int stopping = 0;
    while (!stopping) {
        uint64_t now = ccd_mono_ns();
        int timeout = now >= next ? 0 : (int)((next - now) / 1000000) + 1;
        struct pollfd pfd = {.fd = sfd, .events = POLLIN};
        int r = poll(&pfd, 1, timeout);
        if (r > 0) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (si.ssi_signo == SIGHUP)
                    reload(d);
                else
                    stopping = 1;
            }
        }
        now = ccd_mono_ns();
        if (now >= next) {
            next = now + period_ns;
            char status[256];
            pthread_mutex_lock(&d->status_mu);
            memcpy(status, d->status, sizeof status);
            pthread_mutex_unlock(&d->status_mu);
            if (status[0]) sd_notifyf(0, "STATUS=%s", status);
            if (wd && threads_progress(d, beats, d->nworkers)) sd_notify(0, "WATCHDOG=1");
        }
    }
    sd_notify(0, "STOPPING=1\nSTATUS=draining queued records");
    log_notice("stopping: draining %zu queued records",
               ccd_queue_depth(d->work) + ccd_queue_depth(d->out));
    drain(d);
    log_totals(d);
    ccd_output_close(d);
    cc_metrics_http_stop(&d->http);
    zmq_ctx_term(d->zctx);
    ccd_queue_free(&d->work);
    ccd_queue_free(&d->out);
    free(args);
    free(beats);
    free(d->beat_workers);
    free(d->worker_thr);
    free(d->in_socks);
    close(sfd);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'},   {"plugin-dir", required_argument, 0, 'p'},
        {"conf-dir", required_argument, 0, 'd'}, {"check", no_argument, 0, 't'},
        {"print-config", no_argument, 0, 'P'},   {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},        {0, 0, 0, 0}};
    sigset_t mask;
    take_signals(&mask);
    ccd d = {0};
    int check = 0, o;
    while ((o = getopt_long(argc, argv, "c:p:d:thV", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            d.config_path = optarg;
            break;
        case 'p':
            d.plugin_dir_override = optarg;
            break;
        case 'd':
            d.conf_dir = optarg;
            break;
        case 't':
            check = 1;
            break;
        case 'P':
            fwrite(cc_default_conf, 1, cc_default_conf_len, stdout);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("cryocleand %s (protocol v%d, plugin ABI %d)\n", CC_VERSION, CC_PROTO_VERSION,
                   CC_PLUGIN_ABI);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "cryocleand: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (!d.plugin_dir_override) d.plugin_dir_override = getenv("CRYOCLEAN_PLUGIN_DIR");
    if (!d.conf_dir) d.conf_dir = getenv("CRYOCLEAN_CONF_DIR");
    if (!d.conf_dir) d.conf_dir = CC_CONF_DIR;
    cc_err e = {""};
    ccd_pipeline *p = load_pipeline(&d, &e);
    if (!p) {
        log_err("%s", e.msg);
        sd_notifyf(0, "STATUS=failed: %.200s", e.msg);
        return 1;
    }
    log_set_level(p->cfg->log_level);
    if (check) {
        cc_metrics_http_config hc;
        cc_metrics_http_config_default(&hc);
        cc_alert_sink_config sc;
        cc_alert_sink_config_default(&sc);
        if (cc_metrics_http_config_from_yaml(p->cfg->metrics_node, &hc, &e) ||
            cc_alert_sink_config_from_yaml(p->cfg->alert_notify, &sc, &e)) {
            log_err("%s", e.msg);
            ccd_pipeline_release(p);
            return 1;
        }
        printf("configuration %s is valid: %zu inputs, %zu classifiers, %zu channel rules\n",
               d.config_path ? d.config_path : "<embedded>", p->cfg->ninputs, p->cfg->nclassifiers,
               p->cfg->nchannels);
        ccd_pipeline_release(p);
        return 0;
    }
    /* the boot configuration is a second parse that lives as long as the sockets */
    d.boot_cfg = load_config(d.config_path, d.conf_dir, &e);
    if (!d.boot_cfg) {
        log_err("%s", e.msg);
        return 1;
    }
    pthread_mutex_init(&d.pipe_mu, NULL);
    pthread_mutex_init(&d.status_mu, NULL);
    d.pipe = p;
    int rc = run(&d, &mask);
    ccd_pipeline_release(d.pipe);
    cc_config_free(&d.boot_cfg);
    return rc;
}
