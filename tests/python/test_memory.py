"""No memory growth: 1000 fits (and transforms, separations, saves, failing
calls) on tiny data leave the resident set size where a warm-up left it.
A leaked model, basis or ctypes callback per call would add up to several
megabytes over the loop."""

import gc
import os

import numpy as np
from harness import Folder, problem, run_tests, two_sources

import mdnmf
from mdnmf import MDNMF, NMF, NMF_separation

CALLS = 1000
ALLOWED_GROWTH_KB = 1024


def resident_kb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def growth(step, warm_up=100):
    for i in range(warm_up):
        step(i)
    gc.collect()
    before = resident_kb()
    for i in range(CALLS):
        step(i)
    gc.collect()
    return resident_kb() - before


def test_one_source_fits_do_not_grow():
    U, U_adv = problem(m=30, n=100, n_adv=60)
    bad = U.copy(order="F")
    bad[0, 0] = np.nan

    def step(i):
        nmf = NMF(d=3, epochs=3, test_epochs=3, seed=i)
        if i % 2:
            nmf.fit_std(U, conv=True)      # with the epoch callback
        else:
            nmf.prob = "adv"
            nmf.fit_adv(U, U_adv)
        nmf.transform(U)
        try:
            nmf.fit_std(bad)
        except ValueError:
            pass
        try:
            NMF(d=500, seed=0).fit_std(U)  # fails inside the library
        except ValueError:
            pass

    kb = growth(step)
    assert kb < ALLOWED_GROWTH_KB, f"RSS grew by {kb} kB over {CALLS} fits"


def test_estimator_separator_and_files_do_not_grow():
    X, X_adv = problem(m=30, n=100, n_adv=60)
    U0, U1, T0, T1, V = two_sources(m=30, n=100, n_test=20)
    with Folder() as folder:
        path = folder / "m.npz"

        def step(i):
            estimator = MDNMF(n_components=3, max_iter=2, test_iter=2, random_state=i)
            estimator.fit(X.T, X_adv.T)
            if i % 4 == 0:
                separator = NMF_separation(ds=[2, 2], prob="adv", epochs=2, test_epochs=2,
                                           seed=i)
                separator.fit(U=[U0, U1], V=V)
                separator.eval([T0, T1], V)
                separator.save(path)
                mdnmf.load(path)

        kb = growth(step)
    assert kb < ALLOWED_GROWTH_KB, f"RSS grew by {kb} kB over {CALLS} fits"


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    run_tests(globals())
