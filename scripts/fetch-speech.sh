#!/usr/bin/env bash
# Install the recordings of `mdnmf experiment speech` (and of the denoising
# tests) from Debian, if they are missing:
#
#   asterisk-core-sounds-en-wav   /usr/share/asterisk/sounds/en_US_f_Allison
#   asterisk-core-sounds-es-wav   /usr/share/asterisk/sounds/es_MX_f_Allison
#   asterisk-core-sounds-fr-wav   /usr/share/asterisk/sounds/fr_CA_f_June
#   colobot-common-sounds         /usr/share/games/colobot/sounds
#
# The prompts are 8 kHz 16-bit WAV files (CC-BY-SA, Digium); the colobot
# effects are 22.05/44.1 kHz WAV files (GPL-3+).  Idempotent: quiet when
# everything is there.  As root it runs apt-get; otherwise it prints the
# command to run and exits 1.
set -euo pipefail

packages=(asterisk-core-sounds-en-wav asterisk-core-sounds-es-wav asterisk-core-sounds-fr-wav
          colobot-common-sounds)
folders=(/usr/share/asterisk/sounds/en_US_f_Allison /usr/share/asterisk/sounds/es_MX_f_Allison
         /usr/share/asterisk/sounds/fr_CA_f_June /usr/share/games/colobot/sounds)

fail() {
    echo "fetch-speech: $*" >&2
    exit 1
}

is_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" = "ii " ]
}

command -v dpkg-query >/dev/null 2>&1 ||
    fail "not a Debian system (no dpkg-query): get the four packages' files some other way: ${packages[*]}"

missing=()
for package in "${packages[@]}"; do
    is_installed "$package" || missing+=("$package")
done

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "fetch-speech: missing packages: ${missing[*]}" >&2
        echo "fetch-speech: run: sudo apt-get install ${missing[*]}" >&2
        echo "fetch-speech: (or run this script as root)" >&2
        exit 1
    fi
    echo "fetch-speech: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

for folder in "${folders[@]}"; do
    [ -d "$folder" ] || fail "$folder is missing although its package is installed (dpkg --verify?)"
done
