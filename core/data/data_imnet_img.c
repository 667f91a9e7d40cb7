/* One ImageNet image: JPEG decoding (TurboJPEG) and the train / eval
 * transforms of data_imnet.h. */
#include "data_imnet.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "err.h"

void qs_imnet_tf_default(qs_imnet_tf *tf)
{
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    tf->size = 224;
    tf->resize = 256;
    memcpy(tf->mean, mean, sizeof mean);
    memcpy(tf->std, std, sizeof std);
    tf->augment = 1;
}

void qs_imnet_tf_sized(qs_imnet_tf *tf, int size)
{
    qs_imnet_tf_default(tf);
    /* torchvision's 256 / 224 ratio at any crop side. */
    tf->size = size;
    tf->resize = (int)((long)size * 256 / 224 + ((long)size * 256 % 224 >= 112));
}

void qs_imnet_img_free(qs_imnet_img *img)
{
    free(img->rgb);
    memset(img, 0, sizeof *img);
}

/* A complete JPEG ends with the end-of-image marker FF D9 (some files
 * carry a few bytes after it). Inside entropy-coded data an FF is always
 * followed by 00 or a restart marker, so FF D9 near the end means the file
 * was not cut short. libjpeg itself only warns on a truncated file and
 * fills the rest with grey, which would train on a damaged image. */
static int has_eoi(const uint8_t *buf, size_t len)
{
    size_t from = len > 64 ? len - 64 : 0;
    for (size_t i = len; i-- > from + 1;)
        if (buf[i - 1] == 0xFF && buf[i] == 0xD9)
            return 1;
    return 0;
}

int qs_imnet_decode(qs_imnet_img *img, void *tj, const uint8_t *buf, size_t len,
                    const char *path)
{
    int w, h, subsamp, cs;
    if (len < 4 || buf[0] != 0xFF || buf[1] != 0xD8)
        return qs_err(QS_EFORMAT, "%s: not a JPEG file (no start-of-image marker)", path);
    if (tjDecompressHeader3(tj, buf, (unsigned long)len, &w, &h, &subsamp, &cs) != 0)
        return qs_err(QS_EFORMAT, "%s: corrupt JPEG header: %s", path, tjGetErrorStr2(tj));
    if (w < 1 || h < 1 || w > 32768 || h > 32768)
        return qs_err(QS_EFORMAT, "%s: JPEG size %dx%d is out of range", path, w, h);
    if (!has_eoi(buf, len))
        return qs_err(QS_EFORMAT, "%s: truncated JPEG (no end-of-image marker)", path);
    const int cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK;
    size_t need = (size_t)w * h * (cmyk ? 4 : 3);
    if (need > img->cap) {
        uint8_t *p = realloc(img->rgb, need);
        if (!p)
            return qs_err(QS_ENOMEM, "%s: out of memory decoding %dx%d", path, w, h);
        img->rgb = p;
        img->cap = need;
    }
    if (tjDecompress2(tj, buf, (unsigned long)len, img->rgb, w, 0, h,
                      cmyk ? TJPF_CMYK : TJPF_RGB, TJFLAG_ACCURATEDCT) != 0 &&
        tjGetErrorCode(tj) != TJERR_WARNING)
        return qs_err(QS_EFORMAT, "%s: corrupt JPEG: %s", path, tjGetErrorStr2(tj));
    if (cmyk) {
        /* Adobe's CMYK JPEGs (the only kind in practice) store inverted
         * values, so R = C K / 255 (as PIL converts them); in place, front
         * to back, since 3 <= 4 bytes per pixel. */
        for (size_t i = 0; i < (size_t)w * h; i++) {
            const uint8_t *q = img->rgb + 4 * i;
            unsigned k = q[3], r = q[0] * k / 255, g = q[1] * k / 255, b = q[2] * k / 255;
            img->rgb[3 * i] = (uint8_t)r;
            img->rgb[3 * i + 1] = (uint8_t)g;
            img->rgb[3 * i + 2] = (uint8_t)b;
        }
    }
    img->w = w;
    img->h = h;
    return QS_OK;
}

/* Python's round(): halves to even (nearbyint in the default mode). */
static int pyround(double v) { return (int)nearbyint(v); }

void qs_imnet_rrc_box(int *x0, int *y0, int *cw, int *ch, int w, int h, qs_rng *r)
{
    const double area = (double)w * h, lo = log(3.0 / 4.0), hi = log(4.0 / 3.0);
    for (int t = 0; t < 10; t++) {
        double target = area * (0.08 + (1.0 - 0.08) * qs_rng_uniform(r));
        double aspect = exp(lo + (hi - lo) * qs_rng_uniform(r));
        int tw = pyround(sqrt(target * aspect)), th = pyround(sqrt(target / aspect));
        if (tw > 0 && tw <= w && th > 0 && th <= h) {
            *y0 = (int)qs_rng_below(r, (uint32_t)(h - th + 1));
            *x0 = (int)qs_rng_below(r, (uint32_t)(w - tw + 1));
            *cw = tw;
            *ch = th;
            return;
        }
    }
    /* fallback: the whole image, its aspect ratio clamped to [3/4, 4/3] */
    double in_ratio = (double)w / h;
    int tw = w, th = h;
    if (in_ratio < 3.0 / 4.0)
        th = pyround(w / (3.0 / 4.0));
    else if (in_ratio > 4.0 / 3.0)
        tw = pyround(h * (4.0 / 3.0));
    *cw = tw;
    *ch = th;
    *x0 = (w - tw) / 2;
    *y0 = (h - th) / 2;
}

/* Output pixel o of one axis reads source src = base + (o + off + 0.5) *
 * scale - 0.5, clamped to [lo, hi] (the crop box or the image), as
 * PyTorch's bilinear upsampling with align_corners false: the two taps
 * i0, i1 and the weight of i1. */
typedef struct {
    double base, off, scale;
    int lo, hi;
} axis_map;

static void taps(int *i0, int *i1, float *wt, const axis_map *a, int n)
{
    for (int o = 0; o < n; o++) {
        double s = a->base + (o + a->off + 0.5) * a->scale - 0.5;
        if (s < a->lo)
            s = a->lo;
        if (s > a->hi)
            s = a->hi;
        int k = (int)s;
        i0[o] = k;
        i1[o] = k < a->hi ? k + 1 : k;
        wt[o] = (float)(s - k);
    }
}

/* x [3, size, size] <- bilinear samples of img, normalised, mirrored when
 * flip (the flip follows the resize, as in torchvision's pipeline). */
static void sample(float *x, const qs_imnet_img *img, const axis_map *ax, const axis_map *ay,
                   int flip, const qs_imnet_tf *tf)
{
    const int n = tf->size;
    int *xi = malloc(sizeof(int) * 4 * (size_t)n);
    float *xw = malloc(sizeof(float) * 2 * (size_t)n);
    if (!xi || !xw) { /* n <= 4096: a few KB; fill with the mean on failure */
        memset(x, 0, sizeof(float) * 3 * (size_t)n * n);
        free(xi);
        free(xw);
        return;
    }
    int *x0 = xi, *x1 = xi + n, *y0 = xi + 2 * n, *y1 = xi + 3 * n;
    float *wx = xw, *wy = xw + n;
    taps(x0, x1, wx, ax, n);
    taps(y0, y1, wy, ay, n);
    const size_t stride = (size_t)img->w * 3, plane = (size_t)n * n;
    float scale[3], shift[3];
    for (int c = 0; c < 3; c++) {
        scale[c] = 1.0f / (255.0f * tf->std[c]);
        shift[c] = -tf->mean[c] / tf->std[c];
    }
    for (int oy = 0; oy < n; oy++) {
        const uint8_t *r0 = img->rgb + (size_t)y0[oy] * stride, *r1 = img->rgb + (size_t)y1[oy] * stride;
        const float b = wy[oy], a = 1.0f - b;
        for (int ox = 0; ox < n; ox++) {
            const int p = 3 * x0[ox], q = 3 * x1[ox], dst = flip ? n - 1 - ox : ox;
            const float d = wx[ox], e = 1.0f - d;
            for (int c = 0; c < 3; c++) {
                float v = a * (e * r0[p + c] + d * r0[q + c]) + b * (e * r1[p + c] + d * r1[q + c]);
                x[c * plane + (size_t)oy * n + dst] = v * scale[c] + shift[c];
            }
        }
    }
    free(xi);
    free(xw);
}

void qs_imnet_train_tf(float *x, const qs_imnet_img *img, const qs_imnet_tf *tf, qs_rng *r)
{
    int x0, y0, cw, ch;
    qs_imnet_rrc_box(&x0, &y0, &cw, &ch, img->w, img->h, r);
    int flip = qs_rng_uniform(r) < 0.5f;
    axis_map ax = {x0, 0, (double)cw / tf->size, x0, x0 + cw - 1};
    axis_map ay = {y0, 0, (double)ch / tf->size, y0, y0 + ch - 1};
    sample(x, img, &ax, &ay, flip, tf);
}

void qs_imnet_eval_tf(float *x, const qs_imnet_img *img, const qs_imnet_tf *tf)
{
    /* torchvision Resize(resize): shorter side to `resize`, the longer to
     * int(resize * long / short); CenterCrop: offsets round((R - size) / 2). */
    int w = img->w, h = img->h, rw, rh;
    if (w <= h) {
        rw = tf->resize;
        rh = (int)((double)tf->resize * h / w);
    } else {
        rh = tf->resize;
        rw = (int)((double)tf->resize * w / h);
    }
    int left = pyround((rw - tf->size) / 2.0), top = pyround((rh - tf->size) / 2.0);
    axis_map ax = {0, left, (double)w / rw, 0, w - 1};
    axis_map ay = {0, top, (double)h / rh, 0, h - 1};
    sample(x, img, &ax, &ay, 0, tf);
}
