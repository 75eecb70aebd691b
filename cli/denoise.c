/* mdnmf denoise: speech denoising of recordings with a two-source separator
 * (speech, noise) on magnitude spectrograms (SPEC §6 and §7).
 *
 *   mdnmf denoise fit --mode semi|semi_adv --speech PATHS --noisy PATHS -o MODEL.npz
 *   mdnmf denoise fit --mode std|adv --speech PATHS --noise PATHS -o MODEL.npz
 *       Reads every recording at one sample rate, stacks the |STFT| frames
 *       of each group, fits the separator and saves it with its audio
 *       front end (mdnmf_model_set_audio).
 *   mdnmf denoise apply -m MODEL.npz -o OUTDIR [--all-sources] [--relearn-noise] FILE...
 *       Writes OUTDIR/<name>.wav, the speech estimate of each recording
 *       (and OUTDIR/<name>.noise.wav with --all-sources), at the
 *       recording's own rate and length.
 *
 * PATHS: a file, a folder (searched recursively) or @LIST.txt
 * (audio_paths.h).  Every step is a library call (reading,
 * mdnmf_separator_fit_signals, mdnmf_denoiser, writing); this file lists
 * and reads the files, turns failures into one line naming the file, and
 * stages the outputs: nothing is written unless everything succeeded. */
#define _POSIX_C_SOURCE 200809L


#include "audio_paths.h"
#include "commands.h"
#include "inputs.h"
#include "outputs.h"
#include "progress.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NO_FIELD CLI_NO_FIELD

/* ====================================================== command lines */

/* Options and operands apart: the shared parser takes options only, and
 * `apply` takes FILE operands anywhere on the line (as getopt_long would
 * permute them).  "--" ends the options. */
static const cli_option *find_long_option(const cli_command *command, const char *name,
                                          size_t length)
{
    const cli_option *match = NULL;
    int matches = 0;
    for (size_t i = 0; i < command->option_count; i++) {
        const cli_option *option = &command->options[i];
        if (strncmp(option->long_name, name, length) != 0) {
            continue;
        }
        if (option->long_name[length] == '\0') {
            return option; /* exact */
        }
        match = option;
        matches++;
    }
    return matches == 1 ? match : NULL;
}

static const cli_option *find_short_option(const cli_command *command, char key)
{
    for (size_t i = 0; i < command->option_count; i++) {
        if (command->options[i].key == (unsigned char)key) {
            return &command->options[i];
        }
    }
    return NULL;
}

/* How many of the following arguments option argument `arg` consumes. */
static int option_values_after(const cli_command *command, const char *arg)
{
    if (arg[1] == '-') {
        const char *name = arg + 2;
        size_t length = strcspn(name, "=");
        const cli_option *option = find_long_option(command, name, length);
        return option && option->kind != CLI_KIND_FLAG && name[length] != '=' ? 1 : 0;
    }
    for (const char *c = arg + 1; *c; c++) {
        const cli_option *option = find_short_option(command, *c);
        if (option && option->kind != CLI_KIND_FLAG) {
            return c[1] == '\0' ? 1 : 0; /* "-o DIR" or "-oDIR" */
        }
    }
    return 0;
}

/* options_argv (argc + 1 entries) receives argv[0] and the options with
 * their values; operands (argc entries) the rest, in order. */
static void split_operands(const cli_command *command, int argc, char **argv,
                           char **options_argv, int *options_argc, const char **operands,
                           int *operand_count)
{
    int kept = 0, found = 0, only_operands = 0;
    options_argv[kept++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (only_operands || arg[0] != '-' || arg[1] == '\0') {
            operands[found++] = arg;
        } else if (strcmp(arg, "--") == 0) {
            only_operands = 1;
        } else {
            options_argv[kept++] = argv[i];
            if (option_values_after(command, arg) && i + 1 < argc) {
                options_argv[kept++] = argv[++i];
            }
        }
    }
    options_argv[kept] = NULL;
    *options_argc = kept;
    *operand_count = found;
}

/* Reading notes printed once per group instead of once per file. */
typedef struct read_notes {
    int resampled, mixed_down;
    int from_rate; /* a rate files were resampled from (the first seen) */
} read_notes;

static void print_notes(const char *command, const char *group, const read_notes *notes,
                        int rate)
{
    if (notes->resampled) {
        cli_error(command, "note: %d %s file(s) resampled to %d Hz (e.g. from %d Hz)",
                  notes->resampled, group, rate, notes->from_rate);
    }
    if (notes->mixed_down) {
        cli_error(command, "warning: %d %s file(s) have several channels: mixed down to mono",
                  notes->mixed_down, group);
    }
}

/* A silent recording has nothing to learn from or to denoise, and would
 * make every ratio of the front end 0 / 0. */
static int refuse_silence(const char *command, const char *path, const mdnmf_audio *audio,
                          const char *purpose)
{
    if (mdnmf_signal_peak(audio->samples, audio->length) > 0.0f) {
        return 0;
    }
    cli_error(command, "%s: silent (all %" PRId64 " samples are 0): nothing to %s; remove it",
              path, audio->length, purpose);
    return -1;
}

/* ====================================================== mdnmf denoise fit */

static const char *const FIT_COMMAND = "denoise fit";

enum {
    OPT_SPEECH = 256,
    OPT_NOISE,
    OPT_NOISY,
    OPT_MODE,
    OPT_SAMPLE_RATE,
    OPT_N_FFT,
    OPT_HOP_LENGTH,
    OPT_WIN_LENGTH,
    OPT_EPOCHS,
    OPT_TEST_EPOCHS,
    OPT_BATCH_SIZE,
    OPT_ADV_BATCH_SIZE,
    OPT_TAU_A,
    OPT_TAU_W,
    OPT_MU_W,
    OPT_MU_H,
    OPT_BETA,
    OPT_INIT,
    OPT_NORMALIZE,
    OPT_UPDATE_H,
    OPT_TRUE_SAMPLE,
    OPT_WARM_START_EPOCHS,
    OPT_SEED,
    OPT_THREADS,
    OPT_WARM_START,
    OPT_LOSS_LOG,
    OPT_ALL_SOURCES,
    OPT_RELEARN_NOISE,
    OPT_FLOAT
};

#define SEP(name) offsetof(mdnmf_separator_params, name)

/* The paper's speech settings (d = 128 speech and 32 noise atoms, mu_H =
 * 1e-3 and 1e-10, mu_W = 1e-10, tau_A = 1, 100 epochs, 100 H steps). */
static void denoise_defaults(mdnmf_separator_params *p)
{
    mdnmf_separator_params_default(p, 2);
    p->mode = MDNMF_MODE_SEMI_ADV;
    p->d[0] = 128, p->d[1] = 32;
    p->mu_H[0] = 1e-3, p->mu_H[1] = 1e-10;
    p->tau_A[0] = p->tau_A[1] = 1.0;
    p->common.mu_W = 1e-10;
    p->common.epochs = 100;
    p->common.test_epochs = 100;
}

/* Front-end defaults: 512-point FFT, the window as long, hop a quarter. */
enum { DEFAULT_N_FFT = 512 };

static const cli_option FIT_OPTIONS[] = {
    {"mode", OPT_MODE, CLI_KIND_CHOICE, "MODE", SEP(mode), 0, cli_mode_names, NULL,
     "semi or semi_adv (noise learned from --noisy), std or adv (from clean --noise)"},
    {"speech", OPT_SPEECH, CLI_KIND_TEXT, "PATHS", NO_FIELD, 0, NULL, "none",
     "clean speech: a file, a folder (recursively) or @LIST.txt; repeatable"},
    {"noise", OPT_NOISE, CLI_KIND_TEXT, "PATHS", NO_FIELD, 0, NULL, "none",
     "clean noise (modes std, adv); repeatable"},
    {"noisy", OPT_NOISY, CLI_KIND_TEXT, "PATHS", NO_FIELD, 0, NULL, "none",
     "noisy recordings the noise is learned from (semi, semi_adv), or extra adversarial "
     "data (adv); repeatable"},
    {"output", 'o', CLI_KIND_TEXT, "MODEL.npz", NO_FIELD, 0, NULL, cli_required,
     "denoising model to write"},
    {"atoms", 'd', CLI_KIND_INT64_LIST, "DS,DN", SEP(d), 1, NULL, "128,32",
     "atoms of the speech and of the noise basis"},
    {"sample-rate", OPT_SAMPLE_RATE, CLI_KIND_TEXT, "HZ", NO_FIELD, 0, NULL,
     "the first speech file's", "rate every recording is resampled to"},
    {"n-fft", OPT_N_FFT, CLI_KIND_TEXT, "N", NO_FIELD, 0, NULL, "512",
     "FFT size (even); m = N/2 + 1 frequency bins"},
    {"hop-length", OPT_HOP_LENGTH, CLI_KIND_TEXT, "N", NO_FIELD, 0, NULL, "win-length / 4",
     "samples between frames"},
    {"win-length", OPT_WIN_LENGTH, CLI_KIND_TEXT, "N", NO_FIELD, 0, NULL, "n-fft",
     "Hann window length, <= n-fft"},
    {"epochs", OPT_EPOCHS, CLI_KIND_INT, "N", SEP(common.epochs), 0, NULL, NULL,
     "training epochs"},
    {"test-epochs", OPT_TEST_EPOCHS, CLI_KIND_INT, "N", SEP(common.test_epochs), 0, NULL,
     NULL, "update steps of H for fixed bases"},
    {"batch-size", OPT_BATCH_SIZE, CLI_KIND_INT64, "B", SEP(common.batch_size), 0, NULL, NULL,
     "frames per batch (semi modes: also noisy frames), 0 = all"},
    {"adv-batch-size", OPT_ADV_BATCH_SIZE, CLI_KIND_INT64, "B", SEP(common.batch_size_adv), 0,
     NULL, NULL, "adversarial frames per batch, 0 = all"},
    {"tau-a", OPT_TAU_A, CLI_KIND_DOUBLE_LIST, "X[,X]", SEP(tau_A), 0, NULL, NULL,
     "weight of the adversarial term, per source"},
    {"tau-w", OPT_TAU_W, CLI_KIND_DOUBLE, "X", SEP(common.tau_W), 0, NULL, NULL,
     "weight of the true-data term"},
    {"mu-w", OPT_MU_W, CLI_KIND_DOUBLE, "X", SEP(common.mu_W), 0, NULL, NULL,
     "L1 penalty on W"},
    {"mu-h", OPT_MU_H, CLI_KIND_DOUBLE_LIST, "XS,XN", SEP(mu_H), 0, NULL, "1e-3,1e-10",
     "L1 penalty on H, per source"},
    {"beta", OPT_BETA, CLI_KIND_DOUBLE_LIST, "X[,X]", SEP(beta), 0, NULL, NULL,
     "weight of the noisy frames in each source's adversarial data"},
    {"init", OPT_INIT, CLI_KIND_CHOICE, "exemplar|random", SEP(common.init), 0,
     cli_init_names, NULL, "initial bases: random frames or Uniform(0,1)"},
    {"normalize", OPT_NORMALIZE, CLI_KIND_FLAG, NULL, SEP(common.normalize), 0, NULL, NULL,
     "scale atoms to unit norm after every epoch"},
    {"update-h", OPT_UPDATE_H, CLI_KIND_FLAG, NULL, SEP(common.update_H), 0, NULL, NULL,
     "update H batch by batch instead of once per epoch"},
    {"true-sample", OPT_TRUE_SAMPLE, CLI_KIND_CHOICE, "std|adv|min", SEP(common.true_sample),
     0, cli_true_sample_names, NULL, "MDNMF batches per epoch: from N, N_adv or the fewer"},
    {"warm-start-epochs", OPT_WARM_START_EPOCHS, CLI_KIND_INT, "N", SEP(warm_start_epochs), 0,
     NULL, NULL, "NMF epochs per source before adv"},
    {"seed", OPT_SEED, CLI_KIND_UINT64, "S", SEP(common.seed), 0, NULL, NULL,
     "random seed of the fits"},
    {"threads", OPT_THREADS, CLI_KIND_INT, "N", SEP(common.threads), 0, NULL, NULL,
     "threads, 0 = OpenBLAS's own choice"},
    {"warm-start", OPT_WARM_START, CLI_KIND_TEXT, "MODEL.npz", NO_FIELD, 0, NULL, "none",
     "start from this denoising model's bases (same atoms and n-fft)"},
    {"loss-log", OPT_LOSS_LOG, CLI_KIND_TEXT, "FILE.csv", NO_FIELD, 0, NULL, "none",
     "write stage,epoch,loss_true,loss_adv,objective per epoch of every stage"},
    {"quiet", 'q', CLI_KIND_FLAG, NULL, NO_FIELD, 0, NULL, "off",
     "no progress bar and no notes (errors are still printed)"},
    CLI_HELP_OPTION,
};
enum { FIT_OPTION_COUNT = sizeof FIT_OPTIONS / sizeof FIT_OPTIONS[0] };

static const cli_command FIT_USAGE = {
    "denoise fit",
    "denoise fit --mode semi|semi_adv --speech PATHS --noisy PATHS -o MODEL.npz [options]\n"
    "       mdnmf denoise fit --mode std|adv --speech PATHS --noise PATHS -o MODEL.npz "
    "[options]",
    "Learn a speech basis from clean speech and a noise basis from clean noise or from the\n"
    "noisy recordings themselves; save them with the audio front end. PATHS is a file, a\n"
    "folder (audio files below it, sorted) or @LIST.txt (one path per line).",
    FIT_OPTIONS,
    FIT_OPTION_COUNT,
};

enum { MAX_PATH_ARGUMENTS = 256 };

/* The PATHS arguments of one group (--speech, --noise or --noisy). */
typedef struct path_group {
    const char *name;  /* "speech" */
    const char *arguments[MAX_PATH_ARGUMENTS];
    int count;
    cli_path_list files;
} path_group;

enum { GROUP_SPEECH, GROUP_NOISE, GROUP_NOISY, GROUP_COUNT };

typedef struct fit_request {
    path_group groups[GROUP_COUNT];
    const char *output, *warm_start, *loss_log;
    int quiet;
    int sample_rate, n_fft, hop_length, win_length;
    mdnmf_separator_params params;
    int given[FIT_OPTION_COUNT];
} fit_request;

/* The recordings of one group at the model's rate, as the library takes
 * them. */
typedef struct group_signals {
    mdnmf_audio *audio;    /* one per file */
    const float **samples; /* audio[k].samples */
    int64_t *lengths;
    size_t count;          /* read so far */
} group_signals;

typedef struct fit_run {
    mdnmf_stft *stft;      /* the front end, checked before reading */
    group_signals groups[GROUP_COUNT];
    mdnmf_model *model;
    cli_output loss_log;
    cli_progress progress; /* staged: per source, warm-up, joint fits */
} fit_run;

static int store_fit_option(void *context, const cli_option *option, const char *value)
{
    fit_request *r = context;
    path_group *group = NULL;
    switch (option->key) {
    case OPT_SPEECH: group = &r->groups[GROUP_SPEECH]; break;
    case OPT_NOISE: group = &r->groups[GROUP_NOISE]; break;
    case OPT_NOISY: group = &r->groups[GROUP_NOISY]; break;
    case 'o': r->output = value; return 0;
    case OPT_WARM_START: r->warm_start = value; return 0;
    case OPT_LOSS_LOG: r->loss_log = value; return 0;
    case 'q': r->quiet = 1; return 0;
    case OPT_SAMPLE_RATE:
        return cli_parse_int(FIT_COMMAND, "--sample-rate", value, MDNMF_AUDIO_MIN_RATE,
                             &r->sample_rate);
    case OPT_N_FFT: return cli_parse_int(FIT_COMMAND, "--n-fft", value, 2, &r->n_fft);
    case OPT_HOP_LENGTH:
        return cli_parse_int(FIT_COMMAND, "--hop-length", value, 1, &r->hop_length);
    case OPT_WIN_LENGTH:
        return cli_parse_int(FIT_COMMAND, "--win-length", value, 1, &r->win_length);
    }
    if (!group) {
        return 0;
    }
    if (group->count == MAX_PATH_ARGUMENTS) {
        cli_error(FIT_COMMAND, "--%s: more than %d arguments: put them in a list and give "
                  "@LIST.txt", group->name, MAX_PATH_ARGUMENTS);
        return -1;
    }
    group->arguments[group->count++] = value;
    return 0;
}

static int is_semi(mdnmf_mode mode)
{
    return mode == MDNMF_MODE_SEMI || mode == MDNMF_MODE_SEMI_ADV;
}

/* The mode decides which groups are needed, allowed and refused. */
static int check_fit_groups(const fit_request *r)
{
    mdnmf_mode mode = r->params.mode;
    const char *name = cli_mode_names[mode];
    if (mode != MDNMF_MODE_STD && mode != MDNMF_MODE_ADV && !is_semi(mode)) {
        cli_error(FIT_COMMAND, "--mode %s is not a denoising mode: use semi or semi_adv "
                  "(noise learned from --noisy) or std or adv (from clean --noise)", name);
        return -1;
    }
    const path_group *g = r->groups;
    const char *missing = !g[GROUP_SPEECH].count                      ? "--speech PATHS"
                          : is_semi(mode) && !g[GROUP_NOISY].count    ? "--noisy PATHS"
                          : !is_semi(mode) && !g[GROUP_NOISE].count   ? "--noise PATHS"
                                                                      : NULL;
    if (missing) {
        cli_error(FIT_COMMAND, "mode %s needs %s (see 'mdnmf denoise fit --help')", name,
                  missing);
        return -1;
    }
    if (is_semi(mode) && g[GROUP_NOISE].count) {
        cli_error(FIT_COMMAND, "--noise: mode %s learns the noise from --noisy recordings; "
                  "for clean noise use --mode std or adv", name);
        return -1;
    }
    if (mode == MDNMF_MODE_STD && g[GROUP_NOISY].count) {
        cli_error(FIT_COMMAND, "--noisy is not used by mode std: drop it, or use --mode adv "
                  "(extra adversarial data) or semi/semi_adv");
        return -1;
    }
    return 0;
}

/* The window and hop as the library will take them, checked early. */
static int check_front_end(fit_request *r)
{
    if (!r->n_fft) {
        r->n_fft = DEFAULT_N_FFT;
    }
    if (r->n_fft % 2 != 0) {
        cli_error(FIT_COMMAND, "--n-fft: %d is odd: give an even FFT size", r->n_fft);
        return -1;
    }
    if (r->win_length > r->n_fft) {
        cli_error(FIT_COMMAND, "--win-length: %d is longer than --n-fft %d", r->win_length,
                  r->n_fft);
        return -1;
    }
    if (r->hop_length > r->n_fft) {
        cli_error(FIT_COMMAND, "--hop-length: %d is longer than --n-fft %d: frames would "
                  "skip samples", r->hop_length, r->n_fft);
        return -1;
    }
    if (r->sample_rate > MDNMF_AUDIO_MAX_RATE) {
        cli_error(FIT_COMMAND, "--sample-rate: %d Hz is above %d Hz", r->sample_rate,
                  MDNMF_AUDIO_MAX_RATE);
        return -1;
    }
    return 0;
}

static int parse_fit_request(int argc, char **argv, fit_request *r, int *exit_code)
{
    memset(r, 0, sizeof *r);
    r->groups[GROUP_SPEECH].name = "speech";
    r->groups[GROUP_NOISE].name = "noise";
    r->groups[GROUP_NOISY].name = "noisy";
    mdnmf_separator_params defaults;
    denoise_defaults(&defaults);
    r->params = defaults;
    *exit_code = CLI_EXIT_USAGE;
    switch (cli_parse_options(&FIT_USAGE, argc, argv, &r->params, &defaults, r->given,
                              store_fit_option, r)) {
    case CLI_PARSE_HELP:
        *exit_code = CLI_EXIT_OK;
        return -1;
    case CLI_PARSE_FAILED:
        return -1;
    case CLI_PARSED:
        break;
    }
    if (check_fit_groups(r) != 0 || check_front_end(r) != 0 ||
        cli_spread_lists(&FIT_USAGE, &r->params, r->given, 2, "speech,noise") != 0) {
        return -1;
    }
    mdnmf_error error;
    if (mdnmf_separator_params_check(&r->params, &error) != MDNMF_OK) {
        cli_error(FIT_COMMAND, "%s (see 'mdnmf denoise fit --help')", error.message);
        return -1;
    }
    return 0;
}

/* The sample rate: --sample-rate, else the first speech file's own. */
static int resolve_sample_rate(fit_request *r)
{
    if (r->sample_rate) {
        return 0;
    }
    const char *first = r->groups[GROUP_SPEECH].files.paths[0];
    mdnmf_audio audio;
    mdnmf_error error;
    if (mdnmf_audio_read(first, 0, &audio, &error) != MDNMF_OK) {
        cli_error_about(FIT_COMMAND, first, error.message);
        return -1;
    }
    r->sample_rate = audio.sample_rate;
    mdnmf_audio_free(&audio);
    if (r->sample_rate < MDNMF_AUDIO_MIN_RATE || r->sample_rate > MDNMF_AUDIO_MAX_RATE) {
        cli_error(FIT_COMMAND, "%s: a sample rate of %d Hz is outside %d..%d Hz: give "
                  "--sample-rate", first, r->sample_rate, MDNMF_AUDIO_MIN_RATE,
                  MDNMF_AUDIO_MAX_RATE);
        return -1;
    }
    return 0;
}

static void group_signals_free(group_signals *read)
{
    for (size_t k = 0; k < read->count; k++) {
        mdnmf_audio_free(&read->audio[k]);
    }
    free(read->audio), free(read->samples), free(read->lengths);
    memset(read, 0, sizeof *read);
}

/* The group's recordings as the library takes them (count 0: none). */
static mdnmf_signals signals_of(const group_signals *read)
{
    mdnmf_signals signals = {.samples = read->samples, .lengths = read->lengths,
                             .count = (int64_t)read->count};
    return signals;
}

/* Every file of a group at the model's rate. */
static int read_group(const fit_request *r, const path_group *group, group_signals *read)
{
    read_notes notes = {0};
    size_t files = group->files.count;
    read->audio = calloc(files, sizeof *read->audio);
    read->samples = calloc(files, sizeof *read->samples);
    read->lengths = calloc(files, sizeof *read->lengths);
    if (!read->audio || !read->samples || !read->lengths) {
        cli_error(FIT_COMMAND, "out of memory for %zu %s files", files, group->name);
        return -1;
    }
    for (size_t i = 0; i < files; i++) {
        const char *path = group->files.paths[i];
        mdnmf_audio *audio = &read->audio[i];
        mdnmf_error error;
        if (mdnmf_audio_read(path, r->sample_rate, audio, &error) != MDNMF_OK) {
            cli_error_about(FIT_COMMAND, path, error.message);
            return -1;
        }
        read->samples[i] = audio->samples, read->lengths[i] = audio->length;
        read->count++;
        if (refuse_silence(FIT_COMMAND, path, audio, "learn from") != 0) {
            return -1;
        }
        if (audio->file_rate != r->sample_rate && !notes.resampled++) {
            notes.from_rate = audio->file_rate;
        }
        notes.mixed_down += audio->mixed_down;
    }
    if (!r->quiet) {
        print_notes(FIT_COMMAND, group->name, &notes, r->sample_rate);
    }
    return 0;
}

static int read_fit_inputs(fit_request *r, fit_run *run)
{
    for (int g = 0; g < GROUP_COUNT; g++) {
        path_group *group = &r->groups[g];
        for (int i = 0; i < group->count; i++) {
            if (cli_paths_expand(FIT_COMMAND, group->arguments[i], &group->files) != 0) {
                return -1;
            }
        }
    }
    if (resolve_sample_rate(r) != 0) {
        return -1;
    }
    for (int g = 0; g < GROUP_COUNT; g++) {
        if (r->groups[g].files.count && read_group(r, &r->groups[g], &run->groups[g]) != 0) {
            return -1;
        }
    }
    return 0;
}

static int create_fit_model(const fit_request *r, fit_run *run)
{
    if (r->warm_start) {
        run->model = cli_load_model(FIT_COMMAND, r->warm_start);
        if (run->model && mdnmf_model_source_count(run->model) != 2) {
            cli_error(FIT_COMMAND, "%s: a model of %d source(s): --warm-start needs a "
                      "denoising model (speech and noise)", r->warm_start,
                      mdnmf_model_source_count(run->model));
            return -1;
        }
        return run->model ? 0 : -1;
    }
    mdnmf_params common = r->params.common;
    common.d = 1; /* the separator's d[] decide */
    mdnmf_error error;
    run->model = mdnmf_model_create(&common, &error);
    if (!run->model) {
        cli_error(FIT_COMMAND, "cannot create the model: %s", mdnmf_strerror(error.status));
        return -1;
    }
    return 0;
}

/* The spectrogram frames a group gives. */
static int64_t group_frames(const fit_run *run, int g)
{
    mdnmf_signals signals = signals_of(&run->groups[g]);
    int64_t frames = 0;
    mdnmf_signals_magnitudes(run->stft, 0, &signals, NULL, &frames, NULL);
    return frames;
}

/* The library's message, with the group it concerns when it names one. */
static void report_fit_failure(const fit_request *r, const fit_run *run, int status,
                               const char *message)
{
    if (status == MDNMF_ERR_SHAPE && strstr(message, "source 0")) {
        cli_error(FIT_COMMAND, "--speech: %s (%" PRId64 " frames): give more speech or "
                  "fewer atoms", message, group_frames(run, GROUP_SPEECH));
    } else if (status == MDNMF_ERR_SHAPE && strstr(message, "source 1")) {
        cli_error(FIT_COMMAND, "--noise: %s (%" PRId64 " frames): give more noise or fewer "
                  "atoms", message, group_frames(run, GROUP_NOISE));
    } else if (r->warm_start && status == MDNMF_ERR_SHAPE) {
        cli_error(FIT_COMMAND, "%s: %s", r->warm_start, message);
    } else {
        cli_error(FIT_COMMAND, "%s", message);
    }
}

static int run_denoise_fit(const fit_request *r, fit_run *run)
{
    mdnmf_separator_params params = r->params;
    params.common.warm_start = r->warm_start != NULL;
    mdnmf_signal_data data;
    memset(&data, 0, sizeof data);
    data.clean[0] = signals_of(&run->groups[GROUP_SPEECH]);
    data.clean[1] = signals_of(&run->groups[GROUP_NOISE]);
    data.mixtures = signals_of(&run->groups[GROUP_NOISY]);
    mdnmf_audio_params audio = {.sample_rate = r->sample_rate,
                                .n_fft = r->n_fft,
                                .hop_length = r->hop_length,
                                .win_length = r->win_length};
    cli_progress *bar = &run->progress;
    bar->show_bar = cli_progress_bar_wanted(r->quiet);
    bar->adversarial = params.mode == MDNMF_MODE_ADV || params.mode == MDNMF_MODE_SEMI_ADV;
    bar->loss_log = run->loss_log.stream;
    bar->staged = 1;
    if (bar->show_bar || bar->loss_log) {
        params.common.on_epoch = cli_progress_on_epoch;
        params.common.on_epoch_user = &run->progress;
        cli_interrupt_install();
    }
    mdnmf_error error;
    int status = mdnmf_separator_fit_signals(run->model, &params, &audio, &data, &error);
    cli_progress_end(bar);
    if (status == MDNMF_ERR_CANCELLED && cli_interrupted()) {
        cli_error(FIT_COMMAND, "interrupted: nothing written");
        return CLI_EXIT_INTERRUPTED;
    }
    if (status != MDNMF_OK) {
        report_fit_failure(r, run, status, error.message);
        return CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_OK;
}

static int write_fit_outputs(const fit_request *r, fit_run *run)
{
    mdnmf_error error;
    if (mdnmf_model_save(run->model, r->output, &error) != MDNMF_OK) {
        cli_error_about(FIT_COMMAND, r->output, error.message);
        return CLI_EXIT_RUNTIME;
    }
    if (run->loss_log.stream && cli_output_commit(&run->loss_log, FIT_COMMAND) != 0) {
        remove(r->output);
        return CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_OK;
}

static int prepare_fit(fit_request *r, fit_run *run)
{
    mdnmf_error error;
    run->stft = mdnmf_stft_create(r->n_fft, r->hop_length, r->win_length, &error);
    if (!run->stft) {
        cli_error(FIT_COMMAND, "--n-fft/--hop-length/--win-length: %s", error.message);
        return CLI_EXIT_USAGE;
    }
    if (cli_output_check_writable(FIT_COMMAND, r->output) != 0) {
        return CLI_EXIT_RUNTIME;
    }
    if (r->loss_log) {
        if (cli_output_open(&run->loss_log, FIT_COMMAND, r->loss_log) != 0) {
            return CLI_EXIT_RUNTIME;
        }
        cli_progress_write_log_header(run->loss_log.stream, 1);
    }
    if (read_fit_inputs(r, run) != 0 || create_fit_model(r, run) != 0) {
        return CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_OK;
}

static int cli_denoise_fit(int argc, char **argv)
{
    fit_request *request = malloc(sizeof *request);
    if (!request) {
        cli_error(FIT_COMMAND, "out of memory");
        return CLI_EXIT_RUNTIME;
    }
    int code = CLI_EXIT_OK;
    if (parse_fit_request(argc, argv, request, &code) != 0) {
        free(request);
        return code;
    }
    fit_run run;
    memset(&run, 0, sizeof run);
    code = prepare_fit(request, &run);
    if (code == CLI_EXIT_OK) {
        code = run_denoise_fit(request, &run);
    }
    if (code == CLI_EXIT_OK) {
        code = write_fit_outputs(request, &run);
    }
    cli_output_discard(&run.loss_log);
    mdnmf_model_destroy(run.model);
    for (int g = 0; g < GROUP_COUNT; g++) {
        group_signals_free(&run.groups[g]);
        cli_paths_free(&request->groups[g].files);
    }
    mdnmf_stft_destroy(run.stft);
    free(request);
    return code;
}

/* ==================================================== mdnmf denoise apply */

static const char *const APPLY_COMMAND = "denoise apply";

#define PARAM(name) offsetof(mdnmf_params, name)

static const cli_option APPLY_OPTIONS[] = {
    {"model", 'm', CLI_KIND_TEXT, "MODEL.npz", NO_FIELD, 0, NULL, cli_required,
     "denoising model saved by 'mdnmf denoise fit'"},
    {"output", 'o', CLI_KIND_TEXT, "OUTDIR", NO_FIELD, 0, NULL, cli_required,
     "folder for OUTDIR/<name>.wav (created if missing, parents must exist)"},
    {"all-sources", OPT_ALL_SOURCES, CLI_KIND_FLAG, NULL, NO_FIELD, 0, NULL, "off",
     "also write the noise estimate OUTDIR/<name>.noise.wav"},
    {"relearn-noise", OPT_RELEARN_NOISE, CLI_KIND_FLAG, NULL, NO_FIELD, 0, NULL, "off",
     "first re-learn the noise basis from these recordings (speech basis fixed; mode semi "
     "on their frames, starting from the model's noise basis)"},
    {"epochs", OPT_EPOCHS, CLI_KIND_INT, "N", PARAM(epochs), 0, NULL, "the model's",
     "epochs of --relearn-noise"},
    {"batch-size", OPT_BATCH_SIZE, CLI_KIND_INT64, "B", PARAM(batch_size), 0, NULL,
     "the model's", "frames per batch of --relearn-noise, 0 = all"},
    {"test-epochs", OPT_TEST_EPOCHS, CLI_KIND_INT, "T", PARAM(test_epochs), 0, NULL,
     "the model's", "update steps of H"},
    {"seed", OPT_SEED, CLI_KIND_UINT64, "S", PARAM(seed), 0, NULL, "the model's",
     "seed of the random initial H"},
    {"threads", OPT_THREADS, CLI_KIND_INT, "N", PARAM(threads), 0, NULL, "the model's",
     "threads, 0 = OpenBLAS's own choice"},
    {"float", OPT_FLOAT, CLI_KIND_FLAG, NULL, NO_FIELD, 0, NULL, "off",
     "write 32-bit float WAV instead of 16-bit PCM"},
    {"quiet", 'q', CLI_KIND_FLAG, NULL, NO_FIELD, 0, NULL, "off",
     "no progress bar and no notes (errors are still printed)"},
    CLI_HELP_OPTION,
};
enum { APPLY_OPTION_COUNT = sizeof APPLY_OPTIONS / sizeof APPLY_OPTIONS[0] };

static const cli_command APPLY_USAGE = {
    "denoise apply",
    "denoise apply -m MODEL.npz -o OUTDIR [--all-sources] [--relearn-noise] FILE...",
    "Denoise recordings: OUTDIR/<name>.wav is the speech estimate of FILE, at FILE's rate\n"
    "and length. FILE may also be a folder or @LIST.txt. The model's bases are used as they\n"
    "are (a semi model denoises the recordings it learned its noise from); --relearn-noise\n"
    "adapts the noise basis to new recordings first.",
    APPLY_OPTIONS,
    APPLY_OPTION_COUNT,
};

typedef struct apply_request {
    const char *model, *outdir;
    int all_sources, relearn, quiet, float_output;
    mdnmf_params overrides;
    int given[APPLY_OPTION_COUNT];
    const char **operands;
    int operand_count;
} apply_request;

/* One recording, at its file's own rate: the denoiser resamples it to the
 * model's and its estimates back. */
typedef struct recording {
    const char *path;
    char *stem;
    mdnmf_audio audio;
} recording;

typedef struct apply_run {
    cli_path_list files;
    recording *recordings;
    size_t count;
    mdnmf_model *model;
    mdnmf_audio_params audio;
    mdnmf_denoiser *denoiser;
    int sources, written_sources;
    char *staging;        /* OUTDIR/.mdnmf-apply.XXXXXX: the outputs until all are done */
    char **destinations;  /* count x written_sources output paths */
    size_t committed;     /* destinations[0..committed) are renamed into place */
    int created_outdir;
    cli_progress bar;
} apply_run;

static int store_apply_option(void *context, const cli_option *option, const char *value)
{
    apply_request *r = context;
    switch (option->key) {
    case 'm': r->model = value; break;
    case 'o': r->outdir = value; break;
    case OPT_ALL_SOURCES: r->all_sources = 1; break;
    case OPT_RELEARN_NOISE: r->relearn = 1; break;
    case OPT_FLOAT: r->float_output = 1; break;
    case 'q': r->quiet = 1; break;
    }
    return 0;
}

static int parse_apply_request(int argc, char **argv, apply_request *r, char **options_argv,
                               int *exit_code)
{
    int options_argc = 0;
    split_operands(&APPLY_USAGE, argc, argv, options_argv, &options_argc, r->operands,
                   &r->operand_count);
    mdnmf_params_default(&r->overrides);
    *exit_code = CLI_EXIT_USAGE;
    switch (cli_parse_command(&APPLY_USAGE, options_argc, options_argv, &r->overrides,
                              r->given, store_apply_option, r)) {
    case CLI_PARSE_HELP:
        *exit_code = CLI_EXIT_OK;
        return -1;
    case CLI_PARSE_FAILED:
        return -1;
    case CLI_PARSED:
        break;
    }
    for (int i = 0; i < APPLY_OPTION_COUNT && !r->relearn; i++) {
        int key = APPLY_OPTIONS[i].key;
        if (r->given[i] && (key == OPT_EPOCHS || key == OPT_BATCH_SIZE)) {
            cli_error(APPLY_COMMAND, "--%s is a setting of --relearn-noise: add "
                      "--relearn-noise or drop it", APPLY_OPTIONS[i].long_name);
            return -1;
        }
    }
    if (r->operand_count == 0) {
        cli_error(APPLY_COMMAND, "no recordings to denoise: give FILE... (see 'mdnmf denoise "
                  "apply --help')");
        return -1;
    }
    if (r->outdir[0] == '\0') {
        cli_error(APPLY_COMMAND, "-o: an empty folder name");
        return -1;
    }
    return 0;
}

/* The name of source s's output: "<stem>.wav" for the speech. */
static char *output_path(const char *outdir, const char *stem, int source, int sources)
{
    char suffix[32];
    if (source == 0) {
        snprintf(suffix, sizeof suffix, ".wav");
    } else if (sources == 2) {
        snprintf(suffix, sizeof suffix, ".noise.wav");
    } else {
        snprintf(suffix, sizeof suffix, ".source%d.wav", source);
    }
    size_t size = strlen(outdir) + strlen(stem) + strlen(suffix) + 2;
    char *path = malloc(size);
    if (path) {
        size_t length = strlen(outdir);
        int slash = outdir[length - 1] != '/';
        snprintf(path, size, "%s%s%s%s", outdir, slash ? "/" : "", stem, suffix);
    }
    return path;
}

/* Two inputs of one name would write one output twice. */
static int refuse_name_clashes(const apply_run *run)
{
    for (size_t i = 0; i < run->count; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(run->recordings[i].stem, run->recordings[j].stem) == 0) {
                cli_error(APPLY_COMMAND, "%s and %s would both be written as %s.wav: denoise "
                          "them in separate runs or rename one", run->recordings[j].path,
                          run->recordings[i].path, run->recordings[i].stem);
                return -1;
            }
        }
    }
    return 0;
}

static int list_recordings(const apply_request *r, apply_run *run)
{
    for (int i = 0; i < r->operand_count; i++) {
        if (cli_paths_expand(APPLY_COMMAND, r->operands[i], &run->files) != 0) {
            return -1;
        }
    }
    run->count = run->files.count;
    run->recordings = calloc(run->count, sizeof *run->recordings);
    if (!run->recordings) {
        cli_error(APPLY_COMMAND, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < run->count; i++) {
        run->recordings[i].path = run->files.paths[i];
        run->recordings[i].stem = cli_paths_stem(run->files.paths[i]);
        if (!run->recordings[i].stem) {
            cli_error(APPLY_COMMAND, "out of memory");
            return -1;
        }
    }
    return refuse_name_clashes(run);
}

static int load_denoiser(const apply_request *r, apply_run *run)
{
    run->model = cli_load_model(APPLY_COMMAND, r->model);
    if (!run->model) {
        return CLI_EXIT_RUNTIME;
    }
    run->sources = mdnmf_model_source_count(run->model);
    const mdnmf_audio_params *audio = mdnmf_model_audio(run->model);
    if (run->sources < 2 || !mdnmf_model_separator_params(run->model)) {
        cli_error(APPLY_COMMAND, "%s: a model of one source: denoising needs a speech and a "
                  "noise basis (make the model with 'mdnmf denoise fit')", r->model);
        return CLI_EXIT_RUNTIME;
    }
    if (!audio || audio->sample_rate <= 0) {
        cli_error(APPLY_COMMAND, "%s: the model has no audio front end (sample rate, STFT "
                  "sizes): make it with 'mdnmf denoise fit'", r->model);
        return CLI_EXIT_RUNTIME;
    }
    run->audio = *audio;
    mdnmf_error error;
    run->denoiser = mdnmf_denoiser_create(run->model, &error);
    if (!run->denoiser) {
        cli_error(APPLY_COMMAND, "%s: unusable audio front end: %s", r->model, error.message);
        return CLI_EXIT_RUNTIME;
    }
    mdnmf_params params = *mdnmf_model_params(run->model);
    for (int i = 0; i < APPLY_OPTION_COUNT; i++) {
        if (r->given[i] && APPLY_OPTIONS[i].field != NO_FIELD) {
            cli_option_copy(&APPLY_OPTIONS[i], &r->overrides, &params);
        }
    }
    if (mdnmf_model_set_params(run->model, &params, &error) != MDNMF_OK) {
        cli_error(APPLY_COMMAND, "%s", error.message);
        return CLI_EXIT_USAGE;
    }
    run->written_sources = r->all_sources ? run->sources : 1;
    return CLI_EXIT_OK;
}

/* OUTDIR exists as a folder, or is created (its parent must exist); then
 * a probe file proves it writable, before any long computation. */
static int prepare_outdir(const apply_request *r, apply_run *run)
{
    struct stat info;
    if (stat(r->outdir, &info) == 0) {
        if (!S_ISDIR(info.st_mode)) {
            cli_error(APPLY_COMMAND, "-o %s: exists and is not a folder: give a folder",
                      r->outdir);
            return -1;
        }
    } else if (errno != ENOENT || mkdir(r->outdir, 0777) != 0) {
        cli_error(APPLY_COMMAND, "-o %s: cannot create the folder (%s)", r->outdir,
                  strerror(errno));
        return -1;
    } else {
        run->created_outdir = 1;
    }
    char *probe = output_path(r->outdir, run->recordings[0].stem, 0, run->sources);
    int status = probe ? cli_output_check_writable(APPLY_COMMAND, probe) : -1;
    free(probe);
    return status;
}

static int read_recordings(const apply_request *r, apply_run *run)
{
    read_notes notes = {0};
    int rate = run->audio.sample_rate;
    for (size_t i = 0; i < run->count; i++) {
        recording *rec = &run->recordings[i];
        mdnmf_error error;
        if (mdnmf_audio_read(rec->path, 0, &rec->audio, &error) != MDNMF_OK) {
            cli_error_about(APPLY_COMMAND, rec->path, error.message);
            return -1;
        }
        if (refuse_silence(APPLY_COMMAND, rec->path, &rec->audio, "denoise") != 0) {
            return -1;
        }
        notes.mixed_down += rec->audio.mixed_down;
        if (rec->audio.sample_rate == rate) {
            continue;
        }
        if (!notes.resampled++) {
            notes.from_rate = rec->audio.sample_rate;
        }
        /* Refused before any work, not when its turn comes. */
        if (mdnmf_resampled_length(rec->audio.length, rec->audio.sample_rate, rate) <= 0) {
            cli_error(APPLY_COMMAND, "%s: cannot convert %d Hz to the model's %d Hz (rates "
                      "must lie in %d..%d Hz)", rec->path, rec->audio.sample_rate, rate,
                      MDNMF_AUDIO_MIN_RATE, MDNMF_AUDIO_MAX_RATE);
            return -1;
        }
    }
    if (!r->quiet) {
        print_notes(APPLY_COMMAND, "input", &notes, rate);
    }
    return 0;
}

/* --relearn-noise: the library's re-learning of the noise basis from the
 * recordings (speech basis fixed), with the progress bar. */
static int relearn_noise(const apply_request *r, apply_run *run)
{
    const float **samples = calloc(run->count, sizeof *samples);
    int64_t *lengths = calloc(run->count, sizeof *lengths);
    int *rates = calloc(run->count, sizeof *rates);
    if (!samples || !lengths || !rates) {
        free(samples), free(lengths), free(rates);
        cli_error(APPLY_COMMAND, "out of memory");
        return CLI_EXIT_RUNTIME;
    }
    for (size_t i = 0; i < run->count; i++) {
        samples[i] = run->recordings[i].audio.samples;
        lengths[i] = run->recordings[i].audio.length;
        rates[i] = run->recordings[i].audio.sample_rate;
    }
    mdnmf_signals recordings = {.samples = samples, .lengths = lengths, .sample_rates = rates,
                                .count = (int64_t)run->count};
    mdnmf_params params = *mdnmf_model_params(run->model);
    run->bar.show_bar = cli_progress_bar_wanted(r->quiet);
    if (run->bar.show_bar) {
        params.on_epoch = cli_progress_on_epoch;
        params.on_epoch_user = &run->bar;
        mdnmf_model_set_params(run->model, &params, NULL);
        cli_interrupt_install();
    }
    mdnmf_error error;
    int status = mdnmf_denoiser_relearn_noise(run->denoiser, &recordings, &error);
    cli_progress_end(&run->bar);
    free(samples), free(lengths), free(rates);
    if (status == MDNMF_ERR_CANCELLED && cli_interrupted()) {
        cli_error(APPLY_COMMAND, "interrupted: nothing written");
        return CLI_EXIT_INTERRUPTED;
    }
    if (status != MDNMF_OK) {
        cli_error(APPLY_COMMAND, "--relearn-noise: %s", error.message);
        return CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_OK;
}

/* Outputs are written into a hidden folder of this run inside OUTDIR and
 * renamed into place when every recording is done.  mdnmf_audio_write is
 * atomic by itself (its own temporary file renamed onto the name it is
 * given), so no placeholder file per output is needed: one made by mkstemp
 * would be created and then replaced, i.e. deleted, for every file, and on
 * ext4 each deleted inode slows down creating the next files (that and an
 * fsync of the replaced placeholder were a third of the system time of
 * `apply` over a few hundred recordings). */
static int open_staging(const apply_request *r, apply_run *run)
{
    size_t size = strlen(r->outdir) + sizeof "/.mdnmf-apply.XXXXXX";
    run->staging = malloc(size);
    if (!run->staging) {
        cli_error(APPLY_COMMAND, "out of memory");
        return -1;
    }
    snprintf(run->staging, size, "%s/.mdnmf-apply.XXXXXX", r->outdir);
    if (!mkdtemp(run->staging)) {
        cli_error(APPLY_COMMAND, "-o %s: cannot create a folder in it (%s)", r->outdir,
                  strerror(errno));
        free(run->staging);
        run->staging = NULL;
        return -1;
    }
    return 0;
}

/* Where output k is written before it is committed: the staging folder
 * with the destination's name (malloc'ed). */
static char *staged_path(const apply_run *run, size_t k)
{
    const char *slash = strrchr(run->destinations[k], '/');
    const char *name = slash ? slash + 1 : run->destinations[k];
    size_t size = strlen(run->staging) + strlen(name) + 2;
    char *path = malloc(size);
    if (path) {
        snprintf(path, size, "%s/%s", run->staging, name);
    }
    return path;
}

/* Estimate `source` of a recording (at the file's rate and length),
 * written under its staged name (output k). */
static int write_estimate(const apply_request *r, apply_run *run, const recording *rec,
                          const float *estimate, size_t k)
{
    const char *destination = run->destinations[k];
    struct stat info;
    if (stat(destination, &info) == 0 && S_ISDIR(info.st_mode)) {
        cli_error(APPLY_COMMAND, "%s: is a folder: give another -o or remove it", destination);
        return -1;
    }
    mdnmf_error error = {0};
    char *staged = staged_path(run, k);
    int status = staged ? mdnmf_audio_write(staged, estimate, rec->audio.length,
                                            rec->audio.sample_rate,
                                            r->float_output ? MDNMF_AUDIO_FLOAT
                                                            : MDNMF_AUDIO_PCM16,
                                            &error)
                        : MDNMF_ERR_MEMORY;
    free(staged);
    if (status != MDNMF_OK) {
        cli_error(APPLY_COMMAND, "%s: %s", destination,
                  error.message[0] ? error.message : "cannot write (out of memory)");
        return -1;
    }
    return 0;
}

static int denoise_recording(const apply_request *r, apply_run *run, size_t index)
{
    const recording *rec = &run->recordings[index];
    float *estimates[MDNMF_MAX_SOURCES] = {0};
    int status = 0;
    for (int s = 0; s < run->sources && !status; s++) {
        estimates[s] = malloc((size_t)rec->audio.length * sizeof *estimates[s]);
        if (!estimates[s]) {
            cli_error(APPLY_COMMAND, "%s: out of memory", rec->path);
            status = -1;
        }
    }
    mdnmf_error error;
    if (!status && mdnmf_denoiser_separate(run->denoiser, rec->audio.samples, rec->audio.length,
                                           rec->audio.sample_rate, estimates,
                                           &error) != MDNMF_OK) {
        cli_error_about(APPLY_COMMAND, rec->path, error.message);
        status = -1;
    }
    for (int s = 0; s < run->written_sources && !status; s++) {
        size_t k = index * (size_t)run->written_sources + (size_t)s;
        run->destinations[k] = output_path(r->outdir, rec->stem, s, run->sources);
        if (!run->destinations[k]) {
            cli_error(APPLY_COMMAND, "out of memory");
            status = -1;
        } else {
            status = write_estimate(r, run, rec, estimates[s], k);
        }
    }
    for (int s = 0; s < run->sources; s++) {
        free(estimates[s]);
    }
    return status;
}

/* All outputs are complete: rename them into place; if one fails, the
 * ones already renamed are removed again. */
static int commit_outputs(apply_run *run)
{
    size_t total = run->count * (size_t)run->written_sources;
    for (; run->committed < total; run->committed++) {
        size_t k = run->committed;
        char *staged = staged_path(run, k);
        if (!staged || rename(staged, run->destinations[k]) != 0) {
            cli_error(APPLY_COMMAND, "%s: cannot write (%s): check the free space and the "
                      "folder", run->destinations[k], staged ? strerror(errno) : "out of memory");
            free(staged);
            for (size_t done = 0; done < k; done++) {
                unlink(run->destinations[done]);
            }
            run->committed = 0;
            return -1;
        }
        free(staged);
    }
    return 0;
}

static int denoise_all(const apply_request *r, apply_run *run)
{
    size_t total = run->count * (size_t)run->written_sources;
    run->destinations = calloc(total, sizeof *run->destinations);
    if (!run->destinations) {
        cli_error(APPLY_COMMAND, "out of memory");
        return CLI_EXIT_RUNTIME;
    }
    if (open_staging(r, run) != 0) {
        return CLI_EXIT_RUNTIME;
    }
    for (size_t i = 0; i < run->count; i++) {
        if (denoise_recording(r, run, i) != 0) {
            return CLI_EXIT_RUNTIME;
        }
    }
    return commit_outputs(run) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}

/* Outputs not renamed into place are removed with the staging folder. */
static void discard_staging(apply_run *run)
{
    size_t total = run->destinations ? run->count * (size_t)run->written_sources : 0;
    for (size_t k = run->committed; run->staging && k < total && run->destinations[k]; k++) {
        char *staged = staged_path(run, k);
        if (staged) {
            unlink(staged);
        }
        free(staged);
    }
    if (run->staging) {
        rmdir(run->staging);
    }
    for (size_t k = 0; k < total; k++) {
        free(run->destinations[k]);
    }
    free(run->destinations), free(run->staging);
}

static void release_apply(const apply_request *r, apply_run *run, int failed)
{
    discard_staging(run);
    /* A folder made for this run goes again when nothing was written. */
    if (failed && run->created_outdir) {
        rmdir(r->outdir);
    }
    for (size_t i = 0; run->recordings && i < run->count; i++) {
        recording *rec = &run->recordings[i];
        mdnmf_audio_free(&rec->audio);
        free(rec->stem);
    }
    free(run->recordings);
    cli_paths_free(&run->files);
    mdnmf_denoiser_destroy(run->denoiser);
    mdnmf_model_destroy(run->model);
}

static double monotonic_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

/* One line on stderr: how much audio, how fast (reading to writing). */
static void report_throughput(const apply_run *run, double seconds)
{
    double audio = 0;
    for (size_t i = 0; i < run->count; i++) {
        audio += (double)run->recordings[i].audio.length / run->recordings[i].audio.sample_rate;
    }
    fprintf(stderr, "mdnmf %s: %zu recording(s), %.1f s of audio in %.2f s (%.0fx real time)\n",
            APPLY_COMMAND, run->count, audio, seconds, seconds > 0 ? audio / seconds : 0.0);
}

static int cli_denoise_apply(int argc, char **argv)
{
    apply_request request;
    memset(&request, 0, sizeof request);
    char **options_argv = calloc((size_t)argc + 1, sizeof *options_argv);
    request.operands = calloc((size_t)argc + 1, sizeof *request.operands);
    if (!options_argv || !request.operands) {
        free(options_argv), free(request.operands);
        cli_error(APPLY_COMMAND, "out of memory");
        return CLI_EXIT_RUNTIME;
    }
    int code = CLI_EXIT_OK;
    if (parse_apply_request(argc, argv, &request, options_argv, &code) != 0) {
        free(options_argv), free(request.operands);
        return code;
    }
    apply_run run;
    memset(&run, 0, sizeof run);
    double started = monotonic_seconds();
    code = list_recordings(&request, &run) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
    if (code == CLI_EXIT_OK) {
        code = load_denoiser(&request, &run);
    }
    if (code == CLI_EXIT_OK && prepare_outdir(&request, &run) != 0) {
        code = CLI_EXIT_RUNTIME;
    }
    if (code == CLI_EXIT_OK && read_recordings(&request, &run) != 0) {
        code = CLI_EXIT_RUNTIME;
    }
    if (code == CLI_EXIT_OK && request.relearn) {
        code = relearn_noise(&request, &run);
    }
    if (code == CLI_EXIT_OK) {
        code = denoise_all(&request, &run);
    }
    if (code == CLI_EXIT_OK && !request.quiet) {
        report_throughput(&run, monotonic_seconds() - started);
    }
    release_apply(&request, &run, code != CLI_EXIT_OK);
    free(options_argv), free(request.operands);
    return code;
}

/* ========================================================= mdnmf denoise */

static const cli_option DENOISE_OPTIONS[] = {
    CLI_HELP_OPTION,
};

const cli_command cli_denoise_command = {
    "denoise",
    "denoise fit|apply [options]",
    "Speech denoising of recordings: fit a speech/noise model, denoise files with it.",
    DENOISE_OPTIONS,
    sizeof DENOISE_OPTIONS / sizeof DENOISE_OPTIONS[0],
};

static const cli_subcommand SUBCOMMANDS[] = {
    {"fit", "learn speech and noise bases from recordings; save the model", cli_denoise_fit},
    {"apply", "denoise recordings with a saved model: one WAV per recording",
     cli_denoise_apply},
};

static const cli_group DENOISE = {
    &cli_denoise_command,
    "mdnmf denoise fit --mode semi|semi_adv --speech PATHS --noisy PATHS -o MODEL.npz\n"
    "       mdnmf denoise fit --mode std|adv --speech PATHS --noise PATHS -o MODEL.npz\n"
    "       mdnmf denoise apply -m MODEL.npz -o OUTDIR FILE...",
    SUBCOMMANDS, sizeof SUBCOMMANDS / sizeof SUBCOMMANDS[0]};

int cli_denoise(int argc, char **argv)
{
    return cli_run_group(&DENOISE, argc, argv);
}
