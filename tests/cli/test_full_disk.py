"""Full disks and concurrent writers (issue 12): a write that fails half-way
must leave no half-written file and must not lose the file that was there
before; two runs writing the same output at once must leave one complete
output, never a mix.

The full disk is played two ways: RLIMIT_FSIZE (every write past the limit
fails with EFBIG, SIGXFSZ ignored; works for any user) and, when the test
may mount one (root, as in CI), a real 64 KiB tmpfs (ENOSPC)."""

import os
import resource
import shutil
import signal
import subprocess
import tempfile

import numpy as np

from cli_harness import Workspace, binary, expect_failure, random_data, run, run_tests

RUNTIME = 1
LIMIT = 4096  # bytes: the outputs of writers() exceed it


def run_limited(*args, limit=LIMIT):
    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    return subprocess.run([binary(), *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=120, preexec_fn=limit_file_size)


def big_data(ws):
    return ws.save("u.npy", np.random.default_rng(0).random((200, 60)).astype(np.float32))


def writers(ws, data, model):
    """(what, command, output) for every kind of output a fit or transform writes."""
    return [
        ("model", ["fit", "-i", data, "-d", 8, "--epochs", 2, "-o", ws.out("m.npz")],
         ws.out("m.npz")),
        # a model of ~2.8 KB, a log of ~5.5 KB
        ("loss log", ["fit", "-i", data, "-d", 2, "--epochs", 200, "-o", ws.out("m2.npz"),
                      "--loss-log", ws.out("loss.csv")], ws.out("loss.csv")),
        ("activations", ["transform", "-m", model, "-i", data, "-o", ws.out("h.npy")],
         ws.out("h.npy")),
    ]


def test_a_failed_write_leaves_nothing_new_and_loses_nothing():
    with Workspace() as ws:
        data = big_data(ws)
        model = os.path.join(ws.inputs, "model.npz")
        assert run("fit", "-i", data, "-d", 8, "--epochs", 1, "-o", model).returncode == 0
        for what, command, output in writers(ws, data, model):
            # 1. nothing there before: nothing there after
            result = run_limited(*command)
            expect_failure(result, RUNTIME, os.path.basename(output))
            assert ws.leftovers() == [], (what, ws.leftovers())
            # 2. an older output there before: still there, byte for byte
            with open(output, "wb") as f:
                f.write(b"the previous results, which must survive")
            result = run_limited(*command)
            expect_failure(result, RUNTIME, os.path.basename(output))
            with open(output, "rb") as f:
                assert f.read() == b"the previous results, which must survive", what
            os.remove(output)
            assert ws.leftovers() == [], (what, ws.leftovers())


def mounted_tmpfs(size="64k"):
    """A fresh tmpfs of `size`, or None when this user may not mount one."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        return None
    folder = tempfile.mkdtemp(prefix="mdnmf-full-")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", folder],
                          capture_output=True)
    if done.returncode != 0:
        os.rmdir(folder)
        return None
    return folder


def test_a_really_full_disk():
    folder = mounted_tmpfs()
    if folder is None:
        print("skipped: cannot mount a tmpfs here (not root, or not allowed)")
        return
    try:
        with Workspace() as ws:
            data = big_data(ws)
            # Fill the disk but for a few KiB, then ask for a model of ~20 KiB.
            with open(os.path.join(folder, "filler"), "wb") as f:
                try:
                    f.write(b"\0" * (60 * 1024))
                except OSError:
                    pass
            before = sorted(os.listdir(folder))
            output = os.path.join(folder, "m.npz")
            result = run("fit", "-i", data, "-d", 40, "--epochs", 1, "-o", output)
            expect_failure(result, RUNTIME, "m.npz")
            assert sorted(os.listdir(folder)) == before, os.listdir(folder)
    finally:
        subprocess.run(["umount", folder], capture_output=True)
        os.rmdir(folder)


def test_concurrent_writers_leave_one_complete_output():
    """Four fits with different seeds write the same model at the same time:
    the file left is exactly one of them (each writes a temporary file and
    renames it into place), and no temporary file is left."""
    with Workspace() as ws:
        data = big_data(ws)
        output = ws.out("m.npz")
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        seeds = [1, 2, 3, 4]
        runs = [subprocess.Popen([binary(), "fit", "-i", data, "-d", "8", "--epochs", "30",
                                  "--seed", str(s), "-o", output, "-q"], env=env,
                                 stderr=subprocess.PIPE)
                for s in seeds]
        for p in runs:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
        assert ws.leftovers() == ["m.npz"], ws.leftovers()
        with np.load(output) as f:
            left = f["W"].copy()
        matches = 0
        for s in seeds:
            alone = ws.out("alone.npz")
            assert run("fit", "-i", data, "-d", 8, "--epochs", 30, "--seed", s,
                       "-o", alone, "-q").returncode == 0
            with np.load(alone) as f:
                matches += np.array_equal(f["W"], left)
            os.remove(alone)
        assert matches == 1, matches


if __name__ == "__main__":
    run_tests(globals())
