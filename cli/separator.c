/* mdnmf separator: the group of `separator fit` (separator_fit.c) and
 * `separator apply` (separator_apply.c). */
#include "commands.h"

static const cli_option SEPARATOR_OPTIONS[] = {
    CLI_HELP_OPTION,
};

const cli_command cli_separator_command = {
    "separator",
    "separator fit|apply [options]",
    "Fit a separator of S sources in any mode, or separate mixtures with one.",
    SEPARATOR_OPTIONS,
    sizeof SEPARATOR_OPTIONS / sizeof SEPARATOR_OPTIONS[0],
};

static const cli_subcommand SUBCOMMANDS[] = {
    {"fit", cli_separator_fit_summary, cli_separator_fit},
    {"apply", cli_separator_apply_summary, cli_separator_apply},
};

static const cli_group SEPARATOR = {
    &cli_separator_command,
    "mdnmf separator fit --mode MODE --source U0.npy --source U1.npy ... -d D[,D...] -o SEP.npz\n"
    "       mdnmf separator apply -m SEP.npz -i V.npy -o PREFIX",
    SUBCOMMANDS, sizeof SUBCOMMANDS / sizeof SUBCOMMANDS[0]};

int cli_separator(int argc, char **argv)
{
    return cli_run_group(&SEPARATOR, argc, argv);
}
