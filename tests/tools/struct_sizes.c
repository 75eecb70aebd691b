/*
 * struct_sizes — the layout of the public structs as the C compiler sees
 * it, for the Python binding's test (tests/python/test_structs.py), which
 * compares it with the ctypes mirrors in python/mdnmf/_native.py.
 *
 * Prints one line per struct, "STRUCT sizeof SIZE", and one per member,
 * "STRUCT FIELD OFFSET SIZE".  Exit status 0.
 */
#include "mdnmf.h"

#include <stddef.h>
#include <stdio.h>

#define STRUCT(type) printf("%s sizeof %zu\n", #type, sizeof(type))
#define FIELD(type, field)                                                                   \
    printf("%s %s %zu %zu\n", #type, #field, offsetof(type, field), sizeof(((type *)0)->field))

static void error(void)
{
    STRUCT(mdnmf_error);
    FIELD(mdnmf_error, status);
    FIELD(mdnmf_error, message);
}

static void progress(void)
{
    STRUCT(mdnmf_progress);
    FIELD(mdnmf_progress, epoch);
    FIELD(mdnmf_progress, epochs);
    FIELD(mdnmf_progress, stage);
    FIELD(mdnmf_progress, stages);
    FIELD(mdnmf_progress, loss_true);
    FIELD(mdnmf_progress, loss_adv);
    FIELD(mdnmf_progress, objective);
    FIELD(mdnmf_progress, replayed);
}

static void params(void)
{
    STRUCT(mdnmf_params);
    FIELD(mdnmf_params, d);
    FIELD(mdnmf_params, epochs);
    FIELD(mdnmf_params, test_epochs);
    FIELD(mdnmf_params, batch_size);
    FIELD(mdnmf_params, batch_size_adv);
    FIELD(mdnmf_params, init);
    FIELD(mdnmf_params, mu_W);
    FIELD(mdnmf_params, mu_H);
    FIELD(mdnmf_params, tau_A);
    FIELD(mdnmf_params, tau_W);
    FIELD(mdnmf_params, normalize);
    FIELD(mdnmf_params, update_H);
    FIELD(mdnmf_params, true_sample);
    FIELD(mdnmf_params, warm_start);
    FIELD(mdnmf_params, seed);
    FIELD(mdnmf_params, threads);
    FIELD(mdnmf_params, on_epoch);
    FIELD(mdnmf_params, on_epoch_user);
    FIELD(mdnmf_params, on_trace);
    FIELD(mdnmf_params, on_trace_user);
    FIELD(mdnmf_params, checkpoint_path);
    FIELD(mdnmf_params, resume_path);
    FIELD(mdnmf_params, checkpoint_every);
    FIELD(mdnmf_params, skip_losses);
    FIELD(mdnmf_params, init_H_steps);
    FIELD(mdnmf_params, divergence);
    FIELD(mdnmf_params, per_sample_init);
    FIELD(mdnmf_params, reserved_pad);
    FIELD(mdnmf_params, reserved);
}

static void separator_params(void)
{
    STRUCT(mdnmf_separator_params);
    FIELD(mdnmf_separator_params, common);
    FIELD(mdnmf_separator_params, mode);
    FIELD(mdnmf_separator_params, sources);
    FIELD(mdnmf_separator_params, d);
    FIELD(mdnmf_separator_params, mu_H);
    FIELD(mdnmf_separator_params, tau_A);
    FIELD(mdnmf_separator_params, beta);
    FIELD(mdnmf_separator_params, tau_S);
    FIELD(mdnmf_separator_params, batch_size_sup);
    FIELD(mdnmf_separator_params, warm_start_epochs);
    FIELD(mdnmf_separator_params, noise_steps);
    FIELD(mdnmf_separator_params, wiener_exponent);
    FIELD(mdnmf_separator_params, reserved);
}

static void separation_data(void)
{
    STRUCT(mdnmf_separation_data);
    FIELD(mdnmf_separation_data, m);
    FIELD(mdnmf_separation_data, U);
    FIELD(mdnmf_separation_data, n);
    FIELD(mdnmf_separation_data, V);
    FIELD(mdnmf_separation_data, n_V);
    FIELD(mdnmf_separation_data, U_sup);
    FIELD(mdnmf_separation_data, V_sup);
    FIELD(mdnmf_separation_data, n_sup);
    FIELD(mdnmf_separation_data, reserved);
}

static void tau_auto(void)
{
    STRUCT(mdnmf_tau_auto);
    FIELD(mdnmf_tau_auto, base);
    FIELD(mdnmf_tau_auto, grid);
    FIELD(mdnmf_tau_auto, grid_count);
    FIELD(mdnmf_tau_auto, validation_fraction);
    FIELD(mdnmf_tau_auto, folds);
    FIELD(mdnmf_tau_auto, metric);
    FIELD(mdnmf_tau_auto, aggregate);
    FIELD(mdnmf_tau_auto, wiener);
    FIELD(mdnmf_tau_auto, seed);
    FIELD(mdnmf_tau_auto, start);
    FIELD(mdnmf_tau_auto, on_point);
    FIELD(mdnmf_tau_auto, on_point_user);
    FIELD(mdnmf_tau_auto, margin);
    FIELD(mdnmf_tau_auto, pair_folds);
    FIELD(mdnmf_tau_auto, confirm);
    FIELD(mdnmf_tau_auto, reserved);
    STRUCT(mdnmf_tau_auto_result);
    FIELD(mdnmf_tau_auto_result, count);
    FIELD(mdnmf_tau_auto_result, tau_A);
    FIELD(mdnmf_tau_auto_result, metric);
    FIELD(mdnmf_tau_auto_result, status);
    FIELD(mdnmf_tau_auto_result, chosen);
    FIELD(mdnmf_tau_auto_result, chosen_tau_A);
    FIELD(mdnmf_tau_auto_result, validation_pairs);
    FIELD(mdnmf_tau_auto_result, held_out);
    FIELD(mdnmf_tau_auto_result, fits);
    FIELD(mdnmf_tau_auto_result, confirm_metric);
    FIELD(mdnmf_tau_auto_result, rejected_tau_A);
    FIELD(mdnmf_tau_auto_result, reserved);
}

static void stream_params(void)
{
    STRUCT(mdnmf_stream_params);
    FIELD(mdnmf_stream_params, sample_rate);
    FIELD(mdnmf_stream_params, steps);
    FIELD(mdnmf_stream_params, wiener_exponent);
    FIELD(mdnmf_stream_params, floor);
    FIELD(mdnmf_stream_params, learn_noise);
    FIELD(mdnmf_stream_params, noise_atoms);
    FIELD(mdnmf_stream_params, forgetting);
    FIELD(mdnmf_stream_params, noise_interval);
    FIELD(mdnmf_stream_params, seed);
    FIELD(mdnmf_stream_params, reserved);
}

/* Sharded fits (issue 16). */
static void shard_struct(void)
{
    STRUCT(mdnmf_shard);
    FIELD(mdnmf_shard, reduce);
    FIELD(mdnmf_shard, reduce_user);
    FIELD(mdnmf_shard, n_total);
    FIELD(mdnmf_shard, offset);
    FIELD(mdnmf_shard, n_adv_total);
    FIELD(mdnmf_shard, offset_adv);
    FIELD(mdnmf_shard, rank);
    FIELD(mdnmf_shard, ranks);
    FIELD(mdnmf_shard, reserved);
}

/* The audio API's structs (python/mdnmf/audio.py, search.py). */
static void audio_structs(void)
{
    STRUCT(mdnmf_audio_params);
    FIELD(mdnmf_audio_params, sample_rate);
    FIELD(mdnmf_audio_params, n_fft);
    FIELD(mdnmf_audio_params, hop_length);
    FIELD(mdnmf_audio_params, win_length);
    FIELD(mdnmf_audio_params, power);
    FIELD(mdnmf_audio_params, context);
    FIELD(mdnmf_audio_params, reserved);
    STRUCT(mdnmf_audio);
    FIELD(mdnmf_audio, samples);
    FIELD(mdnmf_audio, length);
    FIELD(mdnmf_audio, sample_rate);
    FIELD(mdnmf_audio, file_rate);
    FIELD(mdnmf_audio, channels);
    FIELD(mdnmf_audio, mixed_down);
    FIELD(mdnmf_audio, reserved);
    STRUCT(mdnmf_bss_result);
    FIELD(mdnmf_bss_result, sdr);
    FIELD(mdnmf_bss_result, sir);
    FIELD(mdnmf_bss_result, sar);
    FIELD(mdnmf_bss_result, permutation);
    FIELD(mdnmf_bss_result, reserved);
    STRUCT(mdnmf_signals);
    FIELD(mdnmf_signals, samples);
    FIELD(mdnmf_signals, lengths);
    FIELD(mdnmf_signals, sample_rates);
    FIELD(mdnmf_signals, count);
    FIELD(mdnmf_signals, reserved);
    STRUCT(mdnmf_signal_data);
    FIELD(mdnmf_signal_data, clean);
    FIELD(mdnmf_signal_data, mixtures);
    FIELD(mdnmf_signal_data, paired_clean);
    FIELD(mdnmf_signal_data, paired_mixtures);
    FIELD(mdnmf_signal_data, reserved);
    STRUCT(mdnmf_search_dimension);
    FIELD(mdnmf_search_dimension, param);
    FIELD(mdnmf_search_dimension, source);
    FIELD(mdnmf_search_dimension, distribution);
    FIELD(mdnmf_search_dimension, low);
    FIELD(mdnmf_search_dimension, high);
    FIELD(mdnmf_search_dimension, count);
    FIELD(mdnmf_search_dimension, values);
    FIELD(mdnmf_search_dimension, reserved);
    STRUCT(mdnmf_search_trial);
    FIELD(mdnmf_search_trial, trial);
    FIELD(mdnmf_search_trial, trials);
    FIELD(mdnmf_search_trial, values);
    FIELD(mdnmf_search_trial, status);
    FIELD(mdnmf_search_trial, message);
    FIELD(mdnmf_search_trial, metric);
    FIELD(mdnmf_search_trial, score);
    FIELD(mdnmf_search_trial, best);
    STRUCT(mdnmf_search);
    FIELD(mdnmf_search, base);
    FIELD(mdnmf_search, dimensions);
    FIELD(mdnmf_search, dimension_count);
    FIELD(mdnmf_search, trials);
    FIELD(mdnmf_search, folds);
    FIELD(mdnmf_search, metric);
    FIELD(mdnmf_search, aggregate);
    FIELD(mdnmf_search, wiener);
    FIELD(mdnmf_search, seed);
    FIELD(mdnmf_search, refit);
    FIELD(mdnmf_search, on_trial);
    FIELD(mdnmf_search, on_trial_user);
    FIELD(mdnmf_search, start);
    FIELD(mdnmf_search, contiguous_folds);
    FIELD(mdnmf_search, score_per_fold);
    FIELD(mdnmf_search, draw);
    FIELD(mdnmf_search, draw_user);
    FIELD(mdnmf_search, reserved);
    STRUCT(mdnmf_search_result);
    FIELD(mdnmf_search_result, best_trial);
    FIELD(mdnmf_search_result, best_metric);
    FIELD(mdnmf_search_result, best_score);
    FIELD(mdnmf_search_result, best);
    FIELD(mdnmf_search_result, failed_trials);
    FIELD(mdnmf_search_result, reserved);
}

int main(void)
{
    error();
    progress();
    params();
    separator_params();
    separation_data();
    tau_auto();
    stream_params();
    audio_structs();
    shard_struct();
    printf("MDNMF_MAX_SOURCES value %d\n", MDNMF_MAX_SOURCES);
    printf("MDNMF_ERROR_MESSAGE_SIZE value %d\n", MDNMF_ERROR_MESSAGE_SIZE);
    return 0;
}
