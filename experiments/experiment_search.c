/* The data-poor random search of `mdnmf experiment images` (SPEC §10, the
 * paper's "data poor" experiment) on mdnmf_search_run: for one method,
 * draw hyper-parameters at random, fit, score on held-out data, keep the
 * best and refit it.
 *
 *   NMF, MDNMF     fit on the weak (clean, unpaired) sets; scored on the
 *                  paired mixtures, which these methods never train on.
 *   DNMF, D+MDNMF  `folds`-fold cross-validation over the pairs in their
 *                  order (contiguous folds; D+MDNMF also trains on the
 *                  weak sets), scored by the mean over the folds of each
 *                  fold's median.
 * Every method but NMF starts from the tuned NMF's bases (search.start).
 * The score is the median over mixtures of the mean PSNR over both
 * sources.  The draws are this file's own (the paper's search space, one
 * generator whose k-th draw is the same for every method), handed to the
 * search through its draw callback. */
#include "experiment.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ draws */

/* splitmix64: a small, seedable generator for the draws, independent of
 * the library's streams. */
typedef struct draw_rng {
    uint64_t state;
} draw_rng;

static uint64_t draw_next(draw_rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double draw_uniform(draw_rng *r)
{
    return (double)(draw_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [low, high]. */
static int draw_int(draw_rng *r, int low, int high)
{
    return low + (int)(draw_uniform(r) * (double)(high - low + 1));
}

/* One draw of every parameter, whatever the method uses, so the k-th draw
 * consumes the same numbers for every method. */
static exp_draw random_draw(const exp_search_space *s, draw_rng *r)
{
    exp_draw d;
    memset(&d, 0, sizeof d);
    d.normalize = draw_int(r, 0, 1);
    d.mu_H = pow(10.0, s->log10_mu_min + (s->log10_mu_max - s->log10_mu_min) * draw_uniform(r));
    d.mu_W = pow(10.0, s->log10_mu_min + (s->log10_mu_max - s->log10_mu_min) * draw_uniform(r));
    d.epochs = draw_int(r, 1, s->epochs_max);
    d.test_epochs = draw_int(r, s->test_epochs_min, s->test_epochs_max);
    d.batch = s->batch[draw_int(r, 0, 1)];
    d.batch_adv = s->batch_adv[draw_int(r, 0, 1)];
    d.batch_sup = s->batch_sup;
    d.true_sample = draw_int(r, 0, 1) ? MDNMF_SAMPLE_ADV : MDNMF_SAMPLE_STD;
    d.tau_A = s->tau_A_max * draw_uniform(r);
    d.tau_S = s->tau_S_max * draw_uniform(r);
    d.validation = NAN;
    return d;
}

static int uses_adversary(exp_method method)
{
    return method == METHOD_MDNMF || method == METHOD_DMDNMF;
}

static mdnmf_mode method_mode(exp_method method)
{
    switch (method) {
    case METHOD_MDNMF: return MDNMF_MODE_ADV;
    case METHOD_DNMF: return MDNMF_MODE_SUP;
    case METHOD_ENMF: return MDNMF_MODE_EXEM;
    case METHOD_DMDNMF: return MDNMF_MODE_FULL;
    default: return MDNMF_MODE_STD;
    }
}

/* ------------------------------------------------------------ the search */

enum { MAX_DIMENSIONS = 11 };

/* The search's dimensions: what a draw sets for `method` (tau_A only for
 * the adversarial methods, tau_S only for D+MDNMF; the base keeps 0 and 1
 * for them), with the space's ranges, which mdnmf_search_check tries. */
typedef struct search_space {
    mdnmf_search_dimension dims[MAX_DIMENSIONS];
    int count;
} search_space;

static mdnmf_search_dimension *add_dimension(search_space *space, mdnmf_search_param param,
                                             mdnmf_distribution distribution, double low,
                                             double high)
{
    mdnmf_search_dimension *dim = &space->dims[space->count++];
    memset(dim, 0, sizeof *dim);
    dim->param = param;
    dim->source = -1;
    dim->distribution = distribution;
    dim->low = low, dim->high = high;
    if (distribution == MDNMF_DIST_CHOICE) {
        dim->values[0] = low, dim->values[1] = high;
        dim->count = low == high ? 1 : 2;
    }
    return dim;
}

static void describe_space(const exp_search_space *s, exp_method method, search_space *space)
{
    double mu_min = pow(10.0, s->log10_mu_min), mu_max = pow(10.0, s->log10_mu_max);
    space->count = 0;
    add_dimension(space, MDNMF_SEARCH_NORMALIZE, MDNMF_DIST_CHOICE, 0, 1);
    add_dimension(space, MDNMF_SEARCH_MU_H, MDNMF_DIST_LOG_UNIFORM, mu_min, mu_max);
    add_dimension(space, MDNMF_SEARCH_MU_W, MDNMF_DIST_LOG_UNIFORM, mu_min, mu_max);
    add_dimension(space, MDNMF_SEARCH_EPOCHS, MDNMF_DIST_UNIFORM, 1, s->epochs_max);
    add_dimension(space, MDNMF_SEARCH_TEST_EPOCHS, MDNMF_DIST_UNIFORM, s->test_epochs_min,
                  s->test_epochs_max);
    add_dimension(space, MDNMF_SEARCH_BATCH_SIZE, MDNMF_DIST_CHOICE, (double)s->batch[0],
                  (double)s->batch[1]);
    add_dimension(space, MDNMF_SEARCH_BATCH_SIZE_ADV, MDNMF_DIST_CHOICE,
                  (double)s->batch_adv[0], (double)s->batch_adv[1]);
    add_dimension(space, MDNMF_SEARCH_BATCH_SIZE_SUP, MDNMF_DIST_CHOICE, (double)s->batch_sup,
                  (double)s->batch_sup);
    add_dimension(space, MDNMF_SEARCH_TRUE_SAMPLE, MDNMF_DIST_CHOICE, MDNMF_SAMPLE_STD,
                  MDNMF_SAMPLE_ADV);
    if (uses_adversary(method)) {
        add_dimension(space, MDNMF_SEARCH_TAU_A, MDNMF_DIST_UNIFORM, 0.0, s->tau_A_max);
    }
    if (method == METHOD_DMDNMF) {
        add_dimension(space, MDNMF_SEARCH_TAU_S, MDNMF_DIST_UNIFORM, 0.0, s->tau_S_max);
    }
}

/* A draw's value for one dimension. */
static double draw_value(const exp_draw *d, mdnmf_search_param param)
{
    switch (param) {
    case MDNMF_SEARCH_NORMALIZE: return d->normalize;
    case MDNMF_SEARCH_MU_H: return d->mu_H;
    case MDNMF_SEARCH_MU_W: return d->mu_W;
    case MDNMF_SEARCH_EPOCHS: return d->epochs;
    case MDNMF_SEARCH_TEST_EPOCHS: return d->test_epochs;
    case MDNMF_SEARCH_BATCH_SIZE: return (double)d->batch;
    case MDNMF_SEARCH_BATCH_SIZE_ADV: return (double)d->batch_adv;
    case MDNMF_SEARCH_BATCH_SIZE_SUP: return (double)d->batch_sup;
    case MDNMF_SEARCH_TRUE_SAMPLE: return d->true_sample;
    case MDNMF_SEARCH_TAU_A: return d->tau_A;
    case MDNMF_SEARCH_TAU_S: return d->tau_S;
    default: return NAN;
    }
}

/* The draw callback's state: the generator and every trial's draw. */
typedef struct draws {
    const exp_search_space *space;
    const search_space *dimensions;
    draw_rng rng;
    exp_draw *made; /* one per trial */
} draws;

static int next_draw(void *user, int trial, double *values)
{
    draws *state = user;
    state->made[trial] = random_draw(state->space, &state->rng);
    for (int i = 0; i < state->dimensions->count; i++) {
        values[i] = draw_value(&state->made[trial], state->dimensions->dims[i].param);
    }
    return 0;
}

/* The separator parameters every trial starts from (the draws set the
 * rest). */
static void base_params(const exp_config *c, exp_method method, uint64_t fit_seed,
                        mdnmf_separator_params *p)
{
    mdnmf_separator_params_default(p, 2);
    p->mode = method_mode(method);
    p->common.seed = fit_seed;
    p->common.threads = 1;
    p->tau_S = 1.0;
    for (int s = 0; s < 2; s++) {
        p->d[s] = c->poor_d;
        p->tau_A[s] = 0.0;
    }
}

static mdnmf_separation_data search_data(const exp_poor_data *x)
{
    mdnmf_separation_data data;
    memset(&data, 0, sizeof data);
    data.m = x->m;
    for (int s = 0; s < 2; s++) {
        data.U[s] = x->weak[s];
        data.n[s] = x->n_weak;
        data.U_sup[s] = x->pair_truth[s];
    }
    data.V_sup = x->pair_mix;
    data.n_sup = x->n_pairs;
    return data;
}

int exp_search(const exp_config *c, exp_method method, const exp_poor_data *x,
               const mdnmf_model *start, uint64_t stream, uint64_t fit_seed, mdnmf_model **best,
               exp_draw *chosen, char *message, size_t size)
{
    search_space space;
    describe_space(&c->space, method, &space);
    draws state = {&c->space, &space, {stream}, calloc((size_t)c->draws, sizeof(exp_draw))};
    mdnmf_search search;
    mdnmf_search_default(&search, 2);
    base_params(c, method, fit_seed, &search.base);
    search.dimensions = space.dims;
    search.dimension_count = space.count;
    search.trials = c->draws;
    search.folds = c->folds;
    search.seed = stream;
    search.refit = 1;
    search.start = start;
    search.contiguous_folds = 1;
    search.score_per_fold = 1;
    search.draw = next_draw;
    search.draw_user = &state;
    mdnmf_params common = search.base.common;
    common.d = 1; /* the separator's d[] decide */
    mdnmf_error error;
    mdnmf_model *model = state.made ? mdnmf_model_create(&common, &error) : NULL;
    if (!model) {
        free(state.made);
        snprintf(message, size, "out of memory");
        return MDNMF_ERR_MEMORY;
    }
    mdnmf_separation_data data = search_data(x);
    mdnmf_search_result result;
    int status = mdnmf_search_run(model, &search, &data, &result, &error);
    if (status) {
        snprintf(message, size, "%s", error.message);
        mdnmf_model_destroy(model);
    } else {
        *chosen = state.made[result.best_trial];
        chosen->validation = result.best_metric;
        *best = model;
    }
    free(state.made);
    return status;
}
