/* The STFT object: settings and their refusals, the forward transform
 * against a naive DFT computed here in double, reconstruction, librosa's
 * frame-count and trimming rules, bad input, and concurrent use of
 * distinct objects (FFTW planning is serialised by the library). */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mdnmf.h"
#include "test_util.h"

#define PI 3.14159265358979323846

static mdnmf_stft *make_stft(int n_fft, int hop, int win)
{
    mdnmf_error error = {.status = -1};
    mdnmf_stft *stft = mdnmf_stft_create(n_fft, hop, win, &error);
    assert_non_null(stft);
    assert_int_equal(error.status, MDNMF_OK);
    assert_string_equal(error.message, "");
    return stft;
}

static float *random_signal(uint64_t seed, int64_t length)
{
    test_rng rng = test_rng_make(seed);
    return test_random_matrix(&rng, length, 1, -1.0, 1.0);
}

static void test_refused_settings(void **state)
{
    mdnmf_error error;
    (void)state;
    static const struct {
        int n_fft, hop, win;
    } bad[] = {
        {0, 0, 0}, {1, 1, 1}, {255, 64, 0}, {-2, 1, 0}, {1 << 25, 0, 0},
        {256, -1, 0}, {256, 0, 257}, {256, 0, -1}, {2, 0, 0}, {256, 0, 3},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        error.status = MDNMF_OK;
        mdnmf_stft *stft = mdnmf_stft_create(bad[i].n_fft, bad[i].hop, bad[i].win, &error);
        assert_null(stft);
        assert_int_equal(error.status, MDNMF_ERR_ARGUMENT);
        assert_true(strlen(error.message) > 0);
    }
    /* A NULL error is allowed. */
    assert_null(mdnmf_stft_create(3, 1, 1, NULL));
    mdnmf_stft_destroy(NULL);
}

static void test_defaults_and_sizes(void **state)
{
    (void)state;
    mdnmf_stft *stft = make_stft(512, 0, 0);
    assert_int_equal(mdnmf_stft_n_fft(stft), 512);
    assert_int_equal(mdnmf_stft_win_length(stft), 512);
    assert_int_equal(mdnmf_stft_hop_length(stft), 128); /* librosa: win_length / 4 */
    assert_int_equal(mdnmf_stft_bins(stft), 257);
    assert_int_equal(mdnmf_stft_frames(stft, 0), 1);
    assert_int_equal(mdnmf_stft_frames(stft, 127), 1);
    assert_int_equal(mdnmf_stft_frames(stft, 128), 2);
    assert_int_equal(mdnmf_stft_frames(stft, 16000), 126);
    mdnmf_stft_destroy(stft);
    stft = make_stft(256, 0, 200);
    assert_int_equal(mdnmf_stft_hop_length(stft), 50);
    mdnmf_stft_destroy(stft);
}

/* Z(f, t) = Σ_k w[k] x[t*hop + k - n_fft/2] e^{-2πi f k / n_fft}, with the
 * periodic Hann window of `win` samples at offset (n_fft - win) / 2. */
static void naive_stft_bin(const float *x, int64_t length, int n_fft, int hop, int win,
                           int64_t t, int f, double *re, double *im)
{
    int offset = (n_fft - win) / 2;
    *re = *im = 0.0;
    for (int k = 0; k < n_fft; k++) {
        int64_t p = t * hop + k - n_fft / 2;
        int j = k - offset;
        if (p < 0 || p >= length || j < 0 || j >= win)
            continue;
        double w = 0.5 - 0.5 * cos(2.0 * PI * j / win);
        double angle = -2.0 * PI * (double)f * k / n_fft;
        *re += w * x[p] * cos(angle);
        *im += w * x[p] * sin(angle);
    }
}

static void test_forward_matches_naive_dft(void **state)
{
    mdnmf_error error;
    (void)state;
    static const struct {
        int n_fft, hop, win;
        int64_t length;
    } cases[] = {{64, 16, 64, 300}, {64, 16, 47, 300}, {32, 7, 20, 101}, {16, 4, 16, 1},
                 {128, 100, 128, 90}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int n_fft = cases[c].n_fft, hop = cases[c].hop, win = cases[c].win;
        int64_t length = cases[c].length;
        float *x = random_signal(c + 1, length);
        mdnmf_stft *stft = make_stft(n_fft, hop, win);
        int64_t m = mdnmf_stft_bins(stft), frames = mdnmf_stft_frames(stft, length);
        float *z = malloc((size_t)(2 * m * frames) * sizeof *z);
        float *magnitude = malloc((size_t)(m * frames) * sizeof *magnitude);
        float *phase = malloc((size_t)(m * frames) * sizeof *phase);
        assert_int_equal(mdnmf_stft_forward_complex(stft, x, length, z, &error), MDNMF_OK);
        assert_int_equal(mdnmf_stft_forward(stft, x, length, magnitude, phase, &error), MDNMF_OK);
        assert_string_equal(error.message, "");
        for (int64_t t = 0; t < frames; t++) {
            for (int f = 0; f < m; f++) {
                double re, im;
                naive_stft_bin(x, length, n_fft, hop, win, t, f, &re, &im);
                int64_t at = t * m + f;
                assert_true(fabs(z[2 * at] - re) < 1e-5 * n_fft);
                assert_true(fabs(z[2 * at + 1] - im) < 1e-5 * n_fft);
                assert_true(fabs(magnitude[at] - hypot(re, im)) < 1e-5 * n_fft);
                double back_re = magnitude[at] * cos(phase[at]);
                double back_im = magnitude[at] * sin(phase[at]);
                assert_true(fabs(back_re - re) < 1e-5 * n_fft);
                assert_true(fabs(back_im - im) < 1e-5 * n_fft);
            }
        }
        free(x), free(z), free(magnitude), free(phase);
        mdnmf_stft_destroy(stft);
    }
}

/* Hann windows at hops up to n_fft/2 overlap everywhere: x comes back. */
static void test_reconstruction(void **state)
{
    (void)state;
    static const struct {
        int n_fft, hop, win;
        int64_t length;
    } cases[] = {{512, 256, 512, 4000}, {256, 64, 0, 999}, {64, 16, 40, 1}, {64, 16, 40, 33},
                 {32, 5, 32, 500}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int64_t length = cases[c].length;
        float *x = random_signal(100 + c, length);
        mdnmf_stft *stft = make_stft(cases[c].n_fft, cases[c].hop, cases[c].win);
        int64_t m = mdnmf_stft_bins(stft), frames = mdnmf_stft_frames(stft, length);
        float *z = malloc((size_t)(2 * m * frames) * sizeof *z);
        float *magnitude = malloc((size_t)(m * frames) * sizeof *magnitude);
        float *phase = malloc((size_t)(m * frames) * sizeof *phase);
        float *y = malloc((size_t)length * sizeof *y);
        assert_int_equal(mdnmf_stft_forward_complex(stft, x, length, z, NULL), MDNMF_OK);
        assert_int_equal(mdnmf_stft_inverse_complex(stft, z, frames, y, length, NULL), MDNMF_OK);
        assert_true(test_max_difference(x, y, length) < 1e-5);
        assert_int_equal(mdnmf_stft_forward(stft, x, length, magnitude, phase, NULL), MDNMF_OK);
        assert_int_equal(mdnmf_stft_inverse(stft, magnitude, phase, frames, y, length, NULL),
                         MDNMF_OK);
        assert_true(test_max_difference(x, y, length) < 1e-5);
        free(x), free(z), free(magnitude), free(phase), free(y);
        mdnmf_stft_destroy(stft);
    }
}

/* Asking for more samples than the frames cover gives zeros there; asking
 * for fewer uses only the frames that reach them (librosa's rule). */
static void test_length_rules(void **state)
{
    (void)state;
    const int64_t length = 1000;
    float *x = random_signal(7, length);
    mdnmf_stft *stft = make_stft(64, 16, 0);
    int64_t m = mdnmf_stft_bins(stft), frames = mdnmf_stft_frames(stft, length);
    float *z = malloc((size_t)(2 * m * frames) * sizeof *z);
    float *y = malloc((size_t)(2 * length) * sizeof *y);
    assert_int_equal(mdnmf_stft_forward_complex(stft, x, length, z, NULL), MDNMF_OK);
    /* Longer: the signal, then what the last frames' tails hold, then 0. */
    assert_int_equal(mdnmf_stft_inverse_complex(stft, z, frames, y, 2 * length, NULL), MDNMF_OK);
    assert_true(test_max_difference(x, y, length) < 1e-5);
    for (int64_t i = length + 64; i < 2 * length; i++)
        assert_true(y[i] == 0.0f);
    /* Shorter: a prefix of the signal. */
    assert_int_equal(mdnmf_stft_inverse_complex(stft, z, frames, y, 100, NULL), MDNMF_OK);
    assert_true(test_max_difference(x, y, 100) < 1e-5);
    /* Half the frames: the first half is back, beyond the last frame is 0. */
    int64_t half = frames / 2;
    assert_int_equal(mdnmf_stft_inverse_complex(stft, z, half, y, length, NULL), MDNMF_OK);
    assert_true(test_max_difference(x, y, (half - 1) * 16) < 1e-5);
    for (int64_t i = (half - 1) * 16 + 32; i < length; i++)
        assert_true(y[i] == 0.0f);
    free(x), free(z), free(y);
    mdnmf_stft_destroy(stft);
}

static void test_bad_input(void **state)
{
    mdnmf_error error;
    (void)state;
    mdnmf_stft *stft = make_stft(64, 16, 0);
    float x[100] = {0}, z[2 * 33 * 7], y[100];
    memset(z, 0, sizeof z);
    assert_int_equal(mdnmf_stft_forward_complex(NULL, x, 100, z, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_stft_forward_complex(stft, NULL, 100, z, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_stft_forward(stft, x, 100, NULL, NULL, &error), MDNMF_ERR_ARGUMENT);
    assert_int_equal(mdnmf_stft_forward_complex(stft, x, 0, z, &error), MDNMF_ERR_SHAPE);
    assert_true(strlen(error.message) > 0);
    x[50] = NAN;
    assert_int_equal(mdnmf_stft_forward_complex(stft, x, 100, z, &error), MDNMF_ERR_DATA);
    x[50] = INFINITY;
    assert_int_equal(mdnmf_stft_forward(stft, x, 100, z, NULL, &error), MDNMF_ERR_DATA);
    assert_int_equal(mdnmf_stft_inverse_complex(stft, z, 0, y, 100, &error), MDNMF_ERR_SHAPE);
    assert_int_equal(mdnmf_stft_inverse_complex(stft, z, 7, y, 0, &error), MDNMF_ERR_SHAPE);
    assert_int_equal(mdnmf_stft_inverse(stft, z, NULL, 7, y, 100, &error), MDNMF_ERR_ARGUMENT);
    z[40] = NAN;
    assert_int_equal(mdnmf_stft_inverse_complex(stft, z, 7, y, 100, &error), MDNMF_ERR_DATA);
    assert_int_equal(mdnmf_stft_inverse(stft, z, z + 33, 3, y, 100, &error), MDNMF_ERR_DATA);
    /* A success clears the message. */
    z[40] = 0.0f;
    assert_int_equal(mdnmf_stft_inverse_complex(stft, z, 7, y, 100, &error), MDNMF_OK);
    assert_int_equal(error.status, MDNMF_OK);
    assert_string_equal(error.message, "");
    mdnmf_stft_destroy(stft);
}

/* Threads that each create, use and destroy their own objects (planning
 * concurrently) must all get the single-threaded result. */
enum { THREADS = 4, ROUNDS = 20, SIGNAL = 2000 };

typedef struct thread_job {
    const float *x;
    const float *expected;
    int64_t count;
    int failures;
} thread_job;

static void *transform_repeatedly(void *argument)
{
    thread_job *job = argument;
    float *z = malloc((size_t)job->count * sizeof *z);
    for (int r = 0; r < ROUNDS; r++) {
        mdnmf_stft *stft = mdnmf_stft_create(256, 64, 0, NULL);
        if (!stft || !z || mdnmf_stft_forward_complex(stft, job->x, SIGNAL, z, NULL) != MDNMF_OK ||
            memcmp(z, job->expected, (size_t)job->count * sizeof *z) != 0)
            job->failures++;
        mdnmf_stft_destroy(stft);
    }
    free(z);
    return NULL;
}

static void test_concurrent_objects(void **state)
{
    (void)state;
    float *x = random_signal(99, SIGNAL);
    mdnmf_stft *stft = make_stft(256, 64, 0);
    int64_t count = 2 * mdnmf_stft_bins(stft) * mdnmf_stft_frames(stft, SIGNAL);
    float *expected = malloc((size_t)count * sizeof *expected);
    assert_int_equal(mdnmf_stft_forward_complex(stft, x, SIGNAL, expected, NULL), MDNMF_OK);
    mdnmf_stft_destroy(stft);
    pthread_t threads[THREADS];
    thread_job jobs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (thread_job){x, expected, count, 0};
        assert_int_equal(pthread_create(&threads[i], NULL, transform_repeatedly, &jobs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(jobs[i].failures, 0);
    }
    free(x), free(expected);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_settings),
        cmocka_unit_test(test_defaults_and_sizes),
        cmocka_unit_test(test_forward_matches_naive_dft),
        cmocka_unit_test(test_reconstruction),
        cmocka_unit_test(test_length_rules),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_concurrent_objects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
