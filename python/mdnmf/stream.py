"""The real-time denoiser (mdnmf_stream_* of the C library): blocks of audio
in, blocks of denoised audio out, with a fixed latency."""

import ctypes
import os
import weakref

import numpy as np

from . import _native
from ._model import INT64_MAX, Model, address, integer, real, resolve_seed
from ._native import lib
from .errors import InvalidArgumentError, call, error_for


def _destroy(handle):
    lib.mdnmf_stream_destroy(handle)


def _model_of(model):
    if isinstance(model, Model):
        return model
    if isinstance(model, (str, bytes, os.PathLike)):
        return Model.load(model)
    raise TypeError("model must be a path to a model file (as `mdnmf denoise fit` writes) "
                    f"or an mdnmf model, not {type(model).__name__}")


def _samples(block):
    """`block` as a contiguous 1-D float32 array (copied only when it is not
    one already: another dtype, a stride, or not an ndarray)."""
    array = np.ascontiguousarray(block, dtype=np.float32)
    if array.ndim != 1:
        raise ValueError(f"a block must be one channel of samples (1-D), got shape "
                         f"{array.shape}; use one Stream per channel")
    return array


class Stream:
    """A streaming denoiser for one channel, the library's mdnmf_stream.

    Each call to :meth:`process` takes the next block of samples (any
    length, any float dtype) and returns as many denoised samples, delayed
    by :attr:`latency` samples; the output does not depend on how the
    signal is cut into blocks.  Per STFT frame the activations are updated
    from the previous frame's, the Wiener mask keeps the speech.

    Parameters
    ----------
    model : str, os.PathLike or mdnmf model
        A model with an audio front end, e.g. written by ``mdnmf denoise
        fit``; source 0 is the speech, the others noise.
    sample_rate : int, optional
        Rate of the blocks in Hz; resampled to the model's rate inside
        (default: the model's rate).
    steps : int, optional
        Multiplicative updates of each frame's activations (default: the
        library's MDNMF_STREAM_DEFAULT_STEPS).
    wiener_exponent : float, optional
        Exponent of the Wiener mask (default: the model's).
    floor : float
        Smallest gain of the speech mask, 0..1 (0: no floor).
    learn_noise : bool
        Adapt the noise basis online from the recent frames.
    noise_atoms : int
        If > 0, start from a fresh noise basis of this many atoms instead of
        the model's (needs ``learn_noise``).
    forgetting : float, optional
        Per-frame forgetting factor of the noise statistics, in (0, 1).
    noise_interval : int
        Frames between two updates of the noise basis.
    seed : int
        Seed of the initial activations and of fresh noise atoms.

    Notes
    -----
    ``process`` releases the GIL while the library works (ctypes does), so
    streams in several threads run in parallel; one Stream must not be used
    from two threads at once.
    """

    def __init__(self, model, *, sample_rate=None, steps=None, wiener_exponent=None, floor=0.0,
                 learn_noise=False, noise_atoms=0, forgetting=None, noise_interval=1, seed=0):
        params = _native.StreamParams()
        lib.mdnmf_stream_params_default(ctypes.byref(params))
        params.sample_rate = 0 if sample_rate is None else integer(sample_rate, "sample_rate", 1)
        params.steps = 0 if steps is None else integer(steps, "steps", 1)
        params.wiener_exponent = 0.0 if wiener_exponent is None else real(wiener_exponent,
                                                                           "wiener_exponent")
        params.floor = real(floor, "floor")
        params.learn_noise = 1 if learn_noise else 0
        params.noise_atoms = integer(noise_atoms, "noise_atoms", 0, INT64_MAX)
        params.forgetting = 0.0 if forgetting is None else real(forgetting, "forgetting")
        params.noise_interval = integer(noise_interval, "noise_interval", 1)
        params.seed = resolve_seed(seed)
        error = _native.Error()
        source = _model_of(model)  # alive until create has copied what it needs
        handle = lib.mdnmf_stream_create(source.handle, ctypes.byref(params), ctypes.byref(error))
        if not handle:
            raise error_for(error.status, error.text())
        self._handle = handle
        self._finalizer = weakref.finalize(self, _destroy, handle)
        self._wiener_exponent = params.wiener_exponent
        self._floor = params.floor
        self._learn_noise = bool(learn_noise)

    def process(self, block, *, return_noise=False):
        """Denoise the next block.

        Returns the speech estimate (float32, as long as ``block``), or
        ``(speech, noise)`` with ``return_noise=True``.  Output sample t
        estimates input sample t - :attr:`latency`."""
        samples = _samples(block)
        speech = np.empty_like(samples)
        noise = np.empty_like(samples) if return_noise else None
        call(lib.mdnmf_stream_process, self._handle, address(samples), samples.size,
             address(speech), address(noise) if noise is not None else None)
        return (speech, noise) if return_noise else speech

    @property
    def latency(self):
        """Delay between input and output, in samples at the stream's rate."""
        return int(lib.mdnmf_stream_latency(self._handle))

    def reset(self):
        """Forget the history: back to the state after creation (the noise
        basis too); the mask and learning settings stay."""
        lib.mdnmf_stream_reset(self._handle)

    def set_mask(self, *, wiener_exponent=None, floor=None):
        """Change the mask between two blocks (None keeps a setting)."""
        exponent = self._wiener_exponent if wiener_exponent is None else real(
            wiener_exponent, "wiener_exponent")
        new_floor = self._floor if floor is None else real(floor, "floor")
        call(lib.mdnmf_stream_set_mask, self._handle, exponent, new_floor)
        self._wiener_exponent, self._floor = exponent, new_floor

    @property
    def learn_noise(self):
        """Whether the noise basis adapts online; settable between blocks."""
        return self._learn_noise

    @learn_noise.setter
    def learn_noise(self, on):
        call(lib.mdnmf_stream_set_learn_noise, self._handle, 1 if on else 0)
        self._learn_noise = bool(on)

    @property
    def noise_basis(self):
        """A copy of the noise basis in use, shape (m, d_noise)."""
        m, d = ctypes.c_int64(), ctypes.c_int64()
        pointer = lib.mdnmf_stream_noise_basis(self._handle, ctypes.byref(m), ctypes.byref(d))
        if not pointer or m.value * d.value == 0:
            raise InvalidArgumentError("the stream has no noise basis")
        flat = np.ctypeslib.as_array(pointer, shape=(m.value * d.value,))
        return flat.reshape(d.value, m.value).T.copy()

