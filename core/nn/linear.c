/* Fully connected layer, PyTorch weight layout [out, in].
 *
 * With more than one job thread the products are split over qs_par (the
 * BLAS runs single-threaded, par.h): forward and dx by rows of the batch,
 * dweight by output rows, so each element is one thread's product with
 * the whole reduction in it, and the bits depend only on the thread
 * count. */
#include "layers.h"

#include "gemm.h"
#include "par.h"

/* too small to be worth waking a worker (FCDNN 128-wide layers at batch
 * 128 are 2 MFLOP) */
#define LIN_PAR_MIN_FLOP (1 << 20)

typedef struct {
    float *y, *dx, *dweight;
    const float *x, *dy, *weight;
    int n, in, out;
} lin_job;

static int lin_threads(int n, int in, int out)
{
    return (double)n * in * out >= LIN_PAR_MIN_FLOP ? qs_par_threads() : 1;
}

/* y rows lo..hi-1 = x rows @ weight^T */
static void lin_fwd(void *ctx, int t, int lo, int hi)
{
    const lin_job *j = ctx;
    (void)t;
    qs_sgemm(0, 1, hi - lo, j->out, j->in, 1.0f, j->x + (size_t)lo * j->in,
             j->in, j->weight, j->in, 0.0f, j->y + (size_t)lo * j->out, j->out);
}

/* dweight rows lo..hi-1 += dy[:, lo..hi-1]^T @ x */
static void lin_dw(void *ctx, int t, int lo, int hi)
{
    const lin_job *j = ctx;
    (void)t;
    qs_sgemm(1, 0, hi - lo, j->in, j->n, 1.0f, j->dy + lo, j->out, j->x, j->in,
             1.0f, j->dweight + (size_t)lo * j->in, j->in);
}

/* dx rows lo..hi-1 += dy rows @ weight */
static void lin_dx(void *ctx, int t, int lo, int hi)
{
    const lin_job *j = ctx;
    (void)t;
    qs_sgemm(0, 0, hi - lo, j->in, j->out, 1.0f, j->dy + (size_t)lo * j->out,
             j->out, j->weight, j->in, 1.0f, j->dx + (size_t)lo * j->in, j->in);
}

/* x [n, in], weight [out, in], bias [out] or NULL -> y [n, out]
 * = x @ weight^T + bias. */
void qs_linear_forward(float *y, const float *x, const float *weight,
                       const float *bias, int n, int in, int out)
{
    lin_job j = {y, NULL, NULL, x, NULL, weight, n, in, out};
    if (n > 0)
        qs_par_for(lin_threads(n, in, out), n, lin_fwd, &j);
    if (bias)
        for (int i = 0; i < n; i++) {
            float *r = y + (size_t)i * out;
            for (int o = 0; o < out; o++)
                r[o] += bias[o];
        }
}

/* dy [n, out], x [n, in], weight [out, in];
 * dweight [out, in] += dy^T @ x, dbias [out] += column sums of dy (or NULL),
 * dx [n, in] += dy @ weight (or NULL). */
void qs_linear_backward(float *dx, float *dweight, float *dbias,
                        const float *dy, const float *x, const float *weight,
                        int n, int in, int out)
{
    if (n <= 0)
        return;
    lin_job j = {NULL, dx, dweight, x, dy, weight, n, in, out};
    const int nt = lin_threads(n, in, out);
    qs_par_for(nt, out, lin_dw, &j);
    if (dbias)
        for (int o = 0; o < out; o++) {
            double s = 0.0;   /* over the batch, fixed order */
            for (int i = 0; i < n; i++)
                s += dy[(size_t)i * out + o];
            dbias[o] += (float)s;
        }
    if (dx)
        qs_par_for(nt, n, lin_dx, &j);
}
