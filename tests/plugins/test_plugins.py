"""The LADSPA and LV2 plugins (plugins/) in real hosts on real speech.

A prompt set of en_US_f_Allison in colobot noise at 3 dB, 8 kHz (the
mixtures and the model of tests/cli/test_denoise.py: `denoise fit --mode
semi`, about a second) is denoised by ffmpeg's ladspa and lv2 filters, by
lilv's lv2apply and by tests/plugins/plugin_host (a minimal host: random
block sizes, in-place buffers, a control moved mid-stream, LV2 state).
Every output must equal, sample for sample, the library's stream on the
same input with the same parameters (tests/plugins/stream_reference) and
`mdnmf denoise stream`'s; the hosts read and write 32-bit float, so
nothing rounds in between.  The
plugin must report the stream's latency, and its output, shifted by that
latency, must improve SI-SDR over the noisy input.  Without a model (or
with a broken one) the plugins print one line and pass audio through
unchanged.

A test whose host program is missing says "skip" on stdout, as does every
test without the Debian recordings (MDNMF_REQUIRE_SPEECH=1 makes that a
failure).  In the sanitized build (MDNMF_SANITIZED=1) the plugins carry
AddressSanitizer, which ffmpeg and lv2apply cannot load: only the
plugin_host tests run there (they are sanitized programs themselves)."""

import atexit
import os
import re
import shutil
import subprocess
import sys
import warnings

import numpy as np
import scipy.io.wavfile as wavfile
import scipy.signal

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "cli"))

import test_denoise as speech_data  # noqa: E402  (the mixtures and the model)
from cli_harness import Workspace, run, run_tests  # noqa: E402

BUILD = os.environ.get("MDNMF_BUILD", "")
PLUGIN_DIR = os.path.join(BUILD, "plugins")
LADSPA = os.path.join(PLUGIN_DIR, "mdnmf_ladspa.so")
LV2_BUNDLE = os.path.join(PLUGIN_DIR, "mdnmf.lv2")
LV2_BINARY = os.path.join(LV2_BUNDLE, "mdnmf.so")
LV2_URI = "urn:mdnmf:lv2:denoise"
HOST = os.path.join(BUILD, "tests", "plugins", "plugin_host")
REFERENCE = os.path.join(BUILD, "tests", "plugins", "stream_reference")
SANITIZED = os.environ.get("MDNMF_SANITIZED") == "1"
RATE = speech_data.RATE

# LADSPA control numbers (ffmpeg's c0, c1, c2) and LV2 symbols, in port order.
CONTROLS = ["attenuation", "exponent", "learn_noise"]
PORT = {"attenuation": 2, "exponent": 3, "learn_noise": 4}

# The denoised output must beat the noisy input by this much (dB SI-SDR);
# a pass-through gains 0, the plugins measured +2.1 to +2.8.
MIN_GAIN_DB = 1.0

Skip = speech_data.Skip


def skippable(test):
    return speech_data.skippable(test)


def need_program(path_or_name, what):
    found = shutil.which(path_or_name) if os.sep not in path_or_name else (
        path_or_name if os.path.exists(path_or_name) else None)
    if not found:
        raise Skip(f"{what} not found ({path_or_name})")
    return found


def need_plugin(path):
    if not os.path.exists(path):
        raise Skip(f"{path} was not built (ladspa-sdk / lv2-dev missing?)")


def need_real_host():
    if SANITIZED:
        raise Skip("sanitized plugins cannot be loaded by ffmpeg or lv2apply")


def floor_of(attenuation_db):
    """The plugins' mask floor of a control value in dB (docs/realtime.md)."""
    if attenuation_db >= 100:
        return 0.0
    return 10 ** (-attenuation_db / 20) if attenuation_db > 0 else 1.0


def plugin_lines(stderr, prefix):
    return [line for line in stderr.splitlines() if line.startswith(prefix)]


# ---------------------------------------------------------------- fixture


class Fixture:
    """One workspace for the file: the noisy mixture at 8 kHz (and
    resampled to 16 and 48 kHz), as float WAV and raw float32, its clean
    target, and a semi model fitted on it."""

    instance = None

    @classmethod
    def get(cls):
        if cls.instance is None:
            cls.instance = cls()
        return cls.instance

    def __init__(self):
        self.ws = Workspace()
        atexit.register(self.ws.__exit__)
        self.speech = speech_data.Speech(self.ws)
        # The stream's own model size (scripts/make-models.sh): the paper's 32
        # noise atoms, for which issue 14's bars were set.
        self.model = self.speech.fit("semi", extra=["-d", "128,32"])
        self.files = {}

    def mixture(self, rate=RATE):
        """(noisy WAV path, noisy raw path, noisy, clean) at `rate` Hz."""
        if rate not in self.files:
            noisy, clean = self.speech.noisy, self.speech.clean
            if rate != RATE:
                noisy = scipy.signal.resample_poly(noisy, rate, RATE)
                clean = scipy.signal.resample_poly(clean, rate, RATE)
            noisy = noisy.astype(np.float32)
            wav = os.path.join(self.ws.inputs, f"noisy-{rate}.wav")
            raw = os.path.join(self.ws.inputs, f"noisy-{rate}.f32")
            wavfile.write(wav, rate, noisy)
            noisy.tofile(raw)
            self.files[rate] = (wav, raw, noisy, clean)
        return self.files[rate]

    def out(self, name):
        return self.ws.out(name)


def reference(raw, rate=RATE, attenuation=100.0, exponent=0.0, learn=0, change=None,
              model=None, block=1000):
    """The library's stream on `raw` in blocks of `block`: (output, latency)."""
    fx = Fixture.get()
    out = fx.out(f"reference-{len(os.listdir(fx.ws.outputs))}.f32")
    args = [REFERENCE, model or fx.model, raw, out, "--rate", rate,
            "--floor", repr(floor_of(attenuation)), "--exponent", repr(exponent),
            "--learn", learn, "--block", block]
    if change:
        at, (att2, exp2, learn2) = change
        args += ["--change-at", at, repr(floor_of(att2)), repr(exp2), learn2]
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    latency = int(re.search(r"latency (\d+)", result.stdout).group(1))
    return np.fromfile(out, dtype=np.float32), latency


def read_output(path):
    if path.endswith(".wav"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lv2apply's PEAK chunk
            rate, x = wavfile.read(path)
        assert x.dtype == np.float32, f"{path}: {x.dtype}, not float"
        return x
    return np.fromfile(path, dtype=np.float32)


def assert_same(output, expected, what):
    assert len(output) == len(expected), f"{what}: {len(output)} samples, expected {len(expected)}"
    if not np.array_equal(output, expected):
        diff = np.abs(output.astype(np.float64) - expected)
        first = int(np.argmax(diff > 0))
        raise AssertionError(f"{what}: differs from the library's stream from sample {first} "
                             f"(largest difference {diff.max():.3g})")


def gain_db(output, latency, noisy, clean):
    """SI-SDR gain of `output` (delayed by `latency`) over the noisy input."""
    n = len(clean) - latency
    denoised = speech_data.si_sdr(clean[:n], output[latency:latency + n].astype(np.float64))
    return denoised - speech_data.si_sdr(clean, noisy.astype(np.float64))


def assert_denoises(output, latency, noisy, clean, what):
    gain = gain_db(output, latency, noisy, clean)
    print(f"{what}: SI-SDR gain {gain:+.2f} dB (latency {latency})")
    assert gain >= MIN_GAIN_DB, f"{what}: SI-SDR gain {gain:.2f} dB < {MIN_GAIN_DB}"


# ------------------------------------------------------------------ hosts


def host_env(model):
    env = dict(os.environ)
    env.pop("MDNMF_MODEL", None)
    if model is not None:
        env["MDNMF_MODEL"] = model
    env["LV2_PATH"] = PLUGIN_DIR
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    return env


def ffmpeg(filter_text, wav, out, model, loglevel="error"):
    ffmpeg_path = need_program("ffmpeg", "ffmpeg")
    result = subprocess.run(
        [ffmpeg_path, "-nostdin", "-hide_banner", "-loglevel", loglevel, "-y", "-i", wav,
         "-af", filter_text, "-f", "f32le", "-c:a", "pcm_f32le", out],
        capture_output=True, text=True, env=host_env(model), timeout=300)
    assert result.returncode == 0, result.stderr
    return read_output(out), result.stderr


def ffmpeg_ladspa(wav, out, model, controls=None, options="", loglevel="error"):
    text = f"ladspa=file={LADSPA}:plugin=mdnmf_denoise"
    if controls:
        text += ":controls=" + "|".join(f"c{CONTROLS.index(k)}={v}" for k, v in controls.items())
    return ffmpeg(text + options, wav, out, model, loglevel)


def ffmpeg_lv2(wav, out, model, controls=None):
    # The URI's colons are escaped twice: for the filter graph and the option.
    text = "lv2=plugin=" + LV2_URI.replace(":", "\\\\:")
    if controls:
        text += ":controls=" + "|".join(f"{k}={v}" for k, v in controls.items())
    return ffmpeg(text, wav, out, model)


def lv2apply(wav, out, model, controls=None):
    program = need_program("lv2apply", "lv2apply (lilv-utils)")
    args = [program, "-i", wav, "-o", out]
    for k, v in (controls or {}).items():
        args += ["-c", k, str(v)]
    result = subprocess.run(args + [LV2_URI], capture_output=True, text=True,
                            env=host_env(model), timeout=300)
    assert result.returncode == 0, result.stderr
    return read_output(out), result.stderr


def plugin_host(kind, raw, out, model, rate=RATE, options=()):
    """plugin_host on `raw`: (output, stdout, stderr)."""
    need_program(HOST, "tests/plugins/plugin_host")
    target = [LADSPA] if kind == "ladspa" else [LV2_BINARY, LV2_URI]
    result = subprocess.run([HOST, kind, *target, raw, out, str(rate), *map(str, options)],
                            capture_output=True, text=True, env=host_env(model), timeout=300)
    assert result.returncode == 0, result.stderr
    return np.fromfile(out, dtype=np.float32), result.stdout, result.stderr


def denoise_stream(raw, out, rate=RATE, attenuation=100.0, exponent=0.0, learn=0,
                   keep_latency=True):
    """`mdnmf denoise stream` on raw float32 samples: its output."""
    args = ["denoise", "stream", "-m", Fixture.get().model, "-i", raw, "-o", out,
            "--format", "f32le", "--rate", rate, "--channels", 1, "-q",
            "--floor", repr(floor_of(attenuation)), "--wiener-exponent", repr(exponent)]
    args += ["--learn-noise"] if learn else []
    args += ["--keep-latency"] if keep_latency else []
    result = run(*args, timeout=300)
    assert result.returncode == 0, result.stderr
    return np.fromfile(out, dtype=np.float32)


def reported_latency(stdout):
    return int(re.search(r"latency (-?\d+)", stdout).group(1))


# ----------------------------------------------------- ffmpeg and lv2apply


@skippable
def test_ffmpeg_ladspa_equals_the_stream_and_denoises():
    need_real_host()
    need_plugin(LADSPA)
    fx = Fixture.get()
    wav, raw, noisy, clean = fx.mixture()
    expected, latency = reference(raw)
    # -loglevel verbose: ffmpeg prints the output controls (the latency).
    output, stderr = ffmpeg_ladspa(wav, fx.out("ladspa.f32"), fx.model, loglevel="verbose")
    assert_same(output, expected, "ffmpeg -af ladspa")
    shown = re.findall(r"c0: latency \[.*\(value ([0-9.]+)\)", stderr)
    assert shown and float(shown[-1]) == latency, (shown[-3:], latency)
    assert_denoises(output, latency, noisy, clean, "ffmpeg -af ladspa, 8 kHz")


@skippable
def test_ffmpeg_ladspa_controls():
    """Attenuation 20 dB (floor 0.1), exponent 1, online noise learning."""
    need_real_host()
    need_plugin(LADSPA)
    fx = Fixture.get()
    wav, raw, noisy, clean = fx.mixture()
    expected, latency = reference(raw, attenuation=20, exponent=1, learn=1)
    output, _ = ffmpeg_ladspa(wav, fx.out("ladspa-controls.f32"), fx.model,
                              {"attenuation": 20, "exponent": 1, "learn_noise": 1})
    assert_same(output, expected, "ffmpeg -af ladspa with controls")
    default, _ = reference(raw)
    assert not np.array_equal(output, default), "the controls changed nothing"


@skippable
def test_ffmpeg_ladspa_latency_option_removes_the_delay():
    """ffmpeg's latency=1 reads the "latency" port, drops that many samples
    from the start and feeds as many zeros at the end: the output is the
    stream's on the input and `latency` zeros, shifted back into place."""
    need_real_host()
    need_plugin(LADSPA)
    fx = Fixture.get()
    wav, raw, noisy, clean = fx.mixture()
    _, latency = reference(raw)
    assert latency > 0
    padded = fx.out("noisy-padded.f32")
    np.concatenate([noisy, np.zeros(latency, np.float32)]).tofile(padded)
    expected, _ = reference(padded)
    output, _ = ffmpeg_ladspa(wav, fx.out("ladspa-aligned.f32"), fx.model, options=":latency=1")
    assert_same(output, expected[latency:], "ffmpeg -af ladspa=...:latency=1")
    assert_denoises(output, 0, noisy, clean, "ffmpeg -af ladspa:latency=1")


@skippable
def test_ffmpeg_ladspa_at_16_khz():
    """The host's rate is not the model's: the stream resamples inside."""
    need_real_host()
    need_plugin(LADSPA)
    fx = Fixture.get()
    wav, raw, noisy, clean = fx.mixture(16000)
    expected, latency = reference(raw, rate=16000, attenuation=40)
    output, _ = ffmpeg_ladspa(wav, fx.out("ladspa-16k.f32"), fx.model, {"attenuation": 40})
    assert_same(output, expected, "ffmpeg -af ladspa at 16 kHz")
    assert_denoises(output, latency, noisy, clean, "ffmpeg -af ladspa, 16 kHz")


@skippable
def test_ffmpeg_lv2_equals_the_stream_and_denoises():
    need_real_host()
    need_plugin(LV2_BINARY)
    fx = Fixture.get()
    wav, raw, noisy, clean = fx.mixture()
    expected, latency = reference(raw, attenuation=30, learn=1)
    output, _ = ffmpeg_lv2(wav, fx.out("lv2.f32"), fx.model,
                           {"attenuation": 30, "learn_noise": 1})
    assert_same(output, expected, "ffmpeg -af lv2")
    assert_denoises(output, latency, noisy, clean, "ffmpeg -af lv2, 8 kHz")


@skippable
def test_lv2apply_equals_the_stream_and_denoises():
    need_real_host()
    need_plugin(LV2_BINARY)
    fx = Fixture.get()
    wav, raw, noisy, clean = fx.mixture()
    expected, latency = reference(raw)
    output, _ = lv2apply(wav, fx.out("lv2apply.wav"), fx.model)
    assert_same(output, expected, "lv2apply")
    assert_denoises(output, latency, noisy, clean, "lv2apply, 8 kHz")


@skippable
def test_lv2apply_at_48_khz():
    """lv2apply runs the plugin one sample at a time: the stream in blocks
    of one sample is what it must equal."""
    need_real_host()
    need_plugin(LV2_BINARY)
    fx = Fixture.get()
    wav, raw, noisy, clean = fx.mixture(48000)
    expected, latency = reference(raw, rate=48000, exponent=1, block=1)
    output, _ = lv2apply(wav, fx.out("lv2apply-48k.wav"), fx.model, {"exponent": 1})
    assert_same(output, expected, "lv2apply at 48 kHz")
    assert_denoises(output, latency, noisy, clean, "lv2apply, 48 kHz")


@skippable
def test_hosts_block_sizes_do_not_matter_at_48_khz():
    """lv2apply (blocks of one sample) and ffmpeg (1024) give the same
    output: the stream's promise that the cut of the input into blocks
    changes nothing.  At 48 kHz and 44.1 kHz the stream's output FIFO once
    ran dry with one-sample blocks after 2.46 s (8 zeros, then the rest
    8 samples late): its 2 s dry run had not seen the largest deficit."""
    need_real_host()
    need_plugin(LV2_BINARY)
    need_plugin(LADSPA)
    fx = Fixture.get()
    wav, raw, noisy, clean = fx.mixture(48000)
    one_by_one, _ = lv2apply(wav, fx.out("lv2apply-48k-blocks.wav"), fx.model)
    in_frames, _ = ffmpeg_ladspa(wav, fx.out("ladspa-48k-blocks.f32"), fx.model)
    assert_same(one_by_one, in_frames, "lv2apply (1-sample blocks) against ffmpeg (1024)")


# ------------------------------------------------- mdnmf denoise stream


@skippable
def test_plugins_equal_denoise_stream():
    """The command line and the plugins run the same stream: ffmpeg's
    LADSPA output equals `denoise stream --keep-latency`, and with
    ffmpeg's latency=1 the aligned output of `denoise stream` (its
    default), at the model's rate and at 16 kHz."""
    need_real_host()
    need_plugin(LADSPA)
    fx = Fixture.get()
    controls = {"attenuation": 20, "exponent": 1, "learn_noise": 1}
    for rate in (RATE, 16000):
        wav, raw, noisy, clean = fx.mixture(rate)
        delayed = denoise_stream(raw, fx.out(f"cli-{rate}.f32"), rate, 20, 1, 1)
        output, _ = ffmpeg_ladspa(wav, fx.out(f"ladspa-cli-{rate}.f32"), fx.model, controls)
        assert_same(output, delayed, f"ffmpeg -af ladspa against denoise stream at {rate} Hz")
        aligned = denoise_stream(raw, fx.out(f"cli-aligned-{rate}.f32"), rate, 20, 1, 1,
                                 keep_latency=False)
        output, _ = ffmpeg_ladspa(wav, fx.out(f"ladspa-cli-aligned-{rate}.f32"), fx.model,
                                  controls, options=":latency=1")
        assert_same(output, aligned, f"ffmpeg -af ladspa:latency=1 against denoise stream "
                                     f"(aligned) at {rate} Hz")
        assert_denoises(output, 0, noisy, clean, f"denoise stream and ladspa, {rate} Hz, "
                                                 "20 dB, p = 1, learning")


# ---------------------------------------------------------- no model


def assert_passes_through(output, noisy, stderr, prefix, words, what):
    assert np.array_equal(output, noisy), f"{what}: the audio was changed"
    lines = plugin_lines(stderr, prefix)
    assert len(lines) == 1, f"{what}: expected one line from the plugin, got {lines}"
    for word in words:
        assert word in lines[0], f"{what}: {word!r} not in {lines[0]!r}"


@skippable
def test_ffmpeg_ladspa_without_a_model_passes_through():
    need_real_host()
    need_plugin(LADSPA)
    fx = Fixture.get()
    wav, raw, noisy, clean = fx.mixture()
    output, stderr = ffmpeg_ladspa(wav, fx.out("ladspa-none.f32"), None)
    assert_passes_through(output, noisy, stderr, "mdnmf_denoise:",
                          ["MDNMF_MODEL", "passes through"], "ladspa, no MDNMF_MODEL")
    output, stderr = ffmpeg_ladspa(wav, fx.out("ladspa-empty.f32"), "")
    assert_passes_through(output, noisy, stderr, "mdnmf_denoise:",
                          ["MDNMF_MODEL", "passes through"], "ladspa, MDNMF_MODEL empty")
    missing = os.path.join(fx.ws.inputs, "no-such-model.npz")
    output, stderr = ffmpeg_ladspa(wav, fx.out("ladspa-missing.f32"), missing, {"attenuation": 20})
    assert_passes_through(output, noisy, stderr, "mdnmf_denoise:", [missing, "passes through"],
                          "ladspa, missing model")
    # A file that is not a model (the WAV itself).
    output, stderr = ffmpeg_ladspa(wav, fx.out("ladspa-bad.f32"), wav)
    assert_passes_through(output, noisy, stderr, "mdnmf_denoise:", [wav, "passes through"],
                          "ladspa, not a model")


@skippable
def test_lv2_hosts_without_a_model_pass_through():
    need_real_host()
    need_plugin(LV2_BINARY)
    fx = Fixture.get()
    wav, raw, noisy, clean = fx.mixture()
    output, stderr = lv2apply(wav, fx.out("lv2apply-none.wav"), None)
    assert_passes_through(output, noisy, stderr, "mdnmf.lv2:", ["MDNMF_MODEL", "passes through"],
                          "lv2apply, no model")
    output, stderr = ffmpeg_lv2(wav, fx.out("lv2-none.f32"), None, {"learn_noise": 1})
    assert_passes_through(output, noisy, stderr, "mdnmf.lv2:", ["MDNMF_MODEL", "passes through"],
                          "ffmpeg -af lv2, no model")


# ------------------------------------------------------------ plugin_host


@skippable
def test_ladspa_random_blocks_and_in_place_buffers():
    need_plugin(LADSPA)
    fx = Fixture.get()
    wav, raw, noisy, clean = fx.mixture()
    expected, latency = reference(raw, learn=1)
    for options in (["--blocks", 700], ["--blocks", 300, "--in-place"], ["--blocks", 1]):
        output, stdout, _ = plugin_host("ladspa", raw, fx.out("host.f32"), fx.model,
                                        options=["--control", 4, 1, *options])
        assert_same(output, expected, f"plugin_host ladspa {options}")
        assert reported_latency(stdout) == latency, (stdout, latency)


@skippable
def test_controls_moved_while_running():
    """At sample 30000 the attenuation goes from 100 to 12 dB and learning
    turns on: the stream gets set_mask and set_learn_noise there."""
    need_plugin(LADSPA)
    need_plugin(LV2_BINARY)
    fx = Fixture.get()
    wav, raw, noisy, clean = fx.mixture()
    expected, _ = reference(raw, change=(30000, (12, 0.0, 1)))
    unchanged, _ = reference(raw)
    options = ["--blocks", 900, "--change-at", 30000, 2, 12, "--change-at", 30000, 4, 1]
    for kind in ("ladspa", "lv2"):
        output, _, _ = plugin_host(kind, raw, fx.out(f"moved-{kind}.f32"), fx.model,
                                   options=options)
        assert_same(output, expected, f"plugin_host {kind}, controls moved")
        assert np.array_equal(output[:30000], unchanged[:30000])
        assert not np.array_equal(output, unchanged)


@skippable
def test_lv2_state_brings_the_model():
    """No MDNMF_MODEL: the state's path (absolute, or abstract with
    state:mapPath) loads the model; save gives the path back."""
    need_plugin(LV2_BINARY)
    fx = Fixture.get()
    wav, raw, noisy, clean = fx.mixture()
    expected, latency = reference(raw)
    output, stdout, stderr = plugin_host("lv2", raw, fx.out("state.f32"), None,
                                         options=["--state", fx.model, "--save"])
    assert "restore 0" in stdout, stdout
    assert_same(output, expected, "LV2 state, absolute path")
    assert f"saved {fx.model}" in stdout, stdout
    assert reported_latency(stdout) == latency
    assert not plugin_lines(stderr, "mdnmf.lv2:"), stderr
    folder, name = os.path.split(fx.model)
    output, stdout, _ = plugin_host("lv2", raw, fx.out("state-mapped.f32"), None,
                                    options=["--state", name, "--map-dir", folder, "--save"])
    assert "restore 0" in stdout, stdout
    assert_same(output, expected, "LV2 state, mapped path")
    assert f"saved {name}\n" in stdout, stdout


@skippable
def test_lv2_state_with_a_bad_model():
    """A state naming a missing model: restore fails, one line names the
    file; with MDNMF_MODEL the plugin keeps that model, without it audio
    passes through."""
    need_plugin(LV2_BINARY)
    fx = Fixture.get()
    wav, raw, noisy, clean = fx.mixture()
    missing = os.path.join(fx.ws.inputs, "moved-away.npz")
    output, stdout, stderr = plugin_host("lv2", raw, fx.out("state-bad.f32"), None,
                                         options=["--state", missing])
    assert "restore 0" not in stdout, stdout
    assert_passes_through(output, noisy, stderr, "mdnmf.lv2:", [missing, "passes through"],
                          "LV2 state, missing model")
    assert reported_latency(stdout) == 0
    expected, _ = reference(raw)
    output, stdout, stderr = plugin_host("lv2", raw, fx.out("state-bad-env.f32"), fx.model,
                                         options=["--state", missing])
    assert_same(output, expected, "LV2 state, missing model, MDNMF_MODEL kept")
    lines = plugin_lines(stderr, "mdnmf.lv2:")
    assert len(lines) == 1 and missing in lines[0] and fx.model in lines[0], lines


@skippable
def test_lv2_without_urid_map_uses_the_environment():
    need_plugin(LV2_BINARY)
    fx = Fixture.get()
    wav, raw, noisy, clean = fx.mixture()
    expected, _ = reference(raw)
    output, stdout, _ = plugin_host("lv2", raw, fx.out("no-map.f32"), fx.model,
                                    options=["--urid-map", 0, "--state", fx.model])
    assert "restore 0" not in stdout, stdout  # no map: no state
    assert_same(output, expected, "LV2 without urid:map")


@skippable
def test_installed_plugins_need_no_build_tree():
    """`cmake --install` with DESTDIR, then ffmpeg loads the installed
    LADSPA plugin and lv2apply finds the installed bundle through LV2_PATH:
    nothing points back into build/."""
    need_real_host()
    need_plugin(LADSPA)
    need_plugin(LV2_BINARY)
    fx = Fixture.get()
    wav, raw, noisy, clean = fx.mixture()
    destdir = os.path.join(fx.ws.root, "destdir")
    env = dict(os.environ, DESTDIR=destdir)
    result = subprocess.run(["cmake", "--install", BUILD, "--prefix", "/usr/local"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    ladspa = os.path.join(destdir, "usr/local/lib/ladspa/mdnmf_ladspa.so")
    bundle = os.path.join(destdir, "usr/local/lib/lv2/mdnmf.lv2")
    for path in (ladspa, os.path.join(bundle, "manifest.ttl"), os.path.join(bundle, "mdnmf.ttl"),
                 os.path.join(bundle, "mdnmf.so")):
        assert os.path.exists(path), path
    expected, _ = reference(raw)
    output, _ = ffmpeg(f"ladspa=file={ladspa}:plugin=mdnmf_denoise", wav,
                       fx.out("installed.f32"), fx.model)
    assert_same(output, expected, "installed LADSPA plugin")
    program = need_program("lv2apply", "lv2apply (lilv-utils)")
    out = fx.out("installed.wav")
    env = host_env(fx.model)
    env["LV2_PATH"] = os.path.dirname(bundle)
    result = subprocess.run([program, "-i", wav, "-o", out, LV2_URI], capture_output=True,
                            text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert_same(read_output(out), expected, "installed LV2 bundle")


if __name__ == "__main__":
    if not BUILD:
        raise SystemExit("set MDNMF_BUILD to the build folder (ctest does)")
    run_tests(globals())
