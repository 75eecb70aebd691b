#!/usr/bin/python3
"""Seconds per epoch of the NumPy reference of SPEC §2/§3 (tests/reference/mdnmf_ref.py).

    numpy_reference.py --data DIR [--draws DIR] [--d 32,64,128,256] [--batch 500]
                       [--batch-adv 250] [--epochs 10] [--repeats 3] [--threads 1] [--seed 0]
                       [--no-adv] [--no-float32] [--format tsv|text] [--clock wall|cpu]

DIR holds U.npy (and U_adv.npy) as written by `bench_fit --save-data`, so both sides time the
same matrices.  The random draws are the library's own when `--draws` names the folder of
`bench_fit --trace` (DIR/fit_std_d64/... as tests/tools/trace_fit writes them, read by
mdnmf_ref.Draws.load): the checked fit then replays the library's checked fit exactly, and its
final loss must equal the library's up to float32 rounding (bench/report.py compares them).
Without them (or for a case it lacks) they come from numpy.random.default_rng(seed) through
mdnmf_ref.Draws.generate, and the result record says draws=generated.

Method, the same as bench_fit's for the C library:
  1. check every case: mdnmf_ref.fit_std / fit_adv for --verify-epochs epochs (as many as
     bench_fit's checked fit, so the losses compare) with default parameters; the loss must be
     finite and decrease;
  2. R interleaved rounds, each timing every case once: whole fits of 0 and of E epochs;
     seconds per epoch = (best E-epoch fit - best 0-epoch fit) / E.  During these fits the
     reference's per-epoch loss is switched off (the C library computes none unless a callback
     asks), and test_epochs = 1 keeps the initialisation, which the difference cancels, short.
     The same from the second-best times is a second estimate; their relative difference is
     the noise reported (needs R >= 2).
mdnmf_ref works in float64, the precision of the research code.  For information, the same
epochs written in the research code's style on float32 arrays are timed too (checked first
against the float64 reference from the same start and draws).

Output: tab-separated records for bench/report.py ("info<TAB>key<TAB>value",
"result<TAB>key=value...") or a readable listing (--format text); progress on stderr.
"""

import argparse
import contextlib
import os
import sys
import time


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="folder with U.npy and U_adv.npy")
    parser.add_argument("--draws", help="folder of bench_fit --trace: the library's draws")
    parser.add_argument("--d", default="32,64,128,256")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--batch-adv", type=int, default=250)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--verify-epochs", type=int, default=20,
                        help="epochs of the checked fit (bench_fit checks --epochs)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-adv", action="store_true")
    parser.add_argument("--no-float32", action="store_true")
    parser.add_argument("--format", choices=("tsv", "text"), default="tsv")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: time with the process CPU clock, which leaves out the time "
                             "other processes held the core (one thread only)")
    return parser.parse_args()


ARGS = parse_arguments()
if ARGS.clock == "cpu" and ARGS.threads != 1:
    sys.exit("numpy_reference: --clock cpu needs --threads 1")
# OpenBLAS reads its thread count when it is loaded: before numpy is imported.
os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS.threads)
os.environ["OMP_NUM_THREADS"] = str(ARGS.threads)

import numpy as np  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(REPO, "tests", "reference"))
import mdnmf_ref as ref  # noqa: E402

try:
    import threadpoolctl  # noqa: E402
except ImportError:  # python3-threadpoolctl missing: the kernel goes unreported
    threadpoolctl = None


class Stopwatch:
    """Wall and CPU time of everything timed: a CPU share well below 1 means the machine was
    busy with something else and the numbers are pessimistic."""
    wall = 0.0
    cpu = 0.0

    def __enter__(self):
        self.start = (time.perf_counter(), time.process_time())
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.start[0]
        cpu = time.process_time() - self.start[1]
        Stopwatch.wall += wall
        Stopwatch.cpu += cpu
        self.elapsed = cpu if ARGS.clock == "cpu" else wall
        return False


def log(message):
    print("numpy_reference: " + message, file=sys.stderr, flush=True)


def emit_info(key, value):
    if ARGS.format == "tsv":
        print("info\t%s\t%s" % (key, value))
    else:
        print("%-17s %s" % (key, value))


def emit_result(fields):
    separator = "\t" if ARGS.format == "tsv" else "  "
    prefix = "result" + separator if ARGS.format == "tsv" else ""
    print(prefix + separator.join("%s=%s" % item for item in fields.items()), flush=True)


def blas_description():
    """The BLAS numpy uses, as threadpoolctl sees it."""
    if threadpoolctl is None:
        return "unknown (python3-threadpoolctl not installed)"
    found = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
    if not found:
        return "unknown (threadpoolctl found no BLAS)"
    return "; ".join("%s %s kernel=%s threads=%s (%s)" % (
        i.get("internal_api"), i.get("version"), i.get("architecture"), i.get("num_threads"),
        i.get("filepath")) for i in found)


def limit_threads():
    """Keeps numpy's BLAS at ARGS.threads whatever the environment said."""
    if threadpoolctl is None:
        return contextlib.nullcontext()
    return threadpoolctl.threadpool_limits(limits=ARGS.threads, user_api="blas")


# ------------------------------------------------------------ the reference's fits

@contextlib.contextmanager
def losses_skipped():
    """mdnmf_ref records (1/N)‖U - WH‖² after every epoch; the library computes no loss
    without a callback, so the timed fits skip it (a product W H per epoch).  Yields a list
    that counts the skipped calls: none would mean the patch missed and NumPy was timed
    with its losses."""
    saved, skipped = ref.loss, []
    ref.loss = lambda U, W, H: skipped.append(1) or 0.0
    try:
        yield skipped
    finally:
        ref.loss = saved


def reference_fit(U, Ua, draws, d, epochs, test_epochs=50):
    """mdnmf_ref.fit_std (Ua None) or fit_adv with the benchmark's batch sizes.
    Returns W, H, Ĥ (None for fit_std) and the true-data loss per epoch."""
    params = ref.Params(d=d, epochs=epochs, test_epochs=test_epochs, batch_size=ARGS.batch,
                        batch_size_adv=ARGS.batch_adv if Ua is not None else 0)
    if Ua is None:
        W, H, losses = ref.fit_std(U, params, draws)
        Ha = None
    else:
        W, H, Ha, losses = ref.fit_adv(U, Ua, None, params, draws)
    return W, H, Ha, [entry[0] for entry in losses]


# ------------------------------------------------------------ float32, research style

def research_epochs(U, Ua, W, H, Ha, perms, perms_adv, d):
    """The epochs of fit_std / fit_adv as the research code writes them, in U's dtype,
    in place (default parameters: τ_W = 1, τ_A = 0.1, γ = λ = 1e-6, guard 1e-10)."""
    p = ref.Params(d=d)
    B, eps = ARGS.batch, ref.EPS
    lam = np.full((d, 1), p.mu_H, dtype=U.dtype)
    Ba = ARGS.batch_adv
    for epoch, perm in enumerate(perms):
        for b in range(U.shape[1] // B):
            cols = perm[(b * B + np.arange(B)) % perm.size]
            Ub, Hb = U[:, cols], H[:, cols]
            num = Ub @ Hb.T / B
            den = W @ (Hb @ Hb.T) / B + p.mu_W + eps
            if Ua is not None:
                perm_adv = perms_adv[epoch]
                cols_adv = perm_adv[(b * Ba + np.arange(Ba)) % perm_adv.size]
                Uab, Hab = Ua[:, cols_adv], Ha[:, cols_adv]
                num += p.tau_A * (W @ (Hab @ Hab.T)) / Ba
                den += p.tau_A * (Uab @ Hab.T) / Ba
            W *= num / den
        WtW = W.T @ W
        H *= (W.T @ U) / (WtW @ H + lam + eps)
        if Ua is not None:
            Ha *= (W.T @ Ua) / (WtW @ Ha + lam + eps)
    return W, H, Ha


def float32_start(U, Ua, draws, d):
    """The reference's initial W, H (and Ĥ) after one transform step (the epochs' cost
    does not depend on how converged H is), as float32 arrays."""
    start = reference_fit(U, Ua, draws, d, 0, test_epochs=1)[:3]
    return tuple(None if X is None else np.array(X, dtype=np.float32) for X in start)


def check_float32(U, Ua, draws, d):
    """Two research-style float32 epochs agree with two epochs of mdnmf_ref (float64)."""
    W64 = reference_fit(U, Ua, draws, d, 2, test_epochs=1)[0]
    U32 = U.astype(np.float32)
    Ua32 = None if Ua is None else Ua.astype(np.float32)
    W, H, Ha = float32_start(U, Ua, draws, d)
    W, H, Ha = research_epochs(U32, Ua32, W, H, Ha, draws.perm_true[:2], draws.perm_adv[:2], d)
    scale = float(np.max(np.abs(W64)))
    error = float(np.max(np.abs(W - W64))) / scale
    return W.dtype == np.float32 and H.dtype == np.float32 and error < 1e-3, error


# ------------------------------------------------------------ the cases

def best_two(times):
    """The best and the second-best time (inf when missing)."""
    ordered = sorted(times) + [float("inf")] * 2
    return ordered[0], ordered[1]


def relative_difference(a, b):
    """|b - a| / a of two estimates; nan when the second is missing (one round)."""
    if not (np.isfinite(a) and np.isfinite(b)) or a <= 0:
        return float("nan")
    return abs(b - a) / a


def case_draws(name, m, n, d, n_adv):
    """The library's draws of this case (bench_fit --trace), or fresh ones; and which."""
    epochs = max(ARGS.epochs, ARGS.verify_epochs, 2)
    if ARGS.draws:
        folder = os.path.join(ARGS.draws, "%s_d%d" % (name, d))
        if os.path.isdir(folder):
            draws = ref.Draws.load(folder, m, d, n, n_adv)
            enough = len(draws.perm_true) >= epochs and (not n_adv or len(draws.perm_adv)
                                                         >= epochs)
            if enough and draws.exemplars is not None and draws.h_random is not None:
                return draws, "replayed"
            log("%s: %d epochs of draws, %d needed: drawing afresh" % (folder,
                len(draws.perm_true), epochs))
        else:
            log("%s is missing: drawing afresh" % folder)
    return ref.Draws.generate(np.random.default_rng(ARGS.seed), m, n, d, epochs, n_adv), \
        "generated"


class Case:
    """One benchmark case (fit and d): its draws, its check, and its best times so far."""

    def __init__(self, U, Ua, d):
        self.U, self.Ua, self.d = U, Ua, d
        self.name = "fit_std" if Ua is None else "fit_adv"
        m, n = U.shape
        n_adv = 0 if Ua is None else Ua.shape[1]
        self.draws, self.draws_source = case_draws(self.name, m, n, d, n_adv)
        self.common = dict(case=self.name, d=d, m=m, n=n, batch=ARGS.batch, n_adv=n_adv,
                           batch_adv=ARGS.batch_adv if n_adv else 0, threads=ARGS.threads,
                           epochs=ARGS.epochs, repeats=ARGS.repeats)
        self.times = {0: [], ARGS.epochs: [], "float32": []}

    def check(self):
        """The reference's loss is finite and decreasing; the float32 epochs agree with it."""
        log("checking %s d=%d" % (self.name, self.d))
        self.losses = reference_fit(self.U, self.Ua, self.draws, self.d, ARGS.verify_epochs)[3]
        self.verified = bool(all(np.isfinite(self.losses)) and self.losses[-1] < self.losses[0])
        if not self.verified:
            log("%s d=%d: mdnmf_ref's loss is not finite and decreasing: %s"
                % (self.name, self.d, self.losses))
        if ARGS.no_float32:
            return
        self.float32_agrees, self.float32_error = check_float32(self.U, self.Ua, self.draws,
                                                                self.d)
        if not self.float32_agrees:
            log("%s d=%d: float32 epochs differ from mdnmf_ref by %.3g (relative)"
                % (self.name, self.d, self.float32_error))
        U32 = self.U.astype(np.float32)
        Ua32 = None if self.Ua is None else self.Ua.astype(np.float32)
        self.float32_state = [U32, Ua32] + list(float32_start(self.U, self.Ua, self.draws,
                                                              self.d))
        self.float32_round(warm_up=True)

    def float32_round(self, warm_up=False):
        """E research-style float32 epochs, continuing from the last round."""
        U32, Ua32, W, H, Ha = self.float32_state
        epochs = 1 if warm_up else ARGS.epochs
        perms, perms_adv = self.draws.perm_true[:epochs], self.draws.perm_adv[:epochs]
        with Stopwatch() as watch:
            W, H, Ha = research_epochs(U32, Ua32, W, H, Ha, perms, perms_adv, self.d)
        self.float32_state = [U32, Ua32, W, H, Ha]
        if not warm_up:
            self.times["float32"].append(watch.elapsed)

    def time_round(self):
        """Whole reference fits of 0 and E epochs (without losses), then the float32 epochs."""
        with losses_skipped() as skipped:
            for epochs in (0, ARGS.epochs):
                with Stopwatch() as watch:
                    reference_fit(self.U, self.Ua, self.draws, self.d, epochs, test_epochs=1)
                self.times[epochs].append(watch.elapsed)
        if len(skipped) < ARGS.epochs:
            raise SystemExit("numpy_reference: mdnmf_ref no longer computes its per-epoch loss "
                             "through mdnmf_ref.loss; update losses_skipped()")
        if not ARGS.no_float32:
            self.float32_round()

    def emit(self):
        full, setup = best_two(self.times[ARGS.epochs]), best_two(self.times[0])
        seconds = [(f - s) / ARGS.epochs for f, s in zip(full, setup)]
        emit_result(dict(self.common, implementation="mdnmf_ref", dtype="float64",
                         seconds_per_epoch="%.6g" % seconds[0],
                         noise="%.4g" % relative_difference(*seconds),
                         loss_start="%.10g" % self.losses[0],
                         loss_end="%.10g" % self.losses[-1], draws=self.draws_source,
                         verify_epochs=ARGS.verify_epochs, verified=int(self.verified)))
        if ARGS.no_float32:
            return
        float32 = best_two(self.times["float32"])
        emit_result(dict(self.common, implementation="research_float32", dtype="float32",
                         seconds_per_epoch="%.6g" % (float32[0] / ARGS.epochs),
                         noise="%.4g" % relative_difference(*float32),
                         max_relative_error_W="%.3g" % self.float32_error,
                         verified=int(self.float32_agrees)))


def run_cases(cases):
    """Check every case, then time them in interleaved rounds (round r times every case
    once), keeping each case's best: a burst of load on a shared machine then spoils one
    round of every case rather than all rounds of one."""
    for case in cases:
        case.check()
    for round_number in range(1, ARGS.repeats + 1):
        log("timing round %d of %d" % (round_number, ARGS.repeats))
        for case in cases:
            case.time_round()


def main():
    dims = [int(x) for x in ARGS.d.split(",") if x]
    # (N, m) C order on disk is the m x N column-major matrix: its transpose is SPEC's U.
    U = np.load(os.path.join(ARGS.data, "U.npy")).T.astype(np.float64)
    Ua = None if ARGS.no_adv else np.load(os.path.join(ARGS.data, "U_adv.npy")).T.astype(
        np.float64)
    emit_info("numpy", "%s (%s)" % (np.__version__, sys.executable))
    emit_info("numpy_blas", blas_description())
    emit_info("numpy_env", "OPENBLAS_NUM_THREADS=%s OPENBLAS_CORETYPE=%s OPENBLAS_L2_SIZE=%s"
              % (os.environ.get("OPENBLAS_NUM_THREADS"),
                 os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
                 os.environ.get("OPENBLAS_L2_SIZE", "(unset)")))
    cases = [Case(U, Ua if adversarial else None, d)
             for adversarial in ([False] if ARGS.no_adv else [False, True]) for d in dims]
    with limit_threads():
        run_cases(cases)
    for case in cases:
        case.emit()
    emit_info("numpy_clock", "process CPU" if ARGS.clock == "cpu" else "wall")
    emit_info("numpy_cpu_share", "%.3f" % (Stopwatch.cpu / Stopwatch.wall if Stopwatch.wall
                                           else 0.0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
