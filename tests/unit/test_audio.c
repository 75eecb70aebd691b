/* Audio files, resampling and the audio metrics: round trips through WAV
 * (16-bit and float), FLAC and Ogg Vorbis files and multichannel files made
 * here with libsndfile directly, resampling against analytic sines, every
 * refusal (one status and message each, nothing written), and the metrics
 * on signals whose SNR / SI-SDR / SDR / SIR / SAR are known in closed form. */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mdnmf.h"
#include "test_util.h"

#define PI 3.14159265358979323846

static char folder[64];

static int make_folder(void **state)
{
    (void)state;
    snprintf(folder, sizeof folder, "/tmp/test_audio.XXXXXX");
    return mkdtemp(folder) ? 0 : -1;
}

static int remove_folder(void **state)
{
    (void)state;
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", folder);
    return system(command) == 0 ? 0 : -1;
}

static void path_in_folder(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/%s", folder, name);
}

static int entries_in(const char *dir)
{
    DIR *d = opendir(dir);
    int count = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        count += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (d)
        closedir(d);
    return count;
}

static void write_bytes(const char *path, const void *bytes, size_t length)
{
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(bytes, 1, length, file), length);
    assert_int_equal(fclose(file), 0);
}

static float *sine(int64_t length, double frequency, int rate, double amplitude)
{
    float *x = malloc((size_t)length * sizeof *x);
    for (int64_t i = 0; i < length; i++)
        x[i] = (float)(amplitude * sin(2.0 * PI * frequency * (double)i / rate));
    return x;
}

/* A file written by libsndfile itself: `channels` interleaved channels. */
static void write_with_sndfile(const char *path, int format, int channels, int rate,
                               const float *interleaved, int64_t frames)
{
    SF_INFO info = {0};
    info.samplerate = rate;
    info.channels = channels;
    info.format = format;
    SNDFILE *file = sf_open(path, SFM_WRITE, &info);
    assert_non_null(file);
    /* Integer formats then scale by 32768, so k / 32768 round-trips. */
    sf_command(file, SFC_SET_CLIPPING, NULL, SF_TRUE);
    assert_int_equal(sf_writef_float(file, interleaved, frames), frames);
    assert_int_equal(sf_close(file), 0);
}

static void read_ok(const char *path, int rate, mdnmf_audio *audio)
{
    mdnmf_error error;
    int status = mdnmf_audio_read(path, rate, audio, &error);
    if (status != MDNMF_OK)
        fail_msg("%s", error.message);
}

/* ---------------------------------------------------------------- files */

static void test_wav_round_trips(void **state)
{
    mdnmf_error error;
    (void)state;
    char path[128];
    const int64_t n = 1000;
    float *x = sine(n, 440.0, 16000, 0.8);
    x[10] = 1.5f;   /* clipped to 32767 in 16-bit */
    x[11] = -2.0f;  /* clipped to -32768 */
    /* Float: every value back as it was. */
    path_in_folder(path, sizeof path, "float.wav");
    assert_int_equal(mdnmf_audio_write(path, x, n, 16000, MDNMF_AUDIO_FLOAT, &error), MDNMF_OK);
    mdnmf_audio audio;
    read_ok(path, 0, &audio);
    assert_int_equal(audio.length, n);
    assert_int_equal(audio.sample_rate, 16000);
    assert_int_equal(audio.file_rate, 16000);
    assert_int_equal(audio.channels, 1);
    assert_int_equal(audio.mixed_down, 0);
    assert_memory_equal(audio.samples, x, (size_t)n * sizeof *x);
    mdnmf_audio_free(&audio);
    assert_null(audio.samples);
    /* 16-bit: with clipping on, libsndfile writes round(x * 32768) clipped
     * to the int16 range, and reads back / 32768. */
    path_in_folder(path, sizeof path, "pcm16.wav");
    assert_int_equal(mdnmf_audio_write(path, x, n, 8000, MDNMF_AUDIO_PCM16, &error), MDNMF_OK);
    read_ok(path, 0, &audio);
    assert_int_equal(audio.length, n);
    assert_int_equal(audio.sample_rate, 8000);
    for (int64_t i = 0; i < n; i++) {
        double clipped = fmax(-1.0, fmin(1.0, x[i]));
        double code = fmax(-32768.0, fmin(32767.0, nearbyint(clipped * 32768.0)));
        assert_true(fabs(audio.samples[i] - code / 32768.0) < 1e-7);
    }
    assert_true(audio.samples[10] == 32767.0f / 32768.0f);
    mdnmf_audio_free(&audio);
    mdnmf_audio_free(NULL);
    /* Rewriting replaces the file and leaves no temporary behind. */
    assert_int_equal(mdnmf_audio_write(path, x, 5, 8000, MDNMF_AUDIO_PCM16, &error), MDNMF_OK);
    read_ok(path, 0, &audio);
    assert_int_equal(audio.length, 5);
    mdnmf_audio_free(&audio);
    assert_int_equal(entries_in(folder), 2);
    free(x);
}

/* Several channels become their mean, and the caller learns of it. */
static void test_multichannel_flac_and_ogg(void **state)
{
    (void)state;
    char path[128];
    const int64_t frames = 4000;
    test_rng rng = test_rng_make(5);
    float *stereo = test_random_matrix(&rng, 2, frames, -0.5, 0.5);
    path_in_folder(path, sizeof path, "stereo.wav");
    write_with_sndfile(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 2, 22050, stereo, frames);
    mdnmf_audio audio;
    read_ok(path, 0, &audio);
    assert_int_equal(audio.channels, 2);
    assert_int_equal(audio.mixed_down, 1);
    assert_int_equal(audio.length, frames);
    for (int64_t t = 0; t < frames; t++)
        assert_true(audio.samples[t] ==
                    (float)(((double)stereo[2 * t] + stereo[2 * t + 1]) / 2.0));
    mdnmf_audio_free(&audio);

    /* FLAC, 3 channels of 16-bit: exact after quantisation. */
    float *three = test_random_matrix(&rng, 3, frames, -0.5, 0.5);
    for (int64_t i = 0; i < 3 * frames; i++)
        three[i] = (float)(nearbyint(three[i] * 32768.0) / 32768.0);
    path_in_folder(path, sizeof path, "three.flac");
    write_with_sndfile(path, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 3, 44100, three, frames);
    read_ok(path, 0, &audio);
    assert_int_equal(audio.channels, 3);
    assert_int_equal(audio.mixed_down, 1);
    assert_int_equal(audio.file_rate, 44100);
    for (int64_t t = 0; t < frames; t++) {
        double mean = ((double)three[3 * t] + three[3 * t + 1] + three[3 * t + 2]) / 3.0;
        assert_true(fabs(audio.samples[t] - mean) < 1e-6);
    }
    mdnmf_audio_free(&audio);

    /* Ogg Vorbis (lossy): a stereo sine comes back as the sine. */
    float *sine_stereo = malloc((size_t)(2 * frames) * sizeof *sine_stereo);
    for (int64_t t = 0; t < frames; t++)
        sine_stereo[2 * t] = sine_stereo[2 * t + 1] = (float)(0.5 * sin(2 * PI * 500.0 * t / 16000));
    path_in_folder(path, sizeof path, "sine.ogg");
    write_with_sndfile(path, SF_FORMAT_OGG | SF_FORMAT_VORBIS, 2, 16000, sine_stereo, frames);
    read_ok(path, 0, &audio);
    assert_int_equal(audio.channels, 2);
    assert_int_equal(audio.mixed_down, 1);
    assert_int_equal(audio.length, frames);
    float *expected = sine(frames, 500.0, 16000, 0.5);
    double snr = 0.0;
    assert_int_equal(mdnmf_snr(expected, audio.samples, frames, &snr, NULL), MDNMF_OK);
    assert_true(snr > 20.0);
    mdnmf_audio_free(&audio);
    free(stereo), free(three), free(sine_stereo), free(expected);
}

static void test_resampling(void **state)
{
    mdnmf_error error;
    (void)state;
    assert_int_equal(mdnmf_resampled_length(22050, 22050, 8000), 8000);
    assert_int_equal(mdnmf_resampled_length(10, 44100, 8000), 2);   /* ceil(1.81) */
    assert_int_equal(mdnmf_resampled_length(0, 44100, 8000), 0);
    assert_int_equal(mdnmf_resampled_length(10, 0, 8000), -1);
    assert_int_equal(mdnmf_resampled_length(10, 8000, 999), -1);
    assert_int_equal(mdnmf_resampled_length(10, 8000, 10000000), -1);
    assert_int_equal(mdnmf_resampled_length(INT64_MAX / 2, 8000, 16000), -1);

    /* A 1 kHz sine at 22.05 kHz -> 8 kHz: the 8 kHz sine, away from the ends. */
    const int64_t n = 22050;
    float *x = sine(n, 1000.0, 22050, 0.5);
    int64_t out_length = mdnmf_resampled_length(n, 22050, 8000);
    float *y = malloc((size_t)out_length * sizeof *y);
    assert_int_equal(mdnmf_resample(x, n, 22050, 8000, y, &error), MDNMF_OK);
    float *want = sine(out_length, 1000.0, 8000, 0.5);
    for (int64_t i = 200; i < out_length - 200; i++)
        assert_true(fabs(y[i] - want[i]) < 1e-3);
    /* Equal rates copy. */
    assert_int_equal(mdnmf_resample(x, n, 22050, 22050, x, &error), MDNMF_OK);
    /* Refused rates: a message, the output untouched. */
    static const int bad[][2] = {{0, 8000}, {8000, 0}, {8000, 5}, {-8000, 8000}, {8000, 1 << 30}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        y[0] = 42.0f;
        error.message[0] = '\0';
        assert_int_equal(mdnmf_resample(x, n, bad[i][0], bad[i][1], y, &error),
                         MDNMF_ERR_ARGUMENT);
        assert_true(strlen(error.message) > 0);
        assert_true(y[0] == 42.0f);
    }
    assert_int_equal(mdnmf_resample(NULL, n, 8000, 16000, y, NULL), MDNMF_ERR_ARGUMENT);

    /* Reading at another rate resamples and says so. */
    char path[128];
    path_in_folder(path, sizeof path, "at16k.wav");
    float *z = sine(16000, 300.0, 16000, 0.5);
    assert_int_equal(mdnmf_audio_write(path, z, 16000, 16000, MDNMF_AUDIO_FLOAT, &error), MDNMF_OK);
    mdnmf_audio audio;
    read_ok(path, 8000, &audio);
    assert_int_equal(audio.sample_rate, 8000);
    assert_int_equal(audio.file_rate, 16000);
    assert_int_equal(audio.length, 8000);
    float *z8 = sine(8000, 300.0, 8000, 0.5);
    for (int64_t i = 200; i < 7800; i++)
        assert_true(fabs(audio.samples[i] - z8[i]) < 1e-3);
    mdnmf_audio_free(&audio);
    read_ok(path, 16000, &audio); /* same rate: untouched */
    assert_memory_equal(audio.samples, z, 16000 * sizeof *z);
    mdnmf_audio_free(&audio);
    remove(path);
    free(x), free(y), free(want), free(z), free(z8);
}

static void expect_read_failure(const char *path, int rate, int status)
{
    mdnmf_error error;
    mdnmf_audio audio;
    memset(&audio, 0xAB, sizeof audio);
    assert_int_equal(mdnmf_audio_read(path, rate, &audio, &error), status);
    assert_true(strlen(error.message) > 0);
    assert_null(audio.samples);
    assert_int_equal(audio.length, 0);
}

static void test_read_refusals(void **state)
{
    mdnmf_error error;
    (void)state;
    char path[128];
    path_in_folder(path, sizeof path, "missing.wav");
    expect_read_failure(path, 0, MDNMF_ERR_IO);
    expect_read_failure(folder, 0, MDNMF_ERR_IO);
    path_in_folder(path, sizeof path, "empty.wav");
    write_bytes(path, "", 0);
    expect_read_failure(path, 0, MDNMF_ERR_FORMAT);
    path_in_folder(path, sizeof path, "text.wav");
    const char text[] = "this is not audio at all, just some words in a file\n";
    write_bytes(path, text, sizeof text);
    expect_read_failure(path, 0, MDNMF_ERR_FORMAT);
    /* A WAV cut inside its header. */
    float x[100] = {0.25f};
    assert_int_equal(mdnmf_audio_write(path, x, 100, 8000, MDNMF_AUDIO_PCM16, &error), MDNMF_OK);
    unsigned char head[20];
    FILE *file = fopen(path, "rb");
    assert_int_equal(fread(head, 1, sizeof head, file), sizeof head);
    fclose(file);
    path_in_folder(path, sizeof path, "truncated.wav");
    write_bytes(path, head, sizeof head);
    expect_read_failure(path, 0, MDNMF_ERR_FORMAT);
    /* A valid WAV without samples. */
    path_in_folder(path, sizeof path, "nothing.wav");
    write_with_sndfile(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 8000, x, 0);
    expect_read_failure(path, 0, MDNMF_ERR_SHAPE);
    /* NaN in a float WAV. */
    x[7] = NAN;
    path_in_folder(path, sizeof path, "nan.wav");
    write_with_sndfile(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1, 8000, x, 100);
    expect_read_failure(path, 0, MDNMF_ERR_DATA);
    /* Rates nobody can resample to, and a file rate outside the range. */
    x[7] = 0.0f;
    path_in_folder(path, sizeof path, "ok.wav");
    write_with_sndfile(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1, 8000, x, 100);
    expect_read_failure(path, -1, MDNMF_ERR_ARGUMENT);
    expect_read_failure(path, 5, MDNMF_ERR_ARGUMENT);
    expect_read_failure(path, 1000000000, MDNMF_ERR_ARGUMENT);
    path_in_folder(path, sizeof path, "slow.wav");
    write_with_sndfile(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1, 10, x, 100);
    expect_read_failure(path, 8000, MDNMF_ERR_FORMAT);
    mdnmf_audio audio;
    read_ok(path, 0, &audio); /* kept at its own rate it is fine */
    assert_int_equal(audio.sample_rate, 10);
    mdnmf_audio_free(&audio);
    assert_int_equal(mdnmf_audio_read(NULL, 0, &audio, NULL), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_audio_read(path, 0, NULL, NULL), MDNMF_ERR_ARGUMENT);
}

static void test_write_refusals(void **state)
{
    mdnmf_error error;
    (void)state;
    char sub[128], path[192];
    snprintf(sub, sizeof sub, "%s/refusals", folder);
    assert_int_equal(mkdir(sub, 0755), 0);
    float x[10] = {0.1f, 0.2f};
    static const struct {
        int64_t length;
        int rate;
        int encoding;
        int status;
    } cases[] = {{0, 8000, MDNMF_AUDIO_PCM16, MDNMF_ERR_SHAPE},
                 {-1, 8000, MDNMF_AUDIO_PCM16, MDNMF_ERR_SHAPE},
                 {10, 0, MDNMF_AUDIO_PCM16, MDNMF_ERR_ARGUMENT},
                 {10, 999999999, MDNMF_AUDIO_FLOAT, MDNMF_ERR_ARGUMENT},
                 {10, 8000, 7, MDNMF_ERR_ARGUMENT}};
    snprintf(path, sizeof path, "%s/out.wav", sub);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        error.message[0] = '\0';
        assert_int_equal(mdnmf_audio_write(path, x, cases[i].length, cases[i].rate,
                                           (mdnmf_audio_encoding)cases[i].encoding, &error),
                                            cases[i].status);
        assert_true(strlen(error.message) > 0);
    }
    x[3] = INFINITY;
    assert_int_equal(mdnmf_audio_write(path, x, 10, 8000, MDNMF_AUDIO_FLOAT, &error),
                     MDNMF_ERR_DATA);
    x[3] = 0.0f;
    assert_int_equal(mdnmf_audio_write(NULL, x, 10, 8000, MDNMF_AUDIO_FLOAT, NULL),
                     MDNMF_ERR_ARGUMENT);
    /* A folder that does not exist, and a "folder" that is a file. */
    snprintf(path, sizeof path, "%s/no/such/folder/out.wav", sub);
    assert_int_equal(mdnmf_audio_write(path, x, 10, 8000, MDNMF_AUDIO_PCM16, &error), MDNMF_ERR_IO);
    assert_true(strstr(error.message, "out.wav") || strstr(error.message, "folder"));
    snprintf(path, sizeof path, "%s/plain", sub);
    write_bytes(path, "x", 1);
    snprintf(path, sizeof path, "%s/plain/out.wav", sub);
    assert_int_equal(mdnmf_audio_write(path, x, 10, 8000, MDNMF_AUDIO_PCM16, &error), MDNMF_ERR_IO);
    /* Nothing was written but the one plain file. */
    assert_int_equal(entries_in(sub), 1);
}

/* --------------------------------------------------------------- metrics */

static void test_snr_and_si_sdr(void **state)
{
    mdnmf_error error;
    (void)state;
    enum { N = 4000 };
    float *s = sine(N, 440.0, 8000, 0.5);
    float *e = malloc(N * sizeof *e), *zero = calloc(N, sizeof *zero);
    double value = 0.0;
    /* ŝ = 0.9 s: SNR = 10 log10(1 / 0.01) = 20 dB; SI-SDR = +inf. */
    for (int i = 0; i < N; i++)
        e[i] = 0.9f * s[i];
    assert_int_equal(mdnmf_snr(s, e, N, &value, &error), MDNMF_OK);
    assert_true(fabs(value - 20.0) < 1e-4);
    assert_int_equal(mdnmf_si_sdr(s, e, N, &value, &error), MDNMF_OK);
    assert_true(value > 120.0);
    assert_int_equal(mdnmf_snr(s, s, N, &value, &error), MDNMF_OK);
    assert_true(isinf(value) && value > 0);
    /* ŝ = s + u with u ⟂ s and ||u||² = ||s||² / 100: both 20 dB. */
    float *u = sine(N, 1000.0, 8000, 0.05); /* whole periods: orthogonal to s */
    for (int i = 0; i < N; i++)
        e[i] = s[i] + u[i];
    assert_int_equal(mdnmf_snr(s, e, N, &value, &error), MDNMF_OK);
    assert_true(fabs(value - 20.0) < 1e-3);
    assert_int_equal(mdnmf_si_sdr(s, e, N, &value, &error), MDNMF_OK);
    assert_true(fabs(value - 20.0) < 1e-3);
    /* Silence: a clear error, never a division by zero. */
    assert_int_equal(mdnmf_snr(zero, e, N, &value, &error), MDNMF_ERR_DATA);
    assert_non_null(strstr(error.message, "silent"));
    assert_int_equal(mdnmf_si_sdr(zero, e, N, &value, &error), MDNMF_ERR_DATA);
    assert_int_equal(mdnmf_si_sdr(s, zero, N, &value, &error), MDNMF_ERR_DATA);
    assert_non_null(strstr(error.message, "estimate"));
    assert_int_equal(mdnmf_snr(s, zero, N, &value, &error), MDNMF_OK);
    assert_true(fabs(value) < 1e-9); /* 0 dB: the error is the signal */
    e[5] = NAN;
    assert_int_equal(mdnmf_snr(s, e, N, &value, &error), MDNMF_ERR_DATA);
    assert_int_equal(mdnmf_si_sdr(s, e, N, &value, NULL), MDNMF_ERR_DATA);
    assert_int_equal(mdnmf_snr(s, s, 0, &value, NULL), MDNMF_ERR_SHAPE);
    assert_int_equal(mdnmf_snr(s, s, N, NULL, NULL), MDNMF_ERR_ARGUMENT);
    free(s), free(e), free(zero), free(u);
}

static float *white_noise(uint64_t seed, int64_t n, double scale)
{
    test_rng rng = test_rng_make(seed);
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i += 2) { /* Box-Muller */
        double r = sqrt(-2.0 * log(1.0 - test_uniform(&rng))), a = 2.0 * PI * test_uniform(&rng);
        x[i] = (float)(scale * r * cos(a));
        if (i + 1 < n)
            x[i + 1] = (float)(scale * r * sin(a));
    }
    return x;
}

/* White references of n samples; the projections on 512 delayed copies of
 * a reference (or 1024 of both) capture about 512/n of any other signal. */
static void test_bss_known_cases(void **state)
{
    mdnmf_error error;
    (void)state;
    enum { N = 16000 };
    float *s1 = white_noise(1, N, 1.0), *s2 = white_noise(2, N, 1.0);
    float *artefact = white_noise(3, N, 0.1);
    float *e1 = malloc(N * sizeof *e1), *e2 = malloc(N * sizeof *e2);
    const float *refs[2] = {s1, s2}, *ests[2] = {e1, e2};
    mdnmf_bss_result r;
    /* e1 = a 3-tap filtered s1 (distortion the 512-tap filters absorb) +
     * 0.1 s2 (SIR ≈ 20 dB); e2 = s2 + white noise (SAR ≈ 20 dB). */
    for (int i = 0; i < N; i++) {
        e1[i] = 0.5f * s1[i] + (i >= 2 ? 0.3f * s1[i - 2] : 0.0f) + 0.1f * s2[i];
        e2[i] = s2[i] + artefact[i];
    }
    assert_int_equal(mdnmf_bss_eval_sources(refs, ests, 2, N, 1, &r, &error),
                     MDNMF_OK);
    /* ||0.5 s1 + 0.3 s1(-2)||² = 0.34 N against ||0.1 s2||² = 0.01 N. */
    double sir = 10.0 * log10(0.34 / 0.01);
    assert_true(fabs(r.sir[0] - sir) < 0.5);
    assert_true(r.sar[0] > 40.0);
    assert_true(fabs(r.sar[1] - 20.0) < 0.8);
    /* The white artefact's share in the span of s1's 512 delays (512/N)
     * counts as interference: SIR ≈ 10 log10(1 / (0.01 · 512/N)) ≈ 35 dB. */
    assert_true(fabs(r.sir[1] - 10.0 * log10(N / (0.01 * 512))) < 1.5);
    assert_int_equal(r.permutation[0], 0);
    assert_int_equal(r.permutation[1], 1);
    /* Swapped estimates are matched back, with the same scores. */
    const float *swapped[2] = {e2, e1};
    mdnmf_bss_result q;
    assert_int_equal(mdnmf_bss_eval_sources(refs, swapped, 2, N, 1, &q, &error),
                     MDNMF_OK);
    assert_int_equal(q.permutation[0], 1);
    assert_int_equal(q.permutation[1], 0);
    for (int j = 0; j < 2; j++)
        assert_true(fabs(q.sdr[j] - r.sdr[j]) < 1e-9 && fabs(q.sir[j] - r.sir[j]) < 1e-9);
    /* Without the search the given order stands (and scores badly). */
    assert_int_equal(mdnmf_bss_eval_sources(refs, swapped, 2, N, 0, &q, &error),
                     MDNMF_OK);
    assert_int_equal(q.permutation[0], 0);
    assert_true(q.sir[0] < 0.0);
    /* An exact estimate: every ratio far above any real one. */
    assert_int_equal(mdnmf_bss_eval_sources(refs, refs, 2, N, 1, &q, &error),
                     MDNMF_OK);
    assert_true(q.sdr[0] > 100.0 && q.sir[0] > 100.0 && q.sar[0] > 100.0);
    free(s1), free(s2), free(artefact), free(e1), free(e2);
}

static void test_bss_refusals(void **state)
{
    mdnmf_error error;
    (void)state;
    enum { N = 600 };
    float *s = white_noise(4, N, 1.0), *zero = calloc(N, sizeof *zero);
    const float *refs[MDNMF_BSS_MAX_SOURCES + 1], *silent[1] = {zero}, *none[1] = {NULL};
    for (int i = 0; i <= MDNMF_BSS_MAX_SOURCES; i++)
        refs[i] = s;
    mdnmf_bss_result r;
    static const struct {
        int sources;
        int64_t length;
        int status;
    } shapes[] = {{0, N, MDNMF_ERR_ARGUMENT}, {MDNMF_BSS_MAX_SOURCES + 1, N, MDNMF_ERR_ARGUMENT},
                  {1, 0, MDNMF_ERR_SHAPE}, {1, -5, MDNMF_ERR_SHAPE}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        error.message[0] = '\0';
        assert_int_equal(mdnmf_bss_eval_sources(refs, refs, shapes[i].sources, shapes[i].length,
                                                1, &r, &error),
                         shapes[i].status);
        assert_true(strlen(error.message) > 0);
    }
    assert_int_equal(mdnmf_bss_eval_sources(silent, refs, 1, N, 1, &r, &error),
                     MDNMF_ERR_DATA);
    assert_non_null(strstr(error.message, "reference 0 is silent"));
    assert_int_equal(mdnmf_bss_eval_sources(refs, silent, 1, N, 1, &r, &error),
                     MDNMF_ERR_DATA);
    assert_non_null(strstr(error.message, "estimate 0 is silent"));
    assert_int_equal(mdnmf_bss_eval_sources(refs, none, 1, N, 1, &r, &error),
                     MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_bss_eval_sources(NULL, refs, 1, N, 1, &r, NULL),
                     MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_bss_eval_sources(refs, refs, 1, N, 1, NULL, NULL),
                     MDNMF_ERR_ARGUMENT);
    s[3] = NAN;
    assert_int_equal(mdnmf_bss_eval_sources(refs, refs, 1, N, 1, &r, &error),
                     MDNMF_ERR_DATA);
    free(s), free(zero);
}

/* Signals shorter than the filters, and a pure tone (a rank-2 Gram
 * matrix): the singular systems go through least squares, and the result
 * stays finite. */
static void test_bss_singular_systems(void **state)
{
    mdnmf_error error;
    (void)state;
    float *tone = sine(3000, 1000.0, 8000, 0.5), *short_ref = white_noise(8, 100, 1.0);
    float *noisy = white_noise(9, 3000, 0.05);
    for (int i = 0; i < 3000; i++)
        noisy[i] += tone[i];
    const float *refs[1] = {tone}, *ests[1] = {noisy};
    mdnmf_bss_result r;
    assert_int_equal(mdnmf_bss_eval_sources(refs, ests, 1, 3000, 1, &r, &error),
                     MDNMF_OK);
    assert_true(isfinite(r.sdr[0]) && r.sdr[0] > 10.0 && r.sdr[0] < 40.0);
    const float *short_refs[1] = {short_ref};
    assert_int_equal(mdnmf_bss_eval_sources(short_refs, short_refs, 1, 100, 1, &r, &error),
                     MDNMF_OK);
    assert_true(r.sdr[0] > 100.0);
    free(tone), free(short_ref), free(noisy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wav_round_trips),
        cmocka_unit_test(test_multichannel_flac_and_ogg),
        cmocka_unit_test(test_resampling),
        cmocka_unit_test(test_read_refusals),
        cmocka_unit_test(test_write_refusals),
        cmocka_unit_test(test_snr_and_si_sdr),
        cmocka_unit_test(test_bss_known_cases),
        cmocka_unit_test(test_bss_refusals),
        cmocka_unit_test(test_bss_singular_systems),
    };
    return cmocka_run_group_tests(tests, make_folder, remove_folder);
}
