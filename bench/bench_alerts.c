/* bench_alerts.c - measured false-alarm rate and detection delay of the
 * per-channel alert detectors (lib/monitor/cc_alert.h), against the targets
 * they were configured for.
 *
 * Streams: per channel and alert bin, artefacts ~ Poisson(rate*bin*p) and
 * clean records ~ Poisson(rate*bin*(1-p)) (a Poisson trigger stream with
 * independent Bernoulli(p) artefact labels, by Poisson thinning).
 *
 * 1. Steady: N channels for a simulated week at each baseline; every ALARM
 *    is a false alarm (cleared at once so the next one can be counted).
 *    Printed: false alarms per channel-day beside the configured target.
 * 2. Steps: after learning and one steady hour the artefact probability is
 *    multiplied by 1.5, 2 or 5 (trigger rate unchanged); the delay until the
 *    ALARM is printed beside the design ARL1 of the Poisson CUSUM (Markov
 *    chain, zero start) and the bins' duration.
 * 3. Bursty: the steady run again with artefact counts drawn from a negative
 *    binomial law (variance 3 x mean), which the dispersion correction of
 *    cc_alert.h has to absorb.
 *
 * usage: bench_alerts [--channels N] [--days D] [--bin S] [--fa-per-week F]
 *                     [--change C] [--seed X]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cc_alert.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static double unif(void)
{
    rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
}

static double normal(void)
{
    return sqrt(-2 * log(unif() + 1e-300)) * cos(2 * M_PI * unif());
}

static uint64_t poisson(double mu)
{
    if (mu <= 0) return 0;
    if (mu > 60) { /* normal approximation, fine for these bench rates */
        double x = floor(mu + sqrt(mu) * normal() + 0.5);
        return x < 0 ? 0 : (uint64_t)x;
    }
    double l = exp(-mu), p = 1;
    uint64_t k = 0;
    for (;;) {
        p *= unif();
        if (p <= l) return k;
        k++;
    }
}

/* Gamma(shape, 1) by Marsaglia and Tsang (shape < 1 boosted). */
static double gamma1(double shape)
{
    if (shape < 1) return gamma1(shape + 1) * pow(unif() + 1e-300, 1 / shape);
    double d = shape - 1.0 / 3, c = 1 / sqrt(9 * d);
    for (;;) {
        double x = normal(), v = 1 + c * x;
        if (v <= 0) continue;
        v = v * v * v;
        double u = unif();
        if (log(u + 1e-300) < 0.5 * x * x + d - d * v + d * log(v)) return d * v;
    }
}

/* Dispersion (variance / mean) of the artefact counts per bin; 1 = Poisson.
 * Above 1 the mean is drawn per bin from a gamma law (negative binomial). */
static double burst_dispersion = 1;

static uint64_t artefacts(double mu)
{
    if (burst_dispersion <= 1) return poisson(mu);
    double th = burst_dispersion - 1;
    return poisson(th * gamma1(mu / th));
}

typedef struct opts {
    int channels;
    double days, fa_week, change;
    uint32_t bin_s;
} opts;

static cc_alert_design *design(const opts *o)
{
    cc_alert_config c;
    cc_alert_config_default(&c);
    c.bin_s = o->bin_s;
    c.false_alarms_per_week = o->fa_week;
    c.min_change = o->change;
    c.reminder_s = 0;
    c.auto_clear_bins = 0;
    cc_err e = {0};
    cc_alert_design *d = cc_alert_design_new(&c, &e);
    if (!d) {
        fprintf(stderr, "bench_alerts: %s\n", e.msg);
        exit(1);
    }
    return d;
}

/* Feeds one bin of a channel with trigger rate `rate` (Hz), artefact
 * probability p; returns the new state if an event happened, else -1. */
static int feed(cc_alert *a, double rate, double p, uint32_t bin_s, uint64_t t, int *cause)
{
    uint64_t k = artefacts(rate * bin_s * p), n = k + poisson(rate * bin_s * (1 - p));
    cc_alert_event ev;
    if (!cc_alert_bin(a, n, k, t, &ev)) return -1;
    *cause = ev.cause;
    return ev.to;
}

static void steady(const opts *o, const cc_alert_design *d, double rate, double p)
{
    uint64_t bins = (uint64_t)(o->days * 86400.0 / o->bin_s);
    uint64_t alarms = 0, warnings = 0, by_p = 0, by_b = 0, learn_bins = 0;
    for (int ch = 0; ch < o->channels; ch++) {
        cc_alert *a = cc_alert_new(d, (uint32_t)ch, 0);
        int learned = 0;
        for (uint64_t b = 0; b < bins; b++) {
            uint64_t t = (b + 1) * o->bin_s * 1000000000ull;
            int cause, to = feed(a, rate, p, o->bin_s, t, &cause);
            if (!learned) learn_bins++;
            if (to == CC_ALERT_OK && cause == CC_AC_LEARNED) learned = 1;
            if (to == CC_ALERT_WARNING) warnings++;
            if (to == CC_ALERT_ALARM) {
                alarms++;
                by_p += cause == CC_AC_POISSON;
                by_b += cause == CC_AC_BERNOULLI;
                cc_alert_event ev;
                cc_alert_clear(a, t, &ev);
            }
        }
        cc_alert_free(&a);
    }
    double ch_days = (double)o->channels * ((double)(bins * o->bin_s) / 86400.0) -
                     (double)learn_bins * o->bin_s / 86400.0;
    double target = o->fa_week / 7.0, got = (double)alarms / ch_days;
    printf("  %5.2f/bin  %4.2f  %9.1f  %7llu  %8.4f  %8.4f  %6.2f  %6llu/%-6llu  %8.3f\n",
           rate * o->bin_s * p, p, ch_days, (unsigned long long)alarms, got, target, got / target,
           (unsigned long long)by_p, (unsigned long long)by_b, (double)warnings / ch_days);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void step(const opts *o, const cc_alert_design *d, double rate, double p, double f)
{
    const uint32_t warm = 60 + 360; /* learning + one steady hour */
    const uint64_t cap = 86400 / o->bin_s;
    uint64_t *delay = calloc((size_t)o->channels, sizeof *delay);
    int detected = 0, early = 0;
    for (int ch = 0; ch < o->channels; ch++) {
        cc_alert *a = cc_alert_new(d, (uint32_t)ch, 0);
        uint64_t b = 0, t;
        int cause;
        for (; b < warm; b++) {
            t = (b + 1) * o->bin_s * 1000000000ull;
            if (feed(a, rate, p, o->bin_s, t, &cause) == CC_ALERT_ALARM) {
                cc_alert_event ev;
                cc_alert_clear(a, t, &ev);
                early++;
            }
        }
        double p1 = p * f > 1 ? 1 : p * f;
        uint64_t k;
        for (k = 1; k <= cap; k++) {
            t = (b + k) * o->bin_s * 1000000000ull;
            if (feed(a, rate, p1, o->bin_s, t, &cause) == CC_ALERT_ALARM) break;
        }
        delay[ch] = k;
        detected += k <= cap;
        cc_alert_free(&a);
    }
    qsort(delay, (size_t)o->channels, sizeof *delay, cmp_u64);
    double mean = 0;
    for (int i = 0; i < o->channels; i++) mean += (double)delay[i];
    mean /= o->channels;
    double mu0 = rate * o->bin_s * p, mu = mu0 > CC_ALERT_MU_MIN ? mu0 : CC_ALERT_MU_MIN;
    double kref = (o->change * mu - mu) / log(o->change);
    double arl1 = cc_alert_arl_poisson(mu * f, kref, cc_alert_design_h(d, mu), 0);
    printf("  %5.2f/bin  x%-4.1f  %7.1f  %6llu  %7.1f  %8.1f  %8.0f  %5.1f%%  %5d\n", mu0, f, mean,
           (unsigned long long)delay[o->channels / 2], arl1, mean * o->bin_s,
           (double)delay[o->channels * 9 / 10] * o->bin_s, 100.0 * detected / o->channels, early);
    free(delay);
}

int main(int argc, char **argv)
{
    opts o = {.channels = 100, .days = 7, .fa_week = 1, .change = 2, .bin_s = 10};
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v && strcmp(argv[i], "--channels") == 0)
            o.channels = atoi(v), i++;
        else if (v && strcmp(argv[i], "--days") == 0)
            o.days = atof(v), i++;
        else if (v && strcmp(argv[i], "--bin") == 0)
            o.bin_s = (uint32_t)atoi(v), i++;
        else if (v && strcmp(argv[i], "--fa-per-week") == 0)
            o.fa_week = atof(v), i++;
        else if (v && strcmp(argv[i], "--change") == 0)
            o.change = atof(v), i++;
        else if (v && strcmp(argv[i], "--seed") == 0)
            rng_state = strtoull(v, NULL, 0) | 1, i++;
        else {
            fprintf(stderr,
                    "usage: bench_alerts [--channels N] [--days D] [--bin S] [--fa-per-week F] "
                    "[--change C] [--seed X]\n");
            return 2;
        }
    }
    if (o.channels < 1 || o.bin_s < 1 || !(o.days > 0)) return 2;
    clock_t c0 = clock();
    cc_alert_design *d = design(&o);
    double design_s = (double)(clock() - c0) / CLOCKS_PER_SEC;
    printf("alert bench: %d channels, %.1f simulated days, %u-s bins, target %.2f false alarms "
           "per channel-week, smallest change x%.1f\n",
           o.channels, o.days, o.bin_s, o.fa_week, o.change);
    printf("design: ARL0 %.0f bins per detector (2 detectors), thresholds computed in %.2f s; "
           "hP(mu0): 0.3 -> %.2f, 1 -> %.2f, 3 -> %.2f, 10 -> %.2f\n\n",
           cc_alert_design_arl0(d), design_s, cc_alert_design_h(d, 0.3), cc_alert_design_h(d, 1),
           cc_alert_design_h(d, 3), cc_alert_design_h(d, 10));
    const double rates[] = {0.3, 1.0, 3.0, 10.0}, p0 = 0.1;
    printf("1. steady streams (trigger rate r, artefact fraction p): false alarms\n");
    printf("  %9s  %4s  %9s  %7s  %8s  %8s  %6s  %13s  %8s\n", "mu0", "p", "ch-days", "alarms",
           "per ch-d", "target", "ratio", "poisson/bern", "warn/ch-d");
    for (int i = 0; i < 4; i++) steady(&o, d, rates[i], p0);
    printf("\n2. steps of the artefact fraction after 1 h steady (trigger rate unchanged)\n");
    printf("  %9s  %5s  %7s  %6s  %7s  %8s  %8s  %6s  %5s\n", "mu0", "step", "mean", "median",
           "ARL1", "mean s", "p90 s", "found", "early");
    printf("  %9s  %5s  %7s  %6s  %7s  %8s  %8s  %6s  %5s\n", "", "", "bins", "bins", "design", "",
           "", "(1 d)", "FA");
    const double steps[] = {1.5, 2.0, 5.0};
    for (int i = 0; i < 4; i++)
        for (int s = 0; s < 3; s++) step(&o, d, rates[i], p0, steps[s]);
    burst_dispersion = 3;
    printf("\n3. bursty artefacts (counts per bin negative binomial, variance = 3 x mean): "
           "false alarms\n");
    printf("  %9s  %4s  %9s  %7s  %8s  %8s  %6s  %13s  %8s\n", "mu0", "p", "ch-days", "alarms",
           "per ch-d", "target", "ratio", "poisson/bern", "warn/ch-d");
    for (int i = 1; i < 4; i++) steady(&o, d, rates[i], p0);
    printf("\ncpu %.1f s\n", (double)clock() / CLOCKS_PER_SEC);
    cc_alert_design_free(&d);
    return 0;
}
