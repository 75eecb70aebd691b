/* The random draws of a one-source fit (mdnmf_params.on_trace) as .npy
 * files under the names tests/reference/mdnmf_ref.py's Draws.load reads:
 * exemplars.npy, w_random_flat.npy, h_random_flat.npy, h_random_adv_flat.npy,
 * perm_true_<e>.npy, perm_adv_<e>.npy (e = 1, 2, ... per epoch).  Shared by
 * tests/tools/trace_fit and bench/bench_fit. */
#ifndef MDNMF_TOOLS_DRAWS_H
#define MDNMF_TOOLS_DRAWS_H

#include "mdnmf.h"

#include <stddef.h>
#include <stdint.h>

/* A 1-D little-endian int64 .npy array, written exactly (mdnmf_npy_write
 * writes float32 only).  0, or -1 if it cannot be written. */
int write_int64_npy(const char *path, const int64_t *values, int64_t count);

/* The short name of a draw: "exemplars", "w_random", ..., "perm_adv";
 * "unknown" for the separator's kinds. */
const char *draw_kind_name(mdnmf_trace_kind kind);

typedef struct draw_files {
    const char *folder;
    int perm_true_count, perm_adv_count; /* epochs written so far */
} draw_files;

/* Write one draw into files->folder; `path` (of `size` bytes) receives the
 * file's path.  0 written; -1 it could not be written; 1 not a draw of a
 * one-source fit (nothing written). */
int draw_files_save(draw_files *files, mdnmf_trace_kind kind, const void *data, int64_t count,
                    char *path, size_t size);

#endif
