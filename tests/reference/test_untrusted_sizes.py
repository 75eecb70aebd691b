"""Sizes a file declares are not trusted (issue 12, finding 3).

A model's zip directory declares each member's size, a .npy header its
shape; both come from the file and may lie.  The readers must refuse a lie
with one clear message before allocating what it claims:

1. .npz models: a member whose directory entry declares 2^50 bytes, 64 GiB
   or 2 GiB (less than this machine's memory: it used to be reserved before
   the mismatch was noticed), a stored member whose two sizes differ, a
   deflated member declaring more than deflate can expand to (1032x), and a
   declared size that fits the file but not the member's own .npy header:
   "corrupt model file '<path>': member '<name>' ...", exit status 1, no
   output, and no allocation of the claimed size.
   A member of '<U0' elements (no bytes each) is refused, however many.
2. The limits do not refuse real files: a deflated model whose basis is all
   zeros (a ratio near deflate's maximum) loads.
3. .npy through a pipe (no file size to compare the header with): a header
   promising 2 GiB or 4 TiB over a few bytes is "truncated", not "out of
   memory"; real arrays (1.6 MB of them, more than one read step) still read
   through a pipe as they do from a file.
4. IDX (raw and gzip): a header promising 2^40 pixels over a few bytes is
   "truncated"; a gzip stream that inflates past what the header declares
   is refused (the IDX reader grows its buffer with the data it reads).

Every reader runs under a 1 GiB address-space limit (RLIMIT_AS; in the
sanitizer build ASan's max_allocation_size_mb), so that an attempt to
allocate what the file claims fails the test instead of passing unnoticed
on a machine with enough memory.

Run by ctest with /usr/bin/python3: MDNMF_TOOLS names the folder of
model_roundtrip and npy_echo, MDNMF_BIN the mdnmf tool.
"""

import io
import os
import resource
import struct
import subprocess
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import run_checks  # noqa: E402

TOOLS = os.environ.get("MDNMF_TOOLS", ".")
MODEL_ROUNDTRIP = os.path.join(TOOLS, "model_roundtrip")
NPY_ECHO = os.path.join(TOOLS, "npy_echo")
MDNMF = os.environ.get("MDNMF_BIN", "mdnmf")

MEMORY_LIMIT = 1 << 30  # bytes of address space for every reader run here
GIB = 1 << 30


SANITIZED = os.environ.get("MDNMF_SANITIZED") == "1"


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_limited(*args, stdin_bytes=None, timeout=120):
    """Run a reader with at most MEMORY_LIMIT bytes to allocate.  AddressSanitizer
    reserves terabytes of address space for its shadow, so the sanitizer
    build gets the same limit from ASan's allocator instead of RLIMIT_AS."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    limit = limit_memory
    if SANITIZED:
        env["ASAN_OPTIONS"] = ":".join(filter(None, [
            env.get("ASAN_OPTIONS"), "max_allocation_size_mb=%d" % (MEMORY_LIMIT >> 20),
            "allocator_may_return_null=1"]))
        limit = None
    try:
        return subprocess.run([str(a) for a in args], input=stdin_bytes, capture_output=True,
                              env=env, preexec_fn=limit, timeout=timeout)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, -1, b"", b"(timed out after %d s)" % timeout)


def npy_image(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def npy_header(shape, descr="<f4"):
    """A version 1.0 .npy header for any shape, as NumPy pads it."""
    text = "{'descr': '%s', 'fortran_order': False, 'shape': %r, }" % (descr, tuple(shape))
    text += " " * ((64 - (10 + len(text) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode()


def model_members(W):
    """The four members of a one-source model with basis W (D, m)."""
    d = W.shape[0]
    params = '{"format": "mdnmf-model", "d": %d}' % d
    return [("W.npy", npy_image(W.astype("<f4"))),
            ("components.npy", npy_image(np.array([d], dtype="<i8"))),
            ("mu_H.npy", npy_image(np.zeros(d, dtype="<f4"))),
            ("params.npy", npy_image(np.array(params)))]


def zip_image(members, deflated=(), declared=None):
    """A zip of `members` [(name, bytes)], those named in `deflated`
    compressed, with local headers that tell the truth and a central
    directory that declares declared[name] = (size, compressed size) where
    given (ZIP64 extra fields for values of 4 GiB and more), as a crafted
    file would."""
    declared = declared or {}
    out, directory = bytearray(), bytearray()
    for name, data in members:
        method = 8 if name in deflated else 0
        if method:
            packer = zlib.compressobj(9, zlib.DEFLATED, -15)
            stored = packer.compress(data) + packer.flush()
        else:
            stored = data
        crc = zlib.crc32(data)
        offset = len(out)
        encoded = name.encode()
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc,
                           len(stored), len(data), len(encoded), 0) + encoded + stored
        size, compressed = declared.get(name, (len(data), len(stored)))
        extra = b""
        if size >= 0xFFFFFFFF or compressed >= 0xFFFFFFFF:
            extra = struct.pack("<HHQQ", 1, 16, size, compressed)
            size = compressed = 0xFFFFFFFF
        directory += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45 if extra else 20, 0,
                                 method, 0, 0x21, crc, compressed, size, len(encoded),
                                 len(extra), 0, 0, 0, 0, offset) + encoded + extra
    start = len(out)
    out += directory
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members),
                       len(directory), start, 0)
    return bytes(out)


def stored_length(members, name, deflate=False):
    data = dict(members)[name]
    if not deflate:
        return len(data)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return len(packer.compress(data) + packer.flush())


def lying_models(W):
    """(what, zip bytes, member named in the message)."""
    members = model_members(W)
    w_length = stored_length(members, "W.npy")
    w_deflated = stored_length(members, "W.npy", deflate=True)
    # A header consistent with 16 GiB of floats, over the same few bytes.
    huge_header = npy_header((1 << 32,))
    huge = [(n, huge_header if n == "W.npy" else d) for n, d in members]
    return [
        ("W.npy declared 2^50 bytes", zip_image(members, declared={
            "W.npy": (1 << 50, 1 << 50)}), "W.npy"),
        ("W.npy declared 64 GiB", zip_image(members, declared={
            "W.npy": (64 * GIB, 64 * GIB)}), "W.npy"),
        ("W.npy declared 2 GiB (less than the machine's memory)", zip_image(members, declared={
            "W.npy": (2 * GIB, 2 * GIB)}), "W.npy"),
        ("params.npy (read first) declared 64 GiB", zip_image(members, declared={
            "params.npy": (64 * GIB, 64 * GIB)}), "params.npy"),
        ("a stored W.npy of 64 GiB in its true compressed size", zip_image(members, declared={
            "W.npy": (64 * GIB, w_length)}), "W.npy"),
        ("a deflated W.npy declared 64 GiB", zip_image(members, deflated={"W.npy"}, declared={
            "W.npy": (64 * GIB, w_deflated)}), "W.npy"),
        ("a deflated W.npy declared 1000x its compressed size",
         zip_image(members, deflated={"W.npy"}, declared={
             "W.npy": (1000 * w_deflated, w_deflated)}), "W.npy"),
        ("W.npy declared 64 bytes more than its .npy header describes (inside the file)",
         zip_image(members, declared={"W.npy": (w_length + 64, w_length + 64)}), "W.npy"),
        ("a 16 GiB .npy header in a stored W.npy declared as such",
         zip_image(huge, declared={"W.npy": (len(huge_header) + 16 * GIB,) * 2}), "W.npy"),
        ("a 16 GiB .npy header in a deflated W.npy declared as such",
         zip_image(huge, deflated={"W.npy"}, declared={
             "W.npy": (len(huge_header) + 16 * GIB,
                       stored_length(huge, "W.npy", deflate=True))}), "W.npy"),
    ]


def check_lying_models(checks, folder):
    W = np.random.default_rng(3).random((4, 6)).astype(np.float32)
    path = os.path.join(folder, "lying.npz")
    copy = os.path.join(folder, "copy.npz")
    for what, image, member in lying_models(W):
        with open(path, "wb") as f:
            f.write(image)
        result = run_limited(MODEL_ROUNDTRIP, "copy", path, copy)
        error = result.stderr.decode(errors="replace").strip()
        checks.check(result.returncode == 1 and "corrupt model file" in error
                     and "lying.npz" in error and member in error
                     and "out of memory" not in error and not os.path.exists(copy),
                     "refuses %s: %r" % (what, error))
    # The tool says it in one line too.
    with open(path, "wb") as f:
        f.write(lying_models(W)[1][1])
    data = os.path.join(folder, "U.npy")
    np.save(data, np.random.default_rng(1).random((5, 6)).astype(np.float32))
    result = run_limited(MDNMF, "score", "-m", path, "-i", data)
    lines = result.stderr.decode(errors="replace").splitlines()
    checks.check(result.returncode == 1 and len(lines) == 1
                 and "corrupt model file" in lines[0] and "lying.npz" in lines[0]
                 and "W.npy" in lines[0] and result.stdout == b"",
                 "mdnmf score: one line for a lying model: %r" % lines)


def check_zero_size_elements(checks, folder):
    """Found by fuzz_npy: a '<U0' array (elements of no bytes) of 8 * 10^11
    elements fits in no data at all, and decoding it as text looped over
    every element: a model whose params.npy said so hung its reader."""
    W = np.ones((2, 3), dtype=np.float32)
    members = [(n, npy_header((842949672964,), "<U0") if n == "params.npy" else d)
               for n, d in model_members(W)]
    path = os.path.join(folder, "empty_text.npz")
    copy = os.path.join(folder, "empty_text_copy.npz")
    with open(path, "wb") as f:
        f.write(zip_image(members))
    result = run_limited(MODEL_ROUNDTRIP, "copy", path, copy, timeout=30)
    error = result.stderr.decode(errors="replace").strip()
    checks.check(result.returncode == 1 and "params.npy" in error and "<U0" in error
                 and not os.path.exists(copy),
                 "refuses a params.npy of 8e11 '<U0' elements at once: %r" % error)


def check_real_models_still_load(checks, folder):
    # All zeros: deflate's best case, close to its 1032x limit (998x here).
    zeros = np.zeros((1000, 784), dtype=np.float32)
    for what, W, deflated in [("stored", np.ones((3, 5), np.float32), ()),
                              ("deflated, all-zero basis", zeros, {"W.npy"}),
                              ("every member deflated", zeros,
                               {"W.npy", "components.npy", "mu_H.npy", "params.npy"})]:
        members = model_members(W)
        path = os.path.join(folder, "real.npz")
        copy = os.path.join(folder, "real_copy.npz")
        with open(path, "wb") as f:
            f.write(zip_image(members, deflated=deflated))
        if os.path.exists(copy):
            os.remove(copy)
        result = run_limited(MODEL_ROUNDTRIP, "copy", path, copy)
        ok = result.returncode == 0 and os.path.exists(copy)
        if ok:
            with np.load(copy) as z:
                ok = np.array_equal(z["W"], W)
        checks.check(ok, "loads a real model (%s): %r" % (what, result.stderr))
    ratio = len(zeros.tobytes()) / stored_length(model_members(zeros), "W.npy", deflate=True)
    checks.check(ratio > 900, "the all-zero basis compresses %.0fx (near deflate's 1032x)" % ratio)


def check_npy_pipes(checks, folder):
    out = os.path.join(folder, "echo.npy")
    for what, shape in [("2 GiB", (GIB // 2,)), ("4 TiB", (1 << 40,)),
                        ("16 GiB in two dimensions", (1 << 16, 1 << 16))]:
        image = npy_header(shape) + b"\x00" * 100
        result = run_limited(NPY_ECHO, "/dev/stdin", out, stdin_bytes=image)
        error = result.stderr.decode(errors="replace").strip()
        checks.check(result.returncode == 1 and "truncated" in error
                     and "out of memory" not in error and not os.path.exists(out),
                     "a pipe whose .npy header promises %s: %r" % (what, error))


def check_npy_pipe_still_reads(checks, folder):
    out = os.path.join(folder, "echo.npy")
    rng = np.random.default_rng(9)
    for what, array in [("float32", rng.random((7, 5)).astype("<f4")),
                        ("Fortran-ordered big-endian float64",
                         np.asfortranarray(rng.random((300, 700)).astype(">f8"))),
                        ("uint16", (rng.random((3, 4)) * 60000).astype("<u2")),
                        ("empty", np.zeros((0, 3), dtype="<f4"))]:
        if os.path.exists(out):
            os.remove(out)
        result = run_limited(NPY_ECHO, "/dev/stdin", out, stdin_bytes=npy_image(array))
        ok = result.returncode == 0 and os.path.exists(out)
        checks.check(ok and np.array_equal(np.load(out), array.astype(np.float32)),
                     "a pipe of a real .npy (%s) reads as from a file: %r"
                     % (what, result.stderr))


def check_idx_headers(checks, folder):
    """IDX already grew its buffer with the data read; kept so by this test:
    headers promising 2^40 pixels over a few bytes, raw and gzip, and a
    small gzip bomb (1 MB of zeros behind a 1 KB file, more than the header
    declares) fail cleanly under the memory limit."""
    import gzip
    out = os.path.join(folder, "idx.npy")
    header = struct.pack(">BBBBIII", 0, 0, 8, 3, 1 << 20, 1 << 10, 1 << 10)
    bomb = struct.pack(">BBBBIII", 0, 0, 8, 3, 2, 2, 2) + bytes(1 << 20)
    for what, image, expected in [
            ("raw, 2^40 pixels promised", header + bytes(100), "truncated"),
            ("gzip, 2^40 pixels promised", gzip.compress(header + bytes(100)), "truncated"),
            ("gzip, 1 MB of zeros after 8 pixels", gzip.compress(bomb), "data after")]:
        path = os.path.join(folder, "images.idx")
        with open(path, "wb") as f:
            f.write(image)
        result = run_limited(MDNMF, "data", "idx", "-i", path, "-o", out)
        error = result.stderr.decode(errors="replace").strip()
        checks.check(result.returncode == 1 and expected in error and "images.idx" in error
                     and "out of memory" not in error and not os.path.exists(out),
                     "an IDX file (%s): %r" % (what, error))


def main():
    return run_checks((MODEL_ROUNDTRIP, NPY_ECHO), [
        check_lying_models,
        check_zero_size_elements,
        check_real_models_still_load,
        check_npy_pipes,
        check_npy_pipe_still_reads,
        check_idx_headers,
    ])


if __name__ == "__main__":
    sys.exit(main())
