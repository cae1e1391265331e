# Thin wrapper around CMake: the README's commands. `make check` builds and tests twice
# (optimised, then ASan+UBSan); `make demo` runs the main job on the default data.
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
CMAKE_FLAGS ?=

.PHONY: all build deps demo check test test-asan bench fuzz install clean

all: build

deps:
	bash scripts/deps.sh

build: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	cmake --build build -j $(JOBS)

build-asan/CMakeCache.txt:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DRELSTAB_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null

test: build
	cd build && ctest --output-on-failure -j $(JOBS)

test-asan: deps build-asan/CMakeCache.txt
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

check: test test-asan

demo: build
	bash scripts/demo.sh build/relstab

bench: build
	cmake --build build --target benches -j $(JOBS)
	bash bench/run.sh build

FUZZ_SECONDS ?= 60
fuzz: deps
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DRELSTAB_FUZZ=ON -DRELSTAB_TESTS=OFF >/dev/null
	cmake --build build-fuzz -j $(JOBS)
	bash tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

install: build
	cmake --install build --prefix $(PREFIX)

clean:
	rm -rf build build-asan build-fuzz
