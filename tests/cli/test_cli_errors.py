"""Bad input to `mdnmf`: every case must fail with the documented exit code
(1 runtime/data error, 2 usage error), exactly one stderr line naming the
file or option at fault, and nothing left in the output folder (neither the
output nor a temporary file)."""

import os
import signal
import subprocess
import time

import numpy as np

from cli_harness import Workspace, expect_failure, random_data, run, run_tests, binary

RUNTIME, USAGE = 1, 2


def fit_fails(ws, data_path, code, *mentions, extra=(), d=5):
    """Run a fit of `data_path` with a loss log and check it leaves nothing."""
    result = run("fit", "-i", data_path, "-d", d, "-o", ws.out("model.npz"),
                 "--loss-log", ws.out("loss.csv"), "--epochs", 3, *extra)
    line = expect_failure(result, code, *mentions)
    assert ws.leftovers() == [], ws.leftovers()
    return line


def data_with(value, row=3, col=17):
    data = random_data()
    data[row, col] = value
    return data


# ------------------------------------------------------------- bad data

def test_negative_entry():
    with Workspace() as ws:
        path = ws.save("negative.npy", data_with(-1.0))
        line = fit_fails(ws, path, RUNTIME, "negative.npy", "negative")
        assert "sample 3" in line and "feature 17" in line, line


def test_nan_entry():
    with Workspace() as ws:
        path = ws.save("nan.npy", data_with(np.nan))
        line = fit_fails(ws, path, RUNTIME, "nan.npy", "NaN")
        assert "sample 3" in line and "feature 17" in line, line


def test_infinite_entry():
    with Workspace() as ws:
        path = ws.save("inf.npy", data_with(np.inf))
        line = fit_fails(ws, path, RUNTIME, "inf.npy", "infinite")
        assert "sample 3" in line and "feature 17" in line, line


def test_empty_no_samples():
    with Workspace() as ws:
        path = ws.save("no_samples.npy", np.zeros((0, 5), np.float32))
        fit_fails(ws, path, RUNTIME, "no_samples.npy", "empty")


def test_empty_no_features():
    with Workspace() as ws:
        path = ws.save("no_features.npy", np.zeros((5, 0), np.float32))
        fit_fails(ws, path, RUNTIME, "no_features.npy", "empty")


def test_more_atoms_than_samples_with_exemplar_init():
    with Workspace() as ws:
        path = ws.save("u.npy", random_data(rows=30))
        fit_fails(ws, path, RUNTIME, "u.npy", "31", "30", d=31)


def test_adversarial_data_with_other_feature_count():
    with Workspace() as ws:
        path = ws.save("u.npy", random_data(cols=40))
        adv = ws.save("adv.npy", random_data(rows=20, cols=39, seed=1))
        fit_fails(ws, path, RUNTIME, "adv.npy", "39", "40", extra=("-a", adv))


def test_negative_adversarial_entry_names_the_adversarial_file():
    with Workspace() as ws:
        path = ws.save("u.npy", random_data())
        adv_data = random_data(rows=20, seed=1)
        adv_data[2, 4] = -0.5
        adv = ws.save("adv.npy", adv_data)
        fit_fails(ws, path, RUNTIME, "adv.npy", "negative", extra=("-a", adv))


def test_adversarial_weights_of_wrong_length():
    with Workspace() as ws:
        path = ws.save("u.npy", random_data())
        adv = ws.save("adv.npy", random_data(rows=20, seed=1))
        weights = ws.save("weights.npy", np.ones(19, np.float32))
        fit_fails(ws, path, RUNTIME, "weights.npy", "19", "20",
                  extra=("-a", adv, "--adv-weights", weights))


def test_negative_adversarial_weight():
    with Workspace() as ws:
        path = ws.save("u.npy", random_data())
        adv = ws.save("adv.npy", random_data(rows=20, seed=1))
        omega = np.ones(20, np.float32)
        omega[7] = -1.0
        weights = ws.save("weights.npy", omega)
        fit_fails(ws, path, RUNTIME, "weights.npy", "7",
                  extra=("-a", adv, "--adv-weights", weights))


# ----------------------------------------------------------- bad files

def test_truncated_npy():
    with Workspace() as ws:
        good = ws.save("whole.npy", random_data())
        with open(good, "rb") as f:
            data = f.read()
        path = ws.write("truncated.npy", data[:-100])
        fit_fails(ws, path, RUNTIME, "truncated.npy", "truncated")


def test_truncated_header():
    with Workspace() as ws:
        good = ws.save("whole.npy", random_data())
        with open(good, "rb") as f:
            data = f.read()
        path = ws.write("cut.npy", data[:40])
        fit_fails(ws, path, RUNTIME, "cut.npy")


def test_text_file_instead_of_npy():
    with Workspace() as ws:
        path = ws.write("notes.npy", "0.1 0.2 0.3\n0.4 0.5 0.6\n")
        fit_fails(ws, path, RUNTIME, "notes.npy", "not a .npy")


def test_missing_input_file():
    with Workspace() as ws:
        fit_fails(ws, os.path.join(ws.inputs, "absent.npy"), RUNTIME, "absent.npy")


def test_complex_dtype():
    with Workspace() as ws:
        path = ws.save("complex.npy", random_data().astype(np.complex64))
        fit_fails(ws, path, RUNTIME, "complex.npy", "complex")


def test_object_dtype():
    with Workspace() as ws:
        path = ws.save("object.npy", random_data().astype(object), allow_pickle=True)
        fit_fails(ws, path, RUNTIME, "object.npy", "object")


def test_string_dtype():
    with Workspace() as ws:
        path = ws.save("strings.npy", random_data().astype(str))
        fit_fails(ws, path, RUNTIME, "strings.npy", "string")


def test_three_dimensional_array():
    with Workspace() as ws:
        path = ws.save("cube.npy", np.ones((3, 4, 5), np.float32))
        fit_fails(ws, path, RUNTIME, "cube.npy")


def test_warm_start_with_other_atom_count():
    with Workspace() as ws:
        data, model = ws.fit_model(d=4, model="warm.npz")
        result = run("fit", "-i", data, "-d", 5, "-o", ws.out("model.npz"),
                     "--warm-start", model)
        expect_failure(result, RUNTIME, "warm.npz", "4", "5")
        assert ws.leftovers() == ["warm.npz"], ws.leftovers()


def test_warm_start_with_other_feature_count():
    with Workspace() as ws:
        _, model = ws.fit_model(d=5, model="warm.npz")
        data = ws.save("narrow.npy", random_data(cols=39))
        result = run("fit", "-i", data, "-d", 5, "-o", ws.out("model.npz"),
                     "--warm-start", model)
        expect_failure(result, RUNTIME, "narrow.npy", "warm.npz", "39", "40")
        assert ws.leftovers() == ["warm.npz"], ws.leftovers()


def test_warm_start_from_a_file_that_is_not_a_model():
    with Workspace() as ws:
        data = ws.save("u.npy", random_data())
        result = run("fit", "-i", data, "-d", 5, "-o", ws.out("model.npz"),
                     "--warm-start", data)
        expect_failure(result, RUNTIME, "u.npy")
        assert ws.leftovers() == []


def test_transform_data_with_other_feature_count():
    with Workspace() as ws:
        _, model = ws.fit_model()
        narrow = ws.save("narrow.npy", random_data(cols=39))
        result = run("transform", "-m", model, "-i", narrow, "-o", ws.out("h.npy"))
        expect_failure(result, RUNTIME, "narrow.npy", "39", "40")
        assert ws.leftovers() == ["model.npz"], ws.leftovers()


def test_transform_negative_data():
    with Workspace() as ws:
        _, model = ws.fit_model()
        bad = ws.save("bad.npy", data_with(-2.0))
        result = run("transform", "-m", model, "-i", bad, "-o", ws.out("h.npy"))
        expect_failure(result, RUNTIME, "bad.npy", "negative")
        assert ws.leftovers() == ["model.npz"], ws.leftovers()


def test_score_of_missing_model():
    with Workspace() as ws:
        data = ws.save("u.npy", random_data())
        result = run("score", "-m", ws.out("absent.npz"), "-i", data)
        expect_failure(result, RUNTIME, "absent.npz")


# ------------------------------------------------------- bad outputs

def test_missing_output_folder():
    with Workspace() as ws:
        data = ws.save("u.npy", random_data())
        target = os.path.join(ws.outputs, "missing", "model.npz")
        result = run("fit", "-i", data, "-d", 5, "-o", target)
        expect_failure(result, RUNTIME, os.path.join(ws.outputs, "missing"))
        assert ws.leftovers() == []


def test_unwritable_output_folder():
    # Tests run as root, which chmod does not stop: a regular file used as
    # a folder is refused to everyone.
    with Workspace() as ws:
        data = ws.save("u.npy", random_data())
        blocker = ws.out("plain-file")
        open(blocker, "w").close()
        result = run("fit", "-i", data, "-d", 5, "-o", os.path.join(blocker, "model.npz"))
        expect_failure(result, RUNTIME, blocker)
        assert ws.leftovers() == ["plain-file"], ws.leftovers()


def test_unwritable_output_fails_before_the_fit():
    # Ten million epochs would take minutes: failing within seconds proves
    # the folder is checked before the fit starts.
    with Workspace() as ws:
        data = ws.save("u.npy", random_data())
        blocker = ws.out("plain-file")
        open(blocker, "w").close()
        started = time.monotonic()
        result = run("fit", "-i", data, "-d", 5, "--epochs", 10_000_000,
                     "-o", os.path.join(blocker, "model.npz"), timeout=60)
        expect_failure(result, RUNTIME, blocker)
        assert time.monotonic() - started < 10


def test_unwritable_loss_log_folder():
    with Workspace() as ws:
        data = ws.save("u.npy", random_data())
        blocker = ws.out("plain-file")
        open(blocker, "w").close()
        result = run("fit", "-i", data, "-d", 5, "-o", ws.out("model.npz"),
                     "--loss-log", os.path.join(blocker, "loss.csv"))
        expect_failure(result, RUNTIME, blocker)
        assert ws.leftovers() == ["plain-file"], ws.leftovers()


def test_output_is_a_folder():
    with Workspace() as ws:
        data = ws.save("u.npy", random_data())
        os.mkdir(ws.out("taken"))
        result = run("fit", "-i", data, "-d", 5, "-o", ws.out("taken"))
        expect_failure(result, RUNTIME, "taken")
        assert ws.leftovers() == ["taken"] and os.listdir(ws.out("taken")) == []


def test_transform_into_missing_folder():
    with Workspace() as ws:
        _, model = ws.fit_model()
        data = os.path.join(ws.inputs, "u.npy")
        result = run("transform", "-m", model, "-i", data,
                     "-o", os.path.join(ws.outputs, "missing", "h.npy"))
        expect_failure(result, RUNTIME, "missing")
        assert ws.leftovers() == ["model.npz"]


# ------------------------------------------------------ command line

def test_unknown_option():
    result = run("fit", "--foo")
    line = expect_failure(result, USAGE)
    assert line == "mdnmf: unknown option '--foo' (see 'mdnmf fit --help')", line


def test_unknown_short_option():
    result = run("transform", "-x")
    line = expect_failure(result, USAGE)
    assert line == "mdnmf: unknown option '-x' (see 'mdnmf transform --help')", line


def test_unknown_command():
    expect_failure(run("frobnicate"), USAGE, "unknown command", "'frobnicate'",
                   "mdnmf --help")


def test_unknown_top_level_option():
    expect_failure(run("--frobnicate"), USAGE, "unknown option '--frobnicate'")


def test_no_command():
    result = run()
    assert result.returncode == USAGE
    assert "usage: mdnmf" in result.stderr


def test_epochs_not_a_number():
    with Workspace() as ws:
        data = ws.save("u.npy", random_data())
        result = run("fit", "-i", data, "-d", 5, "-o", ws.out("m.npz"), "--epochs", "abc")
        expect_failure(result, USAGE, "--epochs", "'abc'")
        assert ws.leftovers() == []


def test_negative_tau_a():
    with Workspace() as ws:
        data = ws.save("u.npy", random_data())
        result = run("fit", "-i", data, "-d", 5, "-o", ws.out("m.npz"), "--tau-a", "-1")
        expect_failure(result, USAGE, "--tau-a", "-1")
        assert ws.leftovers() == []


def test_missing_option_value():
    expect_failure(run("fit", "-i", "u.npy", "--epochs"), USAGE, "--epochs")


def test_stray_operand():
    expect_failure(run("fit", "extra-word"), USAGE, "extra-word")


def test_missing_required_options():
    expect_failure(run("fit", "-d", 5, "-o", "m.npz"), USAGE, "-i")
    expect_failure(run("fit", "-i", "u.npy", "-d", 5), USAGE, "-o")
    expect_failure(run("fit", "-i", "u.npy", "-o", "m.npz"), USAGE, "-d")
    expect_failure(run("transform", "-i", "u.npy", "-o", "h.npy"), USAGE, "-m")
    expect_failure(run("score", "-m", "m.npz"), USAGE, "-i")


# Every numeric option refuses junk, out-of-range values, NaN and infinity
# with one line naming the option (table: option, bad value).
BAD_VALUES = [
    ("--epochs", "5x"), ("--epochs", "-1"), ("--epochs", "99999999999"), ("--epochs", ""),
    ("--epochs", " 5"), ("--epochs", "2.5"), ("--test-epochs", "-3"),
    ("--batch-size", "-1"), ("--batch-size", "1e3"), ("--adv-batch-size", "x"),
    ("--tau-a", "nan"), ("--tau-a", "inf"), ("--tau-a", "1e999"), ("--tau-a", "0.1.2"),
    ("--tau-w", "-0.5"), ("--mu-w", "-1e-3"), ("--mu-h", "NaN"),
    ("--seed", "-1"), ("--seed", "18446744073709551616"), ("--seed", "0x10"),
    ("--threads", "-2"), ("-d", "0"), ("-d", "many"),
    # issue 12: --threads 100000 was accepted and fit died of SIGSEGV inside libgomp
    ("--threads", "100000"), ("--threads", "257"),
    ("--init", "kmeans"), ("--true-sample", "max"), ("--method", "sup"),
]


def test_bad_numeric_and_choice_values():
    with Workspace() as ws:
        data = ws.save("u.npy", random_data())
        for option, value in BAD_VALUES:
            result = run("fit", "-i", data, "-d", 5, "-o", ws.out("m.npz"), option, value)
            expect_failure(result, USAGE, option, f"'{value}'")
        assert ws.leftovers() == []


def test_bad_transform_and_score_values():
    required = {"transform": ["-m", "m.npz", "-i", "u.npy", "-o", "h.npy"],
                "score": ["-m", "m.npz", "-i", "u.npy"]}
    for command, args in required.items():
        for option, value in [("--test-epochs", "abc"), ("--seed", "-5"),
                              ("--threads", "1.5"), ("--threads", "100000")]:
            result = run(command, *args, option, value)
            expect_failure(result, USAGE, option, f"'{value}'")


def test_conflicting_options():
    with Workspace() as ws:
        data = ws.save("u.npy", random_data())
        adv = ws.save("adv.npy", random_data(seed=1))
        weights = ws.save("w.npy", np.ones(30, np.float32))
        model = ws.out("m.npz")
        expect_failure(run("fit", "-i", data, "-d", 5, "-o", model, "--adv-weights", weights),
                       USAGE, "--adv-weights")
        expect_failure(run("fit", "-i", data, "-d", 5, "-o", model, "--method", "adv"),
                       USAGE, "--method adv")
        expect_failure(run("fit", "-i", data, "-a", adv, "-d", 5, "-o", model,
                           "--method", "std"), USAGE, "-a")
        expect_failure(run("fit", "-i", data, "-d", 5, "-o", model, "--method", "exemplar",
                           "--loss-log", ws.out("l.csv")), USAGE, "--loss-log")
        assert ws.leftovers() == []


# ----------------------------------------------------------- Ctrl-C

def test_interrupt_writes_nothing():
    with Workspace() as ws:
        data = ws.save("u.npy", random_data())
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        process = subprocess.Popen(
            [binary(), "fit", "-i", data, "-d", "5", "-o", ws.out("model.npz"),
             "--epochs", "100000000", "--loss-log", ws.out("loss.csv")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        # The handler is installed before the fit starts; rows in the loss
        # log's temporary file show the fit is running.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            temps = [os.path.join(ws.outputs, n) for n in ws.leftovers()]
            if any(os.path.getsize(t) > 200 for t in temps if os.path.exists(t)):
                break
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == 130, (process.returncode, stderr)
        lines = stderr.splitlines()
        assert len(lines) == 1 and "interrupted" in lines[0], lines
        assert ws.leftovers() == [], ws.leftovers()


if __name__ == "__main__":
    run_tests(globals())
