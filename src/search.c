/* Random hyper-parameter search over separators (SPEC §10): draw, fit,
 * score by k-fold cross-validation over the supervised pairs, keep the best. */
#include "error.h"
#include "internal.h"
#include "linalg.h"
#include "rng.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Streams of search->seed, apart from those of the fits and generators. */
#define SEARCH_STREAM 5 /* parameter draws, trial by trial, dimension by dimension */
#define FOLD_STREAM 6   /* which pairs make up which fold */

typedef enum value_kind { VALUE_REAL, VALUE_INTEGER, VALUE_ENUM } value_kind;

typedef struct param_info {
    const char *name;
    value_kind kind;
    int per_source;
    int choices; /* VALUE_ENUM: the values are 0..choices-1 */
} param_info;

static const param_info PARAMS[MDNMF_SEARCH_PARAM_COUNT] = {
    [MDNMF_SEARCH_MODE] = {"mode", VALUE_ENUM, 0, MDNMF_MODE_SEMI_ADV + 1},
    [MDNMF_SEARCH_D] = {"d", VALUE_INTEGER, 1, 0},
    [MDNMF_SEARCH_MU_H] = {"mu_H", VALUE_REAL, 1, 0},
    [MDNMF_SEARCH_TAU_A] = {"tau_A", VALUE_REAL, 1, 0},
    [MDNMF_SEARCH_BETA] = {"beta", VALUE_REAL, 1, 0},
    [MDNMF_SEARCH_TAU_S] = {"tau_S", VALUE_REAL, 0, 0},
    [MDNMF_SEARCH_TAU_W] = {"tau_W", VALUE_REAL, 0, 0},
    [MDNMF_SEARCH_MU_W] = {"mu_W", VALUE_REAL, 0, 0},
    [MDNMF_SEARCH_EPOCHS] = {"epochs", VALUE_INTEGER, 0, 0},
    [MDNMF_SEARCH_TEST_EPOCHS] = {"test_epochs", VALUE_INTEGER, 0, 0},
    [MDNMF_SEARCH_BATCH_SIZE] = {"batch_size", VALUE_INTEGER, 0, 0},
    [MDNMF_SEARCH_BATCH_SIZE_ADV] = {"batch_size_adv", VALUE_INTEGER, 0, 0},
    [MDNMF_SEARCH_BATCH_SIZE_SUP] = {"batch_size_sup", VALUE_INTEGER, 0, 0},
    [MDNMF_SEARCH_WARM_START_EPOCHS] = {"warm_start_epochs", VALUE_INTEGER, 0, 0},
    [MDNMF_SEARCH_INIT] = {"init", VALUE_ENUM, 0, 2},
    [MDNMF_SEARCH_TRUE_SAMPLE] = {"true_sample", VALUE_ENUM, 0, 3},
    [MDNMF_SEARCH_NORMALIZE] = {"normalize", VALUE_ENUM, 0, 2},
    [MDNMF_SEARCH_UPDATE_H] = {"update_H", VALUE_ENUM, 0, 2},
};

const char *mdnmf_search_param_name(mdnmf_search_param param)
{
    return (unsigned)param < MDNMF_SEARCH_PARAM_COUNT ? PARAMS[param].name : "?";
}

int mdnmf_search_param_from_name(const char *name, mdnmf_search_param *param)
{
    for (int i = 0; name && i < MDNMF_SEARCH_PARAM_COUNT; i++)
        if (strcmp(name, PARAMS[i].name) == 0) {
            if (param)
                *param = (mdnmf_search_param)i;
            return 1;
        }
    return 0;
}

void mdnmf_search_default(mdnmf_search *search, int sources)
{
    if (!search)
        return;
    memset(search, 0, sizeof *search);
    mdnmf_separator_params_default(&search->base, sources);
    search->trials = 20;
    search->folds = 5;
    search->metric = MDNMF_METRIC_PSNR;
    search->aggregate = MDNMF_AGGREGATE_MEDIAN;
    search->wiener = 1;
}

/* ------------------------------------------------------------ applying values */

static void set_per_source(double *field, int sources, int source, double value)
{
    for (int s = 0; s < sources; s++)
        if (source < 0 || s == source)
            field[s] = value;
}

/* Write one dimension's value into p.  `value` is already valid for the
 * parameter (whole and in int range for integers: see check_dimension). */
static void apply_value(mdnmf_separator_params *p, const mdnmf_search_dimension *dim,
                        double value)
{
    mdnmf_params *c = &p->common;
    switch (dim->param) {
    case MDNMF_SEARCH_MODE: p->mode = (mdnmf_mode)(int)value; break;
    case MDNMF_SEARCH_D:
        for (int s = 0; s < p->sources; s++)
            if (dim->source < 0 || s == dim->source)
                p->d[s] = (int64_t)value;
        break;
    case MDNMF_SEARCH_MU_H: set_per_source(p->mu_H, p->sources, dim->source, value); break;
    case MDNMF_SEARCH_TAU_A: set_per_source(p->tau_A, p->sources, dim->source, value); break;
    case MDNMF_SEARCH_BETA: set_per_source(p->beta, p->sources, dim->source, value); break;
    case MDNMF_SEARCH_TAU_S: p->tau_S = value; break;
    case MDNMF_SEARCH_TAU_W: c->tau_W = value; break;
    case MDNMF_SEARCH_MU_W: c->mu_W = value; break;
    case MDNMF_SEARCH_EPOCHS: c->epochs = (int)value; break;
    case MDNMF_SEARCH_TEST_EPOCHS: c->test_epochs = (int)value; break;
    case MDNMF_SEARCH_BATCH_SIZE: c->batch_size = (int64_t)value; break;
    case MDNMF_SEARCH_BATCH_SIZE_ADV: c->batch_size_adv = (int64_t)value; break;
    case MDNMF_SEARCH_BATCH_SIZE_SUP: p->batch_size_sup = (int64_t)value; break;
    case MDNMF_SEARCH_WARM_START_EPOCHS: p->warm_start_epochs = (int)value; break;
    case MDNMF_SEARCH_INIT: c->init = (mdnmf_init)(int)value; break;
    case MDNMF_SEARCH_TRUE_SAMPLE: c->true_sample = (mdnmf_true_sample)(int)value; break;
    case MDNMF_SEARCH_NORMALIZE: c->normalize = (int)value; break;
    case MDNMF_SEARCH_UPDATE_H: c->update_H = (int)value; break;
    case MDNMF_SEARCH_PARAM_COUNT: break;
    }
}

/* ------------------------------------------------------------ checking */

static int is_whole(double x)
{
    return isfinite(x) && x == floor(x);
}

/* The dimension's name as a user would write it: "tau_A" or "tau_A[1]". */
static void dimension_name(const mdnmf_search_dimension *dim, char *out, size_t size)
{
    if (dim->source >= 0)
        snprintf(out, size, "%s[%d]", mdnmf_search_param_name(dim->param), dim->source);
    else
        snprintf(out, size, "%s", mdnmf_search_param_name(dim->param));
}

/* A value integer and enum parameters can take: whole, 0..INT_MAX (every
 * such field is a count or an enum), within the enum's range. */
static const char *value_problem(const param_info *info, double value)
{
    if (!isfinite(value))
        return "values must be finite";
    if (info->kind == VALUE_REAL)
        return NULL;
    if (!is_whole(value) || value < 0.0 || value > (double)INT_MAX)
        return "values must be whole numbers from 0";
    if (info->kind == VALUE_ENUM && value >= info->choices)
        return "value is not one of the parameter's choices";
    return NULL;
}

static int check_distribution(const mdnmf_search_dimension *dim, const char *name,
                              char *message, size_t size)
{
    const param_info *info = &PARAMS[dim->param];
    const char *problem = NULL;
    double bad = NAN;
    if (dim->distribution == MDNMF_DIST_CHOICE) {
        if (dim->count < 1 || dim->count > MDNMF_SEARCH_MAX_CHOICES)
            problem = "choice needs 1 to 32 values";
        for (int i = 0; !problem && i < dim->count; i++)
            if ((problem = value_problem(info, dim->values[i])))
                bad = dim->values[i];
    } else if (dim->distribution == MDNMF_DIST_UNIFORM ||
               dim->distribution == MDNMF_DIST_LOG_UNIFORM) {
        if (info->kind == VALUE_ENUM)
            problem = "an enum parameter takes a choice, not a range";
        else if ((problem = value_problem(info, dim->low)))
            bad = dim->low;
        else if ((problem = value_problem(info, dim->high)))
            bad = dim->high;
        else if (dim->low > dim->high)
            problem = "needs low <= high";
        else if (dim->distribution == MDNMF_DIST_LOG_UNIFORM && !(dim->low > 0.0))
            problem = "log-uniform needs low > 0";
    } else {
        problem = "unknown distribution";
    }
    if (!problem)
        return MDNMF_OK;
    if (isnan(bad))
        message_printf(message, size, "%s: %s", name, problem);
    else
        message_printf(message, size, "%s: %g: %s", name, bad, problem);
    return MDNMF_ERR_ARGUMENT;
}

static int check_dimension(const mdnmf_search *search, int index, char *message, size_t size)
{
    const mdnmf_search_dimension *dim = &search->dimensions[index];
    if ((unsigned)dim->param >= MDNMF_SEARCH_PARAM_COUNT) {
        message_printf(message, size, "dimension %d: unknown parameter %d", index,
                       (int)dim->param);
        return MDNMF_ERR_ARGUMENT;
    }
    char name[64];
    dimension_name(dim, name, sizeof name);
    const param_info *info = &PARAMS[dim->param];
    if (dim->source < -1 || dim->source >= search->base.sources ||
        (dim->source >= 0 && !info->per_source)) {
        if (info->per_source)
            message_printf(message, size, "%s: no source %d: the separator has %d sources",
                           name, dim->source, search->base.sources);
        else
            message_printf(message, size, "%s: not a per-source parameter: drop [%d]",
                           info->name, dim->source);
        return MDNMF_ERR_ARGUMENT;
    }
    for (int j = 0; j < index; j++) {
        const mdnmf_search_dimension *other = &search->dimensions[j];
        if (other->param == dim->param && other->source == dim->source) {
            message_printf(message, size, "%s appears twice", name);
            return MDNMF_ERR_ARGUMENT;
        }
    }
    return check_distribution(dim, name, message, size);
}

/* The values a dimension can take at its extremes: low and high, or every
 * choice. */
static int extreme_values(const mdnmf_search_dimension *dim, double *out)
{
    if (dim->distribution == MDNMF_DIST_CHOICE) {
        memcpy(out, dim->values, (size_t)dim->count * sizeof *out);
        return dim->count;
    }
    out[0] = dim->low;
    out[1] = dim->high;
    return 2;
}

/* Every value of every dimension, applied on top of the others' first
 * values, must make usable parameters. */
static int check_reachable_params(const mdnmf_search *search, char *message, size_t size)
{
    mdnmf_separator_params probe = search->base;
    double values[MDNMF_SEARCH_MAX_CHOICES];
    for (int i = 0; i < search->dimension_count; i++) {
        extreme_values(&search->dimensions[i], values);
        apply_value(&probe, &search->dimensions[i], values[0]);
    }
    const char *problem = separator_params_problem(&probe);
    if (problem) {
        message_printf(message, size, "parameters: %s", problem);
        return MDNMF_ERR_ARGUMENT;
    }
    for (int i = 0; i < search->dimension_count; i++) {
        const mdnmf_search_dimension *dim = &search->dimensions[i];
        int count = extreme_values(dim, values);
        for (int k = 0; k < count; k++) {
            mdnmf_separator_params trial = probe;
            apply_value(&trial, dim, values[k]);
            if ((problem = separator_params_problem(&trial))) {
                char name[64];
                dimension_name(dim, name, sizeof name);
                message_printf(message, size, "%s: %g: %s", name, values[k], problem);
                return MDNMF_ERR_ARGUMENT;
            }
        }
    }
    return MDNMF_OK;
}

static int check_search(const mdnmf_search *search, char *message, size_t size)
{
    message_printf(message, size, "%s", "");
    if (!search) {
        message_printf(message, size, "search is NULL");
        return MDNMF_ERR_ARGUMENT;
    }
    const char *problem =
        search->trials < 1 ? "trials must be >= 1"
        : search->folds < 2 ? "folds must be >= 2"
        : (unsigned)search->metric > MDNMF_METRIC_MSE ? "metric must be psnr or mse"
        : (unsigned)search->aggregate > MDNMF_AGGREGATE_MEAN ? "aggregate must be median or mean"
        : search->dimension_count < 0 ? "dimension_count must be >= 0"
        : search->dimension_count > 0 && !search->dimensions ? "dimensions is NULL"
        : search->base.sources < 2 || search->base.sources > MDNMF_MAX_SOURCES
            ? "base.sources must be between 2 and 16"
        : NULL;
    if (problem) {
        message_printf(message, size, "%s", problem);
        return MDNMF_ERR_ARGUMENT;
    }
    for (int i = 0; i < search->dimension_count; i++)
        if (check_dimension(search, i, message, size))
            return MDNMF_ERR_ARGUMENT;
    return check_reachable_params(search, message, size);
}

int mdnmf_search_check(const mdnmf_search *search, mdnmf_error *error)
{
    char message[MDNMF_ERROR_MESSAGE_SIZE] = "";
    int status = check_search(search, message, sizeof message);
    return error_report(error, status, message);
}

/* ------------------------------------------------------------ drawing */

/* Uniform in [0, 1) with 53 random bits. */
static double uniform_double(rng *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static double draw_value(rng *r, const mdnmf_search_dimension *dim)
{
    int integer = PARAMS[dim->param].kind != VALUE_REAL;
    double value;
    switch (dim->distribution) {
    case MDNMF_DIST_CHOICE:
        return dim->values[rng_below(r, (uint64_t)dim->count)];
    case MDNMF_DIST_UNIFORM:
        if (integer)
            return dim->low + (double)rng_below(r, (uint64_t)(dim->high - dim->low) + 1);
        return dim->low + (dim->high - dim->low) * uniform_double(r);
    case MDNMF_DIST_LOG_UNIFORM:
        value = exp(log(dim->low) + (log(dim->high) - log(dim->low)) * uniform_double(r));
        if (integer)
            value = round(value);
        /* exp(log(x)) may miss the bounds by an ulp. */
        return value < dim->low ? dim->low : value > dim->high ? dim->high : value;
    }
    return dim->low;
}

/* ------------------------------------------------------------ the search */

/* Which pairs a fold trains on and which it scores: column indices into
 * the pairs, each list in increasing order (so the training data of a fold
 * does not depend on the draw beyond its membership). */
typedef struct fold_split {
    int64_t *train, *test;
    int64_t n_train, n_test;
} fold_split;

typedef struct search_run {
    mdnmf_model *report;
    const mdnmf_search *search;
    const mdnmf_separation_data *data;
    int S;
    int64_t m, pairs;
    int64_t *fold_of;         /* pairs: the fold of each pair */
    fold_split split;
    float *train_V, *test_V;  /* m x pairs each (sized for the largest fold) */
    float *train_U[MDNMF_MAX_SOURCES], *test_U[MDNMF_MAX_SOURCES];
    float *estimates[MDNMF_MAX_SOURCES];
    double *column_scores;    /* pairs: one source's scores of a fold */
    double *mixture_scores;   /* pairs: mean over sources, per pair */
    double *fold_scores;      /* pairs: a fold's pairs' scores, in fold order */
    double *best_scores;      /* pairs: mixture_scores of the best trial so far */
    double *values;           /* dimension_count */
    double fold_metric_sum;   /* score_per_fold: Σ over folds of each fold's aggregate */
    char message[512];        /* the current trial's failure */
    search_extras *extras;    /* NULL for mdnmf_search_run */
    mdnmf_model *last_fit;    /* extras->keep_best: the last trial's model */
} search_run;

static void free_run(search_run *run)
{
    free(run->fold_of), free(run->split.train), free(run->split.test);
    free(run->train_V), free(run->test_V);
    for (int s = 0; s < run->S; s++)
        free(run->train_U[s]), free(run->test_U[s]), free(run->estimates[s]);
    free(run->column_scores), free(run->mixture_scores), free(run->fold_scores);
    free(run->values);
    free(run->best_scores);
    mdnmf_model_destroy(run->last_fit);
    run->last_fit = NULL;
}

static int allocate_run(search_run *run)
{
    size_t block = (size_t)(run->m * run->pairs) * sizeof(float);
    size_t columns = (size_t)run->pairs;
    int missing = !(run->fold_of = malloc(columns * sizeof(int64_t)));
    missing |= !(run->split.train = malloc(columns * sizeof(int64_t)));
    missing |= !(run->split.test = malloc(columns * sizeof(int64_t)));
    missing |= !(run->train_V = malloc(block));
    missing |= !(run->test_V = malloc(block));
    for (int s = 0; s < run->S; s++) {
        missing |= !(run->train_U[s] = malloc(block));
        missing |= !(run->test_U[s] = malloc(block));
        missing |= !(run->estimates[s] = malloc(block));
    }
    missing |= !(run->column_scores = malloc(columns * sizeof(double)));
    missing |= !(run->mixture_scores = malloc(columns * sizeof(double)));
    missing |= !(run->fold_scores = malloc(columns * sizeof(double)));
    missing |= !(run->best_scores = malloc(columns * sizeof(double)));
    missing |= !(run->values = malloc((size_t)(run->search->dimension_count + 1) * sizeof(double)));
    if (missing)
        return model_fail(run->report, MDNMF_ERR_MEMORY,
                          "out of memory for a search over %lld pairs", (long long)run->pairs);
    return MDNMF_OK;
}

/* Fold f holds the pairs at positions [f n/k, (f+1) n/k) of a seeded
 * permutation (or of the pairs in order): sizes differ by at most one. */
static void assign_folds(search_run *run)
{
    int64_t n = run->pairs, k = run->search->folds;
    rng r;
    rng_seed(&r, run->search->seed, FOLD_STREAM);
    rng_permutation(&r, run->split.train, n); /* scratch */
    if (run->search->contiguous_folds)
        for (int64_t j = 0; j < n; j++)
            run->split.train[j] = j;
    for (int64_t f = 0; f < k; f++)
        for (int64_t at = f * n / k; at < (f + 1) * n / k; at++)
            run->fold_of[run->split.train[at]] = f;
}

static void split_fold(search_run *run, int64_t fold)
{
    fold_split *split = &run->split;
    split->n_train = split->n_test = 0;
    for (int64_t j = 0; j < run->pairs; j++) {
        if (run->fold_of[j] == fold)
            split->test[split->n_test++] = j;
        else
            split->train[split->n_train++] = j;
    }
}

static void gather_fold(search_run *run)
{
    const mdnmf_separation_data *x = run->data;
    const fold_split *split = &run->split;
    gather_columns(run->train_V, x->V_sup, run->m, split->train, split->n_train);
    gather_columns(run->test_V, x->V_sup, run->m, split->test, split->n_test);
    for (int s = 0; s < run->S; s++) {
        gather_columns(run->train_U[s], x->U_sup[s], run->m, split->train, split->n_train);
        gather_columns(run->test_U[s], x->U_sup[s], run->m, split->test, split->n_test);
    }
}

/* All pairs as one "fold" to score (modes that do not train on pairs). */
static void score_all_pairs(search_run *run)
{
    fold_split *split = &run->split;
    split->n_train = 0;
    split->n_test = run->pairs;
    for (int64_t j = 0; j < run->pairs; j++)
        split->test[j] = j;
    gather_fold(run);
}

static int trains_on_pairs(mdnmf_mode mode)
{
    return mode == MDNMF_MODE_SUP || mode == MDNMF_MODE_FULL;
}

int search_pair_scores(mdnmf_model *model, const pair_scoring *how, const float *V,
                       const float *const *U, int64_t m, int64_t n, double *out,
                       mdnmf_error *error)
{
    int status = mdnmf_separate(model, V, m, n, how->wiener, how->estimates, error);
    if (status)
        return status;
    for (int64_t k = 0; k < n; k++)
        out[k] = 0.0;
    for (int s = 0; s < how->S; s++) {
        if (how->metric == MDNMF_METRIC_PSNR)
            mdnmf_psnr(U[s], how->estimates[s], m, n, how->column_scores, NULL);
        else
            mdnmf_squared_error(U[s], how->estimates[s], m, n, how->column_scores, NULL);
        for (int64_t k = 0; k < n; k++)
            out[k] += how->column_scores[k] / how->S;
    }
    return MDNMF_OK;
}

/* Separate the fold's test mixtures and put each pair's score in
 * mixture_scores. */
static int score_fold(search_run *run, mdnmf_model *fitted)
{
    const fold_split *split = &run->split;
    pair_scoring how = {.S = run->S, .metric = run->search->metric,
                        .wiener = run->search->wiener, .column_scores = run->column_scores};
    memcpy(how.estimates, run->estimates, sizeof how.estimates);
    mdnmf_error error;
    int status = search_pair_scores(fitted, &how, run->test_V,
                                    (const float *const *)run->test_U, run->m, split->n_test,
                                    run->fold_scores, &error);
    if (status) {
        snprintf(run->message, sizeof run->message, "%s", error.message);
        return status;
    }
    for (int64_t k = 0; k < split->n_test; k++)
        run->mixture_scores[split->test[k]] = run->fold_scores[k];
    return MDNMF_OK;
}

/* Copies of the start model's bases into `model`, for a warm start. */
static int adopt_start(mdnmf_model *model, const mdnmf_model *start)
{
    int64_t m = start->m, atoms = start->atoms;
    float *W = malloc((size_t)(m * atoms) * sizeof *W);
    float *mu_H = malloc((size_t)atoms * sizeof *mu_H);
    int64_t *components = malloc((size_t)start->sources * sizeof *components);
    if (!W || !mu_H || !components) {
        free(W), free(mu_H), free(components);
        return model_fail(model, MDNMF_ERR_MEMORY, "out of memory for the start bases");
    }
    memcpy(W, start->W, (size_t)(m * atoms) * sizeof *W);
    memcpy(mu_H, start->mu_H, (size_t)atoms * sizeof *mu_H);
    memcpy(components, start->components, (size_t)start->sources * sizeof *components);
    model_adopt_sources(model, W, mu_H, m, start->sources, components);
    return MDNMF_OK;
}

int search_copy_separator(mdnmf_model *model, const mdnmf_model *start,
                          const mdnmf_separator_params *p)
{
    int status = adopt_start(model, start);
    if (status)
        return status;
    model->mu_H_custom = 1; /* the start's per-atom values, not params.mu_H */
    model->params.d = (int)model->atoms;
    /* As a fit leaves them (adopt_separator): no callbacks or paths kept. */
    model->params.on_epoch = NULL;
    model->params.on_trace = NULL;
    model->params.checkpoint_path = model->params.resume_path = NULL;
    model->params.warm_start = 0;
    model->separator = start->is_separator ? start->separator : *p;
    model->separator.common = model->params;
    model->is_separator = 1;
    model_set_activations(model, NULL, 0, NULL, 0);
    return MDNMF_OK;
}

/* extras->unfitted_at_zero: a trial of tau_A = 0 for every source, in a
 * mode that does not train on pairs, is the start model itself. */
static int is_start_itself(const search_run *run, const mdnmf_separator_params *p)
{
    if (!run->extras || !run->extras->unfitted_at_zero || !run->search->start ||
        trains_on_pairs(p->mode))
        return 0;
    for (int s = 0; s < p->sources; s++)
        if (p->tau_A[s] != 0.0)
            return 0;
    return 1;
}

/* Fit `p` on `data` into `model`: from search->start's bases when given,
 * else as p->common.init says. */
static int fit_separator(const mdnmf_search *search, mdnmf_model *model,
                         const mdnmf_separator_params *p, const mdnmf_separation_data *data)
{
    mdnmf_separator_params params = *p;
    params.common.warm_start = search->start != NULL;
    /* Checkpoints belong to single fits, not to a search's many. */
    params.common.checkpoint_path = params.common.resume_path = NULL;
    int status = search->start ? adopt_start(model, search->start) : MDNMF_OK;
    /* The failure's message stays in model->error (mdnmf_separator_fit's
     * wrapper records it there), where the search reads it. */
    return status ? status : mdnmf_separator_fit(model, &params, data, NULL);
}

/* Fit a fresh separator on `train`; its failure message lands in
 * run->message. */
static int fit_fold(search_run *run, const mdnmf_separator_params *p,
                    const mdnmf_separation_data *train, mdnmf_model **fitted)
{
    mdnmf_params common = p->common;
    common.d = 1; /* the separator's own d[] decide; create only checks it */
    common.warm_start = 0;
    mdnmf_error error;
    *fitted = mdnmf_model_create(&common, &error);
    if (!*fitted) {
        snprintf(run->message, sizeof run->message, "cannot create a model: %s",
                 mdnmf_strerror(error.status));
        return error.status;
    }
    int status = is_start_itself(run, p)
                     ? search_copy_separator(*fitted, run->search->start, p)
                     : fit_separator(run->search, *fitted, p, train);
    if (status)
        snprintf(run->message, sizeof run->message, "%s", (*fitted)->error);
    return status;
}

static int fit_and_score_once(search_run *run, const mdnmf_separator_params *p,
                              const mdnmf_separation_data *train)
{
    mdnmf_model *fitted = NULL;
    int status = fit_fold(run, p, train, &fitted);
    if (!status)
        status = score_fold(run, fitted);
    if (!status && run->extras && run->extras->keep_best && !trains_on_pairs(p->mode)) {
        mdnmf_model_destroy(run->last_fit);
        run->last_fit = fitted; /* run_trial keeps it if it is the best */
        return status;
    }
    mdnmf_model_destroy(fitted);
    return status;
}

/* score_per_fold: the fold's aggregate over its test pairs, added up. */
static int add_fold_metric(search_run *run)
{
    const fold_split *split = &run->split;
    for (int64_t k = 0; k < split->n_test; k++)
        run->column_scores[k] = run->mixture_scores[split->test[k]];
    double metric = NAN;
    mdnmf_error error;
    int status = mdnmf_aggregate_values(run->column_scores, split->n_test,
                                        run->search->aggregate, &metric, &error);
    if (status)
        snprintf(run->message, sizeof run->message, "%s", error.message);
    run->fold_metric_sum += metric;
    return status;
}

/* Every pair's score from a fit that did not see it. */
static int cross_validate(search_run *run, const mdnmf_separator_params *p)
{
    run->fold_metric_sum = 0.0;
    if (!trains_on_pairs(p->mode)) {
        score_all_pairs(run);
        return fit_and_score_once(run, p, run->data);
    }
    mdnmf_separation_data train = *run->data;
    for (int64_t fold = 0; fold < run->search->folds; fold++) {
        split_fold(run, fold);
        gather_fold(run);
        train.V_sup = run->train_V;
        train.n_sup = run->split.n_train;
        for (int s = 0; s < run->S; s++)
            train.U_sup[s] = run->train_U[s];
        int status = fit_and_score_once(run, p, &train);
        if (!status && run->search->score_per_fold)
            status = add_fold_metric(run);
        if (status)
            return status;
    }
    return MDNMF_OK;
}

/* The trial's metric: the aggregate over all pairs, or with score_per_fold
 * the mean of the folds' aggregates. */
static int trial_metric(search_run *run, mdnmf_mode mode, double *metric)
{
    if (run->search->score_per_fold && trains_on_pairs(mode)) {
        *metric = run->fold_metric_sum / run->search->folds;
        return MDNMF_OK;
    }
    mdnmf_error error;
    int status = mdnmf_aggregate_values(run->mixture_scores, run->pairs, run->search->aggregate,
                                        metric, &error);
    if (status)
        snprintf(run->message, sizeof run->message, "%s", error.message);
    return status;
}

/* The trial's values: the caller's (search->draw, each checked) or drawn
 * from the dimensions. */
static int trial_values(search_run *run, rng *draws, int t)
{
    const mdnmf_search *search = run->search;
    if (!search->draw) {
        for (int i = 0; i < search->dimension_count; i++)
            run->values[i] = draw_value(draws, &search->dimensions[i]);
        return MDNMF_OK;
    }
    if (search->draw(search->draw_user, t, run->values))
        return model_fail(run->report, MDNMF_ERR_CANCELLED, "search stopped before trial %d", t);
    for (int i = 0; i < search->dimension_count; i++) {
        const mdnmf_search_dimension *dim = &search->dimensions[i];
        const char *problem = value_problem(&PARAMS[dim->param], run->values[i]);
        if (problem) {
            char name[64];
            dimension_name(dim, name, sizeof name);
            return model_fail(run->report, MDNMF_ERR_ARGUMENT, "trial %d: %s: %g: %s", t, name,
                              run->values[i], problem);
        }
    }
    return MDNMF_OK;
}

/* extras->margin: the mean over pairs of this trial's score minus the best
 * trial's (PSNR, or -MSE) exceeds margin standard errors of those
 * differences.  Validation scores of neighbouring tau_A differ by tenths of
 * a dB with a spread of the same size, so a plain "higher aggregate wins"
 * picks noise; a paired test asks whether the gain holds pair by pair.
 * search_replaces_best also asks for a better aggregate: a mean gain carried
 * by a few pairs can come with a worse median, and the median is what is
 * reported and tested on. */
static int beats_by_margin(const double *scores, const double *best, int64_t n, int psnr,
                           double margin)
{
    double sign = psnr ? 1.0 : -1.0;
    double sum = 0.0, sum_sq = 0.0;
    for (int64_t j = 0; j < n; j++)
        sum += sign * (scores[j] - best[j]);
    double mean = sum / (double)n;
    for (int64_t j = 0; j < n; j++) {
        double d = sign * (scores[j] - best[j]) - mean;
        sum_sq += d * d;
    }
    double standard_error = n > 1 ? sqrt(sum_sq / (double)(n - 1) / (double)n) : INFINITY;
    return mean > margin * standard_error;
}

int search_replaces_best(double score, const double *scores, double best_score,
                         const double *best, int64_t n, int psnr, double margin)
{
    if (!best)
        return 1;
    if (margin > 0.0)
        return score > best_score && beats_by_margin(scores, best, n, psnr, margin);
    return score > best_score;
}

/* Whether a successful trial becomes the best so far. */
static int is_new_best(const search_run *run, const mdnmf_search_result *result, double score)
{
    return search_replaces_best(score, run->mixture_scores, result->best_score,
                                result->best_trial < 0 ? NULL : run->best_scores, run->pairs,
                                run->search->metric == MDNMF_METRIC_PSNR,
                                run->extras ? run->extras->margin : 0.0);
}

/* A failure that belongs to the drawn values, not to the search. */
static int trial_may_fail(int status)
{
    return status == MDNMF_ERR_DIVERGED || status == MDNMF_ERR_SHAPE;
}

static int run_trial(search_run *run, rng *draws, int t, mdnmf_search_result *result)
{
    const mdnmf_search *search = run->search;
    mdnmf_separator_params p = search->base;
    int status = trial_values(run, draws, t);
    if (status)
        return status;
    for (int i = 0; i < search->dimension_count; i++)
        apply_value(&p, &search->dimensions[i], run->values[i]);
    run->message[0] = '\0';
    status = cross_validate(run, &p);
    double metric = NAN;
    if (!status)
        status = trial_metric(run, p.mode, &metric);
    if (!status && !isfinite(metric)) {
        snprintf(run->message, sizeof run->message, "no finite score (%g)", metric);
        status = MDNMF_ERR_DIVERGED;
    }
    if (status && !trial_may_fail(status)) {
        if (status == MDNMF_ERR_CANCELLED)
            return model_fail(run->report, status, "search cancelled in trial %d", t);
        return model_fail(run->report, status, "trial %d: %s", t, run->message);
    }
    mdnmf_search_trial trial = {.trial = t, .trials = search->trials, .values = run->values,
                                .status = status, .message = run->message};
    if (status) {
        trial.metric = NAN;
        trial.score = -INFINITY;
        result->failed_trials++;
    } else {
        trial.metric = metric;
        trial.score = search->metric == MDNMF_METRIC_PSNR ? trial.metric : -trial.metric;
        trial.best = is_new_best(run, result, trial.score);
    }
    if (run->extras && run->extras->pair_scores) {
        double *row = run->extras->pair_scores + (size_t)t * (size_t)run->pairs;
        for (int64_t j = 0; j < run->pairs; j++)
            row[j] = status ? NAN : run->mixture_scores[j];
    }
    if (trial.best) {
        memcpy(run->best_scores, run->mixture_scores, (size_t)run->pairs * sizeof(double));
        result->best_trial = t;
        result->best_metric = trial.metric;
        result->best_score = trial.score;
        result->best = p;
        if (run->extras && run->last_fit) {
            mdnmf_model_destroy(run->extras->best_fit);
            run->extras->best_fit = run->last_fit;
            run->last_fit = NULL;
        }
    }
    if (search->on_trial && search->on_trial(search->on_trial_user, &trial))
        return model_fail(run->report, MDNMF_ERR_CANCELLED, "search stopped after trial %d", t);
    if (status && result->failed_trials == search->trials)
        return model_fail(run->report, status, "every trial failed; the last: %s", run->message);
    return MDNMF_OK;
}

/* The supervised pairs every search scores on, and enough of them. */
static int check_pairs(search_run *run)
{
    const mdnmf_separation_data *x = run->data;
    int missing = !x->V_sup || x->n_sup < 1;
    for (int s = 0; s < run->S; s++)
        missing |= !x->U_sup[s];
    if (missing)
        return model_fail(run->report, MDNMF_ERR_ARGUMENT,
                          "the search scores separations of supervised pairs: give paired "
                          "clean sources and their mixtures");
    if (run->search->folds > x->n_sup)
        return model_fail(run->report, MDNMF_ERR_ARGUMENT,
                          "folds = %d but only %lld supervised pairs: use at most %lld folds",
                          run->search->folds, (long long)x->n_sup, (long long)x->n_sup);
    return MDNMF_OK;
}

/* Before the first trial: every mode the search may draw has its data.
 * The messages are the separator's (mdnmf_separator_fit). */
static int check_mode_data(search_run *run, mdnmf_mode mode)
{
    const mdnmf_separation_data *x = run->data;
    const mdnmf_mode_info *info = mdnmf_mode_describe(mode);
    const char *name = info->name;
    if (info->V == MDNMF_NEED_REQUIRED && !x->V)
        return model_fail(run->report, MDNMF_ERR_ARGUMENT,
                          "mode %s needs mixtures (the last source is learned from them)", name);
    int clean = info->U != MDNMF_NEED_REQUIRED        ? 0
                : info->U_last != MDNMF_NEED_REQUIRED ? run->S - 1
                                                      : run->S;
    for (int s = 0; s < clean; s++)
        if (!x->U[s])
            return model_fail(run->report, MDNMF_ERR_ARGUMENT,
                              "mode %s needs clean training data for source %d", name, s);
    return MDNMF_OK;
}

static int check_modes(search_run *run)
{
    const mdnmf_search *search = run->search;
    mdnmf_mode mode = search->base.mode;
    for (int i = 0; i < search->dimension_count; i++) {
        const mdnmf_search_dimension *dim = &search->dimensions[i];
        if (dim->param != MDNMF_SEARCH_MODE)
            continue;
        for (int k = 0; k < dim->count; k++) {
            int status = check_mode_data(run, (mdnmf_mode)(int)dim->values[k]);
            if (status)
                return status;
        }
        return MDNMF_OK; /* the base mode is never used */
    }
    return check_mode_data(run, mode);
}

/* The start bases fit every trial: same sources, atoms and features. */
static int check_start(search_run *run)
{
    const mdnmf_search *search = run->search;
    const mdnmf_model *start = search->start;
    if (!start)
        return MDNMF_OK;
    for (int i = 0; i < search->dimension_count; i++)
        if (search->dimensions[i].param == MDNMF_SEARCH_D)
            return model_fail(run->report, MDNMF_ERR_ARGUMENT,
                              "start: trials warm-started from given bases cannot draw d");
    int same = start->W && start->m == run->m && start->sources == run->S;
    for (int s = 0; same && s < run->S; s++)
        same = start->components[s] == search->base.d[s];
    if (!same)
        return model_fail(run->report, MDNMF_ERR_SHAPE,
                          "start: the bases (%d sources, %lld rows) do not match the search's "
                          "sources, atoms (base.d) and features", start->sources,
                          (long long)start->m);
    return MDNMF_OK;
}

static int start_run(search_run *run)
{
    if (run->data->m < 1)
        return model_fail(run->report, MDNMF_ERR_SHAPE, "the data has no features (m = 0)");
    int status = check_start(run);
    if (!status)
        status = check_pairs(run);
    if (!status)
        status = check_modes(run);
    if (!status)
        status = allocate_run(run);
    if (!status)
        assign_folds(run);
    return status;
}

static int run_search(mdnmf_model *model, const mdnmf_search *search,
                      const mdnmf_separation_data *data, mdnmf_search_result *result,
                      search_extras *extras)
{
    if (!model)
        return MDNMF_ERR_ARGUMENT;
    if (!data || !result)
        return model_fail(model, MDNMF_ERR_ARGUMENT, "data or result is NULL");
    if (check_search(search, model->error, sizeof model->error))
        return MDNMF_ERR_ARGUMENT;
    memset(result, 0, sizeof *result);
    result->best_trial = -1;
    result->best_metric = NAN;
    result->best_score = -INFINITY;
    search_run run = {.report = model, .search = search, .data = data,
                      .S = search->base.sources, .m = data->m, .pairs = data->n_sup,
                      .extras = extras};
    int status = start_run(&run);
    rng draws;
    rng_seed(&draws, search->seed, SEARCH_STREAM);
    for (int t = 0; t < search->trials && !status; t++)
        status = run_trial(&run, &draws, t, result);
    free_run(&run);
    if (!status && search->refit && !extras)
        status = fit_separator(search, model, &result->best, data);
    return status;
}

int mdnmf_search_run(mdnmf_model *model, const mdnmf_search *search,
                     const mdnmf_separation_data *data, mdnmf_search_result *result,
                     mdnmf_error *error)
{
    model_clear_error(model);
    return model_report(model, run_search(model, search, data, result, NULL), error);
}

int search_run_with(mdnmf_model *report, const mdnmf_search *search,
                    const mdnmf_separation_data *data, mdnmf_search_result *result,
                    search_extras *extras)
{
    return run_search(report, search, data, result, extras);
}
