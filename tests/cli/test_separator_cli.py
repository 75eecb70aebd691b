"""`mdnmf separator fit` in every mode and `mdnmf separator apply`, on small
synthetic sources made here (two random non-negative bases), checked against
NumPy: the saved model's format, the per-source options, the Wiener estimates
adding up to the mixtures, W_s H_s without Wiener filtering; and the bad
input that must fail with one line, a non-zero exit and nothing written."""

import json
import os

import numpy as np

from cli_harness import Workspace, expect_failure, run, run_tests

RUNTIME, USAGE = 1, 2
M, N, PAIRS = 20, 60, 30


def sources_and_mixtures(ws, seed=0):
    """Two sources of M features from different bases (each strong on its own
    half of the features), their mixtures, and paired clean sources with
    their mixtures.  Returns the paths by name."""
    rng = np.random.default_rng(seed)
    bases = [rng.random((4, M)) * np.where(np.arange(M) < M // 2, 3.0, 0.3)[::side]
             for side in (1, -1)]

    def draw(basis, n, weight=1.0):
        return (weight * rng.random((n, 4)) @ basis).astype(np.float32)

    u0, u1 = draw(bases[0], N), draw(bases[1], N)
    v = (draw(bases[0], N, 0.5) + draw(bases[1], N, 0.5)).astype(np.float32)
    s0, s1 = draw(bases[0], PAIRS, 0.5), draw(bases[1], PAIRS, 0.5)
    return {"u0": ws.save("u0.npy", u0), "u1": ws.save("u1.npy", u1),
            "v": ws.save("v.npy", v), "s0": ws.save("s0.npy", s0),
            "s1": ws.save("s1.npy", s1), "vs": ws.save("vs.npy", (s0 + s1).astype(np.float32))}


def data_args(files, mode):
    """The data options each mode takes (SPEC §6)."""
    weak = ["--source", files["u0"], "--source", files["u1"]]
    pairs = ["--sup-source", files["s0"], "--sup-source", files["s1"],
             "--sup-mixed", files["vs"]]
    return {
        "std": weak,
        "adv": weak + ["--mixed", files["v"]],
        "exem": weak,
        "sup": pairs,
        "full": weak + ["--mixed", files["v"]] + pairs,
        "semi": ["--source", files["u0"], "--mixed", files["v"]],
        "semi_adv": ["--source", files["u0"], "--mixed", files["v"]],
    }[mode]


def fit(ws, files, mode, *extra, output="sep.npz", d="4"):
    path = ws.out(output)
    result = run("separator", "fit", "--mode", mode, *data_args(files, mode), "-d", d,
                 "--epochs", 3, "--test-epochs", 20, "-o", path, *extra)
    assert result.returncode == 0, (mode, result.stderr)
    assert result.stdout == "" and result.stderr == "", (result.stdout, result.stderr)
    return path


def load_model(path):
    with np.load(path, allow_pickle=False) as z:
        return {name: z[name] for name in z.files}


def separator_json(model):
    params = json.loads(str(model["params"]))
    assert "separator" in params, params
    return params["separator"]


# ---------------------------------------------------------------- fitting

def test_every_mode_fits_and_saves_a_separator():
    with Workspace() as ws:
        files = sources_and_mixtures(ws)
        for mode in ("std", "adv", "exem", "sup", "full", "semi", "semi_adv"):
            model = load_model(fit(ws, files, mode, "--warm-start-epochs", 1,
                                   output=f"{mode}.npz", d="4,3"))
            assert list(model["components"]) == [4, 3], (mode, model["components"])
            assert model["W"].shape == (7, M) and model["W"].dtype == np.float32, mode
            assert np.all(np.isfinite(model["W"])) and model["W"].min() >= 0, mode
            assert model["W"].max() > 0, mode
            sep = separator_json(model)
            assert sep["mode"] == mode and sep["sources"] == 2, sep
            assert sep["d"] == [4, 3] and sep["warm_start_epochs"] == 1, sep


def test_exemplar_atoms_are_training_samples():
    """exem: no training, every atom is a row of its source's data."""
    with Workspace() as ws:
        files = sources_and_mixtures(ws)
        W = load_model(fit(ws, files, "exem", d="5"))["W"]
        for rows, block in ((np.load(files["u0"]), W[:5]), (np.load(files["u1"]), W[5:])):
            for atom in block:
                assert np.any(np.all(rows == atom, axis=1)), atom


def test_per_source_lists_and_single_values():
    with Workspace() as ws:
        files = sources_and_mixtures(ws)
        model = load_model(fit(ws, files, "adv", "--tau-a", "0.2,0.05", "--mu-h", "0.01,0.002",
                               "--beta", "0.5", d="4,6"))
        sep = separator_json(model)
        assert sep["tau_A"] == [0.2, 0.05], sep
        assert sep["beta"] == [0.5, 0.5], sep          # one value: every source
        assert list(model["components"]) == [4, 6]
        expected_mu = np.array([0.01] * 4 + [0.002] * 6, np.float32)
        assert np.array_equal(model["mu_H"], expected_mu), model["mu_H"]
        single = load_model(fit(ws, files, "std", d="5", output="single.npz"))
        assert list(single["components"]) == [5, 5]


def test_warm_start_from_a_separator():
    with Workspace() as ws:
        files = sources_and_mixtures(ws)
        start = load_model(fit(ws, files, "std", output="std.npz"))["W"]
        # Zero epochs from a warm start: the bases are the warm start's.
        warm = load_model(fit(ws, files, "adv", "--warm-start", ws.out("std.npz"),
                              "--epochs", 0, output="adv.npz"))["W"]
        assert np.array_equal(start, warm)
        trained = load_model(fit(ws, files, "adv", "--warm-start", ws.out("std.npz"),
                                 output="adv2.npz"))["W"]
        assert not np.array_equal(start, trained)


def test_warm_start_of_other_atoms_is_refused():
    with Workspace() as ws:
        files = sources_and_mixtures(ws)
        fit(ws, files, "std", output="std.npz")
        before = ws.leftovers()
        result = run("separator", "fit", "--mode", "adv", *data_args(files, "adv"), "-d", "5",
                     "--warm-start", ws.out("std.npz"), "-o", ws.out("adv.npz"))
        expect_failure(result, RUNTIME, "std.npz")
        assert ws.leftovers() == before


def test_loss_log_has_a_row_per_stage_and_epoch():
    with Workspace() as ws:
        files = sources_and_mixtures(ws)
        log = ws.out("loss.csv")
        fit(ws, files, "semi", "--loss-log", log)
        rows = np.loadtxt(log, delimiter=",", skiprows=1)
        with open(log) as f:
            assert f.readline().strip() == "stage,epoch,loss_true,loss_adv,objective"
        # semi: NMF of the clean source (stage 0), then the noise basis on
        # the mixtures (stage 1); epochs 0..3 each.
        assert rows.shape == (8, 5), rows.shape
        assert list(rows[:, 0]) == [0] * 4 + [1] * 4
        assert list(rows[:, 1]) == [0, 1, 2, 3] * 2
        assert np.all(np.isfinite(rows)) and np.all(rows[:, 2] > 0)


# ---------------------------------------------------------------- apply

def fitted_separator(ws, mode="adv"):
    files = sources_and_mixtures(ws)
    return files, fit(ws, files, mode, "--epochs", 10)


def test_apply_wiener_estimates_add_up_to_the_mixtures():
    with Workspace() as ws:
        files, model = fitted_separator(ws)
        result = run("separator", "apply", "-m", model, "-i", files["v"], "-o", ws.out("est"))
        assert result.returncode == 0 and result.stderr == "", result.stderr
        V = np.load(files["v"])
        estimates = [np.load(ws.out(f"est{s}.npy")) for s in range(2)]
        assert not os.path.exists(ws.out("est2.npy"))
        for estimate in estimates:
            assert estimate.shape == V.shape and estimate.dtype == np.float32
            assert estimate.min() >= 0
        total = estimates[0] + estimates[1]
        assert np.abs(total - V).max() <= 1e-5 * V.max(), np.abs(total - V).max()
        assert sorted(ws.leftovers()) == sorted(["sep.npz", "est0.npy", "est1.npy"])


def test_apply_without_wiener_writes_each_sources_reconstruction():
    """W_s H_s from the saved W and H of an independent `mdnmf transform`
    (same test epochs and seed as the separation's own transform)."""
    with Workspace() as ws:
        files, model = fitted_separator(ws)
        result = run("separator", "apply", "-m", model, "-i", files["v"], "-o",
                     ws.out("raw"), "--no-wiener")
        assert result.returncode == 0, result.stderr
        result = run("transform", "-m", model, "-i", files["v"], "-o", ws.out("H.npy"))
        assert result.returncode == 0, result.stderr
        saved = load_model(model)
        W, H = saved["W"].astype(np.float64), np.load(ws.out("H.npy")).astype(np.float64)
        V = np.load(files["v"]).astype(np.float64)
        offsets = np.concatenate([[0], np.cumsum(saved["components"])])
        raw = []
        for s in range(2):
            a, b = offsets[s], offsets[s + 1]
            expected = H[:, a:b] @ W[a:b]
            got = np.load(ws.out(f"raw{s}.npy"))
            assert got.shape == V.shape and got.min() >= 0
            assert np.abs(got - expected).max() <= 1e-5 * expected.max()
            raw.append(expected)
        # Unfiltered, the sum is the model's reconstruction, not V ...
        assert np.abs(raw[0] + raw[1] - V).max() > 1e-3 * V.max()
        # ... and the Wiener estimates are V split in the ratio of the W_s H_s.
        run("separator", "apply", "-m", model, "-i", files["v"], "-o", ws.out("wiener"))
        total = raw[0] + raw[1]
        for s in range(2):
            expected = np.clip(V * raw[s] / total, 0, V.max())
            got = np.load(ws.out(f"wiener{s}.npy"))
            assert np.abs(got - expected).max() <= 1e-4 * V.max()


def test_apply_transform_settings_reach_the_transform():
    """--test-epochs is the transform's setting, not --no-wiener (their option
    codes once collided): the estimates are still Wiener-filtered (they add
    up to V) and W_s H_s come from `transform --test-epochs 7`'s H."""
    with Workspace() as ws:
        files, model = fitted_separator(ws)
        result = run("separator", "apply", "-m", model, "-i", files["v"], "-o", ws.out("est"),
                     "--test-epochs", 7, "--no-wiener")
        assert result.returncode == 0, result.stderr
        result = run("transform", "-m", model, "-i", files["v"], "-o", ws.out("H.npy"),
                     "--test-epochs", 7)
        assert result.returncode == 0, result.stderr
        saved = load_model(model)
        W, H = saved["W"].astype(np.float64), np.load(ws.out("H.npy")).astype(np.float64)
        a = saved["components"][0]
        expected = H[:, :a] @ W[:a]
        assert np.abs(np.load(ws.out("est0.npy")) - expected).max() <= 1e-5 * expected.max()
        result = run("separator", "apply", "-m", model, "-i", files["v"], "-o", ws.out("w"),
                     "--test-epochs", 7)
        assert result.returncode == 0, result.stderr
        V = np.load(files["v"])
        total = np.load(ws.out("w0.npy")) + np.load(ws.out("w1.npy"))
        assert np.abs(total - V).max() <= 1e-5 * V.max(), np.abs(total - V).max()


def test_apply_writes_all_estimates_or_none():
    with Workspace() as ws:
        files, model = fitted_separator(ws)
        os.mkdir(ws.out("est1.npy"))   # the second estimate cannot be written
        result = run("separator", "apply", "-m", model, "-i", files["v"], "-o", ws.out("est"))
        expect_failure(result, RUNTIME, "est1.npy")
        assert sorted(ws.leftovers()) == ["est1.npy", "sep.npz"], ws.leftovers()


def test_apply_refuses_a_one_source_model():
    with Workspace() as ws:
        data, model = ws.fit_model(data=np.load(sources_and_mixtures(ws)["u0"]))
        before = ws.leftovers()
        result = run("separator", "apply", "-m", model, "-i", data, "-o", ws.out("est"))
        expect_failure(result, RUNTIME, "model.npz", "separator")
        assert ws.leftovers() == before


# ---------------------------------------------------------------- bad input

def fit_fails(ws, code, args, *mentions):
    result = run("separator", "fit", *args, "-o", ws.out("sep.npz"),
                 "--loss-log", ws.out("loss.csv"), "--epochs", 2)
    line = expect_failure(result, code, *mentions)
    assert ws.leftovers() == [], ws.leftovers()
    return line


def test_sources_of_different_feature_counts():
    with Workspace() as ws:
        files = sources_and_mixtures(ws)
        other = ws.save("narrow.npy", np.ones((N, M - 1), np.float32))
        fit_fails(ws, RUNTIME, ["--source", files["u0"], "--source", other, "-d", 4],
                  "narrow.npy", str(M - 1), str(M))


def test_mode_without_the_data_it_needs():
    with Workspace() as ws:
        files = sources_and_mixtures(ws)
        line = fit_fails(ws, USAGE, ["--mode", "semi", "--source", files["u0"], "-d", 4],
                         "semi", "--mixed")
        assert "mixtures" in line   # the library's words, with the option to add
        fit_fails(ws, USAGE, ["--mode", "sup", "--sup-source", files["s0"], "--sup-source",
                              files["s1"], "-d", 4], "sup", "--sup-mixed")


def test_atom_count_list_longer_than_the_sources():
    with Workspace() as ws:
        files = sources_and_mixtures(ws)
        fit_fails(ws, USAGE, data_args(files, "std") + ["-d", "64,64,64"],
                  "-d/--atoms", "3 values", "2 sources")


def test_per_source_list_of_wrong_length():
    with Workspace() as ws:
        files = sources_and_mixtures(ws)
        fit_fails(ws, USAGE, data_args(files, "adv") + ["--mode", "adv", "-d", 4,
                                                    "--tau-a", "0.1,0.2,0.3"],
                  "--tau-a", "3 values", "2 sources")


def test_unknown_mode():
    with Workspace() as ws:
        files = sources_and_mixtures(ws)
        fit_fails(ws, USAGE, data_args(files, "std") + ["-d", 4, "--mode", "nmf"],
                  "--mode", "'nmf'", "semi_adv")


def test_negative_beta():
    with Workspace() as ws:
        files = sources_and_mixtures(ws)
        fit_fails(ws, USAGE, data_args(files, "adv") + ["--mode", "adv", "-d", 4,
                                                    "--beta", "1,-0.5"],
                  "--beta", "-0.5")


def test_weights_beyond_float32_are_refused():
    """1e300 is a finite double but +inf in the float32 updates (issue 12: the
    one-source fit saved mu_H = inf and exited 0)."""
    with Workspace() as ws:
        files = sources_and_mixtures(ws)
        for option, name in [("--mu-h", "mu_H"), ("--tau-a", "tau_A"), ("--beta", "beta"),
                             ("--tau-s", "tau_S")]:
            fit_fails(ws, USAGE, data_args(files, "adv") + ["--mode", "adv", "-d", 4,
                                                        option, "1e300"], name, "float32")


def test_data_the_mode_would_ignore():
    with Workspace() as ws:
        files = sources_and_mixtures(ws)
        fit_fails(ws, USAGE, data_args(files, "std") + ["-d", 4, "--mixed", files["v"]],
                  "--mixed", "std")


def test_help_lists_the_per_source_defaults():
    result = run("separator", "fit", "--help")
    assert result.returncode == 0
    assert "--tau-a X[,X...]" in result.stdout and "0.1 each" in result.stdout
    assert "--warm-start-epochs" in result.stdout and "--sup-batch-size" in result.stdout


if __name__ == "__main__":
    run_tests(globals())
