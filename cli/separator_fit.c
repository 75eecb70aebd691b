/* mdnmf separator fit: fit the bases of S sources and save the separator.
 *
 *   mdnmf separator fit --mode MODE --source U0.npy --source U1.npy [...]
 *       [--mixed V.npy] [--sup-source S0.npy ... --sup-mixed VS.npy]
 *       -d D[,D...] -o SEP.npz [options]
 *
 * mdnmf_separator_fit in any mode of SPEC §6; per-source options take comma
 * lists.  The library checks the data and says what a mode lacks; this file
 * turns files and options into the call, and its failure into one line
 * naming the file or option.  Nothing is written unless the fit succeeded. */
#include "commands.h"
#include "inputs.h"
#include "outputs.h"
#include "progress.h"
#include "separation.h"

#include <stddef.h>
#include <string.h>

#define NO_FIELD CLI_NO_FIELD

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
     "write stage,epoch,loss_true,loss_adv,objective per epoch of every stage; "
     "'-' for standard output"},
    CLI_CHECKPOINT_OPTIONS(offsetof(mdnmf_separator_params, common.checkpoint_every)),
    {"quiet", 'q', CLI_KIND_FLAG, NULL, NO_FIELD, 0, NULL, "off",
     "no progress bar (errors are still printed)"},
    CLI_HELP_OPTION,
};
enum { FIT_OPTION_COUNT = sizeof FIT_OPTIONS / sizeof FIT_OPTIONS[0] };

const char cli_separator_fit_summary[] =
    "Fit the bases of a separator of S sources (modes of SPEC section 6) and save it.";

static const cli_command FIT_USAGE = {
    "separator fit",
    "separator fit --mode MODE --source U0.npy --source U1.npy [...] [--mixed V.npy]\n"
    "             [--sup-source S0.npy --sup-source S1.npy --sup-mixed VS.npy]\n"
    "             -d D[,D...] -o SEP.npz [options]",
    cli_separator_fit_summary,
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
    case CLI_OPT_CHECKPOINT: request->params.common.checkpoint_path = value; break;
    case CLI_OPT_RESUME: request->params.common.resume_path = value; break;
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
    const mdnmf_params *c = &r->params.common;
    if (r->params.mode == MDNMF_MODE_EXEM && (r->warm_start || c->checkpoint_path ||
                                              c->resume_path)) {
        const char *pointless = r->warm_start        ? "--warm-start"
                                : c->checkpoint_path ? "--checkpoint"
                                                     : "--resume";
        cli_error(FIT_COMMAND, "%s: mode exem does not train: drop %s", pointless, pointless);
        return -1;
    }
    if (cli_check_checkpoint_options(FIT_COMMAND, c, r->output, r->loss_log) != 0) {
        return -1;
    }
    mdnmf_error error;
    if (mdnmf_separator_params_check(&r->params, &error) != MDNMF_OK) {
        cli_error(FIT_COMMAND, "%s (see 'mdnmf separator fit --help')", error.message);
        return -1;
    }
    return 0;
}

/* Returns -1 to go on, or the exit code. */
static int parse_fit_request(int argc, char **argv, fit_request *request)
{
    memset(request, 0, sizeof *request);
    mdnmf_separator_params defaults;
    mdnmf_separator_params_default(&defaults, 2);
    request->params = defaults;
    int parsed = cli_parse_exit(cli_parse_options(&FIT_USAGE, argc, argv, &request->params,
                                                  &defaults, request->given, store_fit_option,
                                                  request));
    if (parsed >= 0) {
        return parsed;
    }
    return check_fit_request(request) == 0 ? -1 : CLI_EXIT_USAGE;
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
    cli_progress_attach(&run->progress, &params.common, r->quiet,
                        mdnmf_mode_describe(params.mode)->adversarial, &run->loss_log, 1);
    cli_progress_watch(&run->progress, &params.common, params.common.checkpoint_path);
    mdnmf_error error;
    int status = mdnmf_separator_fit(run->model, &params, &run->inputs.data, &error);
    int code = cli_progress_finish(&run->progress, FIT_COMMAND, status);
    if (code >= 0) {
        return code;
    }
    const char *message = error.message;
    if (r->warm_start && status == MDNMF_ERR_SHAPE && strstr(message, "warm-start")) {
        cli_error(FIT_COMMAND, "%s: %s", r->warm_start, message);
        return CLI_EXIT_RUNTIME;
    }
    return cli_separation_report(FIT_COMMAND, &r->files, status, message);
}

/* -o, --loss-log and --checkpoint are never one of the data files or the
 * warm start, nor one another. */
static int refuse_outputs_onto_inputs(const char *command, const fit_request *r)
{
    cli_input_files inputs = {0};
    int status = cli_separation_note_inputs(command, &r->files, &inputs) != 0 ||
                         cli_inputs_note(command, &inputs, &r->warm_start, 1) != 0 ||
                         cli_refuse_fit_outputs(command, &inputs, r->output, r->loss_log,
                                                r->params.common.checkpoint_path) != 0
                     ? -1
                     : 0;
    cli_inputs_free(&inputs);
    return status;
}

int cli_separator_fit(int argc, char **argv)
{
    fit_request request;
    int code = parse_fit_request(argc, argv, &request);
    if (code >= 0) {
        return code;
    }
    fit_run run;
    memset(&run, 0, sizeof run);
    /* From here on a signal ends the run through the clean-up below. */
    cli_signals_install();
    /* Fail fast: the outputs' folders before reading and fitting. */
    code = refuse_outputs_onto_inputs(FIT_COMMAND, &request) == 0 &&
                   cli_output_check_writable(FIT_COMMAND, request.output) == 0 &&
                   cli_check_checkpoint_files(FIT_COMMAND, &request.params.common) == 0 &&
                   cli_loss_log_open(&run.loss_log, FIT_COMMAND, request.loss_log, 1) == 0 &&
                   cli_separation_read(FIT_COMMAND, &request.files, request.params.sources,
                                       &run.inputs) == 0
               ? CLI_EXIT_OK
               : CLI_EXIT_RUNTIME;
    if (code == CLI_EXIT_RUNTIME && cli_interrupted()) {
        code = CLI_EXIT_INTERRUPTED; /* the reads stopped for it */
    }
    if (code == CLI_EXIT_OK) {
        code = create_fit_model(&request, &run);
    }
    if (code == CLI_EXIT_OK && !cli_interrupted()) {
        code = run_separator_fit(&request, &run);
    }
    if (code == CLI_EXIT_OK || code == CLI_EXIT_INTERRUPTED) {
        int stop = cli_exit_if_interrupted(FIT_COMMAND);
        code = stop >= 0 ? stop : code;
    }
    if (code == CLI_EXIT_OK) {
        code = cli_save_model_and_log(FIT_COMMAND, run.model, request.output, &run.loss_log,
                                      request.params.common.checkpoint_path);
    }
    cli_output_discard(&run.loss_log);
    mdnmf_model_destroy(run.model);
    cli_separation_free(&run.inputs);
    return code;
}
