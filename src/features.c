/* The features an audio model's bases describe (SPEC §7 and
 * mdnmf_audio_params): a frame's STFT magnitudes or powers, optionally with
 * its neighbours' stacked above and below, and the way back from estimated
 * features to one value per bin and frame. */
#include "internal.h"

#include <string.h>

const char *features_problem(const mdnmf_audio_params *audio)
{
    if (audio->power != 0 && audio->power != 1)
        return "audio power must be 0 (magnitudes) or 1 (powers)";
    if (audio->context < 0 || audio->context > MDNMF_MAX_CONTEXT)
        return "audio context must be between 0 and 8 frames";
    return NULL;
}

int64_t features_rows(const mdnmf_audio_params *audio, int64_t bins)
{
    return bins * (2 * (int64_t)audio->context + 1);
}

/* Features of one signal's frames: column j holds, for k = -c..c, the
 * magnitudes (or powers) of frame j + k in rows [(k + c) bins, (k + c + 1)
 * bins), zeros where j + k lies outside the signal. */
void features_of_magnitudes(const mdnmf_audio_params *audio, const float *magnitudes,
                            int64_t bins, int64_t frames, float *features)
{
    int64_t c = audio->context, rows = features_rows(audio, bins);
    for (int64_t j = 0; j < frames; j++) {
        for (int64_t k = -c; k <= c; k++) {
            float *out = features + j * rows + (k + c) * bins;
            int64_t source = j + k;
            if (source < 0 || source >= frames) {
                memset(out, 0, (size_t)bins * sizeof *out);
                continue;
            }
            const float *in = magnitudes + source * bins;
            if (audio->power)
                for (int64_t i = 0; i < bins; i++)
                    out[i] = in[i] * in[i];
            else
                memcpy(out, in, (size_t)bins * sizeof *out);
        }
    }
}

/* One value per bin and frame from estimated features: frame j's is the
 * mean of the copies of frame j in columns j - c .. j + c that exist. */
void features_to_frames(const mdnmf_audio_params *audio, const float *features, int64_t bins,
                        int64_t frames, float *out)
{
    int64_t c = audio->context, rows = features_rows(audio, bins);
    for (int64_t j = 0; j < frames; j++) {
        float *o = out + j * bins;
        memset(o, 0, (size_t)bins * sizeof *o);
        int copies = 0;
        for (int64_t k = -c; k <= c; k++) {
            int64_t column = j - k; /* frame j sits at offset k in column j - k */
            if (column < 0 || column >= frames)
                continue;
            const float *in = features + column * rows + (k + c) * bins;
            for (int64_t i = 0; i < bins; i++)
                o[i] += in[i];
            copies++;
        }
        float scale = 1.0f / (float)copies;
        for (int64_t i = 0; i < bins; i++)
            o[i] *= scale;
    }
}
