/* log.h - the daemon's log: levelled lines on stderr, journald-aware, rate-limited.
 *
 * Under systemd (JOURNAL_STREAM set) each line starts with "<N>" so journald
 * records the priority; on a terminal lines carry a time stamp and level.
 * Bad input from the network is logged through log_limited(): the first
 * occurrence of each key at once, then at most one line per interval with the
 * number suppressed in between, so a broken publisher cannot flood the journal.
 * Thread-safe.
 */
#ifndef CCD_LOG_H
#define CCD_LOG_H

#include <syslog.h>

/* Sets the maximum level logged (LOG_ERR .. LOG_DEBUG). */
void log_set_level(int level);

/* Logs one line at level (a syslog level). */
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Rate-limited log for repeated events: key is a small integer (< 64). */
void log_limited(int key, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_err(...)    log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)   log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)   log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)  log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
