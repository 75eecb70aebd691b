/* The public API under misuse: NULL pointers, bad parameters, bad data and
 * shapes, calls out of order, cancellation and divergence.  Every case must
 * come back as a status code (with a message on the model), never a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "mdnmf.h"
#include "test_util.h"

#include <ctype.h>

enum { M = 8, N = 12, N_ADV = 10, D = 3 };

/* 1 if `field` occurs in `message` as a whole word (e.g. "d" in "d (number
 * of atoms) must ..." but not the "d" inside "must be"). */
static int names_field(const char *message, const char *field)
{
    size_t length = strlen(field);
    for (const char *at = message ? strstr(message, field) : NULL; at;
         at = strstr(at + 1, field)) {
        int starts = at == message || !(isalnum((unsigned char)at[-1]) || at[-1] == '_');
        int ends = !(isalnum((unsigned char)at[length]) || at[length] == '_');
        if (starts && ends)
            return 1;
    }
    return 0;
}

static mdnmf_model *new_model(void)
{
    mdnmf_params p = test_params(D, 3);
    mdnmf_error error = {.status = -1};
    mdnmf_model *model = mdnmf_model_create(&p, &error);
    assert_non_null(model);
    assert_int_equal(error.status, MDNMF_OK);
    assert_string_equal(error.message, "");
    return model;
}

typedef struct fixture {
    float U[M * N];
    float U_adv[M * N_ADV];
    float omega[N_ADV];
    float H[D * N];
} fixture;

static fixture *make_fixture(void)
{
    static fixture f;
    test_rng r = test_rng_make(9);
    for (int i = 0; i < M * N; i++)
        f.U[i] = (float)test_uniform(&r);
    for (int i = 0; i < M * N_ADV; i++)
        f.U_adv[i] = (float)test_uniform(&r);
    for (int i = 0; i < N_ADV; i++)
        f.omega[i] = 0.5f + (float)test_uniform(&r);
    return &f;
}

/* --------------------------------------------------------- parameters */

typedef enum field_type { FIELD_INT, FIELD_INT64, FIELD_DOUBLE, FIELD_ENUM } field_type;

typedef struct bad_parameter {
    const char *field;
    size_t offset;
    field_type type;
    double value;
} bad_parameter;

#define BAD(field, type, value) {#field, offsetof(mdnmf_params, field), type, value}

static const bad_parameter bad_parameters[] = {
    BAD(d, FIELD_INT, 0),
    BAD(d, FIELD_INT, -4),
    BAD(epochs, FIELD_INT, -1),
    BAD(test_epochs, FIELD_INT, -1),
    BAD(batch_size, FIELD_INT64, -1),
    BAD(batch_size_adv, FIELD_INT64, -7),
    BAD(init, FIELD_ENUM, 5),
    BAD(init, FIELD_ENUM, -1),
    BAD(mu_W, FIELD_DOUBLE, -1e-3),
    BAD(mu_W, FIELD_DOUBLE, NAN),
    BAD(mu_H, FIELD_DOUBLE, -1.0),
    BAD(mu_H, FIELD_DOUBLE, INFINITY),
    BAD(tau_A, FIELD_DOUBLE, -0.1),
    BAD(tau_W, FIELD_DOUBLE, -2.0),
    BAD(true_sample, FIELD_ENUM, 3),
    BAD(threads, FIELD_INT, -1),
};

static void spoil(mdnmf_params *p, const bad_parameter *bad)
{
    char *at = (char *)p + bad->offset;
    int as_int = (int)bad->value;
    int64_t as_int64 = (int64_t)bad->value;
    switch (bad->type) {
    case FIELD_INT:
    case FIELD_ENUM: /* enums are int-sized here (checked below) */
        memcpy(at, &as_int, sizeof as_int);
        break;
    case FIELD_INT64:
        memcpy(at, &as_int64, sizeof as_int64);
        break;
    case FIELD_DOUBLE:
        memcpy(at, &bad->value, sizeof bad->value);
        break;
    }
}

static void test_params_check_names_the_bad_field(void **state)
{
    mdnmf_error error;
    (void)state;
    assert_int_equal(sizeof(mdnmf_init), sizeof(int));
    assert_int_equal(sizeof(mdnmf_true_sample), sizeof(int));
    mdnmf_params good = test_params(D, 3);
    assert_int_equal(mdnmf_params_check(&good, &error), MDNMF_OK);
    assert_int_equal(error.status, MDNMF_OK);
    assert_string_equal(error.message, "");
    mdnmf_model *model = new_model();
    for (size_t c = 0; c < sizeof bad_parameters / sizeof *bad_parameters; c++) {
        const bad_parameter *bad = &bad_parameters[c];
        mdnmf_params p = good;
        spoil(&p, bad);
        int status = mdnmf_params_check(&p, &error);
        if (status != MDNMF_ERR_ARGUMENT || error.status != status ||
            !names_field(error.message, bad->field)) {
            print_error("%s = %g: check says %d \"%s\"\n", bad->field, bad->value, status,
                        error.message);
            fail();
        }
        error.status = -1;
        assert_null(mdnmf_model_create(&p, &error));
        assert_int_equal(error.status, MDNMF_ERR_ARGUMENT);
        assert_true(names_field(error.message, bad->field));
        assert_int_equal(mdnmf_model_set_params(model, &p, &error), MDNMF_ERR_ARGUMENT);
        assert_true(names_field(error.message, bad->field));
        /* the model keeps its good parameters */
        assert_int_equal(mdnmf_model_params(model)->d, D);
        assert_int_equal(mdnmf_params_check(mdnmf_model_params(model), NULL), MDNMF_OK);
    }
    mdnmf_model_destroy(model);
}

static void test_defaults_are_as_documented(void **state)
{
    (void)state;
    mdnmf_params p;
    memset(&p, 0xff, sizeof p);
    mdnmf_params_default(&p);
    assert_int_equal(p.d, 0);
    assert_int_equal(p.epochs, 50);
    assert_int_equal(p.test_epochs, 50);
    assert_int_equal(p.batch_size, 0);
    assert_int_equal(p.batch_size_adv, 0);
    assert_int_equal(p.init, MDNMF_INIT_EXEMPLAR);
    assert_true(p.mu_W == 1e-6 && p.mu_H == 1e-6 && p.tau_A == 0.1 && p.tau_W == 1.0);
    assert_int_equal(p.normalize, 0);
    assert_int_equal(p.update_H, 0);
    assert_int_equal(p.true_sample, MDNMF_SAMPLE_STD);
    assert_int_equal(p.warm_start, 0);
    assert_int_equal(p.seed, 0);
    assert_int_equal(p.threads, 0);
    assert_null(p.on_epoch);
    assert_null(p.on_trace);
    /* the reserved tails read 0 ("the default") whatever the memory held */
    static const uint64_t zeros[16];
    assert_memory_equal(p.reserved, zeros, sizeof p.reserved);
    mdnmf_search search;
    memset(&search, 0xff, sizeof search);
    mdnmf_search_default(&search, 2);
    assert_memory_equal(search.reserved, zeros, sizeof search.reserved);
    assert_memory_equal(search.base.reserved, zeros, sizeof search.base.reserved);
    assert_memory_equal(search.base.common.reserved, zeros, sizeof search.base.common.reserved);
    /* d = 0 must be set by the caller */
    assert_int_equal(mdnmf_params_check(&p, NULL), MDNMF_ERR_ARGUMENT);
}

/* -------------------------------------------------------------- NULLs */

static void test_null_pointers_are_refused(void **state)
{
    mdnmf_error error;
    (void)state;
    fixture *f = make_fixture();
    mdnmf_params p = test_params(D, 2);
    int64_t m = -1, d = -1, n = -1;

    mdnmf_params_default(NULL);
    assert_int_equal(mdnmf_params_check(NULL, &error), MDNMF_ERR_ARGUMENT);
    assert_true(strlen(error.message) > 0);
    assert_null(mdnmf_model_create(NULL, &error));
    assert_int_equal(error.status, MDNMF_ERR_ARGUMENT);
    assert_null(mdnmf_model_create(NULL, NULL));
    mdnmf_model_destroy(NULL);
    assert_int_equal(mdnmf_model_set_params(NULL, &p, &error), MDNMF_ERR_ARGUMENT);
    assert_string_equal(error.message, "model is NULL");
    assert_null(mdnmf_model_params(NULL));
    assert_int_equal(mdnmf_model_set_basis(NULL, f->U, M, D, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_model_set_mu_H(NULL, f->omega, D, &error), MDNMF_ERR_ARGUMENT);
    mdnmf_model_shape(NULL, &m, &d);
    assert_true(m == 0 && d == 0);
    mdnmf_model_shape(NULL, NULL, NULL);
    assert_null(mdnmf_model_basis(NULL));
    assert_null(mdnmf_model_mu_H(NULL));
    assert_null(mdnmf_model_activations(NULL, &n));
    assert_int_equal(n, 0);
    assert_null(mdnmf_model_activations(NULL, NULL));
    assert_null(mdnmf_model_adv_activations(NULL, &n));
    assert_int_equal(mdnmf_model_source_count(NULL), 0);
    assert_null(mdnmf_model_components(NULL));
    assert_int_equal(mdnmf_fit_std(NULL, f->U, M, N, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_fit_adv(NULL, f->U, M, N, f->U_adv, N_ADV, NULL, &error),
                     MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_fit_exem(NULL, f->U, M, N, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_transform(NULL, f->U, M, N, f->H, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_model_save(NULL, "/tmp/never-written.npz", &error), MDNMF_ERR_ARGUMENT);

    mdnmf_model *model = new_model();
    assert_int_equal(mdnmf_model_set_params(model, NULL, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_model_set_basis(model, NULL, M, D, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_model_set_mu_H(model, NULL, D, &error), MDNMF_ERR_ARGUMENT);
    mdnmf_model_shape(model, NULL, NULL);
    assert_int_equal(mdnmf_fit_std(model, NULL, M, N, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_fit_adv(model, NULL, M, N, f->U_adv, N_ADV, NULL, &error),
                     MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_fit_adv(model, f->U, M, N, NULL, N_ADV, NULL, &error),
                     MDNMF_ERR_ARGUMENT);
    assert_true(strlen(error.message) > 0);
    assert_int_equal(mdnmf_fit_exem(model, NULL, M, N, &error), MDNMF_ERR_ARGUMENT);
    assert_null(mdnmf_model_basis(model)); /* nothing above made a basis */
    assert_int_equal(mdnmf_fit_std(model, f->U, M, N, &error), MDNMF_OK);
    assert_int_equal(mdnmf_transform(model, NULL, M, N, f->H, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_transform(model, f->U, M, N, NULL, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_model_save(model, NULL, &error), MDNMF_ERR_ARGUMENT);
    mdnmf_model_destroy(model);
    mdnmf_matrix matrix = {0};
    mdnmf_matrix_free(NULL);
    assert_int_not_equal(mdnmf_npy_read(NULL, &matrix, &error), MDNMF_OK);
    assert_null(matrix.data);
    assert_int_not_equal(mdnmf_npy_read("/tmp/x.npy", NULL, &error), MDNMF_OK);
    assert_int_not_equal(mdnmf_npy_write(NULL, f->U, M, N, &error), MDNMF_OK);
    assert_int_not_equal(mdnmf_npy_write("/tmp/mdnmf-api-never.npy", NULL, M, N, NULL),
                         MDNMF_OK);
    error.status = MDNMF_OK;
    assert_null(mdnmf_model_load(NULL, &error));
    assert_int_not_equal(error.status, MDNMF_OK);
    assert_null(mdnmf_model_load(NULL, NULL));
}

/* The separation and metric calls (beyond SPEC §1–§3, but public). */
static void test_null_pointers_in_separation_and_metrics(void **state)
{
    (void)state;
    fixture *f = make_fixture();
    float estimate_a[M * N], estimate_b[M * N];
    float *estimates[2] = {estimate_a, estimate_b};
    float *missing[2] = {NULL, estimate_b};
    double out[N];
    mdnmf_separator_params sp;
    mdnmf_separation_data data;
    memset(&data, 0, sizeof data);
    mdnmf_separator_params_default(NULL, 2);
    mdnmf_separator_params_default(&sp, 2);
    assert_int_equal(mdnmf_separator_params_check(NULL, NULL), MDNMF_ERR_ARGUMENT);
    assert_null(mdnmf_model_separator_params(NULL));
    assert_int_equal(mdnmf_separator_fit(NULL, &sp, &data, NULL), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_separate(NULL, f->U, M, N, 1, estimates, NULL), MDNMF_ERR_ARGUMENT);

    mdnmf_model *model = new_model();
    assert_int_equal(mdnmf_separator_fit(model, NULL, &data, NULL), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_separator_fit(model, &sp, NULL, NULL), MDNMF_ERR_ARGUMENT);
    assert_int_not_equal(mdnmf_separator_fit(model, &sp, &data, NULL), MDNMF_OK); /* d unset,
                         no data */
    assert_null(mdnmf_model_separator_params(model));
    assert_int_equal(mdnmf_separate(model, f->U, M, N, 1, estimates, NULL), MDNMF_ERR_STATE);
    assert_int_equal(mdnmf_fit_std(model, f->U, M, N, NULL), MDNMF_OK);
    assert_int_equal(mdnmf_separate(model, f->U, M, N, 1, NULL, NULL), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_separate(model, f->U, M, N, 1, missing, NULL), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_separate(model, NULL, M, N, 1, estimates, NULL), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_separate(model, f->U, M - 1, N, 0, estimates, NULL), MDNMF_ERR_SHAPE);
    mdnmf_model_destroy(model);

    assert_int_equal(mdnmf_psnr(NULL, f->U, M, N, out, NULL), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_psnr(f->U, NULL, M, N, out, NULL), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_psnr(f->U, f->U, M, N, NULL, NULL), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_psnr(f->U, f->U, 0, N, out, NULL), MDNMF_ERR_SHAPE);
    assert_int_equal(mdnmf_squared_error(NULL, f->U, M, N, out, NULL), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_squared_error(f->U, f->U, M, N, NULL, NULL), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_squared_error(f->U, f->U, M, -1, out, NULL), MDNMF_ERR_SHAPE);
}

static void test_strerror_covers_every_code(void **state)
{
    (void)state;
    const char *unknown = mdnmf_strerror(-1);
    assert_non_null(unknown);
    assert_non_null(mdnmf_strerror(1000));
    for (int code = MDNMF_OK; code <= MDNMF_ERR_STATE; code++) {
        const char *text = mdnmf_strerror(code);
        assert_non_null(text);
        assert_true(strlen(text) > 0);
        assert_string_not_equal(text, unknown);
        for (int other = MDNMF_OK; other < code; other++)
            assert_string_not_equal(text, mdnmf_strerror(other));
    }
    assert_string_equal(mdnmf_version(), MDNMF_VERSION_STRING);
}

/* ---------------------------------------------------------- bad data */

typedef enum target { IN_U, IN_U_ADV, IN_OMEGA } target;

typedef struct bad_value {
    const char *name;
    target where;
    float value;
    const char *mentions; /* what the message must say */
} bad_value;

static const bad_value bad_values[] = {
    {"negative U", IN_U, -0.5f, "negative"},
    {"NaN U", IN_U, NAN, "NaN"},
    {"infinite U", IN_U, INFINITY, "inf"},
    {"negative U_adv", IN_U_ADV, -1e-3f, "negative"},
    {"NaN U_adv", IN_U_ADV, NAN, "NaN"},
    {"negative omega", IN_OMEGA, -1.0f, "omega"},
    {"NaN omega", IN_OMEGA, NAN, "omega"},
    {"infinite omega", IN_OMEGA, INFINITY, "omega"},
};

typedef enum call { CALL_STD, CALL_ADV, CALL_EXEM, CALL_TRANSFORM } call;

static int run_call(mdnmf_model *model, call which, const fixture *f, mdnmf_error *error)
{
    float H[D * N];
    switch (which) {
    case CALL_STD: return mdnmf_fit_std(model, f->U, M, N, error);
    case CALL_ADV: return mdnmf_fit_adv(model, f->U, M, N, f->U_adv, N_ADV, f->omega, error);
    case CALL_EXEM: return mdnmf_fit_exem(model, f->U, M, N, error);
    default: return mdnmf_transform(model, f->U, M, N, H, error);
    }
}

static void test_bad_data_is_refused_and_keeps_the_basis(void **state)
{
    mdnmf_error error;
    (void)state;
    static const char *call_names[] = {"fit_std", "fit_adv", "fit_exem", "transform"};
    for (size_t c = 0; c < sizeof bad_values / sizeof *bad_values; c++) {
        const bad_value *bad = &bad_values[c];
        for (int which = CALL_STD; which <= CALL_TRANSFORM; which++) {
            if (bad->where != IN_U && which != CALL_ADV)
                continue;
            fixture *f = make_fixture();
            mdnmf_model *model = new_model();
            assert_int_equal(mdnmf_fit_std(model, f->U, M, N, &error), MDNMF_OK);
            float before[M * D];
            memcpy(before, mdnmf_model_basis(model), sizeof before);
            float *slot = bad->where == IN_U ? &f->U[5] : bad->where == IN_U_ADV ? &f->U_adv[17]
                                                                                 : &f->omega[4];
            *slot = bad->value;
            int status = run_call(model, (call)which, f, &error);
            assert_int_equal(error.status, status);
            const char *message = error.message;
            if (status != MDNMF_ERR_DATA || !strstr(message, bad->mentions)) {
                print_error("%s, %s: status %d, message \"%s\"\n", bad->name,
                            call_names[which], status, message);
                fail();
            }
            assert_memory_equal(mdnmf_model_basis(model), before, sizeof before);
            mdnmf_model_destroy(model);
        }
    }
}

/* ------------------------------------------------------- bad shapes */

static void test_bad_shapes_are_refused(void **state)
{
    mdnmf_error error;
    (void)state;
    fixture *f = make_fixture();
    float H[D * N];
    mdnmf_model *model = new_model();
    /* before any basis */
    assert_int_equal(mdnmf_transform(model, f->U, M, N, H, &error), MDNMF_ERR_STATE);
    assert_true(strlen(error.message) > 0);
    /* empty data */
    assert_int_equal(mdnmf_fit_std(model, f->U, 0, N, &error), MDNMF_ERR_SHAPE);
    assert_int_equal(mdnmf_fit_std(model, f->U, M, 0, &error), MDNMF_ERR_SHAPE);
    assert_int_equal(mdnmf_fit_std(model, f->U, -1, N, &error), MDNMF_ERR_SHAPE);
    assert_int_equal(mdnmf_fit_adv(model, f->U, M, 0, f->U_adv, N_ADV, NULL, &error),
                     MDNMF_ERR_SHAPE);
    assert_int_equal(mdnmf_fit_adv(model, f->U, M, N, f->U_adv, 0, NULL, &error), MDNMF_ERR_SHAPE);
    assert_int_equal(mdnmf_fit_exem(model, f->U, 0, N, &error), MDNMF_ERR_SHAPE);
    /* more exemplars than columns */
    mdnmf_params p = test_params(N + 1, 2);
    assert_int_equal(mdnmf_model_set_params(model, &p, &error), MDNMF_OK);
    assert_int_equal(mdnmf_fit_std(model, f->U, M, N, &error), MDNMF_ERR_SHAPE);
    assert_int_equal(mdnmf_fit_adv(model, f->U, M, N, f->U_adv, N_ADV, NULL, &error),
                     MDNMF_ERR_SHAPE);
    assert_int_equal(mdnmf_fit_exem(model, f->U, M, N, &error), MDNMF_ERR_SHAPE);
    assert_null(mdnmf_model_basis(model));
    /* ... which random init allows */
    p.init = MDNMF_INIT_RANDOM;
    assert_int_equal(mdnmf_model_set_params(model, &p, &error), MDNMF_OK);
    assert_int_equal(mdnmf_fit_std(model, f->U, M, N, &error), MDNMF_OK);
    /* transform with the wrong number of features */
    p = test_params(D, 2);
    assert_int_equal(mdnmf_model_set_params(model, &p, &error), MDNMF_OK);
    assert_int_equal(mdnmf_fit_std(model, f->U, M, N, &error), MDNMF_OK);
    assert_int_equal(mdnmf_transform(model, f->U, M - 1, N, H, &error), MDNMF_ERR_SHAPE);
    assert_int_equal(mdnmf_transform(model, f->U, M, 0, H, &error), MDNMF_ERR_SHAPE);
    assert_int_equal(mdnmf_transform(model, f->U, M, N, H, &error), MDNMF_OK);
    /* per-atom mu_H of the wrong length */
    float lambda[D + 1] = {0};
    assert_int_equal(mdnmf_model_set_mu_H(model, lambda, D + 1, &error), MDNMF_ERR_SHAPE);
    lambda[1] = -1.0f;
    assert_int_not_equal(mdnmf_model_set_mu_H(model, lambda, D, &error), MDNMF_OK);
    /* a warm start whose basis does not fit the data */
    p.warm_start = 1;
    assert_int_equal(mdnmf_model_set_params(model, &p, &error), MDNMF_OK);
    assert_int_equal(mdnmf_fit_std(model, f->U, M - 2, N, &error), MDNMF_ERR_SHAPE);
    /* a basis with a negative entry */
    float W[M * D];
    memcpy(W, mdnmf_model_basis(model), sizeof W);
    W[3] = -1.0f;
    assert_int_equal(mdnmf_model_set_basis(model, W, M, D, &error), MDNMF_ERR_DATA);
    assert_int_equal(mdnmf_model_set_basis(model, W, 0, D, &error), MDNMF_ERR_ARGUMENT);
    mdnmf_model_destroy(model);
}

/* ------------------------------------------------------ cancellation */

static int cancel_at(void *user, const mdnmf_progress *progress)
{
    return progress->epoch >= *(int *)user;
}

static void test_cancelled_fit_keeps_last_finished_epoch(void **state)
{
    mdnmf_error error;
    (void)state;
    fixture *f = make_fixture();
    for (int stop = 0; stop <= 3; stop += 3) {
        mdnmf_params p = test_params(D, 10);
        p.batch_size = 5;
        p.on_epoch = cancel_at;
        p.on_epoch_user = &stop;
        mdnmf_model *cancelled = mdnmf_model_create(&p, NULL);
        assert_int_equal(mdnmf_fit_adv(cancelled, f->U, M, N, f->U_adv, N_ADV, f->omega, &error),
                         MDNMF_ERR_CANCELLED);
        assert_true(strlen(error.message) > 0);
        /* the same fit run for `stop` epochs only */
        p.epochs = stop;
        p.on_epoch = NULL;
        mdnmf_model *shorter = mdnmf_model_create(&p, NULL);
        assert_int_equal(mdnmf_fit_adv(shorter, f->U, M, N, f->U_adv, N_ADV, f->omega, &error),
                         MDNMF_OK);
        assert_non_null(mdnmf_model_basis(cancelled));
        assert_memory_equal(mdnmf_model_basis(cancelled), mdnmf_model_basis(shorter),
                            M * D * sizeof(float));
        mdnmf_model_destroy(cancelled);
        mdnmf_model_destroy(shorter);
    }
}

/* -------------------------------------------------------- divergence */

/* MDNMF with tau_A = 50 against its own training data (20 x 60, d = 5): the
 * adversarial term drives the basis away from the data within a few epochs.
 * The fit must stop with MDNMF_ERR_DIVERGED and a message naming tau_A, and
 * leave the model's previous basis untouched. */
static void test_diverging_mdnmf_is_reported(void **state)
{
    mdnmf_error error;
    (void)state;
    enum { DM = 20, DN = 60, DD = 5 };
    test_rng r = test_rng_make(21);
    float *U = test_random_matrix(&r, DM, DN, 0.0, 1.0);
    static loss_log log;
    for (int variant = 0; variant < 4; variant++) {
        int with_callback = variant & 1;
        mdnmf_params p = test_params(DD, 100);
        mdnmf_model *model = mdnmf_model_create(&p, NULL);
        /* a good basis first: a failed fit must leave it alone */
        assert_int_equal(mdnmf_fit_std(model, U, DM, DN, &error), MDNMF_OK);
        float before[DM * DD];
        memcpy(before, mdnmf_model_basis(model), sizeof before);
        p.tau_A = 50.0;
        p.batch_size = p.batch_size_adv = (variant & 2) ? 16 : 0;
        memset(&log, 0, sizeof log);
        p.on_epoch = with_callback ? test_record_loss : NULL;
        p.on_epoch_user = &log;
        assert_int_equal(mdnmf_model_set_params(model, &p, &error), MDNMF_OK);
        int status = mdnmf_fit_adv(model, U, DM, DN, U, DN, NULL, &error);
        const char *message = error.message;
        if (status != MDNMF_ERR_DIVERGED || !strstr(message, "tau_A")) {
            print_error("tau_A = 50 on U_adv = U (variant %d): status %d, \"%s\"\n", variant,
                        status, message);
            fail();
        }
        assert_memory_equal(mdnmf_model_basis(model), before, sizeof before);
        assert_true(test_losses_finite(&log));
        mdnmf_model_destroy(model);
    }
    free(U);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_check_names_the_bad_field),
        cmocka_unit_test(test_defaults_are_as_documented),
        cmocka_unit_test(test_null_pointers_are_refused),
        cmocka_unit_test(test_null_pointers_in_separation_and_metrics),
        cmocka_unit_test(test_strerror_covers_every_code),
        cmocka_unit_test(test_bad_data_is_refused_and_keeps_the_basis),
        cmocka_unit_test(test_bad_shapes_are_refused),
        cmocka_unit_test(test_cancelled_fit_keeps_last_finished_epoch),
        cmocka_unit_test(test_diverging_mdnmf_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
