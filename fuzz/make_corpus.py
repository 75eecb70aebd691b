#!/usr/bin/python3
"""Seed corpora and dictionaries for the libFuzzer harnesses (fuzz/*.c).

    /usr/bin/python3 fuzz/make_corpus.py OUT_DIR MDNMF_BIN

writes OUT_DIR/<harness>/ (small valid inputs, a few deliberately odd ones)
and OUT_DIR/<harness>.dict.  Everything is made here at fuzz time (NumPy for
.npy files, zipfile for .npz variants, the standard library's wave, aifc and
sunau modules and libsndfile through ctypes for audio, MDNMF_BIN itself for
a real model and for the option names), so no binary corpus is committed.
"""
import ctypes
import ctypes.util
import gzip
import io
import json
import os
import re
import shlex
import struct
import subprocess
import sys
import tempfile
import warnings
import zipfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write(folder, name, data):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def write_dict(path, tokens):
    """libFuzzer dictionary: one quoted token a line (bytes escaped)."""
    with open(path, "w") as f:
        for token in sorted({t.encode() if isinstance(t, str) else t for t in tokens}):
            text = "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else "\\x%02x" % b
                           for b in token)
            f.write('"%s"\n' % text)


def npy_bytes(array, version=None):
    buffer = io.BytesIO()
    if version is None:
        np.save(buffer, array, allow_pickle=False)
    else:
        np.lib.format.write_array(buffer, array, version=version, allow_pickle=False)
    return buffer.getvalue()


# ------------------------------------------------------------------ .npy

def npy_seeds(out):
    folder = os.path.join(out, "fuzz_npy")
    rng = np.random.default_rng(12)
    base = rng.random((3, 4))
    arrays = {
        "f4_c": base.astype("<f4"),
        "f4_fortran": np.asfortranarray(base.astype("<f4")),
        "f4_big": base.astype(">f4"),
        "f8_fortran": np.asfortranarray(base),
        "f2": base.astype("<f2"),
        "i1": (base * 100).astype("i1"),
        "u2_big": (base * 1000).astype(">u2"),
        "i4": (base * 1000).astype("<i4"),
        "i8_1d": np.array([3, -1, 7], dtype="<i8"),
        "u8_1d": np.array([1, 2**63 + 5], dtype="<u8"),
        "b1": base > 0.5,
        "f4_1d": base[0].astype("<f4"),
        "f4_empty": np.zeros((0, 3), dtype="<f4"),
        "f4_0d": np.array(1.5, dtype="<f4"),
        "text_0d": np.array('{"a": 1}'),
        "text_1d": np.array(["ab", "c\u00e9"]),
        "text_u1": np.frombuffer(b'{"x": [1, 2]}', dtype="u1"),
    }
    for name, array in arrays.items():
        write(folder, name + ".npy", npy_bytes(array))
    write(folder, "f4_v2.npy", npy_bytes(base.astype("<f4"), version=(2, 0)))
    write(folder, "text_v3.npy", npy_bytes(np.array("v3 \u2713"), version=(3, 0)))
    write_dict(os.path.join(out, "fuzz_npy.dict"), [
        b"\x93NUMPY", b"\x01\x00", b"\x02\x00", b"\x03\x00", "'descr'", "'fortran_order'",
        "'shape'", "True", "False", "<f4", ">f8", "<f2", "|u1", "|b1", "<i8", ">u4", "<U8",
        "<c8", "|O", "|S3", "(", ")", ",)", "{", "}", ": ", "9223372036854775807",
        "4294967296", "-1", "0"])


# ------------------------------------------------------------------ .npz

def fit_model(mdnmf, folder, name, command):
    model = os.path.join(folder, name)
    subprocess.run([mdnmf] + command + ["-o", model, "-q", "--epochs", "2", "--seed", "1",
                                        "--threads", "1"], check=True, cwd=folder)
    with open(model, "rb") as f:
        return f.read()


def rezip(image, compression):
    """The same members, written again with `compression`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(image)) as source, \
            zipfile.ZipFile(out, "w", compression) as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info.filename))
    return out.getvalue()


def npz_seeds(out, mdnmf):
    folder = os.path.join(out, "fuzz_npz")
    rng = np.random.default_rng(3)
    with tempfile.TemporaryDirectory() as work:
        for name in ("U.npy", "U1.npy"):
            np.save(os.path.join(work, name), rng.random((6, 4)).astype("<f4"))
        models = {
            "std.npz": fit_model(mdnmf, work, "std.npz", ["fit", "-i", "U.npy", "-d", "2"]),
            "normalized.npz": fit_model(mdnmf, work, "normalized.npz",
                                        ["fit", "-i", "U.npy", "-d", "3", "--normalize",
                                         "--init", "random", "--mu-h", "0.1"]),
            "separator.npz": fit_model(mdnmf, work, "separator.npz",
                                       ["separator", "fit", "--mode", "std", "--source",
                                        "U.npy", "--source", "U1.npy", "-d", "2,1"]),
        }
    keys = set()
    for name, image in models.items():
        write(folder, name, image)
        write(folder, "deflated-" + name, rezip(image, zipfile.ZIP_DEFLATED))
        with zipfile.ZipFile(io.BytesIO(image)) as z:
            params = str(np.load(io.BytesIO(z.read("params.npy"))))
        # The JSON alone: the harness wraps any input that is not a zip.
        write(folder, name.replace(".npz", ".json"), params.encode())
        keys.update(re.findall(r'"([A-Za-z_]+)"', params))
    separator = {"format": "mdnmf-model", "separator": {"mode": "semi", "sources": 2},
                 "audio": {"sample_rate": 16000, "n_fft": 512, "hop": 128}}
    write(folder, "with-objects.json", json.dumps(separator).encode())
    write_dict(os.path.join(out, "fuzz_npz.dict"),
               ['"%s"' % k for k in keys | {"separator", "audio", "format", "version"}]
               + ["PK\x03\x04", "PK\x01\x02", "PK\x05\x06", "W.npy", "mu_H.npy",
                  "components.npy", "params.npy", "null", "true", "false", "1e308", "-0",
                  "{", "}", "[", "]", ":", ","])


# ------------------------------------------------------------------- IDX

def idx_bytes(array):
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def idx_seeds(out):
    folder = os.path.join(out, "fuzz_idx")
    rng = np.random.default_rng(5)
    images = (rng.random((3, 4, 5)) * 255).astype(np.uint8)
    labels = np.array([7, 2, 1, 0, 4], dtype=np.uint8)
    for name, data in {"images": idx_bytes(images), "labels": idx_bytes(labels),
                       "empty": idx_bytes(np.zeros((0,), np.uint8))}.items():
        write(folder, name + ".idx", data)
        write(folder, name + ".idx.gz", gzip.compress(data, mtime=0))
    # Two gzip members make one stream, as gzip(1) reads them.
    data = idx_bytes(labels)
    write(folder, "two-members.idx.gz",
          gzip.compress(data[:6], mtime=0) + gzip.compress(data[6:], mtime=0))
    # The start of a real file (Fashion-MNIST, when the test packages are in).
    real = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"
    if os.path.exists(real):
        with gzip.open(real) as f:
            head = bytearray(f.read(8 + 20))
        head[4:8] = struct.pack(">I", 20)
        write(folder, "fashion-labels.idx", bytes(head))
    write_dict(os.path.join(out, "fuzz_idx.dict"),
               [b"\x00\x00\x08\x01", b"\x00\x00\x08\x03", b"\x00\x00\x0d\x03",
                b"\x1f\x8b\x08\x00", b"\xff\xff\xff\xff", b"\x00\x00\x00\x00"])


# ----------------------------------------------------------------- audio

class KeptBuffer(io.BytesIO):
    """aifc and sunau close the file they write: keep its bytes."""

    def close(self):
        self.kept = self.getvalue()
        super().close()


def wave_bytes(module, samples, rate, width, channels):
    buffer = KeptBuffer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        writer = module.open(buffer, "wb")
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(samples)
        writer.close()
    return buffer.kept if buffer.closed else buffer.getvalue()


class SF_INFO(ctypes.Structure):
    _fields_ = [("frames", ctypes.c_int64), ("samplerate", ctypes.c_int),
                ("channels", ctypes.c_int), ("format", ctypes.c_int),
                ("sections", ctypes.c_int), ("seekable", ctypes.c_int)]


def sndfile_bytes(library, major, minor, signal, rate, channels):
    """A file libsndfile writes itself (FLAC, Ogg Vorbis, ...), or None."""
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "out").encode()
        info = SF_INFO(0, rate, channels, major | minor, 0, 0)
        handle = library.sf_open(path, 0x20, ctypes.byref(info))  # SFM_WRITE
        if not handle:
            return None
        data = np.ascontiguousarray(signal, dtype=np.float32)
        library.sf_writef_float(handle, data.ctypes.data_as(ctypes.c_void_p),
                                ctypes.c_int64(len(data) // channels))
        library.sf_close(handle)
        with open(path, "rb") as f:
            return f.read()


def audio_seeds(out):
    folder = os.path.join(out, "fuzz_audio")
    import wave
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import aifc  # deprecated since Python 3.11, still there in 3.11 and 3.12
        import sunau
    t = np.arange(400)
    tone = np.sin(2 * np.pi * 440 * t / 8000)
    pcm16 = (tone * 20000).astype("<i2")
    write(folder, "mono16.wav", wave_bytes(wave, pcm16.tobytes(), 8000, 2, 1))
    write(folder, "stereo16.wav",
          wave_bytes(wave, np.repeat(pcm16, 2).tobytes(), 16000, 2, 2))
    write(folder, "mono8.wav",
          wave_bytes(wave, ((tone + 1) * 127).astype(np.uint8).tobytes(), 11025, 1, 1))
    pcm32 = (tone * 2e9).astype("<i4")
    write(folder, "mono32.wav", wave_bytes(wave, pcm32.tobytes(), 22050, 4, 1))
    pcm24 = b"".join(struct.pack("<i", int(v))[:3] for v in tone[:200] * 8e6)
    write(folder, "mono24.wav", wave_bytes(wave, pcm24, 48000, 3, 1))
    write(folder, "mono16.aiff", wave_bytes(aifc, pcm16.byteswap().tobytes(), 8000, 2, 1))
    write(folder, "mono16.au", wave_bytes(sunau, pcm16.byteswap().tobytes(), 8000, 2, 1))
    name = ctypes.util.find_library("sndfile")
    library = ctypes.CDLL(name) if name else None
    if library:
        library.sf_open.restype = ctypes.c_void_p
        library.sf_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(SF_INFO)]
        library.sf_writef_float.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
        library.sf_close.argtypes = [ctypes.c_void_p]
        formats = {"mono.flac": (0x170000, 0x0002), "mono.ogg": (0x200000, 0x0060),
                   "float.wav": (0x010000, 0x0006), "mono.caf": (0x180000, 0x0002),
                   "ulaw.au": (0x030000, 0x0010), "ima.wav": (0x010000, 0x0012)}
        for file_name, (major, minor) in formats.items():
            image = sndfile_bytes(library, major, minor, tone * 0.5, 8000, 1)
            if image:
                write(folder, file_name, image)
    # A real recording's start (colobot's effects, when the test packages are in).
    real = "/usr/share/games/colobot/sounds/sound000.wav"
    if os.path.exists(real):
        with open(real, "rb") as f:
            write(folder, "colobot-start.wav", f.read(3000))
    write_dict(os.path.join(out, "fuzz_audio.dict"),
               ["RIFF", "WAVE", "fmt ", "data", "LIST", "fact", "FORM", "AIFF", "AIFC", "COMM",
                "SSND", ".snd", "fLaC", "OggS", "caff", "desc", b"\xff\xff\xff\xff",
                b"\x00\x00\x00\x00", b"\x01\x00", b"\x03\x00", b"\xfe\xff"])


# ------------------------------------------------------------------- CLI

def argv_seed(words):
    return b"\x00".join(w.encode() for w in words)


def cli_seeds(out, mdnmf):
    folder = os.path.join(out, "fuzz_cli")
    lines = []
    for doc in ("docs/cli.md", "docs/audio.md", "docs/data.md", "README.md"):
        path = os.path.join(REPO, doc)
        if not os.path.exists(path):
            continue
        with open(path) as f:
            text = f.read().replace("\\\n", " ")
        for line in text.splitlines():
            line = line.strip().split("  #")[0]
            if line.startswith("mdnmf ") and "experiment" not in line:
                try:
                    lines.append(shlex.split(line)[1:])
                except ValueError:
                    pass
    commands = ["fit", "transform", "score", "eval", "search", "separator fit",
                "separator apply", "denoise fit", "denoise apply", "denoise stream", "data idx",
                "data mix"]
    options = set()
    for command in commands:
        lines.append(command.split() + ["--help"])
        usage = subprocess.run([mdnmf] + command.split() + ["--help"], capture_output=True,
                               text=True).stdout
        options.update(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])\b", usage))
        options.update(command.split())
    for i, words in enumerate(lines):
        write(folder, "line%03d" % i, argv_seed(words))
    write_dict(os.path.join(out, "fuzz_cli.dict"),
               sorted(options) + ["\x00", "=", "--", "-", ",", "1e-45", "nan", "inf",
                                  "-1", "0x10", "18446744073709551615", "2147483648"])


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: make_corpus.py OUT_DIR MDNMF_BIN")
    out, mdnmf = sys.argv[1], os.path.abspath(sys.argv[2])
    npy_seeds(out)
    npz_seeds(out, mdnmf)
    idx_seeds(out)
    audio_seeds(out)
    cli_seeds(out, mdnmf)


if __name__ == "__main__":
    main()
