#!/usr/bin/env bash
# The benchmark of `make bench`: mdnmf's fits against the NumPy reference and
# against cblas_sgemm on the same shapes, single thread each, in one process
# tree.  docs/benchmarks.md explains the method and holds the last table.
#
#   bench/run.sh [build]
#
#   build   first configure and build bench_fit in $BUILD_DIR (Release)
#
# Environment:
#   BUILD_DIR            build folder holding bench/bench_fit (default build)
#   MDNMF_DATA_DIR       data folder (default data/); MNIST digits are used when
#                        $MDNMF_DATA_DIR/mnist exists (scripts/fetch-data.sh
#                        mnist, or `make data`), synthetic digits otherwise
#   BENCH_D              atom counts (default 32,64,128)
#   BENCH_EPOCHS         epochs per timed fit: library (default 20)
#   BENCH_NUMPY_EPOCHS   the same for NumPy (default 10)
#   BENCH_REPEATS        repetitions, best kept: library (5) / NumPy (3)
#   BENCH_NUMPY_REPEATS
#   BENCH_CLOCK          cpu (default) or wall: what the timings measure.  The
#                        process CPU clock leaves out the time other processes
#                        held the core, which keeps the numbers usable on a
#                        shared machine; on a quiet one both agree
#   BENCH_STRICT=1       exit 3 when a ratio misses its target
#   BENCH_KEEP_OPENBLAS_ENV=1  keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
#
# Writes $BUILD_DIR/bench/benchmarks.md (the Markdown table) and prints the
# plain-text table.  Exit status: that of bench/report.py (0, 2 a check
# before timing failed, 3 a target missed under BENCH_STRICT=1), or 1.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-build}
case $build_dir in /*) ;; *) build_dir=$PWD/$build_dir ;; esac
python=/usr/bin/python3

fail() {
    echo "bench: $*" >&2
    exit 1
}

if [ "${1:-}" = build ]; then
    cmake -S "$repo" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build_dir" --target bench_fit --parallel "$(nproc 2>/dev/null || echo 2)"
elif [ $# -gt 0 ]; then
    fail "usage: bench/run.sh [build]"
fi

bench_fit=$build_dir/bench/bench_fit
[ -x "$bench_fit" ] || fail "$bench_fit is missing: run \`make\` or \`bench/run.sh build\` first"
[ -x "$python" ] || fail "$python (Debian's python3 with NumPy) is missing"

# One thread everywhere.  OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, when set, pin
# OpenBLAS to an older kernel (on this project's machines: Haswell, at half the
# AVX-512 speed); both sides use the kernel OpenBLAS picks for the CPU unless
# asked to keep them.  Either way the table records the kernels used.
if [ "${BENCH_KEEP_OPENBLAS_ENV:-0}" != 1 ]; then
    unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
fi
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1

dims=${BENCH_D:-32,64,128}
clock=${BENCH_CLOCK:-cpu}
data_root=${MDNMF_DATA_DIR:-$repo/data}
if [ -f "$data_root/mnist/digit9.npy" ]; then
    data_option=(--data "$data_root/mnist")
else
    echo "bench: no MNIST in $data_root/mnist (\`make data\` fetches it): synthetic digits" >&2
    data_option=(--synthetic)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mdnmf-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

started=$(date +%s)
"$bench_fit" --format tsv --d "$dims" --n 5000 --batch 500 --batch-adv 250 \
    --epochs "${BENCH_EPOCHS:-20}" --repeats "${BENCH_REPEATS:-5}" --threads 1 --clock "$clock" \
    "${data_option[@]}" --save-data "$work" >"$work/library.tsv" ||
    fail "bench_fit failed (exit $?)"
"$python" "$repo/bench/numpy_reference.py" --data "$work" --d "$dims" --batch 500 \
    --batch-adv 250 --epochs "${BENCH_NUMPY_EPOCHS:-10}" --verify-epochs "${BENCH_EPOCHS:-20}" \
    --repeats "${BENCH_NUMPY_REPEATS:-3}" --threads 1 --clock "$clock" >"$work/numpy.tsv" ||
    fail "the NumPy reference failed (exit $?)"

strict=()
[ "${BENCH_STRICT:-0}" = 1 ] && strict=(--strict)
status=0
"$python" "$repo/bench/report.py" --library "$work/library.tsv" --numpy "$work/numpy.tsv" \
    --markdown "$build_dir/bench/benchmarks.md" \
    --command "make bench (bench/run.sh; BENCH_D=$dims BENCH_CLOCK=$clock)" "${strict[@]}" ||
    status=$?
echo "bench: $(($(date +%s) - started)) s in all" >&2
exit "$status"
