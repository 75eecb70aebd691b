/* The single-process host of the fit commands (see host.h). */
#include "host.h"

#include "inputs.h"

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
