/* test_h5.c - Cait-layout HDF5: round trip, streaming reads, files written by
 * h5py, and clear errors for malformed files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cc_h5.h"
#include "cc_sim.h"
#include "cc_test.h"

static char tmp[256];

static const char *tpath(const char *name)
{
    static char buf[512];
    if (!tmp[0]) cct_tmpdir(tmp, sizeof tmp);
    snprintf(buf, sizeof buf, "%s/%s", tmp, name);
    return buf;
}

START_TEST(round_trip_in_chunks)
{
    const uint32_t nch = 3, ns = 1024, nev = 157;
    char path[512];
    snprintf(path, sizeof path, "%s", tpath("rt.h5"));
    cc_err e = {{0}};
    cc_h5_writer *w = cc_h5_writer_new(path, nch, ns, CC_H5_ALL, &e);
    ck_assert_msg(w != NULL, "%s", e.msg);
    const uint32_t ids[3] = {7, 8, 12};
    int lid[2] = {1, 4};
    const char *lname[2] = {"event", "jump"};
    ck_assert_int_eq(cc_h5_writer_set_meta(w, ids, 25000.0, 256, &e), 0);
    ck_assert_int_eq(cc_h5_writer_set_label_names(w, 2, lid, lname, &e), 0);
    /* value of sample s of event i, channel c */
#define VAL(c, i, s) ((float)((c)*1000000 + (i)*1000 + (s) % 997) * 1e-6f)
    uint32_t done = 0;
    const uint32_t sizes[] = {1, 50, 33, 64, 9};
    for (int b = 0; b < 5; b++) {
        uint32_t k = sizes[b];
        cc_h5_batch bt = {.k = k};
        bt.event = malloc(sizeof(float) * nch * k * ns);
        bt.hours = malloc(sizeof(double) * k);
        bt.time_s = malloc(sizeof(int64_t) * k);
        bt.time_mus = malloc(sizeof(int32_t) * k);
        bt.labels = malloc(sizeof(int32_t) * nch * k);
        bt.true_ph = malloc(sizeof(double) * nch * k);
        /* true_onset, true_snr, true_npulses left NULL: defaults */
        for (uint32_t c = 0; c < nch; c++)
            for (uint32_t i = 0; i < k; i++) {
                uint32_t ev = done + i;
                for (uint32_t s = 0; s < ns; s++)
                    bt.event[((size_t)c * k + i) * ns + s] = VAL(c, ev, s);
                bt.labels[c * k + i] = (int32_t)(ev % 2 ? 4 : 1);
                bt.true_ph[c * k + i] = 0.5 * ev + c;
            }
        for (uint32_t i = 0; i < k; i++) {
            bt.hours[i] = (done + i) / 3600.0;
            bt.time_s[i] = 1700000000 + done + i;
            bt.time_mus[i] = (int32_t)(done + i);
        }
        ck_assert_msg(cc_h5_writer_append(w, "events", &bt, &e) == 0, "%s", e.msg);
        done += k;
        free(bt.event), free(bt.hours), free(bt.time_s), free(bt.time_mus), free(bt.labels),
            free(bt.true_ph);
    }
    ck_assert_uint_eq(done, nev);
    ck_assert_uint_eq(cc_h5_writer_count(w, "events"), nev);
    float nps[3 * 513];
    for (int i = 0; i < 3 * 513; i++) nps[i] = (float)i;
    ck_assert_int_eq(cc_h5_writer_put_2d(w, "noise/nps", nps, 3, 513, &e), 0);
    ck_assert_int_eq(cc_h5_writer_close(&w, &e), 0);
    ck_assert_ptr_null(w);

    cc_h5_reader *r = cc_h5_reader_open(path, "events", &e);
    ck_assert_msg(r != NULL, "%s", e.msg);
    const cc_h5_info *in = cc_h5_reader_info(r);
    ck_assert_uint_eq(in->n_channels, 3);
    ck_assert_uint_eq(in->n_events, nev);
    ck_assert_uint_eq(in->n_samples, ns);
    ck_assert_uint_eq(in->fields, CC_H5_ALL);
    ck_assert_uint_eq(in->channel_ids[2], 12);
    ck_assert_uint_eq(in->trigger_index, 256);
    ck_assert(in->fs_hz == 25000.0);
    ck_assert_int_eq(cc_h5_reader_label_id(r, "jump"), 4);
    ck_assert_int_eq(cc_h5_reader_label_id(r, "spike"), -1);
    /* read in windows that straddle the write batches and chunks */
    const uint32_t k = 20;
    cc_h5_batch o = {.k = k};
    o.event = malloc(sizeof(float) * nch * k * ns);
    o.labels = malloc(sizeof(int32_t) * nch * k);
    o.true_ph = malloc(sizeof(double) * nch * k);
    o.true_onset = malloc(sizeof(double) * nch * k);
    o.true_npulses = malloc(sizeof(int32_t) * nch * k);
    o.time_s = malloc(sizeof(int64_t) * k);
    for (uint64_t first = 0; first < nev; first += k) {
        o.k = first + k <= nev ? k : (uint32_t)(nev - first);
        ck_assert_msg(cc_h5_reader_read(r, first, &o, &e) == 0, "%s", e.msg);
        for (uint32_t c = 0; c < nch; c++)
            for (uint32_t i = 0; i < o.k; i++) {
                uint32_t ev = (uint32_t)first + i;
                ck_assert(o.event[((size_t)c * o.k + i) * ns + 5] == VAL(c, ev, 5));
                ck_assert(o.event[((size_t)c * o.k + i) * ns + ns - 1] == VAL(c, ev, ns - 1));
                ck_assert_int_eq(o.labels[c * o.k + i], ev % 2 ? 4 : 1);
                ck_assert(o.true_ph[c * o.k + i] == 0.5 * ev + c);
                ck_assert(isnan(o.true_onset[c * o.k + i]));
                ck_assert_int_eq(o.true_npulses[c * o.k + i], 0);
            }
        ck_assert_int_eq(o.time_s[0], 1700000000 + (int64_t)first);
    }
    o.k = 2;
    ck_assert_int_eq(cc_h5_reader_read(r, nev - 1, &o, &e), -1);
    ck_assert_msg(strstr(e.msg, "157") && strstr(e.msg, "[156, 158)"), "%s", e.msg);
    free(o.event), free(o.labels), free(o.true_ph), free(o.true_onset), free(o.true_npulses),
        free(o.time_s);
    cc_h5_reader_close(&r);
    ck_assert_ptr_null(r);
}
END_TEST

static int py(const char *script)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 - <<'EOF'\n%s\nEOF\n", script);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A Cait-style file as h5py writes it: float64 labels, no channel_ids,
 * float32 events, contiguous (not chunked) datasets, extra datasets. */
START_TEST(reads_h5py_cait_file)
{
    char script[4096];
    snprintf(script, sizeof script,
             "import h5py, numpy as np\n"
             "f = h5py.File('%s', 'w')\n"
             "g = f.create_group('events')\n"
             "ev = np.zeros((2, 40, 2048), dtype=np.float32)\n"
             "for c in range(2):\n"
             "    for i in range(40):\n"
             "        ev[c, i, :] = np.arange(2048, dtype=np.float32) * 1e-4 + c + i * 0.01\n"
             "g.create_dataset('event', data=ev)\n"
             "lab = np.ones((2, 40)); lab[:, ::4] = 4; lab[1, 1] = 3\n"
             "d = g.create_dataset('labels', data=lab)\n"
             "d.attrs['Event_Pulse'] = 1; d.attrs['SQUID_Jump'] = 4\n"
             "g.create_dataset('hours', data=np.linspace(0, 1, 40))\n"
             "g.create_dataset('time_s', data=np.arange(40, dtype=np.int32) + 1600000000)\n"
             "g.create_dataset('time_mus', data=np.arange(40, dtype=np.int32))\n"
             "g.create_dataset('mainpar', data=np.zeros((2, 40, 10)))\n"
             "g.create_dataset('true_ph', data=np.full((2, 40), 0.25))\n"
             "f.create_group('noise').create_dataset('event', data=np.zeros((2, 3, 2048), "
             "dtype=np.float64))\n"
             "f.close()\n",
             tpath("cait.h5"));
    ck_assert_int_eq(py(script), 0);
    cc_err e = {{0}};
    cc_h5_reader *r = cc_h5_reader_open(tpath("cait.h5"), "events", &e);
    ck_assert_msg(r != NULL, "%s", e.msg);
    const cc_h5_info *in = cc_h5_reader_info(r);
    ck_assert_uint_eq(in->n_channels, 2);
    ck_assert_uint_eq(in->n_events, 40);
    ck_assert_uint_eq(in->n_samples, 2048);
    ck_assert_uint_eq(in->trigger_index, 512);
    ck_assert_uint_eq(in->channel_ids[1], 1);
    ck_assert(in->fields & CC_H5_LABELS && in->fields & CC_H5_TRUE_PH && in->fields & CC_H5_TIME);
    ck_assert(!(in->fields & CC_H5_TRUE_ONSET));
    ck_assert_int_eq(cc_h5_reader_label_id(r, "SQUID_Jump"), 4);
    cc_h5_batch o = {.k = 7};
    o.event = malloc(sizeof(float) * 2 * 7 * 2048);
    o.labels = malloc(sizeof(int32_t) * 14);
    o.true_ph = malloc(sizeof(double) * 14);
    o.time_s = malloc(sizeof(int64_t) * 7);
    o.true_onset = malloc(sizeof(double) * 14);
    ck_assert_msg(cc_h5_reader_read(r, 0, &o, &e) == 0, "%s", e.msg);
    ck_assert_float_eq_tol(o.event[(1 * 7 + 3) * 2048 + 100], 100 * 1e-4f + 1 + 0.03f, 1e-6);
    ck_assert_int_eq(o.labels[0], 4);
    ck_assert_int_eq(o.labels[1], 1);
    ck_assert_int_eq(o.labels[7 + 1], 3);
    ck_assert(o.true_ph[5] == 0.25 && isnan(o.true_onset[5]));
    ck_assert_int_eq(o.time_s[6], 1600000006);
    cc_h5_reader_close(&r);
    /* float64 events in another group convert */
    r = cc_h5_reader_open(tpath("cait.h5"), "noise", &e);
    ck_assert_msg(r != NULL, "%s", e.msg);
    ck_assert_uint_eq(cc_h5_reader_info(r)->n_events, 3);
    ck_assert_uint_eq(cc_h5_reader_info(r)->fields, 0);
    cc_h5_reader_close(&r);
    free(o.event), free(o.labels), free(o.true_ph), free(o.time_s), free(o.true_onset);
}
END_TEST

/* and the other way round: h5py reads what cryoclean writes */
START_TEST(h5py_reads_our_file)
{
    cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cfg.n_samples = 2048;
    cc_err e = {{0}};
    cc_sim *s = cc_sim_new(&cfg, 3, &e);
    ck_assert_ptr_nonnull(s);
    cc_h5_writer *w = cc_h5_writer_new(tpath("ours.h5"), 2, 2048, CC_H5_ALL, &e);
    ck_assert_ptr_nonnull(w);
    int ids[CC_SIM_NCLASS_ID], n = cc_sim_class_list(ids, CC_SIM_NCLASS_ID);
    const char *names[CC_SIM_NCLASS_ID];
    for (int i = 0; i < n; i++) names[i] = cc_sim_class_name(ids[i]);
    ck_assert_int_eq(cc_h5_writer_set_label_names(w, (size_t)n, ids, names, &e), 0);
    cc_sim_record rec[2];
    cc_sim_record_init(&rec[0], 2048, &e);
    cc_sim_record_init(&rec[1], 2048, &e);
    cc_h5_batch b = {.k = 1};
    float ev[2 * 2048];
    int32_t lab[2];
    double ph[2];
    b.event = ev, b.labels = lab, b.true_ph = ph;
    double sum0 = 0;
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(cc_sim_next_event(s, rec, &e), 0);
        for (int c = 0; c < 2; c++) {
            memcpy(ev + c * 2048, rec[c].samples, sizeof(float) * 2048);
            lab[c] = rec[c].class_id;
            ph[c] = rec[c].ph_v;
        }
        sum0 += rec[1].samples[100];
        ck_assert_int_eq(cc_h5_writer_append(w, "events", &b, &e), 0);
    }
    ck_assert_int_eq(cc_h5_writer_close(&w, &e), 0);
    char script[2048];
    snprintf(script, sizeof script,
             "import h5py, numpy as np, sys\n"
             "f = h5py.File('%s', 'r')\n"
             "ev = f['events/event']\n"
             "assert ev.shape == (2, 10, 2048) and ev.dtype == np.float32, ev\n"
             "assert f['events/labels'].shape == (2, 10)\n"
             "assert abs(float(ev[1, :, 100].astype(np.float64).sum()) - %.9g) < 1e-5\n"
             "assert f['events/labels'].attrs['jump'] == 4\n"
             "assert np.isnan(f['events/true_onset'][0, 0]) or f['events/labels'][0, 0] != 3\n",
             tpath("ours.h5"), sum0);
    ck_assert_int_eq(py(script), 0);
    cc_sim_record_release(&rec[0]);
    cc_sim_record_release(&rec[1]);
    cc_sim_free(&s);
}
END_TEST

START_TEST(malformed_files_have_clear_errors)
{
    char script[4096];
    tpath("x");
    snprintf(script, sizeof script,
             "import h5py, numpy as np\n"
             "with h5py.File('%s/bad1.h5', 'w') as f:\n"
             "    f.create_group('events').create_dataset('event', data=np.zeros((2, 5), 'f4'))\n"
             "with h5py.File('%s/bad2.h5', 'w') as f:\n"
             "    g = f.create_group('events')\n"
             "    g.create_dataset('event', data=np.zeros((2, 5, 64), 'f4'))\n"
             "    g.create_dataset('labels', data=np.zeros((2, 4)))\n"
             "with h5py.File('%s/bad3.h5', 'w') as f:\n"
             "    g = f.create_group('events')\n"
             "    g.create_dataset('event', data=np.array([[[b'ab']]]))\n"
             "with h5py.File('%s/bad4.h5', 'w') as f:\n"
             "    f.create_group('events').create_dataset('hours', data=np.zeros(3))\n",
             tmp, tmp, tmp, tmp);
    ck_assert_int_eq(py(script), 0);
    struct {
        const char *file, *group, *want1, *want2;
    } cases[] = {
        {"bad1.h5", "events", "events/event", "expected rank 3, found rank 2"},
        {"bad2.h5", "events", "events/labels", "expected shape (2, 5), found (2, 4)"},
        {"bad3.h5", "events", "events/event", "found string"},
        {"bad4.h5", "events", "events/event: missing", "(channels, events, samples)"},
        {"bad2.h5", "noise", "no group 'noise'", "bad2.h5"},
        {"nothere.h5", "events", "nothere.h5", "cannot open"},
        {"noth5.txt", "events", "noth5.txt", "not an HDF5 file"},
    };
    cct_write_file(tpath("noth5.txt"), "hello\n", 6);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cc_err e = {{0}};
        cc_h5_reader *r = cc_h5_reader_open(tpath(cases[i].file), cases[i].group, &e);
        ck_assert_msg(r == NULL, "%s opened", cases[i].file);
        ck_assert_msg(strstr(e.msg, cases[i].want1) && strstr(e.msg, cases[i].want2) &&
                          strstr(e.msg, cases[i].file),
                      "case %zu: %s", i, e.msg);
    }
    cc_err e = {{0}};
    ck_assert_ptr_null(cc_h5_writer_new("/nonexistent-dir/x.h5", 1, 16, 0, &e));
    ck_assert_msg(strstr(e.msg, "/nonexistent-dir/x.h5"), "%s", e.msg);
}
END_TEST

/* `cryoclean sim --split` writes exactly what the simulator draws */
START_TEST(sim_tool_writes_the_simulated_stream)
{
    char bin[512], out[512], cmd[1200];
    const char *over = getenv("CCT_CRYOCLEAN");
    snprintf(bin, sizeof bin, "%s", over && *over ? over : "");
    if (!bin[0]) snprintf(bin, sizeof bin, "%s/tools/cryoclean", cct_env("CC_BUILD_ROOT"));
    snprintf(out, sizeof out, "%s", tpath("tool.h5"));
    snprintf(cmd, sizeof cmd, "%s sim -o %s -n 60 --samples 1024 --seed 4 --split --batch 7 -q",
             bin, out);
    ck_assert_int_eq(system(cmd), 0);
    cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cfg.n_samples = 1024;
    cc_err e = {{0}};
    cc_sim *s = cc_sim_new(&cfg, 4, &e);
    cc_sim_record rec[2];
    cc_sim_record_init(&rec[0], 1024, &e);
    cc_sim_record_init(&rec[1], 1024, &e);
    const char *groups[3] = {"events", "noise", "testpulses"};
    cc_h5_reader *r[3];
    uint64_t next[3] = {0, 0, 0};
    for (int g = 0; g < 3; g++) {
        r[g] = cc_h5_reader_open(out, groups[g], &e);
        ck_assert_msg(r[g] != NULL, "%s", e.msg);
    }
    float ev[2 * 1024];
    int32_t lab[2];
    double ph[2];
    for (int i = 0; i < 60; i++) {
        ck_assert_int_eq(cc_sim_next_event(s, rec, &e), 0);
        int g = rec[0].class_id == CC_SIM_TESTPULSE                                  ? 2
                : rec[0].class_id == CC_SIM_NOISE && rec[1].class_id == CC_SIM_NOISE ? 1
                                                                                     : 0;
        cc_h5_batch b = {.k = 1, .event = ev, .labels = lab, .true_ph = ph};
        ck_assert_msg(cc_h5_reader_read(r[g], next[g]++, &b, &e) == 0, "%s", e.msg);
        for (int c = 0; c < 2; c++) {
            ck_assert_int_eq(lab[c], rec[c].class_id);
            ck_assert(ph[c] == rec[c].ph_v);
            ck_assert(memcmp(ev + c * 1024, rec[c].samples, sizeof(float) * 1024) == 0);
        }
    }
    for (int g = 0; g < 3; g++) {
        ck_assert_uint_eq(cc_h5_reader_info(r[g])->n_events, next[g]);
        ck_assert_uint_eq(cc_h5_reader_info(r[g])->channel_ids[1], 1);
        ck_assert(cc_h5_reader_info(r[g])->fs_hz == 25000.0);
        cc_h5_reader_close(&r[g]);
    }
    ck_assert(next[0] > 20 && next[1] > 2 && next[2] > 0);
    cc_sim_record_release(&rec[0]);
    cc_sim_record_release(&rec[1]);
    cc_sim_free(&s);
    /* usage errors */
    snprintf(cmd, sizeof cmd, "%s sim -o %s 2>/dev/null", bin, out);
    int st = system(cmd);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    snprintf(cmd, sizeof cmd, "%s sim -o /nonexistent/x.h5 -n 1 -q 2>/dev/null", bin);
    st = system(cmd);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("h5");
    TCase *t = tcase_create("h5");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, round_trip_in_chunks);
    tcase_add_test(t, reads_h5py_cait_file);
    tcase_add_test(t, h5py_reads_our_file);
    tcase_add_test(t, malformed_files_have_clear_errors);
    tcase_add_test(t, sim_tool_writes_the_simulated_stream);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return cct_run(suite());
}
