/* Seeded pseudo-random numbers: xoshiro256** seeded by splitmix64. */
#ifndef MDNMF_RNG_H
#define MDNMF_RNG_H

#include <stdint.h>

typedef struct rng {
    uint64_t s[4];
} rng;

/* Independent streams of one seed: stream 0 for true data, 1 adversarial. */
void rng_seed(rng *r, uint64_t seed, uint64_t stream);
uint64_t rng_next(rng *r);
/* Uniform in [0, 1) with 24 random bits: exactly representable as float. */
float rng_uniform(rng *r);
/* Uniform integer in [0, range), unbiased (Lemire); range >= 1. */
uint64_t rng_below(rng *r, uint64_t range);
void rng_fill_uniform(rng *r, float *out, int64_t count);
/* out[0..n) = a uniformly random permutation of 0..n-1 (Fisher–Yates). */
void rng_permutation(rng *r, int64_t *out, int64_t n);
/* out[0..k) = k distinct indices of 0..n-1, k <= n.  `scratch` has n slots. */
void rng_choose_distinct(rng *r, int64_t *out, int64_t k, int64_t n, int64_t *scratch);

#endif
