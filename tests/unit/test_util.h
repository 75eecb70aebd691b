/* Helpers shared by the unit tests: test data from a generator of their own
 * (never the library's RNG), residuals computed naively in double, and an
 * epoch callback that records the losses. */
#ifndef MDNMF_TEST_UTIL_H
#define MDNMF_TEST_UTIL_H

#include "mdnmf.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A tiny xorshift64* generator, independent of the library's. */
typedef struct test_rng {
    uint64_t state;
} test_rng;

static inline test_rng test_rng_make(uint64_t seed)
{
    test_rng r = {seed * 0x9E3779B97F4A7C15ull + 1};
    return r;
}

static inline double test_uniform(test_rng *r)
{
    r->state ^= r->state >> 12;
    r->state ^= r->state << 25;
    r->state ^= r->state >> 27;
    return (double)((r->state * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0);
}

/* A malloc'ed m x n matrix of Uniform(low, high) entries. */
static inline float *test_random_matrix(test_rng *r, int64_t m, int64_t n, double low,
                                        double high)
{
    float *X = malloc((size_t)(m * n) * sizeof *X);
    for (int64_t i = 0; X && i < m * n; i++)
        X[i] = (float)(low + (high - low) * test_uniform(r));
    return X;
}

static inline float *test_copy(const float *X, int64_t count)
{
    float *Y = malloc((size_t)count * sizeof *Y);
    if (Y)
        memcpy(Y, X, (size_t)count * sizeof *Y);
    return Y;
}

/* C (m x n) = A (m x k) B (k x n), column-major, accumulated in double. */
static inline float *test_product(const float *A, const float *B, int64_t m, int64_t k,
                                  int64_t n)
{
    float *C = malloc((size_t)(m * n) * sizeof *C);
    for (int64_t j = 0; C && j < n; j++)
        for (int64_t i = 0; i < m; i++) {
            double sum = 0.0;
            for (int64_t l = 0; l < k; l++)
                sum += (double)A[l * m + i] * B[j * k + l];
            C[j * m + i] = (float)sum;
        }
    return C;
}

/* ||U - W H||_F / ||U||_F, in double. */
static inline double test_relative_error(const float *U, const float *W, const float *H,
                                         int64_t m, int64_t d, int64_t n)
{
    double residual = 0.0, norm = 0.0;
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < m; i++) {
            double approx = 0.0;
            for (int64_t k = 0; k < d; k++)
                approx += (double)W[k * m + i] * H[j * d + k];
            double u = U[j * m + i];
            residual += (u - approx) * (u - approx);
            norm += u * u;
        }
    return norm > 0 ? sqrt(residual / norm) : sqrt(residual);
}

static inline int test_all_finite(const float *X, int64_t count)
{
    for (int64_t i = 0; i < count; i++)
        if (!isfinite(X[i]))
            return 0;
    return 1;
}

/* Records the losses an epoch callback sees; stops the fit at `stop_at`
 * (if > 0). */
#define TEST_MAX_EPOCHS 4096
typedef struct loss_log {
    int count;
    int stop_at;
    mdnmf_progress entries[TEST_MAX_EPOCHS + 1];
} loss_log;

static inline int test_record_loss(void *user, const mdnmf_progress *progress)
{
    loss_log *log = user;
    if (log->count <= TEST_MAX_EPOCHS)
        log->entries[log->count++] = *progress;
    return log->stop_at > 0 && progress->epoch >= log->stop_at;
}

static inline int test_losses_finite(const loss_log *log)
{
    for (int i = 0; i < log->count; i++)
        if (!isfinite(log->entries[i].loss_true) || !isfinite(log->entries[i].loss_adv) ||
            !isfinite(log->entries[i].objective))
            return 0;
    return 1;
}

/* ||a - b|| / ||b|| (Frobenius), in double. */
static inline double test_relative_difference(const float *a, const float *b, int64_t count)
{
    double diff = 0.0, norm = 0.0;
    for (int64_t i = 0; i < count; i++) {
        diff += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        norm += (double)b[i] * b[i];
    }
    return sqrt(diff / norm);
}

/* max_i |a_i - b_i|, in double. */
static inline double test_max_difference(const float *a, const float *b, int64_t n)
{
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)a[i] - b[i]));
    return worst;
}

/* Parameters for quick test fits: defaults, d atoms, one thread. */
static inline mdnmf_params test_params(int d, int epochs)
{
    mdnmf_params p;
    mdnmf_params_default(&p);
    p.d = d;
    p.epochs = epochs;
    p.test_epochs = 20;
    p.threads = 1;
    return p;
}

/* An empty model of test_params(d, 1), or NULL (the caller asserts). */
static inline mdnmf_model *test_model(int d)
{
    mdnmf_params p = test_params(d, 1);
    return mdnmf_model_create(&p, NULL);
}

#endif
