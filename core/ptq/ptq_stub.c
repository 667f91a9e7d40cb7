/* The PTQ steps whose code lives in cle.c and adaround.c: until those files
 * are built, a phase that asks for them fails with this message rather
 * than running something else. Remove this file with their arrival. */
#include "ptq.h"

#include "err.h"

int qs_ptq_equalize(int *npairs, qs_model *m, qs_ptq_bnstats *st, const qs_ptq_cfg *c)
{
    return qs_err(QS_EINVAL, "equalize true: cross-layer equalisation is not built yet "
                  "(allowed for now: equalize false)");
}

int qs_ptq_adaround(qs_model *m, int node, const qs_ptq_calib *cal, const qs_ptq_cfg *c)
{
    return qs_err(QS_EINVAL, "rounding \"adaround\" is not built yet (allowed for now: nearest)");
}

int qs_ptq_bias_correct_bn(qs_model *m, const qs_ptq_bnstats *st)
{
    return qs_err(QS_EINVAL, "bias_correction \"bn\" (data-free) is not built yet "
                  "(allowed for now: none, empirical)");
}
