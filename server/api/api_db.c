#include "api_db.h"

#include <pthread.h>
#include <stdlib.h>

#include "db.h"
#include "err.h"

struct qs_dbpool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sqlite3 **all;  /* n opened connections */
    sqlite3 **idle; /* stack of idle ones */
    int n, nidle;
    int fast;
    pthread_mutex_t vmu; /* guards the three below */
    sqlite3 *vconn;      /* asks PRAGMA data_version, nothing else */
    long long version;   /* its last answer */
    unsigned long gen;
};

/* A serving connection: SQLITE_OPEN_READONLY, so nothing this process does
 * can write the main file, and closing the last connection never
 * checkpoints the WAL into it (read-write ones did: a database left by
 * kill -9 of its writer grew by the WAL's pages when the dashboard
 * stopped). SQLite's rules for read-only WAL readers (3.22+) still let it
 * see every committed row, the WAL's included, and take part in the
 * writer's -shm locking: the -shm file is opened read-write when the
 * directory allows, and created with an empty -wal when missing; where
 * neither can be done the open fails with SQLite's message (docs/api.md).
 * The file was identified over a read-only connection first (qs_db_open). */
static int open_serving(sqlite3 **out, const char *path)
{
    sqlite3 *h = NULL;
    int rc = QS_OK;
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        rc = qs_err(QS_EIO, "%s: cannot open read-only: %s", path,
                    h ? sqlite3_errmsg(h) : "out of memory");
        goto cleanup;
    }
    sqlite3_busy_timeout(h, 5000);
    char *msg = NULL;
    /* Reads through a memory map share the OS page cache between the
     * connections instead of copying pages into each one's cache; a
     * modest private cache still keeps the hot index pages. */
    if (sqlite3_exec(h, "PRAGMA mmap_size = 1073741824; PRAGMA cache_size = -16384", NULL, NULL,
                     &msg) != SQLITE_OK) {
        rc = qs_err(QS_EIO, "%s: %s", path, msg ? msg : "cannot set the page cache");
        sqlite3_free(msg);
        goto cleanup;
    }
    if ((rc = qs_db_runs_view_current(h, path)))
        goto cleanup;
    *out = h;
    h = NULL;
cleanup:
    sqlite3_close(h);
    return rc;
}

static long long data_version(sqlite3 *h)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(h, "PRAGMA data_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

unsigned long qs_dbpool_generation(qs_dbpool *p)
{
    pthread_mutex_lock(&p->vmu);
    /* Outside any transaction, data_version differs from the previous
     * answer exactly when another connection has committed since. */
    long long v = data_version(p->vconn);
    if (v < 0 || v != p->version) {
        p->gen++;
        p->version = v;
    }
    unsigned long g = p->gen;
    pthread_mutex_unlock(&p->vmu);
    return g;
}

int qs_dbpool_create(qs_dbpool **out, const char *path, int n)
{
    int rc = QS_OK;
    qs_db check;
    *out = NULL;
    if (n < 1)
        return qs_err(QS_EINVAL, "database pool of %d connections", n);
    /* db.h's checks: exists, SQLite, meta application 'qsweep', schema
     * version; all over a read-only connection. */
    if ((rc = qs_db_open(&check, path, 1)))
        return rc;
    qs_db_close(&check);
    qs_dbpool *p = calloc(1, sizeof *p);
    if (!p)
        return qs_err(QS_ENOMEM, "out of memory");
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_mutex_init(&p->vmu, NULL);
    p->gen = 1;
    p->all = calloc((size_t)n, sizeof *p->all);
    p->idle = calloc((size_t)n, sizeof *p->idle);
    if (!p->all || !p->idle) {
        rc = qs_err(QS_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (int i = 0; i < n; i++) {
        if ((rc = open_serving(&p->all[i], path)))
            goto cleanup;
        p->n++;
        p->idle[p->nidle++] = p->all[i];
    }
    if ((rc = open_serving(&p->vconn, path)))
        goto cleanup;
    p->version = data_version(p->vconn);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(p->all[0],
                           "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'phases_read'"
                           " AND tbl_name = 'phases'",
                           -1, &st, NULL) == SQLITE_OK)
        p->fast = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    *out = p;
    p = NULL;
cleanup:
    qs_dbpool_destroy(p);
    return rc;
}

int qs_dbpool_fast(const qs_dbpool *p) { return p->fast; }

sqlite3 *qs_dbpool_get(qs_dbpool *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->nidle == 0)
        pthread_cond_wait(&p->cv, &p->mu);
    sqlite3 *db = p->idle[--p->nidle];
    pthread_mutex_unlock(&p->mu);
    return db;
}

void qs_dbpool_put(qs_dbpool *p, sqlite3 *db)
{
    pthread_mutex_lock(&p->mu);
    p->idle[p->nidle++] = db;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void qs_dbpool_destroy(qs_dbpool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n; i++)
        sqlite3_close(p->all[i]);
    sqlite3_close(p->vconn);
    free(p->all);
    free(p->idle);
    pthread_mutex_destroy(&p->vmu);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
