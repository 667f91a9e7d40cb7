/* The one JSON writer: a streaming writer over a qs_buf that tracks commas
 * and nesting, so every JSON text the project writes (the API's bodies,
 * the canonical job JSON whose text phase ids hash, exports) is valid by
 * construction. Errors are the buffer's: sticky, checked once with
 * qs_buf_ok at the end. */
#ifndef QS_JSONW_H
#define QS_JSONW_H

#include <stddef.h>

#include "buf.h"

/* Shortest "%.*g" text that reads back as the same double: the job JSON's
 * numbers (the same value must always give the same text). */
void qs_fmt_num(char *out, size_t cap, double x);

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
/* 15 significant digits (qs_buf_json_num); NaN and infinities -> null. */
void qs_jw_num(qs_jw *w, const char *key, double v);
/* %.9g: every float32 reads back to the same bits (exports). */
void qs_jw_float(qs_jw *w, const char *key, float v);
/* An array of n floats, each as qs_jw_float writes it. */
void qs_jw_floats(qs_jw *w, const char *key, const float *v, long n);
void qs_jw_int(qs_jw *w, const char *key, long long v);
void qs_jw_bool(qs_jw *w, const char *key, int v);
void qs_jw_null(qs_jw *w, const char *key);
/* A value that is already JSON text (a number from qs_fmt_num, a list). */
void qs_jw_raw(qs_jw *w, const char *key, const char *json);
/* A base64 string of n bytes (exported weight codes). */
void qs_jw_b64(qs_jw *w, const char *key, const void *p, size_t n);

#endif
