/* PACT (core/quant/pact.c) against hand-computed levels, finite differences,
 * numpy-style reference calibrations, and its vector paths bit for bit against
 * the scalar one. Split from test_quant.c (weights, Lipschitz, CLR). */
#include "kpath_check.h"
#include "quant.h"
#include "rng.h"
#include "simd.h"
#include "tharness.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_floatp(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* ---- PACT ------------------------------------------------------------------ */

static void test_pact_backward_mask(void)
{
    const float a = 1.5f;
    float x[6] = {-1.0f, -FLT_MIN, 0.0f, nextafterf(a, 0.0f), a, a + 1.0f};
    float dy[6] = {1, 2, 4, 8, 16, 32};
    float dx[6] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    float want[6] = {0.5f, 0.5f, 4.5f, 8.5f, 0.5f, 0.5f};
    double da = qs_pact_backward(dx, dy, x, 6, a);
    for (int i = 0; i < 6; i++)
        T_CHECK(dx[i] == want[i], "x = %.9g: dx %g, want %g", x[i], dx[i], want[i]);
    T_CHECK(da == 48.0, "dL/da = %g, want 48 (x == a and x > a)", da);
}

static void test_pact_forward_levels(void)
{
    enum { N = 5000 };
    static float x[N], y[N];
    qs_rng r;
    qs_rng_seed(&r, 21);
    const float a = 2.7f;
    for (int i = 0; i < N; i++)
        x[i] = (qs_rng_uniform(&r) * 1.6f - 0.3f) * a;
    x[0] = a;
    x[1] = 0.0f;
    x[2] = -0.0f;
    for (int bits = 1; bits <= 8; bits++) {
        float n = (float)((1 << bits) - 1);
        qs_pact_forward(y, x, N, a, bits);
        for (int i = 0; i < N; i++) {
            float c = x[i] < 0.0f ? 0.0f : (x[i] > a ? a : x[i]);
            float want = roundf(c * (n / a)) * (a / n);
            T_CHECK(y[i] == want, "bits %d: x %.9g -> %.9g, want %.9g", bits, x[i], y[i],
                    want);
        }
        T_CHECK(fabsf(y[0] - a) <= 1e-6f * a, "bits %d: top level %.9g", bits, y[0]);
    }
    qs_pact_forward(y, x, N, a, 32);
    for (int i = 0; i < N; i++)
        T_CHECK(y[i] == (x[i] < 0.0f ? 0.0f : (x[i] > a ? a : x[i])), "32 bits clip");
}

/* The vector paths of vp against the scalar ones, bit for bit, on values
 * at every edge: NaN, +-0, +-inf, exact half levels and their neighbours,
 * alpha and its neighbours, huge values; lengths with ragged tails (of 16
 * and of 8). */
static void pact_simd_path(qs_kpath vp)
{
    enum { N = 4096 + 13 };
    static float x[N], y0[N], y1[N], dy[N], dx0[N], dx1[N];
    qs_rng r;
    qs_rng_seed(&r, 77);
    const float a = 1.7f;
    for (int i = 0; i < N; i++) {
        x[i] = (qs_rng_uniform(&r) * 1.6f - 0.3f) * a;
        dy[i] = (float)qs_rng_normal(&r);
    }
    const float special[] = {NAN, -NAN, 0.0f, -0.0f, INFINITY, -INFINITY, a,
                             nextafterf(a, 0.0f), nextafterf(a, 10.0f), 3e38f,
                             -3e38f, FLT_MIN, -FLT_MIN, 8388608.5f};
    int ns = (int)(sizeof special / sizeof *special);
    for (int i = 0; i < ns; i++)
        x[37 * i + 5] = special[i];
    /* inputs that land exactly on a half level k + 0.5 of the 3-bit grid
     * (the rounding tie), and their neighbours */
    const float sc3 = 7.0f / a;
    int ties = 0;
    for (int k = 0; k < 7; k++) {
        float h = (k + 0.5f) / sc3;
        for (int u = 0; u < 16 && h * sc3 != k + 0.5f; u++)
            h = nextafterf(h, h * sc3 < k + 0.5f ? 10.0f : 0.0f);
        ties += h * sc3 == k + 0.5f;
        x[1000 + 3 * k] = h;
        x[1001 + 3 * k] = nextafterf(h, 0.0f);
        x[1002 + 3 * k] = nextafterf(h, 10.0f);
    }
    T_CHECK(ties >= 4, "only %d exact ties found", ties);
    int lens[] = {N, 15, 16, 17, 1, 0, 513, 1031, 7, 9, 8};
    for (unsigned l = 0; l < sizeof lens / sizeof *lens; l++) {
        size_t len = (size_t)lens[l];
        for (int bits = 1; bits <= 8; bits++) {
            qs_simd_set_path(QS_KPATH_GENERIC);
            qs_pact_forward(y0, x, len, a, bits);
            qs_simd_set_path(vp);
            qs_pact_forward(y1, x, len, a, bits);
            qs_simd_set_path(QS_KPATH_COUNT);
            T_CHECK(memcmp(y0, y1, len * sizeof *y0) == 0,
                    "%s forward len %zu bits %d: vector path differs",
                    qs_kpath_name(vp), len, bits);
        }
        for (size_t i = 0; i < len; i++)
            dx0[i] = dx1[i] = (float)i * 0.25f;
        qs_simd_set_path(QS_KPATH_GENERIC);
        double d0 = qs_pact_backward(dx0, dy, x, len, a);
        qs_simd_set_path(vp);
        double d1 = qs_pact_backward(dx1, dy, x, len, a);
        qs_simd_set_path(QS_KPATH_COUNT);
        T_CHECK(memcmp(&d0, &d1, sizeof d0) == 0, "backward len %zu: dL/da %.17g vs %.17g",
                len, d0, d1);
        T_CHECK(memcmp(dx0, dx1, len * sizeof *dx0) == 0,
                "backward len %zu: dx differs", len);
    }
}

static void test_pact_simd_matches_scalar(void) { for_vector_paths(pact_simd_path); }

static double pact_loss(const float *x, const float *r, int n, float a)
{
    float y[64];
    qs_pact_forward(y, x, n, a, 32);
    double l = 0.0;
    for (int i = 0; i < n; i++)
        l += (double)r[i] * y[i];
    return l;
}

static void test_pact_finite_diff(void)
{
    enum { N = 64 };
    float x[N], r[N], dx[N];
    const float a = 2.0f, h = 1e-2f;
    qs_rng g;
    qs_rng_seed(&g, 5);
    int above = 0;
    for (int i = 0; i < N; i++) {
        do
            x[i] = qs_rng_uniform(&g) * 4.0f - 1.0f;
        while (fabsf(x[i]) < 2 * h || fabsf(x[i] - a) < 2 * h);
        above += x[i] >= a;
        r[i] = (float)qs_rng_normal(&g);
        dx[i] = 0.0f;
    }
    T_CHECK(above > 0 && above < N, "test data: %d above a", above);
    double da = qs_pact_backward(dx, r, x, N, a);
    for (int i = 0; i < N; i++) {
        float keep = x[i];
        x[i] = keep + h;
        double lp = pact_loss(x, r, N, a);
        float xp = x[i];
        x[i] = keep - h;
        double lm = pact_loss(x, r, N, a);
        float xm = x[i];
        x[i] = keep;
        double fd = (lp - lm) / ((double)xp - xm);
        T_CHECK(T_CLOSE(dx[i], fd, 1e-4, 1e-6), "x %g: dL/dx %g vs fd %g", x[i], dx[i], fd);
    }
    double fda = (pact_loss(x, r, N, a + h) - pact_loss(x, r, N, a - h)) /
                 ((double)(a + h) - (double)(a - h));
    T_CHECK(T_CLOSE(da, fda, 1e-4, 1e-6), "dL/da %g vs fd %g", da, fda);
}

/* numpy's default quantile: linear interpolation at q (n - 1). */
static double np_quantile(const float *s, int n, double q)
{
    double pos = q * (n - 1);
    int lo = (int)floor(pos);
    if (lo >= n - 1)
        return s[n - 1];
    return s[lo] + (pos - lo) * ((double)s[lo + 1] - s[lo]);
}

static double pact_mse_ref(const float *y, int n, float a, int bits)
{
    double e = 0.0;
    float k = bits >= 32 ? 0.0f : (float)((1 << bits) - 1);
    for (int i = 0; i < n; i++) {
        float c = y[i] < 0.0f ? 0.0f : (y[i] > a ? a : y[i]);
        float yq = bits >= 32 ? c : roundf(c * (k / a)) * (a / k);
        double d = (double)y[i] - yq;
        e += d * d;
    }
    return e / n;
}

static void test_pact_calibrate_mse(void)
{
    enum { N = 20000 };
    static float y[N], work[N], sorted[N];
    qs_rng r;
    qs_rng_seed(&r, 33);
    /* ReLU of a skewed pre-activation: ~45% zeros, a long right tail. */
    for (int i = 0; i < N; i++) {
        double v = qs_rng_normal(&r) + 0.1;
        y[i] = v > 0 ? (float)(v * (1.0 + 0.5 * v)) : 0.0f;
    }
    memcpy(sorted, y, sizeof y);
    qsort(sorted, N, sizeof(float), cmp_floatp);
    const int widths[5] = {2, 3, 4, 8, 32};
    for (int wi = 0; wi < 5; wi++) {
        int bits = widths[wi];
        memcpy(work, y, sizeof y);
        float a = qs_pact_calibrate_mse(work, N, bits);
        T_CHECK(memcmp(work, sorted, sizeof sorted) == 0, "bits %d: not sorted", bits);
        double best = INFINITY, ea = NAN;
        int best_j = -1, a_is_candidate = 0;
        for (int j = 0; j <= 100; j++) {
            float c = (float)np_quantile(sorted, N, 0.50 + 0.005 * j);
            if (c <= 0.0f)
                continue;
            double e = pact_mse_ref(y, N, c, bits);
            if (e < best) {
                best = e;
                best_j = j;
            }
            if (fabsf(c - a) <= 1e-6f * c) {
                a_is_candidate = 1;
                ea = e;
            }
        }
        T_CHECK(a_is_candidate, "bits %d: a = %g is not a candidate quantile", bits, a);
        T_CHECK(ea <= best * (1.0 + 1e-9), "bits %d: a %g has MSE %.9g, best j %d has %.9g",
                bits, a, ea, best_j, best);
        if (bits == 32) /* no rounding: only clipping hurts */
            T_CHECK(a == sorted[N - 1], "32 bits: a %g, max %g", a, sorted[N - 1]);
        printf("  calibrate_mse bits %2d: a = %.4f (q = %.3f), mse %.3g\n", bits, a,
               0.50 + 0.005 * best_j, ea);
    }
    for (int i = 0; i < N; i++)
        work[i] = 0.0f;
    T_CHECK(qs_pact_calibrate_mse(work, N, 4) == 1.0f, "all-zero falls back to 1");
}

static void test_pact_calibrate_percentile(void)
{
    enum { N = 1001 };
    float y[N], s[N];
    qs_rng r;
    qs_rng_seed(&r, 44);
    for (int i = 0; i < N; i++)
        y[i] = 0.1f + qs_rng_uniform(&r);
    memcpy(s, y, sizeof y);
    qsort(s, N, sizeof(float), cmp_floatp);
    float w[N];
    memcpy(w, y, sizeof y);
    T_CHECK(qs_pact_calibrate_percentile(w, N, 100.0) == s[N - 1], "p100 != max");
    T_CHECK(memcmp(w, s, sizeof s) == 0, "not sorted in place");
    memcpy(w, y, sizeof y);
    T_CHECK(qs_pact_calibrate_percentile(w, N, 50.0) == s[N / 2], "p50 != median (odd)");
    memcpy(w, y, sizeof y);
    T_CHECK(qs_pact_calibrate_percentile(w, N, 0.0) == s[0], "p0 != min");
    /* Even count: the median is the midpoint of the two middle values. */
    memcpy(w, y, sizeof y);
    float med = qs_pact_calibrate_percentile(w, N - 1, 50.0);
    memcpy(s, y, sizeof y);
    qsort(s, N - 1, sizeof(float), cmp_floatp);
    double want = 0.5 * ((double)s[(N - 1) / 2 - 1] + s[(N - 1) / 2]);
    T_CHECK(fabs(med - want) <= 1e-7, "even median %.9g vs %.9g", med, want);
    memcpy(w, y, sizeof y);
    float p999 = qs_pact_calibrate_percentile(w, N, 99.9);
    memcpy(s, y, sizeof y);
    qsort(s, N, sizeof(float), cmp_floatp);
    T_CHECK(fabs(p999 - np_quantile(s, N, 0.999)) <= 1e-6, "p99.9 %.9g vs %.9g", p999,
            np_quantile(s, N, 0.999));
}

/* Signed values, both zeros and NaNs: the three-way split before the sort
 * must still leave an ascending array (NaNs at the end, out of the
 * quantiles). */
static void test_pact_calibrate_mixed(void)
{
    enum { N = 3000 };
    static float y[N], w[N];
    qs_rng r;
    qs_rng_seed(&r, 55);
    float mx = 0.0f;
    int nan_count = 0;
    for (int i = 0; i < N; i++) {
        uint32_t k = qs_rng_below(&r, 6);
        y[i] = k == 0 ? 0.0f : k == 1 ? -0.0f : k == 2 ? NAN
             : (float)qs_rng_normal(&r);
        nan_count += k == 2;
        if (y[i] > mx)
            mx = y[i];
    }
    memcpy(w, y, sizeof y);
    float p = qs_pact_calibrate_percentile(w, N, 100.0);
    T_CHECK(p == mx, "p100 %g, finite max %g", p, mx);
    for (int i = 1; i < N - nan_count; i++)
        T_CHECK(w[i - 1] <= w[i], "not ascending at %d: %g %g", i, w[i - 1], w[i]);
    for (int i = N - nan_count; i < N; i++)
        T_CHECK(isnan(w[i]), "NaN not at the end (%d: %g)", i, w[i]);
    memcpy(w, y, sizeof y);
    float a = qs_pact_calibrate_mse(w, N, 3);
    T_CHECK(a > 0.0f && a <= mx, "mse clip %g", a);
    /* Nothing positive: both fall back to 1. */
    for (int i = 0; i < N; i++)
        w[i] = -fabsf(y[i]);
    T_CHECK(qs_pact_calibrate_mse(w, N, 3) == 1.0f, "all <= 0: mse");
    T_CHECK(qs_pact_calibrate_percentile(w, N, 99.9) == 1.0f, "all <= 0: percentile");
}

int main(void)
{
    T_RUN(test_pact_backward_mask);
    T_RUN(test_pact_forward_levels);
    T_RUN(test_pact_finite_diff);
    T_RUN(test_pact_calibrate_mse);
    T_RUN(test_pact_calibrate_percentile);
    T_RUN(test_pact_calibrate_mixed);
    T_RUN(test_pact_simd_matches_scalar);
    T_EXIT();
}
