"""Bad inputs raise Python exceptions (ValueError for bad data, with the
library's message where the library finds the fault); NaN, infinite and
negative entries are caught before any C call sees them."""

import ctypes
import os
import signal
import threading
import time

import numpy as np
from harness import Folder, problem, raises, run_tests, two_sources

import mdnmf
from mdnmf import MDNMF, NMF, NMF_separation, _model, _native


class CallLog:
    """Wraps every library function so a test can tell whether C was called."""

    def __init__(self):
        self.calls = []
        self.saved = {}

    def __enter__(self):
        for name in _native._PROTOTYPES:
            original = getattr(_native.lib, name)
            self.saved[name] = original

            def wrapper(*args, _name=name, _original=original):
                self.calls.append(_name)
                return _original(*args)
            setattr(_native.lib, name, wrapper)
        return self

    def __exit__(self, *exc):
        for name, original in self.saved.items():
            setattr(_native.lib, name, original)

    def data_calls(self):
        """Calls that take data (creating models, reading params do not)."""
        taking_data = {"mdnmf_fit_std", "mdnmf_fit_adv", "mdnmf_fit_exem", "mdnmf_transform",
                       "mdnmf_separator_fit", "mdnmf_separate", "mdnmf_psnr",
                       "mdnmf_squared_error", "mdnmf_adversarial_data",
                       "mdnmf_model_set_basis"}
        return [c for c in self.calls if c in taking_data]


def poisoned(U, value, sample=3, feature=7):
    bad = np.array(U, order="F", copy=True)
    bad[feature, sample] = value
    return bad


def test_bad_values_never_reach_the_library():
    U, U_adv = problem()
    U0, U1, T0, T1, V = two_sources()
    fitted = NMF(d=4, epochs=2, seed=0)
    fitted.fit_std(U)
    separator = NMF_separation(ds=[3, 3], epochs=2, seed=0).fit(U=[U0, U1])
    for value, what in ((np.nan, "a NaN"), (-1.0, "a negative"), (np.inf, "an infinite")):
        calls = [
            ("U", lambda: NMF(d=4).fit_std(poisoned(U, value))),
            ("U", lambda: NMF(d=4).fit_exem(poisoned(U, value))),
            ("U_adv", lambda: NMF(d=4).fit_adv(U, poisoned(U_adv, value))),
            ("U", lambda: fitted.transform(poisoned(U, value))),
            ("W", lambda: NMF(W=poisoned(fitted.W, value, 1, 1))),
            ("X", lambda: MDNMF(n_components=3).fit(poisoned(U, value).T)),
            ("U[1]", lambda: NMF_separation(ds=[3, 3]).fit(U=[U0, poisoned(U1, value)])),
            ("V", lambda: separator.separate(poisoned(V, value))),
            ("U_test[0]", lambda: separator.eval([poisoned(T0, value), T1], V)),
            ("omega", lambda: NMF(d=4, omega=np.full(U_adv.shape[1], value)).fit_adv(U, U_adv)),
        ]
        for name, call in calls:
            with CallLog() as log:
                error = raises(mdnmf.InvalidDataError, call, contains=f"{name} has {what} entry")
            assert isinstance(error, ValueError)
            assert not log.data_calls(), (name, value, log.data_calls())
    # The position is named as the library would: sample = column, feature = row.
    error = raises(ValueError, NMF(d=4).fit_std, poisoned(U, -2.0, sample=5, feature=11))
    assert "at sample 5, feature 11" in str(error) and "(-2)" in str(error)
    # scikit-learn's rows: the sample is the row.
    error = raises(ValueError, MDNMF().fit, poisoned(U, np.nan, 5, 11).T)
    assert "at sample 5, feature 11" in str(error)


def test_shapes_and_types_are_checked():
    U, U_adv = problem()
    raises(mdnmf.ShapeError, NMF(d=4).fit_std, np.ones((2, 3, 4), np.float32))
    raises(mdnmf.ShapeError, NMF(d=4).fit_std, np.ones((5, 0), np.float32), contains="empty")
    raises(ValueError, NMF(d=4).fit_std, np.ones((5, 5), np.complex64), contains="dtype")
    raises(ValueError, NMF(d=4).fit_std, np.array([["a", "b"]]), contains="dtype")
    raises(mdnmf.ShapeError, NMF(d=4).fit_adv, U, U_adv[:-1], contains="features")
    raises(mdnmf.ShapeError, NMF(d=4, omega=np.ones(3)).fit_adv, U, U_adv,
           contains="one weight per adversarial sample")
    fitted = NMF(d=4, epochs=1, seed=0)
    fitted.fit_std(U)
    raises(mdnmf.ShapeError, fitted.transform, U[:-2])
    raises(mdnmf.ShapeError, NMF(W=fitted.W).fit_std, U[:-2], contains="rows")
    raises(mdnmf.ShapeError, NMF, d=3, W=fitted.W)


def test_library_messages_become_exceptions():
    U, U_adv = problem()  # 80 samples
    error = raises(mdnmf.ShapeError, NMF(d=100, seed=0).fit_std, U,
                   contains="exemplar init needs d <= samples")
    assert isinstance(error, ValueError) and error.status == _native.ERR_SHAPE
    raises(mdnmf.DivergenceError, NMF(d=5, epochs=50, tau_A=100, seed=0).fit_adv, U, U_adv,
           contains="use a smaller tau_A")
    raises(mdnmf.NotFittedError, NMF(d=3).transform, U)
    raises(mdnmf.NotFittedError, NMF(d=3).save, "/tmp/never-written.npz")
    raises(mdnmf.NotFittedError, NMF_separation(ds=[2, 2]).separate, U)
    U0, U1, _, _, V = two_sources()
    raises(ValueError, NMF_separation(ds=[3, 3], prob="semi").fit, U=[U0],
           contains="mixtures")
    raises(ValueError, NMF_separation(ds=[3, 3], prob="sup").fit, U=[U0, U1],
           contains="paired")
    raises(ValueError, NMF_separation(ds=[3, 3], prob="adv").fit, U=[U0, None],
           contains="source 1")
    raises(ValueError, NMF_separation(ds=[3, 3], Ws=[U0[:, :3], None]).fit, U=[U0, U1],
           contains="every source's basis")


def test_bad_parameters_raise_value_errors():
    cases = [
        (dict(d=0), "d"), (dict(d=2.5), "d"), (dict(d=3, tau_A=-1), "tau_A"),
        (dict(d=3, mu_W=float("nan")), "mu_W"), (dict(d=3, epochs=-1), "epochs"),
        (dict(d=3, init="kmeans"), "init"), (dict(d=3, true_sample="sup"), "true_sample"),
        (dict(d=3, prob="magic"), "prob"), (dict(d=3, batch_size=-5), "batch_size"),
        (dict(d=3, seed=-1), "seed"), (dict(d=3, seed=2 ** 64), "seed"),
        (dict(d=3, epochs=2 ** 40), "epochs"),
        # issue 12: 10**6 threads overflowed libgomp's stack and killed the interpreter
        (dict(d=3, threads=10 ** 6), "threads"), (dict(d=3, threads=257), "threads"),
    ]
    for kwargs, field in cases:
        try:
            raises(ValueError, NMF, contains=field, **kwargs)
        except AssertionError as error:
            raise AssertionError(f"NMF({kwargs}): {error}") from None
    raises(ValueError, NMF)  # no d at all
    raises(ValueError, NMF_separation, ds=[4], contains="2 to 16")
    raises(ValueError, NMF_separation, ds=[4] * 17, contains="2 to 16")
    raises(ValueError, NMF_separation, ds=[4, 4], tau_A=[0.1, -0.1], contains="tau_A")
    raises(ValueError, NMF_separation, ds=[2, 2], mu_H=[1, 2, 3, 4], contains="constant")
    raises(ValueError, NMF_separation, ds=[2, 2], eps=1e-10, tau_S=-1, contains="tau_S")
    X, _ = problem()
    raises(ValueError, MDNMF(n_components=3, init="nope").fit, X.T, contains="init")
    separator = NMF_separation(ds=[2, 2], epochs=1, seed=0)
    U0, U1, T0, T1, V = two_sources()
    separator.fit(U=[U0, U1])
    raises(ValueError, separator.eval, [T0], V, contains="one array per source")
    raises(ValueError, separator.eval, [T0, T1], V, metric="snr")
    raises(ValueError, separator.eval, [T0[:, :5], T1[:, :5]], V, contains="samples")


def test_files_errors():
    with Folder() as folder:
        raises(mdnmf.FileAccessError, NMF.load, folder / "missing.npz")
        raises(OSError, mdnmf.load, folder / "missing.npz")
        with open(folder / "junk.npz", "wb") as file:
            file.write(b"this is not a zip archive")
        raises(mdnmf.FileFormatError, NMF.load, folder / "junk.npz")
        fitted = NMF(d=2, epochs=1, seed=0)
        fitted.fit_std(problem()[0])
        raises(OSError, fitted.save, os.path.join(folder.path, "no-such-folder", "m.npz"))


def test_paths_with_a_nul_byte_raise_like_open():
    """C would end the name at the NUL: save('a\\x00b.npz') wrote a file 'a'."""
    with Folder() as folder:
        fitted = NMF(d=2, epochs=1, seed=0)
        fitted.fit_std(problem()[0])
        U0, U1, _, _, _ = two_sources()
        separator = NMF_separation(ds=[2, 2], epochs=1, seed=0).fit(U=[U0, U1])
        good = folder / "model.npz"
        fitted.save(good)
        for bad in (folder / "a\x00b.npz", os.fsencode(folder / "a\x00b.npz")):
            for call in (fitted.save, separator.save):
                raises(ValueError, call, bad, contains="embedded null byte")
            for call in (NMF.load, mdnmf.load, NMF_separation.load, _model.Model.load):
                raises(ValueError, call, bad, contains="embedded null byte")
        assert sorted(os.listdir(folder.path)) == ["model.npz"], os.listdir(folder.path)


def test_saving_never_renames_over_a_special_file():
    """The library's atomic writer refuses a FIFO, a device node, a folder
    and a link to nothing (it used to rename over them, replacing a device by
    a regular file); a link to a regular file is followed and stays a link.
    The device node is made here (root only), never a real /dev path."""
    import stat
    with Folder() as folder:
        fitted = NMF(d=2, epochs=1, seed=0)
        fitted.fit_std(problem()[0])
        os.mkfifo(folder / "fifo")
        os.symlink(folder / "fifo", folder / "link-to-fifo")
        os.symlink(folder / "nothing", folder / "dangling")
        os.mkdir(folder / "folder")
        cases = [("fifo", "FIFO"), ("link-to-fifo", "FIFO"), ("dangling", "missing file"),
                 ("folder", "folder")]
        if os.geteuid() == 0:
            os.mknod(folder / "full", 0o666 | stat.S_IFCHR, os.makedev(1, 7))
            cases.append(("full", "character device"))
        before = sorted(os.listdir(folder.path))
        for name, mention in cases:
            raises(mdnmf.FileAccessError, fitted.save, folder / name, contains=mention)
            assert not os.path.isfile(folder / name), name
        assert sorted(os.listdir(folder.path)) == before, os.listdir(folder.path)
        assert stat.S_ISFIFO(os.stat(folder / "fifo").st_mode)
        with open(folder / "target.npz", "w") as file:
            file.write("old")
        os.symlink(folder / "target.npz", folder / "link.npz")
        fitted.save(folder / "link.npz")
        assert os.readlink(folder / "link.npz") == folder / "target.npz"
        NMF.load(folder / "target.npz")  # a model now, through the link


def test_an_exception_in_the_epoch_callback_cancels_the_fit():
    # The path of Ctrl-C during a fit with a callback: the exception raised in
    # Python code called back from C stops the fit and is re-raised.
    U, _ = problem()
    model = _model.Model.create(_model.make_params(d=3, epochs=20, seed=0))

    def stop(record):
        if record["epoch"] == 4:
            raise KeyboardInterrupt

    recorder = _model.EpochRecorder(stop)
    raises(KeyboardInterrupt, model.fit_std, _model.columns(U), recorder)
    assert [r["epoch"] for r in recorder.records] == [0, 1, 2, 3, 4]
    # The model kept no dangling callback: fitting again works.
    params = model.params()
    assert not ctypes.cast(params.on_epoch, ctypes.c_void_p).value
    model.set_params(_model.make_params(d=3, epochs=2, seed=0))
    model.fit_std(_model.columns(U))


def test_ctrl_c_stops_a_fit_with_conv_at_the_end_of_an_epoch():
    U = np.random.default_rng(0).random((60, 400), dtype=np.float32)
    nmf = NMF(d=8, epochs=10 ** 7, seed=0)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    try:
        raises(KeyboardInterrupt, nmf.fit_std, U, conv=True)
    finally:
        timer.cancel()
    assert time.monotonic() - start < 10
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    # The basis of the last finished epoch is kept, as the research code's W.
    assert nmf.W is not None and nmf.W.shape == (60, 8) and np.all(np.isfinite(nmf.W))


if __name__ == "__main__":
    run_tests(globals())
