/* What the benchmark programs share: their deterministic random stream,
 * clocks, and the MNIST digits (or synthetic stand-ins) they run on. */
#ifndef MDNMF_BENCH_UTIL_H
#define MDNMF_BENCH_UTIL_H

#include "mdnmf.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define BENCH_MNIST_DIGITS 10
#define BENCH_DIGIT_SIDE 28

/* splitmix64: the benchmarks' own stream (data, operands), independent of
 * the library's generator. */
uint64_t bench_random(uint64_t *state);
/* Uniform in [0, 1), 24 bits. */
float bench_uniform(uint64_t *state);

/* `text` as a whole decimal number in [minimum, maximum]; 1 if it is one. */
int bench_parse_int64(const char *text, int64_t minimum, int64_t maximum, int64_t *out);

/* Seconds on `clock` (CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, ...). */
double bench_clock_seconds(clockid_t clock);

/* The folder of the MNIST digits: `given` if set, else $MDNMF_DATA_DIR/mnist,
 * else data/mnist. */
void bench_mnist_folder(const char *given, char *folder, size_t size);

/* digit<first>.npy .. digit<first + count - 1>.npy of `folder` into
 * `digits` (all with the same row count); 1 on success.  The caller frees
 * the matrices in every case. */
int bench_read_digits(const char *folder, int first, int count, mdnmf_matrix *digits);

/* n synthetic 28 x 28 "digits" (m = 784 x n) from `state`: each the sum of
 * two of `prototypes` stroke prototypes (three Gaussian blobs each, shifted
 * and weighted), clipped to [0, 1] with values under 0.1 zeroed, so that the
 * data is non-negative, about as sparse as MNIST and of low rank plus
 * variation.  At most BENCH_MAX_PROTOTYPES prototypes. */
#define BENCH_MAX_PROTOTYPES 32
void bench_synthesize_digits(float *U, int64_t n, int prototypes, uint64_t state);

#endif
