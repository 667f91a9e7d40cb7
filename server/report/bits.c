/* Bit-setting labels, parser and order (bits.h). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "bits.h"
#include "err.h"

void qs_bits_label(char *out, size_t cap, int wb, int ab)
{
    if (wb >= 32 && ab >= 32)
        snprintf(out, cap, "float");
    else if (ab >= 32)
        snprintf(out, cap, "W%dAF", wb);
    else if (wb >= 32)
        snprintf(out, cap, "WFA%d", ab);
    else
        snprintf(out, cap, "W%dA%d", wb, ab);
}

void qs_setting_label(char *out, size_t cap, int wb, int ab, int lip, int clr)
{
    qs_bits_label(out, cap, wb, ab);
    size_t n = strlen(out);
    snprintf(out + n, cap > n ? cap - n : 0, "%s%s", lip ? "+lip" : "", clr ? "+clr" : "");
}

int qs_quant_suffix(char *lab, size_t cap, const char *q)
{
    if (!q || !q[0] || !strcmp(q, "none") || !strcmp(q, "hwang-pact"))
        return 0;
    size_t n = strlen(lab);
    snprintf(lab + n, cap > n ? cap - n : 0, "[%s]", q);
    return 1;
}

long qs_setting_rank(int wb, int ab, int lip, int clr)
{
    int group = wb >= 32 && ab >= 32 ? 0 : ab >= 32 ? 1 : wb >= 32 ? 2 : 3;
    /* More bits first: 32 - bits ascends as the bits fall. */
    int w = 32 - (wb > 32 ? 32 : wb), a = 32 - (ab > 32 ? 32 : ab);
    int variant = (lip ? 1 : 0) + (clr ? 2 : 0); /* plain, +lip, +clr, +lip+clr */
    return (((long)group * 64 + w) * 64 + a) * 4 + variant;
}

/* One side of a label: a bit count 1..8, or F (float). */
static int side(int *bits, const char **p)
{
    if (**p == 'f') {
        *bits = 32;
        (*p)++;
        return 1;
    }
    if (**p < '1' || **p > '8')
        return 0;
    *bits = *(*p)++ - '0';
    return 1;
}

int qs_bits_parse(int *wb, int *ab, const char *flag, const char *s)
{
    char low[16];
    size_t n = strlen(s);
    if (n < sizeof low) {
        for (size_t i = 0; i <= n; i++)
            low[i] = (char)tolower((unsigned char)s[i]);
        if (!strcmp(low, "float")) {
            *wb = *ab = 32;
            return QS_OK;
        }
        const char *p = low;
        if (*p++ == 'w' && side(wb, &p) && *p++ == 'a' && side(ab, &p) && !*p &&
            (*wb < 32 || *ab < 32))
            return QS_OK;
    }
    return qs_err(QS_EINVAL, "%s \"%s\": expected float, WxAy, WxAF or WFAy with x, y in 1..8 "
                  "(as the tables print them, e.g. W2A2; any case)", flag, s);
}
