/* mdnmf-experiment: the paper's experiments, a program of their own built on
 * the public header (include/mdnmf.h) and the tool's generic front-end
 * helpers (option tables, progress, atomic outputs, audio paths).  It is the
 * only program that draws figures, so the only one linked with cairo.
 *
 *   mdnmf-experiment images [options]   (experiment.c)
 *   mdnmf-experiment speech [options]   (experiment_speech.c)
 *
 * `mdnmf experiment ...` execs this program with the same arguments
 * (cli/experiment.c), so its messages, usage and report READMEs speak of
 * `mdnmf experiment`, the command users type. */
#include "experiment.h"
#include "experiment_speech.h"
#include "options.h"

static const cli_option EXPERIMENT_OPTIONS[] = {
    CLI_HELP_OPTION,
};

static const cli_command EXPERIMENT_COMMAND = {
    "experiment",
    "experiment images|speech [options]",
    "Reproduce the paper's experiments and write a report (tables, CSVs, figures).",
    EXPERIMENT_OPTIONS,
    sizeof EXPERIMENT_OPTIONS / sizeof EXPERIMENT_OPTIONS[0],
};

static const cli_subcommand EXPERIMENTS[] = {
    {"images", cli_experiment_images_summary, cli_experiment_images},
    {"speech", cli_experiment_speech_summary, cli_experiment_speech},
};

static const cli_group EXPERIMENT = {
    &EXPERIMENT_COMMAND,
    "mdnmf experiment images [options]\n"
    "       mdnmf experiment speech [options]",
    EXPERIMENTS, sizeof EXPERIMENTS / sizeof EXPERIMENTS[0]};

int main(int argc, char **argv)
{
    return cli_run_group(&EXPERIMENT, argc, argv);
}
