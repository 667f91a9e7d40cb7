/* Elementwise and pooling layers: ReLU, residual add, global average pool.
 *
 * Loop shape: the build uses -O2, whose vectoriser rejects loops that would
 * need a scalar remainder, so the main loops step by 4 with a fixed inner
 * j-loop (vectorised as one 4-float operation) and a scalar tail follows.
 * Helpers take restrict pointers; aliasing cases get their own helper.
 * The passes over a batch's activations are split over the threads
 * (qs_par_range): memory-bound, but one core alone does not saturate the
 * memory bus, and left serial they were the part of a step that did not
 * scale. */
#include "layers.h"

#include "par.h"

/* "v < 0 ? 0 : v" rather than "v > 0 ? v : 0" so a NaN passes through (as
 * in PyTorch) and divergence stays visible in the loss. */
static void relu_inplace(float *restrict y, size_t len)
{
    size_t i = 0;
    for (; i + 4 <= len; i += 4)
        for (int j = 0; j < 4; j++) {
            float v = y[i + j];
            y[i + j] = v < 0.0f ? 0.0f : v;
        }
    for (; i < len; i++) {
        float v = y[i];
        y[i] = v < 0.0f ? 0.0f : v;
    }
}

static void relu_copy(float *restrict y, const float *restrict x, size_t len)
{
    size_t i = 0;
    for (; i + 4 <= len; i += 4)
        for (int j = 0; j < 4; j++) {
            float v = x[i + j];
            y[i + j] = v < 0.0f ? 0.0f : v;
        }
    for (; i < len; i++) {
        float v = x[i];
        y[i] = v < 0.0f ? 0.0f : v;
    }
}

/* arguments of the elementwise passes, for qs_par_range */
typedef struct {
    float *y, *y2;
    const float *a, *b;
    float scale;
    int acc, acc2; /* backward: add to y / y2 (else overwrite) */
} ew;

static void relu_part(void *ctx, size_t lo, size_t hi)
{
    const ew *e = ctx;
    if (e->y == e->a)
        relu_inplace(e->y + lo, hi - lo);
    else
        relu_copy(e->y + lo, e->a + lo, hi - lo);
}

/* x [len] -> y [len]; y == x is allowed (in place). */
void qs_relu_forward(float *y, const float *x, size_t len)
{
    ew e = {.y = y, .a = x};
    qs_par_range(len, relu_part, &e);
}

/* dx (+)= dy where y > 0 (acc 0: =). dy is loaded unconditionally so the
 * select has no branch. */
static inline __attribute__((always_inline)) void
relu_grad(float *restrict dx, const float *restrict dy,
          const float *restrict y, size_t len, const int acc)
{
    size_t i = 0;
    for (; i + 4 <= len; i += 4)
        for (int j = 0; j < 4; j++) {
            float g = dy[i + j];
            float v = y[i + j] > 0.0f ? g : 0.0f;
            dx[i + j] = acc ? dx[i + j] + v : v;
        }
    for (; i < len; i++) {
        float v = y[i] > 0.0f ? dy[i] : 0.0f;
        dx[i] = acc ? dx[i] + v : v;
    }
}

static void relu_grad_part(void *ctx, size_t lo, size_t hi)
{
    const ew *e = ctx;
    if (e->acc)
        relu_grad(e->y + lo, e->a + lo, e->b + lo, hi - lo, 1);
    else
        relu_grad(e->y + lo, e->a + lo, e->b + lo, hi - lo, 0);
}

/* dy, y [len] (y the forward output); dx [len] (+)= dy where y > 0 (or
 * NULL); acc 0 overwrites dx. */
void qs_relu_backward(float *restrict dx, const float *restrict dy,
                      const float *restrict y, size_t len, int acc)
{
    if (!dx)
        return;
    ew e = {.y = dx, .a = dy, .b = y, .acc = acc};
    qs_par_range(len, relu_grad_part, &e);
}

/* y [len] = (a + b) * scale, y distinct from a and b */
static void add_copy(float *restrict y, const float *restrict a,
                     const float *restrict b, float scale, size_t len)
{
    size_t i = 0;
    for (; i + 4 <= len; i += 4)
        for (int j = 0; j < 4; j++)
            y[i + j] = (a[i + j] + b[i + j]) * scale;
    for (; i < len; i++)
        y[i] = (a[i] + b[i]) * scale;
}

/* y [len] = (y + b) * scale: the in-place residual add */
static void add_inplace(float *restrict y, const float *restrict b,
                        float scale, size_t len)
{
    size_t i = 0;
    for (; i + 4 <= len; i += 4)
        for (int j = 0; j < 4; j++)
            y[i + j] = (y[i + j] + b[i + j]) * scale;
    for (; i < len; i++)
        y[i] = (y[i] + b[i]) * scale;
}

static void add_part(void *ctx, size_t lo, size_t hi)
{
    const ew *e = ctx;
    float *y = e->y + lo;
    const float *a = e->a + lo, *b = e->b + lo;
    const size_t len = hi - lo;
    if (y == a && y == b) {
        for (size_t i = 0; i < len; i++)   /* y = 2y * scale: no restrict */
            y[i] = (y[i] + y[i]) * e->scale;
    } else if (y == a)
        add_inplace(y, b, e->scale, len);
    else if (y == b)
        add_inplace(y, a, e->scale, len);   /* a + b == b + a exactly */
    else
        add_copy(y, a, b, e->scale, len);
}

/* a, b [len] -> y [len] = (a + b) * scale; y may be a or b (in place). */
void qs_add_forward(float *y, const float *a, const float *b, float scale,
                    size_t len)
{
    ew e = {.y = y, .a = a, .b = b, .scale = scale};
    qs_par_range(len, add_part, &e);
}

/* d [len] (+)= scale * dy (acc 0: =) */
static inline __attribute__((always_inline)) void
axpy(float *restrict d, const float *restrict dy, float scale, size_t len,
     const int acc)
{
    size_t i = 0;
    for (; i + 4 <= len; i += 4)
        for (int j = 0; j < 4; j++)
            d[i + j] = acc ? d[i + j] + scale * dy[i + j] : scale * dy[i + j];
    for (; i < len; i++)
        d[i] = acc ? d[i] + scale * dy[i] : scale * dy[i];
}

static void axpy_part(float *d, const float *dy, float scale, size_t len,
                      int acc)
{
    if (acc)
        axpy(d, dy, scale, len, 1);
    else
        axpy(d, dy, scale, len, 0);
}

static void add_grad_part(void *ctx, size_t lo, size_t hi)
{
    const ew *e = ctx;
    if (e->y)
        axpy_part(e->y + lo, e->a + lo, e->scale, hi - lo, e->acc);
    if (e->y2)
        axpy_part(e->y2 + lo, e->a + lo, e->scale, hi - lo, e->acc2);
}

/* dy [len]; da, db [len] (+)= scale * dy (either may be NULL). */
void qs_add_backward(float *da, float *db, const float *dy, float scale,
                     size_t len, int acc_a, int acc_b)
{
    ew e = {.y = da, .y2 = db, .a = dy, .scale = scale, .acc = acc_a,
            .acc2 = acc_b};
    qs_par_range(len, add_grad_part, &e);
}

/* x [n, c, hw] -> y [n, c]: mean over hw, summed in double. */
void qs_gap_forward(float *y, const float *x, int n, int c, int hw)
{
    const size_t planes = (size_t)n * c;
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x + p * hw;
        double s = 0.0;
        for (int j = 0; j < hw; j++)
            s += xp[j];
        y[p] = (float)(s / hw);
    }
}

/* dy [n, c]; dx [n, c, hw] += dy / hw (or NULL). */
void qs_gap_backward(float *dx, const float *dy, int n, int c, int hw)
{
    if (!dx)
        return;
    const size_t planes = (size_t)n * c;
    for (size_t p = 0; p < planes; p++) {
        float g = (float)((double)dy[p] / hw);
        float *dp = dx + p * hw;
        int j = 0;
        for (; j + 4 <= hw; j += 4)
            for (int k = 0; k < 4; k++)
                dp[j + k] += g;
        for (; j < hw; j++)
            dp[j] += g;
    }
}
