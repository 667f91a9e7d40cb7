/* One sweep phase, run from its job JSON: the part of a sweep worker that
 * knows nothing of MPI. The coordinator (or, with one rank, rank 0 itself)
 * passes the parent's checkpoint and, after a restart, the phase's own
 * latest checkpoint; results flow out through the sink. */
#ifndef QS_JOB_H
#define QS_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "data.h"
#include "opts.h"
#include "train.h"

typedef struct {
    void *user;
    /* After every epoch. */
    void (*epoch)(void *user, const qs_epoch_metrics *m, double model_bits, double bops);
    /* The latest checkpoint (encoded), at most every ckpt_interval seconds. */
    void (*checkpoint)(void *user, int epoch, const uint8_t *bytes, size_t len);
    /* Polled between batches: non-zero abandons the phase (QS_EINTR). */
    int (*interrupt)(void *user);
    double ckpt_interval;
} qs_job_sink;

/* Datasets stay loaded between phases that read the same split. */
typedef struct {
    int loaded;
    qs_data_kind kind;
    char dir[512];
    int train_limit, test_limit, image_size;
    qs_synth_cfg synth;
    qs_dataset train, test;
} qs_data_cache;

void qs_data_cache_free(qs_data_cache *c);

/* Checks and loads the job's data (imagenet: at its --image-size, and the
 * model then takes the tree's class count); errors name the file or path. */
int qs_job_data_load(qs_dataset *train, qs_dataset *test, const qs_job_opts *o);
/* The warning of an epoch that skipped files (stderr), or nothing. */
void qs_job_warn_skipped(const char *who, const qs_epoch_metrics *m);

typedef struct {
    qs_epoch_metrics last;       /* final epoch */
    double model_bits, bops;
    /* compress: the factored model's counted parameters and its rank
     * summary (qs_svd_rank_summary); 0 / "" for the other phases */
    long params;
    char svd[96];
    int epochs_done;
    uint8_t *ckpt;               /* final checkpoint (malloc'd) */
    size_t ckpt_len;
    uint8_t *dmap;               /* zlib-compressed 256x256 labels, synthetic only */
    size_t dmap_len;
    char error[512];             /* "diverged at epoch E: ..." or "error: ..." */
} qs_job_result;

void qs_job_result_free(qs_job_result *r);

/* Runs the phase. parent/resume may be NULL; their buffers are consumed.
 * Returns QS_OK, QS_EDIVERGED, QS_EINTR, or another code with r->error. */
int qs_job_run(qs_job_result *r, const char *config, uint8_t *parent, size_t parent_len,
               uint8_t *resume, size_t resume_len, const qs_job_sink *sink,
               qs_data_cache *cache);

#endif
