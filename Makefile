# Root entry points. CMake does the building; this file names what a user types.
MAKEFLAGS += --no-print-directory
BUILD     ?= build
SAN_BUILD ?= build-san
FUZZ_BUILD ?= build-fuzz
FAULT_BUILD ?= build-fault
JOBS      ?= $(shell nproc)
LISTEN    ?= 127.0.0.1:8080
DB        ?= entitled.db

.PHONY: all build san deps run test test-fast clean format bench fuzz

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
	@$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS)
	@$(MAKE) fault

# The optimised build only (quick loop while developing).
test-fast: deps build
	@cd $(BUILD) && ctest --output-on-failure

format:
	@clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c')

clean:
	@rm -rf $(BUILD) $(SAN_BUILD) $(FUZZ_BUILD) $(FAULT_BUILD)

# entitled against nginx, Fastify and FastAPI (../shared/peers) with wrk, then
# pages at any depth over 1,000,000 rows, in one run, with the table of ratios
# and targets (bench/bench.py; bench/README.md). DUR, RUNS, DEEP_ROWS and
# BENCH_ONLY (sections) change it. Not tests: nothing here asserts on timing.
DEEP_ROWS ?= 1000000
PEERS_SRC ?= ../shared/peers
BENCH_PEERS ?= /var/tmp/entitled-bench/peers
bench: deps build
	@bash scripts/bench-deps.sh --peers $(BENCH_PEERS) --from $(PEERS_SRC)
	@python3 bench/bench.py $(BUILD)/entitled --peers $(BENCH_PEERS) --deep-rows $(DEEP_ROWS) $(if $(BENCH_ONLY),--only $(BENCH_ONLY))

# libFuzzer targets (fuzz/README.md), built with clang in $(FUZZ_BUILD): each
# replays its regression cases, then fuzzes FUZZ_SECONDS from a scratch copy
# of its seeds. `make test` runs them for FUZZ_SMOKE_SECONDS each.
FUZZ_SECONDS       ?= 300
FUZZ_SMOKE_SECONDS ?= 30
fuzz: deps
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	   -DENTITLED_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_targets
	@bash fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Fault injection (issue 7; ARCHITECTURE.md "Fault injection"): $(FAULT_BUILD)
# is ASan/UBSan with -DENTITLED_FAULTS=ON, a test-only server that obeys the
# X-Fault request header (the store failing on its Nth call, the allocator on
# its Nth allocation). Builds it and runs ctest's api-faults
# (tests/faults/test_faults.py). `make test` runs it too.
.PHONY: fault
fault: deps
	@cmake -S . -B $(FAULT_BUILD) -DCMAKE_BUILD_TYPE=Debug -DENTITLED_SANITIZE=ON \
	   -DENTITLED_FAULTS=ON >/dev/null
	@cmake --build $(FAULT_BUILD) -j $(JOBS) --target entitled
	@cd $(FAULT_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -R '^api-faults$$'
