/* nn_math.h - vectorisable float math for the nn kernels (internal).
 *
 * libm's expf/erff are scalar calls that stop GCC from vectorising a loop;
 * these inline versions are branch-free so loops over them vectorise. exp is
 * the Cephes polynomial (about 2 ulp in float), erf is Abramowitz & Stegun
 * 7.1.26 (absolute error < 1.5e-7), both well inside the engine's 1e-5
 * parity budget against PyTorch.
 */
#ifndef NN_MATH_H
#define NN_MATH_H

#include <stdint.h>
#include <string.h>

static inline float nn_expf(float x)
{
    x = x < -87.3f ? -87.3f : x > 88.7f ? 88.7f : x;
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round(x / ln 2) */
    float r = x - n * 0.693359375f - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float s;
    memcpy(&s, &bits, 4);
    return p * s;
}

/* GCC vector extensions: 16 floats (unaligned access), lane-wise ops. */
typedef float nn_v16 __attribute__((vector_size(64), aligned(4)));
typedef int32_t nn_v16i __attribute__((vector_size(64), aligned(4)));
/* Lane-wise max into vm of vector a (a macro: 64-byte vectors passed by value
 * would trip -Wpsabi in the baseline clone). */
#define NN_V16_MAX_INTO(vm, a)                                                                     \
    do {                                                                                           \
        nn_v16 a_ = (a);                                                                           \
        nn_v16i m_ = a_ > (vm);                                                                    \
        (vm) = (nn_v16)(((nn_v16i)a_ & m_) | ((nn_v16i)(vm) & ~m_));                               \
    } while (0)

static inline float nn_sigmoidf(float x)
{
    return 1.0f / (1.0f + nn_expf(-x));
}

static inline float nn_tanhf(float x)
{
    return 2.0f / (1.0f + nn_expf(-2.0f * x)) - 1.0f;
}

static inline float nn_erff(float x)
{
    float z = x < 0 ? -x : x;
    float t = 1.0f / (1.0f + 0.3275911f * z);
    float y =
        t * (0.254829592f +
             t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
    float r = 1.0f - y * nn_expf(-z * z);
    return x < 0 ? -r : r;
}

static inline float nn_geluf(float x)
{
    return 0.5f * x * (1.0f + nn_erff(x * 0.70710678118654752f));
}

#endif
