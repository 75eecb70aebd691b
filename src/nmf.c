/* One-source fits (SPEC §1–§3): transform, fit_std, fit_adv, fit_exem.
 * docs/algorithm.md fixes the choices SPEC leaves open (guards, streams,
 * order of random draws). */
#include "internal.h"
#include "linalg.h"
#include "rng.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Largest basis entry a healthy fit reaches; beyond it MDNMF is diverging. */
#define DIVERGENCE_LIMIT 1e30f
/* An MDNMF basis that explains less than this fraction of the true-data
 * energy it explained after initialisation has collapsed; HEALTH_SAMPLE
 * columns measure it. */
#define COLLAPSE_FRACTION 0.1
#define HEALTH_SAMPLE 64
/* Threads split W's rows at multiples of 16 floats: one cache line, so no
 * two threads write the same line of a column. */
#define ROW_ALIGN 16

/* One data set of a fit (the true data, or the adversarial data) with its
 * activations, permutation and contiguous batch buffers. */
typedef struct dataset {
    const char *name;
    const float *U;      /* m x n */
    int64_t n;
    const float *omega;  /* n penalty weights, NULL = ones */
    int64_t batch;       /* columns per batch, clamped to n */
    float *H;            /* d x n */
    int64_t *perm;       /* n */
    int64_t *idx;        /* batch columns */
    float *U_b, *H_b;    /* m x batch, d x batch; NULL when the batch is all of U */
    float *omega_b;      /* batch, when omega and the batch is not all of U */
    rng stream;
    mdnmf_trace_kind trace_H, trace_perm;
} dataset;

struct fit {
    mdnmf_model *model;       /* receives error messages */
    const mdnmf_params *p;
    const float *W_start;     /* warm start, or NULL */
    int64_t m, d;
    float *W;                 /* m x d, the basis being fitted */
    float *lambda;            /* d per-atom L1 weights on H */
    float guard_H, guard_W;   /* ε scaled to the data (docs/algorithm.md) */
    double tau_W, tau_A;
    dataset data[2];          /* [0] true, [1] adversarial */
    int sets;                 /* 1 for NMF, 2 for MDNMF */
    int threads;              /* of the library's parallel regions */
    float *num_W, *den_W;     /* m x d */
    float *G, *G_adv, *G_sup; /* d x d: the batch Grams of the W step */
    float *WtW;               /* d x d */
    float *num_H, *den_H;     /* d x LINALG_CHUNK per thread */
    int *voiced;              /* per thread: its rows of the true batch are not silent */
    float *residual_work;     /* m x LINALG_CHUNK, only with a callback */
    int64_t *sample_idx;      /* HEALTH_SAMPLE columns watched for collapse */
    float *sample_U, *sample_H, *sample_work;
    double explained_at_start;/* their explained energy after initialisation */
    const supervised_term *sup; /* D+MDNMF's paired term, or NULL */
    int stage, stages;        /* for the epoch callback */
    int64_t *sup_idx;         /* its batch: columns, */
    float *sup_U_b, *sup_H_b; /* m x batch and rows x batch */
};

/* ------------------------------------------------------------ validation */

int check_matrix(mdnmf_model *model, const char *name, const float *X, int64_t m, int64_t n)
{
    if (m < 1 || n < 1)
        return model_fail(model, MDNMF_ERR_SHAPE,
                          "%s is empty (%lld features x %lld samples)", name, (long long)m,
                          (long long)n);
    if (!X)
        return model_fail(model, MDNMF_ERR_ARGUMENT, "%s is NULL", name);
    int64_t bad = first_invalid_entry(X, m * n);
    if (bad >= 0) {
        const char *what = isnan(X[bad]) ? "a NaN" : isinf(X[bad]) ? "an infinite" : "a negative";
        return model_fail(model, MDNMF_ERR_DATA,
                          "%s has %s entry (%g) at sample %lld, feature %lld: NMF needs "
                          "non-negative, finite data",
                          name, what, (double)X[bad], (long long)(bad / m), (long long)(bad % m));
    }
    return MDNMF_OK;
}

static int check_weights(mdnmf_model *model, const float *omega, int64_t n)
{
    if (!omega)
        return MDNMF_OK;
    int64_t bad = first_invalid_entry(omega, n);
    if (bad >= 0)
        return model_fail(model, MDNMF_ERR_DATA,
                          "adversarial weight omega[%lld] = %g must be finite and >= 0",
                          (long long)bad, (double)omega[bad]);
    return MDNMF_OK;
}

/* ------------------------------------------------------------ transform */

static void report(const mdnmf_params *p, mdnmf_trace_kind kind, int epoch, const void *data,
                   int64_t count)
{
    if (p->on_trace)
        p->on_trace(p->on_trace_user, kind, epoch, data, count);
}

/* One chunk of columns at a time: columns are independent, so a chunk
 * stays in cache through all iterations of
 *     H <- H ⊙ (WᵀU) ⊘ (WᵀW H + λ ωᵀ + guard) */
void update_activations(const float *W, const float *WtW, const float *U, float *H, int64_t m,
                        int64_t d, int64_t n, int iterations, const float *lambda,
                        const float *omega, float guard, float *num, float *den)
{
    if (iterations < 1)
        return;
    for (int64_t start = 0; start < n; start += LINALG_CHUNK) {
        int64_t cols = n - start < LINALG_CHUNK ? n - start : LINALG_CHUNK;
        float *H_c = H + start * d;
        const float *omega_c = omega ? omega + start : NULL;
        product_AtB(d, cols, m, 1.0f, W, U + start * m, 0.0f, num);
        for (int it = 0; it < iterations; it++) {
            product_AB(d, cols, d, 1.0f, WtW, H_c, 0.0f, den);
            mu_step_penalised(H_c, num, den, d, cols, lambda, omega_c, guard);
        }
    }
}

/* The same with the columns split between the library's threads, each with
 * its own d x work_cols slice of num and den (which hold `threads` slices). */
void update_activations_shared(const float *W, const float *WtW, const float *U, float *H,
                               int64_t m, int64_t d, int64_t n, int iterations,
                               const float *lambda, const float *omega, float guard, float *num,
                               float *den, int64_t work_cols)
{
    int threads = linalg_threads();
#pragma omp parallel num_threads(threads) if (threads > 1 && n >= 2 * SHARED_MIN_COLUMNS)
    {
        int part = omp_get_thread_num(), parts = omp_get_num_threads();
        int64_t c0, c1;
        linalg_share(n, parts, part, 1, &c0, &c1);
        float *num_part = num + (int64_t)part * d * work_cols;
        float *den_part = den + (int64_t)part * d * work_cols;
        update_activations(W, WtW, U + c0 * m, H + c0 * d, m, d, c1 - c0, iterations, lambda,
                           omega ? omega + c0 : NULL, guard, num_part, den_part);
    }
}

/* ε scaled by the data peak c and basis peak w. */
void scaled_guards(float data_peak, float basis_peak, float *guard_H, float *guard_W)
{
    double c = data_peak > 0.0f ? data_peak : 1.0;
    double w = basis_peak > 0.0f ? basis_peak : 1.0;
    if (guard_H) *guard_H = (float)(MDNMF_EPS * c * w);
    if (guard_W) *guard_W = (float)(MDNMF_EPS * c * c / w);
}

static int transform(mdnmf_model *model, const float *U, int64_t m, int64_t n, float *H)
{
    if (!model)
        return MDNMF_ERR_ARGUMENT;
    if (!model->W)
        return model_fail(model, MDNMF_ERR_STATE, "the model has no basis: fit or load one first");
    int status = check_matrix(model, "data", U, m, n);
    if (status)
        return status;
    if (m != model->m)
        return model_fail(model, MDNMF_ERR_SHAPE,
                          "data has %lld features but the basis has %lld rows", (long long)m,
                          (long long)model->m);
    if (!H)
        return model_fail(model, MDNMF_ERR_ARGUMENT, "output H is NULL");

    const mdnmf_params *p = &model->params;
    int64_t d = model->atoms;
    linalg_set_threads(p->threads);
    /* The columns are split between the threads (OpenBLAS stays on one),
     * each with a d x work_cols slice of num and den. */
    int64_t work_cols = n < LINALG_CHUNK ? n : LINALG_CHUNK;
    size_t work = (size_t)(linalg_threads() * d * work_cols);
    float *WtW = malloc((size_t)(d * d) * sizeof *WtW);
    float *num = malloc(work * sizeof *num);
    float *den = malloc(work * sizeof *den);
    if (!WtW || !num || !den) {
        free(WtW), free(num), free(den);
        return model_fail(model, MDNMF_ERR_MEMORY, "out of memory for transform workspace");
    }
    rng stream;
    rng_seed(&stream, p->seed, 0);
    rng_fill_uniform(&stream, H, d * n);
    report(p, MDNMF_TRACE_H_RANDOM, 0, H, d * n);
    float guard_H;
    scaled_guards(max_entry(U, m * n), max_entry(model->W, m * d), &guard_H, NULL);
    gram_of_columns(model->W, m, d, 1.0f, WtW);
    update_activations_shared(model->W, WtW, U, H, m, d, n, p->test_epochs, model->mu_H, NULL,
                              guard_H, num, den, work_cols);
    free(WtW), free(num), free(den);
    return MDNMF_OK;
}

int mdnmf_transform(mdnmf_model *model, const float *U, int64_t m, int64_t n, float *H,
                    mdnmf_error *error)
{
    model_clear_error(model);
    return model_report(model, transform(model, U, m, n, H), error);
}

/* ------------------------------------------------------------ set-up */

static int64_t clamp_batch(int64_t batch, int64_t n)
{
    return batch <= 0 || batch > n ? n : batch;
}

static void free_dataset(dataset *s)
{
    free(s->H), free(s->perm), free(s->idx), free(s->U_b), free(s->H_b), free(s->omega_b);
}

static void free_fit(fit *f)
{
    for (int i = 0; i < 2; i++)
        free_dataset(&f->data[i]);
    free(f->W), free(f->lambda), free(f->num_W), free(f->den_W), free(f->G), free(f->WtW);
    free(f->G_adv), free(f->G_sup), free(f->voiced);
    free(f->num_H), free(f->den_H), free(f->residual_work);
    free(f->sample_idx), free(f->sample_U), free(f->sample_H), free(f->sample_work);
    free(f->sup_idx), free(f->sup_U_b), free(f->sup_H_b);
}

/* A batch of all columns (batch size 0, the default, or N) is the data
 * itself: its permutation only reorders the sums of the W step, so the W
 * and H steps read U and H in place instead of a permuted copy of both. */
static int whole_data(const dataset *s)
{
    return s->batch == s->n;
}

static const float *batch_U(const dataset *s)
{
    return whole_data(s) ? s->U : s->U_b;
}

static float *batch_H(const dataset *s)
{
    return whole_data(s) ? s->H : s->H_b;
}

static const float *batch_omega(const dataset *s)
{
    return whole_data(s) ? s->omega : s->omega_b;
}

static int allocate_dataset(dataset *s, int64_t m, int64_t d)
{
    size_t H_bytes = (size_t)(d * s->n) * sizeof *s->H;
    s->H = malloc(H_bytes);
    if (s->H)
        advise_huge_pages(s->H, H_bytes);
    s->perm = malloc((size_t)s->n * sizeof *s->perm);
    if (whole_data(s))
        return s->H && s->perm;
    s->idx = malloc((size_t)s->batch * sizeof *s->idx);
    s->U_b = malloc((size_t)(m * s->batch) * sizeof *s->U_b);
    s->H_b = malloc((size_t)(d * s->batch) * sizeof *s->H_b);
    s->omega_b = s->omega ? malloc((size_t)s->batch * sizeof *s->omega_b) : NULL;
    return s->H && s->perm && s->idx && s->U_b && s->H_b && (!s->omega || s->omega_b);
}

static int allocate_fit(fit *f)
{
    /* The H steps work through LINALG_CHUNK columns at a time, whatever the
     * batch: their workspace does not grow with the batch or the data. */
    int64_t m = f->m, d = f->d;
    for (int i = 0; i < f->sets; i++)
        if (!allocate_dataset(&f->data[i], m, d))
            return 0;
    f->W = malloc((size_t)(m * d) * sizeof *f->W);
    f->lambda = malloc((size_t)d * sizeof *f->lambda);
    f->num_W = malloc((size_t)(m * d) * sizeof *f->num_W);
    f->den_W = malloc((size_t)(m * d) * sizeof *f->den_W);
    f->G = malloc((size_t)(d * d) * sizeof *f->G);
    f->G_adv = malloc((size_t)(d * d) * sizeof *f->G_adv);
    f->G_sup = malloc((size_t)(d * d) * sizeof *f->G_sup);
    f->WtW = malloc((size_t)(d * d) * sizeof *f->WtW);
    f->num_H = malloc((size_t)(f->threads * d * LINALG_CHUNK) * sizeof *f->num_H);
    f->den_H = malloc((size_t)(f->threads * d * LINALG_CHUNK) * sizeof *f->den_H);
    f->voiced = malloc((size_t)f->threads * sizeof *f->voiced);
    if (f->p->on_epoch)
        f->residual_work = malloc((size_t)(m * LINALG_CHUNK) * sizeof *f->residual_work);
    f->sample_idx = malloc(HEALTH_SAMPLE * sizeof *f->sample_idx);
    f->sample_U = malloc((size_t)(m * HEALTH_SAMPLE) * sizeof *f->sample_U);
    f->sample_H = malloc((size_t)(d * HEALTH_SAMPLE) * sizeof *f->sample_H);
    f->sample_work = malloc((size_t)(m * HEALTH_SAMPLE) * sizeof *f->sample_work);
    if (f->sup) {
        f->sup_idx = malloc((size_t)f->sup->batch * sizeof *f->sup_idx);
        f->sup_U_b = malloc((size_t)(m * f->sup->batch) * sizeof *f->sup_U_b);
        f->sup_H_b = malloc((size_t)(f->sup->rows * f->sup->batch) * sizeof *f->sup_H_b);
        if (!f->sup_idx || !f->sup_U_b || !f->sup_H_b)
            return 0;
    }
    return f->W && f->lambda && f->num_W && f->den_W && f->G && f->G_adv && f->G_sup &&
           f->WtW && f->num_H && f->den_H && f->voiced &&
           (!f->p->on_epoch || f->residual_work) && f->sample_idx && f->sample_U &&
           f->sample_H && f->sample_work;
}

static int initialise_basis(fit *f)
{
    const mdnmf_params *p = f->p;
    mdnmf_model *model = f->model;
    dataset *truth = &f->data[0];
    int64_t m = f->m, d = f->d;
    if (f->W_start) {
        memcpy(f->W, f->W_start, (size_t)(m * d) * sizeof *f->W);
    } else if (p->init == MDNMF_INIT_EXEMPLAR) {
        int64_t *scratch = malloc((size_t)truth->n * sizeof *scratch);
        if (!scratch)
            return model_fail(model, MDNMF_ERR_MEMORY, "out of memory choosing exemplars");
        rng_choose_distinct(&truth->stream, truth->perm, d, truth->n, scratch);
        free(scratch);
        report(p, MDNMF_TRACE_EXEMPLARS, 0, truth->perm, d);
        gather_columns(f->W, truth->U, m, truth->perm, d);
    } else {
        rng_fill_uniform(&truth->stream, f->W, m * d);
        report(p, MDNMF_TRACE_W_RANDOM, 0, f->W, m * d);
    }
    if (p->normalize)
        normalize_columns(f->W, m, d, MDNMF_EPS, NULL);
    return MDNMF_OK;
}

static void initialise_activations(fit *f)
{
    gram_of_columns(f->W, f->m, f->d, 1.0f, f->WtW);
    for (int i = 0; i < f->sets; i++) {
        dataset *s = &f->data[i];
        rng_fill_uniform(&s->stream, s->H, f->d * s->n);
        report(f->p, s->trace_H, 0, s->H, f->d * s->n);
        /* SPEC §2: random init keeps the uniform H; otherwise H = transform(U). */
        int transform = f->sets == 2 || f->p->init == MDNMF_INIT_EXEMPLAR || f->W_start;
        if (transform)
            update_activations_shared(f->W, f->WtW, s->U, s->H, f->m, f->d, s->n,
                                      f->p->test_epochs, f->lambda, s->omega, f->guard_H,
                                      f->num_H, f->den_H, LINALG_CHUNK);
    }
}

/* ------------------------------------------------------------ one epoch */

/* The columns of batch b of every data set (and of D+MDNMF's pairs). */
static void choose_batch(fit *f, int64_t b)
{
    for (int i = 0; i < f->sets; i++) {
        dataset *s = &f->data[i];
        for (int64_t k = 0; k < s->batch && !whole_data(s); k++)
            s->idx[k] = s->perm[(b * s->batch + k) % s->n];
    }
    const supervised_term *sup = f->sup;
    if (sup && sup->tau_S > 0.0)
        for (int64_t k = 0; k < sup->batch; k++)
            f->sup_idx[k] = sup->perm[(b * sup->batch + k) % sup->n];
}

/* This thread's part of the batch buffers: rows [r0, r1) of every data
 * batch, its share of the activation columns.  Returns whether its rows of
 * the true batch hold a positive entry. */
static int gather_batch_share(fit *f, int part, int parts, int64_t r0, int64_t r1)
{
    int64_t m = f->m, d = f->d, c0, c1;
    for (int i = 0; i < f->sets; i++) {
        dataset *s = &f->data[i];
        if (whole_data(s))
            continue;
        gather_row_block(s->U_b, s->U, m, r0, r1, s->idx, s->batch);
        linalg_share(s->batch, parts, part, 1, &c0, &c1);
        gather_columns(s->H_b + c0 * d, s->H, d, s->idx + c0, c1 - c0);
        if (s->omega)
            for (int64_t k = c0; k < c1; k++)
                s->omega_b[k] = s->omega[s->idx[k]];
    }
    const supervised_term *sup = f->sup;
    if (sup && sup->tau_S > 0.0) {
        gather_row_block(f->sup_U_b, sup->U, m, r0, r1, f->sup_idx, sup->batch);
        linalg_share(sup->batch, parts, part, 1, &c0, &c1);
        gather_columns(f->sup_H_b + c0 * sup->rows, sup->H, sup->rows, f->sup_idx + c0, c1 - c0);
    }
    return any_positive_rows(batch_U(&f->data[0]), m, r0, r1, f->data[0].batch);
}

static float true_scale(const fit *f)
{
    return (float)(f->tau_W / (double)f->data[0].batch);
}

static float adversarial_scale(const fit *f)
{
    return (float)(f->tau_A / (double)f->data[1].batch);
}

static float supervised_scale(const fit *f)
{
    return (float)(f->sup->tau_S / (double)f->sup->batch);
}

static int uses_adversarial_term(const fit *f)
{
    return f->sets == 2 && f->tau_A > 0.0;
}

static int uses_supervised_term(const fit *f)
{
    return f->sup && f->sup->tau_S > 0.0;
}

/* This thread's blocks of the batch Grams H_b H_bᵀ/B, Ĥ_b Ĥ_bᵀ/B̂ and, for
 * D+MDNMF, this source's rows of H^sup_b H^sup_bᵀ/B_s. */
static void batch_grams_share(fit *f, int part, int parts)
{
    int64_t d = f->d;
    const dataset *truth = &f->data[0];
    gram_of_row_block_share(batch_H(truth), d, truth->batch, d, true_scale(f), f->G, parts,
                            part);
    if (uses_adversarial_term(f)) {
        const dataset *adv = &f->data[1];
        gram_of_row_block_share(batch_H(adv), d, adv->batch, d, adversarial_scale(f),
                                f->G_adv, parts, part);
    }
    if (uses_supervised_term(f))
        gram_of_row_block_share(f->sup_H_b + f->sup->offset, d, f->sup->batch, f->sup->rows,
                                supervised_scale(f), f->G_sup, parts, part);
}

/* SPEC §2/§3 on rows [r0, r1) of W, with the batches of the true (B) and
 * adversarial (B̂) data:
 *   W <- W ⊙ (τ_W U_b H_bᵀ/B + τ_A W Ĥ_bĤ_bᵀ/B̂) ⊘ (τ_W W H_bH_bᵀ/B + τ_A Û_bĤ_bᵀ/B̂ + γ)
 * plus, for D+MDNMF, SPEC §6's supervised terms τ_S U^sup_b H^sup_bᵀ/B_s
 * and τ_S W H^sup_b H^sup_bᵀ/B_s.  A row of the step needs only the same
 * row of W, so threads owning disjoint rows never wait for each other. */
static void update_basis_rows(fit *f, int64_t r0, int64_t r1)
{
    int64_t m = f->m, d = f->d, rows = r1 - r0;
    const dataset *truth = &f->data[0];
    float *W = f->W + r0, *num = f->num_W + r0, *den = f->den_W + r0;
    product_strided(0, 1, rows, d, truth->batch, true_scale(f), batch_U(truth) + r0, m,
                    batch_H(truth), d, 0.0f, num, m);
    product_strided(0, 0, rows, d, d, 1.0f, W, m, f->G, d, 0.0f, den, m);
    if (uses_adversarial_term(f)) {
        const dataset *adv = &f->data[1];
        product_strided(0, 0, rows, d, d, 1.0f, W, m, f->G_adv, d, 1.0f, num, m);
        product_strided(0, 1, rows, d, adv->batch, adversarial_scale(f), batch_U(adv) + r0, m,
                        batch_H(adv), d, 1.0f, den, m);
    }
    if (uses_supervised_term(f)) {
        const supervised_term *sup = f->sup;
        product_strided(0, 1, rows, d, sup->batch, supervised_scale(f), f->sup_U_b + r0, m,
                        f->sup_H_b + sup->offset, sup->rows, 1.0f, num, m);
        product_strided(0, 0, rows, d, d, 1.0f, W, m, f->G_sup, d, 1.0f, den, m);
    }
    mu_step_rows(f->W, f->num_W, f->den_W, m, r0, r1, d, (float)f->p->mu_W + f->guard_W);
}

static int any_voiced(const int *voiced, int parts)
{
    for (int t = 0; t < parts; t++)
        if (voiced[t])
            return 1;
    return 0;
}

/* Batch b's W step.  Every thread gathers its rows of the batches and its
 * share of the activation columns; after a barrier the batch Grams are
 * dealt out in blocks; after another, each thread updates its rows of W. */
static void batch_basis_step(fit *f, int64_t b)
{
    choose_batch(f, b);
#pragma omp parallel num_threads(f->threads) if (f->threads > 1)
    {
        int part = omp_get_thread_num(), parts = omp_get_num_threads();
        int64_t r0, r1;
        linalg_share(f->m, parts, part, ROW_ALIGN, &r0, &r1);
        f->voiced[part] = gather_batch_share(f, part, parts, r0, r1);
#pragma omp barrier
        /* A batch of silent true columns says nothing about W; its step
         * would be W ⊙ 0 ⊘ γ = 0, zeroing the basis for good. */
        if (any_voiced(f->voiced, parts)) {
            batch_grams_share(f, part, parts);
#pragma omp barrier
            update_basis_rows(f, r0, r1);
        }
    }
}

/* Batch-wise H step (update_H): H_b <- H_b ⊙ (WᵀU_b) ⊘ (WᵀW H_b + λ ω_bᵀ), written back. */
static void update_batch_activations(fit *f, dataset *s)
{
    update_activations_shared(f->W, f->WtW, batch_U(s), batch_H(s), f->m, f->d, s->batch, 1,
                              f->lambda, batch_omega(s), f->guard_H, f->num_H, f->den_H,
                              LINALG_CHUNK);
    if (!whole_data(s))
        scatter_columns(s->H, s->H_b, f->d, s->idx, s->batch);
}

static int64_t batches_per_epoch(const fit *f)
{
    int64_t nb_true = f->data[0].n / f->data[0].batch;
    if (f->sets == 1)
        return nb_true;
    int64_t nb_adv = f->data[1].n / f->data[1].batch;
    switch (f->p->true_sample) {
    case MDNMF_SAMPLE_ADV: return nb_adv;
    case MDNMF_SAMPLE_MIN: return nb_true < nb_adv ? nb_true : nb_adv;
    default: return nb_true;
    }
}

static void run_epoch(fit *f, int epoch)
{
    int64_t m = f->m, d = f->d;
    for (int i = 0; i < f->sets; i++) {
        dataset *s = &f->data[i];
        rng_permutation(&s->stream, s->perm, s->n);
        report(f->p, s->trace_perm, epoch, s->perm, s->n);
    }
    int64_t nb = batches_per_epoch(f);
    for (int64_t b = 0; b < nb; b++) {
        batch_basis_step(f, b);
        if (f->p->update_H) {
            gram_of_columns(f->W, m, d, 1.0f, f->WtW);
            for (int i = 0; i < f->sets; i++)
                update_batch_activations(f, &f->data[i]);
        }
    }
    if (!f->p->update_H) {
        gram_of_columns(f->W, m, d, 1.0f, f->WtW);
        for (int i = 0; i < f->sets; i++) {
            dataset *s = &f->data[i];
            update_activations_shared(f->W, f->WtW, s->U, s->H, m, d, s->n, 1, f->lambda,
                                      s->omega, f->guard_H, f->num_H, f->den_H, LINALG_CHUNK);
        }
    }
    if (f->p->normalize) {
        /* n_k = ||W_:k||; W_:k /= n_k + ε; H_k: *= n_k (den_W is free here). */
        float *norms = f->den_W;
        normalize_columns(f->W, m, d, MDNMF_EPS, norms);
        for (int i = 0; i < f->sets; i++)
            scale_rows(f->data[i].H, d, f->data[i].n, norms);
        if (f->sup)
            scale_row_block(f->sup->H, f->sup->rows, f->sup->n, f->sup->offset, d, norms);
    }
}

/* ------------------------------------------------------------ monitoring */

/* Fraction of the true data's energy the basis explains, measured on a
 * fixed sample of columns (cheap enough for every epoch). */
static double explained_fraction(fit *f)
{
    const dataset *truth = &f->data[0];
    int64_t count = truth->n < HEALTH_SAMPLE ? truth->n : HEALTH_SAMPLE;
    for (int64_t k = 0; k < count; k++)
        f->sample_idx[k] = k * truth->n / count;
    gather_columns(f->sample_U, truth->U, f->m, f->sample_idx, count);
    gather_columns(f->sample_H, truth->H, f->d, f->sample_idx, count);
    double energy = 0.0;
    for (int64_t i = 0; i < f->m * count; i++)
        energy += (double)f->sample_U[i] * f->sample_U[i];
    double residual = squared_residual(f->sample_U, f->W, f->sample_H, f->m, f->d, count,
                                       f->sample_work);
    return energy > 0.0 ? 1.0 - residual / energy : 1.0;
}

/* A fit has failed when W or H stop being finite, W explodes, or the basis
 * no longer explains the true data (what too large a tau_A does: W grows
 * while H falls towards zero). */
static int check_divergence(fit *f, int epoch)
{
    int64_t md = f->m * f->d;
    int healthy = all_finite(f->W, md) && max_entry(f->W, md) <= DIVERGENCE_LIMIT;
    for (int i = 0; i < f->sets && healthy; i++)
        healthy = all_finite(f->data[i].H, f->d * f->data[i].n);
    if (healthy && f->sets == 2)
        healthy = explained_fraction(f) >= COLLAPSE_FRACTION * f->explained_at_start;
    if (healthy)
        return MDNMF_OK;
    if (f->sets == 2)
        return model_fail(f->model, MDNMF_ERR_DIVERGED,
                          "MDNMF diverged at epoch %d: the adversarial term (tau_A = %g) "
                          "outweighs the fit of the true data; use a smaller tau_A",
                          epoch, f->tau_A);
    return model_fail(f->model, MDNMF_ERR_DIVERGED,
                      "NMF diverged at epoch %d: the basis became non-finite", epoch);
}

static double mean_squared_residual(fit *f, const dataset *s)
{
    return squared_residual(s->U, f->W, s->H, f->m, f->d, s->n, f->residual_work) /
           (double)s->n;
}

/* Losses for the callback; a non-zero return cancels the fit. */
static int notify_epoch(fit *f, int epoch)
{
    if (!f->p->on_epoch)
        return MDNMF_OK;
    mdnmf_progress progress = {.epoch = epoch, .epochs = f->p->epochs, .stage = f->stage,
                               .stages = f->stages > 0 ? f->stages : 1};
    progress.loss_true = mean_squared_residual(f, &f->data[0]);
    progress.loss_adv = f->sets == 2 ? mean_squared_residual(f, &f->data[1]) : 0.0;
    progress.objective = f->tau_W * progress.loss_true - f->tau_A * progress.loss_adv +
                         f->p->mu_W * sum_abs(f->W, f->m * f->d);
    if (!isfinite(progress.objective))
        return model_fail(f->model, MDNMF_ERR_DIVERGED,
                          "the loss became non-finite at epoch %d; use a smaller tau_A", epoch);
    if (f->p->on_epoch(f->p->on_epoch_user, &progress))
        return model_fail(f->model, MDNMF_ERR_CANCELLED, "fit cancelled at epoch %d", epoch);
    return MDNMF_OK;
}

/* ------------------------------------------------------------ the fits */

static void describe_dataset(dataset *s, const char *name, const float *U, int64_t n,
                             const float *omega, int64_t batch, uint64_t seed, int stream)
{
    s->name = name;
    s->U = U;
    s->n = n;
    s->omega = omega;
    s->batch = clamp_batch(batch, n);
    rng_seed(&s->stream, seed, (uint64_t)stream);
    s->trace_H = stream == 0 ? MDNMF_TRACE_H_RANDOM : MDNMF_TRACE_H_RANDOM_ADV;
    s->trace_perm = stream == 0 ? MDNMF_TRACE_PERM_TRUE : MDNMF_TRACE_PERM_ADV;
}

/* Move the fitted basis and activations to the job. */
static void hand_over_result(fit *f, basis_fit *job)
{
    job->W = f->W;
    job->H = f->data[0].H;
    job->H_adv = f->sets == 2 ? f->data[1].H : NULL;
    f->W = NULL;
    f->data[0].H = f->data[1].H = NULL;
}

fit *fit_open(mdnmf_model *report_to, int64_t m, basis_fit *job, int *status)
{
    const mdnmf_params *p = job->params;
    int adversarial = job->n_adv > 0;
    if (!job->W_start && p->init == MDNMF_INIT_EXEMPLAR && p->d > job->n) {
        *status = model_fail(report_to, MDNMF_ERR_SHAPE,
                             "d = %d atoms but only %lld samples: exemplar init needs d <= "
                             "samples; use fewer atoms or init random",
                             p->d, (long long)job->n);
        return NULL;
    }
    fit *f = calloc(1, sizeof *f);
    if (!f) {
        *status = model_fail(report_to, MDNMF_ERR_MEMORY, "out of memory for a fit");
        return NULL;
    }
    *f = (fit){.model = report_to, .p = p, .W_start = job->W_start, .m = m, .d = p->d,
               .sets = adversarial ? 2 : 1, .sup = job->supervised, .stage = job->stage,
               .stages = job->stages};
    f->tau_W = adversarial || f->sup ? job->tau_W : 1.0;
    f->tau_A = adversarial ? job->tau_A : 0.0;
    job->W = job->H = job->H_adv = NULL;
    describe_dataset(&f->data[0], "data", job->U, job->n, NULL, p->batch_size, p->seed, 0);
    if (adversarial)
        describe_dataset(&f->data[1], "adversarial data", job->U_adv, job->n_adv, job->omega,
                         p->batch_size_adv, p->seed, 1);
    linalg_set_threads(p->threads);
    f->threads = linalg_threads();
    if (!allocate_fit(f)) {
        fit_close(f, job, 0);
        *status = model_fail(report_to, MDNMF_ERR_MEMORY,
                             "out of memory for a fit of %lld x %lld data", (long long)m,
                             (long long)job->n);
        return NULL;
    }
    memcpy(f->lambda, job->lambda, (size_t)f->d * sizeof *f->lambda);
    *status = initialise_basis(f);
    if (*status) {
        fit_close(f, job, 0);
        return NULL;
    }
    scaled_guards(max_entry(f->data[0].U, m * f->data[0].n), max_entry(f->W, m * f->d),
                  &f->guard_H, &f->guard_W);
    initialise_activations(f);
    f->explained_at_start = explained_fraction(f);
    *status = notify_epoch(f, 0);
    return f;
}

int fit_epoch(fit *f, int epoch)
{
    run_epoch(f, epoch);
    int status = check_divergence(f, epoch);
    return status ? status : notify_epoch(f, epoch);
}

const float *fit_current_basis(const fit *f)
{
    return f->W;
}

void fit_close(fit *f, basis_fit *job, int keep)
{
    if (!f)
        return;
    if (keep)
        hand_over_result(f, job);
    free_fit(f);
    free(f);
}

int fit_basis(mdnmf_model *report_to, int64_t m, basis_fit *job)
{
    int status;
    fit *f = fit_open(report_to, m, job, &status);
    if (!f)
        return status;
    for (int epoch = 1; epoch <= job->params->epochs && status == MDNMF_OK; epoch++)
        status = fit_epoch(f, epoch);
    fit_close(f, job, status == MDNMF_OK || status == MDNMF_ERR_CANCELLED);
    return status;
}

/* Per-atom λ: the user's per-atom values when they fit, else the scalar. */
static float *atom_penalties(const mdnmf_model *model)
{
    int64_t d = model->params.d;
    float *lambda = malloc((size_t)d * sizeof *lambda);
    if (!lambda)
        return NULL;
    int custom = model->mu_H_custom && model->mu_H && model->atoms == d;
    for (int64_t k = 0; k < d; k++)
        lambda[k] = custom ? model->mu_H[k] : (float)model->params.mu_H;
    return lambda;
}

static int fit_one_source(mdnmf_model *model, const float *U, int64_t m, int64_t n,
                          const float *U_adv, int64_t n_adv, const float *omega, int adversarial)
{
    if (!model)
        return MDNMF_ERR_ARGUMENT;
    const mdnmf_params *p = &model->params;
    int status = check_matrix(model, "data", U, m, n);
    if (!status && adversarial)
        status = check_matrix(model, "adversarial data", U_adv, m, n_adv);
    if (!status && adversarial)
        status = check_weights(model, omega, n_adv);
    if (status)
        return status;
    int warm = p->warm_start && model->W;
    if (warm && (model->m != m || model->atoms != p->d))
        return model_fail(model, MDNMF_ERR_SHAPE,
                          "warm-start basis is %lld x %lld but the fit needs %lld x %d "
                          "(features x atoms)",
                          (long long)model->m, (long long)model->atoms, (long long)m, p->d);
    if (p->init == MDNMF_INIT_EXEMPLAR && !warm && p->d > n)
        return model_fail(model, MDNMF_ERR_SHAPE,
                          "d = %d atoms but only %lld samples: exemplar init needs d <= "
                          "samples; use fewer atoms or init random",
                          p->d, (long long)n);
    basis_fit job = {.params = p, .W_start = warm ? model->W : NULL, .U = U, .n = n,
                     .U_adv = U_adv, .n_adv = adversarial ? n_adv : 0, .omega = omega,
                     .tau_A = p->tau_A, .tau_W = p->tau_W};
    float *lambda = atom_penalties(model);
    if (!lambda)
        return model_fail(model, MDNMF_ERR_MEMORY, "out of memory");
    job.lambda = lambda;
    status = fit_basis(model, m, &job);
    free(lambda);
    if (job.W) {
        int adopted = model_adopt_basis(model, job.W, m, p->d);
        if (adopted) {
            free(job.H), free(job.H_adv);
            return adopted;
        }
        model_set_activations(model, job.H, job.n, job.H_adv, job.H_adv ? job.n_adv : 0);
    }
    return status;
}

int mdnmf_fit_std(mdnmf_model *model, const float *U, int64_t m, int64_t n, mdnmf_error *error)
{
    model_clear_error(model);
    return model_report(model, fit_one_source(model, U, m, n, NULL, 0, NULL, 0), error);
}

int mdnmf_fit_adv(mdnmf_model *model, const float *U, int64_t m, int64_t n, const float *U_adv,
                  int64_t n_adv, const float *omega, mdnmf_error *error)
{
    model_clear_error(model);
    return model_report(model, fit_one_source(model, U, m, n, U_adv, n_adv, omega, 1), error);
}

int exemplar_basis(mdnmf_model *report_to, const mdnmf_params *p, const float *U, int64_t m,
                   int64_t n, float **W_out)
{
    int64_t d = p->d;
    *W_out = NULL;
    if (d > n)
        return model_fail(report_to, MDNMF_ERR_SHAPE,
                          "d = %lld atoms but only %lld samples: exemplar NMF needs d <= samples",
                          (long long)d, (long long)n);
    float *W = malloc((size_t)(m * d) * sizeof *W);
    int64_t *chosen = malloc((size_t)d * sizeof *chosen);
    int64_t *scratch = malloc((size_t)n * sizeof *scratch);
    if (!W || !chosen || !scratch) {
        free(W), free(chosen), free(scratch);
        return model_fail(report_to, MDNMF_ERR_MEMORY, "out of memory choosing exemplars");
    }
    rng stream;
    rng_seed(&stream, p->seed, 0);
    rng_choose_distinct(&stream, chosen, d, n, scratch);
    report(p, MDNMF_TRACE_EXEMPLARS, 0, chosen, d);
    gather_columns(W, U, m, chosen, d);
    if (p->normalize)
        normalize_columns(W, m, d, MDNMF_EPS, NULL);
    free(chosen), free(scratch);
    *W_out = W;
    return MDNMF_OK;
}

static int fit_exem(mdnmf_model *model, const float *U, int64_t m, int64_t n)
{
    if (!model)
        return MDNMF_ERR_ARGUMENT;
    int status = check_matrix(model, "data", U, m, n);
    float *W = NULL;
    if (!status)
        status = exemplar_basis(model, &model->params, U, m, n, &W);
    if (!status)
        status = model_adopt_basis(model, W, m, model->params.d);
    if (!status)
        model_set_activations(model, NULL, 0, NULL, 0);
    return status;
}

int mdnmf_fit_exem(mdnmf_model *model, const float *U, int64_t m, int64_t n, mdnmf_error *error)
{
    model_clear_error(model);
    return model_report(model, fit_exem(model, U, m, n), error);
}
