#!/usr/bin/env bash
# Window F1 and NAB standard score of `vigil backtest detect` beside the peers (rolling
# 3-sigma, scikit-learn IsolationForest) on NAB's labelled traces, per category.
#   VIGIL_NAB=DIR      the traces and labels.json [default: ../shared/data/nab]
#   NAB_CODE=DIR       a NAB checkout, whose nab/sweeper.py scores [required]; its nab/ and
#                      config/ folders are enough (e.g. `git archive HEAD nab config`)
#   PEERS_PY=PYTHON    a python with scikit-learn and pandas [default: python3]
#   PEERS_CACHE=DIR    keep the peers' scores between runs
#   VIGIL_BIN=PATH     a vigil binary [default: a release build of this tree]
# Extra arguments go to `vigil backtest detect` (e.g. --forest).
set -euo pipefail
cd "$(dirname "$0")/.."
nab=${VIGIL_NAB:-../shared/data/nab}
: "${NAB_CODE:?set NAB_CODE to a NAB checkout (github numenta/NAB)}"
py=${PEERS_PY:-python3}
bin=${VIGIL_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin=./target/release/vigil
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for f in "$nab"/*/*.csv; do
  rel=${f#"$nab"/}
  mkdir -p "$out/$(dirname "$rel")"
  "$bin" backtest detect --trace "$f" --out "$out/$rel" --json "$@" > "$out/$rel.json"
done
python3 - "$out" <<'PY'
import glob, json, sys
s = [json.load(open(p)) for p in glob.glob(sys.argv[1] + "/*/*.json")]
big = max(s, key=lambda x: x["rows"])
print(f"{len(s)} traces, {sum(x['rows'] for x in s)} rows, {sum(x['seconds'] for x in s):.2f}s in all; "
      f"the longest ({big['rows']} rows) in {big['seconds']*1000:.0f} ms")
PY
"$py" benches/peers_detect.py --nab-data "$nab" --nab-code "$NAB_CODE" --vigil "$out" \
  ${PEERS_CACHE:+--cache "$PEERS_CACHE"}
