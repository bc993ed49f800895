#!/usr/bin/env bash
# bench/sse_fanout.sh — load bench of the live log stream (GET /systemd/logs, issue 4) on the
# release build against the sandbox host. For each viewer count it prints: server RSS per idle
# viewer; fan-out delay from the server reading an entry to its receipt by the viewers (p50/p99,
# and until the last viewer); end-to-end delay from writing a line to receipt, beside
# `journalctl -f` on the same unit; and /health latency meanwhile.
# Machines are shared and noisy: compare ratios from one run.
#   bench/sse_fanout.sh [viewer counts...]        (default: 1000 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
counts=("$@")
[ ${#counts[@]} -eq 0 ] && counts=(1000 10000)
tools/sandbox up >/dev/null
# shellcheck disable=SC1091
. "${SC_SANDBOX_DIR:-/var/tmp/sc-sandbox}/env"
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake --preset release >/dev/null
# shellcheck source=bench/server.sh
. bench/server.sh
# shellcheck disable=SC2046  # one target name or none
cmake --build --preset release --target $(bench_server_targets) sse_fanout >&2

# 10,000 viewers need more descriptors than the default soft limit: server and client get the hard one.
ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d /tmp/sc-sse-XXXXXX)
unit="town-os-package--bench-sse-$$.service"
fifo="$work/lines.fifo"
mkfifo "$fifo"
cat >"$SC_UNIT_DIR/$unit" <<UNIT
[Unit]
Description=sse fan-out bench line source
[Service]
ExecStart=/bin/sh -c 'exec 3<>$fifo; while read -r line <&3; do echo "\$line"; done'
UNIT
server=
cleanup() {
  [ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null
  systemctl --user stop "$unit" 2>/dev/null || true
  rm -f "$SC_UNIT_DIR/$unit"
  systemctl --user daemon-reload 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
systemctl --user daemon-reload
systemctl --user start "$unit"

# shellcheck disable=SC2046  # the flags are separate words
SC_LOG_STREAM_STAMP=1 "$bench_server" $(bench_server_flags) --listen "" --socket "$work/api.sock" --state-dir "$work" \
  --bus "$SC_BUS_ADDRESS" --btrfs-root "$SC_BTRFS_ROOT" --max-connections 30000 2>"$work/server.log" &
server=$!
for _ in $(seq 200); do [ -S "$work/api.sock" ] && break; sleep 0.05; done
echo "target: <= 4 KiB RSS per idle viewer; fan-out p99 to 1,000 viewers <= 20 ms; end-to-end no slower than journalctl -f"
for n in "${counts[@]}"; do
  echo "== $n viewers"
  build/release/bench/sse_fanout --socket "$work/api.sock" --pid "$server" --unit "$unit" --fifo "$fifo" \
    --viewers "$n" --lines "${SC_BENCH_LINES:-30}" --interval-ms "${SC_BENCH_INTERVAL_MS:-100}"
  # Viewers of the previous round are gone before the next one starts (noticed disconnects).
  for _ in $(seq 100); do
    curl -s --unix-socket "$work/api.sock" http://localhost/metrics | grep -q '^townos_sse_subscribers 0$' && break
    sleep 0.05
  done
done
