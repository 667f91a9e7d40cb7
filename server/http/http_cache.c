#include "http_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QS_CACHE_BUCKETS 256
#define QS_CACHE_MAX_ENTRY (4u << 20) /* bigger answers (CSV exports) are not kept */
#define QS_CACHE_WAIT_S 10            /* a waiter gives up and queries itself */

typedef struct entry {
    struct entry *next;
    char *key;
    unsigned long gen;  /* generation of body; 0: no body */
    double time;
    int status;
    const char *ctype, *disposition; /* static strings */
    char *body;
    size_t len;
    int computing;      /* a request is answering this key for gen `computing_gen` */
    unsigned long computing_gen;
} entry;

struct qs_cache {
    pthread_mutex_t mu;
    pthread_cond_t cv;  /* an answer arrived (or a computation ended) */
    entry *buckets[QS_CACHE_BUCKETS];
    size_t bytes, max_bytes;
    unsigned long gen;  /* newest generation seen; older entries are gone */
    double ttl;
};

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % QS_CACHE_BUCKETS;
}

static void clear(qs_cache *c)
{
    for (int i = 0; i < QS_CACHE_BUCKETS; i++) {
        entry *e = c->buckets[i];
        while (e) {
            entry *n = e->next;
            free(e->key);
            free(e->body);
            free(e);
            e = n;
        }
        c->buckets[i] = NULL;
    }
    c->bytes = 0;
}

static entry *find(qs_cache *c, const char *key, int create)
{
    unsigned h = hash(key);
    entry *e = c->buckets[h];
    while (e && strcmp(e->key, key) != 0)
        e = e->next;
    if (!e && create) {
        e = calloc(1, sizeof *e);
        if (!e || !(e->key = strdup(key))) {
            free(e);
            return NULL;
        }
        e->next = c->buckets[h];
        c->buckets[h] = e;
    }
    return e;
}

static void advance(qs_cache *c, unsigned long gen)
{
    if (gen > c->gen) {
        c->gen = gen;
        pthread_cond_broadcast(&c->cv); /* waiters re-check against the new generation */
    }
}

int qs_cache_create(qs_cache **out, size_t max_bytes, double ttl_s)
{
    qs_cache *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c)
        return qs_err(QS_ENOMEM, "out of memory");
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->max_bytes = max_bytes;
    c->ttl = ttl_s;
    *out = c;
    return QS_OK;
}

void qs_cache_destroy(qs_cache *c)
{
    if (!c)
        return;
    clear(c);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

static int serve(entry *e, qs_resp *resp)
{
    qs_buf_reset(&resp->body);
    if (qs_buf_add(&resp->body, e->body, e->len) != QS_OK)
        return 0;
    resp->status = e->status;
    resp->ctype = e->ctype;
    resp->disposition = e->disposition;
    return 1;
}

int qs_cache_get(qs_cache *c, const char *key, unsigned long gen, double now, qs_resp *resp,
                 int *owner)
{
    int hit = 0;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += QS_CACHE_WAIT_S;
    *owner = 0;
    pthread_mutex_lock(&c->mu);
    advance(c, gen);
    for (;;) {
        /* Re-found on every pass: a full cache is emptied while we wait. */
        entry *e = gen == c->gen ? find(c, key, 1) : NULL;
        if (!e)
            break; /* an older request, or no memory: answer uncached */
        int young = now >= e->time && now - e->time <= c->ttl;
        if (e->body && e->gen == gen && young) {
            hit = serve(e, resp);
            break;
        }
        if (!e->computing || e->computing_gen != gen) {
            /* This request answers for everyone asking the same. */
            e->computing = 1;
            e->computing_gen = gen;
            *owner = 1;
            break;
        }
        /* Another request is answering exactly this. Meanwhile an answer
         * at most ttl old is served: of this generation, or of the one
         * before when the sweep has just committed; else wait for it. */
        if (e->body && young) {
            hit = serve(e, resp);
            break;
        }
        if (e->body && e->gen == gen) {
            hit = serve(e, resp); /* same data, the clock fields older */
            break;
        }
        if (pthread_cond_timedwait(&c->cv, &c->mu, &deadline) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

void qs_cache_put(qs_cache *c, const char *key, unsigned long gen, double now, const qs_resp *resp,
                  int owner)
{
    pthread_mutex_lock(&c->mu);
    advance(c, gen);
    entry *e = find(c, key, 0);
    if (e && owner && e->computing_gen == gen)
        e->computing = 0;
    /* Never replace an answer with an older one. */
    int keep = e && gen >= e->gen && resp->status == 200 && !resp->body.oom &&
               resp->body.len <= QS_CACHE_MAX_ENTRY;
    if (keep && c->bytes + resp->body.len > c->max_bytes) {
        clear(c); /* rare, and the views polled come back at once */
        e = find(c, key, 1);
        keep = e != NULL;
    }
    if (keep) {
        char *body = malloc(resp->body.len ? resp->body.len : 1);
        if (body) {
            memcpy(body, resp->body.p, resp->body.len);
            c->bytes -= e->len;
            free(e->body);
            e->body = body;
            e->len = resp->body.len;
            c->bytes += e->len;
            e->gen = gen;
            e->time = now;
            e->status = resp->status;
            e->ctype = resp->ctype;
            e->disposition = resp->disposition;
        }
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}
