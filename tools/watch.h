/* watch.h - subscribe to a daemon's decisions and monitor and print them.
 * Shared by `cryoclean watch` and `cryoclean demo`. */
#ifndef CC_WATCH_H
#define CC_WATCH_H

#include <stdint.h>

typedef struct cc_watch_opts {
    const char *decisions; /* endpoint of the decision PUB (NULL: none) */
    const char *monitor;   /* endpoint of the monitor PUB (NULL: none) */
    double duration_s;     /* stop after this long (0: until Ctrl-C or count) */
    uint64_t count;        /* stop after this many decisions (0: no limit) */
    int every;             /* print every Nth decision line (0: none, 1: all) */
    int json;              /* print the monitor JSON lines raw */
} cc_watch_opts;

/* Runs until the duration or count is reached or SIGINT/SIGTERM; prints a
 * summary line per second and at the end. Returns the number of decisions seen,
 * or -1 on a socket error (message on stderr). */
int64_t cc_watch_run(const cc_watch_opts *o);

#endif
