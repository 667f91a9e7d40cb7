/* Image datasets: Fashion-MNIST (gzip idx files) and CIFAR-10 (binary
 * batches), read into raw bytes [n, c, 32, 32].
 *
 * Errors name the full path; QS_EIO means missing, unreadable or short,
 * QS_EFORMAT means present but corrupt. Byte offsets in Fashion-MNIST
 * messages count decompressed bytes (the idx layout), in CIFAR-10 messages
 * bytes of the .bin file. */
#include "data.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "err.h"

/* Internal entry points, called by data_batch.c. */
int qs_data__images_load(qs_dataset *train, qs_dataset *test, qs_data_kind kind,
                         const char *dir, int train_limit, int test_limit);
int qs_data__images_check(qs_data_kind kind, const char *dir);

#define HINT "(set --data-dir or dataset.path)"

#define CIFAR_REC 3073
#define CIFAR_PIX 3072
#define CIFAR_PER_FILE 10000
#define CIFAR_FILE_BYTES ((long long)CIFAR_REC * CIFAR_PER_FILE)
#define CIFAR_CHUNK 1000 /* records per read: 3 MB of buffer */

#define FM_SIDE 28
#define FM_PAD 2 /* 28 + 2 + 2 = 32 */
#define IMG_SIDE 32
#define FM_CHUNK 1000

static const char *const cifar_train_files[] = {"data_batch_1.bin", "data_batch_2.bin",
                                                "data_batch_3.bin", "data_batch_4.bin",
                                                "data_batch_5.bin"};
static const char *const cifar_test_files[] = {"test_batch.bin"};

static const char *fm_files[4] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                  "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};

static const char *default_dir(qs_data_kind kind)
{
    struct stat st;
    if (kind == QS_DATA_CIFAR10)
        return "data/cifar10";
    /* The local copy wins over Debian's package (interfaces.md). */
    if (stat("data/fashion-mnist", &st) == 0 && S_ISDIR(st.st_mode))
        return "data/fashion-mnist";
    return "/usr/share/datasets/fashion-mnist";
}

static int join_path(char *out, size_t cap, const char *dir, const char *name)
{
    size_t dl = strlen(dir);
    int sep = dl > 0 && dir[dl - 1] != '/';
    int n = snprintf(out, cap, "%s%s%s", dir, sep ? "/" : "", name);
    if (n < 0 || (size_t)n >= cap)
        return qs_err(QS_EINVAL, "%s/%s: path too long", dir, name);
    return QS_OK;
}

static int open_err(const char *path)
{
    int e = errno;
    if (e == ENOENT)
        return qs_err(QS_EIO, "%s: %s " HINT, path, strerror(e));
    return qs_err(QS_EIO, "%s: %s", path, strerror(e));
}

/* Opens path for reading and returns its size; refuses directories, which
 * fopen accepts on Linux. */
static int open_sized(FILE **out, long long *size, const char *path)
{
    struct stat st;
    FILE *f = fopen(path, "rb");
    *out = NULL;
    if (!f)
        return open_err(path);
    if (fstat(fileno(f), &st) != 0) {
        int rc = qs_err(QS_EIO, "%s: %s", path, strerror(errno));
        fclose(f);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(f);
        return qs_err(QS_EIO, "%s: not a regular file", path);
    }
    *out = f;
    *size = (long long)st.st_size;
    return QS_OK;
}

static int image_alloc(qs_dataset *d, qs_data_kind kind, int n, int c)
{
    memset(d, 0, sizeof *d);
    d->kind = kind;
    d->n = n;
    d->c = c;
    d->h = d->w = IMG_SIDE;
    d->classes = 10;
    /* +1: a limit can leave n = 0 only for an empty file, still no NULL. */
    d->xu8 = calloc((size_t)n * c * IMG_SIDE * IMG_SIDE + 1, 1);
    d->y = malloc((size_t)n * sizeof(int) + 1);
    if (!d->xu8 || !d->y) {
        free(d->xu8);
        free(d->y);
        memset(d, 0, sizeof *d);
        return qs_err(QS_ENOMEM, "out of memory for %d images", n);
    }
    return QS_OK;
}

/* ---- CIFAR-10 ---------------------------------------------------------- */

static int cifar_size_ok(const char *path, long long size)
{
    if (size <= 0 || size % CIFAR_REC != 0)
        return qs_err(QS_EIO,
                      "%s: file is %lld bytes, expected a whole number of %d-byte "
                      "records (%lld for the official %d records)",
                      path, size, CIFAR_REC, CIFAR_FILE_BYTES, CIFAR_PER_FILE);
    if (size / CIFAR_REC > INT_MAX / 8)
        return qs_err(QS_EFORMAT, "%s: file is %lld bytes, too large for a CIFAR-10 batch",
                      path, size);
    return QS_OK;
}

/* d: xu8 [n, 3, 32, 32], y [n] from the files in order, the first `limit`
 * records (0 = all). Only the files the limit reaches are opened. */
static int cifar_split(qs_dataset *d, const char *dir, const char *const *files,
                       int nfiles, int limit)
{
    char path[4096];
    long long recs[8];
    int nuse = 0, rc;
    long long total = 0;
    uint8_t *chunk = NULL;
    FILE *f = NULL;

    /* Pass 1: sizes, so the arrays are allocated once. */
    for (int i = 0; i < nfiles && (limit <= 0 || total < limit); i++) {
        long long size;
        if ((rc = join_path(path, sizeof path, dir, files[i])))
            return rc;
        if ((rc = open_sized(&f, &size, path)))
            return rc;
        fclose(f);
        f = NULL;
        if ((rc = cifar_size_ok(path, size)))
            return rc;
        recs[nuse++] = size / CIFAR_REC;
        total += size / CIFAR_REC;
    }
    if (limit > 0 && total > limit)
        total = limit;
    if (total > INT_MAX / 8)
        return qs_err(QS_EFORMAT, "%s: %lld records, too many", dir, total);
    if ((rc = image_alloc(d, QS_DATA_CIFAR10, (int)total, 3)))
        return rc;
    d->mean[0] = 0.4914f, d->mean[1] = 0.4822f, d->mean[2] = 0.4465f;
    d->std[0] = 0.2470f, d->std[1] = 0.2435f, d->std[2] = 0.2616f;

    chunk = malloc((size_t)CIFAR_CHUNK * CIFAR_REC);
    if (!chunk) {
        rc = qs_err(QS_ENOMEM, "out of memory for the CIFAR-10 read buffer");
        goto cleanup;
    }
    /* Pass 2: read records, checking every label byte. */
    long long k = 0;
    for (int i = 0; i < nuse && k < total; i++) {
        long long size, want = recs[i];
        if (want > total - k)
            want = total - k;
        if ((rc = join_path(path, sizeof path, dir, files[i])))
            goto cleanup;
        if ((rc = open_sized(&f, &size, path)))
            goto cleanup;
        for (long long r0 = 0; r0 < want; r0 += CIFAR_CHUNK) {
            size_t nr = (size_t)(want - r0 < CIFAR_CHUNK ? want - r0 : CIFAR_CHUNK);
            size_t got = fread(chunk, CIFAR_REC, nr, f);
            if (got != nr) {
                /* The file shrank since pass 1, or a read error. */
                rc = ferror(f) ? qs_err(QS_EIO, "%s: read error at byte %lld: %s", path,
                                        (r0 + (long long)got) * CIFAR_REC, strerror(errno))
                               : qs_err(QS_EIO, "%s: file ends at record %lld, expected %lld",
                                        path, r0 + (long long)got, recs[i]);
                goto cleanup;
            }
            for (size_t r = 0; r < nr; r++) {
                const uint8_t *rec = chunk + r * CIFAR_REC;
                if (rec[0] > 9) {
                    rc = qs_err(QS_EFORMAT,
                                "%s: label byte %d at byte offset %lld (record %lld) is "
                                "not a class 0..9",
                                path, rec[0], (r0 + (long long)r) * CIFAR_REC,
                                r0 + (long long)r);
                    goto cleanup;
                }
                d->y[k] = rec[0];
                memcpy(d->xu8 + (size_t)k * CIFAR_PIX, rec + 1, CIFAR_PIX);
                k++;
            }
        }
        fclose(f);
        f = NULL;
    }
    rc = QS_OK;
cleanup:
    if (f)
        fclose(f);
    free(chunk);
    if (rc)
        qs_data_free(d);
    return rc;
}

static int cifar_check(const char *dir)
{
    char path[4096];
    const char *all[6];
    int rc;
    for (int i = 0; i < 5; i++)
        all[i] = cifar_train_files[i];
    all[5] = cifar_test_files[0];
    for (int i = 0; i < 6; i++) {
        FILE *f;
        long long size;
        if ((rc = join_path(path, sizeof path, dir, all[i])))
            return rc;
        if ((rc = open_sized(&f, &size, path)))
            return rc;
        fclose(f);
        if (size != CIFAR_FILE_BYTES)
            return qs_err(QS_EIO, "%s: file is %lld bytes, expected %lld (%d records of %d bytes)",
                          path, size, CIFAR_FILE_BYTES, CIFAR_PER_FILE, CIFAR_REC);
    }
    return QS_OK;
}

/* ---- Fashion-MNIST ----------------------------------------------------- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int gz_open(gzFile *out, const char *path)
{
    FILE *f;
    long long size;
    /* fopen first: gzopen's errno reporting is unreliable, and a directory
     * must be refused. */
    int rc = open_sized(&f, &size, path);
    if (rc)
        return rc;
    fclose(f);
    *out = gzopen(path, "rb");
    if (!*out)
        return qs_err(QS_EIO, "%s: cannot open: %s", path, errno ? strerror(errno) : "gzopen failed");
    gzbuffer(*out, 1 << 17);
    return QS_OK;
}

/* Reads exactly n decompressed bytes starting at decompressed offset off. */
static int gz_read_exact(gzFile g, void *buf, size_t n, const char *path, long long off)
{
    size_t done = 0;
    while (done < n) {
        size_t part = n - done > (1u << 30) ? (1u << 30) : n - done;
        int got = gzread(g, (uint8_t *)buf + done, (unsigned)part);
        if (got < 0) {
            int zerr;
            const char *msg = gzerror(g, &zerr);
            /* Z_BUF_ERROR is zlib's "unexpected end of file": a short file. */
            return qs_err(zerr == Z_BUF_ERROR || zerr == Z_ERRNO ? QS_EIO : QS_EFORMAT,
                          "%s: cannot read %zu bytes at decompressed byte %lld: %s", path,
                          n - done, off + (long long)done, msg);
        }
        if (got == 0)
            return qs_err(QS_EIO,
                          "%s: file is short: data ends at decompressed byte %lld, "
                          "expected %lld",
                          path, off + (long long)done, off + (long long)n);
        done += (size_t)got;
    }
    return QS_OK;
}

/* Reads and validates the idx headers of one split; *count = examples. */
static int fm_headers(gzFile gi, gzFile gl, const char *ipath, const char *lpath, int *count)
{
    uint8_t hi[16], hl[8];
    int rc;
    if ((rc = gz_read_exact(gi, hi, 16, ipath, 0)))
        return rc;
    if ((rc = gz_read_exact(gl, hl, 8, lpath, 0)))
        return rc;
    if (be32(hi) != 2051)
        return qs_err(QS_EFORMAT,
                      "%s: bad magic %u at byte 0 (expected 2051, an idx3-ubyte image file)",
                      ipath, be32(hi));
    if (be32(hl) != 2049)
        return qs_err(QS_EFORMAT,
                      "%s: bad magic %u at byte 0 (expected 2049, an idx1-ubyte label file)",
                      lpath, be32(hl));
    if (be32(hi + 8) != FM_SIDE || be32(hi + 12) != FM_SIDE)
        return qs_err(QS_EFORMAT, "%s: images are %ux%u (bytes 8..15), expected 28x28", ipath,
                      be32(hi + 8), be32(hi + 12));
    uint32_t ni = be32(hi + 4), nl = be32(hl + 4);
    if (ni != nl)
        return qs_err(QS_EFORMAT, "%s holds %u images but %s holds %u labels", ipath, ni,
                      lpath, nl);
    if (ni > (uint32_t)(INT_MAX / 1024))
        return qs_err(QS_EFORMAT, "%s: image count %u at byte 4 is implausible", ipath, ni);
    *count = (int)ni;
    return QS_OK;
}

/* d: xu8 [n, 1, 32, 32] (28x28 centred in zeros), y [n]; the first `limit`
 * examples (0 = all), decompressing no further than needed. */
static int fm_split(qs_dataset *d, const char *dir, const char *imgs, const char *lbls,
                    int limit)
{
    char ipath[4096], lpath[4096];
    gzFile gi = NULL, gl = NULL;
    uint8_t *buf = NULL;
    int rc, count;

    if ((rc = join_path(ipath, sizeof ipath, dir, imgs)) ||
        (rc = join_path(lpath, sizeof lpath, dir, lbls)))
        return rc;
    if ((rc = gz_open(&gi, ipath)) || (rc = gz_open(&gl, lpath)))
        goto cleanup;
    if ((rc = fm_headers(gi, gl, ipath, lpath, &count)))
        goto cleanup;
    int n = (limit > 0 && limit < count) ? limit : count;
    if ((rc = image_alloc(d, QS_DATA_FMNIST, n, 1)))
        goto cleanup;
    for (int i = 0; i < 3; i++) {
        d->mean[i] = 0.2860f;
        d->std[i] = 0.3530f;
    }

    buf = malloc((size_t)FM_CHUNK * FM_SIDE * FM_SIDE);
    if (!buf) {
        rc = qs_err(QS_ENOMEM, "out of memory for the Fashion-MNIST read buffer");
        goto cleanup;
    }
    for (int i0 = 0; i0 < n; i0 += FM_CHUNK) {
        int nr = n - i0 < FM_CHUNK ? n - i0 : FM_CHUNK;
        if ((rc = gz_read_exact(gl, buf, (size_t)nr, lpath, 8 + (long long)i0)))
            goto cleanup;
        for (int r = 0; r < nr; r++) {
            if (buf[r] > 9) {
                rc = qs_err(QS_EFORMAT,
                            "%s: label %d at decompressed byte %lld (example %d) is not a "
                            "class 0..9",
                            lpath, buf[r], 8 + (long long)i0 + r, i0 + r);
                goto cleanup;
            }
            d->y[i0 + r] = buf[r];
        }
        size_t isz = FM_SIDE * FM_SIDE;
        if ((rc = gz_read_exact(gi, buf, (size_t)nr * isz, ipath, 16 + (long long)i0 * isz)))
            goto cleanup;
        for (int r = 0; r < nr; r++) {
            uint8_t *dst = d->xu8 + (size_t)(i0 + r) * IMG_SIDE * IMG_SIDE;
            for (int row = 0; row < FM_SIDE; row++)
                memcpy(dst + (size_t)(row + FM_PAD) * IMG_SIDE + FM_PAD,
                       buf + r * isz + (size_t)row * FM_SIDE, FM_SIDE);
        }
    }
    rc = QS_OK;
cleanup:
    if (gi)
        gzclose(gi);
    if (gl)
        gzclose(gl);
    free(buf);
    if (rc)
        qs_data_free(d);
    return rc;
}

static int fm_check(const char *dir)
{
    char ipath[4096], lpath[4096];
    int rc = QS_OK, count;
    for (int s = 0; s < 2 && rc == QS_OK; s++) {
        gzFile gi = NULL, gl = NULL;
        if ((rc = join_path(ipath, sizeof ipath, dir, fm_files[2 * s])) ||
            (rc = join_path(lpath, sizeof lpath, dir, fm_files[2 * s + 1])))
            return rc;
        /* The headers are 24 decompressed bytes: cheap, and they catch a
         * wrong or swapped file that mere presence would not. */
        if (!(rc = gz_open(&gi, ipath)) && !(rc = gz_open(&gl, lpath)))
            rc = fm_headers(gi, gl, ipath, lpath, &count);
        if (gi)
            gzclose(gi);
        if (gl)
            gzclose(gl);
    }
    return rc;
}

/* ---- entry points ------------------------------------------------------ */

int qs_data__images_load(qs_dataset *train, qs_dataset *test, qs_data_kind kind,
                         const char *dir, int train_limit, int test_limit)
{
    int rc;
    if (!dir)
        dir = default_dir(kind);
    if (kind == QS_DATA_CIFAR10) {
        if ((rc = cifar_split(train, dir, cifar_train_files, 5, train_limit)))
            return rc;
        rc = cifar_split(test, dir, cifar_test_files, 1, test_limit);
    } else {
        if ((rc = fm_split(train, dir, fm_files[0], fm_files[1], train_limit)))
            return rc;
        rc = fm_split(test, dir, fm_files[2], fm_files[3], test_limit);
    }
    if (rc)
        qs_data_free(train);
    return rc;
}

int qs_data__images_check(qs_data_kind kind, const char *dir)
{
    if (!dir)
        dir = default_dir(kind);
    return kind == QS_DATA_CIFAR10 ? cifar_check(dir) : fm_check(dir);
}
