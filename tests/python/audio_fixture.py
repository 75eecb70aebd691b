"""Real recordings for the audio API's tests (test_audio*.py): Debian's
asterisk prompts (en_US_f_Allison, 8 kHz) as speech and colobot's sound
effects as noise (scripts/fetch-speech.sh installs both), written into a
temporary folder as the CLI reads them, and a small model fitted by the
tool."""

import glob
import os
import shutil
import tempfile

import numpy as np

from harness import run_cli

import mdnmf

SPEAKER = "/usr/share/asterisk/sounds/en_US_f_Allison/digits"
NOISE = "/usr/share/games/colobot/sounds"
RATE = 8000
# Small and quick: the tool's options and the Denoiser's keywords alike.
FRONT_END = {"n_fft": 256, "hop_length": 128}
SMALL = {"atoms": (16, 8), "epochs": 10, **FRONT_END}
SMALL_CLI = ["-d", "16,8", "--epochs", 10, "--n-fft", 256, "--hop-length", 128, "-q"]

FOLDER = tempfile.mkdtemp(prefix="mdnmf-audio-test-")


def cleanup():
    shutil.rmtree(FOLDER, ignore_errors=True)


def prompts():
    files = sorted(glob.glob(os.path.join(SPEAKER, "*.wav")))
    if not files or not os.path.isdir(NOISE):
        raise AssertionError("the Debian recordings are missing: run scripts/fetch-speech.sh")
    return files


def noise_track():
    """Ten colobot effects at 8 kHz, each peak-normalised, joined."""
    parts = []
    for path in sorted(glob.glob(os.path.join(NOISE, "*.wav")))[:10]:
        x, _ = mdnmf.read_audio(path, RATE)
        if np.max(np.abs(x)) > 0:
            parts.append(x / np.max(np.abs(x)))
    return np.concatenate(parts)


def mixture(speech, noise, snr_db=3.0):
    """SPEC §8's mixture at snr_db: (speech target, noise target)."""
    n = np.resize(noise, speech.size).astype(np.float64)
    s = speech.astype(np.float64)
    gain = np.sqrt(np.sum(s ** 2) / (np.sum(n ** 2) * 10 ** (snr_db / 10)))
    w0, w1 = 1 / (1 + gain), gain / (1 + gain)
    return w0 * s, w1 * n


def folders():
    """(speech folder, noisy folder, held-out noisy file): 8 clean prompts,
    4 others in noise (float WAV), and one more in noise."""
    speech_dir = os.path.join(FOLDER, "speech")
    noisy_dir = os.path.join(FOLDER, "noisy")
    held_out = os.path.join(FOLDER, "held_out.wav")
    if os.path.exists(held_out):
        return speech_dir, noisy_dir, held_out
    os.makedirs(speech_dir)
    os.makedirs(noisy_dir)
    files, noise = prompts(), noise_track()
    for f in files[:8]:
        shutil.copy(f, speech_dir)
    for k, f in enumerate(files[8:13]):
        x, _ = mdnmf.read_audio(f)
        s, n = mixture(x, np.roll(noise, 2500 * k))
        path = held_out if k == 4 else os.path.join(noisy_dir, f"noisy{k}.wav")
        mdnmf.write_audio(path, s + n, RATE, encoding="float")
    return speech_dir, noisy_dir, held_out


def cli_model(mode="semi_adv"):
    """A small model fitted by `mdnmf denoise fit` on folders()."""
    path = os.path.join(FOLDER, f"cli-{mode}.npz")
    if not os.path.exists(path):
        speech_dir, noisy_dir, _ = folders()
        run_cli("denoise", "fit", "--mode", mode, "--speech", speech_dir, "--noisy", noisy_dir,
                *SMALL_CLI, "-o", path)
    return path


def model_arrays(path):
    """Everything a model file holds, as arrays (the zip's own bytes carry
    time stamps)."""
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files}


def same_model(a, b):
    x, y = model_arrays(a), model_arrays(b)
    assert set(x) == set(y), (sorted(x), sorted(y))
    for name in x:
        assert np.array_equal(x[name], y[name]), name
