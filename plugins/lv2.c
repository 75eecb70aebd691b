/* The LV2 plugin PLUGIN_LV2_URI (bundle mdnmf.lv2, described by
 * mdnmf.ttl).  The model comes from the plugin's state (a path, key
 * PLUGIN_LV2_MODEL_KEY) or from $MDNMF_MODEL; docs/realtime.md, "Plugins",
 * documents ports, URIs and state. */
#include <lv2/atom/atom.h>
#include <lv2/core/lv2.h>
#include <lv2/state/state.h>
#include <lv2/urid/urid.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_core.h"

#define PLUGIN_LV2_NAMESPACE "urn:mdnmf:lv2:"
#define PLUGIN_LV2_URI PLUGIN_LV2_NAMESPACE "denoise"
#define PLUGIN_LV2_MODEL_KEY PLUGIN_LV2_NAMESPACE "model"
#define PLUGIN_LV2_NAME "mdnmf.lv2"

typedef struct lv2_instance {
    plugin_core core;
    float *ports[PORT_COUNT];
    LV2_URID model_key, atom_path; /* 0 without the host's urid:map */
    int said_why; /* a line about the model was printed already */
} lv2_instance;

static const void *feature_data(const LV2_Feature *const *features, const char *uri)
{
    for (int i = 0; features && features[i]; i++)
        if (!strcmp(features[i]->URI, uri))
            return features[i]->data;
    return NULL;
}

static LV2_Handle instantiate(const LV2_Descriptor *descriptor, double sample_rate,
                              const char *bundle_path, const LV2_Feature *const *features)
{
    (void)descriptor, (void)bundle_path;
    lv2_instance *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    plugin_core_init(&self->core, PLUGIN_LV2_NAME, sample_rate);
    const LV2_URID_Map *map = feature_data(features, LV2_URID__map);
    if (map) {
        self->model_key = map->map(map->handle, PLUGIN_LV2_MODEL_KEY);
        self->atom_path = map->map(map->handle, LV2_ATOM__Path);
    }
    /* Without the variable the state may still bring a model: activate
     * says so if none came. */
    if (plugin_core_load_from_environment(&self->core) != 0)
        self->said_why = 1;
    return self;
}

static void connect_port(LV2_Handle handle, uint32_t port, void *data)
{
    lv2_instance *self = handle;
    if (port < PORT_COUNT)
        self->ports[port] = data;
}

static void activate(LV2_Handle handle)
{
    lv2_instance *self = handle;
    if (!self->core.stream && !self->said_why) {
        plugin_core_say_no_model(&self->core, PLUGIN_MODEL_VARIABLE
                                 " is not set and the plugin's state names none");
        self->said_why = 1;
    }
    plugin_core_reset(&self->core);
}

static float control_value(const lv2_instance *self, enum plugin_port port, float fallback)
{
    return self->ports[port] ? *self->ports[port] : fallback;
}

static void run(LV2_Handle handle, uint32_t count)
{
    lv2_instance *self = handle;
    plugin_core_run(&self->core, self->ports[PORT_INPUT], self->ports[PORT_OUTPUT], count,
                    control_value(self, PORT_ATTENUATION, (float)PLUGIN_ATTENUATION_DEFAULT),
                    control_value(self, PORT_EXPONENT, 0), control_value(self, PORT_LEARN_NOISE, 0));
    if (self->ports[PORT_LATENCY])
        *self->ports[PORT_LATENCY] = (float)self->core.latency;
}

static void deactivate(LV2_Handle handle)
{
    plugin_core_reset(&((lv2_instance *)handle)->core);
}

static void cleanup(LV2_Handle handle)
{
    lv2_instance *self = handle;
    plugin_core_destroy(&self->core);
    free(self);
}

/* ------------------------------------------------------------------ state
 * One property: the model's path (atom:Path), abstract when the host maps
 * paths (state:mapPath), so that a session can move with its files. */

static void free_host_path(const LV2_Feature *const *features, char *path)
{
    const LV2_State_Free_Path *free_path = feature_data(features, LV2_STATE__freePath);
    if (free_path)
        free_path->free_path(free_path->handle, path);
    else
        free(path);
}

static LV2_State_Status save(LV2_Handle handle, LV2_State_Store_Function store,
                             LV2_State_Handle state, uint32_t flags,
                             const LV2_Feature *const *features)
{
    (void)flags;
    lv2_instance *self = handle;
    if (!self->model_key)
        return LV2_STATE_ERR_NO_FEATURE;
    if (!self->core.model_path)
        return LV2_STATE_SUCCESS; /* nothing to remember */
    const LV2_State_Map_Path *map_path = feature_data(features, LV2_STATE__mapPath);
    char *abstract = map_path ? map_path->abstract_path(map_path->handle, self->core.model_path)
                              : NULL;
    const char *path = abstract ? abstract : self->core.model_path;
    LV2_State_Status status = store(state, self->model_key, path, strlen(path) + 1,
                                    self->atom_path,
                                    LV2_STATE_IS_POD | LV2_STATE_IS_PORTABLE);
    if (abstract)
        free_host_path(features, abstract);
    return status;
}

/* The stored path as a C string, or NULL when the state has none usable. */
static const char *stored_path(const lv2_instance *self, LV2_State_Retrieve_Function retrieve,
                               LV2_State_Handle state)
{
    size_t size = 0;
    uint32_t type = 0, flags = 0;
    const char *value = retrieve(state, self->model_key, &size, &type, &flags);
    if (!value || type != self->atom_path || size < 2 || value[size - 1] != '\0')
        return NULL;
    return value;
}

/* An empty state is the default one: the instance as instantiated (the
 * model of $MDNMF_MODEL, or none). */
static void restore_default(lv2_instance *self)
{
    const char *environment = getenv(PLUGIN_MODEL_VARIABLE);
    if (environment && *environment) {
        if (!self->core.model_path || strcmp(self->core.model_path, environment))
            plugin_core_load_from_environment(&self->core);
    } else {
        plugin_core_destroy(&self->core);
    }
}

/* Instantiation threading class: never concurrent with run, so the
 * stream may be replaced here. */
static LV2_State_Status restore(LV2_Handle handle, LV2_State_Retrieve_Function retrieve,
                                LV2_State_Handle state, uint32_t flags,
                                const LV2_Feature *const *features)
{
    (void)flags;
    lv2_instance *self = handle;
    if (!self->model_key)
        return LV2_STATE_ERR_NO_FEATURE;
    const char *path = stored_path(self, retrieve, state);
    if (!path) {
        restore_default(self);
        return LV2_STATE_SUCCESS;
    }
    const LV2_State_Map_Path *map_path = feature_data(features, LV2_STATE__mapPath);
    char *absolute = map_path ? map_path->absolute_path(map_path->handle, path) : NULL;
    int loaded = plugin_core_load(&self->core, absolute ? absolute : path,
                                  "the plugin's state");
    if (absolute)
        free_host_path(features, absolute);
    self->said_why = 1;
    return loaded == 0 ? LV2_STATE_SUCCESS : LV2_STATE_ERR_UNKNOWN;
}

static const void *extension_data(const char *uri)
{
    static const LV2_State_Interface state = {save, restore};
    return strcmp(uri, LV2_STATE__interface) ? NULL : &state;
}

static const LV2_Descriptor descriptor = {
    PLUGIN_LV2_URI, instantiate, connect_port, activate, run, deactivate, cleanup, extension_data,
};

LV2_SYMBOL_EXPORT const LV2_Descriptor *lv2_descriptor(uint32_t index)
{
    return index == 0 ? &descriptor : NULL;
}
