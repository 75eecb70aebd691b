#!/usr/bin/env bash
# Run the speech-denoising experiment behind docs/results.md ("Speech
# denoising") for three splits and copy the first one's figures into
# docs/figures/.
#
#   experiments/speech-results.sh [OUT_DIR] [extra options for every run]
#
# Three reports, seeds 0, 1 and 2 (each seed draws its own half/half split
# of every speaker's prompts and its own noise segments), then one table of
# the mean SI-SDR per speaker and method: each seed's value and their mean.
# About 5 minutes per seed on 2 idle cores.  Environment: MDNMF_BIN
# (default build/mdnmf); the recordings come from scripts/fetch-speech.sh.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mdnmf=${MDNMF_BIN:-$repo/build/mdnmf}
out=${1:-$repo/build/speech-results}
shift || true
figures=$repo/docs/figures
seeds=(0 1 2)

[ -x "$mdnmf" ] || { echo "speech-results: build the tool first (make), or set MDNMF_BIN" >&2; exit 1; }
mkdir -p "$out" "$figures"

for seed in "${seeds[@]}"; do
    echo "speech-results: seed $seed" >&2
    "$mdnmf" experiment speech --seed "$seed" -o "$out/seed$seed" "$@" | tee "$out/seed$seed.txt"
done

cp "$out/seed0/sisdr.png" "$figures/speech-sisdr.png"
cp "$out/seed0/spectrograms-en_US_f_Allison.png" "$figures/speech-spectrograms-en_US_f_Allison.png"

# speaker,method -> "v0 / v1 / v2" and their mean, from the results.csv files.
csvs=()
for seed in "${seeds[@]}"; do
    csvs+=("$out/seed$seed/results.csv")
done
echo
echo "Mean SI-SDR (dB) per seed and the mean over seeds:"
echo
awk -F, '
    FNR == 1 { next }
    { key = $1 "," $2; value[key] = value[key] sprintf("%s%.2f", count[key] ? " / " : "", $6);
      sum[key] += $6; count[key]++; if (!(key in seen)) { seen[key] = 1; order[n++] = key } }
    END {
        print "| speaker | method | per seed | mean |"
        print "| --- | --- | --- | --- |"
        for (i = 0; i < n; i++) {
            split(order[i], part, ",")
            printf "| %s | %s | %s | %.2f |\n", part[1], part[2], value[order[i]], sum[order[i]] / count[order[i]]
        }
    }' "${csvs[@]}"
echo "speech-results: reports in $out, figures copied to $figures" >&2
