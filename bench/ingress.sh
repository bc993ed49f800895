#!/usr/bin/env bash
# bench/ingress.sh — the HTTPS ingress against its floor (issue 15): a busybox web app whose `http`
# port goes through Caddy (town-os-system--ingress), loaded with bench/load/http_load over TLS
# (SNI, the chain verified against GET /tls/ca.crt, keep-alive), beside the same load straight to
# the container's port on the ingress network (plain HTTP: the floor). Both run in one session,
# alternately, so machine noise hits both. Prints requests/s, p50/p99 latency, and Caddy's CPU time
# per request (/proc of its main process).
#   bench/ingress.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
connections=${2:-10}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD/..} CCACHE_NOHASHDIR=1
cmake --preset release >/dev/null
cmake --build --preset release --target systemcontroller http_load >&2
tools/sandbox up >/dev/null
# shellcheck disable=SC1091
. "${SC_SANDBOX_DIR:-/var/tmp/sc-sandbox}/env"

work=$(mktemp -d /tmp/sc-ingress-bench-XXXXXX)
repo="ing$$"
sock="$work/api.sock"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
https_port=$(free_port)
http_port=$(free_port)
mkdir -p "$work/repo/packages/site"
cat >"$work/repo/packages/site/1.0.yaml" <<EOT
description: ingress bench web app
image: $SC_PODMAN_IMAGE
entrypoint: [sh, -c]
supplies: [http]
command: ["trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"]
network:
  internal:
    http: "8080"
volumes:
  www: {mountpoint: /www}
templates:
  index: {volume: www, path: index.html, content: "hello from the ingress bench\n"}
EOT
git -C "$work/repo" init -q -b main
git -C "$work/repo" add -A
git -C "$work/repo" -c user.email=b@example.com -c user.name=b commit -q -m bench

SC_DEFAULT_REPOSITORY="" SC_SYSTEM_SERVICES=ingress build/release/server/systemcontroller --listen none \
  --socket "$sock" --state-dir "$work/state" --bus "$SC_BUS_ADDRESS" --btrfs-root "$SC_BTRFS_ROOT" \
  --unit-dir "$SC_UNIT_DIR" --ingress-https "127.0.0.1:$https_port" --ingress-http "127.0.0.1:$http_port" \
  2>"$work/server.log" &
server=$!
api() { curl -sS --max-time 300 --unix-socket "$sock" "$@"; }
cleanup() {
  api -o /dev/null -d "{\"repo\":\"$repo\",\"name\":\"site\"}" http://localhost/packages/uninstall 2>/dev/null || true
  kill -TERM $server 2>/dev/null || true
  wait $server 2>/dev/null || true
  systemctl --user stop town-os-system--ingress.service >/dev/null 2>&1 || true
  systemctl --user disable town-os-system--ingress.service >/dev/null 2>&1 || true
  rm -f "$SC_UNIT_DIR/town-os-system--ingress.service"
  systemctl --user daemon-reload >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
api -o /dev/null -d '{"key":"default_quota","value":"67108864"}' http://localhost/settings/set
api -o /dev/null -d "{\"name\":\"$repo\",\"url\":\"file://$work/repo\"}" http://localhost/repository/add
status=$(api -o "$work/out" -w '%{http_code}' -d "{\"repo\":\"$repo\",\"name\":\"site\"}" http://localhost/packages/install)
[ "$status" = 200 ] || { echo "install failed: $status $(cat "$work/out")" >&2; exit 1; }
api -o "$work/ca.crt" http://localhost/tls/ca.crt
host="site.$repo.home"
container="town-os-package--$repo-site-1.0"
address=$(podman inspect --format '{{(index .NetworkSettings.Networks "town-os-ingress").IPAddress}}' "$container")
for _ in $(seq 100); do
  curl -s --max-time 2 --resolve "$host:$https_port:127.0.0.1" --cacert "$work/ca.crt" "https://$host:$https_port/" |
    grep -q hello && break
  sleep 0.1
done
caddy_pid=$(systemctl --user show -p MainPID --value town-os-system--ingress.service)
ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

load() {  # load NAME ARGS…: one run of http_load; prints its line with Caddy's CPU per request
  local name=$1 before after line requests
  shift
  before=$(cpu_ticks "$caddy_pid")
  line=$(build/release/bench/http_load --path /index.html --connections "$connections" --seconds "$seconds" "$@" || true)
  after=$(cpu_ticks "$caddy_pid")
  requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line")
  awk -v n="$name" -v l="$line" -v t=$((after - before)) -v hz="$ticks" -v r="$requests" \
    'BEGIN {printf "%-8s %s caddy_cpu_us_per_request=%.1f\n", n, l, (r > 0 ? t / hz * 1e6 / r : 0)}'
}
for round in 1 2; do
  load floor --tcp "$address:8080" --host "$host"
  load ingress --tcp "127.0.0.1:$https_port" --tls "$host" --cacert "$work/ca.crt" --host "$host"
done
