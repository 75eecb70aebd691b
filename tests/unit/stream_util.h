/* What the streaming denoiser's tests share: Debian's real speech
 * (asterisk-core-sounds-en-wav) and noise (colobot-common-sounds), mixed at
 * an SNR, and a quick speech model trained on them. */
#ifndef MDNMF_STREAM_UTIL_H
#define MDNMF_STREAM_UTIL_H

#include "mdnmf.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_SPEECH_DIR "/usr/share/asterisk/sounds/en_US_f_Allison"
#define STREAM_NOISE_DIR "/usr/share/games/colobot/sounds"
#define STREAM_RATE 8000
#define STREAM_N_FFT 256
#define STREAM_HOP 128

typedef struct file_list {
    char **paths;
    int count;
} file_list;

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.wav files directly in `dir`, sorted (count 0 if none). */
static inline file_list list_wavs(const char *dir)
{
    file_list list = {NULL, 0};
    DIR *folder = opendir(dir);
    if (!folder)
        return list;
    int capacity = 0;
    struct dirent *entry;
    while ((entry = readdir(folder))) {
        size_t length = strlen(entry->d_name);
        if (length < 5 || strcmp(entry->d_name + length - 4, ".wav") != 0)
            continue;
        if (list.count == capacity) {
            capacity = capacity ? 2 * capacity : 64;
            list.paths = realloc(list.paths, (size_t)capacity * sizeof *list.paths);
        }
        char *path = malloc(strlen(dir) + length + 2);
        sprintf(path, "%s/%s", dir, entry->d_name);
        list.paths[list.count++] = path;
    }
    closedir(folder);
    qsort(list.paths, (size_t)list.count, sizeof *list.paths, compare_names);
    return list;
}

static inline void free_list(file_list *list)
{
    for (int i = 0; i < list->count; i++)
        free(list->paths[i]);
    free(list->paths);
}

/* A recording at `rate`, peak-normalised (NULL if unreadable or silent). */
static inline float *read_normalised(const char *path, int rate, int64_t *length)
{
    mdnmf_audio audio;
    if (mdnmf_audio_read(path, rate, &audio, NULL) != MDNMF_OK)
        return NULL;
    if (mdnmf_signal_normalize_peak(audio.samples, audio.length, NULL) != MDNMF_OK) {
        mdnmf_audio_free(&audio);
        return NULL;
    }
    *length = audio.length;
    return audio.samples; /* malloc'ed: the caller frees it */
}

/* Noise files first..first+count-1 one after the other (peak-normalised). */
static inline float *noise_track(const file_list *noise, int first, int count, int64_t *length)
{
    float *track = NULL;
    *length = 0;
    for (int i = first; i < first + count && i < noise->count; i++) {
        int64_t n = 0;
        float *x = read_normalised(noise->paths[i], STREAM_RATE, &n);
        if (!x)
            continue;
        track = realloc(track, (size_t)(*length + n) * sizeof *track);
        memcpy(track + *length, x, (size_t)n * sizeof *x);
        *length += n;
        free(x);
    }
    return track;
}

/* speech mixed at snr_db with the track from `offset` on (wrapping);
 * *target receives the scaled speech (malloc'ed). */
static inline float *mix_with(const float *speech, int64_t n, const float *track,
                              int64_t track_length, int64_t offset, double snr_db, float **target)
{
    float *noise = malloc((size_t)n * sizeof *noise), *mixture = malloc((size_t)n * sizeof *mixture);
    *target = malloc((size_t)n * sizeof **target);
    for (int64_t i = 0; i < n; i++)
        noise[i] = track[(offset + i) % track_length];
    if (mdnmf_mix_at_snr(speech, noise, n, snr_db, mixture, *target, noise, NULL, NULL) !=
        MDNMF_OK) {
        free(mixture), free(*target);
        mixture = *target = NULL;
    }
    free(noise);
    return mixture;
}

/* A `mode` separator (speech d_s atoms, noise d_n) of the model's front end
 * (8 kHz, n_fft 256, hop 128) from `speech` prompts and `noisy` mixtures. */
static inline mdnmf_model *train_speech_model(mdnmf_mode mode, int64_t d_s, int64_t d_n,
                                              int epochs, float *const *speech,
                                              const int64_t *speech_lengths, int speech_count,
                                              float *const *noisy, const int64_t *noisy_lengths,
                                              int noisy_count, mdnmf_error *error)
{
    mdnmf_separator_params p;
    mdnmf_separator_params_default(&p, 2);
    p.mode = mode;
    p.d[0] = d_s, p.d[1] = d_n;
    p.mu_H[0] = 1e-3, p.mu_H[1] = 1e-10;
    p.tau_A[0] = p.tau_A[1] = 1.0;
    p.common.mu_W = 1e-10;
    p.common.epochs = epochs;
    p.common.test_epochs = 100;
    p.common.threads = 1;
    p.common.seed = 3;
    p.wiener_exponent = 0.5;
    mdnmf_params common;
    mdnmf_params_default(&common);
    common.d = 1;
    common.threads = 1;
    mdnmf_model *model = mdnmf_model_create(&common, error);
    if (!model)
        return NULL;
    mdnmf_signal_data data;
    memset(&data, 0, sizeof data);
    data.clean[0] = (mdnmf_signals){.samples = (const float *const *)speech,
                                    .lengths = speech_lengths, .count = speech_count};
    data.mixtures = (mdnmf_signals){.samples = (const float *const *)noisy,
                                    .lengths = noisy_lengths, .count = noisy_count};
    mdnmf_audio_params audio = {.sample_rate = STREAM_RATE, .n_fft = STREAM_N_FFT,
                                .hop_length = STREAM_HOP};
    if (mdnmf_separator_fit_signals(model, &p, &audio, &data, error) != MDNMF_OK) {
        mdnmf_model_destroy(model);
        return NULL;
    }
    return model;
}

#endif
