/* cmd_sim.c - `cryoclean sim`: simulate labelled records into an HDF5 file
 * in Cait's layout (lib/io/cc_h5.h), with a progress bar.
 *
 * Events are drawn module by module (cc_sim_next_event), gathered in batches
 * of --batch events and appended, so memory stays bounded for any -n. With
 * --split, module events whose class is noise go to the `noise` group and
 * test pulses to `testpulses`, as in a Cait file; otherwise everything goes
 * to `events`. noise/nps holds the expected periodogram of each channel.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cc_h5.h"
#include "cc_sim.h"
#include "cmds.h"
#include "progress.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cryoclean sim -o FILE.h5 -n EVENTS [options]\n"
            "Simulates EVENTS module events (one record per channel) with their truth and\n"
            "writes them in Cait's HDF5 layout: events/event (channels, events, samples)\n"
            "float32 volts, labels (Cait class numbers, names as attributes), true_ph,\n"
            "true_onset, true_snr, true_npulses, hours, time_s, time_mus; noise/nps.\n\n"
            "  -o, --output FILE     HDF5 file to create (overwritten)\n"
            "  -n, --events N        module events to simulate\n"
            "  -s, --seed S          RNG seed (default 1); same seed, same file\n"
            "  -c, --config FILE     simulator YAML (docs/SIMULATOR.md); default module otherwise\n"
            "      --samples N       record length (default 16384 or the config's)\n"
            "      --channels N      channels of the module, 1-3 (default 2 or the config's)\n"
            "      --class NAME      only this class (repeatable: a uniform mix of the named)\n"
            "      --pileup-dt LO:HI pile-up: later pulses LO..HI ms after the first (default\n"
            "                        the config's pileup_dt_ms, else 3 ms to 3/4 of the window)\n"
            "      --split           noise events to noise/, test pulses to testpulses/\n"
            "      --batch N         events per HDF5 write (default 64)\n"
            "      --start UNIX_S    time of the first event (default: now)\n"
            "  -q, --quiet           no progress bar\n"
            "  -h, --help            this help\n");
}

typedef struct {
    const char *group;
    cc_h5_batch b;
    uint32_t cap;
} gbuf;

static int gbuf_init(gbuf *g, const char *group, uint32_t nch, uint32_t ns, uint32_t cap)
{
    memset(g, 0, sizeof *g);
    g->group = group, g->cap = cap;
    size_t npc = (size_t)nch * cap;
    g->b.event = malloc(sizeof(float) * npc * ns);
    g->b.hours = malloc(sizeof(double) * cap);
    g->b.time_s = malloc(sizeof(int64_t) * cap);
    g->b.time_mus = malloc(sizeof(int32_t) * cap);
    g->b.labels = malloc(sizeof(int32_t) * npc);
    g->b.true_ph = malloc(sizeof(double) * npc);
    g->b.true_onset = malloc(sizeof(double) * npc);
    g->b.true_snr = malloc(sizeof(double) * npc);
    g->b.true_npulses = malloc(sizeof(int32_t) * npc);
    return g->b.event && g->b.hours && g->b.time_s && g->b.time_mus && g->b.labels &&
                   g->b.true_ph && g->b.true_onset && g->b.true_snr && g->b.true_npulses
               ? 0
               : -1;
}

static void gbuf_free(gbuf *g)
{
    cc_h5_batch *b = &g->b;
    free(b->event), free(b->hours), free(b->time_s), free(b->time_mus), free(b->labels);
    free(b->true_ph), free(b->true_onset), free(b->true_snr), free(b->true_npulses);
}

/* Adds one module event (recs[0..nch-1]) at slot b->k; the batch layout is
 * channel-major with capacity cap, compacted to k on flush. */
static void gbuf_add(gbuf *g, const cc_sim_record *recs, uint32_t nch, uint32_t ns, double t0)
{
    cc_h5_batch *b = &g->b;
    uint32_t i = b->k, cap = g->cap;
    double t = t0 + recs[0].time_s;
    b->hours[i] = recs[0].time_s / 3600.0;
    b->time_s[i] = (int64_t)t;
    b->time_mus[i] = (int32_t)((t - (double)(int64_t)t) * 1e6);
    for (uint32_t c = 0; c < nch; c++) {
        size_t j = (size_t)c * cap + i;
        memcpy(b->event + j * ns, recs[c].samples, sizeof(float) * ns);
        b->labels[j] = recs[c].class_id;
        b->true_ph[j] = recs[c].ph_v;
        b->true_onset[j] = recs[c].onset_ms;
        b->true_snr[j] = recs[c].snr;
        b->true_npulses[j] = recs[c].n_pulses;
    }
    b->k++;
}

/* moves channel rows of a partially filled batch together (cap -> k) */
static void compact(gbuf *g, uint32_t nch, uint32_t ns)
{
    cc_h5_batch *b = &g->b;
    uint32_t k = b->k, cap = g->cap;
    if (k == cap) return;
    for (uint32_t c = 1; c < nch; c++) {
        memmove(b->event + (size_t)c * k * ns, b->event + (size_t)c * cap * ns,
                sizeof(float) * k * ns);
        memmove(b->labels + c * k, b->labels + c * cap, sizeof(int32_t) * k);
        memmove(b->true_ph + c * k, b->true_ph + c * cap, sizeof(double) * k);
        memmove(b->true_onset + c * k, b->true_onset + c * cap, sizeof(double) * k);
        memmove(b->true_snr + c * k, b->true_snr + c * cap, sizeof(double) * k);
        memmove(b->true_npulses + c * k, b->true_npulses + c * cap, sizeof(int32_t) * k);
    }
}

static int flush(cc_h5_writer *w, gbuf *g, uint32_t nch, uint32_t ns, cc_err *e)
{
    if (!g->b.k) return 0;
    compact(g, nch, ns);
    int rc = cc_h5_writer_append(w, g->group, &g->b, e);
    g->b.k = 0;
    return rc;
}

int cmd_sim(int argc, char **argv)
{
    static const struct option opts[] = {{"output", 1, 0, 'o'},    {"events", 1, 0, 'n'},
                                         {"seed", 1, 0, 's'},      {"config", 1, 0, 'c'},
                                         {"samples", 1, 0, 'S'},   {"channels", 1, 0, 'C'},
                                         {"class", 1, 0, 'K'},     {"split", 0, 0, 'P'},
                                         {"batch", 1, 0, 'b'},     {"start", 1, 0, 'T'},
                                         {"quiet", 0, 0, 'q'},     {"help", 0, 0, 'h'},
                                         {"pileup-dt", 1, 0, 'D'}, {0, 0, 0, 0}};
    const char *out = NULL, *conf = NULL;
    long long n = -1, samples = 0, channels = 0, batch = 64;
    unsigned long long seed = 1;
    double start = (double)time(NULL), dt_lo = -1, dt_hi = -1;
    int quiet = 0, split = 0, nclass = 0, classes[32];
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:n:s:c:qh", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'n':
            n = strtoll(optarg, &end, 10);
            break;
        case 's':
            seed = strtoull(optarg, &end, 0);
            break;
        case 'c':
            conf = optarg;
            break;
        case 'S':
            samples = strtoll(optarg, &end, 10);
            break;
        case 'C':
            channels = strtoll(optarg, &end, 10);
            break;
        case 'b':
            batch = strtoll(optarg, &end, 10);
            break;
        case 'T':
            start = strtod(optarg, &end);
            break;
        case 'P':
            split = 1;
            break;
        case 'D':
            if (sscanf(optarg, "%lf:%lf", &dt_lo, &dt_hi) != 2 || !(dt_lo >= 0 && dt_hi >= dt_lo)) {
                fprintf(stderr,
                        "cryoclean sim: --pileup-dt: expected LO:HI ms with 0 <= LO <= HI, "
                        "found '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'q':
            quiet = 1;
            break;
        case 'K':
            if (nclass == 32 || cc_sim_class_from_name(optarg) < 0) {
                fprintf(stderr,
                        "cryoclean sim: --class: unknown class '%s' (known: event, "
                        "testpulse, noise, jump, spike, earlylate, pileup, carrier, "
                        "decay, rise, square, tail, reset, decay_pulse, decay_tail)\n",
                        optarg);
                return 2;
            }
            classes[nclass++] = cc_sim_class_from_name(optarg);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (end && *end) {
            fprintf(stderr, "cryoclean sim: --%s: expected a number, found '%s'\n",
                    c == 'n'   ? "events"
                    : c == 's' ? "seed"
                    : c == 'S' ? "samples"
                    : c == 'C' ? "channels"
                    : c == 'b' ? "batch"
                               : "start",
                    optarg);
            return 2;
        }
    }
    if (!out || n < 0 || optind < argc) {
        fprintf(stderr, "cryoclean sim: %s\n",
                optind < argc ? "unexpected argument" : "-o FILE and -n EVENTS are required");
        usage(stderr);
        return 2;
    }
    if (batch < 1 || batch > 100000) {
        fprintf(stderr, "cryoclean sim: --batch: expected 1..100000, found %lld\n", batch);
        return 2;
    }
    cc_err e = {{0}};
    cc_sim_config cfg;
    if (conf ? cc_sim_config_load(conf, &cfg, &e) : (cc_sim_config_default(&cfg), 0)) {
        fprintf(stderr, "cryoclean sim: %s\n", e.msg);
        return 1;
    }
    if (samples) cfg.n_samples = (uint32_t)samples;
    if (dt_lo >= 0) cfg.pileup_dt_lo_ms = dt_lo, cfg.pileup_dt_hi_ms = dt_hi;
    if (channels) {
        if (channels < 1 || channels > CC_SIM_MAX_CH) {
            fprintf(stderr, "cryoclean sim: --channels: expected 1..%d, found %lld\n",
                    CC_SIM_MAX_CH, channels);
            return 2;
        }
        cfg.n_channels = (uint32_t)channels;
    }
    if (nclass) {
        memset(cfg.class_weight, 0, sizeof cfg.class_weight);
        for (int i = 0; i < nclass; i++) cfg.class_weight[classes[i]] = 1.0;
    }
    cc_sim *sim = cc_sim_new(&cfg, seed, &e);
    if (!sim) {
        fprintf(stderr, "cryoclean sim: %s\n", e.msg);
        return 1;
    }
    uint32_t nch = cfg.n_channels, ns = cfg.n_samples;
    cc_h5_writer *w = cc_h5_writer_new(out, nch, ns, CC_H5_ALL, &e);
    int ids[CC_SIM_NCLASS_ID], nid = cc_sim_class_list(ids, CC_SIM_NCLASS_ID);
    const char *names[CC_SIM_NCLASS_ID];
    for (int i = 0; i < nid; i++) names[i] = cc_sim_class_name(ids[i]);
    uint32_t chid[CC_SIM_MAX_CH];
    for (uint32_t k = 0; k < nch; k++) chid[k] = cfg.ch[k].id;
    cc_sim_record recs[CC_SIM_MAX_CH];
    memset(recs, 0, sizeof recs);
    gbuf g[3];
    memset(g, 0, sizeof g);
    int rc = 1, ok = w && !cc_h5_writer_set_label_names(w, (size_t)nid, ids, names, &e) &&
                     !cc_h5_writer_set_meta(w, chid, cfg.fs_hz, ns / 4, &e);
    const char *gname[3] = {"events", "noise", "testpulses"};
    for (int i = 0; ok && i < (split ? 3 : 1); i++)
        if (gbuf_init(&g[i], gname[i], nch, ns, (uint32_t)batch)) {
            cc_err_set(&e, "out of memory for batches of %lld events", batch);
            ok = 0;
        }
    for (uint32_t k = 0; ok && k < nch; k++)
        if (cc_sim_record_init(&recs[k], ns, &e)) ok = 0;
    if (!ok) goto out;
    cc_progress p;
    if (!quiet) cc_progress_start(&p, "sim", (uint64_t)n, "ev");
    for (long long i = 0; i < n; i++) {
        if (cc_sim_next_event(sim, recs, &e)) goto out;
        int gi = 0;
        if (split && recs[0].class_id == CC_SIM_TESTPULSE) gi = 2;
        if (split && recs[0].class_id == CC_SIM_NOISE) gi = 1;
        /* a noise event only counts as noise if all channels are empty */
        for (uint32_t k = 0; gi == 1 && k < nch; k++)
            if (recs[k].class_id != CC_SIM_NOISE) gi = 0;
        gbuf_add(&g[gi], recs, nch, ns, start);
        if (g[gi].b.k == g[gi].cap && flush(w, &g[gi], nch, ns, &e)) goto out;
        if (!quiet) cc_progress_update(&p, (uint64_t)i + 1);
    }
    for (int i = 0; i < (split ? 3 : 1); i++)
        if (flush(w, &g[i], nch, ns, &e)) goto out;
    float *nps = malloc(sizeof(float) * nch * (ns / 2 + 1));
    if (!nps) goto out;
    for (uint32_t k = 0; k < nch; k++) cc_sim_nps_expected(sim, k, nps + (size_t)k * (ns / 2 + 1));
    int bad = cc_h5_writer_put_2d(w, "noise/nps", nps, nch, ns / 2 + 1, &e);
    free(nps);
    if (bad) goto out;
    /* Cait's standard events: each channel's noise-free pulse, peak 1, onset at
     * the trigger (what template-conditioned models take, docs/NN.md) */
    float *sev = malloc(sizeof(float) * nch * ns);
    if (!sev) goto out;
    for (uint32_t k = 0; k < nch; k++)
        cc_sim_shape_render(&cfg.ch[k].shape, cfg.fs_hz, ns / 4, sev + (size_t)k * ns, ns);
    bad = cc_h5_writer_put_2d(w, "stdevent/event", sev, nch, ns, &e);
    free(sev);
    if (bad) goto out;
    if (!quiet) cc_progress_finish(&p);
    rc = 0;
out:
    if (cc_h5_writer_close(&w, rc ? NULL : &e)) rc = 1;
    if (rc)
        fprintf(stderr, "cryoclean sim: %s\n", e.msg[0] ? e.msg : "failed");
    else if (!quiet)
        fprintf(stderr, "cryoclean sim: wrote %lld events x %u channels x %u samples to %s\n", n,
                nch, ns, out);
    for (int i = 0; i < 3; i++) gbuf_free(&g[i]);
    for (uint32_t k = 0; k < CC_SIM_MAX_CH; k++) cc_sim_record_release(&recs[k]);
    cc_sim_free(&sim);
    return rc;
}
