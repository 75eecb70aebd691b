"""mdnmf.Denoiser against the tool: a WAV denoised from Python equals
`mdnmf denoise apply`'s with the same model (issue 15's 1e-6), a fit from
arrays, from paths and by `mdnmf denoise fit` give the same model, save and
load read and write the tool's files, the stream of a Denoiser is the
stream of its file, and bad input raises the right exception with the
library's message."""

import os
import atexit

import numpy as np

from audio_fixture import (FOLDER, RATE, SMALL, cleanup, cli_model, folders, model_arrays,
                           same_model)
from harness import raises, run_cli, run_tests

import mdnmf

atexit.register(cleanup)


def test_a_wav_denoised_from_python_equals_denoise_apply():
    model = cli_model()
    _, _, noisy = folders()
    out = os.path.join(FOLDER, "apply")
    # Both with their defaults: noise adaptation and smoothing.
    run_cli("denoise", "apply", "-m", model, "-o", out, "--all-sources", "--float", "-q", noisy)
    cli_speech, rate = mdnmf.read_audio(os.path.join(out, "held_out.wav"))
    cli_noise, _ = mdnmf.read_audio(os.path.join(out, "held_out.noise.wav"))
    speech, noise, py_rate = mdnmf.Denoiser.load(model).apply_file(noisy)
    assert rate == py_rate == RATE and speech.shape == cli_speech.shape
    worst = max(np.max(np.abs(speech - cli_speech)), np.max(np.abs(noise - cli_noise)))
    print(f"     Python vs `denoise apply --float`: largest difference {worst:.3g}")
    assert worst <= 1e-6, worst
    assert np.max(np.abs(cli_speech)) > 0.01  # not a trivial output


def test_set_separation_plain_is_denoise_apply_without_adaptation_or_smoothing():
    """A new Denoiser separates as `denoise apply` by default
    (set_separation(200, "auto", 20)); set_separation() is the library's
    plain separation, `denoise apply --adapt-noise 0 --noise-smoothing 0`."""
    model = cli_model()
    _, _, noisy = folders()
    out = os.path.join(FOLDER, "apply-plain")
    run_cli("denoise", "apply", "-m", model, "-o", out, "--all-sources", "--float", "-q",
            "--adapt-noise", 0, "--noise-smoothing", 0, noisy)
    cli_speech, _ = mdnmf.read_audio(os.path.join(out, "held_out.wav"))
    cli_noise, _ = mdnmf.read_audio(os.path.join(out, "held_out.noise.wav"))
    denoiser = mdnmf.Denoiser.load(model)
    default, _, _ = denoiser.apply_file(noisy)
    assert denoiser.set_separation() is denoiser
    speech, noise, _ = denoiser.apply_file(noisy)
    worst = max(np.max(np.abs(speech - cli_speech)), np.max(np.abs(noise - cli_noise)))
    print(f"     Python set_separation() vs plain `denoise apply`: largest difference {worst:.3g}")
    assert worst <= 1e-6, worst
    assert np.max(np.abs(default - speech)) > 1e-3
    assert np.array_equal(denoiser.set_separation(200, "auto", 20).apply_file(noisy)[0],
                          default)
    # Bad settings raise and leave the last good ones.
    for kwargs in ({"adapt_noise": -1}, {"noise_smoothing": -2}, {"adapt_start": "sometimes"}):
        try:
            denoiser.set_separation(**kwargs)
        except mdnmf.InvalidArgumentError:
            pass
        else:
            raise AssertionError(f"{kwargs} was accepted")
    assert np.array_equal(denoiser.apply_file(noisy)[0], default)


def test_a_pcm16_wav_written_from_python_equals_the_tools_file():
    model = cli_model()
    _, _, noisy = folders()
    out = os.path.join(FOLDER, "apply16")
    run_cli("denoise", "apply", "-m", model, "-o", out, "-q", noisy)
    mine = os.path.join(FOLDER, "python16.wav")
    mdnmf.Denoiser.load(model).apply_file(noisy, mine)
    theirs = mdnmf.read_audio(os.path.join(out, "held_out.wav"))[0]
    assert np.array_equal(mdnmf.read_audio(mine)[0], theirs)


def test_fit_from_paths_arrays_and_the_tool_give_the_same_model():
    speech_dir, noisy_dir, _ = folders()
    by_paths = mdnmf.Denoiser().fit(speech_dir, noisy_dir, **SMALL)
    speech = [mdnmf.read_audio(os.path.join(speech_dir, f))[0]
              for f in sorted(os.listdir(speech_dir))]
    noisy = [mdnmf.read_audio(os.path.join(noisy_dir, f))[0] for f in sorted(os.listdir(noisy_dir))]
    # float64, strided copies and lists: converted by the binding
    speech = [np.repeat(x.astype(np.float64), 2)[::2] if k % 2 else list(x)
              for k, x in enumerate(speech)]
    by_arrays = mdnmf.Denoiser().fit(speech, noisy, sample_rate=RATE, **SMALL)
    files = [os.path.join(FOLDER, name) for name in ("paths.npz", "arrays.npz")]
    by_paths.save(files[0])
    by_arrays.save(files[1])
    same_model(files[0], cli_model())
    same_model(files[1], cli_model())
    assert by_paths.mode == "semi_adv" and by_paths.atoms == (16, 8)
    assert by_paths.sample_rate == RATE and by_paths.n_fft == 256 and by_paths.hop_length == 128
    assert by_paths.wiener_exponent == 0.5  # the tool's default
    assert len(by_paths.history_) > 0


def test_defaults_are_the_tools():
    """No keyword at all: the same model as `mdnmf denoise fit` without options
    (a shorter fit to keep the test quick: epochs as in both)."""
    speech_dir, noisy_dir, _ = folders()
    path = os.path.join(FOLDER, "defaults-cli.npz")
    run_cli("denoise", "fit", "--speech", speech_dir, "--noisy", noisy_dir, "-d", "16,8",
            "--epochs", 3, "--test-epochs", 3, "-q", "-o", path)
    mine = os.path.join(FOLDER, "defaults-py.npz")
    mdnmf.Denoiser().fit(speech_dir, noisy_dir, atoms=(16, 8), epochs=3,
                         test_epochs=3).save(mine)
    same_model(mine, path)


def test_save_and_load_round_trip_through_the_tool():
    speech_dir, noisy_dir, noisy = folders()
    den = mdnmf.Denoiser().fit(speech_dir, noisy_dir, **SMALL)
    path = os.path.join(FOLDER, "saved.npz")
    den.save(path)
    again = mdnmf.Denoiser.load(path)
    assert np.array_equal(again.basis, den.basis)
    x, _ = mdnmf.read_audio(noisy)
    assert all(np.array_equal(a, b) for a, b in zip(again.apply(x), den.apply(x)))
    # the tool reads the Python model and denoises as with its own
    out_py, out_cli = os.path.join(FOLDER, "with-py"), os.path.join(FOLDER, "with-cli")
    run_cli("denoise", "apply", "-m", path, "-o", out_py, "--float", "-q", noisy)
    run_cli("denoise", "apply", "-m", cli_model(), "-o", out_cli, "--float", "-q", noisy)
    assert np.array_equal(mdnmf.read_audio(os.path.join(out_py, "held_out.wav"))[0],
                          mdnmf.read_audio(os.path.join(out_cli, "held_out.wav"))[0])


def test_apply_splits_the_signal_and_takes_any_dtype_and_rate():
    den = mdnmf.Denoiser.load(cli_model())
    _, _, noisy = folders()
    x, _ = mdnmf.read_audio(noisy)
    speech, noise = den.apply(x)
    assert speech.dtype == noise.dtype == np.float32
    assert speech.shape == noise.shape == x.shape
    assert np.max(np.abs(speech + noise - x)) < 1e-5
    assert np.max(np.abs(noise)) > 0.01
    for other in (x.astype(np.float64), np.asfortranarray(x), list(x), x.astype(np.float16)):
        same = den.apply(other, RATE)
        expected = den.apply(np.asarray(other, dtype=np.float32))
        assert np.array_equal(same[0], expected[0])
    up = mdnmf.resample(x, RATE, 16000)
    speech16, _ = den.apply(up, 16000)
    assert speech16.shape == up.shape  # back at the signal's rate and length


def test_semi_fit_improves_si_sdr_on_real_speech():
    speech_dir, noisy_dir, _ = folders()
    den = mdnmf.Denoiser().fit(speech_dir, noisy_dir, atoms=(32, 16), epochs=30, n_fft=256,
                               hop_length=64, mode="semi")
    x, _ = mdnmf.read_audio(os.path.join(speech_dir, sorted(os.listdir(speech_dir))[0]))
    rng = np.random.default_rng(0)
    noise = 0.1 * rng.standard_normal(x.size).astype(np.float32)
    # a noise it never saw: the model's speech basis still keeps the speech
    speech, _ = den.apply(x + noise)
    before, after = mdnmf.si_sdr(x, x + noise), mdnmf.si_sdr(x, speech)
    print(f"     SI-SDR {before:.2f} dB -> {after:.2f} dB")
    assert after > before + 1.0, (before, after)


def test_std_adv_and_sup_fit_from_arrays():
    speech_dir, _, _ = folders()
    speech = [mdnmf.read_audio(os.path.join(speech_dir, f))[0]
              for f in sorted(os.listdir(speech_dir))]
    rng = np.random.default_rng(2)
    noise = [0.2 * rng.standard_normal(x.size) for x in speech]
    mixtures = [s + n for s, n in zip(speech, noise)]
    for mode, extra in (("std", {}), ("adv", {"noisy": mixtures}),
                        ("sup", {"noisy": mixtures})):
        den = mdnmf.Denoiser().fit(speech, noise=noise, mode=mode, sample_rate=RATE,
                                   **SMALL, **extra)
        assert den.mode == mode and den.atoms == (16, 8)
        s, n = den.apply(mixtures[0])
        assert np.max(np.abs(s + n - mixtures[0].astype(np.float32))) < 1e-5


def test_stream_of_a_denoiser_is_the_stream_of_its_file():
    _, _, noisy = folders()
    x, _ = mdnmf.read_audio(noisy)
    from_object = mdnmf.Denoiser.load(cli_model()).stream(floor=0.1).process(x)
    from_file = mdnmf.Stream(cli_model(), floor=0.1).process(x)
    assert np.array_equal(from_object, from_file)


def test_bad_input_raises_with_a_message():
    speech_dir, noisy_dir, noisy = folders()
    fit = mdnmf.Denoiser().fit
    raises(mdnmf.InvalidArgumentError, fit, speech_dir, noisy_dir, mode="exem",
           contains="mode must be one of")
    raises(mdnmf.InvalidArgumentError, fit, speech_dir, None, contains="needs noisy")
    raises(mdnmf.InvalidArgumentError, fit, speech_dir, noisy_dir, noise=noisy_dir, mode="std",
           contains="noisy is not used by mode std")
    raises(mdnmf.InvalidArgumentError, fit, speech_dir, noisy_dir, noise=noisy_dir,
           contains="learns the noise from the noisy")
    raises(mdnmf.InvalidArgumentError, fit, speech_dir, noisy_dir, n_fft=255,
           contains="n_fft must be even")  # the library's message
    raises(mdnmf.InvalidArgumentError, fit, speech_dir, noisy_dir, hop_length=600,
           contains="hop_length: 600 is longer than n_fft 512")
    raises(mdnmf.InvalidArgumentError, fit, speech_dir, noisy_dir, atoms=(16,),
           contains="atoms")
    raises(mdnmf.InvalidArgumentError, fit, speech_dir, noisy_dir, tau_A=-1, contains="tau_A")
    raises(mdnmf.InvalidArgumentError, fit, [np.ones(800)], [np.ones(800)],
           contains="sample_rate is needed")
    raises(mdnmf.InvalidDataError, fit, [np.zeros(800)], [np.ones(800)], sample_rate=RATE,
           contains="silent")
    raises(mdnmf.InvalidDataError, fit, [np.full(800, np.nan)], [np.ones(800)],
           sample_rate=RATE, contains="non-finite")
    raises(mdnmf.ShapeError, fit, speech_dir, noisy_dir, atoms=(5000, 8), **{
        k: v for k, v in SMALL.items() if k != "atoms"}, contains="speech: source 0")
    raises(mdnmf.FileAccessError, fit, os.path.join(FOLDER, "missing.wav"), noisy_dir,
           contains="missing.wav")
    empty = os.path.join(FOLDER, "empty")
    os.makedirs(empty, exist_ok=True)
    raises(FileNotFoundError, fit, empty, noisy_dir, contains="no audio files")
    raises(mdnmf.NotFittedError, mdnmf.Denoiser().apply, np.ones(100), contains="not fitted")
    raises(mdnmf.NotFittedError, mdnmf.Denoiser().save, os.path.join(FOLDER, "x.npz"))
    den = mdnmf.Denoiser.load(cli_model())
    raises(mdnmf.InvalidDataError, den.apply, np.zeros(1000), contains="silent")
    raises(mdnmf.InvalidDataError, den.apply, np.array([0.1, np.inf, 0.2]),
           contains="non-finite")
    raises(mdnmf.ShapeError, den.apply, np.ones((2, 100)), contains="1-D")
    raises(mdnmf.ShapeError, den.apply, np.ones(0), contains="empty")
    raises(mdnmf.InvalidArgumentError, den.apply, np.ones(100), 10, contains="sample_rate")
    raises(mdnmf.InvalidArgumentError, den.apply, np.ones(100, dtype=complex), contains="dtype")
    raises(mdnmf.FileFormatError, mdnmf.Denoiser.load, noisy, contains="not a model file")
    raises(mdnmf.FileAccessError, mdnmf.Denoiser.load, os.path.join(FOLDER, "none.npz"),
           contains="none.npz")
    plain = os.path.join(FOLDER, "plain.npz")  # an NMF model: no audio front end
    nmf = mdnmf.NMF(d=4, epochs=2)
    nmf.fit_std(np.random.default_rng(0).random((10, 30)))
    nmf.save(plain)
    raises(mdnmf.NotFittedError, mdnmf.Denoiser.load, plain, contains="audio")


def test_a_failed_fit_leaves_the_denoiser_as_it_was():
    speech_dir, noisy_dir, _ = folders()
    den = mdnmf.Denoiser.load(cli_model())
    before = den.basis
    raises(mdnmf.ShapeError, den.fit, speech_dir, noisy_dir, atoms=(5000, 8), epochs=1)
    assert np.array_equal(den.basis, before)
    fresh = mdnmf.Denoiser()
    raises(mdnmf.CancelledError, fresh.fit, speech_dir, noisy_dir, **SMALL,
           callback=lambda record: False)
    assert not fresh.fitted
    arrays = model_arrays(cli_model())
    assert np.array_equal(arrays["W"].T, den.basis)


if __name__ == "__main__":
    run_tests(globals())
