/* Depthwise 3x3 pad-1 planes, stride 1 or 2, written once over the vector width
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

/* one piece of an output row of dwp_taps: the nt taps of b + off[t] */
VINL void QS_VN(dwp_conv_piece)(const int full, const int nt, float *yr,
                                const float *b, const int *off, const vf *k,
                                int n, int acc)
{
    const vtail m = full ? V_TAIL(VL) : V_TAIL(n);
    vf v = V_MUL(k[0], DWP_LD(full, m, b + off[0]));
    for (int t = 1; t < nt; t++)
        v = V_FMA(k[t], DWP_LD(full, m, b + off[t]), v);
    if (acc)
        v = V_ADD(DWP_LD(full, m, yr), v);
    if (full)
        V_STORE(yr, v);
    else
        V_STORET(yr, m, v);
}

/* y [h][w] (row stride ldy) (+)= sum over taps t < nt of wt[t] times the
 * run of xp at off[t] + oh wp + ow: the 3x3 correlation of a padded plane
 * (off: qs_ck_tap_offsets, phase planes at stride 2), or one phase of the
 * stride-2 input gradient */
VINL void QS_VN(dwp_taps_body)(const int nt, float *restrict y, int ldy,
                               const float *restrict xp, int h, int w, int wp,
                               const int *off, const float *wt, int acc)
{
    vf k[9];
    int o[9];
    for (int t = 0; t < nt; t++) {
        k[t] = V_SET1(wt[t]);
        o[t] = off[t];
    }
    for (int oh = 0; oh < h; oh++) {
        const float *b = xp + (size_t)oh * wp;
        float *yr = y + (size_t)oh * ldy;
        int ow = 0;
        for (; ow + VL <= w; ow += VL)
            QS_VN(dwp_conv_piece)(1, nt, yr + ow, b + ow, o, k, VL, acc);
        if (ow < w)
            QS_VN(dwp_conv_piece)(0, nt, yr + ow, b + ow, o, k, w - ow, acc);
    }
}

#undef DWP_TAPS
#define DWP_TAPS(NT)                                                         \
    static VTGT void QS_VN(dwp_taps##NT)(float *restrict y, int ldy,         \
                                         const float *restrict xp, int h,    \
                                         int w, int wp, const int *off,      \
                                         const float *wt, int acc)           \
    {                                                                        \
        QS_VN(dwp_taps_body)(NT, y, ldy, xp, h, w, wp, off, wt, acc);        \
    }
DWP_TAPS(9) DWP_TAPS(4) DWP_TAPS(2) DWP_TAPS(1)
#undef DWP_TAPS

/* one piece of a row of dwp_grad */
VINL void QS_VN(dwp_grad_piece)(const int full, vf *a, const float *d,
                                const float *b, const int *off, int n)
{
    const vtail m = full ? V_TAIL(VL) : V_TAIL(n);
    const vf dv = DWP_LD(full, m, d);
    for (int t = 0; t < 9; t++)
        a[t] = V_FMA(dv, DWP_LD(full, m, b + off[t]), a[t]);
}

/* v [9][16] (first VL lanes) += lane sums over the output plane dy [h][w]
 * times tap t of the padded x (at off[t] + oh wp + ow, as in dwp_taps) */
static VTGT void QS_VN(dwp_grad)(float *v, const float *restrict dy,
                                 const float *restrict xp, int h, int w,
                                 int wp, const int *off)
{
    vf a[9];
    int o[9];
    for (int t = 0; t < 9; t++) {
        a[t] = V_LOAD(v + 16 * t);
        o[t] = off[t];
    }
    for (int oh = 0; oh < h; oh++) {
        const float *d = dy + (size_t)oh * w, *b = xp + (size_t)oh * wp;
        int ow = 0;
        for (; ow + VL <= w; ow += VL)
            QS_VN(dwp_grad_piece)(1, a, d + ow, b + ow, o, VL);
        if (ow < w)
            QS_VN(dwp_grad_piece)(0, a, d + ow, b + ow, o, w - ow);
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
    dwp_plane ps;
    dwp_geom(&ps, s);
    float *pb = malloc(sizeof(float) * ps.g.len);
    if (!pb)
        return 0;
    for (int i = 0; i < s->n; i++)
        for (int ch = c0; ch < c1; ch++) {
            size_t plane = (size_t)i * s->c + ch;
            qs_ck_pad_image(pb, a->x + plane * hw, &ps.s, &ps.g);
            QS_VN(dwp_taps9)(a->y + plane * ohw, s->wo, pb, s->ho, s->wo,
                             ps.g.wp, ps.off, a->weight + (size_t)ch * 9, 0);
            if (a->bn_sums) /* the plane just written, from cache */
                qs_bn_sums_plane(a->bn_sums + (size_t)ch * 3, a->y + plane * ohw,
                                 ohw, i == 0);
        }
    free(pb);
    return 1;
}

/* dx [h][w] += (acc 0: =) the input gradient of one plane of a 3x3 stride-2 pad-1
 * conv, from dy [ho][wo]. Padded input pixel (2 oh + ki, 2 ow + kj) lies
 * in phase plane (ki % 2, kj % 2) at (oh + ki / 2, ow + kj / 2)
 * (convk_int.h), so each phase plane is a gather of dy over its 4, 2, 2
 * or 1 taps, in tap order: dy copied into dq (one zero row above, one zero
 * column to the left, row stride wp + 1; its zero border is the caller's),
 * the phases computed into ph [4][hp][wp], then interleaved back into dx's
 * rows. */
static VTGT void QS_VN(dwp_dx_s2)(float *restrict dx, const float *dy,
                                  const qs_conv_shape *s, const dwp_plane *p,
                                  const float *wt, float *dq, float *ph,
                                  const int acc)
{
    const int wp = p->g.wp, hp = p->g.hp, wq = wp + 1;
    for (int r = 0; r < s->ho; r++)
        memcpy(dq + (size_t)(r + 1) * wq + 1, dy + (size_t)r * s->wo,
               sizeof(float) * s->wo);
    for (int pa = 0; pa < 2; pa++)
        for (int pb = 0; pb < 2; pb++) {
            int off[4], nt = 0;
            float w[4];
            for (int ki = pa; ki < 3; ki += 2)
                for (int kj = pb; kj < 3; kj += 2) {
                    off[nt] = (1 - ki / 2) * wq + (1 - kj / 2);
                    w[nt++] = wt[ki * 3 + kj];
                }
            float *out = ph + (size_t)(pa * 2 + pb) * p->g.plane;
            if (nt == 4)
                QS_VN(dwp_taps4)(out, wp, dq, hp, wp, wq, off, w, 0);
            else if (nt == 2)
                QS_VN(dwp_taps2)(out, wp, dq, hp, wp, wq, off, w, 0);
            else
                QS_VN(dwp_taps1)(out, wp, dq, hp, wp, wq, off, w, 0);
        }
    /* padded (ih + 1, iw + 1): phase row (ih + 1) % 2; even iw in phase
     * column 1 at iw / 2, odd iw in phase column 0 at (iw + 1) / 2 */
    for (int ih = 0; ih < s->h; ih++) {
        const float *p0 = ph + (size_t)((ih + 1) & 1) * 2 * p->g.plane +
                          (size_t)((ih + 1) >> 1) * wp;
        const float *p1 = p0 + p->g.plane;
        float *d = dx + (size_t)ih * s->w;
        int j = 0;
        if (acc) {
            for (; 2 * j + 1 < s->w; j++) {
                d[2 * j] += p1[j];
                d[2 * j + 1] += p0[j + 1];
            }
        } else {
            for (; 2 * j + 1 < s->w; j++) {
                d[2 * j] = p1[j];
                d[2 * j + 1] = p0[j + 1];
            }
        }
        if (2 * j < s->w)
            d[2 * j] = acc ? d[2 * j] + p1[j] : p1[j];
    }
}

/* dweight and dx (if any; += or, acc 0, =) of channels [c0, c1); images outer (channel-
 * outer strode a whole image between planes, DRAM- and TLB-bound at 8x8),
 * per-channel sums kept aside. 0 when out of memory. */
static VTGT int QS_VN(dwp_backward)(const dw_args *a, int c0, int c1)
{
    const qs_conv_shape *s = a->s;
    float *dx = a->dx;
    const int nch = c1 - c0, s2 = s->stride == 2;
    dwp_plane ps; /* a plane of x; at stride 1 also of dy (the same size) */
    dwp_geom(&ps, s);
    const size_t pl = ps.g.len;
    /* dy's copy: padded like x (stride 1), or dq then the phases (s2) */
    const size_t dql = QS_CK_ALIGN((size_t)(ps.g.hp + 1) * (ps.g.wp + 1));
    const size_t dl = s2 ? dql + 4 * ps.g.plane : pl;
    /* padded x and dy planes, then per channel: lane sums [9][16], double
     * sums [9], flipped kernel [9] */
    float *pb = malloc(sizeof(float) * (pl + dl + (size_t)nch * 153) +
                       sizeof(double) * (size_t)nch * 9);
    if (!pb)
        return 0;
    const size_t hw = (size_t)s->h * s->w, ohw = (size_t)s->ho * s->wo;
    float *dp = pb + pl, *v = dp + dl;
    double *g = (double *)(v + (size_t)nch * 144);
    float *wf = (float *)(g + (size_t)nch * 9);
    memset(v, 0, sizeof(float) * (size_t)nch * 144);
    memset(g, 0, sizeof(double) * (size_t)nch * 9);
    if (s2)
        memset(dp, 0, sizeof(float) * dql);
    /* dx at stride 1: dy correlated with the flipped kernel */
    for (int k = 0; k < nch; k++)
        for (int t = 0; t < 9; t++)
            wf[k * 9 + t] = a->weight[(size_t)(c0 + k) * 9 + 8 - t];
    for (int i = 0; i < s->n; i++) {
        for (int ch = c0; ch < c1; ch++) {
            size_t plane = (size_t)i * s->c + ch;
            qs_ck_pad_image(pb, a->x + plane * hw, &ps.s, &ps.g);
            QS_VN(dwp_grad)(v + (size_t)(ch - c0) * 144, a->dy + plane * ohw,
                            pb, s->ho, s->wo, ps.g.wp, ps.off);
            if (dx && s2) {
                QS_VN(dwp_dx_s2)(dx + plane * hw, a->dy + plane * ohw, s, &ps,
                                 a->weight + (size_t)ch * 9, dp, dp + dql,
                                 a->acc);
            } else if (dx) {
                qs_ck_pad_image(dp, a->dy + plane * ohw, &ps.s, &ps.g);
                QS_VN(dwp_taps9)(dx + plane * hw, s->w, dp, s->h, s->w,
                                 ps.g.wp, ps.off, wf + (size_t)(ch - c0) * 9,
                                 a->acc);
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
