#include "parse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "err.h"

/* strtol/strtod skip leading white space; a flag value with it is a typo. */
static int starts_clean(const char *v) { return v && *v && !isspace((unsigned char)*v); }

int qs_parse_int(int *out, const char *flag, const char *v, long lo, long hi)
{
    char *end = NULL;
    long x = 0;
    errno = 0;
    if (starts_clean(v))
        x = strtol(v, &end, 10);
    if (!starts_clean(v) || errno || end == v || *end || x < lo || x > hi)
        return qs_err(QS_EINVAL, "%s: \"%s\" is not an integer in %ld..%ld", flag,
                      v ? v : "", lo, hi);
    *out = (int)x;
    return QS_OK;
}

int qs_parse_num(double *out, const char *flag, const char *v, double lo, double hi)
{
    char *end = NULL;
    double x = 0;
    errno = 0;
    if (starts_clean(v))
        x = strtod(v, &end);
    if (!starts_clean(v) || errno || end == v || *end || !isfinite(x) || x < lo || x > hi)
        return qs_err(QS_EINVAL, "%s: \"%s\" is not a number in %g..%g", flag, v ? v : "",
                      lo, hi);
    *out = x;
    return QS_OK;
}

int qs_parse_ll(long long *out, const char *s, long long lo, long long hi)
{
    char *end = NULL;
    if (!starts_clean(s))
        return -1;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

int qs_parse_double(double *out, const char *s, double lo, double hi)
{
    char *end = NULL;
    if (!starts_clean(s))
        return -1;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(x) || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}
