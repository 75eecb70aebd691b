#include "rng.h"

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void rng_seed(rng *r, uint64_t seed, uint64_t stream)
{
    /* Mixing the stream in through splitmix gives unrelated states for
     * neighbouring streams of the same seed. */
    uint64_t state = seed;
    uint64_t salt = splitmix64(&state) ^ (stream * 0xD1B54A32D192ED03ull);
    state = salt;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&state);
}

static inline uint64_t rotate_left(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotate_left(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotate_left(s[3], 45);
    return result;
}

float rng_uniform(rng *r)
{
    return (float)(rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

uint64_t rng_below(rng *r, uint64_t range)
{
    __uint128_t product = (__uint128_t)rng_next(r) * range;
    uint64_t low = (uint64_t)product;
    if (low < range) {
        uint64_t threshold = (0 - range) % range;
        while (low < threshold) {
            product = (__uint128_t)rng_next(r) * range;
            low = (uint64_t)product;
        }
    }
    return (uint64_t)(product >> 64);
}

void rng_fill_uniform(rng *r, float *out, int64_t count)
{
    for (int64_t i = 0; i < count; i++)
        out[i] = rng_uniform(r);
}

void rng_permutation(rng *r, int64_t *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)rng_below(r, (uint64_t)i + 1);
        int64_t t = out[i];
        out[i] = out[j];
        out[j] = t;
    }
}

void rng_choose_distinct(rng *r, int64_t *out, int64_t k, int64_t n, int64_t *scratch)
{
    for (int64_t i = 0; i < n; i++)
        scratch[i] = i;
    for (int64_t i = 0; i < k; i++) {
        int64_t j = i + (int64_t)rng_below(r, (uint64_t)(n - i));
        int64_t t = scratch[i];
        scratch[i] = scratch[j];
        scratch[j] = t;
        out[i] = scratch[i];
    }
}
