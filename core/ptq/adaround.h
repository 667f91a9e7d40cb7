/* AdaRound (Nagel et al. 2020): per layer, learn for every weight whether
 * it rounds down or up on its grid (docs/ptq-methods.md).
 *
 * A weight w on grid step s (qgrid.h) becomes
 *     w~ = s clip(floor(w / s) + h(V), -Qp, Qp),
 *     h(V) = clip(sigmoid(V) (zeta - gamma) + gamma, 0, 1), zeta 1.1, gamma -0.1,
 * with V initialised so that h(V) = w / s - floor(w / s). Adam minimises
 *     L = rec + lambda sum(1 - |2 h - 1|^beta),
 *     rec = mean over examples and positions of sum over output channels
 *           of (W~ x~ - W x)^2,
 * where x is the layer's input in the float network and x~ its input in the
 * network whose earlier layers are already rounded (and whose activations
 * are quantized): the paper's asymmetric reconstruction. The regulariser is
 * off for the first `warmup` share of the iterations, then beta falls
 * linearly from beta_start to beta_end. At the end w = s (floor + [h >= 0.5])
 * is written back as the float weight, so the model's own quantizer
 * reproduces it. */
#ifndef QS_ADAROUND_H
#define QS_ADAROUND_H

#include <stdint.h>

#include "model.h"
#include "ptq.h"
#include "qgrid.h"

#define QS_ADAROUND_ZETA 1.1
#define QS_ADAROUND_GAMMA (-0.1)

typedef struct {
    int iterations;           /* Adam steps per layer */
    int batch;                /* examples per step (32) */
    double lambda;            /* regulariser weight (0.01) */
    double warmup;            /* share of steps without the regulariser (0.2) */
    double beta_start, beta_end; /* annealed 20 -> 2 */
    double lr;                /* Adam step size (1e-3), betas 0.9 / 0.999 */
    uint64_t seed;            /* batch sampling */
} qs_adaround_cfg;

/* The paper's settings, iterations 10000. */
void qs_adaround_cfg_default(qs_adaround_cfg *c);
/* Range checks; the message names the setting. */
int qs_adaround_cfg_validate(const qs_adaround_cfg *c);

/* One layer's problem: its grid, floor codes and scratch for a batch. */
typedef struct {
    qs_model *m;
    int node;
    qs_qgrid g;
    long wlen;
    size_t in_len, out_len;   /* floats per example of input and output */
    int batch;
    float *base;              /* floor(w / s), [wlen] */
    float *ws, *dws;          /* soft weights and their gradient, [wlen] */
    float *y, *dy;            /* [batch, out_len] */
    float *scratch;           /* conv im2col */
} qs_adaround_layer;

/* For quantized layer node `node` (conv, dwconv or linear) of m. */
int qs_adaround_layer_init(qs_adaround_layer *L, qs_model *m, int node, int batch);
void qs_adaround_layer_free(qs_adaround_layer *L);
/* v [wlen] so that h(v) equals the fractional part of w / s. */
void qs_adaround_v_init(float *v, const qs_adaround_layer *L);
/* The objective above for nb <= batch examples: x [nb, in_len] the
 * rounded network's inputs, t [nb, out_len] the float layer's outputs
 * (without bias). dv (may be NULL) gets dL/dv. lambda 0: rec alone. */
double qs_adaround_loss(float *dv, qs_adaround_layer *L, const float *v, const float *x,
                        const float *t, int nb, double beta, double lambda);
/* y [nb, out_len] = the layer on x [nb, in_len] with weights w, no bias;
 * nb <= batch. */
void qs_adaround_forward(float *y, qs_adaround_layer *L, const float *x, const float *w, int nb);
/* rec of weights wq [wlen] on nb examples (the same sum as the loss). */
double qs_adaround_rec(qs_adaround_layer *L, const float *wq, const float *x, const float *t,
                       int nb);
/* wq [wlen] = s clip(floor + [h(v) >= 0.5], -Qp, Qp). */
void qs_adaround_hard(float *wq, const qs_adaround_layer *L, const float *v);

/* Per-layer outcome of qs_adaround_model: rec on the calibration set
 * (mean over its examples) with nearest rounding and with AdaRound. */
typedef struct {
    int nlayer;
    int *node;
    double *rec_nearest, *rec_adaround;
} qs_adaround_result;

void qs_adaround_result_free(qs_adaround_result *r);

/* Rounds every quantized layer of m in graph order: calib [n, in_c, in_h,
 * in_w] are the calibration images, forwarded in batches of m->max_batch.
 * m's weight grids (steps) and activation clips must be final. out (may be
 * NULL) gets the per-layer figures. */
int qs_adaround_run(qs_adaround_result *out, qs_model *m, const float *calib, int n,
                    const qs_adaround_cfg *c);
/* The ptq phase's call: iterations, batch and seed from the phase's
 * settings, the rest the paper's. */
int qs_adaround_model(qs_model *m, const float *calib, int n, const qs_ptq_cfg *c);

#endif
