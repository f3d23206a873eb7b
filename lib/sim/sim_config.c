/* sim_config.c - detector presets, default module, class table, YAML.
 *
 * Presets follow the values quoted in the domain notes (Cait's standard
 * phonon/light shapes, the carrier shape, baseline RMS of a few mV and
 * less). The YAML schema is documented in docs/SIMULATOR.md; every value is
 * range-checked and unknown keys are errors with file:line:col.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

static const struct {
    int id;
    const char *name;
    int accept;
    double weight; /* default mix */
} classes[] = {
    {CC_SIM_EVENT, "event", 1, 0.42},           {CC_SIM_TESTPULSE, "testpulse", 1, 0.05},
    {CC_SIM_NOISE, "noise", 1, 0.18},           {CC_SIM_JUMP, "jump", 0, 0.04},
    {CC_SIM_SPIKE, "spike", 0, 0.04},           {CC_SIM_EARLYLATE, "earlylate", 0, 0.04},
    {CC_SIM_PILEUP, "pileup", 0, 0.07},         {CC_SIM_CARRIER, "carrier", 1, 0.03},
    {CC_SIM_DECAY, "decay", 0, 0.03},           {CC_SIM_RISE, "rise", 0, 0.02},
    {CC_SIM_SQUARE, "square", 0, 0.02},         {CC_SIM_TAIL, "tail", 0, 0.02},
    {CC_SIM_RESET, "reset", 0, 0.02},           {CC_SIM_DECAY_PULSE, "decay_pulse", 0, 0.01},
    {CC_SIM_DECAY_TAIL, "decay_tail", 0, 0.01},
};
#define NCLASSES (int)(sizeof classes / sizeof classes[0])

int sim_class_valid(int id)
{
    for (int i = 0; i < NCLASSES; i++)
        if (classes[i].id == id) return 1;
    return 0;
}

const char *cc_sim_class_name(int id)
{
    for (int i = 0; i < NCLASSES; i++)
        if (classes[i].id == id) return classes[i].name;
    return NULL;
}

int cc_sim_class_from_name(const char *name)
{
    for (int i = 0; i < NCLASSES; i++)
        if (strcmp(classes[i].name, name) == 0) return classes[i].id;
    return -1;
}

int cc_sim_class_accept(int id)
{
    for (int i = 0; i < NCLASSES; i++)
        if (classes[i].id == id) return classes[i].accept;
    return -1;
}

int cc_sim_class_list(int *ids, int n)
{
    int k = 0;
    for (int i = 0; i < NCLASSES && k < n; i++) ids[k++] = classes[i].id;
    return k;
}

static const char *kind_names[] = {"phonon", "light", "veto"};

const char *cc_sim_kind_name(cc_sim_kind kind)
{
    return (unsigned)kind < 3 ? kind_names[kind] : NULL;
}

int cc_sim_kind_from_name(const char *name)
{
    for (int k = 0; k < 3; k++)
        if (strcmp(name, kind_names[k]) == 0) return k;
    return -1;
}

void cc_sim_channel_preset(cc_sim_channel *ch, cc_sim_kind kind)
{
    uint32_t id = ch->id;
    memset(ch, 0, sizeof *ch);
    ch->id = id;
    ch->kind = kind;
    snprintf(ch->name, sizeof ch->name, "%s", kind_names[kind]);
    ch->carrier = (cc_sim_shape){1.73, 1.65, 136.0, 0.38, 2.13};
    ch->nps = (cc_sim_nps){.n_terms = 2,
                           .c = {40.0, 1.0},
                           .alpha = {1.5, 0.4},
                           .white = 0.05,
                           .rolloff_hz = 2500.0,
                           .rolloff_order = 2,
                           .mains = {4.0, 1.5, 0.8}};
    ch->ph_dist = CC_SIM_PH_LOGUNIFORM;
    ch->ph_ratio = 1.0;
    ch->sat_q = 1.0;
    ch->sat_nu = 1.0;
    switch (kind) {
    case CC_SIM_PHONON:
        ch->shape = (cc_sim_shape){4.0, 0.02, 4.15, 2.1, 53.06};
        ch->rms_v = 1e-3;
        ch->drift_v = 3e-4;
        ch->ph_min_v = 5e-3, ch->ph_max_v = 2.0, ch->ph_mean_v = 0.2;
        ch->line_v = 0.3, ch->line_sigma_v = 4e-3, ch->line_frac = 0.25;
        ch->sat_v = 3.0;
        ch->tp_v[0] = 0.05, ch->tp_v[1] = 0.3, ch->tp_v[2] = 1.0, ch->tp_v[3] = 2.5;
        break;
    case CC_SIM_LIGHT:
        ch->shape = (cc_sim_shape){51.76, 50.81, 37.24, 8.33, 8.59};
        ch->rms_v = 2e-3;
        ch->drift_v = 5e-4;
        ch->ph_min_v = 1e-2, ch->ph_max_v = 1.0, ch->ph_mean_v = 0.1;
        ch->ph_ratio = 0.3, ch->ph_ratio_spread = 0.15;
        ch->sat_v = 4.0;
        ch->nps.c[0] = 80.0;
        ch->tp_v[0] = 0.05, ch->tp_v[1] = 0.2, ch->tp_v[2] = 0.8;
        break;
    case CC_SIM_VETO:
        ch->shape = (cc_sim_shape){1.0, 0.3, 14.0, 2.5, 58.0};
        ch->rms_v = 1.5e-3;
        ch->drift_v = 4e-4;
        ch->ph_min_v = 1e-2, ch->ph_max_v = 1.5, ch->ph_mean_v = 0.1;
        ch->ph_ratio = 0.5, ch->ph_ratio_spread = 0.3;
        ch->sat_v = 4.0;
        ch->tp_v[0] = 0.1, ch->tp_v[1] = 0.5;
        break;
    }
}

void cc_sim_config_default(cc_sim_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->n_samples = 16384;
    cfg->fs_hz = 25000.0;
    cfg->module = 0;
    cfg->n_channels = 2;
    cfg->ch[0].id = 0;
    cc_sim_channel_preset(&cfg->ch[0], CC_SIM_PHONON);
    cfg->ch[1].id = 1;
    cc_sim_channel_preset(&cfg->ch[1], CC_SIM_LIGHT);
    cfg->ch[2].id = 2;
    cc_sim_channel_preset(&cfg->ch[2], CC_SIM_VETO);
    for (int i = 0; i < NCLASSES; i++) cfg->class_weight[classes[i].id] = classes[i].weight;
    cfg->onset_ms = 2.0;
    cfg->pileup_dt_lo_ms = 3.0, cfg->pileup_dt_hi_ms = 1e9;
    cfg->rate_hz = 1.0;
    cfg->adc = 1;
}

static int check_shape(const cc_sim_shape *s, const char *ch, const char *what, cc_err *e)
{
    if (!(s->tau_n > 0 && s->tau_in > 0 && s->tau_t > 0) || !isfinite(s->an) || !isfinite(s->at))
        return cc_err_set(e,
                          "sim: channel %s: %s shape: expected finite amplitudes and time "
                          "constants > 0 ms, found an %g at %g tau_n %g tau_in %g tau_t %g",
                          ch, what, s->an, s->at, s->tau_n, s->tau_in, s->tau_t);
    double tp;
    if (!(sim_shape_peak(s, &tp) > 0))
        return cc_err_set(e, "sim: channel %s: %s shape has no positive peak", ch, what);
    return 0;
}

int cc_sim_config_check(const cc_sim_config *c, cc_err *e)
{
    if (c->n_samples < 256 || c->n_samples > (1u << 22) || c->n_samples % 16)
        return cc_err_set(e, "sim: samples: expected a multiple of 16 in [256, 4194304], found %u",
                          c->n_samples);
    if (!(c->fs_hz >= 100.0 && c->fs_hz <= 1e8))
        return cc_err_set(e, "sim: fs_hz: expected [100, 1e8], found %g", c->fs_hz);
    if (c->n_channels < 1 || c->n_channels > CC_SIM_MAX_CH)
        return cc_err_set(e, "sim: channels: expected 1..%d, found %u", CC_SIM_MAX_CH,
                          c->n_channels);
    if (!(c->onset_ms >= 0 && c->onset_ms <= 100))
        return cc_err_set(e, "sim: onset_ms: expected [0, 100], found %g", c->onset_ms);
    if (!(c->pileup_dt_lo_ms >= 0 && c->pileup_dt_hi_ms >= c->pileup_dt_lo_ms))
        return cc_err_set(e,
                          "sim: pileup_dt_ms: expected [lo, hi] with 0 <= lo <= hi, found [%g, %g]",
                          c->pileup_dt_lo_ms, c->pileup_dt_hi_ms);
    if (!(c->rate_hz > 0 && c->rate_hz < 1e7))
        return cc_err_set(e, "sim: rate_hz: expected (0, 1e7), found %g", c->rate_hz);
    double w = 0;
    for (int i = 0; i < CC_SIM_NCLASS_ID; i++) {
        if (c->class_weight[i] != 0 && !sim_class_valid(i))
            return cc_err_set(e, "sim: class weight for unknown class id %d", i);
        if (!(c->class_weight[i] >= 0 && isfinite(c->class_weight[i])))
            return cc_err_set(e, "sim: class %s: weight must be >= 0, found %g",
                              cc_sim_class_name(i), c->class_weight[i]);
        w += c->class_weight[i];
    }
    if (!(w > 0)) return cc_err_set(e, "sim: classes: all weights are zero");
    for (uint32_t k = 0; k < c->n_channels; k++) {
        const cc_sim_channel *ch = &c->ch[k];
        if (check_shape(&ch->shape, ch->name, "pulse", e) ||
            check_shape(&ch->carrier, ch->name, "carrier", e))
            return -1;
        if (!(ch->rms_v > 0 && ch->rms_v < 10))
            return cc_err_set(e, "sim: channel %s: rms_v: expected (0, 10) V, found %g", ch->name,
                              ch->rms_v);
        if (!(ch->ph_min_v > 0 && ch->ph_max_v >= ch->ph_min_v && ch->ph_max_v <= 100))
            return cc_err_set(e,
                              "sim: channel %s: pulse heights: expected 0 < min_v <= max_v <= "
                              "100, found min_v %g max_v %g",
                              ch->name, ch->ph_min_v, ch->ph_max_v);
        if (ch->ph_dist == CC_SIM_PH_EXPONENTIAL && !(ch->ph_mean_v > 0))
            return cc_err_set(e, "sim: channel %s: mean_v must be > 0", ch->name);
        if (!(ch->line_frac >= 0 && ch->line_frac <= 1) ||
            (ch->line_frac > 0 && !(ch->line_v > 0 && ch->line_sigma_v >= 0)))
            return cc_err_set(e,
                              "sim: channel %s: calibration line: expected line_frac in "
                              "[0, 1], line_v > 0, line_sigma_v >= 0",
                              ch->name);
        if (!(ch->sat_v >= 0) || (ch->sat_v > 0 && !(ch->sat_q > 0 && ch->sat_nu > 0)))
            return cc_err_set(e,
                              "sim: channel %s: saturation: expected level_v >= 0, q > 0, "
                              "nu > 0",
                              ch->name);
        if (!(ch->ph_ratio > 0 && ch->ph_ratio_spread >= 0 && ch->drift_v >= 0))
            return cc_err_set(e,
                              "sim: channel %s: ph_ratio must be > 0, spread and drift_v "
                              ">= 0",
                              ch->name);
        if (ch->nps.n_terms < 0 || ch->nps.n_terms > 3 || ch->nps.rolloff_order < 0 ||
            ch->nps.rolloff_order > 8 || !(ch->nps.white >= 0))
            return cc_err_set(e,
                              "sim: channel %s: nps: expected 0-3 terms, roll-off order "
                              "0-8, white >= 0",
                              ch->name);
        if (!(ch->tp_v[0] > 0 || ch->tp_v[1] > 0 || ch->tp_v[2] > 0 || ch->tp_v[3] > 0))
            return cc_err_set(e, "sim: channel %s: testpulse_v: expected at least one height > 0",
                              ch->name);
        for (uint32_t j = 0; j < k; j++)
            if (c->ch[j].id == ch->id)
                return cc_err_set(e, "sim: channels %u and %u share the id %u", j, k, ch->id);
    }
    return 0;
}

/* ---- YAML ---- */

static int y_shape(const cc_ynode *n, cc_sim_shape *s, cc_err *e)
{
    static const char *const keys[] = {"an", "at", "tau_n", "tau_in", "tau_t", NULL};
    if (cc_y_expect(n, CC_Y_MAP, "shape", e) || cc_y_check_keys(n, keys, e)) return -1;
    return cc_y_f64(n, "an", 0, -1e6, 1e6, &s->an, e) ||
                   cc_y_f64(n, "at", 0, -1e6, 1e6, &s->at, e) ||
                   cc_y_f64(n, "tau_n", 0, 1e-3, 1e5, &s->tau_n, e) ||
                   cc_y_f64(n, "tau_in", 0, 1e-3, 1e5, &s->tau_in, e) ||
                   cc_y_f64(n, "tau_t", 0, 1e-3, 1e5, &s->tau_t, e)
               ? -1
               : 0;
}

static int y_nps(const cc_ynode *n, cc_sim_nps *p, cc_err *e)
{
    static const char *const keys[] = {"terms",         "white", "rolloff_hz",
                                       "rolloff_order", "mains", NULL};
    if (cc_y_expect(n, CC_Y_MAP, "nps", e) || cc_y_check_keys(n, keys, e)) return -1;
    const cc_ynode *t = cc_y_get(n, "terms");
    if (t) {
        if (cc_y_expect(t, CC_Y_SEQ, "nps.terms", e)) return -1;
        if (t->n > 3) return cc_y_err(e, t, "nps.terms: expected at most 3 terms, found %zu", t->n);
        p->n_terms = (int)t->n;
        for (size_t k = 0; k < t->n; k++) {
            const cc_ynode *it = t->kids[k];
            static const char *const tk[] = {"c", "alpha", NULL};
            if (cc_y_expect(it, CC_Y_MAP, "nps term {c, alpha}", e) || cc_y_check_keys(it, tk, e) ||
                cc_y_f64(it, "c", 1, 0, 1e12, &p->c[k], e) ||
                cc_y_f64(it, "alpha", 1, 0, 4, &p->alpha[k], e))
                return -1;
        }
    }
    int64_t ord = p->rolloff_order;
    if (cc_y_f64(n, "white", 0, 0, 1e12, &p->white, e) ||
        cc_y_f64(n, "rolloff_hz", 0, 0, 1e8, &p->rolloff_hz, e) ||
        cc_y_i64(n, "rolloff_order", 0, 0, 8, &ord, e))
        return -1;
    p->rolloff_order = (int)ord;
    const cc_ynode *m = cc_y_get(n, "mains");
    if (m) {
        double *v = NULL;
        size_t nv = 0;
        if (cc_y_f64_list(m, &v, &nv, e)) return -1;
        if (nv > 3) {
            free(v);
            return cc_y_err(e, m, "nps.mains: expected up to 3 values (50, 150, 250 Hz), found %zu",
                            nv);
        }
        for (size_t k = 0; k < 3; k++) p->mains[k] = k < nv ? v[k] : 0.0;
        free(v);
        for (size_t k = 0; k < nv; k++)
            if (!(p->mains[k] >= 0)) return cc_y_err(e, m, "nps.mains: expected values >= 0");
    }
    return 0;
}

static int y_channel(const cc_ynode *n, cc_sim_channel *ch, uint32_t index, cc_err *e)
{
    static const char *const keys[] = {
        "name",    "id", "kind",     "rms_v",           "shape",      "carrier",     "nps",
        "drift_v", "ph", "ph_ratio", "ph_ratio_spread", "saturation", "testpulse_v", NULL};
    if (cc_y_expect(n, CC_Y_MAP, "channel", e) || cc_y_check_keys(n, keys, e)) return -1;
    const char *kind = NULL, *name = NULL;
    if (cc_y_str(n, "kind", 0, &kind, e)) return -1;
    int k = CC_SIM_PHONON;
    if (kind) {
        if ((k = cc_sim_kind_from_name(kind)) < 0)
            return cc_y_err(e, cc_y_get(n, "kind"),
                            "kind: expected phonon, light or veto, found '%s'", kind);
    } else if (index > 0) {
        k = index == 1 ? CC_SIM_LIGHT : CC_SIM_VETO;
    }
    ch->id = index;
    cc_sim_channel_preset(ch, (cc_sim_kind)k);
    int64_t id = ch->id;
    if (cc_y_i64(n, "id", 0, 0, 65535, &id, e) || cc_y_str(n, "name", 0, &name, e)) return -1;
    ch->id = (uint32_t)id;
    if (name) snprintf(ch->name, sizeof ch->name, "%s", name);
    if (cc_y_f64(n, "rms_v", 0, 1e-7, 10, &ch->rms_v, e) ||
        cc_y_f64(n, "drift_v", 0, 0, 10, &ch->drift_v, e) ||
        cc_y_f64(n, "ph_ratio", 0, 1e-6, 1e6, &ch->ph_ratio, e) ||
        cc_y_f64(n, "ph_ratio_spread", 0, 0, 10, &ch->ph_ratio_spread, e))
        return -1;
    const cc_ynode *x;
    if ((x = cc_y_get(n, "shape")) && y_shape(x, &ch->shape, e)) return -1;
    if ((x = cc_y_get(n, "carrier")) && y_shape(x, &ch->carrier, e)) return -1;
    if ((x = cc_y_get(n, "nps")) && y_nps(x, &ch->nps, e)) return -1;
    if ((x = cc_y_get(n, "ph"))) {
        static const char *const pk[] = {"dist",   "min_v",        "max_v",     "mean_v",
                                         "line_v", "line_sigma_v", "line_frac", NULL};
        const char *dist = NULL;
        if (cc_y_expect(x, CC_Y_MAP, "ph", e) || cc_y_check_keys(x, pk, e) ||
            cc_y_str(x, "dist", 0, &dist, e) ||
            cc_y_f64(x, "min_v", 0, 1e-9, 100, &ch->ph_min_v, e) ||
            cc_y_f64(x, "max_v", 0, 1e-9, 100, &ch->ph_max_v, e) ||
            cc_y_f64(x, "mean_v", 0, 1e-9, 100, &ch->ph_mean_v, e) ||
            cc_y_f64(x, "line_v", 0, 0, 100, &ch->line_v, e) ||
            cc_y_f64(x, "line_sigma_v", 0, 0, 100, &ch->line_sigma_v, e) ||
            cc_y_f64(x, "line_frac", 0, 0, 1, &ch->line_frac, e))
            return -1;
        if (dist) {
            if (!strcmp(dist, "loguniform"))
                ch->ph_dist = CC_SIM_PH_LOGUNIFORM;
            else if (!strcmp(dist, "uniform"))
                ch->ph_dist = CC_SIM_PH_UNIFORM;
            else if (!strcmp(dist, "exponential"))
                ch->ph_dist = CC_SIM_PH_EXPONENTIAL;
            else
                return cc_y_err(e, cc_y_get(x, "dist"),
                                "ph.dist: expected loguniform, uniform or exponential, found '%s'",
                                dist);
        }
    }
    if ((x = cc_y_get(n, "saturation"))) {
        static const char *const sk[] = {"level_v", "q", "nu", NULL};
        if (cc_y_expect(x, CC_Y_MAP, "saturation", e) || cc_y_check_keys(x, sk, e) ||
            cc_y_f64(x, "level_v", 0, 0, 100, &ch->sat_v, e) ||
            cc_y_f64(x, "q", 0, 1e-6, 1e6, &ch->sat_q, e) ||
            cc_y_f64(x, "nu", 0, 1e-3, 1e3, &ch->sat_nu, e))
            return -1;
    }
    if ((x = cc_y_get(n, "testpulse_v"))) {
        double *v = NULL;
        size_t nv = 0;
        if (cc_y_f64_list(x, &v, &nv, e)) return -1;
        if (nv < 1 || nv > 4) {
            free(v);
            return cc_y_err(e, x, "testpulse_v: expected 1 to 4 heights, found %zu", nv);
        }
        for (size_t i = 0; i < 4; i++) ch->tp_v[i] = i < nv ? v[i] : 0.0;
        free(v);
        for (size_t i = 0; i < nv; i++)
            if (!(ch->tp_v[i] >= 0 && ch->tp_v[i] <= 20))
                return cc_y_err(e, x, "testpulse_v: expected heights in [0, 20] V, found %g",
                                ch->tp_v[i]);
    }
    return 0;
}

int cc_sim_config_from_yaml(const cc_ynode *map, cc_sim_config *cfg, cc_err *e)
{
    static const char *const keys[] = {"samples",     "fs_hz",        "module",  "onset_ms",
                                       "rate_hz",     "adc",          "classes", "channels",
                                       "fft_measure", "pileup_dt_ms", NULL};
    if (cc_y_expect(map, CC_Y_MAP, "simulator configuration", e) || cc_y_check_keys(map, keys, e))
        return -1;
    int64_t ns = cfg->n_samples, mod = cfg->module;
    if (cc_y_i64(map, "samples", 0, 256, 1 << 22, &ns, e) ||
        cc_y_f64(map, "fs_hz", 0, 100, 1e8, &cfg->fs_hz, e) ||
        cc_y_i64(map, "module", 0, 0, 65535, &mod, e) ||
        cc_y_f64(map, "onset_ms", 0, 0, 100, &cfg->onset_ms, e) ||
        cc_y_f64(map, "rate_hz", 0, 1e-6, 1e7, &cfg->rate_hz, e) ||
        cc_y_bool(map, "adc", 0, &cfg->adc, e) ||
        cc_y_bool(map, "fft_measure", 0, &cfg->fft_measure, e))
        return -1;
    if (ns % 16) return cc_y_err(e, cc_y_get(map, "samples"), "samples: expected a multiple of 16");
    if (cc_y_range(map, "pileup_dt_ms", 0, 1e9, &cfg->pileup_dt_lo_ms, &cfg->pileup_dt_hi_ms, e))
        return -1;
    cfg->n_samples = (uint32_t)ns;
    cfg->module = (uint16_t)mod;
    const cc_ynode *cl = cc_y_get(map, "classes");
    if (cl) {
        if (cc_y_expect(cl, CC_Y_MAP, "classes", e)) return -1;
        memset(cfg->class_weight, 0, sizeof cfg->class_weight);
        for (size_t i = 0; i < cl->n; i++) {
            int id = cc_sim_class_from_name(cl->kids[i]->key);
            if (id < 0)
                return cc_y_err(e, cl->kids[i],
                                "classes: unknown class '%s' (known: event, testpulse, noise, "
                                "jump, spike, earlylate, pileup, carrier, decay, rise, square, "
                                "tail, reset, decay_pulse, decay_tail)",
                                cl->kids[i]->key);
            if (cc_y_node_f64(cl->kids[i], 0, 1e9, &cfg->class_weight[id], e)) return -1;
        }
    }
    const cc_ynode *chs = cc_y_get(map, "channels");
    if (chs) {
        if (cc_y_expect(chs, CC_Y_SEQ, "channels", e)) return -1;
        if (chs->n < 1 || chs->n > CC_SIM_MAX_CH)
            return cc_y_err(e, chs, "channels: expected 1 to %d channels, found %zu", CC_SIM_MAX_CH,
                            chs->n);
        cfg->n_channels = (uint32_t)chs->n;
        for (size_t i = 0; i < chs->n; i++)
            if (y_channel(chs->kids[i], &cfg->ch[i], (uint32_t)i, e)) return -1;
    }
    return 0;
}

int cc_sim_config_load(const char *path, cc_sim_config *cfg, cc_err *e)
{
    cc_sim_config_default(cfg);
    cc_ydoc *d = cc_ydoc_load_file(path, e);
    if (!d) return -1;
    int rc = 0;
    const cc_ynode *root = d->root;
    if (!root)
        rc = cc_err_set(e, "%s: empty simulator configuration", path);
    else {
        const cc_ynode *sim = cc_y_get(root, "sim");
        rc = cc_sim_config_from_yaml(sim ? sim : root, cfg, e);
    }
    if (!rc) rc = cc_sim_config_check(cfg, e);
    if (rc && e && !strstr(e->msg, path)) cc_err_prefix(e, "%s", path);
    cc_ydoc_free(&d);
    return rc;
}
