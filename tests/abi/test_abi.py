"""The shared library's ABI, read off the built files: it exports the
public header's functions and nothing else, and the one version number of
CMakeLists.txt reaches the header, mdnmf.pc, the soname, the library's
mdnmf_version() and the Python package."""

import ctypes
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from harness import run_tests  # noqa: E402

BUILD = os.environ["MDNMF_BUILD"]
LIBRARY = os.environ["MDNMF_LIB"]
SOURCE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def read(path):
    with open(path, encoding="utf-8") as file:
        return file.read()


def exported_symbols(path):
    """Defined dynamic symbols, as `readelf --dyn-syms` lists them."""
    out = subprocess.run(["readelf", "--dyn-syms", "-W", path], capture_output=True,
                         text=True, check=True).stdout
    names = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[0][:-1].isdigit() and fields[6] != "UND":
            names.add(fields[7].split("@")[0])
    return names - {""}


def declared_functions(header):
    """Functions and data (MDNMF_API extern ... name[]) the header declares."""
    functions = re.findall(r"MDNMF_API\s[^;(]*?\b(mdnmf_\w+)\s*\(", header)
    data = re.findall(r"MDNMF_API\s+extern\s[^;(]*?\b(mdnmf_\w+)\s*\[", header)
    return set(functions) | set(data)


def project_version():
    match = re.search(r"project\(mdnmf VERSION (\d+)\.(\d+)\.(\d+)", read(
        os.path.join(SOURCE, "CMakeLists.txt")))
    return tuple(int(part) for part in match.groups())


def test_only_the_public_functions_are_exported():
    exported = exported_symbols(LIBRARY)
    header = read(os.path.join(BUILD, "include", "mdnmf.h"))
    assert exported == declared_functions(header), (
        sorted(exported - declared_functions(header)),
        sorted(declared_functions(header) - exported))
    assert all(name.startswith("mdnmf_") for name in exported)


def test_one_version_everywhere():
    major, minor, patch = project_version()
    text = f"{major}.{minor}.{patch}"
    header = read(os.path.join(BUILD, "include", "mdnmf.h"))
    for name, value in (("MAJOR", major), ("MINOR", minor), ("PATCH", patch)):
        assert re.search(rf"#define MDNMF_VERSION_{name} {value}\n", header), name
    assert f'#define MDNMF_VERSION_STRING "{text}"' in header
    assert re.search(rf"^Version: {re.escape(text)}$", read(os.path.join(BUILD, "mdnmf.pc")),
                     re.M)
    lib = ctypes.CDLL(LIBRARY)
    lib.mdnmf_version.restype = ctypes.c_char_p
    assert lib.mdnmf_version().decode() == text
    assert os.path.realpath(LIBRARY).endswith(f"libmdnmf.so.{text}")
    import mdnmf
    assert mdnmf.__version__ == text
    # No file of the source tree spells the version out by hand.
    spelled = subprocess.run(["git", "-C", SOURCE, "grep", "-lF", f'"{text}"', "--",
                              "*.py", "*.c", "*.h", "*.in", "*.toml", "*.txt"],
                             capture_output=True, text=True).stdout.split()
    assert spelled == [], spelled


def test_soname_is_the_abi_number():
    out = subprocess.run(["readelf", "-d", LIBRARY], capture_output=True, text=True,
                         check=True).stdout
    soname = re.search(r"Library soname: \[(.*?)\]", out).group(1)
    cmake = read(os.path.join(SOURCE, "CMakeLists.txt"))
    abi = re.search(r"set\(MDNMF_SOVERSION (\d+)\)", cmake).group(1)
    assert soname == f"libmdnmf.so.{abi}"
    from mdnmf import _native
    assert _native.SONAME == soname


def test_library_and_tool_do_not_link_cairo():
    tool = os.environ["MDNMF_BIN"]
    for path in (LIBRARY, tool):
        out = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
        linked = [line.split()[0] for line in out.splitlines() if "cairo" in line]
        assert linked == [], (path, linked)


if __name__ == "__main__":
    run_tests(globals())
