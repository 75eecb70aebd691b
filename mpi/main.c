/* mdnmf-mpi: the fits of the mdnmf tool on K processes (docs/distributed.md).
 *
 *   mpirun -np K mdnmf-mpi fit -i U.npy [-a ADV.npy [--adv-weights W.npy]] -d D -o MODEL.npz
 *   mpirun -np K mdnmf-mpi separator fit --mode MODE --source U0.npy ... -o SEP.npz
 *   mpirun -np K mdnmf-mpi denoise fit --mode MODE --speech PATHS ... -o MODEL.npz
 *
 * The commands are the tool's own (cli/fit.c, separator_fit.c,
 * denoise_fit.c) run on an MPI host (cli/host.h): options, defaults, checks
 * and messages are those of `mdnmf`.  Every rank reads only its own part
 * of each input (rows [N r / K, N (r + 1) / K) of each .npy, files
 * [F r / K, F (r + 1) / K) of each audio group), the library's reduction
 * hook (mdnmf_model_set_shard, rank mode) sums each batch's parts with
 * MPI_Allreduce, rank 0 shows progress and writes the outputs.  The ranks
 * agree on every step's exit code; cli_error's lines are held and only one
 * rank prints them, so a failure gives one message whatever K. */
#define _POSIX_C_SOURCE 200809L

#include "commands.h"
#include "host.h"
#include "mdnmf.h"
#include "npy.h"
#include "options.h"

#include <fcntl.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------- held lines */

/* cli_error's lines of this rank since the last agreement. */
typedef struct held_lines {
    char *text;  /* lines, each ending in '\n' */
    size_t length;
    int own;     /* some line is not "another process ... failed" */
    FILE *out;   /* this rank's real stderr */
} held_lines;

static held_lines held;

/* The rows this rank read of each file, to name the file's own row in the
 * library's messages (which count a shard's samples from 0). */
enum { MAX_PARTS = 64 };
typedef struct file_part {
    const char *path;
    int64_t first, end;
} file_part;
static file_part parts[MAX_PARTS];
static int part_count;

static void note_part(const char *path, int64_t first, int64_t end)
{
    if (part_count < MAX_PARTS) {
        parts[part_count++] = (file_part){path, first, end};
    }
}

/* "PATH: ... at sample J, ..." (or "omega[J]", a weight) about this
 * rank's part of PATH: J is the part's; say which row of the file it is. */
static void name_file_row(const char *line, char *out, size_t size)
{
    static const char *const patterns[] = {" at sample ", "omega["};
    snprintf(out, size, "%s", line);
    for (int k = 0; k < 2; k++) {
        const char *at = strstr(line, patterns[k]);
        const size_t lead = strlen(patterns[k]);
        char *after = NULL;
        const long long sample = at ? strtoll(at + lead, &after, 10) : 0;
        if (!at || after == at + lead) {
            continue;
        }
        for (int i = 0; i < part_count; i++) {
            const char *named = strstr(line, parts[i].path);
            if (named && named < at) {
                const long long row = parts[i].first + sample;
                const int bracket = k == 1 && *after == ']';
                snprintf(out, size, "%.*s%lld%s (row %lld of the file; this process holds "
                         "rows %lld to %lld)%s", (int)(at + lead - line), line, row,
                         bracket ? "]" : "", row, (long long)parts[i].first,
                         (long long)parts[i].end - 1, after + bracket);
                return;
            }
        }
    }
}

static void hold_line(void *user, const char *original)
{
    (void)user;
    char line[2600];
    name_file_row(original, line, sizeof line);
    const size_t add = strlen(line) + 1;
    char *text = realloc(held.text, held.length + add + 1);
    if (!text) {
        fprintf(held.out, "%s\n", line); /* out of memory: say it now */
        return;
    }
    memcpy(text + held.length, line, add - 1);
    text[held.length + add - 1] = '\n';
    text[held.length + add] = '\0';
    held.text = text;
    held.length += add;
    held.own |= strstr(line, "another process of the sharded fit failed") == NULL;
}

static void print_held(int print)
{
    if (print && held.length) {
        fputs(held.text, held.out);
        fflush(held.out);
    }
    free(held.text);
    held.text = NULL;
    held.length = 0;
    held.own = 0;
}

/* -------------------------------------------------------------- the host */

static MPI_Comm comm_of(const cli_host *host)
{
    return *(MPI_Comm *)host->user;
}

static int64_t mpi_combine(const cli_host *host, int64_t value, cli_host_op op)
{
    MPI_Op how = op == CLI_HOST_MIN ? MPI_MIN : op == CLI_HOST_MAX ? MPI_MAX : MPI_SUM;
    MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_INT64_T, how, comm_of(host));
    return value;
}

/* The worst code; the lines of the first rank at the worst code that
 * failed of its own, else of the first at the worst code with lines (on
 * success: rank 0's notes). */
static int mpi_agree(const cli_host *host, int code)
{
    const int worst = (int)mpi_combine(host, code, CLI_HOST_MAX);
    const int K = host->ranks, r = host->rank;
    int64_t priority = 2 * K;
    if (worst == CLI_EXIT_OK) {
        priority = r;
    } else if (code == worst && held.length) {
        priority = held.own ? r : K + r;
    }
    const int64_t chosen = mpi_combine(host, priority, CLI_HOST_MIN);
    print_held(chosen == priority && chosen < 2 * K);
    return worst;
}

/* This rank's part of `path`: rows of a 2-D array, elements of a 1-D one. */
static int mpi_read_matrix(const cli_host *host, const char *command, const char *path,
                           mdnmf_matrix *out)
{
    char message[MDNMF_ERROR_MESSAGE_SIZE];
    int64_t rows = 0, columns = 0;
    mdnmf_matrix none;
    int one_d = 0;
    int status = npy_read_rows_file(path, 0, 0, &none, &rows, &columns, message, sizeof message);
    char other[MDNMF_ERROR_MESSAGE_SIZE]; /* a 1-D array, else the 2-D reader's message */
    if (status == MDNMF_ERR_FORMAT &&
        npy_read_elements_file(path, 0, 0, &none, &rows, other, sizeof other) == MDNMF_OK) {
        status = MDNMF_OK;
        one_d = 1;
    }
    if (status == MDNMF_OK && rows < host->ranks) {
        cli_error(command, "%s: %lld samples for %d processes: every process needs one; use "
                  "fewer processes", path, (long long)rows, host->ranks);
        return -1;
    }
    if (status == MDNMF_OK) {
        int64_t first = 0, end = 0;
        cli_host_part(host, rows, &first, &end);
        note_part(path, first, end);
        status = one_d ? npy_read_elements_file(path, first, end - first, out, &rows, message,
                                                sizeof message)
                       : npy_read_rows_file(path, first, end - first, out, &rows, &columns,
                                            message, sizeof message);
    }
    if (status != MDNMF_OK) {
        cli_error_about(command, path, message);
        return -1;
    }
    return 0;
}

/* The library's reduce callback: one in-place all-reduce.  Open MPI's
 * algorithms give every rank the same bits (docs/distributed.md, caveat);
 * mpi_same_model verifies it after the fit. */
static int mpi_reduce(void *user, void *buffer, int64_t count, mdnmf_reduce_op op)
{
    MPI_Comm comm = *(MPI_Comm *)user;
    MPI_Datatype type = op == MDNMF_REDUCE_SUM_F64 ? MPI_DOUBLE : MPI_FLOAT;
    MPI_Op how = op == MDNMF_REDUCE_MAX_F32 ? MPI_MAX : MPI_SUM;
    if (count > 0x7fffffff) {
        return 1;
    }
    return MPI_Allreduce(MPI_IN_PLACE, buffer, (int)count, type, how, comm) != MPI_SUCCESS;
}

static int mpi_shard(const cli_host *host, mdnmf_model *model, mdnmf_error *error)
{
    mdnmf_shard shard;
    memset(&shard, 0, sizeof shard);
    shard.reduce = mpi_reduce;
    shard.reduce_user = host->user;
    shard.rank = host->rank;
    shard.ranks = host->ranks;
    return mdnmf_model_set_shard(model, &shard, error);
}

/* Rank 0's bases against each rank's (one broadcast). */
static int mpi_same_model(const cli_host *host, const char *command, const mdnmf_model *model)
{
    int64_t m = 0, d = 0;
    mdnmf_model_shape(model, &m, &d);
    const size_t count = (size_t)(m * d);
    float *reference = malloc(count * sizeof *reference);
    if (mpi_combine(host, reference == NULL, CLI_HOST_MAX)) {
        cli_error(command, "process %d: out of memory for the check of the bases", host->rank);
        free(reference);
        return CLI_EXIT_RUNTIME;
    }
    memcpy(reference, mdnmf_model_basis(model), count * sizeof *reference);
    MPI_Bcast(reference, (int)count, MPI_FLOAT, 0, comm_of(host));
    int differs = memcmp(reference, mdnmf_model_basis(model), count * sizeof *reference) != 0;
    free(reference);
    if (mpi_combine(host, differs, CLI_HOST_MAX)) {
        if (host->rank == 0) {
            cli_error(command, "the processes' bases differ after the fit: this MPI's "
                      "all-reduce does not give every rank the same sum; nothing written");
        }
        return CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_OK;
}

/* ---------------------------------------------------------- the program */

/* Ranks other than 0 print only what mpi_agree lets through (their held
 * lines, to the stderr kept here): usage texts, notes and reports that
 * every rank would print alike go to /dev/null. */
static void quiet_other_ranks(int rank)
{
    held.out = stderr;
    if (rank == 0) {
        return;
    }
    int kept = dup(2);
    FILE *out = kept >= 0 ? fdopen(kept, "w") : NULL;
    int null = open("/dev/null", O_WRONLY);
    if (!out || null < 0) {
        return; /* print as usual */
    }
    fflush(stdout);
    fflush(stderr);
    dup2(null, 1);
    dup2(null, 2);
    close(null);
    held.out = out;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mpirun -np K mdnmf-mpi fit -i U.npy [-a ADV.npy] -d D -o MODEL.npz [options]\n"
            "       mpirun -np K mdnmf-mpi separator fit --mode MODE --source U0.npy ... "
            "-o SEP.npz [options]\n"
            "       mpirun -np K mdnmf-mpi denoise fit --mode MODE --speech PATHS ... "
            "-o MODEL.npz [options]\n\n"
            "The fits of mdnmf on K processes, each reading only its part of the data; the\n"
            "options are those of the mdnmf commands ('mdnmf-mpi fit --help' lists them).\n\n");
    cli_print_exit_codes(out);
}

static int run_command(const cli_host *host, int argc, char **argv)
{
    const char *word = argc >= 2 ? argv[1] : "";
    const char *sub = argc >= 3 ? argv[2] : "";
    if (strcmp(word, "fit") == 0) {
        return cli_fit_on(host, argc - 1, argv + 1);
    }
    if (strcmp(word, "separator") == 0 && strcmp(sub, "fit") == 0) {
        return cli_separator_fit_on(host, argc - 2, argv + 2);
    }
    if (strcmp(word, "denoise") == 0 && strcmp(sub, "fit") == 0) {
        return cli_denoise_fit_on(host, argc - 2, argv + 2);
    }
    if (strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (host->rank == 0) {
        usage(stderr);
    }
    return CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    /* Open MPI's ranks poll while they wait in a collective; the ranks of a
     * fit meet at every batch, so one other busy process on a core stalled
     * all of them (K = 2 ran at 0.09x K = 1 beside one spinning process;
     * yielding: 0.93x, and the same speed on a quiet machine; docs/
     * distributed.md).  An mpirun --mca or the environment still decides. */
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
    MPI_Init(&argc, &argv);
    MPI_Comm comm = MPI_COMM_WORLD;
    cli_host host = {0, 1, 1, &comm, mpi_combine, mpi_agree, mpi_read_matrix, mpi_shard,
                     mpi_same_model};
    MPI_Comm_rank(comm, &host.rank);
    MPI_Comm_size(comm, &host.ranks);
    cli_program = "mdnmf-mpi";
    quiet_other_ranks(host.rank);
    cli_set_error_sink(hold_line, NULL);
    int code = run_command(&host, argc, argv);
    /* Whatever is still held (a command that returned without agreeing). */
    code = mpi_agree(&host, code);
    cli_set_error_sink(NULL, NULL);
    MPI_Finalize();
    return code;
}
