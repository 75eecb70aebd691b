"""mdnmf.Stream, the binding of the streaming denoiser, on real speech
(Debian's asterisk prompts in colobot noise; scripts/fetch-speech.sh): blocks
of any size and dtype, the speech/noise split, the latency, the controls and
the errors.  Quality is measured here with NumPy (SI-SDR, SPEC §9)."""

import glob
import os
import tempfile

import numpy as np
import scipy.io.wavfile as wavfile
import scipy.signal

from harness import run_cli, run_tests

import mdnmf

SPEAKER = "/usr/share/asterisk/sounds/en_US_f_Allison"
NOISE = "/usr/share/games/colobot/sounds"
RATE = 8000


def read_wav(path):
    rate, x = wavfile.read(path)
    x = x.astype(np.float64) / 32768.0 if x.dtype == np.int16 else x.astype(np.float64)
    if x.ndim > 1:
        x = x.mean(axis=1)
    if rate != RATE:
        x = scipy.signal.resample_poly(x, RATE, rate)
    return x


def write_wav(path, x):
    wavfile.write(path, RATE, np.clip(x * 32768.0, -32768, 32767).astype(np.int16))
    return path


def si_sdr(reference, estimate):
    alpha = np.dot(estimate, reference) / np.dot(reference, reference)
    target = alpha * reference
    return 10 * np.log10(np.sum(target ** 2) / np.sum((target - estimate) ** 2))


def prompts():
    files = sorted(glob.glob(os.path.join(SPEAKER, "digits", "*.wav")))
    if not files or not os.path.isdir(NOISE):
        raise AssertionError("the Debian recordings are missing: run scripts/fetch-speech.sh")
    return files


def noise():
    effects = sorted(glob.glob(os.path.join(NOISE, "*.wav")))[:10]
    track = np.concatenate([read_wav(f) for f in effects])
    return track / np.max(np.abs(track))


def mixture(speech, noise_track, snr_db=3.0):
    n = noise_track[:speech.size]
    gain = np.sqrt(np.sum(speech ** 2) / (np.sum(n ** 2) * 10 ** (snr_db / 10)))
    weights = np.array([1.0, gain]) / (1.0 + gain)
    return weights[0] * speech + weights[1] * n, weights[0] * speech


FOLDER = tempfile.mkdtemp(prefix="mdnmf-stream-")


def model():
    """A small semi model of the speech of a few prompts and their noise,
    fitted once by the tool."""
    path = os.path.join(FOLDER, "model.npz")
    if os.path.exists(path):
        return path
    files = prompts()
    speech_dir, noisy_dir = os.path.join(FOLDER, "speech"), os.path.join(FOLDER, "noisy")
    os.makedirs(speech_dir)
    os.makedirs(noisy_dir)
    track = noise()
    for k, f in enumerate(files[:12]):
        x = read_wav(f)
        x /= np.max(np.abs(x))
        write_wav(os.path.join(speech_dir, f"{k}.wav"), 0.9 * x)
        write_wav(os.path.join(noisy_dir, f"{k}.wav"), mixture(x, np.roll(track, 3000 * k))[0])
    run_cli("denoise", "fit", "--mode", "semi", "--speech", speech_dir, "--noisy", noisy_dir,
            "-d", "32,8", "--epochs", 10, "--n-fft", 256, "--hop-length", 128, "-o", path, "-q")
    return path


def noisy_prompt():
    """A held-out prompt in noise (not one the model was fitted on)."""
    x = read_wav(prompts()[-1])
    x /= np.max(np.abs(x))
    return mixture(x, np.roll(noise(), 12345))


def test_blocks_of_any_size_and_dtype_give_the_same_output():
    v, _ = noisy_prompt()
    whole = mdnmf.Stream(model()).process(v.astype(np.float32))
    stream = mdnmf.Stream(model())
    rng = np.random.default_rng(1)
    parts, start = [], 0
    while start < v.size:
        size = int(rng.integers(0, 700))
        block = v[start:start + size]
        if size % 3 == 0:  # a strided float64 view: converted by the binding
            block = np.repeat(block, 2)[::2]
        elif size % 3 == 1:
            block = list(block)  # not an ndarray at all
        parts.append(stream.process(block))
        start += size
    pieces = np.concatenate(parts)
    assert pieces.dtype == np.float32 and pieces.shape == whole.shape
    assert np.array_equal(pieces, whole), np.max(np.abs(pieces - whole))


def test_speech_and_noise_add_up_to_the_delayed_input():
    v, _ = noisy_prompt()
    stream = mdnmf.Stream(model())
    speech, rest = stream.process(v, return_noise=True)
    delayed = np.concatenate([np.zeros(stream.latency), v])[:v.size].astype(np.float32)
    assert np.max(np.abs(speech + rest - delayed)) < 1e-6
    assert np.max(np.abs(rest)) > 0.01  # the split is not trivial


def test_the_speech_is_cleaner_than_the_input():
    v, target = noisy_prompt()
    stream = mdnmf.Stream(model())
    padded = np.concatenate([v, np.zeros(stream.latency)])
    speech = stream.process(padded)[stream.latency:].astype(np.float64)
    before, after = si_sdr(target, v), si_sdr(target, speech)
    assert after > before + 1.0, (before, after)


def test_floor_one_passes_the_input_through_delayed():
    v, _ = noisy_prompt()
    stream = mdnmf.Stream(model(), floor=1.0)
    out = stream.process(v)
    delayed = np.concatenate([np.zeros(stream.latency), v])[:v.size]
    assert np.max(np.abs(out - delayed)) < 1e-5


def test_reset_replays_and_controls_change_the_output():
    v, _ = noisy_prompt()
    stream = mdnmf.Stream(model())
    first = stream.process(v)
    stream.reset()
    assert np.array_equal(stream.process(v), first)
    stream.reset()
    stream.set_mask(floor=0.5)
    assert not np.array_equal(stream.process(v), first)
    stream.reset()
    stream.set_mask(floor=0.0)
    stream.learn_noise = True
    assert stream.learn_noise
    learned = stream.process(v)
    assert not np.array_equal(learned, first)
    m, d = stream.noise_basis.shape
    assert (m, d) == (129, 8)


def test_another_rate_is_resampled_inside():
    v, _ = noisy_prompt()
    v16 = scipy.signal.resample_poly(v, 2, 1)
    stream = mdnmf.Stream(model(), sample_rate=16000)
    assert stream.latency > 255
    out = stream.process(v16)
    assert out.size == v16.size and np.all(np.isfinite(out))


def expect(exception, function, *words):
    try:
        function()
    except exception as error:
        text = str(error)
        for word in words:
            assert word in text, (word, text)
        return
    raise AssertionError(f"no {exception.__name__}")


def test_errors_are_exceptions_with_the_library_message():
    expect(mdnmf.FileAccessError, lambda: mdnmf.Stream(os.path.join(FOLDER, "missing.npz")),
           "missing.npz")
    expect(mdnmf.InvalidArgumentError, lambda: mdnmf.Stream(model(), floor=2.0), "floor")
    expect(mdnmf.InvalidArgumentError, lambda: mdnmf.Stream(model(), noise_atoms=4),
           "learn")
    expect(mdnmf.InvalidArgumentError, lambda: mdnmf.Stream(model(), steps=0), "steps")
    stream = mdnmf.Stream(model())
    expect(ValueError, lambda: stream.process(np.zeros((2, 10))), "1-D")
    expect(mdnmf.InvalidArgumentError, lambda: stream.set_mask(floor=-1), "floor")
    expect(TypeError, lambda: mdnmf.Stream(42), "model")


if __name__ == "__main__":
    run_tests(globals())
