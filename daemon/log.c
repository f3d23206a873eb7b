/* log.c - see log.h. Process-wide state is fine here: daemon/, not lib/. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define LIMIT_KEYS     64
#define LIMIT_INTERVAL 10.0 /* seconds between lines per key */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int max_level = LOG_INFO;
static struct {
    double last;
    unsigned long suppressed;
} limits[LIMIT_KEYS];

static const char *const names[] = {"emerg", "alert",  "crit", "error",
                                    "warn",  "notice", "info", "debug"};

void log_set_level(int level)
{
    pthread_mutex_lock(&lock);
    max_level = level;
    pthread_mutex_unlock(&lock);
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void vlog(int level, const char *suffix, const char *fmt, va_list ap)
{
    static int journal = -1;
    if (journal < 0) journal = getenv("JOURNAL_STREAM") != NULL;
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    if (journal) {
        fprintf(stderr, "<%d>%s%s\n", level, line, suffix);
    } else {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        localtime_r(&ts.tv_sec, &tm);
        fprintf(stderr, "%02d:%02d:%02d.%03ld cryocleand %s: %s%s\n", tm.tm_hour, tm.tm_min,
                tm.tm_sec, ts.tv_nsec / 1000000, names[level & 7], line, suffix);
    }
    fflush(stderr);
}

void log_msg(int level, const char *fmt, ...)
{
    pthread_mutex_lock(&lock);
    if (level <= max_level) {
        va_list ap;
        va_start(ap, fmt);
        vlog(level, "", fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&lock);
}

void log_limited(int key, int level, const char *fmt, ...)
{
    key &= LIMIT_KEYS - 1;
    pthread_mutex_lock(&lock);
    double t = mono();
    if (level <= max_level) {
        if (limits[key].last == 0.0 || t - limits[key].last >= LIMIT_INTERVAL) {
            char suffix[96] = "";
            if (limits[key].suppressed)
                snprintf(suffix, sizeof suffix, " (%lu similar messages suppressed)",
                         limits[key].suppressed);
            limits[key].last = t;
            limits[key].suppressed = 0;
            va_list ap;
            va_start(ap, fmt);
            vlog(level, suffix, fmt, ap);
            va_end(ap);
        } else {
            limits[key].suppressed++;
        }
    }
    pthread_mutex_unlock(&lock);
}
