/* BitPruning (Nikolić et al., 2020): a learned, real bit width b per layer
 * (docs/quantizers.md, "BitPruning"). The forward quantizes at two
 * neighbouring integer widths and interpolates by the fraction of b; the
 * loss adds lambda times the mean bit width. Kernels over raw buffers,
 * scalar; the model decides where they apply (not wired into training yet).
 *
 * Widths: lo = min(floor(b), QS_BP_BMAX - 1), hi = lo + 1, f = b - lo, so
 * f is in [0, 1) below the top and 1 at b = QS_BP_BMAX:
 *     y = (1 - f) Q_lo(x) + f Q_hi(x)
 * At an integer b < QS_BP_BMAX, f = 0 and y is Q_b(x) bit for bit; at
 * b = QS_BP_BMAX, y is Q_BMAX(x). hi = lo + 1 (not ceil(b)) keeps dL/db
 * nonzero at integers, where ceil(b) = floor(b) would stop b for good.
 *
 * Q_k is the plain quantizer of that width:
 *   activations: PACT at clip alpha (qs_pact_forward, k >= 1);
 *   weights: the symmetric uniform quantizer whose clip level is `clip`
 *     at every width, step s_k = clip / (2^(k-1) - 1) (qs_lsq_w_forward:
 *     Hwang-Sung's codes at D = s_k), k >= 2. */
#ifndef QS_BITPRUNE_H
#define QS_BITPRUNE_H

#include <stddef.h>

#define QS_BP_BMAX 8
/* The lowest widths the plain quantizers have: PACT has two levels at 1
 * bit, symmetric weights need 2 bits for a zero and two signs. */
#define QS_BP_ACT_BMIN 1
#define QS_BP_W_BMIN 2

/* The two widths and the fraction of b (b in [1, QS_BP_BMAX]). */
typedef struct {
    int lo, hi;
    float f;
} qs_bp_split;
qs_bp_split qs_bp_split_bits(float b);

/* b clamped to [bmin, QS_BP_BMAX] after each optimiser step (bmin 1 or 2:
 * QS_BP_ACT_BMIN, QS_BP_W_BMIN, or higher); a NaN b becomes bmin. */
float qs_bp_clamp(float b, float bmin);
/* The width a layer keeps when the learned phase ends: ceil(b), so no
 * layer ends with fewer bits than it trained with at its upper width. */
int qs_bp_round_up(float b);

/* ---- activations (PACT at clip alpha > 0), x, y [len] ---- */
void qs_bp_act_forward(float *y, const float *x, size_t len, float alpha, float b);
/* dx [len] += the straight-through gradient (dy where 0 <= x < alpha, the
 * same range at both widths); *db += sum dy (Q_hi(x) - Q_lo(x)); returns
 * dL/dalpha = sum dy where x >= alpha (PACT's rule, at both widths). */
double qs_bp_act_backward(float *dx, double *db, const float *dy, const float *x, size_t len,
                          float alpha, float b);

/* ---- weights (clip > 0), w, q [len]; a b below QS_BP_W_BMIN counts as
 * QS_BP_W_BMIN ---- */
void qs_bp_w_forward(float *q, const float *w, size_t len, float clip, float b);
/* dw [len] += (1 - f) dq [inside at lo] + f dq [inside at hi] (inside:
 * -Qp < w / s_k < Qp, strict, LSQ's straight-through rule); *db += sum dq
 * (Q_hi(w) - Q_lo(w)). */
void qs_bp_w_backward(float *dw, double *db, const float *dq, const float *w, size_t len,
                      float clip, float b);

/* ---- the bit-width loss ----
 * R = lambda sum_l c_l b_l / sum_l c_l over n layers, c_l = 1 (uniform),
 * the layer's parameters, or its multiply-accumulates per example.
 * *r = R, db [n] += dR/db_l = lambda c_l / sum c. A weighting without its
 * counts, a negative count or lambda, or counts summing to 0 is QS_EINVAL. */
typedef enum { QS_BP_UNIFORM = 0, QS_BP_PARAMS = 1, QS_BP_MACS = 2 } qs_bp_weighting;
extern const char *const qs_bp_weighting_names[]; /* "uniform", "params", "macs" */
int qs_bp_loss(double *r, double *db, const float *b, const double *params, const double *macs,
               int n, qs_bp_weighting mode, double lambda);

#endif
