/* PACT activation quantizer and its clip calibration (methods.md section 2,
 * "Activations (PACT)"). */
#include "quant.h"

#include "par.h"
#include "simd.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* roundf for v >= 0 (NaN and +inf pass through), bit for bit: v + 0.5 is
 * exact in double and truncation is floor there; from 2^23 up every float
 * is an integer already. A conversion the compiler can inline and vectorize
 * instead of a libm call, on every activation of every step and on the 101
 * calibration passes. (wquant.c has the signed twin.) */
static inline float pact_round(float v)
{
    return v < 8388608.0f ? (float)(int32_t)((double)v + 0.5) : v;
}

/* Levels 0, a/n, ..., a with n = 2^bits - 1; bits >= 32 is a plain clip. */
typedef struct {
    float alpha, scale, inv; /* scale = n / a, inv = a / n */
    int round;
} pact_grid;

static pact_grid pact_make(float alpha, int bits)
{
    pact_grid g = {alpha, 1.0f, 1.0f, bits < 32};
    if (g.round) {
        float n = (float)(ldexp(1.0, bits < 1 ? 1 : bits) - 1.0);
        g.scale = n / alpha;
        g.inv = alpha / n;
    }
    return g;
}

/* Written so a NaN x stays NaN (both compares fail): a diverged layer must
 * show up in the loss, not vanish into the zero bin. */
static inline float pact_one(const pact_grid *g, float x)
{
    float y = x < 0.0f ? 0.0f : (x > g->alpha ? g->alpha : x);
    return g->round ? pact_round(y * g->scale) * g->inv : y;
}

#if QS_SIMD_X86
#define QS_VL 16
#include "pact_k.h"
#undef QS_VL
#define QS_VL 8
#include "pact_k.h"
#undef QS_VL

/* The 8-lane chunk loop of qs_pact_backward on i .. i + 8 n: the scalar
 * acc[8] is one register, the same adds in the same order. */
__attribute__((target("avx2"))) static void
pact_back_avx2(float *dx, float acc[8], const float *dy, const float *x,
               size_t n, float alpha)
{
    const __m256 va = _mm256_set1_ps(alpha), z = _mm256_setzero_ps();
    __m256 s = _mm256_loadu_ps(acc);
    for (size_t j = 0; j < n; j++, x += 8, dy += 8, dx += 8) {
        __m256 xv = _mm256_loadu_ps(x), d = _mm256_loadu_ps(dy);
        __m256 top = _mm256_cmp_ps(xv, va, _CMP_GE_OQ);
        __m256 pass = _mm256_andnot_ps(top, _mm256_cmp_ps(xv, z, _CMP_GE_OQ));
        s = _mm256_add_ps(s, _mm256_and_ps(top, d));
        _mm256_storeu_ps(dx, _mm256_add_ps(_mm256_loadu_ps(dx),
                                           _mm256_and_ps(pass, d)));
    }
    _mm256_storeu_ps(acc, s);
}
#endif

typedef struct {
    float *y; /* forward: y; backward: dx */
    const float *x, *dy;
    float alpha;
    int bits;
    size_t bs;   /* backward: floats per block */
    size_t len;
    double *part; /* backward: one sum per block */
} pact_args;

static void forward_range(float *y, const float *x, size_t len, float alpha,
                          int bits)
{
    if (!(alpha > 0.0f)) {
        for (size_t i = 0; i < len; i++)
            y[i] = 0.0f;
        return;
    }
    pact_grid g = pact_make(alpha, bits);
    /* The rounding test hoisted out of the loop: each loop vectorises. */
    if (!g.round) {
        for (size_t i = 0; i < len; i++)
            y[i] = pact_one(&g, x[i]);
        return;
    }
    const float a = g.alpha, sc = g.scale, inv = g.inv;
#if QS_SIMD_X86
    if (qs_simd_avx2()) {
        if (qs_simd_avx512())
            pact_roundv_avx512(y, x, len, a, sc, inv);
        else
            pact_roundv_avx2(y, x, len, a, sc, inv);
        return;
    }
#endif
    for (size_t i = 0; i < len; i++) {
        float v = x[i];
        v = v < 0.0f ? 0.0f : v;
        v = v > a ? a : v;
        y[i] = pact_round(v * sc) * inv;
    }
}

static void forward_part(void *ctx, size_t lo, size_t hi)
{
    const pact_args *p = ctx;
    forward_range(p->y + lo, p->x + lo, hi - lo, p->alpha, p->bits);
}

/* x [len] -> y [len]. alpha <= 0 leaves no room between the clips: y = 0.
 * Elementwise, so split over the threads. */
void qs_pact_forward(float *y, const float *x, size_t len, float alpha, int bits)
{
    pact_args p = {.y = y, .x = x, .alpha = alpha, .bits = bits};
    qs_par_range(len, forward_part, &p);
}

static double backward_range(float *dx, const float *dy, const float *x,
                             size_t len, float alpha)
{
    /* Branch-free, 8 float lanes per 512-element chunk, chunks summed in
     * double in order: vectorisable and still the same bits every run. */
    double da = 0.0;
    size_t i = 0;
#if QS_SIMD_X86
    const int vec = qs_simd_avx2();
#endif
    while (i < len) {
        size_t end = len - i > 512 ? i + 512 : len;
        float acc[8] = {0};
#if QS_SIMD_X86
        if (vec) {
            size_t n = (end - i) / 8;
            pact_back_avx2(dx + i, acc, dy + i, x + i, n, alpha);
            i += 8 * n;
        }
#endif
        for (; i + 8 <= end; i += 8)
            for (int k = 0; k < 8; k++) {
                float xv = x[i + k], d = dy[i + k];
                int top = xv >= alpha;
                acc[k] += top ? d : 0.0f;
                dx[i + k] += (!top && xv >= 0.0f) ? d : 0.0f;
            }
        for (; i < end; i++) {
            int top = x[i] >= alpha;
            acc[0] += top ? dy[i] : 0.0f;
            dx[i] += (!top && x[i] >= 0.0f) ? dy[i] : 0.0f;
        }
        for (int k = 0; k < 8; k++)
            da += acc[k];
    }
    return da;
}

/* blocks [b0, b1) on thread t (qs_par_fn) */
static void backward_part(void *ctx, int t, int b0, int b1)
{
    const pact_args *p = ctx;
    (void)t;
    for (int b = b0; b < b1; b++) {
        size_t lo = (size_t)b * p->bs;
        size_t n = p->len - lo < p->bs ? p->len - lo : p->bs;
        p->part[b] = backward_range(p->y + lo, p->dy + lo, p->x + lo, n,
                                    p->alpha);
    }
}

/* Blocks of at least 2^16 floats (a multiple of the 512 chunk), at most
 * PB_MAXB of them: their sums are added in order, so the clip's gradient
 * has the same bits whatever the thread count. */
#define PB_MIN ((size_t)1 << 16)
#define PB_MAXB 256

/* dy, x [len]; dx [len] accumulated. STE inside the clip range, the clipped
 * top goes to alpha, the bottom (x < 0) is dropped like a ReLU's. */
double qs_pact_backward(float *dx, const float *dy, const float *x, size_t len,
                        float alpha)
{
    size_t bs = PB_MIN;
    if (len / bs >= PB_MAXB)
        bs = ((len + PB_MAXB - 1) / PB_MAXB + 511) & ~(size_t)511;
    double part[PB_MAXB];
    const int nb = len ? (int)((len + bs - 1) / bs) : 0;
    pact_args p = {.y = dx, .x = x, .dy = dy, .alpha = alpha, .bs = bs,
                   .len = len, .part = part};
    qs_par_for(qs_par_threads(), nb, backward_part, &p);
    double da = 0.0;
    for (int b = 0; b < nb; b++)
        da += part[b];
    return da;
}

static int cmp_float(const void *pa, const void *pb)
{
    float a = *(const float *)pa, b = *(const float *)pb;
    return (a > b) - (a < b);
}

static void swapf(float *a, float *b)
{
    float t = *a;
    *a = *b;
    *b = t;
}

/* Sorts y [len] ascending in place, NaNs last. ReLU outputs are about half
 * zeros, so a three-way split (negative | zero | positive | NaN) first
 * halves the qsort, and keeping NaN out keeps the comparator a consistent
 * order (glibc's qsort can misbehave on an inconsistent one).
 * Returns the index of the first positive value; *end = first NaN. */
static size_t sort_split(float *y, size_t len, size_t *end)
{
    size_t lo = 0, i = 0, hi = len; /* [0,lo) < 0, [lo,i) == 0, [hi,len) NaN */
    while (i < hi) {
        float v = y[i];
        if (v < 0.0f)
            swapf(&y[lo++], &y[i++]);
        else if (v >= 0.0f)
            i++;
        else
            swapf(&y[i], &y[--hi]);
    }
    /* [lo, hi) now holds zeros and positives mixed; split them. */
    size_t z = lo;
    for (size_t k = lo; k < hi; k++)
        if (y[k] == 0.0f)
            swapf(&y[z++], &y[k]);
    qsort(y, lo, sizeof *y, cmp_float);
    qsort(y + z, hi - z, sizeof *y, cmp_float);
    *end = hi;
    return z;
}

/* Quantile q in [0, 1] of sorted s [n], linear interpolation between the
 * two nearest ranks (numpy's default): position q (n - 1). */
static float quantile_sorted(const float *s, size_t n, double q)
{
    if (n == 0)
        return 0.0f;
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)pos;
    if (lo >= n - 1)
        return s[n - 1];
    double f = pos - (double)lo;
    return (float)((double)s[lo] + f * ((double)s[lo + 1] - (double)s[lo]));
}

/* y [len], sorted in place -> the clip a among the 101 quantiles
 * 0.50, 0.505, ..., 1.00 (linear interpolation) with the least mean squared
 * PACT error; ties to the lower quantile. Non-positive candidates are
 * skipped; 1 when none is left (every y <= 0). NaNs are left out of the
 * quantiles and the error. O(101 len) after the sort. */
float qs_pact_calibrate_mse(float *y, size_t len, int bits)
{
    size_t end;
    size_t pos = sort_split(y, len, &end);
    float best_a = 1.0f, prev_a = 0.0f;
    double best_e = INFINITY;
    for (int j = 0; j <= 100; j++) {
        float a = quantile_sorted(y, end, 0.50 + 0.005 * j);
        /* Equal quantiles give equal errors; the earlier j already won. */
        if (!(a > 0.0f) || a == prev_a)
            continue;
        prev_a = a;
        pact_grid g = pact_make(a, bits);
        /* Values <= 0 map to 0 for every a: their error is the same
         * constant for all candidates and does not move the argmin. */
        double e = 0.0;
        for (size_t i = pos; i < end; i++) {
            double r = (double)y[i] - pact_one(&g, y[i]);
            e += r * r;
        }
        if (e < best_e) {
            best_e = e;
            best_a = a;
        }
    }
    return best_a;
}

/* y [len], sorted in place -> percentile p (linear interpolation, as the MSE
 * candidates). Used as a PACT clip, so a result <= 0 (an all-zero layer,
 * or no data) falls back to 1 like qs_pact_calibrate_mse. */
float qs_pact_calibrate_percentile(float *y, size_t len, double p)
{
    size_t end;
    sort_split(y, len, &end);
    if (!(p > 0.0))
        p = 0.0;
    if (p > 100.0)
        p = 100.0;
    float a = quantile_sorted(y, end, p / 100.0);
    return a > 0.0f ? a : 1.0f;
}
