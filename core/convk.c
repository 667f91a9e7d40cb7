/* Direct conv2d GEMM on AVX-512 (see convk.h), forward and input gradient.
 *
 * For one image, Y [k, p] = A [k, ckk] @ B [ckk, p] with B the im2col of the
 * image. A is packed once per call into row panels of mr <= 12 output
 * channels stored [ckk][mr]. The micro-kernel keeps an mr x 32 tile of Y in
 * 2 mr zmm registers and runs the whole ckk reduction in order (one FMA
 * chain per output element).
 *
 * B is never built: its rows are runs of a copy of the image (convk_int.h:
 * padded, or split into phase planes for strided convs), so row kk of a
 * block of 32 columns is read at b + koff[kk] as two output-row pieces of
 * 16, four of 8 (when wo is a multiple of 16 or 8: no wasted lanes), or 32
 * consecutive flat positions, junk included. Measured on this machine's
 * AVX-512 core, packing im2col panels (the previous design) took 40-45% of
 * a forward pass; the kernel alone runs at about 215 GFLOP/s per core.
 *
 * The tile goes to a small buffer and from there to the valid positions of
 * Y (runs of up to 16), written or added. Row panels are sized evenly (31
 * channels -> 11 + 10 + 10) so no lanes are wasted on padding. */
#include "convk.h"

#include "conv_util.h"
#include "convk_int.h"
#include "par.h"
#include "simd.h"

#include "gemm.h"

#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#define NR 32
#define MRMAX 12
#define TGT QS_CK_TGT

int qs_convk_available(void)
{
    return qs_simd_path() >= QS_KPATH_AVX512 && qs_gemm_get_backend() == QS_GEMM_BLAS;
}

/* ---- padded images (convk_int.h) --------------------------------------- */

void qs_ck_pad_init(qs_ck_pad *g, const qs_conv_shape *s)
{
    const int st = s->stride;
    g->st = st;
    if (st == 1) {
        g->wp = s->w + s->pad;
        g->hp = s->h + 2 * s->pad;
    } else {
        g->wp = (s->w + 2 * s->pad + st - 1) / st;
        g->hp = (s->h + 2 * s->pad + st - 1) / st;
    }
    g->plane = (size_t)g->hp * g->wp;
    /* the last tap of the last flat position ends at most 16 floats past
     * the planes */
    g->len = QS_CK_ALIGN((size_t)s->c * st * st * g->plane + g->wp + 32);
    g->inplace = s->kh == 1 && s->kw == 1 && s->pad == 0 && st == 1;
}

/* stride 1: rows of [pad zeros | w pixels], pad zero rows above and below */
static void pad_rows(float *restrict xp, const float *restrict x,
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

/* stride st: plane (a, b) of channel ci, row r, column c = padded pixel
 * (st r + a, st c + b) */
static void pad_phases(float *restrict xp, const float *restrict x,
                       const qs_conv_shape *s, const qs_ck_pad *g)
{
    const int st = g->st, pad = s->pad;
    float *d = xp;
    for (int ci = 0; ci < s->c; ci++) {
        const float *xc = x + (size_t)ci * s->h * s->w;
        for (int a = 0; a < st; a++)
            for (int b = 0; b < st; b++)
                for (int r = 0; r < g->hp; r++, d += g->wp) {
                    const int ih = st * r + a - pad;
                    if (ih < 0 || ih >= s->h) {
                        memset(d, 0, sizeof(float) * g->wp);
                        continue;
                    }
                    const float *xr = xc + (size_t)ih * s->w;
                    for (int c = 0; c < g->wp; c++) {
                        const int iw = st * c + b - pad;
                        d[c] = iw >= 0 && iw < s->w ? xr[iw] : 0.0f;
                    }
                }
    }
    memset(d, 0, sizeof(float) * (g->len - (size_t)(d - xp)));
}

void qs_ck_pad_image(float *restrict xp, const float *restrict x,
                     const qs_conv_shape *s, const qs_ck_pad *g)
{
    if (g->st == 1)
        pad_rows(xp, x, s, g);
    else
        pad_phases(xp, x, s, g);
}

void qs_ck_tap_offsets(int *koff, const qs_conv_shape *s, const qs_ck_pad *g)
{
    const int st = g->st;
    for (int ci = 0; ci < s->c; ci++)
        for (int ki = 0; ki < s->kh; ki++)
            for (int kj = 0; kj < s->kw; kj++)
                *koff++ = (int)(((size_t)ci * st * st +
                                 (size_t)(ki % st) * st + kj % st) *
                                g->plane) +
                          (ki / st) * g->wp + kj / st;
}

/* ---- scratch ------------------------------------------------------------- */

/* per thread: the copy of one image, then a tile */
static size_t thread_floats(const qs_conv_shape *s)
{
    qs_ck_pad g;
    qs_ck_pad_init(&g, s);
    return g.len + MRMAX * NR;
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

/* How pack_a reads the weights */
enum { A_PLAIN, A_FLIP, A_TRANSPOSE };

/* ap: panel j (rows k0 .. k0+mr-1) at ap + k0*ckk, stored [ckk][mr].
 * A_TRANSPOSE: s is a 1x1 conv and w [s->c][s->k] is used transposed. */
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
            if (flip == A_PLAIN) {
                const float *wr = w + (size_t)row * ckk;
                for (size_t kk = 0; kk < ckk; kk++)
                    pa[kk * mr + r] = wr[kk];
            } else if (flip == A_TRANSPOSE) {
                for (size_t kk = 0; kk < ckk; kk++)
                    pa[kk * mr + r] = w[kk * s->k + row];
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

/* ---- driver ---------------------------------------------------------------- */

typedef struct {
    float *y;
    const float *x, *ap;
    const int *koff;
    const qs_conv_shape *s;
    qs_ck_pad g;
    int inplace; /* x is its own copy (1x1, pad 0, no block reads past it) */
    int acc;
    float *tbuf; /* per thread: thread_floats(s) */
    /* strided input gradients: y of each image goes to a per-thread dcol
     * [ckk][p] of the conv `orig`, then col2im adds it to dx */
    const qs_conv_shape *orig;
    float *dx, *dcol;
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

/* A block of 32 columns is 2 or 4 pieces: output-row
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

/* one image, b its copy (convk_int.h) */
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
    float *tile = buf + j->g.len; /* thread_floats: the copy, then a tile */
    for (int i = i0; i < i1; i++) {
        const float *xi = j->x + i * xs;
        float *yi = j->orig ? j->dcol + (size_t)t * QS_CK_ALIGN(ys)
                            : j->y + i * ys;
        if (!j->inplace)
            qs_ck_pad_image(buf, xi, s, &j->g);
        run_direct(j, yi, j->inplace ? xi : buf, tile);
        if (j->orig)
            qs_conv_col2im_add(j->dx + i * ((size_t)j->orig->c * j->orig->h *
                                            j->orig->w),
                               yi, j->orig);
    }
}

/* Packs A and the tap offsets into scratch and fills j for a conv of s. */
static void job_init(job *j, float *y, const float *x, const float *w,
                     const qs_conv_shape *s, int flip, int accumulate,
                     float *scratch)
{
    const size_t ckk = qs_ck_ckk(s);
    float *ap = scratch;
    int *koff = (int *)(scratch + QS_CK_ALIGN((size_t)s->k * ckk));
    memset(j, 0, sizeof(*j));
    j->tbuf = (float *)koff + QS_CK_ALIGN(ckk);
    pack_a(ap, w, s, flip);
    qs_ck_pad_init(&j->g, s);
    /* in place only when no block of 16 reads past the image */
    j->inplace = j->g.inplace && (s->ho * s->wo) % 16 == 0;
    qs_ck_tap_offsets(koff, s, &j->g);
    j->y = y;
    j->x = x;
    j->ap = ap;
    j->koff = koff;
    j->s = s;
    j->acc = accumulate;
}

void qs_convk_conv(float *y, const float *x, const float *w,
                   const qs_conv_shape *s, int flip, int accumulate,
                   float *scratch)
{
    job j;
    job_init(&j, y, x, w, s, flip ? A_FLIP : A_PLAIN, accumulate, scratch);
    qs_par_for(qs_par_threads(), s->n, run_job, &j);
}

/* ---- input gradient of a strided conv --------------------------------------
 * dcol [ckk][p] = W^T dy_n is the 1x1 stride-1 conv of dy_n with W^T (ckk
 * output channels), run by the kernel above reading dy in place; col2im
 * then adds dcol into dx_n. */

static void dxs_shape(qs_conv_shape *t, const qs_conv_shape *s)
{
    qs_conv_shape_init(t, s->n, s->k, s->ho, s->wo, (int)qs_ck_ckk(s), 1, 1,
                       1, 0);
}

size_t qs_convk_dxs_scratch(const qs_conv_shape *s)
{
    qs_conv_shape t;
    dxs_shape(&t, s);
    return qs_convk_scratch(&t) +
           (size_t)QS_PAR_MAXT * QS_CK_ALIGN((size_t)t.k * t.ho * t.wo);
}

void qs_convk_dx_strided(float *dx, const float *dy, const float *w,
                         const qs_conv_shape *s, float *scratch)
{
    qs_conv_shape t;
    job j;
    dxs_shape(&t, s);
    job_init(&j, NULL, dy, w, &t, A_TRANSPOSE, 0, scratch);
    j.orig = s;
    j.dx = dx;
    j.dcol = scratch + qs_convk_scratch(&t);
    qs_par_for(qs_par_threads(), s->n, run_job, &j);
}
