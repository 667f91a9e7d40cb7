#include "api_json.h"

#include <string.h>

void qs_jw_init(qs_jw *w, qs_buf *b)
{
    memset(w, 0, sizeof *w);
    w->b = b;
    w->first[0] = 1;
}

/* Comma and key before a value at the current level. */
static void pre(qs_jw *w, const char *key)
{
    if (!w->first[w->depth])
        qs_buf_add(w->b, ",", 1);
    w->first[w->depth] = 0;
    if (key) {
        qs_buf_json_str(w->b, key, strlen(key));
        qs_buf_add(w->b, ":", 1);
    }
}

static void open_level(qs_jw *w, const char *key, const char *c)
{
    pre(w, key);
    qs_buf_puts(w->b, c);
    /* Deeper than any endpoint nests: a programming error, made visible as
     * a failed response rather than a corrupt one. */
    if (w->depth + 1 >= QS_JW_MAX_DEPTH) {
        w->b->oom = 1;
        return;
    }
    w->first[++w->depth] = 1;
}

void qs_jw_obj(qs_jw *w, const char *key) { open_level(w, key, "{"); }
void qs_jw_arr(qs_jw *w, const char *key) { open_level(w, key, "["); }

void qs_jw_end_obj(qs_jw *w)
{
    if (w->depth > 0)
        w->depth--;
    qs_buf_add(w->b, "}", 1);
}

void qs_jw_end_arr(qs_jw *w)
{
    if (w->depth > 0)
        w->depth--;
    qs_buf_add(w->b, "]", 1);
}

void qs_jw_strn(qs_jw *w, const char *key, const char *s, size_t n)
{
    pre(w, key);
    if (s)
        qs_buf_json_str(w->b, s, n);
    else
        qs_buf_add(w->b, "null", 4);
}

void qs_jw_str(qs_jw *w, const char *key, const char *s)
{
    qs_jw_strn(w, key, s, s ? strlen(s) : 0);
}

void qs_jw_num(qs_jw *w, const char *key, double v)
{
    pre(w, key);
    qs_buf_json_num(w->b, v);
}

void qs_jw_int(qs_jw *w, const char *key, long long v)
{
    pre(w, key);
    qs_buf_printf(w->b, "%lld", v);
}

void qs_jw_bool(qs_jw *w, const char *key, int v)
{
    pre(w, key);
    qs_buf_puts(w->b, v ? "true" : "false");
}

void qs_jw_null(qs_jw *w, const char *key)
{
    pre(w, key);
    qs_buf_add(w->b, "null", 4);
}

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
