#include "jsonw.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qs_fmt_num(char *out, size_t cap, double x)
{
    /* Short text is readable; the round-trip test keeps it exact. */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, x);
        if (strtod(out, NULL) == x)
            return;
    }
}

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
    /* Deeper than any writer nests: a programming error, made visible as a
     * failed buffer rather than corrupt text. */
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

void qs_jw_float(qs_jw *w, const char *key, float v)
{
    pre(w, key);
    qs_buf_printf(w->b, "%.9g", (double)v);
}

void qs_jw_floats(qs_jw *w, const char *key, const float *v, long n)
{
    qs_jw_arr(w, key);
    for (long i = 0; i < n; i++)
        qs_jw_float(w, NULL, v[i]);
    qs_jw_end_arr(w);
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

void qs_jw_raw(qs_jw *w, const char *key, const char *json)
{
    pre(w, key);
    qs_buf_puts(w->b, json);
}

void qs_jw_b64(qs_jw *w, const char *key, const void *data, size_t n)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *p = data;
    char q[4];
    pre(w, key);
    qs_buf_add(w->b, "\"", 1);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        q[0] = b64[v >> 18];
        q[1] = b64[(v >> 12) & 63];
        q[2] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? b64[v & 63] : '=';
        qs_buf_add(w->b, q, 4);
    }
    qs_buf_add(w->b, "\"", 1);
}
