/* The data generators: mdnmf_mix (equal and Dirichlet weights) and
 * mdnmf_shuffle_indices.  Exact properties (weights, targets and mixtures
 * bit for bit), the Dirichlet distribution's moments and, for S = 2, its
 * whole distribution (Kolmogorov–Smirnov against closed-form Beta CDFs),
 * determinism, and every refusal.  Seeds are fixed, so the statistical
 * checks cannot flake; their tolerances are 5 standard errors or more. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mdnmf.h"
#include "test_util.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define ALPHA_MESSAGE "Dirichlet alpha must be > 0 (0 = equal weights)"

/* S sources, their outputs, and the pointer arrays the API takes. */
typedef struct mix_case {
    int S;
    int64_t m, n;
    float *sources[8];
    float *targets[8];
    float *mixtures;
    float *weights;
} mix_case;

static mix_case mix_case_make(int S, int64_t m, int64_t n, uint64_t data_seed)
{
    mix_case c;
    memset(&c, 0, sizeof c);
    c.S = S, c.m = m, c.n = n;
    test_rng r = test_rng_make(data_seed);
    for (int s = 0; s < S; s++) {
        c.sources[s] = test_random_matrix(&r, m, n, 0.0, 1.0);
        c.targets[s] = malloc((size_t)(m * n) * sizeof(float));
        assert_non_null(c.sources[s]);
        assert_non_null(c.targets[s]);
    }
    c.mixtures = malloc((size_t)(m * n) * sizeof(float));
    c.weights = malloc((size_t)(S * n) * sizeof(float));
    assert_non_null(c.mixtures);
    assert_non_null(c.weights);
    return c;
}

static void mix_case_free(mix_case *c)
{
    for (int s = 0; s < c->S; s++) {
        free(c->sources[s]);
        free(c->targets[s]);
    }
    free(c->mixtures);
    free(c->weights);
}

static int run_mix(mix_case *c, double alpha, uint64_t seed)
{
    mdnmf_error error;
    return mdnmf_mix((const float *const *)c->sources, c->S, c->m, c->n, alpha, seed,
                     c->mixtures, c->targets, c->weights, &error);
}

/* targets[s] == c_s * x_s and mixture == t_0 + t_1 + ... in float, bit for
 * bit, computed here independently. */
static void check_exact_sums(const mix_case *c)
{
    for (int64_t j = 0; j < c->n; j++)
        for (int64_t i = 0; i < c->m; i++) {
            const int64_t at = j * c->m + i;
            float sum = 0.0f;
            for (int s = 0; s < c->S; s++) {
                const float t = c->weights[j * c->S + s] * c->sources[s][at];
                assert_true(c->targets[s][at] == t);
                sum += t;
            }
            assert_true(c->mixtures[at] == sum);
        }
}

/* Every column of weights is non-negative and sums to 1 within float
 * rounding (S roundings of at most half an ulp of 1, plus the sum's). */
static void check_weights_simplex(const mix_case *c)
{
    for (int64_t j = 0; j < c->n; j++) {
        double total = 0.0;
        for (int s = 0; s < c->S; s++) {
            const float w = c->weights[j * c->S + s];
            assert_true(w >= 0.0f && w <= 1.0f);
            total += w;
        }
        assert_true(fabs(total - 1.0) <= 1e-6);
    }
}

static void test_equal_weights_exact(void **state)
{
    (void)state;
    for (int S = 1; S <= 5; S++) {
        mix_case c = mix_case_make(S, 17, 23, 100 + S);
        assert_int_equal(run_mix(&c, 0.0, 1), MDNMF_OK);
        const float expected = (float)(1.0 / S);
        for (int64_t k = 0; k < S * c.n; k++)
            assert_true(c.weights[k] == expected);
        check_exact_sums(&c);
        /* Equal weights draw nothing: any seed gives the same result. */
        float *first = test_copy(c.mixtures, c.m * c.n);
        assert_int_equal(run_mix(&c, 0.0, 999), MDNMF_OK);
        assert_memory_equal(first, c.mixtures, (size_t)(c.m * c.n) * sizeof(float));
        free(first);
        mix_case_free(&c);
    }
}

static void test_dirichlet_exact_properties(void **state)
{
    (void)state;
    const double alphas[] = {1e-3, 0.3, 1.0, 5.0, 1e4};
    for (size_t a = 0; a < sizeof alphas / sizeof alphas[0]; a++)
        for (int S = 2; S <= 4; S++) {
            mix_case c = mix_case_make(S, 9, 300, 7 * S);
            assert_int_equal(run_mix(&c, alphas[a], 42), MDNMF_OK);
            check_weights_simplex(&c);
            check_exact_sums(&c);
            mix_case_free(&c);
        }
}

/* Tiny alpha: nearly every weight vector is almost one-hot (the boost's
 * U^(1/alpha) underflows in double; the logs keep it finite).  Huge alpha:
 * every weight is close to 1/S. */
static void test_dirichlet_extreme_alphas(void **state)
{
    (void)state;
    mix_case c = mix_case_make(3, 1, 2000, 5);
    assert_int_equal(run_mix(&c, 1e-3, 8), MDNMF_OK);
    int one_hot = 0;
    for (int64_t j = 0; j < c.n; j++) {
        float top = 0.0f;
        for (int s = 0; s < 3; s++)
            top = fmaxf(top, c.weights[j * 3 + s]);
        one_hot += top > 0.99f;
    }
    /* P(max < 0.99) is about 3 * alpha * ln(100) ≈ 1.4 %. */
    assert_true(one_hot > 1900);
    check_weights_simplex(&c);

    assert_int_equal(run_mix(&c, 1e6, 8), MDNMF_OK);
    for (int64_t k = 0; k < 3 * c.n; k++)
        assert_true(fabs(c.weights[k] - 1.0 / 3.0) < 0.01);
    mix_case_free(&c);
}

/* Optional outputs change nothing: the same draws with or without them. */
static void test_optional_outputs(void **state)
{
    mdnmf_error error;
    (void)state;
    mix_case c = mix_case_make(3, 6, 50, 3);
    assert_int_equal(run_mix(&c, 0.7, 5), MDNMF_OK);
    float *mixtures = test_copy(c.mixtures, c.m * c.n);
    float *target1 = test_copy(c.targets[1], c.m * c.n);
    memset(c.mixtures, 0, (size_t)(c.m * c.n) * sizeof(float));
    assert_int_equal(mdnmf_mix((const float *const *)c.sources, 3, c.m, c.n, 0.7, 5,
                               c.mixtures, NULL, NULL, &error),
                     MDNMF_OK);
    assert_memory_equal(mixtures, c.mixtures, (size_t)(c.m * c.n) * sizeof(float));
    /* Only some targets wanted. */
    float *some[3] = {NULL, c.targets[1], NULL};
    memset(c.targets[1], 0, (size_t)(c.m * c.n) * sizeof(float));
    assert_int_equal(mdnmf_mix((const float *const *)c.sources, 3, c.m, c.n, 0.7, 5,
                               c.mixtures, some, NULL, NULL),
                     MDNMF_OK);
    assert_memory_equal(target1, c.targets[1], (size_t)(c.m * c.n) * sizeof(float));
    assert_memory_equal(mixtures, c.mixtures, (size_t)(c.m * c.n) * sizeof(float));
    free(mixtures);
    free(target1);
    mix_case_free(&c);
}

static void test_mix_determinism(void **state)
{
    (void)state;
    mix_case c = mix_case_make(2, 4, 200, 1);
    assert_int_equal(run_mix(&c, 1.0, 123), MDNMF_OK);
    float *first = test_copy(c.weights, 2 * c.n);
    assert_int_equal(run_mix(&c, 1.0, 123), MDNMF_OK);
    assert_memory_equal(first, c.weights, (size_t)(2 * c.n) * sizeof(float));
    assert_int_equal(run_mix(&c, 1.0, 124), MDNMF_OK);
    int64_t differing = 0;
    for (int64_t k = 0; k < 2 * c.n; k++)
        differing += first[k] != c.weights[k];
    assert_true(differing > c.n); /* nearly all */
    free(first);
    mix_case_free(&c);
}

/* ------------------------------------------------ the distribution */

/* Weights only: one-pixel sources of value 1, so targets are the weights. */
static float *dirichlet_weights(int S, int64_t n, double alpha, uint64_t seed)
{
    float *ones = malloc((size_t)n * sizeof *ones);
    float *mixtures = malloc((size_t)n * sizeof *mixtures);
    float *weights = malloc((size_t)(S * n) * sizeof *weights);
    assert_non_null(ones);
    assert_non_null(mixtures);
    assert_non_null(weights);
    for (int64_t j = 0; j < n; j++)
        ones[j] = 1.0f;
    const float *sources[8];
    for (int s = 0; s < S; s++)
        sources[s] = ones;
    assert_int_equal(mdnmf_mix(sources, S, 1, n, alpha, seed, mixtures, NULL, weights, NULL),
                     MDNMF_OK);
    free(ones);
    free(mixtures);
    return weights;
}

/* Each c_s of Dirichlet(alpha, ..., alpha) is Beta(alpha, (S-1) alpha):
 * mean 1/S, variance (1/S)(1 - 1/S)/(S alpha + 1); two different
 * components have covariance -1/(S^2 (S alpha + 1)).  Sample moments over
 * n columns must lie within 5 standard errors (estimated from the sample)
 * of these. */
static void test_dirichlet_moments(void **state)
{
    (void)state;
    const double alphas[] = {0.3, 1.0, 5.0};
    const int sizes[] = {2, 3, 5};
    const int64_t n = 20000;
    for (size_t a = 0; a < 3; a++)
        for (size_t z = 0; z < 3; z++) {
            const int S = sizes[z];
            const double alpha = alphas[a];
            float *w = dirichlet_weights(S, n, alpha, 1000 + 10 * a + z);
            const double mean = 1.0 / S;
            const double variance = mean * (1.0 - mean) / (S * alpha + 1.0);
            const double covariance = -1.0 / ((double)S * S * (S * alpha + 1.0));
            for (int s = 0; s < S; s++) {
                double sum = 0.0, squares = 0.0, fourth = 0.0, cross = 0.0, cross_sq = 0.0;
                const int t = (s + 1) % S;
                for (int64_t j = 0; j < n; j++) {
                    const double x = w[j * S + s] - mean, y = w[j * S + t] - mean;
                    sum += x;
                    squares += x * x;
                    fourth += x * x * x * x;
                    cross += x * y;
                    cross_sq += x * x * y * y;
                }
                const double m1 = sum / n, m2 = squares / n, m4 = fourth / n;
                const double c11 = cross / n, c22 = cross_sq / n;
                const double se_mean = sqrt(variance / n);
                const double se_variance = sqrt((m4 - m2 * m2) / n);
                const double se_covariance = sqrt((c22 - c11 * c11) / n);
                if (fabs(m1) > 5 * se_mean || fabs(m2 - variance) > 5 * se_variance
                    || fabs(c11 - covariance) > 5 * se_covariance) {
                    print_error("alpha %g, S %d, component %d: mean %g (expected %g ± %g), "
                                "variance %g (expected %g ± %g), covariance %g (expected %g "
                                "± %g)\n", alpha, S, s, mean + m1, mean, 5 * se_mean, m2,
                                variance, 5 * se_variance, c11, covariance, 5 * se_covariance);
                    fail();
                }
            }
            free(w);
        }
}

static int compare_floats(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* sqrt(n) times the Kolmogorov–Smirnov distance of sample x to `cdf`. */
static double ks_statistic(float *x, int64_t n, double (*cdf)(double))
{
    qsort(x, (size_t)n, sizeof *x, compare_floats);
    double worst = 0.0;
    for (int64_t k = 0; k < n; k++) {
        const double f = cdf(x[k]);
        worst = fmax(worst, fmax(fabs(f - (double)k / n), fabs((double)(k + 1) / n - f)));
    }
    return worst * sqrt((double)n);
}

static double uniform_cdf(double x) { return x; }
/* Beta(1/2, 1/2), the arcsine law. */
static double arcsine_cdf(double x) { return 2.0 / M_PI * asin(sqrt(x)); }
/* Beta(2, 2): 3x^2 - 2x^3. */
static double beta22_cdf(double x) { return x * x * (3.0 - 2.0 * x); }

/* For S = 2, c_0 ~ Beta(alpha, alpha); three alphas with closed-form CDFs
 * (one below 1, exercising the boost).  The 0.1 % critical value of
 * sqrt(n) D is 1.95; a wrong shape gives values far larger. */
static void test_dirichlet_distribution(void **state)
{
    (void)state;
    const struct {
        double alpha;
        double (*cdf)(double);
    } cases[] = {{0.5, arcsine_cdf}, {1.0, uniform_cdf}, {2.0, beta22_cdf}};
    const int64_t n = 20000;
    for (size_t i = 0; i < 3; i++) {
        float *w = dirichlet_weights(2, n, cases[i].alpha, 77 + i);
        float *first = malloc((size_t)n * sizeof *first);
        assert_non_null(first);
        for (int64_t j = 0; j < n; j++)
            first[j] = w[2 * j];
        const double statistic = ks_statistic(first, n, cases[i].cdf);
        if (statistic > 1.95) {
            print_error("alpha %g: sqrt(n) KS distance %g > 1.95\n", cases[i].alpha, statistic);
            fail();
        }
        /* And a different shape is told apart: the test can fail. */
        const double other = ks_statistic(first, n, i == 1 ? arcsine_cdf : uniform_cdf);
        assert_true(other > 5.0);
        free(first);
        free(w);
    }
}

/* ------------------------------------------------------------ refusals */

static void test_mix_refusals(void **state)
{
    mdnmf_error error;
    (void)state;
    mix_case c = mix_case_make(2, 3, 4, 9);
    const float *const *sources = (const float *const *)c.sources;
    const float *with_null[2] = {c.sources[0], NULL};
    const struct {
        const float *const *sources;
        int S;
        int64_t m, n;
        double alpha;
        float *mixtures;
        const char *mention;
    } cases[] = {
        {NULL, 2, 3, 4, 0.0, c.mixtures, "NULL"},
        {sources, 2, 3, 4, 0.0, NULL, "NULL"},
        {with_null, 2, 3, 4, 0.0, c.mixtures, "source 1 is NULL"},
        {sources, 0, 3, 4, 0.0, c.mixtures, "at least one source"},
        {sources, -1, 3, 4, 0.0, c.mixtures, "at least one source"},
        {sources, 2, 0, 4, 0.0, c.mixtures, "m >= 1"},
        {sources, 2, 3, 0, 0.0, c.mixtures, "n >= 1"},
        {sources, 2, 3, -4, 0.0, c.mixtures, "n >= 1"},
        {sources, 2, 3, 4, -1.0, c.mixtures, ALPHA_MESSAGE},
        {sources, 2, 3, 4, -1e-300, c.mixtures, ALPHA_MESSAGE},
        {sources, 2, 3, 4, NAN, c.mixtures, ALPHA_MESSAGE},
        {sources, 2, 3, 4, INFINITY, c.mixtures, ALPHA_MESSAGE},
        {sources, 2, 3, 4, -INFINITY, c.mixtures, ALPHA_MESSAGE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        strcpy(error.message, "");
        int status = mdnmf_mix(cases[i].sources, cases[i].S, cases[i].m, cases[i].n,
                               cases[i].alpha, 1, cases[i].mixtures, c.targets, c.weights,
                               &error);
        if (status != MDNMF_ERR_ARGUMENT || !strstr(error.message, cases[i].mention)) {
            print_error("case %zu: status %d, message '%s'\n", i, status, error.message);
            fail();
        }
        /* Without an mdnmf_error too. */
        assert_int_equal(mdnmf_mix(cases[i].sources, cases[i].S, cases[i].m, cases[i].n,
                                   cases[i].alpha, 1, cases[i].mixtures, NULL, NULL, NULL),
                         MDNMF_ERR_ARGUMENT);
    }
    mix_case_free(&c);
}

/* -------------------------------------------------------- permutation */

static void test_shuffle_is_a_permutation(void **state)
{
    (void)state;
    const int64_t sizes[] = {1, 2, 10, 1000};
    for (size_t i = 0; i < 4; i++) {
        const int64_t n = sizes[i];
        int64_t *p = malloc((size_t)n * sizeof *p);
        char *seen = calloc((size_t)n, 1);
        assert_non_null(p);
        assert_non_null(seen);
        assert_int_equal(mdnmf_shuffle_indices(p, n, 5, NULL), MDNMF_OK);
        for (int64_t k = 0; k < n; k++) {
            assert_true(p[k] >= 0 && p[k] < n);
            assert_false(seen[p[k]]);
            seen[p[k]] = 1;
        }
        /* Same seed, same permutation; another seed, another one. */
        int64_t *q = malloc((size_t)n * sizeof *q);
        assert_non_null(q);
        assert_int_equal(mdnmf_shuffle_indices(q, n, 5, NULL), MDNMF_OK);
        assert_memory_equal(p, q, (size_t)n * sizeof *p);
        if (n == 1000) {
            assert_int_equal(mdnmf_shuffle_indices(q, n, 6, NULL), MDNMF_OK);
            assert_memory_not_equal(p, q, (size_t)n * sizeof *p);
        }
        free(p);
        free(q);
        free(seen);
    }
    assert_int_equal(mdnmf_shuffle_indices(NULL, 0, 1, NULL), MDNMF_OK);
    int64_t one;
    assert_int_equal(mdnmf_shuffle_indices(&one, -1, 1, NULL), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_shuffle_indices(NULL, 3, 1, NULL), MDNMF_ERR_ARGUMENT);
}

/* Over 60000 seeds the 6 permutations of 3 items are equally likely:
 * chi-square with 5 degrees of freedom below 25 (p ≈ 1e-4); seeds are
 * consecutive, so this also checks that neighbouring seeds are unrelated. */
static void test_shuffle_uniform_over_seeds(void **state)
{
    (void)state;
    int64_t counts[6] = {0};
    const int trials = 60000;
    for (int seed = 0; seed < trials; seed++) {
        int64_t p[3];
        assert_int_equal(mdnmf_shuffle_indices(p, 3, (uint64_t)seed, NULL), MDNMF_OK);
        /* The permutation's rank: first element * 2 + whether the rest is in order. */
        counts[p[0] * 2 + (p[1] > p[2])]++;
    }
    double chi2 = 0.0, expected = trials / 6.0;
    for (int k = 0; k < 6; k++)
        chi2 += (counts[k] - expected) * (counts[k] - expected) / expected;
    if (chi2 > 25.0) {
        print_error("chi-square %g over permutation counts %lld %lld %lld %lld %lld %lld\n",
                    chi2, (long long)counts[0], (long long)counts[1], (long long)counts[2],
                    (long long)counts[3], (long long)counts[4], (long long)counts[5]);
        fail();
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_weights_exact),
        cmocka_unit_test(test_dirichlet_exact_properties),
        cmocka_unit_test(test_dirichlet_extreme_alphas),
        cmocka_unit_test(test_optional_outputs),
        cmocka_unit_test(test_mix_determinism),
        cmocka_unit_test(test_dirichlet_moments),
        cmocka_unit_test(test_dirichlet_distribution),
        cmocka_unit_test(test_mix_refusals),
        cmocka_unit_test(test_shuffle_is_a_permutation),
        cmocka_unit_test(test_shuffle_uniform_over_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
