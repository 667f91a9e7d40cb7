/* Phase updates during a sweep: the coordinator's writes. Callers group
 * them in transactions with qs_db_begin/qs_db_commit (batched: one commit
 * per burst of messages, not per row). */
#ifndef QS_DB_PHASE_H
#define QS_DB_PHASE_H

#include <stddef.h>
#include <stdint.h>

#include "bp_train.h"
#include "db.h"
#include "proto.h"

int qs_db_begin(qs_db *db);
int qs_db_commit(qs_db *db);
/* Ends an open transaction without its writes (none open: nothing). */
int qs_db_rollback(qs_db *db);

typedef struct {
    char status[16];
    char error[512];
    int epochs_done;
    int has_ckpt;
} qs_db_phase_state;

/* Status of phase id (status "" when the phase is not in the database). */
int qs_db_phase_state_get(qs_db *db, const char *id, qs_db_phase_state *st);

int qs_db_phase_start(qs_db *db, const char *id, const char *host, const char *version);
/* One epoch's metrics (m indexed by QS_M_*): the epochs row and the phase's
 * latest values. */
int qs_db_phase_epoch(qs_db *db, const char *id, int epoch, const double *m);
/* Latest (final = 0) or final checkpoint: replaces the phase's previous one. */
int qs_db_checkpoint_put(qs_db *db, const char *id, int epoch, int final,
                         const uint8_t *bytes, size_t len);
/* The phase's checkpoint (malloc'd into *bytes) or *bytes = NULL if none. */
int qs_db_checkpoint_get(qs_db *db, const char *id, uint8_t **bytes, size_t *len,
                         int *epoch, int *final);
int qs_db_decision_map_put(qs_db *db, const char *id, int w, int h, const uint8_t *z,
                           size_t len);
/* The learned widths of a done phase (phase_bits), replacing any. */
int qs_db_phase_bits_put(qs_db *db, const char *id, const qs_bp_layer *layers, int n);
/* The factoring of a done compress phase (phase_svd), replacing any;
 * the phase's params become params_after, the factored model's. */
int qs_db_phase_svd_put(qs_db *db, const char *id, long params_before, long params_after,
                        const char *ranks, const char *rank_list);
int qs_db_phase_done(qs_db *db, const char *id, int epochs_done, const double *m,
                     double seconds);
/* Marks the phase failed with error, and every descendant failed with
 * "parent failed: <error>" (only those not already done). */
int qs_db_phase_fail(qs_db *db, const char *id, const char *error);
/* Back to queued (interrupted); attempts are kept. */
int qs_db_phase_requeue(qs_db *db, const char *id);

#endif
