/* The plugins' shared core (plugin_core.h). */
#include "plugin_core.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const HOW_TO_GET_A_MODEL =
    "set " PLUGIN_MODEL_VARIABLE " to a model file made by 'mdnmf denoise fit' or 'make models'"
    " (docs/realtime.md, Plugins)";

void plugin_core_init(plugin_core *core, const char *name, double sample_rate)
{
    *core = (plugin_core){.name = name, .sample_rate = (int)lround(sample_rate)};
    core->applied_attenuation = core->applied_exponent = core->applied_learn = NAN;
}

static char *copy_string(const char *text)
{
    size_t size = strlen(text) + 1;
    char *copy = malloc(size);
    if (copy)
        memcpy(copy, text, size);
    return copy;
}

static void say_cannot_load(const plugin_core *core, const char *path, const char *origin,
                            const char *why)
{
    if (core->stream)
        fprintf(stderr, "%s: cannot use the model %s (%s): %s; still using the model %s\n",
                core->name, path, origin, why, core->model_path);
    else
        fprintf(stderr, "%s: cannot use the model %s (%s): %s; audio passes through unchanged: %s\n",
                core->name, path, origin, why, HOW_TO_GET_A_MODEL);
}

/* A stream at the host's rate with the model's mask; the controls arrive
 * with the first run.  A speech-only model gets a noise basis learned
 * online (the stream needs one). */
static mdnmf_stream *stream_for_model(const plugin_core *core, const mdnmf_model *model,
                                      int speech_only, mdnmf_error *error)
{
    mdnmf_stream_params p;
    mdnmf_stream_params_default(&p);
    p.sample_rate = core->sample_rate;
    if (speech_only) {
        p.learn_noise = 1;
        p.noise_atoms = PLUGIN_SPEECH_ONLY_NOISE_ATOMS;
    }
    return mdnmf_stream_create(model, &p, error);
}

int plugin_core_load(plugin_core *core, const char *path, const char *origin)
{
    mdnmf_error error = {0};
    mdnmf_model *model = mdnmf_model_load(path, &error);
    if (!model) {
        say_cannot_load(core, path, origin, error.message);
        return -1;
    }
    int speech_only = mdnmf_model_source_count(model) == 1;
    mdnmf_stream *stream = stream_for_model(core, model, speech_only, &error);
    mdnmf_model_destroy(model); /* the stream keeps what it needs */
    char *path_copy = stream ? copy_string(path) : NULL;
    if (!stream || !path_copy) {
        say_cannot_load(core, path, origin, stream ? "out of memory" : error.message);
        mdnmf_stream_destroy(stream);
        return -1;
    }
    mdnmf_stream_destroy(core->stream);
    free(core->model_path);
    core->stream = stream;
    core->model_path = path_copy;
    core->speech_only = speech_only;
    core->latency = mdnmf_stream_latency(stream);
    core->applied_attenuation = core->applied_exponent = core->applied_learn = NAN;
    return 0;
}

int plugin_core_load_from_environment(plugin_core *core)
{
    const char *path = getenv(PLUGIN_MODEL_VARIABLE);
    if (!path || !*path)
        return 0;
    return plugin_core_load(core, path, PLUGIN_MODEL_VARIABLE);
}

void plugin_core_say_no_model(const plugin_core *core, const char *hint)
{
    fprintf(stderr, "%s: no model (%s): audio passes through unchanged: %s\n", core->name, hint,
            HOW_TO_GET_A_MODEL);
}

void plugin_core_reset(plugin_core *core)
{
    if (core->stream)
        mdnmf_stream_reset(core->stream);
}

double plugin_floor_of_attenuation(double attenuation_db)
{
    if (attenuation_db >= PLUGIN_ATTENUATION_MAX)
        return 0.0;
    if (attenuation_db <= 0.0)
        return 1.0;
    return pow(10.0, -attenuation_db / 20.0);
}

/* Hosts may send anything: NaN becomes the default, the rest is clamped. */
static float control_in_range(float value, float low, float high, float fallback)
{
    if (isnan(value))
        return fallback;
    return value < low ? low : value > high ? high : value;
}

/* Tell the stream about the controls that changed since the last run. */
static void apply_controls(plugin_core *core, float attenuation, float exponent, float learn)
{
    attenuation = control_in_range(attenuation, 0.0f, (float)PLUGIN_ATTENUATION_MAX,
                                   (float)PLUGIN_ATTENUATION_DEFAULT);
    exponent = control_in_range(exponent, 0.0f, (float)PLUGIN_EXPONENT_MAX, 0.0f);
    learn = learn > 0.5f ? 1.0f : 0.0f;
    if (attenuation != core->applied_attenuation || exponent != core->applied_exponent) {
        /* In range by now: cannot fail. */
        mdnmf_stream_set_mask(core->stream, exponent, plugin_floor_of_attenuation(attenuation),
                              NULL);
        core->applied_attenuation = attenuation;
        core->applied_exponent = exponent;
    }
    if (learn != core->applied_learn && !core->speech_only) {
        mdnmf_stream_set_learn_noise(core->stream, learn == 1.0f, NULL);
        core->applied_learn = learn;
    }
}

void plugin_core_run(plugin_core *core, const float *in, float *out, uint32_t count,
                     float attenuation, float exponent, float learn_noise)
{
    if (count == 0 || !in || !out)
        return; /* nothing to do, or a host that connected no buffer */
    if (core->stream) {
        apply_controls(core, attenuation, exponent, learn_noise);
        if (mdnmf_stream_process(core->stream, in, count, out, NULL, NULL) == MDNMF_OK)
            return;
    }
    if (out != in)
        memmove(out, in, (size_t)count * sizeof *out);
}

void plugin_core_destroy(plugin_core *core)
{
    mdnmf_stream_destroy(core->stream);
    free(core->model_path);
    core->stream = NULL;
    core->model_path = NULL;
    core->latency = 0;
}
