/* Separators (SPEC §4–§6) through the public API: exact properties and bad
 * input.  Wiener estimates add up to the mixture; MDNMF with τ_A = 0 for
 * every source is NMF bit for bit; exemplar bases are distinct columns of
 * each source's data; §4's adversarial data has the documented blocks and
 * weights; every refusal is a status code with a message naming the
 * problem, and leaves the model as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "mdnmf.h"
#include "test_util.h"

enum { M = 12, S_MAX = 3, N_TEST = 25 };

static const int64_t source_columns[S_MAX] = {30, 26, 34};
enum { N_V = 20, N_SUP = 18 };

/* ------------------------------------------------------------ fixtures */

typedef struct problem {
    int S;
    float *U[S_MAX], *U_sup[S_MAX];
    float *V, *V_sup, *test;
    mdnmf_separation_data data;
} problem;

/* Column j of source s: a low-rank non-negative pattern of its own plus a
 * little noise, so that every column differs from every other. */
static float *source_samples(test_rng *r, const float *basis, int64_t n)
{
    float *H = test_random_matrix(r, 3, n, 0.0, 1.0);
    float *X = test_product(basis, H, M, 3, n);
    assert_non_null(X);
    for (int64_t i = 0; i < M * n; i++)
        X[i] += (float)(0.01 * test_uniform(r));
    free(H);
    return X;
}

static float *sum_of(float *const *parts, int S, int64_t n)
{
    float *sum = calloc((size_t)(M * n), sizeof *sum);
    assert_non_null(sum);
    for (int s = 0; s < S; s++)
        for (int64_t i = 0; i < M * n; i++)
            sum[i] += parts[s][i];
    return sum;
}

static problem problem_make(int S, uint64_t seed)
{
    test_rng r = test_rng_make(seed);
    problem p;
    memset(&p, 0, sizeof p);
    p.S = S;
    float *basis[S_MAX] = {0}, *mixed[S_MAX] = {0}, *test[S_MAX] = {0};
    for (int s = 0; s < S; s++)
        basis[s] = test_random_matrix(&r, M, 3, 0.0, 1.0);
    for (int s = 0; s < S; s++) {
        p.U[s] = source_samples(&r, basis[s], source_columns[s]);
        p.U_sup[s] = source_samples(&r, basis[s], N_SUP);
        mixed[s] = source_samples(&r, basis[s], N_V);
        test[s] = source_samples(&r, basis[s], N_TEST);
    }
    p.V = sum_of(mixed, S, N_V);
    p.V_sup = sum_of(p.U_sup, S, N_SUP);
    p.test = sum_of(test, S, N_TEST);
    for (int s = 0; s < S; s++)
        free(basis[s]), free(mixed[s]), free(test[s]);
    p.data.m = M;
    for (int s = 0; s < S; s++) {
        p.data.U[s] = p.U[s];
        p.data.n[s] = source_columns[s];
        p.data.U_sup[s] = p.U_sup[s];
    }
    p.data.V = p.V, p.data.n_V = N_V;
    p.data.V_sup = p.V_sup, p.data.n_sup = N_SUP;
    return p;
}

static void problem_free(problem *p)
{
    for (int s = 0; s < p->S; s++)
        free(p->U[s]), free(p->U_sup[s]);
    free(p->V), free(p->V_sup), free(p->test);
}

static mdnmf_separator_params separator_params(mdnmf_mode mode, int S, int epochs)
{
    mdnmf_separator_params p;
    mdnmf_separator_params_default(&p, S);
    p.mode = mode;
    p.common.epochs = epochs;
    p.common.test_epochs = 20;
    p.common.threads = 1;
    p.common.seed = 5;
    for (int s = 0; s < S; s++)
        p.d[s] = 3 + s % 2;
    return p;
}

static mdnmf_model *empty_model(void)
{
    mdnmf_error error;
    mdnmf_params p = test_params(1, 1);
    mdnmf_model *model = mdnmf_model_create(&p, &error);
    assert_non_null(model);
    assert_int_equal(error.status, MDNMF_OK);
    return model;
}

static mdnmf_model *fitted(const mdnmf_separator_params *p, const mdnmf_separation_data *data)
{
    mdnmf_error error;
    mdnmf_model *model = empty_model();
    int status = mdnmf_separator_fit(model, p, data, &error);
    if (status != MDNMF_OK)
        fail_msg("separator fit (mode %d) failed: %s", (int)p->mode,
                 error.message);
    return model;
}

/* ------------------------------------- Wiener estimates add up to V */

typedef struct wiener_case {
    const char *name;
    mdnmf_mode mode;
    int S;
    int normalize;
} wiener_case;

static const wiener_case wiener_cases[] = {
    {"std", MDNMF_MODE_STD, 2, 0},
    {"exem normalize", MDNMF_MODE_EXEM, 2, 1},
    {"semi", MDNMF_MODE_SEMI, 2, 0},
    {"sup normalize", MDNMF_MODE_SUP, 3, 1},
    {"adv", MDNMF_MODE_ADV, 3, 0},
};

/* Σ_s U_s = V ⊙ Σ_t Ũ_t ⊘ (Σ_t Ũ_t + ε max V): V itself wherever the model
 * explains anything (Σ Ũ ≫ ε max V), up to float rounding of S quotients.
 * No clipping can occur there, since every U_s ≤ V ≤ max V. */
static void test_wiener_estimates_add_up_to_the_mixture(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof wiener_cases / sizeof *wiener_cases; c++) {
        const wiener_case *tc = &wiener_cases[c];
        problem pb = problem_make(tc->S, 21 + c);
        mdnmf_separator_params p = separator_params(tc->mode, tc->S, 10);
        p.common.normalize = tc->normalize;
        mdnmf_model *model = fitted(&p, &pb.data);
        float *wiener[S_MAX], *plain[S_MAX];
        for (int s = 0; s < tc->S; s++) {
            wiener[s] = malloc(M * N_TEST * sizeof(float));
            plain[s] = malloc(M * N_TEST * sizeof(float));
            assert_non_null(wiener[s]);
            assert_non_null(plain[s]);
        }
        assert_int_equal(mdnmf_separate(model, pb.test, M, N_TEST, 1, wiener, NULL), MDNMF_OK);
        assert_int_equal(mdnmf_separate(model, pb.test, M, N_TEST, 0, plain, NULL), MDNMF_OK);
        float peak = 0.0f;
        for (int i = 0; i < M * N_TEST; i++)
            peak = pb.test[i] > peak ? pb.test[i] : peak;
        int checked = 0;
        for (int i = 0; i < M * N_TEST; i++) {
            double explained = 0.0, total = 0.0;
            for (int s = 0; s < tc->S; s++) {
                explained += plain[s][i];
                total += wiener[s][i];
                if (wiener[s][i] < 0.0f || wiener[s][i] > pb.test[i] * (1.0f + 1e-6f))
                    fail_msg("%s: estimate %d at %d is %g, outside [0, V = %g]", tc->name, s,
                             i, (double)wiener[s][i], (double)pb.test[i]);
            }
            if (explained < 1e-4 * peak)
                continue;
            checked++;
            double v = pb.test[i];
            if (fabs(total - v) > 1e-6 * v + 1e-9 * peak)
                fail_msg("%s: estimates add up to %.9g, mixture %.9g (entry %d)", tc->name,
                         total, v, i);
        }
        if (checked < M * N_TEST / 2)
            fail_msg("%s: the model explains only %d of %d entries", tc->name, checked,
                     M * N_TEST);
        for (int s = 0; s < tc->S; s++)
            free(wiener[s]), free(plain[s]);
        mdnmf_model_destroy(model);
        problem_free(&pb);
    }
}

/* ----------------------------------------- adv with τ_A = 0 is std */

typedef struct plain_case {
    const char *name;
    int S;
    mdnmf_init init;
    int normalize, update_H;
    int64_t batch, batch_adv;
    mdnmf_true_sample true_sample;
    int with_mixtures;
} plain_case;

static const plain_case plain_cases[] = {
    {"full batch", 2, MDNMF_INIT_EXEMPLAR, 0, 0, 0, 0, MDNMF_SAMPLE_STD, 0},
    {"batches, mixtures", 2, MDNMF_INIT_EXEMPLAR, 0, 0, 8, 5, MDNMF_SAMPLE_STD, 1},
    {"normalize update_H", 3, MDNMF_INIT_EXEMPLAR, 1, 1, 9, 7, MDNMF_SAMPLE_STD, 1},
    {"init random", 2, MDNMF_INIT_RANDOM, 1, 0, 10, 10, MDNMF_SAMPLE_STD, 0},
    {"true_sample min", 2, MDNMF_INIT_EXEMPLAR, 0, 0, 7, 3, MDNMF_SAMPLE_MIN, 1},
};

static void test_adv_with_tau_A_zero_is_std(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof plain_cases / sizeof *plain_cases; c++) {
        const plain_case *tc = &plain_cases[c];
        problem pb = problem_make(tc->S, 40 + c);
        if (!tc->with_mixtures)
            pb.data.V = NULL, pb.data.n_V = 0;
        mdnmf_separator_params p = separator_params(MDNMF_MODE_STD, tc->S, 12);
        p.common.init = tc->init;
        p.common.normalize = tc->normalize;
        p.common.update_H = tc->update_H;
        p.common.batch_size = tc->batch;
        p.common.batch_size_adv = tc->batch_adv;
        p.common.true_sample = tc->true_sample;
        for (int s = 0; s < tc->S; s++)
            p.tau_A[s] = 0.0;
        mdnmf_model *standard = fitted(&p, &pb.data);
        p.mode = MDNMF_MODE_ADV;
        mdnmf_model *adversarial = fitted(&p, &pb.data);
        int64_t m1, d1, m2, d2;
        mdnmf_model_shape(standard, &m1, &d1);
        mdnmf_model_shape(adversarial, &m2, &d2);
        assert_int_equal(m1, m2);
        assert_int_equal(d1, d2);
        if (memcmp(mdnmf_model_basis(standard), mdnmf_model_basis(adversarial),
                   (size_t)(m1 * d1) * sizeof(float)) != 0)
            fail_msg("%s: adv with tau_A = 0 differs from std", tc->name);
        /* And the control: τ_A > 0 for one source must change its basis. */
        p.tau_A[0] = 0.2;
        mdnmf_model *moved = fitted(&p, &pb.data);
        if (memcmp(mdnmf_model_basis(standard), mdnmf_model_basis(moved),
                   (size_t)(m1 * p.d[0]) * sizeof(float)) == 0)
            fail_msg("%s: tau_A = 0.2 left source 0's basis unchanged", tc->name);
        mdnmf_model_destroy(standard);
        mdnmf_model_destroy(adversarial);
        mdnmf_model_destroy(moved);
        problem_free(&pb);
    }
}

/* -------------------------------- exemplars are distinct data columns */

/* The index of the column of U (m x n) equal to `atom`, or -1. */
static int64_t matching_column(const float *U, int64_t n, const float *atom)
{
    for (int64_t j = 0; j < n; j++)
        if (memcmp(U + j * M, atom, M * sizeof *atom) == 0)
            return j;
    return -1;
}

static void test_exemplars_are_distinct_columns_of_each_source(void **state)
{
    (void)state;
    /* d = 4, and d = n (every column once) for one source. */
    for (int all = 0; all <= 1; all++) {
        problem pb = problem_make(3, 60 + all);
        mdnmf_separator_params p = separator_params(MDNMF_MODE_EXEM, 3, 0);
        p.d[0] = 4, p.d[1] = all ? source_columns[1] : 5, p.d[2] = 2;
        mdnmf_model *model = fitted(&p, &pb.data);
        assert_int_equal(mdnmf_model_source_count(model), 3);
        const float *W = mdnmf_model_basis(model);
        int64_t offset = 0;
        for (int s = 0; s < 3; s++) {
            int used[64] = {0};
            assert_int_equal(mdnmf_model_components(model)[s], p.d[s]);
            for (int64_t k = 0; k < p.d[s]; k++) {
                int64_t j = matching_column(pb.U[s], source_columns[s], W + (offset + k) * M);
                if (j < 0)
                    fail_msg("source %d atom %lld is no column of its data", s, (long long)k);
                if (used[j]++)
                    fail_msg("source %d uses column %lld twice", s, (long long)j);
            }
            offset += p.d[s];
        }
        mdnmf_model_destroy(model);
        problem_free(&pb);
    }
}

/* ------------------------------------------- §4 adversarial data */

static void test_adversarial_data_blocks_and_weights(void **state)
{
    (void)state;
    problem pb = problem_make(3, 70);
    const double beta = 2.5;
    int64_t n_adv = -1;
    int source = 1;
    assert_int_equal(mdnmf_adversarial_data(&pb.data, 3, source, beta, NULL, NULL, &n_adv, NULL),
                     MDNMF_OK);
    int64_t total = source_columns[0] + source_columns[2] + N_V;
    assert_int_equal(n_adv, total);
    float *U_adv = malloc((size_t)(M * n_adv) * sizeof *U_adv);
    float *omega = malloc((size_t)n_adv * sizeof *omega);
    assert_int_equal(mdnmf_adversarial_data(&pb.data, 3, source, beta, U_adv, omega, &n_adv, NULL),
                     MDNMF_OK);
    /* [√(N_0/N̂) U_0, √(N_2/N̂) U_2, √(N_V/N̂) β V], ω = [N_0/N̂, N_2/N̂, N_V β/N̂] */
    const float *blocks[] = {pb.U[0], pb.U[2], pb.V};
    int64_t sizes[] = {source_columns[0], source_columns[2], N_V};
    double weights[] = {1.0, 1.0, beta};
    int64_t column = 0;
    for (int b = 0; b < 3; b++) {
        double share = (double)sizes[b] / (double)total;
        double scale = sqrt(share) * weights[b];
        for (int64_t j = 0; j < sizes[b]; j++, column++) {
            assert_float_equal(omega[column], share * weights[b], 1e-6 * share * weights[b]);
            for (int i = 0; i < M; i++) {
                double expected = scale * blocks[b][j * M + i];
                assert_float_equal(U_adv[column * M + i], expected, 1e-6 * expected + 1e-12);
            }
        }
    }
    /* Without mixtures and with a source lacking data: only the others. */
    pb.data.V = NULL;
    pb.data.U[2] = NULL;
    assert_int_equal(mdnmf_adversarial_data(&pb.data, 3, 1, 1.0, NULL, NULL, &n_adv, NULL),
                     MDNMF_OK);
    assert_int_equal(n_adv, source_columns[0]);
    assert_int_equal(mdnmf_adversarial_data(&pb.data, 3, 3, 1.0, NULL, NULL, &n_adv, NULL),
                     MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_adversarial_data(&pb.data, 3, 0, -1.0, NULL, NULL, &n_adv, NULL),
                     MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_adversarial_data(NULL, 3, 0, 1.0, NULL, NULL, &n_adv, NULL),
                     MDNMF_ERR_ARGUMENT);
    free(U_adv), free(omega);
    problem_free(&pb);
}

/* -------------------------------------------------------- bad input */

typedef enum breakage {
    NO_CLEAN_DATA,      /* U[1] = NULL */
    NO_MIXTURES,        /* V = NULL */
    NO_PAIRED_MIXTURES, /* V_sup = NULL */
    NO_PAIRED_SOURCE,   /* U_sup[1] = NULL */
    MISSING_D,          /* d[2] = 0 with 3 sources */
    ONE_SOURCE,         /* sources = 1 */
    NEGATIVE_TAU_A,     /* tau_A[1] < 0 */
    NAN_BETA,           /* beta[0] = NaN */
    UNKNOWN_MODE,       /* mode = 99 */
    TOO_MANY_ATOMS,     /* d[1] > n[1] with exemplar init */
    TOO_MANY_ATOMS_0,   /* d[0] > n[0] (semi's source 1 is learned from V) */
    TOO_MANY_PAIRED,    /* d[1] > n_sup (sup's initial bases) */
    NEGATIVE_DATA,      /* U[1] has a negative entry */
    NO_FEATURES,        /* m = 0 */
    WRONG_WARM_START    /* warm start from a model of other atom counts */
} breakage;

typedef struct bad_case {
    const char *name;
    mdnmf_mode mode;
    int warm_start_epochs;
    breakage breakage;
    int status;
    const char *says; /* the message must contain this */
} bad_case;

static const bad_case bad_cases[] = {
    {"std without source 1", MDNMF_MODE_STD, 0, NO_CLEAN_DATA, MDNMF_ERR_ARGUMENT,
     "clean training data for source 1"},
    {"adv without source 1", MDNMF_MODE_ADV, 0, NO_CLEAN_DATA, MDNMF_ERR_ARGUMENT,
     "clean training data for source 1"},
    {"exem without source 1", MDNMF_MODE_EXEM, 0, NO_CLEAN_DATA, MDNMF_ERR_ARGUMENT,
     "source 1"},
    {"full without source 1", MDNMF_MODE_FULL, 0, NO_CLEAN_DATA, MDNMF_ERR_ARGUMENT,
     "source 1"},
    {"semi without mixtures", MDNMF_MODE_SEMI, 0, NO_MIXTURES, MDNMF_ERR_ARGUMENT, "mixtures"},
    {"semi_adv without mixtures", MDNMF_MODE_SEMI_ADV, 0, NO_MIXTURES, MDNMF_ERR_ARGUMENT,
     "mixtures"},
    {"sup without paired mixtures", MDNMF_MODE_SUP, 0, NO_PAIRED_MIXTURES, MDNMF_ERR_ARGUMENT,
     "paired"},
    {"sup without paired source 1", MDNMF_MODE_SUP, 0, NO_PAIRED_SOURCE, MDNMF_ERR_ARGUMENT,
     "paired clean data of source 1"},
    {"full without paired mixtures", MDNMF_MODE_FULL, 0, NO_PAIRED_MIXTURES,
     MDNMF_ERR_ARGUMENT, "paired"},
    {"3 sources, 2 atom counts", MDNMF_MODE_STD, 0, MISSING_D, MDNMF_ERR_ARGUMENT, "d >= 1"},
    {"one source", MDNMF_MODE_STD, 0, ONE_SOURCE, MDNMF_ERR_ARGUMENT, "sources"},
    {"negative tau_A", MDNMF_MODE_ADV, 0, NEGATIVE_TAU_A, MDNMF_ERR_ARGUMENT, "tau_A"},
    {"NaN beta", MDNMF_MODE_ADV, 0, NAN_BETA, MDNMF_ERR_ARGUMENT, "beta"},
    {"unknown mode", MDNMF_MODE_STD, 0, UNKNOWN_MODE, MDNMF_ERR_ARGUMENT, "mode"},
    {"std d > n", MDNMF_MODE_STD, 0, TOO_MANY_ATOMS, MDNMF_ERR_SHAPE, "exemplar"},
    {"adv d > n", MDNMF_MODE_ADV, 0, TOO_MANY_ATOMS, MDNMF_ERR_SHAPE, "source 1"},
    {"adv d > n with warm-up", MDNMF_MODE_ADV, 2, TOO_MANY_ATOMS, MDNMF_ERR_SHAPE, "source 1"},
    {"semi_adv d > n with warm-up", MDNMF_MODE_SEMI_ADV, 2, TOO_MANY_ATOMS_0, MDNMF_ERR_SHAPE,
     "source 0"},
    {"semi d > n", MDNMF_MODE_SEMI, 0, TOO_MANY_ATOMS_0, MDNMF_ERR_SHAPE, "source 0"},
    {"exem d > n", MDNMF_MODE_EXEM, 0, TOO_MANY_ATOMS, MDNMF_ERR_SHAPE, "exemplar"},
    {"full d > n", MDNMF_MODE_FULL, 0, TOO_MANY_ATOMS, MDNMF_ERR_SHAPE, "source 1"},
    {"full d > n with warm-up", MDNMF_MODE_FULL, 2, TOO_MANY_ATOMS, MDNMF_ERR_SHAPE,
     "source 1"},
    {"sup d > n_sup", MDNMF_MODE_SUP, 0, TOO_MANY_PAIRED, MDNMF_ERR_SHAPE, "source 1"},
    {"negative data", MDNMF_MODE_STD, 0, NEGATIVE_DATA, MDNMF_ERR_DATA, "source 1 data"},
    {"no features", MDNMF_MODE_STD, 0, NO_FEATURES, MDNMF_ERR_SHAPE, "features"},
    {"warm start of other shape", MDNMF_MODE_STD, 0, WRONG_WARM_START, MDNMF_ERR_SHAPE,
     "warm-start"},
};

static void apply_breakage(breakage b, problem *pb, mdnmf_separator_params *p)
{
    static float negative[M * 34];
    switch (b) {
    case NO_CLEAN_DATA: pb->data.U[1] = NULL; break;
    case NO_MIXTURES: pb->data.V = NULL; break;
    case NO_PAIRED_MIXTURES: pb->data.V_sup = NULL; break;
    case NO_PAIRED_SOURCE: pb->data.U_sup[1] = NULL; break;
    case MISSING_D: p->sources = 3; p->d[2] = 0; break;
    case ONE_SOURCE: p->sources = 1; break;
    case NEGATIVE_TAU_A: p->tau_A[1] = -0.1; break;
    case NAN_BETA: p->beta[0] = NAN; break;
    case UNKNOWN_MODE: p->mode = (mdnmf_mode)99; break;
    case TOO_MANY_ATOMS: p->d[1] = source_columns[1] + 1; break;
    case TOO_MANY_ATOMS_0: p->d[0] = source_columns[0] + 1; break;
    case TOO_MANY_PAIRED: p->d[1] = N_SUP + 1; break;
    case NEGATIVE_DATA:
        memcpy(negative, pb->U[1], M * source_columns[1] * sizeof(float));
        negative[5 * M + 2] = -1.0f;
        pb->data.U[1] = negative;
        break;
    case NO_FEATURES: pb->data.m = 0; break;
    case WRONG_WARM_START: p->common.warm_start = 1; p->d[0] += 1; break;
    }
}

static void test_bad_input_is_refused_and_leaves_the_model(void **state)
{
    mdnmf_error error;
    (void)state;
    problem reference_problem = problem_make(2, 80);
    mdnmf_separator_params first = separator_params(MDNMF_MODE_STD, 2, 3);
    for (size_t c = 0; c < sizeof bad_cases / sizeof *bad_cases; c++) {
        const bad_case *tc = &bad_cases[c];
        /* A model holding a fitted separator, to check it stays as it was. */
        mdnmf_model *model = fitted(&first, &reference_problem.data);
        int64_t m, D;
        mdnmf_model_shape(model, &m, &D);
        float *before = test_copy(mdnmf_model_basis(model), m * D);
        problem pb = problem_make(2, 90 + c);
        mdnmf_separator_params p = separator_params(tc->mode, 2, 3);
        p.warm_start_epochs = tc->warm_start_epochs;
        for (int s = 0; s < 2; s++)
            p.d[s] = first.d[s];
        apply_breakage(tc->breakage, &pb, &p);
        int status = mdnmf_separator_fit(model, &p, &pb.data, &error);
        const char *message = error.message;
        if (status != tc->status)
            fail_msg("%s: status %d (%s), expected %d", tc->name, status, message, tc->status);
        if (!strstr(message, tc->says))
            fail_msg("%s: message \"%s\" does not say \"%s\"", tc->name, message, tc->says);
        int64_t m_after, D_after;
        mdnmf_model_shape(model, &m_after, &D_after);
        if (m_after != m || D_after != D || mdnmf_model_source_count(model) != 2 ||
            memcmp(before, mdnmf_model_basis(model), (size_t)(m * D) * sizeof(float)) != 0)
            fail_msg("%s: the failed fit changed the model", tc->name);
        const mdnmf_separator_params *kept = mdnmf_model_separator_params(model);
        if (!kept || kept->mode != MDNMF_MODE_STD || kept->d[0] != first.d[0])
            fail_msg("%s: the failed fit changed the separator's parameters", tc->name);
        free(before);
        mdnmf_model_destroy(model);
        problem_free(&pb);
    }
    problem_free(&reference_problem);
}

static void test_bad_calls_are_refused(void **state)
{
    mdnmf_error error;
    (void)state;
    problem pb = problem_make(2, 99);
    mdnmf_separator_params p = separator_params(MDNMF_MODE_STD, 2, 2);
    mdnmf_model *model = empty_model();
    assert_int_equal(mdnmf_separator_fit(NULL, &p, &pb.data, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_separator_fit(model, NULL, &pb.data, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_separator_fit(model, &p, NULL, &error), MDNMF_ERR_ARGUMENT);
    assert_non_null(strstr(error.message, "NULL"));
    assert_int_equal(mdnmf_separator_params_check(&p, &error), MDNMF_OK);
    assert_string_equal(error.message, "");
    assert_int_equal(mdnmf_separator_params_check(NULL, &error), MDNMF_ERR_ARGUMENT);
    assert_non_null(strstr(error.message, "NULL"));

    /* Separation before any fit, with missing buffers, with the wrong m. */
    float *out[2] = {malloc(M * N_TEST * sizeof(float)), malloc(M * N_TEST * sizeof(float))};
    float *missing[2] = {out[0], NULL};
    assert_int_equal(mdnmf_separate(model, pb.test, M, N_TEST, 1, out, &error), MDNMF_ERR_STATE);
    assert_int_equal(mdnmf_separator_fit(model, &p, &pb.data, &error), MDNMF_OK);
    assert_int_equal(mdnmf_separate(model, pb.test, M, N_TEST, 1, NULL, &error),
                     MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_separate(model, pb.test, M, N_TEST, 1, missing, &error),
                     MDNMF_ERR_ARGUMENT);
    assert_non_null(strstr(error.message, "estimate buffer 1"));
    assert_int_equal(mdnmf_separate(model, pb.test, M - 1, N_TEST, 1, out, &error),
                     MDNMF_ERR_SHAPE);
    assert_int_equal(mdnmf_separate(NULL, pb.test, M, N_TEST, 1, out, &error), MDNMF_ERR_ARGUMENT);
    pb.test[7] = -1.0f;
    assert_int_equal(mdnmf_separate(model, pb.test, M, N_TEST, 1, out, &error), MDNMF_ERR_DATA);
    free(out[0]), free(out[1]);
    mdnmf_model_destroy(model);
    problem_free(&pb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wiener_estimates_add_up_to_the_mixture),
        cmocka_unit_test(test_adv_with_tau_A_zero_is_std),
        cmocka_unit_test(test_exemplars_are_distinct_columns_of_each_source),
        cmocka_unit_test(test_adversarial_data_blocks_and_weights),
        cmocka_unit_test(test_bad_input_is_refused_and_leaves_the_model),
        cmocka_unit_test(test_bad_calls_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
