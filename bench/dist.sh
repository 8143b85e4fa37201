#!/usr/bin/env bash
# `make bench-dist`: the hidden-node benchmark in one run. Starts a private
# epmd, `ferrotp node` and an Erlang node that runs bench/beam_dist_bench.erl
# against the Rust node and against a second Erlang node (started with
# `peer`), ROUNDS times, alternating targets inside every round. Stops all
# of them on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-1}
bin=${FERROTP_BIN:-target/release/ferrotp}
[ -x "$bin" ] || cargo build --release --locked -p ferrotp-cli
out=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$out"
}
trap cleanup EXIT
erlc -o "$out" bench/beam_dist_bench.erl bench/beam_bench_counter.erl
ERL_EPMD_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export ERL_EPMD_PORT
epmd -port "$ERL_EPMD_PORT" & pids+=($!)
sleep 0.5
rust="rustbench$$@localhost"
"$bin" node --sname "$rust" --cookie bench >"$out/node.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do grep -q " up " "$out/node.log" && break; sleep 0.1; done
grep -q " up " "$out/node.log" || { cat "$out/node.log"; exit 1; }
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
    echo "== round $r/$rounds"
    erl -noshell -sname "bench$$@localhost" -setcookie bench -pa "$out" \
        -eval "beam_dist_bench:main(['$rust']), halt()."
done
