"""The model handle and the array conventions shared by every class.

Layout.  The library stores an m x N matrix column-major: one sample per
column, element (i, j) at data[j*m + i].  In NumPy that is an (m, N) array in
Fortran order, or equally the C-order (N, m) array of its transpose.  Arrays
already float32 and laid out so are handed to C without a copy; anything
else is converted once (np.asfortranarray).
"""

import contextlib
import ctypes
import json
import math
import numbers
import os
import signal
import tempfile
import threading
import weakref

import numpy as np

from . import _native
from ._native import lib
from .errors import InvalidArgumentError, InvalidDataError, ShapeError, error_for

# The per-source seed of a separator's own fits (src/separator.c,
# source_params): the Python-driven "adv" path with custom weights repeats it
# so that it reproduces the library's path exactly when the weights agree.
SOURCE_SEED_STEP = 0x9E3779B97F4A7C15
SEED_LIMIT = 2 ** 64


# ------------------------------------------------------------------ arrays

def columns(X, name="data", rows=None):
    """X as an (m, N) float32 Fortran-order array of finite, non-negative
    values: X itself when it already is one (no copy), else one converted
    copy.  A 1-D array is one sample.  `rows` (if given) is the required m."""
    array = np.asarray(X)
    if array.dtype.kind not in "biuf":
        raise InvalidArgumentError(f"{name} has dtype {array.dtype}: NMF needs real numbers")
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise ShapeError(f"{name} must be a 2-D array (features x samples, one sample per "
                         f"column), not {array.ndim}-D")
    if array.size == 0:
        raise ShapeError(f"{name} is empty ({array.shape[0]} features x {array.shape[1]} "
                         "samples)")
    if rows is not None and array.shape[0] != rows:
        raise ShapeError(f"{name} has {array.shape[0]} features (rows) but {rows} are needed")
    if not (array.dtype == np.float32 and array.flags.f_contiguous):
        array = np.asfortranarray(array, dtype=np.float32)
    check_values(array, name)
    return array


def rows_to_columns(X, name="X", features=None):
    """scikit-learn's (N samples, m features) as the library's columns: the
    transpose of a C-order float32 array is used as it is."""
    array = np.asarray(X)
    if array.ndim != 2:
        raise ShapeError(f"{name} must be a 2-D array (samples x features), not "
                         f"{array.ndim}-D")
    return columns(array.T, name, rows=features)


def check_values(array, name):
    """Refuse NaN, infinite and negative entries before C sees them, naming
    the first one as the library would (sample = column, feature = row)."""
    low, high = array.min(), array.max()  # NaN propagates into both
    if low >= 0 and math.isfinite(high):
        return
    flat = array.ravel(order="F") if array.ndim == 2 else array
    bad = int(np.flatnonzero(~(flat >= 0) | np.isinf(flat))[0])
    value = float(flat[bad])
    what = "a NaN" if math.isnan(value) else "an infinite" if math.isinf(value) else "a negative"
    if array.ndim == 2:
        m = array.shape[0]
        where = f"sample {bad // m}, feature {bad % m}"
    else:
        where = f"index {bad}"
    raise InvalidDataError(f"{name} has {what} entry ({value:g}) at {where}: NMF needs "
                           "non-negative, finite data", _native.ERR_DATA)


def weights(omega, count, name="omega"):
    """A 1-D float32 vector of `count` finite, non-negative weights."""
    vector = np.asarray(omega)
    if vector.ndim == 2 and 1 in vector.shape:
        vector = vector.reshape(-1)
    if vector.ndim != 1 or vector.shape[0] != count:
        raise ShapeError(f"{name} must hold one weight per adversarial sample ({count}), "
                         f"not shape {vector.shape}")
    if vector.dtype.kind not in "biuf":
        raise InvalidArgumentError(f"{name} has dtype {vector.dtype}: weights are numbers")
    vector = np.ascontiguousarray(vector, dtype=np.float32)
    check_values(vector, name)
    return vector


def address(array):
    return array.ctypes.data if array is not None else None


def float_view(pointer, count):
    return np.ctypeslib.as_array(pointer, shape=(count,))


# -------------------------------------------------------------- parameters

INT_MAX = 2 ** 31 - 1
INT64_MAX = 2 ** 63 - 1


def integer(value, name, low=0, high=INT_MAX):
    """A whole number in [low, high] (C's int by default): ctypes would wrap
    a larger one silently."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise InvalidArgumentError(f"{name} must be a whole number, not {value!r}")
    number = int(value)
    if number < low:
        raise InvalidArgumentError(f"{name} must be >= {low}, not {number}")
    if number > high:
        raise InvalidArgumentError(f"{name} must be <= {high}, not {number}")
    return number


def batch(value, name):
    """None (all columns) or a positive batch size; 0 means all as in C."""
    return 0 if value is None else integer(value, name, 0, INT64_MAX)


def real(value, name):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise InvalidArgumentError(f"{name} must be finite and >= 0, not {value!r}")
    return number


def choice(value, table, name):
    key = str(value).lower() if isinstance(value, str) else value
    if key not in table:
        raise InvalidArgumentError(f"{name} must be one of {', '.join(sorted(table))}, "
                                   f"not {value!r}")
    return table[key]


def resolve_seed(seed):
    """The 64-bit seed of one call.  None draws one from NumPy's global
    generator (so np.random.seed makes runs repeatable, as with the research
    code); a RandomState or Generator is drawn from; an int is used as is."""
    if seed is None:
        return int(np.random.randint(0, 2 ** 63, dtype=np.int64))
    if isinstance(seed, np.random.RandomState):
        return int(seed.randint(0, 2 ** 63, dtype=np.int64))
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2 ** 63))
    return integer(seed, "seed", 0, SEED_LIMIT - 1)


def check_seed(seed):
    """Validate a seed without drawing from any generator."""
    if seed is not None and not isinstance(seed, (np.random.RandomState, np.random.Generator)):
        resolve_seed(seed)
    return seed


def make_params(*, d, epochs=50, test_epochs=50, batch_size=None, batch_size_adv=None,
                init="exemplar", mu_W=1e-6, mu_H=1e-6, tau_A=0.1, tau_W=1.0, normalize=False,
                update_H=False, true_sample="std", warm_start=False, seed=0, threads=0,
                init_H_steps=0, divergence="fro", per_sample_init=False):
    """An mdnmf_params from Python values, checked here and by the library."""
    p = _native.Params()
    lib.mdnmf_params_default(ctypes.byref(p))
    p.d = integer(d, "d", 1)
    p.epochs = integer(epochs, "epochs")
    p.test_epochs = integer(test_epochs, "test_epochs")
    p.batch_size = batch(batch_size, "batch_size")
    p.batch_size_adv = batch(batch_size_adv, "batch_size_adv")
    p.init = choice(init, _native.INIT_NAMES, "init")
    p.mu_W = real(mu_W, "mu_W")
    p.mu_H = real(mu_H, "mu_H")
    p.tau_A = real(tau_A, "tau_A")
    p.tau_W = real(tau_W, "tau_W")
    p.normalize = bool(normalize)
    p.update_H = bool(update_H)
    p.true_sample = choice(true_sample, _native.TRUE_SAMPLE_NAMES, "true_sample")
    p.warm_start = bool(warm_start)
    p.seed = resolve_seed(seed)
    p.threads = integer(threads, "threads")
    p.init_H_steps = integer(init_H_steps, "init_H_steps")
    p.divergence = choice(divergence, _native.DIVERGENCE_NAMES, "divergence")
    p.per_sample_init = int(bool(per_sample_init))
    error = _native.Error()
    if lib.mdnmf_params_check(ctypes.byref(p), ctypes.byref(error)) != _native.OK:
        raise InvalidArgumentError(error.text(), error.status)
    return p


def params_dict(p):
    """The fields of an mdnmf_params as Python values (no callbacks)."""
    names = {0: "exemplar", 1: "random"}
    samples = {v: k for k, v in _native.TRUE_SAMPLE_NAMES.items()}
    divergences = {v: k for k, v in _native.DIVERGENCE_NAMES.items()}
    return {
        "d": p.d, "epochs": p.epochs, "test_epochs": p.test_epochs,
        "batch_size": p.batch_size or None, "batch_size_adv": p.batch_size_adv or None,
        "init": names.get(p.init, "exemplar"), "mu_W": p.mu_W, "mu_H": p.mu_H,
        "tau_A": p.tau_A, "tau_W": p.tau_W, "normalize": bool(p.normalize),
        "update_H": bool(p.update_H), "true_sample": samples.get(p.true_sample, "std"),
        "seed": p.seed, "threads": p.threads,
        "divergence": divergences.get(p.divergence, "fro"),
    }


def params_json(p, separator=None):
    """The params member of a model file (the library's keys, src/params_json.c)."""
    fields = params_dict(p)
    fields["batch_size"] = p.batch_size
    fields["batch_size_adv"] = p.batch_size_adv
    # As the library: these keys only when they are not the default.
    if fields["divergence"] == "fro":
        del fields["divergence"]
    if p.per_sample_init:
        fields["per_sample_init"] = True
    if p.init_H_steps:
        fields["init_H_steps"] = p.init_H_steps
    document = {"format": "mdnmf-model", "version": _native.version(), **fields}
    if separator is not None:
        S = separator.sources
        document["separator"] = {
            "mode": _native.MODE_NAMES[separator.mode], "sources": S,
            "tau_S": separator.tau_S, "batch_size_sup": separator.batch_size_sup,
            "warm_start_epochs": separator.warm_start_epochs,
            "d": list(separator.d[:S]), "mu_H": list(separator.mu_H[:S]),
            "tau_A": list(separator.tau_A[:S]), "beta": list(separator.beta[:S]),
        }
    return json.dumps(document)


# ---------------------------------------------------------------- progress

class EpochRecorder:
    """The on_epoch callback: records every epoch's losses and stops the fit
    (MDNMF_ERR_CANCELLED) when the user's callback returns False or raises,
    or on Ctrl-C; the exception is raised again once the library returned.

    Ctrl-C: while the fit runs, SIGINT (in the main thread, if Python's own
    handler is installed) only sets a flag that the next epoch's callback
    sees, so the interrupt never lands inside a callback frame where ctypes
    would swallow it."""

    def __init__(self, user_callback=None):
        self.records = []
        self.user_callback = user_callback
        self.error = None
        self.interrupted = False
        self.function = _native.EPOCH_CALLBACK(self._on_epoch)

    def _on_epoch(self, _user, progress_pointer):
        if self.interrupted:
            return 1
        try:
            p = progress_pointer.contents
            record = {"stage": p.stage, "stages": p.stages, "epoch": p.epoch,
                      "epochs": p.epochs, "loss_true": p.loss_true, "loss_adv": p.loss_adv,
                      "objective": p.objective}
            self.records.append(record)
            if self.user_callback is not None and self.user_callback(record) is False:
                return 1
            return 0
        except BaseException as error:  # noqa: B902 - must not unwind through C
            self.error = error
            return 1

    def _on_sigint(self, _signal, _frame):
        self.interrupted = True

    @contextlib.contextmanager
    def running(self):
        """Route Ctrl-C to the flag for the duration of one library call."""
        replace = (threading.current_thread() is threading.main_thread()
                   and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
        if replace:
            signal.signal(signal.SIGINT, self._on_sigint)
        try:
            yield
        finally:
            if replace:
                signal.signal(signal.SIGINT, signal.default_int_handler)
        if self.interrupted and self.error is None:
            self.error = KeyboardInterrupt()

    def install(self, params):
        params.on_epoch = self.function

    def last_stage(self):
        if not self.records:
            return []
        stage = self.records[-1]["stage"]
        return [r for r in self.records if r["stage"] == stage]


# ------------------------------------------------------------------- model

def _destroy(handle):
    lib.mdnmf_model_destroy(handle)



ADAPT_AUTO = -1  # MDNMF_ADAPT_AUTO


def _adapt_start(adapt_fresh):
    """mdnmf_separate_adapted's `fresh` for True, False or "auto"."""
    if isinstance(adapt_fresh, str):
        if adapt_fresh != "auto":
            raise ValueError(f'adapt_fresh must be True, False or "auto", not {adapt_fresh!r}')
        return ADAPT_AUTO
    return int(bool(adapt_fresh))

class Model:
    """One mdnmf_model, destroyed when this object is garbage."""

    def __init__(self, handle):
        self.handle = handle
        self.error = _native.Error()  # what the model's last call reported
        self._finalizer = weakref.finalize(self, _destroy, handle)

    # -- creation
    @classmethod
    def create(cls, params):
        error = _native.Error()
        handle = lib.mdnmf_model_create(ctypes.byref(params), ctypes.byref(error))
        if not handle:
            raise error_for(error.status, error.text())
        return cls(handle)

    @classmethod
    def load(cls, path):
        error = _native.Error()
        handle = lib.mdnmf_model_load(_native.encode_path(path), ctypes.byref(error))
        if not handle:
            raise error_for(error.status, error.text())
        return cls(handle)

    @classmethod
    def from_bases(cls, W, components, mu_H, params, separator=None):
        """A model of several sources with these bases (m x D) and per-atom
        mu_H: the public API sets bases of one source only, so the model is
        written in the library's .npz format and loaded."""
        W = columns(W, "W")
        document = params_json(params, separator)
        with tempfile.TemporaryDirectory(prefix="mdnmf-") as folder:
            path = os.path.join(folder, "model.npz")
            np.savez(path, W=np.ascontiguousarray(W.T),
                     components=np.asarray(components, dtype=np.int64),
                     mu_H=np.asarray(mu_H, dtype=np.float32), params=np.array(document))
            return cls.load(path)

    def to_bytes(self):
        with tempfile.TemporaryDirectory(prefix="mdnmf-") as folder:
            path = os.path.join(folder, "model.npz")
            self.save(path)
            with open(path, "rb") as file:
                return file.read()

    @classmethod
    def from_bytes(cls, content):
        with tempfile.TemporaryDirectory(prefix="mdnmf-") as folder:
            path = os.path.join(folder, "model.npz")
            with open(path, "wb") as file:
                file.write(content)
            return cls.load(path)

    def __reduce__(self):  # pickle and copy.deepcopy go through the file format
        return (Model.from_bytes, (self.to_bytes(),))

    # -- errors
    def reporting(self):
        """The mdnmf_error argument of a call on this model (read by check)."""
        return ctypes.byref(self.error)

    def check(self, status, recorder=None):
        if status == _native.OK:
            return
        if recorder is not None and recorder.error is not None:
            raise recorder.error
        raise error_for(status, self.error.text())

    # -- state
    def params(self):
        pointer = lib.mdnmf_model_params(self.handle)
        copy = _native.Params()
        ctypes.memmove(ctypes.byref(copy), pointer, ctypes.sizeof(copy))
        copy.on_epoch = _native.EPOCH_CALLBACK()
        copy.on_trace = _native.TRACE_CALLBACK()
        return copy

    def set_params(self, params):
        self.check(lib.mdnmf_model_set_params(self.handle, ctypes.byref(params),
                                              self.reporting()))

    def separator_params(self):
        pointer = lib.mdnmf_model_separator_params(self.handle)
        if not pointer:
            return None
        copy = _native.SeparatorParams()
        ctypes.memmove(ctypes.byref(copy), pointer, ctypes.sizeof(copy))
        copy.common.on_epoch = _native.EPOCH_CALLBACK()
        copy.common.on_trace = _native.TRACE_CALLBACK()
        return copy

    def shape(self):
        m, d = ctypes.c_int64(0), ctypes.c_int64(0)
        lib.mdnmf_model_shape(self.handle, ctypes.byref(m), ctypes.byref(d))
        return m.value, d.value

    def basis(self):
        """A copy of the basis as an (m, D) Fortran-order array, or None."""
        m, D = self.shape()
        pointer = lib.mdnmf_model_basis(self.handle)
        if not pointer or m == 0:
            return None
        return np.array(float_view(pointer, m * D).reshape(D, m).T, order="F")

    def mu_H(self):
        _, D = self.shape()
        pointer = lib.mdnmf_model_mu_H(self.handle)
        return float_view(pointer, D).copy() if pointer and D else None

    def components(self):
        S = lib.mdnmf_model_source_count(self.handle)
        pointer = lib.mdnmf_model_components(self.handle)
        return [int(pointer[s]) for s in range(S)] if pointer and S else []

    def _activations(self, getter):
        n = ctypes.c_int64(0)
        pointer = getter(self.handle, ctypes.byref(n))
        _, D = self.shape()
        if not pointer or n.value == 0:
            return None
        return np.array(float_view(pointer, D * n.value).reshape(n.value, D).T, order="F")

    def activations(self):
        return self._activations(lib.mdnmf_model_activations)

    def adv_activations(self):
        return self._activations(lib.mdnmf_model_adv_activations)

    def has_basis(self, W):
        """Whether the model's basis is exactly W (m x D)."""
        m, D = self.shape()
        if W is None or m == 0 or np.shape(W) != (m, D):
            return False
        view = float_view(lib.mdnmf_model_basis(self.handle), m * D).reshape(D, m).T
        return bool(np.array_equal(view, W))

    def set_basis(self, W):
        W = columns(W, "W")
        self.check(lib.mdnmf_model_set_basis(self.handle, address(W), W.shape[0], W.shape[1],
                                             self.reporting()))

    def set_mu_H(self, mu_H):
        vector = np.ascontiguousarray(mu_H, dtype=np.float32).reshape(-1)
        self.check(lib.mdnmf_model_set_mu_H(self.handle, address(vector), vector.shape[0],
                                            self.reporting()))

    # -- computations (arrays come checked from columns())
    def _call(self, function, *arguments, recorder=None):
        params = None
        if recorder is not None:
            params = self.params()
            recorder.install(params)
            self.set_params(params)
        try:
            with recorder.running() if recorder is not None else contextlib.nullcontext():
                status = function(self.handle, *arguments, self.reporting())
        finally:
            if params is not None:  # never leave a dangling callback in the model
                params.on_epoch = _native.EPOCH_CALLBACK()
                lib.mdnmf_model_set_params(self.handle, ctypes.byref(params), None)
        self.check(status, recorder)
        if recorder is not None and recorder.error is not None:
            raise recorder.error

    def fit_std(self, U, recorder=None):
        self._call(lib.mdnmf_fit_std, address(U), U.shape[0], U.shape[1], recorder=recorder)

    def fit_adv(self, U, U_adv, omega=None, recorder=None):
        self._call(lib.mdnmf_fit_adv, address(U), U.shape[0], U.shape[1], address(U_adv),
                   U_adv.shape[1], address(omega), recorder=recorder)

    def fit_exem(self, U):
        self._call(lib.mdnmf_fit_exem, address(U), U.shape[0], U.shape[1])

    def transform(self, U):
        _, D = self.shape()
        H = np.empty((D, U.shape[1]), dtype=np.float32, order="F")
        self._call(lib.mdnmf_transform, address(U), U.shape[0], U.shape[1], address(H))
        return H

    def separator_fit(self, separator, data, recorder=None):
        if recorder is not None:
            recorder.install(separator.common)
        try:
            with recorder.running() if recorder is not None else contextlib.nullcontext():
                status = lib.mdnmf_separator_fit(self.handle, ctypes.byref(separator),
                                                 ctypes.byref(data), self.reporting())
        finally:
            separator.common.on_epoch = _native.EPOCH_CALLBACK()
        self.check(status, recorder)
        if recorder is not None and recorder.error is not None:
            raise recorder.error

    def tau_auto(self, spec, data):
        """mdnmf_tau_auto_run into this model; returns the result struct."""
        result = _native.TauAutoResult()
        self.check(lib.mdnmf_tau_auto_run(self.handle, ctypes.byref(spec), ctypes.byref(data),
                                          ctypes.byref(result), self.reporting()))
        return result

    def separate(self, V, wiener, adapt_epochs=0, adapt_fresh=True, noise_smoothing=0):
        """Estimates of every source as an (S, N, m) C-order array: estimate
        s is the column-major m x N matrix the library fills in place.
        adapt_epochs > 0 adapts the last basis to V first, from fresh
        atoms (adapt_fresh True), the model's (False) or, with "auto", fresh
        atoms for an MDNMF model and the model's for an NMF one
        (mdnmf_separate_adapted, MDNMF_ADAPT_AUTO); noise_smoothing > 0
        averages the last source's activations over that many columns on
        each side (mdnmf_separate_frames)."""
        S = lib.mdnmf_model_source_count(self.handle)
        m, n = V.shape
        estimates = np.empty((S, n, m), dtype=np.float32)
        buffers = (ctypes.c_void_p * S)(*[address(estimates[s]) for s in range(S)])
        if adapt_epochs or noise_smoothing:
            self._call(lib.mdnmf_separate_frames, address(V), m, n, int(bool(wiener)),
                       int(adapt_epochs), _adapt_start(adapt_fresh), int(noise_smoothing),
                       buffers)
        else:
            self._call(lib.mdnmf_separate, address(V), m, n, int(bool(wiener)), buffers)
        return estimates

    def save(self, path):
        self.check(lib.mdnmf_model_save(self.handle, _native.encode_path(path),
                                            self.reporting()))
