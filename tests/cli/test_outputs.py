"""Where outputs go (docs/reliability.md, "Outputs and inputs").

No command writes an output onto one of its inputs: the same file under
another spelling, through a symbolic link or a hard link is refused with one
line, exit 1, and every input is left byte for byte as it was (issue 12,
finding 1: `denoise apply -o .` in the recordings' folder replaced them).

Special destinations (finding 2): a FIFO, a device node, a folder, a link to
one of them or to nothing are refused and stay what they were (they used to
be renamed over, i.e. replaced by a regular file); a link to a regular file
is followed (the target gets the new contents, the link stays); "-" writes a
single-file output to standard output, with write errors reported.

Also: `data idx --scale` that would write +inf or zeros is a usage error
(finding 6), float options that overflow float32 are usage errors, and
`eval --metric sisdr` with a silent reference names the reference
(finding 7).

The tests never name a real device: a device node is made inside the test's
own folder (as root only), so an old binary that renames over destinations
cannot harm the machine."""

import json
import os
import stat
import struct
import subprocess

import numpy as np
import scipy.io.wavfile as wavfile

from cli_harness import Workspace, binary, expect_failure, random_data, run, run_tests

RUNTIME, USAGE = 1, 2
RATE = 8000
FRONT_END = ["--n-fft", 256, "--hop-length", 128]


# ------------------------------------------------------------------ helpers


def snapshot(folder):
    """Every entry below `folder`: a regular file's bytes, a link's target,
    or the kind of a special file (lstat: links are not followed)."""
    state = {}
    for base, folders, files in os.walk(folder):
        for name in folders + files:
            path = os.path.join(base, name)
            info = os.lstat(path)
            key = os.path.relpath(path, folder)
            if stat.S_ISLNK(info.st_mode):
                state[key] = ("link", os.readlink(path))
            elif stat.S_ISREG(info.st_mode):
                with open(path, "rb") as file:
                    state[key] = ("file", file.read())
            else:
                state[key] = ("special", stat.S_IFMT(info.st_mode), info.st_rdev)
    return state


def run_bytes(*args, cwd=None, stdout=subprocess.PIPE):
    """Run `mdnmf ARGS...` with binary standard output (or `stdout` a file)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    return subprocess.run([binary(), *map(str, args)], stdout=stdout, stderr=subprocess.PIPE,
                          cwd=cwd, env=env, timeout=120)


def write_wav(path, x, rate=RATE):
    wavfile.write(path, rate, np.asarray(x, dtype=np.float32))
    return path


def tone_recordings(folder):
    t = np.arange(RATE) / RATE
    speech = 0.5 * np.sin(2 * np.pi * 440 * t) * (t < 0.5)
    noisy = speech + 0.1 * np.random.default_rng(0).standard_normal(RATE)
    return (write_wav(os.path.join(folder, "tone.wav"), speech + 0.01),
            write_wav(os.path.join(folder, "tone-noisy.wav"), noisy))


def denoise_model(ws):
    """A small semi denoising model (kept outside in/ and out/)."""
    speech, noisy = tone_recordings(ws.inputs)
    model = os.path.join(ws.root, "denoise.npz")
    result = run("denoise", "fit", "--mode", "semi", "--speech", speech, "--noisy", noisy,
                 "-o", model, *FRONT_END, "-d", "4,4", "--epochs", 5, "-q")
    assert result.returncode == 0, result.stderr
    return model, noisy


def idx_images(ws, count=12, rows=4, cols=5, name="images-idx3-ubyte"):
    images = np.random.default_rng(3).integers(0, 256, size=(count, rows, cols), dtype=np.uint8)
    images[0, 0, 0] = 255
    images[0, 0, 1] = 1
    header = struct.pack(">BBBB", 0, 0, 0x08, 3) + struct.pack(">III", count, rows, cols)
    return ws.write(name, header + images.tobytes()), images


def fitted(ws, name="model.npz"):
    """u.npy and a model of it, both in in/."""
    data = ws.save("u.npy", random_data())
    model = os.path.join(ws.inputs, name)
    result = run("fit", "-i", data, "-d", 3, "-o", model, "--epochs", 2, "-q")
    assert result.returncode == 0, result.stderr
    return data, model


def refused_and_untouched(ws, args, code, *mentions, cwd=None):
    """The command fails with one line naming `mentions`, and nothing under
    the workspace changed (inputs intact, no output, no temporary file)."""
    before = snapshot(ws.root)
    line = expect_failure(run(*args, cwd=cwd), code, *mentions)
    after = snapshot(ws.root)
    assert after == before, sorted(set(after.items()) ^ set(before.items()))[:4]
    return line


# ------------------------------------------------------ outputs onto inputs


def test_denoise_apply_in_the_recordings_own_folder_keeps_them():
    """Finding 1: `denoise apply -o .` run beside noisy.wav replaced it."""
    with Workspace() as ws:
        model, noisy = denoise_model(ws)
        name = os.path.basename(noisy)
        line = refused_and_untouched(ws, ["denoise", "apply", "-m", model, "-o", ".", name],
                                     RUNTIME, name, "another -o folder", cwd=ws.inputs)
        assert "folder of the input" in line, line
        # The same folder by any name, or a file of it named through a link.
        for outdir in (ws.inputs, ws.inputs + "/", os.path.join(ws.outputs, "..", "in")):
            refused_and_untouched(ws, ["denoise", "apply", "-m", model, "-o", outdir, noisy],
                                  RUNTIME, "tone-noisy.wav", "another -o folder")
        os.symlink(noisy, os.path.join(ws.outputs, "linked.wav"))
        refused_and_untouched(ws, ["denoise", "apply", "-m", model, "-o", ws.inputs,
                                   os.path.join(ws.outputs, "linked.wav")],
                              RUNTIME, "linked.wav", "another -o folder")
        # The model's own folder is a fine -o: no output is named after it.
        result = run("denoise", "apply", "-m", model, "-o", ".", noisy, "-q", cwd=ws.root)
        assert result.returncode == 0, result.stderr
        assert os.path.isfile(os.path.join(ws.root, "tone-noisy.wav"))


def test_denoise_apply_output_that_is_a_link_to_the_recording():
    with Workspace() as ws:
        model, noisy = denoise_model(ws)
        os.symlink(noisy, ws.out("tone-noisy.wav"))
        refused_and_untouched(ws, ["denoise", "apply", "-m", model, "-o", ws.outputs, noisy],
                              RUNTIME, "is the input file", "tone-noisy.wav")


def output_onto_input_cases(ws):
    """(command line, the input's name it must mention) per way of writing
    an output onto an input."""
    data, model = fitted(ws)
    images, _ = idx_images(ws)
    other = ws.save("v.npy", random_data(seed=1))
    mixed = ws.save("p-mix.npy", random_data(seed=2))
    estimate = ws.save("e0.npy", random_data(seed=3))
    spec = ws.write("spec.json", json.dumps({"d": {"distribution": "choice",
                                                    "values": [2]}}))
    speech, noisy = tone_recordings(ws.inputs)
    hard = ws.out("hard.npy")
    os.link(data, hard)
    link = ws.out("link.npy")
    os.symlink(data, link)
    respelled = os.path.join(ws.outputs, "..", "in", ".", "u.npy")
    fit = ["fit", "-d", 3, "--epochs", 2, "-q"]
    return [
        (fit + ["-i", data, "-o", data], "u.npy"),
        (fit + ["-i", data, "-o", respelled], "u.npy"),
        (fit + ["-i", data, "-o", hard], "u.npy"),
        (fit + ["-i", data, "-o", link], "u.npy"),
        (fit + ["-i", data, "-o", ws.out("m.npz"), "--loss-log", data], "u.npy"),
        (fit + ["-i", data, "-o", model, "--warm-start", model], "model.npz"),
        (fit + ["-i", data, "-o", ws.out("m.npz"), "--checkpoint", data], "u.npy"),
        (["transform", "-m", model, "-i", data, "-o", data], "u.npy"),
        (["transform", "-m", model, "-i", data, "-o", model], "model.npz"),
        (["transform", "-m", model, "-i", data, "-o", link], "u.npy"),
        (["data", "idx", "--images", images, "-o", images], "images-idx3-ubyte"),
        (["data", "mix", "--source", mixed, "--source", other, "-o",
          os.path.join(ws.inputs, "p")], "p-mix.npy"),
        (["separator", "fit", "--mode", "std", "--source", data, "--source", other, "-d", 2,
          "--epochs", 2, "-q", "-o", other], "v.npy"),
        (["separator", "fit", "--mode", "std", "--source", data, "--source", other, "-d", 2,
          "--epochs", 2, "-q", "-o", ws.out("s.npz"), "--loss-log", data], "u.npy"),
        (["search", "-p", spec, "--source", data, "--source", other, "--sup-source", data,
          "--sup-source", other, "--sup-mixed", mixed, "-o", spec], "spec.json"),
        (["search", "-p", spec, "--source", data, "--source", other, "--sup-source", data,
          "--sup-source", other, "--sup-mixed", mixed, "-o", ws.out("t.csv"),
          "--refit", mixed], "p-mix.npy"),
        (["denoise", "fit", "--mode", "semi", "--speech", speech, "--noisy", noisy,
          *FRONT_END, "-d", "4,4", "--epochs", 2, "-q", "-o", noisy], "tone-noisy.wav"),
        (["denoise", "fit", "--mode", "semi", "--speech", speech, "--noisy", noisy,
          *FRONT_END, "-d", "4,4", "--epochs", 2, "-q", "-o", ws.out("d.npz"),
          "--loss-log", speech], "tone.wav"),
        (["denoise", "fit", "--mode", "semi", "--speech", speech, "--noisy", noisy,
          *FRONT_END, "-d", "4,4", "--epochs", 2, "-q", "-o", ws.out("d.npz"),
          "--checkpoint", noisy], "tone-noisy.wav"),
        (["separator", "fit", "--mode", "std", "--source", data, "--source", other, "-d", 2,
          "--epochs", 2, "-q", "-o", ws.out("s.npz"), "--checkpoint", other], "v.npy"),
    ], estimate


def test_no_command_writes_an_output_onto_an_input():
    with Workspace() as ws:
        cases, estimate = output_onto_input_cases(ws)
        for args, input_name in cases:
            try:
                line = refused_and_untouched(ws, args, RUNTIME, input_name, "is the input file")
            except AssertionError as failure:
                raise AssertionError(f"{args[:2]}: {failure}") from None
            assert "give another" in line, line


def test_two_outputs_of_one_run_are_never_one_file():
    """`fit -o X --loss-log X` wrote the log, then renamed the model over it
    (or the other way round): one output lost, exit 0."""
    with Workspace() as ws:
        data = ws.save("u.npy", random_data())
        speech, noisy = tone_recordings(ws.inputs)
        existing = ws.out("old.npz")
        with open(existing, "wb") as f:
            f.write(b"an earlier model")
        link = ws.out("link.npz")
        os.symlink(existing, link)
        fit = ["fit", "-i", data, "-d", 3, "--epochs", 2, "-q"]
        separator = ["separator", "fit", "--mode", "std", "--source", data, "--source", data,
                     "-d", 2, "--epochs", 2, "-q"]
        denoise = ["denoise", "fit", "--mode", "semi", "--speech", speech, "--noisy", noisy,
                   *FRONT_END, "-d", "4,4", "--epochs", 2, "-q"]
        cases = [
            (fit + ["-o", ws.out("m.npz"), "--loss-log", ws.out("m.npz")], "--loss-log"),
            (fit + ["-o", ws.out("m.npz"), "--checkpoint",
                    os.path.join(ws.outputs, ".", "m.npz")], "--checkpoint"),
            (fit + ["-o", existing, "--loss-log", link], "--loss-log"),
            (fit + ["-o", ws.out("m.npz"), "--loss-log", ws.out("c.npz"),
                    "--checkpoint", ws.out("c.npz")], "--checkpoint"),
            (separator + ["-o", ws.out("s.npz"), "--loss-log", ws.out("s.npz")], "--loss-log"),
            (denoise + ["-o", ws.out("d.npz"), "--checkpoint", ws.out("d.npz")],
             "--checkpoint"),
        ]
        for args, option in cases:
            line = refused_and_untouched(ws, args, RUNTIME, option, "are one file")
            assert "different paths" in line, line


def test_separator_apply_estimate_onto_its_input():
    with Workspace() as ws:
        data = ws.save("u.npy", random_data())
        other = ws.save("v.npy", random_data(seed=1))
        model = os.path.join(ws.root, "sep.npz")
        result = run("separator", "fit", "--mode", "std", "--source", data, "--source", other,
                     "-d", 2, "--epochs", 2, "-q", "-o", model)
        assert result.returncode == 0, result.stderr
        mixtures = ws.save("e1.npy", random_data(seed=4))
        refused_and_untouched(ws, ["separator", "apply", "-m", model, "-i", mixtures, "-o",
                                   os.path.join(ws.inputs, "e")], RUNTIME, "e1.npy",
                              "is the input file")


# --------------------------------------------------------- special files


def special_destinations(ws):
    """(name, path) of destinations that are not regular files, made in the
    workspace: never a real device path."""
    root = os.path.join(ws.root, "special")
    os.mkdir(root)
    fifo = os.path.join(root, "fifo")
    os.mkfifo(fifo)
    cases = [("FIFO", fifo, "FIFO")]
    link = os.path.join(root, "link-to-fifo")
    os.symlink(fifo, link)
    cases.append(("link to a FIFO", link, "FIFO"))
    dangling = os.path.join(root, "dangling")
    os.symlink(os.path.join(root, "nothing-here"), dangling)
    cases.append(("link to nothing", dangling, "missing file"))
    folder = os.path.join(root, "folder")
    os.mkdir(folder)
    cases.append(("folder", folder, "folder"))
    if os.geteuid() == 0:
        device = os.path.join(root, "full")
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 7))  # /dev/full's numbers
        cases.append(("character device", device, "character device"))
    return cases


def test_special_destinations_are_refused_and_stay_what_they_were():
    with Workspace() as ws:
        data, model = fitted(ws)
        images, _ = idx_images(ws)
        for kind, path, mention in special_destinations(ws):
            commands = [
                ["transform", "-m", model, "-i", data, "-o", path],
                ["fit", "-i", data, "-d", 3, "--epochs", 2, "-q", "-o", path],
                ["fit", "-i", data, "-d", 3, "--epochs", 2, "-q", "-o", ws.out("m.npz"),
                 "--loss-log", path],
                ["data", "idx", "--images", images, "-o", path],
            ]
            for args in commands:
                try:
                    refused_and_untouched(ws, args, RUNTIME, path, mention)
                except AssertionError as failure:
                    raise AssertionError(f"{kind}: {args[0]}: {failure}") from None


def test_denoise_apply_output_that_is_a_fifo():
    with Workspace() as ws:
        model, noisy = denoise_model(ws)
        os.mkfifo(ws.out("tone-noisy.wav"))
        refused_and_untouched(ws, ["denoise", "apply", "-m", model, "-o", ws.outputs, noisy],
                              RUNTIME, "tone-noisy.wav", "FIFO")


def test_a_link_to_a_regular_file_is_followed_and_stays_a_link():
    with Workspace() as ws:
        data, model = fitted(ws)
        target = ws.out("h.npy")
        with open(target, "w") as file:
            file.write("old contents")
        link = os.path.join(ws.root, "h-link.npy")
        os.symlink(target, link)
        result = run("transform", "-m", model, "-i", data, "-o", link)
        assert result.returncode == 0, result.stderr
        assert os.readlink(link) == target
        assert np.load(target).shape == (30, 3)
        assert ws.leftovers() == ["h.npy"], ws.leftovers()


# ---------------------------------------------------------- standard output


def test_dash_writes_single_file_outputs_to_standard_output():
    with Workspace() as ws:
        data, model = fitted(ws)
        images, pixels = idx_images(ws)
        reference = ws.out("h.npy")
        assert run("transform", "-m", model, "-i", data, "-o", reference).returncode == 0
        with open(reference, "rb") as file:
            expected = file.read()
        for args, check in (
                (["transform", "-m", model, "-i", data, "-o", "-"],
                 lambda out: out == expected),
                (["data", "idx", "--images", images, "--scale", 255, "-o", "-"],
                 lambda out: out.startswith(b"\x93NUMPY") and len(out) > pixels.size * 4),
                (["fit", "-i", data, "-d", 3, "--epochs", 2, "-q", "-o", ws.out("m.npz"),
                  "--loss-log", "-"],
                 lambda out: out.startswith(b"epoch,loss_true") and out.count(b"\n") >= 3)):
            result = run_bytes(*args, cwd=ws.outputs)
            assert result.returncode == 0, result.stderr
            assert check(result.stdout), (args[0], result.stdout[:80])
            assert not os.path.exists(ws.out("-")), "wrote a file named '-'"


def test_standard_output_write_errors_are_reported():
    """Standard output on a full device (opened here, never renamed over)."""
    with Workspace() as ws:
        data, model = fitted(ws)
        with open("/dev/full", "wb") as full:
            result = run_bytes("transform", "-m", model, "-i", data, "-o", "-", stdout=full,
                               cwd=ws.outputs)
        lines = result.stderr.decode().splitlines()
        assert result.returncode == RUNTIME, (result.returncode, result.stderr)
        assert len(lines) == 1 and "standard output" in lines[0], lines
        assert "No space left" in lines[0], lines
        assert ws.leftovers() == [], ws.leftovers()


def test_outputs_that_cannot_go_to_standard_output_say_so():
    with Workspace() as ws:
        data, model = fitted(ws)
        for args, code in ((["fit", "-i", data, "-d", 3, "--epochs", 2, "-q", "-o", "-"],
                            RUNTIME),
                           (["denoise", "apply", "-m", model, "-o", "-", data], USAGE)):
            refused_and_untouched(ws, args, code, "standard output", cwd=ws.outputs)


# ------------------------------------------------------ numeric options


def test_idx_scale_that_leaves_float32_range_is_a_usage_error():
    """Finding 6: --scale 1e-45 wrote a .npy full of +inf, exit 0."""
    with Workspace() as ws:
        images, _ = idx_images(ws)
        for scale in ("1e-45", "1e-40", "1e-37", "1e39", "1e300"):
            refused_and_untouched(ws, ["data", "idx", "--images", images, "--scale", scale,
                                       "-o", ws.out("x.npy")], USAGE, "--scale")


def test_penalties_and_weights_that_overflow_float32_are_usage_errors():
    with Workspace() as ws:
        data = ws.save("u.npy", random_data())
        for option, name in (("--mu-h", "mu_H"), ("--mu-w", "mu_W"), ("--tau-w", "tau_W"),
                             ("--tau-a", "tau_A")):
            refused_and_untouched(ws, ["fit", "-i", data, "-d", 3, "--epochs", 2, "-q", option,
                                       "1e39", "-o", ws.out("m.npz")], USAGE, name)


# -------------------------------------------------------------- messages


def test_sisdr_against_a_silent_reference_names_the_reference():
    """Finding 7: the message named the estimate's file."""
    with Workspace() as ws:
        silent = write_wav(os.path.join(ws.inputs, "silent.wav"), np.zeros(4000))
        noisy = write_wav(os.path.join(ws.inputs, "noisy.wav"),
                          np.random.default_rng(0).standard_normal(4000) * 0.1)
        for metric in ("sisdr", "snr"):
            line = refused_and_untouched(ws, ["eval", "--metric", metric, "-r", silent, "-e",
                                              noisy], RUNTIME, "silent.wav", "silent")
            assert "noisy.wav" not in line, line
        # A silent estimate is still the estimate's fault.
        line = refused_and_untouched(ws, ["eval", "--metric", "sisdr", "-r", noisy, "-e",
                                          silent], RUNTIME, "silent.wav", "estimate")
        assert "noisy.wav" not in line, line


if __name__ == "__main__":
    run_tests(globals())
