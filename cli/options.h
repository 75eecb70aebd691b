/* Shared command-line machinery of the mdnmf tool: exit codes, one-line
 * error messages, validated number parsing, and option tables that drive
 * getopt_long, the usage text and the parsing of parameter fields (of an
 * mdnmf_params, or of a bigger struct such as mdnmf_separator_params). */
#ifndef MDNMF_CLI_OPTIONS_H
#define MDNMF_CLI_OPTIONS_H

#include "mdnmf.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes, documented in `mdnmf --help` and docs/cli.md. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_RUNTIME = 1,      /* bad data, unreadable or unwritable file, failed fit */
    CLI_EXIT_USAGE = 2,        /* bad command line */
    CLI_EXIT_INTERRUPTED = 130 /* SIGINT: 128 + 2, as shells report it; the fit
                                  commands also for SIGTERM and SIGHUP (one code
                                  for "stopped on request, nothing written") */
};

/* One line on stderr: "<program> <command>: <formatted text>" (program
 * cli_program).  Newlines inside the text (e.g. from a library message)
 * become spaces: one error, one line. */
void cli_error(const char *command, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* One line about a file: "mdnmf <command>: <path>: <message>", or just the
 * message when it already names the path (the library's file functions
 * quote the path in their messages). */
void cli_error_about(const char *command, const char *path, const char *message);

/* The program the messages and usage texts name: "mdnmf" unless the
 * program says otherwise (mdnmf-mpi sets "mdnmf-mpi" before parsing). */
extern const char *cli_program;

/* Where cli_error's lines go instead of stderr (NULL: stderr again): the
 * line without its newline.  mdnmf-mpi holds them until its processes
 * agree which one reports a failure (cli/host.h). */
typedef void (*cli_error_sink)(void *user, const char *line);
void cli_set_error_sink(cli_error_sink sink, void *user);

/* What a table option stores, and how its value is parsed and shown. */
typedef enum cli_kind {
    CLI_KIND_TEXT,   /* a string (file name, choice handled by the command) */
    CLI_KIND_FLAG,   /* no value; sets an int field to 1 */
    CLI_KIND_INT,    /* int field of mdnmf_params */
    CLI_KIND_THREADS,/* int, 0..MDNMF_MAX_THREADS: the `threads` of the library */
    CLI_KIND_INT64,  /* int64_t field */
    CLI_KIND_UINT64, /* uint64_t field */
    CLI_KIND_DOUBLE, /* double field */
    CLI_KIND_CHOICE, /* an enum field (int-sized) named by `choices` */
    /* Per-source values: a comma list "64,32" into an array field of
     * MDNMF_MAX_SOURCES entries; cli_spread_lists then checks the count
     * against the number of sources and copies a single value to all. */
    CLI_KIND_INT64_LIST,  /* int64_t[MDNMF_MAX_SOURCES] */
    CLI_KIND_DOUBLE_LIST  /* double[MDNMF_MAX_SOURCES] */
} cli_kind;

/* The --threads text of every command that runs the library. */
#define CLI_THREADS_HELP                                                                  \
    "parts the work is split into, which fixes the results; as many run at once as the " \
    "machine's load leaves cores for; 0 = one per core (or OMP_NUM_THREADS)"

/* Marks an option that does not write a parameter field. */
#define CLI_NO_FIELD ((size_t)-1)

/* One command-line option.  Options with a `field` parse straight into the
 * command's parameter struct (an mdnmf_params unless the command says
 * otherwise, see cli_parse_options) and print their default from the
 * library's defaults function, so no default number is ever written twice. */
typedef struct cli_option {
    const char *long_name;
    int key;                   /* short letter, or a code >= 256 for long-only */
    cli_kind kind;
    const char *metavar;       /* shown in the usage; NULL for flags */
    size_t field;              /* offsetof(<parameter struct>, ...) or CLI_NO_FIELD */
    double minimum;            /* smallest accepted value of a number */
    const char *const *choices;/* CLI_KIND_CHOICE: names indexed by enum value;
                                  list kinds: words taken besides numbers,
                                  handed to store_text (NULL-terminated) */
    const char *default_text;  /* shown instead of the params default, if set */
    const char *help;
} cli_option;

/* --init-h-steps of the fitting commands: `key` their code for it, `field`
 * the offset of the mdnmf_params init_H_steps in their parameter struct. */
#define CLI_INIT_H_STEPS_OPTION(key, field)                                                \
    {"init-h-steps", key, CLI_KIND_INT, "N", field, 0, NULL, NULL,                        \
     "update steps of the initial H of a fit, 0 = as many as the test epochs; 1 lowers "   \
     "the basis's reconstruction error but separates worse (docs/algorithm.md)"}

/* The --help entry every command's table ends with. */
#define CLI_HELP_OPTION \
    {"help", 'h', CLI_KIND_FLAG, NULL, CLI_NO_FIELD, 0, NULL, NULL, "show this help and exit"}

/* Where a command's parse starts and what it knows about itself. */
typedef struct cli_command {
    const char *name;     /* "fit" */
    const char *synopsis; /* the usage line after "mdnmf " */
    const char *summary;  /* one sentence */
    const cli_option *options;
    size_t option_count;
} cli_command;

/* What cli_parse_command found. */
typedef enum cli_parse_result {
    CLI_PARSED,      /* go on */
    CLI_PARSE_HELP,  /* --help: the usage was printed to stdout; exit 0 */
    CLI_PARSE_FAILED /* one error line was printed; exit CLI_EXIT_USAGE */
} cli_parse_result;

/* Called for table options without a params field (file names, flags the
 * command keeps itself); returns 0, or -1 after printing one line. */
typedef int (*cli_store_text)(void *context, const cli_option *option, const char *value);

/* Parse a command line (argv[0] = the command's name) over its table:
 * options with a params field are parsed into `params` and, if `given` is
 * not NULL, marked in given[index in the table]; "help" ('h') prints the
 * usage; all other options go to `store_text`.  Operands are refused, and
 * so is a command line without a required option (default_text
 * cli_required; such options must have a short key). */
cli_parse_result cli_parse_command(const cli_command *command, int argc, char **argv,
                                   mdnmf_params *params, int *given, cli_store_text store_text,
                                   void *context);

/* The same for a command that also takes operands (FILE...) anywhere on
 * the line ("--" ends the options): operands (room for argc entries)
 * receives them in order, pointers into argv, and *operand_count their
 * number. */
cli_parse_result cli_parse_command_operands(const cli_command *command, int argc, char **argv,
                                            mdnmf_params *params, int *given,
                                            cli_store_text store_text, void *context,
                                            const char **operands, int *operand_count);

/* The same over any parameter struct: fields are offsets into `target`,
 * and the usage shows the defaults read from `defaults` (a struct of the
 * same type, filled by the library's defaults function).  given[i] is the
 * number of values option i received: 0 if absent, the list length for a
 * list option, else 1. */
cli_parse_result cli_parse_options(const cli_command *command, int argc, char **argv,
                                   void *target, const void *defaults, int *given,
                                   cli_store_text store_text, void *context);

/* How a command goes on after its parse: -1 to go on (CLI_PARSED), else the
 * exit code to return (CLI_EXIT_OK after --help, CLI_EXIT_USAGE after the
 * error line).  Use: `int code = cli_parse_exit(cli_parse_command(...));
 * if (code >= 0) return code;`. */
int cli_parse_exit(cli_parse_result result);

/* Parse only (the option-parser fuzzer, fuzz/fuzz_cli.c, sets it; nothing
 * else does): cli_parse_exit then turns CLI_PARSED into CLI_EXIT_OK, so a
 * command returns right after its options are parsed, before it reads,
 * fits or writes anything. */
extern int cli_parse_only;

/* After parsing: every list option given with one value gets it for all
 * `sources`; one given with another count than 1 or `sources` is an error
 * naming the option, e.g. "-d/--atoms: 3 values for 2 sources (<hint>):
 * give one value for all or one per source".  Returns 0, or -1 after
 * printing one line. */
int cli_spread_lists(const cli_command *command, void *target, const int *given, int sources,
                     const char *sources_hint);

/* Copy the params field of `option` from `from` to `to`. */
void cli_option_copy(const cli_option *option, const mdnmf_params *from, mdnmf_params *to);

/* Print the usage of `command` to `out`: synopsis, summary, every option
 * with its default (from mdnmf_params_default) and the exit codes. */
void cli_print_usage(FILE *out, const cli_command *command);
/* The same with the defaults read from `defaults` (see cli_parse_options). */
void cli_print_usage_with(FILE *out, const cli_command *command, const void *defaults);

/* The exit-code paragraph shared by every usage text. */
void cli_print_exit_codes(FILE *out);

/* A command made of subcommands ("mdnmf separator fit", "mdnmf data mix"). */
typedef struct cli_subcommand {
    const char *word;                 /* "fit" */
    const char *summary;              /* one line in the group's usage */
    int (*run)(int argc, char **argv);
} cli_subcommand;

typedef struct cli_group {
    const cli_command *command;       /* the group's own name and summary */
    const char *synopsis;             /* the usage lines after "usage: " */
    const cli_subcommand *subcommands;
    int count;
} cli_group;

/* Run the subcommand argv[1] names (its argv[0] is the word), or print the
 * group's usage for --help (exit 0) or a missing or unknown word (exit 2). */
int cli_run_group(const cli_group *group, int argc, char **argv);

/* Validated number parsing.  Each accepts the whole text only (no leading
 * blanks, no trailing junk), checks the range [minimum, type max] and, for
 * doubles, refuses NaN and infinities.  On failure each prints one line
 * naming the command and option and returns -1. */
int cli_parse_int(const char *command, const char *option, const char *text, int minimum,
                  int *out);
int cli_parse_int64(const char *command, const char *option, const char *text,
                    int64_t minimum, int64_t *out);
/* 0..MDNMF_MAX_THREADS. */
int cli_parse_threads(const char *command, const char *option, const char *text, int *out);
int cli_parse_uint64(const char *command, const char *option, const char *text,
                     uint64_t *out);
/* A comma list of at most `capacity` numbers >= minimum ("0,0.05,0.1",
 * e.g. --tau-grid) into out[0..*count). */
int cli_parse_double_list(const char *command, const char *option, const char *text,
                          double minimum, double *out, int capacity, int *count);
/* The audio features (mdnmf_audio_params): --spectrum magnitude|power into
 * *power (0 or 1), --context 0..MDNMF_MAX_CONTEXT. */
int cli_parse_spectrum(const char *command, const char *text, int *power);
int cli_parse_context(const char *command, const char *text, int *context);
int cli_parse_double(const char *command, const char *option, const char *text,
                     double minimum, double *out);
/* `text` must be one of `choices[0..count-1]`; *out is its index. */
int cli_parse_choice(const char *command, const char *option, const char *text,
                     const char *const *choices, int count, int *out);

/* "a, b, c": the first `count` names (or all of a NULL-terminated table, for
 * count < 0) joined by ", " into out (truncated to size). */
void cli_join_names(const char *const *names, int count, char *out, size_t size);

/* `prefix` and argv[0..argc) joined by spaces, e.g. the command line a
 * report says it was made with; malloc'ed, NULL if out of memory. */
char *cli_command_line(const char *prefix, int argc, char **argv);

/* default_text of a required option: the usage shows "(required)". */
extern const char cli_required[];

/* Names of the library's enums, indexed by their values and NULL-terminated:
 * the library's own tables (mdnmf_mode_names, ...), under the names the
 * option tables use. */
#define cli_init_names mdnmf_init_names               /* exemplar, random */
#define cli_true_sample_names mdnmf_true_sample_names /* std, adv, min */
#define cli_metric_names mdnmf_metric_names           /* psnr, mse (mdnmf_metric) */
#define cli_aggregate_names mdnmf_aggregate_names     /* median, mean */
#define cli_mode_names mdnmf_mode_names               /* std, ..., semi_adv (mdnmf_mode) */
#define cli_divergence_names mdnmf_divergence_names   /* fro, kl, is (mdnmf_divergence) */

/* --divergence, the one definition every command that fits or transforms
 * uses: `field` is the offset of an mdnmf_divergence in the command's
 * parameter struct, `default_text` NULL (the params default) or the text
 * of another default ("the model's"). */
enum { CLI_OPT_DIVERGENCE = 0x4100 };
#define CLI_DIVERGENCE_OPTION(field, default_text)                                          \
    {"divergence", CLI_OPT_DIVERGENCE, CLI_KIND_CHOICE, "fro|kl|is", field, 0,              \
     cli_divergence_names, default_text,                                                    \
     "the divergence between the data and W H that is minimised: Frobenius, "               \
     "Kullback-Leibler (the usual choice for magnitude spectrograms) or Itakura-Saito"}

#endif
