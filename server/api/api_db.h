/* Read-only access to the results database for the dashboard: the file is
 * checked with qs_db_open(readonly) (db.h: it must be a qsweep database of
 * our schema version; it is never created), then served through a pool of
 * SQLITE_OPEN_READONLY connections, one per server thread, so requests
 * never share one and the file is never written. */
#ifndef QS_API_DB_H
#define QS_API_DB_H

#include <sqlite3.h>

typedef struct qs_dbpool qs_dbpool;

/* n connections, all opened (and checked) now: a missing or foreign file
 * fails here, at start-up, with db.h's message. */
int qs_dbpool_create(qs_dbpool **out, const char *path, int n);
/* Blocks until a connection is free. */
sqlite3 *qs_dbpool_get(qs_dbpool *p);
void qs_dbpool_put(qs_dbpool *p, sqlite3 *db);
/* The database generation (from 1): it moves on whenever the sweep has
 * committed since the last call (PRAGMA data_version of a connection kept
 * for this alone). Read before the request's read transaction starts, an
 * answer tagged with it is never served after a newer commit
 * (http_cache.h). Needs no pool connection, so cached answers never wait
 * for one. */
unsigned long qs_dbpool_generation(qs_dbpool *p);
/* Whether the database has the dashboard's covering index phases_read
 * (sql/indexes.sql), looked up when the pool was created. */
int qs_dbpool_fast(const qs_dbpool *p);
void qs_dbpool_destroy(qs_dbpool *p);

#endif
