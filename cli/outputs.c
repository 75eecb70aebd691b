/* Atomic output files of the mdnmf tool (see outputs.h). */
#define _XOPEN_SOURCE 700 /* realpath, with POSIX.1-2008 */

#include "outputs.h"

#include "options.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The folder part of `path` ("." for a bare name), malloc'ed. */
static char *folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        return strdup(".");
    }
    size_t length = slash == path ? 1 : (size_t)(slash - path);
    char *folder = malloc(length + 1);
    if (folder) {
        memcpy(folder, path, length);
        folder[length] = '\0';
    }
    return folder;
}

char *cli_format_path(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int length = vsnprintf(NULL, 0, format, args);
    va_end(args);
    char *path = length < 0 ? NULL : malloc((size_t)length + 1);
    if (path) {
        va_start(args, format);
        vsnprintf(path, (size_t)length + 1, format, args);
        va_end(args);
    }
    return path;
}

/* "FOLDER/.NAME.XXXXXX": hidden, in the same folder so rename() is atomic. */
static char *temp_template(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    return cli_format_path("%.*s.%s.XXXXXX", (int)(name - path), path, name);
}

static void report_create_failure(const char *command, const char *path, int error)
{
    char *folder = folder_of(path);
    const char *shown = folder ? folder : "its folder";
    switch (error) {
    case ENOENT:
        cli_error(command, "%s: folder '%s' does not exist: create it or choose another path",
                  path, shown);
        break;
    case ENOTDIR:
        cli_error(command, "%s: '%s' is not a folder: choose a path inside a folder", path,
                  shown);
        break;
    case EACCES:
    case EPERM:
    case EROFS:
        cli_error(command, "%s: cannot create files in '%s' (%s): choose a writable folder",
                  path, shown, strerror(error));
        break;
    default:
        cli_error(command, "%s: cannot create a file in '%s' (%s)", path, shown,
                  strerror(error));
        break;
    }
    free(folder);
}

static int refuse_bad_name(const char *command, const char *path)
{
    size_t length = strlen(path);
    if (length == 0 || path[length - 1] == '/') {
        cli_error(command, "'%s': not a file name: give the path of a file to write", path);
        return -1;
    }
    return 0;
}

int cli_output_is_stdout(const char *path)
{
    return strcmp(path, "-") == 0 || strcmp(path, "/dev/stdout") == 0;
}

/* Renaming over a FIFO, a device or a socket would replace it by a regular
 * file: the library's mdnmf_output_target decides, as for its own writers. */
char *cli_output_target(const char *command, const char *path)
{
    if (refuse_bad_name(command, path) != 0) {
        return NULL;
    }
    char *target = NULL;
    mdnmf_error error;
    if (mdnmf_output_target(path, &target, &error) != MDNMF_OK) {
        cli_error(command, "%s", error.message);
        return NULL;
    }
    return target;
}

/* mkstemp makes files of mode 0600; a finished output gets the usual
 * 0666 & ~umask of a file the user creates. */
static void give_usual_mode(int fd)
{
    mode_t mask = umask(0);
    umask(mask);
    (void)fchmod(fd, 0666 & ~mask);
}

/* Standard output gets a complete output or nothing: it is made in a
 * temporary file in $TMPDIR first, copied at commit. */
static char *stdout_temp_template(void)
{
    const char *folder = getenv("TMPDIR");
    if (!folder || folder[0] != '/') {
        folder = "/tmp";
    }
    return cli_format_path("%s/.mdnmf-stdout.XXXXXX", folder);
}

static int open_temporary(cli_output *output, const char *command)
{
    int fd = mkstemp(output->temp_path);
    if (fd < 0) {
        int error = errno;
        if (output->to_stdout) {
            cli_error(command, "-: cannot create a temporary file in '%s' (%s): set TMPDIR "
                      "to a writable folder", output->temp_path, strerror(error));
        } else {
            report_create_failure(command, output->path, error);
        }
        free(output->temp_path);
        output->temp_path = NULL;
        return -1;
    }
    give_usual_mode(fd);
    output->stream = fdopen(fd, "w");
    if (!output->stream) {
        cli_error(command, "%s: %s", output->path, strerror(errno));
        close(fd);
        return -1;
    }
    return 0;
}

int cli_output_open(cli_output *output, const char *command, const char *path)
{
    memset(output, 0, sizeof *output);
    output->to_stdout = cli_output_is_stdout(path);
    if (!output->to_stdout) {
        output->target = cli_output_target(command, path);
        if (!output->target) {
            return -1;
        }
    }
    output->path = strdup(path);
    output->temp_path = output->to_stdout ? stdout_temp_template()
                                          : temp_template(output->target);
    if (!output->path || !output->temp_path) {
        cli_error(command, "out of memory");
        cli_output_discard(output);
        return -1;
    }
    if (open_temporary(output, command) != 0) {
        cli_output_discard(output);
        return -1;
    }
    return 0;
}

/* The finished temporary file (reopened by name: the library may have
 * renamed a file of its own onto it) onto standard output. */
static int copy_to_stdout(const char *temp_path)
{
    FILE *file = fopen(temp_path, "rb");
    if (!file) {
        return -1;
    }
    char buffer[65536];
    size_t got;
    int failed = 0;
    while (!failed && (got = fread(buffer, 1, sizeof buffer, file)) > 0) {
        failed = fwrite(buffer, 1, got, stdout) != got;
    }
    int error = errno;
    failed = failed || ferror(file);
    fclose(file);
    if (!failed && fflush(stdout) != 0) {
        return -1;
    }
    errno = error;
    return failed ? -1 : 0;
}

int cli_output_commit(cli_output *output, const char *command)
{
    /* Write errors (a full disk) may only show at flush, sync or close. */
    int ok = fflush(output->stream) == 0 && !ferror(output->stream) &&
             (output->to_stdout || fsync(fileno(output->stream)) == 0);
    int error = ok ? 0 : errno;
    if (fclose(output->stream) != 0 && ok) {
        ok = 0;
        error = errno;
    }
    output->stream = NULL;
    if (ok && output->to_stdout) {
        errno = 0;
        if (copy_to_stdout(output->temp_path) != 0) {
            cli_error(command, "standard output: cannot write (%s)",
                      errno ? strerror(errno) : "write error");
            cli_output_discard(output);
            return -1;
        }
    } else if (ok && rename(output->temp_path, output->target) != 0) {
        ok = 0;
        error = errno;
    }
    if (!ok) {
        cli_error(command, "%s: cannot write (%s): check the free space and the folder",
                  output->path, error ? strerror(error) : "write error");
        cli_output_discard(output);
        return -1;
    }
    if (!output->to_stdout) {
        free(output->temp_path);
        output->temp_path = NULL; /* renamed: nothing to remove */
    }
    cli_output_discard(output);
    return 0;
}

void cli_output_discard(cli_output *output)
{
    if (output->stream) {
        fclose(output->stream);
    }
    if (output->temp_path) {
        unlink(output->temp_path);
    }
    free(output->temp_path);
    free(output->target);
    free(output->path);
    memset(output, 0, sizeof *output);
}

static int check_writable(const char *command, const char *path, int stdout_allowed)
{
    if (cli_output_is_stdout(path)) {
        if (stdout_allowed) {
            return 0;
        }
        cli_error(command, "%s: this output cannot go to standard output: give the path of "
                  "a file", path);
        return -1;
    }
    cli_output probe;
    if (cli_output_open(&probe, command, path) != 0) {
        return -1;
    }
    cli_output_discard(&probe);
    return 0;
}

int cli_output_check_writable_or_stdout(const char *command, const char *path)
{
    return check_writable(command, path, 1);
}

int cli_output_check_writable(const char *command, const char *path)
{
    return check_writable(command, path, 0);
}

/* ------------------------------------------------------- outputs onto inputs */

static int identity_of(const char *path, uint64_t *device, uint64_t *inode)
{
    struct stat info;
    if (stat(path, &info) != 0) {
        return -1;
    }
    *device = (uint64_t)info.st_dev;
    *inode = (uint64_t)info.st_ino;
    return 0;
}

/* The folders an input lives in: the one it is named in and, for a link,
 * the one of the file it names (both are where an output would replace it). */
static void note_folders(cli_input_file *file)
{
    char *folder = folder_of(file->path);
    if (!folder || identity_of(folder, &file->folder_device, &file->folder_inode) != 0) {
        file->folder_device = file->folder_inode = UINT64_MAX;
    }
    free(folder);
    char *real = realpath(file->path, NULL);
    folder = real ? folder_of(real) : NULL;
    if (!folder || identity_of(folder, &file->target_device, &file->target_inode) != 0) {
        file->target_device = file->folder_device;
        file->target_inode = file->folder_inode;
    }
    free(folder);
    free(real);
}

int cli_inputs_note(const char *command, cli_input_files *inputs, const char *const *paths,
                    size_t count)
{
    cli_input_file *grown = realloc(inputs->files, (inputs->count + count + 1) * sizeof *grown);
    if (!grown) {
        cli_error(command, "out of memory");
        return -1;
    }
    inputs->files = grown;
    for (size_t i = 0; i < count; i++) {
        cli_input_file *file = &inputs->files[inputs->count];
        if (!paths[i] || cli_output_is_stdout(paths[i]) ||
            identity_of(paths[i], &file->device, &file->inode) != 0) {
            continue;
        }
        file->path = paths[i];
        note_folders(file);
        inputs->count++;
    }
    return 0;
}

void cli_inputs_free(cli_input_files *inputs)
{
    free(inputs->files);
    memset(inputs, 0, sizeof *inputs);
}

int cli_refuse_input_as_output(const char *command, const char *option, const char *output,
                               const cli_input_files *inputs)
{
    uint64_t device, inode;
    if (!inputs || !output || cli_output_is_stdout(output) ||
        identity_of(output, &device, &inode) != 0) {
        return 0; /* a new file cannot be an input */
    }
    for (size_t i = 0; i < inputs->count; i++) {
        const cli_input_file *file = &inputs->files[i];
        if (file->device == device && file->inode == inode) {
            cli_error(command, "%s %s: is the input file %s: writing it would destroy the "
                      "input: give another %s path", option, output, file->path, option);
            return -1;
        }
    }
    return 0;
}

/* One file for both: the same existing file (links followed), or two new
 * names in the same folder. */
static int same_destination(const char *a, const char *b)
{
    uint64_t device_a = 0, inode_a = 0, device_b = 0, inode_b = 0;
    int exists_a = identity_of(a, &device_a, &inode_a) == 0;
    int exists_b = identity_of(b, &device_b, &inode_b) == 0;
    if (exists_a || exists_b) {
        return exists_a && exists_b && device_a == device_b && inode_a == inode_b;
    }
    const char *name_a = strrchr(a, '/'), *name_b = strrchr(b, '/');
    name_a = name_a ? name_a + 1 : a;
    name_b = name_b ? name_b + 1 : b;
    if (strcmp(name_a, name_b) != 0) {
        return 0;
    }
    char *folder_a = folder_of(a), *folder_b = folder_of(b);
    int same = folder_a && folder_b && identity_of(folder_a, &device_a, &inode_a) == 0 &&
               identity_of(folder_b, &device_b, &inode_b) == 0 && device_a == device_b &&
               inode_a == inode_b;
    free(folder_a), free(folder_b);
    return same;
}

static int refuse_shared_outputs(const char *command, const char *const *options,
                                 const char *const *paths, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        for (size_t j = i + 1; j < count; j++) {
            if (!paths[i] || !paths[j] || cli_output_is_stdout(paths[i]) ||
                cli_output_is_stdout(paths[j]) || !same_destination(paths[i], paths[j])) {
                continue;
            }
            cli_error(command, "%s %s and %s %s: are one file: one output would replace the "
                      "other: give them different paths", options[i], paths[i], options[j],
                      paths[j]);
            return -1;
        }
    }
    return 0;
}

int cli_refuse_fit_outputs(const char *command, const cli_input_files *inputs,
                           const char *output, const char *loss_log, const char *checkpoint)
{
    const char *const options[] = {"-o", "--loss-log", "--checkpoint"};
    const char *const paths[] = {output, loss_log, checkpoint};
    for (size_t i = 0; i < 3; i++) {
        if (cli_refuse_input_as_output(command, options[i], paths[i], inputs) != 0) {
            return -1;
        }
    }
    return refuse_shared_outputs(command, options, paths, 3);
}

int cli_refuse_folder_of_inputs(const char *command, const char *option, const char *folder,
                                const cli_input_files *inputs)
{
    uint64_t device, inode;
    if (identity_of(folder, &device, &inode) != 0) {
        return 0; /* a folder still to be made holds no input */
    }
    for (size_t i = 0; i < inputs->count; i++) {
        const cli_input_file *file = &inputs->files[i];
        if ((file->folder_device == device && file->folder_inode == inode) ||
            (file->target_device == device && file->target_inode == inode)) {
            cli_error(command, "%s %s: is the folder of the input %s: the outputs would "
                      "replace the inputs there: give another %s folder", option, folder,
                      file->path, option);
            return -1;
        }
    }
    return 0;
}

/* One file of a set into its temporary file (the library writes the .npy
 * over the reserved temporary name). */
static int write_npy_file(const char *command, const cli_npy_file *file, cli_output *output)
{
    if (cli_output_open(output, command, file->path) != 0) {
        return -1;
    }
    mdnmf_error error;
    if (mdnmf_npy_write(output->temp_path, file->data, file->m, file->n, &error) != MDNMF_OK) {
        cli_error_about(command, file->path, error.message);
        return -1;
    }
    return 0;
}

/* A partial set is worse than none: if a rename fails, the files already
 * renamed into place go again. */
static int commit_npy_files(const char *command, cli_output *outputs, int count)
{
    char *renamed[CLI_NPY_FILES_MAX] = {0};
    int k = 0, failed = 0;
    for (; k < count && !failed; k++) {
        renamed[k] = outputs[k].target ? strdup(outputs[k].target) : NULL;
        failed = cli_output_commit(&outputs[k], command) != 0;
    }
    for (int done = 0; done < k; done++) {
        if (failed && done < k - 1 && renamed[done]) {
            unlink(renamed[done]);
        }
        free(renamed[done]);
    }
    return failed ? -1 : 0;
}

/* Every destination is checked before anything is written. */
static int check_npy_destinations(const char *command, const cli_npy_file *files, int count,
                                  const cli_input_files *inputs)
{
    if (count > CLI_NPY_FILES_MAX) {
        cli_error(command, "internal error: %d output files, at most %d", count,
                  CLI_NPY_FILES_MAX);
        return -1;
    }
    for (int k = 0; k < count; k++) {
        if (!files[k].path) {
            cli_error(command, "out of memory");
            return -1;
        }
        if (count > 1 && cli_output_is_stdout(files[k].path)) {
            cli_error(command, "%s: a set of %d files cannot go to standard output: give a "
                      "file path", files[k].path, count);
            return -1;
        }
        if (cli_refuse_input_as_output(command, "-o", files[k].path, inputs) != 0) {
            return -1;
        }
    }
    return 0;
}

int cli_write_npy_files(const char *command, const cli_npy_file *files, int count,
                        const cli_input_files *inputs)
{
    cli_output outputs[CLI_NPY_FILES_MAX];
    memset(outputs, 0, sizeof outputs);
    if (check_npy_destinations(command, files, count, inputs) != 0) {
        return -1;
    }
    int failed = 0;
    for (int k = 0; k < count && !failed; k++) {
        failed = write_npy_file(command, &files[k], &outputs[k]) != 0;
    }
    failed = failed || commit_npy_files(command, outputs, count) != 0;
    for (int k = 0; k < count; k++) {
        cli_output_discard(&outputs[k]);
    }
    return failed ? -1 : 0;
}
