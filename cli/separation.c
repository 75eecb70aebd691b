/* Data options, files and error lines of the separator commands (see
 * separation.h). */
#include "separation.h"

#include "host.h"
#include "progress.h"

#include "inputs.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The shared tables address mdnmf_separator_params through the same
 * offsets in an mdnmf_search, whose first member it is. */
_Static_assert(offsetof(mdnmf_search, base) == 0, "mdnmf_search must start with base");

static int add_file(const char *command, const char *option, const char **list, int *count,
                    const char *value)
{
    if (*count == MDNMF_MAX_SOURCES) {
        cli_error(command, "too many %s files: at most %d, one per source", option,
                  MDNMF_MAX_SOURCES);
        return -1;
    }
    list[(*count)++] = value;
    return 1;
}

int cli_separation_store(const char *command, cli_separation_files *files,
                         const cli_option *option, const char *value)
{
    switch (option->key) {
    case 's':
        return add_file(command, "--source", files->sources, &files->source_count, value);
    case CLI_SEP_SUP_SOURCE:
        return add_file(command, "--sup-source", files->sup_sources, &files->sup_count, value);
    case CLI_SEP_MIXED: files->mixed = value; return 1;
    case CLI_SEP_SUP_MIXED: files->sup_mixed = value; return 1;
    }
    return 0;
}

int cli_separation_note_inputs(const char *command, const cli_separation_files *files,
                               cli_input_files *inputs)
{
    const char *mixtures[] = {files->mixed, files->sup_mixed};
    return cli_inputs_note(command, inputs, files->sources, (size_t)files->source_count) ||
                   cli_inputs_note(command, inputs, files->sup_sources,
                                   (size_t)files->sup_count) ||
                   cli_inputs_note(command, inputs, mixtures, 2)
               ? -1
               : 0;
}

/* ------------------------------------------------------------- reading */

typedef struct feature_reference {
    const char *path; /* the first file read: every other must match it */
    int64_t m;
} feature_reference;

/* -1 without a word once a signal was caught (cli_signals_install): the
 * command reports the interruption. */
static int read_one(const cli_host *host, const char *command, const char *path,
                    mdnmf_matrix *out, feature_reference *reference)
{
    if (cli_interrupted()) {
        return -1;
    }
    if (host->read_matrix(host, command, path, out) != 0) {
        return -1;
    }
    if (!reference->path) {
        reference->path = path;
        reference->m = out->m;
        return 0;
    }
    return cli_check_features(command, path, out->m, reference->path, reference->m);
}

/* Row j of every paired file belongs to pair j: equal row counts. */
static int check_pair_rows(const char *command, const cli_separation_files *files,
                           const cli_separation_inputs *inputs)
{
    const char *first = files->sup_mixed ? files->sup_mixed : files->sup_sources[0];
    int64_t rows = files->sup_mixed ? inputs->sup_mixed.n : inputs->sup_sources[0].n;
    for (int s = 0; s < files->sup_count; s++) {
        if (inputs->sup_sources[s].n != rows) {
            cli_error(command, "%s: %" PRId64 " pairs (rows) but %s has %" PRId64 ": row j of "
                      "every --sup-source belongs to row j of --sup-mixed",
                      files->sup_sources[s], inputs->sup_sources[s].n, first, rows);
            return -1;
        }
    }
    return 0;
}

static void fill_data(const cli_separation_files *files, int sources,
                      cli_separation_inputs *inputs, int64_t m)
{
    mdnmf_separation_data *x = &inputs->data;
    memset(x, 0, sizeof *x);
    x->m = m;
    for (int s = 0; s < files->source_count && s < sources; s++) {
        x->U[s] = inputs->sources[s].data;
        x->n[s] = inputs->sources[s].n;
    }
    if (files->mixed) {
        x->V = inputs->mixed.data;
        x->n_V = inputs->mixed.n;
    }
    for (int s = 0; s < files->sup_count && s < sources; s++) {
        x->U_sup[s] = inputs->sup_sources[s].data;
        x->n_sup = inputs->sup_sources[s].n;
    }
    if (files->sup_mixed) {
        x->V_sup = inputs->sup_mixed.data;
        x->n_sup = inputs->sup_mixed.n;
    }
}

int cli_separation_read(const char *command, const cli_separation_files *files, int sources,
                        cli_separation_inputs *inputs)
{
    return cli_separation_read_on(&cli_alone, command, files, sources, inputs);
}

int cli_separation_read_on(const cli_host *host, const char *command,
                           const cli_separation_files *files, int sources,
                           cli_separation_inputs *inputs)
{
    memset(inputs, 0, sizeof *inputs);
    feature_reference reference = {NULL, 0};
    for (int s = 0; s < files->source_count; s++) {
        if (read_one(host, command, files->sources[s], &inputs->sources[s], &reference) != 0) {
            return -1;
        }
    }
    if (files->mixed && read_one(host, command, files->mixed, &inputs->mixed, &reference) != 0) {
        return -1;
    }
    for (int s = 0; s < files->sup_count; s++) {
        if (read_one(host, command, files->sup_sources[s], &inputs->sup_sources[s],
                     &reference) != 0) {
            return -1;
        }
    }
    if (files->sup_mixed &&
        read_one(host, command, files->sup_mixed, &inputs->sup_mixed, &reference) != 0) {
        return -1;
    }
    if (files->sup_count > 0 && check_pair_rows(command, files, inputs) != 0) {
        return -1;
    }
    fill_data(files, sources, inputs, reference.m);
    return 0;
}

void cli_separation_free(cli_separation_inputs *inputs)
{
    for (int s = 0; s < MDNMF_MAX_SOURCES; s++) {
        mdnmf_matrix_free(&inputs->sources[s]);
        mdnmf_matrix_free(&inputs->sup_sources[s]);
    }
    mdnmf_matrix_free(&inputs->mixed);
    mdnmf_matrix_free(&inputs->sup_mixed);
    memset(&inputs->data, 0, sizeof inputs->data);
}

/* ------------------------------------------------------------- errors */

/* The file a library message is about: it names the data set first
 * ("source 1 data has ...", "paired mixtures are empty", "source 0: d = ...").
 * NULL if it names none. */
static const char *file_named_by(const cli_separation_files *files, const char *message)
{
    int s = -1;
    if (sscanf(message, "paired source %d data", &s) == 1) {
        return s >= 0 && s < files->sup_count ? files->sup_sources[s] : NULL;
    }
    if (strncmp(message, "paired mixtures", 15) == 0) {
        return files->sup_mixed;
    }
    if (strncmp(message, "mixtures", 8) == 0) {
        return files->mixed;
    }
    if (sscanf(message, "source %d", &s) == 1 && s >= 0) {
        return s < files->source_count ? files->sources[s]
               : s < files->sup_count  ? files->sup_sources[s]
                                       : NULL;
    }
    return NULL;
}

/* What to add when a mode lacks data: the library says which data, the
 * user knows it by its option. */
static const char *option_to_add(const cli_separation_files *files, const char *message)
{
    if (!strstr(message, " needs ")) {
        return NULL;
    }
    if (strstr(message, "needs mixtures")) {
        return "add --mixed V.npy";
    }
    if (strstr(message, "needs clean training data")) {
        return "add --source U.npy once per source";
    }
    if (strstr(message, "paired")) {
        if (files->sup_count == 0 && !files->sup_mixed) {
            return "add --sup-source S.npy once per source and --sup-mixed VS.npy";
        }
        return files->sup_mixed ? "add --sup-source S.npy once per source"
                                : "add --sup-mixed VS.npy";
    }
    return NULL;
}

int cli_separation_report(const char *command, const cli_separation_files *files, int status,
                          const char *message)
{
    if (!message || !message[0]) {
        message = mdnmf_strerror(status);
    }
    const char *hint = status == MDNMF_ERR_ARGUMENT ? option_to_add(files, message) : NULL;
    if (hint) {
        cli_error(command, "%s: %s", message, hint);
        return CLI_EXIT_USAGE;
    }
    const char *file = status == MDNMF_ERR_DATA || status == MDNMF_ERR_SHAPE
                           ? file_named_by(files, message)
                           : NULL;
    if (file) {
        cli_error(command, "%s: %s", file, message);
    } else {
        cli_error(command, "%s", message);
    }
    return status == MDNMF_ERR_ARGUMENT ? CLI_EXIT_USAGE : CLI_EXIT_RUNTIME;
}
