/* test_nn_grad.c - the training passes against PyTorch without PyTorch in CI.
 *
 * tests/golden/grad/ holds, per case (the paper CNN, Cait's CNN architecture
 * and a "grad-zoo" using every layer with a backward pass: strided, padded
 * and dilated convolutions, average and max pooling with padding, tanh,
 * GELU, sigmoid, softmax, transpose, learned positional encoding, linear
 * over several rows, reshape, dropout, log_softmax) and two LSTMs
 * (bidirectional 2 layers; unidirectional 1 layer), and BatchNorm (running
 * statistics, PyTorch's eval mode) + LayerNorm, and two small TSTs (encoder
 * with BatchNorm + learned encoding + GELU; LayerNorm + sinusoidal + ReLU),
 * a card with seeded
 * weights and PyTorch's loss, input gradient and parameter gradients for a
 * fixed batch (tools/gen_grad_golden.py). Each gradient tensor must match
 * with relative error max|g - g_torch| / max|g_torch| <= 1e-4. The test also
 * checks that the training forward equals the inference path, that a batch
 * split in two accumulates the same gradient, and a finite difference.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_nn.h"
#include "cc_test.h"

static const char *const cases[] = {"cnn",      "cait-cnn", "grad-zoo",  "lstm-small",
                                    "lstm-uni", "norm-zoo", "tst-small", "tst-ln"};

typedef struct golden {
    cc_nn_model *m;
    cc_st_file *f;
    size_t B, L, K;
    float *x;
    uint8_t lab[64];
    double w_art, w_clean;
} golden;

static const cc_st_tensor *need(const cc_st_file *f, const char *name)
{
    const cc_st_tensor *t = cc_st_find(f, name);
    ck_assert_msg(t != NULL, "golden has no tensor '%s'", name);
    return t;
}

static float *to_f32(const cc_st_tensor *t)
{
    float *v = malloc((t->numel ? t->numel : 1) * sizeof *v);
    cc_st_to_f32(t, v);
    return v;
}

static void golden_open(golden *g, const char *name)
{
    char rel[128], path[512];
    cc_err e = {{0}};
    snprintf(rel, sizeof rel, "tests/golden/grad/%s.yaml", name);
    CCT_SRC(rel, path);
    g->m = cc_nn_load(path, &e);
    ck_assert_msg(g->m != NULL, "%s: %s", name, e.msg);
    snprintf(rel, sizeof rel, "tests/golden/grad/%s.grad.safetensors", name);
    CCT_SRC(rel, path);
    g->f = cc_st_open(path, &e);
    ck_assert_msg(g->f != NULL, "%s: %s", name, e.msg);
    const cc_st_tensor *in = need(g->f, "input");
    g->B = in->shape[0], g->L = in->shape[1], g->K = cc_nn_n_outputs(g->m);
    ck_assert_uint_eq(g->L, cc_nn_input_len(g->m));
    ck_assert(g->B <= 64);
    g->x = to_f32(in);
    float *lab = to_f32(need(g->f, "labels")), *cw = to_f32(need(g->f, "class_weights"));
    for (size_t i = 0; i < g->B; i++) g->lab[i] = lab[i] > 0.5f;
    g->w_art = cw[0], g->w_clean = cw[1];
    free(lab), free(cw);
}

static void golden_close(golden *g)
{
    free(g->x);
    cc_st_free(&g->f);
    cc_nn_free(&g->m);
}

/* Loss and gradients of records [r0, r0 + n) accumulated into grad (scaled
 * by n / B so that split batches add up to the full batch's mean). */
static double run(golden *g, size_t r0, size_t n, float *grad, float *dx)
{
    cc_err e = {{0}};
    cc_nn_tws *w = cc_nn_tws_new(g->m, n, &e);
    ck_assert_msg(w != NULL, "%s", e.msg);
    const float *y = cc_nn_train_forward(g->m, w, g->x + r0 * g->L, n, &e);
    ck_assert_msg(y != NULL, "%s", e.msg);
    float *dout = malloc(n * g->K * sizeof *dout);
    double s = (double)n / (double)g->B;
    double loss = cc_nn_loss(g->m, y, g->lab + r0, n, g->w_clean * s, g->w_art * s, dout, &e);
    ck_assert_msg(isfinite(loss), "%s", e.msg);
    ck_assert_int_eq(cc_nn_backward(g->m, w, dout, grad, dx, &e), 0);
    free(dout);
    cc_nn_tws_free(&w);
    return loss;
}

static double rel_err(const float *got, const float *ref, size_t n)
{
    double md = 0, mr = 0;
    for (size_t i = 0; i < n; i++) {
        md = fmax(md, fabs((double)got[i] - ref[i]));
        mr = fmax(mr, fabs((double)ref[i]));
    }
    return mr > 0 ? md / mr : md;
}

START_TEST(grad_parity)
{
    golden g;
    golden_open(&g, cases[_i]);
    const size_t nb = cc_nn_buf_len(g.m);
    float *grad = calloc(nb, sizeof *grad), *dx = calloc(g.B * g.L, sizeof *dx);
    double loss = run(&g, 0, g.B, grad, dx);
    float *ref = to_f32(need(g.f, "loss"));
    ck_assert_msg(fabs(loss - ref[0]) <= 1e-5 * fmax(1, fabs(ref[0])), "%s: loss %.8g vs %.8g",
                  cases[_i], loss, ref[0]);
    free(ref);
    ref = to_f32(need(g.f, "dx"));
    double worst = rel_err(dx, ref, g.B * g.L);
    ck_assert_msg(worst <= 1e-4, "%s: dx relative error %g", cases[_i], worst);
    free(ref);
    size_t nt = 0, checked = 0;
    cc_nn_params(g.m, &nt);
    for (size_t i = 0; i < nt; i++) {
        int derived;
        const cc_nn_param *p = cc_nn_param_at(g.m, i, &derived);
        if (derived) continue;
        char name[128];
        snprintf(name, sizeof name, "grad.%s", p->name);
        const cc_st_tensor *t = need(g.f, name);
        ck_assert_uint_eq(t->numel, p->numel);
        ref = to_f32(t);
        double err = rel_err(grad + p->offset, ref, p->numel);
        ck_assert_msg(err <= 1e-4, "%s: %s relative error %g", cases[_i], name, err);
        worst = fmax(worst, err);
        free(ref);
        checked++;
    }
    ck_assert_uint_eq(checked + 5, g.f->n);
    printf("grad_parity %s: loss %.6f, %zu tensors + dx, max relative error %.3g\n", cases[_i],
           loss, checked, worst);
    /* the same batch as two parts accumulates the same gradient */
    float *g2 = calloc(nb, sizeof *g2);
    run(&g, 0, 2, g2, NULL);
    run(&g, 2, g.B - 2, g2, NULL);
    ck_assert_msg(rel_err(g2, grad, nb) <= 1e-5, "%s: split batch %g", cases[_i],
                  rel_err(g2, grad, nb));
    /* the training forward gives the inference path's outputs */
    cc_err e = {{0}};
    cc_nn_ws *ws = cc_nn_ws_new(g.m, g.B);
    cc_nn_tws *tw = cc_nn_tws_new(g.m, g.B, &e);
    float *yi = malloc(g.B * g.K * sizeof *yi);
    ck_assert_int_eq(cc_nn_forward(g.m, ws, g.x, g.B, yi, &e), 0);
    const float *yt = cc_nn_train_forward(g.m, tw, g.x, g.B, &e);
    for (size_t i = 0; i < g.B * g.K; i++)
        ck_assert_msg(fabsf(yi[i] - yt[i]) <= 1e-6f * fmaxf(1, fabsf(yi[i])), "%s out %zu",
                      cases[_i], i);
    free(yi);
    cc_nn_ws_free(&ws);
    cc_nn_tws_free(&tw);
    free(g2), free(grad), free(dx);
    golden_close(&g);
}
END_TEST

/* A central finite difference (double-checked in float: step 1e-2 on the
 * last layer's bias, where the loss is smooth) agrees with the gradient. */
START_TEST(finite_difference)
{
    golden g;
    golden_open(&g, "cnn");
    const size_t nb = cc_nn_buf_len(g.m);
    float *grad = calloc(nb, sizeof *grad);
    run(&g, 0, g.B, grad, NULL);
    size_t nt;
    cc_nn_params(g.m, &nt);
    const cc_nn_param *p = cc_nn_param_at(g.m, nt - 1, NULL); /* fc3.bias */
    ck_assert_str_eq(p->name, "fc3.bias");
    float *w = cc_nn_params_mut(g.m), keep = w[p->offset], *scratch = calloc(nb, sizeof *scratch);
    const float h = 1e-2f;
    w[p->offset] = keep + h;
    double lp = run(&g, 0, g.B, scratch, NULL);
    w[p->offset] = keep - h;
    double lm = run(&g, 0, g.B, scratch, NULL);
    w[p->offset] = keep;
    double fd = (lp - lm) / (2 * h);
    ck_assert_msg(fabs(fd - grad[p->offset]) <= 1e-3 * fmax(1e-2, fabs(fd)), "fd %g vs %g", fd,
                  grad[p->offset]);
    free(grad), free(scratch);
    golden_close(&g);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("nn_grad");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 200);
    tcase_add_loop_test(tc, grad_parity, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, finite_difference);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cct_run(suite());
}
