"""`mdnmf experiment images` on small synthetic image classes (--tiny):
the report's CSVs (columns, finite scores, one row per seed x d x method),
its PNG figures (valid files of the expected sizes), and properties that
must hold whatever the numbers are:
- the tau part's tau_A = 0 row is the NMF of the rich part, bit for bit
  (same split, seed and d, fitted in another job);
- the results do not depend on the number of worker threads;
- classes living on disjoint halves of the image are separated (nearly)
  perfectly by every method: a mislabelled truth, a wrong mixing weight or
  a test image mixed with the wrong partner would show at once.
The experiments are their own program (experiments/, mdnmf-experiment beside
the tool), which `mdnmf experiment` runs: the same output and exit codes,
and only that program links cairo."""

import csv
import math
import os
import shutil
import struct
import subprocess
import zlib

import numpy as np

from cli_harness import Workspace, binary, expect_failure, run, run_tests

SIDE = 28


def bars(rng, count, kind):
    """28 x 28 images of 1-3 bright bars: horizontal, vertical or diagonal."""
    images = np.zeros((count, SIDE, SIDE), np.float32)
    for image in images:
        for _ in range(rng.integers(1, 4)):
            at, value = rng.integers(2, 26), rng.uniform(0.5, 1.0)
            if kind == 0:
                image[at - 1:at + 1, 3:25] = value
            elif kind == 1:
                image[3:25, at - 1:at + 1] = value
            else:
                for t in range(3, 25):
                    image[t, min(max(t + at - 14, 0), SIDE - 1)] = value
    return images.reshape(count, SIDE * SIDE)


def halves(rng, count, right):
    """Dense noise on the left (class 0) or right (class 1) half only."""
    images = np.zeros((count, SIDE, SIDE), np.float32)
    columns = slice(14, SIDE) if right else slice(0, 14)
    images[:, :, columns] = rng.uniform(0.2, 1.0, (count, SIDE, 14))
    return images.reshape(count, SIDE * SIDE)


def make_data(ws, classes):
    folder = os.path.join(ws.inputs, "mnist")
    os.makedirs(folder, exist_ok=True)
    for k, images in enumerate(classes):
        np.save(os.path.join(folder, f"digit{k}.npy"), images)
    return ws.inputs


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def png_size(path):
    """(width, height) of a PNG, after checking its signature, IHDR and the
    CRC of every chunk up to IEND."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG"
    at, names = 8, []
    while at < len(data):
        length, name = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        crc, = struct.unpack(">I", data[at + 8 + length:at + 12 + length])
        assert zlib.crc32(name + body) == crc, f"{path}: bad CRC in {name}"
        names.append(name)
        if name == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        at += 12 + length
    assert names[0] == b"IHDR" and names[-1] == b"IEND" and b"IDAT" in names, names
    return width, height


def grid_size(rows, cols, scale, row_labels):
    """The layout of plot_grid_png (experiments/plot.c): gap 4, title 30, a header of
    two label lines (8 + 2 x 14), row labels 70."""
    cell = SIDE * scale
    return ((70 if row_labels else 4) + cols * (cell + 4), 30 + 36 + rows * (cell + 4) + 4)


def experiment(data_dir, out, *extra):
    result = run("experiment", "images", "--tiny", "--quiet", "--data-dir", data_dir,
                 "-o", out, *extra, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def bars_data(ws):
    rng = np.random.default_rng(0)
    return make_data(ws, [bars(rng, 120, k) for k in range(3)])


TINY_ATOMS, TINY_TAU_ATOMS, TINY_SEEDS = [4, 8], [4], 2
TAUS = [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5]


def test_report_files_and_their_contents():
    with Workspace() as ws:
        out = ws.out("report")
        result = experiment(bars_data(ws), out, "--others", "0,2", "--threads", "2")
        assert "(a) Data rich" in result.stdout and "(c) Data poor" in result.stdout
        names = sorted(os.listdir(out))
        assert names == sorted(["README.md", "rich.csv", "rich-summary.csv", "rich.png",
                                "rich-examples.png", "tau.csv", "tau-summary.csv", "tau.png",
                                "tau-examples.png", "poor.csv", "poor-summary.csv", "poor.png",
                                "poor-examples.png"]), names  # no scratch folder left

        rich = read_csv(os.path.join(out, "rich.csv"))
        assert list(rich[0].keys()) == [
            "dataset", "class_a", "class_b", "seed", "d", "method", "tau_A", "n_train",
            "n_test", "epochs", "median_psnr", "mean_psnr", "status", "message"]
        assert len(rich) == TINY_SEEDS * len(TINY_ATOMS) * 4
        assert {(r["seed"], int(r["d"]), r["method"]) for r in rich} == {
            (str(s), d, m) for s in range(TINY_SEEDS) for d in TINY_ATOMS
            for m in ("NMF", "MDNMF", "DNMF", "ENMF")}
        for row in rich:
            assert row["status"] == "ok", row
            assert math.isfinite(float(row["median_psnr"])), row
            assert 0 < float(row["median_psnr"]) < 100, row

        tau = read_csv(os.path.join(out, "tau.csv"))
        assert len(tau) == TINY_SEEDS * len(TINY_TAU_ATOMS) * len(TAUS)
        assert sorted({float(r["tau_A"]) for r in tau}) == TAUS
        for row in tau:
            assert row["status"] == "ok" and math.isfinite(float(row["median_psnr"])), row

        poor = read_csv(os.path.join(out, "poor.csv"))
        assert len(poor) == TINY_SEEDS * 2 * 4
        for row in poor:
            assert row["status"] == "ok", row
            assert math.isfinite(float(row["median_psnr"])), row
            assert math.isfinite(float(row["validation_psnr"])), row
            assert 1 <= int(row["epochs"]) <= 5, row  # the tiny search space
            assert float(row["tau_A"]) == 0 or row["method"] in ("MDNMF", "D+MDNMF"), row

        summary = read_csv(os.path.join(out, "rich-summary.csv"))
        for row in summary:
            medians = [float(r["median_psnr"]) for r in rich
                       if r["d"] == row["d"] and r["method"] == row["method"]]
            assert int(row["seeds"]) == len(medians) == TINY_SEEDS
            assert abs(float(row["mean_median_psnr"]) - np.mean(medians)) < 1e-3
            assert abs(float(row["sd_median_psnr"]) - np.std(medians, ddof=1)) < 1e-3

        assert png_size(os.path.join(out, "rich.png")) == (800, 500)
        assert png_size(os.path.join(out, "tau.png")) == (800, 500)
        assert png_size(os.path.join(out, "poor.png")) == (900, 500)
        assert png_size(os.path.join(out, "rich-examples.png")) == grid_size(4, 3 + 2 * 4, 3,
                                                                             False)
        assert png_size(os.path.join(out, "tau-examples.png")) == grid_size(
            4, 3 + 2 * len(TAUS), 2, False)
        assert png_size(os.path.join(out, "poor-examples.png")) == grid_size(2, 3 + 2 * 4, 2,
                                                                             True)
        with open(os.path.join(out, "README.md")) as f:
            readme = f.read()
        assert "mdnmf experiment images --tiny" in readme  # the exact command
        assert "![data rich](rich.png)" in readme


def test_tau_zero_is_the_nmf_of_the_rich_part():
    with Workspace() as ws:
        out = ws.out("report")
        experiment(bars_data(ws), out, "--parts", "rich,tau")
        rich = {(r["seed"], r["d"]): r for r in read_csv(os.path.join(out, "rich.csv"))
                if r["method"] == "NMF"}
        zero = [r for r in read_csv(os.path.join(out, "tau.csv")) if float(r["tau_A"]) == 0]
        assert len(zero) == TINY_SEEDS
        for row in zero:
            nmf = rich[(row["seed"], row["d"])]
            assert row["median_psnr"] == nmf["median_psnr"], (row, nmf)
            assert row["mean_psnr"] == nmf["mean_psnr"], (row, nmf)
        # ... while MDNMF at tau_A > 0 did move away from it.
        moved = [r for r in read_csv(os.path.join(out, "tau.csv")) if float(r["tau_A"]) == 0.5]
        assert any(r["mean_psnr"] != rich[(r["seed"], r["d"])]["mean_psnr"] for r in moved)


def validated_and_confirmation(out):
    """Per (seed, d) of tau-auto.csv: the tau_A validation chose (the
    rejected one, if any, else the chosen one), the model's tau_A, and the
    confirmation's NMF and MDNMF scores (None when it did not run)."""
    found = {}
    for row in read_csv(os.path.join(out, "tau-auto.csv")):
        key = (row["seed"], row["d"])
        entry = found.setdefault(key, {"validated": None, "model": None})
        score = [None if row[k] == "" else float(row[k])
                 for k in ("confirm_nmf_median_psnr", "confirm_mdnmf_median_psnr")]
        entry["confirm"] = score
        if row["rejected"] == "1":
            entry["validated"] = float(row["tau_A"])
        if row["chosen"] == "1":
            entry["model"] = float(row["tau_A"])
    for entry in found.values():
        if entry["validated"] is None:
            entry["validated"] = entry["model"]
    return found


def test_tau_auto_keeps_a_refit_only_when_it_beats_the_nmf_on_the_training_pairs():
    # --tau-a auto's confirmation: the refit of a tau_A > 0 is the MDNMF of
    # the table only when it separates the training pairs better than the
    # NMF; otherwise the MDNMF column is the NMF's, and --no-tau-confirm
    # keeps the refit of the same validated tau_A.
    with Workspace() as ws:
        data = bars_data(ws)
        confirmed, unconfirmed = ws.out("confirmed"), ws.out("unconfirmed")
        settings = ["--parts", "rich", "--tau-a", "auto", "--tau-margin", "0"]
        experiment(data, confirmed, *settings)
        experiment(data, unconfirmed, *settings, "--no-tau-confirm")
        runs = [validated_and_confirmation(confirmed), validated_and_confirmation(unconfirmed)]
        rich = [{(r["seed"], r["d"], r["method"]): r
                 for r in read_csv(os.path.join(out, "rich.csv"))}
                for out in (confirmed, unconfirmed)]
        assert sorted(runs[0]) == sorted(runs[1]) and len(runs[0]) == TINY_SEEDS * 2
        for key, entry in runs[0].items():
            other = runs[1][key]
            assert entry["validated"] == other["validated"] == other["model"], (entry, other)
            assert other["confirm"] == [None, None], other
            nmf, mdnmf = entry["confirm"]
            if entry["validated"] == 0:
                assert entry["confirm"] == [None, None] and entry["model"] == 0, entry
                continue
            assert (entry["model"] > 0) == (mdnmf > nmf), entry
            table = rich[0][key + ("MDNMF",)]
            assert float(table["tau_A"]) == entry["model"], (table, entry)
            same_as = rich[0][key + ("NMF",)] if entry["model"] == 0 else rich[1][key + ("MDNMF",)]
            assert table["median_psnr"] == same_as["median_psnr"], (table, same_as)


def test_results_do_not_depend_on_the_thread_count():
    with Workspace() as ws:
        data = bars_data(ws)
        one, two = ws.out("one"), ws.out("two")
        experiment(data, one, "--others", "2", "--threads", "1")
        experiment(data, two, "--others", "2", "--threads", "3")
        for name in ("rich.csv", "tau.csv", "poor.csv", "rich-summary.csv"):
            with open(os.path.join(one, name)) as a, open(os.path.join(two, name)) as b:
                assert a.read() == b.read(), name


def test_disjoint_sources_are_separated_by_every_method():
    with Workspace() as ws:
        rng = np.random.default_rng(1)
        data = make_data(ws, [halves(rng, 100, False), halves(rng, 100, True)])
        out = ws.out("report")
        experiment(data, out, "--parts", "rich")
        for row in read_csv(os.path.join(out, "rich.csv")):
            # Each basis lives on its class's half (multiplicative updates keep
            # the exemplars' zeros), so Wiener filtering splits the mixture
            # exactly up to the division guard.
            assert float(row["median_psnr"]) > 60, row


def test_bad_command_lines():
    with Workspace() as ws:
        expect_failure(run("experiment", "images", "--full", "--tiny"), 2, "--full", "--tiny")
        expect_failure(run("experiment", "images", "--classes", "3,3"), 2, "--classes")
        expect_failure(run("experiment", "images", "--parts", "rich,cake"), 2, "cake")
        expect_failure(run("experiment", "paintings"), 2, "paintings")
        expect_failure(run("experiment", "speech", "--stream-steps", 0), 2, "--stream-steps")
        expect_failure(run("experiment", "speech", "--stream-steps", 10001), 2,
                       "--stream-steps", "10000")
        missing = expect_failure(run("experiment", "images", "--tiny", "--data-dir",
                                     ws.inputs, "-o", ws.out("r")), 1, "digit")
        assert "scripts/fetch-data.sh mnist" in missing
        assert ws.leftovers() == []


def read_wav(path):
    """The samples of a 16-bit mono WAV, as floats."""
    import wave
    with wave.open(path, "rb") as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2), path
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64)


def write_wav(path, samples, rate=8000):
    import wave
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32000).astype("<i2").tobytes())


def test_speech_on_other_noise_shows_no_reference_numbers():
    """The reference implementation's SI-SDRs (SPEC, last section) hold for
    the project's speech and colobot noise only; with --noise DIR the
    report showed them anyway (issue 13)."""
    rng = np.random.default_rng(0)
    t = np.arange(4000) / 8000.0
    with Workspace() as ws:
        speaker = os.path.join(ws.inputs, "sounds", "en_US_f_Allison")
        noise = os.path.join(ws.inputs, "noise")
        os.makedirs(speaker)
        os.makedirs(noise)
        for k in range(6):
            pitch = 150 + 20 * k
            voiced = sum(np.sin(2 * np.pi * pitch * h * t) / h for h in range(1, 6))
            write_wav(os.path.join(speaker, "prompt%d.wav" % k), 0.3 * voiced)
            write_wav(os.path.join(noise, "noise%d.wav" % k), 0.3 * rng.standard_normal(t.size))
        out = ws.out("speech")
        result = run("experiment", "speech", "--sounds", os.path.dirname(speaker), "--noise",
                     noise, "--speakers", "en_US_f_Allison", "-d", "8,4", "--epochs", 2,
                     "--test-epochs", 5, "-q", "-o", out, timeout=300)
        assert result.returncode == 0, result.stderr
        with open(os.path.join(out, "README.md")) as f:
            readme = f.read()
        assert "with no reference numbers" in readme, readme[:600]
        row = [line for line in readme.splitlines() if line.startswith("| en_US_f_Allison")][0]
        assert row.rstrip().endswith("— / — / — |"), row
        assert "6.35" not in row and "5.27" not in row, row
        with open(os.path.join(out, "results.csv")) as f:
            rows = list(csv.DictReader(f))
        assert rows and all(not math.isfinite(float(r["reference_sisdr"])) for r in rows), rows[:2]


RATE = 8000
OFFLINE = ["noisy", "NMF", "MDNMF"]
STREAMS = ["MDNMF stream", "MDNMF stream (noise learned online)", "NMF stream",
           "NMF stream (noise learned online)"]


def voiced_prompt(rng, seconds=2.0):
    """Syllables of 0.15-0.4 s: six harmonics of a gliding 120-260 Hz pitch
    under a rounded envelope, with pauses between them."""
    t = np.arange(int(seconds * RATE)) / RATE
    out = np.zeros_like(t)
    start = 0.1
    while start < seconds - 0.3:
        length = rng.uniform(0.15, 0.4)
        pitch = rng.uniform(120, 260)
        glide = pitch * (1 + 0.2 * rng.uniform(-1, 1) * (t - start) / length)
        phase = 2 * np.pi * np.cumsum(glide) / RATE
        envelope = np.clip(1 - np.abs((t - start - length / 2) / (length / 2)), 0, 1) ** 0.5
        out += envelope * sum(np.sin(h * phase) / h for h in range(1, 7))
        start += length + rng.uniform(0.05, 0.2)
    return 0.3 * out


def broadband_noise(rng, seconds=3.0):
    """Stationary noise over the whole band, amplitude falling as 1/sqrt(f):
    it overlaps the voice everywhere, so no mask separates them for free."""
    n = int(seconds * RATE)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.fft.rfftfreq(n, 1 / RATE), 100))
    return 0.3 * np.fft.irfft(spectrum, n)


def speech_experiment(ws, out, *extra):
    """`experiment speech` on 10 synthetic prompts of 2 s (5 train, 5 test)
    in broadband noise at 3 dB; returns results.csv and utterances.csv."""
    rng = np.random.default_rng(0)
    sounds = os.path.join(ws.inputs, "sounds")
    speaker = os.path.join(sounds, "en_US_f_Allison")
    noise = os.path.join(ws.inputs, "noise")
    if not os.path.isdir(speaker):
        os.makedirs(speaker)
        os.makedirs(noise)
        for k in range(10):
            write_wav(os.path.join(speaker, "prompt%d.wav" % k), voiced_prompt(rng))
        for k in range(3):
            write_wav(os.path.join(noise, "noise%d.wav" % k), broadband_noise(rng))
    result = run("experiment", "speech", "--sounds", sounds, "--noise", noise, "--speakers",
                 "en_US_f_Allison", "-d", "16,4", "--epochs", 30, "--test-epochs", 100,
                 "--no-bss", "-q", "-o", out, *extra, timeout=300)
    assert result.returncode == 0, result.stderr
    return (read_csv(os.path.join(out, "results.csv")),
            read_csv(os.path.join(out, "utterances.csv")))


def test_speech_stream_rows_meet_the_bars_of_issue_14():
    """Each separator's model also runs as the streaming denoiser on the
    same test mixtures (issue 14's done-when, shown on the demo's own
    protocol): with the model's noise basis its mean SI-SDR is within 0.3 dB
    of the offline separation by the same model; learning 32 fresh noise
    atoms online (--stream-noise-atoms' default; no noise basis) it gains at
    least 2 dB over the noisy input.  Measured: offline NMF 6.91 / MDNMF
    6.64, fixed streams +0.07 each (with 4 fresh atoms, before the default
    became 32, the learned streams gained +3.84 / +3.61 dB over the noisy
    3.01 dB).  A stream output left unaligned (latency not dropped) scores
    far below 0 dB."""
    with Workspace() as ws:
        out = ws.out("speech")
        # Issue 14's bar compares the stream with plain separation by the
        # same bases: no per-utterance noise adaptation or smoothing offline.
        results, utterances = speech_experiment(ws, out, "--adapt-noise", 0,
                                                "--noise-smoothing", 0)
        assert [r["method"] for r in results] == OFFLINE + STREAMS, results
        by = {r["method"]: r for r in results}
        for row in results:
            assert row["test_utterances"] == row["scored"] == "5", row
            assert row["train_prompts"] == "5", row
        for stream in STREAMS:
            assert not math.isfinite(float(by[stream]["reference_sisdr"])), by[stream]
            assert float(by[stream]["fit_seconds"]) == 0, by[stream]  # the offline model
        mean = {m: float(by[m]["sisdr_mean"]) for m in by}
        # The mean of results.csv is the mean of the utterances' rows.
        for method in OFFLINE + STREAMS:
            scores = [float(u["sisdr"]) for u in utterances if u["method"] == method]
            assert len(scores) == 5 and abs(np.mean(scores) - mean[method]) < 1e-3, method
        # The same utterances in every row set.
        names = [u["utterance"] for u in utterances if u["method"] == "noisy"]
        for stream in STREAMS:
            assert [u["utterance"] for u in utterances if u["method"] == stream] == names
        for model in ("MDNMF", "NMF"):
            assert abs(mean[model + " stream"] - mean[model]) <= 0.3, mean
            learned = mean[model + " stream (noise learned online)"]
            assert learned - mean["noisy"] >= 2.0, mean
        with open(os.path.join(out, "README.md")) as f:
            readme = f.read()
        stream_table = readme[readme.index("Streaming denoiser"):readme.index("## Setup")]
        rows = [line for line in stream_table.splitlines()
                if line.startswith("| en_US_f_Allison | MDNMF |")
                or line.startswith("| en_US_f_Allison | NMF |")]
        assert len(rows) == 2 and all(row.count("(yes)") == 2 for row in rows), rows
        # The example's stream estimates are what `mdnmf denoise stream` makes
        # of the example's noisy WAV with the saved model (the same stream up
        # to the WAVs' 16-bit rounding: they agree to 84 dB; a mask exponent
        # of 1 instead of the model's 0.5 gives 17 dB).
        examples = os.path.join(out, "examples", "en_US_f_Allison-")
        noisy = examples + "noisy.wav"
        for model in ("mdnmf", "nmf"):
            # Learned online: --stream-noise-atoms (default 32) fresh atoms.
            for suffix, extra in (("", []), ("-learned", ["--noise-atoms", 32, "--seed", 0])):
                made = ws.out("%s%s.wav" % (model, suffix))
                result = run("denoise", "stream", "-m", os.path.join(
                    out, "models", "en_US_f_Allison-%s.npz" % model), "-i", noisy, "-o", made,
                    "-q", *extra)
                assert result.returncode == 0, result.stderr
                expected = read_wav(examples + "%s-stream%s.wav" % (model, suffix))
                got = read_wav(made)
                assert expected.shape == got.shape, (expected.shape, got.shape)
                snr = 10 * np.log10(np.sum(expected ** 2) / np.sum((got - expected) ** 2))
                assert snr > 40, (model, suffix, snr)


def test_speech_streams_leave_the_offline_scores_alone():
    """--no-stream drops the stream rows, and the offline rows are the same
    bytes with or without them (the streams run on copies of the models,
    after the offline separation)."""
    with Workspace() as ws:
        with_streams = speech_experiment(ws, ws.out("with"))
        results, utterances = speech_experiment(ws, ws.out("without"), "--no-stream")
        assert [r["method"] for r in results] == OFFLINE, results
        assert {u["method"] for u in utterances} == set(OFFLINE)
        assert [u for u in with_streams[1] if u["method"] in OFFLINE] == utterances
        timing = ("fit_seconds", "separate_seconds", "metric_seconds")
        strip = lambda rows: [{k: v for k, v in r.items() if k not in timing} for r in rows]
        assert strip(with_streams[0][:3]) == strip(results)
        with open(os.path.join(ws.out("without"), "README.md")) as f:
            assert "mdnmf_stream" not in f.read()
        # The defaults adapt and smooth offline: the fixed stream's bar (about
        # plain separation) gives no verdict, the learned one does.
        with open(os.path.join(ws.out("with"), "README.md")) as f:
            readme = f.read()
        rows = [line for line in readme.splitlines()  # the stream table's 7 columns
                if line.startswith(("| en_US_f_Allison | MDNMF |", "| en_US_f_Allison | NMF |"))
                and line.count("|") == 8]
        assert len(rows) == 2 and all(row.count("(yes)") + row.count("(no)") == 1
                                      for row in rows), rows
        assert "this run adapts and smooths offline" in readme
        # Another number of steps per frame moves the streams only.
        results, utterances = speech_experiment(ws, ws.out("steps"), "--stream-steps", 12)
        assert [u for u in utterances if u["method"] in OFFLINE] == \
            [u for u in with_streams[1] if u["method"] in OFFLINE]
        for stream in STREAMS:
            before = [u["sisdr"] for u in with_streams[1] if u["method"] == stream]
            after = [u["sisdr"] for u in utterances if u["method"] == stream]
            assert len(after) == 5 and after != before, stream
        with open(os.path.join(ws.out("steps"), "README.md")) as f:
            assert "12 multiplicative steps (`--stream-steps`)" in f.read()


def test_speech_noise_adaptation_moves_the_offline_rows_only():
    """The default adapts each test utterance's noise basis (--adapt-noise
    200 from the start `auto` picks: the model's atoms for NMF, fresh ones
    for MDNMF) and smooths its noise activations (--noise-smoothing 20):
    the offline NMF and MDNMF rows differ from --adapt-noise 0 and from
    --noise-smoothing 0, the noisy rows are the same, the README says so."""
    with Workspace() as ws:
        default = speech_experiment(ws, ws.out("default"), "--no-stream")
        plain = speech_experiment(ws, ws.out("plain"), "--no-stream", "--adapt-noise", 0)
        fresh = speech_experiment(ws, ws.out("fresh"), "--no-stream", "--adapt-noise", 200,
                                  "--adapt-start", "fresh")
        rough = speech_experiment(ws, ws.out("rough"), "--no-stream", "--noise-smoothing", 0)
        model = speech_experiment(ws, ws.out("model"), "--no-stream", "--adapt-start", "model")
        rows = lambda run, method: [u for u in run[1] if u["method"] == method]
        assert rows(default, "noisy") == rows(plain, "noisy")
        assert rows(default, "NMF") == rows(model, "NMF") != rows(fresh, "NMF")
        assert rows(default, "MDNMF") == rows(fresh, "MDNMF") != rows(model, "MDNMF")
        for method in ("NMF", "MDNMF"):
            assert rows(default, method) != rows(plain, method), method
            assert rows(default, method) != rows(rough, method), method
        with open(os.path.join(ws.out("default"), "README.md")) as f:
            text = f.read()
            assert "Noise adaptation (`--adapt-noise 200 --adapt-start auto`)" in text
            assert "Noise smoothing (`--noise-smoothing 20`)" in text
        with open(os.path.join(ws.out("plain"), "README.md")) as f:
            assert "Noise adaptation" not in f.read()
        with open(os.path.join(ws.out("rough"), "README.md")) as f:
            assert "Noise smoothing" not in f.read()
        expect_failure(run("experiment", "speech", "--adapt-noise", -1), 2, "--adapt-noise")
        expect_failure(run("experiment", "speech", "--adapt-start", "old"), 2, "--adapt-start")
        expect_failure(run("experiment", "speech", "--noise-smoothing", -2), 2,
                       "--noise-smoothing")
        expect_failure(run("experiment", "speech", "--n-fft", 256, "--hop-length", 512), 2,
                       "--hop-length")


def test_speech_streams_a_model_cannot_run_are_noted_not_failed():
    """A model the stream refuses (context frames; online learning with
    Kullback-Leibler) is a note, not a failed run: exit 0, the offline rows
    as ever, the stream rows unscored and the reason in the README."""
    with Workspace() as ws:
        out = ws.out("kl")
        results, utterances = speech_experiment(ws, out, "--divergence", "kl")
        scored = {r["method"]: int(r["scored"]) for r in results}
        assert scored == {"noisy": 5, "NMF": 5, "MDNMF": 5, "MDNMF stream": 5,
                          "MDNMF stream (noise learned online)": 0, "NMF stream": 5,
                          "NMF stream (noise learned online)": 0}, scored
        assert not any("learned" in u["method"] for u in utterances)
        with open(os.path.join(out, "README.md")) as f:
            readme = f.read()
        assert "NMF stream (noise learned online) not run: stream: online noise learning " \
               "is implemented for the Frobenius divergence only" in readme, readme[:2000]
        out = ws.out("context")
        results, _ = speech_experiment(ws, out, "--context", 1)
        assert [int(r["scored"]) for r in results] == [5, 5, 5, 0, 0, 0, 0], results
        with open(os.path.join(out, "README.md")) as f:
            assert "MDNMF stream not run: stream: the model's features stack 1 frames" in f.read()


def experiments_program():
    return os.path.join(os.path.dirname(binary()), "mdnmf-experiment")


def linked_libraries(path):
    """The shared libraries the dynamic loader maps for `path` (ldd)."""
    result = subprocess.run(["ldd", path], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [line.split()[0] for line in result.stdout.splitlines() if line.strip()]


def test_only_the_experiments_program_links_cairo():
    """The library and the tool neither need nor load cairo; the figures
    are drawn by the experiments program."""
    assert any(name.startswith("libcairo") for name in linked_libraries(experiments_program()))
    for path in (binary(), os.environ["MDNMF_LIB"]):
        names = linked_libraries(path)
        assert not any("cairo" in name for name in names), (path, names)


def test_the_tool_runs_the_experiments_program():
    """`mdnmf experiment ARGS` is `mdnmf-experiment ARGS`: same stdout,
    stderr and exit code, help and errors included."""
    for args in (["--help"], [], ["images", "--help"], ["speech", "--help"], ["paintings"],
                 ["images", "--classes", "3,3"]):
        via_tool = run("experiment", *args)
        direct = subprocess.run([experiments_program(), *args], capture_output=True, text=True,
                                timeout=60)
        assert (via_tool.returncode, via_tool.stdout, via_tool.stderr) == (
            direct.returncode, direct.stdout, direct.stderr), args
    assert "images" in run("experiment", "--help").stdout


def test_a_missing_experiments_program_is_one_error_line():
    with Workspace() as ws:
        alone = os.path.join(ws.inputs, "mdnmf")
        shutil.copy2(binary(), alone)
        result = subprocess.run([alone, "experiment", "images", "--help"], capture_output=True,
                                text=True, timeout=60)
        if result.returncode == 0:
            # `make install` put one in the install folder, the second place looked in.
            assert "experiment images" in result.stdout, result.stdout
            return
        expect_failure(result, 1, "mdnmf-experiment", "missing",
                       os.path.join(ws.inputs, "mdnmf-experiment"))


if __name__ == "__main__":
    run_tests(globals())
