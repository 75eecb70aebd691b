/* The random search (SPEC §10): its description is checked, its draws follow
 * their distributions and the seed, its scores equal a cross-validation
 * recomputed here from separate fits, trials that fail are recorded and
 * the search goes on, and the refit is the best parameters fitted on all
 * data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "internal.h" /* search_run_with, search_extras.margin */
#include "mdnmf.h"
#include "test_util.h"

enum { M = 8, N = 12, PAIRS = 6, S = 2, MAX_TRIALS = 256 };

/* Two sources from different non-negative bases, their clean training
 * data, and paired clean sources with their mixtures. */
typedef struct problem {
    float U[S][M * N];
    float U_sup[S][M * PAIRS];
    float V_sup[M * PAIRS];
    float V[M * N];
    mdnmf_separation_data data;
} problem;

static void random_combinations(test_rng *r, const float *basis, float *out, int64_t n)
{
    for (int64_t j = 0; j < n; j++)
        for (int i = 0; i < M; i++) {
            double sum = 0.0;
            for (int k = 0; k < 3; k++)
                sum += test_uniform(r) * basis[k * M + i];
            out[j * M + i] = (float)sum;
        }
}

static problem *make_problem(void)
{
    static problem p;
    test_rng r = test_rng_make(17);
    float basis[S][3 * M];
    for (int s = 0; s < S; s++)
        for (int k = 0; k < 3 * M; k++)
            /* Source s is strong on its own half of the features. */
            basis[s][k] = (float)(test_uniform(&r) * ((k % M < M / 2) == (s == 0) ? 3.0 : 0.3));
    memset(&p.data, 0, sizeof p.data);
    p.data.m = M;
    for (int s = 0; s < S; s++) {
        random_combinations(&r, basis[s], p.U[s], N);
        random_combinations(&r, basis[s], p.U_sup[s], PAIRS);
        p.data.U[s] = p.U[s];
        p.data.n[s] = N;
        p.data.U_sup[s] = p.U_sup[s];
    }
    for (int i = 0; i < M * PAIRS; i++)
        p.V_sup[i] = p.U_sup[0][i] + p.U_sup[1][i];
    for (int i = 0; i < M * N; i++)
        p.V[i] = 0.5f * (p.U[0][i] + p.U[1][N * M - 1 - i]);
    p.data.V_sup = p.V_sup;
    p.data.n_sup = PAIRS;
    return &p;
}

static mdnmf_search quick_search(mdnmf_mode mode, int trials)
{
    mdnmf_search search;
    mdnmf_search_default(&search, S);
    search.base.mode = mode;
    search.base.d[0] = search.base.d[1] = 3;
    search.base.common.epochs = 3;
    search.base.common.test_epochs = 10;
    search.base.common.threads = 1;
    search.trials = trials;
    search.folds = 3;
    return search;
}

static mdnmf_model *new_model(void)
{
    mdnmf_model *model = test_model(1);
    assert_non_null(model);
    return model;
}

/* Every reported trial, with copies of its values. */
typedef struct trial_log {
    int count;
    int stop_after; /* > 0: ask to stop once this many were seen */
    int dimensions;
    mdnmf_search_trial trials[MAX_TRIALS];
    double values[MAX_TRIALS][8];
} trial_log;

static int record_trial(void *user, const mdnmf_search_trial *trial)
{
    trial_log *log = user;
    if (log->count < MAX_TRIALS) {
        log->trials[log->count] = *trial;
        memcpy(log->values[log->count], trial->values, (size_t)log->dimensions * sizeof(double));
        log->trials[log->count].message = "";
        log->count++;
    }
    return log->stop_after > 0 && log->count >= log->stop_after;
}

static mdnmf_search_dimension uniform(mdnmf_search_param param, int source, double low,
                                      double high)
{
    mdnmf_search_dimension d = {.param = param, .source = source,
                                .distribution = MDNMF_DIST_UNIFORM, .low = low, .high = high};
    return d;
}

static mdnmf_search_dimension log_uniform(mdnmf_search_param param, double low, double high)
{
    mdnmf_search_dimension d = uniform(param, -1, low, high);
    d.distribution = MDNMF_DIST_LOG_UNIFORM;
    return d;
}

static mdnmf_search_dimension choice(mdnmf_search_param param, int count, const double *values)
{
    mdnmf_search_dimension d = {.param = param, .source = -1,
                                .distribution = MDNMF_DIST_CHOICE, .count = count};
    memcpy(d.values, values, (size_t)count * sizeof *values);
    return d;
}

/* ------------------------------------------------------------ names */

static void test_parameter_names_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < MDNMF_SEARCH_PARAM_COUNT; i++) {
        mdnmf_search_param param = MDNMF_SEARCH_PARAM_COUNT;
        assert_true(mdnmf_search_param_from_name(mdnmf_search_param_name(i), &param));
        assert_int_equal(param, i);
    }
    assert_false(mdnmf_search_param_from_name("tau_B", NULL));
    assert_false(mdnmf_search_param_from_name("", NULL));
    assert_string_equal(mdnmf_search_param_name(MDNMF_SEARCH_TAU_A), "tau_A");
    assert_string_equal(mdnmf_search_param_name(MDNMF_SEARCH_PARAM_COUNT), "?");
}

/* ------------------------------------------------------------ the spec */

static void test_spec_gives_dimensions_in_order(void **state)
{
    (void)state;
    const char *text =
        "{\"tau_A\": {\"distribution\": \"log-uniform\", \"low\": 0.01, \"high\": 1},\n"
        " \"d[1]\": {\"distribution\": \"choice\", \"values\": [8, 16]},\n"
        " \"mode\": {\"distribution\": \"choice\", \"values\": [\"semi_adv\", \"std\"]},\n"
        " \"normalize\": {\"distribution\": \"choice\", \"values\": [true, false, 1]},\n"
        " \"beta[0]\": {\"low\": 0.5, \"high\": 3, \"distribution\": \"uniform\"}}";
    mdnmf_search_dimension *dims = NULL;
    char **names = NULL;
    int count = -1;
    mdnmf_error error = {MDNMF_ERR_STATE, "stale"};
    assert_int_equal(mdnmf_search_dimensions_from_json(text, strlen(text), &dims, &names, &count,
                                                       &error),
                     MDNMF_OK);
    assert_int_equal(error.status, MDNMF_OK);
    assert_string_equal(error.message, "");
    assert_int_equal(count, 5);
    const char *keys[] = {"tau_A", "d[1]", "mode", "normalize", "beta[0]"};
    const mdnmf_search_param params[] = {MDNMF_SEARCH_TAU_A, MDNMF_SEARCH_D, MDNMF_SEARCH_MODE,
                                         MDNMF_SEARCH_NORMALIZE, MDNMF_SEARCH_BETA};
    const int sources[] = {-1, 1, -1, -1, 0};
    const mdnmf_distribution kinds[] = {MDNMF_DIST_LOG_UNIFORM, MDNMF_DIST_CHOICE,
                                        MDNMF_DIST_CHOICE, MDNMF_DIST_CHOICE,
                                        MDNMF_DIST_UNIFORM};
    for (int i = 0; i < count; i++) {
        assert_string_equal(names[i], keys[i]);
        assert_int_equal(dims[i].param, params[i]);
        assert_int_equal(dims[i].source, sources[i]);
        assert_int_equal(dims[i].distribution, kinds[i]);
    }
    assert_true(dims[0].low == 0.01 && dims[0].high == 1.0);
    assert_true(dims[4].low == 0.5 && dims[4].high == 3.0);
    assert_int_equal(dims[1].count, 2);
    assert_true(dims[1].values[0] == 8.0 && dims[1].values[1] == 16.0);
    assert_int_equal(dims[2].count, 2); /* enum names as their numbers */
    assert_true(dims[2].values[0] == MDNMF_MODE_SEMI_ADV && dims[2].values[1] == MDNMF_MODE_STD);
    assert_int_equal(dims[3].count, 3);
    assert_true(dims[3].values[0] == 1.0 && dims[3].values[1] == 0.0 && dims[3].values[2] == 1.0);
    /* What the spec reads is a usable search description. */
    mdnmf_search search;
    mdnmf_search_default(&search, 2);
    search.base.d[0] = 4; /* d[1] is drawn */
    search.dimensions = dims;
    search.dimension_count = count;
    mdnmf_error checked;
    if (mdnmf_search_check(&search, &checked) != MDNMF_OK)
        fail_msg("%s", checked.message);
    mdnmf_search_dimensions_free(dims, names, count);
    mdnmf_search_dimensions_free(NULL, NULL, 0);
}

typedef struct bad_spec {
    const char *text;
    const char *message; /* the whole message */
} bad_spec;

static void test_bad_specs_are_named(void **state)
{
    (void)state;
    static const bad_spec cases[] = {
        {"{\"tau_A\": {\"distribution\": \"uniform\", \"low\": 0.1\n \"high\": 1}}",
         "malformed JSON at line 2, column 7: ',' or '}' expected near '\"high\"'"},
        {"{\"d\": {\"distribution\": \"choice\", \"values\": [1 2]}}",
         "malformed JSON at line 1, column 47: ',' or ']' expected near '2'"},
        {"{\"tau_A\": {\"distribution\": \"uniform\", \"low\": 0, \"high\": 1},\n"
         " \"tau_A\": {\"distribution\": \"uniform\", \"low\": 0, \"high\": 1}}",
         "malformed JSON at line 2, column 8: duplicate object key near '\"tau_A\"'"},
        {"", "malformed JSON at line 1, column 0: '[' or '{' expected near end of file"},
        {"{}", "the spec must be a non-empty object: {\"parameter\": {\"distribution\": ...}, "
               "...}"},
        {"[1]", "the spec must be a non-empty object: {\"parameter\": {\"distribution\": ...}, "
                "...}"},
        {"{\"tau_B\": {}}",
         "unknown parameter 'tau_B': use one of mode, d, mu_H, tau_A, beta, tau_S, tau_W, mu_W, "
         "epochs, test_epochs, batch_size, batch_size_adv, batch_size_sup, warm_start_epochs, "
         "init, true_sample, normalize, update_H"},
        {"{\"tau_A[x]\": {}}",
         "'tau_A[x]': a per-source parameter is written NAME[S] with S a source number from 0"},
        {"{\"tau_A[1]x\": {}}",
         "'tau_A[1]x': a per-source parameter is written NAME[S] with S a source number from 0"},
        {"{\"tau_A\": {\"distribution\": \"uniform\", \"low\": 0, \"hihg\": 1}}",
         "tau_A: 1 object item(s) left unpacked: hihg (an entry is an object of distribution, "
         "low and high, or values)"},
        {"{\"tau_A\": 3}", "tau_A: Expected object, got integer (an entry is an object of "
                           "distribution, low and high, or values)"},
        {"{\"tau_A\": {\"distribution\": \"normal\"}}",
         "tau_A: \"distribution\" must be \"uniform\", \"log-uniform\" or \"choice\""},
        {"{\"tau_A\": {\"distribution\": \"uniform\", \"high\": 1}}",
         "tau_A: needs \"low\": a number"},
        {"{\"tau_A\": {\"distribution\": \"uniform\", \"low\": 0, \"high\": \"1\"}}",
         "tau_A: needs \"high\": a number"},
        {"{\"d\": {\"distribution\": \"choice\", \"values\": []}}",
         "d: choice needs \"values\": a non-empty array"},
        {"{\"d\": {\"distribution\": \"choice\", \"values\": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, "
         "12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, "
         "33]}}",
         "d: 33 values: a choice has at most 32"},
        {"{\"d\": {\"distribution\": \"choice\", \"values\": [1, \"two\"]}}",
         "d: a choice value is not a number: give numbers"},
        {"{\"update_H\": {\"distribution\": \"choice\", \"values\": [\"yes\"]}}",
         "update_H: a choice value is not a number: give numbers or true/false"},
        {"{\"mode\": {\"distribution\": \"choice\", \"values\": [\"std\", \"nmf\"]}}",
         "mode: choices are names, one of: std, adv, exem, sup, full, semi, semi_adv"},
        {"{\"init\": {\"distribution\": \"uniform\", \"low\": 0, \"high\": 1}}",
         "init: takes a choice of values, not a range"},
        {"{\"d\": {\"distribution\": \"choice\", \"values\": [2]},\n"
         " \"beta\": {\"distribution\": \"uniform\", \"low\": 1}}",
         "beta: needs \"high\": a number"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        mdnmf_search_dimension *dims = (mdnmf_search_dimension *)&cases[c];
        char **names = (char **)&cases[c];
        int count = -1;
        mdnmf_error error;
        const int status = mdnmf_search_dimensions_from_json(
            cases[c].text, strlen(cases[c].text), &dims, &names, &count, &error);
        if (status != MDNMF_ERR_FORMAT || strcmp(error.message, cases[c].message) != 0)
            fail_msg("%s: status %d, message \"%s\"", cases[c].text, status, error.message);
        assert_int_equal(error.status, MDNMF_ERR_FORMAT);
        assert_null(dims);
        assert_null(names);
        assert_int_equal(count, 0);
    }
    mdnmf_search_dimension *dims;
    char **names;
    int count;
    mdnmf_error error;
    assert_int_equal(mdnmf_search_dimensions_from_json("{}", 2, NULL, &names, &count, &error),
                     MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_search_dimensions_from_json(NULL, 2, &dims, &names, &count, &error),
                     MDNMF_ERR_ARGUMENT);
    assert_int_equal(error.status, MDNMF_ERR_ARGUMENT);
}

/* ------------------------------------------------------------ checks */

typedef struct bad_description {
    const char *why;
    mdnmf_search_dimension dimension;
    const char *expected; /* in the message */
} bad_description;

static void test_check_names_the_bad_dimension(void **state)
{
    mdnmf_error error;
    (void)state;
    const double mode_nine[] = {9}, half[] = {2.5}, empty[] = {0};
    const bad_description cases[] = {
        {"log-uniform from 0", log_uniform(MDNMF_SEARCH_TAU_A, 0.0, 1.0), "low > 0"},
        {"log-uniform from below 0", log_uniform(MDNMF_SEARCH_MU_H, -1.0, 1.0), "low > 0"},
        {"low above high", uniform(MDNMF_SEARCH_TAU_A, -1, 0.5, 0.2), "low <= high"},
        {"range of an enum", uniform(MDNMF_SEARCH_MODE, -1, 0, 1), "choice"},
        {"mode out of range", choice(MDNMF_SEARCH_MODE, 1, mode_nine), "mode"},
        {"fractional atoms", choice(MDNMF_SEARCH_D, 1, half), "whole"},
        {"no such source", uniform(MDNMF_SEARCH_TAU_A, 5, 0.1, 0.2), "no source 5"},
        {"per-source tau_S", uniform(MDNMF_SEARCH_TAU_S, 0, 0.1, 0.2), "per-source"},
        {"negative mu_H", uniform(MDNMF_SEARCH_MU_H, -1, -1.0, 1.0), "mu_H"},
        {"zero atoms", choice(MDNMF_SEARCH_D, 1, empty), "d >= 1"},
        {"empty choice", choice(MDNMF_SEARCH_TAU_A, 0, empty), "1 to 32"},
        {"infinite bound", uniform(MDNMF_SEARCH_TAU_W, -1, 0.0, INFINITY), "finite"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mdnmf_search search = quick_search(MDNMF_MODE_STD, 1);
        search.dimensions = &cases[i].dimension;
        search.dimension_count = 1;
        int status = mdnmf_search_check(&search, &error);
        if (status != MDNMF_ERR_ARGUMENT || !strstr(error.message, cases[i].expected))
            fail_msg("%s: status %d, message '%s'", cases[i].why, status, error.message);
        /* The run refuses it the same way, before any fit. */
        mdnmf_model *model = new_model();
        mdnmf_search_result result;
        assert_int_equal(mdnmf_search_run(model, &search, &make_problem()->data, &result, &error),
                         MDNMF_ERR_ARGUMENT);
        assert_non_null(strstr(error.message, cases[i].expected));
        mdnmf_model_destroy(model);
    }
}

static void test_check_search_settings(void **state)
{
    mdnmf_error error;
    (void)state;
    mdnmf_search_dimension twice[2] = {uniform(MDNMF_SEARCH_TAU_A, -1, 0.1, 0.2),
                                       uniform(MDNMF_SEARCH_TAU_A, -1, 0.3, 0.4)};
    mdnmf_search search = quick_search(MDNMF_MODE_STD, 1);
    search.dimensions = twice;
    search.dimension_count = 2;
    assert_int_equal(mdnmf_search_check(&search, &error), MDNMF_ERR_ARGUMENT);
    assert_non_null(strstr(error.message, "twice"));
    twice[1].source = 1; /* tau_A for all, then tau_A[1] alone: fine */
    assert_int_equal(mdnmf_search_check(&search, &error), MDNMF_OK);

    search = quick_search(MDNMF_MODE_STD, 0);
    assert_int_equal(mdnmf_search_check(&search, &error), MDNMF_ERR_ARGUMENT);
    assert_non_null(strstr(error.message, "trials"));
    search = quick_search(MDNMF_MODE_STD, 1);
    search.folds = 1;
    assert_int_equal(mdnmf_search_check(&search, &error), MDNMF_ERR_ARGUMENT);
    assert_non_null(strstr(error.message, "folds"));
    assert_int_equal(mdnmf_search_check(NULL, &error), MDNMF_ERR_ARGUMENT);
}

/* mdnmf_tau_auto_check names the field of each bad setting, and the
 * defaults pass (confirm on). */
static void test_tau_auto_settings_are_checked(void **state)
{
    (void)state;
    static const struct {
        const char *field;
        double margin, fraction;
        int pair_folds, confirm;
    } cases[] = {
        {"margin", -1.0, 0.2, 0, 1},
        {"validation_fraction", 1.0, 1.0, 0, 1},
        {"pair_folds", 1.0, 0.2, 1, 1},
        {"confirm", 1.0, 0.2, 0, 2},
        {"confirm", 1.0, 0.2, 0, -1},
    };
    mdnmf_tau_auto spec;
    mdnmf_error error;
    mdnmf_tau_auto_default(&spec, 2);
    spec.base.d[0] = spec.base.d[1] = 4;
    assert_int_equal(spec.confirm, 1);
    assert_int_equal(mdnmf_tau_auto_check(&spec, &error), MDNMF_OK);
    spec.confirm = 0;
    assert_int_equal(mdnmf_tau_auto_check(&spec, &error), MDNMF_OK);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mdnmf_tau_auto_default(&spec, 2);
        spec.base.d[0] = spec.base.d[1] = 4;
        spec.margin = cases[i].margin;
        spec.validation_fraction = cases[i].fraction;
        spec.pair_folds = cases[i].pair_folds;
        spec.confirm = cases[i].confirm;
        assert_int_equal(mdnmf_tau_auto_check(&spec, &error), MDNMF_ERR_ARGUMENT);
        assert_non_null(strstr(error.message, cases[i].field));
    }
}

static void test_run_refuses_missing_data(void **state)
{
    mdnmf_error error;
    (void)state;
    problem *p = make_problem();
    mdnmf_search_result result;
    mdnmf_model *model = new_model();

    mdnmf_search search = quick_search(MDNMF_MODE_STD, 1);
    search.folds = PAIRS + 1;
    assert_int_equal(mdnmf_search_run(model, &search, &p->data, &result, &error),
                     MDNMF_ERR_ARGUMENT);
    assert_non_null(strstr(error.message, "folds"));

    mdnmf_separation_data no_pairs = p->data;
    no_pairs.V_sup = NULL;
    search.folds = 2;
    assert_int_equal(mdnmf_search_run(model, &search, &no_pairs, &result, &error),
                     MDNMF_ERR_ARGUMENT);
    assert_non_null(strstr(error.message, "supervised pairs"));

    /* A mode that may be drawn but lacks its data is refused up front. */
    const double modes[] = {MDNMF_MODE_STD, MDNMF_MODE_SEMI};
    mdnmf_search_dimension mode = choice(MDNMF_SEARCH_MODE, 2, modes);
    search.dimensions = &mode;
    search.dimension_count = 1;
    trial_log log = {0};
    search.on_trial = record_trial;
    search.on_trial_user = &log;
    assert_int_equal(mdnmf_search_run(model, &search, &p->data, &result, &error),
                     MDNMF_ERR_ARGUMENT);
    assert_non_null(strstr(error.message, "mode semi needs mixtures"));
    assert_int_equal(log.count, 0);
    mdnmf_model_destroy(model);
}

/* ------------------------------------------------------------ draws */

static int run_logged(mdnmf_search *search, trial_log *log, mdnmf_search_result *result)
{
    log->count = 0;
    log->dimensions = search->dimension_count;
    search->on_trial = record_trial;
    search->on_trial_user = log;
    mdnmf_model *model = new_model();
    int status = mdnmf_search_run(model, search, &make_problem()->data, result, NULL);
    mdnmf_model_destroy(model);
    return status;
}

static void test_draws_follow_their_distributions(void **state)
{
    (void)state;
    enum { TRIALS = 200 };
    const double betas[] = {0.25, 0.5, 2.0};
    mdnmf_search_dimension dims[] = {
        uniform(MDNMF_SEARCH_TAU_A, -1, 0.05, 0.25),
        log_uniform(MDNMF_SEARCH_MU_H, 1e-6, 1e-2),
        uniform(MDNMF_SEARCH_D, 1, 2, 4),
        choice(MDNMF_SEARCH_BETA, 3, betas),
        log_uniform(MDNMF_SEARCH_EPOCHS, 1, 8),
    };
    /* exem trains nothing: 200 trials take no time. */
    mdnmf_search search = quick_search(MDNMF_MODE_EXEM, TRIALS);
    search.dimensions = dims;
    search.dimension_count = 5;
    static trial_log log;
    mdnmf_search_result result;
    assert_int_equal(run_logged(&search, &log, &result), MDNMF_OK);
    assert_int_equal(log.count, TRIALS);
    int below_geometric_mean = 0, atoms_seen[5] = {0}, betas_seen[3] = {0}, epochs_seen[9] = {0};
    for (int t = 0; t < TRIALS; t++) {
        const double *v = log.values[t];
        assert_int_equal(log.trials[t].trial, t);
        assert_true(v[0] >= 0.05 && v[0] < 0.25);
        assert_true(v[1] >= 1e-6 && v[1] <= 1e-2);
        below_geometric_mean += v[1] < 1e-4;
        assert_true(v[2] == floor(v[2]) && v[2] >= 2 && v[2] <= 4);
        atoms_seen[(int)v[2]]++;
        int hit = 0;
        for (int k = 0; k < 3; k++)
            if (v[3] == betas[k])
                betas_seen[k]++, hit = 1;
        assert_true(hit);
        assert_true(v[4] == floor(v[4]) && v[4] >= 1 && v[4] <= 8);
        epochs_seen[(int)v[4]]++;
    }
    /* Rounded to the nearest: both ends occur (8 from draws >= 7.5, about
     * 3 %; truncation would never give it). */
    assert_true(epochs_seen[1] > 0 && epochs_seen[8] > 0);
    /* Log-uniform: half the mass below the geometric mean (binomial,
     * 200 draws: 100 +- 7; a uniform draw would give about 2). */
    assert_in_range(below_geometric_mean, 70, 130);
    for (int a = 2; a <= 4; a++)
        assert_true(atoms_seen[a] > 40);
    for (int k = 0; k < 3; k++)
        assert_true(betas_seen[k] > 40);
}

static void test_same_seed_same_trials(void **state)
{
    (void)state;
    mdnmf_search_dimension dims[] = {uniform(MDNMF_SEARCH_TAU_A, -1, 0.05, 0.25),
                                     log_uniform(MDNMF_SEARCH_MU_H, 1e-6, 1e-2)};
    mdnmf_search search = quick_search(MDNMF_MODE_ADV, 4);
    search.dimensions = dims;
    search.dimension_count = 2;
    search.seed = 5;
    static trial_log first, again, other;
    mdnmf_search_result a, b, c;
    assert_int_equal(run_logged(&search, &first, &a), MDNMF_OK);
    assert_int_equal(run_logged(&search, &again, &b), MDNMF_OK);
    search.seed = 6;
    assert_int_equal(run_logged(&search, &other, &c), MDNMF_OK);
    int differs = 0;
    for (int t = 0; t < 4; t++) {
        assert_memory_equal(first.values[t], again.values[t], 2 * sizeof(double));
        assert_true(first.trials[t].score == again.trials[t].score);
        differs |= first.values[t][0] != other.values[t][0];
    }
    assert_true(differs);
    assert_int_equal(a.best_trial, b.best_trial);
}

/* ------------------------------------------------------------ scores */

static double column_psnr(const float *u, const float *e)
{
    double peak = 0.0, error = 0.0;
    for (int i = 0; i < M; i++) {
        peak = u[i] > peak ? u[i] : peak;
        error += ((double)u[i] - e[i]) * ((double)u[i] - e[i]);
    }
    return 20.0 * log10(peak / sqrt(error / M));
}

static double column_mse(const float *u, const float *e)
{
    double error = 0.0;
    for (int i = 0; i < M; i++)
        error += ((double)u[i] - e[i]) * ((double)u[i] - e[i]);
    return error / M;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(double *values, int n)
{
    qsort(values, (size_t)n, sizeof *values, by_value);
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

static double mean_of(const double *values, int n)
{
    double sum = 0.0;
    for (int j = 0; j < n; j++)
        sum += values[j];
    return sum / n;
}

/* Per pair j: separate V_sup[:, j] (alone, or all pairs at once) with a
 * separator fitted on `train`, and the mean over sources of the metric. */
/* p's data with the pairs lo..hi-1 held out (their indices in tested[],
 * *n_test of them): the training set of one fold.  The pairs are copied
 * into static buffers, valid until the next call. */
static mdnmf_separation_data pairs_outside(const problem *p, int lo, int hi, int *tested,
                                           int *n_test)
{
    static float U_train[S][M * PAIRS], V_train[M * PAIRS];
    int column = 0;
    *n_test = 0;
    for (int k = 0; k < PAIRS; k++) {
        if (k >= lo && k < hi) {
            tested[(*n_test)++] = k;
            continue;
        }
        memcpy(V_train + column * M, p->V_sup + k * M, M * sizeof(float));
        for (int s = 0; s < S; s++)
            memcpy(U_train[s] + column * M, p->U_sup[s] + k * M, M * sizeof(float));
        column++;
    }
    mdnmf_separation_data train = p->data;
    train.V_sup = V_train;
    train.n_sup = column;
    for (int s = 0; s < S; s++)
        train.U_sup[s] = U_train[s];
    return train;
}

static void score_pairs(const mdnmf_separator_params *p, const mdnmf_separation_data *train,
                        const int *pairs, int count, mdnmf_metric metric, double *out)
{
    problem *x = make_problem();
    mdnmf_model *model = new_model();
    assert_int_equal(mdnmf_separator_fit(model, p, train, NULL), MDNMF_OK);
    float V[M * PAIRS], E0[M * PAIRS], E1[M * PAIRS];
    float *estimates[S] = {E0, E1};
    for (int k = 0; k < count; k++)
        memcpy(V + k * M, x->V_sup + pairs[k] * M, M * sizeof(float));
    assert_int_equal(mdnmf_separate(model, V, M, count, 1, estimates, NULL), MDNMF_OK);
    for (int k = 0; k < count; k++) {
        double sum = 0.0;
        for (int s = 0; s < S; s++) {
            const float *u = x->U_sup[s] + pairs[k] * M, *e = estimates[s] + k * M;
            sum += metric == MDNMF_METRIC_PSNR ? column_psnr(u, e) : column_mse(u, e);
        }
        out[k] = sum / S;
    }
    mdnmf_model_destroy(model);
}

/* A mode that does not train on pairs: one fit on the clean data, scored on
 * every pair. */
static void test_score_of_a_weak_mode(void **state)
{
    (void)state;
    problem *p = make_problem();
    const int all[PAIRS] = {0, 1, 2, 3, 4, 5};
    const struct {
        mdnmf_metric metric;
        mdnmf_aggregate aggregate;
    } settings[] = {{MDNMF_METRIC_PSNR, MDNMF_AGGREGATE_MEDIAN},
                    {MDNMF_METRIC_PSNR, MDNMF_AGGREGATE_MEAN},
                    {MDNMF_METRIC_MSE, MDNMF_AGGREGATE_MEDIAN},
                    {MDNMF_METRIC_MSE, MDNMF_AGGREGATE_MEAN}};
    for (size_t i = 0; i < sizeof settings / sizeof *settings; i++) {
        mdnmf_search search = quick_search(MDNMF_MODE_STD, 1);
        search.metric = settings[i].metric;
        search.aggregate = settings[i].aggregate;
        mdnmf_model *model = new_model();
        mdnmf_search_result result;
        assert_int_equal(mdnmf_search_run(model, &search, &p->data, &result, NULL), MDNMF_OK);
        mdnmf_model_destroy(model);

        double per_pair[PAIRS];
        score_pairs(&search.base, &p->data, all, PAIRS, settings[i].metric, per_pair);
        double expected = settings[i].aggregate == MDNMF_AGGREGATE_MEAN
                              ? mean_of(per_pair, PAIRS)
                              : median_of(per_pair, PAIRS);
        assert_int_equal(result.best_trial, 0);
        assert_true(fabs(result.best_metric - expected) <= 1e-9 * fabs(expected));
        double score = settings[i].metric == MDNMF_METRIC_PSNR ? expected : -expected;
        assert_true(fabs(result.best_score - score) <= 1e-9 * fabs(score));
    }
}

/* DNMF trains on pairs: with k = number of pairs (leave one out) every pair
 * is separated by a fit on all the others, in their order. */
static void test_leave_one_out_score_of_dnmf(void **state)
{
    (void)state;
    problem *p = make_problem();
    mdnmf_search search = quick_search(MDNMF_MODE_SUP, 1);
    search.folds = PAIRS;
    mdnmf_model *model = new_model();
    mdnmf_search_result result;
    assert_int_equal(mdnmf_search_run(model, &search, &p->data, &result, NULL), MDNMF_OK);
    mdnmf_model_destroy(model);

    double per_pair[PAIRS];
    for (int j = 0; j < PAIRS; j++) {
        int tested, n_test;
        mdnmf_separation_data train = pairs_outside(p, j, j + 1, &tested, &n_test);
        score_pairs(&search.base, &train, &j, 1, MDNMF_METRIC_PSNR, &per_pair[j]);
    }
    double expected = median_of(per_pair, PAIRS);
    assert_true(fabs(result.best_metric - expected) <= 1e-9 * fabs(expected));
}

static void test_best_is_kept_and_refit_on_all_data(void **state)
{
    (void)state;
    problem *p = make_problem();
    mdnmf_search_dimension dims[] = {uniform(MDNMF_SEARCH_TAU_A, -1, 0.0, 0.3),
                                     uniform(MDNMF_SEARCH_D, -1, 2, 5)};
    mdnmf_search search = quick_search(MDNMF_MODE_ADV, 6);
    search.dimensions = dims;
    search.dimension_count = 2;
    search.refit = 1;
    static trial_log log;
    log.dimensions = 2;
    search.on_trial = record_trial;
    search.on_trial_user = &log;
    mdnmf_model *model = new_model();
    mdnmf_search_result result;
    assert_int_equal(mdnmf_search_run(model, &search, &p->data, &result, NULL), MDNMF_OK);

    int best = 0;
    for (int t = 1; t < log.count; t++)
        if (log.trials[t].score > log.trials[best].score)
            best = t;
    assert_int_equal(result.best_trial, best);
    assert_true(result.best_score == log.trials[best].score);
    assert_true(log.trials[best].best);
    assert_true(result.best.tau_A[0] == log.values[best][0]);
    assert_true(result.best.tau_A[1] == log.values[best][0]);
    assert_int_equal(result.best.d[1], (int64_t)log.values[best][1]);

    /* The model is the best parameters fitted on all data. */
    mdnmf_model *direct = new_model();
    assert_int_equal(mdnmf_separator_fit(direct, &result.best, &p->data, NULL), MDNMF_OK);
    int64_t m1, d1, m2, d2;
    mdnmf_model_shape(model, &m1, &d1);
    mdnmf_model_shape(direct, &m2, &d2);
    assert_int_equal(d1, d2);
    assert_memory_equal(mdnmf_model_basis(model), mdnmf_model_basis(direct),
                        (size_t)(m1 * d1) * sizeof(float));
    assert_non_null(mdnmf_model_separator_params(model));
    assert_int_equal(mdnmf_model_separator_params(model)->mode, MDNMF_MODE_ADV);
    mdnmf_model_destroy(direct);
    mdnmf_model_destroy(model);
}

/* extras->margin (mdnmf_tau_auto's choice): trial t replaces the best so
 * far b only when its median score is better and the mean over pairs of
 * score_t - score_b (PSNR, or -MSE) exceeds margin standard errors of those
 * differences; margin 0 is the best median.  Recomputed from per-pair
 * scores of separate fits. */
static int draw_from_grid(void *user, int trial, double *values)
{
    values[0] = ((const double *)user)[trial];
    return 0;
}

enum { GRID = 7 };

static double median_score(const double *per_pair, mdnmf_metric metric)
{
    double copy[PAIRS];
    memcpy(copy, per_pair, sizeof copy);
    return (metric == MDNMF_METRIC_PSNR ? 1.0 : -1.0) * median_of(copy, PAIRS);
}

static int margin_choice(double per_pair[GRID][PAIRS], mdnmf_metric metric, double margin)
{
    double sign = metric == MDNMF_METRIC_PSNR ? 1.0 : -1.0;
    int best = 0;
    for (int t = 1; t < GRID; t++) {
        if (!(median_score(per_pair[t], metric) > median_score(per_pair[best], metric)))
            continue;
        double gain[PAIRS], mean = 0.0, var = 0.0;
        for (int j = 0; j < PAIRS; j++)
            mean += (gain[j] = sign * (per_pair[t][j] - per_pair[best][j])) / PAIRS;
        for (int j = 0; j < PAIRS; j++)
            var += (gain[j] - mean) * (gain[j] - mean) / (PAIRS - 1);
        if (mean > margin * sqrt(var / PAIRS))
            best = t;
    }
    return best;
}

static int best_median(double per_pair[GRID][PAIRS], mdnmf_metric metric)
{
    int best = 0;
    double best_score = -INFINITY;
    for (int t = 0; t < GRID; t++) {
        double score = median_score(per_pair[t], metric);
        if (score > best_score)
            best = t, best_score = score;
    }
    return best;
}

static void test_margin_rule_needs_a_paired_gain(void **state)
{
    (void)state;
    problem *p = make_problem();
    const double grid[GRID] = {0.0, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6};
    const int all[PAIRS] = {0, 1, 2, 3, 4, 5};
    const double margins[] = {0.0, 0.5, 1.0, 2.0};
    int rules_differ = 0;
    for (int k = 0; k < 2; k++) {
        mdnmf_metric metric = k ? MDNMF_METRIC_MSE : MDNMF_METRIC_PSNR;
        mdnmf_search search = quick_search(MDNMF_MODE_ADV, GRID);
        mdnmf_search_dimension tau = choice(MDNMF_SEARCH_TAU_A, GRID, grid);
        search.dimensions = &tau;
        search.dimension_count = 1;
        search.draw = draw_from_grid;
        search.draw_user = (void *)grid;
        search.metric = metric;
        double per_pair[GRID][PAIRS];
        for (int t = 0; t < GRID; t++) {
            mdnmf_separator_params params = search.base;
            params.tau_A[0] = params.tau_A[1] = grid[t];
            score_pairs(&params, &p->data, all, PAIRS, metric, per_pair[t]);
        }
        for (size_t i = 0; i < sizeof margins / sizeof *margins; i++) {
            search_extras extras = {.margin = margins[i]};
            mdnmf_model *model = new_model();
            mdnmf_search_result result;
            assert_int_equal(search_run_with(model, &search, &p->data, &result, &extras),
                             MDNMF_OK);
            mdnmf_model_destroy(model);
            int expected = margins[i] > 0.0 ? margin_choice(per_pair, metric, margins[i])
                                            : best_median(per_pair, metric);
            assert_int_equal(result.best_trial, expected);
            rules_differ |= expected != best_median(per_pair, metric);
        }
    }
    assert_true(rules_differ); /* the problem tells the rules apart */
}

/* ------------------------------------------------------------ failures */

static void test_failed_trials_are_recorded(void **state)
{
    mdnmf_error error;
    (void)state;
    /* Exemplar init needs d <= samples: d = 50 cannot start. */
    const double atoms[] = {2, 50};
    mdnmf_search_dimension dim = choice(MDNMF_SEARCH_D, 2, atoms);
    mdnmf_search search = quick_search(MDNMF_MODE_STD, 12);
    search.dimensions = &dim;
    search.dimension_count = 1;
    static trial_log log;
    mdnmf_search_result result;
    assert_int_equal(run_logged(&search, &log, &result), MDNMF_OK);
    assert_int_equal(log.count, 12);
    int failed = 0;
    for (int t = 0; t < log.count; t++) {
        int big = log.values[t][0] == 50;
        failed += big;
        assert_int_equal(log.trials[t].status, big ? MDNMF_ERR_SHAPE : MDNMF_OK);
        assert_true(big ? isinf(log.trials[t].score) && log.trials[t].score < 0
                        : isfinite(log.trials[t].score));
        assert_true(big ? isnan(log.trials[t].metric) : !isnan(log.trials[t].metric));
        assert_false(big && log.trials[t].best);
    }
    assert_true(failed > 0 && failed < 12);
    assert_int_equal(result.failed_trials, failed);
    assert_int_equal(result.best.d[0], 2);

    /* Nothing can start: the search fails with the trials' reason. */
    dim = choice(MDNMF_SEARCH_D, 1, atoms + 1);
    search.trials = 3;
    mdnmf_model *model = new_model();
    assert_int_equal(mdnmf_search_run(model, &search, &make_problem()->data, &result, &error),
                     MDNMF_ERR_SHAPE);
    assert_non_null(strstr(error.message, "every trial failed"));
    assert_non_null(strstr(error.message, "50"));
    mdnmf_model_destroy(model);
}

static void test_callback_stops_the_search(void **state)
{
    (void)state;
    mdnmf_search_dimension dim = uniform(MDNMF_SEARCH_TAU_A, -1, 0.05, 0.25);
    mdnmf_search search = quick_search(MDNMF_MODE_EXEM, 10);
    search.dimensions = &dim;
    search.dimension_count = 1;
    search.refit = 1;
    static trial_log log;
    log.stop_after = 3;
    mdnmf_search_result result;
    mdnmf_model *model = new_model();
    log.count = 0;
    log.dimensions = 1;
    search.on_trial = record_trial;
    search.on_trial_user = &log;
    assert_int_equal(mdnmf_search_run(model, &search, &make_problem()->data, &result, NULL),
                     MDNMF_ERR_CANCELLED);
    assert_int_equal(log.count, 3);
    /* No refit after a stop: the model has no basis. */
    assert_null(mdnmf_model_basis(model));
    mdnmf_model_destroy(model);
    assert_int_equal(mdnmf_search_run(NULL, &search, &make_problem()->data, &result, NULL),
                     MDNMF_ERR_ARGUMENT);
}

/* ------------------------------------------------------------ given start */

/* The bases every warm-started trial starts from: NMF on the clean data
 * (deterministic, so each call gives the same model). */
static mdnmf_model *start_model(void)
{
    problem *x = make_problem();
    mdnmf_separator_params p;
    mdnmf_separator_params_default(&p, S);
    p.d[0] = p.d[1] = 3;
    p.common.epochs = 4;
    p.common.test_epochs = 10;
    p.common.threads = 1;
    mdnmf_model *model = new_model();
    assert_int_equal(mdnmf_separator_fit(model, &p, &x->data, NULL), MDNMF_OK);
    return model;
}

typedef struct fixed_draws {
    double values[2];
    int calls;
} fixed_draws;

static int give_fixed_values(void *user, int trial, double *values)
{
    fixed_draws *draws = user;
    (void)trial;
    memcpy(values, draws->values, sizeof draws->values);
    draws->calls++;
    return 0;
}

/* The data-poor protocol of the paper's image experiment: values from the
 * caller, every fit warm-started from given bases, fold f the pairs
 * [f n/k, (f+1) n/k) in order, and the metric the mean over folds of each
 * fold's median.  Recomputed here fold by fold from separate fits. */
static void test_warm_started_trials_with_contiguous_folds(void **state)
{
    (void)state;
    problem *x = make_problem();
    mdnmf_model *start = start_model();
    const double epochs_values[] = {2, 3, 4};
    mdnmf_search_dimension dims[2] = {choice(MDNMF_SEARCH_EPOCHS, 3, epochs_values),
                                      log_uniform(MDNMF_SEARCH_MU_H, 1e-6, 1e-2)};
    fixed_draws draws = {{3, 1e-3}, 0};
    mdnmf_search search = quick_search(MDNMF_MODE_SUP, 2);
    search.dimensions = dims;
    search.dimension_count = 2;
    search.start = start;
    search.contiguous_folds = 1;
    search.score_per_fold = 1;
    search.draw = give_fixed_values;
    search.draw_user = &draws;
    trial_log log = {.dimensions = 2};
    search.on_trial = record_trial;
    search.on_trial_user = &log;
    mdnmf_model *model = new_model();
    mdnmf_search_result result;
    assert_int_equal(mdnmf_search_run(model, &search, &x->data, &result, NULL), MDNMF_OK);
    mdnmf_model_destroy(model);
    assert_int_equal(draws.calls, 2);
    assert_int_equal(log.count, 2);
    assert_true(log.values[0][0] == 3 && log.values[1][1] == 1e-3);

    mdnmf_separator_params p = search.base;
    p.common.epochs = 3;
    p.mu_H[0] = p.mu_H[1] = 1e-3;
    p.common.warm_start = 1;
    double sum = 0.0;
    for (int f = 0; f < search.folds; f++) {
        int lo = PAIRS * f / search.folds, hi = PAIRS * (f + 1) / search.folds;
        int tested[PAIRS], n_test;
        mdnmf_separation_data train = pairs_outside(x, lo, hi, tested, &n_test);
        mdnmf_model *fitted = start_model();
        assert_int_equal(mdnmf_separator_fit(fitted, &p, &train, NULL), MDNMF_OK);
        float V[M * PAIRS], E0[M * PAIRS], E1[M * PAIRS];
        float *estimates[S] = {E0, E1};
        for (int k = 0; k < n_test; k++)
            memcpy(V + k * M, x->V_sup + tested[k] * M, M * sizeof(float));
        assert_int_equal(mdnmf_separate(fitted, V, M, n_test, 1, estimates, NULL), MDNMF_OK);
        mdnmf_model_destroy(fitted);
        double per_pair[PAIRS];
        for (int k = 0; k < n_test; k++)
            per_pair[k] = 0.5 * (column_psnr(x->U_sup[0] + tested[k] * M, E0 + k * M) +
                                 column_psnr(x->U_sup[1] + tested[k] * M, E1 + k * M));
        sum += median_of(per_pair, n_test);
    }
    double expected = sum / search.folds;
    assert_true(fabs(result.best_metric - expected) <= 1e-9 * fabs(expected));
    mdnmf_model_destroy(start);
}

/* A start whose atoms differ from base.d, a d dimension with a start, and
 * a value from the caller the dimension cannot take are refused. */
static void test_given_start_and_values_are_checked(void **state)
{
    (void)state;
    problem *x = make_problem();
    mdnmf_model *start = start_model();
    mdnmf_model *model = new_model();
    mdnmf_search_result result;
    mdnmf_search search = quick_search(MDNMF_MODE_ADV, 1);
    search.start = start;
    search.base.d[1] = 4;
    mdnmf_error error;
    assert_int_equal(mdnmf_search_run(model, &search, &x->data, &result, &error),
                     MDNMF_ERR_SHAPE);
    assert_int_equal(error.status, MDNMF_ERR_SHAPE);
    assert_non_null(strstr(error.message, "start"));

    mdnmf_search_dimension atoms = uniform(MDNMF_SEARCH_D, -1, 2, 3);
    search = quick_search(MDNMF_MODE_ADV, 1);
    search.start = start;
    search.dimensions = &atoms;
    search.dimension_count = 1;
    assert_int_equal(mdnmf_search_run(model, &search, &x->data, &result, &error),
                     MDNMF_ERR_ARGUMENT);

    const double epochs_values[] = {2, 3};
    mdnmf_search_dimension epochs = choice(MDNMF_SEARCH_EPOCHS, 2, epochs_values);
    fixed_draws draws = {{2.5, 0}, 0};
    search = quick_search(MDNMF_MODE_STD, 1);
    search.dimensions = &epochs;
    search.dimension_count = 1;
    search.draw = give_fixed_values;
    search.draw_user = &draws;
    assert_int_equal(mdnmf_search_run(model, &search, &x->data, &result, &error),
                     MDNMF_ERR_ARGUMENT);
    assert_non_null(strstr(error.message, "epochs: 2.5"));
    mdnmf_model_destroy(model);
    mdnmf_model_destroy(start);
}

/* Enum parameters name their values as the library's name tables do;
 * the others, and values outside the table, have no name. */
static void test_search_value_names(void **state)
{
    (void)state;
    assert_string_equal(mdnmf_search_value_name(MDNMF_SEARCH_MODE, MDNMF_MODE_SEMI_ADV),
                        mdnmf_mode_names[MDNMF_MODE_SEMI_ADV]);
    assert_string_equal(mdnmf_search_value_name(MDNMF_SEARCH_INIT, 1), "random");
    assert_string_equal(mdnmf_search_value_name(MDNMF_SEARCH_TRUE_SAMPLE, 2), "min");
    assert_null(mdnmf_search_value_name(MDNMF_SEARCH_TAU_A, 0));
    assert_null(mdnmf_search_value_name(MDNMF_SEARCH_MODE, MDNMF_MODE_SEMI_ADV + 1));
    assert_null(mdnmf_search_value_name(MDNMF_SEARCH_INIT, -1));
    assert_null(mdnmf_search_value_name(MDNMF_SEARCH_INIT, 0.5));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parameter_names_round_trip),
        cmocka_unit_test(test_spec_gives_dimensions_in_order),
        cmocka_unit_test(test_bad_specs_are_named),
        cmocka_unit_test(test_warm_started_trials_with_contiguous_folds),
        cmocka_unit_test(test_given_start_and_values_are_checked),
        cmocka_unit_test(test_check_names_the_bad_dimension),
        cmocka_unit_test(test_check_search_settings),
        cmocka_unit_test(test_tau_auto_settings_are_checked),
        cmocka_unit_test(test_run_refuses_missing_data),
        cmocka_unit_test(test_draws_follow_their_distributions),
        cmocka_unit_test(test_same_seed_same_trials),
        cmocka_unit_test(test_score_of_a_weak_mode),
        cmocka_unit_test(test_leave_one_out_score_of_dnmf),
        cmocka_unit_test(test_best_is_kept_and_refit_on_all_data),
        cmocka_unit_test(test_margin_rule_needs_a_paired_gain),
        cmocka_unit_test(test_failed_trials_are_recorded),
        cmocka_unit_test(test_callback_stops_the_search),
        cmocka_unit_test(test_search_value_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
