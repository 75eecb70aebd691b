/* Checkpoints of sharded fits (docs/distributed.md "Checkpoints of sharded
 * fits"), K = 2 processes emulated by threads as in test_shard.c: each rank
 * checkpoints its own state into its own file.  A sharded fit stopped at an
 * epoch (the epoch callback cancelling) and resumed from the ranks' files
 * ends with the uninterrupted sharded fit's bases bit for bit (fit_std,
 * fit_adv, a separator in semi_adv); ranks whose files are at different
 * epochs, or a rank given another rank's file, fail every rank (no hang). */
#define _POSIX_C_SOURCE 200809L /* pthread barriers, mkdtemp under -std=c11 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mdnmf.h"
#include "shard_group.h"
#include "test_util.h"

#define RANKS 2
#define M 16
#define N 90
#define N_ADV 50



#define SLOT_BYTES (64 * 1024)


typedef enum fit_kind { FIT_STD, FIT_ADV, FIT_SEPARATOR } fit_kind;

/* Stops at the `stop_at`-th fresh (not replayed) report, 1-based; 0: never. */
typedef struct stopper {
    int stop_at, fresh;
} stopper;

static int stop_at_report(void *user, const mdnmf_progress *progress)
{
    stopper *s = user;
    if (progress->replayed)
        return 0;
    return ++s->fresh == s->stop_at;
}

typedef struct rank_job {
    group *g;
    int rank;
    fit_kind kind;
    const float *data[3]; /* global: source 0 (true data), source 1 (adversarial), mixtures */
    char checkpoint[256], resume[256];
    stopper stop;
    int status;
    char message[MDNMF_ERROR_MESSAGE_SIZE];
    float *W;
    int64_t count;
} rank_job;

static const int64_t set_columns[3] = {N, N_ADV, N};

static mdnmf_model *fit_model(const rank_job *job)
{
    mdnmf_params p;
    mdnmf_params_default(&p);
    p.d = 4, p.epochs = 6, p.batch_size = 32, p.batch_size_adv = 20, p.threads = 1, p.seed = 5;
    p.tau_A = 0.1, p.on_epoch = stop_at_report, p.on_epoch_user = (void *)&job->stop;
    p.checkpoint_path = job->checkpoint[0] ? job->checkpoint : NULL;
    p.resume_path = job->resume[0] ? job->resume : NULL;
    p.checkpoint_every = 1;
    return mdnmf_model_create(&p, NULL);
}

static int fit_separator(const rank_job *job, mdnmf_model *model, float *const *part,
                         const int64_t *n, mdnmf_error *error)
{
    mdnmf_separator_params p;
    mdnmf_separator_params_default(&p, 2);
    p.mode = MDNMF_MODE_SEMI_ADV;
    p.d[0] = 3, p.d[1] = 2, p.tau_A[0] = p.tau_A[1] = 0.05;
    p.common.epochs = 4, p.common.threads = 1, p.common.seed = 9;
    p.common.batch_size = 24, p.common.batch_size_adv = 24;
    p.common.on_epoch = stop_at_report, p.common.on_epoch_user = (void *)&job->stop;
    p.common.checkpoint_path = job->checkpoint[0] ? job->checkpoint : NULL;
    p.common.resume_path = job->resume[0] ? job->resume : NULL;
    p.common.checkpoint_every = 1;
    /* semi_adv: source 0 from its clean data, source 1 from the mixtures */
    mdnmf_separation_data x = {.m = M, .V = part[2], .n_V = n[2]};
    x.U[0] = part[0], x.n[0] = n[0];
    return mdnmf_separator_fit(model, &p, &x, error);
}

static void *run_rank(void *arg)
{
    rank_job *job = arg;
    float *part[3];
    int64_t n[3];
    for (int k = 0; k < 3; k++) {
        int64_t first = set_columns[k] * job->rank / RANKS;
        n[k] = set_columns[k] * (job->rank + 1) / RANKS - first;
        part[k] = test_copy(job->data[k] + first * M, M * n[k]);
    }
    rank_user user = {job->g, job->rank};
    mdnmf_shard shard = {.reduce = reduce_in_group, .reduce_user = &user, .rank = job->rank,
                         .ranks = RANKS};
    mdnmf_model *model = fit_model(job);
    assert_int_equal(mdnmf_model_set_shard(model, &shard, NULL), MDNMF_OK);
    mdnmf_error error;
    if (job->kind == FIT_STD)
        job->status = mdnmf_fit_std(model, part[0], M, n[0], &error);
    else if (job->kind == FIT_ADV)
        job->status = mdnmf_fit_adv(model, part[0], M, n[0], part[1], n[1], NULL, &error);
    else
        job->status = fit_separator(job, model, part, n, &error);
    snprintf(job->message, sizeof job->message, "%s", job->status ? error.message : "");
    if (job->status == MDNMF_OK) {
        int64_t m, atoms;
        mdnmf_model_shape(model, &m, &atoms);
        job->count = m * atoms;
        job->W = test_copy(mdnmf_model_basis(model), job->count);
    }
    mdnmf_model_destroy(model);
    for (int k = 0; k < 3; k++)
        free(part[k]);
    return NULL;
}

/* Runs the K ranks of jobs[] (each set up by the caller); every rank must
 * have made the same reduce calls (else one would have hung in MPI). */
static void run_group(rank_job *jobs)
{
    group g;
    group_open(&g, RANKS, SLOT_BYTES);
    for (int r = 0; r < RANKS; r++)
        jobs[r].g = &g, jobs[r].rank = r;
    group_run(&g, run_rank, jobs, sizeof *jobs);
    assert_true(group_calls_agree(&g));
    group_close(&g);
}

typedef struct fixture {
    char folder[64];
    float *data[3];
} fixture;

static int set_up(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->folder, sizeof f->folder, "/tmp/mdnmf-shard-checkpoint-XXXXXX");
    assert_non_null(mkdtemp(f->folder));
    test_rng r = test_rng_make(41);
    for (int k = 0; k < 3; k++)
        f->data[k] = test_random_matrix(&r, M, set_columns[k], 0.0, 1.0);
    *state = f;
    return 0;
}

static int tear_down(void **state)
{
    fixture *f = *state;
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", f->folder);
    assert_int_equal(system(command), 0);
    for (int k = 0; k < 3; k++)
        free(f->data[k]);
    free(f);
    return 0;
}

/* jobs for `kind`: rank r checkpoints to "<set>.<r>" and resumes from
 * "<from>.<r>" (empty names: none), stopping at fresh report `stop_at`. */
static void prepare(rank_job *jobs, const fixture *f, fit_kind kind, const char *set,
                    const char *from, int stop_at)
{
    for (int r = 0; r < RANKS; r++) {
        memset(&jobs[r], 0, sizeof jobs[r]);
        jobs[r].kind = kind;
        for (int k = 0; k < 3; k++)
            jobs[r].data[k] = f->data[k];
        if (*set)
            snprintf(jobs[r].checkpoint, sizeof jobs[r].checkpoint, "%s/%s.%d", f->folder, set, r);
        if (*from)
            snprintf(jobs[r].resume, sizeof jobs[r].resume, "%s/%s.%d", f->folder, from, r);
        jobs[r].stop.stop_at = stop_at;
    }
}

static void expect_status(rank_job *jobs, int status)
{
    for (int r = 0; r < RANKS; r++) {
        if (jobs[r].status != status)
            print_message("rank %d: %d %s\n", r, jobs[r].status, jobs[r].message);
        assert_int_equal(jobs[r].status, status);
    }
}

/* Uninterrupted, stopped at a fresh report then resumed: the same bits. */
static void check_stop_and_resume(const fixture *f, fit_kind kind, int stop_at)
{
    rank_job whole[RANKS], stopped[RANKS], resumed[RANKS];
    prepare(whole, f, kind, "", "", 0);
    run_group(whole);
    expect_status(whole, MDNMF_OK);
    prepare(stopped, f, kind, "ck", "", stop_at);
    run_group(stopped);
    expect_status(stopped, MDNMF_ERR_CANCELLED);
    prepare(resumed, f, kind, "", "ck", 0);
    run_group(resumed);
    expect_status(resumed, MDNMF_OK);
    for (int r = 0; r < RANKS; r++) {
        assert_int_equal(resumed[r].count, whole[r].count);
        assert_memory_equal(resumed[r].W, whole[r].W, (size_t)whole[r].count * sizeof(float));
        assert_memory_equal(resumed[r].W, resumed[0].W, (size_t)whole[r].count * sizeof(float));
    }
    for (int r = 0; r < RANKS; r++)
        free(whole[r].W), free(resumed[r].W);
}

static void test_std_resumes_bit_identical(void **state)
{
    check_stop_and_resume(*state, FIT_STD, 3);
}

static void test_adv_resumes_bit_identical(void **state)
{
    check_stop_and_resume(*state, FIT_ADV, 4);
}

static void test_separator_semi_adv_resumes_bit_identical(void **state)
{
    /* a report inside the stages, and one in the joint fit's */
    check_stop_and_resume(*state, FIT_SEPARATOR, 3);
    check_stop_and_resume(*state, FIT_SEPARATOR, 9);
}

/* Rank 0 resumes a file of epoch 2, rank 1 one of epoch 3: every rank
 * fails with one message naming the epochs. */
static void test_ranks_at_different_epochs_fail_every_rank(void **state)
{
    const fixture *f = *state;
    fit_kind kinds[2] = {FIT_STD, FIT_SEPARATOR};
    for (int i = 0; i < 2; i++) {
        rank_job jobs[RANKS];
        prepare(jobs, f, kinds[i], "early", "", 3);
        run_group(jobs);
        expect_status(jobs, MDNMF_ERR_CANCELLED);
        prepare(jobs, f, kinds[i], "late", "", 4);
        run_group(jobs);
        expect_status(jobs, MDNMF_ERR_CANCELLED);
        prepare(jobs, f, kinds[i], "", "early", 0);
        snprintf(jobs[1].resume, sizeof jobs[1].resume, "%s/late.1", f->folder);
        run_group(jobs);
        expect_status(jobs, MDNMF_ERR_FORMAT);
        for (int r = 0; r < RANKS; r++) {
            print_message("rank %d: %s\n", r, jobs[r].message);
            assert_non_null(strstr(jobs[r].message, "different epochs"));
        }
    }
}

/* A rank given the other rank's file (same epoch) is refused by the
 * fingerprint; the other rank fails too. */
static void test_other_ranks_file_is_refused(void **state)
{
    const fixture *f = *state;
    rank_job jobs[RANKS];
    prepare(jobs, f, FIT_ADV, "swap", "", 2);
    run_group(jobs);
    expect_status(jobs, MDNMF_ERR_CANCELLED);
    prepare(jobs, f, FIT_ADV, "", "swap", 0);
    snprintf(jobs[0].resume, sizeof jobs[0].resume, "%s/swap.1", f->folder);
    snprintf(jobs[1].resume, sizeof jobs[1].resume, "%s/swap.0", f->folder);
    run_group(jobs);
    for (int r = 0; r < RANKS; r++) {
        print_message("rank %d: %s\n", r, jobs[r].message);
        assert_int_not_equal(jobs[r].status, MDNMF_OK);
    }
    assert_non_null(strstr(jobs[0].message, "another run"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_std_resumes_bit_identical, set_up, tear_down),
        cmocka_unit_test_setup_teardown(test_adv_resumes_bit_identical, set_up, tear_down),
        cmocka_unit_test_setup_teardown(test_separator_semi_adv_resumes_bit_identical, set_up,
                                        tear_down),
        cmocka_unit_test_setup_teardown(test_ranks_at_different_epochs_fail_every_rank, set_up,
                                        tear_down),
        cmocka_unit_test_setup_teardown(test_other_ranks_file_is_refused, set_up, tear_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
