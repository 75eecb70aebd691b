/* What the LADSPA and the LV2 plugin share: a streaming denoiser
 * (mdnmf_stream_*) for one mono channel at the host's rate, the model it
 * came from, the live controls and the pass-through when there is no
 * model.  docs/realtime.md, "Plugins", is the user's side of this file.
 *
 * Threads: plugin_core_load and plugin_core_destroy allocate, read files
 * and print; hosts call them from their instantiation threads
 * (instantiate, cleanup, LV2 state restore).  plugin_core_reset and
 * plugin_core_run neither allocate nor lock nor print: they are what run
 * and activate call. */
#ifndef MDNMF_PLUGIN_CORE_H
#define MDNMF_PLUGIN_CORE_H

#include <stdint.h>

#include "mdnmf.h"

/* The ports of both plugins, in this order (LADSPA port numbers and LV2
 * port indices alike). */
enum plugin_port {
    PORT_INPUT = 0,     /* audio in */
    PORT_OUTPUT,        /* audio out (may be the input's buffer) */
    PORT_ATTENUATION,   /* control in: largest noise attenuation, dB */
    PORT_EXPONENT,      /* control in: Wiener mask exponent, 0 = model's */
    PORT_LEARN_NOISE,   /* control in: online noise learning, 0 or 1 */
    PORT_LATENCY,       /* control out: latency in samples */
    PORT_COUNT
};

/* The controls' ranges and defaults (the ports' hints and TTL say the same). */
#define PLUGIN_ATTENUATION_MAX 100.0 /* dB; at the top of the range: no floor */
#define PLUGIN_ATTENUATION_DEFAULT PLUGIN_ATTENUATION_MAX
#define PLUGIN_EXPONENT_MAX 8.0
/* Noise atoms drawn and learned online for a speech-only model. */
#define PLUGIN_SPEECH_ONLY_NOISE_ATOMS 32

/* The environment variable naming the model file. */
#define PLUGIN_MODEL_VARIABLE "MDNMF_MODEL"

typedef struct plugin_core {
    const char *name;       /* prefix of the messages ("mdnmf_denoise") */
    int sample_rate;        /* the host's, Hz */
    mdnmf_stream *stream;   /* NULL: audio passes through unchanged */
    char *model_path;       /* the file the stream's model came from */
    int speech_only;        /* the model has no noise basis: learning stays on */
    int64_t latency;        /* samples at sample_rate (0 without a stream) */
    /* The control values last given to the stream; NaN forces the next run
     * to give them again (after a new stream). */
    float applied_attenuation, applied_exponent, applied_learn;
} plugin_core;

/* An empty core for `sample_rate` Hz (passes audio through). */
void plugin_core_init(plugin_core *core, const char *name, double sample_rate);

/* Load the model at `path` and make a new stream from it; `origin` says
 * where the path came from in the message ("MDNMF_MODEL", "the plugin's
 * state").  On success the previous stream (if any) is replaced; on failure
 * it is kept, one line on stderr says what failed, for which file and what
 * to do, and -1 is returned. */
int plugin_core_load(plugin_core *core, const char *path, const char *origin);

/* plugin_core_load of $MDNMF_MODEL.  Without the variable: 0 and nothing
 * loaded (the caller decides whether to say so: plugin_core_say_no_model). */
int plugin_core_load_from_environment(plugin_core *core);

/* One line on stderr: no model, audio passes through; `hint` says how to
 * give one. */
void plugin_core_say_no_model(const plugin_core *core, const char *hint);

/* Empty history, initial noise basis (activate, deactivate). */
void plugin_core_reset(plugin_core *core);

/* Denoise `count` samples of `in` into `out` (may be the same buffer) with
 * the controls' current values; without a stream copy them.  No
 * allocation, no lock. */
void plugin_core_run(plugin_core *core, const float *in, float *out, uint32_t count,
                     float attenuation, float exponent, float learn_noise);

/* Free the stream and the path (the core is then empty). */
void plugin_core_destroy(plugin_core *core);

/* The mask floor of an attenuation in dB: 10^(-dB/20), 0 at the top of
 * the range (the offline mask), 1 at 0 dB or below. */
double plugin_floor_of_attenuation(double attenuation_db);

#endif
