"""MDNMF, the scikit-learn style estimator: rows are samples; the same numbers
as the CLI; clone, pipelines and grid searches; save/load and pickling."""

import pickle

import numpy as np
from harness import Folder, problem, raises, run_cli, run_tests
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler

import mdnmf
from mdnmf import MDNMF, NMF


def rows():
    U, U_adv = problem(m=25, n=120, n_adv=90, seed=4)
    return np.ascontiguousarray(U.T), np.ascontiguousarray(U_adv.T)  # (N, m) C order


def test_same_basis_as_the_cli_and_nmf():
    X, X_adv = rows()
    estimator = MDNMF(n_components=6, tau_A=0.2, batch_size=32, batch_size_adv=30,
                      max_iter=15, random_state=5)
    estimator.fit(X, X_adv)
    with Folder() as folder:
        np.save(folder / "X.npy", X)
        np.save(folder / "A.npy", X_adv)
        run_cli("fit", "-i", folder / "X.npy", "-a", folder / "A.npy", "-d", 6, "--tau-a", 0.2,
                "--batch-size", 32, "--adv-batch-size", 30, "--epochs", 15, "--seed", 5, "-q",
                "-o", folder / "m.npz")
        assert np.array_equal(estimator.components_, np.load(folder / "m.npz")["W"])
        run_cli("transform", "-m", folder / "m.npz", "-i", folder / "X.npy",
                "-o", folder / "H.npy")
        assert np.array_equal(estimator.transform(X), np.load(folder / "H.npy"))
    nmf = NMF(d=6, tau_A=0.2, batch_size=32, batch_size_adv=30, epochs=15, seed=5)
    nmf.fit_adv(X.T, X_adv.T)
    assert np.array_equal(nmf.W.T, estimator.components_)
    # Without adversarial data, or with tau_A = 0, it is plain NMF.
    plain = MDNMF(n_components=6, max_iter=15, random_state=5).fit(X)
    nmf_std = NMF(d=6, epochs=15, seed=5)
    nmf_std.fit_std(X.T)
    assert np.array_equal(plain.components_, nmf_std.W.T)
    zero = MDNMF(n_components=6, max_iter=15, random_state=5, tau_A=0.0).fit(X, X_adv)
    assert np.array_equal(zero.components_, plain.components_)


def test_row_major_float32_is_passed_without_a_copy():
    X, _ = rows()
    columns = mdnmf._model.rows_to_columns(X)
    assert np.shares_memory(columns, X) and columns.shape == (X.shape[1], X.shape[0])


def test_transformer_interface():
    X, X_adv = rows()
    estimator = MDNMF(n_components=5, max_iter=20, random_state=1, tau_A=0.1)
    H = estimator.fit_transform(X, X_adv)
    assert H.shape == (X.shape[0], 5) and estimator.components_.shape == (5, X.shape[1])
    assert (estimator.n_components_, estimator.n_features_in_, estimator.n_iter_) == \
        (5, X.shape[1], 20)
    residual = X - H.astype(np.float64) @ estimator.components_
    assert abs(estimator.reconstruction_err_ - np.linalg.norm(residual)) <= \
        1e-4 * estimator.reconstruction_err_
    assert np.allclose(estimator.inverse_transform(H), H @ estimator.components_)
    H_new = estimator.transform(X)
    assert H_new.shape == H.shape and np.array_equal(estimator.transform(X), H_new)
    assert np.linalg.norm(X - estimator.inverse_transform(H_new)) < 0.5 * np.linalg.norm(X)
    expected = -np.mean((X - estimator.inverse_transform(H_new).astype(np.float64)) ** 2)
    assert abs(estimator.score(X) - expected) <= 1e-6 * abs(expected)
    # n_components=None: as many atoms as features, as scikit-learn's NMF.
    assert MDNMF(max_iter=2, random_state=0).fit(X).components_.shape == (25, 25)


def test_y_given_positionally_is_ignored():
    X, _ = rows()
    labels = np.arange(X.shape[0]) % 3
    a = MDNMF(n_components=4, max_iter=5, random_state=2).fit(X, labels)
    b = MDNMF(n_components=4, max_iter=5, random_state=2).fit(X)
    assert np.array_equal(a.components_, b.components_)


def test_adversarial_data_through_a_pipeline():
    X, X_adv = rows()
    direct = MDNMF(n_components=4, max_iter=6, random_state=2, tau_A=0.2).fit(X, X_adv)
    keyword = MDNMF(n_components=4, max_iter=6, random_state=2, tau_A=0.2).fit(X, X_adv=X_adv)
    pipeline = Pipeline([("mdnmf", MDNMF(n_components=4, max_iter=6, random_state=2,
                                         tau_A=0.2))])
    pipeline.fit(X, mdnmf__X_adv=X_adv)
    plain = MDNMF(n_components=4, max_iter=6, random_state=2, tau_A=0.2).fit(X)
    assert np.array_equal(direct.components_, keyword.components_)
    assert np.array_equal(pipeline[-1].components_, direct.components_)
    assert not np.array_equal(plain.components_, direct.components_)


def test_params_clone_pipeline_and_grid_search():
    X, _ = rows()
    estimator = MDNMF(n_components=4, tau_A=0.3, max_iter=7, random_state=3)
    params = estimator.get_params()
    assert params["n_components"] == 4 and params["tau_A"] == 0.3 and params["max_iter"] == 7
    assert estimator.set_params(tau_A=0.5) is estimator and estimator.tau_A == 0.5
    copy = clone(estimator)
    assert copy.get_params() == estimator.get_params() and not hasattr(copy, "components_")
    pipeline = make_pipeline(MinMaxScaler(clip=True), MDNMF(max_iter=10, random_state=0))
    search = GridSearchCV(pipeline, {"mdnmf__n_components": [2, 8]}, cv=3)
    search.fit(X)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    # More atoms reconstruct held-out data better.
    assert search.best_params_ == {"mdnmf__n_components": 8}
    assert search.transform(X).shape == (X.shape[0], 8)


def test_unfitted_estimator_raises():
    X, _ = rows()
    raises(mdnmf.NotFittedError, MDNMF().transform, X)
    raises(ValueError, MDNMF().inverse_transform, X)


def test_save_load_and_pickle():
    X, X_adv = rows()
    estimator = MDNMF(n_components=5, tau_A=0.15, max_iter=9, random_state=8, mu_H=0.01,
                      normalize=True).fit(X, X_adv)
    H = estimator.transform(X)
    with Folder() as folder:
        estimator.save(folder / "e.npz")
        back = MDNMF.load(folder / "e.npz")
        nmf = NMF.load(folder / "e.npz")
    assert np.array_equal(back.components_, estimator.components_)
    assert np.array_equal(back.transform(X), H)
    assert (back.tau_A, back.max_iter, back.mu_H, back.normalize, back.random_state) == \
        (0.15, 9, 0.01, True, 8)
    assert np.array_equal(nmf.W.T, estimator.components_)
    copy = pickle.loads(pickle.dumps(estimator))
    assert np.array_equal(copy.transform(X), H)


if __name__ == "__main__":
    run_tests(globals())
