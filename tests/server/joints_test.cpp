// The risky joints of the stack, all on one loop with the real server: 100 concurrent children,
// 256 MiB of io_uring file I/O, and thousands of opened/cancelled/reset connections, timers and
// child waits — while /health keeps answering. Run under ASan+UBSan by tools/test.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <random>

#include "adapters/asio/completion.hpp"
#include "adapters/asio/one_shot_event.hpp"
#include "adapters/file_io/file_ring.hpp"
#include "adapters/process/spawn.hpp"
#include "server/app.hpp"
#include "tests/support/loop.hpp"
#include "tests/support/sandbox.hpp"

namespace sc::server {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

struct in_process_server {
  asio::io_context io{1};
  std::string state_dir = test::make_temp_dir("sc-joints");
  std::unique_ptr<app> application;
  unsigned short port = 0;

  in_process_server() {
    config settings;
    settings.listen = "127.0.0.1:0";
    settings.socket_path.clear();
    settings.state_dir = state_dir;
    settings.database = state_dir + "/system.db";
    settings.btrfs_root = test::sandbox_env("SC_BTRFS_ROOT");
    application = std::make_unique<app>(io, settings);
    EXPECT_TRUE(application->open().has_value());
    EXPECT_TRUE(application->serve().has_value());
    auto addresses = application->bound_addresses();
    EXPECT_FALSE(addresses.empty());
    port = static_cast<unsigned short>(std::stoi(addresses.front().substr(addresses.front().rfind(':') + 1)));
  }
  ~in_process_server() {
    // Stop as the binary does: graceful stop, run the loop until the app reports it stopped (so
    // cancelled accepts and connections complete while the app exists), then destroy.
    boost::asio::steady_timer guard(io, std::chrono::seconds(15));
    guard.async_wait([this](boost::system::error_code ec) {
      if (!ec) io.stop();
    });
    application->on_stopped([this, &guard] {
      guard.cancel();
      io.stop();
    });
    application->request_stop();
    io.restart();
    io.run();
    application.reset();
    std::error_code ignored;
    std::filesystem::remove_all(state_dir, ignored);
  }
};

struct probe_results {
  std::vector<double> latencies_ms;
  int failures = 0;
  double worst() const {
    return latencies_ms.empty() ? 1e9 : *std::max_element(latencies_ms.begin(), latencies_ms.end());
  }
};

// GET /health on one keep-alive connection every 2 ms until `stop` is set.
asio::awaitable<void> probe_health(unsigned short port, const bool& stop, probe_results& results) {
  auto executor = co_await asio::this_coro::executor;
  tcp::socket socket(executor);
  auto [connect_ec] = co_await socket.async_connect({asio::ip::address_v4::loopback(), port}, io_result);
  if (connect_ec) {
    ++results.failures;
    co_return;
  }
  boost::beast::flat_buffer buffer;
  asio::steady_timer pace(executor);
  while (!stop) {
    auto started = std::chrono::steady_clock::now();
    bhttp::request<bhttp::empty_body> request{bhttp::verb::get, "/health", 11};
    request.set(bhttp::field::host, "x");
    auto [write_ec, w] = co_await bhttp::async_write(socket, request, io_result);
    bhttp::response<bhttp::string_body> response;
    auto [read_ec, r] = co_await bhttp::async_read(socket, buffer, response, io_result);
    if (write_ec || read_ec || response.result_int() != 200) {
      ++results.failures;
      co_return;
    }
    results.latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
    pace.expires_after(std::chrono::milliseconds(2));
    co_await pace.async_wait(io_result);
  }
}

asio::awaitable<void> run_children(int count, int& succeeded, bool& done) {
  auto executor = co_await asio::this_coro::executor;
  int finished = 0;
  one_shot_event all_done(executor);
  struct child_task {
    static asio::awaitable<void> run(int& ok, int& finished, int count, one_shot_event& all_done) {
      process::spawn_request request;
      request.argv = {"/bin/sleep", "0.3"};
      auto outcome = co_await process::run_process(std::move(request));
      if (outcome && outcome->ok()) ++ok;
      if (++finished == count) all_done.set();
    }
  };
  for (int i = 0; i < count; ++i)
    asio::co_spawn(executor, child_task::run(succeeded, finished, count, all_done), asio::detached);
  co_await all_done.wait();
  done = true;
}

TEST(joints, health_stays_responsive_while_100_children_run) {
  // Declared before the server: its destructor runs the loop once more, and a probe still in flight
  // then resumes and writes to these.
  bool done = false;
  int succeeded = 0;
  probe_results probes;
  in_process_server server;
  asio::co_spawn(server.io, probe_health(server.port, done, probes), asio::detached);
  test::run_to_completion(server.io, run_children(100, succeeded, done), std::chrono::seconds(60));
  EXPECT_EQ(succeeded, 100);
  EXPECT_EQ(probes.failures, 0);
  EXPECT_GE(probes.latencies_ms.size(), 10u);
  // Generous bound for a loaded 2-core machine under ASan; a blocked loop would show seconds.
  EXPECT_LT(probes.worst(), 250.0);
  EXPECT_EQ(process::running_children(), 0u);
}

asio::awaitable<void> write_and_read_back(file_io::file_ring& ring, std::string path, std::size_t total, bool& done,
                                          bool& verified) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  std::vector<std::byte> chunk(1 << 20);
  for (std::size_t offset = 0; offset < total; offset += chunk.size()) {
    for (std::size_t i = 0; i < chunk.size(); i += 4096) chunk[i] = static_cast<std::byte>((offset >> 20) + i / 4096);
    auto written = co_await ring.write(fd, chunk, offset);
    if (!written) break;
  }
  auto synced = co_await ring.fsync(fd);
  verified = synced.has_value();
  std::vector<std::byte> back(1 << 20);
  for (std::size_t offset = 0; offset < total && verified; offset += back.size()) {
    auto read = co_await ring.read(fd, back, offset);
    if (!read || *read != back.size()) verified = false;
    for (std::size_t i = 0; verified && i < back.size(); i += 4096) {
      verified = back[i] == static_cast<std::byte>((offset >> 20) + i / 4096);
    }
  }
  ::close(fd);
  ::unlink(path.c_str());
  done = true;
}

TEST(joints, health_stays_responsive_during_256_mib_of_file_io) {
  bool done = false;  // before the server, which outlives its last loop run (see above)
  bool verified = false;
  probe_results probes;
  in_process_server server;
  asio::co_spawn(server.io, probe_health(server.port, done, probes), asio::detached);
  std::string path = server.state_dir + "/bulk.bin";
  test::run_to_completion(
      server.io, write_and_read_back(server.application->files(), path, std::size_t{256} << 20, done, verified),
      std::chrono::seconds(120));
  EXPECT_TRUE(verified);
  EXPECT_EQ(probes.failures, 0);
  EXPECT_GE(probes.latencies_ms.size(), 5u);
  EXPECT_LT(probes.worst(), 250.0);
}

// One client doing one kind of abuse, many times.
asio::awaitable<void> churn_client(unsigned short port, int kind, int iterations, int& served_ok) {
  auto executor = co_await asio::this_coro::executor;
  for (int i = 0; i < iterations; ++i) {
    tcp::socket socket(executor);
    auto [ec] = co_await socket.async_connect({asio::ip::address_v4::loopback(), port}, io_result);
    if (ec) continue;
    switch (kind) {
      case 0:  // connect and close at once
        break;
      case 1: {  // half a header, then reset
        co_await asio::async_write(socket, asio::buffer(std::string_view("GET /health HTTP/1.1\r\nHo")), io_result);
        socket.set_option(asio::socket_base::linger(true, 0));
        break;
      }
      case 2: {  // a full request, close before reading the reply
        co_await asio::async_write(socket, asio::buffer(std::string_view("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")),
                                   io_result);
        break;
      }
      case 3: {  // a full request answered, with a racing timer cancelling the read half the time
        co_await asio::async_write(socket, asio::buffer(std::string_view("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")),
                                   io_result);
        boost::beast::flat_buffer buffer;
        bhttp::response<bhttp::string_body> response;
        asio::steady_timer timer(executor, std::chrono::microseconds(i % 2 == 0 ? 0 : 50'000));
        auto winner = co_await (bhttp::async_read(socket, buffer, response, io_result) || timer.async_wait(io_result));
        if (winner.index() == 0 && response.result_int() == 200) ++served_ok;
        break;
      }
      case 4: {  // a child wait cancelled by a timer: the child must be killed and reaped
        process::spawn_request request;
        request.argv = {"/bin/sleep", "5"};
        asio::steady_timer timer(executor, std::chrono::milliseconds(1 + i % 5));
        co_await (process::run_process(std::move(request)) || timer.async_wait(io_result));
        break;
      }
    }
    boost::system::error_code ignored;
    socket.close(ignored);
  }
}

asio::awaitable<void> churn(unsigned short port, int& served_ok, bool& done) {
  auto executor = co_await asio::this_coro::executor;
  int finished = 0;
  constexpr int clients = 50;
  one_shot_event all_done(executor);
  struct runner {
    static asio::awaitable<void> run(unsigned short port, int kind, int& served_ok, int& finished,
                                     one_shot_event& all_done) {
      co_await churn_client(port, kind, kind == 4 ? 10 : 80, served_ok);
      if (++finished == clients) all_done.set();
    }
  };
  for (int c = 0; c < clients; ++c)
    asio::co_spawn(executor, runner::run(port, c % 5, served_ok, finished, all_done), asio::detached);
  co_await all_done.wait();
  done = true;
}

asio::awaitable<void> settle(app& application, std::chrono::milliseconds deadline) {
  asio::steady_timer tick(co_await asio::this_coro::executor);
  auto until = std::chrono::steady_clock::now() + deadline;
  // The server notices closed peers on its own schedule; wait (bounded) until it has.
  while ((application.counters().open_connections() != 0 || process::running_children() != 0) &&
         std::chrono::steady_clock::now() < until) {
    tick.expires_after(std::chrono::milliseconds(10));
    co_await tick.async_wait(io_result);
  }
}

TEST(joints, survives_connection_timer_and_child_churn) {
  bool done = false;  // before the server, which outlives its last loop run (see above)
  int served_ok = 0;
  probe_results probes;
  in_process_server server;
  asio::co_spawn(server.io, probe_health(server.port, done, probes), asio::detached);
  test::run_to_completion(server.io, churn(server.port, served_ok, done), std::chrono::seconds(120));
  EXPECT_EQ(probes.failures, 0);
  EXPECT_GT(served_ok, 0);
  test::run_to_completion(server.io, settle(*server.application, std::chrono::seconds(10)));
  EXPECT_EQ(server.application->counters().open_connections(), 0);
  EXPECT_EQ(process::running_children(), 0u);
  // The server still works, and its descriptors were not confused by the churn.
  probe_results after;
  bool stop_after = false;
  asio::co_spawn(server.io, probe_health(server.port, stop_after, after), asio::detached);
  asio::steady_timer window(server.io, std::chrono::milliseconds(100));
  window.async_wait([&](boost::system::error_code) { stop_after = true; });
  test::run_to_completion(server.io, settle(*server.application, std::chrono::seconds(5)));
  EXPECT_EQ(after.failures, 0);
}

}  // namespace
}  // namespace sc::server
