/* Grid validation helpers: the problem list (every problem with its JSON
 * path, duplicates dropped) and typed reads of cJSON values that report a
 * problem instead of failing, shared by grid.c and grid_proto.c. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grid_int.h"

/* Errors are capped so a grid with a systematic mistake (say, 10,000 bad
 * combinations) still gives a readable report. */
#define GX_MAX_ERRORS 200

void qs_gx_err(gx_errs *e, const char *path, const char *fmt, ...)
{
    char msg[512], line[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (path && *path)
        snprintf(line, sizeof line, "%s: %s: %s", e->file, path, msg);
    else
        snprintf(line, sizeof line, "%s: %s", e->file, msg);
    size_t ll = strlen(line);
    /* Drop duplicates: one bad axis value shows up in many combinations. */
    for (size_t off = 0; off < e->len;) {
        const char *nl = memchr(e->buf + off, '\n', e->len - off);
        size_t l = nl ? (size_t)(nl - (e->buf + off)) : e->len - off;
        if (l == ll && memcmp(e->buf + off, line, ll) == 0)
            return;
        off += l + 1;
    }
    e->n++;
    if (e->n > GX_MAX_ERRORS) {
        if (e->n == GX_MAX_ERRORS + 1)
            snprintf(line, sizeof line, "%s: more than %d problems; the rest are not listed",
                     e->file, GX_MAX_ERRORS);
        else
            return;
        ll = strlen(line);
    }
    if (e->len + ll + 2 > e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 1024;
        while (cap < e->len + ll + 2)
            cap *= 2;
        char *nb = realloc(e->buf, cap);
        if (!nb) {
            e->oom = 1;
            return;
        }
        e->buf = nb;
        e->cap = cap;
    }
    if (e->len)
        e->buf[e->len++] = '\n';
    memcpy(e->buf + e->len, line, ll + 1);
    e->len += ll;
}

/* ------------------------------------------------------------ JSON helpers */

const char *qs_gx_type_name(const cJSON *it)
{
    if (cJSON_IsString(it)) return "a string";
    if (cJSON_IsNumber(it)) return "a number";
    if (cJSON_IsBool(it)) return "a boolean";
    if (cJSON_IsNull(it)) return "null";
    if (cJSON_IsArray(it)) return "a list";
    if (cJSON_IsObject(it)) return "an object";
    return "invalid";
}

/* Paths longer than GX_PATH_LEN (a very long unknown key) are cut with
 * "..." rather than failing: they only label a message. */
static void cut(char *out, int n)
{
    if (n >= GX_PATH_LEN)
        memcpy(out + GX_PATH_LEN - 4, "...", 4);
}

void qs_gx_sub_key(char *out, const char *path, const char *key)
{
    if (path && *path)
        cut(out, snprintf(out, GX_PATH_LEN, "%s.%s", path, key));
    else
        cut(out, snprintf(out, GX_PATH_LEN, "%s", key));
}

void qs_gx_sub_idx(char *out, const char *path, int i)
{
    cut(out, snprintf(out, GX_PATH_LEN, "%s[%d]", path, i));
}

void qs_gx_list_names(char *out, size_t cap, const char *const *names)
{
    out[0] = 0;
    for (int i = 0; names[i]; i++)
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? ", " : "", names[i]);
}

/* Every key of obj must be in allowed (NULL-terminated) and appear once. */
int qs_gx_check_keys(const cJSON *obj, const char *path, const char *const *allowed,
                      gx_errs *e)
{
    int ok = 1;
    for (const cJSON *it = obj->child; it; it = it->next) {
        char p[GX_PATH_LEN];
        qs_gx_sub_key(p, path, it->string);
        int known = 0;
        for (int i = 0; allowed[i]; i++)
            known |= strcmp(it->string, allowed[i]) == 0;
        if (!known) {
            char list[400];
            qs_gx_list_names(list, sizeof list, allowed);
            qs_gx_err(e, p, "unknown key (allowed: %s)", list);
            ok = 0;
            continue;
        }
        /* cJSON keeps duplicate keys and lookups see the first: a second
         * one would be silently ignored. */
        for (const cJSON *prev = obj->child; prev != it; prev = prev->next)
            if (strcmp(prev->string, it->string) == 0) {
                qs_gx_err(e, p, "duplicate key");
                ok = 0;
                break;
            }
    }
    return ok;
}

int qs_gx_want_object(const cJSON *it, const char *path, gx_errs *e)
{
    if (cJSON_IsObject(it))
        return 1;
    qs_gx_err(e, path, "must be an object, not %s", qs_gx_type_name(it));
    return 0;
}

int qs_gx_get_int(long long *out, const cJSON *it, const char *path, long long lo,
                   long long hi, gx_errs *e)
{
    if (!cJSON_IsNumber(it)) {
        qs_gx_err(e, path, "must be an integer in %lld..%lld, not %s", lo, hi, qs_gx_type_name(it));
        return 0;
    }
    double v = it->valuedouble;
    if (!isfinite(v) || v != floor(v) || v < (double)lo || v > (double)hi) {
        qs_gx_err(e, path, "%.17g is not an integer in %lld..%lld", v, lo, hi);
        return 0;
    }
    *out = (long long)v;
    return 1;
}

int qs_gx_get_num(double *out, const cJSON *it, const char *path, double lo, double hi,
                   int lo_open, gx_errs *e)
{
    if (!cJSON_IsNumber(it)) {
        qs_gx_err(e, path, "must be a number, not %s", qs_gx_type_name(it));
        return 0;
    }
    double v = it->valuedouble;
    if (!isfinite(v) || v < lo || v > hi || (lo_open && v <= lo)) {
        qs_gx_err(e, path, "%.17g is out of range (allowed: %s%g..%g)", v,
                  lo_open ? "above " : "", lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

/* A string from a fixed set; *out = its index. */
int qs_gx_get_enum(int *out, const cJSON *it, const char *path, const char *const *names,
                    gx_errs *e)
{
    char list[200];
    qs_gx_list_names(list, sizeof list, names);
    if (!cJSON_IsString(it)) {
        qs_gx_err(e, path, "must be a string (allowed: %s), not %s", list, qs_gx_type_name(it));
        return 0;
    }
    for (int i = 0; names[i]; i++)
        if (strcmp(it->valuestring, names[i]) == 0) {
            *out = i;
            return 1;
        }
    qs_gx_err(e, path, "\"%s\" is not allowed (allowed: %s)", it->valuestring, list);
    return 0;
}

int qs_gx_get_bool(int *out, const cJSON *it, const char *path, gx_errs *e)
{
    if (!cJSON_IsBool(it)) {
        qs_gx_err(e, path, "must be true or false, not %s", qs_gx_type_name(it));
        return 0;
    }
    *out = cJSON_IsTrue(it);
    return 1;
}

int qs_gx_bits_value(int *out, const cJSON *it, const char *path, int min, gx_errs *e)
{
    long long b;
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) ||
        !((it->valuedouble >= min && it->valuedouble <= 8) || it->valuedouble == 32)) {
        if (cJSON_IsNumber(it))
            qs_gx_err(e, path, "%.17g is not a bit width (allowed: %d..8, or 32 = float)",
                      it->valuedouble, min);
        else
            qs_gx_err(e, path, "must be a bit width (%d..8, or 32 = float), not %s", min,
                      qs_gx_type_name(it));
        return 0;
    }
    b = (long long)it->valuedouble;
    *out = (int)b;
    return 1;
}
