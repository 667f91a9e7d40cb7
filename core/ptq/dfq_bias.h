/* Data-free bias correction (Nagel et al. 2019, section 4.2): quantizing
 * a layer's weights W to W~ shifts its output mean by (W~ - W) E[x]; with
 * E[x] known per input channel the shift is subtracted from the layer's
 * bias. E[x] comes from the statistics kept by BN folding (cle.h): a
 * layer whose input is a ReLU / ReLU6 / quantized ReLU after a folded BN
 * with N(mu, sd^2) per channel has E[x_c] = E[clip(N(mu_c, sd_c^2), 0, hi)]
 * (the clipped-normal mean; hi the activation's upper clip, infinite for a
 * plain ReLU), through a global average pool too; a layer reading a folded
 * BN directly has E[x_c] = mu_c. Other layers (after an add, the image)
 * are left as they are. The shift is the spatial mean of the output, so
 * each conv tap counts by the share of output positions where it reads the
 * input rather than the zero padding (the paper takes every tap as
 * reading E[x], which on 8x8 or 4x4 maps misses most of the border). */
#ifndef QS_DFQ_BIAS_H
#define QS_DFQ_BIAS_H

#include "model.h"
#include "ptq.h"

/* E[clip(X, lo, hi)] for X ~ N(mu, sd^2); hi may be INFINITY. */
double qs_dfq_clipped_mean(double mu, double sd, double lo, double hi);

/* Corrects every quantized layer with a bias node (qs_ptq_bias_node) whose
 * input statistics are known; *ncorrected (may be NULL) gets the count.
 * Call after the weight steps and rounding are final (it reads the grid). */
int qs_dfq_bias_correct(int *ncorrected, qs_model *m, const qs_ptq_bnstats *st);

#endif
