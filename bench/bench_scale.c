/*
 * bench_scale — `fit` on a million columns (issue 5, target 4): mdnmf_fit_std
 * at N = 1,000,000 keeps >= 80 % of its small-N GFLOP/s, allocates nothing
 * per epoch, and its peak resident memory stays under 1.5 x (bytes of U and H
 * in float32 + the model).
 *
 *   bench_scale [--m 129] [--d 160] [--batch 1000] [--small-n 20000]
 *               [--large-n 1000000] [--small-epochs 30] [--large-epochs 5]
 *               [--rounds 2] [--rss-epochs 2] [--rss-runs 2] [--seed 0]
 *               [--mdnmf PATH] [--no-rss]
 *
 * Data: a spectrogram-like non-negative m x N float32 matrix, the same for
 * every run: a rank-40 product W0 H0 (each atom of W0 a harmonic comb with a
 * decaying envelope, H0 sparse exponential activations, 25 % active) plus
 * uniform noise of 0.01.  Generated in fixed chunks of columns, so column j
 * is the same whatever N.  A child process writes the small and the large
 * matrix as float32 (N, m) .npy files to a temporary folder under $TMPDIR
 * (removed at the end); the timed fits read them with mdnmf_npy_read, as
 * `mdnmf fit` does, so U lives in the memory the tool would give it.
 *
 * Fits: mdnmf_fit_std, d atoms, batch B (default 1000: 1,000 W steps per
 * epoch at N = 1e6, 20 at N = 20,000 — the same B for both N), init random
 * (SPEC §2: H starts Uniform(0,1), no transform of a million columns before
 * the first epoch), other parameters at their defaults, one thread.
 *
 * 1. GFLOP/s.  The epoch boundaries come from the trace callback
 *    (MDNMF_TRACE_PERM_TRUE is reported at the start of every epoch, right
 *    after the permutation); it computes nothing, unlike the epoch callback,
 *    which makes the library compute the loss.  Seconds per epoch = (t(E) -
 *    t(2)) / (E - 2) on the process CPU clock, t(e) the start of epoch e:
 *    epochs 2 .. E-1, each with the next epoch's permutation; epoch 1
 *    (first touch of BLAS buffers) and epoch E (the end of the fit) are left
 *    out.  Flops are counted as bench_fit counts them (gemm-equivalent 2·M·N·K
 *    for each product of an epoch, Gram products as full products):
 *        N/B (2mdB + 2d²B + 2md²) + 2d²m + 2mdN + 2d²N.
 *    R interleaved rounds (small N, then large N); the best round of each N
 *    gives the ratio GFLOP/s(large) / GFLOP/s(small); noise = relative
 *    difference of the ratios of round 1 and round 2.
 * 2. Allocations per epoch: the calls the library makes itself to malloc,
 *    calloc, realloc, free, posix_memalign and aligned_alloc (the link wraps
 *    them: -Wl,--wrap=malloc ...) between t(2) and t(E), / (E - 2), the
 *    larger of the two N.  Ratio = 1 when it is 0, else 0 (minimum 1).  For
 *    information, the same for the whole process (this program defines
 *    malloc & co. and passes them on to glibc): libgomp allocates a team for
 *    every parallel region entered with one thread, OpenBLAS nothing.  Not
 *    in sanitizer builds (ASan owns malloc).
 * 3. Peak resident memory (ru_maxrss from wait4 of each child): the tool,
 *    `mdnmf fit -i U_large.npy -d D --batch-size B --epochs E --init random
 *    --threads 1 -q -o MODEL.npz`, the same with --batch-size 0 (the
 *    default: all columns in one batch), and the library alone (this program
 *    re-run as a child: U generated into plain malloc'ed memory, one
 *    mdnmf_fit_std).  The largest peak of --rss-runs runs counts; noise =
 *    relative difference of the first two.  The children are started before
 *    this process holds any large buffer: exec passes the parent's
 *    high-water mark on to the child's ru_maxrss.  Limit = 1.5 x (4mN for U
 *    + 4dN for H + 4md + 4d + 8 for the model's W, mu_H and components), in
 *    MiB; ratio = limit / peak, minimum 1.
 *
 * The whole run takes about half a minute on one core (N = 1e6: 0.5 GB of
 * data, about 1 s per epoch).
 *
 * Output (stdout): "info<TAB>key<TAB>value" and "target<TAB>key=value..."
 * records for bench/report.py.  Progress on stderr.  Exit status: 0 measured
 * (even if a target is missed), 1 could not measure.
 */
#define _GNU_SOURCE

#include "mdnmf.h"
#include "bench_util.h"

#include <cblas.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RANK 40          /* rank of the synthetic product */
#define ACTIVE 0.25      /* share of non-zero activations of H0 */
#define NOISE 0.01       /* uniform noise, relative to 1 */
#define GEN_CHUNK 4096   /* columns generated at once (fixes the streams) */
#define MAX_EPOCHS 1000
#define ORIGIN "issue 5 target 4"

/* ------------------------------------------------------- counting malloc */

#if defined(__SANITIZE_ADDRESS__)
#define COUNTING_ALLOCATIONS 0
#else
#define COUNTING_ALLOCATIONS 1
#endif

/* Every call in the process (this program defines malloc & co. and passes
 * them on to glibc), and those the library makes itself: the link wraps its
 * references (-Wl,--wrap=malloc ...: a call to malloc in libmdnmf.a's
 * objects reaches __wrap_malloc).  This program allocates nothing while a
 * fit runs; libgomp and OpenBLAS are shared libraries, outside the wrap. */
static atomic_long allocation_calls, own_allocation_calls;

static void count(atomic_long *counter)
{
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *pointer, size_t size);
void __real_free(void *pointer);
int __real_posix_memalign(void **out, size_t alignment, size_t size);
void *__real_aligned_alloc(size_t alignment, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *pointer, size_t size);
void __wrap_free(void *pointer);
int __wrap_posix_memalign(void **out, size_t alignment, size_t size);
void *__wrap_aligned_alloc(size_t alignment, size_t size);

void *__wrap_malloc(size_t size)
{
    count(&own_allocation_calls);
    return __real_malloc(size);
}

void *__wrap_calloc(size_t number, size_t size)
{
    count(&own_allocation_calls);
    return __real_calloc(number, size);
}

void *__wrap_realloc(void *pointer, size_t size)
{
    count(&own_allocation_calls);
    return __real_realloc(pointer, size);
}

void __wrap_free(void *pointer)
{
    if (pointer)
        count(&own_allocation_calls);
    __real_free(pointer);
}

int __wrap_posix_memalign(void **out, size_t alignment, size_t size)
{
    count(&own_allocation_calls);
    return __real_posix_memalign(out, alignment, size);
}

void *__wrap_aligned_alloc(size_t alignment, size_t size)
{
    count(&own_allocation_calls);
    return __real_aligned_alloc(alignment, size);
}

#if COUNTING_ALLOCATIONS
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void __libc_free(void *pointer);
extern void *__libc_memalign(size_t alignment, size_t size);

void *malloc(size_t size)
{
    count(&allocation_calls);
    return __libc_malloc(size);
}

void *calloc(size_t number, size_t size)
{
    count(&allocation_calls);
    return __libc_calloc(number, size);
}

void *realloc(void *pointer, size_t size)
{
    count(&allocation_calls);
    return __libc_realloc(pointer, size);
}

void free(void *pointer)
{
    if (pointer)
        count(&allocation_calls);
    __libc_free(pointer);
}

void *memalign(size_t alignment, size_t size)
{
    count(&allocation_calls);
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size)
{
    count(&allocation_calls);
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **out, size_t alignment, size_t size)
{
    count(&allocation_calls);
    void *pointer = __libc_memalign(alignment, size);
    if (!pointer)
        return ENOMEM;
    *out = pointer;
    return 0;
}
#endif

/* ---------------------------------------------------------------- options */

typedef struct options {
    int64_t m, d, batch, small_n, large_n;
    int small_epochs, large_epochs, rounds, rss_epochs, rss_runs;
    uint64_t seed;
    const char *mdnmf;
    int rss;
    /* child modes */
    const char *write_npy; /* write the large data here and exit */
    int child_fit;         /* generate the large data, fit once, exit */
} options;

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_scale [--m 129] [--d 160] [--batch 1000] [--small-n 20000]\n"
            "                   [--large-n 1000000] [--small-epochs 30] [--large-epochs 5]\n"
            "                   [--rounds 2] [--rss-epochs 2] [--rss-runs 2] [--seed 0]\n"
            "                   [--mdnmf PATH] [--no-rss]\n");
}

static int parse_options(int argc, char **argv, options *o)
{
    *o = (options){.m = 129, .d = 160, .batch = 1000, .small_n = 20000, .large_n = 1000000,
                   .small_epochs = 30, .large_epochs = 5, .rounds = 2, .rss_epochs = 2,
                   .rss_runs = 2, .rss = 1};
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i];
        if (strcmp(name, "--no-rss") == 0) {
            o->rss = 0;
            continue;
        }
        if (strcmp(name, "--child-fit") == 0) {
            o->child_fit = 1;
            continue;
        }
        if (i + 1 >= argc)
            return -1;
        const char *value = argv[++i];
        int64_t v = 0;
        if (strcmp(name, "--mdnmf") == 0) {
            o->mdnmf = value;
            continue;
        }
        if (strcmp(name, "--write-npy") == 0) {
            o->write_npy = value;
            continue;
        }
        int64_t low = strcmp(name, "--seed") == 0 ? 0 : 1;
        if (!bench_parse_int64(value, low, INT64_MAX, &v))
            return -1;
        if (strcmp(name, "--m") == 0) o->m = v;
        else if (strcmp(name, "--d") == 0) o->d = v;
        else if (strcmp(name, "--batch") == 0) o->batch = v;
        else if (strcmp(name, "--small-n") == 0) o->small_n = v;
        else if (strcmp(name, "--large-n") == 0) o->large_n = v;
        else if (strcmp(name, "--small-epochs") == 0 && v <= MAX_EPOCHS) o->small_epochs = (int)v;
        else if (strcmp(name, "--large-epochs") == 0 && v <= MAX_EPOCHS) o->large_epochs = (int)v;
        else if (strcmp(name, "--rounds") == 0 && v <= 100) o->rounds = (int)v;
        else if (strcmp(name, "--rss-epochs") == 0 && v <= MAX_EPOCHS) o->rss_epochs = (int)v;
        else if (strcmp(name, "--rss-runs") == 0 && v <= 10) o->rss_runs = (int)v;
        else if (strcmp(name, "--seed") == 0) o->seed = (uint64_t)v;
        else return -1;
    }
    if (o->small_epochs < 4 || o->large_epochs < 4 || o->d > INT_MAX || o->batch > o->small_n)
        return -1;
    return 0;
}

/* ------------------------------------------------------------------- data */

/* Uniform in (0, 1]. */
static float uniform(uint64_t *state)
{
    return (float)((bench_random(state) >> 40) + 1) * (1.0f / 16777216.0f);
}

/* Atom k: harmonics of a fundamental bin with a decaying envelope. */
static void make_atoms(float *W0, int64_t m, uint64_t seed)
{
    uint64_t state = seed ^ 0x5ca1ab1eull;
    for (int64_t k = 0; k < RANK; k++) {
        double fundamental = 2.0 + 28.0 * uniform(&state);
        double decay = 0.6 + 0.35 * uniform(&state);
        for (int64_t i = 0; i < m; i++) {
            double value = 0.02 * exp(-(double)i / 40.0);
            double amplitude = 1.0;
            for (double f = fundamental; f < m + 3.0; f += fundamental, amplitude *= decay) {
                double distance = (double)i - f;
                value += amplitude * exp(-0.5 * distance * distance);
            }
            W0[k * m + i] = (float)value;
        }
    }
}

/* Columns [start, start + cols) of U = W0 H0 + noise; one stream per chunk. */
static void make_chunk(float *U, const float *W0, float *H0, int64_t m, int64_t start,
                       int64_t cols, uint64_t seed)
{
    uint64_t state = seed * 0x9e3779b97f4a7c15ull + (uint64_t)(start / GEN_CHUNK) + 1;
    for (int64_t i = 0; i < RANK * cols; i++) {
        float gate = uniform(&state), size = uniform(&state);
        H0[i] = gate < ACTIVE ? -logf(size) : 0.0f;
    }
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)cols, RANK, 1.0f, W0,
                (int)m, H0, RANK, 0.0f, U + start * m, (int)m);
    for (int64_t i = 0; i < m * cols; i++)
        U[start * m + i] += (float)NOISE * uniform(&state);
}

/* The m x n data (malloc'ed), or NULL. */
static float *make_data(int64_t m, int64_t n, uint64_t seed)
{
    float *U = malloc((size_t)(m * n) * sizeof *U);
    float *W0 = malloc((size_t)(m * RANK) * sizeof *W0);
    float *H0 = malloc((size_t)(RANK * GEN_CHUNK) * sizeof *H0);
    if (U && W0 && H0) {
        make_atoms(W0, m, seed);
        for (int64_t start = 0; start < n; start += GEN_CHUNK)
            make_chunk(U, W0, H0, m, start, n - start < GEN_CHUNK ? n - start : GEN_CHUNK, seed);
    } else {
        free(U);
        U = NULL;
    }
    free(W0);
    free(H0);
    return U;
}

/* --------------------------------------------------------------- the fits */

static void fit_params(const options *o, int epochs, mdnmf_params *p)
{
    mdnmf_params_default(p);
    p->d = (int)o->d;
    p->epochs = epochs;
    p->batch_size = o->batch;
    p->init = MDNMF_INIT_RANDOM;
    p->seed = o->seed;
    p->threads = 1;
}

/* What the trace callback records at the start of every epoch. */
typedef struct epoch_marks {
    double seconds[MAX_EPOCHS + 2];
    long allocations[MAX_EPOCHS + 2], own_allocations[MAX_EPOCHS + 2];
    int last;
} epoch_marks;

static void mark_epoch(void *user, mdnmf_trace_kind kind, int epoch, const void *data,
                       int64_t count)
{
    (void)data, (void)count;
    epoch_marks *marks = user;
    if (kind != MDNMF_TRACE_PERM_TRUE || epoch < 1 || epoch > MAX_EPOCHS)
        return;
    marks->seconds[epoch] = bench_clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
    marks->allocations[epoch] = atomic_load(&allocation_calls);
    marks->own_allocations[epoch] = atomic_load(&own_allocation_calls);
    marks->last = epoch;
}

typedef struct epoch_cost {
    double seconds;     /* per epoch */
    double allocations;     /* calls per epoch, whole process */
    double own_allocations; /* of which the library's own */
} epoch_cost;

/* One fit of `epochs` epochs; the cost of epochs 2 .. epochs-1. */
static int time_fit(const options *o, const float *U, int64_t n, int epochs, epoch_cost *cost)
{
    mdnmf_error error;
    static epoch_marks marks;
    memset(&marks, 0, sizeof marks);
    mdnmf_params p;
    fit_params(o, epochs, &p);
    p.on_trace = mark_epoch;
    p.on_trace_user = &marks;
    mdnmf_model *model = mdnmf_model_create(&p, &error);
    int status = error.status;
    if (model)
        status = mdnmf_fit_std(model, U, o->m, n, &error);
    if (status != MDNMF_OK || marks.last != epochs) {
        fprintf(stderr, "bench_scale: the fit of %lld columns failed: %s\n", (long long)n,
                model ? error.message : mdnmf_strerror(status));
        mdnmf_model_destroy(model);
        return -1;
    }
    mdnmf_model_destroy(model);
    int spans = epochs - 2;
    cost->seconds = (marks.seconds[epochs] - marks.seconds[2]) / spans;
    cost->allocations = (double)(marks.allocations[epochs] - marks.allocations[2]) / spans;
    cost->own_allocations =
        (double)(marks.own_allocations[epochs] - marks.own_allocations[2]) / spans;
    return 0;
}

/* Gemm-equivalent flops of one fit_std epoch (bench_fit's epoch_products). */
static double epoch_flops(int64_t m, int64_t d, int64_t n, int64_t batch)
{
    double M = (double)m, D = (double)d, N = (double)n, B = (double)batch;
    double batches = (double)(n / batch);
    return batches * (2 * M * D * B + 2 * D * D * B + 2 * M * D * D) + 2 * D * D * M +
           2 * M * D * N + 2 * D * D * N;
}

/* --------------------------------------------------------- child processes */

/* Run argv[0] with argv; its own peak resident set in MB. */
static int run_child(char *const argv[], double *peak_mb)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execv(argv[0], argv);
        fprintf(stderr, "bench_scale: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int wstatus;
    struct rusage usage;
    if (wait4(pid, &wstatus, 0, &usage) != pid)
        return -1;
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
        fprintf(stderr, "bench_scale: %s failed (status %d)\n", argv[0], wstatus);
        return -1;
    }
    *peak_mb = (double)usage.ru_maxrss / 1024.0; /* KiB on Linux */
    return 0;
}

static char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *format(const char *fmt, ...)
{
    static char pool[32][512];
    static int next;
    char *out = pool[next++ % 32];
    va_list args;
    va_start(args, fmt);
    vsnprintf(out, sizeof pool[0], fmt, args);
    va_end(args);
    return out;
}

static int self_path(char *path, size_t size)
{
    ssize_t length = readlink("/proc/self/exe", path, size - 1);
    if (length <= 0)
        return -1;
    path[length] = '\0';
    return 0;
}

/* The tool beside the benchmark: BUILD/bench/bench_scale -> BUILD/mdnmf. */
static int default_tool(char *path, size_t size)
{
    if (self_path(path, size) != 0)
        return -1;
    char *slash = strrchr(path, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    slash = strrchr(path, '/');
    if (!slash)
        return -1;
    snprintf(slash + 1, size - (size_t)(slash + 1 - path), "mdnmf");
    return access(path, X_OK);
}

static void common_child_args(const options *o, char *self, char **args, int *count)
{
    int k = 0;
    args[k++] = self;
    args[k++] = "--m";
    args[k++] = format("%lld", (long long)o->m);
    args[k++] = "--d";
    args[k++] = format("%lld", (long long)o->d);
    args[k++] = "--batch";
    args[k++] = format("%lld", (long long)o->batch);
    args[k++] = "--small-n";
    args[k++] = format("%lld", (long long)o->small_n);
    args[k++] = "--large-n";
    args[k++] = format("%lld", (long long)o->large_n);
    args[k++] = "--rss-epochs";
    args[k++] = format("%d", o->rss_epochs);
    args[k++] = "--seed";
    args[k++] = format("%llu", (unsigned long long)o->seed);
    *count = k;
}

/* The temporary folder of a run: the data as .npy files and the model. */
typedef struct work_files {
    char folder[4096];
    char small[4200], large[4200], model[4200];
} work_files;

static void name_files(work_files *w, const char *folder)
{
    snprintf(w->folder, sizeof w->folder, "%s", folder);
    snprintf(w->small, sizeof w->small, "%s/U_small.npy", folder);
    snprintf(w->large, sizeof w->large, "%s/U_large.npy", folder);
    snprintf(w->model, sizeof w->model, "%s/model.npz", folder);
}

/* A folder under $TMPDIR with both data files, written by a child process. */
static int make_work_files(const options *o, work_files *w)
{
    const char *tmp = getenv("TMPDIR");
    char folder[4096];
    snprintf(folder, sizeof folder, "%s/mdnmf-scale.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(folder)) {
        fprintf(stderr, "bench_scale: cannot create a folder under %s: %s\n",
                tmp && *tmp ? tmp : "/tmp", strerror(errno));
        return -1;
    }
    name_files(w, folder);
    char self[4096], *args[40];
    int k;
    double ignored;
    if (self_path(self, sizeof self) != 0) {
        fprintf(stderr, "bench_scale: cannot find /proc/self/exe\n");
        return -1;
    }
    common_child_args(o, self, args, &k);
    args[k++] = "--write-npy";
    args[k++] = w->folder;
    args[k] = NULL;
    fprintf(stderr, "bench_scale: writing %lld and %lld columns of float32 to %s\n",
            (long long)o->small_n, (long long)o->large_n, w->folder);
    return run_child(args, &ignored);
}

static void remove_work_files(const work_files *w)
{
    unlink(w->small);
    unlink(w->large);
    unlink(w->model);
    if (rmdir(w->folder) != 0)
        fprintf(stderr, "bench_scale: cannot remove %s: %s\n", w->folder, strerror(errno));
}

typedef struct memory_result {
    double cli_mb[10], full_batch_mb[10], library_mb[10];
    int runs;
    double limit_mb;
} memory_result;

static int measure_memory(const options *o, const work_files *w, memory_result *r)
{
    char self[4096], tool[4096];
    if (self_path(self, sizeof self) != 0) {
        fprintf(stderr, "bench_scale: cannot find /proc/self/exe\n");
        return -1;
    }
    if (o->mdnmf)
        snprintf(tool, sizeof tool, "%s", o->mdnmf);
    else if (default_tool(tool, sizeof tool) != 0) {
        fprintf(stderr, "bench_scale: no mdnmf tool beside the benchmark: give --mdnmf PATH\n");
        return -1;
    }
    char *fit_args[] = {tool, "fit", "-i", (char *)w->large, "-d",
                        format("%lld", (long long)o->d), "--batch-size",
                        format("%lld", (long long)o->batch), "--epochs",
                        format("%d", o->rss_epochs), "--init", "random", "--threads", "1",
                        "--seed", format("%llu", (unsigned long long)o->seed), "-q", "-o",
                        (char *)w->model, NULL};
    /* The same with the default batch: all columns at once. */
    char *full_args[sizeof fit_args / sizeof fit_args[0]];
    memcpy(full_args, fit_args, sizeof fit_args);
    full_args[7] = "0"; /* fit_args[6] is --batch-size */
    char *args[40];
    int k, failed = 0;
    common_child_args(o, self, args, &k);
    args[k++] = "--child-fit";
    args[k] = NULL;
    r->runs = o->rss_runs;
    for (int run = 0; run < o->rss_runs && !failed; run++) {
        fprintf(stderr, "bench_scale: peak memory, run %d: mdnmf fit (batch %lld, then all "
                        "columns), then the library alone\n", run + 1, (long long)o->batch);
        failed = run_child(fit_args, &r->cli_mb[run]) ||
                 run_child(full_args, &r->full_batch_mb[run]) ||
                 run_child(args, &r->library_mb[run]);
    }
    double m = (double)o->m, d = (double)o->d, n = (double)o->large_n;
    double model_bytes = 4 * m * d + 4 * d + 8;
    r->limit_mb = 1.5 * (4 * m * n + 4 * d * n + model_bytes) / (1024.0 * 1024.0);
    return failed ? -1 : 0;
}

static int write_data(const char *path, int64_t m, int64_t n, uint64_t seed)
{
    mdnmf_error error;
    float *U = make_data(m, n, seed);
    if (!U) {
        fprintf(stderr, "bench_scale: out of memory for the data\n");
        return -1;
    }
    int status = mdnmf_npy_write(path, U, m, n, &error);
    free(U);
    if (status != MDNMF_OK) {
        fprintf(stderr, "bench_scale: %s\n", error.message);
        return -1;
    }
    return 0;
}

static int child_write(const options *o)
{
    work_files w;
    name_files(&w, o->write_npy);
    return write_data(w.small, o->m, o->small_n, o->seed) ||
                   write_data(w.large, o->m, o->large_n, o->seed)
               ? 1
               : 0;
}

/* The library alone: the user's U in plain malloc'ed memory. */
static int child_fit(const options *o)
{
    mdnmf_error error;
    float *U = make_data(o->m, o->large_n, o->seed);
    if (!U) {
        fprintf(stderr, "bench_scale: out of memory for the data\n");
        return 1;
    }
    mdnmf_params p;
    fit_params(o, o->rss_epochs, &p);
    mdnmf_model *model = mdnmf_model_create(&p, &error);
    int status = error.status;
    if (model)
        status = mdnmf_fit_std(model, U, o->m, o->large_n, &error);
    if (status != MDNMF_OK)
        fprintf(stderr, "bench_scale: child fit failed: %s\n",
                model ? error.message : mdnmf_strerror(status));
    mdnmf_model_destroy(model);
    free(U);
    return status == MDNMF_OK ? 0 : 1;
}

/* ---------------------------------------------------------------- records */

static double relative_difference(double a, double b)
{
    double mean = 0.5 * (a + b);
    double noise = mean > 0 ? fabs(a - b) / mean : 0.0;
    return noise > 0.01 ? noise : 0.01;
}

static void info(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void info(const char *key, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    printf("info\t%s\t", key);
    vprintf(fmt, args);
    printf("\n");
    va_end(args);
}

static void target(const char *id, const char *what, double measured, const char *unit,
                   double reference, const char *reference_label, double ratio,
                   const char *minimum, double noise)
{
    printf("target\tid=%s\tcase=%s\tmeasured=%.6g\tunit=%s\treference=%.6g\treference_label=%s"
           "\tratio=%.4f\tminimum=%s\tnoise=%.3f\tthreads=1\torigin=" ORIGIN "\n",
           id, what, measured, unit, reference, reference_label, ratio, minimum, noise);
}

static double smallest(const double *values, int count)
{
    double best = values[0];
    for (int i = 1; i < count; i++)
        if (values[i] < best)
            best = values[i];
    return best;
}

static void print_environment(const options *o)
{
    const char *names[] = {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_CORETYPE",
                           "OPENBLAS_L2_SIZE"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *value = getenv(names[i]);
        info(format("scale_env_%s", names[i]), "%s", value ? value : "(unset)");
    }
    if (getenv("OPENBLAS_CORETYPE"))
        fprintf(stderr, "bench_scale: OPENBLAS_CORETYPE is set: OpenBLAS may run an older "
                        "kernel (bench/run.sh unsets it)\n");
    info("scale_m", "%lld", (long long)o->m);
    info("scale_d", "%lld", (long long)o->d);
    info("scale_batch", "%lld", (long long)o->batch);
    info("scale_small_n", "%lld", (long long)o->small_n);
    info("scale_large_n", "%lld", (long long)o->large_n);
    info("scale_epochs", "small %d, large %d (epochs 2..E-1 timed), %d rounds", o->small_epochs,
         o->large_epochs, o->rounds);
    info("scale_clock", "process CPU time, one thread");
}

/* The largest peak of the runs (memory is a ceiling, not a best case) as a
 * target record; noise from the first two runs. */
static void report_peak(const char *id, const char *what, const double *peaks, int runs,
                        double limit)
{
    double peak = peaks[0];
    for (int i = 1; i < runs; i++)
        peak = peaks[i] > peak ? peaks[i] : peak;
    info(format("%s_mib", id), "%.1f", peak);
    double noise = runs > 1 ? relative_difference(peaks[0], peaks[1]) : 0.01;
    target(id, what, peak, "MiB", limit, "1.5 x (U + H float32 + model)", limit / peak, "1.0",
           noise);
}

static void report_memory(const options *o, const memory_result *r)
{
    long long n = (long long)o->large_n;
    info("scale_rss_limit_mib", "%.1f", r->limit_mb);
    report_peak("scale_rss_cli",
                format("mdnmf fit N=%lld batch %lld: peak RSS vs 1.5 x (U + H + model)", n,
                       (long long)o->batch),
                r->cli_mb, r->runs, r->limit_mb);
    report_peak("scale_rss_cli_full_batch",
                format("mdnmf fit N=%lld batch 0 (all): peak RSS vs 1.5 x (U + H + model)", n),
                r->full_batch_mb, r->runs, r->limit_mb);
    report_peak("scale_rss_library",
                format("mdnmf_fit_std N=%lld: peak RSS vs 1.5 x (U + H + model)", n),
                r->library_mb, r->runs, r->limit_mb);
}

/* -------------------------------------------------------------------- main */

/* As `mdnmf fit` gets its data: read from the .npy file by the library. */
static float *read_data(const char *path, int64_t m, int64_t n)
{
    mdnmf_error error;
    mdnmf_matrix U;
    if (mdnmf_npy_read(path, &U, &error) != MDNMF_OK) {
        fprintf(stderr, "bench_scale: %s\n", error.message);
        return NULL;
    }
    if (U.m != m || U.n != n) {
        fprintf(stderr, "bench_scale: %s is not %lld x %lld\n", path, (long long)n,
                (long long)m);
        mdnmf_matrix_free(&U);
        return NULL;
    }
    return U.data;
}

static int measure_speed(const options *o, const work_files *w)
{
    float *small = read_data(w->small, o->m, o->small_n);
    float *large = small ? read_data(w->large, o->m, o->large_n) : NULL;
    if (!small || !large) {
        free(small);
        return -1;
    }
    double small_seconds[100] = {0}, large_seconds[100] = {0}, allocations = 0.0, own = 0.0;
    int failed = 0;
    for (int round = 0; round < o->rounds && !failed; round++) {
        epoch_cost s, l;
        fprintf(stderr, "bench_scale: round %d/%d\n", round + 1, o->rounds);
        failed = time_fit(o, small, o->small_n, o->small_epochs, &s) ||
                 time_fit(o, large, o->large_n, o->large_epochs, &l);
        if (failed)
            break;
        small_seconds[round] = s.seconds;
        large_seconds[round] = l.seconds;
        allocations = fmax(allocations, fmax(s.allocations, l.allocations));
        own = fmax(own, fmax(s.own_allocations, l.own_allocations));
        fprintf(stderr, "bench_scale:   N=%lld %.2f ms/epoch, N=%lld %.1f ms/epoch\n",
                (long long)o->small_n, 1e3 * s.seconds, (long long)o->large_n,
                1e3 * l.seconds);
    }
    free(small), free(large);
    if (failed)
        return -1;
    double small_flops = epoch_flops(o->m, o->d, o->small_n, o->batch);
    double large_flops = epoch_flops(o->m, o->d, o->large_n, o->batch);
    double small_rate = small_flops / smallest(small_seconds, o->rounds) / 1e9;
    double large_rate = large_flops / smallest(large_seconds, o->rounds) / 1e9;
    double noise = 0.01;
    if (o->rounds >= 2) {
        double first = (large_flops / large_seconds[0]) / (small_flops / small_seconds[0]);
        double second = (large_flops / large_seconds[1]) / (small_flops / small_seconds[1]);
        noise = relative_difference(first, second);
    }
    info("scale_small_ms_per_epoch", "%.3f", 1e3 * smallest(small_seconds, o->rounds));
    info("scale_large_ms_per_epoch", "%.1f", 1e3 * smallest(large_seconds, o->rounds));
    info("scale_small_gflop_per_epoch", "%.3f", small_flops / 1e9);
    info("scale_large_gflop_per_epoch", "%.3f", large_flops / 1e9);
    info("scale_small_gflops", "%.1f", small_rate);
    info("scale_large_gflops", "%.1f", large_rate);
    target("scale_gflops",
           format("fit_std m=%lld d=%lld batch %lld: GFLOP/s at N=%lld vs N=%lld",
                  (long long)o->m, (long long)o->d, (long long)o->batch, (long long)o->large_n,
                  (long long)o->small_n),
           large_rate, "GFLOP/s", small_rate, format("GFLOP/s at N=%lld", (long long)o->small_n),
           large_rate / small_rate, "0.80", noise);
    info("scale_allocations_per_epoch_library", "%.2f", own);
    if (COUNTING_ALLOCATIONS)
        info("scale_allocations_per_epoch_process", "%.2f (libgomp allocates a team for "
             "every parallel region entered with one thread)", allocations);
    else
        info("scale_allocations_per_epoch_process", "not measured (sanitizer build)");
    target("scale_allocations",
           format("fit_std N=%lld and N=%lld: the library's allocations per epoch",
                  (long long)o->small_n, (long long)o->large_n),
           own,
           "calls/epoch", 0, "none allowed", own == 0.0 ? 1.0 : 0.0, "1", 0.01);
    return 0;
}

int main(int argc, char **argv)
{
    options o;
    if (parse_options(argc, argv, &o) != 0) {
        usage();
        return 1;
    }
    if (o.write_npy)
        return child_write(&o);
    if (o.child_fit)
        return child_fit(&o);
    print_environment(&o);
    work_files w;
    if (make_work_files(&o, &w) != 0) {
        fprintf(stderr, "bench_scale: could not write the data\n");
        return 1;
    }
    /* Memory first: this process must still be small when it starts the children. */
    memory_result memory;
    int failed = o.rss && measure_memory(&o, &w, &memory) != 0;
    if (failed)
        fprintf(stderr, "bench_scale: could not measure the peak memory\n");
    else if (o.rss)
        report_memory(&o, &memory);
    if (!failed && measure_speed(&o, &w) != 0) {
        fprintf(stderr, "bench_scale: could not time the fits\n");
        failed = 1;
    }
    remove_work_files(&w);
    return failed ? 1 : 0;
}
