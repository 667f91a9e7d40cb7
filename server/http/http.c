#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api.h"
#include "clock.h"
#include "err.h"
#include "http_req.h"
#include "http_static.h"

struct qs_http {
    struct MHD_Daemon *d;
    qs_http_cfg cfg;
    int loopback; /* bound to a loopback address: check Host */
    int port;
};

/* Per request, created by the URI callback from the raw request target,
 * before libmicrohttpd decodes it in place (%2e%2e and %2f still visible). */
typedef struct {
    const char *raw; /* where the target starts in libmicrohttpd's buffer */
    size_t raw_len;  /* its strlen: shorter than the target when that holds a NUL */
    char target[QS_HTTP_MAX_URI + 2]; /* the first bytes, enough to see it is too long */
    int answered;
} req_state;

static void *uri_cb(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    req_state *s = malloc(sizeof *s);
    if (!s)
        return NULL; /* the handler answers 503 */
    s->raw = uri;
    s->raw_len = strlen(uri);
    size_t n = s->raw_len < sizeof s->target ? s->raw_len : sizeof s->target;
    memcpy(s->target, uri, n);
    s->answered = 0;
    return s;
}

/* The request target's real length. libmicrohttpd hands the URI callback a
 * C string, cut at a raw NUL, and the handler the version, which follows
 * the target after one space in the same buffer (request line "METHOD SP
 * target SP version"): the distance tells. -1 when the version is not
 * there (no request line of that shape). */
static long target_len(const req_state *s, const char *version)
{
    uintptr_t t = (uintptr_t)s->raw, v = (uintptr_t)version;
    if (v <= t || v - t > QS_HTTP_MEMORY_LIMIT)
        return -1;
    return (long)(v - t - 1);
}

static void completed_cb(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    free(*req_cls);
    *req_cls = NULL;
}

static void log_cb(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    fprintf(stderr, "qsweep serve: ");
    vfprintf(stderr, fmt, ap);
}

static enum MHD_Result queue(struct MHD_Connection *c, qs_resp *resp, int is_api, int is_head)
{
    static const char oom[] = "{\"error\":\"out of memory\"}\n";
    struct MHD_Response *r = NULL;
    size_t len;
    char *body = resp->body.oom ? NULL : qs_buf_take(&resp->body, &len);
    int status = resp->status;
    (void)is_head; /* libmicrohttpd omits the body of a HEAD response itself */
    if (body)
        r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        status = 500;
        resp->ctype = "application/json; charset=utf-8";
        resp->disposition = NULL;
        r = MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", resp->ctype ? resp->ctype : "application/octet-stream");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    /* API answers change with every commit of the sweep: never cached. */
    MHD_add_response_header(r, "Cache-Control", is_api ? "no-store" : "no-cache");
    if (resp->disposition)
        MHD_add_response_header(r, "Content-Disposition", resp->disposition);
    if (resp->ctype && !strncmp(resp->ctype, "text/html", 9))
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data: blob:; "
                                "style-src 'self' 'unsafe-inline'; script-src 'self'; "
                                "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'");
    if (status == 405)
        MHD_add_response_header(r, "Allow", "GET, HEAD");
    /* After a refusal the connection's next bytes may be a body we did not
     * read (or a smuggled request): never parse them as a request. */
    if (status >= 400)
        MHD_add_response_header(r, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result header_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                 size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    qs_http_header(cls, key, key_size, value, value_size);
    return MHD_YES;
}

/* Host must name this machine when serving on loopback: a web page from
 * elsewhere cannot then read the API through DNS rebinding. */
static int host_ok(const qs_http *h, struct MHD_Connection *c)
{
    if (!h->loopback)
        return 1;
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (!host)
        return 1; /* HTTP/1.0 without Host (HTTP/1.1 needs one: qs_http_check_headers) */
    char name[300];
    size_t n = strlen(host);
    if (n >= sizeof name)
        return 0;
    memcpy(name, host, n + 1);
    if (name[0] == '[') { /* [v6]:port */
        char *e = strchr(name, ']');
        if (!e)
            return 0;
        *e = '\0';
        memmove(name, name + 1, strlen(name + 1) + 1);
    } else {
        char *colon = strchr(name, ':');
        if (colon)
            *colon = '\0';
    }
    if (!strcasecmp(name, "localhost") || !strcmp(name, "::1") || !strcmp(name, h->cfg.bind))
        return 1;
    struct in_addr a;
    return inet_pton(AF_INET, name, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

/* The cache key: the path and every parameter, lengths included, so no
 * two different queries can share a key. */
static int cache_key(qs_buf *key, const char *path, const qs_params *params)
{
    qs_buf_puts(key, path);
    for (int i = 0; i < params->n; i++) {
        qs_buf_printf(key, "\n%zu:%s=%zu:", strlen(params->v[i].key), params->v[i].key, params->v[i].len);
        qs_buf_add(key, params->v[i].val, params->v[i].len);
        /* A NUL inside a value would end the key early: such values are
         * refused (400) and never cached, but the key must still differ. */
        for (size_t k = 0; k < params->v[i].len; k++)
            if (params->v[i].val[k] == '\0')
                return QS_EINVAL;
    }
    return qs_buf_ok(key);
}

/* One API request: from the cache when the database has not changed
 * since the same request was answered, else from the database. */
static void api_answer(qs_http *h, const qs_api_route *route, const char *url,
                       const qs_params *params, qs_resp *resp)
{
    qs_buf key;
    qs_buf_init(&key);
    int cacheable = h->cfg.cache && cache_key(&key, url, params) == QS_OK;
    /* The generation is read before the request's read transaction starts
     * (qs_api_call), so the answer is at least as new as it says. */
    unsigned long gen = cacheable ? qs_dbpool_generation(h->cfg.pool) : 0;
    double t = qs_now_s();
    int owner = 0;
    if (!cacheable || !qs_cache_get(h->cfg.cache, key.p, gen, t, resp, &owner)) {
        sqlite3 *db = qs_dbpool_get(h->cfg.pool);
        qs_api_call(route, params, db, qs_dbpool_fast(h->cfg.pool), resp);
        qs_dbpool_put(h->cfg.pool, db);
        if (cacheable)
            qs_cache_put(h->cfg.cache, key.p, gen, t, resp, owner);
    }
    qs_buf_free(&key);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **req_cls)
{
    (void)upload_data;
    (void)url; /* libmicrohttpd's decoding; qs_http_parse_target decodes the raw target */
    qs_http *h = cls;
    req_state *s = *req_cls;
    if (s && s->answered) {
        *upload_data_size = 0; /* a body we do not read */
        return MHD_YES;
    }
    if (s)
        s->answered = 1;
    qs_resp resp;
    qs_resp_init(&resp);
    int is_api = 1, is_head = !strcmp(method, "HEAD");
    int http11 = !strcmp(version, MHD_HTTP_VERSION_1_1);
    qs_http_headers hs = {0};
    qs_http_target *t = NULL;
    const char *cl;
    long tlen = s ? target_len(s, version) : -1;
    enum MHD_Result ret;

    if (!s) {
        qs_resp_error(&resp, 503, NULL, "server out of memory");
    } else if ((!http11 && strcmp(version, MHD_HTTP_VERSION_1_0) != 0) || tlen < 0) {
        qs_resp_error(&resp, 400, NULL, "malformed request line");
    } else if ((size_t)tlen != s->raw_len) {
        qs_resp_error(&resp, 400, NULL, "a NUL byte in the request target");
    } else if (MHD_get_connection_values_n(c, MHD_HEADER_KIND, header_cb, &hs) < 0 ||
               qs_http_check_headers(&hs, http11, &resp)) {
        /* resp holds the error (431, 400) */
    } else if (strcmp(method, "GET") != 0 && !is_head) {
        qs_resp_error(&resp, 405, NULL, "method not allowed: this server only reads (GET, HEAD)");
    } else if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding") ||
               ((cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length")) &&
                strcmp(cl, "0") != 0)) {
        /* A GET with a body is either a mistake or request smuggling. */
        qs_resp_error(&resp, 400, NULL, "a GET request carries no body");
    } else if (!host_ok(h, c)) {
        qs_resp_error(&resp, 403, NULL, "Host header does not name this machine");
    } else if (!(t = malloc(sizeof *t))) {
        qs_resp_error(&resp, 503, NULL, "server out of memory");
    } else if (qs_http_parse_target(t, s->target, s->raw_len < sizeof s->target ? s->raw_len
                                                                                : sizeof s->target,
                                    &resp)) {
        /* resp holds the error (400, 404, 414) */
    } else if (t->route) {
        api_answer(h, t->route, t->path, &t->params, &resp);
    } else {
        is_api = 0;
        qs_static_get(h->cfg.webdir, h->cfg.chartjs, t->path, &resp);
        if (resp.status == 404)
            is_api = 1;
    }
    free(t);
    ret = queue(c, &resp, is_api, is_head);
    qs_resp_free(&resp);
    return ret;
}

int qs_http_start(qs_http **out, const qs_http_cfg *cfg)
{
    int rc = QS_OK;
    qs_http *h = calloc(1, sizeof *h);
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    struct sockaddr *sa;
    /* A thread per connection: a request that queries the database for
     * a while (after a commit) then delays only its own connection. With a
     * thread pool it also stalled every connection sharing its thread. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    *out = NULL;
    if (!h)
        return qs_err(QS_ENOMEM, "out of memory");
    h->cfg = *cfg;
    memset(&a4, 0, sizeof a4);
    memset(&a6, 0, sizeof a6);
    if (inet_pton(AF_INET, cfg->bind, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)cfg->port);
        sa = (struct sockaddr *)&a4;
        h->loopback = (ntohl(a4.sin_addr.s_addr) >> 24) == 127;
    } else if (inet_pton(AF_INET6, cfg->bind, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)cfg->port);
        sa = (struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
        h->loopback = IN6_IS_ADDR_LOOPBACK(&a6.sin6_addr);
    } else {
        rc = qs_err(QS_EINVAL, "--bind %s: not an IPv4 or IPv6 address", cfg->bind);
        goto cleanup;
    }
    h->d = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, handler, h,
        /* First, so that option errors below are logged through it too. */
        MHD_OPTION_EXTERNAL_LOGGER, log_cb, h,
        MHD_OPTION_SOCK_ADDR, sa,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1 << 20),
        /* Request line and headers must fit in this: larger ones are
         * refused by libmicrohttpd (414 / 431) before any handler runs. */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)QS_HTTP_MEMORY_LIMIT,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)QS_HTTP_MAX_CONNECTIONS,
        /* One address cannot take every slot: the rest stay free for
         * others while it holds its share (docs/api.md). */
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)QS_HTTP_MAX_PER_IP,
        /* Level 0, not 1: at 1 libmicrohttpd itself refuses an HTTP/1.1
         * request without Host, with an HTML body (and 0.9.75 sends that
         * answer's status line twice); at 0 the request reaches
         * qs_http_check_headers, which refuses it, and header names with
         * spaces, in JSON. */
        MHD_OPTION_STRICT_FOR_CLIENT, (int)0,
        /* Idle or trickling clients are dropped instead of holding a slot. */
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)QS_HTTP_IDLE_S,
        MHD_OPTION_URI_LOG_CALLBACK, uri_cb, h,
        MHD_OPTION_NOTIFY_COMPLETED, completed_cb, h,
        MHD_OPTION_END);
    if (!h->d) {
        rc = qs_err(QS_EIO, "cannot listen on %s port %d (in use, or not an address of this machine?)",
                    cfg->bind, cfg->port);
        goto cleanup;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : cfg->port;
    *out = h;
    h = NULL;
cleanup:
    qs_http_stop(h);
    return rc;
}

int qs_http_port(const qs_http *h) { return h->port; }

void qs_http_stop(qs_http *h)
{
    if (!h)
        return;
    if (h->d)
        MHD_stop_daemon(h->d);
    free(h);
}
