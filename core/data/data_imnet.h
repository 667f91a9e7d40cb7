/* ImageNet in the standard folder layout (docs/imagenet.md): the JPEG
 * files of class <wnid> in ROOT/train/<wnid>/ and ROOT/val/<wnid>/.
 * Classes are the sorted wnid directories of train/ (label = rank); files
 * are listed in name order, so an index is the same on every machine.
 * JPEGs are decoded with libjpeg-turbo (TurboJPEG API) on a small pool of
 * threads that fills the next batch while the caller trains on the
 * current one; memory is bounded by two batches plus one decode buffer per
 * thread. Unlike the CIFAR loader nothing is held in memory but the file
 * list: ImageNet's 1.28M training images are 140 GB as JPEG.
 *
 * Transforms, as torchvision's standard ImageNet recipe:
 * - train: random-resized-crop (area scale in [0.08, 1], aspect ratio in
 *   [3/4, 4/3] log-uniform, 10 tries then a centred fallback) resized to
 *   size x size (224) bilinearly, then a horizontal flip with p = 0.5;
 * - eval: the shorter side resized to `resize` (256), centre crop of
 *   size x size;
 * - then (v / 255 - mean) / std per channel (ImageNet's mean and std).
 * Bilinear sampling is plain (half-pixel centres, align_corners false, no
 * antialiasing filter): PIL's resize, which torchvision uses on images,
 * low-pass filters when it shrinks, so downscaled pixels differ slightly.
 * Random numbers come from the job's RNG: qs_imnet_epoch draws one seed
 * per epoch from it and every image's crop and flip come from that seed and
 * the image's position in the epoch, so a seed reproduces every batch
 * whatever the thread count or timing. */
#ifndef QS_DATA_IMNET_H
#define QS_DATA_IMNET_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"

/* Crop sides the trainer takes (--image-size): 32 keeps the five
 * stride-2 stages at least 1 x 1; 1024 bounds the activations a
 * checkpoint's input can ask for. */
#define QS_IMNET_MIN_SIZE 32
#define QS_IMNET_MAX_SIZE 1024
/* Class count bound (ImageNet-21k has 21,841). */
#define QS_IMNET_MAX_CLASSES 100000

typedef struct {
    int n;              /* images */
    int classes;
    char **wnids;       /* [classes], sorted */
    char **paths;       /* [n], full paths */
    int *labels;        /* [n] */
} qs_imnet_index;

/* Lists the JPEGs in root/split/<wnid>/ (.JPEG, .jpeg, .jpg, any case; other files
 * and dot-files are skipped). classes NULL: the split's own sorted wnid
 * directories are the classes (use for train); else the wnids of
 * `classes` (the train index), and a directory that is not one of them is
 * an error naming it. An empty class directory or split is an error. */
int qs_imnet_scan(qs_imnet_index *ix, const char *root, const char *split,
                  const qs_imnet_index *classes);
void qs_imnet_index_free(qs_imnet_index *ix);
/* Keeps `limit` files spread evenly over the index (file i x n / limit);
 * nothing when limit is 0 or at least n. */
int qs_imnet_index_limit(qs_imnet_index *ix, int limit);
/* Cheap check before any job runs: root/train and root/val are
 * directories with at least one class directory each; *classes (may be
 * NULL) = train's class directories. Errors name the path. */
int qs_imnet_check(const char *root, int *classes);

/* ---- one image (core/data/data_imnet_img.c) ---------------------------------- */

typedef struct {
    uint8_t *rgb;       /* [h, w, 3] */
    int w, h;
    size_t cap;         /* bytes allocated in rgb */
} qs_imnet_img;

/* Decodes JPEG bytes to RGB (grayscale expanded, CMYK / YCCK converted);
 * tj is a TurboJPEG decompressor (tjInitDecompress) as void *. A file that
 * is not a JPEG, is truncated (no end-of-image marker) or fails to decode
 * is QS_EFORMAT with a message naming `path`. libjpeg's warnings (e.g.
 * extraneous bytes before a marker, found in a few ImageNet files) are
 * not errors: the image decoded. */
int qs_imnet_decode(qs_imnet_img *img, void *tj, const uint8_t *buf, size_t len,
                    const char *path);
void qs_imnet_img_free(qs_imnet_img *img);

typedef struct {
    int size;           /* output side, 224 */
    int resize;         /* eval: shorter side before the centre crop, 256 */
    float mean[3], std[3];
    int augment;        /* train loaders: 1 random-resized-crop + flip, 0 the eval transform */
} qs_imnet_tf;

void qs_imnet_tf_default(qs_imnet_tf *tf);
/* The default transform at crop side `size`: resize = round(size x 256 / 224). */
void qs_imnet_tf_sized(qs_imnet_tf *tf, int size);
/* x [3, size, size] <- train transform of img with the crop and flip
 * drawn from r. */
void qs_imnet_train_tf(float *x, const qs_imnet_img *img, const qs_imnet_tf *tf, qs_rng *r);
/* x [3, size, size] <- eval transform (resize shorter side, centre crop). */
void qs_imnet_eval_tf(float *x, const qs_imnet_img *img, const qs_imnet_tf *tf);
/* The crop box of random-resized-crop for a w x h image (torchvision's
 * get_params): top-left (*x0, *y0) and size *cw x *ch, in pixels. */
void qs_imnet_rrc_box(int *x0, int *y0, int *cw, int *ch, int w, int h, qs_rng *r);

/* ---- batches on worker threads (core/data/data_imnet.c) ---------------------- */

typedef struct qs_imnet_loader qs_imnet_loader;

/* A loader over ix (which must outlive it): batches of up to `batch`
 * images, decoded on `threads` worker threads (1..64). train 1: shuffled,
 * train transform, the last partial batch dropped; train 0: index order,
 * eval transform, the last partial batch kept. */
int qs_imnet_loader_open(qs_imnet_loader **out, const qs_imnet_index *ix,
                         const qs_imnet_tf *tf, int batch, int threads, int train);
/* Starts an epoch: the shuffle (train) and the epoch's seed come from rng
 * (NULL allowed in eval mode); decoding of the first two batches starts at
 * once. An epoch may start before the last one ended. */
int qs_imnet_epoch(qs_imnet_loader *L, qs_rng *rng);
/* The next batch: *x [nb, 3, size, size], *y [nb], valid until the next
 * call; *nb = 0 at the end of the epoch. While the caller works on it the
 * batch after it is decoded. A file that is not a decodable JPEG
 * (QS_EFORMAT: corrupt, truncated, not a JPEG) is skipped: the batch is
 * that much shorter (a batch left empty is passed over) and the file is
 * counted (qs_imnet_skipped). Which files are skipped depends on their
 * bytes alone, so a seed still gives the same batches. A file that cannot
 * be read (QS_EIO) is an error naming it and the epoch stops. */
int qs_imnet_next(qs_imnet_loader *L, const float **x, const int **y, int *nb);
/* Files skipped in this epoch's batches so far (reset by qs_imnet_epoch);
 * msg (cap bytes, may be NULL) gets the latest one's error, naming it. */
int qs_imnet_skipped(const qs_imnet_loader *L, char *msg, size_t cap);
/* Batches in an epoch. */
int qs_imnet_batches(const qs_imnet_loader *L);
void qs_imnet_loader_close(qs_imnet_loader *L);

#endif
