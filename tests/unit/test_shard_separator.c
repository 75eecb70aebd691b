/* Sharded separator fits (mdnmf_shard's rank mode, docs/distributed.md
 * "Sharded separator fits"), K processes emulated in one as in
 * test_shard.c: K threads each fit a separator on their contiguous part of
 * every data set (each source's clean data, the mixtures), the reduce
 * callback summing through shared slots in rank order.  Every rank must
 * end with the same bases bit for bit, within 1e-5 relative of the
 * unsharded separator fit's; a bad part stops every rank. */
#define _POSIX_C_SOURCE 200809L /* pthread barriers under -std=c11 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>

#include "mdnmf.h"
#include "shard_group.h"
#include "test_util.h"

#define MAX_RANKS 3
#define SOURCES 3
/* the sources' data, the mixtures, the pairs' clean sources and mixtures */
#define MIXED SOURCES
#define PAIRED (SOURCES + 1)
#define SETS (2 * SOURCES + 2)
#define M 20




/* The global data: SOURCES clean sets and the mixtures, each M x n[k]. */
typedef struct problem {
    float *X[SETS];
    int64_t n[SETS];
} problem;

static problem make_problem(void)
{
    static const int64_t n[SETS] = {97, 61, 45, 53, 41, 41, 41, 41};
    test_rng r = test_rng_make(29);
    problem pr;
    for (int k = 0; k < SETS; k++) {
        pr.n[k] = n[k];
        /* each source its own low-rank structure, so the fits are not trivial */
        float *W = test_random_matrix(&r, M, 3, 0.0, 1.0);
        float *H = test_random_matrix(&r, 3, n[k], 0.0, 1.0);
        pr.X[k] = calloc((size_t)(M * n[k]), sizeof(float));
        for (int64_t j = 0; j < n[k]; j++)
            for (int64_t i = 0; i < M; i++) {
                float v = (float)(0.05 * test_uniform(&r));
                for (int a = 0; a < 3; a++)
                    v += W[a * M + i] * H[j * 3 + a];
                pr.X[k][j * M + i] = v;
            }
        free(W), free(H);
    }
    return pr;
}

static void free_problem(problem *pr)
{
    for (int k = 0; k < SETS; k++)
        free(pr->X[k]);
}

/* The losses the epoch callback saw, in the order of its calls. */
#define MAX_CALLS 128
typedef struct loss_record {
    int calls;
    double loss[MAX_CALLS];
} loss_record;

static int record_losses(void *user, const mdnmf_progress *progress)
{
    loss_record *record = user;
    if (record->calls < MAX_CALLS)
        record->loss[record->calls] = progress->loss_true;
    record->calls++;
    return 0;
}

typedef struct rank_job {
    group *g;
    int rank;
    const mdnmf_separator_params *params;
    const problem *pr;
    int64_t bounds[SETS][MAX_RANKS + 1]; /* rank r holds columns [bounds[r], bounds[r+1]) */
    int poison_set;                      /* put a NaN into this set of this rank, or -1 */
    int status;
    char message[MDNMF_ERROR_MESSAGE_SIZE];
    float *W;
    loss_record losses;                  /* when params->common.on_epoch */
} rank_job;

/* The data a mode takes: the semi modes learn the last source from the
 * mixtures (no clean data), sup and full read the pairs. */
static mdnmf_separation_data separation_data(const mdnmf_separator_params *p,
                                             float *const *X, const int64_t *n)
{
    mdnmf_separation_data x = {.m = M, .V = X[MIXED], .n_V = n[MIXED]};
    int semi = p->mode == MDNMF_MODE_SEMI || p->mode == MDNMF_MODE_SEMI_ADV;
    for (int s = 0; s < SOURCES; s++)
        if (!(semi && s == SOURCES - 1))
            x.U[s] = X[s], x.n[s] = n[s];
    if (p->mode == MDNMF_MODE_SUP || p->mode == MDNMF_MODE_FULL) {
        for (int s = 0; s < SOURCES; s++)
            x.U_sup[s] = X[PAIRED + s];
        x.V_sup = X[PAIRED + SOURCES], x.n_sup = n[PAIRED];
    }
    return x;
}

/* A model to fit a separator into (its own params are replaced). */
static mdnmf_model *empty_model(void)
{
    mdnmf_params p;
    mdnmf_params_default(&p);
    p.d = 1, p.threads = 1;
    mdnmf_model *model = mdnmf_model_create(&p, NULL);
    assert_non_null(model);
    return model;
}

static void *run_rank(void *arg)
{
    rank_job *job = arg;
    const problem *pr = job->pr;
    float *parts[SETS];
    int64_t counts[SETS];
    for (int k = 0; k < SETS; k++) {
        int64_t first = job->bounds[k][job->rank];
        counts[k] = job->bounds[k][job->rank + 1] - first;
        parts[k] = test_copy(pr->X[k] + first * M, M * counts[k]);
    }
    if (job->poison_set >= 0)
        parts[job->poison_set][M * counts[job->poison_set] / 2] = NAN;
    mdnmf_separation_data x = separation_data(job->params, parts, counts);
    rank_user user = {job->g, job->rank};
    mdnmf_shard shard = {.reduce = reduce_in_group, .reduce_user = &user, .rank = job->rank,
                         .ranks = job->g->ranks};
    mdnmf_model *model = empty_model();
    assert_int_equal(mdnmf_model_set_shard(model, &shard, NULL), MDNMF_OK);
    mdnmf_error error;
    mdnmf_separator_params p = *job->params;
    p.common.on_epoch_user = &job->losses; /* each rank its own record */
    job->status = mdnmf_separator_fit(model, &p, &x, &error);
    snprintf(job->message, sizeof job->message, "%s", job->status ? error.message : "");
    if (job->status == MDNMF_OK) {
        int64_t m, atoms;
        mdnmf_model_shape(model, &m, &atoms);
        job->W = test_copy(mdnmf_model_basis(model), m * atoms);
    }
    mdnmf_model_destroy(model);
    for (int k = 0; k < SETS; k++)
        free(parts[k]);
    return NULL;
}

/* Near-equal contiguous parts of every set for K ranks. */
static void even_bounds(const problem *pr, int ranks, rank_job *common)
{
    for (int k = 0; k < SETS; k++)
        for (int r = 0; r <= ranks; r++)
            common->bounds[k][r] = pr->n[k] * r / ranks;
}

/* Run K ranks from `common` (bounds, params); jobs[] get their results. */
static void run_group(int ranks, rank_job *jobs, const rank_job *common, int poisoned_rank,
                      int poisoned_set)
{
    group g;
    group_open(&g, ranks, (size_t)(2 * (M * 16 + 16 * 16) + 1 + 64) * sizeof(double));
    for (int r = 0; r < ranks; r++) {
        jobs[r] = *common;
        jobs[r].g = &g, jobs[r].rank = r;
        jobs[r].poison_set = r == poisoned_rank ? poisoned_set : -1;
    }
    group_run(&g, run_rank, jobs, sizeof *jobs);
    assert_true(group_calls_agree(&g));
    group_close(&g);
}

/* The unsharded separator's bases (m x atoms, malloc'ed), and its losses. */
static loss_record unsharded_losses;
static float *unsharded_bases(const mdnmf_separator_params *p, const problem *pr, int64_t *count)
{
    mdnmf_separation_data x = separation_data(p, pr->X, pr->n);
    mdnmf_model *model = empty_model();
    mdnmf_error error;
    mdnmf_separator_params whole = *p;
    memset(&unsharded_losses, 0, sizeof unsharded_losses);
    whole.common.on_epoch_user = &unsharded_losses;
    int status = mdnmf_separator_fit(model, &whole, &x, &error);
    if (status)
        print_message("unsharded fit: %s\n", error.message);
    assert_int_equal(status, MDNMF_OK);
    int64_t m, atoms;
    mdnmf_model_shape(model, &m, &atoms);
    *count = m * atoms;
    float *W = test_copy(mdnmf_model_basis(model), *count);
    mdnmf_model_destroy(model);
    return W;
}

/* Every rank's bases: the same bits, the unsharded ones to 1e-5 relative. */
static void check_group(const mdnmf_separator_params *p, const problem *pr, int ranks,
                        const rank_job *common, const float *W, int64_t count, const char *what)
{
    rank_job jobs[MAX_RANKS];
    run_group(ranks, jobs, common, -1, -1);
    for (int k = 0; k < ranks; k++) {
        if (jobs[k].status)
            print_message("rank %d: %s\n", k, jobs[k].message);
        assert_int_equal(jobs[k].status, MDNMF_OK);
    }
    for (int k = 0; k < ranks; k++) {
        assert_memory_equal(jobs[k].W, jobs[0].W, (size_t)count * sizeof(float));
        double dW = test_relative_difference(jobs[k].W, W, count);
        print_message("%s %s K = %d rank %d: bases %.2e relative\n",
                      mdnmf_mode_names[p->mode], what, ranks, k, dW);
        assert_true(dW <= 1e-5);
        /* the losses: the same on every rank, the unsharded ones to 1e-5 */
        assert_int_equal(jobs[k].losses.calls, unsharded_losses.calls);
        assert_true(!p->common.on_epoch || unsharded_losses.calls > 0);
        for (int c = 0; c < jobs[k].losses.calls && c < MAX_CALLS; c++) {
            double mine = jobs[k].losses.loss[c], whole = unsharded_losses.loss[c];
            assert_memory_equal(&mine, &jobs[0].losses.loss[c], sizeof mine);
            assert_true(fabs(mine - whole) <= 1e-5 * whole);
        }
    }
    for (int k = 0; k < ranks; k++)
        free(jobs[k].W);
    (void)pr;
}

/* K = 2 and 3 with even parts, and K = 3 with uneven ones: rank 0 holds 1
 * column of source 1 and of the pairs, rank 2 one of the mixtures, rank 1
 * one of source 0. */
static void check_sharded_equals_unsharded(const mdnmf_separator_params *p)
{
    problem pr = make_problem();
    int64_t count;
    float *W = unsharded_bases(p, &pr, &count);
    rank_job common = {.params = p, .pr = &pr};
    for (int ranks = 2; ranks <= 3; ranks++) {
        even_bounds(&pr, ranks, &common);
        check_group(p, &pr, ranks, &common, W, count, "even");
    }
    even_bounds(&pr, 3, &common);
    common.bounds[1][1] = 1;                                 /* source 1: rank 0 one column */
    common.bounds[0][1] = 40, common.bounds[0][2] = 41;      /* source 0: rank 1 one column */
    common.bounds[MIXED][2] = pr.n[MIXED] - 1;               /* mixtures: rank 2 one column */
    for (int k = PAIRED; k < SETS; k++)                      /* pairs: rank 0 one column */
        common.bounds[k][1] = 1;
    check_group(p, &pr, 3, &common, W, count, "uneven");
    free(W);
    free_problem(&pr);
}

static mdnmf_separator_params small_params(mdnmf_mode mode)
{
    mdnmf_separator_params p;
    mdnmf_separator_params_default(&p, SOURCES);
    p.mode = mode;
    p.d[0] = 4, p.d[1] = 3, p.d[2] = 5;
    p.common.epochs = 6, p.common.test_epochs = 10, p.common.threads = 1;
    p.common.batch_size = 24, p.common.batch_size_adv = 40, p.common.seed = 11;
    for (int s = 0; s < SOURCES; s++)
        p.tau_A[s] = 0.05;
    return p;
}

static void test_std(void **state)
{
    (void)state;
    mdnmf_separator_params p = small_params(MDNMF_MODE_STD);
    check_sharded_equals_unsharded(&p);
}

static void test_std_random_update_H_normalised(void **state)
{
    (void)state;
    mdnmf_separator_params p = small_params(MDNMF_MODE_STD);
    p.common.init = MDNMF_INIT_RANDOM, p.common.update_H = 1, p.common.normalize = 1;
    check_sharded_equals_unsharded(&p);
}

/* adv: source i's adversarial data is the other sources' data and the
 * mixtures, several segments of each rank's part. */
static void test_adv(void **state)
{
    (void)state;
    mdnmf_separator_params p = small_params(MDNMF_MODE_ADV);
    check_sharded_equals_unsharded(&p);
}

/* adv with all columns per batch, update_H, NMF warm-up epochs and a
 * source of τ_A = 0 (plain NMF after the warm-up). */
static void test_adv_warm_up_all_columns(void **state)
{
    (void)state;
    mdnmf_separator_params p = small_params(MDNMF_MODE_ADV);
    p.common.batch_size = 0, p.common.batch_size_adv = 0, p.common.update_H = 1;
    p.warm_start_epochs = 2, p.tau_A[1] = 0.0, p.beta[0] = 0.5;
    check_sharded_equals_unsharded(&p);
}

/* semi_adv (denoise fit's default): the clean sources' MDNMF fits, then
 * the last basis from the mixtures with the others fixed; batch-wise H
 * steps on one side, noise steps on the other. */
static void test_semi_adv(void **state)
{
    (void)state;
    mdnmf_separator_params p = small_params(MDNMF_MODE_SEMI_ADV);
    p.noise_steps = 2;
    check_sharded_equals_unsharded(&p);
}

static void test_semi_update_H(void **state)
{
    (void)state;
    mdnmf_separator_params p = small_params(MDNMF_MODE_SEMI);
    p.common.update_H = 1, p.common.normalize = 1, p.common.batch_size = 20;
    check_sharded_equals_unsharded(&p);
}

/* semi with all mixtures per batch, a random start and the losses each
 * epoch (the clean sources' fits', then the joint stage's). */
static void test_semi_all_columns(void **state)
{
    (void)state;
    mdnmf_separator_params p = small_params(MDNMF_MODE_SEMI);
    p.common.batch_size = 0, p.common.init = MDNMF_INIT_RANDOM;
    p.common.on_epoch = record_losses;
    check_sharded_equals_unsharded(&p);
}

/* sup (DNMF): every basis on the pairs' clean halves with the activations
 * of their mixtures; warm-up fits on the pairs first. */
static void test_sup(void **state)
{
    (void)state;
    mdnmf_separator_params p = small_params(MDNMF_MODE_SUP);
    p.batch_size_sup = 12, p.warm_start_epochs = 2, p.common.on_epoch = record_losses;
    check_sharded_equals_unsharded(&p);
}

static void test_sup_all_pairs_update_H(void **state)
{
    (void)state;
    mdnmf_separator_params p = small_params(MDNMF_MODE_SUP);
    p.common.update_H = 1, p.common.init = MDNMF_INIT_RANDOM;
    check_sharded_equals_unsharded(&p);
}

/* full (D+MDNMF): each source's fit sums its true, adversarial and paired
 * terms, the last on the joint activations of the paired mixtures. */
static void test_full(void **state)
{
    (void)state;
    mdnmf_separator_params p = small_params(MDNMF_MODE_FULL);
    p.batch_size_sup = 10, p.tau_S = 0.5, p.common.on_epoch = record_losses;
    check_sharded_equals_unsharded(&p);
}

static void test_full_warm_up_update_H_normalised(void **state)
{
    (void)state;
    mdnmf_separator_params p = small_params(MDNMF_MODE_FULL);
    p.warm_start_epochs = 2, p.common.update_H = 1, p.common.normalize = 1;
    check_sharded_equals_unsharded(&p);
}

static void test_exem(void **state)
{
    (void)state;
    mdnmf_separator_params p = small_params(MDNMF_MODE_EXEM);
    problem pr = make_problem();
    int64_t count;
    float *W = unsharded_bases(&p, &pr, &count);
    rank_job common = {.params = &p, .pr = &pr};
    even_bounds(&pr, 3, &common);
    rank_job jobs[MAX_RANKS];
    run_group(3, jobs, &common, -1, -1);
    for (int k = 0; k < 3; k++) { /* exact: one non-zero term per entry */
        assert_int_equal(jobs[k].status, MDNMF_OK);
        assert_memory_equal(jobs[k].W, W, (size_t)count * sizeof(float));
        free(jobs[k].W);
    }
    free(W);
    free_problem(&pr);
}

/* A NaN in rank 1's part of source 2: every rank fails (the data error),
 * none hangs; rank 1 says what and where. */
static void test_bad_part_stops_every_rank(void **state)
{
    (void)state;
    mdnmf_separator_params p = small_params(MDNMF_MODE_ADV);
    problem pr = make_problem();
    rank_job common = {.params = &p, .pr = &pr};
    even_bounds(&pr, 3, &common);
    rank_job jobs[MAX_RANKS];
    run_group(3, jobs, &common, 1, 2);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(jobs[k].status, MDNMF_ERR_DATA);
        assert_null(jobs[k].W);
    }
    assert_non_null(strstr(jobs[1].message, "source 2 data has a NaN"));
    assert_non_null(strstr(jobs[0].message, "another process"));
    free_problem(&pr);
}

/* The same with a NaN in rank 2's part of the mixtures of semi_adv, whose
 * ranks would otherwise run the clean sources' fits first. */
static void test_bad_mixtures_stop_every_rank(void **state)
{
    (void)state;
    mdnmf_separator_params p = small_params(MDNMF_MODE_SEMI_ADV);
    problem pr = make_problem();
    rank_job common = {.params = &p, .pr = &pr};
    even_bounds(&pr, 3, &common);
    rank_job jobs[MAX_RANKS];
    run_group(3, jobs, &common, 2, MIXED);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(jobs[k].status, MDNMF_ERR_DATA);
        assert_null(jobs[k].W);
    }
    assert_non_null(strstr(jobs[2].message, "mixtures has a NaN"));
    free_problem(&pr);
}

/* KL under a shard, and the explicit mode, are refused on every rank. */
static void test_refusals(void **state)
{
    (void)state;
    problem pr = make_problem();
    rank_job common = {.pr = &pr};
    even_bounds(&pr, 2, &common);
    mdnmf_separator_params p = small_params(MDNMF_MODE_ADV);
    p.common.divergence = MDNMF_DIVERGENCE_KL;
    common.params = &p;
    rank_job jobs[MAX_RANKS];
    run_group(2, jobs, &common, -1, -1);
    for (int k = 0; k < 2; k++)
        assert_int_equal(jobs[k].status, MDNMF_ERR_ARGUMENT);
    assert_non_null(strstr(jobs[0].message, "Frobenius divergence only"));
    free_problem(&pr);

    mdnmf_separator_params q = small_params(MDNMF_MODE_STD);
    mdnmf_model *model = empty_model();
    group g;
    group_open(&g, 1, 64 * sizeof(double));
    rank_user user = {&g, 0};
    mdnmf_shard explicit = {.reduce = reduce_in_group, .reduce_user = &user, .n_total = 10};
    assert_int_equal(mdnmf_model_set_shard(model, &explicit, NULL), MDNMF_OK);
    float U[M * 4] = {0};
    for (int i = 0; i < M * 4; i++)
        U[i] = 1.0f;
    mdnmf_separation_data x = {.m = M};
    for (int s = 0; s < SOURCES; s++)
        x.U[s] = U, x.n[s] = 4;
    q.d[0] = q.d[1] = q.d[2] = 2;
    mdnmf_error error;
    /* one process: its agreement and its refusal need no other */
    assert_int_equal(mdnmf_separator_fit(model, &q, &x, &error), MDNMF_ERR_ARGUMENT);
    assert_non_null(strstr(error.message, "shard by rank"));
    mdnmf_model_destroy(model);
    group_close(&g);
}

/* fit_adv by rank: rank r's rows of U and U_adv; the same bits as the
 * explicit mode given the offsets the counts imply (uneven parts). */
typedef struct adv_job {
    group *g;
    int rank, by_rank, exemplars; /* exemplars: mdnmf_fit_exem of U */
    const problem *pr;
    int64_t bounds[2][MAX_RANKS + 1];
    float *W;
} adv_job;

static void *run_adv_rank(void *arg)
{
    adv_job *job = arg;
    const problem *pr = job->pr;
    int r = job->rank;
    int64_t off = job->bounds[0][r], n = job->bounds[0][r + 1] - off;
    int64_t off_adv = job->bounds[1][r], n_adv = job->bounds[1][r + 1] - off_adv;
    rank_user user = {job->g, r};
    mdnmf_shard shard = {.reduce = reduce_in_group, .reduce_user = &user};
    if (job->by_rank)
        shard.rank = r, shard.ranks = job->g->ranks;
    else
        shard.n_total = pr->n[0], shard.offset = off, shard.n_adv_total = pr->n[SOURCES],
        shard.offset_adv = off_adv;
    mdnmf_params p;
    mdnmf_params_default(&p);
    p.d = 5, p.epochs = 5, p.batch_size = 30, p.batch_size_adv = 20, p.tau_A = 0.05;
    p.threads = 1, p.init = MDNMF_INIT_RANDOM;
    mdnmf_model *model = mdnmf_model_create(&p, NULL);
    assert_int_equal(mdnmf_model_set_shard(model, &shard, NULL), MDNMF_OK);
    if (job->exemplars)
        assert_int_equal(mdnmf_fit_exem(model, pr->X[0] + off * M, M, n, NULL), MDNMF_OK);
    else
        assert_int_equal(mdnmf_fit_adv(model, pr->X[0] + off * M, M, n,
                                       pr->X[SOURCES] + off_adv * M, n_adv, NULL, NULL),
                         MDNMF_OK);
    job->W = test_copy(mdnmf_model_basis(model), M * p.d);
    mdnmf_model_destroy(model);
    return NULL;
}

static void run_adv_group(adv_job *jobs, const adv_job *common)
{
    group g;
    group_open(&g, 3, (size_t)(2 * (M * 5 + 25) + 1) * sizeof(double));
    for (int r = 0; r < 3; r++) {
        jobs[r] = *common;
        jobs[r].g = &g, jobs[r].rank = r;
    }
    group_run(&g, run_adv_rank, jobs, sizeof *jobs);
    assert_true(group_calls_agree(&g));
    group_close(&g);
}

static void test_fit_adv_by_rank(void **state)
{
    (void)state;
    problem pr = make_problem();
    adv_job common = {.pr = &pr, .bounds = {{0, 1, 60, pr.n[0]}, {0, 30, 52, pr.n[SOURCES]}}};
    adv_job by_rank[3], explicit[3];
    common.by_rank = 1;
    run_adv_group(by_rank, &common);
    common.by_rank = 0;
    run_adv_group(explicit, &common);
    for (int r = 0; r < 3; r++)
        assert_memory_equal(by_rank[r].W, explicit[0].W, M * 5 * sizeof(float));
    for (int r = 0; r < 3; r++)
        free(by_rank[r].W), free(explicit[r].W);
    free_problem(&pr);
}

/* mdnmf_fit_exem by rank and explicitly: the unsharded exemplars exactly
 * (one non-zero term per entry of the sum). */
static void test_fit_exem_sharded(void **state)
{
    (void)state;
    problem pr = make_problem();
    mdnmf_params p;
    mdnmf_params_default(&p);
    p.d = 5, p.threads = 1;
    mdnmf_model *whole = mdnmf_model_create(&p, NULL);
    assert_int_equal(mdnmf_fit_exem(whole, pr.X[0], M, pr.n[0], NULL), MDNMF_OK);
    adv_job common = {.pr = &pr, .exemplars = 1,
                      .bounds = {{0, 1, 60, pr.n[0]}, {0, 30, 52, pr.n[SOURCES]}}};
    for (int by_rank = 0; by_rank <= 1; by_rank++) {
        adv_job jobs[3];
        common.by_rank = by_rank;
        run_adv_group(jobs, &common);
        for (int r = 0; r < 3; r++) {
            assert_memory_equal(jobs[r].W, mdnmf_model_basis(whole), M * 5 * sizeof(float));
            free(jobs[r].W);
        }
    }
    mdnmf_model_destroy(whole);
    free_problem(&pr);
}

/* The rank mode's settings are checked. */
static void test_rank_mode_is_checked(void **state)
{
    (void)state;
    mdnmf_model *model = empty_model();
    mdnmf_shard shard = {.reduce = reduce_in_group, .rank = 2, .ranks = 2};
    assert_int_equal(mdnmf_model_set_shard(model, &shard, NULL), MDNMF_ERR_ARGUMENT);
    shard.rank = -1;
    assert_int_equal(mdnmf_model_set_shard(model, &shard, NULL), MDNMF_ERR_ARGUMENT);
    shard.rank = 1, shard.n_total = 10;
    assert_int_equal(mdnmf_model_set_shard(model, &shard, NULL), MDNMF_ERR_ARGUMENT);
    shard.n_total = 0, shard.ranks = 0;
    assert_int_equal(mdnmf_model_set_shard(model, &shard, NULL), MDNMF_ERR_ARGUMENT);
    shard.rank = 1, shard.ranks = 2;
    assert_int_equal(mdnmf_model_set_shard(model, &shard, NULL), MDNMF_OK);
    mdnmf_model_destroy(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_std),
        cmocka_unit_test(test_std_random_update_H_normalised),
        cmocka_unit_test(test_adv),
        cmocka_unit_test(test_adv_warm_up_all_columns),
        cmocka_unit_test(test_exem),
        cmocka_unit_test(test_semi_adv),
        cmocka_unit_test(test_semi_update_H),
        cmocka_unit_test(test_semi_all_columns),
        cmocka_unit_test(test_sup),
        cmocka_unit_test(test_sup_all_pairs_update_H),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_full_warm_up_update_H_normalised),
        cmocka_unit_test(test_bad_part_stops_every_rank),
        cmocka_unit_test(test_bad_mixtures_stop_every_rank),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_rank_mode_is_checked),
        cmocka_unit_test(test_fit_adv_by_rank),
        cmocka_unit_test(test_fit_exem_sharded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
