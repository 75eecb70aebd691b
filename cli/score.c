/* mdnmf score: how well a model's basis represents some data.
 *
 * Transforms U (as `mdnmf transform` does) and prints one JSON line:
 *   {"columns": N, "mse": ||U - WH||^2 / (N m),
 *    "relative_error": ||U - WH||_F / ||U||_F,
 *    "psnr_median": median over samples of 20 log10(max(u) / rmse(u))}
 * `make demo` uses it to compare a basis on true and on adversarial data. */
#include "commands.h"
#include "inputs.h"
#include "json.h"

#include <cblas.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char *const COMMAND = "score";

/* Residual columns computed per sgemm call: about 4 MB of floats. */
enum { CHUNK_FLOATS = 1 << 20 };

static const cli_option SCORE_OPTIONS[] = {
    CLI_MODEL_AND_DATA_OPTIONS,
    CLI_TRANSFORM_SETTING_OPTIONS,
    CLI_HELP_OPTION,
};
enum { OPTION_COUNT = sizeof SCORE_OPTIONS / sizeof SCORE_OPTIONS[0] };

const cli_command cli_score_command = {
    "score",
    "score -m MODEL.npz -i U.npy [options]",
    "Print how well a saved model's basis reconstructs data (one JSON line).",
    SCORE_OPTIONS,
    OPTION_COUNT,
};

typedef struct score_request {
    const char *model, *input;
    mdnmf_params overrides;
    int given[OPTION_COUNT];
} score_request;

typedef struct reconstruction_score {
    int64_t columns;
    double mse;
    double relative_error;
    double psnr_median;
} reconstruction_score;

static int store_text_option(void *context, const cli_option *option, const char *value)
{
    score_request *request = context;
    switch (option->key) {
    case 'm': request->model = value; break;
    case 'i': request->input = value; break;
    }
    return 0;
}

/* 20 log10(peak / rmse).  A perfectly reconstructed sample is +inf (also
 * an all-zero one); a sample of peak 0 reconstructed with error is -inf. */
static double sample_psnr(double peak, double squared_error, int64_t m)
{
    double rmse = sqrt(squared_error / (double)m);
    if (rmse == 0.0) {
        return INFINITY;
    }
    if (peak <= 0.0) {
        return -INFINITY;
    }
    return 20.0 * log10(peak / rmse);
}

/* The median of the per-sample PSNRs (the library's aggregate); NaN if
 * out of memory (printed as null). */
static double median(const double *values, int64_t count)
{
    double result = NAN;
    mdnmf_aggregate_values(values, count, MDNMF_AGGREGATE_MEDIAN, &result, NULL);
    return result;
}

/* Per-sample statistics of one residual column u - W h and its data u. */
static void accumulate_column(const float *u, const float *residual, int64_t m,
                              double *residual_sq, double *data_sq, double *psnr)
{
    double error = 0.0, energy = 0.0, peak = 0.0;
    for (int64_t i = 0; i < m; i++) {
        error += (double)residual[i] * residual[i];
        energy += (double)u[i] * u[i];
        if (u[i] > peak) {
            peak = u[i];
        }
    }
    *residual_sq += error;
    *data_sq += energy;
    *psnr = sample_psnr(peak, error, m);
}

/* R = U - W H chunk by chunk (sgemm with beta = 1 on a copy of U), sums in
 * double.  Returns 0, or -1 if out of memory or too large for BLAS ints. */
static int measure(const cli_activations *a, reconstruction_score *out)
{
    int64_t m = a->data.m, n = a->data.n, d = a->atoms;
    const float *W = mdnmf_model_basis(a->model);
    if (m > INT_MAX || d > INT_MAX) {
        return -1;
    }
    int64_t chunk = CHUNK_FLOATS / m > 0 ? CHUNK_FLOATS / m : 1;
    if (chunk > n) {
        chunk = n;
    }
    float *residual = malloc((size_t)(m * chunk) * sizeof *residual);
    double *psnr = malloc((size_t)n * sizeof *psnr);
    if (!residual || !psnr) {
        free(residual), free(psnr);
        return -1;
    }
    double residual_sq = 0.0, data_sq = 0.0;
    for (int64_t start = 0; start < n; start += chunk) {
        int64_t cols = n - start < chunk ? n - start : chunk;
        const float *U_c = a->data.data + start * m;
        memcpy(residual, U_c, (size_t)(m * cols) * sizeof *residual);
        cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)cols, (int)d, -1.0f,
                    W, (int)m, a->H + start * d, (int)d, 1.0f, residual, (int)m);
        for (int64_t j = 0; j < cols; j++) {
            accumulate_column(U_c + j * m, residual + j * m, m, &residual_sq, &data_sq,
                              &psnr[start + j]);
        }
    }
    out->columns = n;
    out->mse = residual_sq / ((double)n * (double)m);
    out->relative_error = data_sq > 0.0 ? sqrt(residual_sq / data_sq)
                                        : (residual_sq > 0.0 ? INFINITY : 0.0);
    out->psnr_median = median(psnr, n);
    free(residual), free(psnr);
    return 0;
}

static int print_score(const reconstruction_score *score)
{
    return cli_json_print(COMMAND, json_pack("{s:I, s:o, s:o, s:o}", "columns",
                                             (json_int_t)score->columns, "mse",
                                             cli_json_real(score->mse), "relative_error",
                                             cli_json_real(score->relative_error), "psnr_median",
                                             cli_json_real(score->psnr_median)));
}

int cli_score(int argc, char **argv)
{
    score_request request;
    memset(&request, 0, sizeof request);
    mdnmf_params_default(&request.overrides);
    switch (cli_parse_command(&cli_score_command, argc, argv, &request.overrides, request.given,
                              store_text_option, &request)) {
    case CLI_PARSE_HELP:
        return CLI_EXIT_OK;
    case CLI_PARSE_FAILED:
        return CLI_EXIT_USAGE;
    case CLI_PARSED:
        break;
    }
    cli_activations result;
    int code = cli_compute_activations(COMMAND, request.model, request.input, SCORE_OPTIONS,
                                       request.given, OPTION_COUNT, &request.overrides, &result);
    if (code == CLI_EXIT_OK) {
        reconstruction_score score;
        if (measure(&result, &score) == 0) {
            code = print_score(&score) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
        } else {
            cli_error(COMMAND, "%s: cannot measure %" PRId64 " samples: out of memory (or "
                      "more than 2^31 features or atoms)", request.input, result.data.n);
            code = CLI_EXIT_RUNTIME;
        }
    }
    cli_activations_free(&result);
    return code;
}
