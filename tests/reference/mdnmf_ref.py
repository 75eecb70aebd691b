"""An independent float64 NumPy reference of SPEC §1–§3 (transform, fit_std, fit_adv).

Written from SPEC.md and docs/algorithm.md only; it never calls the C library.
Matrices follow SPEC's notation: U is m x N (one sample per column), W is m x d,
H is d x N.  Everything random comes from a `Draws` object supplied by the caller,
so a fit of the library can be replayed exactly from the draws it reports
(tests/tools/trace_fit), or a standalone fit can be run from NumPy's generator.

The choices SPEC leaves open follow docs/algorithm.md:
  - division guards scaled to the data: c = max(U) (1 if 0), w = max(W) after
    initialisation (1 if 0), ε_H = 1e-10·c·w, ε_W = 1e-10·c²/w.  c is taken from
    the true data only, as the library does: that keeps fit_adv with τ_A = 0
    identical to fit_std whatever Û is (docs/algorithm.md still says "U and Û
    together"; the difference is far below the test tolerance either way);
  - a multiplicative step is X ⊙ numerator ⊘ (denominator + guard);
  - batches wrap around their permutation (mod N);
  - atoms are normalised by ‖W_:k‖ + 1e-10 (the unscaled ε).
"""

from dataclasses import dataclass, field
import os

import numpy as np

EPS = 1e-10

INIT_EXEMPLAR = "exemplar"
INIT_RANDOM = "random"

SAMPLE_STD = "std"
SAMPLE_ADV = "adv"
SAMPLE_MIN = "min"


@dataclass
class Params:
    """The parameters of a fit, named as in mdnmf_params."""
    d: int
    epochs: int = 50
    test_epochs: int = 50
    batch_size: int = 0          # 0 = all columns
    batch_size_adv: int = 0
    init: str = INIT_EXEMPLAR
    mu_W: float = 1e-6           # γ
    mu_H: object = 1e-6          # λ: a scalar or a length-d vector
    tau_A: float = 0.1
    tau_W: float = 1.0
    normalize: bool = False
    update_H: bool = False
    true_sample: str = SAMPLE_STD


@dataclass
class Draws:
    """Everything a fit draws at random, in SPEC's orientation.

    exemplars     (d,)       column indices of U used as initial atoms
    w_random      (m, d)     Uniform(0,1) initial W (init random)
    h_random      (d, N)     Uniform(0,1) H0 of the true data
    h_random_adv  (d, N̂)     Uniform(0,1) H0 of the adversarial data
    perm_true     [epochs]   permutations of 0..N-1, one per epoch
    perm_adv      [epochs]   permutations of 0..N̂-1, one per epoch
    """
    exemplars: np.ndarray = None
    w_random: np.ndarray = None
    h_random: np.ndarray = None
    h_random_adv: np.ndarray = None
    perm_true: list = field(default_factory=list)
    perm_adv: list = field(default_factory=list)

    @staticmethod
    def generate(rng, m, n, d, epochs, n_adv=0):
        """Fresh draws from a NumPy generator, for standalone use of the reference."""
        return Draws(
            exemplars=rng.choice(n, size=d, replace=False),
            w_random=rng.random((m, d)),
            h_random=rng.random((d, n)),
            h_random_adv=rng.random((d, n_adv)) if n_adv else None,
            perm_true=[rng.permutation(n) for _ in range(epochs)],
            perm_adv=[rng.permutation(n_adv) for _ in range(epochs)] if n_adv else [])

    @staticmethod
    def load(folder, m, d, n, n_adv=0):
        """The draws trace_fit saved.  The library's matrices are column-major, so
        a flat m x d draw is the C-order array (d, m), transposed."""
        def optional(name):
            path = os.path.join(folder, name)
            return np.load(path) if os.path.exists(path) else None

        def matrix(name, rows, cols):
            flat = optional(name)
            if flat is None:
                return None
            return flat.astype(np.float64).reshape(cols, rows).T

        def perms(prefix):
            found, epoch = [], 1
            while os.path.exists(os.path.join(folder, "%s_%d.npy" % (prefix, epoch))):
                found.append(optional("%s_%d.npy" % (prefix, epoch)).astype(np.int64).ravel())
                epoch += 1
            return found

        exemplars = optional("exemplars.npy")
        return Draws(
            exemplars=None if exemplars is None else exemplars.astype(np.int64).ravel(),
            w_random=matrix("w_random_flat.npy", m, d),
            h_random=matrix("h_random_flat.npy", d, n),
            h_random_adv=matrix("h_random_adv_flat.npy", d, n_adv),
            perm_true=perms("perm_true"),
            perm_adv=perms("perm_adv"))


# ------------------------------------------------------------------ helpers

def penalty_vector(mu_H, d):
    """λ as a length-d vector (a scalar is broadcast)."""
    lam = np.asarray(mu_H, dtype=np.float64)
    return np.full(d, float(lam)) if lam.ndim == 0 else lam.reshape(d).copy()


def data_scale(*matrices):
    """c: the largest entry of the data, 1 if it is all zero."""
    c = max(float(np.max(M)) if M is not None and M.size else 0.0 for M in matrices)
    return c if c > 0 else 1.0


def basis_scale(W):
    """w: the largest entry of the initial basis, 1 if it is all zero."""
    w = float(np.max(W)) if W.size else 0.0
    return w if w > 0 else 1.0


def guards(c, w):
    """ε_H = 1e-10·c·w, ε_W = 1e-10·c²/w."""
    return EPS * c * w, EPS * c * c / w


def normalize_columns(W):
    """n_k = ‖W_:k‖, W_:k /= n_k + ε.  Returns (W, n)."""
    norms = np.sqrt(np.sum(W * W, axis=0))
    return W / (norms + EPS), norms


def batch_columns(perm, b, size):
    """Batch b of a permutation: p[(b·B + k) mod N], k = 0..B-1."""
    return perm[(b * size + np.arange(size)) % perm.size]


def clamp_batch(size, n):
    """0 means all columns; sizes beyond the data are clamped to it."""
    return n if size <= 0 or size > n else size


def batch_count(params, n, batch, n_adv=0, batch_adv=0):
    """nb: N/B for std, N̂/B̂ for adv, else the smaller of the two."""
    if n_adv == 0 or params.true_sample == SAMPLE_STD:
        return n // batch
    if params.true_sample == SAMPLE_ADV:
        return n_adv // batch_adv
    return min(n // batch, n_adv // batch_adv)


def loss(U, W, H):
    """(1/N) ‖U - WH‖_F²."""
    R = U - W @ H
    return float(np.sum(R * R)) / U.shape[1]


# ------------------------------------------------------------ update rules

def h_step(H, W, U, lam, omega, eps_H):
    # H <- H ⊙ (WᵀU) ⊘ (WᵀW H + λ ωᵀ + ε_H)
    numerator = W.T @ U
    denominator = (W.T @ W) @ H + np.outer(lam, omega) + eps_H
    return H * numerator / denominator


def w_step(W, U_b, H_b, params, eps_W, Ua_b=None, Ha_b=None):
    """One W step on a batch; fit_std passes no adversarial batch (SPEC §2)."""
    # W <- W ⊙ (τ_W U_b H_bᵀ/B + τ_A W (Ĥ_b Ĥ_bᵀ)/B̂)
    #        ⊘ (τ_W W (H_b H_bᵀ)/B + τ_A Û_b Ĥ_bᵀ/B̂ + γ + ε_W)
    # τ_W multiplies the whole true-data term, as the objective's gradient
    # (and SPEC §6's D+MDNMF step) say; SPEC §3 writes the τ_W = 1 case.
    # A batch of silent columns carries no information about W: the step is
    # skipped (docs/algorithm.md), else it would zero W for good.
    if not U_b.any():
        return W
    B = U_b.shape[1]
    tau_W = params.tau_W if Ua_b is not None else 1.0
    numerator = tau_W * (U_b @ H_b.T) / B
    denominator = tau_W * (W @ (H_b @ H_b.T)) / B + params.mu_W + eps_W
    if Ua_b is not None and params.tau_A != 0:
        Ba = Ua_b.shape[1]
        numerator = numerator + params.tau_A * (W @ (Ha_b @ Ha_b.T)) / Ba
        denominator = denominator + params.tau_A * (Ua_b @ Ha_b.T) / Ba
    return W * numerator / denominator


def transform(W, U, H0, test_epochs, lam, omega=None, eps_H=None):
    """SPEC §1: test_epochs MU steps on H from H0 (Uniform(0,1) draws).

    eps_H defaults to transform's own guard: 1e-10 · max(U) · max(W)."""
    if omega is None:
        omega = np.ones(U.shape[1])
    if eps_H is None:
        eps_H, _ = guards(data_scale(U), basis_scale(W))
    H = np.array(H0, dtype=np.float64)
    for _ in range(test_epochs):
        H = h_step(H, W, U, lam, omega, eps_H)
    return H


# ------------------------------------------------------------------- fits

def initial_basis(U, params, draws, W0):
    """Warm start | d exemplar columns of U | Uniform(0,1); then unit norm if asked."""
    if W0 is not None:
        W = np.array(W0, dtype=np.float64)
    elif params.init == INIT_EXEMPLAR:
        W = U[:, np.asarray(draws.exemplars, dtype=np.int64)].copy()
    else:
        W = np.array(draws.w_random, dtype=np.float64)
    if params.normalize:
        W, _ = normalize_columns(W)
    return W


def objective(params, loss_true, loss_adv, W):
    """MDNMF's objective τ_W loss_true - τ_A loss_adv + γ |W|_1 (NMF reports
    loss_true + γ |W|_1, i.e. τ_W = 1 and τ_A = 0)."""
    return params.tau_W * loss_true - params.tau_A * loss_adv + params.mu_W * float(np.sum(W))


def fit_std(U, params, draws, W0=None):
    """SPEC §2.  Returns (W, H, losses) with losses a list of (loss_true, objective)
    for epoch 0 (after initialisation) .. epochs."""
    U = np.asarray(U, dtype=np.float64)
    m, n = U.shape
    lam = penalty_vector(params.mu_H, params.d)
    ones = np.ones(n)
    B = clamp_batch(params.batch_size, n)
    nb = n // B

    W = initial_basis(U, params, draws, W0)
    eps_H, eps_W = guards(data_scale(U), basis_scale(W))
    if params.init == INIT_RANDOM and W0 is None:
        H = np.array(draws.h_random, dtype=np.float64)
    else:
        H = transform(W, U, draws.h_random, params.test_epochs, lam, ones, eps_H)

    def record():
        lt = loss(U, W, H)
        return (lt, lt + params.mu_W * float(np.sum(W)))

    losses = [record()]
    for epoch in range(params.epochs):
        perm = draws.perm_true[epoch]
        for b in range(nb):
            cols = batch_columns(perm, b, B)
            W = w_step(W, U[:, cols], H[:, cols], params, eps_W)
            if params.update_H:
                H[:, cols] = h_step(H[:, cols], W, U[:, cols], lam, ones[cols], eps_H)
        if not params.update_H:
            H = h_step(H, W, U, lam, ones, eps_H)
        if params.normalize:
            # n_k = ‖W_:k‖, W_:k /= (n_k + ε), H_k: *= n_k
            W, norms = normalize_columns(W)
            H = H * norms[:, None]
        losses.append(record())
    return W, H, losses


def fit_adv(U, U_adv, omega, params, draws, W0=None):
    """SPEC §3.  Returns (W, H, Ĥ, losses) with losses a list of
    (loss_true, loss_adv, objective) for epoch 0 .. epochs."""
    U = np.asarray(U, dtype=np.float64)
    Ua = np.asarray(U_adv, dtype=np.float64)
    m, n = U.shape
    n_adv = Ua.shape[1]
    omega = np.ones(n_adv) if omega is None else np.asarray(omega, dtype=np.float64).ravel()
    lam = penalty_vector(params.mu_H, params.d)
    ones = np.ones(n)
    B = clamp_batch(params.batch_size, n)
    Ba = clamp_batch(params.batch_size_adv, n_adv)
    nb = batch_count(params, n, B, n_adv, Ba)

    W = initial_basis(U, params, draws, W0)
    eps_H, eps_W = guards(data_scale(U), basis_scale(W))
    H = transform(W, U, draws.h_random, params.test_epochs, lam, ones, eps_H)
    Ha = transform(W, Ua, draws.h_random_adv, params.test_epochs, lam, omega, eps_H)

    def record():
        lt, la = loss(U, W, H), loss(Ua, W, Ha)
        return (lt, la, objective(params, lt, la, W))

    losses = [record()]
    for epoch in range(params.epochs):
        perm, perm_adv = draws.perm_true[epoch], draws.perm_adv[epoch]
        for b in range(nb):
            cols = batch_columns(perm, b, B)
            cols_adv = batch_columns(perm_adv, b, Ba)
            W = w_step(W, U[:, cols], H[:, cols], params, eps_W,
                       Ua[:, cols_adv], Ha[:, cols_adv])
            if params.update_H:
                H[:, cols] = h_step(H[:, cols], W, U[:, cols], lam, ones[cols], eps_H)
                Ha[:, cols_adv] = h_step(Ha[:, cols_adv], W, Ua[:, cols_adv], lam,
                                         omega[cols_adv], eps_H)
        if not params.update_H:
            H = h_step(H, W, U, lam, ones, eps_H)
            Ha = h_step(Ha, W, Ua, lam, omega, eps_H)
        if params.normalize:
            W, norms = normalize_columns(W)
            H = H * norms[:, None]
            Ha = Ha * norms[:, None]
        losses.append(record())
    return W, H, Ha, losses
