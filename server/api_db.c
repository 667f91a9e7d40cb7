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
};

/* A serving connection. The file was identified over a read-only
 * connection first (qs_db_open), so a foreign file is never opened for
 * writing. Serving connections are opened READWRITE (without CREATE) and
 * made query_only, because an SQLITE_OPEN_READONLY connection to a WAL
 * database whose -wal/-shm files do not exist yet (no sweep running when
 * the dashboard starts) keeps a private WAL index: once a sweep starts
 * writing and checkpointing, such a connection reads torn pages and
 * reports "database disk image is malformed" until it is reopened (seen
 * with tests/tool_gen_db --advance against a running server). A read-write
 * connection takes part in the -shm locking like any reader; query_only
 * makes SQLite refuse every write through it. On a write-protected file
 * SQLite opens it read-only by itself. */
static int open_serving(sqlite3 **out, const char *path)
{
    sqlite3 *h = NULL;
    int rc = QS_OK;
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        rc = qs_err(QS_EIO, "%s: cannot open: %s", path, h ? sqlite3_errmsg(h) : "out of memory");
        goto cleanup;
    }
    sqlite3_busy_timeout(h, 5000);
    char *msg = NULL;
    if (sqlite3_exec(h, "PRAGMA query_only = 1", NULL, NULL, &msg) != SQLITE_OK) {
        rc = qs_err(QS_EIO, "%s: %s", path, msg ? msg : "cannot set query_only");
        sqlite3_free(msg);
        goto cleanup;
    }
    *out = h;
    h = NULL;
cleanup:
    sqlite3_close(h);
    return rc;
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
    *out = p;
    p = NULL;
cleanup:
    qs_dbpool_destroy(p);
    return rc;
}

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
    free(p->all);
    free(p->idle);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
