#!/usr/bin/env bash
# Run the libFuzzer harnesses of build-fuzz/ one after the other.
#
#   FUZZ_DIR=build-fuzz FUZZ_SECONDS=60 bash fuzz/run.sh [HARNESS...]
#
# Each harness runs FUZZ_SECONDS (default 60) on its corpus,
# FUZZ_DIR/corpus/<harness>/ (kept between runs: it grows with what the
# fuzzer finds), seeded from FUZZ_DIR/seeds/<harness>/ (made by
# fuzz/make_corpus.py) with the dictionary FUZZ_DIR/seeds/<harness>.dict.
# A crash, leak, timeout (FUZZ_TIMEOUT seconds for one input, default 25) or
# out-of-memory (one input over 2048 MB) leaves its input in
# FUZZ_DIR/artifacts/ and makes this script exit 1 after the others ran;
# the logs are in FUZZ_LOGS (default FUZZ_DIR/logs/).  FUZZ_ARGS adds
# libFuzzer flags (e.g. -runs=10000000 instead of a time limit:
# FUZZ_SECONDS=0).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
FUZZ_DIR=${FUZZ_DIR:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-25}
FUZZ_ARGS=${FUZZ_ARGS:-}
FUZZ_LOGS=${FUZZ_LOGS:-$FUZZ_DIR/logs}
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(fuzz_npy fuzz_npz fuzz_idx fuzz_audio fuzz_cli fuzz_checkpoint)

# One thread each: the readers do not use the thread pool, and OpenBLAS's
# idle threads would only slow every execution down.  UBSan findings stop
# the run with a stack trace; leaks of system libraries that keep memory
# on purpose are named in tests/lsan.supp.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
# A 16 MB quarantine (the default is 256 MB) still catches a use after free
# within an input, and lets the allocator reuse warm pages: 3x the
# executions per second for the readers of small files.
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=16}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0

mkdir -p "$FUZZ_DIR/artifacts" "$FUZZ_LOGS"
failed=()
for name in "${harnesses[@]}"; do
    binary=$FUZZ_DIR/fuzz/$name
    if [ ! -x "$binary" ]; then
        echo "fuzz: $binary is not built (make fuzz builds it)" >&2
        exit 2
    fi
    corpus=$FUZZ_DIR/corpus/$name
    seeds=$FUZZ_DIR/seeds/$name
    dict=$FUZZ_DIR/seeds/$name.dict
    log=$FUZZ_LOGS/$name.log
    mkdir -p "$corpus"
    # fuzz_checkpoint's seeds are checkpoints of its own fixed fit: it
    # writes them itself (make_corpus.py cannot run that fit).
    if [ "$name" = fuzz_checkpoint ] && [ ! -d "$seeds" ]; then
        mkdir -p "$seeds" && FUZZ_CHECKPOINT_SEEDS=$seeds "$binary" >/dev/null 2>&1 ||
            { echo "fuzz: $name could not write its seeds" >&2; exit 2; }
    fi
    flags=()
    [ "$FUZZ_SECONDS" -gt 0 ] && flags+=(-max_total_time="$FUZZ_SECONDS")
    [ -f "$dict" ] && flags+=(-dict="$dict")
    inputs=("$corpus")
    [ -d "$seeds" ] && inputs+=("$seeds")
    # -close_fd_mask=3: the code under test prints error lines (the CLI's
    # stderr); libFuzzer and the sanitizers keep their own copy of stderr.
    # shellcheck disable=SC2086
    "$binary" "${flags[@]}" -rss_limit_mb=2048 -timeout="$FUZZ_TIMEOUT" \
        -close_fd_mask=3 -print_final_stats=1 \
        -artifact_prefix="$FUZZ_DIR/artifacts/$name-" $FUZZ_ARGS "${inputs[@]}" >"$log" 2>&1
    status=$?
    runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 runs in \2 s/p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    if [ $status -eq 0 ]; then
        printf 'fuzz: %-11s ok: %s, %s exec/s, %s\n' "$name" "$runs" "$speed" "$cov"
    else
        printf 'fuzz: %-11s FAILED (exit %d): see %s and %s/artifacts/\n' "$name" "$status" \
            "$log" "$FUZZ_DIR" >&2
        grep -m5 -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" >&2
        failed+=("$name")
    fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: findings in: ${failed[*]}" >&2; exit 1; }
