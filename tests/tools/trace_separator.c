/*
 * trace_separator — run one separator fit of the library, save every random
 * draw it reports, the fitted bases and the separation of test mixtures, so
 * that the NumPy reference (tests/reference/mdnmf_ref.py) can replay it.
 *
 *   trace_separator --mode MODE --d 3,4 --out DIR [data] [options]
 *
 * Data (.npy, (samples, features) as the library reads them):
 *   --U PATH         clean data of the next source (repeat in source order;
 *                    "-" for a source without clean data, e.g. semi's last)
 *   --V PATH         mixtures          --U-sup PATH  paired clean data (repeat)
 *   --V-sup PATH     paired mixtures   --test PATH   mixtures to separate
 *   --warm PATH      a model (.npz) to warm-start from (sets warm_start)
 * Parameters (library defaults unless given; lists are one value per source
 * or one value for all): --mode std|adv|exem|sup|full|semi|semi_adv,
 * --d LIST (sets S), --mu-H LIST, --tau-A LIST, --beta LIST, --tau-S X,
 * --tau-W X, --mu-W X, --epochs N, --test-epochs N, --batch N, --batch-adv N,
 * --batch-sup N, --warm-start-epochs N, --init exemplar|random, --normalize,
 * --update-H, --true-sample std|adv|min, --divergence fro|kl|is, --seed N,
 * --threads N.
 *
 * Output in DIR:
 *   trace_<kind>_<k>.npy  the k-th (1-based) draw of each trace kind (0–8) in
 *                         the order reported: int64 (count,) for indices and
 *                         permutations, float32 (1, count) for the rest (the
 *                         library's column-major matrix, flat)
 *   trace.csv             one line per draw: phase (fit/separate), kind,
 *                         epoch, count, k
 *   progress.csv          stage, stages, epoch, epochs of every epoch callback
 *   W.npy (D, m), components.npy (S,) int64, mu_H.npy (D,)
 *   est_wiener_<s>.npy, est_plain_<s>.npy (n, m) when --test is given; the
 *   separation's transform draws are traced too (phase "separate").
 * Exit status: 0 on success, 1 on a usage or I/O error, 2 if the library
 * refused or failed (its status and message are printed on stderr).
 */
#include "mdnmf.h"
#include "common/draws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KINDS 9

typedef struct options {
    mdnmf_separator_params sep;
    const char *U_paths[MDNMF_MAX_SOURCES];
    int U_count;
    const char *U_sup_paths[MDNMF_MAX_SOURCES];
    int U_sup_count;
    const char *V_path, *V_sup_path, *test_path, *warm_path, *out;
} options;

typedef struct tracer {
    const char *out;
    const char *phase;
    FILE *log;
    FILE *progress;
    int count[KINDS];
    int failed;
} tracer;

/* ------------------------------------------------------------- writing */

static int write_float_npy(const char *path, const float *data, int64_t m, int64_t n)
{
    mdnmf_error error;
    if (mdnmf_npy_write(path, data, m, n, &error) != MDNMF_OK) {
        fprintf(stderr, "trace_separator: %s: %s\n", path, error.message);
        return -1;
    }
    return 0;
}

static void in_folder(char *path, size_t size, const char *folder, const char *name)
{
    snprintf(path, size, "%s/%s", folder, name);
}

/* ------------------------------------------------------------ callbacks */

static int is_index_kind(mdnmf_trace_kind kind)
{
    return kind == MDNMF_TRACE_EXEMPLARS || kind == MDNMF_TRACE_PERM_TRUE ||
           kind == MDNMF_TRACE_PERM_ADV || kind == MDNMF_TRACE_JOINT_PERM;
}

static void on_trace(void *user, mdnmf_trace_kind kind, int epoch, const void *data,
                     int64_t count)
{
    tracer *t = user;
    if ((int)kind < 0 || (int)kind >= KINDS) {
        fprintf(stderr, "trace_separator: unknown trace kind %d\n", (int)kind);
        t->failed = 1;
        return;
    }
    int k = ++t->count[kind];
    char name[64], path[4096];
    snprintf(name, sizeof name, "trace_%d_%d.npy", (int)kind, k);
    in_folder(path, sizeof path, t->out, name);
    int status = is_index_kind(kind) ? write_int64_npy(path, data, count)
                                     : write_float_npy(path, data, count, 1);
    fprintf(t->log, "%s,%d,%d,%lld,%d\n", t->phase, (int)kind, epoch, (long long)count, k);
    if (status != 0)
        t->failed = 1;
}

static int on_epoch(void *user, const mdnmf_progress *progress)
{
    tracer *t = user;
    fprintf(t->progress, "%d,%d,%d,%d\n", progress->stage, progress->stages, progress->epoch,
            progress->epochs);
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

/* "a,b,c" into values[]; returns the count, or -1 if malformed. */
static int parse_list(const char *text, double *values, int capacity)
{
    int count = 0;
    const char *at = text;
    while (*at) {
        char *end;
        double value = strtod(at, &end);
        if (end == at || count >= capacity || (*end != ',' && *end != '\0'))
            return -1;
        values[count++] = value;
        at = *end == ',' ? end + 1 : end;
    }
    return count;
}

/* A per-source list: one value per source, or one value for every source. */
static int parse_per_source(const char *text, double *out)
{
    double values[MDNMF_MAX_SOURCES];
    int count = parse_list(text, values, MDNMF_MAX_SOURCES);
    if (count < 1)
        return -1;
    for (int s = 0; s < MDNMF_MAX_SOURCES; s++)
        out[s] = values[count == 1 ? 0 : (s < count ? s : count - 1)];
    return 0;
}

static int parse_d(const char *text, mdnmf_separator_params *p)
{
    double values[MDNMF_MAX_SOURCES];
    int count = parse_list(text, values, MDNMF_MAX_SOURCES);
    if (count < 1)
        return -1;
    p->sources = count;
    for (int s = 0; s < count; s++)
        p->d[s] = (int64_t)values[s];
    return 0;
}

static int parse_flag(options *o, const char *flag)
{
    if (strcmp(flag, "--normalize") == 0)
        o->sep.common.normalize = 1;
    else if (strcmp(flag, "--update-H") == 0)
        o->sep.common.update_H = 1;
    else
        return -1;
    return 0;
}

static int parse_option(options *o, const char *flag, const char *value)
{
    static const char *const inits[] = {"exemplar", "random"};
    static const char *const samples[] = {"std", "adv", "min"};
    static const char *const modes[] = {"std", "adv", "exem", "sup", "full", "semi", "semi_adv"};
    mdnmf_separator_params *p = &o->sep;
    mdnmf_params *c = &p->common;
    int choice = 0, bad = 0;
    if (strcmp(flag, "--U") == 0) {
        if (o->U_count >= MDNMF_MAX_SOURCES) return -1;
        o->U_paths[o->U_count++] = strcmp(value, "-") == 0 ? NULL : value;
    } else if (strcmp(flag, "--U-sup") == 0) {
        if (o->U_sup_count >= MDNMF_MAX_SOURCES) return -1;
        o->U_sup_paths[o->U_sup_count++] = value;
    } else if (strcmp(flag, "--V") == 0) o->V_path = value;
    else if (strcmp(flag, "--V-sup") == 0) o->V_sup_path = value;
    else if (strcmp(flag, "--test") == 0) o->test_path = value;
    else if (strcmp(flag, "--warm") == 0) o->warm_path = value;
    else if (strcmp(flag, "--out") == 0) o->out = value;
    else if (strcmp(flag, "--d") == 0) bad = parse_d(value, p);
    else if (strcmp(flag, "--mu-H") == 0) bad = parse_per_source(value, p->mu_H);
    else if (strcmp(flag, "--tau-A") == 0) bad = parse_per_source(value, p->tau_A);
    else if (strcmp(flag, "--beta") == 0) bad = parse_per_source(value, p->beta);
    else if (strcmp(flag, "--tau-S") == 0) p->tau_S = atof(value);
    else if (strcmp(flag, "--tau-W") == 0) c->tau_W = atof(value);
    else if (strcmp(flag, "--mu-W") == 0) c->mu_W = atof(value);
    else if (strcmp(flag, "--epochs") == 0) c->epochs = atoi(value);
    else if (strcmp(flag, "--test-epochs") == 0) c->test_epochs = atoi(value);
    else if (strcmp(flag, "--batch") == 0) c->batch_size = atoll(value);
    else if (strcmp(flag, "--batch-adv") == 0) c->batch_size_adv = atoll(value);
    else if (strcmp(flag, "--batch-sup") == 0) p->batch_size_sup = atoll(value);
    else if (strcmp(flag, "--warm-start-epochs") == 0) p->warm_start_epochs = atoi(value);
    else if (strcmp(flag, "--noise-steps") == 0) p->noise_steps = atoi(value);
    else if (strcmp(flag, "--wiener-exponent") == 0) p->wiener_exponent = atof(value);
    else if (strcmp(flag, "--seed") == 0) c->seed = strtoull(value, NULL, 10);
    else if (strcmp(flag, "--threads") == 0) c->threads = atoi(value);
    else if (strcmp(flag, "--init") == 0) {
        bad = parse_enum(value, inits, 2, &choice);
        c->init = (mdnmf_init)choice;
    } else if (strcmp(flag, "--true-sample") == 0) {
        bad = parse_enum(value, samples, 3, &choice);
        c->true_sample = (mdnmf_true_sample)choice;
    } else if (strcmp(flag, "--mode") == 0) {
        bad = parse_enum(value, modes, 7, &choice);
        p->mode = (mdnmf_mode)choice;
    } else if (strcmp(flag, "--divergence") == 0) {
        bad = mdnmf_enum_value(MDNMF_ENUM_DIVERGENCE, value, &choice, NULL) != MDNMF_OK;
        c->divergence = (mdnmf_divergence)choice;
    } else bad = 1;
    return bad ? -1 : 0;
}

static int parse_arguments(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        if (parse_flag(o, argv[i]) == 0)
            continue;
        if (i + 1 >= argc) {
            fprintf(stderr, "trace_separator: %s needs a value\n", argv[i]);
            return -1;
        }
        if (parse_option(o, argv[i], argv[i + 1]) != 0) {
            fprintf(stderr, "trace_separator: bad option %s %s\n", argv[i], argv[i + 1]);
            return -1;
        }
        i++;
    }
    if (!o->out || o->sep.sources < 1) {
        fprintf(stderr, "usage: trace_separator --mode MODE --d d1,d2[,...] --out DIR "
                        "[--U U.npy ...] [--V V.npy] [--U-sup U.npy ...] [--V-sup V.npy] "
                        "[--test V.npy] [--warm model.npz] [options]\n");
        return -1;
    }
    return 0;
}

/* --------------------------------------------------------------- inputs */

typedef struct inputs {
    mdnmf_matrix U[MDNMF_MAX_SOURCES], U_sup[MDNMF_MAX_SOURCES];
    mdnmf_matrix V, V_sup, test;
} inputs;

static int read_matrix(const char *path, mdnmf_matrix *matrix)
{
    mdnmf_error error;
    if (!path)
        return 0;
    if (mdnmf_npy_read(path, matrix, &error) != MDNMF_OK) {
        fprintf(stderr, "trace_separator: %s: %s\n", path, error.message);
        return -1;
    }
    return 0;
}

static int read_inputs(const options *o, inputs *in)
{
    for (int s = 0; s < o->U_count; s++)
        if (read_matrix(o->U_paths[s], &in->U[s]))
            return -1;
    for (int s = 0; s < o->U_sup_count; s++)
        if (read_matrix(o->U_sup_paths[s], &in->U_sup[s]))
            return -1;
    return read_matrix(o->V_path, &in->V) || read_matrix(o->V_sup_path, &in->V_sup) ||
                   read_matrix(o->test_path, &in->test)
               ? -1
               : 0;
}

static void free_inputs(inputs *in)
{
    for (int s = 0; s < MDNMF_MAX_SOURCES; s++) {
        mdnmf_matrix_free(&in->U[s]);
        mdnmf_matrix_free(&in->U_sup[s]);
    }
    mdnmf_matrix_free(&in->V);
    mdnmf_matrix_free(&in->V_sup);
    mdnmf_matrix_free(&in->test);
}

/* The separation data; m is the first matrix's feature count. */
static mdnmf_separation_data describe_data(const inputs *in)
{
    mdnmf_separation_data x;
    memset(&x, 0, sizeof x);
    const mdnmf_matrix *all[] = {&in->V, &in->V_sup, &in->U[0], &in->U[1], &in->U_sup[0]};
    for (size_t i = 0; i < sizeof all / sizeof *all && x.m == 0; i++)
        x.m = all[i]->m;
    for (int s = 0; s < MDNMF_MAX_SOURCES; s++) {
        x.U[s] = in->U[s].data;
        x.n[s] = in->U[s].n;
        x.U_sup[s] = in->U_sup[s].data;
    }
    x.V = in->V.data;
    x.n_V = in->V.n;
    x.V_sup = in->V_sup.data;
    x.n_sup = in->V_sup.n;
    return x;
}

/* -------------------------------------------------------------- outputs */

static int write_model(const mdnmf_model *model, const char *out)
{
    char path[4096];
    int64_t m, D;
    mdnmf_model_shape(model, &m, &D);
    int S = mdnmf_model_source_count(model);
    in_folder(path, sizeof path, out, "W.npy");
    if (write_float_npy(path, mdnmf_model_basis(model), m, D))
        return -1;
    in_folder(path, sizeof path, out, "mu_H.npy");
    if (write_float_npy(path, mdnmf_model_mu_H(model), D, 1))
        return -1;
    in_folder(path, sizeof path, out, "components.npy");
    return write_int64_npy(path, mdnmf_model_components(model), S);
}

/* Separate the test mixtures with and without Wiener filtering; the
 * transform's draw is traced like the fit's (the model's parameters carry
 * no callbacks after a fit, so they are set again here). */
static int separate_and_write(mdnmf_model *model, const mdnmf_matrix *test, tracer *t,
                              mdnmf_error *error)
{
    mdnmf_params params = *mdnmf_model_params(model);
    params.on_trace = on_trace;
    params.on_trace_user = t;
    int status = mdnmf_model_set_params(model, &params, error);
    int S = mdnmf_model_source_count(model);
    float *estimates[MDNMF_MAX_SOURCES] = {0};
    for (int s = 0; s < S && status == MDNMF_OK; s++)
        if (!(estimates[s] = malloc((size_t)(test->m * test->n) * sizeof(float)))) {
            status = error->status = MDNMF_ERR_MEMORY;
            snprintf(error->message, sizeof error->message, "out of memory for the estimates");
        }
    t->phase = "separate";
    for (int wiener = 1; wiener >= 0 && status == MDNMF_OK; wiener--) {
        status = mdnmf_separate(model, test->data, test->m, test->n, wiener, estimates, error);
        for (int s = 0; s < S && status == MDNMF_OK; s++) {
            char name[64], path[4096];
            snprintf(name, sizeof name, "est_%s_%d.npy", wiener ? "wiener" : "plain", s);
            in_folder(path, sizeof path, t->out, name);
            if (write_float_npy(path, estimates[s], test->m, test->n)) {
                status = error->status = MDNMF_ERR_IO;
                snprintf(error->message, sizeof error->message, "cannot write %.200s", path);
            }
        }
    }
    for (int s = 0; s < S; s++)
        free(estimates[s]);
    return status;
}

/* ------------------------------------------------------------------ run */

static mdnmf_model *open_model(const options *o, mdnmf_error *error)
{
    if (!o->warm_path) {
        mdnmf_params p = o->sep.common;
        p.d = 1; /* the separator fit sets the real atom counts */
        return mdnmf_model_create(&p, error);
    }
    mdnmf_model *model = mdnmf_model_load(o->warm_path, error);
    if (!model)
        fprintf(stderr, "trace_separator: %s: %s\n", o->warm_path, error->message);
    return model;
}

static int report_failure(const char *what, const mdnmf_error *error)
{
    fprintf(stderr, "trace_separator: %s failed: %s: %s\n", what, mdnmf_strerror(error->status),
            error->message);
    return 2;
}

static int run(const options *o, const inputs *in, tracer *t)
{
    mdnmf_error error;
    mdnmf_model *model = open_model(o, &error);
    if (!model)
        return report_failure("creating the model", &error);
    mdnmf_separator_params p = o->sep;
    p.common.warm_start = o->warm_path != NULL;
    p.common.on_trace = on_trace;
    p.common.on_trace_user = t;
    p.common.on_epoch = on_epoch;
    p.common.on_epoch_user = t;
    mdnmf_separation_data data = describe_data(in);
    int result = 0;
    if (mdnmf_separator_fit(model, &p, &data, &error) != MDNMF_OK)
        result = report_failure("the separator fit", &error);
    else if (t->failed || write_model(model, o->out))
        result = 1;
    else if (in->test.data && separate_and_write(model, &in->test, t, &error) != MDNMF_OK)
        result = report_failure("separation", &error);
    else if (t->failed)
        result = 1;
    mdnmf_model_destroy(model);
    return result;
}

int main(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof o);
    mdnmf_separator_params_default(&o.sep, 0);
    if (parse_arguments(argc, argv, &o) != 0)
        return 1;
    inputs in;
    memset(&in, 0, sizeof in);
    tracer t = {.out = o.out, .phase = "fit"};
    char path[4096];
    int result = 1;
    in_folder(path, sizeof path, o.out, "trace.csv");
    t.log = fopen(path, "w");
    in_folder(path, sizeof path, o.out, "progress.csv");
    t.progress = fopen(path, "w");
    if (!t.log || !t.progress)
        fprintf(stderr, "trace_separator: cannot write into %s\n", o.out);
    else if (read_inputs(&o, &in) == 0)
        result = run(&o, &in, &t);
    if (t.log && fclose(t.log) != 0)
        result = 1;
    if (t.progress && fclose(t.progress) != 0)
        result = 1;
    free_inputs(&in);
    return result;
}
