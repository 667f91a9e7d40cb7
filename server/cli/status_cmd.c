/* `qsweep status [--db results.db] [--sweep NAME] [--json]`: one line per sweep (phases done /
 * running / failed / queued, throughput, ETA), then its failed phases with
 * the reason. Read-only: safe while a sweep writes (WAL readers never block
 * the writer), and it never creates or alters a file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "db_lock.h"
#include "err.h"
#include "jsonw.h"

/* Failed phases listed per sweep; the rest are counted (docs/queries.md has
 * the query for all of them). */
#define MAX_FAILED_SHOWN 20

static const qs_opt status_opts[] = {
    {"--db", "FILE", "results database, opened read-only (default results.db)"},
    {"--sweep", "NAME", "only this sweep (an error if the database has none of that name)"},
    {"--json", NULL, "one JSON object per sweep instead of the text lines (docs/cli.md)"},
    {NULL, NULL, NULL}};
static const qs_cmd_spec status_spec = {
    "status", "status [--db results.db] [--sweep NAME] [--json]", status_opts,
    "one line per sweep: phases done/running/failed/queued, img/s (points/s for\n"
    "synthetic data), ETA; then each failed phase with its reason. Read-only.\n",
    0, 0, NULL};

static void fmt_eta(char *out, size_t cap, double s)
{
    if (s < 0) {
        snprintf(out, cap, "unknown");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 86400)
        snprintf(out, cap, "%ldd %ldh", t / 86400, t % 86400 / 3600);
    else if (t >= 3600)
        snprintf(out, cap, "%ldh %02ldm", t / 3600, t % 3600 / 60);
    else if (t >= 60)
        snprintf(out, cap, "%ldm %02lds", t / 60, t % 60);
    else
        snprintf(out, cap, "%lds", t);
}

/* "float", "w2a2", "w2af", "wfa2": the bit labels of the paper's tables. */
static void bits_label(char *out, size_t cap, int wb, int ab)
{
    if (wb == 32 && ab == 32)
        snprintf(out, cap, "float");
    else if (wb == 32)
        snprintf(out, cap, "wfa%d", ab);
    else if (ab == 32)
        snprintf(out, cap, "w%daf", wb);
    else
        snprintf(out, cap, "w%da%d", wb, ab);
}

/* The sweep's failed phases, own failures first: text lines (at most
 * MAX_FAILED_SHOWN) or, with w, a "failed_phases" array of every one. */
static int print_failed(qs_db *db, const char *sweep, qs_jw *w)
{
    sqlite3_stmt *st = NULL;
    int rc = QS_OK, n = 0, s;
    const char *sql =
        "SELECT p.model, p.phase, p.wbits, p.abits, p.regularizer, p.seed, p.error, p.id "
        "FROM sweep_phases sp JOIN sweeps w ON w.id = sp.sweep_id "
        "JOIN phases p ON p.id = sp.phase_id "
        "WHERE w.name = ? AND p.status = 'failed' "
        "ORDER BY (p.error LIKE 'parent failed:%'), p.updated, p.id";
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
        return qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
    sqlite3_bind_text(st, 1, sweep, -1, SQLITE_STATIC);
    if (w)
        qs_jw_arr(w, "failed_phases");
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *model = (const char *)sqlite3_column_text(st, 0);
        const char *phase = (const char *)sqlite3_column_text(st, 1);
        const char *reg = (const char *)sqlite3_column_text(st, 4);
        const char *err = (const char *)sqlite3_column_text(st, 6);
        const char *id = (const char *)sqlite3_column_text(st, 7);
        int wb = sqlite3_column_int(st, 2), ab = sqlite3_column_int(st, 3);
        long long seed = (long long)sqlite3_column_int64(st, 5);
        if (w) {
            qs_jw_obj(w, NULL);
            qs_jw_str(w, "phase_id", id);
            qs_jw_str(w, "model", model);
            qs_jw_str(w, "phase", phase);
            qs_jw_int(w, "wbits", wb);
            qs_jw_int(w, "abits", ab);
            qs_jw_str(w, "regularizer", reg);
            qs_jw_int(w, "seed", seed);
            qs_jw_str(w, "error", err);
            qs_jw_end_obj(w);
            continue;
        }
        if (++n > MAX_FAILED_SHOWN)
            continue;
        char bits[16];
        bits_label(bits, sizeof bits, wb, ab);
        printf("  failed: %s %s %s%s%s seed %lld (%.12s): %s\n", model, phase, bits,
               reg && strcmp(reg, "none") ? " " : "", reg && strcmp(reg, "none") ? reg : "",
               seed, id, err ? err : "(no reason recorded)");
    }
    if (s != SQLITE_DONE)
        rc = qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
    if (w)
        qs_jw_end_arr(w);
    else if (n > MAX_FAILED_SHOWN)
        printf("  ... and %d more failed (docs/queries.md: failures)\n", n - MAX_FAILED_SHOWN);
    sqlite3_finalize(st);
    return rc;
}

/* --json: the same numbers as the text line, one object per sweep; rates
 * and the ETA are null when not measured; failed_phases lists each failed
 * phase with its reason (empty when none). */
static int print_json(qs_db *db, const char *name, int state, const qs_db_progress *p,
                      int running, int interrupted)
{
    qs_buf b;
    qs_jw w;
    qs_buf_init(&b);
    qs_jw_init(&w, &b);
    qs_jw_obj(&w, NULL);
    qs_jw_str(&w, "sweep", name);
    qs_jw_str(&w, "state", qs_sweep_state_name(state));
    qs_jw_int(&w, "total", p->done + p->running + p->failed + p->queued);
    qs_jw_int(&w, "done", p->done);
    qs_jw_int(&w, "running", running);
    qs_jw_int(&w, "interrupted", interrupted);
    qs_jw_int(&w, "failed", p->failed);
    qs_jw_int(&w, "queued", p->queued);
    qs_jw_num(&w, "img_per_s", running && p->img_per_s > 0 ? p->img_per_s : NAN);
    qs_jw_num(&w, "points_per_s", running && p->points_per_s > 0 ? p->points_per_s : NAN);
    qs_jw_num(&w, "eta_s", state == QS_SWEEP_FINISHED ? 0
                           : state == QS_SWEEP_RUNNING && p->eta_s >= 0 ? p->eta_s : NAN);
    int rc = print_failed(db, name, &w);
    qs_jw_end_obj(&w);
    if (rc == QS_OK)
        rc = qs_buf_ok(&b);
    if (rc == QS_OK)
        printf("%s\n", b.p);
    qs_buf_free(&b);
    return rc;
}

static int sweep_exists(qs_db *db, const char *name, int *found)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, "SELECT 1 FROM sweeps WHERE name = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    *found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return QS_OK;
}

int qs_cmd_status(int argc, char **argv)
{
    const char *path, *only;
    qs_db db;
    qs_args a;
    sqlite3_stmt *st = NULL;
    int rc, nsweep = 0, s, json;
    if ((rc = qs_args_parse(&a, &status_spec, argc, argv)) >= 0)
        return rc;
    path = qs_arg(&a, "--db") ? qs_arg(&a, "--db") : "results.db";
    only = qs_arg(&a, "--sweep");
    json = qs_arg_given(&a, "--json");
    if ((rc = qs_db_open(&db, path, 1))) {
        fprintf(stderr, "qsweep status: %s\n", qs_errmsg());
        return 2;
    }
    if (only) {
        int found = 0;
        if ((rc = sweep_exists(&db, only, &found)))
            goto cleanup;
        if (!found) {
            rc = qs_err(QS_EINVAL, "%s has no sweep named \"%s\" (qsweep status --db %s lists "
                        "them)", path, only, path);
            goto cleanup;
        }
    }
    /* Liveness from what is read (the claim's heartbeat and pid): status
     * never writes, and may run where the database is read-only. */
    qs_db_claim_view claim;
    double now = qs_db_lock_now();
    if ((rc = qs_db_claim_view_get(&claim, db.h, now))) {
        rc = qs_err_wrap(rc, "%s", path);
        goto cleanup;
    }
    if (sqlite3_prepare_v2(db.h, "SELECT name, finished IS NOT NULL AND (started IS NULL OR "
                           "finished >= started) FROM sweeps WHERE ?1 IS NULL OR name = ?1 "
                           "ORDER BY id", -1, &st, NULL) != SQLITE_OK) {
        rc = qs_err(QS_EIO, "%s: %s", path, sqlite3_errmsg(db.h));
        goto cleanup;
    }
    if (only)
        sqlite3_bind_text(st, 1, only, -1, SQLITE_STATIC);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int ended = sqlite3_column_int(st, 1);
        qs_db_progress p;
        char eta[512], gone[384], interrupted[48] = "";
        nsweep++;
        if ((rc = qs_db_progress_get(&db, name, &p)))
            goto cleanup;
        int total = p.done + p.running + p.failed + p.queued;
        int state = qs_sweep_state(&claim, name, p.running + p.queued, p.running, ended);
        /* Rows left 'running' by a coordinator that is gone stay so in the
         * file until the rerun requeues them; shown for what they are. */
        int running = p.running;
        if (running && !qs_running_is_live(&claim)) {
            snprintf(interrupted, sizeof interrupted, ", %d interrupted", running);
            running = 0;
            p.img_per_s = p.points_per_s = 0;
        }
        if (json) {
            if ((rc = print_json(&db, name, state, &p, running, p.running - running)))
                goto cleanup;
            continue;
        }
        if (state == QS_SWEEP_FINISHED) {
            snprintf(eta, sizeof eta, "nothing left");
        } else if (state == QS_SWEEP_STOPPED) {
            snprintf(eta, sizeof eta, "stopped (run the grid again to continue)");
        } else if (state == QS_SWEEP_INTERRUPTED) {
            /* The claim names this sweep's coordinator only if no other
             * took the database since. */
            int ours = claim.h.present && !claim.alive && !strcmp(claim.h.sweep, name);
            if (ours)
                qs_db_holder_describe(gone, sizeof gone, &claim.h, now);
            snprintf(eta, sizeof eta, "interrupted: its coordinator is gone%s%s%s; run the grid "
                     "again to continue", ours ? " (" : "", ours ? gone : "", ours ? ")" : "");
        } else {
            char t[24];
            fmt_eta(t, sizeof t, p.eta_s);
            snprintf(eta, sizeof eta, "ETA %s", t);
        }
        /* Images and points are not one unit: each rate is shown on its
         * own, img/s alone when neither was measured. */
        char rate[96] = "";
        if (p.img_per_s > 0 || !(p.points_per_s > 0))
            snprintf(rate, sizeof rate, "; %.1f img/s", p.img_per_s);
        if (p.points_per_s > 0)
            snprintf(rate + strlen(rate), sizeof rate - strlen(rate), "; %.0f points/s",
                     p.points_per_s);
        printf("%s: %d/%d done, %d running, %d failed, %d queued%s%s; %s\n", name, p.done,
               total, running, p.failed, p.queued, interrupted, rate, eta);
        if (p.failed && (rc = print_failed(&db, name, NULL)))
            goto cleanup;
    }
    if (s != SQLITE_DONE) {
        rc = qs_err(QS_EIO, "%s: %s", path, sqlite3_errmsg(db.h));
        goto cleanup;
    }
    if (nsweep == 0 && !json)
        printf("%s: no sweeps yet\n", path);
cleanup:
    sqlite3_finalize(st);
    qs_db_close(&db);
    if (rc) {
        fprintf(stderr, "qsweep status: %s\n", qs_errmsg());
        return qs_exit_status(rc);
    }
    return 0;
}
