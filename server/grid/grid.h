/* Grid files (docs/grid.md): parsing with cJSON,
 * validation with every problem collected, and expansion into the phase
 * DAG: float -> retrain (per bits x regularizer) -> clr. */
#ifndef QS_GRID_H
#define QS_GRID_H

#include "data.h"
#include "model.h"
#include "train.h"

#include "proto.h" /* QS_PHASE_ID_LEN */

/* What reading a grid may cost (docs/grid.md, "Limits"). The shipped grids
 * are under 2 KB, 200 values and depth 5; the scale benchmark's grid has
 * 108,900 phases. Size, values and depth are checked on the raw text, so a
 * grid over them is refused before any memory is spent on it. */
#define QS_GRID_MAX_BYTES (4 << 20)
#define QS_GRID_MAX_VALUES 100000
#define QS_GRID_MAX_DEPTH 32
#define QS_GRID_MAX_PHASES 500000

typedef struct {
    char id[QS_PHASE_ID_LEN + 1];
    char parent[QS_PHASE_ID_LEN + 1];  /* "" for float phases */
    qs_phase phase;
    /* The job JSON: a flat object whose keys are `qsweep train --config`
     * keys (model, block, depth, width, residual, data, data_dir,
     * train_limit, test_limit, seed, threads, phase, wbits, abits,
     * lipschitz, epochs, batch, lr, ... every protocol setting after
     * defaults), keys sorted, no "from"/"save"/"resume". The id is a hash of
     * this text plus the parent id. malloc'd. */
    char *config;
    qs_model_cfg model;                /* width resolved */
    char model_name[64];
    qs_data_kind data;
    long params;
    long long seed;
    int threads, epochs;
    char regularizer[16];              /* "none" | "lipschitz" */
    int clr;                           /* 1 for the clr phase */
    int train_images;                  /* after train_limit (0 = unknown) */
    double gflop;                      /* epochs x train images x GFLOP/img (train step) */
    double model_bits, bops;
} qs_grid_job;

typedef struct {
    char *name;
    char *text;        /* the file's text */
    char *path;
    qs_data_kind data;
    char *data_dir;    /* NULL = default path */
    int threads;
    qs_grid_job *jobs; /* parents always before children */
    int njobs;
    /* Private: the id -> job table behind qs_grid_find (open addressing,
     * index_cap a power of two, -1 = empty slot). */
    int *index;
    int index_cap;
} qs_grid;

/* Reads, validates and expands a grid file. On failure returns QS_EINVAL
 * (or QS_EIO) and *errors holds every problem, one per line, each as
 * "PATH: JSON.path: message" (caller frees). check_data: also verify the
 * dataset files exist (qs_data_check) -- the sweep does, `expand` does not. */
int qs_grid_load(qs_grid *g, const char *path, int check_data, char **errors);
int qs_grid_parse(qs_grid *g, const char *text, const char *path, int check_data,
                  char **errors);
void qs_grid_free(qs_grid *g);

/* Index of a job by id, or -1. */
int qs_grid_find(const qs_grid *g, const char *id);

#endif
