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
#define _POSIX_C_SOURCE 200809L

#include "commands.h"
#include "host.h"
#include "inputs.h"
#include "outputs.h"
#include "progress.h"
#include "separation.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_FIELD CLI_NO_FIELD

static const char *const FIT_COMMAND = "separator fit";

enum { OPT_WARM_START = 256, OPT_LOSS_LOG, OPT_TAU_GRID, OPT_VALIDATION_FRACTION, OPT_TAU_MARGIN,
       OPT_TAU_FOLDS, OPT_NO_TAU_CONFIRM };

/* --tau-a takes numbers or this word. */
static const char *const TAU_A_WORDS[] = {"auto", NULL};

static const cli_option FIT_OPTIONS[] = {
    CLI_SEPARATION_DATA_OPTIONS,
    {"output", 'o', CLI_KIND_TEXT, "SEP.npz", NO_FIELD, 0, NULL, cli_required,
     "separator model to write"},
    CLI_SEPARATOR_SETTINGS_BEFORE_TAU_A(cli_required),
    {"tau-a", CLI_SEP_TAU_A, CLI_KIND_DOUBLE_LIST, "X[,X...]|auto", CLI_SEP_FIELD(tau_A), 0,
     TAU_A_WORDS, NULL,
     "weight of the adversarial term, per source; auto: chosen on validation pairs from "
     "--tau-grid (modes adv, semi_adv, full)"},
    CLI_SEPARATOR_SETTINGS_AFTER_TAU_A,
    {"tau-grid", OPT_TAU_GRID, CLI_KIND_TEXT, "X,X,...", NO_FIELD, 0, NULL,
     "0,0.05,0.1,0.15,0.2,0.3",
     "--tau-a auto: the values tried, increasing, the first 0 (the NMF itself)"},
    {"validation-fraction", OPT_VALIDATION_FRACTION, CLI_KIND_TEXT, "F", NO_FIELD, 0, NULL,
     "0.2",
     "--tau-a auto without --sup-source/--sup-mixed (mode adv): share of each source's "
     "--source samples held out as validation pairs"},
    {"tau-margin", OPT_TAU_MARGIN, CLI_KIND_TEXT, "K", NO_FIELD, 0, NULL, "1",
     "--tau-a auto: a larger tau_A is chosen only when its validation score is higher and "
     "it beats the one chosen so far by more than K standard errors of the per-pair "
     "differences (0: the best score wins)"},
    {"tau-folds", OPT_TAU_FOLDS, CLI_KIND_TEXT, "K", NO_FIELD, 0, NULL, "1",
     "--tau-a auto, mode adv: 1 holds --validation-fraction out; K >= 2 cross-validates "
     "over the training pairs in K folds (the --mixed file's column j must mix column j of "
     "every --source; K times the fits)"},
    {"no-tau-confirm", OPT_NO_TAU_CONFIRM, CLI_KIND_FLAG, NULL, NO_FIELD, 0, NULL, "off",
     "--tau-a auto with held-out pairs or --tau-folds: keep the chosen tau_A's refit on all "
     "data even when it separates the validation pairs no better than the NMF refit (by "
     "default the NMF is kept then)"},
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

/* With --tau-a auto the pairs are (also) the validation data. */
static mode_data mode_uses(mdnmf_mode mode, int tau_auto)
{
    const mdnmf_mode_info *info = mdnmf_mode_describe(mode);
    mode_data uses = {info->U == MDNMF_NEED_IGNORED        ? 0
                      : info->U_last == MDNMF_NEED_IGNORED ? 2
                                                           : 1,
                      info->V != MDNMF_NEED_IGNORED,
                      info->pairs != MDNMF_NEED_IGNORED || tau_auto};
    return uses;
}

typedef struct fit_request {
    cli_separation_files files;
    const char *output, *warm_start, *loss_log;
    int quiet;
    int tau_auto;                        /* --tau-a auto */
    const char *tau_grid, *validation_fraction, *tau_margin, *tau_folds;
    int no_tau_confirm;
    mdnmf_tau_auto tau;                  /* with tau_auto: the choice's settings */
    double grid[MDNMF_SEARCH_MAX_CHOICES];
    mdnmf_separator_params params;
    int given[FIT_OPTION_COUNT];
} fit_request;

typedef struct fit_run {
    cli_separation_inputs inputs;
    mdnmf_model *model;
    mdnmf_model *start;    /* --tau-a auto --warm-start: the NMF bases */
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
    case CLI_SEP_TAU_A: request->tau_auto = 1; break; /* the word "auto" */
    case OPT_TAU_GRID: request->tau_grid = value; break;
    case OPT_VALIDATION_FRACTION: request->validation_fraction = value; break;
    case OPT_TAU_MARGIN: request->tau_margin = value; break;
    case OPT_TAU_FOLDS: request->tau_folds = value; break;
    case OPT_NO_TAU_CONFIRM: request->no_tau_confirm = 1; break;
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
    const mode_data use = mode_uses(r->params.mode, r->tau_auto), *uses = &use;
    const char *unused = r->files.source_count && !uses->sources ? "--source"
                         : r->files.mixed && !uses->mixed        ? "--mixed"
                         : r->files.sup_count && !uses->pairs    ? "--sup-source"
                         : r->files.sup_mixed && !uses->pairs    ? "--sup-mixed"
                                                                 : NULL;
    if (unused) {
        cli_error(FIT_COMMAND, "%s is not used by mode %s: drop it or choose a mode that "
                  "uses it (see '%s separator fit --help')", unused,
                  mode_name(r->params.mode), cli_program);
        return -1;
    }
    return 0;
}

/* S: the --source files (plus the learned last source in semi modes), or
 * the --sup-source files where the mode has no --source; both must agree. */
static int count_sources(const fit_request *r, int *sources, const char **hint)
{
    const mode_data use = mode_uses(r->params.mode, r->tau_auto), *uses = &use;
    if (!r->files.source_count && !r->files.sup_count && !r->files.mixed &&
        !r->files.sup_mixed) {
        cli_error(FIT_COMMAND, "no training data: give %s (see '%s separator fit --help')",
                  uses->sources ? "--source U.npy once per source"
                                : "--sup-source S.npy once per source and --sup-mixed VS.npy",
                  cli_program);
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

static int option_index(int key)
{
    for (int i = 0; i < FIT_OPTION_COUNT; i++) {
        if (FIT_OPTIONS[i].key == key) {
            return i;
        }
    }
    return -1;
}

/* "0,0.05,0.1" into r->grid; -1 after one line. */
static int parse_tau_grid(fit_request *r)
{
    int count = 0;
    int status = cli_parse_double_list(FIT_COMMAND, "--tau-grid", r->tau_grid, 0.0, r->grid,
                                       MDNMF_SEARCH_MAX_CHOICES, &count);
    r->tau.grid = r->grid;
    r->tau.grid_count = count;
    return status;
}

/* --tau-a auto and its options: what goes with it and what does not. */
static int check_tau_auto(fit_request *r)
{
    if (!r->tau_auto) {
        const char *stray = r->tau_grid              ? "--tau-grid"
                            : r->validation_fraction ? "--validation-fraction"
                            : r->tau_margin          ? "--tau-margin"
                            : r->tau_folds           ? "--tau-folds"
                            : r->no_tau_confirm      ? "--no-tau-confirm"
                                                     : NULL;
        if (stray) {
            cli_error(FIT_COMMAND, "%s is an option of --tau-a auto: add --tau-a auto or drop "
                      "it", stray);
            return -1;
        }
        return 0;
    }
    if (r->given[option_index(CLI_SEP_TAU_A)]) {
        cli_error(FIT_COMMAND, "--tau-a: give numbers or auto, not both");
        return -1;
    }
    const mdnmf_params *c = &r->params.common;
    const char *single = r->loss_log ? "--loss-log" : c->checkpoint_path ? "--checkpoint"
                         : c->resume_path ? "--resume" : NULL;
    if (single) {
        cli_error(FIT_COMMAND, "%s: not with --tau-a auto, which runs a fit per --tau-grid "
                  "value: drop %s", single, single);
        return -1;
    }
    if (!mdnmf_mode_describe(r->params.mode)->adversarial ||
        r->params.mode == MDNMF_MODE_SEMI) {
        cli_error(FIT_COMMAND, "--tau-a auto: mode %s has no adversarial term: use adv, "
                  "semi_adv or full", mode_name(r->params.mode));
        return -1;
    }
    int pairs = r->files.sup_count > 0 || r->files.sup_mixed;
    if (r->validation_fraction && pairs) {
        cli_error(FIT_COMMAND, "--validation-fraction: the --sup-source/--sup-mixed pairs are "
                  "the validation data: drop one or the other");
        return -1;
    }
    mdnmf_tau_auto_default(&r->tau, r->params.sources);
    r->tau.seed = r->params.common.seed;
    if (r->validation_fraction &&
        cli_parse_double(FIT_COMMAND, "--validation-fraction", r->validation_fraction, 0.0,
                         &r->tau.validation_fraction) != 0) {
        return -1;
    }
    if (r->tau_margin &&
        cli_parse_double(FIT_COMMAND, "--tau-margin", r->tau_margin, 0.0, &r->tau.margin) != 0) {
        return -1;
    }
    if (r->tau_grid && parse_tau_grid(r) != 0) {
        return -1;
    }
    int folds = 1;
    if (r->tau_folds && cli_parse_int(FIT_COMMAND, "--tau-folds", r->tau_folds, 1, &folds) != 0) {
        return -1;
    }
    if (folds > 1 && (pairs || r->validation_fraction)) {
        cli_error(FIT_COMMAND, "--tau-folds %d validates on the training pairs' folds: drop "
                  "%s", folds, pairs ? "--sup-source/--sup-mixed" : "--validation-fraction");
        return -1;
    }
    r->tau.pair_folds = folds > 1 ? folds : 0;
    r->tau.confirm = !r->no_tau_confirm;
    r->tau.base = r->params;
    mdnmf_error error;
    if (mdnmf_tau_auto_check(&r->tau, &error) != MDNMF_OK) {
        const char *option = strncmp(error.message, "grid", 4) == 0 ? "--tau-grid: "
                             : strncmp(error.message, "validation", 10) == 0
                                 ? "--validation-fraction: "
                             : strncmp(error.message, "pair_folds", 10) == 0 ? "--tau-folds: "
                                                                             : "";
        const char *text = error.message;
        if (*option) {
            text = strchr(text, ' ') ? strchr(text, ' ') + 1 : text;
            if (strncmp(text, "validation_fraction ", 20) == 0)
                text += 20;
        }
        cli_error(FIT_COMMAND, "%s%s (see '%s separator fit --help')", option, text,
                  cli_program);
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
        cli_error(FIT_COMMAND, "%s (see '%s separator fit --help')", error.message,
                  cli_program);
        return -1;
    }
    return check_tau_auto(r);
}

/* --tau-a auto holds out validation pairs from the --source samples, which
 * no process of a sharded fit sees all of. */
static int check_hosted(const cli_host *host, const fit_request *r)
{
    if (host->sharded && r->tau_auto) {
        cli_error(FIT_COMMAND, "--tau-a auto: not supported on several processes: give "
                  "--tau-a values, or run 'mdnmf separator fit' for it");
        return -1;
    }
    return 0;
}

/* Returns -1 to go on, or the exit code. */
static int parse_fit_request(const cli_host *host, int argc, char **argv, fit_request *request)
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
    return check_fit_request(request) == 0 && check_hosted(host, request) == 0 &&
                   cli_host_checkpoint_files(host, FIT_COMMAND, &request->params.common) == 0
               ? -1
               : CLI_EXIT_USAGE;
}

/* The model to fit: a fresh one, or the warm-start separator itself (the
 * library starts from its bases and checks that they fit). */
static int create_fit_model(const fit_request *r, fit_run *run)
{
    if (r->warm_start) {
        mdnmf_model *warm = cli_load_model(FIT_COMMAND, r->warm_start);
        if (!warm) {
            return CLI_EXIT_RUNTIME;
        }
        /* --tau-a auto: the NMF every grid point starts from; else the
         * model the fit continues. */
        *(r->tau_auto ? &run->start : &run->model) = warm;
        if (mdnmf_model_source_count(warm) != r->params.sources) {
            cli_error(FIT_COMMAND, "%s: the model has %d source(s) but this separator has %d: "
                      "--warm-start needs a separator of the same sources",
                      r->warm_start, mdnmf_model_source_count(warm), r->params.sources);
            return CLI_EXIT_RUNTIME;
        }
        if (!r->tau_auto) {
            return CLI_EXIT_OK;
        }
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

/* The grid's validation scores and the choice, on stderr. */
static void report_tau_choice(const fit_request *r, const mdnmf_tau_auto_result *result)
{
    const char *what = r->tau.metric == MDNMF_METRIC_PSNR ? "PSNR" : "MSE";
    const char *how = r->tau.aggregate == MDNMF_AGGREGATE_MEDIAN ? "median" : "mean";
    fprintf(stderr, "mdnmf %s: tau_A auto: %s %s of %lld %s validation pairs:\n", FIT_COMMAND,
            how, what, (long long)result->validation_pairs,
            r->tau.pair_folds ? "cross-validated" : result->held_out ? "held-out" : "given");
    for (int i = 0; i < result->count; i++) {
        fprintf(stderr, "  tau_A = %-8g ", result->tau_A[i]);
        if (result->status[i] == MDNMF_OK && isfinite(result->metric[i])) {
            fprintf(stderr, "%.4f%s", result->metric[i],
                    r->tau.metric == MDNMF_METRIC_PSNR ? " dB" : "");
        } else {
            fprintf(stderr, "failed (%s)", mdnmf_strerror(result->status[i]));
        }
        fprintf(stderr, "%s\n", i == result->chosen ? "  <- chosen" : "");
    }
    if (r->tau.margin > 0.0) {
        fprintf(stderr, "mdnmf %s: chosen tau_A = %g (%d fits; a larger tau_A is chosen only "
                "when it scores higher and its per-pair gain over the one chosen so far "
                "exceeds %g standard error%s)\n", FIT_COMMAND, result->chosen_tau_A, result->fits, r->tau.margin,
                r->tau.margin == 1.0 ? "" : "s");
    } else {
        fprintf(stderr, "mdnmf %s: chosen tau_A = %g (%d fits; the best score)\n", FIT_COMMAND,
                result->chosen_tau_A, result->fits);
    }
    if (isnan(result->confirm_metric[0]))
        return;
    fprintf(stderr, "mdnmf %s: %s: on the validation pairs, which the final fits have seen, "
            "MDNMF (tau_A = %g) %.4f against NMF %.4f%s\n", FIT_COMMAND,
            result->rejected_tau_A > 0.0 ? "not confirmed, the NMF is kept" : "confirmed",
            result->rejected_tau_A > 0.0 ? result->rejected_tau_A : result->chosen_tau_A,
            result->confirm_metric[1], result->confirm_metric[0],
            result->rejected_tau_A > 0.0 ? " (--no-tau-confirm keeps the MDNMF)" : "");
}

static int run_tau_auto(const fit_request *r, fit_run *run, mdnmf_error *error)
{
    mdnmf_tau_auto tau = r->tau;
    tau.base = r->params;
    tau.start = run->start;
    cli_progress_attach(&run->progress, &tau.base.common, r->quiet, 1, NULL, 1);
    cli_progress_watch(&run->progress, &tau.base.common, NULL);
    mdnmf_tau_auto_result result;
    int status = mdnmf_tau_auto_run(run->model, &tau, &run->inputs.data, &result, error);
    cli_progress_end(&run->progress);
    if (status == MDNMF_OK) {
        report_tau_choice(r, &result);
    }
    return status;
}

/* Only the first process shows progress and writes the loss log. */
static int run_separator_fit(const cli_host *host, const fit_request *r, fit_run *run)
{
    mdnmf_separator_params params = r->params;
    params.common.warm_start = r->warm_start != NULL;
    mdnmf_error error;
    int status;
    if (r->tau_auto) {
        status = run_tau_auto(r, run, &error);
    } else {
        cli_progress_attach(&run->progress, &params.common, r->quiet || host->rank != 0,
                            mdnmf_mode_describe(params.mode)->adversarial, &run->loss_log, 1);
        cli_progress_watch(&run->progress, &params.common, params.common.checkpoint_path);
        cli_host_align_progress(host, &params.common);
        status = mdnmf_separator_fit(run->model, &params, &run->inputs.data, &error);
    }
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

/* Fail fast: the outputs' folders before reading and fitting (only the
 * first process writes them). */
static int prepare_outputs(const cli_host *host, const fit_request *r, fit_run *run)
{
    if (host->rank != 0) {
        return 0;
    }
    return refuse_outputs_onto_inputs(FIT_COMMAND, r) == 0 &&
                   cli_output_check_writable(FIT_COMMAND, r->output) == 0 &&
                   cli_check_checkpoint_files(FIT_COMMAND, &r->params.common) == 0 &&
                   cli_loss_log_open(&run->loss_log, FIT_COMMAND, r->loss_log, 1) == 0
               ? 0
               : -1;
}

int cli_separator_fit(int argc, char **argv)
{
    return cli_separator_fit_on(&cli_alone, argc, argv);
}

/* Each step's exit code is agreed by all processes before the next (a
 * no-op alone: host.h). */
int cli_separator_fit_on(const cli_host *host, int argc, char **argv)
{
    fit_request request;
    int code = parse_fit_request(host, argc, argv, &request);
    if (code >= 0) {
        return host->agree(host, code);
    }
    fit_run run;
    memset(&run, 0, sizeof run);
    /* From here on a signal ends the run through the clean-up below. */
    cli_signals_install();
    code = prepare_outputs(host, &request, &run) == 0 &&
                   cli_separation_read_on(host, FIT_COMMAND, &request.files,
                                          request.params.sources, &run.inputs) == 0
               ? CLI_EXIT_OK
               : CLI_EXIT_RUNTIME;
    if (code == CLI_EXIT_RUNTIME && cli_interrupted()) {
        code = CLI_EXIT_INTERRUPTED; /* the reads stopped for it */
    }
    code = host->agree(host, code);
    if (code == CLI_EXIT_OK) {
        code = host->agree(host, create_fit_model(&request, &run));
    }
    if (code == CLI_EXIT_OK) {
        code = host->agree(host, cli_host_shard_model(host, FIT_COMMAND, run.model));
    }
    if (code == CLI_EXIT_OK && host->combine(host, cli_interrupted(), CLI_HOST_MAX)) {
        code = CLI_EXIT_INTERRUPTED;
    } else if (code == CLI_EXIT_OK) {
        code = run_separator_fit(host, &request, &run);
    }
    code = cli_host_fit_ended(host, FIT_COMMAND, code, run.model);
    if (code == CLI_EXIT_OK) {
        code = host->agree(host, host->rank != 0 ? CLI_EXIT_OK
                                                 : cli_save_model_and_log(
                                                       FIT_COMMAND, run.model, request.output,
                                                       &run.loss_log,
                                                       request.params.common.checkpoint_path));
    }
    if (code == CLI_EXIT_OK) {
        cli_host_remove_checkpoint(host, &request.params.common);
    }
    cli_output_discard(&run.loss_log);
    mdnmf_model_destroy(run.model);
    mdnmf_model_destroy(run.start);
    cli_separation_free(&run.inputs);
    return code;
}
