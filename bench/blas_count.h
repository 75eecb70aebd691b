/* Counting the BLAS products a benchmark's statically linked library asks
 * for.  Linking blas_count.c into a program defines cblas_sgemm and
 * cblas_ssyrk in the executable; they take precedence over libopenblas's,
 * add the call's gemm-equivalent flops to a counter and pass the call on to
 * OpenBLAS (one indirect call more: nanoseconds against microseconds). */
#ifndef MDNMF_BENCH_BLAS_COUNT_H
#define MDNMF_BENCH_BLAS_COUNT_H

#include <stdint.h>

/* Flops requested since the program started, gemm-equivalent: 2·M·N·K per
 * sgemm; 2·N²·K per ssyrk (the full product a Gram stands for); an sgemm of
 * two disjoint row blocks of one matrix (an off-diagonal block of a Gram the
 * library splits between threads, whose mirror it copies) counts twice.
 * Safe to call while several threads call BLAS. */
int64_t blas_counted_flops(void);

#endif
