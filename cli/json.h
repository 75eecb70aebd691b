/* A small JSON reader for the tool's own input files (the search spec):
 * the whole document into a tree, with the line and column of every value
 * for error messages.  Numbers are read in the "C" locale (the tool never
 * calls setlocale). */
#ifndef MDNMF_CLI_JSON_H
#define MDNMF_CLI_JSON_H

#include <stddef.h>

typedef enum json_kind {
    JSON_NULL,
    JSON_BOOL,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT
} json_kind;

typedef struct json_value {
    json_kind kind;
    int line, column;          /* where the value starts, 1-based */
    int boolean;
    double number;
    char *string;              /* JSON_STRING: decoded UTF-8, NUL-terminated */
    int count;                 /* JSON_ARRAY, JSON_OBJECT: number of items */
    struct json_value *items;  /* the items (object: the values) */
    char **keys;               /* JSON_OBJECT: the keys, in document order */
} json_value;

/* Parse `text` (`length` bytes) into *out.  Returns 0, or -1 with a
 * message "line L, column C: what is wrong" in `message`. */
int json_parse(const char *text, size_t length, json_value *out, char *message, size_t size);

/* Free what json_parse allocated; a zeroed value is a no-op. */
void json_free(json_value *value);

/* The member `key` of an object, or NULL. */
const json_value *json_member(const json_value *object, const char *key);

/* "number", "string", ... for messages. */
const char *json_kind_name(json_kind kind);

#endif
