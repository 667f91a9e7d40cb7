/* A cache of API responses, valid for one database generation. The
 * generation (api_db.h: qs_dbpool_generation) moves on with every commit
 * of the sweep, so an answer is never served after a newer commit. Within
 * a generation an answer is fresh for ttl seconds (the ETA and "now" of
 * /api/sweeps follow the clock); after that it is still served while one
 * request refreshes it. After a commit one request per URL queries the
 * database while identical requests wait for its answer, instead of all
 * querying at once. Many browsers polling the same views then cost one
 * query per commit instead of one per poll. */
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
