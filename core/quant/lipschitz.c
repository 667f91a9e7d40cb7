/* Lipschitz (Parseval) regularizer, methods.md section 5. */
#include "quant.h"

#include "gemm.h"

/* wt [fan_out, fan_in] = W^T; dwt [fan_out, fan_in] accumulated;
 * scratch [fan_out, fan_out]. G = wt wt^T = W^T W, the fan_out x fan_out
 * Gram matrix the spec reports, and dR/dwt = 2 beta (G - I) wt, which is
 * (dR/dW)^T, so the gradient lands in the layer's own layout. */
double qs_lipschitz(float *dwt, const float *wt, int fan_out, int fan_in,
                    float beta, float *scratch)
{
    if (fan_out <= 0 || fan_in <= 0)
        return 0.0;
    qs_sgemm(0, 1, fan_out, fan_out, fan_in, 1.0f, wt, fan_in, wt, fan_in,
             0.0f, scratch, fan_out);
    double s = 0.0;
    for (int i = 0; i < fan_out; i++) {
        float *row = scratch + (size_t)i * fan_out;
        row[i] -= 1.0f;
        for (int j = 0; j < fan_out; j++)
            s += (double)row[j] * row[j];
    }
    qs_sgemm(0, 0, fan_out, fan_in, fan_out, 2.0f * beta, scratch, fan_out,
             wt, fan_in, 1.0f, dwt, fan_in);
    return 0.5 * (double)beta * s;
}
