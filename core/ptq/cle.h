/* Data-free quantization (Nagel et al. 2019): cross-layer equalisation and
 * high-bias absorption over the conv pairs of a BN-folded model
 * (docs/ptq-methods.md).
 *
 * Every function here works on a model whose BNs are folded into their
 * convs (each BN a pure bias add: gamma 1, running mean 0, running var
 * 1 - eps, beta the folded bias). Folding loses what absorption and
 * data-free bias correction need, the distribution of each BN's output,
 * N(beta, gamma^2) per channel, so that is captured first:
 *
 *     qs_cle_stats_capture(&st, m);    BN gamma/beta, before folding
 *     qs_ptq_fold_bn(m);
 *     qs_cle_equalize(&rep, m, &st, &cfg);   rescales st with the channels
 *     qs_cle_absorb(m, &st);                 shifts st's means
 *     (quantize) qs_dfq_bias_correct(m, &st);
 */
#ifndef QS_CLE_H
#define QS_CLE_H

#include "model.h"

/* Per-channel mean and std of every BN output, indexed like the model's
 * buffer vector: channel j of BN node n at n->rm_off + j (nbuf floats). */
typedef struct {
    long nbuf;
    float *mean, *std;
} qs_cle_stats;

/* mean = beta, std = |gamma| of every BN node; call before folding. */
int qs_cle_stats_capture(qs_cle_stats *out, const qs_model *m);
void qs_cle_stats_free(qs_cle_stats *s);

/* A pair: layer `first` (conv, depthwise conv or linear) whose output goes,
 * through at most one BN (its bias after folding, `bn`, -1 if none) and a
 * plain ReLU, to layer `second` alone. Scaling output channel i of first
 * by 1/s and input channel i of second by s (s > 0) leaves the network's
 * function unchanged because ReLU is positively homogeneous. ReLU6 points
 * are skipped (not homogeneous). */
typedef struct {
    int first, bn, relu, second;
} qs_cle_pair;

/* Lists the pairs of m in graph order; *out is malloc'd (NULL when none). */
int qs_cle_pairs(qs_cle_pair **out, int *npair, const qs_model *m);

typedef struct {
    int max_sweeps;     /* passes over all pairs (default 100) */
    double tol;         /* stop when every |log s_i| of a sweep is below this (1e-4) */
} qs_cle_cfg;

void qs_cle_cfg_default(qs_cle_cfg *c);

typedef struct {
    int npair;
    int sweeps;          /* passes made */
    double last_change;  /* max |log s_i| of the last pass */
} qs_cle_report;

/* Equalises every pair: s_i = sqrt(r1_i r2_i) / r2_i with r the per-channel
 * max |w| (output channel i of first, input channel i of second), repeated
 * until the scales stop changing. st (may be NULL) is rescaled with the
 * channels. Fails, changing nothing, when a pair's BN is not folded. */
int qs_cle_equalize(qs_cle_report *out, qs_model *m, qs_cle_stats *st,
                    const qs_cle_cfg *c);

/* High-bias absorption: for each pair whose second layer has a bias (its
 * folded BN, or a linear's own), c_i = max(0, mean_i - 3 std_i) moves from
 * first's bias into second's (b2 += W2 c). Exact where the pre-activation
 * stays above c_i and away from second's zero padding. *moved (may be
 * NULL) gets the number of channels shifted. */
int qs_cle_absorb(int *moved, qs_model *m, qs_cle_stats *st);

/* Per-channel weight ranges max |w| of a layer node: along output channels
 * (axis 0: [c] floats) or input channels (axis 1: conv in_c, linear
 * in_features, depthwise c). For tests and reports. */
int qs_cle_ranges(float *r, const qs_model *m, int node, int axis);

#endif
