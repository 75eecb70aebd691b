/* mdnmf denoise apply: denoise recordings with a model of `denoise fit`.
 *
 *   mdnmf denoise apply -m MODEL.npz -o OUTDIR [--all-sources] [--relearn-noise] FILE...
 *
 * Writes OUTDIR/<name>.wav, the speech estimate of each recording (and
 * OUTDIR/<name>.noise.wav with --all-sources), at the recording's own rate
 * and length, through mdnmf_denoiser.  FILE may also be a folder or
 * @LIST.txt (audio_paths.h).  The outputs are staged and renamed into place
 * only when every recording is done: all of them or none. */
#define _POSIX_C_SOURCE 200809L

#include "audio_paths.h"
#include "commands.h"
#include "denoise.h"
#include "inputs.h"
#include "outputs.h"
#include "progress.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NO_FIELD CLI_NO_FIELD

static const char *const APPLY_COMMAND = "denoise apply";

/* After CLI_TRANSFORM_SETTING_OPTIONS' codes (inputs.h). */
enum { OPT_ALL_SOURCES = CLI_OPT_THREADS + 1, OPT_RELEARN_NOISE, OPT_EPOCHS, OPT_BATCH_SIZE,
       OPT_FLOAT, OPT_ADAPT_NOISE, OPT_ADAPT_START,
       OPT_NOISE_SMOOTHING };

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
    {"adapt-noise", OPT_ADAPT_NOISE, CLI_KIND_TEXT, "EPOCHS", NO_FIELD, 0, NULL,
     "200 for a semi or semi_adv model (Frobenius), else 0",
     "adapt the noise basis to each recording on its own for EPOCHS steps before "
     "separating it (speech basis fixed; the model is not changed; 0 = off)"},
    CLI_ADAPT_START_OPTION(OPT_ADAPT_START),
    {"noise-smoothing", OPT_NOISE_SMOOTHING, CLI_KIND_TEXT, "FRAMES", NO_FIELD, 0, NULL,
     "20 for a semi or semi_adv model, else 0",
     "average the noise activations over FRAMES frames on each side before masking (noise "
     "changes more slowly than speech; 0 = off)"},
    CLI_TRANSFORM_SETTING_OPTIONS,
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
    int adapt_noise; /* --adapt-noise's epochs */
    int adapt_given; /* --adapt-noise on the command line (else the default) */
    int adapt_fresh; /* --adapt-start: 1 fresh, 0 the model's, MDNMF_ADAPT_AUTO */
    int smoothing;   /* --noise-smoothing's frames */
    int smoothing_given; /* --noise-smoothing on the command line (else the default) */
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
    cli_input_files inputs; /* the model and the recordings: never written */
    char *staging;        /* OUTDIR/.mdnmf-apply.XXXXXX: the outputs until all are done */
    char **destinations;  /* count x written_sources files to rename onto (links followed) */
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
    case OPT_ADAPT_NOISE:
        r->adapt_given = 1;
        return cli_parse_int(APPLY_COMMAND, "--adapt-noise", value, 0, &r->adapt_noise);
    case OPT_ADAPT_START: return cli_parse_adapt_start(APPLY_COMMAND, value, &r->adapt_fresh);
    case OPT_NOISE_SMOOTHING:
        r->smoothing_given = 1;
        return cli_parse_int(APPLY_COMMAND, "--noise-smoothing", value, 0, &r->smoothing);
    case 'q': r->quiet = 1; break;
    }
    return 0;
}

/* FILE operands may stand anywhere on the line.  Returns -1 to go on, or
 * the exit code. */
static int parse_apply_request(int argc, char **argv, apply_request *r)
{
    mdnmf_params_default(&r->overrides);
    r->adapt_fresh = MDNMF_ADAPT_AUTO;
    int parsed = cli_parse_exit(cli_parse_command_operands(&APPLY_USAGE, argc, argv,
                                                           &r->overrides, r->given,
                                                           store_apply_option, r, r->operands,
                                                           &r->operand_count));
    if (parsed >= 0) {
        return parsed;
    }
    for (int i = 0; i < APPLY_OPTION_COUNT && !r->relearn; i++) {
        int key = APPLY_OPTIONS[i].key;
        if (r->given[i] && (key == OPT_EPOCHS || key == OPT_BATCH_SIZE)) {
            cli_error(APPLY_COMMAND, "--%s is a setting of --relearn-noise: add "
                      "--relearn-noise or drop it", APPLY_OPTIONS[i].long_name);
            return CLI_EXIT_USAGE;
        }
    }
    if (r->operand_count == 0) {
        cli_error(APPLY_COMMAND, "no recordings to denoise: give FILE... (see 'mdnmf denoise "
                  "apply --help')");
        return CLI_EXIT_USAGE;
    }
    if (r->outdir[0] == '\0') {
        cli_error(APPLY_COMMAND, "-o: an empty folder name");
        return CLI_EXIT_USAGE;
    }
    if (cli_output_is_stdout(r->outdir)) {
        cli_error(APPLY_COMMAND, "-o %s: denoise apply writes a folder of files, not standard "
                  "output: give a folder", r->outdir);
        return CLI_EXIT_USAGE;
    }
    return -1;
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
    int slash = outdir[strlen(outdir) - 1] != '/';
    return cli_format_path("%s%s%s%s", outdir, slash ? "/" : "", stem, suffix);
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
    /* Options not given take the library's defaults for this model
     * (mdnmf_denoise_defaults: adapt and smooth a noise basis learned from
     * noisy recordings, use one learned from clean noise as it is). */
    int adapt, fresh, smoothing;
    if (mdnmf_denoise_defaults(run->model, &adapt, &fresh, &smoothing, &error) != MDNMF_OK) {
        cli_error(APPLY_COMMAND, "%s: %s", r->model, error.message);
        return CLI_EXIT_RUNTIME;
    }
    adapt = r->adapt_given ? r->adapt_noise : adapt;
    smoothing = r->smoothing_given ? r->smoothing : smoothing;
    if (mdnmf_denoiser_set_adaptation(run->denoiser, adapt, r->adapt_fresh,
                                      &error) != MDNMF_OK) {
        cli_error(APPLY_COMMAND, "%s: --adapt-noise: %s", r->model, error.message);
        return CLI_EXIT_RUNTIME;
    }
    if (mdnmf_denoiser_set_noise_smoothing(run->denoiser, smoothing, &error) != MDNMF_OK) {
        cli_error(APPLY_COMMAND, "%s: --noise-smoothing: %s", r->model, error.message);
        return CLI_EXIT_RUNTIME;
    }
    run->written_sources = r->all_sources ? run->sources : 1;
    return cli_apply_overrides(APPLY_COMMAND, run->model, APPLY_OPTIONS, r->given,
                               APPLY_OPTION_COUNT, &r->overrides);
}

/* The outputs are named after the recordings: in a recording's own folder
 * they would replace it (noisy.wav -> OUTDIR/noisy.wav). */
static int refuse_outdir_of_inputs(const apply_request *r, apply_run *run)
{
    if (cli_inputs_note(APPLY_COMMAND, &run->inputs, (const char *const *)run->files.paths,
                        run->files.count) != 0 ||
        cli_refuse_folder_of_inputs(APPLY_COMMAND, "-o", r->outdir, &run->inputs) != 0) {
        return -1;
    }
    /* The model's folder is fine: no output is named after it. */
    return cli_inputs_note(APPLY_COMMAND, &run->inputs, &r->model, 1);
}

/* Every output's file, checked before any work: not an input (a link or a
 * hard link to one), not a folder, FIFO or device. */
static int plan_destinations(const apply_request *r, apply_run *run)
{
    size_t total = run->count * (size_t)run->written_sources;
    run->destinations = calloc(total, sizeof *run->destinations);
    if (!run->destinations) {
        cli_error(APPLY_COMMAND, "out of memory");
        return -1;
    }
    for (size_t k = 0; k < total; k++) {
        const recording *rec = &run->recordings[k / (size_t)run->written_sources];
        int source = (int)(k % (size_t)run->written_sources);
        char *path = output_path(r->outdir, rec->stem, source, run->sources);
        if (!path) {
            cli_error(APPLY_COMMAND, "out of memory");
            return -1;
        }
        int refused = cli_refuse_input_as_output(APPLY_COMMAND, "-o", path, &run->inputs);
        run->destinations[k] = refused ? NULL : cli_output_target(APPLY_COMMAND, path);
        free(path);
        if (!run->destinations[k]) {
            return -1;
        }
    }
    return 0;
}

/* The outputs are checked; OUTDIR exists as a folder, or is created (its
 * parent must exist); then a probe file proves it writable, before any
 * long computation. */
static int prepare_outdir(const apply_request *r, apply_run *run)
{
    if (refuse_outdir_of_inputs(r, run) != 0 || plan_destinations(r, run) != 0) {
        return -1;
    }
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
    cli_read_notes notes = {0};
    int rate = run->audio.sample_rate;
    for (size_t i = 0; i < run->count; i++) {
        recording *rec = &run->recordings[i];
        mdnmf_error error;
        if (mdnmf_audio_read(rec->path, 0, &rec->audio, &error) != MDNMF_OK) {
            cli_error_about(APPLY_COMMAND, rec->path, error.message);
            return -1;
        }
        if (cli_refuse_silence(APPLY_COMMAND, rec->path, &rec->audio, "denoise") != 0) {
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
        cli_print_read_notes(APPLY_COMMAND, "input", &notes, rate);
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
    if (cli_progress_attach(&run->bar, &params, r->quiet, 0, NULL, 0)) {
        mdnmf_model_set_params(run->model, &params, NULL);
    }
    mdnmf_error error;
    int status = mdnmf_denoiser_relearn_noise(run->denoiser, &recordings, &error);
    free(samples), free(lengths), free(rates);
    int code = cli_progress_finish(&run->bar, APPLY_COMMAND, status);
    if (code < 0) {
        cli_error(APPLY_COMMAND, "--relearn-noise: %s", error.message);
        code = CLI_EXIT_RUNTIME;
    }
    return code;
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
    run->staging = cli_format_path("%s/.mdnmf-apply.XXXXXX", r->outdir);
    if (!run->staging) {
        cli_error(APPLY_COMMAND, "out of memory");
        return -1;
    }
    if (!mkdtemp(run->staging)) {
        cli_error(APPLY_COMMAND, "-o %s: cannot create a folder in it (%s)", r->outdir,
                  strerror(errno));
        free(run->staging);
        run->staging = NULL;
        return -1;
    }
    return 0;
}

/* Where output k is written before it is committed: the staging folder,
 * numbered (two links may name targets of one name; malloc'ed). */
static char *staged_path(const apply_run *run, size_t k)
{
    return cli_format_path("%s/%zu.wav", run->staging, k);
}

/* Estimate `source` of a recording (at the file's rate and length),
 * written under its staged name (output k). */
static int write_estimate(const apply_request *r, apply_run *run, const recording *rec,
                          const float *estimate, size_t k)
{
    const char *destination = run->destinations[k];
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
        status = write_estimate(r, run, rec, estimates[s], k);
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
    cli_inputs_free(&run->inputs);
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

int cli_denoise_apply(int argc, char **argv)
{
    apply_request request;
    memset(&request, 0, sizeof request);
    request.operands = calloc((size_t)argc + 1, sizeof *request.operands);
    if (!request.operands) {
        cli_error(APPLY_COMMAND, "out of memory");
        return CLI_EXIT_RUNTIME;
    }
    int code = parse_apply_request(argc, argv, &request);
    if (code >= 0) {
        free(request.operands);
        return code;
    }
    apply_run run;
    memset(&run, 0, sizeof run);
    double started = cli_monotonic_seconds();
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
        report_throughput(&run, cli_monotonic_seconds() - started);
    }
    release_apply(&request, &run, code != CLI_EXIT_OK);
    free(request.operands);
    return code;
}
