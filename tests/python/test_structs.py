"""The ctypes mirrors of the public structs (python/mdnmf/_native.py) against
the C compiler's layout, printed by tests/tools/struct_sizes: every size and
every member's offset and size must agree, so a change of include/mdnmf.h
cannot silently shift a field under the binding."""

import ctypes
import subprocess

from harness import run_tests, tool

from mdnmf import _native


def c_layout():
    output = subprocess.run([tool("struct_sizes")], capture_output=True, text=True,
                            check=True).stdout
    sizes, fields, constants = {}, {}, {}
    for line in output.splitlines():
        words = line.split()
        if words[1] == "sizeof":
            sizes[words[0]] = int(words[2])
        elif words[1] == "value":
            constants[words[0]] = int(words[2])
        else:
            fields[(words[0], words[1])] = (int(words[2]), int(words[3]))
    return sizes, fields, constants


def test_struct_sizes_match_c():
    sizes, _, _ = c_layout()
    assert set(sizes) == set(_native.STRUCTS), (set(sizes), set(_native.STRUCTS))
    for name, mirror in _native.STRUCTS.items():
        assert ctypes.sizeof(mirror) == sizes[name], \
            f"{name}: ctypes {ctypes.sizeof(mirror)} bytes, C {sizes[name]}"


def test_every_field_matches_c():
    _, fields, _ = c_layout()
    mirrored = set()
    for name, mirror in _native.STRUCTS.items():
        for field, _type in mirror._fields_:
            descriptor = getattr(mirror, field)
            assert (name, field) in fields, f"{name}.{field} is not in the C struct"
            offset, size = fields[(name, field)]
            assert (descriptor.offset, descriptor.size) == (offset, size), \
                f"{name}.{field}: ctypes at {descriptor.offset} ({descriptor.size} bytes), " \
                f"C at {offset} ({size} bytes)"
            mirrored.add((name, field))
    missing = set(fields) - mirrored
    assert not missing, f"C members without a ctypes mirror: {sorted(missing)}"


def test_constants_match_c():
    _, _, constants = c_layout()
    assert constants["MDNMF_MAX_SOURCES"] == _native.MAX_SOURCES


def test_defaults_land_in_the_right_fields():
    # The library fills the ctypes struct: its documented defaults must be
    # read back from the fields of the same names.
    p = _native.Params()
    _native.lib.mdnmf_params_default(ctypes.byref(p))
    assert (p.d, p.epochs, p.test_epochs, p.batch_size, p.batch_size_adv) == (0, 50, 50, 0, 0)
    assert (p.mu_W, p.mu_H, p.tau_A, p.tau_W) == (1e-6, 1e-6, 0.1, 1.0)
    assert (p.init, p.true_sample, p.normalize, p.update_H, p.seed) == (0, 0, 0, 0, 0)
    s = _native.SeparatorParams()
    _native.lib.mdnmf_separator_params_default(ctypes.byref(s), 3)
    assert (s.sources, s.mode, s.tau_S, s.common.epochs) == (3, 0, 1.0, 50)
    assert list(s.beta[:3]) == [1.0, 1.0, 1.0] and list(s.tau_A[:3]) == [0.1, 0.1, 0.1]


if __name__ == "__main__":
    run_tests(globals())
