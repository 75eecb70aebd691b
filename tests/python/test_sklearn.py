"""MDNMF, the scikit-learn style estimator: rows are samples; the same numbers
as the CLI; clone, pipelines and grid searches; save/load and pickling;
scikit-learn's own check_estimator, every check; dtypes, sparse input,
scikit-learn's error messages, and a transform invariant to the order of
the samples (issue 15, item 4)."""

import json
import os
import pickle
import subprocess
import sys
import time
import warnings

import numpy as np
import scipy.sparse
from harness import PYTHON_DIR, Folder, problem, raises, run_cli, run_tests
from sklearn.base import clone
from sklearn.utils.estimator_checks import check_estimator
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
        # The estimator's transform is the CLI's with --per-sample-init (its
        # default, per_sample_init=True); per_sample_init=False is the CLI's
        # default, SPEC's one stream.
        run_cli("transform", "-m", folder / "m.npz", "-i", folder / "X.npy",
                "-o", folder / "H.npy", "--per-sample-init")
        assert np.array_equal(estimator.transform(X), np.load(folder / "H.npy"))
        run_cli("transform", "-m", folder / "m.npz", "-i", folder / "X.npy",
                "-o", folder / "H0.npy")
        spec = MDNMF(n_components=6, tau_A=0.2, batch_size=32, batch_size_adv=30,
                     max_iter=15, random_state=5, per_sample_init=False).fit(X, X_adv)
        assert np.array_equal(spec.transform(X), np.load(folder / "H0.npy"))
        assert not np.array_equal(spec.transform(X), estimator.transform(X))
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
    # Through the estimator's scikit-learn checks too.
    checked = mdnmf.estimator._dense_float32(MDNMF()._rows(X, reset=True))
    assert np.shares_memory(mdnmf._model.rows_to_columns(checked), X)


# ------------------------------------------------ check_estimator (issue 15)

def test_check_estimator_passes_every_check():
    """scikit-learn's own checks, one by one, so that a failure names its
    check (before issue 15: 18 of 34 passed)."""
    start = time.monotonic()
    names, failures = [], []
    for estimator, check in check_estimator(MDNMF(), generate_only=True):
        name = getattr(check, "func", check).__name__
        names.append(name)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                check(estimator)
        except Exception as error:  # noqa: BLE001 - reported by name below
            failures.append(f"{name}: {type(error).__name__}: {str(error)[:300]}")
    assert not failures, f"{len(failures)} of {len(names)} checks fail:\n" + "\n".join(failures)
    # The tags make scikit-learn run its non-negative and dtype checks.
    assert "check_fit_non_negative" in names and "check_transformer_preserve_dtypes" in names
    assert "check_methods_sample_order_invariance" in names
    print(f"     all {len(names)} checks pass ({time.monotonic() - start:.1f} s)")


def fitted(**settings):
    X, _ = rows()
    return MDNMF(n_components=5, max_iter=10, random_state=3, **settings).fit(X), X


def test_transform_depends_on_each_sample_only():
    estimator, X = fitted()
    H = estimator.transform(X)
    order = np.random.default_rng(0).permutation(X.shape[0])
    assert np.array_equal(estimator.transform(X[order]), H[order])  # bit for bit
    assert np.array_equal(estimator.transform(X[7:8]), H[7:8])
    assert np.array_equal(estimator.transform(X[:50]), H[:50])
    louder = X.copy()
    louder[0] *= 1000  # another sample's peak does not move the others
    assert np.array_equal(estimator.transform(louder)[1:], H[1:])
    # The same model split into 1, 2 or 3 parts (>= 128 samples are split).
    more = np.vstack([X, X[:, ::-1]])
    H_more = estimator.transform(more)
    model = estimator._model
    for threads in (1, 2, 3):
        params = model.params()
        params.threads = threads
        model.set_params(params)
        assert np.array_equal(estimator.transform(more[::-1]), H_more[::-1])
    # SPEC's one stream (per_sample_init=False) depends on the position.
    spec, _ = fitted(per_sample_init=False)
    assert not np.array_equal(spec.transform(X[order]), spec.transform(X)[order])


def test_outputs_follow_the_input_float_type():
    estimator, X = fitted()
    H32 = estimator.transform(X)
    assert H32.dtype == np.float32
    for data in (X.astype(np.float64), np.asfortranarray(X.astype(np.float64)),
                 np.repeat(X.astype(np.float64), 2, axis=1)[:, ::2]):
        H = estimator.transform(data)
        assert H.dtype == np.float64 and np.array_equal(H, H32.astype(np.float64))
    assert estimator.transform((X * 100).astype(np.int32)).dtype == np.float64
    assert estimator.fit_transform(X.astype(np.float64)).dtype == np.float64
    assert estimator.fit_transform(X).dtype == np.float32
    assert estimator.inverse_transform(H32).dtype == np.float32
    assert estimator.inverse_transform(H32.astype(np.float64)).dtype == np.float64
    # fit_transform is exactly fit().transform().
    assert np.array_equal(estimator.fit_transform(X), estimator.transform(X))
    assert np.array_equal(estimator.transform(X.tolist()), H32.astype(np.float64))


def test_sparse_input_is_densified():
    estimator, X = fitted()
    X = X * (X > 0.5)
    H = estimator.transform(X)
    for kind in (scipy.sparse.csr_matrix, scipy.sparse.csc_matrix, scipy.sparse.coo_matrix):
        assert np.array_equal(estimator.transform(kind(X)), H)
        assert estimator.transform(kind(X.astype(np.float64))).dtype == np.float64
    dense = MDNMF(n_components=4, max_iter=5, random_state=1).fit(X)
    sparse = MDNMF(n_components=4, max_iter=5, random_state=1).fit(scipy.sparse.csr_matrix(X))
    assert np.array_equal(dense.components_, sparse.components_)


def test_bad_input_gets_scikit_learns_messages():
    estimator, X = fitted()
    raises(ValueError, MDNMF().fit, X[0], contains="Reshape your data")
    raises(ValueError, MDNMF().fit, X[:, :0], contains="0 feature(s)")
    raises(ValueError, MDNMF().fit, X.astype(np.complex64), contains="Complex data not supported")
    raises(ValueError, MDNMF().fit, np.full(X.shape, "a", dtype=object))
    raises(ValueError, estimator.transform, X[:, :-1],
           contains="X has 24 features, but MDNMF is expecting 25 features")
    raises(ValueError, estimator.transform, X[0], contains="Reshape your data")
    # Negative, NaN and infinite entries: the library's check, naming the place.
    bad = X.copy()
    bad[3, 2] = -1
    raises(mdnmf.InvalidDataError, MDNMF().fit, bad, contains="sample 3, feature 2")
    bad[3, 2] = np.nan
    raises(mdnmf.InvalidDataError, estimator.transform, bad, contains="NaN")
    raises(ValueError, MDNMF(n_components=4).fit, X, X_adv=X[:, :-1])


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


def test_model_files_carry_per_sample_init():
    X, _ = rows()
    with Folder() as folder:
        for setting in (True, False):
            estimator = MDNMF(n_components=4, max_iter=3, random_state=2,
                              per_sample_init=setting).fit(X)
            estimator.save(folder / "e.npz")
            document = json.loads(str(np.load(folder / "e.npz")["params"]))
            # Written only when set, as the library's other late keys.
            assert document.get("per_sample_init", False) is setting
            back = MDNMF.load(folder / "e.npz")
            assert back.per_sample_init is setting
            assert np.array_equal(back.transform(X), estimator.transform(X))


WITHOUT_SKLEARN = """
import sys
sys.modules["sklearn"] = None  # import sklearn now fails
sys.path.insert(0, sys.argv[1])
import numpy as np
import mdnmf
assert not mdnmf.estimator.HAVE_SKLEARN
X = np.random.default_rng(0).random((60, 8))
estimator = mdnmf.MDNMF(n_components=3, max_iter=5, random_state=1).fit(X)
H = estimator.transform(X)
assert H.dtype == np.float64 and H.shape == (60, 3) and estimator.n_features_in_ == 8
assert estimator.transform(X.astype(np.float32)).dtype == np.float32
assert np.array_equal(estimator.transform(X[::-1]), H[::-1])
for bad, words in ((X[0], "Expected 2D array"), (X[:, :5], "X has 5 features")):
    try:
        estimator.transform(bad)
    except ValueError as error:
        assert words in str(error), error
    else:
        raise AssertionError("no error")
print("ok")
"""


def test_without_scikit_learn():
    """The estimator works without scikit-learn (its own checks)."""
    done = subprocess.run([sys.executable, "-c", WITHOUT_SKLEARN, PYTHON_DIR],
                          capture_output=True, text=True, env=os.environ, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


if __name__ == "__main__":
    run_tests(globals())
