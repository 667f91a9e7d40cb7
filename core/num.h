/* Strict number parsing from text: the whole string, finite, in range.
 * One parser for flags, job JSON values and environment settings, so a
 * value is refused (or read) the same way wherever it comes from. */
#ifndef QS_NUM_H
#define QS_NUM_H

/* 0 and *out set, or -1 (out untouched) when s is not an integer in lo..hi. */
int qs_parse_ll(long long *out, const char *s, long long lo, long long hi);
int qs_parse_int(int *out, const char *s, int lo, int hi);
/* 0 and *out set, or -1 when s is not a finite number in lo..hi. */
int qs_parse_double(double *out, const char *s, double lo, double hi);

#endif
