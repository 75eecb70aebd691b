/* mdnmf experiment: hand the command line to the experiments program.
 *
 *   mdnmf experiment images|speech [options]
 *
 * The paper's experiments are a program of their own (experiments/,
 * installed as mdnmf-experiment), a client of the library like any other;
 * the tool stays free of their report writing and of cairo.  This command
 * execs that program with the same arguments, so usage, output and exit
 * codes are the program's own.  It is looked for next to this executable
 * (the build folder, or the install's bin folder), then in the folder
 * `make install` puts it in. */
#define _POSIX_C_SOURCE 200809L

#include "commands.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef MDNMF_INSTALL_BINDIR
#define MDNMF_INSTALL_BINDIR "/usr/local/bin"
#endif

static const char PROGRAM[] = "mdnmf-experiment";

static const cli_option EXPERIMENT_OPTIONS[] = {
    CLI_HELP_OPTION,
};

const cli_command cli_experiment_command = {
    "experiment",
    "experiment images|speech [options]",
    "Reproduce the paper's experiments and write a report (tables, CSVs, figures).",
    EXPERIMENT_OPTIONS,
    sizeof EXPERIMENT_OPTIONS / sizeof EXPERIMENT_OPTIONS[0],
};

/* PROGRAM in the folder of the running executable; 0 when that folder
 * cannot be found (no /proc) or the path does not fit. */
static int path_beside_this_executable(char *path, size_t size)
{
    char self[PATH_MAX];
    ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
    if (length <= 0) {
        return 0;
    }
    self[length] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash) {
        return 0;
    }
    *slash = '\0';
    return snprintf(path, size, "%s/%s", self, PROGRAM) < (int)size;
}

int cli_experiment(int argc, char **argv)
{
    (void)argc; /* argv ends with NULL, as execv wants */
    char beside[PATH_MAX], installed[PATH_MAX];
    const char *candidates[2];
    int count = 0;
    if (path_beside_this_executable(beside, sizeof beside)) {
        candidates[count++] = beside;
    }
    snprintf(installed, sizeof installed, "%s/%s", MDNMF_INSTALL_BINDIR, PROGRAM);
    candidates[count++] = installed;

    for (int i = 0; i < count; i++) {
        if (access(candidates[i], X_OK) == 0) {
            /* argv[0] is "experiment"; the program reads argv[1] on. */
            argv[0] = (char *)candidates[i];
            fflush(NULL);
            execv(candidates[i], argv);
            cli_error(cli_experiment_command.name, "%s: cannot run the experiments program (%s)",
                      candidates[i], strerror(errno));
            return CLI_EXIT_RUNTIME;
        }
    }
    cli_error(cli_experiment_command.name,
              "the experiments program %s is missing (looked for %s%s%s): build it with "
              "'make' (it needs cairo) or install it with 'make install'",
              PROGRAM, candidates[0], count > 1 ? " and " : "", count > 1 ? candidates[1] : "");
    return CLI_EXIT_RUNTIME;
}
