/* cuts.c - the `cuts` classifier: an analyst's cut file as a plugin.
 *
 * Every record gets its main parameters (cc_mainpar.h); each configured cut
 * is a closed range [low, high] on one named parameter (either end may be
 * open); the score is 1.0 when every cut that applies passes, else 0.0, so
 * decisions at any cutoff in (0, 1] are exactly the hard cuts.
 *
 * A record is a *pulse* when its height above the baseline line (see
 * cc_mainpar.h) exceeds the pulse threshold T = max(sigma * rms, volts),
 * rms = max(noise_rms, noise_floor). The timing cuts (onset, rise, decay,
 * tail, re-rise) apply to pulses only, because on a noise trace they describe
 * a noise wiggle; the spike cut applies to noise traces only, because a
 * pulse's own sharp onset fills the residual it looks at; the rest apply to
 * every record. The defaults implement the paper's notion of clean for a
 * CRESST-like 25 kHz phonon channel: jumps (no decay, tail level, negative
 * excursion), drifts and decaying baselines (slope, negative excursion),
 * spikes (sub-millisecond rise and decay, or the residual), pile-up (a re-rise
 * on the decay), pulses far from the trigger (onset) are rejected; noise
 * traces with a typical slope and pulses of any height, saturated ones
 * included, pass. docs/CUTS.md has the format and the rationale of each default.
 *
 * Configuration (all keys optional; no block at all means the defaults):
 *   max_samples: 1048576        longest record (sizes the per-worker scratch:
 *                               4 bytes a sample); longer ones fail the batch
 *   noise_floor: 1.0e-4         V, lower bound of the rms in thresholds and ratios
 *   reject_flat: true           constant records (dead channel) are rejected
 *   pulse_threshold: {sigma: 9, volts: 0}
 *   default:  {<param>: [low, high], ...}   merged over the built-in defaults
 *   channels: {<id>: {<param>: [low, high], pulse_threshold: {...}}, ...}
 *             merged over `default` for that channel
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_mainpar.h"
#include "cc_plugin.h"

/* ---- the parameters one can cut on ---- */

enum scope { ALL, PULSE, NOISE };

/* What a getter sees: the main parameters and the noise unit used for ratios. */
typedef struct view {
    const cc_mainpar *mp;
    double rms;       /* max(noise_rms, noise_floor) */
    double resid_rms; /* max(resid_rms, noise_floor) */
    double fs;
    int64_t trigger;
} view;

typedef struct param {
    const char *name, *unit;
    enum scope scope;
    double (*get)(const view *v);
    double lo, hi; /* built-in default (NAN = open) */
} param;

/* One getter per parameter: g_<name>(view) returns its value. */
#define GETTER(name, expr)                                                                         \
    static double g_##name(const view *v)                                                          \
    {                                                                                              \
        return (expr);                                                                             \
    }
GETTER(pulse_height, v->mp->pulse_height)
GETTER(offset, v->mp->offset)
GETTER(noise_rms, v->mp->noise_rms)
GETTER(slope, v->mp->linear_drift)
GETTER(min_sigma, v->mp->min_nodrift / v->rms)
GETTER(skewness, v->mp->skew)
GETTER(der_max, v->mp->der_max)
GETTER(der_min, v->mp->der_min)
GETTER(var, v->mp->var)
GETTER(onset_ms, v->mp->onset_ms)
GETTER(rise_time_ms, v->mp->rise_time_ms)
GETTER(t_max_ms, ((double)v->mp->t_max - (double)v->trigger) * 1000.0 / v->fs)
/* a record that never decays has an infinite decay time */
GETTER(decay_time_ms, (v->mp->flags & CC_MP_NO_DECAY) ? INFINITY : v->mp->decay_time_ms)
GETTER(rerise_sigma, v->mp->rerise / v->rms)
GETTER(spike_sigma, v->mp->resid_max / v->resid_rms)

/* The level of the last n/8 relative to the pulse height, after taking away
 * what the noise alone can do there (TAIL_NOISE rms; the mean of the last
 * eighth of a noise trace stays within +-6 rms in 99.9 % of simulated
 * 1/f-like noise traces). */
#define TAIL_NOISE 6.0
static double g_tail_fraction(const view *v)
{
    double m = v->mp->mean_end, excess = fmax(fabs(m) - TAIL_NOISE * v->rms, 0.0);
    return v->mp->pulse_height > 0.0 ? copysign(excess, m) / v->mp->pulse_height : INFINITY;
}

#define OPEN NAN
static const param params[] = {
    {"pulse_height", "V", ALL, g_pulse_height, OPEN, OPEN},
    {"offset", "V", ALL, g_offset, OPEN, OPEN},
    {"noise_rms", "V", ALL, g_noise_rms, OPEN, OPEN},
    {"slope", "V/sample", ALL, g_slope, -4e-6, 4e-6},
    {"min_sigma", "rms", ALL, g_min_sigma, -10.0, OPEN},
    {"skewness", "", ALL, g_skewness, OPEN, OPEN},
    {"der_max", "V/sample", ALL, g_der_max, OPEN, OPEN},
    {"der_min", "V/sample", ALL, g_der_min, OPEN, OPEN},
    {"variance", "V^2", ALL, g_var, OPEN, OPEN},
    {"onset_ms", "ms", PULSE, g_onset_ms, -30.0, 30.0},
    {"t_max_ms", "ms", PULSE, g_t_max_ms, OPEN, OPEN},
    {"rise_time_ms", "ms", PULSE, g_rise_time_ms, 0.8, 25.0},
    {"decay_time_ms", "ms", PULSE, g_decay_time_ms, 0.8, 200.0},
    {"tail_fraction", "", PULSE, g_tail_fraction, -0.2, 0.1},
    {"rerise_sigma", "rms", PULSE, g_rerise_sigma, OPEN, 12.0},
    {"spike_sigma", "rms", NOISE, g_spike_sigma, OPEN, 8.0},
};
#define NPARAM (sizeof params / sizeof params[0])

/* ---- configuration ---- */

typedef struct profile {
    double lo[NPARAM], hi[NPARAM];
    double thr_sigma, thr_volts;
} profile;

typedef struct chan_profile {
    uint32_t channel;
    profile p;
} chan_profile;

typedef struct cuts {
    size_t max_samples;
    double noise_floor;
    int reject_flat;
    profile dflt;
    chan_profile *chans; /* sorted by channel */
    size_t n_chans;
} cuts;

typedef struct ws {
    float *scratch; /* max_samples floats */
} ws;

static int is_null(const cc_ynode *n)
{
    return n->type == CC_Y_SCALAR && !n->quoted &&
           (!*n->str || !strcmp(n->str, "~") || !strcasecmp(n->str, "null"));
}

/* One end of a range: a number or null (open). */
static int parse_end(const cc_ynode *n, const char *pname, double *out, cc_err *e)
{
    if (is_null(n)) return (*out = NAN), 0;
    if (cc_y_node_f64(n, -HUGE_VAL, HUGE_VAL, out, NULL) == 0) return 0;
    return cc_y_err(e, n, "%s: expected a number or null, found %s%s%s", pname,
                    n->type == CC_Y_SCALAR ? "'" : "",
                    n->type == CC_Y_SCALAR ? n->str : cc_y_typename(n->type),
                    n->type == CC_Y_SCALAR ? "'" : "");
}

static int parse_range(const cc_ynode *n, const param *pd, double *lo, double *hi, cc_err *e)
{
    if (n->type != CC_Y_SEQ || n->n != 2)
        return cc_y_err(e, n, "%s: expected [low, high] (%s; null = open end), found %s%s",
                        pd->name, *pd->unit ? pd->unit : "dimensionless",
                        n->type == CC_Y_SEQ ? "a sequence of length " : cc_y_typename(n->type),
                        n->type == CC_Y_SEQ ? (n->n == 1   ? "1"
                                               : n->n == 0 ? "0"
                                                           : ">2")
                                            : "");
    double a, b;
    if (parse_end(n->kids[0], pd->name, &a, e) || parse_end(n->kids[1], pd->name, &b, e)) return -1;
    if (!isnan(a) && !isnan(b) && a > b)
        return cc_y_err(e, n, "%s: expected low <= high, found [%g, %g]", pd->name, a, b);
    *lo = a;
    *hi = b;
    return 0;
}

static int parse_threshold(const cc_ynode *n, profile *p, cc_err *e)
{
    static const char *const keys[] = {"sigma", "volts", NULL};
    if (cc_y_expect(n, CC_Y_MAP, "pulse_threshold", e) || cc_y_check_keys(n, keys, e) ||
        cc_y_f64(n, "sigma", 0, 0.0, 1e6, &p->thr_sigma, e) ||
        cc_y_f64(n, "volts", 0, 0.0, 1e3, &p->thr_volts, e))
        return -1;
    return 0;
}

/* Applies the entries of map (cut ranges, and pulse_threshold when allowed) to p. */
static int parse_cut_map(const cc_ynode *map, const char *what, int allow_thr, profile *p,
                         cc_err *e)
{
    if (cc_y_expect(map, CC_Y_MAP, what, e)) return -1;
    for (size_t i = 0; i < map->n; i++) {
        const cc_ynode *kv = map->kids[i];
        if (allow_thr && !strcmp(kv->key, "pulse_threshold")) {
            if (parse_threshold(kv, p, e)) return -1;
            continue;
        }
        size_t j = 0;
        while (j < NPARAM && strcmp(params[j].name, kv->key)) j++;
        if (j < NPARAM) {
            if (parse_range(kv, &params[j], &p->lo[j], &p->hi[j], e)) return -1;
            continue;
        }
        char list[CC_ERR_MAX / 2] = "";
        size_t off = 0;
        for (size_t k = 0; k < NPARAM && off < sizeof list; k++)
            off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", k ? ", " : "",
                                    params[k].name);
        return cc_err_set(e, "%s:%d:%d: %s: unknown parameter '%s' (known: %s%s)", kv->file,
                          kv->key_line, kv->key_col, what, kv->key, list,
                          allow_thr ? ", pulse_threshold" : "");
    }
    return 0;
}

static int cmp_chan(const void *a, const void *b)
{
    uint32_t x = ((const chan_profile *)a)->channel, y = ((const chan_profile *)b)->channel;
    return (x > y) - (x < y);
}

static int parse_channels(const cc_ynode *map, cuts *c, cc_err *e)
{
    if (cc_y_expect(map, CC_Y_MAP, "channels", e)) return -1;
    if (!(c->chans = calloc(map->n ? map->n : 1, sizeof *c->chans)))
        return cc_err_set(e, "out of memory");
    for (size_t i = 0; i < map->n; i++) {
        const cc_ynode *kv = map->kids[i];
        char *end, what[48];
        unsigned long long id = strtoull(kv->key, &end, 10);
        if (end == kv->key || *end || id > UINT32_MAX || kv->key[0] == '-')
            return cc_err_set(e,
                              "%s:%d:%d: channels: expected a channel number in [0, %u], found "
                              "'%s'",
                              kv->file, kv->key_line, kv->key_col, UINT32_MAX, kv->key);
        for (size_t k = 0; k < c->n_chans; k++)
            if (c->chans[k].channel == id)
                return cc_err_set(e, "%s:%d:%d: channels: channel %llu is configured twice",
                                  kv->file, kv->key_line, kv->key_col, id);
        chan_profile *cp = &c->chans[c->n_chans++];
        cp->channel = (uint32_t)id;
        cp->p = c->dflt;
        snprintf(what, sizeof what, "channels.%llu", id);
        if (parse_cut_map(kv, what, 1, &cp->p, e)) return -1;
    }
    qsort(c->chans, c->n_chans, sizeof *c->chans, cmp_chan);
    return 0;
}

static int configure(const cc_ynode *conf, cuts *c, cc_err *e)
{
    c->max_samples = 1 << 20;
    c->noise_floor = 1e-4;
    c->reject_flat = 1;
    c->dflt.thr_sigma = 9.0;
    c->dflt.thr_volts = 0.0;
    for (size_t j = 0; j < NPARAM; j++) c->dflt.lo[j] = params[j].lo, c->dflt.hi[j] = params[j].hi;
    if (!conf) return 0;
    static const char *const keys[] = {
        "max_samples", "noise_floor", "reject_flat", "pulse_threshold",
        "default",     "channels",    NULL};
    if (cc_y_expect(conf, CC_Y_MAP, "config", e) || cc_y_check_keys(conf, keys, e)) return -1;
    int64_t ms = (int64_t)c->max_samples;
    if (cc_y_i64(conf, "max_samples", 0, CC_MP_MIN_SAMPLES, 1 << 24, &ms, e) ||
        cc_y_f64(conf, "noise_floor", 0, 1e-12, 10.0, &c->noise_floor, e) ||
        cc_y_bool(conf, "reject_flat", 0, &c->reject_flat, e))
        return -1;
    c->max_samples = (size_t)ms;
    const cc_ynode *n;
    if ((n = cc_y_get(conf, "pulse_threshold")) && parse_threshold(n, &c->dflt, e)) return -1;
    if ((n = cc_y_get(conf, "default")) && parse_cut_map(n, "default", 0, &c->dflt, e)) return -1;
    if ((n = cc_y_get(conf, "channels")) && parse_channels(n, c, e)) return -1;
    return 0;
}

static const profile *profile_for(const cuts *c, uint32_t channel)
{
    size_t a = 0, b = c->n_chans;
    while (a < b) {
        size_t m = (a + b) / 2;
        if (c->chans[m].channel == channel) return &c->chans[m].p;
        if (c->chans[m].channel < channel)
            a = m + 1;
        else
            b = m;
    }
    return &c->dflt;
}

/* ---- classification ---- */

/* 1 when every applicable cut of p passes for the parameters in v. */
static int passes(const cuts *c, const profile *p, const view *v)
{
    if (c->reject_flat && (v->mp->flags & CC_MP_FLAT)) return 0;
    double thr = fmax(p->thr_sigma * v->rms, p->thr_volts);
    int pulse = v->mp->height_nodrift > thr;
    for (size_t j = 0; j < NPARAM; j++) {
        if ((params[j].scope == PULSE && !pulse) || (params[j].scope == NOISE && pulse)) continue;
        if (isnan(p->lo[j]) && isnan(p->hi[j])) continue;
        double x = params[j].get(v);
        if (isnan(x) || (!isnan(p->lo[j]) && x < p->lo[j]) || (!isnan(p->hi[j]) && x > p->hi[j]))
            return 0;
    }
    return 1;
}

static int cuts_create(const cc_ynode *conf, const cc_plugin_env *env, void **inst,
                       cc_classifier_info *info, cc_err *e)
{
    (void)env;
    cuts *c = calloc(1, sizeof *c);
    if (!c) return cc_err_set(e, "out of memory");
    if (configure(conf, c, e)) {
        free(c->chans);
        free(c);
        return -1;
    }
    info->input_len = 0;
    info->default_cutoff = 0.5f;
    snprintf(info->model, sizeof info->model, "cuts");
    *inst = c;
    return 0;
}

static void *cuts_ws_new(void *inst, size_t max_batch)
{
    (void)max_batch;
    const cuts *c = inst;
    ws *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    if (!(w->scratch = malloc(c->max_samples * sizeof *w->scratch))) {
        free(w);
        return NULL;
    }
    return w;
}

static int cuts_classify(void *inst, void *wsp, const cc_batch *b, float *scores, cc_err *e)
{
    const cuts *c = inst;
    ws *w = wsp;
    for (size_t i = 0; i < b->n; i++) {
        const cc_record_meta *m = &b->meta[i];
        if (m->n_samples > c->max_samples)
            return cc_err_set(e,
                              "record of channel %u has %u samples, more than max_samples %zu "
                              "(raise config.max_samples)",
                              m->channel, m->n_samples, c->max_samples);
        cc_mainpar mp;
        scores[i] = 0.0f;
        if (cc_mainpar_compute(b->raw[i], m->n_samples, m->sample_rate_hz, m->trigger_index,
                               w->scratch, &mp) != CC_MP_OK)
            continue;
        view v = {.mp = &mp,
                  .rms = fmax(mp.noise_rms, c->noise_floor),
                  .resid_rms = fmax(mp.resid_rms, c->noise_floor),
                  .fs = m->sample_rate_hz,
                  .trigger = m->trigger_index};
        scores[i] = passes(c, profile_for(c, m->channel), &v) ? 1.0f : 0.0f;
    }
    return 0;
}

static void cuts_ws_free(void *inst, void *wsp)
{
    (void)inst;
    ws *w = wsp;
    if (!w) return;
    free(w->scratch);
    free(w);
}

static void cuts_destroy(void *inst)
{
    cuts *c = inst;
    if (!c) return;
    free(c->chans);
    free(c);
}

static const cc_classifier_ops ops = {
    .abi = CC_PLUGIN_ABI,
    .size = sizeof(cc_classifier_ops),
    .name = "cuts",
    .version = "1.0",
    .create = cuts_create,
    .ws_new = cuts_ws_new,
    .classify = cuts_classify,
    .ws_free = cuts_ws_free,
    .destroy = cuts_destroy,
};

__attribute__((visibility("default"))) const cc_classifier_ops *cryoclean_classifier_v1(void)
{
    return &ops;
}
