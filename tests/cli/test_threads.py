"""Threads on a busy machine (issue 12): `--threads N` splits every parallel
region into N parts, and however many threads the library runs them on (it
runs fewer when other processes hold cores) the results must be the same bit
for bit.  MDNMF_RUNNERS=K pins the number of running threads, so the test
plays the busy machine (K = 1: one thread runs every part) and the quiet one
(K = N) without timing anything.

Fails when a part's result depends on which thread runs it, or when the
number of parts follows the running threads (as OpenMP's team size did)."""

import os

import numpy as np

from cli_harness import Workspace, run, run_tests

# Wide enough that the H steps share their columns between the parts
# (SHARED_MIN_COLUMNS = 64 per part) and tall enough for several row blocks.
M, N = 96, 600


def data(ws, name, seed, m=M, n=N, rank=6):
    rng = np.random.default_rng(seed)
    basis = rng.random((rank, m)) ** 3
    return ws.save(name, (rng.random((n, rank)) @ basis).astype(np.float32))


def run_pinned(runners, *args):
    os.environ["MDNMF_RUNNERS"] = str(runners)
    try:
        result = run(*args)
    finally:
        del os.environ["MDNMF_RUNNERS"]
    assert result.returncode == 0, (runners, args, result.stderr)
    return result


def arrays(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files if k != "params"}


def assert_identical(a, b, what):
    assert a.keys() == b.keys(), what
    for key in a:
        assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), (what, key)


def outputs_for_every_runner_count(ws, threads, command, output):
    """Run `command` (with -o output.RUNNERS) pinned at 1..threads runners."""
    paths = []
    for runners in sorted({1, 2, threads}):
        if runners > threads:
            continue
        path = ws.out("%s.%d%s" % (output, runners, os.path.splitext(output)[1]))
        run_pinned(runners, *command, "--threads", threads, "-o", path)
        paths.append(path)
    return paths


def test_fit_does_not_depend_on_the_running_threads():
    with Workspace() as ws:
        u, adv = data(ws, "u.npy", 0), data(ws, "adv.npy", 1)
        for threads in (2, 3):
            for extra in ([], ["-a", adv, "--tau-a", "0.2"], ["--update-h", "--normalize"]):
                command = ["fit", "-i", u, "-d", 8, "--epochs", 4, "--batch-size", 150,
                           "--test-epochs", 5, "-q", *extra]
                paths = outputs_for_every_runner_count(ws, threads, command, "m.npz")
                first = arrays(paths[0])
                for path in paths[1:]:
                    assert_identical(first, arrays(path), (threads, extra, path))


def test_fit_does_not_depend_on_how_many_threads_openmp_grants():
    """OMP_THREAD_LIMIT=1 makes OpenMP run every region on one thread; before
    issue 12 the work was split by the threads OpenMP granted (1 part), so
    the model changed with it."""
    with Workspace() as ws:
        # Shapes where one sgemm over all rows and two over halves round
        # differently (small ones happen to agree).
        u = data(ws, "u.npy", 6, m=400, n=2000, rank=40)
        command = ["fit", "-i", u, "-d", 64, "--epochs", 2, "--batch-size", 500, "-q",
                   "--threads", 2]
        granted = ws.out("granted.npz")
        assert run(*command, "-o", granted).returncode == 0
        os.environ["OMP_THREAD_LIMIT"] = "1"
        try:
            limited = ws.out("limited.npz")
            result = run(*command, "-o", limited)
        finally:
            del os.environ["OMP_THREAD_LIMIT"]
        assert result.returncode == 0, result.stderr
        assert_identical(arrays(granted), arrays(limited), "OMP_THREAD_LIMIT=1")


def test_separator_fit_does_not_depend_on_the_running_threads():
    with Workspace() as ws:
        u0, u1, v = data(ws, "u0.npy", 2), data(ws, "u1.npy", 3), data(ws, "v.npy", 4)
        modes = {"adv": ["--source", u0, "--source", u1, "--mixed", v],
                 "semi": ["--source", u0, "--mixed", v]}
        for mode, sources in modes.items():
            command = ["separator", "fit", "--mode", mode, *sources, "-d", 5, "--epochs", 3,
                       "--test-epochs", 5, "--batch-size", 200]
            paths = outputs_for_every_runner_count(ws, 2, command, mode + ".npz")
            assert_identical(arrays(paths[0]), arrays(paths[1]), mode)


def test_transform_does_not_depend_on_the_running_threads():
    with Workspace() as ws:
        u = data(ws, "u.npy", 5)
        model = ws.out("m.npz")
        run_pinned(1, "fit", "-i", u, "-d", 8, "--epochs", 2, "-o", model, "-q")
        command = ["transform", "-m", model, "-i", u, "--test-epochs", 7, "-q"]
        paths = outputs_for_every_runner_count(ws, 3, command, "h.npy")
        first = np.load(paths[0])
        for path in paths[1:]:
            assert np.array_equal(first, np.load(path)), path


if __name__ == "__main__":
    run_tests(globals())
