"""Counted checks for the reference tests that run many small cases
(test_npy_numpy.py, test_untrusted_sizes.py): every case is checked, the
failures are listed, and the test fails if any did."""
import os
import tempfile


class Checks:
    """Counts checks; remembers the failed ones."""

    def __init__(self):
        self.passed = 0
        self.failed = []

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed.append(what)
            print("FAILED: %s" % what)


def run_checks(tools, steps):
    """Every step(checks, folder), sharing one temporary folder, once the
    helper programs `tools` are found; returns the exit status."""
    for tool in tools:
        if not os.path.exists(tool):
            print("%s not found (set MDNMF_TOOLS)" % tool)
            return 1
    checks = Checks()
    with tempfile.TemporaryDirectory() as folder:
        for step in steps:
            step(checks, folder)
    print("%d passed, %d failed" % (checks.passed, len(checks.failed)))
    return 1 if checks.failed else 0
