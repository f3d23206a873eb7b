/* sim_noise.c - coloured Gaussian noise from a noise power spectrum.
 *
 * For bin k (1 <= k < n/2) the Fourier coefficient is a circular complex
 * Gaussian with E|X_k|^2 = A_k^2, A_k = c * sqrt(NPS(f_k)); DC and Nyquist are
 * zero. With the unnormalised inverse transform the time-domain variance is
 * 2 * sum_k A_k^2, so c is chosen to make that rms_v^2: the expected baseline
 * RMS is exactly the requested one, independent of n and fs. The real inverse
 * FFT of length n is computed as a complex one of length n/2 (see
 * noise_coeffs): FFTW_ESTIMATE plans it ~20 % faster than its own c2r.
 *
 * The coefficients are drawn by Box-Muller in polar form, |X| = A*sqrt(-ln u1),
 * arg X = 2*pi*u2, with u1 = H(k*m + a), u2 = H(u1 ^ b) from a counter-based
 * hash H (lowbias32, a bijection of 32-bit words); the odd multiplier m and
 * the keys a, b are drawn from the simulator's RNG for each record. The kernel
 * uses vector extensions (16 lanes, sim_vec.h), a division-free polynomial log
 * and sin/cos on a quarter turn plus a quadrant (< 5e-6 relative error), and is
 * built for AVX-512, AVX2 and baseline x86-64 with the same results.
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
    size_t padded = (size_t)(nb + 2 * VL), nq = n / 4 + 2 * VL;
    s->spec = fftwf_malloc(sizeof(fftwf_complex) * (n / 2 + VL));
    s->noise = fftwf_malloc(sizeof(float) * n);
    s->twc = fftwf_malloc(sizeof(float) * nq);
    s->tws = fftwf_malloc(sizeof(float) * nq);
    if (!s->spec || !s->noise || !s->twc || !s->tws)
        return cc_err_set(e, "sim: out of memory for %u-sample noise", n);
    for (size_t k = 0; k < nq; k++) {
        s->twc[k] = (float)cos(2.0 * M_PI * (double)k / (double)n);
        s->tws[k] = (float)sin(2.0 * M_PI * (double)k / (double)n);
    }
    s->plan = fftwf_plan_dft_1d((int)(n / 2), s->spec, (fftwf_complex *)s->noise, FFTW_BACKWARD,
                                s->cfg.fft_measure ? FFTW_MEASURE : FFTW_ESTIMATE);
    if (!s->plan) return cc_err_set(e, "sim: fftwf could not plan a %u-point inverse FFT", n / 2);
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

VINLINE v8f vsqrt(v8f x) /* x >= 0 (also -0.0, from -log(1)) */
{
    /* unsigned bit arithmetic: the sign bit of -0.0 must not overflow an int */
    v8u i = 0x5f3759dfu - ((v8u)x >> 1);
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

/* The coefficients X_j (re, im) of the 16 bins idx with amplitudes a. X_j is
 * a pure function of j and the keys, so any set of bins can be drawn. */
VINLINE void draw_x(v8u idx, v8f a, uint32_t km, uint32_t ka, uint32_t kb, v8f *re, v8f *im)
{
    v8u h1 = hash32(idx * km + ka);
    v8u h2 = hash32(h1 ^ kb);
    v8f r = vsqrt(-vlog(unit_open(h1)));
    /* phase: a quadrant from 2 bits of h2, an angle in [-pi/4, pi/4) from 24 */
    v8f th = (unit_open(h2 << 2) - 0.5f) * 1.57079633f;
    v8f sn, cs;
    vsincos(th, &sn, &cs);
    v8i odd = -(v8i)((h2 >> 30) & 1u), neg_re = (v8i)((h2 >> 31) << 31);
    v8f x = vsel(odd, sn, cs), y = vsel(odd, cs, sn); /* rotate by 90 deg: (-s, c) */
    v8i neg_x = neg_re ^ (odd & (int32_t)0x80000000u);
    v8f m = a * r;
    *re = (v8f)((v8i)(m * x) ^ neg_x);
    *im = (v8f)((v8i)(m * y) ^ neg_re);
}

VINLINE v8f vrev(v8f v)
{
    return VSHUF1(v, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
}

/* stores (re, im) interleaved as 16 complex numbers at z */
VINLINE void store_cplx(float *z, v8f re, v8f im)
{
    vstore(z, VSHUF2(re, im, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23));
    vstore(z + VL, VSHUF2(re, im, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31));
}

/* The real inverse FFT of length n is done as a complex one of length n/2:
 * with X the Hermitian spectrum (X_0 = X_{n/2} = 0) and w_k = e^{2 pi i k/n},
 *   Z_k = (X_k + conj X_{n/2-k}) + i w_k (X_k - conj X_{n/2-k}),  k < n/2,
 * the unnormalised inverse DFT of Z is z_m = x_{2m} + i x_{2m+1}: the real
 * trace, in order. Bins k and n/2-k are drawn together, so each block of 16
 * gives Z at k..k+15 and at n/2-k-15..n/2-k (the last blocks overlap the
 * middle and write the same pairs again). z is padded by VL complex values,
 * amp by 2 VL values, twc/tws (cos/sin of 2 pi k/n) hold n/4 + 2 VL. */
SIM_CLONES static void noise_coeffs(float *restrict z, const float *restrict amp,
                                    const float *restrict twc, const float *restrict tws,
                                    uint32_t n, uint32_t km, uint32_t ka, uint32_t kb)
{
    const v8u lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const uint32_t half = n / 2, q = n / 4;
    for (uint32_t k = 0; k <= q; k += VL) {
        v8u ja = lane + k, jb = half - ja;
        v8f ar, ai, br, bi;
        draw_x(ja, vload(amp + k), km, ka, kb, &ar, &ai);
        draw_x(jb, vrev(vload(amp + half - k - (VL - 1))), km, ka, kb, &br, &bi);
        v8f sr = ar + br, si = ai - bi, dr = ar - br, di = ai + bi;
        v8f c = vload(twc + k), sn = vload(tws + k);
        v8f p = c * di + sn * dr, qq = c * dr - sn * di;
        store_cplx(z + 2 * k, sr - p, si + qq);
        store_cplx(z + 2 * (half - k - (VL - 1)), vrev(sr + p), vrev(qq - si));
    }
}

void sim_noise_draw(cc_sim *s, uint32_t ch, float *out)
{
    uint32_t n = s->cfg.n_samples;
    uint64_t k1 = sim_rng_u64(&s->rng), k2 = sim_rng_u64(&s->rng);
    noise_coeffs((float *)s->spec, s->ch[ch].amp, s->twc, s->tws, n, (uint32_t)k1 | 1u,
                 (uint32_t)(k1 >> 32), (uint32_t)k2);
    if (fftwf_alignment_of(out) == fftwf_alignment_of(s->noise)) {
        /* records come from fftwf_malloc: the FFT writes into them */
        fftwf_execute_dft(s->plan, s->spec, (fftwf_complex *)out);
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
