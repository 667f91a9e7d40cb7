/* LSQ weight quantizer and LSQ+ activation quantizer (methods.md section 7;
 * every choice is written up in docs/quantizers.md).
 *
 * Weights, symmetric, one learnable step s per tensor or per output channel
 * (b >= 2 bits, Qp = 2^(b-1) - 1, v = w / s):
 *   q = clip(round(v), -Qp, Qp) s
 * so at 2 bits the levels {-s, 0, s} are Hwang & Sung's ternary levels and
 * at any b the codes equal qs_wquant's at D = s.
 * Backward (LSQ, Esser et al.): dw = dq where -Qp < v < Qp, else 0;
 *   ds = g sum dq * (round(v) - v inside, -Qp below, +Qp above),
 *   g = 1 / sqrt(N Qp), N = the weights that share s.
 *
 * Activations, asymmetric (LSQ+, Bhalgat et al.), learnable s and beta,
 * P = 2^b - 1, u = (x - beta) / s:
 *   y = round(clip(u, 0, P)) s + beta
 * Backward, inside meaning 0 <= u < P (PACT's rule at the bottom, so u = 0
 * passes; LSQ's at the top): dx = dy inside, else 0;
 *   ds = g sum dy * (round(u) - u inside, 0 below, P above),
 *   dbeta = sum dy outside, 0 inside,
 *   g = 1 / sqrt(F P), F = the elements per example of the tensor.
 * Rounding is half away from zero (weights) and half up (activations,
 * u >= 0 after the clip), the roundings of wquant.c and pact.c. */
#ifndef QS_LSQ_H
#define QS_LSQ_H

#include <stddef.h>

/* The least step (weights) and scale s (activations) training leaves:
 * nothing in the gradient keeps s > 0, and an optimiser step larger than
 * s (Adam moves every parameter by about lr, whatever s is) takes it to 0
 * or below, where w / s is inf or NaN and an activation's u < 0 clips
 * everything to 0 with ds = 0 for good. Far below any useful step. */
#define QS_LSQ_STEP_MIN 1e-6f

/* Qp = 2^(bits-1) - 1 and P = 2^bits - 1 as floats. */
float qs_lsq_wqp(int bits);
float qs_lsq_ap(int bits);
/* The gradient scales: 1 / sqrt(n Qp) and 1 / sqrt(features P). */
double qs_lsq_w_grad_scale(size_t n, int bits);
double qs_lsq_act_grad_scale(size_t features, int bits);

/* ---- weights: w, q [nch, len / nch] (row c uses s[c]); nch = 1 is per
 * tensor, nch = the output channels is per channel (our conv and linear
 * weights are stored output channel first). bits 2..24. */
void qs_lsq_w_forward(float *q, const float *w, size_t len, const float *s,
                      int nch, int bits);
/* dq, w [len] -> dw [len] (overwritten; may be dq itself), ds [nch] +=
 * the scaled step gradient of each row (g uses N = len / nch). */
void qs_lsq_w_backward(float *dw, float *ds, const float *dq, const float *w,
                       size_t len, const float *s, int nch, int bits);
/* E(s) = sum (w - q(w; s))^2 of one row [len] (double sum in order). */
double qs_lsq_w_error(const float *w, size_t len, float s, int bits);

typedef enum { QS_LSQ_WINIT_MSE = 0, QS_LSQ_WINIT_MEAN = 1 } qs_lsq_winit;
/* Initial steps s [nch] of w [nch, len / nch]:
 * MSE: per row, the least-error step among the QS_LSQ_WCAND candidates
 *   s_j = (j / QS_LSQ_WCAND) max|w| / Qp, j = 1 .. QS_LSQ_WCAND (ties to
 *   the smaller j);
 * MEAN: 2 mean|w| / sqrt(Qp) (the LSQ paper's rule).
 * An all-zero row gets s = 1 (its q stays 0 at any step). */
#define QS_LSQ_WCAND 100
void qs_lsq_w_init(float *s, const float *w, size_t len, int nch, int bits,
                   qs_lsq_winit rule);

/* ---- activations: x, y [len]; s > 0. Elementwise, split over the job's
 * threads. A NaN x stays NaN. */
void qs_lsq_act_forward(float *y, const float *x, size_t len, float s,
                        float beta, int bits);
/* dy, x [len] -> dx [len] += the STE gradient; *ds = g sum ... and
 * *dbeta = sum ... (set, not added); features gives g. The sums run in
 * fixed blocks added in order: the same bits at any thread count. */
void qs_lsq_act_backward(float *dx, double *ds, double *dbeta, const float *dy,
                         const float *x, size_t len, float s, float beta,
                         int bits, size_t features);
/* Mean squared error of the quantizer on y [len] (NaNs skipped). */
double qs_lsq_act_error(const float *y, size_t len, float s, float beta,
                        int bits);
/* MSE init on a calibration sample y [len] (sorted in place, NaNs left
 * out). offset 0: beta = 0 and s = q / P for the quantile q of y among
 * 0.50, 0.505, ..., 1.00 (PACT's candidates) with the least error;
 * offset 1: beta = q_lo, s = (q_hi - q_lo) / P over the quantile pairs
 * q_lo in 0, 0.02, ..., 0.50 and q_hi in 0.50, 0.52, ..., 1.00 with
 * q_hi > q_lo. Ties go to the earlier candidate. No positive range
 * (every value equal): s = 1, beta = 0 (offset 0) or the value. */
#define QS_LSQ_ACAND 101
#define QS_LSQ_OCAND 26
void qs_lsq_act_init_mse(float *s, float *beta, float *y, size_t len,
                         int bits, int offset);

#endif
