/* test_e2e.c - the whole chain as an operator runs it: `cryoclean replay`
 * feeding the real cryocleand, the Prometheus endpoint checked by the real
 * promtool, and a rate jump from a replayed scenario raising an alert that
 * reaches the alert topic and the configured command.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include "cc_test.h"

/* Runs `cryoclean CMD args...` with output to log; returns its exit status. */
static int tool(const char *cmd, const char *const *args, const char *log)
{
    char exe[1024];
    CCT_BUILD("tools/cryoclean", exe);
    const char *argv[40] = {exe, cmd};
    int k = 2;
    for (; args[k - 2] && k < 39; k++) argv[k] = args[k - 2];
    argv[k] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        dup2(fd, 1);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int replay(const char *const *args, const char *log)
{
    return tool("replay", args, log);
}

/* Waits for the first daemon monitor message, so the SUB sockets connected
 * together with it are live. */
static void wait_subscribed(cct_daemon *v)
{
    char json[4096];
    cct_monitor_latest(v, json, sizeof json);
}

/* Starts the daemon of v on body and pushes n simulated records (seed) at
 * it as fast as it takes them; the replay's report goes to v->dir/replay.log. */
static void up_and_replay(cct_daemon *v, const char *body, const char *n, const char *seed)
{
    cct_daemon_conf(v, body);
    cct_daemon_up(v, NULL);
    wait_subscribed(v);
    char log[512];
    snprintf(log, sizeof log, "%s/replay.log", v->dir);
    const char *args[] = {"--simulate", "--push", "--connect", "--endpoint", v->ep_in, "-n", n,
                          "--fast",     "--seed", seed,        "-q",         NULL};
    ck_assert_int_eq(replay(args, log), 0);
}

static const char *body_basic = "classifiers:\n"
                                "  cuts: {plugin: cuts}\n"
                                "channels:\n"
                                "  default: {classifier: cuts}\n"
                                "processing: {workers: 2, max_batch: 64, max_wait_ms: 2}\n";

/* Every record `cryoclean replay` sends is decided, per channel. */
START_TEST(replay_into_daemon_zero_loss)
{
    cct_daemon v;
    cct_daemon_init(&v);
    char body[1024];
    snprintf(body, sizeof body, "%smonitor: {interval_s: 0.2}\n", body_basic);
    cct_daemon_conf(&v, body);
    cct_daemon_up(&v, NULL);
    wait_subscribed(&v);
    char report[512], log[512];
    snprintf(report, sizeof report, "%s/sent.json", v.dir);
    snprintf(log, sizeof log, "%s/replay.log", v.dir);
    const char *args[] = {"--simulate", "--push", "--connect",     "--endpoint", v.ep_in,     "-n",
                          "3000",       "--fast", "--channels",    "3",          "--modules", "2",
                          "--seed",     "7",      "--report-json", report,       "-q",        NULL};
    ck_assert_int_eq(replay(args, log), 0);
    char *rep = cct_slurp(report, NULL);
    ck_assert_uint_eq(cct_json_u64(rep, "sent"), 3000);
    unsigned long long by_ch[64] = {0}, got = 0;
    cc_decision d;
    while (got < 3000 && cct_recv_decision(v.dec, &d, 10000)) {
        ck_assert_uint_lt(d.channel, 64);
        ck_assert_int_ne(d.verdict, CC_V_INVALID);
        by_ch[d.channel]++;
        got++;
    }
    ck_assert_uint_eq(got, 3000);
    /* the replay report's per-channel counts match the decisions */
    const char *bc = strstr(rep, "\"by_channel\"");
    ck_assert_ptr_nonnull(bc);
    int channels = 0;
    for (unsigned ch = 0; ch < 64; ch++) {
        if (!by_ch[ch]) continue;
        char key[32];
        snprintf(key, sizeof key, "\"%u\"", ch);
        const char *p = strstr(bc, key);
        ck_assert_msg(p != NULL, "channel %u decided but not in the replay report", ch);
        const char *tot = strstr(p, "\"sent\":");
        ck_assert_msg(tot != NULL, "no count for channel %u in %s", ch, p);
        ck_assert_uint_eq(strtoull(tot + 7, NULL, 10), by_ch[ch]);
        channels++;
    }
    ck_assert_int_eq(channels, 6);
    char json[4096];
    cct_monitor_settled(&v, 3000, json, sizeof json);
    cct_check_identity(json);
    ck_assert_uint_eq(cct_json_u64(json, "lost_upstream"), 0);
    ck_assert_int_eq(cct_daemon_stop(v.pid, SIGTERM, 20000), 0);
    cct_daemon_down(&v);
    free(rep);
}
END_TEST

/* GET path from 127.0.0.1:port into out (body only); returns the HTTP status. */
static int http_get(int port, const char *path, char *out, size_t len)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(s, (struct sockaddr *)&a, sizeof a), 0);
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
    ck_assert_int_eq(write(s, req, (size_t)n), n);
    size_t got = 0;
    for (ssize_t r; (r = read(s, out + got, len - 1 - got)) > 0;) got += (size_t)r;
    out[got] = '\0';
    close(s);
    int status = 0;
    sscanf(out, "HTTP/1.%*d %d", &status);
    char *b = strstr(out, "\r\n\r\n");
    if (b) memmove(out, b + 4, strlen(b + 4) + 1);
    return status;
}

/* The value of the sample line that starts with line_prefix. */
static unsigned long long metric(const char *text, const char *line_prefix)
{
    const char *p = text;
    while ((p = strstr(p, line_prefix)) && p != text && p[-1] != '\n') p++;
    ck_assert_msg(p != NULL, "metrics lack %s", line_prefix);
    return strtoull(p + strlen(line_prefix), NULL, 10);
}

/* The daemon's Prometheus endpoint serves valid text (promtool) whose
 * counters agree with what was sent. */
START_TEST(metrics_endpoint_with_promtool)
{
    if (system("command -v promtool >/dev/null 2>&1") != 0)
        ck_abort_msg("promtool not found: install the Debian package prometheus");
    cct_daemon v;
    cct_daemon_init(&v);
    int port = cct_free_port();
    char body[1024];
    snprintf(body, sizeof body,
             "%smonitor: {interval_s: 0.2}\nmetrics: {enabled: true, bind: 127.0.0.1, port: %d}\n",
             body_basic, port);
    up_and_replay(&v, body, "400", "3");
    char json[4096];
    cct_monitor_settled(&v, 400, json, sizeof json);
    static char text[1 << 20];
    /* the snapshot is rendered once per monitor interval, so it may lag the
     * records by an interval: wait until it shows every decision */
    unsigned long long decided = 0;
    for (int i = 0; i < 50 && decided < 400; i++) {
        ck_assert_int_eq(http_get(port, "/metrics", text, sizeof text), 200);
        decided = metric(text, "cryoclean_decided_total ");
        if (decided < 400) usleep(100000);
    }
    ck_assert_uint_eq(decided, 400);
    ck_assert_uint_eq(metric(text, "cryoclean_received_total "), 400);
    char path[512], cmd[1200];
    snprintf(path, sizeof path, "%s/metrics.txt", v.dir);
    cct_write_file(path, text, strlen(text));
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s > %s.out 2>&1", path, path);
    int rc = system(cmd);
    snprintf(cmd, sizeof cmd, "%s.out", path);
    char *out = cct_slurp(cmd, NULL);
    ck_assert_msg(rc == 0, "promtool check metrics failed: %s", out);
    free(out);
    ck_assert_int_eq(http_get(port, "/nope", text, sizeof text), 404);
    ck_assert_int_eq(cct_daemon_stop(v.pid, SIGTERM, 20000), 0);
    cct_daemon_down(&v);
}
END_TEST

/* A replayed scenario in which channel 7's SQUID-jump rate jumps eightfold
 * after the baseline is learned: the daemon raises ALARM for channel 7 (and
 * not for the quiet channel 8), publishes it on alert/007/ and runs the
 * configured command with the alert as arguments. */
START_TEST(rate_jump_raises_alert)
{
    cct_daemon v;
    cct_daemon_init(&v);
    char script[512], out[512], scen[512], body[2048];
    snprintf(script, sizeof script, "%s/page.sh", v.dir);
    snprintf(out, sizeof out, "%s/paged.txt", v.dir);
    snprintf(scen, sizeof scen, "%s/scenario.yaml", v.dir);
    char sh[1024];
    snprintf(sh, sizeof sh, "#!/bin/sh\necho \"$@\" \"env=$CRYOCLEAN_ALERT_STATE\" >> %s\n", out);
    cct_write_file(script, sh, strlen(sh));
    chmod(script, 0755);
    const char *sc = "scenario:\n"
                     "  duration_s: 44\n"
                     "  samples: 8192\n"
                     "  channels:\n"
                     "    - id: 7\n"
                     "      module: 3\n"
                     "      kind: phonon\n"
                     "      rates: {event: 30.0, jump: 3.0}\n"
                     "      changes:\n"
                     "        - {class: jump, from_s: 24, factor: 8}\n"
                     "    - {id: 8, module: 3, kind: light, rates: {event: 30.0, spike: 3.0}}\n";
    cct_write_file(scen, sc, strlen(sc));
    snprintf(body, sizeof body,
             "%smonitor:\n"
             "  interval_s: 0.2\n"
             "  windows_s: [5, 30]\n"
             "  alerts:\n"
             "    bin_s: 1\n"
             "    learn_bins: 8\n"
             "    min_counts: 10\n"
             "    min_change: 2\n"
             "    false_alarms_per_week: 1\n"
             "    notify: {journal: false, command: %s, timeout_s: 5}\n",
             body_basic, script);
    cct_daemon_conf(&v, body);
    cct_daemon_up(&v, NULL);
    void *al = zmq_socket(v.ctx, ZMQ_SUB);
    zmq_setsockopt(al, ZMQ_SUBSCRIBE, "alert/", 6);
    ck_assert_int_eq(zmq_connect(al, v.ep_mon), 0);
    wait_subscribed(&v);
    char log[512];
    snprintf(log, sizeof log, "%s/replay.log", v.dir);
    const char *args[] = {"--scenario", scen, "--push", "--connect", "--endpoint", v.ep_in,
                          "--speed",    "2",  "--seed", "11",        "-q",         NULL};
    ck_assert_int_eq(replay(args, log), 0);
    /* collect alert messages until channel 7's ALARM (at most 10 s after the end) */
    int alarm7 = 0, alarm8 = 0;
    zmq_pollitem_t p = {.socket = al, .events = ZMQ_POLLIN};
    while (!alarm7 && zmq_poll(&p, 1, 10000) > 0) {
        char topic[32], msg[2048];
        int tl = zmq_recv(al, topic, sizeof topic - 1, 0);
        int ml = zmq_recv(al, msg, sizeof msg - 1, 0);
        ck_assert_int_gt(tl, 0);
        ck_assert_int_gt(ml, 0);
        topic[tl] = msg[ml] = '\0';
        if (strstr(msg, "\"state\":\"alarm\"")) {
            if (!strncmp(topic, "alert/007/", 10) && strstr(msg, "\"channel\":7,")) alarm7 = 1;
            if (!strncmp(topic, "alert/008/", 10)) alarm8 = 1;
        }
    }
    ck_assert_msg(alarm7, "no ALARM for channel 7 on alert/007/ (daemon log: %s)", v.log);
    ck_assert_msg(!alarm8, "false ALARM for the quiet channel 8");
    /* the command ran with the alert as arguments and environment */
    char *paged = NULL;
    for (int i = 0; i < 50; i++) {
        if (access(out, R_OK) == 0) {
            paged = cct_slurp(out, NULL);
            if (strstr(paged, "alarm")) break;
            free(paged);
            paged = NULL;
        }
        usleep(100000);
    }
    ck_assert_msg(paged != NULL, "the alert command did not run (%s; daemon log %s)", out, v.log);
    ck_assert_msg(!strncmp(paged, "7 alarm ", 8) && strstr(paged, "env=alarm"), "command saw: %s",
                  paged);
    free(paged);

    /* the shift crew clears the latched ALARM by hand */
    char clog[512];
    snprintf(clog, sizeof clog, "%s/alert-clear.log", v.dir);
    const char *clear[] = {"clear", "7", "--endpoint", v.ep_ctl, NULL};
    ck_assert_int_eq(tool("alert", clear, clog), 0);
    char *answer = cct_slurp(clog, NULL);
    ck_assert_msg(strstr(answer, "ok: channel 7 cleared") != NULL, "answer: %s", answer);
    free(answer);
    int cleared = 0;
    while (!cleared && zmq_poll(&p, 1, 5000) > 0) {
        char topic[32], msg[2048];
        int tl = zmq_recv(al, topic, sizeof topic - 1, 0);
        int ml = zmq_recv(al, msg, sizeof msg - 1, 0);
        topic[tl > 0 ? tl : 0] = msg[ml > 0 ? ml : 0] = '\0';
        cleared = !strncmp(topic, "alert/007/", 10) && strstr(msg, "\"cause\":\"cleared\"") &&
                  strstr(msg, "\"from\":\"alarm\"");
    }
    ck_assert_msg(cleared, "no 'cleared' transition for channel 7 on alert/007/");
    const char *unknown[] = {"clear", "99", "--endpoint", v.ep_ctl, NULL};
    ck_assert_int_eq(tool("alert", unknown, clog), 1);
    answer = cct_slurp(clog, NULL);
    ck_assert_msg(strstr(answer, "error:") && strstr(answer, "99"), "answer: %s", answer);
    free(answer);
    zmq_close(al);
    ck_assert_int_eq(cct_daemon_stop(v.pid, SIGTERM, 20000), 0);
    cct_daemon_down(&v);
}
END_TEST

/* Copies src to dst, truncated to keep bytes (all when keep < 0). */
static void copy_file(const char *src, const char *dst, long keep)
{
    FILE *f = fopen(src, "rb");
    ck_assert_msg(f != NULL, "cannot read %s", src);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (keep >= 0 && keep < n) n = keep;
    char *b = malloc((size_t)n);
    ck_assert_int_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    cct_write_file(dst, b, (size_t)n);
    free(b);
}

/* Counts decisions for n records replayed now; all must come from model. */
static void replay_and_expect(cct_daemon *v, const char *n, const char *seed, const char *model)
{
    char log[512];
    snprintf(log, sizeof log, "%s/replay-%s.log", v->dir, seed);
    const char *args[] = {"--simulate", "--push", "--connect", "--endpoint", v->ep_in, "-n", n,
                          "--fast",     "--seed", seed,        "-q",         NULL};
    ck_assert_int_eq(replay(args, log), 0);
    long want = atol(n), got = 0;
    cc_decision d;
    while (got < want && cct_recv_decision(v->dec, &d, 10000)) {
        ck_assert_str_eq(d.model, model);
        ck_assert_int_ne(d.verdict, CC_V_INVALID);
        got++;
    }
    ck_assert_int_eq(got, want);
}

/* The neural-network classifier in the daemon; a reload whose model file is
 * corrupt is refused with the file named, and the running model keeps
 * deciding every record. */
START_TEST(reload_with_corrupt_model_keeps_running_model)
{
    cct_daemon v;
    cct_daemon_init(&v);
    char src[512], card[512], w[512], body[2048];
    CCT_SRC("tests/golden/nn/cait-cnn.yaml", src);
    snprintf(card, sizeof card, "%s/cait-cnn.yaml", v.dir);
    copy_file(src, card, -1);
    CCT_SRC("tests/golden/nn/cait-cnn.safetensors", src);
    snprintf(w, sizeof w, "%s/cait-cnn.safetensors", v.dir);
    copy_file(src, w, -1);
    snprintf(body, sizeof body,
             "classifiers:\n"
             "  cait: {plugin: nn, config: {model: cait-cnn.yaml}}\n"
             "channels:\n"
             "  default: {classifier: cait}\n"
             "monitor: {interval_s: 0.2}\n");
    cct_daemon_conf(&v, body);
    cct_daemon_up(&v, NULL);
    wait_subscribed(&v);
    replay_and_expect(&v, "200", "1", "cait-cnn-v2");

    /* corrupt the weights (truncated), then reload */
    char bad[512];
    snprintf(bad, sizeof bad, "%s.good", w);
    rename(w, bad);
    copy_file(bad, w, 1000);
    kill(v.pid, SIGHUP);
    char msg[4096];
    ck_assert_msg(cct_notify_wait(&v.notify, "RELOADING=1", 10000, msg, sizeof msg), "no reload");
    ck_assert_msg(cct_notify_wait(&v.notify, "READY=1", 10000, msg, sizeof msg), "no READY=1");
    ck_assert_msg(strstr(msg, "reload failed") && strstr(msg, "cait-cnn.safetensors"),
                  "corrupt model not reported with its file: %s", msg);
    replay_and_expect(&v, "200", "2", "cait-cnn-v2");

    /* repaired: the reload succeeds */
    rename(bad, w);
    kill(v.pid, SIGHUP);
    ck_assert_msg(cct_notify_wait(&v.notify, "READY=1", 10000, msg, sizeof msg), "no READY=1");
    ck_assert_msg(strstr(msg, "reloaded") != NULL, "%s", msg);
    replay_and_expect(&v, "100", "3", "cait-cnn-v2");
    char json[4096];
    cct_monitor_settled(&v, 500, json, sizeof json);
    cct_check_identity(json);
    ck_assert_uint_eq(cct_json_u64(json, "reload_failures"), 1);
    ck_assert_uint_eq(cct_json_u64(json, "reloads"), 1);
    ck_assert_int_eq(cct_daemon_stop(v.pid, SIGTERM, 20000), 0);
    cct_daemon_down(&v);
}
END_TEST

/* A template-conditioned card in the daemon, its standard events from a
 * preset beside the configuration that describes channel 0 only: channel 0
 * is decided by the model, every channel-1 record is answered
 * classifier_error on its own (never silently), the log names the channel,
 * and the identity of the counters holds. */
START_TEST(template_model_without_a_standard_event_for_a_channel)
{
    cct_daemon v;
    cct_daemon_init(&v);
    char src[512], card[512], det[512], body[2048];
    CCT_SRC("tests/golden/nn/cnn-sev.yaml", src);
    snprintf(card, sizeof card, "%s/cnn-sev.yaml", v.dir);
    copy_file(src, card, -1);
    snprintf(det, sizeof det, "%s/module.yaml", v.dir);
    const char *preset = "sim:\n  samples: 16384\n  channels:\n"
                         "    - {name: phonon, id: 0, kind: phonon}\n";
    cct_write_file(det, preset, strlen(preset));
    snprintf(body, sizeof body,
             "classifiers:\n"
             "  sev: {plugin: nn, config: {model: cnn-sev.yaml, standard_events: module.yaml}}\n"
             "channels:\n"
             "  default: {classifier: sev}\n"
             "monitor: {interval_s: 0.2}\n");
    up_and_replay(&v, body, "200", "5");
    int n0 = 0, n1 = 0;
    cc_decision d;
    while (n0 + n1 < 200 && cct_recv_decision(v.dec, &d, 10000)) { /* 100 events x 2 */
        if (d.channel == 0) {
            ck_assert_str_eq(d.model, "cnn-sev");
            ck_assert(d.verdict == CC_V_ACCEPT || d.verdict == CC_V_REJECT);
            n0++;
        } else {
            ck_assert_uint_eq(d.channel, 1);
            ck_assert_int_eq(d.verdict, CC_V_INVALID);
            ck_assert_int_eq(d.reason, CC_R_CLASSIFIER_ERROR);
            n1++;
        }
    }
    char json[4096];
    cct_monitor_settled(&v, 200, json, sizeof json);
    ck_assert_msg(n0 == 100 && n1 == 100, "channel 0: %d decisions, channel 1: %d; %s", n0, n1,
                  json);
    cct_check_identity(json);
    ck_assert_int_eq(cct_daemon_stop(v.pid, SIGTERM, 20000), 0);
    char *text = cct_slurp(v.log, NULL);
    ck_assert_msg(strstr(text, "no standard event for channel 1 in") && strstr(text, "module.yaml"),
                  "the log does not name the channel: %s", text);
    free(text);
    cct_daemon_down(&v);
}
END_TEST

/* The default model in the daemon, learning standard events: records of a
 * replayed module are decided from the first one on (by the bootstrap
 * while a channel learns), the log says when a channel's standard event is
 * learnt, and every record ends as a decision of the learning classifier. */
START_TEST(daemon_learns_standard_events)
{
    cct_daemon v;
    cct_daemon_init(&v);
    char card[512], boot[512], body[3072];
    CCT_SRC("conf/models/cnn-sev-default.yaml", card);
    CCT_SRC("conf/models/cnn-default.yaml", boot);
    snprintf(body, sizeof body,
             "classifiers:\n"
             "  cnn:\n"
             "    plugin: nn\n"
             "    config: {model: %s, standard_events: learn, bootstrap: %s,\n"
             "             learn: {pulses: 40}, threads: 1}\n"
             "channels:\n"
             "  default: {classifier: cnn}\n"
             "monitor: {interval_s: 0.2}\n",
             card, boot);
    up_and_replay(&v, body, "600", "9");
    int got = 0;
    cc_decision d;
    while (got < 600 && cct_recv_decision(v.dec, &d, 10000)) {
        ck_assert_str_eq(d.model, "cnn-sev-default/learn");
        ck_assert(d.verdict == CC_V_ACCEPT || d.verdict == CC_V_REJECT);
        got++;
    }
    ck_assert_int_eq(got, 600);
    char json[4096];
    cct_monitor_settled(&v, 600, json, sizeof json);
    cct_check_identity(json);
    ck_assert_int_eq(cct_daemon_stop(v.pid, SIGTERM, 20000), 0);
    char *text = cct_slurp(v.log, NULL);
    ck_assert_msg(strstr(text, "learning each channel's standard event from the first 40") &&
                      strstr(text, "channel 0: standard event learnt from 40 pulses"),
                  "%s", text);
    free(text);
    cct_daemon_down(&v);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("e2e");
    TCase *t = tcase_create("e2e");
    tcase_set_timeout(t, 180);
    tcase_add_test(t, replay_into_daemon_zero_loss);
    tcase_add_test(t, metrics_endpoint_with_promtool);
    tcase_add_test(t, rate_jump_raises_alert);
    tcase_add_test(t, reload_with_corrupt_model_keeps_running_model);
    tcase_add_test(t, template_model_without_a_standard_event_for_a_channel);
    tcase_add_test(t, daemon_learns_standard_events);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return cct_run(suite());
}
