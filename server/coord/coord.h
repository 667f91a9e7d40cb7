/* The sweep coordinator (MPI rank 0); the worker loop of the other ranks
 * is worker/proto/worker.h. */
#ifndef QS_COORD_H
#define QS_COORD_H

#include <stdint.h>

#include "db.h"
#include "db_lock.h"
#include "grid.h"
#include "worker.h" /* qs_stop_requested */

typedef struct {
    double ckpt_interval;  /* seconds between intermediate checkpoints (0: every epoch) */
    int progress;          /* print the live progress line on stderr */
    const char *version;
    qs_db_lock *lock;      /* the database claim, checked every loop; NULL: none */
} qs_coord_opts;

/* Runs the sweep's phases to completion on ranks 1..size-1 (or on rank 0
 * itself when size == 1), and always dismisses the workers before it
 * returns. QS_OK when every phase ended (*nfailed of them failed),
 * QS_EINTR after SIGINT/SIGTERM (running phases requeued), the database's
 * error code once a write failed or the claim was lost (the open batch
 * rolled back, nothing written after it). */
int qs_coord_run(int *nfailed, qs_grid *g, qs_db *db, int64_t sweep_id, int size,
                 const qs_coord_opts *opts);

/* parent[j] = index of job j's parent in g, or -1 (server/coord/coord_dag.c). */
int qs_coord_link_parents(int *parent, const qs_grid *g);

/* Tells every worker there is nothing to do and waits until each has
 * answered (the grid or database was refused). */
void qs_coord_dismiss(int size);

#endif
