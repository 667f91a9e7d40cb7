/* The per-node AdaRound call of the phase. AdaRound itself is built
 * (adaround.h), but over the whole model at once: its targets come from the
 * float weights of every layer, which a per-node call cannot see once the
 * earlier layers are rounded. The phase should call qs_adaround_model once
 * instead; until then a phase that asks for it fails with this message. */
#include "ptq.h"

#include "err.h"

int qs_ptq_adaround(qs_model *m, int node, const qs_ptq_calib *cal, const qs_ptq_cfg *c)
{
    return qs_err(QS_EINVAL, "rounding \"adaround\" is not built yet (allowed for now: nearest)");
}
