/* 128-bit non-cryptographic hash for phase ids (MurmurHash3 x64_128, the
 * public-domain algorithm by Austin Appleby, rewritten here). Ids only need
 * to be stable across runs and machines and collision-free in practice for
 * a few million phases; 128 bits make an accidental collision negligible. */
#ifndef QS_HASH_H
#define QS_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t h1, h2;
    uint8_t tail[16];
    size_t ntail, total;
} qs_hash128;

void qs_hash128_init(qs_hash128 *h, uint64_t seed);
void qs_hash128_update(qs_hash128 *h, const void *data, size_t len);
/* 32 lowercase hex chars + NUL into out[33]. */
void qs_hash128_hex(char out[33], qs_hash128 *h);

/* 64-bit FNV-1a, for in-memory hash tables. */
uint64_t qs_hash64(const void *data, size_t len);

#endif
