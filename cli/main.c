/* mdnmf: the command-line tool.  Dispatches to one file per subcommand. */
#include "commands.h"

#include <string.h>

typedef struct command_entry {
    const cli_command *command;
    int (*run)(int argc, char **argv);
} command_entry;

static const command_entry COMMANDS[] = {
    {&cli_fit_command, cli_fit},
    {&cli_transform_command, cli_transform},
    {&cli_score_command, cli_score},
    {&cli_data_command, cli_data},
    {&cli_experiment_command, cli_experiment},
    {&cli_separator_command, cli_separator},
    {&cli_eval_command, cli_eval},
    {&cli_search_command, cli_search},
    {&cli_denoise_command, cli_denoise},
};
enum { COMMAND_COUNT = sizeof COMMANDS / sizeof COMMANDS[0] };

static void print_usage(FILE *out)
{
    fprintf(out, "usage: mdnmf COMMAND [options]\n"
                 "       mdnmf --help | --version\n\n"
                 "NMF and Maximum Discrepancy NMF (MDNMF) on .npy data: one sample per row.\n\n"
                 "commands:\n");
    for (int i = 0; i < COMMAND_COUNT; i++) {
        fprintf(out, "  %-10s %s\n", COMMANDS[i].command->name, COMMANDS[i].command->summary);
    }
    fprintf(out, "\n'mdnmf COMMAND --help' lists a command's options and their defaults.\n\n");
    cli_print_exit_codes(out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *word = argv[1];
    if (strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0) {
        print_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(word, "--version") == 0 || strcmp(word, "-V") == 0) {
        printf("mdnmf %s\n", mdnmf_version());
        return CLI_EXIT_OK;
    }
    for (int i = 0; i < COMMAND_COUNT; i++) {
        if (strcmp(word, COMMANDS[i].command->name) == 0) {
            return COMMANDS[i].run(argc - 1, argv + 1);
        }
    }
    if (word[0] == '-') {
        cli_error(NULL, "unknown option '%s' (see 'mdnmf --help')", word);
    } else {
        cli_error(NULL, "unknown command '%s' (see 'mdnmf --help')", word);
    }
    return CLI_EXIT_USAGE;
}
