/* A search spec's JSON text into search dimensions (SPEC §10), so that the
 * tool, Python and other front ends read one format.  Every message names
 * the key at fault; the caller adds where the text came from. */
#define _POSIX_C_SOURCE 200809L /* strdup */

#include "error.h"
#include "internal.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const DISTRIBUTION_NAMES[] = {"uniform", "log-uniform", "choice", NULL};

static void list_parameters(char *out, size_t size)
{
    const char *names[MDNMF_SEARCH_PARAM_COUNT];
    for (int i = 0; i < MDNMF_SEARCH_PARAM_COUNT; i++)
        names[i] = mdnmf_search_param_name((mdnmf_search_param)i);
    join_names(names, MDNMF_SEARCH_PARAM_COUNT, out, size);
}

/* "tau_A" or "tau_A[1]" into the parameter and source. */
static int parse_key(const char *key, mdnmf_search_dimension *dim, mdnmf_error *error)
{
    char name[64];
    const size_t length = strcspn(key, "[");
    dim->source = -1;
    if (key[length] == '[') {
        char *end = NULL;
        const long source = strtol(key + length + 1, &end, 10);
        if (end == key + length + 1 || strcmp(end, "]") != 0 || source < 0
            || source >= MDNMF_MAX_SOURCES)
            return error_fail(error, MDNMF_ERR_FORMAT,
                              "'%s': a per-source parameter is written NAME[S] with S a source "
                              "number from 0", key);
        dim->source = (int)source;
    }
    snprintf(name, sizeof name, "%.*s", (int)(length < sizeof name ? length : sizeof name - 1),
             key);
    if (length >= sizeof name || !mdnmf_search_param_from_name(name, &dim->param)) {
        char known[512];
        list_parameters(known, sizeof known);
        /* A long key is cut so that the list of names fits in the message. */
        const int shown = strlen(key) > 48 ? 45 : 48;
        return error_fail(error, MDNMF_ERR_FORMAT, "unknown parameter '%.*s%s': use one of %s",
                          shown, key, strlen(key) > 48 ? "..." : "", known);
    }
    return MDNMF_OK;
}

static int is_flag(mdnmf_search_param param)
{
    return param == MDNMF_SEARCH_NORMALIZE || param == MDNMF_SEARCH_UPDATE_H;
}

static int choice_value(const char *key, const json_t *item, mdnmf_search_param param,
                        double *out, mdnmf_error *error)
{
    const char *const *names = search_param_names(param);
    if (names) {
        for (int k = 0; json_is_string(item) && names[k]; k++)
            if (strcmp(json_string_value(item), names[k]) == 0) {
                *out = k;
                return MDNMF_OK;
            }
        char known[256];
        join_names(names, -1, known, sizeof known);
        return error_fail(error, MDNMF_ERR_FORMAT, "%s: choices are names, one of: %s", key,
                          known);
    }
    if (is_flag(param) && json_is_boolean(item)) {
        *out = json_is_true(item);
        return MDNMF_OK;
    }
    if (!json_is_number(item))
        return error_fail(error, MDNMF_ERR_FORMAT,
                          "%s: a choice value is not a number: give numbers%s", key,
                          is_flag(param) ? " or true/false" : "");
    *out = json_number_value(item);
    return MDNMF_OK;
}

static int read_choice(const char *key, const json_t *values, mdnmf_search_dimension *dim,
                       mdnmf_error *error)
{
    const size_t count = json_array_size(values);
    if (count == 0)
        return error_fail(error, MDNMF_ERR_FORMAT,
                          "%s: choice needs \"values\": a non-empty array", key);
    if (count > MDNMF_SEARCH_MAX_CHOICES)
        return error_fail(error, MDNMF_ERR_FORMAT, "%s: %zu values: a choice has at most %d",
                          key, count, MDNMF_SEARCH_MAX_CHOICES);
    dim->count = (int)count;
    for (size_t k = 0; k < count; k++) {
        const int status =
            choice_value(key, json_array_get(values, k), dim->param, &dim->values[k], error);
        if (status != MDNMF_OK)
            return status;
    }
    return MDNMF_OK;
}

static int read_bound(const char *key, const json_t *bound, const char *name, double *out,
                      mdnmf_error *error)
{
    if (!json_is_number(bound))
        return error_fail(error, MDNMF_ERR_FORMAT, "%s: needs \"%s\": a number", key, name);
    *out = json_number_value(bound);
    return MDNMF_OK;
}

static int read_dimension(const char *key, json_t *entry, mdnmf_search_dimension *dim,
                          mdnmf_error *error)
{
    memset(dim, 0, sizeof *dim);
    int status = parse_key(key, dim, error);
    if (status != MDNMF_OK)
        return status;
    /* Members other than these are typing mistakes worth a message. */
    const char *name = "";
    json_t *low = NULL, *high = NULL, *values = NULL;
    json_error_t unpacked;
    if (json_unpack_ex(entry, &unpacked, JSON_STRICT, "{s?s, s?o, s?o, s?o}", "distribution",
                       &name, "low", &low, "high", &high, "values", &values) != 0)
        return error_fail(error, MDNMF_ERR_FORMAT,
                          "%s: %s (an entry is an object of distribution, low and high, or "
                          "values)", key, unpacked.text);
    int distribution = -1;
    for (int k = 0; DISTRIBUTION_NAMES[k]; k++)
        if (strcmp(name, DISTRIBUTION_NAMES[k]) == 0)
            distribution = k;
    if (distribution < 0)
        return error_fail(error, MDNMF_ERR_FORMAT,
                          "%s: \"distribution\" must be \"uniform\", \"log-uniform\" or "
                          "\"choice\"", key);
    dim->distribution = (mdnmf_distribution)distribution;
    if (dim->distribution == MDNMF_DIST_CHOICE)
        return read_choice(key, values, dim, error);
    if (search_param_names(dim->param) || is_flag(dim->param))
        return error_fail(error, MDNMF_ERR_FORMAT, "%s: takes a choice of values, not a range",
                          key);
    status = read_bound(key, low, "low", &dim->low, error);
    return status != MDNMF_OK ? status : read_bound(key, high, "high", &dim->high, error);
}

/* Duplicate keys refused; objects keep their keys in the text's order. */
static int parse_spec(const char *text, size_t length, json_t **root, mdnmf_error *error)
{
    json_error_t parsed;
    *root = json_loadb(text, length, JSON_REJECT_DUPLICATES, &parsed);
    if (*root)
        return MDNMF_OK;
    /* jansson says "'}' expected" (or ']') where a ',' was as welcome. */
    const int after_item = strncmp(parsed.text, "'}' expected", 12) == 0
                           || strncmp(parsed.text, "']' expected", 12) == 0;
    return error_fail(error, MDNMF_ERR_FORMAT, "malformed JSON at line %d, column %d: %s%s",
                      parsed.line, parsed.column, after_item ? "',' or " : "", parsed.text);
}

void mdnmf_search_dimensions_free(mdnmf_search_dimension *dimensions, char **names, int count)
{
    for (int i = 0; names && i < count; i++)
        free(names[i]);
    free(names);
    free(dimensions);
}

static int read_dimensions(json_t *root, mdnmf_search_dimension *dimensions, char **names,
                           mdnmf_error *error)
{
    int i = 0;
    const char *key;
    json_t *entry;
    json_object_foreach(root, key, entry) {
        const int status = read_dimension(key, entry, &dimensions[i], error);
        if (status != MDNMF_OK)
            return status;
        if (!(names[i] = strdup(key)))
            return error_fail(error, MDNMF_ERR_MEMORY, "out of memory");
        i++;
    }
    return MDNMF_OK;
}

int mdnmf_search_dimensions_from_json(const char *text, size_t length,
                                      mdnmf_search_dimension **dimensions, char ***names,
                                      int *count, mdnmf_error *error)
{
    if (!dimensions || !names || !count || (!text && length > 0))
        return error_fail(error, MDNMF_ERR_ARGUMENT,
                          "search spec: text, dimensions, names or count is NULL");
    *dimensions = NULL;
    *names = NULL;
    *count = 0;
    json_t *root = NULL;
    int status = parse_spec(text ? text : "", length, &root, error);
    if (status != MDNMF_OK)
        return status;
    /* 0 also when the text is not an object. */
    const size_t size = json_object_size(root);
    if (size == 0 || size > INT_MAX) {
        json_decref(root);
        return error_fail(error, MDNMF_ERR_FORMAT,
                          "the spec must be a non-empty object: {\"parameter\": "
                          "{\"distribution\": ...}, ...}");
    }
    mdnmf_search_dimension *read = calloc(size, sizeof *read);
    char **keys = calloc(size, sizeof *keys);
    status = read && keys ? read_dimensions(root, read, keys, error)
                              : error_fail(error, MDNMF_ERR_MEMORY, "out of memory");
    json_decref(root);
    if (status != MDNMF_OK) {
        mdnmf_search_dimensions_free(read, keys, (int)size);
        return status;
    }
    *dimensions = read;
    *names = keys;
    *count = (int)size;
    return error_ok(error);
}
