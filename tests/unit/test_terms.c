/* The W step's terms (src/internal.h): term_grams_share and term_sums_rows
 * against a direct double-precision evaluation of the sums of SPEC §3/§6,
 * for attracting, repelling and all-bases (semi) terms, whole and in row
 * and Gram shares; and term_sums_rows_beta (SPEC §11, KL and IS) likewise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "linalg.h"

enum { M = 37, D = 5, ATOMS = 9, OFFSET = 3, B1 = 11, B2 = 7 };

static float uniform(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*state >> 40) + 1) / (float)(1 << 24);
}

static void fill(float *X, int64_t count, uint64_t *state)
{
    for (int64_t i = 0; i < count; i++)
        X[i] = uniform(state);
}

typedef struct problem {
    float W[M * D], W_all[M * ATOMS];
    float U1[M * B1], H1[D * B1];                 /* own activations, ldh D */
    float U2[M * B2], H2_all[ATOMS * B2];         /* rows OFFSET.. of all atoms */
    float G1[D * D], G2[D * D], G3[ATOMS * D];
    term_batch terms[3];                          /* three_terms' */
    float num[M * D], den[M * D];                 /* what the sums write */
} problem;

static void three_terms(problem *x, term_batch *terms);

/* Every test starts from the same random problem and its three terms. */
static int make_problem(void **fixture)
{
    problem *x = calloc(1, sizeof *x);
    if (!x)
        return -1;
    uint64_t state = 12345;
    fill(x->W, M * D, &state);
    fill(x->W_all, M * ATOMS, &state);
    fill(x->U1, M * B1, &state);
    fill(x->H1, D * B1, &state);
    fill(x->U2, M * B2, &state);
    fill(x->H2_all, ATOMS * B2, &state);
    three_terms(x, x->terms);
    *fixture = x;
    return 0;
}

static int free_problem(void **fixture)
{
    free(*fixture);
    return 0;
}

/* data part Σ_k U[i,k] H[a,k] and model part Σ_b Wm[i,b] Σ_k Hm[b,k] H[a,k],
 * both times scale, in double. */
static void direct_parts(const term_batch *t, const float *W, int64_t i, int64_t a, double *data,
                         double *model)
{
    const float *Wm = t->W_model ? t->W_model : W;
    const float *Hm = t->W_model ? t->H_model_b : t->H_b;
    int64_t atoms = t->W_model ? t->model_atoms : D;
    double u = 0.0, w = 0.0;
    for (int64_t k = 0; k < t->batch; k++)
        u += (double)t->U_b[k * M + i] * t->H_b[k * t->ldh + a];
    for (int64_t b = 0; b < atoms; b++) {
        double g = 0.0;
        for (int64_t k = 0; k < t->batch; k++)
            g += (double)Hm[k * t->ldh + b] * t->H_b[k * t->ldh + a];
        w += (double)Wm[b * M + i] * g;
    }
    *data = t->scale * u;
    *model = t->scale * w;
}

static void expect_sums(const term_batch *terms, int count, const float *W, const float *num,
                        const float *den)
{
    for (int64_t a = 0; a < D; a++)
        for (int64_t i = 0; i < M; i++) {
            double top = 0.0, bottom = 0.0;
            for (int t = 0; t < count; t++) {
                double data, model;
                direct_parts(&terms[t], W, i, a, &data, &model);
                top += terms[t].sign == TERM_ATTRACTS ? data : model;
                bottom += terms[t].sign == TERM_ATTRACTS ? model : data;
            }
            assert_true(fabs(num[a * M + i] - top) <= 1e-5 * fabs(top));
            assert_true(fabs(den[a * M + i] - bottom) <= 1e-5 * fabs(bottom));
        }
}

static void three_terms(problem *x, term_batch *terms)
{
    terms[0] = (term_batch){.sign = TERM_ATTRACTS, .scale = 0.9f / B1, .batch = B1,
                            .U_b = x->U1, .H_b = x->H1, .ldh = D, .G = x->G1};
    terms[1] = (term_batch){.sign = TERM_REPELS, .scale = 0.2f / B2, .batch = B2, .U_b = x->U2,
                            .H_b = x->H2_all + OFFSET, .ldh = ATOMS, .G = x->G2};
    terms[2] = (term_batch){.sign = TERM_ATTRACTS, .scale = 0.7f / B2, .batch = B2,
                            .U_b = x->U2, .H_b = x->H2_all + OFFSET, .ldh = ATOMS,
                            .W_model = x->W_all, .H_model_b = x->H2_all,
                            .model_atoms = ATOMS, .G = x->G3};
}

static void test_sums_match_direct_evaluation(void **state)
{
    problem *x = *state;
    term_batch *terms = x->terms;
    float *num = x->num, *den = x->den;
    for (int count = 1; count <= 3; count++) {
        term_grams_share(terms, count, D, 1, 0);
        term_sums_rows(terms, count, x->W, M, D, 0, M, num, den);
        expect_sums(terms, count, x->W, num, den);
    }
}

/* The Grams dealt out to 3 parts and the rows cut in 3 pieces give the
 * same sums (each part writes only its blocks and rows). */
static void test_shares_cover_everything(void **state)
{
    problem *x = *state;
    term_batch *terms = x->terms;
    float *num = x->num, *den = x->den;
    for (int i = 0; i < M * D; i++)
        num[i] = den[i] = NAN;
    for (int part = 0; part < 3; part++)
        term_grams_share(terms, 3, D, 3, part);
    int64_t cuts[4] = {0, 16, 17, M};
    for (int piece = 0; piece < 3; piece++)
        term_sums_rows(terms, 3, x->W, M, D, cuts[piece], cuts[piece + 1], num, den);
    expect_sums(terms, 3, x->W, num, den);
}

/* A term and the same term repelling put the same two parts on both sides,
 * so num and den are equal to the bit (float addition commutes; weight 1
 * keeps a BLAS that fuses alpha·AB + C from rounding the sides differently). */
static void test_attracting_and_repelling_twins_cancel(void **state)
{
    problem *x = *state;
    term_batch *terms = x->terms;
    float *num = x->num, *den = x->den;
    term_batch twins[2] = {terms[0], terms[0]};
    twins[0].scale = twins[1].scale = 1.0f;
    twins[1].sign = TERM_REPELS;
    term_grams_share(twins, 2, D, 1, 0);
    term_sums_rows(twins, 2, x->W, M, D, 0, M, num, den);
    assert_memory_equal(num, den, M * D * sizeof *num);
}

/* ---- SPEC §11: the β steps' sums (term_sums_rows_beta) */

enum { BIG = BETA_CHUNK + 37 }; /* a batch of two column chunks */
static const float GUARD = 1e-3f;

/* P⁻ = scale Σ_k U[i,k] Λ^{β-2} H[a,k] and P⁺ = scale Σ_k Λ^{β-1} H[a,k],
 * Λ = W_model H_model + GUARD, in double. */
static void direct_beta_parts(const term_batch *t, const float *W, double beta, int64_t i,
                              int64_t a, double *minus, double *plus)
{
    const float *Wm = t->W_model ? t->W_model : W;
    const float *Hm = t->W_model ? t->H_model_b : t->H_b;
    int64_t atoms = t->W_model ? t->model_atoms : D;
    double lower = 0.0, upper = 0.0;
    for (int64_t k = 0; k < t->batch; k++) {
        double lambda = GUARD;
        for (int64_t b = 0; b < atoms; b++)
            lambda += (double)Wm[b * M + i] * Hm[k * t->ldh + b];
        double h = t->H_b[k * t->ldh + a];
        lower += t->U_b[k * M + i] * pow(lambda, beta - 2.0) * h;
        upper += pow(lambda, beta - 1.0) * h;
    }
    *minus = t->scale * lower;
    *plus = t->scale * upper;
}

static void expect_beta_sums(const term_batch *terms, int count, const float *W, double beta,
                             const float *num, const float *den)
{
    for (int64_t a = 0; a < D; a++)
        for (int64_t i = 0; i < M; i++) {
            double top = 0.0, bottom = 0.0;
            for (int t = 0; t < count; t++) {
                double minus, plus;
                direct_beta_parts(&terms[t], W, beta, i, a, &minus, &plus);
                top += terms[t].sign == TERM_ATTRACTS ? minus : plus;
                bottom += terms[t].sign == TERM_ATTRACTS ? plus : minus;
            }
            if (!(fabs(num[a * M + i] - top) <= 1e-5 * fabs(top)) ||
                !(fabs(den[a * M + i] - bottom) <= 1e-5 * fabs(bottom)))
                fail_msg("beta %g, row %lld, atom %lld: num %.9g (%.9g), den %.9g (%.9g)",
                         beta, (long long)i, (long long)a, num[a * M + i], top,
                         den[a * M + i], bottom);
        }
}

/* The three terms and a fourth of BIG columns, attracting, on its own
 * activations (two BETA_CHUNK chunks of columns). */
typedef struct big_term {
    float *U, *H, *G;
    term_batch term;
} big_term;

static big_term make_big_term(void)
{
    big_term b = {malloc(M * BIG * sizeof(float)), malloc(D * BIG * sizeof(float)),
                  malloc(D * D * sizeof(float)), {0}};
    assert_true(b.U && b.H && b.G);
    uint64_t state = 777;
    fill(b.U, M * BIG, &state);
    fill(b.H, D * BIG, &state);
    b.term = (term_batch){.sign = TERM_ATTRACTS, .scale = 1.3f / BIG, .batch = BIG, .U_b = b.U,
                          .H_b = b.H, .ldh = D, .G = b.G};
    return b;
}

static void free_big_term(big_term *b)
{
    free(b->U), free(b->H), free(b->G);
}

/* Every divergence, every count of terms, and the rows and row sums cut in
 * 3 parts as threads cut them: the sums of SPEC §11 in double. */
static void test_beta_sums_match_direct_evaluation(void **state)
{
    problem *x = *state;
    big_term big = make_big_term();
    term_batch terms[4] = {x->terms[0], x->terms[1], x->terms[2], big.term};
    float *work = malloc((size_t)BETA_WORK(M) * sizeof *work);
    assert_non_null(work);
    static const mdnmf_divergence kinds[2] = {MDNMF_DIVERGENCE_KL, MDNMF_DIVERGENCE_IS};
    for (int v = 0; v < 2; v++) {
        beta_work bw = {.kind = kinds[v], .guard = GUARD, .work = work, .m = M};
        double beta = kinds[v] == MDNMF_DIVERGENCE_KL ? 1.0 : 0.0;
        for (int count = 1; count <= 4; count++) {
            for (int i = 0; i < M * D; i++)
                x->num[i] = x->den[i] = NAN;
            for (int part = 0; part < 3; part++)
                term_row_sums_share(terms, count, D, 3, part);
            int64_t cuts[4] = {0, 16, 17, M};
            for (int piece = 0; piece < 3; piece++)
                term_sums_rows_beta(terms, count, x->W, M, D, cuts[piece], cuts[piece + 1], &bw,
                                    work, x->num, x->den);
            expect_beta_sums(terms, count, x->W, beta, x->num, x->den);
        }
    }
    free(work);
    free_big_term(&big);
}

int main(void)
{
    linalg_set_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sums_match_direct_evaluation, make_problem,
                                        free_problem),
        cmocka_unit_test_setup_teardown(test_shares_cover_everything, make_problem,
                                        free_problem),
        cmocka_unit_test_setup_teardown(test_attracting_and_repelling_twins_cancel,
                                        make_problem, free_problem),
        cmocka_unit_test_setup_teardown(test_beta_sums_match_direct_evaluation, make_problem,
                                        free_problem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
