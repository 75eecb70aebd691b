/* Quality measures of estimates against references (SPEC §9). */
#include "internal.h"

#include <math.h>

static int check_pair(const float *reference, const float *estimate, int64_t m, int64_t n,
                      const double *out, mdnmf_error *error)
{
    if (!reference || !estimate || !out)
        return error_fail(error, MDNMF_ERR_ARGUMENT, "reference, estimate or out is NULL");
    if (m < 1 || n < 1)
        return error_fail(error, MDNMF_ERR_SHAPE, "%lld x %lld: the matrices are empty",
                          (long long)m, (long long)n);
    return MDNMF_OK;
}

int mdnmf_squared_error(const float *reference, const float *estimate, int64_t m, int64_t n,
                        double *out, mdnmf_error *error)
{
    int status = check_pair(reference, estimate, m, n, out, error);
    if (status)
        return status;
    for (int64_t j = 0; j < n; j++) {
        double sum = 0.0;
        for (int64_t i = 0; i < m; i++) {
            double e = (double)reference[j * m + i] - estimate[j * m + i];
            sum += e * e;
        }
        out[j] = sum / (double)m;
    }
    return error_ok(error);
}

int mdnmf_psnr(const float *reference, const float *estimate, int64_t m, int64_t n, double *out,
               mdnmf_error *error)
{
    int status = mdnmf_squared_error(reference, estimate, m, n, out, error);
    if (status)
        return status;
    for (int64_t j = 0; j < n; j++) {
        float peak = 0.0f;
        for (int64_t i = 0; i < m; i++)
            peak = fmaxf(peak, reference[j * m + i]);
        /* 20 log10(peak / rmse) = 10 log10(peak² / mse). */
        if (out[j] == 0.0)
            out[j] = INFINITY;
        else
            out[j] = 10.0 * log10((double)peak * peak / out[j]);
    }
    return error_ok(error);
}
