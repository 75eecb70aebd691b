/*
 * bench_stream — the streaming denoiser's speed (issue 14: one thread, 8 kHz,
 * d = 128 speech + 32 noise atoms; at least 100x real time with a fixed
 * noise basis and 50x with online noise learning).
 *
 *   bench_stream [--seconds 60] [--block 128] [--rounds 4] [--steps 0]
 *
 * Audio: Debian's en_US_f_Allison prompts (asterisk-core-sounds-en-wav), one
 * after the other until --seconds, mixed with colobot noise
 * (colobot-common-sounds) at 3 dB, 8 kHz.  Model: `std` on 20 other prompts
 * and the noise, 5 epochs, n_fft 256, hop 128, d = 128 + 32 (its quality
 * does not matter here, only its shape).  Each round streams the whole
 * signal through a fresh stream in blocks of --block samples (a plugin's
 * period), once with the model's noise basis and once learning it online
 * (default steps, forgetting and interval: every frame); the process CPU
 * clock of the best round is kept, x real time = audio seconds / that.
 * Noise: the relative difference of the best of the odd and of the even
 * rounds.  The stream runs on the calling thread only (no BLAS, no OpenMP).
 *
 * Output (stdout): tab-separated "info" and "target" records for
 * bench/report.py.  Exit status: 0 measured, 1 could not measure.
 */
#include "mdnmf.h"
#include "bench_util.h"

#include <cblas.h> /* openblas_get_corename */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SPEECH_DIR "/usr/share/asterisk/sounds/en_US_f_Allison"
#define NOISE_DIR "/usr/share/games/colobot/sounds"
#define RATE 8000
#define MAX_FILES 400

typedef struct options {
    double seconds;
    int64_t block;
    int rounds, steps;
} options;

static int usage(void)
{
    fprintf(stderr, "usage: bench_stream [--seconds S] [--block N] [--rounds R] [--steps K]\n");
    return 1;
}

static int parse(int argc, char **argv, options *o)
{
    *o = (options){.seconds = 60.0, .block = 128, .rounds = 4, .steps = 0};
    for (int i = 1; i < argc; i++) {
        int64_t value = 0;
        if (i + 1 >= argc)
            return -1;
        const char *name = argv[i], *text = argv[++i];
        if (!strcmp(name, "--seconds") && bench_parse_int64(text, 1, 3600, &value))
            o->seconds = (double)value;
        else if (!strcmp(name, "--block") && bench_parse_int64(text, 1, 1 << 20, &value))
            o->block = value;
        else if (!strcmp(name, "--rounds") && bench_parse_int64(text, 2, 100, &value))
            o->rounds = (int)value;
        else if (!strcmp(name, "--steps") && bench_parse_int64(text, 0, 1000, &value))
            o->steps = (int)value;
        else
            return -1;
    }
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted *.wav paths of `dir` (at most MAX_FILES); the count. */
static int list_wavs(const char *dir, char **paths)
{
    DIR *folder = opendir(dir);
    if (!folder)
        return 0;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(folder)) && count < MAX_FILES) {
        size_t length = strlen(entry->d_name);
        if (length < 5 || strcmp(entry->d_name + length - 4, ".wav") != 0)
            continue;
        paths[count] = malloc(strlen(dir) + length + 2);
        sprintf(paths[count++], "%s/%s", dir, entry->d_name);
    }
    closedir(folder);
    qsort(paths, (size_t)count, sizeof *paths, compare_names);
    return count;
}

/* Recordings paths[first], paths[first + step], ... peak-normalised, one
 * after the other, until `want` samples (or the list's end). */
static float *join(char **paths, int count, int first, int step, int64_t want, int64_t *length)
{
    float *out = NULL;
    *length = 0;
    for (int i = first; i < count && *length < want; i += step) {
        mdnmf_audio audio;
        if (mdnmf_audio_read(paths[i], RATE, &audio, NULL) != MDNMF_OK)
            continue;
        if (mdnmf_signal_normalize_peak(audio.samples, audio.length, NULL) == MDNMF_OK) {
            int64_t take = audio.length < want - *length ? audio.length : want - *length;
            out = realloc(out, (size_t)(*length + take) * sizeof *out);
            memcpy(out + *length, audio.samples, (size_t)take * sizeof *out);
            *length += take;
        }
        mdnmf_audio_free(&audio);
    }
    return out;
}

static mdnmf_model *fit_model(float *speech, int64_t n_speech, float *noise, int64_t n_noise)
{
    mdnmf_separator_params p;
    mdnmf_separator_params_default(&p, 2);
    p.mode = MDNMF_MODE_STD;
    p.d[0] = 128, p.d[1] = 32;
    p.common.epochs = 5;
    p.common.threads = 1;
    p.wiener_exponent = 0.5;
    mdnmf_params common;
    mdnmf_params_default(&common);
    common.d = 1;
    common.threads = 1;
    mdnmf_model *model = mdnmf_model_create(&common, NULL);
    mdnmf_signal_data data;
    memset(&data, 0, sizeof data);
    const float *s[1] = {speech}, *n[1] = {noise};
    data.clean[0] = (mdnmf_signals){.samples = s, .lengths = &n_speech, .count = 1};
    data.clean[1] = (mdnmf_signals){.samples = n, .lengths = &n_noise, .count = 1};
    mdnmf_audio_params audio = {.sample_rate = RATE, .n_fft = 256, .hop_length = 128};
    mdnmf_error error;
    if (!model || mdnmf_separator_fit_signals(model, &p, &audio, &data, &error) != MDNMF_OK) {
        fprintf(stderr, "bench_stream: cannot fit the model%s%s\n", model ? ": " : "",
                model ? error.message : "");
        mdnmf_model_destroy(model);
        return NULL;
    }
    return model;
}

/* Process CPU seconds to stream x through a fresh stream in blocks. */
static double stream_seconds(const mdnmf_model *model, const mdnmf_stream_params *p,
                             const float *x, int64_t n, int64_t block, float *out)
{
    mdnmf_stream *s = mdnmf_stream_create(model, p, NULL);
    if (!s)
        return -1.0;
    double t0 = bench_clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
    for (int64_t at = 0; at < n; at += block) {
        int64_t count = n - at < block ? n - at : block;
        if (mdnmf_stream_process(s, x + at, count, out + at, NULL, NULL) != MDNMF_OK) {
            mdnmf_stream_destroy(s);
            return -1.0;
        }
    }
    double seconds = bench_clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - t0;
    mdnmf_stream_destroy(s);
    return seconds;
}

static double least(const double *x, int count, int first, int step)
{
    double best = INFINITY;
    for (int i = first; i < count; i += step)
        best = x[i] < best ? x[i] : best;
    return best;
}

int main(int argc, char **argv)
{
    options o;
    if (parse(argc, argv, &o))
        return usage();
    openblas_set_num_threads(1);
    char *speech_paths[MAX_FILES], *noise_paths[MAX_FILES];
    int n_speech = list_wavs(SPEECH_DIR, speech_paths), n_noise = list_wavs(NOISE_DIR, noise_paths);
    if (n_speech < 40 || n_noise < 4) {
        fprintf(stderr, "bench_stream: needs %s (asterisk-core-sounds-en-wav) and %s "
                "(colobot-common-sounds)\n", SPEECH_DIR, NOISE_DIR);
        return 1;
    }
    int64_t want = (int64_t)(o.seconds * RATE), n = 0, n_track = 0, n_train = 0, n_fit_noise = 0;
    /* Odd prompts to stream, even ones (20 s) to train on. */
    float *speech = join(speech_paths, n_speech, 1, 2, want, &n);
    float *train = join(speech_paths, n_speech, 0, 2, 20 * RATE, &n_train);
    float *track = join(noise_paths, n_noise, 0, 1, want, &n_track);
    float *fit_noise = join(noise_paths, n_noise, 0, 1, 20 * RATE, &n_fit_noise);
    if (!speech || !train || !track || n_track < 1) {
        fprintf(stderr, "bench_stream: cannot read the recordings\n");
        return 1;
    }
    float *noise = malloc((size_t)n * sizeof *noise), *mixture = malloc((size_t)n * sizeof *mixture);
    for (int64_t i = 0; i < n; i++)
        noise[i] = track[i % n_track];
    if (mdnmf_mix_at_snr(speech, noise, n, 3.0, mixture, speech, noise, NULL, NULL) != MDNMF_OK)
        return 1;
    mdnmf_model *model = fit_model(train, n_train, fit_noise, n_fit_noise);
    if (!model)
        return 1;
    double audio = (double)n / RATE;
    fprintf(stderr, "bench_stream: %.1f s of audio, %d rounds\n", audio, o.rounds);

    mdnmf_stream_params fixed, learning;
    mdnmf_stream_params_default(&fixed);
    fixed.steps = o.steps;
    learning = fixed;
    learning.learn_noise = 1;
    float *out = malloc((size_t)n * sizeof *out);
    double *t_fixed = malloc((size_t)o.rounds * sizeof *t_fixed);
    double *t_learn = malloc((size_t)o.rounds * sizeof *t_learn);
    for (int r = 0; r < o.rounds; r++) {
        t_fixed[r] = stream_seconds(model, &fixed, mixture, n, o.block, out);
        t_learn[r] = stream_seconds(model, &learning, mixture, n, o.block, out);
        if (t_fixed[r] <= 0.0 || t_learn[r] <= 0.0) {
            fprintf(stderr, "bench_stream: the stream failed\n");
            return 1;
        }
        fprintf(stderr, "bench_stream: round %d: fixed %.3f s, learning %.3f s\n", r + 1,
                t_fixed[r], t_learn[r]);
    }
    const char *ids[2] = {"stream_fixed_rt", "stream_learn_rt"};
    const char *what[2] = {"the model's noise basis", "online noise learning every frame"};
    const double minimum[2] = {100.0, 50.0};
    double *times[2] = {t_fixed, t_learn};
    for (int k = 0; k < 2; k++) {
        double best = least(times[k], o.rounds, 0, 1);
        double odd = audio / least(times[k], o.rounds, 0, 2);
        double even = audio / least(times[k], o.rounds, 1, 2);
        double noise_ratio = fabs(odd - even) / (odd > even ? odd : even);
        printf("target\tid=%s\tcase=stream, %s: one thread, 8 kHz, m = 129, d = 160 (128 + "
               "32), %d MU steps per frame, blocks of %lld samples, %.0f s of speech in noise\t"
               "measured=%.3f\tunit=s\treference=%.1f\treference_label=audio duration, ratio "
               "= x real time\tratio=%.1f\tminimum=%.0f\tnoise=%.3f\tthreads=1\t"
               "origin=issue 14\n", ids[k], what[k],
               o.steps ? o.steps : MDNMF_STREAM_DEFAULT_STEPS, (long long)o.block, audio, best,
               audio, audio / best, minimum[k], noise_ratio < 0.01 ? 0.01 : noise_ratio);
    }
    printf("info\tstream_clock\tprocess CPU time, best of %d rounds\n", o.rounds);
    printf("info\tstream_openblas\t%s (%s); the stream itself calls no BLAS\n",
           openblas_get_corename(), openblas_get_config());
    printf("info\tstream_model\tstd, 5 epochs, d 128 + 32, n_fft 256, hop 128, 8 kHz\n");
    mdnmf_model_destroy(model);
    for (int i = 0; i < n_speech; i++)
        free(speech_paths[i]);
    for (int i = 0; i < n_noise; i++)
        free(noise_paths[i]);
    free(speech), free(train), free(track), free(fit_noise), free(noise), free(mixture);
    free(out), free(t_fixed), free(t_learn);
    return 0;
}
