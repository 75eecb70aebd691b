"""`mdnmf eval --metric psnr|mse`: the JSON it prints against NumPy (SPEC §9:
PSNR per sample 20 log10(max(r) / rmse), the per-sample mean over sources,
then the median or mean over samples), and the inputs it must refuse."""

import json

import numpy as np

from cli_harness import Workspace, expect_failure, run, run_tests

RUNTIME, USAGE = 1, 2


def pairs(ws, sources=2, n=41, m=15, seed=3):
    """References in [0, 1) and noisy estimates of them, per source."""
    rng = np.random.default_rng(seed)
    args, refs, ests = [], [], []
    for s in range(sources):
        r = rng.random((n, m)).astype(np.float32)
        e = np.abs(r + rng.normal(0, 0.05 * (s + 1), r.shape)).astype(np.float32)
        args += ["-r", ws.save(f"r{s}.npy", r), "-e", ws.save(f"e{s}.npy", e)]
        refs.append(r.astype(np.float64))
        ests.append(e.astype(np.float64))
    return args, refs, ests


def per_sample(metric, r, e):
    mse = np.mean((r - e) ** 2, axis=1)
    if metric == "mse":
        return mse
    return 20 * np.log10(r.max(axis=1) / np.sqrt(mse))


def expected(metric, aggregate, refs, ests):
    reduce = np.median if aggregate == "median" else np.mean
    values = [per_sample(metric, r, e) for r, e in zip(refs, ests)]
    return reduce(np.mean(values, axis=0)), [reduce(v) for v in values]


def evaluate(*args):
    result = run("eval", *args)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, lines
    return json.loads(lines[0])


def close(a, b):
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


def test_psnr_and_mse_agree_with_numpy():
    with Workspace() as ws:
        args, refs, ests = pairs(ws)
        for metric in ("psnr", "mse"):
            for aggregate in ("median", "mean"):
                out = evaluate(*args, "--metric", metric, "--aggregate", aggregate)
                value, per_source = expected(metric, aggregate, refs, ests)
                assert out["metric"] == metric and out["aggregate"] == aggregate, out
                assert out["sources"] == 2 and out["samples"] == 41, out
                assert close(out["value"], value), (metric, aggregate, out, value)
                assert all(close(a, b) for a, b in zip(out["per_source"], per_source)), out


def test_defaults_are_psnr_and_median_of_one_source():
    with Workspace() as ws:
        args, refs, ests = pairs(ws, sources=1, n=10)
        out = evaluate(*args)
        assert out["metric"] == "psnr" and out["aggregate"] == "median", out
        # An even count: the median is the mean of the middle two.
        assert close(out["value"], float(np.median(per_sample("psnr", refs[0], ests[0]))))


def test_median_of_the_mean_over_sources_is_not_the_mean_of_medians():
    """Guards the order: per sample, mean over sources; then the median."""
    with Workspace() as ws:
        args, refs, ests = pairs(ws, sources=2, n=41)
        out = evaluate(*args)
        mean_of_medians = np.mean(expected("psnr", "median", refs, ests)[1])
        assert not close(out["value"], mean_of_medians)


def test_exact_estimate_is_null():
    with Workspace() as ws:
        r = np.random.default_rng(1).random((5, 4)).astype(np.float32)
        path = ws.save("r.npy", r)
        out = evaluate("-r", path, "-e", path)
        assert out["value"] is None and out["per_source"] == [None], out
        assert evaluate("-r", path, "-e", path, "--metric", "mse")["value"] == 0.0


def test_shapes_that_differ():
    with Workspace() as ws:
        r = ws.save("r.npy", np.ones((6, 4), np.float32))
        e = ws.save("e.npy", np.ones((6, 5), np.float32))
        expect_failure(run("eval", "-r", r, "-e", e), RUNTIME, "e.npy", "r.npy", "(6, 5)")
        e = ws.save("short.npy", np.ones((5, 4), np.float32))
        expect_failure(run("eval", "-r", r, "-e", e), RUNTIME, "short.npy", "(5, 4)")


def test_sources_of_different_shapes():
    with Workspace() as ws:
        r0 = ws.save("r0.npy", np.ones((6, 4), np.float32))
        r1 = ws.save("r1.npy", np.ones((7, 4), np.float32))
        expect_failure(run("eval", "-r", r0, "-e", r0, "-r", r1, "-e", r1), RUNTIME, "r1.npy")


def test_unpaired_files_and_unknown_metric():
    with Workspace() as ws:
        r = ws.save("r.npy", np.ones((6, 4), np.float32))
        expect_failure(run("eval", "-r", r, "-e", r, "-r", r), USAGE, "2 --reference",
                       "1 --estimate")
        expect_failure(run("eval", "-r", r, "-e", r, "--metric", "ssim"), USAGE, "'ssim'")
        expect_failure(run("eval", "-r", r, "-e", r, "--aggregate", "max"), USAGE, "'max'")


if __name__ == "__main__":
    run_tests(globals())
