/* Typed readers of query parameters. Every value is checked here before it
 * reaches a query, and then only ever bound (sqlite3_bind_*), never pasted
 * into SQL text. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

int qs_api_bad(qs_api_req *r, const char *name, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    qs_resp_error(r->resp, 400, name, "parameter \"%s\": %s", name, msg);
    return QS_EINVAL;
}

static const qs_param *find(qs_api_req *r, const char *name)
{
    for (int i = 0; i < r->params->n; i++)
        if (strcmp(r->params->v[i].key, name) == 0)
            return &r->params->v[i];
    return NULL;
}

int qs_api_str(qs_api_req *r, const char *name, const char **out)
{
    *out = NULL;
    const qs_param *p = find(r, name);
    if (!p || p->len == 0)
        return QS_OK;
    if (p->len > QS_API_MAX_VALUE)
        return qs_api_bad(r, name, "longer than %d bytes", QS_API_MAX_VALUE);
    for (size_t i = 0; i < p->len; i++)
        if ((unsigned char)p->val[i] < 0x20 || p->val[i] == 0x7F)
            return qs_api_bad(r, name, "control characters are not allowed");
    *out = p->val;
    return QS_OK;
}

int qs_api_int(qs_api_req *r, const char *name, long long lo, long long hi, long long *out,
               int *present)
{
    const char *s;
    *present = 0;
    if (qs_api_str(r, name, &s))
        return QS_EINVAL;
    if (!s)
        return QS_OK;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return qs_api_bad(r, name, "expected an integer from %lld to %lld", lo, hi);
    *out = v;
    *present = 1;
    return QS_OK;
}

int qs_api_real(qs_api_req *r, const char *name, double lo, double hi, double *out, int *present)
{
    const char *s;
    *present = 0;
    if (qs_api_str(r, name, &s))
        return QS_EINVAL;
    if (!s)
        return QS_OK;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
        return qs_api_bad(r, name, "expected a number from %g to %g", lo, hi);
    *out = v;
    *present = 1;
    return QS_OK;
}

int qs_api_bool(qs_api_req *r, const char *name, int *out, int *present)
{
    const char *s;
    *present = 0;
    if (qs_api_str(r, name, &s))
        return QS_EINVAL;
    if (!s)
        return QS_OK;
    if (!strcmp(s, "1") || !strcmp(s, "true"))
        *out = 1;
    else if (!strcmp(s, "0") || !strcmp(s, "false"))
        *out = 0;
    else
        return qs_api_bad(r, name, "expected true, false, 1 or 0");
    *present = 1;
    return QS_OK;
}

int qs_api_enum(qs_api_req *r, const char *name, const char *const *allowed, const char **out)
{
    const char *s;
    *out = NULL;
    if (qs_api_str(r, name, &s))
        return QS_EINVAL;
    if (!s)
        return QS_OK;
    char list[256] = "";
    for (int i = 0; allowed[i]; i++) {
        if (strcmp(s, allowed[i]) == 0) {
            *out = allowed[i];
            return QS_OK;
        }
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", allowed[i]);
    }
    return qs_api_bad(r, name, "expected one of %s", list);
}

int qs_api_phase_id(qs_api_req *r, const char *name, const char **out, int required)
{
    if (qs_api_str(r, name, out))
        return QS_EINVAL;
    if (!*out)
        return required ? qs_api_bad(r, name, "required (a 32-hex-digit phase id)") : QS_OK;
    size_t n = strlen(*out);
    int ok = n == 32;
    for (size_t i = 0; ok && i < n; i++)
        ok = isxdigit((unsigned char)(*out)[i]) != 0;
    if (!ok)
        return qs_api_bad(r, name, "expected 32 hex digits");
    return QS_OK;
}
