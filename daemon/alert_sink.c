/* alert_sink.c - journal and command delivery of alert events (see alert_sink.h). */
#include "alert_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "cc_metrics.h"

#define MAX_RUNNING 64

extern char **environ;

typedef struct child {
    pid_t pid;
    uint64_t start_ns;
    int killed;
} child;

struct cc_alert_sink {
    cc_alert_sink_config c;
    child run[MAX_RUNNING];
    int n_run;
    cc_alert_sink_stats st;
};

void cc_alert_sink_config_default(cc_alert_sink_config *c)
{
    *c = (cc_alert_sink_config){.journal = 1, .timeout_s = 10, .max_running = 4};
}

static int check_command(const char *cmd, cc_err *e)
{
    if (!*cmd) return 0;
    if (cmd[0] != '/')
        return cc_err_set(e, "alerts.notify.command: expected an absolute path, found '%s'", cmd);
    if (access(cmd, X_OK) != 0)
        return cc_err_set(e, "alerts.notify.command: '%s' is not executable: %s", cmd,
                          strerror(errno));
    return 0;
}

int cc_alert_sink_config_from_yaml(const cc_ynode *map, cc_alert_sink_config *c, cc_err *e)
{
    static const char *const known[] = {"journal",     "command",  "timeout_s",
                                        "max_running", "warnings", NULL};
    if (!map) return 0;
    if (cc_y_expect(map, CC_Y_MAP, "alerts.notify", e) || cc_y_check_keys(map, known, e)) return -1;
    const char *cmd = NULL;
    int64_t mr = c->max_running;
    if (cc_y_bool(map, "journal", 0, &c->journal, e) || cc_y_str(map, "command", 0, &cmd, e) ||
        cc_y_bool(map, "warnings", 0, &c->warnings, e) ||
        cc_y_f64(map, "timeout_s", 0, 0.01, 3600, &c->timeout_s, e) ||
        cc_y_i64(map, "max_running", 0, 1, MAX_RUNNING, &mr, e))
        return -1;
    c->max_running = (int)mr;
    if (cmd) {
        if (strlen(cmd) >= sizeof c->command)
            return cc_y_err(e, cc_y_get(map, "command"), "alerts.notify.command: longer than %zu",
                            sizeof c->command - 1);
        if (check_command(cmd, e))
            return cc_err_prefix(e, "%s:%d:%d", cc_y_get(map, "command")->file,
                                 cc_y_get(map, "command")->line, cc_y_get(map, "command")->col);
        strcpy(c->command, cmd);
    }
    return 0;
}

cc_alert_sink *cc_alert_sink_new(const cc_alert_sink_config *c, cc_err *e)
{
    if (check_command(c->command, e)) return NULL;
    if (c->max_running < 1 || c->max_running > MAX_RUNNING || !(c->timeout_s > 0))
        return cc_err_set(
                   e, "alerts.notify: expected max_running 1..%d and timeout_s > 0, found %d, %g",
                   MAX_RUNNING, c->max_running, c->timeout_s),
               NULL;
    cc_alert_sink *s = calloc(1, sizeof *s);
    if (!s) return cc_err_set(e, "alert_sink: out of memory"), NULL;
    s->c = *c;
    return s;
}

static int priority_of(const cc_alert_event *ev)
{
    if (ev->to == CC_ALERT_ALARM) return LOG_CRIT;
    if (ev->to == CC_ALERT_WARNING) return LOG_WARNING;
    if (ev->from == CC_ALERT_WARNING || ev->from == CC_ALERT_ALARM) return LOG_NOTICE;
    return LOG_INFO;
}

size_t cc_alert_sink_journal_fields(const cc_alert_event *ev, char f[][320], size_t max)
{
    char line[256];
    size_t n = 0;
    cc_metrics_alert_line(ev, line, sizeof line);
    if (max < 8) return 0;
    snprintf(f[n++], 320, "MESSAGE=%s", line);
    snprintf(f[n++], 320, "PRIORITY=%d", priority_of(ev));
    snprintf(f[n++], 320, "CHANNEL=%u", ev->channel);
    snprintf(f[n++], 320, "ALERT=%s", cc_alert_state_name(ev->to));
    snprintf(f[n++], 320, "ALERT_FROM=%s", cc_alert_state_name(ev->from));
    snprintf(f[n++], 320, "ALERT_CAUSE=%s", cc_alert_cause_name(ev->cause));
    snprintf(f[n++], 320, "CUSUM_RATIO=%.3f", ev->ratio);
    snprintf(f[n++], 320, "SYSLOG_IDENTIFIER=cryocleand");
    return n;
}

static void spawn_command(cc_alert_sink *s, const cc_alert_event *ev, uint64_t now_ns)
{
    if (s->n_run >= s->c.max_running) {
        s->st.dropped++;
        return;
    }
    char a_ch[16], a_ratio[32], msg[256], e_vals[7][320];
    snprintf(a_ch, sizeof a_ch, "%u", ev->channel);
    snprintf(a_ratio, sizeof a_ratio, "%.3f", ev->ratio);
    cc_metrics_alert_line(ev, msg, sizeof msg);
    char *argv[] = {s->c.command,
                    a_ch,
                    (char *)cc_alert_state_name(ev->to),
                    (char *)cc_alert_state_name(ev->from),
                    (char *)cc_alert_cause_name(ev->cause),
                    a_ratio,
                    msg,
                    NULL};
    snprintf(e_vals[0], 320, "CRYOCLEAN_ALERT_CHANNEL=%s", a_ch);
    snprintf(e_vals[1], 320, "CRYOCLEAN_ALERT_STATE=%s", argv[2]);
    snprintf(e_vals[2], 320, "CRYOCLEAN_ALERT_FROM=%s", argv[3]);
    snprintf(e_vals[3], 320, "CRYOCLEAN_ALERT_CAUSE=%s", argv[4]);
    snprintf(e_vals[4], 320, "CRYOCLEAN_ALERT_RATIO=%s", a_ratio);
    snprintf(e_vals[5], 320, "CRYOCLEAN_ALERT_MESSAGE=%s", msg);
    snprintf(e_vals[6], 320, "CRYOCLEAN_ALERT_TIME_NS=%llu", (unsigned long long)ev->t_ns);
    size_t ne = 0;
    while (environ && environ[ne]) ne++;
    char **envp = malloc((ne + 8) * sizeof *envp);
    if (!envp) {
        s->st.spawn_failed++;
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "CRYOCLEAN_ALERT_", 16) != 0) envp[k++] = environ[i];
    for (int i = 0; i < 7; i++) envp[k++] = e_vals[i];
    envp[k] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, def;
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE), sigaddset(&def, SIGINT), sigaddset(&def, SIGTERM);
    sigaddset(&def, SIGHUP), sigaddset(&def, SIGCHLD);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &def);
    pid_t pid;
    int rc = posix_spawn(&pid, s->c.command, &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    free(envp);
    if (rc != 0) {
        s->st.spawn_failed++;
        return;
    }
    s->run[s->n_run++] = (child){.pid = pid, .start_ns = now_ns};
    s->st.spawned++;
}

void cc_alert_sink_deliver(cc_alert_sink *s, const cc_alert_event *ev, uint64_t now_ns)
{
    if (s->c.journal) {
        char f[8][320];
        struct iovec iov[8];
        size_t n = cc_alert_sink_journal_fields(ev, f, 8);
        for (size_t i = 0; i < n; i++) iov[i] = (struct iovec){f[i], strlen(f[i])};
        if (sd_journal_sendv(iov, (int)n) == 0) s->st.journaled++;
    }
    int involved = ev->to == CC_ALERT_ALARM || ev->from == CC_ALERT_ALARM ||
                   (s->c.warnings && (ev->to == CC_ALERT_WARNING || ev->from == CC_ALERT_WARNING));
    if (s->c.command[0] && involved) spawn_command(s, ev, now_ns);
}

int cc_alert_sink_poll(cc_alert_sink *s, uint64_t now_ns)
{
    uint64_t limit = (uint64_t)(s->c.timeout_s * 1e9);
    for (int i = 0; i < s->n_run;) {
        child *c = &s->run[i];
        int status;
        pid_t r = waitpid(c->pid, &status, WNOHANG);
        if (r == c->pid || (r < 0 && errno == ECHILD)) {
            if (r == c->pid && !c->killed && WIFEXITED(status) && WEXITSTATUS(status) == 0)
                s->st.exited_ok++;
            else if (!c->killed)
                s->st.exited_bad++;
            s->run[i] = s->run[--s->n_run];
            continue;
        }
        /* a clock reading older than the start is not a timeout (no unsigned wrap) */
        if (!c->killed && now_ns > c->start_ns && now_ns - c->start_ns >= limit) {
            kill(-c->pid, SIGKILL);
            c->killed = 1;
            s->st.timed_out++;
        }
        i++;
    }
    return s->n_run;
}

void cc_alert_sink_stats_get(const cc_alert_sink *s, cc_alert_sink_stats *out)
{
    *out = s->st;
}

void cc_alert_sink_free(cc_alert_sink **ps)
{
    cc_alert_sink *s = ps ? *ps : NULL;
    if (!s) return;
    for (int i = 0; i < s->n_run; i++) {
        kill(-s->run[i].pid, SIGKILL);
        waitpid(s->run[i].pid, NULL, 0);
    }
    free(s);
    *ps = NULL;
}
