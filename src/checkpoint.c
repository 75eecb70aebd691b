/* Checkpoints of resumable fits (checkpoint.h).  The file is an .npz whose
 * members are all stored .npy arrays:
 *   format.npy    text    "mdnmf checkpoint 1"
 *   run.npy       text    the fingerprint, "key=value" lines
 *   position.npy  int64 (2,)      stage, epoch (0: the stage from its start)
 *   history.npy   float64 (R, 7)  stage, epoch, epochs, stages, loss_true,
 *                                 loss_adv, objective of every epoch reported
 *   NAME.npy      1-D float32, float64 or uint64: the tracked arrays
 * written with file_write_atomic.  Reading trusts nothing: the file is read
 * whole (a regular file), every member must be stored (not compressed) and
 * no larger than the file, its CRC is checked by libzip, its header by
 * npy_parse_header, and every array must have exactly the type and size the
 * run expects before it is copied. */
#define _POSIX_C_SOURCE 200809L

#include "checkpoint.h"

#include "linalg.h"
#include "npy.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>
#include <zlib.h>

#define CHECKPOINT_FORMAT "mdnmf checkpoint 1"
#define DEFAULT_EVERY 10
#define HISTORY_COLUMNS 7
#define NAME_SIZE 48
/* More members than a run of MDNMF_MAX_SOURCES open fits can have. */
#define MAX_MEMBERS 256

typedef struct ck_array {
    char name[NAME_SIZE];
    checkpoint_kind kind;
    int64_t count;
    void *data;   /* tracked: the fit's; saved: malloc'ed */
    int lasting;
} ck_array;

struct checkpoint {
    mdnmf_model *model;          /* receives the messages */
    mdnmf_epoch_callback on_epoch;
    void *on_epoch_user;
    const char *write_path, *resume_path;
    int every;
    char *fingerprint;           /* "key=value\n" lines */
    size_t fingerprint_length, fingerprint_capacity;
    int out_of_memory;           /* a note could not be stored */
    ck_array *tracked;
    int tracked_count, tracked_capacity;
    double *history;             /* rows of HISTORY_COLUMNS */
    int64_t history_rows, history_capacity;
    int64_t stage_mark;          /* history rows before the current stage */
    int stage, epoch;            /* the position */
    int stages;                  /* of the run (checkpoint_note_stages) */
    int resuming;                /* a resume is pending */
    int resume_stage, resume_epoch;
    ck_array *saved;             /* the resumed file's arrays */
    int saved_count;
    unsigned char *file;         /* the resumed file's bytes */
    size_t file_length;
    const mdnmf_shard *shard;    /* a sharded fit's, or NULL */
};

/* ------------------------------------------------------------ set-up */

checkpoint *checkpoint_create(mdnmf_model *model, const mdnmf_params *p, int *status)
{
    *status = MDNMF_OK;
    if (!p->checkpoint_path && !p->resume_path)
        return NULL;
    if ((p->checkpoint_path && !*p->checkpoint_path) || (p->resume_path && !*p->resume_path)) {
        *status = model_fail(model, MDNMF_ERR_ARGUMENT, "a checkpoint or resume path is empty");
        return NULL;
    }
    checkpoint *ck = calloc(1, sizeof *ck);
    if (!ck) {
        *status = model_fail(model, MDNMF_ERR_MEMORY, "out of memory for a checkpoint");
        return NULL;
    }
    ck->model = model;
    ck->on_epoch = p->on_epoch;
    ck->on_epoch_user = p->on_epoch_user;
    ck->write_path = p->checkpoint_path;
    ck->resume_path = p->resume_path;
    ck->every = p->checkpoint_every > 0 ? p->checkpoint_every : DEFAULT_EVERY;
    ck->history_capacity = 64;
    ck->history = malloc((size_t)ck->history_capacity * HISTORY_COLUMNS * sizeof *ck->history);
    if (!ck->history) {
        free(ck);
        *status = model_fail(model, MDNMF_ERR_MEMORY, "out of memory for a checkpoint");
        return NULL;
    }
    return ck;
}

static void free_arrays(ck_array *arrays, int count)
{
    for (int i = 0; i < count; i++)
        free(arrays[i].data);
    free(arrays);
}

static void forget_resumed_file(checkpoint *ck)
{
    free_arrays(ck->saved, ck->saved_count);
    ck->saved = NULL;
    ck->saved_count = 0;
    free(ck->file);
    ck->file = NULL;
    ck->file_length = 0;
}

void checkpoint_destroy(checkpoint *ck)
{
    if (!ck)
        return;
    forget_resumed_file(ck);
    free(ck->fingerprint);
    free(ck->tracked);
    free(ck->history);
    free(ck);
}

/* ------------------------------------------------------------ fingerprint */

void checkpoint_note(checkpoint *ck, const char *key, const char *format, ...)
{
    if (!ck || ck->out_of_memory)
        return;
    char value[256];
    va_list args;
    va_start(args, format);
    vsnprintf(value, sizeof value, format, args);
    va_end(args);
    size_t need = ck->fingerprint_length + strlen(key) + strlen(value) + 3;
    if (need > ck->fingerprint_capacity) {
        size_t capacity = 2 * need + 256;
        char *grown = realloc(ck->fingerprint, capacity);
        if (!grown) {
            ck->out_of_memory = 1;
            return;
        }
        ck->fingerprint = grown;
        ck->fingerprint_capacity = capacity;
    }
    ck->fingerprint_length += (size_t)sprintf(ck->fingerprint + ck->fingerprint_length, "%s=%s\n",
                                              key, value);
}

static unsigned long crc_of(const void *bytes, size_t length)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    const unsigned char *at = bytes;
    while (length > 0) {
        uInt piece = length > (1u << 30) ? (1u << 30) : (uInt)length;
        crc = crc32(crc, at, piece);
        at += piece;
        length -= piece;
    }
    return (unsigned long)crc;
}

void checkpoint_note_floats(checkpoint *ck, const char *key, const float *X, int64_t m,
                            int64_t n)
{
    if (!ck)
        return;
    if (!X) {
        checkpoint_note(ck, key, "none");
        return;
    }
    checkpoint_note(ck, key, "%lld x %lld, crc32 %08lx", (long long)m, (long long)n,
                    crc_of(X, (size_t)(m * n) * sizeof *X));
}

void checkpoint_note_params(checkpoint *ck, const mdnmf_params *p, int one_source)
{
    if (one_source) {
        checkpoint_note(ck, "d", "%d", p->d);
        checkpoint_note(ck, "mu_H", "%.17g", p->mu_H);
        checkpoint_note(ck, "tau_A", "%.17g", p->tau_A);
    }
    checkpoint_note(ck, "epochs", "%d", p->epochs);
    checkpoint_note(ck, "test_epochs", "%d", p->test_epochs);
    if (p->init_H_steps) /* absent when 0: older checkpoints resume */
        checkpoint_note(ck, "init_H_steps", "%d", p->init_H_steps);
    checkpoint_note(ck, "batch_size", "%lld", (long long)p->batch_size);
    checkpoint_note(ck, "batch_size_adv", "%lld", (long long)p->batch_size_adv);
    checkpoint_note(ck, "init", "%d", (int)p->init);
    checkpoint_note(ck, "mu_W", "%.17g", p->mu_W);
    checkpoint_note(ck, "tau_W", "%.17g", p->tau_W);
    checkpoint_note(ck, "normalize", "%d", p->normalize);
    checkpoint_note(ck, "update_H", "%d", p->update_H);
    checkpoint_note(ck, "true_sample", "%d", (int)p->true_sample);
    checkpoint_note(ck, "warm_start", "%d", p->warm_start != 0);
    checkpoint_note(ck, "seed", "%llu", (unsigned long long)p->seed);
    checkpoint_note(ck, "threads", "%d", linalg_threads());
    /* Noted only when it is not Frobenius: the checkpoints of Frobenius
     * fits written before the field existed still resume. */
    if (p->divergence != MDNMF_DIVERGENCE_FROBENIUS)
        checkpoint_note(ck, "divergence", "%s",
                        mdnmf_enum_name(MDNMF_ENUM_DIVERGENCE, (int)p->divergence));
}

void checkpoint_note_stages(checkpoint *ck, int stages)
{
    if (!ck)
        return;
    ck->stages = stages;
    checkpoint_note(ck, "stages", "%d", stages);
}

void checkpoint_note_shard(checkpoint *ck, const mdnmf_shard *shard, int sets,
                           const int64_t *n_global)
{
    if (!ck)
        return;
    ck->shard = shard;
    if (shard->ranks < 1) {
        checkpoint_note(ck, "shard", "columns %lld of %lld, adversarial %lld of %lld",
                        (long long)shard->offset, (long long)shard->n_total,
                        (long long)shard->offset_adv, (long long)shard->n_adv_total);
        return;
    }
    checkpoint_note(ck, "shard", "rank %d of %d", (int)shard->rank, (int)shard->ranks);
    char counts[200] = "";
    size_t used = 0;
    for (int k = 0; k < sets && used < sizeof counts; k++)
        used += (size_t)snprintf(counts + used, sizeof counts - used, "%s%lld", k ? " " : "",
                                 (long long)n_global[k]);
    checkpoint_note(ck, "shard columns", "%s", counts);
}

/* The value of `key` in "key=value\n" lines (its length in *length), or NULL. */
static const char *find_value(const char *lines, const char *key, size_t key_length,
                              size_t *length)
{
    for (const char *line = lines; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t line_length = end ? (size_t)(end - line) : strlen(line);
        if (line_length > key_length && line[key_length] == '=' &&
            strncmp(line, key, key_length) == 0) {
            *length = line_length - key_length - 1;
            return line + key_length + 1;
        }
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

/* The first line of `here` that `there` lacks or holds with another value,
 * then the first of `there` that `here` lacks; MDNMF_OK when they agree. */
static int compare_fingerprints(checkpoint *ck, const char *here, const char *there)
{
    for (int pass = 0; pass < 2; pass++) {
        const char *lines = pass == 0 ? here : there, *other = pass == 0 ? there : here;
        for (const char *line = lines; line && *line;) {
            const char *end = strchr(line, '\n');
            size_t line_length = end ? (size_t)(end - line) : strlen(line);
            const char *equals = memchr(line, '=', line_length);
            size_t key_length = equals ? (size_t)(equals - line) : line_length;
            size_t value_length = equals ? line_length - key_length - 1 : 0;
            size_t other_length = 0;
            const char *value = equals ? equals + 1 : "";
            const char *other_value = find_value(other, line, key_length, &other_length);
            if (!other_value || other_length != value_length ||
                strncmp(value, other_value, value_length) != 0) {
                const char *mine = pass == 0 ? value : other_value;
                const char *theirs = pass == 0 ? other_value : value;
                int mine_length = (int)(pass == 0 ? value_length : other_length);
                int theirs_length = (int)(pass == 0 ? other_length : value_length);
                return model_fail(ck->model, MDNMF_ERR_FORMAT,
                                  "'%s' is the checkpoint of another run: %.*s is %.*s there "
                                  "but %.*s here%s",
                                  ck->resume_path, (int)key_length, line,
                                  theirs ? theirs_length : 4, theirs ? theirs : "none",
                                  mine ? mine_length : 4, mine ? mine : "none",
                                  strncmp(line, "threads", key_length) == 0
                                      ? " (bit-identical results need the same thread count)"
                                      : "");
            }
            line = end ? end + 1 : NULL;
        }
    }
    return MDNMF_OK;
}

/* ------------------------------------------------------------ tracking */

int checkpoint_track(checkpoint *ck, const char *name, checkpoint_kind kind, void *data,
                     int64_t count, int lasting)
{
    if (!ck)
        return MDNMF_OK;
    if (ck->tracked_count == ck->tracked_capacity) {
        int capacity = 2 * ck->tracked_capacity + 16;
        ck_array *grown = realloc(ck->tracked, (size_t)capacity * sizeof *grown);
        if (!grown)
            return model_fail(ck->model, MDNMF_ERR_MEMORY, "out of memory for a checkpoint");
        ck->tracked = grown;
        ck->tracked_capacity = capacity;
    }
    ck_array *a = &ck->tracked[ck->tracked_count++];
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", name);
    a->kind = kind, a->data = data, a->count = count, a->lasting = lasting;
    return MDNMF_OK;
}

void checkpoint_untrack(checkpoint *ck, const char *prefix)
{
    if (!ck)
        return;
    size_t length = strlen(prefix);
    int kept = 0;
    for (int i = 0; i < ck->tracked_count; i++)
        if (strncmp(ck->tracked[i].name, prefix, length) != 0)
            ck->tracked[kept++] = ck->tracked[i];
    ck->tracked_count = kept;
}

/* ------------------------------------------------------------ writing */

static size_t kind_size(checkpoint_kind kind)
{
    return kind == CHECKPOINT_F32 ? sizeof(float) : 8;
}

/* "<f8" / "<u8" in the machine's byte order (that of "<f4" / ">f4"). */
static const char *kind_descr(checkpoint_kind kind, char *out)
{
    const char *f32 = npy_native_float32_descr();
    if (kind == CHECKPOINT_F32)
        return f32;
    out[0] = f32[0];
    out[1] = kind == CHECKPOINT_F64 ? 'f' : 'u';
    out[2] = '8';
    out[3] = '\0';
    return out;
}

static unsigned char *array_image(const ck_array *a, size_t *length)
{
    char descr[4];
    return npy_serialize(kind_descr(a->kind, descr), 1, &a->count, a->data,
                         (size_t)a->count * kind_size(a->kind), length);
}

enum { FIXED_MEMBERS = 4 };

/* The members of a checkpoint at the current position: inside a stage
 * every tracked array and the whole history, at a stage's start only the
 * lasting arrays and the history before it.  0, or -1 if out of memory. */
static int serialize_members(const checkpoint *ck, npz_member *members,
                             char (*names)[NAME_SIZE + 4], int *count)
{
    int inside = ck->epoch >= 1;
    uint64_t position[2] = {(uint64_t)ck->stage, (uint64_t)ck->epoch};
    const int64_t two = 2;
    int64_t history_shape[2] = {inside ? ck->history_rows : ck->stage_mark, HISTORY_COLUMNS};
    size_t history_bytes = (size_t)(history_shape[0] * HISTORY_COLUMNS) * sizeof(double);
    char u64[4], f64[4];
    members[0].name = "format.npy";
    members[0].image = npy_serialize_text(CHECKPOINT_FORMAT, &members[0].length);
    members[1].name = "run.npy";
    members[1].image = npy_serialize_text(ck->fingerprint ? ck->fingerprint : "",
                                          &members[1].length);
    members[2].name = "position.npy";
    members[2].image = npy_serialize(kind_descr(CHECKPOINT_U64, u64), 1, &two, position,
                                     sizeof position, &members[2].length);
    members[3].name = "history.npy";
    members[3].image = npy_serialize(kind_descr(CHECKPOINT_F64, f64), 2, history_shape,
                                     ck->history, history_bytes, &members[3].length);
    *count = FIXED_MEMBERS;
    for (int i = 0; i < ck->tracked_count; i++) {
        const ck_array *a = &ck->tracked[i];
        if (!inside && !a->lasting)
            continue;
        snprintf(names[*count], NAME_SIZE + 4, "%s.npy", a->name);
        members[*count].name = names[*count];
        members[*count].image = array_image(a, &members[*count].length);
        ++*count;
    }
    for (int i = 0; i < *count; i++)
        if (!members[i].image)
            return -1;
    return 0;
}

static int write_bytes(checkpoint *ck, const unsigned char *bytes, size_t length)
{
    char message[400];
    const file_chunk chunk = {bytes, length};
    int status = file_write_atomic(ck->write_path, &chunk, 1, message, sizeof message);
    if (status)
        return model_fail(ck->model, status, "checkpoint: %s", message);
    return MDNMF_OK;
}

static int write_checkpoint(checkpoint *ck)
{
    int capacity = FIXED_MEMBERS + ck->tracked_count, count = 0;
    npz_member *members = calloc((size_t)capacity, sizeof *members);
    char (*names)[NAME_SIZE + 4] = calloc((size_t)capacity, NAME_SIZE + 4);
    int status = MDNMF_ERR_MEMORY;
    char message[400] = "out of memory";
    if (members && names && serialize_members(ck, members, names, &count) == 0) {
        size_t length = 0;
        unsigned char *archive = npz_build_archive(members, count, &length, message,
                                                   sizeof message);
        status = archive ? write_bytes(ck, archive, length) : MDNMF_ERR_MEMORY;
        free(archive);
    }
    for (int i = 0; members && i < capacity; i++)
        free(members[i].image);
    free(members);
    free(names);
    if (status == MDNMF_ERR_MEMORY)
        return model_fail(ck->model, status, "cannot write the checkpoint '%s': %s",
                          ck->write_path, message);
    return status;
}

/* ------------------------------------------------------------ reading */

static int corrupt(const checkpoint *ck, const char *member, const char *what)
{
    return model_fail(ck->model, MDNMF_ERR_FORMAT, "'%s' is not a usable checkpoint: %s%s%s",
                      ck->resume_path, member ? member : "", member ? ": " : "", what);
}

/* The whole file into ck->file: a regular file, read to its end. */
static int read_file(checkpoint *ck)
{
    FILE *file = fopen(ck->resume_path, "rb");
    if (!file)
        return model_fail(ck->model, MDNMF_ERR_IO, "cannot open the checkpoint '%s': %s",
                          ck->resume_path, strerror(errno));
    struct stat info;
    if (fstat(fileno(file), &info) != 0 || !S_ISREG(info.st_mode)) {
        fclose(file);
        return model_fail(ck->model, MDNMF_ERR_IO,
                          "cannot read the checkpoint '%s': not a regular file",
                          ck->resume_path);
    }
    size_t length = (size_t)info.st_size;
    ck->file = malloc(length ? length : 1);
    if (!ck->file) {
        fclose(file);
        return model_fail(ck->model, MDNMF_ERR_MEMORY, "out of memory reading '%s'",
                          ck->resume_path);
    }
    size_t got = fread(ck->file, 1, length, file);
    int failed = ferror(file) || got != length || fgetc(file) != EOF;
    fclose(file);
    if (failed)
        return model_fail(ck->model, MDNMF_ERR_IO,
                          "cannot read the checkpoint '%s': it changed while being read",
                          ck->resume_path);
    ck->file_length = length;
    return MDNMF_OK;
}

/* Member `index`: its name and bytes (malloc'ed), stored and no larger than
 * the file, read to its end (libzip checks the CRC there). */
static int read_member(checkpoint *ck, zip_t *archive, zip_uint64_t index, char *name,
                       unsigned char **bytes, size_t *length)
{
    zip_stat_t info;
    zip_stat_init(&info);
    if (zip_stat_index(archive, index, 0, &info) != 0 || !(info.valid & ZIP_STAT_NAME) ||
        !(info.valid & ZIP_STAT_SIZE))
        return corrupt(ck, NULL, "an unreadable member");
    size_t name_length = strlen(info.name);
    if (name_length < 5 || name_length >= NAME_SIZE + 4 ||
        strcmp(info.name + name_length - 4, ".npy") != 0)
        return corrupt(ck, info.name, "not a member of a checkpoint");
    if (!(info.valid & ZIP_STAT_COMP_METHOD) || info.comp_method != ZIP_CM_STORE ||
        info.size > ck->file_length)
        return corrupt(ck, info.name, "compressed, or larger than the file");
    snprintf(name, NAME_SIZE, "%.*s", (int)(name_length - 4), info.name);
    unsigned char *data = malloc((size_t)info.size + 1);
    zip_file_t *file = data ? zip_fopen_index(archive, index, 0) : NULL;
    zip_uint64_t got = 0;
    zip_int64_t n = 1;
    while (file && got <= info.size && (n = zip_fread(file, data + got, info.size + 1 - got)) > 0)
        got += (zip_uint64_t)n;
    if (file)
        zip_fclose(file);
    if (!data)
        return model_fail(ck->model, MDNMF_ERR_MEMORY, "out of memory reading '%s'",
                          ck->resume_path);
    if (!file || n < 0 || got != info.size) {
        free(data);
        return corrupt(ck, info.name, "truncated or corrupt (CRC)");
    }
    *bytes = data;
    *length = (size_t)info.size;
    return MDNMF_OK;
}

static int parse_kind(const npy_header *h, checkpoint_kind *kind)
{
    const char *f32 = npy_native_float32_descr();
    int big_endian = f32[0] == '>';
    if (h->big_endian != big_endian && h->item_size > 1)
        return -1;
    if (h->kind == NPY_KIND_FLOAT && h->item_size == 4)
        *kind = CHECKPOINT_F32;
    else if (h->kind == NPY_KIND_FLOAT && h->item_size == 8)
        *kind = CHECKPOINT_F64;
    else if (h->kind == NPY_KIND_UINT && h->item_size == 8)
        *kind = CHECKPOINT_U64;
    else
        return -1;
    return 0;
}

/* A numeric member's array (1-D, or 2-D with `columns` columns). */
static int parse_array(checkpoint *ck, const char *name, const unsigned char *bytes,
                       size_t length, int ndim, int64_t columns, ck_array *out)
{
    npy_header h;
    char inner[256];
    if (npy_parse_header(bytes, length, 0, &h, inner, sizeof inner) != MDNMF_OK)
        return corrupt(ck, name, inner);
    if (h.ndim != ndim || (ndim == 2 && h.shape[1] != columns) || h.fortran_order ||
        parse_kind(&h, &out->kind) != 0 || h.data_offset + h.data_bytes != length)
        return corrupt(ck, name, "an array of another type or shape");
    snprintf(out->name, sizeof out->name, "%s", name);
    out->count = (int64_t)h.count;
    out->data = malloc(h.data_bytes ? h.data_bytes : 1);
    if (!out->data)
        return model_fail(ck->model, MDNMF_ERR_MEMORY, "out of memory reading '%s'",
                          ck->resume_path);
    memcpy(out->data, bytes + h.data_offset, h.data_bytes);
    return MDNMF_OK;
}

static const ck_array *find_saved(const checkpoint *ck, const char *name)
{
    for (int i = 0; i < ck->saved_count; i++)
        if (strcmp(ck->saved[i].name, name) == 0)
            return &ck->saved[i];
    return NULL;
}

/* The text members: the format and the fingerprint. */
static int check_text(checkpoint *ck, const char *name, const unsigned char *bytes,
                      size_t length)
{
    char *text = NULL, inner[256];
    size_t text_length = 0;
    if (npy_text_from_buffer(bytes, length, &text, &text_length, inner, sizeof inner))
        return corrupt(ck, name, inner);
    int status = MDNMF_OK;
    if (strcmp(name, "format") == 0 && strcmp(text, CHECKPOINT_FORMAT) != 0)
        status = model_fail(ck->model, MDNMF_ERR_FORMAT,
                            "'%s' is not a checkpoint of this version of mdnmf",
                            ck->resume_path);
    else if (strcmp(name, "run") == 0)
        status = compare_fingerprints(ck, ck->fingerprint ? ck->fingerprint : "", text);
    free(text);
    return status;
}

/* Every member: texts checked at once, arrays kept in ck->saved. */
static int read_members(checkpoint *ck, zip_t *archive, int *texts)
{
    zip_int64_t entries = zip_get_num_entries(archive, 0);
    if (entries < FIXED_MEMBERS || entries > MAX_MEMBERS)
        return corrupt(ck, NULL, "too few or too many members");
    ck->saved = calloc((size_t)entries, sizeof *ck->saved);
    if (!ck->saved)
        return model_fail(ck->model, MDNMF_ERR_MEMORY, "out of memory reading '%s'",
                          ck->resume_path);
    int status = MDNMF_OK;
    for (zip_int64_t i = 0; i < entries && !status; i++) {
        char name[NAME_SIZE];
        unsigned char *bytes = NULL;
        size_t length = 0;
        status = read_member(ck, archive, (zip_uint64_t)i, name, &bytes, &length);
        if (status)
            break;
        if (find_saved(ck, name))
            status = corrupt(ck, name, "a member given twice");
        else if (strcmp(name, "format") == 0 || strcmp(name, "run") == 0)
            status = check_text(ck, name, bytes, length), ++*texts;
        else if (strcmp(name, "history") == 0)
            status = parse_array(ck, name, bytes, length, 2, HISTORY_COLUMNS,
                                 &ck->saved[ck->saved_count++]);
        else
            status = parse_array(ck, name, bytes, length, 1, 0, &ck->saved[ck->saved_count++]);
        free(bytes);
    }
    return status;
}

/* The position and the history, copied into the run's own. */
static int adopt_position(checkpoint *ck)
{
    const ck_array *position = find_saved(ck, "position");
    const ck_array *history = find_saved(ck, "history");
    if (!position || position->kind != CHECKPOINT_U64 || position->count != 2)
        return corrupt(ck, "position", "missing, or not two integers");
    if (!history || history->kind != CHECKPOINT_F64)
        return corrupt(ck, "history", "missing");
    const uint64_t *at = position->data;
    if (at[0] >= (uint64_t)(ck->stages > 0 ? ck->stages : 1) || at[1] > (uint64_t)INT32_MAX)
        return corrupt(ck, "position", "a stage or epoch out of range");
    ck->resume_stage = (int)at[0];
    ck->resume_epoch = (int)at[1];
    int64_t rows = history->count / HISTORY_COLUMNS;
    double *copy = malloc((size_t)(rows + 64) * HISTORY_COLUMNS * sizeof(double));
    if (!copy)
        return model_fail(ck->model, MDNMF_ERR_MEMORY, "out of memory reading '%s'",
                          ck->resume_path);
    memcpy(copy, history->data, (size_t)history->count * sizeof(double));
    free(ck->history);
    ck->history = copy;
    ck->history_rows = rows;
    ck->history_capacity = rows + 64;
    ck->stage = ck->resume_stage;
    ck->epoch = ck->resume_epoch;
    ck->stage_mark = rows;
    ck->resuming = 1;
    return MDNMF_OK;
}

static int load_checkpoint(checkpoint *ck)
{
    int status = read_file(ck);
    if (status)
        return status;
    zip_error_t error;
    zip_error_init(&error);
    zip_source_t *source = zip_source_buffer_create(ck->file, ck->file_length, 0, &error);
    zip_t *archive = source ? zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error)
                            : NULL;
    if (!archive) {
        zip_source_free(source);
        status = corrupt(ck, NULL, zip_error_strerror(&error));
        zip_error_fini(&error);
        return status;
    }
    zip_error_fini(&error);
    int texts = 0;
    status = read_members(ck, archive, &texts);
    zip_discard(archive); /* frees the source too */
    if (!status && texts != 2)
        status = corrupt(ck, NULL, "no format or fingerprint");
    return status ? status : adopt_position(ck);
}

/* Sharded: whether any process's callback stopped (MDNMF_ERR_IO if the
 * reduce failed).  Unsharded: `stop`. */
static int shared_stop(checkpoint *ck, int stop, int *status)
{
    if (!ck->shard)
        return stop;
    float any = stop ? 1.0f : 0.0f;
    *status = shard_reduce_buffer(ck->model, ck->shard, &any, 1, MDNMF_REDUCE_MAX_F32);
    return any > 0.0f;
}

/* The saved epochs, to the callback, as they were reported.  Sharded, every
 * process replays the same rows (the positions agree), so every process
 * takes part in each row's combined stop. */
static int replay_history(checkpoint *ck)
{
    for (int64_t r = 0; ck->on_epoch && r < ck->history_rows; r++) {
        const double *row = ck->history + r * HISTORY_COLUMNS;
        mdnmf_progress progress = {.stage = (int)row[0], .epoch = (int)row[1],
                                   .epochs = (int)row[2], .stages = (int)row[3],
                                   .loss_true = row[4], .loss_adv = row[5],
                                   .objective = row[6], .replayed = 1};
        int reduced = MDNMF_OK;
        int stop = ck->on_epoch(ck->on_epoch_user, &progress);
        if (!shared_stop(ck, stop, &reduced))
            continue;
        if (reduced)
            return reduced;
        /* Stopped before anything new: the checkpoint to leave is the one read. */
        int status = ck->write_path ? write_bytes(ck, ck->file, ck->file_length) : MDNMF_OK;
        status = ck->shard ? shard_agree(ck->model, ck->shard, status) : status;
        return status ? status
                      : model_fail(ck->model, MDNMF_ERR_CANCELLED,
                                   "fit cancelled while replaying the checkpoint");
    }
    return MDNMF_OK;
}

/* Sharded: the processes' resumed positions agree (all resume the same
 * stage and epoch, or none resumes), else every process fails naming the
 * range.  Floats hold stages and epochs exactly (< 2^24). */
static int agree_positions(checkpoint *ck)
{
    float resuming = ck->resume_path ? 1.0f : 0.0f;
    float stage = resuming ? (float)ck->resume_stage : -1.0f;
    float epoch = resuming ? (float)ck->resume_epoch : -1.0f;
    float range[6] = {resuming, stage, epoch, -resuming, -stage, -epoch};
    int status = shard_reduce_buffer(ck->model, ck->shard, range, 6, MDNMF_REDUCE_MAX_F32);
    if (status)
        return status;
    if (range[0] != -range[3])
        return model_fail(ck->model, MDNMF_ERR_ARGUMENT,
                          "some processes of the sharded fit resume a checkpoint and others do "
                          "not; give every process its own checkpoint of the same set");
    if (range[1] != -range[4] || range[2] != -range[5])
        return model_fail(ck->model, MDNMF_ERR_FORMAT,
                          "the processes' checkpoints are at different epochs (from stage %d "
                          "epoch %d to stage %d epoch %d; this process's '%s' is at stage %d "
                          "epoch %d): a crash between two processes' writes? resume from a "
                          "set written at one epoch, or start again",
                          (int)-range[4], (int)-range[5], (int)range[1], (int)range[2],
                          ck->resume_path, ck->resume_stage, ck->resume_epoch);
    return MDNMF_OK;
}

static int begin_sharded(checkpoint *ck)
{
    int status = ck->resume_path ? load_checkpoint(ck) : MDNMF_OK;
    /* A process that cannot read its file stops them all. */
    status = shard_agree(ck->model, ck->shard, status);
    if (!status)
        status = agree_positions(ck);
    if (!status && ck->resume_path)
        status = replay_history(ck);
    return status;
}

int checkpoint_begin(checkpoint *ck)
{
    if (!ck)
        return MDNMF_OK;
    if (ck->out_of_memory)
        return model_fail(ck->model, MDNMF_ERR_MEMORY, "out of memory for a checkpoint");
    if (ck->shard)
        return begin_sharded(ck);
    if (!ck->resume_path)
        return MDNMF_OK;
    int status = load_checkpoint(ck);
    return status ? status : replay_history(ck);
}

/* ------------------------------------------------------------ resuming */

int checkpoint_skips(const checkpoint *ck, int stage)
{
    return ck && ck->resuming && stage < ck->resume_stage;
}

int checkpoint_restores(const checkpoint *ck, int stage)
{
    return ck && ck->resuming && stage == ck->resume_stage && ck->resume_epoch >= 1;
}

int checkpoint_first_epoch(checkpoint *ck, int stage)
{
    if (!ck || !ck->resuming || stage != ck->resume_stage)
        return 1;
    ck->resuming = 0;
    forget_resumed_file(ck);
    return ck->resume_epoch + 1;
}

int checkpoint_restore(checkpoint *ck, const char *name, checkpoint_kind kind, void *data,
                       int64_t count)
{
    if (!ck)
        return MDNMF_OK;
    const ck_array *a = find_saved(ck, name);
    if (!a || a->kind != kind || a->count != count) {
        char what[128];
        snprintf(what, sizeof what, "%s, where this run needs %lld values",
                 a ? "of another type or size" : "missing", (long long)count);
        return corrupt(ck, name, what);
    }
    memcpy(data, a->data, (size_t)count * kind_size(kind));
    return MDNMF_OK;
}

int checkpoint_pending(const checkpoint *ck)
{
    return ck && ck->resuming;
}

/* ------------------------------------------------------------ progress */

void checkpoint_stage_begins(checkpoint *ck, int stage)
{
    if (!ck)
        return;
    ck->stage = stage;
    ck->epoch = 0;
    ck->stage_mark = ck->history_rows;
}

void checkpoint_record(checkpoint *ck, const mdnmf_progress *progress)
{
    if (!ck)
        return;
    if (ck->history_rows == ck->history_capacity) {
        int64_t capacity = 2 * ck->history_capacity + 64;
        double *grown = realloc(ck->history,
                                (size_t)capacity * HISTORY_COLUMNS * sizeof *grown);
        if (!grown) {
            ck->out_of_memory = 1;
            return;
        }
        ck->history = grown;
        ck->history_capacity = capacity;
    }
    double *row = ck->history + ck->history_rows++ * HISTORY_COLUMNS;
    row[0] = progress->stage, row[1] = progress->epoch, row[2] = progress->epochs;
    row[3] = progress->stages, row[4] = progress->loss_true, row[5] = progress->loss_adv;
    row[6] = progress->objective;
}

int checkpoint_epoch_ends(checkpoint *ck, int stage, int epoch, int status)
{
    if (!ck || (status != MDNMF_OK && status != MDNMF_ERR_CANCELLED))
        return status;
    ck->stage = stage;
    ck->epoch = epoch;
    int due = status == MDNMF_ERR_CANCELLED || (epoch >= 1 && epoch % ck->every == 0);
    if (!ck->write_path || !due)
        return status;
    if (ck->out_of_memory)
        return model_fail(ck->model, MDNMF_ERR_MEMORY, "out of memory for a checkpoint");
    int written = write_checkpoint(ck);
    /* Sharded: every process writes at the same epochs; one's failed write
     * stops them all. */
    written = shard_agree(ck->model, ck->shard, written);
    return written ? written : status;
}

int checkpoint_writes(const checkpoint *ck)
{
    return ck && ck->write_path;
}
