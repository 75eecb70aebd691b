/* The model handle: parameters, basis, activations, errors. */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *mdnmf_version(void)
{
    return MDNMF_VERSION_STRING;
}

const char *mdnmf_strerror(int status)
{
    switch (status) {
    case MDNMF_OK: return "success";
    case MDNMF_ERR_ARGUMENT: return "invalid argument";
    case MDNMF_ERR_DATA: return "invalid data (negative, NaN or infinite entries)";
    case MDNMF_ERR_SHAPE: return "dimensions do not fit together or are empty";
    case MDNMF_ERR_MEMORY: return "out of memory";
    case MDNMF_ERR_IO: return "input/output error";
    case MDNMF_ERR_FORMAT: return "malformed or unsupported file";
    case MDNMF_ERR_DIVERGED: return "the fit diverged";
    case MDNMF_ERR_CANCELLED: return "cancelled by the callback";
    case MDNMF_ERR_STATE: return "the model has no basis yet";
    default: return "unknown status code";
    }
}

void mdnmf_params_default(mdnmf_params *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->d = 0;
    p->epochs = 50;
    p->test_epochs = 50;
    p->batch_size = 0;
    p->batch_size_adv = 0;
    p->init = MDNMF_INIT_EXEMPLAR;
    p->mu_W = 1e-6;
    p->mu_H = 1e-6;
    p->tau_A = 0.1;
    p->tau_W = 1.0;
    p->normalize = 0;
    p->update_H = 0;
    p->true_sample = MDNMF_SAMPLE_STD;
    p->warm_start = 0;
    p->seed = 0;
    p->threads = 0;
}

static int finite_non_negative(double x)
{
    return isfinite(x) && x >= 0.0;
}

/* The penalties and weights are used in float32: 1e300 would become +inf. */
int float_non_negative(double x)
{
    return x >= 0.0 && x <= FLT_MAX;
}

const char *params_problem(const mdnmf_params *p)
{
    if (!p) return "params is NULL";
    if (p->d < 1) return "d (number of atoms) must be at least 1";
    if (p->epochs < 0) return "epochs must be >= 0";
    if (p->test_epochs < 0) return "test_epochs must be >= 0";
    if (p->init_H_steps < 0) return "init_H_steps must be >= 0 (0 = test_epochs)";
    if (p->batch_size < 0) return "batch_size must be >= 0 (0 = all columns)";
    if (p->batch_size_adv < 0) return "batch_size_adv must be >= 0 (0 = all columns)";
    if (p->init != MDNMF_INIT_EXEMPLAR && p->init != MDNMF_INIT_RANDOM)
        return "init must be exemplar or random";
    if (!float_non_negative(p->mu_W))
        return "mu_W must be >= 0 and finite in float32 (at most 3.4e38)";
    if (!float_non_negative(p->mu_H))
        return "mu_H must be >= 0 and finite in float32 (at most 3.4e38)";
    if (!float_non_negative(p->tau_A))
        return "tau_A must be >= 0 and finite in float32 (at most 3.4e38)";
    if (!float_non_negative(p->tau_W))
        return "tau_W must be >= 0 and finite in float32 (at most 3.4e38)";
    if (p->true_sample != MDNMF_SAMPLE_STD && p->true_sample != MDNMF_SAMPLE_ADV &&
        p->true_sample != MDNMF_SAMPLE_MIN)
        return "true_sample must be std, adv or min";
    if (p->threads < 0 || p->threads > MDNMF_MAX_THREADS)
        return "threads must be between 0 (the default) and 256";
    if (p->checkpoint_every < 0) return "checkpoint_every must be >= 0 (0 = every 10 epochs)";
    if (p->divergence != MDNMF_DIVERGENCE_FROBENIUS && p->divergence != MDNMF_DIVERGENCE_KL &&
        p->divergence != MDNMF_DIVERGENCE_IS)
        return "divergence must be fro, kl or is";
    if (p->per_sample_init != 0 && p->per_sample_init != 1)
        return "per_sample_init must be 0 (one stream for all columns) or 1 (per column)";
    return NULL;
}

int mdnmf_params_check(const mdnmf_params *p, mdnmf_error *error)
{
    const char *problem = params_problem(p);
    return error_report(error, problem ? MDNMF_ERR_ARGUMENT : MDNMF_OK, problem);
}

void model_clear_error(mdnmf_model *model)
{
    if (model)
        model->error[0] = '\0';
}

int model_report(const mdnmf_model *model, int status, mdnmf_error *error)
{
    return error_report(error, status, model ? model->error : "model is NULL");
}

void message_printf(char *message, size_t size, const char *format, ...)
{
    if (!message || size == 0)
        return;
    va_list args;
    va_start(args, format);
    vsnprintf(message, size, format, args);
    va_end(args);
}

int model_fail(mdnmf_model *model, int status, const char *format, ...)
{
    if (!model)
        return status;
    va_list args;
    va_start(args, format);
    vsnprintf(model->error, sizeof model->error, format, args);
    va_end(args);
    return status;
}

mdnmf_model *mdnmf_model_create(const mdnmf_params *p, mdnmf_error *error)
{
    const char *problem = params_problem(p);
    if (problem) {
        error_report(error, MDNMF_ERR_ARGUMENT, problem);
        return NULL;
    }
    mdnmf_model *model = calloc(1, sizeof *model);
    if (!model) {
        error_report(error, MDNMF_ERR_MEMORY, "out of memory for a model");
        return NULL;
    }
    model->params = *p;
    error_ok(error);
    return model;
}

static void model_clear_activations(mdnmf_model *model)
{
    free(model->H);
    free(model->H_adv);
    model->H = model->H_adv = NULL;
    model->n_H = model->n_H_adv = 0;
}

void mdnmf_model_destroy(mdnmf_model *model)
{
    if (!model)
        return;
    model_clear_activations(model);
    free(model->W);
    free(model->mu_H);
    free(model->components);
    free(model);
}

/* Per-atom mu_H follow the scalar parameter unless the user set them. */
static void refresh_mu_H(mdnmf_model *model)
{
    if (model->mu_H_custom || !model->mu_H)
        return;
    for (int64_t k = 0; k < model->atoms; k++)
        model->mu_H[k] = (float)model->params.mu_H;
}

static int set_params(mdnmf_model *model, const mdnmf_params *p)
{
    if (!model)
        return MDNMF_ERR_ARGUMENT;
    const char *problem = params_problem(p);
    if (problem)
        return model_fail(model, MDNMF_ERR_ARGUMENT, "%s", problem);
    model->params = *p;
    refresh_mu_H(model);
    return MDNMF_OK;
}

int mdnmf_model_set_params(mdnmf_model *model, const mdnmf_params *p, mdnmf_error *error)
{
    model_clear_error(model);
    return model_report(model, set_params(model, p), error);
}

const mdnmf_params *mdnmf_model_params(const mdnmf_model *model)
{
    return model ? &model->params : NULL;
}

void model_adopt_sources(mdnmf_model *model, float *W, float *mu_H, int64_t m, int sources,
                         int64_t *components)
{
    free(model->W);
    free(model->mu_H);
    free(model->components);
    model->W = W;
    model->mu_H = mu_H;
    model->m = m;
    model->sources = sources;
    model->components = components;
    model->atoms = 0;
    for (int s = 0; s < sources; s++)
        model->atoms += components[s];
}

int model_adopt_basis(mdnmf_model *model, float *W_owned, int64_t m, int64_t d)
{
    int keep_mu = model->mu_H_custom && model->atoms == d && model->mu_H;
    float *mu_H = keep_mu ? model->mu_H : malloc((size_t)d * sizeof *mu_H);
    int64_t *components = malloc(sizeof *components);
    if (!mu_H || !components) {
        if (!keep_mu) free(mu_H);
        free(components);
        free(W_owned);
        return model_fail(model, MDNMF_ERR_MEMORY, "out of memory for a %lld-atom basis",
                          (long long)d);
    }
    if (keep_mu)
        model->mu_H = NULL; /* ownership moves to model_adopt_sources */
    else
        model->mu_H_custom = 0;
    components[0] = d;
    model_adopt_sources(model, W_owned, mu_H, m, 1, components);
    refresh_mu_H(model);
    return MDNMF_OK;
}

static int set_basis(mdnmf_model *model, const float *W, int64_t m, int64_t d)
{
    if (!model)
        return MDNMF_ERR_ARGUMENT;
    if (!W || m < 1 || d < 1)
        return model_fail(model, MDNMF_ERR_ARGUMENT, "basis must be a non-empty m x d matrix");
    for (int64_t i = 0; i < m * d; i++)
        if (!(W[i] >= 0.0f) || isinf(W[i]))
            return model_fail(model, MDNMF_ERR_DATA,
                              "basis entry (row %lld, atom %lld) is %g: a basis must be "
                              "non-negative and finite",
                              (long long)(i % m), (long long)(i / m), (double)W[i]);
    float *copy = malloc((size_t)(m * d) * sizeof *copy);
    if (!copy)
        return model_fail(model, MDNMF_ERR_MEMORY, "out of memory for the basis");
    memcpy(copy, W, (size_t)(m * d) * sizeof *copy);
    return model_adopt_basis(model, copy, m, d);
}

int mdnmf_model_set_basis(mdnmf_model *model, const float *W, int64_t m, int64_t d,
                          mdnmf_error *error)
{
    model_clear_error(model);
    return model_report(model, set_basis(model, W, m, d), error);
}

static int set_mu_H(mdnmf_model *model, const float *mu_H, int64_t d)
{
    if (!model)
        return MDNMF_ERR_ARGUMENT;
    if (!mu_H || d < 1)
        return model_fail(model, MDNMF_ERR_ARGUMENT, "mu_H must be a non-empty vector");
    if (model->atoms != d && model->atoms != 0)
        return model_fail(model, MDNMF_ERR_SHAPE,
                          "mu_H has %lld entries but the model has %lld atoms", (long long)d,
                          (long long)model->atoms);
    for (int64_t k = 0; k < d; k++)
        if (!finite_non_negative(mu_H[k]))
            return model_fail(model, MDNMF_ERR_DATA, "mu_H[%lld] = %g must be finite and >= 0",
                              (long long)k, (double)mu_H[k]);
    float *copy = malloc((size_t)d * sizeof *copy);
    if (!copy)
        return model_fail(model, MDNMF_ERR_MEMORY, "out of memory for mu_H");
    memcpy(copy, mu_H, (size_t)d * sizeof *copy);
    free(model->mu_H);
    model->mu_H = copy;
    model->mu_H_custom = 1;
    if (model->atoms == 0)
        model->atoms = d; /* a basis of this size is expected by the next fit */
    return MDNMF_OK;
}

int mdnmf_model_set_mu_H(mdnmf_model *model, const float *mu_H, int64_t d, mdnmf_error *error)
{
    model_clear_error(model);
    return model_report(model, set_mu_H(model, mu_H, d), error);
}

static int set_shard(mdnmf_model *model, const mdnmf_shard *shard)
{
    if (!model)
        return MDNMF_ERR_ARGUMENT;
    if (!shard) {
        model->sharded = 0;
        return MDNMF_OK;
    }
    if (!shard->reduce)
        return model_fail(model, MDNMF_ERR_ARGUMENT, "a shard needs a reduce callback");
    if (shard->ranks < 0 || (shard->ranks == 0 && shard->rank != 0) ||
        (shard->ranks > 0 && (shard->rank < 0 || shard->rank >= shard->ranks)))
        return model_fail(model, MDNMF_ERR_ARGUMENT,
                          "shard rank %d of %d ranks: the rank must lie in [0, ranks) "
                          "(ranks 0: the explicit mode, rank 0)",
                          (int)shard->rank, (int)shard->ranks);
    if (shard->ranks > 0) {
        if (shard->n_total || shard->offset || shard->n_adv_total || shard->offset_adv)
            return model_fail(model, MDNMF_ERR_ARGUMENT,
                              "a shard by rank derives n_total and the offsets itself: leave "
                              "them 0");
        model->shard = *shard;
        model->sharded = 1;
        return MDNMF_OK;
    }
    if (shard->n_total < 1 || shard->offset < 0 || shard->offset >= shard->n_total ||
        shard->n_adv_total < 0 || shard->offset_adv < 0 ||
        (shard->n_adv_total > 0 && shard->offset_adv >= shard->n_adv_total))
        return model_fail(model, MDNMF_ERR_ARGUMENT,
                          "shard offsets %lld of %lld (adversarial %lld of %lld) must lie in "
                          "their data",
                          (long long)shard->offset, (long long)shard->n_total,
                          (long long)shard->offset_adv, (long long)shard->n_adv_total);
    model->shard = *shard;
    model->sharded = 1;
    return MDNMF_OK;
}

int mdnmf_model_set_shard(mdnmf_model *model, const mdnmf_shard *shard, mdnmf_error *error)
{
    model_clear_error(model);
    return model_report(model, set_shard(model, shard), error);
}

void mdnmf_model_shape(const mdnmf_model *model, int64_t *m, int64_t *d)
{
    int has_basis = model && model->W;
    if (m) *m = has_basis ? model->m : 0;
    if (d) *d = has_basis ? model->atoms : 0;
}

const float *mdnmf_model_basis(const mdnmf_model *model)
{
    return model ? model->W : NULL;
}

const float *mdnmf_model_mu_H(const mdnmf_model *model)
{
    return model ? model->mu_H : NULL;
}

const float *mdnmf_model_activations(const mdnmf_model *model, int64_t *n)
{
    if (n) *n = model ? model->n_H : 0;
    return model ? model->H : NULL;
}

const float *mdnmf_model_adv_activations(const mdnmf_model *model, int64_t *n)
{
    if (n) *n = model ? model->n_H_adv : 0;
    return model ? model->H_adv : NULL;
}

int mdnmf_model_source_count(const mdnmf_model *model)
{
    return model && model->W ? model->sources : 0;
}

const int64_t *mdnmf_model_components(const mdnmf_model *model)
{
    return model ? model->components : NULL;
}

void model_set_activations(mdnmf_model *model, float *H, int64_t n, float *H_adv, int64_t n_adv)
{
    model_clear_activations(model);
    model->H = H;
    model->n_H = n;
    model->H_adv = H_adv;
    model->n_H_adv = n_adv;
}

const char *audio_params_problem(const mdnmf_audio_params *audio)
{
    if (!audio || audio->sample_rate < 1 || audio->n_fft < 2 || audio->hop_length < 1 ||
        audio->win_length < 1 || audio->hop_length > audio->n_fft ||
        audio->win_length > audio->n_fft)
        return "audio parameters need sample_rate, n_fft, hop_length, win_length > 0 with "
               "hop_length and win_length <= n_fft";
    return features_problem(audio);
}

static int set_audio(mdnmf_model *model, const mdnmf_audio_params *audio)
{
    if (!model)
        return MDNMF_ERR_ARGUMENT;
    const char *problem = audio_params_problem(audio);
    if (problem)
        return model_fail(model, MDNMF_ERR_ARGUMENT, "%s", problem);
    int64_t rows = features_rows(audio, audio->n_fft / 2 + 1);
    if (model->W && model->m != rows)
        return model_fail(model, MDNMF_ERR_SHAPE,
                          "n_fft = %d with %d context frames gives %lld feature rows but the "
                          "basis has %lld rows", audio->n_fft, audio->context, (long long)rows,
                          (long long)model->m);
    model->audio = *audio;
    return MDNMF_OK;
}

int mdnmf_model_set_audio(mdnmf_model *model, const mdnmf_audio_params *audio,
                          mdnmf_error *error)
{
    model_clear_error(model);
    return model_report(model, set_audio(model, audio), error);
}

const mdnmf_audio_params *mdnmf_model_audio(const mdnmf_model *model)
{
    return model && model->audio.sample_rate > 0 ? &model->audio : NULL;
}
