/* Shared inside core/ptq: passes over the calibration images and the
 * float view of a quantized model. Not a public interface. */
#ifndef QS_PTQ_INT_H
#define QS_PTQ_INT_H

#include "ptq.h"

/* Called after the forward of images s .. s + nb - 1 of the set. */
typedef void (*qs_ptq_batch_fn)(void *user, qs_model *m, int s, int nb);
/* Eval-mode forwards over cal in batches of up to m->max_batch. */
void qs_ptq_calib_pass(qs_model *m, const qs_ptq_calib *cal, qs_ptq_batch_fn fn, void *user);

/* Every node to float weights and plain ReLUs (saved [2 nnode] keeps the
 * bits), and back: the float network inside the quantized model, as the
 * trainer's alpha calibration sees it. */
void qs_ptq_float_view(qs_model *m, int *saved);
void qs_ptq_quant_view(qs_model *m, const int *saved);

/* Node i's out buffer still holds its output after a forward: no later
 * node writes it in place. */
int qs_ptq_readable(const qs_model *m, int i);

/* Adds the per-channel sums of node i's output (nb examples) into acc [c]. */
void qs_ptq_channel_sums(double *acc, const qs_model *m, int i, int nb);

#endif
