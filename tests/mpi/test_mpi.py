"""mdnmf-mpi fit against mdnmf fit (issue 16): with 1 and 2 processes
(mpirun --oversubscribe on this machine) the model equals the one-process
tool's to 1e-5 relative, for NMF and MDNMF (-a), with --adv-weights and
--warm-start, and so does the loss log; a corrupt shard (NaN, truncated
file, bad weight in the second process's part) stops every process with
one message and writes nothing; refused options and outputs onto inputs
say so once; a signal stops the fit with nothing written.

Run by ctest when CMake found MPI (env MDNMF_MPI: the built mdnmf-mpi,
MDNMF_BIN: mdnmf).  Data: a slice of MNIST from data/mnist when present,
else synthetic non-negative data of the same kind."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
MNIST = os.path.join(SOURCE_ROOT, "data", "mnist")

TOLERANCE = 1e-5


def tool(variable):
    path = os.environ.get(variable)
    if not path or not os.path.exists(path):
        raise RuntimeError(f"set {variable} (ctest does)")
    return path


def environment():
    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = "1"
    env.setdefault("OMPI_MCA_rmaps_base_oversubscribe", "1")
    return env


def run_mdnmf(*args):
    return subprocess.run([tool("MDNMF_BIN"), *map(str, args)], capture_output=True,
                          text=True, env=environment(), timeout=120)


def mpi_environment():
    env = environment()
    if env.get("MDNMF_SANITIZED") == "1":
        # Open MPI's components (dlopen'ed and closed again) keep allocations
        # LeakSanitizer cannot attribute (<unknown module>): no suppression
        # can name them.  ASan and UBSan stay on; mdnmf's own leaks are
        # checked by the unit tests (test_shard runs the sharded fits).
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    return env


def run_mpi(processes, *args):
    command = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(processes),
               tool("MDNMF_MPI"), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=mpi_environment(),
                          timeout=120)


def data(name, rows, seed):
    """(rows, 784) float32: MNIST digits, or synthetic data in their range."""
    path = os.path.join(MNIST, name)
    if os.path.exists(path):
        return np.array(np.load(path, mmap_mode="r")[:rows], dtype=np.float32, order="C")
    rng = np.random.default_rng(seed)
    dense = rng.random((rows, 784)).astype(np.float32)
    return np.where(rng.random((rows, 784)) < 0.8, 0, dense).astype(np.float32)


class Workspace:
    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="mdnmf-mpi-test-")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.root, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.root, name)

    def save(self, name, array):
        np.save(self.path(name), array)
        return self.path(name)


def load_model(path):
    with np.load(path, allow_pickle=False) as z:
        return {name: z[name] for name in z.files}


def relative(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), 1e-30))


def check_same_model(reference_path, path):
    ref, got = load_model(reference_path), load_model(path)
    assert sorted(ref) == sorted(got), (sorted(ref), sorted(got))
    assert ref["W"].shape == got["W"].shape and got["W"].dtype == np.float32
    assert relative(ref["W"], got["W"]) <= TOLERANCE, relative(ref["W"], got["W"])
    assert np.array_equal(ref["components"], got["components"])
    assert relative(ref["mu_H"], got["mu_H"]) <= TOLERANCE if np.any(ref["mu_H"]) else \
        np.array_equal(ref["mu_H"], got["mu_H"])
    assert json.loads(str(ref["params"])) == json.loads(str(got["params"]))
    return relative(ref["W"], got["W"])


def compare(inputs, options, extra=()):
    """extra: (option, name, array) files given after the data files, or
    (option, callable(workspace) -> path) made by a callable."""
    with Workspace() as ws:
        files = [ws.save(name, array) for name, array in inputs]
        args = ["-i", files[0]] + (["-a", files[1]] if len(files) > 1 else []) + options
        for option, *what in extra:
            args += [option, what[0](ws) if callable(what[0]) else ws.save(*what)]
        result = run_mdnmf("fit", *args, "-o", ws.path("ref.npz"), "-q")
        assert result.returncode == 0, result.stderr
        for processes in (1, 2):
            out = ws.path(f"mpi{processes}.npz")
            result = run_mpi(processes, "fit", *args, "-o", out)
            assert result.returncode == 0, result.stderr
            assert result.stderr == "", result.stderr
            error = check_same_model(ws.path("ref.npz"), out)
            print(f"     {processes} processes: max |dW| / max |W| = {error:.2e}")


def test_fit_nmf_matches_mdnmf():
    compare([("U.npy", data("digit3.npy", 301, 1))],
            ["-d", 12, "--epochs", 6, "--batch-size", 64, "--mu-h", 0.01, "--mu-w", 0.001,
             "--seed", 5])


def test_fit_nmf_random_init_full_batch_matches_mdnmf():
    compare([("U.npy", data("digit1.npy", 157, 2))],
            ["-d", 8, "--epochs", 4, "--batch-size", 0, "--init", "random", "--seed", 9])


def test_fit_mdnmf_matches_mdnmf():
    compare([("U.npy", data("digit3.npy", 301, 1)), ("A.npy", data("digit5.npy", 203, 3))],
            ["-d", 12, "--epochs", 6, "--batch-size", 64, "--adv-batch-size", 50,
             "--tau-a", 0.3, "--mu-h", 0.01, "--mu-w", 0.001, "--seed", 7])


def test_fit_adv_weights_matches_mdnmf():
    # Each process reads its own elements of the 1-D weights (203 = 101 + 102).
    weights = np.random.default_rng(4).random(203).astype(np.float32) * 3
    compare([("U.npy", data("digit3.npy", 301, 1)), ("A.npy", data("digit5.npy", 203, 3))],
            ["-d", 10, "--epochs", 5, "--batch-size", 64, "--adv-batch-size", 50,
             "--tau-a", 0.3, "--mu-h", 0.05, "--seed", 3],
            extra=[("--adv-weights", "w.npy", weights)])


def warm_model(ws):
    """A one-source model of digit 3 to start from (mdnmf fit)."""
    path = ws.save("start_U.npy", data("digit3.npy", 90, 11))
    result = run_mdnmf("fit", "-i", path, "-d", 9, "--epochs", 2, "--seed", 2,
                       "-o", ws.path("start.npz"), "-q")
    assert result.returncode == 0, result.stderr
    return ws.path("start.npz")


def test_fit_warm_start_matches_mdnmf():
    compare([("U.npy", data("digit3.npy", 211, 5)), ("A.npy", data("digit8.npy", 150, 6))],
            ["-d", 9, "--epochs", 4, "--batch-size", 50, "--tau-a", 0.2, "--seed", 8],
            extra=[("--warm-start", warm_model)])


def read_loss_log(path):
    with open(path) as f:
        header = f.readline().strip().split(",")
        rows = np.array([[float(x) for x in line.split(",")] for line in f if line.strip()])
    return header, rows


def test_loss_log_of_two_processes_equals_one():
    with Workspace() as ws:
        U = ws.save("U.npy", data("digit3.npy", 251, 1))
        A = ws.save("A.npy", data("digit5.npy", 180, 3))
        args = ["-i", U, "-a", A, "-d", 8, "--epochs", 5, "--batch-size", 60, "--tau-a", 0.3,
                "--seed", 4]
        result = run_mdnmf("fit", *args, "-o", ws.path("ref.npz"), "--loss-log",
                           ws.path("ref.csv"), "-q")
        assert result.returncode == 0, result.stderr
        header, reference = read_loss_log(ws.path("ref.csv"))
        logs = {}
        for processes in (1, 2):
            log = ws.path(f"loss{processes}.csv")
            result = run_mpi(processes, "fit", *args, "-o", ws.path(f"m{processes}.npz"),
                             "--loss-log", log)
            assert result.returncode == 0 and result.stderr == "", result.stderr
            got_header, logs[processes] = read_loss_log(log)
            assert got_header == header and logs[processes].shape == reference.shape
            assert np.array_equal(logs[processes][:, 0], reference[:, 0])
        one, two = logs[1][:, 1:], logs[2][:, 1:]
        between = float(np.max(np.abs(two - one) / np.abs(one)))
        against = float(np.max(np.abs(one - reference[:, 1:]) / np.abs(reference[:, 1:])))
        print(f"     loss log: 2 vs 1 process {between:.2e}, 1 process vs mdnmf {against:.2e}")
        assert between <= TOLERANCE and against <= TOLERANCE
        # -q: nothing on stderr either way; standard output as the log.
        result = run_mpi(2, "fit", *args, "-o", ws.path("q.npz"), "--loss-log", "-", "-q")
        assert result.returncode == 0 and result.stderr == "", result.stderr
        assert result.stdout.splitlines()[0] == ",".join(header), result.stdout


def mdnmf_lines(stderr):
    """The tool's lines (mpirun adds its own notes about the exit)."""
    return [l for l in stderr.splitlines() if l.startswith("mdnmf")]


def check_one_failure(result, ws, inputs, words, code=1):
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = mdnmf_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert sorted(os.listdir(ws.root)) == sorted(inputs), os.listdir(ws.root)
    return lines[0]


def test_corrupt_shard_stops_every_process_with_one_message():
    U = data("digit3.npy", 120, 1)
    U[100, 5] = np.nan  # in the second process's rows [60, 120)
    with Workspace() as ws:
        path = ws.save("U.npy", U)
        out = ws.path("model.npz")
        result = run_mpi(2, "fit", "-i", path, "-d", 4, "--epochs", 2, "-o", out,
                         "--loss-log", ws.path("loss.csv"))
        line = check_one_failure(result, ws, ["U.npy"], ["mdnmf-mpi fit: ", path, "NaN"])
        # The file's row, not the process's sample number (40 of rows 60..119).
        assert "at sample 100 (row 100 of the file; this process holds rows 60 to 119)" \
            in line, line


def test_truncated_shard_stops_every_process_with_one_message():
    with Workspace() as ws:
        path = ws.save("U.npy", data("digit3.npy", 120, 1))
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.truncate(size - 784 * 4 * 10)  # the second process's last rows
        result = run_mpi(2, "fit", "-i", path, "-d", 4, "--epochs", 2,
                         "-o", ws.path("m.npz"), "--loss-log", ws.path("loss.csv"))
        check_one_failure(result, ws, ["U.npy"], ["mdnmf-mpi fit: ", path, "truncated"])


def test_corrupt_weights_stop_every_process_with_one_message():
    weights = np.ones(100, dtype=np.float32)
    weights[80] = -1  # in the second process's elements [50, 100)
    with Workspace() as ws:
        U = ws.save("U.npy", data("digit3.npy", 60, 1))
        A = ws.save("A.npy", data("digit5.npy", 100, 2))
        w = ws.save("w.npy", weights)
        result = run_mpi(2, "fit", "-i", U, "-a", A, "--adv-weights", w, "--tau-a", 0.2,
                         "-d", 4, "--epochs", 2, "-o", ws.path("m.npz"))
        line = check_one_failure(result, ws, ["U.npy", "A.npy", "w.npy"],
                                 ["mdnmf-mpi fit: ", w, "weight"])
        assert "omega[80] (row 80 of the file; this process holds rows 50 to 99)" in line, line


def test_fit_exemplar_matches_mdnmf():
    # The library draws the exemplars over the global samples: the same atoms.
    compare([("U.npy", data("digit3.npy", 151, 1))], ["-d", 7, "--method", "exemplar",
                                                      "--seed", 12])


def test_refused_option_says_the_library_line_once():
    with Workspace() as ws:
        path = ws.save("U.npy", data("digit3.npy", 20, 1))
        result = run_mpi(2, "fit", "-i", path, "-d", 4, "--divergence", "kl",
                         "--loss-log", ws.path("l.csv"), "-o", ws.path("m.npz"))
        check_one_failure(result, ws, ["U.npy"], ["mdnmf-mpi fit: ", "Frobenius"])


def test_output_onto_input_is_refused_once():
    with Workspace() as ws:
        U = data("digit3.npy", 40, 1)
        path = ws.save("U.npy", U)
        os.symlink(path, ws.path("link.npy"))
        for output in (path, ws.path("link.npy")):
            result = run_mpi(2, "fit", "-i", path, "-d", 4, "--epochs", 1, "-o", output)
            check_one_failure(result, ws, ["U.npy", "link.npy"],
                              ["mdnmf-mpi fit: ", "-o", "input"])
        result = run_mpi(2, "fit", "-i", path, "-d", 4, "--epochs", 1, "-o",
                         ws.path("m.npz"), "--loss-log", path)
        check_one_failure(result, ws, ["U.npy", "link.npy"], ["--loss-log", "input"])
        assert np.array_equal(np.load(path), U)


def long_fit(ws):
    path = ws.save("U.npy", data("digit3.npy", 2000, 1))
    return ["fit", "-i", path, "-d", 20, "--epochs", 1000000, "-o", ws.path("m.npz"),
            "--loss-log", ws.path("loss.csv")]


def wait_for_fit(process, ws):
    """Until the fit runs (the loss log's temporary file exists)."""
    for _ in range(300):
        if any(name.startswith(".loss.csv") for name in os.listdir(ws.root)):
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("the fit did not start")


def test_signal_stops_the_fit_and_writes_nothing():
    # mpirun turns SIGINT and SIGTERM into SIGTERM for every process.
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        with Workspace() as ws:
            command = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "2",
                       tool("MDNMF_MPI"), *map(str, long_fit(ws))]
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True, env=mpi_environment())
            wait_for_fit(process, ws)
            process.send_signal(signal_number)
            _, stderr = process.communicate(timeout=60)
            assert process.returncode != 0
            lines = mdnmf_lines(stderr)
            assert lines == ["mdnmf-mpi fit: interrupted by SIGTERM: nothing written"], stderr
            assert sorted(os.listdir(ws.root)) == ["U.npy"], os.listdir(ws.root)
    # Rank 0 itself exits with 130 (a singleton: no mpirun in between).
    with Workspace() as ws:
        process = subprocess.Popen([tool("MDNMF_MPI"), *map(str, long_fit(ws))],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=mpi_environment())
        wait_for_fit(process, ws)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 130, (process.returncode, stderr)
        assert mdnmf_lines(stderr) == ["mdnmf-mpi fit: interrupted by SIGINT: nothing written"]
        assert sorted(os.listdir(ws.root)) == ["U.npy"], os.listdir(ws.root)


def start_mpi(processes, *args):
    command = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(processes),
               tool("MDNMF_MPI"), *map(str, args)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=mpi_environment())


def wait_for(condition, what, timeout, process):
    deadline = time.time() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"no {what}: the run ended: {process.communicate()[1]}")
        if time.time() > deadline:
            raise AssertionError(f"no {what} after {timeout} s")
        time.sleep(0.05)


def positions(paths):
    out = []
    for path in paths:
        with np.load(path) as z:
            out.append([int(v) for v in z["position"]])
    return out


def interrupt_and_resume_mpi(ws, command, epochs):
    """`command` (a list; -o added) run by 2 processes uninterrupted, then
    with --checkpoint ck.npz stopped by SIGTERM to mpirun (which passes it
    to every process) after the first files appear, then resumed: the
    same model, array for array.  Returns the resumed position."""
    reference = ws.path("reference.npz")
    result = run_mpi(2, *command, "-o", reference)
    assert result.returncode == 0, result.stderr
    checkpoint, model = ws.path("ck.npz"), ws.path("model.npz")
    files = [ws.path(f"ck.rank{r}-of-2.npz") for r in range(2)]
    process = start_mpi(2, *command, "-o", model, "--checkpoint", checkpoint,
                        "--checkpoint-every", 1)
    wait_for(lambda: all(os.path.exists(f) for f in files), "checkpoint files", 120, process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    lines = [l for l in mdnmf_lines(stderr) if "interrupted" in l]
    assert len(lines) == 1, stderr
    # Besides it only denoise fit's notes on its recordings.
    assert all("resampled" in l for l in mdnmf_lines(stderr) if l not in lines), stderr
    assert "interrupted by SIGTERM: checkpoint set " + checkpoint in lines[0], lines[0]
    assert not os.path.exists(model) and not os.path.exists(checkpoint)
    at = positions(files)
    assert at[0] == at[1] and at[0][1] < epochs, at  # every process at the same epoch
    result = run_mpi(2, *command, "-o", model, "--checkpoint", checkpoint,
                     "--resume", checkpoint)
    assert result.returncode == 0, result.stderr
    ref, got = load_model(reference), load_model(model)
    assert sorted(ref) == sorted(got)
    for name in ref:
        assert np.array_equal(ref[name], got[name]), name
    assert not any(os.path.exists(f) for f in files)  # the fit is done: removed
    return at[0]


def test_sigterm_then_resume_two_processes_bit_identical():
    with Workspace() as ws:
        U = ws.save("U.npy", data("digit3.npy", 400, 1))
        A = ws.save("A.npy", data("digit5.npy", 300, 2))
        epochs = 3000  # the run must outlast the signal's way through mpirun
        at = interrupt_and_resume_mpi(ws, ["fit", "-i", U, "-a", A, "--tau-a", 0.2, "-d", 8,
                                           "--epochs", epochs, "--batch-size", 50,
                                           "--adv-batch-size", 50, "-q"], epochs)
        print(f"     resumed at epoch {at[1]} of {epochs}")


def test_checkpoint_sets_by_process_count():
    """A set is resumed by as many processes as wrote it: one process is
    refused with one line (its file of a K = 1 set does not exist); a K = 1
    set is refused by two processes; a file renamed to the other process
    count is refused by its fingerprint."""
    with Workspace() as ws:
        U = ws.save("U.npy", data("digit3.npy", 60, 1))
        checkpoint = ws.path("ck.npz")
        long_fit = ["fit", "-i", U, "-d", 4, "--epochs", 1000000, "-q"]
        for processes in (2, 1):
            process = start_mpi(processes, *long_fit, "-o", ws.path("m.npz"),
                                "--checkpoint", checkpoint, "--checkpoint-every", 1)
            files = [ws.path(f"ck.rank{r}-of-{processes}.npz") for r in range(processes)]
            wait_for(lambda: all(os.path.exists(f) for f in files), "checkpoint files", 120,
                     process)
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=120)
        inputs = sorted(os.listdir(ws.root))
        assert inputs == ["U.npy", "ck.rank0-of-1.npz", "ck.rank0-of-2.npz",
                          "ck.rank1-of-2.npz"], inputs
        # The 2-process set resumed by 1 process: its ck.rank0-of-1.npz is the
        # 1-process set's; hide it to see the missing-file line.
        os.rename(ws.path("ck.rank0-of-1.npz"), ws.path("one.npz"))
        result = run_mpi(1, *long_fit, "-o", ws.path("m.npz"), "--resume", checkpoint)
        check_one_failure(result, ws, inputs[:1] + ["ck.rank0-of-2.npz", "ck.rank1-of-2.npz",
                                                    "one.npz"],
                          ["mdnmf-mpi fit: ", "ck.rank0-of-1.npz"], code=1)
        # A 2-process file under the 1-process name: refused by its fingerprint.
        shutil.copy(ws.path("ck.rank0-of-2.npz"), ws.path("ck.rank0-of-1.npz"))
        result = run_mpi(1, *long_fit, "-o", ws.path("m.npz"), "--resume", checkpoint)
        line = check_one_failure(result, ws, inputs[:1] + ["ck.rank0-of-1.npz",
                                                           "ck.rank0-of-2.npz",
                                                           "ck.rank1-of-2.npz", "one.npz"],
                                 ["mdnmf-mpi fit: ", "another run"], code=1)
        print(f"     {line}")


class Skip(Exception):
    """A test whose data is not on this machine: reported, not failed."""


def run_tests(namespace):
    """Every test_* of `namespace` (after a check for mpirun), each reported."""
    if shutil.which("mpirun") is None:
        print("mpirun not found: skipped")
        sys.exit(77)
    failed = skipped = 0
    tests = [(n, f) for n, f in namespace.items() if n.startswith("test_") and callable(f)]
    for name, test in tests:
        try:
            test()
            print(f"ok   {name}")
        except Skip as why:
            skipped += 1
            print(f"skip {name}: {why}")
        except Exception:
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc(file=sys.stdout)
    print(f"{len(tests) - failed - skipped} passed, {skipped} skipped, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    run_tests(globals())
