#!/usr/bin/env bash
# `vigil backtest scale --compare` on the development traces (../shared/data by default;
# VIGIL_TRACES=DIR for others) with EVAL.md §2's defaults (--peak 10 --boot 120s
# --interval 60s); prints each trace's effective costs and the means.
#   benches/scale_traces.sh [extra backtest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/traces.sh
cargo build --release --quiet
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
list_traces | while read -r f; do
  ./target/release/vigil backtest scale --trace "$f" --compare --json "$@" > "$out/$(basename "$f" .csv).json"
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
PY
