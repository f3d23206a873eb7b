/* test_nn_parity.c - the engine against PyTorch without PyTorch in CI.
 *
 * tests/golden/nn/ holds cards made by tools/gen_nn_golden.py: the paper's
 * four networks (CNN, LSTM, TSCN full size, TST with BatchNorm + learned
 * encoding, TST with LayerNorm + sinusoidal encoding), a "zoo" that uses
 * every layer type, and Cait's real CRESST CNN; their self-tests hold
 * PyTorch 1.13's outputs for 8 fixed inputs at tolerance 1e-5. Loading a
 * card runs that comparison; here we also check parameter counts, that the
 * batch size does not change results, and the Cait P(clean) to 1e-5. When
 * /usr/bin/python3 has torch and ../shared has the checkpoint, the Cait
 * model is exported afresh and compared on preprocessed simulated records.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <zmq.h>

#include "cc_nn.h"
#include "cc_preproc.h"
#include "cc_proto.h"
#include "cc_test.h"
#include "cc_yaml.h"

static const struct {
    const char *card;
    size_t params, outputs, channels;
} goldens[] = {
    {"cnn", 89989, 1, 1},      {"lstm", 584001, 1, 1},   {"tscn", 4818705, 1, 1},
    {"tst", 115649, 1, 1},     {"tst-ln", 82625, 1, 1},  {"zoo", 6557, 3, 1},
    {"cait-cnn", 19062, 2, 1}, {"cnn-sev", 90021, 1, 2}, /* + the standard event */
};

static cc_nn_model *load_golden(const char *name)
{
    char rel[128], path[512];
    snprintf(rel, sizeof rel, "tests/golden/nn/%s.yaml", name);
    CCT_SRC(rel, path);
    cc_err e = {{0}};
    cc_nn_model *m = cc_nn_load(path, &e);
    ck_assert_msg(m != NULL, "%s: %s", name, e.msg);
    return m;
}

START_TEST(golden_parity)
{
    const char *name = goldens[_i].card;
    cc_nn_model *m = load_golden(name);
    size_t n = 0;
    double err = cc_nn_selftest_error(m, &n);
    ck_assert_uint_eq(n, 8);
    ck_assert_msg(err <= 1e-5, "%s: max error %g", name, err);
    ck_assert_uint_eq(cc_nn_n_params(m), goldens[_i].params);
    ck_assert_uint_eq(cc_nn_n_outputs(m), goldens[_i].outputs);
    ck_assert_uint_eq(cc_nn_input_len(m), 512);
    ck_assert_uint_eq(cc_nn_input_channels(m), goldens[_i].channels);
    /* the same 8 inputs one at a time, in a batch of 3 + 5, and all 8 */
    const size_t L = 512 * goldens[_i].channels, K = cc_nn_n_outputs(m);
    float *x = malloc(8 * L * sizeof *x), y8[8 * 3], y1[8 * 3], y35[8 * 3];
    for (size_t i = 0; i < 8; i++) cc_nn_test_input(99, i, x + i * L, L);
    cc_nn_ws *w = cc_nn_ws_new(m, 8);
    cc_err e;
    ck_assert_int_eq(cc_nn_forward(m, w, x, 8, y8, &e), 0);
    for (size_t i = 0; i < 8; i++)
        ck_assert_int_eq(cc_nn_forward(m, w, x + i * L, 1, y1 + i * K, &e), 0);
    ck_assert_int_eq(cc_nn_forward(m, w, x, 3, y35, &e), 0);
    ck_assert_int_eq(cc_nn_forward(m, w, x + 3 * L, 5, y35 + 3 * K, &e), 0);
    for (size_t i = 0; i < 8 * K; i++) {
        ck_assert_msg(fabsf(y8[i] - y1[i]) <= 1e-6f * fmaxf(1.0f, fabsf(y8[i])), "%s [%zu]", name,
                      i);
        ck_assert_msg(fabsf(y8[i] - y35[i]) <= 1e-6f * fmaxf(1.0f, fabsf(y8[i])), "%s [%zu]", name,
                      i);
    }
    ck_assert_int_eq(cc_nn_forward(m, w, x, 9, y8, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "exceeds"));
    cc_nn_ws_free(&w);
    /* a large batch (the 8 inputs repeated) crosses every internal chunk and
     * block boundary: LSTM time blocks and record chunks, conv and encoder chunks */
    const size_t NB = !strcmp(name, "lstm") ? 300 : 40;
    float *xb = malloc(NB * L * sizeof *xb), *yb = malloc(NB * K * sizeof *yb);
    for (size_t i = 0; i < NB; i++) memcpy(xb + i * L, x + (i % 8) * L, L * sizeof *xb);
    w = cc_nn_ws_new(m, NB);
    ck_assert_int_eq(cc_nn_forward(m, w, xb, NB, yb, &e), 0);
    for (size_t i = 0; i < NB * K; i++) {
        float ref = y8[(i / K % 8) * K + i % K];
        ck_assert_msg(fabsf(yb[i] - ref) <= 1e-6f * fmaxf(1.0f, fabsf(ref)), "%s batch %zu [%zu]",
                      name, NB, i);
    }
    cc_nn_ws_free(&w);
    free(xb), free(yb);
    free(x);
    cc_nn_free(&m);
}
END_TEST

/* Cait's P(clean) = exp(log_softmax[1]) against PyTorch's outputs in the card. */
START_TEST(cait_pclean)
{
    char path[512];
    CCT_SRC("tests/golden/nn/cait-cnn.yaml", path);
    cc_err e;
    cc_ydoc *doc = cc_ydoc_load_file(path, &e);
    ck_assert_ptr_nonnull(doc);
    const cc_ynode *outs = cc_y_get(cc_y_get(doc->root, "selftest"), "outputs");
    ck_assert_uint_eq(outs->n, 8);
    cc_nn_model *m = load_golden("cait-cnn");
    ck_assert_str_eq(cc_nn_name(m), "cait-cnn-v2");
    float x[8 * 512], p[8];
    for (size_t i = 0; i < 8; i++) cc_nn_test_input(99, i, x + i * 512, 512);
    cc_nn_ws *w = cc_nn_ws_new(m, 8);
    ck_assert_int_eq(cc_nn_score(m, w, x, 8, p, &e), 0);
    for (size_t i = 0; i < 8; i++) {
        double *v;
        size_t n;
        ck_assert_int_eq(cc_y_f64_list(outs->kids[i], &v, &n, &e), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_msg(fabs(p[i] - exp(v[1])) <= 1e-5, "record %zu: %g vs %g", i, p[i], exp(v[1]));
        ck_assert(fabs(exp(v[0]) + exp(v[1]) - 1.0) < 1e-5);
        free(v);
    }
    cc_nn_ws_free(&w);
    cc_nn_free(&m);
    cc_ydoc_free(&doc);
}
END_TEST

/* ---- the Cait model on simulated raw records ---------------------------------- */

enum { RAW = 16384, NSIM = 24 };

/* Record r of a fixed set: baseline noise plus a pulse (varied onset and
 * height), every 4th record noise only, every 4th+2 with a step artefact. */
static void sim_record(int r, float *raw)
{
    uint64_t s = 12345 + (uint64_t)r * 7919;
    double onset = 3000 + 250 * (r % 16), amp = r % 4 == 3 ? 0 : 0.02 + 0.02 * (r % 16);
    for (int j = 0; j < RAW; j++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(s >> 11) / 9007199254740992.0, t = j - onset;
        raw[j] =
            (float)(0.01 * (u - 0.5) + (t >= 0 ? amp * (exp(-t / 2000.0) - exp(-t / 100.0)) : 0) +
                    (r % 4 == 2 && j > 9000 ? 0.3 : 0));
    }
}

/* PyTorch's P(clean) for n preprocessed records x, from the checkpoint itself
 * (Cait's architecture in tools/export_torch.py). Also exports a fresh card to
 * dir/cait.yaml. Returns 0 (and prints why) when torch or the checkpoint is
 * not available. */
static int torch_cait(const char *dir, const float *x, int n, double *p)
{
    char ckpt[512], tool[512], tools[512], cmd[4096], xin[512], pout[600];
    snprintf(ckpt, sizeof ckpt, "%s/models/cait-cnn-clf-binary-v2.ckpt", cct_env("CC_SHARED_DIR"));
    if (access(ckpt, R_OK) || system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1")) {
        printf("PyTorch comparison skipped (no checkpoint or no python3-torch)\n");
        return 0;
    }
    CCT_SRC("tools/export_torch.py", tool);
    CCT_SRC("tools", tools);
    snprintf(xin, sizeof xin, "%s/x.f32", dir);
    snprintf(pout, sizeof pout, "%s/p.txt", dir);
    cct_write_file(xin, x, (size_t)n * 512 * sizeof *x);
    snprintf(cmd, sizeof cmd,
             "cd %s && /usr/bin/python3 %s cait %s %s/cait.yaml --name cait-live >/dev/null && "
             "/usr/bin/python3 -c \"import sys, numpy as np, torch; sys.path.insert(0, '%s'); "
             "import export_torch as et; "
             "net = et.CardNet(et.arch_layers('cait-cnn')); "
             "sd = et.load_lightning('%s')['state_dict']; net.load_state_dict(sd); net.eval(); "
             "x = torch.from_numpy(np.fromfile('%s', dtype=np.float32).reshape(-1, 512)); "
             "p = net(x).exp()[:, 1].detach().numpy(); "
             "open('%s', 'w').write(' '.join('%%.9g' %% v for v in p))\"",
             dir, tool, ckpt, dir, tools, ckpt, xin, pout);
    ck_assert_int_eq(system(cmd), 0);
    FILE *f = fopen(pout, "r");
    ck_assert_ptr_nonnull(f);
    for (int r = 0; r < n; r++) ck_assert_int_eq(fscanf(f, "%lf", &p[r]), 1);
    fclose(f);
    return 1;
}

/* Simulated raw records -> lib/prep -> a card exported afresh from the
 * checkpoint, against PyTorch on the same inputs. */
START_TEST(cait_live_torch)
{
    char dir[256], card[600];
    cct_tmpdir(dir, sizeof dir);
    float *raw = malloc(RAW * sizeof *raw), x[NSIM * 512], p[NSIM];
    double ref[NSIM];
    for (int r = 0; r < NSIM; r++) {
        sim_record(r, raw);
        ck_assert_int_eq(cc_prep_record(raw, RAW, x + r * 512, 512), CC_PREP_OK);
    }
    if (!torch_cait(dir, x, NSIM, ref)) {
        free(raw);
        return;
    }
    snprintf(card, sizeof card, "%s/cait.yaml", dir);
    cc_err e;
    cc_nn_model *m = cc_nn_load(card, &e);
    ck_assert_msg(m != NULL, "%s", e.msg);
    cc_nn_ws *w = cc_nn_ws_new(m, NSIM);
    ck_assert_int_eq(cc_nn_score(m, w, x, NSIM, p, &e), 0);
    double maxd = 0;
    int clean = 0;
    for (int r = 0; r < NSIM; r++) {
        maxd = fmax(maxd, fabs(ref[r] - p[r]));
        clean += p[r] >= 0.5f;
    }
    printf("cait_live_torch: %d simulated records (%d clean), max |P(clean) - PyTorch| = %.3g\n",
           NSIM, clean, maxd);
    ck_assert(maxd <= 1e-5);
    ck_assert_msg(clean > 0 && clean < NSIM, "expected both classes, %d of %d clean", clean, NSIM);
    cc_nn_ws_free(&w);
    cc_nn_free(&m);
    free(raw);
}
END_TEST

static void send_raw(void *push, uint64_t seq, uint32_t ch, const float *raw)
{
    cc_rec_hdr h = {.instance_id = 0x5eedull,
                    .seq = seq,
                    .channel = ch,
                    .module = 1,
                    .timestamp_ns = 1700000000000000000ull + seq,
                    .run = 7,
                    .sample_type = CC_S_FLOAT32,
                    .adc_scale = 1.0,
                    .sample_rate_hz = 25000.0f,
                    .trigger_index = RAW / 4,
                    .n_samples = RAW};
    uint8_t hb[CC_REC_HDR_LEN];
    char topic[CC_TOPIC_MAX];
    cc_rec_hdr_encode(&h, hb);
    int tl = cc_topic_record(topic, sizeof topic, ch);
    ck_assert_int_ge(zmq_send(push, topic, (size_t)tl, ZMQ_SNDMORE), 0);
    ck_assert_int_ge(zmq_send(push, hb, sizeof hb, ZMQ_SNDMORE), 0);
    ck_assert_int_ge(zmq_send(push, raw, RAW * sizeof *raw, 0), 0);
}

/* The real daemon with the nn plugin and the Cait card: its decisions carry
 * the engine's P(clean) for the preprocessed records (and PyTorch's, 1e-5). */
START_TEST(cait_in_daemon)
{
    cct_daemon v;
    char card[512], body[2048];
    CCT_SRC("tests/golden/nn/cait-cnn.yaml", card);
    cct_daemon_init(&v);
    snprintf(body, sizeof body,
             "classifiers:\n"
             "  cait: {plugin: nn, config: {model: %s}}\n"
             "channels:\n"
             "  default: {classifier: cait, cutoff: 0.5}\n"
             "processing: {workers: 2, max_batch: 16, max_wait_ms: 2, queue_capacity: 256,\n"
             "             max_samples: 16384, max_message_bytes: 262144}\n",
             card);
    cct_daemon_conf(&v, body);
    cct_daemon_up(&v, NULL);
    float *raw = malloc(RAW * sizeof *raw), x[NSIM * 512], want[NSIM];
    for (int r = 0; r < NSIM; r++) {
        sim_record(r, raw);
        ck_assert_int_eq(cc_prep_record(raw, RAW, x + r * 512, 512), CC_PREP_OK);
    }
    cc_decision d;
    int live = 0; /* warm up until the decision subscription is live */
    for (uint64_t seq = 1; seq < 100 && !live; seq++) {
        send_raw(v.push, seq, 3, raw);
        live = cct_recv_decision(v.dec, &d, 200);
    }
    ck_assert_msg(live, "no decision from the daemon (log: %s)", v.log);
    while (cct_recv_decision(v.dec, &d, 300)) {
    }
    for (int r = 0; r < NSIM; r++) {
        sim_record(r, raw);
        send_raw(v.push, 1000 + (uint64_t)r, 5, raw);
    }
    int got = 0, seen[NSIM] = {0};
    float score[NSIM];
    while (got < NSIM && cct_recv_decision(v.dec, &d, 10000)) {
        ck_assert_uint_eq(d.channel, 5);
        ck_assert_msg(d.seq >= 1000 && d.seq < 1000 + NSIM, "unexpected seq %llu",
                      (unsigned long long)d.seq);
        int r = (int)(d.seq - 1000);
        ck_assert(!seen[r]);
        seen[r] = 1, score[r] = d.score, got++;
        ck_assert_str_eq(d.model, "cait-cnn-v2");
        ck_assert_str_eq(d.classifier, "cait");
        ck_assert_float_eq(d.cutoff, 0.5f);
        ck_assert_int_eq(d.verdict == CC_V_ACCEPT, d.score >= 0.5f);
    }
    ck_assert_int_eq(got, NSIM);
    ck_assert_int_eq(cct_daemon_stop(v.pid, SIGTERM, 20000), 0);
    cct_daemon_down(&v);
    cc_err e;
    cc_nn_model *m = cc_nn_load(card, &e);
    cc_nn_ws *w = cc_nn_ws_new(m, NSIM);
    ck_assert_int_eq(cc_nn_score(m, w, x, NSIM, want, &e), 0);
    double ref[NSIM], maxd = 0;
    int torch = torch_cait(v.dir, x, NSIM, ref);
    for (int r = 0; r < NSIM; r++) {
        ck_assert_msg(fabsf(score[r] - want[r]) <= 1e-6f, "record %d: daemon %g, engine %g", r,
                      score[r], want[r]);
        if (torch) maxd = fmax(maxd, fabs(score[r] - ref[r]));
    }
    if (torch) {
        printf("cait_in_daemon: %d records, max |daemon P(clean) - PyTorch| = %.3g\n", NSIM, maxd);
        ck_assert(maxd <= 1e-5);
    }
    cc_nn_ws_free(&w);
    cc_nn_free(&m);
    free(raw);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("nn_parity");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 200);
    tcase_add_loop_test(tc, golden_parity, 0, (int)(sizeof goldens / sizeof goldens[0]));
    tcase_add_test(tc, cait_pclean);
    tcase_add_test(tc, cait_live_torch);
    tcase_add_test(tc, cait_in_daemon);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cct_run(suite());
}
