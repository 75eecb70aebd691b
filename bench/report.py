#!/usr/bin/python3
"""Build the benchmark table from bench_fit's and numpy_reference.py's records.

    report.py --library LIB.tsv --numpy NUMPY.tsv [--markdown OUT.md] [--command TEXT]
              [--strict]

One row per (case, comparison): columns case, measured, reference, ratio, target, pass.
Every ratio is "higher is better" (a speed-up over NumPy, a fraction of the sgemm rate), so a
target is always a minimum ratio.  Targets live in TARGETS below; rows without one are
information.  Prints a plain-text table (and the details) to stdout and, with --markdown,
writes the same as Markdown with a description of the machine.

Exit status: 0; 2 if a fit or a reference failed its check before timing (the numbers would
mean nothing); 3 with --strict when a ratio misses its target.
"""

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys

# (case, comparison, d or None for every d, minimum ratio, origin of the target)
TARGETS = [
    ("fit_std", "numpy", None, 2.0, "issue Core library, item 6"),
    ("fit_std", "sgemm", 128, 0.60, "issue Core library, item 6"),
]

# Below this share of wall time spent on the CPU, the run was disturbed.
BUSY_SHARE = 0.97

# The comparisons every measured case gets, in table order:
# key, label of the row, unit of measured/reference, what the reference is.
COMPARISONS = [
    ("numpy", "speed-up over NumPy float64 (mdnmf_ref)", "ms/epoch"),
    ("sgemm", "GFLOP/s vs cblas_sgemm, same shapes", "GFLOP/s"),
    ("numpy32", "speed-up over NumPy float32 (research style)", "ms/epoch"),
]


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--library", required=True)
    parser.add_argument("--numpy", required=True)
    parser.add_argument("--markdown")
    parser.add_argument("--command", default="")
    parser.add_argument("--strict", action="store_true")
    return parser.parse_args()


def read_records(path):
    """info records as a dict, result records as a list of dicts (numbers converted)."""
    info, results = {}, []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if fields[0] == "info" and len(fields) >= 3:
                info[fields[1]] = fields[2]
            elif fields[0] == "result":
                record = {}
                for field in fields[1:]:
                    key, _, value = field.partition("=")
                    record[key] = convert(value)
                results.append(record)
    return info, results


def convert(text):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def target_for(case, comparison, d):
    for t_case, t_comparison, t_d, minimum, origin in TARGETS:
        if t_case == case and t_comparison == comparison and t_d in (None, d):
            return minimum, origin
    return None, None


# ------------------------------------------------------------ rows

def case_label(result):
    label = "%s d=%d" % (result["case"], result["d"])
    if result["threads"] != 1:
        label += " T=%d" % result["threads"]
    return label


def find_numpy(numpy_results, result, implementation):
    for candidate in numpy_results:
        if (candidate["case"], candidate["d"], candidate.get("implementation")) == (
                result["case"], result["d"], implementation):
            return candidate
    return None


def comparison_values(key, result, numpy_results):
    """(measured, reference, ratio, verified) of one comparison, or None if not measured."""
    if key == "sgemm":
        return result["gflops"], result["sgemm_gflops"], result["sgemm_ratio"], True
    implementation = "mdnmf_ref" if key == "numpy" else "research_float32"
    reference = find_numpy(numpy_results, result, implementation)
    if reference is None:
        return None
    ours, theirs = result["seconds_per_epoch"], reference["seconds_per_epoch"]
    return 1e3 * ours, 1e3 * theirs, theirs / ours, bool(reference.get("verified"))


def build_rows(library_results, numpy_results):
    rows = []
    for result in library_results:
        for key, label, unit in COMPARISONS:
            values = comparison_values(key, result, numpy_results)
            if values is None:
                continue
            measured, reference, ratio, verified = values
            minimum, _ = target_for(result["case"], key, result["d"])
            if not verified:
                verdict = "UNVERIFIED"
            elif minimum is None:
                verdict = "info"
            else:
                verdict = "yes" if ratio >= minimum else "NO"
            rows.append(dict(
                case="%s: %s" % (case_label(result), label),
                measured="%.2f %s" % (measured, unit) if unit == "ms/epoch"
                else "%.1f %s" % (measured, unit),
                reference="%.2f %s" % (reference, unit) if unit == "ms/epoch"
                else "%.1f %s" % (reference, unit),
                ratio=("%.2fx" % ratio) if unit == "ms/epoch" else ("%.2f" % ratio),
                target="-" if minimum is None else
                (">= %gx" % minimum if unit == "ms/epoch" else ">= %.2f" % minimum),
                verdict=verdict))
    return rows


def detail_rows(library_results, numpy_results):
    rows = []
    for r in library_results:
        ref64 = find_numpy(numpy_results, r, "mdnmf_ref")
        ref32 = find_numpy(numpy_results, r, "research_float32")
        rows.append([
            case_label(r),
            "%.2f" % (1e3 * r["seconds_per_epoch"]),
            "%.3f" % (1e-9 * r["flop_per_epoch"]),
            "%.1f%%" % (100.0 * r["gram_flop_per_epoch"] / r["flop_per_epoch"]),
            "%.1f" % r["gflops"],
            "%.2f" % (1e3 * r["sgemm_seconds_per_epoch"]),
            "%.1f" % r["sgemm_gflops"],
            "-" if ref64 is None else "%.2f" % (1e3 * ref64["seconds_per_epoch"]),
            "-" if ref64 is None else "%.1f" % (1e-9 * r["flop_per_epoch"]
                                                / ref64["seconds_per_epoch"]),
            "-" if ref32 is None else "%.2f" % (1e3 * ref32["seconds_per_epoch"]),
            "%.1f" % (1e3 * r["setup_seconds"]),
            "%.4g -> %.4g" % (r["loss_start"], r["loss_end"]),
            "-" if ref64 is None else "%.4g -> %.4g" % (ref64["loss_start"], ref64["loss_end"]),
        ])
    return rows


def detail_header(library_results, numpy_results):
    """Column names; the loss columns name the epochs of the checked fits."""
    ours = library_results[0]["epochs"] if library_results else "?"
    theirs = numpy_results[0].get("verify_epochs", "?") if numpy_results else "?"
    return ["case", "ms/epoch", "GFLOP/epoch", "of which Gram", "GFLOP/s", "sgemm ms/epoch",
            "sgemm GFLOP/s", "NumPy64 ms/epoch", "NumPy64 GFLOP/s", "NumPy32 ms/epoch",
            "init ms", "loss 0->%s ep (ours)" % ours, "loss 0->%s ep (NumPy64)" % theirs]


# ------------------------------------------------------------ the machine

def command_output(arguments):
    try:
        return subprocess.run(arguments, capture_output=True, text=True, timeout=20,
                              check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_lines(library_info, numpy_info):
    lscpu = command_output(["lscpu"])

    def field(name):
        found = re.search(r"^%s:\s*(.+)$" % re.escape(name), lscpu, re.MULTILINE)
        return found.group(1).strip() if found else "?"

    l2 = field("L2 cache")
    l3 = field("L3 cache")
    cpu = "%s (family %s, model %s), %s CPU(s), %s core(s) per socket, %s thread(s) per core, " \
          "L2 %s, L3 %s, hypervisor %s" % (
              field("Model name"), field("CPU family"), field("Model"), field("CPU(s)"),
              field("Core(s) per socket"), field("Thread(s) per core"), l2, l3,
              field("Hypervisor vendor"))
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",) * 3
    return [
        ("date", datetime.datetime.now().strftime("%Y-%m-%d %H:%M")),
        ("CPU", cpu),
        ("kernel", "%s %s" % (platform.system(), platform.release())),
        ("load before the run", "%.2f %.2f %.2f" % tuple(load)),
        ("mdnmf", "%s, %s build, %s" % (library_info.get("library", "?"),
                                        library_info.get("build", "?"),
                                        library_info.get("compiler", "?"))),
        ("OpenBLAS (mdnmf)", "%s; kernel %s; %s thread(s)" % (
            library_info.get("openblas_config", "?"), library_info.get("openblas_core", "?"),
            library_info.get("openblas_threads", "?"))),
        ("NumPy", numpy_info.get("numpy", "?")),
        ("OpenBLAS (NumPy)", numpy_info.get("numpy_blas", "?")),
        ("environment", numpy_info.get("numpy_env", "?") + ", OMP_NUM_THREADS="
         + os.environ.get("OMP_NUM_THREADS", "(unset)")),
        ("library threads", library_info.get("threads", "?")),
        ("data", library_info.get("data", "?")),
        ("shape", library_info.get("shape", "?")),
        ("method", library_info.get("method", "?")),
        ("NumPy clock", numpy_info.get("numpy_clock", "?")),
        ("CPU share while timed", "mdnmf %s, NumPy %s (CPU time / wall time; 1.0 = the timed "
         "code had its core to itself)" % (library_info.get("cpu_share", "?"),
                                           numpy_info.get("numpy_cpu_share", "?"))),
    ]


# ------------------------------------------------------------ rendering

def text_table(header, rows):
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def markdown_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


MAIN_HEADER = ["case", "measured", "reference", "ratio", "target", "pass"]


def main_cells(rows):
    return [[r["case"], r["measured"], r["reference"], r["ratio"], r["target"], r["verdict"]]
            for r in rows]


def write_markdown(path, machine, rows, header, details, command):
    parts = ["## Results", ""]
    if command:
        parts += ["Command: `%s`" % command, ""]
    parts += ["| | |", "| --- | --- |"]
    parts += ["| %s | %s |" % (key, value.replace("|", "/")) for key, value in machine]
    parts += ["", markdown_table(MAIN_HEADER, main_cells(rows)), "",
              "Details (ms are per epoch; GFLOP counted gemm-equivalent, see above):", "",
              markdown_table(header, details), ""]
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write("\n".join(parts))
    os.replace(temporary, path)


def main():
    args = parse_arguments()
    library_info, library_results = read_records(args.library)
    numpy_info, numpy_results = read_records(args.numpy)
    if not library_results:
        print("report: no results from bench_fit", file=sys.stderr)
        return 2
    rows = build_rows(library_results, numpy_results)
    details = detail_rows(library_results, numpy_results)
    header = detail_header(library_results, numpy_results)
    machine = machine_lines(library_info, numpy_info)

    for key, value in machine:
        print("%-20s %s" % (key, value))
    print()
    print(text_table(MAIN_HEADER, main_cells(rows)))
    print()
    print(text_table(header, details))
    if args.markdown:
        write_markdown(args.markdown, machine, rows, header, details, args.command)
        print("\nMarkdown: %s" % args.markdown)

    shares = [convert(library_info.get("cpu_share", "1")),
              convert(numpy_info.get("numpy_cpu_share", "1"))]
    if any(isinstance(x, float) and x < BUSY_SHARE for x in shares):
        if "CPU" in library_info.get("method", "") and "CPU" in numpy_info.get("numpy_clock", ""):
            print("report: note: other processes ran during the run (CPU share %s); the CPU "
                  "clock leaves out their time slices, not their cache and memory traffic"
                  % shares, file=sys.stderr)
        else:
            print("report: warning: other processes took CPU time during the run (CPU share "
                  "%s); wall-clock numbers are pessimistic, run again on a quiet machine or "
                  "with BENCH_CLOCK=cpu" % shares, file=sys.stderr)
    if any(r["verdict"] == "UNVERIFIED" for r in rows):
        print("report: a reference failed its check before timing", file=sys.stderr)
        return 2
    missed = [r["case"] for r in rows if r["verdict"] == "NO"]
    if missed:
        print("report: below target: %s" % "; ".join(missed), file=sys.stderr)
        if args.strict:
            return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
