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
    double started; /* monotonic seconds at epoch 0 */
    double last_drawn;
    int bar_on_screen;
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

/* After a fit that returned `status`: end the bar; CLI_EXIT_OK on success,
 * CLI_EXIT_INTERRUPTED after "interrupted: nothing written" when Ctrl-C
 * cancelled it, else -1 (the caller reports the failure). */
int cli_progress_finish(cli_progress *progress, const char *command, int status);

/* Save the fitted model to `path` (the library writes it atomically), then
 * rename the loss log (if open) into place; if that fails the fresh model
 * is removed again, so a failed run leaves nothing.  Returns an exit code. */
int cli_save_model_and_log(const char *command, mdnmf_model *model, const char *path,
                           cli_output *loss_log);

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
int cli_interrupted(void);

#endif
