# User-facing targets (DESIGN.md §7). The build itself is CMake + Ninja in ./build.
BUILD      ?= build
ASAN_BUILD ?= build-asan
CMAKE_ARGS ?=

.PHONY: all deps build run test test-unit test-e2e test-asan test-tsan test-reliability test-tls soak fuzz lint check-includes bench bench-scale clean

all: build

deps:
	@tools/install-deps.sh

build:
	@cmake -S . -B $(BUILD) -G Ninja $(CMAKE_ARGS) >/dev/null
	@ninja -C $(BUILD)

# Starts a dev server in ./coffer-data (see README).
run: deps build
	$(BUILD)/cofferd --dev

test: deps build check-includes test-unit test-e2e test-reliability

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

test-e2e: build
	tests/e2e/run.sh $(BUILD)

# Crash (kill -9 cycles), disk full, overload and bad peers, the TLS check (testssl): short
# versions here, long in soak.
test-reliability: build
	BUILD=$(BUILD) tests/reliability/run.sh --short

# The TLS configuration alone (testssl, ~70 s; also part of test-reliability and soak).
test-tls: build
	BUILD=$(BUILD) tests/reliability/tls.sh --short

soak: deps build
	BUILD=$(BUILD) tests/reliability/run.sh --soak

test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCF_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@ninja -C $(ASAN_BUILD)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -L unit
	ASAN_OPTIONS=detect_leaks=1 tests/e2e/run.sh $(ASAN_BUILD)

# Include direction (DESIGN.md §2) and static analysis.
check-includes:
	@tools/check-includes.sh

# autoVariables: the store's writer queue links stack-allocated jobs whose owners wait for
# them, by design (store/sqlite.c).
lint: check-includes
	@cppcheck --quiet --error-exitcode=1 --enable=warning --inline-suppr -I src \
		--suppress=missingIncludeSystem --suppress=autoVariables --std=c11 src

# ThreadSanitizer: unit and concurrency tests only.
test-tsan: deps
	@cmake -S . -B build-tsan -G Ninja -DCF_TSAN=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@ninja -C build-tsan
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -L unit

# libFuzzer targets, FUZZ_SECONDS each (CI: 30).
fuzz: deps
	tools/fuzz.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-tsan build-fuzz

# Benchmarks against baselines measured in the same run (results in bench/results/).
bench: deps build
	bench/run.sh

# Scale: 1k/100k/1M secrets, 1,000 versions, 1,000 vaults, 100k deleted, RSS (minutes; not in CI).
bench-scale: deps build
	BUILD=$(BUILD) bench/scale.sh
