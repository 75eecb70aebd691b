/* The streaming denoiser (mdnmf_stream_*): on a real recording in real
 * noise, the output is the same bit for bit however the input is cut into
 * blocks (at the model's rate and resampled), in place or not, and again
 * after a reset; with the mask held at 1 the stream is the offline STFT's
 * inverse delayed by exactly its latency; the controls change the output;
 * bad arguments are refused and write nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "internal.h"
#include "stream_util.h"
#include "test_util.h"

typedef struct fixture {
    mdnmf_model *model;      /* semi, 16 + 8 atoms, 8 kHz */
    mdnmf_model *speech_only;/* std on speech alone: one source */
    float *mixture;          /* a prompt in colobot noise at 3 dB */
    int64_t length;
} fixture;

static fixture fx;

static int setup(void **state)
{
    (void)state;
    file_list speech = list_wavs(STREAM_SPEECH_DIR), noise = list_wavs(STREAM_NOISE_DIR);
    if (speech.count < 12 || noise.count < 4) {
        fprintf(stderr, "test_stream: needs %s and %s (asterisk-core-sounds-en-wav, "
                "colobot-common-sounds)\n", STREAM_SPEECH_DIR, STREAM_NOISE_DIR);
        return -1;
    }
    float *clean[8], *noisy[8], *targets[8];
    int64_t lengths[8], track_length = 0;
    float *track = noise_track(&noise, 0, 4, &track_length);
    if (!track)
        return -1;
    for (int i = 0; i < 8; i++) {
        clean[i] = read_normalised(speech.paths[i], STREAM_RATE, &lengths[i]);
        if (!clean[i])
            return -1;
        noisy[i] = mix_with(clean[i], lengths[i], track, track_length, 977 * i, 3.0, &targets[i]);
        if (!noisy[i])
            return -1;
    }
    mdnmf_error error;
    fx.model = train_speech_model(MDNMF_MODE_SEMI, 16, 8, 5, clean, lengths, 4, noisy + 4,
                                  lengths + 4, 4, &error);
    if (!fx.model) {
        fprintf(stderr, "test_stream: training failed: %s\n", error.message);
        return -1;
    }
    /* A one-source model: the speech basis alone. */
    mdnmf_params common = test_params(16, 5);
    fx.speech_only = mdnmf_model_create(&common, NULL);
    /* Built from the two-source model's speech atoms: its first 16 columns. */
    int64_t m = 0, atoms = 0;
    mdnmf_model_shape(fx.model, &m, &atoms);
    float *W = test_copy(mdnmf_model_basis(fx.model), m * 16);
    if (mdnmf_model_set_basis(fx.speech_only, W, m, 16, &error) != MDNMF_OK ||
        mdnmf_model_set_audio(fx.speech_only, mdnmf_model_audio(fx.model), &error) != MDNMF_OK) {
        fprintf(stderr, "test_stream: speech-only model: %s\n", error.message);
        return -1;
    }
    free(W);
    /* The test recording: 8 s of a long prompt not trained on, at 3 dB. */
    int64_t n = 0;
    float *s = read_normalised(STREAM_SPEECH_DIR "/demo-congrats.wav", STREAM_RATE, &n);
    float *target = NULL;
    if (!s)
        return -1;
    n = n < 8 * STREAM_RATE ? n : 8 * STREAM_RATE;
    fx.mixture = mix_with(s, n, track, track_length, 12345, 3.0, &target);
    fx.length = n;
    free(s), free(target), free(track);
    for (int i = 0; i < 8; i++)
        free(clean[i]), free(noisy[i]), free(targets[i]);
    free_list(&speech), free_list(&noise);
    return fx.mixture ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    mdnmf_model_destroy(fx.model);
    mdnmf_model_destroy(fx.speech_only);
    free(fx.mixture);
    return 0;
}

/* The signal at `rate` (a resampled copy of the 8 kHz mixture). */
static float *mixture_at(int rate, int64_t *length)
{
    *length = mdnmf_resampled_length(fx.length, STREAM_RATE, rate);
    float *x = malloc((size_t)*length * sizeof *x);
    assert_int_equal(mdnmf_resample(fx.mixture, fx.length, STREAM_RATE, rate, x, NULL), MDNMF_OK);
    return x;
}

static mdnmf_stream_params stream_params(int rate, int learn)
{
    mdnmf_stream_params p;
    mdnmf_stream_params_default(&p);
    p.sample_rate = rate;
    p.learn_noise = learn;
    p.seed = 5;
    return p;
}

/* The whole signal in one block. */
static void run_whole(mdnmf_stream *s, const float *x, int64_t n, float *speech, float *noise)
{
    mdnmf_error error;
    assert_int_equal(mdnmf_stream_process(s, x, n, speech, noise, &error), MDNMF_OK);
    assert_int_equal(error.status, MDNMF_OK);
}

/* The signal in random blocks of 0 .. 700 samples, many of 0 and 1. */
static void run_in_blocks(mdnmf_stream *s, const float *x, int64_t n, float *speech,
                          float *noise, uint64_t seed)
{
    test_rng r = test_rng_make(seed);
    int64_t at = 0;
    while (at < n) {
        double u = test_uniform(&r);
        int64_t size = u < 0.15 ? 0 : u < 0.3 ? 1 : (int64_t)(test_uniform(&r) * 700);
        if (size > n - at)
            size = n - at;
        assert_int_equal(mdnmf_stream_process(s, x + at, size, speech + at,
                                              noise ? noise + at : NULL, NULL),
                         MDNMF_OK);
        at += size;
    }
}

static void check_block_invariance(int rate, int learn, int64_t noise_atoms)
{
    int64_t n = 0;
    float *x = rate == STREAM_RATE ? test_copy(fx.mixture, fx.length) : mixture_at(rate, &n);
    if (rate == STREAM_RATE)
        n = fx.length;
    mdnmf_stream_params p = stream_params(rate == STREAM_RATE ? 0 : rate, learn);
    p.noise_atoms = noise_atoms;
    mdnmf_error error;
    mdnmf_stream *one = mdnmf_stream_create(fx.model, &p, &error);
    assert_non_null(one);
    mdnmf_stream *blocks = mdnmf_stream_create(fx.model, &p, NULL);
    assert_non_null(blocks);
    float *s1 = malloc((size_t)n * sizeof *s1), *n1 = malloc((size_t)n * sizeof *n1);
    float *s2 = malloc((size_t)n * sizeof *s2), *n2 = malloc((size_t)n * sizeof *n2);
    run_whole(one, x, n, s1, n1);
    run_in_blocks(blocks, x, n, s2, n2, (uint64_t)rate + (uint64_t)learn);
    assert_memory_equal(s1, s2, (size_t)n * sizeof *s1);
    assert_memory_equal(n1, n2, (size_t)n * sizeof *n1);
    /* Something came out: the speech is neither silent nor the input. */
    double energy = 0.0;
    for (int64_t i = 0; i < n; i++)
        energy += (double)s1[i] * s1[i];
    assert_true(energy > 0.0);
    assert_true(test_max_difference(s1, n1, n) > 0.0);
    assert_int_equal(stream_underflows(one), 0);
    assert_int_equal(stream_underflows(blocks), 0);
    if (learn) {
        int64_t m = 0, d = 0;
        const float *a = mdnmf_stream_noise_basis(one, &m, &d);
        const float *b = mdnmf_stream_noise_basis(blocks, NULL, NULL);
        assert_memory_equal(a, b, (size_t)(m * d) * sizeof *a);
    }
    mdnmf_stream_destroy(one), mdnmf_stream_destroy(blocks);
    free(x), free(s1), free(n1), free(s2), free(n2);
}

static void test_blocks_equal_rate(void **state)
{
    (void)state;
    check_block_invariance(STREAM_RATE, 0, 0);
    check_block_invariance(STREAM_RATE, 1, 0);
    check_block_invariance(STREAM_RATE, 1, 12);
}

static void test_blocks_resampled(void **state)
{
    (void)state;
    check_block_invariance(16000, 0, 0);
    check_block_invariance(44100, 1, 0);
}

/* speech == in gives what separate buffers give; reset replays exactly. */
static void test_in_place_and_reset(void **state)
{
    (void)state;
    const int rates[] = {0, 44100};
    for (int k = 0; k < 2; k++) {
        int64_t n = fx.length;
        float *x = rates[k] ? mixture_at(rates[k], &n) : test_copy(fx.mixture, n);
        mdnmf_stream_params p = stream_params(rates[k], 1);
        mdnmf_stream *s = mdnmf_stream_create(fx.model, &p, NULL);
        assert_non_null(s);
        float *out = malloc((size_t)n * sizeof *out), *noise = malloc((size_t)n * sizeof *noise);
        float *again = malloc((size_t)n * sizeof *again), *buffer = test_copy(x, n);
        run_in_blocks(s, x, n, out, noise, 7);
        mdnmf_stream_reset(s);
        run_in_blocks(s, x, n, again, noise, 8);
        assert_memory_equal(out, again, (size_t)n * sizeof *out);
        mdnmf_stream_reset(s);
        run_in_blocks(s, buffer, n, buffer, NULL, 9); /* in place, no noise output */
        assert_memory_equal(out, buffer, (size_t)n * sizeof *out);
        mdnmf_stream_destroy(s);
        free(x), free(out), free(noise), free(again), free(buffer);
    }
}

/* With floor 1 the mask is 1: the stream is mdnmf_stft_inverse_complex of
 * mdnmf_stft_forward_complex, delayed by the latency, bit for bit (away
 * from the signal's end, where the offline inverse has fewer frames), and
 * that is the input up to float rounding; the noise output is the rest. */
static void test_identity_is_the_offline_inverse_delayed(void **state)
{
    (void)state;
    int64_t n = fx.length;
    mdnmf_stream_params p = stream_params(0, 0);
    p.floor = 1.0;
    mdnmf_stream *s = mdnmf_stream_create(fx.model, &p, NULL);
    assert_non_null(s);
    int64_t latency = mdnmf_stream_latency(s);
    assert_int_equal(latency, STREAM_N_FFT - 1);
    int64_t total = n + latency;
    float *x = calloc((size_t)total, sizeof *x), *out = malloc((size_t)total * sizeof *out);
    float *noise = malloc((size_t)total * sizeof *noise);
    memcpy(x, fx.mixture, (size_t)n * sizeof *x);
    run_whole(s, x, total, out, noise);
    for (int64_t t = 0; t < latency; t++)
        assert_true(out[t] == 0.0f && noise[t] == 0.0f);

    mdnmf_stft *stft = mdnmf_stft_create(STREAM_N_FFT, STREAM_HOP, 0, NULL);
    int64_t frames = mdnmf_stft_frames(stft, n), m = mdnmf_stft_bins(stft);
    float *Z = malloc((size_t)(2 * m * frames) * sizeof *Z), *y = malloc((size_t)n * sizeof *y);
    assert_int_equal(mdnmf_stft_forward_complex(stft, fx.mixture, n, Z, NULL), MDNMF_OK);
    assert_int_equal(mdnmf_stft_inverse_complex(stft, Z, frames, y, n, NULL), MDNMF_OK);
    int64_t exact = n - STREAM_N_FFT; /* the offline inverse's last frames end early */
    assert_memory_equal(out + latency, y, (size_t)exact * sizeof *y);
    assert_true(test_max_difference(out + latency, fx.mixture, n) < 1e-5);
    for (int64_t t = 0; t < n; t++)
        assert_true(noise[t + latency] == fx.mixture[t] - out[t + latency]);
    mdnmf_stft_destroy(stft);
    mdnmf_stream_destroy(s);
    free(x), free(out), free(noise), free(Z), free(y);
}

/* Resampled with floor 1: the output is the input delayed by exactly the
 * latency (up to the resamplers' band limits): it matches at the latency
 * far better than one sample off. */
static void test_identity_resampled_is_aligned(void **state)
{
    (void)state;
    const int rates[] = {16000, 44100, 48000, 11025};
    for (int k = 0; k < 4; k++) {
        int64_t n = 0;
        float *x = mixture_at(rates[k], &n);
        mdnmf_stream_params p = stream_params(rates[k], 0);
        p.floor = 1.0;
        mdnmf_stream *s = mdnmf_stream_create(fx.model, &p, NULL);
        assert_non_null(s);
        int64_t latency = mdnmf_stream_latency(s);
        /* One STFT window at the model's rate, plus the resamplers (libsoxr's
         * low quality: about 15 ms each way). */
        assert_true(latency >= (STREAM_N_FFT - 1) * (int64_t)rates[k] / STREAM_RATE);
        assert_true(latency < (STREAM_N_FFT + STREAM_RATE / 20) * (int64_t)rates[k] / STREAM_RATE);
        int64_t total = n + latency;
        float *in = calloc((size_t)total, sizeof *in), *out = malloc((size_t)total * sizeof *out);
        memcpy(in, x, (size_t)n * sizeof *x);
        float *noise = malloc((size_t)total * sizeof *noise);
        run_in_blocks(s, in, total, out, noise, 11);
        assert_int_equal(stream_underflows(s), 0);
        double error[3];
        for (int shift = -1; shift <= 1; shift++) {
            double e = 0.0, norm = 0.0;
            for (int64_t t = n / 10; t < n - n / 10; t++) {
                double diff = (double)out[t + latency + shift] - x[t];
                e += diff * diff;
                norm += (double)x[t] * x[t];
            }
            error[shift + 1] = 10.0 * log10(norm / e);
        }
        fprintf(stderr, "identity at %d Hz: latency %lld, SNR %.1f dB (off by -1: %.1f, +1: "
                "%.1f)\n", rates[k], (long long)latency, error[1], error[0], error[2]);
        /* libsoxr's low-quality filters pass 0.8 of the model's band: the
         * rest (3.2 .. 4 kHz at 8 kHz) is lost, about 28 dB down here. */
        assert_true(error[1] > 20.0);
        /* One sample off is clearly worse (at 44.1 kHz the band-limited
         * signal changes little from sample to sample: 5.6 dB measured). */
        assert_true(error[1] > error[0] + 3.0 && error[1] > error[2] + 3.0);
        mdnmf_stream_destroy(s);
        free(x), free(in), free(out), free(noise);
    }
}

/* Every control changes the output; the defaults are what 0 means. */
static void test_controls_change_the_output(void **state)
{
    (void)state;
    int64_t n = fx.length;
    float *base = malloc((size_t)n * sizeof *base), *other = malloc((size_t)n * sizeof *other);
    mdnmf_stream_params p = stream_params(0, 0);
    mdnmf_stream *s = mdnmf_stream_create(fx.model, &p, NULL);
    run_whole(s, fx.mixture, n, base, NULL);
    /* Explicit defaults: the same. */
    p.steps = MDNMF_STREAM_DEFAULT_STEPS;
    p.wiener_exponent = 0.5; /* the model's */
    mdnmf_stream *same = mdnmf_stream_create(fx.model, &p, NULL);
    run_whole(same, fx.mixture, n, other, NULL);
    assert_memory_equal(base, other, (size_t)n * sizeof *base);
    mdnmf_stream_destroy(same);
    /* A floor keeps more of the input. */
    mdnmf_stream_reset(s);
    assert_int_equal(mdnmf_stream_set_mask(s, 0.0, 0.5, NULL), MDNMF_OK);
    run_whole(s, fx.mixture, n, other, NULL);
    assert_true(test_max_difference(base, other, n) > 1e-3);
    /* Another exponent. */
    mdnmf_stream_reset(s);
    assert_int_equal(mdnmf_stream_set_mask(s, 2.0, 0.0, NULL), MDNMF_OK);
    run_whole(s, fx.mixture, n, other, NULL);
    assert_true(test_max_difference(base, other, n) > 1e-3);
    /* Learning moves the noise basis and changes the output. */
    mdnmf_stream_reset(s);
    assert_int_equal(mdnmf_stream_set_mask(s, 0.0, 0.0, NULL), MDNMF_OK);
    int64_t m = 0, d = 0;
    mdnmf_stream_noise_basis(s, &m, &d);
    float *before = test_copy(mdnmf_stream_noise_basis(s, NULL, NULL), m * d);
    assert_int_equal(d, 8);
    assert_int_equal(mdnmf_stream_set_learn_noise(s, 1, NULL), MDNMF_OK);
    run_whole(s, fx.mixture, n, other, NULL);
    assert_true(test_max_difference(base, other, n) > 1e-3);
    assert_true(test_max_difference(before, mdnmf_stream_noise_basis(s, NULL, NULL), m * d) > 0);
    /* Off again, after a reset: the model's basis and the first output. */
    assert_int_equal(mdnmf_stream_set_learn_noise(s, 0, NULL), MDNMF_OK);
    mdnmf_stream_reset(s);
    assert_memory_equal(before, mdnmf_stream_noise_basis(s, NULL, NULL),
                        (size_t)(m * d) * sizeof *before);
    run_whole(s, fx.mixture, n, other, NULL);
    assert_memory_equal(base, other, (size_t)n * sizeof *base);
    /* More steps. */
    p = stream_params(0, 0);
    p.steps = 3;
    mdnmf_stream *fewer = mdnmf_stream_create(fx.model, &p, NULL);
    run_whole(fewer, fx.mixture, n, other, NULL);
    assert_true(test_max_difference(base, other, n) > 1e-4);
    mdnmf_stream_destroy(fewer);
    mdnmf_stream_destroy(s);
    free(base), free(other), free(before);
}

/* A speech-only model with fresh noise atoms: d_n columns, learned. */
static void test_fresh_noise_atoms(void **state)
{
    (void)state;
    mdnmf_stream_params p = stream_params(0, 0);
    mdnmf_error error;
    assert_null(mdnmf_stream_create(fx.speech_only, &p, &error));
    assert_int_equal(error.status, MDNMF_ERR_STATE);
    p.learn_noise = 1;
    p.noise_atoms = 6;
    mdnmf_stream *s = mdnmf_stream_create(fx.speech_only, &p, &error);
    assert_non_null(s);
    int64_t m = 0, d = 0;
    float *before = test_copy(mdnmf_stream_noise_basis(s, &m, &d), 129 * 6);
    assert_int_equal(m, 129);
    assert_int_equal(d, 6);
    float *out = malloc((size_t)fx.length * sizeof *out);
    run_whole(s, fx.mixture, fx.length, out, NULL);
    assert_true(test_all_finite(out, fx.length));
    assert_true(test_max_difference(before, mdnmf_stream_noise_basis(s, NULL, NULL), m * d) > 0);
    assert_true(test_all_finite(mdnmf_stream_noise_basis(s, NULL, NULL), m * d));
    mdnmf_stream_destroy(s);
    free(before), free(out);
}

/* Non-finite samples are zeros. */
static void test_non_finite_input_is_zero(void **state)
{
    (void)state;
    int64_t n = fx.length;
    float *x = test_copy(fx.mixture, n), *y = test_copy(fx.mixture, n);
    for (int64_t i = 100; i < n; i += 97) {
        x[i] = i % 2 ? NAN : INFINITY;
        y[i] = 0.0f;
    }
    float *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
    mdnmf_stream_params p = stream_params(0, 1);
    mdnmf_stream *s = mdnmf_stream_create(fx.model, &p, NULL);
    run_whole(s, x, n, a, NULL);
    mdnmf_stream_reset(s);
    run_whole(s, y, n, b, NULL);
    assert_memory_equal(a, b, (size_t)n * sizeof *a);
    assert_true(test_all_finite(a, n));
    mdnmf_stream_destroy(s);
    free(x), free(y), free(a), free(b);
}

static void expect_refused(const mdnmf_stream_params *p, int status)
{
    mdnmf_error error;
    assert_null(mdnmf_stream_create(fx.model, p, &error));
    assert_int_equal(error.status, status);
    assert_true(strlen(error.message) > 10);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    mdnmf_error error;
    mdnmf_stream_params p = stream_params(0, 0);
    assert_null(mdnmf_stream_create(NULL, &p, &error));
    assert_int_equal(error.status, MDNMF_ERR_ARGUMENT);
    const struct {
        int rate, steps, learn;
        double exponent, floor, forgetting;
        int64_t atoms;
        int interval;
    } bad[] = {
        {100, 0, 0, 0, 0, 0, 0, 0},   {0, -1, 0, 0, 0, 0, 0, 0},   {0, 0, 2, 0, 0, 0, 0, 0},
        {0, 0, 0, -1, 0, 0, 0, 0},    {0, 0, 0, 9, 0, 0, 0, 0},    {0, 0, 0, NAN, 0, 0, 0, 0},
        {0, 0, 0, 0, -0.1, 0, 0, 0},  {0, 0, 0, 0, 1.5, 0, 0, 0},  {0, 0, 1, 0, 0, 1.0, 0, 0},
        {0, 0, 1, 0, 0, -0.5, 0, 0},  {0, 0, 0, 0, 0, 0, 4, 0},    {0, 0, 1, 0, 0, 0, -1, 0},
        {0, 0, 1, 0, 0, 0, 0, -1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        p = stream_params(bad[i].rate, bad[i].learn);
        p.steps = bad[i].steps;
        p.wiener_exponent = bad[i].exponent;
        p.floor = bad[i].floor;
        p.forgetting = bad[i].forgetting;
        p.noise_atoms = bad[i].atoms;
        p.noise_interval = bad[i].interval;
        expect_refused(&p, MDNMF_ERR_ARGUMENT);
    }
    /* A model without an audio front end. */
    mdnmf_model *bare = test_model(4);
    p = stream_params(0, 0);
    assert_null(mdnmf_stream_create(bare, &p, &error));
    assert_int_equal(error.status, MDNMF_ERR_STATE);
    mdnmf_model_destroy(bare);

    mdnmf_stream *s = mdnmf_stream_create(fx.model, NULL, &error);
    assert_non_null(s);
    float in[8] = {0}, out[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    assert_int_equal(mdnmf_stream_process(NULL, in, 8, out, NULL, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_stream_process(s, in, -1, out, NULL, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_stream_process(s, NULL, 8, out, NULL, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_stream_process(s, in, 8, NULL, NULL, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_stream_process(s, in, 8, out, out, &error), MDNMF_ERR_ARGUMENT);
    for (int i = 0; i < 8; i++)
        assert_true(out[i] == 1.0f); /* nothing written */
    assert_int_equal(mdnmf_stream_process(s, NULL, 0, NULL, NULL, &error), MDNMF_OK);
    assert_int_equal(mdnmf_stream_set_mask(s, -1.0, 0.0, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_stream_set_mask(s, 1.0, 2.0, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_stream_set_mask(NULL, 1.0, 0.0, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_stream_set_learn_noise(s, 3, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_stream_set_learn_noise(NULL, 1, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_stream_latency(NULL), 0);
    assert_null(mdnmf_stream_noise_basis(NULL, NULL, NULL));
    mdnmf_stream_reset(NULL);
    mdnmf_stream_destroy(NULL);
    mdnmf_stream_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_equal_rate),
        cmocka_unit_test(test_blocks_resampled),
        cmocka_unit_test(test_in_place_and_reset),
        cmocka_unit_test(test_identity_is_the_offline_inverse_delayed),
        cmocka_unit_test(test_identity_resampled_is_aligned),
        cmocka_unit_test(test_controls_change_the_output),
        cmocka_unit_test(test_fresh_noise_atoms),
        cmocka_unit_test(test_non_finite_input_is_zero),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
