#!/usr/bin/env bash
# bench/load.sh — load bench of the release build: starts the server against the sandbox host,
# drives GET /status/ping and /health over TCP and the Unix socket, and prints requests/s,
# p50/p99 latency, the server's CPU time per request (from /proc/PID/stat) and its RSS.
# Machines are shared and noisy: compare ratios from one run, not absolute numbers across runs.
#   bench/load.sh [seconds-per-case] [connections]
# SC_BENCH_SERVER=PATH measures another controller build (bench/server.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
connections=${2:-10}
tools/deps
tools/build release >&2
tools/sandbox up >/dev/null
# shellcheck disable=SC1091
. "${SC_SANDBOX_DIR:-/var/tmp/sc-sandbox}/env"

work=$(mktemp -d /tmp/sc-load-XXXXXX)
port=${SC_BENCH_PORT:-15309}
# shellcheck source=bench/server.sh
. bench/server.sh
# shellcheck disable=SC2046  # the flags are separate words
"$bench_server" $(bench_server_flags) --listen "127.0.0.1:$port" --socket "$work/api.sock" --state-dir "$work" \
  --bus "$SC_BUS_ADDRESS" --btrfs-root "$SC_BTRFS_ROOT" 2>"$work/server.log" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 200); do [ -S "$work/api.sock" ] && break; sleep 0.05; done

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$server/status"; }
# RSS counts the shared libraries' file pages (libc, libstdc++, sqlite…) that other processes share;
# RssAnon is the controller's own memory, PSS charges shared pages by their number of users.
memory() {
  printf 'RSS %s KiB (anonymous %s KiB, file-backed %s KiB), PSS %s KiB' "$(rss_kib)" \
    "$(awk '/^RssAnon/ {print $2}' "/proc/$server/status")" "$(awk '/^RssFile/ {print $2}' "/proc/$server/status")" \
    "$(awk '/^Pss:/ {print $2}' "/proc/$server/smaps_rollup")"
}

printf 'idle: %s\n' "$(memory)"
printf '%-22s %10s %9s %9s %14s %10s\n' case req/s p50_us p99_us cpu_us/request rss_kib
run_case() {
  local name=$1; shift
  local before after out requests
  before=$(cpu_ticks)
  out=$(build/release/bench/http_load "$@" --connections "$connections" --seconds "$seconds")
  after=$(cpu_ticks)
  requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$out")
  awk -v name="$name" -v out="$out" -v b="$before" -v a="$after" -v t="$ticks" -v n="$requests" -v rss="$(rss_kib)" 'BEGIN {
    split(out, f, " "); for (i in f) { split(f[i], kv, "="); v[kv[1]] = kv[2] }
    printf "%-22s %10s %9s %9s %14.2f %10s\n", name, v["rps"], v["p50_us"], v["p99_us"], (a - b) / t * 1e6 / n, rss }'
}
run_case "tcp  /status/ping" --tcp "127.0.0.1:$port" --path /status/ping
run_case "tcp  /health" --tcp "127.0.0.1:$port" --path /health
run_case "unix /status/ping" --unix "$work/api.sock" --path /status/ping
run_case "unix /health" --unix "$work/api.sock" --path /health
# Authenticated requests (issue 3): 20 accounts, a session token, GET /account and /account/me.
sock="$work/api.sock"
account() {
  curl -sf --unix-socket "$sock" -o /dev/null http://localhost/account/create -d \
    "{\"username\":\"$1\",\"password\":\"bench-password\",\"email\":\"$1@example.com\",\"phone\":\"555-0100\",\"real_name\":\"Bench $1\",\"admin\":$2}"
}
account bench-admin true
for i in $(seq 1 19); do account "user$i" false; done
token=$(curl -sf "http://127.0.0.1:$port/account/authenticate" -d '{"username":"bench-admin","password":"bench-password"}' |
  sed -E 's/.*"token":"([0-9a-f]+)".*/\1/')
run_case "tcp  GET /account x10" --tcp "127.0.0.1:$port" --path /account --header "Authorization: Bearer $token"

# At 64 connections http_load (Beast, one thread) saturates its own core before the server does,
# so its latencies measure the client. wrk is a cheaper client: it drives the server to its limit,
# and its client CPU is printed so the two can be told apart.
wrk_case() {
  local name=$1 path=$2 conns=$3; shift 3
  local before after out requests client
  before=$(cpu_ticks)
  client=$( { /usr/bin/time -f '%U %S' wrk -t1 -c"$conns" -d"${seconds}s" --latency "$@" "http://127.0.0.1:$port$path" >"$work/wrk.out"; } 2>&1 | tail -1)
  after=$(cpu_ticks)
  out=$(cat "$work/wrk.out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  awk -v name="$name" -v b="$before" -v a="$after" -v t="$ticks" -v n="$requests" -v s="$seconds" -v c="$client" \
      -v rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")" -v p50="$(awk '$1 == "50%" {print $2}' <<<"$out")" \
      -v p99="$(awk '$1 == "99%" {print $2}' <<<"$out")" 'BEGIN {
    split(c, cu, " ");
    printf "wrk %-18s %10.0f %9s %9s %14.2f   (server %3.0f%% of a core, client %3.0f%%)\n", name, rps, p50, p99,
           (a - b) / t * 1e6 / n, (a - b) / t / s * 100, (cu[1] + cu[2]) / s * 100 }'
}
if command -v wrk >/dev/null; then
  wrk_case "/status/ping x$connections" /status/ping "$connections"
  wrk_case "GET /account x64" /account 64 -H "Authorization: Bearer $token"
  wrk_case "/account/me x64" /account/me 64 -H "Authorization: Bearer $token"
else
  echo "wrk is not installed (tools/deps installs it): the x64 cases are skipped" >&2
  exit 1
fi
# Packages (issue 6): three repositories cloned from the fixture over file://. GET /packages must be
# served from memory: strace counts the files opened and the processes started while it is loaded.
fixture="$(pwd)/../shared/fixtures/default-packages"
if [ -d "$fixture/packages" ]; then
  for r in one two three; do
    mkdir -p "$work/remotes/$r" && cp -r "$fixture/." "$work/remotes/$r/"
    git -C "$work/remotes/$r" init -q -b main && git -C "$work/remotes/$r" add -A &&
      git -C "$work/remotes/$r" -c user.email=bench@example.com -c user.name=bench commit -qm fixture
    curl -sf --unix-socket "$sock" -o /dev/null http://localhost/repository/add -d "{\"name\":\"$r\",\"url\":\"file://$work/remotes/$r\"}"
  done
  curl -sf --unix-socket "$sock" -o /dev/null http://localhost/repository/remove -d '{"name":"default"}' || true
  run_case "tcp  GET /packages x10" --tcp "127.0.0.1:$port" --path /packages --header "Authorization: Bearer $token"
  if command -v strace >/dev/null; then
    strace -f -e trace=open,openat,execve,clone,clone3,vfork,fork -p "$server" -o "$work/strace" 2>/dev/null &
    tracer=$!
    sleep 0.5
    out=$(build/release/bench/http_load --tcp "127.0.0.1:$port" --path /packages --header "Authorization: Bearer $token" \
      --connections "$connections" --seconds 2)
    kill "$tracer"; wait "$tracer" 2>/dev/null || true
    printf 'GET /packages (3 repositories) under strace: %s; files opened + processes started: %s\n' "$out" \
      "$(grep -c -E 'open|execve|clone|fork' "$work/strace" || true)"
  fi
fi
# Journal tail scans (issue 10 §7): a grep that matches nothing makes GET /systemd/logs/tail scan
# 200,000 entries. The scan runs on a pool thread, so /health keeps its latency meanwhile. The
# journal gets 200,000 short lines first if it has fewer (from 20 scopes: journald rate-limits per
# unit).
entries=$(journalctl -q --no-pager -o cat 2>/dev/null | wc -l)
if [ "$entries" -lt 200000 ]; then
  for i in $(seq 20); do
    systemd-run --user --scope --quiet sh -c "seq 10000 | sed 's/^/bench-fill-$i-/' | systemd-cat -t bench-fill" || true
  done
fi
scan_loop() {
  while :; do
    curl -sf --unix-socket "$sock" -o /dev/null "http://localhost/systemd/logs/tail?grep=no-such-line-$$&lines=10"
  done
}
scan_loop &
scanner=$!
single=$( { /usr/bin/time -f '%e' curl -sf --unix-socket "$sock" -o /dev/null \
  "http://localhost/systemd/logs/tail?grep=no-such-line-$$&lines=10"; } 2>&1 | tail -1)
run_case "tcp  /health, tail scans" --tcp "127.0.0.1:$port" --path /health
kill "$scanner"; wait "$scanner" 2>/dev/null || true
printf 'one 200,000-entry tail scan: %s s (journal: %s entries)\n' "$single" \
  "$(journalctl -q --no-pager -o cat 2>/dev/null | wc -l)"
printf 'after load: %s\n' "$(memory)"
