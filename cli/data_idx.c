/* mdnmf data idx: IDX images (MNIST / Fashion-MNIST, gzip or plain) to an
 * (N, rows*cols) float32 .npy array, optionally only the images of one
 * class (SPEC §8).
 *
 *   mdnmf data idx --images IMAGES [--labels LABELS --class K] [--scale S] -o OUT.npy
 *
 * Every input is checked before the output is written (atomically). */
#include "commands.h"
#include "inputs.h"
#include "outputs.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define NO_FIELD CLI_NO_FIELD

static const char *const IDX_COMMAND = "data idx";

enum { OPT_SCALE = 256 };

static const cli_option IDX_OPTIONS[] = {
    {"images", 'i', CLI_KIND_TEXT, "IMAGES", NO_FIELD, 0, NULL, cli_required,
     "IDX file of images (e.g. train-images-idx3-ubyte.gz), gzip or plain"},
    {"labels", 'l', CLI_KIND_TEXT, "LABELS", NO_FIELD, 0, NULL, "none",
     "IDX file of their labels, one per image; needs --class"},
    {"class", 'c', CLI_KIND_TEXT, "K", NO_FIELD, 0, NULL, "all images",
     "keep only the images labelled K (0..255); needs --labels"},
    {"scale", OPT_SCALE, CLI_KIND_TEXT, "S", NO_FIELD, 0, NULL, "1",
     "divide every value by S > 0 (255 maps the grey levels to [0, 1]); the results "
     "must stay within float32's range"},
    {"output", 'o', CLI_KIND_TEXT, "OUT.npy", NO_FIELD, 0, NULL, cli_required,
     ".npy file to write: float32, shape (N, rows*cols), one image per row; "
     "'-' for standard output"},
    CLI_HELP_OPTION,
};

const char cli_data_idx_summary[] =
    "Convert IDX images (MNIST, Fashion-MNIST) to .npy; one class or all.";

static const cli_command IDX_USAGE = {
    "data idx",
    "data idx --images IMAGES [--labels LABELS --class K] [--scale S] -o OUT.npy",
    cli_data_idx_summary,
    IDX_OPTIONS,
    sizeof IDX_OPTIONS / sizeof IDX_OPTIONS[0],
};

typedef struct idx_request {
    const char *images, *labels, *output;
    int label; /* -1: every image */
    double scale;
} idx_request;

static int store_idx_option(void *context, const cli_option *option, const char *value)
{
    idx_request *request = context;
    switch (option->key) {
    case 'i': request->images = value; return 0;
    case 'l': request->labels = value; return 0;
    case 'o': request->output = value; return 0;
    case 'c':
        if (cli_parse_int(IDX_COMMAND, "-c/--class", value, 0, &request->label) != 0) {
            return -1;
        }
        if (request->label > 255) {
            cli_error(IDX_COMMAND, "-c/--class: '%s' is out of range: IDX labels are 0..255",
                      value);
            return -1;
        }
        return 0;
    case OPT_SCALE:
        if (cli_parse_double(IDX_COMMAND, "--scale", value, 0.0, &request->scale) != 0) {
            return -1;
        }
        /* The values are divided in float32: S must be a normal float32. */
        if (!(request->scale >= FLT_MIN && request->scale <= FLT_MAX)) {
            cli_error(IDX_COMMAND, "--scale: '%s' is out of range: give a number > 0, from "
                      "%.3g to %.3g (values are divided in float32)", value, (double)FLT_MIN,
                      (double)FLT_MAX);
            return -1;
        }
        return 0;
    }
    return 0;
}

static int check_idx_request(const idx_request *r)
{
    /* --images and -o are required options: the parser checked them. */
    const char *problem = r->labels && r->label < 0 ? "--labels needs --class K"
                        : !r->labels && r->label >= 0 ? "--class needs --labels LABELS"
                        : NULL;
    if (problem) {
        cli_error(IDX_COMMAND, "%s (see 'mdnmf data idx --help')", problem);
        return -1;
    }
    return 0;
}

/* Read an IDX file; 0, or -1 after printing one line naming it. */
static int read_idx(const char *path, mdnmf_matrix *out)
{
    mdnmf_error error;
    if (mdnmf_idx_read(path, out, &error) != MDNMF_OK) {
        cli_error_about(IDX_COMMAND, path, error.message);
        return -1;
    }
    return 0;
}

static int check_labels(const idx_request *r, const mdnmf_matrix *images,
                        const mdnmf_matrix *labels)
{
    if (labels->m != 1) {
        cli_error(IDX_COMMAND, "%s holds images of %" PRId64 " values, not labels "
                  "(swapped --images and --labels?)", r->labels, labels->m);
        return -1;
    }
    if (labels->n != images->n) {
        cli_error(IDX_COMMAND, "%s has %" PRId64 " labels but %s has %" PRId64 " images: "
                  "they must belong together", r->labels, labels->n, r->images, images->n);
        return -1;
    }
    return 0;
}

/* Keep the images whose label is `label`, in their order, at the front of
 * `images`; returns how many. */
static int64_t keep_class(mdnmf_matrix *images, const mdnmf_matrix *labels, int label)
{
    int64_t kept = 0, m = images->m;
    for (int64_t j = 0; j < images->n; j++) {
        if (labels->data[j] == (float)label) {
            if (kept != j) {
                memcpy(images->data + kept * m, images->data + j * m,
                       (size_t)m * sizeof *images->data);
            }
            kept++;
        }
    }
    return kept;
}

static void report_empty_class(const idx_request *r, const mdnmf_matrix *labels)
{
    float largest = 0.0f;
    for (int64_t j = 0; j < labels->n; j++) {
        if (labels->data[j] > largest) {
            largest = labels->data[j];
        }
    }
    if (labels->n == 0) {
        cli_error(IDX_COMMAND, "no image has label %d: %s holds no labels", r->label, r->labels);
    } else {
        cli_error(IDX_COMMAND, "no image has label %d in %s (its labels are 0..%d)", r->label,
                  r->labels, (int)largest);
    }
}

/* The scaled values must stay finite and non-zero values non-zero: a tiny S
 * would write +inf, a huge one zeros.  Returns 0, or -1 after one line. */
static int check_scaled_range(const idx_request *r, const float *values, size_t count)
{
    const float divisor = (float)r->scale;
    float largest = 0.0f, smallest = INFINITY;
    for (size_t i = 0; i < count; i++) {
        float size = fabsf(values[i]);
        largest = size > largest ? size : largest;
        smallest = size > 0.0f && size < smallest ? size : smallest;
    }
    if (largest == 0.0f || !isfinite(largest) ||
        (isfinite(largest / divisor) && smallest / divisor > 0.0f)) {
        return 0; /* (values already infinite are the data's, not the scale's) */
    }
    double lowest = fmax((double)largest / FLT_MAX * 1.001, (double)FLT_MIN);
    double highest = fmin((double)smallest / FLT_TRUE_MIN * 0.999, (double)FLT_MAX);
    cli_error(IDX_COMMAND, "--scale %g: %s holds values from %g to %g, which divided by it "
              "leave float32's range: give a scale from %.3g to %.3g", r->scale, r->images,
              (double)smallest, (double)largest, lowest, highest);
    return -1;
}

/* Divide in float, as NumPy's `x.astype(float32) / float32(S)` does. */
static void divide_values(float *values, size_t count, double scale)
{
    if (scale == 1.0) {
        return;
    }
    const float divisor = (float)scale;
    for (size_t i = 0; i < count; i++) {
        values[i] /= divisor;
    }
}

static int convert_idx(const idx_request *r, const cli_input_files *inputs)
{
    mdnmf_matrix images = {0}, labels = {0};
    int code = CLI_EXIT_RUNTIME;
    if (read_idx(r->images, &images) != 0) {
        goto done;
    }
    if (r->labels) {
        if (read_idx(r->labels, &labels) != 0 || check_labels(r, &images, &labels) != 0) {
            goto done;
        }
        images.n = keep_class(&images, &labels, r->label);
        if (images.n == 0) {
            report_empty_class(r, &labels);
            goto done;
        }
    }
    if (check_scaled_range(r, images.data, (size_t)(images.m * images.n)) != 0) {
        code = CLI_EXIT_USAGE;
        goto done;
    }
    divide_values(images.data, (size_t)(images.m * images.n), r->scale);
    cli_npy_file file = {(char *)r->output, images.data, images.m, images.n};
    if (cli_write_npy_files(IDX_COMMAND, &file, 1, inputs) != 0) {
        goto done;
    }
    code = CLI_EXIT_OK;
done:
    mdnmf_matrix_free(&images);
    mdnmf_matrix_free(&labels);
    return code;
}

int cli_data_idx(int argc, char **argv)
{
    idx_request request = {NULL, NULL, NULL, -1, 1.0};
    mdnmf_params unused;
    mdnmf_params_default(&unused);
    int parsed = cli_parse_exit(
        cli_parse_command(&IDX_USAGE, argc, argv, &unused, NULL, store_idx_option, &request));
    if (parsed >= 0) {
        return parsed;
    }
    if (check_idx_request(&request) != 0) {
        return CLI_EXIT_USAGE;
    }
    /* Fail fast, before reading and converting. */
    const char *input_paths[] = {request.images, request.labels};
    cli_input_files inputs = {0};
    int code = CLI_EXIT_RUNTIME;
    if (cli_inputs_note(IDX_COMMAND, &inputs, input_paths, 2) == 0 &&
        cli_refuse_input_as_output(IDX_COMMAND, "-o", request.output, &inputs) == 0 &&
        cli_output_check_writable_or_stdout(IDX_COMMAND, request.output) == 0) {
        code = convert_idx(&request, &inputs);
    }
    cli_inputs_free(&inputs);
    return code;
}
