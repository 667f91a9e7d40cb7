/* Depthwise 3x3 stride-1 pad-1 planes, written once over the vector width
 * (vec.h); dwconv.c includes this file with QS_VL 16 (AVX-512F) and 8
 * (AVX2 + FMA). Layout and reasons: dwconv.c, above its include.
 *
 * Per plane: output rows in pieces of VL (masked tail), nine loads and
 * nine FMAs per piece, taps summed in order 0..8 from the first product,
 * so y and dx are the same bits at either width. dweight keeps VL float
 * lanes per tap (lane = column mod VL) over DWP_FLUSH images, then adds
 * their horizontal sum to the channel's double sum: those float partial
 * sums differ between the widths (16 lanes against 8). */
#include "vec.h"

/* Loads of a piece: plain when it is full (AVX2's masked moves are slow
 * on AMD cores; the bits are the same), else masked to its n lanes. */
#undef DWP_LD
#define DWP_LD(full, m, p) ((full) ? V_LOAD(p) : V_LOADT(m, p))

/* one piece of an output row of dwp_conv */
VINL void QS_VN(dwp_conv_piece)(const int full, float *yr, const float *b,
                                int wp, const vf *k, int n, int acc)
{
    const vtail m = full ? V_TAIL(VL) : V_TAIL(n);
    vf v = V_MUL(k[0], DWP_LD(full, m, b));
    for (int t = 1; t < 9; t++)
        v = V_FMA(k[t], DWP_LD(full, m, b + (t / 3) * wp + t % 3), v);
    if (acc)
        v = V_ADD(DWP_LD(full, m, yr), v);
    if (full)
        V_STORE(yr, v);
    else
        V_STORET(yr, m, v);
}

/* y [h][w] (+)= the 3x3 correlation of the padded plane xp (row stride
 * wp) with wt [9] */
static VTGT void QS_VN(dwp_conv)(float *restrict y, const float *restrict xp,
                                 int h, int w, int wp, const float *wt,
                                 int acc)
{
    vf k[9];
    for (int t = 0; t < 9; t++)
        k[t] = V_SET1(wt[t]);
    for (int oh = 0; oh < h; oh++) {
        const float *b = xp + (size_t)oh * wp;
        float *yr = y + (size_t)oh * w;
        int ow = 0;
        for (; ow + VL <= w; ow += VL)
            QS_VN(dwp_conv_piece)(1, yr + ow, b + ow, wp, k, VL, acc);
        if (ow < w)
            QS_VN(dwp_conv_piece)(0, yr + ow, b + ow, wp, k, w - ow, acc);
    }
}

/* one piece of a row of dwp_grad */
VINL void QS_VN(dwp_grad_piece)(const int full, vf *a, const float *d,
                                const float *b, int wp, int n)
{
    const vtail m = full ? V_TAIL(VL) : V_TAIL(n);
    const vf dv = DWP_LD(full, m, d);
    for (int t = 0; t < 9; t++)
        a[t] = V_FMA(dv, DWP_LD(full, m, b + (t / 3) * wp + t % 3), a[t]);
}

/* v [9][16] (first VL lanes) += lane sums over the plane of dy [h][w]
 * times tap t of the padded x */
static VTGT void QS_VN(dwp_grad)(float *v, const float *restrict dy,
                                 const float *restrict xp, int h, int w,
                                 int wp)
{
    vf a[9];
    for (int t = 0; t < 9; t++)
        a[t] = V_LOAD(v + 16 * t);
    for (int oh = 0; oh < h; oh++) {
        const float *d = dy + (size_t)oh * w, *b = xp + (size_t)oh * wp;
        int ow = 0;
        for (; ow + VL <= w; ow += VL)
            QS_VN(dwp_grad_piece)(1, a, d + ow, b + ow, wp, VL);
        if (ow < w)
            QS_VN(dwp_grad_piece)(0, a, d + ow, b + ow, wp, w - ow);
    }
    for (int t = 0; t < 9; t++)
        V_STORE(v + 16 * t, a[t]);
}

/* g [9] += the lane sums v [9][16]; v = 0 */
static VTGT void QS_VN(dwp_flush)(double *g, float *v)
{
    for (int t = 0; t < 9; t++) {
        g[t] += (double)V_REDUCE(V_LOAD(v + 16 * t));
        V_STORE(v + 16 * t, V_ZERO());
    }
}

/* channels [c0, c1) of every image; 0 when out of memory (the caller
 * falls back to the scalar loops) */
static VTGT int QS_VN(dwp_forward)(const dw_args *a, int c0, int c1)
{
    const qs_conv_shape *s = a->s;
    const size_t hw = (size_t)s->h * s->w, ohw = (size_t)s->ho * s->wo;
    qs_conv_shape ps;
    qs_ck_pad g;
    dwp_geom(&ps, &g, s);
    float *pb = malloc(sizeof(float) * g.len);
    if (!pb)
        return 0;
    for (int i = 0; i < s->n; i++)
        for (int ch = c0; ch < c1; ch++) {
            size_t plane = (size_t)i * s->c + ch;
            qs_ck_pad_image(pb, a->x + plane * hw, &ps, &g);
            QS_VN(dwp_conv)(a->y + plane * ohw, pb, s->h, s->w, g.wp,
                            a->weight + (size_t)ch * 9, 0);
        }
    free(pb);
    return 1;
}

/* dweight and dx (if any) of channels [c0, c1); images outer (channel-
 * outer strode a whole image between planes, DRAM- and TLB-bound at 8x8),
 * per-channel sums kept aside. 0 when out of memory. */
static VTGT int QS_VN(dwp_backward)(const dw_args *a, int c0, int c1)
{
    const qs_conv_shape *s = a->s;
    float *dx = a->dx;
    const int nch = c1 - c0;
    qs_conv_shape ps; /* a plane of x, and of dy (the same size here) */
    qs_ck_pad pg;
    dwp_geom(&ps, &pg, s);
    const size_t pl = pg.len;
    /* padded x and dy planes, then per channel: lane sums [9][16], double
     * sums [9], flipped kernel [9] */
    float *pb = malloc(sizeof(float) * (2 * pl + (size_t)nch * 153) +
                       sizeof(double) * (size_t)nch * 9);
    if (!pb)
        return 0;
    const size_t hw = (size_t)s->h * s->w, ohw = (size_t)s->ho * s->wo;
    float *dp = pb + pl, *v = dp + pl;
    double *g = (double *)(v + (size_t)nch * 144);
    float *wf = (float *)(g + (size_t)nch * 9);
    memset(v, 0, sizeof(float) * (size_t)nch * 144);
    memset(g, 0, sizeof(double) * (size_t)nch * 9);
    /* dx: dy correlated with the flipped kernel */
    for (int k = 0; k < nch; k++)
        for (int t = 0; t < 9; t++)
            wf[k * 9 + t] = a->weight[(size_t)(c0 + k) * 9 + 8 - t];
    for (int i = 0; i < s->n; i++) {
        for (int ch = c0; ch < c1; ch++) {
            size_t plane = (size_t)i * s->c + ch;
            qs_ck_pad_image(pb, a->x + plane * hw, &ps, &pg);
            QS_VN(dwp_grad)(v + (size_t)(ch - c0) * 144, a->dy + plane * ohw,
                            pb, s->ho, s->wo, pg.wp);
            if (dx) {
                qs_ck_pad_image(dp, a->dy + plane * ohw, &ps, &pg);
                QS_VN(dwp_conv)(dx + plane * hw, dp, s->h, s->w, pg.wp,
                                wf + (size_t)(ch - c0) * 9, 1);
            }
        }
        if (i % DWP_FLUSH == DWP_FLUSH - 1 || i == s->n - 1)
            for (int k = 0; k < nch; k++)
                QS_VN(dwp_flush)(g + (size_t)k * 9, v + (size_t)k * 144);
    }
    for (int k = 0; k < nch; k++)
        for (int t = 0; t < 9; t++)
            a->dweight[(size_t)(c0 + k) * 9 + t] += (float)g[(size_t)k * 9 + t];
    free(pb);
    return 1;
}
