"""python/examples/denoise_wav.py and train_own_voice.py run as a user runs
them, with small arguments, on the Debian recordings; their outputs are the
Denoiser's (and so the tool's) and better than the input."""

import atexit
import os
import subprocess
import sys

import numpy as np

from audio_fixture import (FOLDER, RATE, cleanup, cli_model, folders, mixture,
                           noise_track, prompts)
from harness import PYTHON_DIR, run_tests

import mdnmf

atexit.register(cleanup)
EXAMPLES = os.path.join(PYTHON_DIR, "examples")


def run_example(name, *args):
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, name), *map(str, args)],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_denoise_wav_writes_what_denoise_apply_writes():
    _, _, noisy = folders()
    out = os.path.join(FOLDER, "example-clean.wav")
    run_example("denoise_wav.py", cli_model(), noisy, out)
    expected, _, _ = mdnmf.Denoiser.load(cli_model()).apply_file(noisy,
                                                                 os.path.join(FOLDER, "e.wav"))
    assert np.array_equal(mdnmf.read_audio(out)[0],
                          mdnmf.read_audio(os.path.join(FOLDER, "e.wav"))[0])


def test_train_own_voice_learns_and_denoises():
    speech_dir, _, _ = folders()
    noise_dir = os.path.join(FOLDER, "noise-only")
    os.makedirs(noise_dir, exist_ok=True)
    track = noise_track()  # colobot's effects: the "noise of the room"
    third = track.size // 3
    for k in range(3):
        mdnmf.write_audio(os.path.join(noise_dir, f"room{k}.wav"),
                          0.5 * track[k * third:(k + 1) * third], RATE)
    x, _ = mdnmf.read_audio(prompts()[-1])  # a prompt the fit did not see
    s, n = mixture(x, np.roll(track, 5000))
    noisy = os.path.join(FOLDER, "own-noisy.wav")
    mdnmf.write_audio(noisy, s + n, RATE, encoding="float")
    out, model = os.path.join(FOLDER, "own-clean.wav"), os.path.join(FOLDER, "own.npz")
    run_example("train_own_voice.py", "--speech", speech_dir, "--noise", noise_dir, "--noisy",
                noisy, "--output", out, "--model", model, "--epochs", 20, "--atoms", 32, 16,
                "--n-fft", 256)
    clean, _ = mdnmf.read_audio(out)
    before, after = mdnmf.si_sdr(s, s + n), mdnmf.si_sdr(s, clean)
    print(f"     SI-SDR {before:.2f} dB -> {after:.2f} dB")
    assert after > before + 3.0, (before, after)
    assert mdnmf.Denoiser.load(model).mode == "std"


if __name__ == "__main__":
    run_tests(globals())
