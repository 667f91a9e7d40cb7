/* qs_sgemm through OpenBLAS against the naive double-accumulator loop, on
 * odd shapes, all four transpose combinations, alpha/beta other than 1/0,
 * and row strides larger than the minimum. The error bound per entry is the
 * standard one for a float dot product: k * eps * |alpha| * sum |a||b|, plus
 * the rounding of the beta term. */
#include "gemm.h"
#include "rng.h"
#include "tharness.h"

#include <float.h>
#include <string.h>

static qs_rng rng;

static float *rnd(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        abort();
    }
    for (size_t i = 0; i < n; i++)
        p[i] = 2.0f * qs_rng_uniform(&rng) - 1.0f;
    return p;
}

static char msg[256];

/* One product C [m, n] = alpha op(A) op(B) + beta C with padded strides.
 * Returns 0, or 1 with msg set. beta == 0 fills C with NaN first: BLAS
 * semantics say C is then not read, and conv/linear forward rely on it. */
static int check(int ta, int tb, int m, int n, int k, float alpha,
                 float beta, int pad)
{
    /* stored shapes: A is [m, k] or [k, m]; B is [k, n] or [n, k] */
    int ar = ta ? k : m, ac = ta ? m : k;
    int br = tb ? n : k, bc = tb ? k : n;
    int lda = ac + pad, ldb = bc + pad, ldc = n + pad;
    float *a = rnd((size_t)ar * lda), *b = rnd((size_t)br * ldb);
    float *c0 = rnd((size_t)m * ldc);
    if (beta == 0.0f)
        for (size_t i = 0; i < (size_t)m * ldc; i++)
            c0[i] = NAN;
    float *c1 = malloc((size_t)m * ldc * sizeof(float));
    float *c2 = malloc((size_t)m * ldc * sizeof(float));
    if (!c1 || !c2) {
        fprintf(stderr, "out of memory\n");
        abort();
    }
    memcpy(c1, c0, (size_t)m * ldc * sizeof(float));
    memcpy(c2, c0, (size_t)m * ldc * sizeof(float));

    qs_gemm_set_backend(QS_GEMM_BLAS);
    qs_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c1, ldc);
    qs_sgemm_naive(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c2, ldc);

    int bad = 0;
    for (int i = 0; i < m && !bad; i++)
        for (int j = 0; j < ldc && !bad; j++) {
            size_t at = (size_t)i * ldc + j;
            if (j >= n) {
                /* padding columns of C must be left alone */
                if (memcmp(&c1[at], &c0[at], sizeof(float)) != 0) {
                    snprintf(msg, sizeof msg, "C pad [%d,%d] written", i, j);
                    bad = 1;
                }
                continue;
            }
            double mag = 0.0;
            for (int p = 0; p < k; p++) {
                float av = ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                float bv = tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                mag += fabs((double)av * bv);
            }
            double cterm = beta == 0.0f ? 0.0 : fabs((double)beta * c0[at]);
            double tol = 2.0 * (k + 2) * FLT_EPSILON *
                             (fabs((double)alpha) * mag + cterm) +
                         1e-30;
            double e = fabs((double)c1[at] - c2[at]);
            if (!(e <= tol)) {
                snprintf(msg, sizeof msg,
                         "ta %d tb %d %dx%dx%d C[%d,%d]: blas %.9g naive "
                         "%.9g (tol %.3g)",
                         ta, tb, m, n, k, i, j, c1[at], c2[at], tol);
                bad = 1;
            }
        }
    free(a);
    free(b);
    free(c0);
    free(c1);
    free(c2);
    return bad;
}

static const int shapes[][3] = {{1, 1, 1},   {7, 13, 5},  {33, 65, 17},
                                {127, 3, 255}, {3, 127, 64}, {64, 1, 9},
                                {1, 40, 33}};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

static int run_all(float alpha, float beta, int pad)
{
    for (size_t s = 0; s < NSHAPES; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                if (check(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2],
                          alpha, beta, pad))
                    return 1;
    return 0;
}

static void gemm_plain(void)
{
    T_CHECK(run_all(1.0f, 0.0f, 0) == 0, "%s", msg);
}

static void gemm_alpha_beta(void)
{
    T_CHECK(run_all(0.7f, -0.3f, 0) == 0, "%s", msg);
    T_CHECK(run_all(-1.5f, 1.0f, 0) == 0, "%s", msg);
}

static void gemm_padded_strides(void)
{
    T_CHECK(run_all(1.0f, 0.0f, 3) == 0, "%s", msg);
    T_CHECK(run_all(0.7f, -0.3f, 5) == 0, "%s", msg);
}

/* beta == 0 must overwrite NaN in C for both backends (forward passes write
 * into uninitialised buffers). */
static void gemm_beta0_ignores_c(void)
{
    T_CHECK(check(0, 0, 5, 6, 7, 1.0f, 0.0f, 0) == 0, "%s", msg);
    T_CHECK(check(1, 1, 6, 5, 4, 2.0f, 0.0f, 2) == 0, "%s", msg);
}

/* The backend switch actually routes qs_sgemm to the naive loop. */
static void gemm_backend_switch(void)
{
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1};
    float c1[4], c2[4];
    qs_gemm_set_backend(QS_GEMM_NAIVE);
    T_CHECK(qs_gemm_get_backend() == QS_GEMM_NAIVE, "backend not naive");
    qs_sgemm(0, 0, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c1, 2);
    qs_sgemm_naive(0, 0, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c2, 2);
    qs_gemm_set_backend(QS_GEMM_BLAS);
    T_CHECK(memcmp(c1, c2, sizeof c1) == 0, "naive backend differs");
    /* [[1,2,3],[4,5,6]] @ [[1,0],[0,1],[1,1]] = [[4,5],[10,11]] */
    T_CHECK(c1[0] == 4 && c1[1] == 5 && c1[2] == 10 && c1[3] == 11,
            "product %g %g %g %g", c1[0], c1[1], c1[2], c1[3]);
}

int main(void)
{
    qs_rng_seed(&rng, 777);
    qs_set_threads(1);
    fprintf(stderr, "test_gemm: %s, core %s\n", qs_blas_name(),
            qs_blas_core());
    T_RUN(gemm_plain);
    T_RUN(gemm_alpha_beta);
    T_RUN(gemm_padded_strides);
    T_RUN(gemm_beta0_ignores_c);
    T_RUN(gemm_backend_switch);
    T_EXIT();
}
