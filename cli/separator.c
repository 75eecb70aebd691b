/* mdnmf separator: fit the bases of S sources, and separate mixtures.
 *
 *   mdnmf separator fit --mode MODE --source U0.npy --source U1.npy [...]
 *       [--mixed V.npy] [--sup-source S0.npy ... --sup-mixed VS.npy]
 *       -d D[,D...] -o SEP.npz [options]
 *       mdnmf_separator_fit in any mode of SPEC §6; per-source options take
 *       comma lists.
 *   mdnmf separator apply -m SEP.npz -i V.npy -o PREFIX [--no-wiener]
 *       mdnmf_separate: writes PREFIX0.npy, PREFIX1.npy, ... ((N, m) each).
 *
 * The library checks the data and says what a mode lacks; this file turns
 * files and options into the calls, and the calls' failures into one line
 * naming the file or option.  Nothing is written unless everything
 * succeeded. */
#include "commands.h"
#include "inputs.h"
#include "outputs.h"
#include "progress.h"
#include "separation.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NO_FIELD CLI_NO_FIELD

/* ================================================== mdnmf separator fit */

static const char *const FIT_COMMAND = "separator fit";

enum { OPT_WARM_START = 256, OPT_LOSS_LOG };

static const cli_option FIT_OPTIONS[] = {
    CLI_SEPARATION_DATA_OPTIONS,
    {"output", 'o', CLI_KIND_TEXT, "SEP.npz", NO_FIELD, 0, NULL, cli_required,
     "separator model to write"},
    CLI_SEPARATOR_SETTING_OPTIONS(cli_required),
    {"warm-start", OPT_WARM_START, CLI_KIND_TEXT, "SEP.npz", NO_FIELD, 0, NULL, "none",
     "start from this separator's bases (same sources, atoms and features)"},
    {"loss-log", OPT_LOSS_LOG, CLI_KIND_TEXT, "FILE.csv", NO_FIELD, 0, NULL, "none",
     "write stage,epoch,loss_true,loss_adv,objective per epoch of every stage"},
    {"quiet", 'q', CLI_KIND_FLAG, NULL, NO_FIELD, 0, NULL, "off",
     "no progress bar (errors are still printed)"},
    CLI_HELP_OPTION,
};
enum { FIT_OPTION_COUNT = sizeof FIT_OPTIONS / sizeof FIT_OPTIONS[0] };

static const char FIT_SUMMARY[] =
    "Fit the bases of a separator of S sources (modes of SPEC section 6) and save it.";
static const char APPLY_SUMMARY[] =
    "Separate mixtures with a saved separator: one .npy estimate per source.";

static const cli_command FIT_USAGE = {
    "separator fit",
    "separator fit --mode MODE --source U0.npy --source U1.npy [...] [--mixed V.npy]\n"
    "             [--sup-source S0.npy --sup-source S1.npy --sup-mixed VS.npy]\n"
    "             -d D[,D...] -o SEP.npz [options]",
    FIT_SUMMARY,
    FIT_OPTIONS,
    FIT_OPTION_COUNT,
};

/* Which data each mode reads (the library's table of SPEC §6); the
 * library says what is missing, the tool refuses what would be silently
 * ignored. */
typedef struct mode_data {
    int sources;   /* --source: 1 every source, 2 all but the last (semi), 0 none */
    int mixed;     /* --mixed used */
    int pairs;     /* --sup-source / --sup-mixed used */
} mode_data;

static mode_data mode_uses(mdnmf_mode mode)
{
    const mdnmf_mode_info *info = mdnmf_mode_describe(mode);
    mode_data uses = {info->U == MDNMF_NEED_IGNORED        ? 0
                      : info->U_last == MDNMF_NEED_IGNORED ? 2
                                                           : 1,
                      info->V != MDNMF_NEED_IGNORED, info->pairs != MDNMF_NEED_IGNORED};
    return uses;
}

typedef struct fit_request {
    cli_separation_files files;
    const char *output, *warm_start, *loss_log;
    int quiet;
    mdnmf_separator_params params;
    int given[FIT_OPTION_COUNT];
} fit_request;

typedef struct fit_run {
    cli_separation_inputs inputs;
    mdnmf_model *model;
    cli_output loss_log;
    cli_progress progress; /* staged: per source, warm-up, joint fits */
} fit_run;

static int store_fit_option(void *context, const cli_option *option, const char *value)
{
    fit_request *request = context;
    int stored = cli_separation_store(FIT_COMMAND, &request->files, option, value);
    if (stored != 0) {
        return stored < 0 ? -1 : 0;
    }
    switch (option->key) {
    case 'o': request->output = value; break;
    case OPT_WARM_START: request->warm_start = value; break;
    case OPT_LOSS_LOG: request->loss_log = value; break;
    case 'q': request->quiet = 1; break;
    }
    return 0;
}

static const char *mode_name(mdnmf_mode mode)
{
    return mdnmf_enum_name(MDNMF_ENUM_MODE, (int)mode);
}

/* Data the mode would ignore is refused: the user meant something else. */
static int refuse_unused_data(const fit_request *r)
{
    const mode_data use = mode_uses(r->params.mode), *uses = &use;
    const char *unused = r->files.source_count && !uses->sources ? "--source"
                         : r->files.mixed && !uses->mixed        ? "--mixed"
                         : r->files.sup_count && !uses->pairs    ? "--sup-source"
                         : r->files.sup_mixed && !uses->pairs    ? "--sup-mixed"
                                                                 : NULL;
    if (unused) {
        cli_error(FIT_COMMAND, "%s is not used by mode %s: drop it or choose a mode that "
                  "uses it (see 'mdnmf separator fit --help')", unused,
                  mode_name(r->params.mode));
        return -1;
    }
    return 0;
}

/* S: the --source files (plus the learned last source in semi modes), or
 * the --sup-source files where the mode has no --source; both must agree. */
static int count_sources(const fit_request *r, int *sources, const char **hint)
{
    const mode_data use = mode_uses(r->params.mode), *uses = &use;
    if (!r->files.source_count && !r->files.sup_count && !r->files.mixed &&
        !r->files.sup_mixed) {
        cli_error(FIT_COMMAND, "no training data: give %s (see 'mdnmf separator fit --help')",
                  uses->sources ? "--source U.npy once per source"
                                : "--sup-source S.npy once per source and --sup-mixed VS.npy");
        return -1;
    }
    int weak = r->files.source_count + (uses->sources == 2 ? 1 : 0);
    *hint = uses->sources == 2 ? "the --source files and the learned last source"
            : uses->sources    ? "one per --source file"
                               : "one per --sup-source file";
    *sources = uses->sources ? weak : r->files.sup_count;
    if (uses->sources && uses->pairs && r->files.sup_count && r->files.sup_count != weak) {
        cli_error(FIT_COMMAND, "%d --sup-source files for %d --source files: give the pairs "
                  "of every source", r->files.sup_count, r->files.source_count);
        return -1;
    }
    if (*sources < 2 && (uses->sources ? r->files.source_count : r->files.sup_count) > 0) {
        cli_error(FIT_COMMAND, "mode %s separates at least two sources: give %s",
                  mode_name(r->params.mode),
                  uses->sources ? "--source once per source" : "--sup-source once per source");
        return -1;
    }
    return 0;
}

static int check_fit_request(fit_request *r)
{
    if (refuse_unused_data(r) != 0) {
        return -1;
    }
    int sources = 0;
    const char *hint = NULL;
    if (count_sources(r, &sources, &hint) != 0) {
        return -1;
    }
    if (sources < 2) {
        /* No data at all: let the library name what the mode needs. */
        sources = 2;
    }
    r->params.sources = sources;
    if (cli_spread_lists(&FIT_USAGE, &r->params, r->given, sources, hint) != 0) {
        return -1;
    }
    if (r->warm_start && r->params.mode == MDNMF_MODE_EXEM) {
        cli_error(FIT_COMMAND, "--warm-start: mode exem does not train: drop --warm-start");
        return -1;
    }
    mdnmf_error error;
    if (mdnmf_separator_params_check(&r->params, &error) != MDNMF_OK) {
        cli_error(FIT_COMMAND, "%s (see 'mdnmf separator fit --help')", error.message);
        return -1;
    }
    return 0;
}

static int parse_fit_request(int argc, char **argv, fit_request *request, int *exit_code)
{
    memset(request, 0, sizeof *request);
    mdnmf_separator_params defaults;
    mdnmf_separator_params_default(&defaults, 2);
    request->params = defaults;
    switch (cli_parse_options(&FIT_USAGE, argc, argv, &request->params, &defaults,
                              request->given, store_fit_option, request)) {
    case CLI_PARSE_HELP:
        *exit_code = CLI_EXIT_OK;
        return -1;
    case CLI_PARSE_FAILED:
        *exit_code = CLI_EXIT_USAGE;
        return -1;
    case CLI_PARSED:
        break;
    }
    if (check_fit_request(request) != 0) {
        *exit_code = CLI_EXIT_USAGE;
        return -1;
    }
    return 0;
}

static int prepare_fit_outputs(const fit_request *r, fit_run *run)
{
    if (cli_output_check_writable(FIT_COMMAND, r->output) != 0) {
        return CLI_EXIT_RUNTIME;
    }
    if (r->loss_log) {
        if (cli_output_open(&run->loss_log, FIT_COMMAND, r->loss_log) != 0) {
            return CLI_EXIT_RUNTIME;
        }
        cli_progress_write_log_header(run->loss_log.stream, 1);
    }
    return CLI_EXIT_OK;
}

/* The model to fit: a fresh one, or the warm-start separator itself (the
 * library starts from its bases and checks that they fit). */
static int create_fit_model(const fit_request *r, fit_run *run)
{
    if (r->warm_start) {
        run->model = cli_load_model(FIT_COMMAND, r->warm_start);
        if (!run->model) {
            return CLI_EXIT_RUNTIME;
        }
        if (mdnmf_model_source_count(run->model) != r->params.sources) {
            cli_error(FIT_COMMAND, "%s: the model has %d source(s) but this separator has %d: "
                      "--warm-start needs a separator of the same sources",
                      r->warm_start, mdnmf_model_source_count(run->model), r->params.sources);
            return CLI_EXIT_RUNTIME;
        }
        return CLI_EXIT_OK;
    }
    mdnmf_params common = r->params.common;
    common.d = 1; /* the separator's d[] decide; create only checks it */
    mdnmf_error error;
    run->model = mdnmf_model_create(&common, &error);
    if (!run->model) {
        cli_error(FIT_COMMAND, "cannot create the model: %s", mdnmf_strerror(error.status));
        return CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_OK;
}

static int run_separator_fit(const fit_request *r, fit_run *run)
{
    mdnmf_separator_params params = r->params;
    params.common.warm_start = r->warm_start != NULL;
    cli_progress *bar = &run->progress;
    bar->show_bar = cli_progress_bar_wanted(r->quiet);
    bar->adversarial = params.mode == MDNMF_MODE_ADV || params.mode == MDNMF_MODE_FULL ||
                       params.mode == MDNMF_MODE_SEMI_ADV;
    bar->loss_log = run->loss_log.stream;
    bar->staged = 1;
    if (bar->show_bar || bar->loss_log) {
        params.common.on_epoch = cli_progress_on_epoch;
        params.common.on_epoch_user = &run->progress;
        cli_interrupt_install();
    }
    mdnmf_error error;
    int status = mdnmf_separator_fit(run->model, &params, &run->inputs.data, &error);
    cli_progress_end(bar);
    if (status == MDNMF_OK) {
        return CLI_EXIT_OK;
    }
    if (status == MDNMF_ERR_CANCELLED && cli_interrupted()) {
        cli_error(FIT_COMMAND, "interrupted: nothing written");
        return CLI_EXIT_INTERRUPTED;
    }
    const char *message = error.message;
    if (r->warm_start && status == MDNMF_ERR_SHAPE && strstr(message, "warm-start")) {
        cli_error(FIT_COMMAND, "%s: %s", r->warm_start, message);
        return CLI_EXIT_RUNTIME;
    }
    return cli_separation_report(FIT_COMMAND, &r->files, status, message);
}

/* The model first (written atomically by the library), then the loss log;
 * if the log cannot be renamed into place the fresh model goes too. */
static int write_fit_outputs(const fit_request *r, fit_run *run)
{
    mdnmf_error error;
    if (mdnmf_model_save(run->model, r->output, &error) != MDNMF_OK) {
        cli_error_about(FIT_COMMAND, r->output, error.message);
        return CLI_EXIT_RUNTIME;
    }
    if (run->loss_log.stream && cli_output_commit(&run->loss_log, FIT_COMMAND) != 0) {
        remove(r->output);
        return CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_OK;
}

static int cli_separator_fit(int argc, char **argv)
{
    fit_request request;
    int code = CLI_EXIT_OK;
    if (parse_fit_request(argc, argv, &request, &code) != 0) {
        return code;
    }
    fit_run run;
    memset(&run, 0, sizeof run);
    code = prepare_fit_outputs(&request, &run);
    if (code == CLI_EXIT_OK && cli_separation_read(FIT_COMMAND, &request.files,
                                                   request.params.sources, &run.inputs) != 0) {
        code = CLI_EXIT_RUNTIME;
    }
    if (code == CLI_EXIT_OK) {
        code = create_fit_model(&request, &run);
    }
    if (code == CLI_EXIT_OK) {
        code = run_separator_fit(&request, &run);
    }
    if (code == CLI_EXIT_OK) {
        code = write_fit_outputs(&request, &run);
    }
    cli_output_discard(&run.loss_log);
    mdnmf_model_destroy(run.model);
    cli_separation_free(&run.inputs);
    return code;
}

/* ================================================ mdnmf separator apply */

static const char *const APPLY_COMMAND = "separator apply";

enum { OPT_NO_WIENER = 256 };

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
    APPLY_SUMMARY,
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
    char *paths[MDNMF_MAX_SOURCES];
    cli_output outputs[MDNMF_MAX_SOURCES];
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
    size_t size = strlen(prefix) + 16;
    char *path = malloc(size);
    if (path) {
        snprintf(path, size, "%s%d.npy", prefix, source);
    }
    return path;
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
    mdnmf_params params = *mdnmf_model_params(run->model);
    for (int i = 0; i < APPLY_OPTION_COUNT; i++) {
        if (r->given[i] && APPLY_OPTIONS[i].field != NO_FIELD) {
            cli_option_copy(&APPLY_OPTIONS[i], &r->overrides, &params);
        }
    }
    mdnmf_error error;
    if (mdnmf_model_set_params(run->model, &params, &error) != MDNMF_OK) {
        cli_error(APPLY_COMMAND, "%s", error.message);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
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

/* Every estimate goes to a temporary file beside its destination (the
 * library writes the .npy over the reserved temporary name); only when all
 * S are written are they renamed into place, so a failure leaves none. */
static int write_estimates(const apply_request *r, apply_run *run)
{
    for (int s = 0; s < run->sources; s++) {
        mdnmf_error error;
        run->paths[s] = estimate_path(r->prefix, s);
        if (!run->paths[s]) {
            cli_error(APPLY_COMMAND, "out of memory");
            return CLI_EXIT_RUNTIME;
        }
        if (cli_output_open(&run->outputs[s], APPLY_COMMAND, run->paths[s]) != 0) {
            return CLI_EXIT_RUNTIME;
        }
        if (mdnmf_npy_write(run->outputs[s].temp_path, run->estimates[s], run->V.m, run->V.n,
                            &error) != MDNMF_OK) {
            cli_error(APPLY_COMMAND, "%s: %s", run->paths[s], error.message);
            return CLI_EXIT_RUNTIME;
        }
    }
    for (int s = 0; s < run->sources; s++) {
        if (cli_output_commit(&run->outputs[s], APPLY_COMMAND) != 0) {
            for (int done = 0; done < s; done++) {
                unlink(run->paths[done]);
            }
            return CLI_EXIT_RUNTIME;
        }
    }
    return CLI_EXIT_OK;
}

static void release_apply(apply_run *run)
{
    for (int s = 0; s < MDNMF_MAX_SOURCES; s++) {
        cli_output_discard(&run->outputs[s]);
        free(run->estimates[s]);
        free(run->paths[s]);
    }
    mdnmf_matrix_free(&run->V);
    mdnmf_model_destroy(run->model);
}

static int cli_separator_apply(int argc, char **argv)
{
    apply_request request;
    memset(&request, 0, sizeof request);
    request.wiener = 1;
    mdnmf_params_default(&request.overrides);
    switch (cli_parse_command(&APPLY_USAGE, argc, argv, &request.overrides, request.given,
                              store_apply_option, &request)) {
    case CLI_PARSE_HELP:
        return CLI_EXIT_OK;
    case CLI_PARSE_FAILED:
        return CLI_EXIT_USAGE;
    case CLI_PARSED:
        break;
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

/* ====================================================== mdnmf separator */

static const cli_option SEPARATOR_OPTIONS[] = {
    CLI_HELP_OPTION,
};

const cli_command cli_separator_command = {
    "separator",
    "separator fit|apply [options]",
    "Fit a separator of S sources in any mode, or separate mixtures with one.",
    SEPARATOR_OPTIONS,
    sizeof SEPARATOR_OPTIONS / sizeof SEPARATOR_OPTIONS[0],
};

static const cli_subcommand SUBCOMMANDS[] = {
    {"fit", FIT_SUMMARY, cli_separator_fit},
    {"apply", APPLY_SUMMARY, cli_separator_apply},
};

static const cli_group SEPARATOR = {
    &cli_separator_command,
    "mdnmf separator fit --mode MODE --source U0.npy --source U1.npy ... -d D[,D...] -o SEP.npz\n"
    "       mdnmf separator apply -m SEP.npz -i V.npy -o PREFIX",
    SUBCOMMANDS, sizeof SUBCOMMANDS / sizeof SUBCOMMANDS[0]};

int cli_separator(int argc, char **argv)
{
    return cli_run_group(&SEPARATOR, argc, argv);
}
