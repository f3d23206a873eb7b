/* cmd_demo.c - `cryoclean demo`: the whole system on one screen.
 *
 * Starts cryocleand on its embedded default configuration (the same file as
 * conf/cryoclean.yaml), waits for its READY=1 over a private systemd notify
 * socket, starts `cryoclean replay` publishing live simulated records (every
 * artefact class) on the daemon's input endpoint, and prints the decisions
 * and rates as they flow. Ctrl-C or --duration ends it; both children are
 * stopped with SIGTERM so the daemon drains and prints its totals.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmds.h"
#include "watch.h"

#ifndef CC_CONF_DIR
#define CC_CONF_DIR "/usr/local/etc/cryoclean"
#endif
#ifndef CC_SBIN_DIR
#define CC_SBIN_DIR "/usr/local/sbin"
#endif

/* Finds a sibling of this executable in the build tree (../<rel>), else installed. */
static void locate(const char *rel, const char *installed, char *out, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        snprintf(out, len, "%s/../%s", dirname(self), rel);
        struct stat st;
        if (stat(out, &st) == 0) return;
    }
    snprintf(out, len, "%s", installed);
}

static pid_t spawn(char *const argv[], const char *notify)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (notify) setenv("NOTIFY_SOCKET", notify, 1);
        execv(argv[0], argv);
        fprintf(stderr, "cryoclean demo: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

static int wait_ready(int fd, pid_t daemon, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 100) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) > 0) {
            char buf[1024];
            ssize_t r = recv(fd, buf, sizeof buf - 1, 0);
            if (r > 0) {
                buf[r] = '\0';
                if (strstr(buf, "READY=1")) return 0;
            }
        }
        int st;
        if (waitpid(daemon, &st, WNOHANG) == daemon) return -1;
    }
    return -1;
}

static int stop(pid_t pid)
{
    if (pid <= 0) return -1;
    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int cmd_demo(int argc, char **argv)
{
    static const struct option opts[] = {{"duration", required_argument, 0, 't'},
                                         {"rate", required_argument, 0, 'r'},
                                         {"every", required_argument, 0, 'e'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    double duration = 0;
    const char *rate = "200";
    int every = 25, c;
    while ((c = getopt_long(argc, argv, "t:r:e:h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            duration = atof(optarg);
            break;
        case 'r':
            rate = optarg;
            break;
        case 'e':
            every = atoi(optarg);
            break;
        case 'h':
            printf("usage: cryoclean demo [--duration S] [--rate HZ] [--every N]\n\n"
                   "Starts cryocleand on its embedded default configuration, feeds it simulated\n"
                   "records at HZ (default 200/s) and prints every Nth decision (default 25) and\n"
                   "the rates each second, until Ctrl-C or S seconds. Uses the default loopback\n"
                   "ports 5555-5559.\n");
            return 0;
        default:
            return 2;
        }
    }
    char daemon[PATH_MAX], plugins[PATH_MAX], confdir[PATH_MAX], self[PATH_MAX];
    locate("daemon/cryocleand", CC_SBIN_DIR "/cryocleand", daemon, sizeof daemon);
    locate("plugins", CC_PLUGIN_DIR, plugins, sizeof plugins);
    locate("conf", CC_CONF_DIR, confdir, sizeof confdir);
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return fprintf(stderr, "cryoclean demo: cannot find myself\n"), 1;
    self[n] = '\0';

    char dir[] = "/tmp/cryoclean-demo.XXXXXX", sock[PATH_MAX];
    if (!mkdtemp(dir)) return fprintf(stderr, "cryoclean demo: mkdtemp: %s\n", strerror(errno)), 1;
    snprintf(sock, sizeof sock, "%s/notify", dir);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", sock);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a))
        return fprintf(stderr, "cryoclean demo: notify socket: %s\n", strerror(errno)), 1;

    printf("cryoclean demo: starting %s (embedded default config: the shipped CNN from %s/models,"
           " plugins from %s)\n",
           daemon, confdir, plugins);
    char *dargv[] = {daemon, "--plugin-dir", plugins, "--conf-dir", confdir, NULL};
    pid_t dpid = spawn(dargv, sock);
    int rc = 1;
    pid_t rpid = -1;
    if (wait_ready(fd, dpid, 20000)) {
        fprintf(stderr, "cryoclean demo: the daemon did not become ready (see its messages "
                        "above; are ports 5555-5559 free?)\n");
        goto out;
    }
    /* nobody reads the notify socket from here on: remove it, or the daemon's
     * STATUS= updates would fill its queue (10 datagrams) and block its main
     * thread after ~10 s */
    close(fd), fd = -1;
    unlink(sock);
    printf("cryoclean demo: daemon ready; publishing simulated records at %s/s on "
           "tcp://127.0.0.1:5555\n\n",
           rate);
    char *rargv[] = {self,     "replay", "--simulate", "--endpoint", "tcp://127.0.0.1:5555",
                     "--bind", "--pub",  "--rate",     (char *)rate, "--quiet",
                     NULL};
    rpid = spawn(rargv, NULL);
    cc_watch_opts o = {.decisions = "tcp://127.0.0.1:5556",
                       .monitor = "tcp://127.0.0.1:5558",
                       .duration_s = duration,
                       .every = every};
    rc = cc_watch_run(&o) < 0;
    printf("\ncryoclean demo: stopping (the daemon drains its queue and reports its totals)\n");
out:
    stop(rpid);
    if (stop(dpid) != 0) rc = 1;
    if (fd >= 0) close(fd), unlink(sock);
    rmdir(dir);
    return rc;
}
