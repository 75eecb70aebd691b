"""`mdnmf search`: one CSV row per trial with the drawn values and the score,
the best row on stdout as JSON, the same seed giving the same CSV, the
refitted separator carrying the best values, and the bad specs and options
that must fail with one line and nothing written."""

import csv
import json
import math
import os

import numpy as np

from cli_harness import Workspace, expect_failure, run, run_tests

RUNTIME, USAGE = 1, 2
M, N, PAIRS = 16, 40, 12

SPEC = {
    "mode": {"distribution": "choice", "values": ["std", "adv", "sup"]},
    "tau_A": {"distribution": "log-uniform", "low": 0.01, "high": 0.5},
    "d": {"distribution": "choice", "values": [2, 4]},
    "mu_H[1]": {"distribution": "uniform", "low": 0, "high": 0.01},
    "epochs": {"distribution": "uniform", "low": 2, "high": 4},
}


def problem(ws, seed=0):
    rng = np.random.default_rng(seed)
    bases = [rng.random((3, M)) * np.where(np.arange(M) < M // 2, 3.0, 0.3)[::side]
             for side in (1, -1)]

    def draw(basis, n):
        return (rng.random((n, 3)) @ basis).astype(np.float32)

    s0, s1 = draw(bases[0], PAIRS), draw(bases[1], PAIRS)
    return ["--source", ws.save("u0.npy", draw(bases[0], N)),
            "--source", ws.save("u1.npy", draw(bases[1], N)),
            "--sup-source", ws.save("s0.npy", s0), "--sup-source", ws.save("s1.npy", s1),
            "--sup-mixed", ws.save("vs.npy", (s0 + s1).astype(np.float32))]


def spec_file(ws, spec=SPEC, name="spec.json"):
    return ws.write(name, spec if isinstance(spec, str) else json.dumps(spec))


def search(ws, data, *extra, spec=None, output="trials.csv", trials=8):
    spec = spec or spec_file(ws)
    result = run("search", "-p", spec, *data, "--folds", 3, "--trials", trials,
                 "--test-epochs", 10, "-o", ws.out(output), *extra)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, lines
    return json.loads(lines[0])


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_one_row_per_trial_within_the_distributions():
    with Workspace() as ws:
        best = search(ws, problem(ws))
        rows = read_rows(ws.out("trials.csv"))
        assert len(rows) == 8
        assert list(rows[0].keys()) == ["trial", *SPEC, "score", "error"], rows[0].keys()
        for t, row in enumerate(rows):
            assert int(row["trial"]) == t
            assert row["mode"] in ("std", "adv", "sup")
            assert 0.01 <= float(row["tau_A"]) <= 0.5
            assert row["d"] in ("2", "4")
            assert 0 <= float(row["mu_H[1]"]) < 0.01
            assert row["epochs"] in ("2", "3", "4")
            assert math.isfinite(float(row["score"])) and row["error"] == "", row
        # The best row, as JSON, with the values typed.
        top = max(rows, key=lambda row: float(row["score"]))
        assert best["trial"] == int(top["trial"])
        assert best["mode"] == top["mode"] and best["d"] == int(top["d"])
        for key in ("tau_A", "mu_H[1]", "score"):
            assert abs(best[key] - float(top[key])) <= 1e-9 * abs(best[key]), key
        assert list(best) == ["trial", *SPEC, "score"]


def test_same_seed_same_csv():
    with Workspace() as ws:
        data = problem(ws)
        first = search(ws, data, "--search-seed", 7, output="a.csv")
        again = search(ws, data, "--search-seed", 7, output="b.csv")
        other = search(ws, data, "--search-seed", 8, output="c.csv")
        with open(ws.out("a.csv")) as a, open(ws.out("b.csv")) as b, open(ws.out("c.csv")) as c:
            text_a, text_b, text_c = a.read(), b.read(), c.read()
        assert text_a == text_b and first == again
        assert text_a != text_c and other != first


def test_mse_scores_are_negative_and_median_differs_from_mean():
    with Workspace() as ws:
        data = problem(ws)
        spec = spec_file(ws, {"tau_A": {"distribution": "uniform", "low": 0.05, "high": 0.2}})
        common = ["-d", 3, "--mode", "adv", "--epochs", 3]
        search(ws, data, *common, "--metric", "mse", spec=spec, output="mse.csv", trials=3)
        search(ws, data, *common, "--aggregate", "mean", spec=spec, output="mean.csv", trials=3)
        search(ws, data, *common, spec=spec, output="median.csv", trials=3)
        mse = [float(r["score"]) for r in read_rows(ws.out("mse.csv"))]
        mean = [float(r["score"]) for r in read_rows(ws.out("mean.csv"))]
        median = [float(r["score"]) for r in read_rows(ws.out("median.csv"))]
        assert all(s < 0 for s in mse) and all(s > 0 for s in median)
        assert mean != median
        # Same draws (same seed): the same tau_A in every file.
        taus = [[r["tau_A"] for r in read_rows(ws.out(f))] for f in ("mse.csv", "mean.csv")]
        assert taus[0] == taus[1]


def test_refit_saves_the_best_separator():
    with Workspace() as ws:
        best = search(ws, problem(ws), "--refit", ws.out("best.npz"))
        with np.load(ws.out("best.npz"), allow_pickle=False) as z:
            components = list(z["components"])
            sep = json.loads(str(z["params"]))["separator"]
        assert components == [best["d"], best["d"]]
        assert sep["mode"] == best["mode"]
        assert abs(sep["tau_A"][0] - best["tau_A"]) <= 1e-12 * best["tau_A"]
        assert abs(sep["mu_H"][1] - best["mu_H[1]"]) <= 1e-12 + 1e-12 * best["mu_H[1]"]
        assert json.loads(str(np.load(ws.out("best.npz"))["params"]))["epochs"] == best["epochs"]


def test_failed_trials_have_an_error_and_no_score():
    with Workspace() as ws:
        # More atoms than samples cannot start with exemplar init.
        spec = spec_file(ws, {"d": {"distribution": "choice", "values": [2, 500]}})
        best = search(ws, problem(ws), "--mode", "std", spec=spec, trials=8)
        rows = read_rows(ws.out("trials.csv"))
        failed = [r for r in rows if r["d"] == "500"]
        assert 0 < len(failed) < 8
        for row in failed:
            assert row["score"] == "" and "500" in row["error"], row
        assert best["d"] == 2


# ---------------------------------------------------------------- bad input

def search_fails(ws, code, *mentions, spec=None, extra=()):
    data = problem(ws)
    spec = spec or spec_file(ws)
    result = run("search", "-p", spec, *data, "--trials", 2, "--folds", 3, "-o",
                 ws.out("trials.csv"), "--refit", ws.out("best.npz"), *extra)
    line = expect_failure(result, code, *mentions)
    assert ws.leftovers() == [], ws.leftovers()
    return line


def test_malformed_spec():
    with Workspace() as ws:
        spec = spec_file(ws, '{"tau_A": {"distribution": "uniform", "low": 0.1\n "high": 1}}')
        search_fails(ws, RUNTIME, "spec.json", "line 2", "','", spec=spec)


def test_spec_with_a_key_twice_or_an_unknown_field():
    with Workspace() as ws:
        spec = spec_file(ws, '{"tau_A": {"distribution": "uniform", "low": 0, "high": 1},\n'
                             ' "tau_A": {"distribution": "uniform", "low": 0, "high": 2}}')
        search_fails(ws, RUNTIME, "spec.json", "line 2", "duplicate", "tau_A", spec=spec)
        spec = spec_file(ws, {"tau_A": {"distribution": "uniform", "low": 0, "hihg": 1}})
        search_fails(ws, RUNTIME, "spec.json", "tau_A", "hihg", spec=spec)


def test_unknown_parameter():
    with Workspace() as ws:
        spec = spec_file(ws, {"tau_B": {"distribution": "uniform", "low": 0, "high": 1}})
        search_fails(ws, RUNTIME, "spec.json", "'tau_B'", "tau_A", spec=spec)


def test_log_uniform_from_zero():
    with Workspace() as ws:
        spec = spec_file(ws, {"mu_H": {"distribution": "log-uniform", "low": 0, "high": 1}})
        search_fails(ws, RUNTIME, "spec.json", "mu_H", "low > 0", spec=spec, extra=("-d", 3))


def test_unknown_distribution():
    with Workspace() as ws:
        spec = spec_file(ws, {"tau_A": {"distribution": "normal", "low": 0, "high": 1}})
        search_fails(ws, RUNTIME, "spec.json", "tau_A", "log-uniform", spec=spec)


def test_bad_choice_of_mode():
    with Workspace() as ws:
        spec = spec_file(ws, {"mode": {"distribution": "choice", "values": ["std", "nmf"]}})
        search_fails(ws, RUNTIME, "spec.json", "mode", "semi_adv", spec=spec, extra=("-d", 3))


def test_more_folds_than_pairs():
    with Workspace() as ws:
        search_fails(ws, USAGE, "--folds 13", "vs.npy", "12", extra=("--folds", 13))


def test_drawn_mode_without_its_data():
    with Workspace() as ws:
        spec = spec_file(ws, {"mode": {"distribution": "choice", "values": ["std", "semi"]}})
        search_fails(ws, USAGE, "semi", "--mixed", spec=spec, extra=("-d", 3))


def test_no_atom_count():
    with Workspace() as ws:
        spec = spec_file(ws, {"tau_A": {"distribution": "uniform", "low": 0, "high": 1}})
        search_fails(ws, USAGE, "-d", "spec.json", spec=spec)


if __name__ == "__main__":
    run_tests(globals())
