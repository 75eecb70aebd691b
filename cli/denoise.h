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

/* --adapt-start auto|fresh|model into MDNMF_ADAPT_AUTO, 1 or 0: 0, or -1
 * after one line. */
int cli_parse_adapt_start(const char *command, const char *value, int *fresh);

/* The --adapt-start row of an option table (denoise apply, experiment
 * speech), parsed by cli_parse_adapt_start under `key`. */
#define CLI_ADAPT_START_OPTION(key)                                                        \
    {"adapt-start", (key), CLI_KIND_TEXT, "auto|fresh|model", CLI_NO_FIELD, 0, NULL, "auto",\
     "the adapted noise atoms start as Uniform(0,1) draws or as the model's; auto: fresh " \
     "for MDNMF models, the model's for NMF ones"}

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
