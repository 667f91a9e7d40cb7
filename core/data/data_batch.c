/* Dataset entry points (names, load/check dispatch, free) and batch
 * assembly with the crop + flip augmentation. */
#include "data.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

/* Defined in data_synth.c and data_images.c (no private header: keep these
 * prototypes identical to the definitions there). */
int qs_data__synth_load(qs_dataset *train, qs_dataset *test,
                        const qs_synth_cfg *cfg, int train_limit,
                        int test_limit);
int qs_data__images_load(qs_dataset *train, qs_dataset *test, qs_data_kind kind,
                         const char *dir, int train_limit, int test_limit);
int qs_data__images_check(qs_data_kind kind, const char *dir);

#define CROP_PAD 4

void qs_synth_cfg_default(qs_synth_cfg *c)
{
    c->radii = 10;
    c->points = 100;
    c->copies = 9;
    c->sigma = 0.1f;
    c->test_points = 10000;
    c->test_radius = 10.5f;
    c->seed = 1;
}

const char *qs_data_kind_name(qs_data_kind k)
{
    switch (k) {
    case QS_DATA_SYNTHETIC:
        return "synthetic";
    case QS_DATA_FMNIST:
        return "fashion-mnist";
    case QS_DATA_CIFAR10:
        return "cifar10";
    case QS_DATA_IMAGENET:
        return "imagenet";
    }
    return "unknown";
}

void qs_data_shape(qs_data_kind k, int *c, int *h, int *w, int *classes)
{
    /* Fashion-MNIST's 28x28 images are padded to CIFAR-10's 32x32. */
    *c = k == QS_DATA_SYNTHETIC ? 2 : k == QS_DATA_FMNIST ? 1 : 3;
    *h = *w = k == QS_DATA_SYNTHETIC ? 1 : k == QS_DATA_IMAGENET ? 224 : 32;
    *classes = k == QS_DATA_SYNTHETIC ? 2 : k == QS_DATA_IMAGENET ? 1000 : 10;
}

int qs_data_kind_parse(qs_data_kind *out, const char *name)
{
    for (int i = 0; name && i < QS_DATA_NKINDS; i++)
        if (strcmp(name, qs_data_kind_name((qs_data_kind)i)) == 0) {
            *out = (qs_data_kind)i;
            return QS_OK;
        }
    return qs_err(QS_EINVAL, "unknown dataset \"%s\" (expected synthetic, fashion-mnist, cifar10 "
                  "or imagenet)", name ? name : "(null)");
}

static int kind_ok(qs_data_kind kind) { return (unsigned)kind < QS_DATA_NKINDS; }

int qs_data_check(qs_data_kind kind, const char *dir)
{
    if (!kind_ok(kind))
        return qs_err(QS_EINVAL, "unknown dataset kind %d", (int)kind);
    if (kind == QS_DATA_SYNTHETIC)
        return QS_OK;
    if (kind == QS_DATA_IMAGENET)
        return qs_imnet_check(dir, NULL);
    return qs_data__images_check(kind, dir);
}

int qs_data_load(qs_dataset *train, qs_dataset *test, qs_data_kind kind,
                 const char *dir, int train_limit, int test_limit,
                 const qs_synth_cfg *synth)
{
    qs_synth_cfg def;
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (!kind_ok(kind))
        return qs_err(QS_EINVAL, "unknown dataset kind %d", (int)kind);
    if (train_limit < 0 || test_limit < 0)
        return qs_err(QS_EINVAL, "train_limit %d / test_limit %d: must be >= 0 (0 = all)",
                      train_limit, test_limit);
    if (kind == QS_DATA_SYNTHETIC) {
        if (!synth) {
            qs_synth_cfg_default(&def);
            synth = &def;
        }
        return qs_data__synth_load(train, test, synth, train_limit, test_limit);
    }
    if (kind == QS_DATA_IMAGENET)
        return qs_data_load_imnet(train, test, dir, 224, train_limit, test_limit);
    return qs_data__images_load(train, test, kind, dir, train_limit, test_limit);
}

/* One split as a qs_dataset: its index (limited) and shape. */
static int imnet_split(qs_dataset *d, const char *root, const char *split,
                       const qs_imnet_index *classes, int size, int limit)
{
    int rc;
    memset(d, 0, sizeof *d);
    if (!(d->ix = calloc(1, sizeof *d->ix)))
        return qs_err(QS_ENOMEM, "out of memory scanning %s/%s", root, split);
    if ((rc = qs_imnet_scan(d->ix, root, split, classes)) ||
        (rc = qs_imnet_index_limit(d->ix, limit))) {
        free(d->ix);
        d->ix = NULL;
        return rc;
    }
    d->kind = QS_DATA_IMAGENET;
    d->n = d->ix->n;
    d->c = 3;
    d->h = d->w = size;
    d->classes = d->ix->classes;
    return QS_OK;
}

int qs_data_load_imnet(qs_dataset *train, qs_dataset *test, const char *root, int size,
                       int train_limit, int test_limit)
{
    int rc;
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (size < QS_IMNET_MIN_SIZE || size > QS_IMNET_MAX_SIZE)
        return qs_err(QS_EINVAL, "image size %d is out of range (allowed: %d..%d)", size,
                      QS_IMNET_MIN_SIZE, QS_IMNET_MAX_SIZE);
    if (train_limit < 0 || test_limit < 0)
        return qs_err(QS_EINVAL, "train_limit %d / test_limit %d: must be >= 0 (0 = all)",
                      train_limit, test_limit);
    if ((rc = qs_imnet_check(root, NULL)) ||
        (rc = imnet_split(train, root, "train", NULL, size, train_limit)))
        return rc;
    if (train->classes < 2 || train->classes > QS_IMNET_MAX_CLASSES) {
        rc = qs_err(QS_EFORMAT, "%s/train: %d classes (allowed: 2..%d)", root, train->classes,
                    QS_IMNET_MAX_CLASSES);
        qs_data_free(train);
        return rc;
    }
    /* val's labels are ranks among train's classes */
    if ((rc = imnet_split(test, root, "val", train->ix, size, test_limit)))
        qs_data_free(train);
    return rc;
}

void qs_data_free(qs_dataset *d)
{
    if (!d)
        return;
    if (d->ix)
        qs_imnet_index_free(d->ix);
    free(d->ix);
    free(d->xf);
    free(d->xu8);
    free(d->y);
    memset(d, 0, sizeof *d);
}

/* x [nb, c, h, w] (synthetic: [nb, 2]), y [nb] (may be NULL); idx [nb].
 * With augment (images only, and an rng given) each example draws, in this
 * order, dx = below(9), dy = below(9), flip = below(2), and output pixel
 * (i, j) reads source (i + dy - 4, (flip ? w-1-j : j) + dx - 4), raw 0 where
 * that falls outside: torchvision's RandomCrop(32, padding=4) (top = dy,
 * left = dx in the 40x40 padded image) followed by RandomHorizontalFlip. */
void qs_data_batch(float *x, int *y, const qs_dataset *d, const int *idx,
                   int nb, int augment, qs_rng *rng)
{
    if (d->kind == QS_DATA_SYNTHETIC) {
        for (int b = 0; b < nb; b++) {
            x[2 * b] = d->xf[2 * (size_t)idx[b]];
            x[2 * b + 1] = d->xf[2 * (size_t)idx[b] + 1];
            if (y)
                y[b] = d->y[idx[b]];
        }
        return;
    }

    const int C = d->c, H = d->h, W = d->w;
    const size_t plane = (size_t)H * W, ex = (size_t)C * plane;
    /* A byte has 256 values: one division per value, not per pixel. */
    float lut[3][256];
    for (int c = 0; c < C && c < 3; c++)
        for (int v = 0; v < 256; v++)
            lut[c][v] = (float)(((double)v / 255.0 - d->mean[c]) / d->std[c]);

    for (int b = 0; b < nb; b++) {
        const uint8_t *src = d->xu8 + (size_t)idx[b] * ex;
        float *dst = x + (size_t)b * ex;
        if (y)
            y[b] = d->y[idx[b]];
        if (!augment || !rng) {
            for (int c = 0; c < C; c++)
                for (size_t p = 0; p < plane; p++)
                    dst[c * plane + p] = lut[c][src[c * plane + p]];
            continue;
        }
        int dx = (int)qs_rng_below(rng, 2 * CROP_PAD + 1) - CROP_PAD;
        int dy = (int)qs_rng_below(rng, 2 * CROP_PAD + 1) - CROP_PAD;
        int flip = (int)qs_rng_below(rng, 2);
        /* Output columns whose source column is inside the image: source
         * sj = j + dx (no flip) or W-1-j + dx (flip); both give a range of
         * W - |dx| columns, so the rest is padding. */
        int j0 = flip ? (dx > 0 ? dx : 0) : (dx < 0 ? -dx : 0);
        int j1 = flip ? (dx < 0 ? W + dx : W) : (dx > 0 ? W - dx : W);
        for (int c = 0; c < C; c++) {
            const float *t = lut[c];
            const float pad = t[0];
            for (int i = 0; i < H; i++) {
                float *o = dst + c * plane + (size_t)i * W;
                int si = i + dy;
                if (si < 0 || si >= H) {
                    for (int j = 0; j < W; j++)
                        o[j] = pad;
                    continue;
                }
                const uint8_t *row = src + c * plane + (size_t)si * W;
                for (int j = 0; j < j0; j++)
                    o[j] = pad;
                if (flip)
                    for (int j = j0; j < j1; j++)
                        o[j] = t[row[W - 1 - j + dx]];
                else
                    for (int j = j0; j < j1; j++)
                        o[j] = t[row[j + dx]];
                for (int j = j1; j < W; j++)
                    o[j] = pad;
            }
        }
    }
}
