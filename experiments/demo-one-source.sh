#!/usr/bin/env bash
# One-source demo: does MDNMF learn a basis that represents its own digit
# well and another digit poorly?
#
# True data: MNIST images of TRUE_DIGIT; adversarial data: images of
# ADVERSARIAL_DIGIT.  Fits standard NMF on the true training images, then
# MDNMF warm-started from it, and scores both bases on unseen test images of
# each digit.  A discriminative basis has a high ratio
# (error on adversarial digits) / (error on true digits).
#
# Run by `make demo` (which builds build/mdnmf and fetches data/mnist);
# needs only the mdnmf tool, Node.js (to split the data) and the data.
set -euo pipefail

TRUE_DIGIT=0
ADVERSARIAL_DIGIT=1
TRAIN_IMAGES=700   # first images of each digit
TEST_IMAGES=250    # the next images, never seen in training
ATOMS=32
EPOCHS=200
BATCH=500
BATCH_ADV=250
TAU_A=0.2
SEED=0
THREADS=1          # these matrices are small: one thread is fastest, even on a busy machine

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mdnmf=${MDNMF_BIN:-$repo/build/mdnmf}
mnist=${MDNMF_DATA_DIR:-$repo/data}/mnist
work=${DEMO_OUT:-$repo/results/demo-one-source}

fail() {
    echo "demo: $*" >&2
    exit 1
}

[ -x "$mdnmf" ] || fail "no $mdnmf; build it with: make"
[ -f "$mnist/digit$TRUE_DIGIT.npy" ] && [ -f "$mnist/digit$ADVERSARIAL_DIGIT.npy" ] ||
    fail "no MNIST data in $mnist; fetch it with: scripts/fetch-data.sh mnist"
mkdir -p "$work"

split_digit() {
    local digit=$1
    node "$repo/scripts/npy-rows.js" "$mnist/digit$digit.npy" 0 "$TRAIN_IMAGES" "$work/digit$digit-train.npy"
    node "$repo/scripts/npy-rows.js" "$mnist/digit$digit.npy" "$TRAIN_IMAGES" "$TEST_IMAGES" \
        "$work/digit$digit-test.npy"
}

# `mdnmf score` prints one JSON line; pick a number field out of it.
json_field() {
    sed -n "s/.*\"$1\": *\([-+0-9.eE]*\).*/\1/p"
}

relative_error() {
    local model=$1 data=$2 value
    value=$("$mdnmf" score -m "$model" -i "$data" | json_field relative_error)
    [ -n "$value" ] || fail "mdnmf score printed no relative_error for $model on $data"
    echo "$value"
}

split_digit "$TRUE_DIGIT"
split_digit "$ADVERSARIAL_DIGIT"
train=$work/digit$TRUE_DIGIT-train.npy
train_adv=$work/digit$ADVERSARIAL_DIGIT-train.npy

echo "demo: NMF, d = $ATOMS, $EPOCHS epochs, on $TRAIN_IMAGES images of digit $TRUE_DIGIT"
start=$(date +%s%N)
"$mdnmf" fit -i "$train" -o "$work/nmf.npz" -d "$ATOMS" --epochs "$EPOCHS" \
    --batch-size "$BATCH" --seed "$SEED" --threads "$THREADS"
echo "demo: MDNMF, tau_A = $TAU_A, against $TRAIN_IMAGES images of digit $ADVERSARIAL_DIGIT" \
    "(warm start from NMF)"
"$mdnmf" fit -i "$train" -a "$train_adv" -o "$work/mdnmf.npz" -d "$ATOMS" --epochs "$EPOCHS" \
    --batch-size "$BATCH" --adv-batch-size "$BATCH_ADV" --tau-a "$TAU_A" --seed "$SEED" \
    --threads "$THREADS" --warm-start "$work/nmf.npz"
fit_milliseconds=$((($(date +%s%N) - start) / 1000000))

echo
echo "Relative reconstruction error ||U - WH||_F / ||U||_F on $TEST_IMAGES unseen test images each"
printf '%-6s | %-18s | %-25s | %s\n' model "true (digit $TRUE_DIGIT)" \
    "adversarial (digit $ADVERSARIAL_DIGIT)" "ratio adversarial/true"
printf '%s\n' "-------+--------------------+---------------------------+-----------------------"
for model in nmf mdnmf; do
    on_true=$(relative_error "$work/$model.npz" "$work/digit$TRUE_DIGIT-test.npy")
    on_adv=$(relative_error "$work/$model.npz" "$work/digit$ADVERSARIAL_DIGIT-test.npy")
    name=$(echo "$model" | tr '[:lower:]' '[:upper:]')
    LC_ALL=C awk -v name="$name" -v t="$on_true" -v a="$on_adv" \
        'BEGIN { printf "%-6s | %-18.4f | %-25.4f | %.3f\n", name, t, a, a / t }'
done
echo
echo "demo: the two fits took $fit_milliseconds ms; models and splits are in $work"
