/* pca.c - principal components of many short vectors (module events of
 * 2-3 x 512 samples) through LAPACK's dsyev in OpenBLAS.
 *
 * The d x d covariance is accumulated with dsyrk over chunks of 256 centred
 * rows converted to double, so memory stays at d*d + 256*d doubles whatever
 * n is; dsyev then gives all eigenpairs in ascending order and the last k
 * are the principal axes. Each axis' sign is fixed so that its largest
 * component is positive, which makes projections reproducible across
 * LAPACK builds.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cc_eval.h"

/* LAPACK (Fortran ABI), provided by libopenblas. */
extern void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
                   double *w, double *work, const int *lwork, int *info);

enum { CHUNK = 256 };

static int covariance(const float *x, size_t n, size_t d, double *mean, double *cov, cc_err *e)
{
    double *buf = malloc(CHUNK * d * sizeof *buf);
    if (!buf) return cc_err_set(e, "pca: out of memory for %d x %zu", CHUNK, d);
    memset(mean, 0, d * sizeof *mean);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) mean[j] += x[i * d + j];
    for (size_t j = 0; j < d; j++) mean[j] /= (double)n;
    memset(cov, 0, d * d * sizeof *cov);
    for (size_t i0 = 0; i0 < n; i0 += CHUNK) {
        size_t m = n - i0 < CHUNK ? n - i0 : CHUNK;
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < d; j++) buf[i * d + j] = x[(i0 + i) * d + j] - mean[j];
        /* cov (upper, row-major) += buf^T buf */
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d, (int)m, 1.0, buf, (int)d, 1.0,
                    cov, (int)d);
    }
    double s = n > 1 ? 1.0 / (double)(n - 1) : 1.0;
    for (size_t i = 0; i < d * d; i++) cov[i] *= s;
    free(buf);
    return 0;
}

int cc_eval_pca(const float *x, size_t n, size_t d, size_t k, double *out, double *var,
                double *axes, cc_err *e)
{
    if (n < 2 || d == 0 || k == 0 || k > d || d > 65536)
        return cc_err_set(e,
                          "pca: expected n >= 2 rows and 1 <= k <= d <= 65536, found n %zu, "
                          "d %zu, k %zu",
                          n, d, k);
    int rc = -1, info = 0, dn = (int)d, lwork = -1;
    double *mean = malloc(d * sizeof *mean), *cov = malloc(d * d * sizeof *cov);
    double *w = malloc(d * sizeof *w), *work = NULL, q = 0;
    if (!mean || !cov || !w) {
        cc_err_set(e, "pca: out of memory for a %zu x %zu covariance", d, d);
        goto out;
    }
    if (covariance(x, n, d, mean, cov, e)) goto out;
    /* Row-major upper = column-major lower of the same symmetric matrix. */
    dsyev_("V", "L", &dn, cov, &dn, w, &q, &lwork, &info);
    lwork = info == 0 && q >= 1 ? (int)q : 3 * dn;
    if (!(work = malloc((size_t)lwork * sizeof *work))) {
        cc_err_set(e, "pca: out of memory for the LAPACK workspace (%d)", lwork);
        goto out;
    }
    dsyev_("V", "L", &dn, cov, &dn, w, work, &lwork, &info);
    if (info != 0) {
        cc_err_set(e, "pca: dsyev failed on the %zu x %zu covariance (info %d)", d, d, info);
        goto out;
    }
    /* Column j of the column-major result = row j of cov here; ascending. */
    for (size_t a = 0; a < k; a++) {
        double *v = cov + (d - 1 - a) * d;
        size_t big = 0;
        for (size_t j = 1; j < d; j++)
            if (fabs(v[j]) > fabs(v[big])) big = j;
        if (v[big] < 0)
            for (size_t j = 0; j < d; j++) v[j] = -v[j];
        if (var) var[a] = w[d - 1 - a];
        if (axes) memcpy(axes + a * d, v, d * sizeof *v);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t a = 0; a < k; a++) {
            const double *v = cov + (d - 1 - a) * d;
            double s = 0;
            for (size_t j = 0; j < d; j++) s += (x[i * d + j] - mean[j]) * v[j];
            out[i * k + a] = s;
        }
    rc = 0;
out:
    free(mean), free(cov), free(w), free(work);
    return rc;
}
