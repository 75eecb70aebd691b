#!/usr/bin/python3
"""NMF separation of MNIST 0/1 by the library (through the CLI) and by the
NumPy reference of the test suite (tests/reference/mdnmf_ref.py, float64, its
own NumPy random draws), on the same split: the issue's check that our NMF's
median PSNR is within 0.5 dB of the NumPy reference's on the same data.

usage: experiments/nmf-vs-numpy-reference.py [MDNMF_BIN] [DATA_DIR] [D]
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "reference"))
import mdnmf_ref as ref  # noqa: E402

binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "build", "mdnmf")
data_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "data")
d = int(sys.argv[3]) if len(sys.argv) > 3 else 64
TRAIN, TEST, EPOCHS = 700, 250, 200

# The setup of SPEC's reference runs: 700 training images and 250 test
# mixtures per class, weights 1/2, the paper's parameters.
digits = [np.load(os.path.join(data_dir, "mnist", "digit%d.npy" % k)) for k in (0, 1)]
train = [0.5 * x[:TRAIN] for x in digits]                       # (N, m) rows
truth = [0.5 * x[TRAIN:TRAIN + TEST] for x in digits]
mixtures = truth[0] + truth[1]


def median_psnr(estimates):
    per_source = []
    for t, e in zip(truth, estimates):
        rmse = np.sqrt(np.mean((t - e) ** 2, axis=1))
        per_source.append(20 * np.log10(t.max(axis=1) / rmse))
    return float(np.median(np.mean(per_source, axis=0)))


with tempfile.TemporaryDirectory() as tmp:
    paths = []
    for k, x in enumerate(train):
        paths.append(os.path.join(tmp, "train%d.npy" % k))
        np.save(paths[-1], x.astype(np.float32))
    np.save(os.path.join(tmp, "mix.npy"), mixtures.astype(np.float32))
    subprocess.run([binary, "separator", "fit", "--mode", "std", "--source", paths[0],
                    "--source", paths[1], "-d", "%d,%d" % (d, d), "--epochs", str(EPOCHS),
                    "--test-epochs", str(EPOCHS), "--mu-w", "1e-10", "--mu-h", "1e-2",
                    "--normalize", "--batch-size", "500", "--seed", "0", "--threads", "1",
                    "--quiet", "-o", os.path.join(tmp, "sep.npz")], check=True)
    subprocess.run([binary, "separator", "apply", "-m", os.path.join(tmp, "sep.npz"),
                    "-i", os.path.join(tmp, "mix.npy"), "-o", os.path.join(tmp, "est")],
                   check=True)
    ours = median_psnr([np.load(os.path.join(tmp, "est%d.npy" % k)) for k in (0, 1)])

rng = np.random.default_rng(0)
params = ref.Params(d=d, epochs=EPOCHS, test_epochs=EPOCHS, batch_size=500, mu_W=1e-10,
                    mu_H=1e-2, normalize=True)
bases = []
for x in train:
    U = x.T.astype(np.float64)                                   # m x N, column-wise
    draws = ref.Draws.generate(rng, U.shape[0], U.shape[1], d, EPOCHS)
    W, _, _ = ref.fit_std(U, params, draws)
    bases.append(W)
W = np.hstack(bases)
V = mixtures.T.astype(np.float64)
H0 = rng.random((2 * d, V.shape[1]))
estimates = ref.separate(W, [d, d], 1e-2, V, H0, EPOCHS)
numpy_reference = median_psnr([e.T for e in estimates])

print(json.dumps({"d": d, "mdnmf_nmf_median_psnr": round(ours, 3),
                  "numpy_reference_nmf_median_psnr": round(numpy_reference, 3),
                  "difference_db": round(ours - numpy_reference, 3)}))
