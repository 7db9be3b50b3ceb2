# Weft: the two commands a new machine needs are `make demo` and `make test`.
# Both install what they need (Debian packages) first.

BUILD_DIR ?= build
ASAN_DIR ?= build-asan
JOBS ?= 2
PYTEST := /usr/bin/python3 -m pytest

.PHONY: all setup configure build build-asan test unit integration demo bench format lint test-asan clean

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

# The unit tier under AddressSanitizer + UndefinedBehaviorSanitizer (pure
# libraries and their tests only, so it stays quick to build).
build-asan: setup
	@test -f $(ASAN_DIR)/build.ninja || cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	    -DWEFT_SANITIZE=address,undefined -DWEFT_UNIT_TESTS_ONLY=ON
	@cmake --build $(ASAN_DIR) -j $(JOBS)

test-asan: build-asan
	@cd $(ASAN_DIR) && ctest --output-on-failure -j $(JOBS) -L unit

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

lint: configure
	@bash scripts/lint.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR)
