/* cc_sim.h - simulated DAQ: labelled records of a cryogenic detector module.
 *
 * A simulator (cc_sim) describes one detector module of 1-3 channels
 * (phonon, light, veto/ring) and draws triggered records with their truth.
 * A trace is built in the order of Cait's CryoAug (domain notes section 5):
 *   coloured noise from a noise power spectrum -> cubic drift -> decaying
 *   baseline -> temperature rise -> spike -> square wave -> SQUID jump ->
 *   pulses (Proebst model) -> reset -> tail -> saturation -> 16-bit ADC.
 * (Saturation is applied before rasterisation so every sample stays on the
 * ADC grid: volts = code * 20/65536.)
 *
 * Noise: complex Gaussian Fourier coefficients with variance NPS(f), DC and
 * Nyquist zero, one inverse real FFT (fftw3f) per record; the NPS is scaled
 * so that the expected baseline RMS equals the channel's rms_v exactly.
 * Pulses: exponentials evaluated by blocked recurrences, so a 16384-sample
 * record costs one FFT plus a few vector passes (bench/bench_sim.c).
 *
 * Events and classes: cc_sim_next_event() draws one module event (one
 * record per channel) from the configured class mix. Physics classes
 * (event pulse, noise, test pulse, pile-up, early/late trigger, decaying
 * baseline) are coincident in all channels with per-channel pulse heights;
 * electronics artefacts (jump, spike, temperature rise, square wave, reset,
 * tail, carrier hit) happen in one random channel while the others see what
 * a clean module would (noise or a coincident pulse). cc_sim_make() draws
 * one record of a given class in a given channel (for scenario replay).
 *
 * Class numbers are Cait's (CC_SIM_EVENT = 1, ...); classes Cait has no
 * number for use 21-23. accept = 1 for the clean classes (event pulse,
 * test pulse, noise, carrier event), 0 for every artefact.
 *
 * Determinism: the same config and seed give the same records, in the same
 * order, on the same machine and FFTW build (FFTW_ESTIMATE plans; FFTW may
 * pick different SIMD codelets on other CPUs, which changes the last bits).
 *
 * Threads: a cc_sim is used by one thread at a time. Creating or freeing a
 * simulator creates/destroys fftw3f plans, and FFTW's planner is not
 * thread-safe: do not call cc_sim_new()/cc_sim_free() concurrently from
 * several threads (serialise them, or call fftwf_make_planner_thread_safe()
 * from libfftw3f_threads once). cc_sim_next*() / cc_sim_make() only execute
 * plans and may run in parallel on different simulators.
 *
 * No globals: the RNG state lives in the cc_sim.
 */
#ifndef CC_SIM_H
#define CC_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "cc_err.h"
#include "cc_yaml.h"

#define CC_SIM_MAX_CH             3  /* channels per module */
#define CC_SIM_MAX_PULSES         5  /* pile-up components */
#define CC_SIM_NCLASS_ID          24 /* class ids are < this */
#define CC_SIM_ADC_VOLTS_PER_CODE (20.0 / 65536.0)

/* Record classes (Cait's numbers; 21-23 are cryoclean's). */
typedef enum cc_sim_class {
    CC_SIM_EVENT = 1,        /* particle pulse, onset near the trigger (clean) */
    CC_SIM_TESTPULSE = 2,    /* heater test pulse (clean) */
    CC_SIM_NOISE = 3,        /* empty baseline (clean) */
    CC_SIM_JUMP = 4,         /* SQUID flux-quantum jump, either sign */
    CC_SIM_SPIKE = 5,        /* short box */
    CC_SIM_EARLYLATE = 6,    /* one pulse far before/after the trigger */
    CC_SIM_PILEUP = 7,       /* 2-5 pulses */
    CC_SIM_CARRIER = 8,      /* direct hit of the TES carrier: fast pulse (clean) */
    CC_SIM_DECAY = 11,       /* decaying baseline (tail of an earlier pulse) */
    CC_SIM_RISE = 12,        /* temperature rise: linear ramp */
    CC_SIM_SQUARE = 14,      /* square wave: operating point toggling */
    CC_SIM_TAIL = 17,        /* pulse + positive step ("cosinus tail") */
    CC_SIM_RESET = 21,       /* pulse + negative jump (SQUID reset) */
    CC_SIM_DECAY_PULSE = 22, /* decaying baseline + event pulse */
    CC_SIM_DECAY_TAIL = 23,  /* decaying baseline + tail */
} cc_sim_class;

/* Detector kinds (choose the preset pulse shape and noise). */
typedef enum cc_sim_kind { CC_SIM_PHONON = 0, CC_SIM_LIGHT = 1, CC_SIM_VETO = 2 } cc_sim_kind;

/* Kind name ("phonon", "light", "veto") or NULL; kind for a name, or -1. */
const char *cc_sim_kind_name(cc_sim_kind kind);
int cc_sim_kind_from_name(const char *name);

/* Pulse-height distributions. */
typedef enum cc_sim_phdist {
    CC_SIM_PH_LOGUNIFORM = 0, /* log-uniform in [ph_min_v, ph_max_v] */
    CC_SIM_PH_UNIFORM = 1,    /* uniform in [ph_min_v, ph_max_v] */
    CC_SIM_PH_EXPONENTIAL = 2 /* ph_min_v + Exp(mean ph_mean_v), redrawn above ph_max_v */
} cc_sim_phdist;

/* Proebst pulse shape (times in ms); normalised internally to peak 1. */
typedef struct cc_sim_shape {
    double an, at;               /* amplitudes of the non-thermal / thermal components */
    double tau_n, tau_in, tau_t; /* ms: non-thermal decay, rise, thermal decay */
} cc_sim_shape;

/* Renders the simulator's peak-normalised pulse of shape sh into x[0..n):
 * x[i] = P(i - onset) / max P, P the Proebst shape (t in ms = samples/fs_hz
 * * 1e3), 0 before the onset; onset in samples (fractional), fs_hz the
 * sample rate. The same code (sim_add_shape, sim_shape_peak) draws every
 * simulated pulse. x is overwritten. */
void cc_sim_shape_render(const cc_sim_shape *sh, double fs_hz, double onset, float *x, uint32_t n);

/* Result of cc_sim_shape_fit. */
typedef struct cc_sim_shape_fitres {
    cc_sim_shape shape; /* fitted; an, at scaled so that the Proebst sum itself fits y */
    double onset;       /* onset in samples (fractional), as cc_sim_shape_render takes it */
    double peak;        /* fitted height: y ~ peak * cc_sim_shape_render(shape, onset) */
    double rms;         /* RMS over the window of y minus that fit */
    int evals;          /* model evaluations spent */
} cc_sim_shape_fitres;

/* Fits the simulator's pulse model to y[0..n) (a standard event at fs_hz,
 * peak about 1): (at/an, tau_n, tau_in, tau_t, onset) by Nelder-Mead in log
 * time constants and log ratio, with the amplitude solved by least squares
 * at each step, from several starts (the phonon and light presets and a
 * small grid, each restarted once); minimises the squared residual over the
 * whole window. n >= 64. Returns 0, or -1 with e (bad input, no memory). */
int cc_sim_shape_fit(const float *y, uint32_t n, double fs_hz, cc_sim_shape_fitres *out, cc_err *e);

/* Noise power spectrum, in arbitrary units (the level is set by rms_v):
 * NPS(f) = sum_k c[k]/(f+1)^alpha[k] + white, times 1/(1+(f/rolloff_hz)^(2*order)),
 * plus Gaussian lines of width 1 Hz at 50, 150, 250 Hz with heights
 * mains[0..2] relative to NPS(50 Hz) without lines. */
typedef struct cc_sim_nps {
    int n_terms; /* 0..3 */
    double c[3], alpha[3];
    double white;
    double rolloff_hz; /* 0 = none */
    int rolloff_order;
    double mains[3];
} cc_sim_nps;

/* One channel of the module. */
typedef struct cc_sim_channel {
    char name[24];
    uint32_t id; /* channel id on the wire (cc_rec_hdr.channel) */
    cc_sim_kind kind;
    cc_sim_shape shape;   /* particle pulse */
    cc_sim_shape carrier; /* carrier-hit pulse */
    double rms_v;         /* baseline RMS of the noise, volts */
    cc_sim_nps nps;
    double drift_v; /* stddev of each cubic drift coefficient over the window, volts */
    cc_sim_phdist ph_dist;
    double ph_min_v, ph_max_v, ph_mean_v;
    double line_v, line_sigma_v, line_frac; /* calibration line (Co-57 122 keV) */
    double ph_ratio;        /* pulse height relative to channel 0 in coincident events */
    double ph_ratio_spread; /* relative lognormal spread of ph_ratio */
    double sat_v;           /* saturation level K of the logistic; 0 = no saturation */
    double sat_q, sat_nu;   /* logistic shape (Q, nu); B follows from L'(0) = 1 */
    double tp_v[4];         /* test-pulse heights, cycled; 0 entries are skipped */
} cc_sim_channel;

/* The module and the class mix. */
typedef struct cc_sim_config {
    uint32_t n_samples;  /* record length; trigger at n_samples/4 */
    double fs_hz;        /* sample rate */
    uint16_t module;     /* module id on the wire */
    uint32_t n_channels; /* 1..CC_SIM_MAX_CH */
    cc_sim_channel ch[CC_SIM_MAX_CH];
    double class_weight[CC_SIM_NCLASS_ID]; /* by class id; need not sum to 1 */
    double onset_ms; /* event onsets U(-onset_ms, onset_ms) around the trigger */
    double pileup_dt_lo_ms, pileup_dt_hi_ms; /* pile-up: later pulses U(lo, hi) after the
                                                first, within 3/4 of the window (3, 1e9) */
    double rate_hz;  /* module event rate for the simulated timestamps (Poisson) */
    int adc;         /* 1: rasterise to the 16-bit ADC grid (default), 0: keep floats */
    int fft_measure; /* 1: plan the FFT with FFTW_MEASURE (~25 % faster, ~0.5 s to plan,
                        bitwise reproducible only with the same FFTW wisdom); 0 (default):
                        FFTW_ESTIMATE, reproducible run to run */
} cc_sim_config;

/* One simulated record and its truth. samples[n_samples] is owned by the
 * record (cc_sim_record_init / cc_sim_record_release). */
typedef struct cc_sim_record {
    float *samples; /* volts */
    uint32_t n_samples;
    uint32_t trigger_index;
    double fs_hz;
    uint32_t channel;  /* wire channel id */
    uint32_t ch_index; /* index in the module, 0..n_channels-1 */
    uint16_t module;
    uint64_t event;  /* module event number (0, 1, ...) */
    double time_s;   /* simulated event time since the start, seconds */
    int class_id;    /* cc_sim_class */
    int accept;      /* 1 clean, 0 artefact */
    int testpulse;   /* 1 for heater test pulses (CC_REC_F_TESTPULSE) */
    double ph_v;     /* height of the triggered pulse before saturation, 0 if none */
    double onset_ms; /* onset of the triggered pulse vs the trigger; NaN if none */
    double snr;      /* ph_v / rms_v (0 without a pulse) */
    double rms_v;    /* requested baseline RMS */
    int n_pulses;    /* pulses in the window (pile-up components) */
    double pulse_ph_v[CC_SIM_MAX_PULSES];
    double pulse_onset_ms[CC_SIM_MAX_PULSES];
    double artefact_v;  /* jump/step height, spike height, ramp slope (V/s), square height */
    double artefact_ms; /* time of the artefact vs the trigger (jump, spike, step) */
    int saturated;      /* 1 if the logistic compressed the pulse by more than 5 % */
} cc_sim_record;

/* Fills *cfg with a realistic two-channel module (phonon + light, 16384
 * samples at 25 kHz, 1 mV / 2 mV baseline RMS, Co-57 line on the phonon
 * channel, a class mix dominated by clean pulses and noise). */
void cc_sim_config_default(cc_sim_config *cfg);

/* Sets ch to the preset of a detector kind (shape, noise, heights); keeps
 * ch->id and sets ch->name to the kind's name. */
void cc_sim_channel_preset(cc_sim_channel *ch, cc_sim_kind kind);

/* Applies a YAML mapping (the `sim:` block or a whole file, see
 * docs/SIMULATOR.md) on top of *cfg. Unknown keys and out-of-range values
 * are errors with file:line:col. */
int cc_sim_config_from_yaml(const cc_ynode *map, cc_sim_config *cfg, cc_err *e);

/* Loads a YAML file into *cfg (starting from the defaults). */
int cc_sim_config_load(const char *path, cc_sim_config *cfg, cc_err *e);

/* Checks ranges and consistency (lengths, rates, shapes, weights). */
int cc_sim_config_check(const cc_sim_config *cfg, cc_err *e);

/* Creates a simulator for cfg (copied) and seed. Returns NULL with e on an
 * invalid config or allocation failure. See the thread note above. */
typedef struct cc_sim cc_sim;
cc_sim *cc_sim_new(const cc_sim_config *cfg, uint64_t seed, cc_err *e);

/* Frees the simulator and sets *s to NULL (NULL-safe). */
void cc_sim_free(cc_sim **s);

/* The simulator's (validated) configuration. */
const cc_sim_config *cc_sim_get_config(const cc_sim *s);

/* Allocates r->samples for n samples; 0 or -1 with e. */
int cc_sim_record_init(cc_sim_record *r, uint32_t n, cc_err *e);

/* Frees r->samples (NULL-safe) and zeroes r. */
void cc_sim_record_release(cc_sim_record *r);

/* Draws one module event: recs[0..n_channels-1] (initialised with
 * cc_sim_record_init for n_samples) get one coincident record each. */
int cc_sim_next_event(cc_sim *s, cc_sim_record *recs, cc_err *e);

/* Returns the records of successive module events one at a time, channel
 * after channel (a stream); out must be initialised for n_samples. */
int cc_sim_next(cc_sim *s, cc_sim_record *out, cc_err *e);

/* Draws one record of class class_id in channel ch_index at time_s (no
 * coincidence with other channels). Fails on an unknown class. */
int cc_sim_make(cc_sim *s, uint32_t ch_index, int class_id, double time_s, cc_sim_record *out,
                cc_err *e);

/* Converts volts to int16 ADC codes (code = round(v * 65536/20), clipped to
 * [-32768, 32767]); exact for rasterised records. */
void cc_sim_to_adc(const float *v, size_t n, int16_t *out);

/* Class name ("event", "testpulse", "noise", "jump", ...) or NULL if unknown. */
const char *cc_sim_class_name(int class_id);

/* Class id for a name, or -1. */
int cc_sim_class_from_name(const char *name);

/* 1 if the class is clean (accepted), 0 if an artefact, -1 if unknown. */
int cc_sim_class_accept(int class_id);

/* The n class ids in ascending order into ids (n <= CC_SIM_NCLASS_ID);
 * returns the number of classes. */
int cc_sim_class_list(int *ids, int n);

/* The channel's normalised noise power spectrum at f (NPS shape, peak
 * normalisation arbitrary but fixed): what the noise follows. */
double cc_sim_nps_eval(const cc_sim_nps *nps, double f_hz);

/* The expected periodogram of channel ch's noise, E|rfft(x)_k|^2 for
 * k = 0..n_samples/2 (numpy's unnormalised rfft, as Cait's noise/nps), into
 * out[n_samples/2 + 1]. Without ADC quantisation and drift. */
void cc_sim_nps_expected(const cc_sim *s, uint32_t ch, float *out);

/* Draws a uniform double in [0, 1) from the simulator's RNG. */
double cc_sim_uniform(cc_sim *s);

/* ---- scenarios (lib/sim/scenario.c) ----
 *
 * A scenario is a set of channels (each its own simulator, possibly in
 * different modules) with per-class Poisson rates that change over time:
 *
 *   scenario:
 *     duration_s: 300            # optional end of the scenario
 *     samples: 16384             # record length of every channel
 *     channels:
 *       - id: 7
 *         module: 3
 *         kind: phonon           # preset; also rms_v and the cc_sim channel keys
 *         rates: {event: 2.0, noise: 0.5, jump: 0.05}      # Hz per class
 *         changes:
 *           - {class: jump, from_s: 120, for_s: 60, factor: 5}  # or rate_hz: X
 *
 * Records come out in time order; rec->time_s is the scenario time. Each
 * (channel, class) is an inhomogeneous Poisson process with piecewise
 * constant rate (base rate times the factors of the active changes, or the
 * rate_hz of the latest active change that sets one). Deterministic per seed.
 */
typedef struct cc_scenario cc_scenario;

/* One rate change, for reports: channel id, class, window [from_s, to_s). */
typedef struct cc_scenario_window {
    uint32_t channel;
    int class_id;
    double from_s, to_s;
    double factor;  /* multiplier, or NAN when rate_hz is set */
    double rate_hz; /* absolute rate, or NAN */
} cc_scenario_window;

/* Loads a scenario from YAML (a top-level `scenario:` key or the mapping itself). */
cc_scenario *cc_scenario_load(const char *path, uint64_t seed, cc_err *e);

/* Builds a scenario from an already parsed mapping. */
cc_scenario *cc_scenario_from_yaml(const cc_ynode *map, uint64_t seed, cc_err *e);

/* Frees *s and sets it to NULL (NULL-safe). */
void cc_scenario_free(cc_scenario **s);

/* Record length of every channel. */
uint32_t cc_scenario_n_samples(const cc_scenario *s);

/* End of the scenario in seconds (INFINITY when not set). */
double cc_scenario_duration(const cc_scenario *s);

/* Number of rate-change windows and the i-th one. */
size_t cc_scenario_n_windows(const cc_scenario *s);
const cc_scenario_window *cc_scenario_window_get(const cc_scenario *s, size_t i);

/* Rate of class class_id on channel id at scenario time t (Hz); 0 if unknown. */
double cc_scenario_rate(const cc_scenario *s, uint32_t channel, int class_id, double t);

/* Draws the next record in time order into out (initialised for
 * cc_scenario_n_samples). Returns 1, or 0 when the next record would come
 * after the scenario's duration (or no rate is left), or -1 with e. */
int cc_scenario_next(cc_scenario *s, cc_sim_record *out, cc_err *e);

#endif
