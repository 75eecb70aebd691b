/* libFuzzer harness: the IDX reader, mdnmf_idx_read.
 *
 * Each input is read as it is (raw IDX, or gzip if it starts with 1f 8b)
 * and again gzip-compressed by the harness, so that mutations of the IDX
 * content also reach the gzip path with valid CRCs and lengths. */
#define _GNU_SOURCE
#include "fuzz_input.h"
#include "mdnmf.h"

#include <string.h>
#include <zlib.h>

static void read_idx(const uint8_t *data, size_t size)
{
    mdnmf_matrix matrix;
    if (mdnmf_idx_read(fuzz_input_file(data, size), &matrix, NULL) == MDNMF_OK) {
        fuzz_touch_floats(matrix.data, matrix.m * matrix.n);
        mdnmf_matrix_free(&matrix);
    }
}

/* data as one gzip member (malloc'ed, its size in *length). */
static uint8_t *gzip(const uint8_t *data, size_t size, size_t *length)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        fuzz_die("deflateInit2");
    const size_t capacity = deflateBound(&z, (uLong)size) + 32;
    uint8_t *out = malloc(capacity);
    if (!out)
        fuzz_die("malloc");
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)size;
    z.next_out = out;
    z.avail_out = (uInt)capacity;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        fuzz_die("deflate");
    *length = capacity - z.avail_out;
    deflateEnd(&z);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    read_idx(data, size);
    size_t length;
    uint8_t *compressed = gzip(data, size, &length);
    read_idx(compressed, length);
    free(compressed);
    return 0;
}
