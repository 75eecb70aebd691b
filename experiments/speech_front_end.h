/* The speech front end as `mdnmf experiment speech` calls it (SPEC §7),
 * wrappers of the library's signal pipeline (denoise_front_end.c), until
 * the experiment calls the library itself.  `mdnmf denoise` calls the
 * library directly. */
#ifndef MDNMF_EXPERIMENTS_SPEECH_FRONT_END_H
#define MDNMF_EXPERIMENTS_SPEECH_FRONT_END_H

#include "mdnmf.h"

#include <stddef.h>
#include <stdint.h>

/* Magnitude spectrogram frames of several recordings side by side: an
 * m x n column-major matrix that grows (SPEC §7: training material is the
 * concatenation of the frames of all training files). */
typedef struct cli_frames {
    int64_t m, n, capacity;
    float *data;
} cli_frames;

/* Append the |STFT| frames of `signal` (length >= 1).  Returns an
 * mdnmf_status; the reason is in `message`. */
int cli_frames_append(cli_frames *frames, mdnmf_stft *stft, const float *signal,
                      int64_t length, char *message, size_t size);
void cli_frames_free(cli_frames *frames);

/* Separate one recording (SPEC §5 and §7): STFT, mdnmf_separate with
 * Wiener filtering, and every source's estimated magnitudes with the
 * mixture's phases back to `length` samples in estimates[s] (caller-
 * allocated, s < the model's source count).  Returns an mdnmf_status; the
 * reason is in `message`. */
int cli_separate_recording(mdnmf_model *model, mdnmf_stft *stft, const float *signal,
                           int64_t length, float *const *estimates, char *message, size_t size);

/* The largest |sample|; 0 for a silent recording. */
float cli_signal_peak(const float *signal, int64_t length);

/* An STFT for a model's audio front end; NULL after setting `message`. */
mdnmf_stft *cli_stft_for(const mdnmf_audio_params *audio, char *message, size_t size);

#endif
