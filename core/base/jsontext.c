#include "jsontext.h"

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

void qs_jobj_init(qs_jobj *b, char *out, size_t cap)
{
    b->p = out;
    b->len = 0;
    b->cap = cap;
    b->first = 1;
    b->overflow = cap == 0;
    if (cap)
        out[0] = 0;
}

void qs_jobj_raw(qs_jobj *b, const char *s)
{
    size_t l = strlen(s);
    if (b->len + l + 1 > b->cap) {
        b->overflow = 1;
        return;
    }
    memcpy(b->p + b->len, s, l + 1);
    b->len += l;
}

static void key(qs_jobj *b, const char *k)
{
    qs_jobj_raw(b, b->first ? "{\"" : ",\"");
    b->first = 0;
    qs_jobj_raw(b, k);
    qs_jobj_raw(b, "\":");
}

void qs_jobj_text(qs_jobj *b, const char *k, const char *json)
{
    key(b, k);
    qs_jobj_raw(b, json);
}

void qs_jobj_str(qs_jobj *b, const char *k, const char *v)
{
    char esc[8];
    key(b, k);
    qs_jobj_raw(b, "\"");
    for (const unsigned char *s = (const unsigned char *)v; *s; s++) {
        if (*s == '"' || *s == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*s;
            esc[2] = 0;
        } else if (*s < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *s);
        } else {
            esc[0] = (char)*s;
            esc[1] = 0;
        }
        qs_jobj_raw(b, esc);
    }
    qs_jobj_raw(b, "\"");
}

void qs_jobj_int(qs_jobj *b, const char *k, long long v)
{
    char t[24];
    snprintf(t, sizeof t, "%lld", v);
    qs_jobj_text(b, k, t);
}

void qs_jobj_bool(qs_jobj *b, const char *k, int v) { qs_jobj_text(b, k, v ? "true" : "false"); }

int qs_jobj_end(qs_jobj *b)
{
    qs_jobj_raw(b, b->first ? "{}" : "}");
    return b->overflow ? -1 : 0;
}
