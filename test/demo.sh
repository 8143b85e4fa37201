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
if "$BIN" demo --help >/dev/null 2>&1; then
  "$BIN" demo
fi
echo "== the seed's messages, through ferrotp's ETF codec =="
show '{bump, 5}'
show 'value'
show "{'\$gen_call', {self, tag}, value}"
show '#{strategy => one_for_one, intensity => 3, period => 10}'
show "[#{id => counter, start => {counter, start_link, []}, restart => permanent, shutdown => 5000, type => worker}]"
