/* The model side of the LSQ / LSQ+ quantizer (docs/quantizers.md): its
 * name, its settings in checkpoints, and the inits the trainer's prepare
 * step runs. The kernels are in lsq.h. */
#ifndef QS_LSQ_MODEL_H
#define QS_LSQ_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "ckpt.h"
#include "model.h"
#include "train.h"

/* NULL-terminated names, indexed by qs_quantizer ("hwang-pact", "lsq+") and
 * by qs_lsq_winit ("mse", "mean"): the flags, the grid and the job JSON. */
extern const char *const qs_quantizer_names[];
extern const char *const qs_lsq_winit_names[];
const char *qs_quantizer_name(qs_quantizer q);
int qs_quantizer_parse(qs_quantizer *out, const char *s);

/* Checkpoint section "quant" (int32 quantizer, lsq_per_channel, lsq_winit,
 * lsq_offset): written only when the settings are not the default, so
 * Hwang-PACT checkpoints keep the format they had. */
#define QS_QUANT_NINTS 4
void qs_quant_cfg_ints(int32_t v[QS_QUANT_NINTS], const qs_model_cfg *c);
int qs_quant_cfg_is_default(const qs_model_cfg *c);
int qs_quant_cfg_same(const qs_model_cfg *a, const qs_model_cfg *b);
/* Reads "quant" into c's quantizer fields (the default when absent). */
int qs_quant_cfg_from_ckpt(qs_model_cfg *c, const qs_ckpt *ck, const char *what);

/* LSQ+ init of ReLU node i from its calibration sample y [n] (sorted in
 * place): the MSE step with beta 0, or, for a percentile alpha init, the
 * step whose top level P s is that percentile. */
void qs_lsq_calibrate_node(qs_model *m, int i, float *y, size_t n, const qs_train_cfg *cfg);
/* After each optimiser step: every LSQ weight step and LSQ+ scale s below
 * QS_LSQ_STEP_MIN is set to it (as LSQ implementations clamp their
 * steps); a NaN stays NaN, so a diverged run still fails as one. */
void qs_lsq_clamp_steps(qs_model *m);
/* The step of every LSQ layer from its (float) weights by cfg.lsq_winit. */
void qs_lsq_init_weights(qs_model *m);

#endif
