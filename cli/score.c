/* mdnmf score: how well a model's basis represents some data.
 *
 * Transforms U (as `mdnmf transform` does) and prints mdnmf_model_score's
 * numbers as one JSON line {"columns", "mse", "relative_error", "psnr_median"}.
 * `make demo` uses it to compare a basis on true and on adversarial data. */
#include "commands.h"
#include "inputs.h"
#include "json.h"

#include <string.h>

static const char *const COMMAND = "score";

static const cli_option SCORE_OPTIONS[] = {
    CLI_MODEL_AND_DATA_OPTIONS,
    CLI_TRANSFORM_SETTING_OPTIONS,
    CLI_HELP_OPTION,
};
enum { OPTION_COUNT = sizeof SCORE_OPTIONS / sizeof SCORE_OPTIONS[0] };

const cli_command cli_score_command = {
    "score",
    "score -m MODEL.npz -i U.npy [options]",
    "Print how well a saved model's basis reconstructs data (one JSON line).",
    SCORE_OPTIONS,
    OPTION_COUNT,
};

typedef struct score_request {
    const char *model, *input;
    mdnmf_params overrides;
    int given[OPTION_COUNT];
} score_request;

static int store_text_option(void *context, const cli_option *option, const char *value)
{
    score_request *request = context;
    switch (option->key) {
    case 'm': request->model = value; break;
    case 'i': request->input = value; break;
    }
    return 0;
}

static int print_score(const mdnmf_score *score)
{
    return cli_json_print(COMMAND, json_pack("{s:I, s:o, s:o, s:o}", "columns",
                                             (json_int_t)score->columns, "mse",
                                             cli_json_real(score->mse), "relative_error",
                                             cli_json_real(score->relative_error), "psnr_median",
                                             cli_json_real(score->psnr_median)));
}

int cli_score(int argc, char **argv)
{
    score_request request;
    memset(&request, 0, sizeof request);
    mdnmf_params_default(&request.overrides);
    int code = cli_parse_exit(cli_parse_command(&cli_score_command, argc, argv,
                                                &request.overrides, request.given,
                                                store_text_option, &request));
    if (code >= 0) {
        return code;
    }
    cli_activations result;
    code = cli_load_model_data(COMMAND, request.model, request.input, SCORE_OPTIONS,
                               request.given, OPTION_COUNT, &request.overrides, &result);
    mdnmf_score score;
    mdnmf_error error;
    if (code == CLI_EXIT_OK && mdnmf_model_score(result.model, result.data.data, result.data.m,
                                                 result.data.n, &score, &error) != MDNMF_OK) {
        cli_error_about(COMMAND, request.input, error.message);
        code = CLI_EXIT_RUNTIME;
    }
    if (code == CLI_EXIT_OK) {
        code = print_score(&score) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
    }
    cli_activations_free(&result);
    return code;
}
