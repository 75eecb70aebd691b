/* What the harnesses share.  The readers under test take a path, so each
 * input becomes a file: one memfd per process, rewritten for every input
 * and opened by its /proc/self/fd path (a regular file to fstat, as a real
 * file would be).  Include after defining _GNU_SOURCE (memfd_create). */
#ifndef MDNMF_FUZZ_INPUT_H
#define MDNMF_FUZZ_INPUT_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Any failure of the harness itself (not of the code under test) ends the
 * run loudly: a harness that silently tests nothing is worse. */
static void fuzz_die(const char *what)
{
    perror(what);
    abort();
}

/* The path of a file holding exactly data[0..size). */
static const char *fuzz_input_file(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz-input", 0);
        if (fd < 0)
            fuzz_die("memfd_create");
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0)
        fuzz_die("ftruncate");
    size_t done = 0;
    while (done < size) {
        const ssize_t n = pwrite(fd, data + done, size - done, (off_t)done);
        if (n <= 0)
            fuzz_die("pwrite");
        done += (size_t)n;
    }
    return path;
}

/* Where results go so that the loops reading them are not optimized away. */
volatile double fuzz_sink;

/* Reads every float so that AddressSanitizer checks the claimed size. */
static void fuzz_touch_floats(const float *values, int64_t count)
{
    double sum = 0.0;
    for (int64_t i = 0; i < count; i++)
        sum += values[i];
    fuzz_sink = sum;
}

#endif
