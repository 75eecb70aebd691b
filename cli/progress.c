/* Progress bar, loss log and Ctrl-C handling (see progress.h). */
#define _POSIX_C_SOURCE 200809L

#include "progress.h"

#include "host.h"

#include "options.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { BAR_WIDTH = 20 };

/* A terminal is redrawn at most this often; the last epoch always shows. */
static const double REDRAW_SECONDS = 0.1;

/* The first signal caught (0: none). */
static volatile sig_atomic_t caught_signal = 0;

static void on_signal(int signal_number)
{
    if (!caught_signal)
        caught_signal = signal_number;
}

static void catch_once(int signal_number)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    /* A second signal of the kind gets the default action: a way out of a
     * slow epoch. */
    action.sa_flags = SA_RESETHAND | SA_RESTART;
    sigaction(signal_number, &action, NULL);
}

void cli_interrupt_install(void)
{
    catch_once(SIGINT);
}

void cli_signals_install(void)
{
    catch_once(SIGINT);
    catch_once(SIGTERM);
    catch_once(SIGHUP);
}

int cli_interrupted(void)
{
    return caught_signal != 0;
}

const char *cli_interrupt_name(void)
{
    switch (caught_signal) {
    case 0: return NULL;
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "a signal";
    }
}

/* The one line of an interrupted run, printed once. */
static int report_interrupt(const char *command, const char *checkpoint)
{
    static int reported = 0;
    const char *set = cli_host_checkpoint_set(checkpoint);
    if (!reported && set && checkpoint) {
        /* mdnmf-mpi: every process wrote its file of the set. */
        cli_error(command, "interrupted by %s: checkpoint set %s written, one file per process "
                  "(this one %s; continue with --resume %s and as many processes); nothing "
                  "else written", cli_interrupt_name(), set, checkpoint, set);
    } else if (!reported && checkpoint) {
        cli_error(command, "interrupted by %s: checkpoint written to %s (continue with "
                  "--resume %s); nothing else written", cli_interrupt_name(), checkpoint,
                  checkpoint);
    } else if (!reported) {
        cli_error(command, "interrupted by %s: nothing written", cli_interrupt_name());
    }
    reported = 1;
    return CLI_EXIT_INTERRUPTED;
}

int cli_exit_if_interrupted(const char *command)
{
    return cli_interrupted() ? report_interrupt(command, NULL) : -1;
}

int cli_progress_bar_wanted(int quiet)
{
    return !quiet && isatty(STDERR_FILENO);
}

void cli_progress_write_log_header(FILE *loss_log, int staged)
{
    fputs(staged ? "stage,epoch,loss_true,loss_adv,objective\n"
                 : "epoch,loss_true,loss_adv,objective\n",
          loss_log);
}

int cli_loss_log_open(cli_output *log, const char *command, const char *path, int staged)
{
    memset(log, 0, sizeof *log);
    if (!path) {
        return 0;
    }
    if (cli_output_open(log, command, path) != 0) {
        return -1;
    }
    cli_progress_write_log_header(log->stream, staged);
    return 0;
}

int cli_progress_attach(cli_progress *progress, mdnmf_params *params, int quiet,
                        int adversarial, const cli_output *loss_log, int staged)
{
    progress->show_bar = cli_progress_bar_wanted(quiet);
    progress->adversarial = adversarial;
    progress->loss_log = loss_log ? loss_log->stream : NULL;
    progress->staged = staged;
    if (!progress->show_bar && !progress->loss_log) {
        return 0;
    }
    params->on_epoch = cli_progress_on_epoch;
    params->on_epoch_user = progress;
    if (!cli_interrupted()) {
        cli_interrupt_install();
    }
    return 1;
}

void cli_progress_watch(cli_progress *progress, mdnmf_params *params, const char *checkpoint)
{
    progress->checkpoint = checkpoint;
    if (!params->on_epoch) {
        params->on_epoch = cli_progress_on_epoch;
        params->on_epoch_user = progress;
        params->skip_losses = 1;
    }
}

int cli_progress_finish(cli_progress *progress, const char *command, int status)
{
    cli_progress_end(progress);
    if (status == MDNMF_OK) {
        return CLI_EXIT_OK;
    }
    if (status == MDNMF_ERR_CANCELLED && cli_interrupted()) {
        return report_interrupt(command, progress->checkpoint);
    }
    return -1;
}

int cli_save_model_and_log(const char *command, mdnmf_model *model, const char *path,
                           cli_output *loss_log, const char *checkpoint)
{
    mdnmf_error error;
    if (mdnmf_model_save(model, path, &error) != MDNMF_OK) {
        cli_error_about(command, path, error.message);
        return CLI_EXIT_RUNTIME;
    }
    if (loss_log->stream && cli_output_commit(loss_log, command) != 0) {
        remove(path);
        return CLI_EXIT_RUNTIME;
    }
    if (checkpoint) {
        remove(checkpoint); /* none yet (a short fit) is fine */
    }
    return CLI_EXIT_OK;
}

static int same_path(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

int cli_check_checkpoint_options(const char *command, const mdnmf_params *params,
                                 const char *output, const char *loss_log)
{
    const char *resume = params->resume_path;
    if (params->checkpoint_every && !params->checkpoint_path) {
        cli_error(command, "--checkpoint-every needs --checkpoint FILE.npz");
        return -1;
    }
    /* The outputs among themselves (--checkpoint too) are compared by
     * cli_refuse_fit_outputs; --resume is read, then written over by a
     * model or log of the same name before the run could finish. */
    const char *clash = same_path(resume, output) ? "-o" : same_path(resume, loss_log)
                                                               ? "--loss-log"
                                                               : NULL;
    if (clash) {
        cli_error(command, "--resume: %s is also the checkpoint file: give them different names",
                  clash);
        return -1;
    }
    return 0;
}

int cli_check_checkpoint_files(const char *command, const mdnmf_params *params)
{
    if (params->checkpoint_path &&
        cli_output_check_writable(command, params->checkpoint_path) != 0) {
        return -1;
    }
    if (params->resume_path) {
        FILE *file = fopen(params->resume_path, "rb");
        if (!file) {
            cli_error(command, "%s: cannot open the checkpoint: %s", params->resume_path,
                      strerror(errno));
            return -1;
        }
        fclose(file);
    }
    return 0;
}

double cli_monotonic_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

/* "M:SS", or "H:MM:SS" from an hour on; "-:--" before it can be known. */
static void format_duration(double seconds, char *out, size_t size)
{
    if (!(seconds >= 0.0) || seconds > 1e8) {
        snprintf(out, size, "-:--");
        return;
    }
    long total = (long)(seconds + 0.5);
    if (total >= 3600) {
        snprintf(out, size, "%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
    } else {
        snprintf(out, size, "%ld:%02ld", total / 60, total % 60);
    }
}

static void draw_bar(cli_progress *state, const mdnmf_progress *progress, double now)
{
    char bar[BAR_WIDTH + 1];
    int filled = progress->epochs > 0 ? BAR_WIDTH * progress->epoch / progress->epochs
                                      : BAR_WIDTH;
    for (int i = 0; i < BAR_WIDTH; i++) {
        bar[i] = i < filled ? '#' : '-';
    }
    bar[BAR_WIDTH] = '\0';

    double eta = -1.0;
    if (progress->epoch > state->started_epoch) {
        double per_epoch = (now - state->started) / (progress->epoch - state->started_epoch);
        eta = per_epoch * (progress->epochs - progress->epoch);
    }
    char eta_text[32];
    format_duration(eta, eta_text, sizeof eta_text);

    /* "\r" returns to the line start, "\033[K" clears what a longer
     * previous line left behind. */
    fprintf(stderr, "\repoch %d/%d [%s] loss %.3e", progress->epoch, progress->epochs, bar,
            progress->loss_true);
    if (state->adversarial) {
        fprintf(stderr, " adv %.3e", progress->loss_adv);
    }
    fprintf(stderr, " ETA %s\033[K", eta_text);
    fflush(stderr);
    state->bar_on_screen = 1;
    state->last_drawn = now;
}

int cli_progress_on_epoch(void *user, const mdnmf_progress *progress)
{
    cli_progress *state = user;
    double now = cli_monotonic_seconds();
    if (state->loss_log) {
        if (state->staged)
            fprintf(state->loss_log, "%d,", progress->stage);
        fprintf(state->loss_log, "%d,%.9g,%.9g,%.9g\n", progress->epoch, progress->loss_true,
                progress->loss_adv, progress->objective);
    }
    /* Replayed epochs of a resumed fit only go to the log; the clock of
     * the ETA starts at epoch 0 or at the first epoch computed now. */
    if (progress->replayed) {
        state->live = 0;
        return cli_interrupted();
    }
    if (progress->epoch == 0 || !state->live) {
        state->started = now;
        state->started_epoch = progress->epoch;
        state->live = 1;
    }
    int last = progress->epoch >= progress->epochs;
    if (state->show_bar &&
        (progress->epoch == 0 || last || now - state->last_drawn >= REDRAW_SECONDS)) {
        draw_bar(state, progress, now);
    }
    return cli_interrupted();
}

void cli_progress_end(cli_progress *state)
{
    if (state->bar_on_screen) {
        fputc('\n', stderr);
        state->bar_on_screen = 0;
    }
}
