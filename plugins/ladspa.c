/* The LADSPA plugin: label "mdnmf_denoise", unique ID PLUGIN_LADSPA_ID,
 * in mdnmf_ladspa.so.  The model comes from $MDNMF_MODEL, loaded in
 * instantiate; docs/realtime.md, "Plugins", documents ports and IDs. */
#include <ladspa.h>
#include <stdlib.h>

#include "plugin_core.h"

/* "mdn" in ASCII: below 0x1000000 as ladspa.h asks, and not in the
 * ranges of the known plugin collections. */
#define PLUGIN_LADSPA_ID 0x6D646EUL
#define PLUGIN_LADSPA_LABEL "mdnmf_denoise"

typedef struct ladspa_instance {
    plugin_core core;
    const LADSPA_Data *ports[PORT_COUNT];
    LADSPA_Data *latency; /* the one output control port */
} ladspa_instance;

static LADSPA_Handle instantiate(const LADSPA_Descriptor *descriptor, unsigned long sample_rate)
{
    (void)descriptor;
    ladspa_instance *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    plugin_core_init(&self->core, PLUGIN_LADSPA_LABEL, (double)sample_rate);
    const char *path = getenv(PLUGIN_MODEL_VARIABLE);
    if (!path || !*path)
        plugin_core_say_no_model(&self->core, PLUGIN_MODEL_VARIABLE " is not set");
    else
        plugin_core_load(&self->core, path, PLUGIN_MODEL_VARIABLE); /* says why on failure */
    return self;
}

static void connect_port(LADSPA_Handle handle, unsigned long port, LADSPA_Data *data)
{
    ladspa_instance *self = handle;
    if (port == PORT_LATENCY)
        self->latency = data;
    else if (port < PORT_COUNT)
        self->ports[port] = data;
}

static void activate(LADSPA_Handle handle)
{
    plugin_core_reset(&((ladspa_instance *)handle)->core);
}

static LADSPA_Data control_value(const ladspa_instance *self, enum plugin_port port,
                                 LADSPA_Data fallback)
{
    return self->ports[port] ? *self->ports[port] : fallback;
}

static void run(LADSPA_Handle handle, unsigned long count)
{
    ladspa_instance *self = handle;
    plugin_core_run(&self->core, self->ports[PORT_INPUT], (float *)self->ports[PORT_OUTPUT],
                    (uint32_t)count,
                    control_value(self, PORT_ATTENUATION, (LADSPA_Data)PLUGIN_ATTENUATION_DEFAULT),
                    control_value(self, PORT_EXPONENT, 0), control_value(self, PORT_LEARN_NOISE, 0));
    if (self->latency)
        *self->latency = (LADSPA_Data)self->core.latency;
}

static void cleanup(LADSPA_Handle handle)
{
    ladspa_instance *self = handle;
    plugin_core_destroy(&self->core);
    free(self);
}

static const LADSPA_PortDescriptor port_descriptors[PORT_COUNT] = {
    [PORT_INPUT] = LADSPA_PORT_INPUT | LADSPA_PORT_AUDIO,
    [PORT_OUTPUT] = LADSPA_PORT_OUTPUT | LADSPA_PORT_AUDIO,
    [PORT_ATTENUATION] = LADSPA_PORT_INPUT | LADSPA_PORT_CONTROL,
    [PORT_EXPONENT] = LADSPA_PORT_INPUT | LADSPA_PORT_CONTROL,
    [PORT_LEARN_NOISE] = LADSPA_PORT_INPUT | LADSPA_PORT_CONTROL,
    [PORT_LATENCY] = LADSPA_PORT_OUTPUT | LADSPA_PORT_CONTROL,
};

/* "latency" in lower case is the name hosts (Ardour, ffmpeg's latency
 * option) look for. */
static const char *const port_names[PORT_COUNT] = {
    [PORT_INPUT] = "Input",
    [PORT_OUTPUT] = "Output",
    [PORT_ATTENUATION] = "Max attenuation (dB)",
    [PORT_EXPONENT] = "Wiener exponent (0 = model's)",
    [PORT_LEARN_NOISE] = "Learn noise",
    [PORT_LATENCY] = "latency",
};

static const LADSPA_PortRangeHint port_hints[PORT_COUNT] = {
    [PORT_ATTENUATION] = {LADSPA_HINT_BOUNDED_BELOW | LADSPA_HINT_BOUNDED_ABOVE |
                              LADSPA_HINT_DEFAULT_MAXIMUM,
                          0.0f, (LADSPA_Data)PLUGIN_ATTENUATION_MAX},
    [PORT_EXPONENT] = {LADSPA_HINT_BOUNDED_BELOW | LADSPA_HINT_BOUNDED_ABOVE |
                           LADSPA_HINT_DEFAULT_0,
                       0.0f, (LADSPA_Data)PLUGIN_EXPONENT_MAX},
    [PORT_LEARN_NOISE] = {LADSPA_HINT_TOGGLED | LADSPA_HINT_DEFAULT_0, 0.0f, 1.0f},
    [PORT_LATENCY] = {LADSPA_HINT_INTEGER, 0.0f, 0.0f},
};

static const LADSPA_Descriptor descriptor = {
    .UniqueID = PLUGIN_LADSPA_ID,
    .Label = PLUGIN_LADSPA_LABEL,
    .Properties = LADSPA_PROPERTY_HARD_RT_CAPABLE,
    .Name = "mdnmf speech denoiser (NMF, streaming)",
    .Maker = "mdnmf",
    .Copyright = "the mdnmf authors",
    .PortCount = PORT_COUNT,
    .PortDescriptors = port_descriptors,
    .PortNames = port_names,
    .PortRangeHints = port_hints,
    .instantiate = instantiate,
    .connect_port = connect_port,
    .activate = activate,
    .run = run,
    .deactivate = activate, /* reset as well: the next activate starts clean */
    .cleanup = cleanup,
};

__attribute__((visibility("default"))) const LADSPA_Descriptor *ladspa_descriptor(unsigned long index)
{
    return index == 0 ? &descriptor : NULL;
}
