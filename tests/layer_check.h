/* Shared by the layer tests (test_layers.c: conv and depthwise;
 * test_layers_nn.c: batch norm, elementwise, linear, loss): a per-case
 * allocation arena, random buffers, the finite-difference engine and the
 * driver that runs every case under both GEMM backends.
 *
 * Gradient checks use L = sum(y * r) for a fixed random r, so dL/dy = r is
 * what backward receives; each sampled coordinate p of a tensor is compared
 * against the central difference (L(p+h) - L(p-h)) / 2h, with L summed in
 * double. */
#ifndef QS_LAYER_CHECK_H
#define QS_LAYER_CHECK_H

#include "gemm.h"
#include "layers.h"
#include "par.h"
#include "quant.h"
#include "rng.h"
#include "simd.h"
#include "tharness.h"

#include <stdint.h>
#include <string.h>

/* ---- per-case allocation arena (a failed T_CHECK returns early) -------- */

#define ARENA_MAX 64
static void *arena[ARENA_MAX];
static int arena_n;

static inline float *fbuf(size_t n)
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

static inline void arena_free(void)
{
    while (arena_n > 0)
        free(arena[--arena_n]);
}

static qs_rng rng;

static inline void fill(float *p, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        p[i] = lo + (hi - lo) * qs_rng_uniform(&rng);
}

static inline float *rbuf(size_t n, float lo, float hi)
{
    float *p = fbuf(n);
    fill(p, n, lo, hi);
    return p;
}

static inline float *copy(const float *src, size_t n)
{
    float *p = fbuf(n);
    memcpy(p, src, n * sizeof(float));
    return p;
}

static inline double dot(const float *a, const float *b, size_t n)
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
static inline int grad_check(const char *what, loss_fn f, void *ctx, float *param,
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

/* Vector paths a test compares with the generic one: avx2 up to the
 * path in use (QSWEEP_KERNELS caps it; the CPU caps that). */
static inline qs_kpath top_path(void)
{
    qs_simd_set_path(QS_KPATH_COUNT);
    return qs_simd_path();
}

static inline size_t xlen(const qs_conv_shape *s)
{
    return (size_t)s->n * s->c * s->h * s->w;
}
static inline size_t ylen(const qs_conv_shape *s)
{
    return (size_t)s->n * s->k * s->ho * s->wo;
}


typedef struct {
    const char *name;
    void (*fn)(void);
} layer_case;

/* Every case under the naive reference GEMM, then OpenBLAS ("name/naive",
 * "name/blas"), from the same seed. */
static inline void run_layer_cases(const layer_case *cases, size_t n)
{
    static char name[96];
    const char *tag[2] = {"naive", "blas"};
    const qs_gemm_backend be[2] = {QS_GEMM_NAIVE, QS_GEMM_BLAS};
    qs_set_threads(1);   /* tiny products; keep the test deterministic */
    for (int b = 0; b < 2; b++) {
        qs_gemm_set_backend(be[b]);
        qs_rng_seed(&rng, 12345);
        for (size_t i = 0; i < n; i++) {
            snprintf(name, sizeof name, "%s/%s", cases[i].name, tag[b]);
            t_run(name, cases[i].fn);
            arena_free();
        }
    }
}

#endif
