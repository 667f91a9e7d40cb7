/* The settings of a ptq phase (docs/ptq.md), apart from ptq.h so that the
 * trainer's settings (train.h) can hold them without the PTQ code. */
#ifndef QS_PTQ_CFG_H
#define QS_PTQ_CFG_H

#include <stdint.h>

typedef enum { QS_PTQ_NEAREST = 0, QS_PTQ_ADAROUND = 1 } qs_ptq_rounding;
/* none; empirical: the mean output error per channel of each quantized
 * layer on the calibration set, subtracted layer by layer in graph order;
 * bn: data-free, the expected error from the folded BN statistics (DFQ). */
typedef enum { QS_PTQ_BC_NONE = 0, QS_PTQ_BC_EMPIRICAL = 1, QS_PTQ_BC_BN = 2 } qs_ptq_bias_corr;

/* NULL-terminated names indexed by the enums: the flags, the grid and the
 * job JSON spell them so ("nearest", "adaround"; "none", "empirical", "bn"). */
extern const char *const qs_ptq_rounding_names[];
extern const char *const qs_ptq_bias_corr_names[];

#define QS_PTQ_DEFAULT_CALIB 1024
#define QS_PTQ_DEFAULT_ITERS 10000
#define QS_PTQ_MAX_ITERS 10000000
#define QS_PTQ_MAX_CALIB (1 << 20)

/* The bit widths are the model configuration's (wbits, abits,
 * first_last_bits of qs_model_cfg, as for the QAT phases), each layer's in
 * its node (qs_node.wbits / abits): one place, not copied here. */
typedef struct {
    qs_ptq_rounding rounding;
    int equalize;            /* cross-layer equalisation + high-bias absorption */
    qs_ptq_bias_corr bias_correction;
    int calib_images;        /* training images, fixed seed; 1024 */
    uint64_t calib_seed;
    int iterations;          /* AdaRound Adam steps per layer; 10000 */
    int batch;               /* AdaRound batch (32) */
    int per_channel;         /* one weight step per output channel (else per tensor) */
} qs_ptq_cfg;

/* The defaults above: nearest, no equalisation, no bias correction, 1024
 * calibration images at seed 20201 (the QAT calibration seed), 10000
 * iterations at batch 32, per tensor. */
void qs_ptq_cfg_default(qs_ptq_cfg *c);
/* Range checks; the message names the setting and what is allowed. */
int qs_ptq_cfg_validate(const qs_ptq_cfg *c);

/* The compress phase's settings (docs/ptq.md, "SVD compression"; the
 * code is svd_model.h). Exactly one of energy and params is set (the other
 * 0). */
typedef enum { QS_COMPRESS_NONE = 0, QS_COMPRESS_SVD = 1 } qs_compress_method;
/* "none", "svd": the --compress flag's and the job JSON's spelling */
extern const char *const qs_compress_names[];
typedef struct {
    qs_compress_method method;
    double energy;           /* kept energy of each layer's singular values, (0, 1] */
    double params;           /* parameters after, as a fraction of before, (0, 1) */
    int epochs;              /* fine-tune epochs after factoring (0: none) */
    int first_last;          /* factor the first and last weight layers too */
} qs_svd_cfg;

/* Range checks of a compress phase's settings (the flags and the grid
 * check each value's range; this checks the combination). */
int qs_svd_cfg_validate(const qs_svd_cfg *c);

#endif
