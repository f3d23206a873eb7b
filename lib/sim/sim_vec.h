/* sim_vec.h - 16-lane float/int vectors (GCC/Clang vector extensions) for the
 * simulator's hot loops. Explicit vectors make the loops independent of the
 * optimiser's cost model; SIM_CLONES on the callers gives AVX-512, AVX2 and baseline builds with
 * identical results (no FMA contraction under -std=c11). The helpers are always inlined, so GCC's
 * "AVX vector return changes the ABI" note does not apply. */
#ifndef CC_SIM_VEC_H
#define CC_SIM_VEC_H

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

/* Hot functions are built for x86-64-v4 (AVX-512), AVX2 and the baseline,
 * picked at load time (GCC ifunc); other compilers/targets get one build. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define SIM_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define SIM_CLONES
#endif

/* Two-vector shuffle with lane indices (GCC and Clang spellings). */
#if defined(__clang__)
#define VSHUF2(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#define VSHUF1(a, ...)    __builtin_shufflevector(a, a, __VA_ARGS__)
#else
#define VSHUF2(a, b, ...) __builtin_shuffle(a, b, (v8i){__VA_ARGS__})
#define VSHUF1(a, ...)    __builtin_shuffle(a, (v8i){__VA_ARGS__})
#endif

typedef uint32_t v8u __attribute__((vector_size(64)));
typedef int32_t v8i __attribute__((vector_size(64)));
typedef float v8f __attribute__((vector_size(64)));

#define VL      16
#define VINLINE static inline __attribute__((always_inline))

VINLINE v8f vload(const float *p)
{
    v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

VINLINE void vstore(float *p, v8f v)
{
    memcpy(p, &v, sizeof v);
}

/* Mask (-1/0 lanes) of a > b for finite a, b, from the sign of b - a.
 * GCC 12 scalarises vector comparisons in AVX-512 clones; this does not. */
VINLINE v8i vgt(v8f a, v8f b)
{
    return (v8i)(b - a) >> 31;
}

/* m ? a : b for a comparison mask m */
VINLINE v8f vsel(v8i m, v8f a, v8f b)
{
    return (v8f)(((v8i)a & m) | ((v8i)b & ~m));
}

/* 1 if any lane of the mask m is set (OR-fold by halves). */
VINLINE int vany(v8i m)
{
    m |= VSHUF1(m, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
    m |= VSHUF1(m, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11);
    m |= VSHUF1(m, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    m |= VSHUF1(m, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
    return m[0] != 0;
}

/* exp(x) for x in [-87, 88] (not checked), relative error ~2e-7 (Cephes-style: x = n*ln2 + r,
 * degree-6 polynomial for exp(r), 2^n from the exponent bits). */
VINLINE v8f vexp(v8f x)
{
    v8f t = x * 1.44269504f + 0.5f;
    v8i n = __builtin_convertvector(t, v8i);
    v8f fn = __builtin_convertvector(n, v8f);
    n += vgt(fn, t); /* floor */
    fn = __builtin_convertvector(n, v8f);
    v8f r = x - fn * 0.693359375f - fn * -2.12194440e-4f;
    v8f p = r * 0.0f + 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    return p * (v8f)((n + 127) << 23);
}

#endif
