"""mdnmf_idx_read (through `mdnmf data idx`) on the real Fashion-MNIST files
against an independent NumPy parse of the same gzip files.

The files come from Debian's dataset-fashion-mnist package
(/usr/share/datasets/fashion-mnist, or MDNMF_FASHION_DIR).  Without it the
test says so and passes: `scripts/ensure-deps.sh test` installs it.

Checks: all 10,000 test images unscaled, bit for bit; the images of two test
classes and one training class scaled by 255, bit for bit NumPy's
images[labels == k].astype(float32) / float32(255); and every class holds
exactly 6,000 training and 1,000 test images, as the data set documents."""

import gzip
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

FASHION = os.environ.get("MDNMF_FASHION_DIR", "/usr/share/datasets/fashion-mnist")
BINARY = os.environ.get("MDNMF_BIN")


def numpy_idx(path):
    """Parse an IDX file with NumPy alone: big-endian dims, uint8 items."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    assert zero == 0 and dtype == 0x08, (zero, dtype)
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    items = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    assert items.size == int(np.prod(dims))
    return items.reshape(dims)


def convert(out_dir, name, images, labels=None, label=None, scale=None):
    out = os.path.join(out_dir, name)
    args = [BINARY, "data", "idx", "--images", images, "-o", out]
    if labels is not None:
        args += ["--labels", labels, "--class", str(label)]
    if scale is not None:
        args += ["--scale", str(scale)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and result.stdout == ""
    return np.load(out)


def main():
    files = {part: os.path.join(FASHION, f"{part}-ubyte.gz") for part in
             ("train-images-idx3", "train-labels-idx1", "t10k-images-idx3", "t10k-labels-idx1")}
    missing = [path for path in files.values() if not os.path.exists(path)]
    if missing:
        print(f"SKIP: Fashion-MNIST not installed ({missing[0]} missing); "
              "install it with: scripts/ensure-deps.sh test (Debian package dataset-fashion-mnist)")
        return 0
    if not BINARY or not os.path.exists(BINARY):
        print("set MDNMF_BIN to the built mdnmf tool (ctest does)")
        return 1

    checks = 0
    with tempfile.TemporaryDirectory(prefix="mdnmf-idx-") as out_dir:
        test_images = numpy_idx(files["t10k-images-idx3"])
        test_labels = numpy_idx(files["t10k-labels-idx1"])
        assert test_images.shape == (10000, 28, 28) and test_labels.shape == (10000,)

        everything = convert(out_dir, "all.npy", files["t10k-images-idx3"])
        assert everything.dtype == np.float32 and everything.shape == (10000, 784)
        assert np.array_equal(everything, test_images.reshape(10000, 784).astype(np.float32))
        checks += 1

        for label in (0, 7):
            got = convert(out_dir, f"test{label}.npy", files["t10k-images-idx3"],
                          files["t10k-labels-idx1"], label, 255)
            expected = (test_images[test_labels == label].reshape(-1, 784).astype(np.float32)
                        / np.float32(255))
            assert got.shape == (1000, 784), got.shape
            assert np.array_equal(got, expected), label
            assert got.min() == 0.0 and got.max() == 1.0
            checks += 1

        train_images = numpy_idx(files["train-images-idx3"])
        train_labels = numpy_idx(files["train-labels-idx1"])
        got = convert(out_dir, "train5.npy", files["train-images-idx3"],
                      files["train-labels-idx1"], 5, 255)
        expected = (train_images[train_labels == 5].reshape(-1, 784).astype(np.float32)
                    / np.float32(255))
        assert got.shape == (6000, 784), got.shape
        assert np.array_equal(got, expected)
        checks += 1

        assert np.array_equal(np.bincount(train_labels, minlength=10), np.full(10, 6000))
        assert np.array_equal(np.bincount(test_labels, minlength=10), np.full(10, 1000))
        checks += 1
    print(f"{checks} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
