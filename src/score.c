/* How well a model's basis reconstructs data (mdnmf_model_score): the
 * numbers `mdnmf score` prints. */
#include "internal.h"
#include "linalg.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Residual columns computed per sgemm call: about 4 MB of floats. */
enum { CHUNK_FLOATS = 1 << 20 };

/* SPEC §9: 20 log10( max(u) / sqrt(mean((u - û)^2)) ).  A perfectly
 * reconstructed sample is +inf (also an all-zero one); a sample of peak 0
 * reconstructed with error is -inf. */
static double sample_psnr(double peak, double squared_error, int64_t m)
{
    double rmse = sqrt(squared_error / (double)m);
    if (rmse == 0.0)
        return INFINITY;
    if (peak <= 0.0)
        return -INFINITY;
    return 20.0 * log10(peak / rmse);
}

/* Per-sample statistics of one residual column u - W h and its data u. */
static void accumulate_column(const float *u, const float *residual, int64_t m,
                              double *residual_sq, double *data_sq, double *psnr)
{
    double error = 0.0, energy = 0.0, peak = 0.0;
    for (int64_t i = 0; i < m; i++) {
        error += (double)residual[i] * residual[i];
        energy += (double)u[i] * u[i];
        if (u[i] > peak)
            peak = u[i];
    }
    *residual_sq += error;
    *data_sq += energy;
    *psnr = sample_psnr(peak, error, m);
}

/* R = U - W H chunk by chunk (sgemm with beta = 1 on a copy of U), sums in
 * double; psnr[j] receives each sample's PSNR. */
static void measure(const float *W, const float *H, const float *U, int64_t m, int64_t d,
                    int64_t n, int64_t chunk, float *residual, double *psnr, mdnmf_score *out)
{
    double residual_sq = 0.0, data_sq = 0.0;
    for (int64_t start = 0; start < n; start += chunk) {
        int64_t cols = n - start < chunk ? n - start : chunk;
        const float *U_c = U + start * m;
        memcpy(residual, U_c, (size_t)(m * cols) * sizeof *residual);
        product_AB(m, cols, d, -1.0f, W, H + start * d, 1.0f, residual);
        for (int64_t j = 0; j < cols; j++)
            accumulate_column(U_c + j * m, residual + j * m, m, &residual_sq, &data_sq,
                              &psnr[start + j]);
    }
    out->columns = n;
    /* mse = ||U - WH||²_F / (N m);  relative_error = ||U - WH||_F / ||U||_F. */
    out->mse = residual_sq / ((double)n * (double)m);
    out->relative_error = data_sq > 0.0 ? sqrt(residual_sq / data_sq)
                                        : (residual_sq > 0.0 ? INFINITY : 0.0);
}

static int score_activations(const mdnmf_model *model, const float *U, const float *H,
                             int64_t m, int64_t n, mdnmf_score *out, mdnmf_error *error)
{
    int64_t d = 0;
    mdnmf_model_shape(model, NULL, &d);
    int64_t chunk = CHUNK_FLOATS / m > 0 ? CHUNK_FLOATS / m : 1;
    if (chunk > n)
        chunk = n;
    /* BLAS takes int sizes. */
    int fits_blas = m <= INT_MAX && d <= INT_MAX;
    float *residual = fits_blas ? malloc((size_t)(m * chunk) * sizeof *residual) : NULL;
    double *psnr = residual ? malloc((size_t)n * sizeof *psnr) : NULL;
    int status = MDNMF_ERR_MEMORY;
    if (psnr) {
        measure(mdnmf_model_basis(model), H, U, m, d, n, chunk, residual, psnr, out);
        status = mdnmf_aggregate_values(psnr, n, MDNMF_AGGREGATE_MEDIAN, &out->psnr_median,
                                        NULL);
    }
    free(residual), free(psnr);
    if (status != MDNMF_OK)
        return error_fail(error, status, "cannot measure %lld samples: out of memory (or more "
                          "than 2^31 features or atoms)", (long long)n);
    return error_ok(error);
}

int mdnmf_model_score(mdnmf_model *model, const float *U, int64_t m, int64_t n,
                      mdnmf_score *out, mdnmf_error *error)
{
    if (!out)
        return error_fail(error, MDNMF_ERR_ARGUMENT, "out is NULL");
    memset(out, 0, sizeof *out);
    int64_t d = 0;
    mdnmf_model_shape(model, NULL, &d);
    size_t count = (size_t)d * (size_t)(n > 0 ? n : 0);
    float *H = malloc((count ? count : 1) * sizeof *H);
    if (!H)
        return error_fail(error, MDNMF_ERR_MEMORY, "out of memory for %lld x %lld activations",
                          (long long)d, (long long)n);
    int status = mdnmf_transform(model, U, m, n, H, error);
    if (status == MDNMF_OK)
        status = score_activations(model, U, H, m, n, out, error);
    free(H);
    return status;
}
