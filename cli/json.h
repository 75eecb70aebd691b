/* JSON in the tool, through jansson: the results it prints on stdout as
 * one JSON line (the library reads the search spec). */
#ifndef MDNMF_CLI_JSON_H
#define MDNMF_CLI_JSON_H

#include <jansson.h>

/* A real as a JSON value: null when infinite or NaN, which JSON lacks. */
json_t *cli_json_real(double value);

/* An array of `count` reals, each as cli_json_real. */
json_t *cli_json_reals(const double *values, int count);

/* `value` as one line of JSON text (malloc'ed), reals with 17 significant
 * digits so that they read back as the same double; `value` is released.
 * NULL if out of memory (also when `value` is NULL). */
char *cli_json_text(json_t *value);

/* Print `value` as one line on stdout and release it: 0, or -1 after an
 * error line (out of memory). */
int cli_json_print(const char *command, json_t *value);

#endif
