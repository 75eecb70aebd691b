"""Audio from Python: reading and writing recordings, the STFT of the
models' front end, SNR / SI-SDR / BSS Eval, and :class:`Denoiser`, a speech
denoiser trained and applied as ``mdnmf denoise fit|apply`` do.

Signals are 1-D arrays of samples, nominally in [-1, 1].  The library works
in float32: any other real dtype, a strided view or a list is converted once
(one float32 copy of the signal, 4 bytes per sample); a contiguous float32
array is passed to C as it is.  Every long call releases the GIL (ctypes
does), so other Python threads run meanwhile.
"""

from __future__ import annotations

import ctypes
import os
import threading
import weakref
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _native
from ._model import INT64_MAX, EpochRecorder, Model, _adapt_start, choice, integer, real, \
    resolve_seed
from ._native import lib
from .errors import InvalidArgumentError, InvalidDataError, NotFittedError, ShapeError, call, \
    error_for

PathLike = Union[str, bytes, os.PathLike]

# What `mdnmf denoise fit` reads from a folder (cli/audio_paths.h).
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".aiff", ".aif", ".aifc", ".au",
                    ".snd", ".caf", ".w64", ".rf64", ".mp3")
DEFAULT_N_FFT = 512  # `mdnmf denoise fit --n-fft`
DENOISING_MODES = ("std", "adv", "semi", "semi_adv", "sup")


# ----------------------------------------------------------------- signals

def _signal(x, name="signal") -> np.ndarray:
    """`x` as a contiguous 1-D float32 array: itself when it already is one,
    else one converted copy."""
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise InvalidArgumentError(f"{name} has dtype {array.dtype}: samples are real numbers")
    if array.ndim != 1:
        raise ShapeError(f"{name} must be one channel of samples (1-D), not shape {array.shape}")
    if array.size == 0:
        raise ShapeError(f"{name} is empty: no samples")
    return np.ascontiguousarray(array, dtype=np.float32)


def _rate(value, name="sample_rate") -> int:
    return integer(value, name, _native.AUDIO_MIN_RATE, _native.AUDIO_MAX_RATE)


def _check_finite(samples, name):
    if not np.isfinite(samples).all():
        bad = int(np.flatnonzero(~np.isfinite(samples))[0])
        raise InvalidDataError(f"{name} has a non-finite sample ({samples[bad]}) at index {bad}",
                               _native.ERR_DATA)


def read_audio(path: PathLike, sample_rate: Optional[int] = None) -> Tuple[np.ndarray, int]:
    """Read a recording (any format libsndfile knows: WAV, FLAC, OGG, ...).

    Parameters
    ----------
    path : str or os.PathLike
    sample_rate : int, optional
        Resample to this rate in Hz (libsoxr, as librosa's default); None
        keeps the file's rate.

    Returns
    -------
    samples : ndarray of float32, shape (length,)
        Mono: several channels are averaged; integer PCM scaled to [-1, 1).
    sample_rate : int
        The rate of `samples`.
    """
    rate = 0 if sample_rate is None else _rate(sample_rate)
    audio = _native.Audio()
    call(lib.mdnmf_audio_read, _native.encode_path(path), rate, ctypes.byref(audio))
    try:
        samples = np.ctypeslib.as_array(audio.samples, shape=(audio.length,)).copy()
        return samples, int(audio.sample_rate)
    finally:
        lib.mdnmf_audio_free(ctypes.byref(audio))


def write_audio(path: PathLike, samples, sample_rate: int, *, encoding: str = "pcm16") -> None:
    """Write a mono WAV file, atomically (a temporary file renamed into place).

    Parameters
    ----------
    path : str or os.PathLike
    samples : array_like, 1-D
        Finite samples; with ``encoding="pcm16"`` rounded to 16 bits
        (``round(x * 32768)`` clipped), the inverse of :func:`read_audio`.
    sample_rate : int
    encoding : {"pcm16", "float"}
        16-bit PCM (default, as ``mdnmf denoise apply``) or 32-bit float.
    """
    x = _signal(samples, "samples")
    code = choice(encoding, _native.AUDIO_ENCODINGS, "encoding")
    call(lib.mdnmf_audio_write, _native.encode_path(path), x.ctypes.data, x.size,
         _rate(sample_rate), code)


def resample(signal, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample with libsoxr (high quality, as librosa's "soxr_hq") to
    ``ceil(len * target_sr / orig_sr)`` samples."""
    x = _signal(signal)
    orig, target = _rate(orig_sr, "orig_sr"), _rate(target_sr, "target_sr")
    length = lib.mdnmf_resampled_length(x.size, orig, target)
    if length <= 0:
        raise InvalidArgumentError(f"{x.size} samples from {orig} Hz to {target} Hz overflow")
    out = np.empty(length, dtype=np.float32)
    call(lib.mdnmf_resample, x.ctypes.data, x.size, orig, target, out.ctypes.data)
    return out


# -------------------------------------------------------------------- STFT

class _Stft:
    """An mdnmf_stft for the duration of one call."""

    def __init__(self, n_fft, hop_length, win_length):
        error = _native.Error()
        self.handle = lib.mdnmf_stft_create(
            integer(n_fft, "n_fft", 2), 0 if hop_length is None else integer(
                hop_length, "hop_length", 1), 0 if win_length is None else integer(
                win_length, "win_length", 1), ctypes.byref(error))
        if not self.handle:
            raise error_for(error.status, error.text())

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        lib.mdnmf_stft_destroy(self.handle)


def stft(signal, n_fft: int = DEFAULT_N_FFT, hop_length: Optional[int] = None,
         win_length: Optional[int] = None) -> np.ndarray:
    """Short-time Fourier transform with librosa's conventions (the front
    end of the denoisers, SPEC §7).

    Periodic Hann window of `win_length` samples centred in `n_fft`, the
    signal padded with ``n_fft // 2`` zeros at both ends, frames
    `hop_length` apart, the one-sided unnormalised DFT.  Computed in float32
    with FFTW.

    Parameters
    ----------
    signal : array_like, 1-D
        Finite samples (converted once to float32 unless they are).
    n_fft : int
        Even FFT size (default 512, as ``mdnmf denoise fit``).
    hop_length : int, optional
        Default ``win_length // 4``.
    win_length : int, optional
        Default `n_fft`.

    Returns
    -------
    ndarray of complex64, shape (n_fft // 2 + 1, 1 + len(signal) // hop_length)
        Frequency bins down, frames across, as ``librosa.stft``.  The array
        is Fortran-ordered: each frame (column) is contiguous, as the
        library computes it.
    """
    x = _signal(signal)
    _check_finite(x, "signal")
    with _Stft(n_fft, hop_length, win_length) as transform:
        m = lib.mdnmf_stft_bins(transform.handle)
        frames = lib.mdnmf_stft_frames(transform.handle, x.size)
        out = np.empty((frames, m), dtype=np.complex64)
        call(lib.mdnmf_stft_forward_complex, transform.handle, x.ctypes.data, x.size,
             out.ctypes.data)
    return out.T


def istft(spectrum, length: Optional[int] = None, n_fft: Optional[int] = None,
          hop_length: Optional[int] = None, win_length: Optional[int] = None) -> np.ndarray:
    """Inverse of :func:`stft`: window-sum-square normalised overlap-add, as
    ``librosa.istft``.

    Parameters
    ----------
    spectrum : array_like, complex, shape (n_fft // 2 + 1, frames)
        Converted once to complex64 frames unless it already is a
        Fortran-ordered complex64 array (what :func:`stft` returns).
    length : int, optional
        Samples of the result (trimmed or zero-padded); default
        ``hop_length * (frames - 1)``, librosa's.
    n_fft : int, optional
        Default ``2 * (rows - 1)``.
    hop_length, win_length : int, optional
        As for :func:`stft`.

    Returns
    -------
    ndarray of float32, shape (length,)
    """
    Z = np.asarray(spectrum)
    if Z.ndim != 2:
        raise ShapeError(f"spectrum must be 2-D (frequency bins x frames), not shape {Z.shape}")
    if Z.dtype.kind not in "biufc":
        raise InvalidArgumentError(f"spectrum has dtype {Z.dtype}: it must be complex numbers")
    m, frames = Z.shape
    if frames == 0 or m < 2:
        raise ShapeError(f"spectrum has shape {Z.shape}: it needs >= 2 bins and >= 1 frame")
    fft_size = 2 * (m - 1) if n_fft is None else integer(n_fft, "n_fft", 2)
    if fft_size // 2 + 1 != m:
        raise ShapeError(f"spectrum has {m} bins but n_fft {fft_size} gives {fft_size // 2 + 1}")
    frames_c = np.ascontiguousarray(Z.T, dtype=np.complex64)  # (frames, m): C's layout
    if not np.isfinite(frames_c).all():
        raise InvalidDataError("spectrum has a non-finite value", _native.ERR_DATA)
    with _Stft(fft_size, hop_length, win_length) as transform:
        hop = lib.mdnmf_stft_hop_length(transform.handle)
        count = hop * (frames - 1) if length is None else integer(length, "length", 1, INT64_MAX)
        if count < 1:
            raise ShapeError("one frame and no length: give length")
        out = np.empty(count, dtype=np.float32)
        call(lib.mdnmf_stft_inverse_complex, transform.handle, frames_c.ctypes.data, frames,
             out.ctypes.data, count)
    return out


# ----------------------------------------------------------------- metrics

def _pair(reference, estimate):
    s, e = _signal(reference, "reference"), _signal(estimate, "estimate")
    if s.size != e.size:
        raise ShapeError(f"reference has {s.size} samples but estimate {e.size}")
    return s, e


def snr(reference, estimate) -> float:
    """SNR in dB: ``10 log10(||s||² / ||s - ŝ||²)`` (SPEC §9), sums in
    double over float32 samples; +inf when the estimate is exact.

    Raises InvalidDataError for a silent reference."""
    s, e = _pair(reference, estimate)
    value = ctypes.c_double()
    call(lib.mdnmf_snr, s.ctypes.data, e.ctypes.data, s.size, ctypes.byref(value))
    return value.value


def si_sdr(reference, estimate) -> float:
    """Scale-invariant SDR in dB (SPEC §9): with ``α = <ŝ, s> / ||s||²``,
    ``10 log10(||α s||² / ||α s - ŝ||²)``; no mean removed.

    Raises InvalidDataError for a silent reference or estimate."""
    s, e = _pair(reference, estimate)
    value = ctypes.c_double()
    call(lib.mdnmf_si_sdr, s.ctypes.data, e.ctypes.data, s.size, ctypes.byref(value))
    return value.value


def _sources(x, name):
    array = np.asarray(x)
    if array.ndim == 1:
        array = array[np.newaxis, :]
    if array.ndim != 2:
        raise ShapeError(f"{name} must be (sources, samples), not shape {array.shape}")
    if array.dtype.kind not in "biuf":
        raise InvalidArgumentError(f"{name} has dtype {array.dtype}: samples are real numbers")
    return np.ascontiguousarray(array, dtype=np.float32)


def bss_eval(references, estimates, compute_permutation: bool = True
             ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """BSS Eval v3 as ``mir_eval.separation.bss_eval_sources``.

    Parameters
    ----------
    references, estimates : array_like, shape (sources, samples) or (samples,)
        1..8 sources of equal length; converted once to float32 (C order).
    compute_permutation : bool
        Match estimates to references by the permutation of highest mean SIR.

    Returns
    -------
    sdr, sir, sar : ndarray of float64, shape (sources,)
        In dB, entry j for reference j.
    perm : ndarray of int64, shape (sources,)
        ``perm[j]`` is the estimate matched with reference j.
    """
    R, E = _sources(references, "references"), _sources(estimates, "estimates")
    if R.shape != E.shape:
        raise ShapeError(f"references have shape {R.shape} but estimates {E.shape}")
    S, n = R.shape
    if not 1 <= S <= _native.BSS_MAX_SOURCES:
        raise ShapeError(f"{S} sources: BSS Eval takes 1..{_native.BSS_MAX_SOURCES}")
    refs = (ctypes.c_void_p * S)(*[R[s].ctypes.data for s in range(S)])
    ests = (ctypes.c_void_p * S)(*[E[s].ctypes.data for s in range(S)])
    result = _native.BssResult()
    call(lib.mdnmf_bss_eval_sources, refs, ests, S, n, 1 if compute_permutation else 0,
         ctypes.byref(result))
    return (np.array(result.sdr[:S]), np.array(result.sir[:S]), np.array(result.sar[:S]),
            np.array(result.permutation[:S], dtype=np.int64))


# --------------------------------------------------------------- denoiser

def _expand(item) -> List[str]:
    """A path argument as `mdnmf denoise fit` expands it: a file as it is, a
    folder as its audio files (recursively, sorted byte-wise)."""
    path = os.fsdecode(item)
    if not os.path.isdir(path):
        return [path]
    found = []
    for folder, _dirs, files in os.walk(path, followlinks=True):
        found += [os.path.join(folder, f) for f in files
                  if os.path.splitext(f)[1].lower() in AUDIO_EXTENSIONS]
    if not found:
        raise FileNotFoundError(f"{path}: no audio files in this folder")
    return sorted(found, key=os.fsencode)


def _recordings(group, name, sample_rate):
    """The recordings of one group as float32 arrays at `sample_rate`.

    `group` is a path (file or folder), an array, or a list of paths,
    arrays and (array, rate) pairs; arrays without a rate are at
    `sample_rate`.  Files are read (and resampled) by the library as
    `mdnmf denoise fit` reads them."""
    if group is None:
        return []
    items = [group] if isinstance(group, (str, bytes, os.PathLike, np.ndarray)) else list(group)
    signals = []
    for item in items:
        if isinstance(item, (str, bytes, os.PathLike)):
            for path in _expand(item):
                samples, _ = read_audio(path, sample_rate)
                signals.append((path, samples))
            continue
        rate = sample_rate
        if isinstance(item, tuple) and len(item) == 2:
            item, rate = item
        samples = _signal(item, f"{name}[{len(signals)}]")
        if rate != sample_rate:
            samples = resample(samples, rate, sample_rate)
        signals.append((f"{name}[{len(signals)}]", samples))
    for where, samples in signals:
        _check_finite(samples, where)
        if not np.any(samples):
            raise InvalidDataError(f"{where}: silent (all {samples.size} samples are 0): "
                                   "nothing to learn from; remove it", _native.ERR_DATA)
    if not signals:
        raise ShapeError(f"{name}: no recordings")
    return [samples for _, samples in signals]


def _first_rate(group):
    """The rate of the first speech recording when it is a file."""
    items = [group] if isinstance(group, (str, bytes, os.PathLike, np.ndarray)) else list(group)
    if items and isinstance(items[0], tuple) and len(items[0]) == 2:
        return _rate(items[0][1])
    if items and isinstance(items[0], (str, bytes, os.PathLike)):
        return read_audio(_expand(items[0])[0])[1]
    raise InvalidArgumentError("sample_rate is needed when the speech is given as arrays "
                               "(the rate of the arrays and of the model)")


class _SignalGroup:
    """One mdnmf_signals over float32 arrays kept alive by this object."""

    def __init__(self, arrays):
        self.arrays = arrays
        self.pointers = (ctypes.c_void_p * max(1, len(arrays)))(
            *[a.ctypes.data for a in arrays])
        self.lengths = (ctypes.c_int64 * max(1, len(arrays)))(*[a.size for a in arrays])

    def fill(self, signals):
        if self.arrays:
            signals.samples = ctypes.cast(self.pointers, ctypes.c_void_p)
            signals.lengths = ctypes.cast(self.lengths, ctypes.c_void_p)
            signals.count = len(self.arrays)


def _per_source(value, name):
    values = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value, value]
    if len(values) != 2:
        raise InvalidArgumentError(f"{name} takes one value or two (speech, noise), not "
                                   f"{len(values)}")
    return values


def _destroy_denoiser(handle, _model):
    lib.mdnmf_denoiser_destroy(handle)


class Denoiser:
    """A speech denoiser: a speech and a noise basis on STFT magnitudes, as
    ``mdnmf denoise fit`` trains and ``mdnmf denoise apply`` uses them.

    Create one unfitted (``Denoiser()``) and :meth:`fit` it, or read a
    model file with :meth:`load`.  One Denoiser must not be used from two
    threads at once (calls on one object are serialised by a lock); distinct
    ones run in parallel.

    Examples
    --------
    >>> den = mdnmf.Denoiser().fit("speech/", "noisy/", mode="semi_adv")
    >>> speech, noise = den.apply(noisy_samples, 16000)
    >>> den.save("model.npz")
    """

    def __init__(self):
        self._model: Optional[Model] = None
        self._handle = None
        self._finalizer = None
        self._lock = threading.Lock()
        # set_separation's (epochs, fresh, smoothing); None: the model's
        # defaults (mdnmf_denoise_defaults), as `denoise apply` takes them.
        self._separation = None
        self.history_: List[dict] = []

    # ------------------------------------------------------------ fitting
    def fit(self, speech, noisy=None, *, noise=None, mode: str = "semi_adv",
            atoms: Sequence[int] = (128, 128), sample_rate: Optional[int] = None,
            n_fft: int = DEFAULT_N_FFT, hop_length: Optional[int] = None,
            win_length: Optional[int] = None, spectrum: str = "magnitude", context: int = 0,
            epochs: int = 100, test_epochs: int = 100, init_H_steps: int = 0,
            batch_size: Optional[int] = None, batch_size_adv: Optional[int] = None,
            tau_A=1.0, tau_W: float = 1.0, mu_W: float = 1e-10, mu_H=(1e-3, 1e-10),
            beta=1.0, init: str = "exemplar", normalize: bool = False,
            update_H: bool = False, true_sample: str = "std", divergence: str = "fro",
            warm_start_epochs: int = 0, noise_steps: int = 1, wiener_exponent: float = 0.5,
            seed=0, threads: int = 0, callback=None) -> "Denoiser":
        """Learn the speech and noise bases from recordings.

        The keyword arguments and their defaults are those of ``mdnmf
        denoise fit`` (its ``--help``), so the same recordings and settings
        give the same model, bit for bit.

        Parameters
        ----------
        speech : path, array or list of paths / arrays / (array, rate)
            Clean speech.  A path is a file or a folder (its audio files,
            recursively, sorted); arrays are 1-D signals at `sample_rate`
            unless paired with their own rate.
        noisy : same kinds, optional
            Noisy recordings: the noise is learned from them (modes semi,
            semi_adv), extra adversarial data (adv), or, for sup, the
            mixtures of the paired `speech` and `noise`.
        noise : same kinds, optional
            Clean noise (modes std, adv, and sup's paired noise).
        mode : {"semi_adv", "semi", "std", "adv", "sup"}
            semi/semi_adv learn the noise from `noisy`; std/adv from clean
            `noise`; sup (DNMF) from speech, noise and their mixtures
            `noisy` given as pairs (recording k of each, of equal length).
        atoms : (int, int)
            Atoms of the speech and of the noise basis.
        sample_rate : int, optional
            The model's rate: every recording is resampled to it.  Default:
            the first speech file's rate (required when speech is arrays).
        n_fft, hop_length, win_length : int
            The STFT (hop default ``win_length // 4``, window default n_fft).
        spectrum : {"magnitude", "power"}
            What the bases model.
        context : int
            Neighbouring frames stacked on each side of a frame (0..8).
        epochs, test_epochs, init_H_steps, batch_size, batch_size_adv, tau_A,
        tau_W, mu_W, mu_H, beta, init, normalize, update_H, true_sample,
        divergence, warm_start_epochs, noise_steps, wiener_exponent, seed,
        threads :
            The separator's settings, as the options of the same names
            (tau_A, mu_H, beta: one value or (speech, noise)).
        callback : callable, optional
            Called with each epoch's record (a dict); returning False stops
            the fit (CancelledError).

        Returns
        -------
        self

        Notes
        -----
        The recordings are converted once to float32 at the model's rate;
        the library then stacks their |STFT| frames (one more float32 copy,
        ``(n_fft/2 + 1) * frames`` values) and fits.  The GIL is released
        during the fit.  Ctrl-C (KeyboardInterrupt) stops it at the next
        epoch; on any failure the Denoiser keeps its previous state.
        """
        mode_name = str(mode).lower()
        if mode_name not in DENOISING_MODES:
            raise InvalidArgumentError(f"mode must be one of {', '.join(DENOISING_MODES)}, "
                                       f"not {mode!r}")
        semi = mode_name.startswith("semi")
        needs = {"speech": True, "noise": mode_name in ("std", "adv", "sup"),
                 "noisy": semi or mode_name == "sup"}
        given = {"speech": speech is not None, "noise": noise is not None,
                 "noisy": noisy is not None}
        for group, needed in needs.items():
            if needed and not given[group]:
                raise InvalidArgumentError(f"mode {mode_name} needs {group} recordings")
        if semi and given["noise"]:
            raise InvalidArgumentError(f"noise: mode {mode_name} learns the noise from the "
                                       "noisy recordings; for clean noise use mode std or adv")
        if mode_name == "std" and given["noisy"]:
            raise InvalidArgumentError("noisy is not used by mode std: drop it, or use mode "
                                       "adv (extra adversarial data) or semi/semi_adv")
        params = self._separator_params(
            mode_name, atoms, epochs=epochs, test_epochs=test_epochs, init_H_steps=init_H_steps,
            batch_size=batch_size, batch_size_adv=batch_size_adv, tau_A=tau_A, tau_W=tau_W,
            mu_W=mu_W, mu_H=mu_H, beta=beta, init=init, normalize=normalize,
            update_H=update_H, true_sample=true_sample, divergence=divergence,
            warm_start_epochs=warm_start_epochs, noise_steps=noise_steps,
            wiener_exponent=wiener_exponent, seed=seed, threads=threads)
        front = _native.AudioParams()
        front.n_fft = integer(n_fft, "n_fft", 2)
        front.hop_length = 0 if hop_length is None else integer(hop_length, "hop_length", 1)
        front.win_length = 0 if win_length is None else integer(win_length, "win_length", 1)
        front.power = choice(spectrum, {"magnitude": 0, "power": 1}, "spectrum")
        front.context = integer(context, "context", 0, _native.MAX_CONTEXT)
        with _Stft(front.n_fft, hop_length, win_length):
            pass  # the front end's own message before any file is read
        for name, value in (("win_length", front.win_length), ("hop_length", front.hop_length)):
            if value > front.n_fft:  # as `mdnmf denoise fit` refuses them
                raise InvalidArgumentError(f"{name}: {value} is longer than n_fft {front.n_fft}")
        rate = _first_rate(speech) if sample_rate is None else _rate(sample_rate)
        front.sample_rate = rate

        groups = {name: _SignalGroup(_recordings(value, name, rate))
                  for name, value in (("speech", speech), ("noise", noise), ("noisy", noisy))}
        data = _native.SignalData()
        if mode_name == "sup":
            groups["speech"].fill(data.paired_clean[0])
            groups["noise"].fill(data.paired_clean[1])
            groups["noisy"].fill(data.paired_mixtures)
        else:
            groups["speech"].fill(data.clean[0])
            groups["noise"].fill(data.clean[1])
            groups["noisy"].fill(data.mixtures)

        common = _native.Params()
        ctypes.memmove(ctypes.byref(common), ctypes.byref(params.common), ctypes.sizeof(common))
        common.d = 1  # the separator's d[] decide (as the CLI)
        common.on_epoch = _native.EPOCH_CALLBACK()
        model = Model.create(common)
        recorder = EpochRecorder(callback)
        recorder.install(params.common)
        try:
            with recorder.running():
                status = lib.mdnmf_separator_fit_signals(
                    model.handle, ctypes.byref(params), ctypes.byref(front), ctypes.byref(data),
                    model.reporting())
        finally:
            params.common.on_epoch = _native.EPOCH_CALLBACK()
        if status == _native.ERR_SHAPE and recorder.error is None:
            message = model.error.text()
            for source, group in ((0, "speech"), (1, "noise")):
                if f"source {source}" in message:  # name the recordings, as the CLI does
                    raise ShapeError(f"{group}: {message}: give more {group} or fewer atoms",
                                     status)
        model.check(status, recorder)
        if recorder.error is not None:
            raise recorder.error
        # The model keeps no pointer to the callback (the separator params are
        # copied), but its params do: clear it before the recorder goes.
        stored = model.params()
        lib.mdnmf_model_set_params(model.handle, ctypes.byref(stored), None)
        model.keep_alive = recorder.function  # the separator params keep their copy
        self._adopt(model)
        self.history_ = recorder.records
        return self

    @staticmethod
    def _separator_params(mode, atoms, **settings):
        p = _native.SeparatorParams()
        lib.mdnmf_separator_params_default(ctypes.byref(p), 2)
        # cli_speech_params (cli/denoise.c): the paper's speech settings.
        p.mode = _native.MODE_NAMES.index(mode)
        d = list(atoms) if isinstance(atoms, (list, tuple, np.ndarray)) else None
        if d is None or len(d) != 2:
            raise InvalidArgumentError(f"atoms must be (speech atoms, noise atoms), not {atoms!r}")
        for s in range(2):
            p.d[s] = integer(d[s], "atoms", 1, INT64_MAX)
        c = p.common
        c.epochs = integer(settings["epochs"], "epochs")
        c.test_epochs = integer(settings["test_epochs"], "test_epochs")
        c.init_H_steps = integer(settings["init_H_steps"], "init_H_steps")
        c.batch_size = 0 if settings["batch_size"] is None else integer(
            settings["batch_size"], "batch_size", 0, INT64_MAX)
        c.batch_size_adv = 0 if settings["batch_size_adv"] is None else integer(
            settings["batch_size_adv"], "batch_size_adv", 0, INT64_MAX)
        c.tau_W = real(settings["tau_W"], "tau_W")
        c.mu_W = real(settings["mu_W"], "mu_W")
        c.init = choice(settings["init"], _native.INIT_NAMES, "init")
        c.normalize = 1 if settings["normalize"] else 0
        c.update_H = 1 if settings["update_H"] else 0
        c.true_sample = choice(settings["true_sample"], _native.TRUE_SAMPLE_NAMES, "true_sample")
        c.divergence = choice(settings["divergence"], _native.DIVERGENCE_NAMES, "divergence")
        c.seed = resolve_seed(settings["seed"])
        c.threads = integer(settings["threads"], "threads")
        for name in ("tau_A", "mu_H", "beta"):
            values = _per_source(settings[name], name)
            for s in range(2):
                getattr(p, name)[s] = real(values[s], name)
        p.warm_start_epochs = integer(settings["warm_start_epochs"], "warm_start_epochs")
        p.noise_steps = integer(settings["noise_steps"], "noise_steps")
        p.wiener_exponent = real(settings["wiener_exponent"], "wiener_exponent")
        error = _native.Error()
        if lib.mdnmf_separator_params_check(ctypes.byref(p), ctypes.byref(error)) != _native.OK:
            raise InvalidArgumentError(error.text(), error.status)
        return p

    def _adopt(self, model):
        """Make `model` this Denoiser's, with a fresh library denoiser."""
        error = _native.Error()
        handle = lib.mdnmf_denoiser_create(model.handle, ctypes.byref(error))
        if not handle:
            raise error_for(error.status, error.text())
        with self._lock:  # never while apply() uses the old one
            if self._finalizer is not None:
                self._finalizer()
            self._model, self._handle = model, handle
            self._finalizer = weakref.finalize(self, _destroy_denoiser, handle, model)
            self._apply_separation()

    def set_separation(self, adapt_noise: int = 0, adapt_start="auto",
                       noise_smoothing: int = 0) -> "Denoiser":
        """How :meth:`apply` separates each recording, kept across :meth:`fit`.

        adapt_noise: steps of refitting the noise basis to the recording
        first (mdnmf_denoiser_set_adaptation), from fresh atoms
        (``adapt_start="fresh"`` or True), the model's ("model" or False) or,
        with "auto", fresh ones for an MDNMF model and the model's for an
        NMF one; noise_smoothing: frames on each side over which the noise
        activations are averaged (mdnmf_denoiser_set_noise_smoothing).
        ``set_separation()`` is plain separation (the library's default).  A
        new Denoiser separates as ``mdnmf denoise apply`` does by default
        (mdnmf_denoise_defaults): ``set_separation(200, "auto", 20)`` for a
        noise basis learned from noisy recordings (modes semi and
        semi_adv), plain separation for one learned from clean noise.
        Returns self."""
        epochs = integer(adapt_noise, "adapt_noise")
        start = {"fresh": True, "model": False}.get(adapt_start, adapt_start)
        if isinstance(start, str) and start != "auto":
            raise InvalidArgumentError(f'adapt_start must be "auto", "fresh", "model", True or '
                                       f'False, not {adapt_start!r}')
        fresh = _adapt_start(start)
        smoothing = integer(noise_smoothing, "noise_smoothing")
        with self._lock:
            previous, self._separation = self._separation, (epochs, fresh, smoothing)
            try:
                self._apply_separation()
            except Exception:
                self._separation = previous
                self._apply_separation()
                raise
        return self

    def _apply_separation(self):
        """The library denoiser takes self._separation (the lock is held)."""
        if self._handle is None:
            return
        error = _native.Error()
        if self._separation is None:
            values = [ctypes.c_int() for _ in range(3)]
            if lib.mdnmf_denoise_defaults(self._model.handle, *map(ctypes.byref, values),
                                          ctypes.byref(error)):
                raise error_for(error.status, error.text())
            epochs, fresh, smoothing = (v.value for v in values)
        else:
            epochs, fresh, smoothing = self._separation
        if lib.mdnmf_denoiser_set_adaptation(self._handle, epochs, fresh, ctypes.byref(error)) \
                or lib.mdnmf_denoiser_set_noise_smoothing(self._handle, smoothing,
                                                          ctypes.byref(error)):
            raise error_for(error.status, error.text())

    # ------------------------------------------------------------- files
    @classmethod
    def load(cls, path: PathLike) -> "Denoiser":
        """Read a model file written by :meth:`save` or ``mdnmf denoise fit``.

        Raises FileAccessError / FileFormatError for a missing or foreign
        file, NotFittedError for a model without an audio front end or with
        fewer than two sources."""
        denoiser = cls()
        denoiser._adopt(Model.load(path))
        return denoiser

    def save(self, path: PathLike) -> None:
        """Write the model (.npz, the CLI's format) atomically: a temporary
        file renamed into place, never a half-written file."""
        self._fitted().save(path)

    def _fitted(self) -> Model:
        if self._model is None:
            raise NotFittedError("this Denoiser is not fitted: call fit() or Denoiser.load() "
                                 "first", _native.ERR_STATE)
        return self._model

    # ------------------------------------------------------------- using
    def apply(self, signal, sample_rate: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Denoise one recording.

        Parameters
        ----------
        signal : array_like, 1-D
            Finite samples, not all 0 (converted once to float32 unless
            they are contiguous float32).
        sample_rate : int, optional
            Rate of `signal` in Hz; resampled to the model's inside and
            back (default: the model's rate).

        Returns
        -------
        speech, noise : ndarray of float32, each as long as `signal`
            The Wiener-filtered estimates; they add up to the signal (up to
            rounding and resampling).  Same numbers as ``mdnmf denoise
            apply`` (before its 16-bit rounding; see ``--float``).
        """
        model = self._fitted()
        x = _signal(signal)
        _check_finite(x, "signal")
        rate = 0 if sample_rate is None else _rate(sample_rate)
        S = lib.mdnmf_model_source_count(model.handle)
        estimates = [np.empty_like(x) for _ in range(S)]
        buffers = (ctypes.c_void_p * S)(*[e.ctypes.data for e in estimates])
        with self._lock:
            call(lib.mdnmf_denoiser_separate, self._handle, x.ctypes.data, x.size, rate, buffers)
        noise = estimates[1] if S == 2 else np.sum(estimates[1:], axis=0, dtype=np.float32)
        return estimates[0], noise

    def apply_file(self, path: PathLike, output: Optional[PathLike] = None, *,
                   noise_output: Optional[PathLike] = None, encoding: str = "pcm16"
                   ) -> Tuple[np.ndarray, np.ndarray, int]:
        """Denoise a recording file at its own rate, as ``mdnmf denoise
        apply`` does; optionally write the speech (and noise) estimate.

        Returns ``(speech, noise, sample_rate)``."""
        samples, rate = read_audio(path)
        speech, noise = self.apply(samples, rate)
        if output is not None:
            write_audio(output, speech, rate, encoding=encoding)
        if noise_output is not None:
            write_audio(noise_output, noise, rate, encoding=encoding)
        return speech, noise, rate

    def stream(self, **kwargs):
        """An :class:`mdnmf.Stream` (the real-time denoiser) of this model;
        keyword arguments as Stream's."""
        from .stream import Stream
        return Stream(self._fitted(), **kwargs)

    # -------------------------------------------------------- attributes
    def _front(self):
        pointer = lib.mdnmf_model_audio(self._fitted().handle)
        return pointer.contents

    @property
    def sample_rate(self) -> int:
        """The model's rate in Hz."""
        return int(self._front().sample_rate)

    @property
    def n_fft(self) -> int:
        return int(self._front().n_fft)

    @property
    def hop_length(self) -> int:
        return int(self._front().hop_length)

    @property
    def win_length(self) -> int:
        return int(self._front().win_length)

    @property
    def atoms(self) -> Tuple[int, ...]:
        """Atoms per source (speech first)."""
        return tuple(self._fitted().components())

    @property
    def mode(self) -> Optional[str]:
        separator = self._fitted().separator_params()
        return None if separator is None else _native.MODE_NAMES[separator.mode]

    @property
    def wiener_exponent(self) -> float:
        separator = self._fitted().separator_params()
        return 1.0 if separator is None or separator.wiener_exponent == 0 else float(
            separator.wiener_exponent)

    @property
    def basis(self) -> np.ndarray:
        """A copy of the bases [W_speech W_noise], shape (features, sum(atoms))."""
        return self._fitted().basis()

    @property
    def fitted(self) -> bool:
        return self._model is not None

    def __repr__(self):
        if self._model is None:
            return "Denoiser(unfitted)"
        return (f"Denoiser(mode={self.mode!r}, atoms={self.atoms}, "
                f"sample_rate={self.sample_rate}, n_fft={self.n_fft}, "
                f"hop_length={self.hop_length})")


__all__ = ["Denoiser", "read_audio", "write_audio", "resample", "stft", "istft", "snr",
           "si_sdr", "bss_eval"]

