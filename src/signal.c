/* Signal-level steps of the speech experiments (SPEC §8): peaks, peak
 * normalisation and mixing speech with noise at a given input SNR. */
#include "error.h"
#include "internal.h"

#include <math.h>

float mdnmf_signal_peak(const float *samples, int64_t length)
{
    float peak = 0.0f;
    for (int64_t i = 0; samples && i < length; i++) {
        float a = fabsf(samples[i]);
        if (a > peak)
            peak = a;
    }
    return peak;
}

int mdnmf_signal_normalize_peak(float *samples, int64_t length, mdnmf_error *error)
{
    if (!samples || length < 1)
        return error_fail(error, MDNMF_ERR_ARGUMENT, "normalize: no samples");
    float peak = mdnmf_signal_peak(samples, length);
    if (!(peak > 0.0f) || isinf(peak))
        return error_fail(error, MDNMF_ERR_DATA, "normalize: the signal is %s",
                          peak == 0.0f ? "silent (every sample is 0)" : "not finite");
    /* One reciprocal, as the experiments always scaled. */
    float factor = 1.0f / peak;
    for (int64_t i = 0; i < length; i++)
        samples[i] *= factor;
    return error_ok(error);
}

/* P = Σ x², in double. */
static double power_of(const float *x, int64_t length)
{
    double sum = 0.0;
    for (int64_t i = 0; i < length; i++)
        sum += (double)x[i] * x[i];
    return sum;
}

static int check_mix(const float *speech, const float *noise, int64_t length, double snr_db,
                     const float *mixture, const float *speech_target,
                     const float *noise_target, mdnmf_error *error)
{
    if (!speech || !noise || !mixture || !speech_target || !noise_target)
        return error_fail(error, MDNMF_ERR_ARGUMENT, "mix at SNR: a buffer is NULL");
    if (length < 1)
        return error_fail(error, MDNMF_ERR_SHAPE, "mix at SNR: no samples");
    if (!isfinite(snr_db))
        return error_fail(error, MDNMF_ERR_ARGUMENT, "mix at SNR: the SNR must be finite");
    return MDNMF_OK;
}

int mdnmf_mix_at_snr(const float *speech, const float *noise, int64_t length, double snr_db,
                     float *mixture, float *speech_target, float *noise_target, double *weights,
                     mdnmf_error *error)
{
    int status = check_mix(speech, noise, length, snr_db, mixture, speech_target,
                           noise_target, error);
    if (status)
        return status;
    double power_speech = power_of(speech, length), power_noise = power_of(noise, length);
    if (!(power_speech > 0.0) || !(power_noise > 0.0) || isinf(power_speech) ||
        isinf(power_noise))
        return error_fail(error, MDNMF_ERR_DATA, "mix at SNR: the %s is %s",
                          power_speech > 0.0 && !isinf(power_speech) ? "noise" : "speech",
                          isinf(power_speech) || isinf(power_noise) ? "not finite" : "silent");
    /* SPEC §8: a_0 = 1, a_1 = sqrt(P_speech / (P_noise 10^(SNR/10))), both
     * divided by their sum; targets a_0 s and a_1 n, mixture their sum. */
    double a1 = sqrt(power_speech / (power_noise * pow(10.0, snr_db / 10.0)));
    float w0 = (float)(1.0 / (1.0 + a1)), w1 = (float)(a1 / (1.0 + a1));
    for (int64_t i = 0; i < length; i++) {
        speech_target[i] = speech[i] * w0;
        noise_target[i] = noise[i] * w1;
        mixture[i] = speech_target[i] + noise_target[i];
    }
    if (weights) {
        weights[0] = w0;
        weights[1] = w1;
    }
    return error_ok(error);
}
