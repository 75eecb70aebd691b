/* Sharded fits (mdnmf_model_set_shard, docs/distributed.md "Library
 * support"), K processes emulated in one: K threads each fit a model on
 * their columns of the data, the reduce callback combining through shared
 * slots between two barriers (in rank order, as MPI_Allreduce gives every
 * process the same bits).  Every shard must end with the same basis, equal
 * to the unsharded fit's to 1e-5 relative; a bad shard stops every rank. */
#define _POSIX_C_SOURCE 200809L /* pthread barriers under -std=c11 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <pthread.h>

#include "mdnmf.h"
#include "shard_group.h"
#include "test_util.h"

#define MAX_RANKS 4


typedef struct rank_job {
    group *g;
    int rank;
    const mdnmf_params *params;
    const float *U, *U_adv;   /* the global data */
    int64_t m, n, n_adv;      /* global sizes */
    int adversarial;
    int poison;               /* put a NaN into this rank's shard */
    int status;
    float *W;                 /* m x d, the rank's basis */
    float *H;                 /* d x (its columns), its activations */
    int64_t offset, count;
    double losses[64];        /* loss_true per epoch, when params->on_epoch */
} rank_job;

static int record_loss(void *user, const mdnmf_progress *progress)
{
    ((double *)user)[progress->epoch] = progress->loss_true;
    return 0;
}



/* Columns [offset, offset + count) of n for rank r of K: near-equal ranges. */
static void shard_range(int64_t n, int ranks, int rank, int64_t *offset, int64_t *count)
{
    *offset = n * rank / ranks;
    *count = n * (rank + 1) / ranks - *offset;
}

static void *run_rank(void *arg)
{
    rank_job *job = arg;
    group *g = job->g;
    int64_t m = job->m, off, cnt, off_adv = 0, cnt_adv = 0;
    shard_range(job->n, g->ranks, job->rank, &off, &cnt);
    if (job->adversarial)
        shard_range(job->n_adv, g->ranks, job->rank, &off_adv, &cnt_adv);
    float *U = test_copy(job->U + off * m, m * cnt);
    if (job->poison)
        U[m * cnt / 2] = NAN;
    rank_user user = {g, job->rank};
    mdnmf_shard shard = {.reduce = reduce_in_group, .reduce_user = &user, .n_total = job->n,
                         .offset = off, .n_adv_total = job->n_adv, .offset_adv = off_adv};
    mdnmf_params p = *job->params;
    p.on_epoch_user = job->losses; /* each rank its own record */
    mdnmf_model *model = mdnmf_model_create(&p, NULL);
    assert_int_equal(mdnmf_model_set_shard(model, &shard, NULL), MDNMF_OK);
    job->status = job->adversarial
                      ? mdnmf_fit_adv(model, U, m, cnt, job->U_adv + off_adv * m, cnt_adv, NULL,
                                      NULL)
                      : mdnmf_fit_std(model, U, m, cnt, NULL);
    int64_t d = job->params->d, n_H = 0;
    if (job->status == MDNMF_OK) {
        job->W = test_copy(mdnmf_model_basis(model), m * d);
        const float *H = mdnmf_model_activations(model, &n_H);
        assert_int_equal(n_H, cnt);
        job->H = test_copy(H, d * cnt);
    }
    job->offset = off, job->count = cnt;
    mdnmf_model_destroy(model);
    free(U);
    return NULL;
}

/* Run K ranks; jobs[] get their results. */
static void run_group(int ranks, rank_job *jobs, const rank_job *common, int poisoned_rank)
{
    group g;
    int64_t d = common->params->d;
    group_open(&g, ranks, (size_t)(2 * (common->m * d + d * d) + 1) * sizeof(double));
    for (int r = 0; r < ranks; r++) {
        jobs[r] = *common;
        jobs[r].g = &g, jobs[r].rank = r, jobs[r].poison = r == poisoned_rank;
    }
    group_run(&g, run_rank, jobs, sizeof *jobs);
    assert_true(group_calls_agree(&g));
    group_close(&g);
}

/* The unsharded fit, then K = 2 and 3 sharded: the same basis on every
 * rank (bit for bit) and the unsharded one's to 1e-5 relative. */
static void check_sharded_equals_unsharded(const mdnmf_params *p, int adversarial)
{
    test_rng r = test_rng_make(16);
    int64_t m = 24, n = 301, n_adv = 157, d = p->d;
    float *U = test_random_matrix(&r, m, n, 0.0, 1.0);
    float *U_adv = test_random_matrix(&r, m, n_adv, 0.0, 1.0);
    double losses[64] = {0};
    mdnmf_params whole_params = *p;
    whole_params.on_epoch_user = losses;
    mdnmf_model *whole = mdnmf_model_create(&whole_params, NULL);
    int status = adversarial ? mdnmf_fit_adv(whole, U, m, n, U_adv, n_adv, NULL, NULL)
                             : mdnmf_fit_std(whole, U, m, n, NULL);
    assert_int_equal(status, MDNMF_OK);
    const float *W = mdnmf_model_basis(whole);
    int64_t n_H;
    const float *H = mdnmf_model_activations(whole, &n_H);
    rank_job common = {.params = p, .U = U, .U_adv = U_adv, .m = m, .n = n,
                       .n_adv = adversarial ? n_adv : 0, .adversarial = adversarial};
    for (int ranks = 2; ranks <= 3; ranks++) {
        rank_job jobs[MAX_RANKS];
        run_group(ranks, jobs, &common, -1);
        for (int k = 0; k < ranks; k++) {
            assert_int_equal(jobs[k].status, MDNMF_OK);
            assert_memory_equal(jobs[k].W, jobs[0].W, (size_t)(m * d) * sizeof(float));
            double dW = test_relative_difference(jobs[k].W, W, m * d);
            double dH = test_relative_difference(jobs[k].H, H + jobs[k].offset * d,
                                            d * jobs[k].count);
            print_message("K = %d rank %d: basis %.2e, activations %.2e relative\n", ranks, k,
                          dW, dH);
            assert_true(dW <= 1e-5);
            assert_true(dH <= 1e-4);
            if (p->on_epoch)
                assert_true(losses[p->epochs] > 0.0);
            for (int e = 0; p->on_epoch && e <= p->epochs; e++) {
                assert_true(jobs[k].losses[e] == jobs[0].losses[e]);
                assert_true(fabs(jobs[k].losses[e] - losses[e]) <= 1e-5 * losses[e]);
            }
        }
        for (int k = 0; k < ranks; k++)
            free(jobs[k].W), free(jobs[k].H);
    }
    mdnmf_model_destroy(whole);
    free(U), free(U_adv);
}

static mdnmf_params small_params(void)
{
    mdnmf_params p;
    mdnmf_params_default(&p);
    p.d = 6, p.epochs = 8, p.batch_size = 64, p.threads = 1, p.seed = 7;
    return p;
}

static void test_std_exemplar(void **state)
{
    (void)state;
    mdnmf_params p = small_params();
    check_sharded_equals_unsharded(&p, 0);
}

static void test_std_random_update_H_normalised(void **state)
{
    (void)state;
    mdnmf_params p = small_params();
    p.init = MDNMF_INIT_RANDOM, p.update_H = 1, p.normalize = 1, p.batch_size = 50;
    check_sharded_equals_unsharded(&p, 0);
}

/* Batches of all columns, and the losses every rank's callback sees: the
 * same on every rank, the unsharded fit's to 1e-5 relative. */
static void test_std_all_columns_with_losses(void **state)
{
    (void)state;
    mdnmf_params p = small_params();
    p.batch_size = 0, p.on_epoch = record_loss;
    check_sharded_equals_unsharded(&p, 0);
}

static void test_adv(void **state)
{
    (void)state;
    mdnmf_params p = small_params();
    p.batch_size_adv = 40, p.tau_A = 0.05;
    check_sharded_equals_unsharded(&p, 1);
}

/* A NaN in one rank's shard: that rank reports the data error and every
 * other rank fails too, none waits for ever. */
static void test_bad_shard_stops_every_rank(void **state)
{
    (void)state;
    test_rng r = test_rng_make(3);
    int64_t m = 10, n = 90;
    float *U = test_random_matrix(&r, m, n, 0.0, 1.0);
    mdnmf_params p = small_params();
    rank_job common = {.params = &p, .U = U, .m = m, .n = n};
    rank_job jobs[MAX_RANKS];
    run_group(3, jobs, &common, 1);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(jobs[k].status, MDNMF_ERR_DATA);
        assert_null(jobs[k].W);
    }
    free(U);
}

static void test_shard_is_checked(void **state)
{
    (void)state;
    mdnmf_params p = small_params();
    mdnmf_model *model = mdnmf_model_create(&p, NULL);
    mdnmf_shard shard = {.n_total = 10};
    mdnmf_error error;
    assert_int_equal(mdnmf_model_set_shard(model, &shard, &error), MDNMF_ERR_ARGUMENT);
    shard.reduce = reduce_in_group, shard.offset = 10;
    assert_int_equal(mdnmf_model_set_shard(model, &shard, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_model_set_shard(model, NULL, &error), MDNMF_OK);
    mdnmf_model_destroy(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_std_exemplar),
        cmocka_unit_test(test_std_random_update_H_normalised),
        cmocka_unit_test(test_std_all_columns_with_losses),
        cmocka_unit_test(test_adv),
        cmocka_unit_test(test_bad_shard_stops_every_rank),
        cmocka_unit_test(test_shard_is_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
