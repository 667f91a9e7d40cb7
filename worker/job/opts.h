/* The options of one job (`qsweep train` flags, or a job JSON given with
 * --config), resolved into model and training configurations. */
#ifndef QS_OPTS_H
#define QS_OPTS_H

#include <stdio.h>

#include "data.h"
#include "jobspec.h"
#include "model.h"
#include "train.h"

/* A job JSON is one flat object of a few hundred bytes; --config refuses
 * files above this. */
#define QS_JOB_CONFIG_MAX_BYTES (1 << 20)

typedef struct {
    qs_model_cfg model;
    double params;           /* --params: solve the width from a budget */
    qs_data_kind data;
    const char *data_dir;
    int train_limit, test_limit;
    int image_size;          /* --image-size: imagenet's crop side; 0 = 224 */
    qs_synth_cfg synth;
    qs_phase phase;
    const char *from, *save, *resume, *decision_map;
    int stop_after;
    /* Protocol settings given (jobspec.def); the rest keep the dataset's. */
    qs_js_vals proto;
    int threads;
    long long seed;          /* -1 default */
    double lipschitz;        /* -1 default */
    const char *alpha_init;
    int have_model, have_depth, have_width, have_data;
    /* bench */
    int steps;
} qs_job_opts;

void qs_job_opts_default(qs_job_opts *o);
/* Parses argv (argv[0] is the subcommand name). Unknown flags and bad
 * values are QS_EINVAL with a message naming the flag and what is allowed.
 * allow_bench enables --steps. */
int qs_job_opts_parse(qs_job_opts *o, int argc, char **argv, int allow_bench);
/* Applies a job JSON text (flat object, keys = flags without "--");
 * `what` names the source in messages. */
int qs_job_opts_from_json(qs_job_opts *o, const char *text, const char *what, int allow_bench);
/* Completes the model (width from --params) and validates it. */
int qs_job_opts_model(qs_job_opts *o);
/* The training configuration: dataset protocol + overrides. */
int qs_job_opts_train_cfg(const qs_job_opts *o, qs_train_cfg *cfg);
/* imagenet-resnet's block, depth and stage table from what was given
 * (have_depth: m->depth; have_blocks: m->stage_blocks): a depth alone
 * takes the standard table; with a table, depth 3 x blocks + 2 means
 * bottleneck and 2 x blocks + 2 the block as set (basic by default); no
 * depth: the block's. Used by `qsweep train` and the grid alike, so
 * depth <-> blocks is decided here only. The caller validates m. */
int qs_imnet_resnet_resolve(qs_model_cfg *m, int have_depth, int have_blocks);
/* qs_job_opts_model, then qs_job_opts_train_cfg, then for a ptq phase
 * the model form its settings ask for (qs_ptq_model_cfg): what a phase
 * runs from. */
int qs_job_opts_resolve(qs_job_opts *o, qs_train_cfg *cfg);
/* Usage text of `qsweep train`. */
void qs_job_opts_usage(FILE *out);

#endif
