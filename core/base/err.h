/* Error codes and the per-thread error message.
 * Every function that can fail returns one of these codes and, on failure,
 * leaves a human-readable message in qs_errmsg(). The CLI maps the codes to
 * exit statuses (interfaces.md): usage/input problems exit 2, a training
 * failure exits 1. */
#ifndef QS_ERR_H
#define QS_ERR_H

enum {
    QS_OK = 0,
    QS_EINVAL = 1,    /* bad argument or configuration */
    QS_EIO = 2,       /* file missing, unreadable or short */
    QS_EFORMAT = 3,   /* file present but corrupt or of the wrong kind */
    QS_ENOMEM = 4,
    QS_EDIVERGED = 5, /* NaN/inf loss */
    QS_EINTERNAL = 6,
    QS_EINTR = 7,     /* stopped on request (signal, coordinator) */
    QS_EBUSY = 8      /* held by another live process (the database claim) */
};

#if defined(__GNUC__)
#define QS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define QS_PRINTF(a, b)
#endif

/* Sets the message and returns code, so callers can `return qs_err(...)`. */
int qs_err(int code, const char *fmt, ...) QS_PRINTF(2, 3);
const char *qs_errmsg(void);
/* Prefixes the current message ("context: old message"), returns code. */
int qs_err_wrap(int code, const char *fmt, ...) QS_PRINTF(2, 3);

#endif
