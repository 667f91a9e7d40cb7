/* Fully connected layer, PyTorch weight layout [out, in]. */
#include "layers.h"

#include "gemm.h"

/* x [n, in], weight [out, in], bias [out] or NULL -> y [n, out]
 * = x @ weight^T + bias. */
void qs_linear_forward(float *y, const float *x, const float *weight,
                       const float *bias, int n, int in, int out)
{
    qs_sgemm(0, 1, n, out, in, 1.0f, x, in, weight, in, 0.0f, y, out);
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
    qs_sgemm(1, 0, out, in, n, 1.0f, dy, out, x, in, 1.0f, dweight, in);
    if (dbias)
        for (int o = 0; o < out; o++) {
            double s = 0.0;   /* over the batch, fixed order */
            for (int i = 0; i < n; i++)
                s += dy[(size_t)i * out + o];
            dbias[o] += (float)s;
        }
    if (dx)
        qs_sgemm(0, 0, n, in, out, 1.0f, dy, out, weight, in, 1.0f, dx, in);
}
