/* The audio half of `mdnmf eval` (SPEC §9): SNR, SI-SDR and BSS Eval v3 of
 * estimated recordings against reference recordings.
 *
 *   mdnmf eval --metric snr|sisdr|bss -r REF.wav -e EST.wav [-r ... -e ...]
 *
 * Every file is read with mdnmf_audio_read (WAV, FLAC, OGG...; several
 * channels are mixed down to mono with a warning on stderr).  All files are
 * compared at the first reference's sample rate: others are resampled to it,
 * with a warning.  After that every signal must have the same length.
 * Prints one JSON line (infinities, e.g. a perfect estimate, are null):
 *   snr, sisdr: {"metric": M, "sources": S, "sample_rate": R, "samples": n,
 *                "value": mean over sources, "per_source": [v_0, ...]}
 *   bss:        {"metric": "bss", "sources": S, "sample_rate": R,
 *                "samples": n, "value": mean SDR, "sdr": [...], "sir": [...],
 *                "sar": [...], "permutation": [...]}
 * where permutation[j] is the estimate matched with reference j (the
 * permutation of highest mean SIR, as mir_eval's bss_eval_sources). */
#ifndef MDNMF_CLI_EVAL_AUDIO_H
#define MDNMF_CLI_EVAL_AUDIO_H

/* 1 if `metric` is one of "snr", "sisdr", "bss", else 0. */
int cli_is_audio_metric(const char *metric);

/* The names, for a usage text: "snr|sisdr|bss". */
extern const char cli_audio_metric_choices[];

/* Evaluate `count` (>= 1) reference/estimate file pairs and print the JSON
 * line.  Errors are one line on stderr.  Returns the exit code:
 * CLI_EXIT_OK, CLI_EXIT_USAGE (unknown metric, count out of range) or
 * CLI_EXIT_RUNTIME (unreadable file, different lengths, silent signal...). */
int cli_eval_audio(const char *command, const char *metric, const char *const *references,
                   const char *const *estimates, int count);

#endif
