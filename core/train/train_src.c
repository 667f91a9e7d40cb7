/* The trainer's batch sources (train_src.h). */
#include "train_src.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

void qs_src_close_all(qs_trainer *t)
{
    for (int k = 0; k < 2; k++) {
        qs_imnet_loader_close(t->ld[k]);
        t->ld[k] = NULL;
        t->ld_set[k] = NULL;
    }
}

/* The loader of a train (k = 0) or eval (k = 1) pass over d, opened again
 * only when the set or the batch size changed (a resume may bring a
 * smaller batch than the trainer was built for). */
static int cached_loader(qs_imnet_loader **out, qs_trainer *t, const qs_dataset *d, int k)
{
    if (!t->ld[k] || t->ld_set[k] != d || t->ld_batch[k] != t->cfg.batch) {
        qs_imnet_tf tf;
        qs_imnet_tf_sized(&tf, d->h);
        tf.augment = t->cfg.augment;
        qs_imnet_loader_close(t->ld[k]);
        t->ld[k] = NULL;
        int rc = qs_imnet_loader_open(&t->ld[k], d->ix, &tf, t->cfg.batch,
                                      t->cfg.threads < 64 ? t->cfg.threads : 64, k == 0);
        if (rc)
            return rc;
        t->ld_set[k] = d;
        t->ld_batch[k] = t->cfg.batch;
    }
    *out = t->ld[k];
    return QS_OK;
}

/* The calibration sample of an ImageNet split: the files the in-memory
 * path would draw (a shuffle seeded with calib_seed, the first n), as an
 * index that borrows d's paths. */
static int calib_loader(qs_src *s)
{
    qs_trainer *t = s->t;
    const qs_dataset *d = s->d;
    qs_imnet_index *cx = &t->calib_ix;
    qs_imnet_tf tf;
    memset(cx, 0, sizeof *cx);
    cx->paths = malloc((size_t)s->n * sizeof(char *));
    cx->labels = malloc((size_t)s->n * sizeof(int));
    if (!cx->paths || !cx->labels) {
        free(cx->paths);
        free(cx->labels);
        memset(cx, 0, sizeof *cx);
        return qs_err(QS_ENOMEM, "out of memory for the calibration sample");
    }
    for (int i = 0; i < s->n; i++) {
        cx->paths[i] = d->ix->paths[t->idx[i]];
        cx->labels[i] = d->ix->labels[t->idx[i]];
    }
    cx->n = s->n;
    cx->classes = d->ix->classes;
    cx->wnids = d->ix->wnids;
    qs_imnet_tf_sized(&tf, d->h);
    return qs_imnet_loader_open(&s->L, cx, &tf, t->cfg.batch,
                                t->cfg.threads < 64 ? t->cfg.threads : 64, 0);
}

static void calib_free(qs_trainer *t)
{
    free(t->calib_ix.paths);
    free(t->calib_ix.labels);
    memset(&t->calib_ix, 0, sizeof t->calib_ix);
}

int qs_src_begin(qs_src *s, qs_trainer *t, const qs_dataset *d, qs_src_mode mode)
{
    int rc;
    memset(s, 0, sizeof *s);
    s->t = t;
    s->d = d;
    s->mode = mode;
    s->n = d->n;
    if (mode != QS_SRC_TRAIN)
        for (int i = 0; i < d->n; i++)
            t->idx[i] = i;
    if (mode == QS_SRC_CALIB) {
        qs_rng r;
        qs_rng_seed(&r, t->cfg.calib_seed);
        qs_rng_shuffle(&r, t->idx, d->n);
        if (s->n > t->cfg.calib_examples)
            s->n = t->cfg.calib_examples;
    }
    if (d->kind != QS_DATA_IMAGENET) {
        if (mode == QS_SRC_TRAIN) {
            for (int i = 0; i < d->n; i++)
                t->idx[i] = i;
            qs_rng_shuffle(&t->rng, t->idx, d->n);
        }
        return QS_OK;
    }
    if (mode == QS_SRC_CALIB) {
        if ((rc = calib_loader(s))) {
            calib_free(t);
            return rc;
        }
        return qs_imnet_epoch(s->L, NULL);
    }
    if ((rc = cached_loader(&s->L, t, d, mode == QS_SRC_TRAIN ? 0 : 1)))
        return rc;
    return qs_imnet_epoch(s->L, mode == QS_SRC_TRAIN ? &t->rng : NULL);
}

int qs_src_next(qs_src *s, const float **x, const int **y, int *nb)
{
    qs_trainer *t = s->t;
    const int B = t->cfg.batch;
    if (s->L)
        return qs_imnet_next(s->L, x, y, nb);
    int left = s->n - s->pos;
    *nb = left < B ? left : B;
    if (s->mode == QS_SRC_TRAIN && left < B)
        *nb = 0; /* the last partial batch is dropped (methods.md section 3) */
    if (*nb == 0)
        return QS_OK;
    qs_data_batch(t->xb, t->yb, s->d, t->idx + s->pos, *nb,
                  s->mode == QS_SRC_TRAIN && t->cfg.augment, &t->rng);
    s->pos += *nb;
    *x = t->xb;
    *y = t->yb;
    return QS_OK;
}

void qs_src_end(qs_src *s)
{
    qs_trainer *t = s->t;
    if (s->L) {
        char msg[sizeof t->skip_msg];
        int k = qs_imnet_skipped(s->L, msg, sizeof msg);
        if (k > 0) {
            t->skipped += k;
            memcpy(t->skip_msg, msg, sizeof msg);
        }
    }
    if (s->mode == QS_SRC_CALIB && s->L) {
        qs_imnet_loader_close(s->L);
        calib_free(t);
    }
    s->L = NULL;
}
