/* The single-process host of the fit commands (see host.h). */
#include "host.h"

#include "inputs.h"
#include "progress.h"

#include <stdio.h>
#include <string.h>

static int64_t alone_combine(const cli_host *host, int64_t value, cli_host_op op)
{
    (void)host, (void)op;
    return value;
}

static int alone_agree(const cli_host *host, int code)
{
    (void)host;
    return code;
}

static int alone_read_matrix(const cli_host *host, const char *command, const char *path,
                             mdnmf_matrix *out)
{
    (void)host;
    return cli_read_matrix(command, path, out);
}

const cli_host cli_alone = {0, 1, 0, NULL, alone_combine, alone_agree, alone_read_matrix, NULL,
                           NULL};

void cli_host_part(const cli_host *host, int64_t count, int64_t *first, int64_t *end)
{
    *first = count * host->rank / host->ranks;
    *end = count * (host->rank + 1) / host->ranks;
}

void cli_host_align_progress(const cli_host *host, mdnmf_params *params)
{
    if (host->sharded) {
        params->skip_losses = (int)host->combine(host, params->skip_losses, CLI_HOST_MIN);
    }
}

/* This process's files of the two sets, and the sets as given. */
static struct {
    char file[2][4096];
    const char *set[2];
} checkpoint_names;

/* `set` with ".rank<r>-of-<K>" before the extension of its last component
 * (or at its end when it has none).  0, or -1 when it does not fit. */
static int rank_file(const cli_host *host, const char *set, char *out, size_t size)
{
    const char *slash = strrchr(set, '/'), *dot = strrchr(set, '.');
    size_t stem = dot && dot > (slash ? slash : set) ? (size_t)(dot - set) : strlen(set);
    int length = snprintf(out, size, "%.*s.rank%d-of-%d%s", (int)stem, set, host->rank,
                          host->ranks, set + stem);
    return length > 0 && (size_t)length < size ? 0 : -1;
}

int cli_host_checkpoint_files(const cli_host *host, const char *command, mdnmf_params *params)
{
    if (!host->sharded) {
        return 0;
    }
    const char **paths[2] = {&params->checkpoint_path, &params->resume_path};
    for (int i = 0; i < 2; i++) {
        if (!*paths[i]) {
            continue;
        }
        if (rank_file(host, *paths[i], checkpoint_names.file[i],
                      sizeof checkpoint_names.file[i]) != 0) {
            cli_error(command, "%s: %s: the path is too long", i ? "--resume" : "--checkpoint",
                      *paths[i]);
            return -1;
        }
        checkpoint_names.set[i] = *paths[i];
        *paths[i] = checkpoint_names.file[i];
    }
    return 0;
}

const char *cli_host_checkpoint_set(const char *path)
{
    for (int i = 0; path && i < 2; i++) {
        if (checkpoint_names.set[i] && path == checkpoint_names.file[i]) {
            return checkpoint_names.set[i];
        }
    }
    return NULL;
}

void cli_host_remove_checkpoint(const cli_host *host, const mdnmf_params *params)
{
    if (host->sharded && host->rank != 0 && params->checkpoint_path) {
        remove(params->checkpoint_path); /* none yet (a short fit) is fine */
    }
}

int cli_host_shard_model(const cli_host *host, const char *command, mdnmf_model *model)
{
    mdnmf_error error;
    if (host->sharded && host->shard(host, model, &error) != MDNMF_OK) {
        cli_error(command, "%s", error.message);
        return CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_OK;
}

int cli_host_fit_ended(const cli_host *host, const char *command, int code,
                       const mdnmf_model *model)
{
    if (code == CLI_EXIT_OK || code == CLI_EXIT_INTERRUPTED) {
        int stop = cli_exit_if_interrupted(command);
        code = stop >= 0 ? stop : code;
    }
    code = host->agree(host, code);
    if (code == CLI_EXIT_OK && host->same_model)
        code = host->agree(host, host->same_model(host, command, model));
    return code;
}
