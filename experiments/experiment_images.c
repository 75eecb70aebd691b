/* The computations of `mdnmf experiment images` (see experiment.h): seeded
 * disjoint splits (SPEC §8), the separators of each part fitted through the
 * library, and their scores (SPEC §9).
 *
 * The work is cut into jobs, one per (part, seed, d) or (poor, seed, other
 * class), that run on worker threads.  Every fit uses one BLAS thread and
 * depends only on its data, parameters and seed, so the results do not
 * depend on how many workers run them. */
#define _POSIX_C_SOURCE 200809L

#include "experiment.h"

#include "options.h"
#include "progress.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const exp_method_names[METHOD_COUNT] = {"NMF", "MDNMF", "DNMF", "ENMF", "D+MDNMF"};
const exp_method exp_rich_methods[RICH_METHODS] = {METHOD_NMF, METHOD_MDNMF, METHOD_DNMF,
                                                   METHOD_ENMF};
const exp_method exp_poor_methods[POOR_METHODS] = {METHOD_NMF, METHOD_MDNMF, METHOD_DNMF,
                                                   METHOD_DMDNMF};

static const char *const COMMAND = "experiment images";

/* ------------------------------------------------------------ scores */

void exp_score_fail(exp_score *score, const char *what, const char *why)
{
    score->ok = 0;
    score->median = score->mean = NAN;
    snprintf(score->message, sizeof score->message, "%.40s: %.200s", what, why);
}

int exp_evaluate(mdnmf_model *model, int64_t m, const float *mixtures,
                 const float *const *truth, int64_t n, exp_score *score, int keep,
                 float *const *kept, double *kept_psnr, mdnmf_error *error)
{
    float *estimates[2] = {malloc((size_t)(m * n) * sizeof(float)),
                           malloc((size_t)(m * n) * sizeof(float))};
    double *psnr[2] = {malloc((size_t)n * sizeof(double)), malloc((size_t)n * sizeof(double))};
    int status = estimates[0] && estimates[1] && psnr[0] && psnr[1] ? MDNMF_OK
                                                                    : MDNMF_ERR_MEMORY;
    if (status) {
        snprintf(error->message, sizeof error->message, "out of memory");
        error->status = status;
    }
    if (!status) {
        status = mdnmf_separate(model, mixtures, m, n, 1, estimates, error);
    }
    for (int s = 0; s < 2 && !status; s++) {
        status = mdnmf_psnr(truth[s], estimates[s], m, n, psnr[s], error);
    }
    /* A mixture's score: the mean PSNR over the two sources; the run's, the
     * median over mixtures (and the mean over the finite ones). */
    for (int64_t j = 0; !status && j < n; j++) {
        psnr[0][j] = 0.5 * (psnr[0][j] + psnr[1][j]);
    }
    if (!status) {
        status = mdnmf_aggregate_values(psnr[0], n, MDNMF_AGGREGATE_MEDIAN, &score->median, error);
    }
    if (!status) {
        status = mdnmf_aggregate_finite(psnr[0], n, MDNMF_AGGREGATE_MEAN, &score->mean, NULL,
                                        error);
    }
    if (!status) {
        for (int k = 0; k < keep && k < n; k++) {
            for (int s = 0; s < 2; s++) {
                memcpy(kept[s] + (int64_t)k * m, estimates[s] + (int64_t)k * m,
                       (size_t)m * sizeof(float));
                double one;
                mdnmf_psnr(truth[s] + (int64_t)k * m, estimates[s] + (int64_t)k * m, m, 1, &one,
                           NULL);
                kept_psnr[2 * k + s] = one;
            }
        }
        score->ok = 1;
        score->message[0] = '\0';
    }
    free(estimates[0]), free(estimates[1]), free(psnr[0]), free(psnr[1]);
    return status;
}

/* ------------------------------------------------------------ model copies */

mdnmf_model *exp_load_model(const char *path, char *message, size_t size)
{
    mdnmf_error error;
    mdnmf_model *model = mdnmf_model_load(path, &error);
    if (!model) {
        snprintf(message, size, "%s", error.message);
    }
    return model;
}

mdnmf_model *exp_clone_model(mdnmf_model *model, const char *path, char *message, size_t size)
{
    mdnmf_error error;
    if (mdnmf_model_save(model, path, &error) != MDNMF_OK) {
        snprintf(message, size, "%s", error.message);
        return NULL;
    }
    mdnmf_model *copy = exp_load_model(path, message, size);
    remove(path);
    return copy;
}

/* ------------------------------------------------------------ splits */

/* The seed of a split: distinct for every (run seed, class, purpose), so
 * no two shuffles share a permutation. */
static uint64_t split_seed(uint64_t seed, int label, int purpose)
{
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + (uint64_t)(label + 1) * 0xBF58476D1CE4E5B9ull +
                 (uint64_t)(purpose + 1) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return z;
}

/* Images of one class for a seed: `counts[k]` images for each purpose k,
 * all distinct.  Purposes before `test_part` come from the training pool,
 * the rest from the test pool (or, when the class has one pool, from the
 * same permutation after the training images).  out[k] is m x counts[k]. */
static int draw_images(const exp_class *c, uint64_t seed, int purpose_salt,
                       const int64_t *counts, int parts, int test_part, float **out,
                       char *message, size_t size)
{
    int64_t m = c->train.m, need_train = 0, need_test = 0;
    for (int k = 0; k < parts; k++) {
        *(k < test_part ? &need_train : &need_test) += counts[k];
    }
    int shared = c->test.data == NULL;
    int64_t train_pool = c->train.n, test_pool = shared ? 0 : c->test.n;
    if (shared ? need_train + need_test > train_pool
               : need_train > train_pool || need_test > test_pool) {
        snprintf(message, size,
                 "class %d has %lld images%s; this split needs %lld%s (use smaller sizes)",
                 c->label, (long long)train_pool, shared ? "" : " to train from",
                 (long long)(shared ? need_train + need_test : need_train),
                 shared ? "" : " (or too few test images)");
        return -1;
    }
    int64_t *train_perm = malloc((size_t)train_pool * sizeof *train_perm);
    int64_t *test_perm = shared ? NULL : malloc((size_t)test_pool * sizeof *test_perm);
    int failed = !train_perm || (!shared && !test_perm);
    if (!failed) {
        mdnmf_shuffle_indices(train_perm, train_pool, split_seed(seed, c->label, purpose_salt),
                              NULL);
        if (!shared) {
            mdnmf_shuffle_indices(test_perm, test_pool,
                                  split_seed(seed, c->label, purpose_salt + 1), NULL);
        }
    }
    int64_t train_next = 0, test_next = 0;
    for (int k = 0; k < parts && !failed; k++) {
        out[k] = malloc((size_t)(m * (counts[k] > 0 ? counts[k] : 1)) * sizeof(float));
        failed = !out[k];
        int from_test = k >= test_part && !shared;
        const float *pool = from_test ? c->test.data : c->train.data;
        for (int64_t j = 0; j < counts[k] && !failed; j++) {
            int64_t index = from_test ? test_perm[test_next++] : train_perm[train_next++];
            memcpy(out[k] + j * m, pool + index * m, (size_t)m * sizeof(float));
        }
    }
    free(train_perm), free(test_perm);
    if (failed) {
        snprintf(message, size, "out of memory for the images of class %d", c->label);
    }
    return failed ? -1 : 0;
}

/* Pairs of two classes' images: equal weights 1/2 (SPEC §8); the targets
 * are the weighted images. */
typedef struct mixed_set {
    int64_t n;
    float *truth[2];
    float *mix;
} mixed_set;

static void mixed_set_free(mixed_set *set)
{
    free(set->truth[0]), free(set->truth[1]), free(set->mix);
    memset(set, 0, sizeof *set);
}

static int mix_pairs(const float *a, const float *b, int64_t m, int64_t n, mixed_set *out,
                     char *message, size_t size)
{
    size_t bytes = (size_t)(m * (n > 0 ? n : 1)) * sizeof(float);
    out->n = n;
    out->truth[0] = malloc(bytes), out->truth[1] = malloc(bytes), out->mix = malloc(bytes);
    if (!out->truth[0] || !out->truth[1] || !out->mix) {
        snprintf(message, size, "out of memory for mixtures");
        return -1;
    }
    const float *sources[2] = {a, b};
    mdnmf_error error;
    if (mdnmf_mix(sources, 2, m, n, 0.0, 0, out->mix, out->truth, NULL, &error) != 0) {
        snprintf(message, size, "%s", error.message);
        return -1;
    }
    return 0;
}

/* Clean images weighted like a source in a mixture (1/2), in place. */
static void weigh(float *images, int64_t count)
{
    for (int64_t i = 0; i < count; i++) {
        images[i] *= 0.5f;
    }
}

/* Rich and tau parts, one seed: training pairs (their targets are the
 * clean training data, their mixtures the mixed data) and test mixtures. */
typedef struct rich_sets {
    mixed_set train, test;
} rich_sets;

static int make_rich_sets(const exp_config *c, const exp_class *classes, uint64_t seed,
                          rich_sets *out, char *message, size_t size)
{
    const exp_class *pair[2] = {&classes[c->class_a], &classes[c->class_b]};
    int64_t counts[2] = {c->n_train, c->n_test};
    float *images[2][2] = {{NULL, NULL}, {NULL, NULL}};
    int status = 0;
    for (int s = 0; s < 2 && !status; s++) {
        status = draw_images(pair[s], seed, 0, counts, 2, 1, images[s], message, size);
    }
    int64_t m = pair[0]->train.m;
    if (!status) {
        status = mix_pairs(images[0][0], images[1][0], m, c->n_train, &out->train, message,
                           size);
    }
    if (!status) {
        status = mix_pairs(images[0][1], images[1][1], m, c->n_test, &out->test, message, size);
    }
    for (int s = 0; s < 2; s++) {
        free(images[s][0]), free(images[s][1]);
    }
    return status;
}

/* Poor part, one seed and one other class: weak clean sets, pairs, test. */
typedef struct poor_sets {
    float *weak[2];
    mixed_set pairs, test;
    int64_t n_test;
} poor_sets;

static void poor_sets_free(poor_sets *p)
{
    free(p->weak[0]), free(p->weak[1]);
    mixed_set_free(&p->pairs);
    mixed_set_free(&p->test);
}

/* How many test mixtures the pair (anchor, other) can have: the wanted
 * number, or fewer when a class with one pool runs short. */
static int64_t poor_test_count(const exp_config *c, const exp_class *a, const exp_class *b)
{
    int64_t n = c->poor_test;
    const exp_class *pair[2] = {a, b};
    for (int s = 0; s < 2; s++) {
        int64_t left = pair[s]->test.data ? pair[s]->test.n
                                          : pair[s]->train.n - c->poor_weak - c->poor_sup;
        if (left < n) {
            n = left;
        }
    }
    return n;
}

static int make_poor_sets(const exp_config *c, const exp_class *classes, int other,
                          uint64_t seed, poor_sets *out, char *message, size_t size)
{
    const exp_class *pair[2] = {&classes[c->anchor], &classes[other]};
    out->n_test = poor_test_count(c, pair[0], pair[1]);
    if (out->n_test < 1) {
        snprintf(message, size, "classes %d and %d have no images left to test on after %lld "
                 "weak and %lld paired ones", c->anchor, other, (long long)c->poor_weak,
                 (long long)c->poor_sup);
        return -1;
    }
    int64_t counts[3] = {c->poor_weak, c->poor_sup, out->n_test};
    float *images[2][3] = {{NULL}};
    int status = 0;
    for (int s = 0; s < 2 && !status; s++) {
        /* The salt keeps the anchor's split of each pair its own. */
        status = draw_images(pair[s], seed, 16 + 4 * other, counts, 3, 2, images[s], message,
                             size);
    }
    int64_t m = pair[0]->train.m;
    if (!status) {
        status = mix_pairs(images[0][1], images[1][1], m, c->poor_sup, &out->pairs, message,
                           size);
    }
    if (!status) {
        status = mix_pairs(images[0][2], images[1][2], m, out->n_test, &out->test, message,
                           size);
    }
    for (int s = 0; s < 2; s++) {
        out->weak[s] = images[s][0];
        images[s][0] = NULL;
        if (out->weak[s]) {
            weigh(out->weak[s], m * c->poor_weak);
        }
        free(images[s][1]), free(images[s][2]);
    }
    return status;
}

/* ------------------------------------------------------------ examples */

static int examples_alloc(exp_examples *e, int count, int columns, int64_t m)
{
    e->count = count, e->columns = columns;
    e->mixture = calloc((size_t)(count * m), sizeof(float));
    e->truth = calloc((size_t)(count * 2 * m), sizeof(float));
    e->estimate = calloc((size_t)(count * columns * 2 * m), sizeof(float));
    e->psnr = calloc((size_t)(count * columns * 2), sizeof(double));
    return e->mixture && e->truth && e->estimate && e->psnr ? 0 : -1;
}

static void examples_free(exp_examples *e)
{
    free(e->mixture), free(e->truth), free(e->estimate), free(e->psnr);
    memset(e, 0, sizeof *e);
}

/* Copy mixtures first..first+count-1 of a set and their truths into rows
 * row..row+count-1. */
static void examples_keep_truth(exp_examples *e, const mixed_set *set, int64_t m, int row,
                                int count)
{
    for (int k = 0; k < count; k++) {
        memcpy(e->mixture + (row + k) * m, set->mix + k * m, (size_t)m * sizeof(float));
        for (int s = 0; s < 2; s++) {
            memcpy(e->truth + ((row + k) * 2 + s) * m, set->truth[s] + k * m,
                   (size_t)m * sizeof(float));
        }
    }
}

/* Evaluate `model` on `test`, keeping `keep` examples from row `row` in
 * column `column` of `e` (keep = 0: none). */
static int evaluate_keeping(mdnmf_model *model, int64_t m, const mixed_set *test,
                            exp_score *score, exp_examples *e, int row, int column, int keep,
                            mdnmf_error *error)
{
    float *kept[2] = {NULL, NULL};
    double psnr[2 * EXP_EXAMPLES];
    if (keep > 0) {
        kept[0] = malloc((size_t)(keep * m) * sizeof(float));
        kept[1] = malloc((size_t)(keep * m) * sizeof(float));
        if (!kept[0] || !kept[1]) {
            free(kept[0]), free(kept[1]);
            snprintf(error->message, sizeof error->message, "out of memory");
            return error->status = MDNMF_ERR_MEMORY;
        }
    }
    const float *truth[2] = {test->truth[0], test->truth[1]};
    int status =
        exp_evaluate(model, m, test->mix, truth, test->n, score, keep, kept, psnr, error);
    for (int k = 0; k < keep && !status; k++) {
        for (int s = 0; s < 2; s++) {
            int64_t cell = ((int64_t)(row + k) * e->columns + column) * 2 + s;
            memcpy(e->estimate + cell * m, kept[s] + k * m, (size_t)m * sizeof(float));
            e->psnr[cell] = psnr[2 * k + s];
        }
    }
    free(kept[0]), free(kept[1]);
    return status;
}

/* ------------------------------------------------------------ rich, tau */

static void base_params(const exp_config *c, int d, uint64_t seed, mdnmf_separator_params *p)
{
    *p = c->base;
    p->d[0] = p->d[1] = d;
    p->common.seed = seed;
    p->common.threads = 1;
    p->common.warm_start = 0;
}

/* Fit `p` on `model` and score it; a failed fit is recorded in `score`
 * (a diverged MDNMF is a result, not an error of the run). */
static int fit_and_score(mdnmf_model *model, const mdnmf_separator_params *p,
                         const mdnmf_separation_data *x, int64_t m, const mixed_set *test,
                         exp_score *score, exp_examples *e, int column, int keep)
{
    mdnmf_error error;
    int status = mdnmf_separator_fit(model, p, x, &error);
    if (status == MDNMF_ERR_MEMORY) {
        return status;
    }
    if (status) {
        exp_score_fail(score, mdnmf_strerror(status), error.message);
        return MDNMF_OK;
    }
    status = evaluate_keeping(model, m, test, score, e, 0, column, keep, &error);
    if (status && status != MDNMF_ERR_MEMORY) {
        exp_score_fail(score, mdnmf_strerror(status), error.message);
        status = MDNMF_OK;
    }
    return status;
}

/* The data of the rich and tau parts: clean = the training targets, mixed
 * data = their mixtures (SPEC §4's V), pairs = the same (DNMF). */
static mdnmf_separation_data rich_data(const rich_sets *sets, int64_t m)
{
    mdnmf_separation_data x;
    memset(&x, 0, sizeof x);
    x.m = m;
    for (int s = 0; s < 2; s++) {
        x.U[s] = sets->train.truth[s];
        x.n[s] = sets->train.n;
        x.U_sup[s] = sets->train.truth[s];
    }
    x.V = sets->train.mix;
    x.n_V = sets->train.n;
    x.V_sup = sets->train.mix;
    x.n_sup = sets->train.n;
    return x;
}

typedef struct worker {
    int id;
    char clone_path[1024];
    char warm_path[1024];
    char message[512];
} worker;

/* A model with the default parameters and d atoms, to be fitted; NULL if
 * out of memory. */
static mdnmf_model *empty_model(int d)
{
    mdnmf_params defaults;
    mdnmf_params_default(&defaults);
    defaults.d = d;
    return mdnmf_model_create(&defaults, NULL);
}

/* --tau-a auto: the seed's training pairs split into pairs to fit on and
 * validation pairs (the same split for every d of the seed; the test
 * mixtures are never looked at). */
typedef struct validation_split {
    float *truth[2], *mix;         /* the pairs fitted on */
    float *val_truth[2], *val_mix; /* the validation pairs */
    int64_t n, n_val;
} validation_split;

static void validation_split_free(validation_split *v)
{
    for (int s = 0; s < 2; s++)
        free(v->truth[s]), free(v->val_truth[s]);
    free(v->mix), free(v->val_mix);
}

static void copy_column(float *to, int64_t at, const float *from, int64_t column, int64_t m)
{
    memcpy(to + at * m, from + column * m, (size_t)m * sizeof(float));
}

/* The first floor(fraction n) (at least 2) pairs of a seeded permutation
 * validate; the others, in their order, are fitted on. */
static int split_validation(const exp_config *c, const mixed_set *train, int64_t m, int seed,
                            validation_split *out, char *message, size_t size)
{
    int64_t n = train->n, k = (int64_t)floor(c->validation_fraction * (double)n);
    k = k < 2 ? 2 : k;
    memset(out, 0, sizeof *out);
    if (k >= n) {
        snprintf(message, size, "--tau-a auto: %lld training pairs are too few to hold out "
                 "%lld for validation", (long long)n, (long long)k);
        return -1;
    }
    out->n = n - k, out->n_val = k;
    int64_t *perm = malloc((size_t)n * sizeof *perm);
    char *held = calloc((size_t)n, 1);
    int failed = !perm || !held || !(out->mix = malloc((size_t)(m * out->n) * sizeof(float))) ||
                 !(out->val_mix = malloc((size_t)(m * k) * sizeof(float)));
    for (int s = 0; s < 2 && !failed; s++)
        failed = !(out->truth[s] = malloc((size_t)(m * out->n) * sizeof(float))) ||
                 !(out->val_truth[s] = malloc((size_t)(m * k) * sizeof(float)));
    if (failed) {
        free(perm), free(held);
        snprintf(message, size, "out of memory for the validation split");
        return -1;
    }
    uint64_t split = split_seed(c->seed + (uint64_t)seed, c->class_a, 60 + c->class_b);
    mdnmf_shuffle_indices(perm, n, split, NULL);
    for (int64_t j = 0; j < k; j++) {
        held[perm[j]] = 1;
        copy_column(out->val_mix, j, train->mix, perm[j], m);
        for (int s = 0; s < 2; s++)
            copy_column(out->val_truth[s], j, train->truth[s], perm[j], m);
    }
    for (int64_t j = 0, at = 0; j < n; j++) {
        if (held[j])
            continue;
        copy_column(out->mix, at, train->mix, j, m);
        for (int s = 0; s < 2; s++)
            copy_column(out->truth[s], at, train->truth[s], j, m);
        at++;
    }
    free(perm), free(held);
    return 0;
}

/* tau_A of MDNMF chosen on the validation pairs: NMF and every grid value
 * fitted on the other training pairs, as the rich part fits them on all
 * (clean = the pairs' targets, mixed data = their mixtures). */
static int choose_tau(const exp_config *c, const rich_sets *sets, int64_t m, int seed,
                      const mdnmf_separator_params *p, mdnmf_tau_auto_result *result,
                      char *message, size_t size)
{
    validation_split v;
    memset(&v, 0, sizeof v);
    mdnmf_separation_data x;
    memset(&x, 0, sizeof x);
    x.m = m;
    if (c->tau_folds > 1) { /* the library folds the training pairs */
        for (int s = 0; s < 2; s++)
            x.U[s] = sets->train.truth[s], x.n[s] = sets->train.n;
        x.V = sets->train.mix, x.n_V = sets->train.n;
    } else {
        if (split_validation(c, &sets->train, m, seed, &v, message, size) != 0) {
            validation_split_free(&v);
            return -1;
        }
        for (int s = 0; s < 2; s++) {
            x.U[s] = v.truth[s], x.n[s] = v.n;
            x.U_sup[s] = v.val_truth[s];
        }
        x.V = v.mix, x.n_V = v.n;
        x.V_sup = v.val_mix, x.n_sup = v.n_val;
    }
    mdnmf_tau_auto spec;
    mdnmf_tau_auto_default(&spec, 2);
    spec.base = *p;
    spec.base.mode = MDNMF_MODE_ADV;
    spec.base.common.warm_start = 0;
    spec.grid = c->tau_grid_count ? c->tau_grid : NULL;
    spec.grid_count = c->tau_grid_count;
    spec.seed = p->common.seed;
    spec.margin = c->tau_margin;
    spec.confirm = c->tau_confirm;
    if (c->tau_folds > 1) { /* folds drawn per seed, as the hold-out's split is */
        spec.pair_folds = c->tau_folds;
        spec.seed = split_seed(c->seed + (uint64_t)seed, c->class_a, 60 + c->class_b);
    }
    mdnmf_model *scratch = empty_model(p->d[0]);
    mdnmf_error error;
    int status = scratch ? mdnmf_tau_auto_run(scratch, &spec, &x, result, &error)
                         : MDNMF_ERR_MEMORY;
    if (status)
        snprintf(message, size, "%s", scratch ? error.message : "out of memory");
    mdnmf_model_destroy(scratch);
    validation_split_free(&v);
    return status;
}

/* --tau-a auto's confirmation of the rich part's own refit `mdnmf` against
 * its NMF (mdnmf_tau_auto_confirm on every training pair).  *keep = 0
 * rejects the refit, noted in the seed's choice. */
static int confirm_refit(const exp_config *c, const rich_sets *sets, int64_t m,
                         mdnmf_model *nmf, mdnmf_model *mdnmf, mdnmf_tau_auto_result *choice,
                         int *keep, mdnmf_error *error)
{
    *keep = 1;
    if (!c->tau_confirm)
        return MDNMF_OK;
    mdnmf_tau_auto spec;
    mdnmf_tau_auto_default(&spec, 2);
    const float *truth[2] = {sets->train.truth[0], sets->train.truth[1]};
    int status = mdnmf_tau_auto_confirm(nmf, mdnmf, &spec, truth, sets->train.mix, m,
                                        sets->train.n, choice->confirm_metric, keep, error);
    if (!status && !*keep) {
        choice->rejected_tau_A = choice->chosen_tau_A;
        choice->chosen = 0;
        choice->chosen_tau_A = 0.0;
    }
    return status;
}

/* After the rich part's MDNMF refit (in `mdnmf`) with a chosen tau_A:
 * when the confirmation rejects it, MDNMF's column becomes the NMF's
 * (`nmf`, not yet trained further), as with tau_A = 0 chosen. */
static int confirmed_or_nmf(const exp_config *c, exp_results *r, const rich_sets *sets,
                            int64_t m, int seed, int d_index, mdnmf_model *mdnmf,
                            mdnmf_model *nmf, int keep_examples)
{
    mdnmf_tau_auto_result *choice = exp_rich_tau(c, r, seed, d_index);
    exp_score *score = exp_rich_score(c, r, seed, d_index, 1);
    mdnmf_error error;
    int keep = 1;
    int status = confirm_refit(c, sets, m, nmf, mdnmf, choice, &keep, &error);
    if (!status && !keep)
        status = evaluate_keeping(nmf, m, &sets->test, score, &r->rich_examples, 0, 1,
                                  keep_examples, &error);
    if (status && status != MDNMF_ERR_MEMORY) {
        exp_score_fail(score, mdnmf_strerror(status), error.message);
        return MDNMF_OK;
    }
    return status;
}

/* One (seed, d) of the rich part: NMF, then MDNMF and DNMF warm-started
 * from the NMF bases, then ENMF.  With --tau-a auto MDNMF's tau_A is
 * chosen first (tau_A = 0: MDNMF is the NMF model itself). */
static int run_rich(const exp_config *c, exp_results *r, const rich_sets *sets, int64_t m,
                    int seed, int d_index, worker *w)
{
    int d = c->atoms[d_index];
    int keep = seed == 0 && d == c->example_d ? r->rich_examples.count : 0;
    exp_examples *e = &r->rich_examples;
    mdnmf_separation_data x = rich_data(sets, m);
    mdnmf_separator_params p;
    base_params(c, d, c->seed + (uint64_t)seed, &p);
    mdnmf_model *nmf = empty_model(d);
    mdnmf_model *copy = NULL, *exemplar = empty_model(d);
    if (!nmf || !exemplar) {
        mdnmf_model_destroy(nmf), mdnmf_model_destroy(exemplar);
        snprintf(w->message, sizeof w->message, "out of memory");
        return -1;
    }
    p.mode = MDNMF_MODE_STD;
    int status = fit_and_score(nmf, &p, &x, m, &sets->test, exp_rich_score(c, r, seed, d_index, 0),
                               e, 0, keep);
    int nmf_ok = exp_rich_score(c, r, seed, d_index, 0)->ok;
    if (!status && nmf_ok) {
        copy = exp_clone_model(nmf, w->clone_path, w->message, sizeof w->message);
        if (!copy) {
            status = -1;
        }
    }
    double tau_A = c->tau_A;
    int tau_ok = 1;
    if (!status && nmf_ok && c->tau_auto) {
        mdnmf_tau_auto_result *choice = exp_rich_tau(c, r, seed, d_index);
        char why[256];
        if (choose_tau(c, sets, m, seed, &p, choice, why, sizeof why) == 0) {
            tau_A = choice->chosen_tau_A;
        } else {
            tau_ok = 0;
            choice->count = 0;
            exp_score_fail(exp_rich_score(c, r, seed, d_index, 1), "tau_A auto", why);
        }
    }
    static const mdnmf_mode warm_modes[2] = {MDNMF_MODE_ADV, MDNMF_MODE_SUP};
    for (int k = 0; k < 2 && !status; k++) {
        exp_score *score = exp_rich_score(c, r, seed, d_index, 1 + k);
        if (!nmf_ok) {
            exp_score_fail(score, "not run", "the NMF it starts from failed");
            continue;
        }
        if (k == 0 && !tau_ok) {
            continue;
        }
        if (k == 0 && tau_A == 0.0) {
            /* The NMF itself, scored as MDNMF's column (the same numbers). */
            mdnmf_error error;
            status = evaluate_keeping(nmf, m, &sets->test, score, e, 0, 1, keep, &error);
            if (status && status != MDNMF_ERR_MEMORY) {
                exp_score_fail(score, mdnmf_strerror(status), error.message);
                status = MDNMF_OK;
            }
            continue;
        }
        mdnmf_separator_params q = p;
        q.mode = warm_modes[k];
        q.common.warm_start = 1;
        q.tau_A[0] = q.tau_A[1] = tau_A;
        status = fit_and_score(k == 0 ? nmf : copy, &q, &x, m, &sets->test, score, e, 1 + k,
                               keep);
        if (k == 0 && !status && score->ok && c->tau_auto)
            status = confirmed_or_nmf(c, r, sets, m, seed, d_index, nmf, copy, keep);
    }
    if (!status) {
        p.mode = MDNMF_MODE_EXEM;
        status = fit_and_score(exemplar, &p, &x, m, &sets->test,
                               exp_rich_score(c, r, seed, d_index, 3), e, 3, keep);
    }
    if (status > 0) {
        snprintf(w->message, sizeof w->message, "%s", mdnmf_strerror(status));
    }
    mdnmf_model_destroy(nmf), mdnmf_model_destroy(copy), mdnmf_model_destroy(exemplar);
    return status ? -1 : 0;
}

/* One (seed, d) of the tau part: NMF (tau_A = 0), then MDNMF from it for
 * every other tau_A. */
static int run_tau(const exp_config *c, exp_results *r, const rich_sets *sets, int64_t m,
                   int seed, int d_index, worker *w)
{
    int d = c->tau_atoms[d_index];
    int keep = seed == 0 && d == c->tau_example_d ? r->tau_examples.count : 0;
    exp_examples *e = &r->tau_examples;
    mdnmf_separation_data x = rich_data(sets, m);
    mdnmf_separator_params p;
    base_params(c, d, c->seed + (uint64_t)seed, &p);
    mdnmf_model *nmf = empty_model(d);
    if (!nmf) {
        snprintf(w->message, sizeof w->message, "out of memory");
        return -1;
    }
    p.mode = MDNMF_MODE_STD;
    exp_score *first = exp_tau_score(c, r, seed, d_index, 0);
    int status = fit_and_score(nmf, &p, &x, m, &sets->test, first, e, 0, keep);
    mdnmf_error error;
    if (!status && first->ok && mdnmf_model_save(nmf, w->warm_path, &error) != MDNMF_OK) {
        snprintf(w->message, sizeof w->message, "%s", error.message);
        status = -1;
    }
    for (int t = 1; t < c->tau_count && !status; t++) {
        exp_score *score = exp_tau_score(c, r, seed, d_index, t);
        if (!first->ok) {
            exp_score_fail(score, "not run", "the NMF it starts from failed");
            continue;
        }
        mdnmf_model *model = exp_load_model(w->warm_path, w->message, sizeof w->message);
        if (!model) {
            status = -1;
            break;
        }
        mdnmf_separator_params q = p;
        q.mode = MDNMF_MODE_ADV;
        q.common.warm_start = 1;
        q.tau_A[0] = q.tau_A[1] = c->taus[t];
        status = fit_and_score(model, &q, &x, m, &sets->test, score, e, t, keep);
        mdnmf_model_destroy(model);
    }
    remove(w->warm_path);
    if (status > 0) {
        snprintf(w->message, sizeof w->message, "%s", mdnmf_strerror(status));
    }
    mdnmf_model_destroy(nmf);
    return status ? -1 : 0;
}

/* ------------------------------------------------------------ poor */

static int run_poor(const exp_config *c, exp_results *r, const poor_sets *sets, int64_t m,
                    int seed, int other_index, worker *w)
{
    exp_poor_data data = {
        .m = m,
        .weak = {sets->weak[0], sets->weak[1]},
        .n_weak = c->poor_weak,
        .pair_truth = {sets->pairs.truth[0], sets->pairs.truth[1]},
        .pair_mix = sets->pairs.mix,
        .n_pairs = sets->pairs.n,
        .test_truth = {sets->test.truth[0], sets->test.truth[1]},
        .test_mix = sets->test.mix,
        .n_test = sets->test.n,
    };
    exp_examples *e = &r->poor_examples;
    int keep = seed == 0 ? 1 : 0;
    uint64_t fit_seed = c->seed + (uint64_t)seed;
    mdnmf_model *nmf = NULL; /* the tuned NMF, where the other methods start */
    int status = 0;
    for (int k = 0; k < POOR_METHODS && !status; k++) {
        int64_t index = exp_poor_index(c, seed, other_index, k);
        exp_score *score = &r->poor[index];
        exp_draw *draw = &r->poor_draw[index];
        if (k > 0 && !r->poor[exp_poor_index(c, seed, other_index, 0)].ok) {
            exp_score_fail(score, "not run", "the NMF it starts from failed");
            continue;
        }
        mdnmf_model *best = NULL;
        char why[256];
        uint64_t stream = split_seed(fit_seed, c->poor_others[other_index], 100 + k);
        int failed = exp_search(c, exp_poor_methods[k], &data, nmf, stream, fit_seed, &best,
                                draw, why, sizeof why);
        if (failed == MDNMF_ERR_MEMORY) {
            snprintf(w->message, sizeof w->message, "%s", why);
            status = -1;
            break;
        }
        if (failed) {
            exp_score_fail(score, "search", why);
            continue;
        }
        mdnmf_error error;
        status = evaluate_keeping(best, m, &sets->test, score, e, other_index, k, keep, &error);
        if (status > 0) {
            snprintf(w->message, sizeof w->message, "%s", error.message);
        }
        if (k == 0) {
            nmf = best;
        } else {
            mdnmf_model_destroy(best);
        }
    }
    mdnmf_model_destroy(nmf);
    return status ? -1 : 0;
}

/* ------------------------------------------------------------ jobs */

typedef struct job {
    int part; /* PART_* */
    int seed;
    int index; /* d index, or other-class index */
    double cost;
} job;

typedef struct runner {
    const exp_config *c;
    const exp_class *classes;
    exp_results *r;
    int64_t m;
    rich_sets *rich;   /* per seed */
    poor_sets *poor;   /* per seed x other */
    job *jobs;
    int job_count, next, done;
    int failed, interrupted;
    char message[600];
    double started;
    pthread_mutex_t lock;
} runner;

static int compare_jobs(const void *a, const void *b)
{
    double x = ((const job *)a)->cost, y = ((const job *)b)->cost;
    return (x < y) - (x > y); /* the costliest first: workers finish together */
}

/* Rough relative costs: fits per job x atoms x columns per epoch. */
static int make_jobs(runner *run)
{
    const exp_config *c = run->c;
    int count = 0;
    if (c->parts & PART_RICH) count += c->seeds * c->atom_count;
    if (c->parts & PART_TAU) count += c->seeds * c->tau_atom_count;
    if (c->parts & PART_POOR) count += c->poor_seeds * c->poor_other_count;
    run->jobs = calloc((size_t)(count > 0 ? count : 1), sizeof *run->jobs);
    if (!run->jobs) {
        return -1;
    }
    int n = 0;
    double columns = (double)c->n_train;
    int seeds = c->seeds > c->poor_seeds ? c->seeds : c->poor_seeds;
    for (int s = 0; s < seeds; s++) {
        for (int k = 0; (c->parts & PART_RICH) && s < c->seeds && k < c->atom_count; k++) {
            double fits = c->tau_auto ? 4.0 + 0.8 * (1 + (c->tau_grid_count ? c->tau_grid_count
                                                                            : MDNMF_TAU_GRID_DEFAULT_COUNT))
                                      : 4.0;
            run->jobs[n++] = (job){PART_RICH, s, k, fits * c->atoms[k] * columns};
        }
        for (int k = 0; (c->parts & PART_TAU) && s < c->seeds && k < c->tau_atom_count; k++) {
            run->jobs[n++] = (job){PART_TAU, s, k, 2.0 * c->tau_count * c->tau_atoms[k] * columns};
        }
        for (int k = 0; (c->parts & PART_POOR) && s < c->poor_seeds && k < c->poor_other_count;
             k++) {
            double fits = (double)c->draws * (1 + 1 + c->folds + c->folds) + 4;
            run->jobs[n++] = (job){PART_POOR, s, k,
                                   1.5 * fits * c->poor_d * c->poor_weak * c->space.epochs_max /
                                       (double)(c->base.common.epochs > 0 ? c->base.common.epochs : 1)};
        }
    }
    run->job_count = n;
    qsort(run->jobs, (size_t)n, sizeof *run->jobs, compare_jobs);
    return 0;
}

static const char *const PART_NAMES[] = {"", "rich", "tau", "", "poor"};

static void report_scores(const runner *run, const job *j, char *line, size_t size)
{
    const exp_config *c = run->c;
    exp_results *r = run->r;
    size_t used = 0;
    int count = j->part == PART_TAU ? c->tau_count : 4;
    for (int k = 0; k < count && used < size; k++) {
        const exp_score *score;
        char name[32];
        if (j->part == PART_RICH) {
            score = exp_rich_score(c, r, j->seed, j->index, k);
            snprintf(name, sizeof name, "%s", exp_method_names[exp_rich_methods[k]]);
            const mdnmf_tau_auto_result *choice =
                c->tau_auto ? exp_rich_tau(c, r, j->seed, j->index) : NULL;
            if (k == 1 && choice && choice->count > 0)
                snprintf(name, sizeof name, "MDNMF (tau_A %g)", choice->chosen_tau_A);
        } else if (j->part == PART_TAU) {
            score = exp_tau_score(c, r, j->seed, j->index, k);
            snprintf(name, sizeof name, "%g", c->taus[k]);
        } else {
            score = &r->poor[exp_poor_index(c, j->seed, j->index, k)];
            snprintf(name, sizeof name, "%s", exp_method_names[exp_poor_methods[k]]);
        }
        if (score->ok) {
            used += (size_t)snprintf(line + used, size - used, "%s%s %.2f", k ? ", " : "", name,
                                     score->median);
        } else {
            used += (size_t)snprintf(line + used, size - used, "%s%s failed", k ? ", " : "",
                                     name);
        }
    }
}

static void report_job(runner *run, const job *j, double seconds)
{
    const exp_config *c = run->c;
    if (c->quiet) {
        return;
    }
    char what[64], scores[400];
    if (j->part == PART_POOR) {
        snprintf(what, sizeof what, "%d vs %d", c->anchor, c->poor_others[j->index]);
    } else {
        snprintf(what, sizeof what, "d = %d",
                 j->part == PART_RICH ? c->atoms[j->index] : c->tau_atoms[j->index]);
    }
    report_scores(run, j, scores, sizeof scores);
    double elapsed = cli_monotonic_seconds() - run->started;
    fprintf(stderr, "mdnmf %s: [%d/%d %d:%02d] %s, seed %d, %s: %s dB (%.1f s)\n", COMMAND,
            run->done, run->job_count, (int)elapsed / 60, (int)elapsed % 60,
            PART_NAMES[j->part], j->seed + 1, what, scores, seconds);
}

static int run_job(runner *run, const job *j, worker *w)
{
    const exp_config *c = run->c;
    switch (j->part) {
    case PART_RICH:
        return run_rich(c, run->r, &run->rich[j->seed], run->m, j->seed, j->index, w);
    case PART_TAU:
        return run_tau(c, run->r, &run->rich[j->seed], run->m, j->seed, j->index, w);
    default:
        return run_poor(c, run->r, &run->poor[j->seed * c->poor_other_count + j->index], run->m,
                        j->seed, j->index, w);
    }
}

static int part_slot(int part)
{
    return part == PART_RICH ? 0 : part == PART_TAU ? 1 : 2;
}

typedef struct worker_start {
    runner *run;
    worker w;
} worker_start;

static void *work(void *argument)
{
    worker_start *start = argument;
    runner *run = start->run;
    worker *w = &start->w;
    for (;;) {
        pthread_mutex_lock(&run->lock);
        if (cli_interrupted() && !run->failed) {
            run->failed = 1, run->interrupted = 1;
        }
        int index = run->failed || run->next >= run->job_count ? -1 : run->next++;
        pthread_mutex_unlock(&run->lock);
        if (index < 0) {
            break;
        }
        const job *j = &run->jobs[index];
        double started = cli_monotonic_seconds();
        int status = run_job(run, j, w);
        double seconds = cli_monotonic_seconds() - started;
        pthread_mutex_lock(&run->lock);
        run->done++;
        run->r->seconds[part_slot(j->part)] += seconds;
        if (status && !run->failed) {
            run->failed = 1;
            snprintf(run->message, sizeof run->message, "%s, seed %d: %s", PART_NAMES[j->part],
                     j->seed + 1, w->message);
        }
        if (!status) {
            report_job(run, j, seconds);
        }
        pthread_mutex_unlock(&run->lock);
    }
    return NULL;
}

/* ------------------------------------------------------------ setup */

static int alloc_results(const exp_config *c, exp_results *r, int64_t m)
{
    memset(r, 0, sizeof *r);
    size_t rich = (size_t)(c->seeds * c->atom_count * RICH_METHODS);
    size_t tau = (size_t)(c->seeds * c->tau_atom_count * c->tau_count);
    size_t poor = (size_t)(c->poor_seeds * c->poor_other_count * POOR_METHODS);
    r->rich = calloc(rich ? rich : 1, sizeof *r->rich);
    r->tau = calloc(tau ? tau : 1, sizeof *r->tau);
    r->poor = calloc(poor ? poor : 1, sizeof *r->poor);
    r->poor_draw = calloc(poor ? poor : 1, sizeof *r->poor_draw);
    r->rich_tau = calloc(rich ? rich : 1, sizeof *r->rich_tau); /* [seed][d], over-sized */
    if (!r->rich || !r->tau || !r->poor || !r->poor_draw || !r->rich_tau) {
        return -1;
    }
    int examples = (int)(c->n_test < EXP_EXAMPLES ? c->n_test : EXP_EXAMPLES);
    if ((c->parts & PART_RICH) && examples_alloc(&r->rich_examples, examples, RICH_METHODS, m))
        return -1;
    if ((c->parts & PART_TAU) && examples_alloc(&r->tau_examples, examples, c->tau_count, m))
        return -1;
    if ((c->parts & PART_POOR) &&
        examples_alloc(&r->poor_examples, c->poor_other_count, POOR_METHODS, m))
        return -1;
    return 0;
}

void exp_results_free(exp_results *r)
{
    free(r->rich), free(r->tau), free(r->poor), free(r->poor_draw), free(r->rich_tau);
    examples_free(&r->rich_examples);
    examples_free(&r->tau_examples);
    examples_free(&r->poor_examples);
    memset(r, 0, sizeof *r);
}

static int make_sets(runner *run)
{
    const exp_config *c = run->c;
    char message[256];
    run->rich = calloc((size_t)c->seeds, sizeof *run->rich);
    run->poor = calloc((size_t)(c->poor_seeds * (c->poor_other_count ? c->poor_other_count : 1)),
                       sizeof *run->poor);
    if (!run->rich || !run->poor) {
        cli_error(COMMAND, "out of memory");
        return -1;
    }
    int seeds = c->seeds > c->poor_seeds ? c->seeds : c->poor_seeds;
    for (int s = 0; s < seeds; s++) {
        uint64_t seed = c->seed + (uint64_t)s;
        if ((c->parts & (PART_RICH | PART_TAU)) && s < c->seeds &&
            make_rich_sets(c, run->classes, seed, &run->rich[s], message, sizeof message)) {
            cli_error(COMMAND, "%s", message);
            return -1;
        }
        for (int k = 0; (c->parts & PART_POOR) && s < c->poor_seeds && k < c->poor_other_count;
             k++) {
            poor_sets *p = &run->poor[s * c->poor_other_count + k];
            if (make_poor_sets(c, run->classes, c->poor_others[k], seed, p, message,
                               sizeof message)) {
                cli_error(COMMAND, "%s", message);
                return -1;
            }
            run->r->poor_test_count[k] = s == 0 ? p->n_test : run->r->poor_test_count[k];
        }
    }
    return 0;
}

/* The example rows' mixtures and truths are the first test mixtures of
 * seed 1 (rich, tau) or of each pair (poor). */
static void keep_example_truths(runner *run)
{
    const exp_config *c = run->c;
    exp_results *r = run->r;
    if (c->parts & PART_RICH)
        examples_keep_truth(&r->rich_examples, &run->rich[0].test, run->m, 0,
                            r->rich_examples.count);
    if (c->parts & PART_TAU)
        examples_keep_truth(&r->tau_examples, &run->rich[0].test, run->m, 0,
                            r->tau_examples.count);
    for (int k = 0; (c->parts & PART_POOR) && k < c->poor_other_count; k++)
        examples_keep_truth(&r->poor_examples, &run->poor[k].test, run->m, k, 1);
}

static void free_sets(runner *run)
{
    const exp_config *c = run->c;
    for (int s = 0; run->rich && s < c->seeds; s++) {
        mixed_set_free(&run->rich[s].train);
        mixed_set_free(&run->rich[s].test);
    }
    for (int k = 0; run->poor && k < c->poor_seeds * c->poor_other_count; k++) {
        poor_sets_free(&run->poor[k]);
    }
    free(run->rich), free(run->poor);
}

static int start_workers(runner *run)
{
    int count = run->c->threads > 0 ? run->c->threads : 1;
    if (count > run->job_count) {
        count = run->job_count > 0 ? run->job_count : 1;
    }
    pthread_t *threads = calloc((size_t)count, sizeof *threads);
    worker_start *starts = calloc((size_t)count, sizeof *starts);
    if (!threads || !starts) {
        free(threads), free(starts);
        cli_error(COMMAND, "out of memory");
        return -1;
    }
    int *created = calloc((size_t)count, sizeof *created);
    if (!created) {
        free(threads), free(starts);
        cli_error(COMMAND, "out of memory");
        return -1;
    }
    for (int i = 0; i < count; i++) {
        starts[i].run = run;
        starts[i].w.id = i;
        snprintf(starts[i].w.clone_path, sizeof starts[i].w.clone_path, "%s/clone-%d.npz",
                 run->c->scratch_dir, i);
        snprintf(starts[i].w.warm_path, sizeof starts[i].w.warm_path, "%s/warm-%d.npz",
                 run->c->scratch_dir, i);
        /* The first worker is this thread; the others are new ones. */
        created[i] = i > 0 && pthread_create(&threads[i], NULL, work, &starts[i]) == 0;
    }
    work(&starts[0]);
    for (int i = 1; i < count; i++) {
        if (created[i]) {
            pthread_join(threads[i], NULL);
        }
    }
    free(threads), free(starts), free(created);
    if (run->interrupted) {
        cli_error(COMMAND, "interrupted: no report written");
        return 1;
    }
    if (run->failed) {
        cli_error(COMMAND, "%s", run->message);
        return -1;
    }
    return 0;
}

int exp_run(const exp_config *c, const exp_class *classes, exp_results *r)
{
    int64_t m = 0;
    for (int k = 0; k < EXP_MAX_CLASSES && !m; k++) {
        m = classes[k].train.data ? classes[k].train.m : 0;
    }
    runner run = {.c = c, .classes = classes, .r = r, .m = m, .started = cli_monotonic_seconds()};
    if (alloc_results(c, r, m) != 0 || make_jobs(&run) != 0) {
        cli_error(COMMAND, "out of memory");
        free(run.jobs);
        return -1;
    }
    int status = make_sets(&run);
    if (status == 0) {
        keep_example_truths(&run);
        pthread_mutex_init(&run.lock, NULL);
        status = start_workers(&run);
        pthread_mutex_destroy(&run.lock);
    }
    free_sets(&run);
    free(run.jobs);
    return status;
}
