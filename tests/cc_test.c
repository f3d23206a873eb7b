/* cc_test.c - see cc_test.h. */
#include "cc_test.h"

#include <arpa/inet.h>
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

int cct_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr), run = srunner_ntests_run(sr);
    srunner_free(sr);
    printf("%d passed, %d failed\n", run - failed, failed);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ---- running the real daemon ---- */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

void cct_notify_open(cct_notify *n, const char *dir)
{
    snprintf(n->path, sizeof n->path, "%s/notify.sock", dir);
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", n->path);
    unlink(n->path);
    if (n->fd < 0 || bind(n->fd, (struct sockaddr *)&a, sizeof a))
        ck_abort_msg("cannot bind notify socket %s: %s", n->path, strerror(errno));
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int cct_notify_wait(cct_notify *n, const char *needle, int timeout_ms, char *buf, size_t len)
{
    long long end = now_ms() + timeout_ms;
    for (;;) {
        long long left = end - now_ms();
        if (left <= 0) return 0;
        struct pollfd p = {.fd = n->fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0) continue;
        char tmp[4096];
        ssize_t r = recv(n->fd, tmp, sizeof tmp - 1, 0);
        if (r <= 0) continue;
        tmp[r] = '\0';
        if (strstr(tmp, needle)) {
            if (buf) snprintf(buf, len, "%s", tmp);
            return 1;
        }
    }
}

void cct_notify_close(cct_notify *n)
{
    close(n->fd);
    unlink(n->path);
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
