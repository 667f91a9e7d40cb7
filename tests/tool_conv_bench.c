/* Per-layer speed of the 3x3 stride-1 convs of the CIFAR ResNets, Winograd
 * against the direct kernels (docs/kernels.md, "Winograd F(2x2, 3x3)"):
 *
 *   make build/tests/tool_conv_bench && build/tests/tool_conv_bench [threads [c side batch]]
 *   build/tests/tool_conv_bench 1x1   (the 1x1 convs of depthwise-38 k32,
 *                                      beside OpenBLAS sgemm on the same
 *                                      GEMMs, 1 thread)
 *
 * Batch 128 (or the one given, for one shape c = k, side x side), random
 * data, best of 3 calls each; GFLOP/s counted as the
 * direct conv's 2 n c k 9 h w, so the two columns compare time. Not a
 * test (never run by make test): speed is measured here, not checked. */
#include "convk.h"
#include "gemm.h"
#include "layers.h"
#include "par.h"
#include "simd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* The expand / project 1x1 convs of depthwise-38 k32 (hidden 6 x the
 * width), forward and dx + dweight, and qs_sgemm on the same GEMMs per
 * image (y = W x; dW += dy x^T). */
static int bench_1x1(void)
{
    static const int sh[][3] = {{32, 192, 32}, {192, 32, 32}, {64, 384, 16},
                                {384, 64, 16}, {128, 768, 8}, {768, 128, 8}};
    const int n = 128;
    printf("c -> k  image  fwd  bwd(dx+dW)  sgemm fwd  sgemm dW   (GFLOP/s)\n");
    for (size_t q = 0; q < sizeof sh / sizeof sh[0]; q++) {
        const int c = sh[q][0], k = sh[q][1], hw = sh[q][2], p = hw * hw;
        qs_conv_shape s;
        qs_conv_shape_init(&s, n, c, hw, hw, k, 1, 1, 1, 0);
        const size_t xl = (size_t)n * c * p, yl = (size_t)n * k * p;
        float *x = malloc(xl * 4), *y = malloc(yl * 4), *dx = malloc(xl * 4),
              *w = malloc((size_t)c * k * 4), *dw = calloc((size_t)c * k, 4),
              *scr = malloc(qs_conv2d_scratch(&s) * 4);
        if (!x || !y || !dx || !w || !dw || !scr) {
            fprintf(stderr, "tool_conv_bench: out of memory\n");
            return 1;
        }
        for (size_t i = 0; i < xl; i++)
            x[i] = (float)rand() / RAND_MAX - 0.5f;
        for (size_t i = 0; i < yl; i++)
            y[i] = (float)rand() / RAND_MAX - 0.5f;
        for (int i = 0; i < c * k; i++)
            w[i] = (float)rand() / RAND_MAX - 0.5f;
        double b[4] = {1e30, 1e30, 1e30, 1e30};
        for (int r = 0; r < 3; r++) {
            double t[5];
            t[0] = now();
            qs_conv2d_forward(y, x, w, NULL, &s, scr);
            t[1] = now();
            qs_conv2d_backward(dx, dw, NULL, y, x, w, &s, scr, 0);
            t[2] = now();
            for (int i = 0; i < n; i++)
                qs_sgemm(0, 0, k, p, c, 1.0f, w, c, x + (size_t)i * c * p, p,
                         0.0f, y + (size_t)i * k * p, p);
            t[3] = now();
            for (int i = 0; i < n; i++)
                qs_sgemm(0, 1, k, c, p, 1.0f, y + (size_t)i * k * p, p,
                         x + (size_t)i * c * p, p, 1.0f, dw, c);
            t[4] = now();
            for (int j = 0; j < 4; j++)
                if (t[j + 1] - t[j] < b[j])
                    b[j] = t[j + 1] - t[j];
        }
        const double gf = 2.0 * n * c * k * p / 1e9;
        printf("%3d -> %3d %2dx%-2d %6.1f %8.1f %10.1f %9.1f\n", c, k, hw, hw,
               gf / b[0], 2 * gf / b[1], gf / b[2], gf / b[3]);
        free(x);
        free(y);
        free(dx);
        free(w);
        free(dw);
        free(scr);
    }
    return 0;
}

int main(int argc, char **argv)
{
    /* channels (c = k), image side */
    static int sh[][2] = {{10, 32}, {20, 16}, {40, 8},  {16, 32},
                          {32, 16}, {64, 8},  {31, 32}, {62, 16},
                          {124, 8}};
    size_t nsh = sizeof sh / sizeof sh[0];
    int n = 128;
    if (argc > 1 && !strcmp(argv[1], "1x1")) {
        qs_set_threads(1);
        printf("kernels %s, BLAS %s core %s, 1 thread, batch 128\n",
               qs_kpath_name(qs_simd_path()), qs_blas_name(), qs_blas_core());
        return bench_1x1();
    }
    const int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (argc > 4) {
        sh[0][0] = atoi(argv[2]);
        sh[0][1] = atoi(argv[3]);
        n = atoi(argv[4]);
        nsh = 1;
    }
    if (threads < 1 || n < 1 || sh[0][0] < 1 || sh[0][1] < 3) {
        fprintf(stderr, "usage: tool_conv_bench [threads [c side batch]]\n");
        return 2;
    }
    if (!qs_convk_available()) {
        fprintf(stderr, "tool_conv_bench: kernel path %s has no direct kernels\n",
                qs_kpath_name(qs_simd_path()));
        return 2;
    }
    qs_set_threads(threads);
    printf("kernels %s, BLAS %s core %s, %d thread(s), batch %d\n",
           qs_kpath_name(qs_simd_path()), qs_blas_name(), qs_blas_core(),
           threads, n);
    printf("c=k  image  fwd direct  fwd wino       dW direct  dW wino   (GFLOP/s)\n");
    for (size_t q = 0; q < nsh; q++) {
        const int c = sh[q][0], hw = sh[q][1];
        qs_conv_shape s;
        qs_conv_shape_init(&s, n, c, hw, hw, c, 3, 3, 1, 1);
        const size_t xl = (size_t)n * c * hw * hw, wl = (size_t)c * c * 9;
        size_t sc = qs_conv2d_scratch(&s);
        float *x = malloc(xl * 4), *y = malloc(xl * 4), *w = malloc(wl * 4),
              *dw = calloc(wl, 4), *scr = malloc(sc * 4);
        if (!x || !y || !w || !dw || !scr) {
            fprintf(stderr, "tool_conv_bench: out of memory\n");
            return 1;
        }
        for (size_t i = 0; i < xl; i++)
            y[i] = x[i] = (float)rand() / RAND_MAX - 0.5f;
        for (size_t i = 0; i < wl; i++)
            w[i] = (float)rand() / RAND_MAX - 0.5f;
        double best[2][2];
        for (int on = 0; on < 2; on++) {
            qs_convk_set_winograd(on);
            best[on][0] = best[on][1] = 1e30;
            for (int r = 0; r < 3; r++) {
                double t0 = now();
                qs_convk_conv(y, x, w, &s, 0, 0, scr);
                double t1 = now();
                qs_convk_dweight(dw, y, x, &s, scr);
                double t2 = now();
                if (t1 - t0 < best[on][0])
                    best[on][0] = t1 - t0;
                if (t2 - t1 < best[on][1])
                    best[on][1] = t2 - t1;
            }
        }
        const double gf = 2.0 * n * hw * hw * c * c * 9 / 1e9;
        printf("%4d %2dx%-2d %9.1f %9.1f (%.2fx) %9.1f %9.1f (%.2fx)\n", c, hw, hw,
               gf / best[0][0], gf / best[1][0], best[0][0] / best[1][0],
               gf / best[0][1], gf / best[1][1], best[0][1] / best[1][1]);
        free(x);
        free(y);
        free(w);
        free(dw);
        free(scr);
    }
    return 0;
}
