#!/usr/bin/env bash
# vigil's whole test suite, on a fresh Debian machine or a developer's: installs what
# the tests need (they fail loudly without it, never skip), then checks formatting,
# lints and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v tmux >/dev/null || need+=(tmux)
command -v pgrep >/dev/null || need+=(procps)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "installing: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo test --tests
