"""An independent float64 NumPy reference of SPEC §1–§6: transform, fit_std, fit_adv,
and the separators (adversarial data, every fitting mode, Wiener separation), for
the Frobenius loss and for the β-divergences of SPEC §11 (Params.divergence "kl",
β = 1, and "is", β = 0).

Written from SPEC.md and docs/algorithm.md only; it never calls the C library.
The separator part (build_adversarial, separator_fit, separate) replays the
draws of tests/tools/trace_separator through a `Replay`; the conventions it
mirrors where SPEC is silent are listed above its code.
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

β-divergence (SPEC §11, docs/algorithm.md "β-divergence"): with Λ = WH + ε_Λ,
ε_Λ = 1e-10·c, the guards of the steps scale with their denominators:
ε_H = 1e-10·w·c^(β-1), ε_W = 1e-10·c^β/w; a step multiplies by
(numerator ⊘ (denominator + penalty + guard))^(1/(2-β)) for β < 1, else the
plain ratio; the loss is D_β(U | Λ) per column, Itakura–Saito with U + ε_Λ.
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

FROBENIUS = "fro"
BETA = {"kl": 1.0, "is": 0.0}  # the β of each β-divergence (Frobenius is β = 2)


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
    init_H_steps: int = 0        # MU steps of the initial H; 0 = test_epochs
    divergence: str = FROBENIUS  # "fro", "kl" or "is"
    per_sample_init: bool = False  # transform's initial H per column (below)


def initial_H_steps(params):
    """MU steps of a fit's initial H = transform(U): init_H_steps, 0 = test_epochs."""
    return params.init_H_steps or params.test_epochs


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


def divergence_guards(divergence, c, w):
    """(ε_H, ε_W, ε_Λ): Frobenius's guards(c, w), or SPEC §11's: the H-step
    denominator WᵀΛ^(β-1) scales as w·c^(β-1), the W step's Λ^(β-1)Hᵀ as c^β/w,
    Λ itself as c."""
    if divergence == FROBENIUS:
        eps_H, eps_W = guards(c, w)
        return eps_H, eps_W, EPS * c
    beta = BETA[divergence]
    return EPS * w * c ** (beta - 1), EPS * c ** beta / w, EPS * c


def step_factor(ratio, beta):
    """The multiplicative factor: the ratio, raised to 1/(2-β) below β = 1."""
    return ratio ** (1.0 / (2.0 - beta)) if beta < 1 else ratio


def beta_parts(W_model, H_model, U_b, H_b, beta, eps_L):
    """SPEC §11's parts of a term's W-gradient, Λ = W_model H_model + ε_Λ:
    (negative (Λ^(β-2) ⊙ U_b) H_bᵀ, positive Λ^(β-1) H_bᵀ)."""
    lam = W_model @ H_model + eps_L
    return (U_b * lam ** (beta - 2)) @ H_b.T, lam ** (beta - 1) @ H_b.T


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


def loss(U, W, H, divergence=FROBENIUS, eps_L=0.0):
    """(1/N) ‖U - WH‖_F², or (1/N) D_β(U | WH + ε_Λ) (SPEC §11):
    KL Σ x log(x/y) - x + y (0 log 0 = 0), IS Σ x'/y - log(x'/y) - 1 with
    x' = x + ε_Λ."""
    if divergence == FROBENIUS:
        R = U - W @ H
        return float(np.sum(R * R)) / U.shape[1]
    Y = W @ H + eps_L
    if divergence == "kl":
        positive = U > 0
        ratio = np.where(positive, U, 1.0) / Y
        terms = np.where(positive, U * np.log(ratio), 0.0) - U + Y
    else:
        ratio = (U + eps_L) / Y
        terms = ratio - np.log(ratio) - 1.0
    return float(np.sum(terms)) / U.shape[1]


# ------------------------------------------------------------ update rules

def h_step(H, W, U, lam, omega, eps_H, divergence=FROBENIUS, eps_L=0.0):
    if divergence == FROBENIUS:
        # H <- H ⊙ (WᵀU) ⊘ (WᵀW H + λ ωᵀ + ε_H)
        numerator = W.T @ U
        denominator = (W.T @ W) @ H + np.outer(lam, omega) + eps_H
        return H * numerator / denominator
    # SPEC §11: H <- H ⊙ [Wᵀ(Λ^(β-2) ⊙ U) ⊘ (WᵀΛ^(β-1) + λ ωᵀ + ε_H)]^(1/(2-β) if β < 1)
    beta = BETA[divergence]
    lam_model = W @ H + eps_L
    numerator = W.T @ (U * lam_model ** (beta - 2))
    denominator = W.T @ lam_model ** (beta - 1) + np.outer(lam, omega) + eps_H
    return H * step_factor(numerator / denominator, beta)


def w_step(W, U_b, H_b, params, eps_W, Ua_b=None, Ha_b=None, eps_L=0.0):
    """One W step on a batch; fit_std passes no adversarial batch (SPEC §2)."""
    if params.divergence != FROBENIUS:
        return w_step_beta(W, U_b, H_b, params, eps_W, Ua_b, Ha_b, eps_L)
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


def w_step_beta(W, U_b, H_b, params, eps_W, Ua_b, Ha_b, eps_L):
    """SPEC §11's MDNMF step (fit_std: no adversarial batch):
    W <- W ⊙ [P⁻(U_b,H_b)/B + τ_A P⁺(Û_b,Ĥ_b)/B̂] ⊘ [P⁺(U_b,H_b)/B + τ_A P⁻(Û_b,Ĥ_b)/B̂ + γ + ε_W],
    the factor raised to 1/(2-β) below β = 1; a silent batch takes no step."""
    if not U_b.any():
        return W
    beta = BETA[params.divergence]
    B = U_b.shape[1]
    tau_W = params.tau_W if Ua_b is not None else 1.0
    minus, plus = beta_parts(W, H_b, U_b, H_b, beta, eps_L)
    numerator, denominator = tau_W * minus / B, tau_W * plus / B
    if Ua_b is not None and params.tau_A != 0:
        Ba = Ua_b.shape[1]
        minus_a, plus_a = beta_parts(W, Ha_b, Ua_b, Ha_b, beta, eps_L)
        numerator = numerator + params.tau_A * plus_a / Ba
        denominator = denominator + params.tau_A * minus_a / Ba
    return W * step_factor(numerator / (denominator + params.mu_W + eps_W), beta)


def transform(W, U, H0, test_epochs, lam, omega=None, eps_H=None, divergence=FROBENIUS,
              eps_L=None):
    """SPEC §1 (§11 for a β-divergence): test_epochs MU steps on H from H0
    (Uniform(0,1) draws).

    eps_H and eps_L default to transform's own guards, from max(U) and max(W)."""
    if omega is None:
        omega = np.ones(U.shape[1])
    own_H, _, own_L = divergence_guards(divergence, data_scale(U), basis_scale(W))
    eps_H = own_H if eps_H is None else eps_H
    eps_L = own_L if eps_L is None else eps_L
    H = np.array(H0, dtype=np.float64)
    for _ in range(test_epochs):
        H = h_step(H, W, U, lam, omega, eps_H, divergence, eps_L)
    return H


# ----------------------------------------------- per-sample initial H
# mdnmf_params.per_sample_init (docs/algorithm.md, "Per-sample initial H"):
# column j's H0 is d Uniform(0,1) draws of xoshiro256** seeded, as every
# stream of the library, from (seed, stream) by splitmix64, with the stream
# number a hash of the column's float32 bits (FNV-1a, then splitmix64's
# finaliser; -0 hashed as +0); its guards come from the column's own peak.

MASK64 = (1 << 64) - 1


def _splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return state, z ^ (z >> 31)


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK64


def stream_uniforms(seed, stream, count):
    """`count` Uniform(0,1) draws (24 bits each) of the library's rng_seed(seed, stream)."""
    _, salt = _splitmix64(seed & MASK64)
    state = salt ^ ((stream * 0xD1B54A32D192ED03) & MASK64)
    s = []
    for _ in range(4):
        state, value = _splitmix64(state)
        s.append(value)
    out = np.empty(count, dtype=np.float32)
    for i in range(count):
        result = (_rotl((s[1] * 5) & MASK64, 7) * 9) & MASK64
        t = (s[1] << 17) & MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        out[i] = np.float32(result >> 40) * np.float32(1.0 / 16777216.0)
    return out


def column_hash(u):
    """The stream number of a float32 column."""
    h = 0xCBF29CE484222325
    column = np.asarray(u, dtype=np.float32)
    column = np.where(column == 0, np.float32(0), column)  # -0 as +0
    for bits in column.view(np.uint32):
        h = ((h ^ int(bits)) * 0x100000001B3) & MASK64
    h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & MASK64
    return h ^ (h >> 31)


def per_sample_initial_H(seed, U32, d):
    """H0 (d x N) of a per-sample transform of the float32 data U32 (m x N)."""
    return np.stack([stream_uniforms(seed, column_hash(U32[:, j]), d)
                     for j in range(U32.shape[1])], axis=1)


def transform_per_sample(W, U, H0, test_epochs, lam, divergence=FROBENIUS):
    """transform() of every column on its own: guards from that column's peak."""
    return np.concatenate([transform(W, U[:, [j]], H0[:, [j]], test_epochs, lam,
                                     divergence=divergence) for j in range(U.shape[1])],
                          axis=1)


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
    div = params.divergence
    eps_H, eps_W, eps_L = divergence_guards(div, data_scale(U), basis_scale(W))
    if params.init == INIT_RANDOM and W0 is None:
        H = np.array(draws.h_random, dtype=np.float64)
    else:
        H = transform(W, U, draws.h_random, initial_H_steps(params), lam, ones, eps_H, div, eps_L)

    def record():
        lt = loss(U, W, H, div, eps_L)
        return (lt, lt + params.mu_W * float(np.sum(W)))

    losses = [record()]
    for epoch in range(params.epochs):
        perm = draws.perm_true[epoch]
        for b in range(nb):
            cols = batch_columns(perm, b, B)
            W = w_step(W, U[:, cols], H[:, cols], params, eps_W, eps_L=eps_L)
            if params.update_H:
                H[:, cols] = h_step(H[:, cols], W, U[:, cols], lam, ones[cols], eps_H, div,
                                    eps_L)
        if not params.update_H:
            H = h_step(H, W, U, lam, ones, eps_H, div, eps_L)
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
    div = params.divergence
    steps = initial_H_steps(params)
    eps_H, eps_W, eps_L = divergence_guards(div, data_scale(U), basis_scale(W))
    H = transform(W, U, draws.h_random, steps, lam, ones, eps_H, div, eps_L)
    Ha = transform(W, Ua, draws.h_random_adv, steps, lam, omega, eps_H, div, eps_L)

    def record():
        lt, la = loss(U, W, H, div, eps_L), loss(Ua, W, Ha, div, eps_L)
        return (lt, la, objective(params, lt, la, W))

    losses = [record()]
    for epoch in range(params.epochs):
        perm, perm_adv = draws.perm_true[epoch], draws.perm_adv[epoch]
        for b in range(nb):
            cols = batch_columns(perm, b, B)
            cols_adv = batch_columns(perm_adv, b, Ba)
            W = w_step(W, U[:, cols], H[:, cols], params, eps_W,
                       Ua[:, cols_adv], Ha[:, cols_adv], eps_L)
            if params.update_H:
                H[:, cols] = h_step(H[:, cols], W, U[:, cols], lam, ones[cols], eps_H, div,
                                    eps_L)
                Ha[:, cols_adv] = h_step(Ha[:, cols_adv], W, Ua[:, cols_adv], lam,
                                         omega[cols_adv], eps_H, div, eps_L)
        if not params.update_H:
            H = h_step(H, W, U, lam, ones, eps_H, div, eps_L)
            Ha = h_step(Ha, W, Ua, lam, omega, eps_H, div, eps_L)
        if params.normalize:
            W, norms = normalize_columns(W)
            H = H * norms[:, None]
            Ha = Ha * norms[:, None]
        losses.append(record())
    return W, H, Ha, losses


# ============================================================ separators (SPEC §4–§6)
#
# A separator fits one basis per source and separates mixtures with all of
# them.  Its random draws are replayed from a `Replay`: the draws the library
# reported (tests/tools/trace_separator), consumed kind by kind in the order
# the stages run — per-source fits in source order, a source's warm-up fit
# before its main fit, the joint draws (sup, full, semi) from their own queue.
# Each kind has its own queue, so only the order *within* a kind matters.
#
# Conventions of the library that SPEC leaves open (src/separator.c):
#   - per-source λ everywhere (SPEC's "Where the reference implementation
#     differs"): the joint transforms, DNMF, the semi noise basis, separation;
#   - joint fits (sup, full, semi) guard their divisions with ε scaled by
#     max(V) and max(W) (all bases) at the time of the joint transform;
#   - sup: without a warm start the bases start as a 0-epoch fit_std of each
#     source's paired clean data (exemplars of U^sup_s, or uniform);
#     warm_start_epochs > 0 runs fit_std epochs on U^sup_s;
#   - full: warm-up epochs run on the weak data U_s; each epoch does the H^sup
#     step, then draws one permutation of the pairs (shared by all sources),
#     then runs every source's epoch; supervised batch b is
#     perm[(b·B_s + k) mod n_sup]; the batch count follows true_sample between
#     the source's true and adversarial data; normalisation rescales the
#     source's rows of H^sup too;
#   - semi: the last basis starts Uniform(0,1) from the joint stream (unit
#     norm if normalize; a warm start is copied as is); its W step is
#     W_S ⊙ (V_b H_{S,b}ᵀ/B) ⊘ (W G + γ + ε_W) with G = H_b H_{S,b}ᵀ/B; only
#     the last basis is normalised after each epoch;
#   - a batch whose clean (or mixed, for semi) columns are all zero skips its
#     W step, as in fit_std;
#   - separation's Wiener guard is ε·max(V) (ε if V is all zero).

TRACE_EXEMPLARS = 0
TRACE_W_RANDOM = 1
TRACE_H_RANDOM = 2
TRACE_H_RANDOM_ADV = 3
TRACE_PERM_TRUE = 4
TRACE_PERM_ADV = 5
TRACE_JOINT_W_RANDOM = 6
TRACE_JOINT_H_RANDOM = 7
TRACE_JOINT_PERM = 8
TRACE_KINDS = 9

MODES = ("std", "adv", "exem", "sup", "full", "semi", "semi_adv")


class Replay:
    """Recorded draws, one queue per trace kind, consumed in order."""

    def __init__(self, draws_by_kind=None):
        self.queues = {kind: list(draws_by_kind.get(kind, [])) if draws_by_kind else []
                       for kind in range(TRACE_KINDS)}
        self.taken = {kind: 0 for kind in range(TRACE_KINDS)}

    @staticmethod
    def load(folder, phase=None):
        """The draws trace_separator saved (trace.csv lists them in order:
        phase, kind, epoch, count, k); only those of `phase` if given."""
        draws = {kind: [] for kind in range(TRACE_KINDS)}
        path = os.path.join(folder, "trace.csv")
        with open(path) as log:
            for line in log:
                fields = line.strip().split(",")
                if len(fields) != 5 or (phase is not None and fields[0] != phase):
                    continue
                kind, count, k = int(fields[1]), int(fields[3]), int(fields[4])
                value = np.load(os.path.join(folder, "trace_%d_%d.npy" % (kind, k))).ravel()
                if value.size != count:
                    raise ValueError("trace_%d_%d.npy has %d values, the log says %d"
                                     % (kind, k, value.size, count))
                draws[kind].append(value)
        return Replay(draws)

    def take(self, kind):
        queue = self.queues[kind]
        if self.taken[kind] >= len(queue):
            raise IndexError("the replay needs draw %d of kind %d but only %d were recorded"
                             % (self.taken[kind] + 1, kind, len(queue)))
        value = queue[self.taken[kind]]
        self.taken[kind] += 1
        return value

    def indices(self, kind):
        return np.asarray(self.take(kind), dtype=np.int64)

    def matrix(self, kind, rows, cols):
        """A flat column-major rows x cols draw as a float64 (rows, cols) array."""
        flat = np.asarray(self.take(kind), dtype=np.float64)
        if flat.size != rows * cols:
            raise ValueError("draw of kind %d has %d values, expected %d x %d"
                             % (kind, flat.size, rows, cols))
        return flat.reshape(cols, rows).T

    def unused(self):
        """{kind: number of recorded draws the replay did not consume}."""
        return {kind: len(q) - self.taken[kind] for kind, q in self.queues.items()
                if len(q) > self.taken[kind]}


@dataclass
class SeparatorParams:
    """mdnmf_separator_params: common fields plus per-source lists."""
    mode: str
    d: list
    mu_H: list = None            # per source (default 1e-6 each)
    tau_A: list = None           # per source (default 0.1 each)
    beta: list = None            # per source (default 1 each)
    epochs: int = 50
    test_epochs: int = 50
    batch_size: int = 0          # true data; also the mixtures of semi modes
    batch_size_adv: int = 0
    batch_size_sup: int = 0
    init: str = INIT_EXEMPLAR
    mu_W: float = 1e-6
    tau_W: float = 1.0
    tau_S: float = 1.0
    normalize: bool = False
    update_H: bool = False
    true_sample: str = SAMPLE_STD
    warm_start_epochs: int = 0
    noise_steps: int = 1         # semi modes: W steps of the last basis per batch
    wiener_exponent: float = 1.0 # p of the Wiener mask (SPEC §11)
    divergence: str = FROBENIUS

    @property
    def sources(self):
        return len(self.d)

    def per_source(self, name, s):
        defaults = {"mu_H": 1e-6, "tau_A": 0.1, "beta": 1.0}
        values = getattr(self, name)
        return defaults[name] if values is None else float(values[s])

    def source(self, s, epochs):
        """The one-source Params of source s's fits."""
        return Params(d=int(self.d[s]), epochs=epochs, test_epochs=self.test_epochs,
                      batch_size=self.batch_size, batch_size_adv=self.batch_size_adv,
                      init=self.init, mu_W=self.mu_W, mu_H=self.per_source("mu_H", s),
                      tau_A=self.per_source("tau_A", s), tau_W=self.tau_W,
                      normalize=self.normalize, update_H=self.update_H,
                      true_sample=self.true_sample, divergence=self.divergence)

    def penalties(self):
        """The concatenated per-atom λ = [λ_1 … λ_S]."""
        return np.concatenate([np.full(int(self.d[s]), self.per_source("mu_H", s))
                               for s in range(self.sources)])


@dataclass
class SeparationData:
    """SPEC §6's data: clean U_s (None where absent), mixtures V, pairs."""
    U: list
    V: np.ndarray = None
    U_sup: list = None
    V_sup: np.ndarray = None


def _f64(X):
    return None if X is None else np.asarray(X, dtype=np.float64)


# ------------------------------------------------------------------ §4

def build_adversarial(U, V, i, beta=1.0):
    """SPEC §4: Û_i = [√(N_j/N̂_i) U_j for j ≠ i, √(N_V/N̂_i) β_i V] and
    ω_i = [N_j/N̂_i per column of U_j, N_V β_i/N̂_i per mixed column].
    U is the list of clean data (None or empty for a source without any).
    Returns (Û_i, ω_i), or (None, None) when there is nothing to build from."""
    blocks = [(_f64(U[j]), 1.0) for j in range(len(U))
              if j != i and U[j] is not None and np.asarray(U[j]).shape[1] > 0]
    if V is not None and np.asarray(V).shape[1] > 0:
        blocks.append((_f64(V), float(beta)))
    total = sum(block.shape[1] for block, _ in blocks)
    if total == 0:
        return None, None
    columns, weights = [], []
    for block, weight in blocks:
        share = block.shape[1] / total
        columns.append(np.sqrt(share) * weight * block)
        weights.append(np.full(block.shape[1], share * weight))
    return np.hstack(columns), np.concatenate(weights)


# ------------------------------------------------------------------ stages

def stage_draws(replay, m, d, n, epochs, init, W0, n_adv=0):
    """The draws of one fit_std / fit_adv stage: initial W (unless warm),
    H0 of the true (and adversarial) data, one permutation per epoch."""
    draws = Draws()
    if W0 is None:
        if init == INIT_EXEMPLAR:
            draws.exemplars = replay.indices(TRACE_EXEMPLARS)
        else:
            draws.w_random = replay.matrix(TRACE_W_RANDOM, m, d)
    draws.h_random = replay.matrix(TRACE_H_RANDOM, d, n)
    if n_adv:
        draws.h_random_adv = replay.matrix(TRACE_H_RANDOM_ADV, d, n_adv)
    draws.perm_true = [replay.indices(TRACE_PERM_TRUE) for _ in range(epochs)]
    if n_adv:
        draws.perm_adv = [replay.indices(TRACE_PERM_ADV) for _ in range(epochs)]
    return draws


class SeparatorError(ValueError):
    """The separator cannot fit this data (the library returns an error)."""


class _Separation:
    """The bases being fitted: W = [W_1 … W_S] as a list of m x d_s blocks."""

    def __init__(self, data, params, replay, W_warm):
        self.p = params
        self.replay = replay
        self.S = params.sources
        self.U = [_f64(u) for u in data.U] + [None] * (self.S - len(data.U))
        self.V = _f64(data.V)
        self.U_sup = [_f64(u) for u in (data.U_sup or [])]
        self.V_sup = _f64(data.V_sup)
        shapes = [x.shape[0] for x in [self.V, self.V_sup] + self.U + self.U_sup
                  if x is not None]
        self.m = shapes[0]
        self.offsets = np.concatenate([[0], np.cumsum(params.d)]).astype(int)
        self.lam = params.penalties()
        self.warm = None
        if W_warm is not None:
            W_warm = _f64(W_warm)
            self.warm = [W_warm[:, self.offsets[s]:self.offsets[s + 1]].copy()
                         for s in range(self.S)]
        self.W = [np.zeros((self.m, int(d))) for d in params.d]

    def has_clean_data(self, s):
        if self.p.mode == "sup":
            return False
        if self.p.mode in ("semi", "semi_adv"):
            return s < self.S - 1
        return True

    def warm_basis(self, s):
        return None if self.warm is None else self.warm[s]

    def concatenated(self):
        return np.hstack(self.W)

    def rows(self, s):
        return slice(self.offsets[s], self.offsets[s + 1])

    def check_exemplars(self, s, n, start):
        if start is None and self.p.init == INIT_EXEMPLAR and self.p.d[s] > n:
            raise SeparatorError("source %d: d = %d atoms but only %d samples"
                                 % (s, self.p.d[s], n))

    # ---------------------------------------------------- per-source fits

    def fit_std_stage(self, s, U, epochs, start):
        params = self.p.source(s, epochs)
        draws = stage_draws(self.replay, self.m, params.d, U.shape[1], epochs,
                            params.init, start)
        W, _, _ = fit_std(U, params, draws, start)
        return W

    def fit_source(self, s, U, U_adv=None, omega=None, warm_up=False):
        """warm_start_epochs of fit_std first when `warm_up`, then fit_adv
        (with adversarial data) or fit_std for `epochs`."""
        start = self.warm_basis(s)
        if warm_up and self.p.warm_start_epochs > 0:
            self.check_exemplars(s, U.shape[1], start)
            start = self.fit_std_stage(s, U, self.p.warm_start_epochs, start)
        self.check_exemplars(s, U.shape[1], start)
        if U_adv is None:
            return self.fit_std_stage(s, U, self.p.epochs, start)
        params = self.p.source(s, self.p.epochs)
        draws = stage_draws(self.replay, self.m, params.d, U.shape[1], params.epochs,
                            params.init, start, U_adv.shape[1])
        W, _, _, _ = fit_adv(U, U_adv, omega, params, draws, start)
        return W

    def adversarial_data(self, i):
        clean = [self.U[j] if self.has_clean_data(j) else None for j in range(self.S)]
        return build_adversarial(clean, self.V, i, self.p.per_source("beta", i))

    def fit_independent_sources(self, adversarial):
        """std: fit_std per source.  adv: MDNMF per source against SPEC §4's
        data after the warm-up epochs (SPEC §6); a source with τ_A = 0 is
        standard NMF (SPEC §3) but still gets its warm-up epochs."""
        for s in range(self.S):
            if not self.has_clean_data(s):
                continue
            if adversarial and self.p.per_source("tau_A", s) > 0:
                U_adv, omega = self.adversarial_data(s)
                if U_adv is None:
                    raise SeparatorError("source %d has no adversarial data" % s)
                self.W[s] = self.fit_source(s, self.U[s], U_adv, omega, warm_up=True)
            else:
                self.W[s] = self.fit_source(s, self.U[s], warm_up=adversarial)

    def exemplar_sources(self):
        """ENMF: d_s distinct random columns of U_s, unit norm if asked."""
        for s in range(self.S):
            U = self.U[s]
            if self.p.d[s] > U.shape[1]:
                raise SeparatorError("source %d: d > samples" % s)
            W = U[:, self.replay.indices(TRACE_EXEMPLARS)].copy()
            if self.p.normalize:
                W, _ = normalize_columns(W)
            self.W[s] = W

    # ----------------------------------------------------------- joint fits

    def joint_transform(self, V):
        """H = transform(V) with all bases from the joint stream's H0;
        returns (H, ε_H, ε_W) with the guards of max(V) and max(W) (ε_Λ,
        from max(V) too, is kept in self.eps_L)."""
        W = self.concatenated()
        div = self.p.divergence
        eps_H, eps_W, self.eps_L = divergence_guards(div, data_scale(V), basis_scale(W))
        H0 = self.replay.matrix(TRACE_JOINT_H_RANDOM, W.shape[1], V.shape[1])
        H = transform(W, V, H0, self.p.test_epochs, self.lam, np.ones(V.shape[1]), eps_H, div,
                      self.eps_L)
        return H, eps_H, eps_W

    def joint_h_step(self, H, V, eps_H):
        return h_step(H, self.concatenated(), V, self.lam, np.ones(V.shape[1]), eps_H,
                      self.p.divergence, self.eps_L)

    def joint_w_step(self, s, W_model, H_model, U_b, H_s, eps_W):
        """W_s's step on one batch of data U_b modelled by W_model H_model
        (SPEC §6 sup and semi; §11 for a β-divergence), H_s its own rows."""
        B = U_b.shape[1]
        if self.p.divergence == FROBENIUS:
            numerator = U_b @ H_s.T / B
            denominator = W_model @ (H_model @ H_s.T / B) + self.p.mu_W + eps_W
            return self.W[s] * numerator / denominator
        beta = BETA[self.p.divergence]
        minus, plus = beta_parts(W_model, H_model, U_b, H_s, beta, self.eps_L)
        return self.W[s] * step_factor((minus / B) / (plus / B + self.p.mu_W + eps_W), beta)

    def normalize_sources(self, H, sources):
        """Unit-norm atoms of the given sources, their rows of H rescaled."""
        for s in sources:
            self.W[s], norms = normalize_columns(self.W[s])
            H[self.rows(s)] *= norms[:, None]

    def initial_bases(self, U, n):
        """sup/full: the model's bases (warm start without warm-up epochs), or
        warm_start_epochs of fit_std (0 epochs: just the initial basis)."""
        for s in range(self.S):
            warm = self.warm_basis(s)
            if warm is not None and self.p.warm_start_epochs == 0:
                self.W[s] = warm.copy()
                continue
            self.check_exemplars(s, n[s], warm)
            self.W[s] = self.fit_std_stage(s, U[s], self.p.warm_start_epochs, warm)

    def fit_dnmf(self):
        """SPEC §6 sup: H^sup = transform(V^sup); per batch and source
        W_s <- W_s ⊙ (U^sup_{s,b} H_{s,b}ᵀ/B) ⊘ (W_s H_{s,b} H_{s,b}ᵀ/B + γ)."""
        V = self.V_sup
        n = V.shape[1]
        self.initial_bases(self.U_sup, [n] * self.S)
        B = clamp_batch(self.p.batch_size_sup, n)
        H, eps_H, eps_W = self.joint_transform(V)
        for _ in range(self.p.epochs):
            perm = self.replay.indices(TRACE_JOINT_PERM)
            for b in range(n // B):
                cols = batch_columns(perm, b, B)
                for s in range(self.S):
                    U_b = self.U_sup[s][:, cols]
                    if not U_b.any():
                        continue
                    H_s = H[self.rows(s)][:, cols]
                    self.W[s] = self.joint_w_step(s, self.W[s], H_s, U_b, H_s, eps_W)
                if self.p.update_H:
                    H[:, cols] = self.joint_h_step(H[:, cols], V[:, cols], eps_H)
            if not self.p.update_H:
                H = self.joint_h_step(H, V, eps_H)
            if self.p.normalize:
                self.normalize_sources(H, range(self.S))

    def fit_full(self):
        """SPEC §6 full (D+MDNMF), see _FullSource for one source's epoch."""
        if self.p.warm_start_epochs > 0 or self.warm is not None:
            self.initial_bases(self.U, [u.shape[1] for u in self.U])
            starts = list(self.W)
        else:
            starts = [None] * self.S
        V = self.V_sup
        fits = []
        for s in range(self.S):
            U_adv, omega = self.adversarial_data(s)
            self.check_exemplars(s, self.U[s].shape[1], starts[s])
            fits.append(_FullSource(self, s, U_adv, omega, starts[s]))
            self.W[s] = fits[s].W
        H_sup, eps_H, _ = self.joint_transform(V)
        B_sup = clamp_batch(self.p.batch_size_sup, V.shape[1])
        for epoch in range(self.p.epochs):
            H_sup = self.joint_h_step(H_sup, V, eps_H)
            perm_sup = self.replay.indices(TRACE_JOINT_PERM)
            for s in range(self.S):
                fits[s].epoch(H_sup, perm_sup, B_sup)
                self.W[s] = fits[s].W

    def fit_semi(self, adversarial):
        """SPEC §6 semi / semi_adv: clean sources first, then the last basis
        from the mixtures with the others fixed."""
        self.fit_independent_sources(adversarial)
        V = self.V
        n = V.shape[1]
        last = self.S - 1
        if self.warm_basis(last) is not None:
            self.W[last] = self.warm_basis(last).copy()
        else:
            self.W[last] = self.replay.matrix(TRACE_JOINT_W_RANDOM, self.m, self.p.d[last])
            if self.p.normalize:
                self.W[last], _ = normalize_columns(self.W[last])
        B = clamp_batch(self.p.batch_size, n)
        H, eps_H, eps_W = self.joint_transform(V)
        rows = self.rows(last)
        for _ in range(self.p.epochs):
            perm = self.replay.indices(TRACE_JOINT_PERM)
            for b in range(n // B):
                cols = batch_columns(perm, b, B)
                V_b, H_b = V[:, cols], H[:, cols]
                # W_S <- W_S ⊙ (V_b H_{S,b}ᵀ/B) ⊘ (W H_b H_{S,b}ᵀ/B + γ), noise_steps
                # times with the same H (the reference implementation: S times)
                for _ in range(self.p.noise_steps if V_b.any() else 0):
                    self.W[last] = self.joint_w_step(last, self.concatenated(), H_b, V_b,
                                                     H_b[rows], eps_W)
                if self.p.update_H:
                    H[:, cols] = self.joint_h_step(H[:, cols], V_b, eps_H)
            if not self.p.update_H:
                H = self.joint_h_step(H, V, eps_H)
            if self.p.normalize:
                self.normalize_sources(H, [last])


class _FullSource:
    """One source of D+MDNMF: its true data, adversarial data and its rows of
    the shared H^sup.  Per batch (SPEC §6 full):
        top = τ_W U_b H_bᵀ/B   + τ_A W_s Ĥ_b Ĥ_bᵀ/B̂ + τ_S U^sup_b H^sup_bᵀ/B_s
        bot = τ_W W_s H_b H_bᵀ/B + τ_A Û_b Ĥ_bᵀ/B̂   + τ_S W_s H^sup_b H^sup_bᵀ/B_s
        W_s <- W_s ⊙ top ⊘ (bot + γ)"""

    def __init__(self, sep, s, U_adv, omega, start):
        self.sep, self.s = sep, s
        self.params = params = sep.p.source(s, sep.p.epochs)
        self.U = U = sep.U[s]
        self.U_sup = sep.U_sup[s]
        self.U_adv = U_adv
        n = U.shape[1]
        self.n_adv = U_adv.shape[1] if U_adv is not None else 0
        self.omega = omega if U_adv is not None else None
        self.lam = penalty_vector(params.mu_H, params.d)
        # The sources' epochs interleave, so their permutations are taken
        # epoch by epoch (in `epoch`), not all at once.
        self.draws = stage_draws(sep.replay, sep.m, params.d, n, 0, params.init, start,
                                 self.n_adv)
        self.W = initial_basis(U, params, self.draws, start)
        self.div = div = params.divergence
        self.eps_H, self.eps_W, self.eps_L = divergence_guards(div, data_scale(U),
                                                               basis_scale(self.W))
        ones = np.ones(n)
        if self.n_adv or params.init == INIT_EXEMPLAR or start is not None:
            self.H = transform(self.W, U, self.draws.h_random, params.test_epochs, self.lam,
                               ones, self.eps_H, div, self.eps_L)
        else:
            self.H = np.array(self.draws.h_random)
        if self.n_adv:
            self.H_adv = transform(self.W, U_adv, self.draws.h_random_adv, params.test_epochs,
                                   self.lam, self.omega, self.eps_H, div, self.eps_L)

    def h_step(self, H, U, omega):
        return h_step(H, self.W, U, self.lam, omega, self.eps_H, self.div, self.eps_L)

    def w_step_beta(self, cols, cols_adv, H_sup, cols_sup):
        """The same three terms with SPEC §11's parts (attracting: P⁻ up, P⁺
        down; the adversarial term the other way round)."""
        p, W, beta = self.params, self.W, BETA[self.div]
        U_b, H_b = self.U[:, cols], self.H[:, cols]
        minus, plus = beta_parts(W, H_b, U_b, H_b, beta, self.eps_L)
        B = U_b.shape[1]
        top, bot = p.tau_W * minus / B, p.tau_W * plus / B
        if self.n_adv and p.tau_A > 0:
            Ua_b, Ha_b = self.U_adv[:, cols_adv], self.H_adv[:, cols_adv]
            minus, plus = beta_parts(W, Ha_b, Ua_b, Ha_b, beta, self.eps_L)
            top = top + p.tau_A * plus / Ua_b.shape[1]
            bot = bot + p.tau_A * minus / Ua_b.shape[1]
        tau_S = self.sep.p.tau_S
        if tau_S > 0:
            Us_b, Hs_b = self.U_sup[:, cols_sup], H_sup[self.sep.rows(self.s)][:, cols_sup]
            minus, plus = beta_parts(W, Hs_b, Us_b, Hs_b, beta, self.eps_L)
            top = top + tau_S * minus / Us_b.shape[1]
            bot = bot + tau_S * plus / Us_b.shape[1]
        self.W = W * step_factor(top / (bot + p.mu_W + self.eps_W), beta)

    def w_step(self, cols, cols_adv, H_sup, cols_sup):
        if self.div != FROBENIUS:
            return self.w_step_beta(cols, cols_adv, H_sup, cols_sup)
        p, W = self.params, self.W
        U_b, H_b = self.U[:, cols], self.H[:, cols]
        B = U_b.shape[1]
        top = p.tau_W * (U_b @ H_b.T) / B
        bot = p.tau_W * (W @ (H_b @ H_b.T)) / B
        if self.n_adv and p.tau_A > 0:
            Ua_b, Ha_b = self.U_adv[:, cols_adv], self.H_adv[:, cols_adv]
            Ba = Ua_b.shape[1]
            top = top + p.tau_A * (W @ (Ha_b @ Ha_b.T)) / Ba
            bot = bot + p.tau_A * (Ua_b @ Ha_b.T) / Ba
        tau_S = self.sep.p.tau_S
        if tau_S > 0:
            Us_b, Hs_b = self.U_sup[:, cols_sup], H_sup[self.sep.rows(self.s)][:, cols_sup]
            Bs = Us_b.shape[1]
            top = top + tau_S * (Us_b @ Hs_b.T) / Bs
            bot = bot + tau_S * (W @ (Hs_b @ Hs_b.T)) / Bs
        self.W = W * top / (bot + p.mu_W + self.eps_W)

    def epoch(self, H_sup, perm_sup, B_sup):
        p, replay = self.params, self.sep.replay
        n = self.U.shape[1]
        B = clamp_batch(p.batch_size, n)
        perm = replay.indices(TRACE_PERM_TRUE)
        Ba = clamp_batch(p.batch_size_adv, self.n_adv) if self.n_adv else 0
        perm_adv = replay.indices(TRACE_PERM_ADV) if self.n_adv else None
        ones = np.ones(n)
        for b in range(batch_count(p, n, B, self.n_adv, Ba)):
            cols = batch_columns(perm, b, B)
            cols_adv = batch_columns(perm_adv, b, Ba) if self.n_adv else None
            if self.U[:, cols].any():
                self.w_step(cols, cols_adv, H_sup, batch_columns(perm_sup, b, B_sup))
            if p.update_H:
                self.H[:, cols] = self.h_step(self.H[:, cols], self.U[:, cols], ones[cols])
                if self.n_adv:
                    self.H_adv[:, cols_adv] = self.h_step(self.H_adv[:, cols_adv],
                                                          self.U_adv[:, cols_adv],
                                                          self.omega[cols_adv])
        if not p.update_H:
            self.H = self.h_step(self.H, self.U, ones)
            if self.n_adv:
                self.H_adv = self.h_step(self.H_adv, self.U_adv, self.omega)
        if p.normalize:
            self.W, norms = normalize_columns(self.W)
            self.H *= norms[:, None]
            if self.n_adv:
                self.H_adv *= norms[:, None]
            H_sup[self.sep.rows(self.s)] *= norms[:, None]


def separator_fit(data, params, replay, W_warm=None):
    """SPEC §6: every source's basis per params.mode, replaying `replay`.
    W_warm (m x D) is a warm start (the model's bases).  Returns the
    concatenated W = [W_1 … W_S] (m x D)."""
    if params.mode not in MODES:
        raise SeparatorError("unknown mode %r" % params.mode)
    sep = _Separation(data, params, replay, W_warm)
    mode = params.mode
    if mode in ("std", "adv"):
        sep.fit_independent_sources(mode == "adv")
    elif mode == "exem":
        sep.exemplar_sources()
    elif mode == "sup":
        sep.fit_dnmf()
    elif mode == "full":
        sep.fit_full()
    else:
        sep.fit_semi(mode == "semi_adv")
    return sep.concatenated()


# ------------------------------------------------------------------ §5

def separate(W, components, lam, V, H0, test_epochs, wiener=True, exponent=1.0,
             divergence=FROBENIUS):
    """SPEC §5: H = transform(V) with all bases (H0 its Uniform(0,1) start;
    of the model's divergence), Ũ_s = W_s H_s, and with Wiener filtering
    (SPEC §11's exponent p)
    U_s = clip(V ⊙ Ũ_s^p ⊘ (Σ_t Ũ_t^p + ε·(max V)^p), 0, max V).  Returns [U_s]."""
    W, V = _f64(W), _f64(V)
    lam = penalty_vector(lam, W.shape[1])
    H = transform(W, V, H0, test_epochs, lam, divergence=divergence)
    offsets = np.concatenate([[0], np.cumsum(components)]).astype(int)
    estimates = [W[:, offsets[s]:offsets[s + 1]] @ H[offsets[s]:offsets[s + 1]]
                 for s in range(len(components))]
    if not wiener:
        return estimates
    peak = float(np.max(V)) if V.size else 0.0
    guard = EPS * (peak if peak > 0 else 1.0) ** exponent
    estimates = [e ** exponent for e in estimates]
    total = sum(estimates)
    return [np.clip(V * e / (total + guard), 0.0, peak) for e in estimates]
