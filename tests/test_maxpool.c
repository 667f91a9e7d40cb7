/* Max pool and ReLU6 (core/nn/layers_imnet.h): forward and backward against
 * naive references written from PyTorch's definition (padding -inf, first
 * maximum in row-major window order wins ties), a hand-worked example, a
 * finite-difference gradient check on tie-free inputs, and the acc / set
 * conventions. */
#include <string.h>

#include "layers_imnet.h"
#include "par.h"
#include "rng.h"
#include "tharness.h"

static qs_rng rng;

/* Naive max pool over the padded image: every window position, padding as
 * -inf, strict ">" so the first maximum stays. Also returns the argmax
 * (plane index) of every output in am. */
static void naive_pool(float *y, int *am, const float *x, int n, int c, int h, int w,
                       int k, int stride, int pad, int ho, int wo)
{
    for (int p = 0; p < n * c; p++)
        for (int oh = 0; oh < ho; oh++)
            for (int ow = 0; ow < wo; ow++) {
                float m = -INFINITY;
                int arg = -1;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) {
                        int ih = oh * stride - pad + i, iw = ow * stride - pad + j;
                        float v = (ih < 0 || ih >= h || iw < 0 || iw >= w)
                                      ? -INFINITY : x[(size_t)p * h * w + ih * w + iw];
                        if (v > m) {
                            m = v;
                            arg = ih * w + iw;
                        }
                    }
                y[((size_t)p * ho + oh) * wo + ow] = m;
                am[((size_t)p * ho + oh) * wo + ow] = arg;
            }
}

static const struct { int n, c, h, w, k, stride, pad; } shapes[] = {
    {2, 3, 9, 7, 3, 2, 1},   /* the ResNet stem pool, odd sizes */
    {1, 2, 8, 8, 3, 2, 1},
    {2, 2, 6, 5, 2, 2, 0},
    {1, 3, 7, 7, 3, 1, 1},   /* stride 1: windows overlap heavily */
    {1, 1, 5, 6, 5, 3, 2},
};

/* Values from a small set, so ties are common and the tie rule is tested. */
static void test_forward_backward_vs_naive(void)
{
    for (int threads = 1; threads <= 2; threads++) {
        qs_par_set_threads(threads);
        for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
            qs_conv_shape s;
            T_CHECK(qs_conv_shape_init(&s, shapes[t].n, shapes[t].c, shapes[t].h, shapes[t].w,
                                       shapes[t].c, shapes[t].k, shapes[t].k, shapes[t].stride,
                                       shapes[t].pad) == 0, "shape %zu", t);
            size_t xl = (size_t)s.n * s.c * s.h * s.w, yl = (size_t)s.n * s.c * s.ho * s.wo;
            float x[xl], y[yl], yr[yl], dy[yl], dx[xl], dxr[xl];
            int am[yl];
            for (size_t i = 0; i < xl; i++)
                x[i] = (float)((int)qs_rng_below(&rng, 5) - 3); /* -3..1: negatives near pads */
            for (size_t i = 0; i < yl; i++)
                dy[i] = (float)qs_rng_uniform(&rng) - 0.5f;
            T_CHECK(qs_maxpool_forward(y, x, &s) == 0, "forward refused shape %zu", t);
            naive_pool(yr, am, x, s.n, s.c, s.h, s.w, shapes[t].k, s.stride, s.pad, s.ho, s.wo);
            T_CHECK(memcmp(y, yr, sizeof y) == 0, "shape %zu: forward differs from naive", t);
            memset(dxr, 0, sizeof dxr);
            for (size_t o = 0; o < yl; o++) {
                size_t plane = o / ((size_t)s.ho * s.wo);
                dxr[plane * s.h * s.w + am[o]] += dy[o];
            }
            for (size_t i = 0; i < xl; i++)
                dx[i] = 99.0f; /* acc 0 must not read it */
            qs_maxpool_backward(dx, dy, x, &s, 0);
            for (size_t i = 0; i < xl; i++)
                T_CHECK(fabsf(dx[i] - dxr[i]) <= 1e-6f, "shape %zu dx[%zu] %g want %g", t, i,
                        dx[i], dxr[i]);
            qs_maxpool_backward(dx, dy, x, &s, 1); /* acc 1 adds: 2x */
            for (size_t i = 0; i < xl; i++)
                T_CHECK(fabsf(dx[i] - 2 * dxr[i]) <= 1e-5f, "shape %zu acc dx[%zu]", t, i);
        }
    }
    qs_par_set_threads(1);
}

/* 3x3 stride 2 pad 1 on a 4x4 plane, worked by hand. The window at (0, 0)
 * covers rows/cols -1..1, i.e. x[0..1][0..1]; a tie between x[0][1] and
 * x[1][0] must go to x[0][1] (first in row-major order). */
static void test_hand_example(void)
{
    float x[16] = { -5, 7, 1, 2,
                     7, -1, 3, 9,
                     0, 4, -2, 8,
                    -3, 6, 5, -4 };
    qs_conv_shape s;
    T_CHECK(qs_conv_shape_init(&s, 1, 1, 4, 4, 1, 3, 3, 2, 1) == 0 && s.ho == 2 && s.wo == 2,
            "shape %dx%d", s.ho, s.wo);
    float y[4], dy[4] = {1, 10, 100, 1000}, dx[16];
    T_CHECK(qs_maxpool_forward(y, x, &s) == 0, "forward");
    const float want[4] = {7, 9, 7, 9};
    for (int i = 0; i < 4; i++)
        T_CHECK(y[i] == want[i], "y[%d] = %g want %g", i, y[i], want[i]);
    qs_maxpool_backward(dx, dy, x, &s, 0);
    /* (0,0) -> x[0][1] (the tie); (0,1) and (1,1) both -> x[1][3] (9);
     * (1,0) covers rows 1..3 only, so there x[1][0] is the first 7 */
    float dw[16] = {0};
    dw[1] = 1;
    dw[7] = 10 + 1000;
    dw[4] = 100;
    for (int i = 0; i < 16; i++)
        T_CHECK(dx[i] == dw[i], "dx[%d] = %g want %g", i, dx[i], dw[i]);
    /* all-negative plane: padding (-inf) never wins */
    for (int i = 0; i < 16; i++)
        x[i] = -100.0f - i;
    qs_maxpool_forward(y, x, &s);
    T_CHECK(y[0] == -100.0f && y[3] == -105.0f, "negative plane: %g %g", y[0], y[3]);
    /* a NaN propagates */
    x[5] = NAN;
    qs_maxpool_forward(y, x, &s);
    T_CHECK(y[0] != y[0], "NaN did not propagate: %g", y[0]);
    /* pad > k / 2 is refused */
    qs_conv_shape bad;
    qs_conv_shape_init(&bad, 1, 1, 4, 4, 1, 3, 3, 1, 2);
    T_CHECK(qs_maxpool_forward(y, x, &bad) == -1, "pad 2 with k 3 accepted");
}

/* L = sum(y r); tie-free input: a shuffled ramp, values 0.05 apart, so a
 * step of 1e-3 never changes an argmax and the derivative is exact. */
static void test_gradcheck(void)
{
    qs_conv_shape s;
    qs_conv_shape_init(&s, 2, 2, 7, 6, 2, 3, 3, 2, 1);
    enum { XL = 2 * 2 * 7 * 6 };
    size_t yl = (size_t)s.n * s.c * s.ho * s.wo;
    float x[XL], y[yl], r[yl], dx[XL];
    for (int i = 0; i < XL; i++)
        x[i] = 0.05f * i - 2.0f;
    for (int i = XL - 1; i > 0; i--) {
        int j = (int)qs_rng_below(&rng, (uint32_t)(i + 1));
        float t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
    for (size_t i = 0; i < yl; i++)
        r[i] = (float)qs_rng_uniform(&rng) * 2 - 1;
    qs_maxpool_forward(y, x, &s);
    qs_maxpool_backward(dx, r, x, &s, 0);
    int nonzero = 0;
    for (int i = 0; i < XL; i++) {
        const float h = 1e-3f, v = x[i];
        double lp = 0, lm = 0;
        x[i] = v + h;
        qs_maxpool_forward(y, x, &s);
        for (size_t o = 0; o < yl; o++)
            lp += (double)y[o] * r[o];
        x[i] = v - h;
        qs_maxpool_forward(y, x, &s);
        for (size_t o = 0; o < yl; o++)
            lm += (double)y[o] * r[o];
        x[i] = v;
        double num = (lp - lm) / ((double)(v + h) - (double)(v - h));
        T_CHECK(T_CLOSE(dx[i], num, 1e-3, 1e-4), "dx[%d]: analytic %g numeric %g", i, dx[i], num);
        nonzero += dx[i] != 0;
    }
    T_CHECK(nonzero > 5, "only %d inputs got a gradient", nonzero);
}

static void test_relu6(void)
{
    enum { N = 1000 };
    float x[N], y[N], dy[N], dx[N];
    for (int i = 0; i < N; i++) {
        x[i] = (float)qs_rng_uniform(&rng) * 16 - 5; /* -5..11 */
        dy[i] = (float)qs_rng_uniform(&rng) - 0.5f;
    }
    x[0] = 0.0f;
    x[1] = 6.0f;
    x[2] = NAN;
    qs_relu6_forward(y, x, N);
    T_CHECK(y[2] != y[2], "NaN did not pass through");
    for (int i = 3; i < N; i++) {
        float want = x[i] < 0 ? 0 : x[i] > 6 ? 6 : x[i];
        T_CHECK(y[i] == want, "y[%d] %g want %g", i, y[i], want);
    }
    qs_relu6_backward(dx, dy, y, N, 0);
    T_CHECK(dx[0] == 0 && dx[1] == 0, "clip points get gradient %g %g", dx[0], dx[1]);
    for (int i = 3; i < N; i++) {
        float want = (x[i] > 0 && x[i] < 6) ? dy[i] : 0;
        T_CHECK(dx[i] == want, "dx[%d] %g want %g (x %g)", i, dx[i], want, x[i]);
    }
    qs_relu6_backward(dx, dy, y, N, 1);
    for (int i = 3; i < N; i++)
        T_CHECK(dx[i] == 2 * ((x[i] > 0 && x[i] < 6) ? dy[i] : 0), "acc dx[%d]", i);
    /* in place: y over x */
    memcpy(y, x, sizeof x);
    qs_relu6_forward(y, y, N);
    T_CHECK(y[N - 1] == (x[N - 1] < 0 ? 0 : x[N - 1] > 6 ? 6 : x[N - 1]), "in place");
}

int main(void)
{
    qs_rng_seed(&rng, 11);
    T_RUN(test_forward_backward_vs_naive);
    T_RUN(test_hand_example);
    T_RUN(test_gradcheck);
    T_RUN(test_relu6);
    T_EXIT();
}
