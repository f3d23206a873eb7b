/* test_classify.c - `cryoclean classify` end to end: simulated files, the
 * real cuts plugin and Cait's CNN card, results compared with calling the
 * plugins directly on the same records, the daemon's channel mapping, module
 * mappings (group attribute and --modules), the --out file, errors on bad input, and an interrupted
 * run (SIGINT) that leaves a consistent partial result and resumes to the full one. */
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cc_h5.h"
#include "cc_preproc.h"
#include "cc_registry.h"
#include "cc_test.h"
#include "cc_yaml.h"

static const char *exe(void)
{
    static char buf[1024];
    return CCT_BUILD("tools/cryoclean", buf);
}

/* Runs cryoclean with args (NULL-terminated, without argv[0]); stdout and
 * stderr go to log (appended). If sig_after_line, sends SIGINT once stderr
 * shows a progress line. Returns the exit status. */
static int run(const char *log, int sig_after_line, const char *const *args)
{
    const char *argv[32] = {exe()};
    size_t n = 1;
    for (; args[n - 1]; n++) argv[n] = args[n - 1];
    argv[n] = NULL;
    int pfd[2];
    ck_assert_int_eq(pipe(pfd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(pfd[1], 2);
        close(pfd[0]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    FILE *lf = fopen(log, "a"), *er = fdopen(pfd[0], "r");
    char line[1024];
    int sent = 0;
    while (fgets(line, sizeof line, er)) {
        fputs(line, lf);
        if (sig_after_line && !sent && strstr(line, "classify:") && strstr(line, "%")) {
            kill(pid, SIGINT);
            sent = 1;
        }
    }
    fclose(er), fclose(lf);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int log_has(const char *log, const char *needle)
{
    FILE *f = fopen(log, "r");
    static char buf[1 << 16];
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

static void simulate(const char *path, const char *events, const char *seed)
{
    char log[600];
    snprintf(log, sizeof log, "%s.simlog", path);
    const char *a[] = {"sim", "-o", path, "-n", events, "--seed", seed, "-q", NULL};
    ck_assert_int_eq(run(log, 0, a), 0);
}

/* Reads a whole dataset at path of file into a new buffer; checks its
 * rank/dims and its type class and size. */
static void *read_ds(const char *file, const char *path, hid_t mt, int rank, const hsize_t *dims)
{
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_msg(f >= 0, "%s: cannot open", file);
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    ck_assert_msg(d >= 0, "%s: no dataset %s", file, path);
    hid_t sp = H5Dget_space(d), ft = H5Dget_type(d);
    ck_assert_int_eq(H5Sget_simple_extent_ndims(sp), rank);
    hsize_t got[3];
    H5Sget_simple_extent_dims(sp, got, NULL);
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        ck_assert_uint_eq(got[i], dims[i]);
        n *= dims[i];
    }
    ck_assert_int_eq(H5Tget_class(ft), H5Tget_class(mt));
    ck_assert_uint_eq(H5Tget_size(ft), H5Tget_size(mt));
    void *buf = malloc(n * H5Tget_size(mt) + 1);
    ck_assert_int_ge(H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), 0);
    H5Tclose(ft), H5Sclose(sp), H5Dclose(d), H5Fclose(f);
    return buf;
}

static uint64_t attr_u64(const char *file, const char *obj, const char *name)
{
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_msg(a >= 0, "%s: %s has no attribute %s", file, obj, name);
    uint64_t v = 0;
    H5Aread(a, H5T_NATIVE_UINT64, &v);
    H5Aclose(a), H5Fclose(f);
    return v;
}

static int exists(const char *file, const char *path)
{
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert(f >= 0);
    htri_t ex = H5Lexists(f, path, H5P_DEFAULT);
    H5Fclose(f);
    return ex > 0;
}

/* All raw records of events/event, [c][i][s]. */
static float *read_events(const char *file, cc_h5_info *info)
{
    cc_err e = {""};
    cc_h5_reader *r = cc_h5_reader_open(file, "events", &e);
    ck_assert_msg(r != NULL, "%s", e.msg);
    *info = *cc_h5_reader_info(r);
    size_t n = (size_t)info->n_channels * info->n_events * info->n_samples;
    float *ev = malloc(n * sizeof *ev);
    cc_h5_batch b = {.k = (uint32_t)info->n_events, .event = ev};
    ck_assert_msg(cc_h5_reader_read(r, 0, &b, &e) == 0, "%s", e.msg);
    cc_h5_reader_close(&r);
    return ev;
}

/* Scores of channel c of the file from calling plugin's ops directly, in
 * batches of 64 records, preprocessing with cc_prep_record when the plugin
 * wants an input length. conf: YAML text of its config block or NULL. */
static void direct_scores(const char *plugin, const char *conf, const float *ev,
                          const cc_h5_info *in, uint32_t c, float *out)
{
    cc_err e = {""};
    cc_registry *reg = cc_registry_new(cct_env("CC_PLUGIN_DIR"));
    cc_ydoc *doc = conf ? cc_ydoc_load_string("conf", conf, strlen(conf), &e) : NULL;
    cc_classifier cl = {0};
    ck_assert_msg(cc_classifier_create(reg, plugin, plugin, doc ? doc->root : NULL, ".", &cl, &e) ==
                      0,
                  "%s", e.msg);
    size_t L = cl.info.input_len, N = in->n_samples;
    void *ws = cl.ops->ws_new(cl.inst, 64);
    float *x = calloc(64 * (L ? L : 1), sizeof *x);
    const float *raw[64];
    cc_record_meta meta[64];
    for (size_t i0 = 0; i0 < in->n_events; i0 += 64) {
        size_t n = in->n_events - i0 < 64 ? in->n_events - i0 : 64;
        for (size_t i = 0; i < n; i++) {
            raw[i] = ev + ((size_t)c * in->n_events + i0 + i) * N;
            meta[i] = (cc_record_meta){.channel = in->channel_ids[c],
                                       .n_samples = (uint32_t)N,
                                       .trigger_index = in->trigger_index,
                                       .sample_rate_hz = (float)in->fs_hz};
            if (L) ck_assert_int_eq(cc_prep_record(raw[i], N, x + i * L, L), CC_PREP_OK);
        }
        cc_batch b = {.n = n, .meta = meta, .raw = raw, .x = L ? x : NULL, .input_len = L};
        ck_assert_msg(cl.ops->classify(cl.inst, ws, &b, out + i0, &e) == 0, "%s", e.msg);
    }
    cl.ops->ws_free(cl.inst, ws);
    free(x);
    cc_classifier_destroy(&cl);
    cc_ydoc_free(&doc);
    cc_registry_free(&reg);
}

/* A fresh directory with the input file name dir/a.h5 and the log dir/log. */
static void workdir(char dir[256], char f[300], char log[300])
{
    cct_tmpdir(dir, 256);
    snprintf(f, 300, "%s/a.h5", dir);
    snprintf(log, 300, "%s/log", dir);
}

typedef struct results {
    float *score;
    uint8_t *accept, *mod_accept, *ev_accept;
} results;

/* Reads and checks the results in group of file: shapes, types,
 * accept == score >= cutoff[c], module_accept == AND over the channels of
 * the record's module (mod[c]; NULL = one module), event_accept == AND over
 * all channels. */
static results check_results(const char *file, const char *group, const cc_h5_info *in,
                             const float *cutoff, const uint32_t *mod)
{
    char p[256];
    hsize_t d2[2] = {in->n_channels, in->n_events}, d1[1] = {in->n_events};
    results r;
    snprintf(p, sizeof p, "%s/score", group);
    r.score = read_ds(file, p, H5T_NATIVE_FLOAT, 2, d2);
    snprintf(p, sizeof p, "%s/accept", group);
    r.accept = read_ds(file, p, H5T_NATIVE_UINT8, 2, d2);
    snprintf(p, sizeof p, "%s/module_accept", group);
    r.mod_accept = read_ds(file, p, H5T_NATIVE_UINT8, 2, d2);
    snprintf(p, sizeof p, "%s/event_accept", group);
    r.ev_accept = read_ds(file, p, H5T_NATIVE_UINT8, 1, d1);
    ck_assert_uint_eq(attr_u64(file, group, "complete_events"), in->n_events);
    size_t nacc = 0, N = in->n_events;
    for (size_t i = 0; i < N; i++) {
        int all = 1;
        for (uint32_t c = 0; c < in->n_channels; c++) {
            size_t x = c * N + i;
            ck_assert_int_eq(r.accept[x], r.score[x] >= cutoff[c]);
            all &= r.accept[x];
        }
        ck_assert_int_eq(r.ev_accept[i], all);
        for (uint32_t c = 0; c < in->n_channels; c++) {
            int m = 1;
            for (uint32_t q = 0; q < in->n_channels; q++)
                if (!mod || mod[q] == mod[c]) m &= r.accept[q * N + i];
            ck_assert_int_eq(r.mod_accept[c * N + i], m);
        }
        nacc += all;
    }
    ck_assert_msg(nacc > 0 && nacc < N, "all or no events accepted: %zu", nacc);
    return r;
}

static void results_free(results *r)
{
    free(r->score), free(r->accept), free(r->mod_accept), free(r->ev_accept);
}

START_TEST(cuts_in_place)
{
    char dir[256], f[300], log[300];
    workdir(dir, f, log);
    simulate(f, "200", "1");
    cc_h5_info in;
    float *before = read_events(f, &in);
    const char *a[] = {"classify",  f,   "--classifier", "cuts", "--cutoff", "0.5",
                       "--threads", "2", "--chunk",      "48",   "--batch",  "16",
                       NULL};
    ck_assert_int_eq(run(log, 0, a), 0);
    ck_assert(log_has(log, "events accepted (all 2 channels of the module)"));
    float cut[2] = {0.5f, 0.5f}, *want = malloc(in.n_events * sizeof *want);
    results r = check_results(f, "events/cryoclean", &in, cut, NULL);
    for (uint32_t c = 0; c < in.n_channels; c++) {
        direct_scores("cuts", NULL, before, &in, c, want);
        for (size_t i = 0; i < in.n_events; i++)
            ck_assert_float_eq(r.score[c * in.n_events + i], want[i]);
    }
    ck_assert(!exists(f, "events/cryoclean.partial"));
    cc_h5_info in2;
    float *after = read_events(f, &in2);
    ck_assert(!memcmp(before, after, (size_t)in.n_channels * in.n_events * in.n_samples * 4));
    /* again: refused without --force, accepted with it */
    ck_assert_int_eq(run(log, 0, a), 1);
    ck_assert(log_has(log, "results already present"));
    const char *b[] = {"classify", f, "--classifier", "cuts", "--force", "-q", NULL};
    ck_assert_int_eq(run(log, 0, b), 0);
    results_free(&r);
    free(before), free(after), free(want);
    unlink(f);
}
END_TEST

START_TEST(cait_cnn_to_out_file)
{
    char dir[256], f[300], o[300], log[300], card[512], conf[600];
    workdir(dir, f, log);
    snprintf(o, sizeof o, "%s/res.h5", dir);
    CCT_SRC("tests/golden/nn/cait-cnn.yaml", card);
    snprintf(conf, sizeof conf, "{model: \"%s\"}", card);
    simulate(f, "150", "3");
    cc_h5_info in;
    float *ev = read_events(f, &in);
    const char *a[] = {"classify", f, "--model", card, "--out", o, "--threads", "2", "-q", NULL};
    ck_assert_int_eq(run(log, 0, a), 0);
    ck_assert(!exists(f, "events/cryoclean")); /* the input is untouched */
    float cut[2] = {0.5f, 0.5f}, *want = malloc(in.n_events * sizeof *want);
    results r = check_results(o, "events/cryoclean", &in, cut, NULL);
    for (uint32_t c = 0; c < in.n_channels; c++) {
        direct_scores("nn", conf, ev, &in, c, want);
        for (size_t i = 0; i < in.n_events; i++)
            ck_assert_float_eq_tol(r.score[c * in.n_events + i], want[i], 1e-6);
    }
    /* times and labels travel with the results */
    hsize_t d1[1] = {in.n_events}, d2[2] = {in.n_channels, in.n_events};
    double *h0 = read_ds(f, "events/hours", H5T_NATIVE_DOUBLE, 1, d1);
    double *h1 = read_ds(o, "events/hours", H5T_NATIVE_DOUBLE, 1, d1);
    ck_assert(!memcmp(h0, h1, in.n_events * sizeof *h0));
    free(read_ds(o, "events/labels", H5T_NATIVE_INT32, 2, d2));
    ck_assert(!exists(o, "events/event"));
    /* an existing result file needs --force */
    ck_assert_int_eq(run(log, 0, a), 1);
    results_free(&r);
    free(ev), free(want), free(h0), free(h1);
    unlink(f), unlink(o);
}
END_TEST

START_TEST(config_mapping)
{
    char dir[256], f[300], log[300], card[512], cfg[300], text[2048];
    workdir(dir, f, log);
    snprintf(cfg, sizeof cfg, "%s/cryoclean.yaml", dir);
    CCT_SRC("tests/golden/nn/cait-cnn.yaml", card);
    int n = snprintf(text, sizeof text,
                     "inputs: [{endpoint: \"tcp://127.0.0.1:5555\"}]\n"
                     "outputs: {decisions: {endpoint: \"tcp://127.0.0.1:5556\"}}\n"
                     "plugin_dir: %s\n"
                     "classifiers:\n"
                     "  cuts: {plugin: cuts}\n"
                     "  cnn: {plugin: nn, config: {model: \"%s\"}}\n"
                     "channels:\n"
                     "  default: {classifier: cuts, cutoff: 0.3}\n"
                     "  1: {classifier: cnn, cutoff: 0.7}\n",
                     cct_env("CC_PLUGIN_DIR"), card);
    cct_write_file(cfg, text, (size_t)n);
    simulate(f, "150", "4");
    cc_h5_info in;
    float *ev = read_events(f, &in);
    const char *a[] = {"classify", f, "--config", cfg, "-q", NULL};
    ck_assert_int_eq(run(log, 0, a), 0);
    float cut[2] = {0.3f, 0.7f}, *want = malloc(in.n_events * sizeof *want);
    results r = check_results(f, "events/cryoclean", &in, cut, NULL);
    direct_scores("cuts", NULL, ev, &in, 0, want);
    for (size_t i = 0; i < in.n_events; i++) ck_assert_float_eq(r.score[i], want[i]);
    char conf[600];
    snprintf(conf, sizeof conf, "{model: \"%s\"}", card);
    direct_scores("nn", conf, ev, &in, 1, want);
    for (size_t i = 0; i < in.n_events; i++)
        ck_assert_float_eq_tol(r.score[in.n_events + i], want[i], 1e-6);
    results_free(&r);
    free(ev), free(want);
    unlink(f);
}
END_TEST

START_TEST(module_mapping)
{
    char dir[256], f[300], log[300];
    workdir(dir, f, log);
    simulate(f, "120", "6");
    cc_h5_info in;
    free(read_events(f, &in));
    float cut[2] = {0.5f, 0.5f};
    /* the group's module_ids attribute: each channel its own module */
    hid_t h = H5Fopen(f, H5F_ACC_RDWR, H5P_DEFAULT);
    hsize_t two = 2;
    int32_t ids[2] = {7, 9};
    hid_t sp = H5Screate_simple(1, &two, NULL);
    hid_t a = H5Acreate_by_name(h, "events", "module_ids", H5T_NATIVE_INT32, sp, H5P_DEFAULT,
                                H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(H5Awrite(a, H5T_NATIVE_INT32, ids), 0);
    H5Aclose(a), H5Sclose(sp), H5Fclose(h);
    const char *x[] = {"classify", f, "--classifier", "cuts", NULL};
    ck_assert_int_eq(run(log, 0, x), 0);
    ck_assert(log_has(log, "module 9: events accepted by all its channels"));
    uint32_t sep[2] = {0, 1}, one[2] = {3, 3};
    results r = check_results(f, "events/cryoclean", &in, cut, sep);
    ck_assert(!memcmp(r.mod_accept, r.accept, 2 * in.n_events));
    results_free(&r);
    /* --modules overrides it: one module again */
    const char *y[] = {"classify", f,         "--classifier", "cuts", "--modules",
                       "3,3",      "--force", "-q",           NULL};
    ck_assert_int_eq(run(log, 0, y), 0);
    r = check_results(f, "events/cryoclean", &in, cut, one);
    ck_assert(!memcmp(r.mod_accept, r.ev_accept, in.n_events));
    results_free(&r);
    const char *z[] = {"classify", f, "--classifier", "cuts", "--modules", "1,2,3", "-q", NULL};
    ck_assert_int_eq(run(log, 0, z), 1);
    ck_assert(log_has(log, "--modules 1,2,3: expected one module per channel (2), found more"));
    unlink(f);
}
END_TEST

START_TEST(bad_input)
{
    char dir[256], f[300], log[300];
    workdir(dir, f, log);
    snprintf(f, sizeof f, "%s/missing.h5", dir);
    const char *a[] = {"classify", f, "--classifier", "cuts", "-q", NULL};
    ck_assert_int_eq(run(log, 0, a), 1);
    ck_assert(log_has(log, "missing.h5: cannot open (missing or unreadable)"));
    snprintf(f, sizeof f, "%s/junk.h5", dir);
    cct_write_file(f, "this is not HDF5\n", 17);
    ck_assert_int_eq(run(log, 0, a), 1);
    ck_assert(log_has(log, "junk.h5: not an HDF5 file"));
    snprintf(f, sizeof f, "%s/a.h5", dir);
    simulate(f, "10", "1");
    char t[300];
    snprintf(t, sizeof t, "%s/truncated.h5", dir);
    simulate(t, "10", "1");
    ck_assert_int_eq(truncate(t, 600000), 0);
    const char *tr[] = {"classify", t, "--classifier", "cuts", "-q", NULL};
    ck_assert_int_eq(run(log, 0, tr), 1);
    ck_assert(log_has(log, "truncated.h5: HDF5 cannot open the file"));
    const char *g[] = {"classify", f, "--classifier", "cuts", "--group", "nope", "-q", NULL};
    ck_assert_int_eq(run(log, 0, g), 1);
    ck_assert(log_has(log, "no group 'nope'"));
    const char *u[] = {"classify", f, "--classifier", "nosuchplugin", "-q", NULL};
    ck_assert_int_eq(run(log, 0, u), 1);
    ck_assert(log_has(log, "nosuchplugin"));
    const char *us[] = {"classify", f, NULL};
    ck_assert_int_eq(run(log, 0, us), 2);
    ck_assert(!exists(f, "events/cryoclean.partial") && !exists(f, "events/cryoclean"));
    unlink(f), unlink(t);
}
END_TEST

START_TEST(interrupt_and_resume)
{
    char dir[256], f[300], log[300];
    workdir(dir, f, log);
    simulate(f, "1500", "5");
    cc_h5_info in;
    float *ev = read_events(f, &in);
    /* small chunks on one thread: slow enough to be interrupted after the first 10 % */
    const char *a[] = {"classify", f,   "--classifier", "cuts", "--threads", "1", "--chunk",
                       "4",        NULL};
    ck_assert_int_eq(run(log, 1, a), 130);
    ck_assert(log_has(log, "interrupted"));
    ck_assert(!exists(f, "events/cryoclean"));
    const char *pg = "events/cryoclean.partial";
    uint64_t done = attr_u64(f, pg, "complete_events");
    ck_assert_msg(done > 0 && done < in.n_events, "complete_events %llu of %llu",
                  (unsigned long long)done, (unsigned long long)in.n_events);
    char sp[128];
    snprintf(sp, sizeof sp, "%s/score", pg);
    hsize_t d2[2] = {in.n_channels, in.n_events};
    float *s = read_ds(f, sp, H5T_NATIVE_FLOAT, 2, d2);
    float *want = malloc(in.n_events * sizeof *want);
    for (uint32_t c = 0; c < in.n_channels; c++) {
        direct_scores("cuts", NULL, ev, &in, c, want);
        for (size_t i = 0; i < in.n_events; i++) {
            float got = s[c * in.n_events + i];
            if (i < done)
                ck_assert_float_eq(got, want[i]);
            else
                ck_assert_msg(isnan(got), "event %zu after complete_events was written", i);
        }
    }
    /* the file still reads with cc_h5 */
    cc_h5_info in2;
    free(read_events(f, &in2));
    /* running again resumes and completes */
    ck_assert_int_eq(run(log, 0, a), 0);
    ck_assert(log_has(log, "resuming"));
    ck_assert(!exists(f, pg));
    float cut[2] = {0.5f, 0.5f};
    results r = check_results(f, "events/cryoclean", &in, cut, NULL);
    for (uint32_t c = 0; c < in.n_channels; c++) {
        direct_scores("cuts", NULL, ev, &in, c, want);
        for (size_t i = 0; i < in.n_events; i++)
            ck_assert_float_eq(r.score[c * in.n_events + i], want[i]);
    }
    results_free(&r);
    free(s), free(ev), free(want);
    unlink(f);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("classify");
    TCase *t = tcase_create("classify");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, cuts_in_place);
    tcase_add_test(t, cait_cnn_to_out_file);
    tcase_add_test(t, config_mapping);
    tcase_add_test(t, module_mapping);
    tcase_add_test(t, bad_input);
    tcase_add_test(t, interrupt_and_resume);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return cct_run(make_suite());
}
