/* Separators of S sources (SPEC §4–§6): adversarial data, the fitting
 * modes, and Wiener separation. */
#include "internal.h"
#include "checkpoint.h"
#include "linalg.h"
#include "rng.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The separator's own random stream (after the true/adversarial streams). */
#define SEPARATOR_STREAM 2
/* Bounds of the knobs that have no natural limit: beyond them nothing
 * changes but the time (steps) or float32 overflows (Ũ^p). */
#define MAX_NOISE_STEPS 64
#define MAX_WIENER_EXPONENT 8.0

void mdnmf_separator_params_default(mdnmf_separator_params *p, int sources)
{
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    mdnmf_params_default(&p->common);
    p->mode = MDNMF_MODE_STD;
    p->sources = sources;
    for (int s = 0; s < MDNMF_MAX_SOURCES; s++) {
        p->mu_H[s] = p->common.mu_H;
        p->tau_A[s] = p->common.tau_A;
        p->beta[s] = 1.0;
    }
    p->tau_S = 1.0;
    p->noise_steps = 1;
    p->wiener_exponent = 1.0;
}

const char *separator_params_problem(const mdnmf_separator_params *p)
{
    if (!p) return "params is NULL";
    if (p->sources < 2 || p->sources > MDNMF_MAX_SOURCES)
        return "sources must be between 2 and 16";
    if ((unsigned)p->mode > MDNMF_MODE_SEMI_ADV) return "unknown mode";
    for (int s = 0; s < p->sources; s++) {
        if (p->d[s] < 1) return "every source needs d >= 1 atoms";
        if (!float_non_negative(p->mu_H[s])) return "mu_H must be >= 0 and finite in float32 (at most 3.4e38)";
        if (!float_non_negative(p->tau_A[s])) return "tau_A must be >= 0 and finite in float32 (at most 3.4e38)";
        if (!float_non_negative(p->beta[s])) return "beta must be >= 0 and finite in float32 (at most 3.4e38)";
    }
    if (!float_non_negative(p->tau_S)) return "tau_S must be >= 0 and finite in float32 (at most 3.4e38)";
    if (p->batch_size_sup < 0) return "batch_size_sup must be >= 0 (0 = all columns)";
    if (p->warm_start_epochs < 0) return "warm_start_epochs must be >= 0";
    if (p->noise_steps < 0 || p->noise_steps > MAX_NOISE_STEPS)
        return "noise_steps must be between 0 and 64 (0 = 1)";
    if (!(p->wiener_exponent >= 0.0 && p->wiener_exponent <= MAX_WIENER_EXPONENT))
        return "wiener_exponent must be between 0 and 8 (0 = 1)";
    mdnmf_params common = p->common;
    common.d = 1; /* per source, checked above */
    return params_problem(&common);
}

int mdnmf_separator_params_check(const mdnmf_separator_params *p, mdnmf_error *error)
{
    const char *problem = separator_params_problem(p);
    return error_report(error, problem ? MDNMF_ERR_ARGUMENT : MDNMF_OK, problem);
}

/* ------------------------------------------------------------ set-up */

typedef struct separation {
    mdnmf_model *model;
    const mdnmf_separator_params *p;
    const mdnmf_separation_data *data;
    int S;
    int64_t m, atoms;
    int64_t offset[MDNMF_MAX_SOURCES + 1]; /* first atom of each source */
    float *W;                  /* m x atoms, the bases being fitted */
    float *lambda;             /* atoms */
    const float *W_warm;       /* the model's bases to warm-start from, or NULL */
    int stage, stages;         /* progress across the per-source fits */
    checkpoint *ck;            /* the run's checkpointing, or NULL */
    /* Sharded (the model's shard, rank mode), or NULL.  Per data set, its
     * global columns and this process's first of them: sources 0..S-1,
     * then the mixtures (S) and the pairs (S + 1). */
    const mdnmf_shard *shard;
    int64_t n_global[MDNMF_MAX_SOURCES + 2], first[MDNMF_MAX_SOURCES + 2];
} separation;

/* The global column count of data set `set` of n columns here. */
static int64_t global_columns(const separation *sep, int set, int64_t n)
{
    return sep->shard ? sep->n_global[set] : n;
}

/* Source s's clean data's layout: one segment. */
static void source_layout(const separation *sep, int s, shard_layout *layout)
{
    *layout = (shard_layout){.n_global = sep->n_global[s], .count = 1};
    layout->segment[0].start = sep->first[s];
    layout->segment[0].columns = sep->data->n[s];
}

/* In the semi modes a known source without clean data keeps the basis of
 * the warm-start model as it is: only the last basis is learned (what a
 * denoiser does with new recordings). */
static int is_frozen(const separation *sep, int s)
{
    mdnmf_mode mode = sep->p->mode;
    return (mode == MDNMF_MODE_SEMI || mode == MDNMF_MODE_SEMI_ADV) && s < sep->S - 1 &&
           !sep->data->U[s] && sep->W_warm;
}

static int has_clean_data(const separation *sep, int s)
{
    mdnmf_mode mode = sep->p->mode;
    if (mode == MDNMF_MODE_SUP)
        return 0;
    if (mode == MDNMF_MODE_SEMI || mode == MDNMF_MODE_SEMI_ADV)
        return s < sep->S - 1 && !is_frozen(sep, s);
    return 1;
}

static int needs_mixtures(mdnmf_mode mode)
{
    return mode == MDNMF_MODE_SEMI || mode == MDNMF_MODE_SEMI_ADV;
}

static int needs_pairs(mdnmf_mode mode)
{
    return mode == MDNMF_MODE_SUP || mode == MDNMF_MODE_FULL;
}

static int check_separation_data(separation *sep)
{
    const mdnmf_separation_data *x = sep->data;
    mdnmf_model *model = sep->model;
    const char *mode = separator_mode_name(sep->p->mode);
    char name[64];
    int status = MDNMF_OK;
    for (int s = 0; s < sep->S && !status; s++) {
        if (!has_clean_data(sep, s))
            continue;
        if (!x->U[s])
            return model_fail(model, MDNMF_ERR_ARGUMENT,
                              "mode %s needs clean training data for source %d", mode, s);
        snprintf(name, sizeof name, "source %d data", s);
        status = check_matrix(model, name, x->U[s], x->m, x->n[s]);
    }
    if (!status && needs_mixtures(sep->p->mode) && !x->V)
        return model_fail(model, MDNMF_ERR_ARGUMENT,
                          "mode %s needs mixtures (the last source is learned from them)", mode);
    if (!status && x->V)
        status = check_matrix(model, "mixtures", x->V, x->m, x->n_V);
    if (!status && needs_pairs(sep->p->mode)) {
        if (!x->V_sup)
            return model_fail(model, MDNMF_ERR_ARGUMENT,
                              "mode %s needs paired data: clean sources and their mixtures",
                              mode);
        status = check_matrix(model, "paired mixtures", x->V_sup, x->m, x->n_sup);
        for (int s = 0; s < sep->S && !status; s++) {
            if (!x->U_sup[s])
                return model_fail(model, MDNMF_ERR_ARGUMENT,
                                  "mode %s needs the paired clean data of source %d", mode, s);
            snprintf(name, sizeof name, "paired source %d data", s);
            status = check_matrix(model, name, x->U_sup[s], x->m, x->n_sup);
        }
    }
    return status;
}

/* The parameters of source s's own fits: its d, μ_H and τ_A, and a seed of
 * its own so that the sources draw unrelated numbers. */
static void source_params(const separation *sep, int s, int epochs, mdnmf_params *out)
{
    *out = sep->p->common;
    out->d = (int)sep->p->d[s];
    out->mu_H = sep->p->mu_H[s];
    out->tau_A = sep->p->tau_A[s];
    out->epochs = epochs;
    out->warm_start = 0;
    out->seed = sep->p->common.seed + 0x9E3779B97F4A7C15ull * (uint64_t)(s + 1);
}

/* ------------------------------------------------------------ §4 */

/* Adversarial data of source i (SPEC §4): the other sources' clean data
 * (those with `included[j]`) and the mixtures, each block scaled by the
 * square root of its share, and the penalty weights ω.  With U_adv and
 * omega NULL only the column count is computed. */
static int64_t adversarial_columns(const mdnmf_separation_data *x, int S, int i,
                                   const int *included)
{
    int64_t total = x->V ? x->n_V : 0;
    for (int j = 0; j < S; j++)
        if (j != i && included[j])
            total += x->n[j];
    return total;
}

/* `share_n` (NULL: the blocks' own counts) gives each block's count for
 * its share of `total`: a sharded fit's global counts (index S: mixtures). */
static void fill_adversarial(const mdnmf_separation_data *x, int S, int i, const int *included,
                             double beta, int64_t total, const int64_t *share_n, float *U_adv,
                             float *omega)
{
    int64_t m = x->m, column = 0;
    for (int j = 0; j <= S; j++) {
        int mixed = j == S;
        if (mixed ? !x->V : (j == i || !included[j]))
            continue;
        const float *block = mixed ? x->V : x->U[j];
        int64_t n = mixed ? x->n_V : x->n[j];
        double share = (double)(share_n ? share_n[j] : n) / (double)total;
        double weight = mixed ? beta : 1.0;
        float scale = (float)(sqrt(share) * weight);
        for (int64_t c = 0; c < m * n; c++)
            U_adv[column * m + c] = scale * block[c];
        for (int64_t c = 0; c < n; c++)
            omega[column + c] = (float)(share * weight);
        column += n;
    }
}

/* Sharded: which global columns of the concatenation Û_i (the included
 * sources' data in source order, then the mixtures: the unsharded order)
 * this process's Û_i holds, one segment per block; its global size. */
static int64_t adversarial_layout(const separation *sep, int i, const int *included,
                                  shard_layout *layout)
{
    const mdnmf_separation_data *x = sep->data;
    int64_t start = 0;
    *layout = (shard_layout){0};
    for (int j = 0; j <= sep->S; j++) {
        int mixed = j == sep->S;
        if (mixed ? !x->V : (j == i || !included[j]))
            continue;
        int64_t here = mixed ? x->n_V : x->n[j];
        if (here > 0) {
            layout->segment[layout->count].start = start + sep->first[j];
            layout->segment[layout->count].columns = here;
            layout->count++;
        }
        start += sep->n_global[j];
    }
    layout->n_global = start;
    return start;
}

/* Û_i and ω_i malloc'ed; returns the column count, 0 (none) or -1 (memory).
 * Sharded: this process's columns of them, `layout` saying which (and
 * the count is 0 only when the global Û_i is empty). */
static int64_t build_adversarial(const separation *sep, int i, float **U_adv, float **omega,
                                 shard_layout *layout)
{
    int included[MDNMF_MAX_SOURCES];
    for (int j = 0; j < sep->S; j++)
        included[j] = has_clean_data(sep, j);
    int64_t total = adversarial_columns(sep->data, sep->S, i, included);
    int64_t share_total = sep->shard ? adversarial_layout(sep, i, included, layout) : total;
    *U_adv = NULL, *omega = NULL;
    if (share_total == 0)
        return 0;
    *U_adv = malloc((size_t)(sep->m * (total > 0 ? total : 1)) * sizeof **U_adv);
    *omega = malloc((size_t)(total > 0 ? total : 1) * sizeof **omega);
    if (!*U_adv || !*omega) {
        free(*U_adv), free(*omega);
        *U_adv = NULL, *omega = NULL;
        return -1;
    }
    fill_adversarial(sep->data, sep->S, i, included, sep->p->beta[i], share_total,
                     sep->shard ? sep->n_global : NULL, *U_adv, *omega);
    return total;
}

int mdnmf_adversarial_data(const mdnmf_separation_data *data, int sources, int source,
                           double beta, float *U_adv, float *omega, int64_t *n_adv,
                           mdnmf_error *error)
{
    if (!data || !n_adv)
        return error_fail(error, MDNMF_ERR_ARGUMENT, "adversarial data: data or n_adv is NULL");
    if (sources < 1 || sources > MDNMF_MAX_SOURCES || source < 0 || source >= sources)
        return error_fail(error, MDNMF_ERR_ARGUMENT,
                          "adversarial data: source %d of %d sources is out of range", source,
                          sources);
    if (!(beta >= 0.0) || isinf(beta))
        return error_fail(error, MDNMF_ERR_ARGUMENT,
                          "adversarial data: beta = %g must be finite and >= 0", beta);
    int included[MDNMF_MAX_SOURCES];
    for (int j = 0; j < sources; j++)
        included[j] = data->U[j] != NULL && data->n[j] > 0;
    int64_t total = adversarial_columns(data, sources, source, included);
    *n_adv = total;
    if (U_adv && omega && total > 0)
        fill_adversarial(data, sources, source, included, beta, total, NULL, U_adv, omega);
    return error_ok(error);
}

/* ------------------------------------------------------------ per-source fits */

static void fill_lambda(const separation *sep, int s, float *lambda)
{
    for (int64_t k = 0; k < sep->p->d[s]; k++)
        lambda[k] = (float)sep->p->mu_H[s];
}

static float *source_basis(separation *sep, int s)
{
    return sep->W + sep->offset[s] * sep->m;
}

static const float *warm_basis(const separation *sep, int s)
{
    return sep->W_warm ? sep->W_warm + sep->offset[s] * sep->m : NULL;
}

/* The terms of a source's own fit (SPEC §2, §3): its clean data, which the
 * basis should explain, with weight τ_W (1 for NMF) ... */
static basis_term true_term(const mdnmf_params *params, const float *U, int64_t n, double tau_W)
{
    return (basis_term){.U = U, .n = n, .batch = params->batch_size, .weight = tau_W,
                        .sign = TERM_ATTRACTS};
}

/* ... and its adversarial data Û, ω (SPEC §4), which it should explain
 * badly, with weight τ_A. */
static basis_term adversarial_term(const mdnmf_params *params, const float *U_adv,
                                   int64_t n_adv, const float *omega)
{
    return (basis_term){.U = U_adv, .n = n_adv, .batch = params->batch_size_adv,
                        .weight = params->tau_A, .sign = TERM_REPELS, .omega = omega};
}

/* Fit source s on `U` (NMF, or MDNMF when U_adv): warm_start_epochs of NMF
 * first where the mode asks for it, then the main fit.  The basis lands in
 * sep->W. */
static int fit_source(separation *sep, int s, const float *U, int64_t n, const float *U_adv,
                      int64_t n_adv, const float *omega, const shard_layout *adv_layout,
                      int warm_up)
{
    int64_t m = sep->m, d = sep->p->d[s];
    mdnmf_params params;
    float *lambda = sep->lambda + sep->offset[s];
    const float *start = warm_basis(sep, s);
    int status = MDNMF_OK;
    shard_layout layout;
    if (sep->shard)
        source_layout(sep, s, &layout);
    /* Checked before the warm-up too: its exemplar init needs d <= n (of
     * all processes' columns: the same answer everywhere). */
    int64_t samples = global_columns(sep, s, n);
    if (!start && sep->p->common.init == MDNMF_INIT_EXEMPLAR && d > samples)
        return model_fail(sep->model, MDNMF_ERR_SHAPE,
                          "source %d: d = %lld atoms but only %lld samples; "
                          "exemplar init needs d <= samples",
                          s, (long long)d, (long long)samples);
    /* The warm-up's basis lands in sep->W, where the main fit starts from
     * it: a checkpoint of the main fit's start holds it there. */
    if (warm_up && sep->p->warm_start_epochs > 0) {
        if (checkpoint_skips(sep->ck, sep->stage)) {
            sep->stage++;
        } else {
            source_params(sep, s, sep->p->warm_start_epochs, &params);
            basis_term truth = true_term(&params, U, n, 1.0);
            basis_fit job = {.params = &params, .lambda = lambda, .W_start = start,
                             .terms = &truth, .term_count = 1, .stage = sep->stage++,
                             .stages = sep->stages, .ck = sep->ck, .shard = sep->shard,
                             .layout = {&layout, NULL}};
            status = fit_basis(sep->model, m, &job);
            if (job.W)
                memcpy(source_basis(sep, s), job.W, (size_t)(m * d) * sizeof *job.W);
            free(job.W), free(job.H), free(job.H_adv);
            if (status)
                return status;
        }
        start = source_basis(sep, s);
    }
    if (checkpoint_skips(sep->ck, sep->stage)) {
        sep->stage++;
        return MDNMF_OK;
    }
    source_params(sep, s, sep->p->common.epochs, &params);
    int adversarial = n_adv > 0;
    basis_term terms[2] = {true_term(&params, U, n, adversarial ? params.tau_W : 1.0),
                           adversarial_term(&params, U_adv, n_adv, omega)};
    basis_fit job = {.params = &params, .lambda = lambda, .W_start = start, .terms = terms,
                     .term_count = adversarial ? 2 : 1, .stage = sep->stage++,
                     .stages = sep->stages, .ck = sep->ck, .shard = sep->shard,
                     .layout = {&layout, adv_layout}};
    status = fit_basis(sep->model, m, &job);
    if (job.W)
        memcpy(source_basis(sep, s), job.W, (size_t)(m * d) * sizeof *job.W);
    free(job.W), free(job.H), free(job.H_adv);
    return status;
}

static int fit_source_adversarially(separation *sep, int s)
{
    float *U_adv, *omega;
    shard_layout layout;
    int64_t n_adv = build_adversarial(sep, s, &U_adv, &omega, &layout);
    if (n_adv < 0)
        return model_fail(sep->model, MDNMF_ERR_MEMORY, "out of memory for adversarial data");
    if (n_adv == 0)
        return model_fail(sep->model, MDNMF_ERR_ARGUMENT,
                          "source %d has no adversarial data: MDNMF needs other sources' data "
                          "or mixtures",
                          s);
    const mdnmf_separation_data *x = sep->data;
    int status = fit_source(sep, s, x->U[s], x->n[s], U_adv, n_adv, omega, &layout, 1);
    free(U_adv), free(omega);
    return status;
}

static int fit_independent_sources(separation *sep, int adversarial)
{
    const mdnmf_separation_data *x = sep->data;
    int stages_per_source = 1 + (adversarial && sep->p->warm_start_epochs > 0);
    for (int s = 0; s < sep->S; s++) {
        if (!has_clean_data(sep, s))
            continue;
        /* A resume past this source: its basis is in the restored bases. */
        if (checkpoint_skips(sep->ck, sep->stage + stages_per_source - 1)) {
            sep->stage += stages_per_source;
            continue;
        }
        /* τ_A = 0 is NMF (SPEC §3), after the same warm-up as the others. */
        int status = adversarial && sep->p->tau_A[s] > 0.0
                         ? fit_source_adversarially(sep, s)
                         : fit_source(sep, s, x->U[s], x->n[s], NULL, 0, NULL, NULL,
                                      adversarial);
        if (status)
            return status;
    }
    return MDNMF_OK;
}

static int exemplar_sources(separation *sep)
{
    for (int s = 0; s < sep->S; s++) {
        mdnmf_params params;
        source_params(sep, s, 0, &params);
        float *W;
        shard_layout layout;
        if (sep->shard)
            source_layout(sep, s, &layout);
        int status = sep->shard ? exemplar_basis_sharded(sep->model, &params, sep->data->U[s],
                                                         sep->m, sep->shard, &layout, &W)
                                : exemplar_basis(sep->model, &params, sep->data->U[s], sep->m,
                                                 sep->data->n[s], &W);
        if (status)
            return status;
        memcpy(source_basis(sep, s), W, (size_t)(sep->m * sep->p->d[s]) * sizeof *W);
        free(W);
    }
    return MDNMF_OK;
}

/* ------------------------------------------------------------ joint fits */

/* State shared by the fits that move all bases together over mixtures
 * (DNMF, D+MDNMF, the semi-supervised noise basis). */
typedef struct joint {
    const float *V;   /* m x n mixtures the activations belong to */
    int64_t n, batch;
    float *H;         /* atoms x n */
    int64_t *perm, *idx;
    float *V_b, *H_b; /* m x batch, atoms x batch */
    float *U_b;       /* m x batch: a term's batch of other data (DNMF's pairs), or NULL */
    float *WtW, *G;   /* atoms x atoms, atoms x atoms */
    float *num, *den; /* m x atoms each */
    int threads;      /* of the library's parallel regions */
    float *num_H, *den_H; /* atoms x LINALG_CHUNK per thread */
    float *norms;     /* atoms */
    float *work;      /* m x LINALG_CHUNK for the losses, only with a callback */
    float *fixed_WtV; /* semi: W_tᵀV of the fixed sources, fixed_rows x n */
    int64_t fixed_rows;
    float guard_H, guard_W;
    beta_work beta;   /* KL and IS: the guard on Λ and the work of their steps */
    const beta_work *bw; /* &beta, or NULL for Frobenius */
    rng stream;
    checkpoint *ck;   /* where its arrays are tracked ("joint.H", ...) */
    /* Sharded (docs/distributed.md, "Sharded separator fits"), or NULL:
     * V holds this process's columns of the n_global mixtures (pairs), the
     * layout says which; a batch holds `count` of its B columns here. */
    const mdnmf_shard *shard;
    shard_layout layout;
    int64_t n_global, count;
    float *reduce_buf; /* a batch's sums of the moving sources, and their flags */
    int64_t reduce_flags; /* where the flags start in it (set per batch) */
    int reduce_failed; /* the reduce callback failed: the fit fails */
} joint;

/* What a joint fit does each epoch (SPEC §6), for the one driver
 * run_joint_epochs:  shuffle the mixtures (or pairs); move the bases of
 * sources [first, last) -- per batch, each by one W step over its term
 * (DNMF, semi), or each by an epoch of its own fit (D+MDNMF); one H step on
 * the mixtures, after the bases move or, for D+MDNMF whose fits read it,
 * before; then normalise, check and report. */
typedef struct joint_plan {
    int first, last;                 /* the sources whose bases move */
    term_batch terms[MDNMF_MAX_SOURCES];       /* source s's term on the joint batch */
    const float *term_data[MDNMF_MAX_SOURCES]; /* what its data batch is gathered
                                                * from; NULL: the mixtures */
    fit **fits;              /* D+MDNMF: the sources' own fits, run an epoch each */
    int activation_first;    /* the H step comes before the bases move */
    int watched;             /* the driver normalises, checks and reports (the
                              * D+MDNMF fits do that themselves) */
    int steps;               /* W steps per batch with the same H (0 = 1) */
} joint_plan;

static void trace_draw(const separation *sep, mdnmf_trace_kind kind, int epoch, const void *data,
                       int64_t count)
{
    const mdnmf_params *c = &sep->p->common;
    if (c->on_trace)
        c->on_trace(c->on_trace_user, kind, epoch, data, count);
}

/* The epoch's permutation of the mixtures (or pairs). */
static void joint_shuffle(const separation *sep, joint *j, int epoch)
{
    rng_permutation(&j->stream, j->perm, j->n_global);
    trace_draw(sep, MDNMF_TRACE_JOINT_PERM, epoch, j->perm, j->n_global);
}

/* Combine a joint fit's buffer across the processes (nothing unsharded). */
static int joint_reduce(separation *sep, joint *j, void *buffer, int64_t count,
                        mdnmf_reduce_op op)
{
    if (!j->shard || j->reduce_failed)
        return j->reduce_failed ? MDNMF_ERR_IO : MDNMF_OK;
    int status = shard_reduce_buffer(sep->model, j->shard, buffer, count, op);
    j->reduce_failed = status != MDNMF_OK;
    return status;
}

static void free_joint(joint *j)
{
    checkpoint_untrack(j->ck, "joint.");
    free(j->H), free(j->perm), free(j->idx), free(j->V_b), free(j->H_b), free(j->U_b);
    free(j->WtW), free(j->G), free(j->num), free(j->den), free(j->num_H), free(j->den_H);
    free(j->norms), free(j->work), free(j->fixed_WtV), free(j->beta.work);
    free(j->reduce_buf);
    memset(j, 0, sizeof *j);
}

/* `with_data_batch`: a term reads data other than the mixtures (j->U_b).
 * `set`: which of the separation's data sets V is (its layout when
 * sharded).  Sharded, a failure is agreed by all processes. */
static int open_joint(separation *sep, joint *j, const float *V, int64_t n, int64_t batch,
                      int with_data_batch, int set)
{
    int64_t m = sep->m, D = sep->atoms;
    memset(j, 0, sizeof *j);
    j->shard = sep->shard;
    j->n_global = global_columns(sep, set, n);
    if (j->shard) {
        j->layout = (shard_layout){.n_global = j->n_global, .count = 1};
        j->layout.segment[0].start = sep->first[set];
        j->layout.segment[0].columns = n;
    }
    j->V = V, j->n = n, j->batch = batch <= 0 || batch > j->n_global ? j->n_global : batch;
    j->count = j->batch;
    j->threads = linalg_threads();
    j->H = malloc((size_t)(D * n) * sizeof *j->H);
    j->perm = malloc((size_t)j->n_global * sizeof *j->perm);
    /* per moving source: m x d data part, D x d Gram, the voiced flag */
    if (j->shard)
        j->reduce_buf = malloc((size_t)(m * D + D * D + sep->S) * sizeof *j->reduce_buf);
    j->idx = malloc((size_t)j->batch * sizeof *j->idx);
    j->V_b = malloc((size_t)(m * j->batch) * sizeof *j->V_b);
    j->H_b = malloc((size_t)(D * j->batch) * sizeof *j->H_b);
    if (with_data_batch)
        j->U_b = malloc((size_t)(m * j->batch) * sizeof *j->U_b);
    j->WtW = malloc((size_t)(D * D) * sizeof *j->WtW);
    j->G = malloc((size_t)(D * D) * sizeof *j->G);
    j->num = malloc((size_t)(m * D) * sizeof *j->num);
    j->den = malloc((size_t)(m * D) * sizeof *j->den);
    /* The H steps work through LINALG_CHUNK columns at a time, whatever the batch. */
    j->num_H = malloc((size_t)(j->threads * D * LINALG_CHUNK) * sizeof *j->num_H);
    j->den_H = malloc((size_t)(j->threads * D * LINALG_CHUNK) * sizeof *j->den_H);
    j->norms = malloc((size_t)D * sizeof *j->norms);
    if (sep->p->common.on_epoch)
        j->work = malloc((size_t)(m * LINALG_CHUNK) * sizeof *j->work);
    int no_beta_work = beta_work_open(&j->beta, sep->p->common.divergence, m, j->threads, &j->bw);
    if (!j->H || !j->perm || !j->idx || !j->V_b || !j->H_b || (with_data_batch && !j->U_b) ||
        !j->WtW || !j->G || !j->num || !j->den || !j->num_H || !j->den_H || !j->norms ||
        (sep->p->common.on_epoch && !j->work) || no_beta_work || (j->shard && !j->reduce_buf)) {
        free_joint(j);
        return shard_agree(sep->model, sep->shard,
                           model_fail(sep->model, MDNMF_ERR_MEMORY,
                                      "out of memory for a joint fit"));
    }
    rng_seed(&j->stream, sep->p->common.seed, SEPARATOR_STREAM);
    j->ck = sep->ck;
    int status = shard_agree(sep->model, sep->shard, MDNMF_OK);
    if (status)
        free_joint(j);
    return status;
}

/* The joint fit's state at an epoch boundary (with the bases in sep->W):
 * its activations, random stream and guards; restored when the checkpoint
 * resumes this stage (`restore`), and tracked. */
static int attach_joint(separation *sep, joint *j, int restore)
{
    struct {
        const char *name;
        checkpoint_kind kind;
        void *data;
        int64_t count;
    } arrays[] = {{"joint.H", CHECKPOINT_F32, j->H, sep->atoms * j->n},
                  {"joint.stream", CHECKPOINT_U64, j->stream.s, 4},
                  {"joint.guard_H", CHECKPOINT_F32, &j->guard_H, 1},
                  {"joint.guard_W", CHECKPOINT_F32, &j->guard_W, 1},
                  {"joint.guard_L", CHECKPOINT_F32, &j->beta.guard, 1}};
    /* The guard on Λ only where it is used (KL, IS). */
    size_t count = sizeof arrays / sizeof arrays[0] - (j->bw ? 0 : 1);
    for (size_t i = 0; i < count; i++) {
        int status = restore ? checkpoint_restore(sep->ck, arrays[i].name, arrays[i].kind,
                                                  arrays[i].data, arrays[i].count)
                             : MDNMF_OK;
        if (!status)
            status = checkpoint_track(sep->ck, arrays[i].name, arrays[i].kind, arrays[i].data,
                                      arrays[i].count, 0);
        if (status)
            return restore ? shard_agree(sep->model, sep->shard, status) : status;
    }
    /* Sharded: a process whose file lacks an array stops them all. */
    return restore ? shard_agree(sep->model, sep->shard, MDNMF_OK) : MDNMF_OK;
}

/* H = transform(V) with all current bases; sets the guards from V and W
 * (sharded: the peak of all processes' V, and each its columns' draws). */
static int joint_transform(separation *sep, joint *j)
{
    int64_t m = sep->m, D = sep->atoms;
    float peak = max_entry(j->V, m * j->n);
    int status = joint_reduce(sep, j, &peak, 1, MDNMF_REDUCE_MAX_F32);
    if (status)
        return status;
    divergence_guards(sep->p->common.divergence, peak, max_entry(sep->W, m * D), &j->guard_H,
                      &j->guard_W, &j->beta.guard);
    if (j->shard)
        fill_uniform_columns(&j->stream, j->H, D, &j->layout);
    else
        rng_fill_uniform(&j->stream, j->H, D * j->n);
    trace_draw(sep, MDNMF_TRACE_JOINT_H_RANDOM, 0, j->H, D * j->n);
    if (!j->bw)
        gram_of_columns(sep->W, m, D, 1.0f, j->WtW);
    update_activations_shared(sep->W, j->WtW, j->V, j->H, m, D, j->n,
                              sep->p->common.test_epochs, sep->lambda, NULL, j->guard_H,
                              j->num_H, j->den_H, LINALG_CHUNK, j->bw);
    return MDNMF_OK;
}

/* joint_activation_step with the cached rows of WᵀV on columns [first,
 * last), per chunk:  H <- H ⊙ [W_fixedᵀV ; W_Sᵀ V] ⊘ (WᵀW H + λ1ᵀ) */
static void semi_activation_columns(separation *sep, joint *j, int64_t first, int64_t last,
                                    float *num, float *den)
{
    int64_t m = sep->m, D = sep->atoms, fixed = j->fixed_rows;
    for (int64_t start = first; start < last; start += LINALG_CHUNK) {
        int64_t cols = last - start < LINALG_CHUNK ? last - start : LINALG_CHUNK;
        float *H_c = j->H + start * D;
        for (int64_t c = 0; c < cols; c++)
            memcpy(num + c * D, j->fixed_WtV + (start + c) * fixed,
                   (size_t)fixed * sizeof *num);
        product_strided(1, 0, D - fixed, cols, m, 1.0f, sep->W + fixed * m, m,
                        j->V + start * m, m, 0.0f, num + fixed, D);
        product_AB(D, cols, D, 1.0f, j->WtW, H_c, 0.0f, den);
        mu_step_penalised(H_c, num, den, D, cols, sep->lambda, NULL, j->guard_H);
    }
}

/* The same over all mixtures, the columns shared out between the threads. */
static void semi_activation_step(separation *sep, joint *j)
{
    int parts = j->n >= 2 * SHARED_MIN_COLUMNS ? j->threads : 1;
    int runners = parts < linalg_runners() ? parts : linalg_runners();
#pragma omp parallel num_threads(runners) if (runners > 1)
    FOR_EACH_PART(part, parts)
    {
        int64_t first, last, slice = sep->atoms * LINALG_CHUNK;
        linalg_share(j->n, parts, part, 1, &first, &last);
        semi_activation_columns(sep, j, first, last, j->num_H + part * slice,
                                j->den_H + part * slice);
    }
}

/* One full H step on the mixtures with all bases (SPEC §1, one iteration),
 * from the cached rows of WᵀV when the fit keeps them (semi). */
static void joint_activation_step(separation *sep, joint *j)
{
    if (!j->bw)
        gram_of_columns(sep->W, sep->m, sep->atoms, 1.0f, j->WtW);
    if (j->fixed_WtV)
        semi_activation_step(sep, j);
    else
        update_activations_shared(sep->W, j->WtW, j->V, j->H, sep->m, sep->atoms, j->n, 1,
                                  sep->lambda, NULL, j->guard_H, j->num_H, j->den_H,
                                  LINALG_CHUNK, j->bw);
}

/* Batch b's columns and their activations, and the mixtures' columns when
 * `with_mixtures`: DNMF's W step reads the paired clean data instead and
 * needs them only for a batch-wise H step (an m x B copy per batch saved). */
static void joint_gather(separation *sep, joint *j, int64_t b, int with_mixtures)
{
    for (int64_t k = 0; k < j->batch; k++)
        j->idx[k] = j->perm[(b * j->batch + k) % j->n];
    if (with_mixtures)
        gather_columns(j->V_b, j->V, sep->m, j->idx, j->batch);
    gather_columns(j->H_b, j->H, sep->atoms, j->idx, j->batch);
}

/* Batch-wise H step (update_H) on the gathered batch, written back. */
static void joint_batch_activation_step(separation *sep, joint *j)
{
    if (!j->bw)
        gram_of_columns(sep->W, sep->m, sep->atoms, 1.0f, j->WtW);
    update_activations_shared(sep->W, j->WtW, j->V_b, j->H_b, sep->m, sep->atoms, j->count,
                              1, sep->lambda, NULL, j->guard_H, j->num_H, j->den_H,
                              LINALG_CHUNK, j->bw);
    scatter_columns(j->H, j->H_b, sep->atoms, j->idx, j->count);
}

/* Unit-norm atoms of sources [first, last) with the matching H rows rescaled. */
static void joint_normalize(separation *sep, joint *j, int first, int last)
{
    int64_t m = sep->m, off = sep->offset[first], count = sep->offset[last] - off;
    normalize_columns(sep->W + off * m, m, count, MDNMF_EPS, j->norms);
    scale_row_block(j->H, sep->atoms, j->n, off, count, j->norms);
}

static int joint_notify(separation *sep, joint *j, int epoch)
{
    const mdnmf_params *c = &sep->p->common;
    if (!c->on_epoch)
        return MDNMF_OK;
    mdnmf_progress progress = {.epoch = epoch, .epochs = c->epochs, .stage = sep->stage,
                               .stages = sep->stages};
    double residual = NAN;
    if (!c->skip_losses) {
        /* sharded: the sum of every process's columns over the global N */
        residual = divergence_residual(c->divergence, j->V, sep->W, j->H, sep->m, sep->atoms,
                                       j->n, j->beta.guard, j->work);
        if (joint_reduce(sep, j, &residual, 1, MDNMF_REDUCE_SUM_F64))
            return MDNMF_ERR_IO;
    }
    progress.loss_true = c->skip_losses ? NAN : residual / (double)j->n_global;
    progress.objective = progress.loss_true;
    checkpoint_record(sep->ck, &progress);
    float cancel = c->on_epoch(c->on_epoch_user, &progress) ? 1.0f : 0.0f;
    /* Sharded: one process's stop stops all. */
    if (joint_reduce(sep, j, &cancel, 1, MDNMF_REDUCE_MAX_F32))
        return MDNMF_ERR_IO;
    if (cancel > 0.0f)
        return model_fail(sep->model, MDNMF_ERR_CANCELLED, "fit cancelled at epoch %d", epoch);
    return MDNMF_OK;
}

static int joint_healthy(separation *sep, joint *j, int epoch)
{
    float sick = all_finite(sep->W, sep->m * sep->atoms) && all_finite(j->H, sep->atoms * j->n)
                     ? 0.0f
                     : 1.0f;
    /* Sharded: W is the same everywhere; whether every H is finite is agreed. */
    if (joint_reduce(sep, j, &sick, 1, MDNMF_REDUCE_MAX_F32))
        return MDNMF_ERR_IO;
    if (sick == 0.0f)
        return MDNMF_OK;
    return model_fail(sep->model, MDNMF_ERR_DIVERGED,
                      "the %s fit diverged at epoch %d: non-finite values",
                      separator_mode_name(sep->p->mode), epoch);
}

/* Source s's W step over its term on the joint batch:
 *   W_s <- W_s ⊙ num ⊘ (den + γ)
 * A batch of silent data takes no step (docs/algorithm.md).  The products
 * are single calls; the element-wise step shares out its entries. */
static void joint_basis_step(separation *sep, joint *j, const joint_plan *plan, int s)
{
    int64_t m = sep->m, d = sep->p->d[s];
    const term_batch *term = &plan->terms[s];
    if (plan->term_data[s])
        gather_columns(j->U_b, plan->term_data[s], m, j->idx, j->batch);
    if (!any_positive(term->U_b, m * j->batch))
        return;
    float add = (float)sep->p->common.mu_W + j->guard_W;
    if (!j->bw) {
        term_grams_share(term, 1, d, 1, 0);
        term_sums_rows(term, 1, source_basis(sep, s), m, d, 0, m, j->num, j->den);
        mu_step_scalar(source_basis(sep, s), j->num, j->den, m * d, add);
        return;
    }
    /* SPEC §11 (KL, IS): the sums on Λ, all rows on this thread. */
    if (j->bw->kind == MDNMF_DIVERGENCE_KL)
        term_row_sums_share(term, 1, d, 1, 0);
    term_sums_rows_beta(term, 1, source_basis(sep, s), m, d, 0, m, j->bw,
                        beta_work_part(j->bw, 0), j->num, j->den);
    if (j->bw->kind == MDNMF_DIVERGENCE_IS)
        mu_step_scalar_sqrt(source_basis(sep, s), j->num, j->den, m * d, add);
    else
        mu_step_scalar(source_basis(sep, s), j->num, j->den, m * d, add);
}

static int reads_mixtures(const joint_plan *plan)
{
    for (int s = plan->first; s < plan->last; s++)
        if (!plan->term_data[s])
            return 1;
    return 0;
}

/* Sharded: batch b's global columns (the same on every process), of
 * which this process gathers those it holds. */
static void gather_own_batch(separation *sep, joint *j, int64_t b, int with_mixtures)
{
    int64_t count = 0;
    for (int64_t k = 0; k < j->batch; k++) {
        int64_t local = shard_local_column(&j->layout, j->perm[(b * j->batch + k) % j->n_global]);
        if (local >= 0)
            j->idx[count++] = local;
    }
    j->count = count;
    if (with_mixtures)
        gather_columns(j->V_b, j->V, sep->m, j->idx, count);
    gather_columns(j->H_b, j->H, sep->atoms, j->idx, count);
}

/* Sharded batch b (docs/distributed.md): every moving source's data part
 * τ/B U_b H_bᵀ, its Gram G and whether its data batch has a positive
 * entry, over this process's columns; one reduction adds them up; then
 * every process takes the same W steps (joint_basis_step's) from the sums. */
static void sharded_joint_batch(separation *sep, joint *j, const joint_plan *plan, int64_t b,
                                int with_mixtures)
{
    gather_own_batch(sep, j, b, with_mixtures);
    int64_t m = sep->m, count = j->count, pos = 0;
    float *buffer = j->reduce_buf;
    term_batch terms[MDNMF_MAX_SOURCES];
    float voiced[MDNMF_MAX_SOURCES];
    for (int s = plan->first; s < plan->last; s++) {
        int64_t d = sep->p->d[s];
        term_batch *t = &terms[s];
        *t = plan->terms[s];
        int64_t rows = t->W_model ? t->model_atoms : d;
        float *data_part = buffer + pos;
        t->batch = count;
        t->G = data_part + m * d;
        pos += m * d + rows * d;
        if (plan->term_data[s])
            gather_columns(j->U_b, plan->term_data[s], m, j->idx, count);
        voiced[s] = count > 0 && any_positive(t->U_b, m * count) ? 1.0f : 0.0f;
        if (count < 1) {
            memset(data_part, 0, (size_t)(m * d + rows * d) * sizeof *buffer);
            continue;
        }
        product_strided(0, 1, m, d, count, t->scale, t->U_b, m, t->H_b, t->ldh, 0.0f,
                        data_part, m);
        term_grams_share(t, 1, d, 1, 0);
    }
    j->reduce_flags = pos;
    for (int s = plan->first; s < plan->last; s++)
        buffer[pos + s - plan->first] = voiced[s];
    if (joint_reduce(sep, j, buffer, pos + plan->last - plan->first, MDNMF_REDUCE_SUM_F32))
        return;
    float add = (float)sep->p->common.mu_W + j->guard_W;
    pos = 0;
    for (int s = plan->first; s < plan->last; s++) {
        int64_t d = sep->p->d[s];
        const term_batch *t = &terms[s];
        int64_t atoms = t->W_model ? t->model_atoms : d;
        const float *data_part = buffer + pos;
        pos += m * d + atoms * d;
        /* A batch silent on every process takes no step (joint_basis_step). */
        if (!(buffer[j->reduce_flags + s - plan->first] > 0.0f))
            continue;
        float *W_s = source_basis(sep, s);
        float *data_side = t->sign == TERM_ATTRACTS ? j->num : j->den;
        float *model_side = t->sign == TERM_ATTRACTS ? j->den : j->num;
        for (int step = 0; step < (plan->steps > 1 ? plan->steps : 1); step++) {
            const float *W_model = t->W_model ? t->W_model : W_s;
            memcpy(data_side, data_part, (size_t)(m * d) * sizeof *data_side);
            product_strided(0, 0, m, d, atoms, 1.0f, W_model, m, t->G, atoms, 0.0f, model_side,
                            m);
            mu_step_scalar(W_s, j->num, j->den, m * d, add);
        }
    }
}

static void run_joint_batches(separation *sep, joint *j, const joint_plan *plan)
{
    int update_H = sep->p->common.update_H;
    int with_mixtures = update_H || reads_mixtures(plan);
    for (int64_t b = 0; b < j->n_global / j->batch; b++) {
        linalg_threads_tick();
        if (j->shard) {
            sharded_joint_batch(sep, j, plan, b, with_mixtures);
            if (update_H)
                joint_batch_activation_step(sep, j);
            continue;
        }
        joint_gather(sep, j, b, with_mixtures);
        for (int s = plan->first; s < plan->last; s++)
            for (int step = 0; step < (plan->steps > 1 ? plan->steps : 1); step++)
                joint_basis_step(sep, j, plan, s);
        if (update_H)
            joint_batch_activation_step(sep, j);
    }
}

/* D+MDNMF: each source's fit runs its epoch over its true, adversarial and
 * paired batches (with its own checks and report); its basis joins the
 * others for the next H step. */
static int run_source_epochs(separation *sep, const joint_plan *plan, int epoch)
{
    int status = MDNMF_OK;
    for (int s = plan->first; s < plan->last; s++) {
        int fitted = fit_epoch(plan->fits[s], epoch);
        memcpy(source_basis(sep, s), fit_current_basis(plan->fits[s]),
               (size_t)(sep->m * sep->p->d[s]) * sizeof(float));
        if (fitted != MDNMF_OK && (status == MDNMF_OK || status == MDNMF_ERR_CANCELLED))
            status = fitted;
        /* A stop is saved as a whole epoch: the other sources finish theirs. */
        if (status != MDNMF_OK &&
            !(status == MDNMF_ERR_CANCELLED && checkpoint_writes(sep->ck)))
            break;
    }
    return status;
}

/* The epochs of every joint fit, after its bases and H are initialised. */
/* The epochs of every joint fit, after its bases and H are initialised or
 * restored; each epoch's end goes to the checkpoint. */
static int run_joint_epochs(separation *sep, joint *j, const joint_plan *plan)
{
    const mdnmf_params *c = &sep->p->common;
    checkpoint *ck = sep->ck;
    int restored = checkpoint_restores(ck, sep->stage);
    int first = checkpoint_first_epoch(ck, sep->stage);
    int status = MDNMF_OK;
    if (plan->watched && !restored)
        status = checkpoint_epoch_ends(ck, sep->stage, 0, joint_notify(sep, j, 0));
    for (int epoch = first; epoch <= c->epochs && !status; epoch++) {
        if (plan->activation_first)
            joint_activation_step(sep, j);
        joint_shuffle(sep, j, epoch);
        if (plan->fits)
            status = run_source_epochs(sep, plan, epoch);
        else
            run_joint_batches(sep, j, plan);
        if (plan->watched) {
            if (!c->update_H)
                joint_activation_step(sep, j);
            if (c->normalize)
                joint_normalize(sep, j, plan->first, plan->last);
            status = joint_healthy(sep, j, epoch);
            if (!status)
                status = joint_notify(sep, j, epoch);
        }
        status = checkpoint_epoch_ends(ck, sep->stage, epoch, status);
    }
    sep->stage++;
    return status;
}

/* Initial bases of the paired fits: the model's (warm start), NMF
 * warm-up epochs, or the usual init, on `U_s`: the pairs (`paired`, data
 * set S + 1 when sharded) or each source's clean data. */
static int initial_bases(separation *sep, const float *const *U, const int64_t *n, int paired)
{
    for (int s = 0; s < sep->S; s++) {
        const float *warm = warm_basis(sep, s);
        int64_t md = sep->m * sep->p->d[s];
        if (warm && sep->p->warm_start_epochs == 0) {
            memcpy(source_basis(sep, s), warm, (size_t)md * sizeof *warm);
            continue;
        }
        if (checkpoint_skips(sep->ck, sep->stage)) {
            sep->stage++;
            continue;
        }
        int epochs = sep->p->warm_start_epochs;
        mdnmf_params params;
        source_params(sep, s, epochs, &params);
        int set = paired ? sep->S + 1 : s;
        int64_t samples = global_columns(sep, set, n[s]);
        if (!warm && params.init == MDNMF_INIT_EXEMPLAR && params.d > samples)
            return model_fail(sep->model, MDNMF_ERR_SHAPE,
                              "source %d: d = %d atoms but only %lld samples", s, params.d,
                              (long long)samples);
        shard_layout layout = {.n_global = samples, .count = 1};
        layout.segment[0].start = sep->shard ? sep->first[set] : 0;
        layout.segment[0].columns = n[s];
        basis_term truth = true_term(&params, U[s], n[s], 1.0);
        basis_fit job = {.params = &params, .lambda = sep->lambda + sep->offset[s],
                         .W_start = warm, .terms = &truth, .term_count = 1,
                         .stage = sep->stage++, .stages = sep->stages, .ck = sep->ck,
                         .shard = sep->shard, .layout = {&layout, NULL}};
        int status = fit_basis(sep->model, sep->m, &job);
        if (job.W)
            memcpy(source_basis(sep, s), job.W, (size_t)md * sizeof *job.W);
        free(job.W), free(job.H), free(job.H_adv);
        if (status)
            return status;
    }
    return MDNMF_OK;
}

/* DNMF (SPEC §6 `sup`): every basis on its clean half of the pairs, with
 * the activations of their mixtures:
 *   W_s <- W_s ⊙ (U^sup_{s,b} H_{s,b}ᵀ/B) ⊘ (W_s H_{s,b} H_{s,b}ᵀ/B + γ) */
static void plan_dnmf(const separation *sep, const joint *j, joint_plan *plan)
{
    *plan = (joint_plan){.first = 0, .last = sep->S, .watched = 1};
    for (int s = 0; s < sep->S; s++) {
        plan->term_data[s] = sep->data->U_sup[s];
        plan->terms[s] = (term_batch){.sign = TERM_ATTRACTS, .scale = 1.0f / (float)j->batch,
                                      .batch = j->batch, .U_b = j->U_b,
                                      .H_b = j->H_b + sep->offset[s], .ldh = sep->atoms,
                                      .G = j->G};
    }
}

static int fit_dnmf(separation *sep)
{
    const mdnmf_separation_data *x = sep->data;
    int64_t n[MDNMF_MAX_SOURCES];
    for (int s = 0; s < sep->S; s++)
        n[s] = x->n_sup;
    int status = initial_bases(sep, x->U_sup, n, 1);
    if (status)
        return status;
    joint j;
    status = open_joint(sep, &j, x->V_sup, x->n_sup, sep->p->batch_size_sup, 1, sep->S + 1);
    if (status)
        return status;
    int restoring = checkpoint_restores(sep->ck, sep->stage);
    if (!restoring) {
        checkpoint_stage_begins(sep->ck, sep->stage);
        status = joint_transform(sep, &j);
    }
    if (!status)
        status = attach_joint(sep, &j, restoring);
    if (!status) {
        joint_plan plan;
        plan_dnmf(sep, &j, &plan);
        status = run_joint_epochs(sep, &j, &plan);
    }
    free_joint(&j);
    return status;
}

/* D+MDNMF (SPEC §6 `full`): source s's fit sums three terms,
 *   τ_W on U_s,  τ_A against Û_s,  τ_S on the pairs U^sup_s with the
 *   activations H^sup_s of their mixtures (the joint fit's, read in its
 *   permutation; one H step on V^sup per epoch before the fits run theirs). */
/* Sharded, `layouts` (three, living as long as the fit) say which columns
 * of the true, adversarial and paired data this process holds (the second
 * filled by build_adversarial, the pairs the joint fit's). */
static fit *open_full_source(separation *sep, int s, joint *j, const float *U_adv,
                             int64_t n_adv, const float *omega, mdnmf_params *params,
                             basis_fit *job, basis_term *terms, shard_layout *layouts,
                             int *status)
{
    const mdnmf_separation_data *x = sep->data;
    int warm = sep->p->warm_start_epochs > 0 || sep->W_warm;
    source_params(sep, s, sep->p->common.epochs, params);
    int64_t samples = global_columns(sep, s, x->n[s]);
    if (!warm && params->init == MDNMF_INIT_EXEMPLAR && params->d > samples) {
        *status = model_fail(sep->model, MDNMF_ERR_SHAPE,
                             "source %d: d = %d atoms but only %lld samples", s, params->d,
                             (long long)samples);
        return NULL;
    }
    int count = 0;
    terms[count++] = true_term(params, x->U[s], x->n[s], params->tau_W);
    if (n_adv > 0)
        terms[count++] = adversarial_term(params, U_adv, n_adv, omega);
    terms[count++] = (basis_term){.U = x->U_sup[s], .n = x->n_sup, .batch = j->batch,
                                  .weight = sep->p->tau_S, .sign = TERM_ATTRACTS, .H = j->H,
                                  .rows = sep->atoms, .offset = sep->offset[s],
                                  .perm = j->perm};
    *job = (basis_fit){.params = params, .lambda = sep->lambda + sep->offset[s],
                       .W_start = warm ? source_basis(sep, s) : NULL, .terms = terms,
                       .term_count = count, .stage = sep->stage, .stages = sep->stages,
                       .ck = sep->ck, .slot = s, .shard = sep->shard};
    if (sep->shard) {
        source_layout(sep, s, &layouts[0]);
        job->layout[0] = &layouts[0];
        if (n_adv > 0)
            job->layout[1] = &layouts[1];
        job->layout[count - 1] = &j->layout;
    }
    return fit_open(sep->model, sep->m, job, status);
}

static int fit_full(separation *sep)
{
    const mdnmf_separation_data *x = sep->data;
    int S = sep->S;
    int status = MDNMF_OK;
    if (sep->p->warm_start_epochs > 0 || sep->W_warm)
        status = initial_bases(sep, x->U, x->n, 0);
    fit *fits[MDNMF_MAX_SOURCES] = {0};
    basis_fit jobs[MDNMF_MAX_SOURCES];
    basis_term terms[MDNMF_MAX_SOURCES][3];
    shard_layout layouts[MDNMF_MAX_SOURCES][3]; /* sharded: true, adversarial, paired */
    mdnmf_params params[MDNMF_MAX_SOURCES];
    float *U_adv[MDNMF_MAX_SOURCES] = {0}, *omega[MDNMF_MAX_SOURCES] = {0};
    joint j;
    int joint_open = 0;
    int restoring = checkpoint_restores(sep->ck, sep->stage);
    if (!status) {
        if (!restoring)
            checkpoint_stage_begins(sep->ck, sep->stage);
        status = open_joint(sep, &j, x->V_sup, x->n_sup, sep->p->batch_size_sup, 0, sep->S + 1);
        joint_open = status == MDNMF_OK;
    }
    for (int s = 0; s < S && !status; s++) {
        int64_t n_adv = build_adversarial(sep, s, &U_adv[s], &omega[s], &layouts[s][1]);
        if (n_adv < 0) {
            status = model_fail(sep->model, MDNMF_ERR_MEMORY, "out of memory");
            break;
        }
        fits[s] = open_full_source(sep, s, &j, U_adv[s], n_adv, omega[s], &params[s], &jobs[s],
                                   terms[s], layouts[s], &status);
    }
    /* A stop while the fits report their start saves the stage's start. */
    if (joint_open && !restoring)
        status = checkpoint_epoch_ends(sep->ck, sep->stage, 0, status);
    /* The bases as initialised, then H^sup = transform(V^sup) with all of
     * them; a resumed stage has both restored. */
    for (int s = 0; s < S && !status && !restoring; s++)
        memcpy(source_basis(sep, s), fit_current_basis(fits[s]),
               (size_t)(sep->m * sep->p->d[s]) * sizeof(float));
    if (!status && !restoring)
        status = joint_transform(sep, &j);
    if (!status)
        status = attach_joint(sep, &j, restoring);
    if (!status) {
        joint_plan plan = {.first = 0, .last = S, .fits = fits, .activation_first = 1};
        status = run_joint_epochs(sep, &j, &plan);
    }
    for (int s = 0; s < S; s++) {
        if (fits[s])
            fit_close(fits[s], &jobs[s], 0);
        free(U_adv[s]), free(omega[s]);
    }
    if (joint_open)
        free_joint(&j);
    return status;
}

/* Over the mixtures only the last basis moves, so the rows of WᵀV that
 * belong to the other sources (their atoms come first) are the same in
 * every epoch: computed once here, they save 2·m·rows·n flops of every
 * epoch's H step. */
static int cache_fixed_products(separation *sep, joint *j, int64_t rows)
{
    j->fixed_rows = rows;
    j->fixed_WtV = malloc((size_t)(rows * j->n) * sizeof *j->fixed_WtV);
    if (!j->fixed_WtV)
        return model_fail(sep->model, MDNMF_ERR_MEMORY, "out of memory for the semi fit");
    product_AtB(rows, j->n, sep->m, 1.0f, sep->W, j->V, 0.0f, j->fixed_WtV);
    return MDNMF_OK;
}

/* Semi-supervised (SPEC §6 `semi`, `semi_adv`): the clean sources' bases
 * first, then the last basis learned from the mixtures, which all bases
 * model, with the others fixed:
 *   W_S <- W_S ⊙ (V_b H_{S,b}ᵀ/B) ⊘ (W H_b H_{S,b}ᵀ/B + γ) */
static void plan_semi(const separation *sep, const joint *j, joint_plan *plan)
{
    int last = sep->S - 1;
    *plan = (joint_plan){.first = last, .last = sep->S, .watched = 1,
                         .steps = sep->p->noise_steps};
    plan->terms[last] = (term_batch){.sign = TERM_ATTRACTS, .scale = 1.0f / (float)j->batch,
                                     .batch = j->batch, .U_b = j->V_b,
                                     .H_b = j->H_b + sep->offset[last], .ldh = sep->atoms,
                                     .W_model = sep->W, .H_model_b = j->H_b,
                                     .model_atoms = sep->atoms, .G = j->G};
}

/* The last basis's start: the warm start's, or Uniform(0,1).  Re-learning
 * the noise of new recordings (known sources frozen) starts it afresh, as
 * SPEC's semi fit does: multiplicative updates cannot regrow the near-zero
 * entries of a basis fitted to other noise. */
static void initialise_last_basis(separation *sep, joint *j)
{
    int last = sep->S - 1;
    int64_t md = sep->m * sep->p->d[last];
    int relearning = 0;
    for (int s = 0; s < last; s++)
        relearning |= is_frozen(sep, s);
    if (warm_basis(sep, last) && !relearning) {
        memcpy(source_basis(sep, last), warm_basis(sep, last), (size_t)md * sizeof(float));
        return;
    }
    rng_fill_uniform(&j->stream, source_basis(sep, last), md);
    trace_draw(sep, MDNMF_TRACE_JOINT_W_RANDOM, 0, source_basis(sep, last), md);
    if (sep->p->common.normalize)
        normalize_columns(source_basis(sep, last), sep->m, sep->p->d[last], MDNMF_EPS, NULL);
}

static int fit_semi(separation *sep, int adversarial)
{
    for (int s = 0; s < sep->S - 1; s++)
        if (is_frozen(sep, s))
            memcpy(source_basis(sep, s), warm_basis(sep, s),
                   (size_t)(sep->m * sep->p->d[s]) * sizeof(float));
    int status = fit_independent_sources(sep, adversarial);
    if (status)
        return status;
    const mdnmf_params *c = &sep->p->common;
    joint j;
    status = open_joint(sep, &j, sep->data->V, sep->data->n_V, c->batch_size, 0, sep->S);
    if (status)
        return status;
    int restoring = checkpoint_restores(sep->ck, sep->stage);
    if (!restoring) {
        checkpoint_stage_begins(sep->ck, sep->stage);
        initialise_last_basis(sep, &j);
        status = joint_transform(sep, &j);
    }
    if (!status)
        status = attach_joint(sep, &j, restoring);
    /* The cache serves the H step over all mixtures; update_H's batch-wise
     * steps read gathered columns and compute all rows.  KL's and IS's
     * numerators Wᵀ(Λ^{β-2} ⊙ V) change with every basis: nothing to cache. */
    if (!status && !c->update_H && !j.bw)
        status = cache_fixed_products(sep, &j, sep->offset[sep->S - 1]);
    if (!status) {
        joint_plan plan;
        plan_semi(sep, &j, &plan);
        status = run_joint_epochs(sep, &j, &plan);
    }
    free_joint(&j);
    return status;
}

/* How many stages (fits reported to the callback) a mode runs. */
static int count_stages(const separation *sep)
{
    const mdnmf_separator_params *p = sep->p;
    int clean = 0, warm_ups = p->warm_start_epochs > 0;
    for (int s = 0; s < sep->S; s++)
        clean += has_clean_data(sep, s);
    switch (p->mode) {
    case MDNMF_MODE_STD: return clean;
    case MDNMF_MODE_ADV: return clean * (1 + warm_ups);
    case MDNMF_MODE_EXEM: return 1;
    /* sup fits initial bases unless it copies a warm start; full only warms up. */
    case MDNMF_MODE_SUP: return sep->S * (warm_ups || !sep->W_warm ? 1 : 0) + 1;
    case MDNMF_MODE_FULL: return sep->S * warm_ups + 1;
    case MDNMF_MODE_SEMI: return clean + 1;
    case MDNMF_MODE_SEMI_ADV: return clean * (1 + warm_ups) + 1;
    }
    return 1;
}

static int run_mode(separation *sep)
{
    switch (sep->p->mode) {
    case MDNMF_MODE_STD: return fit_independent_sources(sep, 0);
    case MDNMF_MODE_ADV: return fit_independent_sources(sep, 1);
    case MDNMF_MODE_EXEM: return exemplar_sources(sep);
    case MDNMF_MODE_SUP: return fit_dnmf(sep);
    case MDNMF_MODE_FULL: return fit_full(sep);
    case MDNMF_MODE_SEMI: return fit_semi(sep, 0);
    case MDNMF_MODE_SEMI_ADV: return fit_semi(sep, 1);
    }
    return MDNMF_ERR_ARGUMENT;
}

static int check_warm_start(separation *sep)
{
    const mdnmf_model *model = sep->model;
    if (!sep->p->common.warm_start || !model->W)
        return MDNMF_OK;
    int same = model->m == sep->m && model->sources == sep->S;
    for (int s = 0; same && s < sep->S; s++)
        same = model->components[s] == sep->p->d[s];
    if (!same)
        return model_fail(sep->model, MDNMF_ERR_SHAPE,
                          "the warm-start model's bases (%d sources, %lld rows) do not match "
                          "this separator's sources, atoms and features",
                          model->sources, (long long)model->m);
    sep->W_warm = model->W;
    return MDNMF_OK;
}

/* The fitted bases become the model's, with the separator's parameters. */
static int adopt_separator(separation *sep)
{
    int64_t *components = malloc((size_t)sep->S * sizeof *components);
    if (!components)
        return model_fail(sep->model, MDNMF_ERR_MEMORY, "out of memory");
    for (int s = 0; s < sep->S; s++)
        components[s] = sep->p->d[s];
    mdnmf_model *model = sep->model;
    model_adopt_sources(model, sep->W, sep->lambda, sep->m, sep->S, components);
    sep->W = sep->lambda = NULL;
    model->mu_H_custom = 1;
    model->separator = *sep->p;
    model->separator.common.on_epoch = NULL;
    model->separator.common.on_trace = NULL;
    model->separator.common.warm_start = 0;
    model->separator.common.checkpoint_path = NULL;
    model->separator.common.resume_path = NULL;
    model->is_separator = 1;
    model->params = model->separator.common;
    model->params.d = (int)model->atoms;
    model_set_activations(model, NULL, 0, NULL, 0);
    return MDNMF_OK;
}

/* What identifies the run: the mode, every parameter, the thread count,
 * every matrix given (shape and CRC-32) and the warm start's bases. */
static void note_separation(separation *sep)
{
    const mdnmf_separator_params *p = sep->p;
    const mdnmf_separation_data *x = sep->data;
    checkpoint *ck = sep->ck;
    char key[64];
    checkpoint_note(ck, "fit", "separator %s", separator_mode_name(p->mode));
    checkpoint_note_stages(ck, sep->stages);
    checkpoint_note_params(ck, &p->common, 0);
    checkpoint_note(ck, "sources", "%d", p->sources);
    for (int s = 0; s < sep->S; s++) {
        snprintf(key, sizeof key, "source %d", s);
        checkpoint_note(ck, key, "d %lld, mu_H %.17g, tau_A %.17g, beta %.17g",
                        (long long)p->d[s], p->mu_H[s], p->tau_A[s], p->beta[s]);
    }
    checkpoint_note(ck, "tau_S", "%.17g", p->tau_S);
    checkpoint_note(ck, "batch_size_sup", "%lld", (long long)p->batch_size_sup);
    checkpoint_note(ck, "warm_start_epochs", "%d", p->warm_start_epochs);
    checkpoint_note(ck, "noise_steps", "%d", p->noise_steps > 1 ? p->noise_steps : 1);
    for (int s = 0; s < sep->S; s++) {
        snprintf(key, sizeof key, "source %d data", s);
        checkpoint_note_floats(ck, key, x->U[s], x->m, x->n[s]);
        snprintf(key, sizeof key, "paired source %d data", s);
        checkpoint_note_floats(ck, key, x->U_sup[s], x->m, x->n_sup);
    }
    checkpoint_note_floats(ck, "mixtures", x->V, x->m, x->n_V);
    checkpoint_note_floats(ck, "paired mixtures", x->V_sup, x->m, x->n_sup);
    checkpoint_note_floats(ck, "warm-start bases", sep->W_warm, sep->m, sep->atoms);
}

/* The run's checkpointing (modes that train): the bases are saved with
 * every checkpoint; a resume restores them before the stages run. */
static int open_checkpoint(separation *sep)
{
    if (sep->p->mode == MDNMF_MODE_EXEM)
        return MDNMF_OK;
    int status;
    sep->ck = checkpoint_create(sep->model, &sep->p->common, &status);
    if (!sep->ck)
        return status;
    note_separation(sep);
    if (sep->shard)
        checkpoint_note_shard(sep->ck, sep->shard, sep->S + 2, sep->n_global);
    status = checkpoint_track(sep->ck, "bases", CHECKPOINT_F32, sep->W, sep->m * sep->atoms, 1);
    if (!status)
        status = checkpoint_begin(sep->ck);
    if (!status && sep->p->common.resume_path) {
        status = checkpoint_restore(sep->ck, "bases", CHECKPOINT_F32, sep->W,
                                    sep->m * sep->atoms);
        status = shard_agree(sep->model, sep->shard, status);
    }
    return status;
}

/* What a sharded separator fit does not support (MDNMF_OK if usable). */
static int shard_problem(const separation *sep)
{
    const mdnmf_params *c = &sep->p->common;
    if (sep->shard->ranks < 1)
        return model_fail(sep->model, MDNMF_ERR_ARGUMENT,
                          "a sharded separator fit needs a shard by rank (rank, ranks >= 1): "
                          "each process holds its part of every data set");
    if (c->divergence != MDNMF_DIVERGENCE_FROBENIUS)
        return model_fail(sep->model, MDNMF_ERR_ARGUMENT,
                          "sharded fits support the Frobenius divergence only");
    return MDNMF_OK;
}

/* Sharded: every data set's global columns and this process's first of
 * them, from one sum of the processes' counts. */
static int learn_counts(separation *sep)
{
    const mdnmf_separation_data *x = sep->data;
    int64_t local[MDNMF_MAX_SOURCES + 2];
    for (int s = 0; s < sep->S; s++)
        local[s] = x->U[s] ? x->n[s] : 0;
    local[sep->S] = x->V ? x->n_V : 0;
    local[sep->S + 1] = x->V_sup ? x->n_sup : 0;
    return shard_count_table(sep->model, sep->shard, sep->S + 2, local, sep->n_global,
                             sep->first);
}

/* The checks of a fit's request and its bases' memory (this process's). */
static int prepare_separation(mdnmf_model *model, const mdnmf_separator_params *p,
                              const mdnmf_separation_data *data, separation *sep)
{
    if (!p || !data)
        return model_fail(model, MDNMF_ERR_ARGUMENT, "params or data is NULL");
    const char *problem = separator_params_problem(p);
    if (problem)
        return model_fail(model, MDNMF_ERR_ARGUMENT, "%s", problem);
    if (data->m < 1)
        return model_fail(model, MDNMF_ERR_SHAPE, "the data has no features (m = 0)");
    sep->p = p, sep->data = data, sep->S = p->sources, sep->m = data->m;
    for (int s = 0; s < sep->S; s++)
        sep->offset[s + 1] = sep->offset[s] + p->d[s];
    sep->atoms = sep->offset[sep->S];
    int status = sep->shard ? shard_problem(sep) : MDNMF_OK;
    if (!status)
        status = check_warm_start(sep);
    if (!status)
        status = check_separation_data(sep);
    if (status)
        return status;
    sep->W = calloc((size_t)(sep->m * sep->atoms), sizeof *sep->W);
    sep->lambda = malloc((size_t)sep->atoms * sizeof *sep->lambda);
    if (!sep->W || !sep->lambda)
        return model_fail(model, MDNMF_ERR_MEMORY, "out of memory for %lld atoms",
                          (long long)sep->atoms);
    return MDNMF_OK;
}

static int separator_fit(mdnmf_model *model, const mdnmf_separator_params *p,
                         const mdnmf_separation_data *data)
{
    if (!model)
        return MDNMF_ERR_ARGUMENT;
    separation sep = {.model = model, .shard = model->sharded ? &model->shard : NULL};
    int status = prepare_separation(model, p, data, &sep);
    /* Sharded: a process with bad data stops them all (unsharded: itself). */
    status = shard_agree(model, sep.shard, status);
    if (!status && sep.shard)
        status = learn_counts(&sep);
    if (status) {
        free(sep.W), free(sep.lambda);
        return status;
    }
    for (int s = 0; s < sep.S; s++)
        fill_lambda(&sep, s, sep.lambda + sep.offset[s]);
    sep.stages = count_stages(&sep);
    linalg_set_threads(p->common.threads);
    status = open_checkpoint(&sep);
    if (!status)
        status = run_mode(&sep);
    if (!status && checkpoint_pending(sep.ck))
        status = model_fail(model, MDNMF_ERR_FORMAT,
                            "'%s' resumes a stage this fit does not reach", p->common.resume_path);
    if (!status)
        status = adopt_separator(&sep);
    checkpoint_destroy(sep.ck);
    free(sep.W), free(sep.lambda);
    return status;
}

int mdnmf_separator_fit(mdnmf_model *model, const mdnmf_separator_params *p,
                        const mdnmf_separation_data *data, mdnmf_error *error)
{
    model_clear_error(model);
    return model_report(model, separator_fit(model, p, data), error);
}

const mdnmf_separator_params *mdnmf_model_separator_params(const mdnmf_model *model)
{
    return model && model->is_separator ? &model->separator : NULL;
}

/* ------------------------------------------------------------ §5 */

/* The Wiener mask's exponent p (SPEC §11): the separator's, 1 by default. */
static float wiener_exponent(const mdnmf_model *model)
{
    double p = model->is_separator ? model->separator.wiener_exponent : 0.0;
    return p > 0.0 ? (float)p : 1.0f;
}

static void raise_to(float *x, int64_t count, float p)
{
    for (int64_t i = 0; i < count; i++)
        x[i] = powf(x[i], p);
}

/* Ũ_s = W_s H_s for one chunk of columns, then with Wiener filtering
 *   U_s = clip(V ⊙ Ũ_s^p ⊘ (Σ_t Ũ_t^p + ε), 0, max V) */
static void separate_chunk(const mdnmf_model *model, const float *V, const float *H,
                           int64_t start, int64_t cols, int wiener, float peak, float *sum,
                           float *const *estimates)
{
    int64_t m = model->m, D = model->atoms, offset = 0;
    for (int s = 0; s < model->sources; s++) {
        int64_t d = model->components[s];
        product_AB_block(m, cols, d, 1.0f, model->W + offset * m, H + start * D + offset, D,
                         0.0f, estimates[s] + start * m, m);
        offset += d;
    }
    if (!wiener)
        return;
    int64_t count = m * cols;
    float p = wiener_exponent(model);
    if (p != 1.0f)
        for (int s = 0; s < model->sources; s++)
            raise_to(estimates[s] + start * m, count, p);
    memcpy(sum, estimates[0] + start * m, (size_t)count * sizeof *sum);
    for (int s = 1; s < model->sources; s++)
        for (int64_t i = 0; i < count; i++)
            sum[i] += estimates[s][start * m + i];
    /* ε scaled as the estimates are: by the peak, to the power p. */
    float guard = (float)(MDNMF_EPS * pow(peak > 0.0f ? peak : 1.0f, p));
    const float *v = V + start * m;
    for (int s = 0; s < model->sources; s++) {
        float *e = estimates[s] + start * m;
        for (int64_t i = 0; i < count; i++) {
            float value = v[i] * e[i] / (sum[i] + guard);
            e[i] = value < 0.0f ? 0.0f : value > peak ? peak : value;
        }
    }
}

/* Every source's estimate buffer is given. */
static int check_estimates(mdnmf_model *model, float *const *estimates)
{
    if (!estimates)
        return model_fail(model, MDNMF_ERR_ARGUMENT, "estimates is NULL");
    for (int s = 0; s < model->sources; s++)
        if (!estimates[s])
            return model_fail(model, MDNMF_ERR_ARGUMENT, "estimate buffer %d is NULL", s);
    return MDNMF_OK;
}

/* The estimates from the mixtures' activations H (D x n) and the model's
 * current bases, LINALG_CHUNK columns at a time; `sum` holds m x
 * LINALG_CHUNK. */
static void estimates_from(const mdnmf_model *model, const float *V, int64_t m, int64_t n,
                           const float *H, int wiener, float *sum, float *const *estimates)
{
    float peak = max_entry(V, m * n);
    for (int64_t start = 0; start < n; start += LINALG_CHUNK) {
        int64_t cols = n - start < LINALG_CHUNK ? n - start : LINALG_CHUNK;
        separate_chunk(model, V, H, start, cols, wiener, peak, sum, estimates);
    }
}

static int separate(mdnmf_model *model, const float *V, int64_t m, int64_t n, int wiener,
                    float *const *estimates)
{
    if (!model)
        return MDNMF_ERR_ARGUMENT;
    int status = check_estimates(model, estimates);
    if (status)
        return status;
    int64_t D = model->atoms;
    float *H = model->W && n > 0 ? malloc((size_t)(D * n) * sizeof *H) : NULL;
    float *sum = malloc((size_t)(m > 0 ? m : 1) * LINALG_CHUNK * sizeof *sum);
    if ((model->W && n > 0 && !H) || !sum) {
        free(H), free(sum);
        return model_fail(model, MDNMF_ERR_MEMORY, "out of memory separating %lld mixtures",
                          (long long)n);
    }
    status = mdnmf_transform(model, V, m, n, H, NULL);
    if (!status)
        estimates_from(model, V, m, n, H, wiener, sum, estimates);
    free(H), free(sum);
    return status;
}

/* adapt_last_basis' steps, from its W and H. */
static int adaptation_steps(mdnmf_model *model, const float *V, int64_t m, int64_t n,
                            int epochs, float *W, float *H)
{
    int64_t D = model->atoms, d_last = model->components[model->sources - 1];
    int64_t offset = D - d_last;
    int64_t work_cols = n < LINALG_CHUNK ? n : LINALG_CHUNK;
    /* The H steps share the columns between the model's threads, one slice
     * of num and den each: the count is set before the slices are sized. */
    linalg_set_threads(model->params.threads);
    size_t work_H = (size_t)(linalg_threads() * D * work_cols);
    float *R = malloc((size_t)(m * n) * sizeof *R);
    float *num_W = malloc((size_t)(m * d_last) * sizeof *num_W);
    float *den_W = malloc((size_t)(m * d_last) * sizeof *den_W);
    float *WtW = malloc((size_t)(D * D) * sizeof *WtW);
    float *num_H = malloc(work_H * sizeof *num_H);
    float *den_H = malloc(work_H * sizeof *den_H);
    int status = MDNMF_OK;
    if (!R || !num_W || !den_W || !WtW || !num_H || !den_H)
        status = model_fail(model, MDNMF_ERR_MEMORY, "out of memory adapting the noise basis");
    if (!status) {
        float guard_H, guard_W;
        scaled_guards(max_entry(V, m * n), max_entry(W, m * D), &guard_H, &guard_W);
        float add = (float)model->params.mu_W + guard_W;
        for (int e = 0; e < epochs; e++) {
            product_AB(m, n, D, 1.0f, W, H, 0.0f, R);
            product_ABt_block(m, d_last, n, 1.0f, V, H + offset, D, 0.0f, num_W);
            product_ABt_block(m, d_last, n, 1.0f, R, H + offset, D, 0.0f, den_W);
            mu_step_scalar(W + offset * m, num_W, den_W, m * d_last, add);
            gram_of_columns(W, m, D, 1.0f, WtW);
            update_activations_shared(W, WtW, V, H, m, D, n, 1, model->mu_H, NULL, guard_H,
                                      num_H, den_H, work_cols, NULL);
        }
    }
    free(R), free(num_W), free(den_W), free(WtW), free(num_H), free(den_H);
    return status;
}

/* Test-time adaptation (docs/algorithm.md, "Noise adaptation at
 * separation"): W a copy of the model's bases whose last source's atoms are,
 * when `fresh`, replaced by Uniform(0,1) draws (rng stream 1 of the model's
 * seed, as the stream's fresh atoms), H = transform(V) with W, then
 * `epochs` times one W step of the last source's atoms on V alone,
 *   W_N <- W_N ⊙ (V H_Nᵀ) ⊘ (W H H_Nᵀ + μ_W + guard_W),
 * then one H step with all bases (SPEC §1); the other bases stay fixed.
 * It is SPEC §6's `semi` fit of the last basis on these mixtures, full
 * batch.  W (m x D) and H (D x n) are the caller's. */
static int adapt_last_basis(mdnmf_model *model, const float *V, int64_t m, int64_t n,
                            int epochs, int fresh, float *W, float *H)
{
    int64_t D = model->atoms, d_last = model->components[model->sources - 1];
    memcpy(W, model->W, (size_t)(m * D) * sizeof *W);
    if (fresh) {
        rng draws;
        rng_seed(&draws, model->params.seed, 1);
        rng_fill_uniform(&draws, W + (D - d_last) * m, d_last * m);
    }
    float *trained = model->W;
    model->W = W;
    int status = mdnmf_transform(model, V, m, n, H, NULL);
    model->W = trained;
    return status || epochs == 0 ? status : adaptation_steps(model, V, m, n, epochs, W, H);
}

/* The speech bases were fitted by MDNMF (mdnmf_separate_adapted's
 * MDNMF_ADAPT_AUTO): an adversarial mode with tau_A > 0 for a source
 * before the last (the noise). */
static int trained_adversarially(const mdnmf_model *model)
{
    if (!model->is_separator)
        return 0;
    const mdnmf_mode_info *info = mdnmf_mode_describe(model->separator.mode);
    if (!info || !info->adversarial)
        return 0;
    for (int s = 0; s + 1 < model->separator.sources; s++)
        if (model->separator.tau_A[s] > 0.0)
            return 1;
    return 0;
}

/* mdnmf_separate_frames' smoothing: each of the last source's activation
 * rows (H is D x n, column-major) becomes its mean over the frames
 * j - k .. j + k inside [0, n), from running sums; `sum` holds n + 1. */
static void smooth_last_rows(float *H, int64_t D, int64_t d_last, int64_t n, int k, double *sum)
{
    for (int64_t a = D - d_last; a < D; a++) {
        sum[0] = 0.0;
        for (int64_t j = 0; j < n; j++)
            sum[j + 1] = sum[j] + H[j * D + a];
        for (int64_t j = 0; j < n; j++) {
            int64_t first = j - k < 0 ? 0 : j - k, last = j + k >= n ? n - 1 : j + k;
            H[j * D + a] = (float)((sum[last + 1] - sum[first]) / (double)(last - first + 1));
        }
    }
}

static int separate_adapted(mdnmf_model *model, const float *V, int64_t m, int64_t n,
                            int wiener, int epochs, int fresh, int smoothing,
                            float *const *estimates)
{
    if (!model)
        return MDNMF_ERR_ARGUMENT;
    if (epochs < 0)
        return model_fail(model, MDNMF_ERR_ARGUMENT, "adaptation epochs = %d must be >= 0",
                          epochs);
    if (fresh != 0 && fresh != 1 && fresh != MDNMF_ADAPT_AUTO)
        return model_fail(model, MDNMF_ERR_ARGUMENT,
                          "fresh = %d must be 0, 1 or MDNMF_ADAPT_AUTO", fresh);
    if (smoothing < 0)
        return model_fail(model, MDNMF_ERR_ARGUMENT, "noise smoothing = %d frames must be >= 0",
                          smoothing);
    if (fresh == MDNMF_ADAPT_AUTO)
        fresh = trained_adversarially(model);
    if (epochs == 0 && smoothing == 0)
        return separate(model, V, m, n, wiener, estimates);
    if (epochs == 0)
        fresh = 0; /* no adaptation: the model's atoms */
    if (!model->W)
        return model_fail(model, MDNMF_ERR_STATE, "the model has no basis: fit or load one first");
    if (model->sources < 2)
        return model_fail(model, MDNMF_ERR_STATE, "noise %s needs a separator of two or more "
                          "sources", epochs ? "adaptation" : "smoothing");
    if (epochs > 0 && model->params.divergence != MDNMF_DIVERGENCE_FROBENIUS)
        return model_fail(model, MDNMF_ERR_ARGUMENT,
                          "noise adaptation supports the Frobenius loss only");
    int status = check_estimates(model, estimates);
    if (status || n < 1)
        return status;
    int64_t D = model->atoms;
    float *W = malloc((size_t)(model->m * D) * sizeof *W);
    float *H = malloc((size_t)(D * n) * sizeof *H);
    float *sum = malloc((size_t)(m > 0 ? m : 1) * LINALG_CHUNK * sizeof *sum);
    double *running = smoothing ? malloc((size_t)(n + 1) * sizeof *running) : NULL;
    if (!W || !H || !sum || (smoothing && !running))
        status = model_fail(model, MDNMF_ERR_MEMORY, "out of memory separating %lld mixtures",
                            (long long)n);
    else
        status = adapt_last_basis(model, V, m, n, epochs, fresh, W, H);
    if (!status && smoothing)
        smooth_last_rows(H, D, model->components[model->sources - 1], n, smoothing, running);
    if (!status) {
        /* The adapted bases stand in for the model's while the estimates
         * are made; the model is given its own back. */
        float *trained = model->W;
        model->W = W;
        estimates_from(model, V, m, n, H, wiener, sum, estimates);
        model->W = trained;
    }
    free(W), free(H), free(sum), free(running);
    return status;
}

int mdnmf_separate_adapted(mdnmf_model *model, const float *V, int64_t m, int64_t n, int wiener,
                           int epochs, int fresh, float *const *estimates, mdnmf_error *error)
{
    model_clear_error(model);
    return model_report(model,
                        separate_adapted(model, V, m, n, wiener, epochs, fresh, 0, estimates),
                        error);
}

int mdnmf_separate_frames(mdnmf_model *model, const float *V, int64_t m, int64_t n, int wiener,
                          int epochs, int fresh, int smoothing, float *const *estimates,
                          mdnmf_error *error)
{
    model_clear_error(model);
    return model_report(model,
                        separate_adapted(model, V, m, n, wiener, epochs, fresh, smoothing,
                                         estimates),
                        error);
}

int mdnmf_separate(mdnmf_model *model, const float *V, int64_t m, int64_t n, int wiener,
                   float *const *estimates, mdnmf_error *error)
{
    model_clear_error(model);
    return model_report(model, separate(model, V, m, n, wiener, estimates), error);
}
