/* Denoise a recording with a trained model (from `mdnmf denoise fit`, or
 * mdnmf_separator_fit_signals): the model's audio front end turns the
 * samples into a spectrogram, the speech basis and the noise basis take it
 * apart, and the speech comes back as a signal.
 *
 *     denoise_wav MODEL.npz NOISY.wav SPEECH.wav
 *
 * Build against an installed library:
 *     cc denoise_wav.c $(pkg-config --cflags --libs mdnmf) */
#include <mdnmf.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: denoise_wav MODEL.npz NOISY.wav SPEECH.wav\n");
        return 2;
    }
    mdnmf_error error = {0};
    mdnmf_audio noisy = {0};
    float *sources[MDNMF_MAX_SOURCES] = {0};
    int status = 0;
    mdnmf_model *model = mdnmf_model_load(argv[1], &error);
    if (!model)
        status = error.status;
    if (!status) /* at the file's own rate: the library resamples to the model's */
        status = mdnmf_audio_read(argv[2], 0, &noisy, &error);
    for (int s = 0; !status && s < mdnmf_model_source_count(model); s++)
        if (!(sources[s] = malloc(sizeof(float) * (size_t)noisy.length)))
            status = MDNMF_ERR_MEMORY;
    if (!status) /* one signal per source: the first is the speech */
        status = mdnmf_separate_signal(model, noisy.samples, noisy.length, noisy.sample_rate,
                                       sources, &error);
    if (!status)
        status = mdnmf_audio_write(argv[3], sources[0], noisy.length, noisy.sample_rate,
                                   MDNMF_AUDIO_PCM16, &error);

    if (status)
        fprintf(stderr, "denoise_wav: %s\n",
                error.status ? error.message : mdnmf_strerror(status));
    for (int s = 0; s < MDNMF_MAX_SOURCES; s++)
        free(sources[s]);
    mdnmf_audio_free(&noisy);
    mdnmf_model_destroy(model);
    return status ? 1 : 0;
}
