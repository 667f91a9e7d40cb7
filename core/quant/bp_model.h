/* The model side of BitPruning (docs/quantizers.md, "BitPruning"): the
 * settings of learned bit widths, their checkpoint section, and the hooks
 * the model's forward / backward and the trainer call. The kernels are in
 * bitprune.h. */
#ifndef QS_BP_MODEL_H
#define QS_BP_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "bitprune.h"
#include "ckpt.h"
#include "model.h"

/* The settings' defaults: every layer starts at the top width (the paper
 * starts from 8-bit layers), and the floor is 2 bits. */
#define QS_BP_INIT_DEFAULT 8.0
#define QS_BP_BMIN_DEFAULT 2

/* The quantizer of a model as results name it (the runs view, expand,
 * reports): "bitprune" when some side learns its widths, else the
 * quantizer's name. */
#define QS_BP_QUANTIZER_NAME "bitprune"
const char *qs_bp_quantizer_label(const qs_model_cfg *c);

/* c's BitPruning fields: bp_learned a mask of QS_BP_LEARN_*, a learned
 * side at 8 bits, the Hwang-PACT quantizer, bp_bmin 1 or 2, bp_init in
 * [bp_bmin, 8]. A model without learned widths passes whatever they hold. */
int qs_bp_cfg_validate(const qs_model_cfg *c);
/* Equal learned sides and, when some side is learned, equal settings. */
int qs_bp_cfg_same(const qs_model_cfg *a, const qs_model_cfg *b);

/* Checkpoint section "bitprune" (int32 bp_learned, int32 bp_bmin, double
 * bp_init), written only when some side is learned, so other checkpoints
 * keep the bytes they had. */
typedef struct {
    int32_t learned, bmin;
    double init;
} qs_bp_ck;
/* 1 and *s filled when c learns widths (the section is written), else 0. */
int qs_bp_ck_from(qs_bp_ck *s, const qs_model_cfg *c);
/* Reads the section into c (learned 0 when absent), range-checked; errors
 * name `what`, the field and its byte offset. */
int qs_bp_cfg_from_ckpt(qs_model_cfg *c, const qs_ckpt *ck, const char *what);

/* The floor of node n's width: bp_bmin, and at least 2 for weights. */
float qs_bp_node_bmin(const qs_model *m, const qs_node *n);
/* Index 0..nbits-1 of n's width among the model's learned widths. */
static inline long qs_bp_index(const qs_model *m, const qs_node *n)
{
    return n->bits_off - (m->nparam - m->nbits);
}

/* Weights of a learned-width layer: the clip level c = max |w| (kept in
 * n->step), q interpolated at b. An all-zero layer quantizes to 0. */
void qs_bp_quantize_weights(qs_model *m, qs_node *n);
/* Once n's weight gradient is complete: masks it by the interpolated
 * straight-through rule and adds dL/db. */
void qs_bp_weight_backward(qs_model *m, const qs_node *n);

/* After an optimiser step: every b into [its floor, 8]. */
void qs_bp_clamp_model(qs_model *m);
/* The end of the learning: every b becomes ceil(b). */
void qs_bp_round_up_model(qs_model *m);

/* The means of the learned widths of the weight layers and of the
 * activations (0 for a side without learned widths). */
void qs_bp_mean_bits(double *mean_w, double *mean_a, const qs_model *m);

/* The bit-width loss's counts per learned width: params[l] the weights of
 * a weight layer or the elements per example of an activation; macs[l]
 * the layer's multiply-accumulates per example, or for an activation
 * those of the conv / linear layers that read it. */
void qs_bp_counts(double *params, double *macs, const qs_model *m);

#endif
