"""divergence="fro"|"kl"|"is" (SPEC §11) in the Python package: the same
numbers as the CLI's --divergence, kept by save/load and clone, checked
before a fit, and carried by the separators."""

import numpy as np
from harness import Folder, problem, raises, run_cli, run_tests
from sklearn.base import clone

from mdnmf import MDNMF, NMF, NMF_separation
from mdnmf.errors import InvalidArgumentError


def test_same_basis_as_the_cli():
    U, _ = problem(m=20, n=90, seed=2)
    for divergence in ("kl", "is"):
        nmf = NMF(d=4, epochs=8, batch_size=30, seed=3, divergence=divergence)
        nmf.fit_std(U)
        with Folder() as folder:
            np.save(folder / "U.npy", np.ascontiguousarray(U.T))
            run_cli("fit", "-i", folder / "U.npy", "-d", 4, "--epochs", 8, "--batch-size", 30,
                    "--seed", 3, "--divergence", divergence, "-q", "-o", folder / "m.npz")
            assert np.array_equal(nmf.W.T, np.load(folder / "m.npz")["W"]), divergence
    frobenius = NMF(d=4, epochs=8, batch_size=30, seed=3)
    frobenius.fit_std(U)
    assert not np.array_equal(frobenius.W, nmf.W)


def test_loss_curve_is_the_divergence_and_decreases():
    U, _ = problem(m=20, n=90, seed=2)
    nmf = NMF(d=4, epochs=12, seed=3, mu_W=0.0, mu_H=0.0, divergence="kl")
    losses = np.asarray(nmf.fit_std(U, conv=True), dtype=np.float64)
    assert np.all(np.diff(losses) <= 1e-6 * losses[:-1]), losses
    # The last loss is D_KL(U | W H) / N of the fit's result (to its guard).
    Y = nmf.W.astype(np.float64) @ nmf.H.astype(np.float64)
    X = U.astype(np.float64)
    expected = np.sum(np.where(X > 0, X * np.log(np.where(X > 0, X, 1) / Y), 0) - X + Y)
    assert abs(losses[-1] - expected / X.shape[1]) <= 1e-5 * losses[-1]


def test_estimator_keeps_it_through_save_load_and_clone():
    U, U_adv = problem(m=20, n=90, n_adv=50, seed=4)
    X, X_adv = np.ascontiguousarray(U.T), np.ascontiguousarray(U_adv.T)
    estimator = MDNMF(n_components=5, tau_A=0.1, max_iter=6, random_state=1, divergence="kl")
    estimator.fit(X, X_adv)
    assert clone(estimator).get_params()["divergence"] == "kl"
    with Folder() as folder:
        estimator.save(folder / "m.npz")
        loaded = MDNMF.load(folder / "m.npz")
        assert loaded.divergence == "kl"
        assert np.array_equal(loaded.transform(X), estimator.transform(X))
    frobenius = MDNMF(n_components=5, tau_A=0.1, max_iter=6, random_state=1).fit(X, X_adv)
    assert not np.array_equal(frobenius.transform(X), estimator.transform(X))


def test_bad_names_fail_before_a_fit():
    raises(InvalidArgumentError, NMF, d=3, divergence="beta", contains="divergence")
    raises(InvalidArgumentError, NMF_separation, ds=[2, 2], divergence="euclid",
           contains="divergence")


def test_separator_fits_and_separates_with_it():
    U0, _ = problem(m=16, n=60, seed=5)
    U1, _ = problem(m=16, n=60, seed=6)
    V = 0.5 * (U0[:, :30] + U1[:, :30])
    results = {}
    for divergence in ("fro", "kl"):
        separator = NMF_separation(ds=[3, 3], prob="std", epochs=5, seed=2,
                                   divergence=divergence)
        separator.fit(U=[U0, U1])
        results[divergence] = estimates = separator.separate(V)  # (m, S, N)
        assert np.allclose(estimates[:, 0] + estimates[:, 1], V, atol=1e-5 * V.max())
    assert not np.array_equal(results["fro"], results["kl"])


if __name__ == "__main__":
    run_tests(globals())
