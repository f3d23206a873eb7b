/* cmd_plot.c - `cryoclean plot KIND`: one of the paper's figures as a PNG.
 *
 * Two ways in:
 *   cryoclean plot sweep|ior|ios --in eval.json -o FILE.png
 *       draws from a report written by `cryoclean eval --json`;
 *   cryoclean plot KIND -o FILE.png EVAL-OPTIONS...
 *       runs `cryoclean eval EVAL-OPTIONS --quiet --figure KIND=FILE.png`,
 *       which every kind can use (spectrum, manifold and examples need the
 *       records, so they always go this way).
 * Drawing is lib/plot (PLplot, pngcairo).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_eval.h"
#include "cc_plot.h"
#include "cmds.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: cryoclean plot KIND -o FILE.png --in eval.json\n"
               "       cryoclean plot KIND -o FILE.png [cryoclean eval options]\n\n"
               "KIND:\n"
               "  sweep     precision-recall and BA versus cutoff (paper Fig. 4)\n"
               "  ior       recall versus SNR (Fig. 6)\n"
               "  ios       pile-up selectivity map (Fig. 6)\n"
               "  spectrum  pulse-height spectrum: all / model / labels (Fig. 8)\n"
               "  manifold  module events on two principal components (Fig. 7)\n"
               "  examples  a grid of example records with scores (Fig. 5)\n\n"
               "--in reads a report from `cryoclean eval --json` (sweep, ior, ios only);\n"
               "otherwise the remaining options go to `cryoclean eval`, e.g.\n"
               "  cryoclean plot manifold -o m.png --classifier cuts --simulate 2000\n");
}

int cmd_plot(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *kname = argv[1], *in = NULL, *out = NULL;
    int kind = cc_plot_kind_from_name(kname);
    if (kind < 0) {
        fprintf(stderr,
                "cryoclean plot: unknown figure '%s' (known: sweep, ior, ios, spectrum, "
                "manifold, examples)\n",
                kname);
        return 2;
    }
    /* Take -o/--out and --in; keep the rest for eval. */
    char **rest = calloc((size_t)argc + 8, sizeof *rest);
    if (!rest) return 1;
    int nr = 0;
    rest[nr++] = "eval";
    for (int i = 2; i < argc; i++) {
        if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--out")) && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--in") && i + 1 < argc)
            in = argv[++i];
        else
            rest[nr++] = argv[i];
    }
    int rc = 2;
    if (!out) {
        fprintf(stderr, "cryoclean plot %s: -o FILE.png is required\n", kname);
        goto done;
    }
    if (in) {
        if (nr > 1) {
            fprintf(stderr, "cryoclean plot %s: --in takes no eval options (found '%s')\n", kname,
                    rest[1]);
            goto done;
        }
        if (!cc_plot_kind_needs_report(kind)) {
            fprintf(stderr,
                    "cryoclean plot %s: needs the records, not a report; give eval "
                    "options instead of --in (e.g. --classifier cuts --simulate 2000)\n",
                    kname);
            goto done;
        }
        cc_err e = {""};
        cc_eval_report rep;
        rc = 1;
        if (cc_eval_read_json(in, &rep, &e) == 0) {
            if (cc_plot_draw(kind, &rep, NULL, rep.cutoff, out, &e) == 0) rc = 0;
            cc_eval_report_release(&rep);
        }
        if (rc)
            fprintf(stderr, "cryoclean plot %s: %s\n", kname, e.msg);
        else
            printf("wrote %s\n", out);
        goto done;
    }
    char fig[4096];
    snprintf(fig, sizeof fig, "%s=%s", kname, out);
    rest[nr++] = "--quiet";
    rest[nr++] = "--figure";
    rest[nr++] = fig;
    rest[nr] = NULL;
    if (!cmd_eval) {
        fprintf(stderr, "cryoclean plot %s: this build has no eval command\n", kname);
        goto done;
    }
    rc = cmd_eval(nr, rest);
    if (rc == 0) printf("wrote %s\n", out);
done:
    free(rest);
    return rc;
}
