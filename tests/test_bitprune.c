/* BitPruning's interpolated quantizers and bit-width loss
 * (core/quant/bitprune.h): the split of b, integer widths against the
 * plain quantizers bit for bit, finite differences with respect to b and
 * to the input (straight-through surrogate), the loss and its weightings. */
#include "bitprune.h"
#include "err.h"
#include "lsq.h"
#include "quant.h"
#include "rng.h"
#include "tharness.h"

#include <math.h>
#include <string.h>

#define N 2000

static void fill(float *x, int n, double scale, double shift, uint64_t seed)
{
    qs_rng r;
    qs_rng_seed(&r, seed);
    for (int i = 0; i < n; i++)
        x[i] = (float)(shift + scale * qs_rng_normal(&r));
}

static double dot(const float *c, const float *y, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)c[i] * y[i];
    return s;
}

static void test_bp_split_clamp(void)
{
    static const struct { float b; int lo; float f; } t[] = {
        {3.0f, 3, 0.0f}, {3.25f, 3, 0.25f}, {7.5f, 7, 0.5f}, {8.0f, 7, 1.0f}, {1.0f, 1, 0.0f},
        {2.0f, 2, 0.0f},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        qs_bp_split s = qs_bp_split_bits(t[i].b);
        T_CHECK(s.lo == t[i].lo && s.hi == t[i].lo + 1 && s.f == t[i].f,
                "b %g: lo %d hi %d f %g", t[i].b, s.lo, s.hi, s.f);
    }
    T_CHECK(qs_bp_clamp(9.5f, 2) == 8 && qs_bp_clamp(0.5f, 2) == 2 &&
                qs_bp_clamp(1.5f, 1) == 1.5f && qs_bp_clamp(NAN, 1) == 1 &&
                qs_bp_clamp(-INFINITY, 2) == 2 && qs_bp_clamp(INFINITY, 2) == 8,
            "clamp");
    T_CHECK(qs_bp_round_up(3.0f) == 3 && qs_bp_round_up(3.01f) == 4 && qs_bp_round_up(7.9f) == 8 &&
                qs_bp_round_up(12.0f) == 8,
            "round up");
}

/* b at an integer k is the plain quantizer of width k, bit for bit: PACT
 * for activations (1..8 bits), LSQ's symmetric codes (= Hwang-Sung's at
 * D = s) at s = clip / Qp for weights (2..8 bits). */
static void test_bp_integer_is_plain(void)
{
    static float x[N], y[N], r[N], w[N];
    fill(x, N, 1.0, 0.3, 1);
    fill(w, N, 0.05, 0.0, 2);
    x[0] = 0.0f;
    x[1] = 1.5f; /* = alpha */
    for (int k = 1; k <= QS_BP_BMAX; k++) {
        qs_bp_act_forward(y, x, N, 1.5f, (float)k);
        qs_pact_forward(r, x, N, 1.5f, k);
        T_CHECK(memcmp(y, r, sizeof y) == 0, "activations at %d bits differ from PACT", k);
    }
    for (int k = QS_BP_W_BMIN; k <= QS_BP_BMAX; k++) {
        float clip = 0.12f, s = clip / qs_lsq_wqp(k);
        qs_bp_w_forward(y, w, N, clip, (float)k);
        qs_lsq_w_forward(r, w, N, &s, 1, k);
        T_CHECK(memcmp(y, r, sizeof y) == 0, "weights at %d bits differ from the plain quantizer", k);
        T_CHECK(qs_lsq_w_error(w, N, s, k) == qs_wquant_error(w, N, k, s), "Hwang-Sung at %d", k);
    }
    /* Between integers: the mix of the two neighbours. */
    qs_bp_act_forward(y, x, N, 1.5f, 3.25f);
    static float q3[N], q4[N];
    qs_pact_forward(q3, x, N, 1.5f, 3);
    qs_pact_forward(q4, x, N, 1.5f, 4);
    for (int i = 0; i < N; i++)
        T_CHECK(y[i] == 0.75f * q3[i] + 0.25f * q4[i], "mix at %d", i);
}

/* dL/db for L = sum c_i y_i: central differences inside (lo, lo + 1),
 * one-sided (from above) at an integer, one-sided from below at 8. y is
 * linear in b between integers, so the only error is float rounding. */
static void test_bp_finite_diff_b(void)
{
    static float x[N], w[N], c[N], y[N], dx[N];
    fill(x, N, 1.0, 0.4, 3);
    fill(w, N, 0.05, 0.0, 4);
    fill(c, N, 1.0, 0.0, 5);
    const float alpha = 1.7f, clip = 0.1f;
    static const float bs[] = {2.3f, 4.6f, 6.5f, 3.0f, 8.0f, 1.4f};
    for (int t = 0; t < 2; t++) {
        for (size_t j = 0; j < sizeof bs / sizeof bs[0]; j++) {
            float b = bs[j];
            if (t == 1 && b < QS_BP_W_BMIN)
                continue;
            /* A wide step (exact in float, inside the interval): y is linear
             * in b there, and the float rounding of the mix, summed over N
             * values, is divided by h. */
            float h = 1.0f / 4;
            float bp = b == 8.0f ? b : b + h, bm = b == floorf(b) ? b : b - h;
            if (b == 8.0f)
                bm = b - h;
            double lp, lm, db = 0;
            memset(dx, 0, sizeof dx);
            if (t == 0) {
                qs_bp_act_forward(y, x, N, alpha, bp);
                lp = dot(c, y, N);
                qs_bp_act_forward(y, x, N, alpha, bm);
                lm = dot(c, y, N);
                qs_bp_act_backward(dx, &db, c, x, N, alpha, b);
            } else {
                qs_bp_w_forward(y, w, N, clip, bp);
                lp = dot(c, y, N);
                qs_bp_w_forward(y, w, N, clip, bm);
                lm = dot(c, y, N);
                qs_bp_w_backward(dx, &db, c, w, N, clip, b);
            }
            double fd = (lp - lm) / ((double)bp - bm);
            T_CHECK(T_CLOSE(fd, db, 1e-4, 1e-5), "%s b %g: dL/db %.9g, finite difference %.9g",
                    t ? "weights" : "activations", b, db, fd);
            T_CHECK(fabs(db) > 1e-3, "%s b %g: dL/db %.3g is no test", t ? "w" : "a", b, db);
        }
    }
}

/* dL/dx: the rounding frozen at the base point (c_k = Q_k(x0) - clip(x0)),
 * the surrogate (1 - f)(clip(x) + c_lo) + f (clip(x) + c_hi) has exactly
 * the straight-through gradient; its central differences at points away
 * from the clip edges must match the backward's dx, and dalpha PACT's. */
static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

static void test_bp_finite_diff_input(void)
{
    enum { M = 64 };
    float x[M], c[M], dx[M], dy[M];
    fill(x, M, 1.0, 0.5, 6);
    fill(c, M, 1.0, 0.0, 7);
    for (int t = 0; t < 2; t++) {
        const float lim = t ? 0.1f : 1.2f, b = t ? 3.3f : 2.7f;
        for (int i = 0; i < M; i++) {
            float v = t ? x[i] * 0.05f : x[i];
            /* keep 1e-2 away from the clip edges: central differences at
             * step 1e-3 then see one side only */
            if (fabsf(v - lim) < 1e-2f || fabsf(v + (t ? lim : 0)) < 1e-2f)
                v += 3e-2f;
            x[i] = v;
        }
        memcpy(dy, c, sizeof dy);
        memset(dx, 0, sizeof dx);
        double db = 0, da = 0;
        if (t)
            qs_bp_w_backward(dx, &db, dy, x, M, lim, b);
        else
            da = qs_bp_act_backward(dx, &db, dy, x, M, lim, b);
        const double h = 1e-3;
        double da_fd = 0;
        for (int i = 0; i < M; i++) {
            float lo = t ? -lim : 0.0f;
            /* d/dx of clip(x) with the code offset frozen */
            double sp = clampf((float)(x[i] + h), lo, lim), sm = clampf((float)(x[i] - h), lo, lim);
            double fd = c[i] * (sp - sm) / (2 * h);
            T_CHECK(T_CLOSE(fd, dx[i], 1e-3, 1e-4), "%s x %g: dx %.6g, finite difference %.6g",
                    t ? "weights" : "activations", x[i], dx[i], fd);
            if (!t && x[i] >= lim)
                da_fd += c[i]; /* the clipped output is alpha itself */
        }
        if (!t)
            T_CHECK(T_CLOSE(da, da_fd, 1e-6, 1e-9), "dalpha %.9g, want %.9g", da, da_fd);
    }
}

static void test_bp_loss(void)
{
    float b[3] = {2.5f, 4.0f, 8.0f};
    const double params[3] = {100, 300, 600}, macs[3] = {1e4, 1e3, 1e2};
    const double lambda = 0.05;
    for (int mode = 0; mode <= QS_BP_MACS; mode++) {
        double db[3] = {0}, r, r2;
        T_CHECK(qs_bp_loss(&r, db, b, params, macs, 3, (qs_bp_weighting)mode, lambda) == QS_OK,
                "%s: %s", qs_bp_weighting_names[mode], qs_errmsg());
        const double *cw = mode == QS_BP_PARAMS ? params : mode == QS_BP_MACS ? macs : NULL;
        double sum = 0, want = 0;
        for (int l = 0; l < 3; l++) {
            sum += cw ? cw[l] : 1;
            want += (cw ? cw[l] : 1) * b[l];
        }
        T_CHECK(T_CLOSE(r, lambda * want / sum, 1e-12, 0), "%s: R %.9g", qs_bp_weighting_names[mode], r);
        for (int l = 0; l < 3; l++) {
            double dd[3] = {0};
            float bb[3] = {b[0], b[1], b[2]};
            bb[l] += 0.25f;
            qs_bp_loss(&r2, dd, bb, params, macs, 3, (qs_bp_weighting)mode, lambda);
            T_CHECK(T_CLOSE((r2 - r) / 0.25, db[l], 1e-9, 1e-12), "%s layer %d: db %.9g, fd %.9g",
                    qs_bp_weighting_names[mode], l, db[l], (r2 - r) / 0.25);
        }
    }
    double db[3], r;
    const double zero[3] = {0, 0, 0};
    T_CHECK(qs_bp_loss(&r, db, b, params, macs, 3, QS_BP_UNIFORM, -1) == QS_EINVAL, "lambda < 0");
    T_CHECK(qs_bp_loss(&r, db, b, zero, macs, 3, QS_BP_PARAMS, 1) == QS_EINVAL, "zero counts");
    T_CHECK(qs_bp_loss(&r, db, b, NULL, macs, 3, QS_BP_PARAMS, 1) == QS_EINVAL, "no counts");
}

int main(void)
{
    T_RUN(test_bp_split_clamp);
    T_RUN(test_bp_integer_is_plain);
    T_RUN(test_bp_finite_diff_b);
    T_RUN(test_bp_finite_diff_input);
    T_RUN(test_bp_loss);
    T_EXIT();
}
