# Weft: the two commands a new machine needs are `make demo` and `make test`.
# Both install what they need (Debian packages) first.

BUILD_DIR ?= build
ASAN_DIR ?= build-asan
JOBS ?= 2
PYTEST := /usr/bin/python3 -m pytest

.PHONY: all setup configure build build-asan test unit integration demo bench format lint test-asan fuzz clean

all: build

setup:
	@bash scripts/setup.sh

configure: setup
	@test -f $(BUILD_DIR)/build.ninja || cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Every tier (lint, unit, unit under ASan+UBSan, integration), then one
# summary line. Runs all tiers even when one fails, so one run shows
# everything that is broken.
test: build build-asan
	@bash scripts/test.sh $(BUILD_DIR) $(ASAN_DIR)

unit: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -L unit

integration: build
	@WEFT_BUILD_DIR=$(abspath $(BUILD_DIR)) $(PYTEST) -q tests/integration

demo: build
	@bash scripts/demo.sh $(BUILD_DIR)

bench: build
	@bash bench/run.sh $(BUILD_DIR)

# The unit tier under AddressSanitizer + UndefinedBehaviorSanitizer, and
# the libFuzzer harnesses (fuzz/), in one clang tree: pure libraries, their
# tests and the harnesses only, so it stays quick to build. A tree
# configured before the harnesses existed is configured again.
build-asan: setup
	@grep -qs 'WEFT_FUZZ:BOOL=ON' $(ASAN_DIR)/CMakeCache.txt || { rm -rf $(ASAN_DIR) && \
	    CC=clang CXX=clang++ cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	    -DWEFT_SANITIZE=address,undefined -DWEFT_UNIT_TESTS_ONLY=ON -DWEFT_FUZZ=ON; }
	@cmake --build $(ASAN_DIR) -j $(JOBS)

# Every fuzz harness for FUZZ_SECONDS each (docs/security.md).
FUZZ_SECONDS ?= 180
fuzz: build-asan
	@bash fuzz/run.sh $(ASAN_DIR) $(FUZZ_SECONDS)

test-asan: build-asan
	@cd $(ASAN_DIR) && ASAN_OPTIONS=detect_stack_use_after_return=1 ctest --output-on-failure -j $(JOBS) -L unit

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

lint: configure
	@bash scripts/lint.sh $(BUILD_DIR) $(ASAN_DIR)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR)
