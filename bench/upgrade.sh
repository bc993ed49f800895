#!/usr/bin/env bash
# bench/upgrade.sh — upgrades of a busybox web app through the release build against the sandbox
# host (real systemd, podman, btrfs), N times each way (issue 14 targets):
#   - downtime: the longest time the app's port refuses connections across an upgrade, against the
#     app's own start time (the server's townos_package_start_wait_seconds_total for that
#     upgrade) plus 1 s;
#   - snapshot: the time between the stream's `snapshotting` and `migrating_volumes` steps with
#     SC_BENCH_MIB in the volume (constant whatever the size, ≤ 50 ms);
#   - automatic rollback: from the stream's `rolling_back` step (the failure detected) to the old
#     version serving again (≤ 5 s plus its start time).
#   bench/upgrade.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD/..} CCACHE_NOHASHDIR=1
cmake --preset release >/dev/null
cmake --build --preset release --target systemcontroller >&2
tools/sandbox up >/dev/null
# shellcheck disable=SC1091
. "${SC_SANDBOX_DIR:-/var/tmp/sc-sandbox}/env"

work=$(mktemp -d /tmp/sc-upgrade-bench-XXXXXX)
repo="bench$$"
sock="$work/api.sock"
mkdir -p "$work/repo/packages/web"
for version in 1.0 2.0; do
  cat >"$work/repo/packages/web/$version.yaml" <<EOF
description: bench web app $version
image: $SC_PODMAN_IMAGE
entrypoint: [sh, -c]
command: ["trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"]
network:
  external:
    "@port@": "8080"
volumes:
  www: {mountpoint: /www}
questions:
  port: {query: "Port?", type: port}
EOF
done
cat >"$work/repo/packages/web/3.0.yaml" <<EOF
description: bench web app that does not start
image: $SC_PODMAN_IMAGE
entrypoint: [sh, -c]
command: ["exit 3"]
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
cleanup() {
  kill -TERM $server 2>/dev/null || true
  wait $server 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
api() { curl -sS --max-time 300 --unix-socket "$sock" "$@"; }
# The sandbox's btrfs image is 2 GiB, and preflight wants every quota to fit in the free space, so
# the volume holds SC_BENCH_MIB (default 512) there; on a real disk set it to 1024.
mib=${SC_BENCH_MIB:-512}
api -o /dev/null -d "{\"key\":\"default_quota\",\"value\":\"$((mib + 128))mb\"}" http://localhost/settings/set
api -o /dev/null -d "{\"name\":\"$repo\",\"url\":\"file://$work/repo\"}" http://localhost/repository/add
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
key="\"repo\":\"$repo\",\"name\":\"web\""
start_wait_ms() { api http://localhost/metrics | awk '/^townos_package_start_wait_seconds_total / {printf "%d\n", $2 * 1000}'; }

# One upgrade as an SSE stream, each frame stamped on arrival (ms since the epoch), while a
# prober connects to the port every 5 ms and records the longest run of refusals. Prints
# "<frames file> <longest refusal ms>".
upgrade() {
  local version=$1 frames="$work/frames-$2"
  python3 - "$sock" "$port" "$frames" "{$key,\"version\":\"$version\"}" <<'EOF'
import socket, sys, threading, time
sock_path, port, frames_path, body = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
done = threading.Event()
longest = [0.0]
def probe():
    down_since = None
    while not done.is_set():
        now = time.monotonic()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            if down_since is not None:
                longest[0] = max(longest[0], now - down_since)
            down_since = None
        except OSError:
            if down_since is None:
                down_since = now
        time.sleep(0.005)
    if down_since is not None:
        longest[0] = max(longest[0], time.monotonic() - down_since)
t = threading.Thread(target=probe)
t.start()
s = socket.socket(socket.AF_UNIX)
s.connect(sock_path)
s.sendall(("POST /packages/install HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n"
           "Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
           % (len(body), body)).encode())
with open(frames_path, "w") as out:
    buf = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.startswith(b"data:"):
                out.write("%d %s\n" % (time.time() * 1000, line[5:].strip().decode()))
                out.flush()
# The old or new version may still be coming up: wait for it, so the refusal run is whole.
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        break
    except OSError:
        time.sleep(0.005)
done.set()
t.join()
print(frames_path, int(longest[0] * 1000))
EOF
}
frame_ms() { awk -v step="\"$2\"" 'index($0, step) {print $1; exit}' "$1"; }

status=$(api -o "$work/out" -w '%{http_code}' -d "{$key,\"version\":\"1.0\",\"responses\":{\"port\":\"$port\"}}" \
  http://localhost/packages/install)
[ "$status" = 200 ] || { echo "install failed: $status $(cat "$work/out")" >&2; exit 1; }
# Data in the volume (written, not sparse): the snapshot time must not depend on it.
dd if=/dev/zero of="$SC_BTRFS_ROOT/installed/$repo/web/1.0/www/data" bs=1M count="$mib" status=none
sync

declare -a downtime app_start snapshot rollback_ms
version=1.0
for ((i = 0; i < rounds; i++)); do
  next=$([ "$version" = 1.0 ] && echo 2.0 || echo 1.0)
  a0=$(start_wait_ms)
  read -r frames longest < <(upgrade "$next" "up$i")
  a1=$(start_wait_ms)
  grep -q '"done":true' "$frames" || { echo "upgrade to $next failed: $(cat "$frames")" >&2; exit 1; }
  downtime+=("$longest")
  app_start+=($((a1 - a0)))
  snapshot+=($(($(frame_ms "$frames" migrating_volumes) - $(frame_ms "$frames" snapshotting))))
  # Keep only the newest snapshot between rounds (the default), so each round snapshots 1 GiB.
  version=$next

  read -r frames _ < <(upgrade 3.0 "fail$i")
  grep -q rolled_back "$frames" || { echo "upgrade to 3.0 did not roll back: $(cat "$frames")" >&2; exit 1; }
  detected=$(frame_ms "$frames" rolling_back)
  serving=$(python3 -c '
import socket, sys, time
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2).close()
        break
    except OSError:
        time.sleep(0.005)
print(int(time.time() * 1000))' "$port")
  rollback_ms+=($((serving - detected)))
done

stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "p50 %6d ms  max %6d ms", a[int((NR+1)/2)], a[NR]}'; }
echo "rounds: $rounds (busybox httpd, one volume holding $mib MiB, one published port)"
echo "downtime across an upgrade:  $(stats "${downtime[@]}")   app start: $(stats "${app_start[@]}")   (target: downtime <= app start + 1000 ms)"
echo "snapshot of $mib MiB:         $(stats "${snapshot[@]}")   (target <= 50 ms, constant)"
echo "automatic rollback to serving: $(stats "${rollback_ms[@]}")   (target <= 5000 ms + the old version's start)"
api -o /dev/null -d "{$key,\"purge_volumes\":true}" http://localhost/packages/uninstall
