/* One-source fits (SPEC §1–§3): transform, fit_std, fit_adv, fit_exem.
 * docs/algorithm.md fixes the choices SPEC leaves open (guards, streams,
 * order of random draws). */
#include "internal.h"
#include "checkpoint.h"
#include "linalg.h"
#include "rng.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
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

/* The activations a fit owns for one data set (the true data, or the
 * adversarial data): initialised, shuffled and updated by the fit. */
typedef struct dataset {
    const float *U;      /* m x n */
    int64_t n;
    const float *omega;  /* n penalty weights, NULL = ones */
    float *H;            /* d x n */
    int64_t *perm;       /* n */
    float *omega_b;      /* batch, when omega and the batch is gathered */
    rng stream;
    mdnmf_trace_kind trace_H, trace_perm;
} dataset;

/* One term of the fit's W step: its description, the buffers its batches
 * are gathered into and the view of them the step sums. */
typedef struct fit_term {
    basis_term of;       /* own terms point at their dataset's H and perm */
    int own;             /* its activations are the fit's (a dataset) */
    int in_step;         /* it enters the W step */
    int64_t *idx;        /* batch columns; NULL when its batches are not gathered */
    int64_t count;       /* columns of the current batch held here (B unless sharded) */
    int64_t n_global;    /* columns of the whole data (of.n unless sharded) */
    const shard_layout *layout; /* sharded: which of them are held here; else NULL */
    float *U_b, *H_b;    /* m x batch, rows x batch */
    term_batch view;     /* the batch the W step reads (gathered or in place) */
} fit_term;

struct fit {
    mdnmf_model *model;       /* receives error messages */
    const mdnmf_params *p;
    const float *W_start;     /* warm start, or NULL */
    int64_t m, d;
    float *W;                 /* m x d, the basis being fitted */
    float *lambda;            /* d per-atom L1 weights on H */
    float guard_H, guard_W;   /* ε scaled to the data (docs/algorithm.md) */
    beta_work beta;           /* KL and IS: the guard on Λ and the work of their steps */
    const beta_work *bw;      /* &beta, or NULL for Frobenius */
    fit_term terms[FIT_MAX_TERMS]; /* the own terms first: terms[i] is data[i] */
    int term_count;
    dataset data[2];          /* [0] true, [1] adversarial */
    int sets;                 /* own terms: 1 for NMF, 2 for MDNMF */
    term_batch step[FIT_MAX_TERMS]; /* the views of the terms in the W step */
    int step_count;
    int threads;              /* of the library's parallel regions */
    float *num_W, *den_W;     /* m x d */
    float *WtW;               /* d x d */
    float *num_H, *den_H;     /* d x LINALG_CHUNK per thread */
    int *voiced;              /* per thread: its rows of the true batch are not silent */
    float *residual_work;     /* m x LINALG_CHUNK, only with a callback */
    int64_t *sample_idx;      /* HEALTH_SAMPLE columns watched for collapse */
    float *sample_U, *sample_H, *sample_work;
    double explained_at_start;/* their explained energy after initialisation */
    int stage, stages;        /* for the epoch callback */
    checkpoint *ck;           /* the run's checkpointing, or NULL */
    char prefix[16];          /* "fit<slot>.": the names of its saved arrays */
    const mdnmf_shard *shard; /* a sharded fit's columns and reduction, or NULL */
    float *reduce_buf;        /* sharded: the batch's sums (docs/distributed.md) */
    int reduce_failed;        /* the reduce callback failed: the fit fails */
};

/* ------------------------------------------------------------ sharding */

/* Combine `buffer` across the processes of a sharded fit (nothing when
 * unsharded).  A failing callback fails the fit with MDNMF_ERR_IO. */
static int shard_reduce(fit *f, void *buffer, int64_t count, mdnmf_reduce_op op)
{
    if (!f->shard)
        return MDNMF_OK;
    int rc = f->shard->reduce(f->shard->reduce_user, buffer, count, op);
    if (rc && !f->reduce_failed) {
        f->reduce_failed = 1;
        model_fail(f->model, MDNMF_ERR_IO, "the shard's reduce callback failed (returned %d)",
                   rc);
    }
    return f->reduce_failed ? MDNMF_ERR_IO : MDNMF_OK;
}

/* Every process of a sharded fit learns whether one failed (its status,
 * the largest if several did), so that none waits for the others for ever.
 * Unsharded: `status` itself. */
int shard_agree(mdnmf_model *report_to, const mdnmf_shard *shard, int status)
{
    if (!shard)
        return status;
    float worst = (float)status;
    int rc = shard->reduce(shard->reduce_user, &worst, 1, MDNMF_REDUCE_MAX_F32);
    if (status)
        return status;
    if (rc)
        return model_fail(report_to, MDNMF_ERR_IO,
                          "the shard's reduce callback failed (returned %d)", rc);
    if (worst > 0.0f)
        return model_fail(report_to, (int)worst,
                          "another process of the sharded fit failed (%s); see its message",
                          mdnmf_strerror((int)worst));
    return MDNMF_OK;
}

int shard_reduce_buffer(mdnmf_model *report_to, const mdnmf_shard *shard, void *buffer,
                        int64_t count, mdnmf_reduce_op op)
{
    int rc = shard->reduce(shard->reduce_user, buffer, count, op);
    if (rc)
        return model_fail(report_to, MDNMF_ERR_IO,
                          "the shard's reduce callback failed (returned %d)", rc);
    return MDNMF_OK;
}

int shard_count_table(mdnmf_model *report_to, const mdnmf_shard *shard, int sets,
                      const int64_t *local, int64_t *totals, int64_t *offsets)
{
    int64_t ranks = shard->ranks, cells = ranks * sets;
    /* Doubles count exactly up to 2^53 columns.  (ranks x sets is small: a
     * failed allocation here leaves the other processes waiting.) */
    double *table = calloc((size_t)cells, sizeof *table);
    if (!table)
        return model_fail(report_to, MDNMF_ERR_MEMORY, "out of memory for the shard's counts");
    for (int k = 0; k < sets; k++)
        table[shard->rank * sets + k] = (double)local[k];
    int status = shard_reduce_buffer(report_to, shard, table, cells, MDNMF_REDUCE_SUM_F64);
    for (int k = 0; k < sets && !status; k++) {
        totals[k] = offsets[k] = 0;
        for (int64_t r = 0; r < ranks; r++) {
            int64_t count = (int64_t)table[r * sets + k];
            if (r < shard->rank)
                offsets[k] += count;
            totals[k] += count;
        }
    }
    free(table);
    return status;
}

int64_t shard_local_column(const shard_layout *layout, int64_t global)
{
    int64_t base = 0;
    for (int i = 0; i < layout->count; i++) {
        int64_t j = global - layout->segment[i].start;
        if (j >= 0 && j < layout->segment[i].columns)
            return base + j;
        base += layout->segment[i].columns;
    }
    return -1;
}

/* One segment: columns [offset, offset + n) of n_global. */
static void single_segment(shard_layout *layout, int64_t n_global, int64_t offset, int64_t n)
{
    *layout = (shard_layout){.n_global = n_global, .count = 1};
    layout->segment[0].start = offset;
    layout->segment[0].columns = n;
}

/* Uniform draws for the columns of a d x n_global matrix the layout holds
 * into H (d x its columns): the others' draws are made and dropped, so the
 * stream ends where the unsharded fill leaves it. */
void fill_uniform_columns(rng *r, float *H, int64_t d, const shard_layout *layout)
{
    int64_t next = 0; /* the first global column not yet drawn */
    for (int i = 0; i < layout->count; i++) {
        for (int64_t k = 0; k < d * (layout->segment[i].start - next); k++)
            rng_next(r);
        rng_fill_uniform(r, H, d * layout->segment[i].columns);
        H += d * layout->segment[i].columns;
        next = layout->segment[i].start + layout->segment[i].columns;
    }
    for (int64_t k = 0; k < d * (layout->n_global - next); k++)
        rng_next(r);
}

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

/* Wᵀ1: the column sums of W (m x d), added in double. */
static void column_sums(const float *W, int64_t m, int64_t d, float *sums)
{
    for (int64_t k = 0; k < d; k++) {
        double sum = 0.0;
        for (int64_t i = 0; i < m; i++)
            sum += W[k * m + i];
        sums[k] = (float)sum;
    }
}

/* SPEC §11 on BETA_CHUNK columns at a time, with Λ = W H_c each iteration:
 *   KL:  H <- H ⊙ Wᵀ(U ⊘ Λ) ⊘ (Wᵀ1 + λ ωᵀ + guard)
 *   IS:  H <- H ⊙ sqrt(Wᵀ(U ⊘ Λ²) ⊘ (Wᵀ(1 ⊘ Λ) + λ ωᵀ + guard)) */
void update_activations_beta(const beta_work *bw, const float *W, const float *U, float *H,
                             int64_t m, int64_t d, int64_t n, int iterations,
                             const float *lambda, const float *omega, float guard, float *num,
                             float *den, float *work)
{
    if (iterations < 1 || n < 1)
        return;
    int kl = bw->kind == MDNMF_DIVERGENCE_KL;
    if (kl)
        column_sums(W, m, d, den); /* the same for every column: KL's den is Wᵀ1 */
    for (int64_t start = 0; start < n; start += BETA_CHUNK) {
        int64_t cols = n - start < BETA_CHUNK ? n - start : BETA_CHUNK;
        float *H_c = H + start * d, *L = work, *T = work + m * cols;
        const float *U_c = U + start * m;
        const float *omega_c = omega ? omega + start : NULL;
        for (int it = 0; it < iterations; it++) {
            product_AB(m, cols, d, 1.0f, W, H_c, 0.0f, L);
            if (kl) {
                kl_ratio_block(L, m, U_c, m, m, cols, bw->guard);
                product_AtB(d, cols, m, 1.0f, W, L, 0.0f, num);
                mu_step_penalised_rows(H_c, num, den, d, cols, lambda, omega_c, guard);
            } else {
                is_ratios_block(L, T, m, U_c, m, m, cols, bw->guard);
                product_AtB(d, cols, m, 1.0f, W, L, 0.0f, num);
                product_AtB(d, cols, m, 1.0f, W, T, 0.0f, den);
                mu_step_penalised_sqrt(H_c, num, den, d, cols, lambda, omega_c, guard);
            }
        }
    }
}

/* The same with the columns split between the library's threads, each with
 * its own d x work_cols slice of num and den (which hold `threads` slices). */
void update_activations_shared(const float *W, const float *WtW, const float *U, float *H,
                               int64_t m, int64_t d, int64_t n, int iterations,
                               const float *lambda, const float *omega, float guard, float *num,
                               float *den, int64_t work_cols, const beta_work *beta)
{
    int parts = n >= 2 * SHARED_MIN_COLUMNS ? linalg_threads() : 1;
    int runners = parts < linalg_runners() ? parts : linalg_runners();
#pragma omp parallel num_threads(runners) if (runners > 1)
    FOR_EACH_PART(part, parts)
    {
        int64_t c0, c1;
        linalg_share(n, parts, part, 1, &c0, &c1);
        float *num_part = num + (int64_t)part * d * work_cols;
        float *den_part = den + (int64_t)part * d * work_cols;
        if (beta)
            update_activations_beta(beta, W, U + c0 * m, H + c0 * d, m, d, c1 - c0, iterations,
                                    lambda, omega ? omega + c0 : NULL, guard, num_part,
                                    den_part, beta_work_part(beta, part));
        else
            update_activations(W, WtW, U + c0 * m, H + c0 * d, m, d, c1 - c0, iterations,
                               lambda, omega ? omega + c0 : NULL, guard, num_part, den_part);
    }
}

/* Transform's steps with per_sample_init: update_activations and
 * update_activations_beta (no ω) one column at a time, every product taken
 * by product_AB_by_columns (Wt = Wᵀ, d x m) and the guards scaled by the
 * column's own peak, so that H[:, j] depends on U[:, j], H0[:, j] and the
 * model only: the same bits whatever the other columns, their order or the
 * thread count's split.  `work` holds d (Frobenius) or 2 m (KL, IS) floats
 * besides num and den (d each). */
static void update_column(mdnmf_divergence kind, const float *W, const float *Wt,
                          const float *WtW, const float *column_sums_W, const float *u, float *h,
                          int64_t m, int64_t d, int iterations, const float *lambda,
                          float basis_peak, float *num, float *den, float *work)
{
    float guard_H, guard_L;
    divergence_guards(kind, max_entry(u, m), basis_peak, &guard_H, NULL, &guard_L);
    if (kind == MDNMF_DIVERGENCE_FROBENIUS) {
        product_AB_by_columns(d, 1, m, Wt, u, num);
        for (int it = 0; it < iterations; it++) {
            product_AB_by_columns(d, 1, d, WtW, h, den);
            /* mu_step_penalised's step; for one column the _rows variant
             * does the same operations without opening a parallel region */
            mu_step_penalised_rows(h, num, den, d, 1, lambda, NULL, guard_H);
        }
        return;
    }
    float *L = work, *T = work + m;
    for (int it = 0; it < iterations; it++) {
        product_AB_by_columns(m, 1, d, W, h, L);
        if (kind == MDNMF_DIVERGENCE_KL) {
            kl_ratio_block(L, m, u, m, m, 1, guard_L);
            product_AB_by_columns(d, 1, m, Wt, L, num);
            mu_step_penalised_rows(h, num, column_sums_W, d, 1, lambda, NULL, guard_H);
        } else {
            is_ratios_block(L, T, m, u, m, m, 1, guard_L);
            product_AB_by_columns(d, 1, m, Wt, L, num);
            product_AB_by_columns(d, 1, m, Wt, T, den);
            mu_step_penalised_sqrt(h, num, den, d, 1, lambda, NULL, guard_H);
        }
    }
}

/* update_column on every column, the columns split between the library's
 * threads as in update_activations_shared; `work` holds linalg_threads()
 * slices of COLUMN_WORK(m, d) floats. */
#define COLUMN_WORK(m, d) (2 * (d) + 2 * (m))
static void update_columns_shared(mdnmf_divergence kind, const float *W, const float *Wt,
                                  const float *WtW, const float *U, float *H, int64_t m,
                                  int64_t d, int64_t n, int iterations, const float *lambda,
                                  float *work)
{
    float basis_peak = max_entry(W, m * d);
    float *sums = NULL;
    if (kind == MDNMF_DIVERGENCE_KL) { /* KL's den, Wᵀ1, is the same for every column */
        sums = work + (int64_t)linalg_threads() * COLUMN_WORK(m, d);
        column_sums(W, m, d, sums);
    }
    int parts = n >= 2 * SHARED_MIN_COLUMNS ? linalg_threads() : 1;
    int runners = parts < linalg_runners() ? parts : linalg_runners();
#pragma omp parallel num_threads(runners) if (runners > 1)
    FOR_EACH_PART(part, parts)
    {
        int64_t c0, c1;
        linalg_share(n, parts, part, 1, &c0, &c1);
        float *num = work + (int64_t)part * COLUMN_WORK(m, d), *den = num + d, *rest = den + d;
        for (int64_t j = c0; j < c1; j++)
            update_column(kind, W, Wt, WtW, sums, U + j * m, H + j * d, m, d, iterations,
                          lambda, basis_peak, num, den, rest);
    }
}

int beta_work_open(beta_work *bw, mdnmf_divergence kind, int64_t m, int parts,
                   const beta_work **out)
{
    *bw = (beta_work){.kind = kind, .m = m};
    *out = NULL;
    if (kind == MDNMF_DIVERGENCE_FROBENIUS)
        return MDNMF_OK;
    bw->work = malloc((size_t)(parts * BETA_WORK(m)) * sizeof *bw->work);
    if (!bw->work)
        return MDNMF_ERR_MEMORY;
    *out = bw;
    return MDNMF_OK;
}

float *beta_work_part(const beta_work *bw, int part)
{
    return bw->work + (int64_t)part * BETA_WORK(bw->m);
}

/* ε scaled by the data peak c and basis peak w. */
void scaled_guards(float data_peak, float basis_peak, float *guard_H, float *guard_W)
{
    double c = data_peak > 0.0f ? data_peak : 1.0;
    double w = basis_peak > 0.0f ? basis_peak : 1.0;
    if (guard_H) *guard_H = (float)(MDNMF_EPS * c * w);
    if (guard_W) *guard_W = (float)(MDNMF_EPS * c * c / w);
}

/* The denominators of D_β's steps scale as W Λ^{β-1} ~ w c^{β-1} (H) and
 * Λ^{β-1} Hᵀ ~ c^β / w (W), Λ itself as c: so are their guards. */
void divergence_guards(mdnmf_divergence kind, float data_peak, float basis_peak, float *guard_H,
                       float *guard_W, float *guard_L)
{
    double c = data_peak > 0.0f ? data_peak : 1.0;
    double w = basis_peak > 0.0f ? basis_peak : 1.0;
    if (guard_L) *guard_L = (float)(MDNMF_EPS * c);
    if (kind == MDNMF_DIVERGENCE_FROBENIUS) {
        scaled_guards(data_peak, basis_peak, guard_H, guard_W);
        return;
    }
    double beta = kind == MDNMF_DIVERGENCE_KL ? 1.0 : 0.0;
    if (guard_H) *guard_H = (float)(MDNMF_EPS * w * pow(c, beta - 1.0));
    if (guard_W) *guard_W = (float)(MDNMF_EPS * pow(c, beta) / w);
}

double divergence_residual(mdnmf_divergence kind, const float *U, const float *W,
                           const float *H, int64_t m, int64_t d, int64_t n, float guard_L,
                           float *work)
{
    if (kind == MDNMF_DIVERGENCE_FROBENIUS)
        return squared_residual(U, W, H, m, d, n, work);
    return beta_residual(kind == MDNMF_DIVERGENCE_KL ? 1 : 0, U, W, H, m, d, n, guard_L, work);
}

/* A 64-bit hash of one column's values (FNV-1a over the float bits, then
 * splitmix64's finaliser).  -0 hashes as +0: the two are equal data. */
static uint64_t column_hash(const float *u, int64_t m)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (int64_t i = 0; i < m; i++) {
        float value = u[i] == 0.0f ? 0.0f : u[i];
        uint32_t bits;
        memcpy(&bits, &value, sizeof bits);
        h = (h ^ bits) * 0x100000001B3ull;
    }
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
    return h ^ (h >> 31);
}

/* Transform's H0 ~ Uniform(0,1): SPEC §1's one stream of the seed for all
 * columns, or (per_sample_init) column j's own stream of the seed and j's
 * values, so that H0[:, j], and with it H[:, j], depend on U[:, j] alone
 * (update_column treats each column on its own). */
static void initial_activations(const mdnmf_params *p, const float *U, int64_t m, int64_t d,
                                int64_t n, float *H)
{
    rng stream;
    if (!p->per_sample_init) {
        rng_seed(&stream, p->seed, 0);
        rng_fill_uniform(&stream, H, d * n);
        return;
    }
    for (int64_t j = 0; j < n; j++) {
        rng_seed(&stream, p->seed, column_hash(U + j * m, m));
        rng_fill_uniform(&stream, H + j * d, d);
    }
}

/* SPEC §1's transform: H0 from one stream, guards from U's peak, the
 * columns shared between the threads (OpenBLAS stays on one), each with a
 * d x work_cols slice of num and den. */
static int transform_shared_stream(mdnmf_model *model, const float *U, int64_t m, int64_t n,
                                   float *H)
{
    const mdnmf_params *p = &model->params;
    int64_t d = model->atoms;
    int64_t work_cols = n < LINALG_CHUNK ? n : LINALG_CHUNK;
    size_t work = (size_t)(linalg_threads() * d * work_cols);
    float *WtW = malloc((size_t)(d * d) * sizeof *WtW);
    float *num = malloc(work * sizeof *num);
    float *den = malloc(work * sizeof *den);
    beta_work beta;
    const beta_work *bw;
    int opened = beta_work_open(&beta, p->divergence, m, linalg_threads(), &bw);
    if (!WtW || !num || !den || opened) {
        free(WtW), free(num), free(den), free(beta.work);
        return model_fail(model, MDNMF_ERR_MEMORY, "out of memory for transform workspace");
    }
    initial_activations(p, U, m, d, n, H);
    report(p, MDNMF_TRACE_H_RANDOM, 0, H, d * n);
    float guard_H;
    divergence_guards(p->divergence, max_entry(U, m * n), max_entry(model->W, m * d), &guard_H,
                      NULL, &beta.guard);
    if (!bw)
        gram_of_columns(model->W, m, d, 1.0f, WtW);
    update_activations_shared(model->W, WtW, U, H, m, d, n, p->test_epochs, model->mu_H, NULL,
                              guard_H, num, den, work_cols, bw);
    free(WtW), free(num), free(den), free(beta.work);
    return MDNMF_OK;
}

/* per_sample_init's transform: every column on its own (update_column). */
static int transform_by_columns(mdnmf_model *model, const float *U, int64_t m, int64_t n,
                                float *H)
{
    const mdnmf_params *p = &model->params;
    int64_t d = model->atoms;
    size_t work = (size_t)(linalg_threads() * COLUMN_WORK(m, d) + d);
    float *WtW = malloc((size_t)(d * d) * sizeof *WtW);
    float *Wt = malloc((size_t)(d * m) * sizeof *Wt);
    float *slices = malloc(work * sizeof *slices);
    if (!WtW || !Wt || !slices) {
        free(WtW), free(Wt), free(slices);
        return model_fail(model, MDNMF_ERR_MEMORY, "out of memory for transform workspace");
    }
    initial_activations(p, U, m, d, n, H);
    report(p, MDNMF_TRACE_H_RANDOM, 0, H, d * n);
    if (p->divergence == MDNMF_DIVERGENCE_FROBENIUS)
        gram_of_columns(model->W, m, d, 1.0f, WtW);
    transpose(model->W, m, d, Wt);
    update_columns_shared(p->divergence, model->W, Wt, WtW, U, H, m, d, n, p->test_epochs,
                          model->mu_H, slices);
    free(WtW), free(Wt), free(slices);
    return MDNMF_OK;
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

    linalg_set_threads(model->params.threads);
    return model->params.per_sample_init ? transform_by_columns(model, U, m, n, H)
                                         : transform_shared_stream(model, U, m, n, H);
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

static void free_fit(fit *f)
{
    for (int i = 0; i < f->sets; i++) {
        dataset *s = &f->data[i];
        free(s->H), free(s->perm), free(s->omega_b);
    }
    for (int i = 0; i < f->term_count; i++) {
        fit_term *t = &f->terms[i];
        free(t->idx), free(t->U_b), free(t->H_b), free(t->view.G);
    }
    free(f->W), free(f->lambda), free(f->num_W), free(f->den_W), free(f->WtW), free(f->voiced);
    free(f->num_H), free(f->den_H), free(f->residual_work);
    free(f->sample_idx), free(f->sample_U), free(f->sample_H), free(f->sample_work);
    free(f->beta.work);
    free(f->reduce_buf);
}

/* A term's batches are gathered into buffers of their own, except an own
 * term's batch of all columns (batch size 0, the default, or N): that is
 * the data itself, and its permutation only reorders the sums of the W
 * step, so the W and H steps read U and H in place instead.  Terms that
 * neither enter the W step nor take batch-wise H steps need no batches. */
static int gathers_batches(const fit *f, const fit_term *t)
{
    if (t->own)
        return (f->shard || t->of.batch < t->of.n) && (t->in_step || f->p->update_H);
    return t->in_step;
}

static int allocate_dataset(dataset *s, const fit_term *t, int64_t d)
{
    size_t H_bytes = (size_t)(d * s->n) * sizeof *s->H;
    s->H = malloc(H_bytes);
    if (s->H)
        advise_huge_pages(s->H, H_bytes);
    s->perm = malloc((size_t)t->n_global * sizeof *s->perm);
    if (s->omega && t->idx)
        s->omega_b = malloc((size_t)t->of.batch * sizeof *s->omega_b);
    return s->H && s->perm && (!s->omega || !t->idx || s->omega_b);
}

static int allocate_term(fit_term *t, int gathered, int64_t m, int64_t d)
{
    int64_t batch = t->of.batch;
    if (gathered) {
        t->idx = malloc((size_t)batch * sizeof *t->idx);
        t->U_b = malloc((size_t)(m * batch) * sizeof *t->U_b);
        t->H_b = malloc((size_t)(t->of.rows * batch) * sizeof *t->H_b);
        if (!t->idx || !t->U_b || !t->H_b)
            return 0;
    }
    if (t->in_step && !(t->view.G = malloc((size_t)(d * d) * sizeof *t->view.G)))
        return 0;
    return 1;
}

static int allocate_fit(fit *f)
{
    /* The H steps work through LINALG_CHUNK columns at a time, whatever the
     * batch: their workspace does not grow with the batch or the data. */
    int64_t m = f->m, d = f->d;
    for (int i = 0; i < f->term_count; i++)
        if (!allocate_term(&f->terms[i], gathers_batches(f, &f->terms[i]), m, d))
            return 0;
    for (int i = 0; i < f->sets; i++)
        if (!allocate_dataset(&f->data[i], &f->terms[i], d))
            return 0;
    f->W = malloc((size_t)(m * d) * sizeof *f->W);
    f->lambda = malloc((size_t)d * sizeof *f->lambda);
    f->num_W = malloc((size_t)(m * d) * sizeof *f->num_W);
    f->den_W = malloc((size_t)(m * d) * sizeof *f->den_W);
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
    if (f->shard && !(f->reduce_buf = malloc((size_t)(f->term_count * (m * d + d * d) + 1) *
                                             sizeof *f->reduce_buf)))
        return 0;
    if (beta_work_open(&f->beta, f->p->divergence, m, f->threads, &f->bw))
        return 0;
    return f->W && f->lambda && f->num_W && f->den_W && f->WtW && f->num_H && f->den_H &&
           f->voiced && (!f->p->on_epoch || f->residual_work) && f->sample_idx &&
           f->sample_U && f->sample_H && f->sample_work;
}

/* The batch every term's view reads, and the list of views the W step
 * sums.  The buffers are fixed, so this is done once. */
static void connect_views(fit *f)
{
    f->step_count = 0;
    for (int i = 0; i < f->term_count; i++) {
        fit_term *t = &f->terms[i];
        if (t->own) {
            t->of.H = f->data[i].H;
            t->of.perm = f->data[i].perm;
        }
        t->view.sign = t->of.sign;
        t->view.scale = (float)(t->of.weight / (double)t->of.batch);
        t->view.batch = t->of.batch;
        t->count = t->of.batch;
        t->view.U_b = t->idx ? t->U_b : t->of.U;
        t->view.H_b = (t->idx ? t->H_b : t->of.H) + t->of.offset;
        t->view.ldh = t->of.rows;
        if (t->in_step)
            f->step[f->step_count++] = t->view;
    }
}

/* Sharded exemplars: W's columns k are global columns chosen[k]; each
 * process fills those it holds into zeros and the sum assembles W (exact:
 * one non-zero term per entry). */
static int gather_global_columns(fit *f, const int64_t *chosen)
{
    const fit_term *t = &f->terms[0];
    int64_t m = f->m;
    memset(f->W, 0, (size_t)(m * f->d) * sizeof *f->W);
    for (int64_t k = 0; k < f->d; k++) {
        int64_t j = shard_local_column(t->layout, chosen[k]);
        if (j >= 0)
            memcpy(f->W + k * m, t->of.U + j * m, (size_t)m * sizeof *f->W);
    }
    return shard_reduce(f, f->W, m * f->d, MDNMF_REDUCE_SUM_F32);
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
        int64_t n_global = f->terms[0].n_global;
        int64_t *scratch = malloc((size_t)n_global * sizeof *scratch);
        if (!scratch)
            return model_fail(model, MDNMF_ERR_MEMORY, "out of memory choosing exemplars");
        rng_choose_distinct(&truth->stream, truth->perm, d, n_global, scratch);
        free(scratch);
        report(p, MDNMF_TRACE_EXEMPLARS, 0, truth->perm, d);
        if (f->shard) {
            int status = gather_global_columns(f, truth->perm);
            if (status)
                return status;
        } else {
            gather_columns(f->W, truth->U, m, truth->perm, d);
        }
    } else {
        rng_fill_uniform(&truth->stream, f->W, m * d);
        report(p, MDNMF_TRACE_W_RANDOM, 0, f->W, m * d);
    }
    if (p->normalize)
        normalize_columns(f->W, m, d, MDNMF_EPS, NULL);
    return MDNMF_OK;
}

/* MU steps of a fit's initial H: params.init_H_steps, 0 meaning SPEC's
 * transform (test_epochs steps).  Many steps fit H to the initial basis so
 * well that an exemplar basis hardly moves (docs/algorithm.md). */
static int initial_H_steps(const mdnmf_params *p)
{
    return p->init_H_steps > 0 ? p->init_H_steps : p->test_epochs;
}

static void initialise_activations(fit *f)
{
    if (!f->bw)
        gram_of_columns(f->W, f->m, f->d, 1.0f, f->WtW);
    for (int i = 0; i < f->sets; i++) {
        dataset *s = &f->data[i];
        const fit_term *t = &f->terms[i];
        if (f->shard)
            fill_uniform_columns(&s->stream, s->H, f->d, t->layout);
        else
            rng_fill_uniform(&s->stream, s->H, f->d * s->n);
        report(f->p, s->trace_H, 0, s->H, f->d * s->n);
        /* SPEC §2: random init keeps the uniform H; otherwise H = transform(U). */
        int transform = f->sets == 2 || f->p->init == MDNMF_INIT_EXEMPLAR || f->W_start;
        if (transform)
            update_activations_shared(f->W, f->WtW, s->U, s->H, f->m, f->d, s->n,
                                      initial_H_steps(f->p), f->lambda, s->omega, f->guard_H,
                                      f->num_H, f->den_H, LINALG_CHUNK, f->bw);
    }
}

/* ------------------------------------------------------------ the W step */

void term_grams_share(const term_batch *terms, int count, int64_t d, int parts, int part)
{
    for (int i = 0; i < count; i++) {
        const term_batch *t = &terms[i];
        if (!t->W_model) {
            /* G = τ/B H_b H_bᵀ, symmetric: its blocks dealt out by cost. */
            gram_of_row_block_share(t->H_b, d, t->batch, t->ldh, t->scale, t->G, parts, part);
            continue;
        }
        /* G = τ/B H_model,b H_bᵀ (model_atoms x d), by columns. */
        int64_t c0, c1, rows = t->model_atoms;
        linalg_share(d, parts, part, 1, &c0, &c1);
        product_strided(0, 1, rows, c1 - c0, t->batch, t->scale, t->H_model_b, t->ldh,
                        t->H_b + c0, t->ldh, 0.0f, t->G + c0 * rows, rows);
    }
}

/* Per term, on rows [r0, r1):  data part τ/B U_b H_bᵀ,  model part W_model G;
 * attracting terms add the data part to num and the model part to den,
 * repelling terms the other way round.  The first term overwrites. */
void term_sums_rows(const term_batch *terms, int count, const float *W, int64_t m, int64_t d,
                    int64_t r0, int64_t r1, float *num, float *den)
{
    int64_t rows = r1 - r0;
    for (int i = 0; i < count; i++) {
        const term_batch *t = &terms[i];
        float beta = i == 0 ? 0.0f : 1.0f;
        float *data_part = t->sign == TERM_ATTRACTS ? num : den;
        float *model_part = t->sign == TERM_ATTRACTS ? den : num;
        const float *W_model = t->W_model ? t->W_model : W;
        int64_t atoms = t->W_model ? t->model_atoms : d;
        product_strided(0, 1, rows, d, t->batch, t->scale, t->U_b + r0, m, t->H_b, t->ldh, beta,
                        data_part + r0, m);
        product_strided(0, 0, rows, d, atoms, 1.0f, W_model + r0, m, t->G, atoms, beta,
                        model_part + r0, m);
    }
}

/* KL's model parts: τ/B H_b 1 per term, rows [k0, k1) of it per part,
 * blocks of ROW_SUM_BLOCK rows at a time (a column's entries are adjacent). */
#define ROW_SUM_BLOCK 64
void term_row_sums_share(const term_batch *terms, int count, int64_t d, int parts, int part)
{
    int64_t k0, k1;
    linalg_share(d, parts, part, 1, &k0, &k1);
    for (int i = 0; i < count; i++) {
        const term_batch *t = &terms[i];
        for (int64_t block = k0; block < k1; block += ROW_SUM_BLOCK) {
            int64_t size = k1 - block < ROW_SUM_BLOCK ? k1 - block : ROW_SUM_BLOCK;
            double sums[ROW_SUM_BLOCK] = {0};
            for (int64_t j = 0; j < t->batch; j++) {
                const float *h = t->H_b + j * t->ldh + block;
                for (int64_t k = 0; k < size; k++)
                    sums[k] += h[k];
            }
            for (int64_t k = 0; k < size; k++)
                t->G[block + k] = (float)(t->scale * sums[k]);
        }
    }
}

/* Per term, on rows [r0, r1), BETA_CHUNK batch columns at a time: Λ =
 * W_model H_model_b, then the data part τ/B (Λ^{β-2} ⊙ U_b) H_bᵀ and (IS)
 * the model part τ/B Λ^{β-1} H_bᵀ; KL's model part is the row sums in G.
 * The sides are those of term_sums_rows. */
void term_sums_rows_beta(const term_batch *terms, int count, const float *W, int64_t m,
                         int64_t d, int64_t r0, int64_t r1, const beta_work *bw, float *work,
                         float *num, float *den)
{
    int64_t rows = r1 - r0;
    if (rows < 1)
        return;
    int kl = bw->kind == MDNMF_DIVERGENCE_KL;
    for (int64_t k = 0; k < d; k++) {
        memset(num + k * m + r0, 0, (size_t)rows * sizeof *num);
        memset(den + k * m + r0, 0, (size_t)rows * sizeof *den);
    }
    for (int i = 0; i < count; i++) {
        const term_batch *t = &terms[i];
        float *data_part = t->sign == TERM_ATTRACTS ? num : den;
        float *model_part = t->sign == TERM_ATTRACTS ? den : num;
        const float *W_model = t->W_model ? t->W_model : W;
        const float *H_model = t->W_model ? t->H_model_b : t->H_b;
        int64_t atoms = t->W_model ? t->model_atoms : d;
        for (int64_t c0 = 0; c0 < t->batch; c0 += BETA_CHUNK) {
            int64_t cols = t->batch - c0 < BETA_CHUNK ? t->batch - c0 : BETA_CHUNK;
            float *L = work, *T = work + rows * cols;
            const float *U_c = t->U_b + c0 * m + r0, *H_c = t->H_b + c0 * t->ldh;
            product_strided(0, 0, rows, cols, atoms, 1.0f, W_model + r0, m,
                            H_model + c0 * t->ldh, t->ldh, 0.0f, L, rows);
            if (kl)
                kl_ratio_block(L, rows, U_c, m, rows, cols, bw->guard);
            else
                is_ratios_block(L, T, rows, U_c, m, rows, cols, bw->guard);
            product_strided(0, 1, rows, d, cols, t->scale, L, rows, H_c, t->ldh, 1.0f,
                            data_part + r0, m);
            if (!kl)
                product_strided(0, 1, rows, d, cols, t->scale, T, rows, H_c, t->ldh, 1.0f,
                                model_part + r0, m);
        }
        for (int64_t k = 0; kl && k < d; k++) {
            float *column = model_part + k * m + r0;
            for (int64_t r = 0; r < rows; r++)
                column[r] += t->G[k];
        }
    }
}

/* ------------------------------------------------------------ one epoch */

/* The columns of batch b of every gathered term. */
static void choose_batch(fit *f, int64_t b)
{
    for (int i = 0; i < f->term_count; i++) {
        fit_term *t = &f->terms[i];
        for (int64_t k = 0; t->idx && k < t->of.batch; k++)
            t->idx[k] = t->of.perm[(b * t->of.batch + k) % t->of.n];
    }
}

/* Sharded: batch b's global columns (the same for every process), of which
 * each term keeps those held here, as local indices in batch order. */
static void choose_own_batch(fit *f, int64_t b)
{
    for (int i = 0; i < f->term_count; i++) {
        fit_term *t = &f->terms[i];
        int64_t count = 0;
        for (int64_t k = 0; t->idx && k < t->of.batch; k++) {
            int64_t j = shard_local_column(t->layout,
                                           t->of.perm[(b * t->of.batch + k) % t->n_global]);
            if (j >= 0)
                t->idx[count++] = j;
        }
        t->count = count;
    }
}

/* This thread's part of the batch buffers: rows [r0, r1) of every term's
 * data batch, its share of the activation columns.  Returns whether its
 * rows of the true batch hold a positive entry. */
static int gather_batch_share(fit *f, int part, int parts, int64_t r0, int64_t r1)
{
    int64_t m = f->m, c0, c1;
    for (int i = 0; i < f->term_count; i++) {
        fit_term *t = &f->terms[i];
        if (!t->idx)
            continue;
        gather_row_block(t->U_b, t->of.U, m, r0, r1, t->idx, t->count);
        linalg_share(t->count, parts, part, 1, &c0, &c1);
        gather_columns(t->H_b + c0 * t->of.rows, t->of.H, t->of.rows, t->idx + c0, c1 - c0);
        const dataset *s = t->own ? &f->data[i] : NULL;
        if (s && s->omega)
            for (int64_t k = c0; k < c1; k++)
                s->omega_b[k] = s->omega[t->idx[k]];
    }
    const term_batch *truth = &f->terms[0].view;
    return any_positive_rows(truth->U_b, m, r0, r1, f->terms[0].count);
}

/* SPEC §2/§3/§6 on rows [r0, r1) of W: the terms' sums, then
 *   W <- W ⊙ num ⊘ (den + γ)
 * (SPEC §11: the sums of the fit's divergence; IS takes the factor's root). */
static void update_basis_rows(fit *f, int part, int64_t r0, int64_t r1)
{
    float add = (float)f->p->mu_W + f->guard_W;
    if (!f->bw) {
        term_sums_rows(f->step, f->step_count, f->W, f->m, f->d, r0, r1, f->num_W, f->den_W);
        mu_step_rows(f->W, f->num_W, f->den_W, f->m, r0, r1, f->d, add);
        return;
    }
    term_sums_rows_beta(f->step, f->step_count, f->W, f->m, f->d, r0, r1, f->bw,
                        beta_work_part(f->bw, part), f->num_W, f->den_W);
    if (f->bw->kind == MDNMF_DIVERGENCE_IS)
        mu_step_rows_sqrt(f->W, f->num_W, f->den_W, f->m, r0, r1, f->d, add);
    else
        mu_step_rows(f->W, f->num_W, f->den_W, f->m, r0, r1, f->d, add);
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
    int parts = f->threads, runners = linalg_runners();
#pragma omp parallel num_threads(runners) if (runners > 1)
    {
        FOR_EACH_PART(part, parts)
        {
            int64_t r0, r1;
            linalg_share(f->m, parts, part, ROW_ALIGN, &r0, &r1);
            f->voiced[part] = gather_batch_share(f, part, parts, r0, r1);
        }
#pragma omp barrier
        /* A batch of silent true columns says nothing about W; its step
         * would be W ⊙ 0 ⊘ γ = 0, zeroing the basis for good. */
        if (any_voiced(f->voiced, parts)) {
            /* The batch statistics: Frobenius's Grams, KL's row sums. */
            if (!f->bw) {
                FOR_EACH_PART(part, parts)
                term_grams_share(f->step, f->step_count, f->d, parts, part);
            } else if (f->bw->kind == MDNMF_DIVERGENCE_KL) {
                FOR_EACH_PART(part, parts)
                term_row_sums_share(f->step, f->step_count, f->d, parts, part);
            }
#pragma omp barrier
            FOR_EACH_PART(part, parts)
            {
                int64_t r0, r1;
                linalg_share(f->m, parts, part, ROW_ALIGN, &r0, &r1);
                update_basis_rows(f, part, r0, r1);
            }
        }
    }
}

/* Sharded: this process's part of every step term's batch sums, rows
 * [r0, r1) of τ/B U_b H_bᵀ into the term's block of the reduce buffer. */
static void data_parts_rows(const term_batch *terms, int count, int64_t m, int64_t d,
                            int64_t r0, int64_t r1, float *buffer)
{
    for (int i = 0; i < count; i++) {
        const term_batch *t = &terms[i];
        float *D = buffer + i * (m * d + d * d);
        if (t->batch < 1) {
            for (int64_t k = 0; k < d; k++)
                memset(D + k * m + r0, 0, (size_t)(r1 - r0) * sizeof *D);
            continue;
        }
        product_strided(0, 1, r1 - r0, d, t->batch, t->scale, t->U_b + r0, m, t->H_b, t->ldh,
                        0.0f, D + r0, m);
    }
}

/* This part's share of the Grams τ/B H_b H_bᵀ (zero for a term with no
 * column here). */
static void grams_share(const term_batch *terms, int count, int64_t d, int parts, int part)
{
    for (int i = 0; i < count; i++) {
        if (terms[i].batch > 0)
            term_grams_share(&terms[i], 1, d, parts, part);
        else if (part == 0)
            memset(terms[i].G, 0, (size_t)(d * d) * sizeof *terms[i].G);
    }
}

/* Rows [r0, r1) of num and den from the summed parts: each term's data
 * part to its side, W G to the other (term_sums_rows's sides; the first
 * term overwrites). */
static void sums_of_reduced_rows(const term_batch *terms, int count, const float *W, int64_t m,
                                 int64_t d, int64_t r0, int64_t r1, const float *buffer,
                                 float *num, float *den)
{
    for (int i = 0; i < count; i++) {
        const term_batch *t = &terms[i];
        const float *D = buffer + i * (m * d + d * d);
        float *data_part = t->sign == TERM_ATTRACTS ? num : den;
        float *model_part = t->sign == TERM_ATTRACTS ? den : num;
        for (int64_t k = 0; k < d; k++)
            for (int64_t r = r0; r < r1; r++)
                data_part[k * m + r] = (i == 0 ? 0.0f : data_part[k * m + r]) + D[k * m + r];
        product_strided(0, 0, r1 - r0, d, d, 1.0f, W + r0, m, t->G, d, i == 0 ? 0.0f : 1.0f,
                        model_part + r0, m);
    }
}

/* A sharded fit's batch b (docs/distributed.md): every process computes
 * the sums over its columns of the batch, one reduction adds them up
 * (with the voiced flag), and every process takes the same W step. */
static void sharded_basis_step(fit *f, int64_t b)
{
    choose_own_batch(f, b);
    int64_t m = f->m, d = f->d, block = m * d + d * d;
    float *buffer = f->reduce_buf;
    term_batch terms[FIT_MAX_TERMS];
    int count = 0;
    for (int i = 0; i < f->term_count; i++) {
        const fit_term *t = &f->terms[i];
        if (!t->in_step)
            continue;
        terms[count] = t->view;
        terms[count].batch = t->count;
        terms[count].G = buffer + count * block + m * d;
        count++;
    }
    int parts = f->threads, runners = linalg_runners();
#pragma omp parallel num_threads(runners) if (runners > 1)
    {
        FOR_EACH_PART(part, parts)
        {
            int64_t r0, r1;
            linalg_share(m, parts, part, ROW_ALIGN, &r0, &r1);
            f->voiced[part] = gather_batch_share(f, part, parts, r0, r1);
        }
#pragma omp barrier
        FOR_EACH_PART(part, parts)
        {
            int64_t r0, r1;
            linalg_share(m, parts, part, ROW_ALIGN, &r0, &r1);
            data_parts_rows(terms, count, m, d, r0, r1, buffer);
            grams_share(terms, count, d, parts, part);
        }
    }
    buffer[count * block] = any_voiced(f->voiced, parts) ? 1.0f : 0.0f;
    if (shard_reduce(f, buffer, count * block + 1, MDNMF_REDUCE_SUM_F32))
        return;
    /* A batch silent on every process says nothing about W (batch_basis_step). */
    if (!(buffer[count * block] > 0.0f))
        return;
    float add = (float)f->p->mu_W + f->guard_W;
#pragma omp parallel num_threads(runners) if (runners > 1)
    FOR_EACH_PART(part, parts)
    {
        int64_t r0, r1;
        linalg_share(m, parts, part, ROW_ALIGN, &r0, &r1);
        sums_of_reduced_rows(terms, count, f->W, m, d, r0, r1, buffer, f->num_W, f->den_W);
        mu_step_rows(f->W, f->num_W, f->den_W, m, r0, r1, d, add);
    }
}

/* Batch-wise H step (update_H) of own term i:
 *   H_b <- H_b ⊙ (WᵀU_b) ⊘ (WᵀW H_b + λ ω_bᵀ), written back. */
static void update_batch_activations(fit *f, int i)
{
    dataset *s = &f->data[i];
    const fit_term *t = &f->terms[i];
    int gathered = t->idx != NULL;
    if (t->count < 1)
        return;
    update_activations_shared(f->W, f->WtW, t->view.U_b, gathered ? t->H_b : s->H, f->m, f->d,
                              t->count, 1, f->lambda, gathered ? s->omega_b : s->omega,
                              f->guard_H, f->num_H, f->den_H, LINALG_CHUNK, f->bw);
    if (gathered)
        scatter_columns(s->H, t->H_b, f->d, t->idx, t->count);
}

static int64_t batches_per_epoch(const fit *f)
{
    int64_t nb_true = f->terms[0].n_global / f->terms[0].of.batch;
    if (f->sets == 1)
        return nb_true;
    int64_t nb_adv = f->terms[1].n_global / f->terms[1].of.batch;
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
        int64_t n_global = f->terms[i].n_global;
        rng_permutation(&s->stream, s->perm, n_global);
        report(f->p, s->trace_perm, epoch, s->perm, n_global);
    }
    int64_t nb = batches_per_epoch(f);
    for (int64_t b = 0; b < nb; b++) {
        linalg_threads_tick();
        if (f->shard)
            sharded_basis_step(f, b);
        else
            batch_basis_step(f, b);
        if (f->p->update_H) {
            if (!f->bw)
                gram_of_columns(f->W, m, d, 1.0f, f->WtW);
            for (int i = 0; i < f->sets; i++)
                update_batch_activations(f, i);
        }
    }
    if (!f->p->update_H) {
        if (!f->bw)
            gram_of_columns(f->W, m, d, 1.0f, f->WtW);
        for (int i = 0; i < f->sets; i++) {
            dataset *s = &f->data[i];
            update_activations_shared(f->W, f->WtW, s->U, s->H, m, d, s->n, 1, f->lambda,
                                      s->omega, f->guard_H, f->num_H, f->den_H, LINALG_CHUNK,
                                      f->bw);
        }
    }
    if (f->p->normalize) {
        /* n_k = ||W_:k||; W_:k /= n_k + ε; H_k: *= n_k in every term's
         * activations, the caller's too (den_W is free here). */
        float *norms = f->den_W;
        normalize_columns(f->W, m, d, MDNMF_EPS, norms);
        for (int i = 0; i < f->term_count; i++) {
            const basis_term *t = &f->terms[i].of;
            scale_row_block(t->H, t->rows, t->n, t->offset, d, norms);
        }
    }
}

/* ------------------------------------------------------------ monitoring */

/* Fraction of the true data's energy the basis explains, measured on a
 * fixed sample of columns (cheap enough for every epoch). */
static double explained_fraction(fit *f)
{
    const dataset *truth = &f->data[0];
    const fit_term *t = &f->terms[0];
    int64_t n_global = t->n_global;
    int64_t sample = n_global < HEALTH_SAMPLE ? n_global : HEALTH_SAMPLE, count = 0;
    for (int64_t k = 0; k < sample; k++) {
        int64_t j = k * n_global / sample; /* sharded: those held here */
        if (t->layout)
            j = shard_local_column(t->layout, j);
        if (j >= 0)
            f->sample_idx[count++] = j;
    }
    gather_columns(f->sample_U, truth->U, f->m, f->sample_idx, count);
    gather_columns(f->sample_H, truth->H, f->d, f->sample_idx, count);
    double sums[2] = {0.0, 0.0}; /* energy, residual */
    for (int64_t i = 0; i < f->m * count; i++)
        sums[0] += (double)f->sample_U[i] * f->sample_U[i];
    if (count > 0)
        sums[1] = squared_residual(f->sample_U, f->W, f->sample_H, f->m, f->d, count,
                                   f->sample_work);
    shard_reduce(f, sums, 2, MDNMF_REDUCE_SUM_F64);
    return sums[0] > 0.0 ? 1.0 - sums[1] / sums[0] : 1.0;
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
    if (f->shard && all_finite(f->W, md) && max_entry(f->W, md) <= DIVERGENCE_LIMIT) {
        /* W is the same everywhere; whether every H is finite is agreed. */
        float sick = healthy ? 0.0f : 1.0f;
        shard_reduce(f, &sick, 1, MDNMF_REDUCE_MAX_F32);
        healthy = sick == 0.0f;
    }
    if (healthy && f->sets == 2)
        healthy = explained_fraction(f) >= COLLAPSE_FRACTION * f->explained_at_start;
    if (healthy)
        return MDNMF_OK;
    if (f->sets == 2)
        return model_fail(f->model, MDNMF_ERR_DIVERGED,
                          "MDNMF diverged at epoch %d: the adversarial term (tau_A = %g) "
                          "outweighs the fit of the true data; use a smaller tau_A",
                          epoch, f->terms[1].of.weight);
    return model_fail(f->model, MDNMF_ERR_DIVERGED,
                      "NMF diverged at epoch %d: the basis became non-finite", epoch);
}

/* The losses of the data sets: D(U | WH) / N of the fit's divergence
 * (sharded: the sums of all processes over the global N). */
static void mean_residuals(fit *f, double *losses)
{
    for (int i = 0; i < f->sets; i++) {
        const dataset *s = &f->data[i];
        losses[i] = divergence_residual(f->p->divergence, s->U, f->W, s->H, f->m, f->d, s->n,
                                        f->beta.guard, f->residual_work);
    }
    shard_reduce(f, losses, f->sets, MDNMF_REDUCE_SUM_F64);
    for (int i = 0; i < f->sets; i++)
        losses[i] /= (double)f->terms[i].n_global;
}

/* Losses for the callback (unless skip_losses); a non-zero return cancels
 * the fit.  The checkpoint keeps the record for a resumed run's replay. */
static int notify_epoch(fit *f, int epoch)
{
    if (!f->p->on_epoch)
        return MDNMF_OK;
    mdnmf_progress progress = {.epoch = epoch, .epochs = f->p->epochs, .stage = f->stage,
                               .stages = f->stages > 0 ? f->stages : 1, .loss_true = NAN,
                               .loss_adv = NAN, .objective = NAN};
    if (!f->p->skip_losses) {
        /* The objective of SPEC §3 over the fit's own terms: Σ ±τ loss + γ|W|_1. */
        double losses[2] = {0.0, 0.0}, objective = 0.0;
        mean_residuals(f, losses);
        for (int i = 0; i < f->sets; i++) {
            const basis_term *t = &f->terms[i].of;
            objective += (double)t->sign * t->weight * losses[i];
        }
        progress.loss_true = losses[0];
        progress.loss_adv = losses[1];
        progress.objective = objective + f->p->mu_W * sum_abs(f->W, f->m * f->d);
        if (!isfinite(progress.objective))
            return model_fail(f->model, MDNMF_ERR_DIVERGED,
                              "the loss became non-finite at epoch %d; use a smaller tau_A",
                              epoch);
    }
    checkpoint_record(f->ck, &progress);
    float cancel = f->p->on_epoch(f->p->on_epoch_user, &progress) ? 1.0f : 0.0f;
    /* Sharded: one process's stop stops all. */
    if (shard_reduce(f, &cancel, 1, MDNMF_REDUCE_MAX_F32))
        return MDNMF_ERR_IO;
    if (cancel > 0.0f)
        return model_fail(f->model, MDNMF_ERR_CANCELLED, "fit cancelled at epoch %d", epoch);
    return MDNMF_OK;
}

/* ------------------------------------------------------------ the fits */

/* The fit's copy of the caller's terms.  Own terms (the leading ones, at
 * most two) get a dataset drawing from the stream of their place: 0 the
 * true data, 1 the adversarial data.  The first term always enters the W
 * step (its sums start there), the others when their weight is positive.
 * NULL on success, else what is wrong with the list. */
static const char *describe_terms(fit *f, const basis_fit *job)
{
    if (job->term_count < 1 || job->term_count > FIT_MAX_TERMS || job->terms[0].H)
        return "a fit needs 1 to 8 terms, the first on its own activations";
    f->term_count = job->term_count;
    for (int i = 0; i < job->term_count; i++) {
        fit_term *t = &f->terms[i];
        t->of = job->terms[i];
        t->own = t->of.H == NULL;
        if (t->own && (i > f->sets || i >= 2))
            return "a fit owns the activations of at most two terms, listed first";
        t->n_global = t->of.n, t->layout = NULL;
        if (f->shard) {
            t->layout = job->layout[i];
            if (!t->layout)
                return "a sharded fit needs the layout of each data set";
            t->n_global = t->layout->n_global;
            int64_t held = 0;
            for (int k = 0; k < t->layout->count; k++) {
                if (t->layout->segment[k].start + t->layout->segment[k].columns > t->n_global)
                    return "a shard's columns run past the global data (offset + n > n_total)";
                held += t->layout->segment[k].columns;
            }
            if (held != t->of.n)
                return "a shard's layout does not hold the columns of its data";
        }
        t->of.batch = clamp_batch(t->of.batch, t->n_global);
        t->in_step = i == 0 || t->of.weight > 0.0;
        if (!t->own)
            continue;
        t->of.rows = f->d, t->of.offset = 0;
        dataset *s = &f->data[f->sets++];
        s->U = t->of.U, s->n = t->of.n, s->omega = t->of.omega;
        rng_seed(&s->stream, f->p->seed, (uint64_t)i);
        s->trace_H = i == 0 ? MDNMF_TRACE_H_RANDOM : MDNMF_TRACE_H_RANDOM_ADV;
        s->trace_perm = i == 0 ? MDNMF_TRACE_PERM_TRUE : MDNMF_TRACE_PERM_ADV;
    }
    return NULL;
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

/* Every array of the fit's state at an epoch boundary, saved and restored
 * under "fit<slot>.NAME": the basis, each data set's activations and
 * random stream, the guards and the health baseline.  The permutations are
 * drawn afresh every epoch and the workspaces refilled: not state. */
typedef struct fit_array {
    const char *name;
    checkpoint_kind kind;
    void *data;
    int64_t count;
} fit_array;

static int fit_arrays(fit *f, fit_array *out)
{
    int count = 0;
    out[count++] = (fit_array){"W", CHECKPOINT_F32, f->W, f->m * f->d};
    static const char *const H_names[2] = {"H0", "H1"}, *const stream_names[2] = {"stream0",
                                                                                  "stream1"};
    for (int i = 0; i < f->sets; i++) {
        dataset *s = &f->data[i];
        out[count++] = (fit_array){H_names[i], CHECKPOINT_F32, s->H, f->d * s->n};
        out[count++] = (fit_array){stream_names[i], CHECKPOINT_U64, s->stream.s, 4};
    }
    out[count++] = (fit_array){"guard_H", CHECKPOINT_F32, &f->guard_H, 1};
    out[count++] = (fit_array){"guard_W", CHECKPOINT_F32, &f->guard_W, 1};
    if (f->bw)
        out[count++] = (fit_array){"guard_L", CHECKPOINT_F32, &f->beta.guard, 1};
    out[count++] = (fit_array){"explained", CHECKPOINT_F64, &f->explained_at_start, 1};
    return count;
}

enum { FIT_ARRAYS_MAX = 9 };

/* Restore (`restore`) and track the fit's arrays. */
static int attach_checkpoint(fit *f, int restore)
{
    fit_array arrays[FIT_ARRAYS_MAX];
    int count = fit_arrays(f, arrays);
    char name[64];
    for (int i = 0; i < count; i++) {
        snprintf(name, sizeof name, "%s%s", f->prefix, arrays[i].name);
        int status = restore ? checkpoint_restore(f->ck, name, arrays[i].kind, arrays[i].data,
                                                  arrays[i].count)
                             : MDNMF_OK;
        if (!status)
            status = checkpoint_track(f->ck, name, arrays[i].kind, arrays[i].data,
                                      arrays[i].count, 0);
        if (status)
            return status;
    }
    return MDNMF_OK;
}

/* A fresh fit's initialisation (SPEC §2, §3), ending in the epoch-0 report. */
static int initialise_fit(fit *f)
{
    int status = initialise_basis(f);
    if (status)
        return status;
    float data_peak = max_entry(f->data[0].U, f->m * f->data[0].n);
    status = shard_reduce(f, &data_peak, 1, MDNMF_REDUCE_MAX_F32);
    if (status)
        return status;
    divergence_guards(f->p->divergence, data_peak, max_entry(f->W, f->m * f->d), &f->guard_H,
                      &f->guard_W, &f->beta.guard);
    initialise_activations(f);
    f->explained_at_start = explained_fraction(f);
    if (f->reduce_failed)
        return MDNMF_ERR_IO;
    status = attach_checkpoint(f, 0);
    return status ? status : notify_epoch(f, 0);
}

fit *fit_open(mdnmf_model *report_to, int64_t m, basis_fit *job, int *status)
{
    const mdnmf_params *p = job->params;
    int64_t n = job->term_count > 0 ? job->terms[0].n : 0;
    if (job->shard && job->layout[0])
        n = job->layout[0]->n_global;
    if (!job->W_start && p->init == MDNMF_INIT_EXEMPLAR && p->d > n) {
        *status = model_fail(report_to, MDNMF_ERR_SHAPE,
                             "d = %d atoms but only %lld samples: exemplar init needs d <= "
                             "samples; use fewer atoms or init random",
                             p->d, (long long)n);
        return NULL;
    }
    fit *f = calloc(1, sizeof *f);
    if (!f) {
        *status = model_fail(report_to, MDNMF_ERR_MEMORY, "out of memory for a fit");
        return NULL;
    }
    *f = (fit){.model = report_to, .p = p, .W_start = job->W_start, .m = m, .d = p->d,
               .stage = job->stage, .stages = job->stages, .ck = job->ck, .shard = job->shard};
    snprintf(f->prefix, sizeof f->prefix, "fit%d.", job->slot);
    job->W = job->H = job->H_adv = NULL;
    const char *problem = describe_terms(f, job);
    int local = problem ? model_fail(report_to, MDNMF_ERR_ARGUMENT, "%s", problem) : MDNMF_OK;
    if (!local) {
        linalg_set_threads(p->threads);
        f->threads = linalg_threads();
        if (!allocate_fit(f))
            local = model_fail(report_to, MDNMF_ERR_MEMORY,
                               "out of memory for a fit of %lld x %lld data", (long long)m,
                               (long long)n);
    }
    *status = shard_agree(report_to, job->shard, local);
    if (*status) {
        fit_close(f, job, 0);
        return NULL;
    }
    connect_views(f);
    memcpy(f->lambda, job->lambda, (size_t)f->d * sizeof *f->lambda);
    /* Sharded: a process whose file lacks an array stops them all. */
    *status = checkpoint_restores(f->ck, f->stage)
                  ? shard_agree(report_to, job->shard, attach_checkpoint(f, 1))
                  : initialise_fit(f);
    if (*status && *status != MDNMF_ERR_CANCELLED) {
        fit_close(f, job, 0);
        return NULL;
    }
    return f;
}

int fit_epoch(fit *f, int epoch)
{
    run_epoch(f, epoch);
    int status = check_divergence(f, epoch);
    if (f->reduce_failed)
        return MDNMF_ERR_IO;
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
    checkpoint_untrack(f->ck, f->prefix);
    free_fit(f);
    free(f);
}

int fit_basis(mdnmf_model *report_to, int64_t m, basis_fit *job)
{
    checkpoint *ck = job->ck;
    int stage = job->stage, restoring = checkpoint_restores(ck, stage);
    if (!restoring)
        checkpoint_stage_begins(ck, stage);
    int status;
    fit *f = fit_open(report_to, m, job, &status);
    if (!f)
        return status;
    if (!restoring)
        status = checkpoint_epoch_ends(ck, stage, 0, status);
    int first = checkpoint_first_epoch(ck, stage);
    for (int epoch = first; epoch <= job->params->epochs && status == MDNMF_OK; epoch++)
        status = checkpoint_epoch_ends(ck, stage, epoch, fit_epoch(f, epoch));
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

/* What a sharded fit does not support, or a shard that does not fit the
 * data (MDNMF_OK if usable). */
static int shard_problem(mdnmf_model *model, const mdnmf_shard *shard, int64_t n, int64_t n_adv,
                         int adversarial)
{
    const mdnmf_params *p = &model->params;
    if (p->divergence != MDNMF_DIVERGENCE_FROBENIUS)
        return model_fail(model, MDNMF_ERR_ARGUMENT,
                          "sharded fits support the Frobenius divergence only");
    if (shard->ranks > 0) /* rank mode: the counts are summed, nothing to check here */
        return MDNMF_OK;
    if (shard->offset + n > shard->n_total)
        return model_fail(model, MDNMF_ERR_SHAPE,
                          "this shard's %lld columns from %lld run past the %lld of the data",
                          (long long)n, (long long)shard->offset, (long long)shard->n_total);
    if (adversarial && shard->offset_adv + n_adv > shard->n_adv_total)
        return model_fail(model, MDNMF_ERR_SHAPE,
                          "this shard's %lld adversarial columns from %lld run past the %lld "
                          "of the data",
                          (long long)n_adv, (long long)shard->offset_adv,
                          (long long)shard->n_adv_total);
    return MDNMF_OK;
}

/* The layouts of a one-source fit's true and adversarial data: the
 * explicit ranges, or (rank mode) those the summed counts give. */
static int shard_layouts(mdnmf_model *model, const mdnmf_shard *shard, int64_t n, int64_t n_adv,
                         shard_layout *layout)
{
    if (shard->ranks == 0) {
        single_segment(&layout[0], shard->n_total, shard->offset, n);
        single_segment(&layout[1], shard->n_adv_total, shard->offset_adv, n_adv);
        return MDNMF_OK;
    }
    int64_t local[2] = {n, n_adv}, totals[2], offsets[2];
    int status = shard_count_table(model, shard, 2, local, totals, offsets);
    if (status)
        return status;
    for (int i = 0; i < 2; i++)
        single_segment(&layout[i], totals[i], offsets[i], local[i]);
    return MDNMF_OK;
}

static int fit_one_source(mdnmf_model *model, const float *U, int64_t m, int64_t n,
                          const float *U_adv, int64_t n_adv, const float *omega, int adversarial)
{
    if (!model)
        return MDNMF_ERR_ARGUMENT;
    const mdnmf_params *p = &model->params;
    const mdnmf_shard *shard = model->sharded ? &model->shard : NULL;
    int status = check_matrix(model, "data", U, m, n);
    if (!status && adversarial)
        status = check_matrix(model, "adversarial data", U_adv, m, n_adv);
    if (!status && adversarial)
        status = check_weights(model, omega, n_adv);
    if (!status && shard)
        status = shard_problem(model, shard, n, n_adv, adversarial);
    /* Sharded: a process whose shard is bad stops them all. */
    status = shard_agree(model, shard, status);
    if (status)
        return status;
    shard_layout layout[2];
    if (shard && (status = shard_layouts(model, shard, n, n_adv, layout)))
        return status;
    int64_t n_global = shard ? layout[0].n_global : n;
    int warm = p->warm_start && model->W;
    if (warm && (model->m != m || model->atoms != p->d))
        return model_fail(model, MDNMF_ERR_SHAPE,
                          "warm-start basis is %lld x %lld but the fit needs %lld x %d "
                          "(features x atoms)",
                          (long long)model->m, (long long)model->atoms, (long long)m, p->d);
    if (p->init == MDNMF_INIT_EXEMPLAR && !warm && p->d > n_global)
        return model_fail(model, MDNMF_ERR_SHAPE,
                          "d = %d atoms but only %lld samples: exemplar init needs d <= "
                          "samples; use fewer atoms or init random",
                          p->d, (long long)n_global);
    /* NMF: the true data alone (weight 1).  MDNMF: τ_W on it, τ_A against Û. */
    basis_term terms[2] = {
        {.U = U, .n = n, .batch = p->batch_size, .weight = adversarial ? p->tau_W : 1.0,
         .sign = TERM_ATTRACTS},
        {.U = U_adv, .n = n_adv, .batch = p->batch_size_adv, .weight = p->tau_A,
         .sign = TERM_REPELS, .omega = omega}};
    basis_fit job = {.params = p, .W_start = warm ? model->W : NULL, .terms = terms,
                     .term_count = adversarial ? 2 : 1, .shard = shard,
                     .layout = {&layout[0], &layout[1]}};
    float *lambda = atom_penalties(model);
    if (!lambda)
        return model_fail(model, MDNMF_ERR_MEMORY, "out of memory");
    job.lambda = lambda;
    linalg_set_threads(p->threads);
    job.ck = checkpoint_create(model, p, &status);
    if (!status && job.ck) {
        checkpoint_note(job.ck, "fit", adversarial ? "adv" : "std");
        checkpoint_note_stages(job.ck, 1);
        checkpoint_note_params(job.ck, p, 1);
        checkpoint_note_floats(job.ck, "data", U, m, n);
        checkpoint_note_floats(job.ck, "adversarial data", adversarial ? U_adv : NULL, m, n_adv);
        checkpoint_note_floats(job.ck, "adversarial weights", adversarial ? omega : NULL, 1,
                               n_adv);
        checkpoint_note_floats(job.ck, "warm-start basis", job.W_start, m, p->d);
        checkpoint_note_floats(job.ck, "mu_H per atom", lambda, 1, p->d);
        if (shard) {
            int64_t n_global[2] = {layout[0].n_global, layout[1].n_global};
            checkpoint_note_shard(job.ck, shard, adversarial ? 2 : 1, n_global);
        }
        status = checkpoint_begin(job.ck);
    }
    if (!status)
        status = fit_basis(model, m, &job);
    if (!status && checkpoint_pending(job.ck))
        status = model_fail(model, MDNMF_ERR_FORMAT, "'%s' resumes a stage this fit does not have",
                            p->resume_path);
    checkpoint_destroy(job.ck);
    free(lambda);
    if (job.W) {
        int adopted = model_adopt_basis(model, job.W, m, p->d);
        if (adopted) {
            free(job.H), free(job.H_adv);
            return adopted;
        }
        model_set_activations(model, job.H, n, job.H_adv, job.H_adv ? n_adv : 0);
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

int exemplar_basis_sharded(mdnmf_model *report_to, const mdnmf_params *p, const float *U,
                           int64_t m, const mdnmf_shard *shard, const shard_layout *layout,
                           float **W_out)
{
    int64_t d = p->d, n = layout->n_global;
    *W_out = NULL;
    if (d > n) /* the same on every process */
        return model_fail(report_to, MDNMF_ERR_SHAPE,
                          "d = %lld atoms but only %lld samples: exemplar NMF needs d <= samples",
                          (long long)d, (long long)n);
    float *W = calloc((size_t)(m * d), sizeof *W);
    int64_t *chosen = malloc((size_t)d * sizeof *chosen);
    int64_t *scratch = malloc((size_t)n * sizeof *scratch);
    int status = W && chosen && scratch
                     ? MDNMF_OK
                     : model_fail(report_to, MDNMF_ERR_MEMORY, "out of memory choosing exemplars");
    status = shard_agree(report_to, shard, status);
    if (!status) {
        rng stream;
        rng_seed(&stream, p->seed, 0);
        rng_choose_distinct(&stream, chosen, d, n, scratch);
        report(p, MDNMF_TRACE_EXEMPLARS, 0, chosen, d);
        /* Each process fills the chosen columns it holds; the sum assembles
         * W exactly (one non-zero term per entry). */
        for (int64_t k = 0; k < d; k++) {
            int64_t j = shard_local_column(layout, chosen[k]);
            if (j >= 0)
                memcpy(W + k * m, U + j * m, (size_t)m * sizeof *W);
        }
        status = shard_reduce_buffer(report_to, shard, W, m * d, MDNMF_REDUCE_SUM_F32);
    }
    if (!status && p->normalize)
        normalize_columns(W, m, d, MDNMF_EPS, NULL);
    free(chosen), free(scratch);
    if (status) {
        free(W);
        return status;
    }
    *W_out = W;
    return MDNMF_OK;
}

static int fit_exem(mdnmf_model *model, const float *U, int64_t m, int64_t n)
{
    if (!model)
        return MDNMF_ERR_ARGUMENT;
    const mdnmf_shard *shard = model->sharded ? &model->shard : NULL;
    int status = check_matrix(model, "data", U, m, n);
    if (!status && shard && shard->ranks == 0 && shard->offset + n > shard->n_total)
        status = model_fail(model, MDNMF_ERR_SHAPE,
                            "this shard's %lld columns from %lld run past the %lld of the data",
                            (long long)n, (long long)shard->offset, (long long)shard->n_total);
    float *W = NULL;
    if (shard) {
        /* sharded: the same exemplars from the global columns */
        shard_layout layout[2];
        status = shard_agree(model, shard, status);
        if (!status)
            status = shard_layouts(model, shard, n, 0, layout);
        if (!status)
            status = exemplar_basis_sharded(model, &model->params, U, m, shard, &layout[0], &W);
    } else if (!status) {
        status = exemplar_basis(model, &model->params, U, m, n, &W);
    }
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
