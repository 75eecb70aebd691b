"""NMF and NMF_separation with the research code's interface, on libmdnmf.

The classes take the constructor arguments and offer the methods of the
paper's Python code (Ludvigsen & Grasmair), so switching is one import:

    from mdnmf import NMF, NMF_separation

Data is stored column-wise as there: U is (m, N), one sample per column.
Every computation is the C library's (SPEC §1-§6, docs/algorithm.md); the
differences from the research code are listed in docs/python.md.
"""

import contextlib
import ctypes

import numpy as np

from . import _native
from ._model import (SEED_LIMIT, SOURCE_SEED_STEP, EpochRecorder, Model, address, batch,
                     check_seed, columns, integer, make_params, params_dict, real,
                     resolve_seed, weights)
from ._native import lib
from .errors import CancelledError, InvalidArgumentError, NotFittedError, ShapeError

PROBS = _native.MODE_NAMES  # std, adv, exem, sup, full, semi, semi_adv


def _check_prob(prob):
    if prob not in PROBS:
        raise InvalidArgumentError(f"prob must be one of {', '.join(PROBS)}, not {prob!r}")
    return prob


def _source_count(ds):
    try:
        S = len(ds)
    except TypeError:
        raise InvalidArgumentError(f"ds must be a list of atom counts, not {ds!r}") from None
    if not 2 <= S <= _native.MAX_SOURCES:
        raise InvalidArgumentError(f"ds must list 2 to {_native.MAX_SOURCES} sources, not {S}")
    return [integer(d, f"ds[{s}]", 1) for s, d in enumerate(ds)]


def _per_source(value, ds, name):
    """A scalar, one value per source, or (mu_H) one value per atom that is
    constant within each source: S floats."""
    S = len(ds)
    array = np.asarray(value, dtype=np.float64) if value is not None else None
    if array is None:
        raise InvalidArgumentError(f"{name} is None")
    if array.ndim == 0:
        return [real(array, name)] * S
    array = array.reshape(-1)
    if array.shape[0] == S:
        return [real(v, f"{name}[{s}]") for s, v in enumerate(array)]
    if array.shape[0] == sum(ds):
        values, offset = [], 0
        for s, d in enumerate(ds):
            block = array[offset:offset + d]
            if not np.all(block == block[0]):
                raise InvalidArgumentError(
                    f"{name} per atom must be constant within each source (source {s} "
                    "differs): the separator takes one value per source")
            values.append(real(block[0], f"{name}[{offset}]"))
            offset += d
        return values
    raise ShapeError(f"{name} must be a number, one per source ({S}) or one per atom "
                     f"({sum(ds)}), not {array.shape[0]} values")


def _per_atom(values, ds):
    return np.repeat(np.asarray(values, dtype=np.float32), ds)


def _common_params(owner, d, warm, seed):
    """mdnmf_params from the attributes every class shares."""
    return make_params(d=d, epochs=owner.epochs, test_epochs=owner.test_epochs,
                       batch_size=owner.batch_size, batch_size_adv=owner.batch_size_adv,
                       init=owner.init, mu_W=owner.mu_W, mu_H=owner._scalar_mu_H(),
                       tau_A=owner._scalar_tau_A(), tau_W=owner.tau_W,
                       normalize=owner.normalize, update_H=owner.update_H,
                       true_sample=owner.true_sample, warm_start=warm, seed=seed,
                       threads=owner.threads, divergence=owner.divergence)


def _separator_params(owner, mode, ds, warm, seed, betas=None):
    """mdnmf_separator_params from `owner`'s settings (an NMF with ds, or an
    NMF_separation)."""
    S = len(ds)
    separator = _native.SeparatorParams()
    lib.mdnmf_separator_params_default(ctypes.byref(separator), S)
    separator.common = _common_params(owner, sum(ds), warm, seed)
    separator.mode = PROBS.index(mode)
    for s in range(S):
        separator.d[s] = ds[s]
    for s, value in enumerate(_per_source(owner.mu_H, ds, "mu_H")):
        separator.mu_H[s] = value
    taus = owner._tau_A_list() if hasattr(owner, "_tau_A_list") else _per_source(
        owner.tau_A, ds, "tau_A")
    for s, value in enumerate(taus):
        separator.tau_A[s] = value
    for s, value in enumerate(betas or []):
        separator.beta[s] = value
    separator.tau_S = real(owner.tau_S, "tau_S")
    separator.batch_size_sup = batch(owner.batch_size_sup, "batch_size_sup")
    separator.warm_start_epochs = integer(owner.warm_start_epochs, "warm_start_epochs")
    error = _native.Error()
    if lib.mdnmf_separator_params_check(ctypes.byref(separator), ctypes.byref(error)):
        raise InvalidArgumentError(error.text(), error.status)
    return separator


def _optional_list(values, S, name):
    if values is None:
        return [None] * S
    if isinstance(values, np.ndarray) and values.ndim == 3:
        values = [values[:, s, :] for s in range(values.shape[1])]  # (m, S, N) as separate()
    values = list(values)
    if len(values) != S:
        raise ShapeError(f"{name} must hold one array per source ({S}), not {len(values)}")
    return values


class _SeparationInput:
    """The arrays of one separator fit, converted once and kept alive while C
    reads them."""

    def __init__(self, S):
        self.S = S
        self.m = None
        self.data = _native.SeparationData()
        self.keep = []

    def matrix(self, X, name):
        array = columns(X, name, rows=self.m)
        self.m = array.shape[0]
        self.keep.append(array)
        return array

    def set_clean(self, U):
        for s, X in enumerate(U):
            if X is not None:
                array = self.matrix(X, f"U[{s}]")
                self.data.U[s] = address(array)
                self.data.n[s] = array.shape[1]

    def set_mixtures(self, V):
        if V is not None:
            array = self.matrix(V, "V")
            self.data.V = address(array)
            self.data.n_V = array.shape[1]

    def set_pairs(self, U_sup, V_sup):
        if V_sup is not None:
            array = self.matrix(V_sup, "V_sup")
            self.data.V_sup = address(array)
            self.data.n_sup = array.shape[1]
        for s, X in enumerate(U_sup):
            if X is not None:
                array = self.matrix(X, f"U_sup[{s}]")
                if V_sup is not None and array.shape[1] != self.data.n_sup:
                    raise ShapeError(f"U_sup[{s}] has {array.shape[1]} samples but V_sup has "
                                     f"{self.data.n_sup}: the pairs must match column by column")
                self.data.U_sup[s] = address(array)

    def finish(self):
        if self.m is None:
            raise InvalidArgumentError("no data given")
        self.data.m = self.m
        return self.data


def _fit_separator(owner, mode, ds, U=(), V=None, U_sup=(), V_sup=None, W=None,
                   recorder=None, seed=None):
    """Run mdnmf_separator_fit for `owner`'s settings; returns the model."""
    S = len(ds)
    separator = owner._separator_params(mode, ds, warm=W is not None, seed=seed)
    given = _SeparationInput(S)
    given.set_clean(list(U) + [None] * (S - len(U)))
    given.set_mixtures(V)
    given.set_pairs(list(U_sup) + [None] * (S - len(U_sup)), V_sup)
    data = given.finish()
    common = _native.Params.from_buffer_copy(separator.common)
    common.d = sum(ds)
    if W is not None:
        model = Model.from_bases(W, ds, _per_atom(separator.mu_H[:S], ds), common, separator)
    else:
        model = Model.create(common)
    model.separator_fit(separator, data, recorder)
    return model


class NMF:
    """NMF / MDNMF of one source (or, with `ds`, DNMF and D+MDNMF of several),
    with the research code's parameters.

    d: atoms; ds: atoms per source (fit_sup, fit_full); tau_W, tau_A, tau_S:
    weights of the true, adversarial and supervised terms; omega: the H
    penalty weight of each adversarial sample (fit_adv); omegas: accepted for
    compatibility (the library builds D+MDNMF's weights itself); W: a starting
    basis (m x d) -- every fit starts from the current W when there is one,
    as in the research code; prob: what fit() runs; init: "exem" or "rand";
    update_H, epochs, test_epochs, warm_start_epochs, batch_size,
    batch_size_adv, batch_size_sup, true_sample ("std", "adv", "min"),
    normalize, mu_W, mu_H (a number or one per atom).

    Beyond the research code: seed (None: drawn from NumPy's global generator
    at every call, as the research code's np.random; an int: fixed, as the
    CLI's --seed) and threads (parts the work is split into, 0 = one per core,
    at most 256; see the C header's Conventions) and divergence (what the fits
    minimise: "fro" Frobenius, "kl" Kullback-Leibler, "is" Itakura-Saito;
    docs/algorithm.md).
    """

    def __init__(self, d=None, ds=None, tau_W=1.0, tau_A=0.1, tau_S=0.0, omega=None,
                 omegas=None, W=None, prob="std", init="exem", update_H=False, epochs=50,
                 test_epochs=50, warm_start_epochs=0, batch_size=None, batch_size_adv=None,
                 batch_size_sup=None, true_sample="std", normalize=False, mu_W=1e-6,
                 mu_H=1e-6, *, seed=None, threads=0, divergence="fro"):
        if W is not None:
            W = columns(W, "W")
        if d is None:
            d = sum(ds) if ds is not None else W.shape[1] if W is not None else None
        if d is None:
            raise InvalidArgumentError("NMF needs d, the number of atoms")
        self.d = integer(d, "d", 1)
        self.ds = list(ds) if ds is not None else None
        self.tau_W, self.tau_A, self.tau_S = tau_W, tau_A, tau_S
        self.omega, self.omegas = omega, omegas
        self.prob = _check_prob(prob)
        self.init, self.update_H, self.normalize = init, update_H, normalize
        self.epochs, self.test_epochs = epochs, test_epochs
        self.warm_start_epochs = warm_start_epochs
        self.batch_size, self.batch_size_adv = batch_size, batch_size_adv
        self.batch_size_sup = batch_size_sup
        self.true_sample = true_sample
        self.mu_W, self.mu_H = mu_W, mu_H
        self.seed, self.threads = check_seed(seed), threads
        self.divergence = divergence
        self.W = W
        self.H = None
        self.H_adv = None
        self.M = W.shape[0] if W is not None else None
        self.N = self.N_adv = self.N_sup = None
        self.S = len(ds) if ds is not None else None
        self._model = None
        if W is not None and W.shape[1] != self.d:
            raise ShapeError(f"W has {W.shape[1]} atoms (columns) but d = {self.d}")
        self._params(warm=False, seed=0)  # bad parameters fail here, not after a fit
        if self.ds is not None:
            _source_count(self.ds)

    def __repr__(self):
        ds = f", ds={self.ds}" if self.ds is not None else ""
        return f"NMF(d={self.d}{ds}, prob={self.prob!r}, tau_A={self.tau_A!r})"

    # ---------------------------------------------------------- parameters
    def _scalar_mu_H(self):
        mu = np.asarray(self.mu_H, dtype=np.float64)
        if mu.ndim == 0:
            return float(mu)
        return float(mu.reshape(-1)[0]) if mu.size else 1e-6

    def _scalar_tau_A(self):
        tau = np.asarray(self.tau_A, dtype=np.float64)
        return float(tau) if tau.ndim == 0 else float(tau.reshape(-1)[0])

    def _atom_mu_H(self, D):
        """Per-atom mu_H (length D): the scalar broadcast, or the array."""
        mu = np.asarray(self.mu_H, dtype=np.float64)
        if mu.ndim == 0:
            return np.full(D, real(mu, "mu_H"), dtype=np.float32)
        mu = mu.reshape(-1)
        if mu.shape[0] != D:
            raise ShapeError(f"mu_H has {mu.shape[0]} values but the basis has {D} atoms")
        return np.array([real(v, f"mu_H[{k}]") for k, v in enumerate(mu)], dtype=np.float32)

    def _params(self, warm, seed, d=None):
        return _common_params(self, self.d if d is None else d, warm, seed)

    def _separator_params(self, mode, ds, warm, seed):
        return _separator_params(self, mode, ds, warm, seed)

    # --------------------------------------------------------------- model
    def _new_model(self, m, seed):
        """A fresh model; with W it starts from it (warm start)."""
        warm = self.W is not None
        model = Model.create(self._params(warm, seed))
        if warm:
            if self.W.shape[0] != m:
                raise ShapeError(f"the data has {m} features but W has {self.W.shape[0]} rows")
            model.set_basis(self.W)
        mu = np.asarray(self.mu_H)
        if mu.ndim != 0:
            model.set_mu_H(self._atom_mu_H(self.d))
        return model

    def _model_for_basis(self, seed):
        """The model holding the current W (reused when W is unchanged),
        with the current parameters for transforms and saving."""
        if self.W is None:
            raise NotFittedError("this NMF has no basis W yet: fit it first, or give W",
                                 _native.ERR_STATE)
        W = columns(self.W, "W")
        D = W.shape[1]
        model = self._model
        if model is None or not model.has_basis(W):
            if self.ds is not None and sum(self.ds) == D:
                params = self._params(False, seed, d=D)
                model = Model.from_bases(W, self.ds, self._atom_mu_H(D), params)
            else:
                model = Model.create(self._params(False, seed, d=D))
                model.set_basis(W)
            self._model = model
        model.set_params(self._params(False, seed, d=D))
        model.set_mu_H(self._atom_mu_H(D))
        return model

    def _adopt(self, model, U=None, U_adv=None):
        self._model = model
        self.W = model.basis()
        self.H = model.activations()
        self.H_adv = model.adv_activations() if U_adv is not None else None
        self.M = self.W.shape[0]
        if U is not None:
            self.N = U.shape[1]
        if U_adv is not None:
            self.N_adv = U_adv.shape[1]

    @contextlib.contextmanager
    def _keeping_partial_fit(self, model, U, U_adv=None):
        """A fit stopped by Ctrl-C (with conv=True) keeps the basis of its
        last finished epoch, as the research code's W would be."""
        try:
            yield
        except (KeyboardInterrupt, CancelledError):
            if model.shape()[0]:
                self._adopt(model, U, U_adv)
            raise

    # ---------------------------------------------------------------- fits
    def fit_std(self, U, conv=False):
        """Standard NMF on U (m x N).  With conv=True returns the loss
        ||U - WH||²/N after initialisation and after every epoch."""
        U = columns(U, "U")
        seed = resolve_seed(self.seed)
        model = self._new_model(U.shape[0], seed)
        recorder = EpochRecorder() if conv else None
        with self._keeping_partial_fit(model, U):
            model.fit_std(U, recorder)
        self._adopt(model, U)
        if conv:
            return np.array([r["loss_true"] for r in recorder.last_stage()])
        return None

    def fit_adv(self, U, U_adv, conv=False):
        """MDNMF: represent U well and U_adv poorly.  self.omega (if set)
        weighs each adversarial sample's H penalty.  With warm_start_epochs,
        that many NMF epochs run first (from W if there is one).  conv=True returns the
        research code's loss tau_W ||U-WH||²/N - tau_A ||Û-WĤ||²/N̂ per epoch."""
        U = columns(U, "U")
        U_adv = columns(U_adv, "U_adv", rows=U.shape[0])
        omega = weights(self.omega, U_adv.shape[1]) if self.omega is not None else None
        seed = resolve_seed(self.seed)
        model = self._new_model(U.shape[0], seed)
        warm_up = integer(self.warm_start_epochs, "warm_start_epochs")
        if warm_up > 0:  # as a separator's "adv" mode: NMF epochs first
            params = self._params(self.W is not None, seed)
            params.epochs = warm_up
            model.set_params(params)
            model.fit_std(U)
            model.set_params(self._params(True, seed))
        recorder = EpochRecorder() if conv else None
        with self._keeping_partial_fit(model, U, U_adv):
            model.fit_adv(U, U_adv, omega, recorder)
        self._adopt(model, U, U_adv)
        if conv:
            tau_W, tau_A = float(self.tau_W), self._scalar_tau_A()
            return np.array([tau_W * r["loss_true"] - tau_A * r["loss_adv"]
                             for r in recorder.last_stage()])
        return None

    def fit_exem(self, U=None):
        """Exemplar NMF: d distinct random samples of U become the atoms."""
        U = columns(U, "U")
        model = Model.create(self._params(False, resolve_seed(self.seed)))
        if np.asarray(self.mu_H).ndim != 0:
            model.set_mu_H(self._atom_mu_H(self.d))
        model.fit_exem(U)
        self._adopt(model, U)

    def _needs_ds(self, what):
        if self.ds is None:
            raise InvalidArgumentError(f"{what} needs ds, the atoms of each source")
        ds = _source_count(self.ds)
        if sum(ds) != self.d:
            raise InvalidArgumentError(f"d = {self.d} but the sources' ds sum to {sum(ds)}")
        return ds

    def _fit_sources(self, mode, conv, **data):
        ds = self._needs_ds(f"fit_{mode}")
        recorder = EpochRecorder() if conv else None
        model = _fit_separator(self, mode, ds, W=self.W, recorder=recorder,
                               seed=resolve_seed(self.seed), **data)
        self._adopt(model)
        self.H = None  # the library keeps no activations of separator fits
        self.S = len(ds)
        if conv:
            return np.array([r["loss_true"] for r in recorder.last_stage()])
        return None

    def fit_sup(self, U_sup, V_sup, conv=False):
        """DNMF: bases that rebuild each clean source U_sup[s] (m x N) from the
        activations of its mixtures V_sup (m x N).  Needs ds."""
        U_sup = _optional_list(U_sup, len(self._needs_ds("fit_sup")), "U_sup")
        self.N_sup = np.shape(V_sup)[-1]
        return self._fit_sources("sup", conv, U_sup=U_sup, V_sup=V_sup)

    def fit_full(self, U, U_adv=None, U_sup=None, V_sup=None, conv=False, V=None):
        """D+MDNMF from weak data U (list per source), optional mixtures V and
        paired data U_sup, V_sup.  The library builds each source's
        adversarial data from U and V (SPEC §4); U_adv, if given, must have
        the column counts that gives (it is otherwise unused)."""
        S = len(self._needs_ds("fit_full"))
        U = _optional_list(U, S, "U")
        if U_adv is not None:
            expected = _adversarial_data(U, V, [1.0] * S, counts_only=True)
            got = [np.shape(a)[1] for a in _optional_list(U_adv, S, "U_adv")]
            if got != expected:
                raise ShapeError(f"U_adv has {got} samples per source but U and V give "
                                 f"{expected}: the library builds the adversarial data "
                                 "itself (SPEC §4); pass the mixtures as V=")
        return self._fit_sources("full", conv, U=U, V=V,
                                 U_sup=_optional_list(U_sup, S, "U_sup"), V_sup=V_sup)

    def fit(self, U=None, U_adv=None, U_sup=None, V_sup=None, V=None, conv=False):
        """The fit that `prob` names: std, adv, exem, sup or full."""
        prob = _check_prob(self.prob)
        if prob == "std":
            return self.fit_std(U, conv)
        if prob == "adv":
            return self.fit_adv(U, U_adv, conv)
        if prob == "exem":
            return self.fit_exem(U)
        if prob == "sup":
            return self.fit_sup(U_sup, V_sup, conv)
        if prob == "full":
            return self.fit_full(U, U_adv, U_sup, V_sup, conv, V=V)
        raise InvalidArgumentError(f"prob {prob!r} is a separator mode: use NMF_separation")

    # ----------------------------------------------------------- transform
    def transform(self, U, current=False):
        """H (d x N) for the fixed basis W: test_epochs multiplicative updates
        from a Uniform(0,1) start (SPEC §1).  current=True returns the fit's H."""
        if current:
            return self.H
        seed = resolve_seed(self.seed)
        model = self._model_for_basis(seed)
        U = columns(U, "U", rows=model.shape()[0])
        return model.transform(U)

    # ---------------------------------------------------------------- files
    def save(self, path):
        """Save W, mu_H and the parameters as the project's .npz model."""
        seed = self._saved_seed()
        self._model_for_basis(seed).save(path)

    def _saved_seed(self):
        if self.seed is not None:
            return resolve_seed(self.seed)
        return self._model.params().seed if self._model is not None else 0

    @classmethod
    def load(cls, path):
        """A model saved by save(), the CLI or the C library."""
        model = Model.load(path)
        return cls._from_model(model)

    @classmethod
    def _from_model(cls, model):
        fields = params_dict(model.params())
        components = model.components()
        W = model.basis()
        mu = model.mu_H()
        if not np.all(mu == np.float32(fields["mu_H"])):  # else keep the exact scalar
            fields["mu_H"] = float(mu[0]) if np.all(mu == mu[0]) else mu
        separator = model.separator_params()
        extra = {}
        if len(components) > 1:
            extra["ds"] = components
            if separator is not None:
                extra["tau_S"] = separator.tau_S
                extra["batch_size_sup"] = separator.batch_size_sup or None
                extra["warm_start_epochs"] = separator.warm_start_epochs
        fields["d"] = W.shape[1]
        init = fields.pop("init")
        nmf = cls(W=W, init=init, **fields, **extra)
        nmf._model = model
        return nmf


def _adversarial_data(U, V, betas, counts_only=False):
    """SPEC §4 for every source: the list of Û_s (m x N̂_s) and of ω_s (None
    for a source without any), or with counts_only the list of the N̂_s."""
    S = len(U)
    given = _SeparationInput(S)
    given.set_clean(U)
    given.set_mixtures(V)
    data = given.finish()
    U_adv, omegas = [], []
    error = _native.Error()
    for s in range(S):
        count = ctypes.c_int64(0)
        beta = real(betas[s], f"betas[{s}]")
        status = lib.mdnmf_adversarial_data(ctypes.byref(data), S, s, beta, None, None,
                                            ctypes.byref(count), ctypes.byref(error))
        if status:
            raise InvalidArgumentError(error.text(), status)
        if counts_only:
            U_adv.append(count.value)
            continue
        if count.value == 0:
            U_adv.append(None)
            omegas.append(None)
            continue
        block = np.empty((given.m, count.value), dtype=np.float32, order="F")
        omega = np.empty(count.value, dtype=np.float32)
        lib.mdnmf_adversarial_data(ctypes.byref(data), S, s, beta, address(block),
                                   address(omega), ctypes.byref(count), None)
        U_adv.append(block)
        omegas.append(omega)
    return U_adv if counts_only else (U_adv, omegas)


class NMF_separation:
    """Source separation with one NMF basis per source (SPEC §4-§6), with the
    research code's parameters.

    ds: atoms per source; NMFs / Ws: per-source NMF objects or bases to start
    from; betas: weight of the mixtures in each source's adversarial data;
    omegas: per-source adversarial H-penalty weights (prob "adv" only; None =
    SPEC §4's, which the library computes); tau_A="auto" (prob adv, semi_adv,
    full): chosen on validation pairs from tau_grid (None: the library's
    0, 0.05, 0.1, 0.15, 0.2, 0.3), see fit(); validation_fraction: the share
    of each source's clean samples held out when fit() is given no
    validation pairs (adv); tau_margin: walking up the grid, a tau_A
    replaces the one chosen so far only when its validation median is higher
    and its mean per-pair gain exceeds tau_margin standard errors of those
    gains (default 1; 0: the best median score wins); tau_folds: 0 (default)
    validates on U_val/V_val or a held-out validation_fraction; K >= 2
    (adv) cross-validates over the training pairs instead, fit(U, V) with
    V[:, j] the mixture of every U[s][:, j], in K folds (K times the fits,
    every pair validates once); tau_confirm: True (default) keeps the
    chosen tau_A's final refit only when it separates the validation pairs
    (which it has now seen) better than the NMF refitted beside it, else
    the NMF (tau_auto_["rejected"] names the tau_A turned down); wiener: Wiener-filter the
    estimates; prob: std, adv, exem, sup, full, semi, semi_adv; eps: accepted
    and ignored (the library scales its division guard to the data,
    docs/algorithm.md); tau_A (one or per source), tau_S, mu_H (one, per
    source, or per atom constant within each source), warm_start_epochs, and
    the NMF arguments: W (all bases side by side), tau_W, init, update_H,
    epochs, test_epochs, batch_size, batch_size_adv, batch_size_sup,
    true_sample, normalize, mu_W, seed, threads, divergence ("fro", "kl", "is").

    The defaults are the research code's (mu_H 1e-10, tau_S 0.5), not the C
    library's separator defaults (1e-6, 1).
    """

    def __init__(self, ds, NMFs=None, Ws=None, betas=None, omegas=None, wiener=True,
                 prob="std", eps=1e-10, tau_A=0.1, tau_S=0.5, mu_H=1e-10, warm_start_epochs=0,
                 *, W=None, tau_W=1.0, init="exem", update_H=False, epochs=50, test_epochs=50,
                 batch_size=None, batch_size_adv=None, batch_size_sup=None, true_sample="std",
                 normalize=False, mu_W=1e-6, seed=None, threads=0, tau_grid=None,
                 validation_fraction=0.2, tau_margin=1.0, tau_folds=0, tau_confirm=True,
                 divergence="fro"):
        self.ds = _source_count(ds)
        self.S = len(self.ds)
        self.prob = _check_prob(prob)
        self.wiener, self.eps = wiener, eps
        self.betas, self.omegas = betas, omegas
        self._derived_omegas = None
        if isinstance(tau_A, str):
            if tau_A != "auto":
                raise InvalidArgumentError(f"tau_A must be a number, one per source or "
                                           f"'auto', not {tau_A!r}")
            self.tau_A = tau_A
        else:
            self.tau_A = tau_A if np.ndim(tau_A) else [tau_A] * self.S
        self.tau_grid, self.validation_fraction = tau_grid, validation_fraction
        self.tau_margin, self.tau_folds = tau_margin, tau_folds
        self.tau_confirm = tau_confirm
        self.tau_A_ = None     # with tau_A="auto": the chosen value per source
        self.tau_auto_ = None  # and every grid point's validation score
        self.tau_S, self.mu_H, self.tau_W = tau_S, mu_H, tau_W
        self.warm_start_epochs = warm_start_epochs
        self.init, self.update_H, self.normalize = init, update_H, normalize
        self.epochs, self.test_epochs = epochs, test_epochs
        self.batch_size, self.batch_size_adv = batch_size, batch_size_adv
        self.batch_size_sup, self.true_sample = batch_size_sup, true_sample
        self.mu_W, self.seed, self.threads = mu_W, check_seed(seed), threads
        self.divergence = divergence
        self._model = None
        if NMFs is not None:
            self.NMFs = list(NMFs)
            if len(self.NMFs) != self.S:
                raise ShapeError(f"NMFs must hold one NMF per source ({self.S})")
        else:
            Ws = _optional_list(Ws, self.S, "Ws")
            self.NMFs = [self._source_nmf(s, Ws[s]) for s in range(self.S)]
        if W is not None:
            self.W = W
        self._check_settings()

    def __repr__(self):
        return f"NMF_separation(ds={self.ds}, prob={self.prob!r}, tau_A={self.tau_A!r})"

    def _check_settings(self):
        self._separator_params(self.prob, warm=False, seed=0)

    def _source_nmf(self, s, W=None):
        return NMF(d=self.ds[s], W=W, tau_W=self.tau_W, tau_A=self._tau_A_list()[s],
                   prob=self.prob if self.prob in ("std", "adv", "exem") else "std",
                   init=self.init, update_H=self.update_H, epochs=self.epochs,
                   test_epochs=self.test_epochs, warm_start_epochs=self.warm_start_epochs,
                   batch_size=self.batch_size, batch_size_adv=self.batch_size_adv,
                   true_sample=self.true_sample, normalize=self.normalize, mu_W=self.mu_W,
                   mu_H=self._mu_H_list()[s], seed=self.seed, threads=self.threads,
                   divergence=self.divergence)

    # ---------------------------------------------------------- parameters
    def _tau_A_list(self):
        if isinstance(self.tau_A, str):  # "auto": the choice, or 0 before it
            return list(self.tau_A_) if self.tau_A_ is not None else [0.0] * self.S
        return _per_source(self.tau_A, self.ds, "tau_A")

    def _mu_H_list(self):
        return _per_source(self.mu_H, self.ds, "mu_H")

    def _beta_list(self):
        if self.betas is None:
            return [1.0] * self.S
        betas = list(np.asarray(self.betas, dtype=np.float64).reshape(-1))
        if len(betas) < self.S:  # the research code allows S + 1 (one for V)
            raise ShapeError(f"betas must hold one weight per source ({self.S})")
        return [real(b, f"betas[{s}]") for s, b in enumerate(betas[:self.S])]

    def _scalar_mu_H(self):
        return self._mu_H_list()[0]

    def _scalar_tau_A(self):
        return self._tau_A_list()[0]

    def _separator_params(self, mode, ds=None, warm=False, seed=0):
        return _separator_params(self, mode, self.ds, warm, seed, self._beta_list())

    def _common(self, seed, d):
        return _common_params(self, d, False, seed)

    # ----------------------------------------------------------------- W
    @property
    def W(self):
        """All bases side by side (m x sum(ds)); None before a fit."""
        blocks = [nmf.W for nmf in self.NMFs]
        if any(b is None for b in blocks):
            return None
        return np.asfortranarray(np.concatenate([columns(b, "W") for b in blocks], axis=1))

    @W.setter
    def W(self, W):
        W = columns(W, "W")
        if W.shape[1] != sum(self.ds):
            raise ShapeError(f"W has {W.shape[1]} atoms but ds sum to {sum(self.ds)}")
        offset = 0
        for nmf, d in zip(self.NMFs, self.ds):
            nmf.W = np.array(W[:, offset:offset + d], order="F")
            nmf.M = W.shape[0]
            offset += d

    def _adopt(self, model):
        self._model = model
        self.W = model.basis()

    def _model_for_separation(self, seed):
        W = self.W
        if W is None:
            raise NotFittedError("the separator has no bases yet: fit it first, or give Ws",
                                 _native.ERR_STATE)
        D = W.shape[1]
        model = self._model
        if (model is None or model.components() != self.ds or not model.has_basis(W)):
            separator = self._separator_params(self.prob, seed=seed)
            common = self._common(seed, D)
            model = Model.from_bases(W, self.ds, _per_atom(self._mu_H_list(), self.ds), common,
                                     separator)
            self._model = model
        model.set_params(self._common(seed, D))
        model.set_mu_H(_per_atom(self._mu_H_list(), self.ds))
        return model

    # ----------------------------------------------------------------- fit
    def _clean_data(self, U, U_sup, what):
        U = _optional_list(U, self.S, "U")
        U_sup = _optional_list(U_sup, self.S, "U_sup")
        clean = []
        for s in range(self.S):
            parts = [X for X in (U[s], U_sup[s]) if X is not None]
            if not parts:
                raise InvalidArgumentError(f"prob {what!r} needs clean data U for source {s}")
            if len(parts) == 1:
                clean.append(parts[0])
            else:
                clean.append(np.concatenate([columns(X, f"U[{s}]") for X in parts], axis=1))
        return clean

    def fit(self, U=None, V=None, U_sup=None, V_sup=None, U_val=None, V_val=None):
        """Fit every source's basis as `prob` says (SPEC §6).

        U: list of clean training data per source (m x N_s each; in the semi
        modes the last source's entry is omitted or None); V: mixtures (adv,
        full: extra adversarial data; semi: what the last basis is learned
        from); U_sup, V_sup: paired clean sources and their mixtures (sup,
        full; in std, adv and exem U_sup is added to U, as in the research
        code).  A fit starts from the current bases when every source has one.

        tau_A="auto" (adv, semi_adv, full; mdnmf_tau_auto_run): every value of
        tau_grid is fitted from the NMF bases (the current bases when given,
        else an NMF fitted first) and scored on validation pairs: U_val (list
        of the clean sources) with their mixtures V_val, or in adv without
        them a held-out validation_fraction of U (then NMF and the chosen
        tau_A are fitted again on all of U); full cross-validates over its
        pairs U_sup, V_sup.  tau_A = 0 is the NMF itself, and a larger value
        is chosen only when it scores better.  Sets tau_A_ (the choice per
        source) and tau_auto_ (every grid point's validation score)."""
        prob = _check_prob(self.prob)
        S = self.S
        given = [nmf.W is not None for nmf in self.NMFs]
        if any(given) and not all(given):
            raise InvalidArgumentError(
                f"bases are set for sources {[s for s in range(S) if given[s]]} only: give "
                "every source's basis (the library warm-starts all sources together) or none")
        seed = resolve_seed(self.seed)
        data = {}
        if prob in ("std", "exem"):
            data["U"] = self._clean_data(U, U_sup, prob)
        elif prob == "adv":
            data["U"] = self._clean_data(U, U_sup, prob)
            data["V"] = V
            if V is not None and V_sup is not None and U is not None and U_sup is not None:
                data["V"] = np.concatenate([columns(V, "V"), columns(V_sup, "V_sup")], axis=1)
            if self._custom_omegas() is not None:
                return self._fit_adv_with_omegas(data["U"], data["V"], seed)
        elif prob in ("sup", "full"):
            if U_sup is None or V_sup is None:
                raise InvalidArgumentError(f"prob {prob!r} needs paired data U_sup and V_sup")
            data["U_sup"] = _optional_list(U_sup, S, "U_sup")
            data["V_sup"] = V_sup
            if prob == "full":
                if U is None:
                    raise InvalidArgumentError("prob 'full' needs clean data U per source")
                data["U"] = _optional_list(U, S, "U")
                data["V"] = V
        else:  # semi, semi_adv: no clean data of the last source
            if U is None or V is None:
                raise InvalidArgumentError(f"prob {prob!r} needs clean data U of the first "
                                           f"{S - 1} sources and mixtures V")
            U = list(U) if not isinstance(U, np.ndarray) or U.ndim != 2 else [U]
            if len(U) not in (S - 1, S):
                raise ShapeError(f"U must hold the clean data of the first {S - 1} sources")
            data["U"] = (U + [None])[:S - 1] + [None]
            data["V"] = V
        if self._custom_omegas() is not None and prob != "adv":
            raise InvalidArgumentError(f"custom omegas work with prob 'adv' only; for "
                                       f"{prob!r} the library uses SPEC §4's weights")
        if isinstance(self.tau_A, str):
            return self._fit_tau_auto(prob, data, U_val, V_val, seed)
        if U_val is not None or V_val is not None:
            raise InvalidArgumentError("U_val and V_val are the validation pairs of "
                                       "tau_A='auto'")
        model = _fit_separator(self, prob, self.ds, W=self.W, seed=seed, **data)
        self._adopt(model)
        return self

    def _fit_tau_auto(self, prob, data, U_val, V_val, seed):
        if prob not in ("adv", "semi_adv", "full"):
            raise InvalidArgumentError(f"tau_A='auto' needs prob adv, semi_adv or full (the "
                                       f"modes with an adversarial term), not {prob!r}")
        if prob == "full" and (U_val is not None or V_val is not None):
            raise InvalidArgumentError("prob 'full' validates on its pairs U_sup, V_sup "
                                       "(k-fold): drop U_val and V_val")
        if (U_val is None) != (V_val is None):
            raise InvalidArgumentError("give both U_val and V_val, or neither")
        S = self.S
        spec = _native.TauAuto()
        lib.mdnmf_tau_auto_default(ctypes.byref(spec), S)
        self.tau_A_ = None
        spec.base = self._separator_params(prob, seed=seed)
        grid = None
        if self.tau_grid is not None:
            grid = np.ascontiguousarray(self.tau_grid, dtype=np.float64).reshape(-1)
            spec.grid, spec.grid_count = address(grid), grid.shape[0]
        spec.validation_fraction = real(self.validation_fraction, "validation_fraction")
        spec.margin = real(self.tau_margin, "tau_margin")
        spec.pair_folds = integer(self.tau_folds, "tau_folds")
        spec.confirm = 1 if self.tau_confirm else 0
        if spec.pair_folds and (U_val is not None or V_val is not None):
            raise InvalidArgumentError("tau_folds validates on the training pairs' folds: "
                                       "drop U_val and V_val")
        spec.seed = seed
        error = _native.Error()
        if lib.mdnmf_tau_auto_check(ctypes.byref(spec), ctypes.byref(error)):
            raise InvalidArgumentError(error.text(), error.status)
        given = _SeparationInput(S)
        given.set_clean(list(data.get("U") or []) + [None] * (S - len(data.get("U") or [])))
        given.set_mixtures(data.get("V"))
        if U_val is not None:
            given.set_pairs(_optional_list(U_val, S, "U_val"), V_val)
        else:
            given.set_pairs(_optional_list(data.get("U_sup"), S, "U_sup"), data.get("V_sup"))
        pairs = given.finish()
        common = _native.Params.from_buffer_copy(spec.base.common)
        common.d = sum(self.ds)
        start = None
        if self.W is not None:  # the current bases are the NMF to start from
            nmf = self._separator_params("semi" if prob == "semi_adv" else "std", seed=seed)
            start = Model.from_bases(self.W, self.ds, _per_atom(self._mu_H_list(), self.ds),
                                     common, nmf)
            spec.start = start.handle
        model = Model.create(common)
        result = model.tau_auto(spec, pairs)
        count = result.count
        self.tau_A_ = [result.chosen_tau_A] * S
        self.tau_auto_ = {
            "tau_A": list(result.tau_A[:count]),
            "validation": [float(v) if result.status[i] == _native.OK else None
                           for i, v in enumerate(result.metric[:count])],
            "chosen": result.chosen_tau_A,
            "validation_pairs": result.validation_pairs,
            "held_out": bool(result.held_out),
            "fits": result.fits,
            "confirm": [None if np.isnan(v) else float(v) for v in result.confirm_metric],
            "rejected": result.rejected_tau_A or None,
        }
        self._adopt(model)
        return self

    def _custom_omegas(self):
        if self.omegas is None or self.omegas is self._derived_omegas:
            return None
        return self.omegas

    def _fit_adv_with_omegas(self, U, V, seed):
        """prob "adv" with the user's H-penalty weights: per source, the fits
        the library's separator would run (same per-source seeds), through
        mdnmf_fit_std / mdnmf_fit_adv."""
        omegas = _optional_list(self._custom_omegas(), self.S, "omegas")
        U_adv, _ = _adversarial_data(U, V, self._beta_list())
        tau_A, mu_H = self._tau_A_list(), self._mu_H_list()
        start = self.W
        bases = []
        for s in range(self.S):
            nmf = self._source_nmf(s)
            nmf.seed = (seed + SOURCE_SEED_STEP * (s + 1)) % SEED_LIMIT
            nmf.tau_A, nmf.mu_H = tau_A[s], mu_H[s]
            nmf.W = self.NMFs[s].W if start is not None else None
            if tau_A[s] > 0:
                if U_adv[s] is None:
                    raise InvalidArgumentError(f"source {s} has no adversarial data")
                nmf.omega = omegas[s]
                nmf.fit_adv(U[s], U_adv[s])
            else:
                nmf.fit_std(U[s])
            bases.append(nmf.W)
        separator = self._separator_params("adv", seed=seed)
        W = np.concatenate(bases, axis=1)
        D = W.shape[1]
        model = Model.from_bases(W, self.ds, _per_atom(mu_H, self.ds), self._common(seed, D),
                                 separator)
        self._adopt(model)
        return self

    # ---------------------------------------------------------- separation
    def transform(self, V):
        """H (sum(ds) x N) of mixtures V with all bases."""
        model = self._model_for_separation(resolve_seed(self.seed))
        V = columns(V, "V", rows=model.shape()[0])
        return model.transform(V)

    def _estimates(self, V, adapt_epochs=0, adapt_fresh=True, noise_smoothing=0):
        model = self._model_for_separation(resolve_seed(self.seed))
        V = columns(V, "V", rows=model.shape()[0])
        return model.separate(V, self.wiener, adapt_epochs, adapt_fresh, noise_smoothing)

    def separate(self, V, current=False, adapt_epochs=0, adapt_fresh=True, noise_smoothing=0):
        """Estimates of every source from mixtures V (m x N): an (m, S, N)
        float32 array, as the research code's (Us[:, s, :] is source s).
        adapt_epochs > 0 first adapts the last basis (the noise) to V, the
        others fixed, from fresh Uniform(0,1) atoms (adapt_fresh True), the
        fitted ones (False) or, with "auto", fresh atoms for an MDNMF model
        and the fitted ones for NMF (mdnmf_separate_adapted; the fitted
        bases stay).  noise_smoothing > 0, for the frames of one recording
        in time order: the last source's activations are averaged over that
        many frames on each side before the estimates are made
        (mdnmf_separate_frames)."""
        if current:
            raise InvalidArgumentError("separate(current=True) is not supported: the library "
                                       "keeps no activations of the mixtures")
        if isinstance(adapt_epochs, bool) or not isinstance(adapt_epochs, int) \
                or adapt_epochs < 0:
            raise InvalidArgumentError(f"adapt_epochs must be an int >= 0, not {adapt_epochs!r}")
        noise_smoothing = integer(noise_smoothing, "noise_smoothing")
        return self._estimates(V, adapt_epochs, adapt_fresh,
                               noise_smoothing).transpose(2, 0, 1)

    def eval(self, U_test, V_test, metric="psnr", aggregate="median", weights=None,
             current=False, axis=0):
        """Separate V_test and score it against the true sources U_test (a
        list of S arrays m x N, or an (m, S, N) array).  metric: "psnr"
        (SPEC §9, per sample), "mse" (mean squared error per sample) or
        "norm" (squared error per sample, the research code's).  The per
        sample values are averaged over the sources, then aggregated over the
        samples: "median" (the paper's), "mean", or None for the (S, N)
        array of every source and sample."""
        if current:
            raise InvalidArgumentError("eval(current=True) is not supported")
        if metric not in ("psnr", "mse", "norm"):
            raise InvalidArgumentError(f"metric must be psnr, mse or norm, not {metric!r}")
        model = self._model_for_separation(resolve_seed(self.seed))
        m = model.shape()[0]
        V = columns(V_test, "V_test", rows=m)
        n = V.shape[1]
        references = [columns(X, f"U_test[{s}]", rows=m)
                      for s, X in enumerate(_optional_list(U_test, self.S, "U_test"))]
        for s, reference in enumerate(references):
            if reference.shape[1] != n:
                raise ShapeError(f"U_test[{s}] has {reference.shape[1]} samples but V_test "
                                 f"has {n}")
        estimates = model.separate(V, self.wiener)
        values = np.empty((self.S, n), dtype=np.float64)
        function = lib.mdnmf_psnr if metric == "psnr" else lib.mdnmf_squared_error
        error = _native.Error()
        for s, reference in enumerate(references):
            status = function(address(reference), address(estimates[s]), m, n,
                              address(values[s]), ctypes.byref(error))
            if status:
                raise InvalidArgumentError(error.text(), status)
        if metric == "norm":
            values *= m
        if aggregate is None:
            return values
        per_sample = values.mean(axis=0)
        if aggregate == "median":
            return float(np.median(per_sample))
        if aggregate == "mean":
            return float(np.mean(per_sample))
        if aggregate == "average":
            return float(np.average(values, axis=0, weights=weights).mean())
        raise InvalidArgumentError(f"aggregate must be median, mean, average or None, not "
                                   f"{aggregate!r}")

    def create_adversarial(self, U, V=None):
        """SPEC §4's adversarial data of every source: a list of Û_s
        (m x N̂_s).  Sets self.omegas to the matching weights unless the user
        gave omegas."""
        U = _optional_list(U, self.S, "U")
        U_adv, omegas = _adversarial_data(U, V, self._beta_list())
        if self._custom_omegas() is None:
            self.omegas = self._derived_omegas = omegas
        return U_adv

    # ---------------------------------------------------------------- files
    def save(self, path):
        """Save the bases, per-atom mu_H and the parameters as the project's
        .npz model (readable by the C library and the CLI)."""
        seed = (resolve_seed(self.seed) if self.seed is not None
                else self._model.params().seed if self._model is not None else 0)
        self._model_for_separation(seed).save(path)

    @classmethod
    def load(cls, path):
        model = Model.load(path)
        return cls._from_model(model)

    @classmethod
    def _from_model(cls, model):
        components = model.components()
        if len(components) < 2:
            raise ShapeError(f"the model has {len(components)} source; a separator needs at "
                             "least 2 (load it with NMF.load)")
        fields = params_dict(model.params())
        separator = model.separator_params()
        fields.pop("d")
        fields.pop("tau_A")
        fields.pop("mu_H")
        mu = model.mu_H()
        offsets = np.cumsum([0] + components[:-1])
        extra = {"mu_H": [float(mu[o]) for o in offsets]}
        if separator is not None:
            S = separator.sources
            extra.update(prob=PROBS[separator.mode], tau_A=list(separator.tau_A[:S]),
                         betas=list(separator.beta[:S]), tau_S=separator.tau_S,
                         batch_size_sup=separator.batch_size_sup or None,
                         warm_start_epochs=separator.warm_start_epochs)
            if np.any(_per_atom(extra["mu_H"], components) != mu):
                extra["mu_H"] = mu  # per atom, from a foreign file
        separation = cls(components, W=model.basis(), **fields, **extra)
        separation._model = model
        return separation


def load(path):
    """Load a model file: an NMF_separation when it has several sources,
    else an NMF."""
    model = Model.load(path)
    if len(model.components()) > 1:
        return NMF_separation._from_model(model)
    return NMF._from_model(model)
