/* Fuzz target for the request checks of `qsweep serve` (server/http/http_req.c):
 * the raw request target as libmicrohttpd reads it (any bytes, NULs too),
 * then header lines. Input: the target up to the first '\n', then one
 * "name:value" per line. Beyond the sanitizers, every answer is checked
 * against what http_req.h promises: an accepted target decodes to a path
 * with no control bytes or dot segments and to at most QS_API_MAX_PARAMS
 * clean parameters, a refused one carries one of the documented statuses
 * and a JSON error body. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_req.h"
#include "http_static.h"

static int clean(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7F)
            return 0;
    return 1;
}

static void check_error(const qs_resp *resp, const int *allowed, int n)
{
    int ok = 0;
    for (int i = 0; i < n; i++)
        ok |= resp->status == allowed[i];
    cJSON *j = resp->body.p ? cJSON_Parse(resp->body.p) : NULL;
    if (!ok || !j || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "error")))
        abort();
    cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static qs_http_target t;
    const char *in = (const char *)data;
    const char *nl = memchr(in, '\n', size);
    size_t tlen = nl ? (size_t)(nl - in) : size;
    qs_resp resp;
    qs_resp_init(&resp);

    if (qs_http_parse_target(&t, in, tlen, &resp) == QS_OK) {
        size_t plen = strlen(t.path);
        if (tlen > QS_HTTP_MAX_URI || t.path[0] != '/' || plen > tlen || !clean(t.path, plen) ||
            strstr(t.path, "..") || strchr(t.path, '\\') || t.params.n > QS_API_MAX_PARAMS)
            abort();
        if ((t.route != NULL) != (!strncmp(t.path, "/api/", 5) || !strcmp(t.path, "/api")))
            abort();
        for (int i = 0; i < t.params.n; i++) {
            const qs_param *p = &t.params.v[i];
            size_t kn = strlen(p->key);
            if (kn == 0 || kn > 64 || !clean(p->key, kn) || !clean(p->val, p->len) ||
                strlen(p->val) != p->len)
                abort();
        }
        if (!t.route) {
            /* The static-file lookup on a directory that does not exist:
             * the name checks run, nothing is read. */
            qs_static_get("/nonexistent-qsweep-web", "", t.path, &resp);
            if (resp.status != 404 && resp.status != 200)
                abort();
        }
    } else {
        static const int st[] = {400, 404, 414};
        check_error(&resp, st, 3);
    }

    qs_http_headers h = {0};
    const char *p = nl ? nl + 1 : in + size, *end = in + size;
    while (p < end) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        size_t n = e ? (size_t)(e - p) : (size_t)(end - p);
        const char *colon = memchr(p, ':', n);
        size_t kn = colon ? (size_t)(colon - p) : n;
        qs_http_header(&h, p, kn, colon ? colon + 1 : "", colon ? n - kn - 1 : 0);
        p += n + 1;
    }
    qs_resp_free(&resp);
    qs_resp_init(&resp);
    if (qs_http_check_headers(&h, size & 1, &resp) != QS_OK) {
        static const int st[] = {400, 431};
        check_error(&resp, st, 2);
    }
    qs_resp_free(&resp);
    return 0;
}
