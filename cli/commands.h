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

/* The subcommands of the groups, one file each (cli_run_group dispatches);
 * a summary is both the first line of its usage and its line in the
 * group's usage. */
int cli_separator_fit(int argc, char **argv);
int cli_separator_apply(int argc, char **argv);
extern const char cli_separator_fit_summary[], cli_separator_apply_summary[];
int cli_denoise_fit(int argc, char **argv);
int cli_denoise_apply(int argc, char **argv);
int cli_denoise_stream(int argc, char **argv);
int cli_data_idx(int argc, char **argv);
int cli_data_mix(int argc, char **argv);
extern const char cli_data_idx_summary[], cli_data_mix_summary[];

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
