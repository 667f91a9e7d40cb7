/* Private to server/db: what its files share. */
#ifndef QS_DB_INT_H
#define QS_DB_INT_H

#include <sqlite3.h>

/* How long a write waits for another connection's transaction before it
 * fails: long enough for any coordinator batch (they commit every 0.5 s),
 * short enough that a held lock is reported rather than waited out. */
#define QS_DB_BUSY_MS 5000

/* Runs sql (one or more statements, no results) on h; on failure the
 * message names the database file path. */
int qs_db_exec_sql(sqlite3 *h, const char *path, const char *sql);
/* The error of a failed statement on h (QS_EIO): "path: what SQLite said"
 * (msg, or sqlite3_errmsg when NULL), and for SQLITE_BUSY who holds the
 * lock (qs_db_busy_describe). */
int qs_db_sql_err(sqlite3 *h, const char *path, const char *msg);

#endif
