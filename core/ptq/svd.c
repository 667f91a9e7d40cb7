/* Rank-r factorisation through LAPACK's SVD (svd.h). */
#include "svd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* LAPACK (Fortran interface, exported by OpenBLAS). */
void sgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n, float *a,
             const int *lda, float *s, float *u, const int *ldu, float *vt, const int *ldvt,
             float *work, const int *lwork, int *info);

int qs_svd(float *s, float *u, float *vt, const float *w, int m, int n)
{
    if (m < 1 || n < 1)
        return qs_err(QS_EINVAL, "SVD of a %d x %d matrix", m, n);
    int k = m < n ? m : n, info = 0, lwork = -1;
    /* Row-major W [m, n] is column-major W^T [n, m]: LAPACK factors
     * W^T = U' S V'^T, so W = V' S U'^T and, read back row-major, its
     * vt' buffer is our u [m, k] and its u' buffer our vt [k, n]. */
    const int lda = n, ldu = n, ldvt = k;
    float *a = malloc(sizeof(float) * (size_t)m * n), wq;
    if (!a)
        return qs_err(QS_ENOMEM, "out of memory for the SVD of %d x %d", m, n);
    memcpy(a, w, sizeof(float) * (size_t)m * n);
    sgesvd_("S", "S", &n, &m, a, &lda, s, vt, &ldu, u, &ldvt, &wq, &lwork, &info);
    lwork = info == 0 ? (int)wq : 0;
    float *work = lwork > 0 ? malloc(sizeof(float) * (size_t)lwork) : NULL;
    int rc = QS_OK;
    if (!work) {
        rc = info != 0 ? qs_err(QS_EINTERNAL, "LAPACK sgesvd workspace query failed (info %d)", info)
                       : qs_err(QS_ENOMEM, "out of memory for the SVD workspace");
        goto cleanup;
    }
    sgesvd_("S", "S", &n, &m, a, &lda, s, vt, &ldu, u, &ldvt, work, &lwork, &info);
    if (info != 0)
        rc = qs_err(QS_EINTERNAL, "LAPACK sgesvd of %d x %d failed (info %d)", m, n, info);
cleanup:
    free(a);
    free(work);
    return rc;
}

int qs_svd_rank_energy(int *r, const float *s, int k, double energy)
{
    if (!(energy > 0.0 && energy <= 1.0))
        return qs_err(QS_EINVAL, "kept energy %g is out of range (allowed: 0 < energy <= 1)", energy);
    double tot = 0.0, acc = 0.0;
    for (int i = 0; i < k; i++)
        tot += (double)s[i] * s[i];
    *r = k;
    for (int i = 0; i < k; i++) {
        acc += (double)s[i] * s[i];
        /* a relative slack so energy 1 stops at the numerical rank */
        if (acc >= energy * tot * (1.0 - 1e-12)) {
            *r = i + 1;
            break;
        }
    }
    return QS_OK;
}

long qs_svd_params(int m, int n, int r) { return (long)r * ((long)m + n); }

int qs_svd_rank_budget(int *r, int m, int n, long params)
{
    long per = (long)m + n;
    if (params < per)
        return qs_err(QS_EINVAL, "parameter budget %ld is below rank 1 of a %d x %d weight (%ld)",
                      params, m, n, per);
    long k = m < n ? m : n, q = params / per;
    *r = (int)(q < k ? q : k);
    return QS_OK;
}

int qs_svd_factor(float *a, float *b, double *rel_err, const float *w, int m, int n, int r)
{
    int k = m < n ? m : n;
    if (r < 1 || r > k)
        return qs_err(QS_EINVAL, "rank %d is out of range for a %d x %d weight (allowed: 1..%d)",
                      r, m, n, k);
    float *s = malloc(sizeof(float) * (size_t)k);
    float *u = malloc(sizeof(float) * (size_t)m * k), *vt = malloc(sizeof(float) * (size_t)k * n);
    int rc = QS_OK;
    if (!s || !u || !vt) {
        rc = qs_err(QS_ENOMEM, "out of memory for the SVD of %d x %d", m, n);
        goto cleanup;
    }
    if ((rc = qs_svd(s, u, vt, w, m, n)) != QS_OK)
        goto cleanup;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < r; j++)
            a[(size_t)i * r + j] = u[(size_t)i * k + j] * s[j];
    memcpy(b, vt, sizeof(float) * (size_t)r * n);
    if (rel_err) { /* measured on the product, not inferred from s */
        double num = 0.0, den = 0.0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double p = 0.0;
                for (int t = 0; t < r; t++)
                    p += (double)a[(size_t)i * r + t] * b[(size_t)t * n + j];
                double x = w[(size_t)i * n + j];
                num += (x - p) * (x - p);
                den += x * x;
            }
        *rel_err = den > 0.0 ? sqrt(num / den) : 0.0;
    }
cleanup:
    free(s);
    free(u);
    free(vt);
    return rc;
}
