/* sim_noise.c - coloured Gaussian noise from a noise power spectrum.
 *
 * For bin k (1 <= k < n/2) the Fourier coefficient is a circular complex
 * Gaussian with E|X_k|^2 = A_k^2, A_k = c * sqrt(NPS(f_k)); DC and Nyquist are
 * zero. With FFTW's unnormalised c2r transform the time-domain variance is
 * 2 * sum_k A_k^2, so c is chosen to make that rms_v^2: the expected baseline
 * RMS is exactly the requested one, independent of n and fs.
 *
 * The coefficients are drawn by Box-Muller in polar form, |X| = A*sqrt(-ln u1),
 * arg X = 2*pi*u2, with u1 = H(k*m + a), u2 = H(u1 ^ b) from a counter-based
 * hash H (lowbias32, a bijection of 32-bit words); the odd multiplier m and
 * the keys a, b are drawn from the simulator's RNG for each record. The kernel
 * uses GCC/Clang vector extensions (8 lanes) and division-free polynomial log and
 * sin/cos on a quarter turn plus a quadrant (< 5e-6 relative error); it is built for AVX2 and a
 * baseline target (target_clones) and gives the same numbers on both (no FMA contraction under
 * -std=c11).
 */
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"
#include "sim_vec.h"

double cc_sim_nps_eval(const cc_sim_nps *nps, double f)
{
    double v = nps->white;
    for (int k = 0; k < nps->n_terms && k < 3; k++) v += nps->c[k] / pow(f + 1.0, nps->alpha[k]);
    if (nps->rolloff_hz > 0) v /= 1.0 + pow(f / nps->rolloff_hz, 2.0 * nps->rolloff_order);
    static const double mains_f[3] = {50.0, 150.0, 250.0};
    double base50 = 0.0;
    int any = nps->mains[0] > 0 || nps->mains[1] > 0 || nps->mains[2] > 0;
    if (any) {
        cc_sim_nps plain = *nps;
        plain.mains[0] = plain.mains[1] = plain.mains[2] = 0.0;
        base50 = cc_sim_nps_eval(&plain, 50.0);
    }
    for (int k = 0; k < 3; k++)
        if (nps->mains[k] > 0) {
            double d = (f - mains_f[k]) / 1.0;
            v += nps->mains[k] * base50 * exp(-0.5 * d * d);
        }
    return v;
}

int sim_noise_setup(cc_sim *s, cc_err *e)
{
    uint32_t n = s->cfg.n_samples, nb = n / 2 + 1;
    size_t padded = (size_t)(nb + 2 * VL);
    s->spec = fftwf_malloc(sizeof(fftwf_complex) * padded);
    s->noise = fftwf_malloc(sizeof(float) * n);
    if (!s->spec || !s->noise) return cc_err_set(e, "sim: out of memory for %u-sample noise", n);
    s->plan = fftwf_plan_dft_c2r_1d((int)n, s->spec, s->noise,
                                    s->cfg.fft_measure ? FFTW_MEASURE : FFTW_ESTIMATE);
    if (!s->plan) return cc_err_set(e, "sim: fftwf could not plan a %u-point inverse FFT", n);
    memset(s->spec, 0, sizeof(fftwf_complex) * padded); /* FFTW_MEASURE overwrites the arrays */
    for (uint32_t c = 0; c < s->cfg.n_channels; c++) {
        const cc_sim_channel *ch = &s->cfg.ch[c];
        float *amp = calloc(padded, sizeof(float));
        if (!amp) return cc_err_set(e, "sim: out of memory");
        s->ch[c].amp = amp;
        double sum = 0.0;
        double *a2 = malloc(sizeof(double) * nb);
        if (!a2) return cc_err_set(e, "sim: out of memory");
        for (uint32_t k = 1; k + 1 < nb; k++) {
            double v = cc_sim_nps_eval(&ch->nps, (double)k * s->cfg.fs_hz / (double)n);
            a2[k] = v > 0 ? v : 0.0;
            sum += a2[k];
        }
        if (!(sum > 0))
            return cc_err_set(e, "sim: channel %u (%s): the noise power spectrum is zero", c,
                              ch->name);
        double scale = ch->rms_v * ch->rms_v / (2.0 * sum);
        for (uint32_t k = 1; k + 1 < nb; k++) amp[k] = (float)sqrt(a2[k] * scale);
        free(a2);
    }
    return 0;
}

VINLINE v8u hash32(v8u x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

/* (0, 1) from the top 24 bits */
VINLINE v8f unit_open(v8u h)
{
    v8i t = (v8i)(h >> 8);
    return (__builtin_convertvector(t, v8f) + 0.5f) * (1.0f / 16777216.0f);
}

/* natural log for x in (0, 1]: x = 2^e * m, m in [sqrt(1/2), sqrt(2)),
 * log(m) = f - f^2/2 + f^3 P(f) with f = m - 1 (Cephes logf; no division) */
VINLINE v8f vlog(v8f x)
{
    v8i bits = (v8i)x;
    v8i ex = ((bits >> 23) & 0xff) - 127;
    v8f m = (v8f)((bits & 0x7fffff) | 0x3f800000); /* [1, 2) */
    v8i big = vgt(m, m * 0.0f + 1.41421356f);      /* -1 where true */
    v8f half = m * 0.5f;
    m = (v8f)(((v8i)m & ~big) | ((v8i)half & big));
    ex -= big;
    v8f f = m - 1.0f, z = f * f;
    v8f p = f * 7.0376836292E-2f - 1.1514610310E-1f;
    p = p * f + 1.1676998740E-1f;
    p = p * f - 1.2420140846E-1f;
    p = p * f + 1.4249322787E-1f;
    p = p * f - 1.6668057665E-1f;
    p = p * f + 2.0000714765E-1f;
    p = p * f - 2.4999993993E-1f;
    p = p * f + 3.3333331174E-1f;
    return __builtin_convertvector(ex, v8f) * 0.69314718f + (f - 0.5f * z + f * z * p);
}

VINLINE v8f vsqrt(v8f x) /* x > 0 */
{
    v8i i = 0x5f3759df - ((v8i)x >> 1);
    v8f y = (v8f)i;
    v8f hx = 0.5f * x;
    y = y * (1.5f - hx * y * y); /* two Newton steps: relative error < 5e-6 */
    y = y * (1.5f - hx * y * y);
    return x * y;
}

/* cos and sin of a in [-pi/4, pi/4] (Taylor to a^8 / a^9: error < 4e-8) */
VINLINE void vsincos(v8f a, v8f *s, v8f *c)
{
    v8f a2 = a * a;
    *s = a *
         (1.0f + a2 * (-1.0f / 6 + a2 * (1.0f / 120 + a2 * (-1.0f / 5040 + a2 * (1.0f / 362880)))));
    *c = 1.0f + a2 * (-0.5f + a2 * (1.0f / 24 + a2 * (-1.0f / 720 + a2 * (1.0f / 40320))));
}

/* 16 coefficients from bin k on */
VINLINE void coeff_block(float *restrict spec, const float *restrict amp, uint32_t k, uint32_t km,
                         uint32_t ka, uint32_t kb)
{
    const v8u lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    v8u h1 = hash32((lane + k) * km + ka);
    v8u h2 = hash32(h1 ^ kb);
    v8f r = vsqrt(-vlog(unit_open(h1)));
    /* phase: a quadrant from 2 bits of h2, an angle in [-pi/4, pi/4) from 24 */
    v8f th = (unit_open(h2 << 2) - 0.5f) * 1.57079633f;
    v8f sn, cs;
    vsincos(th, &sn, &cs);
    v8i odd = -(v8i)((h2 >> 30) & 1u), neg_re = (v8i)((h2 >> 31) << 31);
    v8f x = vsel(odd, sn, cs), y = vsel(odd, cs, sn); /* rotate by 90 deg: (-s, c) */
    v8i neg_x = neg_re ^ (odd & (int32_t)0x80000000u), neg_y = neg_re;
    v8f m = vload(amp + k) * r;
    v8f re = (v8f)((v8i)(m * x) ^ neg_x), im = (v8f)((v8i)(m * y) ^ neg_y);
    v8f lo = VSHUF2(re, im, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    v8f hi = VSHUF2(re, im, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    memcpy(spec + 2 * k, &lo, sizeof lo);
    memcpy(spec + 2 * k + VL, &hi, sizeof hi);
}

/* Two independent blocks per iteration: the polynomial chains are latency
 * bound, so this gives the out-of-order core two to overlap. spec and amp
 * are padded to a multiple of 2 * VL bins. */
SIM_CLONES static void noise_coeffs(float *restrict spec, const float *restrict amp, uint32_t nb,
                                    uint32_t km, uint32_t ka, uint32_t kb)
{
    for (uint32_t k = 0; k < nb; k += 2 * VL) {
        coeff_block(spec, amp, k, km, ka, kb);
        coeff_block(spec, amp, k + VL, km, ka, kb);
    }
}

void sim_noise_draw(cc_sim *s, uint32_t ch, float *out)
{
    uint32_t n = s->cfg.n_samples, nb = n / 2 + 1;
    uint64_t k1 = cc_rng_u64(&s->rng), k2 = cc_rng_u64(&s->rng);
    noise_coeffs((float *)s->spec, s->ch[ch].amp, nb, (uint32_t)k1 | 1u, (uint32_t)(k1 >> 32),
                 (uint32_t)k2);
    s->spec[0][0] = s->spec[0][1] = 0.0f;
    s->spec[nb - 1][0] = s->spec[nb - 1][1] = 0.0f;
    if (fftwf_alignment_of(out) == fftwf_alignment_of(s->noise)) {
        fftwf_execute_dft_c2r(s->plan, s->spec, out); /* records come from fftwf_malloc */
    } else {
        fftwf_execute(s->plan);
        memcpy(out, s->noise, sizeof(float) * n);
    }
}

void cc_sim_nps_expected(const cc_sim *s, uint32_t ch, float *out)
{
    uint32_t n = s->cfg.n_samples, nb = n / 2 + 1;
    for (uint32_t k = 0; k < nb; k++) {
        double a = ch < s->cfg.n_channels ? s->ch[ch].amp[k] : 0.0;
        out[k] = (float)((double)n * (double)n * a * a);
    }
}
