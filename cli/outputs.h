/* Output files of the mdnmf tool that the library does not write itself
 * (the loss log): written under a temporary name in the destination's
 * folder and renamed into place only when complete, so a failed or
 * interrupted run leaves nothing behind. */
#ifndef MDNMF_CLI_OUTPUTS_H
#define MDNMF_CLI_OUTPUTS_H

#include <stdint.h>
#include <stdio.h>

typedef struct cli_output {
    char *path;      /* the destination */
    char *temp_path; /* ".NAME.XXXXXX" beside it, while open */
    FILE *stream;    /* write here */
} cli_output;

/* Create the temporary file.  On failure prints one line
 * "mdnmf COMMAND: PATH: <reason>: <what to do>" and returns -1. */
int cli_output_open(cli_output *output, const char *command, const char *path);

/* Flush, close and rename into place.  On failure prints one line, removes
 * the temporary file and returns -1. */
int cli_output_commit(cli_output *output, const char *command);

/* Close and remove the temporary file; a no-op on a zeroed output. */
void cli_output_discard(cli_output *output);

/* Fail fast before a long computation: prove that `path` can be created,
 * by creating and removing a temporary file beside it.  Returns 0, or -1
 * after printing one line. */
int cli_output_check_writable(const char *command, const char *path);

/* printf into a malloc'ed string (NULL when out of memory): the paths a
 * command derives from a prefix or a folder. */
char *cli_format_path(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* One array of a set of .npy outputs: (n, m) in the file, m x n
 * column-major in memory. */
typedef struct cli_npy_file {
    char *path; /* NULL (out of memory from cli_format_path) is reported */
    const float *data;
    int64_t m, n;
} cli_npy_file;

enum { CLI_NPY_FILES_MAX = 18 }; /* MDNMF_MAX_SOURCES + 2: data mix's set */

/* Write all `count` files or none: each goes to a temporary file beside
 * its destination, and only when every one is written are they renamed
 * into place; if a rename fails, the ones already renamed are removed.
 * Returns 0, or -1 after printing one line. */
int cli_write_npy_files(const char *command, const cli_npy_file *files, int count);

#endif
