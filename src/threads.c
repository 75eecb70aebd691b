/* Parts and runners: how the library's parallel regions survive a busy
 * machine without changing their results (see linalg.h).
 *
 * Every parallel region splits its work into `parts` shares fixed by the
 * thread setting alone, and combines them in a fixed order; `runners` OS
 * threads execute the parts, each taking parts runner, runner + runners, ...
 * Which thread runs a part does not change a bit of its result, so the
 * number of runners is free to follow the machine's load.
 *
 * Why it must: OpenMP threads (libgomp) spin at every barrier.  When another
 * process holds one of two cores, a spinning thread burns the time slice its
 * partner needs, and a fit with two threads ran 5-12 times slower than with
 * one (issue 12, docs/reliability.md).  OMP_WAIT_POLICY=passive fixes that
 * but costs a fifth of the speed-up on a quiet machine, and libgomp reads it
 * only when it loads, before any code of ours runs.  So the runners follow
 * the load instead:
 *   - at the start of a fit or transform: the cores (of this process's CPU
 *     set) not claimed by runnable threads of other processes;
 *   - at every mini-batch, at most every WINDOW seconds: if our threads
 *     were kept waiting for a core (the kernel's per-thread run-queue
 *     delay, /proc/self/task/T/schedstat), fewer runners; if cores are free
 *     again (or, now and then, blindly: only a trial tells a competitor at
 *     nice 19 in our own session, which leaves us both cores, from one in
 *     another session, which takes half), more, with a back-off that
 *     doubles on every failed trial so that the count does not flap. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */

#include "linalg.h"
#include "mdnmf.h"

#include <cblas.h>

#include <dirent.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Seconds between two looks at the load; short enough to leave a core
 * within a few batches when a competitor starts, long enough that the
 * look costs nothing measurable. */
static const double WINDOW = 0.02;
/* More runners are tried when /proc shows free cores (first after
 * RAISE_FIRST seconds), and blindly every PROBE_FIRST seconds even when it
 * shows none: a competitor at nice 19 in our own session leaves us both
 * cores, one in another session (autogroup) or cgroup only half of them, and
 * only a trial tells the two apart.  A failed trial costs one WINDOW at
 * most and doubles the wait before the next one of its kind. */
static const double RAISE_FIRST = 0.1, PROBE_FIRST = 1.0, BACKOFF_MOST = 30.0;
/* Fewer runners when more than this many of our threads, on average, were
 * kept waiting for a core (a competitor at nice 19 in our own session costs
 * a few hundredths; one that takes its fair share, half a thread or more). */
static const double WAITING_MOST = 0.3;
/* Calls that start within this many seconds of the last look at /proc
 * reuse its answer: a stream of small transforms must not pay two /proc
 * reads each. */
static const double RECENT = 0.1;

typedef struct governor {
    int parts;           /* shares of every parallel region */
    int runners;         /* threads running them now, 1..most */
    int most;            /* min(parts, cores) */
    int fixed;           /* MDNMF_RUNNERS pins the runners (tests, benchmarks) */
    int trial;           /* 1: load-driven trial running, 2: blind probe */
    double wall0, cpu0;  /* start of the current window */
    double waited0;      /* own_waiting_seconds() then, or -1 */
    double next_raise;   /* no load-driven trial before this time */
    double next_probe;   /* no blind probe before this time */
    double raise_wait, probe_wait;
    double looked;       /* when /proc was last read for a start */
} governor;

/* Thread-local: each calling thread governs its own fits, so models used
 * from different threads do not interfere. */
static _Thread_local governor gov = {.parts = 0, .looked = -1e9};

static double clock_seconds(clockid_t clock)
{
    struct timespec t;
    if (clock_gettime(clock, &t) != 0)
        return 0.0;
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int usable_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    int procs = omp_get_num_procs();
    return procs > 0 ? procs : 1;
}

/* Runnable tasks of the whole system (the fourth field of /proc/loadavg,
 * "running/total"), or -1. */
static int runnable_tasks(void)
{
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f)
        return -1;
    double a, b, c;
    int running = -1, total;
    if (fscanf(f, "%lf %lf %lf %d/%d", &a, &b, &c, &running, &total) != 5)
        running = -1;
    fclose(f);
    return running;
}

/* Reads /proc/self/task/T/FILE of every thread of this process into `line`
 * and calls `use` on it; returns how many it read, or -1. */
static int for_each_own_thread(const char *file, void (*use)(const char *line, void *sum),
                               void *sum)
{
    DIR *tasks = opendir("/proc/self/task");
    if (!tasks)
        return -1;
    int read = 0;
    struct dirent *entry;
    while ((entry = readdir(tasks)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        char path[64], line[512];
        snprintf(path, sizeof path, "/proc/self/task/%.20s/%s", entry->d_name, file);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t got = fread(line, 1, sizeof line - 1, f);
        fclose(f);
        line[got] = '\0';
        use(line, sum);
        read++;
    }
    closedir(tasks);
    return read;
}

/* "pid (comm) S ...": the state follows the last ')'. */
static void count_running(const char *stat, void *sum)
{
    const char *close = strrchr(stat, ')');
    if (close && close[1] == ' ' && close[2] == 'R')
        ++*(int *)sum;
}

/* Runnable threads of this process, or -1.  Our own spinning OpenMP threads
 * are runnable too and must not count as a competitor. */
static int own_runnable_threads(void)
{
    int running = 0;
    return for_each_own_thread("stat", count_running, &running) < 0 ? -1 : running;
}

/* "on-CPU ns, waiting ns, timeslices": the time a thread was runnable but
 * waited for a core. */
static void add_waiting(const char *schedstat, void *sum)
{
    unsigned long long on_cpu, waiting;
    if (sscanf(schedstat, "%llu %llu", &on_cpu, &waiting) == 2)
        *(double *)sum += 1e-9 * (double)waiting;
}

/* Seconds this process's threads have waited for a core, summed; -1 when
 * the kernel does not tell (no schedstat). */
static double own_waiting_seconds(void)
{
    double waiting = 0.0;
    return for_each_own_thread("schedstat", add_waiting, &waiting) > 0 ? waiting : -1.0;
}

/* Cores not held by runnable threads of other processes (at least 1), or
 * `cores` when /proc cannot tell.  The least of three looks 0.2 ms apart: a
 * CPU-bound competitor is runnable in all of them, a kernel thread or a
 * shell passing by rarely in more than one. */
static int free_cores(int cores)
{
    int others = -1;
    for (int look = 0; look < 3 && others != 0; look++) {
        if (look)
            nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = 200000}, NULL);
        int all = runnable_tasks(), own = own_runnable_threads();
        if (all < 0 || own < 0)
            return cores;
        int seen = all > own ? all - own : 0;
        if (others < 0 || seen < others)
            others = seen;
    }
    int free = cores - others;
    return free < 1 ? 1 : free;
}

static int clamp_runners(int runners)
{
    return runners < 1 ? 1 : runners > gov.most ? gov.most : runners;
}

static void start_window(void)
{
    gov.wall0 = clock_seconds(CLOCK_MONOTONIC);
    gov.cpu0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
    gov.waited0 = gov.parts > 1 && gov.most > 1 && !gov.fixed ? own_waiting_seconds() : -1.0;
}

/* Threads that could have run but found no free core, on average over the
 * window: the kernel's own account when it keeps one (schedstat), else the
 * CPU time the runners failed to get (which also counts a runner that sat
 * idle in a serial stretch, hence the fallback only). */
static double threads_kept_waiting(double wall)
{
    double waited = gov.waited0 >= 0.0 ? own_waiting_seconds() : -1.0;
    if (waited >= 0.0)
        return (waited - gov.waited0) / wall;
    double got = (clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - gov.cpu0) / wall;
    return gov.runners - got;
}

/* MDNMF_RUNNERS=K pins the runners at K: the tests use it to check that the
 * results do not depend on them, the benchmarks to measure each count. */
static int pinned_runners(void)
{
    const char *text = getenv("MDNMF_RUNNERS");
    if (!text || !*text)
        return 0;
    char *end;
    long value = strtol(text, &end, 10);
    return *end == '\0' && value >= 1 && value <= MDNMF_MAX_THREADS ? (int)value : 0;
}

void linalg_set_threads(int threads)
{
    openblas_set_num_threads(1);
    int parts = threads > 0 ? threads : omp_get_max_threads();
    gov.parts = parts < 1 ? 1 : parts > MDNMF_MAX_THREADS ? MDNMF_MAX_THREADS : parts;
    int cores = usable_cores();
    gov.most = gov.parts < cores ? gov.parts : cores;
    gov.fixed = pinned_runners();
    double now = clock_seconds(CLOCK_MONOTONIC);
    if (gov.fixed)
        gov.runners = gov.fixed < gov.parts ? gov.fixed : gov.parts;
    else if (gov.most <= 1)
        gov.runners = 1;
    else if (now - gov.looked > RECENT)
        gov.runners = clamp_runners(free_cores(cores)), gov.looked = now;
    else
        gov.runners = clamp_runners(gov.runners); /* many small calls: the last look */
    gov.trial = 0;
    gov.raise_wait = RAISE_FIRST, gov.probe_wait = PROBE_FIRST;
    start_window();
    gov.next_raise = gov.wall0 + gov.raise_wait;
    gov.next_probe = gov.wall0 + gov.probe_wait;
}

int linalg_threads(void)
{
    return gov.parts > 0 ? gov.parts : omp_get_max_threads();
}

int linalg_runners(void)
{
    return gov.parts > 0 ? gov.runners : 1;
}

static double doubled(double wait)
{
    return wait * 2 < BACKOFF_MOST ? wait * 2 : BACKOFF_MOST;
}

/* Runners were kept waiting for a core: someone else holds one. */
static void lower_runners(double waiting, double now)
{
    if (gov.trial == 1)
        gov.raise_wait = doubled(gov.raise_wait);
    else if (gov.trial == 2)
        gov.probe_wait = doubled(gov.probe_wait);
    gov.trial = 0;
    int fewer = (int)(waiting + 0.5); /* over WAITING_MOST: at least one */
    gov.runners = clamp_runners(gov.runners - (fewer > 1 ? fewer : 1));
    gov.next_raise = now + gov.raise_wait;
    gov.next_probe = now + gov.probe_wait;
}

static void try_more_runners(double now)
{
    if (now >= gov.next_raise && free_cores(usable_cores()) > gov.runners) {
        gov.trial = 1;
        gov.runners = gov.most;
    } else if (now >= gov.next_probe) {
        gov.trial = 2;
        gov.runners = gov.most;
    } else if (now >= gov.next_raise) {
        gov.next_raise = now + gov.raise_wait;
    }
}

void linalg_threads_tick(void)
{
    if (gov.parts <= 1 || gov.most <= 1 || gov.fixed)
        return;
    double now = clock_seconds(CLOCK_MONOTONIC);
    double wall = now - gov.wall0;
    if (wall < WINDOW)
        return;
    double waiting = threads_kept_waiting(wall);
    if (gov.runners > 1 && waiting > WAITING_MOST)
        lower_runners(waiting, now);
    else if (gov.trial)
        gov.trial = 0; /* the trial held: keep the runners */
    else if (gov.runners < gov.most)
        try_more_runners(now);
    start_window();
}
