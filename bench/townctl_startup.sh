#!/usr/bin/env bash
# bench/townctl_startup.sh [runs] — townctl's start-up to the first byte of its request on the
# socket (issue 18 target: ≤ 5 ms median; scripts run townctl in loops), measured on the release
# build against a stub listener (bench/load/first_byte.cpp), so the server's own time is not in it.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake --preset release >/dev/null
cmake --build --preset release --target townctl townctl_first_byte -- -j"${SC_BUILD_JOBS:-$(nproc)}" >&2
echo "townctl $(stat -c %s build/release/tools/townctl/townctl) bytes; shared libraries:" \
  "$(ldd build/release/tools/townctl/townctl | wc -l)"
build/release/bench/townctl_first_byte build/release/tools/townctl/townctl "$runs"
# The same machine's floor at the same moment (it is shared: compare the two, not absolute figures).
if command -v curl >/dev/null; then
  echo "baseline: curl --unix-socket"
  build/release/bench/townctl_first_byte "$runs" "$(command -v curl)" -s -o /dev/null --unix-socket @SOCKET@ \
    http://localhost/health
fi
