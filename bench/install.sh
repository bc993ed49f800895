#!/usr/bin/env bash
# bench/install.sh — N install and uninstall cycles of a busybox web app through the release
# build against the sandbox host (real systemd, podman, btrfs), beside the floor: a shell script
# doing the same by hand (write the unit, daemon-reload, start, wait for the port; stop, remove).
# Prints p50/max wall time of each phase for both, and their ratio (issue 13 target: install
# total ≤ 1.2× the floor). The two run alternately in one session, so machine noise hits both.
# Our time is split by the server's /metrics counters: the awaited children (podman), the waits on
# systemd (replies and jobs), the wait for the app to come up, and the rest, our own time (target
# ≤ 50 ms p50). Last, /health p99 while 5 installs run at once (target ≤ 10 ms).
#   bench/install.sh [cycles]
set -euo pipefail
cd "$(dirname "$0")/.."
cycles=${1:-5}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD/..} CCACHE_NOHASHDIR=1
cmake --preset release >/dev/null
cmake --build --preset release --target systemcontroller >&2
tools/sandbox up >/dev/null
# shellcheck disable=SC1091
. "${SC_SANDBOX_DIR:-/var/tmp/sc-sandbox}/env"

work=$(mktemp -d /tmp/sc-install-bench-XXXXXX)
repo="bench$$"
sock="$work/api.sock"
mkdir -p "$work/repo/packages/web"
cat >"$work/repo/packages/web/1.0.yaml" <<EOF
description: bench web app
image: $SC_PODMAN_IMAGE
entrypoint: [sh, -c]
command: ["exec httpd -f -p 8080 -h /www"]
network:
  external:
    "@port@": "8080"
volumes:
  www: {mountpoint: /www}
questions:
  port: {query: "Port?", type: port}
EOF
git -C "$work/repo" init -q -b main
git -C "$work/repo" add -A
git -C "$work/repo" -c user.email=b@example.com -c user.name=b commit -q -m bench

SC_DEFAULT_REPOSITORY="" build/release/server/systemcontroller --system-services none --listen none --socket "$sock" \
  --state-dir "$work/state" --bus "$SC_BUS_ADDRESS" --btrfs-root "$SC_BTRFS_ROOT" 2>"$work/server.log" &
server=$!
floor_unit="sc-bench-floor-$$.service"
cleanup() {
  kill -TERM $server 2>/dev/null || true
  wait $server 2>/dev/null || true
  systemctl --user stop "$floor_unit" >/dev/null 2>&1 || true
  rm -f "$SC_UNIT_DIR/$floor_unit"
  systemctl --user daemon-reload >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
api() { curl -sS --max-time 300 --unix-socket "$sock" "$@"; }
api -o /dev/null -d '{"key":"default_quota","value":"67108864"}' http://localhost/settings/set
api -o /dev/null -d "{\"name\":\"$repo\",\"url\":\"file://$work/repo\"}" http://localhost/repository/add

now_ms() { date +%s%3N; }
# The counters an operation's time is split by, in ms: children, systemd, app start.
waits_ms() {
  api http://localhost/metrics | awk '
    /^townos_child_process_wait_seconds_total / {c = $2}
    /^townos_systemd_wait_seconds_total / {s = $2}
    /^townos_package_start_wait_seconds_total / {a = $2}
    END {printf "%d %d %d\n", c * 1000, s * 1000, a * 1000}'
}
wait_port() { until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do sleep 0.02; done; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

declare -a ours_install ours_uninstall floor_install floor_uninstall
declare -a install_children install_systemd install_app install_own uninstall_children uninstall_systemd uninstall_own
for ((i = 0; i < cycles; i++)); do
  read -r c0 s0 a0 < <(waits_ms)
  t0=$(now_ms)
  status=$(api -o "$work/out" -w '%{http_code}' \
    -d "{\"repo\":\"$repo\",\"name\":\"web\",\"responses\":{\"port\":\"$port\"}}" http://localhost/packages/install)
  [ "$status" = 200 ] || { echo "install failed: $status $(cat "$work/out")" >&2; exit 1; }
  t1=$(now_ms)
  read -r c1 s1 a1 < <(waits_ms)
  status=$(api -o "$work/out" -w '%{http_code}' -d "{\"repo\":\"$repo\",\"name\":\"web\",\"purge_volumes\":true}" \
    http://localhost/packages/uninstall)
  [ "$status" = 200 ] || { echo "uninstall failed: $status $(cat "$work/out")" >&2; exit 1; }
  t2=$(now_ms)
  read -r c2 s2 a2 < <(waits_ms)
  ours_install+=($((t1 - t0)))
  ours_uninstall+=($((t2 - t1)))
  install_children+=($((c1 - c0)))
  install_systemd+=($((s1 - s0)))
  install_app+=($((a1 - a0)))
  install_own+=($((t1 - t0 - (c1 - c0) - (s1 - s0) - (a1 - a0))))
  uninstall_children+=($((c2 - c1)))
  uninstall_systemd+=($((s2 - s1)))
  uninstall_own+=($((t2 - t1 - (c2 - c1) - (s2 - s1) - (a2 - a1))))

  # The floor: the same container and unit by hand.
  t0=$(now_ms)
  mkdir -p "$work/www"
  cat >"$SC_UNIT_DIR/$floor_unit" <<EOF
[Service]
ExecStart=/usr/bin/podman run --replace --rm --pull=never --name sc-bench-floor-$$ -p $port:8080 -v $work/www:/www $SC_PODMAN_IMAGE httpd -f -p 8080 -h /www
ExecStop=/usr/bin/podman stop -t 10 sc-bench-floor-$$
SuccessExitStatus=143 137
EOF
  systemctl --user daemon-reload
  systemctl --user start "$floor_unit"
  wait_port "$port"
  t1=$(now_ms)
  systemctl --user stop "$floor_unit"
  rm -f "$SC_UNIT_DIR/$floor_unit"
  systemctl --user daemon-reload
  t2=$(now_ms)
  floor_install+=($((t1 - t0)))
  floor_uninstall+=($((t2 - t1)))
done

stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "p50 %6d ms  max %6d ms", a[int((NR+1)/2)], a[NR]}'; }
p50() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "cycles: $cycles (busybox httpd, one volume, one published port)"
echo "install    ours:  $(stats "${ours_install[@]}")   floor: $(stats "${floor_install[@]}")   ratio p50: $(awk -v a="$(p50 "${ours_install[@]}")" -v b="$(p50 "${floor_install[@]}")" 'BEGIN {printf "%.2f", a / b}')"
echo "uninstall  ours:  $(stats "${ours_uninstall[@]}")   floor: $(stats "${floor_uninstall[@]}")   ratio p50: $(awk -v a="$(p50 "${ours_uninstall[@]}")" -v b="$(p50 "${floor_uninstall[@]}")" 'BEGIN {printf "%.2f", a / b}')"
echo "install    split (p50): children $(p50 "${install_children[@]}") ms, systemd $(p50 "${install_systemd[@]}") ms, app start $(p50 "${install_app[@]}") ms, own $(p50 "${install_own[@]}") ms (target own <= 50)"
echo "uninstall  split (p50): children $(p50 "${uninstall_children[@]}") ms, systemd $(p50 "${uninstall_systemd[@]}") ms, own $(p50 "${uninstall_own[@]}") ms"

# /health p99 while 5 installs (instances of the web app, one port each) run at once.
health="$work/health"
: >"$health"
( while [ ! -e "$work/installs-done" ]; do
    api -o /dev/null -w '%{time_total}\n' http://localhost/health >>"$health"
  done ) &
prober=$!
installers=()
for n in 1 2 3 4 5; do
  p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  api -o "$work/install-$n" -w '%{http_code}\n' -d "{\"repo\":\"$repo\",\"name\":\"web\",\"instance\":\"i$n\",\"responses\":{\"port\":\"$p\"}}" \
    http://localhost/packages/install >"$work/status-$n" &
  installers+=($!)
done
wait "${installers[@]}"
touch "$work/installs-done"
wait $prober
for n in 1 2 3 4 5; do
  [ "$(cat "$work/status-$n")" = 200 ] || { echo "concurrent install $n failed: $(cat "$work/install-$n")" >&2; exit 1; }
  api -o /dev/null -d "{\"repo\":\"$repo\",\"name\":\"web\",\"instance\":\"i$n\",\"purge_volumes\":true}" http://localhost/packages/uninstall
done
sort -n "$health" | awk '{a[NR] = $1 * 1000} END {i = int(NR * 0.99); if (i < 1) i = 1; printf "/health during 5 concurrent installs: %d requests, p50 %.2f ms, p99 %.2f ms (target p99 <= 10)\n", NR, a[int((NR + 1) / 2)], a[i]}'
