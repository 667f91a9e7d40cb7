/* The sweep coordinator (MPI rank 0) and the worker loop (ranks 1..N-1). */
#ifndef QS_COORD_H
#define QS_COORD_H

#include <stdint.h>

#include "db.h"
#include "grid.h"

typedef struct {
    double ckpt_interval;  /* seconds between intermediate checkpoints (0: every epoch) */
    int progress;          /* print the live progress line on stderr */
    const char *version;
} qs_coord_opts;

/* Runs the sweep's phases to completion on ranks 1..size-1 (or on rank 0
 * itself when size == 1). Returns QS_OK when every phase ended (done or
 * failed), QS_EINTR after SIGINT/SIGTERM (running phases requeued). */
int qs_coord_run(qs_grid *g, qs_db *db, int64_t sweep_id, int size,
                 const qs_coord_opts *opts);

/* Tells every worker there is nothing to do and waits until each has
 * answered (the grid or database was refused). */
void qs_coord_dismiss(int size);

/* The worker loop of ranks >= 1: returns when the coordinator says STOP. */
int qs_worker_loop(double ckpt_interval);

/* Set by the SIGINT/SIGTERM handler of every rank. */
extern volatile int qs_stop_requested;
void qs_install_stop_handlers(void);

#endif
