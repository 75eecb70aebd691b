/* The speech front end as `mdnmf experiment speech` calls it,
 * on the library's signal pipeline.  These wrappers only keep the
 * experiment building until it calls mdnmf_signals_magnitudes,
 * mdnmf_denoiser and mdnmf_signal_peak itself; then this file goes. */
#include "speech_front_end.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

float cli_signal_peak(const float *signal, int64_t length)
{
    return mdnmf_signal_peak(signal, length);
}

mdnmf_stft *cli_stft_for(const mdnmf_audio_params *audio, char *message, size_t size)
{
    mdnmf_error error;
    mdnmf_stft *stft = mdnmf_stft_create(audio->n_fft, audio->hop_length, audio->win_length,
                                         &error);
    if (!stft)
        snprintf(message, size, "%s", error.message);
    return stft;
}

int cli_frames_append(cli_frames *frames, mdnmf_stft *stft, const float *signal,
                      int64_t length, char *message, size_t size)
{
    const float *samples[1] = {signal};
    mdnmf_signals one = {.samples = samples, .lengths = &length, .count = 1};
    mdnmf_error error;
    int64_t count = 0, m = mdnmf_stft_bins(stft);
    int status = mdnmf_signals_magnitudes(stft, 0, &one, NULL, &count, &error);
    if (!status && frames->n + count > frames->capacity) {
        int64_t capacity = frames->capacity ? frames->capacity : 1024;
        while (capacity < frames->n + count) {
            capacity *= 2;
        }
        float *grown = realloc(frames->data, (size_t)(capacity * m) * sizeof *grown);
        if (!grown) {
            snprintf(message, size, "out of memory for %" PRId64 " spectrogram frames",
                     frames->n + count);
            return MDNMF_ERR_MEMORY;
        }
        frames->data = grown, frames->capacity = capacity;
    }
    if (!status) {
        status = mdnmf_signals_magnitudes(stft, 0, &one, frames->data + frames->n * m, &count,
                                          &error);
    }
    if (status) {
        snprintf(message, size, "%s", error.message);
        return status;
    }
    frames->m = m;
    frames->n += count;
    return MDNMF_OK;
}

void cli_frames_free(cli_frames *frames)
{
    free(frames->data);
    memset(frames, 0, sizeof *frames);
}

int cli_separate_recording(mdnmf_model *model, mdnmf_stft *stft, const float *signal,
                           int64_t length, float *const *estimates, char *message, size_t size)
{
    (void)stft; /* the denoiser makes the model's own */
    mdnmf_error error;
    int status = mdnmf_separate_signal(model, signal, length, 0, estimates, &error);
    if (status) {
        snprintf(message, size, "%s", error.message);
    }
    return status;
}
