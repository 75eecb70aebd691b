/* mdnmf search: random search over a separator's hyper-parameters (SPEC §10).
 *
 *   mdnmf search -p SPEC.json --sup-source S0.npy --sup-source S1.npy
 *                --sup-mixed VS.npy [--source U0.npy ... --mixed V.npy]
 *                [-d D[,D...]] -o TRIALS.csv [--refit SEP.npz] [options]
 *
 * SPEC.json maps parameters to distributions:
 *   {"tau_A": {"distribution": "log-uniform", "low": 0.01, "high": 1},
 *    "d[1]": {"distribution": "choice", "values": [8, 16]},
 *    "mode": {"distribution": "choice", "values": ["std", "adv"]}}
 * This file reads the spec and the data, builds the mdnmf_search and lets
 * mdnmf_search_run do the rest; every trial becomes a CSV row as it ends
 * (in a temporary file renamed into place at the end), the best row is
 * printed as one JSON line. */
#define _POSIX_C_SOURCE 200809L

#include "commands.h"
#include "inputs.h"
#include "json.h"
#include "outputs.h"
#include "progress.h"
#include "separation.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char *const COMMAND = "search";

enum { OPT_TRIALS = 256, OPT_FOLDS, OPT_METRIC, OPT_AGGREGATE, OPT_SEARCH_SEED, OPT_NO_WIENER,
       OPT_REFIT };

#define SEARCH_FIELD(name) offsetof(mdnmf_search, name)

static const cli_option SEARCH_OPTIONS[] = {
    {"spec", 'p', CLI_KIND_TEXT, "SPEC.json", CLI_NO_FIELD, 0, NULL, cli_required,
     "the parameters to draw: {\"name\": {\"distribution\": \"uniform\"|\"log-uniform\", "
     "\"low\": x, \"high\": y} or {\"distribution\": \"choice\", \"values\": [...]}, ...}"},
    CLI_SEPARATION_DATA_OPTIONS,
    {"output", 'o', CLI_KIND_TEXT, "TRIALS.csv", CLI_NO_FIELD, 0, NULL, cli_required,
     "every trial: trial, the drawn values, score, error; '-' for standard output "
     "(then the best row is not printed again)"},
    {"refit", OPT_REFIT, CLI_KIND_TEXT, "SEP.npz", CLI_NO_FIELD, 0, NULL, "none",
     "refit the best parameters on all data and save the separator"},
    {"trials", OPT_TRIALS, CLI_KIND_INT, "N", SEARCH_FIELD(trials), 1, NULL, NULL,
     "number of trials"},
    {"folds", OPT_FOLDS, CLI_KIND_INT, "K", SEARCH_FIELD(folds), 2, NULL, NULL,
     "k of the cross-validation over the supervised pairs"},
    {"metric", OPT_METRIC, CLI_KIND_CHOICE, "psnr|mse", SEARCH_FIELD(metric), 0,
     cli_metric_names, NULL, "score: PSNR (dB), or minus the MSE"},
    {"aggregate", OPT_AGGREGATE, CLI_KIND_CHOICE, "median|mean", SEARCH_FIELD(aggregate), 0,
     cli_aggregate_names, NULL, "over the pairs, of each pair's mean over sources"},
    {"search-seed", OPT_SEARCH_SEED, CLI_KIND_UINT64, "S", SEARCH_FIELD(seed), 0, NULL, NULL,
     "seed of the draws and of the folds (--seed seeds the fits)"},
    {"no-wiener", OPT_NO_WIENER, CLI_KIND_FLAG, NULL, CLI_NO_FIELD, 0, NULL, "off",
     "score W_s H_s instead of the Wiener-filtered estimates"},
    CLI_SEPARATOR_SETTING_OPTIONS("from the spec"),
    {"quiet", 'q', CLI_KIND_FLAG, NULL, CLI_NO_FIELD, 0, NULL, "off",
     "no progress line (errors are still printed)"},
    CLI_HELP_OPTION,
};
enum { OPTION_COUNT = sizeof SEARCH_OPTIONS / sizeof SEARCH_OPTIONS[0] };

const cli_command cli_search_command = {
    "search",
    "search -p SPEC.json --sup-source S0.npy --sup-source S1.npy [...] --sup-mixed VS.npy\n"
    "             [--source U0.npy ... --mixed V.npy] [-d D[,D...]] -o TRIALS.csv\n"
    "             [--refit SEP.npz] [options]",
    "Random search of separator parameters, scored by k-fold cross-validation.",
    SEARCH_OPTIONS,
    OPTION_COUNT,
};

typedef struct search_request {
    cli_separation_files files;
    const char *spec, *output, *refit;
    int quiet;
    mdnmf_search search;
    int given[OPTION_COUNT];
} search_request;

/* ------------------------------------------------------------ the spec */

/* The spec as dimensions, with their names as written ("tau_A[1]"). */
typedef struct search_spec {
    mdnmf_search_dimension *dimensions;
    char **names;
    int count;
} search_spec;

static void spec_free(search_spec *spec)
{
    mdnmf_search_dimensions_free(spec->dimensions, spec->names, spec->count);
    memset(spec, 0, sizeof *spec);
}

/* The file's text (malloc'ed, *length bytes), or NULL after an error line.
 * The messages are json_load_file's, as before the library read the spec:
 * a file that cannot be read to its end is parsed as far as it was read. */
static char *read_spec_text(const char *path, size_t *length)
{
    FILE *file = fopen(path, "rb");
    if (!file) {
        cli_error(COMMAND, "unable to open %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t used = 0, size = 4096;
    char *text = malloc(size);
    while (text) {
        used += fread(text + used, 1, size - used, file);
        if (used < size) { /* the end of the file, or a read error */
            break;
        }
        char *grown = realloc(text, size *= 2);
        if (!grown) {
            free(text);
        }
        text = grown;
    }
    fclose(file);
    if (!text) {
        cli_error(COMMAND, "out of memory");
    }
    *length = used;
    return text;
}

/* Errors as "mdnmf search: SPEC: <what>" (what names the parameter). */
static int read_spec(const char *path, search_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    size_t length = 0;
    char *text = read_spec_text(path, &length);
    if (!text) {
        return -1;
    }
    mdnmf_error error;
    int status = mdnmf_search_dimensions_from_json(text, length, &spec->dimensions, &spec->names,
                                                   &spec->count, &error);
    free(text);
    if (status != MDNMF_OK) {
        cli_error(COMMAND, "%s: %s", path, error.message);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ command line */

static int store_text_option(void *context, const cli_option *option, const char *value)
{
    search_request *request = context;
    int stored = cli_separation_store(COMMAND, &request->files, option, value);
    if (stored != 0) {
        return stored < 0 ? -1 : 0;
    }
    switch (option->key) {
    case 'p': request->spec = value; break;
    case 'o': request->output = value; break;
    case OPT_REFIT: request->refit = value; break;
    case OPT_NO_WIENER: request->search.wiener = 0; break;
    case 'q': request->quiet = 1; break;
    }
    return 0;
}

/* S comes from the pairs, which every search needs; the clean data is
 * there for every source or, for semi modes, for all but the last. */
static int count_sources(search_request *r)
{
    int S = r->files.sup_count;
    if (S < 2 || !r->files.sup_mixed) {
        cli_error(COMMAND, "the search scores separations of supervised pairs: give "
                  "--sup-source once per source (at least two) and --sup-mixed VS.npy");
        return -1;
    }
    int clean = r->files.source_count;
    if (clean != 0 && clean != S && clean != S - 1) {
        cli_error(COMMAND, "%d --source files for %d sources (one per --sup-source): give one "
                  "per source, or all but the last for semi modes", clean, S);
        return -1;
    }
    r->search.base.sources = S;
    return cli_spread_lists(&cli_search_command, &r->search, r->given, S,
                            "one per --sup-source file");
}

static int atoms_given_for_every_source(const search_request *r, const search_spec *spec)
{
    for (int s = 0; s < r->search.base.sources; s++) {
        int covered = r->search.base.d[s] >= 1;
        for (int i = 0; i < spec->count && !covered; i++) {
            const mdnmf_search_dimension *dim = &spec->dimensions[i];
            covered = dim->param == MDNMF_SEARCH_D && (dim->source < 0 || dim->source == s);
        }
        if (!covered) {
            cli_error(COMMAND, "no atom count for source %d: give -d D[,D...] or draw \"d\" in "
                      "%s", s, r->spec);
            return 0;
        }
    }
    return 1;
}

/* Returns -1 to go on, or the exit code. */
static int parse_request(int argc, char **argv, search_request *request)
{
    memset(request, 0, sizeof *request);
    mdnmf_search defaults;
    mdnmf_search_default(&defaults, 2);
    request->search = defaults;
    int parsed = cli_parse_exit(cli_parse_options(&cli_search_command, argc, argv,
                                                  &request->search, &defaults, request->given,
                                                  store_text_option, request));
    if (parsed >= 0) {
        return parsed;
    }
    return count_sources(request) == 0 ? -1 : CLI_EXIT_USAGE;
}

/* The spec into the search, checked by the library; 0 or an exit code. */
static int load_spec(search_request *r, search_spec *spec)
{
    if (read_spec(r->spec, spec) != 0) {
        return CLI_EXIT_RUNTIME;
    }
    if (!atoms_given_for_every_source(r, spec)) {
        return CLI_EXIT_USAGE;
    }
    r->search.dimensions = spec->dimensions;
    r->search.dimension_count = spec->count;
    r->search.refit = r->refit != NULL;
    mdnmf_error error;
    if (mdnmf_search_check(&r->search, &error) != MDNMF_OK) {
        cli_error(COMMAND, "%s: %s", r->spec, error.message);
        return CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------ the run */

typedef struct search_run {
    const search_request *request;
    const search_spec *spec;
    cli_separation_inputs inputs;
    mdnmf_model *model;
    cli_output trials;
    int show_progress, progress_on_screen;
    char *best_row;  /* the best trial as a JSON object */
    double best_score;
} search_run;

/* Whole numbers are written as integers. */
static int is_whole(double value)
{
    return value == floor(value) && fabs(value) < 1e15;
}

/* A value as CSV text: enum names, whole numbers, or reals with every digit. */
static void format_value(const mdnmf_search_dimension *dim, double value, char *out, size_t size)
{
    const char *name = mdnmf_search_value_name(dim->param, value);
    if (name) {
        snprintf(out, size, "%s", name);
    } else if (is_whole(value)) {
        snprintf(out, size, "%.0f", value);
    } else {
        snprintf(out, size, "%.17g", value);
    }
}

static void write_csv_header(FILE *out, const search_spec *spec)
{
    fputs("trial", out);
    for (int i = 0; i < spec->count; i++) {
        fprintf(out, ",%s", spec->names[i]);
    }
    fputs(",score,error\n", out);
}

/* A CSV field with its quotes doubled (library messages contain commas). */
static void write_csv_text(FILE *out, const char *text)
{
    if (!text[0]) {
        return;
    }
    fputc('"', out);
    for (const char *c = text; *c; c++) {
        if (*c == '"') {
            fputc('"', out);
        }
        fputc(*c == '\n' ? ' ' : *c, out);
    }
    fputc('"', out);
}

static void write_csv_row(FILE *out, const search_spec *spec, const mdnmf_search_trial *trial)
{
    char text[64];
    fprintf(out, "%d", trial->trial);
    for (int i = 0; i < spec->count; i++) {
        format_value(&spec->dimensions[i], trial->values[i], text, sizeof text);
        fprintf(out, ",%s", text);
    }
    if (isfinite(trial->score)) {
        fprintf(out, ",%.10g,", trial->score);
    } else {
        fputs(",,", out);
    }
    write_csv_text(out, trial->message);
    fputc('\n', out);
}

/* A drawn value as JSON: an enum's name, an integer or a real. */
static json_t *json_value_of(const mdnmf_search_dimension *dim, double value)
{
    const char *name = mdnmf_search_value_name(dim->param, value);
    return name ? json_string(name)
           : is_whole(value) ? json_integer((json_int_t)value)
                             : cli_json_real(value);
}

/* {"trial": 3, "tau_A": 0.2, ..., "score": 21.5}: the row's fields, as
 * text; NULL if out of memory. */
static char *json_row(const search_spec *spec, const mdnmf_search_trial *trial)
{
    json_t *row = json_pack("{s:i}", "trial", trial->trial);
    int failed = !row;
    for (int i = 0; i < spec->count && !failed; i++) {
        failed = json_object_set_new(row, spec->names[i],
                                     json_value_of(&spec->dimensions[i], trial->values[i]));
    }
    failed = failed || json_object_set_new(row, "score", cli_json_real(trial->score));
    if (failed) {
        json_decref(row);
        return NULL;
    }
    return cli_json_text(row);
}

/* "trial 3/20, best score 21.48 (trial 1)", redrawn after every trial. */
static void draw_progress(search_run *run, const mdnmf_search_trial *trial)
{
    fprintf(stderr, "\rtrial %d/%d", trial->trial + 1, trial->trials);
    if (run->best_row) {
        fprintf(stderr, ", best score %.4g", run->best_score);
    }
    fprintf(stderr, "\033[K");
    fflush(stderr);
    run->progress_on_screen = 1;
}

static int on_trial(void *user, const mdnmf_search_trial *trial)
{
    search_run *run = user;
    write_csv_row(run->trials.stream, run->spec, trial);
    if (trial->best) {
        free(run->best_row);
        run->best_row = json_row(run->spec, trial);
        run->best_score = trial->score;
    }
    if (run->show_progress) {
        draw_progress(run, trial);
    }
    /* Out of memory for the best row: stop, run_search reports it. */
    return cli_interrupted() || (trial->best && !run->best_row);
}

/* Ctrl-C is noticed between epochs: the trials file is a temporary file
 * until the end, and must not be left behind by a killed process. */
static int on_epoch(void *user, const mdnmf_progress *progress)
{
    (void)user;
    (void)progress;
    return cli_interrupted();
}

/* -o and --refit are never the spec or one of the data files. */
static int refuse_outputs_onto_inputs(const search_request *r)
{
    cli_input_files inputs = {0};
    int status = cli_separation_note_inputs(COMMAND, &r->files, &inputs) != 0 ||
                         cli_inputs_note(COMMAND, &inputs, &r->spec, 1) != 0 ||
                         cli_refuse_input_as_output(COMMAND, "-o", r->output, &inputs) != 0 ||
                         cli_refuse_input_as_output(COMMAND, "--refit", r->refit, &inputs) != 0
                     ? -1
                     : 0;
    cli_inputs_free(&inputs);
    return status;
}

static int prepare_outputs(const search_request *r, search_run *run)
{
    if (refuse_outputs_onto_inputs(r) != 0) {
        return CLI_EXIT_RUNTIME;
    }
    if (r->refit && cli_output_check_writable(COMMAND, r->refit) != 0) {
        return CLI_EXIT_RUNTIME;
    }
    if (cli_output_open(&run->trials, COMMAND, r->output) != 0) {
        return CLI_EXIT_RUNTIME;
    }
    write_csv_header(run->trials.stream, run->spec);
    return CLI_EXIT_OK;
}

static int read_inputs(const search_request *r, search_run *run)
{
    if (cli_separation_read(COMMAND, &r->files, r->search.base.sources, &run->inputs) != 0) {
        return CLI_EXIT_RUNTIME;
    }
    int64_t pairs = run->inputs.data.n_sup;
    if (r->search.folds > pairs) {
        cli_error(COMMAND, "--folds %d: %s has only %" PRId64 " pairs: give --folds <= %" PRId64,
                  r->search.folds, r->files.sup_mixed, pairs, pairs);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static int run_search(search_request *r, search_run *run)
{
    mdnmf_search search = r->search;
    search.on_trial = on_trial;
    search.on_trial_user = run;
    search.base.common.on_epoch = on_epoch;
    cli_interrupt_install();
    run->show_progress = cli_progress_bar_wanted(r->quiet);
    mdnmf_params common = search.base.common;
    common.d = 1;
    mdnmf_error error;
    run->model = mdnmf_model_create(&common, &error);
    if (!run->model) {
        cli_error(COMMAND, "cannot create the model: %s", mdnmf_strerror(error.status));
        return CLI_EXIT_RUNTIME;
    }
    mdnmf_search_result result;
    int status = mdnmf_search_run(run->model, &search, &run->inputs.data, &result, &error);
    if (run->progress_on_screen) {
        fputc('\n', stderr);
    }
    if (status == MDNMF_ERR_CANCELLED && cli_interrupted()) {
        cli_error(COMMAND, "interrupted: nothing written");
        return CLI_EXIT_INTERRUPTED;
    }
    if (status == MDNMF_ERR_CANCELLED && !run->best_row) {
        cli_error(COMMAND, "out of memory");
        return CLI_EXIT_RUNTIME;
    }
    if (status != MDNMF_OK) {
        return cli_separation_report(COMMAND, &r->files, status, error.message);
    }
    return CLI_EXIT_OK;
}

/* The refitted separator first (written atomically by the library), then
 * the trials file; if that fails the fresh model goes too. */
static int write_outputs(const search_request *r, search_run *run)
{
    mdnmf_error error;
    if (r->refit && mdnmf_model_save(run->model, r->refit, &error) != MDNMF_OK) {
        cli_error_about(COMMAND, r->refit, error.message);
        return CLI_EXIT_RUNTIME;
    }
    if (cli_output_commit(&run->trials, COMMAND) != 0) {
        if (r->refit) {
            remove(r->refit);
        }
        return CLI_EXIT_RUNTIME;
    }
    if (!cli_output_is_stdout(r->output)) { /* else the CSV on stdout has it */
        printf("%s\n", run->best_row);
    }
    return CLI_EXIT_OK;
}

int cli_search(int argc, char **argv)
{
    search_request request;
    int code = parse_request(argc, argv, &request);
    if (code >= 0) {
        return code;
    }
    search_spec spec;
    memset(&spec, 0, sizeof spec);
    search_run run;
    memset(&run, 0, sizeof run);
    run.request = &request;
    run.spec = &spec;
    code = load_spec(&request, &spec);
    if (code == CLI_EXIT_OK) {
        code = prepare_outputs(&request, &run);
    }
    if (code == CLI_EXIT_OK) {
        code = read_inputs(&request, &run);
    }
    if (code == CLI_EXIT_OK) {
        code = run_search(&request, &run);
    }
    if (code == CLI_EXIT_OK) {
        code = write_outputs(&request, &run);
    }
    cli_output_discard(&run.trials);
    mdnmf_model_destroy(run.model);
    cli_separation_free(&run.inputs);
    free(run.best_row);
    spec_free(&spec);
    return code;
}
