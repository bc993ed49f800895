// The byte pipe between the loop and a pool thread, and the extractor's limits, in process: a real
// thread, a real io_context, real files in a temp directory (the HTTP-level corpus runs against
// the binary in tests/integration/archive_test.cpp).
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <thread>

#include "adapters/archive/byte_pipe.hpp"
#include "adapters/archive/extract.hpp"
#include "adapters/file_io/beneath.hpp"
#include "tests/support/loop.hpp"
#include "tests/support/sandbox.hpp"

namespace sc::archive {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

asio::awaitable<std::size_t> produce(std::shared_ptr<byte_pipe> pipe, std::size_t chunks, std::size_t size) {
  std::size_t accepted = 0;
  for (std::size_t i = 0; i < chunks; ++i) {
    std::string chunk(size, static_cast<char>('a' + i % 26));
    if (!co_await pipe->push(std::move(chunk))) break;
    ++accepted;
  }
  pipe->close_producer();
  co_return accepted;
}

// Regression for the archive_extract fuzz finding fixed in eb1936d: a mutated 7z made a read fail
// with no error message set, archive_error_string returned NULL, and building the problem's
// std::string from it crashed the server (SEGV). The NULL case, reproduced directly.
TEST(archive_error_text, a_failure_without_a_message_still_has_text) {
  std::unique_ptr<struct archive, int (*)(struct archive*)> reader(archive_read_new(), archive_read_free);
  ASSERT_EQ(archive_error_string(reader.get()), nullptr);
  EXPECT_EQ(sc::archive::error_text(reader.get()), "unknown archive error");
  archive_set_error(reader.get(), EINVAL, "bad header");
  EXPECT_EQ(sc::archive::error_text(reader.get()), "bad header");
}

TEST(byte_pipe, loop_producer_and_thread_consumer_keep_order_and_bound_the_queue) {
  asio::io_context io;
  auto pipe = std::make_shared<byte_pipe>(io.get_executor(), 4);
  std::atomic<std::size_t> received{0};
  std::string order;
  std::thread consumer([&] {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (auto chunk = pipe->pop_blocking(deadline)) {
      order += chunk->front();
      received += chunk->size();
    }
  });
  auto accepted = test::run_to_completion(io, produce(pipe, 500, 1000));
  consumer.join();
  EXPECT_EQ(accepted, 500u);
  EXPECT_EQ(received.load(), 500u * 1000u);
  ASSERT_EQ(order.size(), 500u);
  for (std::size_t i = 0; i < order.size(); ++i) ASSERT_EQ(order[i], static_cast<char>('a' + i % 26)) << i;
}

TEST(byte_pipe, a_consumer_that_gives_up_releases_a_blocked_loop_producer) {
  asio::io_context io;
  auto pipe = std::make_shared<byte_pipe>(io.get_executor(), 2);
  std::thread consumer([&] {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    (void)pipe->pop_blocking(deadline);
    pipe->close_consumer();
  });
  // The producer fills the queue, blocks, and must be woken by close_consumer (no hang).
  auto accepted = test::run_to_completion(io, produce(pipe, 1000, 10), std::chrono::seconds(20));
  consumer.join();
  EXPECT_LT(accepted, 10u);
}

asio::awaitable<std::string> consume(std::shared_ptr<byte_pipe> pipe) {
  std::string all;
  while (auto chunk = co_await pipe->pop()) all += *chunk;
  co_return all;
}

TEST(byte_pipe, thread_producer_and_loop_consumer_with_backpressure) {
  asio::io_context io;
  auto pipe = std::make_shared<byte_pipe>(io.get_executor(), 3);
  std::thread producer([&] {
    for (int i = 0; i < 300; ++i) {
      ASSERT_TRUE(
          pipe->push_blocking(std::to_string(i) + ",", std::chrono::steady_clock::now() + std::chrono::seconds(30)));
    }
    pipe->close_producer();
  });
  auto all = test::run_to_completion(io, consume(pipe));
  producer.join();
  std::string expected;
  for (int i = 0; i < 300; ++i) expected += std::to_string(i) + ",";
  EXPECT_EQ(all, expected);
}

TEST(byte_pipe, a_thread_producer_times_out_when_nobody_reads) {
  asio::io_context io;
  byte_pipe pipe(io.get_executor(), 1);
  EXPECT_TRUE(pipe.push_blocking("a", std::chrono::steady_clock::now() + std::chrono::seconds(1)));
  EXPECT_FALSE(pipe.push_blocking("b", std::chrono::steady_clock::now() + std::chrono::milliseconds(50)));
  EXPECT_TRUE(pipe.timed_out());
}

la_ssize_t append(struct archive*, void* out, const void* data, std::size_t size) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(data), size);
  return static_cast<la_ssize_t>(size);
}

std::string tar_of(std::size_t files, std::size_t bytes_each) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_open(a, &out, nullptr, append, nullptr);
  std::string data(bytes_each, 'd');
  for (std::size_t i = 0; i < files; ++i) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, ("d" + std::to_string(i % 7) + "/f" + std::to_string(i)).c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    archive_write_header(a, e);
    archive_write_data(a, data.data(), data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// Feeds `archive` to extract() from this thread (as the loop would) and returns its verdict.
result<extract_report> run_extract(const std::string& archive, const std::string& target, extract_limits limits) {
  asio::io_context io;
  auto pipe = std::make_shared<byte_pipe>(io.get_executor(), 1'000'000);
  for (std::size_t at = 0; at < archive.size(); at += 4096)
    pipe->push_blocking(archive.substr(at, 4096), limits.deadline);
  pipe->close_producer();
  file_io::unique_fd dir(::open(target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  return extract(*pipe, dir.get(), {"sub"}, limits);
}

class extractor_limits : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::make_temp_dir("t5-extract"); }
  void TearDown() override { fs::remove_all(dir_); }
  extract_limits limits(std::uint64_t bytes, std::uint64_t entries) {
    return {bytes, entries, std::chrono::steady_clock::now() + std::chrono::seconds(30)};
  }
  std::string dir_;
};

TEST_F(extractor_limits, within_limits_everything_is_written) {
  auto report = run_extract(tar_of(50, 100), dir_, limits(1 << 20, 100));
  ASSERT_TRUE(report) << report.error().detail;
  EXPECT_EQ(report->bytes, 5000u);
  EXPECT_TRUE(fs::exists(dir_ + "/sub/d0/f49"));
}

TEST_F(extractor_limits, too_many_members_is_413_and_rolled_back_to_nothing) {
  auto report = run_extract(tar_of(200, 10), dir_, limits(1 << 20, 100));
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().status, 413);
  // The run created sub/ too (from the subpath), so it is gone as well.
  EXPECT_FALSE(fs::exists(dir_ + "/sub"));
}

TEST_F(extractor_limits, too_many_bytes_is_413_before_writing_the_member) {
  auto report = run_extract(tar_of(3, 4000), dir_, limits(10000, 100));
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().status, 413);
  EXPECT_FALSE(fs::exists(dir_ + "/sub/d2/f2"));
  EXPECT_FALSE(fs::exists(dir_ + "/sub/d0/f0"));
}

TEST_F(extractor_limits, a_passed_deadline_is_408_saying_partial_output_was_removed) {
  extract_limits past{1 << 20, 100, std::chrono::steady_clock::now() - std::chrono::seconds(1)};
  asio::io_context io;
  auto pipe = std::make_shared<byte_pipe>(io.get_executor(), 1'000'000);
  pipe->push_blocking(tar_of(5, 10), std::chrono::steady_clock::now() + std::chrono::seconds(1));
  pipe->close_producer();
  file_io::unique_fd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  auto report = extract(*pipe, dir.get(), {"sub"}, past);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().status, 408);
  EXPECT_NE(report.error().detail.find("partial output removed"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ + "/sub/d0/f0"));
}

}  // namespace
}  // namespace sc::archive
