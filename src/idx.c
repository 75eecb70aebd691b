/* IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed.
 *
 * Layout: a 4-byte magic {0, 0, dtype, ndim}, ndim big-endian uint32
 * dimensions, then the items row-major.  Only unsigned bytes (dtype 0x08)
 * with 1 dimension (labels) or 3 (images: count x rows x cols) are read.
 *
 * A file starting with the gzip magic (1f 8b) is decompressed with zlib's
 * inflate; anything else is read as it is.  zlib's gzread would do both, but
 * it accepts a gzip file cut exactly after its compressed data (the CRC-32
 * and length trailer missing) as complete; driving inflate ourselves makes
 * every gzip stream end at a checked trailer.
 *
 * Choices:
 *   - bytes after the last declared item are refused (MDNMF_ERR_FORMAT): the
 *     dimensions must describe the whole file.  Reading on past the last
 *     item is also what makes inflate check the gzip trailer.
 *   - concatenated gzip members are one stream; non-gzip bytes after a
 *     complete gzip member are ignored, as gzip(1) does.
 *   - the data buffer grows with what was actually read rather than what the
 *     header claims, so a corrupt header cannot make us allocate a huge
 *     buffer for a small file.
 *   - an IDX file of zero items is a valid, empty matrix (n = 0). */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define IDX_UBYTE 0x08
/* At most 2^40 items (a terabyte): anything larger is a corrupt header. */
#define IDX_MAX_ITEMS ((uint64_t)1 << 40)
/* Bytes read from the file, and items converted, per step. */
#define IDX_CHUNK (1 << 16)

/* ------------------------------------------------------- byte source */

/* The file's bytes, or the decompressed bytes of a gzip file, and where
 * failures are reported. */
typedef struct byte_source {
    FILE *file;
    const char *path;
    char *message;
    size_t size;
    unsigned char input[IDX_CHUNK]; /* read from the file, not yet used */
    size_t input_start, input_end;
    int file_ended;
    int compressed;
    z_stream inflater;   /* compressed only */
    int member_ended;    /* the current gzip member ended at its trailer */
    int data_ended;      /* no more bytes: end of file or trailing garbage */
} byte_source;

/* strerror is not thread-safe; the XSI strerror_r is. */
static const char *system_reason(int error, char *buffer, size_t length)
{
    if (strerror_r(error, buffer, length) != 0)
        snprintf(buffer, length, "error %d", error);
    return buffer;
}

static int io_failure(const byte_source *s, const char *what, int error)
{
    char reason[128];
    message_printf(s->message, s->size, "cannot %s '%s': %s", what, s->path,
                   system_reason(error, reason, sizeof reason));
    return MDNMF_ERR_IO;
}

static size_t input_available(const byte_source *s)
{
    return s->input_end - s->input_start;
}

/* Make at least `wanted` unread bytes available if the file has them: moves
 * what is left to the front of the buffer and reads more. */
static int fill_input(byte_source *s, size_t wanted)
{
    const size_t left = input_available(s);
    if (left >= wanted || s->file_ended)
        return MDNMF_OK;
    memmove(s->input, s->input + s->input_start, left);
    s->input_start = 0;
    s->input_end = left;
    while (s->input_end < wanted && !s->file_ended) {
        const size_t got = fread(s->input + s->input_end, 1, sizeof s->input - s->input_end,
                                 s->file);
        s->input_end += got;
        if (got == 0) {
            if (ferror(s->file))
                return io_failure(s, "read", errno);
            s->file_ended = 1;
        }
    }
    return MDNMF_OK;
}

static int starts_with_gzip_magic(const byte_source *s)
{
    return input_available(s) >= 2 && s->input[s->input_start] == 0x1f
           && s->input[s->input_start + 1] == 0x8b;
}

static int corrupt_gzip(const byte_source *s, const char *detail)
{
    message_printf(s->message, s->size, "'%s': corrupt or truncated gzip data (%s)", s->path,
                   detail);
    return MDNMF_ERR_FORMAT;
}

/* After a gzip member: another member, or the end (trailing non-gzip
 * bytes are ignored). */
static int next_member(byte_source *s)
{
    int status = fill_input(s, 2);
    if (status)
        return status;
    if (!starts_with_gzip_magic(s)) {
        s->data_ended = 1;
        return MDNMF_OK;
    }
    if (inflateReset(&s->inflater) != Z_OK)
        return corrupt_gzip(s, "cannot restart the decoder");
    s->member_ended = 0;
    return MDNMF_OK;
}

/* One inflate step into `out`; *produced is how many bytes came. */
static int inflate_step(byte_source *s, unsigned char *out, size_t length, size_t *produced)
{
    int status = fill_input(s, 1);
    if (status)
        return status;
    if (input_available(s) == 0)
        return corrupt_gzip(s, "unexpected end of file");
    z_stream *z = &s->inflater;
    const size_t available = input_available(s);
    z->next_in = s->input + s->input_start;
    z->avail_in = (uInt)available;
    z->next_out = out;
    z->avail_out = (uInt)(length < IDX_CHUNK ? length : IDX_CHUNK);
    const uInt room = z->avail_out;
    const int result = inflate(z, Z_NO_FLUSH);
    s->input_start += available - z->avail_in;
    *produced = room - z->avail_out;
    switch (result) {
    case Z_STREAM_END:
        s->member_ended = 1;
        return MDNMF_OK;
    case Z_OK:
    case Z_BUF_ERROR: /* no progress without more input: the next step reads */
        return MDNMF_OK;
    case Z_MEM_ERROR:
        message_printf(s->message, s->size, "'%s': out of memory while decompressing", s->path);
        return MDNMF_ERR_MEMORY;
    default:
        return corrupt_gzip(s, z->msg ? z->msg : "invalid data");
    }
}

/* Up to `length` bytes; *got is how many (fewer only at the end). */
static int source_read(byte_source *s, unsigned char *out, size_t length, size_t *got)
{
    *got = 0;
    int status = MDNMF_OK;
    while (!status && *got < length && !s->data_ended) {
        size_t produced = 0;
        if (!s->compressed) {
            status = fill_input(s, 1);
            produced = input_available(s) < length - *got ? input_available(s) : length - *got;
            memcpy(out + *got, s->input + s->input_start, produced);
            s->input_start += produced;
            s->data_ended = !status && produced == 0;
        } else if (s->member_ended) {
            status = next_member(s);
        } else {
            status = inflate_step(s, out + *got, length - *got, &produced);
        }
        *got += produced;
    }
    return status;
}

static int source_open(byte_source *s, const char *path, char *message, size_t size)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    s->message = message;
    s->size = size;
    s->file = fopen(path, "rb");
    if (!s->file)
        return io_failure(s, "open", errno);
    int status = fill_input(s, 2);
    if (status)
        return status;
    if (starts_with_gzip_magic(s)) {
        /* 16 + MAX_WBITS: a gzip wrapper, whose CRC-32 and length inflate checks. */
        if (inflateInit2(&s->inflater, 16 + MAX_WBITS) != Z_OK) {
            message_printf(message, size, "'%s': out of memory for the gzip decoder", path);
            return MDNMF_ERR_MEMORY;
        }
        s->compressed = 1;
    }
    return MDNMF_OK;
}

static void source_close(byte_source *s)
{
    if (s->compressed)
        inflateEnd(&s->inflater);
    if (s->file)
        fclose(s->file);
}

/* ------------------------------------------------------------ header */

typedef struct idx_header {
    int dtype;
    int ndim;
    uint32_t dims[3];
    int64_t m; /* values per item: rows * cols, or 1 for labels */
    int64_t n; /* items */
} idx_header;

static const char *dtype_name(int dtype)
{
    switch (dtype) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "16-bit integer";
    case 0x0C: return "32-bit integer";
    case 0x0D: return "32-bit float";
    case 0x0E: return "64-bit float";
    }
    return NULL;
}

static int truncated(const byte_source *s, const char *what)
{
    message_printf(s->message, s->size, "'%s' is truncated (%s)", s->path, what);
    return MDNMF_ERR_FORMAT;
}

static uint32_t big_endian_u32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static int check_magic(const byte_source *s, const unsigned char magic[4], idx_header *h)
{
    h->dtype = magic[2];
    h->ndim = magic[3];
    const char *type = dtype_name(h->dtype);
    if (magic[0] != 0 || magic[1] != 0 || !type || h->ndim == 0) {
        message_printf(s->message, s->size,
                       "'%s' is not an IDX file (magic bytes %02x %02x %02x %02x; expected "
                       "00 00 08 01 for labels or 00 00 08 03 for images)",
                       s->path, magic[0], magic[1], magic[2], magic[3]);
        return MDNMF_ERR_FORMAT;
    }
    if (h->dtype != IDX_UBYTE) {
        message_printf(s->message, s->size,
                       "'%s': IDX element type 0x%02x (%s) is not supported: only unsigned "
                       "bytes (0x08) are", s->path, h->dtype, type);
        return MDNMF_ERR_FORMAT;
    }
    if (h->ndim != 1 && h->ndim != 3) {
        message_printf(s->message, s->size,
                       "'%s': IDX arrays of %d dimensions are not supported (1 = labels, "
                       "3 = images)", s->path, h->ndim);
        return MDNMF_ERR_FORMAT;
    }
    return MDNMF_OK;
}

/* Items and values per item from the dimensions, refusing empty images and
 * absurd sizes (products of 32-bit factors in 64 bits, each checked). */
static int check_dimensions(const byte_source *s, idx_header *h)
{
    const uint64_t n = h->dims[0];
    uint64_t m = 1;
    if (h->ndim == 3) {
        if (h->dims[1] == 0 || h->dims[2] == 0) {
            message_printf(s->message, s->size, "'%s': IDX images of %" PRIu32 " x %" PRIu32
                           " pixels (empty)", s->path, h->dims[1], h->dims[2]);
            return MDNMF_ERR_FORMAT;
        }
        m = (uint64_t)h->dims[1] * h->dims[2]; /* < 2^64: two 32-bit factors */
    }
    if (m > IDX_MAX_ITEMS || n > IDX_MAX_ITEMS / m) {
        message_printf(s->message, s->size,
                       "'%s': absurd IDX dimensions (%" PRIu64 " items of %" PRIu64
                       " values; corrupt header?)", s->path, n, m);
        return MDNMF_ERR_FORMAT;
    }
    h->n = (int64_t)n;
    h->m = (int64_t)m;
    return MDNMF_OK;
}

static int read_header(byte_source *s, idx_header *h)
{
    unsigned char bytes[4 + 4 * 3];
    size_t got;
    int status = source_read(s, bytes, 4, &got);
    if (status)
        return status;
    if (got == 0) {
        message_printf(s->message, s->size, "'%s' is empty (not an IDX file)", s->path);
        return MDNMF_ERR_FORMAT;
    }
    if (got < 4)
        return truncated(s, "incomplete IDX header");
    status = check_magic(s, bytes, h);
    if (status)
        return status;
    const size_t length = 4 * (size_t)h->ndim;
    status = source_read(s, bytes + 4, length, &got);
    if (status)
        return status;
    if (got < length)
        return truncated(s, "incomplete IDX header");
    for (int i = 0; i < h->ndim; i++)
        h->dims[i] = big_endian_u32(bytes + 4 + 4 * i);
    return check_dimensions(s, h);
}

/* ------------------------------------------------------------- items */

/* Grow *data to hold at least `needed` of `total` floats: doubling, never
 * beyond `total`, so memory follows the data actually present. */
static int reserve(const byte_source *s, float **data, size_t *capacity, size_t needed,
                   size_t total)
{
    if (needed <= *capacity)
        return MDNMF_OK;
    size_t grown = *capacity ? *capacity : IDX_CHUNK;
    while (grown < needed)
        grown *= 2;
    if (grown > total)
        grown = total;
    float *bigger = realloc(*data, grown * sizeof *bigger);
    if (!bigger) {
        message_printf(s->message, s->size, "'%s': out of memory for %zu values", s->path,
                       total);
        return MDNMF_ERR_MEMORY;
    }
    *data = bigger;
    *capacity = grown;
    return MDNMF_OK;
}

/* One byte more than declared must not exist; asking for it also makes
 * inflate reach and check the gzip trailer. */
static int check_nothing_follows(byte_source *s, size_t total)
{
    unsigned char byte;
    size_t extra;
    int status = source_read(s, &byte, 1, &extra);
    if (!status && extra > 0) {
        message_printf(s->message, s->size,
                       "'%s' has data after the %zu bytes its IDX header declares "
                       "(wrong dimensions?)", s->path, total);
        status = MDNMF_ERR_FORMAT;
    }
    return status;
}

/* The `total` items as float. */
static int read_items(byte_source *s, size_t total, float **data)
{
    unsigned char chunk[IDX_CHUNK];
    size_t done = 0, capacity = 0;
    int status = MDNMF_OK;
    *data = NULL;
    while (!status && done < total) {
        const size_t want = total - done < IDX_CHUNK ? total - done : IDX_CHUNK;
        size_t got;
        status = source_read(s, chunk, want, &got);
        if (!status && got < want) {
            char what[160];
            snprintf(what, sizeof what, "the header promises %zu data bytes, the file has %zu",
                     total, done + got);
            status = truncated(s, what);
        }
        if (!status)
            status = reserve(s, data, &capacity, done + got, total);
        for (size_t i = 0; !status && i < got; i++)
            (*data)[done + i] = (float)chunk[i];
        done += got;
    }
    if (!status)
        status = check_nothing_follows(s, total);
    if (!status && !*data) {
        *data = malloc(1); /* an empty matrix still has a valid pointer */
        if (!*data) {
            message_printf(s->message, s->size, "out of memory");
            status = MDNMF_ERR_MEMORY;
        }
    }
    if (status) {
        free(*data);
        *data = NULL;
    }
    return status;
}

static int read_idx_file(const char *path, mdnmf_matrix *out, char *message, size_t size)
{
    if (!path || !out) {
        message_printf(message, size, "mdnmf_idx_read: path or out is NULL");
        return MDNMF_ERR_ARGUMENT;
    }
    memset(out, 0, sizeof *out);
    byte_source *s = malloc(sizeof *s);
    if (!s) {
        message_printf(message, size, "out of memory");
        return MDNMF_ERR_MEMORY;
    }
    idx_header h = {0, 0, {0, 0, 0}, 0, 0};
    float *data = NULL;
    int status = source_open(s, path, message, size);
    if (!status)
        status = read_header(s, &h);
    if (!status)
        status = read_items(s, (size_t)h.m * (size_t)h.n, &data);
    source_close(s);
    free(s);
    if (status)
        return status;
    out->m = h.m;
    out->n = h.n;
    out->data = data;
    return MDNMF_OK;
}

int mdnmf_idx_read(const char *path, mdnmf_matrix *out, mdnmf_error *error)
{
    char message[MDNMF_ERROR_MESSAGE_SIZE] = "";
    int status = read_idx_file(path, out, message, sizeof message);
    return error_report(error, status, message);
}
