"""NMF and NMF_separation (the research code's interface) against the seed
README's usage, the CLI, NumPy re-computations of SPEC §4/§9, and their own
save/load."""

import copy
import pickle

import numpy as np
from harness import Folder, problem, raises, run_cli, run_tests, two_sources

import mdnmf
from mdnmf import NMF, NMF_separation

# The usage section of the research code's README (seeds/mdnmf-seed-README.md),
# verbatim; only the import in front of it is ours.
SEED_README_USAGE = '''
d = 32 # Number of basis vectors

# 100 epochs with batch size 500 
nmf = NMF(d = d, batch_size = 500, epochs = 100)

# Standard fitting
nmf.fit_std(U)

W = nmf.W
H = nmf.H

U_reconstructed = np.dot(W, H)

H = nmf.transform(U)

nmf = NMF(d = d, batch_size = 500, epochs = 100, prob = "adv", tau_A = 0.1)

nmf.fit_adv(U, U_hat)
'''


def relative_error(U, W, H):
    return float(np.linalg.norm(U - W @ H) / np.linalg.norm(U))


def test_seed_readme_usage_runs_with_only_the_import_changed():
    rng = np.random.default_rng(7)
    m = 64
    parts = rng.random((m, 48)) * (rng.random((m, 48)) < 0.3)
    U = (parts[:, :40] @ rng.random((40, 1000)) ** 2).astype(np.float32)      # true data
    U_hat = (parts[:, 8:] @ rng.random((40, 600)) ** 2).astype(np.float32)    # adversarial
    namespace = {"U": U, "U_hat": U_hat}
    exec("from mdnmf import NMF\nimport numpy as np\n" + SEED_README_USAGE, namespace)
    W, H, reconstructed = namespace["W"], namespace["H"], namespace["U_reconstructed"]
    assert W.shape == (m, 32) and H.shape == (32, 1000) and reconstructed.shape == U.shape
    assert relative_error(U, W, H) < 0.15
    assert relative_error(U, namespace["nmf"].W, namespace["nmf"].transform(U)) < 0.15
    # The second nmf is MDNMF: it fits the true data about as well and the
    # adversarial data worse than the NMF basis does.
    mdnmf_basis = namespace["nmf"].W
    nmf_on_hat = relative_error(U_hat, W, NMF(W=W).transform(U_hat))
    mdnmf_on_hat = relative_error(U_hat, mdnmf_basis, NMF(W=mdnmf_basis).transform(U_hat))
    assert mdnmf_on_hat > nmf_on_hat, (mdnmf_on_hat, nmf_on_hat)
    assert namespace["nmf"].H_adv.shape == (32, 600)


# Option sets given to both the CLI and Python: (CLI options, NMF arguments).
CLI_CASES = [
    ([], {}),
    (["--batch-size", "16", "--normalize", "--update-h"],
     {"batch_size": 16, "normalize": True, "update_H": True}),
    (["--init", "random", "--mu-w", "0.001", "--mu-h", "0.01", "--test-epochs", "7"],
     {"init": "rand", "mu_W": 1e-3, "mu_H": 0.01, "test_epochs": 7}),
    (["--tau-a", "0.3", "--tau-w", "2", "--batch-size", "20", "--adv-batch-size", "15",
      "--true-sample", "min"],
     {"tau_A": 0.3, "tau_W": 2.0, "batch_size": 20, "batch_size_adv": 15,
      "true_sample": "min"}),
]


def cli_fit(folder, U, args, U_adv=None, omega=None, name="cli"):
    np.save(folder / "U.npy", np.ascontiguousarray(U.T))
    extra = []
    if U_adv is not None:
        np.save(folder / "adv.npy", np.ascontiguousarray(U_adv.T))
        extra = ["-a", folder / "adv.npy", "--method", "adv"]
    if omega is not None:
        np.save(folder / "omega.npy", omega)
        extra += ["--adv-weights", folder / "omega.npy"]
    path = folder / f"{name}.npz"
    run_cli("fit", "-i", folder / "U.npy", "-d", 5, "--epochs", 12, "--seed", 1234, "-q",
            "-o", path, *extra, *args)
    return path


def test_fit_std_is_bit_identical_to_the_cli():
    U, _ = problem()
    with Folder() as folder:
        for args, kwargs in CLI_CASES[:3]:
            path = cli_fit(folder, U, args)
            nmf = NMF(d=5, epochs=12, seed=1234, **kwargs)
            nmf.fit_std(U)
            assert np.array_equal(nmf.W, np.load(path)["W"].T), args


def test_fit_adv_is_bit_identical_to_the_cli():
    U, U_adv = problem()
    omega = np.random.default_rng(3).uniform(0.2, 2.0, U_adv.shape[1]).astype(np.float32)
    with Folder() as folder:
        for args, kwargs in CLI_CASES:
            for weights in (None, omega):
                path = cli_fit(folder, U, args, U_adv, weights)
                nmf = NMF(d=5, epochs=12, seed=1234, prob="adv", omega=weights,
                          **{"tau_A": 0.1, **kwargs})
                nmf.fit_adv(U, U_adv)
                assert np.array_equal(nmf.W, np.load(path)["W"].T), (args, weights is None)


def test_exemplar_and_warm_start_are_bit_identical_to_the_cli():
    U, _ = problem()
    with Folder() as folder:
        path = cli_fit(folder, U, ["--method", "exemplar", "--normalize"], name="exem")
        exem = NMF(d=5, seed=1234, normalize=True)
        exem.fit_exem(U)
        assert np.array_equal(exem.W, np.load(path)["W"].T)
        warm = cli_fit(folder, U, ["--warm-start", path, "--batch-size", "25"], name="warm")
        nmf = NMF(d=5, epochs=12, seed=1234, batch_size=25, W=exem.W)
        nmf.fit_std(U)
        assert np.array_equal(nmf.W, np.load(warm)["W"].T)
        assert not np.array_equal(nmf.W, exem.W)


def test_models_move_between_cli_and_python():
    U, U_adv = problem()
    with Folder() as folder:
        path = cli_fit(folder, U, ["--tau-a", "0.2", "--mu-h", "0.02"], U_adv)
        loaded = NMF.load(path)
        assert (loaded.d, loaded.epochs, loaded.tau_A, loaded.mu_H, loaded.seed) == \
            (5, 12, 0.2, 0.02, 1234)
        run_cli("transform", "-m", path, "-i", folder / "U.npy", "-o", folder / "H.npy")
        assert np.array_equal(loaded.transform(U), np.load(folder / "H.npy").T)
        # A Python model is read by the CLI: its transform equals Python's.
        nmf = NMF(d=4, epochs=5, seed=99, test_epochs=9, mu_H=[0.0, 0.01, 0.02, 0.03])
        nmf.fit_std(U)
        nmf.save(folder / "python.npz")
        run_cli("transform", "-m", folder / "python.npz", "-i", folder / "U.npy",
                "-o", folder / "H2.npy")
        assert np.array_equal(nmf.transform(U), np.load(folder / "H2.npy").T)
        saved = np.load(folder / "python.npz")
        assert np.array_equal(saved["W"], nmf.W.T)
        assert np.allclose(saved["mu_H"], [0.0, 0.01, 0.02, 0.03])


def test_fortran_float32_is_not_copied_and_other_layouts_are_converted_once():
    U, _ = problem()
    assert U.flags.f_contiguous and U.dtype == np.float32
    assert mdnmf.as_columns(U) is U
    rows = np.ascontiguousarray(U.T)            # (N, m) C order: the same bytes
    assert np.shares_memory(mdnmf.as_columns(rows.T), rows)
    converted = mdnmf.as_columns(np.ascontiguousarray(U, dtype=np.float64))
    assert converted.flags.f_contiguous and converted.dtype == np.float32
    assert np.array_equal(converted, U)
    before = U.copy()
    nmf = NMF(d=4, epochs=3, seed=0)
    nmf.fit_std(U)
    assert np.array_equal(U, before)            # the library only reads its input
    H = nmf.transform(U)
    assert H.flags.f_contiguous and H.dtype == np.float32 and H.shape == (4, U.shape[1])
    # Any layout gives the same result.
    assert np.array_equal(nmf.transform(np.ascontiguousarray(U, dtype=np.float64)), H)


def test_conv_returns_the_loss_of_every_epoch():
    U, U_adv = problem()
    nmf = NMF(d=5, epochs=6, seed=2)
    loss = nmf.fit_std(U, conv=True)
    assert loss.shape == (7,) and loss[-1] < loss[0]
    expected = np.linalg.norm(U - nmf.W.astype(np.float64) @ nmf.H) ** 2 / U.shape[1]
    assert abs(loss[-1] - expected) <= 1e-4 * expected
    adv = NMF(d=5, epochs=6, seed=2, tau_A=0.2, tau_W=1.5)
    loss = adv.fit_adv(U, U_adv, conv=True)
    W, H, H_adv = (x.astype(np.float64) for x in (adv.W, adv.H, adv.H_adv))
    expected = (1.5 * np.linalg.norm(U - W @ H) ** 2 / U.shape[1]
                - 0.2 * np.linalg.norm(U_adv - W @ H_adv) ** 2 / U_adv.shape[1])
    assert loss.shape == (7,) and abs(loss[-1] - expected) <= 1e-4 * abs(expected)


def test_seed_none_follows_numpys_global_generator():
    U, _ = problem()

    def fit():
        nmf = NMF(d=5, epochs=3)
        nmf.fit_std(U)
        return nmf.W

    np.random.seed(5)
    first = fit()
    np.random.seed(5)
    assert np.array_equal(fit(), first)
    assert not np.array_equal(fit(), first)


def test_nmf_save_load_round_trip_and_pickle():
    U, U_adv = problem()
    nmf = NMF(d=5, epochs=4, seed=8, tau_A=0.25, batch_size=20, normalize=True,
              mu_H=[0.0, 1e-3, 2e-3, 3e-3, 4e-3], true_sample="adv", threads=1)
    nmf.fit_adv(U, U_adv)
    H = nmf.transform(U)
    with Folder() as folder:
        nmf.save(folder / "m.npz")
        back = mdnmf.load(folder / "m.npz")
    assert isinstance(back, NMF) and np.array_equal(back.W, nmf.W)
    assert (back.tau_A, back.batch_size, back.normalize, back.true_sample, back.seed) == \
        (0.25, 20, True, "adv", 8)
    assert np.allclose(back.mu_H, nmf.mu_H)
    assert np.array_equal(back.transform(U), H)
    for clone in (pickle.loads(pickle.dumps(nmf)), copy.deepcopy(nmf)):
        assert np.array_equal(clone.W, nmf.W) and np.array_equal(clone.transform(U), H)


def fitted_separator(prob, **extra):
    U0, U1, T0, T1, V = two_sources()
    rng = np.random.default_rng(4)
    pairs = [np.asfortranarray(0.5 * U0[:, :100]), np.asfortranarray(0.5 * U1[:, 100:])]
    data = {"std": dict(U=[U0, U1]), "exem": dict(U=[U0, U1]),
            "adv": dict(U=[U0, U1], V=V[:, rng.permutation(V.shape[1])[:30]]),
            "sup": dict(U_sup=pairs, V_sup=pairs[0] + pairs[1]),
            "full": dict(U=[U0, U1], U_sup=pairs, V_sup=pairs[0] + pairs[1]),
            "semi": dict(U=[U0], V=V), "semi_adv": dict(U=[U0], V=V)}[prob]
    settings = dict(ds=[6, 6], prob=prob, epochs=25, seed=21, batch_size=50, tau_A=0.1)
    settings.update(extra)
    separator = NMF_separation(**settings)
    separator.fit(**data)
    return separator, (T0, T1, V)


def test_every_mode_fits_and_separates_better_than_halving():
    U0, U1, T0, T1, V = two_sources()
    halves = np.median(np.mean([mdnmf.psnr(T, 0.5 * V) for T in (T0, T1)], axis=0))
    for prob in NMF_separation.__init__.__globals__["PROBS"]:
        separator, (T0, T1, V) = fitted_separator(prob)
        score = separator.eval([T0, T1], V)
        assert score > halves + 3, (prob, score, halves)
        estimates = separator.separate(V)
        assert estimates.shape == (V.shape[0], 2, V.shape[1])
        # Wiener filtering: the estimates add up to the mixture, within [0, max V].
        assert np.allclose(estimates.sum(axis=1), V, atol=1e-5 * V.max())
        assert estimates.min() >= 0 and estimates.max() <= V.max()
        assert [n.W.shape for n in separator.NMFs] == [(V.shape[0], 6)] * 2
        assert np.array_equal(np.hstack([n.W for n in separator.NMFs]), separator.W)


def test_eval_is_the_median_of_the_mean_psnr_over_sources():
    separator, (T0, T1, V) = fitted_separator("std")
    estimates = separator.separate(V).astype(np.float64)
    truths = [T0.astype(np.float64), T1.astype(np.float64)]
    errors = np.array([np.mean((truths[s] - estimates[:, s, :]) ** 2, axis=0)
                       for s in range(2)])
    peaks = np.array([t.max(axis=0) for t in truths])
    psnr = 20 * np.log10(peaks / np.sqrt(errors))
    assert np.allclose(separator.eval([T0, T1], V, aggregate=None), psnr, atol=1e-6)
    assert abs(separator.eval([T0, T1], V) - np.median(psnr.mean(axis=0))) < 1e-9
    assert abs(separator.eval([T0, T1], V, aggregate="mean") - psnr.mean()) < 1e-9
    assert np.allclose(separator.eval([T0, T1], V, metric="mse", aggregate=None), errors)
    assert np.allclose(separator.eval([T0, T1], V, metric="norm", aggregate=None),
                       errors * V.shape[0])
    # The research code's (m, S, N) layout is accepted for the truth too.
    stacked = np.stack([T0, T1], axis=1)
    assert separator.eval(stacked, V) == separator.eval([T0, T1], V)


def test_create_adversarial_is_spec_section_4():
    U0, U1, _, _, V = two_sources()
    U2 = np.asfortranarray(U0[:, :50] + 0.1)
    separator = NMF_separation(ds=[3, 3, 3], betas=[0.5, 1.0, 2.0])
    data = [U0, U1, U2]
    adversarial = separator.create_adversarial(data, V)
    for i in range(3):
        others = [j for j in range(3) if j != i]
        total = sum(data[j].shape[1] for j in others) + V.shape[1]
        beta = [0.5, 1.0, 2.0][i]
        blocks = [np.sqrt(data[j].shape[1] / total) * data[j] for j in others]
        blocks.append(np.sqrt(V.shape[1] / total) * beta * V)
        weights = [np.full(data[j].shape[1], data[j].shape[1] / total) for j in others]
        weights.append(np.full(V.shape[1], V.shape[1] * beta / total))
        assert np.allclose(adversarial[i], np.hstack(blocks), rtol=1e-6)
        assert np.allclose(separator.omegas[i], np.concatenate(weights), rtol=1e-6)


def test_custom_omegas_reproduce_the_librarys_adv_mode():
    # Given SPEC §4's own weights, the Python-driven path (per-source
    # mdnmf_fit_adv) must equal the library's separator bit for bit; other
    # weights must change the bases.
    U0, U1, _, _, V = two_sources()
    settings = dict(ds=[5, 7], prob="adv", epochs=10, tau_A=[0.1, 0.2], seed=11, mu_H=0.05,
                    batch_size=32, batch_size_adv=40, warm_start_epochs=3, betas=[0.7, 1.3])
    library = NMF_separation(**settings).fit(U=[U0, U1], V=V)
    probe = NMF_separation(**settings)
    probe.create_adversarial([U0, U1], V)
    python = NMF_separation(omegas=probe.omegas, **settings).fit(U=[U0, U1], V=V)
    assert np.array_equal(python.W, library.W)
    doubled = NMF_separation(omegas=[2 * w for w in probe.omegas], **settings)
    assert not np.array_equal(doubled.fit(U=[U0, U1], V=V).W, library.W)


def test_nmf_with_ds_fits_the_separator_modes():
    separator, _ = fitted_separator("sup", mu_H=1e-6, tau_S=1.0)
    U0, U1, _, _, _ = two_sources()
    pairs = [np.asfortranarray(0.5 * U0[:, :100]), np.asfortranarray(0.5 * U1[:, 100:])]
    nmf = NMF(ds=[6, 6], prob="sup", epochs=25, seed=21, batch_size=50, tau_S=1.0)
    nmf.fit(U_sup=pairs, V_sup=pairs[0] + pairs[1])
    assert nmf.d == 12 and np.array_equal(nmf.W, separator.W)


def test_bases_set_by_hand_are_used():
    separator, (T0, T1, V) = fitted_separator("std")
    fitted = separator.separate(V)
    swapped = NMF_separation(ds=[6, 6], Ws=[separator.NMFs[1].W, separator.NMFs[0].W],
                             seed=21, mu_H=separator.mu_H)
    by_hand = swapped.separate(V)
    # The sources trade places (up to the transform's different random start).
    assert abs(swapped.eval([T1, T0], V) - separator.eval([T0, T1], V)) < 1.0
    assert not np.array_equal(by_hand[:, ::-1, :], fitted)
    # Assigning the fitted separator's per-source bases takes effect as well.
    separator.NMFs[0].W, separator.NMFs[1].W = separator.NMFs[1].W, separator.NMFs[0].W
    assert np.array_equal(separator.separate(V), by_hand)


def test_separator_save_load_round_trip():
    separator, (T0, T1, V) = fitted_separator("adv", betas=[0.5, 2.0], tau_S=0.25,
                                              mu_H=[1e-3, 2e-3], warm_start_epochs=2)
    estimates = separator.separate(V)
    with Folder() as folder:
        separator.save(folder / "separator.npz")
        back = mdnmf.load(folder / "separator.npz")
        assert isinstance(back, NMF_separation)
        raises(mdnmf.ShapeError, mdnmf.MDNMF.load, folder / "separator.npz")
    assert (back.prob, back.ds, back.tau_A, back.betas, back.tau_S, back.warm_start_epochs,
            back.epochs, back.seed) == ("adv", [6, 6], [0.1, 0.1], [0.5, 2.0], 0.25, 2, 25, 21)
    assert np.allclose(back.mu_H, [1e-3, 2e-3])
    assert np.array_equal(back.W, separator.W)
    assert np.array_equal(back.separate(V), estimates)
    clone = pickle.loads(pickle.dumps(separator))
    assert np.array_equal(clone.separate(V), estimates)


if __name__ == "__main__":
    run_tests(globals())
