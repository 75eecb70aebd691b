"""Noise adaptation at separation (mdnmf_separate_adapted, issue 13): the
separator's last basis is refitted to the mixtures themselves, the others
fixed, before the estimates are made.  Checked against an independent NumPy
replay in float64 (H from the library's transform, then `epochs` times the
W step of the noise atoms and one H step with all bases), and for the
properties the header promises: 0 epochs is mdnmf_separate bit for bit, the
fitted bases do not change, the mixtures are reconstructed better, and
bad arguments are refused."""

import os
import sys

import numpy as np
from harness import problem, raises, run_tests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "reference"))
import mdnmf_ref as ref  # noqa: E402

from mdnmf import NMF_separation  # noqa: E402
from mdnmf.errors import InvalidArgumentError  # noqa: E402

TOLERANCE = 1e-4
DS = [3, 4]
MU_H = 0.01
MU_W = 1e-3
SEED, TEST_EPOCHS = 2, 20


def fitted(divergence="fro"):
    U0, _ = problem(m=16, n=60, seed=5)
    U1, _ = problem(m=16, n=60, seed=6)
    # Mixtures whose noise is not what source 1 was fitted on: a shifted
    # version of it, so that adapting the noise basis has something to do.
    U2, _ = problem(m=16, n=40, seed=7)
    V = np.ascontiguousarray(0.5 * (U0[:, :40] + np.roll(U2, 3, axis=0)), dtype=np.float32)
    separator = NMF_separation(ds=DS, prob="std", epochs=6, test_epochs=TEST_EPOCHS, seed=SEED,
                               mu_H=MU_H, mu_W=MU_W, divergence=divergence)
    separator.fit(U=[U0, U1])
    return separator, np.asfortranarray(V)


def moving_mean(rows, k):
    """Each entry's mean over the columns j - k .. j + k inside the row."""
    n = rows.shape[1]
    out = np.empty_like(rows)
    for j in range(n):
        out[:, j] = rows[:, max(0, j - k):min(n, j + k + 1)].mean(axis=1)
    return out


def reference_adapted(separator, V, epochs, wiener, fresh, smoothing=0):
    """The header's recipe in float64: the fresh atoms and H0 are the
    library's draws (rng streams 1 and 0 of the seed), H0 then takes
    test_epochs transform steps; then the noise rows of H are smoothed."""
    fresh = fresh and epochs > 0
    W32 = separator.W.copy()
    m, n, D = V.shape[0], V.shape[1], sum(DS)
    noise = slice(DS[0], DS[0] + DS[1])
    if fresh:
        W32[:, noise] = ref.stream_uniforms(SEED, 1, m * DS[1]).reshape(DS[1], m).T
    W = W32.astype(np.float64)
    V64 = V.astype(np.float64)
    lam = np.full(D, MU_H)
    H0 = ref.stream_uniforms(SEED, 0, D * n).reshape(n, D).T
    H = ref.transform(W, V64, H0, TEST_EPOCHS, lam)
    eps_H, eps_W = ref.guards(ref.data_scale(V), ref.basis_scale(W32))
    for _ in range(epochs):
        H_N = H[noise]
        numerator = V64 @ H_N.T
        denominator = (W @ H) @ H_N.T + MU_W + eps_W
        W[:, noise] = W[:, noise] * numerator / denominator
        H = ref.h_step(H, W, V64, lam, np.ones(V.shape[1]), eps_H)
    if smoothing:
        H[noise] = moving_mean(H[noise], smoothing)
    estimates = [W[:, :DS[0]] @ H[:DS[0]], W[:, noise] @ H[noise]]
    if not wiener:
        return estimates
    peak = float(np.max(V64))
    total = sum(estimates)
    return [np.clip(V64 * e / (total + ref.EPS * peak), 0.0, peak) for e in estimates]


def relative_error(library, reference):
    """Largest relative Frobenius error over the sources; library is (m, S, N)."""
    return max(np.linalg.norm(library[:, s, :] - reference[s]) / np.linalg.norm(reference[s])
               for s in range(len(reference)))


def test_matches_the_numpy_replay():
    separator, V = fitted()
    for fresh in (False, True):
        for epochs in (1, 5, 25):
            for wiener in (False, True):
                separator.wiener = wiener
                library = separator.separate(V, adapt_epochs=epochs, adapt_fresh=fresh)
                expected = reference_adapted(separator, V, epochs, wiener, fresh)
                error = relative_error(library, expected)
                assert error < TOLERANCE, (fresh, epochs, wiener, error)
    # Negative controls: one epoch fewer, or the other start, is told apart.
    separator.wiener = False
    library = separator.separate(V, adapt_epochs=25)
    assert relative_error(library, reference_adapted(separator, V, 24, False, True)) > TOLERANCE
    assert relative_error(library, reference_adapted(separator, V, 25, False, False)) > TOLERANCE


def test_noise_smoothing_matches_the_numpy_replay():
    """mdnmf_separate_frames: the noise activations averaged over +-k
    frames (fewer at the ends), with and without adaptation."""
    separator, V = fitted()
    for epochs, fresh in ((0, True), (5, True), (5, False)):
        for smoothing in (1, 3, 100):
            for wiener in (False, True):
                separator.wiener = wiener
                library = separator.separate(V, adapt_epochs=epochs, adapt_fresh=fresh,
                                             noise_smoothing=smoothing)
                expected = reference_adapted(separator, V, epochs, wiener, fresh, smoothing)
                error = relative_error(library, expected)
                assert error < TOLERANCE, (epochs, fresh, smoothing, wiener, error)
    # Negative controls: another window, or none, is told apart.
    separator.wiener = False
    library = separator.separate(V, adapt_epochs=5, noise_smoothing=3)
    for other in (2, 4, 0):
        assert relative_error(library, reference_adapted(separator, V, 5, False, True,
                                                         other)) > TOLERANCE, other
    # smoothing 0 is the adapted separation bit for bit.
    assert np.array_equal(separator.separate(V, adapt_epochs=5, noise_smoothing=0),
                          separator.separate(V, adapt_epochs=5))
    raises(InvalidArgumentError, separator.separate, V, noise_smoothing=-1,
           contains="noise_smoothing")
    # Without adaptation smoothing works for every divergence.
    kl, V = fitted("kl")
    assert not np.array_equal(kl.separate(V, noise_smoothing=2), kl.separate(V))


def test_zero_epochs_is_plain_separation_and_the_bases_stay():
    separator, V = fitted()
    W = separator.W.copy()
    plain = separator.separate(V)
    assert np.array_equal(separator.separate(V, adapt_epochs=0), plain)
    adapted = separator.separate(V, adapt_epochs=10)
    assert not np.array_equal(adapted, plain)
    assert not np.array_equal(separator.separate(V, adapt_epochs=10, adapt_fresh=False), adapted)
    assert np.array_equal(separator.separate(V, adapt_epochs=0, adapt_fresh=False), plain)
    assert np.array_equal(separator.W, W)
    # The same call twice gives the same estimates: nothing carried over.
    assert np.array_equal(separator.separate(V, adapt_epochs=10), adapted)
    assert np.array_equal(separator.separate(V), plain)


def test_adaptation_reconstructs_the_mixtures_better():
    separator, V = fitted()
    separator.wiener = False
    # From the fitted atoms every step lowers the loss (multiplicative
    # updates), so a few already beat plain separation; from fresh atoms
    # the loss falls with the steps.
    for fresh, start in ((False, 0), (True, 1)):
        residual = [np.linalg.norm(V - separator.separate(V, adapt_epochs=e,
                                                          adapt_fresh=fresh).sum(axis=1))
                    for e in (start, 5, 50)]
        assert residual[1] < residual[0] and residual[2] < residual[1], (fresh, residual)


def test_two_threads_give_the_numpy_replay_and_the_same_bytes_every_time():
    """Enough columns (300) for the H steps to share them between two
    threads: each thread's work slice must exist (a slice count taken
    before the model's thread count is set overran them), and the result
    is the replay's and the same on every call."""
    U0, _ = problem(m=16, n=60, seed=5)
    U1, _ = problem(m=16, n=60, seed=6)
    U2, _ = problem(m=16, n=300, seed=8)
    U3, _ = problem(m=16, n=300, seed=9)
    V = np.asfortranarray(0.5 * (U2 + np.roll(U3, 3, axis=0)), dtype=np.float32)
    separator = NMF_separation(ds=DS, prob="std", epochs=6, test_epochs=TEST_EPOCHS, seed=SEED,
                               mu_H=MU_H, mu_W=MU_W, threads=2)
    separator.fit(U=[U0, U1])
    separator.wiener = False
    first = separator.separate(V, adapt_epochs=15)
    for _ in range(3):
        assert np.array_equal(separator.separate(V, adapt_epochs=15), first)
    assert relative_error(first, reference_adapted(separator, V, 15, False, True)) < TOLERANCE


def test_auto_start_is_fresh_for_mdnmf_and_the_models_atoms_for_nmf():
    """MDNMF_ADAPT_AUTO: an adversarially trained speech basis leaves the
    noise to fresh atoms; an NMF one keeps its noise atoms as the start."""
    nmf, V = fitted()
    assert np.array_equal(nmf.separate(V, adapt_epochs=7, adapt_fresh="auto"),
                          nmf.separate(V, adapt_epochs=7, adapt_fresh=False))
    U0, _ = problem(m=16, n=60, seed=5)
    U1, _ = problem(m=16, n=60, seed=6)
    mdnmf = NMF_separation(ds=DS, prob="adv", epochs=6, test_epochs=TEST_EPOCHS, seed=SEED,
                           mu_H=MU_H, mu_W=MU_W, tau_A=0.1)
    mdnmf.fit(U=[U0, U1])
    fresh = mdnmf.separate(V, adapt_epochs=7, adapt_fresh=True)
    assert not np.array_equal(fresh, mdnmf.separate(V, adapt_epochs=7, adapt_fresh=False))
    assert np.array_equal(mdnmf.separate(V, adapt_epochs=7, adapt_fresh="auto"), fresh)
    # tau_A = 0 is no adversarial training: the model's atoms.
    plain = NMF_separation(ds=DS, prob="adv", epochs=6, test_epochs=TEST_EPOCHS, seed=SEED,
                           mu_H=MU_H, mu_W=MU_W, tau_A=0.0)
    plain.fit(U=[U0, U1])
    assert np.array_equal(plain.separate(V, adapt_epochs=7, adapt_fresh="auto"),
                          plain.separate(V, adapt_epochs=7, adapt_fresh=False))
    raises(ValueError, nmf.separate, V, adapt_epochs=7, adapt_fresh="sometimes",
           contains="adapt_fresh")


def test_bad_arguments_are_refused():
    separator, V = fitted()
    raises(InvalidArgumentError, separator.separate, V, adapt_epochs=-1,
           contains="adapt_epochs")
    kl, V = fitted("kl")
    raises(InvalidArgumentError, kl.separate, V, adapt_epochs=3, contains="Frobenius")
    kl.separate(V, adapt_epochs=0)


if __name__ == "__main__":
    run_tests(globals())
