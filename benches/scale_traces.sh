#!/usr/bin/env bash
# `vigil backtest scale --compare` on the development traces (../shared/data by default;
# VIGIL_TRACES=DIR for others) with EVAL.md §2's defaults (--peak 10 --boot 120s
# --interval 60s); prints each trace's effective costs, under-provisioned time, cost
# against the oracle and adaptations per day, and the means.
#   [OUT=DIR] benches/scale_traces.sh [extra backtest arguments]
# OUT keeps each trace's result (DIR/NAME.json) and reuses those already there, so a long
# run that is stopped resumes; without it they go to a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/traces.sh
[ -n "${VIGIL:-}" ] || cargo build --release --quiet
exe=${VIGIL:-./target/release/vigil}
if [ -n "${OUT:-}" ]; then
  out=$OUT
  mkdir -p "$out"
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
list_traces | while read -r f; do
  j="$out/$(basename "$f" .csv).json"
  [ -s "$j" ] && continue
  "$exe" backtest scale --trace "$f" --compare --json "$@" > "$j.part" && mv "$j.part" "$j"
  echo "$(date -u +%T) $(basename "$f" .csv) done" >&2
done
python3 - "$out" <<'PY'
import json, sys, glob, os
pols = ["predictive", "hpa", "threshold", "oracle"]
runs = {os.path.basename(p)[:-5]: {s["policy"]: s for s in json.load(open(p))}
        for p in sorted(glob.glob(os.path.join(sys.argv[1], "*.json")))}
print(f"{'trace':38} " + " ".join(f"{p[:10]:>10}" for p in pols) + "  effective cost (instance-hours), best marked *")
wins = 0
for name, r in runs.items():
    best = min(pols[:3], key=lambda p: r[p]["effective_cost"])
    wins += best == "predictive"
    print(f"{name[:38]:38} " + " ".join(f"{r[p]['effective_cost']:9.1f}{'*' if p == best else ' '}" for p in pols))
k = len(runs)
print()
print(f"{'policy':11} {'total eff.':>11} {'under%':>7} {'×oracle':>8} {'paid×or.':>8} {'acc_U':>6} {'acc_O':>6} {'adapt/day':>9}")
for p in pols:
    tot = sum(r[p]["effective_cost"] for r in runs.values())
    und = sum(r[p]["under_provisioned_time"] for r in runs.values()) / k * 100
    rat = sum(r[p]["cost_ratio_to_oracle"] for r in runs.values()) / k
    # What the bill says, boot time bought ahead included (not in EVAL's sampled cost).
    paid = sum(r[p]["cost_paid"] / r["oracle"]["cost_paid"] for r in runs.values()) / k
    au = sum(r[p]["under_accuracy"] for r in runs.values()) / k
    ao = sum(r[p]["over_accuracy"] for r in runs.values()) / k
    ad = sum(r[p]["adaptations_per_day"] for r in runs.values()) / k
    print(f"{p:11} {tot:11.1f} {und:6.2f}% {rat:8.3f} {paid:8.3f} {au:6.3f} {ao:6.3f} {ad:9.1f}")
print(f"predictive has the lowest effective cost on {wins} of {k} traces")
print()
print(f"{'trace':38} {'policy':10} {'under%':>7} {'×oracle':>8} {'adapt/day':>9} {'oracle a/d':>10}")
for name, r in runs.items():
    for p in pols[:3]:
        s = r[p]
        print(f"{name[:38]:38} {p:10} {s['under_provisioned_time'] * 100:6.2f}% "
              f"{s['cost_ratio_to_oracle']:8.3f} {s['adaptations_per_day']:9.1f} "
              f"{r['oracle']['adaptations_per_day']:10.1f}")
PY
