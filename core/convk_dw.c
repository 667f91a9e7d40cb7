/* Weight gradient of conv2d on AVX-512 (see convk.h).
 *
 * dW [k][ckk] = sum_n sum_q dy_n [k][q] B_n [ckk][q], B the im2col of x_n:
 * a dot-product kernel over positions q with both operands contiguous
 * rows, so nothing is transposed. A 4 x 6 tile of dW keeps 24 vector
 * partial sums over every q of every image of a chunk, then reduces each
 * once (fixed order).
 *
 * Stride 1: B's rows are runs of the padded image (convk_int.h) and dy is
 * copied to the same flat layout (junk positions zero, so they add
 * nothing); nothing is expanded ninefold. Other strides: a plain im2col of
 * each image of the chunk. */
#include "convk.h"

#include "conv_util.h"
#include "convk_int.h"
#include "par.h"

#include <immintrin.h>
#include <string.h>

#define TGT QS_CK_TGT
#define COL_BUDGET ((size_t)1 << 19) /* floats of im2col per chunk */
#define PAD_BUDGET ((size_t)1 << 18) /* floats of padded x + dy per chunk */

/* Per image: B [ckk rows at koff, length qn] and dy [k rows of qn], both
 * at a stride per image. */
typedef struct {
    int direct;
    qs_ck_pad g;
    int qn;          /* positions per row (ho*wp direct, ho*wo im2col) */
    size_t bimg;     /* floats per image of B */
    size_t dyimg;    /* floats per image of the dy copy, 0: dy in place */
    int chunk;       /* images per chunk */
} layout;

static void layout_of(layout *l, const qs_conv_shape *s)
{
    const size_t p = (size_t)s->ho * s->wo;
    size_t per;
    memset(l, 0, sizeof(*l));
    l->direct = s->stride == 1;
    if (l->direct) {
        qs_ck_pad_init(&l->g, s);
        l->qn = s->ho * l->g.wp;
        l->bimg = l->g.inplace ? 0 : l->g.len;
        l->dyimg = l->g.wp == s->wo ? 0 : QS_CK_ALIGN((size_t)s->k * l->qn);
        per = l->bimg + l->dyimg;
        l->chunk = per ? (int)(PAD_BUDGET / per) : s->n;
    } else {
        l->qn = (int)p;
        l->bimg = qs_ck_ckk(s) * p;
        per = l->bimg;
        l->chunk = (int)(COL_BUDGET / per);
    }
    if (l->chunk < 1)
        l->chunk = 1;
    if (l->chunk > s->n && s->n > 0)
        l->chunk = s->n;
}

static size_t thread_floats(const qs_conv_shape *s, const layout *l)
{
    return QS_CK_ALIGN((size_t)s->k * qs_ck_ckk(s)) +
           QS_CK_ALIGN((l->bimg + l->dyimg) * l->chunk);
}

size_t qs_convk_dw_scratch(const qs_conv_shape *s)
{
    layout l;
    layout_of(&l, s);
    return QS_CK_ALIGN(qs_ck_ckk(s)) + (size_t)QS_PAR_MAXT * thread_floats(s, &l);
}

/* c [mi][ldc] += sum_t sum_q a_t [i][q] b_t [j][q], q < qn, t < nimg;
 * row i of image t: a + t*aimg + i*qn; row j: b + t*bimg + bo[j]. */
static inline __attribute__((always_inline)) TGT void
ntbody(const int mi, const int nj, const float *a, size_t aimg,
       const float *b, const int *bo, size_t bimg, int nimg, int qn,
       float *c, size_t ldc)
{
    __m512 acc[4][6];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
#pragma GCC unroll 6
        for (int j = 0; j < 6; j++)
            if (i < mi && j < nj)
                acc[i][j] = _mm512_setzero_ps();
    const int qv = qn & ~15;
    const __mmask16 mt = (__mmask16)((1u << (qn - qv)) - 1);
    for (int t = 0; t < nimg; t++) {
        const float *at = a + t * aimg, *bt = b + t * bimg;
        const float *br[6];
#pragma GCC unroll 6
        for (int j = 0; j < 6; j++)
            if (j < nj)
                br[j] = bt + bo[j];
        for (int q = 0; q < qv; q += 16) {
            __m512 av[4], bv[6];
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++)
                if (i < mi)
                    av[i] = _mm512_loadu_ps(at + (size_t)i * qn + q);
#pragma GCC unroll 6
            for (int j = 0; j < 6; j++)
                if (j < nj)
                    bv[j] = _mm512_loadu_ps(br[j] + q);
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++)
#pragma GCC unroll 6
                for (int j = 0; j < 6; j++)
                    if (i < mi && j < nj)
                        acc[i][j] = _mm512_fmadd_ps(av[i], bv[j], acc[i][j]);
        }
        if (qv < qn) {
            __m512 av[4], bv[6];
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++)
                if (i < mi)
                    av[i] = _mm512_maskz_loadu_ps(mt, at + (size_t)i * qn + qv);
#pragma GCC unroll 6
            for (int j = 0; j < 6; j++)
                if (j < nj)
                    bv[j] = _mm512_maskz_loadu_ps(mt, br[j] + qv);
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++)
#pragma GCC unroll 6
                for (int j = 0; j < 6; j++)
                    if (i < mi && j < nj)
                        acc[i][j] = _mm512_fmadd_ps(av[i], bv[j], acc[i][j]);
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
#pragma GCC unroll 6
        for (int j = 0; j < 6; j++)
            if (i < mi && j < nj)
                c[(size_t)i * ldc + j] += _mm512_reduce_add_ps(acc[i][j]);
}

typedef void (*ntfn)(const float *, size_t, const float *, const int *, size_t,
                     int, int, float *, size_t);

#define NTDEF(MI, NJ)                                                        \
    static TGT void nt##MI##NJ(const float *a, size_t aimg, const float *b,  \
                               const int *bo, size_t bimg, int nimg, int qn, \
                               float *c, size_t ldc)                         \
    {                                                                        \
        ntbody(MI, NJ, a, aimg, b, bo, bimg, nimg, qn, c, ldc);              \
    }
#define NTROW(MI) NTDEF(MI, 1) NTDEF(MI, 2) NTDEF(MI, 3) NTDEF(MI, 4) \
                  NTDEF(MI, 5) NTDEF(MI, 6)
NTROW(1) NTROW(2) NTROW(3) NTROW(4)

static const ntfn nttab[5][7] = {
    {NULL},
    {NULL, nt11, nt12, nt13, nt14, nt15, nt16},
    {NULL, nt21, nt22, nt23, nt24, nt25, nt26},
    {NULL, nt31, nt32, nt33, nt34, nt35, nt36},
    {NULL, nt41, nt42, nt43, nt44, nt45, nt46},
};

typedef struct {
    float *scratch; /* per thread: part [k][ckk] (zeroed here), then the
                       chunk's B and dy copies */
    const float *dy, *x;
    const int *koff;
    const qs_conv_shape *s;
    layout l;
} dwjob;

static float *dw_part(const dwjob *j, int t)
{
    return j->scratch + (size_t)t * thread_floats(j->s, &j->l);
}

/* dst [k][ho][wp] <- dy_n [k][ho][wo], junk columns zero */
static void widen_dy(float *restrict dst, const float *restrict dy,
                     const qs_conv_shape *s, int wp)
{
    for (int r = 0; r < s->k * s->ho; r++) {
        memcpy(dst, dy, sizeof(float) * s->wo);
        memset(dst + s->wo, 0, sizeof(float) * (wp - s->wo));
        dst += wp;
        dy += s->wo;
    }
}

/* images [i0, i1) on thread t (qs_par_fn) */
static void run_dwjob(void *ctx, int t, int i0, int i1)
{
    const dwjob *j = ctx;
    const qs_conv_shape *s = j->s;
    const layout *l = &j->l;
    const size_t ckk = qs_ck_ckk(s);
    const size_t xs = (size_t)s->c * s->h * s->w;
    const size_t ys = (size_t)s->k * s->ho * s->wo;
    const size_t len = (size_t)s->k * ckk;
    float *part = dw_part(j, t), *bbuf = part + QS_CK_ALIGN(len);
    float *dybuf = bbuf + l->bimg * l->chunk;
    memset(part, 0, sizeof(float) * len);
    for (int i = i0; i < i1; i += l->chunk) {
        int nimg = i1 - i < l->chunk ? i1 - i : l->chunk;
        const float *b = bbuf, *a = dybuf;
        size_t bimg = l->bimg, aimg = l->dyimg;
        for (int q = 0; q < nimg; q++) {
            const float *xq = j->x + (i + q) * xs;
            if (!l->direct)
                qs_conv_im2col(bbuf + q * l->bimg, xq, s);
            else if (l->bimg)
                qs_ck_pad_image(bbuf + q * l->bimg, xq, s, &l->g);
            if (l->dyimg)
                widen_dy(dybuf + q * l->dyimg, j->dy + (i + q) * ys, s,
                         l->g.wp);
        }
        if (!l->bimg) { /* 1x1 pad 0: x is its own im2col */
            b = j->x + i * xs;
            bimg = xs;
        }
        if (!l->dyimg) {
            a = j->dy + i * ys;
            aimg = ys;
        }
        /* kk blocks outer: a 6-row block of B stays in cache while every
         * row block of dy passes over it */
        for (size_t kk = 0; kk < ckk; kk += 6) {
            int nj = ckk - kk < 6 ? (int)(ckk - kk) : 6;
            for (int k = 0; k < s->k; k += 4) {
                int mi = s->k - k < 4 ? s->k - k : 4;
                nttab[mi][nj](a + (size_t)k * l->qn, aimg, b, j->koff + kk,
                              bimg, nimg, l->qn, part + (size_t)k * ckk + kk,
                              ckk);
            }
        }
    }
}

void qs_convk_dweight(float *dweight, const float *dy, const float *x,
                      const qs_conv_shape *s, float *scratch)
{
    const size_t ckk = qs_ck_ckk(s), len = (size_t)s->k * ckk;
    int *koff = (int *)scratch;
    dwjob j = {scratch + QS_CK_ALIGN(ckk), dy, x, koff, s, {0}};
    layout_of(&j.l, s);
    if (j.l.direct) {
        qs_ck_tap_offsets(koff, s, &j.l.g);
    } else {
        for (size_t kk = 0; kk < ckk; kk++)
            koff[kk] = (int)(kk * j.l.qn);
    }
    int nt = qs_par_for(qs_par_threads(), s->n, run_dwjob, &j);
    /* shares in thread order */
    for (int t = 0; t < nt; t++) {
        const float *part = dw_part(&j, t);
        for (size_t i = 0; i < len; i++)
            dweight[i] += part[i];
    }
}
