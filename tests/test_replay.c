/* test_replay.c - `cryoclean replay` into real ZeroMQ sockets of this process.
 *
 * Every test receives and decodes every record, checks the sequence numbers
 * and headers, and compares the samples with the same stream regenerated
 * here from the same seed (the simulator is deterministic), so a replay that
 * loses, reorders or corrupts records fails. The report JSON is checked
 * against what arrived. The binary is $CC_BUILD_ROOT/tools/cryoclean (or
 * $CCT_CRYOCLEAN).
 */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "cc_h5.h"
#include "cc_proto.h"
#include "cc_sim.h"
#include "cc_test.h"

static char tmp[256];

static const char *tpath(const char *name, char *buf, size_t len)
{
    if (!tmp[0]) cct_tmpdir(tmp, sizeof tmp);
    snprintf(buf, len, "%s/%s", tmp, name);
    return buf;
}

static pid_t spawn(char *const argv[])
{
    static char bin[512];
    const char *over = getenv("CCT_CRYOCLEAN");
    if (over && *over)
        snprintf(bin, sizeof bin, "%s", over);
    else
        snprintf(bin, sizeof bin, "%s/tools/cryoclean", cct_env("CC_BUILD_ROOT"));
    ck_assert_msg(access(bin, X_OK) == 0, "%s is not built", bin);
    pid_t p = fork();
    ck_assert(p >= 0);
    if (p == 0) {
        char *av[64];
        int n = 0;
        av[n++] = bin;
        for (int i = 0; argv[i] && n < 63; i++) av[n++] = argv[i];
        av[n] = NULL;
        execv(bin, av);
        _exit(127);
    }
    return p;
}

static int wait_exit(pid_t p)
{
    int st;
    ck_assert(waitpid(p, &st, 0) == p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

/* the number after `"key": ` following `after` (or the start) in json */
static unsigned long long jnum(const char *json, const char *after, const char *key)
{
    const char *p = after ? strstr(json, after) : json;
    ck_assert_msg(p != NULL, "'%s' not in report: %s", after, json);
    char k[128];
    snprintf(k, sizeof k, "\"%s\": ", key);
    p = strstr(p, k);
    ck_assert_msg(p != NULL, "'%s' not in report", key);
    return strtoull(p + strlen(k), NULL, 0);
}

/* one received record */
typedef struct {
    cc_rec_hdr h;
    char topic[CC_TOPIC_MAX];
    int16_t *s;
} rx;

/* receives one 3-frame record (10 s hang guard); 0 or -1 on timeout */
static int recv_rec_t(void *sock, rx *r, size_t max_samples, long timeout_ms)
{
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0) return -1;
    uint8_t hdr[256];
    int n = zmq_recv(sock, r->topic, sizeof r->topic - 1, 0);
    ck_assert(n > 0);
    r->topic[n] = 0;
    int more;
    size_t ml = sizeof more;
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ml);
    ck_assert(more);
    n = zmq_recv(sock, hdr, sizeof hdr, 0);
    ck_assert_int_eq(n, CC_REC_HDR_LEN);
    ck_assert_int_eq(cc_rec_hdr_decode(hdr, (size_t)n, &r->h), CC_R_ACCEPTED);
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ml);
    ck_assert(more);
    n = zmq_recv(sock, r->s, max_samples * 2, 0);
    ck_assert_int_eq(n, (int)(r->h.n_samples * 2));
    ck_assert_int_eq(cc_rec_validate(&r->h, (size_t)n, (uint32_t)max_samples), CC_R_ACCEPTED);
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ml);
    ck_assert(!more);
    return 0;
}

#define recv_rec(s, r, m) recv_rec_t(s, r, m, 10000)

/* checks identity, sequence and samples of record i against the expected
 * simulated record */
static void check_rec(const rx *r, uint64_t i, uint64_t *inst, const cc_sim_record *want,
                      int16_t *codes)
{
    if (i == 0) *inst = r->h.instance_id;
    ck_assert_uint_eq(r->h.instance_id, *inst);
    ck_assert_uint_eq(r->h.seq, i);
    ck_assert_uint_eq(r->h.sample_type, CC_S_INT16);
    ck_assert(fabs(r->h.adc_scale - 20.0 / 65536.0) < 1e-15);
    ck_assert_uint_eq(r->h.channel, want->channel);
    ck_assert_uint_eq(r->h.module, want->module);
    ck_assert_uint_eq(r->h.n_samples, want->n_samples);
    ck_assert_uint_eq(r->h.trigger_index, want->n_samples / 4);
    ck_assert(r->h.sample_rate_hz == 25000.0f);
    ck_assert_uint_eq(r->h.flags & CC_REC_F_TESTPULSE, want->testpulse ? CC_REC_F_TESTPULSE : 0);
    char t[CC_TOPIC_MAX];
    cc_topic_record(t, sizeof t, want->channel);
    ck_assert_str_eq(r->topic, t);
    cc_sim_to_adc(want->samples, want->n_samples, codes);
    ck_assert_msg(memcmp(codes, r->s, want->n_samples * 2) == 0, "record %llu: samples differ",
                  (unsigned long long)i);
}

START_TEST(live_sim_pub_connect_every_record)
{
    const int N = 400;
    int port = cct_free_port();
    char ep[64], np[16], rep[300];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    snprintf(np, sizeof np, "%d", N);
    tpath("live.json", rep, sizeof rep);
    void *ctx = zmq_ctx_new(), *sub = zmq_socket(ctx, ZMQ_SUB);
    int hwm = 0;
    zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    ck_assert_int_eq(zmq_bind(sub, ep), 0);
    ck_assert_int_eq(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "rec/", 4), 0);
    char *av[] = {"replay",
                  "--simulate",
                  "--endpoint",
                  ep,
                  "--connect",
                  "--pub",
                  "--wait-subscribers",
                  "1",
                  "--fast",
                  "-n",
                  np,
                  "--seed",
                  "77",
                  "--samples",
                  "4096",
                  "--report-json",
                  rep,
                  "--quiet",
                  NULL};
    pid_t p = spawn(av);
    /* regenerate the same stream */
    cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cfg.n_samples = 4096;
    cc_err e = {{0}};
    cc_sim *sim = cc_sim_new(&cfg, 77, &e);
    cc_sim_record want;
    cc_sim_record_init(&want, 4096, &e);
    rx r;
    r.s = malloc(4096 * 2);
    int16_t *codes = malloc(4096 * 2);
    uint64_t inst = 0, classes[CC_SIM_NCLASS_ID] = {0}, per_ch[2] = {0};
    for (int i = 0; i < N; i++) {
        ck_assert_msg(recv_rec(sub, &r, 4096) == 0, "record %d of %d never arrived", i, N);
        ck_assert_int_eq(cc_sim_next(sim, &want, &e), 0);
        check_rec(&r, (uint64_t)i, &inst, &want, codes);
        classes[want.class_id]++;
        per_ch[want.channel]++;
    }
    ck_assert_int_eq(wait_exit(p), 0);
    const char *j = slurp(rep);
    char inst_s[40];
    snprintf(inst_s, sizeof inst_s, "\"0x%016llx\"", (unsigned long long)inst);
    ck_assert_msg(strstr(j, inst_s), "instance id %s not in report", inst_s);
    ck_assert_uint_eq(jnum(j, NULL, "sent"), N);
    ck_assert_uint_eq(jnum(j, NULL, "first_seq"), 0);
    ck_assert_uint_eq(jnum(j, NULL, "last_seq"), N - 1);
    ck_assert_uint_eq(jnum(j, "\"0\": {", "sent"), per_ch[0]);
    ck_assert_uint_eq(jnum(j, "\"1\": {", "sent"), per_ch[1]);
    uint64_t acc = 0;
    for (int c = 0; c < CC_SIM_NCLASS_ID; c++) {
        if (!classes[c]) continue;
        ck_assert_uint_eq(jnum(j, "\"by_class\": {", cc_sim_class_name(c)), classes[c]);
        if (cc_sim_class_accept(c) == 1) acc += classes[c];
    }
    ck_assert_uint_eq(jnum(j, NULL, "truth_accept"), acc);
    free(r.s);
    free(codes);
    cc_sim_record_release(&want);
    cc_sim_free(&sim);
    zmq_close(sub);
    zmq_ctx_term(ctx);
}
END_TEST

START_TEST(push_bind_paced)
{
    const int N = 60;
    int port = cct_free_port();
    char ep[64], np[16];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    snprintf(np, sizeof np, "%d", N);
    char *av[] = {"replay", "--endpoint", ep,     "--bind",  "--push", "--rate",
                  "600",    "-n",         np,     "--seed",  "5",      "--channels",
                  "3",      "--samples",  "2048", "--quiet", NULL};
    pid_t p = spawn(av);
    void *ctx = zmq_ctx_new(), *pull = zmq_socket(ctx, ZMQ_PULL);
    ck_assert_int_eq(zmq_connect(pull, ep), 0); /* PUSH waits for us: nothing is lost */
    cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cfg.n_samples = 2048;
    cfg.n_channels = 3;
    cc_err e = {{0}};
    cc_sim *sim = cc_sim_new(&cfg, 5, &e);
    cc_sim_record want;
    cc_sim_record_init(&want, 2048, &e);
    rx r;
    r.s = malloc(2048 * 2);
    int16_t *codes = malloc(2048 * 2);
    uint64_t inst = 0, t_prev = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_msg(recv_rec(pull, &r, 2048) == 0, "record %d never arrived", i);
        ck_assert_int_eq(cc_sim_next(sim, &want, &e), 0);
        check_rec(&r, (uint64_t)i, &inst, &want, codes);
        ck_assert(r.h.timestamp_ns >= t_prev); /* wall-clock stamps, paced */
        t_prev = r.h.timestamp_ns;
        ck_assert_uint_eq(r.h.run, 1);
    }
    ck_assert_int_eq(wait_exit(p), 0);
    free(r.s);
    free(codes);
    cc_sim_record_release(&want);
    cc_sim_free(&sim);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}
END_TEST

START_TEST(several_modules_take_turns)
{
    int port = cct_free_port();
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    char *av[] = {"replay",    "--endpoint", ep,        "--bind", "--push",    "--fast",
                  "-n",        "24",         "--seed",  "11",     "--modules", "3",
                  "--samples", "1024",       "--quiet", NULL};
    pid_t p = spawn(av);
    void *ctx = zmq_ctx_new(), *pull = zmq_socket(ctx, ZMQ_PULL);
    ck_assert_int_eq(zmq_connect(pull, ep), 0);
    cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cfg.n_samples = 1024;
    cc_err e = {{0}};
    cc_sim *sims[3];
    for (int m = 0; m < 3; m++) {
        cfg.module = (uint16_t)m;
        cfg.ch[0].id = 2 * m, cfg.ch[1].id = 2 * m + 1;
        sims[m] = cc_sim_new(&cfg, 11 + m, &e);
    }
    cc_sim_record want;
    cc_sim_record_init(&want, 1024, &e);
    rx r;
    r.s = malloc(1024 * 2);
    int16_t codes[1024];
    uint64_t inst = 0;
    for (int i = 0; i < 24; i++) {
        ck_assert(recv_rec(pull, &r, 1024) == 0);
        int m = (i / 2) % 3;
        ck_assert_int_eq(cc_sim_next(sims[m], &want, &e), 0);
        check_rec(&r, (uint64_t)i, &inst, &want, codes);
        ck_assert_uint_eq(r.h.module, (uint32_t)m);
        ck_assert_uint_eq(r.h.channel, (uint32_t)(2 * m + i % 2));
    }
    ck_assert_int_eq(wait_exit(p), 0);
    for (int m = 0; m < 3; m++) cc_sim_free(&sims[m]);
    cc_sim_record_release(&want);
    free(r.s);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}
END_TEST

START_TEST(float32_samples)
{
    int port = cct_free_port();
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    char *av[] = {"replay", "--endpoint", ep,          "--bind",    "--push", "--fast",  "-n", "6",
                  "--seed", "2",          "--float32", "--samples", "1024",   "--quiet", NULL};
    pid_t p = spawn(av);
    void *ctx = zmq_ctx_new(), *pull = zmq_socket(ctx, ZMQ_PULL);
    ck_assert_int_eq(zmq_connect(pull, ep), 0);
    cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cfg.n_samples = 1024;
    cc_err e = {{0}};
    cc_sim *sim = cc_sim_new(&cfg, 2, &e);
    cc_sim_record want;
    cc_sim_record_init(&want, 1024, &e);
    for (int i = 0; i < 6; i++) {
        zmq_msg_t f[3];
        for (int k = 0; k < 3; k++) {
            zmq_msg_init(&f[k]);
            ck_assert(zmq_msg_recv(&f[k], pull, 0) >= 0);
        }
        cc_rec_hdr h;
        ck_assert_int_eq(cc_rec_hdr_decode(zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), &h), 0);
        ck_assert_uint_eq(h.sample_type, CC_S_FLOAT32);
        ck_assert(h.adc_scale == 1.0);
        ck_assert_uint_eq(zmq_msg_size(&f[2]), 4096);
        ck_assert_int_eq(cc_sim_next(sim, &want, &e), 0);
        ck_assert(memcmp(zmq_msg_data(&f[2]), want.samples, 4096) == 0);
        for (int k = 0; k < 3; k++) zmq_msg_close(&f[k]);
    }
    ck_assert_int_eq(wait_exit(p), 0);
    cc_sim_record_release(&want);
    cc_sim_free(&sim);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}
END_TEST

START_TEST(file_replay_matches_the_file)
{
    char h5[300], rep[300];
    tpath("rec.h5", h5, sizeof h5);
    tpath("file.json", rep, sizeof rep);
    /* write 25 events x 2 channels with cc_h5 (labels from the simulator) */
    cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cfg.n_samples = 1024;
    cfg.ch[0].id = 21, cfg.ch[1].id = 22;
    cc_err e = {{0}};
    cc_sim *sim = cc_sim_new(&cfg, 9, &e);
    cc_h5_writer *w = cc_h5_writer_new(h5, 2, 1024, CC_H5_ALL, &e);
    uint32_t ids[2] = {21, 22};
    ck_assert_int_eq(cc_h5_writer_set_meta(w, ids, 25000, 256, &e), 0);
    cc_sim_record rr[2];
    cc_sim_record_init(&rr[0], 1024, &e);
    cc_sim_record_init(&rr[1], 1024, &e);
    static float all[25][2][1024];
    int labels[25][2], nclean = 0;
    for (int i = 0; i < 25; i++) {
        ck_assert_int_eq(cc_sim_next_event(sim, rr, &e), 0);
        float ev[2 * 1024];
        int32_t lab[2];
        int64_t ts = 1800000000 + i;
        int32_t mus = 1000 * i;
        for (int c = 0; c < 2; c++) {
            memcpy(ev + c * 1024, rr[c].samples, sizeof(float) * 1024);
            memcpy(all[i][c], rr[c].samples, sizeof(float) * 1024);
            lab[c] = labels[i][c] = rr[c].class_id;
            nclean += rr[c].accept;
        }
        cc_h5_batch b = {.k = 1, .event = ev, .labels = lab, .time_s = &ts, .time_mus = &mus};
        ck_assert_int_eq(cc_h5_writer_append(w, "events", &b, &e), 0);
    }
    ck_assert_int_eq(cc_h5_writer_close(&w, &e), 0);
    int port = cct_free_port();
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    void *ctx = zmq_ctx_new(), *pull = zmq_socket(ctx, ZMQ_PULL);
    ck_assert_int_eq(zmq_bind(pull, ep), 0);
    char *av[] = {"replay", "--file",   h5,  "--endpoint",    ep,  "--connect", "--push",
                  "--fast", "--module", "4", "--report-json", rep, "--quiet",   NULL};
    pid_t p = spawn(av);
    rx r;
    r.s = malloc(1024 * 2);
    int16_t codes[1024];
    for (int i = 0; i < 50; i++) {
        ck_assert_msg(recv_rec(pull, &r, 1024) == 0, "record %d never arrived", i);
        int ev = i / 2, c = i % 2;
        ck_assert_uint_eq(r.h.seq, (uint64_t)i);
        ck_assert_uint_eq(r.h.channel, ids[c]);
        ck_assert_uint_eq(r.h.module, 4);
        ck_assert_uint_eq(r.h.timestamp_ns, (1800000000ull + ev) * 1000000000ull + 1000000ull * ev);
        cc_sim_to_adc(all[ev][c], 1024, codes);
        ck_assert(memcmp(codes, r.s, sizeof codes) == 0);
    }
    ck_assert_int_eq(wait_exit(p), 0); /* ends at the end of the file */
    const char *j = slurp(rep);
    ck_assert_uint_eq(jnum(j, NULL, "sent"), 50);
    ck_assert_uint_eq(jnum(j, NULL, "truth_accept"), (unsigned long long)nclean);
    ck_assert_uint_eq(jnum(j, "\"22\": {", "sent"), 25);
    free(r.s);
    cc_sim_record_release(&rr[0]);
    cc_sim_record_release(&rr[1]);
    cc_sim_free(&sim);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}
END_TEST

START_TEST(scenario_rates_follow_the_windows)
{
    char yml[300], rep[300];
    tpath("scn.yaml", yml, sizeof yml);
    tpath("scn.json", rep, sizeof rep);
    const char *text = "scenario:\n"
                       "  duration_s: 400\n"
                       "  samples: 1024\n"
                       "  channels:\n"
                       "    - id: 7\n"
                       "      module: 3\n"
                       "      rates: {event: 0.5, jump: 0.4}\n"
                       "      changes:\n"
                       "        - {class: jump, from_s: 120, for_s: 60, factor: 5}\n"
                       "    - id: 8\n"
                       "      kind: light\n"
                       "      module: 3\n"
                       "      rates: {noise: 0.3, spike: 0.1}\n";
    cct_write_file(yml, text, strlen(text));
    int port = cct_free_port();
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    void *ctx = zmq_ctx_new(), *sub = zmq_socket(ctx, ZMQ_SUB);
    int hwm = 0;
    zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    ck_assert_int_eq(zmq_bind(sub, ep), 0);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    char *av[] = {"replay",
                  "--scenario",
                  yml,
                  "--endpoint",
                  ep,
                  "--connect",
                  "--pub",
                  "--wait-subscribers",
                  "1",
                  "--fast",
                  "--seed",
                  "3",
                  "--report-json",
                  rep,
                  "--quiet",
                  NULL};
    pid_t p = spawn(av);
    cc_err e = {{0}};
    cc_scenario *scn = cc_scenario_load(yml, 3, &e);
    ck_assert_msg(scn != NULL, "%s", e.msg);
    cc_sim_record want;
    cc_sim_record_init(&want, 1024, &e);
    rx r;
    r.s = malloc(1024 * 2);
    int16_t codes[1024];
    uint64_t inst = 0, n = 0, in_win = 0, out_win = 0, ch8 = 0;
    uint64_t t0 = 0;
    while (cc_scenario_next(scn, &want, &e) == 1) {
        ck_assert_msg(recv_rec(sub, &r, 1024) == 0, "record %llu never arrived",
                      (unsigned long long)n);
        check_rec(&r, n, &inst, &want, codes);
        if (n == 0) t0 = r.h.timestamp_ns - (uint64_t)(want.time_s * 1e9);
        /* timestamps follow the scenario clock */
        ck_assert(llabs((long long)(r.h.timestamp_ns - t0) - (long long)(want.time_s * 1e9)) <
                  2000);
        if (want.channel == 7 && want.class_id == CC_SIM_JUMP) {
            if (want.time_s >= 120 && want.time_s < 180)
                in_win++;
            else
                out_win++;
        }
        ch8 += want.channel == 8;
        n++;
    }
    ck_assert_int_eq(wait_exit(p), 0);
    /* expected 0.4*5*60 = 120 in the window, 0.4*340 = 136 outside (per 60 s: 24) */
    ck_assert_msg(in_win > 80 && in_win < 160, "jumps in the window: %llu",
                  (unsigned long long)in_win);
    double rate_in = in_win / 60.0, rate_out = out_win / 340.0;
    ck_assert_msg(rate_in / rate_out > 3.0 && rate_in / rate_out < 8.0, "ratio %g",
                  rate_in / rate_out);
    const char *j = slurp(rep);
    ck_assert_uint_eq(jnum(j, NULL, "sent"), n);
    ck_assert_uint_eq(jnum(j, "\"windows\"", "sent_in_window"), in_win);
    ck_assert_uint_eq(jnum(j, "\"8\": {", "sent"), ch8);
    ck_assert_uint_eq(jnum(j, "\"7\": {", "jump"), in_win + out_win);
    /* a bad scenario is refused with its position */
    const char *bad = "scenario:\n  channels:\n    - id: 7\n      rates: {jumps: 1}\n";
    cct_write_file(yml, bad, strlen(bad));
    ck_assert_ptr_null(cc_scenario_load(yml, 1, &e));
    ck_assert_msg(strstr(e.msg, ":4:") && strstr(e.msg, "jumps"), "%s", e.msg);
    free(r.s);
    cc_sim_record_release(&want);
    cc_scenario_free(&scn);
    zmq_close(sub);
    zmq_ctx_term(ctx);
}
END_TEST

START_TEST(sigterm_stops_and_reports)
{
    char rep[300];
    tpath("term.json", rep, sizeof rep);
    int port = cct_free_port();
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    void *ctx = zmq_ctx_new(), *sub = zmq_socket(ctx, ZMQ_SUB);
    ck_assert_int_eq(zmq_bind(sub, ep), 0);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    char *av[] = {"replay",  "--endpoint", ep,          "--connect", "--wait-subscribers", "1",
                  "--rate",  "200",        "--samples", "1024",      "--report-json",      rep,
                  "--quiet", "--linger",   "0",         NULL};
    pid_t p = spawn(av);
    rx r;
    r.s = malloc(1024 * 2);
    for (int i = 0; i < 20; i++) ck_assert(recv_rec(sub, &r, 1024) == 0);
    kill(p, SIGTERM);
    ck_assert_int_eq(wait_exit(p), 0);
    uint64_t got = 20;
    while (recv_rec_t(sub, &r, 1024, 300) == 0 && got < 100000) got++;
    const char *j = slurp(rep);
    ck_assert_uint_eq(jnum(j, NULL, "sent"), got);
    free(r.s);
    zmq_close(sub);
    zmq_ctx_term(ctx);
}
END_TEST

/* PUSH with nobody pulling blocks (back-pressure, no loss) - and says so
 * after 3 s instead of looking hung; a peer that connects unblocks it. */
START_TEST(push_without_peer_says_so)
{
    char log[300];
    tpath("stall.log", log, sizeof log);
    int port = cct_free_port();
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    char *av[] = {"replay",    "--push", "--bind",   "--endpoint", ep,  "--fast",
                  "--samples", "1024",   "--linger", "0",          NULL};
    int saved = dup(2), fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    pid_t p = spawn(av);
    dup2(saved, 2);
    close(fd), close(saved);
    int said = 0;
    for (int i = 0; i < 100 && !said; i++) {
        usleep(100000);
        const char *t = slurp(log);
        said = strstr(t, "blocked for 3 s: no PULL peer is reading from") != NULL;
        ck_assert_msg(i > 25 || !said, "warned before 3 s: %s", t);
    }
    ck_assert_msg(said, "no stall warning: %s", slurp(log));
    void *ctx = zmq_ctx_new(), *pull = zmq_socket(ctx, ZMQ_PULL);
    ck_assert_int_eq(zmq_connect(pull, ep), 0);
    rx r;
    r.s = malloc(1024 * 2);
    for (int i = 0; i < 10; i++) ck_assert(recv_rec(pull, &r, 1024) == 0);
    kill(p, SIGTERM);
    ck_assert_int_eq(wait_exit(p), 0);
    free(r.s);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("replay");
    TCase *t = tcase_create("replay");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, live_sim_pub_connect_every_record);
    tcase_add_test(t, push_bind_paced);
    tcase_add_test(t, several_modules_take_turns);
    tcase_add_test(t, float32_samples);
    tcase_add_test(t, file_replay_matches_the_file);
    tcase_add_test(t, scenario_rates_follow_the_windows);
    tcase_add_test(t, sigterm_stops_and_reports);
    tcase_add_test(t, push_without_peer_says_so);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return cct_run(suite());
}
