/* cmd_eval.c - `cryoclean eval`: how good is a classifier, in the paper's terms.
 *
 * Loads a classifier plugin by name (as the daemon does), runs labelled
 * records through it in batches (lib/eval: cc_eval_run) and prints recall,
 * selectivity, BA and precision at the cutoff, the sweep over cutoffs and the
 * confusion by artefact class; --ior / --ios generate the paper's section
 * 4.2 scans with the simulator and a fixed seed. --json writes the report,
 * --plots DIR the figures (lib/plot).
 */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cc_eval.h"
#include "cc_plot.h"
#include "cc_registry.h"
#include "cc_sim.h"
#include "cc_yaml.h"
#include "classifier_arg.h"
#include "cmds.h"
#include "progress.h"

typedef struct eval_opts {
    const char *classifier, *config, *plugin_dir, *data, *group, *json, *plots, *sim;
    double cutoff; /* NaN = the classifier's default */
    long simulate, ior, ios;
    uint64_t seed;
    size_t batch;
    int quiet;
    int nfig;
    const char *fig[8]; /* --figure KIND=FILE.png */
} eval_opts;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cryoclean eval --classifier NAME [options] (--simulate N | --ior | --ios | "
            "--data FILE.h5)\n\n"
            "  --classifier NAME   plugin to load (cuts, nn, ...); also its name in the report\n"
            "  --config FILE.yaml  the plugin's configuration block (a YAML mapping)\n"
            "  --plugin-dir DIR    where NAME.so lives (default: the build's plugins/ next to\n"
            "                      this binary, else %s)\n"
            "  --simulate N        evaluate on N simulated module-event records of all classes\n"
            "  --ior[=N]           recall versus SNR 3..300 on N simulated clean pulses (3000)\n"
            "  --ios[=N]           selectivity of N simulated two-pulse pile-ups (4000)\n"
            "  --sim FILE.yaml     simulator configuration (default: the built-in module)\n"
            "  --seed S            simulator seed (default 1)\n"
            "  --data FILE.h5      evaluate on the labelled records of a Cait-layout file\n"
            "  --group NAME        group of --data (default events)\n"
            "  --cutoff C          accept when score >= C (default: the classifier's)\n"
            "  --batch B           records per classify() call (default 64, as the daemon)\n"
            "  --json FILE         write the report as JSON ('-' = stdout)\n"
            "  --plots DIR         write every figure the run allows as DIR/<kind>.png\n"
            "  --figure KIND=FILE  write one figure (sweep, ior, ios, spectrum, manifold,\n"
            "                      examples) to FILE.png; repeatable\n"
            "  --quiet             no table, no progress bar\n",
            CC_PLUGIN_DIR);
}

static void on_progress(void *ctx, size_t done)
{
    if (ctx) cc_progress_update(ctx, done);
}

/* Runs one source through the classifier into set, with a progress bar. */
static int run_source(const eval_opts *o, const cc_classifier *cl, cc_eval_source *src,
                      const char *label, long n, cc_eval_set *set, size_t *skipped, cc_err *e)
{
    cc_progress p;
    if (!o->quiet) cc_progress_start(&p, label, (uint64_t)n, "rec");
    long got = cc_eval_run(cl, src, (size_t)n, o->batch, set, on_progress, o->quiet ? NULL : &p, e);
    if (!o->quiet) cc_progress_finish(&p);
    if (skipped) *skipped = cc_eval_source_skipped(src);
    cc_eval_source_free(src);
    return got < 0 ? -1 : 0;
}

static int evaluate(const eval_opts *o, const cc_classifier *cl, cc_eval_report *rep,
                    cc_eval_set *mix, cc_err *e)
{
    cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    if (o->sim && cc_sim_config_load(o->sim, &cfg, e)) return -1;
    cc_eval_source src;
    if (o->data) {
        if (cc_eval_source_h5(&src, o->data, o->group, e)) return -1;
        size_t skipped = 0;
        int rc = run_source(o, cl, &src, "eval", (long)src.total, mix, &skipped, e);
        if (rc) return -1;
        if (skipped)
            fprintf(stderr, "cryoclean eval: %s: skipped %zu records without a known label\n",
                    o->data, skipped);
        cc_eval_report_labels(rep, mix->score, mix->label, mix->class_id, mix->n);
    }
    if (o->simulate > 0) {
        cc_progress p;
        if (!o->quiet) cc_progress_start(&p, "simulate", (uint64_t)o->simulate, "rec");
        int rc = cc_eval_mix(cl, &cfg, o->seed, (size_t)o->simulate, o->batch, mix, rep,
                             on_progress, o->quiet ? NULL : &p, e);
        if (!o->quiet) cc_progress_finish(&p);
        if (rc) return -1;
    }
    if (o->ior > 0) {
        cc_eval_set s = {0};
        int rc = cc_eval_source_ior(&src, &cfg, o->seed + 1000, 3.0, 300.0, e) ||
                 run_source(o, cl, &src, "IOR", o->ior, &s, NULL, e) ||
                 cc_eval_report_ior(rep, &s, 3.0, 300.0, 30, e);
        cc_eval_set_release(&s);
        if (rc) return -1;
    }
    if (o->ios > 0) {
        cc_eval_set s = {0};
        double half = 0.5e3 * cfg.n_samples / cfg.fs_hz; /* ms: up to 3/4 of the window */
        int rc =
            cc_eval_source_ios(&src, &cfg, o->seed + 2000, 20.0, 200.0, 0.0, half, 0.1, 1.0, e) ||
            run_source(o, cl, &src, "IOS", o->ios, &s, NULL, e) ||
            cc_eval_report_ios(rep, &s, 16, 0.0, half, 9, 0.1, 1.0, e);
        cc_eval_set_release(&s);
        if (rc) return -1;
    }
    return 0;
}

static int write_json(const char *path, const cc_eval_report *rep, cc_err *e)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "w") : stdout;
    if (!f) return cc_err_set(e, "%s: cannot open for writing: %m", path);
    int rc = cc_eval_write_json(rep, f, e);
    if (f != stdout && fclose(f) && !rc) rc = cc_err_set(e, "%s: write failed: %m", path);
    return rc ? cc_err_prefix(e, "%s", path) : 0;
}

static int parse(int argc, char **argv, eval_opts *o)
{
    static const struct option opts[] = {
        {"classifier", required_argument, 0, 'c'}, {"config", required_argument, 0, 'C'},
        {"plugin-dir", required_argument, 0, 'P'}, {"data", required_argument, 0, 'd'},
        {"simulate", required_argument, 0, 'n'},   {"ior", optional_argument, 0, 'R'},
        {"ios", optional_argument, 0, 'S'},        {"sim", required_argument, 0, 's'},
        {"seed", required_argument, 0, 'z'},       {"cutoff", required_argument, 0, 'u'},
        {"batch", required_argument, 0, 'b'},      {"json", required_argument, 0, 'j'},
        {"plots", required_argument, 0, 'p'},      {"quiet", no_argument, 0, 'q'},
        {"figure", required_argument, 0, 'f'},     {"help", no_argument, 0, 'h'},
        {"group", required_argument, 0, 'g'},      {0, 0, 0, 0}};
    int c;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:C:P:d:g:n:s:z:u:b:j:p:f:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->classifier = optarg;
            break;
        case 'C':
            o->config = optarg;
            break;
        case 'P':
            o->plugin_dir = optarg;
            break;
        case 'd':
            o->data = optarg;
            break;
        case 'g':
            o->group = optarg;
            break;
        case 'n':
            o->simulate = atol(optarg);
            break;
        case 'R':
            o->ior = optarg ? atol(optarg) : 3000;
            break;
        case 'S':
            o->ios = optarg ? atol(optarg) : 4000;
            break;
        case 's':
            o->sim = optarg;
            break;
        case 'z':
            o->seed = strtoull(optarg, NULL, 0);
            break;
        case 'u':
            o->cutoff = atof(optarg);
            break;
        case 'b':
            o->batch = (size_t)strtoul(optarg, &end, 10);
            if (*end || optarg[0] == '-' || o->batch == 0 || o->batch > 65536) {
                fprintf(stderr, "cryoclean eval: --batch: expected 1..65536, found '%s'\n", optarg);
                return 2;
            }
            break;
        case 'j':
            o->json = optarg;
            break;
        case 'p':
            o->plots = optarg;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'f':
            if (o->nfig == 8 || !strchr(optarg, '=') ||
                cc_plot_kind_from_name(strndupa(optarg, strcspn(optarg, "="))) < 0) {
                fprintf(stderr,
                        "cryoclean eval: --figure %s: expected KIND=FILE.png with KIND "
                        "one of sweep, ior, ios, spectrum, manifold, examples (at most "
                        "8)\n",
                        optarg);
                return 2;
            }
            o->fig[o->nfig++] = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!o->classifier) {
        fprintf(stderr, "cryoclean eval: --classifier is required\n\n");
        usage(stderr);
        return 2;
    }
    if (o->data && o->simulate > 0) {
        fprintf(stderr, "cryoclean eval: give --data or --simulate, not both\n");
        return 2;
    }
    if (!o->data && o->simulate <= 0 && o->ior <= 0 && o->ios <= 0) {
        fprintf(stderr, "cryoclean eval: nothing to evaluate: give --simulate N, --ior, --ios "
                        "or --data FILE\n");
        return 2;
    }
    if (!isnan(o->cutoff) && !(o->cutoff >= 0 && o->cutoff <= 1)) {
        fprintf(stderr, "cryoclean eval: --cutoff: expected a value in [0, 1], found %g\n",
                o->cutoff);
        return 2;
    }
    return -1;
}

int cmd_eval(int argc, char **argv)
{
    eval_opts o = {.cutoff = NAN, .seed = 1, .batch = 64, .group = "events"};
    int st = parse(argc, argv, &o);
    if (st >= 0) return st;
    char pdir[PATH_MAX];
    if (!o.plugin_dir) cc_tool_plugin_dir(pdir, sizeof pdir), o.plugin_dir = pdir;

    cc_err e = {""};
    cc_registry *reg = cc_registry_new(o.plugin_dir);
    cc_classifier cl = {0};
    cc_eval_report rep;
    cc_eval_set mix = {0};
    char source[256];
    int rc = 1;
    memset(&rep, 0, sizeof rep);
    if (!reg || cc_tool_classifier(reg, o.classifier, o.config, &cl, &e)) goto out;
    if (isnan(o.cutoff)) o.cutoff = cl.info.default_cutoff;
    if (o.data)
        snprintf(source, sizeof source, "%s (%s)", o.data, o.group);
    else
        snprintf(source, sizeof source, "simulated (seed %llu)", (unsigned long long)o.seed);
    cc_eval_report_init(&rep, cl.name, cl.info.model, source, o.cutoff);
    if (evaluate(&o, &cl, &rep, &mix, &e)) goto out;
    if (!o.quiet) cc_eval_print_table(&rep, stdout);
    if (o.json && write_json(o.json, &rep, &e)) goto out;
    if (o.plots &&
        cc_plot_all(&rep, mix.n ? &mix : NULL, o.cutoff, o.plots, o.quiet ? NULL : stdout, &e) < 0)
        goto out;
    for (int i = 0; i < o.nfig; i++) {
        const char *eq = strchr(o.fig[i], '=');
        int k = cc_plot_kind_from_name(strndupa(o.fig[i], (size_t)(eq - o.fig[i])));
        if (cc_plot_draw(k, &rep, &mix, o.cutoff, eq + 1, &e)) goto out;
        if (!o.quiet) printf("wrote %s\n", eq + 1);
    }
    rc = 0;
out:
    if (rc) fprintf(stderr, "cryoclean eval: %s\n", reg ? e.msg : "out of memory");
    cc_eval_set_release(&mix);
    cc_eval_report_release(&rep);
    cc_classifier_destroy(&cl);
    cc_registry_free(&reg);
    return rc;
}
