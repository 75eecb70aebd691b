/* File formats: .npy reading (every dtype, order and version, and every
 * refusal), atomic writing, the params JSON and the .npz model round trip.
 * The .npy inputs are hand-made byte buffers, so the expected values are
 * known independently of the reader. */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include <dirent.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "mdnmf.h"
#include "npy.h"
#include "test_util.h"

static char folder[64];

static int make_folder(void **state)
{
    (void)state;
    snprintf(folder, sizeof folder, "/tmp/test_npy.XXXXXX");
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

static void write_bytes(const char *path, const void *bytes, size_t length)
{
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(bytes, 1, length, file), length);
    assert_int_equal(fclose(file), 0);
}

/* A .npy image: magic, version major.0, length field, `dict` padded with
 * spaces and a newline to a multiple of 64, then `data`. */
static size_t make_npy(unsigned char *out, int major, const char *dict, const void *data,
                       size_t data_length)
{
    const size_t prefix = major == 1 ? 10 : 12;
    const size_t text = strlen(dict);
    const size_t header = prefix + text + 1 + (64 - (prefix + text + 1) % 64) % 64;
    const size_t field = header - prefix;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (unsigned char)major;
    out[7] = 0;
    for (size_t b = 0; b < prefix - 8; b++)
        out[8 + b] = (unsigned char)(field >> (8 * b));
    memcpy(out + prefix, dict, text);
    memset(out + prefix + text, ' ', header - prefix - text);
    out[header - 1] = '\n';
    if (data_length)
        memcpy(out + header, data, data_length);
    return header + data_length;
}

static int read_image(const unsigned char *image, size_t length, mdnmf_matrix *out, char *message,
                      size_t size)
{
    char path[128];
    path_in_folder(path, sizeof path, "input.npy");
    write_bytes(path, image, length);
    mdnmf_error error;
    int status = mdnmf_npy_read(path, out, &error);
    snprintf(message, size, "%s", error.message);
    return status;
}

/* Names in the folder containing `part`. */
static int files_containing(const char *part)
{
    DIR *dir = opendir(folder);
    assert_non_null(dir);
    int count = 0;
    for (struct dirent *entry; (entry = readdir(dir));)
        count += strstr(entry->d_name, part) != NULL;
    closedir(dir);
    return count;
}

/* ------------------------------------------------------------ round trip */

static void test_write_read_round_trip(void **state)
{
    mdnmf_error error;
    (void)state;
    test_rng r = test_rng_make(11);
    const int64_t m = 7, n = 5;
    float *X = test_random_matrix(&r, m, n, -3.0, 3.0);
    X[3] = INFINITY; /* the writer does not judge values */
    char path[128];
    path_in_folder(path, sizeof path, "round.npy");
    assert_int_equal(mdnmf_npy_write(path, X, m, n, &error), MDNMF_OK);

    /* The header: version 1.0, '<f4', C order, shape (n, m), 64-aligned. */
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    unsigned char head[129] = {0}; /* one more byte: strstr needs a terminating NUL */
    assert_int_equal(fread(head, 1, sizeof head - 1, file), sizeof head - 1);
    fclose(file);
    const size_t header = 10 + (size_t)(head[8] | head[9] << 8);
    assert_int_equal(header % 64, 0);
    assert_int_equal(head[6], 1);
    assert_non_null(strstr((const char *)head + 10, "'descr': '<f4'"));
    assert_non_null(strstr((const char *)head + 10, "'fortran_order': False"));
    assert_non_null(strstr((const char *)head + 10, "'shape': (5, 7)"));
    struct stat info;
    assert_int_equal(stat(path, &info), 0);
    assert_int_equal((size_t)info.st_size, header + (size_t)(m * n) * 4);

    mdnmf_matrix back;
    assert_int_equal(mdnmf_npy_read(path, &back, &error), MDNMF_OK);
    assert_int_equal(back.m, m);
    assert_int_equal(back.n, n);
    assert_memory_equal(back.data, X, (size_t)(m * n) * sizeof *X);
    mdnmf_matrix_free(&back);
    assert_null(back.data);
    assert_int_equal(back.m, 0);
    mdnmf_matrix_free(NULL);

    /* Writing again replaces the file and leaves no temporary behind. */
    X[0] = 42.0f;
    assert_int_equal(mdnmf_npy_write(path, X, m, n, &error), MDNMF_OK);
    assert_int_equal(mdnmf_npy_read(path, &back, &error), MDNMF_OK);
    assert_true(back.data[0] == 42.0f);
    mdnmf_matrix_free(&back);
    assert_int_equal(files_containing(".tmp."), 0);
    free(X);
}

static void test_write_arguments(void **state)
{
    mdnmf_error error;
    (void)state;
    char path[128];
    path_in_folder(path, sizeof path, "arguments.npy");
    const float x = 1.0f;
    assert_int_equal(mdnmf_npy_write(NULL, &x, 1, 1, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_npy_write(path, NULL, 1, 1, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_npy_write(path, &x, -1, 1, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_npy_write(path, &x, INT64_MAX, 4, &error),
                     MDNMF_ERR_ARGUMENT);
    mdnmf_matrix out;
    assert_int_equal(mdnmf_npy_read(NULL, &out, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_npy_read(path, NULL, &error), MDNMF_ERR_ARGUMENT);
    /* An empty matrix is a valid (n, m) = (0, 3) array. */
    assert_int_equal(mdnmf_npy_write(path, NULL, 3, 0, NULL), MDNMF_OK);
    assert_int_equal(mdnmf_npy_read(path, &out, &error), MDNMF_OK);
    assert_int_equal(out.m, 3);
    assert_int_equal(out.n, 0);
    assert_non_null(out.data);
    mdnmf_matrix_free(&out);
}

static void test_write_missing_folder(void **state)
{
    mdnmf_error error;
    (void)state;
    char path[160], missing[128];
    path_in_folder(missing, sizeof missing, "no_such_folder");
    snprintf(path, sizeof path, "%s/out.npy", missing);
    const float x[2] = {1.0f, 2.0f};
    assert_int_equal(mdnmf_npy_write(path, x, 2, 1, &error), MDNMF_ERR_IO);
    assert_non_null(strstr(error.message, missing));
    assert_non_null(strstr(error.message, "does not exist"));
    struct stat info;
    assert_int_not_equal(stat(missing, &info), 0);
    assert_int_equal(files_containing("out.npy"), 0);

    /* A path that is a folder: the rename fails and the temporary goes. */
    char taken[128];
    path_in_folder(taken, sizeof taken, "taken");
    assert_int_equal(mkdir(taken, 0700), 0);
    assert_int_equal(mdnmf_npy_write(taken, x, 2, 1, &error), MDNMF_ERR_IO);
    assert_non_null(strstr(error.message, taken));
    assert_int_equal(files_containing(".tmp."), 0);
    rmdir(taken);

    /* A file that does not exist. */
    mdnmf_matrix out;
    snprintf(path, sizeof path, "%s/absent.npy", folder);
    assert_int_equal(mdnmf_npy_read(path, &out, &error), MDNMF_ERR_IO);
    assert_non_null(strstr(error.message, "absent.npy"));
    assert_non_null(strstr(error.message, "No such file"));
}

/* ------------------------------------------------------------ conversions */

typedef struct conversion_case {
    const char *what;
    int major;
    const char *dict;
    const unsigned char *data;
    size_t data_length;
    int64_t m, n;
    float expected[8]; /* column-major m x n */
} conversion_case;

static const unsigned char f4_big[] = {0x3f, 0x80, 0, 0, 0xc0, 0x20, 0, 0, 0x7f, 0x80, 0, 0};
static const unsigned char f4_little[] = {0, 0, 0x80, 0x3f, 0, 0, 0x20, 0xc0, 0, 0, 0x80, 0x7f};
static const unsigned char f2_little[] = {0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0x00, 0x7c,
                                          0xff, 0x7b, 0x00, 0x80};
static const unsigned char f8_little[] = {
    0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f, /* 0.1 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x7f, /* NaN */
    0x9c, 0x75, 0x00, 0x88, 0x3c, 0xe4, 0x37, 0x7e, /* 1e300: beyond float */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0xc0}; /* -2.5 */
static const unsigned char i2_little[] = {0xff, 0xff, 0x00, 0x80, 0xff, 0x7f};
static const unsigned char i8_big[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfd,
                                       0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};
static const unsigned char u8_little[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                          7, 0, 0, 0, 0, 0, 0, 0};
static const unsigned char u1[] = {0, 1, 200, 255};
static const unsigned char i1[] = {0x80, 0xff, 0x7f};
static const unsigned char b1[] = {0, 1, 1, 0};
static const unsigned char u4_big[] = {0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff};
/* Shape (2, 3) in Fortran order: arr[a][b] = 10 a + b is stored at a + 2 b. */
static const unsigned char i4_fortran[] = {0, 0, 0, 0, 10, 0, 0, 0, 1, 0, 0, 0,
                                           11, 0, 0, 0, 2, 0, 0, 0, 12, 0, 0, 0};
/* The same array in C order. */
static const unsigned char i4_c[] = {0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0,
                                     10, 0, 0, 0, 11, 0, 0, 0, 12, 0, 0, 0};

static const conversion_case conversions[] = {
    {"big-endian float32", 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }",
     f4_big, sizeof f4_big, 3, 1, {1.0f, -2.5f, INFINITY}},
    {"version 2.0", 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }",
     f4_little, sizeof f4_little, 3, 1, {1.0f, -2.5f, INFINITY}},
    {"version 3.0", 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 1), }",
     f4_little, sizeof f4_little, 1, 3, {1.0f, -2.5f, INFINITY}},
    {"float16: 1, -2, smallest subnormal, inf, 65504, -0", 1,
     "{'descr': '<f2', 'fortran_order': False, 'shape': (6,), }", f2_little, sizeof f2_little, 6,
     1, {1.0f, -2.0f, 5.9604644775390625e-08f, INFINITY, 65504.0f, -0.0f}},
    {"float64 with NaN and overflow to inf", 1,
     "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", f8_little, sizeof f8_little, 2,
     2, {0.1f, NAN, INFINITY, -2.5f}},
    {"int16", 1, "{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }", i2_little,
     sizeof i2_little, 3, 1, {-1.0f, -32768.0f, 32767.0f}},
    {"big-endian int64", 1, "{'descr': '>i8', 'fortran_order': False, 'shape': (2,), }", i8_big,
     sizeof i8_big, 2, 1, {-3.0f, 9007199254740993.0f}},
    {"uint64", 1, "{'descr': '<u8', 'fortran_order': False, 'shape': (2,), }", u8_little,
     sizeof u8_little, 2, 1, {18446744073709551615.0f, 7.0f}},
    {"uint8", 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }", u1, sizeof u1, 2,
     2, {0.0f, 1.0f, 200.0f, 255.0f}},
    {"int8", 1, "{'descr': '|i1', 'fortran_order': False, 'shape': (3,), }", i1, sizeof i1, 3, 1,
     {-128.0f, -1.0f, 127.0f}},
    {"bool", 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }", b1, sizeof b1, 4, 1,
     {0.0f, 1.0f, 1.0f, 0.0f}},
    {"big-endian uint32", 1, "{'descr': '>u4', 'fortran_order': False, 'shape': (2,), }", u4_big,
     sizeof u4_big, 2, 1, {65536.0f, 4294967295.0f}},
    {"Fortran order int32", 1, "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }",
     i4_fortran, sizeof i4_fortran, 3, 2, {0, 1, 2, 10, 11, 12}},
    {"C order int32", 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", i4_c,
     sizeof i4_c, 3, 2, {0, 1, 2, 10, 11, 12}},
    {"Fortran order 1-D", 1, "{'descr': '<i4', 'fortran_order': True, 'shape': (6,), }", i4_c,
     sizeof i4_c, 6, 1, {0, 1, 2, 10, 11, 12}},
    {"keys reordered, double quotes, no trailing comma, spaces", 1,
     "{ \"shape\" : ( 2 , 3 ) , \"fortran_order\":True,'descr':'<i4'}", i4_fortran,
     sizeof i4_fortran, 3, 2, {0, 1, 2, 10, 11, 12}},
    {"native byte order '=' and Python 2 long", 1,
     "{'descr': '=i4', 'fortran_order': False, 'shape': (2L, 3L)}", i4_c, sizeof i4_c, 3, 2,
     {0, 1, 2, 10, 11, 12}},
    {"empty 1-D array", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", NULL, 0, 0,
     1, {0}},
    {"empty 2-D array", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 4), }", NULL, 0,
     4, 0, {0}},
    {"trailing bytes after the data are ignored", 1,
     "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", u1, sizeof u1, 2, 1,
     {0.0f, 1.0f}},
};

static void test_conversions(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof conversions / sizeof conversions[0]; c++) {
        const conversion_case *k = &conversions[c];
        unsigned char image[512];
        const size_t length = make_npy(image, k->major, k->dict, k->data, k->data_length);
        mdnmf_matrix out;
        char message[256] = "";
        const int status = read_image(image, length, &out, message, sizeof message);
        if (status != MDNMF_OK)
            fail_msg("%s: status %d, %s", k->what, status, message);
        if (out.m != k->m || out.n != k->n)
            fail_msg("%s: shape %lld x %lld", k->what, (long long)out.m, (long long)out.n);
        for (int64_t i = 0; i < k->m * k->n; i++) {
            const float got = out.data[i], want = k->expected[i];
            const int same = (isnan(got) && isnan(want))
                             || (memcmp(&got, &want, sizeof got) == 0);
            if (!same)
                fail_msg("%s: element %lld is %.9g, expected %.9g", k->what, (long long)i, got,
                         want);
        }
        mdnmf_matrix_free(&out);
    }
}

/* ------------------------------------------------------------- refusals */

typedef struct refusal_case {
    const char *what;
    int major;
    const char *dict;
    size_t data_length;
    int status;
    const char *says; /* a part of the message */
} refusal_case;

static const refusal_case refusals[] = {
    {"complex", 1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16,
     MDNMF_ERR_FORMAT, "complex"},
    {"object", 1, "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 16,
     MDNMF_ERR_FORMAT, "object"},
    {"unicode", 1, "{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }", 24,
     MDNMF_ERR_FORMAT, "string"},
    {"bytes", 1, "{'descr': '|S3', 'fortran_order': False, 'shape': (2,), }", 6,
     MDNMF_ERR_FORMAT, "string"},
    {"structured", 1,
     "{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (2,), }", 16,
     MDNMF_ERR_FORMAT, "structured"},
    {"void", 1, "{'descr': '|V8', 'fortran_order': False, 'shape': (2,), }", 16,
     MDNMF_ERR_FORMAT, "structured"},
    {"datetime", 1, "{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (2,), }", 16,
     MDNMF_ERR_FORMAT, "datetime"},
    {"float128", 1, "{'descr': '<f16', 'fortran_order': False, 'shape': (2,), }", 32,
     MDNMF_ERR_FORMAT, "<f16"},
    {"int3", 1, "{'descr': '<i3', 'fortran_order': False, 'shape': (2,), }", 6,
     MDNMF_ERR_FORMAT, "<i3"},
    {"3-D", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 2), }", 32,
     MDNMF_ERR_FORMAT, "3-D"},
    {"0-D", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4,
     MDNMF_ERR_FORMAT, "0-D"},
    {"huge shape", 1,
     "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 0,
     MDNMF_ERR_FORMAT, "too large"},
    {"huge empty shape", 1,
     "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 4611686018427387904), }", 0,
     MDNMF_ERR_FORMAT, "too large"},
    {"shape beyond int64", 1,
     "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 1), }", 0,
     MDNMF_ERR_FORMAT, "too large"},
    {"negative shape", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 1), }", 0,
     MDNMF_ERR_FORMAT, "shape"},
    {"truncated data", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 47,
     MDNMF_ERR_FORMAT, "truncated"},
    {"unknown key", 1,
     "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", 4, MDNMF_ERR_FORMAT,
     "unknown key"},
    {"missing key", 1, "{'descr': '<f4', 'shape': (1,), }", 4, MDNMF_ERR_FORMAT, "missing"},
    {"duplicate key", 1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
     4, MDNMF_ERR_FORMAT, "twice"},
    {"not a dict", 1, "['descr', '<f4']", 4, MDNMF_ERR_FORMAT, "dict"},
    {"bad fortran_order", 1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,), }", 4,
     MDNMF_ERR_FORMAT, "fortran_order"},
    {"unterminated string", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x", 4,
     MDNMF_ERR_FORMAT, "unterminated"},
    {"garbled descr", 1, "{'descr': '<f4, 'fortran_order': False, 'shape': (1,), }", 4,
     MDNMF_ERR_FORMAT, "dtype"},
    {"text after the dict", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } x", 4,
     MDNMF_ERR_FORMAT, "after"},
    {"unclosed shape", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2 }", 4,
     MDNMF_ERR_FORMAT, "shape"},
};

static void test_refusals(void **state)
{
    (void)state;
    static unsigned char zeros[256];
    for (size_t c = 0; c < sizeof refusals / sizeof refusals[0]; c++) {
        const refusal_case *k = &refusals[c];
        unsigned char image[1024];
        const size_t length = make_npy(image, k->major, k->dict, zeros, k->data_length);
        mdnmf_matrix out = {.m = 5, .n = 5, .data = (float *)1};
        char message[256] = "";
        const int status = read_image(image, length, &out, message, sizeof message);
        if (status != k->status)
            fail_msg("%s: status %d (%s), expected %d", k->what, status, message, k->status);
        if (!strstr(message, k->says) || !strstr(message, "input.npy"))
            fail_msg("%s: message '%s' lacks '%s' or the file name", k->what, message, k->says);
        assert_null(out.data);
    }
}

static void test_refused_prefixes(void **state)
{
    (void)state;
    unsigned char good[256];
    const size_t length = make_npy(
        good, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", "\0\0\0\0", 4);
    struct {
        const char *what;
        size_t keep;   /* bytes of the good image kept */
        int patch_at;  /* -1: none */
        unsigned char patch[4];
        size_t patch_length;
        const char *says;
    } cases[] = {
        {"empty file", 0, -1, {0}, 0, "magic"},
        {"bad magic", length, 1, {'X'}, 1, "magic"},
        {"version 4.0", length, 6, {4}, 1, "version 4.0"},
        {"version 1.1", length, 7, {1}, 1, "version 1.1"},
        {"cut in the magic", 5, -1, {0}, 0, "magic"},
        {"cut in the length", 9, -1, {0}, 0, "truncated"},
        {"cut in the header", 40, -1, {0}, 0, "truncated"},
        {"zero header length", length, 8, {0, 0}, 2, "header length"},
        {"absurd header length (v2)", length, 6, {2, 0, 0xff, 0xff}, 4, "header length"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        unsigned char image[256];
        memcpy(image, good, length);
        if (cases[c].patch_at >= 0)
            memcpy(image + cases[c].patch_at, cases[c].patch, cases[c].patch_length);
        if (cases[c].patch_at == 6 && cases[c].patch_length == 4) {
            image[10] = 0xff; /* 4-byte length 0xffffffff */
            image[11] = 0x7f;
        }
        mdnmf_matrix out;
        char message[256] = "";
        const int status = read_image(image, cases[c].keep, &out, message, sizeof message);
        if (status != MDNMF_ERR_FORMAT || !strstr(message, cases[c].says))
            fail_msg("%s: status %d, message '%s'", cases[c].what, status, message);
    }
}

/* ------------------------------------------------------------- params JSON */

/* The mdnmf_params part of a params JSON (*p unchanged on failure). */
static int params_from_json(const char *json, size_t length, mdnmf_params *p, char *message,
                            size_t size)
{
    model_settings settings = {.params = *p};
    const int status = model_params_from_json(json, length, &settings, message, size);
    *p = settings.params;
    return status;
}

static mdnmf_params odd_params(void)
{
    mdnmf_params p;
    mdnmf_params_default(&p);
    p.d = 7;
    p.epochs = 123;
    p.test_epochs = 0;
    p.batch_size = (int64_t)1 << 40;
    p.batch_size_adv = 3;
    p.init = MDNMF_INIT_RANDOM;
    p.mu_W = 1e-300;
    p.mu_H = 0.1;
    p.tau_A = 1.0 / 3.0;
    p.tau_W = 123456789.123456789;
    p.normalize = 1;
    p.update_H = 1;
    p.true_sample = MDNMF_SAMPLE_MIN;
    p.seed = UINT64_MAX;
    p.threads = 3;
    return p;
}

static void assert_params_equal(const mdnmf_params *a, const mdnmf_params *b)
{
    assert_int_equal(a->d, b->d);
    assert_int_equal(a->epochs, b->epochs);
    assert_int_equal(a->test_epochs, b->test_epochs);
    assert_true(a->batch_size == b->batch_size);
    assert_true(a->batch_size_adv == b->batch_size_adv);
    assert_int_equal(a->init, b->init);
    assert_memory_equal(&a->mu_W, &b->mu_W, sizeof(double));
    assert_memory_equal(&a->mu_H, &b->mu_H, sizeof(double));
    assert_memory_equal(&a->tau_A, &b->tau_A, sizeof(double));
    assert_memory_equal(&a->tau_W, &b->tau_W, sizeof(double));
    assert_int_equal(a->normalize, b->normalize);
    assert_int_equal(a->update_H, b->update_H);
    assert_int_equal(a->true_sample, b->true_sample);
    assert_true(a->seed == b->seed);
    assert_int_equal(a->threads, b->threads);
}

static void json_round_trip(void)
{
    const mdnmf_params p = odd_params();
    const model_settings settings = {.params = p};
    char *json = model_params_to_json(&settings);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"format\": \"mdnmf-model\""));
    assert_non_null(strstr(json, "\"version\": \"" MDNMF_VERSION_STRING "\""));
    assert_non_null(strstr(json, "\"seed\": 18446744073709551615"));
    assert_non_null(strstr(json, "\"mu_H\": 0.10000000000000001"));
    assert_non_null(strstr(json, "\"init\": \"random\""));
    assert_non_null(strstr(json, "\"true_sample\": \"min\""));
    assert_non_null(strstr(json, "\"normalize\": true"));
    mdnmf_params back;
    mdnmf_params_default(&back);
    char message[256] = "";
    assert_int_equal(params_from_json(json, strlen(json), &back, message, sizeof message),
                     MDNMF_OK);
    assert_params_equal(&p, &back);
    free(json);
}

static void test_params_json_round_trip(void **state)
{
    (void)state;
    json_round_trip();
}

/* A comma decimal point in the program's locale must not leak into files. */
static void test_params_json_under_comma_locale(void **state)
{
    (void)state;
    if (!setlocale(LC_NUMERIC, "de_DE.UTF-8")) {
        char command[256];
        snprintf(command, sizeof command,
                 "localedef -i de_DE -f UTF-8 '%s/de_DE.UTF-8' >/dev/null 2>&1", folder);
        if (system(command) != 0 || setenv("LOCPATH", folder, 1) != 0
            || !setlocale(LC_NUMERIC, "de_DE.UTF-8"))
            skip();
    }
    char probe[16];
    snprintf(probe, sizeof probe, "%.1f", 0.5);
    assert_string_equal(probe, "0,5"); /* the locale really is in effect */
    json_round_trip();
    setlocale(LC_NUMERIC, "C");
}

static void test_params_json_reading(void **state)
{
    (void)state;
    mdnmf_params defaults;
    mdnmf_params_default(&defaults);
    /* Unknown keys with nested values, escapes, null, 0/1 booleans, an
     * integral float for an integer, and odd spacing. */
    const char *json =
        " {\"sample_rate\": {\"a\": [1, 2.5e3, {\"b\": null}], \"c\": \"}\"},\n"
        "  \"init\": \"r\\u0061ndom\", \"d\" : 2.0e1, \"normalize\": 1, \"mu_H\": null,"
        "  \"tau_A\": -0.0, \"note\": \"\\ud83d\\ude00 \\\" \\\\ \\/ \\n\", \"epochs\": -7,"
        "  \"seed\": 9007199254740993, \"batch_size\": -9223372036854775808, \"x\": [] } \t";
    mdnmf_params p = defaults;
    char message[256] = "";
    assert_int_equal(params_from_json(json, strlen(json), &p, message, sizeof message), MDNMF_OK);
    assert_int_equal(p.init, MDNMF_INIT_RANDOM);
    assert_int_equal(p.d, 20);
    assert_int_equal(p.normalize, 1);
    assert_true(p.mu_H == defaults.mu_H);
    assert_true(p.tau_A == 0.0);
    assert_int_equal(p.epochs, -7); /* range checks are mdnmf_params_check's job */
    assert_true(p.seed == 9007199254740993ull);
    assert_true(p.batch_size == INT64_MIN);
    assert_int_equal(p.test_epochs, defaults.test_epochs);

    static const char *const malformed[] = {
        "", "[]", "{", "{\"d\": 1", "{\"d\" 1}", "{\"d\": 1,}", "{d: 1}", "{\"d\": 01}",
        "{\"d\": 1.}", "{\"d\": .5}", "{\"d\": 1e}", "{\"d\": +1}", "{\"d\": tru}",
        "{\"a\": \"\\x\"}", "{\"a\": \"\\ud800\"}", "{\"a\": \"\\udc00x\"}",
        "{\"a\": \"tab\there\"}",
        "{\"a\": [1 2]}", "{\"a\": {\"b\" 1}}", "{\"a\": [}", "{} x", "{\"d\": 1} {}",
        "{\"d\": \"3\"}", "{\"d\": 1.5}", "{\"d\": 3000000000}", "{\"seed\": -1}",
        "{\"seed\": 18446744073709551616}", "{\"init\": \"bogus\"}", "{\"true_sample\": 1}",
        "{\"normalize\": 2}", "{\"normalize\": \"yes\"}", "{\"mu_W\": 1e999}",
        "{\"format\": \"other\"}", "{\"tau_A\": true}",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        mdnmf_params q = defaults;
        q.d = 99;
        message[0] = '\0';
        const int status = params_from_json(malformed[i], strlen(malformed[i]), &q, message,
                                            sizeof message);
        if (status != MDNMF_ERR_FORMAT || message[0] == '\0')
            fail_msg("'%s' was accepted (status %d)", malformed[i], status);
        assert_int_equal(q.d, 99); /* a failure changes nothing */
    }

    /* Deep nesting is refused, not a stack overflow. */
    char deep[400];
    size_t at = (size_t)snprintf(deep, sizeof deep, "{\"a\": ");
    for (int i = 0; i < 100; i++)
        deep[at++] = '[';
    mdnmf_params q = defaults;
    assert_int_equal(params_from_json(deep, at, &q, message, sizeof message), MDNMF_ERR_FORMAT);
    /* An embedded NUL is not JSON. */
    assert_int_equal(params_from_json("{\"d\": 1}\0", 9, &q, message, sizeof message),
                     MDNMF_ERR_FORMAT);
}

/* The separator and audio objects: every value back bit for bit, the keys
 * where Python and older files look for them. */
static void test_params_json_nested_objects(void **state)
{
    (void)state;
    model_settings out = {.params = odd_params(), .has_separator = 1, .has_audio = 1};
    mdnmf_separator_params *sep = &out.separator;
    sep->mode = MDNMF_MODE_SEMI_ADV;
    sep->sources = 3;
    const int64_t d[3] = {4, INT64_MAX, 1};
    const double mu_H[3] = {1e-300, 1.0 / 3.0, 0.1};
    const double tau_A[3] = {0.0, 2.5e-7, 123456789.123456789};
    const double beta[3] = {1.0, 0.75, 5e-324};
    memcpy(sep->d, d, sizeof d);
    memcpy(sep->mu_H, mu_H, sizeof mu_H);
    memcpy(sep->tau_A, tau_A, sizeof tau_A);
    memcpy(sep->beta, beta, sizeof beta);
    sep->tau_S = 1.0 / 7.0;
    sep->batch_size_sup = 12;
    sep->warm_start_epochs = 9;
    out.audio = (mdnmf_audio_params){
        .sample_rate = 16000, .n_fft = 512, .hop_length = 128, .win_length = 400};
    char *json = model_params_to_json(&out);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"separator\": {\"mode\": \"semi_adv\", \"sources\": 3"));
    assert_non_null(strstr(json, "\"d\": [4, 9223372036854775807, 1]"));
    assert_non_null(strstr(json, "\"audio\": {\"sample_rate\": 16000, \"n_fft\": 512, "
                                 "\"hop_length\": 128, \"win_length\": 400}"));
    model_settings back = {0};
    mdnmf_params_default(&back.params);
    char message[256] = "";
    assert_int_equal(model_params_from_json(json, strlen(json), &back, message, sizeof message),
                     MDNMF_OK);
    free(json);
    assert_params_equal(&out.params, &back.params);
    assert_true(back.has_separator && back.has_audio);
    assert_int_equal(back.separator.mode, MDNMF_MODE_SEMI_ADV);
    assert_int_equal(back.separator.sources, 3);
    assert_memory_equal(back.separator.d, d, sizeof d);
    assert_memory_equal(back.separator.mu_H, mu_H, sizeof mu_H);
    assert_memory_equal(back.separator.tau_A, tau_A, sizeof tau_A);
    assert_memory_equal(back.separator.beta, beta, sizeof beta);
    assert_memory_equal(&back.separator.tau_S, &sep->tau_S, sizeof(double));
    assert_true(back.separator.batch_size_sup == 12 && back.separator.warm_start_epochs == 9);
    assert_memory_equal(&back.audio, &out.audio, sizeof out.audio);

    /* Without the objects, nothing is said to be there; a non-object is ignored. */
    back.has_separator = back.has_audio = 1;
    assert_int_equal(model_params_from_json("{\"separator\": 5}", 16, &back, message,
                                            sizeof message), MDNMF_OK);
    assert_false(back.has_separator || back.has_audio);

    /* A bad nested value is named with its object; nothing changes. */
    static const struct { const char *json, *names; } bad[] = {
        {"{\"separator\": {\"mu_H\": [1, \"a\"]}}", "\"separator.mu_H\""},
        {"{\"separator\": {\"d\": [1, 2.5]}}", "\"separator.d\""},
        {"{\"separator\": {\"tau_A\": [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7]}}",
         "\"separator.tau_A\""},
        {"{\"separator\": {\"mode\": \"bogus\"}}", "\"separator.mode\""},
        {"{\"audio\": {\"n_fft\": 1.5}}", "\"audio.n_fft\""},
        {"{\"seed\": 18446744073709551616}", "\"seed\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        model_settings before = back, after = back;
        message[0] = '\0';
        assert_int_equal(model_params_from_json(bad[i].json, strlen(bad[i].json), &after, message,
                                                sizeof message), MDNMF_ERR_FORMAT);
        if (!strstr(message, bad[i].names))
            fail_msg("'%s': message '%s' does not name %s", bad[i].json, message, bad[i].names);
        assert_memory_equal(&after, &before, sizeof before);
    }
}

/* Syntax errors name the line and the column of the document as given,
 * also after a number above INT64_MAX (which jansson cannot hold). */
static void test_params_json_error_positions(void **state)
{
    (void)state;
    static const char *const documents[] = {
        "{\"seed\": 18446744073709551615, \"x\": 1 ?}",
        "{\"seed\": 18446744073709551615, \"a\": [9223372036854775808, 1 ?]}",
        "{\"seed\":\n 18446744073709551615,\n  \"x\": ?}",
        "{\"d\": 3,\n\"x\": ?}",
    };
    for (size_t i = 0; i < sizeof documents / sizeof *documents; i++) {
        const char *text = documents[i], *bad = strchr(text, '?'), *line_start = text;
        int line = 1;
        for (const char *c = text; c < bad; c++)
            if (*c == '\n')
                line++, line_start = c + 1;
        char expected[64], message[256] = "";
        snprintf(expected, sizeof expected, "line %d, column %d:", line,
                 (int)(bad - line_start) + 1);
        model_settings settings = {0};
        assert_int_equal(model_params_from_json(text, strlen(text), &settings, message,
                                                sizeof message), MDNMF_ERR_FORMAT);
        if (!strstr(message, expected))
            fail_msg("'%s': message '%s' lacks '%s'", text, message, expected);
    }
}

/* Text as NumPy's '<U' arrays: UTF-32 of either byte order to UTF-8 and
 * back, each element's trailing NULs dropped, and refusals naming the bad
 * code point.  Expected bytes are written out by hand. */
static void test_text_arrays(void **state)
{
    (void)state;
    const char *text = "a\xc3\xa9\xf0\x9f\x98\x80\"";      /* a, e-acute, U+1F600, quote */
    const uint32_t code_points[] = {0x61, 0xe9, 0x1f600, 0x22};
    size_t length = 0;
    unsigned char *image = npy_serialize_text(text, &length);
    assert_non_null(image);
    /* The header (after magic, version and length) ends before the first NUL of the data. */
    assert_non_null(strstr((const char *)image + 10, "'descr': '<U4'"));
    unsigned char expected[16];
    for (int i = 0; i < 16; i++)
        expected[i] = (unsigned char)(code_points[i / 4] >> (8 * (i % 4)));
    assert_memory_equal(image + length - 16, expected, 16);
    char *back = NULL, message[256] = "";
    size_t back_length = 0;
    assert_int_equal(npy_text_from_buffer(image, length, &back, &back_length, message,
                                          sizeof message), MDNMF_OK);
    assert_string_equal(back, text);
    assert_int_equal(back_length, strlen(text));
    free(back);
    free(image);
    assert_null(npy_serialize_text("\xff", &length)); /* not UTF-8 */

    static const struct {
        const char *dict;
        unsigned char data[16];
        size_t data_length;
        const char *utf8, *refusal;
    } cases[] = {
        {"{'descr': '>U2', 'fortran_order': False, 'shape': (), }",
         {0, 0, 0, 0xe9, 0, 1, 0xf6, 0}, 8, "\xc3\xa9\xf0\x9f\x98\x80", NULL},
        {"{'descr': '<U2', 'fortran_order': False, 'shape': (2,), }",
         {'a', 0, 0, 0, 0, 0, 0, 0, 'b', 0, 0, 0, 'c', 0, 0, 0}, 16, "abc", NULL},
        {"{'descr': '<U1', 'fortran_order': False, 'shape': (2,), }",
         {'a', 0, 0, 0, 0, 0xd8, 0, 0}, 8, NULL, "U+D800"},
        {"{'descr': '>U1', 'fortran_order': False, 'shape': (), }",
         {0, 0x11, 0, 0}, 4, NULL, "U+110000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        unsigned char npy[256];
        length = make_npy(npy, 1, cases[i].dict, cases[i].data, cases[i].data_length);
        back = NULL;
        message[0] = '\0';
        const int status = npy_text_from_buffer(npy, length, &back, &back_length, message,
                                                sizeof message);
        if (cases[i].utf8) {
            assert_int_equal(status, MDNMF_OK);
            assert_string_equal(back, cases[i].utf8);
        } else {
            assert_int_equal(status, MDNMF_ERR_FORMAT);
            if (!strstr(message, cases[i].refusal))
                fail_msg("case %zu: message '%s' lacks %s", i, message, cases[i].refusal);
        }
        free(back);
    }
}

/* ----------------------------------------------------------------- models */

static void test_model_round_trip(void **state)
{
    mdnmf_error error;
    (void)state;
    mdnmf_params p = odd_params();
    p.d = 3;
    p.threads = 0;
    mdnmf_model *model = mdnmf_model_create(&p, &error);
    assert_non_null(model);
    char path[128];
    path_in_folder(path, sizeof path, "model.npz");
    assert_int_equal(mdnmf_model_save(model, path, &error), MDNMF_ERR_STATE);
    assert_non_null(strstr(error.message, "no basis"));

    test_rng r = test_rng_make(5);
    const int64_t m = 4, d = 3;
    float *W = test_random_matrix(&r, m, d, 0.0, 2.0);
    const float mu_H[3] = {0.5f, 0.0f, 1e-30f};
    assert_int_equal(mdnmf_model_set_basis(model, W, m, d, &error), MDNMF_OK);
    assert_int_equal(mdnmf_model_set_mu_H(model, mu_H, d, &error), MDNMF_OK);
    assert_int_equal(mdnmf_model_save(model, path, &error), MDNMF_OK);
    assert_int_equal(files_containing(".tmp."), 0);

    mdnmf_model *loaded = mdnmf_model_load(path, &error);
    if (!loaded)
        fail_msg("load: %s", error.message);
    assert_int_equal(error.status, MDNMF_OK);
    assert_string_equal(error.message, "");
    int64_t m2, d2;
    mdnmf_model_shape(loaded, &m2, &d2);
    assert_int_equal(m2, m);
    assert_int_equal(d2, d);
    assert_memory_equal(mdnmf_model_basis(loaded), W, (size_t)(m * d) * sizeof(float));
    assert_memory_equal(mdnmf_model_mu_H(loaded), mu_H, sizeof mu_H);
    assert_int_equal(mdnmf_model_source_count(loaded), 1);
    assert_int_equal(mdnmf_model_components(loaded)[0], d);
    assert_params_equal(&p, mdnmf_model_params(loaded));
    assert_null(mdnmf_model_params(loaded)->on_epoch);

    /* Saving into a missing folder fails with IO and names the folder. */
    snprintf(path, sizeof path, "%s/missing/model.npz", folder);
    assert_int_equal(mdnmf_model_save(loaded, path, &error), MDNMF_ERR_IO);
    assert_non_null(strstr(error.message, "missing' does not exist"));
    assert_int_equal(mdnmf_model_save(loaded, NULL, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_model_save(NULL, path, &error), MDNMF_ERR_ARGUMENT);

    mdnmf_model_destroy(loaded);
    mdnmf_model_destroy(model);
    free(W);
}

static void test_model_load_refusals(void **state)
{
    mdnmf_error error;
    (void)state;
    char path[128];
    path_in_folder(path, sizeof path, "absent.npz");
    assert_null(mdnmf_model_load(path, &error));
    assert_int_equal(error.status, MDNMF_ERR_IO);
    assert_non_null(strstr(error.message, "absent.npz"));

    /* A .npy is not a zip. */
    path_in_folder(path, sizeof path, "not_a_zip.npz");
    const float x = 1.0f;
    assert_int_equal(mdnmf_npy_write(path, &x, 1, 1, NULL), MDNMF_OK);
    assert_null(mdnmf_model_load(path, &error));
    assert_int_equal(error.status, MDNMF_ERR_FORMAT);
    assert_non_null(strstr(error.message, "not_a_zip.npz"));

    /* A truncated zip. */
    mdnmf_params p;
    mdnmf_params_default(&p);
    p.d = 2;
    mdnmf_model *model = mdnmf_model_create(&p, &error);
    const float W[4] = {1, 2, 3, 4};
    assert_int_equal(mdnmf_model_set_basis(model, W, 2, 2, &error), MDNMF_OK);
    path_in_folder(path, sizeof path, "cut.npz");
    assert_int_equal(mdnmf_model_save(model, path, &error), MDNMF_OK);
    struct stat info;
    assert_int_equal(stat(path, &info), 0);
    assert_int_equal(truncate(path, info.st_size - 30), 0);
    assert_null(mdnmf_model_load(path, &error));
    assert_int_equal(error.status, MDNMF_ERR_FORMAT);
    assert_null(mdnmf_model_load(NULL, &error));
    assert_int_equal(error.status, MDNMF_ERR_ARGUMENT);
    mdnmf_model_destroy(model);
}

/* ------------------------------------------------------------------ fuzz */

/* Mutated copies of valid inputs, each in a buffer of exactly its length
 * (so that AddressSanitizer builds catch any over-read): every reader
 * answers OK or FORMAT, and an accepted matrix has the size it claims. */
static void test_fuzzed_inputs(void **state)
{
    (void)state;
    static const char *const dicts[] = {
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
        "{'descr': '>f8', 'fortran_order': True, 'shape': (3, 2), }",
        "{'descr': '<U4', 'fortran_order': False, 'shape': (), }",
        "{'descr': '|u1', 'fortran_order': False, 'shape': (12,), }",
        "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
    };
    const char *json = "{\"d\": 3, \"init\": \"random\", \"x\": [1, {\"y\": \"\\u00e9\"}], "
                       "\"mu_W\": 1.5e-3, \"normalize\": true}";
    unsigned char data[48];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 37 + 1);
    test_rng r = test_rng_make(2024);
    for (int round = 0; round < 20000; round++) {
        unsigned char image[256];
        const char *dict = dicts[round % 5];
        size_t length = make_npy(image, 1 + round % 3, dict, data, sizeof data);
        for (int k = 0, flips = 1 + (int)(test_uniform(&r) * 4); k < flips; k++)
            image[(size_t)(test_uniform(&r) * (double)length)] =
                (unsigned char)(test_uniform(&r) * 256);
        if (test_uniform(&r) < 0.3)
            length = (size_t)(test_uniform(&r) * (double)length);
        unsigned char *exact = malloc(length ? length : 1);
        assert_non_null(exact);
        memcpy(exact, image, length);
        mdnmf_matrix matrix = {0};
        char message[256];
        int status = npy_matrix_from_buffer(exact, length, &matrix, message, sizeof message);
        assert_true(status == MDNMF_OK || status == MDNMF_ERR_FORMAT);
        if (status == MDNMF_OK) {
            volatile float sum = 0.0f;
            for (int64_t i = 0; i < matrix.m * matrix.n; i++)
                sum += matrix.data[i]; /* touches every element it claims */
            (void)sum;
            mdnmf_matrix_free(&matrix);
        }
        int64_t *values = NULL, count = 0;
        status = npy_int64_from_buffer(exact, length, &values, &count, message, sizeof message);
        assert_true(status == MDNMF_OK || status == MDNMF_ERR_FORMAT);
        if (status == MDNMF_OK && count > 0)
            assert_true(values[count - 1] == values[count - 1]);
        free(values);
        char *text = NULL;
        size_t text_length = 0;
        status = npy_text_from_buffer(exact, length, &text, &text_length, message, sizeof message);
        assert_true(status == MDNMF_OK || status == MDNMF_ERR_FORMAT);
        if (status == MDNMF_OK)
            assert_int_equal(strlen(text) <= text_length, 1);
        free(text);
        free(exact);

        /* The same for the params JSON. */
        const size_t json_length = strlen(json);
        char *mutated = malloc(json_length);
        assert_non_null(mutated);
        memcpy(mutated, json, json_length);
        mutated[(size_t)(test_uniform(&r) * (double)json_length)] = (char)(test_uniform(&r) * 128);
        const size_t cut = test_uniform(&r) < 0.3 ? (size_t)(test_uniform(&r) * (double)json_length)
                                                  : json_length;
        mdnmf_params p;
        mdnmf_params_default(&p);
        status = params_from_json(mutated, cut, &p, message, sizeof message);
        assert_true(status == MDNMF_OK || status == MDNMF_ERR_FORMAT);
        free(mutated);
    }
}

/* npy_read_rows_file (mdnmf-mpi's shard reads): rows [first, first + count)
 * of each numeric dtype equal the same rows of the whole array; layouts it
 * cannot seek in and ranges outside the array are refused. */
static void write_rows_file(const char *name, const char *dict, const void *data, size_t bytes,
                            char *path, size_t size)
{
    unsigned char image[512];
    path_in_folder(path, size, name);
    write_bytes(path, image, make_npy(image, 1, dict, data, bytes));
}

static void check_rows(const char *path, int64_t first, int64_t count, const float *expected)
{
    char message[256];
    mdnmf_matrix out;
    int64_t rows = -1, columns = -1;
    assert_int_equal(npy_read_rows_file(path, first, count, &out, &rows, &columns, message,
                                        sizeof message), MDNMF_OK);
    assert_int_equal(rows, 5);
    assert_int_equal(columns, 3);
    assert_int_equal(out.m, 3);
    assert_int_equal(out.n, count);
    for (int64_t i = 0; i < 3 * count; i++)
        assert_true(out.data[i] == expected[3 * first + i]);
    mdnmf_matrix_free(&out);
}

static void test_read_rows(void **state)
{
    (void)state;
    float f32[15];
    double f64[15];
    unsigned char i16_big[30];
    for (int i = 0; i < 15; i++) {
        f32[i] = (float)(i * i) + 0.5f;
        f64[i] = f32[i];
    }
    float small[15];
    for (int i = 0; i < 15; i++) {
        small[i] = (float)(i * 7 - 20);
        const int16_t v = (int16_t)(i * 7 - 20);
        i16_big[2 * i] = (unsigned char)((uint16_t)v >> 8);
        i16_big[2 * i + 1] = (unsigned char)((uint16_t)v & 0xff);
    }
    char p32[128], p64[128], p16[128], path[128], message[256];
    write_rows_file("rows_f4.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (5, 3), }",
                    f32, sizeof f32, p32, sizeof p32);
    write_rows_file("rows_f8.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (5, 3), }",
                    f64, sizeof f64, p64, sizeof p64);
    write_rows_file("rows_i2.npy", "{'descr': '>i2', 'fortran_order': False, 'shape': (5, 3), }",
                    i16_big, sizeof i16_big, p16, sizeof p16);
    for (int64_t first = 0; first < 5; first++) {
        for (int64_t count = 1; first + count <= 5; count++) {
            check_rows(p32, first, count, f32);
            check_rows(p64, first, count, f32);
            check_rows(p16, first, count, small);
        }
    }
    /* count 0: the shape only. */
    mdnmf_matrix out;
    int64_t rows = 0, columns = 0;
    assert_int_equal(npy_read_rows_file(p64, 2, 0, &out, &rows, &columns, message, sizeof message),
                     MDNMF_OK);
    assert_true(rows == 5 && columns == 3 && out.data == NULL);
    /* Outside the array. */
    assert_int_equal(npy_read_rows_file(p32, 3, 3, &out, &rows, &columns, message, sizeof message),
                     MDNMF_ERR_ARGUMENT);
    assert_non_null(strstr(message, "outside"));
    assert_null(out.data);
    assert_int_equal(npy_read_rows_file(p32, -1, 1, &out, &rows, &columns, message, sizeof message),
                     MDNMF_ERR_ARGUMENT);
    /* Fortran order and 1-D arrays are refused, so is a truncated file
     * (whichever rows are asked for). */
    write_rows_file("rows_fortran.npy",
                    "{'descr': '<f4', 'fortran_order': True, 'shape': (5, 3), }", f32, sizeof f32,
                    path, sizeof path);
    assert_int_equal(npy_read_rows_file(path, 0, 1, &out, &rows, &columns, message, sizeof message),
                     MDNMF_ERR_FORMAT);
    assert_non_null(strstr(message, "C-order"));
    write_rows_file("rows_1d.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (15,), }",
                    f32, sizeof f32, path, sizeof path);
    assert_int_equal(npy_read_rows_file(path, 0, 1, &out, &rows, &columns, message, sizeof message),
                     MDNMF_ERR_FORMAT);
    write_rows_file("rows_short.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (5, 3), }",
                    f32, sizeof f32 - 4, path, sizeof path);
    assert_int_equal(npy_read_rows_file(path, 0, 1, &out, &rows, &columns, message, sizeof message),
                     MDNMF_ERR_FORMAT);
    assert_non_null(strstr(message, "truncated"));
    path_in_folder(path, sizeof path, "missing.npy");
    assert_int_equal(npy_read_rows_file(path, 0, 1, &out, &rows, &columns, message, sizeof message),
                     MDNMF_ERR_IO);
}

/* npy_read_elements_file (mdnmf-mpi's shard of --adv-weights): elements
 * [first, first + count) of a 1-D array of each dtype equal the same
 * elements of the whole array, as a count x 1 matrix; 2-D arrays, ranges
 * outside and truncated files are refused. */
static void test_read_elements(void **state)
{
    (void)state;
    float f32[7];
    double f64[7];
    for (int i = 0; i < 7; i++) {
        f32[i] = (float)(3 * i) + 0.25f;
        f64[i] = f32[i];
    }
    char p32[128], p64[128], path[128], message[256];
    write_rows_file("elements_f4.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (7,), }",
                    f32, sizeof f32, p32, sizeof p32);
    unsigned char big[56];
    for (int i = 0; i < 7; i++) {
        uint64_t bits;
        memcpy(&bits, &f64[i], 8);
        for (int b = 0; b < 8; b++)
            big[8 * i + b] = (unsigned char)(bits >> (56 - 8 * b));
    }
    write_rows_file("elements_f8.npy", "{'descr': '>f8', 'fortran_order': False, 'shape': (7,), }",
                    big, sizeof big, p64, sizeof p64);
    mdnmf_matrix out;
    int64_t length = -1;
    for (int64_t first = 0; first < 7; first++) {
        for (int64_t count = 1; first + count <= 7; count++) {
            const char *files[] = {p32, p64};
            for (int f = 0; f < 2; f++) {
                assert_int_equal(npy_read_elements_file(files[f], first, count, &out, &length,
                                                        message, sizeof message), MDNMF_OK);
                assert_int_equal(length, 7);
                assert_int_equal(out.m, count);
                assert_int_equal(out.n, 1);
                for (int64_t i = 0; i < count; i++)
                    assert_true(out.data[i] == f32[first + i]);
                mdnmf_matrix_free(&out);
            }
        }
    }
    assert_int_equal(npy_read_elements_file(p32, 0, 0, &out, &length, message, sizeof message),
                     MDNMF_OK);
    assert_true(length == 7 && out.data == NULL);
    assert_int_equal(npy_read_elements_file(p32, 5, 3, &out, &length, message, sizeof message),
                     MDNMF_ERR_ARGUMENT);
    assert_non_null(strstr(message, "outside"));
    assert_null(out.data);
    write_rows_file("elements_2d.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (7, 1), }",
                    f32, sizeof f32, path, sizeof path);
    assert_int_equal(npy_read_elements_file(path, 0, 1, &out, &length, message, sizeof message),
                     MDNMF_ERR_FORMAT);
    assert_non_null(strstr(message, "1-D"));
    write_rows_file("elements_short.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (7,), }",
                    f32, sizeof f32 - 4, path, sizeof path);
    assert_int_equal(npy_read_elements_file(path, 6, 1, &out, &length, message, sizeof message),
                     MDNMF_ERR_FORMAT);
    assert_non_null(strstr(message, "truncated"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_read_round_trip),
        cmocka_unit_test(test_write_arguments),
        cmocka_unit_test(test_write_missing_folder),
        cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_refused_prefixes),
        cmocka_unit_test(test_params_json_round_trip),
        cmocka_unit_test(test_params_json_under_comma_locale),
        cmocka_unit_test(test_params_json_reading),
        cmocka_unit_test(test_params_json_nested_objects),
        cmocka_unit_test(test_params_json_error_positions),
        cmocka_unit_test(test_text_arrays),
        cmocka_unit_test(test_model_round_trip),
        cmocka_unit_test(test_model_load_refusals),
        cmocka_unit_test(test_fuzzed_inputs),
        cmocka_unit_test(test_read_rows),
        cmocka_unit_test(test_read_elements),
    };
    return cmocka_run_group_tests(tests, make_folder, remove_folder);
}
