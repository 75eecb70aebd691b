"""MDNMF as a scikit-learn estimator: rows are samples, as in sklearn's NMF.

    MDNMF(n_components=32, tau_A=0.2).fit(X, X_adv).transform(X_new)

X is (n_samples, n_features).  A C-order float32 X is exactly the library's
column-major features x samples matrix, so it is passed without a copy.
scikit-learn is optional: without it the class still works, with its own
get_params / set_params.
"""

import inspect

import numpy as np

from ._model import (EpochRecorder, Model, make_params, params_dict, resolve_seed,
                     rows_to_columns, weights)
from .errors import NotFittedError, ShapeError

try:  # scikit-learn's base classes give clone(), repr and pipeline support
    from sklearn.base import BaseEstimator, TransformerMixin
except ImportError:  # pragma: no cover - exercised only without scikit-learn
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


def _adversarial_argument(y, X_adv):
    """The adversarial data of fit(X, y, X_adv): X_adv, or a 2-D second
    positional argument (scikit-learn's y slot, which is 1-D or None)."""
    if X_adv is not None:
        return X_adv
    if y is not None and np.ndim(y) == 2:
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
    as many at once as the machine's load leaves cores for.

    Fitted attributes: components_ (n_components, n_features), the basis
    one atom per row; n_components_, n_features_in_, n_iter_,
    reconstruction_err_ (Frobenius norm of X - fit_transform(X) @ components_),
    loss_curve_ (per-epoch losses when track_loss=True).
    """

    def __init__(self, n_components=None, *, tau_A=0.1, tau_W=1.0, batch_size=None,
                 batch_size_adv=None, max_iter=50, test_iter=50, init="exemplar", mu_W=1e-6,
                 mu_H=1e-6, normalize=False, update_H=False, true_sample="std",
                 random_state=None, threads=0, track_loss=False, divergence="fro"):
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

    def _params(self, d, seed, warm=False):
        return make_params(d=d, epochs=self.max_iter, test_epochs=self.test_iter,
                           batch_size=self.batch_size, batch_size_adv=self.batch_size_adv,
                           init=self.init, mu_W=self.mu_W, mu_H=self.mu_H, tau_A=self.tau_A,
                           tau_W=self.tau_W, normalize=self.normalize, update_H=self.update_H,
                           true_sample=self.true_sample, warm_start=warm, seed=seed,
                           threads=self.threads, divergence=self.divergence)

    # ---------------------------------------------------------------- fit
    def fit(self, X, y=None, X_adv=None, omega=None):
        """Fit the basis to X (n_samples, n_features); with adversarial data
        X_adv (n_adv, n_features) and tau_A > 0 fit MDNMF against it.

        fit(X, X_adv) works positionally: a 2-D second argument is the
        adversarial data, a 1-D one (or None) is scikit-learn's y, which an
        unsupervised estimator ignores.  In a pipeline pass it as a fit
        parameter: pipeline.fit(X, mdnmf__X_adv=X_adv).  omega: optional
        H-penalty weight of each adversarial sample."""
        self._fit(X, _adversarial_argument(y, X_adv), omega)
        return self

    def fit_transform(self, X, y=None, X_adv=None, omega=None):
        """Fit as fit(), then return the activations of X found by the fit
        (n_samples, n_components)."""
        model = self._fit(X, _adversarial_argument(y, X_adv), omega)
        return model.activations().T

    def _fit(self, X, X_adv, omega):
        U = rows_to_columns(X, "X")
        m = U.shape[0]
        d = m if self.n_components is None else self.n_components
        seed = resolve_seed(self.random_state)
        model = Model.create(self._params(d, seed))
        recorder = EpochRecorder() if self.track_loss else None
        adversarial = X_adv is not None and float(self.tau_A) > 0
        if adversarial:
            U_adv = rows_to_columns(X_adv, "X_adv", features=m)
            omega = weights(omega, U_adv.shape[1]) if omega is not None else None
            model.fit_adv(U, U_adv, omega, recorder)
        else:
            model.fit_std(U, recorder)
        self._model = model
        self.components_ = model.basis().T
        self.n_components_ = self.components_.shape[0]
        self.n_features_in_ = m
        self.n_iter_ = int(self.max_iter)
        H = model.activations()
        residual = U - self.components_.T @ H
        self.reconstruction_err_ = float(np.linalg.norm(residual))
        if recorder is not None:
            self.loss_curve_ = np.array([r["objective"] for r in recorder.last_stage()])
        return model

    # ---------------------------------------------------------- transform
    def _fitted_model(self):
        model = getattr(self, "_model", None)
        if model is None:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit "
                                 "first")
        return model

    def transform(self, X):
        """Activations of X (n_samples, n_components) for the fitted basis."""
        model = self._fitted_model()
        U = rows_to_columns(X, "X", features=model.shape()[0])
        return model.transform(U).T

    def inverse_transform(self, H):
        """H (n_samples, n_components) back to data: H @ components_."""
        self._fitted_model()
        H = np.asarray(H)
        if H.ndim != 2 or H.shape[1] != self.n_components_:
            raise ShapeError(f"H must be (n_samples, {self.n_components_}), not {H.shape}")
        return H @ self.components_

    def score(self, X, y=None):
        """Minus the mean squared reconstruction error of X (higher is
        better, as scikit-learn's model selection expects)."""
        H = self.transform(X)
        residual = np.asarray(X, dtype=np.float64) - self.inverse_transform(H)
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
                        threads=fields["threads"], divergence=fields["divergence"])
        estimator._model = model
        estimator.components_ = model.basis().T
        estimator.n_components_ = estimator.components_.shape[0]
        estimator.n_features_in_ = estimator.components_.shape[1]
        estimator.n_iter_ = fields["epochs"]
        return estimator


__all__ = ["MDNMF"]
