/* Datasets: synthetic rings (methods.md section 6), Fashion-MNIST (gzip idx),
 * CIFAR-10 (binary batches) and ImageNet folders, plus batch assembly with
 * augmentation.
 *
 * Images are kept as raw bytes (CIFAR-10 train is 150 MB as bytes, 600 MB as
 * floats) and normalised when a batch is assembled; the synthetic set is
 * kept as floats. An ImageNet split is only its file list (data_imnet.h):
 * the trainer reads its batches through the threaded loader. */
#ifndef QS_DATA_H
#define QS_DATA_H

#include <stdint.h>

#include "data_imnet.h"
#include "rng.h"

typedef enum {
    QS_DATA_SYNTHETIC = 0, QS_DATA_FMNIST = 1, QS_DATA_CIFAR10 = 2, QS_DATA_IMAGENET = 3
} qs_data_kind;
#define QS_DATA_NKINDS 4

typedef struct {
    qs_data_kind kind;
    int n;              /* examples */
    int c, h, w;        /* per-example shape; synthetic: c = 2, h = w = 1 */
    int classes;
    float *xf;          /* synthetic: [n, 2], already divided by the radius */
    uint8_t *xu8;       /* images: [n, c, h, w] raw bytes (fmnist padded to 32x32) */
    int *y;             /* [n] labels */
    float mean[3], std[3]; /* per-channel normalisation of x/255 */
    /* imagenet: the split's files (owned); c = 3, h = w = the crop side,
     * n = ix->n; xu8 and y stay NULL. */
    qs_imnet_index *ix;
} qs_dataset;

/* Synthetic settings (methods.md section 6), every one a grid setting. */
typedef struct {
    int radii;          /* 10 */
    int points;         /* 100 per semicircle */
    int copies;         /* 9 noisy copies of each core point */
    float sigma;        /* 0.1 */
    int test_points;    /* 10000 */
    float test_radius;  /* 10.5 */
    uint64_t seed;      /* data seed (not the job seed): same data for every job */
} qs_synth_cfg;

void qs_synth_cfg_default(qs_synth_cfg *c);

const char *qs_data_kind_name(qs_data_kind k); /* "synthetic", "fashion-mnist", "cifar10", "imagenet" */
/* Per-example shape (channels, height, width) and classes of a dataset as
 * loaded (the models' input); imagenet: 3 x 224 x 224 and 1000 classes,
 * ImageNet-1k's (a tree's own crop side and classes are in its qs_dataset). */
void qs_data_shape(qs_data_kind k, int *c, int *h, int *w, int *classes);
/* Parses a --data name; returns 0 or QS_EINVAL naming the allowed values. */
int qs_data_kind_parse(qs_data_kind *out, const char *name);

/* Checks that every file the loader will need exists and has the right size
 * (no data is read); errors name the file. dir NULL = the default paths of
 * interfaces.md. Synthetic always succeeds; imagenet needs dir (the ROOT
 * of ROOT/train, ROOT/val) and checks that both splits have class
 * directories (the files are listed when the data is loaded). */
int qs_data_check(qs_data_kind kind, const char *dir);

/* Loads train and test splits. limit 0 = the whole split, else the first
 * `limit` examples (the files are already shuffled). Errors name the file
 * and, for corrupt content, the byte offset. */
int qs_data_load(qs_dataset *train, qs_dataset *test, qs_data_kind kind,
                 const char *dir, int train_limit, int test_limit,
                 const qs_synth_cfg *synth);

/* ImageNet folders at root (data_imnet.h): train and val indexes, crop side
 * `size` (QS_IMNET_MIN_SIZE..QS_IMNET_MAX_SIZE). A limit N below a split's
 * count keeps N files spread evenly over it (file i x count / N), so every
 * class stays in. qs_data_load(imagenet) is this at size 224. */
int qs_data_load_imnet(qs_dataset *train, qs_dataset *test, const char *root, int size,
                       int train_limit, int test_limit);

/* The 256 x 256 decision-map grid over [-11, 11]^2, row-major from the top
 * left (y = +11) to the bottom right; labels are the true ring labels. */
int qs_data_synth_grid(qs_dataset *grid, const qs_synth_cfg *synth);

void qs_data_free(qs_dataset *d);

/* Assembles a batch: x [nb, c, H, W] normalised floats, y [nb].
 * idx: the nb example indices. augment: random crop (4-pixel zero padding)
 * + horizontal flip, drawn from rng (images only; ignored for synthetic).
 * Padding pixels are raw 0 before normalisation, as torchvision pads the
 * image before ToTensor/Normalize. In-memory sets only (not imagenet). */
void qs_data_batch(float *x, int *y, const qs_dataset *d, const int *idx,
                   int nb, int augment, qs_rng *rng);

#endif
