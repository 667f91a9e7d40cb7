#include "api_json.h"

#include <string.h>

void qs_jw_col(qs_jw *w, const char *key, sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        qs_jw_int(w, key, sqlite3_column_int64(st, i));
        break;
    case SQLITE_FLOAT:
        qs_jw_num(w, key, sqlite3_column_double(st, i));
        break;
    case SQLITE_TEXT: {
        const char *s = (const char *)sqlite3_column_text(st, i);
        qs_jw_strn(w, key, s, (size_t)sqlite3_column_bytes(st, i));
        break;
    }
    default:
        qs_jw_null(w, key);
        break;
    }
}

void qs_jw_row(qs_jw *w, const char *key, sqlite3_stmt *st)
{
    qs_jw_obj(w, key);
    int n = sqlite3_column_count(st);
    for (int i = 0; i < n; i++)
        qs_jw_col(w, sqlite3_column_name(st, i), st, i);
    qs_jw_end_obj(w);
}
