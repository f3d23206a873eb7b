/* cmd_train.c - `cryoclean train CONFIG.yaml`: train a model card (lib/train).
 *
 * Every knob is in the YAML file (docs/TRAINING.md); the command line only
 * overrides the few that change between runs of one config (epochs, output,
 * seed) and says whether to resume. Progress goes to stderr (one line
 * redrawn on a terminal, a line every 10 s otherwise), the per-epoch
 * validation to stdout.
 */
#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cc_train.h"
#include "cmds.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cryoclean train CONFIG.yaml [options]\n\n"
            "Trains the model card named in CONFIG.yaml on labelled Cait-layout HDF5 files\n"
            "with the CRESST paper's recipe and writes a card + safetensors (docs/TRAINING.md).\n\n"
            "  --resume          continue from the checkpoint of an interrupted run\n"
            "  --epochs N        override train.epochs\n"
            "  --seed S          override train.seed\n"
            "  --output CARD     override train.output (the checkpoint follows it unless set)\n"
            "  --name NAME       override train.name (the model name decisions report)\n"
            "  --threads N       OpenBLAS threads (default 1)\n"
            "  -q, --quiet       no progress line\n"
            "  -h, --help        this help\n");
}

typedef struct prog {
    int tty, quiet;
    double last_plain;
} prog;

static void fmt_time(char *b, size_t n, double s)
{
    if (!isfinite(s) || s < 0) s = 0;
    long t = (long)(s + 0.5);
    snprintf(b, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

static void on_progress(void *ctx, const cc_train_status *s)
{
    prog *p = ctx;
    char eta[32];
    fmt_time(eta, sizeof eta, s->eta_s);
    if (s->end_of_epoch) {
        if (p->tty && !p->quiet) fputc('\n', stderr);
        printf("epoch %u/%u: train loss %.4f | validation loss %.4f BA %.4f recall %.4f "
               "selectivity %.4f precision %.4f%s\n",
               s->epoch, s->epochs, s->loss, s->val_loss, s->val_ba, s->val_recall,
               s->val_selectivity, s->val_precision, s->best ? "  (best)" : "");
        fflush(stdout);
        return;
    }
    if (p->quiet) return;
    if (!p->tty) {
        if (s->step != s->steps && s->eta_s >= 0 && p->last_plain > 0 &&
            s->eta_s > p->last_plain - 10)
            return;
        p->last_plain = s->eta_s;
    }
    fprintf(stderr, "%sepoch %u/%u  step %llu/%llu  loss %.4f  %.0f rec/s  ETA %s%s",
            p->tty ? "\r" : "", s->epoch, s->epochs, (unsigned long long)s->step,
            (unsigned long long)s->steps, s->loss, s->rec_per_s, eta, p->tty ? "  " : "\n");
}

int cmd_train(int argc, char **argv)
{
    static const struct option lo[] = {{"resume", no_argument, 0, 'r'},
                                       {"epochs", required_argument, 0, 'E'},
                                       {"seed", required_argument, 0, 'S'},
                                       {"output", required_argument, 0, 'o'},
                                       {"name", required_argument, 0, 'N'},
                                       {"threads", required_argument, 0, 'T'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'},
                                       {"data-dir", required_argument, 0, 'D'},
                                       {"checkpoint", required_argument, 0, 'C'},
                                       {0, 0, 0, 0}};
    int resume = 0, quiet = 0, threads = 1, c;
    char *end;
    long epochs = 0;
    long long seed = -1;
    const char *output = NULL, *data_dir = NULL, *ckpt = NULL, *name = NULL;
    /* the command as run (before getopt permutes argv), for the card's provenance */
    char cmd[2048] = "cryoclean";
    for (int i = 0; i < argc; i++) {
        size_t k = strlen(cmd);
        snprintf(cmd + k, sizeof cmd - k, " %s", argv[i]);
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", lo, NULL)) != -1) {
        switch (c) {
        case 'r':
            resume = 1;
            break;
        case 'E':
            epochs = strtol(optarg, NULL, 10);
            if (epochs < 1) {
                fprintf(stderr, "cryoclean train: --epochs: expected a positive integer\n");
                return 2;
            }
            break;
        case 'S':
            seed = strtoll(optarg, NULL, 10);
            break;
        case 'o':
            output = optarg;
            break;
        case 'C':
            ckpt = optarg;
            break;
        case 'N':
            name = optarg;
            if (!*name || strlen(name) >= sizeof((cc_train_config *)0)->name) {
                fprintf(stderr, "cryoclean train: --name: 1 to %zu characters, found '%s'\n",
                        sizeof((cc_train_config *)0)->name - 1, optarg);
                return 2;
            }
            break;
        case 'D':
            data_dir = optarg;
            break;
        case 'T':
            threads = (int)strtol(optarg, &end, 10);
            if (*end || threads < 1 || threads > 256) {
                fprintf(stderr, "cryoclean train: --threads: expected 1..256, found '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    cc_train_config cfg;
    cc_err e = {{0}};
    if (cc_train_config_load(argv[optind], data_dir, &cfg, &e)) {
        fprintf(stderr, "cryoclean train: %s\n", e.msg);
        return 1;
    }
    if (epochs) cfg.epochs = (uint32_t)epochs;
    if (seed >= 0) cfg.seed = (uint64_t)seed;
    if (output) {
        int own_ckpt = !strcmp(cfg.checkpoint + strlen(cfg.output), ".ckpt") &&
                       !strncmp(cfg.checkpoint, cfg.output, strlen(cfg.output));
        snprintf(cfg.output, sizeof cfg.output, "%s", output);
        if (own_ckpt) snprintf(cfg.checkpoint, sizeof cfg.checkpoint, "%s.ckpt", output);
    }
    if (ckpt) snprintf(cfg.checkpoint, sizeof cfg.checkpoint, "%s", ckpt);
    if (name) snprintf(cfg.name, sizeof cfg.name, "%s", name);
    openblas_set_num_threads(threads > 0 ? threads : 1);
    prog p = {.tty = isatty(2), .quiet = quiet};
    cc_train_result r;
    int rc = cc_train_run(&cfg, cmd, resume, on_progress, &p, &r, &e);
    if (rc) {
        fprintf(stderr, "cryoclean train: %s\n", e.msg);
    } else {
        printf("wrote %s: best epoch %u of %u, validation BA %.4f recall %.4f selectivity %.4f "
               "precision %.4f; %zu training records, %zu validation; class weights clean %.3f "
               "artefact %.3f; %.0f s\n",
               cfg.output, r.best_epoch, r.epochs_run, r.best_ba, r.best_recall, r.best_selectivity,
               r.best_precision, r.n_train, r.n_val, r.w_clean, r.w_artefact, r.seconds);
    }
    cc_train_config_release(&cfg);
    return rc ? 1 : 0;
}
