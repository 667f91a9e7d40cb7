/* A streaming JSON writer over qs_buf that tracks commas, plus writers for
 * SQLite result columns, so every endpoint emits valid JSON by construction. */
#ifndef QS_API_JSON_H
#define QS_API_JSON_H

#include <sqlite3.h>

#include "http_buf.h"

#define QS_JW_MAX_DEPTH 16

typedef struct qs_jw {
    qs_buf *b;
    int depth;
    unsigned char first[QS_JW_MAX_DEPTH]; /* 1 until the level's first item */
} qs_jw;

void qs_jw_init(qs_jw *w, qs_buf *b);
/* key is NULL inside arrays and at the top level. */
void qs_jw_obj(qs_jw *w, const char *key);
void qs_jw_arr(qs_jw *w, const char *key);
void qs_jw_end_obj(qs_jw *w);
void qs_jw_end_arr(qs_jw *w);
void qs_jw_str(qs_jw *w, const char *key, const char *s); /* NULL -> null */
void qs_jw_strn(qs_jw *w, const char *key, const char *s, size_t n);
void qs_jw_num(qs_jw *w, const char *key, double v);
void qs_jw_int(qs_jw *w, const char *key, long long v);
void qs_jw_bool(qs_jw *w, const char *key, int v);
void qs_jw_null(qs_jw *w, const char *key);
/* Column i of the current row with its SQLite type (blobs become null). */
void qs_jw_col(qs_jw *w, const char *key, sqlite3_stmt *st, int i);
/* The whole row as an object keyed by column names. */
void qs_jw_row(qs_jw *w, const char *key, sqlite3_stmt *st);

#endif
