/* cmd_watch.c - `cryoclean watch`: what a running daemon decides, live.
 *
 * Subscribes to the decision stream (dec/) and the daemon's monitor
 * (mon/daemon/) and prints a line per decision (or every Nth) and a summary per
 * second: input rate, accepted/rejected/invalid, artefact fraction, upstream
 * loss. Works against a remote daemon: give its endpoints.
 */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "cc_proto.h"
#include "cmds.h"
#include "watch.h"

static volatile sig_atomic_t interrupted;
static void on_signal(int s)
{
    (void)s;
    interrupted = 1;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static const char *verdict_name(int v)
{
    return v == CC_V_ACCEPT   ? "\033[32mACCEPT\033[0m"
           : v == CC_V_REJECT ? "\033[31mREJECT\033[0m"
                              : "\033[33mINVALID\033[0m";
}

static unsigned long long json_field(const char *j, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(j, pat);
    return p ? strtoull(p + strlen(pat), NULL, 10) : 0;
}

static void *sub(void *ctx, const char *ep, const char *topic)
{
    void *s = zmq_socket(ctx, ZMQ_SUB);
    int hwm = 0;
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic, strlen(topic));
    if (zmq_connect(s, ep)) {
        fprintf(stderr, "cryoclean watch: cannot connect to %s: %s\n", ep,
                zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    return s;
}

int64_t cc_watch_run(const cc_watch_opts *o)
{
    void *ctx = zmq_ctx_new();
    void *dec = o->decisions ? sub(ctx, o->decisions, "dec/") : NULL;
    void *mon = o->monitor ? sub(ctx, o->monitor, "mon/daemon/") : NULL;
    if ((o->decisions && !dec) || (o->monitor && !mon)) {
        zmq_ctx_term(ctx);
        return -1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    uint64_t n = 0, by[3] = {0}, sec_n = 0, sec_by[3] = {0};
    double t0 = now_s(), next = t0 + 1.0;
    char mjson[4096] = "";
    while (!interrupted) {
        double t = now_s();
        if (o->duration_s > 0 && t - t0 >= o->duration_s) break;
        if (o->count && n >= o->count) break;
        zmq_pollitem_t items[2];
        int ni = 0;
        if (dec) items[ni++] = (zmq_pollitem_t){.socket = dec, .events = ZMQ_POLLIN};
        if (mon) items[ni++] = (zmq_pollitem_t){.socket = mon, .events = ZMQ_POLLIN};
        int r = zmq_poll(items, ni, 100);
        if (r < 0) break;
        for (int i = 0; i < ni; i++) {
            if (!(items[i].revents & ZMQ_POLLIN)) continue;
            char topic[64];
            char body[4096];
            zmq_recv(items[i].socket, topic, sizeof topic, 0);
            int bl = zmq_recv(items[i].socket, body, sizeof body - 1, 0);
            if (bl < 0) continue;
            if (items[i].socket == mon) {
                body[bl < (int)sizeof body - 1 ? bl : (int)sizeof body - 1] = '\0';
                memcpy(mjson, body, sizeof mjson);
                if (o->json) printf("%s\n", body);
                continue;
            }
            cc_decision d;
            if (cc_decision_decode(body, (size_t)bl, &d, NULL)) continue;
            n++;
            sec_n++;
            by[d.verdict < 3 ? d.verdict : 2]++;
            sec_by[d.verdict < 3 ? d.verdict : 2]++;
            if (o->every && n % (uint64_t)o->every == 0)
                printf("ch %03u seq %-8llu %s score %.3f cutoff %.2f %-16s %s/%s %u us\n",
                       d.channel, (unsigned long long)d.seq, verdict_name(d.verdict),
                       (double)d.score, (double)d.cutoff, cc_reason_name((cc_reason)d.reason),
                       d.classifier, d.model, d.latency_us);
        }
        t = now_s();
        if (t >= next) {
            uint64_t dec_s = sec_by[0] + sec_by[1];
            printf("[%5.0fs] %5llu decisions/s: accepted %llu rejected %llu invalid %llu "
                   "(artefacts %.1f%%)",
                   t - t0, (unsigned long long)sec_n, (unsigned long long)sec_by[1],
                   (unsigned long long)sec_by[0], (unsigned long long)sec_by[2],
                   dec_s ? 100.0 * (double)sec_by[0] / (double)dec_s : 0.0);
            if (mjson[0])
                printf(" | daemon: received %llu, lost upstream %llu, undecidable %llu",
                       json_field(mjson, "received"), json_field(mjson, "lost_upstream"),
                       json_field(mjson, "undecidable"));
            printf("\n");
            fflush(stdout);
            sec_n = sec_by[0] = sec_by[1] = sec_by[2] = 0;
            next = t + 1.0;
        }
    }
    printf("total: %llu decisions: accepted %llu, rejected %llu, invalid %llu\n",
           (unsigned long long)n, (unsigned long long)by[1], (unsigned long long)by[0],
           (unsigned long long)by[2]);
    if (dec) zmq_close(dec);
    if (mon) zmq_close(mon);
    zmq_ctx_term(ctx);
    return (int64_t)n;
}

int cmd_watch(int argc, char **argv)
{
    static const struct option opts[] = {{"decisions", required_argument, 0, 'd'},
                                         {"monitor", required_argument, 0, 'm'},
                                         {"duration", required_argument, 0, 't'},
                                         {"count", required_argument, 0, 'n'},
                                         {"every", required_argument, 0, 'e'},
                                         {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    cc_watch_opts o = {
        .decisions = "tcp://127.0.0.1:5556", .monitor = "tcp://127.0.0.1:5558", .every = 1};
    int c;
    while ((c = getopt_long(argc, argv, "d:m:t:n:e:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o.decisions = strcmp(optarg, "off") ? optarg : NULL;
            break;
        case 'm':
            o.monitor = strcmp(optarg, "off") ? optarg : NULL;
            break;
        case 't':
            o.duration_s = atof(optarg);
            break;
        case 'n':
            o.count = strtoull(optarg, NULL, 10);
            break;
        case 'e':
            o.every = atoi(optarg);
            break;
        case 'j':
            o.json = 1;
            break;
        case 'h':
            printf(
                "usage: cryoclean watch [--decisions EP|off] [--monitor EP|off] [--duration S]\n"
                "                       [--count N] [--every N] [--json]\n\n"
                "Prints the decisions of a running cryocleand (every Nth; 0 for summaries only)\n"
                "and a summary per second. Defaults: decisions tcp://127.0.0.1:5556, monitor\n"
                "tcp://127.0.0.1:5558.\n");
            return 0;
        default:
            return 2;
        }
    }
    return cc_watch_run(&o) < 0 ? 1 : 0;
}
