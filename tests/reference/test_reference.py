"""The C library's fits against the independent NumPy reference (mdnmf_ref.py).

For every case of the table, tests/tools/trace_fit runs the fit and saves its
random draws; the reference replays the same draws in float64 and W, H, Ĥ and
the per-epoch losses must agree to TOLERANCE (relative).  A negative control
checks that the comparison notices when the reference replays wrong draws.

Run by ctest with /usr/bin/python3; MDNMF_TOOLS names the folder of trace_fit.
"""

import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mdnmf_ref as ref  # noqa: E402

TOLERANCE = 1e-4
M, N, N_ADV, D = 20, 60, 45, 5
EPOCHS, TEST_EPOCHS = 20, 20
SEED = 7

# name, mode, parameters (mdnmf_ref.Params fields), extras: "omega", "W0", "lambda"
CASES = [
    ("std full batch", "std", {}, ()),
    ("std B=16 (N%B!=0)", "std", {"batch_size": 16}, ()),
    ("std B=16 update_H normalize", "std",
     {"batch_size": 16, "update_H": True, "normalize": True}, ()),
    ("std init random B=25", "std", {"init": "random", "batch_size": 25}, ()),
    ("std random normalize update_H", "std",
     {"init": "random", "normalize": True, "update_H": True, "batch_size": 13}, ()),
    # Initial H steps apart from test_epochs (transforms keep test_epochs).
    ("std init_H_steps=3 normalize", "std",
     {"init_H_steps": 3, "batch_size": 16, "normalize": True, "mu_H": 0.01}, ()),
    ("std warm start, init_H_steps=1", "std", {"init_H_steps": 1, "batch_size": 20}, ("W0",)),
    ("std mu_W mu_H", "std", {"mu_W": 1e-2, "mu_H": 0.05, "batch_size": 30}, ()),
    ("std warm start, per-atom mu_H", "std", {"mu_W": 1e-3, "batch_size": 20},
     ("W0", "lambda")),
    ("adv full batch, omega", "adv", {"tau_A": 0.1, "mu_H": 0.02}, ("omega",)),
    ("adv B=16 Badv=20 (wraps)", "adv",
     {"tau_A": 0.2, "batch_size": 16, "batch_size_adv": 20, "mu_H": 0.02}, ("omega",)),
    ("adv true_sample adv", "adv",
     {"tau_A": 0.2, "batch_size": 16, "batch_size_adv": 10, "true_sample": "adv"},
     ("omega",)),
    ("adv true_sample min", "adv",
     {"tau_A": 0.2, "batch_size": 7, "batch_size_adv": 10, "true_sample": "min"},
     ("omega",)),
    ("adv update_H normalize", "adv",
     {"tau_A": 0.2, "batch_size": 16, "batch_size_adv": 20, "update_H": True,
      "normalize": True}, ("omega",)),
    ("adv tau_W=2 tau_A=0.3", "adv",
     {"tau_A": 0.3, "tau_W": 2.0, "batch_size": 20, "batch_size_adv": 15}, ("omega",)),
    ("adv init random mu_W mu_H", "adv",
     {"tau_A": 0.1, "init": "random", "mu_W": 1e-2, "mu_H": 0.05, "normalize": True},
     ("omega",)),
    ("adv warm, per-atom mu_H, gamma", "adv",
     {"tau_A": 0.15, "mu_W": 1e-3, "batch_size": 30, "batch_size_adv": 30, "update_H": True},
     ("omega", "W0", "lambda")),
    ("adv init_H_steps=2", "adv",
     {"tau_A": 0.2, "init_H_steps": 2, "batch_size": 16, "batch_size_adv": 20, "mu_H": 0.02},
     ("omega",)),
    ("adv tau_A=0", "adv", {"tau_A": 0.0, "batch_size": 16, "batch_size_adv": 9}, ()),
    ("transform", "transform", {"mu_H": 0.01}, ("W0",)),
    ("transform, per-atom mu_H", "transform", {}, ("W0", "lambda")),
    # SPEC §11: Kullback-Leibler (β = 1) and Itakura-Saito (β = 0).
    ("transform KL", "transform", {"mu_H": 0.01, "divergence": "kl"}, ("W0",)),
    ("transform IS, per-atom mu_H", "transform", {"divergence": "is"}, ("W0", "lambda")),
    # mdnmf_params.per_sample_init: H0 per column (checked exactly), guards per column.
    ("transform per-sample", "transform", {"mu_H": 0.01, "per_sample_init": True}, ("W0",)),
    ("transform per-sample KL", "transform",
     {"divergence": "kl", "per_sample_init": True}, ("W0", "lambda")),
    ("transform per-sample IS", "transform",
     {"divergence": "is", "mu_H": 0.01, "per_sample_init": True}, ("W0",)),
    ("std KL full batch", "std", {"divergence": "kl", "mu_H": 0.02}, ()),
    ("std KL B=16 update_H normalize", "std",
     {"divergence": "kl", "batch_size": 16, "update_H": True, "normalize": True}, ()),
    ("std KL random B=25 mu_W", "std",
     {"divergence": "kl", "init": "random", "batch_size": 25, "mu_W": 1e-2}, ()),
    ("std IS full batch", "std", {"divergence": "is", "mu_H": 0.02}, ()),
    ("std IS B=16 normalize, warm", "std",
     {"divergence": "is", "batch_size": 16, "normalize": True, "mu_W": 1e-3},
     ("W0", "lambda")),
    ("adv KL full batch, omega", "adv",
     {"divergence": "kl", "tau_A": 0.1, "mu_H": 0.02}, ("omega",)),
    ("adv KL B=16 Badv=20 update_H", "adv",
     {"divergence": "kl", "tau_A": 0.2, "batch_size": 16, "batch_size_adv": 20,
      "update_H": True, "normalize": True}, ("omega",)),
    ("adv IS B=16 Badv=20", "adv",
     {"divergence": "is", "tau_A": 0.1, "batch_size": 16, "batch_size_adv": 20}, ("omega",)),
]


class Data:
    """Small random non-negative problems, float32 as the library sees them."""

    def __init__(self, seed=20240611):
        rng = np.random.default_rng(seed)
        self.U = rng.random((M, N)).astype(np.float32)
        self.U_adv = (0.8 * rng.random((M, N_ADV))).astype(np.float32)
        self.omega = rng.uniform(0.2, 2.0, N_ADV).astype(np.float32)
        self.W0 = rng.uniform(0.05, 1.0, (M, D)).astype(np.float32)
        self.lam = np.array([0.0, 0.01, 0.05, 0.1, 0.2], dtype=np.float32)[:D]


def save_matrix(path, matrix):
    """An m x N matrix as the C-order (N, m) array the library reads."""
    np.save(path, np.ascontiguousarray(matrix.T))


def trace_arguments(folder, mode, params, extras, data):
    args = ["--mode", mode, "--out", folder, "--U", os.path.join(folder, "U.npy"),
            "--d", str(params.d), "--epochs", str(params.epochs),
            "--test-epochs", str(params.test_epochs),
            "--init-h-steps", str(params.init_H_steps),
            "--batch", str(params.batch_size), "--batch-adv", str(params.batch_size_adv),
            "--tau-A", repr(params.tau_A), "--tau-W", repr(params.tau_W),
            "--mu-W", repr(params.mu_W), "--mu-H", repr(float(params.mu_H)),
            "--init", params.init, "--true-sample", params.true_sample,
            "--divergence", params.divergence, "--seed", str(SEED), "--threads", "1"]
    save_matrix(os.path.join(folder, "U.npy"), data.U)
    if mode == "adv":
        save_matrix(os.path.join(folder, "U_adv.npy"), data.U_adv)
        args += ["--U-adv", os.path.join(folder, "U_adv.npy")]
    if "omega" in extras:
        np.save(os.path.join(folder, "omega.npy"), data.omega)
        args += ["--omega", os.path.join(folder, "omega.npy")]
    if "W0" in extras:
        save_matrix(os.path.join(folder, "W0.npy"), data.W0)
        args += ["--W0", os.path.join(folder, "W0.npy")]
    if "lambda" in extras:
        np.save(os.path.join(folder, "lambda.npy"), data.lam)
        args += ["--mu-H-vector", os.path.join(folder, "lambda.npy")]
    if params.normalize:
        args.append("--normalize")
    if params.update_H:
        args.append("--update-H")
    if params.per_sample_init:
        args.append("--per-sample-init")
    return args


def run_library(tool, folder, mode, params, extras, data):
    """Run trace_fit; returns (draws, W, H, Ĥ, losses) in SPEC orientation."""
    args = trace_arguments(folder, mode, params, extras, data)
    done = subprocess.run([tool] + args, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError("trace_fit failed (%d): %s" % (done.returncode, done.stderr))
    n_adv = N_ADV if mode == "adv" else 0
    draws = ref.Draws.load(folder, M, params.d, N, n_adv)
    H = np.load(os.path.join(folder, "H.npy")).astype(np.float64).T
    if mode == "transform":
        return draws, None, H, None, None
    W = np.load(os.path.join(folder, "W.npy")).astype(np.float64).T
    H_adv = None
    if mode == "adv":
        H_adv = np.load(os.path.join(folder, "H_adv.npy")).astype(np.float64).T
    losses = np.loadtxt(os.path.join(folder, "loss.csv"), delimiter=",", skiprows=1, ndmin=2)
    return draws, W, H, H_adv, losses


def check_draws(draws, mode, params, extras):
    """The trace must hold exactly what a replay needs."""
    assert draws.h_random is not None, "no h_random draw"
    if mode == "transform":
        return
    assert len(draws.perm_true) == params.epochs, "perm_true: %d" % len(draws.perm_true)
    for perm in draws.perm_true:
        assert np.array_equal(np.sort(perm), np.arange(N)), "perm_true is no permutation"
    if "W0" not in extras:
        if params.init == "exemplar":
            assert draws.exemplars is not None and draws.exemplars.size == params.d
            assert np.unique(draws.exemplars).size == params.d, "exemplars repeat"
        else:
            assert draws.w_random is not None, "no w_random draw"
    assert draws.h_random is not None, "no h_random draw"
    if mode == "adv":
        assert len(draws.perm_adv) == params.epochs, "perm_adv: %d" % len(draws.perm_adv)
        for perm in draws.perm_adv:
            assert np.array_equal(np.sort(perm), np.arange(N_ADV)), "perm_adv is no permutation"
        assert draws.h_random_adv is not None, "no h_random_adv draw"


def run_reference(mode, params, extras, data, draws):
    """The reference fit; losses as rows (epoch, loss_true, loss_adv, objective)."""
    W0 = data.W0.astype(np.float64) if "W0" in extras else None
    if "lambda" in extras:
        params = ref.Params(**{**params.__dict__, "mu_H": data.lam.astype(np.float64)})
    U = data.U.astype(np.float64)
    if mode == "transform":
        lam = ref.penalty_vector(params.mu_H, params.d)
        if params.per_sample_init:
            H0 = ref.per_sample_initial_H(SEED, data.U, params.d)
            assert np.array_equal(H0, draws.h_random), "per-sample H0 differs from the reference"
            H = ref.transform_per_sample(W0, U, H0, params.test_epochs, lam,
                                         divergence=params.divergence)
        else:  # SPEC's one stream (stream 0 of the seed), column after column
            H0 = ref.stream_uniforms(SEED, 0, params.d * N).reshape(N, params.d).T
            assert np.array_equal(H0, draws.h_random), "H0 is not the seed's stream 0"
            H = ref.transform(W0, U, draws.h_random, params.test_epochs, lam,
                              divergence=params.divergence)
        return None, H, None, None
    if mode == "std":
        W, H, losses = ref.fit_std(U, params, draws, W0)
        rows = [(e, lt, 0.0, obj) for e, (lt, obj) in enumerate(losses)]
        return W, H, None, np.array(rows)
    omega = data.omega.astype(np.float64) if "omega" in extras else None
    W, H, H_adv, losses = ref.fit_adv(U, data.U_adv.astype(np.float64), omega, params,
                                      draws, W0)
    rows = [(e, lt, la, obj) for e, (lt, la, obj) in enumerate(losses)]
    return W, H, H_adv, np.array(rows)


def relative(a, b):
    """‖a - b‖ / ‖b‖ (0 when both are empty or zero)."""
    scale = np.linalg.norm(b)
    return np.linalg.norm(a - b) / scale if scale > 0 else np.linalg.norm(a)


def loss_difference(library, reference):
    """Largest per-epoch relative difference of the losses.  The objective can be
    near zero under τ_A, so it is measured against the size of its terms."""
    if library.shape != reference.shape:
        return np.inf
    worst = 0.0
    for column in (1, 2):
        scale = np.maximum(np.abs(reference[:, column]), 1e-30)
        worst = max(worst, float(np.max(np.abs(library[:, column] - reference[:, column]) / scale)))
    terms = np.abs(reference[:, 1]) + np.abs(reference[:, 2]) + 1e-30
    worst = max(worst, float(np.max(np.abs(library[:, 3] - reference[:, 3]) / terms)))
    return worst


def compare_case(tool, data, name, mode, overrides, extras):
    params = ref.Params(d=D, epochs=EPOCHS, test_epochs=TEST_EPOCHS, **overrides)
    with tempfile.TemporaryDirectory(prefix="mdnmf-ref-") as folder:
        draws, W, H, H_adv, losses = run_library(tool, folder, mode, params, extras, data)
    check_draws(draws, mode, params, extras)
    W_ref, H_ref, H_adv_ref, losses_ref = run_reference(mode, params, extras, data, draws)
    result = {
        "W": relative(W, W_ref) if W is not None else 0.0,
        "H": relative(H, H_ref),
        "H_adv": relative(H_adv, H_adv_ref) if mode == "adv" else 0.0,
        "loss": loss_difference(losses, losses_ref) if losses is not None else 0.0,
    }
    return result, (draws, W, params)


def negative_control(data, mode, params, extras, draws, W):
    """Replaying the epochs' permutations in the wrong order must be noticed."""
    shuffled = ref.Draws(**{**draws.__dict__,
                            "perm_true": draws.perm_true[1:] + draws.perm_true[:1]})
    W_wrong, _, _, _ = run_reference(mode, params, extras, data, shuffled)
    return relative(W, W_wrong)


def main():
    tool = os.path.join(os.environ.get("MDNMF_TOOLS", "."), "trace_fit")
    if not os.path.exists(tool):
        print("trace_fit not found at %s (set MDNMF_TOOLS)" % tool)
        return 1
    data = Data()
    failures = []
    print("%-34s %10s %10s %10s %10s" % ("case", "W", "H", "H_adv", "loss"))
    control = None
    for name, mode, overrides, extras in CASES:
        try:
            result, run = compare_case(tool, data, name, mode, overrides, extras)
        except (RuntimeError, AssertionError) as error:
            print("%-34s FAILED: %s" % (name, error))
            failures.append(name)
            continue
        print("%-34s %10.2e %10.2e %10.2e %10.2e" % (
            name, result["W"], result["H"], result["H_adv"], result["loss"]))
        if not all(value <= TOLERANCE for value in result.values()):
            failures.append(name)
        if control is None and overrides.get("batch_size", 0) > 0:
            control = (mode, overrides, extras, run)
    if control is not None:
        mode, overrides, extras, (draws, W, params) = control
        wrong = negative_control(data, mode, params, extras, draws, W)
        print("negative control (permutations replayed out of order): W differs by %.2e" % wrong)
        if not wrong > 100 * TOLERANCE:
            failures.append("negative control")
    if failures:
        print("FAILED (tolerance %g): %s" % (TOLERANCE, ", ".join(failures)))
        return 1
    print("all %d cases agree within %g" % (len(CASES), TOLERANCE))
    return 0


if __name__ == "__main__":
    sys.exit(main())
