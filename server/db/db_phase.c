#include "db_phase.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "db_int.h"
#include "err.h"

static int exec_sql(qs_db *db, const char *sql) { return qs_db_exec_sql(db->h, db->path, sql); }

int qs_db_begin(qs_db *db) { return exec_sql(db, "BEGIN IMMEDIATE"); }
int qs_db_commit(qs_db *db) { return exec_sql(db, "COMMIT"); }

int qs_db_rollback(qs_db *db)
{
    /* A failed COMMIT (SQLITE_FULL, an I/O error) may have rolled back already. */
    return sqlite3_get_autocommit(db->h) ? QS_OK : exec_sql(db, "ROLLBACK");
}

/* Prepares sql; binds are done by the caller; step_done() finishes. */
static int prep(qs_db *db, sqlite3_stmt **st, const char *sql)
{
    if (sqlite3_prepare_v2(db->h, sql, -1, st, NULL) != SQLITE_OK)
        return qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
    return QS_OK;
}

static int step_done(qs_db *db, sqlite3_stmt *st)
{
    int s = sqlite3_step(st);
    int rc = (s == SQLITE_DONE || s == SQLITE_ROW) ? QS_OK : qs_db_sql_err(db->h, db->path, NULL);
    sqlite3_finalize(st);
    return rc;
}

/* The phase's latest-metric columns, in the order both the epoch update and
 * the done update list them: test_acc, test_loss, train_loss, train_acc,
 * img_per_s, model_bits, bops, bound from parameter `first` on. */
static void bind_latest(sqlite3_stmt *st, int first, const double *m)
{
    static const int k[] = {QS_M_TEST_ACC, QS_M_TEST_LOSS, QS_M_TRAIN_LOSS, QS_M_TRAIN_ACC,
                            QS_M_IMG_PER_S, QS_M_MODEL_BITS, QS_M_BOPS};
    for (int i = 0; i < (int)(sizeof k / sizeof k[0]); i++)
        sqlite3_bind_double(st, first + i, m[k[i]]);
}

int qs_db_phase_state_get(qs_db *db, const char *id, qs_db_phase_state *out)
{
    sqlite3_stmt *st;
    int rc = prep(db, &st, "SELECT status, COALESCE(error, ''), epochs_done, "
                           "(SELECT COUNT(*) FROM checkpoints c WHERE c.phase_id = p.id) "
                           "FROM phases p WHERE id = ?");
    memset(out, 0, sizeof *out);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        snprintf(out->status, sizeof out->status, "%s", sqlite3_column_text(st, 0));
        snprintf(out->error, sizeof out->error, "%s", sqlite3_column_text(st, 1));
        out->epochs_done = sqlite3_column_int(st, 2);
        out->has_ckpt = sqlite3_column_int(st, 3) > 0;
    } else if (s != SQLITE_DONE) {
        rc = qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
    }
    sqlite3_finalize(st);
    return rc;
}

int qs_db_phase_start(qs_db *db, const char *id, const char *host, const char *version)
{
    sqlite3_stmt *st;
    int rc = prep(db, &st, "UPDATE phases SET status = 'running', attempts = attempts + 1, "
                           "error = NULL, worker_host = ?, version = ?, "
                           "started = COALESCE(started, ?), updated = ? WHERE id = ?");
    if (rc)
        return rc;
    double now = qs_wall_s();
    sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, version, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, now);
    sqlite3_bind_double(st, 4, now);
    sqlite3_bind_text(st, 5, id, -1, SQLITE_STATIC);
    return step_done(db, st);
}

int qs_db_phase_epoch(qs_db *db, const char *id, int epoch, const double *m)
{
    sqlite3_stmt *st;
    int rc = prep(db, &st, "INSERT OR REPLACE INTO epochs (phase_id, epoch, lr, train_loss, "
                           "train_acc, test_loss, test_acc, lipschitz, seconds, img_per_s) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, epoch);
    for (int k = 0; k <= QS_M_IMG_PER_S; k++)
        sqlite3_bind_double(st, 3 + k, m[k]);
    if ((rc = step_done(db, st)))
        return rc;
    if ((rc = prep(db, &st, "UPDATE phases SET epochs_done = ?, test_acc = ?, test_loss = ?, "
                            "train_loss = ?, train_acc = ?, img_per_s = ?, model_bits = ?, "
                            "bops = ?, updated = ? WHERE id = ?")))
        return rc;
    sqlite3_bind_int(st, 1, epoch);
    bind_latest(st, 2, m);
    sqlite3_bind_double(st, 9, qs_wall_s());
    sqlite3_bind_text(st, 10, id, -1, SQLITE_STATIC);
    return step_done(db, st);
}

int qs_db_checkpoint_put(qs_db *db, const char *id, int epoch, int final,
                         const uint8_t *bytes, size_t len)
{
    sqlite3_stmt *st;
    int rc = prep(db, &st, "INSERT OR REPLACE INTO checkpoints (phase_id, epoch, final, bytes, "
                           "data, created) VALUES (?, ?, ?, ?, ?, ?)");
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, epoch);
    sqlite3_bind_int(st, 3, final);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)len);
    sqlite3_bind_blob64(st, 5, bytes, len, SQLITE_STATIC);
    sqlite3_bind_double(st, 6, qs_wall_s());
    return step_done(db, st);
}

int qs_db_checkpoint_get(qs_db *db, const char *id, uint8_t **bytes, size_t *len,
                         int *epoch, int *final)
{
    sqlite3_stmt *st;
    *bytes = NULL;
    *len = 0;
    int rc = prep(db, &st, "SELECT data, epoch, final FROM checkpoints WHERE phase_id = ?");
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        int n = sqlite3_column_bytes(st, 0);
        *bytes = malloc(n > 0 ? (size_t)n : 1);
        if (!*bytes) {
            rc = qs_err(QS_ENOMEM, "out of memory reading a checkpoint");
        } else {
            memcpy(*bytes, sqlite3_column_blob(st, 0), (size_t)n);
            *len = (size_t)n;
            if (epoch)
                *epoch = sqlite3_column_int(st, 1);
            if (final)
                *final = sqlite3_column_int(st, 2);
        }
    } else if (s != SQLITE_DONE) {
        rc = qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
    }
    sqlite3_finalize(st);
    return rc;
}

int qs_db_decision_map_put(qs_db *db, const char *id, int w, int h, const uint8_t *z,
                           size_t len)
{
    sqlite3_stmt *st;
    int rc = prep(db, &st, "INSERT OR REPLACE INTO decision_maps (phase_id, width, height, "
                           "data) VALUES (?, ?, ?, ?)");
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, w);
    sqlite3_bind_int(st, 3, h);
    sqlite3_bind_blob64(st, 4, z, len, SQLITE_STATIC);
    return step_done(db, st);
}

int qs_db_phase_bits_put(qs_db *db, const char *id, const qs_bp_layer *layers, int n)
{
    sqlite3_stmt *st;
    int rc = prep(db, &st, "DELETE FROM phase_bits WHERE phase_id = ?");
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if ((rc = step_done(db, st)))
        return rc;
    for (int l = 0; l < n; l++) {
        const char kind[2] = {layers[l].kind, 0};
        if ((rc = prep(db, &st, "INSERT INTO phase_bits(phase_id, layer, node, kind, bits, count) "
                                "VALUES (?, ?, ?, ?, ?, ?)")))
            return rc;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, l);
        sqlite3_bind_int(st, 3, layers[l].node);
        sqlite3_bind_text(st, 4, kind, 1, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 5, layers[l].bits);
        sqlite3_bind_int64(st, 6, layers[l].count);
        if ((rc = step_done(db, st)))
            return rc;
    }
    return QS_OK;
}

int qs_db_phase_svd_put(qs_db *db, const char *id, long params_before, long params_after,
                        const char *ranks, const char *rank_list)
{
    sqlite3_stmt *st;
    int rc = prep(db, &st, "INSERT OR REPLACE INTO phase_svd(phase_id, params_before, ranks, "
                           "rank_list) VALUES (?, ?, ?, ?)");
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, params_before);
    sqlite3_bind_text(st, 3, ranks, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, rank_list, -1, SQLITE_STATIC);
    if ((rc = step_done(db, st)) || (rc = prep(db, &st, "UPDATE phases SET params = ? WHERE id = ?")))
        return rc;
    sqlite3_bind_int64(st, 1, params_after);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    return step_done(db, st);
}

int qs_db_phase_done(qs_db *db, const char *id, int epochs_done, const double *m,
                     double seconds)
{
    sqlite3_stmt *st;
    int rc = prep(db, &st, "UPDATE phases SET status = 'done', error = NULL, epochs_done = ?, "
                           "test_acc = ?, test_loss = ?, train_loss = ?, train_acc = ?, "
                           "img_per_s = ?, model_bits = ?, bops = ?, "
                           "seconds = COALESCE(seconds, 0) + ?, finished = ?, updated = ? "
                           "WHERE id = ?");
    if (rc)
        return rc;
    double now = qs_wall_s();
    sqlite3_bind_int(st, 1, epochs_done);
    bind_latest(st, 2, m);
    sqlite3_bind_double(st, 9, seconds);
    sqlite3_bind_double(st, 10, now);
    sqlite3_bind_double(st, 11, now);
    sqlite3_bind_text(st, 12, id, -1, SQLITE_STATIC);
    return step_done(db, st);
}

int qs_db_phase_fail(qs_db *db, const char *id, const char *error)
{
    sqlite3_stmt *st;
    char perr[600];
    int rc = prep(db, &st, "UPDATE phases SET status = 'failed', error = ?, finished = ?, "
                           "updated = ? WHERE id = ?");
    if (rc)
        return rc;
    double now = qs_wall_s();
    sqlite3_bind_text(st, 1, error, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, now);
    sqlite3_bind_double(st, 3, now);
    sqlite3_bind_text(st, 4, id, -1, SQLITE_STATIC);
    if ((rc = step_done(db, st)))
        return rc;
    /* Descendants, however deep; a parent failure's reason is the root's. */
    const char *reason = strncmp(error, "parent failed: ", 15) == 0 ? error + 15 : error;
    snprintf(perr, sizeof perr, "parent failed: %s", reason);
    if ((rc = prep(db, &st, "WITH RECURSIVE d(id) AS (SELECT id FROM phases WHERE parent_id = ? "
                            "UNION SELECT p.id FROM phases p JOIN d ON p.parent_id = d.id) "
                            "UPDATE phases SET status = 'failed', error = ?, updated = ? "
                            "WHERE id IN d AND status <> 'done'")))
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, perr, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, now);
    return step_done(db, st);
}

int qs_db_phase_requeue(qs_db *db, const char *id)
{
    sqlite3_stmt *st;
    int rc = prep(db, &st, "UPDATE phases SET status = 'queued', updated = ? WHERE id = ? "
                           "AND status = 'running'");
    if (rc)
        return rc;
    sqlite3_bind_double(st, 1, qs_wall_s());
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    return step_done(db, st);
}
