/* Choosing MDNMF's tau_A on validation data (mdnmf_tau_auto_run): the grid
 * is a search (src/search.c) whose trials are the grid's values, warm-
 * started from the NMF bases, with tau_A = 0 scored as the NMF model
 * itself; this file finds the validation pairs, fits the NMF, and puts the
 * chosen separator in the caller's model. */
#include "error.h"
#include "internal.h"
#include "linalg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double DEFAULT_GRID[MDNMF_TAU_GRID_DEFAULT_COUNT] = {0.0, 0.05, 0.1,
                                                                  0.15, 0.2, 0.3};

/* The held-out columns' seeds (mdnmf_tau_auto_run's documentation). */
#define HOLD_OUT_SEED_STEP 0x9E3779B97F4A7C15ull
#define HOLD_OUT_SOURCE_STEP 0xBF58476D1CE4E5B9ull

void mdnmf_tau_auto_default(mdnmf_tau_auto *spec, int sources)
{
    if (!spec)
        return;
    memset(spec, 0, sizeof *spec);
    mdnmf_separator_params_default(&spec->base, sources);
    spec->base.mode = MDNMF_MODE_ADV;
    spec->validation_fraction = 0.2;
    spec->folds = 5;
    spec->metric = MDNMF_METRIC_PSNR;
    spec->aggregate = MDNMF_AGGREGATE_MEDIAN;
    spec->wiener = 1;
    spec->margin = 1.0;
    spec->confirm = 1;
}

static const double *grid_of(const mdnmf_tau_auto *spec, int *count)
{
    if (!spec->grid) {
        *count = MDNMF_TAU_GRID_DEFAULT_COUNT;
        return DEFAULT_GRID;
    }
    *count = spec->grid_count;
    return spec->grid;
}

static int is_tau_mode(mdnmf_mode mode)
{
    return mode == MDNMF_MODE_ADV || mode == MDNMF_MODE_SEMI_ADV || mode == MDNMF_MODE_FULL;
}

static const char *grid_problem(const double *grid, int count)
{
    if (count < 1 || count > MDNMF_SEARCH_MAX_CHOICES)
        return "grid: give 1 to 32 values";
    if (grid[0] != 0.0)
        return "grid: must start at 0 (the NMF model, which MDNMF must not fall below)";
    for (int i = 1; i < count; i++) {
        if (!isfinite(grid[i]) || !float_non_negative(grid[i]))
            return "grid: values must be finite, >= 0 and at most 3.4e38";
        if (!(grid[i] > grid[i - 1]))
            return "grid: values must be strictly increasing";
    }
    return NULL;
}

static const char *spec_problem(const mdnmf_tau_auto *spec)
{
    if (!spec)
        return "spec is NULL";
    if (!is_tau_mode(spec->base.mode))
        return "base.mode must be adv, semi_adv or full (the modes with an adversarial term)";
    int count;
    const double *grid = grid_of(spec, &count);
    const char *problem = grid_problem(grid, count);
    if (problem)
        return problem;
    if (!(spec->validation_fraction > 0.0 && spec->validation_fraction < 1.0))
        return "validation_fraction must be between 0 and 1 (exclusive)";
    if (spec->folds < 2)
        return "folds must be >= 2";
    if ((unsigned)spec->metric > MDNMF_METRIC_MSE)
        return "metric must be psnr or mse";
    if ((unsigned)spec->aggregate > MDNMF_AGGREGATE_MEAN)
        return "aggregate must be median or mean";
    if (!(isfinite(spec->margin) && spec->margin >= 0.0))
        return "margin must be finite and >= 0 (standard errors; 0: the best score wins)";
    if (spec->confirm != 0 && spec->confirm != 1)
        return "confirm must be 0 (off) or 1 (on)";
    if (spec->pair_folds < 0 || spec->pair_folds == 1)
        return "pair_folds must be 0 (off) or >= 2";
    if (spec->pair_folds && spec->base.mode != MDNMF_MODE_ADV)
        return "pair_folds: cross-validation over the training pairs needs mode adv";
    mdnmf_separator_params probe = spec->base;
    for (int s = 0; s < MDNMF_MAX_SOURCES; s++)
        probe.tau_A[s] = grid[count - 1];
    return separator_params_problem(&probe);
}

int mdnmf_tau_auto_check(const mdnmf_tau_auto *spec, mdnmf_error *error)
{
    const char *problem = spec_problem(spec);
    return error_report(error, problem ? MDNMF_ERR_ARGUMENT : MDNMF_OK, problem ? problem : "");
}

/* ------------------------------------------------------------ the run */

typedef struct tau_run {
    mdnmf_model *report;
    const mdnmf_tau_auto *spec;
    const mdnmf_separation_data *data;
    mdnmf_tau_auto_result *result;
    const double *grid;
    int count, S;
    mdnmf_separation_data fit_data; /* what the grid is fitted on, with the pairs */
    float *train_U[MDNMF_MAX_SOURCES], *val_U[MDNMF_MAX_SOURCES], *val_V;
    mdnmf_model *nmf;               /* the NMF fitted here (NULL with spec->start) */
    double *pair_scores;            /* pair_folds: a fold's scores, grid x pairs */
    int pooling;                    /* pair_folds: on_point waits for the pooled scores */
} tau_run;

static void free_tau_run(tau_run *run)
{
    for (int s = 0; s < run->S; s++)
        free(run->train_U[s]), free(run->val_U[s]);
    free(run->val_V);
    mdnmf_model_destroy(run->nmf);
}

static int has_pairs(const mdnmf_separation_data *x, int S)
{
    int given = x->V_sup && x->n_sup > 0;
    for (int s = 0; s < S; s++)
        given = given && x->U_sup[s];
    return given;
}

static uint64_t hold_out_seed(uint64_t seed, int source)
{
    return seed * HOLD_OUT_SEED_STEP + (uint64_t)(source + 1) * HOLD_OUT_SOURCE_STEP;
}

/* The columns 0..n-1 not among held[0..k), in order, into `rest`; returns
 * their count.  `mark` holds n bytes.  The fitted columns of a hold-out or
 * a fold keep the data's order. */
static int64_t columns_left(const int64_t *held, int64_t k, int64_t n, char *mark, int64_t *rest)
{
    int64_t kept = 0;
    memset(mark, 0, (size_t)n);
    for (int64_t j = 0; j < k; j++)
        mark[held[j]] = 1;
    for (int64_t j = 0; j < n; j++)
        if (!mark[j])
            rest[kept++] = j;
    return kept;
}

/* Source s's held-out columns (the first k of its seeded permutation) into
 * `held` (m x k) and the rest, in order, into run->train_U[s]. */
static int split_source(tau_run *run, int s, int64_t k, float *held)
{
    const mdnmf_separation_data *x = run->data;
    int64_t m = x->m, n = x->n[s];
    int64_t *perm = malloc((size_t)n * sizeof *perm);
    int64_t *rest = malloc((size_t)n * sizeof *rest);
    char *mark = malloc((size_t)n);
    run->train_U[s] = malloc((size_t)(m * (n - k)) * sizeof(float));
    int status = perm && rest && mark && run->train_U[s] ? MDNMF_OK : MDNMF_ERR_MEMORY;
    if (!status)
        status = mdnmf_shuffle_indices(perm, n, hold_out_seed(run->spec->seed, s), NULL);
    if (!status) {
        gather_columns(held, x->U[s], m, perm, k);
        int64_t kept = columns_left(perm, k, n, mark, rest);
        gather_columns(run->train_U[s], x->U[s], m, rest, kept);
    }
    free(perm), free(rest), free(mark);
    if (status)
        return model_fail(run->report, status, "out of memory holding out validation columns");
    return MDNMF_OK;
}

/* Validation pairs held out of the clean data (documented with
 * mdnmf_tau_auto_run); run->fit_data becomes the rest with the pairs. */
static int hold_out(tau_run *run)
{
    const mdnmf_separation_data *x = run->data;
    if (run->spec->start)
        return model_fail(run->report, MDNMF_ERR_ARGUMENT,
                          "start bases need given validation pairs (U_sup, V_sup): held-out "
                          "pairs need an NMF fitted without them");
    int64_t n_min = -1;
    for (int s = 0; s < run->S; s++) {
        if (!x->U[s] || x->n[s] < 1)
            return model_fail(run->report, MDNMF_ERR_ARGUMENT,
                              "mode adv needs clean training data for source %d", s);
        n_min = n_min < 0 || x->n[s] < n_min ? x->n[s] : n_min;
    }
    int64_t k = (int64_t)floor(run->spec->validation_fraction * (double)n_min);
    k = k < 2 ? 2 : k;
    if (k >= n_min)
        return model_fail(run->report, MDNMF_ERR_SHAPE,
                          "%lld clean samples are too few to hold out %lld validation pairs and "
                          "train on the rest: give more data or validation pairs",
                          (long long)n_min, (long long)k);
    int64_t m = x->m;
    size_t block = (size_t)(m * k) * sizeof(float);
    float *held[MDNMF_MAX_SOURCES] = {NULL};
    int status = (run->val_V = malloc(block)) ? MDNMF_OK : MDNMF_ERR_MEMORY;
    for (int s = 0; s < run->S && !status; s++) {
        held[s] = malloc(block);
        run->val_U[s] = malloc(block);
        status = held[s] && run->val_U[s] ? split_source(run, s, k, held[s]) : MDNMF_ERR_MEMORY;
    }
    mdnmf_error error;
    if (!status) {
        status = mdnmf_mix((const float *const *)held, run->S, m, k, 0.0, 0, run->val_V,
                           run->val_U, NULL, &error);
        if (status)
            model_fail(run->report, status, "%s", error.message);
    } else if (status == MDNMF_ERR_MEMORY) {
        model_fail(run->report, status, "out of memory holding out validation columns");
    }
    for (int s = 0; s < run->S; s++)
        free(held[s]);
    if (status)
        return status;
    run->fit_data = *x;
    for (int s = 0; s < run->S; s++) {
        run->fit_data.U[s] = run->train_U[s];
        run->fit_data.n[s] = x->n[s] - k;
        run->fit_data.U_sup[s] = run->val_U[s];
    }
    run->fit_data.V_sup = run->val_V;
    run->fit_data.n_sup = k;
    run->result->held_out = 1;
    return MDNMF_OK;
}

/* The validation pairs: given, or held out (adv only). */
static int find_validation(tau_run *run)
{
    mdnmf_mode mode = run->spec->base.mode;
    if (has_pairs(run->data, run->S)) {
        run->fit_data = *run->data;
        if (mode != MDNMF_MODE_FULL && run->data->n_sup < 2)
            return model_fail(run->report, MDNMF_ERR_ARGUMENT,
                              "only %lld validation pair: give at least 2",
                              (long long)run->data->n_sup);
        return MDNMF_OK;
    }
    if (mode == MDNMF_MODE_ADV)
        return hold_out(run);
    return model_fail(run->report, MDNMF_ERR_ARGUMENT,
                      "mode %s needs paired clean sources and their mixtures to choose tau_A "
                      "on (%s)", separator_mode_name(mode),
                      mode == MDNMF_MODE_SEMI_ADV ? "the last source has no clean data to "
                                                    "hold out"
                                                  : "full also trains on them");
}

/* The NMF counterpart of the mode: its parameters. */
static mdnmf_separator_params nmf_params(const mdnmf_tau_auto *spec)
{
    mdnmf_separator_params p = spec->base;
    p.mode = p.mode == MDNMF_MODE_SEMI_ADV ? MDNMF_MODE_SEMI : MDNMF_MODE_STD;
    if (p.warm_start_epochs > 0)
        p.common.epochs = p.warm_start_epochs;
    p.warm_start_epochs = 0;
    p.common.warm_start = 0;
    p.common.checkpoint_path = p.common.resume_path = NULL;
    return p;
}

static mdnmf_model *new_model(tau_run *run, const mdnmf_params *common)
{
    mdnmf_params params = *common;
    params.d = 1; /* the separator's d[] decide; create only checks it */
    params.warm_start = 0;
    mdnmf_model *model = mdnmf_model_create(&params, NULL);
    if (!model)
        model_fail(run->report, MDNMF_ERR_MEMORY, "out of memory for a model");
    return model;
}

/* Fit `p` on `x` into a new model (*out), from `start`'s bases if given. */
static int fit_new(tau_run *run, const mdnmf_separator_params *p,
                   const mdnmf_separation_data *x, const mdnmf_model *start,
                   mdnmf_model **out)
{
    mdnmf_model *model = new_model(run, &p->common);
    if (!model)
        return MDNMF_ERR_MEMORY;
    mdnmf_separator_params params = *p;
    params.common.warm_start = start != NULL;
    params.common.checkpoint_path = params.common.resume_path = NULL;
    int status = start ? search_copy_separator(model, start, p) : MDNMF_OK;
    if (!status)
        status = mdnmf_separator_fit(model, &params, x, NULL);
    run->result->fits++;
    if (status) {
        model_fail(run->report, status, "%s", model->error);
        mdnmf_model_destroy(model);
        return status;
    }
    *out = model;
    return MDNMF_OK;
}

static int draw_grid(void *user, int trial, double *values)
{
    const tau_run *run = user;
    values[0] = run->grid[trial];
    return 0;
}

static int record_point(void *user, const mdnmf_search_trial *trial)
{
    tau_run *run = user;
    run->result->metric[trial->trial] = trial->metric;
    run->result->status[trial->trial] = trial->status;
    const mdnmf_tau_auto *spec = run->spec;
    return spec->on_point && !run->pooling ? spec->on_point(spec->on_point_user, trial) : 0;
}

/* Score every grid point; *best_fit receives the chosen model when the
 * search keeps it (given pairs, modes that do not train on pairs). */
static int score_grid(tau_run *run, const mdnmf_model *start, mdnmf_model **best_fit)
{
    const mdnmf_tau_auto *spec = run->spec;
    int full = spec->base.mode == MDNMF_MODE_FULL;
    mdnmf_search_dimension tau = {.param = MDNMF_SEARCH_TAU_A, .source = -1,
                                  .distribution = MDNMF_DIST_CHOICE, .count = run->count};
    memcpy(tau.values, run->grid, (size_t)run->count * sizeof *run->grid);
    mdnmf_search search;
    mdnmf_search_default(&search, run->S);
    search.base = spec->base;
    search.base.warm_start_epochs = 0; /* the start is the warm-up */
    search.dimensions = &tau;
    search.dimension_count = 1;
    search.trials = run->count;
    search.folds = full ? spec->folds : 2; /* folds only matter for full */
    search.metric = spec->metric;
    search.aggregate = spec->aggregate;
    search.wiener = spec->wiener;
    search.seed = spec->seed;
    search.start = start;
    search.on_trial = record_point;
    search.on_trial_user = run;
    search.draw = draw_grid;
    search.draw_user = run;
    search_extras extras = {.unfitted_at_zero = !full,
                            .keep_best = !full && !run->result->held_out,
                            .margin = spec->margin, .pair_scores = run->pair_scores};
    mdnmf_search_result found;
    int status = search_run_with(run->report, &search, &run->fit_data, &found, &extras);
    for (int i = 0; i < run->count; i++)
        if (run->grid[i] > 0.0 || full)
            run->result->fits += full ? spec->folds : 1;
    if (!status) {
        run->result->chosen = found.best_trial;
        run->result->chosen_tau_A = run->grid[found.best_trial];
        *best_fit = extras.best_fit;
    } else {
        mdnmf_model_destroy(extras.best_fit);
    }
    return status;
}

static int confirm_args_problem(mdnmf_model *nmf, mdnmf_model *mdnmf,
                                const mdnmf_tau_auto *spec, const float *const *U_sup,
                                const float *V_sup, int64_t n, double metric[2], int *keep)
{
    if (!nmf || !spec || !U_sup || !V_sup || !metric || !keep)
        return model_fail(mdnmf, MDNMF_ERR_ARGUMENT, "a model, the spec, the pairs, metric or "
                                                     "keep is NULL");
    int S = spec->base.sources;
    if (S < 1 || S > MDNMF_MAX_SOURCES || nmf->sources != S || mdnmf->sources != S)
        return model_fail(mdnmf, MDNMF_ERR_ARGUMENT, "the models separate %d and %d sources, "
                          "the spec %d: they must agree", nmf->sources, mdnmf->sources, S);
    for (int s = 0; s < S; s++)
        if (!U_sup[s])
            return model_fail(mdnmf, MDNMF_ERR_ARGUMENT, "U_sup[%d] is NULL", s);
    if (n < 1)
        return model_fail(mdnmf, MDNMF_ERR_ARGUMENT, "no pairs to confirm on (n = %lld)",
                          (long long)n);
    return MDNMF_OK;
}

/* Both models' aggregate scores on the pairs into metric[]. */
static int confirm_scores(mdnmf_model *nmf, mdnmf_model *mdnmf, const mdnmf_tau_auto *spec,
                          const float *const *U_sup, const float *V_sup, int64_t m, int64_t n,
                          double metric[2])
{
    int S = spec->base.sources;
    pair_scoring how = {.S = S, .metric = spec->metric, .wiener = spec->wiener};
    double *scores = malloc((size_t)n * sizeof *scores);
    how.column_scores = malloc((size_t)n * sizeof *how.column_scores);
    int status = scores && how.column_scores ? MDNMF_OK : MDNMF_ERR_MEMORY;
    for (int s = 0; s < S && !status; s++)
        if (!(how.estimates[s] = malloc((size_t)(m * n) * sizeof(float))))
            status = MDNMF_ERR_MEMORY;
    if (status)
        model_fail(mdnmf, status, "out of memory scoring %lld confirmation pairs", (long long)n);
    mdnmf_model *models[2] = {nmf, mdnmf};
    for (int i = 0; i < 2 && !status; i++) {
        mdnmf_error error;
        status = search_pair_scores(models[i], &how, V_sup, U_sup, m, n, scores, &error);
        if (status)
            model_fail(mdnmf, status, "confirming on the validation pairs (%s): %s",
                       i ? "MDNMF" : "NMF", error.message);
        else if (mdnmf_aggregate_values(scores, n, spec->aggregate, &metric[i], NULL))
            metric[i] = NAN;
    }
    for (int s = 0; s < S; s++)
        free(how.estimates[s]);
    free(scores), free(how.column_scores);
    return status;
}

static int confirm(mdnmf_model *nmf, mdnmf_model *mdnmf, const mdnmf_tau_auto *spec,
                   const float *const *U_sup, const float *V_sup, int64_t m, int64_t n,
                   double metric[2], int *keep)
{
    if (!mdnmf)
        return MDNMF_ERR_ARGUMENT;
    int status = confirm_args_problem(nmf, mdnmf, spec, U_sup, V_sup, n, metric, keep);
    if (status)
        return status;
    metric[0] = metric[1] = NAN;
    *keep = 0;
    status = confirm_scores(nmf, mdnmf, spec, U_sup, V_sup, m, n, metric);
    if (!status) {
        double sign = spec->metric == MDNMF_METRIC_PSNR ? 1.0 : -1.0;
        *keep = sign * metric[1] > sign * metric[0];
    }
    return status;
}

int mdnmf_tau_auto_confirm(mdnmf_model *nmf, mdnmf_model *mdnmf, const mdnmf_tau_auto *spec,
                           const float *const *U_sup, const float *V_sup, int64_t m, int64_t n,
                           double metric[2], int *keep, mdnmf_error *error)
{
    model_clear_error(mdnmf);
    return model_report(mdnmf, confirm(nmf, mdnmf, spec, U_sup, V_sup, m, n, metric, keep),
                        error);
}

/* The pairs the choice was made on, which the final fits have seen: the
 * held-out validation pairs, or with pair_folds all of them. */
static void confirmation_pairs(const tau_run *run, const float *const **U, const float **V,
                               int64_t *n)
{
    const mdnmf_separation_data *x = run->spec->pair_folds ? run->data : &run->fit_data;
    *U = (const float *const *)(run->spec->pair_folds ? x->U : x->U_sup);
    *V = run->spec->pair_folds ? x->V : x->V_sup;
    *n = run->spec->pair_folds ? x->n_V : x->n_sup;
}

/* mdnmf_tau_auto.confirm after the final fits: *out stays the MDNMF, or
 * becomes the NMF `all` (which the caller then does not destroy). */
static int confirm_final(tau_run *run, mdnmf_model **all, mdnmf_model **out)
{
    const float *const *U;
    const float *V;
    int64_t n;
    confirmation_pairs(run, &U, &V, &n);
    int keep = 0;
    mdnmf_tau_auto_result *result = run->result;
    int status = confirm(*all, *out, run->spec, U, V, run->data->m, n, result->confirm_metric,
                         &keep);
    if (status || keep)
        return status;
    mdnmf_model_destroy(*out);
    *out = *all;
    *all = NULL;
    result->rejected_tau_A = result->chosen_tau_A;
    result->chosen = 0;
    result->chosen_tau_A = 0.0;
    return MDNMF_OK;
}

/* The chosen separator fitted on all of the data. */
static int final_fit(tau_run *run, const mdnmf_model *start, mdnmf_model **out)
{
    const mdnmf_tau_auto *spec = run->spec;
    double tau_A = run->result->chosen_tau_A;
    mdnmf_separator_params p = spec->base;
    p.warm_start_epochs = 0;
    for (int s = 0; s < MDNMF_MAX_SOURCES; s++)
        p.tau_A[s] = tau_A;
    if (!run->result->held_out) /* full: the pairs are all of its data */
        return fit_new(run, &p, run->data, start, out);
    mdnmf_separator_params nmf = nmf_params(spec);
    mdnmf_model *all = NULL;
    int status = fit_new(run, &nmf, run->data, NULL, &all);
    if (status || tau_A == 0.0) {
        *out = all;
        return status;
    }
    status = fit_new(run, &p, run->data, all, out);
    if (!status && spec->confirm) {
        status = confirm_final(run, &all, out);
        if (status)
            mdnmf_model_destroy(*out), *out = NULL;
    }
    mdnmf_model_destroy(all);
    return status;
}

/* ------------------------------------ cross-validation over the pairs */

/* pair_folds' data: every source's clean columns and the mixtures are the
 * same n pairs, and there are at least K of them. */
static int check_pair_folds(tau_run *run)
{
    const mdnmf_separation_data *x = run->data;
    if (has_pairs(x, run->S))
        return model_fail(run->report, MDNMF_ERR_ARGUMENT,
                          "pair_folds: validation pairs are the training pairs' folds; give "
                          "no U_sup/V_sup");
    int64_t n = x->n_V;
    if (!x->V || n < run->spec->pair_folds)
        return model_fail(run->report, MDNMF_ERR_SHAPE,
                          "pair_folds = %d needs at least as many training pairs (mixtures "
                          "V: %lld)", run->spec->pair_folds, (long long)(x->V ? n : 0));
    for (int s = 0; s < run->S; s++)
        if (!x->U[s] || x->n[s] != n)
            return model_fail(run->report, MDNMF_ERR_SHAPE,
                              "pair_folds: source %d has %lld clean columns, the mixtures %lld: "
                              "the training pairs must line up", s,
                              (long long)(x->U[s] ? x->n[s] : 0), (long long)n);
    return MDNMF_OK;
}

typedef struct pair_fold_buffers {
    int64_t *perm, *rest;
    char *mark;
    float *U[MDNMF_MAX_SOURCES], *V, *val_U[MDNMF_MAX_SOURCES], *val_V;
    double *pooled;          /* grid x n: every pair's score, fold by fold */
    int status[MDNMF_SEARCH_MAX_CHOICES]; /* per point: the first fold's failure, or OK */
} pair_fold_buffers;

static void free_pair_folds(pair_fold_buffers *b, int S)
{
    free(b->perm), free(b->rest), free(b->mark), free(b->V), free(b->val_V), free(b->pooled);
    for (int s = 0; s < S; s++)
        free(b->U[s]), free(b->val_U[s]);
}

static int allocate_pair_folds(tau_run *run, pair_fold_buffers *b)
{
    int64_t n = run->data->n_V, m = run->data->m;
    size_t block = (size_t)(m * n) * sizeof(float), scores = (size_t)run->count * (size_t)n;
    int missing = !(b->perm = malloc((size_t)n * sizeof *b->perm));
    missing |= !(b->rest = malloc((size_t)n * sizeof *b->rest));
    missing |= !(b->mark = malloc((size_t)n));
    missing |= !(b->V = malloc(block)) || !(b->val_V = malloc(block));
    for (int s = 0; s < run->S; s++)
        missing |= !(b->U[s] = malloc(block)) || !(b->val_U[s] = malloc(block));
    missing |= !(b->pooled = malloc(scores * sizeof(double)));
    missing |= !(run->pair_scores = malloc(scores * sizeof(double)));
    if (missing)
        return model_fail(run->report, MDNMF_ERR_MEMORY,
                          "out of memory cross-validating over %lld pairs", (long long)n);
    return mdnmf_shuffle_indices(b->perm, n, run->spec->seed, NULL) == MDNMF_OK
               ? MDNMF_OK
               : model_fail(run->report, MDNMF_ERR_MEMORY, "out of memory shuffling pairs");
}

/* run->fit_data becomes fold f's: the other folds' pairs to fit on, its
 * own [lo, hi) positions of the permutation to validate on. */
static void gather_pair_fold(tau_run *run, pair_fold_buffers *b, int64_t lo, int64_t hi)
{
    const mdnmf_separation_data *x = run->data;
    int64_t n = x->n_V, m = x->m;
    int64_t kept = columns_left(b->perm + lo, hi - lo, n, b->mark, b->rest);
    run->fit_data = *x;
    gather_columns(b->V, x->V, m, b->rest, kept);
    gather_columns(b->val_V, x->V, m, b->perm + lo, hi - lo);
    for (int s = 0; s < run->S; s++) {
        gather_columns(b->U[s], x->U[s], m, b->rest, kept);
        gather_columns(b->val_U[s], x->U[s], m, b->perm + lo, hi - lo);
        run->fit_data.U[s] = b->U[s], run->fit_data.n[s] = kept;
        run->fit_data.U_sup[s] = b->val_U[s];
    }
    run->fit_data.V = b->V, run->fit_data.n_V = kept;
    run->fit_data.V_sup = b->val_V, run->fit_data.n_sup = hi - lo;
}

/* One fold: its NMF and grid fitted, its pairs' scores into b->pooled. */
static int score_pair_fold(tau_run *run, pair_fold_buffers *b, int64_t lo, int64_t hi)
{
    int64_t n = run->data->n_V, k = hi - lo;
    gather_pair_fold(run, b, lo, hi);
    mdnmf_separator_params nmf = nmf_params(run->spec);
    mdnmf_model *start = NULL, *unused = NULL;
    int status = fit_new(run, &nmf, &run->fit_data, NULL, &start);
    if (!status)
        status = score_grid(run, start, &unused);
    mdnmf_model_destroy(start), mdnmf_model_destroy(unused);
    for (int t = 0; !status && t < run->count; t++) {
        if (!b->status[t])
            b->status[t] = run->result->status[t];
        memcpy(b->pooled + (size_t)t * (size_t)n + lo, run->pair_scores + (size_t)t * (size_t)k,
               (size_t)k * sizeof(double));
    }
    return status;
}

/* The rule of mdnmf_tau_auto.margin on the pooled scores; each point is
 * reported to on_point with its pooled aggregate. */
static int choose_on_pooled(tau_run *run, const pair_fold_buffers *b)
{
    const mdnmf_tau_auto *spec = run->spec;
    mdnmf_tau_auto_result *result = run->result;
    int64_t n = run->data->n_V;
    int psnr = spec->metric == MDNMF_METRIC_PSNR, chosen = -1;
    double chosen_score = -INFINITY;
    for (int t = 0; t < run->count; t++) {
        const double *scores = b->pooled + (size_t)t * (size_t)n;
        double metric = NAN;
        if (!b->status[t] && mdnmf_aggregate_values(scores, n, spec->aggregate, &metric, NULL))
            metric = NAN;
        int ok = isfinite(metric);
        result->metric[t] = metric;
        result->status[t] = ok ? MDNMF_OK : b->status[t] ? b->status[t] : MDNMF_ERR_DIVERGED;
        double score = !ok ? -INFINITY : psnr ? metric : -metric;
        const double *chosen_scores = chosen < 0 ? NULL : b->pooled + (size_t)chosen * (size_t)n;
        int best = ok && search_replaces_best(score, scores, chosen_score, chosen_scores, n,
                                              psnr, spec->margin);
        if (best)
            chosen = t, chosen_score = score;
        mdnmf_search_trial trial = {.trial = t, .trials = run->count, .values = &run->grid[t],
                                    .status = result->status[t],
                                    .message = ok ? "" : "failed in a fold",
                                    .metric = metric, .score = score, .best = best};
        if (spec->on_point && spec->on_point(spec->on_point_user, &trial))
            return model_fail(run->report, MDNMF_ERR_CANCELLED,
                              "tau_A choice stopped after grid point %d", t);
    }
    if (chosen < 0)
        return model_fail(run->report, MDNMF_ERR_DIVERGED, "every grid point failed in a fold");
    result->chosen = chosen;
    result->chosen_tau_A = run->grid[chosen];
    return MDNMF_OK;
}

/* mdnmf_tau_auto.pair_folds: every pair scored by fits that did not see
 * it, then the rule on all of them.  Neighbouring grid values differ on one
 * hold-out's pairs by about that hold-out's noise; K folds score every
 * training pair and average over K fits per point. */
static int cross_validate_pairs(tau_run *run)
{
    int status = check_pair_folds(run);
    pair_fold_buffers b;
    memset(&b, 0, sizeof b);
    if (!status)
        status = allocate_pair_folds(run, &b);
    int64_t n = run->data->n_V, K = run->spec->pair_folds;
    run->result->held_out = 1;
    run->result->validation_pairs = n;
    run->pooling = 1;
    for (int64_t f = 0; f < K && !status; f++)
        status = score_pair_fold(run, &b, f * n / K, (f + 1) * n / K);
    run->pooling = 0;
    if (!status)
        status = choose_on_pooled(run, &b);
    free_pair_folds(&b, run->S);
    free(run->pair_scores);
    run->pair_scores = NULL;
    return status;
}

/* The model's contents become those of `fitted` (which is destroyed), as
 * if the fit had run on it; its audio front end stays. */
static void take_fitted(mdnmf_model *model, mdnmf_model *fitted)
{
    model_adopt_sources(model, fitted->W, fitted->mu_H, fitted->m, fitted->sources,
                        fitted->components);
    fitted->W = fitted->mu_H = NULL;
    fitted->components = NULL;
    model->mu_H_custom = 1;
    model->params = fitted->params;
    model->separator = fitted->separator;
    model->is_separator = 1;
    model_set_activations(model, NULL, 0, NULL, 0);
    mdnmf_model_destroy(fitted);
}

/* The chosen tau_A in the separator params (tau_A = 0: the NMF's mode). */
static void note_choice(mdnmf_model *model, const mdnmf_tau_auto *spec, double tau_A)
{
    for (int s = 0; s < model->separator.sources; s++)
        model->separator.tau_A[s] = tau_A;
    if (model->separator.mode == spec->base.mode)
        model->separator.warm_start_epochs = spec->base.warm_start_epochs;
}

static int tau_auto_run(mdnmf_model *model, const mdnmf_tau_auto *spec,
                        const mdnmf_separation_data *data, mdnmf_tau_auto_result *result)
{
    if (!model)
        return MDNMF_ERR_ARGUMENT;
    if (!data || !result)
        return model_fail(model, MDNMF_ERR_ARGUMENT, "data or result is NULL");
    const char *problem = spec_problem(spec);
    if (problem)
        return model_fail(model, MDNMF_ERR_ARGUMENT, "%s", problem);
    if (data->m < 1)
        return model_fail(model, MDNMF_ERR_SHAPE, "the data has no features (m = 0)");
    memset(result, 0, sizeof *result);
    tau_run run = {.report = model, .spec = spec, .data = data, .result = result,
                   .S = spec->base.sources};
    run.grid = grid_of(spec, &run.count);
    result->count = run.count;
    for (int i = 0; i < run.count; i++) {
        result->tau_A[i] = run.grid[i];
        result->metric[i] = NAN;
    }
    result->confirm_metric[0] = result->confirm_metric[1] = NAN;
    const mdnmf_model *start = spec->start;
    mdnmf_model *chosen = NULL;
    int status = MDNMF_OK;
    if (spec->pair_folds) {
        status = start ? model_fail(model, MDNMF_ERR_ARGUMENT,
                                    "pair_folds fits an NMF per fold: give no start bases")
                       : cross_validate_pairs(&run);
    } else {
        status = find_validation(&run);
        result->validation_pairs = run.fit_data.n_sup;
        if (!status && !start) {
            mdnmf_separator_params nmf = nmf_params(spec);
            status = fit_new(&run, &nmf, &run.fit_data, NULL, &run.nmf);
            start = run.nmf;
        }
        if (!status)
            status = score_grid(&run, start, &chosen);
    }
    if (!status && !chosen)
        status = final_fit(&run, start, &chosen);
    if (!status) {
        take_fitted(model, chosen);
        note_choice(model, spec, result->chosen_tau_A);
    }
    free_tau_run(&run);
    return status;
}

int mdnmf_tau_auto_run(mdnmf_model *model, const mdnmf_tau_auto *spec,
                       const mdnmf_separation_data *data, mdnmf_tau_auto_result *result,
                       mdnmf_error *error)
{
    model_clear_error(model);
    return model_report(model, tau_auto_run(model, spec, data, result), error);
}
