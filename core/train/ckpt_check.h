/* Range checks of a trainer checkpoint's fixed sections (internal to core:
 * train_ckpt.c reads checkpoints through these). A CRC only proves that the
 * bytes are the ones written, not who wrote them: every field that sizes a
 * buffer, indexes a table or divides is checked here before use. */
#ifndef QS_CKPT_CHECK_H
#define QS_CKPT_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "ckpt.h"
#include "train.h"

/* Section "state", written as this struct (no padding: 72 bytes). */
typedef struct {
    int64_t epoch_done, iter, nparam, nalpha, nbuf, nnode;
    uint32_t rng[4];
    int32_t quant_ready, phase;
} qs_ck_state;

/* Sections "model" (12 int32), "state" and "train_cfg", decoded. */
typedef struct {
    qs_model_cfg mcfg;
    qs_ck_state st;
    qs_train_cfg tcfg;     /* when read with need_cfg */
    int16_t svd[QS_SVD_MAX_LAYERS]; /* mcfg.svd_rank's storage (qs_ck_svd_read) */
} qs_ck_head;

/* Section "model": the architecture as int32s. */
void qs_ck_model_ints(int32_t *v, const qs_model_cfg *c);

/* Section "imnet" of imagenet-resnet and mobilenetv2 checkpoints (older
 * archs never write it, so their checkpoints are unchanged). */
typedef struct {
    int32_t stage_blocks[QS_IMNET_STAGES];
    double width_mult;
} qs_ck_imnet;
/* 1 and *im filled when c's arch needs the section, else 0. */
int qs_ck_imnet_from(qs_ck_imnet *im, const qs_model_cfg *c);
/* A section of exactly `size` bytes (any size when size == 0), or NULL with
 * *rc set naming `what` (nothing is done when *rc is already set). */
const uint8_t *qs_ck_section(const qs_ckpt *ck, const char *name, size_t size,
                             const char *what, int *rc);
/* Reads "model" and "state" (and "train_cfg" when need_cfg) and checks
 * every field's range; errors name `what`, the field and its byte offset. */
int qs_ck_head_read(qs_ck_head *h, const qs_ckpt *ck, const char *what, int need_cfg);
/* n floats of section `name` at p: finite, and at least `min`. */
int qs_ck_floats(const qs_ckpt *ck, const char *what, const char *name, const uint8_t *p,
                 size_t n, float min);

/* Section "svd_ranks" (written only for a factored model): svd_nrank
 * int32 ranks (qs_model_cfg.svd_rank). Reads it into buf [QS_SVD_MAX_LAYERS]
 * and points c at it (none: no ranks), checking its size and every rank's
 * range. */
int qs_ck_svd_read(qs_model_cfg *c, int16_t *buf, const qs_ckpt *ck, const char *what);
/* Refuses a checkpoint whose ranks (ck) are not the ones this phase's
 * model was built with (want), naming the first layer that differs. */
int qs_ck_svd_same(const qs_model_cfg *ck, const qs_model_cfg *want, const char *what);

#endif
