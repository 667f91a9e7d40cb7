#include "num.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

int qs_parse_ll(long long *out, const char *s, long long lo, long long hi)
{
    char *end;
    if (!s)
        return -1;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

int qs_parse_int(int *out, const char *s, int lo, int hi)
{
    long long x;
    if (qs_parse_ll(&x, s, lo, hi))
        return -1;
    *out = (int)x;
    return 0;
}

int qs_parse_double(double *out, const char *s, double lo, double hi)
{
    char *end;
    if (!s)
        return -1;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(x) || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}
