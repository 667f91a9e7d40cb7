/* Direct conv2d GEMM on AVX-512 and AVX2 (see convk.h), forward and input
 * gradient.
 *
 * For one image, Y [k, p] = A [k, ckk] @ B [ckk, p] with B the im2col of the
 * image. A is packed once per call into row panels of mr output channels
 * stored [ckk][mr]. The micro-kernel (convk_k.h, written once over the
 * vector width VL and compiled for 16 and 8) keeps an mr x 2VL tile of Y
 * in 2 mr registers (mr <= 12 on AVX-512's 32 zmm, <= 6 on AVX2's 16 ymm)
 * and runs the whole ckk reduction in order (one FMA chain per output
 * element, so both widths give the same bits).
 *
 * B is never built: its rows are runs of a copy of the image (convk_int.h:
 * padded, or split into phase planes for strided convs), so row kk of a
 * block of 2VL columns is read at b + koff[kk] as two output-row pieces of
 * VL, four of VL/2 (when wo is a multiple of VL or VL/2: no wasted lanes),
 * or 2VL consecutive flat positions, junk included. Measured on this
 * machine's AVX-512 core, packing im2col panels (the previous design) took
 * 40-45% of a forward pass; the kernel alone runs at about 215 GFLOP/s per
 * core.
 *
 * The tile goes to a small buffer and from there to the valid positions of
 * Y (runs of up to VL), written or added. Row panels are sized evenly (31
 * channels -> 11 + 10 + 10 on AVX-512, 6 + 5 x 5 on AVX2) so no lanes are
 * wasted on padding. */
#include "convk.h"

#include "conv_util.h"
#include "convk_int.h"
#include "par.h"
#include "simd.h"

#include "gemm.h"

#include <stdlib.h>
#include <string.h>

#define NRMAX QS_CK_NRMAX
#define MRMAX 12 /* tile rows at the widest */

int qs_convk_available(void)
{
    return QS_SIMD_X86 && qs_simd_path() >= QS_KPATH_AVX2 &&
           qs_gemm_get_backend() == QS_GEMM_BLAS;
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
    /* the kernels read a row of each of up to 32 planes per step (1x1
     * conv, 32 -> 192 channels at 32 x 32, batch 128: forward 33 -> 54
     * GFLOP/s with the skew) */
    const int skew = g->plane % 256 == 0;
    if (skew)
        g->plane += QS_CK_SKEW;
    /* the last tap of the last flat position ends at most 16 floats past
     * the planes */
    g->len = QS_CK_ALIGN((size_t)s->c * st * st * g->plane + g->wp + 32);
    /* a 1x1 conv reads the image itself, unless its planes alias so */
    g->inplace = s->kh == 1 && s->kw == 1 && s->pad == 0 && st == 1 && !skew;
}

/* stride 1: rows of [pad zeros | w pixels], pad zero rows above and below */
static void pad_rows(float *restrict xp, const float *restrict x,
                     const qs_conv_shape *s, const qs_ck_pad *g)
{
    const int pad = s->pad, w = s->w;
    const size_t edge = (size_t)pad * g->wp;
    float *d = xp;
    if (pad == 0) { /* planes of the image, each moved once to its skew */
        const size_t hw = (size_t)s->h * w;
        for (int ci = 0; ci < s->c; ci++) {
            d = xp + (size_t)ci * g->plane;
            memcpy(d, x + (size_t)ci * hw, sizeof(float) * hw);
            memset(d + hw, 0, sizeof(float) * (g->plane - hw));
        }
        d = xp + (size_t)s->c * g->plane;
        memset(d, 0, sizeof(float) * (g->len - (size_t)(d - xp)));
        return;
    }
    for (int ci = 0; ci < s->c; ci++) {
        d = xp + (size_t)ci * g->plane; /* past the skew (qs_ck_pad_init) */
        memset(d, 0, sizeof(float) * edge);
        d += edge;
        for (int ih = 0; ih < s->h; ih++) {
            for (int j = 0; j < pad; j++)
                d[j] = 0.0f;
            memcpy(d + pad, x + ((size_t)ci * s->h + ih) * w,
                   sizeof(float) * w);
            d += g->wp;
        }
        /* the bottom edge, then the skew: the last row's right overhang
         * reads the first float past the plane */
        memset(d, 0, sizeof(float) * (edge + g->plane - (size_t)g->hp * g->wp));
        d += edge;
    }
    d = xp + (size_t)s->c * g->plane;
    memset(d, 0, sizeof(float) * (g->len - (size_t)(d - xp)));
}

/* stride st: plane (a, b) of channel ci, row r, column c = padded pixel
 * (st r + a, st c + b). Only the planes some tap reads are built (a 1x1
 * stride-2 conv reads plane (0, 0) alone); the others are left as they
 * are, never read. */
static void pad_phases(float *restrict xp, const float *restrict x,
                       const qs_conv_shape *s, const qs_ck_pad *g)
{
    const int st = g->st, pad = s->pad;
    float *d = xp;
    for (int ci = 0; ci < s->c; ci++) {
        const float *xc = x + (size_t)ci * s->h * s->w;
        for (int a = 0; a < st; a++)
            for (int b = 0; b < st; b++) {
                d = xp + ((size_t)ci * st * st + (size_t)a * st + b) * g->plane;
                if (a >= s->kh || b >= s->kw) {
                    d += g->plane;
                    continue;
                }
                /* columns c with 0 <= st c + b - pad < w: [c0, c1) */
                int c0 = b >= pad ? 0 : (pad - b + st - 1) / st;
                int c1 = (s->w - 1 + pad - b) / st + 1;
                if (c1 > g->wp)
                    c1 = g->wp;
                if (c0 > c1)
                    c0 = c1;
                for (int r = 0; r < g->hp; r++, d += g->wp) {
                    const int ih = st * r + a - pad;
                    if (ih < 0 || ih >= s->h) {
                        memset(d, 0, sizeof(float) * g->wp);
                        continue;
                    }
                    const float *xr = xc + (size_t)ih * s->w + b - pad;
                    for (int c = 0; c < c0; c++)
                        d[c] = 0.0f;
                    for (int c = c0; c < c1; c++)
                        d[c] = xr[st * c];
                    for (int c = c1; c < g->wp; c++)
                        d[c] = 0.0f;
                }
                memset(d, 0, sizeof(float) * (g->plane - (size_t)g->hp * g->wp));
            }
    }
    d = xp + (size_t)s->c * st * st * g->plane;
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
    return g.len + MRMAX * NRMAX;
}

size_t qs_convk_scratch(const qs_conv_shape *s)
{
    size_t ckk = qs_ck_ckk(s);
    size_t n = QS_CK_ALIGN((size_t)s->k * ckk) + QS_CK_ALIGN(ckk) +
               (size_t)QS_PAR_MAXT * thread_floats(s);
    if (qs_ck_wino_ok(s) && qs_ck_wino_scratch(s) > n)
        n = qs_ck_wino_scratch(s);
    return n;
}

static int wino_on = -1; /* -1: as QSWEEP_WINOGRAD says */

void qs_convk_set_winograd(int on)
{
    wino_on = on;
}

int qs_convk_winograd(void)
{
    return wino_on >= 0 ? wino_on : qs_simd_winograd_env() != 0;
}

typedef void (*kfn)(int, const float *, const float *, const int *,
                    const ptrdiff_t *, float *);

/* ---- tile -> Y ------------------------------------------------------------ */

/* tile columns [ts, ts + len) are Y positions [yo, yo + len); len <= VL */
typedef struct {
    int ts, yo, len;
} run;

typedef struct {
    int n;
    run r[NRMAX];
} runs;

/* ---- packing ------------------------------------------------------------- */

/* How pack_a reads the weights */
enum { A_PLAIN, A_FLIP, A_TRANSPOSE };

/* ap: panel j of qs_ck_panels_of(k, mrmax) (rows k0 .. k0+mr-1) at ap + k0*ckk, stored [ckk][mr].
 * A_TRANSPOSE: s is a 1x1 conv and w [s->c][s->k] is used transposed. */
static void pack_a(float *restrict ap, const float *restrict w,
                   const qs_conv_shape *s, int flip, int mrmax)
{
    const size_t ckk = qs_ck_ckk(s);
    const int khw = s->kh * s->kw;
    qs_ck_panels pn = qs_ck_panels_of(s->k, mrmax);
    for (int j = 0; j < pn.npan; j++) {
        int k0 = qs_ck_panel_k0(&pn, j), mr = pn.base + (j < pn.extra);
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

#if QS_SIMD_X86
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

/* A block of 2 vl columns is 2 or 4 pieces: output-row pieces of vl or
 * vl/2 when wo is a multiple of that (no wasted lanes), else vl
 * consecutive flat positions, junk included. */
static int piece_width(const qs_conv_shape *s, int vl)
{
    return s->wo % vl == 0 ? vl : s->wo % (vl / 2) == 0 ? vl / 2 : 0;
}

static int piece_q0(const qs_conv_shape *s, int wp, int pw, int h, int vl)
{
    if (!pw)
        return vl * h;
    int per = s->wo / pw;
    return (h / per) * wp + (h % per) * pw;
}

static int piece_count(const qs_conv_shape *s, int wp, int pw, int vl)
{
    if (!pw)
        return ((s->ho - 1) * wp + s->wo + vl - 1) / vl;
    return s->ho * (s->wo / pw);
}

#define QS_VL 16
#include "convk_k.h"
#include "convk_wt.h"
#include "convk_wk.h"
#undef QS_VL
#define QS_VL 8
#include "convk_k.h"
#include "convk_wt.h"
#include "convk_wk.h"
#undef QS_VL
#endif

/* The path's vector width and driver (qs_convk_available() said there is
 * one). */
static int path_vl(void)
{
    return qs_simd_path() >= QS_KPATH_AVX512 ? 16 : 8;
}

/* The MR of convk_k.h for the path's width. */
static int path_mr(void)
{
    return path_vl() == 16 ? 12 : 6;
}

static qs_par_fn path_job(void)
{
#if QS_SIMD_X86
    return path_vl() == 16 ? run_job_avx512 : run_job_avx2;
#else
    abort(); /* no kernels here: qs_convk_available() is 0 */
#endif
}

static qs_par_fn path_wjob(void)
{
#if QS_SIMD_X86
    return path_vl() == 16 ? run_wjob_avx512 : run_wjob_avx2;
#else
    abort();
#endif
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
    const int vl = path_vl();
    j->tbuf = (float *)koff + QS_CK_ALIGN(ckk);
    pack_a(ap, w, s, flip, path_mr());
    qs_ck_pad_init(&j->g, s);
    /* in place only when no piece of vl reads past the image */
    j->inplace = j->g.inplace && (s->ho * s->wo) % vl == 0;
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
    if (qs_convk_winograd() && qs_ck_wino_ok(s)) {
        const int vl = path_vl();
        qs_ck_wjob wj;
        qs_ck_wino_init(&wj, y, x, w, s, flip, accumulate, scratch,
                        path_mr(), 2 * vl);
        qs_par_for(qs_par_threads(), s->n, path_wjob(), &wj);
        return;
    }
    job j;
    job_init(&j, y, x, w, s, flip ? A_FLIP : A_PLAIN, accumulate, scratch);
    qs_par_for(qs_par_threads(), s->n, path_job(), &j);
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
    qs_par_for(qs_par_threads(), s->n, path_job(), &j);
}
