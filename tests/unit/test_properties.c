/* Properties every fit must have, checked through the public API only:
 * monotone full-batch MU, tau_A = 0 is fit_std, exact recovery of low-rank
 * data, silence and scale never break a fit, determinism, exemplar atoms,
 * the initial H steps, transform's per-sample initial H. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "mdnmf.h"
#include "test_util.h"

/* ------------------------------------------------------------ fixtures */

typedef struct problem {
    int64_t m, n, n_adv;
    float *U, *U_adv, *omega;
} problem;

static problem problem_random(uint64_t seed, int64_t m, int64_t n, int64_t n_adv, double adv_peak)
{
    test_rng r = test_rng_make(seed);
    problem p = {m, n, n_adv, NULL, NULL, NULL};
    p.U = test_random_matrix(&r, m, n, 0.0, 1.0);
    if (n_adv > 0) {
        p.U_adv = test_random_matrix(&r, m, n_adv, 0.0, adv_peak);
        p.omega = test_random_matrix(&r, n_adv, 1, 0.2, 2.0);
    }
    assert_non_null(p.U);
    return p;
}

static void problem_free(problem *p)
{
    free(p->U);
    free(p->U_adv);
    free(p->omega);
}

/* Fit std or adv; returns the status (its message in *error), the model in *out. */
static int fit_reporting(const mdnmf_params *params, const problem *p, int adversarial,
                         mdnmf_model **out, mdnmf_error *error)
{
    mdnmf_model *model = mdnmf_model_create(params, error);
    assert_non_null(model);
    int status = adversarial ? mdnmf_fit_adv(model, p->U, p->m, p->n, p->U_adv, p->n_adv,
                                             p->omega, error)
                             : mdnmf_fit_std(model, p->U, p->m, p->n, error);
    *out = model;
    return status;
}

static int fit(const mdnmf_params *params, const problem *p, int adversarial, mdnmf_model **out)
{
    return fit_reporting(params, p, adversarial, out, NULL);
}

/* ------------------------------------ (a) full-batch MU never increases */

typedef struct monotone_case {
    const char *name;
    int adversarial;
    mdnmf_init init;
    int normalize;
    int update_H;
    mdnmf_divergence divergence;
} monotone_case;

/* SPEC §11: multiplicative updates decrease D_β for β in [1, 2] (KL), and
 * for β < 1 (IS) with the factor raised to 1/(2-β). */
static const monotone_case monotone_cases[] = {
    {"std exemplar", 0, MDNMF_INIT_EXEMPLAR, 0, 0, MDNMF_DIVERGENCE_FROBENIUS},
    {"std random", 0, MDNMF_INIT_RANDOM, 0, 0, MDNMF_DIVERGENCE_FROBENIUS},
    {"std exemplar normalize", 0, MDNMF_INIT_EXEMPLAR, 1, 0, MDNMF_DIVERGENCE_FROBENIUS},
    {"std random update_H", 0, MDNMF_INIT_RANDOM, 0, 1, MDNMF_DIVERGENCE_FROBENIUS},
    {"adv exemplar", 1, MDNMF_INIT_EXEMPLAR, 0, 0, MDNMF_DIVERGENCE_FROBENIUS},
    {"adv random normalize update_H", 1, MDNMF_INIT_RANDOM, 1, 1, MDNMF_DIVERGENCE_FROBENIUS},
    {"KL std exemplar", 0, MDNMF_INIT_EXEMPLAR, 0, 0, MDNMF_DIVERGENCE_KL},
    {"KL std random", 0, MDNMF_INIT_RANDOM, 0, 0, MDNMF_DIVERGENCE_KL},
    {"KL std exemplar normalize", 0, MDNMF_INIT_EXEMPLAR, 1, 0, MDNMF_DIVERGENCE_KL},
    {"KL std random update_H", 0, MDNMF_INIT_RANDOM, 0, 1, MDNMF_DIVERGENCE_KL},
    {"KL adv exemplar", 1, MDNMF_INIT_EXEMPLAR, 0, 0, MDNMF_DIVERGENCE_KL},
    {"IS std exemplar", 0, MDNMF_INIT_EXEMPLAR, 0, 0, MDNMF_DIVERGENCE_IS},
    {"IS std random", 0, MDNMF_INIT_RANDOM, 0, 0, MDNMF_DIVERGENCE_IS},
    {"IS std exemplar normalize update_H", 0, MDNMF_INIT_EXEMPLAR, 1, 1, MDNMF_DIVERGENCE_IS},
    {"IS adv random normalize", 1, MDNMF_INIT_RANDOM, 1, 0, MDNMF_DIVERGENCE_IS},
};

static void test_full_batch_loss_never_increases(void **state)
{
    (void)state;
    problem p = problem_random(11, 15, 40, 30, 1.0);
    static loss_log log;
    for (size_t c = 0; c < sizeof monotone_cases / sizeof *monotone_cases; c++) {
        const monotone_case *tc = &monotone_cases[c];
        mdnmf_params params = test_params(4, 80);
        params.mu_W = params.mu_H = 0.0;
        params.tau_A = 0.0;
        params.init = tc->init;
        params.normalize = tc->normalize;
        params.update_H = tc->update_H;
        params.divergence = tc->divergence;
        memset(&log, 0, sizeof log);
        params.on_epoch = test_record_loss;
        params.on_epoch_user = &log;
        mdnmf_model *model = NULL;
        assert_int_equal(fit(&params, &p, tc->adversarial, &model), MDNMF_OK);
        assert_int_equal(log.count, params.epochs + 1);
        for (int e = 1; e < log.count; e++) {
            double before = log.entries[e - 1].loss_true, after = log.entries[e].loss_true;
            if (after > before * (1.0 + 1e-6)) {
                print_error("%s: loss rose from %.9g to %.9g at epoch %d\n", tc->name, before,
                            after, e);
                fail();
            }
        }
        /* The fit must also have made progress. */
        assert_true(log.entries[log.count - 1].loss_true < log.entries[0].loss_true);
        mdnmf_model_destroy(model);
    }
    problem_free(&p);
}

/* ---------------------------------------- (b) tau_A = 0 is exactly NMF
 * With exemplar init or a warm start: SPEC §3 initialises H by transform
 * whatever `init` is, while fit_std with init random keeps the uniform H. */

typedef struct zero_tau_case {
    const char *name;
    int warm_start;
    int update_H, normalize;
    int64_t batch, batch_adv;
    mdnmf_init init;
    double mu_H;
    double adv_peak; /* the adversarial data's range, beside U's [0, 1) */
} zero_tau_case;

static const zero_tau_case zero_tau_cases[] = {
    {"full batch", 0, 0, 0, 0, 0, MDNMF_INIT_EXEMPLAR, 1e-6, 0.5},
    {"update_H", 0, 1, 0, 0, 0, MDNMF_INIT_EXEMPLAR, 1e-6, 0.5},
    {"normalize", 0, 0, 1, 0, 0, MDNMF_INIT_EXEMPLAR, 0.05, 0.5},
    {"mini-batches 7 / 11", 0, 0, 0, 7, 11, MDNMF_INIT_EXEMPLAR, 1e-6, 0.5},
    {"mini-batches, update_H, normalize", 0, 1, 1, 9, 4, MDNMF_INIT_EXEMPLAR, 0.01, 0.5},
    {"warm start, init random, mini-batches", 1, 0, 1, 10, 30, MDNMF_INIT_RANDOM, 1e-6, 0.5},
    {"adversarial data larger than U", 0, 1, 1, 9, 13, MDNMF_INIT_EXEMPLAR, 1e-6, 3.0},
};

/* A model for `params`, warm-started from a fixed random basis if asked. */
static mdnmf_model *zero_tau_model(const mdnmf_params *params, int64_t m)
{
    mdnmf_model *model = mdnmf_model_create(params, NULL);
    assert_non_null(model);
    if (params->warm_start) {
        test_rng r = test_rng_make(1);
        float *W = test_random_matrix(&r, m, params->d, 0.0, 1.0);
        assert_int_equal(mdnmf_model_set_basis(model, W, m, params->d, NULL), MDNMF_OK);
        free(W);
    }
    return model;
}

static void test_zero_tau_A_is_fit_std(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof zero_tau_cases / sizeof *zero_tau_cases; c++) {
        const zero_tau_case *tc = &zero_tau_cases[c];
        problem p = problem_random(23 + c, 12, 45, 33, tc->adv_peak);
        mdnmf_params params = test_params(5, 15);
        params.tau_A = 0.0;
        params.update_H = tc->update_H;
        params.normalize = tc->normalize;
        params.batch_size = tc->batch;
        params.batch_size_adv = tc->batch_adv;
        params.init = tc->init;
        params.mu_H = tc->mu_H;
        params.seed = 99;
        params.warm_start = tc->warm_start;
        mdnmf_model *nmf = zero_tau_model(&params, p.m), *mdnmf = zero_tau_model(&params, p.m);
        assert_int_equal(mdnmf_fit_std(nmf, p.U, p.m, p.n, NULL), MDNMF_OK);
        assert_int_equal(mdnmf_fit_adv(mdnmf, p.U, p.m, p.n, p.U_adv, p.n_adv, p.omega, NULL),
                         MDNMF_OK);
        int64_t n1 = 0, n2 = 0;
        const float *H1 = mdnmf_model_activations(nmf, &n1);
        const float *H2 = mdnmf_model_activations(mdnmf, &n2);
        assert_int_equal(n1, p.n);
        assert_int_equal(n2, p.n);
        int same_W = memcmp(mdnmf_model_basis(nmf), mdnmf_model_basis(mdnmf),
                            (size_t)(p.m * params.d) * sizeof(float)) == 0;
        int same_H = memcmp(H1, H2, (size_t)(p.n * params.d) * sizeof(float)) == 0;
        if (!same_W || !same_H) {
            print_error("tau_A = 0, %s: fit_adv differs from fit_std (W %s, H %s)\n", tc->name,
                        same_W ? "same" : "differs", same_H ? "same" : "differs");
            fail();
        }
        mdnmf_model_destroy(nmf);
        mdnmf_model_destroy(mdnmf);
        problem_free(&p);
    }
}

/* ------------------------------------------ (c) low-rank data recovered */

static void test_exact_low_rank_is_recovered(void **state)
{
    (void)state;
    const int64_t m = 30, n = 120, r = 4;
    test_rng rng = test_rng_make(5);
    float *W0 = test_random_matrix(&rng, m, r, 0.0, 1.0);
    float *H0 = test_random_matrix(&rng, r, n, 0.0, 1.0);
    float *U = test_product(W0, H0, m, r, n);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        mdnmf_params params = test_params((int)r, 3000);
        params.mu_W = params.mu_H = 0.0;
        params.seed = seed;
        params.test_epochs = 50;
        mdnmf_model *model = mdnmf_model_create(&params, NULL);
        assert_int_equal(mdnmf_fit_std(model, U, m, n, NULL), MDNMF_OK);
        int64_t n_H = 0;
        const float *H = mdnmf_model_activations(model, &n_H);
        double error = test_relative_error(U, mdnmf_model_basis(model), H, m, r, n);
        if (!(error < 0.01)) {
            print_error("seed %llu: relative error %.4g on rank-%lld data\n",
                        (unsigned long long)seed, error, (long long)r);
            fail();
        }
        mdnmf_model_destroy(model);
    }
    free(W0);
    free(H0);
    free(U);
}

/* ------------------------------ (d) silence never gives NaN or infinity */

typedef enum silence_kind { SOME_SILENT, MOSTLY_SILENT, ALL_SILENT } silence_kind;

/* 12 x 30 data with silent columns and a silent row; MOSTLY_SILENT keeps
 * only 3 columns, so exemplar init with d = 4 must pick a silent one. */
static problem problem_silent(silence_kind kind)
{
    problem p = problem_random(77, 12, 30, 20, 1.0);
    for (int64_t j = 0; j < p.n; j++) {
        int silent = kind == ALL_SILENT || (kind == SOME_SILENT ? (j % 7 == 3) : (j % 10 != 0));
        for (int64_t i = 0; i < p.m; i++)
            if (silent || i == 5)
                p.U[j * p.m + i] = 0.0f;
    }
    for (int64_t j = 0; j < p.n_adv; j++)
        for (int64_t i = 0; i < p.m; i++)
            if (j % 4 == 0 || i == 5 || kind == ALL_SILENT)
                p.U_adv[j * p.m + i] = 0.0f;
    return p;
}

static void check_model_finite(const mdnmf_model *model, const char *what)
{
    int64_t m = 0, d = 0, n = 0, n_adv = 0;
    mdnmf_model_shape(model, &m, &d);
    const float *H = mdnmf_model_activations(model, &n);
    const float *H_adv = mdnmf_model_adv_activations(model, &n_adv);
    if (!test_all_finite(mdnmf_model_basis(model), m * d) || !test_all_finite(H, d * n) ||
        (H_adv && !test_all_finite(H_adv, d * n_adv))) {
        print_error("%s: non-finite W or H\n", what);
        fail();
    }
}

static void test_silence_gives_finite_results(void **state)
{
    mdnmf_error error;
    (void)state;
    static const char *kinds[] = {"some silent", "mostly silent", "all silent"};
    static loss_log log;
    for (int kind = SOME_SILENT; kind <= ALL_SILENT; kind++)
        for (int variant = 0; variant < 8; variant++) {
            problem p = problem_silent((silence_kind)kind);
            mdnmf_params params = test_params(4, 10);
            params.mu_H = (variant & 1) ? 0.1 : 0.0;
            params.mu_W = (variant & 1) ? 1e-3 : 0.0;
            params.init = (variant & 2) ? MDNMF_INIT_RANDOM : MDNMF_INIT_EXEMPLAR;
            params.normalize = (variant & 4) != 0;
            params.update_H = (variant & 4) != 0;
            params.batch_size = (variant & 4) ? 8 : 0;
            params.on_epoch = test_record_loss;
            params.on_epoch_user = &log;
            char what[128];
            for (int adversarial = 0; adversarial <= 1; adversarial++) {
                snprintf(what, sizeof what, "%s, variant %d, %s", kinds[kind], variant,
                         adversarial ? "fit_adv" : "fit_std");
                memset(&log, 0, sizeof log);
                mdnmf_model *model = NULL;
                int status = fit_reporting(&params, &p, adversarial, &model, &error);
                /* MDNMF on data that is 90 % silence may collapse (a batch of
                 * silent true columns leaves only the adversarial term): the
                 * library must say so instead of returning garbage. */
                if (status == MDNMF_ERR_DIVERGED && adversarial && kind == MOSTLY_SILENT) {
                    assert_true(strlen(error.message) > 0);
                    assert_null(mdnmf_model_basis(model));
                    mdnmf_model_destroy(model);
                    continue;
                }
                if (status != MDNMF_OK) {
                    print_error("%s: status %d (%s)\n", what, status,
                                error.message);
                    fail();
                }
                check_model_finite(model, what);
                if (!test_losses_finite(&log)) {
                    print_error("%s: non-finite loss\n", what);
                    fail();
                }
                /* transform of the silent data with the fitted basis */
                int64_t d = 0;
                mdnmf_model_shape(model, NULL, &d);
                float *H = malloc((size_t)(d * p.n) * sizeof *H);
                assert_int_equal(mdnmf_transform(model, p.U, p.m, p.n, H, &error), MDNMF_OK);
                if (!test_all_finite(H, d * p.n)) {
                    print_error("%s: transform gave non-finite H\n", what);
                    fail();
                }
                free(H);
                mdnmf_model_destroy(model);
            }
            problem_free(&p);
        }
}

/* transform with a basis that has a silent atom and one that is all zero */
static void test_transform_with_silent_atoms(void **state)
{
    (void)state;
    problem p = problem_silent(SOME_SILENT);
    test_rng r = test_rng_make(3);
    float *W = test_random_matrix(&r, p.m, 3, 0.0, 1.0);
    float H[3 * 30];
    for (int zero_atoms = 1; zero_atoms <= 3; zero_atoms++)
        for (int with_mu = 0; with_mu <= 1; with_mu++) {
            memset(W, 0, (size_t)(zero_atoms * p.m) * sizeof *W);
            mdnmf_params params = test_params(3, 5);
            params.mu_H = with_mu ? 0.1 : 0.0;
            mdnmf_model *model = mdnmf_model_create(&params, NULL);
            assert_int_equal(mdnmf_model_set_basis(model, W, p.m, 3, NULL), MDNMF_OK);
            assert_int_equal(mdnmf_transform(model, p.U, p.m, p.n, H, NULL), MDNMF_OK);
            assert_true(test_all_finite(H, 3 * p.n));
            mdnmf_model_destroy(model);
        }
    free(W);
    problem_free(&p);
}

/* ------------------------------ (e) the scale of the data does not matter */

static double relative_error_at_scale(const problem *base, double scale, int adversarial,
                                      mdnmf_init init, mdnmf_divergence divergence)
{
    problem p = *base;
    p.U = test_copy(base->U, base->m * base->n);
    p.U_adv = base->U_adv ? test_copy(base->U_adv, base->m * base->n_adv) : NULL;
    for (int64_t i = 0; i < p.m * p.n; i++)
        p.U[i] = (float)(p.U[i] * scale);
    for (int64_t i = 0; p.U_adv && i < p.m * p.n_adv; i++)
        p.U_adv[i] = (float)(p.U_adv[i] * scale);
    mdnmf_params params = test_params(4, 60);
    params.mu_W = params.mu_H = 0.0;
    params.tau_A = 0.05;
    params.batch_size = 16;
    params.init = init;
    params.divergence = divergence;
    mdnmf_model *model = NULL;
    assert_int_equal(fit(&params, &p, adversarial, &model), MDNMF_OK);
    int64_t n = 0;
    const float *H = mdnmf_model_activations(model, &n);
    assert_true(test_all_finite(mdnmf_model_basis(model), p.m * 4));
    assert_true(test_all_finite(H, 4 * n));
    double error = test_relative_error(p.U, mdnmf_model_basis(model), H, p.m, 4, p.n);
    mdnmf_model_destroy(model);
    free(p.U);
    free(p.U_adv);
    return error;
}

static void test_scale_of_data_does_not_matter(void **state)
{
    (void)state;
    problem p = problem_random(31, 20, 50, 30, 1.0);
    /* The β-divergences' guards scale as their denominators do (SPEC §11). */
    for (int divergence = MDNMF_DIVERGENCE_FROBENIUS; divergence <= MDNMF_DIVERGENCE_IS;
         divergence++)
        for (int adversarial = 0; adversarial <= 1; adversarial++)
            for (int init = MDNMF_INIT_EXEMPLAR; init <= MDNMF_INIT_RANDOM; init++) {
                mdnmf_divergence kind = (mdnmf_divergence)divergence;
                double unit = relative_error_at_scale(&p, 1.0, adversarial, (mdnmf_init)init,
                                                      kind);
                double tiny = relative_error_at_scale(&p, 1e-6, adversarial, (mdnmf_init)init,
                                                      kind);
                double huge = relative_error_at_scale(&p, 1e6, adversarial, (mdnmf_init)init,
                                                      kind);
                if (fabs(tiny - unit) > 0.01 * unit || fabs(huge - unit) > 0.01 * unit) {
                    print_error("%s, init %d, divergence %d: relative error %.6g at scale 1, "
                                "%.6g at 1e-6, %.6g at 1e6\n",
                                adversarial ? "fit_adv" : "fit_std", init, divergence, unit,
                                tiny, huge);
                    fail();
                }
            }
    problem_free(&p);
}

/* ------------------------------------------------------ (f) determinism */

static void test_same_seed_same_result(void **state)
{
    (void)state;
    problem p = problem_random(41, 16, 50, 35, 1.0);
    static const int thread_counts[] = {1, 2};
    for (size_t t = 0; t < 2 * 3; t++) {
        mdnmf_params params = test_params(5, 10);
        params.divergence = (mdnmf_divergence)(t / 2); /* Frobenius, KL, IS */
        params.batch_size = 12;
        params.batch_size_adv = 10;
        params.threads = thread_counts[t % 2];
        params.seed = 1234;
        mdnmf_model *a = NULL, *b = NULL, *c = NULL;
        assert_int_equal(fit(&params, &p, 1, &a), MDNMF_OK);
        assert_int_equal(fit(&params, &p, 1, &b), MDNMF_OK);
        params.seed = 1235;
        assert_int_equal(fit(&params, &p, 1, &c), MDNMF_OK);
        size_t bytes = (size_t)(p.m * params.d) * sizeof(float);
        assert_memory_equal(mdnmf_model_basis(a), mdnmf_model_basis(b), bytes);
        assert_memory_not_equal(mdnmf_model_basis(a), mdnmf_model_basis(c), bytes);
        mdnmf_model_destroy(a);
        mdnmf_model_destroy(b);
        mdnmf_model_destroy(c);
    }
    problem_free(&p);
}

/* Threads share out W's rows, the batch Grams and H's columns: each thread
 * count is deterministic on its own, and all agree to float rounding.  The
 * sizes make every shared step run in parallel (H steps of >= 128 columns,
 * rows split at 16-row boundaries, Gram blocks dealt to 3 threads), for
 * each divergence. */
static void check_thread_counts_agree(const problem *p, mdnmf_divergence divergence)
{
    static const int thread_counts[] = {1, 2, 3};
    float *W[3] = {NULL, NULL, NULL};
    size_t bytes = 0;
    for (int t = 0; t < 3; t++) {
        mdnmf_params params = test_params(24, 6);
        params.divergence = divergence;
        params.batch_size = 100;
        params.batch_size_adv = 50;
        params.threads = thread_counts[t];
        mdnmf_model *a = NULL, *b = NULL;
        assert_int_equal(fit(&params, p, 1, &a), MDNMF_OK);
        assert_int_equal(fit(&params, p, 1, &b), MDNMF_OK);
        bytes = (size_t)(p->m * params.d) * sizeof(float);
        assert_memory_equal(mdnmf_model_basis(a), mdnmf_model_basis(b), bytes);
        W[t] = malloc(bytes);
        assert_non_null(W[t]);
        memcpy(W[t], mdnmf_model_basis(a), bytes);
        mdnmf_model_destroy(a);
        mdnmf_model_destroy(b);
    }
    size_t count = bytes / sizeof(float);
    for (int t = 1; t < 3; t++) {
        double diff = 0.0, norm = 0.0;
        for (size_t i = 0; i < count; i++) {
            diff += ((double)W[t][i] - W[0][i]) * ((double)W[t][i] - W[0][i]);
            norm += (double)W[0][i] * W[0][i];
        }
        if (!(sqrt(diff) <= 1e-4 * sqrt(norm))) {
            print_error("divergence %d, threads %d: W differs from one thread's by %.3g "
                        "(relative)\n", (int)divergence, thread_counts[t], sqrt(diff / norm));
            fail();
        }
    }
    for (int t = 0; t < 3; t++)
        free(W[t]);
}

static void test_thread_counts_agree(void **state)
{
    (void)state;
    problem p = problem_random(43, 100, 400, 300, 0.5);
    check_thread_counts_agree(&p, MDNMF_DIVERGENCE_FROBENIUS);
    check_thread_counts_agree(&p, MDNMF_DIVERGENCE_KL);
    check_thread_counts_agree(&p, MDNMF_DIVERGENCE_IS);
    problem_free(&p);
}

/* ----------------------------------------------------- (g) exemplar NMF */

static double column_norm(const float *x, int64_t m)
{
    double sum = 0.0;
    for (int64_t i = 0; i < m; i++)
        sum += (double)x[i] * x[i];
    return sqrt(sum);
}

/* The column of U that atom `a` was taken from (scaled by 1/norm if
 * normalised), or -1. */
static int64_t source_column(const float *atom, const problem *p, int normalized)
{
    for (int64_t j = 0; j < p->n; j++) {
        const float *u = p->U + j * p->m;
        if (!normalized) {
            if (memcmp(atom, u, (size_t)p->m * sizeof *u) == 0)
                return j;
            continue;
        }
        double norm = column_norm(u, p->m), worst = 0.0;
        for (int64_t i = 0; i < p->m; i++)
            worst = fmax(worst, fabs(atom[i] - u[i] / norm));
        if (worst < 1e-6)
            return j;
    }
    return -1;
}

static void test_exemplar_atoms_are_distinct_columns(void **state)
{
    (void)state;
    problem p = problem_random(53, 10, 25, 0, 1.0);
    for (int normalize = 0; normalize <= 1; normalize++)
        for (uint64_t seed = 0; seed < 5; seed++) {
            mdnmf_params params = test_params(8, 0);
            params.normalize = normalize;
            params.seed = seed;
            mdnmf_model *model = mdnmf_model_create(&params, NULL);
            assert_int_equal(mdnmf_fit_exem(model, p.U, p.m, p.n, NULL), MDNMF_OK);
            int64_t m = 0, d = 0;
            mdnmf_model_shape(model, &m, &d);
            assert_int_equal(m, p.m);
            assert_int_equal(d, 8);
            int64_t used[8];
            for (int64_t k = 0; k < d; k++) {
                const float *atom = mdnmf_model_basis(model) + k * m;
                used[k] = source_column(atom, &p, normalize);
                assert_true(used[k] >= 0);
                for (int64_t l = 0; l < k; l++)
                    assert_true(used[l] != used[k]);
                if (normalize)
                    assert_true(fabs(column_norm(atom, m) - 1.0) < 1e-5);
            }
            mdnmf_model_destroy(model);
        }
    /* d = N takes every column once */
    mdnmf_params params = test_params((int)p.n, 0);
    params.seed = 8;
    mdnmf_model *model = mdnmf_model_create(&params, NULL);
    assert_int_equal(mdnmf_fit_exem(model, p.U, p.m, p.n, NULL), MDNMF_OK);
    int seen[25] = {0};
    for (int64_t k = 0; k < p.n; k++) {
        int64_t j = source_column(mdnmf_model_basis(model) + k * p.m, &p, 0);
        assert_true(j >= 0 && !seen[j]);
        seen[j] = 1;
    }
    mdnmf_model_destroy(model);
    problem_free(&p);
}

/* ------------------------------------------- (h) the initial H steps */

/* params.init_H_steps = k replaces test_epochs in a fit's initial H only:
 * the fit equals one with test_epochs = k bit for bit, and the model's
 * transforms keep test_epochs.  NMF from a random basis keeps its uniform H
 * and ignores it. */
typedef struct init_steps_case {
    const char *name;
    int adversarial;
    mdnmf_init init;
    int warm_start;
    int uses_steps; /* the fit starts with H = transform(U) */
} init_steps_case;

static const init_steps_case init_steps_cases[] = {
    {"std exemplar", 0, MDNMF_INIT_EXEMPLAR, 0, 1},
    {"std warm start", 0, MDNMF_INIT_RANDOM, 1, 1},
    {"std random", 0, MDNMF_INIT_RANDOM, 0, 0},
    {"adv random", 1, MDNMF_INIT_RANDOM, 0, 1},
};

/* A fitted model of case `tc` with the given step counts. */
static mdnmf_model *init_steps_fit(const init_steps_case *tc, const problem *p, int threads,
                                   int test_epochs, int init_H_steps)
{
    mdnmf_params params = test_params(5, 6);
    params.init = tc->init;
    params.warm_start = tc->warm_start;
    params.batch_size = 14;
    params.mu_H = 0.01;
    params.normalize = 1;
    params.threads = threads;
    params.seed = 77;
    params.test_epochs = test_epochs;
    params.init_H_steps = init_H_steps;
    mdnmf_model *model = zero_tau_model(&params, p->m);
    int status = tc->adversarial ? mdnmf_fit_adv(model, p->U, p->m, p->n, p->U_adv, p->n_adv,
                                                 p->omega, NULL)
                                 : mdnmf_fit_std(model, p->U, p->m, p->n, NULL);
    assert_int_equal(status, MDNMF_OK);
    return model;
}

static int same_fit(const mdnmf_model *a, const mdnmf_model *b, const problem *p, int d)
{
    int64_t n_a = 0, n_b = 0;
    const float *H_a = mdnmf_model_activations(a, &n_a), *H_b = mdnmf_model_activations(b, &n_b);
    return n_a == n_b &&
           memcmp(mdnmf_model_basis(a), mdnmf_model_basis(b), (size_t)(p->m * d) * sizeof(float)) ==
               0 &&
           memcmp(H_a, H_b, (size_t)(n_a * d) * sizeof(float)) == 0;
}

static void test_initial_H_steps_replace_test_epochs_in_the_fit_only(void **state)
{
    (void)state;
    problem p = problem_random(61, 14, 56, 40, 0.7);
    float *H_of_fit = malloc((size_t)(5 * p.n) * sizeof *H_of_fit);
    float *H_of_basis = malloc((size_t)(5 * p.n) * sizeof *H_of_basis);
    assert_non_null(H_of_fit);
    assert_non_null(H_of_basis);
    for (size_t c = 0; c < sizeof init_steps_cases / sizeof *init_steps_cases; c++)
        for (int threads = 1; threads <= 2; threads++) {
            const init_steps_case *tc = &init_steps_cases[c];
            mdnmf_model *split = init_steps_fit(tc, &p, threads, 40, 3);
            mdnmf_model *again = init_steps_fit(tc, &p, threads, 40, 3);
            mdnmf_model *three = init_steps_fit(tc, &p, threads, 3, 0);
            mdnmf_model *forty = init_steps_fit(tc, &p, threads, 40, 0);
            if (!same_fit(split, again, &p, 5) || !same_fit(split, three, &p, 5) ||
                same_fit(split, forty, &p, 5) != !tc->uses_steps) {
                print_error("init_H_steps, %s, %d threads: the fit is not the one with "
                            "test_epochs = 3 (or changed when it should not)\n",
                            tc->name, threads);
                fail();
            }
            /* The model's transform: test_epochs = 40 steps on its basis. */
            mdnmf_params params = test_params(5, 6);
            params.test_epochs = 40, params.threads = threads, params.seed = 77;
            params.mu_H = 0.01;
            mdnmf_model *basis_only = mdnmf_model_create(&params, NULL);
            assert_int_equal(mdnmf_model_set_basis(basis_only, mdnmf_model_basis(split), p.m, 5,
                                                   NULL),
                             MDNMF_OK);
            assert_int_equal(mdnmf_transform(split, p.U, p.m, p.n, H_of_fit, NULL), MDNMF_OK);
            assert_int_equal(mdnmf_transform(basis_only, p.U, p.m, p.n, H_of_basis, NULL),
                             MDNMF_OK);
            assert_memory_equal(H_of_fit, H_of_basis, (size_t)(5 * p.n) * sizeof(float));
            mdnmf_model_destroy(split), mdnmf_model_destroy(again);
            mdnmf_model_destroy(three), mdnmf_model_destroy(forty);
            mdnmf_model_destroy(basis_only);
        }
    free(H_of_fit), free(H_of_basis);
    problem_free(&p);
}

/* ------------------------------------- (i) per-sample initial H */

/* transform of U (m x n) by a model with this basis and parameters into a
 * malloc'ed d x n H. */
static float *transform_with(const mdnmf_params *params, const float *W, const float *U,
                             int64_t m, int64_t n)
{
    mdnmf_model *model = mdnmf_model_create(params, NULL);
    assert_non_null(model);
    assert_int_equal(mdnmf_model_set_basis(model, W, m, params->d, NULL), MDNMF_OK);
    float *H = malloc((size_t)(params->d * n) * sizeof *H);
    assert_non_null(H);
    assert_int_equal(mdnmf_transform(model, U, m, n, H, NULL), MDNMF_OK);
    mdnmf_model_destroy(model);
    return H;
}

/* U's columns in the order `order` (a permutation of 0..n-1). */
static float *permuted_columns(const float *U, int64_t m, int64_t n, const int64_t *order)
{
    float *P = malloc((size_t)(m * n) * sizeof *P);
    assert_non_null(P);
    for (int64_t j = 0; j < n; j++)
        memcpy(P + j * m, U + order[j] * m, (size_t)m * sizeof *P);
    return P;
}

/* With per_sample_init a column's H depends on that column and the model
 * only, bit for bit: permuting U's columns permutes H, a column alone or
 * beside a column of a far larger peak gets the same H, and 1, 2 and 3
 * threads (n >= 128 columns: the columns are split) agree exactly.  Mode 0
 * (SPEC's one stream) keeps its dependence on the position: permuting U
 * changes the activations of the moved columns. */
static void check_per_sample_transform(mdnmf_divergence divergence)
{
    const int64_t m = 30, n = 300, d = 7;
    test_rng r = test_rng_make(71);
    float *U = test_random_matrix(&r, m, n, 0.0, 1.0);
    float *W = test_random_matrix(&r, m, d, 0.05, 1.0);
    int64_t *order = malloc((size_t)n * sizeof *order);
    assert_non_null(U), assert_non_null(W), assert_non_null(order);
    for (int64_t j = 0; j < n; j++) /* reversed, then rotated by 17 */
        order[j] = (n - 1 - j + 17) % n;
    float *P = permuted_columns(U, m, n, order);
    float *loud = test_copy(U, m * n);
    assert_non_null(loud);
    for (int64_t i = 0; i < m; i++)
        loud[(n - 1) * m + i] *= 1e4f;

    mdnmf_params params = test_params((int)d, 0);
    params.divergence = divergence;
    params.per_sample_init = 1;
    params.seed = 99;
    params.mu_H = 0.01;
    float *H = transform_with(&params, W, U, m, n);
    size_t column_bytes = (size_t)d * sizeof *H;
    for (int threads = 2; threads <= 3; threads++) {
        params.threads = threads;
        float *H_threads = transform_with(&params, W, U, m, n);
        assert_memory_equal(H_threads, H, (size_t)n * column_bytes);
        free(H_threads);
    }
    params.threads = 2;
    float *H_permuted = transform_with(&params, W, P, m, n);
    for (int64_t j = 0; j < n; j++)
        assert_memory_equal(H_permuted + j * d, H + order[j] * d, column_bytes);
    float *H_alone = transform_with(&params, W, U + 5 * m, m, 1);
    assert_memory_equal(H_alone, H + 5 * d, column_bytes);
    float *H_loud = transform_with(&params, W, loud, m, n);
    assert_memory_equal(H_loud, H, (size_t)(n - 1) * column_bytes);

    params.per_sample_init = 0;
    float *H_shared = transform_with(&params, W, U, m, n);
    float *H_shared_permuted = transform_with(&params, W, P, m, n);
    assert_memory_not_equal(H_shared_permuted, H_shared + order[0] * d, column_bytes);
    free(H_shared), free(H_shared_permuted);
    free(H), free(H_permuted), free(H_alone), free(H_loud);
    free(U), free(W), free(P), free(loud), free(order);
}

static void test_per_sample_transform_depends_on_the_column_only(void **state)
{
    (void)state;
    check_per_sample_transform(MDNMF_DIVERGENCE_FROBENIUS);
    check_per_sample_transform(MDNMF_DIVERGENCE_KL);
    check_per_sample_transform(MDNMF_DIVERGENCE_IS);
    mdnmf_params params = test_params(3, 0);
    params.per_sample_init = 2;
    assert_int_equal(mdnmf_params_check(&params, NULL), MDNMF_ERR_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_batch_loss_never_increases),
        cmocka_unit_test(test_zero_tau_A_is_fit_std),
        cmocka_unit_test(test_exact_low_rank_is_recovered),
        cmocka_unit_test(test_silence_gives_finite_results),
        cmocka_unit_test(test_transform_with_silent_atoms),
        cmocka_unit_test(test_scale_of_data_does_not_matter),
        cmocka_unit_test(test_same_seed_same_result),
        cmocka_unit_test(test_thread_counts_agree),
        cmocka_unit_test(test_exemplar_atoms_are_distinct_columns),
        cmocka_unit_test(test_initial_H_steps_replace_test_epochs_in_the_fit_only),
        cmocka_unit_test(test_per_sample_transform_depends_on_the_column_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
