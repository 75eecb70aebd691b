/* Shared option parsing of the mdnmf tool (see options.h). */
#define _POSIX_C_SOURCE 200809L

#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Enum fields are stored through an int pointer (CLI_KIND_CHOICE). */
_Static_assert(sizeof(mdnmf_init) == sizeof(int), "enum fields must be int-sized");
_Static_assert(sizeof(mdnmf_true_sample) == sizeof(int), "enum fields must be int-sized");
_Static_assert(sizeof(mdnmf_mode) == sizeof(int), "enum fields must be int-sized");
_Static_assert(sizeof(mdnmf_metric) == sizeof(int), "enum fields must be int-sized");
_Static_assert(sizeof(mdnmf_aggregate) == sizeof(int), "enum fields must be int-sized");
_Static_assert(sizeof(mdnmf_divergence) == sizeof(int), "enum fields must be int-sized");

const char cli_required[] = "required";

const char *cli_program = "mdnmf";

static cli_error_sink error_sink;
static void *error_sink_user;

void cli_set_error_sink(cli_error_sink sink, void *user)
{
    error_sink = sink;
    error_sink_user = user;
}

void cli_error(const char *command, const char *format, ...)
{
    char text[2048];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    for (char *c = text; *c; c++) {
        if (*c == '\n' || *c == '\r') {
            *c = ' ';
        }
    }
    char line[2200];
    if (command) {
        snprintf(line, sizeof line, "%s %s: %s", cli_program, command, text);
    } else {
        snprintf(line, sizeof line, "%s: %s", cli_program, text);
    }
    if (error_sink) {
        error_sink(error_sink_user, line);
    } else {
        fprintf(stderr, "%s\n", line);
    }
}

void cli_error_about(const char *command, const char *path, const char *message)
{
    if (strstr(message, path)) {
        cli_error(command, "%s", message);
    } else {
        cli_error(command, "%s: %s", path, message);
    }
}

/* ------------------------------------------------------------- numbers */

/* strtol and friends skip leading blanks and accept an empty number; a
 * command-line value must be exactly a number. */
static int starts_like_a_number(const char *text)
{
    return text[0] != '\0' && !isspace((unsigned char)text[0]);
}

int cli_parse_int(const char *command, const char *option, const char *text, int minimum,
                  int *out)
{
    int64_t value;
    if (cli_parse_int64(command, option, text, minimum, &value) != 0) {
        return -1;
    }
    if (value > INT_MAX) {
        cli_error(command, "%s: '%s' is too large: give a whole number <= %d", option, text,
                  INT_MAX);
        return -1;
    }
    *out = (int)value;
    return 0;
}

int cli_parse_double_list(const char *command, const char *option, const char *text,
                          double minimum, double *out, int capacity, int *count)
{
    char *copy = strdup(text);
    if (!copy) {
        cli_error(command, "out of memory");
        return -1;
    }
    *count = 0;
    int status = 0;
    char *rest = copy;
    for (char *item = strtok_r(copy, ",", &rest); item && !status;
         item = strtok_r(NULL, ",", &rest)) {
        if (*count >= capacity) {
            cli_error(command, "%s: at most %d values", option, capacity);
            status = -1;
        } else {
            status = cli_parse_double(command, option, item, minimum, &out[(*count)++]);
        }
    }
    free(copy);
    if (!status && *count == 0) {
        cli_error(command, "%s: '%s' has no values", option, text);
        status = -1;
    }
    return status;
}

int cli_parse_spectrum(const char *command, const char *text, int *power)
{
    if (strcmp(text, "magnitude") == 0 || strcmp(text, "power") == 0) {
        *power = strcmp(text, "power") == 0;
        return 0;
    }
    cli_error(command, "--spectrum: '%s' is neither 'magnitude' nor 'power'", text);
    return -1;
}

int cli_parse_context(const char *command, const char *text, int *context)
{
    int value;
    if (cli_parse_int(command, "--context", text, 0, &value) != 0)
        return -1;
    if (value > MDNMF_MAX_CONTEXT) {
        cli_error(command, "--context: %d is more than %d frames", value, MDNMF_MAX_CONTEXT);
        return -1;
    }
    *context = value;
    return 0;
}

int cli_parse_threads(const char *command, const char *option, const char *text, int *out)
{
    int value;
    if (cli_parse_int(command, option, text, 0, &value) != 0)
        return -1;
    /* Each part costs a work slice; 100000 of them crashed libgomp (issue 12). */
    if (value > MDNMF_MAX_THREADS) {
        cli_error(command, "%s: '%s' is too many: give 0 (one per core) to %d", option, text,
                  MDNMF_MAX_THREADS);
        return -1;
    }
    *out = value;
    return 0;
}

int cli_parse_int64(const char *command, const char *option, const char *text,
                    int64_t minimum, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long value = starts_like_a_number(text) ? strtoll(text, &end, 10) : 0;
    if (!starts_like_a_number(text) || *end != '\0') {
        cli_error(command, "%s: '%s' is not a whole number: give an integer >= %" PRId64,
                  option, text, minimum);
        return -1;
    }
    if (errno == ERANGE || value < minimum) {
        cli_error(command, "%s: '%s' is out of range: give an integer >= %" PRId64, option,
                  text, minimum);
        return -1;
    }
    *out = (int64_t)value;
    return 0;
}

int cli_parse_uint64(const char *command, const char *option, const char *text,
                     uint64_t *out)
{
    char *end = NULL;
    /* strtoull would accept "-1" as 2^64 - 1. */
    int plausible = starts_like_a_number(text) && text[0] != '-';
    errno = 0;
    unsigned long long value = plausible ? strtoull(text, &end, 10) : 0;
    if (!plausible || *end != '\0') {
        cli_error(command, "%s: '%s' is not a whole number: give an integer from 0 to %" PRIu64,
                  option, text, UINT64_MAX);
        return -1;
    }
    if (errno == ERANGE) {
        cli_error(command, "%s: '%s' is too large: give an integer from 0 to %" PRIu64, option,
                  text, UINT64_MAX);
        return -1;
    }
    *out = (uint64_t)value;
    return 0;
}

int cli_parse_double(const char *command, const char *option, const char *text,
                     double minimum, double *out)
{
    char *end = NULL;
    errno = 0;
    double value = starts_like_a_number(text) ? strtod(text, &end) : 0.0;
    if (!starts_like_a_number(text) || *end != '\0') {
        cli_error(command, "%s: '%s' is not a number: give a number >= %g", option, text,
                  minimum);
        return -1;
    }
    /* ERANGE also flags harmless underflow to a tiny value; only overflow
     * (or an explicit "inf"/"nan") is unusable. */
    if (!isfinite(value) || (errno == ERANGE && fabs(value) > 1.0)) {
        cli_error(command, "%s: '%s' is not a finite number: give a number >= %g", option,
                  text, minimum);
        return -1;
    }
    if (value < minimum) {
        cli_error(command, "%s: '%s' is out of range: give a number >= %g", option, text,
                  minimum);
        return -1;
    }
    *out = value;
    return 0;
}

char *cli_command_line(const char *prefix, int argc, char **argv)
{
    size_t size = strlen(prefix) + 1;
    for (int i = 0; i < argc; i++) {
        size += strlen(argv[i]) + 1;
    }
    char *line = malloc(size);
    if (line) {
        strcpy(line, prefix);
        for (int i = 0; i < argc; i++) {
            strcat(line, " ");
            strcat(line, argv[i]);
        }
    }
    return line;
}

static int choice_count(const char *const *choices)
{
    int count = 0;
    while (choices[count]) {
        count++;
    }
    return count;
}

void cli_join_names(const char *const *names, int count, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; (count < 0 ? names[i] != NULL : i < count) && used < size; i++) {
        int n = snprintf(out + used, size - used, "%s%s", i ? ", " : "", names[i]);
        if (n < 0) {
            break;
        }
        used += (size_t)n;
    }
}

int cli_parse_choice(const char *command, const char *option, const char *text,
                     const char *const *choices, int count, int *out)
{
    for (int i = 0; i < count; i++) {
        if (strcmp(text, choices[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    char names[256];
    cli_join_names(choices, count, names, sizeof names);
    cli_error(command, "%s: '%s' is not one of: %s", option, text, names);
    return -1;
}

/* ----------------------------------------------------- table options */

static void *field_address(void *target, const cli_option *option)
{
    return (char *)target + option->field;
}

static int is_list(cli_kind kind)
{
    return kind == CLI_KIND_INT64_LIST || kind == CLI_KIND_DOUBLE_LIST;
}

/* A list option with `choices` also takes those words ("--tau-a auto"),
 * which go to the command's store_text instead of the field. */
static int is_word_value(const cli_option *option, const char *value)
{
    if (!is_list(option->kind) || !option->choices || !value) {
        return 0;
    }
    for (int i = 0; option->choices[i]; i++) {
        if (strcmp(value, option->choices[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static size_t field_size(cli_kind kind)
{
    switch (kind) {
    case CLI_KIND_FLAG:
    case CLI_KIND_INT:
    case CLI_KIND_THREADS:
    case CLI_KIND_CHOICE:
        return sizeof(int);
    case CLI_KIND_INT64:
        return sizeof(int64_t);
    case CLI_KIND_UINT64:
        return sizeof(uint64_t);
    case CLI_KIND_DOUBLE:
        return sizeof(double);
    case CLI_KIND_INT64_LIST:
        return MDNMF_MAX_SOURCES * sizeof(int64_t);
    case CLI_KIND_DOUBLE_LIST:
        return MDNMF_MAX_SOURCES * sizeof(double);
    case CLI_KIND_TEXT:
        break;
    }
    return 0;
}

/* "-d/--atoms" or "--epochs": named both ways, the user may have typed either. */
static void option_display_name(const cli_option *option, char *name, size_t size)
{
    if (option->key < 256) {
        snprintf(name, size, "-%c/--%s", option->key, option->long_name);
    } else {
        snprintf(name, size, "--%s", option->long_name);
    }
}

/* A comma list "64,32,16" into the array field: each item checked like a
 * single value.  Returns the number of items, or -1 after one line. */
static int list_store(const char *command, const char *name, const cli_option *option,
                      const char *value, void *field)
{
    char *items = strdup(value);
    if (!items) {
        cli_error(command, "out of memory");
        return -1;
    }
    int count = 0;
    char *item = items;
    for (;;) {
        char *comma = strchr(item, ',');
        if (comma) {
            *comma = '\0';
        }
        if (count == MDNMF_MAX_SOURCES) {
            cli_error(command, "%s: '%s' has more than %d values: at most one per source",
                      name, value, MDNMF_MAX_SOURCES);
            count = -1;
            break;
        }
        int failed = option->kind == CLI_KIND_INT64_LIST
                         ? cli_parse_int64(command, name, item, (int64_t)option->minimum,
                                           (int64_t *)field + count)
                         : cli_parse_double(command, name, item, option->minimum,
                                            (double *)field + count);
        if (failed) {
            count = -1;
            break;
        }
        count++;
        if (!comma) {
            break;
        }
        item = comma + 1;
    }
    free(items);
    return count;
}

/* One value into a scalar field; 0, or -1 after one line. */
static int option_store_scalar(const char *command, const char *name, const cli_option *option,
                               const char *value, void *field)
{
    switch (option->kind) {
    case CLI_KIND_INT:
        return cli_parse_int(command, name, value, (int)option->minimum, (int *)field);
    case CLI_KIND_THREADS:
        return cli_parse_threads(command, name, value, (int *)field);
    case CLI_KIND_INT64:
        return cli_parse_int64(command, name, value, (int64_t)option->minimum,
                               (int64_t *)field);
    case CLI_KIND_UINT64:
        return cli_parse_uint64(command, name, value, (uint64_t *)field);
    case CLI_KIND_DOUBLE:
        return cli_parse_double(command, name, value, option->minimum, (double *)field);
    case CLI_KIND_CHOICE:
        return cli_parse_choice(command, name, value, option->choices,
                                choice_count(option->choices), (int *)field);
    case CLI_KIND_FLAG:
    case CLI_KIND_INT64_LIST:
    case CLI_KIND_DOUBLE_LIST:
    case CLI_KIND_TEXT:
        break;
    }
    cli_error(command, "%s: internal error: option has no parameter field", name);
    return -1;
}

/* Parse `value` into the field of a table option, checking its range.
 * Returns the number of values stored (1 except for lists), or -1 after
 * printing one error line. */
static int option_store(const char *command, const cli_option *option, const char *value,
                        void *target)
{
    char name[64];
    option_display_name(option, name, sizeof name);
    void *field = field_address(target, option);
    switch (option->kind) {
    case CLI_KIND_FLAG:
        *(int *)field = 1;
        return 1;
    case CLI_KIND_INT64_LIST:
    case CLI_KIND_DOUBLE_LIST:
        return list_store(command, name, option, value, field);
    default:
        break;
    }
    return option_store_scalar(command, name, option, value, field) == 0 ? 1 : -1;
}

void cli_option_copy(const cli_option *option, const mdnmf_params *from, mdnmf_params *to)
{
    memcpy(field_address(to, option), field_address((mdnmf_params *)from, option),
           field_size(option->kind));
}

/* ------------------------------------------------------------- parser */

/* The result of one getopt_long step over a command's table. */
typedef enum parse_step {
    STEP_OPTION,  /* *option is the table entry matched; *value its text */
    STEP_OPERAND, /* *value is an operand (only when operands are taken) */
    STEP_DONE,    /* all options consumed; operands may follow */
    STEP_ERROR   /* an unknown option or missing value: message printed */
} parse_step;

typedef struct option_parser {
    const cli_command *command;
    int argc;
    char **argv;
    const char **operands; /* NULL: operands are refused */
    int operand_count;
    struct option *long_options; /* built from the table */
    char *short_options;
} option_parser;

static int takes_value(const cli_option *option)
{
    return option->kind != CLI_KIND_FLAG;
}

static void parser_free(option_parser *parser)
{
    free(parser->long_options);
    free(parser->short_options);
    parser->long_options = NULL;
    parser->short_options = NULL;
}

static int parser_init(option_parser *parser, const cli_command *command, int argc, char **argv,
                       const char **operands)
{
    size_t count = command->option_count;
    parser->command = command;
    parser->argc = argc;
    parser->argv = argv;
    parser->operands = operands;
    parser->operand_count = 0;
    parser->long_options = calloc(count + 1, sizeof *parser->long_options);
    /* ':' first: getopt reports a missing value as ':' and prints nothing;
     * before it '-' (operands taken): getopt returns each operand, in order,
     * as key 1 wherever it stands, whatever POSIXLY_CORRECT says. */
    parser->short_options = calloc(2 * count + 3, 1);
    if (!parser->long_options || !parser->short_options) {
        parser_free(parser);
        cli_error(command->name, "out of memory");
        return -1;
    }
    char *s = parser->short_options;
    if (operands) {
        *s++ = '-';
    }
    *s++ = ':';
    for (size_t i = 0; i < count; i++) {
        const cli_option *option = &command->options[i];
        parser->long_options[i] = (struct option){
            option->long_name, takes_value(option) ? required_argument : no_argument, NULL,
            option->key};
        if (option->key < 256) {
            *s++ = (char)option->key;
            if (takes_value(option)) {
                *s++ = ':';
            }
        }
    }
    opterr = 0;
    optind = 0; /* 0: glibc's getopt starts afresh, with this call's ordering */
    return 0;
}

static const cli_option *option_by_key(const cli_command *command, int key)
{
    for (size_t i = 0; i < command->option_count; i++) {
        if (command->options[i].key == key) {
            return &command->options[i];
        }
    }
    return NULL;
}

/* The option as the user typed it, without any "=value". */
static void typed_option(const option_parser *parser, char *out, size_t size)
{
    const char *arg = optind > 0 && optind <= parser->argc ? parser->argv[optind - 1] : "";
    if (optopt != 0 && strncmp(arg, "--", 2) != 0) {
        snprintf(out, size, "-%c", optopt);
        return;
    }
    size_t length = strcspn(arg, "=");
    snprintf(out, size, "%.*s", (int)length, arg);
}

/* Long names that start with `prefix` (getopt_long accepts unique ones). */
static int count_prefix_matches(const cli_command *command, const char *prefix)
{
    int matches = 0;
    size_t length = strlen(prefix);
    for (size_t i = 0; i < command->option_count; i++) {
        if (strncmp(command->options[i].long_name, prefix, length) == 0) {
            matches++;
        }
    }
    return matches;
}

static void report_bad_option(const option_parser *parser)
{
    const char *name = parser->command->name;
    char typed[128];
    typed_option(parser, typed, sizeof typed);
    if (strncmp(typed, "--", 2) == 0) {
        int matches = count_prefix_matches(parser->command, typed + 2);
        if (matches == 1 && strchr(parser->argv[optind - 1], '=')) {
            cli_error(NULL, "option '%s' takes no value (see '%s %s --help')", typed, cli_program, name);
            return;
        }
        if (matches > 1) {
            cli_error(NULL, "ambiguous option '%s' (see '%s %s --help')", typed, cli_program, name);
            return;
        }
    }
    cli_error(NULL, "unknown option '%s' (see '%s %s --help')", typed, cli_program, name);
}

static parse_step parser_next(option_parser *parser, const cli_option **option, const char **value)
{
    optopt = 0;
    int key = getopt_long(parser->argc, parser->argv, parser->short_options,
                          parser->long_options, NULL);
    if (key == -1) {
        return STEP_DONE;
    }
    if (key == 1) {
        *value = optarg;
        return STEP_OPERAND;
    }
    if (key == ':') {
        char typed[128];
        typed_option(parser, typed, sizeof typed);
        cli_error(parser->command->name, "option '%s' needs a value (see '%s %s --help')",
                  typed, cli_program, parser->command->name);
        return STEP_ERROR;
    }
    *option = key == '?' ? NULL : option_by_key(parser->command, key);
    if (!*option) {
        report_bad_option(parser);
        return STEP_ERROR;
    }
    *value = optarg;
    return STEP_OPTION;
}

/* The operands after "--" join the others; without operands, any is refused. */
static int parser_end_operands(option_parser *parser)
{
    if (parser->operands) {
        while (optind < parser->argc) {
            parser->operands[parser->operand_count++] = parser->argv[optind++];
        }
        return 0;
    }
    if (optind < parser->argc) {
        cli_error(parser->command->name, "unexpected argument '%s' (see '%s %s --help')",
                  parser->argv[optind], cli_program, parser->command->name);
        return -1;
    }
    return 0;
}

/* Every option whose default_text is cli_required was given (help aside). */
static int required_options_given(const cli_command *command, const int *given)
{
    for (size_t i = 0; i < command->option_count; i++) {
        const cli_option *option = &command->options[i];
        if (option->default_text == cli_required && !given[i]) {
            cli_error(command->name, "missing -%c %s (see '%s %s --help')", option->key,
                      option->metavar, cli_program, command->name);
            return 0;
        }
    }
    return 1;
}

cli_parse_result cli_parse_command(const cli_command *command, int argc, char **argv,
                                   mdnmf_params *params, int *given, cli_store_text store_text,
                                   void *context)
{
    return cli_parse_command_operands(command, argc, argv, params, given, store_text, context,
                                      NULL, NULL);
}

static cli_parse_result parse_options(const cli_command *command, int argc, char **argv,
                                      void *target, const void *defaults, int *given,
                                      cli_store_text store_text, void *context,
                                      const char **operands, int *operand_count)
{
    option_parser parser;
    int *seen = calloc(command->option_count, sizeof *seen);
    if (!seen || parser_init(&parser, command, argc, argv, operands) != 0) {
        free(seen);
        return CLI_PARSE_FAILED;
    }
    const cli_option *option = NULL;
    const char *value = NULL;
    parse_step step = STEP_DONE;
    int failed = 0;
    int help = 0;
    while (!failed && (step = parser_next(&parser, &option, &value)) != STEP_DONE &&
           step != STEP_ERROR) {
        if (step == STEP_OPERAND) {
            parser.operands[parser.operand_count++] = value;
            continue;
        }
        int *count = &seen[option - command->options];
        *count = 1;
        if (option->key == 'h') {
            help = 1;
        } else if (is_word_value(option, value)) {
            failed = store_text(context, option, value) != 0;
            *count = 0; /* no list values: cli_spread_lists leaves the field */
        } else if (option->field != CLI_NO_FIELD) {
            *count = option_store(command->name, option, value, target);
            failed = *count < 0;
        } else {
            failed = store_text(context, option, value) != 0;
        }
    }
    failed = failed || step == STEP_ERROR || parser_end_operands(&parser) != 0;
    if (operand_count) {
        *operand_count = parser.operand_count;
    }
    parser_free(&parser);
    if (!failed && help) {
        cli_print_usage_with(stdout, command, defaults);
    } else if (!failed) {
        failed = !required_options_given(command, seen);
    }
    if (given) {
        memcpy(given, seen, command->option_count * sizeof *seen);
    }
    free(seen);
    return failed ? CLI_PARSE_FAILED : help ? CLI_PARSE_HELP : CLI_PARSED;
}

cli_parse_result cli_parse_command_operands(const cli_command *command, int argc, char **argv,
                                            mdnmf_params *params, int *given,
                                            cli_store_text store_text, void *context,
                                            const char **operands, int *operand_count)
{
    mdnmf_params defaults;
    mdnmf_params_default(&defaults);
    return parse_options(command, argc, argv, params, &defaults, given, store_text, context,
                         operands, operand_count);
}

cli_parse_result cli_parse_options(const cli_command *command, int argc, char **argv,
                                   void *target, const void *defaults, int *given,
                                   cli_store_text store_text, void *context)
{
    return parse_options(command, argc, argv, target, defaults, given, store_text, context,
                         NULL, NULL);
}

int cli_parse_only = 0;

int cli_parse_exit(cli_parse_result result)
{
    switch (result) {
    case CLI_PARSE_HELP: return CLI_EXIT_OK;
    case CLI_PARSE_FAILED: return CLI_EXIT_USAGE;
    case CLI_PARSED: break;
    }
    return cli_parse_only ? CLI_EXIT_OK : -1;
}

/* -------------------------------------------------------------- usage */

static void format_default(const cli_option *option, const void *defaults, char *out,
                           size_t size)
{
    out[0] = '\0';
    if (option->default_text) {
        snprintf(out, size, "%s", option->default_text);
        return;
    }
    if (option->field == CLI_NO_FIELD) {
        return;
    }
    const void *field = (const char *)defaults + option->field;
    switch (option->kind) {
    case CLI_KIND_FLAG:
        snprintf(out, size, "%s", *(const int *)field ? "on" : "off");
        break;
    case CLI_KIND_INT:
    case CLI_KIND_THREADS:
        snprintf(out, size, "%d", *(const int *)field);
        break;
    case CLI_KIND_INT64:
        snprintf(out, size, "%" PRId64, *(const int64_t *)field);
        break;
    case CLI_KIND_UINT64:
        snprintf(out, size, "%" PRIu64, *(const uint64_t *)field);
        break;
    case CLI_KIND_DOUBLE:
        snprintf(out, size, "%g", *(const double *)field);
        break;
    case CLI_KIND_CHOICE:
        snprintf(out, size, "%s", option->choices[*(const int *)field]);
        break;
    /* Every source starts alike: the first entry stands for all. */
    case CLI_KIND_INT64_LIST:
        snprintf(out, size, "%" PRId64 " each", *(const int64_t *)field);
        break;
    case CLI_KIND_DOUBLE_LIST:
        snprintf(out, size, "%g each", *(const double *)field);
        break;
    case CLI_KIND_TEXT:
        break;
    }
}

enum { USAGE_WIDTH = 79, HELP_COLUMN = 29 };

/* A space the wrapping must not break at: "(default: 0)" stays whole. */
static const char NO_BREAK = '\x01';

/* Print `text` word by word from column HELP_COLUMN, wrapping at
 * USAGE_WIDTH; `column` is where the cursor is now. */
static void print_wrapped(FILE *out, const char *text, int column)
{
    if (column > HELP_COLUMN - 2) {
        fputc('\n', out);
        column = 0;
    }
    fprintf(out, "%*s", HELP_COLUMN - column, "");
    column = HELP_COLUMN;
    while (*text) {
        size_t word = strcspn(text, " ");
        if (column > HELP_COLUMN && column + 1 + (int)word > USAGE_WIDTH) {
            fprintf(out, "\n%*s", HELP_COLUMN, "");
            column = HELP_COLUMN;
        } else if (column > HELP_COLUMN) {
            fputc(' ', out);
            column++;
        }
        for (size_t i = 0; i < word; i++) {
            fputc(text[i] == NO_BREAK ? ' ' : text[i], out);
        }
        column += (int)word;
        text += word;
        text += strspn(text, " ");
    }
    fputc('\n', out);
}

static void print_option(FILE *out, const cli_option *option, const void *defaults)
{
    char left[96];
    char shown_default[160];
    char text[512];
    int used = option->key < 256 ? snprintf(left, sizeof left, "  -%c, ", option->key)
                                 : snprintf(left, sizeof left, "      ");
    snprintf(left + used, sizeof left - (size_t)used, "--%s%s%s", option->long_name,
             option->metavar ? " " : "", option->metavar ? option->metavar : "");
    format_default(option, defaults, shown_default, sizeof shown_default);
    if (option->default_text == cli_required) {
        snprintf(text, sizeof text, "%s (required)", option->help);
    } else if (shown_default[0]) {
        snprintf(text, sizeof text, "%s (default:%c%s)", option->help, NO_BREAK, shown_default);
    } else {
        snprintf(text, sizeof text, "%s", option->help);
    }
    fputs(left, out);
    print_wrapped(out, text, (int)strlen(left));
}

void cli_print_exit_codes(FILE *out)
{
    fprintf(out, "exit codes:\n"
                 "  0    success\n"
                 "  1    runtime or data error (bad data, unreadable or unwritable file,\n"
                 "       failed or diverged fit)\n"
                 "  2    usage error (unknown command or option, bad option value)\n"
                 "  130  interrupted (Ctrl-C; the fit commands also SIGTERM and SIGHUP);\n"
                 "       nothing was written but a --checkpoint\n");
}

void cli_print_usage(FILE *out, const cli_command *command)
{
    mdnmf_params defaults;
    mdnmf_params_default(&defaults);
    cli_print_usage_with(out, command, &defaults);
}

void cli_print_usage_with(FILE *out, const cli_command *command, const void *defaults)
{
    fprintf(out, "usage: %s %s\n\n%s\n\noptions:\n", cli_program, command->synopsis,
            command->summary);
    for (size_t i = 0; i < command->option_count; i++) {
        print_option(out, &command->options[i], defaults);
    }
    fputc('\n', out);
    cli_print_exit_codes(out);
}

/* ------------------------------------------------------- per-source lists */

static void spread_first_value(const cli_option *option, void *field, int sources)
{
    for (int s = 1; s < sources; s++) {
        if (option->kind == CLI_KIND_INT64_LIST) {
            ((int64_t *)field)[s] = ((int64_t *)field)[0];
        } else {
            ((double *)field)[s] = ((double *)field)[0];
        }
    }
}

int cli_spread_lists(const cli_command *command, void *target, const int *given, int sources,
                     const char *sources_hint)
{
    for (size_t i = 0; i < command->option_count; i++) {
        const cli_option *option = &command->options[i];
        if (!is_list(option->kind) || given[i] == 0 || given[i] == sources) {
            continue;
        }
        if (given[i] == 1) {
            spread_first_value(option, field_address(target, option), sources);
            continue;
        }
        char name[64];
        option_display_name(option, name, sizeof name);
        cli_error(command->name, "%s: %d values for %d sources (%s): give one value for all "
                  "or one per source", name, given[i], sources, sources_hint);
        return -1;
    }
    return 0;
}

static void print_group_usage(const cli_group *group, FILE *out)
{
    fprintf(out, "usage: %s\n\n%s\n\ncommands:\n", group->synopsis, group->command->summary);
    for (int i = 0; i < group->count; i++)
        fprintf(out, "  %-7s %s\n", group->subcommands[i].word, group->subcommands[i].summary);
    fprintf(out, "\n'%s %s COMMAND --help' lists a command's options and their defaults.\n\n",
            cli_program, group->command->name);
    cli_print_exit_codes(out);
}

int cli_run_group(const cli_group *group, int argc, char **argv)
{
    if (argc < 2) {
        print_group_usage(group, stderr);
        return CLI_EXIT_USAGE;
    }
    const char *word = argv[1];
    if (strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0) {
        print_group_usage(group, stdout);
        return CLI_EXIT_OK;
    }
    for (int i = 0; i < group->count; i++)
        if (strcmp(word, group->subcommands[i].word) == 0)
            return group->subcommands[i].run(argc - 1, argv + 1);
    cli_error(group->command->name, "unknown %s '%s' (see '%s %s --help')",
              word[0] == '-' ? "option" : "command", word, cli_program, group->command->name);
    return CLI_EXIT_USAGE;
}
