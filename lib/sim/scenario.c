/* scenario.c - time-varying per-channel, per-class record rates (cc_sim.h).
 *
 * Every (channel, class) pair with a rate is a stream holding the time of
 * its next record. The next record overall is the stream with the earliest
 * time (linear scan: scenarios have tens of streams). A stream's next time
 * solves integral_t^T rate(u) du = Exp(1) over the piecewise-constant rate,
 * walking the change boundaries. Each channel is a one-channel cc_sim, so a
 * record is drawn with cc_sim_make() for its class.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

#define MAX_SCN_CH 1024

typedef struct stream {
    uint32_t ch; /* index into channels */
    int class_id;
    double base; /* Hz */
    double next; /* time of the next record */
    sim_rng rng;
} stream;

typedef struct scn_chan {
    uint32_t id;
    cc_sim *sim;
} scn_chan;

struct cc_scenario {
    uint32_t n_samples;
    double duration;
    scn_chan *ch;
    size_t nch;
    stream *st;
    size_t nst;
    cc_scenario_window *win;
    size_t nwin;
};

void cc_scenario_free(cc_scenario **sp)
{
    if (!sp || !*sp) return;
    cc_scenario *s = *sp;
    for (size_t i = 0; i < s->nch; i++) cc_sim_free(&s->ch[i].sim);
    free(s->ch);
    free(s->st);
    free(s->win);
    free(s);
    *sp = NULL;
}

uint32_t cc_scenario_n_samples(const cc_scenario *s)
{
    return s->n_samples;
}

double cc_scenario_duration(const cc_scenario *s)
{
    return s->duration;
}

size_t cc_scenario_n_windows(const cc_scenario *s)
{
    return s->nwin;
}

const cc_scenario_window *cc_scenario_window_get(const cc_scenario *s, size_t i)
{
    return i < s->nwin ? &s->win[i] : NULL;
}

static double rate_at(const cc_scenario *s, uint32_t chid, int cls, double base, double t)
{
    double r = base, abs_rate = NAN;
    for (size_t i = 0; i < s->nwin; i++) {
        const cc_scenario_window *w = &s->win[i];
        if (w->channel != chid || w->class_id != cls || t < w->from_s || t >= w->to_s) continue;
        if (isnan(w->rate_hz))
            r *= w->factor;
        else
            abs_rate = w->rate_hz;
    }
    return isnan(abs_rate) ? r : abs_rate;
}

double cc_scenario_rate(const cc_scenario *s, uint32_t channel, int class_id, double t)
{
    for (size_t i = 0; i < s->nst; i++)
        if (s->ch[s->st[i].ch].id == channel && s->st[i].class_id == class_id)
            return rate_at(s, channel, class_id, s->st[i].base, t);
    return 0.0;
}

/* first change boundary of stream st strictly after t (INFINITY if none) */
static double next_boundary(const cc_scenario *s, uint32_t chid, int cls, double t)
{
    double b = INFINITY;
    for (size_t i = 0; i < s->nwin; i++) {
        const cc_scenario_window *w = &s->win[i];
        if (w->channel != chid || w->class_id != cls) continue;
        if (w->from_s > t && w->from_s < b) b = w->from_s;
        if (w->to_s > t && w->to_s < b) b = w->to_s;
    }
    return b;
}

static void advance(cc_scenario *s, stream *st, double t)
{
    uint32_t chid = s->ch[st->ch].id;
    double need = -log(1.0 - sim_rng_unif(&st->rng));
    for (int guard = 0; guard < 100000; guard++) {
        double r = rate_at(s, chid, st->class_id, st->base, t);
        double b = next_boundary(s, chid, st->class_id, t);
        if (r > 0 && t + need / r <= b) {
            st->next = t + need / r;
            return;
        }
        if (isinf(b)) break;
        need -= r * (b - t);
        t = b;
    }
    st->next = INFINITY;
}

static int parse_channel(cc_scenario *s, const cc_ynode *n, size_t idx, uint64_t seed, cc_err *e)
{
    static const char *const keys[] = {
        "id",      "module", "kind",       "name",        "rms_v", "shape",   "carrier",  "nps",
        "drift_v", "ph",     "saturation", "testpulse_v", "rates", "changes", "onset_ms", NULL};
    if (cc_y_expect(n, CC_Y_MAP, "scenario channel", e) || cc_y_check_keys(n, keys, e)) return -1;
    int64_t id, module = 0;
    if (cc_y_i64(n, "id", 1, 0, 65535, &id, e) || cc_y_i64(n, "module", 0, 0, 65535, &module, e))
        return -1;
    for (size_t i = 0; i < idx; i++)
        if (s->ch[i].id == (uint32_t)id)
            return cc_y_err(e, cc_y_get(n, "id"), "channel id %lld appears twice", (long long)id);
    /* the cc_sim channel keys go through the simulator's own parser */
    cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cfg.n_samples = s->n_samples;
    cfg.module = (uint16_t)module;
    cfg.n_channels = 1;
    if (cc_y_f64(n, "onset_ms", 0, 0, 100, &cfg.onset_ms, e)) return -1;
    cc_ynode sub = *n; /* the same mapping without the scenario-only keys */
    cc_ynode *kids[32];
    sub.n = 0;
    sub.kids = kids;
    for (size_t i = 0; i < n->n && sub.n < 32; i++) {
        const char *k = n->kids[i]->key;
        if (strcmp(k, "module") && strcmp(k, "rates") && strcmp(k, "changes") &&
            strcmp(k, "onset_ms"))
            kids[sub.n++] = n->kids[i];
    }
    cc_ynode seq = {.type = CC_Y_SEQ, .file = n->file, .line = n->line, .col = n->col};
    cc_ynode *one[1] = {&sub};
    seq.kids = one;
    seq.n = 1;
    cc_ynode top = {.type = CC_Y_MAP, .file = n->file, .line = n->line, .col = n->col};
    seq.key = "channels";
    cc_ynode *tk[1] = {&seq};
    top.kids = tk;
    top.n = 1;
    if (cc_sim_config_from_yaml(&top, &cfg, e)) return -1;
    cfg.ch[0].id = (uint32_t)id;
    s->ch[idx].id = (uint32_t)id;
    if (!(s->ch[idx].sim = cc_sim_new(&cfg, seed ^ (0x9e3779b97f4a7c15ull * (idx + 1)), e))) {
        char why[CC_ERR_MAX];
        snprintf(why, sizeof why, "%s", e ? e->msg : "");
        return cc_y_err(e, n, "channel %lld: %s", (long long)id, why);
    }
    const cc_ynode *rates = cc_y_get(n, "rates");
    if (!rates)
        return cc_y_err(e, n, "channel %lld: expected a `rates` mapping (class: Hz)",
                        (long long)id);
    if (cc_y_expect(rates, CC_Y_MAP, "rates", e)) return -1;
    for (size_t i = 0; i < rates->n; i++) {
        int cls = cc_sim_class_from_name(rates->kids[i]->key);
        if (cls < 0)
            return cc_y_err(e, rates->kids[i],
                            "rates: unknown class '%s' (known: event, testpulse, "
                            "noise, jump, spike, earlylate, pileup, carrier, decay, rise, square, "
                            "tail, reset, decay_pulse, decay_tail)",
                            rates->kids[i]->key);
        double hz;
        if (cc_y_node_f64(rates->kids[i], 0, 1e6, &hz, e)) return -1;
        stream *st = realloc(s->st, sizeof *st * (s->nst + 1));
        if (!st) return cc_err_set(e, "out of memory");
        s->st = st;
        st = &s->st[s->nst++];
        memset(st, 0, sizeof *st);
        st->ch = (uint32_t)idx, st->class_id = cls, st->base = hz;
        sim_rng_seed(&st->rng, seed * 0xd1342543de82ef95ull + (uint64_t)id * 131 + (uint64_t)cls);
    }
    const cc_ynode *ch = cc_y_get(n, "changes");
    if (!ch) return 0;
    if (cc_y_expect(ch, CC_Y_SEQ, "changes", e)) return -1;
    for (size_t i = 0; i < ch->n; i++) {
        const cc_ynode *c = ch->kids[i];
        static const char *const ck[] = {"class",  "from_s",  "for_s", "to_s",
                                         "factor", "rate_hz", NULL};
        const char *cname = NULL;
        double from = 0, len = NAN, to = NAN, factor = NAN, rate = NAN;
        if (cc_y_expect(c, CC_Y_MAP, "change", e) || cc_y_check_keys(c, ck, e) ||
            cc_y_str(c, "class", 1, &cname, e) || cc_y_f64(c, "from_s", 1, 0, 1e9, &from, e) ||
            cc_y_f64(c, "for_s", 0, 0, 1e9, &len, e) || cc_y_f64(c, "to_s", 0, 0, 1e9, &to, e) ||
            cc_y_f64(c, "factor", 0, 0, 1e6, &factor, e) ||
            cc_y_f64(c, "rate_hz", 0, 0, 1e6, &rate, e))
            return -1;
        int cls = cc_sim_class_from_name(cname);
        if (cls < 0) return cc_y_err(e, cc_y_get(c, "class"), "change: unknown class '%s'", cname);
        if (isnan(factor) == isnan(rate))
            return cc_y_err(e, c, "change: expected exactly one of factor or rate_hz");
        if (!isnan(len) && !isnan(to))
            return cc_y_err(e, c, "change: expected for_s or to_s, not both");
        double end = !isnan(len) ? from + len : !isnan(to) ? to : INFINITY;
        if (!(end > from)) return cc_y_err(e, c, "change: the window ends before it starts");
        cc_scenario_window *w = realloc(s->win, sizeof *w * (s->nwin + 1));
        if (!w) return cc_err_set(e, "out of memory");
        s->win = w;
        s->win[s->nwin++] = (cc_scenario_window){(uint32_t)id, cls, from, end, factor, rate};
        /* a change may name a class without a base rate: give it a stream at rate 0 */
        int have = 0;
        for (size_t j = 0; j < s->nst; j++) have |= s->st[j].ch == idx && s->st[j].class_id == cls;
        if (!have) {
            stream *st = realloc(s->st, sizeof *st * (s->nst + 1));
            if (!st) return cc_err_set(e, "out of memory");
            s->st = st;
            st = &s->st[s->nst++];
            memset(st, 0, sizeof *st);
            st->ch = (uint32_t)idx, st->class_id = cls, st->base = 0;
            sim_rng_seed(&st->rng,
                         seed * 0xd1342543de82ef95ull + (uint64_t)id * 131 + (uint64_t)cls);
        }
    }
    return 0;
}

cc_scenario *cc_scenario_from_yaml(const cc_ynode *map, uint64_t seed, cc_err *e)
{
    static const char *const keys[] = {"duration_s", "samples", "channels", NULL};
    if (cc_y_expect(map, CC_Y_MAP, "scenario", e) || cc_y_check_keys(map, keys, e)) return NULL;
    cc_scenario *s = calloc(1, sizeof *s);
    if (!s) {
        cc_err_set(e, "out of memory");
        return NULL;
    }
    int64_t ns = 16384;
    s->duration = INFINITY;
    const cc_ynode *chs = cc_y_get(map, "channels");
    if (cc_y_f64(map, "duration_s", 0, 0, 1e9, &s->duration, e) ||
        cc_y_i64(map, "samples", 0, 256, 1 << 22, &ns, e))
        goto fail;
    if (ns % 16) {
        cc_y_err(e, cc_y_get(map, "samples"), "samples: expected a multiple of 16");
        goto fail;
    }
    s->n_samples = (uint32_t)ns;
    if (!chs) {
        cc_y_err(e, map, "scenario: expected a `channels` list");
        goto fail;
    }
    if (cc_y_expect(chs, CC_Y_SEQ, "channels", e)) goto fail;
    if (chs->n < 1 || chs->n > MAX_SCN_CH) {
        cc_y_err(e, chs, "channels: expected 1 to %d channels, found %zu", MAX_SCN_CH, chs->n);
        goto fail;
    }
    if (!(s->ch = calloc(chs->n, sizeof *s->ch))) {
        cc_err_set(e, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < chs->n; i++) {
        s->nch = i + 1;
        if (parse_channel(s, chs->kids[i], i, seed, e)) goto fail;
    }
    for (size_t i = 0; i < s->nst; i++) advance(s, &s->st[i], 0.0);
    return s;
fail:
    cc_scenario_free(&s);
    return NULL;
}

cc_scenario *cc_scenario_load(const char *path, uint64_t seed, cc_err *e)
{
    cc_ydoc *d = cc_ydoc_load_file(path, e);
    if (!d) return NULL;
    cc_scenario *s = NULL;
    if (!d->root)
        cc_err_set(e, "%s: empty scenario", path);
    else {
        const cc_ynode *m = cc_y_get(d->root, "scenario");
        s = cc_scenario_from_yaml(m ? m : d->root, seed, e);
    }
    cc_ydoc_free(&d);
    return s;
}

int cc_scenario_next(cc_scenario *s, cc_sim_record *out, cc_err *e)
{
    stream *best = NULL;
    for (size_t i = 0; i < s->nst; i++)
        if (!best || s->st[i].next < best->next) best = &s->st[i];
    if (!best || isinf(best->next) || best->next > s->duration) return 0;
    double t = best->next;
    if (cc_sim_make(s->ch[best->ch].sim, 0, best->class_id, t, out, e)) return -1;
    advance(s, best, t);
    return 1;
}
