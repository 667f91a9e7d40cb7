/* SVD compression (core/ptq/svd.h): a matrix with known singular values and
 * vectors, the rank rules, bad settings, and a conv replaced by a k x k
 * conv to r channels followed by a 1x1 conv. */
#include "err.h"
#include "layers.h"
#include "rng.h"
#include "svd.h"
#include "tharness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* q [rows, cols] (rows >= cols) with orthonormal columns: Gram-Schmidt in
 * double of normal columns, written here without the library. */
static void orthonormal(double *q, int rows, int cols, qs_rng *r)
{
    for (int j = 0; j < cols; j++) {
        for (int i = 0; i < rows; i++)
            q[i * cols + j] = qs_rng_normal(r);
        for (int pass = 0; pass < 2; pass++)
            for (int p = 0; p < j; p++) {
                double d = 0.0;
                for (int i = 0; i < rows; i++)
                    d += q[i * cols + j] * q[i * cols + p];
                for (int i = 0; i < rows; i++)
                    q[i * cols + j] -= d * q[i * cols + p];
            }
        double nn = 0.0;
        for (int i = 0; i < rows; i++)
            nn += q[i * cols + j] * q[i * cols + j];
        for (int i = 0; i < rows; i++)
            q[i * cols + j] /= sqrt(nn);
    }
}

#define M 24
#define N 40
#define K 24

/* W = U diag(s) V^T with s_i = 2^(-i/3): the SVD finds s, reconstructs W
 * at full rank, and at rank r the measured error is Eckart-Young's
 * sqrt(sum_{i >= r} s_i^2 / sum s_i^2). */
static void test_known_matrix(void)
{
    qs_rng r;
    qs_rng_seed(&r, 7);
    static double U[M * K], V[N * K];
    static float w[M * N], s[K], u[M * K], vt[K * N], a[M * K], b[K * N];
    double sv[K], tot = 0.0;
    orthonormal(U, M, K, &r);
    orthonormal(V, N, K, &r);
    for (int i = 0; i < K; i++) {
        sv[i] = pow(2.0, -i / 3.0);
        tot += sv[i] * sv[i];
    }
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double x = 0.0;
            for (int t = 0; t < K; t++)
                x += U[i * K + t] * sv[t] * V[j * K + t];
            w[i * N + j] = (float)x;
        }
    T_CHECK(qs_svd(s, u, vt, w, M, N) == QS_OK, "%s", qs_errmsg());
    for (int i = 0; i < K; i++)
        T_CHECK(fabs(s[i] - sv[i]) < 1e-5, "s[%d] = %.7f, want %.7f", i, s[i], sv[i]);
    double e;
    T_CHECK(qs_svd_factor(a, b, &e, w, M, N, K) == QS_OK, "%s", qs_errmsg());
    T_CHECK(e < 1e-5, "full rank error %g", e);
    static const int ranks[] = {1, 4, 10, 20};
    for (int k = 0; k < 4; k++) {
        double drop = 0.0;
        for (int i = ranks[k]; i < K; i++)
            drop += sv[i] * sv[i];
        T_CHECK(qs_svd_factor(a, b, &e, w, M, N, ranks[k]) == QS_OK, "%s", qs_errmsg());
        T_CHECK(fabs(e - sqrt(drop / tot)) < 1e-5, "rank %d: error %.7f, Eckart-Young %.7f",
                ranks[k], e, sqrt(drop / tot));
    }
    /* the transposed shape (m > n) goes through the same path */
    static float wt[N * M], st[K], ut[N * K], vtt[K * M];
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            wt[j * M + i] = w[i * N + j];
    T_CHECK(qs_svd(st, ut, vtt, wt, N, M) == QS_OK, "%s", qs_errmsg());
    for (int i = 0; i < K; i++)
        T_CHECK(fabs(st[i] - sv[i]) < 1e-5, "transposed s[%d] = %.7f", i, st[i]);
}

static void test_rank_rules(void)
{
    float s[4] = {4.0f, 2.0f, 1.0f, 1.0f}; /* energies 16, 4, 1, 1 of 22 */
    int r = 0;
    T_CHECK(qs_svd_rank_energy(&r, s, 4, 16.0 / 22.0) == QS_OK && r == 1, "16/22 -> %d", r);
    T_CHECK(qs_svd_rank_energy(&r, s, 4, 0.8) == QS_OK && r == 2, "0.8 -> %d", r);
    T_CHECK(qs_svd_rank_energy(&r, s, 4, 21.0 / 22.0) == QS_OK && r == 3, "21/22 -> %d", r);
    T_CHECK(qs_svd_rank_energy(&r, s, 4, 1.0) == QS_OK && r == 4, "1 -> %d", r);
    T_CHECK(qs_svd_rank_budget(&r, 16, 144, 160 * 5 + 3) == QS_OK && r == 5, "budget -> %d", r);
    T_CHECK(qs_svd_rank_budget(&r, 16, 144, 1000000) == QS_OK && r == 16, "capped -> %d", r);
    T_CHECK(qs_svd_params(16, 144, 5) == 800, "params");
}

static void test_bad_settings(void)
{
    float s[2] = {1.0f, 0.5f}, w[4] = {1, 2, 3, 4}, a[4], b[4];
    int r;
    T_CHECK(qs_svd_rank_energy(&r, s, 2, 1.5) == QS_EINVAL && strstr(qs_errmsg(), "1.5"),
            "energy > 1: %s", qs_errmsg());
    T_CHECK(qs_svd_rank_energy(&r, s, 2, 0.0) == QS_EINVAL, "energy 0");
    T_CHECK(qs_svd_factor(a, b, NULL, w, 2, 2, 0) == QS_EINVAL && strstr(qs_errmsg(), "rank 0"),
            "rank 0: %s", qs_errmsg());
    T_CHECK(qs_svd_factor(a, b, NULL, w, 2, 2, 3) == QS_EINVAL, "rank 3 of 2x2");
    T_CHECK(qs_svd_rank_budget(&r, 2, 2, 3) == QS_EINVAL && strstr(qs_errmsg(), "budget"),
            "budget below rank 1: %s", qs_errmsg());
}

/* A 3x3 conv 8 -> 16 on 6x6 maps: conv(x, W) against the 3x3 conv to r
 * channels (B) then the 1x1 conv (A); full rank within float rounding, and
 * the output error at rank r bounded by the weight error (the same linear
 * map of the im2col columns). */
static void test_conv_pair(void)
{
    const int nb = 4, c = 8, k = 16, h = 6, taps = 9, n = c * taps;
    qs_rng r;
    qs_rng_seed(&r, 9);
    qs_conv_shape s0, s1, s2;
    T_CHECK(qs_conv_shape_init(&s0, nb, c, h, h, k, 3, 3, 1, 1) == 0, "shape");
    static float w[16 * 72], x[4 * 8 * 36], y[4 * 16 * 36], y2[4 * 16 * 36], mid[4 * 16 * 36];
    static float a[16 * 16], b[16 * 72];
    for (int i = 0; i < k * n; i++)
        w[i] = (float)qs_rng_normal(&r);
    for (int i = 0; i < nb * c * h * h; i++)
        x[i] = (float)qs_rng_normal(&r);
    float *scratch = malloc(sizeof(float) * qs_conv2d_scratch(&s0) * 2);
    qs_conv2d_forward(y, x, w, NULL, &s0, scratch);
    static const int ranks[] = {16, 6};
    for (int q = 0; q < 2; q++) {
        int rk = ranks[q];
        double e;
        T_CHECK(qs_svd_factor(a, b, &e, w, k, n, rk) == QS_OK, "%s", qs_errmsg());
        T_CHECK(qs_conv_shape_init(&s1, nb, c, h, h, rk, 3, 3, 1, 1) == 0 &&
                qs_conv_shape_init(&s2, nb, rk, h, h, k, 1, 1, 1, 0) == 0, "shapes");
        qs_conv2d_forward(mid, x, b, NULL, &s1, scratch);
        qs_conv2d_forward(y2, mid, a, NULL, &s2, scratch);
        double num = 0.0, den = 0.0;
        for (int i = 0; i < nb * k * h * h; i++) {
            num += ((double)y2[i] - y[i]) * ((double)y2[i] - y[i]);
            den += (double)y[i] * y[i];
        }
        double oe = sqrt(num / den);
        printf("  rank %2d: params %ld of %d, weight error %.4f, output error %.4f\n", rk,
               qs_svd_params(k, n, rk), k * n, e, oe);
        if (rk == 16)
            T_CHECK(oe < 1e-5, "full rank output error %g", oe);
        else
            T_CHECK(oe > 0.1 * e && oe < 3.0 * e, "rank %d: output error %.4f vs weight %.4f",
                    rk, oe, e);
    }
    free(scratch);
}

int main(void)
{
    T_RUN(test_known_matrix);
    T_RUN(test_rank_rules);
    T_RUN(test_bad_settings);
    T_RUN(test_conv_pair);
    T_EXIT();
}
