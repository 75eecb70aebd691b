/*
 * bench_modes — cost per epoch of every training mode of a separator (SPEC §6)
 * against the MDNMF mode `adv`, on one separation problem (issue 5, target 5:
 * sup, full, semi and semi_adv within 1.3x of adv's cost per epoch).
 *
 *   bench_modes [--d 64,128] [--n 1500] [--batch 500] [--batch-adv 250]
 *               [--batch-sup 500] [--epochs 20] [--repeats 6] [--seed 0]
 *               [--data DIR | --synthetic] [--checksums] [--modes LIST]
 *
 * The problem ("the same data sizes" for every mode): two sources, class A =
 * MNIST digits 0-4 and class B = digits 5-9 (DIR/digit0.npy .. digit9.npy;
 * default $MDNMF_DATA_DIR/mnist, else data/mnist), or two synthetic classes
 * when absent.  Each class is shuffled (mdnmf_shuffle_indices) and cut into
 * three disjoint blocks of n images: the clean data U_s, the images of the
 * weak mixtures V and the images of the paired mixtures; V and V^sup are made
 * by mdnmf_mix with equal weights 1/2 (SPEC §8), the paired clean halves are
 * its targets c_s x_s.  Every mode gets this same mdnmf_separation_data and
 * uses the members SPEC §6's table gives it: adv the U_s and V (Û_s = the
 * other source and V, 2n columns), sup the pairs, full all of it, semi and
 * semi_adv U_0 and V (source 1 is learned from V).  Same d for both sources,
 * batch 500 (true data and mixtures), adversarial batch 250, paired batch 500,
 * τ_A 0.1, no warm-up, no normalisation, H updated after the batches (the
 * defaults), test_epochs 10 (initialisation only: it cancels out).
 *
 * Method: one thread (OpenBLAS and OpenMP), process CPU clock.  R interleaved
 * rounds; each round fits, for every d and mode in turn, 0 epochs
 * (initialisation only) and E epochs.  Cost per epoch of a mode = (best
 * E-epoch fit - best 0-epoch fit) / E: everything a user's epoch costs,
 * including the per-source stages (semi: the NMF of source 0, then the noise
 * basis; each stage runs E epochs).  Noise: the same from the first and the
 * second half of the rounds; noise = relative difference of the two ratio
 * estimates (at least 0.01).  The products each epoch asks BLAS for are
 * counted (blas_count.c defines cblas_sgemm and cblas_ssyrk in this program
 * and passes the calls on to OpenBLAS), gemm-equivalent 2·M·N·K, so every mode's row says
 * how much work its epoch is and at what rate it runs.
 *
 * Output (stdout): tab-separated "info<TAB>key<TAB>value" and one "target"
 * record per (mode, d) for bench/report.py (ratio = adv ms/epoch / mode
 * ms/epoch, higher is better, minimum 1/1.3).  Progress on stderr.
 * Exit status: 0 measured (even if a target is missed), 1 could not measure.
 */
#include "mdnmf.h"
#include "bench_util.h"
#include "blas_count.h"

#include <cblas.h> /* openblas_set_num_threads */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_DIMS 8
#define SOURCES 2
#define MNIST_DIGITS BENCH_MNIST_DIGITS
#define SIDE BENCH_DIGIT_SIDE
#define TARGET_FACTOR 1.3

/* The modes timed; adv is the reference of the others.  std is timed for
 * information only (no target). */
typedef struct mode {
    const char *name;
    mdnmf_mode mode;
    int has_target;
    const char *work; /* what one epoch does (SPEC §6), for the info records */
} mode;

static const mode MODES[] = {
    {"adv", MDNMF_MODE_ADV, 0,
     "per source: W steps on n/B true batches (B) + as many adversarial batches (B_adv) of "
     "U_hat = [other source, V] (2n columns); then one H step on U_s (n) and U_hat (2n)"},
    {"std", MDNMF_MODE_STD, 0,
     "per source: W steps on n/B batches; then one H step on U_s (n columns)"},
    {"sup", MDNMF_MODE_SUP, 1,
     "n/B_sup paired batches, per batch a W step per source from H^sup (all atoms); then one "
     "H step on V^sup (n columns, all atoms)"},
    {"full", MDNMF_MODE_FULL, 1,
     "one H step on V^sup (n, all atoms); per source adv's epoch plus, in every batch, the "
     "paired term (gather of U^sup and H^sup, U^sup H^supT, its Gram, W G)"},
    {"semi", MDNMF_MODE_SEMI, 1,
     "stage 1: source 0's NMF epoch on U_0 (n); stage 2: n/B batches of V, W_1 step with "
     "all atoms' H, then one H step on V (n, all atoms)"},
    {"semi_adv", MDNMF_MODE_SEMI_ADV, 1,
     "stage 1: source 0's MDNMF epoch on U_0 (n) against U_hat = V (n); stage 2 as semi"},
};
#define MODE_COUNT ((int)(sizeof MODES / sizeof *MODES))

typedef struct options {
    int d[MAX_DIMS];
    int d_count;
    int64_t n, batch, batch_adv, batch_sup;
    int epochs, repeats;
    uint64_t seed;
    int synthetic, checksums;
    int selected[MODE_COUNT]; /* modes timed (adv always: the reference) */
    const char *data_dir;
} options;

/* The separation problem every mode is fitted on. */
typedef struct problem {
    int64_t m, n;
    float *clean[SOURCES];    /* m x n each */
    float *V;                 /* m x n weak mixtures */
    float *U_sup[SOURCES];    /* m x n paired clean halves */
    float *V_sup;             /* m x n paired mixtures */
    char source[1400];
} problem;

/* The best times of one (mode, d): [half of the rounds][0 epochs, E epochs]. */
typedef struct timing {
    double best[2][2];
    double flops_per_epoch; /* gemm-equivalent products of one epoch */
    uint64_t checksum;      /* of the fitted bases (--checksums) */
} timing;

/* ------------------------------------------------------------ utilities */

/* FNV-1a over bytes: "the same bases" as one number. */
static uint64_t fnv1a(const void *data, size_t size)
{
    const unsigned char *bytes = data;
    uint64_t hash = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < size; i++)
        hash = (hash ^ bytes[i]) * 0x100000001b3ull;
    return hash;
}

/* ------------------------------------------------------------ options */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bench_modes [options]\n"
            "  --d LIST          atoms per source, comma-separated (default 64,128)\n"
            "  --n N             images per block: clean data, weak mixtures and pairs\n"
            "                    each have N columns (default 1500)\n"
            "  --batch B         true / mixture columns per batch (default 500)\n"
            "  --batch-adv B     adversarial columns per batch (default 250)\n"
            "  --batch-sup B     paired columns per batch (default 500)\n"
            "  --epochs E        epochs of the timed fits (default 20)\n"
            "  --repeats R       interleaved timing rounds, best kept, >= 2 (default 6)\n"
            "  --seed S          seed of the data and the fits (default 0)\n"
            "  --data DIR        folder with digit0.npy .. digit9.npy\n"
            "                    (default $MDNMF_DATA_DIR/mnist, else data/mnist)\n"
            "  --synthetic       synthetic images even if MNIST is present\n"
            "  --checksums       also print a checksum of every mode's fitted bases\n"
            "  --modes LIST      time only these modes and adv, e.g. full,sup (for\n"
            "                    profiling; default all)\n");
}

static int parse_int64(const char *text, int64_t minimum, int64_t *out)
{
    return bench_parse_int64(text, minimum, 100000000, out);
}

static int parse_dims(const char *text, options *o)
{
    char buffer[256];
    if (strlen(text) >= sizeof buffer)
        return 0;
    strcpy(buffer, text);
    o->d_count = 0;
    for (char *item = strtok(buffer, ","); item; item = strtok(NULL, ",")) {
        int64_t d;
        if (o->d_count == MAX_DIMS || !parse_int64(item, 1, &d))
            return 0;
        o->d[o->d_count++] = (int)d;
    }
    return o->d_count > 0;
}

static int mode_index(const char *name)
{
    for (int i = 0; i < MODE_COUNT; i++)
        if (!strcmp(MODES[i].name, name))
            return i;
    return -1;
}

static int parse_modes(const char *text, options *o)
{
    char buffer[256];
    if (strlen(text) >= sizeof buffer)
        return 0;
    strcpy(buffer, text);
    memset(o->selected, 0, sizeof o->selected);
    o->selected[mode_index("adv")] = 1;
    for (char *item = strtok(buffer, ","); item; item = strtok(NULL, ",")) {
        int i = mode_index(item);
        if (i < 0)
            return 0;
        o->selected[i] = 1;
    }
    return 1;
}

/* Returns 0 on success, 1 on a usage error, -1 for --help. */
static int parse_options(int argc, char **argv, options *o)
{
    *o = (options){.d = {64, 128}, .d_count = 2, .n = 1500, .batch = 500, .batch_adv = 250,
                   .batch_sup = 500, .epochs = 20, .repeats = 6};
    for (int i = 0; i < MODE_COUNT; i++)
        o->selected[i] = 1;
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t number = 0;
        int ok = 1, takes_value = 1;
        if (!strcmp(flag, "--help") || !strcmp(flag, "-h"))
            return -1;
        else if (!strcmp(flag, "--synthetic"))
            o->synthetic = 1, takes_value = 0;
        else if (!strcmp(flag, "--checksums"))
            o->checksums = 1, takes_value = 0;
        else if (!value)
            ok = 0;
        else if (!strcmp(flag, "--d"))
            ok = parse_dims(value, o);
        else if (!strcmp(flag, "--modes"))
            ok = parse_modes(value, o);
        else if (!strcmp(flag, "--data"))
            o->data_dir = value;
        else if ((ok = parse_int64(value, 0, &number)) == 0)
            ;
        else if (!strcmp(flag, "--n"))
            o->n = number, ok = number >= 1;
        else if (!strcmp(flag, "--batch"))
            o->batch = number;
        else if (!strcmp(flag, "--batch-adv"))
            o->batch_adv = number;
        else if (!strcmp(flag, "--batch-sup"))
            o->batch_sup = number;
        else if (!strcmp(flag, "--epochs"))
            o->epochs = (int)number, ok = number >= 1;
        else if (!strcmp(flag, "--repeats"))
            o->repeats = (int)number, ok = number >= 2;
        else if (!strcmp(flag, "--seed"))
            o->seed = (uint64_t)number;
        else
            ok = 0;
        if (!ok) {
            fprintf(stderr, "bench_modes: bad option or value: %s (see --help)\n", flag);
            return 1;
        }
        i += takes_value;
    }
    return 0;
}

/* ------------------------------------------------------------ data */

/* The images of one class, in a seeded random order (m x count). */
typedef struct pool {
    int64_t m, count;
    float *images;
} pool;

static int load_class(const char *folder, int first_digit, int digits, pool *out)
{
    mdnmf_matrix parts[MNIST_DIGITS] = {{0}};
    int ok = bench_read_digits(folder, first_digit, digits, parts);
    int64_t total = 0;
    for (int k = 0; k < digits && ok; k++)
        total += parts[k].n;
    if (ok) {
        out->m = parts[0].m, out->count = total;
        out->images = malloc((size_t)(out->m * total) * sizeof *out->images);
        ok = out->images != NULL;
        for (int64_t k = 0, filled = 0; k < digits && ok; k++) {
            memcpy(out->images + filled * out->m, parts[k].data,
                   (size_t)(parts[k].m * parts[k].n) * sizeof(float));
            filled += parts[k].n;
        }
    }
    for (int k = 0; k < digits; k++)
        mdnmf_matrix_free(&parts[k]);
    return ok;
}

/* Synthetic images of one class (bench_synthesize_digits), from the class's
 * own 10 stroke prototypes. */
#define PROTOTYPES 10

static int make_synthetic_class(int class_id, int64_t count, pool *out)
{
    out->m = SIDE * SIDE, out->count = count;
    out->images = malloc((size_t)(out->m * count) * sizeof *out->images);
    if (!out->images)
        return 0;
    bench_synthesize_digits(out->images, count, PROTOTYPES,
                            0x6D6F646573ull + (uint64_t)class_id);
    return 1;
}

/* Reorder a pool's images by a seeded permutation (mdnmf_shuffle_indices). */
static int shuffle_pool(pool *p, uint64_t seed)
{
    int64_t *order = malloc((size_t)p->count * sizeof *order);
    float *shuffled = malloc((size_t)(p->m * p->count) * sizeof *shuffled);
    int ok = order && shuffled && mdnmf_shuffle_indices(order, p->count, seed, NULL) == MDNMF_OK;
    for (int64_t j = 0; ok && j < p->count; j++)
        memcpy(shuffled + j * p->m, p->images + order[j] * p->m, (size_t)p->m * sizeof(float));
    if (ok) {
        free(p->images);
        p->images = shuffled;
    } else {
        free(shuffled);
    }
    free(order);
    return ok;
}

static int mix_pair(problem *x, const float *const *sources, float *mixtures,
                    float *const *targets, uint64_t seed)
{
    mdnmf_error error;
    if (mdnmf_mix(sources, SOURCES, x->m, x->n, 0.0, seed, mixtures, targets, NULL,
        &error) == MDNMF_OK)
        return 1;
    fprintf(stderr, "bench_modes: mdnmf_mix: %s\n", error.message);
    return 0;
}

/* Cut each class into clean data, weak-mixture images and paired images. */
static int build_problem(const options *o, pool classes[SOURCES], problem *x)
{
    int64_t m = classes[0].m, n = o->n, column_bytes = m * (int64_t)sizeof(float);
    x->m = m, x->n = n;
    const float *weak[SOURCES], *paired[SOURCES];
    for (int s = 0; s < SOURCES; s++) {
        x->clean[s] = malloc((size_t)(n * column_bytes));
        x->U_sup[s] = malloc((size_t)(n * column_bytes));
        if (!x->clean[s] || !x->U_sup[s])
            return 0;
        memcpy(x->clean[s], classes[s].images, (size_t)(n * column_bytes));
        weak[s] = classes[s].images + n * m;
        paired[s] = classes[s].images + 2 * n * m;
    }
    x->V = malloc((size_t)(n * column_bytes));
    x->V_sup = malloc((size_t)(n * column_bytes));
    return x->V && x->V_sup && mix_pair(x, weak, x->V, NULL, o->seed + 1) &&
           mix_pair(x, paired, x->V_sup, x->U_sup, o->seed + 2);
}

static void free_problem(problem *x)
{
    for (int s = 0; s < SOURCES; s++)
        free(x->clean[s]), free(x->U_sup[s]);
    free(x->V), free(x->V_sup);
}

static int prepare_problem(const options *o, problem *x)
{
    char folder[1024];
    bench_mnist_folder(o->data_dir, folder, sizeof folder);
    pool classes[SOURCES] = {{0}};
    int64_t needed = 3 * o->n;
    int mnist = !o->synthetic && load_class(folder, 0, 5, &classes[0]) &&
                load_class(folder, 5, 5, &classes[1]) && classes[0].count >= needed &&
                classes[1].count >= needed;
    if (!mnist) {
        if (!o->synthetic)
            fprintf(stderr, "bench_modes: no MNIST with %lld images per class in %s: "
                            "synthetic images\n", (long long)needed, folder);
        for (int s = 0; s < SOURCES; s++) {
            free(classes[s].images);
            classes[s].images = NULL;
            if (!make_synthetic_class(s, needed, &classes[s]))
                return 0;
        }
    }
    int ok = 1;
    for (int s = 0; s < SOURCES && ok; s++)
        ok = shuffle_pool(&classes[s], o->seed + 10 + (uint64_t)s);
    ok = ok && build_problem(o, classes, x);
    if (ok)
        snprintf(x->source, sizeof x->source,
                 mnist ? "MNIST from %s: source 0 = digits 0-4, source 1 = digits 5-9"
                       : "synthetic 28x28 images, two classes of stroke prototypes%s",
                 mnist ? folder : "");
    for (int s = 0; s < SOURCES; s++)
        free(classes[s].images);
    return ok;
}

/* ------------------------------------------------------------ fits */

static mdnmf_separation_data separation_data(const problem *x)
{
    mdnmf_separation_data data = {.m = x->m, .V = x->V, .n_V = x->n, .V_sup = x->V_sup,
                                  .n_sup = x->n};
    for (int s = 0; s < SOURCES; s++) {
        data.U[s] = x->clean[s];
        data.n[s] = x->n;
        data.U_sup[s] = x->U_sup[s];
    }
    return data;
}

static mdnmf_separator_params separator_params(const options *o, mdnmf_mode mode, int d,
                                               int epochs)
{
    mdnmf_separator_params p;
    mdnmf_separator_params_default(&p, SOURCES);
    p.mode = mode;
    for (int s = 0; s < SOURCES; s++)
        p.d[s] = d;
    p.common.epochs = epochs;
    p.common.test_epochs = 10;
    p.common.batch_size = o->batch;
    p.common.batch_size_adv = o->batch_adv;
    p.common.seed = o->seed;
    p.common.threads = 1;
    p.batch_size_sup = o->batch_sup;
    return p;
}

/* One separator fit; returns its CPU seconds, or -1 on failure. */
static double timed_fit(const options *o, const problem *x, int mode_index, int d, int epochs,
                        uint64_t *checksum)
{
    mdnmf_error error;
    mdnmf_params common;
    mdnmf_params_default(&common);
    common.d = 1;
    mdnmf_model *model = mdnmf_model_create(&common, &error);
    if (!model) {
        fprintf(stderr, "bench_modes: cannot create a model: %s\n", error.message);
        return -1.0;
    }
    mdnmf_separator_params p = separator_params(o, MODES[mode_index].mode, d, epochs);
    mdnmf_separation_data data = separation_data(x);
    double start = bench_clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
    int status = mdnmf_separator_fit(model, &p, &data, &error);
    double seconds = bench_clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - start;
    if (status != MDNMF_OK) {
        fprintf(stderr, "bench_modes: %s d=%d, %d epochs failed: %s: %s\n",
                MODES[mode_index].name, d, epochs, mdnmf_strerror(status),
                error.message);
        seconds = -1.0;
    } else if (checksum) {
        int64_t m, atoms;
        mdnmf_model_shape(model, &m, &atoms);
        *checksum = fnv1a(mdnmf_model_basis(model), (size_t)(m * atoms) * sizeof(float));
    }
    mdnmf_model_destroy(model);
    return seconds;
}

static void keep_best(double *best, double seconds)
{
    if (*best <= 0.0 || seconds < *best)
        *best = seconds;
}

/* One round: every d and mode, 0 epochs then E epochs.  In the first round
 * the products of an epoch are counted too. */
static int timing_round(const options *o, const problem *x, int round, timing (*t)[MODE_COUNT])
{
    int half = round >= o->repeats / 2;
    for (int k = 0; k < o->d_count; k++)
        for (int i = 0; i < MODE_COUNT; i++) {
            if (!o->selected[i])
                continue;
            timing *c = &t[k][i];
            int64_t flops_before = blas_counted_flops();
            double setup = timed_fit(o, x, i, o->d[k], 0, NULL);
            int64_t flops_setup = blas_counted_flops() - flops_before;
            flops_before = blas_counted_flops();
            double whole = timed_fit(o, x, i, o->d[k], o->epochs,
                                     round == 0 && o->checksums ? &c->checksum : NULL);
            if (setup < 0.0 || whole < 0.0)
                return 0;
            if (round == 0)
                c->flops_per_epoch =
                    (double)(blas_counted_flops() - flops_before - flops_setup) / o->epochs;
            keep_best(&c->best[half][0], setup);
            keep_best(&c->best[half][1], whole);
        }
    return 1;
}

/* ------------------------------------------------------------ results */

/* Seconds per epoch from the bests of the rounds in `halves` (1: first,
 * 2: second, 3: all). */
static double per_epoch(const options *o, const timing *c, int halves)
{
    double setup = 0.0, whole = 0.0;
    for (int h = 0; h < 2; h++) {
        if (!(halves & (1 << h)))
            continue;
        if (setup <= 0.0 || c->best[h][0] < setup)
            setup = c->best[h][0];
        if (whole <= 0.0 || c->best[h][1] < whole)
            whole = c->best[h][1];
    }
    return (whole - setup) / o->epochs;
}

static void print_info(const options *o, const problem *x)
{
    printf("info\tmodes_data\t%s\n", x->source);
    printf("info\tmodes_sizes\tm=%lld; per source n=%lld clean columns; weak mixtures V: n "
           "columns; pairs (U_sup, V_sup): n columns; batch=%lld batch_adv=%lld "
           "batch_sup=%lld; d per source as in each row (D = 2d atoms)\n",
           (long long)x->m, (long long)x->n, (long long)o->batch, (long long)o->batch_adv,
           (long long)o->batch_sup);
    printf("info\tmodes_method\tcost per epoch = (best %d-epoch fit - best 0-epoch fit) / %d, "
           "process CPU clock, %d interleaved rounds; noise = relative difference of the "
           "ratios of the two halves of the rounds; flops = gemm-equivalent BLAS products "
           "counted per epoch; tau_A=0.1, no warm-up, H step after the batches\n",
           o->epochs, o->epochs, o->repeats);
    printf("info\tmodes_threads\tOpenBLAS %d, library 1\n", openblas_get_num_threads());
    for (int i = 0; i < MODE_COUNT; i++) {
        if (o->selected[i])
            printf("info\tmodes_epoch_%s\t%s\n", MODES[i].name, MODES[i].work);
    }
}

/* When the products SPEC prescribes for a mode's epoch outnumber adv's by
 * more than the target allows, no implementation running both at the same
 * GFLOP/s meets it: an information row says so, beside the target row. */
static void print_flop_bound(const mode *m, int d, const timing *c, const timing *reference)
{
    double bound = reference->flops_per_epoch / c->flops_per_epoch;
    if (bound >= 1.0 / TARGET_FACTOR)
        return;
    printf("target\tid=modes-%s-d%d-bound\tcase=%s d=%d: bound: adv's products / %s's "
           "products per epoch (the cost ratio at equal GFLOP/s)\tmeasured=%.4g\t"
           "unit=GFLOP/epoch\treference=%.4g\treference_label=adv's GFLOP/epoch\t"
           "ratio=%.3f\tminimum=-\tnoise=0.01\tthreads=1\torigin=issue 5 target 5\n",
           m->name, d, m->name, d, m->name, c->flops_per_epoch * 1e-9,
           reference->flops_per_epoch * 1e-9, bound);
}

static void print_results(const options *o, timing (*t)[MODE_COUNT])
{
    int adv = mode_index("adv");
    for (int k = 0; k < o->d_count; k++) {
        const timing *reference = &t[k][adv];
        double ref_all = per_epoch(o, reference, 3);
        for (int i = 0; i < MODE_COUNT; i++) {
            if (!o->selected[i])
                continue;
            const timing *c = &t[k][i];
            double all = per_epoch(o, c, 3);
            double gflops = c->flops_per_epoch / all * 1e-9;
            /* Products a mode's epoch needs against adv's: the cost ratio it
             * would have at adv's rate of GFLOP/s. */
            printf("info\tmodes_%s_d%d\t%.3f ms/epoch, %.4g GFLOP/epoch of products "
                   "(%.2fx adv's), %.1f GFLOP/s\n",
                   MODES[i].name, o->d[k], 1e3 * all, c->flops_per_epoch * 1e-9,
                   c->flops_per_epoch / reference->flops_per_epoch, gflops);
            if (o->checksums)
                printf("info\tmodes_basis_fnv_%s_d%d\t%016llx\n", MODES[i].name, o->d[k],
                       (unsigned long long)c->checksum);
            fprintf(stderr, "bench_modes: %-8s d=%-4d %9.3f ms/epoch %8.4f GFLOP %6.1f GFLOP/s\n",
                    MODES[i].name, o->d[k], 1e3 * all, c->flops_per_epoch * 1e-9, gflops);
            if (!MODES[i].has_target)
                continue;
            double ratio = ref_all / all;
            double first = per_epoch(o, reference, 1) / per_epoch(o, c, 1);
            double second = per_epoch(o, reference, 2) / per_epoch(o, c, 2);
            double noise = fabs(first - second) / ratio;
            printf("target\tid=modes-%s-d%d\tcase=%s cost per epoch, d=%d per source, "
                   "MNIST-sized separation problem\tmeasured=%.3f\tunit=ms/epoch\t"
                   "reference=%.3f\treference_label=adv (MDNMF) on the same data\t"
                   "ratio=%.3f\tminimum=%.3f\tnoise=%.3f\tthreads=1\torigin=issue 5 target 5\n",
                   MODES[i].name, o->d[k], MODES[i].name, o->d[k], 1e3 * all, 1e3 * ref_all,
                   ratio, 1.0 / TARGET_FACTOR, noise < 0.01 ? 0.01 : noise);
            print_flop_bound(&MODES[i], o->d[k], c, reference);
        }
    }
}

int main(int argc, char **argv)
{
    options o;
    int parsed = parse_options(argc, argv, &o);
    if (parsed) {
        usage(parsed < 0 ? stdout : stderr);
        return parsed < 0 ? 0 : 1;
    }
    openblas_set_num_threads(1);
    problem x = {0};
    if (!prepare_problem(&o, &x)) {
        fprintf(stderr, "bench_modes: cannot prepare the data (out of memory?)\n");
        free_problem(&x);
        return 1;
    }
    timing (*t)[MODE_COUNT] = calloc((size_t)o.d_count, sizeof *t);
    int ok = t != NULL;
    for (int round = 0; round < o.repeats && ok; round++) {
        fprintf(stderr, "bench_modes: timing round %d of %d\n", round + 1, o.repeats);
        ok = timing_round(&o, &x, round, t);
    }
    if (ok) {
        print_info(&o, &x);
        print_results(&o, t);
    }
    free(t);
    free_problem(&x);
    if (!ok)
        fprintf(stderr, "bench_modes: could not measure (a fit failed or out of memory)\n");
    return ok ? 0 : 1;
}
