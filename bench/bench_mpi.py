#!/usr/bin/python3
"""`make bench-mpi`: strong and weak scaling of mdnmf-mpi fit on this machine, one table.

    bench/bench_mpi.py [--build build] [--markdown OUT.md] [--no-strict]

Issue 16's benchmark (docs/benchmarks.md, "Issue 16: MPI"; docs/distributed.md):
  1. Synthetic non-negative data of N samples x m features (float32 .npy in a temporary
     folder): U = (W0 H0)ᵀ + noise, W0 (m x 40) uniform, H0 (40 x N) exponential with 70 % of
     its entries zeroed, noise uniform in [0, 0.01), NumPy's PCG64 seeded with 16.  The weak
     scaling file is the first N/2 rows of the same array.
  2. The per-batch all-reduce of this MPI on this machine (build/bench/mpi_allreduce, 2 ranks,
     the fastest of 300 calls for the model):
     1 float (latency) and the m·d + d² + 1 floats of an NMF batch.
  3. Quiet rounds, side by side: in every round each configuration runs a fit of E_LO and one
     of E_HI epochs (NMF, d atoms, batch B, one thread per rank, --init-h-steps 1, seed 0), in
     turn (K = 1, K = 2, ... alternating); seconds per epoch = (wall(E_HI) - wall(E_LO)) /
     (E_HI - E_LO), which removes start-up, reading, initialisation and saving.
       mpi K=1, mpi K=2   mpirun -np K mdnmf-mpi fit --threads 1 (N samples)
       fit T=1, fit T=2   mdnmf fit --threads 1 / --threads 2 (N samples)
       weak K=1           mpirun -np 1 mdnmf-mpi fit on the N/2 file (weak scaling: K = 2 on N
                          against K = 1 on N/2, N/2 samples per rank both)
  4. Busy rounds: the same for mpi K=1, K=2 and K=2 with Open MPI's mpi_yield_when_idle 0 (a
     waiting rank polls instead of yielding its core, Open MPI's default, which mdnmf-mpi
     changes) while a process this script starts (a
     session of its own, nice 19, a busy loop, as bench/bench_busy.sh's) spins; killed after.
  5. The table: median seconds per epoch over the rounds, the spread (min-max), ratios from the
     rounds' pairs (median; noise = half the spread of the middle rounds' ratios relative to the
     median, all rounds when fewer than 5, at least 1 %), and bench/mpi_model.py's prediction
     of K = 2 (rate calibrated on K = 1, the measured all-reduce) and of K = 8, 64 on a
     network.

Target (issue 16): K = 2 at least 1.6x K = 1 (quiet).  Verdicts as `make bench`'s: yes,
within noise (ratio >= 1.6 x (1 - noise), and noise <= 25 %), NO.

Environment (defaults in brackets): BENCH_MPI_N [200000], BENCH_MPI_M [129], BENCH_MPI_D
[160], BENCH_MPI_BATCH [1000], BENCH_MPI_EPOCHS ["1,7": E_LO,E_HI], BENCH_MPI_ROUNDS [5],
BENCH_MPI_BUSY_ROUNDS [3, 0 = none], BENCH_STRICT=0 (exit 0 on a miss),
BENCH_KEEP_OPENBLAS_ENV=1 (keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE; otherwise unset, so
OpenBLAS uses its kernel for this CPU, as `make bench` does), TMPDIR.

Exit status: 0 target met (yes or within noise); 3 missed (0 with BENCH_STRICT=0 or
--no-strict); 1 could not measure (no MPI, a run failed); 2 usage error.
"""

import argparse
import datetime
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpi_model  # noqa: E402  (bench/mpi_model.py)
from report import exit_for_misses  # noqa: E402  (bench/report.py)

SPEEDUP_TARGET = 1.6
NOISE_FLOOR = 0.01
# A miss is "within noise" only when the noise is below this: with K = 2 rounds from 120 to
# 1300 ms/epoch (other work holding a core) any ratio would be.
NOISE_LIMIT = 0.25
ORIGIN = "issue 16"


class Failure(Exception):
    """The benchmark cannot measure: one line for the user."""


# ------------------------------------------------------------ settings

def env_int(name, default):
    text = os.environ.get(name, "")
    try:
        return int(text) if text else default
    except ValueError:
        raise Failure("%s=%r: an integer, please" % (name, text))


def settings():
    epochs = os.environ.get("BENCH_MPI_EPOCHS", "1,7").split(",")
    try:
        e_lo, e_hi = int(epochs[0]), int(epochs[1])
    except (ValueError, IndexError):
        raise Failure("BENCH_MPI_EPOCHS=E_LO,E_HI (two integers, E_LO < E_HI)")
    s = dict(n=env_int("BENCH_MPI_N", 200000), m=env_int("BENCH_MPI_M", 129),
             d=env_int("BENCH_MPI_D", 160), batch=env_int("BENCH_MPI_BATCH", 1000),
             e_lo=e_lo, e_hi=e_hi, rounds=env_int("BENCH_MPI_ROUNDS", 5),
             busy_rounds=env_int("BENCH_MPI_BUSY_ROUNDS", 3))
    if not (1 <= s["e_lo"] < s["e_hi"]) or s["rounds"] < 2 or s["busy_rounds"] < 0:
        raise Failure("need 1 <= E_LO < E_HI, BENCH_MPI_ROUNDS >= 2, BENCH_MPI_BUSY_ROUNDS >= 0")
    if s["n"] < 4 or s["batch"] < 1 or s["batch"] > s["n"] // 2:
        raise Failure("need BENCH_MPI_BATCH <= BENCH_MPI_N / 2 (the weak-scaling file)")
    return s


def run_environment():
    env = dict(os.environ)
    if env.get("BENCH_KEEP_OPENBLAS_ENV", "0") != "1":
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    return env


def openblas_core(env):
    probe = ("import ctypes; l = ctypes.CDLL('libopenblas.so.0'); "
             "l.openblas_get_corename.restype = ctypes.c_char_p; "
             "print(l.openblas_get_corename().decode())")
    try:
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                             text=True, timeout=30)
        return out.stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


# ------------------------------------------------------------ machine

def load_average():
    try:
        with open("/proc/loadavg") as handle:
            return " ".join(handle.read().split()[:3])
    except OSError:
        return "?"


def machine_busy_seconds():
    """CPU seconds all processes spent busy since boot (user, nice, system, irq, softirq)."""
    try:
        with open("/proc/stat") as handle:
            fields = handle.readline().split()
        ticks = os.sysconf("SC_CLK_TCK")
        user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[1:8])
        return (user + nice + system + irq + softirq) / ticks
    except (OSError, ValueError):
        return None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return "%s, %d CPU(s)" % (line.split(":", 1)[1].strip(), os.cpu_count())
    except OSError:
        pass
    return "%s CPU(s)" % os.cpu_count()


# ------------------------------------------------------------ data

def make_data(folder, n, m):
    """U.npy (n x m) and the first n/2 rows as U_half.npy; float32, C order."""
    import numpy as np
    rng = np.random.Generator(np.random.PCG64(16))
    rank = 40
    W0 = rng.random((m, rank), dtype=np.float32)
    U = np.empty((n, m), dtype=np.float32)
    for start in range(0, n, 50000):  # in slices: the factors of 50,000 columns at a time
        count = min(50000, n - start)
        H0 = rng.exponential(1.0, (rank, count)).astype(np.float32)
        H0 *= rng.random((rank, count), dtype=np.float32) < 0.3
        U[start:start + count] = (W0 @ H0).T + 0.01 * rng.random((count, m), dtype=np.float32)
    full, half = os.path.join(folder, "U.npy"), os.path.join(folder, "U_half.npy")
    np.save(full, U)
    np.save(half, U[: n // 2])
    return full, half


# ------------------------------------------------------------ runs

def mpirun_prefix(ranks, polling=False):
    command = ["mpirun"]
    if os.geteuid() == 0:
        command.append("--allow-run-as-root")
    if polling:
        # mdnmf-mpi makes a waiting rank yield its core by default; this is
        # Open MPI's own default, a rank that polls while it waits.
        command += ["--mca", "mpi_yield_when_idle", "0"]
    # No binding: on a shared machine the kernel may move a rank off a busy core.
    return command + ["--oversubscribe", "--bind-to", "none", "-np", str(ranks)]


class Config:
    def __init__(self, key, label, command, processes, env_extra=None):
        self.key, self.label, self.command = key, label, command
        self.processes, self.env_extra = processes, env_extra or {}
        self.runs = {}  # (round, epochs) -> (wall, cpu, maxrss_kib)


def fit_arguments(data, output, s, epochs, threads):
    return ["fit", "-i", data, "-d", str(s["d"]), "-o", output, "--batch-size", str(s["batch"]),
            "--epochs", str(epochs), "--init-h-steps", "1", "--threads", str(threads),
            "--seed", "0", "-q"]


def make_configs(build, full, half, folder, s):
    mpi, tool = os.path.join(build, "mdnmf-mpi"), os.path.join(build, "mdnmf")
    out = os.path.join(folder, "model.npz")

    def ranks(k, data, polling=False):
        return lambda e: (mpirun_prefix(k, polling) + [mpi] +
                          fit_arguments(data, out, s, e, 1))

    def threads(t):
        return lambda e: [tool] + fit_arguments(full, out, s, e, t)

    return {
        "mpi1": Config("mpi1", "mdnmf-mpi K=1", ranks(1, full), 1),
        "mpi2": Config("mpi2", "mdnmf-mpi K=2", ranks(2, full), 2),
        "mpi2y": Config("mpi2y", "mdnmf-mpi K=2, mpi_yield_when_idle 0", ranks(2, full, True),
                        2),
        "fit1": Config("fit1", "mdnmf fit --threads 1", threads(1), 1),
        "fit2": Config("fit2", "mdnmf fit --threads 2", threads(2), 2, {"OMP_NUM_THREADS": "2"}),
        "weak1": Config("weak1", "mdnmf-mpi K=1, N/2", ranks(1, half), 1),
    }


def timed_run(command, env):
    """(wall s, CPU s of the process and its descendants, peak RSS KiB of the largest)."""
    with tempfile.TemporaryFile() as errors:
        start = time.monotonic()
        child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        # wait4 counts the child's resources with those of its waited-for descendants (the
        # ranks mpirun started); ru_maxrss is the largest process's.
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - start
        child.returncode = code = os.waitstatus_to_exitcode(status)
        if code != 0:
            errors.seek(0)
            lines = errors.read().decode(errors="replace").strip().splitlines()
            raise Failure("%s exited %d: %s" % (" ".join(command), code,
                                               lines[-1] if lines else "(no message)"))
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def run_rounds(configs, keys, rounds, s, env, phase):
    """Every round runs every configuration at E_LO then E_HI epochs, in turn; the order of
    the configurations rotates from round to round.  Returns the phase's other-process load
    (cores) and the load averages before / after."""
    before, busy0, wall0, own = load_average(), machine_busy_seconds(), time.monotonic(), 0.0
    for r in range(rounds):
        order = keys[r % len(keys):] + keys[:r % len(keys)]
        print("bench-mpi: %s round %d of %d (%s)" % (phase, r + 1, rounds, load_average()),
              file=sys.stderr)
        for epochs in (s["e_lo"], s["e_hi"]):
            for key in order:
                c = configs[key]
                run_env = dict(env, **c.env_extra)
                result = timed_run(c.command(epochs), run_env)
                c.runs[(phase, r, epochs)] = result
                own += result[1]
    busy1, wall = machine_busy_seconds(), time.monotonic() - wall0
    others = None
    if busy0 is not None and busy1 is not None and wall > 0:
        others = max(0.0, (busy1 - busy0) - own) / wall
    return dict(before=before, after=load_average(), other_cores=others, seconds=wall)


class Spinner:
    """A competing process: own session, nice 19, a busy loop (bench/bench_busy.sh's)."""

    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, "-c", "import os\nos.nice(19)\nwhile True: pass"],
            start_new_session=True)

    def stop(self):
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()


def allreduce_times(build, s, env):
    """Microseconds of the per-batch all-reduce with 2 ranks: {count: (fastest, median)}.
    The model takes the fastest call: the transport's cost with both ranks running; on a
    loaded machine the median adds the time a rank waits for the scheduler to run the
    other (a time slice), which the model leaves to the measured K = 2 time."""
    program = os.path.join(build, "bench", "mpi_allreduce")
    if not os.access(program, os.X_OK):
        return {}
    md, dd = s["m"] * s["d"], s["d"] * s["d"]
    counts = [1, md + dd + 1, 2 * (md + dd) + 1]
    out = subprocess.run(mpirun_prefix(2) + [program, "--repeats", "300"] +
                         [str(c) for c in counts], env=env, capture_output=True, text=True,
                         timeout=120)
    if out.returncode != 0:
        raise Failure("mpi_allreduce exited %d: %s" % (out.returncode, out.stderr.strip()))
    times = {}
    for line in out.stdout.splitlines():
        fields = dict(f.split("=", 1) for f in line.split("\t")[1:] if "=" in f)
        if "count" in fields:
            times[int(fields["count"])] = (float(fields["min_us"]), float(fields["median_us"]))
    return times


# ------------------------------------------------------------ figures

def per_epoch(config, phase, rounds, s):
    """Seconds per epoch of each round."""
    span = s["e_hi"] - s["e_lo"]
    return [(config.runs[(phase, r, s["e_hi"])][0] - config.runs[(phase, r, s["e_lo"])][0])
            / span for r in range(rounds)]


def spread_noise(values):
    """Half the spread of the middle values (all when fewer than 5) over the median."""
    ordered = sorted(values)
    if len(ordered) >= 5:
        ordered = ordered[1:-1]
    middle = statistics.median(values)
    return (ordered[-1] - ordered[0]) / (2.0 * middle) if middle > 0 else float("inf")


def ratio_row(case, measured, reference, minimum=None):
    """measured / reference: per-round seconds per epoch; ratio = reference / measured
    (higher is better), the median over the rounds' pairs."""
    row = dict(case=case, target="-" if minimum is None else ">= %gx" % minimum,
               measured=1e3 * statistics.median(measured),
               reference=1e3 * statistics.median(reference))
    if min(measured + reference) <= 0:
        # A round whose E_HI fit took no longer than its E_LO fit: noise beyond the epochs.
        return dict(row, ratio=float("nan"), noise=float("inf"), verdict="not measured")
    ratios = [a / b for a, b in zip(reference, measured)]
    ratio = statistics.median(ratios)
    noise = max(spread_noise(ratios), NOISE_FLOOR)
    if minimum is None:
        verdict = "info"
    elif ratio >= minimum:
        verdict = "yes"
    elif noise > NOISE_LIMIT:
        verdict = "NO (noise above %d %%: rerun when the machine is quiet)" % (100 * NOISE_LIMIT)
    elif ratio >= minimum * (1.0 - noise):
        verdict = "within noise"
    else:
        verdict = "NO"
    return dict(row, ratio=ratio, noise=noise, verdict=verdict)


def config_details(configs, keys, phase, rounds, s):
    rows = []
    for key in keys:
        c = configs[key]
        epochs = per_epoch(c, phase, rounds, s)
        walls = [c.runs[(phase, r, s["e_hi"])][0] for r in range(rounds)]
        cpus = [c.runs[(phase, r, s["e_hi"])][1] for r in range(rounds)]
        rss = max(c.runs[(phase, r, e)][2] for r in range(rounds) for e in (s["e_lo"], s["e_hi"]))
        median = statistics.median(epochs)
        setup = statistics.median(c.runs[(phase, r, s["e_lo"])][0] for r in range(rounds)) \
            - s["e_lo"] * median
        share = statistics.median(cpu / (wall * c.processes) for cpu, wall in zip(cpus, walls))
        rows.append([c.label + (" (busy)" if phase == "busy" else ""),
                     "%.1f" % (1e3 * median),
                     "%.1f-%.1f" % (1e3 * min(epochs), 1e3 * max(epochs)),
                     "%.1f %%" % (100 * spread_noise(epochs)), "%.2f" % setup,
                     "%.2f" % share, "%.0f" % (rss / 1024.0)])
    return rows


DETAIL_HEADER = ["configuration", "ms/epoch (median)", "min-max", "noise", "start-up s",
                 "CPU share", "peak RSS MiB/process"]
MAIN_HEADER = ["case", "measured", "reference", "ratio", "target", "noise", "pass"]


NOT_MEASURED = ("not measured (a round's %s-epoch fit was not slower than its %s-epoch fit: "
                "the timing noise exceeds the epochs; raise BENCH_MPI_EPOCHS or N)")


def main_cells(rows, s):
    return [[r["case"], "%.1f ms/epoch" % r["measured"], "%.1f ms/epoch" % r["reference"],
             "%.3gx" % r["ratio"], r["target"], "%.1f %%" % (100 * r["noise"]),
             NOT_MEASURED % (s["e_hi"], s["e_lo"]) if r["verdict"] == "not measured"
             else r["verdict"]] for r in rows]


def markdown_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    return "\n".join(out + ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |"
                            for row in rows])


# ------------------------------------------------------------ main

def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.environ.get("BUILD_DIR", "build"))
    parser.add_argument("--markdown", help="also write the tables as Markdown here")
    parser.add_argument("--no-strict", action="store_true",
                        default=os.environ.get("BENCH_STRICT", "1") == "0")
    return parser.parse_args()


def check_tools(build):
    if shutil.which("mpirun") is None:
        raise Failure("no mpirun on PATH: install Open MPI (apt-get install openmpi-bin "
                      "libopenmpi-dev) and run make bench-mpi again")
    for program in ("mdnmf-mpi", "mdnmf"):
        if not os.access(os.path.join(build, program), os.X_OK):
            raise Failure("%s/%s is missing: CMake found no MPI (install libopenmpi-dev) or "
                          "the build failed; run make mpi" % (build, program))
    try:
        import numpy  # noqa: F401
    except ImportError:
        raise Failure("%s has no NumPy (it makes the data): apt-get install python3-numpy"
                      % sys.executable)


def measure(args, s, env, folder):
    print("bench-mpi: making %d x %d float32 data in %s" % (s["n"], s["m"], folder),
          file=sys.stderr)
    # In a child: NumPy's arrays would stay in this process's resident memory, which every
    # child it starts reports as its own peak (fork and exec keep the parent's high water).
    full, half = os.path.join(folder, "U.npy"), os.path.join(folder, "U_half.npy")
    made = subprocess.run([sys.executable, os.path.abspath(__file__), "--make-data", folder,
                           str(s["n"]), str(s["m"])], env=env)
    if made.returncode != 0:
        raise Failure("making the data failed (NumPy, or no room in %s)" % folder)
    allreduce = allreduce_times(args.build, s, env)
    configs = make_configs(args.build, full, half, folder, s)
    quiet_keys = ["mpi1", "mpi2", "fit1", "fit2", "weak1"]
    quiet = run_rounds(configs, quiet_keys, s["rounds"], s, env, "quiet")
    busy = None
    if s["busy_rounds"] > 0:
        spinner = Spinner()
        try:
            busy = run_rounds(configs, ["mpi1", "mpi2", "mpi2y"], s["busy_rounds"], s, env,
                              "busy")
        finally:
            spinner.stop()
    return configs, quiet, busy, allreduce


def build_rows(configs, s, busy):
    R, B = s["rounds"], s["busy_rounds"]

    def epochs(key, phase="quiet", rounds=R):
        return per_epoch(configs[key], phase, rounds, s)

    rows = [
        ratio_row("strong scaling: mdnmf-mpi K=2 vs K=1, N=%d (quiet)" % s["n"],
                  epochs("mpi2"), epochs("mpi1"), SPEEDUP_TARGET),
        ratio_row("weak scaling: K=2 on N=%d vs K=1 on N=%d (efficiency, ideal 1)"
                  % (s["n"], s["n"] // 2), epochs("mpi2"), epochs("weak1")),
        ratio_row("sharding overhead: mdnmf-mpi K=1 vs mdnmf fit --threads 1 (ideal 1)",
                  epochs("mpi1"), epochs("fit1")),
        ratio_row("processes vs threads: mdnmf-mpi K=2 vs mdnmf fit --threads 2",
                  epochs("mpi2"), epochs("fit2")),
        ratio_row("for comparison: mdnmf fit --threads 2 vs 1", epochs("fit2"), epochs("fit1")),
    ]
    if busy is not None:
        rows.append(ratio_row("busy machine (one process spinning at nice 19): K=2 vs K=1",
                              epochs("mpi2", "busy", B), epochs("mpi1", "busy", B)))
        rows.append(ratio_row("busy machine: K=2 polling (--mca mpi_yield_when_idle 0) vs K=1",
                              epochs("mpi2y", "busy", B), epochs("mpi1", "busy", B)))
    return rows


def model_check(configs, s, allreduce):
    md, dd = s["m"] * s["d"], s["d"] * s["d"]
    k1 = statistics.median(per_epoch(configs["mpi1"], "quiet", s["rounds"], s))
    k2 = statistics.median(per_epoch(configs["mpi2"], "quiet", s["rounds"], s))
    us = allreduce.get(md + dd + 1, (0.0, 0.0))[0]
    return mpi_model.check_k2(s["m"], s["d"], s["batch"], s["n"], 1, k1, k2, us), us


def report(args, s, env, configs, quiet, busy, allreduce):
    rows = build_rows(configs, s, busy)
    check, us = model_check(configs, s, allreduce)
    calibrated = check["measured"] > 0 and check["rate"] > 0
    rate = check["rate"] if calibrated else mpi_model.DEFAULT_GFLOPS * 1e9
    predictions = mpi_model.prediction_rows(s["m"], s["d"], s["batch"], s["n"], rate, [8, 64],
                                            0.8)
    model_header, model_body = mpi_model.prediction_table(predictions, 0.8)
    details = config_details(configs, ["mpi1", "mpi2", "fit1", "fit2", "weak1"], "quiet",
                             s["rounds"], s)
    if busy is not None:
        details += config_details(configs, ["mpi1", "mpi2", "mpi2y"], "busy", s["busy_rounds"], s)

    def phase_text(p):
        if p is None:
            return "not run"
        others = "?" if p["other_cores"] is None else "%.2f" % p["other_cores"]
        return "load %s before, %s after; other processes used %s core(s) over %.0f s" % (
            p["before"], p["after"], others, p["seconds"])

    machine = [
        ("date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("CPU", cpu_model()),
        ("OpenBLAS kernel", "%s (OPENBLAS_CORETYPE %s)" % (
            openblas_core(env), env.get("OPENBLAS_CORETYPE", "unset"))),
        ("MPI", subprocess.run(["mpirun", "--version"], capture_output=True,
                               text=True).stdout.splitlines()[0]),
        ("data", "synthetic non-negative, N = %d, m = %d (bench/bench_mpi.py, make_data)"
         % (s["n"], s["m"])),
        ("fit", "NMF, d = %d, batch %d, --init-h-steps 1, seed 0, one thread per rank; "
         "s/epoch = (wall(%d epochs) - wall(%d epochs)) / %d; %d quiet rounds, %d busy"
         % (s["d"], s["batch"], s["e_hi"], s["e_lo"], s["e_hi"] - s["e_lo"], s["rounds"],
            s["busy_rounds"])),
        ("quiet rounds", phase_text(quiet)),
        ("busy rounds", phase_text(busy)),
        ("all-reduce, 2 ranks", "1 float %s us, one NMF batch (%d bytes) %s us, MDNMF %s us "
         "(fastest / median of 300 calls, bench/mpi_allreduce)" % (
             fmt(allreduce.get(1)), 4 * (s["m"] * s["d"] + s["d"] ** 2 + 1),
             fmt(allreduce.get(s["m"] * s["d"] + s["d"] ** 2 + 1)),
             fmt(allreduce.get(2 * (s["m"] * s["d"] + s["d"] ** 2) + 1)))),
    ]
    check_line = ("model check, K = 2 on this machine: %.2f GFLOP per epoch at %.1f GFLOP/s "
                  "(calibrated on K = 1) predicts %.1f ms/epoch (of which all-reduce %.1f ms), "
                  "measured %.1f ms (%+.1f %%); predicted speed-up %.2fx, measured %.2fx" % (
                      check["epoch_gflop"], check["rate"] / 1e9, 1e3 * check["predicted"],
                      1e3 * check["comm"], 1e3 * check["measured"], 100 * check["error"],
                      check["speedup_predicted"], check["speedup_measured"]))
    if not calibrated:
        check_line = ("model check: not possible, K = 1 or K = 2 not measured; the model "
                      "below uses %.0f GFLOP/s" % mpi_model.DEFAULT_GFLOPS)
    model_title = ("model, K = 8 and 64 ranks at %.1f GFLOP/s each, B = %d (efficiency = "
                   "T_1 / (K T_K); networks: %s):" % (rate / 1e9, s["batch"],
                                                      mpi_model.describe_networks()))

    for key, value in machine:
        print("%-20s %s" % (key, value))
    print()
    print(mpi_model.text_table(MAIN_HEADER, main_cells(rows, s)))
    print("\n" + check_line)
    print("\nper configuration (wall clock):")
    print(mpi_model.text_table(DETAIL_HEADER, details))
    print("\n" + model_title)
    print(mpi_model.text_table(model_header, model_body))
    if args.markdown:
        parts = ["| | |", "| --- | --- |"] + ["| %s | %s |" % kv for kv in machine]
        parts += ["", markdown_table(MAIN_HEADER, main_cells(rows, s)), "", check_line, "",
                  markdown_table(DETAIL_HEADER, details), "", model_title, "",
                  markdown_table(model_header, model_body), ""]
        with open(args.markdown, "w", encoding="utf-8") as handle:
            handle.write("\n".join(parts))
        print("\nMarkdown: %s" % args.markdown)
    return rows[0]


def fmt(value):
    return "?" if value is None else "%.1f / %.1f" % value


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--make-data":
        make_data(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return 0
    args = parse_arguments()
    try:
        s = settings()
        check_tools(args.build)
        env = run_environment()
        with tempfile.TemporaryDirectory(prefix="mdnmf-bench-mpi.") as folder:
            configs, quiet, busy, allreduce = measure(args, s, env, folder)
    except Failure as failure:
        print("bench-mpi: %s" % failure, file=sys.stderr)
        return 1
    target = report(args, s, env, configs, quiet, busy, allreduce)
    if target["verdict"] in ("yes", "within noise"):
        return 0
    return exit_for_misses("bench-mpi", "%s: %.3gx, target %s (noise %.1f %%): missed" % (
        target["case"], target["ratio"], target["target"], 100 * target["noise"]),
        args.no_strict)


if __name__ == "__main__":
    sys.exit(main())
