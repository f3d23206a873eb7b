/* sim.c - the simulator: event draws, per-channel traces, truth.
 *
 * An event is drawn once per module (sim_event: class, onset, heights,
 * pile-up times, decaying-baseline parameters, which channel carries a local
 * artefact) and then rendered per channel by render(). Local artefacts
 * (jump, spike, rise, square, carrier, reset, tail, decay_tail) are rendered
 * in one channel; the others get the clean module picture: noise for the
 * artefacts without a pulse, a coincident event pulse for those with one.
 * Parameter ranges follow CryoAug (domain notes section 5) with the changes
 * documented in docs/SIMULATOR.md (amplitudes kept visible above the noise,
 * windows scaled to the record length).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

/* ---- RNG ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void sim_rng_seed(sim_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    r->has_spare = 0;
}

double sim_rng_normal(sim_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u, v, q;
    do {
        u = 2.0 * sim_rng_unif(r) - 1.0;
        v = 2.0 * sim_rng_unif(r) - 1.0;
        q = u * u + v * v;
    } while (q >= 1.0 || q == 0.0);
    double f = sqrt(-2.0 * log(q) / q);
    r->spare = v * f;
    r->has_spare = 1;
    return u * f;
}

double cc_sim_uniform(cc_sim *s)
{
    return sim_rng_unif(&s->rng);
}

/* ---- lifetime ---- */

int cc_sim_record_init(cc_sim_record *r, uint32_t n, cc_err *e)
{
    memset(r, 0, sizeof *r);
    if (n == 0) return cc_err_set(e, "sim: record length must be > 0");
    r->samples = fftwf_malloc(sizeof(float) * n); /* SIMD-aligned: the FFT writes into it */
    if (r->samples) memset(r->samples, 0, sizeof(float) * n);
    if (!r->samples) return cc_err_set(e, "sim: out of memory for a %u-sample record", n);
    r->n_samples = n;
    return 0;
}

void cc_sim_record_release(cc_sim_record *r)
{
    if (!r) return;
    fftwf_free(r->samples);
    memset(r, 0, sizeof *r);
}

void cc_sim_free(cc_sim **sp)
{
    if (!sp || !*sp) return;
    cc_sim *s = *sp;
    if (s->plan) fftwf_destroy_plan(s->plan);
    fftwf_free(s->spec);
    fftwf_free(s->noise);
    fftwf_free(s->twc);
    fftwf_free(s->tws);
    for (int c = 0; c < CC_SIM_MAX_CH; c++) free(s->ch[c].amp);
    free(s->cur);
    free(s);
    *sp = NULL;
}

cc_sim *cc_sim_new(const cc_sim_config *cfg, uint64_t seed, cc_err *e)
{
    if (cc_sim_config_check(cfg, e)) return NULL;
    cc_sim *s = calloc(1, sizeof *s);
    if (!s) {
        cc_err_set(e, "sim: out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->cur = calloc(1, sizeof *s->cur);
    if (!s->cur) {
        free(s);
        cc_err_set(e, "sim: out of memory");
        return NULL;
    }
    sim_rng_seed(&s->rng, seed);
    double acc = 0;
    for (int i = 0; i < CC_SIM_NCLASS_ID; i++) s->cum_weight[i] = (acc += cfg->class_weight[i]);
    for (uint32_t c = 0; c < cfg->n_channels; c++) {
        const cc_sim_channel *ch = &cfg->ch[c];
        sim_chan *sc = &s->ch[c];
        sc->shape_norm = 1.0 / sim_shape_peak(&ch->shape, &sc->shape_tpeak_ms);
        sc->carrier_norm = 1.0 / sim_shape_peak(&ch->carrier, NULL);
        if (ch->sat_v > 0) {
            double p = pow(1.0 + ch->sat_q, 1.0 / ch->sat_nu);
            sc->sat_a = ch->sat_v / (p - 1.0);
            sc->sat_b = ch->sat_nu * (1.0 + ch->sat_q) * (p - 1.0) / (ch->sat_v * ch->sat_q);
        }
        sc->tp_next = 0;
        while (sc->tp_next < 3 && !(ch->tp_v[sc->tp_next] > 0)) sc->tp_next++;
    }
    if (sim_noise_setup(s, e)) {
        cc_sim_free(&s);
        return NULL;
    }
    return s;
}

const cc_sim_config *cc_sim_get_config(const cc_sim *s)
{
    return &s->cfg;
}

/* ---- draws ---- */

static double draw_ph(cc_sim *s, const cc_sim_channel *ch)
{
    sim_rng *r = &s->rng;
    if (ch->line_frac > 0 && sim_rng_unif(r) < ch->line_frac) {
        double v = ch->line_v + ch->line_sigma_v * sim_rng_normal(r);
        return v > ch->ph_min_v ? v : ch->ph_min_v;
    }
    switch (ch->ph_dist) {
    case CC_SIM_PH_UNIFORM:
        return sim_rng_range(r, ch->ph_min_v, ch->ph_max_v);
    case CC_SIM_PH_EXPONENTIAL:
        for (int k = 0; k < 64; k++) {
            double v = ch->ph_min_v - ch->ph_mean_v * log(1.0 - sim_rng_unif(r));
            if (v <= ch->ph_max_v) return v;
        }
        return ch->ph_max_v;
    default:
        return ch->ph_min_v * exp(sim_rng_unif(r) * log(ch->ph_max_v / ch->ph_min_v));
    }
}

static int draw_class(cc_sim *s)
{
    double u = sim_rng_unif(&s->rng) * s->cum_weight[CC_SIM_NCLASS_ID - 1];
    for (int i = 0; i < CC_SIM_NCLASS_ID; i++)
        if (u < s->cum_weight[i] && s->cfg.class_weight[i] > 0) return i;
    for (int i = CC_SIM_NCLASS_ID - 1; i >= 0; i--)
        if (s->cfg.class_weight[i] > 0) return i;
    return CC_SIM_NOISE;
}

static int is_local(int cls)
{
    switch (cls) {
    case CC_SIM_JUMP:
    case CC_SIM_SPIKE:
    case CC_SIM_RISE:
    case CC_SIM_SQUARE:
    case CC_SIM_CARRIER:
    case CC_SIM_RESET:
    case CC_SIM_TAIL:
    case CC_SIM_DECAY_TAIL:
        return 1;
    default:
        return 0;
    }
}

/* class seen by a channel that does not carry the local artefact */
static int bystander_class(int cls)
{
    switch (cls) {
    case CC_SIM_RESET:
    case CC_SIM_TAIL:
    case CC_SIM_DECAY_TAIL:
        return CC_SIM_EVENT;
    default:
        return CC_SIM_NOISE;
    }
}

static double window_ms(const cc_sim *s)
{
    return 1e3 * (double)s->cfg.n_samples / s->cfg.fs_hz;
}

static void draw_event(cc_sim *s, int cls, int local_ch, sim_event *ev)
{
    sim_rng *r = &s->rng;
    double T = window_ms(s), trig = T / 4.0;
    memset(ev, 0, sizeof *ev);
    ev->class_id = cls;
    ev->local_ch = local_ch;
    if (is_local(cls) && local_ch < 0) ev->local_ch = (int)(sim_rng_u64(r) % s->cfg.n_channels);
    ev->onset_ms = sim_rng_range(r, -s->cfg.onset_ms, s->cfg.onset_ms);
    const cc_sim_channel *pch = &s->cfg.ch[ev->local_ch > 0 ? ev->local_ch : 0];
    ev->ph0_v = draw_ph(s, pch);
    ev->n_pulses = 1;
    ev->pile_onset_ms[0] = ev->onset_ms;
    ev->pile_ph0_v[0] = ev->ph0_v;
    if (cls == CC_SIM_PILEUP) {
        double u = sim_rng_unif(r);
        ev->n_pulses = u < 0.4 ? 2 : u < 0.7 ? 3 : u < 0.9 ? 4 : 5;
        for (int k = 1; k < ev->n_pulses; k++) {
            /* later pulses: pileup_dt_ms after the first (default at least 3 ms),
             * up to 3/4 of the window */
            const double end = 0.75 * T - trig;
            const double lo = fmin(ev->onset_ms + s->cfg.pileup_dt_lo_ms, end);
            ev->pile_onset_ms[k] =
                sim_rng_range(r, lo, fmin(ev->onset_ms + s->cfg.pileup_dt_hi_ms, end));
            ev->pile_ph0_v[k] = draw_ph(s, pch);
        }
    } else if (cls == CC_SIM_EARLYLATE) {
        if (sim_rng_unif(r) < 0.5)
            ev->onset_ms =
                sim_rng_range(r, fmax(-160.0, -0.9 * trig), -40.0 * fmin(1.0, trig / 82.0));
        else
            ev->onset_ms = sim_rng_range(r, 40.0, fmin(400.0, 0.5 * T));
        ev->pile_onset_ms[0] = ev->onset_ms;
    } else if (cls == CC_SIM_TESTPULSE) {
        ev->onset_ms = ev->pile_onset_ms[0] = 0.0;
    }
    if (cls == CC_SIM_DECAY || cls == CC_SIM_DECAY_PULSE || cls == CC_SIM_DECAY_TAIL) {
        ev->decay_onset_ms = sim_rng_range(r, -T, -1.5 * T / 4.0);
        ev->decay_tau_ms = sim_rng_range(r, 30.0, 200.0);
        ev->decay_ph_rel = sim_rng_range(r, 10.0, 60.0); /* x rms at the window start */
    }
}

static double ratio_for(cc_sim *s, uint32_t c, const sim_event *ev)
{
    if (c == 0 || (ev->local_ch == (int)c)) return 1.0;
    const cc_sim_channel *ch = &s->cfg.ch[c];
    double r = ch->ph_ratio;
    if (ch->ph_ratio_spread > 0) r *= exp(ch->ph_ratio_spread * sim_rng_normal(&s->rng));
    return r;
}

/* Renders event ev into channel c as class cls; fills the truth. */
static void render(cc_sim *s, const sim_event *ev, uint32_t c, int cls, cc_sim_record *rec)
{
    const cc_sim_config *cfg = &s->cfg;
    const cc_sim_channel *ch = &cfg->ch[c];
    sim_chan *sc = &s->ch[c];
    sim_rng *r = &s->rng;
    uint32_t n = cfg->n_samples, trig = n / 4;
    double fs = cfg->fs_hz, T = window_ms(s), t_start = -T / 4.0, t_end = 0.75 * T;
    float *x = rec->samples;

    rec->n_samples = n;
    rec->trigger_index = trig;
    rec->fs_hz = fs;
    rec->channel = ch->id;
    rec->ch_index = c;
    rec->module = cfg->module;
    rec->class_id = cls;
    rec->accept = cc_sim_class_accept(cls);
    rec->testpulse = cls == CC_SIM_TESTPULSE;
    rec->rms_v = ch->rms_v;
    rec->ph_v = 0.0;
    rec->onset_ms = NAN;
    rec->n_pulses = 0;
    rec->artefact_v = 0.0;
    rec->artefact_ms = NAN;
    rec->saturated = 0;
    for (int k = 0; k < CC_SIM_MAX_PULSES; k++)
        rec->pulse_ph_v[k] = 0, rec->pulse_onset_ms[k] = NAN;

    /* noise, drift (drawn here, added with the last pass over the trace:
     * addition commutes with everything before saturation) */
    sim_noise_draw(s, c, x);
    double drift[4] = {0.0, 0.0, 0.0, 0.0};
    if (ch->drift_v > 0) {
        drift[1] = ch->drift_v * sim_rng_normal(r);
        drift[2] = ch->drift_v * sim_rng_normal(r);
        drift[3] = ch->drift_v * sim_rng_normal(r);
        drift[0] = -drift[2] / 3.0; /* zero mean over the window for the quadratic term */
    }
    /* decaying baseline */
    if (cls == CC_SIM_DECAY || cls == CC_SIM_DECAY_PULSE || cls == CC_SIM_DECAY_TAIL) {
        double a0 = ev->decay_ph_rel * ch->rms_v;
        double a_on = a0 * exp((t_start - ev->decay_onset_ms) / ev->decay_tau_ms);
        sim_add_exp(x, n, fs, trig, a_on, ev->decay_onset_ms, ev->decay_tau_ms);
        rec->artefact_v = a0;
        rec->artefact_ms = ev->decay_onset_ms;
    }
    double margin = 0.05 * T;
    switch (cls) {
    case CC_SIM_RISE: {
        double t0 = sim_rng_range(r, t_start, 0.5 * T - trig);
        double slope = sim_rng_range(r, 0.15, 1.5);
        sim_add_ramp(x, n, fs, trig, slope, t0);
        rec->artefact_v = slope, rec->artefact_ms = t0;
        break;
    }
    case CC_SIM_SPIKE: {
        double lo = fmax(20.0 * ch->rms_v, 0.01), hi = fmax(2.0, 2.0 * lo);
        double h = lo * exp(sim_rng_unif(r) * log(hi / lo));
        if (sim_rng_unif(r) < 0.5) h = -h;
        double w = sim_rng_range(r, 0.1, 1.0),
               t0 = sim_rng_range(r, t_start + margin, t_end - margin);
        sim_add_box(x, n, fs, trig, h, t0, w);
        rec->artefact_v = h, rec->artefact_ms = t0;
        break;
    }
    case CC_SIM_SQUARE: {
        double h = sim_rng_range(r, 2.0, 4.0) * ch->rms_v;
        double per = sim_rng_range(r, 10.0, 300.0), ph = sim_rng_range(r, 0.0, 2.0 * per);
        sim_add_square(x, n, fs, h, per, ph);
        rec->artefact_v = h, rec->artefact_ms = per;
        break;
    }
    case CC_SIM_JUMP: {
        double h = sim_rng_range(r, 0.1, 5.0) * (sim_rng_unif(r) < 0.5 ? -1.0 : 1.0);
        double w = sim_rng_range(r, 0.05, 1.0),
               t0 = sim_rng_range(r, t_start + margin, t_end - margin);
        sim_add_step(x, n, fs, trig, h, t0, w, h > 0);
        rec->artefact_v = h, rec->artefact_ms = t0;
        break;
    }
    default:
        break;
    }
    /* pulses */
    const cc_sim_shape *shape = &ch->shape;
    double norm = sc->shape_norm;
    int npulse = 0;
    double ratio = 1.0;
    switch (cls) {
    case CC_SIM_EVENT:
    case CC_SIM_DECAY_PULSE:
    case CC_SIM_RESET:
    case CC_SIM_TAIL:
    case CC_SIM_DECAY_TAIL:
    case CC_SIM_EARLYLATE:
        npulse = 1;
        ratio = ratio_for(s, c, ev);
        break;
    case CC_SIM_PILEUP:
        npulse = ev->n_pulses;
        ratio = ratio_for(s, c, ev);
        break;
    case CC_SIM_CARRIER:
        npulse = 1;
        shape = &ch->carrier, norm = sc->carrier_norm;
        break;
    case CC_SIM_TESTPULSE:
        npulse = 1;
        break;
    default:
        break;
    }
    double maxph = 0.0;
    for (int k = 0; k < npulse; k++) {
        double ph = ev->pile_ph0_v[k] * ratio, on = ev->pile_onset_ms[k];
        if (cls == CC_SIM_TESTPULSE) {
            ph = ch->tp_v[sc->tp_next];
            do sc->tp_next = (sc->tp_next + 1) % 4;
            while (!(ch->tp_v[sc->tp_next] > 0));
        } else if (cls == CC_SIM_CARRIER) {
            ph = draw_ph(s, ch);
        }
        sim_add_shape(x, n, fs, trig, shape, ph * norm, on);
        rec->pulse_ph_v[k] = ph, rec->pulse_onset_ms[k] = on;
        if (ph > maxph) maxph = ph;
    }
    rec->n_pulses = npulse;
    if (npulse) rec->ph_v = rec->pulse_ph_v[0], rec->onset_ms = rec->pulse_onset_ms[0];
    rec->snr = rec->ph_v / ch->rms_v;
    /* reset and tail: steps tied to the pulse */
    if (cls == CC_SIM_RESET) {
        double h = sim_rng_range(r, -0.9, -0.3) * rec->ph_v, t0 = rec->onset_ms + ch->shape.tau_in;
        sim_add_step(x, n, fs, trig, h, t0, 0.05, 0);
        rec->artefact_v = h, rec->artefact_ms = t0;
    } else if (cls == CC_SIM_TAIL || cls == CC_SIM_DECAY_TAIL) {
        double h = sim_rng_range(r, 0.15, 0.4) * rec->ph_v;
        sim_add_step(x, n, fs, trig, h, rec->onset_ms, 0.05, 1);
        rec->artefact_v = h, rec->artefact_ms = rec->onset_ms;
    }
    int has_drift = ch->drift_v > 0;
    if (ch->sat_v > 0 && maxph > 0.01 * ch->sat_v) {
        if (has_drift) sim_add_poly(x, n, drift);
        has_drift = 0;
        sim_saturate(x, n, ch->sat_v, sc->sat_a, sc->sat_b, ch->sat_nu, ch->sat_q);
        double p = pow(1.0 + ch->sat_q, 1.0 / ch->sat_nu);
        double lm = sc->sat_a *
                    (p * pow(1.0 + ch->sat_q * exp(-sc->sat_b * maxph), -1.0 / ch->sat_nu) - 1.0);
        rec->saturated = lm < 0.95 * maxph;
    }
    if (cfg->adc)
        sim_rasterise(x, n, has_drift ? drift : NULL);
    else if (has_drift)
        sim_add_poly(x, n, drift);
}

static int check_rec(const cc_sim *s, const cc_sim_record *r, cc_err *e)
{
    if (!r || !r->samples || r->n_samples != s->cfg.n_samples)
        return cc_err_set(e,
                          "sim: record buffer: expected %u samples (cc_sim_record_init), found %u",
                          s->cfg.n_samples, r && r->samples ? r->n_samples : 0);
    return 0;
}

/* Renders channel c of the current event (drawing a new event at c == 0). */
static void stream_step(cc_sim *s, uint32_t c, cc_sim_record *out)
{
    sim_event *ev = s->cur;
    if (c == 0) {
        draw_event(s, draw_class(s), -1, ev);
        s->time_s += -log(1.0 - sim_rng_unif(&s->rng)) / s->cfg.rate_hz;
    }
    int cls = ev->class_id;
    if (is_local(cls) && ev->local_ch != (int)c) cls = bystander_class(cls);
    render(s, ev, c, cls, out);
    out->event = s->event;
    out->time_s = s->time_s;
    if (c + 1 == s->cfg.n_channels) s->event++;
}

int cc_sim_next_event(cc_sim *s, cc_sim_record *recs, cc_err *e)
{
    for (uint32_t c = 0; c < s->cfg.n_channels; c++)
        if (check_rec(s, &recs[c], e)) return -1;
    if (s->stream_pos != 0) /* finish the event cc_sim_next() started */
        return cc_err_set(e,
                          "sim: cc_sim_next_event called in the middle of an event "
                          "streamed by cc_sim_next (channel %u of %u)",
                          s->stream_pos, s->cfg.n_channels);
    for (uint32_t c = 0; c < s->cfg.n_channels; c++) stream_step(s, c, &recs[c]);
    return 0;
}

int cc_sim_next(cc_sim *s, cc_sim_record *out, cc_err *e)
{
    if (check_rec(s, out, e)) return -1;
    stream_step(s, s->stream_pos, out);
    s->stream_pos = (s->stream_pos + 1) % s->cfg.n_channels;
    return 0;
}

int cc_sim_make(cc_sim *s, uint32_t ch_index, int class_id, double time_s, cc_sim_record *out,
                cc_err *e)
{
    if (ch_index >= s->cfg.n_channels)
        return cc_err_set(e, "sim: channel index %u out of range (module has %u channels)",
                          ch_index, s->cfg.n_channels);
    if (class_id < 0 || class_id >= CC_SIM_NCLASS_ID || !sim_class_valid(class_id))
        return cc_err_set(e, "sim: unknown class id %d", class_id);
    if (check_rec(s, out, e)) return -1;
    sim_event ev;
    draw_event(s, class_id, (int)ch_index, &ev);
    render(s, &ev, ch_index, class_id, out);
    out->event = s->event++;
    out->time_s = time_s;
    return 0;
}

void cc_sim_to_adc(const float *v, size_t n, int16_t *out)
{
    const float inv = 65536.0f / 20.0f, magic = 12582912.0f;
    for (size_t i = 0; i < n; i++) {
        float c = v[i] * inv;
        c = c < -32768.0f ? -32768.0f : c;
        c = c > 32767.0f ? 32767.0f : c;
        out[i] = (int16_t)((c + magic) - magic);
    }
}
