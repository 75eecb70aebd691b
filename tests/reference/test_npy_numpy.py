"""The library's file formats against NumPy itself.

1. .npy reading: NumPy writes arrays of every supported dtype, byte order,
   memory order, format version (1.0, 2.0, 3.0) and shape; tests/tools/npy_echo
   reads each with mdnmf_npy_read and writes it back with mdnmf_npy_write.  The
   result must be bit for bit NumPy's own arr.astype(np.float32) (a 1-D array
   of length k becomes the (1, k) array of one column) in a '<f4' C-order file.
2. Refusals: complex, object, string, structured, datetime, long double,
   0-D, 3-D and truncated files make npy_echo fail with a message and leave
   no output file.
3. Models: np.load(allow_pickle=False) opens a model saved by the C library
   (tests/tools/model_roundtrip) with the documented members, shapes, dtypes
   and JSON; models written by np.savez / np.savez_compressed (params as 0-D
   or 1-D unicode or uint8 bytes, float64 W, int32 components) load in C and
   come back unchanged; broken models are refused naming the member.

Run by ctest with /usr/bin/python3; MDNMF_TOOLS names the folder of the tools.
"""

import io
import json
import os
import subprocess
import sys
import zipfile
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import run_checks  # noqa: E402

TOOLS = os.environ.get("MDNMF_TOOLS", ".")
NPY_ECHO = os.path.join(TOOLS, "npy_echo")
MODEL_ROUNDTRIP = os.path.join(TOOLS, "model_roundtrip")

VERSIONS = [(1, 0), (2, 0), (3, 0)]
SHAPES = [(6,), (4, 5), (1, 1), (0,), (0, 3), (3, 0)]
KINDS = ["f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1"]


def run(*args):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True)


def special_values(dtype):
    """Values that exercise the edges of a dtype, then random ones."""
    rng = np.random.default_rng(zlib.crc32(dtype.str.encode()))
    native = dtype.newbyteorder("=")
    if dtype.kind == "f":
        info = np.finfo(dtype)
        specials = [0.0, -0.0, 1.0, -2.5, np.inf, -np.inf, np.nan, float(info.max),
                    float(info.tiny) / 4, 0.1, 1 / 3]
        if dtype.itemsize == 8:
            specials += [1e300, -1e300, 1e-320, 3.4028235e38, 3.4028236e38, 3.40282357e38]
        if dtype.itemsize == 2:
            specials += [6e-8, 65504.0]
        random = rng.normal(0, 1000, 64)
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        specials = [0, 1, int(info.max), int(info.min), int(info.max) - 1]
        if dtype.itemsize == 8:
            specials += [2**53 + 1, 2**24 + 1]
        random = rng.integers(int(info.min), int(info.max), 64, dtype=native, endpoint=True)
    else:
        specials = [False, True]
        random = rng.integers(0, 2, 64).astype(bool)
    values = np.concatenate([np.array(specials, dtype=dtype), np.asarray(random).astype(dtype)])
    return values


def make_array(dtype, shape):
    count = int(np.prod(shape))
    values = special_values(dtype)
    return np.resize(values, count).reshape(shape)


def write_npy(path, array, version):
    with open(path, "wb") as f:
        np.lib.format.write_array(f, array, version=version, allow_pickle=True)


def expected_output(array):
    with np.errstate(over="ignore", invalid="ignore"):  # 1e300 -> inf, as the library does
        converted = np.ascontiguousarray(array).astype(np.float32)
    return converted.reshape(1, -1) if converted.ndim == 1 else converted


def header_of(path):
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        return version, np.lib.format._read_array_header(f, version)


def dtypes():
    for kind in KINDS:
        if kind[-1] == "1":
            yield np.dtype(kind)
        else:
            yield np.dtype("<" + kind)
            yield np.dtype(">" + kind)


def check_conversions(checks, folder):
    source = os.path.join(folder, "in.npy")
    output = os.path.join(folder, "out.npy")
    for dtype in dtypes():
        for shape in SHAPES:
            orders = ["C", "F"] if len(shape) == 2 and min(shape) > 1 else ["C"]
            for order in orders:
                for version in VERSIONS:
                    array = make_array(dtype, shape)
                    if order == "F":
                        array = np.asfortranarray(array)
                    write_npy(source, array, version)
                    what = "%s %s order %s version %d.%d" % (dtype.str, shape, order, *version)
                    (_, (_, fortran, _)) = header_of(source)
                    if order == "F" and not fortran:
                        checks.check(False, what + ": NumPy did not write Fortran order")
                        continue
                    if os.path.exists(output):
                        os.remove(output)
                    result = run(NPY_ECHO, source, output)
                    if result.returncode != 0:
                        checks.check(False, "%s: npy_echo failed: %s" % (what, result.stderr))
                        continue
                    expected = expected_output(array)
                    _, (out_shape, out_fortran, out_dtype) = header_of(output)
                    got = np.load(output, allow_pickle=False)
                    rows, cols = (int(x) for x in result.stdout.split())
                    ok = (out_dtype == np.dtype("<f4") and not out_fortran
                          and out_shape == expected.shape and got.shape == expected.shape
                          and (rows, cols) == (expected.shape[1], expected.shape[0])
                          and np.array_equal(got.view(np.uint32), expected.view(np.uint32)))
                    checks.check(ok, what)


def check_exact_float32_bytes(checks, folder):
    """A '<f4' C-order file comes back with the very same data bytes."""
    source = os.path.join(folder, "f4.npy")
    output = os.path.join(folder, "f4_out.npy")
    array = np.random.default_rng(3).random((17, 9), dtype=np.float32)
    np.save(source, array)
    result = run(NPY_ECHO, source, output)
    with open(source, "rb") as f:
        source_bytes = f.read()
    with open(output, "rb") as f:
        output_bytes = f.read()
    checks.check(result.returncode == 0 and len(output_bytes) % 64 == len(source_bytes) % 64
                 and output_bytes[-array.nbytes:] == source_bytes[-array.nbytes:]
                 and (len(output_bytes) - array.nbytes) % 64 == 0,
                 "float32 data bytes are copied unchanged, header 64-aligned")


def unsupported_arrays():
    yield "complex64", np.arange(4, dtype=np.complex64), "complex"
    yield "complex128", np.arange(4, dtype=np.complex128).reshape(2, 2), "complex"
    yield "object", np.array([1, "a", None], dtype=object), "object"
    yield "unicode", np.array(["abc", "de"]), "string"
    yield "bytes", np.array([b"abc", b"de"]), "string"
    yield "structured", np.zeros(3, dtype=[("a", "<f4"), ("b", "<i4")]), "structured"
    yield "void", np.zeros(3, dtype="V8"), "structured"
    yield "datetime", np.array(["2020-01-01"], dtype="datetime64[ns]"), "datetime"
    yield "timedelta", np.array([5], dtype="timedelta64[s]"), "datetime"
    if np.dtype(np.longdouble).itemsize > 8:
        yield "long double", np.ones(3, dtype=np.longdouble), "dtype"
    yield "3-D", np.ones((2, 3, 4), dtype=np.float32), "3-D"
    yield "0-D", np.array(1.5, dtype=np.float32), "0-D"


def check_refusals(checks, folder):
    source = os.path.join(folder, "bad.npy")
    output = os.path.join(folder, "bad_out.npy")
    cases = list(unsupported_arrays())
    for name, array, says in cases:
        for version in VERSIONS:
            write_npy(source, array, version)
            result = run(NPY_ECHO, source, output)
            what = "refuses %s (version %d.%d)" % (name, *version)
            checks.check(result.returncode == 1 and says in result.stderr
                         and "bad.npy" in result.stderr and not os.path.exists(output),
                         what + (": rc %d, %s" % (result.returncode, result.stderr.strip())))
    # A NumPy file cut short, in the data and in the header.
    np.save(source, np.ones((10, 10)))
    with open(source, "rb") as f:
        whole = f.read()
    for cut, says in ((len(whole) - 1, "truncated"), (40, "truncated"), (4, "magic")):
        with open(source, "wb") as f:
            f.write(whole[:cut])
        result = run(NPY_ECHO, source, output)
        checks.check(result.returncode == 1 and says in result.stderr
                     and not os.path.exists(output),
                     "refuses a file cut to %d bytes: %s" % (cut, result.stderr.strip()))


# ---------------------------------------------------------------- models

PARAM_KEYS = ["d", "epochs", "test_epochs", "batch_size", "batch_size_adv", "init", "mu_W",
              "mu_H", "tau_A", "tau_W", "normalize", "update_H", "true_sample", "seed",
              "threads"]

SAVED_PARAMS = {"epochs": 7, "test_epochs": 9, "batch_size": 5, "batch_size_adv": 6,
                "init": "random", "mu_W": 0.001, "mu_H": 0.25, "tau_A": 0.3, "tau_W": 1.5,
                "normalize": True, "update_H": True, "true_sample": "min",
                "seed": 18446744073709551615, "threads": 2}


def check_c_model_in_numpy(checks, folder):
    d, m = 4, 6
    W = np.random.default_rng(8).random((d, m), dtype=np.float32)
    mu_H = np.array([0.5, 0.0, 1e-3, 2.0], dtype=np.float32)
    np.save(os.path.join(folder, "W.npy"), W)
    np.save(os.path.join(folder, "mu.npy"), mu_H)
    path = os.path.join(folder, "c_model.npz")
    result = run(MODEL_ROUNDTRIP, "save", os.path.join(folder, "W.npy"), path,
                 os.path.join(folder, "mu.npy"))
    checks.check(result.returncode == 0, "C saves a model: %s" % result.stderr.strip())
    if result.returncode != 0:
        return
    with np.load(path, allow_pickle=False) as z:
        members = {name: z[name] for name in z.files}
    checks.check(sorted(members) == ["W", "components", "mu_H", "params"],
                 "members of a C model: %s" % sorted(members))
    checks.check(members["W"].dtype == np.float32 and members["W"].shape == (d, m)
                 and np.array_equal(members["W"], W), "W of a C model is the basis, (D, m)")
    checks.check(members["components"].dtype == np.int64
                 and members["components"].shape == (1,) and members["components"][0] == d,
                 "components of a C model: %r" % members["components"])
    checks.check(members["mu_H"].dtype == np.float32 and np.array_equal(members["mu_H"], mu_H),
                 "mu_H of a C model")
    params = members["params"]
    checks.check(params.dtype.kind == "U" and params.shape == (), "params is a 0-D unicode array")
    text = json.loads(str(params))
    expected = dict(SAVED_PARAMS, d=d, format="mdnmf-model")
    checks.check(all(text.get(k) == v for k, v in expected.items())
                 and isinstance(text["seed"], int) and isinstance(text.get("version"), str),
                 "params JSON of a C model: %s" % text)
    with zipfile.ZipFile(path) as z:
        checks.check(sorted(z.namelist()) == ["W.npy", "components.npy", "mu_H.npy",
                                              "params.npy"] and z.testzip() is None,
                     "zip members and CRCs of a C model")
    checks.check(not [f for f in os.listdir(folder) if ".tmp." in f], "no temporary files left")


def numpy_model(W, components, mu_H, params):
    return {"W": W, "components": components, "mu_H": mu_H, "params": params}


def save_npz(path, members, compressed=False):
    (np.savez_compressed if compressed else np.savez)(path, **members)


def load_npz(path):
    with np.load(path, allow_pickle=False) as z:
        return {name: z[name] for name in z.files}


def params_text(value):
    if value.dtype.kind == "U":
        return "".join(value.reshape(-1).tolist())
    return value.tobytes().decode("utf-8")


def check_numpy_model_in_c(checks, folder):
    rng = np.random.default_rng(12)
    m = 7
    W64 = rng.random((5, m))  # float64: converted on load
    base = {"format": "mdnmf-model", "version": "0.0.9", "d": 4, "epochs": 11, "mu_H": 0.125,
            "tau_A": 0.2, "init": "exemplar", "seed": 42, "sample_rate": 16000,
            "future": {"nested": [1, 2, {"x": None}]}}
    text = json.dumps(base)
    variants = [
        ("0-D unicode params", np.array(text), np.array([3, 2], dtype=np.int64), False),
        ("1-D unicode params, compressed", np.array([text]), np.array([3, 2]), True),
        ("uint8 params, int32 components", np.frombuffer(text.encode(), dtype=np.uint8),
         np.array([3, 2], dtype=np.int32), False),
        ("characters as a 1-D unicode array", np.array(list(text)), np.array([1, 4]), False),
    ]
    source = os.path.join(folder, "np_model.npz")
    copy = os.path.join(folder, "np_copy.npz")
    mu_H = np.array([0.1, 0.2, 0.0, 3.0, 0.125], dtype=np.float32)
    for name, params, components, compressed in variants:
        save_npz(source, numpy_model(W64, components, mu_H, params), compressed)
        result = run(MODEL_ROUNDTRIP, "copy", source, copy)
        if result.returncode != 0:
            checks.check(False, "C loads a NumPy model (%s): %s" % (name, result.stderr))
            continue
        back = load_npz(copy)
        got = json.loads(params_text(back["params"]))
        ok = (np.array_equal(back["W"], W64.astype(np.float32))
              and np.array_equal(back["components"], components.astype(np.int64))
              and np.array_equal(back["mu_H"], mu_H)
              and got["epochs"] == 11 and got["mu_H"] == 0.125 and got["tau_A"] == 0.2
              and got["seed"] == 42 and got["d"] == 4 and got["init"] == "exemplar"
              and got["version"] != "0.0.9" and "sample_rate" not in got)
        checks.check(ok, "C loads and re-saves a NumPy model (%s): %s" % (name, got))
    # One source: d becomes the atom count whatever the JSON says.
    save_npz(source, numpy_model(W64, np.array([5]), mu_H,
                                 np.array(json.dumps({"d": 99, "mu_H": 0.5}))))
    result = run(MODEL_ROUNDTRIP, "copy", source, copy)
    got = json.loads(str(load_npz(copy)["params"])) if result.returncode == 0 else {}
    checks.check(got.get("d") == 5 and got.get("mu_H") == 0.5,
                 "a one-source model's d is its atom count: %s %s" % (got, result.stderr))


def check_broken_models(checks, folder):
    rng = np.random.default_rng(4)
    W = rng.random((5, 3)).astype(np.float32)
    good = numpy_model(W, np.array([3, 2]), np.full(5, 0.1, dtype=np.float32),
                       np.array(json.dumps({"d": 3})))
    path = os.path.join(folder, "broken.npz")
    copy = os.path.join(folder, "broken_copy.npz")
    negative = W.copy()
    negative[1, 2] = -1.0
    nan_mu = good["mu_H"].copy()
    nan_mu[3] = np.nan

    def changed(**overrides):
        members = dict(good)
        for key, value in overrides.items():
            if value is None:
                del members[key]
            else:
                members[key] = value
        return members

    cases = [
        ("missing W", changed(W=None), "W.npy"),
        ("missing components", changed(components=None), "components.npy"),
        ("missing mu_H", changed(mu_H=None), "mu_H.npy"),
        ("missing params", changed(params=None), "params.npy"),
        ("components do not sum to D", changed(components=np.array([3, 3])), "components.npy"),
        ("a source of 0 atoms", changed(components=np.array([5, 0])), "components.npy"),
        ("negative components", changed(components=np.array([6, -1])), "components.npy"),
        ("float components", changed(components=np.array([3.0, 2.0])), "components.npy"),
        ("2-D components", changed(components=np.array([[3, 2]])), "components.npy"),
        ("negative W", changed(W=negative), "W.npy"),
        ("infinite W", changed(W=np.full((5, 3), np.inf, dtype=np.float32)), "W.npy"),
        ("1-D W", changed(W=W.reshape(-1)), "W.npy"),
        ("3-D W", changed(W=W.reshape(5, 3, 1)), "W.npy"),
        ("complex W", changed(W=W.astype(np.complex64)), "W.npy"),
        ("NaN mu_H", changed(mu_H=nan_mu), "mu_H.npy"),
        ("mu_H of the wrong length", changed(mu_H=np.ones(4, dtype=np.float32)), "mu_H.npy"),
        ("malformed JSON", changed(params=np.array("{\"d\": 3,")), "params.npy"),
        ("JSON of another format", changed(params=np.array('{"format": "other"}')),
         "params.npy"),
        ("invalid parameter", changed(params=np.array('{"epochs": -1}')), "params.npy"),
        ("params as float", changed(params=np.ones(3)), "params.npy"),
        ("params as object (pickle)", changed(params=np.array([{"d": 3}], dtype=object)),
         "params.npy"),
    ]
    for name, members, member in cases:
        if os.path.exists(copy):
            os.remove(copy)
        save_npz(path, members)
        result = run(MODEL_ROUNDTRIP, "copy", path, copy)
        checks.check(result.returncode == 1 and member in result.stderr
                     and "broken.npz" in result.stderr and not os.path.exists(copy),
                     "refuses a model with %s: %s" % (name, result.stderr.strip()))
    # Not a zip, and a zip cut short.
    np.save(path, W)
    os.replace(path + ".npy", path)
    result = run(MODEL_ROUNDTRIP, "copy", path, copy)
    checks.check(result.returncode == 1 and "broken.npz" in result.stderr,
                 "refuses a .npy posing as a model: %s" % result.stderr.strip())
    save_npz(path, good)
    with open(path, "rb") as f:
        whole = f.read()
    with open(path, "wb") as f:
        f.write(whole[: len(whole) // 2])
    result = run(MODEL_ROUNDTRIP, "copy", path, copy)
    checks.check(result.returncode == 1 and "broken.npz" in result.stderr,
                 "refuses a model cut in half: %s" % result.stderr.strip())
    # A flipped byte in a stored member is caught by its CRC.
    buffer = io.BytesIO()
    np.savez(buffer, **good)
    data = bytearray(buffer.getvalue())
    at = data.find(b"\x93NUMPY") + 130  # in the first member's elements
    data[at] ^= 0x40
    with open(path, "wb") as f:
        f.write(bytes(data))
    result = run(MODEL_ROUNDTRIP, "copy", path, copy)
    checks.check(result.returncode == 1 and "broken.npz" in result.stderr,
                 "refuses a model with a corrupted member: %s" % result.stderr.strip())


def main():
    return run_checks((NPY_ECHO, MODEL_ROUNDTRIP), [
        check_conversions,
        check_exact_float32_bytes,
        check_refusals,
        check_c_model_in_numpy,
        check_numpy_model_in_c,
        check_broken_models,
    ])


if __name__ == "__main__":
    sys.exit(main())
