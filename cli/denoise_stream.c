/* mdnmf denoise stream: denoise a live stream or a file block by block
 * with mdnmf_stream, one stream per channel.
 *
 *   mdnmf denoise stream -m MODEL.npz [-i IN] [-o OUT]
 *                        [--format s16le|f32le --rate HZ --channels N]
 *
 * IN and OUT default to standard input and output.  A sound file (WAV,
 * FLAC, ... through libsndfile) gives its rate and channels in its header;
 * raw samples (--format) need --rate and --channels.  The output has the
 * input's rate and channels, raw for raw input, else a sound file.  Blocks
 * of at most BLOCK_FRAMES frames go through as soon as they arrive, and
 * each is written at once, so that a pipe from a recorder to a player
 * works live.
 *
 * Alignment: output sample t of a stream is its estimate of input sample
 * t - L (L = mdnmf_stream_latency).  By default the first L output samples
 * are dropped and L zeros pushed at the end of the input, so the output is
 * aligned with the input and as long; --keep-latency writes the stream's
 * output as it comes (as long as the input, L samples late).
 *
 * Files: -o FILE is written under a temporary name beside it and renamed
 * into place once complete; an error or a signal removes it.  On standard
 * output the samples are written as they come.  libsndfile cannot write a
 * WAV file to a pipe (it seeks back to fill in the header at the end), so
 * a WAV on standard output is written here: its header announces the
 * input's length when the input's header gave it, else 0xFFFFFFFF (the
 * "unknown length" of streamed WAV), and is corrected at the end when
 * standard output is a regular file. */
#define _POSIX_C_SOURCE 200809L

#include "commands.h"
#include "inputs.h"
#include "outputs.h"
#include "progress.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <sndfile.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NO_FIELD CLI_NO_FIELD

static const char *const STREAM_COMMAND = "denoise stream";

/* Frames per block: 32 ms at 8 kHz, the most a live pipe waits for. */
enum { BLOCK_FRAMES = 256 };
/* Channels of one input (one stream each). */
enum { MAX_CHANNELS = 64 };
/* A WAV data size that announces no length (streamed WAV). */
static const uint32_t WAV_UNKNOWN_SIZE = 0xFFFFFFFFu;
/* Declared WAV data sizes from here on are taken as "unknown" too
 * (recorders writing to a pipe put 0x7FFFFFFF or similar there). */
static const uint32_t WAV_UNKNOWN_FROM = 0x7FFF0000u;
enum { WAV_HEADER_BYTES = 44 };

enum { OPT_FORMAT = 256, OPT_RATE, OPT_CHANNELS, OPT_LEARN_NOISE, OPT_NOISE_ATOMS,
       OPT_FORGETTING, OPT_NOISE_INTERVAL, OPT_STEPS, OPT_WIENER_EXPONENT, OPT_FLOOR, OPT_SEED,
       OPT_KEEP_LATENCY, OPT_NOISE_OUT };

#define STREAM(name) offsetof(mdnmf_stream_params, name)

static const cli_option STREAM_OPTIONS[] = {
    {"model", 'm', CLI_KIND_TEXT, "MODEL.npz", NO_FIELD, 0, NULL, cli_required,
     "denoising model saved by 'mdnmf denoise fit' (or made by 'make models')"},
    {"input", 'i', CLI_KIND_TEXT, "IN", NO_FIELD, 0, NULL, "standard input",
     "audio to denoise: a sound file (WAV, FLAC, ...: its header gives the rate and the "
     "channels) or raw samples (--format)"},
    {"output", 'o', CLI_KIND_TEXT, "OUT", NO_FIELD, 0, NULL, "standard output",
     "the speech estimate, with the input's rate and channels: raw for raw input, else a "
     "sound file (WAV on standard output); a file is renamed into place when complete, "
     "standard output is written block by block"},
    {"format", OPT_FORMAT, CLI_KIND_TEXT, "s16le|f32le", NO_FIELD, 0, NULL, "a sound file",
     "raw input and output: interleaved 16-bit integer or 32-bit float little-endian "
     "samples; needs --rate and --channels"},
    {"rate", OPT_RATE, CLI_KIND_INT, "HZ", STREAM(sample_rate), 1, NULL, "none",
     "sample rate of raw input; other rates than the model's are resampled inside"},
    {"channels", OPT_CHANNELS, CLI_KIND_TEXT, "N", NO_FIELD, 0, NULL, "none",
     "channels of raw input, each denoised on its own (1..64)"},
    {"learn-noise", OPT_LEARN_NOISE, CLI_KIND_FLAG, NULL, STREAM(learn_noise), 0, NULL, NULL,
     "adapt the noise basis to the noise heard, online, forgetting older frames"},
    {"noise-atoms", OPT_NOISE_ATOMS, CLI_KIND_INT64, "N", STREAM(noise_atoms), 1, NULL,
     "the model's noise basis",
     "start from a fresh random noise basis of N atoms instead (implies --learn-noise); a "
     "speech-only model needs it"},
    {"forgetting", OPT_FORGETTING, CLI_KIND_DOUBLE, "X", STREAM(forgetting), 0, NULL, NULL,
     "forgetting factor per frame of --learn-noise, in (0, 1): it remembers about "
     "hop / (1 - X) samples"},
    {"noise-interval", OPT_NOISE_INTERVAL, CLI_KIND_INT, "N", STREAM(noise_interval), 1, NULL,
     NULL, "frames between two updates of the noise basis (--learn-noise)"},
    {"steps", OPT_STEPS, CLI_KIND_INT, "N", STREAM(steps), 1, NULL, NULL,
     "update steps of each frame's activations, warm-started from the previous frame's"},
    {"wiener-exponent", OPT_WIENER_EXPONENT, CLI_KIND_DOUBLE, "P", STREAM(wiener_exponent), 0,
     NULL, "the model's",
     "exponent of the Wiener mask, 0..8 (0 = the model's): larger removes more noise and "
     "more speech"},
    {"floor", OPT_FLOOR, CLI_KIND_DOUBLE, "X", STREAM(floor), 0, NULL, "0, no floor",
     "smallest gain of the speech mask, 0..1: the noise is attenuated by at most "
     "-20 log10(X) dB (0.1: 20 dB)"},
    {"seed", OPT_SEED, CLI_KIND_UINT64, "S", STREAM(seed), 0, NULL, NULL,
     "seed of the initial activations and of --noise-atoms"},
    {"keep-latency", OPT_KEEP_LATENCY, CLI_KIND_FLAG, NULL, NO_FIELD, 0, NULL, "off",
     "write the stream's output as it comes: L samples late (zeros first) and without the "
     "last L samples' estimates; default: aligned with the input (docs/realtime.md)"},
    {"noise-out", OPT_NOISE_OUT, CLI_KIND_TEXT, "FILE", NO_FIELD, 0, NULL, "none",
     "also write the noise estimate (the rest of the input), in the output's format"},
    {"quiet", 'q', CLI_KIND_FLAG, NULL, NO_FIELD, 0, NULL, "off",
     "no notes, progress bar or summary (errors are still printed)"},
    CLI_HELP_OPTION,
};
enum { STREAM_OPTION_COUNT = sizeof STREAM_OPTIONS / sizeof STREAM_OPTIONS[0] };

static const cli_command STREAM_USAGE = {
    "denoise stream",
    "denoise stream -m MODEL.npz [-i IN] [-o OUT] [--format s16le|f32le --rate HZ "
    "--channels N]",
    "Denoise audio as it comes, block by block, with a model of 'denoise fit': each channel\n"
    "on its own, resampled to the model's rate and back inside. IN and OUT default to\n"
    "standard input and output (also '-'), so that\n"
    "  arecord -f S16_LE -r 8000 -c 1 -t raw | mdnmf denoise stream -m m.npz --format s16le \\\n"
    "      --rate 8000 --channels 1 | aplay -f S16_LE -r 8000 -c 1 -t raw\n"
    "denoises a microphone live. The output is aligned with the input and as long.",
    STREAM_OPTIONS,
    STREAM_OPTION_COUNT,
};

/* ------------------------------------------------------------ request */

typedef enum raw_type { RAW_S16LE = 0, RAW_F32LE = 1 } raw_type;
static const char *const RAW_TYPE_NAMES[] = {"s16le", "f32le", NULL};

typedef struct stream_request {
    const char *model, *input, *output, *noise_out;
    int raw;          /* --format given */
    raw_type type;
    int channels;     /* --channels */
    int keep_latency, quiet;
    mdnmf_stream_params params;
    int given[STREAM_OPTION_COUNT];
} stream_request;

static int store_stream_option(void *context, const cli_option *option, const char *value)
{
    stream_request *r = context;
    int type = 0;
    switch (option->key) {
    case 'm': r->model = value; break;
    case 'i': r->input = value; break;
    case 'o': r->output = value; break;
    case OPT_NOISE_OUT: r->noise_out = value; break;
    case OPT_KEEP_LATENCY: r->keep_latency = 1; break;
    case 'q': r->quiet = 1; break;
    case OPT_FORMAT:
        if (cli_parse_choice(STREAM_COMMAND, "--format", value, RAW_TYPE_NAMES, 2, &type) != 0)
            return -1;
        r->raw = 1;
        r->type = (raw_type)type;
        break;
    case OPT_CHANNELS:
        return cli_parse_int(STREAM_COMMAND, "--channels", value, 1, &r->channels);
    }
    return 0;
}

static int given(const stream_request *r, int key)
{
    for (int i = 0; i < STREAM_OPTION_COUNT; i++) {
        if (STREAM_OPTIONS[i].key == key)
            return r->given[i];
    }
    return 0;
}

/* --format, --rate and --channels go together, and only for raw input. */
static int check_raw_options(const stream_request *r)
{
    if (r->raw && (!given(r, OPT_RATE) || !given(r, OPT_CHANNELS))) {
        cli_error(STREAM_COMMAND, "--format %s: raw samples carry no header: give --rate HZ "
                  "and --channels N", RAW_TYPE_NAMES[r->type]);
        return -1;
    }
    if (!r->raw && (given(r, OPT_RATE) || given(r, OPT_CHANNELS))) {
        cli_error(STREAM_COMMAND, "--%s is for raw input (with --format s16le|f32le): a sound "
                  "file's header gives its rate and channels", given(r, OPT_RATE) ? "rate"
                                                                            : "channels");
        return -1;
    }
    if (r->raw && (r->params.sample_rate < MDNMF_AUDIO_MIN_RATE ||
                   r->params.sample_rate > MDNMF_AUDIO_MAX_RATE)) {
        cli_error(STREAM_COMMAND, "--rate %d: rates must lie in %d..%d Hz",
                  r->params.sample_rate, MDNMF_AUDIO_MIN_RATE, MDNMF_AUDIO_MAX_RATE);
        return -1;
    }
    if (r->raw && r->channels > MAX_CHANNELS) {
        cli_error(STREAM_COMMAND, "--channels %d: at most %d channels", r->channels,
                  MAX_CHANNELS);
        return -1;
    }
    return 0;
}

/* The ranges the option table cannot say, and settings of --learn-noise
 * without it. */
static int check_stream_settings(stream_request *r)
{
    const mdnmf_stream_params *p = &r->params;
    if (p->noise_atoms > 0)
        r->params.learn_noise = 1;
    if (given(r, OPT_FORGETTING) && !(p->forgetting > 0.0 && p->forgetting < 1.0)) {
        cli_error(STREAM_COMMAND, "--forgetting %g: give a value between 0 and 1 (exclusive), "
                  "e.g. 0.99", p->forgetting);
        return -1;
    }
    if (p->wiener_exponent > 8.0) {
        cli_error(STREAM_COMMAND, "--wiener-exponent %g: give a value in 0..8",
                  p->wiener_exponent);
        return -1;
    }
    if (p->floor > 1.0) {
        cli_error(STREAM_COMMAND, "--floor %g: give a gain in 0..1 (0.1 = at most 20 dB less "
                  "noise)", p->floor);
        return -1;
    }
    int learning_option = given(r, OPT_FORGETTING) ? OPT_FORGETTING
                          : given(r, OPT_NOISE_INTERVAL) ? OPT_NOISE_INTERVAL : 0;
    if (learning_option && !p->learn_noise) {
        cli_error(STREAM_COMMAND, "--%s is a setting of --learn-noise: add --learn-noise or "
                  "drop it", learning_option == OPT_FORGETTING ? "forgetting"
                                                                 : "noise-interval");
        return -1;
    }
    return 0;
}

static int check_outputs(const stream_request *r)
{
    if (r->output[0] == '\0' || (r->noise_out && r->noise_out[0] == '\0')) {
        cli_error(STREAM_COMMAND, "%s: an empty file name", r->output[0] ? "--noise-out" : "-o");
        return -1;
    }
    if (r->noise_out && (strcmp(r->noise_out, r->output) == 0 ||
                         (cli_output_is_stdout(r->noise_out) && cli_output_is_stdout(r->output)))) {
        cli_error(STREAM_COMMAND, "--noise-out %s: is also the speech output (-o %s): give "
                  "another file", r->noise_out, r->output);
        return -1;
    }
    return 0;
}

/* Returns -1 to go on, or the exit code. */
static int parse_stream_request(int argc, char **argv, stream_request *r)
{
    mdnmf_stream_params_default(&r->params);
    /* What the usage shows: the library's defaults behind the zeros. */
    mdnmf_stream_params shown;
    mdnmf_stream_params_default(&shown);
    shown.steps = MDNMF_STREAM_DEFAULT_STEPS;
    shown.forgetting = MDNMF_STREAM_DEFAULT_FORGETTING;
    shown.noise_interval = 1;
    r->input = "-";
    r->output = "-";
    int code = cli_parse_exit(cli_parse_options(&STREAM_USAGE, argc, argv, &r->params, &shown,
                                                r->given, store_stream_option, r));
    if (code >= 0)
        return code;
    if (check_raw_options(r) != 0 || check_stream_settings(r) != 0 || check_outputs(r) != 0)
        return CLI_EXIT_USAGE;
    return -1;
}

/* ------------------------------------------------------ sample coding */

/* 16-bit codes round(x · 32768) clipped to -32768..32767, as the library
 * writes 16-bit WAV (the inverse of reading code / 32768). */
static int16_t pcm16_code(float x)
{
    double code = nearbyint((double)x * 32768.0);
    return (int16_t)(code > 32767.0 ? 32767.0 : code < -32768.0 ? -32768.0 : code);
}

static void encode_samples(raw_type type, const float *x, size_t count, unsigned char *out)
{
    for (size_t i = 0; i < count; i++) {
        if (type == RAW_S16LE) {
            uint16_t code = (uint16_t)pcm16_code(x[i]);
            out[2 * i] = (unsigned char)(code & 0xFF);
            out[2 * i + 1] = (unsigned char)(code >> 8);
        } else {
            uint32_t bits;
            memcpy(&bits, &x[i], sizeof bits);
            for (int b = 0; b < 4; b++)
                out[4 * i + (size_t)b] = (unsigned char)(bits >> (8 * b));
        }
    }
}

static void decode_samples(raw_type type, const unsigned char *in, size_t count, float *x)
{
    for (size_t i = 0; i < count; i++) {
        if (type == RAW_S16LE) {
            uint16_t code = (uint16_t)(in[2 * i] | (in[2 * i + 1] << 8));
            x[i] = (float)(int16_t)code / 32768.0f;
        } else {
            uint32_t bits = 0;
            for (int b = 0; b < 4; b++)
                bits |= (uint32_t)in[4 * i + (size_t)b] << (8 * b);
            memcpy(&x[i], &bits, sizeof bits);
        }
    }
}

static size_t sample_bytes(raw_type type)
{
    return type == RAW_S16LE ? 2 : 4;
}

/* Every byte, through EINTR and short writes.  0, or -1 with errno. */
static int write_all(int fd, const unsigned char *bytes, size_t count)
{
    while (count > 0) {
        ssize_t wrote = write(fd, bytes, count);
        if (wrote < 0 && errno == EINTR)
            continue;
        if (wrote <= 0)
            return -1;
        bytes += wrote;
        count -= (size_t)wrote;
    }
    return 0;
}

/* ------------------------------------------------------------- input */

typedef struct audio_source {
    const char *name;   /* the path, or "standard input" (messages) */
    int fd, owns_fd;
    int regular;        /* a regular file: its length is known */
    int raw;
    raw_type type;
    SNDFILE *sound;     /* a sound file (not raw) */
    SF_INFO info;
    int channels, rate;
    int64_t expected;   /* frames the header announces, -1 unknown */
    int64_t frames;     /* frames read so far */
    unsigned char *pending; /* raw bytes read, not yet a whole frame */
    size_t pending_bytes;
} audio_source;

/* Bytes per frame of a WAV sample encoding libsndfile reads (0: one this
 * check does not know). */
static size_t wav_frame_bytes(const SF_INFO *info)
{
    switch (info->format & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_PCM_U8: return (size_t)info->channels;
    case SF_FORMAT_PCM_16: return 2 * (size_t)info->channels;
    case SF_FORMAT_PCM_24: return 3 * (size_t)info->channels;
    case SF_FORMAT_PCM_32:
    case SF_FORMAT_FLOAT: return 4 * (size_t)info->channels;
    case SF_FORMAT_DOUBLE: return 8 * (size_t)info->channels;
    default: return 0;
    }
}

static uint32_t little_endian32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The data size a regular WAV file's header declares, and the bytes that
 * follow the data chunk's header in the file: a walk over the RIFF chunks
 * (libsndfile shortens a truncated file's length silently).  0, or -1 when
 * there is no data chunk to be found this way. */
static int wav_data_sizes(int fd, uint32_t *declared, int64_t *available)
{
    struct stat st;
    unsigned char head[12];
    if (fstat(fd, &st) != 0 || pread(fd, head, sizeof head, 0) != (ssize_t)sizeof head ||
        memcmp(head, "RIFF", 4) != 0 || memcmp(head + 8, "WAVE", 4) != 0)
        return -1;
    int64_t offset = 12;
    for (int chunk = 0; chunk < 64 && offset + 8 <= (int64_t)st.st_size; chunk++) {
        unsigned char header[8];
        if (pread(fd, header, sizeof header, (off_t)offset) != (ssize_t)sizeof header)
            return -1;
        uint32_t size = little_endian32(header + 4);
        if (memcmp(header, "data", 4) == 0) {
            *declared = size;
            *available = (int64_t)st.st_size - (offset + 8);
            return 0;
        }
        offset += 8 + (int64_t)size + (size & 1);
    }
    return -1;
}

/* The frames a WAV input's header announces (-1: unknown, or not WAV). */
static int64_t announced_frames(const audio_source *in)
{
    size_t frame = wav_frame_bytes(&in->info);
    if ((in->info.format & SF_FORMAT_TYPEMASK) != SF_FORMAT_WAV || frame == 0)
        return -1;
    if (in->regular) {
        uint32_t declared = 0;
        int64_t available = 0;
        if (wav_data_sizes(in->fd, &declared, &available) != 0 || declared == 0 ||
            declared >= WAV_UNKNOWN_FROM)
            return -1;
        return (int64_t)(declared / frame);
    }
    /* A pipe: libsndfile took the length from the header. */
    if (in->info.frames <= 0 || in->info.frames >= (sf_count_t)(WAV_UNKNOWN_FROM / frame))
        return -1;
    return in->info.frames;
}

static int refuse_truncated(const audio_source *in, int64_t frames)
{
    cli_error(STREAM_COMMAND, "%s: truncated: the header announces %" PRId64 " frames, the "
              "data holds %" PRId64 ": copy or record the file again", in->name, in->expected,
              frames);
    return -1;
}

static int open_sound_input(audio_source *in)
{
    memset(&in->info, 0, sizeof in->info);
    in->sound = sf_open_fd(in->fd, SFM_READ, &in->info, 0);
    if (!in->sound) {
        cli_error(STREAM_COMMAND, "%s: not a readable sound file (%s): for raw samples give "
                  "--format s16le|f32le, --rate and --channels", in->name, sf_strerror(NULL));
        return -1;
    }
    in->channels = in->info.channels;
    in->rate = in->info.samplerate;
    if (in->channels < 1 || in->channels > MAX_CHANNELS) {
        cli_error(STREAM_COMMAND, "%s: %d channels: at most %d can be denoised", in->name,
                  in->channels, MAX_CHANNELS);
        return -1;
    }
    if (in->rate < MDNMF_AUDIO_MIN_RATE || in->rate > MDNMF_AUDIO_MAX_RATE) {
        cli_error(STREAM_COMMAND, "%s: %d Hz: rates must lie in %d..%d Hz", in->name, in->rate,
                  MDNMF_AUDIO_MIN_RATE, MDNMF_AUDIO_MAX_RATE);
        return -1;
    }
    in->expected = announced_frames(in);
    /* A regular file's data is all there now: refuse a short one before
     * anything is written. */
    if (in->regular && in->expected >= 0 && in->info.frames < in->expected)
        return refuse_truncated(in, in->info.frames);
    return 0;
}

static int open_source(const stream_request *r, audio_source *in)
{
    in->fd = -1;
    in->expected = -1;
    if (strcmp(r->input, "-") == 0) {
        in->name = "standard input";
        in->fd = STDIN_FILENO;
        if (isatty(in->fd)) {
            cli_error(STREAM_COMMAND, "standard input is a terminal: pipe audio in or give "
                      "-i FILE");
            return -1;
        }
    } else {
        in->name = r->input;
        in->fd = open(r->input, O_RDONLY);
        if (in->fd < 0) {
            cli_error(STREAM_COMMAND, "%s: cannot open: %s", r->input, strerror(errno));
            return -1;
        }
        in->owns_fd = 1;
    }
    struct stat st;
    if (fstat(in->fd, &st) != 0) {
        cli_error(STREAM_COMMAND, "%s: cannot read: %s", in->name, strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        cli_error(STREAM_COMMAND, "%s: cannot read: is a folder", in->name);
        return -1;
    }
    in->regular = S_ISREG(st.st_mode);
    in->raw = r->raw;
    if (!r->raw)
        return open_sound_input(in);
    in->type = r->type;
    in->channels = r->channels;
    in->rate = r->params.sample_rate;
    in->pending = malloc((size_t)BLOCK_FRAMES * (size_t)in->channels * 4);
    if (!in->pending) {
        cli_error(STREAM_COMMAND, "out of memory");
        return -1;
    }
    return 0;
}

/* Frames known before reading: for the progress bar and a WAV header. */
static int64_t source_length(const audio_source *in)
{
    if (!in->raw)
        return in->regular ? (int64_t)in->info.frames : in->expected;
    struct stat st;
    if (!in->regular || fstat(in->fd, &st) != 0)
        return -1;
    return (int64_t)st.st_size / (int64_t)(sample_bytes(in->type) * (size_t)in->channels);
}

/* Waits until `fd` has data (or its end): 0, or -2 once a signal was
 * caught.  The signal may reach another thread (the library's pools), so
 * a read blocked on a stalled pipe would not return for it: the wait looks
 * at the flag every 100 ms. */
static int wait_readable(int fd)
{
    for (;;) {
        if (cli_interrupted())
            return -2;
        struct pollfd poller = {.fd = fd, .events = POLLIN};
        int ready = poll(&poller, 1, 100);
        if (ready > 0 || (ready < 0 && errno != EINTR))
            return 0; /* data, the end, or an error the read reports */
    }
}

/* Up to `capacity` frames of raw samples, as many as one read brings
 * (whole frames only: a live pipe's block goes on at once).  Frames read,
 * 0 at the end, -1 after one line, -2 on a signal. */
static int read_raw(audio_source *in, float *frames, int capacity)
{
    size_t frame = sample_bytes(in->type) * (size_t)in->channels;
    size_t room = (size_t)capacity * frame;
    for (;;) {
        if (wait_readable(in->fd) != 0)
            return -2;
        ssize_t got = read(in->fd, in->pending + in->pending_bytes, room - in->pending_bytes);
        if (got < 0 && errno == EINTR) {
            if (cli_interrupted())
                return -2;
            continue;
        }
        if (got < 0) {
            cli_error(STREAM_COMMAND, "%s: cannot read: %s", in->name, strerror(errno));
            return -1;
        }
        if (got == 0) {
            if (in->pending_bytes == 0)
                return 0;
            cli_error(STREAM_COMMAND, "%s: truncated: it ends with %zu bytes that are not a "
                      "whole frame of %d %s samples", in->name, in->pending_bytes,
                      in->channels, RAW_TYPE_NAMES[in->type]);
            return -1;
        }
        in->pending_bytes += (size_t)got;
        size_t whole = in->pending_bytes / frame;
        if (whole == 0)
            continue;
        decode_samples(in->type, in->pending, whole * (size_t)in->channels, frames);
        in->pending_bytes -= whole * frame;
        memmove(in->pending, in->pending + whole * frame, in->pending_bytes);
        return (int)whole;
    }
}

static int read_sound(audio_source *in, float *frames, int capacity)
{
    sf_count_t got = sf_readf_float(in->sound, frames, capacity);
    if (got > 0)
        return (int)got;
    if (sf_error(in->sound) != SF_ERR_NO_ERROR) {
        cli_error(STREAM_COMMAND, "%s: cannot decode: %s", in->name, sf_strerror(in->sound));
        return -1;
    }
    return 0;
}

/* The next block (see read_raw's returns); at the end, a header that
 * announced more frames than came is a truncated input. */
static int read_block(audio_source *in, float *frames, int capacity)
{
    int got = in->raw ? read_raw(in, frames, capacity) : read_sound(in, frames, capacity);
    if (got > 0)
        in->frames += got;
    if (got == 0 && in->expected >= 0 && in->frames < in->expected)
        return refuse_truncated(in, in->frames);
    return got;
}

static void close_source(audio_source *in)
{
    if (in->sound)
        sf_close(in->sound);
    if (in->owns_fd && in->fd >= 0)
        close(in->fd);
    free(in->pending);
}

/* ------------------------------------------------------------ output */

typedef enum sink_kind {
    SINK_RAW,        /* raw samples, to standard output or a file */
    SINK_WAV_STREAM, /* a WAV written here, to standard output */
    SINK_SOUND_FILE  /* libsndfile, into -o FILE's temporary file */
} sink_kind;

typedef struct audio_sink {
    const char *name;  /* the path, or "standard output" */
    sink_kind kind;
    raw_type type;     /* samples of SINK_RAW and SINK_WAV_STREAM */
    int fd;
    cli_output file;   /* -o FILE: the temporary file renamed at the end */
    SNDFILE *sound;
    int pcm16;         /* SINK_SOUND_FILE of 16-bit samples: coded here */
    int channels, rate;
    int64_t frames;    /* written so far */
    int64_t announced; /* frames a WAV stream's header announces, -1 unknown */
    unsigned char *bytes;
    int16_t *codes;
} audio_sink;

static void put_le16(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v & 0xFF), p[1] = (unsigned char)(v >> 8 & 0xFF);
}

static void put_le32(unsigned char *p, uint32_t v)
{
    put_le16(p, v & 0xFFFF), put_le16(p + 2, v >> 16);
}

/* The canonical 44-byte header of PCM (format 1) or IEEE float (3) WAV. */
static void wav_header(unsigned char *h, const audio_sink *sink, uint32_t data_bytes)
{
    uint32_t bytes = (uint32_t)sample_bytes(sink->type);
    uint32_t block = bytes * (uint32_t)sink->channels;
    memcpy(h, "RIFF", 4);
    put_le32(h + 4, data_bytes == WAV_UNKNOWN_SIZE ? WAV_UNKNOWN_SIZE : data_bytes + 36);
    memcpy(h + 8, "WAVEfmt ", 8);
    put_le32(h + 16, 16);
    put_le16(h + 20, sink->type == RAW_S16LE ? 1 : 3);
    put_le16(h + 22, (uint32_t)sink->channels);
    put_le32(h + 24, (uint32_t)sink->rate);
    put_le32(h + 28, (uint32_t)sink->rate * block);
    put_le16(h + 32, block);
    put_le16(h + 34, bytes * 8);
    memcpy(h + 36, "data", 4);
    put_le32(h + 40, data_bytes);
}

/* The data size of `frames` frames in a WAV header, or "unknown". */
static uint32_t wav_data_size(const audio_sink *sink, int64_t frames)
{
    int64_t bytes = frames * (int64_t)(sample_bytes(sink->type) * (size_t)sink->channels);
    return frames < 0 || bytes > (int64_t)UINT32_MAX - 36 ? WAV_UNKNOWN_SIZE : (uint32_t)bytes;
}

/* The encoding a sound file's samples come back in: 16-bit PCM for
 * formats of at most 16 bits, else 32-bit float. */
static int is_small_integer(int format)
{
    switch (format & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_PCM_S8:
    case SF_FORMAT_PCM_U8:
    case SF_FORMAT_PCM_16:
    case SF_FORMAT_ULAW:
    case SF_FORMAT_ALAW:
    case SF_FORMAT_IMA_ADPCM:
    case SF_FORMAT_MS_ADPCM:
    case SF_FORMAT_GSM610:
    case SF_FORMAT_G721_32:
    case SF_FORMAT_G723_24:
    case SF_FORMAT_G723_40:
        return 1;
    default:
        return 0;
    }
}

static int refuse_terminal(const audio_sink *sink)
{
    if (!isatty(sink->fd))
        return 0;
    cli_error(STREAM_COMMAND, "standard output is a terminal: redirect it to a file or a "
              "player, or give -o FILE");
    return -1;
}

/* The input's format if libsndfile can write it, else WAV of the input's
 * sample encoding, else WAV of 16-bit or float samples. */
static int sound_file_format(const SF_INFO *input)
{
    int candidates[3] = {input->format, SF_FORMAT_WAV | (input->format & SF_FORMAT_SUBMASK),
                         SF_FORMAT_WAV | (is_small_integer(input->format) ? SF_FORMAT_PCM_16
                                                                          : SF_FORMAT_FLOAT)};
    for (int i = 0; i < 3; i++) {
        SF_INFO probe = *input;
        probe.format = candidates[i];
        if (sf_format_check(&probe))
            return candidates[i];
    }
    return candidates[2];
}

static int open_sound_sink(audio_sink *sink, const audio_source *in)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = in->rate;
    info.channels = in->channels;
    info.format = sound_file_format(&in->info);
    sink->sound = sf_open_fd(fileno(sink->file.stream), SFM_WRITE, &info, 0);
    if (!sink->sound) {
        cli_error(STREAM_COMMAND, "%s: cannot write a sound file: %s", sink->name,
                  sf_strerror(NULL));
        return -1;
    }
    sink->pcm16 = (info.format & SF_FORMAT_SUBMASK) == SF_FORMAT_PCM_16;
    sf_command(sink->sound, SFC_SET_CLIPPING, NULL, SF_TRUE);
    return 0;
}

/* Opens `path` ("-": standard output) for the source's format. */
static int open_sink(audio_sink *sink, const char *path, const audio_source *in)
{
    sink->fd = -1;
    sink->channels = in->channels;
    sink->rate = in->rate;
    sink->announced = -1;
    int to_stdout = cli_output_is_stdout(path);
    sink->name = to_stdout ? "standard output" : path;
    sink->kind = in->raw ? SINK_RAW : to_stdout ? SINK_WAV_STREAM : SINK_SOUND_FILE;
    sink->type = in->raw ? in->type : is_small_integer(in->info.format) ? RAW_S16LE : RAW_F32LE;
    size_t samples = (size_t)BLOCK_FRAMES * (size_t)in->channels;
    sink->bytes = malloc(samples * 4);
    sink->codes = malloc(samples * sizeof *sink->codes);
    if (!sink->bytes || !sink->codes) {
        cli_error(STREAM_COMMAND, "out of memory");
        return -1;
    }
    if (to_stdout) {
        sink->fd = STDOUT_FILENO;
        return refuse_terminal(sink);
    }
    if (cli_output_open(&sink->file, STREAM_COMMAND, path) != 0)
        return -1;
    sink->fd = fileno(sink->file.stream);
    return sink->kind == SINK_SOUND_FILE ? open_sound_sink(sink, in) : 0;
}

static int report_write_failure(const audio_sink *sink)
{
    int error = errno;
    if (sink->kind == SINK_SOUND_FILE && sink->sound && sf_error(sink->sound))
        cli_error(STREAM_COMMAND, "%s: cannot write: %s", sink->name, sf_strerror(sink->sound));
    else
        cli_error(STREAM_COMMAND, "%s: cannot write (%s)%s", sink->name,
                  error ? strerror(error) : "write error",
                  sink->file.stream ? ": check the free space and the folder" : "");
    return -1;
}

/* A WAV stream's header goes first, announcing `frames` (-1: unknown). */
static int start_sink(audio_sink *sink, int64_t frames)
{
    if (sink->kind != SINK_WAV_STREAM)
        return 0;
    unsigned char header[WAV_HEADER_BYTES];
    sink->announced = frames;
    wav_header(header, sink, wav_data_size(sink, frames));
    return write_all(sink->fd, header, sizeof header) == 0 ? 0 : report_write_failure(sink);
}

/* `count` interleaved frames; 0, or -1 after one line. */
static int write_frames(audio_sink *sink, const float *frames, int count)
{
    size_t samples = (size_t)count * (size_t)sink->channels;
    errno = 0;
    if (sink->kind == SINK_SOUND_FILE) {
        sf_count_t wrote;
        if (sink->pcm16) {
            for (size_t i = 0; i < samples; i++)
                sink->codes[i] = pcm16_code(frames[i]);
            wrote = sf_writef_short(sink->sound, sink->codes, count);
        } else {
            wrote = sf_writef_float(sink->sound, frames, count);
        }
        if (wrote != count)
            return report_write_failure(sink);
    } else {
        encode_samples(sink->type, frames, samples, sink->bytes);
        if (write_all(sink->fd, sink->bytes, samples * sample_bytes(sink->type)) != 0)
            return report_write_failure(sink);
    }
    sink->frames += count;
    return 0;
}

/* A WAV stream whose header did not know the length, on a regular file
 * (not appended to): the sizes are written in now. */
static void correct_wav_header(audio_sink *sink)
{
    uint32_t size = wav_data_size(sink, sink->frames);
    int flags = fcntl(sink->fd, F_GETFL);
    off_t end = lseek(sink->fd, 0, SEEK_CUR);
    if (sink->announced == sink->frames || size == WAV_UNKNOWN_SIZE || flags < 0 ||
        (flags & O_APPEND) || end != (off_t)(WAV_HEADER_BYTES + (int64_t)size))
        return;
    unsigned char header[WAV_HEADER_BYTES];
    wav_header(header, sink, size);
    if (pwrite(sink->fd, header, sizeof header, 0) != (ssize_t)sizeof header) {
        /* The samples are all there; only the length stays "unknown". */
    }
}

/* The end: a file is completed and renamed into place. */
static int finish_sink(audio_sink *sink)
{
    if (sink->kind == SINK_WAV_STREAM)
        correct_wav_header(sink);
    if (sink->sound) {
        int closed = sf_close(sink->sound);
        sink->sound = NULL;
        if (closed != 0) {
            cli_error(STREAM_COMMAND, "%s: cannot write: %s", sink->name, sf_error_number(closed));
            return -1;
        }
    }
    if (sink->file.stream)
        return cli_output_commit(&sink->file, STREAM_COMMAND);
    return 0;
}

/* Without finish_sink: a file output is removed. */
static void close_sink(audio_sink *sink)
{
    if (sink->sound)
        sf_close(sink->sound);
    cli_output_discard(&sink->file);
    free(sink->bytes);
    free(sink->codes);
}

/* ------------------------------------------------------------ streams */

typedef struct stream_run {
    audio_source in;
    audio_sink speech, noise;
    int want_noise;
    cli_input_files inputs;
    mdnmf_model *model;
    mdnmf_stream *streams[MAX_CHANNELS];
    int64_t latency;
    int64_t skip;        /* output frames still to drop (alignment) */
    float *block;        /* BLOCK_FRAMES interleaved frames (input, then output) */
    float *channel_in, *channel_speech, *channel_noise; /* channels x BLOCK_FRAMES */
    float *noise_block;  /* interleaved noise estimate */
    int64_t total;       /* input frames known in advance, -1 unknown */
    int show_bar;
    double started, last_drawn;
    int bar_on_screen;
} stream_run;

static int load_model(const stream_request *r, stream_run *run)
{
    run->model = cli_load_model(STREAM_COMMAND, r->model);
    if (!run->model)
        return -1;
    const mdnmf_audio_params *audio = mdnmf_model_audio(run->model);
    if (!audio || audio->sample_rate <= 0) {
        cli_error(STREAM_COMMAND, "%s: the model has no audio front end (sample rate, STFT "
                  "sizes): make it with 'mdnmf denoise fit'", r->model);
        return -1;
    }
    if (mdnmf_model_source_count(run->model) < 2 && r->params.noise_atoms == 0) {
        cli_error(STREAM_COMMAND, "%s: a model of one source (speech only): give --noise-atoms "
                  "N to learn a noise basis while streaming", r->model);
        return -1;
    }
    return 0;
}

static int create_streams(const stream_request *r, stream_run *run)
{
    mdnmf_stream_params params = r->params;
    params.sample_rate = run->in.rate;
    for (int c = 0; c < run->in.channels; c++) {
        mdnmf_error error;
        run->streams[c] = mdnmf_stream_create(run->model, &params, &error);
        if (!run->streams[c]) {
            cli_error(STREAM_COMMAND, "%s: cannot stream with this model: %s", r->model,
                      error.message);
            return -1;
        }
    }
    run->latency = mdnmf_stream_latency(run->streams[0]);
    run->skip = r->keep_latency ? 0 : run->latency;
    size_t samples = (size_t)BLOCK_FRAMES * (size_t)run->in.channels;
    run->block = malloc(samples * sizeof *run->block);
    run->noise_block = malloc(samples * sizeof *run->noise_block);
    run->channel_in = malloc(samples * sizeof *run->channel_in);
    run->channel_speech = malloc(samples * sizeof *run->channel_speech);
    run->channel_noise = malloc(samples * sizeof *run->channel_noise);
    if (!run->block || !run->noise_block || !run->channel_in || !run->channel_speech ||
        !run->channel_noise) {
        cli_error(STREAM_COMMAND, "out of memory");
        return -1;
    }
    return 0;
}

/* No output may be the input or the model (the same file under any name). */
static int refuse_outputs_of_inputs(const stream_request *r, stream_run *run)
{
    struct stat st;
    const char *paths[2] = {r->model, NULL};
    if (strcmp(r->input, "-") != 0)
        paths[1] = r->input;
    else if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode))
        paths[1] = "/dev/stdin"; /* `< in.wav -o in.wav` */
    if (cli_inputs_note(STREAM_COMMAND, &run->inputs, paths, 2) != 0 ||
        cli_refuse_input_as_output(STREAM_COMMAND, "-o", r->output, &run->inputs) != 0 ||
        cli_refuse_input_as_output(STREAM_COMMAND, "--noise-out", r->noise_out,
                                   &run->inputs) != 0)
        return -1;
    return 0;
}

static void print_notes(const stream_request *r, const stream_run *run)
{
    int model_rate = mdnmf_model_audio(run->model)->sample_rate;
    if (r->quiet || run->in.rate == model_rate)
        return;
    cli_error(STREAM_COMMAND, "note: %s is %d Hz: resampled to the model's %d Hz and back "
              "inside the stream (latency %" PRId64 " samples)", run->in.name, run->in.rate,
              model_rate, run->latency);
}

/* ------------------------------------------------------ the block loop */

static void draw_progress(stream_run *run, int last)
{
    double now = cli_monotonic_seconds();
    if (!run->show_bar || (!last && now - run->last_drawn < 0.1))
        return;
    enum { WIDTH = 20 };
    char bar[WIDTH + 1];
    int64_t done = run->in.frames < run->total ? run->in.frames : run->total;
    int filled = run->total > 0 ? (int)(WIDTH * done / run->total) : WIDTH;
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < filled ? '#' : '-';
    bar[WIDTH] = '\0';
    fprintf(stderr, "\rdenoise stream [%s] %.1f/%.1f s\033[K", bar,
            (double)done / run->in.rate, (double)run->total / run->in.rate);
    fflush(stderr);
    run->bar_on_screen = 1;
    run->last_drawn = now;
}

static void end_progress(stream_run *run)
{
    if (run->bar_on_screen)
        fputc('\n', stderr);
    run->bar_on_screen = 0;
}

/* Frames [from, count) of every channel, interleaved into `out`. */
static void interleave(const float *channels, int channel_count, int from, int count,
                       float *out)
{
    for (int t = from; t < count; t++) {
        for (int c = 0; c < channel_count; c++)
            out[(size_t)(t - from) * (size_t)channel_count + (size_t)c] =
                channels[(size_t)c * BLOCK_FRAMES + (size_t)t];
    }
}

/* `count` interleaved input frames in run->block through the streams;
 * the output frames past the ones still to drop are written. */
static int process_block(stream_run *run, int count)
{
    int channels = run->in.channels;
    for (int t = 0; t < count; t++) {
        for (int c = 0; c < channels; c++)
            run->channel_in[(size_t)c * BLOCK_FRAMES + (size_t)t] =
                run->block[(size_t)t * (size_t)channels + (size_t)c];
    }
    for (int c = 0; c < channels; c++) {
        size_t at = (size_t)c * BLOCK_FRAMES;
        mdnmf_error error;
        if (mdnmf_stream_process(run->streams[c], run->channel_in + at, count,
                                 run->channel_speech + at,
                                 run->want_noise ? run->channel_noise + at : NULL,
                                 &error) != MDNMF_OK) {
            cli_error(STREAM_COMMAND, "%s: %s", run->in.name, error.message);
            return -1;
        }
    }
    int drop = run->skip < count ? (int)run->skip : count;
    run->skip -= drop;
    if (drop == count)
        return 0;
    interleave(run->channel_speech, channels, drop, count, run->block);
    if (write_frames(&run->speech, run->block, count - drop) != 0)
        return -1;
    if (!run->want_noise)
        return 0;
    interleave(run->channel_noise, channels, drop, count, run->noise_block);
    return write_frames(&run->noise, run->noise_block, count - drop);
}

/* Aligned output: L zeros push the last L input samples' estimates out. */
static int flush_latency(stream_run *run)
{
    for (int64_t left = run->latency; left > 0;) {
        int count = left < BLOCK_FRAMES ? (int)left : BLOCK_FRAMES;
        memset(run->block, 0, (size_t)count * (size_t)run->in.channels * sizeof *run->block);
        if (process_block(run, count) != 0)
            return -1;
        left -= count;
    }
    return 0;
}

/* The exit code of a run stopped by a signal, after one line. */
static int report_interrupted(const stream_run *run)
{
    if (run->speech.fd == STDOUT_FILENO && run->speech.frames > 0)
        cli_error(STREAM_COMMAND, "interrupted by %s: stopped after %.1f s of audio on "
                  "standard output%s", cli_interrupt_name(),
                  (double)run->speech.frames / run->in.rate,
                  run->want_noise ? " (--noise-out not written)" : "");
    else
        cli_error(STREAM_COMMAND, "interrupted by %s: nothing written", cli_interrupt_name());
    return CLI_EXIT_INTERRUPTED;
}

static int stream_all(const stream_request *r, stream_run *run)
{
    for (;;) {
        if (cli_interrupted())
            return report_interrupted(run);
        int got = read_block(&run->in, run->block, BLOCK_FRAMES);
        if (got == -2)
            return report_interrupted(run);
        if (got < 0)
            return CLI_EXIT_RUNTIME;
        if (got == 0)
            break;
        if (process_block(run, got) != 0)
            return CLI_EXIT_RUNTIME;
        draw_progress(run, 0);
    }
    if (cli_interrupted())
        return report_interrupted(run);
    if (!r->keep_latency && flush_latency(run) != 0)
        return CLI_EXIT_RUNTIME;
    draw_progress(run, 1);
    end_progress(run);
    if (cli_interrupted())
        return report_interrupted(run);
    if (finish_sink(&run->speech) != 0 || (run->want_noise && finish_sink(&run->noise) != 0))
        return CLI_EXIT_RUNTIME;
    return CLI_EXIT_OK;
}

/* Signals end the run through its clean-up; a blocked read of a pipe
 * returns for them (the shared handler restarts system calls).  A reader
 * that goes away (the player quits) is a write error (EPIPE), reported,
 * and a --noise-out file is removed, instead of a death by SIGPIPE. */
static void catch_signals(void)
{
    signal(SIGPIPE, SIG_IGN);
    cli_signals_install();
    const int signals[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        struct sigaction action;
        if (sigaction(signals[i], NULL, &action) == 0) {
            action.sa_flags &= ~SA_RESTART;
            sigaction(signals[i], &action, NULL);
        }
    }
}

static int open_outputs(const stream_request *r, stream_run *run)
{
    run->want_noise = r->noise_out != NULL;
    if (open_sink(&run->speech, r->output, &run->in) != 0 ||
        (run->want_noise && open_sink(&run->noise, r->noise_out, &run->in) != 0))
        return -1;
    /* Aligned or not, the output is as long as the input. */
    if (start_sink(&run->speech, run->in.raw ? -1 : run->in.expected) != 0 ||
        (run->want_noise && start_sink(&run->noise, run->in.raw ? -1 : run->in.expected) != 0))
        return -1;
    return 0;
}

static void report_throughput(const stream_request *r, const stream_run *run, double seconds)
{
    if (r->quiet || strcmp(r->input, "-") == 0)
        return;
    double audio = (double)run->in.frames / run->in.rate;
    fprintf(stderr, "mdnmf %s: %.1f s of audio (%d channel%s at %d Hz) in %.2f s (%.0fx real "
            "time)\n", STREAM_COMMAND, audio, run->in.channels, run->in.channels > 1 ? "s" : "",
            run->in.rate, seconds, seconds > 0 ? audio / seconds : 0.0);
}

static void release_run(stream_run *run)
{
    close_sink(&run->speech);
    close_sink(&run->noise);
    close_source(&run->in);
    for (int c = 0; c < MAX_CHANNELS; c++)
        mdnmf_stream_destroy(run->streams[c]);
    mdnmf_model_destroy(run->model);
    cli_inputs_free(&run->inputs);
    free(run->block), free(run->noise_block);
    free(run->channel_in), free(run->channel_speech), free(run->channel_noise);
}

int cli_denoise_stream(int argc, char **argv)
{
    stream_request request;
    memset(&request, 0, sizeof request);
    int code = parse_stream_request(argc, argv, &request);
    if (code >= 0)
        return code;
    catch_signals();
    stream_run run;
    memset(&run, 0, sizeof run);
    run.in.fd = -1;
    double started = cli_monotonic_seconds();
    code = CLI_EXIT_RUNTIME;
    if (refuse_outputs_of_inputs(&request, &run) == 0 && load_model(&request, &run) == 0 &&
        open_source(&request, &run.in) == 0 && create_streams(&request, &run) == 0 &&
        open_outputs(&request, &run) == 0) {
        print_notes(&request, &run);
        run.total = source_length(&run.in);
        run.show_bar = run.total > 0 && strcmp(request.input, "-") != 0 &&
                       cli_progress_bar_wanted(request.quiet);
        code = stream_all(&request, &run);
    } else if (cli_interrupted()) {
        code = report_interrupted(&run);
    }
    if (code == CLI_EXIT_OK)
        report_throughput(&request, &run, cli_monotonic_seconds() - started);
    release_run(&run);
    return code;
}
