/* bench_train.c - training records/s of cryoclean beside PyTorch CPU, same run.
 *
 *   cd <source root> && OPENBLAS_NUM_THREADS=1 <build>/bench/bench_train [--seconds S]
 *        [--no-torch] [--batch B] [--models cnn,cait,tscn]
 *
 * One training step = the training forward of a batch (default 64), the
 * class-weighted loss, the backward into the flat gradient buffer and one
 * Adam step (lib/nn + cc_train_adam_step) - what `cryoclean train` does per
 * batch, without the data loading and augmentation. The PyTorch side
 * (bench/bench_train_torch.py through popen, torch.set_num_threads(1)) runs
 * the same card as a CardNet: zero_grad, forward, the same loss, backward,
 * torch.optim.Adam.step. Both time groups of steps in thread CPU time and
 * report the best group over a window of --seconds (default 3), as
 * bench_nn.c does. All five cards train, with training-mode BatchNorm on both
 * sides (the engine's default) and dropout active here but the identity in
 * CardNet.
 * Not a test.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_args.h"
#include "cc_nn.h"
#include "cc_train.h"

/* Training records/s of one thread, or -1 (with why) if no workspace. */
static double bench_engine(cc_nn_model *m, size_t B, double seconds, char *why, size_t wlen)
{
    cc_err e = {{0}};
    cc_nn_tws *w = cc_nn_tws_new(m, B, &e);
    if (!w) {
        snprintf(why, wlen, "%s", e.msg);
        return -1;
    }
    /* values per record: input channels x length */
    const size_t L = cc_nn_input_channels(m) * cc_nn_input_len(m), K = cc_nn_n_outputs(m),
                 nb = cc_nn_buf_len(m);
    float *x = malloc(B * L * sizeof *x), *dout = malloc(B * K * sizeof *dout);
    float *g = calloc(nb, sizeof *g), *am = calloc(nb, sizeof *am), *av = calloc(nb, sizeof *av);
    uint8_t *lab = malloc(B);
    for (size_t i = 0; i < B; i++) {
        cc_nn_test_input(7, i, x + i * L, L);
        lab[i] = i % 3 != 0;
    }
    uint64_t t = 0;
    double best = 1e30, t0 = bench_wall();
    int groups = 0;
    for (;;) {
        double c0 = bench_cpu();
        for (int k = 0; k < 5; k++) {
            const float *y = cc_nn_train_forward(m, w, x, B, &e);
            cc_nn_loss(m, y, lab, B, 0.75, 1.5, dout, &e);
            memset(g, 0, nb * sizeof *g);
            cc_nn_backward(m, w, dout, g, NULL, &e);
            cc_train_adam_step(m, g, am, av, ++t, 1e-6, 0.9, 0.999, 1e-8);
        }
        double dt = (bench_cpu() - c0) / 5;
        if (dt > 0 && dt < best) best = dt;
        if (++groups >= 3 && bench_wall() - t0 >= seconds) break;
    }
    free(x), free(dout), free(g), free(am), free(av), free(lab);
    cc_nn_tws_free(&w);
    return (double)B / best;
}

int main(int argc, char **argv)
{
    bench_args args = {.seconds = 3, .torch = 1, .batch = 64};
    if (bench_parse(argc, argv, "bench_train", 1, &args)) return 2;
    double seconds = args.seconds;
    int torch = args.torch;
    size_t B = args.batch;
    openblas_set_num_threads(1);
    printf("training step (forward, loss, backward, Adam), batch %zu, 1 thread\n\n", B);
    printf("| model | params | cryoclean rec/s | PyTorch rec/s | ratio |\n|---|---|---|---|---|\n");
    fflush(stdout);
    for (size_t k = 0; k < BENCH_NMODELS; k++) {
        if (!bench_wanted(&args, k)) continue;
        cc_nn_model *m = bench_load(k, "bench_train");
        if (!m) return 1;
        char why[512] = "";
        double r = bench_engine(m, B, seconds, why, sizeof why), ref = 0;
        if (r < 0) fprintf(stderr, "bench_train: %s: %s\n", bench_models[k].name, why);
        if (torch) {
            char cmd[1024], line[256];
            snprintf(cmd, sizeof cmd, "/usr/bin/python3 bench/bench_train_torch.py %s %g %zu",
                     bench_models[k].card, seconds, B);
            FILE *p = popen(cmd, "r");
            while (p && fgets(line, sizeof line, p))
                if (!strncmp(line, "rec/s ", 6)) ref = atof(line + 6);
            if (p) pclose(p);
        }
        char rs[32] = "-", cs[64] = "no workspace", ratio[32] = "-";
        if (ref > 0) snprintf(rs, sizeof rs, "%.0f", ref);
        if (r > 0) snprintf(cs, sizeof cs, "%.0f", r);
        if (r > 0 && ref > 0) snprintf(ratio, sizeof ratio, "%.2fx", r / ref);
        printf("| %s | %zu | %s | %s | %s |\n", bench_models[k].name, cc_nn_n_params(m), cs, rs,
               ratio);
        fflush(stdout);
        cc_nn_free(&m);
    }
    return 0;
}
