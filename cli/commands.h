/* The subcommands of the mdnmf tool, one file each.  argv[0] is the
 * command's name; each returns the process exit code (options.h). */
#ifndef MDNMF_CLI_COMMANDS_H
#define MDNMF_CLI_COMMANDS_H

#include "options.h"

int cli_fit(int argc, char **argv);
int cli_transform(int argc, char **argv);
int cli_score(int argc, char **argv);
int cli_data(int argc, char **argv);
int cli_experiment(int argc, char **argv);
int cli_separator(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_search(int argc, char **argv);
int cli_denoise(int argc, char **argv);

/* Their tables, for the top-level usage. */
extern const cli_command cli_fit_command;
extern const cli_command cli_transform_command;
extern const cli_command cli_score_command;
extern const cli_command cli_data_command;
extern const cli_command cli_experiment_command;
extern const cli_command cli_separator_command;
extern const cli_command cli_eval_command;
extern const cli_command cli_search_command;
extern const cli_command cli_denoise_command;

#endif
