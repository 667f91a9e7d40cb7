/* Convolution: finite-difference gradient checks, forward passes against
 * naive loops, the accumulate / NULL-dx conventions of layers.h, the direct
 * kernels against the reference, and backward passes that overwrite (the
 * shared engine: layer_check.h). */
#include "layer_check.h"

#include "convk.h"

/* ---- conv2d ------------------------------------------------------------ */

typedef struct {
    qs_conv_shape s;
    float *x, *w, *b, *y, *r, *scratch;
} conv_ctx;

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
/* 3x3 stride 1 with 16 channels each way: forward, dx and dweight all
 * take the Winograd path on the vector kernel paths */
static void conv_grad_winograd(void)
{
    T_CHECK(conv_gradcheck(2, 16, 8, 8, 16, 3, 3, 1, 1) == 0, "%s", msg);
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
        /* Winograd F(2x2, 3x3) on the vector paths (c >= 8) */
        {2, 16, 8, 16, 12, 3, 3, 1, 1, 1}, {1, 64, 8, 8, 64, 3, 3, 1, 1, 0},
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
        arena_free();
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
        /* Winograd F(2x2, 3x3) (c >= 8): tile rows of 16, 8 and 4 tiles,
         * a partial last block (6 x 8), rows of 12 tiles (the lane-by-lane
         * input transform), and dx (k >= 8) through it too */
        {2, 16, 32, 32, 31, 3, 3, 1, 1}, {2, 31, 16, 16, 20, 3, 3, 1, 1},
        {3, 10, 8, 8, 10, 3, 3, 1, 1},   {2, 9, 6, 8, 7, 3, 3, 1, 1},
        {1, 8, 8, 24, 9, 3, 3, 1, 1},
        /* rows of 3 tiles (both transforms lane by lane), 9 tiles */
        {1, 64, 6, 6, 64, 3, 3, 1, 1},
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

/* acc 0 (the first writer of a gradient buffer, which the model no longer
 * zeroes) must give what acc 1 gives on a zeroed buffer, whatever the
 * buffer held: conv (stride 1 and 2, so every dx path), BN, ReLU and the
 * residual add, including an add whose two inputs share a buffer. */
/* Winograd against the direct kernels at the channel counts of the
 * models (qs_convk_set_winograd), every vector path: y, dx and dweight
 * within 1e-5 of the largest value (measured on AVX2: at most 1.8e-6), the
 * same bits at 1 and 2 threads for y and dx, and with the outputs streamed
 * past the cache (qs_stream_set_min) for all three. */
static void conv_winograd_matches_direct(void)
{
    /* n, c, h, w, k */
    static const int cases[][5] = {
        {2, 16, 32, 32, 16}, {2, 32, 16, 16, 31}, {2, 64, 8, 8, 64},
        {3, 20, 16, 16, 20}, {2, 64, 14, 14, 64},
    };
    const qs_kpath top = top_path();
    if (top < QS_KPATH_AVX2) {
        printf("    (kernel path %s: no Winograd)\n", qs_kpath_name(top));
        return;
    }
    double worst = 0.0;
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const int *q = cases[t];
        conv_ctx c;
        T_CHECK(conv_setup(&c, q[0], q[1], q[2], q[3], q[4], 3, 3, 1, 1, 0) ==
                    0,
                "case %zu: %s", t, msg);
        const size_t len[3] = {ylen(&c.s), xlen(&c.s),
                               (size_t)q[4] * q[1] * 9};
        for (int p = QS_KPATH_AVX2; p <= (int)top; p++) {
            /* direct; Winograd at 1 and 2 threads; Winograd streaming its
             * outputs (past the cache: the same values) at 2 threads */
            float *o[4][3];
            qs_simd_set_path((qs_kpath)p);
            for (int v = 0; v < 4; v++) {
                for (int j = 0; j < 3; j++)
                    o[v][j] = fbuf(len[j]);
                qs_convk_set_winograd(v > 0);
                qs_set_threads(v >= 2 ? 2 : 1);
                qs_stream_set_min(v == 3 ? 0 : QS_STREAM_MIN);
                qs_conv2d_forward(o[v][0], c.x, c.w, NULL, &c.s, c.scratch);
                qs_conv2d_backward(o[v][1], o[v][2], NULL, c.r, c.x, c.w,
                                   &c.s, c.scratch, 0);
            }
            qs_set_threads(1);
            qs_stream_set_min(QS_STREAM_MIN);
            qs_convk_set_winograd(-1);
            qs_simd_set_path(QS_KPATH_COUNT);
            for (int j = 0; j < 3; j++) {
                double mx = 0.0, e = 0.0;
                for (size_t i = 0; i < len[j]; i++)
                    mx = fmax(mx, fabs(o[0][j][i]));
                for (size_t i = 0; i < len[j]; i++)
                    e = fmax(e, fabs(o[1][j][i] - o[0][j][i]) / mx);
                worst = fmax(worst, e);
                T_CHECK(e <= 1e-5, "case %zu %s: %s differs from direct by %.3g of max",
                        t, qs_kpath_name((qs_kpath)p), j == 0 ? "y" : j == 1 ? "dx" : "dweight", e);
                T_CHECK(j == 2 || memcmp(o[1][j], o[2][j], len[j] * sizeof(float)) == 0,
                        "case %zu %s: %s differs between 1 and 2 threads", t,
                        qs_kpath_name((qs_kpath)p), j == 0 ? "y" : "dx");
                T_CHECK(memcmp(o[2][j], o[3][j], len[j] * sizeof(float)) == 0,
                        "case %zu %s: %s differs when the outputs are streamed", t,
                        qs_kpath_name((qs_kpath)p), j == 0 ? "y" : j == 1 ? "dx" : "dweight");
            }
        }
        arena_free();
    }
    printf("    (largest Winograd - direct difference: %.3g of the largest value)\n", worst);
}

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
    qs_bn_forward_train(y, sm, si, rm, rv, x, g, be, n, ch, hw, 0.1f, 1e-5f, 0);
    float *d0 = fbuf(len), *d1 = rbuf(len, -3e5f, 3e5f);
    float *dg0 = fbuf(ch), *dg1 = fbuf(ch), *db0 = fbuf(ch), *db1 = fbuf(ch);
    qs_bn_backward(d0, dg0, db0, dy, x, sm, si, g, NULL, n, ch, hw, 1, 0);
    qs_bn_backward(d1, dg1, db1, dy, x, sm, si, g, NULL, n, ch, hw, 0, 0);
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

static const layer_case cases[] = {
#define C(f) {#f, f}
    C(conv_shape_init_checks),
    C(conv_forward_matches_naive),
    C(conv_grad_3x3_s1_p1),
    C(conv_grad_3x3_s2_p1),
    C(conv_grad_1x1_s1),
    C(conv_grad_1x1_s2),
    C(conv_grad_odd_shapes),
    C(conv_grad_winograd),
    C(conv_accumulate_and_null),
    C(backward_overwrite_matches),
#undef C
};

int main(void)
{
    run_layer_cases(cases, sizeof cases / sizeof cases[0]);
    T_RUN(conv_fast_matches_reference);
    T_RUN(conv_winograd_matches_direct);
    arena_free();
    T_EXIT();
}
