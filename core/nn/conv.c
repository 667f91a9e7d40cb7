/* conv2d with groups = 1: im2col + one GEMM per image.
 *
 * Per image n (x_n [c, h, w], y_n [k, ho*wo]):
 *   col [c*kh*kw, ho*wo] = im2col(x_n)
 *   y_n = weight [k, c*kh*kw] @ col (+ bias)
 * A 1x1 stride-1 pad-0 conv needs no im2col: x_n already is col.
 *
 * On the avx512 and avx2 paths with the BLAS backend, convk.c and
 * convk_dw.c replace all of it: forward and dweight read im2col rows
 * straight from a padded (or, strided, phase-split) copy of each image; dx of a stride-1 conv is
 * the conv of dy with the flipped, transposed weights (pad kh-1-pad), so it
 * needs no col2im; a strided conv's dx is W^T dy on the same kernel plus
 * col2im. The naive backend (the tests' reference) and the generic path
 * (QSWEEP_KERNELS=generic, CPUs without AVX2 + FMA, aarch64) take the
 * im2col + qs_sgemm path below. */
#include "layers.h"

#include "conv_util.h"
#include "convk.h"
#include "gemm.h"
#include "par.h"

#include <string.h>

/* 16 floats: each thread's share starts on its own cache line */
#define QS_GEN_ALIGN(n) (((n) + 15) & ~(size_t)15)

int qs_conv_shape_init(qs_conv_shape *s, int n, int c, int h, int w, int k,
                       int kh, int kw, int stride, int pad)
{
    s->n = n;
    s->c = c;
    s->h = h;
    s->w = w;
    s->k = k;
    s->kh = kh;
    s->kw = kw;
    s->stride = stride;
    s->pad = pad;
    s->ho = 0;
    s->wo = 0;
    if (n < 0 || c < 1 || h < 1 || w < 1 || k < 1 || kh < 1 || kw < 1 ||
        stride < 1 || pad < 0)
        return -1;
    if (h + 2 * pad < kh || w + 2 * pad < kw)
        return -1;
    s->ho = (h + 2 * pad - kh) / stride + 1;
    s->wo = (w + 2 * pad - kw) / stride + 1;
    return 0;
}

static int is_pointwise(const qs_conv_shape *s)
{
    return s->kh == 1 && s->kw == 1 && s->stride == 1 && s->pad == 0;
}

/* The input gradient goes through the fast kernels as the stride-1 conv
 * of dy with the flipped weights, which needs a square kernel and pad <=
 * kh - 1; other convs take W^T dy + col2im. */
static int fast_dx(const qs_conv_shape *s)
{
    return s->stride == 1 && s->kh == s->kw && s->pad <= s->kh - 1;
}

/* dx of s as a conv: dy [n, k, ho, wo] -> dx [n, c, h, w], stride 1. */
static void dx_shape(qs_conv_shape *t, const qs_conv_shape *s)
{
    qs_conv_shape_init(t, s->n, s->k, s->ho, s->wo, s->c, s->kh, s->kw, 1,
                       s->kh - 1 - s->pad);
}

/* Per-thread scratch of the portable path: an im2col of one image (also
 * reused for the dcol of dx), then a private dweight share. */
static size_t gen_col_len(const qs_conv_shape *s)
{
    return is_pointwise(s) ? 0 : QS_GEN_ALIGN((size_t)s->c * s->kh * s->kw * s->ho * s->wo);
}

static size_t gen_per_thread(const qs_conv_shape *s)
{
    return gen_col_len(s) + QS_GEN_ALIGN((size_t)s->k * s->c * s->kh * s->kw);
}

size_t qs_conv2d_scratch(const qs_conv_shape *s)
{
    size_t n = (size_t)QS_PAR_MAXT * gen_per_thread(s);
    if (qs_convk_scratch(s) > n)
        n = qs_convk_scratch(s);
    if (qs_convk_dw_scratch(s) > n)
        n = qs_convk_dw_scratch(s);
    if (fast_dx(s)) {
        qs_conv_shape t;
        dx_shape(&t, s);
        if (qs_convk_scratch(&t) > n)
            n = qs_convk_scratch(&t);
    } else if (qs_convk_dxs_scratch(s) > n) {
        n = qs_convk_dxs_scratch(s);
    }
    return n;
}

void qs_conv_valid_range(int *lo, int *hi, int off, int stride, int in,
                         int out)
{
    int l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int h = in - 1 - off < 0 ? 0 : (in - 1 - off) / stride + 1;
    if (h > out)
        h = out;
    if (l > h)
        l = h;
    *lo = l;
    *hi = h;
}

void qs_conv_im2col(float *restrict col, const float *restrict x,
                    const qs_conv_shape *s)
{
    const int st = s->stride, wo = s->wo, ho = s->ho;
    const size_t hw = (size_t)s->h * s->w;
    for (int ci = 0; ci < s->c; ci++)
        for (int ki = 0; ki < s->kh; ki++)
            for (int kj = 0; kj < s->kw; kj++) {
                const float *xc = x + ci * hw;
                int lo, hi;
                qs_conv_valid_range(&lo, &hi, kj - s->pad, st, s->w, wo);
                for (int oh = 0; oh < ho; oh++) {
                    float *dst = col + (size_t)oh * wo;
                    int ih = oh * st - s->pad + ki;
                    if (ih < 0 || ih >= s->h || lo >= hi) {
                        memset(dst, 0, sizeof(float) * wo);
                        continue;
                    }
                    /* input column of output lo (>= 0 inside the span) */
                    const float *src =
                        xc + (size_t)ih * s->w + (lo * st - s->pad + kj);
                    for (int o = 0; o < lo; o++)
                        dst[o] = 0.0f;
                    if (st == 1)
                        memcpy(dst + lo, src, sizeof(float) * (hi - lo));
                    else
                        for (int o = lo; o < hi; o++)
                            dst[o] = src[(size_t)(o - lo) * st];
                    for (int o = hi; o < wo; o++)
                        dst[o] = 0.0f;
                }
                col += (size_t)ho * wo;
            }
}

/* The build uses -O2, whose vectoriser rejects loops that would need a
 * scalar remainder: these step by 4 with a fixed inner j-loop. */
static void add_row(float *restrict y, const float *restrict x, int len)
{
    int i = 0;
    for (; i + 4 <= len; i += 4)
        for (int j = 0; j < 4; j++)
            y[i + j] += x[i + j];
    for (; i < len; i++)
        y[i] += x[i];
}

static void add_const(float *restrict y, float b, int len)
{
    int i = 0;
    for (; i + 4 <= len; i += 4)
        for (int j = 0; j < 4; j++)
            y[i + j] += b;
    for (; i < len; i++)
        y[i] += b;
}

void qs_conv_col2im_add(float *restrict dx, const float *restrict col,
                        const qs_conv_shape *s)
{
    const int st = s->stride, wo = s->wo, ho = s->ho;
    const size_t hw = (size_t)s->h * s->w;
    for (int ci = 0; ci < s->c; ci++)
        for (int ki = 0; ki < s->kh; ki++)
            for (int kj = 0; kj < s->kw; kj++) {
                float *dc = dx + ci * hw;
                int lo, hi;
                qs_conv_valid_range(&lo, &hi, kj - s->pad, st, s->w, wo);
                for (int oh = 0; oh < ho; oh++) {
                    int ih = oh * st - s->pad + ki;
                    if (ih < 0 || ih >= s->h || lo >= hi)
                        continue;
                    const float *src = col + (size_t)oh * wo;
                    float *dst =
                        dc + (size_t)ih * s->w + (lo * st - s->pad + kj);
                    if (st == 1)
                        add_row(dst, src + lo, hi - lo);
                    else
                        for (int o = lo; o < hi; o++)
                            dst[(size_t)(o - lo) * st] += src[o];
                }
                col += (size_t)ho * wo;
            }
}

/* ---- portable path: im2col + qs_sgemm per image --------------------------
 * Images are split over the threads (OpenBLAS itself runs single-threaded:
 * par.h), so every y and dx element is one image's product in the BLAS's
 * own order whatever the thread count; each thread sums its images'
 * dweight into a private share. */
typedef struct {
    float *y, *dx, *dweight;
    const float *x, *dy, *weight, *bias;
    const qs_conv_shape *s;
    float *scratch;
    int nt;
} gen_job;

static float *gen_col(const gen_job *j, int t)
{
    return j->scratch + (size_t)t * gen_per_thread(j->s);
}

static float *gen_dw_share(const gen_job *j, int t)
{
    return gen_col(j, t) + gen_col_len(j->s);
}

static void add_row_long(float *restrict y, const float *restrict x, size_t len)
{
    for (size_t i = 0; i < len; i += 1 << 20)
        add_row(y + i, x + i, (int)(len - i < (1u << 20) ? len - i : 1u << 20));
}

/* x [n, c, h, w], weight [k, c, kh, kw], bias [k] or NULL -> y, images
 * lo..hi-1 */
static void gen_forward(void *ctx, int t, int lo, int hi)
{
    const gen_job *j = ctx;
    const qs_conv_shape *s = j->s;
    const int ckk = s->c * s->kh * s->kw, p = s->ho * s->wo;
    const size_t xs = (size_t)s->c * s->h * s->w, ys = (size_t)s->k * p;
    for (int i = lo; i < hi; i++) {
        const float *col = j->x + i * xs;
        float *yi = j->y + i * ys;
        if (!is_pointwise(s)) {
            qs_conv_im2col(gen_col(j, t), col, s);
            col = gen_col(j, t);
        }
        qs_sgemm(0, 0, s->k, p, ckk, 1.0f, j->weight, ckk, col, p, 0.0f, yi, p);
        if (j->bias)
            for (int ko = 0; ko < s->k; ko++)
                add_const(yi + (size_t)ko * p, j->bias[ko], p);
    }
}

/* dweight share of thread t (thread 0: dweight itself) += dy_i @ col_i^T;
 * dx_i += W^T dy_i (already zeroed when not accumulating) */
static void gen_backward(void *ctx, int t, int lo, int hi)
{
    const gen_job *j = ctx;
    const qs_conv_shape *s = j->s;
    const int ckk = s->c * s->kh * s->kw, p = s->ho * s->wo;
    const size_t xs = (size_t)s->c * s->h * s->w, ys = (size_t)s->k * p;
    float *dw = t ? gen_dw_share(j, t) : j->dweight;
    float *scr = gen_col(j, t);
    const int pw = is_pointwise(s);
    for (int i = lo; i < hi; i++) {
        const float *dyi = j->dy + i * ys;
        const float *col = j->x + i * xs;
        if (!pw) {
            qs_conv_im2col(scr, col, s);
            col = scr;
        }
        /* dweight [k, ckk] += dy_n [k, p] @ col^T [p, ckk]; a share starts
         * at its first image (beta 0) */
        qs_sgemm(0, 1, s->k, ckk, p, 1.0f, dyi, p, col, p,
                 t && i == lo ? 0.0f : 1.0f, dw, ckk);
        if (!j->dx)
            continue;
        float *dxi = j->dx + i * xs;
        if (pw) {
            /* dx_n [c, hw] += weight^T [c, k] @ dy_n [k, hw] */
            qs_sgemm(1, 0, s->c, p, s->k, 1.0f, j->weight, ckk, dyi, p, 1.0f,
                     dxi, p);
        } else {
            /* col is dead once dweight has it, so dcol reuses the scratch */
            qs_sgemm(1, 0, ckk, p, s->k, 1.0f, j->weight, ckk, dyi, p, 0.0f,
                     scr, p);
            qs_conv_col2im_add(dxi, scr, s);
        }
    }
}

/* x [n, c, h, w], weight [k, c, kh, kw], bias [k] or NULL -> y [n, k, ho, wo];
 * scratch [qs_conv2d_scratch(s)]. */
void qs_conv2d_forward(float *y, const float *x, const float *weight,
                       const float *bias, const qs_conv_shape *s,
                       float *scratch)
{
    const int p = s->ho * s->wo;
    const size_t ys = (size_t)s->k * p;
    if (qs_convk_available()) {
        qs_convk_conv(y, x, weight, s, 0, 0, scratch);
        if (bias)
            for (int i = 0; i < s->n; i++)
                for (int ko = 0; ko < s->k; ko++)
                    add_const(y + i * ys + (size_t)ko * p, bias[ko], p);
        return;
    }
    gen_job j = {y, NULL, NULL, x, NULL, weight, bias, s, scratch, 0};
    qs_par_for(qs_par_threads(), s->n, gen_forward, &j);
}

/* dy [n, k, ho, wo], x [n, c, h, w], weight [k, c, kh, kw];
 * dweight [k, c, kh, kw] += ..., dbias [k] += ... (or NULL),
 * dx [n, c, h, w] += ... (= when !acc; or NULL); scratch
 * [qs_conv2d_scratch(s)]. */
void qs_conv2d_backward(float *dx, float *dweight, float *dbias,
                        const float *dy, const float *x, const float *weight,
                        const qs_conv_shape *s, float *scratch, int acc)
{
    const int ckk = s->c * s->kh * s->kw;
    const int p = s->ho * s->wo;
    const size_t xs = (size_t)s->c * s->h * s->w, ys = (size_t)s->k * p;

    if (dbias)
        for (int ko = 0; ko < s->k; ko++) {
            /* over n*ho*wo terms: long enough that float would drift */
            double sum = 0.0;
            for (int i = 0; i < s->n; i++) {
                const float *r = dy + i * ys + (size_t)ko * p;
                for (int j = 0; j < p; j++)
                    sum += r[j];
            }
            dbias[ko] += (float)sum;
        }

    const int fast = qs_convk_available();
    /* only the flipped-weight conv can write dx; every other path adds */
    if (dx && !acc && !(fast && fast_dx(s)))
        qs_par_zero(dx, (size_t)s->n * xs);
    if (fast) {
        /* dx as the stride-1 conv of dy with the flipped weights, or else
         * W^T dy + col2im per image */
        qs_convk_dweight(dweight, dy, x, s, scratch);
        if (!dx)
            return;
        if (fast_dx(s)) {
            qs_conv_shape t;
            dx_shape(&t, s);
            qs_convk_conv(dx, dy, weight, &t, 1, acc, scratch);
            return;
        }
        qs_convk_dx_strided(dx, dy, weight, s, scratch);
        return;
    }

    gen_job j = {NULL, dx, dweight, x, dy, weight, NULL, s, scratch, 0};
    j.nt = qs_par_for(qs_par_threads(), s->n, gen_backward, &j);
    /* thread 0 added its images straight into dweight; the other shares
     * follow in thread order, so the bits depend only on the thread count */
    const size_t wl = (size_t)s->k * ckk;
    for (int t = 1; t < j.nt; t++)
        add_row_long(dweight, gen_dw_share(&j, t), wl);
}
