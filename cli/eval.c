/* mdnmf eval: how close estimates are to their references (SPEC §9).
 *
 *   mdnmf eval --metric psnr|mse -r R.npy -e E.npy [-r R1.npy -e E1.npy ...]
 *              [--aggregate median|mean]
 *
 * One reference/estimate pair per source, all (N, m).  Per sample j the
 * metric (mdnmf_psnr or mdnmf_squared_error of row j) is averaged over the
 * sources, then aggregated over the samples: the paper's "median over test
 * mixtures of the mean over sources".  Prints one JSON line:
 *   {"metric": "psnr", "aggregate": "median", "sources": S, "samples": N,
 *    "value": v, "per_source": [v_0, ...]}
 * where per_source aggregates each source's own per-sample values.
 *
 * --metric snr|sisdr|bss compares recordings instead: eval_audio.c. */
#include "commands.h"
#include "eval_audio.h"
#include "inputs.h"
#include "json.h"

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char *const COMMAND = "eval";

enum { OPT_METRIC = 256, OPT_AGGREGATE };
enum { METRIC_OPTION = 2, AGGREGATE_OPTION = 3 }; /* their places in EVAL_OPTIONS */

/* The aggregate lives in an mdnmf_search, whose defaults are the library's
 * (mdnmf_search_default); so does the metric once its name is known to be
 * one of the matrix metrics. */
static cli_option EVAL_OPTIONS[] = {
    {"reference", 'r', CLI_KIND_TEXT, "R.npy", CLI_NO_FIELD, 0, NULL, cli_required,
     "true source, (N, m); once per source"},
    {"estimate", 'e', CLI_KIND_TEXT, "E.npy", CLI_NO_FIELD, 0, NULL, cli_required,
     "its estimate, (N, m); once per source, in the order of the references"},
    /* Its default_text is set from mdnmf_search_default in cli_eval. */
    {"metric", OPT_METRIC, CLI_KIND_TEXT, "psnr|mse|snr|sisdr|bss", CLI_NO_FIELD, 0, NULL, NULL,
     "psnr, mse: .npy files, per sample (row) 20 log10(max(r) / rmse(r - e)) in dB or "
     "mean((r - e)^2); snr, sisdr, bss: audio files (SNR, SI-SDR, BSS Eval v3 in dB)"},
    {"aggregate", OPT_AGGREGATE, CLI_KIND_CHOICE, "median|mean",
     offsetof(mdnmf_search, aggregate), 0, cli_aggregate_names, NULL,
     "psnr, mse: over the samples, of the per-sample mean over sources"},
    CLI_HELP_OPTION,
};

const cli_command cli_eval_command = {
    "eval",
    "eval [--metric psnr|mse] -r R.npy -e E.npy [-r R1.npy -e E1.npy ...] "
    "[--aggregate median|mean]",
    "Print PSNR or MSE of estimates against references (one JSON line).",
    EVAL_OPTIONS,
    sizeof EVAL_OPTIONS / sizeof EVAL_OPTIONS[0],
};

typedef struct eval_request {
    const char *references[MDNMF_MAX_SOURCES];
    const char *estimates[MDNMF_MAX_SOURCES];
    int reference_count, estimate_count;
    const char *metric;    /* as given, or NULL */
    mdnmf_search settings; /* metric and aggregate */
    int given[sizeof EVAL_OPTIONS / sizeof EVAL_OPTIONS[0]];
} eval_request;

static int add_path(const char **list, int *count, const char *option, const char *value)
{
    if (*count == MDNMF_MAX_SOURCES) {
        cli_error(COMMAND, "too many %s files: at most %d", option, MDNMF_MAX_SOURCES);
        return -1;
    }
    list[(*count)++] = value;
    return 0;
}

static int store_text_option(void *context, const cli_option *option, const char *value)
{
    eval_request *request = context;
    switch (option->key) {
    case 'r':
        return add_path(request->references, &request->reference_count, "--reference", value);
    case 'e':
        return add_path(request->estimates, &request->estimate_count, "--estimate", value);
    case OPT_METRIC: request->metric = value; return 0;
    }
    return 0;
}

typedef struct eval_data {
    int sources;
    mdnmf_matrix references[MDNMF_MAX_SOURCES], estimates[MDNMF_MAX_SOURCES];
    double *values;  /* sources x n: per-sample metric of each source */
    double *scratch; /* n */
} eval_data;

static void eval_data_free(eval_data *data)
{
    for (int s = 0; s < data->sources; s++) {
        mdnmf_matrix_free(&data->references[s]);
        mdnmf_matrix_free(&data->estimates[s]);
    }
    free(data->values);
    free(data->scratch);
}

static int same_shape(const char *path, const mdnmf_matrix *a, const char *other,
                      const mdnmf_matrix *b, const char *why)
{
    if (a->m == b->m && a->n == b->n) {
        return 0;
    }
    cli_error(COMMAND, "%s: a (%" PRId64 ", %" PRId64 ") array but %s is (%" PRId64 ", %" PRId64
              "): %s", path, a->n, a->m, other, b->n, b->m, why);
    return -1;
}

static int read_pairs(const eval_request *r, eval_data *data)
{
    data->sources = r->reference_count;
    for (int s = 0; s < data->sources; s++) {
        if (cli_read_matrix(COMMAND, r->references[s], &data->references[s]) != 0 ||
            cli_read_matrix(COMMAND, r->estimates[s], &data->estimates[s]) != 0) {
            return -1;
        }
        if (same_shape(r->estimates[s], &data->estimates[s], r->references[s],
                       &data->references[s], "an estimate must have its reference's shape") ||
            (s > 0 && same_shape(r->references[s], &data->references[s], r->references[0],
                                 &data->references[0],
                                 "every source has one row per sample, of the same size"))) {
            return -1;
        }
    }
    if (data->references[0].n == 0 || data->references[0].m == 0) {
        cli_error(COMMAND, "%s: empty array: nothing to evaluate", r->references[0]);
        return -1;
    }
    return 0;
}

/* Median or mean over the samples (the library's aggregate). */
static double aggregate(const double *values, int64_t n, mdnmf_aggregate how)
{
    double result = NAN;
    if (mdnmf_aggregate_values(values, n, how, &result, NULL) != MDNMF_OK) {
        return NAN; /* out of memory: printed as null */
    }
    return result;
}

static int measure(const eval_request *r, eval_data *data)
{
    int64_t m = data->references[0].m, n = data->references[0].n;
    data->values = malloc((size_t)(data->sources * n) * sizeof *data->values);
    data->scratch = malloc((size_t)n * sizeof *data->scratch);
    if (!data->values || !data->scratch) {
        cli_error(COMMAND, "out of memory for %" PRId64 " samples", n);
        return -1;
    }
    for (int s = 0; s < data->sources; s++) {
        const float *ref = data->references[s].data, *est = data->estimates[s].data;
        double *out = data->values + s * n;
        int status = r->settings.metric == MDNMF_METRIC_PSNR
                         ? mdnmf_psnr(ref, est, m, n, out, NULL)
                         : mdnmf_squared_error(ref, est, m, n, out, NULL);
        if (status != MDNMF_OK) {
            cli_error(COMMAND, "%s: %s", r->estimates[s], mdnmf_strerror(status));
            return -1;
        }
    }
    return 0;
}

static int print_result(const eval_request *r, eval_data *data)
{
    int64_t n = data->references[0].n;
    mdnmf_aggregate how = r->settings.aggregate;
    mdnmf_error error;
    if (mdnmf_mean_over_sources(data->values, data->sources, n, data->scratch, &error) != 0) {
        cli_error(COMMAND, "%s", error.message);
        return -1;
    }
    double per_source[MDNMF_MAX_SOURCES];
    for (int s = 0; s < data->sources; s++) {
        per_source[s] = aggregate(data->values + s * n, n, how);
    }
    return cli_json_print(COMMAND, json_pack("{s:s, s:s, s:i, s:I, s:o, s:o}", "metric",
                                             cli_metric_names[r->settings.metric], "aggregate",
                                             cli_aggregate_names[how], "sources", data->sources,
                                             "samples", (json_int_t)n, "value",
                                             cli_json_real(aggregate(data->scratch, n, how)),
                                             "per_source",
                                             cli_json_reals(per_source, data->sources)));
}

/* The matrix metric named by --metric into settings.metric; audio metrics
 * are eval_audio.c's. */
static int resolve_metric(eval_request *r, int *audio)
{
    *audio = r->metric && cli_is_audio_metric(r->metric);
    if (*audio) {
        if (r->given[AGGREGATE_OPTION]) {
            cli_error(COMMAND, "--aggregate applies to psnr and mse: drop it for --metric %s",
                      r->metric);
            return -1;
        }
        return 0;
    }
    if (!r->metric) {
        return 0;
    }
    for (int k = 0; cli_metric_names[k]; k++) {
        if (strcmp(r->metric, cli_metric_names[k]) == 0) {
            r->settings.metric = (mdnmf_metric)k;
            return 0;
        }
    }
    cli_error(COMMAND, "--metric: '%s' is not one of: psnr, mse (.npy), %s (audio)", r->metric,
              cli_audio_metric_choices);
    return -1;
}

int cli_eval(int argc, char **argv)
{
    eval_request request;
    memset(&request, 0, sizeof request);
    mdnmf_search defaults;
    mdnmf_search_default(&defaults, 2);
    request.settings = defaults;
    EVAL_OPTIONS[METRIC_OPTION].default_text = cli_metric_names[defaults.metric];
    int parsed = cli_parse_exit(cli_parse_options(&cli_eval_command, argc, argv,
                                                  &request.settings, &defaults, request.given,
                                                  store_text_option, &request));
    if (parsed >= 0) {
        return parsed;
    }
    if (request.reference_count != request.estimate_count) {
        cli_error(COMMAND, "%d --reference but %d --estimate files: give one estimate per "
                  "reference", request.reference_count, request.estimate_count);
        return CLI_EXIT_USAGE;
    }
    int audio = 0;
    if (resolve_metric(&request, &audio) != 0) {
        return CLI_EXIT_USAGE;
    }
    if (audio) {
        return cli_eval_audio(COMMAND, request.metric, request.references, request.estimates,
                              request.reference_count);
    }
    eval_data data;
    memset(&data, 0, sizeof data);
    int code = CLI_EXIT_RUNTIME;
    if (read_pairs(&request, &data) == 0 && measure(&request, &data) == 0 &&
        print_result(&request, &data) == 0) {
        code = CLI_EXIT_OK;
    }
    eval_data_free(&data);
    return code;
}
