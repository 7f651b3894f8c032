#!/usr/bin/env bash
# vigil's whole test suite, on a fresh Debian machine or a developer's: installs what
# the tests need (they fail loudly without it, never skip), then checks formatting,
# lints and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v tmux >/dev/null || need+=(tmux)
command -v pgrep >/dev/null || need+=(procps)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
# The certificate tests make their certificates and a TLS endpoint with the openssl CLI.
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "installing: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The Docker tests run a locally built image and a one-node swarm on the real engine.
docker info >/dev/null || { echo "the Docker engine does not answer: the executor tests need it" >&2; exit 1; }
./scripts/test-image.sh
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
  docker swarm init --advertise-addr 127.0.0.1 >/dev/null
fi

cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo test --tests

# Every fuzz target briefly (15 s each; scripts/fuzz.sh SECONDS for longer runs). Needs the
# nightly toolchain: fails loudly without it; installs cargo-fuzz when missing.
./scripts/fuzz.sh 15
