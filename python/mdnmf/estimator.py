"""MDNMF as a scikit-learn estimator: rows are samples, as in sklearn's NMF.

    MDNMF(n_components=32, tau_A=0.2).fit(X, X_adv).transform(X_new)

X is (n_samples, n_features).  A C-order float32 X is exactly the library's
column-major features x samples matrix, so it is passed without a copy.
scikit-learn is optional: without it the class still works, with its own
get_params / set_params and input checks.

With scikit-learn the input checks are its own (check_array through
_validate_data), so 1-D, empty, complex, string and feature-count errors
read as scikit-learn's; NaN, infinite and negative entries are the
library's checks, which name the sample and feature.  Outputs follow the
input's float type (float32 in, float32 out; anything else, float64 out)
although the library computes in float32; sparse input is densified.
scikit-learn's check_estimator passes (tests/python/test_sklearn.py).
"""

import inspect

import numpy as np

from ._model import (EpochRecorder, Model, make_params, params_dict, resolve_seed,
                     rows_to_columns, weights)
from .errors import NotFittedError, ShapeError

try:  # scikit-learn's base classes give clone(), repr and pipeline support
    from sklearn.base import BaseEstimator, TransformerMixin
    from sklearn.utils.validation import check_array
    try:  # scikit-learn >= 1.6: a function; before, BaseEstimator._validate_data
        from sklearn.utils.validation import validate_data as _sklearn_validate_data
    except ImportError:
        _sklearn_validate_data = None
    HAVE_SKLEARN = True
except ImportError:  # pragma: no cover - exercised only without scikit-learn
    HAVE_SKLEARN = False
    check_array = _sklearn_validate_data = None

    class BaseEstimator:
        """get_params / set_params as scikit-learn defines them."""

        @classmethod
        def _get_param_names(cls):
            signature = inspect.signature(cls.__init__)
            return sorted(p.name for p in signature.parameters.values()
                          if p.name != "self" and p.kind != p.VAR_KEYWORD)

        def get_params(self, deep=True):
            return {name: getattr(self, name) for name in self._get_param_names()}

        def set_params(self, **params):
            valid = self._get_param_names()
            for name, value in params.items():
                if name not in valid:
                    raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}")
                setattr(self, name, value)
            return self

        def __repr__(self):
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
            return f"{type(self).__name__}({args})"

    class TransformerMixin:
        pass


# scikit-learn's check_array settings: floats are kept (float32 stays float32,
# the library's type; anything else becomes float64, scikit-learn's default),
# sparse matrices are accepted and densified, and NaN / inf are left to the
# library's own check, which names the sample and feature.
SPARSE_FORMATS = ("csr", "csc", "coo", "bsr", "dia", "dok", "lil")
CHECK_ARRAY = dict(dtype=[np.float64, np.float32], accept_sparse=SPARSE_FORMATS)
if HAVE_SKLEARN:  # renamed in scikit-learn 1.6
    _FINITE = "ensure_all_finite"
    if _FINITE not in inspect.signature(check_array).parameters:
        _FINITE = "force_all_finite"
    CHECK_ARRAY[_FINITE] = False


def _dense_float32(X):
    """A checked X as float32 rows: a sparse matrix densified in float32 (one
    dense allocation); a C-order float32 array as it is."""
    if hasattr(X, "toarray"):
        return X.astype(np.float32).toarray(order="C")
    return X


def _output_type(X):
    """The float type results are returned in: float32 for float32 input,
    float64 for everything else (scikit-learn's convention)."""
    return np.float32 if X.dtype == np.float32 else np.float64


def _plain_rows(X, name):
    """Without scikit-learn: X as a 2-D real array (the library's checks do
    the rest)."""
    array = np.asarray(X)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} has dtype {array.dtype}: NMF needs real numbers")
    if array.ndim != 2:
        raise ShapeError(f"Expected 2D array, got {array.ndim}D array instead: reshape "
                         f"your data ({name} is (n_samples, n_features))")
    return array if array.dtype in (np.float32, np.float64) else array.astype(np.float64)


def _adversarial_argument(y, X_adv):
    """The adversarial data of fit(X, y, X_adv): X_adv, or a 2-D second
    positional argument (scikit-learn's y slot, which is 1-D or None)."""
    if X_adv is not None:
        return X_adv
    if y is not None and np.asarray(y).ndim == 2:  # asarray: y may be any array-like
        return y
    return None


class MDNMF(TransformerMixin, BaseEstimator):
    """NMF / MDNMF with scikit-learn's conventions.

    n_components: atoms (None: as many as features); tau_A: adversarial weight
    (used when fit() gets X_adv; 0 is plain NMF); tau_W; batch_size,
    batch_size_adv (None: all samples); max_iter: training epochs;
    test_iter: update steps of transform; init: "exemplar" or "random";
    mu_W, mu_H: L1 penalties; normalize; update_H; true_sample;
    divergence: what the fit minimises, "fro" (Frobenius), "kl"
    (Kullback-Leibler) or "is" (Itakura-Saito), see docs/algorithm.md;
    random_state: None (NumPy's global generator), an int (the CLI's --seed)
    or a RandomState / Generator; threads: parts the work is split into,
    which fixes the results (0 = one per core, at most 256); the library runs
    as many at once as the machine's load leaves cores for;
    per_sample_init: transform draws each sample's random initial H from the
    seed and that sample's values (the library's per_sample_init, the CLI's
    transform --per-sample-init), so a sample's activations depend on that
    sample and the model only, not on the other rows of X nor the threads
    (default True; False is SPEC's one stream for all samples, as the CLI
    and NMF).

    Input: any real dtype and memory order; float32 C-order (n_samples,
    n_features) is used without a copy, anything else is converted to
    float32 once (float64: one copy; integers: to float64, then float32);
    sparse matrices are densified.  Outputs (fit_transform, transform,
    inverse_transform) are float32 for float32 input, float64 otherwise.

    Fitted attributes: components_ (n_components, n_features), the basis
    one atom per row; n_components_, n_features_in_, n_iter_,
    reconstruction_err_ (Frobenius norm of X - fit_transform(X) @ components_),
    loss_curve_ (per-epoch losses when track_loss=True).
    """

    def __init__(self, n_components=None, *, tau_A=0.1, tau_W=1.0, batch_size=None,
                 batch_size_adv=None, max_iter=50, test_iter=50, init="exemplar", mu_W=1e-6,
                 mu_H=1e-6, normalize=False, update_H=False, true_sample="std",
                 random_state=None, threads=0, track_loss=False, divergence="fro",
                 per_sample_init=True):
        self.n_components = n_components
        self.tau_A = tau_A
        self.tau_W = tau_W
        self.batch_size = batch_size
        self.batch_size_adv = batch_size_adv
        self.max_iter = max_iter
        self.test_iter = test_iter
        self.init = init
        self.mu_W = mu_W
        self.mu_H = mu_H
        self.normalize = normalize
        self.update_H = update_H
        self.true_sample = true_sample
        self.random_state = random_state
        self.threads = threads
        self.track_loss = track_loss
        self.divergence = divergence
        self.per_sample_init = per_sample_init

    # ------------------------------------------------------------- tags
    def _more_tags(self):  # scikit-learn < 1.6
        return {"requires_positive_X": True, "preserves_dtype": [np.float64, np.float32]}

    def __sklearn_tags__(self):  # scikit-learn >= 1.6
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # ------------------------------------------------------------ input
    def _rows(self, X, reset):
        """X checked as scikit-learn checks it (sets or compares
        n_features_in_), as float32 or float64 rows (sparse densified)."""
        if not HAVE_SKLEARN:
            X = _plain_rows(X, "X")
            if not reset and X.shape[1] != self.n_features_in_:
                raise ShapeError(f"X has {X.shape[1]} features, but {type(self).__name__} "
                                 f"is expecting {self.n_features_in_} features as input")
            if reset:
                self.n_features_in_ = X.shape[1]
            return X
        if _sklearn_validate_data is not None:
            return _sklearn_validate_data(self, X, reset=reset, **CHECK_ARRAY)
        return self._validate_data(X, reset=reset, **CHECK_ARRAY)

    @staticmethod
    def _other_rows(X, name):
        """Data that sets no state (X_adv): scikit-learn's checks when present."""
        if not HAVE_SKLEARN:
            return _plain_rows(X, name)
        return check_array(X, input_name=name, **CHECK_ARRAY)

    def _params(self, d, seed, warm=False):
        return make_params(d=d, epochs=self.max_iter, test_epochs=self.test_iter,
                           batch_size=self.batch_size, batch_size_adv=self.batch_size_adv,
                           init=self.init, mu_W=self.mu_W, mu_H=self.mu_H, tau_A=self.tau_A,
                           tau_W=self.tau_W, normalize=self.normalize, update_H=self.update_H,
                           true_sample=self.true_sample, warm_start=warm, seed=seed,
                           threads=self.threads, divergence=self.divergence,
                           per_sample_init=self.per_sample_init)

    # ---------------------------------------------------------------- fit
    def fit(self, X, y=None, X_adv=None, omega=None):
        """Fit the basis to X (n_samples, n_features); with adversarial data
        X_adv (n_adv, n_features) and tau_A > 0 fit MDNMF against it.

        fit(X, X_adv) works positionally: a 2-D second argument is the
        adversarial data, a 1-D one (or None) is scikit-learn's y, which an
        unsupervised estimator ignores.  In a pipeline pass it as a fit
        parameter: pipeline.fit(X, mdnmf__X_adv=X_adv).  omega: optional
        H-penalty weight of each adversarial sample."""
        self._fit(self._rows(X, reset=True), _adversarial_argument(y, X_adv), omega)
        return self

    def fit_transform(self, X, y=None, X_adv=None, omega=None):
        """Fit as fit(), then return transform(X) (n_samples,
        n_components): the same bits as fit(X).transform(X), as scikit-learn
        expects, computed once (fit needs it for reconstruction_err_)."""
        X = self._rows(X, reset=True)
        H = self._fit(X, _adversarial_argument(y, X_adv), omega)
        return H.T.astype(_output_type(X), copy=False)

    def _fit(self, X, X_adv, omega):
        """Fit to X, already checked by _rows(reset=True); returns the
        transform of X (n_components x n_samples)."""
        U = rows_to_columns(_dense_float32(X), "X")
        m = U.shape[0]
        d = m if self.n_components is None else self.n_components
        seed = resolve_seed(self.random_state)
        model = Model.create(self._params(d, seed))
        recorder = EpochRecorder() if self.track_loss else None
        adversarial = X_adv is not None and float(self.tau_A) > 0
        if adversarial:
            U_adv = rows_to_columns(_dense_float32(self._other_rows(X_adv, "X_adv")),
                                    "X_adv", features=m)
            omega = weights(omega, U_adv.shape[1]) if omega is not None else None
            model.fit_adv(U, U_adv, omega, recorder)
        else:
            model.fit_std(U, recorder)
        self._model = model
        self.components_ = model.basis().T
        self.n_components_ = self.components_.shape[0]
        self.n_iter_ = int(self.max_iter)
        # The fit's own activations are not transform's (other start, and
        # they moved with the basis): fit_transform and reconstruction_err_
        # use transform's, so that fit_transform(X) == fit(X).transform(X).
        H = model.transform(U)
        residual = U - self.components_.T @ H
        self.reconstruction_err_ = float(np.linalg.norm(residual))
        if recorder is not None:
            self.loss_curve_ = np.array([r["objective"] for r in recorder.last_stage()])
        return H

    # ---------------------------------------------------------- transform
    def _fitted_model(self):
        model = getattr(self, "_model", None)
        if model is None:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit "
                                 "first")
        return model

    def transform(self, X):
        """Activations of X (n_samples, n_components) for the fitted basis:
        float32 for float32 X, else float64.  With per_sample_init (the
        default) a row's activations depend on that row and the model only."""
        model = self._fitted_model()
        X = self._rows(X, reset=False)
        U = rows_to_columns(_dense_float32(X), "X", features=model.shape()[0])
        return model.transform(U).T.astype(_output_type(X), copy=False)

    def inverse_transform(self, H):
        """H (n_samples, n_components) back to data: H @ components_,
        float32 for float32 H, else float64."""
        self._fitted_model()
        H = self._other_rows(H, "H")
        if H.shape[1] != self.n_components_:
            raise ShapeError(f"H must be (n_samples, {self.n_components_}), not {H.shape}")
        H = H.toarray() if hasattr(H, "toarray") else H
        return H @ self.components_.astype(_output_type(H), copy=False)

    def score(self, X, y=None):
        """Minus the mean squared reconstruction error of X (higher is
        better, as scikit-learn's model selection expects)."""
        X = self._rows(X, reset=False)
        H = self.transform(X)
        dense = X.toarray() if hasattr(X, "toarray") else X
        residual = np.asarray(dense, dtype=np.float64) - self.inverse_transform(H)
        return -float(np.mean(residual ** 2))

    # -------------------------------------------------------------- files
    def save(self, path):
        """Save the fitted model as the project's .npz file."""
        self._fitted_model().save(path)

    @classmethod
    def load(cls, path):
        """A fitted MDNMF from a one-source model file (from save(), the CLI,
        NMF.save or the C library)."""
        model = Model.load(path)
        if len(model.components()) != 1:
            raise ShapeError(f"'{path}' holds a separator of {len(model.components())} "
                             "sources; load it with mdnmf.NMF_separation.load")
        fields = params_dict(model.params())
        estimator = cls(n_components=fields["d"], tau_A=fields["tau_A"],
                        tau_W=fields["tau_W"], batch_size=fields["batch_size"],
                        batch_size_adv=fields["batch_size_adv"], max_iter=fields["epochs"],
                        test_iter=fields["test_epochs"], init=fields["init"],
                        mu_W=fields["mu_W"], mu_H=fields["mu_H"],
                        normalize=fields["normalize"], update_H=fields["update_H"],
                        true_sample=fields["true_sample"], random_state=fields["seed"],
                        threads=fields["threads"], divergence=fields["divergence"],
                        per_sample_init=bool(model.params().per_sample_init))
        estimator._model = model
        estimator.components_ = model.basis().T
        estimator.n_components_ = estimator.components_.shape[0]
        estimator.n_features_in_ = estimator.components_.shape[1]
        estimator.n_iter_ = fields["epochs"]
        return estimator


__all__ = ["MDNMF"]
