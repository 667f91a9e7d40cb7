/* Datasets: synthetic rings, Fashion-MNIST and CIFAR-10 loading, batch
 * assembly and augmentation (bad and missing files: test_data_files.c). */
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data.h"
#include "err.h"
#include "rng.h"
#include "tharness.h"

#define FM_DIR "/usr/share/datasets/fashion-mnist"
#define CIFAR_DIR "/work/shared/data/cifar10"

static int dir_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- synthetic --------------------------------------------------------- */

static void synth_sizes(void)
{
    qs_synth_cfg cfg;
    qs_dataset tr, te, g;
    qs_synth_cfg_default(&cfg);
    T_CHECK(qs_data_load(&tr, &te, QS_DATA_SYNTHETIC, NULL, 0, 0, &cfg) == 0, "%s",
            qs_errmsg());
    T_CHECK(tr.n == 20000 && te.n == 10000, "n %d %d", tr.n, te.n);
    T_CHECK(tr.c == 2 && tr.h == 1 && tr.w == 1 && tr.classes == 2, "shape");
    T_CHECK(qs_data_synth_grid(&g, &cfg) == 0, "%s", qs_errmsg());
    T_CHECK(g.n == 65536, "grid n %d", g.n);
    /* Top-left is (-11, +11), bottom-right (+11, -11), in units of 10. */
    T_CHECK(fabsf(g.xf[0] + 1.1f) < 1e-6f && fabsf(g.xf[1] - 1.1f) < 1e-6f, "grid corner");
    T_CHECK(fabsf(g.xf[2 * 65535] - 1.1f) < 1e-6f && fabsf(g.xf[2 * 65535 + 1] + 1.1f) < 1e-6f,
            "grid last");
    /* Row-major: the second point moves in x. */
    T_CHECK(g.xf[2] > g.xf[0] && g.xf[3] == g.xf[1], "grid order");
    /* Far corner: nearest ring clamps to 10 -> label 0; the point (0.1, 0)
     * region (ring 1) label 1. */
    T_CHECK(g.y[0] == 0, "grid corner label %d", g.y[0]);
    int cnt[2] = {0, 0};
    for (int i = 0; i < g.n; i++) {
        double d = 10.0 * hypot(g.xf[2 * i], g.xf[2 * i + 1]);
        long k = lround(d);
        k = k < 1 ? 1 : k > 10 ? 10 : k;
        if (fabs(d - floor(d) - 0.5) > 1e-4)
            T_CHECK(g.y[i] == (int)(k % 2), "grid label %d at d %.5f", i, d);
        cnt[g.y[i]]++;
    }
    T_CHECK(cnt[0] > 0 && cnt[1] > 0, "grid has both labels");
    qs_data_free(&tr);
    qs_data_free(&te);
    qs_data_free(&g);
    T_CHECK(tr.xf == NULL && tr.y == NULL && tr.n == 0, "free zeroes");
}

static void synth_balance_and_scale(void)
{
    qs_synth_cfg cfg;
    qs_dataset tr, te;
    qs_synth_cfg_default(&cfg);
    T_CHECK(qs_data_load(&tr, &te, QS_DATA_SYNTHETIC, NULL, 0, 0, &cfg) == 0, "%s",
            qs_errmsg());
    int cnt[2] = {0, 0};
    double maxr = 0.0;
    int core_found = 0;
    for (int i = 0; i < tr.n; i++) {
        T_CHECK(tr.y[i] == 0 || tr.y[i] == 1, "label %d", tr.y[i]);
        cnt[tr.y[i]]++;
        double r = hypot(tr.xf[2 * i], tr.xf[2 * i + 1]);
        if (r > maxr)
            maxr = r;
        /* The core point r = 1, angle 0 itself is in the set. */
        if (fabsf(tr.xf[2 * i] - 0.1f) < 1e-6f && fabsf(tr.xf[2 * i + 1]) < 1e-6f)
            core_found++;
    }
    T_CHECK(cnt[0] == 10000 && cnt[1] == 10000, "class counts %d %d", cnt[0], cnt[1]);
    T_CHECK(maxr > 1.0 && maxr < 1.1, "max |x| %.4f", maxr);
    /* Angle 0 of the upper half and angle 2 pi of the lower one. */
    T_CHECK(core_found == 2, "core point (1, 0) found %d times", core_found);
    /* Shuffled: the first 1,000 points span several rings, both labels. */
    int c0 = 0;
    for (int i = 0; i < 1000; i++)
        c0 += tr.y[i] == 0;
    T_CHECK(c0 > 350 && c0 < 650, "first 1000 not shuffled: %d of label 0", c0);

    double tmax = 0.0;
    for (int i = 0; i < te.n; i++) {
        double x = te.xf[2 * i], y = te.xf[2 * i + 1];
        double d = 10.0 * hypot(x, y);
        if (d > tmax)
            tmax = d;
        long k = lround(d);
        k = k < 1 ? 1 : k > 10 ? 10 : k;
        /* Float rounding can only move a point that sits on a k + 0.5 tie. */
        if (fabs(d - floor(d) - 0.5) > 1e-4)
            T_CHECK(te.y[i] == (int)(k % 2), "test %d: d %.5f label %d", i, d, te.y[i]);
    }
    T_CHECK(tmax <= 10.5 + 1e-4 && tmax > 10.3, "test radius %.4f", tmax);
    qs_data_free(&tr);
    qs_data_free(&te);
}

static int same_set(const qs_dataset *a, const qs_dataset *b)
{
    return a->n == b->n && memcmp(a->xf, b->xf, (size_t)a->n * 2 * sizeof(float)) == 0 &&
           memcmp(a->y, b->y, (size_t)a->n * sizeof(int)) == 0;
}

static void synth_determinism(void)
{
    qs_synth_cfg cfg;
    qs_dataset a, at, b, bt;
    qs_synth_cfg_default(&cfg);
    T_CHECK(qs_data_load(&a, &at, QS_DATA_SYNTHETIC, NULL, 0, 0, &cfg) == 0, "%s", qs_errmsg());
    T_CHECK(qs_data_load(&b, &bt, QS_DATA_SYNTHETIC, NULL, 0, 0, &cfg) == 0, "%s", qs_errmsg());
    T_CHECK(same_set(&a, &b) && same_set(&at, &bt), "same seed differs");
    qs_data_free(&b);
    qs_data_free(&bt);

    /* Test size does not move the training set (separate streams). */
    cfg.test_points = 123;
    T_CHECK(qs_data_load(&b, &bt, QS_DATA_SYNTHETIC, NULL, 0, 0, &cfg) == 0, "%s", qs_errmsg());
    T_CHECK(same_set(&a, &b), "train depends on test_points");
    T_CHECK(bt.n == 123 && memcmp(bt.xf, at.xf, 123 * 2 * sizeof(float)) == 0,
            "test prefix changed");
    qs_data_free(&b);
    qs_data_free(&bt);

    cfg.test_points = 10000;
    cfg.seed = 2;
    T_CHECK(qs_data_load(&b, &bt, QS_DATA_SYNTHETIC, NULL, 0, 0, &cfg) == 0, "%s", qs_errmsg());
    T_CHECK(!same_set(&a, &b) && !same_set(&at, &bt), "different seed, same data");
    qs_data_free(&b);
    qs_data_free(&bt);

    /* Limits keep a prefix; NULL cfg means the defaults. */
    T_CHECK(qs_data_load(&b, &bt, QS_DATA_SYNTHETIC, NULL, 500, 70, NULL) == 0, "%s",
            qs_errmsg());
    T_CHECK(b.n == 500 && bt.n == 70, "limits %d %d", b.n, bt.n);
    T_CHECK(memcmp(b.xf, a.xf, 500 * 2 * sizeof(float)) == 0, "limit not a prefix");
    qs_data_free(&b);
    qs_data_free(&bt);
    qs_data_free(&a);
    qs_data_free(&at);

    qs_synth_cfg_default(&cfg);
    cfg.points = 1;
    T_CHECK(qs_data_load(&a, &at, QS_DATA_SYNTHETIC, NULL, 0, 0, &cfg) == QS_EINVAL,
            "points 1 accepted");
    T_CHECK(a.xf == NULL && at.xf == NULL, "failed load left data");
    T_CHECK(qs_data_load(&a, &at, QS_DATA_SYNTHETIC, NULL, -1, 0, NULL) == QS_EINVAL,
            "negative limit accepted");
}

static void synth_batch(void)
{
    qs_dataset tr, te;
    T_CHECK(qs_data_load(&tr, &te, QS_DATA_SYNTHETIC, NULL, 0, 0, NULL) == 0, "%s",
            qs_errmsg());
    int idx[3] = {7, 0, 19999}, y[3];
    float x[6];
    qs_rng r;
    qs_rng_seed(&r, 1);
    qs_data_batch(x, y, &tr, idx, 3, 1, &r);
    for (int b = 0; b < 3; b++)
        T_CHECK(x[2 * b] == tr.xf[2 * idx[b]] && x[2 * b + 1] == tr.xf[2 * idx[b] + 1] &&
                    y[b] == tr.y[idx[b]],
                "row %d", b);
    qs_data_free(&tr);
    qs_data_free(&te);
}

static void kind_names(void)
{
    qs_data_kind k;
    T_CHECK(qs_data_kind_parse(&k, "cifar10") == 0 && k == QS_DATA_CIFAR10, "cifar10");
    T_CHECK(qs_data_kind_parse(&k, "fashion-mnist") == 0 && k == QS_DATA_FMNIST, "fmnist");
    T_CHECK(qs_data_kind_parse(&k, "synthetic") == 0 && k == QS_DATA_SYNTHETIC, "synthetic");
    T_CHECK(qs_data_kind_parse(&k, "mnist") == QS_EINVAL, "mnist accepted");
    T_CHECK(strstr(qs_errmsg(), "cifar10") && strstr(qs_errmsg(), "mnist"), "msg %s",
            qs_errmsg());
    T_CHECK(strcmp(qs_data_kind_name(QS_DATA_FMNIST), "fashion-mnist") == 0, "name");
    T_CHECK(qs_data_check(QS_DATA_SYNTHETIC, "/nonexistent") == 0, "synthetic check");
}

/* ---- Fashion-MNIST ----------------------------------------------------- */

static void fmnist_load(void)
{
    qs_dataset tr, te;
    T_CHECK(qs_data_check(QS_DATA_FMNIST, FM_DIR) == 0, "%s", qs_errmsg());
    T_CHECK(qs_data_load(&tr, &te, QS_DATA_FMNIST, FM_DIR, 1000, 300, NULL) == 0, "%s",
            qs_errmsg());
    T_CHECK(tr.n == 1000 && te.n == 300, "n %d %d", tr.n, te.n);
    T_CHECK(tr.c == 1 && tr.h == 32 && tr.w == 32 && tr.classes == 10, "shape");
    T_CHECK(fabsf(tr.mean[0] - 0.2860f) < 1e-6f && fabsf(tr.std[0] - 0.3530f) < 1e-6f,
            "mean/std");
    int seen[10] = {0};
    double sum = 0;
    for (int i = 0; i < tr.n; i++) {
        T_CHECK(tr.y[i] >= 0 && tr.y[i] <= 9, "label %d", tr.y[i]);
        seen[tr.y[i]]++;
        const uint8_t *im = tr.xu8 + (size_t)i * 1024;
        for (int r = 0; r < 32; r++)
            for (int c = 0; c < 32; c++) {
                if (r < 2 || r >= 30 || c < 2 || c >= 30)
                    T_CHECK(im[r * 32 + c] == 0, "border pixel %d,%d of %d", r, c, i);
                sum += im[r * 32 + c];
            }
    }
    for (int k = 0; k < 10; k++)
        T_CHECK(seen[k] > 50, "class %d seen %d times", k, seen[k]);
    /* Mean of x/255 over the 28x28 area is about 0.286. */
    double m = sum / (tr.n * 784.0 * 255.0);
    T_CHECK(m > 0.25 && m < 0.32, "mean %.3f", m);
    /* First train label of Fashion-MNIST is 9 (ankle boot). */
    T_CHECK(tr.y[0] == 9, "first label %d", tr.y[0]);
    for (int i = 0; i < te.n; i++)
        T_CHECK(te.y[i] >= 0 && te.y[i] <= 9, "test label %d", te.y[i]);
    qs_data_free(&tr);
    qs_data_free(&te);
}

/* ---- CIFAR-10 ---------------------------------------------------------- */

static void cifar_load(void)
{
    qs_dataset tr, te;
    uint8_t rec[3073];
    if (!dir_exists(CIFAR_DIR)) {
        fprintf(stderr, "note: %s absent, CIFAR-10 load not tested\n", CIFAR_DIR);
        return;
    }
    T_CHECK(qs_data_check(QS_DATA_CIFAR10, CIFAR_DIR) == 0, "%s", qs_errmsg());
    /* 10,005 crosses from batch 1 into batch 2. */
    T_CHECK(qs_data_load(&tr, &te, QS_DATA_CIFAR10, CIFAR_DIR, 10005, 200, NULL) == 0, "%s",
            qs_errmsg());
    T_CHECK(tr.n == 10005 && te.n == 200, "n %d %d", tr.n, te.n);
    T_CHECK(tr.c == 3 && tr.h == 32 && tr.w == 32 && tr.classes == 10, "shape");
    int seen[10] = {0};
    for (int i = 0; i < tr.n; i++) {
        T_CHECK(tr.y[i] >= 0 && tr.y[i] <= 9, "label %d", tr.y[i]);
        seen[tr.y[i]]++;
    }
    for (int k = 0; k < 10; k++)
        T_CHECK(seen[k] > 500, "class %d: %d", k, seen[k]);
    /* Example 10,002 is record 2 of data_batch_2.bin. */
    FILE *f = fopen(CIFAR_DIR "/data_batch_2.bin", "rb");
    T_CHECK(f, "open");
    int ok = fseek(f, 2 * 3073, SEEK_SET) == 0 && fread(rec, 1, 3073, f) == 3073;
    fclose(f);
    T_CHECK(ok, "read");
    T_CHECK(tr.y[10002] == rec[0] && memcmp(tr.xu8 + 10002 * 3072, rec + 1, 3072) == 0,
            "record mismatch");
    qs_data_free(&tr);
    qs_data_free(&te);
}

/* ---- batch assembly ---------------------------------------------------- */

/* A 2-example, 3-channel 32x32 image set with distinct nonzero pixels. */
static void fake_images(qs_dataset *d, uint8_t *px, int *y)
{
    memset(d, 0, sizeof *d);
    d->kind = QS_DATA_CIFAR10;
    d->n = 2;
    d->c = 3;
    d->h = d->w = 32;
    d->classes = 10;
    d->xu8 = px;
    d->y = y;
    d->mean[0] = 0.4914f, d->mean[1] = 0.4822f, d->mean[2] = 0.4465f;
    d->std[0] = 0.2470f, d->std[1] = 0.2435f, d->std[2] = 0.2616f;
    for (int i = 0; i < 2 * 3072; i++)
        px[i] = (uint8_t)(1 + (i * 7 + i / 97) % 255);
    y[0] = 4;
    y[1] = 7;
}

static float norm(const qs_dataset *d, int c, int v)
{
    return (float)(((double)v / 255.0 - d->mean[c]) / d->std[c]);
}

static void batch_plain(void)
{
    qs_dataset d;
    static uint8_t px[2 * 3072];
    static float x[2 * 3072];
    int y[2], yy[2], idx[2] = {1, 0};
    fake_images(&d, px, y);
    qs_data_batch(x, yy, &d, idx, 2, 0, NULL);
    T_CHECK(yy[0] == 7 && yy[1] == 4, "labels");
    for (int b = 0; b < 2; b++)
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < 1024; p++) {
                float want = norm(&d, c, px[idx[b] * 3072 + c * 1024 + p]);
                float got = x[b * 3072 + c * 1024 + p];
                T_CHECK(fabsf(got - want) < 1e-6f, "b%d c%d p%d: %g vs %g", b, c, p, got, want);
            }
}

/* The torchvision way, spelled out: pad to 40x40 with zeros, take the
 * 32x32 window at (top, left), then maybe mirror. */
static void reference_aug(float *out, const qs_dataset *d, const uint8_t *src, int top,
                          int left, int flip)
{
    static uint8_t padded[3][40][40], crop[3][32][32];
    memset(padded, 0, sizeof padded);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 32; i++)
            for (int j = 0; j < 32; j++)
                padded[c][i + 4][j + 4] = src[c * 1024 + i * 32 + j];
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 32; i++)
            for (int j = 0; j < 32; j++)
                crop[c][i][j] = padded[c][i + top][j + left];
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 32; i++)
            for (int j = 0; j < 32; j++)
                out[c * 1024 + i * 32 + j] = norm(d, c, crop[c][i][flip ? 31 - j : j]);
}

static void batch_augment(void)
{
    qs_dataset d;
    static uint8_t px[2 * 3072];
    static float x[64 * 3072], x2[64 * 3072], want[3072];
    int y[2], yy[64], idx[64];
    qs_rng r1, r2, rr;
    fake_images(&d, px, y);
    for (int b = 0; b < 64; b++)
        idx[b] = b % 2;
    qs_rng_seed(&r1, 99);
    qs_rng_seed(&r2, 99);
    rr = r1;
    qs_data_batch(x, yy, &d, idx, 64, 1, &r1);
    qs_data_batch(x2, yy, &d, idx, 64, 1, &r2);
    T_CHECK(memcmp(x, x2, sizeof x) == 0, "same seed, different batch");
    T_CHECK(memcmp(&r1, &r2, sizeof r1) == 0, "rng states differ");
    /* Against the reference, replaying the draws in the documented order. */
    int flips = 0, shifted = 0;
    for (int b = 0; b < 64; b++) {
        int dx = (int)qs_rng_below(&rr, 9), dy = (int)qs_rng_below(&rr, 9);
        int flip = (int)qs_rng_below(&rr, 2);
        flips += flip;
        shifted += dx != 4 || dy != 4;
        reference_aug(want, &d, px + idx[b] * 3072, dy, dx, flip);
        for (int p = 0; p < 3072; p++)
            T_CHECK(fabsf(x[b * 3072 + p] - want[p]) < 1e-6f, "ex %d (dx %d dy %d flip %d) p %d",
                    b, dx, dy, flip, p);
    }
    T_CHECK(memcmp(&rr, &r1, sizeof rr) == 0, "rng consumption differs from 3 draws/example");
    T_CHECK(flips > 10 && flips < 54 && shifted > 50, "draws look wrong: %d flips", flips);
}

/* Finds a seed whose first draws are (dx, dy, flip). */
static uint64_t seed_for(int dx, int dy, int flip)
{
    for (uint64_t s = 0;; s++) {
        qs_rng r;
        qs_rng_seed(&r, s);
        if ((int)qs_rng_below(&r, 9) == dx && (int)qs_rng_below(&r, 9) == dy &&
            (int)qs_rng_below(&r, 2) == flip)
            return s;
    }
}

static void batch_flip_and_pad(void)
{
    qs_dataset d;
    static uint8_t px[2 * 3072];
    static float x[3072], plain[3072];
    int y[2], yy, idx = 0;
    qs_rng r;
    fake_images(&d, px, y);
    qs_data_batch(plain, &yy, &d, &idx, 1, 0, NULL);

    /* Zero offset (draw 4 = centre) and flip: an exact mirror. */
    qs_rng_seed(&r, seed_for(4, 4, 1));
    qs_data_batch(x, &yy, &d, &idx, 1, 1, &r);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 32; i++)
            for (int j = 0; j < 32; j++)
                T_CHECK(x[c * 1024 + i * 32 + j] == plain[c * 1024 + i * 32 + 31 - j],
                        "mirror c%d %d,%d", c, i, j);
    /* Zero offset, no flip: the plain image. */
    qs_rng_seed(&r, seed_for(4, 4, 0));
    qs_data_batch(x, &yy, &d, &idx, 1, 1, &r);
    T_CHECK(memcmp(x, plain, sizeof x) == 0, "identity crop differs");

    /* Left = 0, top = 8: columns 0..3 and rows 28..31 are padding, and the
     * image moves right by 4 and up by 4. */
    qs_rng_seed(&r, seed_for(0, 8, 0));
    qs_data_batch(x, &yy, &d, &idx, 1, 1, &r);
    for (int c = 0; c < 3; c++) {
        float pad = (float)(-d.mean[c] / (double)d.std[c]);
        for (int i = 0; i < 32; i++)
            for (int j = 0; j < 32; j++) {
                float v = x[c * 1024 + i * 32 + j];
                if (j < 4 || i >= 28)
                    T_CHECK(fabsf(v - pad) < 1e-6f, "pad c%d %d,%d: %g vs %g", c, i, j, v, pad);
                else
                    T_CHECK(v == plain[c * 1024 + (i + 4) * 32 + j - 4], "shift c%d %d,%d", c,
                            i, j);
            }
    }
}

int main(void)
{
    T_RUN(synth_sizes);
    T_RUN(synth_balance_and_scale);
    T_RUN(synth_determinism);
    T_RUN(synth_batch);
    T_RUN(kind_names);
    T_RUN(fmnist_load);
    T_RUN(cifar_load);
    T_RUN(batch_plain);
    T_RUN(batch_augment);
    T_RUN(batch_flip_and_pad);
    T_EXIT();
}
