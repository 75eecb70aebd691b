"""`make python`'s installer (python/install.py) and the MNIST example
(python/examples/separate_mnist.py), each run as a user would."""

import os
import re
import subprocess
import sys

import numpy as np
from harness import PYTHON_DIR, Folder, run_tests

INSTALLER = os.path.join(PYTHON_DIR, "install.py")
EXAMPLE = os.path.join(PYTHON_DIR, "examples", "separate_mnist.py")


def clean_environment(**extra):
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("MDNMF_LIB", "PYTHONPATH", "MDNMF_DATA_DIR")}
    environment.update(extra)
    return environment


def run(arguments, **kwargs):
    return subprocess.run([sys.executable, *arguments], capture_output=True, text=True,
                          timeout=120, **kwargs)


def mdnmf_native_soname():
    from mdnmf import _native
    return _native.SONAME


def library_version(library):
    code = ("import ctypes, sys; lib = ctypes.CDLL(sys.argv[1]); "
            "lib.mdnmf_version.restype = ctypes.c_char_p; print(lib.mdnmf_version().decode())")
    return run(["-c", code, library]).stdout.strip()


def test_install_bundles_the_library_and_uninstalls():
    library = os.environ["MDNMF_LIB"]
    with Folder() as folder:
        target = folder / "site"
        for _ in range(2):  # installing again replaces the first installation
            result = run([INSTALLER, "--lib", library, "--target", target])
            assert result.returncode == 0, result.stderr
        version = library_version(library)
        assert sorted(os.listdir(target)) == ["mdnmf", f"mdnmf-{version}.dist-info"]
        bundled = os.path.join(target, "mdnmf", "_lib", mdnmf_native_soname())
        with open(bundled, "rb") as copy, open(os.path.realpath(library), "rb") as built:
            assert copy.read() == built.read()
        # Without MDNMF_LIB, outside the source tree, the package uses its copy.
        code = ("import numpy as np, mdnmf; print(mdnmf.library_path); "
                "nmf = mdnmf.NMF(d=2, epochs=3, seed=0); "
                "nmf.fit_std(np.random.default_rng(0).random((5, 9))); print(nmf.W.shape)")
        result = run(["-c", code], cwd="/", env=clean_environment(PYTHONPATH=target))
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == [bundled, "(5,", "2)"], result.stdout
        result = run([INSTALLER, "--uninstall", "--target", target])
        assert result.returncode == 0 and os.listdir(target) == [], result.stderr
        missing = run([INSTALLER, "--lib", folder / "nothing.so", "--target", target])
        assert missing.returncode != 0 and "build the library first" in missing.stderr


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
