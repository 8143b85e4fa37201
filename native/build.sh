#!/usr/bin/env bash
# Builds the native parts for rebar3 (pre_hook) and Mix (compiler step):
# the ferrotp CLI (port program, node) and, when present, the NIF library,
# copied to priv/ where erlang:load_nif/2 finds it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p ferrotp-cli >&2
mkdir -p priv
# The NIF library with the `nif` profile (release plus whole-program
# optimisation, see Cargo.toml): target/nif/.
if [ -d native/nif ]; then
  cargo build --profile nif --locked -p ferrotp-nif >&2
  cp -f target/nif/libferrotp_nif.so priv/libferrotp_nif.so.tmp
  mv -f priv/libferrotp_nif.so.tmp priv/libferrotp_nif.so
fi
# The example of a user's own NIF library (ferrotp's NIFs plus a `stack`
# behaviour): a crate of its own, with a target directory of its own (its
# ferrotp-nif is built without the `library` feature; the rlib's file name
# carries no hash, so it must not share target/release/deps).
# Not --locked: its lock file follows the runtime's dependencies, which move
# more often than this example; and a failure here only fails the example's
# own tests, never the build of ferrotp itself.
if [ -f examples/nif_stack/Cargo.toml ]; then
  if CARGO_TARGET_DIR="$PWD/target/nif_stack" cargo build --release \
    --manifest-path examples/nif_stack/Cargo.toml >&2; then
    cp -f target/nif_stack/release/libferrotp_nif_example.so priv/libferrotp_nif_example.so.tmp
    mv -f priv/libferrotp_nif_example.so.tmp priv/libferrotp_nif_example.so
  else
    echo "native/build.sh: examples/nif_stack did not build (its tests will fail)" >&2
  fi
fi
