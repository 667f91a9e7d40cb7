/* Weight-gradient kernel of conv2d and its per-image driver, written once
 * over the vector width (vec.h); convk_dw.c includes this file with QS_VL
 * 16 (AVX-512F) and 8 (AVX2 + FMA).
 *
 * Register blocking per width: a tile of mr rows of B by nv VL output
 * channels (nv <= 2) in nv mr registers, plus nv dy vectors and one
 * broadcast:
 *   AVX-512: mr <= 9 (one input channel's taps of a 3x3 kernel) x 32, 18
 *            of the 32 zmm;
 *   AVX2:    mr <= 6 x 16, 12 of the 16 ymm.
 * Every element of dW^T sums its images, then positions, in order (one
 * FMA chain per element from the thread's zeroed share), so both widths
 * give the same bits. */
#include "vec.h"

#undef MR
#define MR (VL == 16 ? 9 : 6)

/* acc [mr][ld] (nv VL columns) += sum over output rows [oh0, oh1), ow <
 * wo, of br[r][oh*wq + ow] * dt [(oh*wo + ow) * ld .. + nv VL] */
VINL void QS_VN(dwbody)(const int nv, const int mr, const float *const *br,
                        int wq, int oh0, int oh1, int wo, const float *dt,
                        float *acc, int ld)
{
    vf a0[MR], a1[MR];
    const float *b[MR];
#pragma GCC unroll 9
    for (int r = 0; r < MR; r++)
        if (r < mr) {
            a0[r] = V_LOAD(acc + (size_t)r * ld);
            if (nv == 2)
                a1[r] = V_LOAD(acc + (size_t)r * ld + VL);
            b[r] = br[r];
        }
    for (int oh = oh0; oh < oh1; oh++) {
        const float *d = dt + (size_t)oh * wo * ld;
        const size_t qb = (size_t)oh * wq;
        for (int ow = 0; ow < wo; ow++, d += ld) {
            const vf d0 = V_LOAD(d);
            const vf d1 = nv == 2 ? V_LOAD(d + VL) : d0;
#pragma GCC unroll 9
            for (int r = 0; r < MR; r++)
                if (r < mr) {
                    const vf bc = V_SET1(b[r][qb + ow]);
                    a0[r] = V_FMA(bc, d0, a0[r]);
                    if (nv == 2)
                        a1[r] = V_FMA(bc, d1, a1[r]);
                }
        }
    }
#pragma GCC unroll 9
    for (int r = 0; r < MR; r++)
        if (r < mr) {
            V_STORE(acc + (size_t)r * ld, a0[r]);
            if (nv == 2)
                V_STORE(acc + (size_t)r * ld + VL, a1[r]);
        }
}

#define DWDEF(NV, M)                                                        \
    static VTGT void QS_VN(dw##NV##_##M)(const float *const *br, int wq,    \
                                         int oh0, int oh1, int wo,          \
                                         const float *dt, float *acc,       \
                                         int ld)                            \
    {                                                                       \
        QS_VN(dwbody)(NV, M, br, wq, oh0, oh1, wo, dt, acc, ld);            \
    }
#define DWROW(NV) DWDEF(NV, 1) DWDEF(NV, 2) DWDEF(NV, 3) DWDEF(NV, 4) \
                  DWDEF(NV, 5) DWDEF(NV, 6)
DWROW(1) DWROW(2)
#if VL == 16
DWDEF(1, 7) DWDEF(1, 8) DWDEF(1, 9) DWDEF(2, 7) DWDEF(2, 8) DWDEF(2, 9)
static const dwfn QS_VN(dwtab)[3][MRMAX + 1] = {
    {NULL},
    {NULL, dw1_1_avx512, dw1_2_avx512, dw1_3_avx512, dw1_4_avx512,
     dw1_5_avx512, dw1_6_avx512, dw1_7_avx512, dw1_8_avx512, dw1_9_avx512},
    {NULL, dw2_1_avx512, dw2_2_avx512, dw2_3_avx512, dw2_4_avx512,
     dw2_5_avx512, dw2_6_avx512, dw2_7_avx512, dw2_8_avx512, dw2_9_avx512},
};
#else
static const dwfn QS_VN(dwtab)[3][MRMAX + 1] = {
    {NULL},
    {NULL, dw1_1_avx2, dw1_2_avx2, dw1_3_avx2, dw1_4_avx2, dw1_5_avx2,
     dw1_6_avx2},
    {NULL, dw2_1_avx2, dw2_2_avx2, dw2_3_avx2, dw2_4_avx2, dw2_5_avx2,
     dw2_6_avx2},
};
#endif
#undef DWROW
#undef DWDEF

/* dt [p][kpad] <- dy_n [k][p]^T, columns k .. kpad-1 zero; VL x VL
 * register blocks (the strided scalar stores this replaced cost 3-4% of a
 * step). kpad is a multiple of 16, so of VL. */
static VTGT void QS_VN(transpose_dy)(float *restrict dt,
                                     const float *restrict dy, int k, int p,
                                     int kpad)
{
    for (int c0 = 0; c0 < kpad; c0 += VL)
        for (int q0 = 0; q0 < p; q0 += VL) {
            const int nq = p - q0 < VL ? p - q0 : VL;
            const vtail m = V_TAIL(nq);
            vf r[VL];
            for (int i = 0; i < VL; i++) {
                const float *src = dy + (size_t)(c0 + i) * p + q0;
                r[i] = c0 + i >= k ? V_ZERO()
                       : nq == VL  ? V_LOAD(src) /* (AVX2 masks are slow) */
                                   : V_LOADT(m, src);
            }
            QS_VN(v_transpose)(r);
            for (int c = 0; c < nq; c++)
                V_STORE(dt + (size_t)(q0 + c) * kpad + c0, r[c]);
        }
}

/* images [i0, i1) on thread t (qs_par_fn) */
static void QS_VN(run_dwjob)(void *ctx, int t, int i0, int i1)
{
    const dwjob *j = ctx;
    const qs_conv_shape *s = j->s;
    const layout *l = &j->l;
    const int ckk = (int)qs_ck_ckk(s), p = s->ho * s->wo, kpad = l->kpad;
    const size_t xs = (size_t)s->c * s->h * s->w, ys = (size_t)s->k * p;
    float *part = dw_part(j, t);
    float *dt = part + QS_CK_ALIGN((size_t)ckk * kpad);
    float *bbuf = dt + QS_CK_ALIGN((size_t)p * kpad);
    const int rows = s->wo < QB ? QB / s->wo : 1;
    memset(part, 0, sizeof(float) * ckk * kpad);
    for (int i = i0; i < i1; i++) {
        const float *xi = j->x + i * xs, *b = bbuf;
        QS_VN(transpose_dy)(dt, j->dy + i * ys, s->k, p, kpad);
        if (l->bimg)
            qs_ck_pad_image(bbuf, xi, s, &l->g);
        else
            b = xi;
        for (int kb = 0; kb < s->k; kb += 2 * VL) {
            const int nv = s->k - kb > VL ? 2 : 1;
            for (int oh0 = 0; oh0 < s->ho; oh0 += rows) {
                int oh1 = oh0 + rows < s->ho ? oh0 + rows : s->ho;
                for (int kk = 0; kk < ckk; kk += MR) {
                    const int mr = ckk - kk < MR ? ckk - kk : MR;
                    const float *br[MR];
                    for (int r = 0; r < mr; r++)
                        br[r] = b + j->koff[kk + r];
                    QS_VN(dwtab)[nv][mr](br, l->g.wp, oh0, oh1, s->wo,
                                         dt + kb,
                                         part + (size_t)kk * kpad + kb, kpad);
                }
            }
        }
    }
}
