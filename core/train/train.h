/* One training phase (float, retrain or clr) of one model: the protocol
 * defaults of methods.md section 3, the epoch loop, evaluation, checkpoints
 * and the per-epoch metrics callback. No I/O besides checkpoint files. */
#ifndef QS_TRAIN_H
#define QS_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "data.h"
#include "model.h"
#include "optim.h"
#include "ptq_cfg.h"
#include "rng.h"

/* ptq: post-training quantization of a float model (core/ptq), no
 * epochs of training; its one result row counts as epoch 1 of 1.
 * compress: SVD factorisation of a float model (core/ptq/svd_model.h),
 * then its fine-tune epochs, or one result row (epoch 1 of 1) without. */
typedef enum {
    QS_PHASE_FLOAT = 0, QS_PHASE_RETRAIN = 1, QS_PHASE_CLR = 2, QS_PHASE_PTQ = 3,
    QS_PHASE_COMPRESS = 4
} qs_phase;
#define QS_NPHASES 5

const char *qs_phase_name(qs_phase p);
int qs_phase_parse(qs_phase *out, const char *s);

/* Ranges of the training settings. The flags (worker/job/opts.c), grid files
 * (server/grid/grid.c) and checkpoints (ckpt_check.c) all check these. */
#define QS_MAX_EPOCHS 1000000
#define QS_MAX_BATCH (1 << 20)
#define QS_MAX_THREADS 256
#define QS_MAX_LR 1e6
#define QS_MIN_PERIOD 1e-3
#define QS_MAX_PERIOD 1e6
#define QS_MAX_LIPSCHITZ 1e3
#define QS_MAX_EXAMPLES (1 << 30)

/* Divergence (docs/methods.md, "Divergence"): a phase fails with
 * QS_EDIVERGED when a batch loss or the test loss is NaN/inf, or when an
 * epoch's mean train loss exceeds QS_DIVERGE_FACTOR x ln(classes), ten
 * times the loss of a model that guesses uniformly. Not a job setting:
 * phase ids do not depend on it. */
#define QS_DIVERGE_FACTOR 10.0

typedef enum { QS_ALPHA_MSE = 0, QS_ALPHA_PERCENTILE = 1, QS_ALPHA_VALUE = 2 } qs_alpha_init;

typedef struct {
    qs_phase phase;
    int epochs;            /* planned length: the schedule horizon */
    int batch;
    qs_opt_cfg opt;
    qs_sched sched;
    int augment;           /* crop + flip (image datasets) */
    uint64_t seed;
    int threads;
    double lipschitz;      /* beta; 0 = off (only retrain / clr apply it) */
    double pact_l2;        /* 1e-4: loss + pact_l2 * alpha^2 per alpha */
    qs_alpha_init alpha_init;
    double alpha_value;    /* percentile (0..100) or the value itself */
    int calib_examples;    /* 2000 */
    uint64_t calib_seed;
    /* Last, after every field of the first checkpoint layout: checkpoints
     * store the struct up to here as "train_cfg" and this field in its own
     * optional section, so older checkpoints still load (as 0). */
    double label_smoothing; /* eps in [0, 1): target (1 - eps) one-hot + eps / K */
    /* The ptq phase's settings (the other phases ignore them). Not in
     * checkpoints: a ptq phase runs in one piece and is never resumed. */
    qs_ptq_cfg ptq;
    /* BitPruning, for a retrain phase whose model learns bit widths
     * (bp_train.h): the weight lambda >= 0 of the mean-bits loss, its
     * weighting (a qs_bp_weighting), the widths' learning rate as a
     * multiple of the phase's, and the fixed-width fine-tune that ends the
     * phase, in epochs of cfg.epochs (0 = the default). In the optional
     * checkpoint section "bitprune_train" of a model with learned widths. */
    double bp_lambda, bp_lr_scale;
    int bp_weighting, bp_finetune_epochs;
    /* The compress phase's settings. Not in checkpoints: a resumed compress
     * phase takes them from its job (its ranks, recomputed from the
     * parent, must match the checkpoint's). */
    qs_svd_cfg svd;
} qs_train_cfg;

/* Bytes of qs_train_cfg in a checkpoint's "train_cfg" section. */
#define QS_TRAIN_CFG_CKPT_SIZE offsetof(qs_train_cfg, label_smoothing)

/* The dataset's protocol for a phase (methods.md section 3). Zeroes the
 * struct first so it can be written byte for byte into checkpoints. */
void qs_train_cfg_default(qs_train_cfg *c, qs_data_kind data, qs_phase phase);

typedef struct {
    const char *phase;
    int epoch, epochs;
    double lr;             /* lr of the epoch's last iteration */
    double train_loss, train_acc, test_loss, test_acc;
    double lipschitz;      /* regularizer value (mean over the epoch), 0 if off */
    double seconds, img_per_s;
    /* imagenet: files skipped in this epoch's training and evaluation (not
     * decodable JPEGs, data_imnet.h) and the latest one's error; 0 / "". */
    int skipped;
    const char *skip_msg;
} qs_epoch_metrics;

typedef struct qs_trainer qs_trainer;
/* Return non-zero to stop after this epoch (e.g. a signal arrived). */
typedef int (*qs_epoch_cb)(void *user, const qs_epoch_metrics *m);

struct qs_trainer {
    qs_model_cfg mcfg;
    qs_train_cfg cfg;
    qs_model model;
    qs_rng rng;
    int epoch_done;        /* epochs finished of cfg.epochs */
    long iter;             /* optimiser steps taken in this phase */
    const qs_dataset *train, *test;
    /* Polled every few batches; non-zero stops the phase with QS_EINTR
     * (the sweep worker checks for a STOP message). NULL = never. */
    int (*interrupt)(void *user);
    void *interrupt_user;
    float *xb, *dlogits;   /* xb, yb: in-memory sets only */
    int *yb, *idx;
    /* ImageNet splits (train_src.c): the train and eval loaders kept
     * between epochs, the set and batch each was opened for; the
     * calibration sample's index; files skipped since the epoch began. */
    qs_imnet_loader *ld[2];
    const qs_dataset *ld_set[2];
    int ld_batch[2];
    qs_imnet_index calib_ix;
    int skipped;
    char skip_msg[600];
    /* BitPruning's loss: per learned width the counts (params, macs), b
     * and dR/db (4 x model.nbits doubles; NULL without learned widths). */
    double *bp_buf;
};

/* Builds the model, initialises it from cfg->seed, allocates the batch
 * buffers. Data shape and classes come from the training set (imagenet:
 * 3 x the crop side squared, the tree's classes). */
int qs_trainer_init(qs_trainer *t, const qs_model_cfg *mcfg, const qs_train_cfg *cfg,
                    const qs_dataset *train, const qs_dataset *test);
void qs_trainer_free(qs_trainer *t);

/* Starts a retrain/clr phase from the previous phase's checkpoint: weights,
 * BN statistics and (clr) step sizes and alphas; a fresh optimiser.
 * A checkpoint of another architecture is refused naming both. */
int qs_trainer_load_parent(qs_trainer *t, const char *path);
/* The same from an encoded checkpoint (takes ownership of buf). */
int qs_trainer_load_parent_bytes(qs_trainer *t, uint8_t *buf, size_t len, const char *what);
/* Continues an interrupted phase: every piece of state, bit for bit. */
int qs_trainer_resume(qs_trainer *t, const char *path);
int qs_trainer_resume_bytes(qs_trainer *t, uint8_t *buf, size_t len, const char *what);
/* Encodes the full state (caller frees *out) / saves it atomically. */
int qs_trainer_encode(const qs_trainer *t, uint8_t **out, size_t *len);
int qs_trainer_save(const qs_trainer *t, const char *path);

/* Runs epochs epoch_done+1 .. min(cfg.epochs, stop_after) (stop_after <= 0:
 * to the end), calling cb after each. QS_EDIVERGED on a NaN/inf loss or a
 * train loss over the QS_DIVERGE_FACTOR bound, its message saying the
 * epoch and the loss ("diverged at epoch 3: ..."). */
int qs_trainer_run(qs_trainer *t, int stop_after, qs_epoch_cb cb, void *user);
/* Mean loss and accuracy (%) on a dataset, eval mode, partial batch kept. */
int qs_trainer_eval(qs_trainer *t, const qs_dataset *d, double *loss, double *acc);
/* Predicted labels [d->n] (eval mode), e.g. the decision map grid (in-memory
 * sets only). */
int qs_trainer_predict(qs_trainer *t, const qs_dataset *d, uint8_t *labels);
/* What a checkpoint holds, for export and inference without data. */
typedef struct {
    qs_model_cfg mcfg;
    qs_phase phase;
    int epoch_done, epochs;
    int quant_ready;       /* step sizes searched and alphas calibrated */
} qs_ckpt_info;
/* Builds the checkpoint's model (batches up to max_batch) with its
 * parameters, BN statistics, alphas and step sizes; quantized weights are
 * rebuilt at the saved steps without a search, so they are the ones its
 * last evaluation used. The caller frees m with qs_model_free. */
int qs_model_load_ckpt(qs_model *m, qs_ckpt_info *info, const char *path, int max_batch);
/* The same from an encoded checkpoint (buf owned from here on; NULL: read
 * the file `what`); `what` names it in messages. */
int qs_model_load_ckpt_bytes(qs_model *m, qs_ckpt_info *info, uint8_t *buf, size_t len,
                             const char *what, int max_batch);
/* The same from bytes the caller keeps (they are copied: decoding takes
 * ownership of its buffer). */
int qs_model_load_ckpt_copy(qs_model *m, qs_ckpt_info *info, const uint8_t *bytes, size_t len,
                            const char *what, int max_batch);
/* Quantized phases: weight steps on the first forward, alphas by
 * calibration (no-op when the checkpoint already carried them). */
int qs_trainer_prepare_quant(qs_trainer *t);

#endif
