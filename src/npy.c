/* .npy files: reading any numeric 1-D/2-D array into float32, writing
 * float32 atomically, and the in-memory codec npz.c reuses (see npy.h). */
#define _XOPEN_SOURCE 700 /* realpath, with POSIX.1-2008 */

#include "npy.h"
#include "internal.h"
#include "linalg.h" /* advise_huge_pages */

#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const unsigned char npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

static int host_is_big_endian(void)
{
    const uint16_t probe = 1;
    unsigned char first;
    memcpy(&first, &probe, 1);
    return first == 0;
}

const char *npy_native_float32_descr(void)
{
    return host_is_big_endian() ? ">f4" : "<f4";
}

const char *npy_native_int64_descr(void)
{
    return host_is_big_endian() ? ">i8" : "<i8";
}

/* ------------------------------------------------------------ the header */

/* From the first `available` bytes, where the elements start: the length
 * of magic, version, length field and header text. */
int npy_header_length(const unsigned char *bytes, size_t available, size_t *length,
                      char *message, size_t size)
{
    if (available < 8 || memcmp(bytes, npy_magic, sizeof npy_magic) != 0) {
        message_printf(message, size, "not a .npy file (bad magic string)");
        return MDNMF_ERR_FORMAT;
    }
    const int major = bytes[6], minor = bytes[7];
    if (major < 1 || major > 3 || minor != 0) {
        message_printf(message, size, "unsupported .npy format version %d.%d", major, minor);
        return MDNMF_ERR_FORMAT;
    }
    /* Version 1.0 stores the header length in 2 bytes, 2.0 and 3.0 in 4. */
    const size_t field = major == 1 ? 2 : 4;
    if (available < 8 + field) {
        message_printf(message, size, "truncated .npy header");
        return MDNMF_ERR_FORMAT;
    }
    size_t text = 0;
    for (size_t i = field; i-- > 0;)
        text = (text << 8) | bytes[8 + i];
    if (text == 0 || text > NPY_MAX_HEADER_LENGTH) {
        message_printf(message, size, "absurd .npy header length %zu (corrupt file?)", text);
        return MDNMF_ERR_FORMAT;
    }
    *length = 8 + field + text;
    return MDNMF_OK;
}

/* A cursor over the header's Python dict literal. */
typedef struct header_cursor {
    const unsigned char *at;
    const unsigned char *end;
    char *message;
    size_t size;
} header_cursor;

static int header_fail(header_cursor *c, const char *what)
{
    message_printf(c->message, c->size, "malformed .npy header: %s", what);
    return MDNMF_ERR_FORMAT;
}

static void skip_space(header_cursor *c)
{
    while (c->at < c->end && (*c->at == ' ' || *c->at == '\t' || *c->at == '\n' || *c->at == '\r'))
        c->at++;
}

/* Consume `ch` (after spaces) if it is next. */
static int accept_char(header_cursor *c, char ch)
{
    skip_space(c);
    if (c->at < c->end && *c->at == (unsigned char)ch) {
        c->at++;
        return 1;
    }
    return 0;
}

/* A quoted Python string; its raw content in [*start, *start + *length). */
static int read_quoted(header_cursor *c, const unsigned char **start, size_t *length)
{
    skip_space(c);
    if (c->at >= c->end || (*c->at != '\'' && *c->at != '"'))
        return header_fail(c, "expected a quoted string");
    const unsigned char quote = *c->at++;
    *start = c->at;
    while (c->at < c->end && *c->at != quote) {
        if (*c->at == '\\' && c->at + 1 < c->end)
            c->at++;
        c->at++;
    }
    if (c->at >= c->end)
        return header_fail(c, "unterminated string");
    *length = (size_t)(c->at - *start);
    c->at++;
    return MDNMF_OK;
}

static int word_is(const unsigned char *start, size_t length, const char *word)
{
    return strlen(word) == length && memcmp(start, word, length) == 0;
}

/* Why a dtype kind is refused, or NULL if the kind is one we read. */
static const char *refused_kind_reason(char kind, int allow_unicode)
{
    switch (kind) {
    case 'f': case 'i': case 'u': case 'b':
        return NULL;
    case 'U':
        return allow_unicode ? NULL : "string arrays are not supported";
    case 'c':
        return "complex arrays are not supported";
    case 'O':
        return "object arrays are not supported (they need pickle)";
    case 'S': case 'a':
        return "string arrays are not supported";
    case 'V':
        return "structured (record) arrays are not supported";
    case 'M': case 'm':
        return "datetime arrays are not supported";
    default:
        return "unknown dtype";
    }
}

static int item_size_fits_kind(char kind, size_t item)
{
    switch (kind) {
    case 'f': return item == 2 || item == 4 || item == 8;
    case 'i': case 'u': return item == 1 || item == 2 || item == 4 || item == 8;
    case 'b': return item == 1;
    /* 'U': 4-byte characters, at least one (NumPy stores empty strings as
     * '<U1'); '<U0' elements take no bytes, so any count of them, however
     * absurd, would fit in none and cost a loop over the count. */
    default: return item >= 1;
    }
}

/* A descr such as '<f4', '|b1', '>i8' or '<U12'. */
static int parse_descr(header_cursor *c, const unsigned char *text, size_t length,
                       int allow_unicode, npy_header *h)
{
    char shown[40];
    snprintf(shown, sizeof shown, "%.*s", (int)(length < 32 ? length : 32), (const char *)text);
    size_t i = 0;
    char order = '|';
    if (i < length && (text[i] == '<' || text[i] == '>' || text[i] == '|' || text[i] == '='))
        order = (char)text[i++];
    if (i >= length) {
        message_printf(c->message, c->size, "unsupported dtype '%s'", shown);
        return MDNMF_ERR_FORMAT;
    }
    const char kind = (char)text[i++];
    const char *reason = refused_kind_reason(kind, allow_unicode);
    if (reason) {
        message_printf(c->message, c->size, "dtype '%s': %s", shown, reason);
        return MDNMF_ERR_FORMAT;
    }
    size_t number = 0, digits = 0;
    for (; i < length && text[i] >= '0' && text[i] <= '9' && digits < 9; i++, digits++)
        number = number * 10 + (size_t)(text[i] - '0');
    if (digits == 0 || i != length || !item_size_fits_kind(kind, number)) {
        message_printf(c->message, c->size, "unsupported dtype '%s'", shown);
        return MDNMF_ERR_FORMAT;
    }
    h->kind = (npy_kind)kind;
    h->item_size = kind == 'U' ? number * 4 : number;
    h->big_endian = order == '>' || (order == '=' && host_is_big_endian());
    return MDNMF_OK;
}

static int parse_descr_value(header_cursor *c, int allow_unicode, npy_header *h)
{
    skip_space(c);
    if (c->at < c->end && *c->at == '[') {
        message_printf(c->message, c->size, "structured (record) arrays are not supported");
        return MDNMF_ERR_FORMAT;
    }
    const unsigned char *text;
    size_t length;
    int status = read_quoted(c, &text, &length);
    return status ? status : parse_descr(c, text, length, allow_unicode, h);
}

static int parse_bool_value(header_cursor *c, int *value)
{
    skip_space(c);
    const unsigned char *start = c->at;
    while (c->at < c->end && ((*c->at >= 'a' && *c->at <= 'z') || (*c->at >= 'A' && *c->at <= 'Z')))
        c->at++;
    const size_t length = (size_t)(c->at - start);
    if (word_is(start, length, "True"))
        *value = 1;
    else if (word_is(start, length, "False"))
        *value = 0;
    else
        return header_fail(c, "fortran_order is neither True nor False");
    return MDNMF_OK;
}

/* A non-negative integer of a shape tuple (a Python 2 'L' suffix allowed). */
static int parse_dimension(header_cursor *c, int64_t *value)
{
    skip_space(c);
    uint64_t number = 0;
    int digits = 0;
    for (; c->at < c->end && *c->at >= '0' && *c->at <= '9'; c->at++, digits++) {
        const uint64_t digit = (uint64_t)(*c->at - '0');
        if (number > ((uint64_t)INT64_MAX - digit) / 10) {
            message_printf(c->message, c->size, "array shape is too large");
            return MDNMF_ERR_FORMAT;
        }
        number = number * 10 + digit;
    }
    if (digits == 0)
        return header_fail(c, "shape holds something other than non-negative integers");
    if (c->at < c->end && *c->at == 'L')
        c->at++;
    *value = (int64_t)number;
    return MDNMF_OK;
}

static int parse_shape_value(header_cursor *c, npy_header *h)
{
    if (!accept_char(c, '('))
        return header_fail(c, "shape is not a tuple");
    int ndim = 0;
    while (!accept_char(c, ')')) {
        int64_t dimension = 0;
        int status = parse_dimension(c, &dimension);
        if (status)
            return status;
        if (ndim < 2)
            h->shape[ndim] = dimension;
        ndim++;
        if (!accept_char(c, ',')) {
            if (!accept_char(c, ')'))
                return header_fail(c, "shape tuple is not closed");
            break;
        }
    }
    if (ndim > 2) {
        message_printf(c->message, c->size,
                       "%d-D arrays are not supported (at most 2 dimensions)", ndim);
        return MDNMF_ERR_FORMAT;
    }
    h->ndim = ndim;
    return MDNMF_OK;
}

/* count = product of the shape, and count * item_size, must fit in memory
 * sizes; so must the product of the non-zero dimensions (an empty array of
 * an absurd other dimension is as suspicious as a huge one). */
static int compute_sizes(header_cursor *c, npy_header *h)
{
    const uint64_t limit = (uint64_t)(SIZE_MAX < INT64_MAX ? SIZE_MAX : INT64_MAX);
    const uint64_t item = h->item_size ? h->item_size : 1;
    uint64_t count = 1, nonzero = 1;
    for (int i = 0; i < h->ndim; i++) {
        const uint64_t dimension = (uint64_t)h->shape[i];
        count *= dimension;
        if (dimension > 0) {
            if (nonzero > limit / item / dimension) {
                message_printf(c->message, c->size,
                               "array shape is too large (its byte count overflows)");
                return MDNMF_ERR_FORMAT;
            }
            nonzero *= dimension;
        }
    }
    h->count = (size_t)count;
    h->data_bytes = (size_t)count * h->item_size;
    return MDNMF_OK;
}

enum { KEY_DESCR = 1, KEY_FORTRAN = 2, KEY_SHAPE = 4 };

static int parse_entry(header_cursor *c, int allow_unicode, npy_header *h, int *seen)
{
    const unsigned char *key;
    size_t length;
    int status = read_quoted(c, &key, &length);
    if (status)
        return status;
    if (!accept_char(c, ':'))
        return header_fail(c, "expected ':' after a key");
    int which;
    if (word_is(key, length, "descr")) {
        which = KEY_DESCR;
        status = parse_descr_value(c, allow_unicode, h);
    } else if (word_is(key, length, "fortran_order")) {
        which = KEY_FORTRAN;
        status = parse_bool_value(c, &h->fortran_order);
    } else if (word_is(key, length, "shape")) {
        which = KEY_SHAPE;
        status = parse_shape_value(c, h);
    } else {
        return header_fail(c, "unknown key (only descr, fortran_order and shape are allowed)");
    }
    if (status)
        return status;
    if (*seen & which)
        return header_fail(c, "a key appears twice");
    *seen |= which;
    return MDNMF_OK;
}

int npy_parse_header(const unsigned char *bytes, size_t available, int allow_unicode,
                     npy_header *header, char *message, size_t size)
{
    size_t length;
    int status = npy_header_length(bytes, available, &length, message, size);
    if (status)
        return status;
    if (available < length) {
        message_printf(message, size, "truncated .npy header");
        return MDNMF_ERR_FORMAT;
    }
    const size_t text_start = bytes[6] == 1 ? 10 : 12;
    header_cursor c = {bytes + text_start, bytes + length, message, size};
    npy_header h;
    memset(&h, 0, sizeof h);
    h.data_offset = length;
    if (!accept_char(&c, '{'))
        return header_fail(&c, "it is not a dict");
    int seen = 0;
    while (!accept_char(&c, '}')) {
        status = parse_entry(&c, allow_unicode, &h, &seen);
        if (status)
            return status;
        if (!accept_char(&c, ',')) {
            if (!accept_char(&c, '}'))
                return header_fail(&c, "expected ',' or '}'");
            break;
        }
    }
    skip_space(&c);
    if (c.at != c.end)
        return header_fail(&c, "text after the dict");
    if (seen != (KEY_DESCR | KEY_FORTRAN | KEY_SHAPE))
        return header_fail(&c, "descr, fortran_order or shape is missing");
    status = compute_sizes(&c, &h);
    if (status)
        return status;
    *header = h;
    return MDNMF_OK;
}

/* -------------------------------------------------------------- elements */

/* The unsigned integer of `item` bytes at p in the given byte order. */
static uint64_t load_unsigned(const unsigned char *p, size_t item, int big_endian)
{
    uint64_t value = 0;
    if (big_endian)
        for (size_t i = 0; i < item; i++)
            value = (value << 8) | p[i];
    else
        for (size_t i = item; i-- > 0;)
            value = (value << 8) | p[i];
    return value;
}

/* Two's complement reinterpretation of the low `item` bytes. */
static int64_t as_signed(uint64_t bits, size_t item)
{
    if (item == 8) {
        int64_t value;
        memcpy(&value, &bits, sizeof value);
        return value;
    }
    const uint64_t sign = (uint64_t)1 << (8 * item - 1);
    return (int64_t)(bits ^ sign) - (int64_t)sign;
}

/* IEEE half precision to single: exact for every value, NaN payloads kept. */
static float half_to_float(uint16_t half)
{
    const uint32_t sign = (uint32_t)(half & 0x8000u) << 16;
    const uint32_t exponent = (half >> 10) & 0x1fu;
    const uint32_t mantissa = half & 0x3ffu;
    uint32_t bits;
    if (exponent == 0) {
        const float magnitude = (float)mantissa * (1.0f / 16777216.0f); /* m * 2^-24 */
        return sign ? -magnitude : magnitude;
    }
    if (exponent == 31)
        bits = sign | 0x7f800000u | (mantissa << 13);
    else
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

/* One element as float32, the cast NumPy's astype(np.float32) does. */
static float element_to_float(const npy_header *h, const unsigned char *p)
{
    const uint64_t bits = load_unsigned(p, h->item_size, h->big_endian);
    switch (h->kind) {
    case NPY_KIND_FLOAT:
        if (h->item_size == 2)
            return half_to_float((uint16_t)bits);
        if (h->item_size == 4) {
            const uint32_t narrow = (uint32_t)bits;
            float value;
            memcpy(&value, &narrow, sizeof value);
            return value;
        } else {
            double value;
            memcpy(&value, &bits, sizeof value);
            return (float)value; /* beyond float range: inf (IEC 60559) */
        }
    case NPY_KIND_INT:
        return (float)as_signed(bits, h->item_size);
    case NPY_KIND_UINT:
        return (float)bits;
    case NPY_KIND_BOOL:
        return bits != 0 ? 1.0f : 0.0f;
    default:
        return 0.0f; /* unicode never reaches numeric decoding */
    }
}

/* Decode `count` consecutive elements into out[0], out[stride], ... */
static void decode_run(const npy_header *h, const unsigned char *data, size_t count, float *out,
                       size_t stride)
{
    const int native_float32 = h->kind == NPY_KIND_FLOAT && h->item_size == 4
                               && h->big_endian == host_is_big_endian();
    if (native_float32 && stride == 1) {
        memcpy(out, data, count * sizeof *out);
        return;
    }
    for (size_t i = 0; i < count; i++)
        out[i * stride] = element_to_float(h, data + i * h->item_size);
}

/* Stored elements [first, first + count) of a numeric 1-D or 2-D array
 * (their bytes at `data`) as float32 in our layout, so a file can be
 * converted piece by piece. */
static void decode_elements(const npy_header *h, const unsigned char *data, size_t first,
                            size_t count, float *out)
{
    if (h->ndim < 2 || !h->fortran_order) {
        decode_run(h, data, count, out + first, 1);
        return;
    }
    /* Fortran order of shape (n, m): element [a][b] is stored at a + b n; we
     * want it at a m + b.  Each stored run of n is one strided row of ours. */
    const size_t n = (size_t)h->shape[0], m = (size_t)h->shape[1];
    while (count > 0) {
        const size_t a = first % n, b = first / n;
        const size_t run = n - a < count ? n - a : count;
        decode_run(h, data, run, out + a * m + b, m);
        data += run * h->item_size;
        first += run;
        count -= run;
    }
}

/* ------------------------------------------------------------ in memory */

static int require_data(const npy_header *h, size_t length, char *message, size_t size)
{
    if (length - h->data_offset < h->data_bytes) {
        message_printf(message, size,
                       "truncated .npy data: the header promises %zu bytes, there are %zu",
                       h->data_bytes, length - h->data_offset);
        return MDNMF_ERR_FORMAT;
    }
    return MDNMF_OK;
}

static int check_matrix_rank(const npy_header *h, char *message, size_t size)
{
    if (h->ndim == 0) {
        message_printf(message, size, "0-D arrays (scalars) are not supported");
        return MDNMF_ERR_FORMAT;
    }
    return MDNMF_OK;
}

/* Allocate `out` for the header's shape: (k,) -> k x 1, (n, m) -> m x n. */
static int allocate_matrix(const npy_header *h, mdnmf_matrix *out, char *message, size_t size)
{
    const size_t floats = h->count > 0 ? h->count : 1;
    if (floats > SIZE_MAX / sizeof(float)) {
        message_printf(message, size, "array shape is too large");
        return MDNMF_ERR_FORMAT;
    }
    float *data = malloc(floats * sizeof(float));
    if (!data) {
        message_printf(message, size, "out of memory for %zu values", h->count);
        return MDNMF_ERR_MEMORY;
    }
    /* The fits gather its columns in random order. */
    advise_huge_pages(data, floats * sizeof(float));
    out->m = h->ndim == 1 ? h->shape[0] : h->shape[1];
    out->n = h->ndim == 1 ? 1 : h->shape[0];
    out->data = data;
    return MDNMF_OK;
}

int npy_matrix_from_buffer(const unsigned char *bytes, size_t length, mdnmf_matrix *out,
                           char *message, size_t size)
{
    npy_header h;
    int status = npy_parse_header(bytes, length, 0, &h, message, size);
    if (!status)
        status = check_matrix_rank(&h, message, size);
    if (!status)
        status = require_data(&h, length, message, size);
    if (!status)
        status = allocate_matrix(&h, out, message, size);
    if (status)
        return status;
    decode_elements(&h, bytes + h.data_offset, 0, h.count, out->data);
    return MDNMF_OK;
}

int npy_int64_from_buffer(const unsigned char *bytes, size_t length, int64_t **values,
                          int64_t *count, char *message, size_t size)
{
    npy_header h;
    int status = npy_parse_header(bytes, length, 0, &h, message, size);
    if (status)
        return status;
    if (h.kind != NPY_KIND_INT && h.kind != NPY_KIND_UINT) {
        message_printf(message, size, "expected an integer array");
        return MDNMF_ERR_FORMAT;
    }
    if (h.ndim > 1) {
        message_printf(message, size, "expected a 1-D array, found %d dimensions", h.ndim);
        return MDNMF_ERR_FORMAT;
    }
    status = require_data(&h, length, message, size);
    if (status)
        return status;
    int64_t *result = malloc((h.count > 0 ? h.count : 1) * sizeof *result);
    if (!result) {
        message_printf(message, size, "out of memory for %zu values", h.count);
        return MDNMF_ERR_MEMORY;
    }
    const unsigned char *data = bytes + h.data_offset;
    for (size_t i = 0; i < h.count; i++) {
        const uint64_t bits = load_unsigned(data + i * h.item_size, h.item_size, h.big_endian);
        if (h.kind == NPY_KIND_UINT && bits > (uint64_t)INT64_MAX) {
            free(result);
            message_printf(message, size, "value %" PRIu64 " does not fit in int64", bits);
            return MDNMF_ERR_FORMAT;
        }
        result[i] = h.kind == NPY_KIND_INT ? as_signed(bits, h.item_size) : (int64_t)bits;
    }
    *values = result;
    *count = (int64_t)h.count;
    return MDNMF_OK;
}

/* The characters of each UTF-32 element, its trailing NULs dropped, as
 * UTF-8 through glibc's iconv (which refuses surrogates and code points
 * above U+10FFFF). */
static int utf32_to_utf8(const npy_header *h, const unsigned char *data, char *out,
                         size_t *written, char *message, size_t size)
{
    iconv_t to_utf8 = iconv_open("UTF-8", h->big_endian ? "UTF-32BE" : "UTF-32LE");
    if (to_utf8 == (iconv_t)-1) {
        message_printf(message, size, "cannot decode UTF-32 text: iconv: %s", strerror(errno));
        return errno == ENOMEM ? MDNMF_ERR_MEMORY : MDNMF_ERR_FORMAT;
    }
    char *out_at = out;
    size_t out_left = h->data_bytes, converted = 0;
    for (size_t e = 0; e < h->count && converted != (size_t)-1; e++) {
        const unsigned char *element = data + e * h->item_size;
        size_t used = h->item_size;
        while (used >= 4 && load_unsigned(element + used - 4, 4, h->big_endian) == 0)
            used -= 4;
        char *in_at = (char *)element; /* iconv's prototype is not const */
        converted = iconv(to_utf8, &in_at, &used, &out_at, &out_left);
        if (converted == (size_t)-1)
            message_printf(message, size, "invalid character U+%04" PRIX64 " in text",
                           load_unsigned((const unsigned char *)in_at, 4, h->big_endian));
    }
    iconv_close(to_utf8);
    *written = h->data_bytes - out_left;
    return converted == (size_t)-1 ? MDNMF_ERR_FORMAT : MDNMF_OK;
}

int npy_text_from_buffer(const unsigned char *bytes, size_t length, char **text,
                         size_t *text_length, char *message, size_t size)
{
    npy_header h;
    int status = npy_parse_header(bytes, length, 1, &h, message, size);
    if (status)
        return status;
    const int utf32 = h.kind == NPY_KIND_UNICODE;
    const int utf8 = h.kind == NPY_KIND_UINT && h.item_size == 1;
    if ((!utf32 && !utf8) || h.ndim > 1) {
        message_printf(message, size,
                       "expected text: a 0-D or 1-D unicode array or a 1-D uint8 array");
        return MDNMF_ERR_FORMAT;
    }
    status = require_data(&h, length, message, size);
    if (status)
        return status;
    /* UTF-8 never takes more bytes than UTF-32. */
    char *result = malloc(h.data_bytes + 1);
    if (!result) {
        message_printf(message, size, "out of memory for %zu bytes of text", h.data_bytes);
        return MDNMF_ERR_MEMORY;
    }
    size_t written = h.data_bytes;
    if (utf8)
        memcpy(result, bytes + h.data_offset, h.data_bytes);
    else
        status = utf32_to_utf8(&h, bytes + h.data_offset, result, &written, message, size);
    if (status) {
        free(result);
        return status;
    }
    result[written] = '\0';
    *text = result;
    *text_length = written;
    return MDNMF_OK;
}

/* -------------------------------------------------------------- writing */

/* A version 1.0 header into `out`; its length, or 0 if it does not fit. */
static size_t npy_format_header(unsigned char *out, size_t capacity, const char *descr,
                                int ndim, const int64_t *shape)
{
    char shape_text[64];
    if (ndim == 0)
        snprintf(shape_text, sizeof shape_text, "()");
    else if (ndim == 1)
        snprintf(shape_text, sizeof shape_text, "(%" PRId64 ",)", shape[0]);
    else
        snprintf(shape_text, sizeof shape_text, "(%" PRId64 ", %" PRId64 ")", shape[0], shape[1]);
    char dict[160];
    const int text = snprintf(dict, sizeof dict,
                              "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr,
                              shape_text);
    if (text < 0 || (size_t)text >= sizeof dict)
        return 0;
    /* Spaces and a final newline make the whole header a multiple of 64
     * bytes, as NumPy writes it (so the data can be memory-mapped). */
    const size_t prefix = 10, body = (size_t)text + 1;
    const size_t padding = 64 - (prefix + body) % 64;
    const size_t total = prefix + body + padding;
    if (total > capacity || total - prefix > 65535)
        return 0;
    memcpy(out, npy_magic, sizeof npy_magic);
    out[6] = 1;
    out[7] = 0;
    out[8] = (unsigned char)((total - prefix) & 0xff);
    out[9] = (unsigned char)((total - prefix) >> 8);
    memcpy(out + prefix, dict, (size_t)text);
    memset(out + prefix + text, ' ', padding);
    out[total - 1] = '\n';
    return total;
}

unsigned char *npy_serialize(const char *descr, int ndim, const int64_t *shape,
                             const void *data, size_t data_bytes, size_t *length)
{
    unsigned char header[256];
    const size_t header_length = npy_format_header(header, sizeof header, descr, ndim, shape);
    if (header_length == 0 || data_bytes > SIZE_MAX - header_length)
        return NULL;
    unsigned char *image = malloc(header_length + data_bytes);
    if (!image)
        return NULL;
    memcpy(image, header, header_length);
    if (data_bytes > 0)
        memcpy(image + header_length, data, data_bytes);
    *length = header_length + data_bytes;
    return image;
}

unsigned char *npy_serialize_text(const char *text, size_t *length)
{
    const size_t bytes = strlen(text);
    /* UTF-32 takes at most four bytes per byte of UTF-8. */
    char *utf32 = bytes < SIZE_MAX / 4 ? malloc(4 * bytes + 4) : NULL;
    char *in_at = (char *)text, *out_at = utf32;
    size_t in_left = bytes, out_left = 4 * bytes;
    iconv_t to_utf32 = iconv_open("UTF-32LE", "UTF-8");
    const int converted = utf32 && to_utf32 != (iconv_t)-1
                          && iconv(to_utf32, &in_at, &in_left, &out_at, &out_left) != (size_t)-1;
    if (to_utf32 != (iconv_t)-1)
        iconv_close(to_utf32);
    const size_t characters = converted ? (size_t)(out_at - utf32) / 4 : 0;
    char descr[32];
    snprintf(descr, sizeof descr, "<U%zu", characters);
    unsigned char *image =
        converted ? npy_serialize(descr, 0, NULL, utf32, characters * 4, length) : NULL;
    free(utf32);
    return image;
}

/* ------------------------------------------------------------------ files */

static const char *system_reason(int error, char *buffer, size_t length)
{
    if (strerror_r(error, buffer, length) != 0)
        snprintf(buffer, length, "error %d", error);
    return buffer;
}

/* The folder part of `path` ("." if it has none) into `folder`. */
static void folder_of(const char *path, char *folder, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(folder, size, ".");
    else if (slash == path)
        snprintf(folder, size, "/");
    else
        snprintf(folder, size, "%.*s", (int)(slash - path), path);
}

/* Create a new, empty temporary file next to `path`, with the permissions
 * of any new file (0666 less the umask, unlike mkstemp's 0600). */
static int create_temporary(const char *path, char *temporary, size_t capacity, int *fd,
                            char *message, size_t size)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    const unsigned long nonce = (unsigned long)now.tv_nsec ^ ((unsigned long)now.tv_sec << 20);
    for (unsigned long attempt = 0; attempt < 100; attempt++) {
        const int n = snprintf(temporary, capacity, "%s.tmp.%ld.%lx", path, (long)getpid(),
                               nonce + attempt * 7919);
        if (n < 0 || (size_t)n >= capacity) {
            message_printf(message, size, "path is too long: '%s'", path);
            return MDNMF_ERR_IO;
        }
        *fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (*fd >= 0)
            return MDNMF_OK;
        if (errno != EEXIST)
            break;
    }
    const int error = errno;
    char reason[128], folder[4096];
    folder_of(path, folder, sizeof folder);
    struct stat info;
    const int folder_missing = stat(folder, &info) != 0 || !S_ISDIR(info.st_mode);
    if ((error == ENOENT || error == ENOTDIR) && folder_missing)
        message_printf(message, size, "cannot write '%s': folder '%s' does not exist", path,
                       folder);
    else
        message_printf(message, size, "cannot write '%s': %s", path,
                       system_reason(error, reason, sizeof reason));
    return MDNMF_ERR_IO;
}

static int write_chunks(FILE *file, const file_chunk *chunks, int count)
{
    for (int i = 0; i < count; i++) {
        const size_t length = chunks[i].length;
        if (length > 0 && fwrite(chunks[i].bytes, 1, length, file) != length)
            return -1;
    }
    return 0;
}

/* What a non-regular file is, for the message that refuses it. */
static const char *file_kind(mode_t mode)
{
    return S_ISDIR(mode)    ? "a folder"
         : S_ISFIFO(mode)   ? "a FIFO (named pipe)"
         : S_ISCHR(mode)    ? "a character device"
         : S_ISBLK(mode)    ? "a block device"
         : S_ISSOCK(mode)   ? "a socket"
                            : "not a regular file";
}

/* The file a finished output is renamed onto, into *target (malloc'ed):
 * `path` itself when it does not exist or is a regular file, or the regular
 * file a symbolic link points to (so the link stays a link and its target
 * gets the new contents).  Renaming over a FIFO, a device or a socket would
 * replace it by a regular file, so those are refused (MDNMF_ERR_IO), as
 * are links to them and links to nothing. */
static int resolve_destination(const char *path, char **target, char *message, size_t size)
{
    struct stat link_info, info;
    *target = NULL;
    if (lstat(path, &link_info) != 0 || S_ISREG(link_info.st_mode)) {
        *target = strdup(path); /* missing: created; errors show then */
    } else {
        const int is_link = S_ISLNK(link_info.st_mode);
        if (is_link && stat(path, &info) != 0) {
            message_printf(message, size, "cannot write '%s': it is a symbolic link to a "
                           "missing file: remove the link or give another path", path);
            return MDNMF_ERR_IO;
        }
        const mode_t mode = is_link ? info.st_mode : link_info.st_mode;
        if (!S_ISREG(mode)) {
            message_printf(message, size, "cannot write '%s': it is %s%s, not a regular file: "
                           "give the path of a file", path, is_link ? "a link to " : "",
                           file_kind(mode));
            return MDNMF_ERR_IO;
        }
        *target = realpath(path, NULL);
        if (!*target && errno != ENOMEM) {
            char reason[128];
            message_printf(message, size, "cannot write '%s': cannot follow its link (%s)",
                           path, system_reason(errno, reason, sizeof reason));
            return MDNMF_ERR_IO;
        }
    }
    if (!*target) {
        message_printf(message, size, "out of memory");
        return MDNMF_ERR_MEMORY;
    }
    return MDNMF_OK;
}

int mdnmf_output_target(const char *path, char **target, mdnmf_error *error)
{
    char message[256] = "";
    int status = path && target ? resolve_destination(path, target, message, sizeof message)
                                : MDNMF_ERR_ARGUMENT;
    if (status == MDNMF_ERR_ARGUMENT)
        snprintf(message, sizeof message, "path or target is NULL");
    return error_report(error, status, message);
}

int file_write_atomic(const char *given, const file_chunk *chunks, int count, char *message,
                      size_t size)
{
    char *path;
    const int resolved = resolve_destination(given, &path, message, size);
    if (resolved != MDNMF_OK)
        return resolved;
    const size_t capacity = strlen(path) + 64;
    char *temporary = malloc(capacity);
    if (!temporary) {
        free(path);
        message_printf(message, size, "out of memory");
        return MDNMF_ERR_MEMORY;
    }
    int fd;
    int status = create_temporary(path, temporary, capacity, &fd, message, size);
    if (status) {
        free(temporary);
        free(path);
        return status;
    }
    char reason[128];
    FILE *file = fdopen(fd, "wb");
    int failed = !file || write_chunks(file, chunks, count) != 0;
    int error = errno;
    if (file) {
        /* On disk before the rename: otherwise a crash soon after it can
         * leave an empty file where the previous version was. */
        if (!failed && (fflush(file) != 0 || fsync(fileno(file)) != 0)) {
            failed = 1;
            error = errno;
        }
        if (fclose(file) != 0 && !failed) {
            failed = 1;
            error = errno;
        }
    } else {
        close(fd);
    }
    if (failed) {
        message_printf(message, size, "cannot write '%s': %s", given,
                       system_reason(error, reason, sizeof reason));
    } else if (rename(temporary, path) != 0) {
        failed = 1;
        message_printf(message, size, "cannot write '%s' (renaming the temporary file): %s",
                       given, system_reason(errno, reason, sizeof reason));
    }
    if (failed)
        unlink(temporary);
    free(temporary);
    free(path);
    return failed ? MDNMF_ERR_IO : MDNMF_OK;
}

void mdnmf_matrix_free(mdnmf_matrix *matrix)
{
    if (!matrix)
        return;
    free(matrix->data);
    memset(matrix, 0, sizeof *matrix);
}

static int write_npy_file(const char *path, const float *data, int64_t m, int64_t n,
                          char *message, size_t size)
{
    if (!path || m < 0 || n < 0) {
        message_printf(message, size, "mdnmf_npy_write: path is NULL or a dimension is negative");
        return MDNMF_ERR_ARGUMENT;
    }
    if (n > 0 && (uint64_t)m > (uint64_t)(SIZE_MAX / sizeof(float)) / (uint64_t)n) {
        message_printf(message, size, "mdnmf_npy_write: %" PRId64 " x %" PRId64 " is too large",
                       m, n);
        return MDNMF_ERR_ARGUMENT;
    }
    const size_t data_bytes = (size_t)m * (size_t)n * sizeof(float);
    if (!data && data_bytes > 0) {
        message_printf(message, size, "mdnmf_npy_write: data is NULL");
        return MDNMF_ERR_ARGUMENT;
    }
    const int64_t shape[2] = {n, m};
    unsigned char header[256];
    const size_t header_length = npy_format_header(header, sizeof header,
                                                   npy_native_float32_descr(), 2, shape);
    const file_chunk chunks[2] = {{header, header_length}, {data, data_bytes}};
    return file_write_atomic(path, chunks, 2, message, size);
}

int mdnmf_npy_write(const char *path, const float *data, int64_t m, int64_t n, mdnmf_error *error)
{
    char message[MDNMF_ERROR_MESSAGE_SIZE] = "";
    int status = write_npy_file(path, data, m, n, message, sizeof message);
    return error_report(error, status, message);
}

/* ------------------------------------------------------------------ reading */

/* Read exactly `length` bytes; 1 short of it at end of file. */
static int read_exact(FILE *file, void *buffer, size_t length, size_t *got)
{
    *got = length > 0 ? fread(buffer, 1, length, file) : 0;
    return *got == length ? 0 : ferror(file) ? -1 : 1;
}

static int read_failure(const char *path, FILE *file, char *message, size_t size)
{
    char reason[128];
    if (ferror(file)) {
        message_printf(message, size, "cannot read '%s': %s", path,
                       system_reason(errno, reason, sizeof reason));
        return MDNMF_ERR_IO;
    }
    message_printf(message, size, "'%s' is truncated", path);
    return MDNMF_ERR_FORMAT;
}

/* The header of an open .npy file: magic, version, length, then the dict. */
static int read_header(FILE *file, const char *path, npy_header *h, char *message, size_t size)
{
    unsigned char prefix[NPY_PREFIX_MAX];
    char inner[256];
    size_t got, more, length;
    if (read_exact(file, prefix, 10, &got) < 0)
        return read_failure(path, file, message, size);
    /* Versions 2.0 and 3.0 have a 4-byte length: two more bytes. */
    if (got == 10 && prefix[6] != 1 && read_exact(file, prefix + 10, 2, &more) >= 0)
        got += more;
    int status = npy_header_length(prefix, got, &length, inner, sizeof inner);
    if (status) {
        message_printf(message, size, "'%s': %s", path, inner);
        return status;
    }
    unsigned char *bytes = malloc(length);
    if (!bytes) {
        message_printf(message, size, "out of memory");
        return MDNMF_ERR_MEMORY;
    }
    const size_t have = prefix[6] == 1 ? 10 : 12;
    memcpy(bytes, prefix, have);
    if (read_exact(file, bytes + have, length - have, &got) != 0) {
        free(bytes);
        return read_failure(path, file, message, size);
    }
    status = npy_parse_header(bytes, length, 0, h, inner, sizeof inner);
    if (!status)
        status = check_matrix_rank(h, inner, sizeof inner);
    free(bytes);
    if (status)
        message_printf(message, size, "'%s': %s", path, inner);
    return status;
}

/* A regular file has a size to check the header against; a pipe or a
 * device does not. */
static int is_regular_file(FILE *file, struct stat *info)
{
    return fstat(fileno(file), info) == 0 && S_ISREG(info->st_mode);
}

/* A regular file shorter than its header promises is refused before the
 * (possibly huge) allocation. */
static int check_file_size(const struct stat *info, const char *path, const npy_header *h,
                           char *message, size_t size)
{
    const uint64_t available = (uint64_t)info->st_size > h->data_offset
                                   ? (uint64_t)info->st_size - h->data_offset : 0;
    if (available < h->data_bytes) {
        message_printf(message, size,
                       "'%s' is truncated: the header promises %zu data bytes, the file has %"
                       PRIu64, path, h->data_bytes, available);
        return MDNMF_ERR_FORMAT;
    }
    return MDNMF_OK;
}

/* Bytes read at once when elements need converting: the peak memory of
 * reading stays the float32 result plus this, whatever the file's dtype.  A
 * multiple of every item size. */
#define CONVERT_BLOCK ((size_t)1 << 20)

static int report_short_read(const char *path, FILE *file, int short_read, const npy_header *h,
                             size_t got, char *message, size_t size)
{
    if (short_read < 0)
        return read_failure(path, file, message, size);
    message_printf(message, size,
                   "'%s' is truncated: the header promises %zu data bytes, the file has %zu",
                   path, h->data_bytes, got);
    return MDNMF_ERR_FORMAT;
}

/* Native float32 in C order is our layout: read straight into the result. */
static int read_direct(FILE *file, const char *path, const npy_header *h, float *out,
                       char *message, size_t size)
{
    size_t got;
    const int short_read = read_exact(file, out, h->data_bytes, &got);
    return short_read ? report_short_read(path, file, short_read, h, got, message, size)
                      : MDNMF_OK;
}

/* Anything else is converted block by block. */
static int read_converted(FILE *file, const char *path, const npy_header *h, float *out,
                          char *message, size_t size)
{
    const size_t block = h->data_bytes < CONVERT_BLOCK ? h->data_bytes : CONVERT_BLOCK;
    unsigned char *raw = malloc(block ? block : 1);
    if (!raw) {
        message_printf(message, size, "'%s': out of memory for %zu bytes", path, block);
        return MDNMF_ERR_MEMORY;
    }
    int status = MDNMF_OK;
    size_t done = 0;
    while (done < h->data_bytes && status == MDNMF_OK) {
        const size_t want = h->data_bytes - done < block ? h->data_bytes - done : block;
        size_t got;
        const int short_read = read_exact(file, raw, want, &got);
        if (short_read)
            status = report_short_read(path, file, short_read, h, done + got, message, size);
        else
            decode_elements(h, raw, done / h->item_size, want / h->item_size, out);
        done += want;
    }
    free(raw);
    return status;
}

/* A pipe's bytes cannot be counted before they are read: they are read
 * into a buffer that grows with what arrives (so a header promising
 * terabytes over a few bytes costs a few bytes), then converted. */
static int read_stream(FILE *file, const char *path, const npy_header *h, mdnmf_matrix *out,
                       char *message, size_t size)
{
    unsigned char *raw = NULL;
    size_t have = 0, capacity = 0;
    int status = MDNMF_OK;
    while (have < h->data_bytes && status == MDNMF_OK) {
        const size_t want = h->data_bytes - have < CONVERT_BLOCK ? h->data_bytes - have
                                                                 : CONVERT_BLOCK;
        if (have + want > capacity) {
            capacity = 2 * capacity > have + want ? 2 * capacity : have + want;
            if (capacity > h->data_bytes)
                capacity = h->data_bytes;
            unsigned char *bigger = realloc(raw, capacity);
            if (!bigger) {
                message_printf(message, size, "'%s': out of memory after %zu bytes", path, have);
                status = MDNMF_ERR_MEMORY;
                break;
            }
            raw = bigger;
        }
        size_t got;
        const int short_read = read_exact(file, raw + have, want, &got);
        have += got;
        if (short_read)
            status = report_short_read(path, file, short_read, h, have, message, size);
    }
    if (status == MDNMF_OK) {
        char inner[128];
        status = allocate_matrix(h, out, inner, sizeof inner);
        if (status)
            message_printf(message, size, "'%s': %s", path, inner);
        else if (h->count > 0) /* an empty array read nothing: raw is NULL */
            decode_elements(h, raw, 0, h->count, out->data);
    }
    free(raw);
    return status;
}

static int read_elements(FILE *file, const char *path, const npy_header *h, mdnmf_matrix *out,
                         char *message, size_t size)
{
    char inner[128];
    struct stat info;
    if (!is_regular_file(file, &info))
        return read_stream(file, path, h, out, message, size);
    int status = check_file_size(&info, path, h, message, size);
    if (status)
        return status;
    status = allocate_matrix(h, out, inner, sizeof inner);
    if (status) {
        message_printf(message, size, "'%s': %s", path, inner);
        return status;
    }
    const int direct = h->kind == NPY_KIND_FLOAT && h->item_size == 4
                       && h->big_endian == host_is_big_endian()
                       && (h->ndim < 2 || !h->fortran_order);
    status = direct ? read_direct(file, path, h, out->data, message, size)
                    : read_converted(file, path, h, out->data, message, size);
    if (status)
        mdnmf_matrix_free(out);
    return status;
}

/* `path` opened for reading, or NULL with "cannot open" and the system's
 * reason in message. */
static FILE *open_for_reading(const char *path, char *message, size_t size)
{
    FILE *file = fopen(path, "rb");
    if (!file) {
        char reason[128];
        message_printf(message, size, "cannot open '%s': %s", path,
                       system_reason(errno, reason, sizeof reason));
    }
    return file;
}

static int read_npy_file(const char *path, mdnmf_matrix *out, char *message, size_t size)
{
    if (!path || !out) {
        message_printf(message, size, "mdnmf_npy_read: path or out is NULL");
        return MDNMF_ERR_ARGUMENT;
    }
    memset(out, 0, sizeof *out);
    FILE *file = open_for_reading(path, message, size);
    if (!file)
        return MDNMF_ERR_IO;
    npy_header h;
    int status = read_header(file, path, &h, message, size);
    if (!status)
        status = read_elements(file, path, &h, out, message, size);
    fclose(file);
    return status;
}

/* ------------------------------------------------------- row-range reads */

/* The header of a C-order array of `ndim` dimensions in a regular file,
 * for range reads: other layouts would need a gather, pipes cannot seek. */
static int read_range_header(FILE *file, const char *path, int ndim, npy_header *h,
                             char *message, size_t size)
{
    int status = read_header(file, path, h, message, size);
    if (status)
        return status;
    struct stat info;
    if (h->ndim != ndim || (ndim == 2 && h->fortran_order) || !is_regular_file(file, &info)) {
        message_printf(message, size, ndim == 2
                           ? "'%s': row ranges need a 2-D C-order array in a regular file"
                           : "'%s': element ranges need a 1-D array in a regular file",
                       path);
        return MDNMF_ERR_FORMAT;
    }
    return check_file_size(&info, path, h, message, size);
}

/* Rows [first, first + count) of the array whose header `h` was read
 * (a 1-D array's rows are its elements), read as an array of their own:
 * the readers above see a smaller file that starts at row `first`. */
static int read_row_range(FILE *file, const char *path, const npy_header *h, int64_t first,
                          int64_t count, mdnmf_matrix *out, char *message, size_t size)
{
    if (first < 0 || first > h->shape[0] || count > h->shape[0] - first) {
        message_printf(message, size, "'%s': rows [%" PRId64 ", %" PRId64
                       ") are outside its %" PRId64 " rows", path, first, first + count,
                       h->shape[0]);
        return MDNMF_ERR_ARGUMENT;
    }
    const size_t row_elements = h->ndim == 1 ? 1 : (size_t)h->shape[1];
    const size_t row_bytes = row_elements * h->item_size;
    npy_header part = *h;
    part.shape[0] = count;
    part.count = (size_t)count * row_elements;
    part.data_bytes = part.count * h->item_size;
    char inner[128];
    int status;
    if (fseeko(file, (off_t)(h->data_offset + (size_t)first * row_bytes), SEEK_SET) != 0)
        return read_failure(path, file, message, size);
    if ((status = allocate_matrix(&part, out, inner, sizeof inner)) != 0) {
        message_printf(message, size, "'%s': %s", path, inner);
        return status;
    }
    const int direct = h->kind == NPY_KIND_FLOAT && h->item_size == 4
                       && h->big_endian == host_is_big_endian();
    status = direct ? read_direct(file, path, &part, out->data, message, size)
                    : read_converted(file, path, &part, out->data, message, size);
    if (status)
        mdnmf_matrix_free(out);
    return status;
}

int npy_read_rows_file(const char *path, int64_t first, int64_t count, mdnmf_matrix *out,
                       int64_t *rows, int64_t *columns, char *message, size_t size)
{
    memset(out, 0, sizeof *out);
    FILE *file = open_for_reading(path, message, size);
    if (!file)
        return MDNMF_ERR_IO;
    npy_header h;
    int status = read_range_header(file, path, 2, &h, message, size);
    if (!status) {
        *rows = h.shape[0];
        *columns = h.shape[1];
    }
    if (!status && count > 0)
        status = read_row_range(file, path, &h, first, count, out, message, size);
    fclose(file);
    return status;
}

int npy_read_elements_file(const char *path, int64_t first, int64_t count, mdnmf_matrix *out,
                           int64_t *length, char *message, size_t size)
{
    memset(out, 0, sizeof *out);
    FILE *file = open_for_reading(path, message, size);
    if (!file)
        return MDNMF_ERR_IO;
    npy_header h;
    int status = read_range_header(file, path, 1, &h, message, size);
    if (!status)
        *length = h.shape[0];
    if (!status && count > 0)
        status = read_row_range(file, path, &h, first, count, out, message, size);
    fclose(file);
    return status;
}

int mdnmf_npy_read(const char *path, mdnmf_matrix *out, mdnmf_error *error)
{
    char message[MDNMF_ERROR_MESSAGE_SIZE] = "";
    int status = read_npy_file(path, out, message, sizeof message);
    return error_report(error, status, message);
}
