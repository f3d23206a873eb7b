/* bench_args.h - what bench_nn and bench_train share: their command line
 * (--seconds S, --no-torch, --models a,b, and --batch B where it applies),
 * the models they measure (the paper's four cards and the Cait CNN, paths
 * relative to the source root) and their clocks. */
#ifndef CC_BENCH_ARGS_H
#define CC_BENCH_ARGS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cc_nn.h"

/* Wall-clock seconds (CLOCK_MONOTONIC). */
static inline double bench_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of this thread: on a shared machine, time spent descheduled does
 * not count (everything runs in this thread: OpenBLAS has 1 thread). */
static inline double bench_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct bench_args {
    double seconds;
    int torch;        /* also run the PyTorch reference */
    size_t batch;     /* --batch (only when allowed) */
    const char *only; /* comma-separated model names, or NULL for all */
} bench_args;

static const struct bench_model {
    const char *name, *card;
} bench_models[] = {{"cnn", "conf/models/cnn.yaml"},   {"cnn-sev", "conf/models/cnn-sev.yaml"},
                    {"tscn", "conf/models/tscn.yaml"}, {"lstm", "conf/models/lstm.yaml"},
                    {"tst", "conf/models/tst.yaml"},   {"cait", "tests/golden/nn/cait-cnn.yaml"}};
#define BENCH_NMODELS (sizeof bench_models / sizeof bench_models[0])

/* Parses argv over the defaults in a; with_batch allows --batch. Prints the
 * usage of prog and returns -1 on anything else. */
static inline int bench_parse(int argc, char **argv, const char *prog, int with_batch,
                              bench_args *a)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            a->seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--no-torch"))
            a->torch = 0;
        else if (with_batch && !strcmp(argv[i], "--batch") && i + 1 < argc)
            a->batch = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--models") && i + 1 < argc)
            a->only = argv[++i];
        else {
            fprintf(stderr,
                    "usage: %s [--seconds S] [--no-torch]%s [--models a,b]\n"
                    "(run from the source root)\n",
                    prog, with_batch ? " [--batch B]" : "");
            return -1;
        }
    }
    return 0;
}

/* 1 when model k was asked for: its name is an item of the comma list. */
static inline int bench_wanted(const bench_args *a, size_t k)
{
    if (!a->only) return 1;
    const size_t n = strlen(bench_models[k].name);
    for (const char *p = a->only; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
        if (strcspn(p, ",") == n && !strncmp(p, bench_models[k].name, n)) return 1;
        if (!p[strcspn(p, ",")]) break;
    }
    return 0;
}

/* Loads model k's card, or says why on stderr (prog: the bench's name) and
 * returns NULL - the cards are found from the source root. */
static inline cc_nn_model *bench_load(size_t k, const char *prog)
{
    cc_err e;
    cc_nn_model *m = cc_nn_load(bench_models[k].card, &e);
    if (!m) fprintf(stderr, "%s: %s (run from the source root)\n", prog, e.msg);
    return m;
}

#endif
