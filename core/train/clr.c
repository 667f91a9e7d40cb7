/* Discrete cyclical learning rate, methods.md section 4. */
#include "quant.h"

#include <math.h>

/* Exponent t of lr_min / lr_max for each of the 8 steps of a cycle:
 * down in four steps, back up in four. */
static const double clr_triangle[8] = {0.0, 0.25, 0.5, 0.75, 1.0, 0.75, 0.5, 0.25};

/* Iteration it (counted from the start of the phase) -> lr. A step lasts
 * round(period / 8 * iters_per_epoch) iterations, half away from zero, at
 * least 1 (a period shorter than 8 iterations still cycles). Negative it
 * counts as 0. */
double qs_clr_lr(long it, int iters_per_epoch, double period_epochs,
                 double lr_max, double lr_min, qs_clr_shape shape)
{
    double len = round(period_epochs / 8.0 * iters_per_epoch);
    long step_iters = len >= 1.0 ? (len < 1e15 ? (long)len : (long)1e15) : 1;
    if (it < 0)
        it = 0;
    int s = (int)((it / step_iters) % 8);
    double t = shape == QS_CLR_SAWTOOTH ? s / 7.0 : clr_triangle[s];
    if (t == 0.0 || lr_max == 0.0)
        return lr_max; /* exact at the top of the cycle; no 0/0 */
    return lr_max * pow(lr_min / lr_max, t);
}
