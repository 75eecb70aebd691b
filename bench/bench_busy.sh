#!/usr/bin/env bash
# Threads on a busy machine (issue 12): `fit_std` at d = 128 (m = 784, N = 5000,
# batch 500, 20 epochs) with the library's default threads against one thread,
# both timed in the same interleaved rounds of bench_fit while another process
# spins on a core.  bench_fit starts that process itself (--busy: a session of
# its own, nice 19, as a user's background job from another terminal) and
# kills it after the rounds.  Target: the default at least as fast as one
# thread.  The quiet case (2 threads vs 1) is issue 5's target 2 in bench_fit's
# threads step.
#
#   BUILD_DIR=build bench/bench_busy.sh
#
# Environment: BUILD_DIR (default build), BENCH_BUSY_REPEATS (rounds, default 5),
# BENCH_BUSY_D (default 128), BENCH_DATA_DIR (MNIST digits; default: bench_fit's).
# Prints a target record and info records (bench/report.py) on stdout.
# Exit 0 when it measured, 1 with a one-line reason when it could not.
set -euo pipefail

build_dir=${BUILD_DIR:-build}
bench_fit=$build_dir/bench/bench_fit
python=/usr/bin/python3
d=${BENCH_BUSY_D:-128}

fail() {
    echo "bench_busy: $*" >&2
    exit 1
}
[ -x "$bench_fit" ] || fail "$bench_fit is missing: build the benchmarks first"
data_option=()
[ -n "${BENCH_DATA_DIR:-}" ] && data_option=(--data "$BENCH_DATA_DIR")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The default thread setting: OMP_NUM_THREADS unset, so every core.
env -u OMP_NUM_THREADS OPENBLAS_NUM_THREADS=1 "$bench_fit" --format tsv --d "$d" --no-adv \
    --n 5000 --batch 500 --epochs 20 --repeats "${BENCH_BUSY_REPEATS:-5}" --threads 1,0 \
    --busy --clock wall "${data_option[@]}" >"$work/busy.tsv" ||
    fail "bench_fit --busy failed"

"$python" - "$work/busy.tsv" "$(env -u OMP_NUM_THREADS nproc)" <<'PY'
import sys
results, info = {}, {}
for line in open(sys.argv[1]):
    fields = line.rstrip("\n").split("\t")
    if fields[0] == "info":
        info[fields[1]] = fields[2]
    elif fields[0] == "result":
        record = dict(f.split("=", 1) for f in fields[1:])
        results[int(record["threads"])] = record
one, default = results[1], results[0]
t1, t0 = float(one["seconds_per_epoch"]), float(default["seconds_per_epoch"])
noise = (float(one["fit_noise"]) ** 2 + float(default["fit_noise"]) ** 2) ** 0.5
case = ("fit_std d=%s, busy machine (one spinning process at nice 19, own session): "
        "default threads (%s cores) vs 1 (wall clock)" % (one["d"], sys.argv[2]))
print("\t".join([
    "target", "id=busy_threads", "case=" + case, "measured=%.3f" % (1e3 * t0),
    "unit=ms/epoch", "reference=%.3f" % (1e3 * t1), "reference_label=one thread",
    "ratio=%.3f" % (t1 / t0), "minimum=1", "noise=%.3f" % noise, "threads=0",
    "origin=issue 12 item 4"]))
print("info\tbusy_competitor\t%s" % info.get("competitor", "?"))
print("info\tbusy_cpu_share_default\t%s" % default.get("cpu_share", "?"))
PY
