/* test_preproc.c - lib/prep/cc_preproc.h: block means and min-max scaling.
 *
 * The reference is the straightforward definition from the header, computed
 * in long double: bin j is the mean of in[floor(j*n/m) .. floor((j+1)*n/m)).
 * Inputs are built so that the exact answers are known where that is
 * possible (integers, step functions of exactly representable values).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_preproc.h"
#include "cc_test.h"

static uint64_t rng = 0x853c49e6748fea9bull;

static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* A CRESST-like record: baseline + pulse after the trigger + noise (volts). */
static void record(float *x, size_t n, double dc, double height, double noise)
{
    for (size_t i = 0; i < n; i++) {
        double t = ((double)i - (double)n / 4) / 25.0; /* ms at 25 kHz */
        double p = t > 0 ? height * (exp(-t / 20.0) - exp(-t / 0.5)) : 0.0;
        x[i] = (float)(dc + p + noise * (uniform() - 0.5));
    }
}

/* The definition, in long double, with the bin bounds written out. */
static void reference(const float *in, size_t n, long double *out, size_t m)
{
    for (size_t j = 0; j < m; j++) {
        size_t a = j * n / m, b = (j + 1) * n / m;
        long double s = 0;
        for (size_t i = a; i < b; i++) s += in[i];
        out[j] = s / (long double)(b - a);
    }
}

static void check_block_means(size_t n, size_t m)
{
    float *in = malloc(n * sizeof *in), *out = malloc(m * sizeof *out);
    long double *ref = malloc(m * sizeof *ref);
    record(in, n, 0.1, 0.5, 0.01);
    ck_assert_int_eq(cc_prep_downsample(in, n, out, m), CC_PREP_OK);
    reference(in, n, ref, m);
    for (size_t j = 0; j < m; j++) {
        /* the mean rounded once to float: within half an ulp of the reference */
        float r = (float)ref[j];
        ck_assert_msg(fabsf(out[j] - r) <= 0.5f * fabsf(nextafterf(r, INFINITY) - r) + 1e-12f,
                      "%zu->%zu bin %zu: %.9g, reference %.9Lg", n, m, j, out[j], ref[j]);
    }
    /* plain block means when m divides n: bin j is in[j*k .. j*k+k) */
    if (n % m == 0) {
        size_t k = n / m;
        for (size_t j = 0; j < m; j += 97) {
            double s = 0;
            for (size_t i = 0; i < k; i++) s += in[j * k + i];
            ck_assert_float_eq_tol(out[j], (float)(s / (double)k), 1e-6f);
        }
    }
    free(in);
    free(out);
    free(ref);
}

START_TEST(test_16384_to_512)
{
    check_block_means(16384, 512);
}
END_TEST

START_TEST(test_8192_to_512)
{
    check_block_means(8192, 512);
}
END_TEST

/* Integers make the expected means exact. */
START_TEST(test_exact_block_means)
{
    enum { N = 16384, M = 512 };
    static float in[N], out[M];
    for (int i = 0; i < N; i++) in[i] = (float)i;
    ck_assert_int_eq(cc_prep_downsample(in, N, out, M), CC_PREP_OK);
    for (int j = 0; j < M; j++) ck_assert_float_eq(out[j], 32.0f * (float)j + 15.5f);
}
END_TEST

/* 1000 -> 512: bins of 1 or 2 samples, every sample used exactly once. */
START_TEST(test_not_a_multiple)
{
    enum { N = 1000, M = 512 };
    static float in[N], out[M];
    /* sample i is i + 1: distinct integers, so every bin mean is exact */
    for (int i = 0; i < N; i++) in[i] = (float)(i + 1);
    ck_assert_int_eq(cc_prep_downsample(in, N, out, M), CC_PREP_OK);
    int used[N] = {0}, ones = 0, twos = 0;
    double total = 0;
    for (int j = 0; j < M; j++) {
        int a = j * N / M, b = (j + 1) * N / M;
        ck_assert_msg(b - a == 1 || b - a == 2, "bin %d has %d samples", j, b - a);
        ones += b - a == 1;
        twos += b - a == 2;
        for (int i = a; i < b; i++) used[i]++;
        /* the mean of consecutive integers a+1..b is exact */
        ck_assert_float_eq(out[j], (float)(a + 1 + b) / 2.0f);
        total += out[j] * (b - a);
    }
    for (int i = 0; i < N; i++) ck_assert_msg(used[i] == 1, "sample %d used %d times", i, used[i]);
    ck_assert_int_eq(ones + 2 * twos, N);
    ck_assert_int_eq(ones, 24);
    ck_assert_int_eq(twos, 488);
    ck_assert(total == N * (N + 1) / 2.0); /* nothing dropped, nothing counted twice */

    /* n == m is the identity */
    ck_assert_int_eq(cc_prep_downsample(in, M, out, M), CC_PREP_OK);
    for (int j = 0; j < M; j++) ck_assert_float_eq(out[j], in[j]);
    /* n = m + 1: exactly one bin of two */
    ck_assert_int_eq(cc_prep_downsample(in, M + 1, out, M), CC_PREP_OK);
    int pairs = 0;
    for (int j = 0; j < M; j++) pairs += out[j] != floorf(out[j]);
    ck_assert_int_eq(pairs, 1);
    /* arbitrary lengths against the reference */
    const size_t lens[] = {513, 777, 1023, 4097, 10000, 16383, 16385, 20000};
    for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) check_block_means(lens[k], M);
}
END_TEST

START_TEST(test_too_short)
{
    float in[600] = {0}, out[512];
    out[0] = 42.0f;
    ck_assert_int_eq(cc_prep_downsample(in, 511, out, 512), CC_PREP_TOO_SHORT);
    ck_assert_int_eq(cc_prep_downsample(in, 0, out, 512), CC_PREP_TOO_SHORT);
    ck_assert_int_eq(cc_prep_downsample(in, 10, out, 0), CC_PREP_TOO_SHORT);
    ck_assert_int_eq(cc_prep_record(in, 511, out, 512), CC_PREP_TOO_SHORT);
    ck_assert_float_eq(out[0], 42.0f); /* nothing written */
    ck_assert_int_eq(cc_prep_record(in, 512, out, 512), CC_PREP_OK);
}
END_TEST

START_TEST(test_minmax)
{
    enum { N = 16384, M = 512 };
    static float in[N], out[M];
    /* constant record (any level) -> all zeros */
    const float levels[] = {0.0f, 5.0f, -3.25f, 1e-30f};
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < N; i++) in[i] = levels[k];
        for (int j = 0; j < M; j++) out[j] = 7.0f;
        ck_assert_int_eq(cc_prep_record(in, N, out, M), CC_PREP_OK);
        for (int j = 0; j < M; j++) ck_assert_float_eq(out[j], 0.0f);
    }
    /* otherwise the minimum is exactly 0 and the maximum exactly 1, and the
     * order of the bins is kept */
    for (int trial = 0; trial < 20; trial++) {
        record(in, N, (uniform() - 0.5) * 10, (uniform() - 0.5) * 2, 0.01 + uniform() * 0.1);
        static float ds[M];
        ck_assert_int_eq(cc_prep_downsample(in, N, ds, M), CC_PREP_OK);
        ck_assert_int_eq(cc_prep_record(in, N, out, M), CC_PREP_OK);
        float lo = INFINITY, hi = -INFINITY;
        int ilo = -1, ihi = -1;
        for (int j = 0; j < M; j++) {
            ck_assert(out[j] >= 0.0f && out[j] <= 1.0f);
            if (out[j] < lo) lo = out[j], ilo = j;
            if (out[j] > hi) hi = out[j], ihi = j;
        }
        ck_assert_float_eq(lo, 0.0f);
        ck_assert_float_eq(hi, 1.0f);
        float dlo = ds[0], dhi = ds[0];
        for (int j = 1; j < M; j++) dlo = fminf(dlo, ds[j]), dhi = fmaxf(dhi, ds[j]);
        ck_assert_float_eq(ds[ilo], dlo);
        ck_assert_float_eq(ds[ihi], dhi);
        for (int j = 0; j < M; j += 31)
            ck_assert_float_eq_tol(out[j], (ds[j] - dlo) / (dhi - dlo), 1e-6f);
    }
    /* direct: a small vector */
    float v[4] = {2.0f, -2.0f, 0.0f, 6.0f};
    cc_prep_minmax(v, 4);
    ck_assert_float_eq(v[0], 0.5f);
    ck_assert_float_eq(v[1], 0.0f);
    ck_assert_float_eq(v[2], 0.25f);
    ck_assert_float_eq(v[3], 1.0f);
    cc_prep_minmax(v, 0); /* no-op */
}
END_TEST

START_TEST(test_nonfinite)
{
    enum { N = 8192, M = 512 };
    static float in[N], out[M];
    const float bad[] = {NAN, INFINITY, -INFINITY};
    const size_t at[] = {0, 1, 4095, N - 1};
    for (int k = 0; k < 3; k++)
        for (size_t p = 0; p < sizeof at / sizeof *at; p++) {
            record(in, N, 0.0, 0.3, 0.01);
            in[at[p]] = bad[k];
            ck_assert_msg(cc_prep_downsample(in, N, out, M) == CC_PREP_NONFINITE,
                          "%g at %zu not refused", bad[k], at[p]);
            ck_assert_msg(cc_prep_record(in, N, out, M) == CC_PREP_NONFINITE,
                          "%g at %zu not refused", bad[k], at[p]);
        }
    /* +Inf and -Inf in the same bin would sum to NaN; in different bins too */
    record(in, N, 0.0, 0.3, 0.01);
    in[10] = INFINITY;
    in[11] = -INFINITY;
    ck_assert_int_eq(cc_prep_record(in, N, out, M), CC_PREP_NONFINITE);
    /* large but finite values are fine */
    for (int i = 0; i < N; i++) in[i] = (i % 2) ? 3e38f : -3e38f;
    ck_assert_int_eq(cc_prep_downsample(in, N, out, M), CC_PREP_OK);
    ck_assert_float_eq(out[0], 0.0f);
    /* ... also when max - min does not fit in a float (a float32 record
     * can carry such values through cc_rec_to_volts) */
    for (int i = 0; i < N; i++) in[i] = i < N / 2 ? -3e38f : 3e38f;
    ck_assert_int_eq(cc_prep_record(in, N, out, M), CC_PREP_OK);
    for (int j = 0; j < M; j++) ck_assert_float_eq(out[j], (j < M / 2 ? 0.0f : 1.0f));
}
END_TEST

/* 5 V of DC with a 1 mV pulse: the pulse must survive the block means. */
START_TEST(test_large_dc_offset)
{
    enum { N = 16384, M = 512, K = N / M };
    static float in[N], out[M];
    /* exact case: each block holds one value 5 V + k * 2^-20 V (k up to 1000,
     * about 1 mV). The values are exact in float, their block means are too,
     * so the result must be exactly k / kmax. A float accumulator (160 V sums
     * with 2^-16 V steps) would not be. */
    int kmax = 0, kv[M];
    for (int j = 0; j < M; j++) {
        double t = (j - M / 4) * (double)K / 25.0;
        kv[j] = t > 0 ? (int)lround(1000.0 * (exp(-t / 20.0) - exp(-t / 0.5)) / 0.908) : 0;
        if (kv[j] > kmax) kmax = kv[j];
        for (int i = 0; i < K; i++) in[j * K + i] = (float)(5.0 + kv[j] * 0x1p-20);
    }
    ck_assert_int_ge(kmax, 900);
    ck_assert_int_eq(cc_prep_downsample(in, N, out, M), CC_PREP_OK);
    for (int j = 0; j < M; j++) ck_assert_float_eq(out[j], (float)(5.0 + kv[j] * 0x1p-20));
    ck_assert_int_eq(cc_prep_record(in, N, out, M), CC_PREP_OK);
    for (int j = 0; j < M; j++)
        ck_assert_msg(out[j] == (float)kv[j] / (float)kmax, "bin %d: %.9g, expected %d/%d", j,
                      out[j], kv[j], kmax);

    /* realistic case: 5 V + 1 mV pulse + 0.1 mV noise, against the long double
     * reference scaled the same way */
    record(in, N, 5.0, 1e-3 / 0.908, 1e-4);
    long double ref[M], lo = INFINITY, hi = -INFINITY;
    reference(in, N, ref, M);
    for (int j = 0; j < M; j++) lo = fminl(lo, ref[j]), hi = fmaxl(hi, ref[j]);
    ck_assert_int_eq(cc_prep_record(in, N, out, M), CC_PREP_OK);
    double worst = 0;
    for (int j = 0; j < M; j++)
        worst = fmax(worst, fabs(out[j] - (double)((ref[j] - lo) / (hi - lo))));
    /* float resolution at 5 V is 4.8e-7 V, i.e. about 5e-4 of a 1 mV range */
    ck_assert_msg(worst < 1.2e-3, "worst deviation %.3g of the pulse range", worst);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("preproc");
    TCase *t = tcase_create("preproc");
    tcase_add_test(t, test_16384_to_512);
    tcase_add_test(t, test_8192_to_512);
    tcase_add_test(t, test_exact_block_means);
    tcase_add_test(t, test_not_a_multiple);
    tcase_add_test(t, test_too_short);
    tcase_add_test(t, test_minmax);
    tcase_add_test(t, test_nonfinite);
    tcase_add_test(t, test_large_dc_offset);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return cct_run(suite());
}
