/* Small JSON text pieces shared by every layer that writes JSON: the
 * shortest round-trip number format (phase ids hash the job JSON text, so
 * the same value must always give the same text) and a flat-object writer
 * into a fixed buffer (the canonical job JSON). */
#ifndef QS_JSONTEXT_H
#define QS_JSONTEXT_H

#include <stddef.h>

/* Shortest "%.*g" text that reads back as the same double. */
void qs_fmt_num(char *out, size_t cap, double x);

/* A flat JSON object written into a caller's buffer; overflow is sticky
 * and checked once at the end. */
typedef struct {
    char *p;
    size_t len, cap;
    int first, overflow;
} qs_jobj;

void qs_jobj_init(qs_jobj *b, char *out, size_t cap);
void qs_jobj_raw(qs_jobj *b, const char *s);
/* key: value, where value is already JSON text (a number, "quoted", true). */
void qs_jobj_text(qs_jobj *b, const char *key, const char *json);
void qs_jobj_str(qs_jobj *b, const char *key, const char *v); /* escaped */
void qs_jobj_int(qs_jobj *b, const char *key, long long v);
void qs_jobj_bool(qs_jobj *b, const char *key, int v);
/* Closes the object; 0, or -1 when the buffer was too small. */
int qs_jobj_end(qs_jobj *b);

#endif
