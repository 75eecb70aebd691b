#!/usr/bin/env bash
# Demo: the paper's speech-denoising experiment on real recordings.
#
# Three speakers of Debian's asterisk prompts (en, es, fr; 8 kHz), half of
# each speaker's prompts as clean training speech, the other half mixed with
# colobot sound effects at 3 dB input SNR; NMF (semi) and MDNMF (semi_adv)
# learn the noise from the noisy recordings and denoise them.  The table
# (mean SI-SDR per speaker beside the reference implementation's) comes
# first, then where the report is (README.md, CSVs, figures, example WAVs).
# A few minutes on 2 cores.
#
# Run by `make demo-speech` / `make demo` (which build build/mdnmf and
# install the recordings: scripts/fetch-speech.sh).  Environment: MDNMF_BIN
# (default build/mdnmf), DEMO_OUT (default results/demo-speech).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mdnmf=${MDNMF_BIN:-$repo/build/mdnmf}
out=${DEMO_OUT:-$repo/results/demo-speech}

[ -x "$mdnmf" ] || { echo "demo: build the tool first (make), or set MDNMF_BIN" >&2; exit 1; }
[ -d /usr/share/asterisk/sounds/fr_CA_f_June ] && [ -d /usr/share/games/colobot/sounds ] ||
    { echo "demo: the recordings are missing: run scripts/fetch-speech.sh" >&2; exit 1; }

mkdir -p "$(dirname "$out")"
log=$out.log
echo "demo: speech denoising, 3 speakers (a few minutes; progress in $log)" >&2
"$mdnmf" experiment speech -o "$out" 2> "$log" || { cat "$log" >&2; exit 1; }
echo
echo "Report: $out/README.md (figures: $out/sisdr.png, $out/spectrograms-*.png;"
echo "        listen: $out/examples/*.wav)"
