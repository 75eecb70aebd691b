/* Audio files in and out (libsndfile) and resampling (libsoxr).
 *
 * Reading goes through a descriptor we open ourselves, so that a missing or
 * unreadable file (MDNMF_ERR_IO, with the system's reason) is told apart
 * from a file that is not audio (MDNMF_ERR_FORMAT, libsndfile's reason).
 * Writing encodes the whole WAV in memory through libsndfile's virtual I/O
 * and hands it to file_write_atomic: no half-written file, ever. */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"
#include "npy.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sndfile.h>
#include <soxr.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Samples (frames x channels) read from libsndfile per call while mixing
 * down: a fixed amount of memory whatever channel count (up to 1024) a
 * file's header declares.  libsndfile also clears the rest of the buffer on
 * every short read, so a buffer sized by frames made each read of a tiny
 * many-channel file cost a 64 MB allocation and memset. */
enum { READ_CHUNK_SAMPLES = 16384 };
/* Frames per step elsewhere (mono buffers, writing). */
enum { READ_CHUNK_FRAMES = 16384 };

static int rate_accepted(int rate)
{
    return rate >= MDNMF_AUDIO_MIN_RATE && rate <= MDNMF_AUDIO_MAX_RATE;
}

void mdnmf_audio_free(mdnmf_audio *audio)
{
    if (!audio)
        return;
    free(audio->samples);
    memset(audio, 0, sizeof *audio);
}

/* ------------------------------------------------------------ resampling */

int64_t mdnmf_resampled_length(int64_t length, int in_rate, int out_rate)
{
    if (length < 0 || !rate_accepted(in_rate) || !rate_accepted(out_rate))
        return -1;
    if (length > INT64_MAX / out_rate)
        return -1;
    return (length * out_rate + in_rate - 1) / in_rate;
}

static int resample_signal(const float *in, int64_t length, int in_rate, int out_rate,
                           float *out, char *message, size_t size)
{
    if (!in || !out) {
        message_printf(message, size, "resample: a buffer is NULL");
        return MDNMF_ERR_ARGUMENT;
    }
    int64_t out_length = mdnmf_resampled_length(length, in_rate, out_rate);
    if (out_length < 0) {
        message_printf(message, size,
                       "resample: cannot convert %d Hz to %d Hz (rates must be %d..%d Hz)",
                       in_rate, out_rate, MDNMF_AUDIO_MIN_RATE, MDNMF_AUDIO_MAX_RATE);
        return MDNMF_ERR_ARGUMENT;
    }
    if (in_rate == out_rate) {
        memcpy(out, in, (size_t)length * sizeof *out);
        return MDNMF_OK;
    }
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
    size_t used = 0, made = 0;
    soxr_error_t error = soxr_oneshot(in_rate, out_rate, 1, in, (size_t)length, &used, out,
                                      (size_t)out_length, &made, &io, &quality, NULL);
    if (error) {
        message_printf(message, size, "resample %d Hz to %d Hz: %s", in_rate, out_rate, error);
        return MDNMF_ERR_ARGUMENT;
    }
    /* soxr may deliver a few samples less than ceil(): librosa's fix_length
     * pads those with zeros. */
    for (int64_t i = (int64_t)made; i < out_length; i++)
        out[i] = 0.0f;
    return MDNMF_OK;
}

int mdnmf_resample(const float *in, int64_t length, int in_rate, int out_rate, float *out,
                   mdnmf_error *error)
{
    char message[MDNMF_ERROR_MESSAGE_SIZE] = "";
    int status = resample_signal(in, length, in_rate, out_rate, out, message, sizeof message);
    return error_report(error, status, message);
}

/* --------------------------------------------------------------- reading */

/* Opens `path` for reading as a regular, non-empty file.  Returns the
 * descriptor, or -1 with the status in *status. */
static int open_input(const char *path, int *status, char *message, size_t size)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        message_printf(message, size, "%s: cannot open: %s", path, strerror(errno));
        *status = MDNMF_ERR_IO;
        return -1;
    }
    struct stat info;
    if (fstat(fd, &info) != 0) {
        message_printf(message, size, "%s: cannot read: %s", path, strerror(errno));
        *status = MDNMF_ERR_IO;
    } else if (S_ISDIR(info.st_mode)) {
        message_printf(message, size, "%s: cannot read: is a folder", path);
        *status = MDNMF_ERR_IO;
    } else if (S_ISREG(info.st_mode) && info.st_size == 0) {
        message_printf(message, size, "%s: the file is empty", path);
        *status = MDNMF_ERR_FORMAT;
    } else {
        return fd;
    }
    close(fd);
    return -1;
}

/* A growing mono buffer. */
typedef struct mono_buffer {
    float *samples;
    int64_t length, capacity;
} mono_buffer;

static int reserve(mono_buffer *buffer, int64_t extra)
{
    if (buffer->length + extra <= buffer->capacity)
        return 0;
    int64_t capacity = buffer->capacity ? buffer->capacity : READ_CHUNK_FRAMES;
    while (capacity < buffer->length + extra) {
        if (capacity > INT64_MAX / 2 / (int64_t)sizeof(float))
            return -1;
        capacity *= 2;
    }
    float *grown = realloc(buffer->samples, (size_t)capacity * sizeof *grown);
    if (!grown)
        return -1;
    buffer->samples = grown;
    buffer->capacity = capacity;
    return 0;
}

/* Averages frames of `channels` interleaved samples into the buffer (the
 * mean, as librosa's to_mono). */
static void append_mixed(mono_buffer *buffer, const float *frames, sf_count_t count,
                         int channels)
{
    for (sf_count_t t = 0; t < count; t++) {
        double sum = 0.0;
        for (int c = 0; c < channels; c++)
            sum += frames[t * channels + c];
        buffer->samples[buffer->length++] = (float)(sum / channels);
    }
}

static int read_frames(SNDFILE *file, const SF_INFO *info, const char *path, mono_buffer *mono,
                       char *message, size_t size)
{
    const sf_count_t frames = info->channels < READ_CHUNK_SAMPLES
                                  ? READ_CHUNK_SAMPLES / info->channels : 1;
    float *chunk = malloc((size_t)frames * (size_t)info->channels * sizeof *chunk);
    if (!chunk) {
        message_printf(message, size, "%s: out of memory", path);
        return MDNMF_ERR_MEMORY;
    }
    int status = MDNMF_OK;
    for (;;) {
        sf_count_t got = sf_readf_float(file, chunk, frames);
        if (got <= 0)
            break;
        if (reserve(mono, got) != 0) {
            message_printf(message, size, "%s: out of memory", path);
            status = MDNMF_ERR_MEMORY;
            break;
        }
        append_mixed(mono, chunk, got, info->channels);
    }
    if (status == MDNMF_OK && sf_error(file) != SF_ERR_NO_ERROR) {
        message_printf(message, size, "%s: cannot decode: %s", path, sf_strerror(file));
        status = MDNMF_ERR_FORMAT;
    }
    free(chunk);
    return status;
}

static int check_samples(const mono_buffer *mono, const char *path, char *message, size_t size)
{
    if (mono->length == 0) {
        message_printf(message, size, "%s: the recording has no samples", path);
        return MDNMF_ERR_SHAPE;
    }
    for (int64_t i = 0; i < mono->length; i++) {
        if (!isfinite(mono->samples[i])) {
            message_printf(message, size, "%s: sample %lld is NaN or infinite", path,
                           (long long)i);
            return MDNMF_ERR_DATA;
        }
    }
    return MDNMF_OK;
}

/* Decodes the whole file at `fd` into mono samples at the file's rate. */
static int decode(int fd, const char *path, mdnmf_audio *out, mono_buffer *mono, char *message,
                  size_t size)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    /* close_desc 0: the caller closes fd on every path. */
    SNDFILE *file = sf_open_fd(fd, SFM_READ, &info, 0);
    if (!file) {
        message_printf(message, size, "%s: not a readable audio file: %s", path,
                       sf_strerror(NULL));
        return MDNMF_ERR_FORMAT;
    }
    int status = MDNMF_OK;
    if (info.channels < 1 || info.samplerate < 1) {
        message_printf(message, size, "%s: %d channels at %d Hz: not usable audio", path,
                       info.channels, info.samplerate);
        status = MDNMF_ERR_FORMAT;
    } else {
        status = read_frames(file, &info, path, mono, message, size);
    }
    sf_close(file);
    if (status == MDNMF_OK)
        status = check_samples(mono, path, message, size);
    out->file_rate = info.samplerate;
    out->sample_rate = info.samplerate;
    out->channels = info.channels;
    out->mixed_down = info.channels > 1;
    return status;
}

/* Replaces the samples by their resampled version at `rate`. */
static int resample_audio(mdnmf_audio *audio, const char *path, int rate, char *message,
                          size_t size)
{
    if (!rate_accepted(audio->file_rate)) {
        message_printf(message, size, "%s: cannot resample from %d Hz (rates must be %d..%d Hz)",
                       path, audio->file_rate, MDNMF_AUDIO_MIN_RATE, MDNMF_AUDIO_MAX_RATE);
        return MDNMF_ERR_FORMAT;
    }
    int64_t length = mdnmf_resampled_length(audio->length, audio->file_rate, rate);
    float *resampled = length > 0 ? malloc((size_t)length * sizeof *resampled) : NULL;
    if (!resampled) {
        message_printf(message, size, "%s: out of memory resampling to %d Hz", path, rate);
        return MDNMF_ERR_MEMORY;
    }
    int status = resample_signal(audio->samples, audio->length, audio->file_rate, rate,
                                 resampled, message, size);
    if (status != MDNMF_OK) {
        free(resampled);
        return status;
    }
    free(audio->samples);
    audio->samples = resampled;
    audio->length = length;
    audio->sample_rate = rate;
    return MDNMF_OK;
}

static int read_audio_file(const char *path, int sample_rate, mdnmf_audio *out, char *message,
                           size_t size)
{
    if (!out)
        return MDNMF_ERR_ARGUMENT;
    memset(out, 0, sizeof *out);
    if (!path) {
        message_printf(message, size, "audio read: the path is NULL");
        return MDNMF_ERR_ARGUMENT;
    }
    if (sample_rate != 0 && !rate_accepted(sample_rate)) {
        message_printf(message, size, "%s: cannot resample to %d Hz (rates must be %d..%d Hz)",
                       path, sample_rate, MDNMF_AUDIO_MIN_RATE, MDNMF_AUDIO_MAX_RATE);
        return MDNMF_ERR_ARGUMENT;
    }
    int status = MDNMF_OK;
    int fd = open_input(path, &status, message, size);
    if (fd < 0)
        return status;
    mono_buffer mono = {NULL, 0, 0};
    status = decode(fd, path, out, &mono, message, size);
    close(fd);
    out->samples = mono.samples;
    out->length = mono.length;
    if (status == MDNMF_OK && sample_rate != 0 && sample_rate != out->file_rate)
        status = resample_audio(out, path, sample_rate, message, size);
    if (status != MDNMF_OK)
        mdnmf_audio_free(out);
    return status;
}

int mdnmf_audio_read(const char *path, int sample_rate, mdnmf_audio *out, mdnmf_error *error)
{
    char message[MDNMF_ERROR_MESSAGE_SIZE] = "";
    int status = read_audio_file(path, sample_rate, out, message, sizeof message);
    return error_report(error, status, message);
}

/* --------------------------------------------------------------- writing */

/* A WAV image in memory, written by libsndfile through virtual I/O. */
typedef struct memory_file {
    unsigned char *bytes;
    sf_count_t length, capacity, position;
    int failed;
} memory_file;

static sf_count_t memory_length(void *user)
{
    return ((memory_file *)user)->length;
}

static sf_count_t memory_seek(sf_count_t offset, int whence, void *user)
{
    memory_file *file = user;
    sf_count_t base = whence == SEEK_CUR ? file->position : whence == SEEK_END ? file->length : 0;
    if (base + offset < 0)
        return -1;
    file->position = base + offset;
    return file->position;
}

static sf_count_t memory_read(void *buffer, sf_count_t count, void *user)
{
    memory_file *file = user;
    sf_count_t available = file->length - file->position;
    if (count > available)
        count = available > 0 ? available : 0;
    memcpy(buffer, file->bytes + file->position, (size_t)count);
    file->position += count;
    return count;
}

static sf_count_t memory_write(const void *data, sf_count_t count, void *user)
{
    memory_file *file = user;
    sf_count_t end = file->position + count;
    if (end > file->capacity) {
        sf_count_t capacity = file->capacity ? file->capacity : 65536;
        while (capacity < end)
            capacity *= 2;
        unsigned char *grown = realloc(file->bytes, (size_t)capacity);
        if (!grown) {
            file->failed = 1;
            return 0;
        }
        file->bytes = grown;
        file->capacity = capacity;
    }
    if (file->position > file->length) /* a seek past the end leaves a gap of zeros */
        memset(file->bytes + file->length, 0, (size_t)(file->position - file->length));
    memcpy(file->bytes + file->position, data, (size_t)count);
    file->position = end;
    if (end > file->length)
        file->length = end;
    return count;
}

static sf_count_t memory_tell(void *user)
{
    return ((memory_file *)user)->position;
}

static int check_output_samples(const float *samples, int64_t length, int sample_rate,
                                mdnmf_audio_encoding encoding, const char *path, char *message,
                                size_t size)
{
    if (encoding != MDNMF_AUDIO_PCM16 && encoding != MDNMF_AUDIO_FLOAT) {
        message_printf(message, size, "%s: unknown encoding %d", path, (int)encoding);
        return MDNMF_ERR_ARGUMENT;
    }
    if (!rate_accepted(sample_rate)) {
        message_printf(message, size, "%s: sample rate %d Hz is outside %d..%d Hz", path,
                       sample_rate, MDNMF_AUDIO_MIN_RATE, MDNMF_AUDIO_MAX_RATE);
        return MDNMF_ERR_ARGUMENT;
    }
    /* A WAV file counts its bytes in 32 bits. */
    int64_t limit = (INT64_C(0xFFFFFFFF) - 4096) / (encoding == MDNMF_AUDIO_PCM16 ? 2 : 4);
    if (length < 1 || length > limit) {
        message_printf(message, size, "%s: %lld samples: a WAV file holds 1..%lld", path,
                       (long long)length, (long long)limit);
        return MDNMF_ERR_SHAPE;
    }
    for (int64_t i = 0; i < length; i++) {
        if (!isfinite(samples[i])) {
            message_printf(message, size, "%s: sample %lld is NaN or infinite", path,
                           (long long)i);
            return MDNMF_ERR_DATA;
        }
    }
    return MDNMF_OK;
}

/* 16-bit codes round(x · 32768) clipped to -32768..32767: the inverse of
 * libsndfile's reading (code / 32768), so a 16-bit file read and written
 * back is unchanged.  (libsndfile's own float conversion would floor.) */
static int64_t write_pcm16(SNDFILE *file, const float *samples, int64_t length)
{
    short codes[READ_CHUNK_FRAMES];
    int64_t written = 0;
    while (written < length) {
        int64_t count = length - written < READ_CHUNK_FRAMES ? length - written
                                                             : READ_CHUNK_FRAMES;
        for (int64_t i = 0; i < count; i++) {
            double code = nearbyint((double)samples[written + i] * 32768.0);
            codes[i] = (short)(code > 32767.0 ? 32767.0 : code < -32768.0 ? -32768.0 : code);
        }
        if (sf_writef_short(file, codes, count) != count)
            break;
        written += count;
    }
    return written;
}

static int encode_wav(memory_file *image, const float *samples, int64_t length, int sample_rate,
                      mdnmf_audio_encoding encoding, const char *path, char *message,
                      size_t size)
{
    SF_VIRTUAL_IO io = {memory_length, memory_seek, memory_read, memory_write, memory_tell};
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = sample_rate;
    info.channels = 1;
    info.format = SF_FORMAT_WAV |
                  (encoding == MDNMF_AUDIO_PCM16 ? SF_FORMAT_PCM_16 : SF_FORMAT_FLOAT);
    SNDFILE *file = sf_open_virtual(&io, SFM_WRITE, &info, image);
    if (!file) {
        message_printf(message, size, "%s: cannot encode WAV: %s", path, sf_strerror(NULL));
        return MDNMF_ERR_IO;
    }
    int64_t written = encoding == MDNMF_AUDIO_PCM16 ? write_pcm16(file, samples, length)
                                                    : sf_writef_float(file, samples, length);
    int closed = sf_close(file);
    if (image->failed) {
        message_printf(message, size, "%s: out of memory encoding WAV", path);
        return MDNMF_ERR_MEMORY;
    }
    if (written != length || closed != 0) {
        message_printf(message, size, "%s: cannot encode WAV", path);
        return MDNMF_ERR_IO;
    }
    return MDNMF_OK;
}

static int write_audio_file(const char *path, const float *samples, int64_t length,
                            int sample_rate, mdnmf_audio_encoding encoding, char *message,
                            size_t size)
{
    if (!path || !samples) {
        message_printf(message, size, "audio write: the path or the samples are NULL");
        return MDNMF_ERR_ARGUMENT;
    }
    int status = check_output_samples(samples, length, sample_rate, encoding, path, message,
                                      size);
    if (status != MDNMF_OK)
        return status;
    memory_file image = {NULL, 0, 0, 0, 0};
    status = encode_wav(&image, samples, length, sample_rate, encoding, path, message, size);
    if (status == MDNMF_OK) {
        file_chunk chunk = {image.bytes, (size_t)image.length};
        status = file_write_atomic(path, &chunk, 1, message, size);
    }
    free(image.bytes);
    return status;
}

int mdnmf_audio_write(const char *path, const float *samples, int64_t length, int sample_rate,
                      mdnmf_audio_encoding encoding, mdnmf_error *error)
{
    char message[MDNMF_ERROR_MESSAGE_SIZE] = "";
    int status =
        write_audio_file(path, samples, length, sample_rate, encoding, message, sizeof message);
    return error_report(error, status, message);
}
