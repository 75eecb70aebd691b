"""The random search over a separator's hyper-parameters with k-fold
cross-validation (SPEC §10; the library's mdnmf_search_run, as ``mdnmf
search`` drives it)."""

from __future__ import annotations

import ctypes
import dataclasses
import json
from typing import Callable, List, Mapping, Optional, Sequence

import numpy as np

from . import _native
from ._model import INT64_MAX, EpochRecorder, Model, choice, columns, integer, real, \
    resolve_seed
from ._native import lib
from .errors import InvalidArgumentError, ShapeError, error_for


@dataclasses.dataclass
class SearchResult:
    """What :func:`random_search` returns.

    Attributes
    ----------
    trials : list of dict
        One per trial, in order: ``{"trial": i, "params": {name: value},
        "metric": aggregated PSNR (dB) or MSE, "score": higher is better
        (PSNR or -MSE; -inf when the fit failed), "error": "" or why the
        trial's fit failed}``.  The metric aggregates every pair's
        out-of-fold score (or, with ``score_per_fold``, the mean over the
        folds of each fold's aggregate); the library reports no per-fold
        numbers.
    best : dict
        The best trial (an entry of `trials`).
    model : NMF_separation or None
        With ``refit=True``, the best parameters fitted on all data.
    failed_trials : int
    """
    trials: List[dict]
    best: dict
    model: object
    failed_trials: int


def _value(dimension, value):
    name = lib.mdnmf_search_value_name(dimension.param, value)
    if name is not None:
        return name.decode()
    return int(value) if float(value).is_integer() and abs(value) < 1e15 else float(value)


def _dimensions(spec):
    """The spec (a dict, or its JSON text) parsed by the library: the same
    format and messages as ``mdnmf search -p SPEC.json``."""
    text = (spec if isinstance(spec, str) else json.dumps(spec)).encode()
    dims = ctypes.POINTER(_native.SearchDimension)()
    names = ctypes.POINTER(ctypes.c_char_p)()
    count = ctypes.c_int()
    error = _native.Error()
    status = lib.mdnmf_search_dimensions_from_json(text, len(text), ctypes.byref(dims),
                                                   ctypes.byref(names), ctypes.byref(count),
                                                   ctypes.byref(error))
    if status != _native.OK:
        raise error_for(status, f"spec: {error.text()}")
    try:
        array = (_native.SearchDimension * max(1, count.value))()
        ctypes.memmove(array, dims, ctypes.sizeof(_native.SearchDimension) * count.value)
        keys = [names[i].decode() for i in range(count.value)]
    finally:
        lib.mdnmf_search_dimensions_free(dims, names, count.value)
    return array, keys, count.value


def _per_source(p, name, value, S):
    values = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value] * S
    if len(values) != S:
        raise InvalidArgumentError(f"{name}: {len(values)} values for {S} sources")
    for s, v in enumerate(values):
        getattr(p, name)[s] = integer(v, name, 1, INT64_MAX) if name == "d" else real(v, name)


def random_search(spec: Mapping, sup_sources: Sequence, sup_mixed, *,
                  sources: Optional[Sequence] = None, mixed=None, atoms=None,
                  trials: int = 20, folds: int = 5, metric: str = "psnr",
                  aggregate: str = "median", wiener: bool = True, search_seed: int = 0,
                  refit: bool = True, contiguous_folds: bool = False,
                  score_per_fold: bool = False, mode: str = "std", epochs: Optional[int] = None,
                  test_epochs: Optional[int] = None, tau_A=None, mu_H=None, beta=None,
                  tau_S: Optional[float] = None, seed=0, threads: int = 0,
                  callback: Optional[Callable[[dict], object]] = None) -> SearchResult:
    """Random search with k-fold cross-validation, as ``mdnmf search``.

    Parameters
    ----------
    spec : dict
        What to draw, ``mdnmf search``'s spec format, e.g.
        ``{"tau_A": {"distribution": "log-uniform", "low": 0.01, "high": 1},
        "d[1]": {"distribution": "choice", "values": [8, 16]},
        "mode": {"distribution": "choice", "values": ["std", "adv"]}}``;
        applied in the dict's order.
    sup_sources : list of S arrays (m, n_sup)
        The paired clean sources the trials are scored on (column-wise: one
        sample per column, as NMF_separation).
    sup_mixed : array (m, n_sup)
        Their mixtures.
    sources : list of S (or S - 1 for semi modes) arrays (m, n_s), optional
        Unpaired clean data of each source.
    mixed : array (m, n_V), optional
        Unpaired mixtures.
    atoms : int or list of int, optional
        Atoms per source, unless the spec draws ``d``.
    trials, folds, metric ("psnr" | "mse"), aggregate ("median" | "mean"),
    wiener, search_seed, contiguous_folds, score_per_fold :
        As ``mdnmf search``'s options (`search_seed` seeds the draws and the
        folds, `seed` the fits).
    refit : bool
        Fit the best parameters on all data and return the separator.
    mode, epochs, test_epochs, tau_A, mu_H, beta, tau_S, seed, threads :
        The separator's settings before the draws (None: the library's
        default).
    callback : callable, optional
        Called with each finished trial's dict; returning False stops the
        search (CancelledError).

    Returns
    -------
    SearchResult

    Notes
    -----
    Arrays are converted once to float32 Fortran order unless they already
    are.  The GIL is released while the library works; Ctrl-C stops the
    search at the next epoch (KeyboardInterrupt).
    """
    from .research import NMF_separation

    S = len(sup_sources)
    if not 2 <= S <= _native.MAX_SOURCES:
        raise ShapeError(f"sup_sources: {S} sources; a search needs 2..{_native.MAX_SOURCES}")
    pairs = [columns(x, f"sup_sources[{s}]") for s, x in enumerate(sup_sources)]
    m = pairs[0].shape[0]
    V_sup = columns(sup_mixed, "sup_mixed", rows=m)
    pairs = [columns(x, f"sup_sources[{s}]", rows=m) for s, x in enumerate(pairs)]
    for s, x in enumerate(pairs):
        if x.shape[1] != V_sup.shape[1]:
            raise ShapeError(f"sup_sources[{s}] has {x.shape[1]} pairs but sup_mixed "
                             f"{V_sup.shape[1]}")
    clean = [columns(x, f"sources[{s}]", rows=m) for s, x in enumerate(sources or [])]
    if clean and len(clean) not in (S, S - 1):
        raise ShapeError(f"{len(clean)} sources for {S} sup_sources: give one per source, or "
                         "all but the last for semi modes")
    V = None if mixed is None else columns(mixed, "mixed", rows=m)

    dimensions, keys, count = _dimensions(spec)
    search = _native.Search()
    lib.mdnmf_search_default(ctypes.byref(search), S)
    base = search.base
    base.mode = choice(mode, {n: i for i, n in enumerate(_native.MODE_NAMES)}, "mode")
    if atoms is not None:
        _per_source(base, "d", atoms, S)
    for name, value in (("tau_A", tau_A), ("mu_H", mu_H), ("beta", beta)):
        if value is not None:
            _per_source(base, name, value, S)
    if tau_S is not None:
        base.tau_S = real(tau_S, "tau_S")
    if epochs is not None:
        base.common.epochs = integer(epochs, "epochs")
    if test_epochs is not None:
        base.common.test_epochs = integer(test_epochs, "test_epochs")
    base.common.seed = resolve_seed(seed)
    base.common.threads = integer(threads, "threads")
    search.dimensions = ctypes.cast(dimensions, ctypes.POINTER(_native.SearchDimension))
    search.dimension_count = count
    search.trials = integer(trials, "trials", 1)
    search.folds = integer(folds, "folds", 2)
    search.metric = choice(metric, _native.METRIC_NAMES, "metric")
    search.aggregate = choice(aggregate, _native.AGGREGATE_NAMES, "aggregate")
    search.wiener = 1 if wiener else 0
    search.seed = integer(search_seed, "search_seed", 0, 2 ** 64 - 1)
    search.refit = 1 if refit else 0
    search.contiguous_folds = 1 if contiguous_folds else 0
    search.score_per_fold = 1 if score_per_fold else 0
    error = _native.Error()
    if lib.mdnmf_search_check(ctypes.byref(search), ctypes.byref(error)) != _native.OK:
        raise error_for(error.status, error.text())
    if search.folds > V_sup.shape[1]:
        raise InvalidArgumentError(f"folds {search.folds}: only {V_sup.shape[1]} pairs")

    data = _native.SeparationData()
    data.m = m
    for s, x in enumerate(clean):
        data.U[s], data.n[s] = x.ctypes.data, x.shape[1]
    if V is not None:
        data.V, data.n_V = V.ctypes.data, V.shape[1]
    for s, x in enumerate(pairs):
        data.U_sup[s] = x.ctypes.data
    data.V_sup, data.n_sup = V_sup.ctypes.data, V_sup.shape[1]

    recorder = EpochRecorder()
    recorded: List[dict] = []

    def on_trial(_user, pointer):
        try:
            t = pointer.contents
            row = {"trial": t.trial,
                   "params": {keys[i]: _value(dimensions[i], t.values[i]) for i in range(count)},
                   "metric": t.metric, "score": t.score,
                   "error": (t.message or b"").decode(errors="replace")}
            recorded.append(row)
            if callback is not None and callback(row) is False:
                return 1
            return 1 if recorder.interrupted else 0
        except BaseException as failure:  # noqa: B902 - must not unwind through C
            recorder.error = failure
            return 1

    trial_function = _native.SEARCH_CALLBACK(on_trial)
    search.on_trial = trial_function
    recorder.install(base.common)
    common = _native.Params()
    ctypes.memmove(ctypes.byref(common), ctypes.byref(base.common), ctypes.sizeof(common))
    common.d = 1
    common.on_epoch = _native.EPOCH_CALLBACK()
    model = Model.create(common)
    result = _native.SearchResult()
    with recorder.running():
        status = lib.mdnmf_search_run(model.handle, ctypes.byref(search), ctypes.byref(data),
                                      ctypes.byref(result), model.reporting())
    model.check(status, recorder)
    if recorder.error is not None:
        raise recorder.error
    best = recorded[result.best_trial]
    separator = None
    if refit:
        stored = model.params()
        lib.mdnmf_model_set_params(model.handle, ctypes.byref(stored), None)
        model.keep_alive = recorder.function  # the separator params keep their copy
        separator = NMF_separation._from_model(model)
    return SearchResult(trials=recorded, best=best, model=separator,
                        failed_trials=int(result.failed_trials))

