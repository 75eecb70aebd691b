/* mdnmf-mpi: the fits of the mdnmf tool on K processes (docs/distributed.md).
 *
 *   mpirun -np K mdnmf-mpi fit -i U.npy [-a ADV.npy] -d D -o MODEL.npz [options]
 *
 * So far: `fit` (NMF and MDNMF).  The command line is parsed over the
 * tool's own option table (cli_fit_command, cli/fit.c), so options and
 * defaults are those of `mdnmf fit`; the options the sharded fit cannot
 * take yet are refused with one line.  Every rank reads only its own rows
 * [N r / K, N (r + 1) / K) of each .npy, the library's reduction hook
 * (mdnmf_model_set_shard) sums each batch's parts with MPI_Allreduce, and
 * rank 0 saves the model (atomically, through the library). */
#define _POSIX_C_SOURCE 200809L

#include "commands.h"
#include "mdnmf.h"
#include "npy.h"
#include "options.h"

#include <fcntl.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const COMMAND = "fit";

typedef struct mpi_request {
    const char *input, *adversarial, *output;
    int method_adv; /* -1 until resolved */
    mdnmf_params params;
} mpi_request;

typedef struct mpi_rank {
    MPI_Comm comm;
    int rank, size;
} mpi_rank;

/* ------------------------------------------------------------ reduction */

/* The library's reduce callback: one in-place all-reduce.  Open MPI's
 * algorithms give every rank the same bits (docs/distributed.md, caveat);
 * check_same_basis below verifies it after the fit. */
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

/* Agree on a failure: the largest status of all ranks (0 = all well). */
static int agree(const mpi_rank *r, int status)
{
    int worst = status;
    MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_INT, MPI_MAX, r->comm);
    return worst;
}

/* ---------------------------------------------------------- command line */

static int refuse_option(const char *name)
{
    cli_error(COMMAND, "--%s is not supported by mdnmf-mpi yet: run 'mdnmf fit' for it", name);
    return -1;
}

static int store_text_option(void *context, const cli_option *option, const char *value)
{
    mpi_request *request = context;
    const char *name = option->long_name;
    if (strcmp(name, "input") == 0) {
        request->input = value;
    } else if (strcmp(name, "adversarial") == 0) {
        request->adversarial = value;
    } else if (strcmp(name, "output") == 0) {
        request->output = value;
    } else if (strcmp(name, "quiet") == 0) {
        /* No progress bar yet: always quiet. */
    } else if (strcmp(name, "method") == 0) {
        if (strcmp(value, "std") == 0) {
            request->method_adv = 0;
        } else if (strcmp(value, "adv") == 0) {
            request->method_adv = 1;
        } else {
            return refuse_option("method exemplar");
        }
    } else {
        return refuse_option(name);
    }
    return 0;
}

static int check_request(mpi_request *r)
{
    if (r->method_adv < 0) {
        r->method_adv = r->adversarial && r->params.tau_A > 0.0;
    }
    if (r->method_adv && !r->adversarial) {
        cli_error(COMMAND, "--method adv needs -a ADV.npy: give adversarial data");
        return -1;
    }
    mdnmf_error error;
    if (mdnmf_params_check(&r->params, &error) != MDNMF_OK) {
        cli_error(COMMAND, "%s (see 'mdnmf fit --help')", error.message);
        return -1;
    }
    return 0;
}

/* Every rank parses the same line; only rank 0 prints what it finds.
 * Returns -1 to go on, or the exit code. */
static int parse_request(const mpi_rank *r, int argc, char **argv, mpi_request *request)
{
    memset(request, 0, sizeof *request);
    request->method_adv = -1;
    mdnmf_params_default(&request->params);
    int saved_out = -1, saved_err = -1;
    if (r->rank != 0) {
        fflush(stdout);
        fflush(stderr);
        saved_out = dup(1);
        saved_err = dup(2);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        close(null);
    }
    int code = cli_parse_exit(cli_parse_command(&cli_fit_command, argc, argv, &request->params,
                                                NULL, store_text_option, request));
    if (code < 0 && check_request(request) != 0) {
        code = CLI_EXIT_USAGE;
    }
    if (r->rank != 0) {
        fflush(stdout);
        fflush(stderr);
        dup2(saved_out, 1);
        dup2(saved_err, 2);
        close(saved_out);
        close(saved_err);
    }
    return code;
}

/* ------------------------------------------------------------- the shard */

typedef struct mpi_data {
    mdnmf_matrix U, U_adv;
    int64_t n_total, offset, n_adv_total, offset_adv;
} mpi_data;

/* This rank's rows [N r / K, N (r + 1) / K) of `path`; 0, or -1 with the
 * reason in `message` (printed once, by the first failing rank). */
static int read_own_rows(const mpi_rank *r, const char *path, mdnmf_matrix *out,
                         int64_t *total, int64_t *offset, char *message, size_t size)
{
    char inner[MDNMF_ERROR_MESSAGE_SIZE];
    int64_t rows = 0, columns = 0;
    mdnmf_matrix none;
    int status = npy_read_rows_file(path, 0, 0, &none, &rows, &columns, inner, sizeof inner);
    if (status == MDNMF_OK && rows < r->size) {
        snprintf(message, size, "%s: %lld samples for %d processes: every process needs one; "
                 "use fewer processes", path, (long long)rows, r->size);
        return -1;
    }
    if (status == MDNMF_OK) {
        const int64_t first = rows * r->rank / r->size, end = rows * (r->rank + 1) / r->size;
        *total = rows;
        *offset = first;
        status = npy_read_rows_file(path, first, end - first, out, &rows, &columns, inner,
                                    sizeof inner);
    }
    if (status != MDNMF_OK) {
        /* The library's file messages quote the path already. */
        snprintf(message, size, "%s%s%s", strstr(inner, path) ? "" : path,
                 strstr(inner, path) ? "" : ": ", inner);
        return -1;
    }
    return 0;
}

static int read_shard(const mpi_rank *r, const mpi_request *q, mpi_data *data, char *message,
                      size_t size)
{
    if (read_own_rows(r, q->input, &data->U, &data->n_total, &data->offset, message, size)) {
        return -1;
    }
    if (q->method_adv && read_own_rows(r, q->adversarial, &data->U_adv, &data->n_adv_total,
                                       &data->offset_adv, message, size)) {
        return -1;
    }
    if (q->method_adv && data->U_adv.m != data->U.m) {
        snprintf(message, size, "%s: %lld features per sample but %s has %lld: both must "
                 "describe the same features", q->adversarial, (long long)data->U_adv.m,
                 q->input, (long long)data->U.m);
        return -1;
    }
    return 0;
}

/* One line for a failure of some ranks: the first failing rank prints its
 * message (usually all ranks fail alike: a missing file).  Collective;
 * returns non-zero if any rank failed. */
static int report_once(const mpi_rank *r, int failed, const char *message)
{
    int first = failed ? r->rank : r->size;
    MPI_Allreduce(MPI_IN_PLACE, &first, 1, MPI_INT, MPI_MIN, r->comm);
    if (first < r->size && first == r->rank) {
        cli_error(COMMAND, "%s", message);
    }
    return first < r->size;
}

/* ------------------------------------------------------------- the run */

/* The all-reduce must have given every rank the same bits (the library
 * relies on it); a cheap check after the fit: rank 0's basis against each. */
static int check_same_basis(const mpi_rank *r, const mdnmf_model *model)
{
    int64_t m = 0, d = 0;
    mdnmf_model_shape(model, &m, &d);
    const size_t count = (size_t)(m * d);
    float *reference = malloc(count * sizeof *reference);
    if (agree(r, reference == NULL)) {
        cli_error(COMMAND, "rank %d: out of memory for the check of the basis", r->rank);
        free(reference);
        return 1;
    }
    memcpy(reference, mdnmf_model_basis(model), count * sizeof *reference);
    MPI_Bcast(reference, (int)count, MPI_FLOAT, 0, r->comm);
    int differs = memcmp(reference, mdnmf_model_basis(model), count * sizeof *reference) != 0;
    free(reference);
    return agree(r, differs);
}

static int fit_shard(const mpi_rank *r, const mpi_request *q, mpi_data *data,
                     mdnmf_model *model)
{
    mdnmf_shard shard;
    memset(&shard, 0, sizeof shard);
    MPI_Comm comm = r->comm;
    shard.reduce = mpi_reduce;
    shard.reduce_user = &comm;
    shard.n_total = data->n_total;
    shard.offset = data->offset;
    shard.n_adv_total = data->n_adv_total;
    shard.offset_adv = data->offset_adv;
    mdnmf_error error;
    int status = mdnmf_model_set_shard(model, &shard, &error);
    if (status == MDNMF_OK) {
        const mdnmf_matrix *U = &data->U;
        status = q->method_adv
                     ? mdnmf_fit_adv(model, U->data, U->m, U->n, data->U_adv.data,
                                     data->U_adv.n, NULL, &error)
                     : mdnmf_fit_std(model, U->data, U->m, U->n, &error);
    }
    if (status != MDNMF_OK) {
        /* Every rank fails together; the one at fault says why (the
         * others' messages are "another process ... failed"). */
        if (strstr(error.message, "another process") == NULL) {
            const int adversarial = q->method_adv && strncmp(error.message, "adversarial", 11) == 0;
            const int about_data = status == MDNMF_ERR_DATA || status == MDNMF_ERR_SHAPE;
            if (about_data) {
                cli_error(COMMAND, "%s: %s (process %d, whose sample 0 is row %lld of the file)",
                          adversarial ? q->adversarial : q->input, error.message, r->rank,
                          (long long)(adversarial ? data->offset_adv : data->offset));
            } else {
                cli_error(COMMAND, "%s", error.message);
            }
        }
        return -1;
    }
    return 0;
}

static int run_fit(const mpi_rank *r, const mpi_request *q)
{
    mpi_data data;
    memset(&data, 0, sizeof data);
    char message[2 * MDNMF_ERROR_MESSAGE_SIZE] = "";
    int failed = 0;
    if (r->rank == 0) {
        mdnmf_error error;
        char *target = NULL;
        if (mdnmf_output_target(q->output, &target, &error) != MDNMF_OK) {
            snprintf(message, sizeof message, "%s", error.message);
            failed = 1;
        }
        free(target);
    }
    failed = failed || read_shard(r, q, &data, message, sizeof message) != 0;
    if (report_once(r, failed, message)) {
        mdnmf_matrix_free(&data.U);
        mdnmf_matrix_free(&data.U_adv);
        return CLI_EXIT_RUNTIME;
    }
    mdnmf_error error;
    mdnmf_model *model = mdnmf_model_create(&q->params, &error);
    int code = CLI_EXIT_OK;
    if (agree(r, model == NULL)) {
        cli_error(COMMAND, "cannot create the model: %s", mdnmf_strerror(error.status));
        code = CLI_EXIT_RUNTIME;
    } else if (fit_shard(r, q, &data, model) != 0) {
        code = CLI_EXIT_RUNTIME;
    } else if (check_same_basis(r, model)) {
        if (r->rank == 0) {
            cli_error(COMMAND, "the processes' bases differ after the fit: this MPI's "
                      "all-reduce does not give every rank the same sum; nothing written");
        }
        code = CLI_EXIT_RUNTIME;
    } else if (r->rank == 0 && mdnmf_model_save(model, q->output, &error) != MDNMF_OK) {
        cli_error_about(COMMAND, q->output, error.message);
        code = CLI_EXIT_RUNTIME;
    }
    mdnmf_model_destroy(model);
    mdnmf_matrix_free(&data.U);
    mdnmf_matrix_free(&data.U_adv);
    /* The exit code of every rank: the worst. */
    return agree(r, code);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: mpirun -np K mdnmf-mpi fit -i U.npy [-a ADV.npy] -d D -o MODEL.npz "
                 "[options]\n(the options of 'mdnmf fit'; 'mdnmf-mpi fit --help' lists them)\n");
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    mpi_rank r;
    r.comm = MPI_COMM_WORLD;
    MPI_Comm_rank(r.comm, &r.rank);
    MPI_Comm_size(r.comm, &r.size);
    int code;
    if (argc < 2 || strcmp(argv[1], "fit") != 0) {
        if (r.rank == 0) {
            usage(stderr);
        }
        code = CLI_EXIT_USAGE;
    } else {
        mpi_request request;
        code = parse_request(&r, argc - 1, argv + 1, &request);
        if (code < 0) {
            code = run_fit(&r, &request);
        }
    }
    MPI_Finalize();
    return code;
}
