/* libFuzzer harness: the audio reader, mdnmf_audio_read (libsndfile's
 * formats: WAV, AIFF, AU, FLAC, Ogg, ...), mixed down to mono and, for one
 * input in sixteen (chosen by the last byte), resampled to 16 kHz. */
#define _GNU_SOURCE
#include "fuzz_input.h"
#include "mdnmf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const int rate = size > 0 && (data[size - 1] & 0x0f) == 0 ? 16000 : 0;
    mdnmf_audio audio;
    if (mdnmf_audio_read(fuzz_input_file(data, size), rate, &audio, NULL) == MDNMF_OK) {
        fuzz_touch_floats(audio.samples, audio.length);
        mdnmf_audio_free(&audio);
    }
    return 0;
}
