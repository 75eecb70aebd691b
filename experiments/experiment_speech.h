/* `mdnmf experiment speech`: the paper's speech-denoising experiment on
 * Debian's recordings (experiment_speech.c). */
#ifndef MDNMF_EXPERIMENTS_EXPERIMENT_SPEECH_H
#define MDNMF_EXPERIMENTS_EXPERIMENT_SPEECH_H

/* argv[0] is "speech"; returns the exit code (options.h). */
int cli_experiment_speech(int argc, char **argv);

/* Its one-line summary, for `mdnmf experiment --help`. */
extern const char cli_experiment_speech_summary[];

#endif
