/* JSON in the tool, through jansson: the files it reads (the search spec)
 * and the results it prints on stdout as one JSON line. */
#ifndef MDNMF_CLI_JSON_H
#define MDNMF_CLI_JSON_H

#include <jansson.h>

/* The JSON document in the file `path` (duplicate keys refused; objects keep
 * their keys in the file's order), or NULL after one error line
 * "mdnmf COMMAND: PATH: malformed JSON at line L, column C: what". */
json_t *cli_json_load(const char *command, const char *path);

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
