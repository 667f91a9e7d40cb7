/* Depthwise convolution: finite-difference gradient checks, forward
 * passes against naive loops, the accumulate / NULL-dx conventions, and
 * thread splits against one thread (the shared engine: layer_check.h). */
#include "layer_check.h"

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
    qs_dwconv_backward(dx, dw, c.r, c.x, c.w, &c.s, 1);
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
    qs_dwconv_backward(dx1, dw1, c.r, c.x, c.w, &c.s, 1);
    qs_dwconv_backward(dx2, dw2, c.r, c.x, c.w, &c.s, 1);
    qs_dwconv_backward(dx2, dw2, c.r, c.x, c.w, &c.s, 1);
    for (size_t i = 0; i < xl; i++)
        T_CHECK(T_CLOSE(dx2[i], 2 * dx1[i], 1e-5, 1e-6),
                "dx[%zu] %g vs 2 x %g", i, dx2[i], dx1[i]);
    for (size_t i = 0; i < wl; i++)
        T_CHECK(T_CLOSE(dw2[i], 2 * dw1[i], 1e-5, 1e-6),
                "dweight[%zu] %g vs 2 x %g", i, dw2[i], dw1[i]);
    qs_dwconv_backward(NULL, dw3, c.r, c.x, c.w, &c.s, 1);
    T_CHECK(memcmp(dw3, dw1, wl * sizeof(float)) == 0,
            "NULL dx changed dweight");
}

/* Depthwise conv splits channels over the threads: two threads must give
 * the bits of one (forward, dx, dweight), on the 3x3 pad-1 vector planes
 * (stride 1 and 2) and the scalar loops; on each vector path this CPU runs
 * (dwconv_k.h at VL 16 and 8: rows of 11, 8, 37 = 2 x 16 + 5 = 4 x 8 + 5,
 * 6, 16 and 3 wide reach full pieces and tails of both widths; at stride
 * 2, inputs 32 and 33 wide give 16 and 17 output columns, 17 gives 9 = 8 +
 * 1, odd and even heights and one- and two-pixel planes reach every phase
 * edge of the interleave), against the scalar loops (the generic path) to
 * rounding; y and dx are the same bits at both widths. */
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
                                   {2, 3, 5, 3, 3, 3, 1, 1},
                                   {2, 3, 7, 9, 3, 3, 2, 1},
                                   {2, 2, 32, 33, 3, 3, 2, 1},
                                   {9, 3, 16, 32, 3, 3, 2, 1},
                                   {3, 2, 17, 17, 3, 3, 2, 1},
                                   {2, 2, 1, 2, 3, 3, 2, 1},
                                   {2, 2, 2, 1, 3, 3, 2, 1}};
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
        qs_dwconv_backward(dxs, dws, c.r, c.x, c.w, &c.s, 1);
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
                qs_dwconv_backward(dx[v], dw[v], c.r, c.x, c.w, &c.s, 1);
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

/* acc 0 (what the model asks of the first writer of a gradient buffer)
 * overwrites dx, whatever it held, with the values acc 1 adds to a zeroed
 * buffer: vector planes (stride 1 and 2) and C loops (a 5x5; a 9x9 takes
 * its 81 taps in two chunks, so a plane is zeroed only before the first),
 * on each path, 1 and 2 threads. Compared with ==: 0 + (-0) is +0. */
static void dwconv_overwrite_matches_zeroed(void)
{
    /* n, c, h, w, kh, kw, stride, pad */
    static const int cases[][8] = {{3, 7, 9, 11, 3, 3, 1, 1},
                                   {2, 5, 9, 8, 3, 3, 2, 1},
                                   {2, 3, 7, 6, 5, 5, 1, 2},
                                   {1, 2, 10, 9, 9, 9, 1, 4}};
    const qs_kpath top = top_path();
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++)
        for (int p = 0; p <= (int)top; p++)
            for (int th = 1; th <= 2; th++) {
                const int *q = cases[t];
                dw_ctx c;
                T_CHECK(dw_setup(&c, q[0], q[1], q[2], q[3], q[4], q[5], q[6],
                                 q[7]) == 0,
                        "case %zu: %s", t, msg);
                const size_t xl = xlen(&c.s), wl = (size_t)q[1] * q[4] * q[5];
                float *dx0 = fbuf(xl), *dw0 = fbuf(wl);
                float *dx1 = rbuf(xl, 1e6f, 2e6f), *dw1 = fbuf(wl);
                qs_simd_set_path((qs_kpath)p);
                qs_set_threads(th);
                qs_dwconv_backward(dx0, dw0, c.r, c.x, c.w, &c.s, 1);
                qs_dwconv_backward(dx1, dw1, c.r, c.x, c.w, &c.s, 0);
                qs_set_threads(1);
                qs_simd_set_path(QS_KPATH_COUNT);
                for (size_t i = 0; i < xl; i++)
                    T_CHECK(dx1[i] == dx0[i],
                            "case %zu %s %d threads: dx[%zu] overwritten %.9g, "
                            "added to zero %.9g",
                            t, qs_kpath_name((qs_kpath)p), th, i, dx1[i], dx0[i]);
                T_CHECK(memcmp(dw0, dw1, wl * sizeof(float)) == 0,
                        "case %zu: dweight changed with acc", t);
                arena_free();
            }
}

/* A depthwise conv's output statistics for the BN after it
 * (qs_dwconv_forward_sums, what a model's training forward does): the BN
 * given them must give the bits of the BN that sums y itself (y, saved and
 * running statistics), on the scalar loops and each vector path, stride 1
 * and 2, a 5x5 (scalar loops on every path), on 1 and 2 threads (8 x 8 x
 * 32 x 32 is above BN's split threshold). */
static void dwconv_bn_sums_match(void)
{
    /* n, c, h, w, kh, kw, stride, pad */
    static const int cases[][8] = {{3, 7, 9, 11, 3, 3, 1, 1},
                                   {2, 5, 8, 8, 3, 3, 2, 1},
                                   {2, 3, 7, 6, 5, 5, 1, 2},
                                   {8, 8, 32, 32, 3, 3, 1, 1}};
    const qs_kpath top = top_path();
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++)
        for (int p = 0; p <= (int)top; p++)
            for (int th = 1; th <= 2; th++) {
                const int *q = cases[t];
                dw_ctx c;
                T_CHECK(dw_setup(&c, q[0], q[1], q[2], q[3], q[4], q[5], q[6],
                                 q[7]) == 0,
                        "case %zu: %s", t, msg);
                const int ch = q[1], hw = c.s.ho * c.s.wo;
                const size_t yl = ylen(&c.s);
                float *g = rbuf((size_t)ch, 0.5f, 1.5f), *b = rbuf((size_t)ch, -1.0f, 1.0f);
                /* [v]: y, bn y, save_mean, save_invstd, run_mean, run_var */
                float *o[2][6];
                double *sums = calloc((size_t)ch * 3, sizeof(double));
                T_CHECK(sums != NULL, "out of memory");
                qs_simd_set_path((qs_kpath)p);
                qs_set_threads(th);
                for (int v = 0; v < 2; v++) {
                    o[v][0] = fbuf(yl);
                    o[v][1] = fbuf(yl);
                    for (int j = 2; j < 6; j++)
                        o[v][j] = fbuf((size_t)ch);
                    for (int k = 0; k < ch; k++)
                        o[v][4][k] = 0.1f * k, o[v][5][k] = 1.0f + k;
                    if (v)
                        qs_dwconv_forward_sums(o[v][0], c.x, c.w, &c.s, sums);
                    else
                        qs_dwconv_forward(o[v][0], c.x, c.w, &c.s);
                    qs_bn_forward_train_sums(o[v][1], o[v][2], o[v][3], o[v][4],
                                             o[v][5], o[v][0], g, b, q[0], ch, hw,
                                             0.1f, 1e-5f, 1, v ? sums : NULL);
                }
                qs_set_threads(1);
                qs_simd_set_path(QS_KPATH_COUNT);
                free(sums);
                for (int j = 0; j < 6; j++)
                    T_CHECK(memcmp(o[0][j], o[1][j],
                                   (j < 2 ? yl : (size_t)ch) * sizeof(float)) == 0,
                            "case %zu %s %d threads: output %d with the conv's "
                            "sums differs from the BN's own",
                            t, qs_kpath_name((qs_kpath)p), th, j);
                arena_free();
            }
}

static const layer_case cases[] = {
#define C(f) {#f, f}
    C(dwconv_forward_matches_naive),
    C(dwconv_grad_s1),
    C(dwconv_grad_s2),
    C(dwconv_grad_other_kernels),
    C(dwconv_grad_narrow),
    C(dwconv_accumulate_and_null),
#undef C
};

int main(void)
{
    run_layer_cases(cases, sizeof cases / sizeof cases[0]);
    T_RUN(dwconv_threads_match);
    T_RUN(dwconv_bn_sums_match);
    T_RUN(dwconv_overwrite_matches_zeroed);
    arena_free();
    T_EXIT();
}
