/* How a fitting command runs: alone (mdnmf) or as one of K processes that
 * fit together (mdnmf-mpi, docs/distributed.md).  The fit commands (fit,
 * separator fit, denoise fit) take a host and call it at the few points
 * where processes must agree; alone every call is a no-op, so `mdnmf`
 * runs exactly as it did.
 *
 * Collective rule: every process calls combine, agree and shard the same
 * number of times in the same order.  A process that fails keeps going to
 * the next agree (no collective in between) and every process then stops
 * with the worst exit code.  Under mdnmf-mpi cli_error's lines are held
 * (cli_set_error_sink) and agree prints those of one failing process only:
 * one message per failure, whatever K. */
#ifndef MDNMF_CLI_HOST_H
#define MDNMF_CLI_HOST_H

#include "mdnmf.h"

#include <stdint.h>

typedef enum { CLI_HOST_MIN, CLI_HOST_MAX, CLI_HOST_SUM } cli_host_op;

typedef struct cli_host cli_host;
struct cli_host {
    int rank, ranks; /* this process and their number: 0 of 1 alone */
    int sharded;     /* the fits are sharded (mdnmf-mpi, even with K = 1) */
    void *user;
    /* `value` combined over all processes (alone: value). */
    int64_t (*combine)(const cli_host *host, int64_t value, cli_host_op op);
    /* The worst exit code of all processes (CLI_EXIT_*), after printing the
     * held lines of one process: the first whose code is the worst and
     * that failed of its own (not "another process ... failed"), or rank
     * 0's when none failed. */
    int (*agree)(const cli_host *host, int code);
    /* This process's part of a 1-D or 2-D .npy: rows [N r / K, N (r+1) / K)
     * (alone: the whole file, cli_read_matrix).  0, or -1 after one line. */
    int (*read_matrix)(const cli_host *host, const char *command, const char *path,
                       mdnmf_matrix *out);
    /* Make the model's fits sharded in the library's rank mode (this
     * process holds the rank-th part of every data set it gives, in rank
     * order).  NULL alone. */
    int (*shard)(const cli_host *host, mdnmf_model *model, mdnmf_error *error);
    /* After a sharded fit: an exit code, CLI_EXIT_OK when every process
     * holds the same bases (the all-reduce gave all the same bits), else
     * after one line.  NULL alone. */
    int (*same_model)(const cli_host *host, const char *command, const mdnmf_model *model);
};

/* The host of the mdnmf tool: one process, nothing shared. */
extern const cli_host cli_alone;

/* This process's part [*first, *end) of `count` items: [count r / K,
 * count (r + 1) / K), contiguous and in rank order. */
void cli_host_part(const cli_host *host, int64_t count, int64_t *first, int64_t *end);

/* After cli_progress_attach/watch on every process: the epoch callback is
 * collective (the library reduces the losses), so all processes compute
 * them when rank 0 shows a bar or writes a loss log. */
void cli_host_align_progress(const cli_host *host, mdnmf_params *params);

/* mdnmf-mpi's checkpoints (docs/distributed.md "Checkpoints of sharded
 * fits"): --checkpoint / --resume FILE name a set of per-process files,
 * rank r of K using FILE with ".rank<r>-of-<K>" before its extension
 * (ck.npz: ck.rank0-of-2.npz).  On a sharded host, replaces the params'
 * paths by this process's (kept until exit); alone nothing changes.  0, or
 * -1 after one line. */
int cli_host_checkpoint_files(const cli_host *host, const char *command, mdnmf_params *params);
/* The set a path of cli_host_checkpoint_files belongs to (its --checkpoint
 * or --resume as given), or NULL when `path` is not one of them. */
const char *cli_host_checkpoint_set(const char *path);
/* After a finished sharded fit: every process but the first (which
 * cli_save_model_and_log serves) removes its own checkpoint file. */
void cli_host_remove_checkpoint(const cli_host *host, const mdnmf_params *params);

/* After a fit whose exit code is `code`: a signal that arrived meanwhile
 * (between the reads or after the last epoch), the processes' agreement,
 * and under a shard that every process holds the same bases.  Returns the
 * exit code every process then shares. */
int cli_host_fit_ended(const cli_host *host, const char *command, int code,
                       const mdnmf_model *model);

/* Make the model's fits sharded when the host is (the library's rank
 * mode): CLI_EXIT_OK, or CLI_EXIT_RUNTIME after one line under `command`.
 * Alone: CLI_EXIT_OK, nothing done. */
int cli_host_shard_model(const cli_host *host, const char *command, mdnmf_model *model);

/* The fit commands on a host (cli_fit etc. are these with cli_alone). */
int cli_fit_on(const cli_host *host, int argc, char **argv);
int cli_separator_fit_on(const cli_host *host, int argc, char **argv);
int cli_denoise_fit_on(const cli_host *host, int argc, char **argv);

#endif
