#!/usr/bin/env bash
# Demo: the paper's data-rich image experiment (scaled) on MNIST digits 0/1.
#
# NMF, MDNMF (warm-started from NMF, tau_A = 0.2), DNMF and ENMF separate
# mixtures of a 0 and a 1 for d = 16 ... 256 atoms per source, 3 seeds;
# the summary table (median PSNR, mean +- sd over seeds) comes first, then
# where the report is (README.md, CSVs, the figure with error bars and a
# grid of example separations).  About two minutes on 2 cores.
#
# Run by `make demo` (which builds build/mdnmf and fetches data/mnist).
# Environment: MDNMF_BIN (default build/mdnmf), MDNMF_DATA_DIR (default
# data/), DEMO_OUT (default results/demo-images).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mdnmf=${MDNMF_BIN:-$repo/build/mdnmf}
data=${MDNMF_DATA_DIR:-$repo/data}
out=${DEMO_OUT:-$repo/results/demo-images}

[ -x "$mdnmf" ] || { echo "demo: build the tool first (make), or set MDNMF_BIN" >&2; exit 1; }
[ -f "$data/mnist/digit0.npy" ] ||
    { echo "demo: no MNIST in $data/mnist: run scripts/fetch-data.sh mnist" >&2; exit 1; }

mkdir -p "$(dirname "$out")"
log=$out.log
echo "demo: data-rich experiment on MNIST 0/1 (scaled run, about two minutes; progress in $log)" >&2
"$mdnmf" experiment images --dataset mnist --classes 0,1 --parts rich --data-dir "$data" \
    -o "$out" 2> "$log" || { cat "$log" >&2; exit 1; }
echo
echo "Report: $out/README.md (figures: $out/rich.png, $out/rich-examples.png)"
