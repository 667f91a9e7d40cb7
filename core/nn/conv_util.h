/* Helpers shared by the conv kernels (conv.c, convk.c, dwconv.c); not part
 * of the layer API. Defined in conv.c. */
#ifndef QS_CONV_UTIL_H
#define QS_CONV_UTIL_H

#include "layers.h"

/* Output positions o in [*lo, *hi) whose input index o*stride + off lies in
 * [0, in); computed once per kernel tap so the copy loops need no checks. */
void qs_conv_valid_range(int *lo, int *hi, int off, int stride, int in, int out);

/* col [c*kh*kw, ho*wo] <- x_n [c, h, w] (one image); padding reads as zero. */
void qs_conv_im2col(float *restrict col, const float *restrict x,
                    const qs_conv_shape *s);

/* dx_n [c, h, w] += col2im(dcol [c*kh*kw, ho*wo]); padding taps dropped. */
void qs_conv_col2im_add(float *restrict dx, const float *restrict col,
                        const qs_conv_shape *s);
#endif
