/* The protocol side of a phase: the phase names and the per-dataset defaults
 * every setting starts from (the paper's protocol for CIFAR-10, documented
 * choices for Fashion-MNIST and the synthetic rings: docs/methods.md). Kept
 * apart from the epoch loop so a protocol change never touches the trainer. */
#include "train.h"

#include <string.h>

#include "bp_train.h"
#include "err.h"
#include "quant.h"

/* Indexed by qs_phase; the spelling of the phase column and the grid. */
static const char *const phase_names[QS_NPHASES] = {"float", "retrain", "clr", "ptq",
                                                     "compress"};

const char *qs_phase_name(qs_phase p)
{
    return (unsigned)p < QS_NPHASES ? phase_names[p] : "?";
}

int qs_phase_parse(qs_phase *out, const char *s)
{
    for (int p = 0; p < QS_NPHASES; p++)
        if (strcmp(s, phase_names[p]) == 0) {
            *out = (qs_phase)p;
            return QS_OK;
        }
    return qs_err(QS_EINVAL, "unknown phase \"%s\" (allowed: %s, %s, %s, %s, %s)", s,
                  phase_names[0], phase_names[1], phase_names[2], phase_names[3],
                  phase_names[4]);
}

void qs_train_cfg_default(qs_train_cfg *c, qs_data_kind data, qs_phase phase)
{
    if (phase == QS_PHASE_COMPRESS) {
        /* The fine-tune of a factored float model: the float protocol's
         * optimizer, weight decay and schedule shape, at a tenth of its lr
         * (as retrain is to float in the CIFAR-10 protocol: the weights
         * start near a minimum, and the float lr would throw them out of
         * it); the epochs are the svd fine-tune's (1 without one). */
        qs_train_cfg_default(c, data, QS_PHASE_FLOAT);
        c->phase = QS_PHASE_COMPRESS;
        c->sched.lr /= 10; /* (not * 0.1: 0.1 / 10 is the double 0.01) */
        c->epochs = 1;
        c->svd.method = QS_COMPRESS_SVD;
        return;
    }
    memset(c, 0, sizeof *c);
    c->phase = phase;
    c->batch = 128;
    c->seed = 1;
    c->threads = 1;
    c->pact_l2 = 1e-4;
    c->alpha_init = QS_ALPHA_MSE;
    c->calib_examples = 2000;
    c->calib_seed = 20201;
    c->opt.kind = QS_OPT_SGD;
    c->opt.momentum = 0.9;
    c->opt.beta1 = 0.9;
    c->opt.beta2 = 0.999;
    c->opt.eps = 1e-8;
    c->sched.gamma = 0.1;
    c->sched.clr_shape = QS_CLR_TRIANGLE;
    c->augment = data != QS_DATA_SYNTHETIC;
    c->bp_lambda = QS_BP_LAMBDA_DEFAULT;
    c->bp_lr_scale = QS_BP_LR_SCALE_DEFAULT;
    qs_ptq_cfg_default(&c->ptq);
    if (phase == QS_PHASE_PTQ) {
        /* No training: one evaluation, after calibration on the float
         * model's activations (docs/ptq.md). */
        c->epochs = 1;
        c->sched.kind = QS_SCHED_CONST;
        c->sched.lr = 0.01;
        c->augment = 0;
        return;
    }
    if (phase == QS_PHASE_CLR) {
        c->sched.kind = QS_SCHED_CLR;
        c->sched.lr = 1e-3;
        c->sched.lr_min = 1e-5;
    }
    switch (data) {
    case QS_DATA_CIFAR10:
        if (phase == QS_PHASE_FLOAT) {
            c->epochs = 200;
            c->sched.kind = QS_SCHED_STEP;
            c->sched.lr = 0.1;
            c->sched.milestones[0] = 0.5;
            c->sched.milestones[1] = 0.75;
            c->sched.nmilestones = 2;
            c->opt.weight_decay = 5e-4;
        } else if (phase == QS_PHASE_RETRAIN) {
            c->epochs = 100;
            c->sched.kind = QS_SCHED_STEP;
            c->sched.lr = 0.01;
            c->sched.milestones[0] = 0.5;
            c->sched.milestones[1] = 0.8;
            c->sched.nmilestones = 2;
        } else {
            c->epochs = 40;
            c->sched.period = 8;
        }
        break;
    case QS_DATA_FMNIST:
        c->sched.kind = phase == QS_PHASE_CLR ? QS_SCHED_CLR : QS_SCHED_COSINE;
        if (phase == QS_PHASE_FLOAT) {
            c->epochs = 30;
            c->sched.lr = 0.1;
            c->opt.weight_decay = 5e-4;
        } else if (phase == QS_PHASE_RETRAIN) {
            c->epochs = 15;
            c->sched.lr = 0.01;
        } else {
            c->epochs = 8;
            c->sched.period = 4;
        }
        break;
    case QS_DATA_IMAGENET:
        /* The usual ImageNet recipe (docs/imagenet.md: the paper gives no
         * ImageNet protocol): batch 256, SGD 0.9, 90 epochs at lr 0.1 x 0.1
         * after 30 and 60, weight decay 1e-4; the retrain and CLR phases
         * scale CIFAR-10's (lr 0.01, steps at 50 % and 80 %) to 30 and 10
         * epochs. */
        c->batch = 256;
        if (phase == QS_PHASE_FLOAT) {
            c->epochs = 90;
            c->sched.kind = QS_SCHED_STEP;
            c->sched.lr = 0.1;
            c->sched.milestones[0] = 1.0 / 3;
            c->sched.milestones[1] = 2.0 / 3;
            c->sched.nmilestones = 2;
            c->opt.weight_decay = 1e-4;
        } else if (phase == QS_PHASE_RETRAIN) {
            c->epochs = 30;
            c->sched.kind = QS_SCHED_STEP;
            c->sched.lr = 0.01;
            c->sched.milestones[0] = 0.5;
            c->sched.milestones[1] = 0.8;
            c->sched.nmilestones = 2;
        } else {
            c->epochs = 10;
            c->sched.period = 2;
        }
        break;
    case QS_DATA_SYNTHETIC:
        c->opt.kind = QS_OPT_ADAM;
        c->sched.kind = phase == QS_PHASE_CLR ? QS_SCHED_CLR : QS_SCHED_COSINE;
        if (phase == QS_PHASE_FLOAT) {
            c->epochs = 100;
            c->sched.lr = 1e-3;
        } else if (phase == QS_PHASE_RETRAIN) {
            c->epochs = 30;
            c->sched.lr = 1e-4;
        } else {
            c->epochs = 16;
            c->sched.lr = 1e-4;
            c->sched.lr_min = 1e-6;
            c->sched.period = 8;
        }
        break;
    }
}
