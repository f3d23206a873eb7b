/* test_nn.c - model cards and the nn plugin: a card that does not match its
 * weights or its self-test is refused with a message naming the problem;
 * the plugin loads through the registry like the daemon does and scores
 * batches exactly like the library. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cc_nn.h"
#include "cc_preproc.h"
#include "cc_registry.h"
#include "cc_sim.h"
#include "cc_test.h"

/* Copies the Cait golden card (with text replaced: from -> to) and weights into
 * a temp dir, loads it and returns the error message ("" on success). */
static const char *load_variant(const char *from, const char *to, const void *weights, size_t wlen,
                                cc_err *e)
{
    static char dir[256];
    char src[512], card[600], wpath[600];
    cct_tmpdir(dir, sizeof dir);
    size_t clen, blen;
    char *text = cct_slurp(CCT_SRC("tests/golden/nn/cait-cnn.yaml", src), &clen);
    char *bin = cct_slurp(CCT_SRC("tests/golden/nn/cait-cnn.safetensors", src), &blen);
    char *at = from ? strstr(text, from) : NULL;
    ck_assert_msg(!from || at, "'%s' not in the card", from);
    char *out = malloc(clen + (to ? strlen(to) : 0) + 1);
    if (at) {
        size_t k = (size_t)(at - text);
        memcpy(out, text, k);
        strcpy(out + k, to);
        strcat(out, at + strlen(from));
    } else
        strcpy(out, text);
    snprintf(card, sizeof card, "%s/cait-cnn.yaml", dir);
    snprintf(wpath, sizeof wpath, "%s/cait-cnn.safetensors", dir);
    cct_write_file(card, out, strlen(out));
    cct_write_file(wpath, weights ? weights : bin, weights ? wlen : blen);
    free(text), free(bin), free(out);
    cc_err_clear(e);
    cc_nn_model *m = cc_nn_load(card, e);
    if (m) {
        cc_nn_free(&m);
        return "";
    }
    return e->msg;
}

#define REFUSED(msg, needle)                                                                       \
    ck_assert_msg(strstr((msg), (needle)) != NULL, "expected '%s' in '%s'", (needle), (msg))

/* Each of the n nn configurations conf[i] (relative paths against dir) is
 * refused by create(), with why[i] in the message. */
static void refused_configs(cc_registry *r, const char *dir, int n, const char *const *conf,
                            const char *const *why)
{
    for (int i = 0; i < n; i++) {
        cc_err e;
        cc_classifier c;
        cc_ydoc *doc = cc_ydoc_load_string("conf", conf[i], strlen(conf[i]), &e);
        ck_assert_ptr_nonnull(doc);
        ck_assert_int_eq(cc_classifier_create(r, "x", "nn", doc->root, dir, &c, &e), -1);
        REFUSED(e.msg, why[i]);
        cc_ydoc_free(&doc);
    }
}

START_TEST(card_errors)
{
    cc_err e;
    ck_assert_str_eq(load_variant(NULL, NULL, NULL, 0, &e), "");
    REFUSED(load_variant("in: 70", "in: 71", NULL, 0, &e),
            "in is 71, but the incoming shape gives 70");
    REFUSED(load_variant("kernel: 8, stride: 4, shape: [50, 127]",
                         "kernel: 8, stride: 4, shape: [50, 128]", NULL, 0, &e),
            "output shape [50, 128]");
    REFUSED(load_variant("type: relu", "type: relux", NULL, 0, &e), "unknown layer type 'relux'");
    REFUSED(load_variant("type: relu", "type: relu, foo: 1", NULL, 0, &e), "foo");
    REFUSED(load_variant("name: fc2", "name: fc3", NULL, 0, &e), "tensor 'fc3.weight'");
    REFUSED(load_variant("map: exp, index: 1", "map: exp, index: 2", NULL, 0, &e), "output.index");
    REFUSED(load_variant("format: cryoclean-model-card/1", "format: 2", NULL, 0, &e), "format");
    REFUSED(load_variant("tolerance: 1e-05", "tolerance: 1e-05\n  bogus: 1", NULL, 0, &e), "bogus");
    /* a self-test value off by 1e-3 */
    char src[512];
    char *card = cct_slurp(CCT_SRC("tests/golden/nn/cait-cnn.yaml", src), NULL);
    char *o = strstr(card, "outputs:\n    - [");
    ck_assert_ptr_nonnull(o);
    o += strlen("outputs:\n    - [");
    char first[64];
    size_t k = strcspn(o, ",");
    memcpy(first, o, k), first[k] = 0;
    char from[96], changed[96];
    snprintf(from, sizeof from, "outputs:\n    - [%s,", first);
    snprintf(changed, sizeof changed, "outputs:\n    - [%.9g,", atof(first) + 1e-3);
    REFUSED(load_variant(from, changed, NULL, 0, &e), "self-test failed: input 0 output 0");
    free(card);
}
END_TEST

START_TEST(weight_errors)
{
    char src[512];
    size_t n;
    unsigned char *bin =
        (unsigned char *)cct_slurp(CCT_SRC("tests/golden/nn/cait-cnn.safetensors", src), &n);
    cc_err e;
    /* one weight changed: the self-test catches it */
    unsigned char *w = malloc(n);
    memcpy(w, bin, n);
    w[n - 1] ^= 0x01; /* fc2.bias[1] (the last tensor) x 4 or / 4 */
    REFUSED(load_variant(NULL, NULL, w, n, &e), "self-test failed");
    /* truncated file */
    REFUSED(load_variant(NULL, NULL, bin, n - 4, &e), "cait-cnn.safetensors");
    /* a file written with a wrong shape and a missing and an extra tensor */
    char dir[256], path[512];
    cct_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    float z[400] = {0};
    const char *names[] = {"conv1.weight", "conv1.bias", "extra"};
    size_t nd[] = {3, 1, 1};
    uint64_t s0[] = {50, 1, 7}, s1[] = {50}, s2[] = {3};
    const uint64_t *shapes[] = {s0, s1, s2};
    const float *data[] = {z, z, z};
    ck_assert_int_eq(cc_st_write(path, 3, names, nd, shapes, data, NULL, &e), 0);
    size_t wl;
    char *wb = cct_slurp(path, &wl);
    const char *msg = load_variant(NULL, NULL, wb, wl, &e);
    REFUSED(
        msg,
        "tensor 'conv1.weight': shape [50, 1, 7], but the card's architecture needs [50, 1, 8]");
    s0[2] = 8;
    ck_assert_int_eq(cc_st_write(path, 3, names, nd, shapes, data, NULL, &e), 0);
    free(wb);
    wb = cct_slurp(path, &wl);
    REFUSED(load_variant(NULL, NULL, wb, wl, &e),
            "tensor 'conv2.weight' (needed by the card) is missing");
    free(wb);
    free(w);
    free(bin);
}
END_TEST

/* The seeded weights and the self-test inputs are reproducible values. */
START_TEST(generators)
{
    float a = cc_nn_init_value(1, "fc.weight", 0, -1, 1),
          b = cc_nn_init_value(1, "fc.weight", 0, -1, 1);
    ck_assert_float_eq(a, b);
    ck_assert(a >= -1 && a < 1);
    ck_assert(cc_nn_init_value(2, "fc.weight", 0, -1, 1) != a);
    float x[512];
    cc_nn_test_input(99, 0, x, 512);
    float lo = 1, hi = 0;
    for (int i = 0; i < 512; i++) lo = fminf(lo, x[i]), hi = fmaxf(hi, x[i]);
    ck_assert_float_eq(lo, 0.0f);
    ck_assert_float_eq(hi, 1.0f);
}
END_TEST

START_TEST(plugin)
{
    char gdir[512];
    CCT_SRC("tests/golden/nn", gdir);
    cc_registry *r = cc_registry_new(cct_env("CC_PLUGIN_DIR"));
    ck_assert_ptr_nonnull(r);
    const char *yml = "model: cait-cnn.yaml\nthreads: 1\n";
    cc_err e;
    cc_ydoc *doc = cc_ydoc_load_string("conf", yml, strlen(yml), &e);
    cc_classifier c;
    ck_assert_msg(cc_classifier_create(r, "cait", "nn", doc->root, gdir, &c, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(c.info.model, "cait-cnn-v2");
    ck_assert_uint_eq(c.info.input_len, 512);
    ck_assert_float_eq(c.info.default_cutoff, 0.5f);
    enum { N = 5 };
    float x[N * 512], s[N], ref[N];
    for (int i = 0; i < N; i++) cc_nn_test_input(7, (size_t)i, x + i * 512, 512);
    void *ws = c.ops->ws_new(c.inst, 8);
    ck_assert_ptr_nonnull(ws);
    cc_record_meta meta[N] = {{0}};
    cc_batch b = {.n = N, .meta = meta, .x = x, .input_len = 512};
    ck_assert_int_eq(c.ops->classify(c.inst, ws, &b, s, &e), 0);
    cc_nn_model *m = cc_nn_load(strcat(gdir, "/cait-cnn.yaml"), &e);
    cc_nn_ws *w = cc_nn_ws_new(m, N);
    ck_assert_int_eq(cc_nn_score(m, w, x, N, ref, &e), 0);
    for (int i = 0; i < N; i++) {
        ck_assert_float_eq(s[i], ref[i]);
        ck_assert(s[i] >= 0 && s[i] <= 1);
    }
    b.input_len = 256;
    ck_assert_int_eq(c.ops->classify(c.inst, ws, &b, s, &e), -1);
    REFUSED(e.msg, "input length 256");
    c.ops->ws_free(c.inst, ws);
    cc_classifier_destroy(&c);
    cc_ydoc_free(&doc);
    /* an ensemble: the mean of its members' P(clean) */
    const char *ens = "model: [cait-cnn.yaml, cnn.yaml]\n";
    doc = cc_ydoc_load_string("conf", ens, strlen(ens), &e);
    CCT_SRC("tests/golden/nn", gdir);
    ck_assert_msg(cc_classifier_create(r, "ens", "nn", doc->root, gdir, &c, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(c.info.model, "cait-cnn-v2+1");
    ck_assert_uint_eq(c.info.input_len, 512);
    ws = c.ops->ws_new(c.inst, 8);
    ck_assert_ptr_nonnull(ws);
    b.input_len = 512;
    ck_assert_int_eq(c.ops->classify(c.inst, ws, &b, s, &e), 0);
    cc_nn_model *m2 = cc_nn_load(strcat(gdir, "/cnn.yaml"), &e);
    cc_nn_ws *w2 = cc_nn_ws_new(m2, N);
    float ref2[N];
    ck_assert_int_eq(cc_nn_score(m2, w2, x, N, ref2, &e), 0);
    for (int i = 0; i < N; i++) {
        ck_assert_float_eq_tol(s[i], (ref[i] + ref2[i]) / 2, 1e-6);
        ck_assert(fabsf(ref[i] - ref2[i]) > 1e-3); /* the members disagree */
    }
    c.ops->ws_free(c.inst, ws);
    cc_classifier_destroy(&c);
    cc_ydoc_free(&doc);
    cc_nn_ws_free(&w2);
    cc_nn_free(&m2);
    /* a member of another input length is refused, naming both */
    char tdir[512], tiny[600];
    cct_tmpdir(tdir, sizeof tdir);
    snprintf(tiny, sizeof tiny, "%s/tiny256.yaml", tdir);
    const char *card256 =
        "format: cryoclean-model-card/1\nname: tiny256\n"
        "input: {length: 256, channels: 1, preprocessing: {downsample: block_mean, scale: "
        "minmax}}\nweights: {seed: 1}\nlayers:\n  - {type: flatten, shape: [1, 256]}\n"
        "  - {type: linear, name: fc, in: 256, out: 1, shape: [1, 1]}\n"
        "output: {map: sigmoid, index: 0}\ncutoff: 0.5\nprovenance: {source: test}\n"
        "selftest: {tolerance: 1.0e-6, seed: 99, count: 1, outputs: [[0.10820252]]}\n";
    cct_write_file(tiny, card256, strlen(card256));
    char mixed[1200];
    CCT_SRC("tests/golden/nn", gdir);
    snprintf(mixed, sizeof mixed, "model: [cait-cnn.yaml, %s]\n", tiny);
    doc = cc_ydoc_load_string("conf", mixed, strlen(mixed), &e);
    ck_assert_int_eq(cc_classifier_create(r, "x", "nn", doc->root, gdir, &c, &e), -1);
    REFUSED(e.msg, "takes 256 inputs, cait-cnn-v2 takes 512");
    cc_ydoc_free(&doc);
    /* a missing card, an unknown key, a missing member, an empty ensemble, a
     * member that is not a path are create() errors */
    const char *bad[] = {"model: nope.yaml\n", "model: cait-cnn.yaml\ncutof: 1\n",
                         "model: [cait-cnn.yaml, nope2.yaml]\n", "model: []\n",
                         "model: [cait-cnn.yaml, [x]]\n"};
    const char *why[] = {"nope.yaml", "cutof", "nope2.yaml", "1 to 16 members",
                         "expected a card path"};
    CCT_SRC("tests/golden/nn", gdir);
    refused_configs(r, gdir, 5, bad, why);
    cc_nn_ws_free(&w);
    cc_nn_free(&m);
    cc_registry_free(&r);
}
END_TEST

/* A template-conditioned card (input channels 2) through the plugin: each
 * record goes in with its channel's standard event, rendered from the
 * configured detector preset; the scores equal the library's on inputs built
 * by hand, depend on the template, and records the preset cannot serve fail
 * with the channel named. */
START_TEST(plugin_standard_events)
{
    char gdir[512], tdir[256], preset[400], card[600];
    CCT_SRC("tests/golden/nn", gdir);
    cct_tmpdir(tdir, sizeof tdir);
    snprintf(preset, sizeof preset, "%s/det.yaml", tdir);
    snprintf(card, sizeof card, "%s/cnn-sev.yaml", gdir);
    const char *det = "sim:\n  samples: 8192\n  channels:\n"
                      "    - {name: phonon, id: 4, kind: phonon, shape: {an: 5.0, at: 0.6, tau_n: "
                      "12.0, tau_in: 2.5, tau_t: 45.0}}\n"
                      "    - {name: light, id: 5, kind: light}\n";
    cct_write_file(preset, det, strlen(det));
    cc_registry *r = cc_registry_new(cct_env("CC_PLUGIN_DIR"));
    ck_assert_ptr_nonnull(r);
    char yml[1200];
    snprintf(yml, sizeof yml, "model: %s\nstandard_events: det.yaml\n", card);
    cc_err e;
    cc_ydoc *doc = cc_ydoc_load_string("conf", yml, strlen(yml), &e);
    cc_classifier c;
    ck_assert_msg(cc_classifier_create(r, "sev", "nn", doc->root, tdir, &c, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(c.info.input_len, 512);
    cc_ydoc_free(&doc);
    /* the reference: [record, preprocessed standard event of its channel] */
    cc_sim_config cfg;
    ck_assert_msg(cc_sim_config_load(preset, &cfg, &e) == 0, "%s", e.msg);
    static float raw[8192], tpl[2][512];
    for (int k = 0; k < 2; k++) {
        cc_sim_shape_render(&cfg.ch[k].shape, cfg.fs_hz, 2048, raw, 8192);
        ck_assert_int_eq(cc_prep_record(raw, 8192, tpl[k], 512), CC_PREP_OK);
    }
    enum { N = 4 };
    float x[N * 512], x2[N * 1024], s[N], ref[N];
    cc_record_meta meta[N];
    for (int i = 0; i < N; i++) {
        cc_nn_test_input(7, (size_t)(i / 2), x + i * 512, 512); /* 0,1 and 2,3 share a record */
        meta[i] = (cc_record_meta){.channel = (uint32_t)(4 + i % 2), .n_samples = 8192};
        memcpy(x2 + i * 1024, x + i * 512, 512 * sizeof *x);
        memcpy(x2 + i * 1024 + 512, tpl[i % 2], 512 * sizeof *x);
    }
    void *ws = c.ops->ws_new(c.inst, 8);
    ck_assert_ptr_nonnull(ws);
    cc_batch b = {.n = N, .meta = meta, .x = x, .input_len = 512};
    ck_assert_msg(c.ops->classify(c.inst, ws, &b, s, &e) == 0, "%s", e.msg);
    cc_nn_model *m = cc_nn_load(card, &e);
    ck_assert_ptr_nonnull(m);
    cc_nn_ws *w = cc_nn_ws_new(m, N);
    ck_assert_int_eq(cc_nn_score(m, w, x2, N, ref, &e), 0);
    for (int i = 0; i < N; i++) ck_assert_float_eq(s[i], ref[i]);
    ck_assert(fabsf(s[0] - s[1]) > 1e-5f); /* same record, other standard event */
    ck_assert(fabsf(s[2] - s[3]) > 1e-5f);
    /* a record without a standard event is scored NaN, the others as before,
     * and the reason is left in e */
    meta[2].channel = 9;
    e.msg[0] = '\0';
    ck_assert_int_eq(c.ops->classify(c.inst, ws, &b, s, &e), 0);
    REFUSED(e.msg, "no standard event for channel 9");
    ck_assert(isnan(s[2]) && s[0] == ref[0] && s[1] == ref[1] && s[3] == ref[3]);
    meta[2].channel = 4, meta[3].n_samples = 16384;
    e.msg[0] = '\0';
    ck_assert_int_eq(c.ops->classify(c.inst, ws, &b, s, &e), 0);
    REFUSED(e.msg, "channel 5: records of 16384 samples");
    ck_assert(isnan(s[3]) && s[0] == ref[0] && s[2] == ref[2]);
    c.ops->ws_free(c.inst, ws);
    cc_classifier_destroy(&c);
    cc_nn_ws_free(&w);
    cc_nn_free(&m);
    /* one preset per module: a list; each channel keeps its own record length */
    char preset2[400];
    snprintf(preset2, sizeof preset2, "%s/det2.yaml", tdir);
    const char *det2 = "sim:\n  samples: 16384\n  channels:\n"
                       "    - {name: phonon, id: 6, kind: phonon}\n";
    cct_write_file(preset2, det2, strlen(det2));
    snprintf(yml, sizeof yml, "model: %s\nstandard_events: [det.yaml, det2.yaml]\n", card);
    doc = cc_ydoc_load_string("conf", yml, strlen(yml), &e);
    ck_assert_msg(cc_classifier_create(r, "sev2", "nn", doc->root, tdir, &c, &e) == 0, "%s", e.msg);
    cc_ydoc_free(&doc);
    ws = c.ops->ws_new(c.inst, 8);
    meta[3] = (cc_record_meta){.channel = 6, .n_samples = 16384};
    ck_assert_msg(c.ops->classify(c.inst, ws, &b, s, &e) == 0, "%s", e.msg);
    ck_assert_float_eq(s[0], ref[0]);
    meta[3].n_samples = 8192;
    ck_assert_int_eq(c.ops->classify(c.inst, ws, &b, s, &e), 0);
    REFUSED(e.msg, "det2.yaml are for 16384");
    ck_assert(isnan(s[3]));
    c.ops->ws_free(c.inst, ws);
    cc_classifier_destroy(&c);
    /* the card needs standard events; a plain card refuses them; a bad preset is
     * named; a channel in two presets is refused */
    char bad[5][1200];
    snprintf(bad[0], sizeof bad[0], "model: %s\n", card);
    snprintf(bad[1], sizeof bad[1], "model: %s/cnn.yaml\nstandard_events: det.yaml\n", gdir);
    snprintf(bad[2], sizeof bad[2], "model: %s\nstandard_events: nope.yaml\n", card);
    snprintf(bad[3], sizeof bad[3], "model: %s\nstandard_events: [det.yaml, det.yaml]\n", card);
    snprintf(bad[4], sizeof bad[4], "model: %s\nstandard_events: []\n", card);
    const char *why[] = {"give 'standard_events", "does not take them", "nope.yaml",
                         "channel 4 is in both", "the list is empty"};
    const char *const badp[] = {bad[0], bad[1], bad[2], bad[3], bad[4]};
    refused_configs(r, tdir, 5, badp, why);
    cc_registry_free(&r);
}
END_TEST

/* Log lines of a plugin, captured (cc_registry_set_log). */
static char logbuf[8192];
static void capture_log(void *ctx, int level, const char *msg)
{
    (void)ctx, (void)level;
    size_t k = strlen(logbuf);
    snprintf(logbuf + k, sizeof logbuf - k, "%s\n", msg);
}

/* standard_events: learn - a channel is scored by the bootstrap until its
 * standard event is learnt from the pulses the bootstrap accepts, then by the
 * conditioned card (other scores, a log line with the fitted shape); the
 * configuration is checked. */
START_TEST(plugin_learns_standard_events)
{
    char gdir[512], card[600], boot[600], tdir[256], yml[2048];
    CCT_SRC("conf/models", gdir);
    snprintf(card, sizeof card, "%s/cnn-sev-default.yaml", gdir);
    snprintf(boot, sizeof boot, "%s/cnn-default.yaml", gdir);
    cct_tmpdir(tdir, sizeof tdir);
    cc_registry *r = cc_registry_new(cct_env("CC_PLUGIN_DIR"));
    cc_registry_set_log(r, capture_log, NULL);
    logbuf[0] = '\0';
    snprintf(yml, sizeof yml,
             "model: %s\nstandard_events: learn\nbootstrap: %s\n"
             "learn: {pulses: 40, min_snr: 20, min_score: 0.9, save: learnt.yaml}\n",
             card, boot);
    cc_err e;
    cc_ydoc *doc = cc_ydoc_load_string("conf", yml, strlen(yml), &e);
    cc_classifier c;
    ck_assert_msg(cc_classifier_create(r, "cnn", "nn", doc->root, tdir, &c, &e) == 0, "%s", e.msg);
    cc_ydoc_free(&doc);
    ck_assert_str_eq(c.info.model, "cnn-sev-default/learn");
    ck_assert_msg(strstr(logbuf, "learning each channel's standard event from the first 40"), "%s",
                  logbuf);
    /* clean event pulses of one detector, channel 3 */
    cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cfg.n_samples = 8192, cfg.n_channels = 1, cfg.ch[0].id = 3;
    cc_sim *sim = cc_sim_new(&cfg, 5, &e);
    ck_assert_ptr_nonnull(sim);
    enum { B = 16 };
    static float raw[B][8192], x[B * 512], sb[B], s[B];
    cc_sim_record rec;
    ck_assert_int_eq(cc_sim_record_init(&rec, 8192, &e), 0);
    const float *rawp[B];
    cc_record_meta meta[B];
    for (int i = 0; i < B; i++) {
        rawp[i] = raw[i];
        meta[i] = (cc_record_meta){
            .channel = 3, .n_samples = 8192, .trigger_index = 2048, .sample_rate_hz = 25000};
    }
    cc_batch b = {.n = B, .meta = meta, .raw = rawp, .x = x, .input_len = 512};
    void *ws = c.ops->ws_new(c.inst, B);
    cc_nn_model *bm = cc_nn_load(boot, &e);
    cc_nn_ws *bw = cc_nn_ws_new(bm, B);
    int batches = 0, learnt = 0, differ = 0;
    for (; batches < 100 && !differ; batches++) {
        for (int i = 0; i < B; i++) {
            ck_assert_int_eq(cc_sim_make(sim, 0, CC_SIM_EVENT, batches * B + i, &rec, &e), 0);
            memcpy(raw[i], rec.samples, sizeof raw[i]);
            ck_assert_int_eq(cc_prep_record(raw[i], 8192, x + i * 512, 512), CC_PREP_OK);
        }
        ck_assert_msg(c.ops->classify(c.inst, ws, &b, s, &e) == 0, "%s", e.msg);
        ck_assert_int_eq(cc_nn_score(bm, bw, x, B, sb, &e), 0);
        int same = 1;
        for (int i = 0; i < B; i++) same &= s[i] == sb[i];
        if (!learnt)
            ck_assert_msg(same, "batch %d: not the bootstrap's scores before learning", batches);
        learnt |= strstr(logbuf, "channel 3: standard event learnt from 40 pulses") != NULL;
        differ = learnt && !same;
    }
    ck_assert_msg(learnt && differ, "after %d batches: %s", batches, logbuf);
    ck_assert_msg(strstr(logbuf, "shape {an: ") && strstr(logbuf, "cnn-sev-default scores"), "%s",
                  logbuf);
    c.ops->ws_free(c.inst, ws);
    cc_classifier_destroy(&c);
    /* kept: the save file is a preset with channel 3, and a new instance (a
     * reload) starts with it learnt */
    char saved[600];
    snprintf(saved, sizeof saved, "%s/learnt.yaml", tdir);
    cc_sim_config kept;
    ck_assert_msg(cc_sim_config_load(saved, &kept, &e) == 0, "%s", e.msg);
    ck_assert(kept.n_channels == 1 && kept.ch[0].id == 3 && kept.n_samples == 8192);
    logbuf[0] = '\0';
    doc = cc_ydoc_load_string("conf", yml, strlen(yml), &e);
    ck_assert_msg(cc_classifier_create(r, "cnn", "nn", doc->root, tdir, &c, &e) == 0, "%s", e.msg);
    cc_ydoc_free(&doc);
    ck_assert_msg(strstr(logbuf, "the standard events of 1 channels from"), "%s", logbuf);
    ws = c.ops->ws_new(c.inst, B);
    ck_assert_msg(c.ops->classify(c.inst, ws, &b, s, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(cc_nn_score(bm, bw, x, B, sb, &e), 0);
    int same = 1;
    for (int i = 0; i < B; i++) same &= s[i] == sb[i];
    ck_assert_msg(!same, "the reloaded instance scores with the bootstrap");
    c.ops->ws_free(c.inst, ws);
    cc_classifier_destroy(&c);
    /* an unreadable save file stops create(), naming it */
    cct_write_file(saved, "sim: [", 6);
    doc = cc_ydoc_load_string("conf", yml, strlen(yml), &e);
    ck_assert_int_eq(cc_classifier_create(r, "cnn", "nn", doc->root, tdir, &c, &e), -1);
    REFUSED(e.msg, "learnt.yaml");
    cc_ydoc_free(&doc);
    cc_nn_ws_free(&bw);
    cc_nn_free(&bm);
    cc_sim_record_release(&rec);
    cc_sim_free(&sim);
    /* configuration errors */
    char bad[6][2048];
    snprintf(bad[0], sizeof bad[0], "model: %s\nstandard_events: learn\n", card);
    snprintf(bad[1], sizeof bad[1], "model: %s\nstandard_events: learn\nbootstrap: %s\n", card,
             card);
    snprintf(bad[2], sizeof bad[2], "model: [%s, %s]\nstandard_events: learn\nbootstrap: %s\n",
             card, card, boot);
    snprintf(bad[3], sizeof bad[3], "model: %s\nbootstrap: %s\n", boot, boot);
    snprintf(bad[4], sizeof bad[4],
             "model: %s\nstandard_events: learn\nbootstrap: %s\nlearn: {pulses: 3}\n", card, boot);
    snprintf(bad[5], sizeof bad[5],
             "model: %s\nstandard_events: learn\nbootstrap: %s\nlearn: {pulse: 30}\n", card, boot);
    const char *why[] = {"needs 'bootstrap: CARD.yaml'",
                         "it must take 1 x 512",
                         "learn takes one card with 2 input channels",
                         "go with 'standard_events: learn'",
                         "pulses",
                         "pulse"};
    const char *const badp[] = {bad[0], bad[1], bad[2], bad[3], bad[4], bad[5]};
    refused_configs(r, tdir, 6, badp, why);
    cc_registry_free(&r);
}
END_TEST

/* The shipped cards in conf/models load (self-test included). */
START_TEST(shipped_cards)
{
    const char *cards[] = {"cnn", "lstm", "tscn", "tst", "cnn-sev"};
    for (int i = 0; i < 5; i++) {
        char rel[64], path[512];
        snprintf(rel, sizeof rel, "conf/models/%s.yaml", cards[i]);
        cc_err e;
        cc_nn_model *m = cc_nn_load(CCT_SRC(rel, path), &e);
        ck_assert_msg(m != NULL, "%s: %s", cards[i], e.msg);
        ck_assert_str_eq(cc_nn_name(m), cards[i]);
        cc_nn_free(&m);
    }
}
END_TEST

/* Random edits of the numbers and words of a card: every variant loads or is
 * refused with a message naming the card; nothing crashes (run under ASan). */
START_TEST(card_fuzz)
{
    char src[512], dir[256], card[600], wsrc[512], wdst[600];
    size_t clen, wlen;
    char *text = cct_slurp(CCT_SRC("tests/golden/nn/cait-cnn.yaml", src), &clen);
    char *bin = cct_slurp(CCT_SRC("tests/golden/nn/cait-cnn.safetensors", wsrc), &wlen);
    cct_tmpdir(dir, sizeof dir);
    snprintf(card, sizeof card, "%s/cait-cnn.yaml", dir);
    snprintf(wdst, sizeof wdst, "%s/cait-cnn.safetensors", dir);
    cct_write_file(wdst, bin, wlen);
    const char *layers = strstr(text, "layers:"), *end = strstr(text, "provenance:");
    ck_assert(layers && end);
    const size_t lo = (size_t)(layers - text), hi = (size_t)(end - text);
    char *mut = malloc(clen + 1);
    uint64_t st = 42;
    int loaded = 0, refused = 0;
    for (int it = 0; it < 300; it++) {
        memcpy(mut, text, clen + 1);
        for (int k = 0; k < 1 + it % 3; k++) {
            size_t pos;
            int tries = 0;
            do { /* mostly digits: they carry the shapes */
                st = st * 6364136223846793005ull + 1442695040888963407ull;
                pos = lo + (size_t)(st >> 33) % (hi - lo);
            } while (it % 7 && !(mut[pos] >= '0' && mut[pos] <= '9') && ++tries < 100);
            const char *alphabet = "0123456789019-[]{},: x";
            if (mut[pos] >= '0' && mut[pos] <= '9')
                mut[pos] = alphabet[(st >> 20) % 10];
            else if (it % 7 == 0)
                mut[pos] = alphabet[(st >> 20) % 22];
        }
        cct_write_file(card, mut, clen);
        cc_err e = {{0}};
        cc_nn_model *m = cc_nn_load(card, &e);
        if (m) {
            loaded++;
            cc_nn_free(&m);
        } else {
            refused++;
            ck_assert_msg(strstr(e.msg, card) != NULL, "message without the card: %s", e.msg);
        }
    }
    printf("card_fuzz: %d variants loaded, %d refused\n", loaded, refused);
    ck_assert_int_gt(refused, 150);
    free(mut), free(text), free(bin);
}
END_TEST

/* `cryoclean import CARD` prints the architecture, the parameter count and
 * the self-test error, and fails (exit 1) with the reason on a bad card. */
START_TEST(import_command)
{
    char exe[512], card[512], dir[256], cmd[2048], out[600];
    CCT_BUILD("tools/cryoclean", exe);
    CCT_SRC("tests/golden/nn/cait-cnn.yaml", card);
    cct_tmpdir(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    snprintf(cmd, sizeof cmd, "%s import %s > %s 2>&1", exe, card, out);
    ck_assert_int_eq(system(cmd), 0);
    char *text = cct_slurp(out, NULL);
    REFUSED(text, "parameters: 19062");
    REFUSED(text, "self-test: 8 inputs, max |error|");
    REFUSED(text, "conv1d       conv1");
    REFUSED(text, "P(clean) = exp(output[1])");
    free(text);
    snprintf(cmd, sizeof cmd, "%s import %s/none.yaml > %s 2>&1", exe, dir, out);
    int rc = system(cmd);
    ck_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
    text = cct_slurp(out, NULL);
    REFUSED(text, "none.yaml");
    free(text);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("nn");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 200);
    tcase_add_test(tc, card_errors);
    tcase_add_test(tc, weight_errors);
    tcase_add_test(tc, generators);
    tcase_add_test(tc, plugin);
    tcase_add_test(tc, plugin_standard_events);
    tcase_add_test(tc, plugin_learns_standard_events);
    tcase_add_test(tc, shipped_cards);
    tcase_add_test(tc, import_command);
    tcase_add_test(tc, card_fuzz);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cct_run(suite());
}
