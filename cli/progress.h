/* Progress of a fit: the one-line bar on a terminal, the --loss-log CSV
 * rows, and Ctrl-C turned into a clean cancellation.  All of it is driven
 * by the library's epoch callback, which is set only when a bar or a loss
 * log is wanted (it makes the library compute the loss every epoch). */
#ifndef MDNMF_CLI_PROGRESS_H
#define MDNMF_CLI_PROGRESS_H

#include "mdnmf.h"

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
