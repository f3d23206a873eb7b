/* progress.h - a one-line progress bar for long jobs on a terminal.
 *
 * "sim  [#########.........]  45.0%  12345/27000  8.1k rec/s  ETA 0:02"
 * Redrawn at most 10 times per second on stderr when it is a terminal; when
 * stderr is not a terminal a plain line is printed every 10 % instead, so logs
 * stay readable. Not thread-safe: one owner updates it.
 */
#ifndef CC_PROGRESS_H
#define CC_PROGRESS_H

#include <stdint.h>

typedef struct cc_progress {
    const char *label;
    uint64_t total, done;
    double t0, last_draw;
    int tty, last_decile;
    const char *unit;
} cc_progress;

/* Starts a bar for total items of unit (e.g. "rec"). */
void cc_progress_start(cc_progress *p, const char *label, uint64_t total, const char *unit);

/* Sets the number of items done and redraws if due. */
void cc_progress_update(cc_progress *p, uint64_t done);

/* Draws the final state and ends the line. */
void cc_progress_finish(cc_progress *p);

#endif
