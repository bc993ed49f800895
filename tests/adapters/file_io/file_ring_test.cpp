#include "adapters/file_io/file_ring.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "tests/support/loop.hpp"

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using sc::file_io::file_ring;
using sc::file_io::file_ring_options;
using steady_clock = std::chrono::steady_clock;

constexpr std::size_t mib = std::size_t{1} << 20;

// A scratch file on disk (not tmpfs), removed with the object.
class temp_file {
 public:
  temp_file() {
    char pattern[] = "/var/tmp/sc-file-ring-XXXXXX";
    fd_ = ::mkostemp(pattern, O_CLOEXEC);
    if (fd_ < 0) throw std::runtime_error("mkostemp failed");
    path_ = pattern;
  }
  ~temp_file() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// Test content: a fixed pseudo-random block, with every 4 KiB page stamped with its file offset and
// the seed, so that a page read from the wrong place, or left unwritten, cannot match. Cheap to
// make and compare (memcpy/memcmp), so that checking 256 MiB does not dominate the loop's time.
const std::vector<std::byte>& base_block() {
  static const std::vector<std::byte> block = [] {
    std::vector<std::byte> bytes(std::size_t{1} << 20);
    std::uint64_t state = 0x243F6A8885A308D3ull;
    for (std::size_t i = 0; i + 8 <= bytes.size(); i += 8) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      std::memcpy(bytes.data() + i, &state, 8);
    }
    return bytes;
  }();
  return block;
}

void fill_pattern(std::span<std::byte> chunk, std::uint64_t file_offset, std::uint64_t seed) {
  const std::vector<std::byte>& base = base_block();
  for (std::size_t done = 0; done < chunk.size();) {
    std::size_t n = std::min(chunk.size() - done, base.size());
    std::memcpy(chunk.data() + done, base.data(), n);
    done += n;
  }
  for (std::size_t page = 0; page + 16 <= chunk.size(); page += 4096) {
    std::uint64_t stamp[2] = {file_offset + page, seed};
    std::memcpy(chunk.data() + page, stamp, sizeof stamp);
  }
}

std::span<const std::byte> as_bytes(const std::string& text) {
  return std::as_bytes(std::span<const char>(text.data(), text.size()));
}

class file_ring_test : public ::testing::TestWithParam<bool> {
 protected:
  file_ring_options options() const {
    file_ring_options o;
    o.disable_io_uring = GetParam();
    return o;
  }
  asio::io_context io_;
};

INSTANTIATE_TEST_SUITE_P(Backends, file_ring_test, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return std::string(param_info.param ? "thread_pool" : "io_uring");
                         });

TEST_P(file_ring_test, ReportsItsBackend) {
  file_ring ring(io_.get_executor(), options());
  if (GetParam()) {
    EXPECT_STREQ(ring.backend_name(), "thread_pool");
    EXPECT_EQ(ring.fallback_reason(), "disabled by configuration");
  } else {
    // This machine has io_uring: the real backend must come up, not silently fall back.
    EXPECT_STREQ(ring.backend_name(), "io_uring") << ring.fallback_reason();
    EXPECT_EQ(ring.fallback_reason(), "");
  }
}

// ---- the 256 MiB round trip with a timer on the same loop ---------------------------------------

struct loop_lateness {
  std::chrono::microseconds worst{0};
  std::size_t ticks = 0;
  bool stop = false;
};

// Waits 2 ms again and again and records how late each wait ends: how long the loop failed to run
// a due timer. Each wait is measured on its own (re-armed from now), so that a slow loop turn is
// counted once instead of as a growing schedule debt. `lateness` is owned by the test body and
// outlives the loop.
asio::awaitable<void> tick(loop_lateness& lateness) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (!lateness.stop) {
    auto due = steady_clock::now() + 2ms;
    timer.expires_at(due);
    co_await timer.async_wait(asio::use_awaitable);
    auto late = std::chrono::duration_cast<std::chrono::microseconds>(steady_clock::now() - due);
    lateness.worst = std::max(lateness.worst, late);
    ++lateness.ticks;
  }
}

struct transfer_figures {
  std::chrono::microseconds write_io{0};  // time spent awaiting ring.write
  std::chrono::microseconds fsync_io{0};
  std::chrono::microseconds read_io{0};  // time spent awaiting ring.read
  std::chrono::microseconds total{0};    // including making and checking the content
  std::size_t mismatched_chunks = 0;
};

std::chrono::microseconds since(steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(steady_clock::now() - start);
}

asio::awaitable<void> round_trip(file_ring& ring, int fd, std::size_t total, transfer_figures& figures,
                                 loop_lateness& lateness) {
  std::vector<std::byte> chunk(mib);
  std::vector<std::byte> expected(mib);
  auto started = steady_clock::now();
  for (std::size_t offset = 0; offset < total; offset += mib) {
    fill_pattern(chunk, offset, 42);
    auto op_started = steady_clock::now();
    auto written = co_await ring.write(fd, chunk, offset);
    figures.write_io += since(op_started);
    if (!written || *written != mib) throw std::runtime_error("write failed at " + std::to_string(offset));
  }
  auto op_started = steady_clock::now();
  auto synced = co_await ring.fsync(fd);
  figures.fsync_io = since(op_started);
  if (!synced) throw std::runtime_error("fsync failed: " + synced.error().internal);
  for (std::size_t offset = 0; offset < total; offset += mib) {
    std::memset(chunk.data(), 0, chunk.size());
    op_started = steady_clock::now();
    auto read = co_await ring.read(fd, chunk, offset);
    figures.read_io += since(op_started);
    if (!read || *read != mib) throw std::runtime_error("read failed at " + std::to_string(offset));
    fill_pattern(expected, offset, 42);
    if (std::memcmp(chunk.data(), expected.data(), mib) != 0) ++figures.mismatched_chunks;
  }
  figures.total = since(started);
  lateness.stop = true;
}

asio::awaitable<void> round_trip_with_ticker(file_ring& ring, int fd, std::size_t total, transfer_figures& figures,
                                             loop_lateness& lateness) {
  using namespace asio::experimental::awaitable_operators;
  co_await (round_trip(ring, fd, total, figures, lateness) && tick(lateness));
}

TEST_P(file_ring_test, RoundTrip256MiBWhileTheLoopStaysResponsive) {
  temp_file file;
  file_ring ring(io_.get_executor(), options());
  transfer_figures figures;
  loop_lateness lateness;
  constexpr std::size_t total = 256 * mib;
  sc::test::run_to_completion(io_, round_trip_with_ticker(ring, file.fd(), total, figures, lateness), 300s);

  EXPECT_EQ(figures.mismatched_chunks, 0u);
  struct stat info {};
  ASSERT_EQ(::fstat(file.fd(), &info), 0);
  EXPECT_EQ(static_cast<std::size_t>(info.st_size), total);
  EXPECT_LT(lateness.worst, 200ms) << "the loop was blocked";
  EXPECT_GT(lateness.ticks, 10u);
  auto rate = [](std::chrono::microseconds time) { return 256.0 / (static_cast<double>(time.count()) / 1e6); };
  std::cout << "[ figures  ] " << ring.backend_name() << ", 256 MiB in 1 MiB ops: write " << rate(figures.write_io)
            << " MiB/s, read " << rate(figures.read_io) << " MiB/s (page cache), fsync "
            << figures.fsync_io.count() / 1000 << " ms; whole round trip with checking " << figures.total.count() / 1000
            << " ms; 2 ms timer: " << lateness.ticks << " waits, worst lateness "
            << static_cast<double>(lateness.worst.count()) / 1000.0 << " ms\n";
  RecordProperty("write_mib_per_s", std::to_string(rate(figures.write_io)));
  RecordProperty("read_mib_per_s", std::to_string(rate(figures.read_io)));
  RecordProperty("worst_timer_lateness_us", std::to_string(lateness.worst.count()));
}

// ---- many operations at once, more than the ring holds ------------------------------------------

// Writes block `index` with its own pattern, then reads it back. `ring` and `failures` belong to
// the test body, which outlives the loop.
asio::awaitable<void> write_then_verify(file_ring& ring, int fd, std::size_t index, std::size_t& failures) {
  constexpr std::size_t block = 4096;
  std::vector<std::byte> data(block);
  fill_pattern(data, index * block, 7);
  auto written = co_await ring.write(fd, data, index * block);
  if (!written || *written != block) ++failures;
  std::vector<std::byte> back(block);
  auto read = co_await ring.read(fd, back, index * block);
  if (!read || *read != block || back != data) ++failures;
}

TEST_P(file_ring_test, ManyConcurrentOperationsBeyondTheRingSize) {
  temp_file file;
  file_ring_options small = options();
  small.entries = 8;
  file_ring ring(io_.get_executor(), small);
  std::size_t failures = 0;
  std::size_t finished = 0;
  constexpr std::size_t count = 512;
  for (std::size_t i = 0; i < count; ++i) {
    asio::co_spawn(io_, write_then_verify(ring, file.fd(), i, failures), [&](const std::exception_ptr& e) {
      if (e) ++failures;
      ++finished;
    });
  }
  asio::steady_timer guard(io_, 60s);
  guard.async_wait([&](boost::system::error_code ec) {
    if (!ec) io_.stop();
  });
  // Every operation holds work; run() returns when all are done (then the guard is cancelled).
  while (finished < count && !io_.stopped()) io_.run_one();
  guard.cancel();
  EXPECT_EQ(finished, count);
  EXPECT_EQ(failures, 0u);
  struct stat info {};
  ASSERT_EQ(::fstat(file.fd(), &info), 0);
  EXPECT_EQ(static_cast<std::size_t>(info.st_size), count * 4096);
}

// ---- end of file, errors ------------------------------------------------------------------------

struct eof_results {
  sc::result<std::size_t> at_end = 0;
  sc::result<std::size_t> across_end = 0;
  sc::result<std::size_t> past_end = 0;
  sc::result<std::size_t> empty_buffer = 0;
};

asio::awaitable<eof_results> read_around_the_end(file_ring& ring, int fd) {
  std::string content = "0123456789";
  auto written = co_await ring.write(fd, as_bytes(content), 0);
  if (!written) throw std::runtime_error("write");
  std::vector<std::byte> buffer(100);
  eof_results results;
  results.at_end = co_await ring.read(fd, buffer, 10);
  results.across_end = co_await ring.read(fd, buffer, 5);
  results.past_end = co_await ring.read(fd, buffer, 1000);
  results.empty_buffer = co_await ring.read(fd, std::span<std::byte>(buffer.data(), 0), 0);
  co_return results;
}

TEST_P(file_ring_test, ReadsAtEndOfFileReturnZero) {
  temp_file file;
  file_ring ring(io_.get_executor(), options());
  eof_results results = sc::test::run_to_completion(io_, read_around_the_end(ring, file.fd()));
  ASSERT_TRUE(results.at_end);
  EXPECT_EQ(*results.at_end, 0u);
  ASSERT_TRUE(results.across_end);
  EXPECT_EQ(*results.across_end, 5u);
  ASSERT_TRUE(results.past_end);
  EXPECT_EQ(*results.past_end, 0u);
  ASSERT_TRUE(results.empty_buffer);
  EXPECT_EQ(*results.empty_buffer, 0u);
}

struct error_results {
  sc::result<std::size_t> read_bad_fd = 0;
  sc::result<std::size_t> write_bad_fd = 0;
  sc::result<std::size_t> write_read_only = 0;
  sc::result<void> fsync_bad_fd;
  sc::result<void> fsync_good;
};

asio::awaitable<error_results> provoke_errors(file_ring& ring, int read_only_fd, int good_fd) {
  std::vector<std::byte> buffer(16);
  error_results results;
  results.read_bad_fd = co_await ring.read(-1, buffer, 0);
  results.write_bad_fd = co_await ring.write(9999, buffer, 0);
  results.write_read_only = co_await ring.write(read_only_fd, buffer, 0);
  results.fsync_bad_fd = co_await ring.fsync(-1);
  results.fsync_good = co_await ring.fsync(good_fd);
  co_return results;
}

TEST_P(file_ring_test, ErrorsAreValues) {
  temp_file file;
  int read_only = ::open(file.path().c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(read_only, 0);
  file_ring ring(io_.get_executor(), options());
  error_results results = sc::test::run_to_completion(io_, provoke_errors(ring, read_only, file.fd()));
  ::close(read_only);
  ASSERT_FALSE(results.read_bad_fd);
  EXPECT_EQ(results.read_bad_fd.error().status, 500);
  EXPECT_NE(results.read_bad_fd.error().internal.find("Bad file descriptor"), std::string::npos)
      << results.read_bad_fd.error().internal;
  EXPECT_NE(results.read_bad_fd.error().internal.find("read fd -1"), std::string::npos);
  ASSERT_FALSE(results.write_bad_fd);
  EXPECT_NE(results.write_bad_fd.error().internal.find("Bad file descriptor"), std::string::npos);
  ASSERT_FALSE(results.write_read_only);
  EXPECT_NE(results.write_read_only.error().internal.find("Bad file descriptor"), std::string::npos);
  ASSERT_FALSE(results.fsync_bad_fd);
  EXPECT_TRUE(results.fsync_good) << results.fsync_good.error().internal;
}

// ---- cancellation and destruction with operations in flight -------------------------------------

// Stores one read's result in `out`; `ring`, the buffer and `out` belong to the test body.
asio::awaitable<void> read_into(file_ring& ring, int fd, std::span<std::byte> buffer, sc::result<std::size_t>& out) {
  out = co_await ring.read(fd, buffer, 0);
}

asio::awaitable<void> write_into(file_ring& ring, int fd, std::span<const std::byte> data, std::uint64_t offset,
                                 sc::result<std::size_t>& out) {
  out = co_await ring.write(fd, data, offset);
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::use_awaitable);
}

// Reads a pipe nobody writes to (io_uring waits in the kernel for data) raced against a timer.
asio::awaitable<int> read_pipe_or_time_out(file_ring& ring, int pipe_fd, std::span<std::byte> buffer,
                                           sc::result<std::size_t>& read_result) {
  using namespace asio::experimental::awaitable_operators;
  auto which = co_await (read_into(ring, pipe_fd, buffer, read_result) || sleep_for(100ms));
  co_return static_cast<int>(which.index());
}

class pipe_pair {
 public:
  pipe_pair() {
    if (::pipe2(fds_, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
  }
  ~pipe_pair() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  pipe_pair(const pipe_pair&) = delete;
  pipe_pair& operator=(const pipe_pair&) = delete;
  int read_end() const { return fds_[0]; }

 private:
  int fds_[2];
};

TEST_P(file_ring_test, TimeoutRaceCancelsAnOperationStuckInTheKernel) {
  pipe_pair pipe;
  file_ring ring(io_.get_executor(), options());
  std::vector<std::byte> buffer(64);
  sc::result<std::size_t> read_result = 0;
  auto started = steady_clock::now();
  int winner = sc::test::run_to_completion(io_, read_pipe_or_time_out(ring, pipe.read_end(), buffer, read_result), 10s);
  EXPECT_LT(steady_clock::now() - started, 5s);
  ASSERT_FALSE(read_result);
  if (GetParam()) {
    // pread on a pipe fails at once (ESPIPE): the read wins the race.
    EXPECT_EQ(winner, 0);
    EXPECT_NE(read_result.error().internal.find("Illegal seek"), std::string::npos) << read_result.error().internal;
  } else {
    // The timer wins; the read is cancelled in the kernel and its awaiter resumes only then.
    EXPECT_EQ(winner, 1);
    EXPECT_NE(read_result.error().internal.find("Operation canceled"), std::string::npos)
        << read_result.error().internal;
  }
}

TEST_P(file_ring_test, DestroyingTheRingWithOperationsInFlightIsSafe) {
  pipe_pair pipe;
  temp_file file;
  std::vector<std::byte> pipe_buffer(64);
  std::vector<std::vector<std::byte>> blocks(16, std::vector<std::byte>(mib, std::byte{0x5a}));
  sc::result<std::size_t> pipe_result = 0;
  std::vector<sc::result<std::size_t>> write_results(blocks.size(), sc::result<std::size_t>(0));
  file_ring_options small = options();
  small.entries = 4;  // so that some writes are still queued for room when the ring goes
  auto ring = std::make_unique<file_ring>(io_.get_executor(), small);
  asio::co_spawn(io_, read_into(*ring, pipe.read_end(), pipe_buffer, pipe_result), asio::detached);
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    asio::co_spawn(io_, write_into(*ring, file.fd(), blocks[i], i * mib, write_results[i]), asio::detached);
  }
  io_.poll();  // every coroutine has started its operation: in the kernel, queued, or on the pool
  auto started = steady_clock::now();
  ring.reset();  // must not hang on the pipe read, nor free anything the kernel still uses
  EXPECT_LT(steady_clock::now() - started, 5s);
  io_.restart();
  io_.run();  // the awaiters resume with whatever their operation came to
  ASSERT_FALSE(pipe_result);
  std::size_t completed = 0;
  for (const auto& result : write_results) {
    if (result) {
      EXPECT_EQ(*result, mib);
      ++completed;
    } else {
      EXPECT_NE(result.error().internal.find("Operation canceled"), std::string::npos) << result.error().internal;
    }
  }
  std::cout << "[ figures  ] " << (GetParam() ? "thread_pool" : "io_uring") << ": " << completed << " of "
            << blocks.size() << " writes completed before the ring was destroyed\n";
}

}  // namespace
