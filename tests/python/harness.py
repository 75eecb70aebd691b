"""Shared helpers of the Python binding's tests (tests/python/test_*.py).

Each test file is one ctest test run with /usr/bin/python3; it imports the
package from python/ of this source tree and the library named by MDNMF_LIB
(ctest sets it, with MDNMF_BIN for the CLI and MDNMF_TOOLS for the helper
programs).  Run as a script, a file calls run_tests(globals()): every test_*
function in definition order; the exit status is non-zero if any failed.
Under the sanitizer build (MDNMF_SANITIZED=1) the files skip themselves: an
ASan library cannot be loaded into an uninstrumented python3.

MDNMF_TEST_INSTALLED=1 tests an installed package instead (test_pip_install.py
runs the files so with a virtual environment's python): python/ is not put on
sys.path, MDNMF_LIB is dropped, and the package must be imported from outside
this source tree and load the library it carries (mdnmf/_lib/).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
PYTHON_DIR = os.path.join(SOURCE_ROOT, "python")

if os.environ.get("MDNMF_SANITIZED") == "1":
    print("skipped: the sanitizer build's library cannot be loaded into python3 (ctypes)")
    sys.exit(77)  # ctest's SKIP_RETURN_CODE: reported as skipped, not passed

INSTALLED = os.environ.get("MDNMF_TEST_INSTALLED") == "1"

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
if INSTALLED:
    os.environ.pop("MDNMF_LIB", None)  # the installed package's own library, also in children
else:
    sys.path.insert(0, PYTHON_DIR)

import numpy as np  # noqa: E402

import mdnmf  # noqa: E402

LIBRARY = mdnmf.library_path  # imported here so that a missing library fails at once


def check_installed_package():
    """Under MDNMF_TEST_INSTALLED=1: the package is not this tree's python/
    and its library is its own bundled copy."""
    package = os.path.dirname(os.path.realpath(mdnmf.__file__))
    if os.path.commonpath([package, os.path.realpath(PYTHON_DIR)]) == os.path.realpath(PYTHON_DIR):
        raise RuntimeError(f"MDNMF_TEST_INSTALLED=1 but mdnmf was imported from {package}, "
                           "the source tree")
    if os.path.dirname(os.path.realpath(LIBRARY)) != os.path.join(package, "_lib"):
        raise RuntimeError(f"the installed mdnmf ({package}) loaded {LIBRARY}, not its "
                           "bundled library")


if INSTALLED:
    check_installed_package()


def cli():
    path = os.environ.get("MDNMF_BIN")
    if not path or not os.path.exists(path):
        raise RuntimeError("set MDNMF_BIN to the built mdnmf tool (ctest does)")
    return path


def tool(name):
    folder = os.environ.get("MDNMF_TOOLS")
    if not folder:
        raise RuntimeError("set MDNMF_TOOLS to the folder of the test helper programs")
    return os.path.join(folder, name)


def run_cli(*args):
    """Run the mdnmf tool; fails the test on a non-zero exit."""
    result = subprocess.run([cli(), *map(str, args)], capture_output=True, text=True,
                            timeout=120)
    if result.returncode != 0:
        raise AssertionError(f"mdnmf {' '.join(map(str, args))} failed "
                             f"({result.returncode}): {result.stderr}")
    return result


class Folder:
    """A temporary folder, removed afterwards."""

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="mdnmf-python-test-")
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)

    def __truediv__(self, name):
        return os.path.join(self.path, name)


def problem(m=30, n=80, n_adv=60, seed=0):
    """Small non-negative data, column-wise (m, N) float32 Fortran order:
    true data and adversarial data that partly overlaps it."""
    rng = np.random.default_rng(seed)
    U = np.asfortranarray(rng.random((m, n), dtype=np.float32))
    U_adv = np.asfortranarray((rng.random((m, n_adv)) ** 3).astype(np.float32))
    return U, U_adv


def two_sources(m=40, n=200, n_test=60, seed=1):
    """Two sources made of disjoint-ish non-negative parts, their 0.5
    mixtures: (U0, U1, test0, test1, V_test), all column-wise."""
    rng = np.random.default_rng(seed)
    A = [rng.random((m, 6)) * (rng.random((m, 6)) < 0.4) for _ in range(2)]

    def draw(s, count):
        return np.asfortranarray((A[s] @ rng.random((6, count)) ** 2).astype(np.float32))

    U0, U1 = draw(0, n), draw(1, n)
    T0, T1 = 0.5 * draw(0, n_test), 0.5 * draw(1, n_test)
    return U0, U1, T0, T1, np.asfortranarray(T0 + T1)


def raises(kind, function, *args, contains=None, **kwargs):
    """Assert that the call raises `kind` (and its message has `contains`)."""
    try:
        function(*args, **kwargs)
    except kind as error:
        if contains is not None and contains not in str(error):
            raise AssertionError(f"expected {contains!r} in the message, got {error}") from None
        return error
    except Exception as error:  # noqa: BLE001 - reported as the failure
        raise AssertionError(f"expected {kind.__name__}, got {type(error).__name__}: "
                             f"{error}") from None
    raise AssertionError(f"expected {kind.__name__}, nothing was raised")


def run_tests(namespace):
    tests = [(name, f) for name, f in namespace.items()
             if name.startswith("test_") and callable(f)]
    failed = 0
    for name, test in tests:
        start = time.monotonic()
        try:
            test()
        except Exception:  # noqa: BLE001 - every failure is reported
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc()
        else:
            print(f"ok   {name} ({time.monotonic() - start:.2f} s)")
    print(f"{len(tests) - failed}/{len(tests)} passed")
    sys.exit(1 if failed else 0)
