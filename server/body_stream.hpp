#pragma once
// The request body of a route that streams it (route::streams_body), pulled by the handler piece
// by piece instead of being read whole by the connection. Only Content-Length bodies are streamed
// (the connection answers 411 to a chunked upload on such a route); the connection authenticates
// and authorizes on the header alone before the handler sees this.
//
// Each read is bounded by the connection's body timeout (an idle peer is cut off), so a long
// transfer is allowed as long as it keeps moving. Bytes the connection had already buffered after
// the header come first. Must be used on the loop thread, from the handler that received it.

#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <cstdint>
#include <string_view>

#include "server/http.hpp"

namespace sc::server {

struct connection;

class body_stream {
 public:
  body_stream(http::stream& stream, boost::beast::flat_buffer& buffer, connection& owner, std::uint64_t content_length,
              bool expect_continue, std::chrono::milliseconds read_timeout);

  std::uint64_t content_length() const noexcept { return length_; }
  std::uint64_t remaining() const noexcept { return length_ - consumed_; }
  bool finished() const noexcept { return consumed_ == length_; }

  // The next bytes of the body (at most `max`), valid until the next call; empty at the end.
  // 400 when the peer closes early, 408 when it stalls past the read timeout.
  boost::asio::awaitable<result<std::string_view>> read_some(std::size_t max = std::size_t{64} * 1024);

 private:
  http::stream& stream_;
  boost::beast::flat_buffer& buffer_;
  connection& owner_;
  std::uint64_t length_;
  std::uint64_t consumed_ = 0;
  bool expect_continue_;
  std::chrono::milliseconds read_timeout_;
  std::string chunk_;
};

}  // namespace sc::server
