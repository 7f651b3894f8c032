#!/usr/bin/env bash
# Mean MASE, sMAPE and band coverage of `vigil backtest forecast` over the development
# traces (../shared/data by default; VIGIL_TRACES=DIR to use others), as EVAL.md §1
# scores them. Extra arguments go to the backtest (e.g. --model naive).
#   benches/forecast_traces.sh [--model NAME]
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/traces.sh
cargo build --release --quiet
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
list_traces | while read -r f; do
  step=$(awk -F, 'NR==2{a=$1} NR==3{b=$1; print b; print a; exit}' "$f" | xargs -I{} date -u -d {} +%s | paste -sd- | bc)
  h=1,3,12
  [ "${step#-}" = 60 ] && h=1,15,60
  name=$(basename "$f" .csv)
  ./target/release/vigil backtest forecast --trace "$f" --horizons "$h" --out "$out/$name.preds.csv" --json "$@" \
    > "$out/$name.json"
done
python3 - "$out" <<'PY'
import json, sys, glob, os
rows = []
for p in sorted(glob.glob(os.path.join(sys.argv[1], '*.json'))):
    s = json.load(open(p))
    rows.append((os.path.basename(p)[:-5], s))
print(f"{'trace':42} {'MASE h1':>8} {'h2':>7} {'h3':>7} {'cover':>6} {'sec':>5}")
for name, s in rows:
    m = [sc['mase'] for sc in s['scores']]
    cov = sum(sc['coverage'] for sc in s['scores']) / len(s['scores'])
    print(f"{name:42} {m[0]:8.3f} {m[1]:7.3f} {m[2]:7.3f} {cov*100:5.1f}% {s['seconds']:5.2f}")
k = len(rows)
mean = [sum(s['scores'][i]['mase'] for _, s in rows) / k for i in range(3)]
cov = [sum(s['scores'][i]['coverage'] for _, s in rows) / k for i in range(3)]
print(f"{'mean of ' + str(k) + ' traces':42} {mean[0]:8.3f} {mean[1]:7.3f} {mean[2]:7.3f} {sum(cov)/3*100:5.1f}%")
print("coverage per horizon: " + ", ".join(f"{c*100:.1f}%" for c in cov))
PY
