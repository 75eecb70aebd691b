"""Interrupted and resumed fits through the tool (docs/reliability.md,
"Interrupted and resumed fits"), with real signals:

- finding 5 of issue 12: SIGTERM or SIGHUP during `mdnmf fit --loss-log`,
  or SIGINT while the inputs are still being read, used to leave the loss
  log's hidden temporary file behind; now every such run exits 130 with
  nothing written;
- SIGTERM / SIGINT / SIGHUP with --checkpoint leave the checkpoint (and
  nothing else), and --resume finishes the fit with the uninterrupted
  run's model and loss log, bit for bit (fit, separator fit, denoise fit);
- a checkpoint of another run is refused, and the options' misuses are
  usage errors.

The library-level test (tests/unit/test_checkpoint.c) stops fits at every
epoch; these show the signals reach it."""

import os
import signal
import subprocess
import time

import numpy as np
import scipy.io.wavfile as wavfile

from cli_harness import (Workspace, binary, expect_failure, random_data, run, run_tests)

INTERRUPTED, RUNTIME, USAGE = 130, 1, 2


def start(*args):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    return subprocess.Popen([binary(), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def wait_for(condition, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def hidden_file_with_rows(ws):
    """The loss log's temporary file (".NAME.XXXXXX") has rows: the fit runs."""
    def check():
        for name in ws.leftovers():
            path = os.path.join(ws.outputs, name)
            if name.startswith(".") and os.path.exists(path) and os.path.getsize(path) > 200:
                return True
        return False
    return check


def finish(process):
    stdout, stderr = process.communicate(timeout=60)
    return process.returncode, stdout, stderr


# --------------------------------------------------- finding 5: no temporary files left

def interrupt_running_fit(sig):
    with Workspace() as ws:
        data = ws.save("u.npy", random_data())
        process = start("fit", "-i", data, "-d", 5, "-o", ws.out("model.npz"),
                        "--epochs", 100000000, "--loss-log", ws.out("loss.csv"))
        wait_for(hidden_file_with_rows(ws), "loss-log rows")
        process.send_signal(sig)
        code, stdout, stderr = finish(process)
        assert ws.leftovers() == [], ws.leftovers()
        assert code == INTERRUPTED, (code, stderr)
        lines = stderr.splitlines()
        assert len(lines) == 1 and f"interrupted by {sig.name}" in lines[0], lines


def test_sigterm_during_fit_leaves_no_temporary_log():
    interrupt_running_fit(signal.SIGTERM)


def test_sighup_during_fit_leaves_no_temporary_log():
    interrupt_running_fit(signal.SIGHUP)


def feed_fifo(fifo, source):
    """Write the file into the FIFO if the tool still reads it."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # no reader: the tool is gone
        return
    os.set_blocking(fd, True)
    try:
        with open(source, "rb") as g:
            os.write(fd, g.read())
    except BrokenPipeError:
        pass
    finally:
        os.close(fd)


def test_sigint_while_reading_inputs_leaves_no_temporary_log():
    # The input is a FIFO: the tool blocks reading it, with the loss log's
    # temporary file already open, until the test writes the data.
    with Workspace() as ws:
        source = ws.save("u.npy", random_data())
        fifo = os.path.join(ws.inputs, "fifo.npy")
        os.mkfifo(fifo)
        process = start("fit", "-i", fifo, "-d", 5, "-o", ws.out("model.npz"),
                        "--epochs", 5, "--loss-log", ws.out("loss.csv"))
        wait_for(lambda: ws.leftovers() != [], "the temporary loss log")
        time.sleep(0.2)  # blocked in open() of the FIFO
        process.send_signal(signal.SIGINT)
        time.sleep(0.2)
        feed_fifo(fifo, source)
        code, stdout, stderr = finish(process)
        assert ws.leftovers() == [], ws.leftovers()
        assert code == INTERRUPTED, (code, stderr)
        assert "interrupted by SIGINT: nothing written" in stderr, stderr


def test_second_signal_gets_the_default_action():
    with Workspace() as ws:
        source = ws.save("u.npy", random_data())
        fifo = os.path.join(ws.inputs, "fifo.npy")
        os.mkfifo(fifo)
        process = start("fit", "-i", fifo, "-d", 5, "-o", ws.out("model.npz"))
        time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        code, _, _ = finish(process)
        assert code == -signal.SIGTERM, code
        assert ws.leftovers() == [], ws.leftovers()
        del source


# --------------------------------------------------- checkpoints and resumes

def checkpoint_position(path):
    with np.load(path) as z:
        return [int(v) for v in z["position"]]


def interrupt_and_resume(ws, command, sig, outputs_of, epochs):
    """Run `command` (a list; -o and --loss-log added) uninterrupted, then
    again with --checkpoint stopped by `sig` after its first checkpoint,
    then resumed: the resumed model and loss log equal the uninterrupted
    ones.  `outputs_of(path)` reads what is compared of a model."""
    reference, reference_log = ws.out("reference.npz"), ws.out("reference.csv")
    result = run(*command, "-o", reference, "--loss-log", reference_log, timeout=300)
    assert result.returncode == 0, result.stderr
    checkpoint = os.path.join(ws.inputs, "fit.ckpt.npz")
    model, log = ws.out("model.npz"), ws.out("loss.csv")
    process = start(*command, "-o", model, "--loss-log", log, "--checkpoint", checkpoint,
                    "--checkpoint-every", 1)
    wait_for(lambda: os.path.exists(checkpoint), "the first checkpoint", timeout=120)
    process.send_signal(sig)
    code, _, stderr = finish(process)
    assert code == INTERRUPTED, (code, stderr)
    assert f"interrupted by {sig.name}: checkpoint written to {checkpoint}" in stderr, stderr
    # Nothing but the two finished outputs of the reference run.
    assert sorted(ws.leftovers()) == ["reference.csv", "reference.npz"], ws.leftovers()
    stage, epoch = checkpoint_position(checkpoint)
    assert epoch < epochs or stage > 0, (stage, epoch)
    result = run(*command, "-o", model, "--loss-log", log, "--checkpoint", checkpoint,
                 "--resume", checkpoint, timeout=300)
    assert result.returncode == 0, result.stderr
    for name, array in outputs_of(reference).items():
        assert np.array_equal(array, outputs_of(model)[name]), name
    with open(reference_log) as a, open(log) as b:
        assert a.read() == b.read()
    assert not os.path.exists(checkpoint)  # the fit is done: removed
    return stage, epoch


def basis(path):
    with np.load(path) as z:
        return {"W": z["W"], "components": z["components"], "mu_H": z["mu_H"]}


def test_sigterm_then_resume_fit_bit_identical():
    with Workspace() as ws:
        data = ws.save("u.npy", random_data(2000, 50, seed=3))
        adv = ws.save("adv.npy", random_data(1500, 50, seed=4))
        epochs = 1500
        interrupt_and_resume(ws, ["fit", "-i", data, "-a", adv, "-d", 8, "--epochs", epochs,
                                  "--batch-size", 100, "--adv-batch-size", 150,
                                  "--threads", 1, "-q"],
                             signal.SIGTERM, basis, epochs)


def test_sigint_then_resume_separator_fit_bit_identical():
    with Workspace() as ws:
        sources = [ws.save(f"u{s}.npy", random_data(1200, 40, seed=10 + s)) for s in range(2)]
        mixed = ws.save("v.npy", random_data(800, 40, seed=20) * 2)
        epochs = 800
        interrupt_and_resume(ws, ["separator", "fit", "--mode", "adv", "--source", sources[0],
                                  "--source", sources[1], "--mixed", mixed, "-d", "6,4",
                                  "--epochs", epochs, "--warm-start-epochs", 3,
                                  "--batch-size", 100, "--threads", 1, "-q"],
                             signal.SIGINT, basis, epochs)


def test_sighup_then_resume_denoise_fit_bit_identical():
    rate = 8000
    rng = np.random.default_rng(5)
    with Workspace() as ws:
        speech, noisy = [], []
        for k in range(2):
            t = np.arange(rate * 3) / rate
            clean = 0.3 * np.sin(2 * np.pi * (300 + 100 * k) * t) * (1 + np.sin(3 * t))
            path = os.path.join(ws.inputs, f"speech{k}.wav")
            wavfile.write(path, rate, clean.astype(np.float32))
            speech.append(path)
            path = os.path.join(ws.inputs, f"noisy{k}.wav")
            wavfile.write(path, rate, (clean + 0.1 * rng.standard_normal(t.size))
                          .astype(np.float32))
            noisy.append(path)
        epochs = 600
        interrupt_and_resume(ws, ["denoise", "fit", "--mode", "semi_adv",
                                  "--speech", speech[0], "--speech", speech[1],
                                  "--noisy", noisy[0], "--noisy", noisy[1], "-d", "16,8",
                                  "--n-fft", 256, "--epochs", epochs, "--test-epochs", 10,
                                  "--batch-size", 64, "--warm-start-epochs", 2, "--tau-a", 0.1,
                                  "--threads", 1, "-q"],
                             signal.SIGHUP, basis, epochs)


def test_checkpoint_of_another_run_is_refused():
    with Workspace() as ws:
        data = ws.save("u.npy", random_data(300, 20))
        checkpoint = os.path.join(ws.inputs, "fit.ckpt.npz")
        command = ["fit", "-i", data, "-d", 4, "--epochs", 200000, "--threads", 1, "-q",
                   "-o", ws.out("model.npz")]
        process = start(*command, "--checkpoint", checkpoint, "--checkpoint-every", 1)
        wait_for(lambda: os.path.exists(checkpoint), "the first checkpoint")
        process.send_signal(signal.SIGTERM)
        assert finish(process)[0] == INTERRUPTED
        before = open(checkpoint, "rb").read()
        expect_failure(run(*command, "--seed", 3, "--resume", checkpoint), RUNTIME,
                       checkpoint, "seed is 0 there but 3 here")
        other = ws.save("other.npy", random_data(300, 20, seed=9))
        expect_failure(run(*[other if a == data else a for a in command], "--resume",
                           checkpoint), RUNTIME, checkpoint, "data is")
        expect_failure(run(*command, "--threads", 2, "--resume", checkpoint), RUNTIME,
                       "threads is 1 there but 2 here")
        expect_failure(run(*command, "--init-h-steps", 2, "--resume", checkpoint), RUNTIME,
                       checkpoint, "init_H_steps")
        with open(checkpoint, "wb") as f:
            f.write(before[: len(before) // 2])
        expect_failure(run(*command, "--resume", checkpoint), RUNTIME, checkpoint,
                       "not a usable checkpoint")
        expect_failure(run(*command, "--resume", ws.out("missing.npz")), RUNTIME,
                       "missing.npz", "cannot open the checkpoint")
        assert ws.leftovers() == [], ws.leftovers()


def test_checkpoint_option_misuse_is_a_usage_error():
    with Workspace() as ws:
        data = ws.save("u.npy", random_data())
        model = ws.out("model.npz")
        base = ["fit", "-i", data, "-d", 5, "-o", model]
        expect_failure(run(*base, "--checkpoint-every", 3), USAGE, "--checkpoint-every")
        expect_failure(run(*base, "--resume", model), USAGE, "--resume", "-o")
        # the outputs among themselves: compared as files (tests/cli/test_outputs.py)
        expect_failure(run(*base, "--checkpoint", model), 1, "--checkpoint", "-o",
                       "are one file")
        expect_failure(run(*base, "--method", "exemplar", "--checkpoint", ws.out("c.npz")),
                       USAGE, "--checkpoint")
        expect_failure(run(*base, "--checkpoint-every", 0, "--checkpoint", ws.out("c.npz")),
                       USAGE, "--checkpoint-every")
        expect_failure(run("separator", "fit", "--mode", "exem", "--source", data,
                           "--source", data, "-d", 2, "-o", model, "--resume",
                           ws.out("c.npz")), USAGE, "--resume")
        assert ws.leftovers() == [], ws.leftovers()


def test_help_documents_checkpoints_and_exit_codes():
    for command in (["fit"], ["separator", "fit"], ["denoise", "fit"]):
        text = run(*command, "--help").stdout
        for option in ("--checkpoint FILE.npz", "--checkpoint-every N", "--resume FILE.npz"):
            assert option in text, (command, option)
        assert "SIGTERM" in text and "130" in text, command


if __name__ == "__main__":
    run_tests(globals())
