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

#endif
