/* One request's target and headers checked and decoded without a socket:
 * http.c gives it the raw bytes libmicrohttpd read, tests/fuzz/fuzz_http.c
 * any bytes at all. Everything a real page never sends is refused here,
 * with the JSON error the client gets (docs/api.md, "Conventions"). */
#ifndef QS_HTTP_REQ_H
#define QS_HTTP_REQ_H

#include <stddef.h>

#include "api.h"

#define QS_HTTP_MAX_URI 4096      /* bytes of the request target */
#define QS_HTTP_MAX_HEADERS 8192  /* bytes of the header lines, ": " and CRLF counted */

typedef struct {
    char path[QS_HTTP_MAX_URI + 1]; /* decoded path */
    char qbuf[QS_HTTP_MAX_URI + 1]; /* decoded names and values, NUL-separated */
    qs_params params;               /* pointing into qbuf */
    const qs_api_route *route;      /* an /api path's route, else NULL (a static file) */
} qs_http_target;

/* Checks and decodes the raw request target (len bytes, NULs included).
 * QS_OK: t holds the decoded path, the query parameters ('+' is a space,
 * %XX a byte, a malformed escape stays as written) and, for /api paths,
 * the route. QS_EINVAL: resp holds the error: 414 over QS_HTTP_MAX_URI;
 * 400 for NUL, control, space, '#' or backslash bytes, dot segments,
 * encoded dots, slashes, backslashes, NULs or overlong UTF-8, a decoded
 * control byte, a bad parameter name, more than QS_API_MAX_PARAMS
 * parameters; 404 for an unknown /api path. */
int qs_http_parse_target(qs_http_target *t, const char *raw, size_t len, qs_resp *resp);

typedef struct {
    size_t bytes; /* header bytes so far */
    int hosts;    /* Host headers */
    int bad;      /* a name that is not a token, or a NUL or control byte in a value */
} qs_http_headers;

/* Adds one header (lengths as libmicrohttpd reports them). */
void qs_http_header(qs_http_headers *h, const char *key, size_t klen, const char *val, size_t vlen);
/* QS_OK, or QS_EINVAL with resp holding the error: 431 over
 * QS_HTTP_MAX_HEADERS; 400 for a malformed header, several Host headers,
 * or an HTTP/1.1 request (http11) without one. */
int qs_http_check_headers(const qs_http_headers *h, int http11, qs_resp *resp);

#endif
