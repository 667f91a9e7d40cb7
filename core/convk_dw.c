/* Weight gradient of conv2d on AVX-512 (see convk.h).
 *
 * dW^T [ckk][k] = sum_n sum_q B_n [ckk][q] dy_n^T [q][k], B the im2col of
 * x_n: an outer-product kernel like the forward one. A tile of 9 rows of B
 * (one input channel's taps of a 3x3 kernel) by 32 output channels lives
 * in 18 zmm registers; each position q adds one broadcast element of each
 * B row times the 32 channels of dy at q (dy transposed once per image in
 * 16 x 16 register blocks, k padded to a multiple of 16 with zeros). Every
 * sum runs over images, then positions, in order, with no horizontal
 * reductions.
 *
 * B's rows are runs of the copy of the image (convk_int.h: padded, or
 * split into phase planes for strides > 1) and only valid positions are
 * visited, so nothing is expanded ninefold. Images are split over threads,
 * each summing into a private dW^T; those are added in thread order. */
#include "convk.h"

#include "convk_int.h"
#include "par.h"

#include <immintrin.h>
#include <string.h>

#define TGT QS_CK_TGT
#define MR 9   /* B rows per tile: the taps of one channel of a 3x3 conv */
#define QB 128 /* positions per block: its dy^T slice stays in L1 */

typedef struct {
    qs_ck_pad g;
    size_t bimg; /* floats of the copy of one image (0: x itself) */
    int kpad;    /* dy^T row: k rounded up to 16 */
} layout;

static void layout_of(layout *l, const qs_conv_shape *s)
{
    memset(l, 0, sizeof(*l));
    l->kpad = (s->k + 15) & ~15;
    qs_ck_pad_init(&l->g, s);
    l->bimg = l->g.inplace ? 0 : l->g.len;
}

/* per thread: dW^T [ckk][kpad], dy^T [p][kpad], B of one image */
static size_t thread_floats(const qs_conv_shape *s, const layout *l)
{
    return QS_CK_ALIGN(qs_ck_ckk(s) * l->kpad) +
           QS_CK_ALIGN((size_t)s->ho * s->wo * l->kpad) +
           QS_CK_ALIGN(l->bimg);
}

size_t qs_convk_dw_scratch(const qs_conv_shape *s)
{
    layout l;
    layout_of(&l, s);
    return QS_CK_ALIGN(qs_ck_ckk(s)) + (size_t)QS_PAR_MAXT * thread_floats(s, &l);
}

/* acc [mr][ld] (16 nv columns) += sum over output rows [oh0, oh1), ow <
 * wo, of br[r][oh*wq + ow] * dt [(oh*wo + ow) * ld .. + 16 nv] */
static inline __attribute__((always_inline)) TGT void
dwbody(const int nv, const int mr, const float *const *br, int wq, int oh0,
       int oh1, int wo, const float *dt, float *acc, int ld)
{
    __m512 a0[MR], a1[MR];
    const float *b[MR];
#pragma GCC unroll 9
    for (int r = 0; r < MR; r++)
        if (r < mr) {
            a0[r] = _mm512_loadu_ps(acc + (size_t)r * ld);
            if (nv == 2)
                a1[r] = _mm512_loadu_ps(acc + (size_t)r * ld + 16);
            b[r] = br[r];
        }
    for (int oh = oh0; oh < oh1; oh++) {
        const float *d = dt + (size_t)oh * wo * ld;
        const size_t qb = (size_t)oh * wq;
        for (int ow = 0; ow < wo; ow++, d += ld) {
            const __m512 d0 = _mm512_loadu_ps(d);
            const __m512 d1 = nv == 2 ? _mm512_loadu_ps(d + 16) : d0;
#pragma GCC unroll 9
            for (int r = 0; r < MR; r++)
                if (r < mr) {
                    const __m512 bc = _mm512_set1_ps(b[r][qb + ow]);
                    a0[r] = _mm512_fmadd_ps(bc, d0, a0[r]);
                    if (nv == 2)
                        a1[r] = _mm512_fmadd_ps(bc, d1, a1[r]);
                }
        }
    }
#pragma GCC unroll 9
    for (int r = 0; r < MR; r++)
        if (r < mr) {
            _mm512_storeu_ps(acc + (size_t)r * ld, a0[r]);
            if (nv == 2)
                _mm512_storeu_ps(acc + (size_t)r * ld + 16, a1[r]);
        }
}

typedef void (*dwfn)(const float *const *, int, int, int, int, const float *,
                     float *, int);

#define DWDEF(NV, M)                                                        \
    static TGT void dw##NV##_##M(const float *const *br, int wq, int oh0,   \
                                 int oh1, int wo, const float *dt,          \
                                 float *acc, int ld)                        \
    {                                                                       \
        dwbody(NV, M, br, wq, oh0, oh1, wo, dt, acc, ld);                   \
    }
#define DWROW(NV) DWDEF(NV, 1) DWDEF(NV, 2) DWDEF(NV, 3) DWDEF(NV, 4) \
                  DWDEF(NV, 5) DWDEF(NV, 6) DWDEF(NV, 7) DWDEF(NV, 8) \
                  DWDEF(NV, 9)
DWROW(1) DWROW(2)

static const dwfn dwtab[3][MR + 1] = {
    {NULL},
    {NULL, dw1_1, dw1_2, dw1_3, dw1_4, dw1_5, dw1_6, dw1_7, dw1_8, dw1_9},
    {NULL, dw2_1, dw2_2, dw2_3, dw2_4, dw2_5, dw2_6, dw2_7, dw2_8, dw2_9},
};

typedef struct {
    float *scratch; /* per thread: thread_floats */
    const float *dy, *x;
    const int *koff; /* B row kk at B + koff[kk] */
    const qs_conv_shape *s;
    layout l;
} dwjob;

static float *dw_part(const dwjob *j, int t)
{
    return j->scratch + (size_t)t * thread_floats(j->s, &j->l);
}

/* r [16][16] transposed in registers: four shuffle stages. */
static inline __attribute__((always_inline)) TGT void tr16(__m512 r[16])
{
    __m512 t[16], u[16];
    for (int j = 0; j < 8; j++) {
        t[2 * j] = _mm512_unpacklo_ps(r[2 * j], r[2 * j + 1]);
        t[2 * j + 1] = _mm512_unpackhi_ps(r[2 * j], r[2 * j + 1]);
    }
    /* lane l of u[4j + m]: rows 4j .. 4j+3 of column 4l + m */
    for (int j = 0; j < 4; j++) {
        u[4 * j] = _mm512_shuffle_ps(t[4 * j], t[4 * j + 2], 0x44);
        u[4 * j + 1] = _mm512_shuffle_ps(t[4 * j], t[4 * j + 2], 0xEE);
        u[4 * j + 2] = _mm512_shuffle_ps(t[4 * j + 1], t[4 * j + 3], 0x44);
        u[4 * j + 3] = _mm512_shuffle_ps(t[4 * j + 1], t[4 * j + 3], 0xEE);
    }
    for (int m = 0; m < 4; m++) {
        t[m] = _mm512_shuffle_f32x4(u[m], u[4 + m], 0x88);
        t[4 + m] = _mm512_shuffle_f32x4(u[m], u[4 + m], 0xDD);
        t[8 + m] = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0x88);
        t[12 + m] = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0xDD);
    }
    for (int m = 0; m < 4; m++) {
        r[m] = _mm512_shuffle_f32x4(t[m], t[8 + m], 0x88);
        r[4 + m] = _mm512_shuffle_f32x4(t[4 + m], t[12 + m], 0x88);
        r[8 + m] = _mm512_shuffle_f32x4(t[m], t[8 + m], 0xDD);
        r[12 + m] = _mm512_shuffle_f32x4(t[4 + m], t[12 + m], 0xDD);
    }
}

/* dt [p][kpad] <- dy_n [k][p]^T, columns k .. kpad-1 zero; 16 x 16
 * blocks (the strided scalar stores this replaced cost 3-4% of a step) */
static TGT void transpose_dy(float *restrict dt, const float *restrict dy,
                             int k, int p, int kpad)
{
    for (int c0 = 0; c0 < kpad; c0 += 16)
        for (int q0 = 0; q0 < p; q0 += 16) {
            const int nq = p - q0 < 16 ? p - q0 : 16;
            const __mmask16 m = (__mmask16)((1u << nq) - 1);
            __m512 r[16];
            for (int i = 0; i < 16; i++)
                r[i] = c0 + i < k ? _mm512_maskz_loadu_ps(
                                        m, dy + (size_t)(c0 + i) * p + q0)
                                  : _mm512_setzero_ps();
            tr16(r);
            for (int c = 0; c < nq; c++)
                _mm512_storeu_ps(dt + (size_t)(q0 + c) * kpad + c0, r[c]);
        }
}

/* images [i0, i1) on thread t (qs_par_fn) */
static void run_dwjob(void *ctx, int t, int i0, int i1)
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
        transpose_dy(dt, j->dy + i * ys, s->k, p, kpad);
        if (l->bimg)
            qs_ck_pad_image(bbuf, xi, s, &l->g);
        else
            b = xi;
        for (int kb = 0; kb < s->k; kb += 32) {
            const int nv = s->k - kb > 16 ? 2 : 1;
            for (int oh0 = 0; oh0 < s->ho; oh0 += rows) {
                int oh1 = oh0 + rows < s->ho ? oh0 + rows : s->ho;
                for (int kk = 0; kk < ckk; kk += MR) {
                    const int mr = ckk - kk < MR ? ckk - kk : MR;
                    const float *br[MR];
                    for (int r = 0; r < mr; r++)
                        br[r] = b + j->koff[kk + r];
                    dwtab[nv][mr](br, l->g.wp, oh0, oh1, s->wo, dt + kb,
                                  part + (size_t)kk * kpad + kb, kpad);
                }
            }
        }
    }
}

void qs_convk_dweight(float *dweight, const float *dy, const float *x,
                      const qs_conv_shape *s, float *scratch)
{
    const size_t ckk = qs_ck_ckk(s);
    int *koff = (int *)scratch;
    dwjob j = {.scratch = scratch + QS_CK_ALIGN(ckk), .dy = dy, .x = x,
               .koff = koff, .s = s};
    layout_of(&j.l, s);
    qs_ck_tap_offsets(koff, s, &j.l.g);
    int nt = qs_par_for(qs_par_threads(), s->n, run_dwjob, &j);
    /* shares in thread order */
    for (int t = 0; t < nt; t++) {
        const float *part = dw_part(&j, t);
        for (int k = 0; k < s->k; k++)
            for (size_t kk = 0; kk < ckk; kk++)
                dweight[k * ckk + kk] += part[kk * j.l.kpad + k];
    }
}
