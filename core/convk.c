/* Direct conv2d GEMM on AVX-512 (see convk.h), forward and input gradient.
 *
 * For one image, Y [k, p] = A [k, ckk] @ B [ckk, p] with B the im2col of the
 * image. A is packed once per call into row panels of mr <= 12 output
 * channels stored [ckk][mr]. The micro-kernel keeps an mr x 32 tile of Y in
 * 2 mr zmm registers and runs the whole ckk reduction in order (one FMA
 * chain per output element), reading row kk of B's 32 columns as two
 * 16-float vectors at b + koff[kk] and b + koff[kk] + d1.
 *
 * Stride 1 (every forward conv of the models but the downsampling ones,
 * and every input gradient): B is never built. The rows are runs of the
 * padded image (convk_int.h), so b is the image and koff the tap offsets;
 * the two vectors are two output-row pieces of 16 when wo is a multiple of
 * 16 (no wasted lanes) and else 32 consecutive flat positions, junk
 * included. Other strides pack 32 columns of im2col into a panel [ckk][32]
 * (L2-resident) and read it with koff[kk] = 32 kk. Measured on this
 * machine's AVX-512 core, packing took 40-45% of a forward pass; the
 * kernel alone runs at about 215 GFLOP/s per core.
 *
 * The tile goes to a small buffer and from there to the valid positions of
 * Y (runs of up to 16), written or added. Row panels are sized evenly (31
 * channels -> 11 + 10 + 10) so no lanes are wasted on padding. */
#include "convk.h"

#include "conv_util.h"
#include "convk_int.h"
#include "par.h"

#include "gemm.h"

#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#define NR 32
#define MRMAX 12
#define KWMAX 16
#define TGT QS_CK_TGT

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

/* ---- padded images (convk_int.h) --------------------------------------- */

void qs_ck_pad_init(qs_ck_pad *g, const qs_conv_shape *s)
{
    g->wp = s->w + s->pad;
    g->hp = s->h + 2 * s->pad;
    g->plane = (size_t)g->hp * g->wp;
    /* the last tap of the last flat position ends pad + 16 floats past the
     * planes */
    g->len = QS_CK_ALIGN((size_t)s->c * g->plane + g->wp + 32);
    g->inplace = s->kh == 1 && s->kw == 1 && s->pad == 0 && s->stride == 1;
}

void qs_ck_pad_image(float *restrict xp, const float *restrict x,
                     const qs_conv_shape *s, const qs_ck_pad *g)
{
    const int pad = s->pad, w = s->w;
    const size_t edge = (size_t)pad * g->wp;
    float *d = xp;
    for (int ci = 0; ci < s->c; ci++) {
        memset(d, 0, sizeof(float) * edge);
        d += edge;
        for (int ih = 0; ih < s->h; ih++) {
            for (int j = 0; j < pad; j++)
                d[j] = 0.0f;
            memcpy(d + pad, x + ((size_t)ci * s->h + ih) * w,
                   sizeof(float) * w);
            d += g->wp;
        }
        memset(d, 0, sizeof(float) * edge);
        d += edge;
    }
    memset(d, 0, sizeof(float) * (g->len - (size_t)(d - xp)));
}

void qs_ck_tap_offsets(int *koff, const qs_conv_shape *s, const qs_ck_pad *g)
{
    for (int ci = 0; ci < s->c; ci++)
        for (int ki = 0; ki < s->kh; ki++)
            for (int kj = 0; kj < s->kw; kj++)
                *koff++ = (int)(ci * g->plane) + ki * g->wp + kj;
}

/* ---- scratch ------------------------------------------------------------- */

static size_t thread_floats(const qs_conv_shape *s)
{
    size_t b = qs_ck_ckk(s) * NR;
    if (s->stride == 1) {
        qs_ck_pad g;
        qs_ck_pad_init(&g, s);
        if (g.len > b)
            b = g.len;
    }
    return QS_CK_ALIGN(b) + MRMAX * NR;
}

size_t qs_convk_scratch(const qs_conv_shape *s)
{
    size_t ckk = qs_ck_ckk(s);
    return QS_CK_ALIGN((size_t)s->k * ckk) + QS_CK_ALIGN(ckk) +
           (size_t)QS_PAR_MAXT * thread_floats(s);
}

/* ---- micro-kernel: tile [mr][32] = a [kd][mr] @ rows of b ----------------
 * row kk: 16 floats at b + koff[kk], 16 at b + koff[kk] + d[0]; or, with
 * quarters (rows of 8 outputs), 8 floats at each of b + koff[kk] and
 * + d[0], d[1], d[2] */

/* [8 floats at lo | 8 at hi] (AVX-512F has no 32x8 insert) */
static inline __attribute__((always_inline)) TGT __m512
join8(const float *lo, const float *hi)
{
    __m512d v = _mm512_castps_pd(_mm512_castps256_ps512(_mm256_loadu_ps(lo)));
    return _mm512_castpd_ps(
        _mm512_insertf64x4(v, _mm256_castps_pd(_mm256_loadu_ps(hi)), 1));
}

static inline __attribute__((always_inline)) TGT void
kbody(const int mr, const int quarters, int kd, const float *restrict a,
      const float *b, const int *restrict koff, const ptrdiff_t *d,
      float *restrict tile)
{
    __m512 x0[MRMAX], x1[MRMAX];
    const ptrdiff_t d0 = d[0], d1 = quarters ? d[1] : 0,
                    d2 = quarters ? d[2] : 0;
#pragma GCC unroll 12
    for (int r = 0; r < MRMAX; r++)
        if (r < mr) {
            x0[r] = _mm512_setzero_ps();
            x1[r] = _mm512_setzero_ps();
        }
    for (int k = 0; k < kd; k++) {
        const float *bk = b + koff[k];
        __m512 b0, b1;
        if (quarters) {
            b0 = join8(bk, bk + d0);
            b1 = join8(bk + d1, bk + d2);
        } else {
            b0 = _mm512_loadu_ps(bk);
            b1 = _mm512_loadu_ps(bk + d0);
        }
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
            _mm512_storeu_ps(tile + r * NR, x0[r]);
            _mm512_storeu_ps(tile + r * NR + 16, x1[r]);
        }
}

typedef void (*kfn)(int, const float *, const float *, const int *,
                    const ptrdiff_t *, float *);

#define KDEF(MR)                                                            \
    static TGT void k##MR(int kd, const float *a, const float *b,           \
                          const int *koff, const ptrdiff_t *d, float *tile) \
    {                                                                       \
        kbody(MR, 0, kd, a, b, koff, d, tile);                              \
    }                                                                       \
    static TGT void kq##MR(int kd, const float *a, const float *b,          \
                           const int *koff, const ptrdiff_t *d,             \
                           float *tile)                                     \
    {                                                                       \
        kbody(MR, 1, kd, a, b, koff, d, tile);                              \
    }
KDEF(1) KDEF(2) KDEF(3) KDEF(4) KDEF(5) KDEF(6)
KDEF(7) KDEF(8) KDEF(9) KDEF(10) KDEF(11) KDEF(12)

static const kfn ktab[2][MRMAX + 1] = {
    {NULL, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12},
    {NULL, kq1, kq2, kq3, kq4, kq5, kq6, kq7, kq8, kq9, kq10, kq11, kq12},
};

/* ---- tile -> Y ------------------------------------------------------------ */

/* tile columns [ts, ts + len) are Y positions [yo, yo + len); len <= 16 */
typedef struct {
    int ts, yo, len;
} run;

typedef struct {
    int n;
    run r[2 * 16];
} runs;

static TGT void store_tile(float *y, size_t p, const float *tile, int mr,
                           const runs *rs, int acc)
{
    for (int i = 0; i < rs->n; i++) {
        const run *u = &rs->r[i];
        const __mmask16 m = (__mmask16)((1u << u->len) - 1);
        for (int r = 0; r < mr; r++) {
            float *yr = y + (size_t)r * p + u->yo;
            __m512 v = _mm512_maskz_loadu_ps(m, tile + r * NR + u->ts);
            if (acc)
                v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, yr));
            _mm512_mask_storeu_ps(yr, m, v);
        }
    }
}

/* Valid outputs among flat positions [q0, q0 + len), as runs from tile
 * column ts on. */
static void piece_runs(runs *rs, int q0, int ts, int len,
                       const qs_conv_shape *s, int wp)
{
    int q = q0, e = q0 + len;
    while (q < e) {
        int oh = q / wp, ow = q - oh * wp;
        if (oh >= s->ho)
            break;
        if (ow >= s->wo) {
            q += wp - ow;
            continue;
        }
        int n = s->wo - ow < e - q ? s->wo - ow : e - q;
        rs->r[rs->n++] = (run){ts + q - q0, oh * s->wo + ow, n};
        q += n;
    }
}

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
    const size_t ckk = qs_ck_ckk(s);
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
    const int *koff;
    const qs_conv_shape *s;
    qs_ck_pad g;
    int direct;  /* stride 1: read the padded image */
    int inplace; /* ... which is x itself */
    int acc;
    float *tbuf; /* per thread: thread_floats(s) */
} job;

/* Y rows of every panel for one 32-column block of B */
static void run_panels(const job *j, float *yi, const float *b, int quarters,
                       const ptrdiff_t *d, const runs *rs, float *tile)
{
    const qs_conv_shape *s = j->s;
    const int ckk = (int)qs_ck_ckk(s);
    const size_t p = (size_t)s->ho * s->wo;
    panels pn = panels_of(s->k);
    for (int q = 0; q < pn.npan; q++) {
        int k0 = panel_k0(&pn, q), mr = pn.base + (q < pn.extra);
        ktab[quarters][mr](ckk, j->ap + (size_t)k0 * ckk, b, j->koff, d, tile);
        store_tile(yi + (size_t)k0 * p, p, tile, mr, rs, j->acc);
    }
}

/* A block of 32 columns of a stride-1 conv is 2 or 4 pieces: output-row
 * pieces of 16 or 8 when wo is a multiple of that (no wasted lanes), else
 * 16 consecutive flat positions, junk included. */
static int piece_width(const qs_conv_shape *s)
{
    return s->wo % 16 == 0 ? 16 : s->wo % 8 == 0 ? 8 : 0;
}

static int piece_q0(const qs_conv_shape *s, int wp, int pw, int h)
{
    if (!pw)
        return 16 * h;
    int per = s->wo / pw;
    return (h / per) * wp + (h % per) * pw;
}

static int piece_count(const qs_conv_shape *s, int wp, int pw)
{
    if (!pw)
        return ((s->ho - 1) * wp + s->wo + 15) / 16;
    return s->ho * (s->wo / pw);
}

/* one image of a stride-1 conv, b its padded image */
static void run_direct(const job *j, float *yi, const float *b, float *tile)
{
    const qs_conv_shape *s = j->s;
    const int wp = j->g.wp, pw = piece_width(s);
    const int len = pw ? pw : 16, per = NR / len, np = piece_count(s, wp, pw);
    for (int h = 0; h < np; h += per) {
        runs rs = {0};
        int q[4];
        for (int u = 0; u < per; u++) {
            /* past the last piece: read the previous one again, store none */
            q[u] = h + u < np ? piece_q0(s, wp, pw, h + u) : q[u - 1];
            if (h + u < np)
                piece_runs(&rs, q[u], u * len, len, s, wp);
        }
        const ptrdiff_t d[3] = {q[1] - q[0], per == 4 ? q[2] - q[0] : 0,
                                per == 4 ? q[3] - q[0] : 0};
        run_panels(j, yi, b + q[0], per == 4, d, &rs, tile);
    }
}

/* images [i0, i1) on thread t (qs_par_fn) */
static void run_job(void *ctx, int t, int i0, int i1)
{
    const job *j = ctx;
    const qs_conv_shape *s = j->s;
    const int p = s->ho * s->wo;
    const size_t xs = (size_t)s->c * s->h * s->w, ys = (size_t)s->k * p;
    float *buf = j->tbuf + (size_t)t * thread_floats(s);
    float *tile = buf + (thread_floats(s) - MRMAX * NR);
    for (int i = i0; i < i1; i++) {
        const float *xi = j->x + i * xs;
        float *yi = j->y + i * ys;
        if (j->direct) {
            if (!j->inplace)
                qs_ck_pad_image(buf, xi, s, &j->g);
            run_direct(j, yi, j->inplace ? xi : buf, tile);
            continue;
        }
        for (int p0 = 0; p0 < p; p0 += NR) {
            int np = p - p0 < NR ? p - p0 : NR;
            runs rs = {1, {{0, p0, np < 16 ? np : 16}}};
            if (np > 16)
                rs.r[rs.n++] = (run){16, p0 + 16, np - 16};
            pack_b(buf, xi, s, p0, np);
            const ptrdiff_t d[3] = {16, 0, 0};
            run_panels(j, yi, buf, 0, d, &rs, tile);
        }
    }
}

void qs_convk_conv(float *y, const float *x, const float *w,
                   const qs_conv_shape *s, int flip, int accumulate,
                   float *scratch)
{
    const size_t ckk = qs_ck_ckk(s);
    job j = {0};
    float *ap = scratch;
    int *koff = (int *)(scratch + QS_CK_ALIGN((size_t)s->k * ckk));
    j.tbuf = (float *)koff + QS_CK_ALIGN(ckk);
    pack_a(ap, w, s, flip);
    j.direct = s->stride == 1;
    if (j.direct) {
        qs_ck_pad_init(&j.g, s);
        /* in place only when no block of 16 reads past the image */
        j.inplace = j.g.inplace && (s->ho * s->wo) % 16 == 0;
        qs_ck_tap_offsets(koff, s, &j.g);
    } else {
        for (size_t kk = 0; kk < ckk; kk++)
            koff[kk] = (int)(kk * NR);
    }
    j.y = y;
    j.x = x;
    j.ap = ap;
    j.koff = koff;
    j.s = s;
    j.acc = accumulate;
    qs_par_for(qs_par_threads(), s->n, run_job, &j);
}
