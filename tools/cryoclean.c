/* cryoclean.c - the `cryoclean` command: simulate, replay, watch, evaluate.
 * Dispatches to the sub-commands in cmd_*.c (see cmds.h). */
#include <stdio.h>
#include <string.h>

#include "cmds.h"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} command;

int main(int argc, char **argv)
{
    const command cmds[] = {
        {"demo", cmd_demo, "run the daemon on a live simulated stream and show what it decides"},
        {"sim", cmd_sim, "simulate labelled records into an HDF5 file (Cait layout)"},
        {"replay", cmd_replay, "publish records from a file or live simulation over ZeroMQ"},
        {"watch", cmd_watch, "print the decisions (and monitors) a daemon publishes"},
        {"top", cmd_top, "live console of rates, artefact fractions and alerts"},
        {"alert", cmd_alert, "clear a latched alarm or relearn a channel's baseline"},
        {"import", cmd_import, "check a model card + weights and run its self-test"},
        {"classify", cmd_classify, "classify every record of an HDF5 file"},
        {"eval", cmd_eval, "evaluate a model on a labelled file"},
        {"train", cmd_train, "train a model from labelled HDF5 files"},
        {"sev", cmd_sev, "fit a simulator preset (pulse shapes, noise) to a recorded run"},
        {"plot", cmd_plot, "draw the paper's figures as PNG"},
    };
    const size_t n = sizeof cmds / sizeof cmds[0];
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("cryoclean %s\n", CC_VERSION);
        return 0;
    }
    if (argc >= 2)
        for (size_t i = 0; i < n; i++)
            if (cmds[i].fn && strcmp(argv[1], cmds[i].name) == 0)
                return cmds[i].fn(argc - 1, argv + 1);
    FILE *out = argc >= 2 && strcmp(argv[1], "help") && strcmp(argv[1], "--help") ? stderr : stdout;
    if (out == stderr) fprintf(stderr, "cryoclean: unknown command '%s'\n\n", argv[1]);
    fprintf(out, "usage: cryoclean COMMAND [OPTIONS]   (cryoclean COMMAND --help for details)\n\n");
    for (size_t i = 0; i < n; i++)
        if (cmds[i].fn) fprintf(out, "  %-9s %s\n", cmds[i].name, cmds[i].help);
    return out == stderr ? 2 : (argc >= 2 ? 0 : 2);
}
