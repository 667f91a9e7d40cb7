/* SQLite result columns through the one JSON writer (core/base/jsonw.h),
 * so every endpoint emits valid JSON by construction. */
#ifndef QS_API_JSON_H
#define QS_API_JSON_H

#include <sqlite3.h>

#include "jsonw.h"

/* Column i of the current row with its SQLite type (blobs become null). */
void qs_jw_col(qs_jw *w, const char *key, sqlite3_stmt *st, int i);
/* The whole row as an object keyed by column names. */
void qs_jw_row(qs_jw *w, const char *key, sqlite3_stmt *st);

#endif
