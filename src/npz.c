/* Models as .npz: a zip (libzip) of four .npy members, as np.savez writes:
 *   W.npy          float32 (D, m)  the m x D column-major basis, atoms as rows
 *   components.npy int64 (S,)      atoms of each source, summing to D
 *   mu_H.npy       float32 (D,)    per-atom L1 weights on H
 *   params.npy     '<U{len}' ()    the parameters as JSON (params_json.c)
 * The archive is built in memory and written with file_write_atomic. */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"
#include "npy.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

#define MEMBER_W "W.npy"
#define MEMBER_COMPONENTS "components.npy"
#define MEMBER_MU_H "mu_H.npy"
#define MEMBER_PARAMS "params.npy"

enum { MEMBER_COUNT = 4 };

/* ------------------------------------------------------------------ saving */

static int serialize_members(const mdnmf_model *model, npz_member members[MEMBER_COUNT])
{
    const int64_t atoms = model->atoms, sources = model->sources;
    const int64_t shape_W[2] = {atoms, model->m};
    const mdnmf_audio_params *audio = mdnmf_model_audio(model);
    model_settings settings = {model->params, model->separator, model->is_separator, {0}, 0};
    if (audio)
        settings.audio = *audio, settings.has_audio = 1;
    char *json = model_params_to_json(&settings);
    members[0] = (npz_member){MEMBER_W, NULL, 0};
    members[1] = (npz_member){MEMBER_COMPONENTS, NULL, 0};
    members[2] = (npz_member){MEMBER_MU_H, NULL, 0};
    members[3] = (npz_member){MEMBER_PARAMS, NULL, 0};
    const size_t W_bytes = (size_t)(model->m * atoms) * sizeof(float);
    members[0].image = npy_serialize(npy_native_float32_descr(), 2, shape_W, model->W, W_bytes,
                                     &members[0].length);
    members[1].image = npy_serialize(npy_native_int64_descr(), 1, &sources, model->components,
                                     (size_t)sources * sizeof(int64_t), &members[1].length);
    members[2].image = npy_serialize(npy_native_float32_descr(), 1, &atoms, model->mu_H,
                                     (size_t)atoms * sizeof(float), &members[2].length);
    members[3].image = json ? npy_serialize_text(json, &members[3].length) : NULL;
    free(json);
    for (int i = 0; i < MEMBER_COUNT; i++)
        if (!members[i].image)
            return MDNMF_ERR_MEMORY;
    return MDNMF_OK;
}

static void free_members(npz_member members[MEMBER_COUNT])
{
    for (int i = 0; i < MEMBER_COUNT; i++)
        free(members[i].image);
}

/* Add the members, stored uncompressed as np.savez does. */
static int add_members(zip_t *archive, const npz_member *members, int count)
{
    for (int i = 0; i < count; i++) {
        zip_source_t *source = zip_source_buffer(archive, members[i].image, members[i].length, 0);
        if (!source)
            return -1;
        const zip_int64_t index = zip_file_add(archive, members[i].name, source, ZIP_FL_ENC_UTF_8);
        if (index < 0) {
            zip_source_free(source);
            return -1;
        }
        if (zip_set_file_compression(archive, (zip_uint64_t)index, ZIP_CM_STORE, 0) != 0)
            return -1;
    }
    return 0;
}

/* The bytes of a finished in-memory archive (malloc'ed). */
static unsigned char *source_bytes(zip_source_t *source, size_t *length)
{
    zip_stat_t info;
    zip_stat_init(&info);
    if (zip_source_stat(source, &info) != 0 || !(info.valid & ZIP_STAT_SIZE)
        || info.size > SIZE_MAX || zip_source_open(source) != 0)
        return NULL;
    unsigned char *bytes = malloc(info.size ? (size_t)info.size : 1);
    zip_int64_t got = bytes ? zip_source_read(source, bytes, info.size) : -1;
    zip_source_close(source);
    if (got < 0 || (zip_uint64_t)got != info.size) {
        free(bytes);
        return NULL;
    }
    *length = (size_t)info.size;
    return bytes;
}

unsigned char *npz_build_archive(const npz_member *members, int count, size_t *length,
                                char *message, size_t size)
{
    zip_error_t error;
    zip_error_init(&error);
    unsigned char *bytes = NULL;
    zip_source_t *source = zip_source_buffer_create(NULL, 0, 0, &error);
    zip_t *archive = source ? zip_open_from_source(source, ZIP_TRUNCATE, &error) : NULL;
    if (!archive) {
        message_printf(message, size, "cannot create the archive: %s", zip_error_strerror(&error));
        zip_source_free(source);
        zip_error_fini(&error);
        return NULL;
    }
    zip_source_keep(source); /* it must outlive zip_close, which writes into it */
    if (add_members(archive, members, count) != 0 || zip_close(archive) != 0) {
        message_printf(message, size, "cannot build the archive: %s", zip_strerror(archive));
        zip_discard(archive);
    } else {
        bytes = source_bytes(source, length);
        if (!bytes)
            message_printf(message, size, "cannot build the archive: out of memory");
    }
    zip_source_free(source);
    zip_error_fini(&error);
    return bytes;
}

static int save_model(mdnmf_model *model, const char *path)
{
    if (!model)
        return MDNMF_ERR_ARGUMENT;
    if (!path)
        return model_fail(model, MDNMF_ERR_ARGUMENT, "mdnmf_model_save: path is NULL");
    if (model->m <= 0 || model->atoms <= 0 || !model->W || !model->mu_H || !model->components)
        return model_fail(model, MDNMF_ERR_STATE, "cannot save '%s': the model has no basis", path);
    npz_member members[MEMBER_COUNT];
    char message[400];
    int status = serialize_members(model, members);
    if (status) {
        free_members(members);
        return model_fail(model, status, "cannot save '%s': out of memory", path);
    }
    size_t length = 0;
    unsigned char *archive = npz_build_archive(members, MEMBER_COUNT, &length, message,
                                               sizeof message);
    free_members(members);
    if (!archive)
        return model_fail(model, MDNMF_ERR_MEMORY, "cannot save '%s': %s", path, message);
    const file_chunk chunk = {archive, length};
    status = file_write_atomic(path, &chunk, 1, message, sizeof message);
    free(archive);
    if (status)
        return model_fail(model, status, "%s", message);
    return MDNMF_OK;
}

int mdnmf_model_save(mdnmf_model *model, const char *path, mdnmf_error *error)
{
    model_clear_error(model);
    return model_report(model, save_model(model, path), error);
}

/* ----------------------------------------------------------------- loading */

/* Everything a loaded file holds, before it becomes a model. */
typedef struct npz_content {
    model_settings settings; /* the params JSON */
    mdnmf_matrix W;    /* m x D */
    mdnmf_matrix mu_H; /* D x 1 */
    int64_t *components;
    int64_t sources;
} npz_content;

/* Where a load reports to. */
typedef struct load_report {
    const char *path;
    char *message;
    size_t size;
    uint64_t file_size; /* what every member's declared sizes must fit in */
} load_report;

static int member_fail(const load_report *r, const char *member, int status, const char *what)
{
    message_printf(r->message, r->size, "'%s': member '%s': %s", r->path, member, what);
    return status;
}

static int open_status(int code)
{
    switch (code) {
    case ZIP_ER_NOENT: case ZIP_ER_OPEN: case ZIP_ER_READ: case ZIP_ER_SEEK: case ZIP_ER_TELL:
        return MDNMF_ERR_IO;
    case ZIP_ER_MEMORY:
        return MDNMF_ERR_MEMORY;
    default:
        return MDNMF_ERR_FORMAT;
    }
}

static zip_t *open_archive(const load_report *r, int *status)
{
    int code = 0;
    zip_t *archive = zip_open(r->path, ZIP_RDONLY, &code);
    if (archive)
        return archive;
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    *status = open_status(code);
    if (*status == MDNMF_ERR_FORMAT)
        message_printf(r->message, r->size, "'%s' is not a model file (.npz zip archive): %s",
                       r->path, zip_error_strerror(&error));
    else
        message_printf(r->message, r->size, "cannot open '%s': %s", r->path,
                       zip_error_strerror(&error));
    zip_error_fini(&error);
    return NULL;
}

/* A zip's directory is not to be trusted: a member's declared size
 * decides nothing before it is checked against what the file can hold and
 * against the member's own .npy header, and memory then grows with the
 * bytes actually read.  Deflate cannot make more than 1032 bytes of one
 * (a 258-byte match in 2 bits). */
#define DEFLATE_MAX_RATIO 1032
/* Bytes read from a member per step beyond its header. */
#define MEMBER_STEP ((size_t)1 << 20)

static int corrupt_member(const load_report *r, const char *member, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* "corrupt model file 'PATH': member 'NAME' <what>" */
static int corrupt_member(const load_report *r, const char *member, const char *format, ...)
{
    char what[256];
    va_list args;
    va_start(args, format);
    vsnprintf(what, sizeof what, format, args);
    va_end(args);
    message_printf(r->message, r->size, "corrupt model file '%s': member '%s' %s", r->path,
                   member, what);
    return MDNMF_ERR_FORMAT;
}

/* The sizes the directory declares for a member, against the file's. */
static int check_declared_sizes(const zip_stat_t *info, const char *name, const load_report *r)
{
    const zip_uint64_t wanted = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD;
    if ((info->valid & wanted) != wanted)
        return corrupt_member(r, name, "has no size in the zip directory");
    if (info->comp_size > r->file_size)
        return corrupt_member(r, name, "declares %" PRIu64 " compressed bytes, more than the "
                              "%" PRIu64 "-byte file holds", (uint64_t)info->comp_size,
                              r->file_size);
    if (info->comp_method == ZIP_CM_STORE && info->size != info->comp_size)
        return corrupt_member(r, name, "is stored uncompressed but declares %" PRIu64 " bytes "
                              "for %" PRIu64 " stored ones", (uint64_t)info->size,
                              (uint64_t)info->comp_size);
    if (info->comp_method == ZIP_CM_DEFLATE && info->size / DEFLATE_MAX_RATIO > info->comp_size)
        return corrupt_member(r, name, "declares %" PRIu64 " bytes, more than its %" PRIu64
                              " deflated ones can hold", (uint64_t)info->size,
                              (uint64_t)info->comp_size);
    if (info->comp_method != ZIP_CM_STORE && info->comp_method != ZIP_CM_DEFLATE) {
        message_printf(r->message, r->size, "'%s': member '%s': compression method %d is not "
                       "supported (models are stored or deflated, as np.savez and "
                       "np.savez_compressed write them)", r->path, name,
                       (int)info->comp_method);
        return MDNMF_ERR_FORMAT;
    }
    return MDNMF_OK;
}

/* Up to `length` bytes (fewer only at the member's end); -1 on a read
 * error, which includes a CRC mismatch found at the end. */
static zip_int64_t read_fully(zip_file_t *file, unsigned char *out, size_t length)
{
    size_t got = 0;
    while (got < length) {
        const zip_int64_t n = zip_fread(file, out + got, length - got);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (zip_int64_t)got;
}

/* A member being read: its bytes so far in a buffer that grows. */
typedef struct member_reader {
    zip_file_t *file;
    const char *name;
    const load_report *report;
    unsigned char *data;
    size_t length, capacity;
} member_reader;

/* Make room for `total` bytes (doubling, so that reading in steps costs
 * few copies). */
static int grow(member_reader *m, size_t total)
{
    if (total <= m->capacity)
        return MDNMF_OK;
    const size_t capacity = 2 * m->capacity > total ? 2 * m->capacity : total;
    unsigned char *bigger = realloc(m->data, capacity);
    if (!bigger)
        return member_fail(m->report, m->name, MDNMF_ERR_MEMORY, "out of memory");
    m->data = bigger;
    m->capacity = capacity;
    return MDNMF_OK;
}

static int read_failed(member_reader *m)
{
    char reason[256];
    snprintf(reason, sizeof reason, "cannot read it: %s", zip_file_strerror(m->file));
    return member_fail(m->report, m->name, MDNMF_ERR_FORMAT, reason);
}

/* Read until the buffer holds `total` bytes, in steps: a member shorter
 * than declared costs no more memory than it has. */
static int read_until(member_reader *m, size_t total)
{
    while (m->length < total) {
        const size_t step = total - m->length < MEMBER_STEP ? total - m->length : MEMBER_STEP;
        int status = grow(m, m->length + step);
        if (status)
            return status;
        const zip_int64_t n = read_fully(m->file, m->data + m->length, step);
        if (n < 0)
            return read_failed(m);
        m->length += (size_t)n;
        if ((size_t)n < step)
            break;
    }
    return MDNMF_OK;
}

/* The .npy header first: the size it describes must be the declared one. */
static int read_header(member_reader *m, uint64_t declared)
{
    char inner[256];
    size_t header_length;
    int status = read_until(m, declared < NPY_PREFIX_MAX ? (size_t)declared : NPY_PREFIX_MAX);
    if (!status)
        status = npy_header_length(m->data, m->length, &header_length, inner, sizeof inner);
    if (status)
        return status == MDNMF_ERR_FORMAT ? member_fail(m->report, m->name, status, inner)
                                          : status;
    if (header_length > declared)
        return corrupt_member(m->report, m->name, "declares %" PRIu64 " bytes, fewer than "
                              "its .npy header's %zu", declared, header_length);
    status = read_until(m, header_length);
    if (status)
        return status;
    npy_header header;
    status = npy_parse_header(m->data, m->length, 1, &header, inner, sizeof inner);
    if (status)
        return member_fail(m->report, m->name, status, inner);
    if (header.data_bytes > UINT64_MAX - header.data_offset
        || header.data_offset + header.data_bytes != declared)
        return corrupt_member(m->report, m->name, "declares %" PRIu64 " bytes, its .npy header "
                              "describes %zu of header and %zu of data", declared,
                              header.data_offset, header.data_bytes);
    return MDNMF_OK;
}

/* A member's bytes (malloc'ed), checked against its declared size and
 * its .npy header before its data is read, its CRC checked by reading to
 * the end. */
static int read_member(zip_t *archive, const char *name, const load_report *r,
                       unsigned char **bytes, size_t *length)
{
    zip_stat_t info;
    zip_stat_init(&info);
    if (zip_stat(archive, name, 0, &info) != 0)
        return member_fail(r, name, MDNMF_ERR_FORMAT, "missing");
    int status = check_declared_sizes(&info, name, r);
    if (status)
        return status;
    member_reader m = {zip_fopen(archive, name, 0), name, r, NULL, 0, 0};
    if (!m.file) {
        char reason[256];
        snprintf(reason, sizeof reason, "cannot read it: %s", zip_strerror(archive));
        return member_fail(r, name, MDNMF_ERR_FORMAT, reason);
    }
    status = read_header(&m, info.size);
    /* One byte more than declared must not come; asking for it makes
     * libzip reach the end and check the CRC. */
    if (!status)
        status = read_until(&m, (size_t)info.size + 1);
    if (!status && m.length != info.size)
        status = corrupt_member(r, name, "declares %" PRIu64 " bytes and holds %s",
                                (uint64_t)info.size, m.length < info.size ? "fewer" : "more");
    zip_fclose(m.file);
    if (status) {
        free(m.data);
        return status;
    }
    *bytes = m.data;
    *length = m.length;
    return MDNMF_OK;
}

static int load_params(zip_t *archive, const load_report *r, npz_content *c)
{
    unsigned char *bytes;
    size_t length, text_length;
    char *text = NULL, inner[256];
    int status = read_member(archive, MEMBER_PARAMS, r, &bytes, &length);
    if (status)
        return status;
    status = npy_text_from_buffer(bytes, length, &text, &text_length, inner, sizeof inner);
    free(bytes);
    if (!status)
        status = model_params_from_json(text, text_length, &c->settings, inner, sizeof inner);
    free(text);
    return status ? member_fail(r, MEMBER_PARAMS, status, inner) : MDNMF_OK;
}

/* A float member of `ndim` dimensions, every value finite and >= 0. */
static int load_float_member(zip_t *archive, const char *name, int ndim, const load_report *r,
                             mdnmf_matrix *out)
{
    unsigned char *bytes;
    size_t length;
    char inner[256];
    int status = read_member(archive, name, r, &bytes, &length);
    if (status)
        return status;
    npy_header header;
    status = npy_parse_header(bytes, length, 0, &header, inner, sizeof inner);
    if (!status && header.ndim != ndim) {
        snprintf(inner, sizeof inner, "expected a %d-D array, found %d-D", ndim, header.ndim);
        status = MDNMF_ERR_FORMAT;
    }
    if (!status)
        status = npy_matrix_from_buffer(bytes, length, out, inner, sizeof inner);
    free(bytes);
    if (status)
        return member_fail(r, name, status, inner);
    const size_t count = (size_t)(out->m * out->n);
    for (size_t i = 0; i < count; i++)
        if (!isfinite(out->data[i]) || out->data[i] < 0.0f)
            return member_fail(r, name, MDNMF_ERR_FORMAT,
                               "holds a negative, NaN or infinite value");
    return MDNMF_OK;
}

static int load_components(zip_t *archive, const load_report *r, npz_content *c)
{
    unsigned char *bytes;
    size_t length;
    char inner[256];
    int status = read_member(archive, MEMBER_COMPONENTS, r, &bytes, &length);
    if (status)
        return status;
    status = npy_int64_from_buffer(bytes, length, &c->components, &c->sources, inner, sizeof inner);
    free(bytes);
    return status ? member_fail(r, MEMBER_COMPONENTS, status, inner) : MDNMF_OK;
}

/* The members agree: D atoms in W, mu_H and the components' sum. */
static int check_shapes(const npz_content *c, const load_report *r)
{
    const int64_t atoms = c->W.n;
    if (c->W.m < 1 || atoms < 1)
        return member_fail(r, MEMBER_W, MDNMF_ERR_FORMAT, "the basis is empty");
    if (c->mu_H.m != atoms) {
        char what[128];
        snprintf(what, sizeof what, "has %lld values for %lld atoms", (long long)c->mu_H.m,
                 (long long)atoms);
        return member_fail(r, MEMBER_MU_H, MDNMF_ERR_FORMAT, what);
    }
    if (c->sources < 1 || c->sources > INT_MAX)
        return member_fail(r, MEMBER_COMPONENTS, MDNMF_ERR_FORMAT, "no sources or too many");
    int64_t sum = 0;
    for (int64_t s = 0; s < c->sources; s++) {
        if (c->components[s] < 1 || c->components[s] > atoms - sum)
            return member_fail(r, MEMBER_COMPONENTS, MDNMF_ERR_FORMAT,
                               "atom counts must be >= 1 and sum to the rows of W");
        sum += c->components[s];
    }
    if (sum != atoms)
        return member_fail(r, MEMBER_COMPONENTS, MDNMF_ERR_FORMAT,
                           "atom counts must be >= 1 and sum to the rows of W");
    return MDNMF_OK;
}

static int read_content(zip_t *archive, const load_report *r, npz_content *c)
{
    int status = load_params(archive, r, c);
    if (!status)
        status = load_float_member(archive, MEMBER_W, 2, r, &c->W);
    if (!status)
        status = load_float_member(archive, MEMBER_MU_H, 1, r, &c->mu_H);
    if (!status)
        status = load_components(archive, r, c);
    if (!status)
        status = check_shapes(c, r);
    return status;
}

/* A multi-source model is a separator: its parameters come from the JSON's
 * "separator" object when there is one, and its shapes from the members. */
static void adopt_separator_params(mdnmf_model *model, const npz_content *c,
                                   const load_report *r, int *status)
{
    mdnmf_separator_params sep = c->settings.separator;
    if (!c->settings.has_separator)
        mdnmf_separator_params_default(&sep, model->sources);
    sep.common = model->params;
    sep.sources = model->sources;
    int64_t offset = 0;
    for (int s = 0; s < model->sources; s++) {
        sep.d[s] = model->components[s];
        sep.mu_H[s] = model->mu_H[offset];
        offset += model->components[s];
    }
    const char *problem = separator_params_problem(&sep);
    if (problem) { /* informational only: separation needs W, components, mu_H */
        message_printf(r->message, r->size, "'%s': separator parameters ignored: %s", r->path,
                       problem);
        mdnmf_separator_params_default(&sep, model->sources);
        *status = MDNMF_OK;
    }
    model->separator = sep;
    model->is_separator = 1;
}

/* A one-source model's d is its atom count; a multi-source model keeps the
 * file's d if it is usable. */
static mdnmf_model *content_to_model(npz_content *c, const load_report *r, int *status)
{
    if (c->sources == 1 || c->settings.params.d < 1)
        c->settings.params.d = (int)(c->W.n > INT_MAX ? INT_MAX : c->W.n);
    const char *problem = params_problem(&c->settings.params);
    if (problem) {
        *status = member_fail(r, MEMBER_PARAMS, MDNMF_ERR_FORMAT, problem);
        return NULL;
    }
    mdnmf_error error;
    mdnmf_model *model = mdnmf_model_create(&c->settings.params, &error);
    if (!model) {
        *status = error.status;
        message_printf(r->message, r->size, "'%s': cannot create the model: %s", r->path,
                       mdnmf_strerror(*status));
        return NULL;
    }
    /* Per-atom weights that differ from params.mu_H were set per atom: a
     * later mdnmf_model_set_params must not overwrite them. */
    model->mu_H_custom = 0;
    for (int64_t k = 0; k < c->mu_H.m; k++)
        if (c->mu_H.data[k] != (float)c->settings.params.mu_H)
            model->mu_H_custom = 1;
    model_adopt_sources(model, c->W.data, c->mu_H.data, c->W.m, (int)c->sources, c->components);
    if (model->sources >= 2)
        adopt_separator_params(model, c, r, status);
    c->W.data = NULL;
    c->mu_H.data = NULL;
    c->components = NULL;
    if (c->settings.has_audio &&
        mdnmf_model_set_audio(model, &c->settings.audio, &error) != MDNMF_OK) {
        *status = member_fail(r, MEMBER_PARAMS, MDNMF_ERR_FORMAT, error.message);
        mdnmf_model_destroy(model);
        return NULL;
    }
    return model;
}

static mdnmf_model *load_model(const char *path, int *status, char *message, size_t size)
{
    if (!path) {
        message_printf(message, size, "mdnmf_model_load: path is NULL");
        *status = MDNMF_ERR_ARGUMENT;
        return NULL;
    }
    load_report report = {path, message, size, 0};
    zip_t *archive = open_archive(&report, status);
    if (!archive)
        return NULL;
    struct stat file_info;
    if (stat(path, &file_info) == 0 && S_ISREG(file_info.st_mode))
        report.file_size = (uint64_t)file_info.st_size;
    else /* a pipe or device: libzip read it whole; nothing to compare with */
        report.file_size = UINT64_MAX;
    npz_content content;
    memset(&content, 0, sizeof content);
    mdnmf_params_default(&content.settings.params);
    mdnmf_model *model = NULL;
    *status = read_content(archive, &report, &content);
    zip_discard(archive); /* opened read-only: nothing to write back */
    if (!*status)
        model = content_to_model(&content, &report, status);
    mdnmf_matrix_free(&content.W);
    mdnmf_matrix_free(&content.mu_H);
    free(content.components);
    if (model)
        *status = MDNMF_OK;
    return model;
}

mdnmf_model *mdnmf_model_load(const char *path, mdnmf_error *error)
{
    char message[MDNMF_ERROR_MESSAGE_SIZE] = "";
    int status = MDNMF_OK;
    mdnmf_model *model = load_model(path, &status, message, sizeof message);
    error_report(error, model ? MDNMF_OK : status, message);
    return model;
}
