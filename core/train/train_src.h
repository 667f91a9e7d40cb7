/* Where one pass of the trainer gets its batches (internal to core/train):
 * an in-memory set (shuffled example indices assembled by qs_data_batch)
 * or an ImageNet split (the threaded loader's qs_imnet_next). The epoch
 * loop, evaluation and alpha calibration are written once against this;
 * only the source differs. */
#ifndef QS_TRAIN_SRC_H
#define QS_TRAIN_SRC_H

#include "train.h"

typedef enum {
    QS_SRC_TRAIN = 0, /* shuffled from the job's RNG, augmented, full batches only */
    QS_SRC_EVAL = 1,  /* in order, no augmentation, the last partial batch kept */
    QS_SRC_CALIB = 2  /* the calibration sample: calib_examples drawn with calib_seed, as eval */
} qs_src_mode;

typedef struct {
    qs_trainer *t;
    const qs_dataset *d;
    qs_src_mode mode;
    int n, pos;            /* in memory: examples of this pass, next one */
    qs_imnet_loader *L;    /* imagenet: the loader of this pass */
} qs_src;

/* Starts a pass over d (the trainer's batch size). ImageNet loaders are
 * kept in the trainer between passes; a calibration pass opens its own. */
int qs_src_begin(qs_src *s, qs_trainer *t, const qs_dataset *d, qs_src_mode mode);
/* The next batch (*nb = 0: the pass is over); x and y stay valid until the
 * next call. */
int qs_src_next(qs_src *s, const float **x, const int **y, int *nb);
/* Ends the pass: its skipped files join t->skipped / t->skip_msg. */
void qs_src_end(qs_src *s);
/* Closes the trainer's loaders (qs_trainer_free). */
void qs_src_close_all(qs_trainer *t);

#endif
