/* Max pool and ReLU6 (layers_imnet.h). Planes are independent, so both
 * passes split the n x c planes over the job's threads (qs_par_for); each
 * plane is computed the same whichever thread runs it. */
#include "layers_imnet.h"

#include <string.h>

#include "par.h"

typedef struct {
    float *y, *dx;
    const float *x, *dy;
    const qs_conv_shape *s;
} pool_ctx;

/* Index in the h x w plane of the window's maximum at output (oh, ow):
 * the first in row-major order among equal values; a NaN wins at once.
 * The window is clipped to the image (padding is -inf, never the max). */
static inline int window_argmax(const float *restrict xp, const qs_conv_shape *s,
                                int oh, int ow)
{
    const int k = s->kh;
    int h0 = oh * s->stride - s->pad, w0 = ow * s->stride - s->pad;
    int h1 = h0 + k < s->h ? h0 + k : s->h, w1 = w0 + k < s->w ? w0 + k : s->w;
    if (h0 < 0)
        h0 = 0;
    if (w0 < 0)
        w0 = 0;
    int best = h0 * s->w + w0;
    float m = xp[best];
    if (m != m)
        return best;
    for (int i = h0; i < h1; i++)
        for (int j = w0; j < w1; j++) {
            float v = xp[i * s->w + j];
            if (v > m || v != v) {
                m = v;
                best = i * s->w + j;
                if (v != v)
                    return best;
            }
        }
    return best;
}

/* planes [lo, hi) of x [n*c, h, w] -> y [n*c, ho, wo] */
static void fwd_planes(void *vctx, int t, int lo, int hi)
{
    const pool_ctx *c = vctx;
    const qs_conv_shape *s = c->s;
    const size_t in = (size_t)s->h * s->w, out = (size_t)s->ho * s->wo;
    for (int p = lo; p < hi; p++) {
        const float *xp = c->x + p * in;
        float *yp = c->y + p * out;
        for (int oh = 0; oh < s->ho; oh++)
            for (int ow = 0; ow < s->wo; ow++)
                yp[oh * s->wo + ow] = xp[window_argmax(xp, s, oh, ow)];
    }
}

int qs_maxpool_forward(float *y, const float *x, const qs_conv_shape *s)
{
    if (s->pad > s->kh / 2 || s->kh != s->kw)
        return -1;
    pool_ctx c = {y, NULL, x, NULL, s};
    qs_par_for(qs_par_threads(), s->n * s->c, fwd_planes, &c);
    return 0;
}

/* planes [lo, hi): dx [n*c, h, w] += dy at each window's argmax */
static void bwd_planes(void *vctx, int t, int lo, int hi)
{
    const pool_ctx *c = vctx;
    const qs_conv_shape *s = c->s;
    const size_t in = (size_t)s->h * s->w, out = (size_t)s->ho * s->wo;
    for (int p = lo; p < hi; p++) {
        const float *xp = c->x + p * in;
        const float *dyp = c->dy + p * out;
        float *dxp = c->dx + p * in;
        for (int oh = 0; oh < s->ho; oh++)
            for (int ow = 0; ow < s->wo; ow++)
                dxp[window_argmax(xp, s, oh, ow)] += dyp[oh * s->wo + ow];
    }
}

void qs_maxpool_backward(float *dx, const float *dy, const float *x,
                         const qs_conv_shape *s, int acc)
{
    if (!dx)
        return;
    if (!acc)
        qs_par_zero(dx, (size_t)s->n * s->c * s->h * s->w);
    pool_ctx c = {NULL, dx, x, dy, s};
    qs_par_for(qs_par_threads(), s->n * s->c, bwd_planes, &c);
}

/* ---- ReLU6 ---------------------------------------------------------------
 * "v < 0 ? 0 : v" then "v > 6 ? 6 : v": both comparisons are false for a
 * NaN, which therefore passes through (as in PyTorch). */
typedef struct {
    float *y;
    const float *x, *dy;
    int acc;
} r6_ctx;

static void r6_fwd(void *vctx, size_t lo, size_t hi)
{
    const r6_ctx *c = vctx;
    for (size_t i = lo; i < hi; i++) {
        float v = c->x[i];
        v = v < 0.0f ? 0.0f : v;
        c->y[i] = v > 6.0f ? 6.0f : v;
    }
}

void qs_relu6_forward(float *y, const float *x, size_t len)
{
    r6_ctx c = {y, x, NULL, 0};
    qs_par_range(len, r6_fwd, &c);
}

/* here c->y is dx and c->x the forward output */
static void r6_bwd(void *vctx, size_t lo, size_t hi)
{
    const r6_ctx *c = vctx;
    for (size_t i = lo; i < hi; i++) {
        float v = c->x[i];
        float g = (v > 0.0f && v < 6.0f) ? c->dy[i] : 0.0f;
        c->y[i] = c->acc ? c->y[i] + g : g;
    }
}

void qs_relu6_backward(float *dx, const float *dy, const float *y, size_t len,
                       int acc)
{
    if (!dx)
        return;
    r6_ctx c = {dx, y, dy, acc};
    qs_par_range(len, r6_bwd, &c);
}
