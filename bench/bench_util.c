/* See bench_util.h. */
#define _POSIX_C_SOURCE 200809L

#include "bench_util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t bench_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float bench_uniform(uint64_t *state)
{
    return (float)(bench_random(state) >> 40) * (1.0f / 16777216.0f);
}

int bench_parse_int64(const char *text, int64_t minimum, int64_t maximum, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (!text[0] || *end || errno || value < minimum || value > maximum)
        return 0;
    *out = value;
    return 1;
}

double bench_clock_seconds(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void bench_mnist_folder(const char *given, char *folder, size_t size)
{
    const char *root = getenv("MDNMF_DATA_DIR");
    if (given)
        snprintf(folder, size, "%s", given);
    else if (root && root[0])
        snprintf(folder, size, "%s/mnist", root);
    else
        snprintf(folder, size, "data/mnist");
}

int bench_read_digits(const char *folder, int first, int count, mdnmf_matrix *digits)
{
    mdnmf_error error;
    int ok = 1;
    for (int k = 0; k < count && ok; k++) {
        char path[1100];
        snprintf(path, sizeof path, "%s/digit%d.npy", folder, first + k);
        ok = mdnmf_npy_read(path, &digits[k], &error) == MDNMF_OK &&
             digits[k].m == digits[0].m;
    }
    return ok;
}

#define BLOBS 3

typedef struct blob {
    float row, col, width;
} blob;

void bench_synthesize_digits(float *U, int64_t n, int prototypes, uint64_t state)
{
    blob shapes[BENCH_MAX_PROTOTYPES][BLOBS];
    for (int p = 0; p < prototypes; p++)
        for (int b = 0; b < BLOBS; b++) {
            shapes[p][b].row = 6.0f + 16.0f * bench_uniform(&state);
            shapes[p][b].col = 6.0f + 16.0f * bench_uniform(&state);
            shapes[p][b].width = 1.0f + 1.0f * bench_uniform(&state);
        }
    const int side = BENCH_DIGIT_SIDE;
    const int64_t m = (int64_t)side * side;
    for (int64_t j = 0; j < n; j++) {
        float *column = U + j * m;
        memset(column, 0, (size_t)m * sizeof *column);
        for (int pick = 0; pick < 2; pick++) {
            const blob *shape = shapes[bench_random(&state) % (uint64_t)prototypes];
            float weight = 0.5f + 0.5f * bench_uniform(&state);
            float shift_r = 2.0f * bench_uniform(&state) - 1.0f;
            float shift_c = 2.0f * bench_uniform(&state) - 1.0f;
            for (int b = 0; b < BLOBS; b++)
                for (int r = 0; r < side; r++)
                    for (int c = 0; c < side; c++) {
                        float dr = (float)r - shape[b].row - shift_r;
                        float dc = (float)c - shape[b].col - shift_c;
                        float w2 = shape[b].width * shape[b].width;
                        column[r * side + c] += weight * expf(-(dr * dr + dc * dc) / (2.0f * w2));
                    }
        }
        for (int64_t i = 0; i < m; i++)
            column[i] = column[i] < 0.1f ? 0.0f : column[i] > 1.0f ? 1.0f : column[i];
    }
}
