/* bench_nn.c - records/s of the nn engine beside PyTorch CPU, same run.
 *
 *   cd <source root> && OPENBLAS_NUM_THREADS=1 <build>/bench/bench_nn [--seconds S]
 *        [--no-torch] [--models cnn,cnn-sev,tscn,lstm,tst,cait]
 *
 * For each model (conf/models/{cnn,cnn-sev,tscn,lstm,tst}.yaml, the Cait CNN from
 * tests/golden/nn/cait-cnn.yaml) and batch 1, 32, 256 it times this engine
 * (one thread, one workspace) and, through popen, bench/bench_nn_torch.py
 * (PyTorch 1.13, torch.set_num_threads(1), the same card and weights), and
 * prints records/s, the ratio, and the engine's GFLOP/s against the sgemm
 * peak measured at the start of the run. Both sides time groups of calls
 * (>= 5 ms each) in thread CPU time and report the best group over a window
 * of --seconds (default 2): robust against other processes on a shared
 * machine. Not a test.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_args.h"
#include "cc_nn.h"

void openblas_set_num_threads(int num_threads);

/* CPU time of this thread: on a shared machine, time spent descheduled does
 * not count (everything runs in this thread: OpenBLAS has 1 thread). */
static double sgemm_peak(double seconds)
{
    const int n = 1024;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n),
          *c = malloc(sizeof(float) * n * n);
    for (int i = 0; i < n * n; i++) a[i] = (float)(i % 7) * 0.1f, b[i] = (float)(i % 5) * 0.2f;
    double best = 0, t_end = bench_wall() + seconds;
    do {
        double t0 = bench_cpu();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c,
                    n);
        double g = 2.0 * n * n * n / (bench_cpu() - t0) / 1e9;
        best = g > best ? g : best;
    } while (bench_wall() < t_end);
    free(a), free(b), free(c);
    return best;
}

static double bench_engine(const cc_nn_model *m, size_t B, double seconds)
{
    cc_nn_ws *w = cc_nn_ws_new(m, B);
    const size_t L = cc_nn_input_channels(m) * cc_nn_input_len(m); /* values per record */
    float *x = malloc(B * L * sizeof *x), *p = malloc(B * sizeof *p);
    for (size_t i = 0; i < B; i++) cc_nn_test_input(5, i % 16, x + i * L, L);
    cc_err e;
    cc_nn_score(m, w, x, B, p, &e); /* warm-up */
    /* best (minimum) CPU time per call over groups of k calls lasting >= 5 ms,
     * within a window of `seconds` */
    double t1 = bench_cpu();
    cc_nn_score(m, w, x, B, p, &e);
    double one = bench_cpu() - t1;
    size_t k = one > 0.005 ? 1 : (size_t)(0.005 / (one > 1e-7 ? one : 1e-7)) + 1;
    size_t groups = 0;
    double t0 = bench_wall(), best = 1e30;
    do {
        t1 = bench_cpu();
        for (size_t i = 0; i < k; i++)
            if (cc_nn_score(m, w, x, B, p, &e)) {
                fprintf(stderr, "bench_nn: %s\n", e.msg);
                exit(1);
            }
        double dt = (bench_cpu() - t1) / (double)k;
        if (dt > 0 && dt < best) best = dt;
        groups++;
    } while (bench_wall() - t0 < seconds || groups < 3);
    cc_nn_ws_free(&w);
    free(x), free(p);
    return (double)B / best;
}

int main(int argc, char **argv)
{
    bench_args args = {.seconds = 2.0, .torch = 1};
    if (bench_parse(argc, argv, "bench_nn", 0, &args)) return 2;
    double seconds = args.seconds;
    int torch = args.torch;
    openblas_set_num_threads(1);
    const size_t batches[] = {1, 32, 256};
    double peak = sgemm_peak(2.0);
    printf("sgemm peak (1024^3, 1 thread): %.1f GFLOP/s\n\n", peak);
    printf("| model | MFLOP/rec | batch | cryoclean rec/s | PyTorch rec/s | ratio | cryoclean "
           "GFLOP/s | %% of sgemm peak |\n|---|---|---|---|---|---|---|---|\n");
    fflush(stdout);
    for (size_t k = 0; k < BENCH_NMODELS; k++) {
        if (!bench_wanted(&args, k)) continue;
        cc_nn_model *m = bench_load(k, "bench_nn");
        if (!m) return 1;
        double ref[3] = {0, 0, 0};
        if (torch) {
            char cmd[1024];
            snprintf(cmd, sizeof cmd, "/usr/bin/python3 bench/bench_nn_torch.py %s %g 1 32 256",
                     bench_models[k].card, seconds);
            FILE *p = popen(cmd, "r");
            char line[256];
            while (p && fgets(line, sizeof line, p)) {
                unsigned b;
                double r;
                if (sscanf(line, "%u %lf", &b, &r) == 2)
                    for (int j = 0; j < 3; j++)
                        if (batches[j] == b) ref[j] = r;
            }
            if (p) pclose(p);
        }
        double mf = cc_nn_flops(m) / 1e6;
        for (int j = 0; j < 3; j++) {
            double r = bench_engine(m, batches[j], seconds), g = r * mf / 1e3;
            char rs[32] = "-", ratio[32] = "-";
            if (ref[j] > 0) {
                snprintf(rs, sizeof rs, "%.0f", ref[j]);
                snprintf(ratio, sizeof ratio, "%.2fx", r / ref[j]);
            }
            printf("| %s | %.2f | %zu | %.0f | %s | %s | %.1f | %.0f%% |\n", bench_models[k].name,
                   mf, batches[j], r, rs, ratio, g, 100.0 * g / peak);
            fflush(stdout);
        }
        cc_nn_free(&m);
    }
    return 0;
}
