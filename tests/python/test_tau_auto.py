"""NMF_separation(tau_A="auto") (issue 13, item 3; mdnmf_tau_auto_run) on
MNIST digits 2 and 3 (data/mnist; synthetic images made of random parts
without the data), checked against what it stands for, rebuilt here: one
plain fit per grid value from the NMF bases and NumPy's PSNR of their
separations of the validation pairs, and the choice rule written out (a larger
tau_A replaces the chosen one only when its median is higher and its mean
per-pair gain exceeds one standard error of the gains; tau_margin=0: the best
median); the held-out pairs
are the documented draw (mdnmf_shuffle_indices with the documented seeds, mixtures with weights
1/2); the model kept is the plain fit of the chosen tau_A."""

import ctypes
import os
import tempfile

from harness import SOURCE_ROOT, run_tests

import numpy as np

from mdnmf import NMF_separation, _native
from mdnmf._native import lib
from mdnmf.errors import InvalidArgumentError, ShapeError

MNIST = os.path.join(SOURCE_ROOT, "data", "mnist")


def real_digits():
    """Whether data/mnist has digits 2 and 3 (else synthetic images stand in)."""
    return all(os.path.exists(os.path.join(MNIST, f"digit{k}.npy")) for k in (2, 3))
TRAIN, VALIDATION = 150, 40
SETTINGS = dict(epochs=8, test_epochs=30, normalize=True, mu_H=0.01, batch_size=50,
                batch_size_adv=50, seed=0, threads=1)
DS = [10, 10]
MASK = (1 << 64) - 1


def made_of_parts(rng, count):
    parts = np.zeros((8, 784), np.float32)
    for k in range(8):
        parts[k, rng.integers(0, 784, 60)] = rng.uniform(0.3, 1.0, 60)
    return np.clip((rng.random((count, 8)) ** 3) @ parts, 0, 1).astype(np.float32)


def digits():
    """Two classes as (784, count) columns, weighted 1/2 as in the image
    experiments."""
    paths = [os.path.join(MNIST, f"digit{k}.npy") for k in (2, 3)]
    if all(os.path.exists(p) for p in paths):
        images = [np.load(p)[:TRAIN + VALIDATION].astype(np.float32) for p in paths]
    else:
        rng = np.random.default_rng(0)
        images = [made_of_parts(rng, TRAIN + VALIDATION) for _ in range(2)]
    return [np.asfortranarray(0.5 * x.T) for x in images]


def psnr_per_pair(separator, truths, mixtures):
    """SPEC §9 in NumPy: per pair the mean over sources of 20 log10(max /
    rmse)."""
    estimates = separator.separate(mixtures)  # (m, S, N)
    per_source = []
    for s, truth in enumerate(truths):
        truth = truth.astype(np.float64)
        error = truth - estimates[:, s, :].astype(np.float64)
        per_source.append(20 * np.log10(truth.max(axis=0) / np.sqrt(np.mean(error ** 2, axis=0))))
    return np.mean(per_source, axis=0)


def margin_choice(per_pair, grid, margin=1.0):
    """The documented rule: walking up the grid, tau_A replaces the chosen one
    when its median is higher and the mean of the per-pair differences
    exceeds `margin` standard errors (sd with n - 1, over sqrt(n))."""
    chosen = grid[0]
    for tau in grid[1:]:
        gain = per_pair[tau] - per_pair[chosen]
        better = np.median(per_pair[tau]) > np.median(per_pair[chosen])
        if better and np.mean(gain) > margin * np.std(gain, ddof=1) / np.sqrt(len(gain)):
            chosen = tau
    return chosen


def best_median(per_pair, grid):
    return max(grid, key=lambda tau: (float(np.median(per_pair[tau])), -tau))


def plain(prob, U, V=None, tau_A=0.1, start=None):
    ws = None if start is None else [start.W[:, :DS[0]], start.W[:, DS[0]:]]
    return NMF_separation(DS, prob=prob, tau_A=tau_A, Ws=ws, **SETTINGS).fit(U=U, V=V)


def grid_fits(grid, U, V):
    """NMF on U, then a plain MDNMF fit from it for every grid value above 0."""
    nmf = plain("std", U)
    return {0.0: nmf, **{tau: plain("adv", U, V, tau, nmf) for tau in grid[1:]}}


def check_scores_and_refit(auto, per_pair, grid, U, V, truths, mixtures):
    """Every grid point's score is the median of its per-pair scores, and
    the model kept is NMF and the rule's tau_A fitted again on all of U,
    confirmed: kept only when its median on the validation pairs (truths,
    mixtures) is above the NMF refit's, else that NMF."""
    for tau, value in zip(grid, auto.tau_auto_["validation"]):
        assert abs(value - np.median(per_pair[tau])) < 1e-6, (tau, value)
    chosen = margin_choice(per_pair, grid)
    all_nmf = plain("std", U)
    if chosen == 0.0:
        assert auto.tau_auto_["confirm"] == [None, None], auto.tau_auto_
        check_choice(auto, {0.0: all_nmf}, 0.0)
        return chosen
    final = plain("adv", U, V, chosen, all_nmf)
    medians = [float(np.median(psnr_per_pair(fit, truths, mixtures))) for fit in (all_nmf, final)]
    assert np.allclose(auto.tau_auto_["confirm"], medians, rtol=0, atol=1e-6), \
        (auto.tau_auto_, medians)
    kept = chosen if medians[1] > medians[0] else 0.0
    assert auto.tau_auto_["rejected"] == (None if kept else chosen), auto.tau_auto_
    check_choice(auto, {chosen: final, 0.0: all_nmf}, kept)
    return chosen


def check_choice(auto, fits, expected):
    """The chosen tau_A is `expected`, and the model kept is that fit's."""
    assert auto.tau_auto_["chosen"] == expected and auto.tau_A_ == [expected, expected], \
        (auto.tau_auto_, expected)
    assert np.array_equal(auto.W, fits[expected].W), "not the chosen plain fit's bases"


def test_given_validation_pairs():
    grid = [0.0, 0.05, 0.1, 0.2, 0.3]
    a, b = digits()
    U, V = [a[:, :TRAIN], b[:, :TRAIN]], a[:, :TRAIN] + b[:, :TRAIN]
    truths, mixtures = [a[:, TRAIN:], b[:, TRAIN:]], a[:, TRAIN:] + b[:, TRAIN:]
    auto = NMF_separation(DS, prob="adv", tau_A="auto", tau_grid=grid, **SETTINGS)
    auto.fit(U=U, V=V, U_val=truths, V_val=mixtures)
    assert auto.tau_auto_["tau_A"] == grid and not auto.tau_auto_["held_out"]
    assert auto.tau_auto_["validation_pairs"] == VALIDATION
    nmf = plain("std", U)
    fits = {0.0: nmf, **{tau: plain("adv", U, V, tau, nmf) for tau in grid[1:]}}
    per_pair = {tau: psnr_per_pair(fits[tau], truths, mixtures) for tau in grid}
    for tau, value in zip(grid, auto.tau_auto_["validation"]):
        assert abs(value - np.median(per_pair[tau])) < 1e-6, (tau, value)
    expected = margin_choice(per_pair, grid)
    check_choice(auto, fits, expected)
    # On MNIST 2/3 the old rule (the best median) picks another tau_A;
    # tau_margin=0 asks for it.  (Not on the synthetic stand-in: there
    # unit/test_search's margin cases tell the rules apart.)
    if real_digits():
        assert best_median(per_pair, grid) != expected, auto.tau_auto_
    old = NMF_separation(DS, prob="adv", tau_A="auto", tau_grid=grid, tau_margin=0, **SETTINGS)
    old.fit(U=U, V=V, U_val=truths, V_val=mixtures)
    check_choice(old, fits, best_median(per_pair, grid))
    # The chosen tau_A travels with the model file.
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "auto.npz")
        auto.save(path)
        assert NMF_separation.load(path).tau_A == auto.tau_A_


def held_out_columns(n, k, seed, source):
    """mdnmf_tau_auto_run's documented draw of source `source`'s held-out columns."""
    perm = (ctypes.c_int64 * n)()
    seed_s = (seed * 0x9E3779B97F4A7C15 + (source + 1) * 0xBF58476D1CE4E5B9) & MASK
    lib.mdnmf_shuffle_indices.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_uint64,
                                          ctypes.c_void_p]
    assert lib.mdnmf_shuffle_indices(perm, n, seed_s, None) == 0
    return list(perm[:k])


def test_held_out_validation_pairs_and_the_refit_on_all_data():
    grid = [0.0, 0.1, 0.2]
    a, b = digits()
    U, V = [a[:, :TRAIN], b[:, :TRAIN]], a[:, :TRAIN] + b[:, :TRAIN]
    auto = NMF_separation(DS, prob="adv", tau_A="auto", tau_grid=grid, **SETTINGS)
    auto.fit(U=U, V=V)
    k = int(0.2 * TRAIN)
    assert auto.tau_auto_["held_out"] and auto.tau_auto_["validation_pairs"] == k
    held = [held_out_columns(TRAIN, k, SETTINGS["seed"], s) for s in range(2)]
    rest = [np.asfortranarray(np.delete(U[s], held[s], axis=1)) for s in range(2)]
    truths = [np.asfortranarray(U[s][:, held[s]] * np.float32(0.5)) for s in range(2)]
    mixtures = np.asfortranarray(truths[0] + truths[1])
    fits = grid_fits(grid, rest, V)
    per_pair = {tau: psnr_per_pair(fits[tau], truths, mixtures) for tau in grid}
    chosen = check_scores_and_refit(auto, per_pair, grid, U, V, truths, mixtures)
    # Without the confirmation the refit of the chosen tau_A is the model.
    unconfirmed = NMF_separation(DS, prob="adv", tau_A="auto", tau_grid=grid,
                                 tau_confirm=False, **SETTINGS).fit(U=U, V=V)
    assert unconfirmed.tau_auto_["confirm"] == [None, None], unconfirmed.tau_auto_
    all_nmf = plain("std", U)
    final = all_nmf if chosen == 0.0 else plain("adv", U, V, chosen, all_nmf)
    check_choice(unconfirmed, {chosen: final}, chosen)


def shuffled(n, seed):
    """mdnmf_shuffle_indices(n, seed): the order the folds are cut from."""
    perm = (ctypes.c_int64 * n)()
    lib.mdnmf_shuffle_indices.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_uint64,
                                          ctypes.c_void_p]
    assert lib.mdnmf_shuffle_indices(perm, n, seed & MASK, None) == 0
    return list(perm)


def test_folds_over_the_training_pairs():
    """tau_folds=K: fold f is positions [f n/K, (f+1) n/K) of the shuffled
    pairs; NMF and every grid value fitted on the other folds' U and V score
    the fold's pairs; the rule sees all n pairs; the model kept is the plain
    fit of the chosen tau_A on all pairs."""
    grid, K = [0.0, 0.1, 0.2], 3
    a, b = digits()
    U, V = [a[:, :TRAIN], b[:, :TRAIN]], np.asfortranarray(a[:, :TRAIN] + b[:, :TRAIN])
    auto = NMF_separation(DS, prob="adv", tau_A="auto", tau_grid=grid, tau_folds=K,
                          **SETTINGS)
    auto.fit(U=U, V=V)
    assert auto.tau_auto_["held_out"] and auto.tau_auto_["validation_pairs"] == TRAIN
    perm = shuffled(TRAIN, SETTINGS["seed"])
    per_pair = {tau: [] for tau in grid}
    for f in range(K):
        fold = perm[f * TRAIN // K:(f + 1) * TRAIN // K]
        rest = sorted(set(range(TRAIN)) - set(fold))
        U_rest = [np.asfortranarray(u[:, rest]) for u in U]
        V_rest = np.asfortranarray(V[:, rest])
        truths = [np.asfortranarray(u[:, fold]) for u in U]
        fits = grid_fits(grid, U_rest, V_rest)
        for tau in grid:
            per_pair[tau].append(psnr_per_pair(fits[tau], truths,
                                               np.asfortranarray(V[:, fold])))
    per_pair = {tau: np.concatenate(scores) for tau, scores in per_pair.items()}
    check_scores_and_refit(auto, per_pair, grid, U, V, U, V)
    # With margin 0 the best pooled median is chosen.
    old = NMF_separation(DS, prob="adv", tau_A="auto", tau_grid=grid, tau_folds=K,
                         tau_margin=0, **SETTINGS).fit(U=U, V=V)
    # (the validation's choice: the confirmation may have turned it down)
    validated = old.tau_auto_["rejected"] or old.tau_auto_["chosen"]
    assert validated == best_median(per_pair, grid), old.tau_auto_


def confirm(nmf, mdnmf, truths, mixtures, sources=2):
    """mdnmf_tau_auto_confirm(nmf, mdnmf) on the pairs: (metric[0], metric[1],
    keep), or (status, message) when it fails."""
    spec = _native.TauAuto()
    lib.mdnmf_tau_auto_default(ctypes.byref(spec), sources)
    truths = [np.asfortranarray(t, dtype=np.float32) for t in truths]
    mixtures = np.asfortranarray(mixtures, dtype=np.float32)
    U = (ctypes.c_void_p * 2)(*[t.ctypes.data for t in truths])
    metric, keep, error = (ctypes.c_double * 2)(), ctypes.c_int(-1), _native.Error()
    models = [fit._model_for_separation(SETTINGS["seed"]) for fit in (nmf, mdnmf)]
    status = lib.mdnmf_tau_auto_confirm(models[0].handle, models[1].handle, ctypes.byref(spec),
                                        U, mixtures.ctypes.data, mixtures.shape[0],
                                        mixtures.shape[1], metric, ctypes.byref(keep),
                                        ctypes.byref(error))
    if status:
        return status, error.text()
    return metric[0], metric[1], keep.value


def test_confirm_keeps_the_model_that_separates_the_pairs_better():
    """mdnmf_tau_auto_confirm: both medians are NumPy's, and the second model
    is kept only when its median is higher; an NMF whose two sources' bases
    are swapped separates far worse, so it is turned down against the NMF
    and the NMF is kept against it."""
    a, b = digits()
    U, V = [a[:, :TRAIN], b[:, :TRAIN]], a[:, :TRAIN] + b[:, :TRAIN]
    truths, mixtures = [a[:, TRAIN:], b[:, TRAIN:]], a[:, TRAIN:] + b[:, TRAIN:]
    nmf = plain("std", U)
    swapped = NMF_separation(DS, prob="std", Ws=[nmf.W[:, DS[0]:], nmf.W[:, :DS[0]]],
                             **SETTINGS)
    swapped.W = np.hstack([nmf.W[:, DS[0]:], nmf.W[:, :DS[0]]])
    medians = {name: float(np.median(psnr_per_pair(fit, truths, mixtures)))
               for name, fit in (("nmf", nmf), ("swapped", swapped))}
    assert medians["nmf"] > medians["swapped"] + 1, medians
    for first, second, kept in (("nmf", "swapped", 0), ("swapped", "nmf", 1)):
        fits = {"nmf": nmf, "swapped": swapped}
        got = confirm(fits[first], fits[second], truths, mixtures)
        assert np.allclose(got[:2], [medians[first], medians[second]], rtol=0, atol=1e-6), got
        assert got[2] == kept, (first, second, got)
    # A model against itself ties, and ties keep the first (the NMF).
    assert confirm(nmf, nmf, truths, mixtures)[2] == 0
    # Models of two sources against a spec of three: refused.
    status, message = confirm(nmf, swapped, truths, mixtures, sources=3)
    assert status == _native.ERR_ARGUMENT and "sources" in message, (status, message)


def test_folds_need_lined_up_pairs():
    a, b = digits()
    U, V = [a[:, :TRAIN], b[:, :TRAIN]], a[:, :TRAIN] + b[:, :TRAIN]
    for kwargs, data, error, mention in (
            ({"tau_folds": 1}, dict(U=U, V=V), InvalidArgumentError, "pair_folds"),
            ({"tau_folds": 3}, dict(U=U, V=V[:, :TRAIN - 1]), ShapeError, "line up"),
            ({"tau_folds": 3}, dict(U=U, V=V, U_val=U, V_val=V), InvalidArgumentError,
             "U_val"),
            ({"tau_folds": 3, "prob": "semi_adv"}, dict(U=U[:1], V=V), InvalidArgumentError,
             "mode adv")):
        settings = {"prob": "adv", **kwargs}
        try:
            NMF_separation(DS, tau_A="auto", tau_grid=[0.0, 0.1], **settings,
                           **SETTINGS).fit(**data)
        except error as raised:
            assert mention in str(raised), (mention, str(raised))
        else:
            raise AssertionError(f"{kwargs} was accepted")


def test_auto_needs_an_adversarial_mode_and_checks_its_grid():
    a, b = digits()
    U = [a[:, :TRAIN], b[:, :TRAIN]]
    for kwargs, mention in (({"prob": "std"}, "adversarial term"),
                            ({"prob": "adv", "tau_grid": [0.1, 0.2]}, "start at 0"),
                            ({"prob": "adv", "validation_fraction": 1.5}, "validation_fraction"),
                            ({"prob": "adv", "tau_margin": -1}, "margin")):
        try:
            NMF_separation(DS, tau_A="auto", **kwargs, **SETTINGS).fit(U=U)
        except InvalidArgumentError as error:
            assert mention in str(error), (mention, str(error))
        else:
            raise AssertionError(f"{kwargs} was accepted")


if __name__ == "__main__":
    run_tests(globals())
