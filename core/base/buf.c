#include "buf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qs_buf_init(qs_buf *b) { memset(b, 0, sizeof *b); }

void qs_buf_free(qs_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

void qs_buf_reset(qs_buf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

int qs_buf_ok(const qs_buf *b)
{
    return b->oom ? qs_err(QS_ENOMEM, "out of memory building a response") : QS_OK;
}

/* Room for n more bytes plus the terminating NUL. */
static int reserve(qs_buf *b, size_t n)
{
    if (b->oom)
        return QS_ENOMEM;
    if (b->len + n + 1 <= b->cap)
        return QS_OK;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1) {
        if (cap > ((size_t)-1) / 2)
            goto fail;
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p)
        goto fail;
    b->p = p;
    b->cap = cap;
    return QS_OK;
fail:
    b->oom = 1;
    return QS_ENOMEM;
}

int qs_buf_add(qs_buf *b, const void *data, size_t n)
{
    if (reserve(b, n))
        return QS_ENOMEM;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return QS_OK;
}

int qs_buf_puts(qs_buf *b, const char *s) { return qs_buf_add(b, s, strlen(s)); }

int qs_buf_printf(qs_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return QS_EINTERNAL;
    if ((size_t)n < sizeof small)
        return qs_buf_add(b, small, (size_t)n);
    if (reserve(b, (size_t)n))
        return QS_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return QS_OK;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    unsigned cp = c & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

int qs_buf_json_str(qs_buf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (qs_buf_add(b, "\"", 1))
        return QS_ENOMEM;
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        /* Copy plain runs in one go: the common case. */
        while (run < n && u[run] >= 0x20 && u[run] < 0x80 && u[run] != '"' && u[run] != '\\')
            run++;
        if (run > i) {
            qs_buf_add(b, s + i, run - i);
            i = run;
            continue;
        }
        unsigned c = u[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            qs_buf_add(b, e, 2);
            i++;
        } else if (c < 0x20) {
            qs_buf_printf(b, "\\u%04x", c);
            i++;
        } else {
            size_t l = utf8_len(u + i, n - i);
            if (l == 0) {
                qs_buf_add(b, "\xEF\xBF\xBD", 3);
                i++;
            } else {
                qs_buf_add(b, s + i, l);
                i += l;
            }
        }
    }
    return qs_buf_add(b, "\"", 1);
}

int qs_buf_json_num(qs_buf *b, double v)
{
    if (!isfinite(v))
        return qs_buf_add(b, "null", 4);
    /* 15 significant digits: exact for every value the database holds in
     * practice (accuracies, losses, seconds) without 17-digit noise. */
    return qs_buf_printf(b, "%.15g", v);
}

int qs_buf_csv_text(qs_buf *b, const char *s, size_t n)
{
    int quote = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r')
            quote = 1;
    int formula = n > 0 && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@');
    if (quote)
        qs_buf_add(b, "\"", 1);
    if (formula)
        qs_buf_add(b, "'", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            qs_buf_add(b, "\"\"", 2);
        else if (s[i] == '\0')
            continue; /* a NUL would truncate the field in most readers */
        else
            qs_buf_add(b, s + i, 1);
    }
    if (quote)
        qs_buf_add(b, "\"", 1);
    return b->oom ? QS_ENOMEM : QS_OK;
}

char *qs_buf_take(qs_buf *b, size_t *len)
{
    if (!b->p && reserve(b, 0) == QS_OK)
        b->p[0] = '\0';
    char *p = b->p;
    if (len)
        *len = b->len;
    memset(b, 0, sizeof *b);
    return p;
}
