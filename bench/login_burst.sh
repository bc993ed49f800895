#!/usr/bin/env bash
# bench/login_burst.sh — burst memory of password hashing (issue 11 §5): the release server's peak
# RSS (VmHWM) and its RSS / anonymous RSS at idle and 2 s after ROUNDS bursts of CONCURRENT logins.
# Extra arguments go to the server (e.g. --password-hash-memory 268435456 for four 64 MiB hashes
# at once, the behaviour before the budget).
#   bench/login_burst.sh [rounds] [concurrent] [server flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
concurrent=${2:-4}
shift $(($# < 2 ? $# : 2))
tools/build release >&2
tools/sandbox up >/dev/null
# shellcheck disable=SC1091
. "${SC_SANDBOX_DIR:-/var/tmp/sc-sandbox}/env"

work=$(mktemp -d /tmp/sc-burst-XXXXXX)
sock="$work/api.sock"
SC_DEFAULT_REPOSITORY= build/release/server/systemcontroller --system-services none --listen none --socket "$sock" --state-dir "$work" \
  --bus "$SC_BUS_ADDRESS" --btrfs-root "$SC_BTRFS_ROOT" "$@" 2>"$work/server.log" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 400); do [ -S "$sock" ] && break; sleep 0.05; done

status_of() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$server/status"; }
sample() {
  printf '%-12s peak %7s KiB  RSS %7s KiB  anonymous %7s KiB  threads %s\n' "$1" "$(status_of VmHWM)" \
    "$(status_of VmRSS)" "$(status_of RssAnon)" "$(status_of Threads)"
}
login() {
  curl -s --unix-socket "$sock" -o /dev/null -w '%{http_code}\n' http://localhost/account/authenticate \
    -d '{"username":"burst","password":"burst-password"}'
}

curl -sf --unix-socket "$sock" -o /dev/null http://localhost/account/create -d \
  '{"username":"burst","password":"burst-password","email":"b@example.com","phone":"555-0100","real_name":"B"}'
sleep 1
sample idle
start=$EPOCHREALTIME
codes=$(for _ in $(seq "$rounds"); do
  for _ in $(seq "$concurrent"); do login & done
  wait
done | sort | uniq -c | tr -s ' ' | tr '\n' ',')
elapsed=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')
sleep 2
sample after-load
printf 'logins: %s x %s in %.2f s; answers (count code): %s\n' "$rounds" "$concurrent" "$elapsed" "${codes%,}"
