#!/usr/bin/env bash
# bench/dns.sh — how long a DNS record takes from POST /dns/records/add until a real client sees
# the answer (issue 15): N adds through the release build against the sandbox host's user manager
# and knotd, each timed from the request until `kdig` gets the new address; p50 and p99. The
# floor beside it: the same kdig of a name already in the zone (process start and one query),
# measured in the same run, so the difference is the controller's and knotd's part.
#   bench/dns.sh [records]
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-200}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD/..} CCACHE_NOHASHDIR=1
cmake --preset release >/dev/null
cmake --build --preset release --target systemcontroller >&2
tools/sandbox up >/dev/null
# shellcheck disable=SC1091
. "${SC_SANDBOX_DIR:-/var/tmp/sc-sandbox}/env"

work=$(mktemp -d /tmp/sc-dns-bench-XXXXXX)
chmod 755 "$work"  # knotd drops root for the knot account, which must reach its directory
sock="$work/api.sock"
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SC_DEFAULT_REPOSITORY="" SC_SYSTEM_SERVICES=dns build/release/server/systemcontroller --listen none --socket "$sock" \
  --state-dir "$work/state" --bus "$SC_BUS_ADDRESS" --btrfs-root "$SC_BTRFS_ROOT" --unit-dir "$SC_UNIT_DIR" \
  --dns-listen "127.0.0.1:$port" 2>"$work/server.log" &
server=$!
cleanup() {
  kill -TERM $server 2>/dev/null || true
  wait $server 2>/dev/null || true
  systemctl --user stop town-os-system--dns.service >/dev/null 2>&1 || true
  systemctl --user disable town-os-system--dns.service >/dev/null 2>&1 || true
  rm -f "$SC_UNIT_DIR/town-os-system--dns.service"
  systemctl --user daemon-reload >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
dig() { kdig @127.0.0.1 -p "$port" +time=1 +retry=0 +short "$@" 2>/dev/null; }
for _ in $(seq 600); do [ -n "$(dig home SOA)" ] && break; sleep 0.05; done
[ -n "$(dig home SOA)" ] || { echo "knotd did not come up" >&2; cat "$work/server.log" >&2; exit 1; }
api() { curl -sS --max-time 30 --unix-socket "$sock" "$@"; }
api -o /dev/null -d '{"name":"fixed","type":"A","value":"192.0.2.1"}' http://localhost/dns/records/add

now_us() { echo $(($(date +%s%N) / 1000)); }
declare -a visible floor
for ((i = 0; i < records; i++)); do
  address="10.$((i / 65536 % 256)).$((i / 256 % 256)).$((i % 256))"
  t0=$(now_us)
  status=$(api -o /dev/null -w '%{http_code}' -d "{\"name\":\"b$i\",\"type\":\"A\",\"value\":\"$address\"}" \
    http://localhost/dns/records/add)
  [ "$status" = 200 ] || { echo "add failed: $status" >&2; exit 1; }
  until [ "$(dig "b$i.home" A)" = "$address" ]; do :; done
  t1=$(now_us)
  dig fixed.home A >/dev/null
  t2=$(now_us)
  visible+=($((t1 - t0)))
  floor+=($((t2 - t1)))
done
pct() {  # pct P values…: the P-th percentile, in ms with one decimal
  local p=$1
  shift
  printf '%s\n' "$@" | sort -n | awk -v p="$p" '{v[NR] = $1} END {i = int((NR - 1) * p / 100) + 1; printf "%.1f", v[i] / 1000}'
}
echo "records: $records (zone grows to $((records + 1)) records)"
echo "add → visible (curl + API + knotd reload + kdig): p50 $(pct 50 "${visible[@]}") ms, p99 $(pct 99 "${visible[@]}") ms"
echo "floor (curl-less kdig of a fixed name):            p50 $(pct 50 "${floor[@]}") ms, p99 $(pct 99 "${floor[@]}") ms"
