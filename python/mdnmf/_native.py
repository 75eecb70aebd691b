"""The C library through ctypes: finding libmdnmf, its structs, its functions.

The structs mirror include/mdnmf.h field by field; tests/python/test_structs.py
compares their sizes and offsets with the C compiler's, so a header change
cannot silently shift a field.
"""

import ctypes
import ctypes.util
import os
import sys
import sysconfig

MAX_SOURCES = 16  # MDNMF_MAX_SOURCES
ERROR_MESSAGE_SIZE = 256  # MDNMF_ERROR_MESSAGE_SIZE

# mdnmf_status
OK = 0
ERR_ARGUMENT = 1
ERR_DATA = 2
ERR_SHAPE = 3
ERR_MEMORY = 4
ERR_IO = 5
ERR_FORMAT = 6
ERR_DIVERGED = 7
ERR_CANCELLED = 8
ERR_STATE = 9

INIT_NAMES = {"exemplar": 0, "exem": 0, "random": 1, "rand": 1}
TRUE_SAMPLE_NAMES = {"std": 0, "adv": 1, "min": 2}
# mdnmf_divergence (SPEC §11): what a fit minimises between the data and W H.
DIVERGENCE_NAMES = {"fro": 0, "kl": 1, "is": 2}
MODE_NAMES = ("std", "adv", "exem", "sup", "full", "semi", "semi_adv")

c_float_p = ctypes.POINTER(ctypes.c_float)
c_double_p = ctypes.POINTER(ctypes.c_double)
c_int64_p = ctypes.POINTER(ctypes.c_int64)


class Error(ctypes.Structure):
    """mdnmf_error: what every failing call fills (its last argument)"""
    _fields_ = [
        ("status", ctypes.c_int),
        ("message", ctypes.c_char * ERROR_MESSAGE_SIZE),
    ]

    def text(self):
        return self.message.decode(errors="replace")


ErrorPointer = ctypes.POINTER(Error)


class Progress(ctypes.Structure):
    """mdnmf_progress"""
    _fields_ = [
        ("epoch", ctypes.c_int),
        ("epochs", ctypes.c_int),
        ("stage", ctypes.c_int),
        ("stages", ctypes.c_int),
        ("loss_true", ctypes.c_double),
        ("loss_adv", ctypes.c_double),
        ("objective", ctypes.c_double),
        ("replayed", ctypes.c_int),
    ]


EPOCH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(Progress))
TRACE_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                  ctypes.c_void_p, ctypes.c_int64)


class Params(ctypes.Structure):
    """mdnmf_params (enums are C ints)"""
    _fields_ = [
        ("d", ctypes.c_int),
        ("epochs", ctypes.c_int),
        ("test_epochs", ctypes.c_int),
        ("batch_size", ctypes.c_int64),
        ("batch_size_adv", ctypes.c_int64),
        ("init", ctypes.c_int),
        ("mu_W", ctypes.c_double),
        ("mu_H", ctypes.c_double),
        ("tau_A", ctypes.c_double),
        ("tau_W", ctypes.c_double),
        ("normalize", ctypes.c_int),
        ("update_H", ctypes.c_int),
        ("true_sample", ctypes.c_int),
        ("warm_start", ctypes.c_int),
        ("seed", ctypes.c_uint64),
        ("threads", ctypes.c_int),
        ("on_epoch", EPOCH_CALLBACK),
        ("on_epoch_user", ctypes.c_void_p),
        ("on_trace", TRACE_CALLBACK),
        ("on_trace_user", ctypes.c_void_p),
        ("checkpoint_path", ctypes.c_char_p),
        ("resume_path", ctypes.c_char_p),
        ("checkpoint_every", ctypes.c_int),
        ("skip_losses", ctypes.c_int),
        ("init_H_steps", ctypes.c_int),
        ("divergence", ctypes.c_int),
        # sklearn (issue 15): transform's per-column initial H.
        ("per_sample_init", ctypes.c_int),
        ("reserved_pad", ctypes.c_int),
        ("reserved", ctypes.c_uint64 * 11),
    ]


class SeparatorParams(ctypes.Structure):
    """mdnmf_separator_params"""
    _fields_ = [
        ("common", Params),
        ("mode", ctypes.c_int),
        ("sources", ctypes.c_int),
        ("d", ctypes.c_int64 * MAX_SOURCES),
        ("mu_H", ctypes.c_double * MAX_SOURCES),
        ("tau_A", ctypes.c_double * MAX_SOURCES),
        ("beta", ctypes.c_double * MAX_SOURCES),
        ("tau_S", ctypes.c_double),
        ("batch_size_sup", ctypes.c_int64),
        ("warm_start_epochs", ctypes.c_int),
        ("noise_steps", ctypes.c_int),
        ("wiener_exponent", ctypes.c_double),
        ("reserved", ctypes.c_uint64 * 15),
    ]


class SeparationData(ctypes.Structure):
    """mdnmf_separation_data (matrices as untyped addresses)"""
    _fields_ = [
        ("m", ctypes.c_int64),
        ("U", ctypes.c_void_p * MAX_SOURCES),
        ("n", ctypes.c_int64 * MAX_SOURCES),
        ("V", ctypes.c_void_p),
        ("n_V", ctypes.c_int64),
        ("U_sup", ctypes.c_void_p * MAX_SOURCES),
        ("V_sup", ctypes.c_void_p),
        ("n_sup", ctypes.c_int64),
        ("reserved", ctypes.c_uint64 * 16),
    ]


SEARCH_MAX_CHOICES = 32


class TauAuto(ctypes.Structure):
    """mdnmf_tau_auto (pointers untyped; on_point unused by the binding)"""
    _fields_ = [
        ("base", SeparatorParams),
        ("grid", ctypes.c_void_p),
        ("grid_count", ctypes.c_int),
        ("validation_fraction", ctypes.c_double),
        ("folds", ctypes.c_int),
        ("metric", ctypes.c_int),
        ("aggregate", ctypes.c_int),
        ("wiener", ctypes.c_int),
        ("seed", ctypes.c_uint64),
        ("start", ctypes.c_void_p),
        ("on_point", ctypes.c_void_p),
        ("on_point_user", ctypes.c_void_p),
        ("margin", ctypes.c_double),
        ("pair_folds", ctypes.c_int),
        ("confirm", ctypes.c_int),
        ("reserved", ctypes.c_uint64 * 14),
    ]


class TauAutoResult(ctypes.Structure):
    """mdnmf_tau_auto_result"""
    _fields_ = [
        ("count", ctypes.c_int),
        ("tau_A", ctypes.c_double * SEARCH_MAX_CHOICES),
        ("metric", ctypes.c_double * SEARCH_MAX_CHOICES),
        ("status", ctypes.c_int * SEARCH_MAX_CHOICES),
        ("chosen", ctypes.c_int),
        ("chosen_tau_A", ctypes.c_double),
        ("validation_pairs", ctypes.c_int64),
        ("held_out", ctypes.c_int),
        ("fits", ctypes.c_int),
        ("confirm_metric", ctypes.c_double * 2),
        ("rejected_tau_A", ctypes.c_double),
        ("reserved", ctypes.c_uint64 * 5),
    ]


class StreamParams(ctypes.Structure):
    """mdnmf_stream_params"""
    _fields_ = [
        ("sample_rate", ctypes.c_int),
        ("steps", ctypes.c_int),
        ("wiener_exponent", ctypes.c_double),
        ("floor", ctypes.c_double),
        ("learn_noise", ctypes.c_int),
        ("noise_atoms", ctypes.c_int64),
        ("forgetting", ctypes.c_double),
        ("noise_interval", ctypes.c_int),
        ("seed", ctypes.c_uint64),
        ("reserved", ctypes.c_uint64 * 8),
    ]


STRUCTS = {
    "mdnmf_error": Error,
    "mdnmf_progress": Progress,
    "mdnmf_params": Params,
    "mdnmf_separator_params": SeparatorParams,
    "mdnmf_separation_data": SeparationData,
    "mdnmf_tau_auto": TauAuto,
    "mdnmf_tau_auto_result": TauAutoResult,
    "mdnmf_stream_params": StreamParams,
}

# name: (result type, argument types); every call that can fail takes an
# mdnmf_error * last (ErrorPointer).
_PROTOTYPES = {
    "mdnmf_version": (ctypes.c_char_p, []),
    "mdnmf_strerror": (ctypes.c_char_p, [ctypes.c_int]),
    "mdnmf_params_default": (None, [ctypes.POINTER(Params)]),
    "mdnmf_params_check": (ctypes.c_int, [ctypes.POINTER(Params), ErrorPointer]),
    "mdnmf_model_create": (ctypes.c_void_p, [ctypes.POINTER(Params), ErrorPointer]),
    "mdnmf_model_destroy": (None, [ctypes.c_void_p]),
    "mdnmf_model_set_params": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(Params),
                                              ErrorPointer]),
    "mdnmf_model_params": (ctypes.POINTER(Params), [ctypes.c_void_p]),
    "mdnmf_model_set_basis": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p,
                                             ctypes.c_int64, ctypes.c_int64, ErrorPointer]),
    "mdnmf_model_set_mu_H": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                            ErrorPointer]),
    "mdnmf_model_shape": (None, [ctypes.c_void_p, c_int64_p, c_int64_p]),
    "mdnmf_model_basis": (c_float_p, [ctypes.c_void_p]),
    "mdnmf_model_mu_H": (c_float_p, [ctypes.c_void_p]),
    "mdnmf_model_activations": (c_float_p, [ctypes.c_void_p, c_int64_p]),
    "mdnmf_model_adv_activations": (c_float_p, [ctypes.c_void_p, c_int64_p]),
    "mdnmf_model_source_count": (ctypes.c_int, [ctypes.c_void_p]),
    "mdnmf_model_components": (c_int64_p, [ctypes.c_void_p]),
    "mdnmf_fit_std": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                     ctypes.c_int64, ErrorPointer]),
    "mdnmf_fit_adv": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                     ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64,
                                     ctypes.c_void_p, ErrorPointer]),
    "mdnmf_fit_exem": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                      ctypes.c_int64, ErrorPointer]),
    "mdnmf_transform": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                       ctypes.c_int64, ctypes.c_void_p, ErrorPointer]),
    "mdnmf_separator_params_default": (None, [ctypes.POINTER(SeparatorParams), ctypes.c_int]),
    "mdnmf_separator_params_check": (ctypes.c_int, [ctypes.POINTER(SeparatorParams),
                                                    ErrorPointer]),
    "mdnmf_separator_fit": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(SeparatorParams),
                                           ctypes.POINTER(SeparationData), ErrorPointer]),
    "mdnmf_adversarial_data": (ctypes.c_int, [ctypes.POINTER(SeparationData), ctypes.c_int,
                                              ctypes.c_int, ctypes.c_double, ctypes.c_void_p,
                                              ctypes.c_void_p, c_int64_p, ErrorPointer]),
    "mdnmf_model_separator_params": (ctypes.POINTER(SeparatorParams), [ctypes.c_void_p]),
    "mdnmf_tau_auto_default": (None, [ctypes.POINTER(TauAuto), ctypes.c_int]),
    "mdnmf_tau_auto_check": (ctypes.c_int, [ctypes.POINTER(TauAuto), ErrorPointer]),
    "mdnmf_tau_auto_run": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(TauAuto),
                                          ctypes.POINTER(SeparationData),
                                          ctypes.POINTER(TauAutoResult), ErrorPointer]),
    "mdnmf_tau_auto_confirm": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p,
                                              ctypes.POINTER(TauAuto),
                                              ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p,
                                              ctypes.c_int64, ctypes.c_int64,
                                              ctypes.POINTER(ctypes.c_double),
                                              ctypes.POINTER(ctypes.c_int), ErrorPointer]),
    "mdnmf_separate": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                      ctypes.c_int64, ctypes.c_int,
                                      ctypes.POINTER(ctypes.c_void_p), ErrorPointer]),
    "mdnmf_separate_adapted": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                              ctypes.c_int64, ctypes.c_int, ctypes.c_int,
                                              ctypes.c_int, ctypes.POINTER(ctypes.c_void_p),
                                              ErrorPointer]),
    "mdnmf_separate_frames": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                             ctypes.c_int64, ctypes.c_int, ctypes.c_int,
                                             ctypes.c_int, ctypes.c_int,
                                             ctypes.POINTER(ctypes.c_void_p), ErrorPointer]),
    "mdnmf_psnr": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                  ctypes.c_int64, ctypes.c_void_p, ErrorPointer]),
    "mdnmf_squared_error": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                           ctypes.c_int64, ctypes.c_void_p, ErrorPointer]),
    "mdnmf_model_save": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ErrorPointer]),
    "mdnmf_model_load": (ctypes.c_void_p, [ctypes.c_char_p, ErrorPointer]),
    "mdnmf_stream_params_default": (None, [ctypes.POINTER(StreamParams)]),
    "mdnmf_stream_create": (ctypes.c_void_p, [ctypes.c_void_p, ctypes.POINTER(StreamParams),
                                              ErrorPointer]),
    "mdnmf_stream_destroy": (None, [ctypes.c_void_p]),
    "mdnmf_stream_process": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                            ctypes.c_void_p, ctypes.c_void_p, ErrorPointer]),
    "mdnmf_stream_latency": (ctypes.c_int64, [ctypes.c_void_p]),
    "mdnmf_stream_set_mask": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_double,
                                             ctypes.c_double, ErrorPointer]),
    "mdnmf_stream_set_learn_noise": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int,
                                                    ErrorPointer]),
    "mdnmf_stream_reset": (None, [ctypes.c_void_p]),
    "mdnmf_stream_noise_basis": (c_float_p, [ctypes.c_void_p, c_int64_p, c_int64_p]),
}


# ------------------------------------------------------------------ audio
# (the audio API of python/mdnmf/audio.py and search.py: signals, STFT,
# audio metrics, the signal pipeline and the random search)

AUDIO_MIN_RATE = 1000  # MDNMF_AUDIO_MIN_RATE
AUDIO_MAX_RATE = 768000  # MDNMF_AUDIO_MAX_RATE
BSS_MAX_SOURCES = 8  # MDNMF_BSS_MAX_SOURCES
MAX_CONTEXT = 8  # MDNMF_MAX_CONTEXT
AUDIO_ENCODINGS = {"pcm16": 0, "float": 1}  # mdnmf_audio_encoding
METRIC_NAMES = {"psnr": 0, "mse": 1}  # mdnmf_metric
AGGREGATE_NAMES = {"median": 0, "mean": 1}  # mdnmf_aggregate


class AudioParams(ctypes.Structure):
    """mdnmf_audio_params"""
    _fields_ = [
        ("sample_rate", ctypes.c_int),
        ("n_fft", ctypes.c_int),
        ("hop_length", ctypes.c_int),
        ("win_length", ctypes.c_int),
        ("power", ctypes.c_int),
        ("context", ctypes.c_int),
        ("reserved", ctypes.c_uint64 * 7),
    ]


class Audio(ctypes.Structure):
    """mdnmf_audio"""
    _fields_ = [
        ("samples", c_float_p),
        ("length", ctypes.c_int64),
        ("sample_rate", ctypes.c_int),
        ("file_rate", ctypes.c_int),
        ("channels", ctypes.c_int),
        ("mixed_down", ctypes.c_int),
        ("reserved", ctypes.c_uint64 * 8),
    ]


class BssResult(ctypes.Structure):
    """mdnmf_bss_result"""
    _fields_ = [
        ("sdr", ctypes.c_double * BSS_MAX_SOURCES),
        ("sir", ctypes.c_double * BSS_MAX_SOURCES),
        ("sar", ctypes.c_double * BSS_MAX_SOURCES),
        ("permutation", ctypes.c_int * BSS_MAX_SOURCES),
        ("reserved", ctypes.c_uint64 * 8),
    ]


class Signals(ctypes.Structure):
    """mdnmf_signals (arrays as untyped addresses)"""
    _fields_ = [
        ("samples", ctypes.c_void_p),
        ("lengths", ctypes.c_void_p),
        ("sample_rates", ctypes.c_void_p),
        ("count", ctypes.c_int64),
        ("reserved", ctypes.c_uint64 * 4),
    ]


class SignalData(ctypes.Structure):
    """mdnmf_signal_data"""
    _fields_ = [
        ("clean", Signals * MAX_SOURCES),
        ("mixtures", Signals),
        ("paired_clean", Signals * MAX_SOURCES),
        ("paired_mixtures", Signals),
        ("reserved", ctypes.c_uint64 * 8),
    ]


class SearchDimension(ctypes.Structure):
    """mdnmf_search_dimension"""
    _fields_ = [
        ("param", ctypes.c_int),
        ("source", ctypes.c_int),
        ("distribution", ctypes.c_int),
        ("low", ctypes.c_double),
        ("high", ctypes.c_double),
        ("count", ctypes.c_int),
        ("values", ctypes.c_double * SEARCH_MAX_CHOICES),
        ("reserved", ctypes.c_uint64 * 8),
    ]


class SearchTrial(ctypes.Structure):
    """mdnmf_search_trial"""
    _fields_ = [
        ("trial", ctypes.c_int),
        ("trials", ctypes.c_int),
        ("values", c_double_p),
        ("status", ctypes.c_int),
        ("message", ctypes.c_char_p),
        ("metric", ctypes.c_double),
        ("score", ctypes.c_double),
        ("best", ctypes.c_int),
    ]


SEARCH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(SearchTrial))


class Search(ctypes.Structure):
    """mdnmf_search (the draw callback and start model untyped)"""
    _fields_ = [
        ("base", SeparatorParams),
        ("dimensions", ctypes.POINTER(SearchDimension)),
        ("dimension_count", ctypes.c_int),
        ("trials", ctypes.c_int),
        ("folds", ctypes.c_int),
        ("metric", ctypes.c_int),
        ("aggregate", ctypes.c_int),
        ("wiener", ctypes.c_int),
        ("seed", ctypes.c_uint64),
        ("refit", ctypes.c_int),
        ("on_trial", SEARCH_CALLBACK),
        ("on_trial_user", ctypes.c_void_p),
        ("start", ctypes.c_void_p),
        ("contiguous_folds", ctypes.c_int),
        ("score_per_fold", ctypes.c_int),
        ("draw", ctypes.c_void_p),
        ("draw_user", ctypes.c_void_p),
        ("reserved", ctypes.c_uint64 * 16),
    ]


class SearchResult(ctypes.Structure):
    """mdnmf_search_result"""
    _fields_ = [
        ("best_trial", ctypes.c_int),
        ("best_metric", ctypes.c_double),
        ("best_score", ctypes.c_double),
        ("best", SeparatorParams),
        ("failed_trials", ctypes.c_int),
        ("reserved", ctypes.c_uint64 * 8),
    ]


STRUCTS.update({
    "mdnmf_audio_params": AudioParams,
    "mdnmf_audio": Audio,
    "mdnmf_bss_result": BssResult,
    "mdnmf_signals": Signals,
    "mdnmf_signal_data": SignalData,
    "mdnmf_search_dimension": SearchDimension,
    "mdnmf_search_trial": SearchTrial,
    "mdnmf_search": Search,
    "mdnmf_search_result": SearchResult,
})

_v, _i, _i64, _d = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_double
_PROTOTYPES.update({
    "mdnmf_model_set_audio": (_i, [_v, ctypes.POINTER(AudioParams), ErrorPointer]),
    "mdnmf_model_audio": (ctypes.POINTER(AudioParams), [_v]),
    "mdnmf_audio_free": (None, [ctypes.POINTER(Audio)]),
    "mdnmf_audio_read": (_i, [ctypes.c_char_p, _i, ctypes.POINTER(Audio), ErrorPointer]),
    "mdnmf_audio_write": (_i, [ctypes.c_char_p, _v, _i64, _i, _i, ErrorPointer]),
    "mdnmf_resampled_length": (_i64, [_i64, _i, _i]),
    "mdnmf_resample": (_i, [_v, _i64, _i, _i, _v, ErrorPointer]),
    "mdnmf_stft_create": (_v, [_i, _i, _i, ErrorPointer]),
    "mdnmf_stft_destroy": (None, [_v]),
    "mdnmf_stft_n_fft": (_i, [_v]),
    "mdnmf_stft_hop_length": (_i, [_v]),
    "mdnmf_stft_win_length": (_i, [_v]),
    "mdnmf_stft_bins": (_i64, [_v]),
    "mdnmf_stft_frames": (_i64, [_v, _i64]),
    "mdnmf_stft_forward_complex": (_i, [_v, _v, _i64, _v, ErrorPointer]),
    "mdnmf_stft_inverse_complex": (_i, [_v, _v, _i64, _v, _i64, ErrorPointer]),
    "mdnmf_snr": (_i, [_v, _v, _i64, c_double_p, ErrorPointer]),
    "mdnmf_si_sdr": (_i, [_v, _v, _i64, c_double_p, ErrorPointer]),
    "mdnmf_bss_eval_sources": (_i, [ctypes.POINTER(_v), ctypes.POINTER(_v), _i, _i64, _i,
                                    ctypes.POINTER(BssResult), ErrorPointer]),
    "mdnmf_separator_fit_signals": (_i, [_v, ctypes.POINTER(SeparatorParams),
                                         ctypes.POINTER(AudioParams),
                                         ctypes.POINTER(SignalData), ErrorPointer]),
    "mdnmf_denoiser_create": (_v, [_v, ErrorPointer]),
    "mdnmf_denoiser_destroy": (None, [_v]),
    "mdnmf_denoiser_separate": (_i, [_v, _v, _i64, _i, ctypes.POINTER(_v), ErrorPointer]),
    "mdnmf_denoiser_set_adaptation": (_i, [_v, _i, _i, ErrorPointer]),
    "mdnmf_denoiser_set_noise_smoothing": (_i, [_v, _i, ErrorPointer]),
    "mdnmf_denoise_defaults": (_i, [_v, ctypes.POINTER(_i), ctypes.POINTER(_i),
                                    ctypes.POINTER(_i), ErrorPointer]),
    "mdnmf_search_default": (None, [ctypes.POINTER(Search), _i]),
    "mdnmf_search_param_name": (ctypes.c_char_p, [_i]),
    "mdnmf_search_value_name": (ctypes.c_char_p, [_i, _d]),
    "mdnmf_search_dimensions_from_json": (_i, [ctypes.c_char_p, ctypes.c_size_t,
                                               ctypes.POINTER(ctypes.POINTER(SearchDimension)),
                                               ctypes.POINTER(ctypes.POINTER(ctypes.c_char_p)),
                                               ctypes.POINTER(_i), ErrorPointer]),
    "mdnmf_search_dimensions_free": (None, [ctypes.POINTER(SearchDimension),
                                            ctypes.POINTER(ctypes.c_char_p), _i]),
    "mdnmf_search_check": (_i, [ctypes.POINTER(Search), ErrorPointer]),
    "mdnmf_search_run": (_i, [_v, ctypes.POINTER(Search), ctypes.POINTER(SeparationData),
                              ctypes.POINTER(SearchResult), ErrorPointer]),
})


# Sharded fits (issue 16, docs/distributed.md "Library support"): the
# struct and its setter; the distribution layer itself is not in Python.
REDUCE_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                   ctypes.c_int64, ctypes.c_int)


class Shard(ctypes.Structure):
    """mdnmf_shard"""
    _fields_ = [
        ("reduce", REDUCE_CALLBACK),
        ("reduce_user", ctypes.c_void_p),
        ("n_total", ctypes.c_int64),
        ("offset", ctypes.c_int64),
        ("n_adv_total", ctypes.c_int64),
        ("offset_adv", ctypes.c_int64),
        ("rank", ctypes.c_int32),
        ("ranks", ctypes.c_int32),
        ("reserved", ctypes.c_uint64 * 7),
    ]


STRUCTS["mdnmf_shard"] = Shard
_PROTOTYPES["mdnmf_model_set_shard"] = (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(Shard),
                                                       ErrorPointer])

# The shared library's soname: the ABI these mirrors describe
# (MDNMF_SOVERSION in CMakeLists.txt; tests/abi checks they agree).
SONAME = "libmdnmf.so.1"


def _candidates():
    """Where libmdnmf may be, in the order of docs/python.md."""
    here = os.path.dirname(os.path.abspath(__file__))
    explicit = os.environ.get("MDNMF_LIB")
    if explicit:
        yield explicit
        return  # an explicit choice is never silently replaced by another library
    bundled = os.path.join(here, "_lib")
    if os.path.isdir(bundled):
        for name in sorted(os.listdir(bundled)):
            if name.startswith("libmdnmf.so"):
                yield os.path.join(bundled, name)
    # A source checkout: python/mdnmf/ -> build/ (what `make` builds).
    yield os.path.join(os.path.dirname(os.path.dirname(here)), "build", "libmdnmf.so")
    found = ctypes.util.find_library("mdnmf")
    if found:
        yield found
    # `make install` puts it in PREFIX/lib, which the loader's cache may not
    # know until ldconfig runs.
    for folder in (sysconfig.get_config_var("LIBDIR"), "/usr/local/lib", "/usr/lib"):
        if folder:
            yield os.path.join(folder, SONAME)


def _load():
    tried = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            tried.append(f"{path} (missing)")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as error:
            tried.append(f"{path} ({error})")
    raise ImportError(
        "mdnmf: cannot load the C library libmdnmf; install the package with pip (`pip "
        "install ./python` builds and bundles it) or build it with `make`, or set MDNMF_LIB "
        "to the path of libmdnmf.so. Tried: "
        + "; ".join(tried))


def _declare(library):
    for name, (result, arguments) in _PROTOTYPES.items():
        try:
            function = getattr(library, name)
        except AttributeError:
            raise ImportError(f"mdnmf: {library._name} lacks {name}: an older libmdnmf?") from None
        function.restype = result
        function.argtypes = arguments


def encode_path(path):
    """`path` (str, bytes or os.PathLike) as the bytes the C library takes.

    C ends a name at its first NUL byte, so 'a\\x00b.npz' would silently
    become 'a': like open(), raise ValueError("embedded null byte") instead."""
    encoded = os.fsencode(path)
    if b"\0" in encoded:
        raise ValueError("embedded null byte")
    return encoded


lib, library_path = _load()
_declare(lib)


def _check_layout():
    """Catch a mismatched library early: its defaults must land where our
    struct says the fields are."""
    p = Params()
    lib.mdnmf_params_default(ctypes.byref(p))
    if p.d != 0 or p.tau_W != 1.0 or p.warm_start != 0 or p.threads != 0:
        raise ImportError(f"mdnmf: {library_path} does not match this binding's mdnmf_params "
                          "layout (rebuild the library and reinstall the package)")


_check_layout()

if sys.byteorder != "little":  # the .npy and model conventions assume it
    raise ImportError("mdnmf: only little-endian machines are supported")


def version():
    """The version of the C library actually loaded (its MDNMF_VERSION_STRING)."""
    return lib.mdnmf_version().decode()


def strerror(status):
    return lib.mdnmf_strerror(status).decode()
