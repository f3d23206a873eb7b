/* test_pyexample.c - the documented Python example against the real daemon.
 *
 * Starts build/daemon/cryocleand (PULL input bound on an ephemeral port,
 * decisions PUB on another) and runs docs/examples/publish_and_watch.py
 * with /usr/bin/python3, as a user following docs/PROTOCOL.md would. The
 * script must exit 0, print one line per record and a summary that counts
 * every record as decided. Without a daemon it must exit non-zero and say
 * why. /usr/bin/python3 without pyzmq is a test failure with a clear
 * message (CI installs python3-zmq).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cc_test.h"

#ifndef PYTHON
#define PYTHON "/usr/bin/python3"
#endif

/* Runs argv with stdout and stderr into log_path; returns the exit status
 * (128 + signal if killed). The script bounds its own run time (--timeout). */
static int run(const char *const *argv, const char *log_path)
{
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork failed");
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Reads a whole (small) file into a new NUL-terminated buffer. */
static void require_python_zmq(const char *dir)
{
    ck_assert_msg(access(PYTHON, X_OK) == 0, PYTHON " not found: the example test needs it");
    char log[512];
    snprintf(log, sizeof log, "%s/python-check.log", dir);
    const char *argv[] = {PYTHON, "-c", "import zmq", NULL};
    if (run(argv, log) != 0) {
        char *out = cct_slurp(log, NULL);
        ck_abort_msg(PYTHON " cannot import zmq; install python3-zmq (apt) to run the "
                            "documented example: %s",
                     out);
    }
}

static const char *script(char *buf, size_t len)
{
    return cct_path("CC_SOURCE_ROOT", "docs/examples/publish_and_watch.py", buf, len);
}

static int count_lines(const char *text, const char *prefix)
{
    int n = 0;
    size_t pl = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, prefix, pl) == 0) n++;
    return n;
}

/* Runs the example against a fresh daemon. pub == 0: the daemon's input is
 * PULL bound and the script PUSH-connects; pub == 1: the daemon's input is
 * a SUB that connects (as in conf/cryoclean.yaml) and the script PUB-binds. */
static void example_against_daemon(int pub)
{
    char dir[256], conf[512], dlog[512], plog[512], ep_in[64], ep_dec[64], ep_clean[64], ep_mon[64],
        py[1024];
    cct_tmpdir(dir, sizeof dir);
    require_python_zmq(dir);
    snprintf(conf, sizeof conf, "%s/cryoclean.yaml", dir);
    snprintf(dlog, sizeof dlog, "%s/daemon.log", dir);
    snprintf(plog, sizeof plog, "%s/example.log", dir);
    snprintf(ep_in, sizeof ep_in, "tcp://127.0.0.1:%d", cct_free_port());
    snprintf(ep_dec, sizeof ep_dec, "tcp://127.0.0.1:%d", cct_free_port());
    snprintf(ep_clean, sizeof ep_clean, "tcp://127.0.0.1:%d", cct_free_port());
    snprintf(ep_mon, sizeof ep_mon, "tcp://127.0.0.1:%d", cct_free_port());
    char text[2048];
    snprintf(text, sizeof text,
             "inputs:\n"
             "  - {endpoint: %s, socket: %s}\n"
             "outputs:\n"
             "  decisions: {endpoint: %s}\n"
             "  clean: {endpoint: %s}\n"
             "  monitor: {endpoint: %s}\n"
             "plugin_dir: %s\n"
             "classifiers:\n"
             "  cuts: {plugin: cuts}\n"
             "channels:\n"
             "  default: {classifier: cuts, cutoff: 0.5}\n"
             "processing: {workers: 2, max_batch: 32, max_wait_ms: 2}\n",
             ep_in, pub ? "sub, mode: connect" : "pull, mode: bind", ep_dec, ep_clean, ep_mon,
             cct_env("CC_PLUGIN_DIR"));
    cct_write_file(conf, text, strlen(text));

    cct_notify n;
    cct_notify_open(&n, dir);
    const char *dargs[] = {"--config", conf, NULL};
    pid_t pid = cct_daemon_start(n.path, dlog, dargs);
    char msg[4096];
    ck_assert_msg(cct_notify_wait(&n, "READY=1", 30000, msg, sizeof msg),
                  "daemon did not send READY=1 (log: %s)", dlog);

    const char *argv[] = {
        PYTHON, script(py, sizeof py), "--records", ep_in,      "--decisions",        ep_dec, "-n",
        "200",  "--timeout",           "20",        "--socket", pub ? "pub" : "push", NULL};
    int rc = run(argv, plog);
    /* stop the daemon before asserting, so a failure leaves no daemon behind */
    int drc = cct_daemon_stop(pid, SIGTERM, 20000);
    cct_notify_close(&n);
    char *out = cct_slurp(plog, NULL);
    ck_assert_msg(rc == 0, "example exited %d (daemon log: %s):\n%s", rc, dlog, out);
    ck_assert_msg(drc == 0, "daemon exited %d after SIGTERM (log: %s)", drc, dlog);
    const char *sum = strstr(out, "summary: ");
    ck_assert_msg(sum != NULL, "no summary line:\n%s", out);
    int sent = -1, got = -1, acc = -1, rej = -1, inv = -1, missing = -1;
    ck_assert_int_eq(sscanf(sum,
                            "summary: %d records sent, %d decisions (accept %d, reject %d, "
                            "invalid %d), %d missing",
                            &sent, &got, &acc, &rej, &inv, &missing),
                     6);
    ck_assert_int_eq(sent, 200);
    ck_assert_int_eq(got, 200);
    ck_assert_int_eq(missing, 0);
    ck_assert_int_eq(acc + rej + inv, 200);
    ck_assert_int_eq(inv, 0); /* well-formed records are never invalid */
    /* one printed line per decided record, with the classifier's name */
    ck_assert_int_eq(count_lines(out, "channel "), 200);
    ck_assert_msg(strstr(out, " cuts\n") != NULL, "decision lines lack the classifier:\n%s", out);
    free(out);
}

START_TEST(test_example_push)
{
    example_against_daemon(0);
}
END_TEST

START_TEST(test_example_pub)
{
    example_against_daemon(1);
}
END_TEST

/* Nothing listening: the script gives up after --timeout and exits 1. */
START_TEST(test_example_without_daemon)
{
    char dir[256], plog[512], ep_in[64], ep_dec[64], py[1024];
    cct_tmpdir(dir, sizeof dir);
    require_python_zmq(dir);
    snprintf(plog, sizeof plog, "%s/example.log", dir);
    snprintf(ep_in, sizeof ep_in, "tcp://127.0.0.1:%d", cct_free_port());
    snprintf(ep_dec, sizeof ep_dec, "tcp://127.0.0.1:%d", cct_free_port());
    const char *argv[] = {
        PYTHON, script(py, sizeof py), "--records", ep_in, "--decisions", ep_dec, "-n",
        "5",    "--timeout",           "1",         NULL};
    int rc = run(argv, plog);
    char *out = cct_slurp(plog, NULL);
    ck_assert_msg(rc == 1, "example exited %d without a daemon:\n%s", rc, out);
    ck_assert_msg(strstr(out, "no decision from") && strstr(out, "is cryocleand running?"),
                  "unclear message:\n%s", out);
    free(out);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("pyexample");
    TCase *t = tcase_create("pyexample");
    tcase_set_timeout(t, 110);
    tcase_add_test(t, test_example_push);
    tcase_add_test(t, test_example_pub);
    tcase_add_test(t, test_example_without_daemon);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return cct_run(suite());
}
