/* The library's stream on a raw float32 file, as the plugin tests'
 * reference (tests/plugins/test_plugins.py): the plugins' outputs in real
 * hosts must equal this program's for the same parameters.
 *
 *   stream_reference MODEL IN.f32 OUT.f32 [--rate HZ] [--floor F]
 *       [--exponent P] [--learn 0|1] [--noise-atoms N] [--block N]
 *       [--change-at SAMPLE FLOOR EXPONENT LEARN]
 *
 * Blocks of --block samples (default 1000); with --change-at the mask and
 * the learning switch change before sample SAMPLE (set_mask and
 * set_learn_noise, as the plugins do when a control moves).  Prints
 * "latency N" on stdout.  Exit 1 with one line on stderr on failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdnmf.h"

typedef struct options {
    const char *model, *input, *output;
    mdnmf_stream_params params;
    long block;
    long change_at; /* -1: never */
    double floor2, exponent2;
    int learn2;
} options;

static int fail(const char *what, const char *why)
{
    fprintf(stderr, "stream_reference: %s: %s\n", what, why);
    return 1;
}

static int parse(int argc, char **argv, options *o)
{
    if (argc < 4)
        return -1;
    *o = (options){.model = argv[1], .input = argv[2], .output = argv[3], .block = 1000,
                   .change_at = -1};
    mdnmf_stream_params_default(&o->params);
    for (int i = 4; i < argc; i++) {
        const char *name = argv[i];
        if (i + 1 >= argc)
            return -1;
        if (!strcmp(name, "--rate"))
            o->params.sample_rate = atoi(argv[++i]);
        else if (!strcmp(name, "--floor"))
            o->params.floor = strtod(argv[++i], NULL);
        else if (!strcmp(name, "--exponent"))
            o->params.wiener_exponent = strtod(argv[++i], NULL);
        else if (!strcmp(name, "--learn"))
            o->params.learn_noise = atoi(argv[++i]);
        else if (!strcmp(name, "--noise-atoms"))
            o->params.noise_atoms = atoll(argv[++i]);
        else if (!strcmp(name, "--block"))
            o->block = atol(argv[++i]);
        else if (!strcmp(name, "--change-at") && i + 4 < argc) {
            o->change_at = atol(argv[++i]);
            o->floor2 = strtod(argv[++i], NULL);
            o->exponent2 = strtod(argv[++i], NULL);
            o->learn2 = atoi(argv[++i]);
        } else
            return -1;
    }
    return o->block > 0 ? 0 : -1;
}

static float *read_samples(const char *path, long *count)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    *count = bytes / (long)sizeof(float);
    float *x = malloc((size_t)(*count > 0 ? *count : 1) * sizeof *x);
    if (x && fread(x, sizeof *x, (size_t)*count, f) != (size_t)*count) {
        free(x);
        x = NULL;
    }
    fclose(f);
    return x;
}

/* Process [start, end) in blocks of o->block. */
static int process_span(mdnmf_stream *stream, const float *x, float *y, long start, long end,
                        long block, mdnmf_error *error)
{
    for (long t = start; t < end; t += block) {
        long n = end - t < block ? end - t : block;
        if (mdnmf_stream_process(stream, x + t, n, y + t, NULL, error) != MDNMF_OK)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    options o;
    if (parse(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: stream_reference MODEL IN.f32 OUT.f32 [--rate HZ] [--floor F] "
                        "[--exponent P] [--learn 0|1] [--noise-atoms N] [--block N] "
                        "[--change-at SAMPLE FLOOR EXPONENT LEARN]\n");
        return 2;
    }
    mdnmf_error error = {0};
    mdnmf_model *model = mdnmf_model_load(o.model, &error);
    if (!model)
        return fail(o.model, error.message);
    mdnmf_stream *stream = mdnmf_stream_create(model, &o.params, &error);
    mdnmf_model_destroy(model);
    if (!stream)
        return fail("mdnmf_stream_create", error.message);
    long count = 0;
    float *x = read_samples(o.input, &count);
    float *y = malloc((size_t)(count > 0 ? count : 1) * sizeof *y);
    if (!x || !y)
        return fail(o.input, "cannot read");
    long split = o.change_at >= 0 && o.change_at < count ? o.change_at : count;
    int status = process_span(stream, x, y, 0, split, o.block, &error);
    if (status == 0 && split < count) {
        status = mdnmf_stream_set_mask(stream, o.exponent2, o.floor2, &error) == MDNMF_OK &&
                         mdnmf_stream_set_learn_noise(stream, o.learn2, &error) == MDNMF_OK
                     ? 0
                     : -1;
        if (status == 0)
            status = process_span(stream, x, y, split, count, o.block, &error);
    }
    if (status != 0)
        return fail("mdnmf_stream_process", error.message);
    FILE *f = fopen(o.output, "wb");
    if (!f || fwrite(y, sizeof *y, (size_t)count, f) != (size_t)count || fclose(f) != 0)
        return fail(o.output, "cannot write");
    printf("latency %lld\n", (long long)mdnmf_stream_latency(stream));
    mdnmf_stream_destroy(stream);
    free(x);
    free(y);
    return 0;
}
