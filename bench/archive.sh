#!/usr/bin/env bash
# bench/archive.sh — streamed archive upload and download of the release build against the
# sandbox btrfs: a SIZE MiB archive (default 512) of incompressible data is uploaded and unpacked,
# then the volume is downloaded as tar.gz. Prints MiB/s of each, the server's RSS growth (peak
# VmHWM during the transfer minus RSS before it; target ≤ 16 MiB whatever the size) and GET
# /health p50/p99 from a concurrent load while each transfer runs.
# The /health load runs for a fixed time beside each transfer: pick it close to the transfer's
# duration, or the percentiles also cover idle time.
# The sandbox btrfs is 2 GiB and shared: everything made here is removed on exit.
#   bench/archive.sh [size-mib] [upload-health-seconds] [download-health-seconds]
# SC_BENCH_SERVER=PATH measures another controller build (bench/server.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-512}
upload_health_seconds=${2:-2}
download_health_seconds=${3:-15}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD/..} CCACHE_NOHASHDIR=1
cmake --preset release >/dev/null
# shellcheck source=bench/server.sh
. bench/server.sh
# shellcheck disable=SC2046  # one target name or none
cmake --build --preset release --target $(bench_server_targets) http_load >&2
tools/sandbox up >/dev/null
# shellcheck disable=SC1091
. "${SC_SANDBOX_DIR:-/var/tmp/sc-sandbox}/env"

work=$(mktemp -d /tmp/sc-archive-bench-XXXXXX)
volume="bench-archive-$$"
sock="$work/api.sock"
# shellcheck disable=SC2046  # the flags are separate words
"$bench_server" $(bench_server_flags) --listen none --socket "$sock" --state-dir "$work/state" \
  --bus "$SC_BUS_ADDRESS" --btrfs-root "$SC_BTRFS_ROOT" 2>"$work/server.log" &
server=$!
cleanup() {
  kill -TERM $server 2>/dev/null || true
  wait $server 2>/dev/null || true
  btrfs subvolume delete "$SC_BTRFS_ROOT/user/$volume" >/dev/null 2>&1 || true
  # Deletion is cleaned up in the background: wait for it, or the next run's writes compete with it
  # (back-to-back runs measured up to 30 % slower uploads without this).
  btrfs subvolume sync "$SC_BTRFS_ROOT" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done

api() { curl -sS --unix-socket "$sock" "$@"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$server/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$server/status"; }
# Resets VmHWM to the current RSS, so the next peak belongs to the transfer alone.
reset_peak() { echo 5 >"/proc/$server/clear_refs"; }

# Root on the Unix socket is the local administrator: no account needed. The volume gets no
# quota beyond the filesystem (quota 0 would take default_quota, which is larger anyway).
api -f http://localhost/storage/create -d "{\"name\":\"$volume\"}" >/dev/null

mkdir -p "$work/src/data"
per_file=$((size_mib / 8))
for i in $(seq 8); do head -c "$((per_file * 1024 * 1024))" /dev/urandom >"$work/src/data/part$i.bin"; done
tar -cf "$work/upload.tar" -C "$work/src" data
rm -rf "$work/src"
archive_bytes=$(stat -c %s "$work/upload.tar")

health() {
  build/release/bench/http_load --unix "$sock" --path /health --connections 2 --seconds "$1"
}
report() {  # name http_code seconds bytes rss_before hwm health_output
  awk -v name="$1" -v code="$2" -v t="$3" -v bytes="$4" -v before="$5" -v peak="$6" -v h="$7" 'BEGIN {
    split(h, f, " "); for (i in f) { split(f[i], kv, "="); v[kv[1]] = kv[2] }
    printf "%-9s HTTP %s  %8.1f MiB in %6.2f s = %7.1f MiB/s  RSS before %6d KiB, peak %6d KiB, growth %5.1f MiB  /health p50 %s us p99 %s us\n",
      name, code, bytes / 1048576, t, bytes / 1048576 / t, before, peak, (peak - before) / 1024, v["p50_us"], v["p99_us"] }'
}

printf 'archive: %s MiB tar of incompressible data; server idle RSS %s KiB\n' "$((archive_bytes / 1048576))" "$(rss_kib)"

before=$(rss_kib); reset_peak
health "$upload_health_seconds" >"$work/health-up" &
loader=$!
out=$(api -o "$work/upload.reply" -w '%{http_code} %{time_total}' http://localhost/storage/upload-archive -F "subvolume=$volume" -F "archive=@$work/upload.tar")
wait $loader
peak=$(hwm_kib)
read -r code seconds <<<"$out"
report upload "$code" "$seconds" "$archive_bytes" "$before" "$peak" "$(cat "$work/health-up")"
[ "$code" = 200 ] || { cat "$work/upload.reply"; exit 1; }
rm -f "$work/upload.tar"

before=$(rss_kib); reset_peak
health "$download_health_seconds" >"$work/health-down" &
loader=$!
out=$(api -o /dev/null -w '%{http_code} %{time_total} %{size_download}' http://localhost/storage/download-archive \
  -d "{\"subvolume\":\"$volume\",\"format\":\"tar.gz\"}")
wait $loader
peak=$(hwm_kib)
read -r code seconds bytes <<<"$out"
report download "$code" "$seconds" "$bytes" "$before" "$peak" "$(cat "$work/health-down")"
printf '(download MiB/s counts compressed bytes sent; the volume holds %s MiB)\n' "$((archive_bytes / 1048576))"
