/* PATHS arguments of the audio commands (`mdnmf denoise`, `mdnmf experiment
 * speech`): each names a recording, a folder of recordings or a list.
 *
 *   FILE       taken as it is, whatever its name (reading says if it is not
 *              audio)
 *   FOLDER     every audio file below it, recursively (symbolic links
 *              followed, loops skipped), by file-name extension (wav, flac,
 *              ogg, oga, opus, aiff, aif, aifc, au, snd, caf, w64, rf64,
 *              mp3; any case), in byte-wise sorted order of their paths
 *   @LIST.txt  one FILE or FOLDER per line; blank lines and lines starting
 *              with '#' are skipped; relative paths are relative to the
 *              list's own folder
 *
 * A folder without audio files and an empty list are errors: a typo must
 * not turn into "trained on nothing". */
#ifndef MDNMF_CLI_AUDIO_PATHS_H
#define MDNMF_CLI_AUDIO_PATHS_H

#include <stddef.h>

typedef struct cli_path_list {
    char **paths; /* malloc'ed strings, in order */
    size_t count;
    size_t capacity;
} cli_path_list;

/* Append the files `argument` names to `list`.  Returns 0, or -1 after one
 * line "mdnmf COMMAND: ..." naming the argument (missing, unreadable, no
 * audio inside, out of memory). */
int cli_paths_expand(const char *command, const char *argument, cli_path_list *list);

/* 1 if the file name has one of the audio extensions above. */
int cli_paths_is_audio_name(const char *name);

/* The file name without folder and extension ("a/b/hello.wav" -> "hello"),
 * malloc'ed; NULL when out of memory. */
char *cli_paths_stem(const char *path);

void cli_paths_free(cli_path_list *list);

#endif
