/* alert_sink.h - delivers alert events to the journal and to a command.
 *
 * Journal: every event becomes one sd_journal_send() entry with MESSAGE=,
 * PRIORITY= (ALARM 2 crit, WARNING 4 warning, back to OK 5 notice, baseline
 * learned 6 info), CHANNEL=, ALERT= (new state), ALERT_FROM=, ALERT_CAUSE=,
 * CUSUM_RATIO=, so crews can run `journalctl -u cryocleand CHANNEL=7`.
 *
 * Command (optional, as MIDAS "execute command" alarms): an absolute path run
 * with posix_spawn() for events that enter or leave ALARM and for reminders
 * (and for WARNING changes too when `warnings` is set), as
 *     COMMAND CHANNEL STATE FROM CAUSE RATIO MESSAGE
 * with the same values in CRYOCLEAN_ALERT_CHANNEL, _STATE, _FROM, _CAUSE,
 * _RATIO, _MESSAGE, _TIME_NS added to the environment, stdin from /dev/null,
 * in its own process group. Delivery never waits: cc_alert_sink_poll()
 * (called from the daemon's loop) reaps finished commands and kills the
 * process group of any still running after timeout_s; at most max_running run
 * at once and further events are counted as dropped.
 * Not thread-safe: use from the thread that owns the monitor.
 */
#ifndef CC_ALERT_SINK_H
#define CC_ALERT_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "cc_alert.h"
#include "cc_err.h"
#include "cc_yaml.h"

#define CC_ALERT_SINK_PATH 256

typedef struct cc_alert_sink_config {
    int journal;                      /* 1 */
    char command[CC_ALERT_SINK_PATH]; /* "" = none */
    double timeout_s;                 /* 10 */
    int max_running;                  /* 4 */
    int warnings;                     /* also run the command for WARNING changes (0) */
} cc_alert_sink_config;

typedef struct cc_alert_sink_stats {
    uint64_t journaled, spawned, spawn_failed, timed_out, dropped, exited_ok, exited_bad;
} cc_alert_sink_stats;

typedef struct cc_alert_sink cc_alert_sink;

/* Defaults: journal on, no command, 10 s timeout, 4 running. */
void cc_alert_sink_config_default(cc_alert_sink_config *c);

/* Reads the `alerts.notify:` mapping (journal, command, timeout_s,
 * max_running, warnings) over c; the command must be an absolute path to an
 * executable file. */
int cc_alert_sink_config_from_yaml(const cc_ynode *map, cc_alert_sink_config *c, cc_err *e);

/* Creates a sink. NULL with e on a bad configuration. */
cc_alert_sink *cc_alert_sink_new(const cc_alert_sink_config *c, cc_err *e);

/* Delivers one event (journal, then command if configured and relevant). */
void cc_alert_sink_deliver(cc_alert_sink *s, const cc_alert_event *ev, uint64_t now_ns);

/* Reaps finished commands and kills overdue ones; returns how many still run. */
int cc_alert_sink_poll(cc_alert_sink *s, uint64_t now_ns);

/* Counters so far. */
void cc_alert_sink_stats_get(const cc_alert_sink *s, cc_alert_sink_stats *out);

/* Formats the journal fields of ev as "KEY=value" strings into f[max][len];
 * returns the count (used by deliver, exposed for tests). */
size_t cc_alert_sink_journal_fields(const cc_alert_event *ev, char f[][320], size_t max);

/* Kills the commands still running, frees *s and sets it to NULL. */
void cc_alert_sink_free(cc_alert_sink **s);

#endif
