/* The job's random number generator: xoshiro128** seeded through splitmix64.
 * Each job owns one (no global state); its 4-word state goes into every
 * checkpoint so a resumed phase draws the same numbers. */
#ifndef QS_RNG_H
#define QS_RNG_H

#include <stdint.h>

typedef struct {
    uint32_t s[4];
} qs_rng;

void qs_rng_seed(qs_rng *r, uint64_t seed);
uint32_t qs_rng_u32(qs_rng *r);
/* Uniform in [0, 1) with 24 bits of resolution. */
float qs_rng_uniform(qs_rng *r);
/* Uniform integer in [0, n), unbiased. */
uint32_t qs_rng_below(qs_rng *r, uint32_t n);
/* Standard normal (Box-Muller, no cached second value so state is simple). */
double qs_rng_normal(qs_rng *r);
/* Fisher-Yates shuffle of idx[0..n). */
void qs_rng_shuffle(qs_rng *r, int *idx, int n);

#endif
