/* LSQ weight and LSQ+ activation quantizers (lsq.h, docs/quantizers.md). */
#include "lsq.h"

#include "par.h"
#include "simd.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* roundf, bit for bit (the helper of wquant.c): an inlinable conversion
 * instead of a libm call. */
static inline float lsq_roundf(float v)
{
    float a = fabsf(v);
    float r = a < 8388608.0f ? (float)(int32_t)((double)a + 0.5) : a;
    return copysignf(r, v);
}

/* Half up for v >= 0, NaN passing through (pact.c's pact_round). */
static inline float lsq_round_up(float v)
{
    return v < 8388608.0f ? (float)(int32_t)((double)v + 0.5) : v;
}

float qs_lsq_wqp(int bits) { return (float)(ldexp(1.0, bits - 1) - 1.0); }
float qs_lsq_ap(int bits) { return (float)(ldexp(1.0, bits) - 1.0); }

double qs_lsq_w_grad_scale(size_t n, int bits)
{
    double d = (double)n * qs_lsq_wqp(bits);
    return d > 0 ? 1.0 / sqrt(d) : 1.0;
}

double qs_lsq_act_grad_scale(size_t features, int bits)
{
    double d = (double)features * qs_lsq_ap(bits);
    return d > 0 ? 1.0 / sqrt(d) : 1.0;
}

/* ------------------------------------------------------------- weights */

/* Division, not a reciprocal multiply: the codes must sit where round(w/s)
 * says at the half-way points, as qs_wquant's do at D = s. */
static inline float w_code(float w, float s, float qp)
{
    float z = lsq_roundf(w / s);
    return z > qp ? qp : (z < -qp ? -qp : z);
}

/* w, q [nch, len / nch] */
void qs_lsq_w_forward(float *q, const float *w, size_t len, const float *s,
                      int nch, int bits)
{
    const float qp = qs_lsq_wqp(bits);
    const size_t row = len / (size_t)nch;
    for (int c = 0; c < nch; c++) {
        const float sc = s[c];
        const float *wr = w + (size_t)c * row;
        float *qr = q + (size_t)c * row;
        for (size_t i = 0; i < row; i++)
            qr[i] = sc * w_code(wr[i], sc, qp);
    }
}

/* dq, w [nch, len / nch] -> dw (may alias dq), ds [nch] += */
void qs_lsq_w_backward(float *dw, float *ds, const float *dq, const float *w,
                       size_t len, const float *s, int nch, int bits)
{
    const float qp = qs_lsq_wqp(bits);
    const size_t row = len / (size_t)nch;
    const double g = qs_lsq_w_grad_scale(row, bits);
    for (int c = 0; c < nch; c++) {
        const float sc = s[c];
        const size_t o = (size_t)c * row;
        double acc = 0.0;
        for (size_t i = 0; i < row; i++) {
            float v = w[o + i] / sc, d = dq[o + i];
            /* strict inside, as in the LSQ paper: a weight sitting exactly
             * on the clip level gets the clip's gradient */
            if (v <= -qp) {
                acc -= (double)qp * d;
                dw[o + i] = 0.0f;
            } else if (v >= qp) {
                acc += (double)qp * d;
                dw[o + i] = 0.0f;
            } else {
                acc += (double)(lsq_roundf(v) - v) * d;
                dw[o + i] = d;
            }
        }
        ds[c] += (float)(g * acc);
    }
}

double qs_lsq_w_error(const float *w, size_t len, float s, int bits)
{
    const float qp = qs_lsq_wqp(bits);
    double e = 0.0;
    for (size_t i = 0; i < len; i++) {
        double r = (double)w[i] - (double)(s * w_code(w[i], s, qp));
        e += r * r;
    }
    return e;
}

static float w_init_row(const float *w, size_t n, int bits, qs_lsq_winit rule)
{
    const float qp = qs_lsq_wqp(bits);
    double sum = 0.0;
    float mx = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(w[i]);
        sum += a;
        mx = a > mx ? a : mx;
    }
    if (!(mx > 0.0f))
        return 1.0f;
    if (rule == QS_LSQ_WINIT_MEAN)
        return (float)(2.0 * sum / (double)n / sqrt((double)qp));
    float best = mx / qp;
    double best_e = INFINITY;
    for (int j = 1; j <= QS_LSQ_WCAND; j++) {
        float s = (float)((double)j / QS_LSQ_WCAND * mx / qp);
        if (!(s > 0.0f))
            continue;
        double e = qs_lsq_w_error(w, n, s, bits);
        if (e < best_e) {
            best_e = e;
            best = s;
        }
    }
    return best;
}

void qs_lsq_w_init(float *s, const float *w, size_t len, int nch, int bits,
                   qs_lsq_winit rule)
{
    const size_t row = len / (size_t)nch;
    for (int c = 0; c < nch; c++)
        s[c] = w_init_row(w + (size_t)c * row, row, bits, rule);
}

/* --------------------------------------------------------- activations */

typedef struct {
    float *y; /* forward: y; backward: dx */
    const float *x, *dy;
    float s, beta;
    int bits;
    size_t bs, len;
    double *ps, *pb; /* backward: one pair of sums per block */
} act_args;

#if QS_SIMD_X86
/* the AVX-512 round half up of the width layer (the PACT bodies' own) */
#define QS_VL 16
#include "vec.h"
#endif

#if QS_SIMD_X86
/* AVX2 twin of simd.h's round half up for v >= -0 (NaN stays NaN). */
__attribute__((target("avx2"))) static inline __m256 round_up8(__m256 v)
{
    __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 up = _mm256_cmp_ps(_mm256_sub_ps(v, t), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    return _mm256_add_ps(t, _mm256_and_ps(up, _mm256_set1_ps(1.0f)));
}

/* The forward loop, 16 lanes (masked tail). Same bits as the scalar loop:
 * the same sub, mul, clip, round, mul, add (no FMA); max(0, u) and
 * min(p, u) return u for a NaN or an equal value, as the scalar selects. */
__attribute__((target("avx512f"))) static void
act_fwd_avx512(float *y, const float *x, size_t len, float s, float beta, float p)
{
    const __m512 z = _mm512_setzero_ps(), vp = _mm512_set1_ps(p);
    const __m512 vs = _mm512_set1_ps(s), vb = _mm512_set1_ps(beta);
    const __m512 vi = _mm512_set1_ps(1.0f / s);
    for (size_t i = 0; i < len; i += 16) {
        __mmask16 m = len - i >= 16 ? (__mmask16)0xffff
                                    : (__mmask16)((1u << (len - i)) - 1);
        __m512 u = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vb), vi);
        u = _mm512_min_ps(vp, _mm512_max_ps(z, u));
        u = _mm512_add_ps(_mm512_mul_ps(v_round_half_up_avx512(u), vs), vb);
        _mm512_mask_storeu_ps(y + i, m, u);
    }
}

/* The same, 8 lanes; returns how many floats it did (a multiple of 8). */
__attribute__((target("avx2"))) static size_t
act_fwd_avx2(float *y, const float *x, size_t len, float s, float beta, float p)
{
    const __m256 z = _mm256_setzero_ps(), vp = _mm256_set1_ps(p);
    const __m256 vs = _mm256_set1_ps(s), vb = _mm256_set1_ps(beta);
    const __m256 vi = _mm256_set1_ps(1.0f / s);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        __m256 u = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vb), vi);
        u = _mm256_min_ps(vp, _mm256_max_ps(z, u));
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_mul_ps(round_up8(u), vs), vb));
    }
    return i;
}

/* The backward lanes of act_bwd_range over n groups of 8 from x, dy, dx:
 * as, ab are the scalar loop's acc[8] (the same adds in the same order). */
__attribute__((target("avx2"))) static void
act_bwd_avx2(float *dx, float as[8], float ab[8], const float *dy, const float *x,
             size_t n, float s, float beta, float p)
{
    const __m256 z = _mm256_setzero_ps(), vp = _mm256_set1_ps(p);
    const __m256 vb = _mm256_set1_ps(beta), vi = _mm256_set1_ps(1.0f / s);
    __m256 ts = _mm256_loadu_ps(as), tb = _mm256_loadu_ps(ab);
    for (size_t j = 0; j < n; j++, x += 8, dy += 8, dx += 8) {
        __m256 u = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x), vb), vi);
        __m256 d = _mm256_loadu_ps(dy);
        __m256 lo = _mm256_cmp_ps(u, z, _CMP_LT_OQ), hi = _mm256_cmp_ps(u, vp, _CMP_GE_OQ);
        __m256 out = _mm256_or_ps(lo, hi);
        __m256 r = _mm256_sub_ps(round_up8(_mm256_blendv_ps(u, z, lo)), u);
        __m256 gs = _mm256_blendv_ps(_mm256_blendv_ps(r, z, lo), vp, hi);
        ts = _mm256_add_ps(ts, _mm256_mul_ps(gs, d));
        tb = _mm256_add_ps(tb, _mm256_and_ps(out, d));
        _mm256_storeu_ps(dx, _mm256_add_ps(_mm256_loadu_ps(dx), _mm256_andnot_ps(out, d)));
    }
    _mm256_storeu_ps(as, ts);
    _mm256_storeu_ps(ab, tb);
}
#endif

/* Written so that a NaN u stays NaN (both compares fail). */
static void act_fwd_range(float *y, const float *x, size_t len, float s,
                          float beta, int bits)
{
    const float p = qs_lsq_ap(bits), inv = 1.0f / s;
    size_t i0 = 0;
#if QS_SIMD_X86
    if (qs_simd_avx512()) {
        act_fwd_avx512(y, x, len, s, beta, p);
        return;
    }
    if (qs_simd_avx2())
        i0 = act_fwd_avx2(y, x, len, s, beta, p);
#endif
    for (size_t i = i0; i < len; i++) {
        float u = (x[i] - beta) * inv;
        u = u < 0.0f ? 0.0f : u;
        u = u > p ? p : u;
        y[i] = lsq_round_up(u) * s + beta;
    }
}

static void act_fwd_part(void *ctx, size_t lo, size_t hi)
{
    const act_args *a = ctx;
    act_fwd_range(a->y + lo, a->x + lo, hi - lo, a->s, a->beta, a->bits);
}

void qs_lsq_act_forward(float *y, const float *x, size_t len, float s,
                        float beta, int bits)
{
    act_args a = {.y = y, .x = x, .s = s, .beta = beta, .bits = bits};
    qs_par_range(len, act_fwd_part, &a);
}

/* One block: 8 float lanes per 512-element chunk (branch-free, so it
 * vectorises), the chunks added in double in order. */
static void act_bwd_range(float *dx, double *ds, double *db, const float *dy,
                          const float *x, size_t len, float s, float beta,
                          int bits)
{
    const float p = qs_lsq_ap(bits), inv = 1.0f / s;
    double ts = 0.0, tb = 0.0;
    size_t i = 0;
#if QS_SIMD_X86
    const int vec = qs_simd_avx2();
#endif
    while (i < len) {
        size_t end = len - i > 512 ? i + 512 : len;
        float as[8] = {0}, ab[8] = {0};
#if QS_SIMD_X86
        if (vec) {
            size_t n = (end - i) / 8;
            act_bwd_avx2(dx + i, as, ab, dy + i, x + i, n, s, beta, p);
            i += 8 * n;
        }
#endif
        for (; i < end; i += 8) {
            int nk = end - i >= 8 ? 8 : (int)(end - i);
            for (int k = 0; k < nk; k++) {
                float u = (x[i + k] - beta) * inv, d = dy[i + k];
                /* [0, P) is inside: u = 0 passes as in PACT's backward
                 * (so a frozen LSQ+ ReLU is a PACT one), u = P is clipped */
                int lo = u < 0.0f, hi = u >= p;
                float r = lsq_round_up(lo ? 0.0f : u) - u;
                float gs = hi ? p : (lo ? 0.0f : r);
                as[k] += gs * d;
                ab[k] += (lo || hi) ? d : 0.0f;
                dx[i + k] += (lo || hi) ? 0.0f : d;
            }
        }
        for (int k = 0; k < 8; k++) {
            ts += as[k];
            tb += ab[k];
        }
    }
    *ds = ts;
    *db = tb;
}

static void act_bwd_part(void *ctx, int t, int b0, int b1)
{
    const act_args *a = ctx;
    (void)t;
    for (int b = b0; b < b1; b++) {
        size_t lo = (size_t)b * a->bs;
        size_t n = a->len - lo < a->bs ? a->len - lo : a->bs;
        act_bwd_range(a->y + lo, a->ps + b, a->pb + b, a->dy + lo, a->x + lo,
                      n, a->s, a->beta, a->bits);
    }
}

/* Fixed blocks (pact.c's rule): at least 2^16 floats, a multiple of the
 * 512 chunk, at most AB_MAXB of them. */
#define AB_MIN ((size_t)1 << 16)
#define AB_MAXB 256

void qs_lsq_act_backward(float *dx, double *ds, double *dbeta, const float *dy,
                         const float *x, size_t len, float s, float beta,
                         int bits, size_t features)
{
    size_t bs = AB_MIN;
    if (len / bs >= AB_MAXB)
        bs = ((len + AB_MAXB - 1) / AB_MAXB + 511) & ~(size_t)511;
    double ps[AB_MAXB], pb[AB_MAXB];
    const int nb = len ? (int)((len + bs - 1) / bs) : 0;
    act_args a = {.y = dx, .x = x, .dy = dy, .s = s, .beta = beta,
                  .bits = bits, .bs = bs, .len = len, .ps = ps, .pb = pb};
    qs_par_for(qs_par_threads(), nb, act_bwd_part, &a);
    double ts = 0.0, tb = 0.0;
    for (int b = 0; b < nb; b++) {
        ts += ps[b];
        tb += pb[b];
    }
    *ds = qs_lsq_act_grad_scale(features, bits) * ts;
    *dbeta = tb;
}

double qs_lsq_act_error(const float *y, size_t len, float s, float beta,
                        int bits)
{
    const float p = qs_lsq_ap(bits), inv = 1.0f / s;
    double e = 0.0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (y[i] != y[i])
            continue;
        float u = (y[i] - beta) * inv;
        u = u < 0.0f ? 0.0f : (u > p ? p : u);
        double r = (double)y[i] - (double)(lsq_round_up(u) * s + beta);
        e += r * r;
        n++;
    }
    return n ? e / (double)n : 0.0;
}

static int cmp_float(const void *pa, const void *pb)
{
    float a = *(const float *)pa, b = *(const float *)pb;
    return (a > b) - (a < b);
}

/* Linear interpolation between the nearest ranks (numpy's default), as
 * pact.c's quantiles. */
static float quantile(const float *v, size_t n, double q)
{
    if (n == 0)
        return 0.0f;
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)pos;
    if (lo >= n - 1)
        return v[n - 1];
    double f = pos - (double)lo;
    return (float)((double)v[lo] + f * ((double)v[lo + 1] - (double)v[lo]));
}

void qs_lsq_act_init_mse(float *s, float *beta, float *y, size_t len,
                         int bits, int offset)
{
    /* NaNs to the end, then sort the rest. */
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (y[i] == y[i]) {
            float t = y[n];
            y[n++] = y[i];
            y[i] = t;
        }
    qsort(y, n, sizeof *y, cmp_float);
    const float p = qs_lsq_ap(bits);
    float best_s = 1.0f, best_b = offset && n ? y[0] : 0.0f;
    double best_e = INFINITY;
    if (!offset) {
        float prev = 0.0f;
        for (int j = 0; j < QS_LSQ_ACAND; j++) {
            float hi = quantile(y, n, 0.50 + 0.005 * j);
            if (!(hi > 0.0f) || hi == prev)
                continue; /* equal candidates: the earlier one won */
            prev = hi;
            float st = hi / p;
            double e = qs_lsq_act_error(y, n, st, 0.0f, bits);
            if (e < best_e) {
                best_e = e;
                best_s = st;
            }
        }
        *s = best_s;
        *beta = 0.0f;
        return;
    }
    for (int a = 0; a < QS_LSQ_OCAND; a++) {
        float lo = quantile(y, n, 0.02 * a);
        for (int b = 0; b < QS_LSQ_OCAND; b++) {
            float hi = quantile(y, n, 0.50 + 0.02 * b);
            float st = (hi - lo) / p;
            if (!(st > 0.0f))
                continue;
            double e = qs_lsq_act_error(y, n, st, lo, bits);
            if (e < best_e) {
                best_e = e;
                best_s = st;
                best_b = lo;
            }
        }
    }
    *s = best_s;
    *beta = best_b;
}
