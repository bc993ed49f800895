// The btrfs volume operations as the storage endpoints run them, against a real btrfs (the
// sandbox's: run under `tools/sandbox up`, SC_BTRFS_ROOT set or read from its env file): each op
// through libbtrfsutil / the btrfs ioctls on fds (what adapters/btrfs does now) beside the same op
// through a spawned `btrfs` CLI on a path (what it did before, ~4 ms a spawn), plus the openat2
// lookup every API path now pays.
//   build/release/bench/sc_micro_bench --benchmark_filter=btrfs
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include "adapters/btrfs/btrfs.hpp"
#include "adapters/file_io/beneath.hpp"
#include "adapters/process/spawn.hpp"

namespace {

namespace asio = boost::asio;

std::string btrfs_root() {
  if (const char* root = std::getenv("SC_BTRFS_ROOT")) return root;
  const char* dir = std::getenv("SC_SANDBOX_DIR");
  std::ifstream env(std::string(dir != nullptr ? dir : "/var/tmp/sc-sandbox") + "/env");
  for (std::string line; std::getline(env, line);) {
    const std::string key = "export SC_BTRFS_ROOT='";
    if (line.starts_with(key) && line.size() > key.size()) return line.substr(key.size(), line.size() - key.size() - 1);
  }
  return {};
}

template <class T>
T run(asio::io_context& io, asio::awaitable<T> work) {
  std::optional<T> out;
  asio::co_spawn(io, std::move(work), [&](const std::exception_ptr&, T value) { out.emplace(std::move(value)); });
  io.restart();
  io.run();
  return std::move(*out);
}

bool cli(asio::io_context& io, std::vector<std::string> argv) {
  sc::process::spawn_request request;
  request.argv = std::move(argv);
  auto outcome = run(io, sc::process::run_process(std::move(request)));
  return outcome && outcome->ok();
}

// One fixture per run: the volume tree and a scratch parent under user/.
struct fixture {
  std::string root = btrfs_root();
  std::string scratch = "user/bench-btrfs-" + std::to_string(::getpid());
  asio::io_context io;
  std::optional<sc::btrfs::volumes> volumes;

  bool up(benchmark::State& state) {
    if (root.empty()) {
      state.SkipWithError("no btrfs root: run tools/sandbox up or set SC_BTRFS_ROOT");
      return false;
    }
    volumes.emplace(root);
    if (!run(io, volumes->create(scratch, 0))) {
      state.SkipWithError("cannot create the scratch volume");
      return false;
    }
    return true;
  }
  ~fixture() {
    if (volumes) (void)run(io, volumes->remove(scratch));
  }
};

void btrfs_create_delete_library(benchmark::State& state) {
  fixture f;
  if (!f.up(state)) return;
  const std::string leaf = f.scratch + "/v";
  for (auto _ : state) {
    if (!run(f.io, f.volumes->create(leaf, 0)) || !run(f.io, f.volumes->remove(leaf))) state.SkipWithError("op failed");
  }
}
BENCHMARK(btrfs_create_delete_library)->Unit(benchmark::kMicrosecond);

void btrfs_create_delete_cli(benchmark::State& state) {
  fixture f;
  if (!f.up(state)) return;
  const std::string path = f.root + "/" + f.scratch + "/v";
  for (auto _ : state) {
    if (!cli(f.io, {"btrfs", "subvolume", "create", path}) || !cli(f.io, {"btrfs", "subvolume", "delete", path}))
      state.SkipWithError("btrfs failed");
  }
}
BENCHMARK(btrfs_create_delete_cli)->Unit(benchmark::kMicrosecond);

void btrfs_set_quota_ioctl(benchmark::State& state) {
  fixture f;
  if (!f.up(state)) return;
  for (auto _ : state) {
    if (!run(f.io, f.volumes->set_quota(f.scratch, 64ull << 20))) state.SkipWithError("op failed");
  }
}
BENCHMARK(btrfs_set_quota_ioctl)->Unit(benchmark::kMicrosecond);

void btrfs_set_quota_cli(benchmark::State& state) {
  fixture f;
  if (!f.up(state)) return;
  const std::string path = f.root + "/" + f.scratch;
  for (auto _ : state) {
    if (!cli(f.io, {"btrfs", "qgroup", "limit", "67108864", path})) state.SkipWithError("btrfs failed");
  }
}
BENCHMARK(btrfs_set_quota_cli)->Unit(benchmark::kMicrosecond);

void btrfs_info_library(benchmark::State& state) {
  fixture f;
  if (!f.up(state)) return;
  for (auto _ : state) {
    if (!run(f.io, f.volumes->info(f.scratch))) state.SkipWithError("op failed");
  }
}
BENCHMARK(btrfs_info_library)->Unit(benchmark::kMicrosecond);

// What info() spawned before: the subvolume id, then the whole qgroup table.
void btrfs_info_cli(benchmark::State& state) {
  fixture f;
  if (!f.up(state)) return;
  const std::string path = f.root + "/" + f.scratch;
  for (auto _ : state) {
    if (!cli(f.io, {"btrfs", "inspect-internal", "rootid", path}) ||
        !cli(f.io, {"btrfs", "qgroup", "show", "--raw", "-r", f.root}))
      state.SkipWithError("btrfs failed");
  }
}
BENCHMARK(btrfs_info_cli)->Unit(benchmark::kMicrosecond);

void btrfs_list_library(benchmark::State& state) {
  fixture f;
  if (!f.up(state)) return;
  for (auto _ : state) {
    auto listed = run(f.io, f.volumes->list(""));
    if (!listed) state.SkipWithError("op failed");
    benchmark::DoNotOptimize(listed);
  }
}
BENCHMARK(btrfs_list_library)->Unit(benchmark::kMicrosecond);

void btrfs_list_cli(benchmark::State& state) {
  fixture f;
  if (!f.up(state)) return;
  for (auto _ : state) {
    if (!cli(f.io, {"btrfs", "subvolume", "list", f.root}) ||
        !cli(f.io, {"btrfs", "qgroup", "show", "--raw", "-r", f.root}))
      state.SkipWithError("btrfs failed");
  }
}
BENCHMARK(btrfs_list_cli)->Unit(benchmark::kMicrosecond);

void btrfs_snapshot_delete_library(benchmark::State& state) {
  fixture f;
  if (!f.up(state)) return;
  const std::string snap = f.scratch + "-snap";
  for (auto _ : state) {
    if (!run(f.io, f.volumes->snapshot(f.scratch, snap, true)) || !run(f.io, f.volumes->remove(snap)))
      state.SkipWithError("op failed");
  }
}
BENCHMARK(btrfs_snapshot_delete_library)->Unit(benchmark::kMicrosecond);

// The resolution every API path now pays before acting: openat2 beneath the root, 4 components.
void btrfs_open_subvolume_beneath(benchmark::State& state) {
  fixture f;
  if (!f.up(state)) return;
  for (auto _ : state) {
    auto opened = f.volumes->open_subvolume(f.scratch);
    if (!opened) state.SkipWithError("open failed");
    benchmark::DoNotOptimize(opened);
  }
}
BENCHMARK(btrfs_open_subvolume_beneath)->Unit(benchmark::kMicrosecond);

}  // namespace
