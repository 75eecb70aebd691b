/* Atomic output files of the mdnmf tool (see outputs.h). */
#define _POSIX_C_SOURCE 200809L

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
    struct stat info;
    size_t length = strlen(path);
    if (length == 0 || path[length - 1] == '/') {
        cli_error(command, "'%s': not a file name: give the path of a file to write", path);
        return -1;
    }
    if (stat(path, &info) == 0 && S_ISDIR(info.st_mode)) {
        cli_error(command, "%s: is a folder: give the path of a file to write", path);
        return -1;
    }
    return 0;
}

/* mkstemp makes files of mode 0600; a finished output gets the usual
 * 0666 & ~umask of a file the user creates. */
static void give_usual_mode(int fd)
{
    mode_t mask = umask(0);
    umask(mask);
    (void)fchmod(fd, 0666 & ~mask);
}

int cli_output_open(cli_output *output, const char *command, const char *path)
{
    memset(output, 0, sizeof *output);
    if (refuse_bad_name(command, path) != 0) {
        return -1;
    }
    output->path = strdup(path);
    output->temp_path = temp_template(path);
    if (!output->path || !output->temp_path) {
        cli_error(command, "out of memory");
        cli_output_discard(output);
        return -1;
    }
    int fd = mkstemp(output->temp_path);
    if (fd < 0) {
        report_create_failure(command, path, errno);
        free(output->temp_path);
        output->temp_path = NULL;
        cli_output_discard(output);
        return -1;
    }
    give_usual_mode(fd);
    output->stream = fdopen(fd, "w");
    if (!output->stream) {
        cli_error(command, "%s: %s", path, strerror(errno));
        close(fd);
        cli_output_discard(output);
        return -1;
    }
    return 0;
}

int cli_output_commit(cli_output *output, const char *command)
{
    /* Write errors (a full disk) may only show at flush, sync or close. */
    int ok = fflush(output->stream) == 0 && !ferror(output->stream) &&
             fsync(fileno(output->stream)) == 0;
    int error = ok ? 0 : errno;
    if (fclose(output->stream) != 0 && ok) {
        ok = 0;
        error = errno;
    }
    output->stream = NULL;
    if (ok && rename(output->temp_path, output->path) != 0) {
        ok = 0;
        error = errno;
    }
    if (!ok) {
        cli_error(command, "%s: cannot write (%s): check the free space and the folder",
                  output->path, error ? strerror(error) : "write error");
        cli_output_discard(output);
        return -1;
    }
    free(output->temp_path);
    output->temp_path = NULL; /* renamed: nothing to remove */
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
    free(output->path);
    memset(output, 0, sizeof *output);
}

int cli_output_check_writable(const char *command, const char *path)
{
    cli_output probe;
    if (cli_output_open(&probe, command, path) != 0) {
        return -1;
    }
    cli_output_discard(&probe);
    return 0;
}

/* One file of a set into its temporary file (the library writes the .npy
 * over the reserved temporary name). */
static int write_npy_file(const char *command, const cli_npy_file *file, cli_output *output)
{
    if (!file->path) {
        cli_error(command, "out of memory");
        return -1;
    }
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

static int commit_npy_files(const char *command, const cli_npy_file *files, cli_output *outputs,
                            int count)
{
    for (int k = 0; k < count; k++) {
        if (cli_output_commit(&outputs[k], command) != 0) {
            /* A partial set is worse than none. */
            for (int done = 0; done < k; done++) {
                unlink(files[done].path);
            }
            return -1;
        }
    }
    return 0;
}

int cli_write_npy_files(const char *command, const cli_npy_file *files, int count)
{
    cli_output outputs[CLI_NPY_FILES_MAX];
    memset(outputs, 0, sizeof outputs);
    if (count > CLI_NPY_FILES_MAX) {
        cli_error(command, "internal error: %d output files, at most %d", count,
                  CLI_NPY_FILES_MAX);
        return -1;
    }
    int failed = 0;
    for (int k = 0; k < count && !failed; k++) {
        failed = write_npy_file(command, &files[k], &outputs[k]) != 0;
    }
    failed = failed || commit_npy_files(command, files, outputs, count) != 0;
    for (int k = 0; k < count; k++) {
        cli_output_discard(&outputs[k]);
    }
    return failed ? -1 : 0;
}
