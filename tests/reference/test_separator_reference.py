"""The C library's separators against the independent NumPy reference.

For every case of the table, tests/tools/trace_separator fits a separator
(SPEC §4–§6) on small random data, saves every random draw it reports, the
concatenated basis W, and the separation of test mixtures with and without
Wiener filtering (SPEC §5).  mdnmf_ref.separator_fit replays the same draws in
float64; W and every source's estimates must agree to TOLERANCE (relative
Frobenius norm), every recorded draw must be consumed by the replay, and the
progress reports must count their stages consistently.  Negative controls
check that the comparison notices a replay with the mixtures' permutations in
the wrong order and a separation with the paper's shared λ = 1e-6.

Run by ctest with /usr/bin/python3; MDNMF_TOOLS names the folder of the tools.
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mdnmf_ref as ref  # noqa: E402

TOLERANCE = 1e-4
M = 16
N = (40, 36, 44)      # clean samples per source
N_V, N_SUP, N_TEST = 30, 24, 20
EPOCHS, TEST_EPOCHS = 15, 20

# name, mode, S, parameters (SeparatorParams fields), extras:
#   "V" mixtures for adv / full, "warm" a warm-start model
CASES = [
    ("std", "std", 2, {"d": [3, 4]}, ()),
    ("std B=16 update_H normalize", "std", 2,
     {"d": [3, 4], "batch_size": 16, "update_H": True, "normalize": True,
      "mu_H": [0.05, 0.1]}, ()),
    ("std init random B=12", "std", 2,
     {"d": [4, 3], "init": "random", "batch_size": 12, "mu_W": 1e-3}, ()),
    ("std warm start", "std", 2, {"d": [3, 4], "batch_size": 16}, ("warm",)),
    ("adv", "adv", 2,
     {"d": [3, 4], "tau_A": [0.2, 0.1], "mu_H": [0.02, 0.05]}, ()),
    ("adv +V beta warm-up B", "adv", 2,
     {"d": [3, 4], "tau_A": [0.2, 0.15], "beta": [0.5, 2.0], "batch_size": 16,
      "batch_size_adv": 20, "warm_start_epochs": 3, "mu_H": [0.05, 0.1]}, ("V",)),
    ("adv update_H normalize", "adv", 2,
     {"d": [4, 3], "tau_A": [0.1, 0.2], "batch_size": 16, "batch_size_adv": 25,
      "update_H": True, "normalize": True, "true_sample": "min"}, ("V",)),
    ("adv tau_A=(0.2,0) warm-up", "adv", 2,
     {"d": [3, 4], "tau_A": [0.2, 0.0], "batch_size": 16, "warm_start_epochs": 2}, ()),
    ("adv init random tau_W=2", "adv", 2,
     {"d": [3, 3], "tau_A": [0.1, 0.1], "tau_W": 2.0, "init": "random",
      "batch_size": 20, "batch_size_adv": 20, "true_sample": "adv"}, ("V",)),
    ("adv S=3", "adv", 3,
     {"d": [3, 4, 3], "tau_A": [0.1, 0.2, 0.15], "batch_size": 16, "batch_size_adv": 30,
      "mu_H": [0.01, 0.02, 0.05]}, ("V",)),
    ("adv normalize only", "adv", 2,
     {"d": [3, 4], "tau_A": [0.2, 0.2], "batch_size": 20, "normalize": True}, ("V",)),
    ("exem", "exem", 2, {"d": [3, 4]}, ()),
    ("exem normalize", "exem", 2, {"d": [4, 3], "normalize": True}, ()),
    ("sup", "sup", 2, {"d": [3, 4], "mu_H": [0.01, 0.02]}, ()),
    ("sup Bs=10 update_H normalize", "sup", 2,
     {"d": [3, 4], "batch_size_sup": 10, "update_H": True, "normalize": True}, ()),
    ("sup update_H only", "sup", 2, {"d": [3, 4], "batch_size_sup": 8, "update_H": True}, ()),
    ("sup normalize only S=3", "sup", 3,
     {"d": [3, 2, 4], "batch_size_sup": 9, "normalize": True, "mu_H": [0.01, 0.02, 0.0]}, ()),
    ("sup warm-up 3, init random", "sup", 2,
     {"d": [4, 3], "batch_size_sup": 7, "warm_start_epochs": 3, "init": "random"}, ()),
    ("sup warm start", "sup", 2, {"d": [3, 4], "batch_size_sup": 10}, ("warm",)),
    ("full", "full", 2,
     {"d": [3, 4], "tau_A": [0.1, 0.1], "batch_size": 16, "batch_size_adv": 20,
      "batch_size_sup": 10}, ()),
    ("full +V update_H normalize", "full", 2,
     {"d": [3, 4], "tau_A": [0.1, 0.2], "tau_S": 0.5, "tau_W": 1.5, "batch_size": 16,
      "batch_size_adv": 20, "batch_size_sup": 7, "update_H": True, "normalize": True,
      "mu_H": [0.02, 0.01]}, ("V",)),
    ("full warm-up 2, true_sample adv", "full", 2,
     {"d": [4, 3], "tau_A": [0.15, 0.1], "batch_size": 12, "batch_size_adv": 9,
      "batch_size_sup": 11, "true_sample": "adv", "warm_start_epochs": 2}, ("V",)),
    ("full update_H only", "full", 2,
     {"d": [3, 4], "tau_A": [0.1, 0.1], "batch_size": 16, "batch_size_sup": 10,
      "update_H": True}, ()),
    ("full normalize only S=3, min", "full", 3,
     {"d": [3, 3, 4], "tau_A": [0.1, 0.05, 0.1], "batch_size": 10, "batch_size_adv": 30,
      "batch_size_sup": 10, "normalize": True, "true_sample": "min"}, ("V",)),
    ("full warm start", "full", 2,
     {"d": [3, 4], "tau_A": [0.1, 0.1], "batch_size": 20, "batch_size_sup": 8}, ("warm",)),
    ("semi", "semi", 2, {"d": [4, 3], "batch_size": 10, "mu_H": [0.02, 0.05]}, ()),
    ("semi update_H normalize", "semi", 2,
     {"d": [4, 3], "batch_size": 7, "update_H": True, "normalize": True}, ()),
    ("semi update_H only", "semi", 2, {"d": [4, 3], "batch_size": 9, "update_H": True}, ()),
    ("semi normalize only S=3", "semi", 3,
     {"d": [3, 4, 2], "batch_size": 10, "normalize": True}, ()),
    ("semi init random", "semi", 2,
     {"d": [3, 3], "init": "random", "batch_size": 12}, ()),
    ("semi warm start", "semi", 2, {"d": [4, 3], "batch_size": 10}, ("warm",)),
    ("semi noise_steps 3", "semi", 2, {"d": [4, 3], "batch_size": 10, "noise_steps": 3}, ()),
    ("std wiener_exponent 2", "std", 2, {"d": [3, 4], "wiener_exponent": 2.0}, ()),
    ("semi_adv noise_steps 2 wiener_exponent 0.5", "semi_adv", 2,
     {"d": [4, 3], "tau_A": [0.2, 0.1], "batch_size": 10, "noise_steps": 2,
      "wiener_exponent": 0.5}, ()),
    ("semi_adv warm-up", "semi_adv", 2,
     {"d": [4, 3], "tau_A": [0.2, 0.1], "beta": [0.7, 1.0], "batch_size": 10,
      "warm_start_epochs": 2}, ()),
    ("semi_adv S=3 normalize", "semi_adv", 3,
     {"d": [3, 4, 3], "tau_A": [0.1, 0.2, 0.1], "batch_size": 12, "batch_size_adv": 20,
      "normalize": True, "mu_H": [0.01, 0.02, 0.03]}, ()),
    # SPEC §11: the semi noise basis models the mixtures with all bases (W H).
    ("semi KL", "semi", 2, {"d": [4, 3], "batch_size": 10, "mu_H": [0.02, 0.05],
                            "divergence": "kl"}, ()),
    ("semi KL update_H normalize", "semi", 2,
     {"d": [4, 3], "batch_size": 7, "update_H": True, "normalize": True, "divergence": "kl"},
     ()),
    ("semi_adv IS", "semi_adv", 2,
     {"d": [4, 3], "tau_A": [0.2, 0.1], "batch_size": 10, "divergence": "is"}, ()),
    ("adv KL +V", "adv", 2,
     {"d": [3, 4], "tau_A": [0.2, 0.15], "batch_size": 16, "batch_size_adv": 20,
      "divergence": "kl"}, ("V",)),
    ("sup KL", "sup", 2, {"d": [3, 4], "batch_size_sup": 10, "divergence": "kl"}, ()),
    ("full KL", "full", 2,
     {"d": [3, 4], "tau_A": [0.1, 0.1], "batch_size": 16, "batch_size_adv": 20,
      "batch_size_sup": 10, "divergence": "kl"}, ()),
]


class Data:
    """Small separation problems: each source is non-negative data of low rank
    with a basis of its own; mixtures are sums of unseen samples."""

    def __init__(self, S, seed=20240612):
        rng = np.random.default_rng(seed + S)
        bases = [rng.random((M, 3)) ** 2 for _ in range(S)]

        def samples(s, n):
            return (bases[s] @ rng.random((3, n)) + 0.02 * rng.random((M, n))).astype(np.float32)

        self.U = [samples(s, N[s]) for s in range(S)]
        self.V = sum(samples(s, N_V) for s in range(S)).astype(np.float32)
        self.U_sup = [samples(s, N_SUP) for s in range(S)]
        self.V_sup = sum(self.U_sup).astype(np.float32)
        self.test = sum(samples(s, N_TEST) for s in range(S)).astype(np.float32)
        self.rng = rng

    def warm_basis(self, d):
        return self.rng.uniform(0.05, 1.0, (M, int(sum(d)))).astype(np.float32)


def save_matrix(path, matrix):
    """An m x N matrix as the C-order (N, m) array the library reads."""
    np.save(path, np.ascontiguousarray(np.asarray(matrix, dtype=np.float32).T))


def save_warm_model(path, W, d):
    """A separator model file (the .npz members of mdnmf_model_save)."""
    params = json.dumps({"d": int(sum(d))})
    np.savez(path, W=np.ascontiguousarray(W.T), components=np.array(d, dtype=np.int64),
             mu_H=np.full(int(sum(d)), 1e-6, dtype=np.float32), params=np.array(params))


def uses_clean(mode, s, S):
    if mode == "sup":
        return False
    return s < S - 1 if mode in ("semi", "semi_adv") else True


def separation_data(mode, S, data, extras):
    """What the mode needs (SPEC §6's table); None elsewhere."""
    U = [data.U[s] if uses_clean(mode, s, S) else None for s in range(S)]
    V = data.V if mode in ("semi", "semi_adv") or "V" in extras else None
    pairs = mode in ("sup", "full")
    return ref.SeparationData(U=U, V=V, U_sup=data.U_sup if pairs else None,
                              V_sup=data.V_sup if pairs else None)


def tool_arguments(folder, sp, sd, warm_path):
    def joined(values):
        return ",".join(repr(float(v)) for v in values)

    args = ["--mode", sp.mode, "--out", folder, "--d", ",".join(str(d) for d in sp.d),
            "--epochs", str(sp.epochs), "--test-epochs", str(sp.test_epochs),
            "--batch", str(sp.batch_size), "--batch-adv", str(sp.batch_size_adv),
            "--batch-sup", str(sp.batch_size_sup), "--init", sp.init,
            "--mu-W", repr(sp.mu_W), "--tau-W", repr(sp.tau_W), "--tau-S", repr(sp.tau_S),
            "--true-sample", sp.true_sample, "--warm-start-epochs", str(sp.warm_start_epochs),
            "--noise-steps", str(sp.noise_steps), "--wiener-exponent", repr(sp.wiener_exponent),
            "--divergence", sp.divergence, "--seed", "11", "--threads", "1"]
    for name in ("mu_H", "tau_A", "beta"):
        if getattr(sp, name) is not None:
            args += ["--" + name.replace("_", "-"), joined(getattr(sp, name))]
    if sp.normalize:
        args.append("--normalize")
    if sp.update_H:
        args.append("--update-H")
    for s, U in enumerate(sd.U):
        if U is None:
            args += ["--U", "-"]
            continue
        path = os.path.join(folder, "U%d.npy" % s)
        save_matrix(path, U)
        args += ["--U", path]
    named = [("--V", "V.npy", sd.V), ("--V-sup", "V_sup.npy", sd.V_sup)]
    for s, U in enumerate(sd.U_sup or []):
        named.append(("--U-sup", "U_sup%d.npy" % s, U))
    for flag, name, matrix in named:
        if matrix is not None:
            save_matrix(os.path.join(folder, name), matrix)
            args += [flag, os.path.join(folder, name)]
    if warm_path:
        args += ["--warm", warm_path]
    return args


class Run:
    """One library run: its W, estimates, draws and progress reports."""

    def __init__(self, folder, S):
        self.W = np.load(os.path.join(folder, "W.npy")).astype(np.float64).T
        self.components = np.load(os.path.join(folder, "components.npy"))
        self.fit_draws = ref.Replay.load(folder, "fit")
        self.separate_draws = ref.Replay.load(folder, "separate")
        self.estimates = {
            wiener: [np.load(os.path.join(folder, "est_%s_%d.npy" % (wiener, s)))
                     .astype(np.float64).T for s in range(S)]
            for wiener in ("wiener", "plain")}
        with open(os.path.join(folder, "progress.csv")) as lines:
            rows = [[int(x) for x in line.split(",")] for line in lines if line.strip()]
        self.progress = np.array(rows, dtype=np.int64).reshape(-1, 4)


def run_library(tool, folder, sp, sd, data, warm):
    save_matrix(os.path.join(folder, "test.npy"), data.test)
    warm_path = None
    if warm is not None:
        warm_path = os.path.join(folder, "warm.npz")
        save_warm_model(warm_path, warm, sp.d)
    args = tool_arguments(folder, sp, sd, warm_path)
    args += ["--test", os.path.join(folder, "test.npy")]
    done = subprocess.run([tool] + args, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError("trace_separator failed (%d): %s" % (done.returncode,
                                                                 done.stderr.strip()))
    return Run(folder, sp.sources)


def check_draws(replay):
    """Recorded permutations are permutations, exemplars are distinct."""
    for kind in (ref.TRACE_PERM_TRUE, ref.TRACE_PERM_ADV, ref.TRACE_JOINT_PERM):
        for perm in replay.queues[kind]:
            assert np.array_equal(np.sort(perm), np.arange(perm.size)), \
                "a kind-%d draw is no permutation" % kind
    for chosen in replay.queues[ref.TRACE_EXEMPLARS]:
        assert np.unique(chosen).size == chosen.size, "exemplars repeat"


def check_progress(progress):
    """Every report names a stage below the stage count, which stays fixed,
    and stages only move forward."""
    if progress.size == 0:
        return
    stages = progress[:, 1]
    assert np.all(stages == stages[0]), "the stage count changes: %s" % np.unique(stages)
    assert np.all(progress[:, 0] < stages), \
        "stage %d reported with stages = %d" % (progress[:, 0].max(), stages[0])
    assert np.all(np.diff(progress[:, 0]) >= 0), "stages go backwards"
    assert progress[-1, 0] == stages[0] - 1, \
        "the last stage reported is %d of %d" % (progress[-1, 0], stages[0])


def reference_estimates(W, sp, test, replay, wiener, lam=None):
    H0 = replay.matrix(ref.TRACE_H_RANDOM, W.shape[1], test.shape[1])
    lam = sp.penalties() if lam is None else lam
    return ref.separate(W, sp.d, lam, test.astype(np.float64), H0, sp.test_epochs, wiener,
                        sp.wiener_exponent, sp.divergence)


def relative(a, b):
    scale = np.linalg.norm(b)
    return np.linalg.norm(a - b) / scale if scale > 0 else np.linalg.norm(a)


def worst(estimates, expected):
    return max(relative(e, x) for e, x in zip(estimates, expected))


def compare_case(tool, name, mode, S, overrides, extras):
    data = Data(S)
    sp = ref.SeparatorParams(mode=mode, epochs=EPOCHS, test_epochs=TEST_EPOCHS, **overrides)
    assert sp.sources == S
    sd = separation_data(mode, S, data, extras)
    warm = data.warm_basis(sp.d) if "warm" in extras else None
    with tempfile.TemporaryDirectory(prefix="mdnmf-sepref-") as folder:
        run = run_library(tool, folder, sp, sd, data, warm)
    check_draws(run.fit_draws)
    check_progress(run.progress)
    assert list(run.components) == list(sp.d), "components %s" % list(run.components)
    W_ref = ref.separator_fit(sd, sp, run.fit_draws, warm)
    assert not run.fit_draws.unused(), "draws the replay never used: %s" % run.fit_draws.unused()
    # The library separates twice (Wiener first); each transform draws its H0.
    wiener_ref = reference_estimates(run.W, sp, data.test, run.separate_draws, True)
    plain_ref = reference_estimates(run.W, sp, data.test, run.separate_draws, False)
    assert not run.separate_draws.unused(), "separation draws left over"
    result = {"W": relative(run.W, W_ref),
              "wiener": worst(run.estimates["wiener"], wiener_ref),
              "plain": worst(run.estimates["plain"], plain_ref)}
    context = {"sp": sp, "sd": sd, "data": data, "warm": warm, "run": run}
    return result, context


def wrong_permutation_order(context):
    """Replaying the mixtures' (or pairs') permutations out of order."""
    run = context["run"]
    queues = dict(run.fit_draws.queues)
    perms = queues[ref.TRACE_JOINT_PERM]
    queues[ref.TRACE_JOINT_PERM] = perms[1:] + perms[:1]
    W_wrong = ref.separator_fit(context["sd"], context["sp"], ref.Replay(queues), context["warm"])
    return relative(run.W, W_wrong)


def shared_lambda(context):
    """Separating with the paper's λ = 1e-6 for every atom instead of each
    source's own (SPEC, "Where the reference implementation differs")."""
    run, sp = context["run"], context["sp"]
    replay = ref.Replay(run.separate_draws.queues)
    lam = np.full(int(sum(sp.d)), 1e-6)
    return worst(run.estimates["plain"],
                 reference_estimates(run.W, sp, context["data"].test, replay, False, lam))


def main():
    tool = os.path.join(os.environ.get("MDNMF_TOOLS", "."), "trace_separator")
    if not os.path.exists(tool):
        print("trace_separator not found at %s (set MDNMF_TOOLS)" % tool)
        return 1
    failures, contexts = [], {}
    print("%-34s %10s %10s %10s" % ("case", "W", "wiener", "plain"))
    for name, mode, S, overrides, extras in CASES:
        try:
            result, context = compare_case(tool, name, mode, S, overrides, extras)
        except (RuntimeError, AssertionError, IndexError, ValueError) as error:
            print("%-34s FAILED: %s" % (name, error))
            failures.append(name)
            continue
        contexts[name] = context
        print("%-34s %10.2e %10.2e %10.2e" % (name, result["W"], result["wiener"],
                                              result["plain"]))
        if not all(value <= TOLERANCE for value in result.values()):
            failures.append(name)
    controls = [("semi", "mixtures' permutations out of order", wrong_permutation_order),
                ("semi_adv S=3 normalize", "shared lambda = 1e-6 in separation",
                 shared_lambda)]
    for case, what, control in controls:
        if case not in contexts:
            failures.append("negative control (%s)" % what)
            continue
        difference = control(contexts[case])
        print("negative control (%s): differs by %.2e" % (what, difference))
        if not difference > 100 * TOLERANCE:
            failures.append("negative control (%s)" % what)
    if failures:
        print("FAILED (tolerance %g): %s" % (TOLERANCE, ", ".join(failures)))
        return 1
    print("all %d cases agree within %g" % (len(CASES), TOLERANCE))
    return 0


if __name__ == "__main__":
    sys.exit(main())
