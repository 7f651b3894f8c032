#!/usr/bin/env bash
# Budget: the console refreshing every second uses at most 1 % of one core on average
# over a minute and at most 30 MiB resident memory. Runs the release binary in tmux at
# 200×50 and reads its CPU time and peak RSS from /proc.
#   benches/console_cost.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
cargo build --release --quiet
dirs=$(mktemp -d)
sock=vigil-bench-$$
trap 'tmux -L $sock kill-server 2>/dev/null || true; rm -rf "$dirs"' EXIT
tmux -L $sock -f /dev/null new-session -d -x 200 -y 50 \
  "env XDG_DATA_HOME=$dirs/data XDG_STATE_HOME=$dirs/state XDG_CONFIG_HOME=$dirs/config ./target/release/vigil"
sleep 3
pid=$(pgrep -P "$(tmux -L $sock display -p '#{pane_pid}')" vigil || tmux -L $sock display -p '#{pane_pid}')
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
c0=$(cpu "$pid"); t0=$(date +%s.%N)
sleep "$secs"
c1=$(cpu "$pid"); t1=$(date +%s.%N)
rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
pct=$(echo "($c1 - $c0) / $tck / ($t1 - $t0) * 100" | bc -l)
printf 'console, 1 s refresh, 200x50, %ss: CPU %.2f %% of one core, peak RSS %.1f MiB\n' \
  "$secs" "$pct" "$(echo "$rss / 1024" | bc -l)"
