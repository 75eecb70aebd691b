"""`mdnmf separator fit --tau-a auto` (issue 13, item 3) on MNIST digits 2 and 3
(data/mnist, from scripts/fetch-data.sh mnist; synthetic images made of random
parts when the data is not there): the validation scores and the choice are
recomputed here independently (a plain fit per grid value, `separator apply`,
per-pair PSNR in NumPy): by default a larger tau_A replaces the one chosen so far
only when its median is higher and its mean per-pair gain exceeds one standard
error of those gains (on
this problem that is not the best median score, which `--tau-margin 0` picks);
tau_A = 0 (the NMF model itself) is chosen when every other value is worse; the
saved model is the plain fit of the chosen tau_A, member for member; and the
options' usage errors."""

import os
import re
import zipfile

import numpy as np

from cli_harness import SOURCE_ROOT, Workspace, expect_failure, run, run_tests

USAGE = 2
MNIST = os.path.join(SOURCE_ROOT, "data", "mnist")


def real_digits():
    """Whether data/mnist has digits 2 and 3 (else synthetic images stand in)."""
    return all(os.path.exists(os.path.join(MNIST, f"digit{k}.npy")) for k in (2, 3))
TRAIN, VALIDATION = 150, 40
SETTINGS = ["-d", 10, "--epochs", 8, "--test-epochs", 30, "--normalize", "--mu-h", "0.01",
            "--batch-size", 50, "--adv-batch-size", 50, "--threads", 1, "--quiet"]


def made_of_parts(rng, count):
    """Stand-ins for a digit class: sparse combinations of 8 random parts of
    60 pixels each (the two classes' parts overlap by chance)."""
    parts = np.zeros((8, 784), np.float32)
    for k in range(8):
        parts[k, rng.integers(0, 784, 60)] = rng.uniform(0.3, 1.0, 60)
    weights = rng.random((count, 8)) ** 3
    return np.clip(weights @ parts, 0, 1).astype(np.float32)


def digits():
    """Two classes' images (count, 784) in [0, 1]."""
    paths = [os.path.join(MNIST, f"digit{k}.npy") for k in (2, 3)]
    if all(os.path.exists(p) for p in paths):
        return [np.load(p)[:TRAIN + VALIDATION].astype(np.float32) for p in paths]
    rng = np.random.default_rng(0)
    return [made_of_parts(rng, TRAIN + VALIDATION) for _ in range(2)]


def problem(ws):
    """Clean training data (weighted 1/2 as in the image experiments), their
    mixtures, and validation pairs of other images."""
    a, b = digits()
    half = [0.5 * a, 0.5 * b]
    files = {"u0": ws.save("u0.npy", half[0][:TRAIN]), "u1": ws.save("u1.npy", half[1][:TRAIN]),
             "v": ws.save("v.npy", half[0][:TRAIN] + half[1][:TRAIN]),
             "t0": ws.save("t0.npy", half[0][TRAIN:]), "t1": ws.save("t1.npy", half[1][TRAIN:]),
             "vm": ws.save("vm.npy", half[0][TRAIN:] + half[1][TRAIN:])}
    return files


def weak(files):
    return ["--source", files["u0"], "--source", files["u1"], "--mixed", files["v"]]


def pairs(files):
    return ["--sup-source", files["t0"], "--sup-source", files["t1"], "--sup-mixed", files["vm"]]


def fit(*args):
    result = run("separator", "fit", *args, *SETTINGS)
    assert result.returncode == 0, result.stderr
    return result


def parse_choice(stderr):
    """{tau_A: validation score or None when failed}, the chosen tau_A, and
    the validation pairs' count, from the command's report."""
    scores = {}
    for tau, value in re.findall(r"^\s+tau_A = (\S+)\s+(\S+)", stderr, re.M):
        scores[float(tau)] = None if value == "failed" else float(value)
    chosen = float(re.search(r"chosen tau_A = (\S+) \(", stderr).group(1))
    count = int(re.search(r"of (\d+) (?:held-out|given|cross-validated) validation pairs",
                          stderr).group(1))
    return scores, chosen, count


def psnr_per_pair(ws, model, files):
    """The validation scores recomputed outside the library: separate with the
    model, then per pair the mean over sources of 20 log10(max / rmse)."""
    prefix = ws.out("est-" + os.path.basename(model)[:-4])
    result = run("separator", "apply", "-m", model, "-i", files["vm"], "-o", prefix)
    assert result.returncode == 0, result.stderr
    per_source = []
    for s in range(2):
        truth = np.load(files[f"t{s}"]).astype(np.float64)
        estimate = np.load(f"{prefix}{s}.npy").astype(np.float64)
        rmse = np.sqrt(np.mean((truth - estimate) ** 2, axis=1))
        per_source.append(20 * np.log10(truth.max(axis=1) / rmse))
    return np.mean(per_source, axis=0)


def psnr_median(ws, model, files):
    """The validation score (the median over pairs), recomputed."""
    return float(np.median(psnr_per_pair(ws, model, files)))


def margin_choice(per_pair, grid, margin=1.0):
    """The documented rule, written out: walking up the grid from tau_A = 0,
    a tau_A replaces the chosen one when its median score is higher and the
    mean of the per-pair differences (its scores minus the chosen one's)
    exceeds `margin` standard errors of them, sd (n - 1) / sqrt(n)."""
    chosen = grid[0]
    for tau in grid[1:]:
        gain = per_pair[tau] - per_pair[chosen]
        standard_error = np.std(gain, ddof=1) / np.sqrt(len(gain))
        better = np.median(per_pair[tau]) > np.median(per_pair[chosen])
        if better and np.mean(gain) > margin * standard_error:
            chosen = tau
    return chosen


def best_median_choice(per_pair, grid):
    """The rule of --tau-margin 0: the best median score, ties to the smaller."""
    return max(grid, key=lambda tau: (float(np.median(per_pair[tau])), -tau))


def members(path):
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def load(path):
    with np.load(path) as z:
        return {name: z[name] for name in z.files}


def plain_fits(ws, files, grid):
    """NMF, then MDNMF from it for every tau_A > 0 of the grid: the fits the
    choice stands for, run one by one with the plain command."""
    nmf = ws.out("nmf.npz")
    fit("--mode", "std", *weak(files)[:4], "-o", nmf)
    models = {0.0: nmf}
    for tau in grid[1:]:
        models[tau] = ws.out(f"adv-{tau}.npz")
        fit("--mode", "adv", *weak(files), "--tau-a", tau, "--warm-start", nmf,
            "-o", models[tau])
    return models


def check_nmf_choice(chosen_path, nmf_path):
    """tau_A = 0 chosen: the NMF's bases, the params saying tau_A 0."""
    chosen, nmf = load(chosen_path), load(nmf_path)
    for name in ("W", "mu_H", "components"):
        assert np.array_equal(chosen[name], nmf[name]), name
    assert '"tau_A": [0.0, 0.0]' in str(chosen["params"]), chosen["params"]


def test_a_larger_tau_needs_a_gain_of_one_standard_error_and_is_the_plain_fit():
    grid = [0.0, 0.05, 0.1, 0.2, 0.3]
    with Workspace() as ws:
        files = problem(ws)
        out = ws.out("auto.npz")
        result = fit("--mode", "adv", *weak(files), *pairs(files), "--tau-a", "auto",
                     "--tau-grid", ",".join(map(str, grid)), "-o", out)
        scores, chosen, count = parse_choice(result.stderr)
        assert sorted(scores) == grid and count == VALIDATION, result.stderr
        models = plain_fits(ws, files, grid)
        per_pair = {tau: psnr_per_pair(ws, models[tau], files) for tau in grid}
        for tau in grid:
            assert abs(scores[tau] - float(np.median(per_pair[tau]))) < 1e-3, (tau, scores)
        expected = margin_choice(per_pair, grid)
        assert chosen == expected, (chosen, expected, result.stderr)
        # On MNIST 2/3 the problem tells the rules apart: the best median is
        # another tau_A (a noisy gain), so the old rule fails here.  The
        # synthetic stand-in (no data/mnist, as in CI) does not; there
        # unit/test_search's margin cases tell them apart.
        if real_digits():
            assert best_median_choice(per_pair, grid) != expected, scores
        if chosen == 0.0:
            check_nmf_choice(out, models[0.0])
        else:
            assert members(out) == members(models[chosen]), "not the plain fit's model"
        # --tau-margin 0: the best median score wins; a large margin keeps NMF.
        result = fit("--mode", "adv", *weak(files), *pairs(files), "--tau-a", "auto",
                     "--tau-grid", ",".join(map(str, grid)), "--tau-margin", "0",
                     "-o", ws.out("auto0.npz"))
        assert parse_choice(result.stderr)[1] == best_median_choice(per_pair, grid)
        result = fit("--mode", "adv", *weak(files), *pairs(files), "--tau-a", "auto",
                     "--tau-grid", ",".join(map(str, grid)), "--tau-margin", "1000",
                     "-o", ws.out("auto1000.npz"))
        assert parse_choice(result.stderr)[1] == margin_choice(per_pair, grid, 1000.0) == 0.0


def test_tau_zero_is_chosen_when_every_other_is_worse():
    # Adversarial weights beyond the useful 0.05-0.3 spoil the bases: the
    # NMF model itself must come out, bit for bit.
    with Workspace() as ws:
        files = problem(ws)
        out = ws.out("auto.npz")
        result = fit("--mode", "adv", *weak(files), *pairs(files), "--tau-a", "auto",
                     "--tau-grid", "0,1,2", "-o", out)
        scores, chosen, _ = parse_choice(result.stderr)
        assert chosen == 0.0, result.stderr
        assert all(s is not None and s < scores[0.0] for tau, s in scores.items() if tau > 0)
        nmf = ws.out("nmf.npz")
        fit("--mode", "std", *weak(files)[:4], "-o", nmf)
        check_nmf_choice(out, nmf)


def check_confirmation(stderr, chosen):
    """The confirmation line after a refit of tau_A > 0: "confirmed" exactly
    when the MDNMF's score beats the NMF's, and then that tau_A is the model's;
    "not confirmed" leaves the NMF (chosen 0).  Returns the validated tau_A."""
    line = re.search(r"^mdnmf separator fit: (not confirmed, the NMF is kept|confirmed): .*"
                     r"MDNMF \(tau_A = (\S+)\) (\S+) against NMF (\S+)", stderr, re.M)
    if line is None:
        assert chosen == 0.0, stderr
        return 0.0
    confirmed = line.group(1) == "confirmed"
    assert confirmed == (float(line.group(3)) > float(line.group(4))), stderr
    assert chosen == (float(line.group(2)) if confirmed else 0.0), stderr
    return float(line.group(2))


def test_held_out_pairs_then_the_chosen_tau_on_all_data():
    # No pairs given: 20 % of each source's columns validate; the saved
    # model is NMF and then MDNMF at the chosen tau_A fitted on all of the
    # data, as the plain commands fit them.
    grid = [0.0, 0.1, 0.2]
    with Workspace() as ws:
        files = problem(ws)
        out = ws.out("auto.npz")
        result = fit("--mode", "adv", *weak(files), "--tau-a", "auto", "--tau-grid", "0,0.1,0.2",
                     "-o", out)
        scores, chosen, count = parse_choice(result.stderr)
        assert count == int(0.2 * TRAIN) and "held-out" in result.stderr, result.stderr
        assert sorted(scores) == grid
        validated = check_confirmation(result.stderr, chosen)
        models = plain_fits(ws, files, [0.0, validated] if validated else [0.0])
        if chosen == 0.0:
            check_nmf_choice(out, models[0.0])
        else:
            assert members(out) == members(models[chosen])
        # --no-tau-confirm: the refit of the validated tau_A, whatever it scores.
        kept = ws.out("unconfirmed.npz")
        result = fit("--mode", "adv", *weak(files), "--tau-a", "auto", "--tau-grid", "0,0.1,0.2",
                     "--no-tau-confirm", "-o", kept)
        assert parse_choice(result.stderr)[1] == validated and "confirmed" not in result.stderr
        if validated:
            assert members(kept) == members(models[validated])
        # A larger share held out is another validation set.
        result = fit("--mode", "adv", *weak(files), "--tau-a", "auto", "--tau-grid", "0,0.1,0.2",
                     "--validation-fraction", "0.4", "-o", ws.out("auto40.npz"))
        assert parse_choice(result.stderr)[2] == int(0.4 * TRAIN)


def test_folds_over_the_training_pairs_then_the_chosen_tau_on_all_data():
    # --tau-folds 3: every training pair validates once (the fold rule is
    # checked against NumPy in tests/python/test_tau_auto.py); the saved
    # model is the plain fit of the chosen tau_A on all of the data.
    with Workspace() as ws:
        files = problem(ws)
        out = ws.out("folds.npz")
        result = fit("--mode", "adv", *weak(files), "--tau-a", "auto", "--tau-grid", "0,0.1,0.2",
                     "--tau-folds", "3", "-o", out)
        scores, chosen, count = parse_choice(result.stderr)
        assert count == TRAIN and "cross-validated" in result.stderr, result.stderr
        assert sorted(scores) == [0.0, 0.1, 0.2]
        check_confirmation(result.stderr, chosen)
        models = plain_fits(ws, files, [0.0, chosen] if chosen else [0.0])
        if chosen == 0.0:
            check_nmf_choice(out, models[0.0])
        else:
            assert members(out) == members(models[chosen])
        # Mixtures that do not line up with the sources are refused.
        short = ws.save("short.npy", np.load(files["v"])[:TRAIN - 1])
        result = run("separator", "fit", "--mode", "adv", "--source", files["u0"], "--source",
                     files["u1"], "--mixed", short, "--tau-a", "auto", "--tau-folds", "3",
                     *SETTINGS, "-o", ws.out("short.npz"))
        assert result.returncode != 0 and "line up" in result.stderr, result.stderr
        assert not os.path.exists(ws.out("short.npz"))


def test_usage_errors_write_nothing():
    with Workspace() as ws:
        files = problem(ws)
        out = ws.out("sep.npz")
        cases = [
            (["--mode", "std", *weak(files)[:4], "--tau-a", "auto"], "no adversarial term"),
            (["--mode", "adv", *weak(files), "--tau-grid", "0,0.1"], "--tau-a auto"),
            (["--mode", "adv", *weak(files), "--validation-fraction", "0.3"], "--tau-a auto"),
            (["--mode", "adv", *weak(files), "--tau-margin", "1"], "--tau-a auto"),
            (["--mode", "adv", *weak(files), "--tau-a", "auto", "--tau-margin", "-1"],
             "--tau-margin"),
            (["--mode", "adv", *weak(files), "--tau-a", "auto", "--tau-margin", "nan"],
             "--tau-margin"),
            (["--mode", "adv", *weak(files), "--tau-a", "auto", "--tau-grid", "0.1,0.2"],
             "must start at 0"),
            (["--mode", "adv", *weak(files), "--tau-a", "auto", "--tau-grid", "0,0.2,0.1"],
             "increasing"),
            (["--mode", "adv", *weak(files), "--tau-a", "auto", "--validation-fraction", "1"],
             "--validation-fraction"),
            (["--mode", "adv", *weak(files), *pairs(files), "--tau-a", "auto",
              "--validation-fraction", "0.3"], "validation data"),
            (["--mode", "adv", *weak(files), "--tau-a", "auto", "--tau-a", "0.1"],
             "numbers or auto"),
            (["--mode", "adv", *weak(files), "--tau-a", "auto", "--loss-log", ws.out("l.csv")],
             "--loss-log"),
            (["--mode", "semi_adv", "--source", files["u0"], "--mixed", files["v"],
              "--tau-a", "auto"], "add --sup-source"),
            (["--mode", "adv", *weak(files), "--tau-folds", "3"], "--tau-a auto"),
            (["--mode", "adv", *weak(files), "--no-tau-confirm"], "--tau-a auto"),
            (["--mode", "adv", *weak(files), "--tau-a", "auto", "--tau-folds", "0"],
             "--tau-folds"),
            (["--mode", "adv", *weak(files), *pairs(files), "--tau-a", "auto",
              "--tau-folds", "3"], "--sup-source"),
            (["--mode", "adv", *weak(files), "--tau-a", "auto", "--tau-folds", "3",
              "--validation-fraction", "0.3"], "--validation-fraction"),
        ]
        for args, mention in cases:
            result = run("separator", "fit", *args, *SETTINGS, "-o", out)
            expect_failure(result, USAGE, mention)
            assert ws.leftovers() == [], (args, ws.leftovers())


if __name__ == "__main__":
    run_tests(globals())
