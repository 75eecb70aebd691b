/* Reading the tool's input files (see inputs.h). */
#include "inputs.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int cli_read_matrix(const char *command, const char *path, mdnmf_matrix *out)
{
    mdnmf_error error;
    memset(out, 0, sizeof *out);
    if (mdnmf_npy_read(path, out, &error) != MDNMF_OK) {
        cli_error_about(command, path, error.message);
        mdnmf_matrix_free(out);
        return -1;
    }
    return 0;
}

mdnmf_model *cli_load_model(const char *command, const char *path)
{
    mdnmf_error error;
    mdnmf_model *model = mdnmf_model_load(path, &error);
    if (!model) {
        cli_error_about(command, path, error.message);
    }
    return model;
}

int cli_check_features(const char *command, const char *data_path, int64_t m,
                       const char *reference, int64_t expected_m)
{
    if (m == expected_m) {
        return 0;
    }
    cli_error(command,
              "%s: %" PRId64 " features per sample (array columns) but %s has %" PRId64
              ": both must describe the same features",
              data_path, m, reference, expected_m);
    return -1;
}

int cli_apply_overrides(const char *command, mdnmf_model *model, const cli_option *options,
                        const int *given, size_t option_count, const mdnmf_params *overrides)
{
    mdnmf_params params = *mdnmf_model_params(model);
    for (size_t i = 0; i < option_count; i++) {
        if (given[i] && options[i].field != CLI_NO_FIELD) {
            cli_option_copy(&options[i], overrides, &params);
        }
    }
    mdnmf_error error;
    if (mdnmf_model_set_params(model, &params, &error) != MDNMF_OK) {
        cli_error(command, "%s", error.message);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

int cli_load_model_data(const char *command, const char *model_path, const char *data_path,
                        const cli_option *options, const int *given, size_t option_count,
                        const mdnmf_params *overrides, cli_activations *out)
{
    memset(out, 0, sizeof *out);
    out->model = cli_load_model(command, model_path);
    if (!out->model) {
        return CLI_EXIT_RUNTIME;
    }
    if (cli_read_matrix(command, data_path, &out->data) != 0) {
        return CLI_EXIT_RUNTIME;
    }
    int64_t m = 0;
    mdnmf_model_shape(out->model, &m, &out->atoms);
    if (cli_check_features(command, data_path, out->data.m, model_path, m) != 0) {
        return CLI_EXIT_RUNTIME;
    }
    return cli_apply_overrides(command, out->model, options, given, option_count, overrides);
}

int cli_compute_activations(const char *command, const char *model_path,
                            const char *data_path, const cli_option *options,
                            const int *given, size_t option_count,
                            const mdnmf_params *overrides, cli_activations *out)
{
    int code = cli_load_model_data(command, model_path, data_path, options, given,
                                   option_count, overrides, out);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    mdnmf_error error;
    size_t count = (size_t)out->atoms * (size_t)out->data.n;
    out->H = malloc((count ? count : 1) * sizeof *out->H);
    if (!out->H) {
        cli_error(command, "%s: out of memory for %" PRId64 " x %" PRId64 " activations",
                  data_path, out->atoms, out->data.n);
        return CLI_EXIT_RUNTIME;
    }
    if (mdnmf_transform(out->model, out->data.data, out->data.m, out->data.n, out->H, &error) !=
        MDNMF_OK) {
        cli_error_about(command, data_path, error.message);
        return CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_OK;
}

void cli_activations_free(cli_activations *activations)
{
    mdnmf_model_destroy(activations->model);
    mdnmf_matrix_free(&activations->data);
    free(activations->H);
    memset(activations, 0, sizeof *activations);
}
