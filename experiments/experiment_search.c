/* The data-poor random search of `mdnmf experiment images` (SPEC §10, the
 * paper's "data poor" experiment): for one method, draw hyper-parameters at
 * random, fit, score on held-out data, keep the best.
 *
 *   NMF, MDNMF     fit on the weak (clean, unpaired) sets; scored on the
 *                  paired mixtures, which these methods never train on.
 *   DNMF, D+MDNMF  `folds`-fold cross-validation over the pairs (D+MDNMF
 *                  also trains on the weak sets); the best draw is then
 *                  refitted on all pairs.
 * Every method but NMF starts from the tuned NMF's bases.  The score is the
 * median over mixtures of the mean PSNR over both sources. */
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

static int uses_pairs(exp_method method)
{
    return method == METHOD_DNMF || method == METHOD_DMDNMF;
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

void exp_draw_params(const exp_config *c, exp_method method, const exp_draw *d,
                     uint64_t fit_seed, mdnmf_separator_params *p)
{
    mdnmf_separator_params_default(p, 2);
    p->mode = method_mode(method);
    p->common.epochs = d->epochs;
    p->common.test_epochs = d->test_epochs;
    p->common.batch_size = d->batch;
    p->common.batch_size_adv = d->batch_adv;
    p->common.mu_W = d->mu_W;
    p->common.normalize = d->normalize;
    p->common.true_sample = (mdnmf_true_sample)d->true_sample;
    p->common.seed = fit_seed;
    p->common.threads = 1;
    p->common.warm_start = method != METHOD_NMF;
    p->batch_size_sup = d->batch_sup;
    p->tau_S = method == METHOD_DMDNMF ? d->tau_S : 1.0;
    for (int s = 0; s < 2; s++) {
        p->d[s] = c->poor_d;
        p->mu_H[s] = d->mu_H;
        p->tau_A[s] = uses_adversary(method) ? d->tau_A : 0.0;
    }
}

/* ------------------------------------------------------------ fits */

/* Paired training data of one fold: the pairs outside [lo, hi). */
typedef struct fold_data {
    float *truth[2], *mix;
    int64_t n;
} fold_data;

static void copy_outside(const float *from, int64_t m, int64_t n, int64_t lo, int64_t hi,
                         float *to)
{
    memcpy(to, from, (size_t)(lo * m) * sizeof(float));
    memcpy(to + lo * m, from + hi * m, (size_t)((n - hi) * m) * sizeof(float));
}

static void fold_fill(const exp_poor_data *x, int64_t lo, int64_t hi, fold_data *f)
{
    for (int s = 0; s < 2; s++) {
        copy_outside(x->pair_truth[s], x->m, x->n_pairs, lo, hi, f->truth[s]);
    }
    copy_outside(x->pair_mix, x->m, x->n_pairs, lo, hi, f->mix);
    f->n = x->n_pairs - (hi - lo);
}

typedef struct search {
    const exp_config *c;
    exp_method method;
    const exp_poor_data *x;
    const char *warm_path;
    uint64_t fit_seed;
    char *message;
    size_t size;
} search;

/* Fit one draw on the weak sets and the given pairs (NULL: none) into a
 * new model.  Returns a status; a failed fit keeps its message. */
static int fit_draw(const search *run, const exp_draw *d, const float *const *pair_truth,
                    const float *pair_mix, int64_t n_pairs, mdnmf_model **out)
{
    const exp_poor_data *x = run->x;
    mdnmf_separator_params p;
    exp_draw_params(run->c, run->method, d, run->fit_seed, &p);
    mdnmf_model *model;
    if (run->method == METHOD_NMF) {
        mdnmf_params defaults;
        mdnmf_params_default(&defaults);
        defaults.d = run->c->poor_d;
        model = mdnmf_model_create(&defaults, NULL);
        if (!model) {
            snprintf(run->message, run->size, "out of memory");
            return MDNMF_ERR_MEMORY;
        }
    } else {
        model = exp_load_model(run->warm_path, run->message, run->size);
        if (!model) {
            return MDNMF_ERR_IO;
        }
    }
    mdnmf_separation_data data;
    memset(&data, 0, sizeof data);
    data.m = x->m;
    for (int s = 0; s < 2; s++) {
        data.U[s] = x->weak[s];
        data.n[s] = x->n_weak;
        data.U_sup[s] = pair_truth ? pair_truth[s] : NULL;
    }
    data.V_sup = pair_mix;
    data.n_sup = pair_mix ? n_pairs : 0;
    mdnmf_error error;
    int status = mdnmf_separator_fit(model, &p, &data, &error);
    if (status) {
        snprintf(run->message, run->size, "%s", error.message);
        mdnmf_model_destroy(model);
        return status;
    }
    *out = model;
    return MDNMF_OK;
}

/* Median PSNR of `model` on pairs [lo, hi). */
static int score_on_pairs(const search *run, mdnmf_model *model, int64_t lo, int64_t hi,
                          double *median)
{
    const exp_poor_data *x = run->x;
    const float *truth[2] = {x->pair_truth[0] + lo * x->m, x->pair_truth[1] + lo * x->m};
    exp_score score;
    mdnmf_error error;
    int status = exp_evaluate(model, x->m, x->pair_mix + lo * x->m, truth, hi - lo, &score, 0,
                              NULL, NULL, &error);
    if (status) {
        snprintf(run->message, run->size, "%s", error.message);
        return status;
    }
    *median = score.median;
    return MDNMF_OK;
}

/* The validation score of a draw.  For the weak methods the fitted model
 * is returned in *model (it is what a refit would give). */
static int validate(const search *run, const exp_draw *d, fold_data *fold, double *value,
                    mdnmf_model **model)
{
    const exp_poor_data *x = run->x;
    if (!uses_pairs(run->method)) {
        int status = fit_draw(run, d, NULL, NULL, 0, model);
        if (!status) {
            status = score_on_pairs(run, *model, 0, x->n_pairs, value);
        }
        return status;
    }
    int folds = run->c->folds;
    double sum = 0;
    for (int f = 0; f < folds; f++) {
        int64_t lo = x->n_pairs * f / folds, hi = x->n_pairs * (f + 1) / folds;
        fold_fill(x, lo, hi, fold);
        const float *truth[2] = {fold->truth[0], fold->truth[1]};
        mdnmf_model *fitted = NULL;
        double median = NAN;
        int status = fit_draw(run, d, truth, fold->mix, fold->n, &fitted);
        if (!status) {
            status = score_on_pairs(run, fitted, lo, hi, &median);
        }
        mdnmf_model_destroy(fitted);
        if (status) {
            return status;
        }
        sum += median;
    }
    *value = sum / folds;
    return MDNMF_OK;
}

int exp_search(const exp_config *c, exp_method method, const exp_poor_data *x,
               const char *warm_path, uint64_t stream, uint64_t fit_seed, mdnmf_model **best,
               exp_draw *chosen, char *message, size_t size)
{
    search run = {c, method, x, warm_path, fit_seed, message, size};
    fold_data fold = {{NULL, NULL}, NULL, 0};
    size_t bytes = (size_t)(x->m * (x->n_pairs > 0 ? x->n_pairs : 1)) * sizeof(float);
    if (uses_pairs(method)) {
        fold.truth[0] = malloc(bytes), fold.truth[1] = malloc(bytes), fold.mix = malloc(bytes);
        if (!fold.truth[0] || !fold.truth[1] || !fold.mix) {
            free(fold.truth[0]), free(fold.truth[1]), free(fold.mix);
            snprintf(message, size, "out of memory");
            return MDNMF_ERR_MEMORY;
        }
    }
    draw_rng rng = {stream};
    mdnmf_model *kept = NULL;
    int found = 0, status = MDNMF_OK;
    char last_failure[256] = "";
    for (int k = 0; k < c->draws; k++) {
        exp_draw d = random_draw(&c->space, &rng);
        mdnmf_model *model = NULL;
        double value = NAN;
        status = validate(&run, &d, &fold, &value, &model);
        if (status == MDNMF_ERR_MEMORY || status == MDNMF_ERR_IO) {
            mdnmf_model_destroy(model);
            break;
        }
        if (status || !isfinite(value)) {
            snprintf(last_failure, sizeof last_failure, "%s", status ? message : "no finite score");
            mdnmf_model_destroy(model);
            status = MDNMF_OK;
            continue;
        }
        d.validation = value;
        if (!found || value > chosen->validation) {
            *chosen = d;
            found = 1;
            mdnmf_model_destroy(kept);
            kept = model;
        } else {
            mdnmf_model_destroy(model);
        }
    }
    if (!status && !found) {
        snprintf(message, size, "every one of the %d draws failed; the last: %s", c->draws,
                 last_failure);
        status = MDNMF_ERR_DIVERGED;
    }
    if (!status && uses_pairs(method)) {
        status = fit_draw(&run, chosen, x->pair_truth, x->pair_mix, x->n_pairs, &kept);
    }
    free(fold.truth[0]), free(fold.truth[1]), free(fold.mix);
    if (status) {
        mdnmf_model_destroy(kept);
        return status;
    }
    *best = kept;
    return MDNMF_OK;
}
