/*
 * trace_fit — run one fit of the library and save everything it drew at
 * random, its per-epoch losses and its result, so that the NumPy reference
 * (tests/reference/mdnmf_ref.py) can replay the same fit.
 *
 *   trace_fit --U U.npy --out DIR [--U-adv Uadv.npy] [--omega omega.npy]
 *             [--W0 W0.npy] [--mu-H-vector lam.npy] [options]
 *
 * Options (defaults are the library's): --mode std|adv|transform, --d N, --epochs N,
 * --test-epochs N, --init-h-steps N, --batch N, --batch-adv N, --tau-A X, --tau-W X, --mu-W X,
 * --mu-H X, --init exemplar|random, --normalize, --update-H, --per-sample-init,
 * --true-sample std|adv|min, --divergence fro|kl|is, --seed N, --threads N.
 *
 * Output in DIR: exemplars.npy (int64), w_random.npy, h_random.npy,
 * h_random_adv.npy (float32, as the library's column-major matrices),
 * perm_true_<e>.npy / perm_adv_<e>.npy (int64, e = 1..epochs in the order
 * drawn), trace.csv (every trace call: kind, epoch, count), loss.csv, and
 * W.npy (d, m), H.npy (N, d), H_adv.npy (N_adv, d).  --mode transform sets
 * the basis W0 (and per-atom mu_H) and writes only H.npy = transform(U).
 * Exit status: 0 on success, 1 on a usage or I/O error, 2 if the fit failed
 * (its status and message are printed).
 */
#include "mdnmf.h"
#include "common/draws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct options {
    const char *U_path;
    const char *U_adv_path;
    const char *omega_path;
    const char *W0_path;
    const char *mu_H_path;
    const char *out;
    int mode; /* MODE_STD, MODE_ADV or MODE_TRANSFORM */
    mdnmf_params params;
} options;

enum { MODE_STD, MODE_ADV, MODE_TRANSFORM };

typedef struct tracer {
    draw_files draws; /* into the output folder */
    FILE *log;
    int failed;
} tracer;

/* ------------------------------------------------------------- writing */

static void join_path(char *path, size_t size, const char *folder, const char *name)
{
    snprintf(path, size, "%s/%s", folder, name);
}

static int write_float_npy(const char *path, const float *data, int64_t m, int64_t n)
{
    mdnmf_error error;
    if (mdnmf_npy_write(path, data, m, n, &error) != MDNMF_OK) {
        fprintf(stderr, "trace_fit: %s: %s\n", path, error.message);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ callbacks */

static void on_trace(void *user, mdnmf_trace_kind kind, int epoch, const void *data,
                     int64_t count)
{
    tracer *t = user;
    char path[4096];
    fprintf(t->log, "%s,%d,%lld\n", draw_kind_name(kind), epoch, (long long)count);
    int status = draw_files_save(&t->draws, kind, data, count, path, sizeof path);
    if (status < 0)
        fprintf(stderr, "trace_fit: cannot write %s\n", path);
    if (status != 0)
        t->failed = 1;
}

static int on_epoch(void *user, const mdnmf_progress *progress)
{
    FILE *losses = user;
    fprintf(losses, "%d,%.17g,%.17g,%.17g\n", progress->epoch, progress->loss_true,
            progress->loss_adv, progress->objective);
    return 0;
}

/* ----------------------------------------------------------- arguments */

static int parse_enum(const char *value, const char *const *names, int count, int *out)
{
    for (int i = 0; i < count; i++)
        if (strcmp(value, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return -1;
}

static int parse_arguments(int argc, char **argv, options *o)
{
    static const char *const inits[] = {"exemplar", "random"};
    static const char *const samples[] = {"std", "adv", "min"};
    static const char *const modes[] = {"std", "adv", "transform"};
    mdnmf_params *p = &o->params;
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        if (strcmp(flag, "--normalize") == 0) {
            p->normalize = 1;
            continue;
        }
        if (strcmp(flag, "--update-H") == 0) {
            p->update_H = 1;
            continue;
        }
        if (strcmp(flag, "--per-sample-init") == 0) {
            p->per_sample_init = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "trace_fit: %s needs a value\n", flag);
            return -1;
        }
        const char *value = argv[++i];
        int choice = 0, bad = 0;
        if (strcmp(flag, "--U") == 0) o->U_path = value;
        else if (strcmp(flag, "--U-adv") == 0) o->U_adv_path = value;
        else if (strcmp(flag, "--omega") == 0) o->omega_path = value;
        else if (strcmp(flag, "--W0") == 0) o->W0_path = value;
        else if (strcmp(flag, "--mu-H-vector") == 0) o->mu_H_path = value;
        else if (strcmp(flag, "--out") == 0) o->out = value;
        else if (strcmp(flag, "--d") == 0) p->d = atoi(value);
        else if (strcmp(flag, "--epochs") == 0) p->epochs = atoi(value);
        else if (strcmp(flag, "--test-epochs") == 0) p->test_epochs = atoi(value);
        else if (strcmp(flag, "--init-h-steps") == 0) p->init_H_steps = atoi(value);
        else if (strcmp(flag, "--batch") == 0) p->batch_size = atoll(value);
        else if (strcmp(flag, "--batch-adv") == 0) p->batch_size_adv = atoll(value);
        else if (strcmp(flag, "--tau-A") == 0) p->tau_A = atof(value);
        else if (strcmp(flag, "--tau-W") == 0) p->tau_W = atof(value);
        else if (strcmp(flag, "--mu-W") == 0) p->mu_W = atof(value);
        else if (strcmp(flag, "--mu-H") == 0) p->mu_H = atof(value);
        else if (strcmp(flag, "--seed") == 0) p->seed = strtoull(value, NULL, 10);
        else if (strcmp(flag, "--threads") == 0) p->threads = atoi(value);
        else if (strcmp(flag, "--init") == 0) {
            bad = parse_enum(value, inits, 2, &choice);
            p->init = (mdnmf_init)choice;
        } else if (strcmp(flag, "--true-sample") == 0) {
            bad = parse_enum(value, samples, 3, &choice);
            p->true_sample = (mdnmf_true_sample)choice;
        } else if (strcmp(flag, "--mode") == 0) {
            bad = parse_enum(value, modes, 3, &choice);
            o->mode = choice;
        } else if (strcmp(flag, "--divergence") == 0) {
            bad = mdnmf_enum_value(MDNMF_ENUM_DIVERGENCE, value, &choice, NULL) != MDNMF_OK;
            p->divergence = (mdnmf_divergence)choice;
        } else bad = 1;
        if (bad) {
            fprintf(stderr, "trace_fit: bad option %s %s\n", flag, value);
            return -1;
        }
    }
    if (!o->U_path || !o->out || (o->mode == MODE_ADV && !o->U_adv_path) ||
        (o->mode == MODE_TRANSFORM && !o->W0_path)) {
        fprintf(stderr, "usage: trace_fit --U U.npy --out DIR [--mode adv --U-adv Uadv.npy] "
                        "[--mode transform --W0 W.npy] ...\n");
        return -1;
    }
    return 0;
}

static int read_matrix(const char *path, mdnmf_matrix *matrix)
{
    mdnmf_error error;
    if (!path)
        return 0;
    if (mdnmf_npy_read(path, matrix, &error) != MDNMF_OK) {
        fprintf(stderr, "trace_fit: %s: %s\n", path, error.message);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ run */

/* Warm start and per-atom λ go through the model before the fit. */
static int prepare_model(mdnmf_model *model, const mdnmf_matrix *W0, const mdnmf_matrix *mu_H,
                         mdnmf_error *error)
{
    int status = MDNMF_OK;
    if (W0->data)
        status = mdnmf_model_set_basis(model, W0->data, W0->m, W0->n, error);
    if (status == MDNMF_OK && mu_H->data)
        status = mdnmf_model_set_mu_H(model, mu_H->data, mu_H->m * mu_H->n, error);
    return status;
}

static int write_results(const mdnmf_model *model, const char *out)
{
    char path[4096];
    int64_t m, d, n, n_adv = 0;
    mdnmf_model_shape(model, &m, &d);
    const float *H = mdnmf_model_activations(model, &n);
    const float *H_adv = mdnmf_model_adv_activations(model, &n_adv);
    join_path(path, sizeof path, out, "W.npy");
    if (write_float_npy(path, mdnmf_model_basis(model), m, d) != 0)
        return -1;
    join_path(path, sizeof path, out, "H.npy");
    if (H && write_float_npy(path, H, d, n) != 0)
        return -1;
    join_path(path, sizeof path, out, "H_adv.npy");
    if (H_adv && n_adv > 0 && write_float_npy(path, H_adv, d, n_adv) != 0)
        return -1;
    return 0;
}

/* SPEC §1 on its own: H = transform(U) with the model's basis. */
static int run_transform(mdnmf_model *model, const mdnmf_matrix *U, const char *out,
                         mdnmf_error *error)
{
    char path[4096];
    int64_t d = 0;
    mdnmf_model_shape(model, NULL, &d);
    float *H = malloc((size_t)(d * U->n) * sizeof *H);
    if (!H) {
        snprintf(error->message, sizeof error->message, "out of memory for H");
        return error->status = MDNMF_ERR_MEMORY;
    }
    int status = mdnmf_transform(model, U->data, U->m, U->n, H, error);
    join_path(path, sizeof path, out, "H.npy");
    if (status == MDNMF_OK && write_float_npy(path, H, d, U->n) != 0) {
        snprintf(error->message, sizeof error->message, "cannot write %.200s", path);
        status = error->status = MDNMF_ERR_IO;
    }
    free(H);
    return status;
}

int main(int argc, char **argv)
{
    mdnmf_error error;
    options o = {0};
    mdnmf_params_default(&o.params);
    if (parse_arguments(argc, argv, &o) != 0)
        return 1;

    mdnmf_matrix U = {0}, U_adv = {0}, omega = {0}, W0 = {0}, mu_H = {0};
    int result = 1;
    char path[4096];
    tracer t = {.draws = {.folder = o.out}};
    FILE *losses = NULL;
    mdnmf_model *model = NULL;
    if (read_matrix(o.U_path, &U) || read_matrix(o.U_adv_path, &U_adv) ||
        read_matrix(o.omega_path, &omega) || read_matrix(o.W0_path, &W0) ||
        read_matrix(o.mu_H_path, &mu_H))
        goto done;
    join_path(path, sizeof path, o.out, "trace.csv");
    t.log = fopen(path, "w");
    join_path(path, sizeof path, o.out, "loss.csv");
    losses = fopen(path, "w");
    if (!t.log || !losses) {
        fprintf(stderr, "trace_fit: cannot write into %s\n", o.out);
        goto done;
    }
    fprintf(losses, "epoch,loss_true,loss_adv,objective\n");
    o.params.warm_start = W0.data != NULL;
    o.params.on_trace = on_trace;
    o.params.on_trace_user = &t;
    o.params.on_epoch = on_epoch;
    o.params.on_epoch_user = losses;
    model = mdnmf_model_create(&o.params, &error);
    int status = error.status;
    if (model)
        status = prepare_model(model, &W0, &mu_H, &error);
    if (status == MDNMF_OK && o.mode == MODE_TRANSFORM) {
        status = run_transform(model, &U, o.out, &error);
        result = status == MDNMF_OK && !t.failed ? 0 : 2;
        if (status == MDNMF_OK)
            goto done;
    } else if (status == MDNMF_OK) {
        status = o.mode == MODE_ADV
                     ? mdnmf_fit_adv(model, U.data, U.m, U.n, U_adv.data, U_adv.n, omega.data,
                                     &error)
                     : mdnmf_fit_std(model, U.data, U.m, U.n, &error);
    }
    if (status != MDNMF_OK) {
        fprintf(stderr, "trace_fit: fit failed: %s: %s\n", mdnmf_strerror(status),
                error.message);
        result = 2;
        goto done;
    }
    if (t.failed || write_results(model, o.out) != 0) {
        fprintf(stderr, "trace_fit: could not write the results into %s\n", o.out);
        goto done;
    }
    result = 0;
done:
    if (t.log)
        fclose(t.log);
    if (losses)
        fclose(losses);
    mdnmf_model_destroy(model);
    mdnmf_matrix_free(&U);
    mdnmf_matrix_free(&U_adv);
    mdnmf_matrix_free(&omega);
    mdnmf_matrix_free(&W0);
    mdnmf_matrix_free(&mu_H);
    return result;
}
