/* Data-free quantization (Nagel et al. 2019): cross-layer equalisation and
 * high-bias absorption over the chains qs_ptq_pairs lists
 * (docs/ptq-methods.md).
 *
 * Both work on a BN-folded model (qs_ptq_fold_bn_stats). Folding loses
 * what absorption and the data-free bias correction need, the
 * distribution of each BN's output N(beta, gamma^2) per channel; the
 * fold keeps it in a qs_ptq_bnstats, which these functions keep true:
 *
 *     qs_ptq_fold_bn_stats(m, &st, NULL);
 *     qs_cle_equalize(&rep, m, &st, &cfg);    rescales st with the channels
 *     qs_cle_absorb(&moved, m, &st);          shifts st's means
 *     (weight steps, rounding)
 *     qs_dfq_bias_correct(&nfix, m, &st);     dfq_bias.h
 */
#ifndef QS_CLE_H
#define QS_CLE_H

#include "model.h"
#include "ptq.h"

typedef struct {
    int max_sweeps;     /* passes over all pairs (default 100) */
    double tol;         /* stop when every |log s_i| of a pass is below this (1e-4) */
} qs_cle_cfg;

void qs_cle_cfg_default(qs_cle_cfg *c);

typedef struct {
    int npair;           /* pairs equalised (ReLU6 chains are skipped) */
    int sweeps;          /* passes made */
    double last_change;  /* max |log s_i| of the last pass */
} qs_cle_report;

/* Equalises every pair: s_i = sqrt(r1_i r2_i) / r2_i with r the per-channel
 * max |w| (output channel i of the producer, input channel i of the
 * consumer), producer channel / s_i, consumer channel * s_i, repeated
 * until the scales stop changing (chains sharing a layer, as the
 * expand -> dw -> project of a depthwise block, need several passes).
 * ReLU6 chains are skipped: scaling would move the clip at 6. st (may be
 * NULL) is rescaled with the channels; the layers' weight steps are reset
 * so the next quantization searches afresh. */
int qs_cle_equalize(qs_cle_report *out, qs_model *m, qs_ptq_bnstats *st,
                    const qs_cle_cfg *c);

/* High-bias absorption: for each pair with a folded BN whose consumer has
 * a bias (qs_ptq_bias_node), c_i = max(0, mean_i - 3 std_i) moves from the
 * producer's bias into the consumer's (b2 += W2 c). Exact where the
 * pre-activation stays above c_i and away from the consumer's zero
 * padding. *moved (may be NULL) gets the number of channels shifted. */
int qs_cle_absorb(int *moved, qs_model *m, qs_ptq_bnstats *st);

/* Per-channel weight ranges max |w| of layer node `node`: axis 0 along its
 * output channels ([c] floats), axis 1 along the channels of its input
 * (the input node's c). For tests and reports. */
int qs_cle_ranges(float *r, const qs_model *m, int node, int axis);

#endif
