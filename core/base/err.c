#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char msg[1024];

int qs_err(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return code;
}

int qs_err_wrap(int code, const char *fmt, ...)
{
    char old[sizeof msg], pre[512];
    va_list ap;
    memcpy(old, msg, sizeof old);
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof msg, "%s: %s", pre, old);
    return code;
}

const char *qs_errmsg(void) { return msg[0] ? msg : "no error"; }
