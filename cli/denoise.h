/* What `denoise fit` (denoise_fit.c), `denoise apply` (denoise_apply.c) and
 * `experiment speech` share: the paper's speech settings, notes about the
 * recordings read, and the refusal of silent ones. */
#ifndef MDNMF_CLI_DENOISE_H
#define MDNMF_CLI_DENOISE_H

#include "mdnmf.h"

/* The paper's speech settings of a two-source separator (speech, noise):
 * d = (128, 128), mu_H = (1e-3, 1e-10), tau_A = 1, mu_W = 1e-10, 100
 * epochs and test epochs, and the Wiener exponent 0.5 measured best on the
 * speech experiment (docs/results.md, "Front-end choices"); the paper's 32
 * noise atoms became 128 with the noise smoothing below (docs/results.md,
 * "Issue 13: noise smoothing"); the mode is the caller's. */
void cli_speech_params(mdnmf_separator_params *p);

/* The noise adaptation of `denoise apply` and `experiment speech` by
 * default: each recording's noise basis refitted to it for this many steps
 * (mdnmf_separate_adapted; docs/results.md, "Issue 13: noise adaptation at
 * separation"), from fresh atoms for MDNMF models and from the model's for
 * NMF ones (MDNMF_ADAPT_AUTO). */
#define CLI_ADAPT_NOISE_EPOCHS 200
#define CLI_ADAPT_NOISE_TEXT "200"

/* The noise smoothing of `denoise apply` and `experiment speech` by
 * default: the noise activations averaged over this many frames on each
 * side before the mask (mdnmf_separate_frames; docs/results.md, "Issue 13:
 * noise smoothing"), with which 200 adaptation steps (above) and 128
 * noise atoms separate best. */
#define CLI_NOISE_SMOOTHING_FRAMES 20
#define CLI_NOISE_SMOOTHING_TEXT "20"

/* --adapt-start auto|fresh|model into MDNMF_ADAPT_AUTO, 1 or 0: 0, or -1
 * after one line. */
int cli_parse_adapt_start(const char *command, const char *value, int *fresh);

/* Reading notes printed once per group of files instead of once per file. */
typedef struct cli_read_notes {
    int resampled, mixed_down;
    int from_rate; /* a rate files were resampled from (the first seen) */
} cli_read_notes;

/* "note: N GROUP file(s) resampled to RATE Hz ..." and the mixed-down
 * warning, each only when it happened. */
void cli_print_read_notes(const char *command, const char *group, const cli_read_notes *notes,
                          int rate);

/* A silent recording has nothing to learn from or to denoise, and would
 * make every ratio of the front end 0 / 0: 0, or -1 after one line "PATH:
 * silent ...: nothing to PURPOSE". */
int cli_refuse_silence(const char *command, const char *path, const mdnmf_audio *audio,
                       const char *purpose);

#endif
