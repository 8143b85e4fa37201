#!/usr/bin/env bash
# Builds the native parts for rebar3 (pre_hook) and Mix (compiler step):
# the ferrotp CLI (port program, node) and, when present, the NIF library,
# copied to priv/ where erlang:load_nif/2 finds it.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(-p ferrotp-cli)
if [ -d native/nif ]; then packages+=(-p ferrotp-nif); fi
cargo build --release --locked "${packages[@]}" >&2
mkdir -p priv
if [ -f target/release/libferrotp_nif.so ]; then
  cp -f target/release/libferrotp_nif.so priv/libferrotp_nif.so.tmp
  mv -f priv/libferrotp_nif.so.tmp priv/libferrotp_nif.so
fi
