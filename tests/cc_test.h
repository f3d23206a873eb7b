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
