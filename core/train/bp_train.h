/* BitPruning in the trainer (docs/quantizers.md, "BitPruning"): the phase's
 * split into learning epochs and the fixed-width fine-tune, the mean-bits
 * loss over the model, the trainer settings' checkpoint section. */
#ifndef QS_BP_TRAIN_H
#define QS_BP_TRAIN_H

#include <stdint.h>

#include "ckpt.h"
#include "train.h"

/* The settings' defaults (not tuned: docs/quantizers.md says why these). */
#define QS_BP_LAMBDA_DEFAULT 0.1
#define QS_BP_LR_SCALE_DEFAULT 10.0

/* The fine-tune's epochs: bp_finetune_epochs, or by default one tenth of
 * the phase rounded up (at least 1). */
int qs_bp_finetune_epochs(const qs_train_cfg *c);
/* Epochs 1..this learn the widths (0 when the phase learns none: not a
 * retrain, or a model without learned widths). */
int qs_bp_learn_epochs(const qs_trainer *t);
/* Checks the settings against the phase (called by qs_trainer_init) and
 * allocates t->bp_buf. */
int qs_bp_trainer_setup(qs_trainer *t);
/* Adds lambda x the weighted mean width to the loss gradient of the
 * widths; returns the term (0 when lambda is 0). */
double qs_bp_add_loss(qs_trainer *t);
/* The optimiser step of the widths (the tail's last nbits floats) at
 * bp_lr_scale x lr and without weight decay, then the clamp. */
void qs_bp_opt_step(qs_trainer *t, double lr);

/* One learned width of a checkpoint's model, for the results table. */
typedef struct {
    int node;
    char kind;      /* 'w' weights of a conv / linear, 'a' a ReLU's activation */
    float bits;
    long count;     /* weights, or elements per example */
} qs_bp_layer;
/* The learned widths of an encoded checkpoint (bytes are copied; *out is
 * malloc'd, NULL with *n = 0 when the model learns none). */
int qs_bp_ckpt_layers(qs_bp_layer **out, int *n, const uint8_t *bytes, size_t len,
                      const char *what);

/* Section "bitprune_train": lambda, lr scale, weighting, fine-tune. */
typedef struct {
    double lambda, lr_scale;
    int32_t weighting, finetune_epochs;
} qs_bp_train_ck;
/* 1 and *s filled when t's model learns widths (the section is written),
 * else 0: other checkpoints keep the bytes they had. */
int qs_bp_train_ck_from(qs_bp_train_ck *s, const qs_trainer *t);
/* Reads the section into c (the defaults when absent), range-checked. */
int qs_bp_train_from_ckpt(qs_train_cfg *c, const qs_ckpt *ck, const char *what);

#endif
