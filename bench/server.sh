# bench/server.sh — sourced by the benches that start a controller: which binary, with which flags.
# SC_BENCH_SERVER=PATH runs another build instead of this tree's (an older one, for a before/after
# measured in one run); the load generators and the sandbox stay this tree's.
# shellcheck shell=bash
bench_server=${SC_BENCH_SERVER:-build/release/server/systemcontroller}

# This tree's controller, unless another is being measured: the targets to build.
bench_server_targets() {
  [ -n "${SC_BENCH_SERVER:-}" ] || echo systemcontroller
}

# `--system-services none`, for the builds that have the flag (older ones start no services).
bench_server_flags() {
  local help
  help=$("$bench_server" --help 2>&1 || true)
  if [[ $help == *--system-services* ]]; then echo "--system-services none"; fi
}
