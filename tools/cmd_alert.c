/* cmd_alert.c - `cryoclean alert`: the shift crew's hand on the alarms.
 *
 *   cryoclean alert clear CHANNEL|all [--endpoint EP]
 *   cryoclean alert relearn CHANNEL [--endpoint EP]
 *
 * Sends the command to the daemon's control endpoint (outputs.control, a REP
 * socket, tcp://127.0.0.1:5559 by default) and prints its one-line answer.
 * A latched ALARM stays until cleared here (or by auto_clear_bins); relearn
 * makes a channel learn a new baseline after the crew accepted a new level.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cmds.h"

int cmd_alert(int argc, char **argv)
{
    static const struct option opts[] = {{"endpoint", required_argument, 0, 'e'},
                                         {"timeout", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *ep = "tcp://127.0.0.1:5559";
    int timeout_ms = 5000, c;
    while ((c = getopt_long(argc, argv, "e:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'e':
            ep = optarg;
            break;
        case 't':
            timeout_ms = (int)(1000 * atof(optarg));
            break;
        case 'h':
            printf("usage: cryoclean alert clear CHANNEL|all [--endpoint EP] [--timeout S]\n"
                   "       cryoclean alert relearn CHANNEL [--endpoint EP]\n\n"
                   "Clears latched ALARMs or makes a channel learn its baseline again, through\n"
                   "the daemon's control endpoint (default tcp://127.0.0.1:5559).\n");
            return 0;
        default:
            return 2;
        }
    }
    if (argc - optind != 2 || (strcmp(argv[optind], "clear") && strcmp(argv[optind], "relearn"))) {
        fprintf(stderr, "cryoclean alert: expected 'clear CHANNEL|all' or 'relearn CHANNEL' "
                        "(see --help)\n");
        return 2;
    }
    char req[128];
    snprintf(req, sizeof req, "%s %s", argv[optind], argv[optind + 1]);
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_REQ);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    int rc = 1;
    char reply[256];
    if (zmq_connect(s, ep) || zmq_send(s, req, strlen(req), 0) < 0) {
        fprintf(stderr, "cryoclean alert: %s: %s\n", ep, zmq_strerror(zmq_errno()));
    } else {
        int n = zmq_recv(s, reply, sizeof reply - 1, 0);
        if (n < 0) {
            fprintf(stderr,
                    "cryoclean alert: no answer from %s within %d ms (is outputs.control "
                    "configured?)\n",
                    ep, timeout_ms);
        } else {
            reply[n < (int)sizeof reply - 1 ? n : (int)sizeof reply - 1] = '\0';
            printf("%s\n", reply);
            rc = strncmp(reply, "ok", 2) != 0;
        }
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
    return rc;
}
