/* Progress of a fit: the one-line bar on a terminal, the --loss-log CSV
 * file and its rows, and Ctrl-C turned into a clean cancellation.  All of it is driven
 * by the library's epoch callback, which is set only when a bar or a loss
 * log is wanted (it makes the library compute the loss every epoch). */
#ifndef MDNMF_CLI_PROGRESS_H
#define MDNMF_CLI_PROGRESS_H

#include "mdnmf.h"
#include "outputs.h"

#include <stdio.h>

typedef struct cli_progress {
    int show_bar;   /* redraw a bar on stderr after every epoch */
    int adversarial;/* also show the adversarial loss */
    FILE *loss_log; /* CSV rows go here (header already written), or NULL */
    int staged;     /* rows start with the stage (separator fits run several) */
    double started; /* monotonic seconds at epoch 0 (or the first epoch
                       of a resumed fit) */
    int started_epoch;
    int live;       /* an epoch was computed (not replayed) in this stage */
    double last_drawn;
    int bar_on_screen;
    const char *checkpoint; /* --checkpoint FILE, named when interrupted */
} cli_progress;

/* The --loss-log of a fit: open `path` (NULL: no log, *log stays zeroed)
 * under a temporary name and write the header.  0, or -1 after one line. */
int cli_loss_log_open(cli_output *log, const char *command, const char *path, int staged);

/* Before a fit: set up `progress` (a bar unless `quiet` or stderr is not a
 * terminal; rows into the open `loss_log`, if any) and, when either is
 * wanted, make it the epoch callback of `params` and catch Ctrl-C (the
 * callback makes the library compute the loss every epoch: only worth it
 * when someone looks).  Returns 1 if the callback was set, else 0. */
int cli_progress_attach(cli_progress *progress, mdnmf_params *params, int quiet,
                        int adversarial, const cli_output *loss_log, int staged);

/* For a fit command whose signals are caught (cli_signals_install): make
 * sure the fit has an epoch callback to notice them.  Without a bar or a
 * loss log it is one that only watches (params->skip_losses: the losses
 * are not computed).  `checkpoint` (--checkpoint, or NULL) is named when
 * the fit is interrupted. */
void cli_progress_watch(cli_progress *progress, mdnmf_params *params, const char *checkpoint);

/* After a fit that returned `status`: end the bar; CLI_EXIT_OK on success,
 * CLI_EXIT_INTERRUPTED after "interrupted by SIGNAL: nothing written" (or
 * "...: checkpoint written to FILE; ...") when a caught signal cancelled
 * it, else -1 (the caller reports the failure). */
int cli_progress_finish(cli_progress *progress, const char *command, int status);

/* Save the fitted model to `path` (the library writes it atomically), then
 * rename the loss log (if open) into place; if that fails the fresh model
 * is removed again, so a failed run leaves nothing.  Once both are in
 * place the --checkpoint file (if any) is removed: its fit is done.
 * Returns an exit code. */
int cli_save_model_and_log(const char *command, mdnmf_model *model, const char *path,
                           cli_output *loss_log, const char *checkpoint);

/* The options of resumable fits, shared by fit, separator fit and denoise
 * fit; `every_field` is where checkpoint_every lives in the command's
 * parameter struct.  Their text values go to the command's store_text,
 * which puts them in params.checkpoint_path / resume_path. */
enum { CLI_OPT_CHECKPOINT = 0x4000, CLI_OPT_CHECKPOINT_EVERY, CLI_OPT_RESUME };
#define CLI_CHECKPOINT_OPTIONS(every_field)                                                  \
    {"checkpoint", CLI_OPT_CHECKPOINT, CLI_KIND_TEXT, "FILE.npz", CLI_NO_FIELD, 0, NULL,     \
     "none",                                                                               \
     "save the fit's state to FILE every N epochs (see below) and when interrupted "       \
     "(SIGINT, SIGTERM, SIGHUP); removed once the model is written"},                      \
    {"checkpoint-every", CLI_OPT_CHECKPOINT_EVERY, CLI_KIND_INT, "N", every_field, 1, NULL,  \
     "10", "epochs of each stage between checkpoints"},                                    \
    {"resume", CLI_OPT_RESUME, CLI_KIND_TEXT, "FILE.npz", CLI_NO_FIELD, 0, NULL, "none",    \
     "continue the fit saved in FILE; same data, options and --threads give the "          \
     "uninterrupted fit's model bit for bit; it goes on saving to a --checkpoint"}

/* Usage errors of those options: --checkpoint-every without --checkpoint,
 * a checkpoint or resume file that is also the model or the loss log.
 * 0, or -1 after one line. */
int cli_check_checkpoint_options(const char *command, const mdnmf_params *params,
                                 const char *output, const char *loss_log);

/* Fail fast, before the inputs are read: the checkpoint's folder is
 * writable and the resume file can be opened.  0, or -1 after one line. */
int cli_check_checkpoint_files(const char *command, const mdnmf_params *params);

/* Seconds of the monotonic clock (for durations). */
double cli_monotonic_seconds(void);

/* Whether a bar should be drawn: stderr is a terminal and not --quiet. */
int cli_progress_bar_wanted(int quiet);

/* Write the CSV header "epoch,loss_true,loss_adv,objective", preceded by
 * "stage," when `staged`. */
void cli_progress_write_log_header(FILE *loss_log, int staged);

/* The mdnmf_epoch_callback; `user` is a cli_progress.  Returns non-zero
 * (cancel the fit) once Ctrl-C was pressed. */
int cli_progress_on_epoch(void *user, const mdnmf_progress *progress);

/* End the bar's line, so what follows (an error, the shell prompt) starts
 * on a fresh line.  Safe to call more than once. */
void cli_progress_end(cli_progress *progress);

/* Catch the first SIGINT (the next one kills as usual) and remember it. */
void cli_interrupt_install(void);
/* The same for SIGINT, SIGTERM and SIGHUP, each caught once: the fit
 * commands install it before they create any file, so that a signal at
 * any moment ends the run through its clean-up (temporary files removed,
 * a checkpoint written) with CLI_EXIT_INTERRUPTED.  The handler only
 * records the signal; the commands look at it between input files and
 * after every epoch. */
void cli_signals_install(void);
int cli_interrupted(void);
/* "SIGINT", "SIGTERM" or "SIGHUP": the signal caught (NULL if none). */
const char *cli_interrupt_name(void);

/* CLI_EXIT_INTERRUPTED after "interrupted by SIGNAL: nothing written" if a
 * signal was caught, else -1. */
int cli_exit_if_interrupted(const char *command);

#endif
