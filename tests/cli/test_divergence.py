"""`--divergence fro|kl|is` (SPEC §11, issue 13 item 4) through the tool: the
option reaches the saved model of `fit`, `separator fit` and `denoise fit`;
`transform`, `separator apply` and `denoise apply` use the model's divergence
unless told otherwise; a model file without the key is Frobenius; a bad value
is one usage line.  The update rules themselves are checked against NumPy in
tests/reference, the monotone decrease in tests/unit/test_properties.c."""

import json
import os
import zipfile

import numpy as np
import scipy.io.wavfile as wavfile

from cli_harness import Workspace, expect_failure, help_blocks, random_data, run, run_tests

USAGE = 2
RATE = 8000


def model_params(path):
    with np.load(path, allow_pickle=False) as z:
        return json.loads(str(z["params"]))


def fit(ws, divergence=None, name="model.npz", data=None, extra=()):
    data = data or ws.save("u.npy", random_data(seed=3) + np.float32(0.05))
    model = ws.out(name)
    args = ["fit", "-i", data, "-d", 4, "-o", model, "--epochs", 6, "--seed", 5, *extra]
    if divergence:
        args += ["--divergence", divergence]
    result = run(*args)
    assert result.returncode == 0, result.stderr
    return data, model


def transform(ws, model, data, *extra):
    out = ws.out("h.npy")
    result = run("transform", "-m", model, "-i", data, "-o", out, *extra)
    assert result.returncode == 0, result.stderr
    return np.load(out)


def without_divergence_key(source, target):
    """A copy of a model file whose params JSON lacks "divergence", as the
    files written before the key existed."""
    with zipfile.ZipFile(source) as z:
        members = {name: z.read(name) for name in z.namelist()}
    with np.load(source, allow_pickle=False) as z:
        params = json.loads(str(z["params"]))
    del params["divergence"]
    arrays = {name[:-4]: np.load(source)[name[:-4]] for name in members}
    arrays["params"] = np.array(json.dumps(params))
    np.savez(target, **arrays)
    return target


def test_fit_saves_the_divergence_and_frobenius_files_stay_as_they_were():
    with Workspace() as ws:
        data, kl = fit(ws, "kl", "kl.npz")
        assert model_params(kl)["divergence"] == "kl"
        _, is_model = fit(ws, "is", "is.npz", data)
        assert model_params(is_model)["divergence"] == "is"
        # Frobenius (the default, or named) writes no key: the model files of
        # Frobenius fits are those of the versions before the option.
        _, default = fit(ws, None, "fro.npz", data)
        _, named = fit(ws, "fro", "fro2.npz", data)
        assert "divergence" not in model_params(default)
        assert "divergence" not in model_params(named)
        with np.load(default) as a, np.load(named) as b:
            assert np.array_equal(a["W"], b["W"])
        with np.load(kl) as a, np.load(default) as b, np.load(is_model) as c:
            assert not np.array_equal(a["W"], b["W"])
            assert not np.array_equal(a["W"], c["W"])


def test_transform_uses_the_models_divergence():
    with Workspace() as ws:
        data, model = fit(ws, "kl")
        own = transform(ws, model, data)
        assert np.array_equal(own, transform(ws, model, data, "--divergence", "kl"))
        frobenius = transform(ws, model, data, "--divergence", "fro")
        assert not np.array_equal(own, frobenius)
        # A file without the key is Frobenius.
        old = without_divergence_key(model, os.path.join(ws.inputs, "old.npz"))
        assert np.array_equal(transform(ws, old, data), frobenius)


def test_kl_loss_log_is_the_mean_kl_divergence_and_decreases():
    """Epoch 0 of a warm-started fit reports D_KL(U | W H0) / N with H0 =
    transform(U) (the same seed, test epochs and guards as `transform`), so
    NumPy can check the number from the saved basis and `transform`."""
    with Workspace() as ws:
        U = random_data(seed=4) + np.float32(0.05)
        data = ws.save("u.npy", U)
        log = ws.out("loss.csv")
        _, start = fit(ws, "kl", "start.npz", data)
        _, model = fit(ws, "kl", "w0.npz", data, ("--epochs", 0, "--warm-start", start,
                                                    "--loss-log", log))
        loss0 = np.loadtxt(log, delimiter=",", skiprows=1, ndmin=2)[0, 1]
        with np.load(model) as z:
            W = z["W"].astype(np.float64)  # (d, m)
        H = transform(ws, model, data).astype(np.float64)  # (N, d)
        X, Y = U.astype(np.float64), H @ W
        expected = np.sum(X * np.log(X / Y) - X + Y) / X.shape[0]
        assert abs(loss0 - expected) <= 1e-5 * expected, (loss0, expected)
        fit(ws, "kl", "m.npz", data, ("--epochs", 15, "--mu-w", 0, "--mu-h", 0,
                                      "--loss-log", log))
        loss = np.loadtxt(log, delimiter=",", skiprows=1, ndmin=2)[:, 1]
        assert np.all(np.diff(loss) <= 1e-6 * loss[:-1]), loss
        assert loss[-1] < loss[0]


def test_separator_fit_and_apply_carry_the_divergence():
    with Workspace() as ws:
        u0 = ws.save("u0.npy", random_data(seed=1) + np.float32(0.01))
        u1 = ws.save("u1.npy", random_data(seed=2) + np.float32(0.01))
        v = ws.save("v.npy", random_data(rows=20, seed=6) + np.float32(0.02))
        model = ws.out("sep.npz")
        result = run("separator", "fit", "--mode", "semi", "-s", u0, "--mixed", v, "-d", "3,2",
                     "--epochs", 4, "--divergence", "kl", "-o", model)
        assert result.returncode == 0, result.stderr
        assert model_params(model)["divergence"] == "kl"

        # Separation transforms with the model's divergence: its plain
        # estimate of source 0 is W_0 H_0 with H from `transform` of the
        # model (KL by default), not from a Frobenius transform.
        result = run("separator", "apply", "-m", model, "-i", v, "-o", ws.out("est"),
                     "--no-wiener")
        assert result.returncode == 0, result.stderr
        estimate = np.load(ws.out("est0.npy")).astype(np.float64)
        with np.load(model) as z:
            W0 = z["W"][:3].astype(np.float64)
        H_kl = transform(ws, model, v).astype(np.float64)
        H_fro = transform(ws, model, v, "--divergence", "fro").astype(np.float64)

        def relative(a, b):
            return np.linalg.norm(a - b) / np.linalg.norm(b)

        assert relative(estimate, H_kl[:, :3] @ W0) < 1e-5
        assert relative(estimate, H_fro[:, :3] @ W0) > 1e-3
        result = run("separator", "fit", "--mode", "adv", "-s", u0, "-s", u1, "-d", "3",
                     "--epochs", 3, "--divergence", "is", "-o", ws.out("adv.npz"))
        assert result.returncode == 0, result.stderr
        assert model_params(ws.out("adv.npz"))["divergence"] == "is"


def test_denoise_fit_saves_the_divergence():
    with Workspace() as ws:
        t = np.arange(RATE) / RATE
        speech = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.01
        noisy = speech + 0.1 * np.random.default_rng(0).standard_normal(RATE)
        s, n = os.path.join(ws.inputs, "s.wav"), os.path.join(ws.inputs, "n.wav")
        wavfile.write(s, RATE, speech.astype(np.float32))
        wavfile.write(n, RATE, noisy.astype(np.float32))
        model = ws.out("denoise.npz")
        result = run("denoise", "fit", "--mode", "semi", "--speech", s, "--noisy", n, "-o",
                     model, "--n-fft", 256, "--hop-length", 128, "-d", "4,4", "--epochs", 3,
                     "--divergence", "kl", "-q")
        assert result.returncode == 0, result.stderr
        assert model_params(model)["divergence"] == "kl"


def test_bad_divergence_is_a_usage_error():
    with Workspace() as ws:
        data = ws.save("u.npy", random_data())
        expect_failure(run("fit", "-i", data, "-d", 3, "-o", ws.out("m.npz"), "--divergence",
                           "beta"), USAGE, "--divergence", "fro", "kl", "is")
        assert ws.leftovers() == []


def test_help_of_every_command_lists_the_option():
    for command, default in ((("fit",), "fro"), (("transform",), "the model's"),
                             (("separator", "fit"), "fro"), (("denoise", "fit"), "fro"),
                             (("search",), "fro")):
        result = run(*command, "--help")
        assert result.returncode == 0, result.stderr
        block = help_blocks(result.stdout).get("--divergence", "")
        assert "fro|kl|is" in block and f"(default: {default})" in block, (command, block)


if __name__ == "__main__":
    run_tests(globals())
