"""mdnmf.snr, si_sdr and bss_eval against mir_eval (Debian's
python3-mir-eval) and NumPy on real speech in real noise, within issue 15's
0.01 dB; mdnmf.stft / istft against a float64 NumPy implementation of
librosa's conventions and as a round trip."""

import atexit
import glob
import os

import numpy as np
import mir_eval

from audio_fixture import RATE, cleanup, mixture, noise_track, prompts
from harness import raises, run_tests

import mdnmf

atexit.register(cleanup)
DB = 0.01  # issue 15: "equal mir_eval's within 0.01 dB"


def speech_and_noise(seconds=1.0, k=0):
    x, _ = mdnmf.read_audio(prompts()[k])
    x = np.resize(x, int(seconds * RATE))
    s, n = mixture(x, np.roll(noise_track(), 1234 * (k + 1)))
    return s.astype(np.float32), n.astype(np.float32)


def estimates_of(s, n, seed=0):
    """Imperfect separations: leakage, a filter and some noise."""
    rng = np.random.default_rng(seed)
    smooth = np.convolve(s, [0.6, 0.3, 0.1])[:s.size]
    e0 = smooth + 0.2 * n + 0.01 * rng.standard_normal(s.size)
    e1 = n + 0.3 * s + 0.01 * rng.standard_normal(s.size)
    return np.stack([e0, e1]).astype(np.float32)


def test_bss_eval_equals_mir_eval():
    worst = 0.0
    for k in range(2):
        s, n = speech_and_noise(0.75, k)
        refs = np.stack([s, n])
        for ests in (estimates_of(s, n, k), estimates_of(s, n, k)[::-1]):
            mine = mdnmf.bss_eval(refs, ests)
            theirs = mir_eval.separation.bss_eval_sources(refs.astype(np.float64),
                                                          ests.astype(np.float64))
            assert np.array_equal(mine[3], theirs[3]), (mine[3], theirs[3])
            for a, b in zip(mine[:3], theirs[:3]):
                worst = max(worst, float(np.max(np.abs(a - b))))
    print(f"     largest |mdnmf - mir_eval| over SDR, SIR, SAR: {worst:.2e} dB")
    assert worst < DB, worst


def test_bss_eval_without_permutation_and_of_one_source():
    s, n = speech_and_noise(0.5)
    refs, ests = np.stack([s, n]), estimates_of(s, n)[::-1]
    mine = mdnmf.bss_eval(refs, ests, compute_permutation=False)
    theirs = mir_eval.separation.bss_eval_sources(refs.astype(np.float64),
                                                  ests.astype(np.float64),
                                                  compute_permutation=False)
    assert list(mine[3]) == [0, 1]
    for a, b in zip(mine[:3], theirs[:3]):
        assert np.max(np.abs(a - b)) < DB
    one = mdnmf.bss_eval(s, ests[1])  # 1-D: one source, as mir_eval
    ref = mir_eval.separation.bss_eval_sources(s.astype(np.float64)[None],
                                               ests[1].astype(np.float64)[None])
    assert abs(one[0][0] - ref[0][0]) < DB


def mir_eval_si_sdr(reference, estimate):
    """SI-SDR from mir_eval's own decomposition: with a one-tap filter and one
    source, BSS Eval's target is the scaled reference and its SDR is SI-SDR."""
    ref = reference.astype(np.float64)[None]
    est = estimate.astype(np.float64)
    parts = mir_eval.separation._bss_decomp_mtifilt(ref, est, 0, 1)
    return mir_eval.separation._bss_source_crit(*parts)[0]


def test_si_sdr_equals_mir_eval_and_numpy():
    worst = 0.0
    for k in range(3):
        s, n = speech_and_noise(1.0, k)
        for est in (s + n, estimates_of(s, n, k)[0], 0.5 * s + 0.01 * n):
            mine = mdnmf.si_sdr(s, est)
            s64, e64 = s.astype(np.float64), est.astype(np.float64)
            alpha = e64 @ s64 / (s64 @ s64)
            numpy_value = 10 * np.log10(np.sum((alpha * s64) ** 2) /
                                        np.sum((alpha * s64 - e64) ** 2))
            worst = max(worst, abs(mine - mir_eval_si_sdr(s, est)), abs(mine - numpy_value))
    print(f"     largest |mdnmf - mir_eval / NumPy| SI-SDR: {worst:.2e} dB")
    assert worst < DB, worst
    s, _ = speech_and_noise(0.2)
    assert mdnmf.si_sdr(s, 2 * s) == np.inf  # a positive multiple is exact


def test_snr_equals_numpy():
    s, n = speech_and_noise(1.0)
    for est in (s + n, s + 0.1 * n):
        s64, e64 = s.astype(np.float64), est.astype(np.float64)
        expected = 10 * np.log10(np.sum(s64 ** 2) / np.sum((s64 - e64) ** 2))
        assert abs(mdnmf.snr(s, est) - expected) < 1e-6
    assert abs(mdnmf.snr(s, s + n) - 3.0) < 1e-3  # the fixture mixes at 3 dB
    assert mdnmf.snr(s, s) == np.inf
    # any dtype and order: float64 and a strided view give the float32 value
    wide = np.repeat((s + n).astype(np.float64), 2)[::2]
    assert mdnmf.snr(list(s), wide) == mdnmf.snr(s, s + n)


def numpy_stft(y, n_fft, hop, win):
    """librosa.stft(y, n_fft, hop, win, center=True, pad_mode="constant") in
    float64 (tests/reference/test_stft_numpy.py's reference)."""
    k = np.arange(win)
    window = np.zeros(n_fft)
    offset = (n_fft - win) // 2
    window[offset:offset + win] = 0.5 - 0.5 * np.cos(2 * np.pi * k / win)
    padded = np.pad(y.astype(np.float64), n_fft // 2)
    frames = 1 + y.size // hop
    return np.stack([np.fft.rfft(window * padded[t * hop:t * hop + n_fft])
                     for t in range(frames)], axis=1)


def test_stft_equals_numpy_librosa_conventions():
    s, n = speech_and_noise(0.6)
    x = s + n
    for n_fft, hop, win in ((512, None, None), (256, 64, 200), (64, 16, 64)):
        Z = mdnmf.stft(x, n_fft, hop, win)
        h = hop or (win or n_fft) // 4
        ref = numpy_stft(x, n_fft, h, win or n_fft)
        assert Z.dtype == np.complex64 and Z.shape == ref.shape == (n_fft // 2 + 1,
                                                                    1 + x.size // h)
        assert Z.flags.f_contiguous
        error = np.linalg.norm(Z - ref) / np.linalg.norm(ref)
        assert error < 1e-5, (n_fft, error)
    # any dtype: the float64 and strided input is converted once, same result
    wide = np.repeat(x.astype(np.float64), 2)[::2]
    assert np.array_equal(mdnmf.stft(wide, 256, 64), mdnmf.stft(x, 256, 64))


def test_istft_inverts_stft():
    s, n = speech_and_noise(0.6)
    x = s + n
    for n_fft, hop in ((512, 128), (256, 64)):
        Z = mdnmf.stft(x, n_fft, hop)
        y = mdnmf.istft(Z, length=x.size, hop_length=hop)
        assert y.dtype == np.float32 and y.shape == x.shape
        assert np.max(np.abs(y - x)) < 1e-5
        # a C-order complex128 copy gives the same samples
        assert np.array_equal(mdnmf.istft(np.ascontiguousarray(Z, dtype=np.complex128),
                                          length=x.size, hop_length=hop), y)
    default = mdnmf.istft(mdnmf.stft(x, 256, 64), hop_length=64)
    assert default.size == 64 * (1 + x.size // 64 - 1)  # librosa's default length


def test_read_write_and_resample():
    s, n = speech_and_noise(0.3)
    x = s + n
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "x.wav")
        mdnmf.write_audio(path, x, RATE, encoding="float")
        y, rate = mdnmf.read_audio(path)
        assert rate == RATE and np.array_equal(x, y)
        mdnmf.write_audio(path, x, RATE)  # 16-bit PCM
        y16, _ = mdnmf.read_audio(path)
        assert np.max(np.abs(y16 - x)) <= 0.5 / 32768 + 1e-9
        up, rate = mdnmf.read_audio(path, 16000)
        assert rate == 16000 and up.size == 2 * y16.size
        assert np.array_equal(up, mdnmf.resample(y16, RATE, 16000))


def test_bad_input_raises_the_librarys_messages():
    s, n = speech_and_noise(0.2)
    raises(mdnmf.InvalidDataError, mdnmf.snr, np.zeros(10), np.ones(10), contains="silent")
    raises(mdnmf.InvalidDataError, mdnmf.si_sdr, s, np.zeros(s.size), contains="silent")
    raises(mdnmf.ShapeError, mdnmf.si_sdr, s, s[:-1], contains="samples")
    raises(mdnmf.InvalidArgumentError, mdnmf.snr, s.astype(complex), s, contains="dtype")
    raises(mdnmf.ShapeError, mdnmf.bss_eval, np.ones((9, 600)), np.ones((9, 600)),
           contains="1..8")
    raises(mdnmf.ShapeError, mdnmf.bss_eval, np.stack([s, n]), s, contains="shape")
    raises(mdnmf.InvalidDataError, mdnmf.bss_eval, np.stack([s, np.zeros_like(s)]),
           np.stack([s, n]), contains="silent")
    raises(mdnmf.InvalidArgumentError, mdnmf.stft, s, 255, contains="n_fft")
    raises(mdnmf.InvalidDataError, mdnmf.stft, np.array([0.0, np.nan, 1.0]), 4)
    raises(mdnmf.ShapeError, mdnmf.istft, np.ones((129, 3, 2)), contains="2-D")
    raises(mdnmf.ShapeError, mdnmf.istft, np.ones((129, 3)), n_fft=512, contains="bins")
    raises(mdnmf.FileFormatError, mdnmf.read_audio, __file__, contains="not a readable audio")
    raises(mdnmf.FileAccessError, mdnmf.read_audio, "/nonexistent/x.wav", contains="x.wav")
    raises(mdnmf.FileAccessError, mdnmf.write_audio, "/nonexistent/x.wav", s, RATE,
           contains="does not exist")
    raises(mdnmf.InvalidArgumentError, mdnmf.write_audio, "/tmp/x.wav", s, RATE,
           encoding="mp3", contains="encoding")
    raises(mdnmf.InvalidArgumentError, mdnmf.read_audio, __file__, 10, contains="sample_rate")


if __name__ == "__main__":
    run_tests(globals())
