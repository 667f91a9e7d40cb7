/* The results database: opening with the file checks of db.h, registering a
 * sweep, progress. The schema text is sql/schema.sql, compiled in as
 * qs_schema_sql (Makefile: build/gen/schema_sql.o). */
#include "db.h"
#include "db_int.h"
#include "db_lock.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "clock.h"
#include "err.h"


int qs_db_sql_err(sqlite3 *h, const char *path, const char *msg)
{
    char why[640];
    if (sqlite3_errcode(h) == SQLITE_BUSY) {
        qs_db_busy_describe(why, sizeof why, h);
        msg = why;
    }
    return qs_err(QS_EIO, "%s: %s", path, msg ? msg : sqlite3_errmsg(h));
}

int qs_db_exec_sql(sqlite3 *h, const char *path, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = qs_db_sql_err(h, path, msg);
        sqlite3_free(msg);
        return rc;
    }
    return QS_OK;
}

static int exec_sql(qs_db *db, const char *sql) { return qs_db_exec_sql(db->h, db->path, sql); }

static int prep(qs_db *db, sqlite3_stmt **st, const char *sql)
{
    if (sqlite3_prepare_v2(db->h, sql, -1, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
    }
    return QS_OK;
}

static int step_err(qs_db *db) { return qs_db_sql_err(db->h, db->path, NULL); }

/* meta value for key into out ("" if absent). Returns QS_EFORMAT when the
 * file has no meta table (not ours). */
static int meta_get(qs_db *db, const char *key, char *out, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int rc = QS_OK;
    out[0] = 0;
    if (sqlite3_prepare_v2(db->h, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) !=
        SQLITE_OK) {
        /* "no such table" is the normal answer of a foreign database; a
         * locked or corrupt file is something else and says so. */
        const char *m = sqlite3_errmsg(db->h);
        rc = strstr(m, "no such table") ? QS_EFORMAT : qs_err(QS_EIO, "%s: %s", db->path, m);
        goto cleanup;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        snprintf(out, cap, "%s", v ? (const char *)v : "");
    } else if (s != SQLITE_DONE) {
        rc = step_err(db);
    }
cleanup:
    sqlite3_finalize(st);
    return rc;
}

/* First 16 bytes of the file, read with plain stdio before SQLite touches
 * it: SQLite would happily "open" a text file and fail later, and a
 * read-write open of a foreign file must not happen at all. */
static int check_header(const char *path, long long *size)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        *size = -1;
        return errno == ENOENT ? QS_OK : qs_err(QS_EIO, "%s: %s", path, strerror(errno));
    }
    if (!S_ISREG(sb.st_mode))
        return qs_err(QS_EFORMAT, "%s: not a regular file, so not a qsweep database", path);
    *size = (long long)sb.st_size;
    if (sb.st_size == 0)
        return QS_OK;
    FILE *f = fopen(path, "rb");
    if (!f)
        return qs_err(QS_EIO, "%s: cannot read: %s", path, strerror(errno));
    char head[16] = {0};
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (n < sizeof head || memcmp(head, "SQLite format 3", 16) != 0)
        return qs_err(QS_EFORMAT, "%s: not a SQLite database, so not a qsweep results "
                      "database (left untouched; give another --db)", path);
    return QS_OK;
}

/* Is the open file ours, of our schema version? */
static int check_identity(qs_db *db)
{
    char app[64], ver[32];
    int rc = meta_get(db, "application", app, sizeof app);
    if (rc == QS_EFORMAT || (rc == QS_OK && strcmp(app, "qsweep") != 0))
        return qs_err(QS_EFORMAT, "%s: a SQLite database but not a qsweep database (no "
                      "meta application = qsweep; left untouched; give another --db)",
                      db->path);
    if (rc)
        return rc;
    if ((rc = meta_get(db, "schema_version", ver, sizeof ver)))
        return rc;
    if (atoi(ver) != QS_DB_SCHEMA_VERSION || !ver[0])
        return qs_err(QS_EFORMAT, "%s: qsweep database of schema version %s; this qsweep "
                      "reads version %d (left untouched: use a matching qsweep, or another "
                      "--db)", db->path, ver[0] ? ver : "(none)", QS_DB_SCHEMA_VERSION);
    return QS_OK;
}

static int create_schema(qs_db *db)
{
    int rc;
    /* journal_mode cannot change inside a transaction: the schema's PRAGMA
     * runs first, then the tables and meta rows commit together. */
    if ((rc = exec_sql(db, "PRAGMA journal_mode = WAL")) || (rc = exec_sql(db, "BEGIN")))
        return rc;
    char meta[160];
    snprintf(meta, sizeof meta,
             "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', '%d'), "
             "('application', 'qsweep')", QS_DB_SCHEMA_VERSION);
    if ((rc = exec_sql(db, qs_schema_sql)) || (rc = exec_sql(db, meta))) {
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
        return qs_err_wrap(rc, "creating the schema");
    }
    return exec_sql(db, "COMMIT");
}

static int open_h(qs_db *db, int flags)
{
    if (sqlite3_open_v2(db->path, &db->h, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        int rc = qs_err(QS_EIO, "%s: cannot open: %s", db->path,
                        db->h ? sqlite3_errmsg(db->h) : "out of memory");
        sqlite3_close(db->h);
        db->h = NULL;
        return rc;
    }
    sqlite3_busy_timeout(db->h, QS_DB_BUSY_MS);
    return QS_OK;
}

/* The writer's settings. synchronous NORMAL: in WAL mode a commit is then
 * durable against a crash of qsweep (not of the machine), and the
 * coordinator's many small commits skip an fsync each. A 64 MB page cache
 * keeps the id indexes of a 100,000-phase registration in memory (random
 * hash keys touch every index page). */
static int writer_pragmas(qs_db *db)
{
    return exec_sql(db, "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536");
}

/* A database written before the ptq (or compress) phase has a phases table
 * whose CHECK allows fewer phases. More values cannot invalidate a row, so
 * the CHECK text is widened in place, the way SQLite documents for changing
 * a CHECK constraint (writable_schema, then a new schema_version so every
 * connection rereads it), in one transaction. */
static int widen_phase_check(qs_db *db)
{
    static const char *const old_checks[] = {"CHECK (phase IN ('float', 'retrain', 'clr'))",
        "CHECK (phase IN ('float', 'retrain', 'clr', 'ptq'))", NULL};
    static const char new_check[] =
        "CHECK (phase IN ('float', 'retrain', 'clr', 'ptq', 'compress'))";
    sqlite3_stmt *st = NULL;
    int rc = QS_OK, old = -1, ver = 0;
    for (int k = 0; old_checks[k] && old < 0; k++) {
        if (sqlite3_prepare_v2(db->h, "SELECT instr(sql, ?), (SELECT schema_version FROM "
                               "pragma_schema_version) FROM sqlite_master WHERE type = 'table' "
                               "AND name = 'phases'", -1, &st, NULL) != SQLITE_OK)
            return qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
        sqlite3_bind_text(st, 1, old_checks[k], -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0) {
            old = k;
            ver = sqlite3_column_int(st, 1);
        }
        sqlite3_finalize(st);
    }
    if (old < 0)
        return QS_OK;
    char *sql = sqlite3_mprintf(
        "BEGIN IMMEDIATE; PRAGMA writable_schema = ON; "
        "UPDATE sqlite_master SET sql = replace(sql, %Q, %Q) WHERE type = 'table' AND "
        "name = 'phases'; PRAGMA schema_version = %d; PRAGMA writable_schema = OFF; COMMIT",
        old_checks[old], new_check, ver + 1);
    if (!sql)
        return qs_err(QS_ENOMEM, "out of memory");
    if ((rc = exec_sql(db, sql)) != QS_OK) {
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
        rc = qs_err_wrap(rc, "allowing the ptq and compress phases in the phases table");
    }
    sqlite3_free(sql);
    return rc;
}

int qs_db_open(qs_db *db, const char *path, int readonly)
{
    long long size = 0;
    int rc;
    memset(db, 0, sizeof *db);
    db->readonly = readonly;
    /* Memory statistics cost a global mutex per SQLite allocation (a tenth
     * of a 100,000-phase registration); qsweep does not use them. Only
     * possible before SQLite initialises: later calls fail harmlessly. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (!(db->path = strdup(path)))
        return qs_err(QS_ENOMEM, "out of memory");
    if ((rc = check_header(path, &size)))
        goto fail;
    if (size <= 0) {
        if (readonly) {
            rc = qs_err(QS_EIO, "%s: %s (no sweep has written results there yet)", path,
                        size < 0 ? "no such database" : "empty file, not a qsweep database");
            goto fail;
        }
        /* Missing or 0 bytes: a new database. */
        if ((rc = open_h(db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) ||
            (rc = create_schema(db)) || (rc = writer_pragmas(db)))
            goto fail;
        return QS_OK;
    }
    /* An existing SQLite file: identify it over a read-only connection
     * first, so a foreign database is never opened for writing. */
    if ((rc = open_h(db, SQLITE_OPEN_READONLY)) || (rc = check_identity(db)))
        goto fail;
    if (readonly) {
        if ((rc = qs_db_runs_view_current(db->h, path)))
            goto fail;
        return QS_OK;
    }
    sqlite3_close(db->h);
    db->h = NULL;
    /* The schema is all IF NOT EXISTS: running it again adds the tables a
     * file written by an earlier qsweep lacks (the coordinator claim). */
    if ((rc = open_h(db, SQLITE_OPEN_READWRITE)) || (rc = exec_sql(db, qs_schema_sql)) ||
        (rc = widen_phase_check(db)) || (rc = writer_pragmas(db)))
        goto fail;
    return QS_OK;
fail:
    qs_db_close(db);
    return rc;
}

/* Whether sql prepares on h (a table or column is there). */
static int prepares(sqlite3 *h, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int ok = sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK;
    sqlite3_finalize(st);
    return ok;
}

/* Runs the schema's statement that starts with `head` as a temporary
 * object of this connection, `temp` in place of `head`. */
static int temp_copy(sqlite3 *h, const char *path, const char *head, const char *temp,
                     const char *what)
{
    const char *a = strstr(qs_schema_sql, head), *b = NULL;
    char *sql = NULL, *msg = NULL;
    int rc = QS_OK;
    /* The statement ends at the first ';' that completes it: one inside a
     * comment or a string literal does not. */
    for (const char *s = a ? strchr(a, ';') : NULL; s && !b; s = strchr(s + 1, ';')) {
        char *part = sqlite3_mprintf("%.*s", (int)(s + 1 - a), a);
        if (!part)
            return qs_err(QS_ENOMEM, "out of memory");
        if (sqlite3_complete(part))
            b = s;
        sqlite3_free(part);
    }
    if (b)
        sql = sqlite3_mprintf("%s%.*s", temp, (int)(b - a - (int)strlen(head)), a + strlen(head));
    if (!sql)
        return qs_err(b ? QS_ENOMEM : QS_EINTERNAL, "%s: no %s to read with", path, what);
    if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK)
        rc = qs_err(QS_EIO, "%s: reading its older %s: %s", path, what, msg ? msg : "?");
    sqlite3_free(msg);
    sqlite3_free(sql);
    return rc;
}

int qs_db_runs_view_current(sqlite3 *h, const char *path)
{
    /* The view's newest column: present means the view is current. */
    if (prepares(h, "SELECT ranks FROM runs LIMIT 0"))
        return QS_OK;
    /* A file from before the learned-widths table: an empty one of this
     * connection's own, for the view to read. */
    int rc = QS_OK;
    if (!prepares(h, "SELECT 1 FROM phase_bits LIMIT 0"))
        rc = temp_copy(h, path, "CREATE TABLE IF NOT EXISTS phase_bits",
                       "CREATE TEMP TABLE IF NOT EXISTS phase_bits", "learned-widths table");
    /* ... and from before the compress phase's table */
    if (rc == QS_OK && !prepares(h, "SELECT 1 FROM phase_svd LIMIT 0"))
        rc = temp_copy(h, path, "CREATE TABLE IF NOT EXISTS phase_svd",
                       "CREATE TEMP TABLE IF NOT EXISTS phase_svd", "compress ranks table");
    if (rc == QS_OK)
        rc = temp_copy(h, path, "CREATE VIEW runs AS", "CREATE TEMP VIEW IF NOT EXISTS runs AS",
                       "runs view");
    return rc;
}

void qs_db_close(qs_db *db)
{
    if (!db)
        return;
    if (db->h)
        sqlite3_close(db->h);
    free(db->path);
    memset(db, 0, sizeof *db);
}

/* ------------------------------------------------------------ sweeps */

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

static int by_id(const void *a, const void *b, void *grid)
{
    const qs_grid *g = grid;
    return strcmp(g->jobs[*(const int *)a].id, g->jobs[*(const int *)b].id);
}

int qs_db_sweep_begin(qs_db *db, const qs_grid *g, const char *host, const char *version,
                      int ranks, int64_t *sweep_id)
{
    int *order = NULL;
    char *ids = NULL;
    size_t nids = 0;
    sqlite3_stmt *sw = NULL, *ph = NULL, *ln = NULL, *rq = NULL;
    int rc, in_tx = 0;
    double now = qs_wall_s();
    if (db->readonly)
        return qs_err(QS_EINVAL, "%s: opened read-only", db->path);
    if ((rc = exec_sql(db, "BEGIN IMMEDIATE")))
        return rc;
    in_tx = 1;
    /* One row per sweep name: a rerun updates it (the grid as last run). */
    if ((rc = prep(db, &sw,
                   "INSERT INTO sweeps(name, grid, grid_path, host, version, ranks, started, "
                   "finished) VALUES (?, ?, ?, ?, ?, ?, ?, NULL) ON CONFLICT(name) DO UPDATE SET "
                   "grid = excluded.grid, grid_path = excluded.grid_path, host = excluded.host, "
                   "version = excluded.version, ranks = excluded.ranks, "
                   "started = excluded.started, finished = NULL RETURNING id")))
        goto cleanup;
    bind_text(sw, 1, g->name);
    bind_text(sw, 2, g->text ? g->text : "");
    bind_text(sw, 3, g->path);
    bind_text(sw, 4, host);
    bind_text(sw, 5, version);
    sqlite3_bind_int(sw, 6, ranks);
    sqlite3_bind_double(sw, 7, now);
    if (sqlite3_step(sw) != SQLITE_ROW) {
        rc = step_err(db);
        goto cleanup;
    }
    *sweep_id = sqlite3_column_int64(sw, 0);
    sqlite3_finalize(sw);
    sw = NULL;

    /* The sweep's phases are those of its grid as run now: links of phases
     * an edited grid no longer has are dropped (their rows and results stay
     * in phases, and in any other sweep that has them). */
    if ((rc = prep(db, &ln, "DELETE FROM sweep_phases WHERE sweep_id = ?")))
        goto cleanup;
    sqlite3_bind_int64(ln, 1, *sweep_id);
    if (sqlite3_step(ln) != SQLITE_DONE) {
        rc = step_err(db);
        goto cleanup;
    }
    sqlite3_finalize(ln);
    ln = NULL;

    if ((rc = prep(db, &ph,
                   "INSERT OR IGNORE INTO phases(id, parent_id, phase, config, model, dataset, "
                   "arch, block, depth, width, residual, params, wbits, abits, regularizer, clr, "
                   "seed, threads, epochs, gflop, model_bits, bops, updated) VALUES "
                   "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) ||
        (rc = prep(db, &ln,
                   "INSERT OR IGNORE INTO sweep_phases(sweep_id, phase_id) "
                   "SELECT ?1, value FROM json_each(?2)")))
        goto cleanup;
    /* The links go in with one statement over a JSON list of the ids:
     * one SQLite loop instead of a step per phase. */
    if (!(ids = malloc((size_t)g->njobs * (QS_PHASE_ID_LEN + 3) + 3))) {
        rc = qs_err(QS_ENOMEM, "out of memory");
        goto cleanup;
    }
    /* In id order, the id indexes grow at their end instead of at random
     * pages: several times faster for big grids. */
    if (!(order = malloc(((size_t)g->njobs + 1) * sizeof *order))) {
        rc = qs_err(QS_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (int i = 0; i < g->njobs; i++)
        order[i] = i;
    qsort_r(order, (size_t)g->njobs, sizeof *order, by_id, (void *)g);
    for (int i = 0; i < g->njobs; i++) {
        const qs_grid_job *j = &g->jobs[order[i]];
        /* block: the archs that have one (mobilenetv2's is its own). */
        int blocked = j->model.arch == QS_ARCH_RESNET || j->model.arch == QS_ARCH_IMNET_RESNET;
        sqlite3_bind_text(ph, 1, j->id, QS_PHASE_ID_LEN, SQLITE_STATIC);
        bind_text(ph, 2, j->parent[0] ? j->parent : NULL);
        sqlite3_bind_text(ph, 3, qs_phase_name(j->phase), -1, SQLITE_STATIC);
        sqlite3_bind_text(ph, 4, j->config, (int)strlen(j->config), SQLITE_STATIC);
        sqlite3_bind_text(ph, 5, j->model_name, -1, SQLITE_STATIC);
        sqlite3_bind_text(ph, 6, qs_data_kind_name(j->data), -1, SQLITE_STATIC);
        sqlite3_bind_text(ph, 7, qs_arch_name(j->model.arch), -1, SQLITE_STATIC);
        bind_text(ph, 8, blocked ? qs_block_name(j->model.block) : NULL);
        sqlite3_bind_int(ph, 9, j->model.depth);
        sqlite3_bind_int(ph, 10, j->model.width);
        sqlite3_bind_int(ph, 11, j->model.residual);
        sqlite3_bind_int64(ph, 12, j->params);
        sqlite3_bind_int(ph, 13, j->model.wbits);
        sqlite3_bind_int(ph, 14, j->model.abits);
        sqlite3_bind_text(ph, 15, j->regularizer, -1, SQLITE_STATIC);
        sqlite3_bind_int(ph, 16, j->clr);
        sqlite3_bind_int64(ph, 17, j->seed);
        sqlite3_bind_int(ph, 18, j->threads);
        sqlite3_bind_int(ph, 19, j->epochs);
        sqlite3_bind_double(ph, 20, j->gflop);
        sqlite3_bind_double(ph, 21, j->model_bits);
        sqlite3_bind_double(ph, 22, j->bops);
        sqlite3_bind_double(ph, 23, now);
        if (sqlite3_step(ph) != SQLITE_DONE) {
            rc = qs_err_wrap(step_err(db), "phase %s", j->id);
            goto cleanup;
        }
        sqlite3_reset(ph);
        ids[nids++] = i ? ',' : '[';
        ids[nids++] = '"';
        memcpy(ids + nids, j->id, QS_PHASE_ID_LEN);
        nids += QS_PHASE_ID_LEN;
        ids[nids++] = '"';
    }
    if (g->njobs == 0)
        ids[nids++] = '[';
    ids[nids++] = ']';
    sqlite3_bind_int64(ln, 1, *sweep_id);
    sqlite3_bind_text(ln, 2, ids, (int)nids, SQLITE_STATIC);
    if (sqlite3_step(ln) != SQLITE_DONE) {
        rc = step_err(db);
        goto cleanup;
    }
    /* A killed run leaves phases 'running' that nobody runs now. */
    if ((rc = prep(db, &rq,
                   "UPDATE phases SET status = 'queued', updated = ? WHERE status = 'running' "
                   "AND id IN (SELECT phase_id FROM sweep_phases WHERE sweep_id = ?)")))
        goto cleanup;
    sqlite3_bind_double(rq, 1, now);
    sqlite3_bind_int64(rq, 2, *sweep_id);
    if (sqlite3_step(rq) != SQLITE_DONE) {
        rc = step_err(db);
        goto cleanup;
    }
    rc = exec_sql(db, "COMMIT");
    in_tx = rc != QS_OK;
cleanup:
    free(order);
    free(ids);
    sqlite3_finalize(sw);
    sqlite3_finalize(ph);
    sqlite3_finalize(ln);
    sqlite3_finalize(rq);
    if (in_tx)
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int exec_id(qs_db *db, const char *sql, int64_t id, int bind_now)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(db, &st, sql);
    if (rc)
        return rc;
    int i = 1;
    if (bind_now)
        sqlite3_bind_double(st, i++, qs_wall_s());
    sqlite3_bind_int64(st, i, id);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = step_err(db);
    sqlite3_finalize(st);
    return rc;
}

int qs_db_sweep_end(qs_db *db, int64_t sweep_id)
{
    return exec_id(db, "UPDATE sweeps SET finished = ? WHERE id = ?", sweep_id, 1);
}

int qs_db_retry_failed(qs_db *db, int64_t sweep_id)
{
    /* The error goes with the status: a queued phase has none; attempts
     * keep counting. */
    return exec_id(db,
                   "UPDATE phases SET status = 'queued', error = NULL, updated = ? "
                   "WHERE status = 'failed' AND id IN "
                   "(SELECT phase_id FROM sweep_phases WHERE sweep_id = ?)",
                   sweep_id, 1);
}

/* ------------------------------------------------------------ progress */

/* Phases of the sweep (or all): the FROM part shared by the queries. */
#define SCOPE_ALL "phases p WHERE 1"
#define SCOPE_SWEEP                                                                   \
    "phases p WHERE p.id IN (SELECT sp.phase_id FROM sweep_phases sp JOIN sweeps s "   \
    "ON s.id = sp.sweep_id WHERE s.name = ?1)"

/* Done phases whose rate predicts the ETA: the most recent ones, so a
 * sweep that moves from small to big models (or gets more ranks) is
 * estimated from what it does now. */
#define RECENT_DONE 50

int qs_db_progress_get(qs_db *db, const char *sweep, qs_db_progress *p)
{
    sqlite3_stmt *st = NULL;
    int rc = QS_OK;
    char sql[1024];
    const char *scope = sweep ? SCOPE_SWEEP : SCOPE_ALL;
    memset(p, 0, sizeof *p);
    p->eta_s = -1;

    /* Counts and cost by status; a running phase counts its remaining
     * epochs as left and the rest as done. */
    snprintf(sql, sizeof sql,
             "SELECT p.status, count(*), "
             "total(CASE WHEN p.status = 'running' AND p.epochs > 0 THEN "
             "  p.gflop * max(0, 1.0 - 1.0 * p.epochs_done / p.epochs) "
             "  WHEN p.status = 'queued' THEN p.gflop ELSE 0 END), "
             "total(CASE WHEN p.status = 'done' THEN p.gflop "
             "  WHEN p.status = 'running' AND p.epochs > 0 THEN "
             "  p.gflop * min(1.0, 1.0 * p.epochs_done / p.epochs) ELSE 0 END) "
             "FROM %s GROUP BY p.status", scope);
    if ((rc = prep(db, &st, sql)))
        goto cleanup;
    if (sweep)
        sqlite3_bind_text(st, 1, sweep, -1, SQLITE_STATIC);
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *status = (const char *)sqlite3_column_text(st, 0);
        int n = sqlite3_column_int(st, 1);
        if (!status)
            continue;
        if (!strcmp(status, "queued"))
            p->queued = n;
        else if (!strcmp(status, "running"))
            p->running = n;
        else if (!strcmp(status, "done"))
            p->done = n;
        else if (!strcmp(status, "failed"))
            p->failed = n;
        p->gflop_left += sqlite3_column_double(st, 2);
        p->gflop_done += sqlite3_column_double(st, 3);
    }
    if (s != SQLITE_DONE) {
        rc = step_err(db);
        goto cleanup;
    }
    sqlite3_finalize(st);
    st = NULL;

    /* Throughput of the running phases: each one's latest epoch. A
     * synthetic example is a 2-D point, not an image: its rate is summed
     * apart (a ring FCDNN does 10^5 points/s, a ResNet 10^2 images/s). */
    snprintf(sql, sizeof sql,
             "SELECT total(CASE WHEN p.dataset IS NOT 'synthetic' THEN r END), "
             "total(CASE WHEN p.dataset = 'synthetic' THEN r END) FROM (SELECT p.dataset, "
             "(SELECT e.img_per_s FROM epochs e WHERE e.phase_id = p.id "
             "ORDER BY e.epoch DESC LIMIT 1) AS r FROM %s AND p.status = 'running') p", scope);
    if ((rc = prep(db, &st, sql)))
        goto cleanup;
    if (sweep)
        sqlite3_bind_text(st, 1, sweep, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = step_err(db);
        goto cleanup;
    }
    p->img_per_s = sqlite3_column_double(st, 0);
    p->points_per_s = sqlite3_column_double(st, 1);
    sqlite3_finalize(st);
    st = NULL;

    /* ETA: the GFLOP/s one rank achieved on recent done phases, times the
     * ranks at work now (the running phases, at least one). */
    snprintf(sql, sizeof sql,
             "SELECT total(gflop), total(seconds) FROM (SELECT p.gflop, p.seconds FROM %s "
             "AND p.status = 'done' AND p.seconds > 0 AND p.gflop > 0 "
             "ORDER BY p.finished DESC LIMIT %d)", scope, RECENT_DONE);
    if ((rc = prep(db, &st, sql)))
        goto cleanup;
    if (sweep)
        sqlite3_bind_text(st, 1, sweep, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = step_err(db);
        goto cleanup;
    }
    double g = sqlite3_column_double(st, 0), sec = sqlite3_column_double(st, 1);
    if (g > 0 && sec > 0) {
        double rate = g / sec * (p->running > 0 ? p->running : 1);
        p->eta_s = p->gflop_left / rate;
    } else if (p->gflop_left == 0 && p->queued == 0 && p->running == 0) {
        p->eta_s = 0; /* nothing left */
    }
cleanup:
    sqlite3_finalize(st);
    return rc;
}
