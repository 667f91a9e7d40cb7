/* Single-precision GEMM, row-major, the one matrix product the core uses.
 *   C [M,N] = alpha * op(A) [M,K] @ op(B) [K,N] + beta * C
 * op(X) = X or X^T per the trans flags; lda/ldb/ldc are row strides of the
 * matrices as stored. The BLAS backend is OpenBLAS; the naive backend is a
 * plain triple loop (double accumulator) used by tests as the reference. */
#ifndef QS_GEMM_H
#define QS_GEMM_H

typedef enum { QS_GEMM_BLAS = 0, QS_GEMM_NAIVE = 1 } qs_gemm_backend;

/* Process-wide: tests switch to the naive backend to check whole models. */
void qs_gemm_set_backend(qs_gemm_backend b);
qs_gemm_backend qs_gemm_get_backend(void);

void qs_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta,
              float *c, int ldc);
void qs_sgemm_naive(int trans_a, int trans_b, int m, int n, int k,
                    float alpha, const float *a, int lda, const float *b,
                    int ldb, float beta, float *c, int ldc);

/* The job's thread count for every kernel (par.h); OpenBLAS itself is set
 * to one thread, since the core calls it from inside its own split loops. */
void qs_set_threads(int n);
/* OpenBLAS's own thread count: only for timing the BLAS alone (the bench's
 * sgemm peak); qs_set_threads puts it back to 1. */
void qs_blas_set_threads(int n);
/* What the library reports. */
const char *qs_blas_name(void);   /* e.g. "OpenBLAS 0.3.21" */
const char *qs_blas_core(void);   /* kernel set in use, e.g. "SkylakeX" */

#endif
