"""Builds the mdnmf package together with its own libmdnmf.

    pip install --no-build-isolation ./python   (or `pip install .` from the
                                                 repository root: ../setup.py)

build_py copies the Python files as usual, then runs CMake on the repository
this folder belongs to: configure into a temporary folder, build the shared
library target `mdnmf` only (not the tool, tests, experiments, examples or
plugins), and copy the library under its soname into mdnmf/_lib/, where
mdnmf/_native.py looks first.  The wheel is therefore platform-specific
(py3-none-linux_*: ctypes needs no particular Python ABI).  The version is
CMakeLists.txt's project(VERSION), read here without building anything.

Environment: MDNMF_CMAKE_ARGS, extra CMake configure arguments (e.g.
"-DMDNMF_NATIVE=ON" to tune for this CPU); MDNMF_JOBS, parallel compile jobs
(default: the number of CPUs).  Needs what `make` needs (README,
Requirements): cmake, a C compiler and the libraries' -dev packages.
"""

import atexit
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

try:  # setuptools >= 70 has its own; Debian 12's setuptools 66 uses wheel's
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:
    try:
        from wheel.bdist_wheel import bdist_wheel
    except ImportError:  # no wheel package: pip cannot build a wheel anyway
        bdist_wheel = None

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(HERE)
PACKAGE = "mdnmf"


def fail(message):
    sys.exit(f"mdnmf setup.py: {message}")


def cmake_version():
    """project(mdnmf VERSION x.y.z) of CMakeLists.txt: the one version number."""
    path = os.path.join(SOURCE_ROOT, "CMakeLists.txt")
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError as error:
        fail(f"cannot read {path} ({error.strerror}): the package builds from the mdnmf "
             "source repository (its python/ folder needs the C sources beside it)")
    match = re.search(r"^project\(\s*mdnmf\s+VERSION\s+([0-9][0-9.]*)", text, re.M)
    if not match:
        fail(f"{path} has no project(mdnmf VERSION x.y.z)")
    return match.group(1)


def run(command, what):
    print("mdnmf setup.py:", " ".join(shlex.quote(word) for word in command), flush=True)
    try:
        subprocess.run(command, check=True)
    except FileNotFoundError:
        fail(f"{command[0]} not found: install CMake and a C compiler (README, Requirements)")
    except subprocess.CalledProcessError as error:
        fail(f"{what} failed (exit {error.returncode}); the messages above say why "
             "(missing -dev packages: README, Requirements)")


def build_library(destination):
    """Build libmdnmf.so in a temporary folder, copy it to destination/<soname>."""
    jobs = os.environ.get("MDNMF_JOBS") or str(os.cpu_count() or 1)
    with tempfile.TemporaryDirectory(prefix="mdnmf-cmake-") as build:
        run(["cmake", "-S", SOURCE_ROOT, "-B", build, "--log-level=WARNING",
             "-DCMAKE_BUILD_TYPE=Release", "-DMDNMF_TESTS=OFF", "-DMDNMF_EXPERIMENTS=OFF",
             *shlex.split(os.environ.get("MDNMF_CMAKE_ARGS", ""))], "CMake configure")
        run(["cmake", "--build", build, "--target", "mdnmf", "--parallel", jobs],
            "building libmdnmf")
        # build/libmdnmf.so -> libmdnmf.so.1 (the soname) -> libmdnmf.so.X.Y.Z
        link = os.path.join(build, "libmdnmf.so")
        soname = os.readlink(link) if os.path.islink(link) else "libmdnmf.so"
        shutil.rmtree(destination, ignore_errors=True)
        os.makedirs(destination)
        shutil.copyfile(os.path.realpath(link), os.path.join(destination, soname))
        os.chmod(os.path.join(destination, soname), 0o755)


class build_py_with_library(build_py):
    """build_py, then the C library into the built package's _lib/."""

    def run(self):
        super().run()
        if not self.dry_run:
            build_library(os.path.join(self.build_lib, PACKAGE, "_lib"))


class BinaryDistribution(Distribution):
    """The package carries a compiled library: platform wheel, platlib."""

    def has_ext_modules(self):
        return True


commands = {"build_py": build_py_with_library}
if bdist_wheel is not None:
    class platform_wheel(bdist_wheel):
        """Tagged py3-none-<platform>: the library is loaded by ctypes, so any
        Python 3 on this platform can use it."""

        def get_tag(self):
            _, _, platform = super().get_tag()
            return "py3", "none", platform

    commands["bdist_wheel"] = platform_wheel


# setuptools' scratch folders (build/, *.egg-info) go to a temporary folder:
# `build/` of the repository root is CMake's, and the source tree stays as it
# was (no stale build/lib copies of deleted modules in the next wheel either).
scratch = tempfile.mkdtemp(prefix="mdnmf-setuptools-")
atexit.register(shutil.rmtree, scratch, ignore_errors=True)

with open(os.path.join(HERE, "README-pip.txt"), encoding="utf-8") as readme:
    long_description = readme.read()

# Relative to the folder pip runs this from (python/, or the repository root
# through ../setup.py): setuptools wants package_dir relative.
package_root = os.path.relpath(HERE)

setup(
    name="mdnmf",
    version=cmake_version(),
    description="NMF and Maximum Discrepancy NMF for source separation, "
                "on libmdnmf (ctypes)",
    long_description=long_description,
    long_description_content_type="text/plain",
    python_requires=">=3.8",
    install_requires=["numpy"],
    extras_require={"sklearn": ["scikit-learn"]},
    packages=[PACKAGE],
    package_dir={"": package_root} if package_root != os.curdir else {},
    distclass=BinaryDistribution,
    cmdclass=commands,
    zip_safe=False,
    options={"build": {"build_base": os.path.join(scratch, "build")},
             "egg_info": {"egg_base": scratch}},
)
