/* Layer kernels: forward and backward passes over raw float32 buffers.
 *
 * Layout is NCHW throughout. Conventions every kernel follows:
 * - outputs first in the argument list, then inputs, then shapes;
 * - backward passes ACCUMULATE into dx and into parameter gradients
 *   (dx += ..., dw += ...), because a tensor consumed twice (residual
 *   branches) receives the sum of both gradients; callers zero the gradient
 *   buffers once per step. A NULL dx means "input gradient not needed"
 *   (the image input) and skips that work;
 * - no allocation: scratch buffers are passed in, sized by the *_scratch()
 *   helpers;
 * - reductions run in a fixed order (double accumulators where sums are
 *   long), so results are bit-identical run to run at a given thread count.
 */
#ifndef QS_LAYERS_H
#define QS_LAYERS_H

#include <stddef.h>

/* ---- conv2d, groups = 1 (im2col + gemm) ---------------------------------
 * x [n, c, h, w], weight [k, c, kh, kw], bias [k] (may be NULL),
 * y [n, k, ho, wo] with ho = (h + 2 pad - kh) / stride + 1 (same for wo). */
typedef struct {
    int n, c, h, w;       /* input */
    int k, kh, kw;        /* output channels, kernel size */
    int stride, pad;
    int ho, wo;           /* output spatial size, filled by qs_conv_shape_init */
} qs_conv_shape;

/* Fills ho/wo; returns 0, or -1 when the kernel does not fit the input. */
int qs_conv_shape_init(qs_conv_shape *s, int n, int c, int h, int w, int k,
                       int kh, int kw, int stride, int pad);
/* Floats of scratch that conv forward/backward need (im2col buffer). */
size_t qs_conv2d_scratch(const qs_conv_shape *s);

void qs_conv2d_forward(float *y, const float *x, const float *weight,
                       const float *bias, const qs_conv_shape *s,
                       float *scratch);
/* dx may be NULL; dbias may be NULL (when the conv has no bias). acc 1:
 * dx += the input gradient; acc 0: dx = it (dx's old contents are not
 * read: the first writer of a gradient buffer needs no zeroing pass). */
void qs_conv2d_backward(float *dx, float *dweight, float *dbias,
                        const float *dy, const float *x, const float *weight,
                        const qs_conv_shape *s, float *scratch, int acc);

/* ---- depthwise conv (groups = channels), any odd kernel, usually 3x3 ------
 * x [n, c, h, w], weight [c, 1, kh, kw], y [n, c, ho, wo]; s->k == s->c. */
void qs_dwconv_forward(float *y, const float *x, const float *weight,
                       const qs_conv_shape *s);
/* The same, and bn_sums [3c] (or NULL) set to the statistics sums of y
 * that qs_bn_forward_train_sums takes (qs_bn_sums_plane over each plane
 * as it is written, still in cache): a BN reading y then skips its own
 * pass over it, with the same bits. */
void qs_dwconv_forward_sums(float *y, const float *x, const float *weight,
                            const qs_conv_shape *s, double *bn_sums);
/* dweight += its gradient; dx (may be NULL) += the input gradient, or
 * acc 0: dx = it (as qs_conv2d_backward: no zeroing pass before it). */
void qs_dwconv_backward(float *dx, float *dweight, const float *dy,
                        const float *x, const float *weight,
                        const qs_conv_shape *s, int acc);

/* ---- batch norm over (n, hw) per channel ---------------------------------
 * x, y [n, c, hw]; gamma, beta, run_mean, run_var, save_mean, save_invstd [c].
 * Training: normalise with the batch's biased variance; update running stats
 * as run = (1 - momentum) run + momentum batch, with the UNBIASED variance
 * (PyTorch semantics); save mean and 1/sqrt(var + eps) for backward. */
/* relu 1: a ReLU fused in (the model does it when the ReLU is BN's only
 * consumer): the forward writes max(0, y), the backward takes the ReLU's
 * output gradient and masks it by y > 0 (y recomputed from x, the same
 * bits as the forward's); the same results as BN then qs_relu_*, bit for
 * bit, one pass over the activations fewer each way. */
void qs_bn_forward_train(float *y, float *save_mean, float *save_invstd,
                         float *run_mean, float *run_var, const float *x,
                         const float *gamma, const float *beta, int n, int c,
                         int hw, float momentum, float eps, int relu);
/* The statistics of one channel as BN's training forward takes them: acc
 * [3] = k, sum (x - k), sum (x - k)^2 with k the channel's first value,
 * added to plane by plane (images in order; first: plane of image 0, which
 * sets k and clears the sums). */
void qs_bn_sums_plane(double acc[3], const float *x, size_t hw, int first);
/* qs_bn_forward_train with each channel's sums [3c] from qs_bn_sums_plane
 * over x (NULL: computed here); the same bits, one pass over x fewer. */
void qs_bn_forward_train_sums(float *y, float *save_mean, float *save_invstd,
                              float *run_mean, float *run_var, const float *x,
                              const float *gamma, const float *beta, int n,
                              int c, int hw, float momentum, float eps,
                              int relu, const double *sums);
void qs_bn_forward_eval(float *y, const float *x, const float *gamma,
                        const float *beta, const float *run_mean,
                        const float *run_var, int n, int c, int hw, float eps,
                        int relu);
/* dx += (acc 1) or = (acc 0) the input gradient, as in conv backward */
void qs_bn_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                    const float *x, const float *save_mean,
                    const float *save_invstd, const float *gamma,
                    const float *beta, int n, int c, int hw, int acc, int relu);

/* ---- ReLU, elementwise over len floats ---------------------------------- */
void qs_relu_forward(float *y, const float *x, size_t len);
/* dx += dy where y > 0 (y is the forward output). */
void qs_relu_backward(float *dx, const float *dy, const float *y, size_t len,
                      int acc);

/* ---- linear ---------------------------------------------------------------
 * x [n, in], weight [out, in] (PyTorch layout), bias [out] (may be NULL),
 * y [n, out] = x weight^T + bias. */
void qs_linear_forward(float *y, const float *x, const float *weight,
                       const float *bias, int n, int in, int out);
void qs_linear_backward(float *dx, float *dweight, float *dbias,
                        const float *dy, const float *x, const float *weight,
                        int n, int in, int out);

/* ---- global average pool: x [n, c, hw] -> y [n, c] ----------------------- */
void qs_gap_forward(float *y, const float *x, int n, int c, int hw);
void qs_gap_backward(float *dx, const float *dy, int n, int c, int hw);

/* ---- residual add: y = (a + b) * scale (scale 1, or 0.5 for the FCDNN) --- */
void qs_add_forward(float *y, const float *a, const float *b, float scale,
                    size_t len);
/* da += scale dy, db += scale dy (either may be NULL); acc_a / acc_b 0:
 * = instead of += for that one. */
void qs_add_backward(float *da, float *db, const float *dy, float scale,
                     size_t len, int acc_a, int acc_b);

/* ---- softmax cross-entropy ------------------------------------------------
 * logits [n, classes], labels [n]. Returns the mean loss; *correct gets the
 * number of argmax hits (may be NULL). dlogits (may be NULL) is SET (not
 * accumulated) to (softmax - onehot) * grad_scale, where grad_scale is
 * usually 1/n for a mean loss. */
double qs_softmax_xent(float *dlogits, int *correct, const float *logits,
                       const int *labels, int n, int classes,
                       float grad_scale);
/* The same with label smoothing eps in [0, 1) as PyTorch defines it: the
 * target is (1 - eps) onehot + eps / classes, the loss -sum_j t_j log p_j
 * and dlogits (softmax - t) * grad_scale. eps = 0 is qs_softmax_xent. */
double qs_softmax_xent_ls(float *dlogits, int *correct, const float *logits,
                          const int *labels, int n, int classes,
                          float grad_scale, double eps);

#endif
