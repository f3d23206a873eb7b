/* cmd_top.c - `cryoclean top`: a live console of a daemon's monitors.
 *
 * Subscribes to the monitor PUB endpoint (topics "mon/" and "alert/", two
 * frames: topic, JSON v1 as in docs/MONITORING.md) and redraws a plain-ANSI
 * screen: a title bar, the totals (rate, rejected fraction, loss, alarms,
 * queues), the last alert line, then one row per channel - trigger rate,
 * artefact fraction, S/h, alert state in colour and a sparkline of the
 * artefact fraction history - sorted worst first (ALARM, WARNING, OK,
 * NO-STATS; then by S/h and artefact fraction). Only the messages of one
 * window are shown (--window, default: the shortest window seen).
 *
 * Terminal handling: non-canonical, no echo, alternate screen and hidden
 * cursor while running; SIGWINCH re-reads the size; 'q', Ctrl-C (SIGINT),
 * SIGTERM and SIGHUP leave cleanly, restoring the terminal (exit status 0).
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "cmds.h"

#define HIST    120 /* samples of artefact-fraction history per channel */
#define MAX_CH  4096
#define MSG_MAX (1 << 16)

typedef struct chan {
    uint32_t id;
    double rate, frac, ratio;
    int state; /* 0 no_stats, 1 ok, 2 warning, 3 alarm */
    float hist[HIST];
    int n_hist, head;
} chan;

typedef struct view {
    const char *endpoint;
    uint32_t window, window_fixed;
    chan *ch;
    size_t n;
    double rate, frac, invalid_hz, lost_hz;
    long long lost_total, channels, alarms, warnings;
    char gauges[256];
    char last_alert[256];
    int rows, cols;
    long long messages;
} view;

static volatile sig_atomic_t quit_flag, resize_flag;

static void on_quit(int sig)
{
    (void)sig;
    quit_flag = 1;
}

static void on_winch(int sig)
{
    (void)sig;
    resize_flag = 1;
}

/* ---- minimal field access into our own flat JSON ------------------------- */

/* Pointer just after "key": in j (searching from j), or NULL. */
static const char *jfind(const char *j, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(j, pat);
    return p ? p + strlen(pat) : NULL;
}

static double jnum(const char *j, const char *key, double dflt)
{
    const char *p = j ? jfind(j, key) : NULL;
    if (!p || strncmp(p, "null", 4) == 0) return p ? NAN : dflt;
    char *end;
    double v = strtod(p, &end);
    return end == p ? dflt : v;
}

static void jstr(const char *j, const char *key, char *out, size_t len)
{
    const char *p = j ? jfind(j, key) : NULL;
    out[0] = 0;
    if (!p || *p != '"') return;
    p++;
    size_t n = 0;
    while (*p && *p != '"' && n + 1 < len) {
        if (*p == '\\' && p[1]) p++;
        out[n++] = *p++;
    }
    out[n] = 0;
}

static int state_of(const char *s)
{
    if (strcmp(s, "alarm") == 0) return 3;
    if (strcmp(s, "warning") == 0) return 2;
    if (strcmp(s, "ok") == 0) return 1;
    return 0;
}

static chan *chan_get(view *v, uint32_t id)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->ch[i].id == id) return &v->ch[i];
    if (v->n == MAX_CH) return NULL;
    chan *c = &v->ch[v->n++];
    memset(c, 0, sizeof *c);
    c->id = id;
    c->frac = NAN;
    return c;
}

static void on_monitor(view *v, const char *j)
{
    uint32_t w = (uint32_t)jnum(j, "window_s", 0);
    if (!v->window_fixed && (v->window == 0 || w < v->window)) v->window = w;
    if (w != v->window) return;
    char scope[16];
    jstr(j, "scope", scope, sizeof scope);
    if (strcmp(scope, "all") == 0) {
        v->rate = jnum(j, "rate_hz", 0);
        v->frac = jnum(j, "artefact_frac", NAN);
        v->invalid_hz = jnum(j, "invalid_hz", 0);
        v->lost_hz = jnum(j, "lost_hz", 0);
        v->lost_total = (long long)jnum(j, "lost_total", 0);
        v->channels = (long long)jnum(j, "channels", 0);
        v->alarms = (long long)jnum(j, "alarms_active", 0);
        v->warnings = (long long)jnum(j, "warnings_active", 0);
        const char *g = jfind(j, "gauges");
        v->gauges[0] = 0;
        if (g && *g == '{') {
            size_t n = 0;
            for (g++; *g && *g != '}' && n + 1 < sizeof v->gauges; g++)
                if (*g != '"') v->gauges[n++] = *g == ':' ? '=' : *g == ',' ? ' ' : *g;
            v->gauges[n] = 0;
        }
        return;
    }
    if (strcmp(scope, "channel") != 0) return;
    chan *c = chan_get(v, (uint32_t)jnum(j, "channel", 0));
    if (!c) return;
    c->rate = jnum(j, "rate_hz", 0);
    c->frac = jnum(j, "artefact_frac", NAN);
    const char *a = jfind(j, "alert");
    if (a) {
        char st[16];
        jstr(a, "state", st, sizeof st);
        c->state = state_of(st);
        c->ratio = jnum(a, "ratio", 0);
    }
    c->hist[c->head] = (float)c->frac;
    c->head = (c->head + 1) % HIST;
    if (c->n_hist < HIST) c->n_hist++;
}

static void on_alert(view *v, const char *j)
{
    chan *c = chan_get(v, (uint32_t)jnum(j, "channel", 0));
    char st[16];
    jstr(j, "state", st, sizeof st);
    if (c) c->state = state_of(st), c->ratio = jnum(j, "ratio", c->ratio);
    jstr(j, "message", v->last_alert, sizeof v->last_alert);
}

/* ---- drawing ----------------------------------------------------------------- */

static int worse(const void *pa, const void *pb)
{
    const chan *a = pa, *b = pb;
    if (a->state != b->state) return b->state - a->state;
    if (a->ratio != b->ratio) return b->ratio > a->ratio ? 1 : -1;
    double fa = isnan(a->frac) ? -1 : a->frac, fb = isnan(b->frac) ? -1 : b->frac;
    if (fa != fb) return fb > fa ? 1 : -1;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* Appends the sparkline of the last `width` history samples of c. */
static void sparkline(FILE *o, const chan *c, int width)
{
    static const char *const bars[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                       "\u2585", "\u2586", "\u2587", "\u2588"};
    int n = c->n_hist < width ? c->n_hist : width;
    double mx = 0;
    for (int k = 0; k < n; k++) {
        float x = c->hist[(c->head - n + k + HIST) % HIST];
        if (x > mx) mx = x;
    }
    for (int k = 0; k < n; k++) {
        float x = c->hist[(c->head - n + k + HIST) % HIST];
        if (isnan(x))
            fputc(' ', o);
        else
            fputs(bars[mx > 0 ? (int)lrint(7.0 * x / mx) : 0], o);
    }
}

/* Prints at most `cols` visible characters of s. */
static void put_clipped(FILE *o, const char *s, int cols)
{
    fprintf(o, "%.*s\033[K\r\n", cols > 0 ? cols : 0, s);
}

static void draw(FILE *o, view *v)
{
    static const char *const names[] = {"NO-STATS", "OK", "WARNING", "ALARM"};
    static const char *const colour[] = {"\033[2m", "\033[32m", "\033[30;43m", "\033[1;37;41m"};
    char line[512];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    fputs("\033[H", o);
    snprintf(line, sizeof line, " cryoclean top  %s  window %us  %dx%d  %02d:%02d:%02d",
             v->endpoint, v->window, v->cols, v->rows, tm.tm_hour, tm.tm_min, tm.tm_sec);
    fprintf(o, "\033[7m%-*.*s\033[0m\033[K\r\n", v->cols, v->cols, line);
    snprintf(line, sizeof line,
             " in %.1f rec/s  rejected %.1f%%  invalid %.1f/s  lost %lld (%.1f/s)  channels %lld"
             "  alarms %lld  warnings %lld",
             v->rate, isnan(v->frac) ? 0.0 : 100 * v->frac, v->invalid_hz, v->lost_total,
             v->lost_hz, v->channels, v->alarms, v->warnings);
    put_clipped(o, line, v->cols);
    snprintf(line, sizeof line, " queues: %s", v->gauges[0] ? v->gauges : "-");
    put_clipped(o, line, v->cols);
    snprintf(line, sizeof line, " last alert: %s", v->last_alert[0] ? v->last_alert : "-");
    put_clipped(o, line, v->cols);
    snprintf(line, sizeof line, "   CH   RATE/s  ARTEF%%   S/h  STATE     HISTORY");
    fprintf(o, "\033[1m%.*s\033[0m\033[K\r\n", v->cols, line);
    qsort(v->ch, v->n, sizeof *v->ch, worse);
    int room = v->rows - 6, shown = 0;
    for (size_t i = 0; i < v->n && shown < room; i++, shown++) {
        const chan *c = &v->ch[i];
        char fr[16];
        if (isnan(c->frac))
            snprintf(fr, sizeof fr, "%6s", "-");
        else
            snprintf(fr, sizeof fr, "%6.1f", 100 * c->frac);
        int n =
            snprintf(line, sizeof line, " %4u %8.1f  %s  %4.2f  ", c->id, c->rate, fr, c->ratio);
        if (n > v->cols) n = v->cols;
        fprintf(o, "%.*s", n, line);
        int left = v->cols - n;
        if (left > 0) {
            int w = left < 9 ? left : 9;
            fprintf(o, "%s%-*.*s\033[0m", colour[c->state], w, w, names[c->state]);
            left -= w;
        }
        if (left > 1) fputc(' ', o), sparkline(o, c, left - 1);
        fputs("\033[K\r\n", o);
    }
    fputs("\033[J", o);
    snprintf(line, sizeof line, " q quit%s", v->n > (size_t)shown ? "  (more channels below)" : "");
    fprintf(o, "\033[%d;1H\033[2m%.*s\033[0m\033[K", v->rows, v->cols, line);
    fflush(o);
}

static void term_size(view *v)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row)
        v->cols = ws.ws_col, v->rows = ws.ws_row;
    else
        v->cols = 80, v->rows = 24;
    if (v->cols > 500) v->cols = 500;
}

static double mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int usage(FILE *f)
{
    fprintf(f, "usage: cryoclean top --endpoint tcp://HOST:PORT [--window S]\n\n"
               "Live console of a daemon's monitor PUB endpoint: totals and loss, one row per\n"
               "channel (rate, artefact fraction, S/h, alert state, history), worst first.\n"
               "Keys: q quits (Ctrl-C too).\n");
    return f == stdout ? 0 : 2;
}

int cmd_top(int argc, char **argv)
{
    view v = {0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--endpoint") == 0 && i + 1 < argc)
            v.endpoint = argv[++i];
        else if (strcmp(argv[i], "--window") == 0 && i + 1 < argc)
            v.window = (uint32_t)atoi(argv[++i]), v.window_fixed = 1;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return usage(stdout);
        else {
            fprintf(stderr, "cryoclean top: unknown argument '%s'\n", argv[i]);
            return usage(stderr);
        }
    }
    if (v.window_fixed && v.window < 1) {
        fprintf(stderr, "cryoclean top: --window expects seconds >= 1 (one of the daemon's "
                        "monitor.windows_s)\n");
        return 2;
    }
    if (!v.endpoint) {
        fprintf(stderr, "cryoclean top: --endpoint is required\n");
        return usage(stderr);
    }
    void *ctx = zmq_ctx_new(), *sub = zmq_socket(ctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "mon/", 4);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "alert/", 6);
    if (zmq_connect(sub, v.endpoint) != 0) {
        fprintf(stderr, "cryoclean top: cannot connect to '%s': %s\n", v.endpoint,
                zmq_strerror(zmq_errno()));
        zmq_close(sub);
        zmq_ctx_term(ctx);
        return 1;
    }
    v.ch = calloc(MAX_CH, sizeof *v.ch);
    char *msg = malloc(MSG_MAX + 1);
    struct sigaction sa = {0};
    sa.sa_handler = on_quit;
    sigaction(SIGINT, &sa, NULL), sigaction(SIGTERM, &sa, NULL), sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = on_winch;
    sigaction(SIGWINCH, &sa, NULL);
    struct termios saved, raw;
    int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
    if (tty) {
        raw = saved;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        raw.c_cc[VMIN] = 0, raw.c_cc[VTIME] = 0;
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    }
    fputs("\033[?1049h\033[?25l\033[2J", stdout);
    term_size(&v);
    double last_draw = 0;
    int dirty = 1;
    while (!quit_flag && v.ch && msg) {
        zmq_pollitem_t it[2] = {{.socket = sub, .events = ZMQ_POLLIN},
                                {.fd = STDIN_FILENO, .events = ZMQ_POLLIN}};
        int r = zmq_poll(it, tty ? 2 : 1, 200);
        if (r < 0 && zmq_errno() != EINTR) break;
        if (resize_flag) {
            resize_flag = 0;
            term_size(&v);
            fputs("\033[2J", stdout);
            dirty = 1, last_draw = 0;
        }
        if (r > 0 && (it[0].revents & ZMQ_POLLIN)) {
            for (int k = 0; k < 1000; k++) { /* drain what is queued */
                char topic[64];
                int tl = zmq_recv(sub, topic, sizeof topic - 1, ZMQ_DONTWAIT);
                if (tl < 0) break;
                int more = 0;
                size_t ml = sizeof more;
                zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ml);
                if (!more) continue;
                int bl = zmq_recv(sub, msg, MSG_MAX, 0);
                if (bl < 0) break;
                msg[bl < MSG_MAX ? bl : MSG_MAX] = 0;
                v.messages++;
                if (strncmp(topic, "alert/", 6) == 0)
                    on_alert(&v, msg);
                else
                    on_monitor(&v, msg);
                dirty = 1;
            }
        }
        if (tty && r > 0 && (it[1].revents & ZMQ_POLLIN)) {
            char keys[32];
            ssize_t n = read(STDIN_FILENO, keys, sizeof keys);
            for (ssize_t k = 0; k < n; k++)
                if (keys[k] == 'q' || keys[k] == 'Q') quit_flag = 1;
        }
        double t = mono();
        if (!quit_flag && (t - last_draw >= 1.0 || (dirty && t - last_draw >= 0.2))) {
            draw(stdout, &v);
            last_draw = t, dirty = 0;
        }
    }
    fputs("\033[0m\033[?25h\033[?1049l", stdout);
    fflush(stdout);
    if (tty) tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    free(v.ch);
    free(msg);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    return 0;
}
