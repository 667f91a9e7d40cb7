/* One run's detail: /api/run (its full configuration, parent chain,
 * children, sweeps, checkpoint and the command that reproduces it),
 * /api/config (its job JSON as a file) and /api/checkpoint (its saved
 * checkpoint as a file). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "api_json.h"

/* Phases nest float -> retrain -> clr; a longer chain is a corrupt file. */
#define QS_RUN_MAX_CHAIN 8

static const char run_sql[] =
    "SELECT id AS phase_id, parent_id, phase, status, dataset, arch, model, block, depth, width,"
    " residual, params, wbits, abits, regularizer, clr, seed, threads, epochs, epochs_done,"
    " test_acc, test_loss, train_acc, train_loss, seconds, img_per_s, model_bits, bops, error,"
    " attempts, version, worker_host, started, finished, updated, config"
    " FROM phases WHERE id = ?";

/* The columns a parent or child row shows. */
static const char link_cols[] =
    "id AS phase_id, phase, status, model, wbits, abits, regularizer, clr, seed, epochs,"
    " epochs_done, test_acc";

/* Looks the phase up: QS_OK with st on its row, or QS_OK with the 404
 * already written (*found 0), or an error. */
static int find_phase(qs_api_req *r, const char *sql, const char *id, sqlite3_stmt **st, int *found,
                      const char *what, const char *why)
{
    *found = 0;
    int rc = qs_api_prepare(r->db, sql, st);
    if (rc)
        return rc;
    sqlite3_bind_text(*st, 1, id, -1, SQLITE_STATIC);
    int s = qs_api_step(*st);
    if (s == SQLITE_ROW) {
        *found = 1;
        return QS_OK;
    }
    if (s != SQLITE_DONE)
        return QS_EINTERNAL;
    qs_resp_error(r->resp, 404, "phase_id", "%s %s in this database%s", what, id, why);
    return QS_OK;
}

/* The parents, nearest first: [{phase_id, phase, ...}, ...]. */
static int write_parents(qs_api_req *r, qs_jw *w, const char *first_parent)
{
    char sql[512], id[33];
    sqlite3_stmt *st = NULL;
    snprintf(sql, sizeof sql, "SELECT %s, parent_id FROM phases WHERE id = ?", link_cols);
    int rc = qs_api_prepare(r->db, sql, &st);
    if (rc)
        return rc;
    snprintf(id, sizeof id, "%s", first_parent ? first_parent : "");
    qs_jw_arr(w, "parents");
    for (int k = 0; id[0] && k < QS_RUN_MAX_CHAIN; k++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        int s = qs_api_step(st);
        if (s == SQLITE_DONE)
            break; /* a parent row missing: the chain shown ends there */
        if (s != SQLITE_ROW) {
            rc = QS_EINTERNAL;
            goto cleanup;
        }
        qs_jw_obj(w, NULL);
        int n = sqlite3_column_count(st) - 1;
        for (int c = 0; c < n; c++)
            qs_jw_col(w, sqlite3_column_name(st, c), st, c);
        qs_jw_end_obj(w);
        const unsigned char *p = sqlite3_column_text(st, n);
        snprintf(id, sizeof id, "%s", p ? (const char *)p : "");
    }
    qs_jw_end_arr(w);
cleanup:
    sqlite3_finalize(st);
    return rc;
}

/* The rows of a query with ?1 = id as the array `key`. */
static int write_list(qs_api_req *r, qs_jw *w, const char *key, const char *sql, const char *id)
{
    sqlite3_stmt *st = NULL;
    int rc = qs_api_prepare(r->db, sql, &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    rc = qs_api_rows(w, key, st);
    sqlite3_finalize(st);
    return rc;
}

int qs_api_run(qs_api_req *r)
{
    const char *id;
    sqlite3_stmt *st = NULL;
    cJSON *cfg = NULL;
    int found;
    int rc = qs_api_phase_id(r, "phase_id", &id, 1);
    if (rc)
        return rc;
    rc = find_phase(r, run_sql, id, &st, &found, "no phase", "");
    if (rc || !found)
        goto cleanup;
    int ncol = sqlite3_column_count(st) - 1; /* the last column is the config */
    const char *config = (const char *)sqlite3_column_text(st, ncol);
    const char *parent = (const char *)sqlite3_column_text(st, 1);
    char parent_id[33] = "";
    if (parent)
        snprintf(parent_id, sizeof parent_id, "%s", parent);
    qs_jw w;
    qs_jw_init(&w, &r->resp->body);
    qs_jw_obj(&w, NULL);
    qs_jw_obj(&w, "run");
    for (int c = 0; c < ncol; c++)
        qs_jw_col(&w, sqlite3_column_name(st, c), st, c);
    qs_jw_end_obj(&w);
    /* The job JSON as an object when it parses; a corrupt one is shown as
     * text with the reason, never spliced into the answer. */
    cfg = config ? cJSON_Parse(config) : NULL;
    if (cJSON_IsObject(cfg)) {
        qs_jw_raw(&w, "config", config);
    } else {
        qs_jw_null(&w, "config");
        qs_jw_str(&w, "config_error", "the phase's stored job JSON is not a JSON object");
        qs_jw_str(&w, "config_text", config);
    }
    /* The command that trains this phase again: its job JSON, and for a
     * quantized phase the parent's checkpoint it starts from. */
    char cmd[256];
    if (parent_id[0])
        snprintf(cmd, sizeof cmd, "qsweep train --config %s.json --from %s.ckpt --save %s.ckpt", id,
                 parent_id, id);
    else
        snprintf(cmd, sizeof cmd, "qsweep train --config %s.json --save %s.ckpt", id, id);
    qs_jw_str(&w, "reproduce", cmd);
    sqlite3_finalize(st);
    st = NULL;
    rc = write_parents(r, &w, parent_id[0] ? parent_id : NULL);
    if (!rc) {
        char sql[512];
        snprintf(sql, sizeof sql, "SELECT %s FROM phases WHERE parent_id = ?1 ORDER BY phase, wbits DESC,"
                 " abits DESC, regularizer, id", link_cols);
        rc = write_list(r, &w, "children", sql, id);
    }
    if (!rc)
        rc = write_list(r, &w, "sweeps",
                        "SELECT s.name FROM sweep_phases sp JOIN sweeps s ON s.id = sp.sweep_id"
                        " WHERE sp.phase_id = ?1 ORDER BY s.name", id);
    if (rc)
        goto cleanup;
    rc = qs_api_prepare(r->db, "SELECT epoch, final, bytes, created FROM checkpoints WHERE phase_id = ?",
                        &st);
    if (rc)
        goto cleanup;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int s = qs_api_step(st);
    if (s == SQLITE_ROW)
        qs_jw_row(&w, "checkpoint", st);
    else if (s == SQLITE_DONE)
        qs_jw_null(&w, "checkpoint");
    else
        rc = QS_EINTERNAL;
    qs_jw_end_obj(&w);
cleanup:
    sqlite3_finalize(st);
    cJSON_Delete(cfg);
    return rc;
}

/* One stored blob of a phase as a download: sql selects it by phase id;
 * missing and hint make the 404's message. */
static int download(qs_api_req *r, const char *sql, const char *missing, const char *hint,
                    const char *ctype, int newline)
{
    const char *id;
    sqlite3_stmt *st = NULL;
    int found;
    int rc = qs_api_phase_id(r, "phase_id", &id, 1);
    if (rc)
        return rc;
    rc = find_phase(r, sql, id, &st, &found, missing, hint);
    if (rc || !found)
        goto cleanup;
    const void *p = sqlite3_column_blob(st, 0);
    int n = sqlite3_column_bytes(st, 0);
    if (ctype)
        r->resp->ctype = ctype;
    r->resp->disposition = "attachment";
    if (n > 0)
        qs_buf_add(&r->resp->body, p, (size_t)n);
    if (newline)
        qs_buf_add(&r->resp->body, "\n", 1);
cleanup:
    sqlite3_finalize(st);
    return rc;
}

/* The job JSON as `qsweep train --config` reads it (JSON content type). */
int qs_api_config(qs_api_req *r)
{
    return download(r, "SELECT config FROM phases WHERE id = ?", "no phase", "", NULL, 1);
}

int qs_api_checkpoint(qs_api_req *r)
{
    return download(r, "SELECT data FROM checkpoints WHERE phase_id = ?", "no checkpoint for phase",
                    " (a phase has one once it has trained an epoch)", "application/octet-stream", 0);
}
