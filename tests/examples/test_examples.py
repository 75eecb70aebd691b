"""The C programs of examples/, run as a user would, against what the
`mdnmf` tool computes on the same inputs: the same library calls must give
the same numbers, so the examples stay correct as the API moves.  The
denoising example runs on real recordings (Debian's asterisk prompts and
colobot effects) and must also beat the noisy input (SI-SDR by NumPy)."""

import glob
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "cli"))
from cli_harness import Workspace, random_data, run, run_tests  # noqa: E402

EXAMPLES = os.environ["MDNMF_EXAMPLES"]
SPEAKER = "/usr/share/asterisk/sounds/en_US_f_Allison"
NOISE = "/usr/share/games/colobot/sounds"


def example(name, *args):
    return subprocess.run([os.path.join(EXAMPLES, name), *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_fit_transform_matches_the_tool():
    with Workspace() as ws:
        train = ws.save("train.npy", random_data(60, 20, seed=1))
        test = ws.save("test.npy", random_data(15, 20, seed=2))
        result = example("fit_transform", train, test, 6, ws.out("m.npz"), ws.out("h.npy"))
        assert result.returncode == 0, result.stderr
        # The tool with the example's settings: the same basis and activations.
        assert run("fit", "-i", train, "-d", 6, "--epochs", 100, "-o", ws.out("t.npz"),
                   "-q").returncode == 0
        assert run("transform", "-m", ws.out("t.npz"), "-i", test,
                   "-o", ws.out("t.npy")).returncode == 0
        ours, tools = np.load(ws.out("m.npz")), np.load(ws.out("t.npz"))
        assert np.array_equal(ours["W"], tools["W"])
        h = np.load(ws.out("h.npy"))
        assert h.shape == (15, 6) and np.array_equal(h, np.load(ws.out("t.npy")))
        # NMF's activations reconstruct the test data better than nothing does.
        x = np.load(test)
        error = np.sum((x - h @ ours["W"]) ** 2) / np.sum(x ** 2)
        assert error < 0.5, error


def test_fit_transform_reports_a_bad_file():
    with Workspace() as ws:
        bad = ws.write("bad.npy", b"not an array")
        result = example("fit_transform", bad, bad, 3, ws.out("m.npz"), ws.out("h.npy"))
        assert result.returncode == 1 and result.stderr.startswith("fit_transform: ")
        assert "bad.npy" in result.stderr and ws.leftovers() == []


def read_wav(path):
    import scipy.io.wavfile
    rate, x = scipy.io.wavfile.read(path)
    return rate, (x / 32768.0 if x.dtype == np.int16 else x).astype(np.float64)


def si_sdr(reference, estimate):
    target = np.dot(estimate, reference) / np.dot(reference, reference) * reference
    return 10 * np.log10(np.sum(target ** 2) / np.sum((target - estimate) ** 2))


def test_denoise_wav_matches_denoise_apply_and_cleans_speech():
    if not glob.glob(os.path.join(SPEAKER, "*.wav")) or not os.path.isdir(NOISE):
        if os.environ.get("MDNMF_REQUIRE_SPEECH") == "1":
            raise AssertionError("the Debian recordings are missing")
        print("skip: no asterisk/colobot recordings (scripts/fetch-speech.sh)")
        return
    import scipy.io.wavfile
    import scipy.signal
    prompts = sorted(p for p in glob.glob(os.path.join(SPEAKER, "*.wav")) if "monkeys" not in p)
    with Workspace() as ws:
        train = os.path.join(ws.inputs, "train")
        os.mkdir(train)
        for path in prompts[4:40]:
            os.symlink(path, os.path.join(train, os.path.basename(path)))
        speech = np.concatenate([read_wav(p)[1] for p in prompts[:4]])
        rate, noise = read_wav(sorted(glob.glob(os.path.join(NOISE, "*.wav")))[0])
        noise = noise.mean(axis=1) if noise.ndim > 1 else noise
        noise = np.resize(scipy.signal.resample_poly(noise, 8000, rate), speech.size)
        # SPEC §8 at 3 dB input SNR.
        noise *= np.sqrt(np.sum(speech ** 2) / (np.sum(noise ** 2) * 10 ** 0.3))
        noisy = ws.write("noisy.wav", b"")
        scipy.io.wavfile.write(noisy, 8000, (speech + noise).astype(np.float32))
        model = ws.out("model.npz")
        fitted = run("denoise", "fit", "--mode", "semi", "--speech", train, "--noisy", noisy,
                     "--n-fft", 256, "--hop-length", 128, "--epochs", 20, "-o", model, "-q",
                     timeout=300)
        assert fitted.returncode == 0, fitted.stderr
        result = example("denoise_wav", model, noisy, ws.out("speech.wav"))
        assert result.returncode == 0, result.stderr
        # The example separates with mdnmf_separate_signal: no noise adaptation
        # or smoothing.
        applied = run("denoise", "apply", "-m", model, "-o", ws.out("apply"), "--adapt-noise",
                      0, "--noise-smoothing", 0, noisy)
        assert applied.returncode == 0, applied.stderr
        # denoise apply writes the speech estimate under the recording's name.
        ours = read_wav(ws.out("speech.wav"))
        tools = read_wav(os.path.join(ws.out("apply"), "noisy.wav"))
        assert ours[0] == tools[0] == 8000 and np.array_equal(ours[1], tools[1])
        assert si_sdr(speech, ours[1]) > si_sdr(speech, speech + noise) + 1.0


if __name__ == "__main__":
    run_tests(globals())
