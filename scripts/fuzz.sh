#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: scripts/fuzz.sh [SECONDS] (default 60 each).
# Needs the nightly toolchain and cargo-fuzz (installed from crates.io if missing). A crash
# stops the run and leaves its input in fuzz/artifacts/TARGET/: commit it as a regression
# test under tests/ (see tests/fuzz_regressions.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-60}"
case "$secs" in
  ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, got \"$secs\"" >&2; exit 2 ;;
esac

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz.sh: the nightly toolchain is missing (rustup toolchain install nightly): cargo fuzz needs it" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

targets=(config trace docker audit protocol)

cd fuzz
# -a: debug assertions, so an integer overflow is a crash, not a wrapped number.
if ! cargo +nightly fuzz build -a >build.log 2>&1; then
  tail -n 30 build.log >&2
  echo "fuzz.sh: the fuzz targets do not build (fuzz/build.log)" >&2
  exit 1
fi
for t in "${targets[@]}"; do
  # New inputs go to a scratch corpus; the committed seeds (corpus/T) are only read.
  work="$(mktemp -d)"
  echo "fuzz: $t for ${secs}s"
  # rss_limit bounds memory: an input that makes vigil allocate without bound is a crash.
  status=0
  # The config loader re-parses the file once per problem: short inputs run far more often.
  max_len=65536
  [ "$t" = config ] && max_len=4096
  cargo +nightly fuzz run -a "$t" "$work" "corpus/$t" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -max_len="$max_len" -timeout=10 \
    -print_final_stats=1 >"$work.log" 2>&1 || status=$?
  grep -E "^stat::(number_of_executed_units|peak_rss_mb)|ERROR|SUMMARY|panicked|Test unit written" "$work.log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$work.log" >&2
    rm -rf "$work" "$work.log"
    echo "fuzz: $t found a crash (exit $status); the input is in fuzz/artifacts/$t/" >&2
    exit 1
  fi
  rm -rf "$work" "$work.log"
done
echo "fuzz: ${#targets[@]} targets ran ${secs}s each without a crash"
