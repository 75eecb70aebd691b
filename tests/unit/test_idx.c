/* IDX reading (mdnmf_idx_read): hand-made images and labels, plain and
 * gzip-compressed (written here with zlib's gzwrite), and every refusal:
 * truncation at every length, corrupt gzip data (flipped bytes, a wrong
 * CRC), bad magic, unsupported element types and dimensions, absurd sizes,
 * trailing data, missing files. */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "mdnmf.h"

static char folder[64];

static int make_folder(void **state)
{
    (void)state;
    snprintf(folder, sizeof folder, "/tmp/test_idx.XXXXXX");
    return mkdtemp(folder) ? 0 : -1;
}

static int remove_folder(void **state)
{
    (void)state;
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", folder);
    return system(command) == 0 ? 0 : -1;
}

static void path_in_folder(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/%s", folder, name);
}

/* ------------------------------------------------------ making files */

/* A growable byte buffer. */
typedef struct bytes {
    unsigned char *data;
    size_t length;
} bytes;

static void append(bytes *b, const void *data, size_t length)
{
    b->data = realloc(b->data, b->length + length + 1);
    assert_non_null(b->data);
    memcpy(b->data + b->length, data, length);
    b->length += length;
}

static void append_u32_big_endian(bytes *b, uint32_t value)
{
    unsigned char be[4] = {(unsigned char)(value >> 24), (unsigned char)(value >> 16),
                           (unsigned char)(value >> 8), (unsigned char)value};
    append(b, be, 4);
}

/* An IDX image: magic {0, 0, dtype, ndim}, the dimensions, then `items`
 * bytes taken from `payload` (may be NULL for none). */
static bytes make_idx(int dtype, int ndim, const uint32_t *dims, const unsigned char *payload,
                      size_t items)
{
    bytes b = {NULL, 0};
    unsigned char magic[4] = {0, 0, (unsigned char)dtype, (unsigned char)ndim};
    append(&b, magic, 4);
    for (int i = 0; i < ndim; i++)
        append_u32_big_endian(&b, dims[i]);
    if (items)
        append(&b, payload, items);
    return b;
}

/* The deterministic test payload: byte k is (k * 37 + 11) mod 256, so
 * every value 0..255 occurs and neighbours differ. */
static unsigned char *pattern(size_t count)
{
    unsigned char *p = malloc(count ? count : 1);
    assert_non_null(p);
    for (size_t k = 0; k < count; k++)
        p[k] = (unsigned char)(k * 37 + 11);
    return p;
}

/* Pseudo-random bytes: deflate stores them uncompressed, so a flipped byte
 * there changes only data and the CRC-32 is what catches it. */
static unsigned char *noise(size_t count)
{
    unsigned char *p = malloc(count ? count : 1);
    assert_non_null(p);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t k = 0; k < count; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        p[k] = (unsigned char)(x >> 24);
    }
    return p;
}

static void write_plain(const char *path, const bytes *b)
{
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(b->data, 1, b->length, file), b->length);
    assert_int_equal(fclose(file), 0);
}

static void write_gzip(const char *path, const bytes *b)
{
    gzFile file = gzopen(path, "wb9");
    assert_non_null(file);
    assert_int_equal(gzwrite(file, b->data, (unsigned)b->length), (int)b->length);
    assert_int_equal(gzclose(file), Z_OK);
}

static bytes read_whole(const char *path)
{
    bytes b = {NULL, 0};
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    unsigned char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, file)) > 0)
        append(&b, chunk, got);
    fclose(file);
    return b;
}

/* The gzip file of `b`'s bytes, as bytes. */
static bytes gzip_bytes(const bytes *b)
{
    char path[128];
    path_in_folder(path, sizeof path, "scratch.gz");
    write_gzip(path, b);
    bytes z = read_whole(path);
    unlink(path);
    return z;
}

/* Write `b` (already in its final form) and read it as IDX. */
static int read_bytes_as_idx(const bytes *b, const char *name, mdnmf_matrix *out,
                             char *message, size_t size)
{
    char path[128];
    path_in_folder(path, sizeof path, name);
    write_plain(path, b);
    mdnmf_error error;
    int status = mdnmf_idx_read(path, out, &error);
    snprintf(message, size, "%s", error.message);
    unlink(path);
    return status;
}

static void expect_refusal(const bytes *b, const char *name, int expected, const char *mention)
{
    mdnmf_matrix out = {.m = 99, .n = 99, .data = (float *)1};
    char message[512] = "";
    int status = read_bytes_as_idx(b, name, &out, message, sizeof message);
    if (status != expected || !strstr(message, mention) || !strstr(message, name)) {
        print_error("%s: status %d (expected %d), message '%s' (expected to mention '%s' and "
                    "the file)\n", name, status, expected, message, mention);
        fail();
    }
    /* A failed read leaves nothing to free. */
    assert_null(out.data);
    assert_int_equal(out.m, 0);
    assert_int_equal(out.n, 0);
}

/* ------------------------------------------------------------ reading */

static void check_images(const mdnmf_matrix *out, const unsigned char *payload, int64_t count,
                         int64_t rows, int64_t cols)
{
    assert_int_equal(out->m, rows * cols);
    assert_int_equal(out->n, count);
    /* Image j, pixel (r, c) is column j, row r*cols + c: the file's order. */
    for (int64_t j = 0; j < count; j++)
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++) {
                const int64_t k = (j * rows + r) * cols + c;
                assert_true(out->data[j * rows * cols + r * cols + c] == (float)payload[k]);
            }
}

static void test_images_plain_and_gzip(void **state)
{
    mdnmf_error error;
    (void)state;
    const uint32_t dims[3] = {5, 3, 4};
    unsigned char *payload = pattern(60);
    bytes b = make_idx(0x08, 3, dims, payload, 60);
    char plain[128], gz[128];
    path_in_folder(plain, sizeof plain, "images-idx3-ubyte");
    path_in_folder(gz, sizeof gz, "images-idx3-ubyte.gz");
    write_plain(plain, &b);
    write_gzip(gz, &b);
    const char *paths[2] = {plain, gz};
    for (int i = 0; i < 2; i++) {
        mdnmf_matrix out;
        assert_int_equal(mdnmf_idx_read(paths[i], &out, &error), MDNMF_OK);
        check_images(&out, payload, 5, 3, 4);
        mdnmf_matrix_free(&out);
    }
    free(payload);
    free(b.data);
}

static void test_labels_every_byte_value(void **state)
{
    mdnmf_error error;
    (void)state;
    unsigned char values[256];
    for (int k = 0; k < 256; k++)
        values[k] = (unsigned char)(255 - k);
    const uint32_t dims[1] = {256};
    bytes b = make_idx(0x08, 1, dims, values, 256);
    char path[128];
    path_in_folder(path, sizeof path, "labels.gz");
    write_gzip(path, &b);
    mdnmf_matrix out;
    assert_int_equal(mdnmf_idx_read(path, &out, &error), MDNMF_OK);
    assert_int_equal(out.m, 1);
    assert_int_equal(out.n, 256);
    for (int k = 0; k < 256; k++)
        assert_true(out.data[k] == (float)(255 - k));
    mdnmf_matrix_free(&out);
    free(b.data);
}

/* Larger than the reader's internal chunk, so the growing buffer is used. */
static void test_many_images_gzip(void **state)
{
    mdnmf_error error;
    (void)state;
    const uint32_t dims[3] = {300, 28, 28};
    const size_t items = 300 * 28 * 28;
    unsigned char *payload = noise(items);
    bytes b = make_idx(0x08, 3, dims, payload, items);
    char path[128];
    path_in_folder(path, sizeof path, "many.gz");
    write_gzip(path, &b);
    mdnmf_matrix out;
    assert_int_equal(mdnmf_idx_read(path, &out, &error), MDNMF_OK);
    check_images(&out, payload, 300, 28, 28);
    mdnmf_matrix_free(&out);
    free(payload);
    free(b.data);
}

static void test_zero_items_is_empty(void **state)
{
    (void)state;
    const uint32_t dims[3] = {0, 28, 28};
    bytes b = make_idx(0x08, 3, dims, NULL, 0);
    mdnmf_matrix out;
    char message[256] = "";
    assert_int_equal(read_bytes_as_idx(&b, "empty-idx3", &out, message, sizeof message),
                     MDNMF_OK);
    assert_int_equal(out.m, 784);
    assert_int_equal(out.n, 0);
    assert_non_null(out.data);
    mdnmf_matrix_free(&out);
    free(b.data);
}

/* ----------------------------------------------------------- refusals */

typedef struct header_case {
    const char *name;
    unsigned char magic[4];
    uint32_t dims[3];
    int dims_written;
    int status;
    const char *mention;
    int no_data; /* end the file right after the dimensions written */
} header_case;

static void test_header_refusals(void **state)
{
    (void)state;
    static const header_case cases[] = {
        {"bad-magic-1", {0, 1, 8, 3}, {1, 2, 2}, 3, MDNMF_ERR_FORMAT, "not an IDX file", 0},
        {"bad-magic-npy", {0x93, 'N', 'U', 'M'}, {0, 0, 0}, 0, MDNMF_ERR_FORMAT,
         "not an IDX file", 0},
        {"unknown-dtype", {0, 0, 0x07, 3}, {1, 2, 2}, 3, MDNMF_ERR_FORMAT, "not an IDX file", 0},
        {"zero-dims", {0, 0, 0x08, 0}, {0, 0, 0}, 0, MDNMF_ERR_FORMAT, "not an IDX file", 0},
        {"float-dtype", {0, 0, 0x0D, 3}, {1, 2, 2}, 3, MDNMF_ERR_FORMAT,
         "0x0d (32-bit float) is not supported", 0},
        {"int-dtype", {0, 0, 0x0C, 1}, {4, 0, 0}, 1, MDNMF_ERR_FORMAT,
         "0x0c (32-bit integer) is not supported", 0},
        {"signed-dtype", {0, 0, 0x09, 1}, {4, 0, 0}, 1, MDNMF_ERR_FORMAT, "not supported", 0},
        {"two-dims", {0, 0, 0x08, 2}, {2, 2, 0}, 2, MDNMF_ERR_FORMAT,
         "2 dimensions are not supported", 0},
        {"four-dims", {0, 0, 0x08, 4}, {1, 1, 1}, 3, MDNMF_ERR_FORMAT,
         "4 dimensions are not supported", 0},
        {"empty-image", {0, 0, 0x08, 3}, {3, 0, 28}, 3, MDNMF_ERR_FORMAT, "(empty)", 0},
        {"absurd-size", {0, 0, 0x08, 3}, {0xFFFFFFFFu, 0xFFFFu, 0xFFFFu}, 3,
         MDNMF_ERR_FORMAT, "absurd IDX dimensions", 0},
        {"absurd-image", {0, 0, 0x08, 3}, {1, 0xFFFFFFFFu, 0xFFFFFFFFu}, 3,
         MDNMF_ERR_FORMAT, "absurd IDX dimensions", 0},
        /* Plausible but larger than the file: refused without allocating
         * the 784 million floats the header claims. */
        {"huge-claim", {0, 0, 0x08, 3}, {1000000, 28, 28}, 3, MDNMF_ERR_FORMAT,
         "is truncated", 0},
        {"short-dims", {0, 0, 0x08, 3}, {1, 2, 0}, 2, MDNMF_ERR_FORMAT,
         "incomplete IDX header", 1},
        {"magic-only", {0, 0, 0x08, 1}, {0, 0, 0}, 0, MDNMF_ERR_FORMAT,
         "incomplete IDX header", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const header_case *c = &cases[i];
        bytes b = {NULL, 0};
        append(&b, c->magic, 4);
        for (int k = 0; k < c->dims_written; k++)
            append_u32_big_endian(&b, c->dims[k]);
        /* A few data bytes, so no other case fails for being short. */
        if (!c->no_data)
            append(&b, "\x01\x02\x03\x04", 4);
        expect_refusal(&b, c->name, c->status, c->mention);
        /* The same inside gzip. */
        bytes z = gzip_bytes(&b);
        char gz_name[64];
        snprintf(gz_name, sizeof gz_name, "%s.gz", c->name);
        expect_refusal(&z, gz_name, c->status, c->mention);
        free(z.data);
        free(b.data);
    }
}

static void test_empty_file(void **state)
{
    (void)state;
    bytes b = {NULL, 0};
    append(&b, "", 0);
    expect_refusal(&b, "empty-file", MDNMF_ERR_FORMAT, "is empty");
    free(b.data);
}

/* Every proper, non-empty prefix of a plain file is refused as truncated. */
static void test_plain_truncated_at_every_length(void **state)
{
    (void)state;
    const uint32_t dims[3] = {3, 4, 5};
    unsigned char *payload = pattern(60);
    bytes b = make_idx(0x08, 3, dims, payload, 60);
    for (size_t length = 1; length < b.length; length++) {
        bytes cut = {b.data, length};
        expect_refusal(&cut, "cut-idx3", MDNMF_ERR_FORMAT, "truncated");
    }
    /* The message says how much is missing. */
    bytes cut = {b.data, b.length - 7};
    expect_refusal(&cut, "cut-idx3", MDNMF_ERR_FORMAT,
                   "the header promises 60 data bytes, the file has 53");
    free(payload);
    free(b.data);
}

/* Every proper prefix of a gzip file is refused (never read as a shorter
 * valid file, never a crash). */
static void test_gzip_truncated_at_every_length(void **state)
{
    (void)state;
    const uint32_t dims[3] = {4, 8, 8};
    unsigned char *payload = pattern(256);
    bytes b = make_idx(0x08, 3, dims, payload, 256);
    bytes z = gzip_bytes(&b);
    for (size_t length = 1; length < z.length; length++) {
        bytes cut = {z.data, length};
        mdnmf_matrix out;
        char message[512] = "";
        int status = read_bytes_as_idx(&cut, "cut.gz", &out, message, sizeof message);
        if (status != MDNMF_ERR_FORMAT) {
            print_error("length %zu of %zu: status %d, message '%s'\n", length, z.length,
                        status, message);
            fail();
        }
        assert_non_null(strstr(message, "cut.gz"));
    }
    /* Cut in the middle of the deflate data: the message names gzip. */
    bytes half = {z.data, z.length / 2};
    expect_refusal(&half, "half.gz", MDNMF_ERR_FORMAT, "corrupt or truncated gzip data");
    free(z.data);
    free(payload);
    free(b.data);
}

/* Each byte of a gzip file flipped in turn (except the gzip header's
 * modification time, extra flags and OS bytes 4..9, which no reader
 * checks): always refused.  Random items make deflate store them, so the
 * flips in the data are caught by the CRC-32 alone; patterned items are
 * Huffman-coded, where flips break the code or the CRC. */
static void test_gzip_flipped_bytes(void **state)
{
    (void)state;
    const uint32_t dims[3] = {2, 10, 10};
    unsigned char *items[2] = {noise(200), pattern(200)};
    for (int which = 0; which < 2; which++) {
        bytes b = make_idx(0x08, 3, dims, items[which], 200);
        bytes z = gzip_bytes(&b);
        for (size_t k = 0; k < z.length; k++) {
            if (k >= 4 && k <= 9)
                continue;
            z.data[k] ^= 0xFF;
            mdnmf_matrix out;
            char message[512] = "";
            int status = read_bytes_as_idx(&z, "flipped.gz", &out, message, sizeof message);
            z.data[k] ^= 0xFF;
            if (status != MDNMF_ERR_FORMAT) {
                print_error("%s items, byte %zu of %zu flipped: status %d, message '%s'\n",
                            which ? "patterned" : "random", k, z.length, status, message);
                if (status == MDNMF_OK)
                    mdnmf_matrix_free(&out);
                fail();
            }
        }
        /* The brief's case: a few bytes in the middle. */
        for (size_t k = z.length / 2; k < z.length / 2 + 4; k++)
            z.data[k] ^= 0x5A;
        expect_refusal(&z, "middle.gz", MDNMF_ERR_FORMAT, "corrupt or truncated gzip data");
        free(z.data);
        free(b.data);
        free(items[which]);
    }
}

/* Only the CRC-32 in the gzip trailer is wrong: the data itself decodes,
 * so this is caught only because the reader goes on to the trailer. */
static void test_gzip_wrong_crc(void **state)
{
    (void)state;
    const uint32_t dims[1] = {50};
    unsigned char *payload = pattern(50);
    bytes b = make_idx(0x08, 1, dims, payload, 50);
    bytes z = gzip_bytes(&b);
    z.data[z.length - 8] ^= 0x01; /* the CRC's lowest byte */
    expect_refusal(&z, "crc.gz", MDNMF_ERR_FORMAT, "corrupt or truncated gzip data");
    z.data[z.length - 8] ^= 0x01;
    z.data[z.length - 1] ^= 0x01; /* the uncompressed length */
    expect_refusal(&z, "isize.gz", MDNMF_ERR_FORMAT, "corrupt or truncated gzip data");
    free(z.data);
    free(payload);
    free(b.data);
}

/* Items beyond what the dimensions declare are refused; bytes after a
 * complete gzip stream are ignored, as gzip and zlib do. */
static void test_trailing_data(void **state)
{
    (void)state;
    const uint32_t dims[3] = {2, 2, 2};
    unsigned char *payload = pattern(9);
    bytes b = make_idx(0x08, 3, dims, payload, 9); /* one byte too many */
    expect_refusal(&b, "extra-idx3", MDNMF_ERR_FORMAT, "has data after the 8 bytes");
    bytes z = gzip_bytes(&b);
    expect_refusal(&z, "extra.gz", MDNMF_ERR_FORMAT, "has data after the 8 bytes");
    free(z.data);

    bytes exact = {b.data, b.length - 1};
    z = gzip_bytes(&exact);
    append(&z, "garbage!", 8);
    mdnmf_matrix out;
    char message[256] = "";
    assert_int_equal(read_bytes_as_idx(&z, "garbage.gz", &out, message, sizeof message),
                     MDNMF_OK);
    check_images(&out, payload, 2, 2, 2);
    mdnmf_matrix_free(&out);
    free(z.data);
    free(payload);
    free(b.data);
}

static void test_io_errors_and_arguments(void **state)
{
    mdnmf_error error;
    (void)state;
    char path[128];
    mdnmf_matrix out;
    path_in_folder(path, sizeof path, "does-not-exist.gz");
    assert_int_equal(mdnmf_idx_read(path, &out, &error), MDNMF_ERR_IO);
    assert_non_null(strstr(error.message, "cannot open"));
    assert_non_null(strstr(error.message, path));
    assert_null(out.data);

    /* A folder opens but cannot be read. */
    error.message[0] = '\0';
    assert_int_equal(mdnmf_idx_read(folder, &out, &error), MDNMF_ERR_IO);
    assert_non_null(strstr(error.message, folder));
    assert_null(out.data);

    assert_int_equal(mdnmf_idx_read(NULL, &out, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_idx_read(path, NULL, &error), MDNMF_ERR_ARGUMENT);
    /* A NULL mdnmf_error is fine. */
    assert_int_equal(mdnmf_idx_read(path, &out, NULL), MDNMF_ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_images_plain_and_gzip),
        cmocka_unit_test(test_labels_every_byte_value),
        cmocka_unit_test(test_many_images_gzip),
        cmocka_unit_test(test_zero_items_is_empty),
        cmocka_unit_test(test_header_refusals),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_plain_truncated_at_every_length),
        cmocka_unit_test(test_gzip_truncated_at_every_length),
        cmocka_unit_test(test_gzip_flipped_bytes),
        cmocka_unit_test(test_gzip_wrong_crc),
        cmocka_unit_test(test_trailing_data),
        cmocka_unit_test(test_io_errors_and_arguments),
    };
    return cmocka_run_group_tests(tests, make_folder, remove_folder);
}
