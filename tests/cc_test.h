/* cc_test.h - helpers shared by the Check test programs.
 *
 * Paths come from the environment that tests/meson.build sets:
 * CC_SOURCE_ROOT, CC_BUILD_ROOT, CC_PLUGIN_DIR, CC_SHARED_DIR.
 */
#ifndef CC_TEST_H
#define CC_TEST_H

#include <check.h>
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

/* Returns a free TCP port on 127.0.0.1 (bound and released; race-tolerant
 * enough for tests). */
int cct_free_port(void);

/* Runs a Check suite made by make_suite(); returns the exit status for main().
 * Prints the "N passed, N failed" line at the end. */
int cct_run(Suite *s);

#endif

/* ---- running the real daemon ---- */

/* A datagram socket speaking the systemd notify protocol, bound at path. */
typedef struct cct_notify {
    int fd;
    char path[256];
} cct_notify;

/* Binds a notify socket in dir; aborts on failure. */
void cct_notify_open(cct_notify *n, const char *dir);

/* Waits up to timeout_ms for a notify datagram containing needle; copies the
 * datagram into buf. Returns 1 when found, 0 on timeout. Datagrams without the
 * needle are skipped (and appended to log if non-NULL). */
int cct_notify_wait(cct_notify *n, const char *needle, int timeout_ms, char *buf, size_t len);

void cct_notify_close(cct_notify *n);

/* Starts build/daemon/cryocleand with args (NULL-terminated, without argv[0])
 * and NOTIFY_SOCKET=notify_path, stderr to log_path. Returns the pid. */
pid_t cct_daemon_start(const char *notify_path, const char *log_path, const char *const *args);

/* Sends sig and waits up to timeout_ms for exit; returns the exit status
 * (or 128+signal); aborts the test if the daemon does not exit. */
int cct_daemon_stop(pid_t pid, int sig, int timeout_ms);
