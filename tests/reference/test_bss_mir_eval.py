"""Audio metrics against independent references, on real recordings.

Speech: Debian's asterisk-core-sounds-en-wav (8 kHz prompts).  Noise:
colobot-common-sounds' effects (22.05/44.1 kHz WAV), read and resampled to
8 kHz by the library.  Mixtures at a few input SNRs; the estimates are made
non-trivial (an STFT soft mask from perturbed power estimates, filtered and
delayed copies, leaked noise, white noise), so that SDR, SIR and SAR all
move.  Requirements (SPEC §9):
  - SDR/SIR/SAR and the permutation agree with Debian's python3-mir-eval
    (mir_eval.separation.bss_eval_sources) within 0.01 dB;
  - SNR and SI-SDR agree with NumPy's formulas (float64) within 1e-6 dB;
  - the library reads a 16-bit WAV exactly as Python's wave module does,
    writes it back unchanged, and reads a real stereo Ogg Vorbis file
    (colobot's music) as mixed-down mono.

Run by ctest with MDNMF_LIB = the shared library.
"""
import ctypes
import os as _os
import sys as _sys

if _os.environ.get("MDNMF_SANITIZED") == "1":
    # The sanitizer build's library cannot be loaded into python3 with ctypes
    # (the ASan runtime must come first); its C paths are covered by the
    # unit tests test_stft and test_audio under the sanitizers.
    print("skipped: sanitizer build")
    _sys.exit(77)
import glob
import math
import os
import sys
import tempfile
import warnings
import wave

import numpy as np

warnings.simplefilter("ignore")
import mir_eval.separation  # noqa: E402  (after silencing its deprecation warnings)

LIB = ctypes.CDLL(os.environ.get("MDNMF_LIB", "/tmp/build-audio/libmdnmf.so"))
SPEECH_DIR = "/usr/share/asterisk/sounds/en_US_f_Allison"
NOISE_DIR = "/usr/share/games/colobot/sounds"
MUSIC_DIR = "/usr/share/games/colobot/music"
RATE = 8000
DB_TOLERANCE = 0.01
MAX_SOURCES = 8

F32P = ctypes.POINTER(ctypes.c_float)


class Error(ctypes.Structure):  # mdnmf_error
    _fields_ = [("status", ctypes.c_int), ("message", ctypes.c_char * 256)]


class Audio(ctypes.Structure):
    _fields_ = [("samples", F32P), ("length", ctypes.c_int64), ("sample_rate", ctypes.c_int),
                ("file_rate", ctypes.c_int), ("channels", ctypes.c_int),
                ("mixed_down", ctypes.c_int), ("reserved", ctypes.c_uint64 * 8)]


class BssResult(ctypes.Structure):
    _fields_ = [("sdr", ctypes.c_double * MAX_SOURCES), ("sir", ctypes.c_double * MAX_SOURCES),
                ("sar", ctypes.c_double * MAX_SOURCES),
                ("permutation", ctypes.c_int * MAX_SOURCES), ("reserved", ctypes.c_uint64 * 8)]


ERRP = ctypes.POINTER(Error)
LIB.mdnmf_audio_read.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(Audio), ERRP]
LIB.mdnmf_audio_free.argtypes = [ctypes.POINTER(Audio)]
LIB.mdnmf_audio_write.argtypes = [ctypes.c_char_p, F32P, ctypes.c_int64, ctypes.c_int,
                                  ctypes.c_int, ERRP]
for name in ("mdnmf_snr", "mdnmf_si_sdr"):
    getattr(LIB, name).argtypes = [F32P, F32P, ctypes.c_int64, ctypes.POINTER(ctypes.c_double),
                                   ERRP]
LIB.mdnmf_bss_eval_sources.argtypes = [ctypes.POINTER(F32P), ctypes.POINTER(F32P), ctypes.c_int,
                                       ctypes.c_int64, ctypes.c_int, ctypes.POINTER(BssResult),
                                       ERRP]


def ptr(array):
    return array.ctypes.data_as(F32P)


def read_audio(path, rate=0, info=None):
    audio = Audio()
    error = Error()
    status = LIB.mdnmf_audio_read(path.encode(), rate, ctypes.byref(audio), ctypes.byref(error))
    if status != 0:
        raise RuntimeError(error.message.decode())
    samples = np.ctypeslib.as_array(audio.samples, shape=(audio.length,)).copy()
    if info is not None:
        info.update(rate=audio.sample_rate, file_rate=audio.file_rate,
                    channels=audio.channels, mixed_down=audio.mixed_down)
    LIB.mdnmf_audio_free(ctypes.byref(audio))
    return samples


def write_pcm16(path, samples, rate):
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    error = Error()
    if LIB.mdnmf_audio_write(path.encode(), ptr(samples), len(samples), rate, 0,
                             ctypes.byref(error)):
        raise RuntimeError(error.message.decode())


def scalar_metric(name, reference, estimate):
    value = ctypes.c_double()
    error = Error()
    status = getattr(LIB, name)(ptr(reference), ptr(estimate), len(reference),
                                ctypes.byref(value), ctypes.byref(error))
    if status != 0:
        raise RuntimeError(error.message.decode())
    return value.value


def library_bss(references, estimates, compute_permutation=True):
    count = len(references)
    refs = [np.ascontiguousarray(r, dtype=np.float32) for r in references]
    ests = [np.ascontiguousarray(e, dtype=np.float32) for e in estimates]
    ref_ptrs = (F32P * count)(*[ptr(r) for r in refs])
    est_ptrs = (F32P * count)(*[ptr(e) for e in ests])
    result = BssResult()
    error = Error()
    status = LIB.mdnmf_bss_eval_sources(ref_ptrs, est_ptrs, count, len(refs[0]),
                                        int(compute_permutation), ctypes.byref(result),
                                        ctypes.byref(error))
    if status != 0:
        raise RuntimeError(error.message.decode())
    return (np.array(result.sdr[:count]), np.array(result.sir[:count]),
            np.array(result.sar[:count]), np.array(result.permutation[:count]))


# ---------------------------------------------------------------- signals

def peak_normalised(x):
    return (x / np.abs(x).max()).astype(np.float32)


def mix_at_snr(speech, noise, snr_db):
    """SPEC §8: a_1 = sqrt(P_s / (P_n 10^(snr/10))), weights normalised to sum 1."""
    a1 = np.sqrt(np.sum(speech.astype(np.float64) ** 2) /
                 (np.sum(noise.astype(np.float64) ** 2) * 10 ** (snr_db / 10)))
    a0, a1 = 1.0 / (1.0 + a1), a1 / (1.0 + a1)
    return (a0 * speech).astype(np.float32), (a1 * noise).astype(np.float32)


def stft(y, n_fft=256, hop=128):
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    padded = np.concatenate([np.zeros(n_fft // 2), y, np.zeros(n_fft // 2)])
    frames = 1 + (len(padded) - n_fft) // hop
    return np.stack([np.fft.rfft(window * padded[t * hop:t * hop + n_fft])
                     for t in range(frames)], axis=1)


def istft(D, length, n_fft=256, hop=128):
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    total = n_fft + hop * (D.shape[1] - 1)
    y, wss = np.zeros(total), np.zeros(total)
    for t in range(D.shape[1]):
        y[t * hop:t * hop + n_fft] += window * np.fft.irfft(D[:, t], n=n_fft)
        wss[t * hop:t * hop + n_fft] += window ** 2
    y[wss > 1e-30] /= wss[wss > 1e-30]
    return y[n_fft // 2:n_fft // 2 + length]


def wiener_estimates(speech, noise, rng):
    """A soft mask from power estimates perturbed by log-normal errors: a
    realistic imperfect denoiser; the noise estimate is the remainder."""
    S, N = stft(speech.astype(np.float64)), stft(noise.astype(np.float64))
    ps = np.abs(S) ** 2 * rng.lognormal(0.0, 1.0, S.shape)
    pn = np.abs(N) ** 2 * rng.lognormal(0.0, 1.0, N.shape)
    mask = ps / (ps + pn + 1e-12)
    mixture = S + N
    speech_hat = istft(mask * mixture, len(speech))
    noise_hat = istft((1 - mask) * mixture, len(speech))
    return speech_hat.astype(np.float32), noise_hat.astype(np.float32)


def distorted_estimates(speech, noise, rng):
    """Filtered, delayed and leaky copies plus white noise."""
    smooth = np.convolve(speech, [0.25, 0.5, 0.25], mode="same")
    delayed = np.concatenate([np.zeros(3), noise[:-3]])
    white = rng.standard_normal(len(speech)) * 0.01 * np.abs(speech).max()
    speech_hat = 0.9 * smooth + 0.2 * noise + white
    noise_hat = 0.8 * delayed + 0.1 * speech - white
    return speech_hat.astype(np.float32), noise_hat.astype(np.float32)


def load_material():
    speech_files = sorted(glob.glob(os.path.join(SPEECH_DIR, "*.wav")))
    noise_files = sorted(glob.glob(os.path.join(NOISE_DIR, "*.wav")))
    if not speech_files or not noise_files:
        sys.exit("speech or noise files missing: install asterisk-core-sounds-en-wav and "
                 "colobot-common-sounds")
    # Prompts of 1.5-3 s keep mir_eval's runtime small.
    speech = []
    for path in speech_files:
        with wave.open(path) as w:
            if 12000 <= w.getnframes() <= 24000:
                speech.append(path)
        if len(speech) == 3:
            break
    # The noise: effects joined at 8 kHz until long enough, as SPEC's data.
    pieces, total = [], 0
    for path in noise_files:
        piece = read_audio(path, RATE)
        pieces.append(peak_normalised(piece))
        total += len(piece)
        if total > 60000:
            break
    return speech, np.concatenate(pieces)


# ----------------------------------------------------------------- checks

FAILURES = []


def expect_db(name, got, want, tolerance=DB_TOLERANCE):
    got, want = np.atleast_1d(got), np.atleast_1d(want)
    for g, w in zip(got, want):
        same_infinity = np.isinf(g) and np.isinf(w) and np.sign(g) == np.sign(w)
        if not (same_infinity or abs(g - w) <= tolerance):
            FAILURES.append(f"{name}: {got} vs reference {want}")
            return


def compare_bss(name, references, estimates, compute_permutation=True):
    ours = library_bss(references, estimates, compute_permutation)
    theirs = mir_eval.separation.bss_eval_sources(
        np.array(references, dtype=np.float64), np.array(estimates, dtype=np.float64),
        compute_permutation=compute_permutation)
    for label, a, b in zip(("SDR", "SIR", "SAR"), ours[:3], theirs[:3]):
        expect_db(f"{name} {label}", a, b)
    if list(ours[3]) != list(theirs[3]):
        FAILURES.append(f"{name}: permutation {ours[3]} vs mir_eval {theirs[3]}")
    return ours


def numpy_snr(s, e):
    s, e = s.astype(np.float64), e.astype(np.float64)
    return 10 * np.log10(np.sum(s ** 2) / np.sum((s - e) ** 2))


def numpy_si_sdr(s, e):
    s, e = s.astype(np.float64), e.astype(np.float64)
    alpha = np.dot(e, s) / np.dot(s, s)
    return 10 * np.log10(np.sum((alpha * s) ** 2) / np.sum((alpha * s - e) ** 2))


def wave_frames(path):
    with wave.open(path) as w:
        return w.getframerate(), w.readframes(w.getnframes())


def test_reader_and_writer_match_wave(path):
    rate, frames = wave_frames(path)
    expected = np.frombuffer(frames, dtype="<i2") / 32768.0
    got = read_audio(path)
    if got.shape != expected.shape or not np.array_equal(got, expected.astype(np.float32)):
        FAILURES.append(f"{path}: the library's samples differ from the wave module's")
    with tempfile.TemporaryDirectory() as folder:
        copy = os.path.join(folder, "copy.wav")
        write_pcm16(copy, got, rate)
        if wave_frames(copy) != (rate, frames):
            FAILURES.append(f"{path}: read and written back as 16-bit, the samples changed")


def test_real_ogg():
    music = sorted(glob.glob(os.path.join(MUSIC_DIR, "*.ogg")), key=os.path.getsize)
    if not music:
        FAILURES.append(f"no .ogg files in {MUSIC_DIR}: install colobot-common-sounds")
        return
    info = {}
    native = read_audio(music[0], 0, info)
    if not (info["channels"] == 2 and info["mixed_down"] == 1 and info["rate"] == 44100
            and len(native) > 44100 and np.abs(native).max() > 0.01):
        FAILURES.append(f"{music[0]}: read as {info}, {len(native)} samples")
    at_8k = read_audio(music[0], RATE, info)
    if info["rate"] != RATE or len(at_8k) != math.ceil(len(native) * RATE / 44100):
        FAILURES.append(f"{music[0]} at {RATE} Hz: {info}, {len(at_8k)} samples")


def main():
    rng = np.random.default_rng(2024)
    speech_files, noise_track = load_material()
    test_reader_and_writer_match_wave(speech_files[0])
    test_real_ogg()
    spread = []
    for index, (path, snr) in enumerate(zip(speech_files[:2], (-5.0, 3.0))):
        clean = peak_normalised(read_audio(path, RATE))
        start = rng.integers(0, len(noise_track) - len(clean))
        noise = noise_track[start:start + len(clean)]
        speech, noise = mix_at_snr(clean, noise, snr)
        mixture = speech + noise
        tag = f"{os.path.basename(path)} at {snr:+.0f} dB"
        for kind, make in (("wiener", wiener_estimates), ("distorted", distorted_estimates)):
            speech_hat, noise_hat = make(speech, noise, rng)
            result = compare_bss(f"{tag} {kind}", [speech, noise], [speech_hat, noise_hat])
            spread.extend(result[0])
            for est, ref in ((speech_hat, speech), (noise_hat, noise), (mixture, speech)):
                expect_db(f"{tag} {kind} SNR", scalar_metric("mdnmf_snr", ref, est),
                          numpy_snr(ref, est), 1e-6)
                expect_db(f"{tag} {kind} SI-SDR", scalar_metric("mdnmf_si_sdr", ref, est),
                          numpy_si_sdr(ref, est), 1e-6)
        if index == 0:
            # Swapped estimates: both must find the permutation [1, 0]; and
            # without the search, the given order.
            compare_bss(f"{tag} swapped", [speech, noise], [noise_hat, speech_hat])
            compare_bss(f"{tag} swapped, no permutation", [speech, noise],
                        [noise_hat, speech_hat], compute_permutation=False)
            compare_bss(f"{tag} one source", [speech], [speech_hat])
    # Three sources: two speakers' prompts and noise, estimates in a shuffled order.
    a = peak_normalised(read_audio(speech_files[0], RATE))
    b = peak_normalised(read_audio(speech_files[2], RATE))
    n = min(16000, len(a), len(b), len(noise_track) // 2)
    a, b = a[:n], b[:n]
    c = noise_track[:n] * 0.5
    estimates = [0.7 * c + 0.1 * a, a + 0.3 * b + 0.05 * c, 0.9 * b + 0.2 * a]
    compare_bss("three sources", [a, b, c], [np.asarray(e, np.float32) for e in estimates])
    if np.ptp(spread) < 5.0:
        FAILURES.append(f"the test cases are too alike: SDRs {spread}")
    if FAILURES:
        print("\n".join(FAILURES))
        sys.exit(1)
    print(f"BSS Eval agrees with mir_eval within {DB_TOLERANCE} dB (SDRs {np.round(spread, 2)})")


if __name__ == "__main__":
    main()
