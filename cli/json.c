/* JSON in the tool through jansson (see json.h). */
#include "json.h"

#include "options.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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
