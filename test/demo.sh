#!/usr/bin/env bash
# make demo: the seed's terms through the codec (the supervision story joins as it lands).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/ferrotp
show() {
  local text="$1"
  echo "erlang term : $text"
  printf '%s' "$text" | "$BIN" etf encode > /tmp/ferrotp-demo.bin
  echo "etf bytes   : $(od -An -tu1 -v /tmp/ferrotp-demo.bin | tr -s ' \n' ' ')"
  echo "decoded     : $("$BIN" etf decode /tmp/ferrotp-demo.bin)"
  echo
}
echo "== standalone: ferrotp demo =="
"$BIN" demo
echo
if command -v mix >/dev/null 2>&1; then
  mix run --no-start test/demo.exs
  echo
fi
echo "== the seed's messages, through ferrotp's ETF codec =="
show '{bump, 5}'
show 'value'
show "{'\$gen_call', {self, tag}, value}"
show '#{strategy => one_for_one, intensity => 3, period => 10}'
show "[#{id => counter, start => {counter, start_link, []}, restart => permanent, shutdown => 5000, type => worker}]"

# Hidden node: a Rust node hosting top_sup, an Erlang node supervising a Rust counter on it.
if command -v erl >/dev/null 2>&1 && [ -d _build/dev/lib/ferrotp/ebin ]; then
  tmp=$(mktemp -d)
  erlc -o "$tmp" test/demo_node.erl
  "$BIN" node --sname ferrotp_demo@localhost --cookie ferrotp_demo 2>"$tmp/node.log" &
  node_pid=$!
  trap 'kill $node_pid 2>/dev/null; rm -rf "$tmp"' EXIT
  for _ in $(seq 50); do epmd -names 2>/dev/null | grep -q ferrotp_demo && break; sleep 0.1; done
  erl -noshell -sname demo_erl@localhost -setcookie ferrotp_demo -pa "$tmp" -pa _build/dev/lib/ferrotp/ebin \
    -eval "demo_node:main('ferrotp_demo@localhost'), halt()."
fi
