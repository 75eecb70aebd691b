/* mdnmf denoise fit: learn a speech and a noise basis from recordings
 * (SPEC §6 and §7) and save them with the audio front end.
 *
 *   mdnmf denoise fit --mode semi|semi_adv --speech PATHS --noisy PATHS -o MODEL.npz
 *   mdnmf denoise fit --mode std|adv --speech PATHS --noise PATHS -o MODEL.npz
 *
 * Reads every recording at one sample rate and hands the groups to
 * mdnmf_separator_fit_signals, which stacks their |STFT| frames and fits the
 * separator.  PATHS: a file, a folder (searched recursively) or @LIST.txt
 * (audio_paths.h).  Nothing is written unless the fit succeeded. */
#include "audio_paths.h"
#include "commands.h"
#include "denoise.h"
#include "host.h"
#include "inputs.h"
#include "outputs.h"
#include "progress.h"
#include "separation.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define NO_FIELD CLI_NO_FIELD

static const char *const FIT_COMMAND = "denoise fit";

/* The separator's settings take the shared codes CLI_SEP_* (separation.h). */
enum {
    OPT_SPEECH = 256,
    OPT_NOISE,
    OPT_NOISY,
    OPT_SAMPLE_RATE,
    OPT_N_FFT,
    OPT_HOP_LENGTH,
    OPT_WIN_LENGTH,
    OPT_WARM_START,
    OPT_LOSS_LOG,
    OPT_SPECTRUM,
    OPT_CONTEXT
};

#define SEP(name) offsetof(mdnmf_separator_params, name)

/* The paper's speech settings, MDNMF's mode (the paper's protocol). */
static void denoise_defaults(mdnmf_separator_params *p)
{
    cli_speech_params(p);
    p->mode = MDNMF_MODE_SEMI_ADV;
}

/* Front-end defaults: 512-point FFT, the window as long, hop a quarter. */
enum { DEFAULT_N_FFT = 512 };

static const cli_option FIT_OPTIONS[] = {
    {"mode", CLI_SEP_MODE, CLI_KIND_CHOICE, "MODE", SEP(mode), 0, cli_mode_names, NULL,
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
    {"atoms", 'd', CLI_KIND_INT64_LIST, "DS,DN", SEP(d), 1, NULL, "128,128",
     "atoms of the speech and of the noise basis"},
    {"sample-rate", OPT_SAMPLE_RATE, CLI_KIND_TEXT, "HZ", NO_FIELD, 0, NULL,
     "the first speech file's", "rate every recording is resampled to"},
    {"n-fft", OPT_N_FFT, CLI_KIND_TEXT, "N", NO_FIELD, 0, NULL, "512",
     "FFT size (even); m = N/2 + 1 frequency bins"},
    {"hop-length", OPT_HOP_LENGTH, CLI_KIND_TEXT, "N", NO_FIELD, 0, NULL, "win-length / 4",
     "samples between frames"},
    {"win-length", OPT_WIN_LENGTH, CLI_KIND_TEXT, "N", NO_FIELD, 0, NULL, "n-fft",
     "Hann window length, <= n-fft"},
    {"spectrum", OPT_SPECTRUM, CLI_KIND_TEXT, "magnitude|power", NO_FIELD, 0, NULL,
     "magnitude", "what the bases model: STFT magnitudes or powers"},
    {"context", OPT_CONTEXT, CLI_KIND_TEXT, "C", NO_FIELD, 0, NULL, "0",
     "neighbouring frames stacked on each side of a frame (0..8)"},
    {"epochs", CLI_SEP_EPOCHS, CLI_KIND_INT, "N", SEP(common.epochs), 0, NULL, NULL,
     "training epochs"},
    {"test-epochs", CLI_SEP_TEST_EPOCHS, CLI_KIND_INT, "N", SEP(common.test_epochs), 0, NULL,
     NULL, "update steps of H for fixed bases"},
    CLI_INIT_H_STEPS_OPTION(CLI_SEP_INIT_H_STEPS, SEP(common.init_H_steps)),
    {"batch-size", CLI_SEP_BATCH_SIZE, CLI_KIND_INT64, "B", SEP(common.batch_size), 0, NULL, NULL,
     "frames per batch (semi modes: also noisy frames), 0 = all"},
    {"adv-batch-size", CLI_SEP_ADV_BATCH_SIZE, CLI_KIND_INT64, "B", SEP(common.batch_size_adv), 0,
     NULL, NULL, "adversarial frames per batch, 0 = all"},
    {"tau-a", CLI_SEP_TAU_A, CLI_KIND_DOUBLE_LIST, "X[,X]", SEP(tau_A), 0, NULL, NULL,
     "weight of the adversarial term, per source"},
    {"tau-w", CLI_SEP_TAU_W, CLI_KIND_DOUBLE, "X", SEP(common.tau_W), 0, NULL, NULL,
     "weight of the true-data term"},
    {"mu-w", CLI_SEP_MU_W, CLI_KIND_DOUBLE, "X", SEP(common.mu_W), 0, NULL, NULL,
     "L1 penalty on W"},
    {"mu-h", CLI_SEP_MU_H, CLI_KIND_DOUBLE_LIST, "XS,XN", SEP(mu_H), 0, NULL, "1e-3,1e-10",
     "L1 penalty on H, per source"},
    {"beta", CLI_SEP_BETA, CLI_KIND_DOUBLE_LIST, "X[,X]", SEP(beta), 0, NULL, NULL,
     "weight of the noisy frames in each source's adversarial data"},
    {"init", CLI_SEP_INIT, CLI_KIND_CHOICE, "exemplar|random", SEP(common.init), 0,
     cli_init_names, NULL, "initial bases: random frames or Uniform(0,1)"},
    {"normalize", CLI_SEP_NORMALIZE, CLI_KIND_FLAG, NULL, SEP(common.normalize), 0, NULL, NULL,
     "scale atoms to unit norm after every epoch"},
    {"update-h", CLI_SEP_UPDATE_H, CLI_KIND_FLAG, NULL, SEP(common.update_H), 0, NULL, NULL,
     "update H batch by batch instead of once per epoch"},
    {"true-sample", CLI_SEP_TRUE_SAMPLE, CLI_KIND_CHOICE, "std|adv|min", SEP(common.true_sample),
     0, cli_true_sample_names, NULL, "MDNMF batches per epoch: from N, N_adv or the fewer"},
    CLI_DIVERGENCE_OPTION(SEP(common.divergence), NULL),
    {"warm-start-epochs", CLI_SEP_WARM_START_EPOCHS, CLI_KIND_INT, "N", SEP(warm_start_epochs), 0,
     NULL, NULL, "NMF epochs per source before adv"},
    CLI_NOISE_STEPS_OPTION(SEP(noise_steps)),
    CLI_WIENER_EXPONENT_OPTION(SEP(wiener_exponent)),
    {"seed", CLI_SEP_SEED, CLI_KIND_UINT64, "S", SEP(common.seed), 0, NULL, NULL,
     "random seed of the fits"},
    {"threads", CLI_SEP_THREADS, CLI_KIND_THREADS, "N", SEP(common.threads), 0, NULL, NULL,
     CLI_THREADS_HELP},
    {"warm-start", OPT_WARM_START, CLI_KIND_TEXT, "MODEL.npz", NO_FIELD, 0, NULL, "none",
     "start from this denoising model's bases (same atoms and n-fft)"},
    {"loss-log", OPT_LOSS_LOG, CLI_KIND_TEXT, "FILE.csv", NO_FIELD, 0, NULL, "none",
     "write stage,epoch,loss_true,loss_adv,objective per epoch of every stage; "
     "'-' for standard output"},
    CLI_CHECKPOINT_OPTIONS(SEP(common.checkpoint_every)),
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
    int power, context; /* the features (mdnmf_audio_params) */
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
    cli_read_notes notes;  /* sharded: printed once all processes read */
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
    case CLI_OPT_CHECKPOINT: r->params.common.checkpoint_path = value; return 0;
    case CLI_OPT_RESUME: r->params.common.resume_path = value; return 0;
    case 'q': r->quiet = 1; return 0;
    case OPT_SAMPLE_RATE:
        return cli_parse_int(FIT_COMMAND, "--sample-rate", value, MDNMF_AUDIO_MIN_RATE,
                             &r->sample_rate);
    case OPT_N_FFT: return cli_parse_int(FIT_COMMAND, "--n-fft", value, 2, &r->n_fft);
    case OPT_HOP_LENGTH:
        return cli_parse_int(FIT_COMMAND, "--hop-length", value, 1, &r->hop_length);
    case OPT_WIN_LENGTH:
        return cli_parse_int(FIT_COMMAND, "--win-length", value, 1, &r->win_length);
    case OPT_SPECTRUM: return cli_parse_spectrum(FIT_COMMAND, value, &r->power);
    case OPT_CONTEXT: return cli_parse_context(FIT_COMMAND, value, &r->context);
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
        cli_error(FIT_COMMAND, "mode %s needs %s (see '%s denoise fit --help')", name,
                  missing, cli_program);
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

/* Returns -1 to go on, or the exit code. */
static int parse_fit_request(int argc, char **argv, fit_request *r)
{
    memset(r, 0, sizeof *r);
    r->groups[GROUP_SPEECH].name = "speech";
    r->groups[GROUP_NOISE].name = "noise";
    r->groups[GROUP_NOISY].name = "noisy";
    mdnmf_separator_params defaults;
    denoise_defaults(&defaults);
    r->params = defaults;
    int parsed = cli_parse_exit(cli_parse_options(&FIT_USAGE, argc, argv, &r->params,
                                                  &defaults, r->given, store_fit_option, r));
    if (parsed >= 0) {
        return parsed;
    }
    if (check_fit_groups(r) != 0 || check_front_end(r) != 0 ||
        cli_check_checkpoint_options(FIT_COMMAND, &r->params.common, r->output,
                                     r->loss_log) != 0 ||
        cli_spread_lists(&FIT_USAGE, &r->params, r->given, 2, "speech,noise") != 0) {
        return CLI_EXIT_USAGE;
    }
    mdnmf_error error;
    if (mdnmf_separator_params_check(&r->params, &error) != MDNMF_OK) {
        cli_error(FIT_COMMAND, "%s (see '%s denoise fit --help')", error.message,
                  cli_program);
        return CLI_EXIT_USAGE;
    }
    return -1;
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

/* Every file of a group at the model's rate; on a host of K processes
 * this one's files [F r / K, F (r + 1) / K) of the sorted list, so that
 * the processes' frames, in rank order, are the single process's. */
static int read_group(const cli_host *host, const fit_request *r, const path_group *group,
                      group_signals *read)
{
    cli_read_notes notes = {0};
    int64_t first = 0, end = 0;
    cli_host_part(host, (int64_t)group->files.count, &first, &end);
    if (first == end) {
        cli_error(FIT_COMMAND, "--%s: %zu file(s) for %d processes: every process needs one; "
                  "use fewer processes", group->name, group->files.count, host->ranks);
        return -1;
    }
    size_t files = (size_t)(end - first);
    read->audio = calloc(files, sizeof *read->audio);
    read->samples = calloc(files, sizeof *read->samples);
    read->lengths = calloc(files, sizeof *read->lengths);
    if (!read->audio || !read->samples || !read->lengths) {
        cli_error(FIT_COMMAND, "out of memory for %zu %s files", files, group->name);
        return -1;
    }
    for (size_t i = 0; i < files && !cli_interrupted(); i++) {
        const char *path = group->files.paths[(size_t)first + i];
        mdnmf_audio *audio = &read->audio[i];
        mdnmf_error error;
        if (mdnmf_audio_read(path, r->sample_rate, audio, &error) != MDNMF_OK) {
            cli_error_about(FIT_COMMAND, path, error.message);
            return -1;
        }
        read->samples[i] = audio->samples, read->lengths[i] = audio->length;
        read->count++;
        if (cli_refuse_silence(FIT_COMMAND, path, audio, "learn from") != 0) {
            return -1;
        }
        if (audio->file_rate != r->sample_rate && !notes.resampled++) {
            notes.from_rate = audio->file_rate;
        }
        notes.mixed_down += audio->mixed_down;
    }
    if (cli_interrupted()) {
        return -1; /* the command reports it */
    }
    read->notes = notes;
    if (!r->quiet && !host->sharded) {
        cli_print_read_notes(FIT_COMMAND, group->name, &notes, r->sample_rate);
    }
    return 0;
}

/* Sharded: the notes of all processes' files, once (collective, after the
 * reads were agreed). */
static void print_shared_notes(const cli_host *host, const fit_request *r, const fit_run *run)
{
    for (int g = 0; g < GROUP_COUNT; g++) {
        if (!r->groups[g].files.count) {
            continue;
        }
        const cli_read_notes *own = &run->groups[g].notes;
        cli_read_notes notes = {(int)host->combine(host, own->resampled, CLI_HOST_SUM),
                                (int)host->combine(host, own->mixed_down, CLI_HOST_SUM),
                                (int)host->combine(host, own->from_rate, CLI_HOST_MAX)};
        if (!r->quiet && host->rank == 0) {
            cli_print_read_notes(FIT_COMMAND, r->groups[g].name, &notes, r->sample_rate);
        }
    }
}

/* -o, --loss-log and --checkpoint are never one of the recordings or the
 * warm start, nor one another. */
static int refuse_outputs_onto_inputs(const fit_request *r)
{
    cli_input_files inputs = {0};
    int status = cli_inputs_note(FIT_COMMAND, &inputs, &r->warm_start, 1);
    for (int g = 0; g < GROUP_COUNT && status == 0; g++) {
        const cli_path_list *files = &r->groups[g].files;
        status = cli_inputs_note(FIT_COMMAND, &inputs, (const char *const *)files->paths,
                                 files->count);
    }
    if (status == 0) {
        status = cli_refuse_fit_outputs(FIT_COMMAND, &inputs, r->output, r->loss_log,
                                        r->params.common.checkpoint_path);
    }
    cli_inputs_free(&inputs);
    return status;
}

static int read_fit_inputs(const cli_host *host, fit_request *r, fit_run *run)
{
    for (int g = 0; g < GROUP_COUNT; g++) {
        path_group *group = &r->groups[g];
        for (int i = 0; i < group->count; i++) {
            if (cli_paths_expand(FIT_COMMAND, group->arguments[i], &group->files) != 0) {
                return -1;
            }
        }
    }
    if ((host->rank == 0 && refuse_outputs_onto_inputs(r) != 0) || resolve_sample_rate(r) != 0) {
        return -1;
    }
    for (int g = 0; g < GROUP_COUNT; g++) {
        if (r->groups[g].files.count &&
            read_group(host, r, &r->groups[g], &run->groups[g]) != 0) {
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

/* Only the first process shows progress and writes the loss log. */
static int run_denoise_fit(const cli_host *host, const fit_request *r, fit_run *run)
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
                                .win_length = r->win_length,
                                .power = r->power,
                                .context = r->context};
    cli_progress_attach(&run->progress, &params.common, r->quiet || host->rank != 0,
                        mdnmf_mode_describe(params.mode)->adversarial, &run->loss_log, 1);
    cli_progress_watch(&run->progress, &params.common, params.common.checkpoint_path);
    cli_host_align_progress(host, &params.common);
    mdnmf_error error;
    int status = mdnmf_separator_fit_signals(run->model, &params, &audio, &data, &error);
    int code = cli_progress_finish(&run->progress, FIT_COMMAND, status);
    if (code >= 0) {
        return code;
    }
    report_fit_failure(r, run, status, error.message);
    return CLI_EXIT_RUNTIME;
}

static int prepare_fit(const cli_host *host, fit_request *r, fit_run *run)
{
    mdnmf_error error;
    run->stft = mdnmf_stft_create(r->n_fft, r->hop_length, r->win_length, &error);
    if (!run->stft) {
        cli_error(FIT_COMMAND, "--n-fft/--hop-length/--win-length: %s", error.message);
        return CLI_EXIT_USAGE;
    }
    const int leads = host->rank == 0;
    if ((leads && (cli_output_check_writable(FIT_COMMAND, r->output) != 0 ||
                   cli_check_checkpoint_files(FIT_COMMAND, &r->params.common) != 0 ||
                   cli_loss_log_open(&run->loss_log, FIT_COMMAND, r->loss_log, 1) != 0)) ||
        read_fit_inputs(host, r, run) != 0 || create_fit_model(r, run) != 0) {
        return cli_interrupted() ? CLI_EXIT_INTERRUPTED : CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_OK;
}

int cli_denoise_fit(int argc, char **argv)
{
    return cli_denoise_fit_on(&cli_alone, argc, argv);
}

/* Each step's exit code is agreed by all processes before the next (a
 * no-op alone: host.h). */
int cli_denoise_fit_on(const cli_host *host, int argc, char **argv)
{
    fit_request *request = malloc(sizeof *request);
    int code = request ? parse_fit_request(argc, argv, request) : CLI_EXIT_RUNTIME;
    if (!request) {
        cli_error(FIT_COMMAND, "out of memory");
    } else if (code < 0 &&
               cli_host_checkpoint_files(host, FIT_COMMAND, &request->params.common) != 0) {
        code = CLI_EXIT_USAGE;
    }
    if (code >= 0) {
        free(request);
        return host->agree(host, code);
    }
    fit_run run;
    memset(&run, 0, sizeof run);
    /* From here on a signal ends the run through the clean-up below. */
    cli_signals_install();
    code = host->agree(host, prepare_fit(host, request, &run));
    if (code == CLI_EXIT_OK && host->sharded) {
        print_shared_notes(host, request, &run);
    }
    if (code == CLI_EXIT_OK) {
        code = host->agree(host, cli_host_shard_model(host, FIT_COMMAND, run.model));
    }
    if (code == CLI_EXIT_OK && host->combine(host, cli_interrupted(), CLI_HOST_MAX)) {
        code = CLI_EXIT_INTERRUPTED;
    } else if (code == CLI_EXIT_OK) {
        code = run_denoise_fit(host, request, &run);
    }
    code = cli_host_fit_ended(host, FIT_COMMAND, code, run.model);
    if (code == CLI_EXIT_OK) {
        code = host->agree(host, host->rank != 0 ? CLI_EXIT_OK
                                                 : cli_save_model_and_log(
                                                       FIT_COMMAND, run.model, request->output,
                                                       &run.loss_log,
                                                       request->params.common.checkpoint_path));
    }
    if (code == CLI_EXIT_OK) {
        cli_host_remove_checkpoint(host, &request->params.common);
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
