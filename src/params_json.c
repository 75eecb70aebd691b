/* A model's parameters as a flat JSON object, and back.
 *
 * Numbers are written and read in the "C" locale of the calling thread only
 * (uselocale), so a program running under, say, de_DE still writes "0.1".
 * The reader is a small strict JSON parser: it checks the whole document,
 * applies the keys it knows and ignores the others, whatever their value. */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64

typedef enum field_kind {
    FIELD_INT,
    FIELD_INT64,
    FIELD_UINT64,
    FIELD_DOUBLE,
    FIELD_BOOL,
    FIELD_INIT,
    FIELD_SAMPLE
} field_kind;

typedef struct field {
    const char *name;
    field_kind kind;
    size_t offset;
} field;

/* The keys, in the order they are written. */
static const field fields[] = {
    {"d", FIELD_INT, offsetof(mdnmf_params, d)},
    {"epochs", FIELD_INT, offsetof(mdnmf_params, epochs)},
    {"test_epochs", FIELD_INT, offsetof(mdnmf_params, test_epochs)},
    {"batch_size", FIELD_INT64, offsetof(mdnmf_params, batch_size)},
    {"batch_size_adv", FIELD_INT64, offsetof(mdnmf_params, batch_size_adv)},
    {"init", FIELD_INIT, offsetof(mdnmf_params, init)},
    {"mu_W", FIELD_DOUBLE, offsetof(mdnmf_params, mu_W)},
    {"mu_H", FIELD_DOUBLE, offsetof(mdnmf_params, mu_H)},
    {"tau_A", FIELD_DOUBLE, offsetof(mdnmf_params, tau_A)},
    {"tau_W", FIELD_DOUBLE, offsetof(mdnmf_params, tau_W)},
    {"normalize", FIELD_BOOL, offsetof(mdnmf_params, normalize)},
    {"update_H", FIELD_BOOL, offsetof(mdnmf_params, update_H)},
    {"true_sample", FIELD_SAMPLE, offsetof(mdnmf_params, true_sample)},
    {"seed", FIELD_UINT64, offsetof(mdnmf_params, seed)},
    {"threads", FIELD_INT, offsetof(mdnmf_params, threads)},
};

static const char *const init_names[] = {"exemplar", "random"};
static const char *const sample_names[] = {"std", "adv", "min"};

#define MODEL_FORMAT_NAME "mdnmf-model"

/* ------------------------------------------------------------- C locale */

/* Switch this thread's numeric locale to "C"; NULL if that failed. */
static locale_t c_numeric_begin(locale_t *previous)
{
    locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (c_locale)
        *previous = uselocale(c_locale);
    return c_locale;
}

static void c_numeric_end(locale_t c_locale, locale_t previous)
{
    uselocale(previous);
    freelocale(c_locale);
}

/* --------------------------------------------------------------- writing */

static int append_value(char *out, size_t size, const mdnmf_params *p, const field *f)
{
    const char *at = (const char *)p + f->offset;
    switch (f->kind) {
    case FIELD_INT:
        return snprintf(out, size, "%d", *(const int *)at);
    case FIELD_INT64:
        return snprintf(out, size, "%" PRId64, *(const int64_t *)at);
    case FIELD_UINT64:
        return snprintf(out, size, "%" PRIu64, *(const uint64_t *)at);
    case FIELD_DOUBLE: {
        const double value = *(const double *)at;
        /* JSON has no inf or NaN; such a value never passes params_check. */
        return isfinite(value) ? snprintf(out, size, "%.17g", value) : snprintf(out, size, "null");
    }
    case FIELD_BOOL:
        return snprintf(out, size, "%s", *(const int *)at ? "true" : "false");
    case FIELD_INIT: {
        const unsigned v = (unsigned)*(const mdnmf_init *)at;
        return snprintf(out, size, "\"%s\"", v < 2 ? init_names[v] : "unknown");
    }
    case FIELD_SAMPLE: {
        const unsigned v = (unsigned)*(const mdnmf_true_sample *)at;
        return snprintf(out, size, "\"%s\"", v < 3 ? sample_names[v] : "unknown");
    }
    }
    return 0;
}

/* The separator's own keys as `, "separator": {...}` (SPEC §6 parameters). */
static size_t append_separator(char *text, size_t size, const mdnmf_separator_params *sep)
{
    size_t used = (size_t)snprintf(text, size,
                                   ", \"separator\": {\"mode\": \"%s\", \"sources\": %d, "
                                   "\"tau_S\": %.17g, \"batch_size_sup\": %" PRId64
                                   ", \"warm_start_epochs\": %d",
                                   separator_mode_name(sep->mode), sep->sources, sep->tau_S,
                                   sep->batch_size_sup, sep->warm_start_epochs);
    const struct { const char *name; const double *values; } lists[] = {
        {"mu_H", sep->mu_H}, {"tau_A", sep->tau_A}, {"beta", sep->beta}};
    if (used < size)
        used += (size_t)snprintf(text + used, size - used, ", \"d\": [");
    for (int s = 0; s < sep->sources && used < size; s++)
        used += (size_t)snprintf(text + used, size - used, "%s%" PRId64, s ? ", " : "", sep->d[s]);
    for (size_t l = 0; l < sizeof lists / sizeof *lists && used < size; l++) {
        used += (size_t)snprintf(text + used, size - used, "], \"%s\": [", lists[l].name);
        for (int s = 0; s < sep->sources && used < size; s++)
            used += (size_t)snprintf(text + used, size - used, "%s%.17g", s ? ", " : "",
                                     lists[l].values[s]);
    }
    if (used < size)
        used += (size_t)snprintf(text + used, size - used, "]}");
    return used;
}

static size_t append_audio(char *text, size_t size, const mdnmf_audio_params *audio)
{
    return (size_t)snprintf(text, size,
                            ", \"audio\": {\"sample_rate\": %d, \"n_fft\": %d, "
                            "\"hop_length\": %d, \"win_length\": %d}",
                            audio->sample_rate, audio->n_fft, audio->hop_length,
                            audio->win_length);
}

char *params_to_json(const mdnmf_params *p)
{
    return model_params_to_json(p, NULL, NULL);
}

char *model_params_to_json(const mdnmf_params *p, const mdnmf_separator_params *sep,
                           const mdnmf_audio_params *audio)
{
    char text[8192];
    size_t used = 0;
    locale_t previous;
    locale_t c_locale = c_numeric_begin(&previous);
    if (!c_locale)
        return NULL;
    used += (size_t)snprintf(text, sizeof text, "{\"format\": \"%s\", \"version\": \"%s\"",
                             MODEL_FORMAT_NAME, MDNMF_VERSION_STRING);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0] && used < sizeof text; i++) {
        used += (size_t)snprintf(text + used, sizeof text - used, ", \"%s\": ", fields[i].name);
        if (used < sizeof text)
            used += (size_t)append_value(text + used, sizeof text - used, p, &fields[i]);
    }
    if (sep && used < sizeof text)
        used += append_separator(text + used, sizeof text - used, sep);
    if (audio && used < sizeof text)
        used += append_audio(text + used, sizeof text - used, audio);
    c_numeric_end(c_locale, previous);
    if (used + 2 > sizeof text)
        return NULL; /* cannot happen: every field is short */
    text[used++] = '}';
    text[used] = '\0';
    char *json = malloc(used + 1);
    if (json)
        memcpy(json, text, used + 1);
    return json;
}

/* --------------------------------------------------------------- parsing */

typedef struct json_parser {
    const char *start;
    const char *at;
    const char *end;
    int depth;
    char *message;
    size_t size;
} json_parser;

typedef enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_COMPOUND } json_type;

typedef struct json_value {
    json_type type;
    int boolean;
    const char *number; /* the number's text in the document */
    size_t number_length;
    char *string;       /* decoded UTF-8, malloc'ed */
} json_value;

static int json_fail(json_parser *p, const char *what)
{
    message_printf(p->message, p->size, "malformed params JSON at offset %td: %s",
                   p->at - p->start, what);
    return MDNMF_ERR_FORMAT;
}

static void json_skip_space(json_parser *p)
{
    while (p->at < p->end && (*p->at == ' ' || *p->at == '\t' || *p->at == '\n' || *p->at == '\r'))
        p->at++;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Four hex digits after "\u"; -1 if malformed. */
static long read_hex4(json_parser *p)
{
    if (p->end - p->at < 4)
        return -1;
    long value = 0;
    for (int i = 0; i < 4; i++) {
        const int digit = hex_value(p->at[i]);
        if (digit < 0)
            return -1;
        value = value * 16 + digit;
    }
    p->at += 4;
    return value;
}

static size_t encode_utf8(unsigned long cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* "\uXXXX" (a surrogate pair taking two of them) as one code point. */
static int read_unicode_escape(json_parser *p, unsigned long *cp)
{
    const long high = read_hex4(p);
    if (high < 0)
        return json_fail(p, "bad \\u escape");
    if (high >= 0xdc00 && high <= 0xdfff)
        return json_fail(p, "unpaired surrogate in \\u escape");
    if (high < 0xd800 || high > 0xdbff) {
        *cp = (unsigned long)high;
        return MDNMF_OK;
    }
    if (p->end - p->at < 2 || p->at[0] != '\\' || p->at[1] != 'u')
        return json_fail(p, "unpaired surrogate in \\u escape");
    p->at += 2;
    const long low = read_hex4(p);
    if (low < 0xdc00 || low > 0xdfff)
        return json_fail(p, "unpaired surrogate in \\u escape");
    *cp = 0x10000 + (((unsigned long)high - 0xd800) << 10) + ((unsigned long)low - 0xdc00);
    return MDNMF_OK;
}

static int read_escape(json_parser *p, char *out, size_t *written)
{
    if (p->at >= p->end)
        return json_fail(p, "unterminated string");
    const char c = *p->at++;
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *known = c ? strchr(from, c) : NULL;
    if (known) {
        *out = to[known - from];
        *written = 1;
        return MDNMF_OK;
    }
    if (c != 'u')
        return json_fail(p, "unknown escape in a string");
    unsigned long cp = 0;
    int status = read_unicode_escape(p, &cp);
    if (status)
        return status;
    *written = encode_utf8(cp, out);
    return MDNMF_OK;
}

/* A string starting at '"', decoded to malloc'ed UTF-8 (decoding never
 * makes it longer than its source text). */
static int json_read_string(json_parser *p, char **result)
{
    p->at++; /* the opening quote */
    const char *scan = p->at;
    while (scan < p->end && *scan != '"')
        scan += (*scan == '\\' && scan + 1 < p->end) ? 2 : 1;
    if (scan >= p->end)
        return json_fail(p, "unterminated string");
    char *out = malloc((size_t)(scan - p->at) + 1);
    if (!out)
        return json_fail(p, "out of memory");
    size_t length = 0;
    while (*p->at != '"') {
        const unsigned char c = (unsigned char)*p->at;
        if (c < 0x20) {
            free(out);
            return json_fail(p, "control character in a string");
        }
        p->at++;
        if (c != '\\') {
            out[length++] = (char)c;
            continue;
        }
        size_t written = 0;
        int status = read_escape(p, out + length, &written);
        if (status) {
            free(out);
            return status;
        }
        length += written;
    }
    p->at++; /* the closing quote */
    out[length] = '\0';
    *result = out;
    return MDNMF_OK;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Check the JSON number grammar: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)? */
static int json_read_number(json_parser *p, json_value *v)
{
    const char *start = p->at;
    if (p->at < p->end && *p->at == '-')
        p->at++;
    if (p->at < p->end && *p->at == '0')
        p->at++;
    else if (p->at < p->end && is_digit(*p->at))
        while (p->at < p->end && is_digit(*p->at))
            p->at++;
    else
        return json_fail(p, "bad number");
    if (p->at < p->end && *p->at == '.') {
        p->at++;
        if (p->at >= p->end || !is_digit(*p->at))
            return json_fail(p, "bad number");
        while (p->at < p->end && is_digit(*p->at))
            p->at++;
    }
    if (p->at < p->end && (*p->at == 'e' || *p->at == 'E')) {
        p->at++;
        if (p->at < p->end && (*p->at == '+' || *p->at == '-'))
            p->at++;
        if (p->at >= p->end || !is_digit(*p->at))
            return json_fail(p, "bad number");
        while (p->at < p->end && is_digit(*p->at))
            p->at++;
    }
    v->type = JSON_NUMBER;
    v->number = start;
    v->number_length = (size_t)(p->at - start);
    return MDNMF_OK;
}

static int json_read_literal(json_parser *p, json_value *v)
{
    static const struct { const char *word; json_type type; int boolean; } literals[] = {
        {"true", JSON_BOOL, 1}, {"false", JSON_BOOL, 0}, {"null", JSON_NULL, 0}};
    for (size_t i = 0; i < sizeof literals / sizeof literals[0]; i++) {
        const size_t n = strlen(literals[i].word);
        if ((size_t)(p->end - p->at) >= n && memcmp(p->at, literals[i].word, n) == 0) {
            p->at += n;
            v->type = literals[i].type;
            v->boolean = literals[i].boolean;
            return MDNMF_OK;
        }
    }
    return json_fail(p, "unexpected character");
}

static int json_read_value(json_parser *p, json_value *v);

/* An object or array whose content is checked and thrown away. */
static int json_skip_compound(json_parser *p)
{
    const char close = *p->at == '{' ? '}' : ']';
    const int object = close == '}';
    if (++p->depth > JSON_MAX_DEPTH)
        return json_fail(p, "nested too deeply");
    p->at++;
    json_skip_space(p);
    if (p->at < p->end && *p->at == close) {
        p->at++;
        p->depth--;
        return MDNMF_OK;
    }
    for (;;) {
        json_value item = {0};
        json_skip_space(p);
        if (object) {
            if (p->at >= p->end || *p->at != '"')
                return json_fail(p, "expected a key");
            int status = json_read_string(p, &item.string);
            if (status)
                return status;
            free(item.string);
            item.string = NULL;
            json_skip_space(p);
            if (p->at >= p->end || *p->at++ != ':')
                return json_fail(p, "expected ':'");
        }
        int status = json_read_value(p, &item);
        free(item.string);
        if (status)
            return status;
        json_skip_space(p);
        if (p->at < p->end && *p->at == ',') {
            p->at++;
            continue;
        }
        if (p->at < p->end && *p->at == close) {
            p->at++;
            p->depth--;
            return MDNMF_OK;
        }
        return json_fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int json_read_value(json_parser *p, json_value *v)
{
    json_skip_space(p);
    if (p->at >= p->end)
        return json_fail(p, "unexpected end");
    const char c = *p->at;
    if (c == '"') {
        v->type = JSON_STRING;
        return json_read_string(p, &v->string);
    }
    if (c == '{' || c == '[') {
        v->type = JSON_COMPOUND;
        return json_skip_compound(p);
    }
    if (c == '-' || is_digit(c))
        return json_read_number(p, v);
    return json_read_literal(p, v);
}

/* ---------------------------------------------------- applying the values */

static int field_fail(json_parser *p, const char *name, const char *what)
{
    message_printf(p->message, p->size, "params JSON: \"%s\" %s", name, what);
    return MDNMF_ERR_FORMAT;
}

static int number_is_integer_text(const char *text)
{
    return strpbrk(text, ".eE") == NULL;
}

/* The number as a double (C locale); 0 if it is out of double range. */
static int number_to_double(const char *text, double *value)
{
    locale_t previous;
    locale_t c_locale = c_numeric_begin(&previous);
    if (!c_locale)
        return 0;
    errno = 0;
    *value = strtod(text, NULL);
    c_numeric_end(c_locale, previous);
    return isfinite(*value);
}

/* An integer in [low, high] given as an integer or an integral number. */
static int number_to_integer(const char *text, int64_t low, uint64_t high, int *negative,
                             uint64_t *magnitude)
{
    *negative = text[0] == '-';
    if (number_is_integer_text(text)) {
        errno = 0;
        *magnitude = strtoull(text + *negative, NULL, 10);
        if (errno == ERANGE)
            return 0;
    } else {
        double value;
        if (!number_to_double(text, &value) || value != floor(value)
            || fabs(value) >= 18446744073709551616.0)
            return 0;
        *magnitude = (uint64_t)fabs(value);
    }
    if (*negative && *magnitude == 0)
        *negative = 0;
    if (*negative)
        return low < 0 && *magnitude <= (uint64_t)(-(low + 1)) + 1;
    return *magnitude <= high;
}

static int apply_integer(json_parser *p, const field *f, const char *text, void *target)
{
    int64_t low = INT_MIN;
    uint64_t high = INT_MAX;
    if (f->kind == FIELD_INT64) {
        low = INT64_MIN;
        high = INT64_MAX;
    } else if (f->kind == FIELD_UINT64) {
        low = 0;
        high = UINT64_MAX;
    } else if (f->kind == FIELD_BOOL) {
        low = 0;
        high = 1;
    }
    int negative;
    uint64_t magnitude;
    if (!number_to_integer(text, low, high, &negative, &magnitude))
        return field_fail(p, f->name, "is not an integer in range");
    const int64_t value = negative ? (magnitude == (uint64_t)INT64_MAX + 1 ? INT64_MIN
                                                                           : -(int64_t)magnitude)
                                   : (int64_t)magnitude;
    switch (f->kind) {
    case FIELD_INT64: *(int64_t *)target = value; break;
    case FIELD_UINT64: *(uint64_t *)target = magnitude; break;
    default: *(int *)target = (int)value; break;
    }
    return MDNMF_OK;
}

static int apply_number(json_parser *p, const field *f, const json_value *v, void *target)
{
    char text[128];
    if (v->number_length >= sizeof text)
        return field_fail(p, f->name, "has too many digits");
    memcpy(text, v->number, v->number_length);
    text[v->number_length] = '\0';
    if (f->kind != FIELD_DOUBLE)
        return apply_integer(p, f, text, target);
    double value;
    if (!number_to_double(text, &value))
        return field_fail(p, f->name, "is out of range");
    *(double *)target = value;
    return MDNMF_OK;
}

static int apply_name(json_parser *p, const field *f, const char *text, void *target)
{
    const char *const *names = f->kind == FIELD_INIT ? init_names : sample_names;
    const int count = f->kind == FIELD_INIT ? 2 : 3;
    for (int i = 0; i < count; i++) {
        if (strcmp(text, names[i]) == 0) {
            if (f->kind == FIELD_INIT)
                *(mdnmf_init *)target = (mdnmf_init)i;
            else
                *(mdnmf_true_sample *)target = (mdnmf_true_sample)i;
            return MDNMF_OK;
        }
    }
    return field_fail(p, f->name, f->kind == FIELD_INIT ? "is neither \"exemplar\" nor \"random\""
                                                        : "is not \"std\", \"adv\" or \"min\"");
}

static int apply_field(json_parser *p, const field *f, const json_value *v, mdnmf_params *params)
{
    void *target = (char *)params + f->offset;
    if (v->type == JSON_NULL)
        return MDNMF_OK; /* null keeps the default */
    if (f->kind == FIELD_INIT || f->kind == FIELD_SAMPLE) {
        if (v->type != JSON_STRING)
            return field_fail(p, f->name, "must be a string");
        return apply_name(p, f, v->string, target);
    }
    if (f->kind == FIELD_BOOL && v->type == JSON_BOOL) {
        *(int *)target = v->boolean;
        return MDNMF_OK;
    }
    if (v->type != JSON_NUMBER)
        return field_fail(p, f->name, f->kind == FIELD_BOOL ? "must be true or false"
                                                            : "must be a number");
    return apply_number(p, f, v, target);
}

static int apply_member(json_parser *p, const char *key, const json_value *v, mdnmf_params *params)
{
    if (strcmp(key, "format") == 0) {
        if (v->type != JSON_STRING || strcmp(v->string, MODEL_FORMAT_NAME) != 0)
            return field_fail(p, key, "is not \"" MODEL_FORMAT_NAME "\"");
        return MDNMF_OK;
    }
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(key, fields[i].name) == 0)
            return apply_field(p, &fields[i], v, params);
    return MDNMF_OK; /* unknown keys belong to newer versions */
}

static int json_read_member(json_parser *p, mdnmf_params *params)
{
    char *key = NULL;
    json_value value = {0};
    json_skip_space(p);
    if (p->at >= p->end || *p->at != '"')
        return json_fail(p, "expected a key");
    int status = json_read_string(p, &key);
    if (status)
        return status;
    json_skip_space(p);
    if (p->at >= p->end || *p->at++ != ':')
        status = json_fail(p, "expected ':'");
    if (!status)
        status = json_read_value(p, &value);
    if (!status)
        status = apply_member(p, key, &value, params);
    free(key);
    free(value.string);
    return status;
}

int params_from_json(const char *json, size_t length, mdnmf_params *p, char *message,
                     size_t size)
{
    if (!json || !p) {
        message_printf(message, size, "params JSON: nothing to read");
        return MDNMF_ERR_FORMAT;
    }
    json_parser parser = {json, json, json + length, 0, message, size};
    mdnmf_params updated = *p; /* a failure leaves *p as it was */
    json_skip_space(&parser);
    if (parser.at >= parser.end || *parser.at != '{')
        return json_fail(&parser, "expected an object");
    parser.at++;
    json_skip_space(&parser);
    if (parser.at < parser.end && *parser.at == '}') {
        parser.at++;
    } else {
        for (;;) {
            int status = json_read_member(&parser, &updated);
            if (status)
                return status;
            json_skip_space(&parser);
            if (parser.at < parser.end && *parser.at == ',') {
                parser.at++;
                continue;
            }
            if (parser.at < parser.end && *parser.at == '}') {
                parser.at++;
                break;
            }
            return json_fail(&parser, "expected ',' or '}'");
        }
    }
    json_skip_space(&parser);
    if (parser.at != parser.end)
        return json_fail(&parser, "text after the object");
    *p = updated;
    return MDNMF_OK;
}

/* ------------------------------------------------- the separator object */

/* A JSON array of up to MDNMF_MAX_SOURCES numbers. */
static int read_number_list(json_parser *p, const char *key, double *values, int *count)
{
    *count = 0;
    p->at++; /* '[' */
    json_skip_space(p);
    if (p->at < p->end && *p->at == ']') {
        p->at++;
        return MDNMF_OK;
    }
    for (;;) {
        json_value v = {0};
        int status = json_read_value(p, &v);
        free(v.string);
        if (status)
            return status;
        if (v.type != JSON_NUMBER || *count >= MDNMF_MAX_SOURCES)
            return field_fail(p, key, "must be a list of at most 16 numbers");
        char text[128];
        if (v.number_length >= sizeof text)
            return field_fail(p, key, "has too many digits");
        memcpy(text, v.number, v.number_length);
        text[v.number_length] = '\0';
        if (!number_to_double(text, &values[(*count)++]))
            return field_fail(p, key, "is out of range");
        json_skip_space(p);
        if (p->at < p->end && *p->at == ',') {
            p->at++;
            continue;
        }
        if (p->at < p->end && *p->at == ']') {
            p->at++;
            return MDNMF_OK;
        }
        return json_fail(p, "expected ',' or ']'");
    }
}

static int apply_separator_list(json_parser *p, const char *key, mdnmf_separator_params *sep)
{
    double values[MDNMF_MAX_SOURCES];
    int count;
    int status = read_number_list(p, key, values, &count);
    if (status)
        return status;
    double *target = strcmp(key, "mu_H") == 0    ? sep->mu_H
                     : strcmp(key, "tau_A") == 0 ? sep->tau_A
                     : strcmp(key, "beta") == 0  ? sep->beta
                                                 : NULL;
    for (int s = 0; s < count; s++) {
        if (target)
            target[s] = values[s];
        else if (strcmp(key, "d") == 0)
            sep->d[s] = (int64_t)values[s];
    }
    return MDNMF_OK;
}

static int apply_separator_scalar(json_parser *p, const char *key, const json_value *v,
                                  mdnmf_separator_params *sep)
{
    if (strcmp(key, "mode") == 0) {
        if (v->type != JSON_STRING || !separator_mode_from_name(v->string, &sep->mode))
            return field_fail(p, key, "is not a known separator mode");
        return MDNMF_OK;
    }
    static const field scalars[] = {
        {"sources", FIELD_INT, offsetof(mdnmf_separator_params, sources)},
        {"tau_S", FIELD_DOUBLE, offsetof(mdnmf_separator_params, tau_S)},
        {"batch_size_sup", FIELD_INT64, offsetof(mdnmf_separator_params, batch_size_sup)},
        {"warm_start_epochs", FIELD_INT, offsetof(mdnmf_separator_params, warm_start_epochs)},
    };
    for (size_t i = 0; i < sizeof scalars / sizeof *scalars; i++)
        if (strcmp(key, scalars[i].name) == 0) {
            if (v->type != JSON_NUMBER)
                return field_fail(p, key, "must be a number");
            return apply_number(p, &scalars[i], v, (char *)sep + scalars[i].offset);
        }
    return MDNMF_OK;
}

/* One member's value of a nested object: read it (the parser is at the
 * value) and apply it to `target`. */
typedef int (*member_reader)(json_parser *p, const char *key, void *target);

/* The members of a nested object, starting at its '{'. */
static int read_object_members(json_parser *p, member_reader read_member, void *target)
{
    p->at++;
    json_skip_space(p);
    if (p->at < p->end && *p->at == '}') {
        p->at++;
        return MDNMF_OK;
    }
    for (;;) {
        char *key = NULL;
        json_skip_space(p);
        if (p->at >= p->end || *p->at != '"')
            return json_fail(p, "expected a key");
        int status = json_read_string(p, &key);
        json_skip_space(p);
        if (!status && (p->at >= p->end || *p->at++ != ':'))
            status = json_fail(p, "expected ':'");
        json_skip_space(p);
        if (!status)
            status = read_member(p, key, target);
        free(key);
        if (status)
            return status;
        json_skip_space(p);
        if (p->at < p->end && *p->at == ',') {
            p->at++;
            continue;
        }
        if (p->at < p->end && *p->at == '}') {
            p->at++;
            return MDNMF_OK;
        }
        return json_fail(p, "expected ',' or '}'");
    }
}

static int read_separator_member(json_parser *p, const char *key, void *target)
{
    mdnmf_separator_params *sep = target;
    if (p->at < p->end && *p->at == '[')
        return apply_separator_list(p, key, sep);
    json_value v = {0};
    int status = json_read_value(p, &v);
    if (!status)
        status = apply_separator_scalar(p, key, &v, sep);
    free(v.string);
    return status;
}

static int read_audio_member(json_parser *p, const char *key, void *target)
{
    static const field audio_fields[] = {
        {"sample_rate", FIELD_INT, offsetof(mdnmf_audio_params, sample_rate)},
        {"n_fft", FIELD_INT, offsetof(mdnmf_audio_params, n_fft)},
        {"hop_length", FIELD_INT, offsetof(mdnmf_audio_params, hop_length)},
        {"win_length", FIELD_INT, offsetof(mdnmf_audio_params, win_length)},
    };
    json_value v = {0};
    int status = json_read_value(p, &v);
    for (size_t i = 0; !status && i < sizeof audio_fields / sizeof *audio_fields; i++)
        if (strcmp(key, audio_fields[i].name) == 0) {
            status = v.type == JSON_NUMBER
                         ? apply_number(p, &audio_fields[i], &v,
                                        (char *)target + audio_fields[i].offset)
                         : field_fail(p, key, "must be a number");
        }
    free(v.string);
    return status;
}

/* Find the top-level member `name` holding an object and read it into
 * `target` (a copy of which is written back only on success). */
static int read_nested_object(const char *json, size_t length, const char *name,
                              member_reader read_member, void *target, size_t target_size,
                              int *found, char *message, size_t size)
{
    *found = 0;
    json_parser parser = {json, json, json + length, 0, message, size};
    json_skip_space(&parser);
    if (parser.at >= parser.end || *parser.at != '{')
        return json_fail(&parser, "expected an object");
    parser.at++;
    unsigned char updated[sizeof(mdnmf_separator_params) > sizeof(mdnmf_audio_params)
                              ? sizeof(mdnmf_separator_params)
                              : sizeof(mdnmf_audio_params)];
    memcpy(updated, target, target_size);
    for (;;) {
        char *key = NULL;
        json_skip_space(&parser);
        if (parser.at >= parser.end || *parser.at == '}')
            break;
        if (*parser.at != '"')
            return json_fail(&parser, "expected a key");
        int status = json_read_string(&parser, &key);
        json_skip_space(&parser);
        if (!status && (parser.at >= parser.end || *parser.at++ != ':'))
            status = json_fail(&parser, "expected ':'");
        json_skip_space(&parser);
        if (!status && strcmp(key, name) == 0 && parser.at < parser.end && *parser.at == '{') {
            status = read_object_members(&parser, read_member, updated);
            *found = 1;
        } else if (!status) {
            json_value v = {0};
            status = json_read_value(&parser, &v);
            free(v.string);
        }
        free(key);
        if (status)
            return status;
        json_skip_space(&parser);
        if (parser.at < parser.end && *parser.at == ',')
            parser.at++;
    }
    if (*found)
        memcpy(target, updated, target_size);
    return MDNMF_OK;
}

int separator_from_json(const char *json, size_t length, mdnmf_separator_params *sep,
                        int *found, char *message, size_t size)
{
    return read_nested_object(json, length, "separator", read_separator_member, sep, sizeof *sep,
                              found, message, size);
}

int audio_from_json(const char *json, size_t length, mdnmf_audio_params *audio, int *found,
                    char *message, size_t size)
{
    return read_nested_object(json, length, "audio", read_audio_member, audio, sizeof *audio,
                              found, message, size);
}
