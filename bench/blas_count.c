/* See blas_count.h. */
#define _GNU_SOURCE /* RTLD_NEXT */

#include "blas_count.h"

#include <cblas.h>
#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

/* Integer flops, added atomically: with several threads the library calls
 * BLAS from all of them at once. */
static _Atomic int64_t requested_flops;

int64_t blas_counted_flops(void)
{
    return atomic_load(&requested_flops);
}

static void count_flops(int64_t M, int64_t N, int64_t K)
{
    atomic_fetch_add(&requested_flops, 2 * M * N * K);
}

typedef void sgemm_function(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint,
                            blasint, blasint, float, const float *, blasint, const float *,
                            blasint, float, float *, blasint);
typedef void ssyrk_function(enum CBLAS_ORDER, enum CBLAS_UPLO, enum CBLAS_TRANSPOSE, blasint,
                            blasint, float, const float *, blasint, float, float *, blasint);

static void *openblas_symbol(const char *name)
{
    void *symbol = dlsym(RTLD_NEXT, name);
    if (!symbol) {
        fprintf(stderr, "blas_count: %s not found in a shared BLAS: %s\n", name, dlerror());
        exit(1);
    }
    return symbol;
}

/* A Gram A Aᵀ computed in blocks: ssyrk on the diagonal, sgemm of two row
 * blocks of the same A off it, rows [i0, i0 + M) and [j0, j0 + N) with
 * i0 + M <= j0 (the mirror block is copied).  A product of a matrix with
 * rows of itself that overlap (H Hₛᵀ with Hₛ a part of H) is no such block. */
static int is_gram_block(enum CBLAS_TRANSPOSE trans_a, enum CBLAS_TRANSPOSE trans_b, blasint M,
                         blasint N, const float *A, blasint lda, const float *B, blasint ldb)
{
    if (trans_a != CblasNoTrans || trans_b != CblasTrans || lda != ldb)
        return 0;
    ptrdiff_t apart = B - A;
    return apart >= M && apart + N <= lda;
}

void cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE trans_a,
                 const enum CBLAS_TRANSPOSE trans_b, const blasint M, const blasint N,
                 const blasint K, const float alpha, const float *A, const blasint lda,
                 const float *B, const blasint ldb, const float beta, float *C,
                 const blasint ldc)
{
    static sgemm_function *real;
    if (!real)
        *(void **)&real = openblas_symbol("cblas_sgemm");
    count_flops(M, N, K);
    if (is_gram_block(trans_a, trans_b, M, N, A, lda, B, ldb))
        count_flops(M, N, K); /* and its mirror */
    real(order, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void cblas_ssyrk(const enum CBLAS_ORDER order, const enum CBLAS_UPLO uplo,
                 const enum CBLAS_TRANSPOSE trans, const blasint N, const blasint K,
                 const float alpha, const float *A, const blasint lda, const float beta,
                 float *C, const blasint ldc)
{
    static ssyrk_function *real;
    if (!real)
        *(void **)&real = openblas_symbol("cblas_ssyrk");
    count_flops(N, N, K); /* gemm-equivalent */
    real(order, uplo, trans, N, K, alpha, A, lda, beta, C, ldc);
}
