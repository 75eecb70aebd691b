"""The MNIST example (python/examples/separate_mnist.py), run as a user would:
with this tree's package and library, or, under MDNMF_TEST_INSTALLED=1
(test_pip_install.py), with the pip-installed package only.  The pip install
itself is tested by test_pip_install.py."""

import os
import re
import subprocess
import sys

import numpy as np
from harness import INSTALLED, PYTHON_DIR, Folder, run_tests

EXAMPLE = os.path.join(PYTHON_DIR, "examples", "separate_mnist.py")


def clean_environment(**extra):
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("MDNMF_LIB", "PYTHONPATH", "MDNMF_DATA_DIR")}
    environment.update(extra)
    return environment


def run(arguments, **kwargs):
    return subprocess.run([sys.executable, *arguments], capture_output=True, text=True,
                          timeout=120, **kwargs)


def fake_digits(folder, count=40, seed=0):
    """Stand-ins for data/mnist/digit0.npy and digit1.npy: (count, 784)
    float32 images in [0, 1], a vertical bar for 1s and a ring for 0s."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:28, :28]
    ring = (np.abs(np.hypot(y - 14, x - 14) - 8) < 2).astype(np.float32)
    bar = (np.abs(x - 14) < 2).astype(np.float32) * ((y > 4) & (y < 24))
    for digit, shape in ((0, ring), (1, bar)):
        images = shape.reshape(1, -1) * rng.uniform(0.5, 1.0, (count, 1))
        images += 0.05 * rng.random((count, 784))
        np.save(os.path.join(folder, f"digit{digit}.npy"),
                np.clip(images, 0, 1).astype(np.float32))


def test_mnist_example_runs_and_reports_psnr():
    if INSTALLED:
        environment = clean_environment()
    else:
        environment = clean_environment(PYTHONPATH=PYTHON_DIR, MDNMF_LIB=os.environ["MDNMF_LIB"])
    with Folder() as folder:
        fake_digits(folder.path)
        result = run([EXAMPLE, "--data", folder.path, "--train", "25", "--test", "10",
                      "--atoms", "4", "--epochs", "5"], env=environment)
        assert result.returncode == 0, result.stderr
        scores = re.findall(r"^(NMF|MDNMF): +median PSNR (-?[0-9.]+) dB$", result.stdout, re.M)
        assert [name for name, _ in scores] == ["NMF", "MDNMF"], result.stdout
        assert all(float(value) > 10 for _, value in scores), result.stdout
        missing = run([EXAMPLE, "--data", folder / "none"], env=environment)
        assert missing.returncode != 0
        assert "scripts/fetch-data.sh mnist" in missing.stderr, missing.stderr


if __name__ == "__main__":
    run_tests(globals())
