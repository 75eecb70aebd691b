/* mdnmf experiment speech: the paper's speech-denoising experiment (SPEC §6
 * `semi` / `semi_adv`, §7, §8, §9) on recordings no one here made:
 *
 *   speakers   Debian's asterisk-core-sounds-{en,es,fr}-wav prompts, 8 kHz
 *   noise      Debian's colobot-common-sounds effects, each resampled to
 *              8 kHz and peak-normalised, joined into one track
 *   protocol   per speaker the prompts are shuffled (seeded) and split half
 *              and half: clean training speech, and test utterances mixed
 *              with a random segment of the noise track at --snr dB (SPEC
 *              §8); NMF (`semi`) and MDNMF (`semi_adv`) learn the noise
 *              basis from all noisy test frames, then denoise every test
 *              utterance; SI-SDR and BSS Eval (speech source) per utterance.
 *
 * Writes OUT/README.md (tables beside the reference implementation's
 * numbers), OUT/results.csv, OUT/utterances.csv, OUT/sisdr.png,
 * OUT/spectrograms-<speaker>.png, OUT/examples/ (WAV) and OUT/models/ (.npz).
 * Every number comes from library calls (reading, resampling, peak
 * normalisation, mixing at an SNR, the separator fit from signals, the
 * denoiser, metrics and their aggregation); this file arranges the data,
 * runs the jobs on worker threads and writes the report. */
#define _POSIX_C_SOURCE 200809L

#include "experiment_speech.h"

#include "audio_paths.h"
#include "denoise.h"
#include "options.h"
#include "outputs.h"
#include "plot.h"
#include "progress.h"
#include "separation.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* A number macro as the usage shows it (the library's defaults). */
#define NUMBER_TEXT_OF(x) #x
#define NUMBER_TEXT(x) NUMBER_TEXT_OF(x)

/* The fresh noise atoms a stream learns online by default: the paper's 32,
 * as in the stream's own model (scripts/make-models.sh); the offline fits'
 * 128 (-d) learn worse online (docs/results.md, "Issue 13: noise
 * smoothing"). */
#define STREAM_NOISE_ATOMS 32

static const char *const COMMAND = "experiment speech";

const char cli_experiment_speech_summary[] =
    "The paper's speech-denoising experiment (NMF vs MDNMF) on Debian's prompts in colobot "
    "noise.";

enum { MAX_SPEAKERS = 16 };

/* The methods, in the order of the tables: the offline ones (the noisy
 * input and the two separators), then the streaming denoiser
 * (mdnmf_stream) run with each separator's model, its noise basis fixed or
 * learned online from fresh atoms (issue 14). */
typedef enum speech_method {
    METHOD_NOISY = 0,
    METHOD_NMF,
    METHOD_MDNMF,
    METHOD_MDNMF_STREAM,
    METHOD_MDNMF_STREAM_LEARNED,
    METHOD_NMF_STREAM,
    METHOD_NMF_STREAM_LEARNED,
    METHOD_COUNT
} speech_method;
enum { OFFLINE_METHODS = METHOD_MDNMF + 1 };
/* No commas: the CSVs are not quoted. */
static const char *const METHOD_NAMES[METHOD_COUNT] = {
    "noisy", "NMF", "MDNMF", "MDNMF stream", "MDNMF stream (noise learned online)",
    "NMF stream", "NMF stream (noise learned online)"};
static const char *const METHOD_FILES[METHOD_COUNT] = {
    "noisy", "nmf", "mdnmf", "mdnmf-stream", "mdnmf-stream-learned", "nmf-stream",
    "nmf-stream-learned"};

static int is_stream(speech_method m)
{
    return (int)m >= OFFLINE_METHODS;
}

/* The separator whose model a stream method runs. */
static speech_method stream_model(speech_method m)
{
    return m == METHOD_MDNMF_STREAM || m == METHOD_MDNMF_STREAM_LEARNED ? METHOD_MDNMF
                                                                        : METHOD_NMF;
}

static int stream_learns(speech_method m)
{
    return m == METHOD_MDNMF_STREAM_LEARNED || m == METHOD_NMF_STREAM_LEARNED;
}

/* The reference implementation on this data (SPEC, last section). */
typedef struct reference_row {
    const char *speaker;
    double noisy, nmf, mdnmf;
} reference_row;
static const reference_row REFERENCE[] = {
    {"en_US_f_Allison", 3.00, 5.27, 6.35},
    {"es_MX_f_Allison", 2.99, 5.35, 5.73},
    {"fr_CA_f_June", 3.00, 5.39, 6.32},
};
enum { REFERENCE_COUNT = sizeof REFERENCE / sizeof REFERENCE[0] };

/* ================================================================ config */

typedef struct speech_config {
    const char *sounds_dir, *noise_dir, *output;
    char *speaker_text; /* the --speakers list, split in place */
    const char *speakers[MAX_SPEAKERS];
    int speaker_count;
    double snr;
    int sample_rate, n_fft, hop_length;
    int power, context; /* the features (mdnmf_audio_params) */
    int adapt_noise; /* epochs of noise adaptation per test utterance (0: none) */
    int adapt_fresh; /* ... from fresh atoms (1), the model's (0) or MDNMF_ADAPT_AUTO */
    int adapt_given; /* --adapt-noise given (the default adapts Frobenius fits only) */
    int smoothing;   /* --noise-smoothing's frames (0: none) */
    int max_files;  /* per speaker before the split; 0 = all */
    int workers;
    int bss;
    int stream; /* the stream rows (--no-stream: 0) */
    int stream_steps; /* their steps per frame (mdnmf_stream_params.steps) */
    int stream_noise_atoms; /* fresh atoms of the streams that learn the noise */
    int quiet;
    int64_t nmf_batch; /* NMF's batch size (MDNMF: base.common.batch_size) */
    uint64_t seed;
    mdnmf_separator_params base; /* d, penalties, epochs, batches, seed */
} speech_config;

#define SEP(name) offsetof(mdnmf_separator_params, name)
#define NO_FIELD CLI_NO_FIELD

enum {
    OPT_SOUNDS = 256,
    OPT_NOISE,
    OPT_SPEAKERS,
    OPT_SNR,
    OPT_EPOCHS,
    OPT_TEST_EPOCHS,
    OPT_BATCH_SIZE,
    OPT_ADV_BATCH_SIZE,
    OPT_TAU_A,
    OPT_MU_W,
    OPT_MU_H,
    OPT_SEED,
    OPT_THREADS,
    OPT_MAX_FILES,
    OPT_NO_BSS,
    OPT_NO_STREAM,
    OPT_STREAM_STEPS,
    OPT_STREAM_NOISE_ATOMS,
    OPT_UPDATE_H,
    OPT_NORMALIZE,
    OPT_INIT,
    OPT_WARM_START_EPOCHS,
    OPT_NMF_BATCH,
    OPT_SPECTRUM,
    OPT_CONTEXT,
    OPT_N_FFT,
    OPT_HOP,
    OPT_ADAPT_NOISE,
    OPT_ADAPT_START,
    OPT_NOISE_SMOOTHING
};

static const cli_option OPTIONS[] = {
    {"sounds", OPT_SOUNDS, CLI_KIND_TEXT, "DIR", NO_FIELD, 0, NULL, "/usr/share/asterisk/sounds",
     "folder of the speakers' folders (asterisk-core-sounds-*-wav)"},
    {"speakers", OPT_SPEAKERS, CLI_KIND_TEXT, "A,B,...", NO_FIELD, 0, NULL,
     "en_US_f_Allison,es_MX_f_Allison,fr_CA_f_June",
     "speaker folders below --sounds (their silence/ folders are skipped)"},
    {"noise", OPT_NOISE, CLI_KIND_TEXT, "DIR", NO_FIELD, 0, NULL,
     "/usr/share/games/colobot/sounds", "noise recordings (colobot-common-sounds)"},
    {"snr", OPT_SNR, CLI_KIND_TEXT, "DB", NO_FIELD, 0, NULL, "3", "input SNR of the mixtures"},
    {"output", 'o', CLI_KIND_TEXT, "DIR", NO_FIELD, 0, NULL, "experiment-speech",
     "report folder (created)"},
    {"atoms", 'd', CLI_KIND_INT64_LIST, "DS,DN", SEP(d), 1, NULL, "128,128",
     "atoms of the speech and of the noise basis"},
    {"epochs", OPT_EPOCHS, CLI_KIND_INT, "N", SEP(common.epochs), 1, NULL, NULL,
     "training epochs (speech fit and noise fit)"},
    {"test-epochs", OPT_TEST_EPOCHS, CLI_KIND_INT, "N", SEP(common.test_epochs), 1, NULL,
     NULL, "update steps of H when separating"},
    {"batch-size", OPT_BATCH_SIZE, CLI_KIND_INT64, "B", SEP(common.batch_size), 0, NULL, NULL,
     "MDNMF's frames per batch, 0 = all (mini-batches diverge at tau_A = 1)"},
    {"nmf-batch-size", OPT_NMF_BATCH, CLI_KIND_TEXT, "B", NO_FIELD, 0, NULL, "10000",
     "NMF's frames per batch, 0 = all"},
    {"adv-batch-size", OPT_ADV_BATCH_SIZE, CLI_KIND_INT64, "B", SEP(common.batch_size_adv), 0,
     NULL, NULL, "adversarial (noisy) frames per batch of MDNMF, 0 = all"},
    {"tau-a", OPT_TAU_A, CLI_KIND_DOUBLE_LIST, "X", SEP(tau_A), 0, NULL, "1",
     "MDNMF's adversarial weight"},
    {"mu-w", OPT_MU_W, CLI_KIND_DOUBLE, "X", SEP(common.mu_W), 0, NULL, NULL,
     "L1 penalty on W"},
    {"mu-h", OPT_MU_H, CLI_KIND_DOUBLE_LIST, "XS,XN", SEP(mu_H), 0, NULL, "1e-3,1e-10",
     "L1 penalty on H of speech and noise"},
    {"update-h", OPT_UPDATE_H, CLI_KIND_FLAG, NULL, SEP(common.update_H), 0, NULL, NULL,
     "update H batch by batch instead of once per epoch"},
    {"normalize", OPT_NORMALIZE, CLI_KIND_FLAG, NULL, SEP(common.normalize), 0, NULL, NULL,
     "scale atoms to unit norm after every epoch"},
    {"init", OPT_INIT, CLI_KIND_CHOICE, "exemplar|random", SEP(common.init), 0,
     cli_init_names, NULL, "initial speech basis"},
    {"warm-start-epochs", OPT_WARM_START_EPOCHS, CLI_KIND_INT, "N", SEP(warm_start_epochs), 0,
     NULL, NULL, "NMF epochs of the speech basis before MDNMF's"},
    CLI_INIT_H_STEPS_OPTION(CLI_SEP_INIT_H_STEPS, SEP(common.init_H_steps)),
    CLI_DIVERGENCE_OPTION(SEP(common.divergence), NULL),
    CLI_NOISE_STEPS_OPTION(SEP(noise_steps)),
    CLI_WIENER_EXPONENT_OPTION(SEP(wiener_exponent)),
    {"spectrum", OPT_SPECTRUM, CLI_KIND_TEXT, "magnitude|power", NO_FIELD, 0, NULL,
     "magnitude", "what the bases model: STFT magnitudes or powers"},
    {"context", OPT_CONTEXT, CLI_KIND_TEXT, "C", NO_FIELD, 0, NULL, "0",
     "neighbouring frames stacked on each side of a frame (0..8)"},
    {"n-fft", OPT_N_FFT, CLI_KIND_TEXT, "N", NO_FIELD, 0, NULL, "256",
     "STFT frame and window length in samples (at 8 kHz)"},
    {"hop-length", OPT_HOP, CLI_KIND_TEXT, "N", NO_FIELD, 0, NULL, "128",
     "STFT hop in samples (at most --n-fft)"},
    {"adapt-noise", OPT_ADAPT_NOISE, CLI_KIND_TEXT, "EPOCHS", NO_FIELD, 0, NULL,
     NUMBER_TEXT(MDNMF_DENOISE_ADAPT_EPOCHS),
     "adapt the noise basis to each test utterance for EPOCHS steps before separating "
     "it (mdnmf_separate_adapted; 0 = none)"},
    CLI_ADAPT_START_OPTION(OPT_ADAPT_START),
    {"noise-smoothing", OPT_NOISE_SMOOTHING, CLI_KIND_TEXT, "FRAMES", NO_FIELD, 0, NULL,
     NUMBER_TEXT(MDNMF_DENOISE_SMOOTHING), "average the noise activations over FRAMES frames on each "
     "side before masking (mdnmf_separate_frames; 0 = none)"},
    {"seed", OPT_SEED, CLI_KIND_TEXT, "S", NO_FIELD, 0, NULL, "0",
     "seed of the splits, noise segments and fits"},
    {"threads", OPT_THREADS, CLI_KIND_TEXT, "N", NO_FIELD, 0, NULL, "2",
     "worker threads (each fit runs on one)"},
    {"max-files", OPT_MAX_FILES, CLI_KIND_TEXT, "N", NO_FIELD, 0, NULL, "all",
     "use at most N prompts per speaker (a quick run)"},
    {"no-bss", OPT_NO_BSS, CLI_KIND_FLAG, NULL, NO_FIELD, 0, NULL, "off",
     "skip BSS Eval (SI-SDR only; faster)"},
    {"no-stream", OPT_NO_STREAM, CLI_KIND_FLAG, NULL, NO_FIELD, 0, NULL, "off",
     "skip the streaming denoiser's rows (mdnmf_stream with each model)"},
    {"stream-steps", OPT_STREAM_STEPS, CLI_KIND_TEXT, "N", NO_FIELD, 0, NULL,
     NUMBER_TEXT(MDNMF_STREAM_DEFAULT_STEPS),
     "the streams' update steps of each frame's activations (1..10000)"},
    {"stream-noise-atoms", OPT_STREAM_NOISE_ATOMS, CLI_KIND_TEXT, "N", NO_FIELD, 0, NULL,
     NUMBER_TEXT(STREAM_NOISE_ATOMS),
     "fresh noise atoms the streams that learn the noise online start from"},
    {"quiet", 'q', CLI_KIND_FLAG, NULL, NO_FIELD, 0, NULL, "off", "no progress on stderr"},
    CLI_HELP_OPTION,
};
enum { OPTION_COUNT = sizeof OPTIONS / sizeof OPTIONS[0] };

static const cli_command USAGE = {
    "experiment speech",
    "experiment speech [--speakers A,B,...] [--snr DB] [-o DIR] [options]",
    "Reproduce the paper's speech-denoising experiment on Debian's recordings (install them\n"
    "with scripts/fetch-speech.sh): per speaker, half of the prompts train the speech basis,\n"
    "the other half are mixed with colobot noise at --snr dB and denoised by NMF (semi) and\n"
    "MDNMF (semi_adv); SI-SDR and BSS Eval per method, CSVs, figures and example WAVs.\n"
    "Each model also runs as the streaming denoiser (mdnmf_stream), with its noise basis and\n"
    "learning a fresh one online (SI-SDR rows; --no-stream skips them).",
    OPTIONS,
    OPTION_COUNT,
};

/* The paper's speech settings at 8 kHz (n_fft 256, hop 128: 32 ms windows
 * with 50 % overlap). */
static void speech_defaults(speech_config *c)
{
    memset(c, 0, sizeof *c);
    c->sounds_dir = "/usr/share/asterisk/sounds";
    c->noise_dir = "/usr/share/games/colobot/sounds";
    c->output = "experiment-speech";
    c->snr = 3.0;
    c->sample_rate = 8000, c->n_fft = 256, c->hop_length = 128;
    c->workers = 2;
    c->bss = 1;
    c->stream = 1;
    c->stream_steps = MDNMF_STREAM_DEFAULT_STEPS;
    c->stream_noise_atoms = STREAM_NOISE_ATOMS;
    c->nmf_batch = 10000;
    c->adapt_noise = MDNMF_DENOISE_ADAPT_EPOCHS; /* mdnmf_denoise_defaults' for semi models */
    c->adapt_fresh = MDNMF_ADAPT_AUTO;
    c->smoothing = MDNMF_DENOISE_SMOOTHING;
    cli_speech_params(&c->base);
    c->base.common.threads = 1;
}

static int split_speakers(speech_config *c, const char *text)
{
    free(c->speaker_text);
    c->speaker_text = strdup(text);
    if (!c->speaker_text) {
        cli_error(COMMAND, "out of memory");
        return -1;
    }
    c->speaker_count = 0;
    for (char *save = NULL, *name = strtok_r(c->speaker_text, ",", &save); name;
         name = strtok_r(NULL, ",", &save)) {
        if (c->speaker_count == MAX_SPEAKERS) {
            cli_error(COMMAND, "--speakers: more than %d speakers", MAX_SPEAKERS);
            return -1;
        }
        c->speakers[c->speaker_count++] = name;
    }
    if (c->speaker_count == 0) {
        cli_error(COMMAND, "--speakers: no speaker named");
        return -1;
    }
    return 0;
}

static int store_option(void *context, const cli_option *option, const char *value)
{
    speech_config *c = context;
    switch (option->key) {
    case OPT_SOUNDS: c->sounds_dir = value; return 0;
    case OPT_NOISE: c->noise_dir = value; return 0;
    case 'o': c->output = value; return 0;
    case OPT_SPEAKERS: return split_speakers(c, value);
    case OPT_SNR: return cli_parse_double(COMMAND, "--snr", value, -100.0, &c->snr);
    case OPT_SEED: return cli_parse_uint64(COMMAND, "--seed", value, &c->seed);
    case OPT_THREADS: return cli_parse_int(COMMAND, "--threads", value, 1, &c->workers);
    case OPT_MAX_FILES: return cli_parse_int(COMMAND, "--max-files", value, 2, &c->max_files);
    case OPT_NO_BSS: c->bss = 0; return 0;
    case OPT_NO_STREAM: c->stream = 0; return 0;
    case OPT_STREAM_STEPS:
        if (cli_parse_int(COMMAND, "--stream-steps", value, 1, &c->stream_steps) != 0) {
            return -1;
        }
        if (c->stream_steps > 10000) {
            cli_error(COMMAND, "--stream-steps: at most 10000 (got %d)", c->stream_steps);
            return -1;
        }
        return 0;
    case OPT_STREAM_NOISE_ATOMS:
        return cli_parse_int(COMMAND, "--stream-noise-atoms", value, 1, &c->stream_noise_atoms);
    case OPT_SPECTRUM: return cli_parse_spectrum(COMMAND, value, &c->power);
    case OPT_CONTEXT: return cli_parse_context(COMMAND, value, &c->context);
    case OPT_N_FFT: return cli_parse_int(COMMAND, "--n-fft", value, 2, &c->n_fft);
    case OPT_HOP: return cli_parse_int(COMMAND, "--hop-length", value, 1, &c->hop_length);
    case OPT_ADAPT_NOISE:
        c->adapt_given = 1;
        return cli_parse_int(COMMAND, "--adapt-noise", value, 0, &c->adapt_noise);
    case OPT_ADAPT_START: return cli_parse_adapt_start(COMMAND, value, &c->adapt_fresh);
    case OPT_NOISE_SMOOTHING:
        return cli_parse_int(COMMAND, "--noise-smoothing", value, 0, &c->smoothing);
    case OPT_NMF_BATCH:
        return cli_parse_int64(COMMAND, "--nmf-batch-size", value, 0, &c->nmf_batch);
    case 'q': c->quiet = 1; return 0;
    }
    return 0;
}

static int parse_config(int argc, char **argv, speech_config *c, int *exit_code)
{
    speech_defaults(c);
    speech_config defaults = *c;
    *exit_code = CLI_EXIT_USAGE;
    int given[OPTION_COUNT];
    int parsed = cli_parse_exit(cli_parse_options(&USAGE, argc, argv, &c->base, &defaults.base,
                                                  given, store_option, c));
    if (parsed >= 0) {
        *exit_code = parsed;
        return -1;
    }
    if (!c->speaker_count &&
        split_speakers(c, "en_US_f_Allison,es_MX_f_Allison,fr_CA_f_June") != 0) {
        return -1;
    }
    if (cli_spread_lists(&USAGE, &c->base, given, 2, "speech,noise") != 0) {
        return -1;
    }
    c->base.mode = MDNMF_MODE_SEMI;
    c->base.common.seed = c->seed;
    c->base.common.threads = 1;
    if (!c->adapt_given && c->base.common.divergence != MDNMF_DIVERGENCE_FROBENIUS) {
        c->adapt_noise = 0; /* the adaptation is a Frobenius fit */
    }
    if (c->hop_length > c->n_fft) {
        cli_error(COMMAND, "--hop-length %d is longer than --n-fft %d: choose at most n_fft",
                  c->hop_length, c->n_fft);
        return -1;
    }
    mdnmf_error error;
    if (mdnmf_separator_params_check(&c->base, &error) != MDNMF_OK) {
        cli_error(COMMAND, "%s", error.message);
        return -1;
    }
    *exit_code = CLI_EXIT_OK;
    return 0;
}

/* ================================================================= data */

/* A test utterance: the targets of SPEC §8 and their sum. */
typedef struct utterance {
    char *name;      /* path below the speaker's folder, without ".wav" */
    float *speech;   /* a_0 s */
    float *noise;    /* a_1 n */
    float *mixture;  /* a_0 s + a_1 n */
    int64_t length;
} utterance;

typedef struct speaker {
    const char *name;
    int64_t prompts, skipped_silent;
    double train_seconds, test_seconds;
    mdnmf_audio *train;   /* the clean training prompts, peak-normalised */
    int64_t n_train, train_frames;
    utterance *test;
    int64_t n_test;
    int64_t example;     /* the test utterance shown in figures and WAVs */
} speaker;

typedef struct noise_track {
    float *samples;
    int64_t length;
    int files, skipped_silent;
} noise_track;

/* Read a recording at the experiment's rate, peak-normalised.  Returns 0,
 * 1 when it is silent (skipped), -1 after one line. */
static int read_normalised(const speech_config *c, const char *path, mdnmf_audio *audio)
{
    mdnmf_error error;
    if (mdnmf_audio_read(path, c->sample_rate, audio, &error) != MDNMF_OK) {
        cli_error_about(COMMAND, path, error.message);
        return -1;
    }
    if (mdnmf_signal_peak(audio->samples, audio->length) == 0.0f) {
        mdnmf_audio_free(audio);
        return 1;
    }
    if (mdnmf_signal_normalize_peak(audio->samples, audio->length, &error) != MDNMF_OK) {
        cli_error_about(COMMAND, path, error.message);
        mdnmf_audio_free(audio);
        return -1;
    }
    return 0;
}

/* All noise effects, each at the rate and peak-normalised, one after the
 * other (SPEC: one track, random segments of it). */
static int load_noise(const speech_config *c, noise_track *track)
{
    cli_path_list files = {0};
    if (cli_paths_expand(COMMAND, c->noise_dir, &files) != 0) {
        cli_error(COMMAND, "no noise: install it with scripts/fetch-speech.sh or give --noise");
        return -1;
    }
    int status = 0;
    for (size_t i = 0; i < files.count && status == 0; i++) {
        mdnmf_audio audio;
        int read = read_normalised(c, files.paths[i], &audio);
        if (read != 0) {
            track->skipped_silent += read > 0;
            status = read < 0 ? -1 : 0;
            continue;
        }
        float *grown = realloc(track->samples,
                               (size_t)(track->length + audio.length) * sizeof *grown);
        if (!grown) {
            cli_error(COMMAND, "out of memory for the noise track");
            status = -1;
        } else {
            track->samples = grown;
            memcpy(grown + track->length, audio.samples, (size_t)audio.length * sizeof *grown);
            track->length += audio.length;
            track->files++;
        }
        mdnmf_audio_free(&audio);
    }
    cli_paths_free(&files);
    return status;
}

/* The prompts of a speaker: every audio file below its folder except
 * silence/ (recordings of silence, nothing to denoise). */
static int list_prompts(const speech_config *c, const char *name, cli_path_list *prompts)
{
    size_t size = strlen(c->sounds_dir) + strlen(name) + 2;
    char *folder = malloc(size);
    cli_path_list all = {0};
    if (!folder) {
        cli_error(COMMAND, "out of memory");
        return -1;
    }
    snprintf(folder, size, "%s/%s", c->sounds_dir, name);
    int status = cli_paths_expand(COMMAND, folder, &all);
    if (status != 0) {
        cli_error(COMMAND, "speaker %s missing: install it with scripts/fetch-speech.sh or "
                  "give --sounds / --speakers", name);
    }
    for (size_t i = 0; status == 0 && i < all.count; i++) {
        if (strstr(all.paths[i] + strlen(folder), "/silence/")) {
            continue;
        }
        cli_path_list one = {0};
        status = cli_paths_expand(COMMAND, all.paths[i], &one);
        if (status == 0 && one.count == 1) {
            /* Move the string over instead of copying it twice. */
            if (prompts->count == prompts->capacity) {
                size_t capacity = prompts->capacity ? 2 * prompts->capacity : 64;
                char **grown = realloc(prompts->paths, capacity * sizeof *grown);
                if (!grown) {
                    cli_error(COMMAND, "out of memory");
                    status = -1;
                } else {
                    prompts->paths = grown, prompts->capacity = capacity;
                }
            }
            if (status == 0) {
                prompts->paths[prompts->count++] = one.paths[0];
                one.count = 0;
            }
        }
        cli_paths_free(&one);
    }
    cli_paths_free(&all);
    free(folder);
    return status;
}

/* "digits/1" for ".../en_US_f_Allison/digits/1.wav". */
static char *utterance_name(const speech_config *c, const char *speaker_name, const char *path)
{
    const char *start = path + strlen(c->sounds_dir) + 1 + strlen(speaker_name) + 1;
    const char *dot = strrchr(start, '.');
    size_t length = dot ? (size_t)(dot - start) : strlen(start);
    char *name = malloc(length + 1);
    if (name) {
        memcpy(name, start, length);
        name[length] = '\0';
    }
    return name;
}

/* The test utterance of a prompt: speech and a noise segment mixed at
 * --snr dB (SPEC §8, mdnmf_mix_at_snr).  The segment starts at one of the
 * permuted track positions and wraps around the track's end; a silent
 * segment takes the next position. */
static int make_mixture(const speech_config *c, const noise_track *track, const int64_t *starts,
                        int64_t *next_start, const mdnmf_audio *speech, utterance *u)
{
    int64_t n = speech->length;
    u->length = n;
    u->speech = malloc((size_t)n * sizeof *u->speech);
    u->noise = malloc((size_t)n * sizeof *u->noise);
    u->mixture = malloc((size_t)n * sizeof *u->mixture);
    if (!u->speech || !u->noise || !u->mixture) {
        cli_error(COMMAND, "out of memory");
        return -1;
    }
    int silent = 1;
    for (int tries = 0; silent && tries < 1000; tries++) {
        int64_t start = starts[(*next_start)++ % track->length];
        for (int64_t i = 0; i < n; i++) {
            u->noise[i] = track->samples[(start + i) % track->length];
        }
        silent = mdnmf_signal_peak(u->noise, n) == 0.0f;
    }
    if (silent) {
        cli_error(COMMAND, "the noise track is silent");
        return -1;
    }
    mdnmf_error error;
    if (mdnmf_mix_at_snr(speech->samples, u->noise, n, c->snr, u->mixture, u->speech, u->noise,
                         NULL, &error) != MDNMF_OK) {
        cli_error(COMMAND, "%s", error.message);
        return -1;
    }
    return 0;
}

/* One prompt: training frames, or a test utterance with its mixture. */
static int use_prompt(const speech_config *c, speaker *sp, mdnmf_stft *stft,
                      const noise_track *track, const int64_t *starts, int64_t *next_start,
                      const char *path, int train)
{
    mdnmf_audio audio;
    int read = read_normalised(c, path, &audio);
    if (read != 0) {
        sp->skipped_silent += read > 0;
        return read < 0 ? -1 : 0;
    }
    double seconds = (double)audio.length / c->sample_rate;
    if (train) {
        sp->train_frames += mdnmf_stft_frames(stft, audio.length);
        sp->train[sp->n_train++] = audio; /* kept: the fits read it */
        sp->train_seconds += seconds;
        return 0;
    }
    utterance *u = &sp->test[sp->n_test++];
    u->name = utterance_name(c, sp->name, path);
    int status = !u->name ? -1 : make_mixture(c, track, starts, next_start, &audio, u);
    if (!u->name) {
        cli_error(COMMAND, "out of memory");
    }
    sp->test_seconds += seconds;
    mdnmf_audio_free(&audio);
    return status;
}

/* The example: the test utterance closest to 3 s (long enough to show). */
static int64_t pick_example(const speech_config *c, const speaker *sp)
{
    int64_t best = 0;
    double target = 3.0 * c->sample_rate, best_distance = INFINITY;
    for (int64_t i = 0; i < sp->n_test; i++) {
        double distance = fabs((double)sp->test[i].length - target);
        if (distance < best_distance) {
            best_distance = distance, best = i;
        }
    }
    return best;
}

/* SPEC §8's speaker-wise split: shuffle (seeded), first half trains. */
static int load_speaker(const speech_config *c, int index, mdnmf_stft *stft,
                        const noise_track *track, speaker *sp)
{
    cli_path_list prompts = {0};
    sp->name = c->speakers[index];
    if (list_prompts(c, sp->name, &prompts) != 0) {
        return -1;
    }
    int64_t n = (int64_t)prompts.count;
    int64_t *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    int64_t *starts = malloc((size_t)track->length * sizeof *starts);
    int status = order && starts ? 0 : -1;
    if (status) {
        cli_error(COMMAND, "out of memory");
    }
    if (!status && (mdnmf_shuffle_indices(order, n, c->seed + (uint64_t)index, NULL) != MDNMF_OK ||
                    mdnmf_shuffle_indices(starts, track->length, c->seed + 1000 + (uint64_t)index,
                                          NULL) != MDNMF_OK)) {
        cli_error(COMMAND, "cannot shuffle the prompts of %s", sp->name);
        status = -1;
    }
    if (c->max_files && n > c->max_files) {
        n = c->max_files;
    }
    sp->prompts = n;
    int64_t half = n / 2, next_start = 0;
    sp->test = status ? NULL : calloc((size_t)(n - half + 1), sizeof *sp->test);
    sp->train = status ? NULL : calloc((size_t)(half + 1), sizeof *sp->train);
    if (!status && (!sp->test || !sp->train)) {
        cli_error(COMMAND, "out of memory");
        status = -1;
    }
    for (int64_t k = 0; k < n && status == 0; k++) {
        status = use_prompt(c, sp, stft, track, starts, &next_start, prompts.paths[order[k]],
                            k < half);
    }
    if (status == 0 && (sp->n_train == 0 || sp->n_test == 0)) {
        cli_error(COMMAND, "speaker %s: %" PRId64 " usable prompts: need at least 2",
                  sp->name, sp->n_train + sp->n_test);
        status = -1;
    }
    if (status == 0) {
        sp->example = pick_example(c, sp);
    }
    free(order), free(starts);
    cli_paths_free(&prompts);
    return status;
}

static void speaker_free(speaker *sp)
{
    for (int64_t i = 0; sp->test && i < sp->n_test; i++) {
        free(sp->test[i].name), free(sp->test[i].speech), free(sp->test[i].noise);
        free(sp->test[i].mixture);
    }
    free(sp->test);
    for (int64_t i = 0; sp->train && i < sp->n_train; i++) {
        mdnmf_audio_free(&sp->train[i]);
    }
    free(sp->train);
}

/* ================================================================= jobs */

typedef struct utterance_score {
    double sisdr, sdr, sir, sar; /* NaN when undefined (a silent estimate) */
} utterance_score;

/* One (speaker, method): a fit (not for the noisy input) and the scores
 * of every test utterance.  A stream method's job is no task of its own:
 * the job of its separator runs it with the model it fitted. */
typedef struct job {
    int speaker;
    speech_method method;
    utterance_score *scores;
    float *example[2]; /* the example's speech and noise estimates (a
                          stream's: the speech only) */
    double fit_seconds, separate_seconds, metric_seconds;
    int failed;
    int skipped; /* a stream this model cannot run (message says why) */
    char message[512];
} job;

typedef struct experiment {
    const speech_config *config;
    speaker *speakers;
    job *jobs;
    int job_count, next_job;
    int runnable; /* jobs[0..runnable) are tasks; the stream jobs follow */
    pthread_mutex_t lock;
    int interrupted;
} experiment;

static mdnmf_audio_params audio_front_end(const speech_config *c)
{
    return (mdnmf_audio_params){.sample_rate = c->sample_rate, .n_fft = c->n_fft,
                                .hop_length = c->hop_length, .win_length = c->n_fft,
                                .power = c->power, .context = c->context};
}

/* A speaker's recordings as the fits take them: the clean training prompts
 * (source 0, the speech) and the noisy test utterances (the mixtures).
 * samples and lengths have room for n_train + n_test signals. */
static mdnmf_signal_data training_signals(const speaker *sp, const float **samples,
                                          int64_t *lengths)
{
    for (int64_t i = 0; i < sp->n_train; i++) {
        samples[i] = sp->train[i].samples, lengths[i] = sp->train[i].length;
    }
    for (int64_t i = 0; i < sp->n_test; i++) {
        samples[sp->n_train + i] = sp->test[i].mixture;
        lengths[sp->n_train + i] = sp->test[i].length;
    }
    mdnmf_signal_data data;
    memset(&data, 0, sizeof data);
    data.clean[0] = (mdnmf_signals){.samples = samples, .lengths = lengths,
                                    .count = sp->n_train};
    data.mixtures = (mdnmf_signals){.samples = samples + sp->n_train,
                                    .lengths = lengths + sp->n_train, .count = sp->n_test};
    return data;
}

static int fit_job_model(const experiment *x, job *j, mdnmf_model **out)
{
    const speaker *sp = &x->speakers[j->speaker];
    mdnmf_separator_params p = x->config->base;
    p.mode = j->method == METHOD_MDNMF ? MDNMF_MODE_SEMI_ADV : MDNMF_MODE_SEMI;
    if (j->method == METHOD_NMF) {
        p.common.batch_size = x->config->nmf_batch;
    }
    mdnmf_params common = p.common;
    common.d = 1;
    mdnmf_error error;
    mdnmf_model *model = mdnmf_model_create(&common, &error);
    if (!model) {
        snprintf(j->message, sizeof j->message, "%s", mdnmf_strerror(error.status));
        return error.status;
    }
    size_t count = (size_t)(sp->n_train + sp->n_test);
    const float **samples = malloc(count * sizeof *samples);
    int64_t *lengths = malloc(count * sizeof *lengths);
    if (!samples || !lengths) {
        snprintf(j->message, sizeof j->message, "out of memory");
        mdnmf_model_destroy(model), free(samples), free(lengths);
        return MDNMF_ERR_MEMORY;
    }
    mdnmf_signal_data data = training_signals(sp, samples, lengths);
    mdnmf_audio_params audio = audio_front_end(x->config);
    double started = cli_monotonic_seconds();
    int status = mdnmf_separator_fit_signals(model, &p, &audio, &data, &error);
    j->fit_seconds = cli_monotonic_seconds() - started;
    free(samples), free(lengths);
    if (status) {
        snprintf(j->message, sizeof j->message, "%s", error.message);
        mdnmf_model_destroy(model);
        return status;
    }
    *out = model;
    return MDNMF_OK;
}

/* SI-SDR and, with `bss`, BSS Eval of the speech estimate (BSS with both
 * sources, as mir_eval's bss_eval_sources without permutation). */
static void score_utterance(int bss, const utterance *u, const float *const *estimates,
                            utterance_score *score)
{
    score->sisdr = score->sdr = score->sir = score->sar = NAN;
    if (mdnmf_si_sdr(u->speech, estimates[0], u->length, &score->sisdr, NULL) != MDNMF_OK) {
        score->sisdr = NAN;
    }
    if (!bss) {
        return;
    }
    const float *references[2] = {u->speech, u->noise};
    const float *guesses[2] = {estimates[0], estimates[1]};
    mdnmf_bss_result result;
    if (mdnmf_bss_eval_sources(references, guesses, 2, u->length, 0, &result, NULL) == MDNMF_OK) {
        score->sdr = result.sdr[0], score->sir = result.sir[0], score->sar = result.sar[0];
    }
}

static int interrupted(experiment *x)
{
    if (cli_interrupted()) {
        x->interrupted = 1;
    }
    return x->interrupted;
}

/* Separate (or, for the noisy input, take the mixture as the speech
 * estimate and as the noise estimate) and score every test utterance. */
static int run_utterances(experiment *x, job *j, mdnmf_model *model)
{
    const speaker *sp = &x->speakers[j->speaker];
    int64_t longest = 1;
    for (int64_t i = 0; i < sp->n_test; i++) {
        longest = sp->test[i].length > longest ? sp->test[i].length : longest;
    }
    mdnmf_error error;
    mdnmf_denoiser *denoiser = NULL; /* plans and buffers made once for all utterances */
    if (model && (!(denoiser = mdnmf_denoiser_create(model, &error)) ||
                  mdnmf_denoiser_set_adaptation(denoiser, x->config->adapt_noise,
                                                x->config->adapt_fresh, &error) ||
                  mdnmf_denoiser_set_noise_smoothing(denoiser, x->config->smoothing,
                                                     &error))) {
        mdnmf_denoiser_destroy(denoiser);
        snprintf(j->message, sizeof j->message, "%s", error.message);
        return error.status;
    }
    float *speech = malloc((size_t)longest * sizeof *speech);
    float *noise = malloc((size_t)longest * sizeof *noise);
    j->scores = calloc((size_t)(sp->n_test > 0 ? sp->n_test : 1), sizeof *j->scores);
    if (!speech || !noise || !j->scores) {
        mdnmf_denoiser_destroy(denoiser), free(speech), free(noise);
        snprintf(j->message, sizeof j->message, "out of memory");
        return MDNMF_ERR_MEMORY;
    }
    int status = MDNMF_OK;
    for (int64_t i = 0; i < sp->n_test && !status && !interrupted(x); i++) {
        const utterance *u = &sp->test[i];
        float *separated_sources[2] = {speech, noise};
        const float *estimates[2] = {u->mixture, u->mixture};
        double started = cli_monotonic_seconds();
        if (denoiser) {
            status = mdnmf_denoiser_separate(denoiser, u->mixture, u->length, 0,
                                             separated_sources, &error);
            if (status) {
                snprintf(j->message, sizeof j->message, "%s", error.message);
            }
            estimates[0] = speech, estimates[1] = noise;
        }
        double separated = cli_monotonic_seconds();
        j->separate_seconds += separated - started;
        if (!status) {
            score_utterance(x->config->bss, u, estimates, &j->scores[i]);
            j->metric_seconds += cli_monotonic_seconds() - separated;
        }
        if (!status && i == sp->example) {
            for (int s = 0; s < 2; s++) {
                j->example[s] = malloc((size_t)u->length * sizeof(float));
                if (j->example[s]) {
                    memcpy(j->example[s], estimates[s], (size_t)u->length * sizeof(float));
                }
            }
        }
    }
    mdnmf_denoiser_destroy(denoiser);
    free(speech), free(noise);
    return status;
}

static void save_job_model(const experiment *x, const job *j, mdnmf_model *model)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/models/%s-%s.npz", x->config->output,
             x->speakers[j->speaker].name, METHOD_FILES[j->method]);
    mdnmf_error error;
    if (mdnmf_model_save(model, path, &error) != MDNMF_OK) {
        cli_error_about(COMMAND, path, error.message);
    }
}

static job *find_job(const experiment *x, int speaker_index, speech_method method);

/* The stream of a stream method: the experiment's seed; the model's Wiener
 * exponent (params 0), as its offline separation uses; learning methods
 * replace the model's noise basis by --stream-noise-atoms fresh atoms and
 * learn them online. */
static mdnmf_stream_params stream_params(const experiment *x, speech_method method)
{
    mdnmf_stream_params p;
    mdnmf_stream_params_default(&p);
    p.seed = x->config->seed;
    p.steps = x->config->stream_steps;
    if (stream_learns(method)) {
        p.learn_noise = 1;
        p.noise_atoms = x->config->stream_noise_atoms;
    }
    return p;
}

/* One test utterance through a stream in its initial state: the mixture
 * and `latency` zeros in, the first `latency` samples out dropped, so that
 * buffer[latency..latency + length) estimates the utterance's speech. */
static int stream_utterance(mdnmf_stream *stream, const utterance *u, int64_t latency,
                            float *buffer, mdnmf_error *error)
{
    mdnmf_stream_reset(stream);
    memcpy(buffer, u->mixture, (size_t)u->length * sizeof *buffer);
    memset(buffer + u->length, 0, (size_t)latency * sizeof *buffer);
    return mdnmf_stream_process(stream, buffer, u->length + latency, buffer, NULL, error);
}

/* Denoise every test utterance with `model` in a stream (each in a fresh
 * one: mdnmf_stream_reset gives the state after create) and score the
 * speech estimates by SI-SDR as the offline methods (no BSS Eval).  A model
 * the stream cannot take (MDNMF_ERR_STATE: features with context, online
 * learning with another divergence than Frobenius) skips the job. */
static int run_stream_utterances(experiment *x, job *j, const mdnmf_model *model)
{
    const speaker *sp = &x->speakers[j->speaker];
    mdnmf_stream_params p = stream_params(x, j->method);
    mdnmf_error error;
    double started = cli_monotonic_seconds();
    mdnmf_stream *stream = mdnmf_stream_create(model, &p, &error);
    if (!stream) {
        snprintf(j->message, sizeof j->message, "%s", error.message);
        j->skipped = error.status == MDNMF_ERR_STATE;
        return j->skipped ? MDNMF_OK : error.status;
    }
    int64_t latency = mdnmf_stream_latency(stream), longest = 1;
    for (int64_t i = 0; i < sp->n_test; i++) {
        longest = sp->test[i].length > longest ? sp->test[i].length : longest;
    }
    float *buffer = malloc((size_t)(longest + latency) * sizeof *buffer);
    j->scores = calloc((size_t)(sp->n_test > 0 ? sp->n_test : 1), sizeof *j->scores);
    if (!buffer || !j->scores) {
        mdnmf_stream_destroy(stream), free(buffer);
        snprintf(j->message, sizeof j->message, "out of memory");
        return MDNMF_ERR_MEMORY;
    }
    j->separate_seconds += cli_monotonic_seconds() - started;
    int status = MDNMF_OK;
    for (int64_t i = 0; i < sp->n_test && !status && !interrupted(x); i++) {
        const utterance *u = &sp->test[i];
        started = cli_monotonic_seconds();
        status = stream_utterance(stream, u, latency, buffer, &error);
        double streamed = cli_monotonic_seconds();
        j->separate_seconds += streamed - started;
        if (status) {
            snprintf(j->message, sizeof j->message, "%s", error.message);
            break;
        }
        const float *estimates[2] = {buffer + latency, NULL};
        score_utterance(0, u, estimates, &j->scores[i]);
        j->metric_seconds += cli_monotonic_seconds() - streamed;
        if (i == sp->example && (j->example[0] = malloc((size_t)u->length * sizeof(float)))) {
            memcpy(j->example[0], buffer + latency, (size_t)u->length * sizeof(float));
        }
    }
    mdnmf_stream_destroy(stream);
    free(buffer);
    return status;
}

static void report_job(const experiment *x, const job *j)
{
    if (x->config->quiet) {
        return;
    }
    const speaker *sp = &x->speakers[j->speaker];
    if (j->failed) {
        cli_error(COMMAND, "%s %s failed: %s", sp->name, METHOD_NAMES[j->method], j->message);
    } else if (j->skipped) {
        cli_error(COMMAND, "note: %s %s skipped: %s", sp->name, METHOD_NAMES[j->method],
                  j->message);
    } else if (!x->interrupted) {
        fprintf(stderr, "mdnmf %s: %-16s %-5s fit %5.1f s, separate %5.1f s, metrics "
                "%5.1f s (%" PRId64 " utterances)\n", COMMAND, sp->name,
                METHOD_NAMES[j->method], j->fit_seconds, j->separate_seconds,
                j->metric_seconds, sp->n_test);
    }
}

/* The stream jobs of a separator's job, with the model it fitted. */
static void run_streams(experiment *x, const job *parent, const mdnmf_model *model)
{
    for (int m = OFFLINE_METHODS; m < METHOD_COUNT && !interrupted(x); m++) {
        job *j = stream_model((speech_method)m) == parent->method
                     ? find_job(x, parent->speaker, (speech_method)m)
                     : NULL;
        if (j) {
            j->failed = run_stream_utterances(x, j, model) != MDNMF_OK;
            report_job(x, j);
        }
    }
}

static void run_job(experiment *x, job *j)
{
    mdnmf_model *model = NULL;
    int status = MDNMF_OK;
    if (j->method != METHOD_NOISY) {
        status = fit_job_model(x, j, &model);
    }
    if (!status && !interrupted(x)) {
        status = run_utterances(x, j, model);
    }
    if (!status && model && !interrupted(x)) {
        save_job_model(x, j, model);
    }
    j->failed = status != MDNMF_OK;
    report_job(x, j);
    if (!status && model) {
        run_streams(x, j, model);
    }
    mdnmf_model_destroy(model);
}

static void *worker(void *argument)
{
    experiment *x = argument;
    for (;;) {
        pthread_mutex_lock(&x->lock);
        int index = x->next_job < x->runnable && !interrupted(x) ? x->next_job++ : -1;
        pthread_mutex_unlock(&x->lock);
        if (index < 0) {
            break;
        }
        run_job(x, &x->jobs[index]);
    }
    return NULL;
}

/* Fits first (longest), the noisy input's scores last; then the stream
 * jobs, which the separators' jobs run. */
static int make_jobs(experiment *x)
{
    int speakers = x->config->speaker_count;
    int methods = x->config->stream ? METHOD_COUNT : OFFLINE_METHODS;
    x->runnable = speakers * OFFLINE_METHODS;
    x->job_count = speakers * methods;
    x->jobs = calloc((size_t)x->job_count, sizeof *x->jobs);
    if (!x->jobs) {
        cli_error(COMMAND, "out of memory");
        return -1;
    }
    static const speech_method order[OFFLINE_METHODS] = {METHOD_MDNMF, METHOD_NMF,
                                                         METHOD_NOISY};
    int k = 0;
    for (int m = 0; m < methods; m++) {
        for (int s = 0; s < speakers; s++) {
            speech_method method = m < OFFLINE_METHODS ? order[m] : (speech_method)m;
            x->jobs[k++] = (job){.speaker = s, .method = method};
        }
    }
    return 0;
}

static job *find_job(const experiment *x, int speaker_index, speech_method method)
{
    for (int k = 0; k < x->job_count; k++) {
        if (x->jobs[k].speaker == speaker_index && x->jobs[k].method == method) {
            return &x->jobs[k];
        }
    }
    return NULL;
}

static void run_jobs(experiment *x)
{
    int workers = x->config->workers < x->job_count ? x->config->workers : x->job_count;
    pthread_t *threads = calloc((size_t)workers, sizeof *threads);
    int *started = calloc((size_t)workers, sizeof *started);
    for (int i = 1; threads && started && i < workers; i++) {
        started[i] = pthread_create(&threads[i], NULL, worker, x) == 0;
    }
    worker(x);
    for (int i = 1; threads && started && i < workers; i++) {
        if (started[i]) {
            pthread_join(threads[i], NULL);
        }
    }
    free(threads), free(started);
}

/* ============================================================== summary */

typedef struct summary {
    int count, failed;    /* scored utterances; undefined scores */
    double sisdr, sisdr_median, sisdr_sem, sdr, sir, sar;
} summary;

/* Field `offset` of every utterance's score, into values[0..n). */
static void gather_scores(const job *j, int64_t n, size_t offset, double *values)
{
    for (int64_t i = 0; i < n; i++) {
        values[i] = *(const double *)((const char *)&j->scores[i] + offset);
    }
}

/* The mean over the utterances of the finite values of field `offset`
 * (NaN when there is none); *finite counts them. */
static double mean_of(const job *j, int64_t n, size_t offset, double *values, int64_t *finite)
{
    double mean = NAN;
    gather_scores(j, n, offset, values);
    mdnmf_aggregate_finite(values, n, MDNMF_AGGREGATE_MEAN, &mean, finite, NULL);
    return mean;
}

/* The standard error of the mean of the finite values (k of them):
 * sqrt(Σ (v - mean)² / (k - 1) / k). */
static double standard_error(const double *values, int64_t n, double mean, int64_t k)
{
    double squares = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isfinite(values[i])) {
            squares += (values[i] - mean) * (values[i] - mean);
        }
    }
    return k > 1 ? sqrt(squares / (double)(k - 1) / (double)k) : NAN;
}

static summary summarise(const job *j, int64_t n)
{
    summary s = {0};
    s.sisdr = s.sisdr_median = s.sisdr_sem = s.sdr = s.sir = s.sar = NAN;
    double *values = j && !j->failed && j->scores ? malloc((size_t)(n ? n : 1) * sizeof *values)
                                                 : NULL;
    if (!values) {
        return s;
    }
    int64_t finite = 0, ignored = 0;
    s.sdr = mean_of(j, n, offsetof(utterance_score, sdr), values, &ignored);
    s.sir = mean_of(j, n, offsetof(utterance_score, sir), values, &ignored);
    s.sar = mean_of(j, n, offsetof(utterance_score, sar), values, &ignored);
    s.sisdr = mean_of(j, n, offsetof(utterance_score, sisdr), values, &finite);
    s.count = (int)finite;
    s.failed = (int)(n - finite);
    mdnmf_aggregate_finite(values, n, MDNMF_AGGREGATE_MEDIAN, &s.sisdr_median, NULL, NULL);
    s.sisdr_sem = standard_error(values, n, s.sisdr, finite);
    free(values);
    return s;
}

/* Utterances on which MDNMF's SI-SDR beats NMF's. */
static int64_t mdnmf_wins(const experiment *x, int speaker_index)
{
    const job *nmf = find_job(x, speaker_index, METHOD_NMF);
    const job *mdnmf = find_job(x, speaker_index, METHOD_MDNMF);
    int64_t wins = 0;
    if (!nmf || !mdnmf || !nmf->scores || !mdnmf->scores) {
        return 0;
    }
    for (int64_t i = 0; i < x->speakers[speaker_index].n_test; i++) {
        wins += mdnmf->scores[i].sisdr > nmf->scores[i].sisdr;
    }
    return wins;
}

/* The reference's numbers hold for its data and front end only: the
 * project's speech and colobot noise at 3 dB, 8 kHz, n_fft 256, hop 128.
 * Another --noise, --sounds, --snr or front end shows none (issue 13: the
 * colobot numbers were shown beside results on other noise). */
static int reference_applies(const speech_config *c)
{
    speech_config d;
    speech_defaults(&d);
    return strcmp(c->sounds_dir, d.sounds_dir) == 0 && strcmp(c->noise_dir, d.noise_dir) == 0 &&
           c->snr == d.snr && c->sample_rate == d.sample_rate && c->n_fft == d.n_fft &&
           c->hop_length == d.hop_length;
}

static const reference_row *reference_for(const speech_config *c, const char *name)
{
    if (!reference_applies(c)) {
        return NULL;
    }
    for (int i = 0; i < REFERENCE_COUNT; i++) {
        if (strcmp(REFERENCE[i].speaker, name) == 0) {
            return &REFERENCE[i];
        }
    }
    return NULL;
}

/* "5.27" or "—" for NaN, into a caller's buffer. */
static const char *number(char *buffer, size_t size, double value)
{
    if (isfinite(value)) {
        snprintf(buffer, size, "%.2f", value);
    } else {
        snprintf(buffer, size, "—");
    }
    return buffer;
}

/* ================================================================ report */

static int write_results_csv(const experiment *x)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/results.csv", x->config->output);
    cli_output out;
    if (cli_output_open(&out, COMMAND, path) != 0) {
        return -1;
    }
    fputs("speaker,method,train_prompts,test_utterances,scored,sisdr_mean,sisdr_median,"
          "sisdr_sem,sdr_mean,sir_mean,sar_mean,fit_seconds,separate_seconds,metric_seconds,"
          "reference_sisdr\n", out.stream);
    for (int s = 0; s < x->config->speaker_count; s++) {
        const speaker *sp = &x->speakers[s];
        const reference_row *ref = reference_for(x->config, sp->name);
        for (int m = 0; m < METHOD_COUNT; m++) {
            const job *j = find_job(x, s, (speech_method)m);
            if (!j) {
                continue; /* --no-stream */
            }
            summary sm = summarise(j, sp->n_test);
            double reference = !ref || is_stream((speech_method)m) ? NAN
                               : m == METHOD_NOISY                 ? ref->noisy
                                        : m == METHOD_NMF     ? ref->nmf
                                                              : ref->mdnmf;
            fprintf(out.stream, "%s,%s,%" PRId64 ",%" PRId64 ",%d,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,"
                    "%.2f,%.2f,%.2f,%.2f\n", sp->name, METHOD_NAMES[m], sp->n_train, sp->n_test,
                    sm.count, sm.sisdr, sm.sisdr_median, sm.sisdr_sem, sm.sdr, sm.sir, sm.sar,
                    j->fit_seconds, j->separate_seconds, j->metric_seconds, reference);
        }
    }
    return cli_output_commit(&out, COMMAND);
}

static int write_utterances_csv(const experiment *x)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/utterances.csv", x->config->output);
    cli_output out;
    if (cli_output_open(&out, COMMAND, path) != 0) {
        return -1;
    }
    fputs("speaker,utterance,seconds,method,sisdr,sdr,sir,sar\n", out.stream);
    for (int s = 0; s < x->config->speaker_count; s++) {
        const speaker *sp = &x->speakers[s];
        for (int m = 0; m < METHOD_COUNT; m++) {
            const job *j = find_job(x, s, (speech_method)m);
            for (int64_t i = 0; j && j->scores && i < sp->n_test; i++) {
                const utterance_score *u = &j->scores[i];
                fprintf(out.stream, "%s,%s,%.3f,%s,%.4f,%.4f,%.4f,%.4f\n", sp->name,
                        sp->test[i].name, (double)sp->test[i].length / x->config->sample_rate,
                        METHOD_NAMES[m], u->sisdr, u->sdr, u->sir, u->sar);
            }
        }
    }
    return cli_output_commit(&out, COMMAND);
}

/* Mean SI-SDR per speaker and offline method, with standard errors (the
 * streams are within a few tenths of their models: the README's table). */
static int plot_sisdr(const experiment *x)
{
    int n = x->config->speaker_count;
    double xs[MAX_SPEAKERS], ys[OFFLINE_METHODS][MAX_SPEAKERS];
    double errs[OFFLINE_METHODS][MAX_SPEAKERS];
    plot_series series[OFFLINE_METHODS];
    for (int m = 0; m < OFFLINE_METHODS; m++) {
        for (int s = 0; s < n; s++) {
            summary sm = summarise(find_job(x, s, (speech_method)m), x->speakers[s].n_test);
            xs[s] = s;
            ys[m][s] = sm.sisdr;
            errs[m][s] = sm.sisdr_sem;
        }
        series[m] = (plot_series){METHOD_NAMES[m], n, xs, ys[m], errs[m]};
    }
    series[METHOD_NOISY].label = "noisy input";
    series[METHOD_NMF].label = "NMF (semi)";
    series[METHOD_MDNMF].label = "MDNMF (semi_adv)";
    char title[160], path[1024];
    snprintf(title, sizeof title, "Speech denoising at %g dB input SNR: mean SI-SDR "
             "(± standard error)", x->config->snr);
    plot_axes axes = {.title = title, .x_label = "speaker", .y_label = "SI-SDR (dB)",
                      .x_ticks = xs, .x_tick_labels = x->config->speakers, .x_tick_count = n,
                      .width = 200 + 220 * n, .height = 500};
    snprintf(path, sizeof path, "%s/sisdr.png", x->config->output);
    return plot_lines_png(COMMAND, path, &axes, series, OFFLINE_METHODS);
}

/* |STFT| of a signal in dB (m x frames, column-major); *top_db rises to
 * its loudest bin. */
static float *spectrogram_db(mdnmf_stft *stft, const float *signal, int64_t length,
                             float *top_db)
{
    int64_t count = mdnmf_stft_bins(stft) * mdnmf_stft_frames(stft, length);
    float *db = malloc((size_t)count * sizeof *db);
    if (!db || mdnmf_stft_forward(stft, signal, length, db, NULL, NULL) != MDNMF_OK) {
        free(db);
        return NULL;
    }
    for (int64_t i = 0; i < count; i++) {
        db[i] = 20.0f * log10f(db[i] + 1e-10f);
        *top_db = db[i] > *top_db ? db[i] : *top_db;
    }
    return db;
}

/* dB values as a picture (row-major, row 0 the highest frequency): the
 * height above a floor 80 dB under `top_db`, so 0 is black. */
static float *spectrogram_picture(const float *db, int64_t m, int64_t frames, float top_db)
{
    float *image = malloc((size_t)(m * frames) * sizeof *image);
    for (int64_t t = 0; image && t < frames; t++) {
        for (int64_t f = 0; f < m; f++) {
            float value = db[t * m + f] - (top_db - 80.0f);
            image[(m - 1 - f) * frames + t] = value > 0 ? value : 0;
        }
    }
    return image;
}

static int write_example_wav(const experiment *x, const speaker *sp, const char *what,
                             const float *samples, int64_t length)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/examples/%s-%s.wav", x->config->output, sp->name, what);
    mdnmf_error error;
    if (mdnmf_audio_write(path, samples, length, x->config->sample_rate, MDNMF_AUDIO_PCM16,
                          &error) != MDNMF_OK) {
        cli_error_about(COMMAND, path, error.message);
        return -1;
    }
    return 0;
}

/* The example utterance of a speaker: clean, noisy, NMF and MDNMF as WAV
 * files and as spectrograms side by side; the streams' as WAV files. */
static int write_example(const experiment *x, int s, mdnmf_stft *stft)
{
    const speaker *sp = &x->speakers[s];
    const utterance *u = &sp->test[sp->example];
    const job *nmf = find_job(x, s, METHOD_NMF), *mdnmf = find_job(x, s, METHOD_MDNMF);
    const job *noisy = find_job(x, s, METHOD_NOISY);
    if (!nmf->example[0] || !mdnmf->example[0] || !noisy->example[0]) {
        return 0; /* a failed or interrupted job: nothing to show */
    }
    const float *signals[4] = {u->speech, noisy->example[0], nmf->example[0],
                               mdnmf->example[0]};
    static const char *const names[4] = {"clean", "noisy", "nmf", "mdnmf"};
    int status = 0;
    for (int k = 0; k < 4 && status == 0; k++) {
        status = write_example_wav(x, sp, names[k], signals[k], u->length);
    }
    for (int m = OFFLINE_METHODS; m < METHOD_COUNT && status == 0; m++) {
        const job *j = find_job(x, s, (speech_method)m);
        if (j && j->example[0]) {
            status = write_example_wav(x, sp, METHOD_FILES[m], j->example[0], u->length);
        }
    }
    float top = -INFINITY;
    float *db[4] = {0}, *images[4] = {0};
    int64_t m = mdnmf_stft_bins(stft), frames = mdnmf_stft_frames(stft, u->length);
    for (int k = 0; k < 4 && status == 0; k++) {
        db[k] = spectrogram_db(stft, signals[k], u->length, &top);
        status = db[k] ? 0 : -1;
    }
    for (int k = 0; k < 4 && status == 0; k++) {
        images[k] = spectrogram_picture(db[k], m, frames, top);
        status = images[k] ? 0 : -1;
    }
    if (status != 0) {
        cli_error(COMMAND, "out of memory for the spectrograms");
    }
    if (status == 0) {
        const job *jobs[4] = {NULL, noisy, nmf, mdnmf};
        char captions[4][64], title[256], path[1024];
        const char *caption_text[4] = {NULL, captions[1], captions[2], captions[3]};
        for (int k = 1; k < 4; k++) {
            snprintf(captions[k], sizeof captions[k], "SI-SDR %.2f dB",
                     jobs[k]->scores[sp->example].sisdr);
        }
        static const char *const labels[4] = {"clean speech (target)", "noisy input",
                                               "NMF (semi)", "MDNMF (semi_adv)"};
        snprintf(title, sizeof title, "%s / %s: |STFT| in dB (80 dB range, 0-%d Hz, %.1f s)",
                 sp->name, u->name, x->config->sample_rate / 2,
                 (double)u->length / x->config->sample_rate);
        plot_grid grid = {.title = title, .rows = 1, .cols = 4,
                          .width = (int)frames, .height = (int)m, .scale = 2,
                          .column_labels = labels, .row_labels = NULL,
                          .cells = (const float *const *)images, .captions = caption_text};
        snprintf(path, sizeof path, "%s/spectrograms-%s.png", x->config->output, sp->name);
        status = plot_grid_png(COMMAND, path, &grid);
    }
    for (int k = 0; k < 4; k++) {
        free(db[k]), free(images[k]);
    }
    return status;
}

/* Issue 14's bars on the stream: with the model's noise basis within
 * 0.3 dB of the offline separation by the same model, and learning the
 * noise online from fresh atoms at least 2 dB above the noisy input. */
#define STREAM_FIXED_BAR_DB 0.3
#define STREAM_LEARNED_BAR_DB 2.0

/* "+0.05 (yes)": a difference and whether it passes (pass < 0: no bar
 * applies, the difference alone), "—" when undefined. */
static const char *verdict(char *buffer, size_t size, double difference, int pass)
{
    if (isfinite(difference) && pass < 0) {
        snprintf(buffer, size, "%+.2f", difference);
    } else if (isfinite(difference)) {
        snprintf(buffer, size, "%+.2f (%s)", difference, pass ? "yes" : "no");
    } else {
        snprintf(buffer, size, "—");
    }
    return buffer;
}

/* Whether the offline rows separate with the model's bases as they are:
 * the fixed stream's bar is about that separation. */
static int offline_is_plain(const speech_config *c)
{
    return c->adapt_noise == 0 && c->smoothing == 0;
}

/* The stream rows of one speaker and model: offline, the stream with the
 * model's noise basis and the one learning it, each against its bar. */
static void print_stream_row(const experiment *x, int s, speech_method offline, FILE *out)
{
    const speaker *sp = &x->speakers[s];
    speech_method fixed = offline == METHOD_MDNMF ? METHOD_MDNMF_STREAM : METHOD_NMF_STREAM;
    speech_method learned = offline == METHOD_MDNMF ? METHOD_MDNMF_STREAM_LEARNED
                                                    : METHOD_NMF_STREAM_LEARNED;
    summary noisy = summarise(find_job(x, s, METHOD_NOISY), sp->n_test);
    summary model = summarise(find_job(x, s, offline), sp->n_test);
    summary a = summarise(find_job(x, s, fixed), sp->n_test);
    summary b = summarise(find_job(x, s, learned), sp->n_test);
    double gap = a.sisdr - model.sisdr, gain = b.sisdr - noisy.sisdr;
    char t[5][48];
    fprintf(out, "| %s | %s | %s | %s | %s | %s | %s |\n", sp->name, METHOD_NAMES[offline],
            number(t[0], sizeof t[0], model.sisdr), number(t[1], sizeof t[1], a.sisdr),
            verdict(t[2], sizeof t[2], gap,
                    offline_is_plain(x->config) ? fabs(gap) <= STREAM_FIXED_BAR_DB : -1),
            number(t[3], sizeof t[3], b.sisdr),
            verdict(t[4], sizeof t[4], gain, gain >= STREAM_LEARNED_BAR_DB));
}

/* The streaming denoiser's table, with the reasons of skipped streams. */
static void print_stream_table(const experiment *x, FILE *out)
{
    if (!x->config->stream) {
        return;
    }
    fprintf(out, "\nStreaming denoiser (`mdnmf_stream`, as `mdnmf denoise stream`): every test "
                 "utterance through a fresh stream of the model, %d steps per frame, output "
                 "realigned by the stream's latency, mean SI-SDR (dB) as above. Fixed: the "
                 "model's bases; learned online: the model's speech basis and %" PRId64
                 " fresh noise atoms learned while streaming (no noise basis given). Bars: "
                 "fixed within %.1f dB of the offline separation with the model's bases as "
                 "they are (%s), learned at least %+.0f dB over the noisy input.\n\n"
                 "| speaker | model | offline | stream, fixed | fixed − offline (within %.1f) | "
                 "stream, learned online | learned − noisy input (at least %+.0f) |\n"
                 "| --- | --- | --- | --- | --- | --- | --- |\n",
            x->config->stream_steps, (int64_t)x->config->stream_noise_atoms, STREAM_FIXED_BAR_DB,
            offline_is_plain(x->config)
                ? "as in this run"
                : "`--adapt-noise 0 --noise-smoothing 0`; this run adapts and smooths offline, "
                  "so that column shows the difference only",
            STREAM_LEARNED_BAR_DB, STREAM_FIXED_BAR_DB, STREAM_LEARNED_BAR_DB);
    for (int s = 0; s < x->config->speaker_count; s++) {
        print_stream_row(x, s, METHOD_MDNMF, out);
        print_stream_row(x, s, METHOD_NMF, out);
    }
    for (int k = 0; k < x->job_count; k++) {
        const job *j = &x->jobs[k];
        if (is_stream(j->method) && (j->skipped || j->failed)) {
            fprintf(out, "\n%s %s %s: %s\n", x->speakers[j->speaker].name,
                    METHOD_NAMES[j->method], j->skipped ? "not run" : "failed", j->message);
        }
    }
}

/* The results table (Markdown), printed and in the README. */
static void print_table(const experiment *x, FILE *out)
{
    char a[32], b[32], c[32], d[32], e[32], f[32], g[32], h[32];
    fprintf(out, "| speaker | train / test prompts | noisy input | NMF (`semi`) | "
                 "MDNMF (`semi_adv`) | MDNMF − NMF | MDNMF better on | reference noisy / NMF / "
                 "MDNMF |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (int s = 0; s < x->config->speaker_count; s++) {
        const speaker *sp = &x->speakers[s];
        summary noisy = summarise(find_job(x, s, METHOD_NOISY), sp->n_test);
        summary nmf = summarise(find_job(x, s, METHOD_NMF), sp->n_test);
        summary mdnmf = summarise(find_job(x, s, METHOD_MDNMF), sp->n_test);
        const reference_row *ref = reference_for(x->config, sp->name);
        char gain[32];
        if (isfinite(mdnmf.sisdr - nmf.sisdr)) {
            snprintf(gain, sizeof gain, "%+.2f", mdnmf.sisdr - nmf.sisdr);
        } else {
            snprintf(gain, sizeof gain, "—");
        }
        fprintf(out, "| %s | %" PRId64 " / %" PRId64 " | %s | %s | %s | %s | %" PRId64
                " / %" PRId64 " | %s / %s / %s |\n", sp->name, sp->n_train, sp->n_test,
                number(a, sizeof a, noisy.sisdr), number(b, sizeof b, nmf.sisdr),
                number(c, sizeof c, mdnmf.sisdr), gain, mdnmf_wins(x, s),
                sp->n_test, ref ? number(d, sizeof d, ref->noisy) : "—",
                ref ? number(e, sizeof e, ref->nmf) : "—",
                ref ? number(f, sizeof f, ref->mdnmf) : "—");
    }
    print_stream_table(x, out);
    if (!x->config->bss) {
        return;
    }
    fprintf(out, "\nBSS Eval v3 of the speech estimate, mean over the test utterances (dB):\n\n"
                 "| speaker | method | SDR | SIR | SAR |\n| --- | --- | --- | --- | --- |\n");
    for (int s = 0; s < x->config->speaker_count; s++) {
        for (int m = 0; m < OFFLINE_METHODS; m++) {
            summary sm = summarise(find_job(x, s, (speech_method)m), x->speakers[s].n_test);
            fprintf(out, "| %s | %s | %s | %s | %s |\n", x->speakers[s].name, METHOD_NAMES[m],
                    number(g, sizeof g, sm.sdr), number(h, sizeof h, sm.sir),
                    number(a, sizeof a, sm.sar));
        }
    }
}

static void print_timings(const experiment *x, FILE *out)
{
    fprintf(out, "| speaker | method | fit (s) | separate (s) | metrics (s) |\n"
                 "| --- | --- | --- | --- | --- |\n");
    for (int s = 0; s < x->config->speaker_count; s++) {
        for (int m = METHOD_NMF; m < METHOD_COUNT; m++) {
            const job *j = find_job(x, s, (speech_method)m);
            if (j && is_stream((speech_method)m)) {
                fprintf(out, "| %s | %s | — | %.1f | %.1f |\n", x->speakers[s].name,
                        METHOD_NAMES[m], j->separate_seconds, j->metric_seconds);
            } else if (j) {
                fprintf(out, "| %s | %s | %.1f | %.1f | %.1f |\n", x->speakers[s].name,
                        METHOD_NAMES[m], j->fit_seconds, j->separate_seconds,
                        j->metric_seconds);
            }
        }
    }
}

static const char *adapt_start_name(int fresh)
{
    return fresh == MDNMF_ADAPT_AUTO ? "auto" : fresh ? "fresh" : "model";
}

static const char *adapt_start_text(int fresh)
{
    if (fresh == MDNMF_ADAPT_AUTO)
        return "fresh Uniform(0,1) atoms for MDNMF and the model's noise atoms for NMF "
               "(MDNMF_ADAPT_AUTO: fresh atoms soak up the speech an NMF speech basis leaves)";
    return fresh ? "fresh Uniform(0,1) atoms" : "the model's noise atoms";
}

static int write_readme(const experiment *x, const noise_track *track,
                        const char *command_line, double seconds)
{
    const speech_config *c = x->config;
    char path[1024], context_note[64] = "";
    snprintf(path, sizeof path, "%s/README.md", c->output);
    if (c->context > 0)
        snprintf(context_note, sizeof context_note, " with %d frames of context on each side",
                 c->context);
    cli_output out;
    if (cli_output_open(&out, COMMAND, path) != 0) {
        return -1;
    }
    FILE *f = out.stream;
    fprintf(f, "# Speech denoising: NMF vs MDNMF\n\n"
               "Made by `%s` (mdnmf %s) in %.0f s.\n\n"
               "Mean SI-SDR (dB) of the speech estimate over each speaker's test utterances "
               "at %g dB input SNR, %s:\n\n",
            command_line, mdnmf_version(), seconds, c->snr,
            reference_applies(c)
                ? "beside the reference implementation's numbers on the same setup (SPEC, last "
                  "section)"
                : "with no reference numbers: the reference implementation was measured on "
                  "the project's speech and colobot noise at 3 dB, 8 kHz, n_fft 256, hop 128 "
                  "only");
    print_table(x, f);
    fprintf(f, "\n![mean SI-SDR per speaker](sisdr.png)\n\n");
    for (int s = 0; s < c->speaker_count; s++) {
        fprintf(f, "![spectrograms of an utterance of %s](spectrograms-%s.png)\n\n",
                x->speakers[s].name, x->speakers[s].name);
    }
    fprintf(f, "## Setup\n\n"
               "- Speech: every prompt below `%s/<speaker>` except `silence/`, read at %d Hz, "
               "peak-normalised; per speaker shuffled (seed %" PRIu64 " + speaker index) and "
               "split half / half: the first half is clean training speech, the second half "
               "the test utterances.\n"
               "- Noise: the %d effects of `%s`, resampled to %d Hz, peak-normalised and joined "
               "into one %.1f s track%s; each test utterance gets a segment of it starting at a "
               "random position (wrapping around the end).\n"
               "- Mixtures (SPEC §8): a_0 = 1, a_1 = sqrt(P_s / (P_n 10^(SNR/10))), both "
               "divided by their sum; mixture a_0 s + a_1 n; targets a_0 s and a_1 n.\n"
               "- Front end (SPEC §7): n_fft %d, hop %d, periodic Hann window of %d, %s%s; "
               "reconstruction with the mixture's phase; Wiener mask exponent %g (SPEC "
               "§11).\n"
               "- Fits: d = (%" PRId64 ", %" PRId64 "), mu_H = (%g, %g), mu_W = %g, tau_A = %g, "
               "%d epochs, %d test epochs, %s init%s%s, seed %" PRIu64 ", one thread "
               "per fit. NMF = mode `semi`, MDNMF = mode `semi_adv`: the speech basis from the "
               "clean training speech (MDNMF against the noisy test frames as adversarial "
               "data), then the noise basis learned from all noisy test frames with the speech "
               "basis fixed; each test utterance is then separated on its own with Wiener "
               "filtering. Batches (0 = all frames): MDNMF %" PRId64 " (adversarial %" PRId64
               "), NMF %" PRId64 ". MDNMF runs full batches because with mini-batches its "
               "speech basis grows geometrically within the first epoch at tau_A = 1 (H is "
               "only updated after the epoch's batches, SPEC §3) and the fit stops as "
               "diverged; NMF is better with mini-batches (more steps of its noise basis), so "
               "it gets them.\n"
               "- Scores: SI-SDR (SPEC §9, no mean removal) of a_0 s against its estimate; "
               "BSS Eval v3 (as mir_eval's bss_eval_sources, 512-tap filters) of both "
               "sources, the speech source reported. The noisy input is scored as an estimate "
               "of both sources.\n\n",
            c->sounds_dir, c->sample_rate, c->seed, track->files, c->noise_dir,
            c->sample_rate, (double)track->length / c->sample_rate,
            track->skipped_silent ? " (silent effects skipped)" : "", c->n_fft, c->hop_length,
            c->n_fft, c->power ? "powers" : "magnitudes", context_note, c->base.wiener_exponent,
            c->base.d[0], c->base.d[1], c->base.mu_H[0], c->base.mu_H[1],
            c->base.common.mu_W, c->base.tau_A[0], c->base.common.epochs,
            c->base.common.test_epochs,
            c->base.common.init == MDNMF_INIT_RANDOM ? "random" : "exemplar",
            c->base.common.update_H ? ", batch-wise H updates" : "",
            c->base.common.normalize ? ", unit-norm atoms" : "", c->seed,
            c->base.common.batch_size, c->base.common.batch_size_adv, c->nmf_batch);
    if (c->adapt_noise > 0) {
        fprintf(f, "- Noise adaptation (`--adapt-noise %d --adapt-start %s`): before each "
                   "test utterance is separated, its noise basis is refitted to that utterance "
                   "alone for %d multiplicative steps (W step of the noise atoms, then H step "
                   "with all bases; speech basis fixed; mdnmf_separate_adapted), starting from "
                   "%s; the fitted models are not changed.\n\n",
                c->adapt_noise, adapt_start_name(c->adapt_fresh), c->adapt_noise,
                adapt_start_text(c->adapt_fresh));
    }
    if (c->smoothing > 0) {
        fprintf(f, "- Noise smoothing (`--noise-smoothing %d`): before the Wiener mask, each "
                   "noise activation is replaced by its mean over the %d frames on each side "
                   "(fewer at the utterance's ends; mdnmf_separate_frames), since noise "
                   "changes more slowly than speech; the speech activations are kept.\n\n",
                c->smoothing, c->smoothing);
    }
    if (c->stream) {
        fprintf(f, "- Streams (`mdnmf_stream`, issue 14): each fitted model also runs as the "
                   "streaming denoiser: %d multiplicative steps (`--stream-steps`) of each "
                   "frame's activations warm-started from the previous frame's, the model's "
                   "Wiener exponent, no floor, the library's defaults otherwise. Every test utterance goes through a stream in "
                   "its initial state, followed by `latency` zeros (n_fft − 1 samples); the "
                   "first `latency` output samples are dropped, so the estimate lines up with "
                   "the target. Fixed: the model's speech and noise bases. Learned online: the "
                   "model's speech basis, %" PRId64 " fresh Uniform(0,1) noise atoms (seed %"
                   PRIu64 ") learned while streaming (forgetting %.2f per frame). Scored by "
                   "SI-SDR only (no BSS Eval); `--no-stream` skips them.\n\n",
                c->stream_steps, (int64_t)c->stream_noise_atoms, c->seed,
                MDNMF_STREAM_DEFAULT_FORGETTING);
    }
    fprintf(f, "Files: `results.csv` (per speaker and method), `utterances.csv` (per "
               "utterance), `models/<speaker>-{nmf,mdnmf}.npz` (usable with `mdnmf denoise "
               "apply` and `mdnmf denoise stream`), `examples/<speaker>-{clean,noisy,nmf,mdnmf}"
               ".wav` (the utterance of the spectrograms)%s.\n\n## Time\n\n",
            c->stream ? " and `examples/<speaker>-{mdnmf,nmf}-stream{,-learned}.wav` (the "
                        "streams' estimates of it)" : "");
    print_timings(x, f);
    return cli_output_commit(&out, COMMAND);
}

static int make_folder(const char *path)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        cli_error(COMMAND, "%s: cannot create the folder (%s)", path, strerror(errno));
        return -1;
    }
    struct stat info;
    if (stat(path, &info) != 0 || !S_ISDIR(info.st_mode)) {
        cli_error(COMMAND, "%s: not a folder", path);
        return -1;
    }
    return 0;
}

static int make_folders(const speech_config *c)
{
    char path[1024];
    int status = make_folder(c->output);
    snprintf(path, sizeof path, "%s/models", c->output);
    status = status ? status : make_folder(path);
    snprintf(path, sizeof path, "%s/examples", c->output);
    return status ? status : make_folder(path);
}

static int write_report(const experiment *x, const noise_track *track, const char *command_line,
                        double seconds)
{
    const speech_config *c = x->config;
    mdnmf_error error;
    mdnmf_stft *stft = mdnmf_stft_create(c->n_fft, c->hop_length, c->n_fft, &error);
    int status = stft ? 0 : -1;
    if (!stft) {
        cli_error(COMMAND, "cannot make the STFT: %s", error.message);
    }
    status = status ? status : write_results_csv(x);
    status = status ? status : write_utterances_csv(x);
    status = status ? status : plot_sisdr(x);
    for (int s = 0; s < x->config->speaker_count && status == 0; s++) {
        status = write_example(x, s, stft);
    }
    status = status ? status : write_readme(x, track, command_line, seconds);
    mdnmf_stft_destroy(stft);
    return status;
}

/* ================================================================= entry */

static int load_data(const speech_config *c, noise_track *track, speaker *speakers)
{
    mdnmf_error error;
    mdnmf_stft *stft = mdnmf_stft_create(c->n_fft, c->hop_length, c->n_fft, &error);
    if (!stft) {
        cli_error(COMMAND, "cannot make the STFT: %s", error.message);
        return -1;
    }
    int status = load_noise(c, track);
    for (int s = 0; s < c->speaker_count && status == 0; s++) {
        status = load_speaker(c, s, stft, track, &speakers[s]);
        if (status == 0 && !c->quiet) {
            const speaker *sp = &speakers[s];
            fprintf(stderr, "mdnmf %s: %-16s %" PRId64 " prompts: %" PRId64 " train (%.0f s, "
                    "%" PRId64 " frames), %" PRId64 " test (%.0f s)%s\n", COMMAND, sp->name,
                    sp->prompts, sp->n_train, sp->train_seconds, sp->train_frames, sp->n_test,
                    sp->test_seconds, sp->skipped_silent ? ", silent ones skipped" : "");
        }
    }
    mdnmf_stft_destroy(stft);
    return status;
}

int cli_experiment_speech(int argc, char **argv)
{
    speech_config config;
    int code = CLI_EXIT_OK;
    if (parse_config(argc, argv, &config, &code) != 0) {
        free(config.speaker_text);
        return code;
    }
    speaker speakers[MAX_SPEAKERS];
    memset(speakers, 0, sizeof speakers);
    noise_track track = {0};
    experiment x = {.config = &config, .speakers = speakers};
    pthread_mutex_init(&x.lock, NULL);
    char *command_line = cli_command_line("mdnmf experiment", argc, argv);
    double started = cli_monotonic_seconds();
    int status = command_line ? make_folders(&config) : -1;
    status = status ? status : load_data(&config, &track, speakers);
    status = status ? status : make_jobs(&x);
    if (status == 0) {
        cli_interrupt_install();
        run_jobs(&x);
        if (x.interrupted) {
            cli_error(COMMAND, "interrupted: no report written");
            code = CLI_EXIT_INTERRUPTED;
        }
    }
    if (status == 0 && code == CLI_EXIT_OK) {
        status = write_report(&x, &track, command_line, cli_monotonic_seconds() - started);
        if (status == 0) {
            print_table(&x, stdout);
            if (!config.quiet) {
                fprintf(stderr, "mdnmf %s: wrote %s/README.md, CSVs, figures and examples "
                        "(%.0f s)\n", COMMAND, config.output, cli_monotonic_seconds() - started);
            }
        }
    }
    int failed_jobs = 0;
    for (int k = 0; x.jobs && k < x.job_count; k++) {
        failed_jobs += x.jobs[k].failed;
        free(x.jobs[k].scores), free(x.jobs[k].example[0]), free(x.jobs[k].example[1]);
    }
    free(x.jobs);
    for (int s = 0; s < config.speaker_count; s++) {
        speaker_free(&speakers[s]);
    }
    free(track.samples);
    free(command_line);
    free(config.speaker_text);
    pthread_mutex_destroy(&x.lock);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    return status == 0 && failed_jobs == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}
