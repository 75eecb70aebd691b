"""mdnmf-mpi separator fit and denoise fit against mdnmf (issue 16): with 1
and 2 processes (mpirun --oversubscribe) the separator equals the
one-process tool's to 1e-5 relative in the modes the library shards (std,
adv, exem), and so does the loss log; a mode the library refuses under a
shard is refused with its one line; a corrupt shard (a NaN in the second
process's rows of a source, a truncated source) stops every process with
one message and writes nothing.  denoise fit: the recordings split by file
between the processes give the one-process model to 1e-5 (Debian's
asterisk prompts and colobot effects; skipped without them).

Run by ctest when CMake found MPI (env MDNMF_MPI, MDNMF_BIN)."""

import glob
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_mpi import (TOLERANCE, Skip, Workspace, check_one_failure, data,  # noqa: E402
                      interrupt_and_resume_mpi, read_loss_log, relative, run_mdnmf, run_mpi,
                      run_tests)

SPEAKER = "/usr/share/asterisk/sounds/en_US_f_Allison"
NOISE = "/usr/share/games/colobot/sounds"


def load(path):
    with np.load(path, allow_pickle=False) as z:
        return {name: z[name] for name in z.files}


def model_difference(reference_path, path):
    """Largest relative difference of the float arrays; everything else equal."""
    ref, got = load(reference_path), load(path)
    assert sorted(ref) == sorted(got), (sorted(ref), sorted(got))
    worst = 0.0
    for name, a in ref.items():
        b = got[name]
        assert a.shape == b.shape and a.dtype == b.dtype, name
        if a.dtype.kind == "f" and a.size and np.any(a):
            worst = max(worst, relative(a, b))
        elif a.dtype.kind in "US":
            assert json.loads(str(a)) == json.loads(str(b)) if str(a).startswith("{") \
                else str(a) == str(b), name
        else:
            assert np.array_equal(a, b), name
    return worst


def compare(command, args, label, loss_log=False):
    with Workspace() as ws:
        files = args(ws)
        reference = ws.path("ref.npz")
        log = ["--loss-log", ws.path("ref.csv")] if loss_log else []
        result = run_mdnmf(*command, *files, "-o", reference, "-q", *log)
        assert result.returncode == 0, result.stderr
        for processes in (1, 2):
            out = ws.path(f"mpi{processes}.npz")
            log = ["--loss-log", ws.path(f"mpi{processes}.csv")] if loss_log else []
            result = run_mpi(processes, *command, *files, "-o", out, "-q", *log)
            assert result.returncode == 0, result.stderr
            assert result.stderr == "", result.stderr
            error = model_difference(reference, out)
            line = f"     {label}, {processes} processes: model {error:.2e}"
            if loss_log:
                header, want = read_loss_log(ws.path("ref.csv"))
                got_header, got = read_loss_log(ws.path(f"mpi{processes}.csv"))
                assert got_header == header and got.shape == want.shape
                assert np.array_equal(got[:, :2], want[:, :2])  # stage, epoch
                values = np.abs(want[:, 2:]) > 0
                losses = float(np.max(np.abs(got[:, 2:] - want[:, 2:])[values] /
                                      np.abs(want[:, 2:])[values]))
                line += f", loss log {losses:.2e}"
                assert losses <= TOLERANCE, losses
            print(line)
            assert error <= TOLERANCE, error


def two_digits(ws):
    return ["--source", ws.save("U0.npy", data("digit3.npy", 181, 1)),
            "--source", ws.save("U1.npy", data("digit5.npy", 150, 2))]


SETTINGS = ["-d", "6,5", "--epochs", 4, "--batch-size", 40, "--adv-batch-size", 50,
            "--seed", 6, "--warm-start-epochs", 2]


def test_separator_fit_adv_matches_mdnmf():
    compare(["separator", "fit", "--mode", "adv", *SETTINGS, "--tau-a", "0.3,0.2"],
            lambda ws: two_digits(ws) + ["--mixed", ws.save("V.npy", data("digit8.npy", 97, 3))],
            "adv", loss_log=True)


def test_separator_fit_std_and_exem_match_mdnmf():
    compare(["separator", "fit", "--mode", "std", *SETTINGS], two_digits, "std", loss_log=True)
    compare(["separator", "fit", "--mode", "exem", "-d", "6,5", "--seed", 6], two_digits,
            "exem")


def pairs(ws):
    """Paired clean digits and their sums (row j of each belongs to pair j)."""
    S0, S1 = data("digit0.npy", 77, 4), data("digit7.npy", 77, 5)
    return ["--sup-source", ws.save("S0.npy", S0), "--sup-source", ws.save("S1.npy", S1),
            "--sup-mixed", ws.save("VS.npy", S0 + S1)]


def mixtures(ws):
    return ["--mixed", ws.save("V.npy", data("digit8.npy", 97, 3))]


def test_separator_fit_joint_modes_match_mdnmf():
    compare(["separator", "fit", "--mode", "semi", *SETTINGS],
            lambda ws: two_digits(ws)[:2] + mixtures(ws), "semi", loss_log=True)
    compare(["separator", "fit", "--mode", "semi_adv", *SETTINGS, "--tau-a", "0.2"],
            lambda ws: two_digits(ws)[:2] + mixtures(ws), "semi_adv")
    compare(["separator", "fit", "--mode", "sup", *SETTINGS, "--sup-batch-size", 30], pairs,
            "sup")
    compare(["separator", "fit", "--mode", "full", *SETTINGS, "--sup-batch-size", 30,
             "--tau-a", "0.2"], lambda ws: two_digits(ws) + mixtures(ws) + pairs(ws), "full",
            loss_log=True)


def test_refused_options_say_the_library_line_once():
    for option, word in ((["--divergence", "kl"], "Frobenius"),):
        with Workspace() as ws:
            files = two_digits(ws)
            result = run_mpi(2, "separator", "fit", "--mode", "adv", *SETTINGS, *files,
                             *option, "-o", ws.path("m.npz"), "--loss-log", ws.path("l.csv"))
            line = check_one_failure(result, ws, ["U0.npy", "U1.npy"],
                                     ["mdnmf-mpi separator fit: ", word], code=2)
            print(f"     {line}")


def test_sigterm_then_resume_semi_adv_two_processes_bit_identical():
    """Checkpoints of a sharded separator fit (docs/distributed.md
    "Checkpoints of sharded fits"): stopped by SIGTERM, resumed."""
    with Workspace() as ws:
        files = two_digits(ws)[:2] + mixtures(ws)
        epochs = 1000
        at = interrupt_and_resume_mpi(ws, ["separator", "fit", "--mode", "semi_adv", "-d", "6,5",
                                           "--epochs", epochs, "--batch-size", 40,
                                           "--adv-batch-size", 50, "--seed", 6,
                                           "--tau-a", "0.2", "-q", *files], epochs)
        print(f"     resumed at stage {at[0]}, epoch {at[1]}")


def test_corrupt_source_shard_stops_every_process_with_one_message():
    U1 = data("digit5.npy", 150, 2)
    U1[120, 9] = np.nan  # rows [75, 150) are the second process's
    with Workspace() as ws:
        files = two_digits(ws)[:2] + ["--source", ws.save("U1.npy", U1)]
        result = run_mpi(2, "separator", "fit", "--mode", "adv", *SETTINGS, *files,
                         "-o", ws.path("m.npz"), "--loss-log", ws.path("l.csv"))
        check_one_failure(result, ws, ["U0.npy", "U1.npy"],
                          ["mdnmf-mpi separator fit: ", "U1.npy", "NaN", "at sample 120 (row 120"])
        # Truncated: the second process's rows are missing.
        path = ws.path("U1.npy")
        np.save(path, data("digit5.npy", 150, 2))
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) - 784 * 4 * 5)
        result = run_mpi(2, "separator", "fit", "--mode", "adv", *SETTINGS, *files,
                         "-o", ws.path("m.npz"), "--loss-log", ws.path("l.csv"))
        check_one_failure(result, ws, ["U0.npy", "U1.npy"],
                          ["mdnmf-mpi separator fit: ", "U1.npy", "truncated"])


def recordings(ws):
    """Five short digit prompts (speech) and four colobot effects (noise):
    with 2 processes the groups split 2 + 3 and 2 + 2 files."""
    digits = os.path.join(SPEAKER, "digits")
    if not os.path.isdir(digits) or not os.path.isdir(NOISE):
        if os.environ.get("MDNMF_REQUIRE_SPEECH") == "1":
            raise AssertionError("the Debian recordings are missing: run "
                                 "scripts/fetch-speech.sh")
        raise Skip("no asterisk/colobot recordings (scripts/fetch-speech.sh installs them)")
    speech, noise = ws.path("speech"), ws.path("noise")
    os.makedirs(speech), os.makedirs(noise)
    for name in ["1.wav", "2.wav", "3.wav", "4.wav", "5.wav"]:
        shutil.copy(os.path.join(digits, name), speech)
    for path in sorted(glob.glob(os.path.join(NOISE, "*.wav")))[:4]:
        shutil.copy(path, noise)
    return ["--speech", speech, "--noise", noise]


DENOISE = ["-d", "12,6", "--n-fft", 256, "--hop-length", 128, "--sample-rate", 8000,
           "--epochs", 6, "--batch-size", 200, "--seed", 3]


def test_denoise_fit_split_by_file_matches_mdnmf():
    compare(["denoise", "fit", "--mode", "std", *DENOISE], recordings, "denoise std")
    compare(["denoise", "fit", "--mode", "adv", *DENOISE, "--tau-a", "0.2"], recordings,
            "denoise adv", loss_log=True)
    compare(["denoise", "fit", "--mode", "semi_adv", *DENOISE], noisy_recordings,
            "denoise semi_adv", loss_log=True)


def noisy_recordings(ws):
    """The semi modes learn the noise from --noisy recordings (here the effects)."""
    files = recordings(ws)
    return ["--speech", files[1], "--noisy", files[3]]


def test_sigterm_then_resume_denoise_fit_two_processes_bit_identical():
    with Workspace() as ws:
        files = recordings(ws)
        epochs = 3000  # the run must outlast the signal's way through mpirun
        settings = ["-d", "12,6", "--n-fft", 256, "--hop-length", 128, "--sample-rate", 8000,
                    "--epochs", epochs, "--batch-size", 200, "--seed", 3]
        at = interrupt_and_resume_mpi(ws, ["denoise", "fit", "--mode", "adv", *settings,
                                           "--tau-a", "0.2", "-q", *files], epochs)
        print(f"     resumed at stage {at[0]}, epoch {at[1]}")


def test_denoise_notes_count_every_process_files():
    with Workspace() as ws:
        files = recordings(ws)
        args = ["denoise", "fit", "--mode", "std", *DENOISE[:-4], "--epochs", 1, *files]
        result = run_mdnmf(*args, "-o", ws.path("ref.npz"))
        assert result.returncode == 0 and "resampled" in result.stderr, result.stderr
        result2 = run_mpi(2, *args, "-o", ws.path("m.npz"))
        assert result2.returncode == 0, result2.stderr
        assert result2.stderr == result.stderr.replace("mdnmf ", "mdnmf-mpi "), result2.stderr


if __name__ == "__main__":
    run_tests(globals())
