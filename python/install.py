#!/usr/bin/python3
"""Install the mdnmf Python package, with a copy of libmdnmf, for this Python.

    /usr/bin/python3 python/install.py [--lib build/libmdnmf.so] [--target DIR | --user]
    /usr/bin/python3 python/install.py --uninstall [--target DIR | --user]

`make python` runs it after building the library.  Needs only the Python
standard library: no pip, no setuptools, no network.  The package goes to
this interpreter's site-packages (for Debian's /usr/bin/python3 run as root:
/usr/local/lib/python3.X/dist-packages, the place Debian keeps for local
installs), the library next to it as mdnmf/_lib/<its soname>, so
`import mdnmf` finds it without MDNMF_LIB.  The new files are assembled
beside the old installation and swapped in by renames: an interrupted
install leaves the previous one intact.  DESTDIR (environment) is
prepended to the target, for packaging.
"""

import argparse
import base64
import ctypes
import hashlib
import os
import re
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.join(HERE, "mdnmf")
NAME = "mdnmf"

def binding_soname():
    """The soname the binding mirrors (mdnmf/_native.py's SONAME)."""
    with open(os.path.join(PACKAGE, "_native.py"), encoding="utf-8") as file:
        return re.search(r'^SONAME = "(.+)"$', file.read(), re.M).group(1)


LIBRARY_NAME = binding_soname()


def fail(message):
    sys.exit(f"install.py: {message}")


def default_target(user):
    if user:
        return site.getusersitepackages()
    return sysconfig.get_path("purelib")


def record_line(root, path):
    with open(path, "rb") as file:
        content = file.read()
    digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
    return f"{os.path.relpath(path, root)},sha256={digest},{len(content)}"


def library_version(library):
    """The version the library reports (mdnmf_version): the package's, set
    once in CMakeLists.txt."""
    try:
        lib = ctypes.CDLL(os.path.realpath(library))
    except OSError as error:
        fail(f"{library} does not load ({error}): build the library first (make)")
    lib.mdnmf_version.restype = ctypes.c_char_p
    return lib.mdnmf_version().decode()


def stage(staging, library, version):
    """The package, its library and metadata in `staging`."""
    package = os.path.join(staging, NAME)
    os.makedirs(os.path.join(package, "_lib"))
    for name in sorted(os.listdir(PACKAGE)):
        if name.endswith(".py"):
            shutil.copy2(os.path.join(PACKAGE, name), package)
    shutil.copy2(os.path.realpath(library), os.path.join(package, "_lib", LIBRARY_NAME))
    info = os.path.join(staging, f"{NAME}-{version}.dist-info")
    os.makedirs(info)
    with open(os.path.join(info, "METADATA"), "w") as file:
        file.write(f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {version}\n"
                   "Summary: NMF and Maximum Discrepancy NMF on libmdnmf (ctypes)\n"
                   "Requires-Dist: numpy\n")
    with open(os.path.join(info, "INSTALLER"), "w") as file:
        file.write("mdnmf-install.py\n")
    with open(os.path.join(info, "top_level.txt"), "w") as file:
        file.write(f"{NAME}\n")
    lines = []
    for folder, _, files in os.walk(staging):
        for name in sorted(files):
            lines.append(record_line(staging, os.path.join(folder, name)))
    lines.append(f"{NAME}-{version}.dist-info/RECORD,,")
    with open(os.path.join(info, "RECORD"), "w") as file:
        file.write("\n".join(sorted(lines)) + "\n")


def installed_entries(target):
    entries = [NAME] if os.path.isdir(os.path.join(target, NAME)) else []
    entries += [e for e in os.listdir(target) if e.startswith(f"{NAME}-")
                and e.endswith(".dist-info")]
    return entries


def swap_in(staging, target):
    """Replace the installed package by the staged one, rename by rename."""
    trash = tempfile.mkdtemp(prefix=".mdnmf-old-", dir=target)
    try:
        for entry in installed_entries(target):
            os.rename(os.path.join(target, entry), os.path.join(trash, entry))
        for entry in os.listdir(staging):
            os.rename(os.path.join(staging, entry), os.path.join(target, entry))
    finally:
        shutil.rmtree(trash, ignore_errors=True)


def check_import(target):
    """Import the installed package in a clean interpreter (no MDNMF_LIB, not
    from this source tree) and report which library it loaded."""
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("MDNMF_LIB", "PYTHONPATH", "PYTHONHOME")}
    environment["PYTHONPATH"] = target
    code = "import mdnmf; print(mdnmf.__file__); print(mdnmf.library_path)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=environment, cwd="/")
    if result.returncode != 0:
        fail(f"the installed package does not import: {result.stderr.strip()}")
    return result.stdout.split()


def install(arguments):
    library = arguments.lib
    if not os.path.isfile(library):
        fail(f"{library} does not exist: build the library first (make), or pass --lib")
    version = library_version(library)
    target = arguments.target or default_target(arguments.user)
    target = os.environ.get("DESTDIR", "") + target
    try:
        os.makedirs(target, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=".mdnmf-new-", dir=target)
    except OSError as error:
        fail(f"cannot write to {target} ({error.strerror}): run as root, or use --user "
             "or --target DIR")
    try:
        stage(staging, library, version)
        swap_in(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"installed {NAME} {version} in {os.path.join(target, NAME)}")
    if not os.environ.get("DESTDIR"):
        module, loaded = check_import(target)
        print(f"import mdnmf: {module}, library {loaded}")


def uninstall(arguments):
    target = os.environ.get("DESTDIR", "") + (arguments.target or
                                               default_target(arguments.user))
    entries = installed_entries(target) if os.path.isdir(target) else []
    if not entries:
        print(f"{NAME} is not installed in {target}")
        return
    for entry in entries:
        shutil.rmtree(os.path.join(target, entry))
    print(f"removed {NAME} from {target}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lib", default=os.path.join(os.path.dirname(HERE), "build",
                                                      "libmdnmf.so"),
                        help="the built shared library (default: build/libmdnmf.so)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--target", help="install into this folder instead of site-packages")
    where.add_argument("--user", action="store_true", help="install into the user's site")
    parser.add_argument("--uninstall", action="store_true", help="remove the package")
    arguments = parser.parse_args()
    (uninstall if arguments.uninstall else install)(arguments)


if __name__ == "__main__":
    main()
