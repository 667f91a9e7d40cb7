/* `qsweep status [--db results.db]`: one line per sweep (phases done /
 * running / failed / queued, throughput, ETA), then its failed phases with
 * the reason. Read-only: safe while a sweep writes (WAL readers never block
 * the writer), and it never creates or alters a file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "db_lock.h"
#include "err.h"

/* Failed phases listed per sweep; the rest are counted (docs/queries.md has
 * the query for all of them). */
#define MAX_FAILED_SHOWN 20

static void usage(FILE *f)
{
    fprintf(f, "usage: qsweep status [--db results.db]\n"
               "one line per sweep: phases done/running/failed/queued, img/s, ETA;\n"
               "then each failed phase with its reason. Read-only.\n");
}

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

static int print_failed(qs_db *db, const char *sweep)
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
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (++n > MAX_FAILED_SHOWN)
            continue;
        char bits[16];
        const char *err = (const char *)sqlite3_column_text(st, 6);
        bits_label(bits, sizeof bits, sqlite3_column_int(st, 2), sqlite3_column_int(st, 3));
        const char *reg = (const char *)sqlite3_column_text(st, 4);
        printf("  failed: %s %s %s%s%s seed %lld (%.12s): %s\n",
               (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
               bits, reg && strcmp(reg, "none") ? " " : "", reg && strcmp(reg, "none") ? reg : "",
               (long long)sqlite3_column_int64(st, 5), (const char *)sqlite3_column_text(st, 7),
               err ? err : "(no reason recorded)");
    }
    if (s != SQLITE_DONE)
        rc = qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
    if (n > MAX_FAILED_SHOWN)
        printf("  ... and %d more failed (docs/queries.md: failures)\n", n - MAX_FAILED_SHOWN);
    sqlite3_finalize(st);
    return rc;
}

int qs_cmd_status(int argc, char **argv)
{
    const char *path = "results.db";
    qs_db db;
    sqlite3_stmt *st = NULL;
    int rc, nsweep = 0, s;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--db") && i + 1 < argc) {
            path = argv[++i];
            continue;
        }
        fprintf(stderr, "qsweep status: unexpected argument \"%s\"\n", argv[i]);
        usage(stderr);
        return 2;
    }
    if ((rc = qs_db_open(&db, path, 1))) {
        fprintf(stderr, "qsweep status: %s\n", qs_errmsg());
        return 2;
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
                           "finished >= started) FROM sweeps ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = qs_err(QS_EIO, "%s: %s", path, sqlite3_errmsg(db.h));
        goto cleanup;
    }
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
            p.img_per_s = 0;
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
        printf("%s: %d/%d done, %d running, %d failed, %d queued%s; %.1f img/s; %s\n", name,
               p.done, total, running, p.failed, p.queued, interrupted, p.img_per_s, eta);
        if (p.failed && (rc = print_failed(&db, name)))
            goto cleanup;
    }
    if (s != SQLITE_DONE) {
        rc = qs_err(QS_EIO, "%s: %s", path, sqlite3_errmsg(db.h));
        goto cleanup;
    }
    if (nsweep == 0)
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
