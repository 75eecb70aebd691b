#!/usr/bin/env python3
"""Separate mixtures of MNIST digits 0 and 1 with NMF and with MDNMF.

    /usr/bin/python3 python/examples/separate_mnist.py [--data DIR] [--atoms 32] ...

Each test mixture is 0.5 x (a 0) + 0.5 x (a 1), images never seen in
training; the ground truth of each source is its weighted image (SPEC §8).
Prints the median over the test mixtures of the mean PSNR over both sources
(SPEC §9) for plain NMF bases and for MDNMF bases warm-started from them.

The data is data/mnist/digit0.npy and digit1.npy (one image per row, 784
values in [0, 1]), made by `scripts/fetch-data.sh mnist` (or `make data`).
"""

import argparse
import os
import sys

import numpy as np

from mdnmf import NMF_separation

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_digits(folder, digit):
    path = os.path.join(folder, f"digit{digit}.npy")
    if not os.path.exists(path):
        sys.exit(f"separate_mnist: {path} is missing: run scripts/fetch-data.sh mnist "
                 "(or make data) in the repository first, or pass --data DIR")
    return np.load(path)  # (N, 784): one image per row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_data = os.path.join(os.environ.get("MDNMF_DATA_DIR", os.path.join(REPO, "data")),
                                "mnist")
    parser.add_argument("--data", default=default_data, help="folder of digit<k>.npy")
    parser.add_argument("--atoms", type=int, default=32, help="atoms per source")
    parser.add_argument("--train", type=int, default=700, help="training images per digit")
    parser.add_argument("--test", type=int, default=250, help="test mixtures")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--tau-a", type=float, default=0.2, help="MDNMF's adversarial weight")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    zeros, ones = load_digits(args.data, 0), load_digits(args.data, 1)
    n, t = args.train, args.test
    if min(len(zeros), len(ones)) < n + t:
        sys.exit(f"separate_mnist: need {n + t} images per digit, have "
                 f"{min(len(zeros), len(ones))}: lower --train or --test")

    # Column-wise data (784 x N): the transpose of the row-wise array is a
    # Fortran-order view, which reaches the C library without a copy.
    U = [zeros[:n].T, ones[:n].T]
    truth = [0.5 * zeros[n:n + t].T, 0.5 * ones[n:n + t].T]
    mixtures = truth[0] + truth[1]

    settings = dict(ds=[args.atoms, args.atoms], epochs=args.epochs, batch_size=500,
                    batch_size_adv=250, seed=args.seed)
    nmf = NMF_separation(prob="std", **settings)
    nmf.fit(U=U)
    print(f"NMF:   median PSNR {nmf.eval(truth, mixtures):.2f} dB")

    # MDNMF: each digit's basis must also represent the other digit poorly.
    mdnmf = NMF_separation(prob="adv", tau_A=args.tau_a, Ws=[b.W for b in nmf.NMFs],
                           **settings)
    mdnmf.fit(U=U)
    print(f"MDNMF: median PSNR {mdnmf.eval(truth, mixtures):.2f} dB")


if __name__ == "__main__":
    main()
