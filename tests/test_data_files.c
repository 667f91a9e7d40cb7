/* Dataset loading errors: missing directories, short, truncated, oversized and
 * corrupted CIFAR-10 and Fashion-MNIST files, made by hand in a temporary
 * directory; each must fail with a message naming the file and the offset. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data.h"
#include "err.h"
#include "tharness.h"

/* ---- temp dirs with hand-made files ------------------------------------ */

static char tmpdir[64];

static int make_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/qs_test_data_XXXXXX");
    return mkdtemp(tmpdir) != NULL;
}

static void rm_tmpdir(void)
{
    static const char *names[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                  "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin",
                                  "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                  "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
    char p[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", tmpdir, names[i]);
        unlink(p);
    }
    rmdir(tmpdir);
}

/* A CIFAR batch of `recs` records, sparse where possible: labels 0 and
 * pixels 0 unless patched. Returns 0 on success. */
static int write_cifar(const char *name, long long bytes)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "wb");
    if (!f)
        return -1;
    int rc = ftruncate(fileno(f), bytes);
    fclose(f);
    return rc;
}

static int patch_byte(const char *name, long long off, uint8_t v)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "r+b");
    if (!f)
        return -1;
    int rc = fseek(f, off, SEEK_SET) || fputc(v, f) == EOF;
    fclose(f);
    return rc;
}

static void missing_dir(void)
{
    qs_dataset tr, te;
    const char *d = "/nonexistent/qs_cifar";
    T_CHECK(qs_data_check(QS_DATA_CIFAR10, d) == QS_EIO, "check");
    T_CHECK(strstr(qs_errmsg(), "/nonexistent/qs_cifar/data_batch_1.bin") &&
                strstr(qs_errmsg(), "--data-dir"),
            "msg %s", qs_errmsg());
    T_CHECK(qs_data_load(&tr, &te, QS_DATA_CIFAR10, d, 10, 10, NULL) == QS_EIO, "load");
    T_CHECK(strstr(qs_errmsg(), d), "msg %s", qs_errmsg());
    T_CHECK(tr.xu8 == NULL && te.xu8 == NULL, "left data");
    T_CHECK(qs_data_load(&tr, &te, QS_DATA_FMNIST, "/nonexistent/qs_fm", 10, 10, NULL) == QS_EIO,
            "fmnist load");
    T_CHECK(strstr(qs_errmsg(), "/nonexistent/qs_fm/train-"), "msg %s", qs_errmsg());
    T_CHECK(qs_data_check(QS_DATA_FMNIST, "/nonexistent/qs_fm") == QS_EIO, "fmnist check");
}

static void cifar_bad_files(void)
{
    qs_dataset tr, te;
    const long long full = 30730000LL;
    T_CHECK(make_tmpdir(), "mkdtemp");
    /* Short first batch. */
    T_CHECK(write_cifar("data_batch_1.bin", 1000) == 0, "write");
    int rc = qs_data_load(&tr, &te, QS_DATA_CIFAR10, tmpdir, 5, 5, NULL);
    T_CHECK(rc == QS_EIO, "short file rc %d", rc);
    T_CHECK(strstr(qs_errmsg(), "data_batch_1.bin") && strstr(qs_errmsg(), tmpdir) &&
                strstr(qs_errmsg(), "1000 bytes"),
            "msg %s", qs_errmsg());
    T_CHECK(qs_data_check(QS_DATA_CIFAR10, tmpdir) == QS_EIO, "check short");
    T_CHECK(strstr(qs_errmsg(), "data_batch_1.bin: file is 1000 bytes, expected 30730000"),
            "msg %s", qs_errmsg());

    /* Full-size (sparse) files, a label of 77 in record 5 of batch 1. */
    const char *all[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                         "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"};
    for (int i = 0; i < 6; i++)
        T_CHECK(write_cifar(all[i], full) == 0, "write %s", all[i]);
    T_CHECK(qs_data_check(QS_DATA_CIFAR10, tmpdir) == 0, "%s", qs_errmsg());
    T_CHECK(patch_byte("data_batch_1.bin", 5 * 3073, 77) == 0, "patch");
    rc = qs_data_load(&tr, &te, QS_DATA_CIFAR10, tmpdir, 10, 10, NULL);
    T_CHECK(rc == QS_EFORMAT, "bad label rc %d", rc);
    T_CHECK(strstr(qs_errmsg(), "data_batch_1.bin") && strstr(qs_errmsg(), "15365") &&
                strstr(qs_errmsg(), "77"),
            "msg %s", qs_errmsg());
    /* The limit stops before the bad record: fine. */
    T_CHECK(qs_data_load(&tr, &te, QS_DATA_CIFAR10, tmpdir, 5, 3, NULL) == 0, "%s",
            qs_errmsg());
    T_CHECK(tr.n == 5 && te.n == 3, "n");
    qs_data_free(&tr);
    qs_data_free(&te);
    T_CHECK(patch_byte("data_batch_1.bin", 5 * 3073, 3) == 0, "patch");

    /* A record-boundary truncation passes the loader's multiple-of-3073
     * rule but not qs_data_check. */
    T_CHECK(write_cifar("test_batch.bin", 3073 * 7) == 0, "write");
    T_CHECK(qs_data_check(QS_DATA_CIFAR10, tmpdir) == QS_EIO, "check accepted 7 records");
    T_CHECK(strstr(qs_errmsg(), "test_batch.bin"), "msg %s", qs_errmsg());
    T_CHECK(qs_data_load(&tr, &te, QS_DATA_CIFAR10, tmpdir, 10, 0, NULL) == 0, "%s",
            qs_errmsg());
    T_CHECK(te.n == 7 && tr.y[5] == 3, "n %d label %d", te.n, tr.y[5]);
    qs_data_free(&tr);
    qs_data_free(&te);
    /* Not a multiple of the record size. */
    T_CHECK(write_cifar("test_batch.bin", 3073 * 7 + 5) == 0, "write");
    T_CHECK(qs_data_load(&tr, &te, QS_DATA_CIFAR10, tmpdir, 10, 0, NULL) == QS_EIO, "odd size");
    T_CHECK(strstr(qs_errmsg(), "test_batch.bin") && strstr(qs_errmsg(), "3073"), "msg %s",
            qs_errmsg());
    T_CHECK(tr.xu8 == NULL && te.xu8 == NULL, "left data");
    rm_tmpdir();
}

static int write_gz(const char *name, const uint8_t *b, int n)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    gzFile g = gzopen(p, "wb");
    if (!g)
        return -1;
    int rc = gzwrite(g, b, (unsigned)n) != n;
    return gzclose(g) != Z_OK || rc;
}

static void fmnist_bad_files(void)
{
    qs_dataset tr, te;
    uint8_t img[16 + 3 * 784] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 28, 0, 0, 0, 28};
    uint8_t lbl[8 + 3] = {0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3};
    T_CHECK(make_tmpdir(), "mkdtemp");
    for (int i = 0; i < 3 * 784; i++)
        img[16 + i] = (uint8_t)(i % 251 + 1);
    T_CHECK(!write_gz("train-images-idx3-ubyte.gz", img, sizeof img) &&
                !write_gz("train-labels-idx1-ubyte.gz", lbl, sizeof lbl) &&
                !write_gz("t10k-images-idx3-ubyte.gz", img, sizeof img) &&
                !write_gz("t10k-labels-idx1-ubyte.gz", lbl, sizeof lbl),
            "write gz");
    T_CHECK(qs_data_check(QS_DATA_FMNIST, tmpdir) == 0, "%s", qs_errmsg());
    T_CHECK(qs_data_load(&tr, &te, QS_DATA_FMNIST, tmpdir, 0, 0, NULL) == 0, "%s", qs_errmsg());
    T_CHECK(tr.n == 3 && tr.y[2] == 3, "n %d", tr.n);
    /* Centred: source (r, c) lands at (r + 2, c + 2). */
    T_CHECK(tr.xu8[1024 + 2 * 32 + 2] == img[16 + 784] &&
                tr.xu8[1024 + 29 * 32 + 29] == img[16 + 784 + 27 * 28 + 27],
            "padding placement");
    qs_data_free(&tr);
    qs_data_free(&te);

    /* Truncated image data: short. */
    T_CHECK(!write_gz("t10k-images-idx3-ubyte.gz", img, 16 + 784), "write");
    T_CHECK(qs_data_load(&tr, &te, QS_DATA_FMNIST, tmpdir, 0, 0, NULL) == QS_EIO, "short");
    T_CHECK(strstr(qs_errmsg(), "t10k-images-idx3-ubyte.gz"), "msg %s", qs_errmsg());
    T_CHECK(tr.xu8 == NULL, "train left");
    /* Label 12. */
    T_CHECK(!write_gz("t10k-images-idx3-ubyte.gz", img, sizeof img), "write");
    lbl[9] = 12;
    T_CHECK(!write_gz("t10k-labels-idx1-ubyte.gz", lbl, sizeof lbl), "write");
    T_CHECK(qs_data_load(&tr, &te, QS_DATA_FMNIST, tmpdir, 0, 0, NULL) == QS_EFORMAT, "label");
    T_CHECK(strstr(qs_errmsg(), "t10k-labels-idx1-ubyte.gz") && strstr(qs_errmsg(), "byte 9"),
            "msg %s", qs_errmsg());
    /* Bad magic, count mismatch, wrong dims. */
    lbl[9] = 2;
    lbl[3] = 3;
    T_CHECK(!write_gz("t10k-labels-idx1-ubyte.gz", lbl, sizeof lbl), "write");
    T_CHECK(qs_data_check(QS_DATA_FMNIST, tmpdir) == QS_EFORMAT, "magic");
    T_CHECK(strstr(qs_errmsg(), "magic") && strstr(qs_errmsg(), "t10k-labels"), "msg %s",
            qs_errmsg());
    lbl[3] = 1;
    lbl[7] = 2;
    T_CHECK(!write_gz("t10k-labels-idx1-ubyte.gz", lbl, 10), "write");
    T_CHECK(qs_data_check(QS_DATA_FMNIST, tmpdir) == QS_EFORMAT, "count");
    lbl[7] = 3;
    img[15] = 27;
    T_CHECK(!write_gz("t10k-labels-idx1-ubyte.gz", lbl, sizeof lbl) &&
                !write_gz("t10k-images-idx3-ubyte.gz", img, sizeof img),
            "write");
    T_CHECK(qs_data_load(&tr, &te, QS_DATA_FMNIST, tmpdir, 0, 0, NULL) == QS_EFORMAT, "dims");
    T_CHECK(strstr(qs_errmsg(), "28x27"), "msg %s", qs_errmsg());
    rm_tmpdir();
}

int main(void)
{
    T_RUN(missing_dir);
    T_RUN(cifar_bad_files);
    T_RUN(fmnist_bad_files);
    T_EXIT();
}
