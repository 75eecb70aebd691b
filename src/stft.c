/* Short-time Fourier transform with librosa's conventions (SPEC §7), on
 * FFTW's single-precision real transforms.  The plans and their buffers are
 * made once per object and reused by every call. */
#include "fft_lock.h"
#include "internal.h"

#include <fftw3.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define STFT_MAX_N_FFT (1 << 24)
#define STFT_PI 3.14159265358979323846

struct mdnmf_stft {
    int n_fft, hop, win_length;
    int64_t bins;        /* n_fft/2 + 1 */
    float *window;       /* n_fft: periodic Hann of win_length, centred, zeros around */
    double *steady_norm; /* hop: the overlap-add normaliser away from the ends, by q mod hop */
    float *frame;        /* n_fft real samples (FFTW-aligned) */
    fftwf_complex *bin;  /* bins complex values (FFTW-aligned) */
    fftwf_plan forward;  /* frame -> bin */
    fftwf_plan inverse;  /* bin -> frame (overwrites bin) */
    char error[256];
};

static pthread_mutex_t planner_mutex = PTHREAD_MUTEX_INITIALIZER;

void fft_planner_lock(void)
{
    pthread_mutex_lock(&planner_mutex);
}

void fft_planner_unlock(void)
{
    pthread_mutex_unlock(&planner_mutex);
}

static int stft_fail(mdnmf_stft *stft, int status, const char *text)
{
    snprintf(stft->error, sizeof stft->error, "%s", text);
    return status;
}

/* librosa's get_window('hann', win_length, fftbins=True) is the periodic Hann
 * window 0.5 - 0.5 cos(2πk/win_length); pad_center puts it at offset
 * (n_fft - win_length) / 2 of an n_fft frame. */
static void fill_window(float *window, int n_fft, int win_length)
{
    int offset = (n_fft - win_length) / 2;
    for (int k = 0; k < n_fft; k++)
        window[k] = 0.0f;
    for (int k = 0; k < win_length; k++)
        window[offset + k] = (float)(0.5 - 0.5 * cos(2.0 * STFT_PI * k / win_length));
}

static const char *settings_problem(int n_fft, int hop, int win_length)
{
    if (n_fft < 2 || n_fft > STFT_MAX_N_FFT || n_fft % 2 != 0)
        return "n_fft must be even and in 2..2^24";
    if (win_length < 0 || win_length > n_fft)
        return "win_length must be in 1..n_fft (0 = n_fft)";
    if (hop < 0)
        return "hop_length must be >= 1 (0 = win_length / 4)";
    if (hop == 0 && (win_length ? win_length : n_fft) < 4)
        return "hop_length must be given when win_length / 4 is 0";
    return NULL;
}

/* Σ_t window²[q - t*hop] over the used frames that cover position q of the
 * padded signal: the normaliser of the overlap-add at q. */
static double window_sum_square(const mdnmf_stft *stft, int64_t q, int64_t frames)
{
    int64_t first = q - stft->n_fft + 1 > 0 ? (q - stft->n_fft + stft->hop) / stft->hop : 0;
    int64_t last = q / stft->hop < frames - 1 ? q / stft->hop : frames - 1;
    double sum = 0.0;
    for (int64_t t = first; t <= last; t++) {
        double w = stft->window[q - t * stft->hop];
        sum += w * w;
    }
    return sum;
}

/* Where every frame that can cover position q exists (q >= n_fft - 1 and
 * q < frames * hop), window_sum_square depends only on q mod hop: the same
 * terms in the same order.  Computed once here instead of per sample. */
static void fill_steady_norm(mdnmf_stft *stft)
{
    int64_t base = ((int64_t)stft->n_fft / stft->hop + 1) * stft->hop;
    for (int64_t r = 0; r < stft->hop; r++)
        stft->steady_norm[r] = window_sum_square(stft, base + r, INT64_MAX);
}

static int make_plans(mdnmf_stft *stft)
{
    fft_planner_lock();
    stft->forward = fftwf_plan_dft_r2c_1d(stft->n_fft, stft->frame, stft->bin, FFTW_ESTIMATE);
    stft->inverse = fftwf_plan_dft_c2r_1d(stft->n_fft, stft->bin, stft->frame, FFTW_ESTIMATE);
    fft_planner_unlock();
    return stft->forward && stft->inverse ? MDNMF_OK : MDNMF_ERR_MEMORY;
}

mdnmf_stft *mdnmf_stft_create(int n_fft, int hop_length, int win_length, mdnmf_error *error)
{
    const char *problem = settings_problem(n_fft, hop_length, win_length);
    if (problem) {
        error_fail(error, MDNMF_ERR_ARGUMENT, "STFT: %s", problem);
        return NULL;
    }
    mdnmf_stft *stft = calloc(1, sizeof *stft);
    int result = MDNMF_ERR_MEMORY;
    if (stft) {
        stft->n_fft = n_fft;
        stft->win_length = win_length ? win_length : n_fft;
        stft->hop = hop_length ? hop_length : stft->win_length / 4;
        stft->bins = n_fft / 2 + 1;
        stft->window = malloc((size_t)n_fft * sizeof *stft->window);
        stft->steady_norm = malloc((size_t)stft->hop * sizeof *stft->steady_norm);
        stft->frame = fftwf_malloc((size_t)n_fft * sizeof *stft->frame);
        stft->bin = fftwf_malloc((size_t)stft->bins * sizeof *stft->bin);
        if (stft->window && stft->steady_norm && stft->frame && stft->bin) {
            fill_window(stft->window, n_fft, stft->win_length);
            fill_steady_norm(stft);
            result = make_plans(stft);
        }
    }
    if (result != MDNMF_OK) {
        mdnmf_stft_destroy(stft);
        error_fail(error, result, "STFT: out of memory for n_fft %d", n_fft);
        return NULL;
    }
    error_ok(error);
    return stft;
}

void mdnmf_stft_destroy(mdnmf_stft *stft)
{
    if (!stft)
        return;
    fft_planner_lock();
    if (stft->forward)
        fftwf_destroy_plan(stft->forward);
    if (stft->inverse)
        fftwf_destroy_plan(stft->inverse);
    fft_planner_unlock();
    fftwf_free(stft->frame);
    fftwf_free(stft->bin);
    free(stft->window);
    free(stft->steady_norm);
    free(stft);
}

/* The outcome of a call on `stft` to *error (its message is in stft->error). */
static int stft_report(const mdnmf_stft *stft, int status, mdnmf_error *error)
{
    return error_report(error, status, stft ? stft->error : "STFT: the object is NULL");
}

int mdnmf_stft_n_fft(const mdnmf_stft *stft)
{
    return stft ? stft->n_fft : 0;
}

int mdnmf_stft_hop_length(const mdnmf_stft *stft)
{
    return stft ? stft->hop : 0;
}

int mdnmf_stft_win_length(const mdnmf_stft *stft)
{
    return stft ? stft->win_length : 0;
}

int64_t mdnmf_stft_bins(const mdnmf_stft *stft)
{
    return stft ? stft->bins : 0;
}

/* With n_fft/2 zeros at both ends, (length + n_fft - n_fft) / hop + 1 frames. */
int64_t mdnmf_stft_frames(const mdnmf_stft *stft, int64_t length)
{
    if (!stft || length < 0)
        return 0;
    return 1 + length / stft->hop;
}

static int check_signal(mdnmf_stft *stft, const float *signal, int64_t length)
{
    if (length < 1)
        return stft_fail(stft, MDNMF_ERR_SHAPE, "STFT: the signal has no samples");
    if (length > INT64_MAX / 4 - STFT_MAX_N_FFT)
        return stft_fail(stft, MDNMF_ERR_SHAPE, "STFT: the signal is too long");
    for (int64_t i = 0; i < length; i++) {
        if (!isfinite(signal[i]))
            return stft_fail(stft, MDNMF_ERR_DATA, "STFT: the signal has NaN or infinite samples");
    }
    return MDNMF_OK;
}

/* Frame t of the centre-padded signal, windowed, into stft->frame:
 * sample k is x[t*hop + k - n_fft/2] (0 outside the signal) times window[k]. */
static void load_frame(mdnmf_stft *stft, const float *signal, int64_t length, int64_t t)
{
    int64_t start = t * stft->hop - stft->n_fft / 2;
    for (int k = 0; k < stft->n_fft; k++) {
        int64_t p = start + k;
        stft->frame[k] = p >= 0 && p < length ? signal[p] * stft->window[k] : 0.0f;
    }
}

/* Z(f, t) for every frame, handed to `store` bin array by bin array. */
typedef void (*store_bins)(fftwf_complex *bins, int64_t count, int64_t t, float *a,
                           float *b);

static int forward_frames(mdnmf_stft *stft, const float *signal, int64_t length, store_bins store,
                          float *a, float *b)
{
    if (!stft)
        return MDNMF_ERR_ARGUMENT;
    if (!signal || !a)
        return stft_fail(stft, MDNMF_ERR_ARGUMENT, "STFT: a buffer is NULL");
    int status = check_signal(stft, signal, length);
    if (status)
        return status;
    int64_t frames = mdnmf_stft_frames(stft, length);
    for (int64_t t = 0; t < frames; t++) {
        load_frame(stft, signal, length, t);
        fftwf_execute(stft->forward);
        store(stft->bin, stft->bins, t, a, b);
    }
    stft->error[0] = '\0';
    return MDNMF_OK;
}

/* |Z| as sqrt(re² + im²) in double: the squares of floats are exact there
 * and cannot overflow, so this is hypot's value rounded to float, at a
 * fraction of hypot's cost (hypot alone was 3 % of `mdnmf denoise apply`). */
static void store_polar(fftwf_complex *bins, int64_t count, int64_t t, float *magnitude,
                        float *phase)
{
    float *mag = magnitude + t * count;
    for (int64_t f = 0; f < count; f++) {
        double re = bins[f][0], im = bins[f][1];
        mag[f] = (float)sqrt(re * re + im * im);
    }
    if (!phase)
        return;
    for (int64_t f = 0; f < count; f++)
        phase[t * count + f] = (float)atan2(bins[f][1], bins[f][0]);
}

static void store_complex(fftwf_complex *bins, int64_t count, int64_t t, float *spectrum,
                          float *unused)
{
    (void)unused;
    memcpy(spectrum + 2 * t * count, bins, (size_t)count * sizeof *bins);
}

int mdnmf_stft_forward(mdnmf_stft *stft, const float *signal, int64_t length, float *magnitude,
                       float *phase, mdnmf_error *error)
{
    int status = forward_frames(stft, signal, length, store_polar, magnitude, phase);
    return stft_report(stft, status, error);
}

int mdnmf_stft_forward_complex(mdnmf_stft *stft, const float *signal, int64_t length,
                               float *spectrum, mdnmf_error *error)
{
    int status = forward_frames(stft, signal, length, store_complex, spectrum, NULL);
    return stft_report(stft, status, error);
}

/* Loads frame t's bins into stft->bin, or reports non-finite input. */
typedef int (*load_bins)(mdnmf_stft *stft, const float *a, const float *b, int64_t t);

static int load_polar(mdnmf_stft *stft, const float *magnitude, const float *phase, int64_t t)
{
    const float *mag = magnitude + t * stft->bins, *arg = phase + t * stft->bins;
    for (int64_t f = 0; f < stft->bins; f++) {
        if (!isfinite(mag[f]) || !isfinite(arg[f]))
            return -1;
        stft->bin[f][0] = (float)(mag[f] * cos((double)arg[f]));
        stft->bin[f][1] = (float)(mag[f] * sin((double)arg[f]));
    }
    return 0;
}

static int load_complex(mdnmf_stft *stft, const float *spectrum, const float *unused, int64_t t)
{
    (void)unused;
    const float *z = spectrum + 2 * t * stft->bins;
    for (int64_t f = 0; f < 2 * stft->bins; f++) {
        if (!isfinite(z[f]))
            return -1;
    }
    memcpy(stft->bin, z, (size_t)stft->bins * sizeof *stft->bin);
    return 0;
}

/* librosa's istft(length=L): y = Σ_t shift_t(window ⊙ irfft(Z_t)) over the
 * first min(frames, ceil((L + n_fft) / hop)) frames, divided by the window
 * sum-square where that exceeds float32's tiny, then y[n_fft/2 :][:L]. */
static int inverse_frames(mdnmf_stft *stft, load_bins load, const float *a, const float *b,
                          int64_t frames, float *signal, int64_t length)
{
    if (!stft)
        return MDNMF_ERR_ARGUMENT;
    if (!a || !b || !signal)
        return stft_fail(stft, MDNMF_ERR_ARGUMENT, "inverse STFT: a buffer is NULL");
    if (frames < 1 || length < 1)
        return stft_fail(stft, MDNMF_ERR_SHAPE, "inverse STFT: no frames or no samples asked");
    if (length > INT64_MAX / 4 - STFT_MAX_N_FFT)
        return stft_fail(stft, MDNMF_ERR_SHAPE, "inverse STFT: the signal is too long");
    int64_t half = stft->n_fft / 2;
    int64_t covering = (length + 2 * half + stft->hop - 1) / stft->hop;
    int64_t used = frames < covering ? frames : covering;
    memset(signal, 0, (size_t)length * sizeof *signal);
    const float scale = 1.0f / (float)stft->n_fft; /* FFTW's c2r is unnormalised */
    for (int64_t t = 0; t < used; t++) {
        if (load(stft, a, b, t))
            return stft_fail(stft, MDNMF_ERR_DATA, "inverse STFT: NaN or infinite values");
        fftwf_execute(stft->inverse);
        /* The part of the frame inside the signal: k with 0 <= start + k < length. */
        int64_t start = t * stft->hop - half;
        int64_t first = start < 0 ? -start : 0;
        int64_t end = length - start < stft->n_fft ? length - start : stft->n_fft;
        for (int64_t k = first; k < end; k++)
            signal[start + k] += stft->frame[k] * scale * stft->window[k];
    }
    int64_t steady_from = stft->n_fft - 1, steady_to = used * stft->hop; /* in q = p + half */
    for (int64_t p = 0; p < length; p++) {
        int64_t q = p + half;
        double norm = q >= steady_from && q < steady_to ? stft->steady_norm[q % stft->hop]
                                                         : window_sum_square(stft, q, used);
        if (norm > FLT_MIN)
            signal[p] = (float)(signal[p] / norm);
    }
    stft->error[0] = '\0';
    return MDNMF_OK;
}

int mdnmf_stft_inverse(mdnmf_stft *stft, const float *magnitude, const float *phase,
                       int64_t frames, float *signal, int64_t length, mdnmf_error *error)
{
    int status = inverse_frames(stft, load_polar, magnitude, phase, frames, signal, length);
    return stft_report(stft, status, error);
}

int mdnmf_stft_inverse_complex(mdnmf_stft *stft, const float *spectrum, int64_t frames,
                               float *signal, int64_t length, mdnmf_error *error)
{
    int status = inverse_frames(stft, load_complex, spectrum, spectrum, frames, signal, length);
    return stft_report(stft, status, error);
}

/* ------------------------------------------------------------ one frame at a time */

const float *stft_window(const mdnmf_stft *stft)
{
    return stft->window;
}

float *stft_frame_buffer(mdnmf_stft *stft)
{
    return stft->frame;
}

float *stft_bins_buffer(mdnmf_stft *stft)
{
    return (float *)stft->bin;
}

void stft_execute_forward(mdnmf_stft *stft)
{
    fftwf_execute(stft->forward);
}

void stft_execute_inverse(mdnmf_stft *stft)
{
    fftwf_execute(stft->inverse);
}

/* Every frame t >= 0 exists: from q = n_fft - 1 on, the steady value. */
double stft_open_norm(const mdnmf_stft *stft, int64_t q)
{
    return q >= stft->n_fft - 1 ? stft->steady_norm[q % stft->hop]
                                : window_sum_square(stft, q, INT64_MAX);
}
