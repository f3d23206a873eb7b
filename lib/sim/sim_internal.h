/* sim_internal.h - private parts of the simulator shared by the lib/sim sources.
 *
 * The RNG is xoshiro256** seeded through splitmix64; its state lives in the
 * cc_sim. The noise kernel uses a counter-based 32-bit hash keyed by two
 * words drawn from that RNG per record, so it vectorises.
 */
#ifndef CC_SIM_INTERNAL_H
#define CC_SIM_INTERNAL_H

#include <fftw3.h>
#include <math.h>
#include <stdint.h>

#include "cc_sim.h"

typedef struct sim_rng {
    uint64_t s[4];
    double spare; /* cached second normal */
    int has_spare;
} sim_rng;

void sim_rng_seed(sim_rng *r, uint64_t seed);

static inline uint64_t sim_rng_u64(sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5;
    uint64_t res = ((x << 7) | (x >> 57)) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return res;
}

/* Uniform in [0, 1). */
static inline double sim_rng_unif(sim_rng *r)
{
    return (double)(sim_rng_u64(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [a, b). */
static inline double sim_rng_range(sim_rng *r, double a, double b)
{
    return a + (b - a) * sim_rng_unif(r);
}

double sim_rng_normal(sim_rng *r);

/* Per-channel precomputed state. */
typedef struct sim_chan {
    float *amp;        /* n_samples/2+1 Fourier amplitudes (sqrt of scaled NPS) */
    double shape_norm; /* 1 / peak of the particle shape */
    double carrier_norm;
    double shape_tpeak_ms; /* time of the peak after onset */
    double sat_b, sat_a;   /* derived logistic constants (see sim_pulse.c) */
    unsigned tp_next;      /* next test-pulse height index */
} sim_chan;

struct cc_sim {
    cc_sim_config cfg;
    sim_rng rng;
    sim_chan ch[CC_SIM_MAX_CH];
    fftwf_complex *spec; /* n/2 (+ padding): the half-length spectrum Z (sim_noise.c) */
    float *noise;        /* n: FFT output when a record buffer is not aligned */
    float *twc, *tws;    /* cos, sin of 2 pi k/n for k < n/4 (+ padding) */
    fftwf_plan plan;     /* complex inverse FFT of length n/2 */
    double cum_weight[CC_SIM_NCLASS_ID]; /* cumulative class weights */
    uint64_t event;                      /* next module event number */
    double time_s;                       /* time of the last event */
    /* stream state for cc_sim_next: the current event and the next channel */
    struct sim_event *cur;
    uint32_t stream_pos;
};

/* Event-level draws shared by the channels of one module event. */
typedef struct sim_event {
    int class_id;
    double onset_ms; /* triggered pulse */
    double ph0_v;    /* channel-0 height of the triggered pulse */
    int n_pulses;
    double pile_onset_ms[CC_SIM_MAX_PULSES];
    double pile_ph0_v[CC_SIM_MAX_PULSES];              /* channel-0 heights */
    double decay_onset_ms, decay_tau_ms, decay_ph_rel; /* decaying baseline */
    int local_ch;                                      /* channel of a local artefact, -1 none */
} sim_event;

/* sim_noise.c */
int sim_noise_setup(cc_sim *s, cc_err *e);
void sim_noise_draw(cc_sim *s, uint32_t ch, float *out);

/* sim_pulse.c */
double sim_shape_peak(const cc_sim_shape *sh, double *tpeak_ms);
void sim_add_shape(float *x, uint32_t n, double fs, uint32_t trig, const cc_sim_shape *sh,
                   double amp, double onset_ms);
void sim_add_exp(float *x, uint32_t n, double fs, uint32_t trig, double amp, double onset_ms,
                 double tau_ms);
void sim_add_step(float *x, uint32_t n, double fs, uint32_t trig, double h, double t_ms,
                  double w_ms, int ramp);
void sim_add_box(float *x, uint32_t n, double fs, uint32_t trig, double h, double t_ms,
                 double w_ms);
void sim_add_poly(float *x, uint32_t n, const double c[4]);
void sim_add_ramp(float *x, uint32_t n, double fs, uint32_t trig, double slope, double t_ms);
void sim_add_square(float *x, uint32_t n, double fs, double h, double period_ms, double phase_ms);
void sim_saturate(float *x, uint32_t n, double k, double a, double b, double nu, double q);
/* adds the cubic c (as sim_add_poly, if non-NULL) and rounds to the ADC grid */
void sim_rasterise(float *x, uint32_t n, const double *c);

/* sim_config.c */
int sim_class_valid(int id);

#endif
