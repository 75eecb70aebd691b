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
    assert constants["MDNMF_ERROR_MESSAGE_SIZE"] == _native.ERROR_MESSAGE_SIZE


def test_defaults_land_in_the_right_fields():
    # The library fills the ctypes struct: its documented defaults must be
    # read back from the fields of the same names.
    p = _native.Params()
    _native.lib.mdnmf_params_default(ctypes.byref(p))
    assert (p.d, p.epochs, p.test_epochs, p.batch_size, p.batch_size_adv) == (0, 50, 50, 0, 0)
    assert (p.mu_W, p.mu_H, p.tau_A, p.tau_W) == (1e-6, 1e-6, 0.1, 1.0)
    assert (p.init, p.true_sample, p.normalize, p.update_H, p.seed) == (0, 0, 0, 0, 0)
    assert (p.init_H_steps, p.divergence) == (0, 0)  # test_epochs steps, Frobenius
    assert (p.per_sample_init, p.reserved_pad) == (0, 0)  # SPEC's one stream
    s = _native.SeparatorParams()
    _native.lib.mdnmf_separator_params_default(ctypes.byref(s), 3)
    assert (s.sources, s.mode, s.tau_S, s.common.epochs) == (3, 0, 1.0, 50)
    assert (s.noise_steps, s.wiener_exponent) == (1, 1.0)  # SPEC: one step, p = 1
    assert list(s.beta[:3]) == [1.0, 1.0, 1.0] and list(s.tau_A[:3]) == [0.1, 0.1, 0.1]


def test_defaults_zero_the_reserved_tails():
    # New fields come out of the reserved tails and mean "the default" when
    # 0: the defaults functions must clear whatever the caller's memory held.
    for mirror, fill in ((_native.Params, _native.lib.mdnmf_params_default),
                         (_native.SeparatorParams,
                          lambda p: _native.lib.mdnmf_separator_params_default(p, 2))):
        value = mirror()
        ctypes.memset(ctypes.byref(value), 0xA5, ctypes.sizeof(value))
        fill(ctypes.byref(value))
        tails = [value.reserved]
        if mirror is _native.SeparatorParams:
            tails.append(value.common.reserved)
        for tail in tails:
            assert list(tail) == [0] * len(tail), (mirror.__name__, list(tail))


def test_error_is_filled_and_cleared():
    error = _native.Error()
    ctypes.memset(ctypes.byref(error), 0x41, ctypes.sizeof(error))
    p = _native.Params()
    _native.lib.mdnmf_params_default(ctypes.byref(p))  # d = 0: unusable
    status = _native.lib.mdnmf_params_check(ctypes.byref(p), ctypes.byref(error))
    assert status == _native.ERR_ARGUMENT == error.status
    assert "d" in error.text() and len(error.message) < _native.ERROR_MESSAGE_SIZE
    p.d = 3
    assert _native.lib.mdnmf_params_check(ctypes.byref(p), ctypes.byref(error)) == _native.OK
    assert (error.status, error.text()) == (_native.OK, "")
    assert _native.lib.mdnmf_params_check(ctypes.byref(p), None) == _native.OK


if __name__ == "__main__":
    run_tests(globals())
