/* JSON in the tool through jansson (see json.h). */
#include "json.h"

#include "options.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *cli_json_load(const char *command, const char *path)
{
    json_error_t error;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &error);
    if (root)
        return root;
    if (error.line < 1) { /* the file could not be read; the text names it */
        cli_error(command, "%s", error.text);
        return NULL;
    }
    /* jansson says "'}' expected" (or ']') where a ',' was as welcome. */
    const int after_item = (strncmp(error.text, "'}' expected", 12) == 0
                            || strncmp(error.text, "']' expected", 12) == 0);
    cli_error(command, "%s: malformed JSON at line %d, column %d: %s%s", path, error.line,
              error.column, after_item ? "',' or " : "", error.text);
    return NULL;
}

json_t *cli_json_real(double value)
{
    return isfinite(value) ? json_real(value) : json_null();
}

json_t *cli_json_reals(const double *values, int count)
{
    json_t *array = json_array();
    for (int i = 0; i < count && array; i++) {
        if (json_array_append_new(array, cli_json_real(values[i])) != 0) {
            json_decref(array);
            array = NULL;
        }
    }
    return array;
}

char *cli_json_text(json_t *value)
{
    char *text = value ? json_dumps(value, JSON_REAL_PRECISION(17)) : NULL;
    json_decref(value);
    return text;
}

int cli_json_print(const char *command, json_t *value)
{
    char *text = cli_json_text(value);
    if (!text) {
        cli_error(command, "out of memory for the result");
        return -1;
    }
    printf("%s\n", text);
    free(text);
    return 0;
}
