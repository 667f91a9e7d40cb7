/* Checkpoint container (layout in ckpt.h). Every integer is written byte by
 * byte, little-endian, so files move between machines; nothing is written
 * as a C struct. Decoding checks everything before trusting any length, so
 * a corrupt or truncated file gives an error, never a crash. */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "err.h"
#include "io.h"

#define MAGIC "QSCK"
#define HDR_LEN 12 /* magic, version, count */
#define CRC_LEN 4
#define NAME_MAX_LEN 63 /* qs_ckpt_section.name holds it with its NUL */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* zlib's crc32 takes a 32-bit length: feed large buffers in pieces. */
static uint32_t crc_of(const uint8_t *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt part = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, part);
        p += part;
        n -= part;
    }
    return (uint32_t)c;
}

/* ---- writer ------------------------------------------------------------ */

void qs_ckpt_writer_init(qs_ckpt_writer *w) { memset(w, 0, sizeof *w); }

void qs_ckpt_writer_free(qs_ckpt_writer *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}

static int reserve(qs_ckpt_writer *w, size_t extra)
{
    if (extra > SIZE_MAX - w->len)
        return qs_err(QS_ENOMEM, "checkpoint: %zu more bytes overflow the buffer size", extra);
    size_t need = w->len + extra;
    if (need <= w->cap)
        return QS_OK;
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *nb = realloc(w->buf, cap);
    if (!nb)
        return qs_err(QS_ENOMEM, "checkpoint: out of memory for %zu bytes", cap);
    w->buf = nb;
    w->cap = cap;
    return QS_OK;
}

/* The header goes in with the first section (init cannot fail, so it does
 * not allocate); the count is filled in by finish. */
static int ensure_header(qs_ckpt_writer *w)
{
    if (w->len >= HDR_LEN)
        return QS_OK;
    int rc = reserve(w, HDR_LEN);
    if (rc)
        return rc;
    memcpy(w->buf, MAGIC, 4);
    put32(w->buf + 4, QS_CKPT_VERSION);
    put32(w->buf + 8, 0);
    w->len = HDR_LEN;
    return QS_OK;
}

static int writer_has(const qs_ckpt_writer *w, const char *name, size_t nl)
{
    size_t pos = HDR_LEN;
    for (int i = 0; i < w->nsec; i++) {
        size_t l = get16(w->buf + pos);
        if (l == nl && memcmp(w->buf + pos + 2, name, nl) == 0)
            return 1;
        pos += 2 + l;
        pos += 8 + (size_t)get64(w->buf + pos);
    }
    return 0;
}

int qs_ckpt_writer_add(qs_ckpt_writer *w, const char *name, const void *data, size_t size)
{
    if (!name)
        return qs_err(QS_EINVAL, "checkpoint: section without a name");
    size_t nl = strlen(name);
    if (nl == 0 || nl > NAME_MAX_LEN)
        return qs_err(QS_EINVAL, "checkpoint: section name \"%s\" must be 1..%d bytes", name,
                      NAME_MAX_LEN);
    if (!data && size > 0)
        return qs_err(QS_EINVAL, "checkpoint: section \"%s\" has %zu bytes but no data", name,
                      size);
    if (w->nsec >= QS_CKPT_MAX_SECTIONS)
        return qs_err(QS_EINVAL, "checkpoint: more than %d sections (adding \"%s\")",
                      QS_CKPT_MAX_SECTIONS, name);
    int rc = ensure_header(w);
    if (rc)
        return rc;
    /* qs_ckpt_get returns the first match: a duplicate would be unreachable. */
    if (writer_has(w, name, nl))
        return qs_err(QS_EINVAL, "checkpoint: section \"%s\" added twice", name);
    if (size > SIZE_MAX - 10 - nl)
        return qs_err(QS_ENOMEM, "checkpoint: section \"%s\" too large", name);
    if ((rc = reserve(w, 2 + nl + 8 + size)))
        return rc;
    uint8_t *p = w->buf + w->len;
    put16(p, (uint16_t)nl);
    memcpy(p + 2, name, nl);
    put64(p + 2 + nl, (uint64_t)size);
    if (size)
        memcpy(p + 10 + nl, data, size);
    w->len += 2 + nl + 8 + size;
    w->nsec++;
    return QS_OK;
}

int qs_ckpt_writer_finish(qs_ckpt_writer *w, const uint8_t **out, size_t *len)
{
    int rc = ensure_header(w);
    if (rc)
        return rc;
    if ((rc = reserve(w, CRC_LEN)))
        return rc;
    put32(w->buf + 8, (uint32_t)w->nsec);
    put32(w->buf + w->len, crc_of(w->buf, w->len));
    w->len += CRC_LEN;
    if (out)
        *out = w->buf;
    if (len)
        *len = w->len;
    return QS_OK;
}

/* ---- save -------------------------------------------------------------- */

/* Makes the rename itself durable. Best effort: some filesystems refuse to
 * fsync a directory, and the data is already safe in the file. */
static void sync_parent(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == path)
        strcpy(dir, "/");
    else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof dir)
            return;
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int qs_ckpt_save_bytes(const char *path, const uint8_t *bytes, size_t len)
{
    char *tmp = NULL;
    FILE *f = NULL;
    int rc = QS_OK;

    if (!path || !*path)
        return qs_err(QS_EINVAL, "checkpoint: empty path");
    tmp = malloc(strlen(path) + 5);
    if (!tmp)
        return qs_err(QS_ENOMEM, "checkpoint: out of memory");
    sprintf(tmp, "%s.tmp", path);

    f = fopen(tmp, "wb");
    if (!f) {
        rc = qs_err(QS_EIO, "%s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if (len && fwrite(bytes, 1, len, f) != len) {
        rc = qs_err(QS_EIO, "%s: write failed: %s", tmp, strerror(errno));
        goto cleanup;
    }
    /* fflush moves stdio's buffer to the kernel, fsync the kernel's to disk:
     * only then may the rename publish the file. */
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        rc = qs_err(QS_EIO, "%s: flush failed: %s", tmp, strerror(errno));
        goto cleanup;
    }
    int cr = fclose(f);
    f = NULL;
    if (cr != 0) {
        rc = qs_err(QS_EIO, "%s: close failed: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if (rename(tmp, path) != 0) {
        rc = qs_err(QS_EIO, "%s: cannot rename %s over it: %s", path, tmp, strerror(errno));
        goto cleanup;
    }
    sync_parent(path);
cleanup:
    if (f)
        fclose(f);
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* ---- decode / load ----------------------------------------------------- */

int qs_ckpt_decode(qs_ckpt *ck, uint8_t *buf, size_t len, const char *what)
{
    int rc = QS_OK;
    memset(ck, 0, sizeof *ck);
    if (!what)
        what = "checkpoint";
    if (!buf && len > 0)
        return qs_err(QS_EINVAL, "%s: no buffer", what);

    if (len < 4 || memcmp(buf, MAGIC, 4) != 0) {
        if (len == 0)
            rc = qs_err(QS_EFORMAT, "%s: not a qsweep checkpoint (empty file)", what);
        else if (len < 4 && memcmp(buf, MAGIC, len) == 0)
            rc = qs_err(QS_EFORMAT, "%s: not a qsweep checkpoint (%zu bytes, truncated header)",
                        what, len);
        else
            rc = qs_err(QS_EFORMAT, "%s: not a qsweep checkpoint (bad magic at byte 0)", what);
        goto cleanup;
    }
    if (len < HDR_LEN + CRC_LEN) {
        rc = qs_err(QS_EFORMAT,
                    "%s: truncated checkpoint (%zu bytes, a valid one has at least %d)", what,
                    len, HDR_LEN + CRC_LEN);
        goto cleanup;
    }
    uint32_t version = get32(buf + 4);
    if (version != QS_CKPT_VERSION) {
        rc = qs_err(QS_EFORMAT,
                    "%s: checkpoint format version %u (byte 4), this build supports version %d",
                    what, version, QS_CKPT_VERSION);
        goto cleanup;
    }
    uint32_t count = get32(buf + 8);
    if (count > QS_CKPT_MAX_SECTIONS) {
        rc = qs_err(QS_EFORMAT, "%s: section count %u at byte 8 exceeds the maximum %d", what,
                    count, QS_CKPT_MAX_SECTIONS);
        goto cleanup;
    }
    /* The checksum comes before the section walk so that a truncated or
     * damaged file gets the plain message rather than a confusing offset. */
    size_t end = len - CRC_LEN;
    if (crc_of(buf, end) != get32(buf + end)) {
        rc = qs_err(QS_EFORMAT, "%s: checksum mismatch (file corrupt or truncated)", what);
        goto cleanup;
    }

    size_t pos = HDR_LEN;
    for (uint32_t i = 0; i < count; i++) {
        qs_ckpt_section *s = &ck->sec[i];
        if (end - pos < 2) {
            rc = qs_err(QS_EFORMAT, "%s: section %u header at byte %zu runs past the end", what,
                        i, pos);
            goto cleanup;
        }
        size_t nl = get16(buf + pos);
        if (nl == 0 || nl > NAME_MAX_LEN) {
            rc = qs_err(QS_EFORMAT, "%s: section %u at byte %zu: name length %zu (must be 1..%d)",
                        what, i, pos, nl, NAME_MAX_LEN);
            goto cleanup;
        }
        if (end - pos - 2 < nl + 8) {
            rc = qs_err(QS_EFORMAT, "%s: section %u header at byte %zu runs past the end", what,
                        i, pos);
            goto cleanup;
        }
        if (memchr(buf + pos + 2, 0, nl)) {
            rc = qs_err(QS_EFORMAT, "%s: section %u at byte %zu: NUL byte in its name", what, i,
                        pos);
            goto cleanup;
        }
        memcpy(s->name, buf + pos + 2, nl);
        s->name[nl] = 0;
        uint64_t size = get64(buf + pos + 2 + nl);
        size_t data_at = pos + 2 + nl + 8;
        if (size > end - data_at) {
            rc = qs_err(QS_EFORMAT,
                        "%s: section %u (\"%s\") at byte %zu: size %llu runs past the end "
                        "(%zu bytes left)",
                        what, i, s->name, pos, (unsigned long long)size, end - data_at);
            goto cleanup;
        }
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(ck->sec[j].name, s->name) == 0) {
                rc = qs_err(QS_EFORMAT, "%s: section %u at byte %zu: duplicate name \"%s\"",
                            what, i, pos, s->name);
                goto cleanup;
            }
        s->data = buf + data_at;
        s->size = size;
        pos = data_at + (size_t)size;
    }
    if (pos != end) {
        rc = qs_err(QS_EFORMAT, "%s: %zu trailing bytes at byte %zu after the last section",
                    what, end - pos, pos);
        goto cleanup;
    }
    ck->buf = buf;
    ck->len = len;
    ck->nsec = (int)count;
cleanup:
    if (rc) {
        free(buf);
        memset(ck, 0, sizeof *ck);
    }
    return rc;
}

int qs_ckpt_load(qs_ckpt *ck, const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    memset(ck, 0, sizeof *ck);
    /* No size limit beyond memory: a checkpoint is as large as its model. */
    int rc = qs_read_file(&buf, &len, path, SIZE_MAX - 1);
    if (rc)
        return rc;
    return qs_ckpt_decode(ck, (uint8_t *)buf, len, path); /* owns buf from here */
}

const void *qs_ckpt_get(const qs_ckpt *ck, const char *name, size_t *size)
{
    for (int i = 0; i < ck->nsec; i++)
        if (strcmp(ck->sec[i].name, name) == 0) {
            if (size)
                *size = (size_t)ck->sec[i].size;
            return ck->sec[i].data;
        }
    if (size)
        *size = 0;
    return NULL;
}

void qs_ckpt_free(qs_ckpt *ck)
{
    free(ck->buf);
    memset(ck, 0, sizeof *ck);
}
