/* A minimal host of the mdnmf plugins for what ffmpeg and lv2apply do not
 * exercise (tests/plugins/test_plugins.py): blocks of random sizes, in-place
 * buffers, a control changed in the middle of the stream, and the LV2
 * state (restore with and without state:mapPath, save).
 *
 *   plugin_host ladspa PLUGIN.so IN.f32 OUT.f32 RATE [options]
 *   plugin_host lv2 PLUGIN.so URI IN.f32 OUT.f32 RATE [options]
 *
 * Options: --in-place; --blocks N (random sizes 1..N, fixed seed; default
 * 512); --control PORT VALUE (before the first block); --change-at SAMPLE
 * PORT VALUE (before that sample; repeatable); LV2 only: --urid-map 0
 * (host without urid:map), --state PATH (restore a state whose model is
 * PATH before activate), --map-dir DIR (state:mapPath: abstract paths
 * are relative to DIR), --save (print the saved model path).
 * Prints "latency N" (the latency port after the last block).  Exit 1
 * with one line on stderr on failure. */
#include <dlfcn.h>
#include <ladspa.h>
#include <lv2/atom/atom.h>
#include <lv2/core/lv2.h>
#include <lv2/state/state.h>
#include <lv2/urid/urid.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PORTS = 6, PORT_IN = 0, PORT_OUT = 1, PORT_LATENCY = 5, MAX_CHANGES = 8 };

typedef struct change {
    long at;
    int port;
    float value;
} change;

typedef struct host {
    int lv2;
    const char *library, *uri, *input, *output;
    double rate;
    int in_place, urid_map;
    long max_block;
    float controls[PORTS];
    change changes[MAX_CHANGES];
    int change_count;
    const char *state_path, *map_dir;
    int save;
} host;

static int die(const char *what, const char *why)
{
    fprintf(stderr, "plugin_host: %s: %s\n", what, why);
    exit(1);
}

/* ---------------------------------------------------------- urid:map */
static const char *uris[64];
static int uri_count;

static LV2_URID map_uri(LV2_URID_Map_Handle handle, const char *uri)
{
    (void)handle;
    for (int i = 0; i < uri_count; i++)
        if (!strcmp(uris[i], uri))
            return (LV2_URID)(i + 1);
    if (uri_count == 64)
        return 0;
    uris[uri_count++] = uri; /* callers' strings are static literals */
    return (LV2_URID)uri_count;
}

/* ----------------------------------------------------- state:mapPath */
static char *joined(const char *a, const char *b)
{
    char *s = malloc(strlen(a) + strlen(b) + 2);
    if (!s)
        die("memory", "out of memory");
    sprintf(s, "%s/%s", a, b);
    return s;
}

static char *abstract_path(LV2_State_Map_Path_Handle handle, const char *absolute)
{
    const char *dir = handle;
    size_t n = strlen(dir);
    const char *rest = !strncmp(absolute, dir, n) && absolute[n] == '/' ? absolute + n + 1
                                                                         : absolute;
    char *s = malloc(strlen(rest) + 1);
    if (!s)
        die("memory", "out of memory");
    return strcpy(s, rest);
}

static char *absolute_path(LV2_State_Map_Path_Handle handle, const char *abstract)
{
    if (abstract[0] == '/') {
        char *s = malloc(strlen(abstract) + 1);
        return s ? strcpy(s, abstract) : NULL;
    }
    return joined(handle, abstract);
}

/* ------------------------------------------------------- state store */
typedef struct state_value {
    LV2_URID key, type;
    const void *value;
    size_t size;
} state_value;

static const void *retrieve(LV2_State_Handle handle, uint32_t key, size_t *size, uint32_t *type,
                            uint32_t *flags)
{
    const state_value *v = handle;
    if (key != v->key)
        return NULL;
    *size = v->size;
    *type = v->type;
    *flags = LV2_STATE_IS_POD | LV2_STATE_IS_PORTABLE;
    return v->value;
}

static LV2_State_Status store(LV2_State_Handle handle, uint32_t key, const void *value,
                              size_t size, uint32_t type, uint32_t flags)
{
    (void)handle, (void)flags;
    if (key == map_uri(NULL, "urn:mdnmf:lv2:model") && type == map_uri(NULL, LV2_ATOM__Path))
        printf("saved %.*s\n", (int)size - 1, (const char *)value);
    else
        printf("saved something else\n");
    return LV2_STATE_SUCCESS;
}

/* --------------------------------------------------------- the plugin */
typedef struct plugin {
    const LADSPA_Descriptor *ladspa;
    const LV2_Descriptor *lv2;
    void *instance;
} plugin;

static void connect(plugin *p, int port, float *data)
{
    if (p->ladspa)
        p->ladspa->connect_port(p->instance, (unsigned long)port, data);
    else
        p->lv2->connect_port(p->instance, (uint32_t)port, data);
}

static void run(plugin *p, long count)
{
    if (p->ladspa)
        p->ladspa->run(p->instance, (unsigned long)count);
    else
        p->lv2->run(p->instance, (uint32_t)count);
}

static plugin open_plugin(const host *h, LV2_URID_Map *map, LV2_State_Map_Path *map_path)
{
    plugin p = {0};
    void *library = dlopen(h->library, RTLD_NOW | RTLD_LOCAL);
    if (!library)
        die(h->library, dlerror());
    if (!h->lv2) {
        LADSPA_Descriptor_Function entry =
            (LADSPA_Descriptor_Function)dlsym(library, "ladspa_descriptor");
        if (!entry || !(p.ladspa = entry(0)))
            die(h->library, "no ladspa_descriptor");
        p.instance = p.ladspa->instantiate(p.ladspa, (unsigned long)h->rate);
    } else {
        LV2_Descriptor_Function entry = (LV2_Descriptor_Function)dlsym(library, "lv2_descriptor");
        for (uint32_t i = 0; entry && (p.lv2 = entry(i)); i++)
            if (!strcmp(p.lv2->URI, h->uri))
                break;
        if (!p.lv2)
            die(h->uri, "not in the library");
        LV2_Feature map_feature = {LV2_URID__map, map};
        const LV2_Feature *features[] = {h->urid_map ? &map_feature : NULL, NULL};
        p.instance = p.lv2->instantiate(p.lv2, h->rate, "", features);
        if (p.instance && h->state_path) {
            const LV2_State_Interface *state = p.lv2->extension_data(LV2_STATE__interface);
            state_value v = {map_uri(NULL, "urn:mdnmf:lv2:model"), map_uri(NULL, LV2_ATOM__Path),
                             h->state_path, strlen(h->state_path) + 1};
            LV2_Feature path_feature = {LV2_STATE__mapPath, map_path};
            const LV2_Feature *state_features[] = {h->map_dir ? &path_feature : NULL, NULL};
            LV2_State_Status status = state->restore(p.instance, retrieve, &v, 0, state_features);
            printf("restore %d\n", (int)status);
        }
    }
    if (!p.instance)
        die(h->library, "instantiate failed");
    return p;
}

static float *read_samples(const char *path, long *count)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path, "cannot open");
    fseek(f, 0, SEEK_END);
    *count = ftell(f) / (long)sizeof(float);
    fseek(f, 0, SEEK_SET);
    float *x = malloc((size_t)(*count + 1) * sizeof *x);
    if (!x || fread(x, sizeof *x, (size_t)*count, f) != (size_t)*count)
        die(path, "cannot read");
    fclose(f);
    return x;
}

/* The next block's length: random in 1..max, cut at the next change. */
static long next_block(const host *h, long t, long total, uint64_t *seed)
{
    *seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
    long n = 1 + (long)((*seed >> 33) % (uint64_t)h->max_block);
    for (int i = 0; i < h->change_count; i++)
        if (h->changes[i].at > t && h->changes[i].at - t < n)
            n = h->changes[i].at - t;
    return n < total - t ? n : total - t;
}

static void process(const host *h, plugin *p, const float *x, float *y, long count,
                    float *controls, float *latency)
{
    float *in = malloc((size_t)(h->max_block + 1) * sizeof *in);
    float *out = h->in_place ? in : malloc((size_t)(h->max_block + 1) * sizeof *out);
    if (!in || !out)
        die("memory", "out of memory");
    connect(p, PORT_IN, in);
    connect(p, PORT_OUT, out);
    uint64_t seed = 12345;
    for (long t = 0, n; t < count; t += n) {
        for (int i = 0; i < h->change_count; i++)
            if (h->changes[i].at == t)
                controls[h->changes[i].port] = h->changes[i].value;
        n = next_block(h, t, count, &seed);
        memcpy(in, x + t, (size_t)n * sizeof *in);
        run(p, n);
        memcpy(y + t, out, (size_t)n * sizeof *out);
    }
    printf("latency %ld\n", (long)*latency);
    free(in);
    if (out != in)
        free(out);
}

static void parse(int argc, char **argv, host *h)
{
    if (argc < 2)
        die("usage", "plugin_host ladspa|lv2 ... (see the file's comment)");
    *h = (host){.lv2 = !strcmp(argv[1], "lv2"), .max_block = 512, .urid_map = 1};
    int i = 2;
    if (argc < (h->lv2 ? 7 : 6))
        die("usage", "missing arguments");
    h->library = argv[i++];
    if (h->lv2)
        h->uri = argv[i++];
    h->input = argv[i++];
    h->output = argv[i++];
    h->rate = atof(argv[i++]);
    h->controls[2] = 100.0f; /* the defaults of the ports */
    for (; i < argc; i++) {
        const char *o = argv[i];
        int more = argc - i - 1;
        if (!strcmp(o, "--in-place"))
            h->in_place = 1;
        else if (!strcmp(o, "--save"))
            h->save = 1;
        else if (!strcmp(o, "--blocks") && more >= 1)
            h->max_block = atol(argv[++i]);
        else if (!strcmp(o, "--urid-map") && more >= 1)
            h->urid_map = atoi(argv[++i]);
        else if (!strcmp(o, "--state") && more >= 1)
            h->state_path = argv[++i];
        else if (!strcmp(o, "--map-dir") && more >= 1)
            h->map_dir = argv[++i];
        else if (!strcmp(o, "--control") && more >= 2) {
            int port = atoi(argv[++i]);
            h->controls[port >= 2 && port < 5 ? port : 2] = (float)atof(argv[++i]);
        } else if (!strcmp(o, "--change-at") && more >= 3 && h->change_count < MAX_CHANGES) {
            change *c = &h->changes[h->change_count++];
            c->at = atol(argv[++i]);
            c->port = atoi(argv[++i]);
            c->value = (float)atof(argv[++i]);
            if (c->port < 2 || c->port > 4)
                die("--change-at", "port must be 2, 3 or 4");
        } else
            die(o, "unknown option or missing value");
    }
    if (h->max_block < 1)
        die("--blocks", "must be at least 1");
}

int main(int argc, char **argv)
{
    host h;
    parse(argc, argv, &h);
    LV2_URID_Map map = {NULL, map_uri};
    LV2_State_Map_Path map_path = {(void *)h.map_dir, abstract_path, absolute_path};
    plugin p = open_plugin(&h, &map, &map_path);
    float controls[PORTS] = {0}, latency = -1;
    memcpy(controls, h.controls, sizeof controls);
    for (int port = 2; port < 5; port++)
        connect(&p, port, &controls[port]);
    connect(&p, PORT_LATENCY, &latency);
    if (p.ladspa)
        p.ladspa->activate(p.instance);
    else
        p.lv2->activate(p.instance);
    long count;
    float *x = read_samples(h.input, &count);
    float *y = malloc((size_t)(count + 1) * sizeof *y);
    if (!y)
        die("memory", "out of memory");
    process(&h, &p, x, y, count, controls, &latency);
    if (h.save && p.lv2) {
        const LV2_State_Interface *state = p.lv2->extension_data(LV2_STATE__interface);
        LV2_Feature path_feature = {LV2_STATE__mapPath, &map_path};
        const LV2_Feature *features[] = {h.map_dir ? &path_feature : NULL, NULL};
        printf("save %d\n", (int)state->save(p.instance, store, NULL, 0, features));
    }
    FILE *f = fopen(h.output, "wb");
    if (!f || fwrite(y, sizeof *y, (size_t)count, f) != (size_t)count || fclose(f) != 0)
        die(h.output, "cannot write");
    if (p.ladspa) {
        p.ladspa->deactivate(p.instance);
        p.ladspa->cleanup(p.instance);
    } else {
        p.lv2->deactivate(p.instance);
        p.lv2->cleanup(p.instance);
    }
    free(x);
    free(y);
    return 0;
}
