/* Helpers shared by the QAT tests: synthetic data, trainers for a phase,
 * checkpoints in memory. Header-only (static inline: a test may use only
 * some of them), like tharness.h. */
#ifndef QS_QAT_UTIL_H
#define QS_QAT_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "err.h"
#include "model.h"
#include "train.h"

static inline qs_model_cfg qu_fcdnn(int width, int depth, int wbits, int abits)
{
    qs_model_cfg c;
    memset(&c, 0, sizeof c);
    c.arch = QS_ARCH_FCDNN;
    c.width = width;
    c.depth = depth;
    c.in_c = 2;
    c.in_h = c.in_w = 1;
    c.classes = 2;
    c.wbits = wbits;
    c.abits = abits;
    c.first_last_bits = 8;
    return c;
}

static inline qs_model_cfg qu_resnet(qs_block b, int depth, int width, int wbits, int abits)
{
    qs_model_cfg c = qu_fcdnn(width, depth, wbits, abits);
    c.arch = QS_ARCH_RESNET;
    c.block = b;
    c.in_c = 1;
    c.in_h = c.in_w = 32;
    c.classes = 10;
    return c;
}

/* Synthetic rings with the default settings; limits 0 = whole splits. */
static inline int qu_synth(qs_dataset *tr, qs_dataset *te, int train_limit, int test_limit)
{
    qs_synth_cfg s;
    qs_synth_cfg_default(&s);
    return qs_data_load(tr, te, QS_DATA_SYNTHETIC, NULL, train_limit, test_limit, &s);
}

/* A trainer for one phase with the dataset's protocol, `epochs` long.
 * parent (may be NULL): an encoded checkpoint, copied (the trainer's
 * loader takes ownership of what it gets). */
static inline int qu_trainer(qs_trainer *t, qs_model_cfg mc, qs_data_kind kind, qs_phase phase,
                      int epochs, uint64_t seed, const qs_dataset *tr, const qs_dataset *te,
                      const uint8_t *parent, size_t plen)
{
    qs_train_cfg c;
    qs_train_cfg_default(&c, kind, phase);
    c.epochs = epochs;
    c.seed = seed;
    int rc = qs_trainer_init(t, &mc, &c, tr, te);
    if (rc || !parent)
        return rc;
    uint8_t *copy = malloc(plen);
    if (!copy)
        return QS_ENOMEM;
    memcpy(copy, parent, plen);
    return qs_trainer_load_parent_bytes(t, copy, plen, "parent");
}

static inline double qu_acc(qs_trainer *t, const qs_dataset *d)
{
    double loss, acc;
    qs_trainer_eval(t, d, &loss, &acc);
    return acc;
}

/* Runs a trainer to its end and encodes it; frees the trainer. */
static inline int qu_finish(qs_trainer *t, uint8_t **ck, size_t *len, double *acc)
{
    int rc = qs_trainer_run(t, 0, NULL, NULL);
    if (!rc && acc)
        *acc = qu_acc(t, t->test);
    if (!rc && ck)
        rc = qs_trainer_encode(t, ck, len);
    qs_trainer_free(t);
    return rc;
}

#endif
