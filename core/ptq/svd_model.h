/* SVD compression of a float model (docs/ptq-methods.md, "SVD
 * compression"; the compress phase, docs/ptq.md): every eligible weight
 * layer replaced by its rank-r factorisation (svd.h) in the model graph
 * (qs_model_cfg.svd_rank), the BN statistics re-estimated on training
 * images, then optional fine-tune epochs.
 *
 * Eligible: every conv of groups 1 and every linear, the model's first and
 * last weight layers only with first_last. Ranks: the smallest r keeping
 * `energy` of a layer's sum of squared singular values; or, for a budget
 * of `params` x the model's parameters, one energy for every layer, the
 * largest whose model fits the budget (bisection: the parameter count
 * grows with the energy). A layer whose factored pair would not be smaller
 * (r (m + n) >= m n) stays whole. */
#ifndef QS_SVD_MODEL_H
#define QS_SVD_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "ptq_cfg.h"
#include "train.h"

/* BN re-estimation: this many training images (all of a smaller set),
 * drawn at the calibration seed, no augmentation. Not a setting, so no
 * phase id depends on it. */
#define QS_SVD_BN_IMAGES 4096

typedef struct {
    long params_before, params_after;   /* counted parameters (methods.md section 8) */
    int nlayers, neligible, nfactored;  /* weight layers; eligible; factored */
    double energy;      /* the kept energy the ranks come from (budget: the one found) */
    double worst_err;   /* largest ||W - A B||_F / ||W||_F of a factored layer */
    double seconds;
    int16_t ranks[QS_SVD_MAX_LAYERS]; /* the planned configuration's svd_rank storage */
} qs_svd_result;

/* The ranks of src (a whole model: no layer factored) for c, into
 * *mc = src's configuration with svd_nrank / svd_rank set (svd_rank is
 * res->ranks: valid while res is); res gets the counts (seconds,
 * worst_err not). A budget below the smallest factoring
 * (rank 1 in every eligible layer) is an error naming both fractions. */
int qs_svd_plan_ranks(qs_model_cfg *mc, qs_svd_result *res, const qs_model *src,
                      const qs_svd_cfg *c);

/* src (whole) into dst (the same network with ranks, built): factored
 * layers as their SVD factors at dst's ranks, every other parameter and BN
 * statistic as it is. At full rank the two models compute the same
 * function up to float rounding. *worst_err (may be NULL): the largest
 * relative Frobenius error of a factored weight. */
int qs_svd_copy_factors(qs_model *dst, double *worst_err, const qs_model *src);
/* qs_svd_plan_ranks, dst built from them (batches up to max_batch), then
 * qs_svd_copy_factors. */
int qs_svd_compress_model(qs_model *dst, qs_svd_result *res, const qs_model *src,
                          const qs_svd_cfg *c, int max_batch);

/* Re-estimates every BN's running mean and variance on n images x
 * [n, in_c, in_h, in_w]: the batch statistics of train-mode forwards
 * (batches of `batch`, a last batch of one image dropped), averaged over
 * the images (variance unbiased per batch, as the running one is). The
 * factors' outputs are not the whole layer's bit for bit, and in a deep
 * network the small shifts add up: the old statistics no longer match. */
int qs_svd_bn_recalibrate(qs_model *m, const float *x, int n, int batch);

/* The compress phase on a trainer holding the float parent
 * (qs_trainer_load_parent): the model replaced by its factored one
 * (t->mcfg gets the ranks), then, when recal, the BN re-estimation on
 * t->train. A resume calls it with recal 0 before qs_trainer_resume, so
 * the model the checkpoint is checked against has the ranks the job asks
 * for. */
int qs_svd_compress_trainer(qs_svd_result *res, qs_trainer *t, int recal);

/* After qs_svd_compress_trainer: the fine-tune epochs (qs_trainer_run,
 * stop_after as there), or without any one metrics row (epoch 1 of 1: the
 * test set's loss and accuracy, t->epoch_done 1). */
int qs_svd_phase(qs_trainer *t, int stop_after, qs_epoch_cb cb, void *user);

/* A one-line summary of mc's ranks: "svd 7/20 layers, ranks 3-12" ("svd
 * 0/20 layers" when none is factored, "" for a whole model). */
void qs_svd_rank_summary(char *buf, size_t cap, const qs_model_cfg *mc);

/* The counted parameters of an encoded checkpoint's model and its ranks
 * as qs_svd_rank_summary and qs_svd_rank_list write them; `what` names the
 * checkpoint in messages. */
int qs_svd_ckpt_ranks(long *params, char *summary, size_t scap, char *list, size_t lcap,
                      const uint8_t *bytes, size_t len, const char *what);
/* mc's ranks as "0,6,7" (every weight layer, 0 = whole; "" without). */
void qs_svd_rank_list(char *buf, size_t cap, const qs_model_cfg *mc);

/* The settings as a short label, the runs view's compress column:
 * "svd e=0.8", "svd params=0.5", with " +first_last" and " ft=N" when set. */
void qs_svd_label(char *buf, size_t cap, const qs_svd_cfg *c);

#endif
