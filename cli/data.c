/* mdnmf data: make the data sets of the image experiments (SPEC §8): the
 * group of `data idx` (data_idx.c) and `data mix` (data_mix.c). */
#include "commands.h"

static const cli_option DATA_OPTIONS[] = {
    CLI_HELP_OPTION,
};

const cli_command cli_data_command = {
    "data",
    "data idx|mix [options]",
    "Make image data sets: IDX files to .npy, mixtures of sources.",
    DATA_OPTIONS,
    sizeof DATA_OPTIONS / sizeof DATA_OPTIONS[0],
};

static const cli_subcommand SUBCOMMANDS[] = {
    {"idx", cli_data_idx_summary, cli_data_idx},
    {"mix", cli_data_mix_summary, cli_data_mix},
};

static const cli_group DATA = {
    &cli_data_command,
    "mdnmf data idx --images IMAGES [--labels LABELS --class K] [--scale S] -o OUT.npy\n"
    "       mdnmf data mix --source A.npy --source B.npy [...] -o PREFIX [options]",
    SUBCOMMANDS, sizeof SUBCOMMANDS / sizeof SUBCOMMANDS[0]};

int cli_data(int argc, char **argv)
{
    return cli_run_group(&DATA, argc, argv);
}
