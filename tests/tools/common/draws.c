/* See draws.h. */
#include "draws.h"

#include <stdio.h>

int write_int64_npy(const char *path, const int64_t *values, int64_t count)
{
    char header[128];
    int length = snprintf(header, sizeof header,
                          "{'descr': '<i8', 'fortran_order': False, 'shape': (%lld,), }",
                          (long long)count);
    int padding = (64 - (10 + length + 1) % 64) % 64;
    unsigned header_length = (unsigned)(length + padding + 1);
    unsigned char preamble[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                  (unsigned char)(header_length & 0xff),
                                  (unsigned char)(header_length >> 8)};
    FILE *file = fopen(path, "wb");
    if (!file)
        return -1;
    int ok = fwrite(preamble, 1, sizeof preamble, file) == sizeof preamble &&
             fwrite(header, 1, (size_t)length, file) == (size_t)length;
    for (int i = 0; ok && i < padding; i++)
        ok = fputc(' ', file) != EOF;
    ok = ok && fputc('\n', file) != EOF;
    ok = ok && fwrite(values, sizeof *values, (size_t)count, file) == (size_t)count;
    return fclose(file) == 0 && ok ? 0 : -1;
}

const char *draw_kind_name(mdnmf_trace_kind kind)
{
    static const char *names[] = {"exemplars", "w_random", "h_random",
                                  "h_random_adv", "perm_true", "perm_adv"};
    return (kind >= 0 && kind <= MDNMF_TRACE_PERM_ADV) ? names[kind] : "unknown";
}

int draw_files_save(draw_files *files, mdnmf_trace_kind kind, const void *data, int64_t count,
                    char *path, size_t size)
{
    mdnmf_error error;
    switch (kind) {
    case MDNMF_TRACE_EXEMPLARS:
        snprintf(path, size, "%s/exemplars.npy", files->folder);
        return write_int64_npy(path, data, count);
    case MDNMF_TRACE_PERM_TRUE:
    case MDNMF_TRACE_PERM_ADV: {
        int *counter =
            kind == MDNMF_TRACE_PERM_TRUE ? &files->perm_true_count : &files->perm_adv_count;
        snprintf(path, size, "%s/%s_%d.npy", files->folder, draw_kind_name(kind), ++*counter);
        return write_int64_npy(path, data, count);
    }
    case MDNMF_TRACE_W_RANDOM:
    case MDNMF_TRACE_H_RANDOM:
    case MDNMF_TRACE_H_RANDOM_ADV:
        /* A flat float array, written as one row (shape (1, count)); the reader
         * flattens it. */
        snprintf(path, size, "%s/%s_flat.npy", files->folder, draw_kind_name(kind));
        return mdnmf_npy_write(path, data, count, 1, &error) == MDNMF_OK ? 0
                                                                                       : -1;
    default:
        path[0] = '\0';
        return 1;
    }
}
