"""`mdnmf data idx` and `mdnmf data mix` against NumPy.

idx: small IDX files made here (plain and gzip) are converted with and
without a class filter and a scale; the result must be bit for bit NumPy's
own parse (images[labels == K].astype(float32) / float32(S)).  Corrupt,
truncated and foreign files, an empty class and bad options fail with one
stderr line and write nothing.

mix: mixtures must be exactly the float32 sum of the targets, the targets
exactly weight * source; equal weights are 1/S; Dirichlet weights for S = 2
follow Beta(alpha, alpha) (scipy's Kolmogorov–Smirnov test, fixed seed);
--count/--offset pick the documented samples; bad input writes nothing."""

import gzip
import os
import struct

import numpy as np
from scipy import stats

from cli_harness import Workspace, expect_failure, run, run_tests

RUNTIME, USAGE = 1, 2


def idx_bytes(array, dtype_code=0x08):
    """An IDX file image of a uint8 array (1-D labels or 3-D images)."""
    header = struct.pack(">BBBB", 0, 0, dtype_code, array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def small_set(count=40, rows=5, cols=6, seed=3):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, rows, cols), dtype=np.uint8)
    labels = rng.integers(0, 4, size=count, dtype=np.uint8)
    return images, labels


def write_set(ws, images, labels, compress):
    suffix = ".gz" if compress else ""
    pack = gzip.compress if compress else (lambda b: b)
    return (ws.write("images-idx3-ubyte" + suffix, pack(idx_bytes(images))),
            ws.write("labels-idx1-ubyte" + suffix, pack(idx_bytes(labels))))


# ------------------------------------------------------------------ idx

def test_idx_matches_numpy():
    images, labels = small_set()
    for compress in (False, True):
        with Workspace() as ws:
            image_path, label_path = write_set(ws, images, labels, compress)
            out = ws.out("all.npy")
            result = run("data", "idx", "--images", image_path, "-o", out)
            assert result.returncode == 0, result.stderr
            got = np.load(out)
            assert got.dtype == np.float32 and got.shape == (40, 30), got.shape
            assert np.array_equal(got, images.reshape(40, 30).astype(np.float32))
            for label in range(4):
                for scale in ("1", "255", "2.5"):
                    out = ws.out(f"class{label}-{scale}.npy")
                    result = run("data", "idx", "-i", image_path, "-l", label_path,
                                 "-c", label, "--scale", scale, "-o", out)
                    assert result.returncode == 0, result.stderr
                    expected = (images[labels == label].reshape(-1, 30).astype(np.float32)
                                / np.float32(float(scale)))
                    got = np.load(out)
                    assert got.dtype == np.float32
                    assert np.array_equal(got, expected), (label, scale)


def test_idx_labels_file_as_images():
    """A labels file converts to an (N, 1) array of its labels."""
    images, labels = small_set()
    with Workspace() as ws:
        _, label_path = write_set(ws, images, labels, True)
        result = run("data", "idx", "-i", label_path, "-o", ws.out("labels.npy"))
        assert result.returncode == 0, result.stderr
        assert np.array_equal(np.load(ws.out("labels.npy")),
                              labels.astype(np.float32).reshape(-1, 1))


def idx_fails(ws, code, *mentions, args):
    result = run("data", "idx", *args, "-o", ws.out("out.npy"))
    line = expect_failure(result, code, *mentions)
    assert ws.leftovers() == [], ws.leftovers()
    return line


def test_idx_bad_files():
    images, labels = small_set()
    good = idx_bytes(images)
    compressed = gzip.compress(good)
    middle = len(compressed) // 2
    flipped = bytearray(compressed)
    for k in range(middle, middle + 4):
        flipped[k] ^= 0xFF
    wrong_crc = bytearray(compressed)
    wrong_crc[-8] ^= 1
    cases = [
        ("truncated.gz", compressed[:middle], "corrupt or truncated gzip data"),
        ("no-trailer.gz", compressed[:-8], "corrupt or truncated gzip data"),
        ("flipped.gz", bytes(flipped), "corrupt or truncated gzip data"),
        ("crc.gz", bytes(wrong_crc), "corrupt or truncated gzip data"),
        ("truncated-idx3", good[:-5], "is truncated"),
        ("magic-idx3", b"\x00\x01" + good[2:], "not an IDX file"),
        ("float-idx3", idx_bytes(images, 0x0D), "0x0d (32-bit float) is not supported"),
        ("empty", b"", "is empty"),
        ("trailing-idx3", good + b"\x00", "has data after"),
        ("model.npy", b"\x93NUMPY\x01\x00", "not an IDX file"),
    ]
    for name, data, mention in cases:
        with Workspace() as ws:
            path = ws.write(name, data)
            idx_fails(ws, RUNTIME, name, mention, args=("-i", path))
            # The same file as labels.
            image_path = ws.write("images.gz", gzip.compress(good))
            idx_fails(ws, RUNTIME, name, mention, args=("-i", image_path, "-l", path, "-c", 1))
    with Workspace() as ws:
        idx_fails(ws, RUNTIME, "missing.gz", "cannot open",
                  args=("-i", os.path.join(ws.inputs, "missing.gz")))


def test_idx_bad_combinations():
    images, labels = small_set()
    with Workspace() as ws:
        image_path, label_path = write_set(ws, images, labels, True)
        # No image has label 9 (labels are 0..3).
        idx_fails(ws, RUNTIME, "no image has label 9", "0..3",
                  args=("-i", image_path, "-l", label_path, "-c", 9))
        # Swapped files.
        idx_fails(ws, RUNTIME, "not labels",
                  args=("-i", label_path, "-l", image_path, "-c", 1))
        # Labels of another set.
        other = ws.write("other-labels.gz", gzip.compress(idx_bytes(labels[:-1])))
        idx_fails(ws, RUNTIME, "39 labels", "40 images",
                  args=("-i", image_path, "-l", other, "-c", 1))
        # Usage errors.
        idx_fails(ws, USAGE, "--class needs --labels", args=("-i", image_path, "-c", 1))
        idx_fails(ws, USAGE, "--labels needs --class", args=("-i", image_path, "-l", label_path))
        idx_fails(ws, USAGE, "--class", "0..255",
                  args=("-i", image_path, "-l", label_path, "-c", 256))
        idx_fails(ws, USAGE, "--class", args=("-i", image_path, "-l", label_path, "-c", "x"))
        idx_fails(ws, USAGE, "--scale", "> 0", args=("-i", image_path, "--scale", 0))
        idx_fails(ws, USAGE, "--scale", args=("-i", image_path, "--scale", "-1"))
        idx_fails(ws, USAGE, "--scale", args=("-i", image_path, "--scale", "nan"))
        idx_fails(ws, USAGE, "missing -i IMAGES", args=())
        result = run("data", "idx", "-i", image_path)
        expect_failure(result, USAGE, "missing -o")


# ------------------------------------------------------------------ mix

def mix(ws, sources, *options, prefix="set"):
    paths = [ws.save(f"source{k}.npy", s) for k, s in enumerate(sources)]
    args = []
    for path in paths:
        args += ["--source", path]
    result = run("data", "mix", *args, *options, "-o", ws.out(prefix))
    return result


def load_set(ws, S, prefix="set"):
    mixture = np.load(ws.out(f"{prefix}-mix.npy"))
    targets = [np.load(ws.out(f"{prefix}-target{k}.npy")) for k in range(S)]
    weights = np.load(ws.out(f"{prefix}-weights.npy"))
    return mixture, targets, weights


def sources_of(counts, m=12, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.random((n, m)).astype(np.float32) for n in counts]


def check_exact(sources, mixture, targets, weights, offset=0):
    n = mixture.shape[0]
    total = np.zeros_like(mixture)
    for k, (source, target) in enumerate(zip(sources, targets)):
        expected = weights[:, k:k + 1] * source[offset:offset + n]
        assert target.dtype == np.float32
        assert np.array_equal(target, expected), k
        total = total + target  # float32, in source order
    assert np.array_equal(mixture, total)


def test_mix_equal_weights():
    sources = sources_of([30, 25, 40])
    with Workspace() as ws:
        result = mix(ws, sources)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "" and result.stderr == ""
        mixture, targets, weights = load_set(ws, 3)
        # The smallest source decides the count.
        assert mixture.shape == (25, 12) and weights.shape == (25, 3)
        assert np.all(weights == np.float32(1 / 3))
        check_exact(sources, mixture, targets, weights)
        assert sorted(ws.leftovers()) == ["set-mix.npy", "set-target0.npy", "set-target1.npy",
                                          "set-target2.npy", "set-weights.npy"]


def test_mix_count_and_offset():
    sources = sources_of([30, 20])
    with Workspace() as ws:
        result = mix(ws, sources, "--offset", 5, "--count", 10, "--weights", "dirichlet",
                     "--alpha", 1, "--seed", 4)
        assert result.returncode == 0, result.stderr
        mixture, targets, weights = load_set(ws, 2)
        assert mixture.shape == (10, 12)
        check_exact(sources, mixture, targets, weights, offset=5)
        # All that is left after the offset: 20 - 5.
        result = mix(ws, sources, "--offset", 5, prefix="rest")
        assert result.returncode == 0, result.stderr
        assert np.load(ws.out("rest-mix.npy")).shape == (15, 12)


def test_mix_dirichlet_distribution():
    """For S = 2 the first weight is Beta(alpha, alpha)."""
    sources = sources_of([4000, 4000], m=3)
    for alpha in (0.3, 1.0, 5.0):
        with Workspace() as ws:
            result = mix(ws, sources, "--weights", "dirichlet", "--alpha", alpha, "--seed", 11)
            assert result.returncode == 0, result.stderr
            mixture, targets, weights = load_set(ws, 2)
            check_exact(sources, mixture, targets, weights)
            assert np.allclose(weights.sum(axis=1), 1.0, atol=1e-6)
            p = stats.kstest(weights[:, 0], stats.beta(alpha, alpha).cdf).pvalue
            assert p > 1e-3, (alpha, p)
            # ... and it is not the distribution of another alpha.
            p_other = stats.kstest(weights[:, 0], stats.beta(2 * alpha, 2 * alpha).cdf).pvalue
            assert p_other < 1e-6, (alpha, p_other)


def test_mix_seed():
    sources = sources_of([50, 50])
    with Workspace() as ws:
        options = ("--weights", "dirichlet", "--alpha", "0.5")
        assert mix(ws, sources, *options, "--seed", 1, prefix="a").returncode == 0
        assert mix(ws, sources, *options, "--seed", 1, prefix="b").returncode == 0
        assert mix(ws, sources, *options, "--seed", 2, prefix="c").returncode == 0
        a, b, c = (np.load(ws.out(f"{p}-weights.npy")) for p in "abc")
        assert np.array_equal(a, b)
        assert not np.array_equal(a, c)


def mix_fails(ws, code, *mentions, sources, options=()):
    result = mix(ws, sources, *options)
    line = expect_failure(result, code, *mentions)
    assert ws.leftovers() == [], ws.leftovers()
    return line


def test_mix_refusals():
    two = sources_of([10, 10])
    with Workspace() as ws:
        mix_fails(ws, USAGE, "Dirichlet alpha must be > 0", sources=two,
                  options=("--weights", "dirichlet", "--alpha", 0))
        mix_fails(ws, USAGE, "Dirichlet alpha must be > 0", sources=two,
                  options=("--weights", "dirichlet", "--alpha", "-0.5"))
        mix_fails(ws, USAGE, "--alpha", sources=two,
                  options=("--weights", "dirichlet", "--alpha", "nan"))
        mix_fails(ws, USAGE, "needs --alpha", sources=two, options=("--weights", "dirichlet"))
        mix_fails(ws, USAGE, "--alpha only applies", sources=two, options=("--alpha", 1))
        mix_fails(ws, USAGE, "--weights", "equal, dirichlet", sources=two,
                  options=("--weights", "random"))
        mix_fails(ws, USAGE, "at least two --source", sources=two[:1])
        mix_fails(ws, USAGE, "--count", sources=two, options=("--count", 0))
        mix_fails(ws, RUNTIME, "source0.npy has 10 samples", "11 mixture", sources=two,
                  options=("--count", 11))
        mix_fails(ws, RUNTIME, "10 samples", sources=two, options=("--offset", 10))
        mix_fails(ws, RUNTIME, "source1.npy", "features", sources=[two[0], two[1][:, :5]])
    with Workspace() as ws:
        good = ws.save("good.npy", two[0])
        bad = ws.write("bad.npy", b"\x93NUMPY\x01\x00garbage")
        result = run("data", "mix", "-s", good, "-s", bad, "-o", ws.out("set"))
        expect_failure(result, RUNTIME, "bad.npy")
        assert ws.leftovers() == []
        result = run("data", "mix", "-s", good, "-s", good, "-o",
                     os.path.join(ws.outputs, "no-such-folder", "set"))
        expect_failure(result, RUNTIME, "no-such-folder")


def test_mix_failed_write_leaves_nothing():
    """Writing the second target fails (a folder has its name): the files
    written before it are removed again."""
    sources = sources_of([10, 10])
    with Workspace() as ws:
        os.mkdir(ws.out("set-target1.npy"))
        result = mix(ws, sources)
        expect_failure(result, RUNTIME, "set-target1.npy")
        assert ws.leftovers() == ["set-target1.npy"], ws.leftovers()


def test_data_usage():
    result = run("data")
    assert result.returncode == USAGE and "mdnmf data idx" in result.stderr
    result = run("data", "--help")
    assert result.returncode == 0 and "mdnmf data mix" in result.stdout
    for command in ("idx", "mix"):
        result = run("data", command, "--help")
        assert result.returncode == 0 and f"usage: mdnmf data {command}" in result.stdout
    expect_failure(run("data", "split"), USAGE, "unknown command 'split'")


if __name__ == "__main__":
    run_tests(globals())
