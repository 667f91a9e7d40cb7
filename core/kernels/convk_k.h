/* Forward / input-gradient micro-kernel and its per-image driver, written
 * once over the vector width (vec.h). convk.c includes this file twice,
 * with QS_VL 16 (AVX-512F) and 8 (AVX2 + FMA); everything here is named by
 * QS_VN, the shared geometry (pieces, runs, panels, job) is in convk.c.
 *
 * Register blocking per width: a tile of mr x NR outputs, NR = 2 VL
 * columns, in 2 mr registers, plus two B vectors and one broadcast:
 *   AVX-512: mr <= 12, 12 x 32 in 24 of the 32 zmm;
 *   AVX2:    mr <= 6,   6 x 16 in 12 of the 16 ymm.
 * Each output element is one FMA chain over kk = 0 .. ckk-1 from zero, so
 * both widths give the same bits (only the tile shape differs). */
#include "vec.h"

#undef NR
#undef MR
#define NR (2 * VL)
#define MR (VL == 16 ? 12 : 6)

/* tile [mr][NR] = a [kd][mr] @ rows of b. Row kk: VL floats at b +
 * koff[kk] and VL at + d[0] (halves); or, quarters (rows of VL/2
 * outputs), VL/2 floats at b + koff[kk] and at + d[0], d[1], d[2]. */
VINL void QS_VN(kbody)(const int mr, const int quarters, int kd,
                       const float *restrict a, const float *b,
                       const int *restrict koff, const ptrdiff_t *d,
                       float *restrict tile)
{
    vf x0[MR], x1[MR];
    const ptrdiff_t d0 = d[0], d1 = quarters ? d[1] : 0,
                    d2 = quarters ? d[2] : 0;
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++)
        if (r < mr) {
            x0[r] = V_ZERO();
            x1[r] = V_ZERO();
        }
    for (int k = 0; k < kd; k++) {
        const float *bk = b + koff[k];
        /* rows of a 1x1 conv's copy are a plane apart, one cache line
         * each, and come from L3 (192 -> 32 channels at 32 x 32: 50 -> 54
         * GFLOP/s) */
        if (k + 8 < kd)
            __builtin_prefetch(b + koff[k + 8]);
        vf b0, b1;
        if (quarters) {
            b0 = V_JOIN(bk, bk + d0);
            b1 = V_JOIN(bk + d1, bk + d2);
        } else {
            b0 = V_LOAD(bk);
            b1 = V_LOAD(bk + d0);
        }
        const float *ak = a + (size_t)k * mr;
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++)
            if (r < mr) {
                const vf av = V_SET1(ak[r]);
                x0[r] = V_FMA(av, b0, x0[r]);
                x1[r] = V_FMA(av, b1, x1[r]);
            }
    }
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++)
        if (r < mr) {
            V_STORE(tile + r * NR, x0[r]);
            V_STORE(tile + r * NR + VL, x1[r]);
        }
}

#define KDEF(MRV)                                                           \
    static VTGT void QS_VN(k##MRV)(int kd, const float *a, const float *b,  \
                                   const int *koff, const ptrdiff_t *d,     \
                                   float *tile)                             \
    {                                                                       \
        QS_VN(kbody)(MRV, 0, kd, a, b, koff, d, tile);                      \
    }                                                                       \
    static VTGT void QS_VN(kq##MRV)(int kd, const float *a, const float *b, \
                                    const int *koff, const ptrdiff_t *d,    \
                                    float *tile)                            \
    {                                                                       \
        QS_VN(kbody)(MRV, 1, kd, a, b, koff, d, tile);                      \
    }
KDEF(1) KDEF(2) KDEF(3) KDEF(4) KDEF(5) KDEF(6)
#if VL == 16
KDEF(7) KDEF(8) KDEF(9) KDEF(10) KDEF(11) KDEF(12)
static const kfn QS_VN(ktab)[2][MRMAX + 1] = {
    {NULL, k1_avx512, k2_avx512, k3_avx512, k4_avx512, k5_avx512, k6_avx512,
     k7_avx512, k8_avx512, k9_avx512, k10_avx512, k11_avx512, k12_avx512},
    {NULL, kq1_avx512, kq2_avx512, kq3_avx512, kq4_avx512, kq5_avx512,
     kq6_avx512, kq7_avx512, kq8_avx512, kq9_avx512, kq10_avx512,
     kq11_avx512, kq12_avx512},
};
#else
static const kfn QS_VN(ktab)[2][MRMAX + 1] = {
    {NULL, k1_avx2, k2_avx2, k3_avx2, k4_avx2, k5_avx2, k6_avx2},
    {NULL, kq1_avx2, kq2_avx2, kq3_avx2, kq4_avx2, kq5_avx2, kq6_avx2},
};
#endif
#undef KDEF

/* tile runs -> Y rows (runs of at most VL: one vector each). Full runs
 * take plain loads and stores: AVX2's masked store (vmaskmovps) is slow
 * on AMD cores, and rows of 8, 16 or 32 outputs are all full runs. */
static VTGT void QS_VN(store_tile)(float *y, size_t p, const float *tile,
                                   int mr, const runs *rs, int acc)
{
    for (int i = 0; i < rs->n; i++) {
        const run *u = &rs->r[i];
        if (u->len == VL) {
            for (int r = 0; r < mr; r++) {
                float *yr = y + (size_t)r * p + u->yo;
                vf v = V_LOAD(tile + r * NR + u->ts);
                if (acc)
                    v = V_ADD(v, V_LOAD(yr));
                V_STORE(yr, v);
            }
            continue;
        }
        const vtail m = V_TAIL(u->len);
        for (int r = 0; r < mr; r++) {
            float *yr = y + (size_t)r * p + u->yo;
            vf v = V_LOADT(m, tile + r * NR + u->ts);
            if (acc)
                v = V_ADD(v, V_LOADT(m, yr));
            V_STORET(yr, m, v);
        }
    }
}

/* Y rows of every panel for one NR-column block of B */
static VTGT void QS_VN(run_panels)(const job *j, float *yi, const float *b,
                                   int quarters, const ptrdiff_t *d,
                                   const runs *rs, float *tile)
{
    const qs_conv_shape *s = j->s;
    const int ckk = (int)qs_ck_ckk(s);
    const size_t p = (size_t)s->ho * s->wo;
    qs_ck_panels pn = qs_ck_panels_of(s->k, MR);
    for (int q = 0; q < pn.npan; q++) {
        int k0 = qs_ck_panel_k0(&pn, q), mr = pn.base + (q < pn.extra);
        QS_VN(ktab)[quarters][mr](ckk, j->ap + (size_t)k0 * ckk, b, j->koff,
                                  d, tile);
        QS_VN(store_tile)(yi + (size_t)k0 * p, p, tile, mr, rs, j->acc);
    }
}

/* one image, b its copy (convk_int.h): blocks of NR columns, each 2 pieces
 * of VL or 4 of VL/2 (piece_width) */
static VTGT void QS_VN(run_direct)(const job *j, float *yi, const float *b,
                                   float *tile)
{
    const qs_conv_shape *s = j->s;
    const int wp = j->g.wp, pw = piece_width(s, VL);
    const int len = pw ? pw : VL, per = NR / len;
    const int np = piece_count(s, wp, pw, VL);
    for (int h = 0; h < np; h += per) {
        runs rs = {0};
        int q[4];
        for (int u = 0; u < per; u++) {
            /* past the last piece: read the previous one again, store none */
            q[u] = h + u < np ? piece_q0(s, wp, pw, h + u, VL) : q[u - 1];
            if (h + u < np)
                piece_runs(&rs, q[u], u * len, len, s, wp);
        }
        const ptrdiff_t d[3] = {q[1] - q[0], per == 4 ? q[2] - q[0] : 0,
                                per == 4 ? q[3] - q[0] : 0};
        QS_VN(run_panels)(j, yi, b + q[0], per == 4, d, &rs, tile);
    }
}

/* images [i0, i1) on thread t (qs_par_fn) */
static void QS_VN(run_job)(void *ctx, int t, int i0, int i1)
{
    const job *j = ctx;
    const qs_conv_shape *s = j->s;
    const int p = s->ho * s->wo;
    const size_t xs = (size_t)s->c * s->h * s->w, ys = (size_t)s->k * p;
    float *buf = j->tbuf + (size_t)t * thread_floats(s);
    float *tile = buf + j->g.len; /* thread_floats: the copy, then a tile */
    for (int i = i0; i < i1; i++) {
        const float *xi = j->x + i * xs;
        float *yi = j->orig ? j->dcol + (size_t)t * QS_CK_ALIGN(ys)
                            : j->y + i * ys;
        if (!j->inplace)
            qs_ck_pad_image(buf, xi, s, &j->g);
        QS_VN(run_direct)(j, yi, j->inplace ? xi : buf, tile);
        if (j->orig)
            qs_conv_col2im_add(j->dx + i * ((size_t)j->orig->c * j->orig->h *
                                            j->orig->w),
                               yi, j->orig);
    }
}
