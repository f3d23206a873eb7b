/* cc_preproc.h - the paper's preprocessing: block means, then min-max scaling.
 *
 * A record of n samples becomes m values: bin j is the mean of the raw
 * samples [floor(j*n/m), floor((j+1)*n/m)). When m divides n (16384 -> 512,
 * 8192 -> 512) these are the plain block means of n/m samples, exactly as in
 * the CRESST paper and Cait; otherwise the bins differ in size by at most one
 * sample, so any length >= m is handled without dropping samples.
 * Then the m values are scaled to [0, 1]: (x - min) / (max - min). A constant
 * record (max == min) maps to all zeros. Non-finite input is refused.
 */
#ifndef CC_PREPROC_H
#define CC_PREPROC_H

#include <stddef.h>

/* Result of preprocessing one record. */
typedef enum {
    CC_PREP_OK = 0,
    CC_PREP_NONFINITE = 1, /* NaN or Inf in the input */
    CC_PREP_TOO_SHORT = 2, /* n < m (or m == 0) */
} cc_prep_status;

/* Block-mean downsampling of in[n] to out[m] (see above). */
cc_prep_status cc_prep_downsample(const float *in, size_t n, float *out, size_t m);

/* In-place min-max scaling of x[m] to [0, 1]; a constant vector becomes zeros. */
void cc_prep_minmax(float *x, size_t m);

/* Downsample then min-max scale: the full model input. */
cc_prep_status cc_prep_record(const float *in, size_t n, float *out, size_t m);

#endif
