#define _DEFAULT_SOURCE /* madvise */

#include "linalg.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The library is compiled for the baseline of its architecture (SSE2 on
 * x86-64), where the element-wise steps of the updates divide 4 floats at a
 * time.  On GCC they are also built for AVX2 and AVX-512 and the best the CPU
 * has is picked once at load time: twice as fast, and bit-identical, since
 * every clone does the same IEEE operations in the same order (ISO C mode
 * contracts nothing into FMAs). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FOR_EVERY_CPU __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FOR_EVERY_CPU
#endif

/* Element-wise loops smaller than this stay on one thread: spawning costs more. */
#define PARALLEL_MIN 32768

/* Inside a region of the library's own, loops stay on their thread. */
static int worth_threads(int64_t count)
{
    return count > PARALLEL_MIN && !omp_in_parallel();
}

/* Columns of a random batch start at unpredictable addresses, so the hardware
 * prefetcher only catches up within each one; asking for the column
 * GATHER_AHEAD places ahead hides the memory latency of its first lines. */
#define GATHER_AHEAD 4
static inline void prefetch_column(const float *column, int64_t rows)
{
    const char *bytes = (const char *)column;
    for (int64_t offset = 0; offset < rows * (int64_t)sizeof *column; offset += 64)
        __builtin_prefetch(bytes + offset, 0, 3);
}

void product_AtB(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 const float *B, float beta, float *C)
{
    cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)M, (int)N, (int)K, alpha, A,
                (int)K, B, (int)K, beta, C, (int)M);
}

FOR_EVERY_CPU
void product_AB_by_columns(int64_t M, int64_t N, int64_t K, const float *A, const float *B,
                           float *C)
{
    for (int64_t j = 0; j < N; j++) {
        float *c = C + j * M;
        const float *b = B + j * K;
        for (int64_t i = 0; i < M; i++)
            c[i] = 0.0f;
        for (int64_t k = 0; k < K; k++) {
            const float *a = A + k * M;
            float factor = b[k];
            for (int64_t i = 0; i < M; i++)
                c[i] += a[i] * factor;
        }
    }
}

void transpose(const float *A, int64_t rows, int64_t cols, float *T)
{
    for (int64_t j = 0; j < cols; j++)
        for (int64_t i = 0; i < rows; i++)
            T[i * cols + j] = A[j * rows + i];
}

void product_AB(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                const float *B, float beta, float *C)
{
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, alpha, A,
                (int)M, B, (int)K, beta, C, (int)M);
}

/* The lower triangle of the n x n block at G (leading dimension ld) from its
 * upper triangle. */
static void mirror_upper(float *G, int64_t n, int64_t ld)
{
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = j + 1; i < n; i++)
            G[j * ld + i] = G[i * ld + j];
}

void linalg_share(int64_t count, int parts, int part, int64_t align, int64_t *begin,
                  int64_t *end)
{
    int64_t units = (count + align - 1) / align;
    int64_t first = units * part / parts, last = units * (part + 1) / parts;
    *begin = first * align < count ? first * align : count;
    *end = last * align < count ? last * align : count;
}

void product_strided(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                     float *C, int64_t ldc)
{
    if (M < 1 || N < 1)
        return;
    cblas_sgemm(CblasColMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, A, (int)lda,
                B, (int)ldb, beta, C, (int)ldc);
}

/* Block (i, j), i <= j, of a Gram matrix cut into `blocks` row blocks. */
typedef struct gram_block {
    int i, j;
    double cost;
} gram_block;

#define GRAM_MAX_BLOCKS 8

/* Which part computes each block: largest first, to the least loaded part
 * (ties to the lowest part), so every thread derives the same deal. */
static int deal_gram_blocks(int64_t rows, int blocks, int parts, gram_block *list, int *owner)
{
    int count = 0;
    for (int i = 0; i < blocks; i++)
        for (int j = i; j < blocks; j++) {
            int64_t i0, i1, j0, j1;
            linalg_share(rows, blocks, i, 1, &i0, &i1);
            linalg_share(rows, blocks, j, 1, &j0, &j1);
            double cost = (double)(i1 - i0) * (double)(j1 - j0) * (i == j ? 0.5 : 1.0);
            list[count++] = (gram_block){i, j, cost};
        }
    for (int a = 1; a < count; a++)
        for (int b = a; b > 0 && list[b].cost > list[b - 1].cost; b--) {
            gram_block t = list[b];
            list[b] = list[b - 1];
            list[b - 1] = t;
        }
    double load[GRAM_MAX_BLOCKS] = {0};
    int sharing = parts < count ? parts : count;
    for (int k = 0; k < count; k++) {
        int least = 0;
        for (int q = 1; q < sharing; q++)
            if (load[q] < load[least])
                least = q;
        owner[k] = least;
        load[least] += list[k].cost;
    }
    return count;
}

static void gram_diagonal_block(const float *A, int64_t rows, int64_t cols, int64_t lda,
                                float alpha, float *G, int64_t r0, int64_t r1)
{
    int64_t n = r1 - r0;
    float *block = G + r0 * rows + r0;
    cblas_ssyrk(CblasColMajor, CblasUpper, CblasNoTrans, (int)n, (int)cols, alpha, A + r0,
                (int)lda, 0.0f, block, (int)rows);
    mirror_upper(block, n, rows);
}

static void gram_off_diagonal_block(const float *A, int64_t rows, int64_t cols, int64_t lda,
                                    float alpha, float *G, int64_t i0, int64_t i1, int64_t j0,
                                    int64_t j1)
{
    product_strided(0, 1, i1 - i0, j1 - j0, cols, alpha, A + i0, lda, A + j0, lda, 0.0f,
                    G + j0 * rows + i0, rows);
    for (int64_t j = j0; j < j1; j++)
        for (int64_t i = i0; i < i1; i++)
            G[i * rows + j] = G[j * rows + i];
}

void gram_of_row_block_share(const float *A, int64_t rows, int64_t cols, int64_t lda,
                             float alpha, float *G, int parts, int part)
{
    int blocks = parts < 1 ? 1 : parts > 3 ? 3 : parts;
    gram_block list[GRAM_MAX_BLOCKS];
    int owner[GRAM_MAX_BLOCKS];
    int count = deal_gram_blocks(rows, blocks, parts, list, owner);
    for (int k = 0; k < count; k++) {
        if (owner[k] != part)
            continue;
        int64_t i0, i1, j0, j1;
        linalg_share(rows, blocks, list[k].i, 1, &i0, &i1);
        linalg_share(rows, blocks, list[k].j, 1, &j0, &j1);
        if (list[k].i == list[k].j)
            gram_diagonal_block(A, rows, cols, lda, alpha, G, i0, i1);
        else
            gram_off_diagonal_block(A, rows, cols, lda, alpha, G, i0, i1, j0, j1);
    }
}

void gather_row_block(float *out, const float *A, int64_t rows, int64_t r0, int64_t r1,
                      const int64_t *idx, int64_t count)
{
    for (int64_t k = 0; k < count; k++) {
        if (k + GATHER_AHEAD < count)
            prefetch_column(A + idx[k + GATHER_AHEAD] * rows + r0, r1 - r0);
        memcpy(out + k * rows + r0, A + idx[k] * rows + r0, (size_t)(r1 - r0) * sizeof *out);
    }
}

int any_positive_rows(const float *X, int64_t rows, int64_t r0, int64_t r1, int64_t cols)
{
    for (int64_t k = 0; k < cols; k++)
        if (any_positive(X + k * rows + r0, r1 - r0))
            return 1;
    return 0;
}

/* The multiplicative step on `count` consecutive entries, the one kernel of
 * mu_step_scalar and mu_step_rows.  X ⊙ num first: a zero entry stays zero
 * even when den + add underflows. */
FOR_EVERY_CPU
static void mu_divide(float *X, const float *num, const float *den, int64_t count, float add)
{
    for (int64_t i = 0; i < count; i++)
        X[i] = X[i] * num[i] / (den[i] + add);
}

void mu_step_rows(float *X, const float *num, const float *den, int64_t rows, int64_t r0,
                  int64_t r1, int64_t cols, float add)
{
    for (int64_t k = 0; k < cols; k++) {
        int64_t o = k * rows + r0;
        mu_divide(X + o, num + o, den + o, r1 - r0, add);
    }
}

void gram_of_columns(const float *A, int64_t rows, int64_t cols, float alpha, float *G)
{
    cblas_ssyrk(CblasColMajor, CblasUpper, CblasTrans, (int)cols, (int)rows, alpha, A,
                (int)rows, 0.0f, G, (int)cols);
    mirror_upper(G, cols, cols);
}

void gram_of_row_block(const float *A, int64_t rows, int64_t cols, int64_t lda, float alpha,
                       float *G)
{
    gram_diagonal_block(A, rows, cols, lda, alpha, G, 0, rows);
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
    int threads = worth_threads(count) ? linalg_runners() : 1;
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        int64_t begin, end;
        linalg_share(count, omp_get_num_threads(), omp_get_thread_num(), 16, &begin, &end);
        mu_divide(X + begin, num + begin, den + begin, end - begin, add);
    }
}

FOR_EVERY_CPU
void mu_step_penalised(float *H, const float *num, const float *den, int64_t d, int64_t n,
                       const float *lambda, const float *omega, float guard)
{
#pragma omp parallel for schedule(static) num_threads(linalg_runners()) if (worth_threads(d * n))
    for (int64_t j = 0; j < n; j++) {
        float w = omega ? omega[j] : 1.0f;
        float *h = H + j * d;
        const float *a = num + j * d, *b = den + j * d;
        for (int64_t k = 0; k < d; k++)
            h[k] = h[k] * a[k] / (b[k] + lambda[k] * w + guard);
    }
}

FOR_EVERY_CPU
void kl_ratio_block(float *L, int64_t ldl, const float *U, int64_t ldu, int64_t rows,
                    int64_t cols, float guard)
{
    for (int64_t j = 0; j < cols; j++) {
        float *l = L + j * ldl;
        const float *u = U + j * ldu;
        for (int64_t i = 0; i < rows; i++)
            l[i] = u[i] / (l[i] + guard);
    }
}

FOR_EVERY_CPU
void is_ratios_block(float *L, float *T, int64_t ldl, const float *U, int64_t ldu,
                     int64_t rows, int64_t cols, float guard)
{
    for (int64_t j = 0; j < cols; j++) {
        float *l = L + j * ldl, *t = T + j * ldl;
        const float *u = U + j * ldu;
        for (int64_t i = 0; i < rows; i++) {
            float inverse = 1.0f / (l[i] + guard);
            l[i] = u[i] * inverse * inverse;
            t[i] = inverse;
        }
    }
}

FOR_EVERY_CPU
void mu_step_penalised_rows(float *H, const float *num, const float *s, int64_t d, int64_t n,
                            const float *lambda, const float *omega, float guard)
{
    for (int64_t j = 0; j < n; j++) {
        float w = omega ? omega[j] : 1.0f;
        float *h = H + j * d;
        const float *a = num + j * d;
        for (int64_t k = 0; k < d; k++)
            h[k] = h[k] * a[k] / (s[k] + lambda[k] * w + guard);
    }
}

FOR_EVERY_CPU
void mu_step_penalised_sqrt(float *H, const float *num, const float *den, int64_t d, int64_t n,
                            const float *lambda, const float *omega, float guard)
{
    for (int64_t j = 0; j < n; j++) {
        float w = omega ? omega[j] : 1.0f;
        float *h = H + j * d;
        const float *a = num + j * d, *b = den + j * d;
        for (int64_t k = 0; k < d; k++)
            h[k] = h[k] * sqrtf(a[k] / (b[k] + lambda[k] * w + guard));
    }
}

/* mu_divide with the factor's square root (Itakura–Saito). */
FOR_EVERY_CPU
static void mu_divide_sqrt(float *X, const float *num, const float *den, int64_t count, float add)
{
    for (int64_t i = 0; i < count; i++)
        X[i] = X[i] * sqrtf(num[i] / (den[i] + add));
}

void mu_step_rows_sqrt(float *X, const float *num, const float *den, int64_t rows, int64_t r0,
                       int64_t r1, int64_t cols, float add)
{
    for (int64_t k = 0; k < cols; k++) {
        int64_t o = k * rows + r0;
        mu_divide_sqrt(X + o, num + o, den + o, r1 - r0, add);
    }
}

void mu_step_scalar_sqrt(float *X, const float *num, const float *den, int64_t count,
                         float add)
{
    int threads = worth_threads(count) ? linalg_runners() : 1;
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        int64_t begin, end;
        linalg_share(count, omp_get_num_threads(), omp_get_thread_num(), 16, &begin, &end);
        mu_divide_sqrt(X + begin, num + begin, den + begin, end - begin, add);
    }
}

void gather_columns(float *out, const float *A, int64_t rows, const int64_t *idx, int64_t count)
{
    int threads = worth_threads(rows * count) ? linalg_runners() : 1;
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        int64_t c0, c1;
        linalg_share(count, omp_get_num_threads(), omp_get_thread_num(), 1, &c0, &c1);
        gather_row_block(out + c0 * rows, A, rows, 0, rows, idx + c0, c1 - c0);
    }
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
#pragma omp parallel for schedule(static) num_threads(linalg_runners()) if (worth_threads(count * n))
    for (int64_t j = 0; j < n; j++)
        for (int64_t k = 0; k < count; k++)
            H[j * rows + offset + k] *= scale[k];
}

/* The data and activations the fits gather column by column in random order:
 * with 4 KiB pages nearly every column of a matrix far larger than the TLB's
 * reach costs a page walk (at a million columns of 129 features, about 6 %
 * of an epoch with U and H both on huge pages).  Only the advice: the memory
 * and its size are the same, and the system setting "never" ignores it. */
#define HUGE_PAGES_FROM ((size_t)4 << 20)

void advise_huge_pages(void *data, size_t bytes)
{
#ifdef MADV_HUGEPAGE
    const long page = sysconf(_SC_PAGESIZE);
    if (bytes < HUGE_PAGES_FROM || page <= 0)
        return;
    const uintptr_t mask = (uintptr_t)page - 1;
    const uintptr_t start = ((uintptr_t)data + mask) & ~mask;
    const uintptr_t end = ((uintptr_t)data + bytes) & ~mask;
    if (end > start)
        (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)data, (void)bytes;
#endif
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
#pragma omp parallel for schedule(static) num_threads(linalg_runners()) reduction(&:finite) if (worth_threads(count))
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
#pragma omp parallel for schedule(static) num_threads(linalg_runners()) if (worth_threads(m * cols))
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

/* One entry of beta_residual: x the data, y the guarded model. */
static double beta_entry(int beta, double x, double y, double guard)
{
    if (beta == 1)
        return x > 0.0 ? x * log(x / y) - x + y : y;
    double ratio = (x + guard) / y;
    return ratio - log(ratio) - 1.0;
}

double beta_residual(int beta, const float *U, const float *W, const float *H, int64_t m,
                     int64_t d, int64_t n, float guard, float *work)
{
    double total = 0.0;
    for (int64_t start = 0; start < n; start += LINALG_CHUNK) {
        int64_t cols = n - start < LINALG_CHUNK ? n - start : LINALG_CHUNK;
        product_AB(m, cols, d, 1.0f, W, H + start * d, 0.0f, work);
        const float *u = U + start * m;
        /* Per-column sums added in a fixed order, as in squared_residual. */
        double column_sums[LINALG_CHUNK];
#pragma omp parallel for schedule(static) num_threads(linalg_runners()) if (worth_threads(m * cols))
        for (int64_t j = 0; j < cols; j++) {
            double sum = 0.0;
            for (int64_t i = 0; i < m; i++)
                sum += beta_entry(beta, u[j * m + i], (double)work[j * m + i] + guard, guard);
            column_sums[j] = sum;
        }
        for (int64_t j = 0; j < cols; j++)
            total += column_sums[j];
    }
    return total;
}
