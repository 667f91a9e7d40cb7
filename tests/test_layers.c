/* Layer kernels: finite-difference gradient checks, forward passes against
 * naive loops, and the accumulate / NULL-dx conventions of layers.h.
 *
 * Gradient checks use L = sum(y * r) for a fixed random r, so dL/dy = r is
 * what backward receives; each sampled coordinate p of a tensor is compared
 * against the central difference (L(p+h) - L(p-h)) / 2h, with L summed in
 * double. Every case runs under both GEMM backends (naive reference loop,
 * then OpenBLAS). */
#include "gemm.h"
#include "par.h"
#include "quant.h"
#include "layers.h"
#include "rng.h"
#include "simd.h"
#include "tharness.h"

#include <stdint.h>
#include <string.h>

/* ---- per-case allocation arena (a failed T_CHECK returns early) -------- */

#define ARENA_MAX 64
static void *arena[ARENA_MAX];
static int arena_n;

static float *fbuf(size_t n)
{
    if (arena_n == ARENA_MAX) {
        fprintf(stderr, "test arena full\n");
        abort();
    }
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        abort();
    }
    arena[arena_n++] = p;
    return p;
}

static void arena_free(void)
{
    while (arena_n > 0)
        free(arena[--arena_n]);
}

static qs_rng rng;

static void fill(float *p, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        p[i] = lo + (hi - lo) * qs_rng_uniform(&rng);
}

static float *rbuf(size_t n, float lo, float hi)
{
    float *p = fbuf(n);
    fill(p, n, lo, hi);
    return p;
}

static float *copy(const float *src, size_t n)
{
    float *p = fbuf(n);
    memcpy(p, src, n * sizeof(float));
    return p;
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

static char msg[512];

/* ---- finite-difference engine ------------------------------------------ */

typedef double (*loss_fn)(void *ctx);

#define GC_SAMPLES 200

/* Compares grad[i] with the central difference of f in param[i] for up to
 * GC_SAMPLES coordinates. Returns 0, or 1 with msg set. Also fails when every
 * sampled derivative is below 10 * atol, so a check cannot pass vacuously. */
static int grad_check(const char *what, loss_fn f, void *ctx, float *param,
                      const float *grad, size_t len, float h, double rtol,
                      double atol)
{
    size_t count = len <= GC_SAMPLES ? len : GC_SAMPLES;
    double biggest = 0.0;
    for (size_t s = 0; s < count; s++) {
        size_t i = len <= GC_SAMPLES ? s : qs_rng_below(&rng, (uint32_t)len);
        float v = param[i];
        float vp = v + h, vm = v - h;
        /* the step actually taken, after rounding to float */
        double step = (double)vp - (double)vm;
        param[i] = vp;
        double lp = f(ctx);
        param[i] = vm;
        double lm = f(ctx);
        param[i] = v;
        double num = (lp - lm) / step;
        if (fabs(num) > biggest)
            biggest = fabs(num);
        if (!T_CLOSE(grad[i], num, rtol, atol)) {
            snprintf(msg, sizeof msg,
                     "%s[%zu]: analytic %.6g vs numeric %.6g", what, i,
                     (double)grad[i], num);
            return 1;
        }
    }
    if (biggest < 10 * atol) {
        snprintf(msg, sizeof msg, "%s: all sampled derivatives tiny (%.3g)",
                 what, biggest);
        return 1;
    }
    return 0;
}

#define RTOL 1e-2
#define ATOL 1e-3

/* ---- conv2d ------------------------------------------------------------ */

typedef struct {
    qs_conv_shape s;
    float *x, *w, *b, *y, *r, *scratch;
} conv_ctx;

static size_t xlen(const qs_conv_shape *s)
{
    return (size_t)s->n * s->c * s->h * s->w;
}
static size_t ylen(const qs_conv_shape *s)
{
    return (size_t)s->n * s->k * s->ho * s->wo;
}

static double conv_loss(void *p)
{
    conv_ctx *c = p;
    qs_conv2d_forward(c->y, c->x, c->w, c->b, &c->s, c->scratch);
    return dot(c->y, c->r, ylen(&c->s));
}

/* y[n, k, oh, ow] = b[k] + sum w[k, c, i, j] x[n, c, oh s - p + i, ...],
 * directly and in double; returns the largest error relative to the sum of
 * |terms| of that output. */
static double conv_naive_err(const float *y, const float *x, const float *w,
                             const float *b, const qs_conv_shape *s)
{
    double worst = 0.0;
    for (int n = 0; n < s->n; n++)
        for (int k = 0; k < s->k; k++)
            for (int oh = 0; oh < s->ho; oh++)
                for (int ow = 0; ow < s->wo; ow++) {
                    double acc = b ? b[k] : 0.0, mag = fabs(acc);
                    for (int c = 0; c < s->c; c++)
                        for (int i = 0; i < s->kh; i++)
                            for (int j = 0; j < s->kw; j++) {
                                int ih = oh * s->stride - s->pad + i;
                                int iw = ow * s->stride - s->pad + j;
                                if (ih < 0 || ih >= s->h || iw < 0 ||
                                    iw >= s->w)
                                    continue;
                                double t =
                                    (double)w[((k * s->c + c) * s->kh + i) *
                                                  s->kw + j] *
                                    x[((n * s->c + c) * s->h + ih) * s->w +
                                      iw];
                                acc += t;
                                mag += fabs(t);
                            }
                    double got =
                        y[((n * s->k + k) * s->ho + oh) * s->wo + ow];
                    double e = fabs(got - acc) / (mag + 1e-30);
                    if (e > worst)
                        worst = e;
                }
    return worst;
}

/* Sets up a conv with random x, w, b, r; returns 0 or 1 (msg set). */
static int conv_setup(conv_ctx *c, int n, int ch, int h, int w, int k,
                      int kh, int kw, int stride, int pad, int with_bias)
{
    if (qs_conv_shape_init(&c->s, n, ch, h, w, k, kh, kw, stride, pad) != 0) {
        snprintf(msg, sizeof msg, "shape init failed");
        return 1;
    }
    size_t wl = (size_t)k * ch * kh * kw;
    c->x = rbuf(xlen(&c->s), -1.0f, 1.0f);
    c->w = rbuf(wl, -1.0f, 1.0f);
    c->b = with_bias ? rbuf(k, -1.0f, 1.0f) : NULL;
    c->y = fbuf(ylen(&c->s));
    c->r = rbuf(ylen(&c->s), -1.0f, 1.0f);
    c->scratch = fbuf(qs_conv2d_scratch(&c->s));
    return 0;
}

static int conv_gradcheck(int n, int ch, int h, int w, int k, int kh, int kw,
                          int stride, int pad)
{
    conv_ctx c;
    if (conv_setup(&c, n, ch, h, w, k, kh, kw, stride, pad, 1))
        return 1;
    size_t wl = (size_t)k * ch * kh * kw;
    float *dx = fbuf(xlen(&c.s)), *dw = fbuf(wl), *db = fbuf(k);
    conv_loss(&c);
    qs_conv2d_backward(dx, dw, db, c.r, c.x, c.w, &c.s, c.scratch, 1);
    return grad_check("dx", conv_loss, &c, c.x, dx, xlen(&c.s), 1e-2f, RTOL,
                      ATOL) ||
           grad_check("dweight", conv_loss, &c, c.w, dw, wl, 1e-2f, RTOL,
                      ATOL) ||
           grad_check("dbias", conv_loss, &c, c.b, db, k, 1e-2f, RTOL, ATOL);
}

static void conv_grad_3x3_s1_p1(void)
{
    T_CHECK(conv_gradcheck(2, 3, 6, 5, 4, 3, 3, 1, 1) == 0, "%s", msg);
}
static void conv_grad_3x3_s2_p1(void)
{
    T_CHECK(conv_gradcheck(2, 3, 7, 6, 4, 3, 3, 2, 1) == 0, "%s", msg);
}
static void conv_grad_1x1_s1(void)
{
    T_CHECK(conv_gradcheck(2, 5, 4, 3, 6, 1, 1, 1, 0) == 0, "%s", msg);
}
static void conv_grad_1x1_s2(void)
{
    T_CHECK(conv_gradcheck(2, 4, 7, 6, 5, 1, 1, 2, 0) == 0, "%s", msg);
}
static void conv_grad_odd_shapes(void)
{
    T_CHECK(conv_gradcheck(1, 3, 7, 5, 4, 3, 3, 1, 1) == 0, "c3 7x5: %s",
            msg);
    T_CHECK(conv_gradcheck(2, 3, 7, 5, 2, 2, 3, 2, 0) == 0, "k2x3 s2: %s",
            msg);
    T_CHECK(conv_gradcheck(1, 2, 8, 7, 3, 5, 5, 3, 2) == 0, "k5 s3 p2: %s",
            msg);
    /* a 5-wide kernel on a 1-wide image: whole kernel columns fall in the
     * padding */
    T_CHECK(conv_gradcheck(1, 2, 3, 1, 2, 3, 5, 1, 2) == 0, "w1 k3x5 p2: %s",
            msg);
}

static void conv_forward_matches_naive(void)
{
    /* n, c, h, w, k, kh, kw, stride, pad, bias */
    static const int cases[][10] = {
        {2, 3, 6, 5, 4, 3, 3, 1, 1, 1}, {2, 3, 7, 6, 4, 3, 3, 2, 1, 1},
        {2, 5, 4, 3, 6, 1, 1, 1, 0, 1}, {2, 4, 7, 6, 5, 1, 1, 2, 0, 0},
        {1, 3, 7, 5, 4, 3, 3, 1, 1, 0}, {2, 3, 7, 5, 2, 2, 3, 2, 0, 1},
        {1, 2, 8, 7, 3, 5, 5, 3, 2, 1}, {1, 2, 3, 3, 2, 3, 3, 1, 2, 1},
        {1, 16, 9, 11, 8, 3, 3, 1, 1, 1}, {1, 2, 3, 1, 2, 3, 5, 1, 2, 1},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const int *q = cases[t];
        conv_ctx c;
        T_CHECK(conv_setup(&c, q[0], q[1], q[2], q[3], q[4], q[5], q[6],
                           q[7], q[8], q[9]) == 0,
                "case %zu: %s", t, msg);
        /* garbage in y: forward must overwrite, not accumulate */
        fill(c.y, ylen(&c.s), 1e6f, 2e6f);
        qs_conv2d_forward(c.y, c.x, c.w, c.b, &c.s, c.scratch);
        double e = conv_naive_err(c.y, c.x, c.w, c.b, &c.s);
        T_CHECK(e < 1e-5, "case %zu: relative error %.3g", t, e);
    }
}

static void conv_shape_init_checks(void)
{
    qs_conv_shape s;
    T_CHECK(qs_conv_shape_init(&s, 1, 3, 32, 32, 16, 3, 3, 1, 1) == 0 &&
                s.ho == 32 && s.wo == 32,
            "3x3 p1 s1: %dx%d", s.ho, s.wo);
    T_CHECK(qs_conv_shape_init(&s, 1, 16, 32, 32, 32, 1, 1, 2, 0) == 0 &&
                s.ho == 16 && s.wo == 16,
            "1x1 s2: %dx%d", s.ho, s.wo);
    T_CHECK(qs_conv_shape_init(&s, 1, 3, 7, 5, 4, 3, 3, 2, 1) == 0 &&
                s.ho == 4 && s.wo == 3,
            "7x5 s2 p1: %dx%d", s.ho, s.wo);
    T_CHECK(qs_conv_shape_init(&s, 1, 3, 2, 2, 4, 5, 5, 1, 1) == -1,
            "kernel larger than padded input accepted");
    T_CHECK(qs_conv_shape_init(&s, 1, 3, 8, 8, 4, 3, 3, 0, 1) == -1,
            "stride 0 accepted");
    T_CHECK(qs_conv_shape_init(&s, 1, 3, 8, 8, 4, 3, 3, 1, -1) == -1,
            "negative pad accepted");
    T_CHECK(qs_conv_shape_init(&s, 1, 8, 4, 4, 4, 1, 1, 1, 0) == 0 &&
                qs_conv2d_scratch(&s) >= 1,
            "1x1 scratch must be at least 1 float");
}

/* Backward called twice doubles every gradient; NULL dx / NULL dbias give
 * the same parameter gradients. Covers the im2col and the 1x1 paths. */
static void conv_accumulate_and_null(void)
{
    static const int cases[][9] = {
        {2, 3, 6, 5, 4, 3, 3, 1, 1}, {2, 5, 4, 3, 6, 1, 1, 1, 0},
        {2, 4, 7, 6, 5, 1, 1, 2, 0}};
    for (int t = 0; t < 3; t++) {
        const int *q = cases[t];
        conv_ctx c;
        T_CHECK(conv_setup(&c, q[0], q[1], q[2], q[3], q[4], q[5], q[6],
                           q[7], q[8], 1) == 0,
                "%s", msg);
        size_t xl = xlen(&c.s), wl = (size_t)q[4] * q[1] * q[5] * q[6];
        int k = q[4];
        float *dx1 = fbuf(xl), *dw1 = fbuf(wl), *db1 = fbuf(k);
        float *dx2 = fbuf(xl), *dw2 = fbuf(wl), *db2 = fbuf(k);
        float *dw3 = fbuf(wl), *db3 = fbuf(k), *dw4 = fbuf(wl);
        qs_conv2d_backward(dx1, dw1, db1, c.r, c.x, c.w, &c.s, c.scratch, 1);
        qs_conv2d_backward(dx2, dw2, db2, c.r, c.x, c.w, &c.s, c.scratch, 1);
        qs_conv2d_backward(dx2, dw2, db2, c.r, c.x, c.w, &c.s, c.scratch, 1);
        for (size_t i = 0; i < xl; i++)
            T_CHECK(T_CLOSE(dx2[i], 2 * dx1[i], 1e-5, 1e-6),
                    "case %d dx[%zu] %g vs 2 x %g", t, i, dx2[i], dx1[i]);
        for (size_t i = 0; i < wl; i++)
            T_CHECK(T_CLOSE(dw2[i], 2 * dw1[i], 1e-5, 1e-6),
                    "case %d dweight[%zu] %g vs 2 x %g", t, i, dw2[i],
                    dw1[i]);
        for (int i = 0; i < k; i++)
            T_CHECK(T_CLOSE(db2[i], 2 * db1[i], 1e-5, 1e-6),
                    "case %d dbias[%d] %g vs 2 x %g", t, i, db2[i], db1[i]);
        qs_conv2d_backward(NULL, dw3, db3, c.r, c.x, c.w, &c.s, c.scratch, 1);
        T_CHECK(memcmp(dw3, dw1, wl * sizeof(float)) == 0 &&
                    memcmp(db3, db1, k * sizeof(float)) == 0,
                "case %d: NULL dx changed the parameter gradients", t);
        qs_conv2d_backward(NULL, dw4, NULL, c.r, c.x, c.w, &c.s, c.scratch, 1);
        T_CHECK(memcmp(dw4, dw1, wl * sizeof(float)) == 0,
                "case %d: NULL dbias changed dweight", t);
    }
}

/* Vector paths a test compares with the generic one: avx2 up to the
 * path in use (QSWEEP_KERNELS caps it; the CPU caps that). */
static qs_kpath top_path(void)
{
    qs_simd_set_path(QS_KPATH_COUNT);
    return qs_simd_path();
}

/* The direct conv kernels (convk.c, convk_dw.c; one source compiled for
 * AVX-512 and AVX2, taken under the BLAS backend) against the im2col +
 * naive GEMM path, forward, dx and dweight, on each vector path this CPU
 * runs, on shapes that reach each of their cases at both widths (VL 16 /
 * 8): output rows that are a multiple of VL read as row pieces of VL
 * (32, 16, 8, 24, 40), of VL/2 (8 and 24 on AVX-512; 12, 20 and 4 on
 * AVX2), counts of pieces not a multiple of the block's, other widths
 * read flat with junk columns (3, 5, 11; 12 and 20 on AVX-512), 1x1 convs
 * read in place (positions a multiple of VL: 16 on both, 24 on AVX2
 * only) or copied, k from 1 to 25 (panel heights 1..12 / 1..6, one or two
 * dy vectors in dweight), a 5x5 kernel with pad 2, and strided convs
 * (phase planes; their dx through W^T dy and col2im) with rows of 16, 8
 * and 4. Two threads must give the same forward and dx bits as one, and
 * the two widths the same bits as each other (every output is one FMA
 * chain in the same order). */
static void conv_fast_matches_reference(void)
{
    /* n, c, h, w, k, kh, kw, stride, pad */
    static const int cases[][9] = {
        {3, 5, 32, 32, 7, 3, 3, 1, 1}, {2, 4, 16, 16, 13, 3, 3, 1, 1},
        {2, 3, 3, 16, 5, 3, 3, 1, 1},  {3, 6, 8, 8, 25, 3, 3, 1, 1},
        {2, 8, 4, 4, 6, 1, 1, 1, 0},   {2, 8, 5, 3, 6, 1, 1, 1, 0},
        {2, 3, 9, 11, 4, 5, 5, 1, 2},  {3, 3, 10, 10, 4, 3, 3, 2, 1},
        {2, 2, 1, 40, 3, 1, 3, 1, 1},  {2, 3, 3, 8, 5, 3, 3, 1, 1},
        {1, 2, 5, 24, 3, 3, 3, 1, 1},  {2, 3, 32, 32, 5, 3, 3, 2, 1},
        {1, 2, 16, 16, 3, 3, 3, 2, 1}, {2, 4, 8, 8, 5, 1, 1, 2, 0},
        {2, 3, 6, 12, 20, 3, 3, 1, 1}, {1, 2, 4, 20, 9, 3, 3, 1, 1},
        {2, 3, 8, 8, 1, 3, 3, 1, 1},   {2, 8, 3, 8, 6, 1, 1, 1, 0},
        {2, 4, 5, 5, 12, 3, 3, 1, 1},
    };
    qs_gemm_backend saved = qs_gemm_get_backend();
    const qs_kpath top = top_path();
    if (top < QS_KPATH_AVX2)
        printf("    (kernel path %s: no direct kernels, generic vs generic)\n",
               qs_kpath_name(top));
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const int *q = cases[t];
        conv_ctx c;
        T_CHECK(conv_setup(&c, q[0], q[1], q[2], q[3], q[4], q[5], q[6],
                           q[7], q[8], 0) == 0,
                "case %zu: %s", t, msg);
        size_t xl = xlen(&c.s), yl = ylen(&c.s);
        size_t wl = (size_t)q[4] * q[1] * q[5] * q[6];
        const size_t len[3] = {yl, xl, wl};
        const char *what[3] = {"y", "dx", "dweight"};
        float *ref[3], *first[3] = {NULL, NULL, NULL};
        int p0 = top < QS_KPATH_AVX2 ? (int)top : QS_KPATH_AVX2;
        for (int v = -1; v <= 2 * ((int)top - p0) + 1; v++) {
            /* v -1: naive reference on the generic path; then per vector
             * path p (avx2, avx512): 1 thread, 2 threads, BLAS backend */
            const qs_kpath p = v < 0 ? QS_KPATH_GENERIC : (qs_kpath)(p0 + v / 2);
            const int nt = v < 0 ? 1 : 1 + v % 2;
            float *o[3] = {fbuf(yl), fbuf(xl), fbuf(wl)};
            qs_simd_set_path(p);
            qs_gemm_set_backend(v < 0 ? QS_GEMM_NAIVE : QS_GEMM_BLAS);
            qs_set_threads(nt);
            fill(o[0], yl, 1e6f, 2e6f); /* forward must overwrite */
            qs_conv2d_forward(o[0], c.x, c.w, NULL, &c.s, c.scratch);
            qs_conv2d_backward(o[1], o[2], NULL, c.r, c.x, c.w, &c.s,
                               c.scratch, 1);
            qs_set_threads(1);
            qs_gemm_set_backend(saved);
            qs_simd_set_path(QS_KPATH_COUNT);
            if (v < 0) {
                for (int j = 0; j < 3; j++)
                    ref[j] = o[j];
                continue;
            }
            const char *pn = qs_kpath_name(p);
            for (int j = 0; j < 3; j++) {
                double mx = 0.0;
                for (size_t i = 0; i < len[j]; i++)
                    mx = fmax(mx, fabs(ref[j][i]));
                /* the thread shares of dweight are summed in another order */
                double tol = j == 2 && nt > 1 ? 2e-5 : 1e-5;
                for (size_t i = 0; i < len[j]; i++)
                    T_CHECK(fabs(o[j][i] - ref[j][i]) <= tol * mx + 1e-6,
                            "case %zu %s %d threads %s[%zu] %.7g, reference %.7g",
                            t, pn, nt, what[j], i, o[j][i], ref[j][i]);
            }
            if (!first[0]) { /* avx2, 1 thread: what every run must give */
                for (int j = 0; j < 3; j++)
                    first[j] = o[j];
                continue;
            }
            /* y and dx: the same bits at any thread count and width;
             * dweight at any width (2 threads add their shares) */
            for (int j = 0; j < 3; j++)
                T_CHECK((j == 2 && nt > 1) ||
                            memcmp(o[j], first[j], len[j] * sizeof(float)) == 0,
                        "case %zu: %s on %s, %d threads, differs from avx2 on 1",
                        t, what[j], pn, nt);
        }
        arena_free();
    }
}

/* ---- depthwise conv ---------------------------------------------------- */

typedef struct {
    qs_conv_shape s;
    float *x, *w, *y, *r;
} dw_ctx;

static double dw_loss(void *p)
{
    dw_ctx *c = p;
    qs_dwconv_forward(c->y, c->x, c->w, &c->s);
    return dot(c->y, c->r, ylen(&c->s));
}

static int dw_setup(dw_ctx *c, int n, int ch, int h, int w, int kh, int kw,
                    int stride, int pad)
{
    if (qs_conv_shape_init(&c->s, n, ch, h, w, ch, kh, kw, stride, pad)) {
        snprintf(msg, sizeof msg, "shape init failed");
        return 1;
    }
    c->x = rbuf(xlen(&c->s), -1.0f, 1.0f);
    c->w = rbuf((size_t)ch * kh * kw, -1.0f, 1.0f);
    c->y = fbuf(ylen(&c->s));
    c->r = rbuf(ylen(&c->s), -1.0f, 1.0f);
    return 0;
}

static double dw_naive_err(const float *y, const float *x, const float *w,
                           const qs_conv_shape *s)
{
    double worst = 0.0;
    for (int n = 0; n < s->n; n++)
        for (int c = 0; c < s->c; c++)
            for (int oh = 0; oh < s->ho; oh++)
                for (int ow = 0; ow < s->wo; ow++) {
                    double acc = 0.0, mag = 0.0;
                    for (int i = 0; i < s->kh; i++)
                        for (int j = 0; j < s->kw; j++) {
                            int ih = oh * s->stride - s->pad + i;
                            int iw = ow * s->stride - s->pad + j;
                            if (ih < 0 || ih >= s->h || iw < 0 || iw >= s->w)
                                continue;
                            double t = (double)w[(c * s->kh + i) * s->kw + j] *
                                       x[((n * s->c + c) * s->h + ih) * s->w +
                                         iw];
                            acc += t;
                            mag += fabs(t);
                        }
                    double got =
                        y[((n * s->c + c) * s->ho + oh) * s->wo + ow];
                    double e = fabs(got - acc) / (mag + 1e-30);
                    if (mag == 0.0)
                        e = fabs(got);
                    if (e > worst)
                        worst = e;
                }
    return worst;
}

static int dw_gradcheck(int n, int ch, int h, int w, int kh, int kw,
                        int stride, int pad)
{
    dw_ctx c;
    if (dw_setup(&c, n, ch, h, w, kh, kw, stride, pad))
        return 1;
    size_t wl = (size_t)ch * kh * kw;
    float *dx = fbuf(xlen(&c.s)), *dw = fbuf(wl);
    dw_loss(&c);
    qs_dwconv_backward(dx, dw, c.r, c.x, c.w, &c.s);
    return grad_check("dx", dw_loss, &c, c.x, dx, xlen(&c.s), 1e-2f, RTOL,
                      ATOL) ||
           grad_check("dweight", dw_loss, &c, c.w, dw, wl, 1e-2f, RTOL, ATOL);
}

static void dwconv_grad_s1(void)
{
    /* w = 9 puts 7 interior columns through the 3x3 fast path */
    T_CHECK(dw_gradcheck(2, 3, 6, 9, 3, 3, 1, 1) == 0, "%s", msg);
}
static void dwconv_grad_s2(void)
{
    T_CHECK(dw_gradcheck(2, 3, 7, 9, 3, 3, 2, 1) == 0, "%s", msg);
}
static void dwconv_grad_other_kernels(void)
{
    T_CHECK(dw_gradcheck(1, 2, 7, 6, 5, 5, 1, 2) == 0, "5x5 p2: %s", msg);
    T_CHECK(dw_gradcheck(1, 2, 7, 8, 3, 3, 1, 0) == 0, "3x3 p0: %s", msg);
    /* 81 taps: more than one chunk of tap accumulators */
    T_CHECK(dw_gradcheck(1, 2, 10, 9, 9, 9, 1, 4) == 0, "9x9 p4: %s", msg);
}

/* Images narrower or shorter than the kernel window, where the interior
 * fast paths are empty and only border code runs. */
static void dwconv_grad_narrow(void)
{
    /* n, c, h, w, kh, kw, stride, pad */
    static const int cases[][8] = {
        {1, 2, 1, 1, 3, 3, 1, 1}, {1, 2, 2, 3, 3, 3, 1, 1},
        {1, 2, 3, 2, 3, 3, 1, 1}, {1, 2, 4, 5, 3, 3, 1, 2},
        {1, 2, 3, 3, 3, 3, 1, 0}, {1, 2, 2, 2, 3, 3, 2, 1},
        {1, 2, 5, 4, 3, 3, 1, 3},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const int *q = cases[t];
        T_CHECK(dw_gradcheck(q[0], q[1], q[2], q[3], q[4], q[5], q[6],
                             q[7]) == 0,
                "case %zu: %s", t, msg);
    }
}

static void dwconv_forward_matches_naive(void)
{
    /* n, c, h, w, kh, kw, stride, pad */
    static const int cases[][8] = {
        {2, 3, 6, 9, 3, 3, 1, 1},   {2, 3, 7, 9, 3, 3, 2, 1},
        {1, 2, 7, 6, 5, 5, 1, 2},   {1, 2, 7, 8, 3, 3, 1, 0},
        {1, 2, 10, 9, 9, 9, 1, 4},  {1, 4, 1, 1, 3, 3, 1, 1},
        {1, 3, 2, 3, 3, 3, 1, 1},   {2, 5, 16, 19, 3, 3, 1, 1},
        {1, 3, 13, 17, 3, 3, 2, 1}, {1, 2, 5, 5, 1, 1, 1, 0},
        {1, 2, 9, 11, 7, 7, 2, 3},  {1, 2, 6, 6, 3, 3, 1, 2},
        {1, 2, 5, 4, 3, 3, 1, 3},   {1, 2, 2, 3, 3, 3, 1, 1},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const int *q = cases[t];
        dw_ctx c;
        T_CHECK(dw_setup(&c, q[0], q[1], q[2], q[3], q[4], q[5], q[6],
                         q[7]) == 0,
                "case %zu: %s", t, msg);
        fill(c.y, ylen(&c.s), 1e6f, 2e6f);
        qs_dwconv_forward(c.y, c.x, c.w, &c.s);
        double e = dw_naive_err(c.y, c.x, c.w, &c.s);
        T_CHECK(e < 1e-5, "case %zu: relative error %.3g", t, e);
    }
}

static void dwconv_accumulate_and_null(void)
{
    dw_ctx c;
    T_CHECK(dw_setup(&c, 2, 3, 6, 9, 3, 3, 1, 1) == 0, "%s", msg);
    size_t xl = xlen(&c.s), wl = 3 * 9;
    float *dx1 = fbuf(xl), *dw1 = fbuf(wl), *dx2 = fbuf(xl), *dw2 = fbuf(wl);
    float *dw3 = fbuf(wl);
    qs_dwconv_backward(dx1, dw1, c.r, c.x, c.w, &c.s);
    qs_dwconv_backward(dx2, dw2, c.r, c.x, c.w, &c.s);
    qs_dwconv_backward(dx2, dw2, c.r, c.x, c.w, &c.s);
    for (size_t i = 0; i < xl; i++)
        T_CHECK(T_CLOSE(dx2[i], 2 * dx1[i], 1e-5, 1e-6),
                "dx[%zu] %g vs 2 x %g", i, dx2[i], dx1[i]);
    for (size_t i = 0; i < wl; i++)
        T_CHECK(T_CLOSE(dw2[i], 2 * dw1[i], 1e-5, 1e-6),
                "dweight[%zu] %g vs 2 x %g", i, dw2[i], dw1[i]);
    qs_dwconv_backward(NULL, dw3, c.r, c.x, c.w, &c.s);
    T_CHECK(memcmp(dw3, dw1, wl * sizeof(float)) == 0,
            "NULL dx changed dweight");
}

/* ---- batch norm -------------------------------------------------------- */

typedef struct {
    int n, c, hw;
    float *x, *g, *b, *y, *r, *sm, *si, *rm, *rv;
} bn_ctx;

static double bn_loss(void *p)
{
    bn_ctx *c = p;
    qs_bn_forward_train(c->y, c->sm, c->si, c->rm, c->rv, c->x, c->g, c->b,
                        c->n, c->c, c->hw, 0.1f, 1e-5f);
    return dot(c->y, c->r, (size_t)c->n * c->c * c->hw);
}

static void bn_setup(bn_ctx *c, int n, int ch, int hw)
{
    size_t len = (size_t)n * ch * hw;
    c->n = n;
    c->c = ch;
    c->hw = hw;
    c->x = rbuf(len, -1.0f, 1.5f);
    c->g = rbuf(ch, 0.5f, 1.5f);
    c->b = rbuf(ch, -0.5f, 0.5f);
    c->y = fbuf(len);
    c->r = rbuf(len, -1.0f, 1.0f);
    c->sm = fbuf(ch);
    c->si = fbuf(ch);
    c->rm = fbuf(ch);
    c->rv = fbuf(ch);
}

static void bn_grad_train(void)
{
    bn_ctx c;
    bn_setup(&c, 3, 2, 5);
    size_t len = 3 * 2 * 5;
    float *dx = fbuf(len), *dg = fbuf(2), *db = fbuf(2);
    bn_loss(&c);
    qs_bn_backward(dx, dg, db, c.r, c.x, c.sm, c.si, c.g, c.n, c.c, c.hw, 1);
    T_CHECK(grad_check("dx", bn_loss, &c, c.x, dx, len, 5e-3f, RTOL, ATOL) ==
                0,
            "%s", msg);
    T_CHECK(grad_check("dgamma", bn_loss, &c, c.g, dg, 2, 5e-3f, RTOL,
                       ATOL) == 0,
            "%s", msg);
    T_CHECK(grad_check("dbeta", bn_loss, &c, c.b, db, 2, 5e-3f, RTOL,
                       ATOL) == 0,
            "%s", msg);
}

/* n = 2, c = 2, hw = 3, hand-computed. Channel 0 holds 1..6: mean 3.5,
 * biased var 35/12, unbiased 3.5. Channel 1 holds 0,0,0,0,0,6: mean 1,
 * biased var 5, unbiased 6. */
static void bn_running_stats(void)
{
    const float x[12] = {1, 2, 3, 0, 0, 0, 4, 5, 6, 0, 0, 6};
    const float g[2] = {2.0f, 0.5f}, b[2] = {1.0f, -1.0f};
    float y[12], sm[2], si[2], rm[2] = {0.0f, 2.0f}, rv[2] = {1.0f, 1.0f};
    qs_bn_forward_train(y, sm, si, rm, rv, x, g, b, 2, 2, 3, 0.1f, 1e-5f);
    T_CHECK(fabsf(sm[0] - 3.5f) < 1e-6f && fabsf(sm[1] - 1.0f) < 1e-6f,
            "save_mean %g %g", sm[0], sm[1]);
    double i0 = 1.0 / sqrt(35.0 / 12.0 + 1e-5), i1 = 1.0 / sqrt(5.0 + 1e-5);
    T_CHECK(T_CLOSE(si[0], i0, 1e-6, 0) && T_CLOSE(si[1], i1, 1e-6, 0),
            "save_invstd %g %g, want %g %g", si[0], si[1], i0, i1);
    /* run = 0.9 run + 0.1 batch, unbiased variance */
    T_CHECK(T_CLOSE(rm[0], 0.35, 1e-6, 0) && T_CLOSE(rm[1], 1.9, 1e-6, 0),
            "run_mean %g %g, want 0.35 1.9", rm[0], rm[1]);
    T_CHECK(T_CLOSE(rv[0], 1.25, 1e-6, 0) && T_CLOSE(rv[1], 1.5, 1e-6, 0),
            "run_var %g %g, want 1.25 1.5", rv[0], rv[1]);
    for (int i = 0; i < 12; i++) {
        int ch = (i / 3) % 2;
        double inv = ch ? i1 : i0, mean = ch ? 1.0 : 3.5;
        double want = (x[i] - mean) * inv * g[ch] + b[ch];
        T_CHECK(T_CLOSE(y[i], want, 1e-5, 1e-6), "y[%d] %g want %g", i, y[i],
                want);
    }
}

static void bn_eval_formula(void)
{
    bn_ctx c;
    bn_setup(&c, 2, 3, 4);
    fill(c.rm, 3, -1.0f, 1.0f);
    fill(c.rv, 3, 0.5f, 2.0f);
    qs_bn_forward_eval(c.y, c.x, c.g, c.b, c.rm, c.rv, 2, 3, 4, 1e-5f);
    for (int i = 0; i < 24; i++) {
        int ch = (i / 4) % 3;
        double want = (c.x[i] - c.rm[ch]) / sqrt(c.rv[ch] + 1e-5) * c.g[ch] +
                      c.b[ch];
        T_CHECK(T_CLOSE(c.y[i], want, 1e-5, 1e-6), "y[%d] %g want %g", i,
                c.y[i], want);
    }
    /* in place gives the same values */
    float *z = copy(c.x, 24);
    qs_bn_forward_eval(z, z, c.g, c.b, c.rm, c.rv, 2, 3, 4, 1e-5f);
    T_CHECK(memcmp(z, c.y, sizeof(float) * 24) == 0, "in-place eval BN");
}

/* A large common offset must not cost precision (mean 1000, std ~1). */
static void bn_large_mean(void)
{
    bn_ctx c;
    bn_setup(&c, 4, 1, 16);
    for (int i = 0; i < 64; i++)
        c.x[i] += 1000.0f;
    bn_loss(&c);
    double s = 0, ss = 0;
    for (int i = 0; i < 64; i++) {
        double v = (c.y[i] - c.b[0]) / c.g[0];
        s += v;
        ss += v * v;
    }
    T_CHECK(fabs(s / 64) < 1e-4 && fabs(ss / 64 - 1.0) < 1e-3,
            "normalised mean %g, var %g", s / 64, ss / 64);
}

static void bn_accumulate_and_null(void)
{
    bn_ctx c;
    bn_setup(&c, 3, 2, 5);
    size_t len = 30;
    bn_loss(&c);
    float *dx1 = fbuf(len), *dg1 = fbuf(2), *db1 = fbuf(2);
    float *dx2 = fbuf(len), *dg2 = fbuf(2), *db2 = fbuf(2);
    float *dg3 = fbuf(2), *db3 = fbuf(2);
    qs_bn_backward(dx1, dg1, db1, c.r, c.x, c.sm, c.si, c.g, 3, 2, 5, 1);
    qs_bn_backward(dx2, dg2, db2, c.r, c.x, c.sm, c.si, c.g, 3, 2, 5, 1);
    qs_bn_backward(dx2, dg2, db2, c.r, c.x, c.sm, c.si, c.g, 3, 2, 5, 1);
    for (size_t i = 0; i < len; i++)
        T_CHECK(T_CLOSE(dx2[i], 2 * dx1[i], 1e-5, 1e-6),
                "dx[%zu] %g vs 2 x %g", i, dx2[i], dx1[i]);
    for (int i = 0; i < 2; i++)
        T_CHECK(T_CLOSE(dg2[i], 2 * dg1[i], 1e-5, 1e-6) &&
                    T_CLOSE(db2[i], 2 * db1[i], 1e-5, 1e-6),
                "dgamma/dbeta[%d] not doubled", i);
    qs_bn_backward(NULL, dg3, db3, c.r, c.x, c.sm, c.si, c.g, 3, 2, 5, 1);
    T_CHECK(memcmp(dg3, dg1, sizeof(float) * 2) == 0 &&
                memcmp(db3, db1, sizeof(float) * 2) == 0,
            "NULL dx changed dgamma/dbeta");
}

/* ---- relu, add, gap ---------------------------------------------------- */

typedef struct {
    size_t len;
    float *x, *y, *r;
} relu_ctx;

static double relu_loss(void *p)
{
    relu_ctx *c = p;
    qs_relu_forward(c->y, c->x, c->len);
    return dot(c->y, c->r, c->len);
}

static void relu_grad(void)
{
    relu_ctx c = {.len = 37};
    c.x = rbuf(c.len, 0.05f, 1.0f);
    /* keep every input at least 0.05 from the kink at 0 (h is 1e-2) */
    for (size_t i = 0; i < c.len; i += 2)
        c.x[i] = -c.x[i];
    c.y = fbuf(c.len);
    c.r = rbuf(c.len, -1.0f, 1.0f);
    float *dx = fbuf(c.len), *dx2 = fbuf(c.len);
    relu_loss(&c);
    qs_relu_backward(dx, c.r, c.y, c.len, 1);
    T_CHECK(grad_check("dx", relu_loss, &c, c.x, dx, c.len, 1e-2f, RTOL,
                       ATOL) == 0,
            "%s", msg);
    qs_relu_backward(dx2, c.r, c.y, c.len, 1);
    qs_relu_backward(dx2, c.r, c.y, c.len, 1);
    for (size_t i = 0; i < c.len; i++)
        T_CHECK(dx2[i] == 2 * dx[i], "dx[%zu] not doubled", i);
    qs_relu_backward(NULL, c.r, c.y, c.len, 1);
    /* in place, and a NaN passes through so divergence stays visible */
    c.x[3] = NAN;
    float *z = copy(c.x, c.len);
    qs_relu_forward(z, z, c.len);
    qs_relu_forward(c.y, c.x, c.len);
    T_CHECK(isnan(z[3]) && isnan(c.y[3]), "NaN swallowed by relu");
    for (size_t i = 0; i < c.len; i++)
        if (i != 3)
            T_CHECK(z[i] == c.y[i] && z[i] == (c.x[i] > 0 ? c.x[i] : 0.0f),
                    "relu[%zu] %g (in place %g) for x %g", i, c.y[i], z[i],
                    c.x[i]);
}

typedef struct {
    size_t len;
    float *a, *b, *y, *r;
} add_ctx;

static double add_loss(void *p)
{
    add_ctx *c = p;
    qs_add_forward(c->y, c->a, c->b, 0.5f, c->len);
    return dot(c->y, c->r, c->len);
}

static void add_grad_half(void)
{
    add_ctx c = {.len = 23};
    c.a = rbuf(c.len, -1.0f, 1.0f);
    c.b = rbuf(c.len, -1.0f, 1.0f);
    c.y = fbuf(c.len);
    c.r = rbuf(c.len, -1.0f, 1.0f);
    float *da = fbuf(c.len), *db = fbuf(c.len), *da2 = fbuf(c.len);
    add_loss(&c);
    qs_add_backward(da, db, c.r, 0.5f, c.len, 1, 1);
    T_CHECK(grad_check("da", add_loss, &c, c.a, da, c.len, 1e-2f, RTOL,
                       ATOL) == 0,
            "%s", msg);
    T_CHECK(grad_check("db", add_loss, &c, c.b, db, c.len, 1e-2f, RTOL,
                       ATOL) == 0,
            "%s", msg);
    qs_add_backward(da2, NULL, c.r, 0.5f, c.len, 1, 1);
    qs_add_backward(da2, NULL, c.r, 0.5f, c.len, 1, 1);
    for (size_t i = 0; i < c.len; i++)
        T_CHECK(da2[i] == 2 * da[i], "da[%zu] not doubled", i);
    qs_add_backward(NULL, NULL, c.r, 0.5f, c.len, 1, 1);
    /* in place on either operand equals the out-of-place result (c.y is
     * recomputed: grad_check leaves the last perturbed forward in it) */
    add_loss(&c);
    float *ya = copy(c.a, c.len), *yb = copy(c.b, c.len), *yy = copy(c.a, c.len);
    qs_add_forward(ya, ya, c.b, 0.5f, c.len);
    qs_add_forward(yb, c.a, yb, 0.5f, c.len);
    qs_add_forward(yy, yy, yy, 0.5f, c.len);
    for (size_t i = 0; i < c.len; i++) {
        T_CHECK(ya[i] == c.y[i] && yb[i] == c.y[i], "in-place add [%zu]", i);
        T_CHECK(yy[i] == c.a[i], "y = (y + y) / 2 [%zu]", i);
    }
    float *y1 = fbuf(c.len), *z1 = copy(c.b, c.len);
    qs_add_forward(y1, c.a, c.b, 1.0f, c.len);
    qs_add_forward(z1, c.a, z1, 1.0f, c.len);
    for (size_t i = 0; i < c.len; i++)
        T_CHECK(y1[i] == c.a[i] + c.b[i] && z1[i] == y1[i],
                "scale 1 add [%zu]", i);
}

typedef struct {
    int n, c, hw;
    float *x, *y, *r;
} gap_ctx;

static double gap_loss(void *p)
{
    gap_ctx *c = p;
    qs_gap_forward(c->y, c->x, c->n, c->c, c->hw);
    return dot(c->y, c->r, (size_t)c->n * c->c);
}

static void gap_grad(void)
{
    gap_ctx c = {.n = 2, .c = 3, .hw = 7};
    size_t len = 42;
    c.x = rbuf(len, -1.0f, 1.0f);
    c.y = fbuf(6);
    c.r = rbuf(6, -1.0f, 1.0f);
    float *dx = fbuf(len), *dx2 = fbuf(len);
    gap_loss(&c);
    for (int p = 0; p < 6; p++) {
        double s = 0;
        for (int j = 0; j < 7; j++)
            s += c.x[p * 7 + j];
        T_CHECK(T_CLOSE(c.y[p], s / 7, 1e-6, 1e-7), "mean[%d]", p);
    }
    qs_gap_backward(dx, c.r, 2, 3, 7);
    T_CHECK(grad_check("dx", gap_loss, &c, c.x, dx, len, 1e-2f, RTOL,
                       1e-4) == 0,
            "%s", msg);
    qs_gap_backward(dx2, c.r, 2, 3, 7);
    qs_gap_backward(dx2, c.r, 2, 3, 7);
    for (size_t i = 0; i < len; i++)
        T_CHECK(dx2[i] == 2 * dx[i], "dx[%zu] not doubled", i);
    qs_gap_backward(NULL, c.r, 2, 3, 7);
}

/* ---- linear ------------------------------------------------------------ */

typedef struct {
    int n, in, out;
    float *x, *w, *b, *y, *r;
} lin_ctx;

static double lin_loss(void *p)
{
    lin_ctx *c = p;
    qs_linear_forward(c->y, c->x, c->w, c->b, c->n, c->in, c->out);
    return dot(c->y, c->r, (size_t)c->n * c->out);
}

static void linear_grad(void)
{
    lin_ctx c = {.n = 3, .in = 7, .out = 5};
    size_t xl = 21, wl = 35, yl = 15;
    c.x = rbuf(xl, -1.0f, 1.0f);
    c.w = rbuf(wl, -1.0f, 1.0f);
    c.b = rbuf(5, -1.0f, 1.0f);
    c.y = fbuf(yl);
    c.r = rbuf(yl, -1.0f, 1.0f);
    float *dx = fbuf(xl), *dw = fbuf(wl), *db = fbuf(5);
    lin_loss(&c);
    /* y = x W^T + b against a direct loop */
    for (int i = 0; i < 3; i++)
        for (int o = 0; o < 5; o++) {
            double s = c.b[o];
            for (int j = 0; j < 7; j++)
                s += (double)c.x[i * 7 + j] * c.w[o * 7 + j];
            T_CHECK(T_CLOSE(c.y[i * 5 + o], s, 1e-5, 1e-6), "y[%d,%d]", i, o);
        }
    qs_linear_backward(dx, dw, db, c.r, c.x, c.w, 3, 7, 5);
    T_CHECK(grad_check("dx", lin_loss, &c, c.x, dx, xl, 1e-2f, RTOL, ATOL) ==
                0,
            "%s", msg);
    T_CHECK(grad_check("dweight", lin_loss, &c, c.w, dw, wl, 1e-2f, RTOL,
                       ATOL) == 0,
            "%s", msg);
    T_CHECK(grad_check("dbias", lin_loss, &c, c.b, db, 5, 1e-2f, RTOL,
                       ATOL) == 0,
            "%s", msg);
}

static void linear_accumulate_and_null(void)
{
    lin_ctx c = {.n = 3, .in = 7, .out = 5};
    c.x = rbuf(21, -1.0f, 1.0f);
    c.w = rbuf(35, -1.0f, 1.0f);
    c.r = rbuf(15, -1.0f, 1.0f);
    float *dx1 = fbuf(21), *dw1 = fbuf(35), *db1 = fbuf(5);
    float *dx2 = fbuf(21), *dw2 = fbuf(35), *db2 = fbuf(5);
    float *dw3 = fbuf(35);
    qs_linear_backward(dx1, dw1, db1, c.r, c.x, c.w, 3, 7, 5);
    qs_linear_backward(dx2, dw2, db2, c.r, c.x, c.w, 3, 7, 5);
    qs_linear_backward(dx2, dw2, db2, c.r, c.x, c.w, 3, 7, 5);
    for (int i = 0; i < 21; i++)
        T_CHECK(T_CLOSE(dx2[i], 2 * dx1[i], 1e-5, 1e-6), "dx[%d]", i);
    for (int i = 0; i < 35; i++)
        T_CHECK(T_CLOSE(dw2[i], 2 * dw1[i], 1e-5, 1e-6), "dweight[%d]", i);
    for (int i = 0; i < 5; i++)
        T_CHECK(T_CLOSE(db2[i], 2 * db1[i], 1e-5, 1e-6), "dbias[%d]", i);
    qs_linear_backward(NULL, dw3, NULL, c.r, c.x, c.w, 3, 7, 5);
    T_CHECK(memcmp(dw3, dw1, sizeof(float) * 35) == 0,
            "NULL dx / dbias changed dweight");
}

/* ---- softmax cross-entropy --------------------------------------------- */

typedef struct {
    int n, classes;
    float *z;
    const int *labels;
} xent_ctx;

static double xent_loss(void *p)
{
    xent_ctx *c = p;
    return qs_softmax_xent(NULL, NULL, c->z, c->labels, c->n, c->classes,
                           1.0f);
}

static void softmax_xent_grad(void)
{
    static const int labels[4] = {0, 6, 3, 3};
    xent_ctx c = {.n = 4, .classes = 7, .labels = labels};
    c.z = rbuf(28, -3.0f, 3.0f);
    float *d = fbuf(28);
    fill(d, 28, 5.0f, 6.0f);   /* dlogits is set, not accumulated */
    int correct = -1;
    double loss = qs_softmax_xent(d, &correct, c.z, labels, 4, 7, 0.25f);
    T_CHECK(loss > 0 && isfinite(loss), "loss %g", loss);
    T_CHECK(correct >= 0 && correct <= 4, "correct %d", correct);
    T_CHECK(grad_check("dlogits", xent_loss, &c, c.z, d, 28, 1e-2f, RTOL,
                       1e-4) == 0,
            "%s", msg);
    for (int i = 0; i < 4; i++) {
        double s = 0;
        for (int j = 0; j < 7; j++)
            s += d[i * 7 + j];
        T_CHECK(fabs(s) < 1e-6, "row %d of dlogits sums to %g", i, s);
    }
}

typedef struct {
    xent_ctx x;
    double eps;
} xent_ls_ctx;

static double xent_ls_loss(void *p)
{
    xent_ls_ctx *c = p;
    return qs_softmax_xent_ls(NULL, NULL, c->x.z, c->x.labels, c->x.n, c->x.classes, 1.0f,
                              c->eps);
}

/* Label smoothing (PyTorch's definition): the gradient of the smoothed loss
 * by finite differences, its closed form on uniform logits, and eps = 0
 * giving the plain loss bit for bit. */
static void softmax_xent_label_smoothing(void)
{
    static const int labels[4] = {2, 0, 6, 2};
    xent_ls_ctx c = {{.n = 4, .classes = 7, .labels = labels}, 0.1};
    c.x.z = rbuf(28, -3.0f, 3.0f);
    float *d = fbuf(28);
    double loss = qs_softmax_xent_ls(d, NULL, c.x.z, labels, 4, 7, 0.25f, c.eps);
    double plain = qs_softmax_xent(NULL, NULL, c.x.z, labels, 4, 7, 0.25f);
    T_CHECK(isfinite(loss) && loss != plain, "smoothed loss %g, plain %g", loss, plain);
    T_CHECK(grad_check("dlogits (eps 0.1)", xent_ls_loss, &c, c.x.z, d, 28, 1e-2f, RTOL,
                       1e-4) == 0,
            "%s", msg);
    for (int i = 0; i < 4; i++) {
        double s = 0;
        for (int j = 0; j < 7; j++)
            s += d[i * 7 + j];
        T_CHECK(fabs(s) < 1e-6, "row %d of smoothed dlogits sums to %g", i, s);
    }
    c.eps = 0.6;
    qs_softmax_xent_ls(d, NULL, c.x.z, labels, 4, 7, 0.25f, c.eps);
    T_CHECK(grad_check("dlogits (eps 0.6)", xent_ls_loss, &c, c.x.z, d, 28, 1e-2f, RTOL,
                       1e-4) == 0,
            "%s", msg);

    /* Uniform logits: p = 1/K whatever eps, so loss log K; dlogits
     * (1/K - t) with t_y = 1 - eps + eps/K, t_j = eps/K. */
    float z[5] = {0}, du[5];
    int y = 3;
    loss = qs_softmax_xent_ls(du, NULL, z, &y, 1, 5, 1.0f, 0.2);
    T_CHECK(fabs(loss - log(5.0)) < 1e-6, "uniform smoothed loss %.9g", loss);
    T_CHECK(fabsf(du[3] - (0.2f - (0.8f + 0.04f))) < 1e-6f && fabsf(du[0] - (0.2f - 0.04f)) < 1e-6f,
            "uniform smoothed dlogits %g %g", du[0], du[3]);
    /* One confident row: loss = lse - (1 - eps) z_y - eps/K sum z. */
    float zc[3] = {2.0f, -1.0f, 0.5f};
    int yc = 0;
    double lse = log(exp(2.0) + exp(-1.0) + exp(0.5));
    loss = qs_softmax_xent_ls(NULL, NULL, zc, &yc, 1, 3, 1.0f, 0.3);
    double want = lse - 0.7 * 2.0 - 0.1 * 1.5;
    T_CHECK(fabs(loss - want) < 1e-9, "smoothed loss %.12g want %.12g", loss, want);

    /* eps = 0 is the plain loss and gradient, bit for bit. */
    float *d0 = fbuf(28), *d1 = fbuf(28);
    double l0 = qs_softmax_xent(d0, NULL, c.x.z, labels, 4, 7, 0.25f);
    double l1 = qs_softmax_xent_ls(d1, NULL, c.x.z, labels, 4, 7, 0.25f, 0.0);
    T_CHECK(l0 == l1 && memcmp(d0, d1, 28 * sizeof *d0) == 0, "eps 0 differs from plain");
}

static void softmax_xent_values(void)
{
    /* uniform logits: loss log(classes), gradient (1/C - onehot) scale */
    float z[10] = {0};
    int lab[2] = {1, 4};
    float d[10];
    double loss = qs_softmax_xent(d, NULL, z, lab, 2, 5, 0.5f);
    T_CHECK(fabs(loss - log(5.0)) < 1e-6, "uniform loss %.9g", loss);
    T_CHECK(fabsf(d[1] - (0.2f - 1.0f) * 0.5f) < 1e-7f &&
                fabsf(d[0] - 0.1f) < 1e-7f,
            "uniform dlogits %g %g", d[0], d[1]);

    /* large logits: the max shift keeps exp finite */
    float big[3] = {1000.0f, 1001.0f, 999.0f};
    int l1 = 1;
    float db[3];
    loss = qs_softmax_xent(db, NULL, big, &l1, 1, 3, 1.0f);
    double want = log(1.0 + exp(-1.0) + exp(-2.0));
    T_CHECK(fabs(loss - want) < 1e-6, "large-logit loss %.9g want %.9g",
            loss, want);
    T_CHECK(isfinite(db[0]) && isfinite(db[1]) && isfinite(db[2]),
            "large-logit gradient not finite");
    float neg[3] = {-1000.0f, -1001.0f, -999.0f};
    int l2 = 0;
    loss = qs_softmax_xent(NULL, NULL, neg, &l2, 1, 3, 1.0f);
    want = log(exp(-1.0) + exp(-2.0) + 1.0) + 1.0;
    T_CHECK(fabs(loss - want) < 1e-6, "very negative logits %.9g want %.9g",
            loss, want);

    /* argmax ties go to the lowest index */
    float tie[8] = {2, 5, 5, 1, 3, 3, 3, 3};
    int lt[2] = {1, 0};
    int correct = -1;
    qs_softmax_xent(NULL, &correct, tie, lt, 2, 4, 1.0f);
    T_CHECK(correct == 2, "ties: %d correct, want 2", correct);
    int lt2[2] = {2, 1};
    qs_softmax_xent(NULL, &correct, tie, lt2, 2, 4, 1.0f);
    T_CHECK(correct == 0, "ties: %d correct, want 0", correct);
}

/* The elementwise passes (ReLU, add, PACT) split a long array over the
 * threads: two threads must give the bits of one, PACT's clip gradient
 * included, at a length that is not a multiple of the cut (16), of PACT's
 * blocks or of the loop steps. */
static void elementwise_threads_match(void)
{
    const size_t n = ((size_t)1 << 18) + 7;
    float *x = rbuf(n, -1.0f, 1.0f), *b = rbuf(n, -1.0f, 1.0f);
    float *dy = rbuf(n, -1.0f, 1.0f);
    float *o[2][8];
    double da[2];
    for (int v = 0; v < 2; v++) {
        qs_set_threads(v ? 2 : 1);
        for (int j = 0; j < 8; j++)
            o[v][j] = copy(x, n);
        qs_pact_forward(o[v][6], x, n, 0.6f, 2);
        da[v] = qs_pact_backward(o[v][7], dy, x, n, 0.6f);
        qs_relu_forward(o[v][0], x, n);           /* copy */
        qs_relu_forward(o[v][1], o[v][1], n);     /* in place */
        qs_relu_backward(o[v][2], dy, o[v][0], n, 1);
        qs_add_forward(o[v][3], o[v][3], b, 0.5f, n);
        qs_add_backward(o[v][4], o[v][5], dy, 0.7f, n, 1, 1);
        qs_par_zero(o[v][5] + 3, n - 5);
    }
    qs_set_threads(1);
    for (int j = 0; j < 8; j++)
        T_CHECK(memcmp(o[0][j], o[1][j], n * sizeof(float)) == 0,
                "output %d differs between 1 and 2 threads", j);
    T_CHECK(da[0] == da[1], "PACT clip gradient %.17g on 2 threads, %.17g on 1",
            da[1], da[0]);
    T_CHECK(o[1][5][2] != 0.0f && o[1][5][3] == 0.0f &&
                o[1][5][n - 3] == 0.0f && o[1][5][n - 2] != 0.0f,
            "qs_par_zero: wrong span zeroed");
}

/* Depthwise conv splits channels over the threads: two threads must give
 * the bits of one (forward, dx, dweight), on the 3x3 stride-1 pad-1 vector
 * planes and the scalar loops; on each vector path this CPU runs
 * (dwconv_k.h at VL 16 and 8: rows of 11, 8, 37 = 2 x 16 + 5 = 4 x 8 + 5,
 * 6, 16 and 3 wide reach full pieces and tails of both widths), against the
 * scalar loops (the generic path) to rounding; y and dx are the same bits
 * at both widths. */
static void dwconv_threads_match(void)
{
    /* n, c, h, w, kh, kw, stride, pad */
    static const int cases[][8] = {{3, 7, 9, 11, 3, 3, 1, 1},
                                   {2, 5, 8, 8, 3, 3, 2, 1},
                                   {2, 3, 7, 6, 5, 5, 1, 2},
                                   {2, 4, 5, 37, 3, 3, 1, 1},
                                   {9, 3, 8, 8, 3, 3, 1, 1},
                                   {2, 3, 4, 16, 3, 3, 1, 1},
                                   {3, 2, 6, 6, 3, 3, 1, 1},
                                   {2, 3, 5, 3, 3, 3, 1, 1}};
    const qs_kpath top = top_path();
    const int p0 = top < QS_KPATH_AVX2 ? (int)top : QS_KPATH_AVX2;
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const int *q = cases[t];
        dw_ctx c;
        T_CHECK(dw_setup(&c, q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7]) ==
                    0,
                "case %zu: %s", t, msg);
        size_t xl = xlen(&c.s), yl = ylen(&c.s), wl = (size_t)q[1] * q[4] * q[5];
        const size_t len[3] = {yl, xl, wl};
        float *ys = fbuf(yl), *dxs = fbuf(xl), *dws = fbuf(wl);
        qs_simd_set_path(QS_KPATH_GENERIC); /* the scalar loops */
        qs_dwconv_forward(ys, c.x, c.w, &c.s);
        qs_dwconv_backward(dxs, dws, c.r, c.x, c.w, &c.s);
        const float *ref[3] = {ys, dxs, dws}, *first[3] = {NULL, NULL, NULL};
        for (int p = p0; p <= (int)top; p++) {
            float *y[2], *dx[2], *dw[2];
            qs_simd_set_path((qs_kpath)p);
            for (int v = 0; v < 2; v++) {
                qs_set_threads(v ? 2 : 1);
                y[v] = fbuf(yl);
                dx[v] = fbuf(xl);
                dw[v] = fbuf(wl);
                qs_dwconv_forward(y[v], c.x, c.w, &c.s);
                qs_dwconv_backward(dx[v], dw[v], c.r, c.x, c.w, &c.s);
            }
            qs_set_threads(1);
            qs_simd_set_path(QS_KPATH_COUNT);
            const char *pn = qs_kpath_name((qs_kpath)p);
            T_CHECK(memcmp(y[0], y[1], yl * sizeof(float)) == 0 &&
                        memcmp(dx[0], dx[1], xl * sizeof(float)) == 0 &&
                        memcmp(dw[0], dw[1], wl * sizeof(float)) == 0,
                    "case %zu %s: outputs differ between 1 and 2 threads", t, pn);
            const float *got[3] = {y[0], dx[0], dw[0]};
            for (int o = 0; o < 3; o++) {
                double mx = 0.0;
                for (size_t i = 0; i < len[o]; i++)
                    mx = fmax(mx, fabs(ref[o][i]));
                for (size_t i = 0; i < len[o]; i++)
                    T_CHECK(fabs(got[o][i] - ref[o][i]) <= 1e-5 * mx,
                            "case %zu %s output %d [%zu]: %.7g, scalar path %.7g",
                            t, pn, o, i, got[o][i], ref[o][i]);
            }
            if (!first[0])
                for (int o = 0; o < 3; o++)
                    first[o] = got[o];
            else
                T_CHECK(memcmp(got[0], first[0], yl * sizeof(float)) == 0 &&
                            memcmp(got[1], first[1], xl * sizeof(float)) == 0,
                        "case %zu: y or dx differ between avx2 and %s", t, pn);
        }
        qs_simd_set_path(QS_KPATH_COUNT);
        arena_free();
    }
}

/* acc 0 (the first writer of a gradient buffer, which the model no longer
 * zeroes) must give what acc 1 gives on a zeroed buffer, whatever the
 * buffer held: conv (stride 1 and 2, so every dx path), BN, ReLU and the
 * residual add, including an add whose two inputs share a buffer. */
static int same_values(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(a[i] == b[i]))
            return 0;
    return 1;
}

static void backward_overwrite_matches(void)
{
    for (int st = 1; st <= 2; st++) {
        conv_ctx c;
        T_CHECK(conv_setup(&c, 2, 3, 9, 8, 4, 3, 3, st, 1, 1) == 0, "%s", msg);
        size_t xl = xlen(&c.s), wl = 4 * 3 * 9;
        float *d0 = fbuf(xl), *d1 = rbuf(xl, 1e6f, 2e6f);
        float *w0 = fbuf(wl), *w1 = fbuf(wl), *b0 = fbuf(4), *b1 = fbuf(4);
        qs_conv2d_backward(d0, w0, b0, c.r, c.x, c.w, &c.s, c.scratch, 1);
        qs_conv2d_backward(d1, w1, b1, c.r, c.x, c.w, &c.s, c.scratch, 0);
        T_CHECK(same_values(d0, d1, xl), "conv stride %d: dx differs", st);
        T_CHECK(same_values(w0, w1, wl) && same_values(b0, b1, 4),
                "conv stride %d: acc changed the parameter gradients", st);
    }
    const int n = 3, ch = 5, hw = 7;
    const size_t len = (size_t)n * ch * hw;
    float *x = rbuf(len, -1.0f, 1.0f), *dy = rbuf(len, -1.0f, 1.0f);
    float *g = rbuf(ch, 0.5f, 1.5f), *be = rbuf(ch, -0.5f, 0.5f);
    float *y = fbuf(len), *sm = fbuf(ch), *si = fbuf(ch), *rm = fbuf(ch);
    float *rv = fbuf(ch);
    qs_bn_forward_train(y, sm, si, rm, rv, x, g, be, n, ch, hw, 0.1f, 1e-5f);
    float *d0 = fbuf(len), *d1 = rbuf(len, -3e5f, 3e5f);
    float *dg0 = fbuf(ch), *dg1 = fbuf(ch), *db0 = fbuf(ch), *db1 = fbuf(ch);
    qs_bn_backward(d0, dg0, db0, dy, x, sm, si, g, n, ch, hw, 1);
    qs_bn_backward(d1, dg1, db1, dy, x, sm, si, g, n, ch, hw, 0);
    T_CHECK(same_values(d0, d1, len) && same_values(dg0, dg1, ch) &&
                same_values(db0, db1, ch),
            "batch norm: overwrite differs");
    float *r0 = fbuf(len), *r1 = rbuf(len, 7.0f, 8.0f);
    qs_relu_backward(r0, dy, x, len, 1);
    qs_relu_backward(r1, dy, x, len, 0);
    T_CHECK(same_values(r0, r1, len), "relu: overwrite differs");
    float *a0 = fbuf(len), *a1 = rbuf(len, 7.0f, 8.0f);
    float *e0 = rbuf(len, -1.0f, 1.0f), *e1 = copy(e0, len);
    qs_add_backward(a0, e0, dy, 0.5f, len, 1, 1);
    qs_add_backward(a1, e1, dy, 0.5f, len, 0, 1);
    T_CHECK(same_values(a0, a1, len) && same_values(e0, e1, len),
            "add: overwrite of da differs (or db changed)");
    float *s0 = fbuf(len), *s1 = rbuf(len, 7.0f, 8.0f);
    qs_add_backward(s0, s0, dy, 0.5f, len, 1, 1);
    qs_add_backward(s1, s1, dy, 0.5f, len, 0, 1);
    T_CHECK(same_values(s0, s1, len), "add into one shared buffer differs");
}

/* ---- driver ------------------------------------------------------------ */

static const struct {
    const char *name;
    void (*fn)(void);
} cases[] = {
#define C(f) {#f, f}
    C(conv_shape_init_checks),
    C(conv_forward_matches_naive),
    C(conv_grad_3x3_s1_p1),
    C(conv_grad_3x3_s2_p1),
    C(conv_grad_1x1_s1),
    C(conv_grad_1x1_s2),
    C(conv_grad_odd_shapes),
    C(conv_accumulate_and_null),
    C(backward_overwrite_matches),
    C(dwconv_forward_matches_naive),
    C(dwconv_grad_s1),
    C(dwconv_grad_s2),
    C(dwconv_grad_other_kernels),
    C(dwconv_grad_narrow),
    C(dwconv_accumulate_and_null),
    C(bn_grad_train),
    C(bn_running_stats),
    C(bn_eval_formula),
    C(bn_large_mean),
    C(bn_accumulate_and_null),
    C(relu_grad),
    C(add_grad_half),
    C(gap_grad),
    C(linear_grad),
    C(linear_accumulate_and_null),
    C(softmax_xent_grad),
    C(softmax_xent_values),
    C(softmax_xent_label_smoothing),
#undef C
};

/* ---- vector paths ------------------------------------------------------- */

/* BN's AVX2 paths against its scalar ones, bit for bit: forward (train and
 * eval, copy and in place) and backward, ragged plane sizes, a channel
 * mean far from zero. */
static void bn_pass(float *out[8], const float *x, const float *dy,
                    const float *g, const float *b, int n, int c, int hw)
{
    size_t len = (size_t)n * c * hw;
    float *y = out[0], *sm = out[1], *si = out[2], *rm = out[3], *rv = out[4];
    float *dx = out[5], *dg = out[6], *ye = out[7];
    for (int i = 0; i < c; i++)
        rm[i] = 0.1f * i, rv[i] = 1.0f + i;
    qs_bn_forward_train(y, sm, si, rm, rv, x, g, b, n, c, hw, 0.1f, 1e-5f);
    for (size_t i = 0; i < len; i++)
        dx[i] = 0.5f;
    qs_bn_backward(dx, dg, dg + c, dy, x, sm, si, g, n, c, hw, 1);
    memcpy(ye, x, len * sizeof *ye);
    qs_bn_forward_eval(ye, ye, g, b, rm, rv, n, c, hw, 1e-5f);
}

static void test_bn_simd_matches_scalar(void)
{
    const int n = 3, c = 5, hws[] = {1, 4, 37, 64, 1031};
    for (unsigned k = 0; k < sizeof hws / sizeof *hws; k++) {
        int hw = hws[k];
        size_t len = (size_t)n * c * hw;
        float *x = rbuf(len, 90.0f, 110.0f), *dy = rbuf(len, -1.0f, 1.0f);
        float *g = rbuf((size_t)c, 0.5f, 1.5f), *b = rbuf((size_t)c, -1.0f, 1.0f);
        size_t sz[8] = {len, (size_t)c, (size_t)c, (size_t)c, (size_t)c, len,
                        2 * (size_t)c, len};
        float *o[2][8];
        for (int v = 0; v < 2; v++) {
            for (int j = 0; j < 8; j++)
                o[v][j] = fbuf(sz[j]);
            qs_simd_set_path(v ? QS_KPATH_COUNT : QS_KPATH_GENERIC);
            bn_pass(o[v], x, dy, g, b, n, c, hw);
        }
        qs_simd_set_path(QS_KPATH_COUNT);
        for (int j = 0; j < 8; j++)
            T_CHECK(memcmp(o[0][j], o[1][j], sz[j] * sizeof(float)) == 0,
                    "hw %d: output %d differs between the scalar and vector paths", hw, j);
        arena_free();
    }
}

int main(void)
{
    static char names[2][sizeof cases / sizeof cases[0]][96];
    const char *tag[2] = {"naive", "blas"};
    const qs_gemm_backend be[2] = {QS_GEMM_NAIVE, QS_GEMM_BLAS};
    qs_set_threads(1);   /* tiny products; keep the test deterministic */
    for (int b = 0; b < 2; b++) {
        qs_gemm_set_backend(be[b]);
        qs_rng_seed(&rng, 12345);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            snprintf(names[b][i], sizeof names[b][i], "%s/%s", cases[i].name,
                     tag[b]);
            t_run(names[b][i], cases[i].fn);
            arena_free();
        }
    }
    T_RUN(test_bn_simd_matches_scalar);
    T_RUN(conv_fast_matches_reference);
    arena_free();
    T_RUN(elementwise_threads_match);
    arena_free();
    T_RUN(dwconv_threads_match);
    arena_free();
    T_EXIT();
}
