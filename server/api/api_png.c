#include "api_png.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Class colours: the first two match the dashboard's canvas maps. */
static const unsigned char base_colors[][3] = {
    {59, 111, 182}, {242, 177, 52}, {76, 161, 107}, {200, 75, 75},
    {140, 98, 180}, {90, 90, 90},   {230, 120, 180}, {60, 190, 200},
};

static void put32(unsigned char *p, unsigned long v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void chunk(qs_buf *out, const char *type, const unsigned char *data, size_t n)
{
    unsigned char hdr[8];
    put32(hdr, (unsigned long)n);
    memcpy(hdr + 4, type, 4);
    qs_buf_add(out, hdr, 8);
    if (n)
        qs_buf_add(out, data, n);
    unsigned long crc = crc32(0L, (const Bytef *)type, 4);
    if (n)
        crc = crc32(crc, data, (uInt)n);
    unsigned char c[4];
    put32(c, crc);
    qs_buf_add(out, c, 4);
}

int qs_png_labels(qs_buf *out, const unsigned char *labels, int w, int h)
{
    int rc = QS_OK;
    unsigned char *raw = NULL, *z = NULL;
    if (w < 1 || h < 1 || w > 16384 || h > 16384)
        return qs_err(QS_EINVAL, "decision map of %d x %d", w, h);
    /* Each row is prefixed with filter type 0 (none). */
    size_t rawlen = (size_t)h * ((size_t)w + 1);
    raw = malloc(rawlen);
    uLongf zlen = compressBound((uLong)rawlen);
    z = malloc(zlen);
    if (!raw || !z) {
        rc = qs_err(QS_ENOMEM, "out of memory encoding a PNG");
        goto cleanup;
    }
    int maxlab = 0;
    for (int y = 0; y < h; y++) {
        raw[(size_t)y * (w + 1)] = 0;
        memcpy(raw + (size_t)y * (w + 1) + 1, labels + (size_t)y * w, (size_t)w);
    }
    for (size_t i = 0; i < (size_t)w * h; i++)
        if (labels[i] > maxlab)
            maxlab = labels[i];
    if (compress2(z, &zlen, raw, (uLong)rawlen, 6) != Z_OK) {
        rc = qs_err(QS_EINTERNAL, "zlib failed encoding a PNG");
        goto cleanup;
    }
    static const unsigned char sig[8] = {137, 'P', 'N', 'G', '\r', '\n', 26, '\n'};
    qs_buf_add(out, sig, 8);
    unsigned char ihdr[13];
    put32(ihdr, (unsigned long)w);
    put32(ihdr + 4, (unsigned long)h);
    ihdr[8] = 8;  /* bit depth */
    ihdr[9] = 3;  /* palette */
    ihdr[10] = ihdr[11] = ihdr[12] = 0;
    chunk(out, "IHDR", ihdr, sizeof ihdr);
    unsigned char plte[256 * 3];
    int ncolors = maxlab + 1;
    int nbase = (int)(sizeof base_colors / sizeof base_colors[0]);
    for (int i = 0; i < ncolors; i++) {
        if (i < nbase) {
            memcpy(plte + 3 * i, base_colors[i], 3);
        } else { /* beyond the named colours: distinct greys */
            plte[3 * i] = plte[3 * i + 1] = plte[3 * i + 2] = (unsigned char)(i * 97 % 256);
        }
    }
    chunk(out, "PLTE", plte, (size_t)ncolors * 3);
    chunk(out, "IDAT", z, zlen);
    chunk(out, "IEND", NULL, 0);
    rc = qs_buf_ok(out);
cleanup:
    free(raw);
    free(z);
    return rc;
}
