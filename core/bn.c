/* Batch norm over (n, hw) per channel, PyTorch semantics.
 *
 * Per-channel sums run over n*hw values (2^17 for CIFAR at batch 128), so
 * they use double accumulators; four independent lanes keep the summation
 * order fixed while letting the compiler vectorise the loop. The variance is
 * two-pass (sum of squared deviations from the mean): the one-pass
 * E[x^2] - E[x]^2 cancels badly when |mean| >> std.
 * The build uses -O2, whose vectoriser rejects loops that would need a
 * scalar remainder, so loops step by 4 with a fixed inner j-loop and a
 * scalar tail. */
#include "layers.h"

#include <math.h>

/* sum x[i] */
static double sum_f(const float *restrict x, size_t len)
{
    double a[4] = {0.0, 0.0, 0.0, 0.0};
    size_t i = 0;
    for (; i + 4 <= len; i += 4)
        for (int j = 0; j < 4; j++)
            a[j] += (double)x[i + j];
    double s = (a[0] + a[1]) + (a[2] + a[3]);
    for (; i < len; i++)
        s += (double)x[i];
    return s;
}

/* sum (x[i] - m)^2 */
static double sumsq_dev(const float *restrict x, size_t len, double m)
{
    double a[4] = {0.0, 0.0, 0.0, 0.0};
    size_t i = 0;
    for (; i + 4 <= len; i += 4)
        for (int j = 0; j < 4; j++) {
            double d = (double)x[i + j] - m;
            a[j] += d * d;
        }
    double s = (a[0] + a[1]) + (a[2] + a[3]);
    for (; i < len; i++) {
        double d = (double)x[i] - m;
        s += d * d;
    }
    return s;
}

/* sum dy[i] and sum dy[i] * (x[i] - m) in one sweep */
static void sum_dy_dyx(double *sdy, double *sdyx, const float *restrict dy,
                       const float *restrict x, size_t len, double m)
{
    double a[4] = {0.0, 0.0, 0.0, 0.0}, b[4] = {0.0, 0.0, 0.0, 0.0};
    size_t i = 0;
    for (; i + 4 <= len; i += 4)
        for (int j = 0; j < 4; j++) {
            double g = (double)dy[i + j];
            a[j] += g;
            b[j] += g * ((double)x[i + j] - m);
        }
    double s = (a[0] + a[1]) + (a[2] + a[3]);
    double t = (b[0] + b[1]) + (b[2] + b[3]);
    for (; i < len; i++) {
        double g = (double)dy[i];
        s += g;
        t += g * ((double)x[i] - m);
    }
    *sdy += s;
    *sdyx += t;
}

/* y [len] = (x - mu) * scale + shift; centring first avoids the
 * cancellation of x * scale against a large shift when |mean| >> std. */
static void affine_copy(float *restrict y, const float *restrict x,
                        size_t len, float mu, float scale, float shift)
{
    size_t i = 0;
    for (; i + 4 <= len; i += 4)
        for (int j = 0; j < 4; j++)
            y[i + j] = (x[i + j] - mu) * scale + shift;
    for (; i < len; i++)
        y[i] = (x[i] - mu) * scale + shift;
}

static void affine_inplace(float *restrict y, size_t len, float mu,
                           float scale, float shift)
{
    size_t i = 0;
    for (; i + 4 <= len; i += 4)
        for (int j = 0; j < 4; j++)
            y[i + j] = (y[i + j] - mu) * scale + shift;
    for (; i < len; i++)
        y[i] = (y[i] - mu) * scale + shift;
}

/* y == x is allowed (eval-mode BN in place); the restrict helpers are not. */
static void affine(float *y, const float *x, size_t len, float mu,
                   float scale, float shift)
{
    if (y == x)
        affine_inplace(y, len, mu, scale, shift);
    else
        affine_copy(y, x, len, mu, scale, shift);
}

/* dx [len] += a dy + b (x - mu) + d */
static void dx_update(float *restrict dx, const float *restrict dy,
                      const float *restrict x, size_t len, float a, float b,
                      float mu, float d)
{
    size_t i = 0;
    for (; i + 4 <= len; i += 4)
        for (int j = 0; j < 4; j++)
            dx[i + j] += a * dy[i + j] + b * (x[i + j] - mu) + d;
    for (; i < len; i++)
        dx[i] += a * dy[i] + b * (x[i] - mu) + d;
}

/* x [n, c, hw] -> y [n, c, hw]; gamma, beta [c];
 * save_mean, save_invstd [c] set; run_mean, run_var [c] updated. */
void qs_bn_forward_train(float *y, float *save_mean, float *save_invstd,
                         float *run_mean, float *run_var, const float *x,
                         const float *gamma, const float *beta, int n, int c,
                         int hw, float momentum, float eps)
{
    const size_t m = (size_t)n * hw;
    if (m == 0)
        return;
    for (int ch = 0; ch < c; ch++) {
        double s = 0.0;
        for (int i = 0; i < n; i++)
            s += sum_f(x + ((size_t)i * c + ch) * hw, hw);
        double mean = s / (double)m;
        double ss = 0.0;
        for (int i = 0; i < n; i++)
            ss += sumsq_dev(x + ((size_t)i * c + ch) * hw, hw, mean);
        double var = ss / (double)m;
        double invstd = 1.0 / sqrt(var + (double)eps);
        /* PyTorch rejects a single value per channel in training; using the
         * biased variance there keeps the running estimate finite. */
        double var_unb = m > 1 ? ss / (double)(m - 1) : var;

        save_mean[ch] = (float)mean;
        save_invstd[ch] = (float)invstd;
        run_mean[ch] = (float)((1.0 - momentum) * run_mean[ch] +
                               (double)momentum * mean);
        run_var[ch] = (float)((1.0 - momentum) * run_var[ch] +
                              (double)momentum * var_unb);

        float scale = (float)(invstd * gamma[ch]);
        for (int i = 0; i < n; i++) {
            size_t off = ((size_t)i * c + ch) * hw;
            affine(y + off, x + off, hw, (float)mean, scale, beta[ch]);
        }
    }
}

/* x [n, c, hw] -> y [n, c, hw] with the running statistics. */
void qs_bn_forward_eval(float *y, const float *x, const float *gamma,
                        const float *beta, const float *run_mean,
                        const float *run_var, int n, int c, int hw, float eps)
{
    for (int ch = 0; ch < c; ch++) {
        float scale =
            (float)(gamma[ch] / sqrt((double)run_var[ch] + (double)eps));
        for (int i = 0; i < n; i++) {
            size_t off = ((size_t)i * c + ch) * hw;
            affine(y + off, x + off, hw, run_mean[ch], scale, beta[ch]);
        }
    }
}

/* dy, x [n, c, hw]; save_mean, save_invstd, gamma [c] from forward_train;
 * dgamma, dbeta [c] += ... (either may be NULL), dx [n, c, hw] += ... (or
 * NULL). With xhat = (x - mean) invstd and M = n*hw:
 *   dx = gamma invstd (dy - sum(dy)/M - xhat sum(dy xhat)/M). */
void qs_bn_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                    const float *x, const float *save_mean,
                    const float *save_invstd, const float *gamma, int n, int c,
                    int hw)
{
    const size_t m = (size_t)n * hw;
    if (m == 0)
        return;
    for (int ch = 0; ch < c; ch++) {
        double mean = save_mean[ch], invstd = save_invstd[ch];
        double sdy = 0.0, sdyx = 0.0;
        for (int i = 0; i < n; i++) {
            size_t off = ((size_t)i * c + ch) * hw;
            sum_dy_dyx(&sdy, &sdyx, dy + off, x + off, hw, mean);
        }
        double sdyxhat = sdyx * invstd;   /* sum(dy * xhat) */
        if (dgamma)
            dgamma[ch] += (float)sdyxhat;
        if (dbeta)
            dbeta[ch] += (float)sdy;
        if (!dx)
            continue;
        /* dx += a dy + b (x - mean) + d: the formula above with the
         * per-channel constants folded */
        double g = (double)gamma[ch] * invstd;
        float a = (float)g;
        float b = (float)(-g * sdyxhat * invstd / (double)m);
        float d = (float)(-g * sdy / (double)m);
        float mu = save_mean[ch];
        for (int i = 0; i < n; i++) {
            size_t off = ((size_t)i * c + ch) * hw;
            dx_update(dx + off, dy + off, x + off, hw, a, b, mu, d);
        }
    }
}
