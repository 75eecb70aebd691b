/* mdnmf separator apply: separate mixtures with a saved separator.
 *
 *   mdnmf separator apply -m SEP.npz -i V.npy -o PREFIX [--no-wiener]
 *
 * mdnmf_separate, then PREFIX0.npy, PREFIX1.npy, ... ((N, m) each): all of
 * them or, after a failure, none. */
#include "commands.h"
#include "inputs.h"
#include "outputs.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define NO_FIELD CLI_NO_FIELD

static const char *const APPLY_COMMAND = "separator apply";

/* After CLI_TRANSFORM_SETTING_OPTIONS' codes (inputs.h). */
enum { OPT_NO_WIENER = CLI_OPT_THREADS + 1 };

const char cli_separator_apply_summary[] =
    "Separate mixtures with a saved separator: one .npy estimate per source.";

static const cli_option APPLY_OPTIONS[] = {
    {"model", 'm', CLI_KIND_TEXT, "SEP.npz", NO_FIELD, 0, NULL, cli_required,
     "separator saved by 'mdnmf separator fit'"},
    {"input", 'i', CLI_KIND_TEXT, "V.npy", NO_FIELD, 0, NULL, cli_required,
     "mixtures, an (N, m) .npy array with the separator's m features"},
    {"output", 'o', CLI_KIND_TEXT, "PREFIX", NO_FIELD, 0, NULL, cli_required,
     "writes PREFIX0.npy, PREFIX1.npy, ...: each source's (N, m) estimate"},
    {"no-wiener", OPT_NO_WIENER, CLI_KIND_FLAG, NULL, NO_FIELD, 0, NULL, "off",
     "write W_s H_s instead of the Wiener-filtered estimates (which add up to V)"},
    CLI_TRANSFORM_SETTING_OPTIONS,
    {"quiet", 'q', CLI_KIND_FLAG, NULL, NO_FIELD, 0, NULL, "off",
     "accepted for symmetry with fit; apply prints only errors"},
    CLI_HELP_OPTION,
};
enum { APPLY_OPTION_COUNT = sizeof APPLY_OPTIONS / sizeof APPLY_OPTIONS[0] };

static const cli_command APPLY_USAGE = {
    "separator apply",
    "separator apply -m SEP.npz -i V.npy -o PREFIX [--no-wiener] [options]",
    cli_separator_apply_summary,
    APPLY_OPTIONS,
    APPLY_OPTION_COUNT,
};

typedef struct apply_request {
    const char *model, *input, *prefix;
    int wiener;
    mdnmf_params overrides;
    int given[APPLY_OPTION_COUNT];
} apply_request;

typedef struct apply_run {
    mdnmf_model *model;
    mdnmf_matrix V;
    int sources;
    float *estimates[MDNMF_MAX_SOURCES];
} apply_run;

static int store_apply_option(void *context, const cli_option *option, const char *value)
{
    apply_request *request = context;
    switch (option->key) {
    case 'm': request->model = value; break;
    case 'i': request->input = value; break;
    case 'o': request->prefix = value; break;
    case OPT_NO_WIENER: request->wiener = 0; break;
    }
    return 0;
}

/* "PREFIX<s>.npy", malloc'ed. */
static char *estimate_path(const char *prefix, int source)
{
    return cli_format_path("%s%d.npy", prefix, source);
}

static int load_separator(const apply_request *r, apply_run *run)
{
    run->model = cli_load_model(APPLY_COMMAND, r->model);
    if (!run->model || cli_read_matrix(APPLY_COMMAND, r->input, &run->V) != 0) {
        return CLI_EXIT_RUNTIME;
    }
    run->sources = mdnmf_model_source_count(run->model);
    if (run->sources < 2) {
        cli_error(APPLY_COMMAND, "%s: a model of one source: apply needs a separator "
                  "(from 'mdnmf separator fit')", r->model);
        return CLI_EXIT_RUNTIME;
    }
    int64_t m = 0;
    mdnmf_model_shape(run->model, &m, NULL);
    if (cli_check_features(APPLY_COMMAND, r->input, run->V.m, r->model, m) != 0) {
        return CLI_EXIT_RUNTIME;
    }
    return cli_apply_overrides(APPLY_COMMAND, run->model, APPLY_OPTIONS, r->given,
                               APPLY_OPTION_COUNT, &r->overrides);
}

static int separate_mixtures(const apply_request *r, apply_run *run)
{
    size_t count = (size_t)(run->V.m * run->V.n);
    for (int s = 0; s < run->sources; s++) {
        run->estimates[s] = malloc((count ? count : 1) * sizeof(float));
        if (!run->estimates[s]) {
            cli_error(APPLY_COMMAND, "%s: out of memory for %d estimates of %" PRId64
                      " x %" PRId64, r->input, run->sources, run->V.n, run->V.m);
            return CLI_EXIT_RUNTIME;
        }
    }
    mdnmf_error error;
    if (mdnmf_separate(run->model, run->V.data, run->V.m, run->V.n, r->wiener, run->estimates,
                       &error) != MDNMF_OK) {
        cli_error_about(APPLY_COMMAND, r->input, error.message);
        return CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_OK;
}

/* All S estimates, or none after a failure. */
static int write_estimates(const apply_request *r, apply_run *run)
{
    cli_npy_file files[MDNMF_MAX_SOURCES];
    for (int s = 0; s < run->sources; s++) {
        files[s] = (cli_npy_file){estimate_path(r->prefix, s), run->estimates[s], run->V.m,
                                  run->V.n};
    }
    const char *input_paths[] = {r->model, r->input};
    cli_input_files inputs = {0};
    int written = cli_inputs_note(APPLY_COMMAND, &inputs, input_paths, 2);
    if (written == 0) {
        written = cli_write_npy_files(APPLY_COMMAND, files, run->sources, &inputs);
    }
    cli_inputs_free(&inputs);
    for (int s = 0; s < run->sources; s++) {
        free(files[s].path);
    }
    return written == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}

static void release_apply(apply_run *run)
{
    for (int s = 0; s < MDNMF_MAX_SOURCES; s++) {
        free(run->estimates[s]);
    }
    mdnmf_matrix_free(&run->V);
    mdnmf_model_destroy(run->model);
}

int cli_separator_apply(int argc, char **argv)
{
    apply_request request;
    memset(&request, 0, sizeof request);
    request.wiener = 1;
    mdnmf_params_default(&request.overrides);
    int parsed = cli_parse_exit(cli_parse_command(&APPLY_USAGE, argc, argv, &request.overrides,
                                                  request.given, store_apply_option,
                                                  &request));
    if (parsed >= 0) {
        return parsed;
    }
    /* Fail fast, before reading the mixtures. */
    char *first = estimate_path(request.prefix, 0);
    int code = first && cli_output_check_writable(APPLY_COMMAND, first) == 0 ? CLI_EXIT_OK
                                                                             : CLI_EXIT_RUNTIME;
    free(first);
    apply_run run;
    memset(&run, 0, sizeof run);
    if (code == CLI_EXIT_OK) {
        code = load_separator(&request, &run);
    }
    if (code == CLI_EXIT_OK) {
        code = separate_mixtures(&request, &run);
    }
    if (code == CLI_EXIT_OK) {
        code = write_estimates(&request, &run);
    }
    release_apply(&run);
    return code;
}
