/* Per-layer speed of the 3x3 stride-1 convs of the CIFAR ResNets, Winograd
 * against the direct kernels (docs/kernels.md, "Winograd F(2x2, 3x3)"):
 *
 *   make build/tests/tool_conv_bench && build/tests/tool_conv_bench [threads [c side batch]]
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
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    /* channels (c = k), image side */
    static int sh[][2] = {{10, 32}, {20, 16}, {40, 8},  {16, 32},
                          {32, 16}, {64, 8},  {31, 32}, {62, 16},
                          {124, 8}};
    size_t nsh = sizeof sh / sizeof sh[0];
    int n = 128;
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
