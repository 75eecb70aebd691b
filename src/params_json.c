/* A model's settings as its params JSON (jansson), and back: the
 * mdnmf_params keys, then a "separator" and an "audio" object when the model
 * has them, in the order of the table below.  Reals are written with 17
 * significant digits, which read back as the same double; jansson writes and
 * reads a '.' whatever the locale.  Reading applies the keys it knows and
 * ignores the others (keys of newer versions); null keeps the value. */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <float.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_FORMAT_NAME "mdnmf-model"

typedef enum field_kind {
    INT, INT64, UINT64, REAL, FLAG, INIT, SAMPLE, MODE, DIVERGENCE
} field_kind;

/* The objects a key may be in: the document itself, then the nested ones. */
enum { TOP, SEPARATOR, AUDIO };
static const char *const object_names[] = {NULL, "separator", "audio"};

/* A key and where its value lives in a model_settings; a list has one int64
 * or double per source. */
typedef struct field {
    int object;
    const char *name;
    field_kind kind;
    size_t offset;
    int list;
    int omitted_when_zero; /* a key newer than the format: written only when
                              not 0 (its default), so that the files of fits
                              that do not use it stay as they were */
} field;
_Static_assert(sizeof(int64_t) == sizeof(double), "list items are 8 bytes");

#define P(name, kind) {TOP, #name, kind, offsetof(model_settings, params.name), 0, 0}
#define S(name, kind, list) {SEPARATOR, #name, kind, offsetof(model_settings, separator.name), list, 0}
#define A(name) {AUDIO, #name, INT, offsetof(model_settings, audio.name), 0, 0}
#define P_NEWER(name, kind) {TOP, #name, kind, offsetof(model_settings, params.name), 0, 1}
#define A_NEWER(name) {AUDIO, #name, INT, offsetof(model_settings, audio.name), 0, 1}
static const field fields[] = {
    P(d, INT), P(epochs, INT), P(test_epochs, INT), P(batch_size, INT64),
    P(batch_size_adv, INT64), P(init, INIT), P(mu_W, REAL), P(mu_H, REAL), P(tau_A, REAL),
    P(tau_W, REAL), P(normalize, FLAG), P(update_H, FLAG), P(true_sample, SAMPLE),
    P(seed, UINT64), P(threads, INT), P_NEWER(init_H_steps, INT),
    P_NEWER(divergence, DIVERGENCE), P_NEWER(per_sample_init, FLAG),
    S(mode, MODE, 0), S(sources, INT, 0), S(tau_S, REAL, 0), S(batch_size_sup, INT64, 0),
    S(warm_start_epochs, INT, 0), S(d, INT64, 1), S(mu_H, REAL, 1), S(tau_A, REAL, 1),
    S(beta, REAL, 1), S(noise_steps, INT, 0), S(wiener_exponent, REAL, 0),
    A(sample_rate), A(n_fft), A(hop_length), A(win_length), A_NEWER(power), A_NEWER(context),
};
#define FIELD_COUNT (sizeof fields / sizeof *fields)

/* The enums are written by their names in the library's one table. */
static const mdnmf_enum enum_of[] = {[INIT] = MDNMF_ENUM_INIT, [SAMPLE] = MDNMF_ENUM_TRUE_SAMPLE,
                                     [MODE] = MDNMF_ENUM_MODE,
                                     [DIVERGENCE] = MDNMF_ENUM_DIVERGENCE};

/* jansson's integers are int64 and it refuses larger ones, but a seed is a
 * uint64 written as a bare integer (by Python too).  Such a number passes
 * through jansson as the string BIG_MARK + digits: the writer unquotes it in
 * json_dumps's text, the reader quotes it and parses again (so a "+DIGITS"
 * string written by hand reads as that number too). */
#define BIG_MARK '+'

/* --------------------------------------------------------------- writing */

static json_t *value_to_json(field_kind kind, const char *at)
{
    char big[24];
    switch (kind) {
    case INT: return json_integer(*(const int *)at);
    case INT64: return json_integer(*(const int64_t *)at);
    case UINT64:
        if (*(const uint64_t *)at <= INT64_MAX)
            return json_integer((json_int_t)*(const uint64_t *)at);
        snprintf(big, sizeof big, "%c%" PRIu64, BIG_MARK, *(const uint64_t *)at);
        return json_string(big);
    case REAL: /* JSON has no inf or NaN; such a value never passes a check */
        return isfinite(*(const double *)at) ? json_real(*(const double *)at) : json_null();
    case FLAG: return json_boolean(*(const int *)at);
    case INIT: case SAMPLE: case MODE: case DIVERGENCE:
        return json_string(mdnmf_enum_name(enum_of[kind], *(const int *)at));
    }
    return NULL;
}

static json_t *field_to_json(const field *f, const char *at, int sources)
{
    json_t *list = f->list ? json_array() : NULL;
    for (int k = 0; list && k < sources; k++) {
        if (json_array_append_new(list, value_to_json(f->kind, at + 8 * k)) != 0) {
            json_decref(list);
            return NULL;
        }
    }
    return f->list ? list : value_to_json(f->kind, at);
}

/* json_dumps's text with every BIG_MARK string back to a bare integer (no
 * other string written here starts with BIG_MARK). */
static char *dump_unquoting_big_integers(const json_t *root)
{
    static const char opening[] = {'"', BIG_MARK, '\0'};
    char *text = json_dumps(root, JSON_REAL_PRECISION(17));
    for (char *at = text ? strstr(text, opening) : NULL; at; at = strstr(at, opening)) {
        const size_t digits = strspn(at + 2, "0123456789");
        memmove(at, at + 2, digits);
        memmove(at + digits, at + digits + 3, strlen(at + digits + 3) + 1);
    }
    return text;
}

char *model_params_to_json(const model_settings *settings)
{
    const int present[] = {1, settings->has_separator, settings->has_audio};
    const int sources = settings->separator.sources < MDNMF_MAX_SOURCES
                            ? settings->separator.sources
                            : MDNMF_MAX_SOURCES;
    json_t *root = json_pack("{s:s, s:s}", "format", MODEL_FORMAT_NAME, "version",
                             MDNMF_VERSION_STRING);
    int failed = !root;
    for (size_t i = 0; i < FIELD_COUNT && !failed; i++) {
        const field *f = &fields[i];
        const char *name = object_names[f->object];
        json_t *object = name ? json_object_get(root, name) : root;
        const char *at = (const char *)settings + f->offset;
        if (!present[f->object] || (f->omitted_when_zero && *(const int *)at == 0))
            continue;
        if (!object) { /* the first key of a nested object */
            object = json_object();
            failed = json_object_set_new(root, name, object) != 0;
        }
        failed = failed || json_object_set_new(object, f->name, field_to_json(f, at, sources));
    }
    char *text = failed ? NULL : dump_unquoting_big_integers(root);
    json_decref(root);
    return text;
}

/* --------------------------------------------------------------- reading */

/* json_loadb, with each integer above INT64_MAX quoted behind BIG_MARK (in
 * a copy) and the text parsed again; jansson's error position is just after
 * the number it refused.  A later error is reported where it is in `text`. */
static json_t *parse_with_big_integers(const char *text, size_t length, json_error_t *error)
{
    enum { MOST_QUOTED = 16 };
    size_t quoted_at[MOST_QUOTED], quoted = 0;
    json_t *root;
    char *copy = NULL;
    while (!(root = json_loadb(text, length, 0, error)) && quoted < MOST_QUOTED
           && strncmp(error->text, "too big integer", 15) == 0) {
        const size_t end = (size_t)error->position;
        size_t start = end;
        while (start > 0 && text[start - 1] >= '0' && text[start - 1] <= '9')
            start--;
        char *with_quotes = end <= length && start < end ? malloc(length + 3) : NULL;
        if (!with_quotes)
            break;
        memcpy(with_quotes, text, start);
        memcpy(with_quotes + start, (const char[]){'"', BIG_MARK}, 2);
        memcpy(with_quotes + start + 2, text + start, end - start);
        with_quotes[end + 2] = '"';
        memcpy(with_quotes + end + 3, text + end, length - end);
        free(copy);
        text = copy = with_quotes;
        length += 3;
        quoted_at[quoted++] = start;
    }
    for (size_t k = quoted; !root && k-- > 0;) { /* each quoting added 3 characters */
        if (quoted_at[k] < (size_t)error->position) {
            const size_t span = (size_t)error->position - quoted_at[k];
            error->column -= memchr(text + quoted_at[k], '\n', span) ? 0 : 3;
            error->position -= 3;
        }
    }
    free(copy);
    return root;
}

/* A whole number in [low, high]: an integer, a real without a fraction or
 * a BIG_MARK string.  A long double holds every int64 and uint64 exactly. */
_Static_assert(LDBL_MANT_DIG >= 64, "long double must hold 64-bit integers exactly");
static int whole_number(const json_t *v, long double low, long double high, long double *out)
{
    const char *big = json_string_value(v);
    char *end = NULL;
    if (json_is_integer(v))
        *out = (long double)json_integer_value(v);
    else if (json_is_real(v))
        *out = json_real_value(v);
    else if (big && big[0] == BIG_MARK && big[1] >= '0' && big[1] <= '9')
        *out = strtold(big + 1, &end);
    else
        return 0;
    return (!end || *end == '\0') && *out == floorl(*out) && *out >= low && *out <= high;
}

/* Store `v` into the value at `at`; NULL, or what is wrong with it. */
static const char *value_from_json(const json_t *v, field_kind kind, char *at)
{
    static const long double low[] = {[INT] = INT_MIN, [INT64] = INT64_MIN, [UINT64] = 0};
    static const long double high[] = {[INT] = INT_MAX, [INT64] = INT64_MAX,
                                       [UINT64] = UINT64_MAX};
    long double n = 0;
    if (kind <= UINT64 && !whole_number(v, low[kind], high[kind], &n))
        return "must be an integer in range";
    if (kind == REAL && !json_is_number(v))
        return "must be a number";
    if (kind == FLAG && !json_is_boolean(v) && !whole_number(v, 0, 1, &n))
        return "must be true or false";
    if (kind >= INIT && !(json_is_string(v) && mdnmf_enum_value(enum_of[kind], json_string_value(v),
                                                                (int *)at, NULL) == MDNMF_OK))
        return "is none of the names it takes (mdnmf_*_names)";
    switch (kind) {
    case INT: *(int *)at = (int)n; break;
    case INT64: *(int64_t *)at = (int64_t)n; break;
    case UINT64: *(uint64_t *)at = (uint64_t)n; break;
    case REAL: *(double *)at = json_number_value(v); break;
    case FLAG: *(int *)at = json_is_boolean(v) ? json_is_true(v) : (int)n; break;
    default: break; /* names are stored by the checks above */
    }
    return NULL;
}

static const char *field_from_json(const field *f, const json_t *v, char *at)
{
    if (!f->list)
        return value_from_json(v, f->kind, at);
    if (!json_is_array(v) || json_array_size(v) > MDNMF_MAX_SOURCES)
        return "must be a list of at most 16 values";
    const char *wrong = NULL;
    for (size_t k = 0; k < json_array_size(v) && !wrong; k++)
        wrong = value_from_json(json_array_get(v, k), f->kind, at + 8 * k);
    return wrong;
}

int model_params_from_json(const char *json, size_t length, model_settings *settings,
                           char *message, size_t size)
{
    json_error_t error;
    json_t *root = parse_with_big_integers(json, length, &error);
    if (!root) {
        message_printf(message, size, "params JSON: line %d, column %d: %s", error.line,
                       error.column, error.text);
        return json_error_code(&error) == json_error_out_of_memory ? MDNMF_ERR_MEMORY
                                                                   : MDNMF_ERR_FORMAT;
    }
    model_settings read = *settings; /* a failure leaves *settings as it was */
    const char *format = json_string_value(json_object_get(root, "format")), *wrong = NULL;
    if (!json_is_object(root))
        wrong = "the document is not an object";
    else if (json_object_get(root, "format") && !(format && !strcmp(format, MODEL_FORMAT_NAME)))
        wrong = "\"format\" is not \"" MODEL_FORMAT_NAME "\"";
    if (wrong)
        message_printf(message, size, "params JSON: %s", wrong);
    for (size_t i = 0; i < FIELD_COUNT && !wrong; i++) {
        const field *f = &fields[i];
        const char *object = object_names[f->object];
        const json_t *v = json_object_get(object ? json_object_get(root, object) : root, f->name);
        if (v && !json_is_null(v) && (wrong = field_from_json(f, v, (char *)&read + f->offset)))
            message_printf(message, size, "params JSON: \"%s%s%s\" %s", object ? object : "",
                           object ? "." : "", f->name, wrong);
    }
    /* A "separator" or "audio" that is not an object is ignored. */
    read.has_separator = json_is_object(json_object_get(root, "separator"));
    read.has_audio = json_is_object(json_object_get(root, "audio"));
    json_decref(root);
    if (wrong)
        return MDNMF_ERR_FORMAT;
    *settings = read;
    return MDNMF_OK;
}
