/* A small JSON reader (see json.h): recursive descent over RFC 8259. */
#include "json.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deeper documents are refused rather than risking the stack. */
enum { MAX_DEPTH = 64 };

typedef struct reader {
    const char *start, *at, *end;
    int depth;
    char *message;
    size_t size;
    /* Line and column of `counted`: positions are asked for in document
     * order, so counting resumes there (linear in the document's size). */
    const char *counted;
    int line, column;
} reader;

static void position_of(reader *r, const char *where, int *line, int *column)
{
    if (where < r->counted) {
        r->counted = r->start;
        r->line = r->column = 1;
    }
    for (; r->counted < where; r->counted++) {
        if (*r->counted == '\n') {
            r->line++;
            r->column = 1;
        } else {
            r->column++;
        }
    }
    *line = r->line;
    *column = r->column;
}

static int fail(reader *r, const char *what)
{
    int line, column;
    position_of(r, r->at, &line, &column);
    if (r->message && r->size) {
        snprintf(r->message, r->size, "line %d, column %d: %s", line, column, what);
    }
    return -1;
}

static void skip_space(reader *r)
{
    while (r->at < r->end &&
           (*r->at == ' ' || *r->at == '\t' || *r->at == '\n' || *r->at == '\r')) {
        r->at++;
    }
}

static int literal(reader *r, const char *word)
{
    size_t length = strlen(word);
    if ((size_t)(r->end - r->at) < length || memcmp(r->at, word, length) != 0) {
        return 0;
    }
    r->at += length;
    return 1;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* JSON's number grammar, then strtod on a copy (the text is not
 * NUL-terminated). */
static int parse_number(reader *r, json_value *out)
{
    const char *begin = r->at, *c = r->at;
    if (c < r->end && *c == '-') c++;
    if (c < r->end && *c == '0') {
        c++;
    } else if (c < r->end && is_digit(*c)) {
        while (c < r->end && is_digit(*c)) c++;
    } else {
        return fail(r, "expected a value");
    }
    if (c < r->end && *c == '.') {
        c++;
        if (c >= r->end || !is_digit(*c)) return fail(r, "a digit must follow the '.'");
        while (c < r->end && is_digit(*c)) c++;
    }
    if (c < r->end && (*c == 'e' || *c == 'E')) {
        c++;
        if (c < r->end && (*c == '+' || *c == '-')) c++;
        if (c >= r->end || !is_digit(*c)) return fail(r, "a digit must follow the exponent");
        while (c < r->end && is_digit(*c)) c++;
    }
    char copy[64];
    size_t length = (size_t)(c - begin);
    if (length >= sizeof copy) return fail(r, "number too long");
    memcpy(copy, begin, length);
    copy[length] = '\0';
    errno = 0;
    out->kind = JSON_NUMBER;
    out->number = strtod(copy, NULL);
    if (errno == ERANGE && (out->number > 1.0 || out->number < -1.0)) {
        return fail(r, "number out of range");
    }
    r->at = c;
    return 0;
}

static int hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : -1;
}

static int read_hex4(reader *r, unsigned *out)
{
    *out = 0;
    for (int i = 0; i < 4; i++) {
        int v = r->at < r->end ? hex_value(*r->at) : -1;
        if (v < 0) return fail(r, "\\u needs four hex digits");
        *out = *out * 16 + (unsigned)v;
        r->at++;
    }
    return 0;
}

static size_t put_utf8(unsigned code, char *out)
{
    if (code < 0x80) {
        out[0] = (char)code;
        return 1;
    }
    if (code < 0x800) {
        out[0] = (char)(0xC0 | (code >> 6));
        out[1] = (char)(0x80 | (code & 0x3F));
        return 2;
    }
    if (code < 0x10000) {
        out[0] = (char)(0xE0 | (code >> 12));
        out[1] = (char)(0x80 | ((code >> 6) & 0x3F));
        out[2] = (char)(0x80 | (code & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (code >> 18));
    out[1] = (char)(0x80 | ((code >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((code >> 6) & 0x3F));
    out[3] = (char)(0x80 | (code & 0x3F));
    return 4;
}

/* \uXXXX, with a surrogate pair joined. */
static int read_unicode_escape(reader *r, char *out, size_t *used)
{
    unsigned code;
    if (read_hex4(r, &code) != 0) return -1;
    if (code >= 0xD800 && code < 0xDC00) {
        unsigned low;
        if (!literal(r, "\\u") || read_hex4(r, &low) != 0 || low < 0xDC00 || low > 0xDFFF) {
            return fail(r, "unpaired surrogate in \\u escape");
        }
        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
    } else if (code >= 0xDC00 && code < 0xE000) {
        return fail(r, "unpaired surrogate in \\u escape");
    }
    *used += put_utf8(code, out + *used);
    return 0;
}

static int read_escape(reader *r, char *out, size_t *used)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    char c = *r->at++;
    if (c == 'u') {
        return read_unicode_escape(r, out, used);
    }
    const char *hit = strchr(from, c);
    if (!hit || c == '\0') {
        r->at--;
        return fail(r, "unknown escape in a string");
    }
    out[(*used)++] = to[hit - from];
    return 0;
}

/* A string at r->at (the opening quote) into a malloc'ed buffer. */
static int parse_string(reader *r, char **out)
{
    r->at++;
    /* The decoded text is never longer than the source. */
    const char *close = r->at;
    while (close < r->end && *close != '"') {
        close += *close == '\\' && close + 1 < r->end ? 2 : 1;
    }
    char *text = malloc((size_t)(close - r->at) + 1);
    if (!text) return fail(r, "out of memory");
    size_t used = 0;
    while (r->at < r->end && *r->at != '"') {
        unsigned char c = (unsigned char)*r->at;
        if (c < 0x20) {
            free(text);
            return fail(r, "control character in a string");
        }
        r->at++;
        if (c == '\\') {
            if (r->at >= r->end || read_escape(r, text, &used) != 0) {
                free(text);
                return r->at >= r->end ? fail(r, "unterminated string") : -1;
            }
        } else {
            text[used++] = (char)c;
        }
    }
    if (r->at >= r->end) {
        free(text);
        return fail(r, "unterminated string");
    }
    r->at++;
    text[used] = '\0';
    *out = text;
    return 0;
}

static int parse_value(reader *r, json_value *out);

/* Grow an array or object by one slot. */
static json_value *add_item(reader *r, json_value *container, int with_key)
{
    int count = container->count;
    if ((count & (count - 1)) == 0) { /* 0, 1, 2, 4, ...: double the space */
        size_t capacity = count ? 2 * (size_t)count : 1;
        json_value *items = realloc(container->items, capacity * sizeof *items);
        if (!items) {
            fail(r, "out of memory");
            return NULL;
        }
        container->items = items;
        if (with_key) {
            char **keys = realloc(container->keys, capacity * sizeof *keys);
            if (!keys) {
                fail(r, "out of memory");
                return NULL;
            }
            container->keys = keys;
        }
    }
    json_value *item = &container->items[count];
    memset(item, 0, sizeof *item);
    if (with_key) {
        container->keys[count] = NULL;
    }
    container->count++;
    return item;
}

static int parse_array(reader *r, json_value *out)
{
    out->kind = JSON_ARRAY;
    r->at++;
    skip_space(r);
    if (r->at < r->end && *r->at == ']') {
        r->at++;
        return 0;
    }
    for (;;) {
        json_value *item = add_item(r, out, 0);
        if (!item || parse_value(r, item) != 0) return -1;
        skip_space(r);
        if (r->at < r->end && *r->at == ',') {
            r->at++;
        } else if (r->at < r->end && *r->at == ']') {
            r->at++;
            return 0;
        } else {
            return fail(r, "expected ',' or ']' in an array");
        }
    }
}

static int parse_object(reader *r, json_value *out)
{
    out->kind = JSON_OBJECT;
    r->at++;
    skip_space(r);
    if (r->at < r->end && *r->at == '}') {
        r->at++;
        return 0;
    }
    for (;;) {
        skip_space(r);
        if (r->at >= r->end || *r->at != '"') return fail(r, "expected a \"key\" in an object");
        json_value *item = add_item(r, out, 1);
        if (!item || parse_string(r, &out->keys[out->count - 1]) != 0) return -1;
        skip_space(r);
        if (r->at >= r->end || *r->at != ':') return fail(r, "expected ':' after a key");
        r->at++;
        if (parse_value(r, item) != 0) return -1;
        skip_space(r);
        if (r->at < r->end && *r->at == ',') {
            r->at++;
        } else if (r->at < r->end && *r->at == '}') {
            r->at++;
            return 0;
        } else {
            return fail(r, "expected ',' or '}' in an object");
        }
    }
}

static int parse_value(reader *r, json_value *out)
{
    skip_space(r);
    memset(out, 0, sizeof *out);
    position_of(r, r->at, &out->line, &out->column);
    if (r->at >= r->end) return fail(r, "unexpected end of the document");
    if (++r->depth > MAX_DEPTH) return fail(r, "nested too deeply");
    int result;
    switch (*r->at) {
    case '{': result = parse_object(r, out); break;
    case '[': result = parse_array(r, out); break;
    case '"':
        out->kind = JSON_STRING;
        result = parse_string(r, &out->string);
        break;
    case 't':
    case 'f':
    case 'n':
        if (literal(r, "true")) {
            out->kind = JSON_BOOL;
            out->boolean = 1;
            result = 0;
        } else if (literal(r, "false")) {
            out->kind = JSON_BOOL;
            result = 0;
        } else if (literal(r, "null")) {
            out->kind = JSON_NULL;
            result = 0;
        } else {
            result = fail(r, "expected a value");
        }
        break;
    default: result = parse_number(r, out); break;
    }
    r->depth--;
    return result;
}

int json_parse(const char *text, size_t length, json_value *out, char *message, size_t size)
{
    reader r = {text, text, text + length, 0, message, size, text, 1, 1};
    memset(out, 0, sizeof *out);
    if (memchr(text, '\0', length)) {
        r.at = memchr(text, '\0', length);
        return fail(&r, "a NUL byte: not a JSON text file");
    }
    if (parse_value(&r, out) != 0) {
        json_free(out);
        return -1;
    }
    skip_space(&r);
    if (r.at != r.end) {
        json_free(out);
        return fail(&r, "unexpected text after the document");
    }
    return 0;
}

void json_free(json_value *value)
{
    for (int i = 0; i < value->count; i++) {
        json_free(&value->items[i]);
        if (value->keys) {
            free(value->keys[i]);
        }
    }
    free(value->items);
    free(value->keys);
    free(value->string);
    memset(value, 0, sizeof *value);
}

const json_value *json_member(const json_value *object, const char *key)
{
    if (!object || object->kind != JSON_OBJECT) {
        return NULL;
    }
    for (int i = 0; i < object->count; i++) {
        if (object->keys[i] && strcmp(object->keys[i], key) == 0) {
            return &object->items[i];
        }
    }
    return NULL;
}

const char *json_kind_name(json_kind kind)
{
    static const char *const names[] = {"null", "true/false", "number", "string", "array",
                                        "object"};
    return (unsigned)kind < sizeof names / sizeof *names ? names[kind] : "?";
}
