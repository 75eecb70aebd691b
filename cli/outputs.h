/* Output files of the mdnmf tool that the library does not write itself
 * (the loss log): written under a temporary name in the destination's
 * folder and renamed into place only when complete, so a failed or
 * interrupted run leaves nothing behind.
 *
 * Destinations (docs/reliability.md, "Outputs and inputs"):
 *   - a missing path or a regular file: written atomically (renamed onto);
 *   - a symbolic link to a regular file: its target is replaced atomically
 *     and the link stays a link;
 *   - "-" or "/dev/stdout": standard output, where a command allows it
 *     (single-file outputs): the output is completed in a temporary file
 *     first, then copied to standard output, write errors reported;
 *   - a folder, FIFO, device, socket, a link to one or to nothing: refused
 *     with one line, never renamed over;
 *   - one of the command's inputs (the same file under any name or link):
 *     refused, see cli_refuse_input_as_output. */
#ifndef MDNMF_CLI_OUTPUTS_H
#define MDNMF_CLI_OUTPUTS_H

#include <stdint.h>
#include <stdio.h>

typedef struct cli_output {
    char *path;      /* the destination as given (for messages) */
    char *target;    /* where it is renamed to: path, or the file a link points to */
    char *temp_path; /* ".NAME.XXXXXX" beside target, while open */
    FILE *stream;    /* write here (or let the library write temp_path) */
    int to_stdout;   /* "-": temp_path is in $TMPDIR, copied to stdout at commit */
} cli_output;

/* "-" and "/dev/stdout" name standard output. */
int cli_output_is_stdout(const char *path);

/* Create the temporary file ("-" included: standard output).  On failure
 * prints one line "mdnmf COMMAND: PATH: <reason>: <what to do>" and
 * returns -1. */
int cli_output_open(cli_output *output, const char *command, const char *path);

/* Flush, close and rename into place (or copy to standard output).  On
 * failure prints one line, removes the temporary file and returns -1. */
int cli_output_commit(cli_output *output, const char *command);

/* Close and remove the temporary file; a no-op on a zeroed output. */
void cli_output_discard(cli_output *output);

/* Fail fast before a long computation: prove that `path` can be created,
 * by creating and removing a temporary file beside it; refuse special
 * files (above) and standard output, which this output cannot go to (a
 * model the library writes itself).  Returns 0, or -1 after printing one
 * line. */
int cli_output_check_writable(const char *command, const char *path);

/* The same for an output that may go to standard output ("-"). */
int cli_output_check_writable_or_stdout(const char *command, const char *path);

/* Where a finished output `path` is renamed to (malloc'ed): path itself,
 * or the regular file a symbolic link points to; NULL after one line for a
 * folder, FIFO, device, socket or a link to one or to nothing (or when out
 * of memory).  For the outputs a command stages itself (denoise apply). */
char *cli_output_target(const char *command, const char *path);

/* ---------------------------------------------- outputs onto inputs
 *
 * No command writes an output onto one of its inputs: the files a command
 * reads are noted by identity (device and inode, links followed), so the
 * same file under another name, through a link or a hard link is caught. */
typedef struct cli_input_file {
    const char *path;                         /* as given, for messages */
    uint64_t device, inode;                   /* the file */
    uint64_t folder_device, folder_inode;     /* the folder it is named in */
    uint64_t target_device, target_inode;     /* the folder of the file a link names */
} cli_input_file;

typedef struct cli_input_files {
    cli_input_file *files;
    size_t count;
} cli_input_files;

/* Note the files of `paths[0..count)` (NULL entries and files that do not
 * exist are skipped: reading them reports that).  The paths must outlive
 * `inputs`.  Returns 0, or -1 after printing "out of memory". */
int cli_inputs_note(const char *command, cli_input_files *inputs, const char *const *paths,
                    size_t count);
void cli_inputs_free(cli_input_files *inputs);

/* Refuse to write `output` (given as option `option`, e.g. "-o"; NULL: no
 * such output) when it is one of `inputs`: one line "mdnmf COMMAND: -o PATH: is the input file
 * INPUT: ...: give another -o path".  Returns 0, or -1 after printing. */
int cli_refuse_input_as_output(const char *command, const char *option, const char *output,
                               const cli_input_files *inputs);

/* The outputs of a fitting command, -o, --loss-log and --checkpoint (NULL:
 * not asked for): none may be one of `inputs`, and no two may be one file
 * (the same existing file under any name or link, or the same new name in
 * the same folder; standard output excepted).  Returns 0, or -1 after one
 * line naming the options. */
int cli_refuse_fit_outputs(const char *command, const cli_input_files *inputs,
                           const char *output, const char *loss_log, const char *checkpoint);

/* A folder of outputs named after their inputs (denoise apply): refuse
 * `folder` when an input is named in it or is a link to a file in it.
 * Returns 0, or -1 after printing one line. */
int cli_refuse_folder_of_inputs(const char *command, const char *option, const char *folder,
                                const cli_input_files *inputs);

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
 * A destination that is one of `inputs` (NULL: none) is refused before
 * anything is written; a single file may go to standard output ("-").
 * Returns 0, or -1 after printing one line. */
int cli_write_npy_files(const char *command, const cli_npy_file *files, int count,
                        const cli_input_files *inputs);

#endif
