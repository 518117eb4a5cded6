# The two set-up commands: `make run` and `make test`. Everything else is a helper they call.
PRESET ?= release
BUILD  := build/$(PRESET)
JOBS   ?= $(shell nproc)
# Warnings are errors in dev builds too: CI uses the same flags, so its compiles hit the same ccache
# entries (WERROR=OFF to relax locally).
WERROR ?= ON
# ccache hits across clones (CI builds a fresh clone on the same machine): paths relative to here.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := true
export CCACHE_MAXSIZE ?= 5G

.PHONY: all deps build run test unit web bench-http fuzz format tidy tidy-all clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja: CMakeLists.txt CMakePresets.json
	cmake --preset $(PRESET) -DKANSOKU_WERROR=$(WERROR) -DKANSOKU_SKIP= >/dev/null

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

web: deps
	@scripts/build-web

# Starts server (and, once it exists, a local agent) on ./data; prints the URL and admin token.
run: build web
	@scripts/run-local

# Installs, builds and runs every test; in CI also the unit tests under ASan+UBSan and the fuzzers.
test: build web
	@scripts/test

unit: build
	ctest --test-dir $(BUILD) -L unit --output-on-failure -j $(JOBS)

fuzz: deps
	@scripts/fuzz 20

bench-http: build
	@bench/http/run.sh

format:
	scripts/format

tidy: build
	scripts/tidy $(BUILD) light

tidy-all: build
	scripts/tidy $(BUILD) all

clean:
	rm -rf build
