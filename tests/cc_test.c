/* cc_test.c - see cc_test.h. */
#include "cc_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

const char *cct_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        ck_abort_msg("environment variable %s is not set (run through meson test)", name);
    return v;
}

const char *cct_path(const char *envvar, const char *rel, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", cct_env(envvar), rel);
    return buf;
}

const char *cct_tmpdir(char *buf, size_t len)
{
    const char *t = getenv("TMPDIR");
    snprintf(buf, len, "%s/cctest.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(buf)) ck_abort_msg("mkdtemp %s failed", buf);
    return buf;
}

void cct_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

char *cct_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    ck_assert_msg(n >= 0, "cannot size %s", path);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(s);
    ck_assert_msg(fread(s, 1, (size_t)n, f) == (size_t)n, "short read of %s", path);
    s[n] = 0;
    fclose(f);
    if (len) *len = (size_t)n;
    return s;
}

int cct_free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) ||
        getsockname(s, (struct sockaddr *)&a, &l))
        ck_abort_msg("cannot find a free port");
    int port = ntohs(a.sin_port);
    close(s);
    return port;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path) ? -1 : 0;
}

int cct_run(Suite *s)
{
    /* every cct_tmpdir() of this program goes under one directory, removed
     * when all tests passed (kept, and named, for a failure or CCT_KEEP_TMP) */
    const char *t = getenv("TMPDIR");
    char top[512];
    snprintf(top, sizeof top, "%s/cctest-%s.XXXXXX", t && *t ? t : "/tmp",
             program_invocation_short_name);
    int have_top = mkdtemp(top) != NULL;
    if (have_top) setenv("TMPDIR", top, 1);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr), run = srunner_ntests_run(sr);
    srunner_free(sr);
    printf("%d passed, %d failed\n", run - failed, failed);
    if (have_top) {
        const char *keep = getenv("CCT_KEEP_TMP");
        if (failed || (keep && *keep))
            printf("test files kept in %s\n", top);
        else
            nftw(top, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ---- running the real daemon ---- */
#include <poll.h>
#include <signal.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

static void *notify_reader(void *arg)
{
    cct_notify *n = arg;
    for (;;) {
        struct pollfd p = {.fd = n->fd, .events = POLLIN};
        int r = poll(&p, 1, 100);
        pthread_mutex_lock(&n->mu);
        int stop = n->stop;
        pthread_mutex_unlock(&n->mu);
        if (stop) return NULL;
        if (r <= 0) continue;
        char tmp[4096];
        ssize_t got = recv(n->fd, tmp, sizeof tmp - 1, 0);
        if (got <= 0) continue;
        tmp[got] = '\0';
        pthread_mutex_lock(&n->mu);
        if (n->n == n->cap) {
            n->cap = n->cap ? 2 * n->cap : 64;
            n->msgs = realloc(n->msgs, n->cap * sizeof *n->msgs);
        }
        n->msgs[n->n++] = strdup(tmp);
        pthread_cond_broadcast(&n->cv);
        pthread_mutex_unlock(&n->mu);
    }
}

void cct_notify_open(cct_notify *n, const char *dir)
{
    memset(n, 0, sizeof *n);
    snprintf(n->path, sizeof n->path, "%s/notify.sock", dir);
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", n->path);
    unlink(n->path);
    if (n->fd < 0 || bind(n->fd, (struct sockaddr *)&a, sizeof a))
        ck_abort_msg("cannot bind notify socket %s: %s", n->path, strerror(errno));
    pthread_mutex_init(&n->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&n->cv, &ca);
    pthread_condattr_destroy(&ca);
    ck_assert_int_eq(pthread_create(&n->reader, NULL, notify_reader, n), 0);
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int cct_notify_wait(cct_notify *n, const char *needle, int timeout_ms, char *buf, size_t len)
{
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += timeout_ms / 1000;
    end.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (end.tv_nsec >= 1000000000L) end.tv_sec++, end.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&n->mu);
    int found = 0;
    for (;;) {
        for (; n->next < n->n && !found; n->next++)
            if (strstr(n->msgs[n->next], needle)) {
                if (buf) snprintf(buf, len, "%s", n->msgs[n->next]);
                found = 1;
            }
        if (found || pthread_cond_timedwait(&n->cv, &n->mu, &end) != 0) break;
    }
    for (; !found && n->next < n->n; n->next++) /* a last look after the timeout */
        if (strstr(n->msgs[n->next], needle)) {
            if (buf) snprintf(buf, len, "%s", n->msgs[n->next]);
            found = 1;
        }
    pthread_mutex_unlock(&n->mu);
    return found;
}

void cct_notify_close(cct_notify *n)
{
    pthread_mutex_lock(&n->mu);
    n->stop = 1;
    pthread_mutex_unlock(&n->mu);
    pthread_join(n->reader, NULL);
    close(n->fd);
    unlink(n->path);
    for (size_t i = 0; i < n->n; i++) free(n->msgs[i]);
    free(n->msgs);
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cv);
}

pid_t cct_daemon_start(const char *notify_path, const char *log_path, const char *const *args)
{
    char exe[1024];
    CCT_BUILD("daemon/cryocleand", exe);
    const char *argv[32] = {exe};
    int k = 1;
    for (; args && args[k - 1] && k < 31; k++) argv[k] = args[k - 1];
    argv[k] = NULL;
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork failed");
    if (pid == 0) {
        setenv("NOTIFY_SOCKET", notify_path, 1);
        /* run as in production: OpenBLAS with its own thread pool */
        unsetenv("OPENBLAS_NUM_THREADS");
        if (log_path) {
            FILE *f = freopen(log_path, "w", stderr);
            (void)f;
        }
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

int cct_daemon_stop(pid_t pid, int sig, int timeout_ms)
{
    if (sig) kill(pid, sig);
    long long end = now_ms() + timeout_ms;
    int st;
    while (now_ms() < end) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    ck_abort_msg("daemon %d did not exit within %d ms after signal %d", (int)pid, timeout_ms, sig);
    return -1;
}

/* ---- the daemon under test, with its sockets ---- */

void cct_daemon_init(cct_daemon *v)
{
    memset(v, 0, sizeof *v);
    cct_tmpdir(v->dir, sizeof v->dir);
    snprintf(v->conf, sizeof v->conf, "%s/cryoclean.yaml", v->dir);
    snprintf(v->log, sizeof v->log, "%s/daemon.log", v->dir);
    snprintf(v->ep_in, sizeof v->ep_in, "tcp://127.0.0.1:%d", cct_free_port());
    snprintf(v->ep_dec, sizeof v->ep_dec, "tcp://127.0.0.1:%d", cct_free_port());
    snprintf(v->ep_clean, sizeof v->ep_clean, "tcp://127.0.0.1:%d", cct_free_port());
    snprintf(v->ep_mon, sizeof v->ep_mon, "tcp://127.0.0.1:%d", cct_free_port());
    snprintf(v->ep_ctl, sizeof v->ep_ctl, "tcp://127.0.0.1:%d", cct_free_port());
}

void cct_daemon_conf(cct_daemon *v, const char *body)
{
    char text[8192];
    int n = snprintf(text, sizeof text,
                     "inputs:\n"
                     "  - {endpoint: %s, socket: pull, mode: bind}\n"
                     "outputs:\n"
                     "  decisions: {endpoint: %s}\n"
                     "  clean: {endpoint: %s}\n"
                     "  monitor: {endpoint: %s}\n"
                     "  control: {endpoint: %s}\n"
                     "plugin_dir: %s\n"
                     "%s",
                     v->ep_in, v->ep_dec, v->ep_clean, v->ep_mon, v->ep_ctl,
                     cct_env("CC_PLUGIN_DIR"), body);
    ck_assert_int_lt(n, (int)sizeof text);
    cct_write_file(v->conf, text, (size_t)n);
}

void cct_daemon_up(cct_daemon *v, const char *const *extra_args)
{
    cct_notify_open(&v->notify, v->dir);
    const char *args[16] = {"--config", v->conf};
    for (int i = 0; extra_args && extra_args[i] && i < 13; i++) args[2 + i] = extra_args[i];
    v->pid = cct_daemon_start(v->notify.path, v->log, args);
    char msg[4096];
    ck_assert_msg(cct_notify_wait(&v->notify, "READY=1", 30000, msg, sizeof msg),
                  "daemon did not send READY=1 (log: %s)", v->log);
    v->ctx = zmq_ctx_new();
    v->push = zmq_socket(v->ctx, ZMQ_PUSH);
    v->dec = zmq_socket(v->ctx, ZMQ_SUB);
    v->clean = zmq_socket(v->ctx, ZMQ_SUB);
    v->mon = zmq_socket(v->ctx, ZMQ_SUB);
    int hwm = 0, linger = 5000;
    zmq_setsockopt(v->dec, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(v->clean, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(v->push, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(v->dec, ZMQ_SUBSCRIBE, "dec/", 4);
    zmq_setsockopt(v->clean, ZMQ_SUBSCRIBE, "rec/", 4);
    zmq_setsockopt(v->mon, ZMQ_SUBSCRIBE, "mon/daemon/", 11);
    ck_assert_int_eq(zmq_connect(v->push, v->ep_in), 0);
    ck_assert_int_eq(zmq_connect(v->dec, v->ep_dec), 0);
    ck_assert_int_eq(zmq_connect(v->clean, v->ep_clean), 0);
    ck_assert_int_eq(zmq_connect(v->mon, v->ep_mon), 0);
}

void cct_daemon_down(cct_daemon *v)
{
    zmq_close(v->push);
    zmq_close(v->dec);
    zmq_close(v->clean);
    zmq_close(v->mon);
    zmq_ctx_term(v->ctx);
    cct_notify_close(&v->notify);
}

/* Receives one decision within timeout_ms; 1 on success. */
int cct_recv_decision(void *s, cc_decision *d, int timeout_ms)
{
    zmq_pollitem_t p = {.socket = s, .events = ZMQ_POLLIN};
    if (zmq_poll(&p, 1, timeout_ms) <= 0) return 0;
    char topic[64];
    uint8_t body[256];
    int tl = zmq_recv(s, topic, sizeof topic, 0);
    ck_assert_int_gt(tl, 0);
    int more = 0;
    size_t ml = sizeof more;
    zmq_getsockopt(s, ZMQ_RCVMORE, &more, &ml);
    ck_assert_msg(more, "decision without body");
    int bl = zmq_recv(s, body, sizeof body, 0);
    cc_err e;
    ck_assert_msg(cc_decision_decode(body, (size_t)bl, d, &e) == 0, "%s", e.msg);
    char want[64];
    cc_topic_decision(want, sizeof want, d->channel);
    ck_assert_msg((size_t)tl == strlen(want) && !memcmp(topic, want, (size_t)tl),
                  "decision topic does not match its channel");
    return 1;
}

/* Reads the latest "mon/daemon/" JSON into buf (waits for a fresh one). */
void cct_monitor_latest(cct_daemon *v, char *buf, size_t len)
{
    buf[0] = '\0';
    zmq_pollitem_t p = {.socket = v->mon, .events = ZMQ_POLLIN};
    int got = 0;
    while (zmq_poll(&p, 1, got ? 0 : 3000) > 0) {
        char topic[32];
        zmq_recv(v->mon, topic, sizeof topic, 0);
        int l = zmq_recv(v->mon, buf, len - 1, 0);
        ck_assert_int_gt(l, 0);
        buf[l < (int)len - 1 ? l : (int)len - 1] = '\0';
        got = 1;
    }
    ck_assert_msg(got, "no monitor message");
}

unsigned long long cct_json_u64(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    ck_assert_msg(p != NULL, "monitor JSON lacks %s: %s", key, json);
    return strtoull(p + strlen(pat), NULL, 10);
}

/* Waits until the monitor has counted `received` messages with nothing in
 * flight and returns its JSON. */
void cct_monitor_settled(cct_daemon *v, unsigned long long received, char *buf, size_t len)
{
    for (int i = 0; i < 50; i++) {
        cct_monitor_latest(v, buf, len);
        if (cct_json_u64(buf, "received") >= received && cct_json_u64(buf, "in_flight") == 0 &&
            cct_json_u64(buf, "queue_out") == 0)
            return;
    }
    ck_abort_msg("daemon never settled: %s", buf);
}

void cct_check_identity(const char *json)
{
    unsigned long long rec = cct_json_u64(json, "received"), acc = cct_json_u64(json, "accepted"),
                       rej = cct_json_u64(json, "rejected"), inv = cct_json_u64(json, "invalid"),
                       und = cct_json_u64(json, "undecidable");
    ck_assert_msg(rec == acc + rej + inv + und,
                  "received %llu != accepted %llu + rejected %llu + invalid %llu + undecidable "
                  "%llu",
                  rec, acc, rej, inv, und);
}
