/* test_top.c - `cryoclean top` under a real tmux: a PUB socket in this
 * process publishes monitor JSON made by a real cc_monitor; the test reads
 * the screen with capture-pane, resizes the window, and quits with 'q' and
 * with Ctrl-C, checking the terminal is restored each time. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "cc_metrics.h"
#include "cc_test.h"

#define SEC 1000000000ull

static char sock_name[64], dir[256];

static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *capture(void)
{
    static char buf[16384];
    char path[300];
    snprintf(path, sizeof path, "%s/screen.txt", dir);
    buf[0] = 0;
    if (sh("tmux -L %s capture-pane -p -t top > %s 2>/dev/null", sock_name, path) != 0) return buf;
    FILE *f = fopen(path, "r");
    if (!f) return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* The screen line containing `needle`, copied into out (empty if none). */
static const char *line_with(const char *screen, const char *needle, char *out, size_t len)
{
    const char *p = strstr(screen, needle);
    out[0] = 0;
    if (!p) return out;
    const char *b = p;
    while (b > screen && b[-1] != '\n') b--;
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - b) : strlen(b);
    if (n >= len) n = len - 1;
    memcpy(out, b, n);
    out[n] = 0;
    return out;
}

/* Feeds n records in second t of channel ch with k artefacts. */
static void second(cc_monitor *m, uint32_t ch, uint64_t t, int n, int k)
{
    for (int i = 0; i < n; i++)
        cc_monitor_record(m, ch, 0, i < k ? CC_V_REJECT : CC_V_ACCEPT, i < k, 0.5f, 0.01f, 150,
                          t * SEC + (uint64_t)i, NULL);
}

/* Builds the scene: ch 3 in ALARM (x5 step), ch 12 in WARNING, ch 7 OK,
 * ch 20 NO-STATS; returns the simulated "now". */
static uint64_t scene(cc_monitor *m)
{
    uint64_t t = 100;
    for (; t < 300; t++) {
        second(m, 3, t, 3, t % 10 < 3);  /* 3 artefacts per 10-s bin */
        second(m, 7, t, 3, t % 10 < 1);  /* 1 per bin */
        second(m, 12, t, 3, t % 10 < 3); /* 3 per bin */
        cc_monitor_tick(m, t * SEC + 500000000ull, NULL, NULL);
    }
    cc_alert_view v;
    cc_alert_view_get(cc_monitor_alert(m, (size_t)cc_monitor_find(m, CC_MON_CHANNEL, 12)), &v);
    ck_assert_int_eq(v.state, CC_ALERT_OK);
    /* One bin that lifts channel 12's CUSUM to ~0.7 h: WARNING without ALARM. */
    int extra = (int)(v.h_poisson * 0.7 + 3 / 0.6931471805599453 + 0.5) - 3;
    for (; t < 310; t++) {
        second(m, 3, t, 3, 3);
        second(m, 7, t, 3, t % 10 < 1);
        second(m, 12, t, 3 + (t == 300 ? extra : 0), (t % 10 < 3) + (t == 300 ? extra : 0));
        cc_monitor_tick(m, t * SEC + 500000000ull, NULL, NULL);
    }
    for (; t < 330; t++) {
        second(m, 3, t, 3, 3);
        second(m, 7, t, 3, t % 10 < 1);
        second(m, 12, t, 3, t % 10 < 3);
        cc_monitor_tick(m, t * SEC + 500000000ull, NULL, NULL);
    }
    second(m, 20, t - 1, 2, 1);
    cc_monitor_tick(m, t * SEC, NULL, NULL);
    cc_monitor_loss(m, 17, (t - 1) * SEC);
    const int want[][2] = {{3, CC_ALERT_ALARM}, {12, CC_ALERT_WARNING}, {7, CC_ALERT_OK}};
    for (int i = 0; i < 3; i++) {
        cc_alert_view_get(
            cc_monitor_alert(m, (size_t)cc_monitor_find(m, CC_MON_CHANNEL, (uint32_t)want[i][0])),
            &v);
        ck_assert_msg((int)v.state == want[i][1], "channel %d in state %d", want[i][0], v.state);
    }
    return (t - 1) * SEC + 900000000ull; /* the 10-s window is 320..329 */
}

static void publish(void *pub, cc_monitor *m, uint64_t now)
{
    cc_text t = {0};
    char topic[CC_TOPIC_MAX];
    for (size_t i = 0; i < cc_monitor_count(m, CC_MON_CHANNEL); i++)
        for (uint32_t w = 0; w < 2; w++) {
            ck_assert_int_eq(cc_metrics_monitor_json(m, CC_MON_CHANNEL, i, w, now, topic, &t, NULL),
                             0);
            zmq_send(pub, topic, strlen(topic), ZMQ_SNDMORE);
            zmq_send(pub, t.s, t.len, 0);
        }
    cc_metrics_monitor_json(m, CC_MON_TOTAL, 0, 0, now, topic, &t, NULL);
    zmq_send(pub, topic, strlen(topic), ZMQ_SNDMORE);
    zmq_send(pub, t.s, t.len, 0);
    cc_text_free(&t);
}

/* Publishes until the screen contains every needle (at most ~15 s). */
static const char *wait_screen(void *pub, cc_monitor *m, uint64_t now, const char *const *needles,
                               int n)
{
    const char *s = "";
    for (int round = 0; round < 150; round++) {
        if (pub) publish(pub, m, now);
        usleep(100000);
        s = capture();
        int ok = 1;
        for (int i = 0; i < n && ok; i++) ok = strstr(s, needles[i]) != NULL;
        if (ok) return s;
    }
    ck_abort_msg("screen never showed all of: %s%s%s ...; last screen:\n%s", needles[0],
                 n > 1 ? ", " : "", n > 1 ? needles[1] : "", s);
    return s;
}

static void start_top(const char *endpoint)
{
    char script[300], bin[512], body[1400];
    CCT_BUILD("tools/cryoclean", bin);
    snprintf(script, sizeof script, "%s/run.sh", dir);
    /* The shell survives the Ctrl-C meant for top (`trap : INT`), then reports
     * top's exit status and the terminal modes. */
    snprintf(body, sizeof body,
             "trap : INT\n%s top --endpoint %s\necho EXIT=$?\n"
             "stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | "
             "tr '\\n' ' '; echo\nsleep 600\n",
             bin, endpoint);
    cct_write_file(script, body, strlen(body));
    /* tmux's server start can race with other tmux servers starting on a busy
     * machine; retry a few times and show tmux's own words if it keeps failing */
    char err[400], msg[512] = "";
    snprintf(err, sizeof err, "%s/tmux.err", dir);
    int rc = -1;
    for (int attempt = 0; attempt < 5 && rc != 0; attempt++) {
        if (attempt) usleep(200000);
        rc = sh("env -u TMUX tmux -L %s -f /dev/null new-session -d -s top -x 100 -y 30 'sh %s' "
                "2>%s",
                sock_name, script, err);
    }
    if (rc != 0) {
        FILE *f = fopen(err, "r");
        if (f) {
            size_t r = fread(msg, 1, sizeof msg - 1, f);
            msg[r] = '\0';
            fclose(f);
        }
    }
    ck_assert_msg(rc == 0, "tmux new-session failed (%d): %s", rc, msg);
}

START_TEST(console_under_tmux)
{
    if (sh("command -v tmux >/dev/null") != 0) {
        fprintf(stderr, "SKIP: tmux not installed\n");
        return;
    }
    cct_tmpdir(dir, sizeof dir);
    snprintf(sock_name, sizeof sock_name, "cctop%d", (int)getpid());
    cc_monitor_config c;
    cc_monitor_config_default(&c);
    c.alert.learn_bins = 10;
    c.alert.min_counts = 5;
    c.alert.warn_ratio = 0.5;
    c.alert.clear_ratio = 0.25;
    cc_err e = {0};
    cc_monitor *m = cc_monitor_new(&c, &e);
    ck_assert_msg(m != NULL, "%s", e.msg);
    uint64_t now = scene(m);

    void *ctx = zmq_ctx_new(), *pub = zmq_socket(ctx, ZMQ_PUB);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", cct_free_port());
    ck_assert_int_eq(zmq_bind(pub, ep), 0);
    start_top(ep);

    /* Each publish round adds a history sample: wait for a 3-sample sparkline. */
    const char *need[] = {"ALARM",   "WARNING",    "NO-STATS",
                          "lost 17", "window 10s", "ALARM     \u2588\u2588\u2588"};
    const char *s = wait_screen(pub, m, now, need, 6);
    printf("screen seen by the test:\n%s\n", s);
    char l3[256], l12[256], l7[256], l20[256], tot[256];
    /* Rows: "   CH   RATE/s ..." -> find each channel's row by its state word. */
    line_with(s, "ALARM", l3, sizeof l3);
    line_with(s, "WARNING", l12, sizeof l12);
    line_with(s, " OK ", l7, sizeof l7);
    line_with(s, "NO-STATS", l20, sizeof l20);
    ck_assert_msg(strncmp(l3, "    3 ", 6) == 0, "ALARM row: '%s'", l3);
    ck_assert_msg(strncmp(l12, "   12 ", 6) == 0, "WARNING row: '%s'", l12);
    ck_assert_msg(strncmp(l7, "    7 ", 6) == 0, "OK row: '%s'", l7);
    ck_assert_msg(strncmp(l20, "   20 ", 6) == 0, "NO-STATS row: '%s'", l20);
    /* Worst first. */
    ck_assert(strstr(s, l3) < strstr(s, l12));
    ck_assert(strstr(s, l12) < strstr(s, l7));
    ck_assert(strstr(s, l7) < strstr(s, l20));
    /* Channel 3 over the last 10 s: 3 rec/s, all artefacts; channel 7: 1 in 30. */
    ck_assert_msg(strstr(l3, "     3.0   100.0") != NULL, "'%s'", l3);
    ck_assert_msg(strstr(l7, "     3.0     3.3") != NULL, "'%s'", l7);
    ck_assert_msg(strstr(l3, "\u2588\u2588\u2588") != NULL, "no sparkline in '%s'", l3);
    line_with(s, " in ", tot, sizeof tot);
    ck_assert_msg(strstr(tot, "in 9.2 rec/s") && strstr(tot, "alarms 1") &&
                      strstr(tot, "warnings 1") && strstr(tot, "channels 4"),
                  "totals: '%s'", tot);

    /* Resize: SIGWINCH makes top redraw for 70x20. */
    ck_assert_int_eq(sh("tmux -L %s resize-window -t top -x 70 -y 20", sock_name), 0);
    const char *need2[] = {"70x20", "ALARM"};
    s = wait_screen(pub, m, now, need2, 2);
    ck_assert_ptr_null(strstr(s, "100x30"));

    /* 'q' exits with 0 and the terminal is back in canonical mode with echo. */
    sh("tmux -L %s send-keys -t top q", sock_name);
    const char *need3[] = {"EXIT=0", "icanon echo"};
    s = wait_screen(NULL, m, now, need3, 2);
    ck_assert_ptr_null(strstr(s, "ALARM")); /* alternate screen left */
    sh("tmux -L %s kill-server", sock_name);

    /* Ctrl-C exits cleanly too. */
    start_top(ep);
    const char *need4[] = {"ALARM"};
    wait_screen(pub, m, now, need4, 1);
    sh("tmux -L %s send-keys -t top C-c", sock_name);
    s = wait_screen(NULL, m, now, need3, 2);
    sh("tmux -L %s kill-server", sock_name);

    zmq_close(pub);
    zmq_ctx_term(ctx);
    cc_monitor_free(&m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("top");
    TCase *tc = tcase_create("tmux");
    tcase_set_timeout(tc, 200);
    tcase_add_test(tc, console_under_tmux);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cct_run(suite());
}
