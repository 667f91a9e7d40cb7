/* Depthwise conv (groups = channels), direct loops.
 *
 * im2col would copy kh*kw times the input for a product of only kh*kw
 * multiply-adds per output, so this works on one (image, channel) plane at a
 * time, row by row.
 * - Generic path (any kernel, any stride): for each kernel column the span
 *   of output columns whose input lies inside the image is computed once,
 *   so the per-tap row loops carry no bounds checks; padding simply drops
 *   out of the spans.
 * - 3x3 stride 1 (the common case): rows whose whole window is inside the
 *   image take all nine taps in one pass over the interior columns, and the
 *   padded border columns go through a short scalar loop.
 * Channels are split over the threads (qs_par_for): every plane, and each
 * channel's weight gradient, is computed by one thread in a fixed order, so
 * the results do not depend on the thread count.
 * The build uses -O2, whose vectoriser rejects loops that would need a
 * scalar remainder, so the main loops step by 4 with a fixed inner j-loop
 * (one 4-float operation) and a scalar tail follows. */
#include "layers.h"

#include "conv_util.h"
#include "convk_int.h"
#include "par.h"
#include "simd.h"

#include <stdlib.h>
#include <string.h>


/* Column span [lo, hi) of each kernel column kj. They do not depend on the
 * row, and qs_conv_valid_range costs two integer divisions, which would otherwise
 * rival the multiply-adds of a narrow row; so they are tabulated once per
 * call for kernels up to DW_SPAN_TAB wide (wider ones compute on demand). */
#define DW_SPAN_TAB 32

typedef struct {
    int lo, hi;
} col_span;

typedef struct {
    const qs_conv_shape *s;
    int tabbed;
    col_span tab[DW_SPAN_TAB];
} spans;

static void spans_init(spans *sp, const qs_conv_shape *s)
{
    sp->s = s;
    sp->tabbed = s->kw <= DW_SPAN_TAB;
    if (sp->tabbed)
        for (int kj = 0; kj < s->kw; kj++)
            qs_conv_valid_range(&sp->tab[kj].lo, &sp->tab[kj].hi, kj - s->pad,
                        s->stride, s->w, s->wo);
}

static inline col_span span_of(const spans *sp, int kj)
{
    if (sp->tabbed)
        return sp->tab[kj];
    col_span c;
    qs_conv_valid_range(&c.lo, &c.hi, kj - sp->s->pad, sp->s->stride, sp->s->w,
                sp->s->wo);
    return c;
}

/* Output columns [lo, hi) where every kernel column is inside the image. */
static void inner_cols(int *lo, int *hi, const qs_conv_shape *s)
{
    int tmp;
    qs_conv_valid_range(lo, &tmp, -s->pad, s->stride, s->w, s->wo);
    qs_conv_valid_range(&tmp, hi, s->kw - 1 - s->pad, s->stride, s->w, s->wo);
    if (*hi < *lo)
        *hi = *lo;
}

/* y [len] += a * x[o * stride] */
static inline void row_axpy(float *restrict y, const float *restrict x,
                            float a, int len, int stride)
{
    int o = 0;
    if (stride == 1) {
        for (; o + 4 <= len; o += 4)
            for (int j = 0; j < 4; j++)
                y[o + j] += a * x[o + j];
        for (; o < len; o++)
            y[o] += a * x[o];
    } else {
        for (; o < len; o++)
            y[o] += a * x[(size_t)o * stride];
    }
}

/* y[o * stride] += a * x[o], o < len (the transpose of row_axpy) */
static inline void row_axpy_scatter(float *restrict y,
                                    const float *restrict x, float a, int len,
                                    int stride)
{
    int o = 0;
    if (stride == 1) {
        for (; o + 4 <= len; o += 4)
            for (int j = 0; j < 4; j++)
                y[o + j] += a * x[o + j];
        for (; o < len; o++)
            y[o] += a * x[o];
    } else {
        for (; o < len; o++)
            y[(size_t)o * stride] += a * x[o];
    }
}

/* sum_o dy[o] * x[o * stride] in double; four lanes let -O2 vectorise it
 * while keeping a fixed summation order. */
static inline double row_dot(const float *restrict dy,
                             const float *restrict x, int len, int stride)
{
    double s = 0.0;
    int o = 0;
    if (stride == 1) {
        double a[4] = {0.0, 0.0, 0.0, 0.0};
        for (; o + 4 <= len; o += 4)
            for (int j = 0; j < 4; j++)
                a[j] += (double)dy[o + j] * x[o + j];
        s = (a[0] + a[1]) + (a[2] + a[3]);
    }
    for (; o < len; o++)
        s += (double)dy[o] * x[(size_t)o * stride];
    return s;
}

/* One output row of a 3x3 stride-1 conv whose three input rows r0..r2 all
 * exist: the columns [lo, hi) that need no padding go through one pass with
 * all nine taps in registers. Taps are summed in the same (ki, kj) order as
 * the generic path, so both give identical values. accumulate: y += sum
 * instead of y = sum (the backward gather below). */
static void row3x3_s1(float *restrict yr, const float *restrict r0,
                      const float *restrict r1, const float *restrict r2,
                      const float *restrict wt, int lo, int hi, int pad,
                      int accumulate)
{
    const float w0 = wt[0], w1 = wt[1], w2 = wt[2], w3 = wt[3], w4 = wt[4],
                w5 = wt[5], w6 = wt[6], w7 = wt[7], w8 = wt[8];
    /* input column of tap kj for output o is o - pad + kj */
    const float *a = r0 + (lo - pad), *b = r1 + (lo - pad), *c = r2 + (lo - pad);
    float *y = yr + lo;
    int len = hi - lo;
#define ROW3_SUM(q)                                                          \
    (w0 * a[q] + w1 * a[(q) + 1] + w2 * a[(q) + 2] + w3 * b[q] +             \
     w4 * b[(q) + 1] + w5 * b[(q) + 2] + w6 * c[q] + w7 * c[(q) + 1] +       \
     w8 * c[(q) + 2])
    int o = 0;
    if (accumulate) {
        for (; o + 4 <= len; o += 4)
            for (int j = 0; j < 4; j++)
                y[o + j] += ROW3_SUM(o + j);
        for (; o < len; o++)
            y[o] += ROW3_SUM(o);
    } else {
        for (; o + 4 <= len; o += 4)
            for (int j = 0; j < 4; j++)
                y[o + j] = ROW3_SUM(o + j);
        for (; o < len; o++)
            y[o] = ROW3_SUM(o);
    }
#undef ROW3_SUM
}

/* Columns [c0, c1) of the same row (the padded borders, a column or two):
 * scalar, same tap order as the generic path. */
static void cols3x3_fwd(float *restrict yr, const float *restrict r0,
                        const float *restrict r1, const float *restrict r2,
                        const float *restrict wt, int w, int pad, int c0,
                        int c1)
{
    const float *rows[3] = {r0, r1, r2};
    for (int o = c0; o < c1; o++) {
        /* kernel columns whose input column o - pad + kj is inside */
        int j0 = pad - o > 0 ? pad - o : 0;
        int j1 = w + pad - o < 3 ? w + pad - o : 3;
        float acc = 0.0f;
        for (int ki = 0; ki < 3; ki++)
            for (int kj = j0; kj < j1; kj++)
                acc += wt[ki * 3 + kj] * rows[ki][o - pad + kj];
        yr[o] = acc;
    }
}

/* Output row oh of one plane, any kernel and stride, columns [c0, c1) only:
 * zero them, then add tap by tap. */
static void row_generic(float *restrict yr, const float *restrict xp,
                        const float *restrict wt, const spans *sp, int oh,
                        int c0, int c1)
{
    const qs_conv_shape *s = sp->s;
    const int st = s->stride;
    for (int o = c0; o < c1; o++)
        yr[o] = 0.0f;
    for (int ki = 0; ki < s->kh; ki++) {
        int ih = oh * st - s->pad + ki;
        if (ih < 0 || ih >= s->h)
            continue;
        const float *xr = xp + (size_t)ih * s->w;
        for (int kj = 0; kj < s->kw; kj++) {
            col_span cs = span_of(sp, kj);
            int lo = cs.lo, hi = cs.hi;
            if (lo < c0)
                lo = c0;
            if (hi > c1)
                hi = c1;
            if (lo >= hi)
                continue;
            row_axpy(yr + lo, xr + (lo * st - s->pad + kj),
                     wt[ki * s->kw + kj], hi - lo, st);
        }
    }
}

/* ---- 3x3 pad-1 planes, stride 1 or 2, on AVX-512 / AVX2 (dwconv_k.h) ----
 * The SSE-width loops above ran the depthwise conv at about 8 GFLOP/s, far
 * from memory-bound. Here a plane is first copied zero-padded with shared
 * pad columns, the layout of the conv kernels' image copies (convk_int.h:
 * row stride wp = w + 1, rows h + 2, slack after; at stride 2 split into
 * four phase planes, so a strided tap is still a contiguous run), and
 * output (oh, ow) reads tap t at off[t] + oh wp + ow: each output row is
 * pieces of VL (masked tail), nine loads and nine FMAs per piece. The
 * stride-2 input gradient gathers each phase plane of dx from dy over the
 * taps that land in it, then interleaves the phases into dx. Taps are
 * summed in order 0..8 with FMA, so the bits differ from the SSE path
 * (both fixed-order); dweight keeps VL float lanes per tap over
 * DWP_FLUSH planes, then adds their sum to the channel's double sum (one
 * horizontal sum per plane cost more than the plane's FMAs at 8x8). */
#define DWP_FLUSH 8 /* planes summed in float lanes before a double add */

#if QS_SIMD_X86
typedef struct {
    qs_conv_shape s; /* one plane of x as a one-channel conv */
    qs_ck_pad g;     /* its padded (stride 1) or phase-split (2) copy */
    int off[9];      /* each tap's offset in that copy */
} dwp_plane;

static void dwp_geom(dwp_plane *p, const qs_conv_shape *s)
{
    qs_conv_shape_init(&p->s, 1, 1, s->h, s->w, 1, 3, 3, s->stride, 1);
    qs_ck_pad_init(&p->g, &p->s);
    qs_ck_tap_offsets(p->off, &p->s, &p->g);
}

static int dwp_ok(const qs_conv_shape *s)
{
    return s->kh == 3 && s->kw == 3 && (s->stride == 1 || s->stride == 2) &&
           s->pad == 1 && qs_simd_avx2();
}
#endif

typedef struct {
    float *y, *dx, *dweight;
    const float *x, *dy, *weight;
    const qs_conv_shape *s;
    int acc; /* backward: add to dx (else overwrite) */
    double *bn_sums; /* forward: a following BN's sums [3c], or NULL */
} dw_args;

#if QS_SIMD_X86
#define QS_VL 16
#include "dwconv_k.h"
#undef QS_VL
#define QS_VL 8
#include "dwconv_k.h"
#undef QS_VL
#endif

/* the planes of dwconv_k.h at the path's width: 1 when they ran */
static int dwp_forward(const dw_args *a, int c0, int c1)
{
#if QS_SIMD_X86
    if (dwp_ok(a->s))
        return qs_simd_avx512() ? dwp_forward_avx512(a, c0, c1)
                                : dwp_forward_avx2(a, c0, c1);
#endif
    (void)a, (void)c0, (void)c1;
    return 0;
}

static int dwp_backward(const dw_args *a, int c0, int c1)
{
#if QS_SIMD_X86
    if (dwp_ok(a->s))
        return qs_simd_avx512() ? dwp_backward_avx512(a, c0, c1)
                                : dwp_backward_avx2(a, c0, c1);
#endif
    (void)a, (void)c0, (void)c1;
    return 0;
}

/* channels [c0, c1) of every image (qs_par_fn) */
static void forward_part(void *ctx, int t, int c0, int c1)
{
    const dw_args *a = ctx;
    const qs_conv_shape *s = a->s;
    const size_t hw = (size_t)s->h * s->w, ohw = (size_t)s->ho * s->wo;
    const int taps = s->kh * s->kw;
    const int fast3 = s->kh == 3 && s->kw == 3 && s->stride == 1;
    int inner_lo, inner_hi;
    (void)t;
    /* else (other shapes, no vector path, no memory): the loops below */
    if (dwp_forward(a, c0, c1))
        return;
    inner_cols(&inner_lo, &inner_hi, s);
    spans sp;
    spans_init(&sp, s);

    for (int i = 0; i < s->n; i++)
        for (int ch = c0; ch < c1; ch++) {
            const float *xp = a->x + ((size_t)i * s->c + ch) * hw;
            float *yp = a->y + ((size_t)i * s->c + ch) * ohw;
            const float *wt = a->weight + (size_t)ch * taps;
            for (int oh = 0; oh < s->ho; oh++) {
                float *yr = yp + (size_t)oh * s->wo;
                int ih0 = oh - s->pad;
                if (fast3 && ih0 >= 0 && ih0 + 2 < s->h) {
                    const float *r0 = xp + (size_t)ih0 * s->w;
                    const float *r1 = r0 + s->w, *r2 = r1 + s->w;
                    row3x3_s1(yr, r0, r1, r2, wt, inner_lo, inner_hi, s->pad,
                              0);
                    cols3x3_fwd(yr, r0, r1, r2, wt, s->w, s->pad, 0,
                                inner_lo);
                    cols3x3_fwd(yr, r0, r1, r2, wt, s->w, s->pad, inner_hi,
                                s->wo);
                } else {
                    row_generic(yr, xp, wt, &sp, oh, 0, s->wo);
                }
            }
            if (a->bn_sums)
                qs_bn_sums_plane(a->bn_sums + (size_t)ch * 3, yp, ohw, i == 0);
        }
}

/* x [n, c, h, w], weight [c, 1, kh, kw] -> y [n, c, ho, wo]. Images
 * outer on both paths, so each channel's bn_sums add its planes in image
 * order, as qs_bn_forward_train does. */
void qs_dwconv_forward_sums(float *y, const float *x, const float *weight,
                            const qs_conv_shape *s, double *bn_sums)
{
    dw_args a = {.y = y, .x = x, .weight = weight, .s = s, .bn_sums = bn_sums};
    qs_par_for(qs_par_threads(), s->c, forward_part, &a);
}

void qs_dwconv_forward(float *y, const float *x, const float *weight,
                       const qs_conv_shape *s)
{
    qs_dwconv_forward_sums(y, x, weight, s, NULL);
}

/* dxp [h, w] += the input gradient of one plane of a 3x3 stride-1 conv,
 * from dyp [ho, wo]. Scattering tap by tap would pass over each dx row nine
 * times; gathering instead is a correlation of dy with the flipped kernel
 * at padding 2 - pad, so it reuses the forward's one-pass interior rows:
 *   dx[ih][iw] += sum_{a,b} wf[a][b] dy[ih - pp + a][iw - pp + b]. */
static void dx_plane_3x3_s1(float *restrict dxp, const float *restrict dyp,
                            const float *restrict wt, const qs_conv_shape *s)
{
    float wf[9];
    for (int t = 0; t < 9; t++)
        wf[t] = wt[8 - t];
    const int pp = 2 - s->pad, ho = s->ho, wo = s->wo;
    /* columns and rows whose nine dy taps all exist */
    int lo = pp > 0 ? pp : 0, hi = wo + pp - 2;
    if (hi > s->w)
        hi = s->w;
    if (hi < lo)
        hi = lo;
    for (int ih = 0; ih < s->h; ih++) {
        float *dxr = dxp + (size_t)ih * s->w;
        int r = ih - pp;   /* first dy row of the window */
        int full = r >= 0 && r + 2 < ho;
        int a0 = -r > 0 ? -r : 0, a1 = ho - r < 3 ? ho - r : 3;
        if (full && lo < hi) {
            const float *d0 = dyp + (size_t)r * wo;
            row3x3_s1(dxr, d0, d0 + wo, d0 + 2 * wo, wf, lo, hi, pp, 1);
        }
        for (int iw = 0; iw < s->w; iw++) {
            if (full && iw == lo && lo < hi) {
                iw = hi - 1;   /* interior done above */
                continue;
            }
            /* window taps inside dy: rows r + a, columns iw - pp + b */
            int b0 = pp - iw > 0 ? pp - iw : 0;
            int b1 = wo + pp - iw < 3 ? wo + pp - iw : 3;
            float acc = 0.0f;
            for (int a = a0; a < a1; a++)
                for (int b = b0; b < b1; b++)
                    acc += wf[a * 3 + b] *
                           dyp[(size_t)(r + a) * wo + (iw - pp + b)];
            dxr[iw] += acc;
        }
    }
}

/* acc [9] += the weight gradient of one output row of a 3x3 stride-1 conv,
 * over the columns [lo, hi) that need no padding, with input rows r0..r2.
 * One pass keeps dy in registers for all nine taps (tap by tap, the row
 * sums are latency-bound). A row is short, so each tap sums it in float
 * over four fixed lanes; the caller's double acc takes the many rows. */
static void dw_row3x3_s1(double *restrict acc, const float *restrict dyr,
                         const float *restrict r0, const float *restrict r1,
                         const float *restrict r2, int lo, int hi, int pad)
{
    float l[9][4] = {{0.0f}};
    const float *a = r0 + (lo - pad), *b = r1 + (lo - pad), *c = r2 + (lo - pad);
    const float *d = dyr + lo;
    int len = hi - lo, o = 0;
    for (; o + 4 <= len; o += 4)
        for (int j = 0; j < 4; j++) {
            float g = d[o + j];
            int q = o + j;
            l[0][j] += g * a[q];
            l[1][j] += g * a[q + 1];
            l[2][j] += g * a[q + 2];
            l[3][j] += g * b[q];
            l[4][j] += g * b[q + 1];
            l[5][j] += g * b[q + 2];
            l[6][j] += g * c[q];
            l[7][j] += g * c[q + 1];
            l[8][j] += g * c[q + 2];
        }
    for (int t = 0; t < 9; t++) {
        const float *x = (t < 3 ? a : t < 6 ? b : c) + t % 3;
        float sum = (l[t][0] + l[t][1]) + (l[t][2] + l[t][3]);
        for (int q = o; q < len; q++)
            sum += d[q] * x[q];
        acc[t] += sum;
    }
}

/* acc [9] += the weight gradient of columns [c0, c1) of the same row (the
 * padded borders), scalar. */
static void dw_cols3x3(double *restrict acc, const float *restrict dyr,
                       const float *restrict r0, const float *restrict r1,
                       const float *restrict r2, int w, int pad, int c0,
                       int c1)
{
    const float *rows[3] = {r0, r1, r2};
    for (int o = c0; o < c1; o++) {
        int j0 = pad - o > 0 ? pad - o : 0;
        int j1 = w + pad - o < 3 ? w + pad - o : 3;
        double g = dyr[o];
        for (int ki = 0; ki < 3; ki++)
            for (int kj = j0; kj < j1; kj++)
                acc[ki * 3 + kj] += g * rows[ki][o - pad + kj];
    }
}

/* Kernel taps whose double accumulators live on the stack at once; larger
 * kernels are processed in chunks of this many taps. */
#define DW_TAP_CHUNK 64

/* dy [n, c, ho, wo], x [n, c, h, w], weight [c, 1, kh, kw];
 * dweight [c, 1, kh, kw] += ..., dx [n, c, h, w] += ... (or NULL). */
/* channels [c0, c1) (qs_par_fn) */
static void backward_part(void *ctx, int th, int c0, int c1)
{
    const dw_args *a = ctx;
    const qs_conv_shape *s = a->s;
    float *dx = a->dx, *dweight = a->dweight;
    const float *dy = a->dy, *x = a->x, *weight = a->weight;
    (void)th;
    if (dwp_backward(a, c0, c1)) /* as in forward_part */
        return;
    const size_t hw = (size_t)s->h * s->w, ohw = (size_t)s->ho * s->wo;
    const int taps = s->kh * s->kw, st = s->stride;
    double acc[DW_TAP_CHUNK];
    spans sp;
    spans_init(&sp, s);
    /* 3x3 stride 1 (9 taps, one chunk) has one-pass paths for dweight
     * and, gathering per plane, for dx */
    const int fast3 = s->kh == 3 && s->kw == 3 && st == 1;
    const int gather3 = dx && fast3;
    int inner_lo, inner_hi;
    inner_cols(&inner_lo, &inner_hi, s);

    for (int ch = c0; ch < c1; ch++)
        for (int t0 = 0; t0 < taps; t0 += DW_TAP_CHUNK) {
            int t1 = t0 + DW_TAP_CHUNK < taps ? t0 + DW_TAP_CHUNK : taps;
            for (int t = t0; t < t1; t++)
                acc[t - t0] = 0.0;
            /* channel-outer, image-inner: dweight sums over the whole batch
             * in double before touching the float gradient */
            for (int i = 0; i < s->n; i++) {
                size_t plane = (size_t)i * s->c + ch;
                const float *xp = x + plane * hw;
                const float *dyp = dy + plane * ohw;
                float *dxp = dx && !gather3 ? dx + plane * hw : NULL;
                const float *wt = weight + (size_t)ch * taps;
                /* overwrite: these loops add, so start the plane (while it
                 * is about to be in cache) from zero */
                if (dx && !a->acc && t0 == 0)
                    memset(dx + plane * hw, 0, sizeof(float) * hw);
                for (int oh = 0; oh < s->ho; oh++) {
                    const float *dyr = dyp + (size_t)oh * s->wo;
                    int ih0 = oh - s->pad;
                    /* 3x3 stride 1 with all three input rows: one pass for
                     * the interior columns, then the border columns */
                    int fast = fast3 && ih0 >= 0 && ih0 + 2 < s->h;
                    if (fast) {
                        const float *r0 = xp + (size_t)ih0 * s->w;
                        const float *r1 = r0 + s->w, *r2 = r1 + s->w;
                        dw_row3x3_s1(acc, dyr, r0, r1, r2, inner_lo,
                                     inner_hi, s->pad);
                        dw_cols3x3(acc, dyr, r0, r1, r2, s->w, s->pad, 0,
                                   inner_lo);
                        dw_cols3x3(acc, dyr, r0, r1, r2, s->w, s->pad,
                                   inner_hi, s->wo);
                        continue;
                    }
                    /* (ki, kj) of tap t, stepped rather than divided */
                    int ki = t0 / s->kw, kj = t0 % s->kw;
                    for (int t = t0; t < t1; t++, kj++) {
                        if (kj == s->kw) {
                            kj = 0;
                            ki++;
                        }
                        int ih = oh * st - s->pad + ki;
                        if (ih < 0 || ih >= s->h)
                            continue;
                        col_span cs = span_of(&sp, kj);
                        int lo = cs.lo, hi = cs.hi;
                        if (lo >= hi)
                            continue;
                        /* input offset of output column lo */
                        size_t xo = (size_t)ih * s->w + (lo * st - s->pad + kj);
                        acc[t - t0] += row_dot(dyr + lo, xp + xo, hi - lo, st);
                        if (dxp)
                            row_axpy_scatter(dxp + xo, dyr + lo, wt[t],
                                             hi - lo, st);
                    }
                }
                if (gather3)
                    dx_plane_3x3_s1(dx + plane * hw, dyp, wt, s);
            }
            for (int t = t0; t < t1; t++)
                dweight[(size_t)ch * taps + t] += (float)acc[t - t0];
        }
}

void qs_dwconv_backward(float *dx, float *dweight, const float *dy,
                        const float *x, const float *weight,
                        const qs_conv_shape *s, int acc)
{
    dw_args a = {.dx = dx, .dweight = dweight, .dy = dy, .x = x,
                 .weight = weight, .s = s, .acc = acc};
    qs_par_for(qs_par_threads(), s->c, backward_part, &a);
}
