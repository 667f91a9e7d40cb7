/* Private to server/db: what its three files share. */
#ifndef QS_DB_INT_H
#define QS_DB_INT_H

#include <sqlite3.h>

/* Runs sql (one or more statements, no results) on h; on failure the
 * message names the database file path. */
int qs_db_exec_sql(sqlite3 *h, const char *path, const char *sql);

#endif
