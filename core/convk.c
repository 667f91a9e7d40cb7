/* Direct conv2d GEMM on AVX-512 (see convk.h).
 *
 * For one image, Y [k, p] = A [k, ckk] @ B [ckk, p] with B the im2col of the
 * image. B is built 32 output positions at a time straight into a panel
 * [ckk][32] (L1/L2-resident), and A is packed once per call into row panels
 * of mr <= 12 output channels stored [ckk][mr]. The micro-kernel keeps an
 * mr x 32 tile of Y in 2 mr zmm registers and runs the whole ckk reduction
 * in order (one FMA chain per output element), then writes (or adds) the
 * tile to Y [k, p] rows, which are contiguous in NCHW. Row panels are sized
 * evenly (31 channels -> 11 + 10 + 10) so no lanes are wasted on padding. */
#include "convk.h"

#include "conv_util.h"
#include "par.h"

#include "gemm.h"

#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#define NR 32
#define MRMAX 12
#define KWMAX 16
#define TGT __attribute__((target("avx512f")))

int qs_convk_available(void)
{
    static int have = -1;
    if (have < 0) {
        __builtin_cpu_init();
        /* QSWEEP_NO_AVX512 forces the portable path (comparisons, tests) */
        have = __builtin_cpu_supports("avx512f") && !getenv("QSWEEP_NO_AVX512");
    }
    return have && qs_gemm_get_backend() == QS_GEMM_BLAS;
}


static size_t ckk_of(const qs_conv_shape *s)
{
    return (size_t)s->c * s->kh * s->kw;
}

size_t qs_convk_scratch(const qs_conv_shape *s)
{
    size_t ckk = ckk_of(s);
    size_t a = ((size_t)s->k * ckk + 15) & ~(size_t)15;
    return a + (size_t)QS_PAR_MAXT * ckk * NR;
}

/* ---- micro-kernel: c [mr rows, ldc] (+)= a [kd][mr] @ b [kd][32] ------- */

static inline __attribute__((always_inline)) TGT void
kbody(const int mr, int kd, const float *restrict a, const float *restrict b,
      float *c, size_t ldc, __mmask16 m0, __mmask16 m1, int acc)
{
    __m512 x0[MRMAX], x1[MRMAX];
#pragma GCC unroll 12
    for (int r = 0; r < MRMAX; r++)
        if (r < mr) {
            x0[r] = _mm512_setzero_ps();
            x1[r] = _mm512_setzero_ps();
        }
    for (int k = 0; k < kd; k++) {
        const __m512 b0 = _mm512_loadu_ps(b + (size_t)k * NR);
        const __m512 b1 = _mm512_loadu_ps(b + (size_t)k * NR + 16);
        const float *ak = a + (size_t)k * mr;
#pragma GCC unroll 12
        for (int r = 0; r < MRMAX; r++)
            if (r < mr) {
                const __m512 av = _mm512_set1_ps(ak[r]);
                x0[r] = _mm512_fmadd_ps(av, b0, x0[r]);
                x1[r] = _mm512_fmadd_ps(av, b1, x1[r]);
            }
    }
#pragma GCC unroll 12
    for (int r = 0; r < MRMAX; r++)
        if (r < mr) {
            float *cr = c + (size_t)r * ldc;
            __m512 v0 = x0[r], v1 = x1[r];
            if (acc) {
                v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, cr), v0);
                v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, cr + 16), v1);
            }
            _mm512_mask_storeu_ps(cr, m0, v0);
            _mm512_mask_storeu_ps(cr + 16, m1, v1);
        }
}

typedef void (*kfn)(int, const float *, const float *, float *, size_t,
                    __mmask16, __mmask16, int);

#define KDEF(MR)                                                             \
    static TGT void k##MR(int kd, const float *a, const float *b, float *c,  \
                          size_t ldc, __mmask16 m0, __mmask16 m1, int acc)   \
    {                                                                        \
        kbody(MR, kd, a, b, c, ldc, m0, m1, acc);                            \
    }
KDEF(1) KDEF(2) KDEF(3) KDEF(4) KDEF(5) KDEF(6)
KDEF(7) KDEF(8) KDEF(9) KDEF(10) KDEF(11) KDEF(12)

static const kfn ktab[MRMAX + 1] = {NULL, k1, k2, k3, k4,  k5,  k6,
                                    k7,   k8, k9, k10, k11, k12};

/* ---- packing ------------------------------------------------------------- */

/* Row panels: npan panels of k rows, the first `extra` one row taller. */
typedef struct {
    int npan, base, extra;
} panels;

static panels panels_of(int k)
{
    panels p;
    p.npan = (k + MRMAX - 1) / MRMAX;
    p.base = k / p.npan;
    p.extra = k % p.npan;
    return p;
}

static int panel_k0(const panels *p, int j)
{
    return j * p->base + (j < p->extra ? j : p->extra);
}

/* ap: panel j (rows k0 .. k0+mr-1) at ap + k0*ckk, stored [ckk][mr]. */
static void pack_a(float *restrict ap, const float *restrict w,
                   const qs_conv_shape *s, int flip)
{
    const size_t ckk = ckk_of(s);
    const int khw = s->kh * s->kw;
    panels pn = panels_of(s->k);
    for (int j = 0; j < pn.npan; j++) {
        int k0 = panel_k0(&pn, j), mr = pn.base + (j < pn.extra);
        float *pa = ap + (size_t)k0 * ckk;
        for (int r = 0; r < mr; r++) {
            int row = k0 + r;
            if (!flip) {
                const float *wr = w + (size_t)row * ckk;
                for (size_t kk = 0; kk < ckk; kk++)
                    pa[kk * mr + r] = wr[kk];
            } else {
                /* w [s->c][s->k][kh][kw]; tap (a, b) reads (kh-1-a, kw-1-b) */
                for (int ci = 0; ci < s->c; ci++) {
                    const float *wc = w + ((size_t)ci * s->k + row) * khw;
                    for (int t = 0; t < khw; t++)
                        pa[((size_t)ci * khw + t) * mr + r] = wc[khw - 1 - t];
                }
            }
        }
    }
}


/* bp [ckk][32] = columns p0 .. p0+np-1 of the im2col of x_n (rest zero). */
static void pack_b(float *restrict bp, const float *restrict x,
                   const qs_conv_shape *s, int p0, int np)
{
    const int wo = s->wo, st = s->stride, pad = s->pad;
    const size_t hw = (size_t)s->h * s->w;
    int lo[KWMAX], hi[KWMAX];
    for (int kj = 0; kj < s->kw; kj++)
        qs_conv_valid_range(&lo[kj], &hi[kj], kj - pad, st, s->w, wo);
    float *dst = bp;
    for (int ci = 0; ci < s->c; ci++) {
        const float *xc = x + ci * hw;
        for (int ki = 0; ki < s->kh; ki++)
            for (int kj = 0; kj < s->kw; kj++) {
                float *d = dst;
                int p = p0;
                while (p < p0 + np) {
                    int oh = p / wo, ow = p - oh * wo;
                    int seg = wo - ow < p0 + np - p ? wo - ow : p0 + np - p;
                    int ih = oh * st - pad + ki;
                    int e = ow + seg;
                    if (ih < 0 || ih >= s->h) {
                        memset(d, 0, sizeof(float) * seg);
                    } else {
                        const float *src = xc + (size_t)ih * s->w - pad + kj;
                        int a = lo[kj] > ow ? lo[kj] : ow;
                        int b = hi[kj] < e ? hi[kj] : e;
                        if (b < a)
                            b = a;
                        for (int o = ow; o < a; o++)
                            d[o - ow] = 0.0f;
                        if (st == 1)
                            memcpy(d + (a - ow), src + a,
                                   sizeof(float) * (b - a));
                        else
                            for (int o = a; o < b; o++)
                                d[o - ow] = src[(size_t)o * st];
                        for (int o = b; o < e; o++)
                            d[o - ow] = 0.0f;
                    }
                    d += seg;
                    p += seg;
                }
                for (; d < dst + NR; d++)
                    *d = 0.0f;
                dst += NR;
            }
    }
}

/* ---- driver ---------------------------------------------------------------- */

typedef struct {
    float *y;
    const float *x, *ap;
    const qs_conv_shape *s;
    int acc;
    float *bp;   /* QS_PAR_MAXT panels of [ckk][NR], one per thread */
} job;

/* images [i0, i1) on thread t (qs_par_fn) */
static void run_job(void *ctx, int t, int i0, int i1)
{
    const job *j = ctx;
    const qs_conv_shape *s = j->s;
    const int ckk = (int)ckk_of(s), p = s->ho * s->wo;
    const size_t xs = (size_t)s->c * s->h * s->w, ys = (size_t)s->k * p;
    float *bp = j->bp + (size_t)t * ckk * NR;
    panels pn = panels_of(s->k);
    for (int i = i0; i < i1; i++) {
        const float *xi = j->x + i * xs;
        float *yi = j->y + i * ys;
        for (int p0 = 0; p0 < p; p0 += NR) {
            int np = p - p0 < NR ? p - p0 : NR;
            pack_b(bp, xi, s, p0, np);
            __mmask16 m0 = np >= 16 ? 0xFFFF : (__mmask16)((1u << np) - 1);
            __mmask16 m1 = np >= 32   ? 0xFFFF
                           : np > 16 ? (__mmask16)((1u << (np - 16)) - 1)
                                     : 0;
            for (int q = 0; q < pn.npan; q++) {
                int k0 = panel_k0(&pn, q), mr = pn.base + (q < pn.extra);
                ktab[mr](ckk, j->ap + (size_t)k0 * ckk, bp,
                         yi + (size_t)k0 * p + p0, (size_t)p, m0, m1, j->acc);
            }
        }
    }
}

void qs_convk_conv(float *y, const float *x, const float *w,
                   const qs_conv_shape *s, int flip, int accumulate,
                   float *scratch)
{
    const size_t ckk = ckk_of(s);
    float *ap = scratch;
    float *bp = scratch + (((size_t)s->k * ckk + 15) & ~(size_t)15);
    pack_a(ap, w, s, flip);
    job j = {y, x, ap, s, accumulate, bp};
    qs_par_for(qs_par_threads(), s->n, run_job, &j);
}

/* ---- weight gradient ------------------------------------------------------
 * dW [k][ckk] = sum_n sum_p dy_n [k][p] col_n [ckk][p]: a dot-product
 * kernel over p, both operands contiguous rows (dy as stored, col from a
 * plain im2col of a chunk of images), so nothing is transposed or packed.
 * A 4 x 6 tile of dW keeps 24 vector partial sums over every p of every
 * image of the chunk, then reduces each once (fixed order). */

#define DW_BUDGET ((size_t)1 << 19) /* floats of im2col per chunk */

static int dw_chunk(const qs_conv_shape *s)
{
    size_t per = ckk_of(s) * s->ho * s->wo;
    size_t c = DW_BUDGET / per;
    if (c < 1)
        c = 1;
    if (c > (size_t)s->n && s->n > 0)
        c = (size_t)s->n;
    return (int)c;
}

static size_t dw_thread_floats(const qs_conv_shape *s)
{
    size_t col = ckk_of(s) * s->ho * s->wo * (size_t)dw_chunk(s);
    size_t part = (size_t)s->k * ckk_of(s);
    return ((col + 15) & ~(size_t)15) + ((part + 15) & ~(size_t)15);
}

size_t qs_convk_dw_scratch(const qs_conv_shape *s)
{
    return (size_t)QS_PAR_MAXT * dw_thread_floats(s);
}


/* c [mi][ldc] += sum_t sum_q a_t [i][q] b_t [j][q], q < p, t < nimg;
 * row i of image t: a + t*aimg + i*p (same for b with bimg). */
static inline __attribute__((always_inline)) TGT void
ntbody(const int mi, const int nj, const float *a, size_t aimg,
       const float *b, size_t bimg, int nimg, int p, float *c, size_t ldc)
{
    __m512 acc[4][6];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
#pragma GCC unroll 6
        for (int j = 0; j < 6; j++)
            if (i < mi && j < nj)
                acc[i][j] = _mm512_setzero_ps();
    const int pv = p & ~15;
    const __mmask16 mt = (__mmask16)((1u << (p - pv)) - 1);
    for (int t = 0; t < nimg; t++) {
        const float *at = a + t * aimg, *bt = b + t * bimg;
        for (int q = 0; q < pv; q += 16) {
            __m512 av[4], bv[6];
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++)
                if (i < mi)
                    av[i] = _mm512_loadu_ps(at + (size_t)i * p + q);
#pragma GCC unroll 6
            for (int j = 0; j < 6; j++)
                if (j < nj)
                    bv[j] = _mm512_loadu_ps(bt + (size_t)j * p + q);
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++)
#pragma GCC unroll 6
                for (int j = 0; j < 6; j++)
                    if (i < mi && j < nj)
                        acc[i][j] = _mm512_fmadd_ps(av[i], bv[j], acc[i][j]);
        }
        if (pv < p) {
            __m512 av[4], bv[6];
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++)
                if (i < mi)
                    av[i] = _mm512_maskz_loadu_ps(mt, at + (size_t)i * p + pv);
#pragma GCC unroll 6
            for (int j = 0; j < 6; j++)
                if (j < nj)
                    bv[j] = _mm512_maskz_loadu_ps(mt, bt + (size_t)j * p + pv);
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++)
#pragma GCC unroll 6
                for (int j = 0; j < 6; j++)
                    if (i < mi && j < nj)
                        acc[i][j] = _mm512_fmadd_ps(av[i], bv[j], acc[i][j]);
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
#pragma GCC unroll 6
        for (int j = 0; j < 6; j++)
            if (i < mi && j < nj)
                c[(size_t)i * ldc + j] += _mm512_reduce_add_ps(acc[i][j]);
}

typedef void (*ntfn)(const float *, size_t, const float *, size_t, int, int,
                     float *, size_t);

#define NTDEF(MI, NJ)                                                       \
    static TGT void nt##MI##NJ(const float *a, size_t aimg, const float *b, \
                               size_t bimg, int nimg, int p, float *c,      \
                               size_t ldc)                                  \
    {                                                                       \
        ntbody(MI, NJ, a, aimg, b, bimg, nimg, p, c, ldc);                  \
    }
#define NTROW(MI) NTDEF(MI, 1) NTDEF(MI, 2) NTDEF(MI, 3) NTDEF(MI, 4) \
                  NTDEF(MI, 5) NTDEF(MI, 6)
NTROW(1) NTROW(2) NTROW(3) NTROW(4)

static const ntfn nttab[5][7] = {
    {NULL},
    {NULL, nt11, nt12, nt13, nt14, nt15, nt16},
    {NULL, nt21, nt22, nt23, nt24, nt25, nt26},
    {NULL, nt31, nt32, nt33, nt34, nt35, nt36},
    {NULL, nt41, nt42, nt43, nt44, nt45, nt46},
};

typedef struct {
    float *scratch;       /* per thread: part [k][ckk] (zeroed here), then a
                             chunk of im2col */
    const float *dy, *x;
    const qs_conv_shape *s;
} dwjob;

static float *dw_part(const dwjob *j, int t)
{
    return j->scratch + (size_t)t * dw_thread_floats(j->s);
}

/* images [i0, i1) on thread t (qs_par_fn) */
static void run_dwjob(void *ctx, int t, int i0, int i1)
{
    const dwjob *j = ctx;
    const qs_conv_shape *s = j->s;
    const size_t ckk = ckk_of(s);
    const int p = s->ho * s->wo, chunk = dw_chunk(s);
    const size_t xs = (size_t)s->c * s->h * s->w, ys = (size_t)s->k * p;
    const size_t cs = ckk * p;
    const size_t len = (size_t)s->k * ckk;
    float *part = dw_part(j, t), *colb = part + ((len + 15) & ~(size_t)15);
    memset(part, 0, sizeof(float) * len);
    for (int i = i0; i < i1; i += chunk) {
        int nimg = i1 - i < chunk ? i1 - i : chunk;
        for (int q = 0; q < nimg; q++)
            qs_conv_im2col(colb + q * cs, j->x + (i + q) * xs, s);
        const float *dyi = j->dy + i * ys;
        /* kk blocks outer: a 6-row col block stays in cache while every
         * row block of dy passes over it */
        for (size_t kk = 0; kk < ckk; kk += 6) {
            int nj = ckk - kk < 6 ? (int)(ckk - kk) : 6;
            for (int k = 0; k < s->k; k += 4) {
                int mi = s->k - k < 4 ? s->k - k : 4;
                nttab[mi][nj](dyi + (size_t)k * p, ys, colb + kk * p, cs,
                              nimg, p, part + (size_t)k * ckk + kk, ckk);
            }
        }
    }
}

void qs_convk_dweight(float *dweight, const float *dy, const float *x,
                      const qs_conv_shape *s, float *scratch)
{
    const size_t ckk = ckk_of(s), len = (size_t)s->k * ckk;
    dwjob j = {scratch, dy, x, s};
    int nt = qs_par_for(qs_par_threads(), s->n, run_dwjob, &j);
    /* shares in thread order */
    for (int t = 0; t < nt; t++) {
        const float *part = dw_part(&j, t);
        for (size_t i = 0; i < len; i++)
            dweight[i] += part[i];
    }
}
