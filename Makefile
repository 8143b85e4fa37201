# ferrotp: one entry point for a fresh Debian machine.
#   make demo   installs what is missing, builds, runs the let-it-crash demo
#   make test   installs what is missing, runs every suite
SHELL := /bin/bash
.DEFAULT_GOAL := help

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CARGO ?= cargo
FERROTP := target/release/ferrotp
# nextest when installed, cargo test otherwise.
NEXTEST := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo yes)

.PHONY: help deps build demo test test-rust test-fuzz test-erlang test-elixir bench bench-nif bench-port bench-dist lint

help:
	@echo "make demo   - install what is missing, build, run the let-it-crash demo"
	@echo "make test   - install what is missing, run every suite"
	@echo "make bench  - benchmarks side by side with the BEAM (ratios)"

## deps: Erlang/OTP, Elixir and rebar3 from Debian when erl, elixir or rebar3
## is absent; JInterface and a headless JDK (the Java peer's test,
## native/node/tests/jinterface.rs) when javac or OtpErlang.jar is absent.
## One apt-get update, one apt-get install.
JINTERFACE_JAR_CHECK := erl -noshell -eval 'D = code:lib_dir(jinterface), halt(case is_list(D) andalso filelib:is_file(filename:join(D, "priv/OtpErlang.jar")) of true -> 0; false -> 1 end).'
deps:
	@pkgs=""; \
	if ! command -v erl >/dev/null 2>&1 || ! command -v elixir >/dev/null 2>&1 || ! command -v rebar3 >/dev/null 2>&1; then \
	  pkgs="erlang-nox erlang-dev elixir rebar3"; \
	fi; \
	if ! command -v javac >/dev/null 2>&1 || ! command -v erl >/dev/null 2>&1 || ! $(JINTERFACE_JAR_CHECK) >/dev/null 2>&1; then \
	  pkgs="$$pkgs erlang-jinterface openjdk-17-jdk-headless"; \
	fi; \
	if [ -n "$$pkgs" ]; then \
	  echo "==> installing$$pkgs"; \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$pkgs; \
	fi
	@command -v $(CARGO) >/dev/null 2>&1 || { echo "cargo is required (https://rustup.rs)"; exit 1; }

build: deps
	$(CARGO) build --release --locked -p ferrotp-cli

demo: build
	@bash test/demo.sh

test: deps
	$(CARGO) build --release --locked -p ferrotp-cli
	$(MAKE) test-rust
	$(MAKE) test-erlang
	$(MAKE) test-elixir

## The decoder's mutation fuzz loop runs inside the cargo suites for FERROTP_FUZZ_SECS.
test-rust: export FERROTP_FUZZ_SECS ?= 30
test-rust:
ifeq ($(NEXTEST),yes)
	$(CARGO) nextest run --workspace --locked --no-fail-fast --release
else
	$(CARGO) test --workspace --locked --no-fail-fast --release
endif

## The decoder fuzz loop alone (a longer one: FERROTP_FUZZ_SECS=3600 make test-fuzz).
test-fuzz:
	FERROTP_FUZZ_SECS=$${FERROTP_FUZZ_SECS:-30} $(CARGO) test --release --locked -p ferrotp-etf --test fuzz_decode

## EUnit (and Common Test suites under test/erlang) through rebar3, no hex deps.
test-erlang:
	@if ls test/erlang/*_tests.erl >/dev/null 2>&1; then rebar3 eunit; else echo "no EUnit suites yet"; fi

## ExUnit through Mix, no hex deps.
test-elixir:
	@if ls test/elixir/*_test.exs >/dev/null 2>&1; then MIX_ENV=test mix test; else echo "no ExUnit suites yet"; fi

## Benchmarks, each side by side with the BEAM in the same run (ratios).
bench: build
	$(CARGO) run --release --locked -p ferrotp-etf --example bench --features bench-eetf
	$(CARGO) bench --locked -p ferrotp --bench processes
	$(MAKE) bench-nif
	$(MAKE) bench-port
	$(MAKE) bench-dist

## NIF mode against the BEAM: the execution-design measurement (Erlang),
## then call/cast/start/memory against Elixir GenServers.
bench-nif:
	bash native/build.sh
	mkdir -p _build/bench && erlc -o _build/bench erlang/ferrotp.erl erlang/ferrotp_nif.erl erlang/ferrotp_nif_bench.erl bench/beam_bench_counter.erl
	erl -noshell -pa _build/bench -eval 'ferrotp_nif_bench:design(), halt().'
	mix run bench/nif_bench.exs

## Port mode against a plain {packet,4} echo port, in the same run: many
## short alternating rounds, the median of the per-round ratios and their
## spread. Wake-up latency on a shared machine swings both sides; the second
## run pins the VM and both port programs to one CPU, which leaves the cost
## of the path itself (no cross-CPU wake-ups).
bench-port:
	bash native/build.sh
	mkdir -p _build/bench && erlc -o _build/bench erlang/ferrotp.erl erlang/ferrotp_nif.erl erlang/ferrotp_port.erl erlang/ferrotp_proxy.erl erlang/ferrotp_port_pids.erl erlang/ferrotp_port_bench.erl
	erl -noshell -pa _build/bench -eval 'ferrotp_port_bench:run(), halt().'
	@if command -v taskset >/dev/null 2>&1; then \
	  echo "pinned to one CPU:"; \
	  taskset -c 0 erl -noshell -pa _build/bench -eval 'ferrotp_port_bench:run(), halt().'; \
	fi

## Hidden node against a second Erlang node, in one run: a private epmd,
## `ferrotp node`, and an Erlang node alternating both targets (bench/dist.sh).
bench-dist: build
	bash bench/dist.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
