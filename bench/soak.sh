#!/usr/bin/env bash
# bench/soak.sh — soak of the release build (issue 11 §5): MINUTES of mixed load against the
# sandbox host — logins (bursts of four), lists, live log viewers joining and leaving, archive
# uploads, unit control and repository refreshes — printing the server's RSS, anonymous RSS, open
# fds and threads at the start, every minute and at the end. The goal over 10 minutes: fds and
# threads back where they started, and anonymous RSS within 10 %.
#
# "Start" is measured after one warm-up round of every activity (first-use allocations — the
# catalog, the dummy password hash, the pools' threads — are not growth); "end" after the load has
# stopped and the server has had 5 s to settle. Run it nice'd on a shared machine:
#   nice bench/soak.sh [minutes]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
[[ $minutes =~ ^[0-9]+$ ]] && ((minutes > 0)) || { echo "usage: bench/soak.sh [minutes]" >&2; exit 2; }
tools/deps >&2
tools/build release >&2
tools/sandbox up >/dev/null
# shellcheck disable=SC1091
. "${SC_SANDBOX_DIR:-/var/tmp/sc-sandbox}/env"

work=$(mktemp -d /tmp/sc-soak-XXXXXX)
sock="$work/api.sock"
port=${SC_BENCH_PORT:-15319}
unit="town-os-package--soak$$-worker.service"
pids=()

# A package repository the refreshes can fetch: the fixture as a local git repository.
repo="$work/default-packages"
mkdir -p "$repo" && cp -r ../shared/fixtures/default-packages/. "$repo/" && chmod -R u+w "$repo"
git -C "$repo" init -q -b main
git -C "$repo" -c user.name=soak -c user.email=soak@localhost add -A
git -C "$repo" -c user.name=soak -c user.email=soak@localhost commit -qm fixture

SC_DEFAULT_REPOSITORY="file://$repo" build/release/server/systemcontroller --system-services none --listen "127.0.0.1:$port" \
  --socket "$sock" --state-dir "$work/state" --bus "$SC_BUS_ADDRESS" --btrfs-root "$SC_BTRFS_ROOT" \
  --unit-dir "$SC_UNIT_DIR" 2>"$work/server.log" &
server=$!
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  curl -sf --unix-socket "$sock" -o /dev/null http://localhost/storage/remove -d '{"name":"soak'$$'"}' || true
  kill -TERM "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR systemctl --user stop "$unit" >/dev/null 2>&1 || true
  rm -f "$SC_UNIT_DIR/$unit"
  XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR systemctl --user daemon-reload >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 400); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { cat "$work/server.log" >&2; exit 1; }

api() { curl -s --unix-socket "$sock" -o /dev/null -w '%{http_code}' "$@"; }
tcp() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

# Fixtures: an account to log in as, a volume to upload into, a managed unit to start and stop.
api http://localhost/account/create -d '{"username":"soak","password":"soak-password","email":"s@example.com",
  "phone":"555-0100","real_name":"Soak","admin":true}' >/dev/null
api http://localhost/storage/create -d '{"name":"soak'$$'","quota":1073741824}' >/dev/null
printf '[Unit]\nDescription=soak worker\n[Service]\nExecStart=/bin/sh -c "while :; do echo soak tick; sleep 0.2; done"\n' \
  >"$SC_UNIT_DIR/$unit"
XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR systemctl --user daemon-reload
mkdir -p "$work/payload/dir"
head -c $((512 * 1024)) /dev/urandom >"$work/payload/dir/random.bin"
seq 1 20000 >"$work/payload/numbers.txt"
tar -czf "$work/payload.tar.gz" -C "$work/payload" .

status_of() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$server/status"; }
sample() {
  printf '%-8s RSS %7s KiB  anonymous %7s KiB  fds %4s  threads %3s\n' "$1" "$(status_of VmRSS)" \
    "$(status_of RssAnon)" "$(find "/proc/$server/fd" -mindepth 1 -maxdepth 1 | wc -l)" "$(status_of Threads)"
}

login() {
  tcp "http://127.0.0.1:$port/account/authenticate" -d '{"username":"soak","password":"soak-password"}'
}
# One round of each activity; the loops below repeat them.
round_logins() { for _ in 1 2 3 4; do login >/dev/null & done; wait; }
round_lists() {
  for path in /account /settings /systemd/units /packages /status/ping /repository /ready; do
    api "http://localhost$path" >/dev/null
  done
  api http://localhost/storage -d '{}' >/dev/null
}
round_viewers() {
  # Three viewers join, watch for a moment, and leave (curl's --max-time closes the stream).
  for _ in 1 2 3; do
    curl -s --unix-socket "$sock" -N --max-time 2 -o /dev/null "http://localhost/systemd/logs?unit=$unit&lines=5" &
  done
  wait
}
round_upload() {
  api http://localhost/storage/upload-archive -F subvolume="soak$$" -F subpath=in -F archive=@"$work/payload.tar.gz"
}
round_units() {
  api http://localhost/systemd/status -d '{"name":"'"$unit"'","action":"start"}' >/dev/null
  api http://localhost/systemd/status -d '{"name":"'"$unit"'","action":"stop"}' >/dev/null
}
round_refresh() { api -X POST http://localhost/repository/refresh >/dev/null; }

for round in round_logins round_lists round_viewers round_upload round_units round_refresh; do "$round" >/dev/null; done
[[ $(round_upload) == 200 ]] || echo "warm-up: the upload was refused; see the server log" >&2
sleep 5
sample start

forever() {
  local pause=$1; shift
  while :; do "$@" >/dev/null 2>&1 || true; sleep "$pause"; done
}
forever 1 round_logins & pids+=($!)
forever 0.1 round_lists & pids+=($!)
forever 0 round_viewers & pids+=($!)
forever 0 round_viewers & pids+=($!)
forever 0.5 round_upload & pids+=($!)
forever 0.5 round_units & pids+=($!)
forever 10 round_refresh & pids+=($!)

for minute in $(seq 1 "$minutes"); do
  sleep 60
  kill -0 "$server" 2>/dev/null || { echo "the server died" >&2; tail -20 "$work/server.log" >&2; exit 1; }
  sample "min $minute"
done
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
wait "${pids[@]}" 2>/dev/null || true
pids=()
sleep 5
sample end
awk '/ 5[0-9][0-9] |internal error|ERROR/' "$work/server.log" | sort | uniq -c | sort -rn | head -5 |
  sed 's/^/server log: /' >&2 || true
