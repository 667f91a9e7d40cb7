/* Strict parsing of numbers given as text (command-line flags, job
 * configs): the whole string must be the number, and it must lie in the
 * caller's range. The one parser every command uses, so "abc", "5x", " 5"
 * or an out-of-range value is refused the same way everywhere. */
#ifndef QS_PARSE_H
#define QS_PARSE_H

/* Base-10 integer in lo..hi. QS_EINVAL with
 * "FLAG: \"V\" is not an integer in LO..HI". */
int qs_parse_int(int *out, const char *flag, const char *v, long lo, long hi);
/* Finite number in lo..hi. QS_EINVAL with
 * "FLAG: \"V\" is not a number in LO..HI". */
int qs_parse_num(double *out, const char *flag, const char *v, double lo, double hi);

/* The same rules without a message, for callers that word their own
 * (the job spec's reader, environment settings): 0 and *out set, or -1
 * with *out untouched. */
int qs_parse_ll(long long *out, const char *s, long long lo, long long hi);
int qs_parse_double(double *out, const char *s, double lo, double hi);

#endif
