// The SSE writer over a real socket pair on one loop: the head, close-delimited framing for
// HTTP/1.1 and HTTP/1.0, keepalives, prompt disconnect detection, clean close, and the slow-reader
// policy (dropped, memory bounded).
#include "server/sse.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "adapters/asio/completion.hpp"
#include "tests/support/loop.hpp"

namespace sc::server {
namespace {

namespace asio = boost::asio;
using generic_socket = http::stream;

struct socket_pair {
  generic_socket server;
  generic_socket client;
};

socket_pair make_pair(asio::io_context& io) {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  return {generic_socket(io, asio::generic::stream_protocol(AF_UNIX, 0), fds[0]),
          generic_socket(io, asio::generic::stream_protocol(AF_UNIX, 0), fds[1])};
}

// Reads from the client side until `text` has been seen or the deadline passes.
asio::awaitable<std::string> read_until_seen(generic_socket& client, std::string text,
                                             std::chrono::milliseconds deadline) {
  std::string seen;
  asio::steady_timer timer(client.get_executor());
  auto until = std::chrono::steady_clock::now() + deadline;
  char buffer[4096];
  while (seen.find(text) == std::string::npos && std::chrono::steady_clock::now() < until) {
    timer.expires_at(until);
    timer.async_wait([&client](boost::system::error_code ec) {
      if (!ec) client.cancel();
    });
    auto [ec, n] = co_await client.async_read_some(asio::buffer(buffer), io_result);
    timer.cancel();
    if (ec) break;
    seen.append(buffer, n);
  }
  co_return seen;
}

// Set when the writer returns; `signal` wakes whoever waits for that.
struct served {
  explicit served(asio::io_context& io) : signal(io) {}
  asio::steady_timer signal;
  bool done = false;
};

std::string head_for(unsigned version) {
  http::request request{http::verb::get, "/systemd/logs", version};
  return http::format_head(sse_response_head(request));
}

asio::awaitable<void> serve_and_mark(http::stream& stream, std::shared_ptr<sse_subscriber> subscriber,
                                     sse_options options, served& flag, unsigned version = 11) {
  co_await serve_sse(stream, std::move(subscriber), options, head_for(version));
  flag.done = true;
  flag.signal.cancel();
}

asio::awaitable<void> wait_done(served& flag, std::chrono::milliseconds deadline) {
  if (flag.done) co_return;
  flag.signal.expires_after(deadline);
  co_await flag.signal.async_wait(io_result);
}

sse_frame frame_of(std::string_view data, std::string_view id = {}) {
  return std::make_shared<const std::string>(format_sse_event(data, id));
}

TEST(sse_format, one_data_line_per_line_and_an_id) {
  EXPECT_EQ(format_sse_event("{\"a\":1}"), "data: {\"a\":1}\n\n");
  EXPECT_EQ(format_sse_event("x\ny", "c1"), "id: c1\ndata: x\ndata: y\n\n");
  EXPECT_EQ(format_sse_event(""), "data: \n\n");
}

TEST(sse_writer, streams_frames_close_delimited_after_the_head) {
  asio::io_context io;
  auto pair = make_pair(io);
  http::stream stream(std::move(pair.server));
  auto subscriber = std::make_shared<sse_subscriber>(io.get_executor(), 16);
  served flag(io);
  asio::co_spawn(io, serve_and_mark(stream, subscriber, sse_options{}, flag), asio::detached);
  subscriber->push(frame_of("{\"n\":1}", "cursor-1"));
  subscriber->push(frame_of("{\"n\":2}", "cursor-2"));
  std::string seen = test::run_to_completion(io, read_until_seen(pair.client, "cursor-2", std::chrono::seconds(5)));
  EXPECT_EQ(seen.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << seen;
  EXPECT_NE(seen.find("Content-Type: text/event-stream\r\n"), std::string::npos);
  EXPECT_NE(seen.find("Cache-Control: no-cache\r\n"), std::string::npos);
  EXPECT_NE(seen.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(seen.find("Transfer-Encoding"), std::string::npos) << "the body ends with the connection";
  EXPECT_NE(seen.find("\r\n\r\nid: cursor-1\ndata: {\"n\":1}\n\nid: cursor-2\n"), std::string::npos) << seen;
  subscriber->close();
  test::run_to_completion(io, wait_done(flag, std::chrono::seconds(5)));
  EXPECT_TRUE(flag.done) << "a closed stream's writer returns";
  EXPECT_TRUE(subscriber->finished());
}

TEST(sse_writer, an_http_1_0_client_gets_a_1_0_head_and_the_same_bytes) {
  asio::io_context io;
  auto pair = make_pair(io);
  http::stream stream(std::move(pair.server));
  auto subscriber = std::make_shared<sse_subscriber>(io.get_executor(), 16);
  served flag(io);
  asio::co_spawn(io, serve_and_mark(stream, subscriber, sse_options{}, flag, 10), asio::detached);
  subscriber->push(frame_of("line", "c1"));
  std::string seen =
      test::run_to_completion(io, read_until_seen(pair.client, "data: line\n\n", std::chrono::seconds(5)));
  EXPECT_EQ(seen.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << seen;
  EXPECT_EQ(seen.find("chunked"), std::string::npos);
  EXPECT_NE(seen.find("\r\n\r\nid: c1\ndata: line\n\n"), std::string::npos) << seen;
  subscriber->close();
  test::run_to_completion(io, wait_done(flag, std::chrono::seconds(5)));
  EXPECT_TRUE(flag.done);
}

TEST(sse_writer, sends_comment_keepalives_when_idle) {
  asio::io_context io;
  auto pair = make_pair(io);
  http::stream stream(std::move(pair.server));
  auto subscriber = std::make_shared<sse_subscriber>(io.get_executor(), 4);
  sse_options options;
  options.keepalive = std::chrono::milliseconds(50);
  served flag(io);
  asio::co_spawn(io, serve_and_mark(stream, subscriber, options, flag), asio::detached);
  std::string seen = test::run_to_completion(io, read_until_seen(pair.client, "\r\n\r\n:\n", std::chrono::seconds(5)));
  EXPECT_NE(seen.find("\r\n\r\n:\n"), std::string::npos) << seen;
  subscriber->close();
  test::run_to_completion(io, wait_done(flag, std::chrono::seconds(5)));
}

TEST(sse_writer, notices_a_client_that_goes_away_without_waiting_for_a_keepalive) {
  asio::io_context io;
  auto pair = make_pair(io);
  http::stream stream(std::move(pair.server));
  auto subscriber = std::make_shared<sse_subscriber>(io.get_executor(), 4);
  sse_options options;
  options.keepalive = std::chrono::hours(1);
  served flag(io);
  asio::co_spawn(io, serve_and_mark(stream, subscriber, options, flag), asio::detached);
  test::run_to_completion(io, read_until_seen(pair.client, "\r\n\r\n", std::chrono::seconds(5)));
  pair.client.close();
  auto started = std::chrono::steady_clock::now();
  test::run_to_completion(io, wait_done(flag, std::chrono::seconds(5)));
  EXPECT_TRUE(flag.done);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(500));
  EXPECT_TRUE(subscriber->finished());
}

TEST(sse_writer, drops_a_reader_that_cannot_keep_up) {
  asio::io_context io;
  auto pair = make_pair(io);
  http::stream stream(std::move(pair.server));
  auto subscriber = std::make_shared<sse_subscriber>(io.get_executor(), 8);
  sse_options options;
  options.write_timeout = std::chrono::milliseconds(200);
  served flag(io);
  asio::co_spawn(io, serve_and_mark(stream, subscriber, options, flag), asio::detached);
  // The client reads nothing; 64 KiB frames fill the socket buffers, then the queue.
  sse_frame big = frame_of(std::string(std::size_t{64} * 1024, 'x'));
  std::size_t max_queued = 0;
  for (int i = 0; i < 200 && !subscriber->overflowed(); ++i) {
    subscriber->push(big);
    max_queued = std::max(max_queued, subscriber->queued());
    io.poll();  // let the writer run between publishes
  }
  EXPECT_TRUE(subscriber->overflowed());
  EXPECT_LE(max_queued, 8u);
  test::run_to_completion(io, wait_done(flag, std::chrono::seconds(5)));
  EXPECT_TRUE(flag.done) << "the writer of a dropped reader returns";
  EXPECT_EQ(subscriber->queued(), 0u);
  EXPECT_FALSE(subscriber->push(big)) << "a dropped subscriber takes no more frames";
}

}  // namespace
}  // namespace sc::server
