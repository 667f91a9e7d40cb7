/* LSQ / LSQ+ quantizers (core/quant/lsq.h) against the Hwang-Sung and PACT
 * quantizers, finite differences of the straight-through surrogate, the
 * gradient scales and brute-force searches. */
#include "lsq.h"
#include "par.h"
#include "quant.h"
#include "rng.h"
#include "simd.h"
#include "tharness.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NW 3000

static void fill_normal(float *w, int n, double scale, double shift, uint64_t seed)
{
    qs_rng r;
    qs_rng_seed(&r, seed);
    for (int i = 0; i < n; i++)
        w[i] = (float)(shift + scale * qs_rng_normal(&r));
}

/* ---- weights ------------------------------------------------------------ */

/* At s = D the codes are the Hwang-Sung codes: the same E(D) bit for bit
 * as qs_wquant_error, and after a full qs_wquant search the LSQ forward at
 * the D found gives qs_wquant's q exactly (a frozen step is a fixed
 * uniform quantizer). At 2 bits only {-s, 0, s} occur. */
static void test_lsq_w_matches_hwang(void)
{
    static float w[NW], qh[NW], ql[NW];
    fill_normal(w, NW, 0.05, 0.0, 3);
    w[0] = 0.0f;
    w[1] = -0.0f;
    for (int bits = 2; bits <= 8; bits++) {
        float d = 0.0f;
        qs_wquant(qh, &d, w, NW, bits);
        qs_lsq_w_forward(ql, w, NW, &d, 1, bits);
        T_CHECK(memcmp(qh, ql, sizeof qh) == 0, "bits %d: q differs from qs_wquant at D %g",
                bits, d);
        for (int k = 1; k <= 5; k++) {
            float s = 0.01f * k;
            double el = qs_lsq_w_error(w, NW, s, bits);
            double eh = qs_wquant_error(w, NW, bits, s);
            T_CHECK(el == eh, "bits %d s %g: E %.17g vs Hwang %.17g", bits, s, el, eh);
        }
    }
    /* Weights a few ulps around the half-way points k + 1/2 of a step:
     * codes by division, as qs_wquant's (a reciprocal multiply moves some). */
    float s = 0.03f;
    static float wh[NW];
    for (int i = 0; i < NW; i++) {
        float v = ((float)(i % 9) - 4.0f + 0.5f) * s;
        for (int u = 0; u < i / 9 % 7; u++)
            v = nextafterf(v, i % 2 ? INFINITY : -INFINITY);
        wh[i] = v;
    }
    for (int bits = 2; bits <= 4; bits++) {
        double el = qs_lsq_w_error(wh, NW, s, bits);
        double eh = qs_wquant_error(wh, NW, bits, s);
        T_CHECK(el == eh, "half points, bits %d: E %.17g vs Hwang %.17g", bits, el, eh);
    }
    qs_lsq_w_forward(ql, w, NW, &s, 1, 2);
    int seen[3] = {0, 0, 0};
    for (int i = 0; i < NW; i++) {
        T_CHECK(ql[i] == -s || ql[i] == 0.0f || ql[i] == s, "2 bits: level %g", ql[i]);
        seen[ql[i] < 0 ? 0 : (ql[i] > 0 ? 2 : 1)]++;
    }
    T_CHECK(seen[0] && seen[1] && seen[2], "2 bits: all three levels used");
}

/* Per channel: row c of w uses s[c] and equals a per-tensor call on it. */
static void test_lsq_w_per_channel(void)
{
    enum { C = 4, R = 150 };
    static float w[C * R], q[C * R], q1[R];
    fill_normal(w, C * R, 0.05, 0.0, 4);
    float s[C] = {0.01f, 0.02f, 0.04f, 0.08f};
    qs_lsq_w_forward(q, w, C * R, s, C, 3);
    for (int c = 0; c < C; c++) {
        qs_lsq_w_forward(q1, w + c * R, R, &s[c], 1, 3);
        T_CHECK(memcmp(q1, q + c * R, sizeof q1) == 0, "row %d differs", c);
    }
}

/* The STE surrogate of the weight quantizer at the base step s0: with
 * c = q0 / s0 - v0 taken from the forward's output, q_sur = (w / s + c) s
 * inside and +-Qp s at the clip (the branch of the base point). Its exact
 * derivative is the LSQ gradient before the scale g. */
static double w_sur_loss(const float *w, const float *r, const double *c,
                         const int *br, int n, double s, double qp)
{
    double l = 0.0;
    for (int i = 0; i < n; i++) {
        double q = br[i] < 0 ? -qp * s : (br[i] > 0 ? qp * s : ((double)w[i] / s + c[i]) * s);
        l += r[i] * q;
    }
    return l;
}

static void w_fd_check(int nch, int bits)
{
    enum { N = 600 };
    static float w[N], r[N], q[N], dw[N];
    static double c[N];
    static int br[N];
    float s[8], ds[8];
    const int row = N / nch;
    const double qp = qs_lsq_wqp(bits);
    fill_normal(w, N, 0.05, 0.0, 7 + bits);
    fill_normal(r, N, 1.0, 0.0, 70 + bits);
    for (int k = 0; k < nch; k++) {
        s[k] = 0.03f / (float)qp * (1.0f + 0.5f * k);
        ds[k] = 0.25f; /* added to */
    }
    qs_lsq_w_forward(q, w, N, s, nch, bits);
    qs_lsq_w_backward(dw, ds, r, w, N, s, nch, bits);
    int clipped = 0;
    for (int k = 0; k < nch; k++) {
        const double g = qs_lsq_w_grad_scale((size_t)row, bits);
        for (int i = k * row; i < (k + 1) * row; i++) {
            float v = w[i] / s[k];
            br[i] = v <= -qp ? -1 : (v >= qp ? 1 : 0);
            c[i] = (double)q[i] / s[k] - (double)w[i] / s[k];
            clipped += br[i] != 0;
        }
        const double h = 1e-3 * s[k];
        double lp = w_sur_loss(w + k * row, r + k * row, c + k * row, br + k * row, row,
                               s[k] + h, qp);
        double lm = w_sur_loss(w + k * row, r + k * row, c + k * row, br + k * row, row,
                               s[k] - h, qp);
        double fd = (lp - lm) / (2 * h);
        double got = (ds[k] - 0.25) / g;
        T_CHECK(T_CLOSE(got, fd, 1e-4, 1e-5), "nch %d bits %d row %d: ds/g %.9g vs fd %.9g",
                nch, bits, k, got, fd);
        /* dw: 1 inside (the surrogate is w + c s), 0 at the clip. */
        for (int i = k * row; i < (k + 1) * row; i++)
            T_CHECK(dw[i] == (br[i] ? 0.0f : r[i]), "nch %d bits %d: dw[%d] %g", nch, bits, i,
                    dw[i]);
    }
    T_CHECK(clipped > 0, "nch %d bits %d: no weight at the clip (test data)", nch, bits);
}

static void test_lsq_w_finite_diff(void)
{
    for (int bits = 2; bits <= 4; bits++) {
        w_fd_check(1, bits);
        if (t_failed_case)
            return;
        w_fd_check(4, bits);
        if (t_failed_case)
            return;
    }
}

/* ds = g x the raw sum with g = 1 / sqrt(N Qp), N = the weights sharing s
 * (the whole tensor, or one row when per channel). */
static void test_lsq_w_grad_scale(void)
{
    enum { N = 1200 };
    static float w[N], r[N], dw[N];
    fill_normal(w, N, 0.05, 0.0, 11);
    fill_normal(r, N, 1.0, 0.0, 12);
    const int bits = 3;
    const double qp = 3.0;
    T_CHECK(qs_lsq_w_grad_scale(N, bits) == 1.0 / sqrt(N * qp), "g per tensor");
    for (int nch = 1; nch <= 3; nch += 2) {
        float s[3] = {0.02f, 0.02f, 0.02f}, ds[3] = {0, 0, 0};
        qs_lsq_w_backward(dw, ds, r, w, N, s, nch, bits);
        int row = N / nch;
        for (int k = 0; k < nch; k++) {
            double raw = 0.0;
            for (int i = k * row; i < (k + 1) * row; i++) {
                float v = w[i] / s[k];
                raw += (v <= -qp ? -qp : (v >= qp ? qp : (double)(roundf(v) - v))) * r[i];
            }
            double want = raw / sqrt((double)row * qp);
            T_CHECK(T_CLOSE(ds[k], want, 1e-6, 1e-9), "nch %d row %d: ds %.9g, want %.9g",
                    nch, k, ds[k], want);
        }
    }
}

/* MSE init: the least-error candidate of a brute-force scan with its own
 * quantizer, and the mean rule's value; per row when per channel. */
static void test_lsq_w_init(void)
{
    enum { C = 3, R = 1000 };
    static float w[C * R];
    fill_normal(w, C * R, 0.05, 0.0, 13);
    for (int i = R; i < 2 * R; i++)
        w[i] *= 3.0f;
    for (int bits = 2; bits <= 8; bits += 3) {
        float s[C], sm[C];
        qs_lsq_w_init(s, w, C * R, C, bits, QS_LSQ_WINIT_MSE);
        qs_lsq_w_init(sm, w, C * R, C, bits, QS_LSQ_WINIT_MEAN);
        const float qp = (float)((1 << (bits - 1)) - 1);
        for (int c = 0; c < C; c++) {
            const float *x = w + c * R;
            float mx = 0.0f;
            double sum = 0.0;
            for (int i = 0; i < R; i++) {
                mx = fmaxf(mx, fabsf(x[i]));
                sum += fabsf(x[i]);
            }
            double best_e = INFINITY;
            float best = 0.0f;
            for (int j = 1; j <= QS_LSQ_WCAND; j++) {
                float st = (float)((double)j / QS_LSQ_WCAND * mx / qp);
                double e = 0.0;
                for (int i = 0; i < R; i++) {
                    float z = fminf(fmaxf(roundf(x[i] / st), -qp), qp);
                    double d = (double)x[i] - (double)(st * z);
                    e += d * d;
                }
                if (e < best_e) {
                    best_e = e;
                    best = st;
                }
            }
            T_CHECK(s[c] == best, "bits %d row %d: MSE init %.9g, brute force %.9g", bits, c,
                    s[c], best);
            float want = (float)(2.0 * sum / R / sqrt((double)qp));
            T_CHECK(sm[c] == want, "bits %d row %d: mean rule %.9g, want %.9g", bits, c, sm[c],
                    want);
        }
    }
    float z[10] = {0}, sz;
    qs_lsq_w_init(&sz, z, 10, 1, 2, QS_LSQ_WINIT_MSE);
    T_CHECK(sz == 1.0f, "all-zero row: s %g, want 1", sz);
}

/* ---- activations --------------------------------------------------------- */

/* A frozen step is a fixed uniform quantizer: at beta 0 and a step s whose
 * PACT clip a = P s makes PACT's n / a and a / n exact (s a power of two),
 * LSQ+ equals qs_pact_forward bit for bit; with an offset, the levels are
 * beta + k s, k = 0..P, and y = beta below the range. */
static void test_lsq_act_frozen_is_uniform(void)
{
    enum { N = 4000 };
    static float x[N], y[N], yp[N];
    fill_normal(x, N, 1.0, 0.3, 17);
    x[0] = 0.0f;
    x[1] = -0.0f;
    x[2] = 100.0f;
    for (int bits = 2; bits <= 8; bits++) {
        const float s = bits < 5 ? 0.25f : 0.03125f, p = qs_lsq_ap(bits);
        qs_lsq_act_forward(y, x, N, s, 0.0f, bits);
        qs_pact_forward(yp, x, N, p * s, bits);
        T_CHECK(memcmp(y, yp, sizeof y) == 0, "bits %d: LSQ+ at beta 0 differs from PACT", bits);
    }
    const float s = 0.3f, beta = -0.7f;
    qs_lsq_act_forward(y, x, N, s, beta, 2);
    for (int i = 0; i < N; i++) {
        float k = (y[i] - beta) / s;
        T_CHECK(fabsf(k - roundf(k)) < 1e-5f && k > -0.5f && k < 3.5f, "level %g", y[i]);
        if (x[i] <= beta)
            T_CHECK(y[i] == beta, "below: y %g", y[i]);
    }
    T_CHECK(fabsf(y[2] - (beta + 3 * s)) < 1e-6f, "top level %g", y[2]);
    x[5] = NAN;
    qs_lsq_act_forward(y, x, N, s, beta, 2);
    T_CHECK(isnan(y[5]), "NaN stays NaN: %g", y[5]);
}

/* Surrogate of the activation quantizer at the base point (c from the
 * forward's output, branches frozen): inside (u + c) s + beta, below beta,
 * above P s + beta. */
static double a_sur_loss(const float *x, const float *r, const double *c, const int *br,
                         int n, double s, double beta, double p, int skip, double xs)
{
    double l = 0.0;
    for (int i = 0; i < n; i++) {
        double xi = i == skip ? xs : x[i];
        double y = br[i] < 0 ? beta : (br[i] > 0 ? p * s + beta : ((xi - beta) / s + c[i]) * s + beta);
        l += r[i] * y;
    }
    return l;
}

static void a_fd_check(int bits, float s, float beta, size_t features)
{
    enum { N = 3000 };
    static float x[N], r[N], y[N], dx[N];
    static double c[N];
    static int br[N];
    const double p = qs_lsq_ap(bits);
    fill_normal(x, N, 1.0, 0.2, 19 + bits);
    fill_normal(r, N, 1.0, 0.0, 90 + bits);
    for (int i = 0; i < N; i++)
        dx[i] = 0.5f;
    qs_lsq_act_forward(y, x, N, s, beta, bits);
    double ds, db;
    qs_lsq_act_backward(dx, &ds, &db, r, x, N, s, beta, bits, features);
    int nb[3] = {0, 0, 0};
    for (int i = 0; i < N; i++) {
        float u = (x[i] - beta) * (1.0f / s);
        br[i] = u < 0.0f ? -1 : (u >= p ? 1 : 0);
        c[i] = ((double)y[i] - beta) / s - ((double)x[i] - beta) / s;
        nb[br[i] + 1]++;
    }
    T_CHECK(nb[0] && nb[1] && nb[2], "bits %d: test data covers below/inside/above (%d %d %d)",
            bits, nb[0], nb[1], nb[2]);
    const double g = qs_lsq_act_grad_scale(features, bits), h = 1e-3;
    double fs = (a_sur_loss(x, r, c, br, N, s + h, beta, p, -1, 0) -
                 a_sur_loss(x, r, c, br, N, s - h, beta, p, -1, 0)) / (2 * h);
    double fb = (a_sur_loss(x, r, c, br, N, s, beta + h, p, -1, 0) -
                 a_sur_loss(x, r, c, br, N, s, beta - h, p, -1, 0)) / (2 * h);
    T_CHECK(T_CLOSE(ds / g, fs, 1e-4, 1e-4), "bits %d: ds/g %.9g vs fd %.9g", bits, ds / g, fs);
    T_CHECK(T_CLOSE(db, fb, 1e-4, 1e-4), "bits %d: dbeta %.9g vs fd %.9g", bits, db, fb);
    for (int i = 0; i < N; i += 7) {
        double fx = (a_sur_loss(x, r, c, br, N, s, beta, p, i, x[i] + h) -
                     a_sur_loss(x, r, c, br, N, s, beta, p, i, x[i] - h)) / (2 * h);
        T_CHECK(T_CLOSE(dx[i] - 0.5, fx, 1e-4, 1e-5), "bits %d: dx[%d] %.9g vs fd %.9g", bits,
                i, dx[i] - 0.5, fx);
    }
}

static void test_lsq_act_finite_diff(void)
{
    for (int bits = 2; bits <= 4; bits++) {
        a_fd_check(bits, 1.2f / (float)qs_lsq_ap(bits), 0.0f, 1000);
        if (t_failed_case)
            return;
        a_fd_check(bits, 2.5f / (float)qs_lsq_ap(bits), -0.9f, 37);
        if (t_failed_case)
            return;
    }
}

/* g = 1 / sqrt(F P): four times the features halve ds exactly; dbeta and
 * dx do not depend on F; the sums do not depend on the thread count. */
static void test_lsq_act_grad_scale_threads(void)
{
    enum { N = 300000 };
    float *x = malloc(N * sizeof *x), *r = malloc(N * sizeof *r);
    float *d1 = calloc(N, sizeof *d1), *d2 = calloc(N, sizeof *d2);
    T_CHECK(x && r && d1 && d2, "alloc");
    fill_normal(x, N, 1.0, 0.0, 23);
    fill_normal(r, N, 1.0, 0.0, 24);
    T_CHECK(qs_lsq_act_grad_scale(100, 2) == 1.0 / sqrt(300.0), "g");
    double s1, b1, s2, b2;
    qs_par_set_threads(1);
    qs_lsq_act_backward(d1, &s1, &b1, r, x, N, 0.4f, -0.1f, 2, 1024);
    qs_par_set_threads(3);
    qs_lsq_act_backward(d2, &s2, &b2, r, x, N, 0.4f, -0.1f, 2, 4096);
    qs_par_set_threads(1);
    T_CHECK(s2 * 2.0 == s1, "ds at 4F %.17g, at F %.17g", s2, s1);
    T_CHECK(b2 == b1 && memcmp(d1, d2, N * sizeof *d1) == 0, "dbeta / dx differ across threads");
    free(x);
    free(r);
    free(d1);
    free(d2);
}

/* The AVX-512 and AVX2 bodies against the scalar loops, bit for bit: y,
 * dx, ds and dbeta on every path this CPU has, ragged lengths, NaN, +-0,
 * infinities, the clip edges and exact rounding ties. */
static void test_lsq_act_paths_match(void)
{
    enum { N = 70000 + 13 };
    static float x[N], dy[N], y[3][N], dx[3][N];
    qs_rng r;
    qs_rng_seed(&r, 78);
    for (int i = 0; i < N; i++) {
        x[i] = (float)(qs_rng_normal(&r) * 1.5);
        dy[i] = (float)qs_rng_normal(&r);
    }
    const float special[] = {NAN, -NAN, 0.0f, -0.0f, INFINITY, -INFINITY, 3e38f, -3e38f,
                             FLT_MIN, -FLT_MIN, 0.75f, nextafterf(0.75f, 0.0f),
                             nextafterf(0.75f, 1.0f), 8388608.5f};
    const int ns = (int)(sizeof special / sizeof *special);
    for (int i = 0; i < ns; i++)
        x[37 * i + 5] = special[i];
    for (int k = 0; k < 8; k++) /* u = k + 1/2 exactly at s = 0.25, beta 0 */
        x[1000 + k] = (k + 0.5f) * 0.25f;
    static float xn[N], dn[N];
    for (int i = 0; i < N; i++)
        xn[i] = isnan(x[i]) ? 1.0f : x[i];
    const struct { float s, beta; } q[] = {{0.25f, 0.0f}, {0.3f, -0.2f}, {0.07f, 0.1f}};
    const size_t lens[] = {N, 15, 16, 17, 1, 0, 513, 1031, 65536 + 7};
    const int np = (int)qs_simd_best() + 1;
    if (np == 1)
        printf("    (kernel path generic only: scalar vs scalar)\n");
    for (unsigned l = 0; l < sizeof lens / sizeof *lens; l++)
        for (unsigned c = 0; c < sizeof q / sizeof *q; c++)
            for (int bits = 2; bits <= 8; bits += 3) {
                size_t len = lens[l];
                double ds[3], db[3];
                for (int p = 0; p < np; p++) {
                    qs_simd_set_path((qs_kpath)p);
                    qs_lsq_act_forward(y[p], x, len, q[c].s, q[c].beta, bits);
                    for (size_t i = 0; i < len; i++)
                        dx[p][i] = (float)i * 0.25f;
                    qs_lsq_act_backward(dx[p], &ds[p], &db[p], dy, x, len, q[c].s, q[c].beta,
                                        bits, 100);
                    /* the sums again without the NaNs, which would hide
                     * any difference */
                    qs_lsq_act_backward(dn, &ds[p], &db[p], dy, xn, len, q[c].s, q[c].beta,
                                        bits, 100);
                }
                qs_simd_set_path(QS_KPATH_COUNT);
                for (int p = 1; p < np; p++) {
                    const char *pn = qs_kpath_name((qs_kpath)p);
                    T_CHECK(memcmp(y[0], y[p], len * sizeof(float)) == 0,
                            "%s forward len %zu s %g bits %d differs", pn, len, q[c].s, bits);
                    T_CHECK(memcmp(dx[0], dx[p], len * sizeof(float)) == 0,
                            "%s dx len %zu s %g bits %d differs", pn, len, q[c].s, bits);
                    T_CHECK(memcmp(&ds[0], &ds[p], sizeof(double)) == 0 &&
                                memcmp(&db[0], &db[p], sizeof(double)) == 0,
                            "%s len %zu s %g bits %d: ds %.17g / %.17g, dbeta %.17g / %.17g",
                            pn, len, q[c].s, bits, ds[0], ds[p], db[0], db[p]);
                }
            }
}

/* numpy's default quantile */
static double np_quantile(const float *v, int n, double q)
{
    double pos = q * (n - 1);
    int lo = (int)floor(pos);
    if (lo >= n - 1)
        return v[n - 1];
    return v[lo] + (pos - lo) * ((double)v[lo + 1] - v[lo]);
}

static int cmpf(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static double a_mse_ref(const float *y, int n, float s, float beta, int bits)
{
    double e = 0.0;
    float p = (float)((1 << bits) - 1);
    for (int i = 0; i < n; i++) {
        float u = fminf(fmaxf((y[i] - beta) * (1.0f / s), 0.0f), p);
        double d = (double)y[i] - (double)(roundf(u) * s + beta);
        e += d * d;
    }
    return e / n;
}

/* MSE init against a brute-force scan of the same candidates: ReLU-like
 * samples (half zeros, beta 0) and a signed sample with the offset. */
static void test_lsq_act_init_mse(void)
{
    enum { N = 4000 };
    static float y[N], ys[N], w[N];
    fill_normal(y, N, 1.0, 0.0, 29);
    for (int i = 0; i < N; i++)
        y[i] = y[i] > 0.0f ? y[i] : 0.0f;
    y[3] = NAN;
    for (int bits = 2; bits <= 4; bits++) {
        memcpy(w, y, sizeof w);
        float s, beta;
        qs_lsq_act_init_mse(&s, &beta, w, N, bits, 0);
        int n = 0;
        for (int i = 0; i < N; i++)
            if (!isnan(y[i]))
                ys[n++] = y[i];
        qsort(ys, n, sizeof *ys, cmpf);
        float best = 0.0f;
        double be = INFINITY;
        for (int j = 0; j <= 100; j++) {
            float st = (float)np_quantile(ys, n, 0.5 + 0.005 * j) / (float)((1 << bits) - 1);
            double e = a_mse_ref(ys, n, st, 0.0f, bits);
            if (e < be) {
                be = e;
                best = st;
            }
        }
        T_CHECK(beta == 0.0f && s == best, "bits %d: s %.9g beta %g, brute force %.9g", bits, s,
                beta, best);
    }
    fill_normal(y, N, 1.0, 0.5, 31);
    for (int i = 0; i < N; i++)
        y[i] = y[i] < 0.0f ? 0.3f * y[i] : y[i]; /* leaky: skewed signed */
    memcpy(ys, y, sizeof ys);
    qsort(ys, N, sizeof *ys, cmpf);
    for (int bits = 2; bits <= 3; bits++) {
        memcpy(w, y, sizeof w);
        float s, beta;
        qs_lsq_act_init_mse(&s, &beta, w, N, bits, 1);
        float bs = 0.0f, bb = 0.0f;
        double be = INFINITY;
        for (int a = 0; a < QS_LSQ_OCAND; a++)
            for (int b = 0; b < QS_LSQ_OCAND; b++) {
                float lo = (float)np_quantile(ys, N, 0.02 * a);
                float hi = (float)np_quantile(ys, N, 0.5 + 0.02 * b);
                float st = (hi - lo) / (float)((1 << bits) - 1);
                if (!(st > 0.0f))
                    continue;
                double e = a_mse_ref(ys, N, st, lo, bits);
                if (e < be) {
                    be = e;
                    bs = st;
                    bb = lo;
                }
            }
        T_CHECK(s == bs && beta == bb, "bits %d offset: (s %.9g, beta %.9g), brute force "
                "(%.9g, %.9g)", bits, s, beta, bs, bb);
        T_CHECK(beta < 0.0f, "bits %d: the offset found a negative beta (%g)", bits, beta);
    }
}

int main(void)
{
    T_RUN(test_lsq_w_matches_hwang);
    T_RUN(test_lsq_w_per_channel);
    T_RUN(test_lsq_w_finite_diff);
    T_RUN(test_lsq_w_grad_scale);
    T_RUN(test_lsq_w_init);
    T_RUN(test_lsq_act_frozen_is_uniform);
    T_RUN(test_lsq_act_finite_diff);
    T_RUN(test_lsq_act_grad_scale_threads);
    T_RUN(test_lsq_act_paths_match);
    T_RUN(test_lsq_act_init_mse);
    T_EXIT();
}
