/* Private .npy codec shared by npy.c (files) and npz.c (zip members).
 *
 * The format: "\x93NUMPY", a version byte pair (1.0, 2.0 or 3.0), a
 * little-endian header length (2 bytes for 1.0, 4 for 2.0/3.0), a Python dict
 * literal {'descr': ..., 'fortran_order': ..., 'shape': (...)}, then the raw
 * elements.  Every parser here takes an untrusted buffer and its length and
 * never reads past it. */
#ifndef MDNMF_NPY_H
#define MDNMF_NPY_H

#include "mdnmf.h"

#include <stddef.h>
#include <stdint.h>

/* Headers longer than this are refused as corrupt (NumPy itself refuses
 * headers over 10000 bytes unless told to trust the file). */
#define NPY_MAX_HEADER_LENGTH 100000

/* The element types the reader knows. */
typedef enum npy_kind {
    NPY_KIND_FLOAT = 'f',   /* item size 2, 4 or 8 */
    NPY_KIND_INT = 'i',     /* 1, 2, 4, 8 */
    NPY_KIND_UINT = 'u',    /* 1, 2, 4, 8 */
    NPY_KIND_BOOL = 'b',    /* 1 */
    NPY_KIND_UNICODE = 'U'  /* 4 bytes per character, UTF-32 */
} npy_kind;

/* What a header says, checked for consistency (sizes cannot overflow). */
typedef struct npy_header {
    npy_kind kind;
    size_t item_size;      /* bytes per element */
    int big_endian;        /* elements are stored big-endian */
    int fortran_order;
    int ndim;              /* 0, 1 or 2 (larger ones are refused) */
    int64_t shape[2];
    size_t count;          /* elements: the product of the shape */
    size_t data_offset;    /* where the elements start in the file */
    size_t data_bytes;     /* count * item_size */
} npy_header;

/* From the first `available` bytes of a .npy image (12 are always enough:
 * magic, version and the header length field), where its elements start:
 * *length, the size of the whole header.  Refuses a bad magic, an unknown
 * version and header lengths over NPY_MAX_HEADER_LENGTH. */
int npy_header_length(const unsigned char *bytes, size_t available, size_t *length,
                      char *message, size_t size);

/* The bytes npy_header_length needs. */
#define NPY_PREFIX_MAX 12

/* Parse the header at the start of `bytes` (`available` of them).  Refuses
 * a bad magic, an unknown version, an absurd or truncated header; complex,
 * object, string (unicode is allowed with `allow_unicode`), structured and
 * other unknown dtypes; more than 2 dimensions and shapes whose byte count
 * overflows.  The elements are not looked at. */
int npy_parse_header(const unsigned char *bytes, size_t available, int allow_unicode,
                     npy_header *header, char *message, size_t size);

/* A numeric 1-D or 2-D array in memory as a float32 matrix (data malloc'ed;
 * an empty array gives a 0-size matrix with a valid pointer). */
int npy_matrix_from_buffer(const unsigned char *bytes, size_t length, mdnmf_matrix *out,
                           char *message, size_t size);

/* A 1-D integer array (any integer dtype; also 0-D, as one value) in memory
 * as malloc'ed int64 values.  Unsigned values above INT64_MAX are refused. */
int npy_int64_from_buffer(const unsigned char *bytes, size_t length, int64_t **values,
                          int64_t *count, char *message, size_t size);

/* Text in memory: a 0-D or 1-D unicode array (the elements' characters
 * joined, trailing NULs of each element dropped, as NumPy does) or a 1-D
 * uint8 array of UTF-8 bytes.  Returns malloc'ed NUL-terminated UTF-8. */
int npy_text_from_buffer(const unsigned char *bytes, size_t length, char **text,
                         size_t *text_length, char *message, size_t size);

/* A complete .npy image: a version 1.0 header for `descr` (e.g. "<f4"),
 * C order and a shape of `ndim` (0..2) dimensions, padded with spaces to a
 * multiple of 64 bytes as NumPy writes it, then `data_bytes` bytes of
 * `data`.  Malloc'ed, its size in *length; NULL if out of memory. */
unsigned char *npy_serialize(const char *descr, int ndim, const int64_t *shape,
                             const void *data, size_t data_bytes, size_t *length);

/* UTF-8 text as the .npy image of a 0-D '<U{characters}' array (UTF-32LE),
 * as NumPy stores a str: str(np.load(...)) is the text again.  Malloc'ed,
 * its size in *length; NULL if out of memory or the text is not UTF-8. */
unsigned char *npy_serialize_text(const char *text, size_t *length);

/* The descr of native float32 and int64 ("<f4"/">f4", "<i8"/">i8"). */
const char *npy_native_float32_descr(void);
const char *npy_native_int64_descr(void);

/* Rows [first, first + count) of the 2-D C-order .npy file `path` (any
 * numeric dtype, converted to float32 as mdnmf_npy_read does) as an
 * m x count matrix, reading only those rows' bytes; *rows and *columns get
 * the file's shape (n, m).  count = 0 reads only the header (out zeroed).
 * For sharded fits (mdnmf-mpi): every process reads its own rows. */
int npy_read_rows_file(const char *path, int64_t first, int64_t count, mdnmf_matrix *out,
                       int64_t *rows, int64_t *columns, char *message, size_t size);

/* Elements [first, first + count) of the 1-D .npy file `path` (any numeric
 * dtype, converted to float32) as a count x 1 matrix (as mdnmf_npy_read
 * gives a 1-D array), reading only those elements' bytes; *length gets
 * the file's.  count = 0 reads only the header (out zeroed).  For sharded
 * fits' per-sample weights (mdnmf-mpi --adv-weights). */
int npy_read_elements_file(const char *path, int64_t first, int64_t count, mdnmf_matrix *out,
                           int64_t *length, char *message, size_t size);

/* A piece of a file to write. */
typedef struct file_chunk {
    const void *bytes;
    size_t length;
} file_chunk;

/* Write the chunks to `path` through a new temporary file in the same
 * folder, renamed into place once complete and closed; on any failure the
 * temporary file is removed and `path` is untouched.  MDNMF_ERR_IO with a
 * message naming the path (or the missing folder) and the system's
 * reason.  A symbolic link to a regular file is followed (its target gets
 * the contents, the link stays); a folder, FIFO, device or socket (or a
 * link to one, or to nothing) is refused, never renamed over. */
int file_write_atomic(const char *path, const file_chunk *chunks, int count, char *message,
                      size_t size);

/* ---- .npz archives (npz.c) */

/* A member's name ("W.npy") and its serialized .npy image. */
typedef struct npz_member {
    const char *name;
    unsigned char *image;
    size_t length;
} npz_member;

/* The zip image of `count` members, stored uncompressed as np.savez
 * writes them, built in memory (malloc'ed, its size in *length), ready for
 * file_write_atomic; NULL with a message if out of memory. */
unsigned char *npz_build_archive(const npz_member *members, int count, size_t *length,
                                 char *message, size_t size);

#endif
