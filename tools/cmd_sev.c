/* cmd_sev.c - `cryoclean sev`: from a recorded run to a simulator preset.
 *
 * Reads a Cait-layout group in chunks (cc_h5 reader), picks the clean
 * records (the file's labels, or the accept decisions `cryoclean classify`
 * stored), and per channel builds the standard event of the pulses with
 * SNR >= --min-snr: baseline = the first n/8 samples; height = peak of the
 * 16-sample moving average minus the baseline mean, the peak after the
 * trigger and in the first half of the window; each pulse is baseline
 * subtracted, divided by its height and shifted by whole samples so that
 * its 50 % rise crossing (on the moving average) sits where the first
 * pulse's did. Three passes: the mean of all such pulses; each pulse's RMS
 * deviation from it in units of its baseline noise; the standard event =
 * the mean of the 70 % closest pulses (what the selection let through -
 * pile-up, tails, saturated tops - stays out). The noise level rms_v is the
 * median whole-window standard deviation, cubic drift removed, of the clean
 * records without a pulse (SNR < 3), or, with fewer than 20 of those, of
 * the baselines. The simulator's own pulse model is fitted to the standard
 * event (cc_sim_shape_fit) and the result written as a sim-det YAML that
 * `cryoclean sim -c` loads (docs/SIMULATOR.md).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_h5.h"
#include "cc_sev.h"
#include "cc_sim.h"
#include "cmds.h"
#include "progress.h"

#define NOISE_SNR 3   /* a clean record below this SNR is a pulse-free baseline */
#define CHI_KEEP  0.7 /* the standard event keeps the 70 % of pulses closest to the first mean */
#define MIN_PULSE 20  /* pulses per channel needed */

static void usage(FILE *f)
{
    fprintf(f, "usage: cryoclean sev FILE.h5 (--labels | --scores) -o DET.yaml [options]\n"
               "Builds the standard event of every channel from the clean pulses of a recorded\n"
               "run, fits the simulator's pulse model to it and writes a simulator preset\n"
               "(sim-det YAML: samples, fs_hz, channels with kind, rms_v, shape) that\n"
               "`cryoclean sim -c DET.yaml` loads (docs/SIMULATOR.md) and the nn plugin takes\n"
               "as `standard_events:` for cnn-sev-default (docs/NN.md).\n\n"
               "  --labels              clean = the file's labels event, test pulse or noise\n"
               "                        (simulated files)\n"
               "  --scores              clean = <group>/cryoclean/accept of `cryoclean classify`\n"
               "  -o, --output FILE     YAML to write (overwritten)\n"
               "  -g, --group NAME      group of the records (default events)\n"
               "      --kind ID:KIND    kind of channel ID: phonon, light or veto (repeatable;\n"
               "                        default channel 0 phonon, the others light)\n"
               "      --min-snr X       pulses used: height / baseline RMS >= X (default 20)\n"
               "      --fs HZ           sample rate when the file does not say (default 25000)\n"
               "  -q, --quiet           no progress bar\n"
               "  -h, --help            this help\n");
}

/* per-channel accumulators */
typedef struct chacc {
    double *sum;     /* [ns] sum of the aligned, normalised pulses */
    uint32_t *cnt;   /* [ns] pulses contributing to each sample */
    long long align; /* 50 % crossing index of the first pulse, -1 before */
    uint64_t used, clean;
    double *rms;  /* [clean] detrended baseline standard deviations */
    double *nrms; /* [n_noise] whole-window standard deviations of pulse-free records */
    uint64_t n_noise;
    double *chi;            /* [n_cand] residual of each candidate pulse from the first mean, in
                               units of its baseline noise (pass 2) */
    uint64_t n_cand, n_chi; /* candidates seen in this pass, in pass 2 */
    float *sev0;            /* [ns] mean of all candidates (pass 1) */
    double chi_max;         /* pass 3 averages the candidates up to this residual */
} chacc;

/* standard deviation of x[0..n) around its least-squares polynomial of
 * degree deg (1..3: a line for a short baseline, a cubic - the simulator's
 * drift - over a whole window); normal equations on t in [-1, 1] */
static double detrended_std(const float *x, uint32_t n, int deg)
{
    enum { M = 4 };
    const int k1 = deg + 1;
    double m[M][M + 1] = {{0}};
    for (uint32_t i = 0; i < n; i++) {
        double t = n > 1 ? 2.0 * i / (n - 1) - 1 : 0, p = 1, pw[M];
        for (int r = 0; r < k1; r++) pw[r] = p, p *= t;
        for (int r = 0; r < k1; r++) {
            for (int c = 0; c < k1; c++) m[r][c] += pw[r] * pw[c];
            m[r][M] += pw[r] * x[i];
        }
    }
    for (int k = 0; k < k1; k++) /* Gauss-Jordan; the normal matrix is positive definite */
        for (int r = 0; r < k1; r++) {
            if (r == k || !(m[k][k] != 0)) continue;
            double f = m[r][k] / m[k][k];
            for (int c = k; c <= M; c++) m[r][c] -= f * m[k][c];
        }
    double b[M] = {0}, ss = 0;
    for (int k = 0; k < k1; k++) b[k] = m[k][k] != 0 ? m[k][M] / m[k][k] : 0;
    for (uint32_t i = 0; i < n; i++) {
        double t = n > 1 ? 2.0 * i / (n - 1) - 1 : 0, y = 0;
        for (int k = k1 - 1; k >= 0; k--) y = y * t + b[k];
        ss += (x[i] - y) * (x[i] - y);
    }
    return sqrt(ss / n);
}

/* Three passes over clean record x. Pass 0: its noise statistics, and if
 * it holds a pulse that passes the SNR and position cuts, that pulse -
 * baseline subtracted, divided by its height and shifted so that its 50 %
 * rise crossing sits where the first pulse's did - into the mean. Pass 1:
 * the pulse's RMS deviation from that mean in units of its baseline noise
 * (1 for a clean pulse of the mean's shape, more for pile-up, tails or
 * saturation the selection let through). Pass 2: the pulse into the final
 * mean if that deviation is at most a->chi_max. ma is scratch [ns]. */
static void add_record(chacc *a, int pass, const float *x, uint32_t ns, uint32_t trig,
                       double min_snr, double *ma)
{
    cc_sev_pulse p;
    const int use = cc_sev_find_pulse(x, ns, trig, min_snr, ma, &p);
    const double m = p.base, sd = p.sd, ph = p.ph;
    if (!pass) a->rms[a->clean++] = detrended_std(x, ns / 8, 1);
    if (!pass && sd > 0 && ph / sd < NOISE_SNR) a->nrms[a->n_noise++] = detrended_std(x, ns, 3);
    if (!use) return;
    const uint32_t c = p.cross;
    if (a->align < 0) a->align = c;
    long long shift = a->align - (long long)c;
    if (pass == 1) {
        double ss = 0;
        uint32_t n = 0;
        for (uint32_t i = 0; i < ns; i++) {
            long long j = (long long)i + shift;
            if (j < 0 || j >= (long long)ns) continue;
            double r = (x[i] - m) / ph - a->sev0[j];
            ss += r * r, n++;
        }
        a->chi[a->n_cand++] = n ? sqrt(ss / n) * ph / sd : INFINITY;
        return;
    }
    if (pass == 2) {
        if (a->n_cand >= a->n_chi || !(a->chi[a->n_cand++] <= a->chi_max)) return;
    }
    for (uint32_t i = 0; i < ns; i++) {
        long long j = (long long)i + shift;
        if (j < 0 || j >= (long long)ns) continue;
        a->sum[j] += (x[i] - m) / ph;
        a->cnt[j]++;
    }
    a->used++;
}

static int cmp_double(const void *p, const void *q)
{
    double a = *(const double *)p, b = *(const double *)q;
    return (a > b) - (a < b);
}

/* median of v[0..n), n > 0 (sorts v) */
static double median(double *v, uint64_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* a file name fit for a YAML comment line */
static void clean_name(const char *in, char *out, size_t len)
{
    size_t k = 0;
    for (; in[k] && k + 1 < len; k++) out[k] = (unsigned char)in[k] < 32 ? '?' : in[k];
    out[k] = 0;
}

int cmd_sev(int argc, char **argv)
{
    static const struct option opts[] = {{"output", 1, 0, 'o'}, {"group", 1, 0, 'g'},
                                         {"labels", 0, 0, 'L'}, {"scores", 0, 0, 'S'},
                                         {"kind", 1, 0, 'K'},   {"min-snr", 1, 0, 'm'},
                                         {"fs", 1, 0, 'f'},     {"quiet", 0, 0, 'q'},
                                         {"help", 0, 0, 'h'},   {0, 0, 0, 0}};
    const char *out = NULL, *group = "events";
    double min_snr = 20, fs_opt = 0;
    int labels = 0, scores = 0, quiet = 0, nkind = 0, c;
    struct {
        long id;
        int kind;
    } kinds[16];
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:g:qh", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'g':
            group = optarg;
            break;
        case 'L':
            labels = 1;
            break;
        case 'S':
            scores = 1;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'm':
            min_snr = strtod(optarg, &end);
            if (*end || !(min_snr > 0 && min_snr < 1e9)) {
                fprintf(stderr, "cryoclean sev: --min-snr: expected a number > 0, found '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'f':
            fs_opt = strtod(optarg, &end);
            if (*end || !(fs_opt >= 100 && fs_opt <= 1e8)) {
                fprintf(stderr, "cryoclean sev: --fs: expected 100..1e8 Hz, found '%s'\n", optarg);
                return 2;
            }
            break;
        case 'K': {
            const char *colon = strchr(optarg, ':');
            long id = strtol(optarg, &end, 10);
            int k = colon ? cc_sim_kind_from_name(colon + 1) : -1;
            if (end != colon || end == optarg || id < 0 || id > 65535 || k < 0 || nkind == 16) {
                fprintf(stderr,
                        "cryoclean sev: --kind: expected ID:KIND with KIND phonon, light or "
                        "veto (at most 16), found '%s'\n",
                        optarg);
                return 2;
            }
            kinds[nkind].id = id, kinds[nkind++].kind = k;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1 || !out || labels + scores != 1) {
        fprintf(stderr, "cryoclean sev: %s\n",
                optind != argc - 1 ? "expected one FILE.h5"
                : !out             ? "-o DET.yaml is required"
                                   : "exactly one of --labels and --scores is required");
        usage(stderr);
        return 2;
    }
    const char *file = argv[optind];
    cc_err e = {{0}};
    int rc = 1;
    float *acc = NULL, *sev = NULL;
    double *ma = NULL;
    chacc ch[CC_SIM_MAX_CH];
    memset(ch, 0, sizeof ch);
    cc_h5_batch b = {0};
    cc_h5_reader *rd = cc_h5_reader_open(file, group, &e);
    if (!rd) goto out;
    const cc_h5_info in = *cc_h5_reader_info(rd);
    uint32_t nch = in.n_channels, ns = in.n_samples, trig = in.trigger_index;
    uint64_t nev = in.n_events;
    if (nch > CC_SIM_MAX_CH || ns < 256 || ns > (1u << 22) || ns % 16) {
        cc_err_set(&e,
                   "%s: %s/event: the simulator models 1..%d channels of a multiple of 16 "
                   "in [256, 4194304] samples, found %u channels x %u samples",
                   file, group, CC_SIM_MAX_CH, nch, ns);
        goto out;
    }
    for (int k = 0; k < nkind; k++) {
        uint32_t j = 0;
        while (j < nch && in.channel_ids[j] != (uint32_t)kinds[k].id) j++;
        if (j == nch) {
            cc_err_set(&e, "%s: --kind %ld: no channel with that id in %s", file, kinds[k].id,
                       group);
            goto out;
        }
    }
    if (labels && !(in.fields & CC_H5_LABELS)) {
        cc_err_set(&e,
                   "%s: %s/labels: missing (--labels needs a labelled file, e.g. from "
                   "cryoclean sim; use --scores after cryoclean classify)",
                   file, group);
        goto out;
    }
    if (scores) {
        if (!(acc = malloc(sizeof *acc * nch * (size_t)nev))) {
            cc_err_set(&e, "out of memory");
            goto out;
        }
        if (cc_h5_reader_get_2d(rd, "cryoclean/accept", acc, &e)) {
            char msg[sizeof e.msg];
            snprintf(msg, sizeof msg, "%s", e.msg);
            cc_err_set(&e, "%s; --scores needs the results of cryoclean classify", msg);
            goto out;
        }
    }
    uint32_t chunk = (uint32_t)((16u << 20) / (sizeof(float) * nch * ns));
    if (chunk < 1) chunk = 1;
    if (chunk > nev) chunk = nev ? (uint32_t)nev : 1;
    b.event = malloc(sizeof(float) * nch * chunk * ns);
    b.labels = labels ? malloc(sizeof(int32_t) * nch * chunk) : NULL;
    ma = malloc(sizeof *ma * ns);
    sev = malloc(sizeof *sev * ns);
    int ok = b.event && (!labels || b.labels) && ma && sev;
    for (uint32_t k = 0; ok && k < nch; k++) {
        ch[k].sum = calloc(ns, sizeof *ch[k].sum);
        ch[k].cnt = calloc(ns, sizeof *ch[k].cnt);
        ch[k].rms = malloc(sizeof *ch[k].rms * (nev ? nev : 1));
        ch[k].nrms = malloc(sizeof *ch[k].nrms * (nev ? nev : 1));
        ch[k].chi = malloc(sizeof *ch[k].chi * (nev ? nev : 1));
        ch[k].sev0 = malloc(sizeof *ch[k].sev0 * ns);
        ch[k].align = -1;
        ok = ch[k].sum && ch[k].cnt && ch[k].rms && ch[k].nrms && ch[k].chi && ch[k].sev0;
    }
    if (!ok) {
        cc_err_set(&e, "out of memory");
        goto out;
    }
    cc_progress p;
    if (!quiet) cc_progress_start(&p, "sev", 3 * nev, "ev");
    for (int pass = 0; pass < 3; pass++) {
        for (uint32_t k = 0; pass == 1 && k < nch; k++) { /* the first mean */
            chacc *a = &ch[k];
            for (uint32_t i = 0; i < ns; i++)
                a->sev0[i] = a->cnt[i] ? (float)(a->sum[i] / a->cnt[i]) : 0;
            memset(a->sum, 0, ns * sizeof *a->sum), memset(a->cnt, 0, ns * sizeof *a->cnt);
            a->used = 0;
        }
        for (uint32_t k = 0; pass == 2 && k < nch; k++) { /* keep the CHI_KEEP best */
            chacc *a = &ch[k];
            double *srt = malloc(sizeof *srt * (a->n_cand ? a->n_cand : 1));
            if (!srt) {
                cc_err_set(&e, "out of memory");
                goto out;
            }
            memcpy(srt, a->chi, sizeof *srt * a->n_cand);
            qsort(srt, a->n_cand, sizeof *srt, cmp_double);
            a->chi_max = a->n_cand ? srt[(size_t)(CHI_KEEP * (double)(a->n_cand - 1))] : 0;
            free(srt);
            a->n_chi = a->n_cand, a->n_cand = 0;
        }
        for (uint64_t first = 0; first < nev; first += b.k) {
            b.k = nev - first < chunk ? (uint32_t)(nev - first) : chunk;
            if (cc_h5_reader_read(rd, first, &b, &e)) goto out;
            for (uint32_t k = 0; k < nch; k++)
                for (uint32_t i = 0; i < b.k; i++) {
                    size_t j = (size_t)k * b.k + i;
                    int clean = labels ? b.labels[j] == CC_SIM_EVENT ||
                                             b.labels[j] == CC_SIM_TESTPULSE ||
                                             b.labels[j] == CC_SIM_NOISE
                                       : acc[(size_t)k * nev + first + i] >= 0.5f;
                    if (clean) add_record(&ch[k], pass, b.event + j * ns, ns, trig, min_snr, ma);
                }
            if (!quiet) cc_progress_update(&p, pass * nev + first + b.k);
        }
    }
    if (!quiet) cc_progress_finish(&p);
    double fs = in.fs_hz > 0 ? in.fs_hz : fs_opt > 0 ? fs_opt : 25000.0;
    if (in.fs_hz > 0 && fs_opt > 0 && fs_opt != in.fs_hz)
        fprintf(stderr, "cryoclean sev: %s: the file's sample rate %g Hz wins over --fs %g\n", file,
                in.fs_hz, fs_opt);
    cc_sim_shape_fitres fit[CC_SIM_MAX_CH];
    double rms_v[CC_SIM_MAX_CH];
    int from_noise[CC_SIM_MAX_CH] = {0};
    int kind[CC_SIM_MAX_CH];
    for (uint32_t k = 0; k < nch; k++) {
        chacc *a = &ch[k];
        if (a->used < MIN_PULSE) {
            cc_err_set(&e,
                       "%s: channel %u: %llu pulses with SNR >= %g among %llu clean records, "
                       "need %d",
                       file, in.channel_ids[k], (unsigned long long)a->used, min_snr,
                       (unsigned long long)a->clean, MIN_PULSE);
            goto out;
        }
        for (uint32_t i = 0; i < ns; i++) sev[i] = a->cnt[i] ? (float)(a->sum[i] / a->cnt[i]) : 0;
        if (cc_sim_shape_fit(sev, ns, fs, &fit[k], &e)) {
            cc_err_prefix(&e, "%s: channel %u", file, in.channel_ids[k]);
            goto out;
        }
        /* the simulator's rms_v is the noise RMS over the whole window: from
         * pulse-free clean records when there are enough, else (lower by the
         * slow noise a short baseline cannot hold) from the pre-trigger baselines */
        rms_v[k] = a->n_noise >= MIN_PULSE ? median(a->nrms, a->n_noise) : median(a->rms, a->clean);
        from_noise[k] = a->n_noise >= MIN_PULSE;
        kind[k] = k ? CC_SIM_LIGHT : CC_SIM_PHONON;
        for (int j = 0; j < nkind; j++)
            if ((uint32_t)kinds[j].id == in.channel_ids[k]) kind[k] = kinds[j].kind;
    }
    FILE *f = fopen(out, "w");
    if (!f) {
        cc_err_set(&e, "%s: cannot create", out);
        goto out;
    }
    char fname[512];
    clean_name(file, fname, sizeof fname);
    fprintf(f, "# Fitted by `cryoclean sev` from %s (group %s, %s, SNR >= %g):\n", fname, group,
            labels ? "--labels" : "--scores", min_snr);
    for (uint32_t k = 0; k < nch; k++)
        fprintf(f,
                "#   channel %u: %llu pulses of %llu clean records, residual RMS %.3g of the peak; "
                "rms_v from %s\n",
                in.channel_ids[k], (unsigned long long)ch[k].used, (unsigned long long)ch[k].clean,
                fit[k].rms / fit[k].peak,
                from_noise[k] ? "pulse-free records (whole window, cubic drift removed)"
                              : "pre-trigger baselines (too few pulse-free records; reads low)");
    fprintf(f, "sim:\n  samples: %u\n  fs_hz: %.10g\n  channels:\n", ns, fs);
    for (uint32_t k = 0; k < nch; k++) {
        const cc_sim_shape *s = &fit[k].shape;
        int dup = 0;
        for (uint32_t j = 0; j < nch; j++) dup += kind[j] == kind[k];
        char name[24];
        snprintf(name, sizeof name, dup > 1 ? "%s%u" : "%s", cc_sim_kind_name(kind[k]),
                 in.channel_ids[k]);
        fprintf(f,
                "    - {name: %s, id: %u, kind: %s, rms_v: %.4g, shape: {an: %.6g, at: %.6g, "
                "tau_n: %.6g, tau_in: %.6g, tau_t: %.6g}}\n",
                name, in.channel_ids[k], cc_sim_kind_name(kind[k]), rms_v[k], s->an, s->at,
                s->tau_n, s->tau_in, s->tau_t);
    }
    if (fclose(f)) {
        cc_err_set(&e, "%s: write failed", out);
        goto out;
    }
    cc_sim_config check;
    if (cc_sim_config_load(out, &check, &e)) {
        cc_err_prefix(&e, "%s: the preset written does not load", out);
        goto out;
    }
    printf("%s: %llu events, %u channels x %u samples at %g Hz -> %s\n", file,
           (unsigned long long)nev, nch, ns, fs, out);
    printf("  channel  kind    pulses   clean     rms_v       an       at    tau_n   tau_in    "
           "tau_t  residual\n");
    for (uint32_t k = 0; k < nch; k++) {
        const cc_sim_shape *s = &fit[k].shape;
        printf("  %7u  %-6s  %6llu  %6llu  %8.3g  %7.4g  %7.4g  %7.4g  %7.4g  %7.4g  %8.2e\n",
               in.channel_ids[k], cc_sim_kind_name(kind[k]), (unsigned long long)ch[k].used,
               (unsigned long long)ch[k].clean, rms_v[k], s->an, s->at, s->tau_n, s->tau_in,
               s->tau_t, fit[k].rms / fit[k].peak);
    }
    rc = 0;
out:
    if (rc) fprintf(stderr, "cryoclean sev: %s\n", e.msg[0] ? e.msg : "failed");
    cc_h5_reader_close(&rd);
    for (uint32_t k = 0; k < CC_SIM_MAX_CH; k++)
        free(ch[k].sum), free(ch[k].cnt), free(ch[k].rms), free(ch[k].nrms), free(ch[k].chi),
            free(ch[k].sev0);
    free(b.event), free(b.labels), free(acc), free(ma), free(sev);
    return rc;
}
