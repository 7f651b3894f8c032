#!/usr/bin/env bash
# Regenerates screenshots/*.png from real runs: vigil (release) in tmux, the pane
# captured with its colours, turned into HTML by aha and photographed by headless
# Chromium. Needs: apt-get install tmux aha chromium fonts-noto-cjk
#   scripts/screenshot.sh [SECONDS_OF_HISTORY]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
cargo build --release --quiet
work=$(mktemp -d)
sock=vigil-shot-$$
trap 'tmux -L $sock kill-server 2>/dev/null || true; kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p screenshots

shoot() { # name, tmux window, key to press first, font
  local name=$1 win=$2 key=${3:-} font=${4:-"DejaVu Sans Mono"}
  [ -n "$key" ] && tmux -L $sock send-keys -t "$win" "$key" && sleep 1
  tmux -L $sock capture-pane -e -p -t "$win" > "$work/$name.ansi"
  # aha draws the terminal's default colour (SGR 39) as black: make it white.
  sed "s/\x1b\[39m/\x1b[37m/g" "$work/$name.ansi" | aha --black --no-header > "$work/$name.body"
  {
    echo '<html><head><meta charset="utf-8"><style>'
    echo "body{margin:0;background:#000}pre{margin:8px;font:14px/1.2 '$font',monospace}"
    echo '</style></head><body><pre>'
    cat "$work/$name.body"
    echo '</pre></body></html>'
  } > "$work/$name.html"
  chromium --headless --no-sandbox --hide-scrollbars --window-size=1030,700 \
    --screenshot="$PWD/screenshots/$name.png" "file://$work/$name.html" 2>/dev/null
  echo "screenshots/$name.png"
}

env_for() { echo "env XDG_DATA_HOME=$work/data-$1 XDG_STATE_HOME=$work/state XDG_CONFIG_HOME=$work/config TERM=xterm-256color"; }
tmux -L $sock -f /dev/null new-session -d -s en -x 120 -y 40 "$(env_for en) ./target/release/vigil"
tmux -L $sock new-session -d -s zh -x 120 -y 40 "$(env_for zh) ./target/release/vigil --lang zh-CN"
# The replay also plans a scale target, for the Actions view.
cat > "$work/replay.toml" <<'TOML'
[[scale]]
name = "web"
metric = "cpu_pct"
capacity = 25.0
instances = 2
max = 12
boot = "90s"
price_per_hour = 0.40
TOML
tmux -L $sock new-session -d -s replay -x 120 -y 40 \
  "$(env_for replay) ./target/release/vigil --config $work/replay.toml --replay examples/traces/ec2_cpu_utilization_ac20cd.csv --speed 60"
# Some real load for the charts to show: CPU bursts and disk writes.
end=$((SECONDS + secs))
while [ $SECONDS -lt $end ]; do
  timeout 3 sh -c 'while :; do :; done' || true
  dd if=/dev/zero of="$work/load" bs=1M count=64 oflag=direct 2>/dev/null || true
  sleep 4
done
shoot overview en
# The browser takes CJK glyphs from a fallback font slightly wider than two DejaVu
# cells, so Chinese lines run a little long in the picture; a terminal aligns them.
shoot overview-zh zh
shoot forecast replay 2
shoot actions replay 3
