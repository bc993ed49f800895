// The streamed request body over a real socket pair, without a server: bytes buffered with the
// header come first, reads are capped by `max` and by Content-Length, a pipelined request's bytes
// stay buffered, "100 Continue" goes out only when the body is first wanted, an early close is a
// 400, and a read cut off by the connection's deadline (the socket closed) is a 408. Each read
// arms the connection's deadline and disarms it afterwards.
#include "server/body_stream.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/steady_timer.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "adapters/asio/completion.hpp"
#include "server/connection.hpp"
#include "tests/support/loop.hpp"

namespace sc::server {
namespace {

namespace asio = boost::asio;

struct socket_pair {
  http::stream server;
  http::stream client;
};

socket_pair make_pair(asio::io_context& io) {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  return {http::stream(io, asio::generic::stream_protocol(AF_UNIX, 0), fds[0]),
          http::stream(io, asio::generic::stream_protocol(AF_UNIX, 0), fds[1])};
}

// Reads the whole body in pieces of at most `max`; the pieces' sizes and the text, or the problem.
struct drained {
  std::vector<std::size_t> sizes;
  std::string text;
  int status = 200;
  bool deadline_disarmed = true;
};

asio::awaitable<drained> drain(body_stream& body, connection& owner, std::size_t max) {
  drained out;
  for (;;) {
    auto piece = co_await body.read_some(max);
    if (owner.deadline != connection::clock::time_point::max()) out.deadline_disarmed = false;
    if (!piece) {
      out.status = piece.error().status;
      co_return out;
    }
    if (piece->empty()) co_return out;
    out.sizes.push_back(piece->size());
    out.text += *piece;
  }
}

TEST(body_stream, buffered_bytes_come_first_then_the_socket_up_to_content_length) {
  asio::io_context io;
  auto pair = make_pair(io);
  boost::beast::flat_buffer buffer;
  // Read with the header: 4 body bytes and the start of a pipelined request.
  std::string early = "abcd";
  auto space = buffer.prepare(early.size());
  std::memcpy(space.data(), early.data(), early.size());
  buffer.commit(early.size());
  connection owner;
  body_stream body(pair.server, buffer, owner, 10, false, std::chrono::seconds(5));
  EXPECT_EQ(body.content_length(), 10u);
  std::string rest = "efghijGET /next";  // 6 body bytes, then the next request
  ASSERT_EQ(::send(pair.client.native_handle(), rest.data(), rest.size(), 0), static_cast<ssize_t>(rest.size()));
  auto out = test::run_to_completion(io, drain(body, owner, 3));
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(out.text, "abcdefghij");
  for (std::size_t size : out.sizes) EXPECT_LE(size, 3u);
  EXPECT_TRUE(body.finished());
  EXPECT_EQ(body.remaining(), 0u);
  EXPECT_TRUE(out.deadline_disarmed);
  // The pipelined request's bytes were not consumed by the body.
  char next[16] = {};
  auto n = ::recv(pair.server.native_handle(), next, sizeof next, MSG_DONTWAIT);
  EXPECT_EQ(std::string(next, n > 0 ? static_cast<std::size_t>(n) : 0), "GET /next");
}

TEST(body_stream, an_early_close_is_a_400) {
  asio::io_context io;
  auto pair = make_pair(io);
  boost::beast::flat_buffer buffer;
  connection owner;
  body_stream body(pair.server, buffer, owner, 100, false, std::chrono::seconds(5));
  ASSERT_EQ(::send(pair.client.native_handle(), "12345", 5, 0), 5);
  pair.client.close();
  auto out = test::run_to_completion(io, drain(body, owner, 64));
  EXPECT_EQ(out.status, 400);
  EXPECT_EQ(out.text, "12345");
  EXPECT_FALSE(body.finished());
}

TEST(body_stream, a_read_cut_off_by_the_deadline_is_a_408) {
  asio::io_context io;
  auto pair = make_pair(io);
  boost::beast::flat_buffer buffer;
  connection owner;
  body_stream body(pair.server, buffer, owner, 100, false, std::chrono::milliseconds(50));
  // What the app's deadline sweep does once `owner.deadline` has passed: close the socket.
  asio::steady_timer sweep(io, std::chrono::milliseconds(50));
  sweep.async_wait([&](boost::system::error_code) {
    EXPECT_NE(owner.deadline, connection::clock::time_point::max()) << "the read armed no deadline";
    boost::system::error_code ignored;
    pair.server.close(ignored);
  });
  auto out = test::run_to_completion(io, drain(body, owner, 64));
  EXPECT_EQ(out.status, 408);
}

TEST(body_stream, sends_100_continue_only_when_the_body_is_first_read) {
  asio::io_context io;
  auto pair = make_pair(io);
  boost::beast::flat_buffer buffer;
  connection owner;
  body_stream body(pair.server, buffer, owner, 3, true, std::chrono::seconds(5));
  char probe[64];
  EXPECT_LT(::recv(pair.client.native_handle(), probe, sizeof probe, MSG_DONTWAIT), 0) << "100 sent before any read";
  ASSERT_EQ(::send(pair.client.native_handle(), "xyz", 3, 0), 3);
  auto out = test::run_to_completion(io, drain(body, owner, 64));
  EXPECT_EQ(out.text, "xyz");
  auto n = ::recv(pair.client.native_handle(), probe, sizeof probe, MSG_DONTWAIT);
  EXPECT_EQ(std::string(probe, n > 0 ? static_cast<std::size_t>(n) : 0), "HTTP/1.1 100 Continue\r\n\r\n");
}

TEST(body_stream, an_empty_body_ends_at_once) {
  asio::io_context io;
  auto pair = make_pair(io);
  boost::beast::flat_buffer buffer;
  connection owner;
  body_stream body(pair.server, buffer, owner, 0, true, std::chrono::seconds(5));
  auto out = test::run_to_completion(io, drain(body, owner, 64));
  EXPECT_EQ(out.status, 200);
  EXPECT_TRUE(out.text.empty());
  char probe[64];
  EXPECT_LT(::recv(pair.client.native_handle(), probe, sizeof probe, MSG_DONTWAIT), 0) << "no 100 for an empty body";
}

}  // namespace
}  // namespace sc::server
