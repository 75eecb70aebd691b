/* One number from many scores (SPEC §9–§10: "the median over test mixtures
 * of the mean over sources"): the median or the mean. */
#include "error.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double mean_of(const double *values, int64_t count)
{
    double sum = 0.0;
    for (int64_t j = 0; j < count; j++)
        sum += values[j];
    return sum / (double)count;
}

/* The median of sorted values: the middle one, or the mean of the two
 * middle ones for an even count (NumPy's median). */
static double median_of_sorted(const double *sorted, int64_t count)
{
    int64_t middle = count / 2;
    return count % 2 ? sorted[middle] : 0.5 * (sorted[middle - 1] + sorted[middle]);
}

/* `work` holds count values that may be reordered. */
static double aggregate_in_place(double *work, int64_t count, mdnmf_aggregate how)
{
    if (how == MDNMF_AGGREGATE_MEAN)
        return mean_of(work, count);
    for (int64_t j = 0; j < count; j++)
        if (isnan(work[j]))
            return NAN; /* as NumPy: no order puts a NaN in the middle */
    qsort(work, (size_t)count, sizeof *work, compare_doubles);
    return median_of_sorted(work, count);
}

static int check_request(const double *values, int64_t count, mdnmf_aggregate how,
                         const double *result, mdnmf_error *error)
{
    if (!result || (count > 0 && !values))
        return error_fail(error, MDNMF_ERR_ARGUMENT, "aggregate: values or result is NULL");
    if (how != MDNMF_AGGREGATE_MEDIAN && how != MDNMF_AGGREGATE_MEAN)
        return error_fail(error, MDNMF_ERR_ARGUMENT,
                          "aggregate: unknown aggregate %d (median or mean)", (int)how);
    if (count < 0)
        return error_fail(error, MDNMF_ERR_SHAPE, "aggregate: count %lld is negative",
                          (long long)count);
    return MDNMF_OK;
}

int mdnmf_aggregate_values(const double *values, int64_t count, mdnmf_aggregate how,
                           double *result, mdnmf_error *error)
{
    int status = check_request(values, count, how, result, error);
    if (status)
        return status;
    if (count == 0)
        return error_fail(error, MDNMF_ERR_SHAPE, "aggregate: no values");
    if (how == MDNMF_AGGREGATE_MEAN) {
        *result = mean_of(values, count);
        return error_ok(error);
    }
    double *work = malloc((size_t)count * sizeof *work);
    if (!work)
        return error_fail(error, MDNMF_ERR_MEMORY, "aggregate: out of memory for %lld values",
                          (long long)count);
    memcpy(work, values, (size_t)count * sizeof *work);
    *result = aggregate_in_place(work, count, how);
    free(work);
    return error_ok(error);
}

int mdnmf_aggregate_finite(const double *values, int64_t count, mdnmf_aggregate how,
                           double *result, int64_t *finite, mdnmf_error *error)
{
    int status = check_request(values, count, how, result, error);
    if (status)
        return status;
    double *work = malloc((size_t)(count > 0 ? count : 1) * sizeof *work);
    if (!work)
        return error_fail(error, MDNMF_ERR_MEMORY, "aggregate: out of memory for %lld values",
                          (long long)count);
    int64_t kept = 0;
    for (int64_t j = 0; j < count; j++)
        if (isfinite(values[j]))
            work[kept++] = values[j];
    *result = kept ? aggregate_in_place(work, kept, how) : NAN;
    if (finite)
        *finite = kept;
    free(work);
    return error_ok(error);
}

int mdnmf_mean_over_sources(const double *values, int sources, int64_t n, double *mean,
                            mdnmf_error *error)
{
    if (n > 0 && (!values || !mean))
        return error_fail(error, MDNMF_ERR_ARGUMENT, "mean over sources: values or mean is NULL");
    if (sources < 1 || n < 0)
        return error_fail(error, MDNMF_ERR_SHAPE,
                          "mean over sources: %d sources of %lld samples (need >= 1 and >= 0)",
                          sources, (long long)n);
    /* mean[j] = (sum_s values[s n + j]) / S: the sum first, then one division. */
    for (int64_t j = 0; j < n; j++) {
        double sum = 0.0;
        for (int s = 0; s < sources; s++)
            sum += values[(int64_t)s * n + j];
        mean[j] = sum / sources;
    }
    return error_ok(error);
}
