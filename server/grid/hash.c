/* MurmurHash3 x64_128, streaming form: the result equals the one-shot
 * function on the concatenated input (the tail buffer carries partial
 * blocks between updates). Endianness: blocks are read little-endian
 * explicitly, so ids are the same on every machine. */
#include "hash.h"

#include <stdio.h>
#include <string.h>

static const uint64_t C1 = 0x87c37b91114253d5ULL;
static const uint64_t C2 = 0x4cf5ad432745937fULL;

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t fmix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

static inline uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void block(qs_hash128 *h, const uint8_t *b)
{
    uint64_t k1 = le64(b), k2 = le64(b + 8);
    k1 *= C1; k1 = rotl(k1, 31); k1 *= C2; h->h1 ^= k1;
    h->h1 = rotl(h->h1, 27); h->h1 += h->h2; h->h1 = h->h1 * 5 + 0x52dce729;
    k2 *= C2; k2 = rotl(k2, 33); k2 *= C1; h->h2 ^= k2;
    h->h2 = rotl(h->h2, 31); h->h2 += h->h1; h->h2 = h->h2 * 5 + 0x38495ab5;
}

void qs_hash128_init(qs_hash128 *h, uint64_t seed)
{
    memset(h, 0, sizeof *h);
    h->h1 = h->h2 = seed;
}

void qs_hash128_update(qs_hash128 *h, const void *data, size_t len)
{
    const uint8_t *p = data;
    h->total += len;
    if (h->ntail) {
        size_t take = 16 - h->ntail < len ? 16 - h->ntail : len;
        memcpy(h->tail + h->ntail, p, take);
        h->ntail += take;
        p += take;
        len -= take;
        if (h->ntail < 16)
            return;
        block(h, h->tail);
        h->ntail = 0;
    }
    for (; len >= 16; p += 16, len -= 16)
        block(h, p);
    memcpy(h->tail, p, len);
    h->ntail = len;
}

void qs_hash128_hex(char out[33], qs_hash128 *h)
{
    uint64_t h1 = h->h1, h2 = h->h2, k1 = 0, k2 = 0;
    const uint8_t *t = h->tail;
    switch (h->ntail) {
    case 15: k2 ^= (uint64_t)t[14] << 48; /* fall through */
    case 14: k2 ^= (uint64_t)t[13] << 40; /* fall through */
    case 13: k2 ^= (uint64_t)t[12] << 32; /* fall through */
    case 12: k2 ^= (uint64_t)t[11] << 24; /* fall through */
    case 11: k2 ^= (uint64_t)t[10] << 16; /* fall through */
    case 10: k2 ^= (uint64_t)t[9] << 8;   /* fall through */
    case 9:
        k2 ^= (uint64_t)t[8];
        k2 *= C2; k2 = rotl(k2, 33); k2 *= C1; h2 ^= k2;
        /* fall through */
    case 8: k1 ^= (uint64_t)t[7] << 56; /* fall through */
    case 7: k1 ^= (uint64_t)t[6] << 48; /* fall through */
    case 6: k1 ^= (uint64_t)t[5] << 40; /* fall through */
    case 5: k1 ^= (uint64_t)t[4] << 32; /* fall through */
    case 4: k1 ^= (uint64_t)t[3] << 24; /* fall through */
    case 3: k1 ^= (uint64_t)t[2] << 16; /* fall through */
    case 2: k1 ^= (uint64_t)t[1] << 8;  /* fall through */
    case 1:
        k1 ^= (uint64_t)t[0];
        k1 *= C1; k1 = rotl(k1, 31); k1 *= C2; h1 ^= k1;
    }
    h1 ^= (uint64_t)h->total;
    h2 ^= (uint64_t)h->total;
    h1 += h2;
    h2 += h1;
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1 += h2;
    h2 += h1;
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h1, (unsigned long long)h2);
}

uint64_t qs_hash64(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
