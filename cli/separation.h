/* What the separator commands share (`separator fit`, `search`): the data
 * options and the fit settings of a separator, reading the data files into
 * an mdnmf_separation_data, and the library's messages about missing or bad
 * data turned into lines that name the file or the option to add. */
#ifndef MDNMF_CLI_SEPARATION_H
#define MDNMF_CLI_SEPARATION_H

#include "mdnmf.h"
#include "options.h"
#include "outputs.h"

#include <stddef.h>

/* Long-only option codes of the shared tables; commands number their own
 * options from 256 and stay below these. */
enum {
    CLI_SEP_MIXED = 320,
    CLI_SEP_SUP_SOURCE,
    CLI_SEP_SUP_MIXED,
    CLI_SEP_MODE,
    CLI_SEP_EPOCHS,
    CLI_SEP_TEST_EPOCHS,
    CLI_SEP_BATCH_SIZE,
    CLI_SEP_ADV_BATCH_SIZE,
    CLI_SEP_SUP_BATCH_SIZE,
    CLI_SEP_TAU_A,
    CLI_SEP_TAU_W,
    CLI_SEP_TAU_S,
    CLI_SEP_MU_W,
    CLI_SEP_MU_H,
    CLI_SEP_BETA,
    CLI_SEP_INIT,
    CLI_SEP_NORMALIZE,
    CLI_SEP_UPDATE_H,
    CLI_SEP_TRUE_SAMPLE,
    CLI_SEP_WARM_START_EPOCHS,
    CLI_SEP_SEED,
    CLI_SEP_THREADS,
    CLI_SEP_NOISE_STEPS,
    CLI_SEP_WIENER_EXPONENT,
    CLI_SEP_INIT_H_STEPS
};

/* The two options of the semi noise fit and the Wiener mask, shared by
 * `separator fit`, `search`, `denoise fit` and `experiment speech`. */
#define CLI_NOISE_STEPS_OPTION(field)                                                      \
    {"noise-steps", CLI_SEP_NOISE_STEPS, CLI_KIND_INT, "K", field, 0, NULL, NULL,          \
     "semi modes: W steps of the noise basis per batch (the reference implementation: "    \
     "one per source)"}
#define CLI_WIENER_EXPONENT_OPTION(field)                                                  \
    {"wiener-exponent", CLI_SEP_WIENER_EXPONENT, CLI_KIND_DOUBLE, "P", field, 0, NULL,     \
     NULL, "exponent of the Wiener mask: V U_s^P / sum_t U_t^P (stored in the model)"}

#define CLI_SEP_FIELD(name) offsetof(mdnmf_separator_params, name)

/* The data of a separation problem, as files. */
#define CLI_SEPARATION_DATA_OPTIONS                                                        \
    {"source", 's', CLI_KIND_TEXT, "U.npy", CLI_NO_FIELD, 0, NULL, "none",                 \
     "clean training data of one source, (N_s, m); once per source, in order (semi "       \
     "modes: every source but the last)"},                                                 \
    {"mixed", CLI_SEP_MIXED, CLI_KIND_TEXT, "V.npy", CLI_NO_FIELD, 0, NULL, "none",        \
     "mixtures (N_V, m): extra adversarial data in adv and full, what the last source "    \
     "is learned from in semi and semi_adv"},                                              \
    {"sup-source", CLI_SEP_SUP_SOURCE, CLI_KIND_TEXT, "S.npy", CLI_NO_FIELD, 0, NULL,      \
     "none", "paired clean data of one source, (N_sup, m); once per source; row j "        \
     "belongs to row j of --sup-mixed"},                                                   \
    {"sup-mixed", CLI_SEP_SUP_MIXED, CLI_KIND_TEXT, "VS.npy", CLI_NO_FIELD, 0, NULL,       \
     "none", "the mixtures of the pairs, (N_sup, m)"}

/* The separator's settings; `atoms_default` is cli_required or a text. */
#define CLI_SEPARATOR_SETTING_OPTIONS(atoms_default)                                       \
    CLI_SEPARATOR_SETTINGS_BEFORE_TAU_A(atoms_default),                                   \
    {"tau-a", CLI_SEP_TAU_A, CLI_KIND_DOUBLE_LIST, "X[,X...]", CLI_SEP_FIELD(tau_A), 0,    \
     NULL, NULL, "weight of the adversarial term, per source"},                           \
    CLI_SEPARATOR_SETTINGS_AFTER_TAU_A

/* The same in two halves, for a command with a --tau-a of its own. */
#define CLI_SEPARATOR_SETTINGS_BEFORE_TAU_A(atoms_default)                                 \
    {"mode", CLI_SEP_MODE, CLI_KIND_CHOICE, "MODE", CLI_SEP_FIELD(mode), 0, cli_mode_names, \
     NULL, "fitting mode: std, adv, exem, sup, full, semi or semi_adv"},                   \
    {"atoms", 'd', CLI_KIND_INT64_LIST, "D[,D...]", CLI_SEP_FIELD(d), 1, NULL,             \
     atoms_default, "atoms per source; one value for every source"},                      \
    {"epochs", CLI_SEP_EPOCHS, CLI_KIND_INT, "N", CLI_SEP_FIELD(common.epochs), 0, NULL,   \
     NULL, "training epochs"},                                                             \
    {"test-epochs", CLI_SEP_TEST_EPOCHS, CLI_KIND_INT, "N",                                \
     CLI_SEP_FIELD(common.test_epochs), 0, NULL, NULL,                                     \
     "update steps of H for fixed bases"},                                                 \
    CLI_INIT_H_STEPS_OPTION(CLI_SEP_INIT_H_STEPS, CLI_SEP_FIELD(common.init_H_steps)),    \
    {"batch-size", CLI_SEP_BATCH_SIZE, CLI_KIND_INT64, "B",                                \
     CLI_SEP_FIELD(common.batch_size), 0, NULL, NULL,                                      \
     "true samples (semi modes: mixtures) per batch, 0 = all"},                            \
    {"adv-batch-size", CLI_SEP_ADV_BATCH_SIZE, CLI_KIND_INT64, "B",                        \
     CLI_SEP_FIELD(common.batch_size_adv), 0, NULL, NULL,                                  \
     "adversarial samples per batch, 0 = all"},                                            \
    {"sup-batch-size", CLI_SEP_SUP_BATCH_SIZE, CLI_KIND_INT64, "B",                        \
     CLI_SEP_FIELD(batch_size_sup), 0, NULL, NULL, "pairs per batch, 0 = all"}

#define CLI_SEPARATOR_SETTINGS_AFTER_TAU_A                                                 \
    {"tau-w", CLI_SEP_TAU_W, CLI_KIND_DOUBLE, "X", CLI_SEP_FIELD(common.tau_W), 0, NULL,   \
     NULL, "weight of the true-data term"},                                                \
    {"tau-s", CLI_SEP_TAU_S, CLI_KIND_DOUBLE, "X", CLI_SEP_FIELD(tau_S), 0, NULL, NULL,    \
     "weight of the supervised term (full)"},                                              \
    {"mu-w", CLI_SEP_MU_W, CLI_KIND_DOUBLE, "X", CLI_SEP_FIELD(common.mu_W), 0, NULL,      \
     NULL, "L1 penalty on W"},                                                             \
    {"mu-h", CLI_SEP_MU_H, CLI_KIND_DOUBLE_LIST, "X[,X...]", CLI_SEP_FIELD(mu_H), 0, NULL, \
     NULL, "L1 penalty on H, per source"},                                                 \
    {"beta", CLI_SEP_BETA, CLI_KIND_DOUBLE_LIST, "X[,X...]", CLI_SEP_FIELD(beta), 0, NULL, \
     NULL, "weight of the mixtures in each source's adversarial data"},                    \
    {"init", CLI_SEP_INIT, CLI_KIND_CHOICE, "exemplar|random", CLI_SEP_FIELD(common.init), \
     0, cli_init_names, NULL, "initial bases: random samples or Uniform(0,1)"},            \
    {"normalize", CLI_SEP_NORMALIZE, CLI_KIND_FLAG, NULL, CLI_SEP_FIELD(common.normalize), \
     0, NULL, NULL, "scale atoms to unit norm after every epoch"},                        \
    {"update-h", CLI_SEP_UPDATE_H, CLI_KIND_FLAG, NULL, CLI_SEP_FIELD(common.update_H), 0, \
     NULL, NULL, "update H batch by batch instead of once per epoch"},                     \
    {"true-sample", CLI_SEP_TRUE_SAMPLE, CLI_KIND_CHOICE, "std|adv|min",                   \
     CLI_SEP_FIELD(common.true_sample), 0, cli_true_sample_names, NULL,                    \
     "MDNMF batches per epoch: from N, N_adv or the fewer"},                              \
    CLI_DIVERGENCE_OPTION(CLI_SEP_FIELD(common.divergence), NULL),                         \
    {"warm-start-epochs", CLI_SEP_WARM_START_EPOCHS, CLI_KIND_INT, "N",                    \
     CLI_SEP_FIELD(warm_start_epochs), 0, NULL, NULL,                                      \
     "NMF epochs per source before adv, sup and full"},                                    \
    CLI_NOISE_STEPS_OPTION(CLI_SEP_FIELD(noise_steps)),                                    \
    CLI_WIENER_EXPONENT_OPTION(CLI_SEP_FIELD(wiener_exponent)),                            \
    {"seed", CLI_SEP_SEED, CLI_KIND_UINT64, "S", CLI_SEP_FIELD(common.seed), 0, NULL, NULL, \
     "random seed of the fits"},                                                           \
    {"threads", CLI_SEP_THREADS, CLI_KIND_THREADS, "N", CLI_SEP_FIELD(common.threads), 0,  \
     NULL, NULL, CLI_THREADS_HELP}

/* The data files given on the command line. */
typedef struct cli_separation_files {
    const char *sources[MDNMF_MAX_SOURCES];
    int source_count;
    const char *sup_sources[MDNMF_MAX_SOURCES];
    int sup_count;
    const char *mixed, *sup_mixed;
} cli_separation_files;

/* Keep `value` if `option` is one of CLI_SEPARATION_DATA_OPTIONS: returns
 * 1 if it was, 0 if not, -1 after one line (too many files). */
int cli_separation_store(const char *command, cli_separation_files *files,
                         const cli_option *option, const char *value);

/* Note every given file in `inputs` (outputs.h: no output may be one).
 * Returns 0, or -1 after one line. */
int cli_separation_note_inputs(const char *command, const cli_separation_files *files,
                               cli_input_files *inputs);

/* The data read from the files; release with cli_separation_free. */
typedef struct cli_separation_inputs {
    mdnmf_matrix sources[MDNMF_MAX_SOURCES], sup_sources[MDNMF_MAX_SOURCES];
    mdnmf_matrix mixed, sup_mixed;
    mdnmf_separation_data data; /* points into the matrices above */
} cli_separation_inputs;

/* Read every given file, check they all have the first one's features
 * (array columns) and that the pairs have one row per pair, and fill
 * inputs->data for `sources` sources.  Returns 0, or -1 after one line
 * naming the file. */
int cli_separation_read(const char *command, const cli_separation_files *files, int sources,
                        cli_separation_inputs *inputs);
/* The same on a host (host.h): each process reads its own part of every
 * file (the row checks then compare the parts). */
struct cli_host;
int cli_separation_read_on(const struct cli_host *host, const char *command,
                           const cli_separation_files *files, int sources,
                           cli_separation_inputs *inputs);
void cli_separation_free(cli_separation_inputs *inputs);

/* Print one line for a failed mdnmf_separator_fit (or search) with the
 * model's message: data errors name the file at fault, missing data names
 * the option to add.  Returns the exit code. */
int cli_separation_report(const char *command, const cli_separation_files *files, int status,
                          const char *message);

#endif
