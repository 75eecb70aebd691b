/* Matrix products (OpenBLAS) and the fused element-wise passes of the
 * multiplicative updates.  All matrices are float, column-major. */
#ifndef MDNMF_LINALG_H
#define MDNMF_LINALG_H

#include <stddef.h>
#include <stdint.h>

/* Columns processed at once by the chunked passes over all data. */
#define LINALG_CHUNK 2048
/* Columns of Λ = WH one thread holds at a time in the β-divergence steps
 * (at most LINALG_CHUNK). */
#define BETA_CHUNK 512

/* Threads (src/threads.c).  Every parallel region splits its work into
 * linalg_threads() parts, fixed by the thread setting alone (0 = OpenMP's
 * default, OMP_NUM_THREADS or the cores), and combines them in a fixed order;
 * linalg_runners() threads run the parts (runner r takes parts r, r +
 * runners, ...; see FOR_EACH_PART), as many as the machine's load leaves
 * cores for, so a busy machine changes the speed, never the results.
 * OpenBLAS itself is kept at one thread: the library splits its products
 * between its own threads (OpenBLAS's and OpenMP's threads spinning side by
 * side on the same cores slow each other down).
 * linalg_set_threads starts a fit or transform on the calling thread;
 * linalg_threads_tick, called between mini-batches, adapts the runners. */
void linalg_set_threads(int threads);
int linalg_threads(void);
int linalg_runners(void);
void linalg_threads_tick(void);

/* Inside `#pragma omp parallel num_threads(linalg_runners())`: the parts
 * this thread runs. */
#define FOR_EACH_PART(part, parts)                                                        \
    for (int part = omp_get_thread_num(); part < (parts); part += omp_get_num_threads())

/* C (M x N) = alpha Aᵀ B + beta C, A is K x M, B is K x N. */
void product_AtB(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 const float *B, float beta, float *C);
/* C (M x N) = alpha A B + beta C, A is M x K, B is K x N. */
void product_AB(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                const float *B, float beta, float *C);
/* C (M x N) = A B, A is M x K, B is K x N, one column of C at a time as
 * Σ_k A[:, k] B[k, j] added in k order: a column's result depends on its
 * own column of B only, never on N or its place among the others, which
 * BLAS does not promise (its kernels treat edge columns apart).  Slower
 * than product_AB; for transform's per-sample mode. */
void product_AB_by_columns(int64_t M, int64_t N, int64_t K, const float *A, const float *B,
                           float *C);
/* Aᵀ (cols x rows) of A (rows x cols) into T. */
void transpose(const float *A, int64_t rows, int64_t cols, float *T);
/* G (cols x cols) = alpha Aᵀ A, full symmetric; A is rows x cols. */
void gram_of_columns(const float *A, int64_t rows, int64_t cols, float alpha, float *G);
/* G (rows x rows) = alpha A Aᵀ, full symmetric, for A a block of rows of a
 * taller matrix (leading dimension lda). */
void gram_of_row_block(const float *A, int64_t rows, int64_t cols, int64_t lda, float alpha,
                       float *G);
/* C (M x N) = alpha A Bᵀ + beta C where B is a block of rows (leading dimension ldb). */
void product_ABt_block(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                       const float *B, int64_t ldb, float beta, float *C);
/* C (M x N, leading dimension ldc) = alpha A B + beta C with B of leading dimension ldb. */
void product_AB_block(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                      const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* ---- Work shared by the threads of one parallel region: every thread calls
 * these with its own index `part` of `parts`; the shares are fixed by the
 * sizes alone, so the same thread count always gives the same results. */

/* [*begin, *end): part `part` of `count` items in `parts` near-equal shares
 * whose boundaries are multiples of `align` (cache lines of a column). */
void linalg_share(int64_t count, int parts, int part, int64_t align, int64_t *begin,
                  int64_t *end);
/* C = alpha op(A) op(B) + beta C with explicit leading dimensions (the
 * row blocks of column-major matrices a thread owns). */
void product_strided(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                     float *C, int64_t ldc);
/* This part's blocks of G (rows x rows) = alpha A Aᵀ, A rows x cols with
 * leading dimension lda: G's upper triangle is cut into blocks (diagonal
 * blocks by ssyrk, the others by sgemm), dealt out by their cost, and each
 * is mirrored into the lower triangle by its owner.  One part: one ssyrk,
 * exactly gram_of_row_block. */
void gram_of_row_block_share(const float *A, int64_t rows, int64_t cols, int64_t lda,
                             float alpha, float *G, int parts, int part);
/* out[r0:r1, k] = A[r0:r1, idx[k]] for k < count; both have `rows` rows. */
void gather_row_block(float *out, const float *A, int64_t rows, int64_t r0, int64_t r1,
                      const int64_t *idx, int64_t count);
/* 1 if some entry of rows [r0, r1) of X (rows x cols) is > 0. */
int any_positive_rows(const float *X, int64_t rows, int64_t r0, int64_t r1, int64_t cols);
/* X <- X ⊙ num ⊘ (den + add) on rows [r0, r1) of rows x cols matrices. */
void mu_step_rows(float *X, const float *num, const float *den, int64_t rows, int64_t r0,
                  int64_t r1, int64_t cols, float add);

/* X <- X ⊙ num ⊘ (den + add), elementwise over `count` entries. */
void mu_step_scalar(float *X, const float *num, const float *den, int64_t count, float add);
/* H (d x n) <- H ⊙ num ⊘ (den + λ_k ω_j + guard); omega NULL means 1. */
void mu_step_penalised(float *H, const float *num, const float *den, int64_t d, int64_t n,
                       const float *lambda, const float *omega, float guard);

/* ---- The element-wise passes of the β-divergence steps (SPEC §11).  All
 * run on the calling thread: they are called on one thread's block. */

/* L <- U ⊘ (L + guard) on a rows x cols block (leading dimensions ldl, ldu):
 * Λ^{β-2} ⊙ U for Kullback–Leibler. */
void kl_ratio_block(float *L, int64_t ldl, const float *U, int64_t ldu, int64_t rows,
                    int64_t cols, float guard);
/* With t = 1 ⊘ (L + guard):  L <- U ⊙ t ⊙ t  and  T <- t (leading dimension
 * ldl too): Λ^{β-2} ⊙ U and Λ^{β-1} for Itakura–Saito. */
void is_ratios_block(float *L, float *T, int64_t ldl, const float *U, int64_t ldu,
                     int64_t rows, int64_t cols, float guard);
/* H (d x n) <- H ⊙ num ⊘ (s_k + λ_k ω_j + guard) with one s per row (KL's
 * Wᵀ1); omega NULL means 1. */
void mu_step_penalised_rows(float *H, const float *num, const float *s, int64_t d, int64_t n,
                            const float *lambda, const float *omega, float guard);
/* H <- H ⊙ sqrt(num ⊘ (den + λ_k ω_j + guard)): Itakura–Saito's H step. */
void mu_step_penalised_sqrt(float *H, const float *num, const float *den, int64_t d, int64_t n,
                            const float *lambda, const float *omega, float guard);
/* X <- X ⊙ sqrt(num ⊘ (den + add)) on rows [r0, r1) of rows x cols matrices. */
void mu_step_rows_sqrt(float *X, const float *num, const float *den, int64_t rows, int64_t r0,
                       int64_t r1, int64_t cols, float add);
/* The same elementwise over `count` entries (shared out like mu_step_scalar). */
void mu_step_scalar_sqrt(float *X, const float *num, const float *den, int64_t count,
                         float add);

/* Copy columns idx[0..count) of A (rows x ·) into out (rows x count). */
void gather_columns(float *out, const float *A, int64_t rows, const int64_t *idx, int64_t count);
/* The inverse: A[:, idx[k]] = in[:, k]. */
void scatter_columns(float *A, const float *in, int64_t rows, const int64_t *idx, int64_t count);

/* n_k = ||W_:k||; W_:k /= (n_k + eps); norms[k] = n_k (if not NULL). */
void normalize_columns(float *W, int64_t m, int64_t d, double eps, float *norms);
/* H_k: *= scale[k] for every row k of H (d x n). */
void scale_rows(float *H, int64_t d, int64_t n, const float *scale);
/* The same for rows [offset, offset + count) of H (rows x n). */
void scale_row_block(float *H, int64_t rows, int64_t n, int64_t offset, int64_t count,
                     const float *scale);

/* Ask Linux for transparent huge pages for `bytes` at `data` when they are
 * many (at least 4 MiB); a no-op elsewhere. */
void advise_huge_pages(void *data, size_t bytes);

float max_entry(const float *X, int64_t count);
/* 1 if some entry is > 0; stops at the first (a cheap "not silent" test). */
int any_positive(const float *X, int64_t count);
/* Index of the first entry that is negative or not finite, or -1. */
int64_t first_invalid_entry(const float *X, int64_t count);
/* 1 if every entry is finite. */
int all_finite(const float *X, int64_t count);
double sum_abs(const float *X, int64_t count);

/* ||U - W H||_F² (U m x n, W m x d, H d x n), accumulated in double;
 * `work` holds m x min(n, LINALG_CHUNK) floats. */
double squared_residual(const float *U, const float *W, const float *H, int64_t m, int64_t d,
                        int64_t n, float *work);
/* Σ d(U | WH) of SPEC §11 in double, with y = (WH)_ij + guard:
 * Kullback–Leibler (beta 1) d = x log(x/y) - x + y (x log x = 0 at 0),
 * Itakura–Saito (beta 0) d = x'/y - log(x'/y) - 1 with x' = x + guard.
 * `work` as above. */
double beta_residual(int beta, const float *U, const float *W, const float *H, int64_t m,
                     int64_t d, int64_t n, float guard, float *work);

#endif
