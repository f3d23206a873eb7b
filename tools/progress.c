/* progress.c - see progress.h. */
#include "progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fmt_rate(char *buf, size_t len, double r)
{
    if (r >= 1e6)
        snprintf(buf, len, "%.1fM", r / 1e6);
    else if (r >= 1e3)
        snprintf(buf, len, "%.1fk", r / 1e3);
    else
        snprintf(buf, len, "%.0f", r);
}

static void draw(cc_progress *p, int final)
{
    double el = now_s() - p->t0;
    double frac = p->total ? (double)p->done / (double)p->total : 1.0;
    if (frac > 1.0) frac = 1.0;
    double rate = el > 0 ? (double)p->done / el : 0.0;
    double eta = rate > 0 && p->total > p->done ? (double)(p->total - p->done) / rate : 0.0;
    char r[32];
    fmt_rate(r, sizeof r, rate);
    if (p->tty) {
        char bar[31];
        int fill = (int)(frac * 30.0);
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r%s [%s] %5.1f%% %llu/%llu %s %s/s ETA %d:%02d\033[K", p->label, bar,
                100.0 * frac, (unsigned long long)p->done, (unsigned long long)p->total, r, p->unit,
                (int)eta / 60, (int)eta % 60);
        if (final) fputc('\n', stderr);
    } else {
        fprintf(stderr, "%s: %5.1f%% %llu/%llu %s %s/s\n", p->label, 100.0 * frac,
                (unsigned long long)p->done, (unsigned long long)p->total, r, p->unit);
    }
    fflush(stderr);
}

void cc_progress_start(cc_progress *p, const char *label, uint64_t total, const char *unit)
{
    *p = (cc_progress){.label = label, .total = total, .unit = unit ? unit : "it"};
    p->t0 = p->last_draw = now_s();
    p->tty = isatty(2);
    p->last_decile = 0;
}

void cc_progress_update(cc_progress *p, uint64_t done)
{
    p->done = done;
    if (p->tty) {
        double t = now_s();
        if (t - p->last_draw < 0.1) return;
        p->last_draw = t;
        draw(p, 0);
    } else {
        int dec = p->total ? (int)(10 * done / p->total) : 10;
        if (dec > p->last_decile && dec < 10) {
            p->last_decile = dec;
            draw(p, 0);
        }
    }
}

void cc_progress_finish(cc_progress *p)
{
    draw(p, 1);
}
