/* Input files of the mdnmf tool: .npy matrices and saved models, read
 * through the library, with failures reported as one line naming the file. */
#ifndef MDNMF_CLI_INPUTS_H
#define MDNMF_CLI_INPUTS_H

#include "mdnmf.h"
#include "options.h"

#include <stddef.h>

/* Read a 1-D or 2-D numeric .npy file as float32 (any byte order, integer
 * or float64 data converted).  Returns 0, or -1 after printing
 * "mdnmf COMMAND: PATH: <reason>". */
int cli_read_matrix(const char *command, const char *path, mdnmf_matrix *out);

/* Load a model saved by `mdnmf fit`; NULL after printing one line. */
mdnmf_model *cli_load_model(const char *command, const char *path);

/* Check that the data in `data_path` has the `expected_m` features per
 * sample that `reference` (a file name) has.  Returns 0, or -1 after
 * printing one line naming `data_path`. */
int cli_check_features(const char *command, const char *data_path, int64_t m,
                       const char *reference, int64_t expected_m);

/* The options `transform` and `score` share: the model, the data, and the
 * transform settings, which default to the model's own (those of its fit). */
enum { CLI_OPT_TEST_EPOCHS = 256, CLI_OPT_SEED, CLI_OPT_THREADS };
#define CLI_MODEL_AND_DATA_OPTIONS                                                       \
    {"model", 'm', CLI_KIND_TEXT, "MODEL.npz", CLI_NO_FIELD, 0, NULL, cli_required,      \
     "model saved by 'mdnmf fit'"},                                                      \
    {"input", 'i', CLI_KIND_TEXT, "U.npy", CLI_NO_FIELD, 0, NULL, cli_required,          \
     "data, an (N, m) .npy array with the model's m features"}
#define CLI_TRANSFORM_SETTING_OPTIONS                                                    \
    {"test-epochs", CLI_OPT_TEST_EPOCHS, CLI_KIND_INT, "T",                              \
     offsetof(mdnmf_params, test_epochs), 0, NULL, "the model's", "update steps of H"},  \
    {"seed", CLI_OPT_SEED, CLI_KIND_UINT64, "S", offsetof(mdnmf_params, seed), 0, NULL,  \
     "the model's", "seed of the random initial H"},                                     \
    {"threads", CLI_OPT_THREADS, CLI_KIND_THREADS, "N", offsetof(mdnmf_params, threads),  \
     0, NULL, "the model's", CLI_THREADS_HELP}

/* Set the model's parameters to its own with the table options marked in
 * `given` taken from `overrides`.  Returns an exit code (options.h): a
 * refused value is a usage error, printed as one line. */
int cli_apply_overrides(const char *command, mdnmf_model *model, const cli_option *options,
                        const int *given, size_t option_count, const mdnmf_params *overrides);

/* Activations of one data file under a saved model: what `transform` writes
 * and `score` measures. */
typedef struct cli_activations {
    mdnmf_model *model;
    mdnmf_matrix data; /* m x n */
    float *H;          /* atoms x n, column-major */
    int64_t atoms;
} cli_activations;

/* Load the model, read the data (checked to have the model's features) and
 * apply the overrides (cli_apply_overrides); H stays NULL.  Returns an exit
 * code (options.h); on failure one line was printed. */
int cli_load_model_data(const char *command, const char *model_path, const char *data_path,
                        const cli_option *options, const int *given, size_t option_count,
                        const mdnmf_params *overrides, cli_activations *out);
/* The same, then transform the data into H. */
int cli_compute_activations(const char *command, const char *model_path,
                            const char *data_path, const cli_option *options,
                            const int *given, size_t option_count,
                            const mdnmf_params *overrides, cli_activations *out);
void cli_activations_free(cli_activations *activations);

#endif
