/* cc_mainpar.h - classical pulse-shape features ("main parameters") of one record.
 *
 * The numbers an analyst cuts on, computed the way CRESST's analysis package
 * Cait does (calc_main_parameters + calc_additional_parameters), so cut values
 * carry over from an existing analysis:
 *
 *   offset      mean of the first n/8 raw samples
 *   s[i]        the record minus offset, smoothed by a 50-sample moving
 *               average over raw[i-25 .. i+24], edges repeated (Cait's
 *               box_car_smoothing); every other parameter is read from s
 *   pulse_height  max(s)
 *   linear_drift  (mean of the last 500 - mean of the first 500 of s) / n,
 *                 volts per sample
 *   t_max       argmax of s[i] - linear_drift * i (first one on ties)
 *   with h = s[t_max]:
 *   t_zero      last i <  t_max with s[i] < 0.2 h          (none: 0)
 *   t_rise      first i >= t_zero with s[i] > 0.8 h        (none: 0)
 *   t_end       first i >= t_max with s[i] < 0.368 h       (none: n-1, NO_DECAY)
 *   t_half      last i <= t_end with s[i] > 0.736 h        (none: t_end)
 *   t_decaystart last i <= t_half with s[i] > 0.9 h        (none: t_half)
 *   rise_time = t_rise - t_zero, decay_time = t_end - t_decaystart,
 *   onset = t_zero - trigger, all converted to milliseconds with fs.
 *
 * Additional parameters, also on s: max, min (Cait's code stores the max
 * twice here; this is the real minimum), mean and variance of the first and
 * last n/8, mean, variance and skewness (population moments, m3 / m2^1.5, 0
 * for a constant trace) of the whole trace, and the extrema of the first
 * difference d[i] = s[i+1] - s[i] (volts per sample) with their indices.
 *
 * cryoclean extras (not in Cait), used by the `cuts` classifier. They are
 * measured from the baseline line, the straight line through the means of
 * the first and last drift windows of s at their centres (Cait's linear_drift
 * is its slope times (n - 500) / n and has no intercept), and only over the
 * interior [25, n-25), where the moving average is complete: the edge values
 * repeat raw[0] or raw[n-1] up to 26 times, so their noise is larger.
 *   noise_rms       the noise of s: the interior cut into CC_MP_NOISE_BLOCKS
 *                   blocks, each block's RMS about its least-squares line, the
 *                   median of those. A pulse, an early pulse, a decaying
 *                   baseline or a drift spoils a few blocks, not the median
 *                   (sqrt(var_start) would be inflated by each of them).
 *   height_nodrift  max of s above the baseline line: tells a pulse from a
 *                   drifting noise trace
 *   min_nodrift     min of s below the baseline line: negative excursions
 *                   (negative jumps and spikes, resets) independent of drift
 *   rerise          the largest rise of s - line after t_max above the lowest
 *                   point reached since t_max: a second (pile-up) pulse on the
 *                   decay; about the noise range for a clean pulse
 *   resid_max, resid_rms  the residual raw - offset - s (what the smoothing
 *                   took away): its largest magnitude, and the median of the
 *                   blocks' RMS. A spike shorter than the 2 ms window hardly
 *                   shows in s but stands out here; on a pulse the residual
 *                   also holds the pulse's own sharp onset, so only compare
 *                   the two on records without a pulse.
 *
 * Edge cases: n < CC_MP_MIN_SAMPLES is refused (CC_MP_TOO_SHORT, *out
 * zeroed). For n < 1000 the two drift windows shrink from 500 to n/8 samples
 * (Cait would overlap them). Any NaN/Inf (or a sample beyond CC_MP_MAX_ABS,
 * where squares and sums would overflow floats) gives CC_MP_NONFINITE. A constant
 * trace gives all-zero heights and CC_MP_FLAT; a trace that never falls below
 * 36.8 % after its maximum (a step, a pulse cut off by the window) sets
 * CC_MP_NO_DECAY. A noise trace without pulse still gets every parameter;
 * the timing ones then describe the largest noise excursion, so a consumer
 * compares height_nodrift with a threshold before trusting them.
 *
 * Cost: about eight O(n) passes (~0.15 ms for 16384 samples), no allocation;
 * the caller supplies n floats of scratch (the smoothed trace, readable
 * afterwards). No globals: any number of threads may call it with their own
 * scratch.
 */
#ifndef CC_MAINPAR_H
#define CC_MAINPAR_H

#include <stddef.h>
#include <stdint.h>

#define CC_MP_SMOOTH       50    /* moving-average length (samples) */
#define CC_MP_DRIFT_WIN    500   /* drift window at each end (samples), n >= 1000 */
#define CC_MP_NOISE_BLOCKS 8     /* blocks of the noise_rms median */
#define CC_MP_MIN_SAMPLES  128   /* shortest record accepted (> CC_MP_SMOOTH) */
#define CC_MP_MAX_ABS      1e15f /* larger |samples| count as non-finite (volts) */

/* Result of cc_mainpar_compute(). */
typedef enum {
    CC_MP_OK = 0,
    CC_MP_TOO_SHORT = 1, /* n < CC_MP_MIN_SAMPLES */
    CC_MP_NONFINITE = 2, /* NaN, Inf or |x| > CC_MP_MAX_ABS in the record */
    CC_MP_BADARG = 3,    /* fs <= 0 or not finite, or NULL pointers */
} cc_mp_status;

/* Bits of cc_mainpar.flags. */
#define CC_MP_FLAT     1u /* s is constant (dead channel, stuck ADC) */
#define CC_MP_NO_DECAY 2u /* s never falls below 36.8 % of h after t_max */

typedef struct cc_mainpar {
    /* Cait main parameters (volts, sample indices, milliseconds) */
    double pulse_height, offset, linear_drift;
    uint32_t t_zero, t_rise, t_max, t_decaystart, t_half, t_end;
    double rise_time_ms, decay_time_ms, onset_ms;
    /* Cait additional parameters */
    double max, min;
    double mean_start, var_start, mean_end, var_end;
    double mean, var, skew;
    double der_max, der_min; /* volts per sample */
    uint32_t der_max_pos, der_min_pos;
    /* cryoclean extras (see above) */
    double noise_rms, height_nodrift, min_nodrift, rerise;
    double resid_max, resid_rms;
    uint32_t n;
    uint32_t flags; /* CC_MP_* bits */
} cc_mainpar;

/* Computes the parameters of x[n] sampled at fs_hz with the trigger at sample
 * trigger (onset is measured from it; it may lie outside [0, n)). scratch must
 * hold n floats and receives the smoothed, offset-subtracted trace s. Fills
 * *out and returns CC_MP_OK, or another status with *out zeroed. */
cc_mp_status cc_mainpar_compute(const float *x, size_t n, double fs_hz, int64_t trigger,
                                float *scratch, cc_mainpar *out);

/* Short name of a status ("ok", "too short", "non-finite", "bad argument"). */
const char *cc_mainpar_status_str(cc_mp_status s);

#endif
