/* preproc.c - see cc_preproc.h. Sums are accumulated in double so that a
 * 16384-sample record with a large DC offset keeps float precision. */
#include "cc_preproc.h"

#include <math.h>

cc_prep_status cc_prep_downsample(const float *in, size_t n, float *out, size_t m)
{
    if (m == 0 || n < m) return CC_PREP_TOO_SHORT;
    int bad = 0;
    for (size_t j = 0; j < m; j++) {
        size_t a = j * n / m, b = (j + 1) * n / m;
        double s = 0.0;
        for (size_t i = a; i < b; i++) s += in[i];
        out[j] = (float)(s / (double)(b - a));
        bad |= !isfinite(out[j]) || !isfinite(s);
    }
    return bad ? CC_PREP_NONFINITE : CC_PREP_OK;
}

void cc_prep_minmax(float *x, size_t m)
{
    if (m == 0) return;
    float lo = x[0], hi = x[0];
    for (size_t i = 1; i < m; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    /* in double: hi - lo overflows float for values beyond +-1.7e38 */
    double d = (double)hi - lo;
    if (!(d > 0.0)) {
        for (size_t i = 0; i < m; i++) x[i] = 0.0f;
        return;
    }
    for (size_t i = 0; i < m; i++) x[i] = (float)(((double)x[i] - lo) / d);
}

cc_prep_status cc_prep_record(const float *in, size_t n, float *out, size_t m)
{
    cc_prep_status s = cc_prep_downsample(in, n, out, m);
    if (s != CC_PREP_OK) return s;
    cc_prep_minmax(out, m);
    return CC_PREP_OK;
}
