/* The results database layer (server/db/db.c): file checks on open, sweep
 * registration, requeue / retry, progress, read-only use next to a writer.
 * Real SQLite files in a temporary directory. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "db_lock.h"
#include "err.h"
#include "grid.h"
#include "tharness.h"

static char tmpdir[64];

static const char *tpath(const char *name)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

/* The whole file, malloc'd (NULL if missing). */
static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(*n + 1);
    if (b && fread(b, 1, *n, f) != *n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

static long long count(qs_db *db, const char *sql)
{
    sqlite3_stmt *st;
    long long n = -1;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
        return -2;
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static int exec(qs_db *db, const char *sql)
{
    return sqlite3_exec(db->h, sql, NULL, NULL, NULL);
}

static const char *GRID =
    "{\"name\": \"t\", \"axes\": {\"arch\": \"fcdnn\", \"depth\": 3, \"width\": [8, 16],"
    " \"wbits\": [32, 2], \"abits\": [32, 2], \"seed\": [1, 2]},"
    " \"float\": {\"epochs\": 2}, \"retrain\": {\"epochs\": 1}}";

static int load_grid(qs_grid *g, const char *text)
{
    char *errors = NULL;
    int rc = qs_grid_parse(g, text, "test.json", 0, &errors);
    if (rc)
        fprintf(stderr, "%s\n", errors ? errors : qs_errmsg());
    free(errors);
    return rc;
}

static void db_create_new(void)
{
    qs_db db;
    const char *p = tpath("new.db");
    T_CHECK(qs_db_open(&db, p, 0) == QS_OK, "open: %s", qs_errmsg());
    T_CHECK(count(&db, "SELECT count(*) FROM meta WHERE key = 'schema_version' AND value = '1'") == 1,
            "schema_version");
    T_CHECK(count(&db, "SELECT count(*) FROM meta WHERE key = 'application' AND value = 'qsweep'") == 1,
            "application");
    T_CHECK(count(&db, "SELECT count(*) FROM runs") == 0, "runs view");
    sqlite3_stmt *st;
    T_CHECK(sqlite3_prepare_v2(db.h, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK, "pragma");
    T_CHECK(sqlite3_step(st) == SQLITE_ROW, "pragma row");
    int wal = strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    T_CHECK(wal, "journal mode is not WAL");
    qs_db_close(&db);
    /* Reopen both ways. */
    T_CHECK(qs_db_open(&db, p, 0) == QS_OK, "reopen: %s", qs_errmsg());
    qs_db_close(&db);
    T_CHECK(qs_db_open(&db, p, 1) == QS_OK, "reopen read-only: %s", qs_errmsg());
    T_CHECK(db.readonly == 1, "readonly flag");
    T_CHECK(exec(&db, "INSERT INTO meta VALUES ('x', 'y')") != SQLITE_OK, "read-only wrote");
    qs_db_close(&db);
}

static void db_zero_byte_file(void)
{
    qs_db db;
    const char *p = tpath("zero.db");
    write_file(p, "", 0);
    T_CHECK(qs_db_open(&db, p, 1) != QS_OK, "read-only open of an empty file succeeded");
    struct stat sb;
    T_CHECK(stat(p, &sb) == 0 && sb.st_size == 0, "read-only open changed the empty file");
    T_CHECK(qs_db_open(&db, p, 0) == QS_OK, "open: %s", qs_errmsg());
    T_CHECK(count(&db, "SELECT count(*) FROM meta") == 2, "meta rows");
    qs_db_close(&db);
}

static void db_readonly_missing(void)
{
    qs_db db;
    const char *p = tpath("missing.db");
    int rc = qs_db_open(&db, p, 1);
    T_CHECK(rc != QS_OK, "read-only open of a missing file succeeded");
    T_CHECK(strstr(qs_errmsg(), "missing.db") && strstr(qs_errmsg(), "no such database"),
            "message: %s", qs_errmsg());
    T_CHECK(access(p, F_OK) != 0, "read-only open created the file");
}

static void db_text_file_untouched(void)
{
    qs_db db;
    const char *p = tpath("notes.txt");
    const char *text = "my precious notes\nline 2\n";
    write_file(p, text, strlen(text));
    for (int ro = 0; ro < 2; ro++) {
        int rc = qs_db_open(&db, p, ro);
        T_CHECK(rc == QS_EFORMAT, "rc %d", rc);
        T_CHECK(strstr(qs_errmsg(), p) && strstr(qs_errmsg(), "not a SQLite database"),
                "message: %s", qs_errmsg());
        size_t n;
        char *b = read_file(p, &n);
        int same = b && n == strlen(text) && memcmp(b, text, n) == 0;
        free(b);
        T_CHECK(same, "file changed");
    }
    /* Shorter than a SQLite header. */
    const char *q = tpath("short.db");
    write_file(q, "SQLite", 6);
    T_CHECK(qs_db_open(&db, q, 0) == QS_EFORMAT, "short file accepted");
}

static void db_foreign_sqlite_untouched(void)
{
    qs_db db;
    sqlite3 *h;
    const char *p = tpath("foreign.db");
    T_CHECK(sqlite3_open(p, &h) == SQLITE_OK, "sqlite open");
    sqlite3_exec(h, "CREATE TABLE customers(id INTEGER, name TEXT); "
                    "INSERT INTO customers VALUES (1, 'a')", NULL, NULL, NULL);
    sqlite3_close(h);
    size_t n0, n1;
    char *before = read_file(p, &n0);
    T_CHECK(before, "read");
    int rc = qs_db_open(&db, p, 0);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", qs_errmsg());
    char *after = read_file(p, &n1);
    int same = after && n0 == n1 && memcmp(before, after, n0) == 0;
    free(before);
    free(after);
    T_CHECK(rc == QS_EFORMAT, "rc %d", rc);
    T_CHECK(strstr(msg, "not a qsweep database") && strstr(msg, "foreign.db"), "message: %s", msg);
    T_CHECK(same, "foreign database changed");
    T_CHECK(qs_db_open(&db, p, 1) == QS_EFORMAT, "read-only open accepted it");
}

static void db_other_schema_version(void)
{
    qs_db db;
    const char *p = tpath("v2.db");
    T_CHECK(qs_db_open(&db, p, 0) == QS_OK, "create: %s", qs_errmsg());
    exec(&db, "UPDATE meta SET value = '2' WHERE key = 'schema_version'");
    qs_db_close(&db);
    int rc = qs_db_open(&db, p, 0);
    T_CHECK(rc == QS_EFORMAT, "rc %d", rc);
    T_CHECK(strstr(qs_errmsg(), "schema version 2") && strstr(qs_errmsg(), "reads version 1"),
            "message: %s", qs_errmsg());
}

static void db_sweep_begin_idempotent(void)
{
    qs_db db;
    qs_grid g;
    int64_t id1 = 0, id2 = 0;
    T_CHECK(load_grid(&g, GRID) == QS_OK, "grid");
    T_CHECK(g.njobs == 16, "njobs %d", g.njobs);
    T_CHECK(qs_db_open(&db, tpath("sweep.db"), 0) == QS_OK, "open: %s", qs_errmsg());
    T_CHECK(qs_db_sweep_begin(&db, &g, "host1", "v1", 3, &id1) == QS_OK, "begin: %s", qs_errmsg());
    T_CHECK(count(&db, "SELECT count(*) FROM phases") == 16, "phases");
    T_CHECK(count(&db, "SELECT count(*) FROM runs WHERE sweep = 't'") == 16, "runs");
    T_CHECK(count(&db, "SELECT count(*) FROM phases WHERE status = 'queued'") == 16, "queued");
    T_CHECK(count(&db, "SELECT count(*) FROM phases WHERE phase = 'float' AND parent_id IS NULL") == 4,
            "floats");
    T_CHECK(count(&db, "SELECT count(*) FROM phases c JOIN phases p ON p.id = c.parent_id "
                       "WHERE c.phase = 'retrain' AND p.phase = 'float' AND p.depth = c.depth "
                       "AND p.width = c.width AND p.seed = c.seed") == 12, "retrain parents");
    T_CHECK(count(&db, "SELECT count(*) FROM phases WHERE model = 'fcdnn-16-3' AND params > 0 "
                       "AND gflop > 0 AND bops > 0 AND model_bits > 0 AND block IS NULL") == 8,
            "columns");
    /* A run in progress, then killed: one done, one running. */
    T_CHECK(exec(&db, "UPDATE phases SET status = 'done', test_acc = 91.5 WHERE id = "
                      "(SELECT id FROM phases ORDER BY id LIMIT 1)") == SQLITE_OK, "update");
    T_CHECK(exec(&db, "UPDATE phases SET status = 'running' WHERE id = "
                      "(SELECT id FROM phases ORDER BY id DESC LIMIT 1)") == SQLITE_OK, "update");
    T_CHECK(qs_db_sweep_begin(&db, &g, "host2", "v2", 5, &id2) == QS_OK, "begin 2: %s", qs_errmsg());
    T_CHECK(id1 == id2, "sweep id changed %lld %lld", (long long)id1, (long long)id2);
    T_CHECK(count(&db, "SELECT count(*) FROM sweeps") == 1, "sweeps");
    T_CHECK(count(&db, "SELECT ranks FROM sweeps") == 5, "ranks not updated");
    T_CHECK(count(&db, "SELECT count(*) FROM phases") == 16, "phases after rerun");
    T_CHECK(count(&db, "SELECT count(*) FROM phases WHERE status = 'running'") == 0, "running left");
    T_CHECK(count(&db, "SELECT count(*) FROM phases WHERE status = 'done' AND test_acc = 91.5") == 1,
            "done phase lost");
    T_CHECK(qs_db_sweep_end(&db, id2) == QS_OK, "end");
    T_CHECK(count(&db, "SELECT count(*) FROM sweeps WHERE finished > started") == 1, "finished");
    qs_db_close(&db);
    /* Read-only handles refuse to register. */
    T_CHECK(qs_db_open(&db, tpath("sweep.db"), 1) == QS_OK, "open ro");
    T_CHECK(qs_db_sweep_begin(&db, &g, "h", "v", 1, &id1) != QS_OK, "read-only begin");
    qs_db_close(&db);
    qs_grid_free(&g);
}

static void db_edited_grid_relinks(void)
{
    qs_db db;
    qs_grid g1, g2;
    int64_t id;
    char text[1024];
    snprintf(text, sizeof text, "%.*s, \"threads\": 2}", (int)strlen(GRID) - 1, GRID);
    T_CHECK(load_grid(&g1, GRID) == QS_OK && load_grid(&g2, text) == QS_OK, "grids");
    T_CHECK(qs_db_open(&db, tpath("edit.db"), 0) == QS_OK, "open");
    T_CHECK(qs_db_sweep_begin(&db, &g1, "h", "v", 2, &id) == QS_OK, "begin 1");
    T_CHECK(qs_db_sweep_begin(&db, &g2, "h", "v", 2, &id) == QS_OK, "begin 2");
    /* threads is part of every id: 16 new phases, the old rows kept. */
    T_CHECK(count(&db, "SELECT count(*) FROM phases") == 32, "phases");
    T_CHECK(count(&db, "SELECT count(*) FROM runs WHERE threads = 2") == 16, "runs now");
    T_CHECK(count(&db, "SELECT count(*) FROM runs") == 16, "stale links");
    qs_db_close(&db);
    qs_grid_free(&g1);
    qs_grid_free(&g2);
}

static void db_retry_failed(void)
{
    qs_db db;
    qs_grid g;
    int64_t id;
    T_CHECK(load_grid(&g, GRID) == QS_OK, "grid");
    T_CHECK(qs_db_open(&db, tpath("retry.db"), 0) == QS_OK, "open");
    T_CHECK(qs_db_sweep_begin(&db, &g, "h", "v", 2, &id) == QS_OK, "begin");
    exec(&db, "UPDATE phases SET status = 'failed', error = 'diverged', attempts = 2 "
              "WHERE phase = 'retrain' AND wbits = 2 AND abits = 2");
    T_CHECK(count(&db, "SELECT count(*) FROM phases WHERE status = 'failed'") == 4, "failed");
    T_CHECK(qs_db_retry_failed(&db, id) == QS_OK, "retry: %s", qs_errmsg());
    T_CHECK(count(&db, "SELECT count(*) FROM phases WHERE status = 'failed'") == 0, "still failed");
    T_CHECK(count(&db, "SELECT count(*) FROM phases WHERE attempts = 2 AND status = 'queued' "
                       "AND error IS NULL") == 4, "attempts or error");
    qs_db_close(&db);
    qs_grid_free(&g);
}

static void db_progress(void)
{
    qs_db db;
    qs_grid g;
    qs_db_progress p;
    int64_t id;
    T_CHECK(load_grid(&g, GRID) == QS_OK, "grid");
    T_CHECK(qs_db_open(&db, tpath("progress.db"), 0) == QS_OK, "open");
    T_CHECK(qs_db_sweep_begin(&db, &g, "h", "v", 3, &id) == QS_OK, "begin");
    T_CHECK(qs_db_progress_get(&db, "t", &p) == QS_OK, "progress: %s", qs_errmsg());
    T_CHECK(p.queued == 16 && p.done == 0 && p.running == 0 && p.failed == 0, "counts");
    T_CHECK(p.eta_s < 0, "eta known without data: %g", p.eta_s);
    double total = 0;
    for (int i = 0; i < g.njobs; i++)
        total += g.jobs[i].gflop;
    T_CHECK(T_CLOSE(p.gflop_left, total, 1e-9, 0), "gflop_left %g vs %g", p.gflop_left, total);
    /* Make every phase cost 10 GFLOP: the 4 floats done in 5 s each (2
     * GFLOP/s per rank), 2 running half way, 1 failed. */
    exec(&db, "UPDATE phases SET gflop = 10");
    exec(&db, "UPDATE phases SET status = 'done', seconds = 5, finished = 100 WHERE phase = 'float'");
    exec(&db, "UPDATE phases SET status = 'running', epochs_done = epochs / 2.0, epochs = 2 "
              "WHERE id IN (SELECT id FROM phases WHERE phase = 'retrain' ORDER BY id LIMIT 2)");
    exec(&db, "UPDATE phases SET epochs_done = 1 WHERE status = 'running'");
    exec(&db, "UPDATE phases SET status = 'failed', error = 'diverged' WHERE id = "
              "(SELECT id FROM phases WHERE status = 'queued' ORDER BY id LIMIT 1)");
    exec(&db, "INSERT INTO epochs(phase_id, epoch, img_per_s) SELECT id, 1, 100 FROM phases "
              "WHERE status = 'running'");
    exec(&db, "INSERT INTO epochs(phase_id, epoch, img_per_s) SELECT id, 2, 300 FROM phases "
              "WHERE status = 'running'");
    T_CHECK(qs_db_progress_get(&db, "t", &p) == QS_OK, "progress: %s", qs_errmsg());
    T_CHECK(p.done == 4 && p.running == 2 && p.failed == 1 && p.queued == 9, "counts %d %d %d %d",
            p.done, p.running, p.failed, p.queued);
    /* The grid is synthetic: its examples are points, summed apart from images. */
    T_CHECK(T_CLOSE(p.points_per_s, 600, 1e-9, 0) && p.img_per_s == 0,
            "points_per_s %g (latest epoch of each), img_per_s %g", p.points_per_s, p.img_per_s);
    /* Left: 9 queued x 10 + 2 running x 5 = 100; done 40 + 2 x 5 = 50. */
    T_CHECK(T_CLOSE(p.gflop_left, 100, 1e-9, 0), "gflop_left %g", p.gflop_left);
    T_CHECK(T_CLOSE(p.gflop_done, 50, 1e-9, 0), "gflop_done %g", p.gflop_done);
    /* 2 GFLOP/s per rank x 2 running ranks: 100 / 4 = 25 s. */
    T_CHECK(T_CLOSE(p.eta_s, 25, 1e-9, 0), "eta %g", p.eta_s);
    /* Whole file = the same here; an unknown sweep has nothing. */
    qs_db_progress all;
    T_CHECK(qs_db_progress_get(&db, NULL, &all) == QS_OK && all.done == 4 && all.queued == 9,
            "all");
    T_CHECK(qs_db_progress_get(&db, "nope", &all) == QS_OK && all.done + all.queued == 0, "nope");
    qs_db_close(&db);
    qs_grid_free(&g);
}

/* `qsweep status` reads while the coordinator holds a write transaction. */
static void db_readonly_while_writing(void)
{
    qs_db w, r;
    qs_grid g;
    qs_db_progress p;
    int64_t id;
    T_CHECK(load_grid(&g, GRID) == QS_OK, "grid");
    T_CHECK(qs_db_open(&w, tpath("busy.db"), 0) == QS_OK, "open");
    T_CHECK(qs_db_sweep_begin(&w, &g, "h", "v", 2, &id) == QS_OK, "begin");
    T_CHECK(exec(&w, "BEGIN IMMEDIATE") == SQLITE_OK, "writer tx");
    exec(&w, "UPDATE phases SET status = 'done'");
    T_CHECK(qs_db_open(&r, tpath("busy.db"), 1) == QS_OK, "reader open: %s", qs_errmsg());
    T_CHECK(qs_db_progress_get(&r, "t", &p) == QS_OK, "reader: %s", qs_errmsg());
    T_CHECK(p.queued == 16 && p.done == 0, "reader saw uncommitted data");
    T_CHECK(exec(&w, "COMMIT") == SQLITE_OK, "commit");
    T_CHECK(qs_db_progress_get(&r, "t", &p) == QS_OK && p.done == 16, "reader after commit");
    qs_db_close(&r);
    qs_db_close(&w);
    qs_grid_free(&g);
}

/* The coordinator claim (db_lock.h): a second claim is refused while the
 * first is alive (this process, fresh heartbeat), and the message names it;
 * a stale heartbeat is taken over; the first holder then finds its claim
 * lost within a few beats; readers see the state without writing. */
static void db_claim(void)
{
    qs_db a, b, r;
    qs_db_lock la, lb;
    qs_db_holder h;
    qs_db_claim_view v;
    char note[512], host[64] = "";
    int known;
    gethostname(host, sizeof host - 1);
    T_CHECK(qs_db_open(&a, tpath("claim.db"), 0) == QS_OK, "open: %s", qs_errmsg());
    T_CHECK(qs_db_open(&b, tpath("claim.db"), 0) == QS_OK, "open 2: %s", qs_errmsg());
    T_CHECK(qs_db_lock_claim(&la, &a, "s1", 0, NULL, note, sizeof note) == QS_OK, "claim: %s",
            qs_errmsg());
    T_CHECK(!note[0], "a note on a free database: %s", note);
    T_CHECK(qs_db_lock_claim(&lb, &b, "s2", 0, NULL, note, sizeof note) == QS_EBUSY, "second claim");
    T_CHECK(strstr(qs_errmsg(), host) && strstr(qs_errmsg(), "sweep \"s1\"") &&
            strstr(qs_errmsg(), " UTC"), "message: %s", qs_errmsg());
    T_CHECK(qs_db_open(&r, tpath("claim.db"), 1) == QS_OK, "reader");
    T_CHECK(qs_db_claim_view_get(&v, r.h, qs_db_lock_now()) == QS_OK && v.known && v.alive,
            "reader: the claim is not alive");
    T_CHECK(qs_sweep_state(&v, "s1", 3, 1, 0) == QS_SWEEP_RUNNING, "s1 running");
    T_CHECK(qs_sweep_state(&v, "s2", 3, 1, 0) == QS_SWEEP_INTERRUPTED, "s2 not run by it");
    T_CHECK(qs_sweep_state(&v, "s2", 3, 0, 1) == QS_SWEEP_STOPPED, "s2 ended");
    T_CHECK(qs_sweep_state(&v, "s2", 0, 0, 0) == QS_SWEEP_FINISHED, "s2 nothing left");
    /* The heartbeat moves on while nothing else happens. */
    T_CHECK(qs_db_holder_get(&h, &known, r.h) == QS_OK, "holder");
    double hb = h.heartbeat;
    for (int i = 0; i < 200 && h.heartbeat == hb; i++) {
        usleep(50000);
        qs_db_holder_get(&h, &known, r.h);
    }
    T_CHECK(h.heartbeat > hb, "no heartbeat in 10 s");
    /* Stale: the second claimant takes over, and the first finds out. */
    exec(&a, "UPDATE coordinator SET heartbeat = heartbeat - 3600");
    T_CHECK(qs_db_claim_view_get(&v, r.h, qs_db_lock_now()) == QS_OK && !v.alive,
            "a stale claim looks alive");
    T_CHECK(qs_db_lock_claim(&lb, &b, "s2", 0, NULL, note, sizeof note) == QS_OK, "take-over: %s",
            qs_errmsg());
    T_CHECK(strstr(note, "took over the stale claim") && strstr(note, "sweep \"s1\""), "note: %s",
            note);
    int rc = QS_OK;
    for (int i = 0; i < 200 && (rc = qs_db_lock_check(&la)) == QS_OK; i++)
        usleep(50000);
    T_CHECK(rc == QS_EBUSY, "the first holder never noticed the take-over (%d)", rc);
    qs_db_lock_release(&la, &a);
    T_CHECK(count(&b, "SELECT count(*) FROM coordinator WHERE sweep = 's2'") == 1,
            "the lost holder's release removed the new claim");
    qs_db_lock_release(&lb, &b);
    T_CHECK(count(&b, "SELECT count(*) FROM coordinator") == 0, "release left the row");
    qs_db_close(&r);
    qs_db_close(&a);
    qs_db_close(&b);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/qs_test_db.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        printf("FAIL setup: mkdtemp\n");
        return 1;
    }
    T_RUN(db_create_new);
    T_RUN(db_zero_byte_file);
    T_RUN(db_readonly_missing);
    T_RUN(db_text_file_untouched);
    T_RUN(db_foreign_sqlite_untouched);
    T_RUN(db_other_schema_version);
    T_RUN(db_sweep_begin_idempotent);
    T_RUN(db_edited_grid_relinks);
    T_RUN(db_retry_failed);
    T_RUN(db_progress);
    T_RUN(db_readonly_while_writing);
    T_RUN(db_claim);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    T_EXIT();
}
