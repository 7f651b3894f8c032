#!/usr/bin/env bash
# Issue 10's budgets, measured side by side with bottom on the release build:
#   1. the headless daemon alone:  ≤ 0.2 % of one core, ≤ 15 MiB resident on average;
#   2. a console attached to it in tmux at 160×45, 1 s interval:
#                                  ≤ 0.15 % of one core, ≤ 8 MiB resident, ≤ 360 bytes/s;
#   3. bottom (`btm --rate 1000`) at 160×45 in the same window, the same three figures;
#   4. an approval reaching five attached consoles: p99 ≤ 100 ms (benches/attach_latency.rs).
# CPU is utime+stime from /proc/PID/stat over the window (meaningful on a loaded machine:
# it is the process's own time); resident memory is VmRSS from /proc/PID/status read every
# second (average and peak); terminal bytes are what tmux's pipe-pane saw the program write.
# Every file vigil writes is in a temp dir; the user's config, history and audit are never
# read or written.
#   benches/attach_budgets.sh            # 600 s per phase
#   WINDOW=60 benches/attach_budgets.sh  # a quick run
#   SKIP_LATENCY=1 …                     # phases 1-3 only
#   VIGIL=/tmp/vigil-before …            # measure another build of vigil (before/after)
set -euo pipefail
cd "$(dirname "$0")/.."
window=${WINDOW:-600}
if [[ -n ${VIGIL:-} ]]; then
  bin=$(realpath "$VIGIL")
else
  cargo build --release --quiet
  bin=$PWD/target/release/vigil
fi
btm=$(command -v btm || true)
if [[ -z $btm ]]; then
  cargo install bottom --locked
  btm=$(command -v btm || echo "$HOME/.cargo/bin/btm")
fi
[[ -x $btm ]] || { echo "attach_budgets: no btm after cargo install bottom" >&2; exit 1; }

dir=$(mktemp -d)
sock=vigil-budgets-$$
daemon_pid=
cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null || true
  if [[ -n $daemon_pid ]]; then kill -TERM "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
cat >"$dir/config.toml" <<EOF
interval = "1s"
[store]
path = "$dir/data/vigil.db"
[audit]
path = "$dir/state/audit.jsonl"
syslog = ""
[daemon]
socket = "$dir/run/vigil.sock"
brake = "$dir/state/brake"
[log]
dir = "$dir/logs"
EOF
# Nothing may fall back to the user's folders either.
export XDG_CONFIG_HOME=$dir/xdg-config XDG_DATA_HOME=$dir/xdg-data \
  XDG_STATE_HOME=$dir/xdg-state XDG_RUNTIME_DIR=$dir/xdg-run
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# measure NAME PID [BYTES_FILE]...: samples every PID each second for $window seconds and
# prints one line per PID: cpu %, average and peak RSS, bytes/s written to its file.
measure() {
  local -a names=() pids=() files=() c0=() b0=() sum=() peak=()
  while (($#)); do names+=("$1"); pids+=("$2"); files+=("$3"); shift 3; done
  local i n=${#pids[@]} samples=0
  for ((i = 0; i < n; i++)); do
    c0[i]=$(cpu_ticks "${pids[i]}")
    b0[i]=$([[ -n ${files[i]} ]] && stat -c %s "${files[i]}" || echo 0)
    sum[i]=0 peak[i]=0
  done
  local t0 t1 r
  t0=$(date +%s.%N)
  for ((s = 0; s < window; s++)); do
    sleep 1
    for ((i = 0; i < n; i++)); do
      r=$(rss_kib "${pids[i]}") || { echo "${names[i]} (pid ${pids[i]}) died" >&2; exit 1; }
      sum[i]=$((sum[i] + r))
      ((r > peak[i])) && peak[i]=$r
    done
    samples=$((samples + 1))
  done
  t1=$(date +%s.%N)
  for ((i = 0; i < n; i++)); do
    local c1 b1
    c1=$(cpu_ticks "${pids[i]}")
    b1=$([[ -n ${files[i]} ]] && stat -c %s "${files[i]}" || echo 0)
    awk -v name="${names[i]}" -v dc=$((c1 - c0[i])) -v tck="$tck" -v t0="$t0" -v t1="$t1" \
      -v sum="${sum[i]}" -v k="$samples" -v peak="${peak[i]}" -v db=$((b1 - b0[i])) \
      -v bytes="${files[i]}" 'BEGIN {
        secs = t1 - t0
        line = sprintf("%-18s CPU %6.3f %% of one core   RSS avg %5.1f MiB  peak %5.1f MiB", \
          name, dc / tck / secs * 100, sum / k / 1024, peak / 1024)
        if (bytes != "") line = line sprintf("   %6.0f bytes/s to the terminal", db / secs)
        print line
      }'
  done
}

echo "window ${window} s per phase; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin" --config "$dir/config.toml" daemon 2>"$dir/daemon.err" &
daemon_pid=$!
for _ in $(seq 100); do [[ -S $dir/run/vigil.sock ]] && break; sleep 0.1; done
[[ -S $dir/run/vigil.sock ]] || { echo "the daemon did not listen:" >&2; cat "$dir/daemon.err" >&2; exit 1; }
# Its first minute fits the first forecasts: let it settle as an always-on daemon would be.
sleep 70
echo "-- 1. headless daemon, nothing attached"
measure "vigil daemon" "$daemon_pid" ""

# 2 and 3: an attached console and bottom, each in its own 160×45 tmux server.
env_line="env XDG_CONFIG_HOME=$XDG_CONFIG_HOME XDG_DATA_HOME=$XDG_DATA_HOME XDG_STATE_HOME=$XDG_STATE_HOME XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR TERM=xterm-256color LANG=C.UTF-8"
tmux -L "$sock" -f /dev/null new-session -d -s console -x 160 -y 45 \
  "exec $env_line $bin --config $dir/config.toml 2>$dir/console.err"
tmux -L "$sock" pipe-pane -o -t console "cat >> $dir/console.bytes"
tmux -L "$sock" new-session -d -s bottom -x 160 -y 45 \
  "exec $env_line HOME=$dir $btm --rate 1000"
tmux -L "$sock" pipe-pane -o -t bottom "cat >> $dir/bottom.bytes"
sleep 5
tmux -L "$sock" has-session -t console 2>/dev/null ||
  { echo "the console exited at once:" >&2; cat "$dir/console.err" >&2; exit 1; }
console_pid=$(tmux -L "$sock" display -p -t console '#{pane_pid}')
bottom_pid=$(tmux -L "$sock" display -p -t bottom '#{pane_pid}')
tmux -L "$sock" capture-pane -p -t console | grep -qF "[attached]" ||
  { echo "the console did not attach to the daemon:" >&2; tmux -L "$sock" capture-pane -p -t console >&2; exit 1; }
echo "-- 2 and 3. console attached to the daemon, and bottom, side by side (160x45, 1 s)"
measure "vigil daemon" "$daemon_pid" "" \
  "attached console" "$console_pid" "$dir/console.bytes" \
  "btm --rate 1000" "$bottom_pid" "$dir/bottom.bytes"

if [[ -z ${SKIP_LATENCY:-} ]]; then
  echo "-- 4. an approval reaching five attached consoles"
  cargo bench --quiet --bench attach_latency
fi
