# Root entry points. CMake does the building; this file names what a user types.
MAKEFLAGS += --no-print-directory
BUILD     ?= build
SAN_BUILD ?= build-san
JOBS      ?= $(shell nproc)
LISTEN    ?= 127.0.0.1:8080
DB        ?= entitled.db

.PHONY: all build san deps run test test-fast clean format bench

all: build

deps:
	@bash scripts/deps.sh

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

san:
	@cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DENTITLED_SANITIZE=ON >/dev/null
	@cmake --build $(SAN_BUILD) -j $(JOBS)

run: deps build
	@LISTEN=$(LISTEN) DB=$(DB) bash scripts/run.sh $(BUILD)/entitled

# Every test, on the optimised build and again under ASan/UBSan.
test: deps build san
	@cd $(BUILD) && ctest --output-on-failure
	@cd $(SAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure

# The optimised build only (quick loop while developing).
test-fast: deps build
	@cd $(BUILD) && ctest --output-on-failure

format:
	@clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c')

clean:
	@rm -rf $(BUILD) $(SAN_BUILD)

# Throughput of GET and PATCH with wrk (bench/run.sh), then list pages at any
# depth over 1,000,000 rows (bench/deep.py; DEEP_ROWS to change). Not tests.
DEEP_ROWS ?= 1000000
bench: deps build
	@command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
	@bash bench/run.sh $(BUILD)/entitled
	@python3 bench/deep.py $(BUILD)/entitled $(DEEP_ROWS)
