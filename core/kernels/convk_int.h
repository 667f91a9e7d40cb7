/* Internals shared by the AVX-512 / AVX2 conv kernels (convk.c: forward and
 * input gradient, convk_dw.c: weight gradient); not part of any API.
 *
 * The kernels read im2col rows straight out of a prepared copy of one
 * image, so im2col is never built. Stride 1: the image zero-padded, with
 * the padding columns shared between neighbouring rows (row stride wp = w
 * + pad, so the right overhang of a row reads the left pad of the next).
 * Stride st > 1: the padded image split into st x st phase planes, plane
 * (a, b) holding padded pixels (st r + a, st c + b) at row r, column c.
 * Either way output (oh, ow) sits at flat position q = oh*wp + ow and tap
 * (ci, ki, kj) at q + koff: every im2col row is a contiguous run of the
 * copy. Positions with ow >= wo ("junk") are computed and dropped, or
 * skipped. */
#ifndef QS_CONVK_INT_H
#define QS_CONVK_INT_H
#include "layers.h"

#include <stddef.h>

#define QS_CK_ALIGN(n) (((size_t)(n) + 15) & ~(size_t)15)

/* Columns of the conv micro-kernel's tile, 2 VL at the widest (convk_k.h):
 * what a Winograd block of tiles is sized for in scratch. */
#define QS_CK_NRMAX 32

/* Floats added to a stride between rows the kernels read in one step
 * (the planes of an image copy, the 16 rows xi of a Winograd block) that
 * would otherwise be a multiple of 1 KB: rows that far apart fall into a
 * few of the L1 cache's 64 sets and evict each other. */
#define QS_CK_SKEW 16

static inline size_t qs_ck_ckk(const qs_conv_shape *s)
{
    return (size_t)s->c * s->kh * s->kw;
}

typedef struct {
    int st;       /* stride: st x st planes per channel */
    int wp;       /* row stride of a plane (w + pad at stride 1) */
    int hp;       /* rows of a plane */
    size_t plane; /* hp * wp */
    size_t len;   /* floats of one image's copy, slack for the last taps */
    int inplace;  /* 1x1 stride 1 pad 0: the image itself is the copy */
} qs_ck_pad;

/* Geometry of the copy of one image for a conv of shape s. */
void qs_ck_pad_init(qs_ck_pad *g, const qs_conv_shape *s);
/* xp [g->len] <- the copy of image x [c, h, w] (not for g->inplace). */
void qs_ck_pad_image(float *restrict xp, const float *restrict x,
                     const qs_conv_shape *s, const qs_ck_pad *g);
/* koff [ckk]: offset of each tap row in the copy. */
void qs_ck_tap_offsets(int *koff, const qs_conv_shape *s, const qs_ck_pad *g);

/* Row panels of the conv kernels' A (convk.c, convk_wino.c): npan panels
 * of k rows, the first `extra` one row taller, so no panel is padded. */
typedef struct {
    int npan, base, extra;
} qs_ck_panels;

static inline qs_ck_panels qs_ck_panels_of(int k, int mrmax)
{
    qs_ck_panels p;
    p.npan = (k + mrmax - 1) / mrmax;
    p.base = k / p.npan;
    p.extra = k % p.npan;
    return p;
}

static inline int qs_ck_panel_k0(const qs_ck_panels *p, int j)
{
    return j * p->base + (j < p->extra ? j : p->extra);
}

/* ---- Winograd F(2x2, 3x3) (convk_wino.c; vector bodies convk_w*.h) ----
 * Output tile t = (ty, tx), 2 x 2 outputs at (2ty, 2tx), tw = wo / 2 tiles
 * per row, T tiles per image in row-major order, taken NR = 2 VL at a
 * time ("block"). Per image, the copy of the input is the zero-padded
 * image with its columns split by parity: padded row r of channel ci is
 * an even row E (padded columns 0, 2, .., w) then an odd row O (1, 3, ..,
 * w + 1), pl floats each, so every tile's 4 x 4 input is E[tx], O[tx],
 * E[tx + 1], O[tx + 1] of 4 rows: contiguous over tx. */
typedef struct {
    int tw, ntile; /* tiles per row, per image */
    int pl;        /* floats of an E or O row of the copy */
    int wo;        /* output row length */
} qs_ck_wgeo;

/* vectors of tiles per block at most (the weight gradient's blocks of
 * QS_CK_WNB tiles at VL 8) */
#define QS_CK_WPV 8
#define QS_CK_WNB 64

void qs_ck_wgeo_init(qs_ck_wgeo *g, const qs_conv_shape *s);
/* floats of one image's parity-split copy */
size_t qs_ck_wino_copy_len(const qs_conv_shape *s);

typedef struct {
    float *y;
    const float *x;
    const float *up;   /* U [16][k][c] in row panels of mr: [16][k*c] */
    const int *koff;   /* c * NR: row ci of a block of V */
    const qs_conv_shape *s;
    qs_ck_wgeo g;
    int acc;
    int stream;        /* qs_stream_output(y): the outputs bypass the cache */
    float *tbuf;       /* per thread: tfloats */
    size_t tfloats;
} qs_ck_wjob;

/* 1 when s takes the Winograd path: 3x3, stride 1, pad 1, even h and
 * w, and enough input channels for the transforms to pay (more where w
 * is not a multiple of 8). The same answer at every vector width, so a conv's
 * bits do not depend on the width. */
int qs_ck_wino_ok(const qs_conv_shape *s);
/* Floats of scratch qs_ck_wino_init needs (blocks of QS_CK_NRMAX tiles). */
size_t qs_ck_wino_scratch(const qs_conv_shape *s);
/* Transforms and packs the weights (flip as qs_convk_conv) into scratch
 * and fills j for a conv of s on kernels of mr rows and nr columns. */
void qs_ck_wino_init(qs_ck_wjob *j, float *y, const float *x,
                     const float *w, const qs_conv_shape *s, int flip,
                     int accumulate, float *scratch, int mr, int nr);
/* The weight gradient (convk_dw.c, convk_wdk.h): per thread a dU share
 * [16][c][kpad], dy^T [p][kpad], the copy, V of a block [16][c][nb] and
 * (A dY A^T) of a block [16][nb][kpad]. */
typedef struct {
    float *scratch; /* per thread: tfloats */
    size_t tfloats;
    const float *dy, *x;
    const qs_conv_shape *s;
    qs_ck_wgeo g;
    int kpad, nb;
} qs_ck_wdwjob;

/* 1 when the weight gradient of s takes the Winograd path */
int qs_ck_wino_dw_ok(const qs_conv_shape *s);
size_t qs_ck_wino_dw_scratch(const qs_conv_shape *s, int kpad);
/* fills j (scratch: qs_ck_wino_dw_scratch floats; vl: the path's width) */
void qs_ck_wino_dw_init(qs_ck_wdwjob *j, const float *dy, const float *x,
                        const qs_conv_shape *s, int kpad, int vl,
                        float *scratch);
/* dweight [k][c][3][3] += G^T dU G, dU the sum of the nt shares of j in
 * thread order */
void qs_ck_wino_dw_finish(float *dweight, const qs_ck_wdwjob *j, int nt);

/* One row of the parity-split copy (layout above): its E row e and O row
 * o from the tw * 2 pixels at xr, in scalar code (the vector copy,
 * convk_wt.h, does rows of one or a multiple of two vectors). */
void qs_ck_wino_pad_row(float *restrict e, float *restrict o,
                        const float *restrict xr, int tw);

#endif
