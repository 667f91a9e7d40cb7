/* Post-training quantization (docs/ptq.md): from a trained float model to a
 * quantized one without retraining. The pieces, in the order a ptq phase
 * runs them (qs_ptq_run):
 *   1. qs_ptq_fold_bn: every BN that directly follows a conv / dwconv /
 *      linear is folded into it (the graph keeps its nodes);
 *   2. cross-layer equalisation and high-bias absorption (cle.h), over the
 *      chains qs_ptq_pairs lists, when cfg.equalize;
 *   3. activation clips at each ReLU by MSE on calib_images training images
 *      of the float (folded, equalised) network;
 *   4. weight steps by the Hwang-Sung MSE search, per tensor or per output
 *      channel, then nearest rounding or AdaRound (adaround.h);
 *   5. bias correction (empirical on the calibration set, or from the BN
 *      statistics kept by folding);
 *   6. evaluation on the test set.
 *
 * Representation of the result: the quantized model is expressed in the
 * LSQ parameterisation (core/quant/lsq.h) with fixed steps and zero
 * activation offsets, because that is the model's quantized forward that
 * carries one step per output channel: weight codes
 * clip(round(w / s_c), -Qp, Qp) are the Hwang-Sung codes at D = s_c, and
 * the ReLU quantizer round(clip(x / s, 0, P)) s is PACT's at alpha = P s.
 * A rounding other than nearest (AdaRound) writes its chosen grid points
 * back as the float weights w = s_c z, so the same forward (and every
 * checkpoint, export and integer inference of it) reproduces them. */
#ifndef QS_PTQ_H
#define QS_PTQ_H

#include <stddef.h>
#include <stdint.h>

#include "data.h"
#include "model.h"
#include "ptq_cfg.h"
#include "train.h"

/* ---------------------------------------------------------------- BN folding */

/* Folds, in eval semantics, every BN whose input is a conv / dwconv /
 * linear read by that BN alone: with sc = gamma / sqrt(rv + eps), the
 * producer's weight row c is multiplied by sc[c] (a linear's own bias too),
 * and the BN becomes a pure bias add: running mean 0, running var 1 - eps
 * (so its invstd is exactly 1), gamma 1, beta = beta - sc rm. Eval outputs
 * are unchanged up to float rounding; train-mode BN of a folded model is
 * meaningless (it renormalises), and a ptq phase never trains.
 * BNs that cannot be folded forward (after an add, after the input, or
 * whose producer feeds another node too, as in the pre-activation blocks)
 * are left exactly as they are: an eval-mode affine map in float.
 * A BN already folded (mean 0, var 1 - eps, gamma 1) folds again as a
 * no-op, so the call is idempotent. *nfolded (may be NULL) gets the count. */
int qs_ptq_fold_bn(qs_model *m, int *nfolded);

/* The per-channel distribution of each folded BN's output before folding:
 * N(beta, gamma^2) in the BN's own terms (mean[c] = beta, std[c] = |gamma|)
 * for the data-free steps (high-bias absorption, BN bias correction).
 * Indexed by node: mean[i] / std[i] are NULL for nodes that are not a
 * folded BN. Equalisation rescales them with the channels it rescales. */
typedef struct {
    int nnode;
    float **mean, **std;
} qs_ptq_bnstats;

/* qs_ptq_fold_bn that also fills st (freed with qs_ptq_bnstats_free). */
int qs_ptq_fold_bn_stats(qs_model *m, qs_ptq_bnstats *st, int *nfolded);
void qs_ptq_bnstats_free(qs_ptq_bnstats *st);

/* The node that adds node i's bias after folding: the folded BN that reads
 * i, or i itself for a linear with a bias and no folded BN; -1 if i has no
 * bias to correct (a conv straight into an add). *off gets the parameter
 * offset of that bias ([c] floats, BN beta or linear bias). */
int qs_ptq_bias_node(const qs_model *m, int i, long *off);

/* ---------------------------------------------------------------- pairs */

/* A chain producer -> [folded BN] -> ReLU -> consumer along which
 * equalisation may rescale the producer's output channels: channel c of
 * the producer scaled by 1 / s_c and input channel c of the consumer by
 * s_c leaves the network unchanged because ReLU is positively homogeneous.
 * Each link is the single consumer of the one before it (no add, no
 * fan-out in between). producer: conv, dwconv or linear; consumer: conv,
 * dwconv or linear: input channel c is a conv's weight columns
 * c*kh*kw .. (c+1)*kh*kw - 1 of every row, a dwconv's row c, and a linear's
 * columns c*hw .. (c+1)*hw - 1 (hw the spatial size of the ReLU output). */
typedef struct {
    int prod;     /* node index of the producer */
    int bn;       /* the folded BN between, -1 if none (FCDNN) */
    int act;      /* the ReLU node */
    int cons;     /* node index of the consumer */
    int relu6;    /* the activation is a ReLU6 point: scaling moves its
                     clip at 6, so equalisation must treat it (or skip it) */
} qs_ptq_pair;

/* Fills out[0 .. min(*n, max) - 1] in graph order and sets *n to the
 * number of chains (which may exceed max: call again with more room).
 * Call after qs_ptq_fold_bn (an unfolded BN between breaks the chain). */
int qs_ptq_pairs(qs_ptq_pair *out, int max, int *n, const qs_model *m);

/* ---------------------------------------------------------------- weights */

/* The weight steps of node i (a quantized conv / dwconv / linear of an LSQ
 * model): per tensor, the Hwang-Sung MSE step of the whole weight
 * (qs_wquant's full search); per channel, that search on each output row.
 * Written to the node's LSQ steps (m->param + step_off). */
int qs_ptq_weight_steps(qs_model *m, int i);

/* ---------------------------------------------------------------- data */

/* The calibration images: n training examples drawn by a shuffle at seed,
 * no augmentation, as one block x [n, c, h, w] (labels y [n] kept for
 * checks); the same images for every step of a phase. */
typedef struct {
    int n, c, h, w;
    float *x;
    int *y;
} qs_ptq_calib;

/* n > d->n is an error naming both counts. */
int qs_ptq_calib_load(qs_ptq_calib *out, const qs_dataset *d, int n, uint64_t seed);
void qs_ptq_calib_free(qs_ptq_calib *c);

/* ---------------------------------------------------------------- the phase */

/* The model configuration a ptq phase of mc's network builds: mc's bits,
 * the LSQ form (see the top) with fixed steps, per channel as c says, no
 * activation offset. */
void qs_ptq_model_cfg(qs_model_cfg *mc, const qs_ptq_cfg *c);

typedef struct {
    double test_loss, test_acc;     /* the quantized model on the test set */
    double calib_loss, calib_acc;   /* and on its calibration images */
    double seconds;                 /* wall time of the whole run */
    int nfolded, npairs;            /* BNs folded; equalisation chains */
    int ncorrected;                 /* layers whose bias was corrected */
} qs_ptq_result;

/* Steps 1-6 above on t's model, which holds the float parent
 * (qs_trainer_load_parent) and was built from qs_ptq_model_cfg; the
 * settings are t->cfg.ptq. The calibration images come from t->train,
 * the evaluation from t->test. Afterwards the model is the quantized one
 * (quant_ready), ready to be encoded as the phase's checkpoint. */
int qs_ptq_run(qs_ptq_result *out, qs_trainer *t);

/* The phase as the trainer's epoch loop looks from outside: qs_ptq_run,
 * then one metrics row (epoch 1 of 1: test loss and accuracy, the
 * calibration images' as train_loss / train_acc, seconds the wall time)
 * passed to cb (may be NULL); t->epoch_done becomes 1. */
int qs_ptq_phase(qs_trainer *t, qs_epoch_cb cb, void *user);

/* Empirical bias correction (step 5): for each quantized layer in graph
 * order that has a bias (qs_ptq_bias_node), the per-channel mean of its
 * output on cal in the quantized model (earlier layers already corrected)
 * minus that of the float model (fmean, from qs_ptq_float_means) is
 * subtracted from the bias. A layer whose output buffer a later node
 * overwrites in place (a float ReLU after a linear) is left out.
 * *ncorrected (may be NULL) gets the count. */
int qs_ptq_float_means(float **fmean, qs_model *m, const qs_ptq_calib *cal);
int qs_ptq_bias_correct(int *ncorrected, qs_model *m, const qs_ptq_calib *cal,
                        float *const *fmean);
void qs_ptq_means_free(float **fmean, const qs_model *m);

/* The steps of cle.c and dfq_bias.c (AdaRound: adaround.h). equalize:
 * cross-layer equalisation and high-bias absorption, rescaling st;
 * bias_correct_bn: the data-free bias correction from st. */
int qs_ptq_equalize(int *npairs, qs_model *m, qs_ptq_bnstats *st, const qs_ptq_cfg *c);
int qs_ptq_bias_correct_bn(qs_model *m, const qs_ptq_bnstats *st);

#endif
