/* PATHS arguments: a file, a folder searched recursively, or @list.txt
 * (see audio_paths.h). */
#define _POSIX_C_SOURCE 200809L

#include "audio_paths.h"

#include "options.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static const char *const AUDIO_EXTENSIONS[] = {"wav", "flac", "ogg", "oga", "opus",
                                               "aiff", "aif", "aifc", "au", "snd",
                                               "caf", "w64", "rf64", "mp3"};
enum { EXTENSION_COUNT = sizeof AUDIO_EXTENSIONS / sizeof AUDIO_EXTENSIONS[0] };

/* Folders deeper than this are refused: a safety net, no real tree is. */
enum { MAX_DEPTH = 64 };

int cli_paths_is_audio_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) {
        return 0;
    }
    for (int i = 0; i < EXTENSION_COUNT; i++) {
        if (strcasecmp(dot + 1, AUDIO_EXTENSIONS[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

char *cli_paths_stem(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    const char *dot = strrchr(name, '.');
    size_t length = dot && dot != name ? (size_t)(dot - name) : strlen(name);
    char *stem = malloc(length + 1);
    if (stem) {
        memcpy(stem, name, length);
        stem[length] = '\0';
    }
    return stem;
}

void cli_paths_free(cli_path_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->paths[i]);
    }
    free(list->paths);
    memset(list, 0, sizeof *list);
}

/* Append a copy of `path`; 0 or -1 (out of memory, nothing printed). */
static int list_append(cli_path_list *list, const char *path)
{
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? 2 * list->capacity : 16;
        char **grown = realloc(list->paths, capacity * sizeof *grown);
        if (!grown) {
            return -1;
        }
        list->paths = grown;
        list->capacity = capacity;
    }
    char *copy = strdup(path);
    if (!copy) {
        return -1;
    }
    list->paths[list->count++] = copy;
    return 0;
}

/* "FOLDER/NAME", malloc'ed. */
static char *join_path(const char *folder, const char *name)
{
    size_t length = strlen(folder);
    int slash = length > 0 && folder[length - 1] != '/';
    char *path = malloc(length + (size_t)slash + strlen(name) + 1);
    if (path) {
        sprintf(path, "%s%s%s", folder, slash ? "/" : "", name);
    }
    return path;
}

static void report_stat_failure(const char *command, const char *path, int error)
{
    if (error == ENOENT || error == ENOTDIR) {
        cli_error(command, "%s: no such file or folder", path);
    } else {
        cli_error(command, "%s: cannot open (%s)", path, strerror(error));
    }
}

/* The folders being walked, to skip a symbolic link back to one of them. */
typedef struct walk {
    const char *command;
    cli_path_list *found;
    dev_t devices[MAX_DEPTH];
    ino_t inodes[MAX_DEPTH];
    int depth;
} walk;

static int on_walk_path(const walk *w, dev_t device, ino_t inode)
{
    for (int i = 0; i < w->depth; i++) {
        if (w->devices[i] == device && w->inodes[i] == inode) {
            return 1;
        }
    }
    return 0;
}

static int walk_folder(walk *w, const char *folder, const struct stat *info);

/* One folder entry: an audio file is kept, a folder walked; hidden entries
 * (names starting with '.', e.g. our own temporary files) are skipped. */
static int walk_entry(walk *w, const char *folder, const char *name)
{
    if (name[0] == '.') {
        return 0;
    }
    char *path = join_path(folder, name);
    if (!path) {
        cli_error(w->command, "out of memory");
        return -1;
    }
    struct stat info;
    int status = 0;
    if (stat(path, &info) != 0) {
        /* A dangling symbolic link is not a recording the user meant. */
        status = errno == ENOENT ? 0 : -1;
        if (status) {
            report_stat_failure(w->command, path, errno);
        }
    } else if (S_ISDIR(info.st_mode)) {
        if (!on_walk_path(w, info.st_dev, info.st_ino)) {
            status = walk_folder(w, path, &info);
        }
    } else if (S_ISREG(info.st_mode) && cli_paths_is_audio_name(name)) {
        status = list_append(w->found, path);
        if (status) {
            cli_error(w->command, "out of memory");
        }
    }
    free(path);
    return status;
}

static int walk_folder(walk *w, const char *folder, const struct stat *info)
{
    if (w->depth == MAX_DEPTH) {
        cli_error(w->command, "%s: folders nested more than %d deep", folder, MAX_DEPTH);
        return -1;
    }
    DIR *dir = opendir(folder);
    if (!dir) {
        cli_error(w->command, "%s: cannot read the folder (%s)", folder, strerror(errno));
        return -1;
    }
    w->devices[w->depth] = info->st_dev;
    w->inodes[w->depth] = info->st_ino;
    w->depth++;
    int status = 0;
    struct dirent *entry;
    while (status == 0 && (entry = readdir(dir)) != NULL) {
        status = walk_entry(w, folder, entry->d_name);
    }
    w->depth--;
    closedir(dir);
    return status;
}

static int compare_paths(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int expand_folder(const char *command, const char *folder, const struct stat *info,
                         cli_path_list *list)
{
    cli_path_list found = {0};
    walk w = {.command = command, .found = &found};
    int status = walk_folder(&w, folder, info);
    if (status == 0 && found.count == 0) {
        cli_error(command, "%s: no audio files in this folder (looked for .wav, .flac, .ogg, "
                  ".aiff, .mp3, ... below it)", folder);
        status = -1;
    }
    if (status == 0) {
        qsort(found.paths, found.count, sizeof *found.paths, compare_paths);
    }
    for (size_t i = 0; status == 0 && i < found.count; i++) {
        status = list_append(list, found.paths[i]);
        if (status) {
            cli_error(command, "out of memory");
        }
    }
    cli_paths_free(&found);
    return status;
}

/* A file or a folder (not a list). */
static int expand_entry(const char *command, const char *path, cli_path_list *list)
{
    struct stat info;
    if (path[0] == '\0') {
        cli_error(command, "an empty path: give a file, a folder or @LIST.txt");
        return -1;
    }
    if (stat(path, &info) != 0) {
        report_stat_failure(command, path, errno);
        return -1;
    }
    if (S_ISDIR(info.st_mode)) {
        return expand_folder(command, path, &info, list);
    }
    if (list_append(list, path) != 0) {
        cli_error(command, "out of memory");
        return -1;
    }
    return 0;
}

/* The line without trailing blanks (and '\r'); NULL if blank or a comment. */
static char *list_line(char *line)
{
    size_t length = strlen(line);
    while (length > 0 && isspace((unsigned char)line[length - 1])) {
        line[--length] = '\0';
    }
    while (isspace((unsigned char)*line)) {
        line++;
    }
    return *line == '\0' || *line == '#' ? NULL : line;
}

/* The folder part of `path` ("" for a bare name), malloc'ed. */
static char *folder_part(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t length = slash ? (size_t)(slash - path) + 1 : 0;
    char *folder = malloc(length + 1);
    if (folder) {
        memcpy(folder, path, length);
        folder[length] = '\0';
    }
    return folder;
}

static int expand_list_file(const char *command, const char *list_path, cli_path_list *list)
{
    FILE *file = fopen(list_path, "r");
    if (!file) {
        if (errno == ENOENT) {
            cli_error(command, "@%s: no such list file", list_path);
        } else {
            cli_error(command, "@%s: cannot open the list (%s)", list_path, strerror(errno));
        }
        return -1;
    }
    char *folder = folder_part(list_path);
    char *line = NULL;
    size_t capacity = 0;
    size_t before = list->count;
    int status = folder ? 0 : -1;
    if (!folder) {
        cli_error(command, "out of memory");
    }
    while (status == 0 && getline(&line, &capacity, file) >= 0) {
        char *entry = list_line(line);
        if (!entry) {
            continue;
        }
        char *path = entry[0] == '/' ? strdup(entry) : join_path(folder, entry);
        if (!path) {
            cli_error(command, "out of memory");
            status = -1;
            break;
        }
        status = expand_entry(command, path, list);
        free(path);
    }
    if (status == 0 && ferror(file)) {
        cli_error(command, "@%s: cannot read the list (%s)", list_path, strerror(errno));
        status = -1;
    }
    if (status == 0 && list->count == before) {
        cli_error(command, "@%s: the list names no files", list_path);
        status = -1;
    }
    free(line);
    free(folder);
    fclose(file);
    return status;
}

int cli_paths_expand(const char *command, const char *argument, cli_path_list *list)
{
    if (argument[0] == '@') {
        if (argument[1] == '\0') {
            cli_error(command, "'@': give the list file's name, as @LIST.txt");
            return -1;
        }
        return expand_list_file(command, argument + 1, list);
    }
    return expand_entry(command, argument, list);
}
