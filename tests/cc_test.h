/* cc_test.h - helpers shared by the Check test programs.
 *
 * Paths come from the environment that tests/meson.build sets:
 * CC_SOURCE_ROOT, CC_BUILD_ROOT, CC_PLUGIN_DIR, CC_SHARED_DIR.
 */
#ifndef CC_TEST_H
#define CC_TEST_H

#include <check.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

/* Returns the value of an environment variable the test harness sets, or
 * aborts the test with a message. */
const char *cct_env(const char *name);

/* Formats "$CC_SOURCE_ROOT/rel" (or BUILD/PLUGIN/SHARED via the macros below)
 * into a static per-call buffer the caller must copy if kept. */
const char *cct_path(const char *envvar, const char *rel, char *buf, size_t len);
#define CCT_SRC(rel, buf)   cct_path("CC_SOURCE_ROOT", rel, buf, sizeof buf)
#define CCT_BUILD(rel, buf) cct_path("CC_BUILD_ROOT", rel, buf, sizeof buf)

/* Makes a fresh temporary directory under $TMPDIR (or /tmp); path into buf. */
const char *cct_tmpdir(char *buf, size_t len);

/* Writes len bytes to path; aborts the test on failure. */
void cct_write_file(const char *path, const void *data, size_t len);

/* The whole file at path, NUL-terminated, in a buffer the caller frees;
 * its length in *len unless len is NULL. Aborts the test if it cannot be read. */
char *cct_slurp(const char *path, size_t *len);

/* Returns a free TCP port on 127.0.0.1 (bound and released; race-tolerant
 * enough for tests). */
int cct_free_port(void);

/* Runs a Check suite made by make_suite(); returns the exit status for main().
 * Prints the "N passed, N failed" line at the end. The tests' cct_tmpdir()s go
 * under one $TMPDIR/cctest-PROGRAM.XXXXXX, removed after a clean run and kept
 * (its path printed) after a failure or with CCT_KEEP_TMP set. */
int cct_run(Suite *s);

/* ---- running the real daemon ---- */

/* A datagram socket speaking the systemd notify protocol, bound at path. */
typedef struct cct_notify {
    int fd;
    char path[256];
    /* A reader thread keeps draining the socket, as systemd does: a daemon
     * whose notify datagrams are not read would block in sd_notify(). */
    pthread_t reader;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char **msgs;         /* every datagram received, in order */
    size_t n, cap, next; /* next: first message cct_notify_wait has not consumed */
    int stop;
} cct_notify;

/* Binds a notify socket in dir; aborts on failure. */
void cct_notify_open(cct_notify *n, const char *dir);

/* Waits up to timeout_ms for a notify datagram containing needle, looking
 * only at datagrams not consumed by earlier calls; copies it into buf and
 * consumes it and everything before it. Returns 1 when found, 0 on timeout. */
int cct_notify_wait(cct_notify *n, const char *needle, int timeout_ms, char *buf, size_t len);

void cct_notify_close(cct_notify *n);

/* Starts build/daemon/cryocleand with args (NULL-terminated, without argv[0])
 * and NOTIFY_SOCKET=notify_path, stderr to log_path. Returns the pid. */
pid_t cct_daemon_start(const char *notify_path, const char *log_path, const char *const *args);

/* Sends sig and waits up to timeout_ms for exit; returns the exit status
 * (or 128+signal); aborts the test if the daemon does not exit. */
int cct_daemon_stop(pid_t pid, int sig, int timeout_ms);

/* ---- the daemon under test, with its sockets ---- */
#include <zmq.h>

#include "cc_proto.h"

typedef struct cct_daemon {
    char dir[256], conf[512], log[512];
    char ep_in[64], ep_dec[64], ep_clean[64], ep_mon[64], ep_ctl[64];
    cct_notify notify;
    pid_t pid;
    void *ctx, *push, *dec, *clean, *mon; /* push: records in; dec/clean/mon: SUBs */
} cct_daemon;

/* Makes a temp dir and picks five free loopback ports (input, decisions,
 * clean, monitor, control). */
void cct_daemon_init(cct_daemon *v);

/* Writes v->conf: a PULL input bound at ep_in, the three PUB outputs, the
 * control REP at ep_ctl, plugin_dir = $CC_PLUGIN_DIR, then body (classifiers, channels, ...). */
void cct_daemon_conf(cct_daemon *v, const char *body);

/* Starts the daemon on v->conf with a notify socket, waits for READY=1 and
 * connects the PUSH and the decision (dec/), clean (rec/) and monitor
 * (mon/daemon/) SUB sockets. extra_args (NULL-terminated, may be NULL) are
 * appended to the command line. */
void cct_daemon_up(cct_daemon *v, const char *const *extra_args);

/* Closes the sockets and the notify socket (the process is stopped with
 * cct_daemon_stop()). */
void cct_daemon_down(cct_daemon *v);

/* Receives one decision from a dec/ SUB within timeout_ms; checks the topic
 * matches its channel. Returns 1, or 0 on timeout. */
int cct_recv_decision(void *s, cc_decision *d, int timeout_ms);

/* Reads the newest mon/daemon/ JSON into buf (waits up to 3 s for one). */
void cct_monitor_latest(cct_daemon *v, char *buf, size_t len);

/* Waits until the monitor has counted `received` messages with nothing in
 * flight and returns its JSON in buf. */
void cct_monitor_settled(cct_daemon *v, unsigned long long received, char *buf, size_t len);

/* The unsigned number after "key": in a JSON text; aborts if absent. */
unsigned long long cct_json_u64(const char *json, const char *key);

/* Asserts received == accepted + rejected + invalid + undecidable. */
void cct_check_identity(const char *json);

#endif
