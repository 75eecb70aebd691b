/* libFuzzer harness: the .npz model loader, mdnmf_model_load.
 *
 * An input starting with "PK" is loaded as the .npz file it is: the zip
 * directory, the members' sizes and CRCs, their .npy headers and data.
 * Any other input is the params JSON: the harness wraps it in a valid
 * model (a 3 x 2 basis of one source, params.npy holding the bytes as a
 * 1-D uint8 array) so that mutations of the JSON are not lost to CRC
 * checks of the zip. */
#define _GNU_SOURCE
#include "fuzz_input.h"
#include "mdnmf.h"

#include <string.h>
#include <zlib.h>

/* A growing byte buffer; the harness aborts if memory runs out. */
typedef struct bytes {
    unsigned char *data;
    size_t length, capacity;
} bytes;

static void put(bytes *b, const void *data, size_t length)
{
    if (b->length + length > b->capacity) {
        b->capacity = 2 * (b->length + length) + 256;
        b->data = realloc(b->data, b->capacity);
        if (!b->data)
            fuzz_die("realloc");
    }
    if (length)
        memcpy(b->data + b->length, data, length);
    b->length += length;
}

static void put16(bytes *b, unsigned value)
{
    const unsigned char le[2] = {value & 0xff, (value >> 8) & 0xff};
    put(b, le, 2);
}

static void put32(bytes *b, uint32_t value)
{
    const unsigned char le[4] = {value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff,
                                 value >> 24};
    put(b, le, 4);
}

/* A .npy version 1.0 image: header padded to 64 bytes, then the data. */
static void put_npy(bytes *b, const char *descr, const char *shape, const void *data,
                    size_t length)
{
    char dict[128];
    int text = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, "
                        "'shape': %s, }", descr, shape);
    const size_t padded = (10 + (size_t)text + 1 + 63) / 64 * 64;
    const unsigned char magic[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
    put(b, magic, 8);
    put16(b, (unsigned)(padded - 10));
    put(b, dict, (size_t)text);
    for (size_t i = 10 + (size_t)text; i < padded - 1; i++)
        put(b, " ", 1);
    put(b, "\n", 1);
    put(b, data, length);
}

typedef struct member {
    const char *name;
    bytes image;
} member;

/* A zip of stored members, as np.savez writes it. */
static bytes build_zip(member *members, int count)
{
    bytes zip = {0}, directory = {0};
    for (int i = 0; i < count; i++) {
        const uint32_t crc = (uint32_t)crc32(0, members[i].image.data,
                                             (uInt)members[i].image.length);
        const uint32_t size = (uint32_t)members[i].image.length;
        const uint32_t offset = (uint32_t)zip.length;
        const unsigned name_length = (unsigned)strlen(members[i].name);
        put32(&zip, 0x04034b50); /* local header */
        put16(&zip, 20), put16(&zip, 0), put16(&zip, 0), put16(&zip, 0), put16(&zip, 0x21);
        put32(&zip, crc), put32(&zip, size), put32(&zip, size);
        put16(&zip, name_length), put16(&zip, 0);
        put(&zip, members[i].name, name_length);
        put(&zip, members[i].image.data, size);
        put32(&directory, 0x02014b50); /* central directory entry */
        put16(&directory, 20), put16(&directory, 20), put16(&directory, 0);
        put16(&directory, 0), put16(&directory, 0), put16(&directory, 0x21);
        put32(&directory, crc), put32(&directory, size), put32(&directory, size);
        put16(&directory, name_length), put16(&directory, 0), put16(&directory, 0);
        put16(&directory, 0), put16(&directory, 0), put32(&directory, 0);
        put32(&directory, offset);
        put(&directory, members[i].name, name_length);
    }
    const uint32_t directory_offset = (uint32_t)zip.length;
    put(&zip, directory.data, directory.length);
    put32(&zip, 0x06054b50); /* end of central directory */
    put16(&zip, 0), put16(&zip, 0), put16(&zip, (unsigned)count), put16(&zip, (unsigned)count);
    put32(&zip, (uint32_t)directory.length), put32(&zip, directory_offset), put16(&zip, 0);
    free(directory.data);
    return zip;
}

/* A one-source model of 2 atoms of 3 features around the JSON text. */
static bytes model_around_json(const uint8_t *json, size_t length)
{
    const float W[6] = {0.5f, 1.0f, 0.0f, 2.0f, 0.25f, 1.5f};
    const float mu_H[2] = {0.0f, 0.0f};
    const int64_t components[1] = {2};
    char shape[32];
    snprintf(shape, sizeof shape, "(%zu,)", length);
    member members[4] = {{"W.npy", {0}}, {"components.npy", {0}}, {"mu_H.npy", {0}},
                         {"params.npy", {0}}};
    put_npy(&members[0].image, "<f4", "(2, 3)", W, sizeof W);
    put_npy(&members[1].image, "<i8", "(1,)", components, sizeof components);
    put_npy(&members[2].image, "<f4", "(2,)", mu_H, sizeof mu_H);
    put_npy(&members[3].image, "|u1", shape, json, length);
    bytes zip = build_zip(members, 4);
    for (int i = 0; i < 4; i++)
        free(members[i].image.data);
    return zip;
}

static void load(const uint8_t *data, size_t size)
{
    mdnmf_model *model = mdnmf_model_load(fuzz_input_file(data, size), NULL);
    if (!model)
        return;
    int64_t m = 0, d = 0;
    mdnmf_model_shape(model, &m, &d);
    fuzz_touch_floats(mdnmf_model_basis(model), m * d);
    fuzz_touch_floats(mdnmf_model_mu_H(model), d);
    const int sources = mdnmf_model_source_count(model);
    const int64_t *components = mdnmf_model_components(model);
    int64_t atoms = 0;
    for (int s = 0; s < sources; s++)
        atoms += components[s];
    if (atoms != d) /* the loader promises components that sum to the atoms */
        abort();
    mdnmf_model_destroy(model);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 2 && data[0] == 'P' && data[1] == 'K') {
        load(data, size);
        return 0;
    }
    bytes zip = model_around_json(data, size);
    load(zip.data, zip.length);
    free(zip.data);
    return 0;
}
