/* The signal pipeline (SPEC §7–§8) and the library's small tables:
 * mixing at an SNR hits the SNR by its formula; peaks and peak
 * normalisation; median and mean against their definitions; enum names
 * round-trip; a separator trained from signals equals the one trained
 * from their frames; separating a recording equals the chain of the
 * existing calls (in SPEC's polar form); another rate comes back at its
 * rate and length; re-learning the noise keeps the speech basis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "mdnmf.h"
#include "test_util.h"

enum { RATE = 8000, N_FFT = 64, SECONDS_LENGTH = 4000 };

#define PI 3.14159265358979323846

/* A voiced "speech" (harmonics with a slow envelope) and a noise. */
static float *make_speech(int64_t length, uint64_t seed)
{
    test_rng r = test_rng_make(seed);
    float *x = malloc((size_t)length * sizeof *x);
    double f0 = 180.0 + 40.0 * test_uniform(&r);
    for (int64_t i = 0; x && i < length; i++) {
        double t = (double)i / RATE, envelope = 0.6 + 0.4 * sin(2 * PI * 3.0 * t);
        double v = 0.0;
        for (int h = 1; h <= 4; h++)
            v += sin(2 * PI * f0 * h * t) / h;
        x[i] = (float)(0.3 * envelope * v);
    }
    return x;
}

static float *make_noise(int64_t length, uint64_t seed)
{
    test_rng r = test_rng_make(seed);
    float *x = malloc((size_t)length * sizeof *x);
    for (int64_t i = 0; x && i < length; i++)
        x[i] = (float)(0.4 * (test_uniform(&r) - 0.5));
    return x;
}

static double energy(const float *x, int64_t n)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)x[i] * x[i];
    return sum;
}

/* ------------------------------------------------------------ §8 */

static void test_mix_hits_the_snr(void **state)
{
    (void)state;
    const int64_t n = 3000;
    float *speech = make_speech(n, 1), *noise = make_noise(n, 2);
    float mixture[3000], s_target[3000], n_target[3000];
    const double snrs[] = {-5.0, 0.0, 3.0, 20.0};
    for (size_t k = 0; k < sizeof snrs / sizeof *snrs; k++) {
        mdnmf_error error;
        double weights[2];
        assert_int_equal(mdnmf_mix_at_snr(speech, noise, n, snrs[k], mixture, s_target,
                                          n_target, weights, &error),
                         MDNMF_OK);
        assert_int_equal(error.status, MDNMF_OK);
        assert_string_equal(error.message, "");
        /* 10 log10(|a_0 s|² / |a_1 n|²) = SNR (float weights: ~1e-6 dB). */
        double snr = 10.0 * log10(energy(s_target, n) / energy(n_target, n));
        assert_true(fabs(snr - snrs[k]) < 1e-4);
        /* Weights normalised to sum 1; the mixture is the targets' sum. */
        assert_true(fabs(weights[0] + weights[1] - 1.0) < 1e-6);
        for (int64_t i = 0; i < n; i++) {
            assert_true(s_target[i] == speech[i] * (float)weights[0]);
            assert_true(mixture[i] == s_target[i] + n_target[i]);
        }
    }
    /* In place: the targets may be the inputs. */
    float *s_copy = test_copy(speech, n), *n_copy = test_copy(noise, n);
    assert_int_equal(mdnmf_mix_at_snr(s_copy, n_copy, n, 3.0, mixture, s_copy, n_copy, NULL,
                                      NULL),
                     MDNMF_OK);
    assert_int_equal(mdnmf_mix_at_snr(speech, noise, n, 3.0, mixture, s_target, n_target, NULL,
                                      NULL),
                     MDNMF_OK);
    assert_memory_equal(s_copy, s_target, (size_t)n * sizeof(float));
    assert_memory_equal(n_copy, n_target, (size_t)n * sizeof(float));
    /* Silent noise has no SNR. */
    memset(n_copy, 0, (size_t)n * sizeof(float));
    mdnmf_error error;
    assert_int_equal(mdnmf_mix_at_snr(speech, n_copy, n, 3.0, mixture, s_target, n_target, NULL,
                                      &error),
                     MDNMF_ERR_DATA);
    assert_int_equal(error.status, MDNMF_ERR_DATA);
    assert_non_null(strstr(error.message, "noise"));
    assert_int_equal(mdnmf_mix_at_snr(speech, noise, n, NAN, mixture, s_target, n_target, NULL,
                                      NULL),
                     MDNMF_ERR_ARGUMENT);
    free(speech), free(noise), free(s_copy), free(n_copy);
}

static void test_peak_and_normalisation(void **state)
{
    (void)state;
    float x[] = {0.25f, -0.5f, 0.125f, 0.0f};
    assert_true(mdnmf_signal_peak(x, 4) == 0.5f);
    assert_true(mdnmf_signal_peak(NULL, 4) == 0.0f);
    assert_int_equal(mdnmf_signal_normalize_peak(x, 4, NULL), MDNMF_OK);
    assert_true(x[1] == -1.0f && x[0] == 0.5f && x[2] == 0.25f);
    float silent[3] = {0};
    mdnmf_error error;
    assert_int_equal(mdnmf_signal_normalize_peak(silent, 3, &error), MDNMF_ERR_DATA);
    assert_non_null(strstr(error.message, "silent"));
}

/* ------------------------------------------------------------ aggregate */

/* Values whose sums and quotients are exact in binary: the mean over
 * sources is known exactly, and the sum-then-divide order is visible on
 * 0.1 + 0.2 + 0.3 (its sum divided by 3 differs from 0.1/3 + 0.2/3 + 0.3/3). */
static void test_mean_over_sources(void **state)
{
    (void)state;
    const double values[] = {1.0, 2.0, -4.0, /* source 0, samples 0..2 */
                             3.0, 6.0, 8.0,  /* source 1 */
                             5.0, 1.0, 2.0, /* source 2 */
                             7.0, 3.0, 2.0}; /* source 3 */
    double mean[3];
    assert_int_equal(mdnmf_mean_over_sources(values, 4, 3, mean, NULL), MDNMF_OK);
    assert_true(mean[0] == 4.0 && mean[1] == 3.0 && mean[2] == 2.0);
    const double tenths[] = {0.1, 0.2, 0.3};
    assert_int_equal(mdnmf_mean_over_sources(tenths, 3, 1, mean, NULL), MDNMF_OK);
    assert_true(mean[0] == (0.1 + 0.2 + 0.3) / 3);
    mdnmf_error error;
    assert_int_equal(mdnmf_mean_over_sources(values, 0, 3, mean, &error), MDNMF_ERR_SHAPE);
    assert_non_null(strstr(error.message, "0 sources"));
    assert_int_equal(mdnmf_mean_over_sources(NULL, 4, 3, mean, &error), MDNMF_ERR_ARGUMENT);
}

static void test_median_and_mean(void **state)
{
    (void)state;
    const double odd[] = {5.0, -1.0, 3.0, INFINITY, 2.0};
    const double even[] = {4.0, 1.0, 3.0, 2.0};
    double copy[5];
    memcpy(copy, odd, sizeof odd);
    double result = 0;
    assert_int_equal(mdnmf_aggregate_values(odd, 5, MDNMF_AGGREGATE_MEDIAN, &result, NULL),
                     MDNMF_OK);
    assert_true(result == 3.0);
    assert_memory_equal(copy, odd, sizeof odd); /* the input is not sorted */
    assert_int_equal(mdnmf_aggregate_values(even, 4, MDNMF_AGGREGATE_MEDIAN, &result, NULL),
                     MDNMF_OK);
    assert_true(result == 2.5);
    assert_int_equal(mdnmf_aggregate_values(even, 4, MDNMF_AGGREGATE_MEAN, &result, NULL),
                     MDNMF_OK);
    assert_true(result == 2.5);
    assert_int_equal(mdnmf_aggregate_values(odd, 5, MDNMF_AGGREGATE_MEAN, &result, NULL),
                     MDNMF_OK);
    assert_true(isinf(result));
    const double with_nan[] = {1.0, NAN, 2.0};
    assert_int_equal(mdnmf_aggregate_values(with_nan, 3, MDNMF_AGGREGATE_MEDIAN, &result, NULL),
                     MDNMF_OK);
    assert_true(isnan(result));
    int64_t finite = 0;
    assert_int_equal(mdnmf_aggregate_finite(odd, 5, MDNMF_AGGREGATE_MEDIAN, &result, &finite,
                                            NULL),
                     MDNMF_OK);
    assert_int_equal(finite, 4);
    assert_true(result == 2.5); /* of -1, 2, 3, 5 */
    assert_int_equal(mdnmf_aggregate_finite(with_nan, 3, MDNMF_AGGREGATE_MEAN, &result, &finite,
                                            NULL),
                     MDNMF_OK);
    assert_true(result == 1.5 && finite == 2);
    mdnmf_error error;
    assert_int_equal(mdnmf_aggregate_values(odd, 0, MDNMF_AGGREGATE_MEDIAN, &result, &error),
                     MDNMF_ERR_SHAPE);
    assert_int_equal(error.status, MDNMF_ERR_SHAPE);
    assert_int_equal(mdnmf_aggregate_values(odd, 5, (mdnmf_aggregate)7, &result, NULL),
                     MDNMF_ERR_ARGUMENT);
}

/* ------------------------------------------------------------ names */

static void test_enum_names_round_trip(void **state)
{
    (void)state;
    const struct {
        mdnmf_enum kind;
        const char *const *names;
        int count;
    } kinds[] = {{MDNMF_ENUM_MODE, mdnmf_mode_names, MDNMF_MODE_SEMI_ADV + 1},
                 {MDNMF_ENUM_INIT, mdnmf_init_names, 2},
                 {MDNMF_ENUM_TRUE_SAMPLE, mdnmf_true_sample_names, 3},
                 {MDNMF_ENUM_METRIC, mdnmf_metric_names, 2},
                 {MDNMF_ENUM_AGGREGATE, mdnmf_aggregate_names, 2}};
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        for (int v = 0; v < kinds[k].count; v++) {
            const char *name = mdnmf_enum_name(kinds[k].kind, v);
            assert_string_equal(name, kinds[k].names[v]);
            int back = -1;
            assert_int_equal(mdnmf_enum_value(kinds[k].kind, name, &back, NULL), MDNMF_OK);
            assert_int_equal(back, v);
        }
        assert_null(kinds[k].names[kinds[k].count]);
        assert_string_equal(mdnmf_enum_name(kinds[k].kind, kinds[k].count), "?");
        assert_string_equal(mdnmf_enum_name(kinds[k].kind, -1), "?");
    }
    mdnmf_error error;
    int value = 0;
    assert_int_equal(mdnmf_enum_value(MDNMF_ENUM_MODE, "best", &value, &error),
                     MDNMF_ERR_ARGUMENT);
    assert_string_equal(error.message,
                        "mode: 'best' is not one of: std, adv, exem, sup, full, semi, semi_adv");
    /* The modes' table agrees with their names and SPEC §6. */
    for (int v = 0; v <= MDNMF_MODE_SEMI_ADV; v++) {
        const mdnmf_mode_info *info = mdnmf_mode_describe((mdnmf_mode)v);
        assert_non_null(info);
        assert_int_equal(info->mode, v);
        assert_string_equal(info->name, mdnmf_mode_names[v]);
    }
    assert_null(mdnmf_mode_describe((mdnmf_mode)99));
    assert_int_equal(mdnmf_mode_describe(MDNMF_MODE_SUP)->pairs, MDNMF_NEED_REQUIRED);
    assert_int_equal(mdnmf_mode_describe(MDNMF_MODE_SUP)->U, MDNMF_NEED_IGNORED);
    assert_int_equal(mdnmf_mode_describe(MDNMF_MODE_SEMI)->V, MDNMF_NEED_REQUIRED);
    assert_int_equal(mdnmf_mode_describe(MDNMF_MODE_SEMI)->U_last, MDNMF_NEED_IGNORED);
    assert_int_equal(mdnmf_mode_describe(MDNMF_MODE_ADV)->V, MDNMF_NEED_OPTIONAL);
    assert_false(mdnmf_mode_describe(MDNMF_MODE_EXEM)->trains);
}

/* ------------------------------------------------------------ §7 */

typedef struct corpus {
    float *speech[2], *noisy[2], *noise[2];
    int64_t lengths[2];
} corpus;

static corpus make_corpus(void)
{
    corpus c;
    for (int k = 0; k < 2; k++) {
        c.lengths[k] = SECONDS_LENGTH + 800 * k;
        c.speech[k] = make_speech(c.lengths[k], 10 + k);
        c.noise[k] = make_noise(c.lengths[k], 20 + k);
        c.noisy[k] = malloc((size_t)c.lengths[k] * sizeof(float));
        float *s = malloc((size_t)c.lengths[k] * sizeof(float));
        float *n = malloc((size_t)c.lengths[k] * sizeof(float));
        float *other = make_speech(c.lengths[k], 30 + k);
        assert_int_equal(mdnmf_mix_at_snr(other, c.noise[k], c.lengths[k], 3.0, c.noisy[k], s,
                                          n, NULL, NULL),
                         MDNMF_OK);
        free(other), free(s), free(n);
    }
    return c;
}

static void free_corpus(corpus *c)
{
    for (int k = 0; k < 2; k++)
        free(c->speech[k]), free(c->noisy[k]), free(c->noise[k]);
}

static mdnmf_separator_params denoise_params(mdnmf_mode mode)
{
    mdnmf_separator_params p;
    mdnmf_separator_params_default(&p, 2);
    p.mode = mode;
    p.d[0] = 6, p.d[1] = 3;
    p.common.epochs = 5;
    p.common.test_epochs = 20;
    p.common.threads = 1;
    p.common.seed = 7;
    return p;
}

static mdnmf_model *fresh_model(void)
{
    mdnmf_model *model = test_model(1);
    assert_non_null(model);
    return model;
}

static mdnmf_model *train_semi(const corpus *c)
{
    mdnmf_separator_params p = denoise_params(MDNMF_MODE_SEMI_ADV);
    mdnmf_signal_data data;
    memset(&data, 0, sizeof data);
    data.clean[0] = (mdnmf_signals){.samples = (const float *const *)c->speech, .lengths = c->lengths, .count = 2};
    data.mixtures = (mdnmf_signals){.samples = (const float *const *)c->noisy, .lengths = c->lengths, .count = 2};
    mdnmf_audio_params audio = {.sample_rate = RATE, .n_fft = N_FFT};
    mdnmf_model *model = fresh_model();
    mdnmf_error error;
    assert_int_equal(mdnmf_separator_fit_signals(model, &p, &audio, &data, &error), MDNMF_OK);
    assert_int_equal(error.status, MDNMF_OK);
    return model;
}

/* Training from signals = training from their frames side by side. */
static void test_fit_from_signals_equals_fit_from_frames(void **state)
{
    (void)state;
    corpus c = make_corpus();
    mdnmf_model *from_signals = train_semi(&c);
    const mdnmf_audio_params *audio = mdnmf_model_audio(from_signals);
    assert_non_null(audio);
    assert_int_equal(audio->sample_rate, RATE);
    assert_int_equal(audio->hop_length, N_FFT / 4); /* the STFT's default, filled in */
    assert_int_equal(audio->win_length, N_FFT);

    mdnmf_stft *stft = mdnmf_stft_create(N_FFT, 0, 0, NULL);
    assert_non_null(stft);
    int64_t m = mdnmf_stft_bins(stft), n_speech = 0, n_noisy = 0;
    mdnmf_signals speech = {.samples = (const float *const *)c.speech, .lengths = c.lengths, .count = 2};
    mdnmf_signals noisy = {.samples = (const float *const *)c.noisy, .lengths = c.lengths, .count = 2};
    assert_int_equal(mdnmf_signals_magnitudes(stft, RATE, &speech, NULL, &n_speech, NULL),
                     MDNMF_OK);
    assert_int_equal(n_speech, mdnmf_stft_frames(stft, c.lengths[0]) +
                                   mdnmf_stft_frames(stft, c.lengths[1]));
    float *U = malloc((size_t)(m * n_speech) * sizeof *U);
    assert_int_equal(mdnmf_signals_magnitudes(stft, RATE, &speech, U, &n_speech, NULL),
                     MDNMF_OK);
    /* The second signal's frames follow the first's. */
    float *second = malloc((size_t)(m * mdnmf_stft_frames(stft, c.lengths[1])) * sizeof *second);
    assert_int_equal(mdnmf_stft_forward(stft, c.speech[1], c.lengths[1], second, NULL, NULL), MDNMF_OK);
    assert_memory_equal(U + m * mdnmf_stft_frames(stft, c.lengths[0]), second,
                        (size_t)(m * mdnmf_stft_frames(stft, c.lengths[1])) * sizeof(float));
    assert_int_equal(mdnmf_signals_magnitudes(stft, RATE, &noisy, NULL, &n_noisy, NULL),
                     MDNMF_OK);
    float *V = malloc((size_t)(m * n_noisy) * sizeof *V);
    assert_int_equal(mdnmf_signals_magnitudes(stft, RATE, &noisy, V, &n_noisy, NULL), MDNMF_OK);

    mdnmf_separator_params p = denoise_params(MDNMF_MODE_SEMI_ADV);
    mdnmf_separation_data x;
    memset(&x, 0, sizeof x);
    x.m = m;
    x.U[0] = U, x.n[0] = n_speech;
    x.V = V, x.n_V = n_noisy;
    mdnmf_model *from_frames = fresh_model();
    assert_int_equal(mdnmf_separator_fit(from_frames, &p, &x, NULL), MDNMF_OK);
    int64_t rows = 0, atoms = 0;
    mdnmf_model_shape(from_frames, &rows, &atoms);
    assert_int_equal(rows, m);
    assert_memory_equal(mdnmf_model_basis(from_signals), mdnmf_model_basis(from_frames),
                        (size_t)(rows * atoms) * sizeof(float));
    free(U), free(V), free(second);
    mdnmf_stft_destroy(stft);
    mdnmf_model_destroy(from_signals), mdnmf_model_destroy(from_frames);
    free_corpus(&c);
}

/* SPEC §7 by the existing calls: separate the magnitudes, then each
 * source's magnitude with the mixture's phase, inverse STFT. */
static void reference_separation(mdnmf_model *model, const float *signal, int64_t length,
                                 float **out)
{
    mdnmf_stft *stft = mdnmf_stft_create(N_FFT, 0, 0, NULL);
    int64_t m = mdnmf_stft_bins(stft), frames = mdnmf_stft_frames(stft, length);
    float *magnitude = malloc((size_t)(m * frames) * sizeof(float));
    float *phase = malloc((size_t)(m * frames) * sizeof(float));
    float *parts[2] = {malloc((size_t)(m * frames) * sizeof(float)),
                       malloc((size_t)(m * frames) * sizeof(float))};
    assert_int_equal(mdnmf_stft_forward(stft, signal, length, magnitude, phase, NULL), MDNMF_OK);
    assert_int_equal(mdnmf_separate(model, magnitude, m, frames, 1, parts, NULL), MDNMF_OK);
    for (int s = 0; s < 2; s++) {
        out[s] = malloc((size_t)length * sizeof(float));
        assert_int_equal(mdnmf_stft_inverse(stft, parts[s], phase, frames, out[s], length, NULL),
                         MDNMF_OK);
        free(parts[s]);
    }
    free(magnitude), free(phase);
    mdnmf_stft_destroy(stft);
}

static void test_separate_signal_equals_the_chain(void **state)
{
    (void)state;
    corpus c = make_corpus();
    mdnmf_model *model = train_semi(&c);
    int64_t n = c.lengths[0];
    float *speech = malloc((size_t)n * sizeof(float)), *noise = malloc((size_t)n * sizeof(float));
    float *estimates[2] = {speech, noise};
    mdnmf_error error;
    assert_int_equal(mdnmf_separate_signal(model, c.noisy[0], n, RATE, estimates, &error),
                     MDNMF_OK);
    float *expected[2];
    reference_separation(model, c.noisy[0], n, expected);
    /* The library scales the complex mixture by a magnitude ratio where
     * the reference goes through the phase angle: float rounding apart. */
    assert_true(test_max_difference(speech, expected[0], n) < 1e-5);
    assert_true(test_max_difference(noise, expected[1], n) < 1e-5);
    /* Wiener masks add up to the mixture (away from the signal's edges). */
    double sum_error = 0.0;
    for (int64_t i = N_FFT; i < n - N_FFT; i++)
        sum_error = fmax(sum_error, fabs((double)speech[i] + noise[i] - c.noisy[0][i]));
    assert_true(sum_error < 1e-4);
    /* A denoiser gives the same, call after call. */
    mdnmf_denoiser *denoiser = mdnmf_denoiser_create(model, &error);
    assert_non_null(denoiser);
    float *again[2] = {malloc((size_t)n * sizeof(float)), malloc((size_t)n * sizeof(float))};
    for (int round = 0; round < 2; round++) {
        assert_int_equal(mdnmf_denoiser_separate(denoiser, c.noisy[0], n, 0, again, &error),
                         MDNMF_OK);
        assert_memory_equal(again[0], speech, (size_t)n * sizeof(float));
        assert_memory_equal(again[1], noise, (size_t)n * sizeof(float));
    }
    /* Silence is refused. */
    float silent[256] = {0};
    assert_int_equal(mdnmf_denoiser_separate(denoiser, silent, 256, 0, again, &error),
                     MDNMF_ERR_DATA);
    assert_non_null(strstr(error.message, "silent"));
    mdnmf_denoiser_destroy(denoiser);
    free(again[0]), free(again[1]), free(expected[0]), free(expected[1]);
    free(speech), free(noise);
    mdnmf_model_destroy(model);
    free_corpus(&c);
}

/* ------------------------------------------------------------ features */

enum { CONTEXT = 1, STACK = 2 * CONTEXT + 1 };

/* The test's own features of one signal's magnitudes (bins x frames):
 * powers, frames j-1, j, j+1 one above the other, zeros beyond the ends. */
static float *stacked_powers(const float *magnitude, int64_t bins, int64_t frames)
{
    float *X = calloc((size_t)(bins * STACK * frames), sizeof *X);
    for (int64_t j = 0; j < frames; j++)
        for (int k = 0; k < STACK; k++) {
            int64_t from = j + k - CONTEXT;
            if (from < 0 || from >= frames)
                continue;
            for (int64_t i = 0; i < bins; i++) {
                float v = magnitude[from * bins + i];
                X[(j * STACK + k) * bins + i] = v * v;
            }
        }
    return X;
}

/* Frames of every signal side by side as stacked_powers. */
static float *group_features(mdnmf_stft *stft, float *const *signals, const int64_t *lengths,
                             int64_t *columns)
{
    int64_t bins = mdnmf_stft_bins(stft), total = 0;
    for (int k = 0; k < 2; k++)
        total += mdnmf_stft_frames(stft, lengths[k]);
    float *X = malloc((size_t)(bins * STACK * total) * sizeof *X);
    int64_t at = 0;
    for (int k = 0; k < 2; k++) {
        int64_t frames = mdnmf_stft_frames(stft, lengths[k]);
        float *magnitude = malloc((size_t)(bins * frames) * sizeof *magnitude);
        assert_int_equal(mdnmf_stft_forward(stft, signals[k], lengths[k], magnitude, NULL, NULL),
                         MDNMF_OK);
        float *one = stacked_powers(magnitude, bins, frames);
        memcpy(X + at * bins * STACK, one, (size_t)(bins * STACK * frames) * sizeof *X);
        at += frames;
        free(magnitude), free(one);
    }
    *columns = total;
    return X;
}

/* Power features with one frame of context on each side: training reads
 * the stacked powers (the same basis as a fit on the test's own stacking),
 * and separation is: stack, separate, average each frame's three copies,
 * the Wiener gain (estimated power over the mixture's) on the complex
 * mixture, inverse STFT; the sources add up to the mixture. */
static void test_power_features_with_context(void **state)
{
    (void)state;
    corpus c = make_corpus();
    mdnmf_separator_params p = denoise_params(MDNMF_MODE_SEMI);
    mdnmf_signal_data data;
    memset(&data, 0, sizeof data);
    data.clean[0] = (mdnmf_signals){.samples = (const float *const *)c.speech, .lengths = c.lengths, .count = 2};
    data.mixtures = (mdnmf_signals){.samples = (const float *const *)c.noisy, .lengths = c.lengths, .count = 2};
    mdnmf_audio_params audio = {.sample_rate = RATE, .n_fft = N_FFT, .power = 1,
                                .context = CONTEXT};
    mdnmf_model *model = fresh_model();
    assert_int_equal(mdnmf_separator_fit_signals(model, &p, &audio, &data, NULL), MDNMF_OK);
    assert_int_equal(mdnmf_model_audio(model)->power, 1);
    assert_int_equal(mdnmf_model_audio(model)->context, CONTEXT);

    mdnmf_stft *stft = mdnmf_stft_create(N_FFT, 0, 0, NULL);
    int64_t bins = mdnmf_stft_bins(stft), n_U = 0, n_V = 0, rows = 0, atoms = 0;
    mdnmf_separation_data x;
    memset(&x, 0, sizeof x);
    x.m = bins * STACK;
    float *U = group_features(stft, c.speech, c.lengths, &n_U);
    float *V = group_features(stft, c.noisy, c.lengths, &n_V);
    x.U[0] = U, x.n[0] = n_U, x.V = V, x.n_V = n_V;
    mdnmf_model *from_frames = fresh_model();
    assert_int_equal(mdnmf_separator_fit(from_frames, &p, &x, NULL), MDNMF_OK);
    mdnmf_model_shape(model, &rows, &atoms);
    assert_int_equal(rows, bins * STACK);
    assert_memory_equal(mdnmf_model_basis(model), mdnmf_model_basis(from_frames),
                        (size_t)(rows * atoms) * sizeof(float));

    int64_t n = c.lengths[0], frames = mdnmf_stft_frames(stft, n);
    float *magnitude = malloc((size_t)(bins * frames) * sizeof(float));
    float *phase = malloc((size_t)(bins * frames) * sizeof(float));
    assert_int_equal(mdnmf_stft_forward(stft, c.noisy[0], n, magnitude, phase, NULL), MDNMF_OK);
    float *features = stacked_powers(magnitude, bins, frames);
    float *parts[2], *expected[2], *got[2];
    for (int s = 0; s < 2; s++) {
        parts[s] = malloc((size_t)(rows * frames) * sizeof(float));
        expected[s] = malloc((size_t)n * sizeof(float));
        got[s] = malloc((size_t)n * sizeof(float));
    }
    assert_int_equal(mdnmf_separate(model, features, rows, frames, 1, parts, NULL), MDNMF_OK);
    float *estimate = malloc((size_t)(bins * frames) * sizeof(float));
    for (int s = 0; s < 2; s++) {
        for (int64_t j = 0; j < frames; j++)
            for (int64_t i = 0; i < bins; i++) {
                double sum = 0.0;
                int copies = 0;
                for (int k = 0; k < STACK; k++) {
                    int64_t column = j - (k - CONTEXT);
                    if (column < 0 || column >= frames)
                        continue;
                    sum += parts[s][(column * STACK + k) * bins + i];
                    copies++;
                }
                float power = magnitude[j * bins + i] * magnitude[j * bins + i];
                float gain = power > 0.0f ? (float)(sum / copies) / power : 0.0f;
                estimate[j * bins + i] = gain * magnitude[j * bins + i];
            }
        assert_int_equal(mdnmf_stft_inverse(stft, estimate, phase, frames, expected[s], n, NULL),
                         MDNMF_OK);
    }
    assert_int_equal(mdnmf_separate_signal(model, c.noisy[0], n, RATE, got, NULL), MDNMF_OK);
    for (int s = 0; s < 2; s++)
        assert_true(test_max_difference(got[s], expected[s], n) < 1e-5);
    double sum_error = 0.0;
    for (int64_t i = N_FFT; i < n - N_FFT; i++)
        sum_error = fmax(sum_error, fabs((double)got[0][i] + got[1][i] - c.noisy[0][i]));
    assert_true(sum_error < 1e-4);

    /* A basis of other rows than the features' is refused. */
    mdnmf_audio_params plain = *mdnmf_model_audio(model);
    plain.context = 0;
    mdnmf_error error;
    assert_int_equal(mdnmf_model_set_audio(model, &plain, &error), MDNMF_ERR_SHAPE);
    plain.context = MDNMF_MAX_CONTEXT + 1;
    assert_int_equal(mdnmf_model_set_audio(model, &plain, &error), MDNMF_ERR_ARGUMENT);

    for (int s = 0; s < 2; s++)
        free(parts[s]), free(expected[s]), free(got[s]);
    free(estimate), free(features), free(magnitude), free(phase), free(U), free(V);
    mdnmf_stft_destroy(stft);
    mdnmf_model_destroy(model), mdnmf_model_destroy(from_frames);
    free_corpus(&c);
}

/* A recording at another rate: resampled to the model's, separated, and
 * each estimate brought back to the recording's rate and length. */
static void test_another_rate_comes_back_at_its_rate(void **state)
{
    (void)state;
    corpus c = make_corpus();
    mdnmf_model *model = train_semi(&c);
    const int rate = 16000;
    int64_t n = mdnmf_resampled_length(c.lengths[0], RATE, rate);
    float *recording = malloc((size_t)n * sizeof(float));
    assert_int_equal(mdnmf_resample(c.noisy[0], c.lengths[0], RATE, rate, recording, NULL),
                     MDNMF_OK);
    float *estimates[2] = {malloc((size_t)n * sizeof(float)), malloc((size_t)n * sizeof(float))};
    assert_int_equal(mdnmf_separate_signal(model, recording, n, rate, estimates, NULL), MDNMF_OK);

    int64_t inner = mdnmf_resampled_length(n, rate, RATE);
    float *at_model = calloc((size_t)inner, sizeof(float));
    assert_int_equal(mdnmf_resample(recording, n, rate, RATE, at_model, NULL), MDNMF_OK);
    float *parts[2];
    reference_separation(model, at_model, inner, parts);
    for (int s = 0; s < 2; s++) {
        int64_t back = mdnmf_resampled_length(inner, RATE, rate);
        float *expected = calloc((size_t)(back > n ? back : n), sizeof(float));
        assert_int_equal(mdnmf_resample(parts[s], inner, RATE, rate, expected, NULL),
                         MDNMF_OK);
        assert_true(test_max_difference(estimates[s], expected, n) < 1e-4);
        free(expected), free(parts[s]);
    }
    /* A rate that cannot be converted is refused. */
    mdnmf_error error;
    assert_int_equal(mdnmf_separate_signal(model, recording, n, 500, estimates, &error),
                     MDNMF_ERR_ARGUMENT);
    assert_non_null(strstr(error.message, "500 Hz"));
    free(estimates[0]), free(estimates[1]), free(recording), free(at_model);
    mdnmf_model_destroy(model);
    free_corpus(&c);
}

/* Re-learning the noise keeps the speech basis and moves the noise's. */
static void test_relearn_noise_keeps_the_speech_basis(void **state)
{
    (void)state;
    corpus c = make_corpus();
    mdnmf_model *model = train_semi(&c);
    int64_t m = 0, atoms = 0;
    mdnmf_model_shape(model, &m, &atoms);
    float *before = test_copy(mdnmf_model_basis(model), m * atoms);
    mdnmf_denoiser *denoiser = mdnmf_denoiser_create(model, NULL);
    assert_non_null(denoiser);
    /* New noise: louder and at another rate for one of the recordings. */
    float *louder = test_copy(c.noise[0], c.lengths[0]);
    for (int64_t i = 0; i < c.lengths[0]; i++)
        louder[i] = 2.0f * louder[i] * louder[i];
    const float *samples[2] = {louder, c.noisy[1]};
    const int rates[2] = {RATE, RATE};
    mdnmf_signals recordings = {.samples = samples, .lengths = c.lengths, .sample_rates = rates, .count = 2};
    mdnmf_error error;
    assert_int_equal(mdnmf_denoiser_relearn_noise(denoiser, &recordings, &error), MDNMF_OK);
    const float *after = mdnmf_model_basis(model);
    int64_t speech_atoms = mdnmf_model_components(model)[0];
    assert_memory_equal(after, before, (size_t)(m * speech_atoms) * sizeof(float));
    assert_memory_not_equal(after + m * speech_atoms, before + m * speech_atoms,
                            (size_t)(m * (atoms - speech_atoms)) * sizeof(float));
    mdnmf_signals none = {.samples = NULL, .lengths = NULL, .count = 0};
    assert_int_equal(mdnmf_denoiser_relearn_noise(denoiser, &none, &error), MDNMF_ERR_SHAPE);
    mdnmf_denoiser_destroy(denoiser);
    free(before), free(louder);
    mdnmf_model_destroy(model);
    free_corpus(&c);
}

/* A model without an audio front end, or of one source, makes no denoiser. */
static void test_denoiser_needs_a_front_end(void **state)
{
    (void)state;
    test_rng r = test_rng_make(3);
    float *U = test_random_matrix(&r, 33, 20, 0.0, 1.0);
    mdnmf_params p = test_params(2, 2);
    mdnmf_model *model = mdnmf_model_create(&p, NULL);
    assert_int_equal(mdnmf_fit_std(model, U, 33, 20, NULL), MDNMF_OK);
    mdnmf_error error;
    assert_null(mdnmf_denoiser_create(model, &error));
    assert_int_equal(error.status, MDNMF_ERR_STATE);
    assert_non_null(strstr(error.message, "audio front end"));
    mdnmf_audio_params audio = {
        .sample_rate = RATE, .n_fft = N_FFT, .hop_length = 16, .win_length = N_FFT};
    assert_int_equal(mdnmf_model_set_audio(model, &audio, NULL), MDNMF_OK);
    assert_null(mdnmf_denoiser_create(model, &error));
    assert_non_null(strstr(error.message, "two or more sources"));
    float x[100] = {1.0f}, *out[2] = {x, x};
    assert_int_equal(mdnmf_separate_signal(model, x, 100, 0, out, NULL), MDNMF_ERR_STATE);
    mdnmf_denoiser_destroy(NULL);
    mdnmf_model_destroy(model);
    free(U);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mix_hits_the_snr),
        cmocka_unit_test(test_peak_and_normalisation),
        cmocka_unit_test(test_median_and_mean),
        cmocka_unit_test(test_mean_over_sources),
        cmocka_unit_test(test_enum_names_round_trip),
        cmocka_unit_test(test_fit_from_signals_equals_fit_from_frames),
        cmocka_unit_test(test_separate_signal_equals_the_chain),
        cmocka_unit_test(test_power_features_with_context),
        cmocka_unit_test(test_another_rate_comes_back_at_its_rate),
        cmocka_unit_test(test_relearn_noise_keeps_the_speech_basis),
        cmocka_unit_test(test_denoiser_needs_a_front_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
