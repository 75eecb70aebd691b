"""Shared helpers of the CLI tests: run the `mdnmf` tool (env MDNMF_BIN),
give each test its own folders, check failures, run a file's tests.

Each tests/cli/test_*.py is one ctest test: run as a script it calls
run_tests(globals()), which runs every test_* function in definition order
and exits non-zero if any failed.  The files also work under pytest."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))


def binary():
    path = os.environ.get("MDNMF_BIN")
    if not path or not os.path.exists(path):
        raise RuntimeError("set MDNMF_BIN to the built mdnmf tool (ctest does)")
    return path


def run(*args, cwd=None, timeout=120, **popen):
    """Run `mdnmf ARGS...`; returns the CompletedProcess (text output)."""
    env = dict(os.environ)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    return subprocess.run([binary(), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout, **popen)


def random_data(rows=30, cols=40, seed=0):
    """(rows, cols) float32 in [0, 1): rows samples of cols features."""
    return np.random.default_rng(seed).random((rows, cols)).astype(np.float32)


class Workspace:
    """A temporary folder per test with inputs in in/ and outputs in out/, so
    "nothing was left behind" is simply "out/ is empty"."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="mdnmf-cli-test-")
        self.inputs = os.path.join(self.root, "in")
        self.outputs = os.path.join(self.root, "out")
        os.mkdir(self.inputs)
        os.mkdir(self.outputs)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.root, ignore_errors=True)

    def save(self, name, array, **kwargs):
        path = os.path.join(self.inputs, name)
        np.save(path, array, **kwargs)
        return path

    def write(self, name, data):
        path = os.path.join(self.inputs, name)
        with open(path, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        return path

    def out(self, name):
        return os.path.join(self.outputs, name)

    def leftovers(self):
        """Everything in out/, hidden temporary files included."""
        return sorted(os.listdir(self.outputs))

    def fit_model(self, data_name="u.npy", data=None, d=5, extra=(), model="model.npz"):
        """Save `data` (default random_data()), fit a model, return its path."""
        data_path = self.save(data_name, random_data() if data is None else data)
        model_path = self.out(model)
        result = run("fit", "-i", data_path, "-d", d, "-o", model_path, *extra)
        assert result.returncode == 0, result.stderr
        return data_path, model_path


def expect_failure(result, code, *mentions):
    """Exit code `code`, exactly one line on stderr containing every string
    of `mentions`, nothing on stdout.  Returns the line."""
    lines = result.stderr.splitlines()
    assert result.returncode == code, (
        f"exit {result.returncode}, expected {code}; stderr: {result.stderr!r}")
    assert len(lines) == 1, f"expected one stderr line, got {lines!r}"
    line = lines[0]
    assert line.startswith("mdnmf"), line
    for text in mentions:
        assert text in line, f"{text!r} not in {line!r}"
    assert result.stdout == "", result.stdout
    return line


def help_blocks(text):
    """{"--option": "its whole help text, wrapped lines joined"} of a usage."""
    blocks = {}
    current = None
    for line in text.splitlines():
        match = re.match(r"^\s+(?:-\w, )?(--[\w-]+)", line)
        if match:
            current = match.group(1)
            blocks[current] = line.strip()
        elif current and line.startswith(" " * 10) and line.strip():
            blocks[current] += " " + line.strip()
        else:
            current = None
    return blocks


def run_tests(namespace):
    tests = [(name, f) for name, f in namespace.items()
             if name.startswith("test_") and callable(f)]
    failed = 0
    for name, test in tests:
        try:
            test()
            print(f"ok   {name}")
        except Exception:  # report every failure, then go on
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc(file=sys.stdout)
    print(f"{len(tests) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
