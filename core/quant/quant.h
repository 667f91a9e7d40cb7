/* Quantizers and regularizers of methods.md sections 2, 4 and 5.
 * Kernels over raw float buffers; the model decides where they apply. */
#ifndef QS_QUANT_H
#define QS_QUANT_H

#include <stddef.h>

/* ---- weight quantizer (Hwang & Sung uniform, one step size per layer) ----
 * bits >= 2: M = 2^(bits-1) - 1, z = clip(round(w / D), -M, M), q = D z.
 * bits == 1: z = sign(w) (0 -> +1), D = mean |w|.
 * *step is in/out: on entry with *step <= 0 (first call) the coarse search
 * over 64 candidates D = (j/64) max|w| / M runs, then alternating
 * minimisation until z stops changing (max 100 iterations); with *step > 0
 * it warm-starts there and alternates at most 10 times.
 * q [len] gets the quantized weights; returns the error E = sum (w - q)^2.
 * All-zero w gives D = 0 handled safely (q = 0). */
double qs_wquant(float *q, float *step, const float *w, size_t len, int bits);
/* qs_wquant without E (the same q and *step): what training calls. */
void qs_wquant_apply(float *q, float *step, const float *w, size_t len,
                     int bits);
/* E(D) for a given step (used by the search and by tests). */
double qs_wquant_error(const float *w, size_t len, int bits, float step);

/* ---- PACT activation quantizer -------------------------------------------
 * y = clip(x, 0, a); yq = round(y (2^k - 1) / a) a / (2^k - 1).
 * bits 32 = no rounding (plain clip), used for gradient checks. */
void qs_pact_forward(float *y, const float *x, size_t len, float alpha, int bits);
/* dx += dy where 0 <= x < a; returns dL/da = sum of dy where x >= a. */
double qs_pact_backward(float *dx, const float *dy, const float *x, size_t len,
                        float alpha);
/* MSE calibration: picks, among the 101 quantiles q = 0.50..1.00 (step
 * 0.005) of y (the float ReLU outputs, len values, modified: sorted in
 * place), the clip a minimising mean (y - pact(y, a, bits))^2. Returns a
 * (falls back to 1 when every y is 0). */
float qs_pact_calibrate_mse(float *y, size_t len, int bits);
/* Percentile p in [0, 100] of y (sorted in place). */
float qs_pact_calibrate_percentile(float *y, size_t len, double p);

/* ---- Lipschitz (Parseval) regularizer -------------------------------------
 * w is a (fan_in x fan_out) matrix stored row-major as [fan_in, fan_out]...
 * but our layers store weights as [fan_out, fan_in] (conv: [k, c*kh*kw],
 * linear: [out, in]), i.e. W^T. So the kernel takes wt [fan_out, fan_in]:
 *   R = (beta / 2) || W^T W - I ||_F^2 with W^T W = wt wt^T [fan_out, fan_out]
 *   dR/dwt = 2 beta (wt wt^T - I) wt
 * Adds the gradient into dwt; returns R. scratch: fan_out * fan_out floats. */
double qs_lipschitz(float *dwt, const float *wt, int fan_out, int fan_in,
                    float beta, float *scratch);

/* ---- discrete cyclical learning rate (section 4) --------------------------
 * step_iters = round(period / 8 * iters_per_epoch) (at least 1);
 * iteration it is in step s = (it / step_iters) mod 8;
 * triangle: t = 0, 1/4, 2/4, 3/4, 1, 3/4, 2/4, 1/4; sawtooth: t = s/7;
 * lr = lr_max * (lr_min / lr_max)^t. */
typedef enum { QS_CLR_TRIANGLE = 0, QS_CLR_SAWTOOTH = 1 } qs_clr_shape;
double qs_clr_lr(long it, int iters_per_epoch, double period_epochs,
                 double lr_max, double lr_min, qs_clr_shape shape);

#endif
