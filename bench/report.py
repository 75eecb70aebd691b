#!/usr/bin/python3
"""Build the one table of `make bench` (issue 5's targets) from the benchmarks' records.

    report.py [--library LIB.tsv] [--numpy NUMPY.tsv] [--threads THREADS.tsv]
              [--extra FILE]... [--d 32,64,128,256] [--threads-d 64,128,256]
              [--load-before "1.0 0.8 0.5"] [--markdown OUT.md] [--command TEXT] [--no-strict]

Inputs (tab-separated records; a missing or empty file is a benchmark that did not measure):
  --library   bench_fit, one thread, process CPU clock: target 1 (fit vs sgemm, fit vs NumPy)
  --numpy     bench/numpy_reference.py on bench_fit's data and draws: target 1's reference
  --threads   bench_fit --threads 1,2, wall clock: target 2 (2 threads vs 1)
  --extra     any other benchmark: `target` and `info` records (format in docs/benchmarks.md)
Every file may also hold `unmeasured<TAB>why=...[<TAB>case=...<TAB>origin=...]` records,
written by bench/run.sh when a program is missing, failed or ran out of time.

One row per target and case; every ratio is "higher is better", so a target is a minimum
ratio.  Verdicts: `yes` (ratio >= minimum), `within noise` (ratio >= minimum x (1 - noise),
noise being the measured run-to-run difference of the ratio), `NO`, `UNVERIFIED` (a check
behind the figure failed), `not measured`, and `info` for rows without a target.
Prints the table, notes and details to stdout; --markdown writes the same as Markdown with a
description of the machine.

Exit status: 0 when every target is met (`yes` or `within noise`); 3 when a row is `NO`,
`UNVERIFIED` or `not measured` (with --no-strict: 0 and a warning); 2 on a usage error.
"""

import argparse
import datetime
import math
import os
import platform
import re
import subprocess
import sys

ORIGIN_1 = "issue 5 target 1"
ORIGIN_2 = "issue 5 target 2"
# Issue 5, target 1: a fit's GFLOP/s at least this fraction of sgemm's from this d on
# (information below it), and at least this speed-up over the float64 NumPy reference.
SGEMM_FRACTION, SGEMM_FROM_D = 0.85, 64
NUMPY_SPEEDUP = 3.0
# "At equal final loss (±1 %)": the replayed NumPy fit must end within this of ours.
LOSS_TOLERANCE = 0.01
# Target 2: 2 threads at least this much faster than 1.
THREAD_SPEEDUP = 1.7
# common.md: noise is at least 1 %.
NOISE_FLOOR = 0.01
# Below this share of wall time spent on the CPU, a one-thread run was disturbed.
BUSY_SHARE = 0.97
# More than this many cores taken by other processes spoils a 2-thread figure.
OTHER_CORES_NOTE = 0.1

MISSES = ("NO", "UNVERIFIED", "not measured")
FLOP_MODEL_WHY = ("the library asked BLAS for %.6g flop per epoch, bench_fit's flop model says "
                  "%.6g: update epoch_products() in bench/bench_fit.c to src/nmf.c")
SGEMM_LABEL = ": GFLOP/s / sgemm GFLOP/s (same products)"
NUMPY_LABEL = ": speed-up over NumPy float64 (mdnmf_ref)"


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--library")
    parser.add_argument("--numpy")
    parser.add_argument("--threads")
    parser.add_argument("--extra", action="append", default=[])
    parser.add_argument("--d", default="32,64,128,256", help="target 1's atom counts")
    parser.add_argument("--threads-d", default="64,128,256", help="target 2's atom counts")
    parser.add_argument("--load-before", help="load averages when the benchmark started")
    parser.add_argument("--markdown")
    parser.add_argument("--command", default="")
    parser.add_argument("--no-strict", action="store_true",
                        help="exit 0 even when a target is missed (exploration)")
    return parser.parse_args()


# ------------------------------------------------------------ reading

class Records:
    """The records of one file: info (dict), result / target / unmeasured (lists of dicts)."""

    def __init__(self, path):
        self.path = path
        self.info, self.results, self.targets, self.unmeasured = {}, [], [], []
        self.readable = bool(path) and os.path.isfile(path)
        if not self.readable:
            return
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                self.add(line.rstrip("\n").split("\t"))

    def add(self, fields):
        kind = fields[0]
        if kind == "info" and len(fields) >= 3:
            self.info[fields[1]] = fields[2]
        elif kind in ("result", "target", "unmeasured"):
            record = {}
            for field in fields[1:]:
                key, _, value = field.partition("=")
                record[key.strip()] = convert(value.strip())
            {"result": self.results, "target": self.targets,
             "unmeasured": self.unmeasured}[kind].append(record)

    def why_missing(self, program):
        """Why this file has no figure: what run.sh recorded, else what is observed."""
        reasons = [str(u["why"]) for u in self.unmeasured if "why" in u and "case" not in u]
        if reasons:
            return "; ".join(reasons)
        if not self.path:
            return "%s was not run" % program
        if not self.readable:
            return "%s wrote no output" % program
        return "%s did not report this case" % program


def convert(text):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def number(value):
    """A finite or infinite float, or None for anything else (nan, text, missing)."""
    if isinstance(value, (int, float)) and not math.isnan(value):
        return float(value)
    return None


def combined_noise(*noises):
    """Noise of a ratio from the relative noise of its parts (independent, added in
    quadrature); None when a part was not measured (one round)."""
    values = [number(x) for x in noises]
    if any(v is None for v in values):
        return None
    return math.sqrt(sum(v * v for v in values))


# ------------------------------------------------------------ rows

def verdict(ratio, minimum, noise, verified=True):
    if not verified:
        return "UNVERIFIED"
    if minimum is None:
        return "info"
    if ratio >= minimum:
        return "yes"
    if ratio >= minimum * (1.0 - max(noise if noise is not None else 0.0, NOISE_FLOOR)):
        return "within noise"
    return "NO"


def measured_row(origin, case, measured, reference, ratio, minimum, noise, unit, ratio_unit="",
                 verified=True, note=None):
    """A row with figures; measured/reference in `unit`, ratio printed with ratio_unit."""
    return dict(origin=origin, case=case, measured=format_value(measured, unit),
                reference=format_value(reference, unit), ratio=format_ratio(ratio, ratio_unit),
                target="-" if minimum is None else ">= %g%s" % (minimum, ratio_unit),
                noise="?" if noise is None else "%.1f%%" % (100.0 * max(noise, NOISE_FLOOR)),
                verdict=verdict(ratio, minimum, noise, verified), note=note)


def format_ratio(ratio, unit):
    """Three significant digits: 0.849 must not print as the 0.85 it misses."""
    return ("%.3g%s" if abs(ratio) < 100 else "%.0f%s") % (ratio, unit)


def unmeasured_row(origin, case, why, minimum=None, ratio_unit=""):
    return dict(origin=origin, case=case, measured="-", reference="-", ratio="-",
                target="-" if minimum is None else ">= %g%s" % (minimum, ratio_unit),
                noise="-", verdict="not measured", note=why)


def format_value(value, unit):
    if value is None:
        return "-"
    if abs(value) >= 1000 or (0 < abs(value) < 0.01):
        text = "%.4g" % value
    else:
        text = "%.2f" % value if abs(value) < 100 else "%.1f" % value
    return "%s %s" % (text, unit) if unit else text


def find(results, **key):
    for r in results:
        if all(r.get(k) == v for k, v in key.items()):
            return r
    return None


def target1_rows(library, numpy, dims, notes):
    """Per fit and d: the fraction of the sgemm rate, the speed-up over NumPy float64 at equal
    final loss, and that speed-up's bound (bare sgemm over NumPy)."""
    rows = []
    for name in ("fit_std", "fit_adv"):
        for d in dims:
            case = "%s d=%d" % (name, d)
            ours = find(library.results, case=name, d=d, threads=1)
            fraction = SGEMM_FRACTION if d >= SGEMM_FROM_D else None
            if ours is None:
                why = library.why_missing("bench_fit")
                rows.append(unmeasured_row(ORIGIN_1, case + SGEMM_LABEL, why, fraction))
                rows.append(unmeasured_row(ORIGIN_1, case + NUMPY_LABEL, why, NUMPY_SPEEDUP,
                                           "x"))
                continue
            counted = ours.get("flops_checked", 1) == 1
            rows.append(measured_row(
                ORIGIN_1, case + SGEMM_LABEL, ours["gflops"],
                ours["sgemm_gflops"], ours["sgemm_ratio"], fraction,
                combined_noise(ours.get("fit_noise"), ours.get("sgemm_noise")), "GFLOP/s",
                verified=counted, note=None if counted else FLOP_MODEL_WHY % (
                    number(ours.get("counted_flop_per_epoch")) or float("nan"),
                    ours["flop_per_epoch"])))
            rows += numpy_rows(ours, numpy, case, notes)
    return rows


def numpy_rows(ours, numpy, case, notes):
    """The speed-up over NumPy float64 (checked at equal final loss) and its bound."""
    label = case + NUMPY_LABEL
    theirs = find(numpy.results, case=ours["case"], d=ours["d"], implementation="mdnmf_ref")
    if theirs is None:
        return [unmeasured_row(ORIGIN_1, label, numpy.why_missing("numpy_reference.py"),
                               NUMPY_SPEEDUP, "x")]
    verified, why = equal_final_loss(ours, theirs)
    speedup = theirs["seconds_per_epoch"] / ours["seconds_per_epoch"]
    row = measured_row(ORIGIN_1, label, 1e3 * ours["seconds_per_epoch"],
                       1e3 * theirs["seconds_per_epoch"], speedup, NUMPY_SPEEDUP,
                       combined_noise(ours.get("fit_noise"), theirs.get("noise")), "ms/epoch",
                       "x", verified, None if verified else why)
    bound = theirs["seconds_per_epoch"] / ours["sgemm_seconds_per_epoch"]
    bound_row = measured_row(
        ORIGIN_1, case + ": bound: bare sgemm over NumPy float64, same flops",
        1e3 * ours["sgemm_seconds_per_epoch"], 1e3 * theirs["seconds_per_epoch"], bound, None,
        combined_noise(ours.get("sgemm_noise"), theirs.get("noise")), "ms/epoch", "x")
    if bound < NUMPY_SPEEDUP:
        bound_row["verdict"] = "info: bound < target"
        notes.append("%s: the %gx target exceeds its bound: bare cblas_sgemm on the same "
                     "products is only %.2fx faster than NumPy float64, so even a fit made of "
                     "nothing but sgemm calls would miss it." % (case, NUMPY_SPEEDUP, bound))
    return [row, bound_row]


def equal_final_loss(ours, theirs):
    """(verified, why not): NumPy replayed our draws, passed its check, and its loss after the
    checked epochs is within LOSS_TOLERANCE of ours."""
    if not theirs.get("verified"):
        return False, "the NumPy reference failed its check (loss not finite or not falling)"
    if theirs.get("draws") != "replayed":
        return False, "NumPy did not replay the library's draws (bench_fit --trace missing)"
    if theirs.get("verify_epochs") != ours.get("epochs"):
        return False, "checked fits of different length (%s vs %s epochs)" % (
            ours.get("epochs"), theirs.get("verify_epochs"))
    a, b = number(ours.get("loss_end")), number(theirs.get("loss_end"))
    if a is None or b is None or b <= 0:
        return False, "no final loss to compare"
    difference = abs(a - b) / b
    if difference > LOSS_TOLERANCE:
        return False, "final losses differ by %.2f%% (%.6g vs NumPy %.6g)" % (
            100 * difference, a, b)
    return True, None


def target2_rows(threads, dims, notes):
    """Per fit and d: wall time per epoch with 1 thread over with 2, and for comparison the
    same for bare sgemm on OpenBLAS's own threads."""
    rows = []
    counts = sorted({r["threads"] for r in threads.results}) or [1, 2]
    many = max(counts) if max(counts) > 1 else 2
    for name in ("fit_std", "fit_adv"):
        for d in dims:
            case = "%s d=%d" % (name, d)
            label = "%s: %d threads vs 1 (wall clock)" % (case, many)
            one = find(threads.results, case=name, d=d, threads=1)
            two = find(threads.results, case=name, d=d, threads=many)
            if one is None or two is None:
                rows.append(unmeasured_row(ORIGIN_2, label, threads.why_missing(
                    "bench_fit --threads 1,%d" % many), THREAD_SPEEDUP, "x"))
                continue
            rows.append(measured_row(
                ORIGIN_2, label, 1e3 * two["seconds_per_epoch"], 1e3 * one["seconds_per_epoch"],
                one["seconds_per_epoch"] / two["seconds_per_epoch"], THREAD_SPEEDUP,
                combined_noise(one.get("fit_noise"), two.get("fit_noise")), "ms/epoch", "x"))
            # Not a bound: the library splits rows, Gram blocks and columns between its
            # threads and calls BLAS single-threaded from each, which scales better on
            # thin products than OpenBLAS's own threads inside one call.
            rows.append(measured_row(
                ORIGIN_2, "%s: for comparison: bare sgemm on OpenBLAS's threads, %d vs 1"
                % (case, many),
                1e3 * two["sgemm_seconds_per_epoch"], 1e3 * one["sgemm_seconds_per_epoch"],
                one["sgemm_seconds_per_epoch"] / two["sgemm_seconds_per_epoch"], None,
                combined_noise(one.get("sgemm_noise"), two.get("sgemm_noise")),
                "ms/epoch", "x"))
    return rows


def extra_rows(extra, notes):
    """The target records of another benchmark, and a `not measured` row for each
    `unmeasured` record (or for a file without any record)."""
    rows = []
    for record in extra.targets:
        rows.append(target_record_row(record, extra.path))
    for record in extra.unmeasured:
        origin = str(record.get("origin", "?"))
        rows.append(unmeasured_row(short_origin(origin), str(record.get("case", origin)),
                                   str(record.get("why", "no reason given"))))
    if not rows:
        rows.append(unmeasured_row("?", os.path.basename(extra.path or "?"),
                                   "no target records in %s" % extra.path))
    for key in ("note", "notes"):
        if key in extra.info:
            notes.append(extra.info[key])
    return rows


REQUIRED = ("id", "case", "measured", "unit", "reference", "ratio", "minimum", "noise")


def target_record_row(record, path):
    origin = short_origin(str(record.get("origin", "?")))
    case = str(record.get("case", record.get("id", "?")))
    threads = record.get("threads")
    if threads not in (None, ""):
        case += " (T=%s)" % threads
    missing = [k for k in REQUIRED if k not in record]
    ratio = number(record.get("ratio"))
    minimum_text = str(record.get("minimum", "-"))
    minimum = None if minimum_text in ("-", "") else number(record.get("minimum"))
    if missing or ratio is None or (minimum_text not in ("-", "") and minimum is None):
        why = "malformed target record in %s (%s)" % (
            os.path.basename(path), "missing " + ", ".join(missing) if missing
            else "ratio or minimum is not a number")
        return unmeasured_row(origin, case, why, minimum)
    unit = str(record.get("unit", ""))
    label = record.get("reference_label")
    row = measured_row(origin, case, number(record.get("measured")),
                       number(record.get("reference")), ratio, minimum,
                       number(record.get("noise")), unit)
    if label:
        row["reference"] += " (%s)" % label
    return row


def short_origin(origin):
    found = re.search(r"target\s+(\w+)", origin)
    return found.group(1) if found else origin


# ------------------------------------------------------------ the machine and the run

def command_output(arguments):
    try:
        return subprocess.run(arguments, capture_output=True, text=True, timeout=20,
                              check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def cpu_description():
    lscpu = command_output(["lscpu"])

    def field(name):
        found = re.search(r"^%s:\s*(.+)$" % re.escape(name), lscpu, re.MULTILINE)
        return found.group(1).strip() if found else "?"

    return "%s (family %s, model %s), %s CPU(s), %s core(s) per socket, %s thread(s) per " \
           "core, L2 %s, L3 %s, hypervisor %s" % (
               field("Model name"), field("CPU family"), field("Model"), field("CPU(s)"),
               field("Core(s) per socket"), field("Thread(s) per core"), field("L2 cache"),
               field("L3 cache"), field("Hypervisor vendor"))


def machine_lines(args, library, numpy, threads, extras):
    info = library.info or threads.info
    lines = [
        ("date", datetime.datetime.now().strftime("%Y-%m-%d %H:%M")),
        ("CPU", cpu_description()),
        ("kernel", "%s %s" % (platform.system(), platform.release())),
        ("load before the run", args.load_before or library.info.get("load_before", "?")),
        ("mdnmf", "%s, %s build, %s" % (info.get("library", "?"), info.get("build", "?"),
                                        info.get("compiler", "?"))),
        ("OpenBLAS (mdnmf)", "%s; kernel %s" % (info.get("openblas_config", "?"),
                                                info.get("openblas_core", "?"))),
        ("NumPy", numpy.info.get("numpy", "?")),
        ("OpenBLAS (NumPy)", numpy.info.get("numpy_blas", "?")),
        ("environment", "%s, OMP_NUM_THREADS=%s" % (numpy.info.get("numpy_env", "?"),
                                                     os.environ.get("OMP_NUM_THREADS",
                                                                    "(unset)"))),
        ("data", info.get("data", "?")),
        ("shape", info.get("shape", "?")),
        ("target 1 run", "bench_fit, threads %s: %s" % (library.info.get("threads", "?"),
                                                         library.info.get("method", "?"))),
        ("target 1 NumPy", "%s clock, %s" % (numpy.info.get("numpy_clock", "?"),
                                             numpy.info.get("numpy_method", "same method"))),
        ("target 1 CPU share", "mdnmf %s, NumPy %s (CPU time / wall time; 1.0 = the timed "
         "code had its core to itself)" % (library.info.get("cpu_share", "?"),
                                           numpy.info.get("numpy_cpu_share", "?"))),
        ("target 2 run", "bench_fit, threads %s: %s" % (threads.info.get("threads", "?"),
                                                         threads.info.get("method", "?"))),
        ("target 2 competition", "load %s when it started; other processes used %s core(s), "
         "the hypervisor stole %s, of %s while it ran" % (
             threads.info.get("load_before", "?"), threads.info.get("other_cores", "?"),
             threads.info.get("steal_cores", "?"), threads.info.get("cores", "?"))),
    ]
    for extra in extras:
        lines += [(key, value) for key, value in extra.info.items()
                  if key not in ("note", "notes")]
    return lines


def run_notes(library, numpy, threads):
    """What disturbed the run, in plain words."""
    notes = []
    shares = {"mdnmf": number(library.info.get("cpu_share")),
              "NumPy": number(convert(numpy.info.get("numpy_cpu_share", "")))}
    low = ["%s %.2f" % (k, v) for k, v in shares.items() if v is not None and v < BUSY_SHARE]
    if low:
        notes.append("Target 1: other processes took CPU time while it ran (CPU share %s); "
                     "the process CPU clock leaves out their time slices, not their cache and "
                     "memory traffic." % ", ".join(low))
    others = number(convert(threads.info.get("other_cores", "")))
    stolen = number(convert(threads.info.get("steal_cores", "")))
    taken = (others or 0.0) + (stolen or 0.0)
    if taken > OTHER_CORES_NOTE:
        notes.append("Target 2: other processes (or the hypervisor) used %.2f of the %s cores "
                     "during the 1- vs 2-thread rounds (load average %s when they started): "
                     "the 2-thread figures are pessimistic; rerun on a quiet machine." % (
                         taken, threads.info.get("cores", "?"),
                         threads.info.get("load_before", "?")))
    stale = ["%s d=%d T=%d" % (r["case"], r["d"], r["threads"]) for r in threads.results
             if r.get("flops_checked", 1) != 1]
    if stale:
        notes.append("Target 2: bench_fit's flop model disagrees with the library's BLAS "
                     "calls for %s: the times (and the speed-ups) stand, the GFLOP/s and the "
                     "sgemm bound of those rows do not; update epoch_products()."
                     % ", ".join(stale))
    shares2 = [(r["case"], r["d"], number(r.get("cpu_share"))) for r in threads.results
               if r.get("threads", 1) > 1]
    idle = ["%s d=%d %.2f" % s for s in shares2 if s[2] is not None and s[2] < 0.75]
    if idle:
        notes.append("Target 2: with 2 threads the timed code kept both cores busy only part "
                     "of the time (CPU time / (wall x threads): %s): serial sections, or "
                     "another process." % ", ".join(idle))
    return notes


# ------------------------------------------------------------ details

def detail_rows(library, numpy):
    rows = []
    for r in library.results:
        ref64 = find(numpy.results, case=r["case"], d=r["d"], implementation="mdnmf_ref")
        ref32 = find(numpy.results, case=r["case"], d=r["d"],
                     implementation="research_float32")

        def numpy_value(ref, text):
            return "-" if ref is None else text(ref)

        rows.append([
            "%s d=%d" % (r["case"], r["d"]),
            "%.2f" % (1e3 * r["seconds_per_epoch"]),
            percent(r.get("fit_noise")),
            "%.3f" % (1e-9 * r["flop_per_epoch"]),
            "%.1f%%" % (100.0 * r["gram_flop_per_epoch"] / r["flop_per_epoch"]),
            "%.1f" % r["gflops"],
            "%.2f" % (1e3 * r["sgemm_seconds_per_epoch"]),
            "%.1f" % r["sgemm_gflops"],
            numpy_value(ref64, lambda x: "%.2f" % (1e3 * x["seconds_per_epoch"])),
            numpy_value(ref64, lambda x: percent(x.get("noise"))),
            numpy_value(ref64, lambda x: "%.1f" % (1e-9 * r["flop_per_epoch"]
                                                   / x["seconds_per_epoch"])),
            numpy_value(ref32, lambda x: "%.2f" % (1e3 * x["seconds_per_epoch"])),
            "%.8g -> %.8g" % (r["loss_start"], r["loss_end"]),
            numpy_value(ref64, lambda x: "%.8g -> %.8g (%s)" % (
                x["loss_start"], x["loss_end"], x.get("draws", "?"))),
        ])
    return rows


def detail_header(library, numpy):
    ours = library.results[0]["epochs"] if library.results else "?"
    theirs = numpy.results[0].get("verify_epochs", "?") if numpy.results else "?"
    return ["case", "ms/epoch", "noise", "GFLOP/epoch", "of which Gram", "GFLOP/s",
            "sgemm ms/epoch", "sgemm GFLOP/s", "NumPy64 ms/epoch", "NumPy64 noise",
            "NumPy64 GFLOP/s", "NumPy32 ms/epoch", "loss 0->%s ep (ours)" % ours,
            "loss 0->%s ep (NumPy64, draws)" % theirs]


def thread_detail_rows(threads):
    return [["%s d=%d" % (r["case"], r["d"]), str(r["threads"]),
             "%.2f" % (1e3 * r["seconds_per_epoch"]), percent(r.get("fit_noise")),
             "%.1f" % r["gflops"], "%.2f" % (1e3 * r["sgemm_seconds_per_epoch"]),
             percent(r.get("sgemm_noise")), "%.1f" % r["sgemm_gflops"],
             "%.2f" % r["cpu_share"] if number(r.get("cpu_share")) is not None else "?"]
            for r in threads.results]


THREAD_DETAIL_HEADER = ["case", "threads", "ms/epoch (wall)", "noise", "GFLOP/s",
                        "sgemm ms/epoch", "sgemm noise", "sgemm GFLOP/s",
                        "CPU time / (wall x threads)"]


def percent(value):
    value = number(value)
    return "?" if value is None else "%.1f%%" % (100.0 * value)


# ------------------------------------------------------------ rendering

MAIN_HEADER = ["#", "case", "measured", "reference", "ratio", "target", "noise", "pass"]


def main_cells(rows):
    cells = []
    for r in rows:
        measured = r["measured"]
        if r["verdict"] == "not measured":
            measured = "not measured (%s)" % shorten(r["note"], 70)
        pass_text = r["verdict"]
        if r["verdict"] == "UNVERIFIED" and r["note"]:
            pass_text = "UNVERIFIED (%s)" % shorten(r["note"], 60)
        cells.append([r["origin"].replace(ORIGIN_1, "1").replace(ORIGIN_2, "2"), r["case"],
                      measured, r["reference"], r["ratio"], r["target"], r["noise"],
                      pass_text])
    return cells


def shorten(text, width):
    text = str(text)
    return text if len(text) <= width else text[:width - 3] + "..."


def text_table(header, rows):
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]

    def line(cells):
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def markdown_table(header, rows):
    def cell(value):
        return str(value).replace("|", "/")

    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def all_notes(rows, notes):
    """Full reasons of rows not measured / unverified, then the bound and run notes."""
    out = []
    for r in rows:
        if r["verdict"] in ("not measured", "UNVERIFIED") and r["note"]:
            out.append("%s: %s: %s" % (r["case"], r["verdict"], r["note"]))
    return out + notes


def write_markdown(path, machine, rows, notes, details, command):
    parts = ["## Results", ""]
    if command:
        parts += ["Command: `%s`" % command, ""]
    parts += ["| | |", "| --- | --- |"]
    parts += ["| %s | %s |" % (key, str(value).replace("|", "/")) for key, value in machine]
    parts += ["", markdown_table(MAIN_HEADER, main_cells(rows)), ""]
    if notes:
        parts += ["Notes:", ""] + ["- %s" % n for n in notes] + [""]
    for title, header, body in details:
        if body:
            parts += [title, "", markdown_table(header, body), ""]
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write("\n".join(parts))
    os.replace(temporary, path)


def summary(rows):
    counts = {}
    for r in rows:
        key = r["verdict"] if r["verdict"] in MISSES + ("yes", "within noise") else "info"
        counts[key] = counts.get(key, 0) + 1
    order = ["yes", "within noise", "NO", "UNVERIFIED", "not measured", "info"]
    return ", ".join("%d %s" % (counts[k], k) for k in order if k in counts)


def exit_for_misses(program, message, no_strict):
    """A run with missed targets: `message` on stderr, then exit code 3, or 0
    with a warning under BENCH_STRICT=0 (`no_strict`)."""
    print("%s: %s" % (program, message), file=sys.stderr)
    if no_strict:
        print("%s: warning: BENCH_STRICT=0, exiting 0 anyway" % program, file=sys.stderr)
        return 0
    return 3


def main():
    args = parse_arguments()
    try:
        dims = [int(x) for x in args.d.split(",") if x]
        thread_dims = [int(x) for x in args.threads_d.split(",") if x]
    except ValueError:
        print("report: --d and --threads-d take comma-separated integers", file=sys.stderr)
        return 2
    library, numpy, threads = Records(args.library), Records(args.numpy), Records(args.threads)
    extras = [Records(path) for path in args.extra]

    notes = []
    rows = target1_rows(library, numpy, dims, notes)
    if thread_dims:
        rows += target2_rows(threads, thread_dims, notes)
    for extra in extras:
        rows += extra_rows(extra, notes)
    notes = all_notes(rows, notes) + run_notes(library, numpy, threads)
    machine = machine_lines(args, library, numpy, threads, extras)
    details = [("Target 1 details (one thread, ms per epoch; GFLOP counted gemm-equivalent; "
                "noise: relative difference of the best two rounds):",
                detail_header(library, numpy), detail_rows(library, numpy)),
               ("Target 2 details (wall clock):", THREAD_DETAIL_HEADER,
                thread_detail_rows(threads))]

    for key, value in machine:
        print("%-21s %s" % (key, value))
    print()
    print(text_table(MAIN_HEADER, main_cells(rows)))
    print()
    for n in notes:
        print("note: " + n)
    for title, header, body in details:
        if body:
            print("\n" + title)
            print(text_table(header, body))
    if args.markdown:
        write_markdown(args.markdown, machine, rows, notes, details, args.command)
        print("\nMarkdown: %s" % args.markdown)

    print("\nreport: %s" % summary(rows))
    missed = [r["case"] for r in rows if r["verdict"] in MISSES]
    if not missed:
        return 0
    return exit_for_misses("report", "%d target row(s) missed, unverified or not measured: %s"
                           % (len(missed), "; ".join(missed)), args.no_strict)


if __name__ == "__main__":
    sys.exit(main())
