/* Checkpoint container: round trips, atomic save, and rejection of every
 * kind of damage without crashing. */
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "ckpt.h"
#include "err.h"
#include "tharness.h"

static char tmpdir[64];

static int make_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/qs_test_ckpt_XXXXXX");
    return mkdtemp(tmpdir) != NULL;
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Decodes a private copy (decode takes ownership of its buffer). */
static int decode_copy(qs_ckpt *ck, const uint8_t *b, size_t len)
{
    uint8_t *c = malloc(len + 1);
    if (!c)
        return -1;
    memcpy(c, b, len);
    return qs_ckpt_decode(ck, c, len, "mem.qsc");
}

/* A small checkpoint of about 200 bytes. */
static int small_ckpt(qs_ckpt_writer *w, const uint8_t **b, size_t *len)
{
    static const char cfg[] = "{\"model\":\"fcdnn-128-4\",\"epochs\":100}";
    float params[20];
    uint64_t epoch = 7;
    for (int i = 0; i < 20; i++)
        params[i] = 0.25f * i - 1.0f;
    qs_ckpt_writer_init(w);
    int rc = qs_ckpt_writer_add(w, "config", cfg, sizeof cfg - 1);
    rc = rc ? rc : qs_ckpt_writer_add(w, "params", params, sizeof params);
    rc = rc ? rc : qs_ckpt_writer_add(w, "empty", NULL, 0);
    rc = rc ? rc : qs_ckpt_writer_add(w, "epoch", &epoch, sizeof epoch);
    rc = rc ? rc : qs_ckpt_writer_finish(w, b, len);
    return rc;
}

static void round_trip(void)
{
    qs_ckpt_writer w;
    qs_ckpt ck;
    const uint8_t *b;
    size_t len, sz;
    size_t big_n = 1u << 20;
    uint8_t *big = malloc(big_n);
    T_CHECK(big, "malloc");
    for (size_t i = 0; i < big_n; i++)
        big[i] = (uint8_t)(i * 2654435761u >> 13);
    qs_ckpt_writer_init(&w);
    T_CHECK(qs_ckpt_writer_add(&w, "a", "hello", 5) == 0, "%s", qs_errmsg());
    T_CHECK(qs_ckpt_writer_add(&w, "empty", NULL, 0) == 0, "%s", qs_errmsg());
    T_CHECK(qs_ckpt_writer_add(&w, "big", big, big_n) == 0, "%s", qs_errmsg());
    T_CHECK(qs_ckpt_writer_add(&w, "last", "z", 1) == 0, "%s", qs_errmsg());
    /* Duplicates and bad names are refused and leave the writer usable. */
    T_CHECK(qs_ckpt_writer_add(&w, "a", "x", 1) == QS_EINVAL, "duplicate accepted");
    T_CHECK(qs_ckpt_writer_add(&w, "", "x", 1) == QS_EINVAL, "empty name accepted");
    char longname[80];
    memset(longname, 'n', 64);
    longname[64] = 0;
    T_CHECK(qs_ckpt_writer_add(&w, longname, "x", 1) == QS_EINVAL, "64-byte name accepted");
    longname[63] = 0;
    T_CHECK(qs_ckpt_writer_add(&w, longname, "x", 1) == 0, "63-byte name: %s", qs_errmsg());
    T_CHECK(qs_ckpt_writer_finish(&w, &b, &len) == 0, "%s", qs_errmsg());
    T_CHECK(len == 12 + (2 + 1 + 8 + 5) + (2 + 5 + 8) + (2 + 3 + 8 + big_n) + (2 + 4 + 8 + 1) +
                       (2 + 63 + 8 + 1) + 4,
            "len %zu", len);
    T_CHECK(memcmp(b, "QSCK\x01\0\0\0\x05\0\0\0", 12) == 0, "header bytes");

    T_CHECK(decode_copy(&ck, b, len) == 0, "%s", qs_errmsg());
    T_CHECK(ck.nsec == 5 && ck.len == len, "nsec %d", ck.nsec);
    const uint8_t *p = qs_ckpt_get(&ck, "a", &sz);
    T_CHECK(p && sz == 5 && memcmp(p, "hello", 5) == 0, "a");
    p = qs_ckpt_get(&ck, "empty", &sz);
    T_CHECK(p && sz == 0, "empty section must be found (non-NULL), size 0");
    p = qs_ckpt_get(&ck, "big", &sz);
    T_CHECK(p && sz == big_n && memcmp(p, big, big_n) == 0, "big");
    p = qs_ckpt_get(&ck, longname, &sz);
    T_CHECK(p && sz == 1 && p[0] == 'x', "long name");
    sz = 99;
    T_CHECK(qs_ckpt_get(&ck, "nope", &sz) == NULL && sz == 0, "missing");
    T_CHECK(strcmp(ck.sec[2].name, "big") == 0, "order");
    qs_ckpt_free(&ck);
    qs_ckpt_writer_free(&w);

    /* No sections at all is a valid, 16-byte checkpoint. */
    qs_ckpt_writer_init(&w);
    T_CHECK(qs_ckpt_writer_finish(&w, &b, &len) == 0 && len == 16, "empty ckpt");
    T_CHECK(decode_copy(&ck, b, len) == 0 && ck.nsec == 0, "%s", qs_errmsg());
    qs_ckpt_free(&ck);
    qs_ckpt_writer_free(&w);

    /* The section limit. */
    qs_ckpt_writer_init(&w);
    char name[16];
    for (int i = 0; i < QS_CKPT_MAX_SECTIONS; i++) {
        snprintf(name, sizeof name, "s%d", i);
        T_CHECK(qs_ckpt_writer_add(&w, name, &i, sizeof i) == 0, "%s", qs_errmsg());
    }
    T_CHECK(qs_ckpt_writer_add(&w, "one-more", "x", 1) == QS_EINVAL, "65th accepted");
    T_CHECK(qs_ckpt_writer_finish(&w, &b, &len) == 0, "%s", qs_errmsg());
    T_CHECK(decode_copy(&ck, b, len) == 0 && ck.nsec == QS_CKPT_MAX_SECTIONS, "%s",
            qs_errmsg());
    int v;
    memcpy(&v, qs_ckpt_get(&ck, "s63", NULL), sizeof v);
    T_CHECK(v == 63, "s63 = %d", v);
    qs_ckpt_free(&ck);
    qs_ckpt_writer_free(&w);
    free(big);
}

static void file_save_load(void)
{
    qs_ckpt_writer w;
    qs_ckpt ck;
    const uint8_t *b;
    size_t len, sz;
    char path[128], tmp[140];
    T_CHECK(make_tmpdir(), "mkdtemp");
    snprintf(path, sizeof path, "%s/run.qsc", tmpdir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    T_CHECK(small_ckpt(&w, &b, &len) == 0, "%s", qs_errmsg());
    T_CHECK(qs_ckpt_save_bytes(path, b, len) == 0, "%s", qs_errmsg());
    T_CHECK(!exists(tmp), ".tmp left behind");
    T_CHECK(qs_ckpt_load(&ck, path) == 0, "%s", qs_errmsg());
    T_CHECK(ck.len == len && memcmp(ck.buf, b, len) == 0, "bytes differ");
    const void *p = qs_ckpt_get(&ck, "epoch", &sz);
    uint64_t e;
    T_CHECK(p && sz == 8, "epoch");
    memcpy(&e, p, 8);
    T_CHECK(e == 7, "epoch %llu", (unsigned long long)e);
    qs_ckpt_free(&ck);

    /* Saving again replaces the file. */
    qs_ckpt_writer w2;
    qs_ckpt_writer_init(&w2);
    const uint8_t *b2;
    size_t len2;
    T_CHECK(qs_ckpt_writer_add(&w2, "only", "abc", 3) == 0, "add");
    T_CHECK(qs_ckpt_writer_finish(&w2, &b2, &len2) == 0, "finish");
    T_CHECK(qs_ckpt_save_bytes(path, b2, len2) == 0, "%s", qs_errmsg());
    T_CHECK(!exists(tmp), ".tmp left behind");
    T_CHECK(qs_ckpt_load(&ck, path) == 0 && ck.nsec == 1, "%s", qs_errmsg());
    qs_ckpt_free(&ck);
    qs_ckpt_writer_free(&w2);

    /* Missing file, directory, unwritable destination. */
    char missing[140];
    snprintf(missing, sizeof missing, "%s/none.qsc", tmpdir);
    T_CHECK(qs_ckpt_load(&ck, missing) == QS_EIO, "missing");
    T_CHECK(strstr(qs_errmsg(), missing), "msg %s", qs_errmsg());
    T_CHECK(qs_ckpt_load(&ck, tmpdir) == QS_EIO, "directory");
    snprintf(missing, sizeof missing, "%s/no/such/dir.qsc", tmpdir);
    T_CHECK(qs_ckpt_save_bytes(missing, b, len) == QS_EIO, "save into missing dir");
    T_CHECK(strstr(qs_errmsg(), "no/such/dir.qsc.tmp"), "msg %s", qs_errmsg());

    /* Truncated on disk. */
    FILE *f = fopen(path, "wb");
    T_CHECK(f && fwrite(b, 1, len - 3, f) == len - 3, "write");
    fclose(f);
    T_CHECK(qs_ckpt_load(&ck, path) == QS_EFORMAT, "truncated file accepted");
    T_CHECK(strstr(qs_errmsg(), path) && strstr(qs_errmsg(), "checksum mismatch"), "msg %s",
            qs_errmsg());
    T_CHECK(ck.buf == NULL && ck.nsec == 0, "failed load left state");
    qs_ckpt_writer_free(&w);
    unlink(path);
    rmdir(tmpdir);
}

static void truncation(void)
{
    qs_ckpt_writer w;
    qs_ckpt ck;
    const uint8_t *b;
    size_t len;
    T_CHECK(small_ckpt(&w, &b, &len) == 0, "%s", qs_errmsg());
    T_CHECK(len > 150 && len < 260, "small ckpt is %zu bytes", len);
    for (size_t n = 0; n < len; n++) {
        int rc = decode_copy(&ck, b, n);
        T_CHECK(rc == QS_EFORMAT, "prefix of %zu bytes: rc %d", n, rc);
        T_CHECK(ck.buf == NULL, "state after failure");
    }
    /* One extra byte, and a copy with the CRC fixed up over trailing data. */
    uint8_t *x = malloc(len + 1);
    T_CHECK(x, "malloc");
    memcpy(x, b, len);
    x[len] = 0;
    T_CHECK(decode_copy(&ck, x, len + 1) == QS_EFORMAT, "extra byte accepted");
    free(x);
    qs_ckpt_writer_free(&w);

    /* A big one cut at a few places. */
    size_t big_n = 300000;
    uint8_t *big = calloc(big_n, 1);
    T_CHECK(big, "calloc");
    qs_ckpt_writer_init(&w);
    T_CHECK(qs_ckpt_writer_add(&w, "w", big, big_n) == 0, "add");
    T_CHECK(qs_ckpt_writer_finish(&w, &b, &len) == 0, "finish");
    size_t cuts[] = {1, 12, 13, 20, 1000, len / 2, len - 5, len - 4, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
        T_CHECK(decode_copy(&ck, b, cuts[i]) == QS_EFORMAT, "cut at %zu accepted", cuts[i]);
    qs_ckpt_writer_free(&w);
    free(big);
}

static void bit_flips(void)
{
    qs_ckpt_writer w;
    qs_ckpt ck;
    const uint8_t *b;
    size_t len;
    T_CHECK(small_ckpt(&w, &b, &len) == 0, "%s", qs_errmsg());
    uint8_t *c = malloc(len);
    T_CHECK(c, "malloc");
    for (size_t i = 0; i < len; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(c, b, len);
            c[i] ^= (uint8_t)(1u << bit);
            int rc = decode_copy(&ck, c, len);
            T_CHECK(rc == QS_EFORMAT, "flip of byte %zu bit %d accepted (rc %d)", i, bit, rc);
        }
    free(c);
    qs_ckpt_writer_free(&w);
}

/* Rewrites the CRC so that structural checks, not the checksum, must catch
 * the damage. */
static void fix_crc(uint8_t *b, size_t len);

static void header_errors(void)
{
    qs_ckpt_writer w;
    qs_ckpt ck;
    const uint8_t *b;
    size_t len;
    T_CHECK(small_ckpt(&w, &b, &len) == 0, "%s", qs_errmsg());
    uint8_t *c = malloc(len);
    T_CHECK(c, "malloc");

    memcpy(c, b, len);
    memcpy(c, "PK\3\4", 4);
    T_CHECK(qs_ckpt_decode(&ck, memcpy(malloc(len), c, len), len, "x.qsc") == QS_EFORMAT,
            "bad magic");
    T_CHECK(strcmp(qs_errmsg(), "x.qsc: not a qsweep checkpoint (bad magic at byte 0)") == 0,
            "msg %s", qs_errmsg());

    memcpy(c, b, len);
    c[4] = 2;
    fix_crc(c, len);
    T_CHECK(qs_ckpt_decode(&ck, memcpy(malloc(len), c, len), len, "x.qsc") == QS_EFORMAT,
            "version 2 accepted");
    T_CHECK(strstr(qs_errmsg(), "version 2") && strstr(qs_errmsg(), "version 1"), "msg %s",
            qs_errmsg());

    memcpy(c, b, len);
    c[8] = 65;
    fix_crc(c, len);
    T_CHECK(decode_copy(&ck, c, len) == QS_EFORMAT, "65 sections accepted");
    T_CHECK(strstr(qs_errmsg(), "65"), "msg %s", qs_errmsg());

    /* Count one less than written, CRC valid: trailing bytes. */
    memcpy(c, b, len);
    c[8] = 3;
    fix_crc(c, len);
    T_CHECK(decode_copy(&ck, c, len) == QS_EFORMAT, "trailing section accepted");
    T_CHECK(strstr(qs_errmsg(), "trailing"), "msg %s", qs_errmsg());

    /* Count one more than written: header runs past the end. */
    memcpy(c, b, len);
    c[8] = 5;
    fix_crc(c, len);
    T_CHECK(decode_copy(&ck, c, len) == QS_EFORMAT, "missing section accepted");
    T_CHECK(strstr(qs_errmsg(), "section 4") && strstr(qs_errmsg(), "byte"), "msg %s",
            qs_errmsg());

    /* First section's size (at byte 12 + 2 + 6) made huge. */
    memcpy(c, b, len);
    c[12 + 2 + 6 + 7] = 0x80;
    fix_crc(c, len);
    T_CHECK(decode_copy(&ck, c, len) == QS_EFORMAT, "huge size accepted");
    T_CHECK(strstr(qs_errmsg(), "at byte 12") && strstr(qs_errmsg(), "config"), "msg %s",
            qs_errmsg());

    /* Name length 0 and a NUL inside a name. */
    memcpy(c, b, len);
    c[12] = 0;
    fix_crc(c, len);
    T_CHECK(decode_copy(&ck, c, len) == QS_EFORMAT, "empty name accepted");
    memcpy(c, b, len);
    c[15] = 0;
    fix_crc(c, len);
    T_CHECK(decode_copy(&ck, c, len) == QS_EFORMAT, "NUL in name accepted");

    /* Garbage and tiny inputs. */
    T_CHECK(qs_ckpt_decode(&ck, NULL, 0, "e") == QS_EFORMAT, "empty");
    T_CHECK(decode_copy(&ck, (const uint8_t *)"QSC", 3) == QS_EFORMAT, "3 bytes");
    free(c);
    qs_ckpt_writer_free(&w);
}

static void fix_crc(uint8_t *b, size_t len)
{
    uint32_t c = (uint32_t)crc32(0L, b, (uInt)(len - 4));
    for (int i = 0; i < 4; i++)
        b[len - 4 + i] = (uint8_t)(c >> (8 * i));
}

int main(void)
{
    T_RUN(round_trip);
    T_RUN(file_save_load);
    T_RUN(truncation);
    T_RUN(bit_flips);
    T_RUN(header_errors);
    T_EXIT();
}
