/* libFuzzer harness: the command line's option parser.
 *
 * The input is argv after "mdnmf", its arguments separated by NUL bytes.
 * The tool's own main (cli/main.c, compiled with main renamed to
 * mdnmf_cli_main) dispatches to the commands and groups as it does for a
 * user; cli_parse_only makes each command return once its options are
 * parsed, so nothing is read, fitted or written.  `mdnmf experiment` is left
 * out: it execs another program with the arguments, before any parsing. */
#include "options.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int mdnmf_cli_main(int argc, char **argv);

enum { MAX_ARGUMENTS = 64 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cli_parse_only = 1;
    /* A copy with a final NUL, so that every argument is a C string. */
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    char *argv[MAX_ARGUMENTS + 2];
    int argc = 0;
    argv[argc++] = "mdnmf";
    for (size_t at = 0; at < size && argc <= MAX_ARGUMENTS; at += strlen(text + at) + 1)
        argv[argc++] = text + at;
    argv[argc] = NULL;
    if (!(argc > 1 && strcmp(argv[1], "experiment") == 0))
        mdnmf_cli_main(argc, argv);
    free(text);
    return 0;
}
