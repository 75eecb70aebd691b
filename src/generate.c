/* The data generators of SPEC §8: mixtures of sources with equal or
 * Dirichlet(alpha) weights, and seeded permutations for splitting data.
 *
 * Random numbers (docs/algorithm.md, "Random numbers"): mixing draws from
 * stream MIX_STREAM of the seed, shuffling from SHUFFLE_STREAM, so neither
 * shares draws with a fit of the same seed. */
#include "internal.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>

#define MIX_STREAM 3
#define SHUFFLE_STREAM 4

/* ------------------------------------------------------------ sampling */

/* Gaussian draws by Marsaglia's polar method: each accepted pair gives two
 * normals; the second is kept for the next call. */
typedef struct sampler {
    rng stream;
    int has_spare;
    double spare;
} sampler;

/* Uniform in the open interval (0, 1) with 53 random bits: never 0, so its
 * logarithm is finite. */
static double open_uniform(sampler *s)
{
    return ((double)(rng_next(&s->stream) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double standard_normal(sampler *s)
{
    if (s->has_spare) {
        s->has_spare = 0;
        return s->spare;
    }
    double u, v, radius;
    do {
        u = 2.0 * open_uniform(s) - 1.0;
        v = 2.0 * open_uniform(s) - 1.0;
        radius = u * u + v * v;
    } while (radius >= 1.0 || radius == 0.0);
    const double factor = sqrt(-2.0 * log(radius) / radius);
    s->spare = v * factor;
    s->has_spare = 1;
    return u * factor;
}

/* log of a Gamma(shape, 1) draw, shape >= 1 (Marsaglia & Tsang 2000):
 * with d = shape - 1/3, c = 1/sqrt(9d), propose d v, v = (1 + c x)^3 for a
 * normal x; accept if u < 1 - 0.0331 x^4 (the quick squeeze) or
 * log u < x^2/2 + d (1 - v + log v). */
static double log_gamma_draw_shape_ge_1(sampler *s, double shape)
{
    const double d = shape - 1.0 / 3.0;
    const double c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        const double x = standard_normal(s);
        const double t = 1.0 + c * x;
        if (t <= 0.0)
            continue;
        const double v = t * t * t;
        const double u = open_uniform(s);
        const double x2 = x * x;
        if (u < 1.0 - 0.0331 * x2 * x2 || log(u) < 0.5 * x2 + d * (1.0 - v + log(v)))
            return log(d) + log(v);
    }
}

/* log of a Gamma(shape, 1) draw, shape > 0.  Below 1 the boost
 * Gamma(shape) = Gamma(shape + 1) U^(1/shape) is applied in logs: for small
 * shapes U^(1/shape) underflows to 0 in double, its logarithm does not. */
static double log_gamma_draw(sampler *s, double shape)
{
    if (shape >= 1.0)
        return log_gamma_draw_shape_ge_1(s, shape);
    const double boosted = log_gamma_draw_shape_ge_1(s, shape + 1.0);
    return boosted + log(open_uniform(s)) / shape;
}

/* One Dirichlet(alpha, ..., alpha) vector of S weights: independent
 * Gamma(alpha, 1) draws g_s, c_s = g_s / Σ_t g_t, formed from the logs
 * (minus their maximum, so the largest term is exactly 1 and nothing
 * under- or overflows). */
static void dirichlet_draw(sampler *s, double alpha, int S, double *log_g, float *c)
{
    double top = -INFINITY;
    for (int k = 0; k < S; k++) {
        log_g[k] = log_gamma_draw(s, alpha);
        if (log_g[k] > top)
            top = log_g[k];
    }
    double total = 0.0;
    for (int k = 0; k < S; k++) {
        log_g[k] = exp(log_g[k] - top);
        total += log_g[k];
    }
    for (int k = 0; k < S; k++)
        c[k] = (float)(log_g[k] / total);
}

/* ------------------------------------------------------------- mixing */

static int check_mix_arguments(const float *const *sources, int S, int64_t m, int64_t n,
                               double alpha, const float *mixtures, char *message,
                               size_t size)
{
    if (!sources || !mixtures) {
        message_printf(message, size, "mdnmf_mix: sources or mixtures is NULL");
        return MDNMF_ERR_ARGUMENT;
    }
    if (S < 1) {
        message_printf(message, size, "mdnmf_mix: need at least one source (S = %d)", S);
        return MDNMF_ERR_ARGUMENT;
    }
    for (int k = 0; k < S; k++) {
        if (!sources[k]) {
            message_printf(message, size, "mdnmf_mix: source %d is NULL", k);
            return MDNMF_ERR_ARGUMENT;
        }
    }
    if (m < 1 || n < 1 || m > INT64_MAX / n || n > INT64_MAX / S) {
        message_printf(message, size,
                       "mdnmf_mix: sources of %lld x %lld values: need m >= 1 and n >= 1",
                       (long long)m, (long long)n);
        return MDNMF_ERR_ARGUMENT;
    }
    if (!(alpha >= 0.0) || !isfinite(alpha)) {
        message_printf(message, size, "Dirichlet alpha must be > 0 (0 = equal weights), got %g",
                       alpha);
        return MDNMF_ERR_ARGUMENT;
    }
    return MDNMF_OK;
}

/* Column j of the mixture and the targets with weights c (S floats):
 * target_s = c_s x_s in float, mixture = target_0 + target_1 + ... summed
 * in source order in float, so the mixture is exactly the sum of the
 * targets as a caller would add them.  A pixel's inputs are read before
 * its outputs are written, so the mixtures may be written over any source
 * and targets[s] over sources[s]. */
static void mix_column(const float *const *sources, int S, int64_t m, int64_t j,
                       const float *c, float *mixture, float *const *targets)
{
    const int64_t offset = j * m;
    for (int64_t i = offset; i < offset + m; i++) {
        float sum = 0.0f;
        for (int k = 0; k < S; k++) {
            const float weighted = c[k] * sources[k][i];
            if (targets && targets[k])
                targets[k][i] = weighted;
            sum += weighted;
        }
        mixture[i] = sum;
    }
}

static int mix(const float *const *sources, int S, int64_t m, int64_t n, double alpha,
               uint64_t seed, float *mixtures, float *const *targets, float *weights,
               char *message, size_t size)
{
    int status = check_mix_arguments(sources, S, m, n, alpha, mixtures, message, size);
    if (status)
        return status;
    float *c = malloc((size_t)S * sizeof *c);
    double *scratch = malloc((size_t)S * sizeof *scratch);
    if (!c || !scratch) {
        free(c);
        free(scratch);
        message_printf(message, size, "mdnmf_mix: out of memory");
        return MDNMF_ERR_MEMORY;
    }
    sampler s = {.has_spare = 0};
    rng_seed(&s.stream, seed, MIX_STREAM);
    for (int k = 0; k < S; k++)
        c[k] = (float)(1.0 / S);
    for (int64_t j = 0; j < n; j++) {
        if (alpha > 0.0)
            dirichlet_draw(&s, alpha, S, scratch, c);
        mix_column(sources, S, m, j, c, mixtures, targets);
        for (int k = 0; weights && k < S; k++)
            weights[j * S + k] = c[k];
    }
    free(c);
    free(scratch);
    return MDNMF_OK;
}

int mdnmf_mix(const float *const *sources, int S, int64_t m, int64_t n, double alpha,
              uint64_t seed, float *mixtures, float *const *targets, float *weights,
              mdnmf_error *error)
{
    char message[MDNMF_ERROR_MESSAGE_SIZE] = "";
    int status = mix(sources, S, m, n, alpha, seed, mixtures, targets, weights, message,
                     sizeof message);
    return error_report(error, status, message);
}

/* --------------------------------------------------------- permutation */

int mdnmf_shuffle_indices(int64_t *out, int64_t n, uint64_t seed, mdnmf_error *error)
{
    if (n < 0 || (n > 0 && !out))
        return error_fail(error, MDNMF_ERR_ARGUMENT,
                          "shuffle: n = %lld must be >= 0 with an output buffer", (long long)n);
    rng r;
    rng_seed(&r, seed, SHUFFLE_STREAM);
    rng_permutation(&r, out, n);
    return error_ok(error);
}
