/* Read-only access to the results database for the dashboard: the file is
 * checked with qs_db_open(readonly) (db.h: it must be a qsweep database of
 * our schema version; it is never created), then served through a pool of
 * query_only connections, one per server thread, so requests never share
 * one. */
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
void qs_dbpool_destroy(qs_dbpool *p);

#endif
