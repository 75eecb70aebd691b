#!/usr/bin/env bash
# Run the image experiments behind docs/results.md and copy their figures
# into docs/figures/.
#
#   experiments/image-results.sh [OUT_DIR] [extra options for every run]
#
# Four reports (scaled runs, the default; pass --full for the paper's
# sizes): MNIST digits 0/1 with all three parts and 3 seeds for each (the
# data-poor part mixes digit 1 with every other digit), the MNIST data-rich
# part at d = 64 over 5 seeds (to compare with the reference's 5-seed gain),
# and Fashion-MNIST classes 0/1 and 5/7 with the data-rich and tau_A parts.  Each report folder has README.md with its
# tables, the CSVs and the figures.  Environment: MDNMF_BIN (default
# build/mdnmf), MDNMF_DATA_DIR (default data/; fetched by
# scripts/fetch-data.sh mnist and scripts/fetch-fashion.sh).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mdnmf=${MDNMF_BIN:-$repo/build/mdnmf}
out=${1:-$repo/build/image-results}
shift || true
figures=$repo/docs/figures

[ -x "$mdnmf" ] || { echo "image-results: build the tool first (make), or set MDNMF_BIN" >&2; exit 1; }
mkdir -p "$out" "$figures"

run() {
    local name=$1
    shift
    echo "image-results: $name" >&2
    "$mdnmf" experiment images -o "$out/$name" "$@" | tee "$out/$name.txt"
}

run mnist-0-1 --dataset mnist --classes 0,1 --seeds 3 "$@"
run mnist-0-1-d64 --dataset mnist --classes 0,1 --parts rich --atoms 64 --seeds 5 "$@"
run fashion-0-1 --dataset fashion --classes 0,1 --parts rich,tau "$@"
run fashion-5-7 --dataset fashion --classes 5,7 --parts rich,tau "$@"

for name in mnist-0-1 fashion-0-1 fashion-5-7; do
    for figure in "$out/$name"/*.png; do
        cp "$figure" "$figures/$name-$(basename "$figure")"
    done
done
echo "image-results: reports in $out, figures copied to $figures" >&2
