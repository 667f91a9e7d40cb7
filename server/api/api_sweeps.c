/* /api/sweeps (progress of each sweep, with an ETA) and /api/failures. */
#include <string.h>
#include <time.h>

#include "api.h"
#include "api_json.h"
#include "db_lock.h"

/* One pass over each sweep's phases. The cost left counts queued phases
 * whole and running ones by their unfinished epochs; gflop_run is the work
 * finished since the sweep was (re)started, which gives the current rate. */
static const char sweeps_sql[] =
    "SELECT s.id, s.name, s.host, s.version, s.ranks, s.started, s.finished,"
    " count(p.id),"
    " count(CASE WHEN p.status = 'queued' THEN 1 END),"
    " count(CASE WHEN p.status = 'running' THEN 1 END),"
    " count(CASE WHEN p.status = 'done' THEN 1 END),"
    " count(CASE WHEN p.status = 'failed' THEN 1 END),"
    " total(CASE WHEN p.status = 'done' THEN p.gflop END),"
    " total(CASE WHEN p.status = 'queued' THEN p.gflop"
    "  WHEN p.status = 'running' THEN p.gflop * (1.0 - min(p.epochs_done, p.epochs) * 1.0 / max(p.epochs, 1)) END),"
    " total(CASE WHEN p.status = 'done' AND p.finished >= s.started THEN p.gflop"
    "  WHEN p.status = 'running' THEN p.gflop * min(p.epochs_done, p.epochs) * 1.0 / max(p.epochs, 1) END),"
    " total(CASE WHEN p.status = 'running' THEN p.img_per_s END),"
    " max(p.updated),"
    " group_concat(DISTINCT p.dataset),"
    " group_concat(DISTINCT coalesce(p.block, p.arch))"
    " FROM sweeps s"
    " LEFT JOIN sweep_phases sp ON sp.sweep_id = s.id"
    " LEFT JOIN {PHASES} ON p.id = sp.phase_id"
    " WHERE ?1 IS NULL OR s.name = ?1"
    " GROUP BY s.id"
    " ORDER BY s.started DESC, s.id DESC";

/* Phases per dataset of one sweep: the page opens on the dataset with the
 * most phases. */
static const char dataset_phases_sql[] =
    "SELECT p.dataset, count(*) FROM sweep_phases sp JOIN phases p ON p.id = sp.phase_id"
    " WHERE sp.sweep_id = ?1 GROUP BY p.dataset ORDER BY p.dataset";

/* A comma-joined column as a JSON array of strings. */
static void csv_list(qs_jw *w, const char *key, const char *s)
{
    qs_jw_arr(w, key);
    while (s && *s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        qs_jw_strn(w, NULL, s, n);
        s = e ? e + 1 : NULL;
    }
    qs_jw_end_arr(w);
}

int qs_api_sweeps(qs_api_req *r)
{
    const char *sweep;
    sqlite3_stmt *st = NULL, *ds = NULL;
    int rc = qs_api_str(r, "sweep", &sweep);
    if (rc)
        return rc;
    rc = qs_api_prepare_src(r, sweeps_sql, &st);
    if (!rc)
        rc = qs_api_prepare(r->db, dataset_phases_sql, &ds);
    if (rc)
        goto cleanup;
    if (sweep)
        sqlite3_bind_text(st, 1, sweep, -1, SQLITE_STATIC);
    double now = (double)time(NULL);
    /* Liveness from the claim as read: the dashboard never writes. */
    qs_db_claim_view claim;
    if (qs_db_claim_view_get(&claim, r->db, qs_db_lock_now())) {
        rc = QS_EINTERNAL;
        goto cleanup;
    }
    int live = qs_running_is_live(&claim);
    qs_jw w;
    qs_jw_init(&w, &r->resp->body);
    qs_jw_obj(&w, NULL);
    qs_jw_num(&w, "now", now);
    qs_jw_arr(&w, "sweeps");
    int s;
    while ((s = qs_api_step(st)) == SQLITE_ROW) {
        int queued = sqlite3_column_int(st, 8), running = sqlite3_column_int(st, 9);
        int has_started = sqlite3_column_type(st, 5) != SQLITE_NULL;
        double started = sqlite3_column_double(st, 5);
        int has_finished = sqlite3_column_type(st, 6) != SQLITE_NULL;
        double finished = sqlite3_column_double(st, 6);
        double gdone = sqlite3_column_double(st, 12), gleft = sqlite3_column_double(st, 13);
        double grun = sqlite3_column_double(st, 14);
        /* The coordinator records `finished` when a run ends and resets
         * `started` when the sweep runs again. */
        int ended = has_finished && (!has_started || finished >= started);
        int sstate = qs_sweep_state(&claim, (const char *)sqlite3_column_text(st, 1),
                                    queued + running, running, ended);
        int active = sstate == QS_SWEEP_RUNNING;
        /* 'running' rows of a coordinator that is gone: interrupted until
         * the rerun requeues them (the file keeps them as they are). */
        int interrupted = live ? 0 : running;

        qs_jw_obj(&w, NULL);
        qs_jw_col(&w, "id", st, 0);
        qs_jw_col(&w, "name", st, 1);
        qs_jw_col(&w, "host", st, 2);
        qs_jw_col(&w, "version", st, 3);
        qs_jw_col(&w, "ranks", st, 4);
        qs_jw_col(&w, "started", st, 5);
        qs_jw_col(&w, "finished", st, 6);
        qs_jw_str(&w, "state", qs_sweep_state_name(sstate));
        qs_jw_col(&w, "phases", st, 7);
        qs_jw_int(&w, "queued", queued);
        qs_jw_int(&w, "running", running - interrupted);
        qs_jw_int(&w, "interrupted", interrupted);
        qs_jw_col(&w, "done", st, 10);
        qs_jw_col(&w, "failed", st, 11);
        qs_jw_num(&w, "gflop_done", gdone);
        qs_jw_num(&w, "gflop_left", gleft);
        qs_jw_num(&w, "progress", gdone + gleft > 0 ? gdone / (gdone + gleft) : 1.0);
        if (interrupted)
            qs_jw_num(&w, "img_per_s", 0);
        else
            qs_jw_col(&w, "img_per_s", st, 15);
        /* ETA from this run's own throughput: the cost left over the work
         * done per second since the sweep started; unknown until some work
         * is done, and for a sweep that is not running. */
        double elapsed = has_started ? now - started : 0;
        if (queued + running == 0)
            qs_jw_num(&w, "eta_s", 0);
        else if (active && elapsed > 0 && grun > 0)
            qs_jw_num(&w, "eta_s", gleft / (grun / elapsed));
        else
            qs_jw_null(&w, "eta_s");
        qs_jw_col(&w, "updated", st, 16);
        csv_list(&w, "datasets", (const char *)sqlite3_column_text(st, 17));
        csv_list(&w, "blocks", (const char *)sqlite3_column_text(st, 18));
        qs_jw_obj(&w, "dataset_phases");
        sqlite3_reset(ds);
        sqlite3_bind_int64(ds, 1, sqlite3_column_int64(st, 0));
        int d;
        while ((d = qs_api_step(ds)) == SQLITE_ROW)
            qs_jw_col(&w, (const char *)sqlite3_column_text(ds, 0), ds, 1);
        if (d != SQLITE_DONE) {
            rc = QS_EINTERNAL;
            goto cleanup;
        }
        qs_jw_end_obj(&w);
        qs_jw_end_obj(&w);
    }
    if (s != SQLITE_DONE) {
        rc = QS_EINTERNAL;
        goto cleanup;
    }
    qs_jw_end_arr(&w);
    qs_jw_end_obj(&w);
cleanup:
    sqlite3_finalize(st);
    sqlite3_finalize(ds);
    return rc;
}

static const char failures_sql[] =
    "SELECT sweep, phase_id, parent_id, phase, model, dataset, block, depth, width, wbits, abits,"
    " regularizer, clr, seed, attempts, epochs_done, epochs, error, finished"
    " FROM runs WHERE status = 'failed' AND (?1 IS NULL OR sweep = ?1)"
    " ORDER BY finished DESC NULLS LAST, phase_id LIMIT ?2";

/* Failures grouped by reason, most frequent first: one diverged float
 * phase fails all its children with "parent failed: diverged". The epoch
 * and loss of a divergence ("diverged at epoch 3: train loss ...") are
 * left out of the reason, or every diverged phase would be a reason of its
 * own (the same grouping as docs/queries.md's query). */
static const char reasons_sql[] =
    "SELECT CASE WHEN instr(error, ' at epoch ') > 0"
    " THEN substr(error, 1, instr(error, ' at epoch ') - 1)"
    " ELSE coalesce(error, 'unknown') END AS error, count(*) AS n FROM runs"
    " WHERE status = 'failed' AND (?1 IS NULL OR sweep = ?1)"
    " GROUP BY 1 ORDER BY n DESC, 1";

int qs_api_failures(qs_api_req *r)
{
    const char *sweep;
    long long limit;
    sqlite3_stmt *st = NULL;
    int rc = qs_api_sweep_limit(r, &sweep, &limit);
    if (rc)
        return rc;
    qs_jw w;
    qs_jw_init(&w, &r->resp->body);
    qs_jw_obj(&w, NULL);

    rc = qs_api_prepare_sweep(r->db, reasons_sql, sweep, 0, &st);
    if (rc)
        goto cleanup;
    long long total = 0;
    int s, nreasons = 0;
    qs_jw_arr(&w, "reasons");
    while ((s = qs_api_step(st)) == SQLITE_ROW) {
        total += sqlite3_column_int64(st, 1);
        /* The long tail of one-off messages is in the rows below. */
        if (nreasons++ < 50)
            qs_jw_row(&w, NULL, st);
    }
    if (s != SQLITE_DONE) {
        rc = QS_EINTERNAL;
        goto cleanup;
    }
    qs_jw_end_arr(&w);
    qs_jw_int(&w, "total", total);
    sqlite3_finalize(st);
    st = NULL;

    rc = qs_api_prepare_sweep(r->db, failures_sql, sweep, limit, &st);
    if (rc)
        goto cleanup;
    rc = qs_api_rows(&w, "rows", st);
    if (!rc)
        qs_jw_end_obj(&w);
cleanup:
    sqlite3_finalize(st);
    return rc;
}
