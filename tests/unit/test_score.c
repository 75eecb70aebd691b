/* mdnmf_model_score against an independent computation: H from
 * mdnmf_transform, then U − W H, the MSE, the relative error and the
 * median of the per-sample PSNRs (SPEC §9) all recomputed here in double. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "mdnmf.h"
#include "test_util.h"

/* The numbers score should give, from the model's own transform. */
typedef struct expected_score {
    double mse, relative_error, psnr_median;
} expected_score;

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* NumPy's median: the middle value, or the mean of the two middle ones. */
static double median_of(double *values, int64_t n)
{
    qsort(values, (size_t)n, sizeof *values, compare_doubles);
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

static expected_score expected_for(mdnmf_model *model, const float *U, int64_t m, int64_t n)
{
    int64_t d = 0;
    mdnmf_model_shape(model, NULL, &d);
    float *H = malloc((size_t)(d * n) * sizeof *H);
    double *psnr = malloc((size_t)n * sizeof *psnr);
    assert_int_equal(mdnmf_transform(model, U, m, n, H, NULL), MDNMF_OK);
    const float *W = mdnmf_model_basis(model);
    double residual_sq = 0.0, data_sq = 0.0;
    for (int64_t j = 0; j < n; j++) {
        double column_sq = 0.0, peak = 0.0;
        for (int64_t i = 0; i < m; i++) {
            double approx = 0.0;
            for (int64_t k = 0; k < d; k++)
                approx += (double)W[k * m + i] * H[j * d + k];
            double u = U[j * m + i], r = u - approx;
            column_sq += r * r;
            data_sq += u * u;
            peak = u > peak ? u : peak;
        }
        residual_sq += column_sq;
        double rmse = sqrt(column_sq / (double)m);
        psnr[j] = rmse == 0.0 ? INFINITY : peak <= 0.0 ? -INFINITY : 20.0 * log10(peak / rmse);
    }
    expected_score e = {residual_sq / (double)(n * m), sqrt(residual_sq / data_sq),
                        median_of(psnr, n)};
    free(H), free(psnr);
    return e;
}

/* A model of d atoms fitted on *U, m x n Uniform(0, 1) data made here. */
static mdnmf_model *fitted_on_random_data(uint64_t seed, int64_t m, int64_t n, int d, float **U)
{
    test_rng rng = test_rng_make(seed);
    *U = test_random_matrix(&rng, m, n, 0.0, 1.0);
    mdnmf_params p = test_params(d, 5);
    mdnmf_model *model = mdnmf_model_create(&p, NULL);
    assert_non_null(model);
    assert_int_equal(mdnmf_fit_std(model, *U, m, n, NULL), MDNMF_OK);
    return model;
}

static void assert_close(double actual, double expected, double tolerance)
{
    if (!(fabs(actual - expected) <= tolerance * fabs(expected))) {
        fail_msg("%.17g is not %.17g within %g", actual, expected, tolerance);
    }
}

/* Two shapes: one chunk, and several chunks of the 4 MB residual (m = 600
 * gives 1747 columns a chunk) with an odd and an even count. */
static void test_score_matches_an_independent_computation(void **state)
{
    (void)state;
    const int64_t shapes[][2] = {{20, 31}, {600, 3600}, {600, 3601}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t m = shapes[s][0], n = shapes[s][1];
        float *U = NULL;
        mdnmf_model *model = fitted_on_random_data(11 + s, m, n, 4, &U);
        mdnmf_score score;
        mdnmf_error error = {.status = -1};
        assert_int_equal(mdnmf_model_score(model, U, m, n, &score, &error), MDNMF_OK);
        assert_int_equal(error.status, MDNMF_OK);
        assert_string_equal(error.message, "");
        expected_score e = expected_for(model, U, m, n);
        assert_int_equal(score.columns, n);
        /* W H in float (sgemm) against double here. */
        assert_close(score.mse, e.mse, 1e-4);
        assert_close(score.relative_error, e.relative_error, 1e-4);
        assert_close(score.psnr_median, e.psnr_median, 1e-4);
        /* The same model and data: the same numbers, bit for bit. */
        mdnmf_score again;
        assert_int_equal(mdnmf_model_score(model, U, m, n, &again, NULL), MDNMF_OK);
        assert_memory_equal(&score, &again, sizeof score);
        mdnmf_model_destroy(model);
        free(U);
    }
}

/* All-zero data: H = 0 after one multiplicative step, so U − W H = 0: the
 * errors are 0 (0 / 0 relative error is defined as 0) and every PSNR +inf. */
static void test_zero_data_is_reconstructed_exactly(void **state)
{
    (void)state;
    enum { M = 10, N = 6 };
    float *U = NULL, zeros[M * N] = {0};
    mdnmf_model *model = fitted_on_random_data(3, M, 40, 3, &U);
    mdnmf_score score;
    assert_int_equal(mdnmf_model_score(model, zeros, M, N, &score, NULL), MDNMF_OK);
    assert_int_equal(score.columns, N);
    assert_true(score.mse == 0.0);
    assert_true(score.relative_error == 0.0);
    assert_true(isinf(score.psnr_median) && score.psnr_median > 0);
    mdnmf_model_destroy(model);
    free(U);
}

static void test_bad_calls_are_refused(void **state)
{
    (void)state;
    enum { M = 10, N = 20 };
    float *U = NULL;
    mdnmf_model *model = fitted_on_random_data(5, M, N, 3, &U);
    mdnmf_score score;
    mdnmf_error error;
    assert_int_equal(mdnmf_model_score(model, U, M, N, NULL, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(error.status, MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_model_score(model, U, M - 1, N, &score, &error), MDNMF_ERR_SHAPE);
    assert_true(error.message[0] != '\0');
    assert_int_equal(mdnmf_model_score(model, NULL, M, N, &score, NULL), MDNMF_ERR_ARGUMENT);
    U[7] = -1.0f;
    assert_int_equal(mdnmf_model_score(model, U, M, N, &score, NULL), MDNMF_ERR_DATA);
    mdnmf_model_destroy(model);
    free(U);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_score_matches_an_independent_computation),
        cmocka_unit_test(test_zero_data_is_reconstructed_exactly),
        cmocka_unit_test(test_bad_calls_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
