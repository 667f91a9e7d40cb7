/* The dashboard's HTTP server on libmicrohttpd: a thread per connection,
 * each request answered from the JSON API (api.h, through the response
 * cache of http_cache.h) or the static files (http_static.h). Hostile
 * input is refused before it reaches either, in JSON (http_req.h): NUL and
 * control bytes, over-long URLs and headers, path traversal in any
 * encoding, methods other than GET and HEAD, and (when bound to loopback)
 * foreign Host headers. Slow clients are bounded per address and by an
 * idle timeout. */
#ifndef QS_HTTP_H
#define QS_HTTP_H

#include "api_db.h"
#include "http_cache.h"
#include "http_req.h"

/* Per connection, libmicrohttpd's buffer for the request line and headers:
 * well above QS_HTTP_MAX_URI + QS_HTTP_MAX_HEADERS, so that requests over
 * those limits are still read whole and refused in JSON; only requests
 * over this one get libmicrohttpd's own answer (docs/api.md). */
#define QS_HTTP_MEMORY_LIMIT (64 * 1024)
#define QS_HTTP_MAX_CONNECTIONS 256 /* a thread each */
#define QS_HTTP_MAX_PER_IP 32       /* of them from one client address */
#define QS_HTTP_IDLE_S 10           /* seconds a connection may send nothing */

typedef struct {
    const char *bind; /* IPv4 or IPv6 literal */
    int port;         /* 0: any free port */
    const char *webdir;
    const char *chartjs; /* "" when not installed */
    qs_dbpool *pool;
    qs_cache *cache; /* NULL: every request queries the database */
} qs_http_cfg;

typedef struct qs_http qs_http;

int qs_http_start(qs_http **out, const qs_http_cfg *cfg);
/* The port actually bound (differs from cfg->port when that was 0). */
int qs_http_port(const qs_http *h);
/* Stops accepting, finishes the requests in flight, frees everything. */
void qs_http_stop(qs_http *h);

#endif
