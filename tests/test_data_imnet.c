/* ImageNet folder loader (core/data/data_imnet.h) on a tiny generated tree:
 * JPEGs written with tjCompress2 into a temp dir in the train/<wnid>/
 * layout, then scanned and loaded. Checks: class order and labels, batch
 * shapes, the eval centre crop of a known image against an independent
 * double-precision resize + crop of the same decoded pixels, the train
 * crop's box rules, determinism of a seed across thread counts, CMYK and
 * grayscale decoding, and bad files:
 * truncated and non-JPEG files skipped and counted (named), an unreadable
 * file an error naming it. */
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "data_imnet.h"
#include "err.h"
#include "tharness.h"

static char root[256];

/* Image k of class c: R = 5x + 3k, G = 4y, B = 60 + 60c (constant per
 * class, so a crop still shows its class). */
static void pixels(uint8_t *p, int w, int h, int c, int k)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *q = p + 3 * ((size_t)y * w + x);
            q[0] = (uint8_t)(5 * x + 3 * k);
            q[1] = (uint8_t)(4 * y);
            q[2] = (uint8_t)(60 + 60 * c);
        }
}

/* Writes a JPEG of the image (quality 100, 4:4:4: close to lossless);
 * cut > 0 drops the last `cut` bytes (a truncated file). */
static int write_jpeg(const char *path, int w, int h, int c, int k, size_t cut)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    unsigned char *jpg = NULL;
    unsigned long len = 0;
    tjhandle tj = tjInitCompress();
    int ok = p && tj;
    if (ok) {
        pixels(p, w, h, c, k);
        ok = tjCompress2(tj, p, w, 0, h, TJPF_RGB, &jpg, &len, TJSAMP_444, 100, 0) == 0;
    }
    FILE *f = ok ? fopen(path, "wb") : NULL;
    if (f) {
        size_t n = cut && cut < len ? len - cut : len;
        ok = fwrite(jpg, 1, n, f) == n;
        fclose(f);
    } else {
        ok = 0;
    }
    tjFree(jpg);
    if (tj)
        tjDestroy(tj);
    free(p);
    return ok;
}

static const char *const wnids[3] = {"n0300", "n0100", "n0200"}; /* written unsorted */

static int make_tree(void)
{
    char p[512];
    const char *splits[2] = {"train", "val"};
    for (int s = 0; s < 2; s++) {
        snprintf(p, sizeof p, "%s/%s", root, splits[s]);
        if (mkdir(p, 0755))
            return 0;
        for (int c = 0; c < 3; c++) {
            snprintf(p, sizeof p, "%s/%s/%s", root, splits[s], wnids[c]);
            if (mkdir(p, 0755))
                return 0;
            int label = wnids[c][2] - '1'; /* sorted rank */
            for (int k = 0; k < (s ? 2 : 4); k++) {
                snprintf(p, sizeof p, "%s/%s/%s/img%d.JPEG", root, splits[s], wnids[c], 3 - k);
                if (!write_jpeg(p, 40, 50, label, k, 0))
                    return 0;
            }
        }
    }
    /* skipped: another file type, a dot-file, a dot-directory */
    snprintf(p, sizeof p, "%s/train/n0100/notes.txt", root);
    FILE *f = fopen(p, "w");
    if (!f)
        return 0;
    fputs("not an image\n", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/train/.cache", root);
    return mkdir(p, 0755) == 0;
}

static void test_scan(void)
{
    qs_imnet_index tr, va;
    T_CHECK(qs_imnet_scan(&tr, root, "train", NULL) == 0, "scan train: %s", qs_errmsg());
    T_CHECK(tr.classes == 3 && tr.n == 12, "classes %d n %d", tr.classes, tr.n);
    T_CHECK(!strcmp(tr.wnids[0], "n0100") && !strcmp(tr.wnids[2], "n0300"), "order %s %s",
            tr.wnids[0], tr.wnids[2]);
    for (int i = 0; i < 12; i++) {
        T_CHECK(tr.labels[i] == i / 4, "label[%d] %d", i, tr.labels[i]);
        char want[512];
        snprintf(want, sizeof want, "%s/train/%s/img%d.JPEG", root, tr.wnids[i / 4], i % 4);
        T_CHECK(!strcmp(tr.paths[i], want), "path[%d] %s want %s", i, tr.paths[i], want);
    }
    T_CHECK(qs_imnet_scan(&va, root, "val", &tr) == 0, "scan val: %s", qs_errmsg());
    T_CHECK(va.n == 6 && va.classes == 3 && va.labels[5] == 2, "val n %d", va.n);
    qs_imnet_index_free(&va);
    T_CHECK(qs_imnet_scan(&va, root, "test", &tr) == QS_EIO && strstr(qs_errmsg(), "/test"),
            "missing split: %s", qs_errmsg());
    qs_imnet_index_free(&tr);
}

/* Independent eval transform in double: resize so the shorter side is
 * 256 (the longer int(256 * long / short)), crop 224 at round((R - 224) /
 * 2); bilinear, half-pixel centres, clamped at the edges. */
static double ref_eval(const uint8_t *rgb, int w, int h, int c, int oy, int ox)
{
    int rw = w <= h ? 256 : (int)(256.0 * w / h), rh = w <= h ? (int)(256.0 * h / w) : 256;
    int top = (int)nearbyint((rh - 224) / 2.0), left = (int)nearbyint((rw - 224) / 2.0);
    double sy = fmin(fmax((oy + top + 0.5) * h / rh - 0.5, 0), h - 1);
    double sx = fmin(fmax((ox + left + 0.5) * w / rw - 0.5, 0), w - 1);
    int y0 = (int)floor(sy), x0 = (int)floor(sx);
    int y1 = y0 + 1 < h ? y0 + 1 : y0, x1 = x0 + 1 < w ? x0 + 1 : x0;
    double fy = sy - y0, fx = sx - x0;
#define P(y, x) (double)rgb[3 * ((size_t)(y) * w + (x)) + c]
    double v = (1 - fy) * ((1 - fx) * P(y0, x0) + fx * P(y0, x1)) +
               fy * ((1 - fx) * P(y1, x0) + fx * P(y1, x1));
#undef P
    static const double mean[3] = {0.485, 0.456, 0.406}, sd[3] = {0.229, 0.224, 0.225};
    return (v / 255.0 - mean[c]) / sd[c];
}

static void test_eval_batches(void)
{
    qs_imnet_index tr, va;
    qs_imnet_tf tf;
    qs_imnet_loader *L = NULL;
    qs_imnet_tf_default(&tf);
    T_CHECK(qs_imnet_scan(&tr, root, "train", NULL) == 0 && qs_imnet_scan(&va, root, "val", &tr) == 0,
            "scan: %s", qs_errmsg());
    T_CHECK(qs_imnet_loader_open(&L, &va, &tf, 4, 2, 0) == 0, "open: %s", qs_errmsg());
    T_CHECK(qs_imnet_batches(L) == 2, "batches %d", qs_imnet_batches(L));
    const float *x;
    const int *y;
    int nb, seen = 0;
    /* decode image 0 of val (n0100/img2.JPEG) independently */
    FILE *f = fopen(va.paths[0], "rb");
    T_CHECK(f, "open %s", va.paths[0]);
    static uint8_t jpg[1 << 16], rgb[40 * 50 * 3];
    size_t len = fread(jpg, 1, sizeof jpg, f);
    fclose(f);
    tjhandle tj = tjInitDecompress();
    T_CHECK(tjDecompress2(tj, jpg, len, rgb, 40, 0, 50, TJPF_RGB, TJFLAG_ACCURATEDCT) == 0, "decode");
    tjDestroy(tj);
    for (int epoch = 0; epoch < 2; epoch++) {
        qs_imnet_epoch(L, NULL);
        for (int b = 0; b < 3; b++) {
            T_CHECK(qs_imnet_next(L, &x, &y, &nb) == 0, "next: %s", qs_errmsg());
            T_CHECK(nb == (b == 0 ? 4 : b == 1 ? 2 : 0), "batch %d: nb %d", b, nb);
            for (int i = 0; i < nb; i++)
                T_CHECK(y[i] == (4 * b + i) / 2, "batch %d label %d = %d", b, i, y[i]);
            if (b == 0) {
                double worst = 0;
                for (int c = 0; c < 3; c++)
                    for (int oy = 0; oy < 224; oy++)
                        for (int ox = 0; ox < 224; ox++)
                            worst = fmax(worst, fabs(x[(c * 224 + oy) * 224 + ox] -
                                                     ref_eval(rgb, 40, 50, c, oy, ox)));
                T_CHECK(worst < 1e-4, "centre crop differs from the reference by %g", worst);
                /* and the known colour: B of class 0 is 60, within JPEG's error */
                double bv = x[(2 * 224 + 100) * 224 + 100], want = (60 / 255.0 - 0.406) / 0.225;
                T_CHECK(fabs(bv - want) < 3 / 255.0 / 0.225, "blue %g want %g", bv, want);
                /* R = 5x + 3 (image k = 1): the left column reads source x = 2.08 */
                double r0 = x[100 * 224 + 0] * 0.229 + 0.485;
                T_CHECK(fabs(r0 * 255 - (5 * ((16 + 0.5) * 40 / 256.0 - 0.5) + 3)) < 3, "red %g", r0 * 255);
            }
            seen += nb;
        }
    }
    T_CHECK(seen == 12, "images over two epochs %d", seen);
    qs_imnet_loader_close(L);
    qs_imnet_index_free(&va);
    qs_imnet_index_free(&tr);
}

/* One epoch of train batches (batch 4: 3 batches) into out [12 x 3 x 224 x 224]. */
static int train_epoch(float *out, int *labels, const qs_imnet_index *ix, int threads, uint64_t seed)
{
    qs_imnet_tf tf;
    qs_imnet_loader *L;
    qs_rng r;
    qs_imnet_tf_default(&tf);
    if (qs_imnet_loader_open(&L, ix, &tf, 4, threads, 1))
        return 0;
    qs_rng_seed(&r, seed);
    qs_imnet_epoch(L, &r);
    const size_t per = 3 * 224 * 224;
    const float *x;
    const int *y;
    int nb, at = 0, ok = 1;
    while (ok && qs_imnet_next(L, &x, &y, &nb) == 0 && nb > 0) {
        memcpy(out + at * per, x, nb * per * sizeof(float));
        memcpy(labels + at, y, nb * sizeof(int));
        at += nb;
    }
    qs_imnet_loader_close(L);
    return at == 12;
}

static void test_train_determinism(void)
{
    qs_imnet_index tr;
    T_CHECK(qs_imnet_scan(&tr, root, "train", NULL) == 0, "scan: %s", qs_errmsg());
    const size_t per = 3 * 224 * 224;
    float *a = malloc(12 * per * sizeof(float)), *b = malloc(12 * per * sizeof(float));
    int la[12], lb[12];
    T_CHECK(a && b, "alloc");
    T_CHECK(train_epoch(a, la, &tr, 1, 5) && train_epoch(b, lb, &tr, 3, 5), "epochs: %s", qs_errmsg());
    T_CHECK(memcmp(a, b, 12 * per * sizeof(float)) == 0 && memcmp(la, lb, sizeof la) == 0,
            "same seed, 1 vs 3 threads: batches differ");
    int count[3] = {0}, moved = 0;
    for (int i = 0; i < 12; i++) {
        count[la[i]]++;
        moved += la[i] != i / 4;
        /* the blue channel still names the class after any crop and flip */
        double bv = a[i * per + 2 * 224 * 224 + 112 * 224 + 112] * 0.225 + 0.406;
        T_CHECK(fabs(bv * 255 - (60 + 60 * la[i])) < 3, "image %d: blue %g for label %d", i,
                bv * 255, la[i]);
    }
    T_CHECK(count[0] == 4 && count[1] == 4 && count[2] == 4 && moved > 0, "labels not a shuffle");
    T_CHECK(train_epoch(b, lb, &tr, 2, 6), "epoch seed 6");
    T_CHECK(memcmp(a, b, 12 * per * sizeof(float)) != 0, "seeds 5 and 6 gave the same batches");
    free(a);
    free(b);
    qs_imnet_index_free(&tr);
}

/* torchvision's RandomResizedCrop box: inside the image, area 8-100 %,
 * aspect ratio 3/4..4/3 (up to rounding); the fallback is centred. */
static void test_rrc_box(void)
{
    qs_rng r;
    qs_rng_seed(&r, 3);
    int flips = 0;
    for (int t = 0; t < 2000; t++) {
        int x0, y0, cw, ch;
        qs_imnet_rrc_box(&x0, &y0, &cw, &ch, 500, 375, &r);
        T_CHECK(x0 >= 0 && y0 >= 0 && cw >= 1 && ch >= 1 && x0 + cw <= 500 && y0 + ch <= 375,
                "box %d,%d %dx%d", x0, y0, cw, ch);
        double a = (double)cw * ch / (500.0 * 375), ar = (double)cw / ch;
        T_CHECK(a > 0.07 && a <= 1.0 && ar > 0.7 && ar < 1.45, "area %g ratio %g", a, ar);
        flips += qs_rng_uniform(&r) < 0.5f;
    }
    int x0, y0, cw, ch;
    qs_imnet_rrc_box(&x0, &y0, &cw, &ch, 1000, 10, &r); /* never fits: fallback */
    T_CHECK(ch == 10 && cw == 13 && x0 == (1000 - 13) / 2 && y0 == 0, "fallback %d,%d %dx%d",
            x0, y0, cw, ch);
}

/* CMYK JPEGs (a few in ImageNet) decode to R = C K / 255 (Adobe's inverted
 * CMYK, as PIL reads them); grayscale ones to R = G = B. */
static void test_cmyk_gray(void)
{
    enum { W = 16, H = 8 };
    uint8_t px[W * H * 4];
    for (int i = 0; i < W * H; i++) {
        px[4 * i] = 200;
        px[4 * i + 1] = 100;
        px[4 * i + 2] = 50;
        px[4 * i + 3] = 128;
    }
    tjhandle tc = tjInitCompress(), td = tjInitDecompress();
    unsigned char *jpg = NULL;
    unsigned long len = 0;
    T_CHECK(tjCompress2(tc, px, W, 0, H, TJPF_CMYK, &jpg, &len, TJSAMP_444, 100, 0) == 0,
            "compress cmyk: %s", tjGetErrorStr2(tc));
    qs_imnet_img img = {0};
    T_CHECK(qs_imnet_decode(&img, td, jpg, len, "cmyk.JPEG") == 0, "decode: %s", qs_errmsg());
    T_CHECK(img.w == W && img.h == H, "size %dx%d", img.w, img.h);
    const int want[3] = {200 * 128 / 255, 100 * 128 / 255, 50 * 128 / 255};
    for (int c = 0; c < 3; c++)
        T_CHECK(abs(img.rgb[3 * 37 + c] - want[c]) <= 2, "cmyk channel %d: %d want %d", c,
                img.rgb[3 * 37 + c], want[c]);
    tjFree(jpg);
    jpg = NULL;
    uint8_t g[W * H];
    memset(g, 90, sizeof g);
    T_CHECK(tjCompress2(tc, g, W, 0, H, TJPF_GRAY, &jpg, &len, TJSAMP_GRAY, 100, 0) == 0,
            "compress gray");
    T_CHECK(qs_imnet_decode(&img, td, jpg, len, "gray.JPEG") == 0, "decode gray: %s", qs_errmsg());
    for (int c = 0; c < 3; c++)
        T_CHECK(abs(img.rgb[3 * 5 + c] - 90) <= 1, "gray channel %d: %d", c, img.rgb[3 * 5 + c]);
    tjFree(jpg);
    qs_imnet_img_free(&img);
    tjDestroy(tc);
    tjDestroy(td);
}

static void test_bad_files(void)
{
    char p[512], bad[300];
    snprintf(bad, sizeof bad, "%s/bad", root);
    snprintf(p, sizeof p, "%s/train", bad);
    T_CHECK(mkdir(bad, 0755) == 0 && mkdir(p, 0755) == 0, "mkdir");
    snprintf(p, sizeof p, "%s/train/n1", bad);
    T_CHECK(mkdir(p, 0755) == 0, "mkdir");
    for (int k = 0; k < 3; k++) {
        snprintf(p, sizeof p, "%s/train/n1/ok%d.JPEG", bad, k);
        T_CHECK(write_jpeg(p, 40, 50, 0, k, 0), "write");
    }
    snprintf(p, sizeof p, "%s/train/n1/trunc.JPEG", bad);
    T_CHECK(write_jpeg(p, 40, 50, 0, 0, 300), "write truncated");
    qs_imnet_index ix;
    qs_imnet_tf tf;
    qs_imnet_loader *L;
    qs_imnet_tf_default(&tf);
    T_CHECK(qs_imnet_scan(&ix, bad, "train", NULL) == 0 && ix.n == 4, "scan: %s", qs_errmsg());
    T_CHECK(qs_imnet_loader_open(&L, &ix, &tf, 4, 2, 0) == 0, "open");
    const float *x;
    const int *y;
    int nb;
    char msg[600];
    qs_imnet_epoch(L, NULL);
    /* skipped, counted, named; the batch holds the other three */
    int rc = qs_imnet_next(L, &x, &y, &nb);
    T_CHECK(rc == 0 && nb == 3, "truncated: rc %d, nb %d: %s", rc, nb, qs_errmsg());
    T_CHECK(qs_imnet_skipped(L, msg, sizeof msg) == 1 && strstr(msg, p) &&
                strstr(msg, "truncated"), "truncated not counted: %s", msg);
    T_CHECK(qs_imnet_next(L, &x, &y, &nb) == 0 && nb == 0, "epoch did not end");
    qs_imnet_epoch(L, NULL);
    T_CHECK(qs_imnet_skipped(L, NULL, 0) == 0, "count not reset by the epoch");
    qs_imnet_loader_close(L);
    qs_imnet_index_free(&ix);
    /* not a JPEG at all; in batches of 2 the decoders go on after it */
    FILE *f = fopen(p, "wb");
    T_CHECK(f, "rewrite");
    fputs("GIF89a, not really", f);
    fclose(f);
    qs_imnet_scan(&ix, bad, "train", NULL);
    qs_imnet_loader_open(&L, &ix, &tf, 2, 1, 0);
    qs_imnet_epoch(L, NULL);
    int total = 0;
    while ((rc = qs_imnet_next(L, &x, &y, &nb)) == 0 && nb > 0)
        total += nb;
    T_CHECK(rc == 0 && total == 3, "not a JPEG: rc %d, %d images: %s", rc, total, qs_errmsg());
    T_CHECK(qs_imnet_skipped(L, msg, sizeof msg) == 1 && strstr(msg, p) &&
                strstr(msg, "not a JPEG"), "not a JPEG not counted: %s", msg);
    qs_imnet_loader_close(L);
    /* a batch whose every file is bad is passed over, not the epoch's end */
    qs_imnet_loader_open(&L, &ix, &tf, 1, 1, 1);
    qs_rng r;
    qs_rng_seed(&r, 3);
    qs_imnet_epoch(L, &r);
    total = 0;
    while ((rc = qs_imnet_next(L, &x, &y, &nb)) == 0 && nb > 0)
        total += nb;
    T_CHECK(rc == 0 && total == 3 && qs_imnet_skipped(L, NULL, 0) == 1,
            "batch of 1: rc %d, %d images", rc, total);
    qs_imnet_loader_close(L);
    /* unreadable: gone after the scan */
    unlink(p);
    qs_imnet_loader_open(&L, &ix, &tf, 4, 1, 0);
    qs_imnet_epoch(L, NULL);
    rc = qs_imnet_next(L, &x, &y, &nb);
    T_CHECK(rc == QS_EIO && strstr(qs_errmsg(), p), "missing file: rc %d: %s", rc, qs_errmsg());
    T_CHECK(qs_imnet_next(L, &x, &y, &nb) == 0 && nb == 0, "epoch did not stop");
    qs_imnet_loader_close(L);
    qs_imnet_index_free(&ix);
    /* a val class the training set lacks */
    qs_imnet_index tr, va;
    T_CHECK(qs_imnet_scan(&tr, root, "train", NULL) == 0, "scan");
    snprintf(p, sizeof p, "%s/val/n0999", root);
    T_CHECK(mkdir(p, 0755) == 0, "mkdir");
    T_CHECK(qs_imnet_scan(&va, root, "val", &tr) == QS_EFORMAT && strstr(qs_errmsg(), "n0999"),
            "unknown val class: %s", qs_errmsg());
    rmdir(p);
    qs_imnet_index_free(&tr);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/qsweep-imnet.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root) || !make_tree()) {
        printf("FAIL test_data_imnet: cannot make the test tree in %s\n", root);
        return 1;
    }
    T_RUN(test_scan);
    T_RUN(test_eval_batches);
    T_RUN(test_train_determinism);
    T_RUN(test_rrc_box);
    T_RUN(test_cmyk_gray);
    T_RUN(test_bad_files);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    T_EXIT();
}
