/* A cache of API responses, by database generation. The generation
 * (api_db.h: qs_dbpool_generation) moves on with every commit of the
 * sweep. The first request after a commit (or after ttl seconds: the ETA
 * and "now" of /api/sweeps follow the clock) queries the database; the
 * identical requests that arrive while it does are served the previous
 * answer if it is at most ttl seconds old, else they wait for the new one.
 * So an answer is never more than ttl seconds behind the database (and a
 * lone client always sees the latest commit), and many browsers polling
 * the same views cost one query per commit instead of one per poll. */
#ifndef QS_HTTP_CACHE_H
#define QS_HTTP_CACHE_H

#include "api.h"

typedef struct qs_cache qs_cache;

/* max_bytes bounds the bodies held; ttl_s the freshness of an entry. */
int qs_cache_create(qs_cache **out, size_t max_bytes, double ttl_s);
void qs_cache_destroy(qs_cache *c);

/* 1: a hit, resp filled. 0: the caller answers the request itself and
 * then must call qs_cache_put with the same key, gen and *owner. */
int qs_cache_get(qs_cache *c, const char *key, unsigned long gen, double now, qs_resp *resp,
                 int *owner);
/* Keeps a copy of a 200 answer and wakes the requests waiting for it. */
void qs_cache_put(qs_cache *c, const char *key, unsigned long gen, double now, const qs_resp *resp,
                  int owner);

#endif
