# Thin wrapper over CMake. `make help` lists the targets.
BUILD      ?= build
ASAN_BUILD ?= build-asan
PREFIX     ?= /usr/local
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 2

.PHONY: all deps deps-browser build test asan fuzz fuzz-deps install demo demo-check bench bench-index fixtures data-check audio-quality clean help

all: build

# Installs Debian packages only when something is missing (fast check first).
deps:
	@sh scripts/install-deps.sh --check >/dev/null 2>&1 || sh scripts/install-deps.sh

# The tests also drive the service's web page in headless Chromium (tests/cli/serve_browser.sh).
deps-browser:
	@sh scripts/install-deps.sh --check --browser >/dev/null 2>&1 || sh scripts/install-deps.sh --browser

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build deps-browser
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan: deps deps-browser
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Asan $(CMAKE_ARGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/fuzz/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

# libFuzzer ships with clang; Debian splits its runtime into libclang-rt-14-dev.
fuzz-deps:
	@sh scripts/install-deps.sh --check clang libclang-rt-14-dev >/dev/null 2>&1 || \
	  sh scripts/install-deps.sh clang libclang-rt-14-dev

# Builds the libFuzzer targets (clang, ASan+UBSan, no OpenMP: Debian's clang would need
# libomp-dev for it, and one thread is what the fuzzer wants anyway), then runs each for
# FUZZ_SECONDS. Fails when a target crashes; the reproducer is in $(FUZZ_BUILD)/crashes/.
fuzz: deps fuzz-deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DMMC_FUZZ=ON -DMMC_OPENMP=OFF -DCMAKE_BUILD_TYPE=Fuzz $(CMAKE_ARGS)
	cmake --build $(FUZZ_BUILD) --target mmc_fuzz -j $(FUZZ_JOBS)
	sh fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# The main job: the shapes world, models trained and evaluated on it, demo/report.html
# (docs/demo.md). Builds the CLI only (the tests are `make test`'s), then runs it.
demo: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target mmc_cli
	./$(BUILD)/mmc demo

# The report in a real browser: installs headless Chromium if missing (opt-in, only here),
# runs the demo unless demo/report.html is newer than the binary, takes a screenshot
# (demo/report-screenshot.png) and checks the curves and images are on it.
demo-check: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target mmc_cli
	sh scripts/demo-check.sh $(BUILD)/mmc

# Ours beside PyTorch's (Debian python3-torch, installed on demand) on the same threads.
bench: build
	sh bench/run.sh $(BUILD)/mmc

bench-index: build
	sh bench/index_int8.sh $(BUILD)/mmc

# Regenerates tests/fixtures/ with PyTorch (not part of CI; fixtures are committed).
# Both directions: PyTorch writes the parity fixtures mmc reads; mmc writes
# written_by_mmc.safetensors (the test that pins its bytes, in regenerate mode) and
# PyTorch checks every value of it.
fixtures: build
	sh scripts/install-deps.sh python3-torch python3-numpy
	/usr/bin/python3 tools/gen_fixtures.py tests/fixtures
	/usr/bin/python3 tools/gen_audio_fixtures.py
	MMC_REGENERATE_FIXTURES=1 MMC_SOURCE_DIR=$(CURDIR) ./$(BUILD)/mmc_tests safetensors_written_file_is_stable
	/usr/bin/python3 tools/check_mmc_safetensors.py tests/fixtures/written_by_mmc.safetensors

# The real importers end to end, into $(BUILD)/data-check/: needs the npm registry (emoji)
# and apt (dataset-fashion-mnist, installed if missing). Not in ctest: CI has no network.
data-check: build
	rm -rf $(BUILD)/data-check
	./$(BUILD)/mmc data emoji --out $(BUILD)/data-check/emoji
	./$(BUILD)/mmc data fashion-mnist --out $(BUILD)/data-check/fashion-mnist

# The speech retrieval figures (docs/audio.md): the spoken world and three 15-minute runs,
# about 80 minutes; AUDIO_OUT keeps the data for the next time. Not part of make test.
AUDIO_OUT ?= $(BUILD)/audio-quality
audio-quality: build
	sh scripts/audio-quality.sh $(BUILD)/mmc $(AUDIO_OUT)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

help:
	@echo "make           build build/mmc, build/libmmc.a, build/libmmc.so (installs deps if missing)"
	@echo "make test      run the test suite (ctest; installs headless Chromium for the"
	@echo "               service's web-page test if missing)"
	@echo "make asan      build build-asan/ with ASan+UBSan and run the suite there"
	@echo "make fuzz      build the libFuzzer targets in build-fuzz/ (clang) and run each for"
	@echo "               FUZZ_SECONDS (default 60); fails on a crash (docs/robustness.md)"
	@echo "make install   install into PREFIX (default /usr/local), with mmc.pc for pkg-config"
	@echo "make demo      the main job: shapes world, models trained and evaluated, demo/report.html"
	@echo "make demo-check  screenshot demo/report.html in headless Chromium (installed if"
	@echo "               missing) and check its curves and images are visible"
	@echo "make bench     mmc beside PyTorch on the same thread count"
	@echo "make bench-index  index build of 2,000 JPEG photos with a ViT-B/32-sized CLIP, float32 vs q8"
	@echo "make fixtures  regenerate the PyTorch parity fixtures and check in PyTorch the"
	@echo "               safetensors file mmc writes (needs python3-torch)"
	@echo "make audio-quality  the speech retrieval figures: 3 runs of 15 minutes (docs/audio.md)"
	@echo "make data-check  run the real emoji and Fashion-MNIST imports into build/data-check/"
	@echo "               (needs the npm registry and apt; not part of make test)"
