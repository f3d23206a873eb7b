/* test_train.c - the trainer (lib/train) and `cryoclean train`, end to end.
 *
 * Small simulated Cait-layout files (cryoclean sim, 1024-sample records)
 * are trained on for a few epochs with the paper CNN. Checked: the config
 * parser's errors (unknown keys with file:line:col, a file in both splits,
 * missing data), that training lowers the loss and the written card loads
 * with provenance and validation metrics, that a run is bit-for-bit
 * reproducible for a seed, that --resume after an interrupted run gives the
 * uninterrupted run's weights, and that the card works in `cryoclean eval`.
 * With a BatchNorm + dropout card (PyTorch's train mode): the running
 * statistics move and are written as trained, a resumed run is still
 * bit-identical, and batchnorm: frozen / dropout: false change what they say.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cc_h5.h"
#include "cc_nn.h"
#include "cc_preproc.h"
#include "cc_sim.h"
#include "cc_test.h"
#include "cc_train.h"
#include "train_int.h"

static char dir[512];

static void sh(const char *fmt, const char *a, const char *b)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    int rc = system(cmd);
    ck_assert_msg(rc == 0, "command failed (%d): %s", rc, cmd);
}

static void setup_data(void)
{
    char exe[512];
    CCT_BUILD("tools/cryoclean", exe);
    cct_tmpdir(dir, sizeof dir);
    char cmd[2048];
    const char *files[] = {"a", "b", "v"};
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "%s sim -o %s/%s.h5 -n 500 -s %d --samples 1024 --channels 1 -q",
                 exe, dir, files[i], 11 + i);
        ck_assert_int_eq(system(cmd), 0);
    }
}

static void write_config(const char *name, const char *extra)
{
    char path[600], card[512], text[4096];
    CCT_SRC("conf/models/cnn.yaml", card);
    snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
    snprintf(text, sizeof text,
             "train:\n  model: %s\n  output: %s.out.yaml\n  name: t-%s\n"
             "  data: {train: [a.h5, b.h5], validation: [v.h5]}\n%s",
             card, name, name, extra ? extra : "");
    cct_write_file(path, text, strlen(text));
}

static int load_cfg(const char *name, cc_train_config *c, cc_err *e)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
    return cc_train_config_load(path, NULL, c, e);
}

/* Config `name` (the test config plus extra) is refused, the message naming
 * want (and want2 if not NULL). */
static void config_refused(const char *name, const char *extra, const char *want, const char *want2)
{
    cc_train_config c;
    cc_err e = {{0}};
    write_config(name, extra);
    ck_assert_int_eq(load_cfg(name, &c, &e), -1);
    ck_assert_msg(strstr(e.msg, want) && (!want2 || strstr(e.msg, want2)), "%s", e.msg);
}

/* The trained parameters of a card (the weights file's bytes also carry
 * the training date). */
static float *params_of(const char *card, size_t *n)
{
    cc_err e = {{0}};
    cc_nn_model *m = cc_nn_load(card, &e);
    ck_assert_msg(m != NULL, "%s", e.msg);
    *n = cc_nn_buf_len(m);
    float *p = malloc(*n * sizeof *p);
    memcpy(p, cc_nn_params(m, NULL), *n * sizeof *p);
    cc_nn_free(&m);
    return p;
}

START_TEST(config_errors)
{
    setup_data();
    cc_train_config c;
    cc_err e = {{0}};
    config_refused("bad1", "  optimiser: {lr: 1}\n", "optimiser", "bad1.yaml:");
    config_refused("bad2", "  augment: {pileup_p: 2}\n", "pileup_p", NULL);
    char text[1024];
    snprintf(text, sizeof text,
             "train:\n  model: x.yaml\n  output: o.yaml\n"
             "  data: {train: [a.h5, v.h5], validation: [v.h5]}\n");
    char path[600];
    snprintf(path, sizeof path, "%s/bad3.yaml", dir);
    cct_write_file(path, text, strlen(text));
    ck_assert_int_eq(load_cfg("bad3", &c, &e), -1);
    ck_assert_msg(strstr(e.msg, "both a training and a validation file"), "%s", e.msg);
    write_config("ok", "  augment: {noise_sigma: [0.02, 0.05]}\n  shuffle: full\n");
    ck_assert_int_eq(load_cfg("ok", &c, &e), 0);
    ck_assert_uint_eq(c.n_train, 2);
    ck_assert_uint_eq(c.batch, 64);
    ck_assert(c.noise_lo == 0.02 && c.noise_hi == 0.05 && !c.weak_shuffle);
    ck_assert(c.pileup_p == 0.2 && c.noise_p == 0.2 && c.shift_max == 26 && c.balance);
    ck_assert(!c.bn_frozen && c.dropout); /* PyTorch's train mode */
    cc_train_config_release(&c);
    config_refused("bad4", "  batchnorm: running\n", "batchnorm", "bad4.yaml:6");
    config_refused("bad5", "  dropout: sometimes\n", "dropout", "bad5.yaml:6");
    write_config("ok2", "  batchnorm: frozen\n  dropout: false\n");
    ck_assert_int_eq(load_cfg("ok2", &c, &e), 0);
    ck_assert(c.bn_frozen && !c.dropout);
    cc_train_config_release(&c);
    /* missing data is reported with the file name */
    write_config("nodata", NULL);
    snprintf(path, sizeof path, "%s/a.h5", dir);
    char moved[600];
    snprintf(moved, sizeof moved, "%s/a.h5.away", dir);
    ck_assert_int_eq(rename(path, moved), 0);
    ck_assert_int_eq(load_cfg("nodata", &c, &e), 0);
    ck_assert_int_eq(cc_train_run(&c, "test", 0, NULL, NULL, NULL, &e), -1);
    ck_assert_msg(strstr(e.msg, "a.h5"), "%s", e.msg);
    cc_train_config_release(&c);
    ck_assert_int_eq(rename(moved, path), 0);
}
END_TEST

typedef struct seen {
    int epochs, steps;
    double first_loss, last_loss;
} seen;

static void on_progress(void *ctx, const cc_train_status *s)
{
    seen *v = ctx;
    if (!s->end_of_epoch) {
        v->steps++;
        return;
    }
    if (!v->epochs++) v->first_loss = s->loss;
    v->last_loss = s->loss;
    ck_assert(s->val_ba >= 0 && s->val_ba <= 1);
}

static void train(const char *name, int resume, uint32_t epochs, cc_train_result *r)
{
    cc_train_config c;
    cc_err e = {{0}};
    ck_assert_int_eq(load_cfg(name, &c, &e), 0);
    c.epochs = epochs;
    seen v = {0};
    ck_assert_msg(cc_train_run(&c, "cryoclean train test", resume, on_progress, &v, r, &e) == 0,
                  "%s", e.msg);
    ck_assert_int_eq(v.epochs, (int)(resume ? 2 : epochs)); /* resumed after 2 epochs */
    cc_train_config_release(&c);
}

START_TEST(train_end_to_end)
{
    setup_data();
    write_config("run", "  optimizer: {lr: 3.0e-3}\n");
    cc_train_result r;
    train("run", 0, 4, &r);
    ck_assert_uint_eq(r.epochs_run, 4);
    ck_assert(r.best_epoch >= 1 && r.best_epoch <= 4);
    ck_assert(r.n_train == 1000 && r.n_val == 500);
    ck_assert_msg(r.best_ba > 0.6, "validation BA %g after 4 epochs", r.best_ba);
    /* both classes weigh the same in total */
    char card[600], wts[600];
    snprintf(card, sizeof card, "%s/run.out.yaml", dir);
    snprintf(wts, sizeof wts, "%s/run.out.safetensors", dir);
    cc_err e = {{0}};
    cc_nn_model *m = cc_nn_load(card, &e);
    ck_assert_msg(m != NULL, "%s", e.msg);
    ck_assert_str_eq(cc_nn_name(m), "t-run");
    size_t n;
    ck_assert(cc_nn_selftest_error(m, &n) <= 1e-6 && n == 8);
    cc_nn_free(&m);
    char *txt = cct_slurp(card, &n);
    ck_assert(strstr(txt, "command: \"cryoclean train test\""));
    ck_assert(strstr(txt, "metrics: \"validation at cutoff 0.5"));
    ck_assert(strstr(txt, "a.h5 (500 records"));
    ck_assert(strstr(txt, "seed 1"));
    free(txt);
    /* the card works in cryoclean eval through the nn plugin */
    char cfg[600], exe[512];
    snprintf(cfg, sizeof cfg, "%s/nn.yaml", dir);
    char text[700];
    snprintf(text, sizeof text, "model: %s\n", card);
    cct_write_file(cfg, text, strlen(text));
    CCT_BUILD("tools/cryoclean", exe);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s eval --classifier nn --config %s --data %s/v.h5 --quiet --json %s/ev.json", exe,
             cfg, dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    /* the same seed gives the same weights, bit for bit */
    size_t n1, n2;
    float *w1 = params_of(card, &n1);
    train("run", 0, 4, &r);
    float *w2 = params_of(card, &n2);
    ck_assert(n1 == n2 && !memcmp(w1, w2, n1 * sizeof *w1));
    free(w2);
    /* interrupted after 2 epochs, resumed to 4: the same weights */
    train("run", 0, 2, &r);
    train("run", 1, 4, &r);
    w2 = params_of(card, &n2);
    ck_assert_msg(n1 == n2 && !memcmp(w1, w2, n1 * sizeof *w1), "resumed run differs");
    free(w2);
    /* another seed, other weights */
    write_config("run2", "  optimizer: {lr: 3.0e-3}\n  seed: 7\n");
    train("run2", 0, 4, &r);
    snprintf(card, sizeof card, "%s/run2.out.yaml", dir);
    w2 = params_of(card, &n2);
    ck_assert(n1 == n2 && memcmp(w1, w2, n1 * sizeof *w1));
    free(w1), free(w2);
    sh("test -s %s%s", wts, "");
}
END_TEST

/* Trains config `name` from scratch for `epochs` and returns the kept weights. */
static float *trained_weights(const char *name, uint32_t epochs, cc_train_result *r, size_t *n)
{
    char card[600];
    train(name, 0, epochs, r);
    snprintf(card, sizeof card, "%s/%s.out.yaml", dir, name);
    return params_of(card, n);
}

START_TEST(lr_schedule)
{
    setup_data();
    cc_train_config c;
    cc_err e = {{0}};
    write_config("cos", "  optimizer: {lr: 1.0e-3, schedule: cosine, lr_min: 1.0e-4}\n");
    ck_assert_int_eq(load_cfg("cos", &c, &e), 0);
    ck_assert(c.cosine && c.lr == 1e-3 && c.lr_min == 1e-4);
    /* PyTorch's CosineAnnealingLR(T_max = 100, eta_min = 1e-4) stepped per batch */
    ck_assert_double_eq_tol(cc_train_lr(&c, c.lr, 1, 100), 1e-3, 1e-15);
    ck_assert_double_eq_tol(cc_train_lr(&c, c.lr, 51, 100), 5.5e-4, 1e-15);
    ck_assert_double_eq_tol(cc_train_lr(&c, c.lr, 26, 100), 1e-4 + 9e-4 * (1 + M_SQRT1_2) / 2,
                            1e-15);
    ck_assert(cc_train_lr(&c, c.lr, 100, 100) < 1.003e-4);
    ck_assert_double_eq_tol(cc_train_lr(&c, c.lr, 500, 100), 1e-4, 1e-15);
    cc_train_config_release(&c);
    write_config("const", "  optimizer: {lr: 1.0e-3}\n");
    ck_assert_int_eq(load_cfg("const", &c, &e), 0);
    ck_assert(!c.cosine && cc_train_lr(&c, c.lr, 90, 100) == 1e-3);
    cc_train_config_release(&c);
    write_config("badsched", "  optimizer: {lr: 1.0e-3, schedule: step}\n");
    ck_assert_int_eq(load_cfg("badsched", &c, &e), -1);
    ck_assert_msg(strstr(e.msg, "optimizer.schedule") && strstr(e.msg, "'step'") &&
                      strstr(e.msg, "badsched.yaml:6"),
                  "%s", e.msg);
    /* the schedule reaches the weights: cosine down to lr_min = lr is the
     * constant rate bit for bit, a real decay is not */
    write_config("flat", "  optimizer: {lr: 3.0e-3}\n");
    write_config("cosflat", "  optimizer: {lr: 3.0e-3, schedule: cosine, lr_min: 3.0e-3}\n");
    write_config("cosdec", "  optimizer: {lr: 3.0e-3, schedule: cosine}\n");
    cc_train_result r;
    char card[600];
    size_t n0, n1, n2;
    float *w0 = trained_weights("flat", 2, &r, &n0);
    float *w1 = trained_weights("cosflat", 2, &r, &n1);
    float *w2 = trained_weights("cosdec", 2, &r, &n2);
    snprintf(card, sizeof card, "%s/cosdec.out.yaml", dir);
    ck_assert(n0 == n1 && n0 == n2);
    ck_assert_msg(!memcmp(w0, w1, n0 * sizeof *w0), "cosine with lr_min = lr is not constant");
    ck_assert_msg(memcmp(w0, w2, n0 * sizeof *w0), "the cosine decay changed nothing");
    size_t n;
    char *txt = cct_slurp(card, &n);
    ck_assert(strstr(txt, "Adam lr 0.003 (cosine schedule)"));
    free(txt), free(w0), free(w1), free(w2);
}
END_TEST

START_TEST(weight_average)
{
    setup_data();
    /* the update, with its warm-up: step 1 keeps 2/11 of the average */
    float avg[2] = {1.0f, -2.0f}, p[2] = {3.0f, 4.0f};
    cc_train_ema_update(avg, p, 2, 0.9, 1);
    ck_assert_float_eq_tol(avg[0], 1.0f * 2 / 11 + 3.0f * 9 / 11, 1e-6f);
    cc_train_ema_update(avg, p, 2, 0.9, 1000); /* past the warm-up: the decay itself */
    ck_assert_float_eq_tol(avg[1], (-2.0f * 2 / 11 + 4.0f * 9 / 11) * 0.9f + 0.4f, 1e-5f);
    cc_train_config c;
    cc_err e = {{0}};
    config_refused("badema", "  optimizer: {lr: 3.0e-3, ema: 1.5}\n", "ema", "badema.yaml:6");
    /* an averaged run keeps other weights than the raw run, and an
     * interrupted averaged run resumes to the same weights bit for bit */
    write_config("raw", "  optimizer: {lr: 3.0e-3}\n");
    write_config("avg", "  optimizer: {lr: 3.0e-3, ema: 0.99}\n");
    cc_train_result r;
    char card[600];
    size_t n0, n1, n2;
    float *w0 = trained_weights("raw", 3, &r, &n0);
    float *w1 = trained_weights("avg", 3, &r, &n1);
    snprintf(card, sizeof card, "%s/avg.out.yaml", dir);
    unsigned best = r.best_epoch;
    ck_assert(n0 == n1 && memcmp(w0, w1, n0 * sizeof *w0));
    size_t n;
    char *txt = cct_slurp(card, &n);
    ck_assert(strstr(txt, "weight average (EMA 0.99)"));
    free(txt);
    train("avg", 0, 1, &r);
    train("avg", 1, 3, &r);
    ck_assert_uint_eq(r.best_epoch, best);
    float *w2 = params_of(card, &n2);
    ck_assert_msg(n1 == n2 && !memcmp(w1, w2, n1 * sizeof *w1), "resumed averaged run differs");
    /* a checkpoint without the average cannot resume an averaged run */
    train("raw", 0, 1, &r);
    char from[600], to[600];
    snprintf(from, sizeof from, "%s/raw.out.yaml.ckpt", dir);
    snprintf(to, sizeof to, "%s/avg.out.yaml.ckpt", dir);
    ck_assert_int_eq(rename(from, to), 0);
    ck_assert_int_eq(load_cfg("avg", &c, &e), 0);
    ck_assert_int_eq(cc_train_run(&c, "test", 1, NULL, NULL, NULL, &e), -1);
    ck_assert_msg(strstr(e.msg, "'ema'") && strstr(e.msg, "without ema"), "%s", e.msg);
    cc_train_config_release(&c);
    free(w0), free(w1), free(w2);
}
END_TEST

START_TEST(cli)
{
    setup_data();
    write_config("cli", NULL);
    char exe[512], cmd[2048];
    CCT_BUILD("tools/cryoclean", exe);
    snprintf(cmd, sizeof cmd, "%s train %s/cli.yaml --epochs 1 -q > %s/out.txt", exe, dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    char out[600];
    snprintf(out, sizeof out, "%s/out.txt", dir);
    size_t n;
    char *txt = cct_slurp(out, &n);
    ck_assert_msg(strstr(txt, "epoch 1/1: train loss") && strstr(txt, "wrote "), "%s", txt);
    free(txt);
    snprintf(cmd, sizeof cmd, "%s train 2>/dev/null", exe);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof cmd, "%s train %s/none.yaml 2>/dev/null", exe, dir);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 1);
    snprintf(cmd, sizeof cmd, "%s train %s/none.yaml --threads x 2>%s/err.txt", exe, dir, dir);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 2);
    snprintf(out, sizeof out, "%s/err.txt", dir);
    txt = cct_slurp(out, &n);
    ck_assert_msg(strstr(txt, "--threads: expected 1..256, found 'x'"), "%s", txt);
    free(txt);
    sh("test -s %s/cli.out.safetensors%s", dir, "");
}
END_TEST

/* A small card with BatchNorm and dropout (sigmoid output, identity map: the
 * self-test outputs are probabilities, within its tolerance of 1). */
static void write_bn_card(char *card, size_t len)
{
    snprintf(card, len, "%s/bn.yaml", dir);
    const char *text =
        "format: cryoclean-model-card/1\nname: bn\n"
        "input: {length: 512, channels: 1, preprocessing: {downsample: block_mean, scale: "
        "minmax}}\nweights: {seed: 1}\nlayers:\n"
        "  - {type: conv1d, name: c1, in: 1, out: 4, kernel: 5, stride: 4, shape: [4, 127]}\n"
        "  - {type: batchnorm1d, name: bn, features: 4, shape: [4, 127]}\n"
        "  - {type: relu, shape: [4, 127]}\n"
        "  - {type: dropout, p: 0.5, shape: [4, 127]}\n"
        "  - {type: flatten, shape: [1, 508]}\n"
        "  - {type: linear, name: fc, in: 508, out: 1, shape: [1, 1]}\n"
        "  - {type: sigmoid, shape: [1, 1]}\n"
        "output: {map: identity, index: 0}\ncutoff: 0.5\nprovenance: {source: test_train}\n"
        "selftest: {tolerance: 1, seed: 99, count: 1, outputs: [[0.5]]}\n";
    cct_write_file(card, text, strlen(text));
}

static void write_bn_config(const char *name, const char *card, const char *extra)
{
    char path[600], text[4096];
    snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
    snprintf(text, sizeof text,
             "train:\n  model: %s\n  output: %s.out.yaml\n  name: t-%s\n"
             "  data: {train: [a.h5, b.h5], validation: [v.h5]}\n"
             "  optimizer: {lr: 3.0e-3}\n%s",
             card, name, name, extra ? extra : "");
    cct_write_file(path, text, strlen(text));
}

/* The offset and length of tensor name in m's buffer. */
static size_t tensor_at(const cc_nn_model *m, const char *name, size_t *numel)
{
    size_t nt;
    cc_nn_params(m, &nt);
    for (size_t i = 0; i < nt; i++) {
        const cc_nn_param *p = cc_nn_param_at(m, i, NULL);
        if (!strcmp(p->name, name)) return *numel = p->numel, p->offset;
    }
    ck_abort_msg("no tensor %s", name);
    return 0;
}

START_TEST(train_batchnorm)
{
    setup_data();
    char card[600], out[600], ckpt[700];
    write_bn_card(card, sizeof card);
    write_bn_config("bnrun", card, NULL);
    cc_train_result r;
    train("bnrun", 0, 4, &r);
    snprintf(out, sizeof out, "%s/bnrun.out.yaml", dir);
    snprintf(ckpt, sizeof ckpt, "%s/bnrun.out.yaml.ckpt", dir);
    /* the initial parameters: the card reinitialised with the run's seed */
    cc_err e = {{0}};
    cc_nn_model *m = cc_nn_load(card, &e);
    ck_assert_msg(m != NULL, "%s", e.msg);
    cc_nn_reinit(m, 1);
    size_t nb = cc_nn_buf_len(m), n1, n2, nm, nv;
    float *init = malloc(nb * sizeof *init);
    memcpy(init, cc_nn_params(m, NULL), nb * sizeof *init);
    const size_t om = tensor_at(m, "bn.running_mean", &nm),
                 ov = tensor_at(m, "bn.running_var", &nv);
    float *w1 = params_of(out, &n1);
    ck_assert_uint_eq(n1, nb);
    ck_assert_msg(memcmp(w1 + om, init + om, nm * sizeof *w1), "running_mean did not move");
    ck_assert_msg(memcmp(w1 + ov, init + ov, nv * sizeof *w1), "running_var did not move");
    for (size_t i = 0; i < nv; i++) ck_assert(isfinite(w1[ov + i]) && w1[ov + i] > 0);
    /* the written statistics are the trained ones: the checkpoint's best epoch */
    cc_st_file *f = cc_st_open(ckpt, &e);
    ck_assert_msg(f != NULL, "%s", e.msg);
    const cc_st_tensor *t = cc_st_find(f, "best");
    ck_assert(t != NULL && t->numel == nb);
    float *best = malloc(nb * sizeof *best);
    cc_st_to_f32(t, best);
    ck_assert(!memcmp(best + om, w1 + om, nm * sizeof *w1));
    ck_assert(!memcmp(best + ov, w1 + ov, nv * sizeof *w1));
    cc_st_free(&f);
    free(best);
    /* with dropout on, interrupted after 2 epochs and resumed to 4: the same weights */
    train("bnrun", 0, 2, &r);
    train("bnrun", 1, 4, &r);
    float *w2 = params_of(out, &n2);
    ck_assert_msg(n1 == n2 && !memcmp(w1, w2, n1 * sizeof *w1), "resumed run differs");
    free(w2);
    /* dropout: false trains differently; batchnorm: frozen keeps the statistics */
    write_bn_config("bnnodrop", card, "  dropout: false\n");
    train("bnnodrop", 0, 4, &r);
    snprintf(out, sizeof out, "%s/bnnodrop.out.yaml", dir);
    w2 = params_of(out, &n2);
    ck_assert(n2 == nb && memcmp(w1, w2, nb * sizeof *w1));
    free(w2);
    write_bn_config("bnfrozen", card, "  batchnorm: frozen\n");
    train("bnfrozen", 0, 2, &r);
    snprintf(out, sizeof out, "%s/bnfrozen.out.yaml", dir);
    w2 = params_of(out, &n2);
    ck_assert(!memcmp(w2 + om, init + om, nm * sizeof *w2));
    ck_assert(!memcmp(w2 + ov, init + ov, nv * sizeof *w2));
    ck_assert(memcmp(w2, init, nb * sizeof *w2)); /* the rest trained */
    char *txt = cct_slurp(out, &n2);
    ck_assert(strstr(txt, "batchnorm frozen, dropout on"));
    free(txt);
    free(w1), free(w2), free(init);
    cc_nn_free(&m);
}
END_TEST

/* The shipped default model loads, passes its self-test and separates the
 * self-test pulses (clean, min-max scaled) from a step (a SQUID-jump shape). */
START_TEST(shipped_default)
{
    char path[512];
    cc_err e = {{0}};
    CCT_SRC("conf/models/cnn-default.yaml", path);
    cc_nn_model *m = cc_nn_load(path, &e);
    ck_assert_msg(m != NULL, "%s", e.msg);
    ck_assert_str_eq(cc_nn_name(m), "cnn-default");
    ck_assert_uint_eq(cc_nn_n_params(m), 89989);
    float x[2 * 512], p[2];
    for (int j = 0; j < 512; j++) {
        double t = j - 128.0;
        x[j] = (float)(t >= 0 ? (exp(-t / 40.0) - exp(-t / 3.0)) / 0.83 : 0.0); /* a pulse */
        x[512 + j] = j < 256 ? 0.0f : 1.0f;                                     /* a step */
    }
    cc_nn_ws *w = cc_nn_ws_new(m, 2);
    ck_assert_int_eq(cc_nn_score(m, w, x, 2, p, &e), 0);
    ck_assert_msg(p[0] > 0.5 && p[1] < 0.5, "P(clean): pulse %g, step %g", p[0], p[1]);
    cc_nn_ws_free(&w);
    cc_nn_free(&m);
}
END_TEST

/* The pile-up augmentation: an event record becomes x + g * (x shifted by dt
 * bins), min-max scaled and relabelled artefact, with g = pileup_ratio and dt
 * uniform over [1, 3L/4] or, with pileup_near = 1, log-uniform. Each drawn
 * record is matched against every dt to recover the onset difference. */
static int recover_dt(const float *x, const float *out, size_t len, float g)
{
    float y[512];
    for (size_t dt = 1; dt <= 3 * len / 4; dt++) {
        for (size_t j = 0; j < len; j++) y[j] = x[j] + (j >= dt ? g * (x[j - dt] - x[0]) : 0.0f);
        cc_prep_minmax(y, len);
        double d = 0;
        for (size_t j = 0; j < len; j++) d = fmax(d, fabs(y[j] - out[j]));
        if (d < 1e-6) return (int)dt;
    }
    return -1;
}

START_TEST(augment_pileup)
{
    enum { L = 512, DRAWS = 600 };
    float x[L], out[L];
    for (int j = 0; j < L; j++) {
        double t = j - 100.0;
        x[j] = (float)(t >= 0 ? exp(-t / 30.0) - exp(-t / 2.0) : 0.0);
    }
    cc_prep_minmax(x, L);
    cc_train_config c;
    cc_train_config_default(&c);
    ck_assert(c.pileup_ratio_lo == 1 && c.pileup_ratio_hi == 1 && c.pileup_near == 0);
    c.pileup_p = 1, c.noise_p = 0, c.shift_max = 0;
    c.pileup_ratio_lo = c.pileup_ratio_hi = 0.25;
    for (int near = 0; near <= 1; near++) {
        c.pileup_near = near;
        tr_rng r = tr_stream(7, (uint64_t)near, 0);
        int close = 0, hist_max = 0;
        for (int i = 0; i < DRAWS; i++) {
            uint8_t lab = 1;
            tr_augment(&c, &r, x, 1, CC_SIM_EVENT, L, out, &lab);
            ck_assert_uint_eq(lab, 0);
            int dt = recover_dt(x, out, L, 0.25f);
            ck_assert_msg(dt >= 1, "draw %d: not x + 0.25 x shifted", i);
            close += dt <= 16;
            hist_max = dt > hist_max ? dt : hist_max;
        }
        /* P(dt <= 16): uniform 16/384 = 0.042; log-uniform ln 17 / ln 384 = 0.476 */
        double f = (double)close / DRAWS;
        if (near)
            ck_assert_msg(f > 0.40 && f < 0.55, "log-uniform: P(dt <= 16) = %g", f);
        else
            ck_assert_msg(f < 0.08, "uniform: P(dt <= 16) = %g", f);
        ck_assert_int_le(hist_max, 3 * L / 4);
        ck_assert_int_gt(hist_max, L / 2);
    }
    /* noise records are never piled up; artefacts keep their label */
    tr_rng r = tr_stream(7, 9, 0);
    uint8_t lab = 9;
    tr_augment(&c, &r, x, 1, CC_SIM_NOISE, L, out, &lab);
    ck_assert_uint_eq(lab, 1);
    ck_assert(memcmp(x, out, sizeof x) == 0);
    tr_augment(&c, &r, x, 0, CC_SIM_EVENT, L, out, &lab);
    ck_assert_uint_eq(lab, 0);
    ck_assert(memcmp(x, out, sizeof x) == 0);
    /* the knobs are read from the config and range-checked */
    cc_err e = {{0}};
    setup_data();
    write_config("knobs", "  augment: {pileup_ratio: [0.1, 0.9], pileup_near: 0.5}\n");
    ck_assert_int_eq(load_cfg("knobs", &c, &e), 0);
    ck_assert(c.pileup_ratio_lo == 0.1 && c.pileup_ratio_hi == 0.9 && c.pileup_near == 0.5);
    cc_train_config_release(&c);
    config_refused("badratio", "  augment: {pileup_ratio: [0.5, 0.2]}\n", "pileup_ratio",
                   "badratio.yaml:");
}
END_TEST

/* Writes a 1-channel labelled file of 8 noise records of 1024 samples;
 * stdevent_len > 0 adds /stdevent/event of shape (1, stdevent_len). */
static void write_plain_file(const char *path, uint32_t stdevent_len)
{
    cc_err e = {{0}};
    cc_h5_writer *w = cc_h5_writer_new(path, 1, 1024, CC_H5_LABELS, &e);
    ck_assert_msg(w != NULL, "%s", e.msg);
    static float ev[8 * 1024];
    int32_t lab[8];
    for (int i = 0; i < 8 * 1024; i++) ev[i] = (float)((i * 7919) % 101) * 1e-4f;
    for (int i = 0; i < 8; i++) lab[i] = CC_SIM_NOISE;
    cc_h5_batch b = {.k = 8, .event = ev, .labels = lab};
    ck_assert_msg(cc_h5_writer_append(w, "events", &b, &e) == 0, "%s", e.msg);
    if (stdevent_len)
        ck_assert_int_eq(cc_h5_writer_put_2d(w, "stdevent/event", ev, 1, stdevent_len, &e), 0);
    ck_assert_msg(cc_h5_writer_close(&w, &e) == 0, "%s", e.msg);
}

/* Template conditioning: a card with 2 input channels trains on records
 * that each carry their channel's standard event from the file (as written
 * by cryoclean sim: the noise-free pulse, peak 1, starting at the trigger);
 * a file without standard events, or with ones of the wrong shape, is
 * refused by name. */
START_TEST(train_standard_events)
{
    setup_data();
    cc_err e = {{0}};
    char path[600];
    snprintf(path, sizeof path, "%s/a.h5", dir);
    /* the simulator's standard event */
    cc_h5_reader *rd = cc_h5_reader_open(path, "events", &e);
    ck_assert_msg(rd != NULL, "%s", e.msg);
    static float sev[1024], want[512];
    ck_assert_int_eq(cc_h5_reader_get_stdevent(rd, sev, &e), 0);
    cc_h5_reader_close(&rd);
    size_t peak = 0;
    for (size_t i = 0; i < 1024; i++) peak = sev[i] > sev[peak] ? i : peak;
    ck_assert_float_eq_tol(sev[peak], 1.0f, 1e-5f);
    ck_assert(sev[255] == 0.0f && sev[257] > 0.0f && peak > 256);
    ck_assert_int_eq(cc_prep_record(sev, 1024, want, 512), CC_PREP_OK);
    /* every record is followed by it */
    tr_set set;
    char *paths[] = {path};
    ck_assert_msg(tr_set_load(&set, paths, 1, "events", 512, 2, 0, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(set.n, 500);
    for (size_t i = 0; i < set.n; i += 97)
        ck_assert(!memcmp(set.f[0].x + i * 1024 + 512, want, sizeof want));
    tr_set_free(&set);
    /* missing or misshapen standard events */
    snprintf(path, sizeof path, "%s/plain.h5", dir);
    write_plain_file(path, 0);
    ck_assert_int_eq(tr_set_load(&set, paths, 1, "events", 512, 1, 0, &e), 0); /* fine for 1 */
    tr_set_free(&set);
    ck_assert_int_eq(tr_set_load(&set, paths, 1, "events", 512, 2, 0, &e), -1);
    ck_assert_msg(strstr(e.msg, "plain.h5: no /stdevent/event"), "%s", e.msg);
    tr_set_free(&set);
    write_plain_file(path, 100);
    ck_assert_int_eq(tr_set_load(&set, paths, 1, "events", 512, 2, 0, &e), -1);
    ck_assert_msg(strstr(e.msg, "/stdevent/event: expected shape (1, 1024), found (1, 100)"), "%s",
                  e.msg);
    tr_set_free(&set);
    /* training: a card of 2 input channels learns and reloads */
    char card[512], cfg[600], text[2048];
    CCT_SRC("conf/models/cnn-sev.yaml", card);
    snprintf(cfg, sizeof cfg, "%s/sev.yaml", dir);
    snprintf(text, sizeof text,
             "train:\n  model: %s\n  output: sev.out.yaml\n  name: t-sev\n"
             "  data: {train: [a.h5, b.h5], validation: [v.h5]}\n  optimizer: {lr: 3.0e-3}\n"
             "  augment: {template_stretch: [0.9, 1.1]}\n",
             card);
    cct_write_file(cfg, text, strlen(text));
    cc_train_result r;
    train("sev", 0, 4, &r);
    ck_assert_msg(r.best_ba > 0.6, "validation BA %g after 4 epochs", r.best_ba);
    snprintf(card, sizeof card, "%s/sev.out.yaml", dir);
    cc_nn_model *m = cc_nn_load(card, &e);
    ck_assert_msg(m != NULL, "%s", e.msg);
    ck_assert_uint_eq(cc_nn_input_channels(m), 2);
    cc_nn_free(&m);
}
END_TEST

/* The template augmentation: factor 1 leaves the standard event as it is;
 * factor 2 puts every feature twice as far from the trigger (the peak of a
 * rendered pulse moves from bin p to about 2p - L/4); the knob is read
 * from the config and its range checked. */
START_TEST(template_stretch)
{
    enum { L = 512 };
    static float raw[8192], tpl[L], out[L];
    const cc_sim_shape sh = {.an = 5, .at = 0.6, .tau_n = 12, .tau_in = 2.5, .tau_t = 45};
    cc_sim_shape_render(&sh, 25000, 2048, raw, 8192);
    ck_assert_int_eq(cc_prep_record(raw, 8192, tpl, L), CC_PREP_OK);
    tr_stretch_template(tpl, L, 1.0, out);
    for (int j = 0; j < L; j++) ck_assert_float_eq_tol(out[j], tpl[j], 1e-6f);
    size_t p = 0, q = 0;
    for (size_t j = 0; j < L; j++) p = tpl[j] > tpl[p] ? j : p;
    tr_stretch_template(tpl, L, 2.0, out);
    for (size_t j = 0; j < L; j++) q = out[j] > out[q] ? j : q;
    ck_assert_msg(p > L / 4 + 2 && (long)q >= (long)(2 * p - L / 4) - 1 && q <= 2 * p - L / 4 + 1,
                  "peak %zu -> %zu", p, q);
    ck_assert_float_eq_tol(out[q], 1.0f, 1e-6f);
    ck_assert_float_eq(out[0], 0.0f);
    /* the knob */
    setup_data();
    cc_train_config c;
    cc_err e = {{0}};
    write_config("ts", "  augment: {template_stretch: [0.8, 1.25]}\n");
    ck_assert_msg(load_cfg("ts", &c, &e) == 0, "%s", e.msg);
    ck_assert(c.tpl_stretch_lo == 0.8 && c.tpl_stretch_hi == 1.25);
    cc_train_config_release(&c);
    config_refused("ts2", "  augment: {template_stretch: [0.1, 1.25]}\n", "template_stretch", NULL);
}
END_TEST

/* Every shipped file in conf/train loads: training configs (train:), the
 * simulated detectors (sim-det-*.yaml) and the eval plugin blocks (nn-*.yaml,
 * whose model card must exist). */
START_TEST(shipped_train_configs_load)
{
    char dir[512], path[1024];
    CCT_SRC("conf/train", dir);
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n_train = 0, n_sim = 0, n_nn = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *nm = de->d_name;
        size_t l = strlen(nm);
        if (l < 6 || strcmp(nm + l - 5, ".yaml")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, nm);
        cc_err e = {{0}};
        if (!strncmp(nm, "sim-det-", 8)) {
            cc_sim_config sc;
            ck_assert_msg(cc_sim_config_load(path, &sc, &e) == 0, "%s", e.msg);
            n_sim++;
        } else if (!strncmp(nm, "nn-", 3)) {
            size_t len;
            char *txt = cct_slurp(path, &len), *m = strstr(txt, "\nmodel: ");
            ck_assert_msg(m, "%s: no model:", nm);
            m += 8;
            m[strcspn(m, "\n")] = '\0';
            char card[1536];
            snprintf(card, sizeof card, "%s/%s", dir, m);
            cc_nn_model *nm_ = cc_nn_load(card, &e);
            ck_assert_msg(nm_ != NULL, "%s: %s", nm, e.msg);
            cc_nn_free(&nm_);
            free(txt);
            n_nn++;
        } else {
            cc_train_config c;
            ck_assert_msg(cc_train_config_load(path, NULL, &c, &e) == 0, "%s", e.msg);
            ck_assert_msg(c.n_train > 0 && c.n_val > 0, "%s", nm);
            cc_train_config_release(&c);
            n_train++;
        }
    }
    closedir(d);
    ck_assert_int_ge(n_train, 4);
    ck_assert_int_ge(n_sim, 16);
    ck_assert_int_ge(n_nn, 4);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 280);
    tcase_add_test(tc, config_errors);
    tcase_add_test(tc, augment_pileup);
    tcase_add_test(tc, train_end_to_end);
    tcase_add_test(tc, train_standard_events);
    tcase_add_test(tc, template_stretch);
    tcase_add_test(tc, train_batchnorm);
    tcase_add_test(tc, lr_schedule);
    tcase_add_test(tc, weight_average);
    tcase_add_test(tc, cli);
    tcase_add_test(tc, shipped_default);
    tcase_add_test(tc, shipped_train_configs_load);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cct_run(suite());
}
