/*
 * npy_echo — read a .npy file with mdnmf_npy_read and write it back with
 * mdnmf_npy_write, so that tests can compare the library's float32
 * conversion with NumPy's.
 *
 *   npy_echo IN.npy OUT.npy
 *
 * Exit status: 0 on success (the shape "m n" of the matrix on stdout), 1 if
 * reading or writing failed (the library's message on stderr), 2 on usage.
 */
#include "mdnmf.h"

#include <inttypes.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    mdnmf_error error;
    if (argc != 3) {
        fprintf(stderr, "usage: npy_echo IN.npy OUT.npy\n");
        return 2;
    }
    mdnmf_matrix matrix;
    int status = mdnmf_npy_read(argv[1], &matrix, &error);
    if (status == MDNMF_OK) {
        printf("%" PRId64 " %" PRId64 "\n", matrix.m, matrix.n);
        status = mdnmf_npy_write(argv[2], matrix.data, matrix.m, matrix.n, &error);
        mdnmf_matrix_free(&matrix);
    }
    if (status != MDNMF_OK) {
        fprintf(stderr, "npy_echo: %s (%s)\n", error.message, mdnmf_strerror(status));
        return 1;
    }
    return 0;
}
