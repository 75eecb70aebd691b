"""mdnmf.random_search: the same trials and scores as `mdnmf search` with the
same spec, data and seeds, the refitted separator equal to the tool's
--refit file, and the spec's errors as the library words them."""

import csv
import json
import os

import numpy as np

from harness import Folder, raises, run_cli, run_tests

import mdnmf

M, N, PAIRS = 16, 40, 12
SPEC = {
    "mode": {"distribution": "choice", "values": ["std", "adv", "sup"]},
    "tau_A": {"distribution": "log-uniform", "low": 0.01, "high": 0.5},
    "d": {"distribution": "choice", "values": [2, 4]},
    "mu_H[1]": {"distribution": "uniform", "low": 0, "high": 0.01},
    "epochs": {"distribution": "uniform", "low": 2, "high": 4},
}


def problem(seed=0):
    """Two sources of 3 non-negative atoms each, column-wise (m, n)."""
    rng = np.random.default_rng(seed)
    bases = [rng.random((3, M)) * np.where(np.arange(M) < M // 2, 3.0, 0.3)[::side]
             for side in (1, -1)]

    def draw(basis, n):
        return np.asfortranarray((rng.random((n, 3)) @ basis).astype(np.float32).T)

    s0, s1 = draw(bases[0], PAIRS), draw(bases[1], PAIRS)
    return [draw(bases[0], N), draw(bases[1], N)], [s0, s1], np.asfortranarray(s0 + s1)


def test_trials_and_refit_equal_the_tools():
    clean, pairs, mixed = problem()
    with Folder() as folder:
        files = []
        for name, x in (("u0", clean[0]), ("u1", clean[1]), ("s0", pairs[0]),
                        ("s1", pairs[1]), ("vs", mixed)):
            np.save(folder / f"{name}.npy", np.ascontiguousarray(x.T))  # rows = samples
            files.append(folder / f"{name}.npy")
        with open(folder / "spec.json", "w") as f:
            json.dump(SPEC, f)
        run_cli("search", "-p", folder / "spec.json", "--source", files[0], "--source",
                files[1], "--sup-source", files[2], "--sup-source", files[3], "--sup-mixed",
                files[4], "--folds", 3, "--trials", 8, "--test-epochs", 10, "--search-seed",
                7, "-o", folder / "trials.csv", "--refit", folder / "best.npz", "-q")
        with open(folder / "trials.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        result = mdnmf.random_search(SPEC, pairs, mixed, sources=clean, folds=3, trials=8,
                                     test_epochs=10, search_seed=7)
        assert len(result.trials) == len(rows) == 8
        for mine, theirs in zip(result.trials, rows):
            assert str(mine["params"]["mode"]) == theirs["mode"]
            assert mine["params"]["d"] == int(theirs["d"])
            assert float(f"{mine['params']['tau_A']:.17g}") == float(theirs["tau_A"])
            assert abs(mine["score"] - float(theirs["score"])) <= 1e-9 * abs(mine["score"])
        best = max(result.trials, key=lambda t: t["score"])
        assert result.best is best
        print(f"     best trial {best['trial']}: {best['params']} score {best['score']:.4f}")
        assert isinstance(result.model, mdnmf.NMF_separation)
        result.model.save(folder / "mine.npz")
        assert np.array_equal(np.load(folder / "mine.npz")["W"], np.load(folder / "best.npz")["W"])


def test_a_callback_sees_every_trial_and_can_stop():
    clean, pairs, mixed = problem(1)
    seen = []
    result = mdnmf.random_search({"tau_A": {"distribution": "uniform", "low": 0.01,
                                            "high": 0.2}}, pairs, mixed, sources=clean,
                                 atoms=3, mode="adv", trials=3, folds=2, epochs=2,
                                 refit=False, callback=seen.append)
    assert [t["trial"] for t in seen] == [0, 1, 2] and result.model is None
    raises(mdnmf.CancelledError, mdnmf.random_search, {"tau_A": {"distribution": "uniform",
                                                                 "low": 0.01, "high": 0.2}},
           pairs, mixed, sources=clean, atoms=3, mode="adv", trials=3, folds=2, epochs=2,
           callback=lambda trial: False)


def test_bad_specs_and_data_raise_the_librarys_messages():
    clean, pairs, mixed = problem()
    raises(mdnmf.FileFormatError, mdnmf.random_search, {"tau_X": {"distribution": "uniform",
                                                                  "low": 0, "high": 1}},
           pairs, mixed, atoms=2, contains="unknown parameter 'tau_X'")
    raises(mdnmf.FileFormatError, mdnmf.random_search, {"tau_A": {"distribution": "uniform"}},
           pairs, mixed, atoms=2, contains="tau_A")
    raises(mdnmf.InvalidArgumentError, mdnmf.random_search,
           {"mu_H": {"distribution": "log-uniform", "low": 0, "high": 1}}, pairs, mixed,
           atoms=2, contains="mu_H")
    raises(mdnmf.ShapeError, mdnmf.random_search, SPEC, pairs[:1], mixed, contains="2..16")
    raises(mdnmf.ShapeError, mdnmf.random_search, SPEC, pairs, mixed[:-1], contains="features")
    raises(mdnmf.InvalidArgumentError, mdnmf.random_search, SPEC, pairs, mixed, folds=20,
           contains="folds")


if __name__ == "__main__":
    run_tests(globals())
