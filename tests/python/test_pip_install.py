"""`pip install ./python` as a user on a fresh machine would run it.

From a copy of this source tree without any build folder (so no `make` ran),
in a new virtual environment with the system's packages (NumPy, SciPy and
scikit-learn come from Debian), offline (--no-index, --no-build-isolation):
pip must build libmdnmf itself and install a package that carries it.  Then
`import mdnmf` from outside the tree loads that bundled library, the other
tests/python/test_*.py files pass against the installed package
(MDNMF_TEST_INSTALLED=1, see harness.py), and `pip uninstall` leaves the
environment's files exactly as they were before the install.  The library is
built once; the whole test takes about a minute on two cores.
"""

import os
import re
import shutil
import subprocess
import sys
import time

from harness import HERE, SOURCE_ROOT, Folder, run_tests

from mdnmf import _native

# Never copied: version control, build trees (CMake's, setuptools'), data.
TOP_LEVEL_SKIPPED = {".git", "data", "results", "node_modules"}


def skipped(folder, names):
    ignored = {n for n in names if n == "__pycache__" or n.endswith(".egg-info")
               or n == "build" or n.startswith("build-")}
    if os.path.samefile(folder, SOURCE_ROOT):
        ignored |= TOP_LEVEL_SKIPPED & set(names)
    return ignored


def copy_sources(destination):
    shutil.copytree(SOURCE_ROOT, destination, ignore=skipped, symlinks=True)


def file_list(folder):
    return sorted(os.path.relpath(os.path.join(root, name), folder)
                  for root, dirs, files in os.walk(folder) for name in dirs + files)


def cmake_version():
    with open(os.path.join(SOURCE_ROOT, "CMakeLists.txt"), encoding="utf-8") as file:
        return re.search(r"^project\(\s*mdnmf\s+VERSION\s+([0-9.]+)", file.read(),
                         re.M).group(1)


def clean_environment(**extra):
    """No hint of this tree: no MDNMF_LIB, no PYTHONPATH, no user site."""
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("MDNMF_LIB", "PYTHONPATH", "PYTHONHOME", "MDNMF_TEST_INSTALLED")}
    environment.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONNOUSERSITE="1", **extra)
    return environment


def run(command, timeout=600, **kwargs):
    return subprocess.run([str(word) for word in command], capture_output=True, text=True,
                          timeout=timeout, env=kwargs.pop("env", clean_environment()), **kwargs)


def python_test_files():
    """The other Python test files: each runs against the installed package."""
    names = sorted(n for n in os.listdir(HERE) if n.startswith("test_") and n.endswith(".py"))
    return [n for n in names if n != os.path.basename(__file__)]


def check_import(python, site):
    """`import mdnmf` from /: the venv's package, its bundled library."""
    code = ("import mdnmf; print(mdnmf.__file__); print(mdnmf.library_path); "
            "print(mdnmf.__version__)")
    result = run([python, "-c", code], cwd="/")
    assert result.returncode == 0, result.stderr
    module, library, version = result.stdout.split()
    assert module == os.path.join(site, "mdnmf", "__init__.py"), module
    assert library == os.path.join(site, "mdnmf", "_lib", _native.SONAME), library
    assert version == cmake_version(), version


def run_installed_tests(python, scratch):
    """Each test file with the venv's python, MDNMF_TEST_INSTALLED=1, from a
    folder outside the tree; MDNMF_BIN and MDNMF_TOOLS (the CLI and helper
    programs some tests compare with) stay as ctest set them."""
    failures = []
    for name in python_test_files():
        start = time.monotonic()
        result = run([python, os.path.join(HERE, name)], cwd=scratch,
                     env=clean_environment(MDNMF_TEST_INSTALLED="1"))
        passed = re.search(r"^(\d+)/(\d+) passed$", result.stdout, re.M)
        print(f"     installed: {name}: exit {result.returncode}, "
              f"{passed.group(0) if passed else 'no summary'} "
              f"({time.monotonic() - start:.1f} s)")
        if result.returncode != 0 or not passed or passed.group(1) != passed.group(2):
            failures.append(f"{name} (exit {result.returncode}):\n{result.stdout[-3000:]}"
                            f"\n{result.stderr[-3000:]}")
    assert not failures, "against the installed package:\n" + "\n".join(failures)


def test_pip_install_in_a_venv_builds_bundles_and_uninstalls():
    with Folder() as folder:
        source = folder / "mdnmf-source"
        copy_sources(source)
        assert not os.path.exists(os.path.join(source, "build"))
        venv = folder / "venv"
        result = run([sys.executable, "-m", "venv", "--system-site-packages", venv])
        assert result.returncode == 0, result.stderr
        python = os.path.join(venv, "bin", "python")
        site = run([python, "-c", "import sysconfig; print(sysconfig.get_path('platlib'))"]
                   ).stdout.strip()
        assert site.startswith(venv), site
        environment_before = file_list(venv)
        sources_before = file_list(source)

        start = time.monotonic()
        result = run([os.path.join(venv, "bin", "pip"), "install", "--no-build-isolation",
                      "--no-index", "--no-cache-dir", os.path.join(source, "python")])
        print(f"     pip install: {time.monotonic() - start:.1f} s")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        # A platform wheel (the package carries a compiled library).
        wheel = re.search(r"filename=(mdnmf-\S+\.whl)", result.stdout)
        assert wheel and re.fullmatch(rf"mdnmf-{re.escape(cmake_version())}"
                                      r"-py3-none-linux_\w+\.whl", wheel.group(1)), result.stdout
        # The build happened elsewhere: the source tree is as it was.
        assert file_list(source) == sources_before, \
            set(file_list(source)) ^ set(sources_before)
        installed = set(file_list(venv)) - set(environment_before)
        assert os.path.relpath(os.path.join(site, "mdnmf", "_lib", _native.SONAME),
                               venv) in installed

        check_import(python, site)
        # No build of the tree was used: the copy has none, and the package
        # sits in the venv (a leftover build/ could only be found through it).
        shutil.rmtree(source)
        check_import(python, site)
        run_installed_tests(python, folder.path)

        result = run([os.path.join(venv, "bin", "pip"), "uninstall", "-y", "mdnmf"])
        assert result.returncode == 0, result.stderr
        left = set(file_list(venv)) - set(environment_before)
        assert not left, f"pip uninstall left {sorted(left)}"
        assert file_list(venv) == environment_before


if __name__ == "__main__":
    run_tests(globals())
