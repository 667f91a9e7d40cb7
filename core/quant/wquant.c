/* Weight quantizer (methods.md section 2): Hwang & Sung uniform quantizer,
 * one step size D per layer, found by a coarse search and alternating
 * minimisation; binary weights use the closed form. */
#include "quant.h"

#include "simd.h"

#include <math.h>
#include <stdint.h>

#define QS_WQ_CANDIDATES 64
#define QS_WQ_ITERS_FIRST 100
#define QS_WQ_ITERS_WARM 10

/* roundf, bit for bit (NaN and -0 included), as a conversion the compiler
 * can inline and vectorize instead of a libm call: |v| + 0.5 is exact in
 * double and truncation is floor there; from 2^23 up every float is an
 * integer already. The same helper sits in pact.c. */
static inline float wq_roundf(float v)
{
    float a = fabsf(v);
    float r = a < 8388608.0f ? (float)(int32_t)((double)a + 0.5) : a;
    return copysignf(r, v);
}

/* Half away from zero, clipped to [-m, m]. Division rather than a
 * reciprocal multiply so that z sits exactly where round(w / D) says at the
 * half-way points; the search, the update and qs_wquant_error must agree. */
static inline float wq_level(float w, float d, float m)
{
    float z = wq_roundf(w / d);
    return z > m ? m : (z < -m ? -m : z);
}

/* No quantization at all for these widths: 32 is the project's "float"
 * setting and anything below 1 is not a quantizer. */
static int wq_passthrough(int bits) { return bits >= 32 || bits < 1; }

/* M as a float: exact up to 24 bits, and beyond that z is a float-valued
 * integer anyway, so the clip still does what it should. */
static float wq_max_level(int bits) { return (float)(ldexp(1.0, bits - 1) - 1.0); }

/* w [len] -> E(D) = sum (w - D z)^2 for a given step; step <= 0 means q = 0. */
double qs_wquant_error(const float *w, size_t len, int bits, float step)
{
    double e = 0.0;
    if (wq_passthrough(bits))
        return 0.0;
    if (!(step > 0.0f)) {
        for (size_t i = 0; i < len; i++)
            e += (double)w[i] * w[i];
        return e;
    }
    if (bits == 1) {
        for (size_t i = 0; i < len; i++) {
            double d = (double)w[i] - (double)(w[i] >= 0.0f ? step : -step);
            e += d * d;
        }
        return e;
    }
    float m = wq_max_level(bits);
    for (size_t i = 0; i < len; i++) {
        double d = (double)w[i] - (double)(step * wq_level(w[i], step, m));
        e += d * d;
    }
    return e;
}

/* Binary case: D = mean |w| is the exact minimiser for z = sign(w). */
static double wq_binary(float *q, float *step, const float *w, size_t len)
{
    double s = 0.0, e = 0.0;
    for (size_t i = 0; i < len; i++)
        s += fabs((double)w[i]);
    float d = (float)(s / (double)len);
    for (size_t i = 0; i < len; i++) {
        q[i] = w[i] >= 0.0f ? d : -d; /* sign(0) = +1; -0.0 counts as 0 */
        double r = (double)w[i] - q[i];
        e += r * r;
    }
    *step = d;
    return e;
}

/* The first-step start: the best of D = (j/64) max|w| / M, j = 1..64 (ties
 * to the smaller j). Plain alternation from a poor start clips 8-bit
 * weights at about 2 sigma, hence the search. */
static float wq_coarse(const float *w, size_t len, int bits, float maxabs)
{
    float m = wq_max_level(bits);
    float best_d = 0.0f;
    double best_e = INFINITY;
    for (int j = 1; j <= QS_WQ_CANDIDATES; j++) {
        float d = (float)((double)j / QS_WQ_CANDIDATES * maxabs / m);
        double e = qs_wquant_error(w, len, bits, d);
        if (e < best_e) {
            best_e = e;
            best_d = d;
        }
    }
    return best_d;
}

/* Sums over a layer's weights (every step, several times) run in 32
 * double lanes, element i in lane i % 32, tail in lane 0, lanes summed
 * pairwise: a fixed order, so the vector paths (wquant_k.h: the same
 * lanes in four zmm or eight ymm) give the same bits as the scalar one.
 * 32 rather than 8 lanes: with one register per sum the loop waited on
 * the add latency. */
#define WQ_LANES 32

static double wq_lanes_sum(const double l[WQ_LANES])
{
    double t[WQ_LANES];
    for (int i = 0; i < WQ_LANES; i++)
        t[i] = l[i];
    for (int w = 1; w < WQ_LANES; w *= 2)
        for (int i = 0; i < WQ_LANES; i += 2 * w)
            t[i] += t[i + w];
    return t[0];
}

#if QS_SIMD_X86
#define QS_VL 16
#include "wquant_k.h"
#undef QS_VL
#define QS_VL 8
#include "wquant_k.h"
#undef QS_VL
#endif

/* One z-step at D: q [len] <- z. Returns whether any z differs from what
 * q held (only meaningful when q held z). */
static int wq_assign(float *q, const float *w, size_t len, float d, float m)
{
    int changed = 0;
    size_t i = 0;
#if QS_SIMD_X86
    if (qs_simd_avx512()) {
        i = len & ~(size_t)15;
        changed = wq_assignv_avx512(q, w, i, d, m);
    } else if (qs_simd_avx2()) {
        i = len & ~(size_t)7;
        changed = wq_assignv_avx2(q, w, i, d, m);
    }
#endif
    for (; i < len; i++) {
        float z = wq_level(w[i], d, m);
        changed |= z != q[i];
        q[i] = z;
    }
    return changed;
}

/* The sums for the next D-step from z = q: swz = sum w z, szz = sum z z.
 * A pass of its own, run only when the alternation goes on: the last
 * z-step of a warm start usually changes nothing and needs no sums. */
static void wq_sums(double *swz, double *szz, const float *q, const float *w,
                    size_t len)
{
    double la[WQ_LANES] = {0}, lb[WQ_LANES] = {0};
    size_t i = 0;
#if QS_SIMD_X86
    if (qs_simd_avx2()) { /* either width: the same lanes */
        i = len & ~(size_t)31;
        if (qs_simd_avx512())
            wq_sumsv_avx512(la, lb, q, w, i);
        else
            wq_sumsv_avx2(la, lb, q, w, i);
    }
#endif
    for (; i + WQ_LANES <= len; i += WQ_LANES)
        for (int k = 0; k < WQ_LANES; k++) {
            la[k] += (double)w[i + k] * q[i + k];
            lb[k] += (double)q[i + k] * q[i + k];
        }
    for (; i < len; i++) {
        la[0] += (double)w[i] * q[i];
        lb[0] += (double)q[i] * q[i];
    }
    *swz = wq_lanes_sum(la);
    *szz = wq_lanes_sum(lb);
}

static float wq_maxabs(const float *w, size_t len)
{
    float mx = 0.0f;
    for (size_t i = 0; i < len; i++) {
        float a = fabsf(w[i]);
        if (a > mx)
            mx = a;
    }
    return mx;
}

/* w [len] -> q [len] = D z; *step in/out (<= 0: first call). Returns E
 * when want_e (else 0 on the main path: the sum is sequential in double,
 * and training, which requantizes every step, never reads it). q doubles
 * as the z buffer during the alternation, so nothing is allocated. */
static double wq_fit(float *q, float *step, const float *w, size_t len,
                     int bits, int want_e)
{
    if (len == 0)
        return 0.0;
    if (wq_passthrough(bits)) {
        for (size_t i = 0; i < len; i++)
            q[i] = w[i];
        return 0.0;
    }
    if (bits == 1)
        return wq_binary(q, step, w, len);

    float m = wq_max_level(bits);
    int max_iter = QS_WQ_ITERS_WARM;
    float d = *step;
    double swz = 0.0, szz = 0.0;
    if (d > 0.0f) {
        wq_assign(q, w, len, d, m);
        wq_sums(&swz, &szz, q, w, len);
        /* A warm step that has drifted above 2 max|w| zeroes every weight,
         * a fixed point alternation cannot leave; search afresh instead. */
        if (szz == 0.0)
            d = 0.0f;
    }
    if (!(d > 0.0f)) {
        float mx = wq_maxabs(w, len);
        if (!(mx > 0.0f)) { /* all-zero w: D = 0, q = 0 */
            for (size_t i = 0; i < len; i++)
                q[i] = 0.0f;
            *step = 0.0f;
            return 0.0;
        }
        d = wq_coarse(w, len, bits, mx);
        max_iter = QS_WQ_ITERS_FIRST;
        wq_assign(q, w, len, d, m);
        wq_sums(&swz, &szz, q, w, len);
    }

    /* Alternate: D-step (least squares for the current z), then z-step.
     * Each half can only lower E, so the result is never worse than the
     * start. On exit z = z(D), so q = D z is the quantizer at D. */
    for (int it = 0; it < max_iter; it++) {
        if (szz == 0.0)
            break; /* keep D: no level is in use */
        float dn = (float)(swz / szz);
        if (dn == d)
            break; /* same D, same z */
        d = dn;
        if (!wq_assign(q, w, len, d, m))
            break;
        wq_sums(&swz, &szz, q, w, len);
    }

    double e = 0.0;
    *step = d;
    if (!want_e) {
        size_t i = 0;
        for (; i + 8 <= len; i += 8) /* -O2 vectorises fixed inner loops */
            for (int k = 0; k < 8; k++)
                q[i + k] = d * q[i + k];
        for (; i < len; i++)
            q[i] = d * q[i];
        return 0.0;
    }
    for (size_t i = 0; i < len; i++) {
        q[i] = d * q[i];
        double r = (double)w[i] - q[i];
        e += r * r;
    }
    return e;
}

double qs_wquant(float *q, float *step, const float *w, size_t len, int bits)
{
    return wq_fit(q, step, w, len, bits, 1);
}

void qs_wquant_apply(float *q, float *step, const float *w, size_t len,
                     int bits)
{
    wq_fit(q, step, w, len, bits, 0);
}
