#!/usr/bin/env bash
# Speech denoising throughput (issue 5, target 3): `mdnmf denoise apply` on one
# thread with a fixed noise basis, m = 129 bins (8 kHz, n_fft 256, hop 128),
# d = 160 atoms (128 speech + 32 noise), 100 test epochs, over real prompts.
# Everything the command does is timed: listing, reading, STFT, separation,
# Wiener filtering, inverse STFT, writing 16-bit WAV files.
#
#   BUILD_DIR=build bench/bench_denoise.sh
#
# Environment:
#   BUILD_DIR               build folder holding the mdnmf tool (default build)
#   BENCH_DENOISE_ROUNDS    timed runs of the whole command (default 4, at least 2)
#   BENCH_DENOISE_FILES     how many prompts (default all top-level en_US_f_Allison ones)
#   BENCH_KEEP_OPENBLAS_ENV=1  keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
#
# Needs Debian's asterisk-core-sounds-en-wav (speech) and colobot-common-sounds
# (noise for the model).  The model is fitted in a few seconds with 5 epochs:
# its quality does not matter, only its shape does.
#
# Prints target records and info records (bench/report.py) on stdout, progress
# on stderr.  Throughput = seconds of audio / seconds of the whole command.
# Each round also records the child's CPU time (user + system): when the wall
# clock was disturbed by other processes (the command got less than 90 % of a
# core), the target uses the CPU-time figure and says so (denoise_clock).
# Exit 0 when it measured, 1 with a one-line reason when it could not.
set -euo pipefail

speech_dir=/usr/share/asterisk/sounds/en_US_f_Allison
noise_dir=/usr/share/games/colobot/sounds
build_dir=${BUILD_DIR:-build}
mdnmf=$build_dir/mdnmf
rounds=${BENCH_DENOISE_ROUNDS:-4}
python=/usr/bin/python3

fail() {
    echo "bench_denoise: $*" >&2
    exit 1
}

[ -x "$mdnmf" ] || fail "$mdnmf is missing: build the tool first"
[ -d "$speech_dir" ] || fail "no speech in $speech_dir: apt-get install asterisk-core-sounds-en-wav"
[ -d "$noise_dir" ] || fail "no noise in $noise_dir: apt-get install colobot-common-sounds"
[ -x "$python" ] || fail "$python is missing (it measures the audio's duration)"
[ "$rounds" -ge 2 ] 2>/dev/null || fail "BENCH_DENOISE_ROUNDS must be >= 2 (noise is measured)"

if [ "${BENCH_KEEP_OPENBLAS_ENV:-0}" != 1 ]; then
    unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
fi
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

work=$(mktemp -d "${TMPDIR:-/tmp}/mdnmf-bench-denoise.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The prompts to denoise, and small training sets for the model.
find "$speech_dir" -maxdepth 1 -name '*.wav' | LC_ALL=C sort >"$work/all.txt"
if [ -n "${BENCH_DENOISE_FILES:-}" ]; then
    head -n "$BENCH_DENOISE_FILES" "$work/all.txt" >"$work/prompts.txt"
else
    cp "$work/all.txt" "$work/prompts.txt"
fi
head -n 40 "$work/all.txt" >"$work/speech.txt"
find "$noise_dir" -maxdepth 1 -name '*.wav' | LC_ALL=C sort | head -n 10 >"$work/noise.txt"
[ -s "$work/prompts.txt" ] || fail "no WAV files in $speech_dir"
[ -s "$work/noise.txt" ] || fail "no WAV files in $noise_dir"

# Seconds of audio and the rates (every prompt should be 8 kHz).
read -r files audio_seconds rates < <("$python" - "$work/prompts.txt" <<'EOF'
import sys, wave
seconds, rates = 0.0, set()
paths = [line.strip() for line in open(sys.argv[1]) if line.strip()]
for path in paths:
    with wave.open(path) as w:
        seconds += w.getnframes() / w.getframerate()
        rates.add(w.getframerate())
print(len(paths), "%.3f" % seconds, ",".join(str(r) for r in sorted(rates)))
EOF
) || fail "cannot read the prompts' durations"

echo "bench_denoise: fitting a model (5 epochs) ..." >&2
"$mdnmf" denoise fit --mode std --speech "@$work/speech.txt" --noise "@$work/noise.txt" \
    -o "$work/model.npz" --sample-rate 8000 --n-fft 256 --hop-length 128 -d 128,32 \
    --epochs 5 --test-epochs 100 --seed 0 --threads 1 -q ||
    fail "mdnmf denoise fit failed (exit $?)"

# One timed run: prints "wall cpu" seconds (bash's time: real, user + sys of the child).
time_apply() {
    local out=$work/out.$1
    local TIMEFORMAT='%3R %3U %3S'
    # The target's case: the model's bases as they are (issue 13's per-recording
    # adaptation and smoothing, on by default, are separate work: docs/benchmarks.md).
    { time "$mdnmf" denoise apply --threads 1 -q -m "$work/model.npz" -o "$out" \
        --adapt-noise 0 --noise-smoothing 0 "@$work/prompts.txt" 2>"$work/apply.err"; } \
        2>"$work/time.$1" ||
        fail "mdnmf denoise apply failed: $(head -n 1 "$work/apply.err")"
    rm -rf "$out" # outside the timing
    awk '{ printf "%s %.3f\n", $1, $2 + $3 }' "$work/time.$1"
}

echo "bench_denoise: $files prompts, $audio_seconds s of audio, $rounds rounds ..." >&2
: >"$work/rounds.txt"
for ((r = 1; r <= rounds; r++)); do
    time_apply "$r" >>"$work/rounds.txt"
    echo "bench_denoise: round $r: $(tail -n 1 "$work/rounds.txt") (wall, CPU seconds)" >&2
done

# Best of the odd and of the even rounds: two independent estimates for the noise.
"$python" - "$work/rounds.txt" "$audio_seconds" "$files" "$rates" <<'EOF'
import sys
rounds = [tuple(map(float, line.split())) for line in open(sys.argv[1]) if line.strip()]
audio, files, rates = float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
halves = [rounds[0::2], rounds[1::2]]

def best(rs, k):
    return min(r[k] for r in rs)

wall, cpu = best(rounds, 0), best(rounds, 1)
# The round with the best wall time tells whether the command had its core.
share = min(r[1] / r[0] for r in rounds if r[0] == wall)
clock = 0 if share >= 0.9 else 1
seconds = (wall, cpu)[clock]
ratio = audio / seconds
halves_ratio = [audio / best(h, clock) for h in halves]
noise = max(0.01, abs(halves_ratio[0] - halves_ratio[1]) / max(halves_ratio))
case = ("denoise apply: m = 129, d = 160 (128 + 32), 100 test epochs, 8 kHz, hop 128, "
        "%d files (%.1f s), I/O and STFT included" % (files, audio))
print("\t".join([
    "target", "id=denoise_rt", "case=" + case, "measured=%.3f" % seconds, "unit=s",
    "reference=%.1f" % audio, "reference_label=audio duration, ratio = x real time",
    "ratio=%.1f" % ratio, "minimum=250", "noise=%.3f" % noise, "threads=1",
    "origin=issue 5 target 3"]))
info = [
    ("denoise_clock", ("wall clock", "child CPU time (wall clock disturbed: the command got "
                       "%.0f %% of a core)" % (100 * share))[clock]),
    ("denoise_wall_x_real_time", "%.1f" % (audio / wall)),
    ("denoise_cpu_x_real_time", "%.1f" % (audio / cpu)),
    ("denoise_cpu_share", "%.2f" % share),
    ("denoise_rounds", "%d (best kept; noise from odd vs even rounds)" % len(rounds)),
    ("denoise_audio", "%d en_US_f_Allison prompts, %.1f s at %s Hz" % (files, audio, rates)),
    ("denoise_model", "denoise fit --mode std, 5 epochs, -d 128,32, n_fft 256, hop 128"),
]
for key, value in info:
    print("info\t%s\t%s" % (key, value))
EOF
