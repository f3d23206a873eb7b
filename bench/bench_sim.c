/* bench_sim.c - simulator throughput on one core, beside two references.
 *
 *   bench_sim [SAMPLES [SECONDS]]
 *
 * Prints records/s of cc_sim_next() with the default module (class mix of
 * cc_sim_config_default), of noise-only records, the ratio to the 20,000
 * records/s target, and two references measured in the same run: a plain
 * memcpy of a record and one bare fftwf inverse real FFT of the same length
 * (FFTW_ESTIMATE, what a plain implementation would run; the simulator does
 * the real inverse FFT as a complex one of half the length, lib/sim/sim_noise.c).
 * Times are thread CPU time, so other load on a shared machine counts less.
 */
#include <fftw3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cc_sim.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); /* CPU time: the machine is shared */
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double run_sim(const cc_sim_config *cfg, double secs, uint32_t n)
{
    cc_err e = {{0}};
    cc_sim *s = cc_sim_new(cfg, 42, &e);
    if (!s) {
        fprintf(stderr, "bench_sim: %s\n", e.msg);
        exit(1);
    }
    cc_sim_record r;
    if (cc_sim_record_init(&r, n, &e)) exit(1);
    long count = 0;
    double t0 = now(), t;
    do {
        for (int k = 0; k < 64; k++)
            if (cc_sim_next(s, &r, &e)) {
                fprintf(stderr, "bench_sim: %s\n", e.msg);
                exit(1);
            }
        count += 64;
        t = now() - t0;
    } while (t < secs);
    cc_sim_record_release(&r);
    cc_sim_free(&s);
    return (double)count / t;
}

int main(int argc, char **argv)
{
    uint32_t n = argc > 1 ? (uint32_t)atoi(argv[1]) : 16384;
    double secs = argc > 2 ? atof(argv[2]) : 2.0;
    /* references first: FFTW_MEASURE planning below would leave wisdom that
     * speeds up later FFTW_ESTIMATE plans */
    float *a = fftwf_malloc(sizeof(float) * n), *b = fftwf_malloc(sizeof(float) * n);
    fftwf_complex *c = fftwf_malloc(sizeof(fftwf_complex) * (n / 2 + 1));
    memset(a, 0, sizeof(float) * n);
    memset(c, 0, sizeof(fftwf_complex) * (n / 2 + 1));
    fftwf_plan p = fftwf_plan_dft_c2r_1d((int)n, c, b, FFTW_ESTIMATE);
    long k = 0;
    double t0 = now(), t;
    do {
        for (int j = 0; j < 256; j++) {
            a[j % n] += 1.0f;
            memcpy(b, a, sizeof(float) * n);
        }
        k += 256;
        t = now() - t0;
    } while (t < secs / 2);
    double mc = (double)k / t;
    k = 0;
    t0 = now();
    do {
        for (int j = 0; j < 64; j++) fftwf_execute(p);
        k += 64;
        t = now() - t0;
    } while (t < secs / 2);
    double ff = (double)k / t;
    fftwf_destroy_plan(p);
    fftwf_free(a);
    fftwf_free(b);
    fftwf_free(c);

    cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cfg.n_samples = n;
    double mixed = run_sim(&cfg, secs, n);
    memset(cfg.class_weight, 0, sizeof cfg.class_weight);
    cfg.class_weight[CC_SIM_NOISE] = 1.0;
    double noise = run_sim(&cfg, secs, n);
    cfg.class_weight[CC_SIM_NOISE] = 0.0;
    cfg.class_weight[CC_SIM_EVENT] = 1.0;
    double events = run_sim(&cfg, secs, n);
    cc_sim_config_default(&cfg);
    cfg.n_samples = n;
    cfg.fft_measure = 1;
    double measured = run_sim(&cfg, secs, n);

    printf("bench_sim: %u samples/record, one core, %.1f s per figure\n", n, secs);
    printf("  %-34s %12.0f records/s  (%.2fx the 20k target)\n", "simulator, default class mix",
           mixed, mixed / 20000.0);
    printf("  %-34s %12.0f records/s  (%.2fx)\n", "simulator, noise only", noise, noise / 20000.0);
    printf("  %-34s %12.0f records/s  (%.2fx)\n", "simulator, event pulses only", events,
           events / 20000.0);
    printf("  %-34s %12.0f records/s  (%.2fx)\n", "simulator, mix, fft_measure: true", measured,
           measured / 20000.0);
    printf("  %-34s %12.0f records/s  (sim mix = %.2f of it)\n",
           "reference: bare fftwf c2r, ESTIMATE", ff, mixed / ff);
    printf("  %-34s %12.0f records/s  (sim mix = %.3f of it)\n", "reference: memcpy of a record",
           mc, mixed / mc);
    return 0;
}
