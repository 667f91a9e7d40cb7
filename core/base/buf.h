/* A growable byte buffer (HTTP bodies, JSON text, exports), with JSON and
 * CSV escaping.
 * Errors are sticky: after an allocation failure every call is a no-op
 * returning QS_ENOMEM, so a writer checks once at the end (qs_buf_ok). */
#ifndef QS_BUF_H
#define QS_BUF_H

#include <stddef.h>

#include "err.h"

typedef struct {
    char *p;     /* always NUL-terminated when non-NULL */
    size_t len, cap;
    int oom;
} qs_buf;

void qs_buf_init(qs_buf *b);
void qs_buf_free(qs_buf *b);
void qs_buf_reset(qs_buf *b); /* empties, keeps memory */
int qs_buf_ok(const qs_buf *b); /* QS_OK or QS_ENOMEM (message set) */

int qs_buf_add(qs_buf *b, const void *data, size_t n);
int qs_buf_puts(qs_buf *b, const char *s);
int qs_buf_printf(qs_buf *b, const char *fmt, ...) QS_PRINTF(2, 3);

/* A JSON string literal with quotes. Control characters are escaped and
 * invalid UTF-8 becomes U+FFFD, so database text can never break the JSON. */
int qs_buf_json_str(qs_buf *b, const char *s, size_t n);
/* A JSON number; NaN and infinities (never valid JSON) become null. */
int qs_buf_json_num(qs_buf *b, double v);
/* One CSV field (RFC 4180): quoted when it holds a comma, quote or line
 * break. A leading = + - @ is prefixed with ' so that spreadsheets do not
 * run it as a formula (text only; numbers are written unquoted). */
int qs_buf_csv_text(qs_buf *b, const char *s, size_t n);

/* Hands the memory to the caller (who frees it); the buffer is emptied. */
char *qs_buf_take(qs_buf *b, size_t *len);

#endif
