#!/usr/bin/env bash
# `make models`: a general speech model to start from, trained on the
# project's Debian recordings (scripts/fetch-speech.sh installs them):
#
#   $BUILD_DIR/models/speech-8k.npz   8 kHz, n_fft 256, hop 128 (32 ms windows),
#                                      128 speech atoms + 32 noise atoms
#
# Speech: every asterisk prompt installed (en_US_f_Allison, es_MX_f_Allison,
# fr_CA_f_June), without the non-speech ones (silence/, beeps, tones,
# tt-monkeys.wav).  Noise: every colobot sound effect, resampled to 8 kHz.
# Mode std (SPEC §6): an NMF basis for each group, so the noise basis is
# a general one of those effects; `denoise stream --learn-noise` adapts it
# to the noise at hand.  About a minute on 2 cores.
#
# Deterministic: a sorted file list, seed 0 and a fixed --threads 2 give
# the same model bit for bit on every run and machine with the same
# packages.  The model is not retrained when it exists and was made by
# the same recipe (command line, file list, mdnmf version); FORCE=1
# retrains.  Environment: MDNMF_BIN (default build/mdnmf), BUILD_DIR.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$repo/build}
mdnmf=${MDNMF_BIN:-$build/mdnmf}
sounds=/usr/share/asterisk/sounds
noise=/usr/share/games/colobot/sounds
out=$build/models
model=$out/speech-8k.npz

fail() {
    echo "make-models: $*" >&2
    exit 1
}

[ -x "$mdnmf" ] || fail "build the tool first (make), or set MDNMF_BIN"
[ -d "$noise" ] || fail "the colobot sounds are missing: run scripts/fetch-speech.sh"

speakers=()
for speaker in en_US_f_Allison es_MX_f_Allison fr_CA_f_June; do
    [ -d "$sounds/$speaker" ] && speakers+=("$sounds/$speaker")
done
[ ${#speakers[@]} -gt 0 ] || fail "no asterisk prompts in $sounds: run scripts/fetch-speech.sh"

mkdir -p "$out"
list=$out/speech-8k.speech.txt
find "${speakers[@]}" -name '*.wav' | LC_ALL=C sort |
    grep -v -E '/silence/|/tt-monkeys\.wav$|/beep[^/]*\.wav$|2tone\.wav$' > "$list.tmp"
mv "$list.tmp" "$list"

command=(denoise fit --mode std --speech "@$list" --noise "$noise" --sample-rate 8000
         --n-fft 256 --hop-length 128 -d 128,32 --seed 0 --threads 2)
recipe=$(printf '%s\n' "$("$mdnmf" --version)" "${command[*]}" "$(cat "$list")" | sha256sum)
stamp=$out/speech-8k.recipe
if [ "${FORCE:-0}" != 1 ] && [ -f "$model" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$recipe" ]; then
    echo "make-models: $model is up to date (FORCE=1 retrains)"
    exit 0
fi

echo "make-models: training $model on $(wc -l < "$list") prompts of ${#speakers[@]} speaker(s)" \
     "and the colobot effects (about a minute)" >&2
rm -f "$stamp"
start=$(date +%s)
"$mdnmf" "${command[@]}" -o "$model" -q
echo "$recipe" > "$stamp"
echo "make-models: $model written in $(( $(date +%s) - start )) s"
