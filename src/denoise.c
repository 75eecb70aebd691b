/* Separators on signals (SPEC §7): magnitude frames of recordings as
 * training material, a separator fitted from signals with its audio front
 * end, and recordings separated into one signal per source. */
#include "error.h"
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mdnmf_denoiser {
    mdnmf_model *model;       /* borrowed */
    mdnmf_stft *stft;         /* the model's front end */
    int rate;                 /* the model's sample rate */
    int sources;
    int adapt_epochs, adapt_fresh; /* mdnmf_denoiser_set_adaptation's; 0 = none */
    int smoothing;            /* mdnmf_denoiser_set_noise_smoothing's frames; 0 = none */
    /* Work buffers, grown on demand and kept for the next call. */
    int64_t frame_capacity;   /* frames the spectrogram buffers hold */
    const mdnmf_audio_params *audio; /* the model's front end */
    float *magnitude;         /* m x frames: |Z| of the mixture */
    float *power;             /* m x frames: |Z|², with power features */
    float *stacked;           /* rows x frames: the stacked features, with context */
    float *part;              /* m x frames: one source's per-frame estimate, with context */
    float *mixture;           /* 2 x m x frames: Z of the mixture */
    float *spectrum;          /* 2 x m x frames: one source's Z */
    float *parts[MDNMF_MAX_SOURCES]; /* rows x frames: separated features */
    int64_t sample_capacity;  /* samples of the signals at the model's rate */
    float *signal;            /* the input at the model's rate */
    float *estimates[MDNMF_MAX_SOURCES]; /* the sources at the model's rate */
};

/* ------------------------------------------------------------ resampling */

/* `in` (n samples at in_rate) at out_rate in exactly `length` samples:
 * the resampled signal trimmed or zero-padded (librosa's fix_length). */
static int resample_exactly(const float *in, int64_t n, int in_rate, int out_rate, float *out,
                            int64_t length, mdnmf_error *error)
{
    int64_t produced = mdnmf_resampled_length(n, in_rate, out_rate);
    if (produced <= 0)
        return error_fail(error, MDNMF_ERR_ARGUMENT,
                          "cannot convert %d Hz to %d Hz (rates must lie in %d..%d Hz)",
                          in_rate, out_rate, MDNMF_AUDIO_MIN_RATE, MDNMF_AUDIO_MAX_RATE);
    float *buffer = produced == length ? out : malloc((size_t)produced * sizeof *buffer);
    if (!buffer)
        return error_fail(error, MDNMF_ERR_MEMORY, "out of memory resampling %lld samples",
                          (long long)n);
    mdnmf_error resampling;
    int status = mdnmf_resample(in, n, in_rate, out_rate, buffer, &resampling);
    if (status == MDNMF_OK && buffer != out) {
        int64_t kept = produced < length ? produced : length;
        memcpy(out, buffer, (size_t)kept * sizeof *out);
        memset(out + kept, 0, (size_t)(length - kept) * sizeof *out);
    }
    if (buffer != out)
        free(buffer);
    if (status != MDNMF_OK)
        return error_fail(error, status, "cannot convert %d Hz to %d Hz: %s", in_rate, out_rate,
                          resampling.message);
    return MDNMF_OK;
}

/* ------------------------------------------------------------ frames */

static int signal_rate(const mdnmf_signals *signals, int64_t k, int rate)
{
    return signals->sample_rates && signals->sample_rates[k] > 0 ? signals->sample_rates[k]
                                                                   : rate;
}

/* Samples of signal k at `rate`; -1 when its rate cannot be converted. */
static int64_t length_at(const mdnmf_signals *signals, int64_t k, int rate)
{
    int from = signal_rate(signals, k, rate);
    return from == rate ? signals->lengths[k]
                        : mdnmf_resampled_length(signals->lengths[k], from, rate);
}

static int check_signals(const mdnmf_signals *signals, const char *what, int rate,
                         mdnmf_error *error)
{
    if (signals->count < 0 || (signals->count > 0 && (!signals->samples || !signals->lengths)))
        return error_fail(error, MDNMF_ERR_ARGUMENT, "%s: count < 0 or samples/lengths NULL",
                          what);
    for (int64_t k = 0; k < signals->count; k++) {
        if (!signals->samples[k] || signals->lengths[k] < 1)
            return error_fail(error, MDNMF_ERR_SHAPE, "%s: signal %lld has no samples", what,
                              (long long)k);
        if (length_at(signals, k, rate) < 1)
            return error_fail(error, MDNMF_ERR_ARGUMENT,
                              "%s: signal %lld: cannot convert %d Hz to %d Hz (rates must lie "
                              "in %d..%d Hz)", what, (long long)k, signal_rate(signals, k, rate),
                              rate, MDNMF_AUDIO_MIN_RATE, MDNMF_AUDIO_MAX_RATE);
    }
    return MDNMF_OK;
}

/* The |STFT| frames of signal k (at `rate`) into `out`, or with `features`
 * those features of them (rows x frames). */
static int signal_frames(mdnmf_stft *stft, int rate, const mdnmf_audio_params *features,
                         const mdnmf_signals *signals, int64_t k, float *out, const char *what,
                         mdnmf_error *error)
{
    const float *samples = signals->samples[k];
    int64_t length = length_at(signals, k, rate);
    float *converted = NULL, *magnitudes = NULL;
    int from = signal_rate(signals, k, rate);
    int64_t bins = mdnmf_stft_bins(stft), frames = mdnmf_stft_frames(stft, length);
    int raw = !features || (!features->power && !features->context);
    if (!raw)
        magnitudes = malloc((size_t)(bins * frames) * sizeof *magnitudes);
    if (from != rate)
        converted = malloc((size_t)length * sizeof *converted);
    if ((!raw && !magnitudes) || (from != rate && !converted)) {
        free(converted), free(magnitudes);
        return error_fail(error, MDNMF_ERR_MEMORY, "%s: out of memory for signal %lld", what,
                          (long long)k);
    }
    int status = MDNMF_OK;
    if (converted) {
        status = resample_exactly(samples, signals->lengths[k], from, rate, converted, length,
                                  error);
        samples = converted;
    }
    mdnmf_error transform;
    if (!status && (status = mdnmf_stft_forward(stft, samples, length, raw ? out : magnitudes,
                                                NULL, &transform)))
        error_fail(error, status, "%s: signal %lld: %s", what, (long long)k, transform.message);
    if (!status && !raw)
        features_of_magnitudes(features, magnitudes, bins, frames, out);
    free(converted), free(magnitudes);
    return status;
}

int mdnmf_signals_magnitudes(mdnmf_stft *stft, int sample_rate, const mdnmf_signals *signals,
                             float *magnitudes, int64_t *frames, mdnmf_error *error)
{
    if (!stft || !signals || !frames)
        return error_fail(error, MDNMF_ERR_ARGUMENT, "magnitudes: stft, signals or frames is "
                          "NULL");
    if (signals->sample_rates && (sample_rate < MDNMF_AUDIO_MIN_RATE ||
                                  sample_rate > MDNMF_AUDIO_MAX_RATE))
        return error_fail(error, MDNMF_ERR_ARGUMENT,
                          "magnitudes: sample rate %d Hz is outside %d..%d Hz", sample_rate,
                          MDNMF_AUDIO_MIN_RATE, MDNMF_AUDIO_MAX_RATE);
    int status = check_signals(signals, "signals", sample_rate, error);
    if (status)
        return status;
    int64_t total = 0, m = mdnmf_stft_bins(stft);
    for (int64_t k = 0; k < signals->count; k++) {
        int64_t count = mdnmf_stft_frames(stft, length_at(signals, k, sample_rate));
        if (magnitudes && (status = signal_frames(stft, sample_rate, NULL, signals, k,
                                                  magnitudes + total * m, "signals", error)))
            return status;
        total += count;
    }
    *frames = total;
    return error_ok(error);
}

/* A group's features (`audio`) side by side, malloc'ed (NULL and 0 for no
 * signals). */
static int group_frames(mdnmf_stft *stft, const mdnmf_audio_params *audio,
                        const mdnmf_signals *signals, const char *what, float **out,
                        int64_t *frames, mdnmf_error *error)
{
    int rate = audio->sample_rate;
    *out = NULL;
    *frames = 0;
    if (signals->count == 0)
        return MDNMF_OK;
    int status = check_signals(signals, what, rate, error);
    int64_t total = 0, m = features_rows(audio, mdnmf_stft_bins(stft));
    for (int64_t k = 0; !status && k < signals->count; k++)
        total += mdnmf_stft_frames(stft, length_at(signals, k, rate));
    if (status)
        return status;
    *out = malloc((size_t)(total * m) * sizeof **out);
    if (!*out)
        return error_fail(error, MDNMF_ERR_MEMORY, "%s: out of memory for %lld spectrogram "
                          "frames", what, (long long)total);
    int64_t at = 0;
    for (int64_t k = 0; !status && k < signals->count; k++) {
        status = signal_frames(stft, rate, audio, signals, k, *out + at * m, what, error);
        at += mdnmf_stft_frames(stft, length_at(signals, k, rate));
    }
    if (status) {
        free(*out);
        *out = NULL;
        return status;
    }
    *frames = total;
    return MDNMF_OK;
}

/* ------------------------------------------------------------ training */

typedef struct signal_frames_set {
    float *U[MDNMF_MAX_SOURCES], *V, *U_sup[MDNMF_MAX_SOURCES], *V_sup;
} signal_frames_set;

static void frames_set_free(signal_frames_set *set)
{
    for (int s = 0; s < MDNMF_MAX_SOURCES; s++)
        free(set->U[s]), free(set->U_sup[s]);
    free(set->V), free(set->V_sup);
}

/* Row k of every paired group belongs to paired mixture k: equal counts
 * and lengths, so that frame j of each is the same instant. */
static int check_pairs(const mdnmf_signal_data *data, int sources, mdnmf_error *error)
{
    const mdnmf_signals *mix = &data->paired_mixtures;
    for (int s = 0; s < sources; s++) {
        const mdnmf_signals *clean = &data->paired_clean[s];
        if (clean->count == 0)
            continue;
        if (clean->count != mix->count)
            return error_fail(error, MDNMF_ERR_SHAPE, "paired source %d: %lld signals for "
                              "%lld paired mixtures", s, (long long)clean->count,
                              (long long)mix->count);
        for (int64_t k = 0; k < clean->count; k++)
            if (clean->lengths[k] != mix->lengths[k] ||
                signal_rate(clean, k, 0) != signal_rate(mix, k, 0))
                return error_fail(error, MDNMF_ERR_SHAPE, "paired source %d: signal %lld is "
                                  "not as long as its mixture (or at another rate)", s,
                                  (long long)k);
    }
    return MDNMF_OK;
}

/* Every group's frames into `set` and `x` (SPEC §7: the frames of all
 * training files side by side). */
static int frames_of_data(mdnmf_stft *stft, const mdnmf_audio_params *audio,
                          const mdnmf_signal_data *data, int sources, signal_frames_set *set,
                          mdnmf_separation_data *x, mdnmf_error *error)
{
    memset(x, 0, sizeof *x);
    x->m = features_rows(audio, mdnmf_stft_bins(stft));
    char what[48];
    int status = check_pairs(data, sources, error);
    for (int s = 0; s < sources && !status; s++) {
        snprintf(what, sizeof what, "source %d signals", s);
        status = group_frames(stft, audio, &data->clean[s], what, &set->U[s], &x->n[s], error);
        x->U[s] = set->U[s];
    }
    if (!status)
        status = group_frames(stft, audio, &data->mixtures, "mixture signals", &set->V, &x->n_V,
                              error);
    x->V = set->V;
    for (int s = 0; s < sources && !status; s++) {
        snprintf(what, sizeof what, "paired source %d signals", s);
        status = group_frames(stft, audio, &data->paired_clean[s], what, &set->U_sup[s],
                              &x->n_sup, error);
        x->U_sup[s] = set->U_sup[s];
    }
    if (!status)
        status = group_frames(stft, audio, &data->paired_mixtures, "paired mixture signals",
                              &set->V_sup, &x->n_sup, error);
    x->V_sup = set->V_sup;
    return status;
}


int mdnmf_separator_fit_signals(mdnmf_model *model, const mdnmf_separator_params *p,
                                const mdnmf_audio_params *audio, const mdnmf_signal_data *data,
                                mdnmf_error *error)
{
    if (!model || !p || !audio || !data)
        return error_fail(error, MDNMF_ERR_ARGUMENT, "model, params, audio or data is NULL");
    int status = mdnmf_separator_params_check(p, error);
    if (status)
        return status;
    if (audio->sample_rate < MDNMF_AUDIO_MIN_RATE || audio->sample_rate > MDNMF_AUDIO_MAX_RATE)
        return error_fail(error, MDNMF_ERR_ARGUMENT, "sample rate %d Hz is outside %d..%d Hz",
                          audio->sample_rate, MDNMF_AUDIO_MIN_RATE, MDNMF_AUDIO_MAX_RATE);
    if (features_problem(audio))
        return error_fail(error, MDNMF_ERR_ARGUMENT, "%s", features_problem(audio));
    mdnmf_stft *stft = mdnmf_stft_create(audio->n_fft, audio->hop_length, audio->win_length,
                                         error);
    if (!stft)
        return error->status;
    signal_frames_set set;
    memset(&set, 0, sizeof set);
    mdnmf_separation_data x;
    status = frames_of_data(stft, audio, data, p->sources, &set, &x, error);
    /* Sharded: the others wait in the fit's first collective, its agreement
     * on the data; a process whose signals failed takes part in it. */
    if (status && model->sharded)
        shard_agree(model, &model->shard, status);
    if (!status)
        status = mdnmf_separator_fit(model, p, &x, error);
    /* The settings in use (the STFT's defaults filled in), so that new
     * recordings are analysed as the training material was. */
    mdnmf_audio_params in_use = {.sample_rate = audio->sample_rate,
                                 .n_fft = audio->n_fft,
                                 .hop_length = mdnmf_stft_hop_length(stft),
                                 .win_length = mdnmf_stft_win_length(stft),
                                 .power = audio->power,
                                 .context = audio->context};
    if (!status)
        status = mdnmf_model_set_audio(model, &in_use, error);
    frames_set_free(&set);
    mdnmf_stft_destroy(stft);
    return status ? status : error_ok(error);
}

/* ------------------------------------------------------------ the denoiser */

mdnmf_denoiser *mdnmf_denoiser_create(mdnmf_model *model, mdnmf_error *error)
{
    if (!model) {
        error_fail(error, MDNMF_ERR_ARGUMENT, "denoiser: the model is NULL");
        return NULL;
    }
    const mdnmf_audio_params *audio = mdnmf_model_audio(model);
    int sources = mdnmf_model_source_count(model);
    if (!audio || sources < 2 || !mdnmf_model_basis(model)) {
        error_fail(error, MDNMF_ERR_STATE, "denoiser: %s",
                   !audio ? "the model has no audio front end (sample rate, STFT sizes)"
                          : "the model is not a separator of two or more sources");
        return NULL;
    }
    mdnmf_denoiser *d = calloc(1, sizeof *d);
    if (!d) {
        error_fail(error, MDNMF_ERR_MEMORY, "denoiser: out of memory");
        return NULL;
    }
    d->model = model;
    d->audio = audio;
    d->rate = audio->sample_rate;
    d->sources = sources;
    d->stft = mdnmf_stft_create(audio->n_fft, audio->hop_length, audio->win_length, error);
    if (!d->stft) {
        free(d);
        return NULL;
    }
    error_ok(error);
    return d;
}

void mdnmf_denoiser_destroy(mdnmf_denoiser *d)
{
    if (!d)
        return;
    mdnmf_stft_destroy(d->stft);
    free(d->magnitude), free(d->mixture), free(d->spectrum), free(d->signal);
    free(d->power), free(d->stacked), free(d->part);
    for (int s = 0; s < MDNMF_MAX_SOURCES; s++)
        free(d->parts[s]), free(d->estimates[s]);
    free(d);
}

static int grow(float **buffer, size_t count)
{
    float *grown = realloc(*buffer, (count ? count : 1) * sizeof *grown);
    if (!grown)
        return -1;
    *buffer = grown;
    return 0;
}

static int reserve_frames(mdnmf_denoiser *d, int64_t frames, mdnmf_error *error)
{
    if (frames <= d->frame_capacity)
        return MDNMF_OK;
    int64_t bins = mdnmf_stft_bins(d->stft);
    size_t count = (size_t)(frames * bins);
    size_t features = (size_t)(frames * features_rows(d->audio, bins));
    int failed = grow(&d->magnitude, count) | grow(&d->mixture, 2 * count) |
                 grow(&d->spectrum, 2 * count);
    if (d->audio->power)
        failed |= grow(&d->power, count);
    if (d->audio->context)
        failed |= grow(&d->stacked, features) | grow(&d->part, count);
    for (int s = 0; s < d->sources; s++)
        failed |= grow(&d->parts[s], features);
    if (failed)
        return error_fail(error, MDNMF_ERR_MEMORY,
                          "out of memory for %lld spectrogram frames", (long long)frames);
    d->frame_capacity = frames;
    return MDNMF_OK;
}

static int reserve_samples(mdnmf_denoiser *d, int64_t length, mdnmf_error *error)
{
    if (length <= d->sample_capacity)
        return MDNMF_OK;
    int failed = grow(&d->signal, (size_t)length);
    for (int s = 0; s < d->sources; s++)
        failed |= grow(&d->estimates[s], (size_t)length);
    if (failed)
        return error_fail(error, MDNMF_ERR_MEMORY, "out of memory for %lld samples",
                          (long long)length);
    d->sample_capacity = length;
    return MDNMF_OK;
}

/* A source's spectrum from the mixture's: the ratio of its estimated
 * magnitude (or power) to the mixture's scales the mixture's complex value,
 * Z_s = Z ⊙ |Ẑ_s| / |Z| (SPEC §7; with powers, the Wiener gain
 * |Ẑ_s|² / |Z|²).  So no phase angle is computed and turned back into a
 * complex number (atan2, cos and sin were a sixth of the time).  Where the
 * mixture is 0 its phase is 0, as atan2(0, 0). */
static void apply_magnitude(const float *mixture, const float *mixture_magnitude,
                            const float *magnitude, int64_t count, float *spectrum)
{
    for (int64_t i = 0; i < count; i++) {
        float v = mixture_magnitude[i];
        float scale = v > 0.0f ? magnitude[i] / v : 0.0f;
        spectrum[2 * i] = v > 0.0f ? mixture[2 * i] * scale : magnitude[i];
        spectrum[2 * i + 1] = mixture[2 * i + 1] * scale;
    }
}

/* What a frame's features describe, per bin: the mixture's magnitudes, or
 * their squares with power features. */
static const float *mixture_values(mdnmf_denoiser *d, int64_t bins, int64_t frames)
{
    if (!d->audio->power)
        return d->magnitude;
    mdnmf_audio_params unstacked = *d->audio;
    unstacked.context = 0;
    features_of_magnitudes(&unstacked, d->magnitude, bins, frames, d->power);
    return d->power;
}

/* The mixture's features: its values, stacked with their neighbours' when
 * the front end has context. */
static const float *mixture_features(mdnmf_denoiser *d, const float *values, int64_t bins,
                                     int64_t frames)
{
    if (!d->audio->context)
        return values;
    features_of_magnitudes(d->audio, d->magnitude, bins, frames, d->stacked);
    return d->stacked;
}

/* SPEC §5 and §7 at the model's rate: STFT, features, separation with
 * Wiener filtering, every source's estimate per frame with the mixture's
 * phases back to `length` samples. */
static int separate_at_model_rate(mdnmf_denoiser *d, const float *signal, int64_t length,
                                  float *const *estimates, mdnmf_error *error)
{
    mdnmf_stft *stft = d->stft;
    int64_t m = mdnmf_stft_bins(stft), frames = mdnmf_stft_frames(stft, length);
    int64_t rows = features_rows(d->audio, m);
    int status = reserve_frames(d, frames, error);
    if (status)
        return status;
    /* The library's magnitudes (what every other caller separates) and the
     * complex values for the phases: two FFT passes, cheap next to NMF. */
    if ((status = mdnmf_stft_forward(stft, signal, length, d->magnitude, NULL, error)) ||
        (status = mdnmf_stft_forward_complex(stft, signal, length, d->mixture, error)))
        return status;
    const float *values = mixture_values(d, m, frames);
    if ((status = mdnmf_separate_frames(d->model, mixture_features(d, values, m, frames), rows,
                                        frames, 1, d->adapt_epochs, d->adapt_fresh,
                                        d->smoothing, d->parts, error)))
        return status;
    for (int s = 0; s < d->sources; s++) {
        const float *part = d->parts[s];
        if (d->audio->context) {
            features_to_frames(d->audio, d->parts[s], m, frames, d->part);
            part = d->part;
        }
        apply_magnitude(d->mixture, values, part, m * frames, d->spectrum);
        if ((status = mdnmf_stft_inverse_complex(stft, d->spectrum, frames, estimates[s],
                                                 length, error)))
            return status;
    }
    return MDNMF_OK;
}

static int check_recording(const mdnmf_denoiser *d, const float *samples, int64_t length,
                           float *const *estimates, mdnmf_error *error)
{
    if (!d || !samples || !estimates)
        return error_fail(error, MDNMF_ERR_ARGUMENT, "denoiser, samples or estimates is NULL");
    for (int s = 0; s < d->sources; s++)
        if (!estimates[s])
            return error_fail(error, MDNMF_ERR_ARGUMENT, "estimate buffer %d is NULL", s);
    if (length < 1)
        return error_fail(error, MDNMF_ERR_SHAPE, "the recording has no samples");
    for (int64_t i = 0; i < length; i++)
        if (!isfinite(samples[i]))
            return error_fail(error, MDNMF_ERR_DATA, "sample %lld is NaN or infinite",
                              (long long)i);
    /* A silent recording would make every ratio of the front end 0 / 0. */
    if (mdnmf_signal_peak(samples, length) == 0.0f)
        return error_fail(error, MDNMF_ERR_DATA, "the recording is silent (every sample is 0)");
    return MDNMF_OK;
}

int mdnmf_denoiser_separate(mdnmf_denoiser *d, const float *samples, int64_t length,
                            int sample_rate, float *const *estimates, mdnmf_error *error)
{
    int status = check_recording(d, samples, length, estimates, error);
    if (status)
        return status;
    int rate = sample_rate ? sample_rate : d->rate;
    if (rate == d->rate) {
        status = separate_at_model_rate(d, samples, length, estimates, error);
        return status ? status : error_ok(error);
    }
    int64_t inner = mdnmf_resampled_length(length, rate, d->rate);
    if (inner < 1)
        return error_fail(error, MDNMF_ERR_ARGUMENT,
                          "cannot convert %d Hz to the model's %d Hz (rates must lie in "
                          "%d..%d Hz)", rate, d->rate, MDNMF_AUDIO_MIN_RATE,
                          MDNMF_AUDIO_MAX_RATE);
    if ((status = reserve_samples(d, inner, error)) ||
        (status = resample_exactly(samples, length, rate, d->rate, d->signal, inner, error)) ||
        (status = separate_at_model_rate(d, d->signal, inner, d->estimates, error)))
        return status;
    /* Back at the recording's rate and length. */
    for (int s = 0; s < d->sources; s++)
        if ((status = resample_exactly(d->estimates[s], inner, d->rate, rate, estimates[s],
                                       length, error)))
            return status;
    return error_ok(error);
}

int mdnmf_denoiser_set_adaptation(mdnmf_denoiser *d, int epochs, int fresh, mdnmf_error *error)
{
    if (!d)
        return error_fail(error, MDNMF_ERR_ARGUMENT, "denoiser is NULL");
    if (epochs < 0)
        return error_fail(error, MDNMF_ERR_ARGUMENT,
                          "noise adaptation epochs = %d must be >= 0", epochs);
    if (fresh != 0 && fresh != 1 && fresh != MDNMF_ADAPT_AUTO)
        return error_fail(error, MDNMF_ERR_ARGUMENT, "noise adaptation: fresh = %d must be 0, "
                          "1 or MDNMF_ADAPT_AUTO", fresh);
    if (epochs > 0 && mdnmf_model_params(d->model)->divergence != MDNMF_DIVERGENCE_FROBENIUS)
        return error_fail(error, MDNMF_ERR_ARGUMENT,
                          "noise adaptation supports the Frobenius loss only");
    d->adapt_epochs = epochs;
    d->adapt_fresh = fresh;
    return error_ok(error);
}

int mdnmf_denoiser_set_noise_smoothing(mdnmf_denoiser *d, int frames, mdnmf_error *error)
{
    if (!d)
        return error_fail(error, MDNMF_ERR_ARGUMENT, "denoiser is NULL");
    if (frames < 0)
        return error_fail(error, MDNMF_ERR_ARGUMENT,
                          "noise smoothing = %d frames must be >= 0", frames);
    d->smoothing = frames;
    return error_ok(error);
}

int mdnmf_denoise_defaults(const mdnmf_model *model, int *epochs, int *fresh, int *smoothing,
                           mdnmf_error *error)
{
    if (!model || !epochs || !fresh || !smoothing)
        return error_fail(error, MDNMF_ERR_ARGUMENT, "model or an output is NULL");
    const mdnmf_separator_params *p = mdnmf_model_separator_params(model);
    int learned_from_mixtures = p && mdnmf_model_source_count(model) >= 2 &&
                                (p->mode == MDNMF_MODE_SEMI || p->mode == MDNMF_MODE_SEMI_ADV);
    int frobenius = mdnmf_model_params(model)->divergence == MDNMF_DIVERGENCE_FROBENIUS;
    *epochs = learned_from_mixtures && frobenius ? MDNMF_DENOISE_ADAPT_EPOCHS : 0;
    *fresh = MDNMF_ADAPT_AUTO;
    *smoothing = learned_from_mixtures ? MDNMF_DENOISE_SMOOTHING : 0;
    return error_ok(error);
}

int mdnmf_denoiser_relearn_noise(mdnmf_denoiser *d, const mdnmf_signals *recordings,
                                 mdnmf_error *error)
{
    if (!d || !recordings)
        return error_fail(error, MDNMF_ERR_ARGUMENT, "denoiser or recordings is NULL");
    if (recordings->count < 1)
        return error_fail(error, MDNMF_ERR_SHAPE, "no recordings to learn the noise from");
    const mdnmf_separator_params *fitted = mdnmf_model_separator_params(d->model);
    if (!fitted)
        return error_fail(error, MDNMF_ERR_STATE, "the model is not a separator");
    float *V = NULL;
    int64_t n_V = 0;
    const mdnmf_audio_params *audio = mdnmf_model_audio(d->model);
    int status = group_frames(d->stft, audio, recordings, "recordings", &V, &n_V, error);
    if (status)
        return status;
    /* SPEC §6 `semi` on the recordings' frames, warm-started from the model,
     * with no clean data: the known sources' bases stay as they are and only
     * the last (noise) basis is learned afresh. */
    mdnmf_separator_params params = *fitted;
    params.common = *mdnmf_model_params(d->model);
    params.common.d = 1; /* the separator's d[] decide */
    params.mode = MDNMF_MODE_SEMI;
    params.common.warm_start = 1;
    params.common.checkpoint_path = params.common.resume_path = NULL;
    mdnmf_separation_data x;
    memset(&x, 0, sizeof x);
    x.m = features_rows(audio, mdnmf_stft_bins(d->stft));
    x.V = V;
    x.n_V = n_V;
    status = mdnmf_separator_fit(d->model, &params, &x, error);
    free(V);
    return status;
}

int mdnmf_separate_signal(mdnmf_model *model, const float *samples, int64_t length,
                          int sample_rate, float *const *estimates, mdnmf_error *error)
{
    mdnmf_error local;
    if (!error)
        error = &local;
    mdnmf_denoiser *d = mdnmf_denoiser_create(model, error);
    if (!d)
        return error->status;
    int status = mdnmf_denoiser_separate(d, samples, length, sample_rate, estimates, error);
    mdnmf_denoiser_destroy(d);
    return status;
}
