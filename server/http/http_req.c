#include "http_req.h"

#include <string.h>
#include <strings.h>

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* What no page sends and no file name needs, checked on the raw bytes so
 * that no encoding can hide it: the reason, or NULL. */
static const char *raw_bad(const char *raw, size_t len, size_t pathlen)
{
    if (len == 0 || raw[0] != '/')
        return "the request target must be a path starting with /";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c == '\0')
            return "a NUL byte in the request target";
        if (c < 0x20 || c == 0x7F)
            return "a control byte in the request target";
        if (c == ' ' || c == '#')
            return "a space or '#' in the request target";
    }
    for (size_t i = 0; i < pathlen; i++) {
        char c = raw[i];
        if (c == '\\')
            return "bad path: backslashes are refused";
        if (c == '.' && i > 0 && raw[i - 1] == '/' && i + 1 < pathlen && raw[i + 1] == '.')
            return "bad path: dot segments are refused";
        if (c != '%')
            continue;
        if (i + 2 >= pathlen)
            return "bad path: a truncated %-escape";
        const char *e = raw + i + 1;
        /* Encoded dots, slashes, backslashes and NULs, and the overlong
         * UTF-8 lead bytes that spell them on some servers. */
        if (!strncasecmp(e, "2e", 2) || !strncasecmp(e, "2f", 2) || !strncasecmp(e, "5c", 2) ||
            !strncmp(e, "00", 2) || !strncasecmp(e, "c0", 2) || !strncasecmp(e, "c1", 2))
            return "bad path: encoded dots, separators and NULs are refused";
    }
    return NULL;
}

/* Decodes src[0..n) into out (room for n + 1), '+' as a space when plus:
 * the bytes written, NUL-terminated. */
static size_t decode(char *out, const char *src, size_t n, int plus)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        int hi, lo;
        if (c == '%' && i + 2 < n && (hi = hexval((unsigned char)src[i + 1])) >= 0 &&
            (lo = hexval((unsigned char)src[i + 2])) >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = plus && c == '+' ? ' ' : (char)c;
        }
    }
    out[o] = '\0';
    return o;
}

static int has_ctl(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7F)
            return 1;
    return 0;
}

static int parse_query(qs_http_target *t, const char *q, size_t n, qs_resp *resp)
{
    size_t used = 0;
    for (size_t at = 0; at <= n;) {
        const char *amp = memchr(q + at, '&', n - at);
        size_t seg = amp ? (size_t)(amp - (q + at)) : n - at;
        const char *s = q + at;
        at += seg + 1;
        if (seg == 0)
            continue; /* "a=1&&b=2", a trailing '&' */
        if (t->params.n >= QS_API_MAX_PARAMS) {
            qs_resp_error(resp, 400, NULL, "more than %d query parameters", QS_API_MAX_PARAMS);
            return QS_EINVAL;
        }
        const char *eq = memchr(s, '=', seg);
        size_t kn = eq ? (size_t)(eq - s) : seg;
        /* Each segment decodes to at most its own bytes plus two NULs,
         * and the separators between them leave room for those. */
        if (used + seg + 2 > sizeof t->qbuf) {
            qs_resp_error(resp, 414, NULL, "URL longer than %d bytes", QS_HTTP_MAX_URI);
            return QS_EINVAL;
        }
        qs_param *p = &t->params.v[t->params.n];
        char *key = t->qbuf + used;
        size_t klen = decode(key, s, kn, 1);
        used += klen + 1;
        if (klen == 0 || klen > 64 || has_ctl(key, klen)) {
            qs_resp_error(resp, 400, NULL, "malformed query parameter name");
            return QS_EINVAL;
        }
        char *val = t->qbuf + used;
        size_t vlen = eq ? decode(val, eq + 1, seg - kn - 1, 1) : (val[0] = '\0', 0);
        used += vlen + 1;
        if (has_ctl(val, vlen)) {
            qs_resp_error(resp, 400, key, "parameter \"%s\": control characters are not allowed", key);
            return QS_EINVAL;
        }
        p->key = key;
        p->val = val;
        p->len = vlen;
        t->params.n++;
    }
    return QS_OK;
}

int qs_http_parse_target(qs_http_target *t, const char *raw, size_t len, qs_resp *resp)
{
    t->path[0] = '\0';
    t->params.n = 0;
    t->route = NULL;
    if (len > QS_HTTP_MAX_URI) {
        qs_resp_error(resp, 414, NULL, "URL longer than %d bytes", QS_HTTP_MAX_URI);
        return QS_EINVAL;
    }
    const char *qmark = memchr(raw, '?', len);
    size_t pathlen = qmark ? (size_t)(qmark - raw) : len;
    const char *why = raw_bad(raw, len, pathlen);
    if (why) {
        qs_resp_error(resp, 400, NULL, "%s", why);
        return QS_EINVAL;
    }
    size_t plen = decode(t->path, raw, pathlen, 0);
    if (has_ctl(t->path, plen) || strstr(t->path, "..")) {
        qs_resp_error(resp, 400, NULL, "bad path: control bytes and dot segments are refused");
        return QS_EINVAL;
    }
    if (qmark && parse_query(t, qmark + 1, len - pathlen - 1, resp))
        return QS_EINVAL;
    if (!strncmp(t->path, "/api/", 5) || !strcmp(t->path, "/api")) {
        t->route = qs_api_find(t->path);
        if (!t->route) {
            qs_resp_error(resp, 404, NULL, "no such API endpoint: %s (see docs/api.md)", t->path);
            return QS_EINVAL;
        }
    }
    return QS_OK;
}

/* An HTTP token (RFC 9110 tchar): what a header name is made of. */
static int is_token(const char *s, size_t n)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (c && strchr(extra, c))))
            return 0;
    }
    return 1;
}

void qs_http_header(qs_http_headers *h, const char *key, size_t klen, const char *val, size_t vlen)
{
    h->bytes += klen + vlen + 4;
    if (!key || !is_token(key, klen)) {
        h->bad = 1;
        return;
    }
    if (klen == 4 && !strncasecmp(key, "Host", 4))
        h->hosts++;
    for (size_t i = 0; val && i < vlen; i++) {
        unsigned char c = (unsigned char)val[i];
        if ((c < 0x20 && c != '\t') || c == 0x7F)
            h->bad = 1;
    }
}

int qs_http_check_headers(const qs_http_headers *h, int http11, qs_resp *resp)
{
    if (h->bytes > QS_HTTP_MAX_HEADERS) {
        qs_resp_error(resp, 431, NULL, "request headers over %d bytes", QS_HTTP_MAX_HEADERS);
        return QS_EINVAL;
    }
    if (h->bad) {
        qs_resp_error(resp, 400, NULL, "malformed header: a name that is not a token, or a "
                                       "control byte in a value");
        return QS_EINVAL;
    }
    if (h->hosts > 1 || (http11 && h->hosts == 0)) {
        qs_resp_error(resp, 400, NULL, "%s", h->hosts ? "more than one Host header"
                                                      : "an HTTP/1.1 request needs a Host header");
        return QS_EINVAL;
    }
    return QS_OK;
}
