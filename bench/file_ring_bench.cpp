// Where file data should be written (issue 10): a 64 KiB block written into the page cache
//   * with pwrite(2) on the calling thread (what archive extraction does on the pool thread, where
//     libarchive hands out one decoded block at a time),
//   * through the loop's io_uring file ring from the loop itself (what VM image downloads do: the
//     data arrives on the loop from a socket),
//   * through the ring from another thread: post to the loop, wait for the completion (what
//     extraction would have to do to use the ring).
// The file is a temporary one under /var/tmp, rewritten in place so the page cache stays warm.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "adapters/file_io/file_ring.hpp"

namespace {

namespace asio = boost::asio;
constexpr std::size_t block = std::size_t{64} * 1024;
constexpr std::uint64_t file_blocks = 256;  // 16 MiB, rewritten round-robin

struct temp_file {
  temp_file() {
    std::string pattern = "/var/tmp/sc-file-ring-bench-XXXXXX";
    fd = ::mkstemp(pattern.data());
    if (fd >= 0) ::unlink(pattern.c_str());
  }
  ~temp_file() {
    if (fd >= 0) ::close(fd);
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  int fd = -1;
};

std::vector<std::byte> data_block() {
  std::vector<std::byte> data(block);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>((i * 2654435761u) >> 13);
  return data;
}

void file_write_64k_pwrite(benchmark::State& state) {
  temp_file file;
  auto data = data_block();
  std::uint64_t n = 0;
  for (auto _ : state) {
    const auto offset = static_cast<off_t>((n++ % file_blocks) * block);
    if (::pwrite(file.fd, data.data(), data.size(), offset) != static_cast<ssize_t>(data.size())) {
      state.SkipWithError("pwrite failed");
      break;
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * block));
}
BENCHMARK(file_write_64k_pwrite);

void file_write_64k_ring_on_loop(benchmark::State& state) {
  temp_file file;
  auto data = data_block();
  asio::io_context io;
  sc::file_io::file_ring ring(io.get_executor());
  state.SetLabel(ring.backend_name());
  std::uint64_t n = 0;
  for (auto _ : state) {
    const std::uint64_t offset = (n++ % file_blocks) * block;
    bool ok = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto written = co_await ring.write(file.fd, std::span<const std::byte>(data), offset);
          ok = written.has_value();
        },
        asio::detached);
    io.restart();
    io.run();
    if (!ok) {
      state.SkipWithError("ring write failed");
      break;
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * block));
}
BENCHMARK(file_write_64k_ring_on_loop);

void file_write_64k_ring_from_pool_thread(benchmark::State& state) {
  temp_file file;
  auto data = data_block();
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::unique_ptr<sc::file_io::file_ring> ring;
  std::promise<void> made;
  std::thread loop([&] {
    ring = std::make_unique<sc::file_io::file_ring>(io.get_executor());
    made.set_value();
    io.run();
    ring.reset();
  });
  made.get_future().wait();
  state.SetLabel(ring->backend_name());
  std::uint64_t n = 0;
  for (auto _ : state) {
    const std::uint64_t offset = (n++ % file_blocks) * block;
    std::promise<bool> done;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto written = co_await ring->write(file.fd, std::span<const std::byte>(data), offset);
          done.set_value(written.has_value());
        },
        asio::detached);
    if (!done.get_future().get()) {
      state.SkipWithError("ring write failed");
      break;
    }
  }
  guard.reset();
  loop.join();
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * block));
}
BENCHMARK(file_write_64k_ring_from_pool_thread)->UseRealTime();

}  // namespace
