/* mdnmf data mix: pair sample j of every source into a mixture with equal
 * or Dirichlet weights (SPEC §8).
 *
 *   mdnmf data mix --source A.npy --source B.npy [...] -o PREFIX [options]
 *
 * Writes PREFIX-mix.npy, PREFIX-target<s>.npy and PREFIX-weights.npy.  Every
 * input is checked before anything is written; the files are written all
 * or none (cli_write_npy_files). */
#include "commands.h"
#include "inputs.h"
#include "outputs.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define NO_FIELD CLI_NO_FIELD

static const char *const MIX_COMMAND = "data mix";

enum { OPT_WEIGHTS = 256, OPT_ALPHA, OPT_SEED, OPT_OFFSET };

enum { WEIGHTS_EQUAL = 0, WEIGHTS_DIRICHLET = 1 };
static const char *const WEIGHT_NAMES[] = {"equal", "dirichlet", NULL};

static const cli_option MIX_OPTIONS[] = {
    {"source", 's', CLI_KIND_TEXT, "X.npy", NO_FIELD, 0, NULL, cli_required,
     "clean images of one source, (N_s, m); give it once per source (2 to 16)"},
    {"output", 'o', CLI_KIND_TEXT, "PREFIX", NO_FIELD, 0, NULL, cli_required,
     "writes PREFIX-mix.npy, PREFIX-target0.npy, PREFIX-target1.npy, ... (the "
     "weighted sources c_s x_s) and PREFIX-weights.npy ((N, S) weights c)"},
    {"weights", OPT_WEIGHTS, CLI_KIND_TEXT, "equal|dirichlet", NO_FIELD, 0, NULL, "equal",
     "mixture j is sum_s c_sj x_sj with c_sj = 1/S, or c_j drawn from "
     "Dirichlet(alpha, ..., alpha)"},
    {"alpha", OPT_ALPHA, CLI_KIND_TEXT, "A", NO_FIELD, 0, NULL, NULL,
     "Dirichlet concentration, > 0; required with --weights dirichlet"},
    {"seed", OPT_SEED, CLI_KIND_TEXT, "S", NO_FIELD, 0, NULL, "0",
     "seed of the Dirichlet weights"},
    {"offset", OPT_OFFSET, CLI_KIND_TEXT, "K", NO_FIELD, 0, NULL, "0",
     "skip the first K samples of every source"},
    {"count", 'n', CLI_KIND_TEXT, "N", NO_FIELD, 0, NULL, "all the smallest source has",
     "number of mixtures: sample K+j of every source makes mixture j"},
    CLI_HELP_OPTION,
};

const char cli_data_mix_summary[] =
    "Mix sources sample by sample; the weighted sources are the truth.";

static const cli_command MIX_USAGE = {
    "data mix",
    "data mix --source A.npy --source B.npy [...] -o PREFIX [options]",
    cli_data_mix_summary,
    MIX_OPTIONS,
    sizeof MIX_OPTIONS / sizeof MIX_OPTIONS[0],
};

typedef struct mix_request {
    const char *sources[MDNMF_MAX_SOURCES];
    int source_count;
    const char *prefix;
    int weights;
    int alpha_given;
    double alpha;
    uint64_t seed;
    int64_t offset;
    int64_t count; /* 0: as many as the sources allow */
} mix_request;

static void report_bad_alpha(const char *value)
{
    cli_error(MIX_COMMAND, "--alpha: '%s' is out of range: the Dirichlet alpha must be > 0 "
              "(for equal weights use --weights equal)", value);
}

static int store_alpha(mix_request *request, const char *value)
{
    /* A negative number gets the Dirichlet message, not a generic one. */
    if (value[0] == '-') {
        report_bad_alpha(value);
        return -1;
    }
    if (cli_parse_double(MIX_COMMAND, "--alpha", value, 0.0, &request->alpha) != 0) {
        return -1;
    }
    if (request->alpha <= 0.0) {
        report_bad_alpha(value);
        return -1;
    }
    request->alpha_given = 1;
    return 0;
}

static int store_mix_option(void *context, const cli_option *option, const char *value)
{
    mix_request *request = context;
    switch (option->key) {
    case 's':
        if (request->source_count == MDNMF_MAX_SOURCES) {
            cli_error(MIX_COMMAND, "too many --source files: at most %d", MDNMF_MAX_SOURCES);
            return -1;
        }
        request->sources[request->source_count++] = value;
        return 0;
    case 'o': request->prefix = value; return 0;
    case OPT_WEIGHTS:
        return cli_parse_choice(MIX_COMMAND, "--weights", value, WEIGHT_NAMES, 2,
                                &request->weights);
    case OPT_ALPHA: return store_alpha(request, value);
    case OPT_SEED: return cli_parse_uint64(MIX_COMMAND, "--seed", value, &request->seed);
    case OPT_OFFSET: return cli_parse_int64(MIX_COMMAND, "--offset", value, 0, &request->offset);
    case 'n': return cli_parse_int64(MIX_COMMAND, "-n/--count", value, 1, &request->count);
    }
    return 0;
}

static int check_mix_request(const mix_request *r)
{
    const char *problem =
        r->source_count < 2 ? "give at least two --source files"
        : r->weights == WEIGHTS_DIRICHLET && !r->alpha_given
            ? "--weights dirichlet needs --alpha A (A > 0)"
        : r->weights == WEIGHTS_EQUAL && r->alpha_given
            ? "--alpha only applies to --weights dirichlet"
        : NULL;
    if (problem) {
        cli_error(MIX_COMMAND, "%s (see 'mdnmf data mix --help')", problem);
        return -1;
    }
    return 0;
}

/* The sources, all of the first one's m; 0, or -1 after one line. */
static int read_sources(const mix_request *r, mdnmf_matrix *sources)
{
    for (int s = 0; s < r->source_count; s++) {
        if (cli_read_matrix(MIX_COMMAND, r->sources[s], &sources[s]) != 0) {
            return -1;
        }
        if (s > 0 && cli_check_features(MIX_COMMAND, r->sources[s], sources[s].m,
                                        r->sources[0], sources[0].m) != 0) {
            return -1;
        }
    }
    return 0;
}

/* How many mixtures: --count, or all that every source has after --offset. */
static int mixture_count(const mix_request *r, const mdnmf_matrix *sources, int64_t *count)
{
    int64_t fewest = sources[0].n;
    int smallest = 0;
    for (int s = 1; s < r->source_count; s++) {
        if (sources[s].n < fewest) {
            fewest = sources[s].n;
            smallest = s;
        }
    }
    int64_t available = fewest > r->offset ? fewest - r->offset : 0;
    if (available == 0 || (r->count > 0 && r->count > available)) {
        cli_error(MIX_COMMAND, "%s has %" PRId64 " samples: not enough for %" PRId64
                  " mixture(s) after --offset %" PRId64, r->sources[smallest], fewest,
                  r->count > 0 ? r->count : 1, r->offset);
        return -1;
    }
    *count = r->count > 0 ? r->count : available;
    return 0;
}

/* The generated matrices: m x n each, S targets, S x n weights. */
typedef struct mixed_set {
    int64_t m, n;
    int S;
    float *mixture;
    float *targets[MDNMF_MAX_SOURCES];
    float *weights;
} mixed_set;

static void mixed_set_free(mixed_set *set)
{
    free(set->mixture);
    for (int s = 0; s < set->S; s++) {
        free(set->targets[s]);
    }
    free(set->weights);
    memset(set, 0, sizeof *set);
}

static int mix_sources(const mix_request *r, const mdnmf_matrix *sources, mixed_set *out)
{
    const int64_t m = sources[0].m;
    memset(out, 0, sizeof *out);
    out->m = m;
    out->S = r->source_count;
    if (mixture_count(r, sources, &out->n) != 0) {
        return -1;
    }
    const size_t values = (size_t)(m * out->n);
    int missing = !(out->mixture = malloc(values * sizeof(float)));
    missing |= !(out->weights = malloc((size_t)(out->S * out->n) * sizeof(float)));
    const float *columns[MDNMF_MAX_SOURCES];
    for (int s = 0; s < out->S; s++) {
        missing |= !(out->targets[s] = malloc(values * sizeof(float)));
        columns[s] = sources[s].data + r->offset * m;
    }
    if (missing) {
        cli_error(MIX_COMMAND, "out of memory for %" PRId64 " mixtures of %" PRId64 " values",
                  out->n, m);
        return -1;
    }
    const double alpha = r->weights == WEIGHTS_DIRICHLET ? r->alpha : 0.0;
    mdnmf_error error;
    if (mdnmf_mix(columns, out->S, m, out->n, alpha, r->seed, out->mixture, out->targets,
                  out->weights, &error) != MDNMF_OK) {
        cli_error(MIX_COMMAND, "%s", error.message);
        return -1;
    }
    return 0;
}

/* PREFIX-mix.npy, PREFIX-target<s>.npy, PREFIX-weights.npy: all or none. */
static int write_mixed_set(const mix_request *r, const mixed_set *set)
{
    const char *prefix = r->prefix;
    cli_npy_file files[MDNMF_MAX_SOURCES + 2];
    const int count = set->S + 2;
    files[0] = (cli_npy_file){cli_format_path("%s-mix.npy", prefix), set->mixture, set->m,
                              set->n};
    for (int s = 0; s < set->S; s++) {
        files[1 + s] = (cli_npy_file){cli_format_path("%s-target%d.npy", prefix, s),
                                      set->targets[s], set->m, set->n};
    }
    /* S x n column-major: the (n, S) array, one row of weights per mixture. */
    files[count - 1] = (cli_npy_file){cli_format_path("%s-weights.npy", prefix), set->weights,
                                      set->S, set->n};
    cli_input_files inputs = {0};
    int result = cli_inputs_note(MIX_COMMAND, &inputs, r->sources, (size_t)r->source_count);
    if (result == 0) {
        result = cli_write_npy_files(MIX_COMMAND, files, count, &inputs);
    }
    cli_inputs_free(&inputs);
    for (int k = 0; k < count; k++) {
        free(files[k].path);
    }
    return result;
}

/* Fail fast, before reading large sources. */
static int check_prefix_writable(const char *prefix)
{
    char *path = cli_format_path("%s-mix.npy", prefix);
    int result = path ? cli_output_check_writable(MIX_COMMAND, path) : -1;
    if (!path) {
        cli_error(MIX_COMMAND, "out of memory");
    }
    free(path);
    return result;
}

static int run_mix(const mix_request *r)
{
    mdnmf_matrix sources[MDNMF_MAX_SOURCES];
    memset(sources, 0, sizeof sources);
    mixed_set set;
    memset(&set, 0, sizeof set);
    int code = CLI_EXIT_RUNTIME;
    if (check_prefix_writable(r->prefix) == 0 && read_sources(r, sources) == 0
        && mix_sources(r, sources, &set) == 0 && write_mixed_set(r, &set) == 0) {
        code = CLI_EXIT_OK;
    }
    mixed_set_free(&set);
    for (int s = 0; s < r->source_count; s++) {
        mdnmf_matrix_free(&sources[s]);
    }
    return code;
}

int cli_data_mix(int argc, char **argv)
{
    mix_request request;
    memset(&request, 0, sizeof request);
    mdnmf_params unused;
    mdnmf_params_default(&unused);
    int parsed = cli_parse_exit(
        cli_parse_command(&MIX_USAGE, argc, argv, &unused, NULL, store_mix_option, &request));
    if (parsed >= 0) {
        return parsed;
    }
    if (check_mix_request(&request) != 0) {
        return CLI_EXIT_USAGE;
    }
    return run_mix(&request);
}
