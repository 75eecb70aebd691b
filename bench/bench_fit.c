/*
 * bench_fit — seconds per epoch and achieved GFLOP/s of mdnmf_fit_std and
 * mdnmf_fit_adv on MNIST-sized data, against cblas_sgemm running exactly the
 * matrix products one epoch does (same shapes, same transposes, same order).
 *
 *   bench_fit [--d 32,64,128,256] [--n 5000] [--batch 500] [--n-adv N] [--batch-adv 250]
 *             [--epochs 20] [--repeats 5] [--threads 1[,2...]] [--seed 0] [--no-adv]
 *             [--divergence fro[,kl,is]] [--floor X] [--data DIR | --synthetic]
 *             [--save-data DIR]
 *             [--trace DIR]
 *             [--format text|tsv] [--clock wall|cpu]
 *
 * Data: the MNIST digits of scripts/fetch-data.sh (DIR/digit0.npy ..
 * digit9.npy; default $MDNMF_DATA_DIR/mnist, else data/mnist) when present:
 * U = the first n/10 images of every digit, Û = the remaining images.
 * Otherwise deterministic synthetic digits (non-negative, sparse, in [0, 1]).
 * --save-data writes the U.npy and U_adv.npy used, so bench/numpy_reference.py
 * times the NumPy reference on the very same matrices, and --trace writes
 * what each checked fit drew at random (DIR/fit_std_d64/exemplars.npy, ...,
 * the files of tests/tools/trace_fit that mdnmf_ref.Draws.load reads), so the
 * NumPy reference replays the very same fit and the final losses compare.
 *
 * --threads 1,2 times every case at each thread count (library and BLAS),
 * interleaved in the same rounds: the speed-up from threads, measured on
 * the wall clock under the same conditions for both counts.  --divergence
 * fro,kl,is likewise times every case with each divergence (SPEC §11) in
 * the same rounds; the KL and IS cases are named fit_std_kl, fit_adv_is, ...
 * Itakura–Saito is not defined on zero data (D_IS(0 | y) is infinite), and
 * MNIST is mostly zeros: --floor X adds X to every entry of U and Û (for
 * every case, so that all divergences time the same data).
 *
 * Method (verify, then time — FFTW's libbench2 habit):
 *   1. one fit of E epochs with an epoch callback: must return MDNMF_OK with
 *      finite, decreasing loss (also the warm-up);
 *   2. R rounds; each round times, for every case in turn, a fit of 0 epochs
 *      (initialisation only), a fit of E epochs, both without callback (the
 *      callback costs an extra product W H per epoch) and with test_epochs = 1
 *      (a short initialisation, which the difference cancels, keeps the
 *      difference's noise small), and E epochs of the
 *      sgemm reference: the BLAS calls of one epoch in the library's order
 *      (epoch_products), each one cblas_sgemm call of the same shape on
 *      random non-negative matrices.
 *      Interleaving spreads a burst of load on a shared machine over all
 *      cases instead of ruining one;
 *   3. seconds per epoch = (best E-epoch fit - best 0-epoch fit) / E, and
 *      best E sgemm epochs / E.  The same from the second-best times is a
 *      second estimate; the relative difference of the two is the noise
 *      reported with each figure (needs R >= 2).
 * Flops are gemm-equivalent: 2·M·N·K for every product of the update rules,
 * the Gram products the library computes with ssyrk included as full
 * products (the sgemm reference computes them with sgemm).  Element-wise
 * passes, gathers and checks are not counted: they are the overhead the
 * ratio to sgemm exposes.  The flop model (epoch_products) is checked
 * against the products the library really asks for: blas_count.c defines
 * cblas_sgemm and cblas_ssyrk in this executable, counts every call of the
 * statically linked library and passes it on to OpenBLAS.
 *
 * Output: a readable table (--format text) or tab-separated records for
 * bench/report.py (--format tsv): "info<TAB>key<TAB>value" and
 * "result<TAB>key=value<TAB>...".  Progress goes to stderr.
 * Exit status: 0 success, 1 usage or data error, 2 a fit failed its check.
 * A flop model that disagrees with the library's BLAS calls is reported
 * (flops_checked=0 and a message), not fatal: the times stay valid.
 */
#define _GNU_SOURCE /* sysconf, mkdir */

#include "mdnmf.h"
#include "bench_util.h"
#include "blas_count.h"
#include "common/draws.h" /* tests/tools: trace_fit's files of the draws */
#include "linalg.h"       /* LINALG_CHUNK, BETA_CHUNK: the library's column chunks */

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h> /* sysconf */

#define MAX_DIMS 16
#define MNIST_DIGITS BENCH_MNIST_DIGITS
#define SYNTHETIC_PROTOTYPES 20
#define SYNTHETIC_SEED 0x6D646E6D66ull
#define MAX_THREAD_COUNTS 4
#define MAX_DIVERGENCES 3
#define MAX_CASES (2 * MAX_DIMS * MAX_THREAD_COUNTS * MAX_DIVERGENCES)

typedef enum { FORMAT_TEXT, FORMAT_TSV } output_format;

typedef struct options {
    int d[MAX_DIMS];
    int d_count;
    int64_t n, batch, n_adv, batch_adv;
    int epochs, repeats;
    int threads[MAX_THREAD_COUNTS]; /* each case is timed at every count */
    int thread_count;
    int divergences[MAX_DIVERGENCES]; /* mdnmf_divergence; each case with every one */
    int divergence_count;
    uint64_t seed;
    double floor;   /* added to every data entry */
    int adversarial;
    int synthetic;
    int cpu_clock;
    int busy; /* a competing process runs while the rounds are timed */
    const char *data_dir;
    const char *save_dir;
    const char *trace_dir;
    output_format format;
} options;

/* The data of the benchmark: U (m x n) and Û (m x n_adv), and where it came from. */
typedef struct dataset {
    int64_t m, n, n_adv;
    float *U, *U_adv;
    char source[1400];
} dataset;

/* One BLAS call of an epoch, as src/nmf.c makes it:
 * C (M x N) = op(A) op(B), op = transpose when the flag is set. */
typedef struct product {
    const char *what;
    int trans_a, trans_b;
    int64_t M, N, K;
    int64_t b_offset; /* first element of B in its data-sized pool (H-step chunks) */
    int gram;         /* the library uses ssyrk for it */
} product;

/* The calls of one epoch, in the library's order (growing array). */
typedef struct product_list {
    product *items;
    int64_t count, capacity;
    int failed; /* out of memory while growing */
} product_list;

/* What one benchmark case measured. */
typedef struct measurement {
    const char *name; /* fit_std | fit_adv */
    int d, threads;
    double seconds_per_epoch, setup_seconds;
    double fit_noise, sgemm_noise; /* relative difference of the two best estimates */
    double cpu_share;              /* CPU time / (wall time x threads) of its timings */
    double flop_per_epoch, gram_flop_per_epoch;
    double counted_flop_per_epoch; /* what the library asked BLAS for */
    int flops_checked;             /* ... and it equals the flop model's count */
    double sgemm_seconds_per_epoch;
    double loss_start, loss_end;
} measurement;

/* ------------------------------------------------------------ utilities */

/* Wall and CPU time of everything timed: a CPU share well below 1 means the
 * machine was busy with something else and wall times are pessimistic. */
static double timed_wall, timed_cpu;
/* Measure with the process CPU clock instead of the wall clock (--clock cpu):
 * on a shared machine it leaves out the time other processes held the core.
 * Only meaningful with one thread. */
static int use_cpu_clock;

typedef struct stopwatch {
    double wall, cpu;
} stopwatch;

static stopwatch stopwatch_start(void)
{
    return (stopwatch){bench_clock_seconds(CLOCK_MONOTONIC),
            bench_clock_seconds(CLOCK_PROCESS_CPUTIME_ID)};
}

/* Seconds since `start` (wall, or CPU with --clock cpu), added to the totals. */
static double stopwatch_stop(stopwatch start)
{
    double wall = bench_clock_seconds(CLOCK_MONOTONIC) - start.wall;
    double cpu = bench_clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - start.cpu;
    timed_wall += wall;
    timed_cpu += cpu;
    return use_cpu_clock ? cpu : wall;
}

/* Seconds of CPU time all processes of the machine spent busy (user, nice,
 * system, interrupts) and taken by the hypervisor (steal) since boot, from
 * /proc/stat; 0 if unreadable (not Linux). */
static int machine_cpu_seconds(double *busy, double *steal)
{
    unsigned long long user, nice, system, idle, iowait, irq, softirq, stolen;
    FILE *file = fopen("/proc/stat", "r");
    int ok = file && fscanf(file, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice,
                            &system, &idle, &iowait, &irq, &softirq, &stolen) == 8;
    if (file)
        fclose(file);
    double tick = (double)sysconf(_SC_CLK_TCK);
    if (!ok || !(tick > 0))
        return 0;
    *busy = (double)(user + nice + system + irq + softirq) / tick;
    *steal = (double)stolen / tick;
    return 1;
}

/* What other processes (and the hypervisor) took from the machine while the
 * rounds ran, in cores: on a 2-core machine, 1.0 means one core was theirs
 * and a 2-thread figure means nothing. */
typedef struct competition {
    double wall, own_cpu, busy, steal;
    int valid;
} competition;

static competition competition_start(void)
{
    competition c = {bench_clock_seconds(CLOCK_MONOTONIC),
                                         bench_clock_seconds(CLOCK_PROCESS_CPUTIME_ID),
                     0, 0, 0};
    c.valid = machine_cpu_seconds(&c.busy, &c.steal);
    return c;
}

/* Average cores used by other processes and stolen by the hypervisor since `start`. */
static void competition_stop(competition start, double *other_cores, double *steal_cores)
{
    double busy, steal;
    double wall = bench_clock_seconds(CLOCK_MONOTONIC) - start.wall;
    double own = bench_clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - start.own_cpu;
    *other_cores = *steal_cores = NAN;
    if (!start.valid || !machine_cpu_seconds(&busy, &steal) || !(wall > 0))
        return;
    double others = (busy - start.busy) - own;
    *other_cores = (others > 0 ? others : 0.0) / wall;
    *steal_cores = (steal - start.steal) / wall;
}

static int all_finite_floats(const float *x, int64_t count)
{
    for (int64_t i = 0; i < count; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

/* ------------------------------------------------------------ options */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bench_fit [options]\n"
            "  --d LIST          atom counts, comma-separated (default 32,64,128,256)\n"
            "  --n N             true columns (default 5000)\n"
            "  --batch B         true columns per batch (default 500)\n"
            "  --n-adv N         adversarial columns (default = n)\n"
            "  --batch-adv B     adversarial columns per batch (default 250)\n"
            "  --no-adv          skip the MDNMF (fit_adv) cases\n"
            "  --divergence LIST fro, kl, is, comma-separated (default fro): every case\n"
            "                    is timed with each in the same rounds\n"
            "  --floor X         add X to every data entry (default 0; IS needs data > 0)\n"
            "  --epochs E        epochs per timed fit (default 20)\n"
            "  --repeats R       timed repetitions, best kept (default 5)\n"
            "  --threads LIST    BLAS / library threads, comma-separated, 0 = the\n"
            "                    library's default (default 1);\n"
            "                    every case is timed at each count in the same rounds\n"
            "  --seed S          fit seed (default 0)\n"
            "  --data DIR        folder with digit0.npy .. digit9.npy\n"
            "                    (default $MDNMF_DATA_DIR/mnist, else data/mnist)\n"
            "  --synthetic       use synthetic digits even if MNIST is present\n"
            "  --save-data DIR   write the U.npy and U_adv.npy used into DIR\n"
            "  --trace DIR       write the random draws of each checked fit into\n"
            "                    DIR/<case>_d<d>/ (trace_fit's files, for mdnmf_ref)\n"
            "  --format F        text (default) or tsv (for bench/report.py)\n"
            "  --clock C         wall (default) or cpu: time with the process CPU clock,\n"
            "                    which leaves out time other processes held the core\n"
            "                    (one thread only)\n"
            "  --busy            time the rounds while another process spins on a core:\n"
            "                    started by bench_fit in a session of its own at nice 19\n"
            "                    (a user's background job), killed after the rounds\n");
}

static int parse_int64(const char *text, int64_t minimum, int64_t *out)
{
    return bench_parse_int64(text, minimum, INT64_MAX, out);
}

static int parse_int(const char *text, int minimum, int *out)
{
    int64_t value;
    if (!parse_int64(text, minimum, &value) || value > 1000000000)
        return 0;
    *out = (int)value;
    return 1;
}

/* A comma-separated list of positive integers, at most `capacity` of them. */
static int parse_int_list(const char *text, int minimum, int *values, int capacity, int *count)
{
    char buffer[256];
    if (strlen(text) >= sizeof buffer)
        return 0;
    strcpy(buffer, text);
    *count = 0;
    for (char *item = strtok(buffer, ","); item; item = strtok(NULL, ",")) {
        if (*count == capacity || !parse_int(item, minimum, &values[*count]))
            return 0;
        (*count)++;
    }
    return *count > 0;
}

static void default_options(options *o)
{
    memset(o, 0, sizeof *o);
    o->d[0] = 32, o->d[1] = 64, o->d[2] = 128, o->d[3] = 256;
    o->d_count = 4;
    o->n = 5000;
    o->batch = 500;
    o->n_adv = 0; /* = n */
    o->batch_adv = 250;
    o->epochs = 20;
    o->repeats = 5;
    o->threads[0] = 1;
    o->thread_count = 1;
    o->divergences[0] = MDNMF_DIVERGENCE_FROBENIUS;
    o->divergence_count = 1;
    o->adversarial = 1;
    o->format = FORMAT_TEXT;
}

/* The command line, as a table: flag, kind of value, where it goes. */
typedef enum { OPT_SWITCH_OFF, OPT_SWITCH_ON, OPT_INT64_0, OPT_INT64_1, OPT_INT_1, OPT_SEED,
               OPT_DIMS, OPT_THREADS, OPT_PATH, OPT_FORMAT, OPT_CLOCK,
               OPT_DIVERGENCES, OPT_FLOOR } option_kind;

typedef struct option_spec {
    const char *flag;
    option_kind kind;
    size_t offset; /* of the field in `options` */
} option_spec;

static const option_spec OPTION_TABLE[] = {
    {"--d", OPT_DIMS, 0},
    {"--n", OPT_INT64_1, offsetof(options, n)},
    {"--batch", OPT_INT64_0, offsetof(options, batch)},
    {"--n-adv", OPT_INT64_1, offsetof(options, n_adv)},
    {"--batch-adv", OPT_INT64_0, offsetof(options, batch_adv)},
    {"--no-adv", OPT_SWITCH_OFF, offsetof(options, adversarial)},
    {"--divergence", OPT_DIVERGENCES, 0},
    {"--floor", OPT_FLOOR, offsetof(options, floor)},
    {"--epochs", OPT_INT_1, offsetof(options, epochs)},
    {"--repeats", OPT_INT_1, offsetof(options, repeats)},
    {"--threads", OPT_THREADS, 0},
    {"--seed", OPT_SEED, offsetof(options, seed)},
    {"--data", OPT_PATH, offsetof(options, data_dir)},
    {"--synthetic", OPT_SWITCH_ON, offsetof(options, synthetic)},
    {"--save-data", OPT_PATH, offsetof(options, save_dir)},
    {"--trace", OPT_PATH, offsetof(options, trace_dir)},
    {"--format", OPT_FORMAT, offsetof(options, format)},
    {"--clock", OPT_CLOCK, offsetof(options, cpu_clock)},
    {"--busy", OPT_SWITCH_ON, offsetof(options, busy)},
};

/* A comma-separated list of the library's divergence names. */
static int parse_divergences(const char *text, options *o)
{
    char buffer[64];
    if (strlen(text) >= sizeof buffer)
        return 0;
    strcpy(buffer, text);
    o->divergence_count = 0;
    for (char *item = strtok(buffer, ","); item; item = strtok(NULL, ",")) {
        if (o->divergence_count == MAX_DIVERGENCES ||
            mdnmf_enum_value(MDNMF_ENUM_DIVERGENCE, item, &o->divergences[o->divergence_count],
                             NULL) != MDNMF_OK)
            return 0;
        o->divergence_count++;
    }
    return o->divergence_count > 0;
}

/* Store `value` for `spec`; 0 if it is not a valid value. */
static int apply_option(const option_spec *spec, const char *value, options *o)
{
    char *field = (char *)o + spec->offset;
    int64_t number;
    switch (spec->kind) {
    case OPT_SWITCH_OFF: *(int *)field = 0; return 1;
    case OPT_SWITCH_ON: *(int *)field = 1; return 1;
    case OPT_INT64_0: return parse_int64(value, 0, (int64_t *)field);
    case OPT_INT64_1: return parse_int64(value, 1, (int64_t *)field);
    case OPT_INT_1: return parse_int(value, 1, (int *)field);
    case OPT_SEED:
        if (!parse_int64(value, 0, &number))
            return 0;
        *(uint64_t *)field = (uint64_t)number;
        return 1;
    case OPT_DIMS: return parse_int_list(value, 1, o->d, MAX_DIMS, &o->d_count);
    case OPT_THREADS:
        return parse_int_list(value, 0, o->threads, MAX_THREAD_COUNTS, &o->thread_count);
    case OPT_PATH: *(const char **)field = value; return 1;
    case OPT_FORMAT:
        *(output_format *)field = !strcmp(value, "tsv") ? FORMAT_TSV : FORMAT_TEXT;
        return !strcmp(value, "text") || !strcmp(value, "tsv");
    case OPT_CLOCK:
        *(int *)field = !strcmp(value, "cpu");
        return !strcmp(value, "wall") || !strcmp(value, "cpu");
    case OPT_DIVERGENCES: return parse_divergences(value, o);
    case OPT_FLOOR: {
        char *end;
        *(double *)field = strtod(value, &end);
        return *value && !*end && *(double *)field >= 0.0 && isfinite(*(double *)field);
    }
    }
    return 0;
}

/* Returns 0 on success, 1 on a usage error, -1 when --help was asked. */
static int parse_options(int argc, char **argv, options *o)
{
    default_options(o);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return -1;
        const option_spec *spec = NULL;
        for (size_t k = 0; k < sizeof OPTION_TABLE / sizeof *OPTION_TABLE && !spec; k++)
            if (!strcmp(argv[i], OPTION_TABLE[k].flag))
                spec = &OPTION_TABLE[k];
        if (!spec) {
            fprintf(stderr, "bench_fit: unknown option %s (see --help)\n", argv[i]);
            return 1;
        }
        int switch_only = spec->kind == OPT_SWITCH_OFF || spec->kind == OPT_SWITCH_ON;
        const char *value = switch_only ? NULL : i + 1 < argc ? argv[++i] : NULL;
        if ((!switch_only && !value) || !apply_option(spec, value, o)) {
            fprintf(stderr, "bench_fit: %s needs a valid value (see --help)\n", spec->flag);
            return 1;
        }
    }
    if (o->cpu_clock && (o->thread_count > 1 || o->threads[0] != 1)) {
        fprintf(stderr, "bench_fit: --clock cpu needs --threads 1\n");
        return 1;
    }
    if (o->n_adv == 0)
        o->n_adv = o->n;
    /* The library clamps batches to the data; the flop count must agree. */
    if (o->batch == 0 || o->batch > o->n)
        o->batch = o->n;
    if (o->batch_adv == 0 || o->batch_adv > o->n_adv)
        o->batch_adv = o->n_adv;
    return 0;
}

/* ------------------------------------------------------------ data */

/* Append columns [first, first + count) of `digit` (m x n) to `out` at column *filled. */
static void append_columns(float *out, int64_t *filled, const mdnmf_matrix *digit, int64_t first,
                           int64_t count)
{
    memcpy(out + *filled * digit->m, digit->data + first * digit->m,
           (size_t)(count * digit->m) * sizeof *out);
    *filled += count;
}

/* U = the first ceil(n/10) images of each digit (in digit order, up to n);
 * Û = the images left over, up to n_adv.  Returns 0 if the folder does not
 * hold enough MNIST digits. */
static int load_mnist(const char *folder, int64_t n, int64_t n_adv, dataset *data)
{
    mdnmf_matrix digits[MNIST_DIGITS] = {{0}};
    int ok = bench_read_digits(folder, 0, MNIST_DIGITS, digits);
    int64_t total = 0;
    for (int k = 0; k < MNIST_DIGITS && ok; k++)
        total += digits[k].n;
    if (ok && total >= n + n_adv) {
        int64_t m = digits[0].m, per_digit = (n + MNIST_DIGITS - 1) / MNIST_DIGITS;
        data->m = m;
        data->U = malloc((size_t)(m * n) * sizeof *data->U);
        data->U_adv = malloc((size_t)(m * n_adv) * sizeof *data->U_adv);
        ok = data->U && data->U_adv;
        int64_t taken[MNIST_DIGITS] = {0}, filled = 0, filled_adv = 0;
        for (int k = 0; k < MNIST_DIGITS && ok; k++) {
            int64_t want = n - filled < per_digit ? n - filled : per_digit;
            taken[k] = want < digits[k].n ? want : digits[k].n;
            append_columns(data->U, &filled, &digits[k], 0, taken[k]);
        }
        for (int k = 0; k < MNIST_DIGITS && ok; k++) {
            int64_t left = digits[k].n - taken[k], want = n_adv - filled_adv;
            append_columns(data->U_adv, &filled_adv, &digits[k], taken[k],
                           left < want ? left : want);
        }
        ok = ok && filled == n && filled_adv == n_adv;
        if (ok)
            snprintf(data->source, sizeof data->source,
                     "MNIST digits from %s (U: first %lld images of each digit; "
                     "U_adv: the next %lld images)",
                     folder, (long long)per_digit, (long long)n_adv);
    } else {
        ok = 0;
    }
    for (int k = 0; k < MNIST_DIGITS; k++)
        mdnmf_matrix_free(&digits[k]);
    return ok;
}

/* Synthetic digits (bench_synthesize_digits) from 20 stroke prototypes. */
static int make_synthetic(int64_t n, int64_t n_adv, dataset *data)
{
    int64_t m = BENCH_DIGIT_SIDE * BENCH_DIGIT_SIDE;
    data->m = m;
    data->U = malloc((size_t)(m * n) * sizeof *data->U);
    data->U_adv = malloc((size_t)(m * n_adv) * sizeof *data->U_adv);
    if (!data->U || !data->U_adv)
        return 0;
    bench_synthesize_digits(data->U, n, SYNTHETIC_PROTOTYPES, 1 ^ SYNTHETIC_SEED);
    bench_synthesize_digits(data->U_adv, n_adv, SYNTHETIC_PROTOTYPES, 2 ^ SYNTHETIC_SEED);
    snprintf(data->source, sizeof data->source,
             "synthetic digits (28x28, sparse strokes in [0,1]; MNIST not found)");
    return 1;
}

static void add_floor(float *X, int64_t count, double floor)
{
    for (int64_t i = 0; i < count; i++)
        X[i] += (float)floor;
}

static int load_data(const options *o, dataset *data)
{
    char folder[1024];
    bench_mnist_folder(o->data_dir, folder, sizeof folder);
    data->n = o->n;
    data->n_adv = o->n_adv;
    if (!o->synthetic && load_mnist(folder, o->n, o->n_adv, data))
        return 1;
    free(data->U), free(data->U_adv);
    data->U = data->U_adv = NULL;
    if (o->data_dir && !o->synthetic) {
        fprintf(stderr, "bench_fit: %s lacks %lld + %lld MNIST images (digit0..9.npy)\n",
                o->data_dir, (long long)o->n, (long long)o->n_adv);
        return 0;
    }
    return make_synthetic(o->n, o->n_adv, data);
}

static int prepare_data(const options *o, dataset *data)
{
    if (!load_data(o, data))
        return 0;
    if (o->floor > 0.0) {
        add_floor(data->U, data->m * data->n, o->floor);
        add_floor(data->U_adv, data->m * data->n_adv, o->floor);
        size_t used = strlen(data->source);
        snprintf(data->source + used, sizeof data->source - used, " + %g", o->floor);
    }
    return 1;
}

static int save_data(const char *folder, const dataset *data)
{
    mdnmf_error error;
    char path[1024];
    snprintf(path, sizeof path, "%s/U.npy", folder);
    int status = mdnmf_npy_write(path, data->U, data->m, data->n, &error);
    if (status == MDNMF_OK) {
        snprintf(path, sizeof path, "%s/U_adv.npy", folder);
        status = mdnmf_npy_write(path, data->U_adv, data->m, data->n_adv, &error);
    }
    if (status != MDNMF_OK)
        fprintf(stderr, "bench_fit: cannot save the data: %s\n", error.message);
    return status == MDNMF_OK;
}

/* ------------------------------------------------------------ the flop model */

static void add_product(product_list *list, const char *what, int trans_a, int trans_b,
                        int64_t M, int64_t N, int64_t K, int64_t b_offset, int gram)
{
    if (list->count == list->capacity) {
        int64_t capacity = list->capacity ? 2 * list->capacity : 64;
        product *grown = realloc(list->items, (size_t)capacity * sizeof *grown);
        if (!grown) {
            list->failed = 1;
            return;
        }
        list->items = grown;
        list->capacity = capacity;
    }
    list->items[list->count++] = (product){what, trans_a, trans_b, M, N, K, b_offset, gram};
}

/* The full H step of src/nmf.c (update_activations, one iteration), chunked
 * by LINALG_CHUNK columns: num = WᵀU_c, den = (WᵀW) H_c.  `first` is the
 * index of the step's first column in the operand pool: the adversarial
 * step reads the columns after the true data's, as the library reads Û
 * after U, so the reference does not find them warm in the cache. */
static void add_h_step(product_list *list, const char *num_what, const char *den_what,
                       int64_t m, int64_t d, int64_t n, int64_t first)
{
    for (int64_t start = 0; start < n; start += LINALG_CHUNK) {
        int64_t cols = n - start < LINALG_CHUNK ? n - start : LINALG_CHUNK;
        add_product(list, num_what, 1, 0, d, cols, m, (first + start) * m, 0);
        add_product(list, den_what, 0, 0, d, cols, d, (first + start) * d, 0);
    }
}

/* The W step's products of one term for KL (is = 0) or IS (SPEC §11,
 * term_sums_rows_beta on one part), per BETA_CHUNK columns of its batch:
 * Λ = W H_c, the data part (Λ^{β-2} ⊙ U) H_cᵀ and, IS only, the model
 * part Λ^{β-1} H_cᵀ (KL's is a row sum, no product). */
static void add_beta_term(product_list *list, int is, int64_t m, int64_t d, int64_t batch)
{
    for (int64_t start = 0; start < batch; start += BETA_CHUNK) {
        int64_t cols = batch - start < BETA_CHUNK ? batch - start : BETA_CHUNK;
        add_product(list, "Lambda = W H_b", 0, 0, m, cols, d, 0, 0);
        add_product(list, "(U/Lambda^q) H_b^T", 0, 1, m, d, cols, 0, 0);
        if (is)
            add_product(list, "(1/Lambda) H_b^T", 0, 1, m, d, cols, 0, 0);
    }
}

/* The full H step of KL or IS (update_activations_beta), BETA_CHUNK columns
 * at a time: Λ = W H_c, Wᵀ(Λ^{β-2} ⊙ U_c) and, IS only, WᵀΛ^{β-1}. */
static void add_beta_h_step(product_list *list, int is, int64_t m, int64_t d, int64_t n,
                            int64_t first)
{
    for (int64_t start = 0; start < n; start += BETA_CHUNK) {
        int64_t cols = n - start < BETA_CHUNK ? n - start : BETA_CHUNK;
        add_product(list, "Lambda = W H_c", 0, 0, m, cols, d, (first + start) * d, 0);
        add_product(list, "W^T (U/Lambda^q)", 1, 0, d, cols, m, (first + start) * m, 0);
        if (is)
            add_product(list, "W^T (1/Lambda)", 1, 0, d, cols, m, (first + start) * m, 0);
    }
}

/* The same as epoch_products for KL or IS. */
static int beta_epoch_products(product_list *list, int is, int64_t m, int64_t d, int64_t n,
                               int64_t batch, int adversarial, int64_t n_adv,
                               int64_t batch_adv)
{
    for (int64_t b = 0; b < n / batch; b++) {
        add_beta_term(list, is, m, d, batch);
        if (adversarial)
            add_beta_term(list, is, m, d, batch_adv);
    }
    add_beta_h_step(list, is, m, d, n, 0);
    if (adversarial) {
        add_beta_h_step(list, is, m, d, n_adv, n);
        add_product(list, "W H_sample (health)", 0, 0, m, n < 64 ? n : 64, d, 0, 0);
    }
    return !list->failed;
}

/* Every BLAS call of one epoch of fit_std (adversarial = 0) or fit_adv with
 * default options (no update_H, no normalize, true_sample std), in the order
 * src/nmf.c makes them.  Returns 0 when out of memory. */
static int epoch_products(product_list *list, mdnmf_divergence divergence, int64_t m, int64_t d,
                          int64_t n, int64_t batch, int adversarial, int64_t n_adv,
                          int64_t batch_adv)
{
    if (divergence != MDNMF_DIVERGENCE_FROBENIUS)
        return beta_epoch_products(list, divergence == MDNMF_DIVERGENCE_IS, m, d, n, batch,
                                   adversarial, n_adv, batch_adv);
    for (int64_t b = 0; b < n / batch; b++) {
        /* W <- W ⊙ (U_b H_bᵀ/B [+ τ_A W Ĥ_bĤ_bᵀ/B̂]) ⊘ (W H_bH_bᵀ/B [+ τ_A Û_bĤ_bᵀ/B̂] + γ) */
        add_product(list, "U_b H_b^T", 0, 1, m, d, batch, 0, 0);
        add_product(list, "H_b H_b^T (ssyrk)", 0, 1, d, d, batch, 0, 1);
        add_product(list, "W G", 0, 0, m, d, d, 0, 0);
        if (adversarial) {
            add_product(list, "Ha_b Ha_b^T (ssyrk)", 0, 1, d, d, batch_adv, 0, 1);
            add_product(list, "W Ga", 0, 0, m, d, d, 0, 0);
            add_product(list, "Ua_b Ha_b^T", 0, 1, m, d, batch_adv, 0, 0);
        }
    }
    /* After the batches: WᵀW once, then H <- H ⊙ WᵀU ⊘ (WᵀW H + λ1ᵀ) [and Ĥ]. */
    add_product(list, "W^T W (ssyrk)", 1, 0, d, d, m, 0, 1);
    add_h_step(list, "W^T U", "W^TW H", m, d, n, 0);
    if (adversarial) {
        add_h_step(list, "W^T Ua", "W^TW Ha", m, d, n_adv, n);
        /* The collapse check of check_divergence: W H_s on 64 fixed true columns. */
        add_product(list, "W H_sample (health)", 0, 0, m, n < 64 ? n : 64, d, 0, 0);
    }
    return !list->failed;
}

static double product_flops(const product *p)
{
    return 2.0 * (double)p->M * (double)p->N * (double)p->K;
}

static void total_flops(const product_list *list, double *all, double *gram)
{
    *all = *gram = 0.0;
    for (int64_t i = 0; i < list->count; i++) {
        *all += product_flops(&list->items[i]);
        if (list->items[i].gram)
            *gram += product_flops(&list->items[i]);
    }
}

/* ------------------------------------------------------------ sgemm reference */

typedef struct operand_pools {
    float *A, *B, *C;
} operand_pools;

static int64_t larger(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* Operand pools large enough for every product of every list (one set for
 * all cases); filled with Uniform(0,1) like the data. */
static int allocate_pools(const product_list *const *lists, int list_count,
                          operand_pools *pools)
{
    int64_t a = 1, b = 1, c = 1;
    for (int l = 0; l < list_count; l++)
        for (int64_t i = 0; i < lists[l]->count; i++) {
            const product *p = &lists[l]->items[i];
            a = larger(a, p->M * p->K);
            b = larger(b, p->b_offset + p->K * p->N);
            c = larger(c, p->M * p->N);
        }
    pools->A = malloc((size_t)a * sizeof(float));
    pools->B = malloc((size_t)b * sizeof(float));
    pools->C = malloc((size_t)c * sizeof(float));
    if (!pools->A || !pools->B || !pools->C)
        return 0;
    uint64_t state = 12345;
    for (int64_t i = 0; i < a; i++)
        pools->A[i] = bench_uniform(&state);
    for (int64_t i = 0; i < b; i++)
        pools->B[i] = bench_uniform(&state);
    memset(pools->C, 0, (size_t)c * sizeof(float));
    return 1;
}

static void free_pools(operand_pools *pools)
{
    free(pools->A), free(pools->B), free(pools->C);
}

static void run_sgemm_epoch(const product_list *list, const operand_pools *pools)
{
    for (int64_t i = 0; i < list->count; i++) {
        const product *p = &list->items[i];
        int lda = (int)(p->trans_a ? p->K : p->M);
        int ldb = (int)(p->trans_b ? p->N : p->K);
        cblas_sgemm(CblasColMajor, p->trans_a ? CblasTrans : CblasNoTrans,
                    p->trans_b ? CblasTrans : CblasNoTrans, (int)p->M, (int)p->N, (int)p->K,
                    1.0f, pools->A, lda, pools->B + p->b_offset, ldb, 0.0f, pools->C,
                    (int)p->M);
    }
}

/* Wall time of `epochs` epochs of the bare sgemm sequence. */
static double time_sgemm_epochs(const product_list *list, const operand_pools *pools,
                                int epochs)
{
    stopwatch start = stopwatch_start();
    for (int e = 0; e < epochs; e++)
        run_sgemm_epoch(list, pools);
    return stopwatch_stop(start);
}

/* ------------------------------------------------------------ the draws of a checked fit */

/* A checked fit's draws, under trace_fit's file names (tests/tools/common/draws.h)
 * in DIR/<case>_d<d>/, for the NumPy reference to replay. */
typedef struct draw_writer {
    char folder[1200];
    draw_files files;
    int failed;
} draw_writer;

static void save_draw(void *user, mdnmf_trace_kind kind, int epoch, const void *data,
                      int64_t count)
{
    (void)epoch;
    draw_writer *w = user;
    char path[1400];
    /* Separator kinds (status 1) are not drawn by fit_std / fit_adv. */
    if (draw_files_save(&w->files, kind, data, count, path, sizeof path) >= 0)
        return;
    if (!w->failed)
        fprintf(stderr, "bench_fit: cannot write %s\n", path);
    w->failed = 1;
}

/* DIR/<case>_d<d>, created if needed; 0 if it cannot be. */
static int open_draw_folder(draw_writer *w, const char *dir, const char *name, int d)
{
    memset(w, 0, sizeof *w);
    snprintf(w->folder, sizeof w->folder, "%s/%s_d%d", dir, name, d);
    w->files.folder = w->folder;
    if (mkdir(w->folder, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "bench_fit: cannot create %s: %s\n", w->folder, strerror(errno));
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------------ the cases */

/* The best and second-best time of a series: two estimates from which the
 * run-to-run noise is measured. */
typedef struct best_two {
    double first, second;
} best_two;

static void keep_best(best_two *b, double seconds)
{
    if (seconds < b->first) {
        b->second = b->first;
        b->first = seconds;
    } else if (seconds < b->second) {
        b->second = seconds;
    }
}

/* |b - a| / a, NAN when the second estimate is missing (one round). */
static double relative_difference(double a, double b)
{
    return isfinite(a) && isfinite(b) && a > 0.0 ? fabs(b - a) / a : NAN;
}

/* One benchmark case (a fit, d and a thread count), its model and its best
 * times so far. */
typedef struct bench_case {
    int d, adversarial, threads;
    mdnmf_divergence divergence;
    int trace; /* save the checked fit's draws (once per fit and d) */
    mdnmf_params params;
    mdnmf_model *model;
    product_list products;
    best_two setup, full, sgemm; /* seconds: 0 epochs, E epochs, E sgemm epochs */
    double setup_flops, full_flops; /* counted in the timed fits */
    double timed_wall, timed_cpu;   /* everything timed for this case */
    measurement result;
} bench_case;

typedef struct loss_log {
    double *values; /* epochs + 1 */
    int recorded;
    int capacity;
} loss_log;

static int record_loss(void *user, const mdnmf_progress *progress)
{
    loss_log *log = user;
    if (log->recorded < log->capacity)
        log->values[log->recorded++] = progress->loss_true;
    return 0;
}

static int run_fit(mdnmf_model *model, const dataset *data, int adversarial)
{
    if (adversarial)
        return mdnmf_fit_adv(model, data->U, data->m, data->n, data->U_adv, data->n_adv, NULL,
                             NULL);
    return mdnmf_fit_std(model, data->U, data->m, data->n, NULL);
}

/* Time of one whole fit of `epochs` epochs (no callback, test_epochs = 1:
 * the initialisation cancels in the difference, and a short one keeps the
 * difference's noise small); the flops it asked BLAS for in *flops. */
static double time_fit(bench_case *c, int epochs, const dataset *data, int *status,
                       double *flops)
{
    mdnmf_params params = c->params;
    params.epochs = epochs;
    params.test_epochs = 1;
    *status = mdnmf_model_set_params(c->model, &params, NULL);
    if (*status)
        return NAN;
    int64_t counted_before = blas_counted_flops();
    stopwatch start = stopwatch_start();
    *status = run_fit(c->model, data, c->adversarial);
    double elapsed = stopwatch_stop(start);
    *flops = (double)(blas_counted_flops() - counted_before);
    return elapsed;
}

/* The check before timing: the fit (default parameters but the benchmark's
 * batches) succeeds, its basis and losses are finite and the loss after the
 * last epoch is below the loss after initialisation.  With --trace it
 * records its random draws for the NumPy reference.  It is also the warm-up. */
static int verify_fit(bench_case *c, const options *o, const dataset *data)
{
    mdnmf_error error;
    mdnmf_params params = c->params;
    loss_log log = {.capacity = params.epochs + 1};
    log.values = calloc((size_t)log.capacity, sizeof *log.values);
    draw_writer draws;
    if (!log.values)
        return 0;
    params.on_epoch = record_loss;
    params.on_epoch_user = &log;
    if (c->trace && o->trace_dir) {
        if (!open_draw_folder(&draws, o->trace_dir, c->result.name, c->d)) {
            free(log.values);
            return 0;
        }
        params.on_trace = save_draw;
        params.on_trace_user = &draws;
    }
    int status = mdnmf_model_set_params(c->model, &params, &error);
    if (!status)
        status = run_fit(c->model, data, c->adversarial);
    int ok = status == MDNMF_OK && log.recorded == log.capacity;
    if (ok) {
        int64_t m, d;
        mdnmf_model_shape(c->model, &m, &d);
        ok = all_finite_floats(mdnmf_model_basis(c->model), m * d);
        for (int e = 0; e < log.recorded && ok; e++)
            ok = isfinite(log.values[e]);
        ok = ok && log.values[log.recorded - 1] < log.values[0];
    }
    if (ok) {
        c->result.loss_start = log.values[0];
        c->result.loss_end = log.values[log.recorded - 1];
    } else {
        fprintf(stderr, "bench_fit: %s d=%d T=%d failed its check: status %d (%s) %s\n",
                c->result.name, c->d, c->threads, status, mdnmf_strerror(status),
                status ? error.message : "loss not finite or not decreasing");
    }
    free(log.values);
    return ok && !(params.on_trace && draws.failed);
}

/* Model, check fit and flop model of one case. */
static int prepare_case(bench_case *c, const options *o, const dataset *data)
{
    mdnmf_error error;
    mdnmf_params_default(&c->params);
    c->params.d = c->d;
    c->params.epochs = o->epochs;
    c->params.batch_size = o->batch;
    c->params.batch_size_adv = o->batch_adv;
    c->params.threads = c->threads;
    c->params.seed = o->seed;
    c->params.divergence = c->divergence;
    static const char *const names[2][MAX_DIVERGENCES] = {{"fit_std", "fit_std_kl", "fit_std_is"},
                                                          {"fit_adv", "fit_adv_kl", "fit_adv_is"}};
    c->result.name = names[c->adversarial][c->divergence];
    c->result.d = c->d;
    c->result.threads = c->threads;
    c->setup = c->full = c->sgemm = (best_two){INFINITY, INFINITY};
    c->model = mdnmf_model_create(&c->params, &error);
    int status = error.status;
    if (!c->model) {
        fprintf(stderr, "bench_fit: cannot create a model: %s\n", mdnmf_strerror(status));
        return 0;
    }
    if (!epoch_products(&c->products, c->divergence, data->m, c->d, data->n, o->batch,
                        c->adversarial, data->n_adv, o->batch_adv)) {
        fprintf(stderr, "bench_fit: out of memory for the product list\n");
        return 0;
    }
    total_flops(&c->products, &c->result.flop_per_epoch, &c->result.gram_flop_per_epoch);
    fprintf(stderr, "bench_fit: checking %s d=%d threads=%d\n", c->result.name, c->d,
            c->threads);
    return verify_fit(c, o, data);
}

/* The thread count a case stands for: 0 is the library's default, which
 * OMP_NUM_THREADS sets, else the cores. */
static int thread_setting(int threads)
{
    if (threads > 0)
        return threads;
    const char *text = getenv("OMP_NUM_THREADS");
    int value = text ? atoi(text) : 0;
    return value > 0 ? value : (int)sysconf(_SC_NPROCESSORS_ONLN);
}

/* One round of a case: a 0-epoch fit, an E-epoch fit and E sgemm epochs, at
 * the case's thread count (the library sets its own; the sgemm reference's
 * is set here). */
static int time_case_round(bench_case *c, const options *o, const dataset *data,
                           const operand_pools *pools)
{
    mdnmf_error error;
    int status;
    double wall_before = timed_wall, cpu_before = timed_cpu;
    double setup = time_fit(c, 0, data, &status, &c->setup_flops);
    double full = status ? NAN : time_fit(c, o->epochs, data, &status, &c->full_flops);
    if (status) {
        fprintf(stderr, "bench_fit: %s d=%d T=%d: timed fit failed: %s\n", c->result.name,
                c->d, c->threads, error.message);
        return 0;
    }
    openblas_set_num_threads(thread_setting(c->threads));
    double sgemm = time_sgemm_epochs(&c->products, pools, o->epochs);
    /* OpenBLAS's threads spin for a while after a threaded call; the next
     * case's timed fit must not compete with them (the library, which
     * sees them as other threads holding cores, would run on fewer). */
    if (thread_setting(c->threads) > 1)
        nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = 300000000}, NULL);
    keep_best(&c->setup, setup);
    keep_best(&c->full, full);
    keep_best(&c->sgemm, sgemm);
    c->timed_wall += timed_wall - wall_before;
    c->timed_cpu += timed_cpu - cpu_before;
    return 1;
}

/* Per-epoch figures and their noise from the best times; checks the flop
 * model against the products the library asked for. */
static int finish_case(bench_case *c, const options *o)
{
    measurement *r = &c->result;
    r->setup_seconds = c->setup.first;
    r->seconds_per_epoch = (c->full.first - c->setup.first) / o->epochs;
    r->sgemm_seconds_per_epoch = c->sgemm.first / o->epochs;
    r->fit_noise = relative_difference(r->seconds_per_epoch,
                                       (c->full.second - c->setup.second) / o->epochs);
    r->sgemm_noise = relative_difference(c->sgemm.first, c->sgemm.second);
    double threads = thread_setting(c->threads);
    r->cpu_share = c->timed_wall > 0 ? c->timed_cpu / (c->timed_wall * threads) : 0.0;
    r->counted_flop_per_epoch = (c->full_flops - c->setup_flops) / o->epochs;
    /* A mismatch leaves the times valid but the GFLOP/s and the sgemm
     * reference wrong: reported (flops_checked=0, report.py marks the row
     * UNVERIFIED), not fatal, so the other figures are still measured. */
    r->flops_checked =
        fabs(r->counted_flop_per_epoch - r->flop_per_epoch) <= 1e-9 * r->flop_per_epoch;
    if (!r->flops_checked)
        fprintf(stderr,
                "bench_fit: %s d=%d threads=%d: the library asks BLAS for %.6g flop per epoch, "
                "the flop model (epoch_products) says %.6g: update epoch_products to "
                "src/nmf.c\n",
                r->name, c->d, c->threads, r->counted_flop_per_epoch, r->flop_per_epoch);
    if (!(r->seconds_per_epoch > 0.0)) {
        fprintf(stderr, "bench_fit: %s d=%d: timing noise exceeds the epochs' time; "
                        "use more --epochs\n", r->name, c->d);
        return 0;
    }
    return 1;
}

/* --busy: a CPU-bound process in a session of its own (so that the kernel's
 * autogroup scheduling treats it as another user's job, as it treats a
 * background job started from another terminal) at the lowest priority. */
static pid_t start_competitor(void)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        if (nice(19) == -1 && errno != 0)
            _exit(1);
        for (volatile unsigned long spin = 0;; spin++)
            ;
    }
    return pid;
}

static void stop_competitor(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

/* Cores other processes / the hypervisor took while the rounds ran. */
static double other_cores = NAN, steal_cores = NAN;

/* Check every case, then time them in interleaved rounds (round r times
 * every case once), keeping each case's best: a burst of load on a shared
 * machine then spoils one round of every case rather than all rounds of one. */
static int run_cases(bench_case *cases, int count, const options *o, const dataset *data)
{
    for (int i = 0; i < count; i++)
        if (!prepare_case(&cases[i], o, data))
            return 0;
    const product_list *lists[MAX_CASES];
    for (int i = 0; i < count; i++)
        lists[i] = &cases[i].products;
    operand_pools pools = {0};
    int ok = allocate_pools(lists, count, &pools);
    if (!ok)
        fprintf(stderr, "bench_fit: out of memory for the sgemm reference\n");
    for (int i = 0; i < count && ok; i++) {
        openblas_set_num_threads(thread_setting(cases[i].threads));
        run_sgemm_epoch(&cases[i].products, &pools); /* warm-up */
    }
    pid_t competitor = o->busy ? start_competitor() : 0;
    if (competitor < 0) {
        fprintf(stderr, "bench_fit: --busy: cannot start the competing process: %s\n",
                strerror(errno));
        ok = 0;
    }
    competition rounds = competition_start();
    for (int round = 1; round <= o->repeats && ok; round++) {
        fprintf(stderr, "bench_fit: timing round %d of %d\n", round, o->repeats);
        for (int i = 0; i < count && ok; i++)
            ok = time_case_round(&cases[i], o, data, &pools);
    }
    competition_stop(rounds, &other_cores, &steal_cores);
    stop_competitor(competitor);
    free_pools(&pools);
    for (int i = 0; i < count && ok; i++)
        ok = finish_case(&cases[i], o);
    return ok;
}

/* ------------------------------------------------------------ output */

/* The 1-, 5- and 15-minute load averages when bench_fit started: other
 * processes on a small machine take the cores a multi-thread run needs. */
static char load_before[64] = "?";

static void record_load_before(void)
{
    double load[3];
    if (getloadavg(load, 3) == 3)
        snprintf(load_before, sizeof load_before, "%.2f %.2f %.2f", load[0], load[1], load[2]);
}

static void print_info(const options *o, const dataset *data)
{
    const char *keys[] = {"library", "openblas_config", "openblas_core", "openblas_threads",
                          "threads", "build", "compiler", "data", "shape", "method",
                          "clock", "cpu_share", "load_before", "other_cores", "steal_cores",
                          "cores", "competitor"};
    char shape[256], build[128], method[256];
    snprintf(shape, sizeof shape, "m=%lld n=%lld batch=%lld n_adv=%lld batch_adv=%lld",
             (long long)data->m, (long long)data->n, (long long)o->batch,
             (long long)data->n_adv, (long long)o->batch_adv);
    snprintf(build, sizeof build, "%s%s", BENCH_BUILD_TYPE,
             BENCH_NATIVE ? " -march=native" : "");
    snprintf(method, sizeof method,
             "E=%d epochs, %d interleaved rounds, seed %llu, %s clock; s/epoch = (best "
             "E-epoch fit - best 0-epoch fit) / E",
             o->epochs, o->repeats, (unsigned long long)o->seed,
             o->cpu_clock ? "process CPU" : "wall");
    char threads[64] = "", blas_threads[32], cpu_share[32];
    for (int i = 0; i < o->thread_count; i++)
        snprintf(threads + strlen(threads), sizeof threads - strlen(threads), "%s%d",
                 i ? "," : "", o->threads[i]);
    snprintf(cpu_share, sizeof cpu_share, "%.3f", timed_wall > 0 ? timed_cpu / timed_wall : 0.0);
    snprintf(blas_threads, sizeof blas_threads, "%d", openblas_get_num_threads());
    char others[32], stolen[32], cores[32];
    snprintf(others, sizeof others, "%.3f", other_cores);
    snprintf(stolen, sizeof stolen, "%.3f", steal_cores);
    snprintf(cores, sizeof cores, "%ld", sysconf(_SC_NPROCESSORS_ONLN));
    const char *values[] = {mdnmf_version(), openblas_get_config(), openblas_get_corename(),
                            blas_threads, threads, build, "gcc " __VERSION__, data->source,
                            shape, method, o->cpu_clock ? "cpu" : "wall", cpu_share,
                            load_before, others, stolen, cores,
                            o->busy ? "one spinning process, nice 19, own session" : "none"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        if (o->format == FORMAT_TSV)
            printf("info\t%s\t%s\n", keys[i], values[i]);
        else
            printf("%-17s %s\n", keys[i], values[i]);
    }
    if (o->format == FORMAT_TEXT)
        printf("\n%-10s %5s %3s %10s %6s %9s %10s %9s %10s %7s %6s %10s %10s\n", "case", "d",
               "T", "ms/epoch", "noise", "GFLOP/ep", "GFLOP/s", "sgemm ms", "sgemm GF/s",
               "ratio", "noise", "loss start", "loss end");
}

static void print_measurement(const options *o, const dataset *data, const measurement *r)
{
    double gflops = r->flop_per_epoch / r->seconds_per_epoch * 1e-9;
    double sgemm_gflops = r->flop_per_epoch / r->sgemm_seconds_per_epoch * 1e-9;
    if (o->format == FORMAT_TSV) {
        printf("result\tcase=%s\td=%d\tm=%lld\tn=%lld\tbatch=%lld\tn_adv=%lld\tbatch_adv=%lld"
               "\tthreads=%d\tepochs=%d\trepeats=%d\tclock=%s\tseconds_per_epoch=%.6g"
               "\tfit_noise=%.4g\tsetup_seconds=%.6g\tflop_per_epoch=%.6g"
               "\tgram_flop_per_epoch=%.6g\tgflops=%.6g\tsgemm_seconds_per_epoch=%.6g"
               "\tsgemm_noise=%.4g\tsgemm_gflops=%.6g\tsgemm_ratio=%.6g\tcpu_share=%.3f"
               "\tcounted_flop_per_epoch=%.6g\tflops_checked=%d\tloss_start=%.8g"
               "\tloss_end=%.8g\n",
               r->name, r->d, (long long)data->m, (long long)data->n, (long long)o->batch,
               (long long)(strcmp(r->name, "fit_adv") ? 0 : data->n_adv),
               (long long)(strcmp(r->name, "fit_adv") ? 0 : o->batch_adv), r->threads,
               o->epochs, o->repeats, o->cpu_clock ? "cpu" : "wall", r->seconds_per_epoch,
               r->fit_noise, r->setup_seconds, r->flop_per_epoch, r->gram_flop_per_epoch,
               gflops, r->sgemm_seconds_per_epoch, r->sgemm_noise, sgemm_gflops,
               gflops / sgemm_gflops, r->cpu_share, r->counted_flop_per_epoch,
               r->flops_checked, r->loss_start, r->loss_end);
    } else {
        printf("%-10s %5d %3d %10.3f %6.3f %9.3f %10.1f %9.3f %10.1f %7.2f %6.3f %10.5g %10.5g\n",
               r->name, r->d, r->threads, 1e3 * r->seconds_per_epoch, r->fit_noise,
               1e-9 * r->flop_per_epoch, gflops, 1e3 * r->sgemm_seconds_per_epoch, sgemm_gflops,
               gflops / sgemm_gflops, r->sgemm_noise, r->loss_start, r->loss_end);
    }
    fflush(stdout);
}

/* ------------------------------------------------------------ main */

/* Every (fit, d, divergence, thread count), the divergences and thread
 * counts of one fit and d next to each other; the first count of each fit,
 * d and divergence saves the draws (--trace). */
static int list_cases(const options *o, bench_case *cases)
{
    int count = 0;
    for (int adversarial = 0; adversarial <= o->adversarial; adversarial++)
        for (int i = 0; i < o->d_count; i++)
            for (int v = 0; v < o->divergence_count; v++)
                for (int t = 0; t < o->thread_count; t++) {
                    bench_case *c = &cases[count++];
                    c->d = o->d[i];
                    c->adversarial = adversarial;
                    c->divergence = (mdnmf_divergence)o->divergences[v];
                    c->threads = o->threads[t];
                    c->trace = t == 0;
                }
    return count;
}

int main(int argc, char **argv)
{
    options o;
    int parsed = parse_options(argc, argv, &o);
    if (parsed < 0)
        usage(stdout);
    if (parsed)
        return parsed < 0 ? 0 : 1;
    record_load_before();
    const char *coretype = getenv("OPENBLAS_CORETYPE");
    if (coretype && coretype[0])
        fprintf(stderr, "bench_fit: note: OPENBLAS_CORETYPE=%s forces OpenBLAS's kernel\n",
                coretype);
    dataset data = {0};
    if (!prepare_data(&o, &data) || (o.save_dir && !save_data(o.save_dir, &data))) {
        free(data.U), free(data.U_adv);
        return 1;
    }
    use_cpu_clock = o.cpu_clock;
    static bench_case cases[MAX_CASES];
    int count = list_cases(&o, cases);
    int failed = !run_cases(cases, count, &o, &data);
    if (!failed) {
        print_info(&o, &data);
        for (int i = 0; i < count; i++)
            print_measurement(&o, &data, &cases[i].result);
    }
    for (int i = 0; i < count; i++) {
        mdnmf_model_destroy(cases[i].model);
        free(cases[i].products.items);
    }
    free(data.U), free(data.U_adv);
    return failed ? 2 : 0;
}
