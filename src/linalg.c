#include "linalg.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

/* Element-wise loops smaller than this stay on one thread: spawning costs more. */
#define PARALLEL_MIN 32768

/* Thread-local: each calling thread sets it at the start of a fit or
 * transform, so models used from different threads do not interfere. */
static _Thread_local int own_threads = 0;

void linalg_set_threads(int threads)
{
    if (threads > 0)
        openblas_set_num_threads(threads);
    own_threads = threads;
}

int linalg_threads(void)
{
    return own_threads > 0 ? own_threads : omp_get_max_threads();
}

void product_AtB(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 const float *B, float beta, float *C)
{
    cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)M, (int)N, (int)K, alpha, A,
                (int)K, B, (int)K, beta, C, (int)M);
}

void product_ABt(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 const float *B, float beta, float *C)
{
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, alpha, A,
                (int)M, B, (int)N, beta, C, (int)M);
}

void product_AB(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                const float *B, float beta, float *C)
{
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, alpha, A,
                (int)M, B, (int)K, beta, C, (int)M);
}

static void mirror_upper(float *G, int64_t n)
{
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = j + 1; i < n; i++)
            G[j * n + i] = G[i * n + j];
}

void gram_of_columns(const float *A, int64_t rows, int64_t cols, float alpha, float *G)
{
    cblas_ssyrk(CblasColMajor, CblasUpper, CblasTrans, (int)cols, (int)rows, alpha, A,
                (int)rows, 0.0f, G, (int)cols);
    mirror_upper(G, cols);
}

void gram_of_rows(const float *A, int64_t rows, int64_t cols, float alpha, float *G)
{
    gram_of_row_block(A, rows, cols, rows, alpha, G);
}

void gram_of_row_block(const float *A, int64_t rows, int64_t cols, int64_t lda, float alpha,
                       float *G)
{
    cblas_ssyrk(CblasColMajor, CblasUpper, CblasNoTrans, (int)rows, (int)cols, alpha, A,
                (int)lda, 0.0f, G, (int)rows);
    mirror_upper(G, rows);
}

void product_ABt_block(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                       const float *B, int64_t ldb, float beta, float *C)
{
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, alpha, A,
                (int)M, B, (int)ldb, beta, C, (int)M);
}

void product_AB_block(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                      const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, alpha, A,
                (int)M, B, (int)ldb, beta, C, (int)ldc);
}

void mu_step_scalar(float *X, const float *num, const float *den, int64_t count, float add)
{
    /* X ⊙ num first: a zero entry stays zero even when den + add underflows. */
#pragma omp parallel for schedule(static) num_threads(linalg_threads()) if (count > PARALLEL_MIN)
    for (int64_t i = 0; i < count; i++)
        X[i] = X[i] * num[i] / (den[i] + add);
}

void mu_step_penalised(float *H, const float *num, const float *den, int64_t d, int64_t n,
                       const float *lambda, const float *omega, float guard)
{
#pragma omp parallel for schedule(static) num_threads(linalg_threads()) if (d * n > PARALLEL_MIN)
    for (int64_t j = 0; j < n; j++) {
        float w = omega ? omega[j] : 1.0f;
        float *h = H + j * d;
        const float *a = num + j * d, *b = den + j * d;
        for (int64_t k = 0; k < d; k++)
            h[k] = h[k] * a[k] / (b[k] + lambda[k] * w + guard);
    }
}

void gather_columns(float *out, const float *A, int64_t rows, const int64_t *idx, int64_t count)
{
#pragma omp parallel for schedule(static) num_threads(linalg_threads()) if (rows * count > PARALLEL_MIN)
    for (int64_t k = 0; k < count; k++)
        memcpy(out + k * rows, A + idx[k] * rows, (size_t)rows * sizeof *out);
}

void scatter_columns(float *A, const float *in, int64_t rows, const int64_t *idx, int64_t count)
{
    for (int64_t k = 0; k < count; k++)
        memcpy(A + idx[k] * rows, in + k * rows, (size_t)rows * sizeof *in);
}

void normalize_columns(float *W, int64_t m, int64_t d, double eps, float *norms)
{
    for (int64_t k = 0; k < d; k++) {
        float *w = W + k * m;
        double sum = 0.0;
        for (int64_t i = 0; i < m; i++)
            sum += (double)w[i] * w[i];
        double norm = sqrt(sum);
        float inverse = (float)(1.0 / (norm + eps));
        for (int64_t i = 0; i < m; i++)
            w[i] *= inverse;
        if (norms)
            norms[k] = (float)norm;
    }
}

void scale_rows(float *H, int64_t d, int64_t n, const float *scale)
{
    scale_row_block(H, d, n, 0, d, scale);
}

void scale_row_block(float *H, int64_t rows, int64_t n, int64_t offset, int64_t count,
                     const float *scale)
{
#pragma omp parallel for schedule(static) num_threads(linalg_threads()) if (count * n > PARALLEL_MIN)
    for (int64_t j = 0; j < n; j++)
        for (int64_t k = 0; k < count; k++)
            H[j * rows + offset + k] *= scale[k];
}

float max_entry(const float *X, int64_t count)
{
    float best = 0.0f;
    for (int64_t i = 0; i < count; i++)
        if (X[i] > best)
            best = X[i];
    return best;
}

int any_positive(const float *X, int64_t count)
{
    for (int64_t i = 0; i < count; i++)
        if (X[i] > 0.0f)
            return 1;
    return 0;
}

int64_t first_invalid_entry(const float *X, int64_t count)
{
    for (int64_t i = 0; i < count; i++)
        if (!(X[i] >= 0.0f) || isinf(X[i]))
            return i;
    return -1;
}

int all_finite(const float *X, int64_t count)
{
    int finite = 1;
    for (int64_t i = 0; i < count; i++)
        finite &= isfinite(X[i]) != 0;
    return finite;
}

double sum_abs(const float *X, int64_t count)
{
    double sum = 0.0;
    for (int64_t i = 0; i < count; i++)
        sum += fabs((double)X[i]);
    return sum;
}

double squared_residual(const float *U, const float *W, const float *H, int64_t m, int64_t d,
                        int64_t n, float *work)
{
    double total = 0.0;
    for (int64_t start = 0; start < n; start += LINALG_CHUNK) {
        int64_t cols = n - start < LINALG_CHUNK ? n - start : LINALG_CHUNK;
        memcpy(work, U + start * m, (size_t)(m * cols) * sizeof *work);
        product_AB(m, cols, d, -1.0f, W, H + start * d, 1.0f, work);
        /* Per-column sums added in a fixed order: the same total for any thread count. */
        double column_sums[LINALG_CHUNK];
#pragma omp parallel for schedule(static) num_threads(linalg_threads()) if (m * cols > PARALLEL_MIN)
        for (int64_t j = 0; j < cols; j++) {
            double sum = 0.0;
            const float *r = work + j * m;
            for (int64_t i = 0; i < m; i++)
                sum += (double)r[i] * r[i];
            column_sums[j] = sum;
        }
        for (int64_t j = 0; j < cols; j++)
            total += column_sums[j];
    }
    return total;
}
