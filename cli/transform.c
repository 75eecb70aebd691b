/* mdnmf transform: activations H of .npy data under a saved model's basis,
 * written as an (N, D) .npy array (one row of D activations per sample). */
#include "commands.h"
#include "inputs.h"
#include "outputs.h"

#include <stddef.h>
#include <string.h>

static const char *const COMMAND = "transform";

/* After CLI_TRANSFORM_SETTING_OPTIONS' codes (inputs.h). */
enum { OPT_PER_SAMPLE_INIT = CLI_OPT_THREADS + 1 };

static const cli_option TRANSFORM_OPTIONS[] = {
    CLI_MODEL_AND_DATA_OPTIONS,
    {"output", 'o', CLI_KIND_TEXT, "H.npy", CLI_NO_FIELD, 0, NULL, cli_required,
     "activations to write, an (N, D) float32 array; '-' for standard output"},
    CLI_TRANSFORM_SETTING_OPTIONS,
    CLI_DIVERGENCE_OPTION(offsetof(mdnmf_params, divergence), "the model's"),
    {"per-sample-init", OPT_PER_SAMPLE_INIT, CLI_KIND_FLAG, NULL,
     offsetof(mdnmf_params, per_sample_init), 0, NULL, "the model's",
     "each sample's random initial H from the seed and that sample's values, not one stream "
     "for all: a sample's H then does not depend on the other rows of the input"},
    {"quiet", 'q', CLI_KIND_FLAG, NULL, CLI_NO_FIELD, 0, NULL, "off",
     "accepted for symmetry with fit; transform prints only errors"},
    CLI_HELP_OPTION,
};
enum { OPTION_COUNT = sizeof TRANSFORM_OPTIONS / sizeof TRANSFORM_OPTIONS[0] };

const cli_command cli_transform_command = {
    "transform",
    "transform -m MODEL.npz -i U.npy -o H.npy [options]",
    "Compute the activations H of data for a saved model's basis.",
    TRANSFORM_OPTIONS,
    OPTION_COUNT,
};

typedef struct transform_request {
    const char *model, *input, *output;
    mdnmf_params overrides;  /* the values of the options in `given` */
    int given[OPTION_COUNT];
} transform_request;

static int store_text_option(void *context, const cli_option *option, const char *value)
{
    transform_request *request = context;
    switch (option->key) {
    case 'm': request->model = value; break;
    case 'i': request->input = value; break;
    case 'o': request->output = value; break;
    }
    return 0;
}

int cli_transform(int argc, char **argv)
{
    transform_request request;
    memset(&request, 0, sizeof request);
    mdnmf_params_default(&request.overrides);
    int parsed = cli_parse_exit(cli_parse_command(&cli_transform_command, argc, argv,
                                                  &request.overrides, request.given,
                                                  store_text_option, &request));
    if (parsed >= 0) {
        return parsed;
    }
    /* Fail fast, before the transform of a large file. */
    const char *input_paths[] = {request.model, request.input};
    cli_input_files inputs = {0};
    if (cli_inputs_note(COMMAND, &inputs, input_paths, 2) != 0 ||
        cli_refuse_input_as_output(COMMAND, "-o", request.output, &inputs) != 0 ||
        cli_output_check_writable_or_stdout(COMMAND, request.output) != 0) {
        cli_inputs_free(&inputs);
        return CLI_EXIT_RUNTIME;
    }
    cli_activations result;
    int code = cli_compute_activations(COMMAND, request.model, request.input,
                                       TRANSFORM_OPTIONS, request.given, OPTION_COUNT,
                                       &request.overrides, &result);
    if (code == CLI_EXIT_OK) {
        /* H is D x N column-major: exactly the C-order (N, D) array. */
        cli_npy_file file = {(char *)request.output, result.H, result.atoms, result.data.n};
        if (cli_write_npy_files(COMMAND, &file, 1, &inputs) != 0) {
            code = CLI_EXIT_RUNTIME;
        }
    }
    cli_activations_free(&result);
    cli_inputs_free(&inputs);
    return code;
}
