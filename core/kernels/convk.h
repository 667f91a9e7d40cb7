/* Direct conv2d GEMM kernels (private to conv.c; code in convk.c and
 * convk_dw.c).
 *
 * On the avx512 and avx2 kernel paths (simd.h: chosen at run time; the
 * build needs no -march), conv2d forward, the input gradient and the
 * weight gradient run on register-blocked kernels, one source compiled
 * for both vector widths (vec.h, convk_k.h, convk_dwk.h). Stride-1 convs
 * read their im2col rows straight out of a padded copy of each image, so
 * im2col is never built; strided convs read them from a phase-split copy. Images are split over
 * qs_par_threads() threads (par.h); every output element of a forward or
 * input-gradient conv is computed by one thread in a fixed order, so those
 * results do not depend on the thread count, nor on the width (each is
 * one FMA chain in the same order at 16 and 8 lanes). On the generic path
 * (or with the naive GEMM backend that tests use as the reference) conv.c
 * keeps its im2col + qs_sgemm path. */
#ifndef QS_CONVK_H
#define QS_CONVK_H

#include <stddef.h>

#include "layers.h"

/* 1 when the fast kernels run: the kernel path is avx512 or avx2 and the
 * GEMM backend is BLAS (the naive backend keeps conv.c's im2col path as
 * the tests' reference). */
int qs_convk_available(void);

/* Floats of scratch qs_convk_conv needs for a conv of shape s (x [n, c, h,
 * w] -> y [n, k, ho, wo]). */
size_t qs_convk_scratch(const qs_conv_shape *s);

/* y (+)= conv(x, w) for all s->n images (accumulate 0: y = ..., 1: y +=).
 * flip 0: w is weight [k, c, kh, kw] (forward).
 * flip 1: w is the weight [c, k, kh, kw] of the conv whose input gradient
 *         this is, used transposed and rotated by 180 degrees (s describes
 *         the equivalent stride-1 conv of dy [n, k, ho, wo] -> dx). */
void qs_convk_conv(float *y, const float *x, const float *w,
                   const qs_conv_shape *s, int flip, int accumulate,
                   float *scratch);
/* qs_convk_conv and qs_convk_dweight run the 3x3 stride-1 convs they can
 * as Winograd F(2x2, 3x3) (convk_wino.c) when qs_convk_winograd() is 1:
 * as QSWEEP_WINOGRAD says (simd.h; on unless it is 0), or as the tests
 * set it (0, 1; -1 restores the environment's) to compare the two. 0
 * reproduces the bits of the direct kernels alone. Not for use while
 * other threads run convs. */
void qs_convk_set_winograd(int on);
int qs_convk_winograd(void);

/* Floats of scratch qs_convk_dweight needs. */
size_t qs_convk_dw_scratch(const qs_conv_shape *s);
/* dweight [k, c*kh*kw] += sum over images of dy_n [k, p] @ im2col(x_n)^T.
 * Images are split over the threads, each summing its share into a
 * private buffer; the shares are then added in thread order. */
void qs_convk_dweight(float *dweight, const float *dy, const float *x,
                      const qs_conv_shape *s, float *scratch);

/* dx (+)= input gradient of the conv s (any stride; conv.c uses it where
 * the stride-1 form above does not apply): per image, W^T dy_n by the
 * kernel of qs_convk_conv, then col2im. */
size_t qs_convk_dxs_scratch(const qs_conv_shape *s);
void qs_convk_dx_strided(float *dx, const float *dy, const float *w,
                         const qs_conv_shape *s, float *scratch);
#endif
