/* mdnmf denoise: speech denoising of recordings with a two-source separator
 * (speech, noise) on magnitude spectrograms (SPEC §6 and §7): the group of
 * `denoise fit` (denoise_fit.c), `denoise apply` (denoise_apply.c) and
 * `denoise stream` (denoise_stream.c, the real-time denoiser), and
 * the helpers they share (denoise.h). */
#include "commands.h"
#include "denoise.h"

#include <inttypes.h>
#include <string.h>

void cli_speech_params(mdnmf_separator_params *p)
{
    mdnmf_separator_params_default(p, 2);
    p->d[0] = 128, p->d[1] = 128;
    p->mu_H[0] = 1e-3, p->mu_H[1] = 1e-10;
    p->tau_A[0] = p->tau_A[1] = 1.0;
    p->common.mu_W = 1e-10;
    p->common.epochs = 100;
    p->common.test_epochs = 100;
    p->wiener_exponent = 0.5;
}

void cli_print_read_notes(const char *command, const char *group, const cli_read_notes *notes,
                          int rate)
{
    if (notes->resampled) {
        cli_error(command, "note: %d %s file(s) resampled to %d Hz (e.g. from %d Hz)",
                  notes->resampled, group, rate, notes->from_rate);
    }
    if (notes->mixed_down) {
        cli_error(command, "warning: %d %s file(s) have several channels: mixed down to mono",
                  notes->mixed_down, group);
    }
}

int cli_refuse_silence(const char *command, const char *path, const mdnmf_audio *audio,
                          const char *purpose)
{
    if (mdnmf_signal_peak(audio->samples, audio->length) > 0.0f) {
        return 0;
    }
    cli_error(command, "%s: silent (all %" PRId64 " samples are 0): nothing to %s; remove it",
              path, audio->length, purpose);
    return -1;
}

static const cli_option DENOISE_OPTIONS[] = {
    CLI_HELP_OPTION,
};

const cli_command cli_denoise_command = {
    "denoise",
    "denoise fit|apply|stream [options]",
    "Speech denoising: fit a speech/noise model, denoise files or a live stream with it.",
    DENOISE_OPTIONS,
    sizeof DENOISE_OPTIONS / sizeof DENOISE_OPTIONS[0],
};

static const cli_subcommand SUBCOMMANDS[] = {
    {"fit", "learn speech and noise bases from recordings; save the model", cli_denoise_fit},
    {"apply", "denoise recordings with a saved model: one WAV per recording",
     cli_denoise_apply},
    {"stream", "denoise a live stream or a file block by block (stdin to stdout by default)",
     cli_denoise_stream},
};

static const cli_group DENOISE = {
    &cli_denoise_command,
    "mdnmf denoise fit --mode semi|semi_adv --speech PATHS --noisy PATHS -o MODEL.npz\n"
    "       mdnmf denoise fit --mode std|adv --speech PATHS --noise PATHS -o MODEL.npz\n"
    "       mdnmf denoise apply -m MODEL.npz -o OUTDIR FILE...\n"
    "       mdnmf denoise stream -m MODEL.npz [-i IN] [-o OUT] [--format s16le|f32le ...]",
    SUBCOMMANDS, sizeof SUBCOMMANDS / sizeof SUBCOMMANDS[0]};

int cli_denoise(int argc, char **argv)
{
    return cli_run_group(&DENOISE, argc, argv);
}

int cli_parse_adapt_start(const char *command, const char *value, int *fresh)
{
    static const struct { const char *name; int fresh; } starts[] = {
        {"auto", MDNMF_ADAPT_AUTO}, {"fresh", 1}, {"model", 0}};
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++)
        if (strcmp(value, starts[i].name) == 0) {
            *fresh = starts[i].fresh;
            return 0;
        }
    cli_error(command, "--adapt-start: expected auto, fresh or model, got '%s'", value);
    return -1;
}
