/* PTQ settings, their names and ranges, and the calibration images. */
#include "ptq.h"
#include "ptq_cfg.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rng.h"

const char *const qs_ptq_rounding_names[] = {"nearest", "adaround", NULL};
const char *const qs_ptq_bias_corr_names[] = {"none", "empirical", "bn", NULL};
const char *const qs_compress_names[] = {"none", "svd", NULL};

int qs_svd_cfg_validate(const qs_svd_cfg *c)
{
    if (c->method != QS_COMPRESS_SVD)
        return qs_err(QS_EINVAL, "a compress phase needs a method (--compress svd; allowed: svd)");
    if ((c->energy > 0) == (c->params > 0))
        return qs_err(QS_EINVAL, "a compress phase takes one of --svd-energy E and --svd-params F "
                      "(given: %s)", c->energy > 0 ? "both" : "neither");
    if (c->energy != 0 && !(c->energy > 0 && c->energy <= 1))
        return qs_err(QS_EINVAL, "svd energy %g is out of range (allowed: 0 < energy <= 1)",
                      c->energy);
    if (c->params != 0 && !(c->params > 0 && c->params < 1))
        return qs_err(QS_EINVAL, "svd params fraction %g is out of range (allowed: 0 < F < 1)",
                      c->params);
    if (c->epochs < 0)
        return qs_err(QS_EINVAL, "svd fine-tune epochs %d must be at least 0", c->epochs);
    return QS_OK;
}

void qs_ptq_cfg_default(qs_ptq_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->rounding = QS_PTQ_NEAREST;
    c->bias_correction = QS_PTQ_BC_NONE;
    c->calib_images = QS_PTQ_DEFAULT_CALIB;
    c->calib_seed = 20201; /* the QAT phases' calibration seed */
    c->iterations = QS_PTQ_DEFAULT_ITERS;
    c->batch = 32;
}

int qs_ptq_cfg_validate(const qs_ptq_cfg *c)
{
    if ((unsigned)c->rounding > QS_PTQ_ADAROUND)
        return qs_err(QS_EINVAL, "unknown rounding %d (allowed: nearest, adaround)", c->rounding);
    if ((unsigned)c->bias_correction > QS_PTQ_BC_BN)
        return qs_err(QS_EINVAL, "unknown bias correction %d (allowed: none, empirical, bn)",
                      c->bias_correction);
    if (c->calib_images < 1 || c->calib_images > QS_PTQ_MAX_CALIB)
        return qs_err(QS_EINVAL, "calib_images %d is out of range (allowed: 1..%d)",
                      c->calib_images, QS_PTQ_MAX_CALIB);
    if (c->iterations < 1 || c->iterations > QS_PTQ_MAX_ITERS)
        return qs_err(QS_EINVAL, "iterations %d is out of range (allowed: 1..%d)", c->iterations,
                      QS_PTQ_MAX_ITERS);
    if (c->batch < 1)
        return qs_err(QS_EINVAL, "batch %d must be at least 1", c->batch);
    return QS_OK;
}

void qs_ptq_calib_free(qs_ptq_calib *c)
{
    free(c->x);
    free(c->y);
    memset(c, 0, sizeof *c);
}

int qs_ptq_calib_load(qs_ptq_calib *out, const qs_dataset *d, int n, uint64_t seed)
{
    int rc = QS_OK;
    int *idx = NULL;
    memset(out, 0, sizeof *out);
    if (n < 1 || n > d->n)
        return qs_err(QS_EINVAL, "calib_images %d is more than the %d training examples", n, d->n);
    size_t per = (size_t)d->c * d->h * d->w;
    idx = malloc((size_t)d->n * sizeof(int));
    out->x = malloc((size_t)n * per * sizeof(float));
    out->y = malloc((size_t)n * sizeof(int));
    if (!idx || !out->x || !out->y) {
        rc = qs_err(QS_ENOMEM, "out of memory for %d calibration images", n);
        goto cleanup;
    }
    for (int i = 0; i < d->n; i++)
        idx[i] = i;
    qs_rng r;
    qs_rng_seed(&r, seed);
    qs_rng_shuffle(&r, idx, d->n);
    qs_data_batch(out->x, out->y, d, idx, n, 0, NULL);
    out->n = n;
    out->c = d->c;
    out->h = d->h;
    out->w = d->w;
cleanup:
    free(idx);
    if (rc != QS_OK)
        qs_ptq_calib_free(out);
    return rc;
}
