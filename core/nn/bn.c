/* Batch norm over (n, hw) per channel, PyTorch semantics.
 *
 * Per-channel sums run over n*hw values (2^17 for CIFAR at batch 128), so
 * they use double accumulators; four independent lanes keep the summation
 * order fixed while letting the compiler vectorise the loop. The variance
 * takes one pass over the activations: sums of d and d^2 for d = x - k, k
 * one of the channel's values, so var = (sum d^2 - (sum d)^2 / M) / M
 * subtracts numbers of the size of the spread, not of the mean (E[x^2] -
 * E[x]^2 in float cancels badly when |mean| >> std; this form keeps the
 * saved statistics at float precision at |mean| / std = 1e5, tested).
 * The build uses -O2, whose vectoriser rejects loops that would need a
 * scalar remainder, so loops step by 4 with a fixed inner j-loop and a
 * scalar tail.
 *
 * relu: the model fuses a ReLU that is BN's only consumer (model.c). The
 * forward then writes max(0, y) in the same pass (one pass over the
 * activations fewer), and the backward takes the ReLU's upstream gradient
 * and masks it by y > 0, recomputing y from x with the forward's own
 * operations (so the same bits and the same mask as the ReLU's stored
 * output), which saves the ReLU backward's pass and its gradient buffer. */
#include "layers.h"

#include "par.h"
#include "simd.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#if QS_SIMD_X86
#include <immintrin.h>
#endif

/* The forward's ReLU as the backward recomputes it: y = (x - mu) scale +
 * shift, dy kept where y > 0 (relu 0: dy unmasked). */
typedef struct {
    int relu;
    float mu, scale, shift;
} bn_mask;

static inline __attribute__((always_inline)) float
mask_dy(const bn_mask *k, float dy, float x)
{
    if (!k->relu)
        return dy;
    float y = (x - k->mu) * k->scale + k->shift;
    return y > 0.0f ? dy : 0.0f;
}

static inline __attribute__((always_inline)) float relu_of(float v, int relu)
{
    return relu && v < 0.0f ? 0.0f : v;
}

/* The scale the forward applies and the backward's mask recomputes: from
 * the saved (float) invstd, so both derive the same float. */
static float bn_scale(float invstd, float gamma)
{
    return (float)((double)invstd * gamma);
}

/* ---- AVX2 twins of the loops below ---------------------------------------
 * The scalar loops keep four double lanes (or four float lanes) in a fixed
 * order; one __m256d (or __m128 / __m256 of independent elements) holds
 * exactly those lanes, with the same operations and no FMA, so the vector
 * paths give the same bits. Each returns how many leading elements it did
 * (a multiple of 4, or 8 for the elementwise ones); the scalar tail and
 * the lane reduction stay in the callers. */
#if QS_SIMD_X86
#define AVX2 __attribute__((target("avx2")))

/* sums of d and d^2, d = x - k: one pass where the mean-then-deviations
 * form took two */
AVX2 static size_t sums_shifted_avx2(double a[4], double b[4], const float *x,
                                     size_t len, double k)
{
    __m256d sa = _mm256_loadu_pd(a), sb = _mm256_loadu_pd(b);
    __m256d vk = _mm256_set1_pd(k);
    size_t i = 0;
    for (; i + 4 <= len; i += 4) {
        __m256d d = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i)), vk);
        sa = _mm256_add_pd(sa, d);
        sb = _mm256_add_pd(sb, _mm256_mul_pd(d, d));
    }
    _mm256_storeu_pd(a, sa);
    _mm256_storeu_pd(b, sb);
    return i;
}

/* relu: dy masked where y = (x - mu) scale + shift is not > 0 */
AVX2 static size_t sum_dy_dyx_avx2(double a[4], double b[4], const float *dy,
                                   const float *x, size_t len, double m,
                                   const bn_mask *k)
{
    __m256d sa = _mm256_loadu_pd(a), sb = _mm256_loadu_pd(b);
    __m256d vm = _mm256_set1_pd(m);
    const __m128 km = _mm_set1_ps(k->mu), ks = _mm_set1_ps(k->scale);
    const __m128 kb = _mm_set1_ps(k->shift), z = _mm_setzero_ps();
    size_t i = 0;
    for (; i + 4 <= len; i += 4) {
        __m128 gf = _mm_loadu_ps(dy + i), xf = _mm_loadu_ps(x + i);
        if (k->relu) {
            __m128 y = _mm_add_ps(_mm_mul_ps(_mm_sub_ps(xf, km), ks), kb);
            gf = _mm_and_ps(_mm_cmpgt_ps(y, z), gf);
        }
        __m256d g = _mm256_cvtps_pd(gf);
        __m256d xv = _mm256_cvtps_pd(xf);
        sa = _mm256_add_pd(sa, g);
        sb = _mm256_add_pd(sb, _mm256_mul_pd(g, _mm256_sub_pd(xv, vm)));
    }
    _mm256_storeu_pd(a, sa);
    _mm256_storeu_pd(b, sb);
    return i;
}

/* y = (x - mu) * scale + shift (relu: then max(0, y), NaN kept as the
 * scalar "v < 0 ? 0 : v" keeps it: maxps returns its second operand on a
 * NaN); y == x allowed */
AVX2 static inline __attribute__((always_inline)) size_t
affine_body(float *y, const float *x, size_t len, float mu, float scale,
            float shift, const int relu, const int nt)
{
    __m256 vm = _mm256_set1_ps(mu), vs = _mm256_set1_ps(scale);
    __m256 vb = _mm256_set1_ps(shift), z = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        __m256 v = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm);
        v = _mm256_add_ps(_mm256_mul_ps(v, vs), vb);
        if (relu)
            v = _mm256_max_ps(z, v);
        if (nt)
            _mm256_stream_ps(y + i, v);
        else
            _mm256_storeu_ps(y + i, v);
    }
    return i;
}

/* nt: streaming stores (bn_args.nt) where y is 32-byte aligned */
AVX2 static size_t affine_avx2(float *y, const float *x, size_t len, float mu,
                               float scale, float shift, int relu, int nt)
{
    if (nt && ((uintptr_t)y & 31) == 0)
        return relu ? affine_body(y, x, len, mu, scale, shift, 1, 1)
                    : affine_body(y, x, len, mu, scale, shift, 0, 1);
    return affine_body(y, x, len, mu, scale, shift, relu, 0);
}

/* dx (+)= ((a dy + b (x - mu)) + d), the order C gives the scalar line;
 * relu: dy masked as in sum_dy_dyx_avx2 (k->mu is mu) */
AVX2 static inline __attribute__((always_inline)) size_t
dx_update_body(float *dx, const float *dy, const float *x, size_t len, float a,
               float b, float mu, float d, int acc, const bn_mask *k,
               const int nt)
{
    __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
    __m256 vm = _mm256_set1_ps(mu), vd = _mm256_set1_ps(d);
    __m256 ks = _mm256_set1_ps(k->scale), kb = _mm256_set1_ps(k->shift);
    __m256 z = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        __m256 xm = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm);
        __m256 g = _mm256_loadu_ps(dy + i);
        if (k->relu) {
            __m256 y = _mm256_add_ps(_mm256_mul_ps(xm, ks), kb);
            g = _mm256_and_ps(_mm256_cmp_ps(y, z, _CMP_GT_OQ), g);
        }
        __m256 t = _mm256_mul_ps(va, g);
        __m256 u = _mm256_mul_ps(vb, xm);
        t = _mm256_add_ps(_mm256_add_ps(t, u), vd);
        if (acc)
            t = _mm256_add_ps(_mm256_loadu_ps(dx + i), t);
        if (nt)
            _mm256_stream_ps(dx + i, t);
        else
            _mm256_storeu_ps(dx + i, t);
    }
    return i;
}

/* nt: streaming stores where dx is 32-byte aligned and not read (acc 0) */
AVX2 static size_t dx_update_avx2(float *dx, const float *dy, const float *x,
                                  size_t len, float a, float b, float mu,
                                  float d, int acc, const bn_mask *k, int nt)
{
    if (nt && !acc && ((uintptr_t)dx & 31) == 0)
        return dx_update_body(dx, dy, x, len, a, b, mu, d, 0, k, 1);
    return dx_update_body(dx, dy, x, len, a, b, mu, d, acc, k, 0);
}
#endif

/* *s1 += sum (x[i] - k), *s2 += sum (x[i] - k)^2 */
static void sums_shifted(double *s1, double *s2, const float *restrict x,
                         size_t len, double k)
{
    double a[4] = {0.0, 0.0, 0.0, 0.0}, b[4] = {0.0, 0.0, 0.0, 0.0};
    size_t i = 0;
#if QS_SIMD_X86
    if (qs_simd_avx2())
        i = sums_shifted_avx2(a, b, x, len, k);
#endif
    for (; i + 4 <= len; i += 4)
        for (int j = 0; j < 4; j++) {
            double d = (double)x[i + j] - k;
            a[j] += d;
            b[j] += d * d;
        }
    double s = (a[0] + a[1]) + (a[2] + a[3]);
    double t = (b[0] + b[1]) + (b[2] + b[3]);
    for (; i < len; i++) {
        double d = (double)x[i] - k;
        s += d;
        t += d * d;
    }
    *s1 += s;
    *s2 += t;
}

/* sum g[i] and sum g[i] * (x[i] - m) in one sweep, g = dy masked by k */
static void sum_dy_dyx(double *sdy, double *sdyx, const float *restrict dy,
                       const float *restrict x, size_t len, double m,
                       const bn_mask *k)
{
    double a[4] = {0.0, 0.0, 0.0, 0.0}, b[4] = {0.0, 0.0, 0.0, 0.0};
    const bn_mask kl = *k;
    size_t i = 0;
#if QS_SIMD_X86
    if (qs_simd_avx2())
        i = sum_dy_dyx_avx2(a, b, dy, x, len, m, &kl);
#endif
    for (; i + 4 <= len; i += 4)
        for (int j = 0; j < 4; j++) {
            double g = (double)mask_dy(&kl, dy[i + j], x[i + j]);
            a[j] += g;
            b[j] += g * ((double)x[i + j] - m);
        }
    double s = (a[0] + a[1]) + (a[2] + a[3]);
    double t = (b[0] + b[1]) + (b[2] + b[3]);
    for (; i < len; i++) {
        double g = (double)mask_dy(&kl, dy[i], x[i]);
        s += g;
        t += g * ((double)x[i] - m);
    }
    *sdy += s;
    *sdyx += t;
}

/* y [len] = (x - mu) * scale + shift, then max(0, .) when relu; centring
 * first avoids the cancellation of x * scale against a large shift when
 * |mean| >> std. relu a constant once inlined, so each form vectorises. */
static inline __attribute__((always_inline)) void
affine_tail(float *restrict y, const float *restrict x, size_t i, size_t len,
            float mu, float scale, float shift, const int relu)
{
    for (; i + 4 <= len; i += 4)
        for (int j = 0; j < 4; j++)
            y[i + j] = relu_of((x[i + j] - mu) * scale + shift, relu);
    for (; i < len; i++)
        y[i] = relu_of((x[i] - mu) * scale + shift, relu);
}

static void affine_copy(float *restrict y, const float *restrict x,
                        size_t len, float mu, float scale, float shift,
                        int relu, int nt)
{
    size_t i = 0;
#if QS_SIMD_X86
    if (qs_simd_avx2())
        i = affine_avx2(y, x, len, mu, scale, shift, relu, nt);
#endif
    if (relu)
        affine_tail(y, x, i, len, mu, scale, shift, 1);
    else
        affine_tail(y, x, i, len, mu, scale, shift, 0);
}

static void affine_inplace(float *restrict y, size_t len, float mu,
                           float scale, float shift, int relu, int nt)
{
    size_t i = 0;
#if QS_SIMD_X86
    if (qs_simd_avx2())
        i = affine_avx2(y, y, len, mu, scale, shift, relu, nt);
#endif
    for (; i + 4 <= len; i += 4)
        for (int j = 0; j < 4; j++)
            y[i + j] = relu_of((y[i + j] - mu) * scale + shift, relu);
    for (; i < len; i++)
        y[i] = relu_of((y[i] - mu) * scale + shift, relu);
}

/* y == x is allowed (eval-mode BN in place); the restrict helpers are not. */
static void affine(float *y, const float *x, size_t len, float mu,
                   float scale, float shift, int relu, int nt)
{
    if (y == x)
        affine_inplace(y, len, mu, scale, shift, relu, nt);
    else
        affine_copy(y, x, len, mu, scale, shift, relu, nt);
}

/* The scalar loops of dx_update from i on; acc a constant once inlined,
 * so each form vectorises. */
static inline __attribute__((always_inline)) void
dx_update_tail(float *restrict dx, const float *restrict dy,
               const float *restrict x, size_t i, size_t len, float a, float b,
               float mu, float d, const int acc, const bn_mask *k)
{
    for (; i + 4 <= len; i += 4)
        for (int j = 0; j < 4; j++) {
            float g = mask_dy(k, dy[i + j], x[i + j]);
            float t = a * g + b * (x[i + j] - mu) + d;
            dx[i + j] = acc ? dx[i + j] + t : t;
        }
    for (; i < len; i++) {
        float t = a * mask_dy(k, dy[i], x[i]) + b * (x[i] - mu) + d;
        dx[i] = acc ? dx[i] + t : t;
    }
}

/* dx [len] += a g + b (x - mu) + d, or = when !acc; g = dy masked by k */
static void dx_update(float *restrict dx, const float *restrict dy,
                      const float *restrict x, size_t len, float a, float b,
                      float mu, float d, int acc, const bn_mask *k, int nt)
{
    const bn_mask kl = *k;
    size_t i = 0;
#if QS_SIMD_X86
    if (qs_simd_avx2())
        i = dx_update_avx2(dx, dy, x, len, a, b, mu, d, acc, &kl, nt);
#endif
    if (acc)
        dx_update_tail(dx, dy, x, i, len, a, b, mu, d, 1, &kl);
    else
        dx_update_tail(dx, dy, x, i, len, a, b, mu, d, 0, &kl);
}

/* Arguments of the three passes; channels are independent, so a pass is
 * split over threads by channel ranges (par.h) with the same results. */
typedef struct {
    float *y, *save_mean, *save_invstd, *run_mean, *run_var;
    float *dx, *dgamma, *dbeta;
    const float *x, *dy, *gamma, *beta;
    const float *mean_in, *var_in, *invstd_in; /* eval: running mean, var;
                                                  backward: saved mean, invstd */
    int n, c, hw;
    float momentum, eps;
    int acc;  /* backward: add to dx (else overwrite) */
    int relu; /* the fused ReLU (top of file) */
    int nt;   /* write y / dx with streaming stores (bn_run) */
    const double *sums; /* forward: the statistics sums [3c], or NULL */
} bn_args;

/* Below this many values a pass stays on one thread. */
#define BN_PAR_MIN 65536

static void bn_run(bn_args *a, qs_par_fn fn)
{
    size_t len = (size_t)a->n * a->c * a->hw;
    a->nt = qs_stream_output(len);
    qs_par_for(len >= BN_PAR_MIN ? qs_par_threads() : 1, a->c, fn, a);
}

static void train_range(void *ctx, int t, int c0, int c1)
{
    const bn_args *a = ctx;
    const int n = a->n, c = a->c, hw = a->hw;
    const size_t m = (size_t)n * hw;
    const double momentum = a->momentum;
    for (int ch = c0; ch < c1; ch++) {
        /* shifted by one of the channel's own values, the sums of squares
         * do not cancel when |mean| >> std (double sums, centred data) */
        double acc[3];
        if (a->sums)
            memcpy(acc, a->sums + (size_t)ch * 3, sizeof acc);
        else
            for (int i = 0; i < n; i++)
                qs_bn_sums_plane(acc, a->x + ((size_t)i * c + ch) * hw, hw,
                                 i == 0);
        const double k = acc[0], s = acc[1], s2 = acc[2];
        double mean = k + s / (double)m;
        double ss = s2 - s * (s / (double)m);
        if (ss < 0.0) /* rounding, for a constant channel */
            ss = 0.0;
        double var = ss / (double)m;
        double invstd = 1.0 / sqrt(var + (double)a->eps);
        /* PyTorch rejects a single value per channel in training; using the
         * biased variance there keeps the running estimate finite. */
        double var_unb = m > 1 ? ss / (double)(m - 1) : var;

        a->save_mean[ch] = (float)mean;
        a->save_invstd[ch] = (float)invstd;
        a->run_mean[ch] = (float)((1.0 - momentum) * a->run_mean[ch] +
                                  momentum * mean);
        a->run_var[ch] = (float)((1.0 - momentum) * a->run_var[ch] +
                                 momentum * var_unb);

        float scale = bn_scale(a->save_invstd[ch], a->gamma[ch]);
        for (int i = 0; i < n; i++) {
            size_t off = ((size_t)i * c + ch) * hw;
            affine(a->y + off, a->x + off, hw, (float)mean, scale, a->beta[ch],
                   a->relu, a->nt);
        }
    }
    if (a->nt)
        qs_stream_fence();
}

void qs_bn_sums_plane(double acc[3], const float *x, size_t hw, int first)
{
    if (first) {
        acc[0] = hw ? x[0] : 0.0;
        acc[1] = acc[2] = 0.0;
    }
    sums_shifted(&acc[1], &acc[2], x, hw, acc[0]);
}

/* x [n, c, hw] -> y [n, c, hw] (relu: max(0, y)); gamma, beta [c];
 * save_mean, save_invstd [c] set; run_mean, run_var [c] updated. */
void qs_bn_forward_train_sums(float *y, float *save_mean, float *save_invstd,
                              float *run_mean, float *run_var, const float *x,
                              const float *gamma, const float *beta, int n,
                              int c, int hw, float momentum, float eps,
                              int relu, const double *sums)
{
    if ((size_t)n * hw == 0)
        return;
    bn_args a = {.y = y, .save_mean = save_mean, .save_invstd = save_invstd,
                 .run_mean = run_mean, .run_var = run_var, .x = x,
                 .gamma = gamma, .beta = beta, .n = n, .c = c, .hw = hw,
                 .momentum = momentum, .eps = eps, .relu = relu, .sums = sums};
    bn_run(&a, train_range);
}

void qs_bn_forward_train(float *y, float *save_mean, float *save_invstd,
                         float *run_mean, float *run_var, const float *x,
                         const float *gamma, const float *beta, int n, int c,
                         int hw, float momentum, float eps, int relu)
{
    qs_bn_forward_train_sums(y, save_mean, save_invstd, run_mean, run_var, x,
                             gamma, beta, n, c, hw, momentum, eps, relu, NULL);
}

static void eval_range(void *ctx, int t, int c0, int c1)
{
    const bn_args *a = ctx;
    for (int ch = c0; ch < c1; ch++) {
        float scale = (float)(a->gamma[ch] /
                              sqrt((double)a->var_in[ch] + (double)a->eps));
        for (int i = 0; i < a->n; i++) {
            size_t off = ((size_t)i * a->c + ch) * a->hw;
            affine(a->y + off, a->x + off, a->hw, a->mean_in[ch], scale,
                   a->beta[ch], a->relu, a->nt);
        }
    }
    if (a->nt)
        qs_stream_fence();
}

/* x [n, c, hw] -> y [n, c, hw] with the running statistics (relu: max(0,
 * y)). */
void qs_bn_forward_eval(float *y, const float *x, const float *gamma,
                        const float *beta, const float *run_mean,
                        const float *run_var, int n, int c, int hw, float eps,
                        int relu)
{
    bn_args a = {.y = y, .x = x, .gamma = gamma, .beta = beta,
                 .mean_in = run_mean, .var_in = run_var, .n = n, .c = c,
                 .hw = hw, .eps = eps, .relu = relu};
    bn_run(&a, eval_range);
}

static void backward_range(void *ctx, int t, int c0, int c1)
{
    const bn_args *a = ctx;
    const int n = a->n, c = a->c, hw = a->hw;
    const size_t m = (size_t)n * hw;
    for (int ch = c0; ch < c1; ch++) {
        double mean = a->mean_in[ch], invstd = a->invstd_in[ch];
        double sdy = 0.0, sdyx = 0.0;
        const bn_mask k = {.relu = a->relu, .mu = a->mean_in[ch],
                           .scale = bn_scale(a->invstd_in[ch], a->gamma[ch]),
                           .shift = a->relu ? a->beta[ch] : 0.0f};
        for (int i = 0; i < n; i++) {
            size_t off = ((size_t)i * c + ch) * hw;
            sum_dy_dyx(&sdy, &sdyx, a->dy + off, a->x + off, hw, mean, &k);
        }
        double sdyxhat = sdyx * invstd;   /* sum(dy * xhat) */
        if (a->dgamma)
            a->dgamma[ch] += (float)sdyxhat;
        if (a->dbeta)
            a->dbeta[ch] += (float)sdy;
        if (!a->dx)
            continue;
        /* dx += a dy + b (x - mean) + d: the formula above with the
         * per-channel constants folded */
        double g = (double)a->gamma[ch] * invstd;
        float ka = (float)g;
        float kb = (float)(-g * sdyxhat * invstd / (double)m);
        float kd = (float)(-g * sdy / (double)m);
        float mu = a->mean_in[ch];
        for (int i = 0; i < n; i++) {
            size_t off = ((size_t)i * c + ch) * hw;
            dx_update(a->dx + off, a->dy + off, a->x + off, hw, ka, kb, mu, kd,
                      a->acc, &k, a->nt);
        }
    }
    if (a->nt)
        qs_stream_fence();
}

/* dy, x [n, c, hw]; save_mean, save_invstd, gamma, beta [c] from
 * forward_train; dgamma, dbeta [c] += ... (either may be NULL), dx [n, c,
 * hw] += ... (or = when !acc; or NULL). With xhat = (x - mean) invstd and
 * M = n*hw:
 *   dx = gamma invstd (dy - sum(dy)/M - xhat sum(dy xhat)/M).
 * relu: dy is the gradient of max(0, y) and masked first (beta is read
 * only then). */
void qs_bn_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                    const float *x, const float *save_mean,
                    const float *save_invstd, const float *gamma,
                    const float *beta, int n, int c, int hw, int acc, int relu)
{
    if ((size_t)n * hw == 0)
        return;
    bn_args a = {.dx = dx, .dgamma = dgamma, .dbeta = dbeta, .dy = dy, .x = x,
                 .mean_in = save_mean, .invstd_in = save_invstd, .gamma = gamma,
                 .beta = beta, .n = n, .c = c, .hw = hw, .acc = acc,
                 .relu = relu};
    bn_run(&a, backward_range);
}
