/* libFuzzer harness: the .npy reader.
 *
 * Each input is read three ways: as a regular file through the public
 * mdnmf_npy_read, as a pipe through the same call (no file size to check
 * the header against: the path that must not trust the header), and by
 * the in-memory codec npz.c uses for model members (npy.h: numeric matrix,
 * int64 vector and text). */
#define _GNU_SOURCE
#include "fuzz_input.h"
#include "mdnmf.h"
#include "npy.h"

#include <string.h>

/* The largest input sent through a pipe in one write, before reading. */
enum { PIPE_CAPACITY = 1 << 20 };

static void read_public(const char *path)
{
    mdnmf_matrix matrix;
    if (mdnmf_npy_read(path, &matrix, NULL) == MDNMF_OK) {
        fuzz_touch_floats(matrix.data, matrix.m * matrix.n);
        mdnmf_matrix_free(&matrix);
    }
}

/* The input through a pipe: written whole, then read back by path. */
static void read_through_pipe(const uint8_t *data, size_t size)
{
    int ends[2];
    if (pipe(ends) != 0)
        fuzz_die("pipe");
    if (fcntl(ends[1], F_SETPIPE_SZ, PIPE_CAPACITY) < PIPE_CAPACITY && size > 65536)
        size = 65536; /* the default capacity: the rest would block */
    if (size > PIPE_CAPACITY)
        size = PIPE_CAPACITY;
    if (size > 0 && write(ends[1], data, size) != (ssize_t)size)
        fuzz_die("write to pipe");
    close(ends[1]);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", ends[0]);
    read_public(path);
    close(ends[0]);
}

static void read_in_memory(const uint8_t *data, size_t size)
{
    char message[256];
    mdnmf_matrix matrix;
    memset(&matrix, 0, sizeof matrix);
    if (npy_matrix_from_buffer(data, size, &matrix, message, sizeof message) == MDNMF_OK) {
        fuzz_touch_floats(matrix.data, matrix.m * matrix.n);
        mdnmf_matrix_free(&matrix);
    }
    int64_t *values = NULL, count = 0;
    if (npy_int64_from_buffer(data, size, &values, &count, message, sizeof message) == MDNMF_OK) {
        double sum = 0.0;
        for (int64_t i = 0; i < count; i++)
            sum += (double)values[i];
        fuzz_sink = sum;
        free(values);
    }
    char *text = NULL;
    size_t length = 0;
    if (npy_text_from_buffer(data, size, &text, &length, message, sizeof message) == MDNMF_OK) {
        if (strlen(text) > length) /* the text ends at its length or before (a NUL in it) */
            abort();
        free(text);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    read_public(fuzz_input_file(data, size));
    read_through_pipe(data, size);
    read_in_memory(data, size);
    return 0;
}
