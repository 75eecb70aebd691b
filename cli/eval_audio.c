/* The audio metrics of `mdnmf eval` (see eval_audio.h). */
#include "eval_audio.h"
#include "json.h"
#include "options.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum audio_metric { AUDIO_SNR, AUDIO_SISDR, AUDIO_BSS, AUDIO_UNKNOWN } audio_metric;

static const char *const AUDIO_METRIC_NAMES[] = {"snr", "sisdr", "bss"};

const char cli_audio_metric_choices[] = "snr|sisdr|bss";

static audio_metric metric_from_name(const char *name)
{
    for (int i = 0; name && i < AUDIO_UNKNOWN; i++) {
        if (strcmp(name, AUDIO_METRIC_NAMES[i]) == 0) {
            return (audio_metric)i;
        }
    }
    return AUDIO_UNKNOWN;
}

int cli_is_audio_metric(const char *metric)
{
    return metric_from_name(metric) != AUDIO_UNKNOWN;
}

/* References then estimates, all mono at one rate. */
typedef struct audio_set {
    int count;
    mdnmf_audio references[MDNMF_BSS_MAX_SOURCES > MDNMF_MAX_SOURCES ? MDNMF_BSS_MAX_SOURCES
                                                                       : MDNMF_MAX_SOURCES];
    mdnmf_audio estimates[MDNMF_BSS_MAX_SOURCES > MDNMF_MAX_SOURCES ? MDNMF_BSS_MAX_SOURCES
                                                                      : MDNMF_MAX_SOURCES];
} audio_set;

static void audio_set_free(audio_set *set)
{
    for (int s = 0; s < set->count; s++) {
        mdnmf_audio_free(&set->references[s]);
        mdnmf_audio_free(&set->estimates[s]);
    }
}

/* Bring a recording to `rate` (a no-op when it is already there). */
static int resample_to(const char *command, const char *path, int rate, mdnmf_audio *audio)
{
    if (audio->sample_rate == rate) {
        return 0;
    }
    mdnmf_error error;
    int64_t length = mdnmf_resampled_length(audio->length, audio->sample_rate, rate);
    float *samples = length > 0 ? malloc((size_t)length * sizeof *samples) : NULL;
    if (!samples || mdnmf_resample(audio->samples, audio->length, audio->sample_rate, rate,
                                   samples, &error) != MDNMF_OK) {
        cli_error(command, "%s: cannot resample from %d Hz to %d Hz", path, audio->sample_rate,
                  rate);
        free(samples);
        return -1;
    }
    cli_error(command, "warning: %s: resampled from %d Hz to %d Hz", path, audio->sample_rate,
              rate);
    free(audio->samples);
    audio->samples = samples;
    audio->length = length;
    audio->sample_rate = rate;
    return 0;
}

/* Read one file at its own rate, then bring it to `rate` (0: keep). */
static int read_recording(const char *command, const char *path, int rate, mdnmf_audio *out)
{
    mdnmf_error error;
    if (mdnmf_audio_read(path, 0, out, &error) != MDNMF_OK) {
        cli_error_about(command, path, error.message);
        return -1;
    }
    if (out->mixed_down) {
        cli_error(command, "warning: %s: %d channels mixed down to mono", path, out->channels);
    }
    return rate ? resample_to(command, path, rate, out) : 0;
}

static int read_all(const char *command, const char *const *references,
                    const char *const *estimates, audio_set *set)
{
    for (int s = 0; s < set->count; s++) {
        int rate = s == 0 ? 0 : set->references[0].sample_rate;
        if (read_recording(command, references[s], rate, &set->references[s]) != 0 ||
            read_recording(command, estimates[s], set->references[0].sample_rate,
                           &set->estimates[s]) != 0) {
            return -1;
        }
    }
    int64_t length = set->references[0].length;
    for (int s = 0; s < 2 * set->count; s++) {
        const mdnmf_audio *a = s < set->count ? &set->references[s]
                                              : &set->estimates[s - set->count];
        const char *path = s < set->count ? references[s] : estimates[s - set->count];
        if (a->length != length) {
            cli_error(command, "%s: %" PRId64 " samples but %s has %" PRId64 " (at %d Hz): "
                      "every recording must have the same length", path, a->length,
                      references[0], length, set->references[0].sample_rate);
            return -1;
        }
    }
    return 0;
}

static double mean(const double *values, int count)
{
    double result = NAN;
    mdnmf_aggregate_values(values, count, MDNMF_AGGREGATE_MEAN, &result, NULL);
    return result;
}

/* Print the keys every audio result starts with, then those of `rest`
 * (released); 0, or -1 after an error line. */
static int print_result(const char *command, audio_metric metric, const audio_set *set,
                        double value, json_t *rest)
{
    json_t *result = json_pack("{s:s, s:i, s:i, s:I, s:o}", "metric", AUDIO_METRIC_NAMES[metric],
                               "sources", set->count, "sample_rate",
                               set->references[0].sample_rate, "samples",
                               (json_int_t)set->references[0].length, "value",
                               cli_json_real(value));
    if (json_object_update(result, rest) != 0) {
        json_decref(result);
        result = NULL;
    }
    json_decref(rest);
    return cli_json_print(command, result);
}

/* The file a failed SNR / SI-SDR is about: the library says "the reference
 * is silent" or "the estimate ...", the command knows which files those are. */
static const char *file_at_fault(const mdnmf_audio *reference, const char *reference_path,
                                 const char *estimate_path)
{
    for (int64_t i = 0; i < reference->length; i++) {
        if (!isfinite(reference->samples[i])) {
            return reference_path;
        }
    }
    return mdnmf_signal_peak(reference->samples, reference->length) > 0.0f ? estimate_path
                                                                           : reference_path;
}

static int evaluate_pairs(const char *command, audio_metric metric, const audio_set *set,
                          const char *const *references, const char *const *estimates)
{
    double values[MDNMF_MAX_SOURCES];
    mdnmf_error error;
    for (int s = 0; s < set->count; s++) {
        const mdnmf_audio *r = &set->references[s], *e = &set->estimates[s];
        int status = metric == AUDIO_SNR
                         ? mdnmf_snr(r->samples, e->samples, r->length, &values[s], &error)
                         : mdnmf_si_sdr(r->samples, e->samples, r->length, &values[s], &error);
        if (status != MDNMF_OK) {
            cli_error(command, "%s: %s", file_at_fault(r, references[s], estimates[s]),
                      error.message);
            return -1;
        }
    }
    return print_result(command, metric, set, mean(values, set->count),
                        json_pack("{s:o}", "per_source", cli_json_reals(values, set->count)));
}

static int evaluate_bss(const char *command, const audio_set *set)
{
    const float *references[MDNMF_BSS_MAX_SOURCES], *estimates[MDNMF_BSS_MAX_SOURCES];
    for (int s = 0; s < set->count; s++) {
        references[s] = set->references[s].samples;
        estimates[s] = set->estimates[s].samples;
    }
    mdnmf_bss_result result;
    mdnmf_error error;
    if (mdnmf_bss_eval_sources(references, estimates, set->count, set->references[0].length, 1,
                               &result, &error) != MDNMF_OK) {
        cli_error(command, "%s", error.message);
        return -1;
    }
    json_t *permutation = json_array();
    for (int s = 0; s < set->count && permutation; s++) {
        if (json_array_append_new(permutation, json_integer(result.permutation[s])) != 0) {
            json_decref(permutation);
            permutation = NULL;
        }
    }
    const int S = set->count;
    return print_result(command, AUDIO_BSS, set, mean(result.sdr, S),
                        json_pack("{s:o, s:o, s:o, s:o}", "sdr", cli_json_reals(result.sdr, S),
                                  "sir", cli_json_reals(result.sir, S), "sar",
                                  cli_json_reals(result.sar, S), "permutation", permutation));
}

int cli_eval_audio(const char *command, const char *metric, const char *const *references,
                   const char *const *estimates, int count)
{
    audio_metric which = metric_from_name(metric);
    if (which == AUDIO_UNKNOWN) {
        cli_error(command, "unknown audio metric '%s' (choose %s)", metric ? metric : "",
                  cli_audio_metric_choices);
        return CLI_EXIT_USAGE;
    }
    int most = which == AUDIO_BSS ? MDNMF_BSS_MAX_SOURCES : MDNMF_MAX_SOURCES;
    if (count < 1 || count > most) {
        cli_error(command, "--metric %s takes 1..%d reference/estimate pairs, not %d", metric,
                  most, count);
        return CLI_EXIT_USAGE;
    }
    audio_set set;
    memset(&set, 0, sizeof set);
    set.count = count;
    int failed = read_all(command, references, estimates, &set) != 0 ||
                 (which == AUDIO_BSS
                      ? evaluate_bss(command, &set)
                      : evaluate_pairs(command, which, &set, references, estimates)) != 0;
    audio_set_free(&set);
    return failed ? CLI_EXIT_RUNTIME : CLI_EXIT_OK;
}
