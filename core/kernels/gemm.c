#include "gemm.h"

#include "par.h"

#include <cblas.h>
#include <stdio.h>
#include <string.h>

/* Not in every cblas.h, but exported by every OpenBLAS build. */
char *openblas_get_corename(void);
char *openblas_get_config(void);
void openblas_set_num_threads(int);

static qs_gemm_backend backend = QS_GEMM_BLAS;

void qs_gemm_set_backend(qs_gemm_backend b) { backend = b; }
qs_gemm_backend qs_gemm_get_backend(void) { return backend; }

void qs_sgemm_naive(int trans_a, int trans_b, int m, int n, int k,
                    float alpha, const float *a, int lda, const float *b,
                    int ldb, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0.0;
            for (int p = 0; p < k; p++) {
                float av = trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                float bv = trans_b ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                s += (double)av * bv;
            }
            float *cij = &c[(size_t)i * ldc + j];
            /* beta == 0 must ignore C entirely (it may hold NaN garbage). */
            *cij = (float)(alpha * s) + (beta == 0.0f ? 0.0f : beta * *cij);
        }
}

void qs_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta,
              float *c, int ldc)
{
    if (m == 0 || n == 0)
        return;
    if (backend == QS_GEMM_NAIVE) {
        qs_sgemm_naive(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb,
                       beta, c, ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda,
                b, ldb, beta, c, ldc);
}

void qs_blas_set_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }

void qs_set_threads(int n)
{
    qs_par_set_threads(n);
    openblas_set_num_threads(1);
}

const char *qs_blas_name(void)
{
    static char name[64];
    const char *cfg = openblas_get_config();
    /* config reads "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..." */
    const char *sp = strchr(cfg, ' ');
    if (sp && (sp = strchr(sp + 1, ' ')) != NULL)
        snprintf(name, sizeof name, "%.*s", (int)(sp - cfg), cfg);
    else
        snprintf(name, sizeof name, "%s", cfg);
    return name;
}

const char *qs_blas_core(void) { return openblas_get_corename(); }
