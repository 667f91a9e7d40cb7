/* Internals shared by the AVX-512 conv kernels (convk.c: forward and
 * input gradient, convk_dw.c: weight gradient); not part of any API.
 *
 * Stride-1 convs read their input straight from a zero-padded copy of one
 * image whose padding columns are shared between neighbouring rows: row
 * stride wp = w + pad, so the right overhang of a row reads the left pad of
 * the next. Output (oh, ow) then sits at flat position q = oh*wp + ow and
 * tap (ci, ki, kj) at q + koff, koff = ci*plane + ki*wp + kj: every im2col
 * row is a contiguous run of the padded image, so nothing is packed.
 * Positions with ow >= wo ("junk") are computed and dropped, or read as
 * zero gradient. */
#ifndef QS_CONVK_INT_H
#define QS_CONVK_INT_H
#include "layers.h"

#include <stddef.h>

#define QS_CK_TGT __attribute__((target("avx512f")))
#define QS_CK_ALIGN(n) (((size_t)(n) + 15) & ~(size_t)15)

static inline size_t qs_ck_ckk(const qs_conv_shape *s)
{
    return (size_t)s->c * s->kh * s->kw;
}

typedef struct {
    int wp;       /* padded row stride (w + pad) */
    int hp;       /* padded rows (h + 2 pad) */
    size_t plane; /* hp * wp */
    size_t len;   /* floats of one padded image, slack for the last taps */
    int inplace;  /* 1x1 pad 0: the image itself is the padded image */
} qs_ck_pad;

/* Geometry of the padded image of a stride-1 conv. */
void qs_ck_pad_init(qs_ck_pad *g, const qs_conv_shape *s);
/* xp [g->len] <- image x [c, h, w] padded (not for g->inplace). */
void qs_ck_pad_image(float *restrict xp, const float *restrict x,
                     const qs_conv_shape *s, const qs_ck_pad *g);
/* koff [ckk]: offset of each tap row in the padded image. */
void qs_ck_tap_offsets(int *koff, const qs_conv_shape *s, const qs_ck_pad *g);

#endif
