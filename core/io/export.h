/* Export of a quantized model: integer weight codes, per-layer scales, PACT
 * clips, and the float parameters that stay float (biases, BN), as a graph a
 * reader can run without qsweep. The file format (JSON) is documented in
 * docs/export.md; qs_export_write_json / qs_export_read_json round-trip it.
 *
 * Codes: a layer of b < 32 weight bits stores z with w_q = step * z:
 * z = clip(round(w / step), -M, M), M = 2^(b-1) - 1 for b >= 2, z = +-1 for
 * b = 1, as int8 (b <= 8). step * z is bit for bit the weight the fake-quant
 * model computes with. A PACT output of k bits is a code
 * a = round(clip(x, 0, alpha) (2^k - 1) / alpha) in 0..2^k-1, value
 * a * alpha / (2^k - 1). */
#ifndef QS_EXPORT_H
#define QS_EXPORT_H

#include <stdint.h>

#include "model.h"

typedef struct {
    qs_node_type type;
    int in0, in1;            /* producer nodes, -1 if none */
    int c, h, w;             /* output shape per example */
    /* conv, dwconv, linear: weight [shape[0], shape[1], shape[2], shape[3]]
     * (linear: [out, in, 1, 1]; conv: [k, c, kh, kw]; dwconv: [c, 1, kh, kw]) */
    int shape[4];
    int stride, pad;
    long wlen;
    int bits;                /* weight bits, 32 = float weights in wf */
    float step;              /* D: weight = step * code */
    int8_t *codes;           /* [wlen] when bits < 32 */
    float *wf;               /* [wlen] when bits == 32 */
    float *bias;             /* [c] or NULL */
    /* relu: abits 32 = plain ReLU, else PACT with this alpha */
    int abits;
    float alpha;
    /* bn (eval form): y = (x - mean) / sqrt(var + eps) * gamma + beta */
    float *gamma, *beta, *mean, *var;
    float eps;
    float scale;             /* add: (a + b) * scale */
} qs_export_node;

typedef struct {
    qs_model_cfg cfg;
    char model[64];          /* qs_model_name */
    char phase[16];          /* "retrain", "clr", ... */
    int epoch_done, epochs;
    int n;
    qs_export_node *nodes;   /* topological order, node 0 is the input */
} qs_export;

/* Integer codes and scales of a built model whose quantized weights are
 * current (a loaded checkpoint: qs_model_load_ckpt). Refuses a model with no
 * quantization at all. Caller frees with qs_export_free. */
int qs_export_from_model(qs_export *e, const qs_model *m, const char *phase,
                         int epoch_done, int epochs);
void qs_export_free(qs_export *e);

/* JSON file (docs/export.md). Errors name the path. */
int qs_export_write_json(const qs_export *e, const char *path);
int qs_export_read_json(qs_export *e, const char *path);

/* Node type names used in the file: "input", "conv", "dwconv", "bn",
 * "relu" (abits 32) / "pact", "linear", "gap", "add". */
const char *qs_export_type_name(const qs_export_node *n);

#endif
