#include "server/body_stream.hpp"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "adapters/asio/completion.hpp"
#include "server/connection.hpp"

namespace sc::server {

namespace asio = boost::asio;

body_stream::body_stream(http::stream& stream, boost::beast::flat_buffer& buffer, connection& owner,
                         std::uint64_t content_length, bool expect_continue, std::chrono::milliseconds read_timeout)
    : stream_(stream),
      buffer_(buffer),
      owner_(owner),
      length_(content_length),
      expect_continue_(expect_continue),
      read_timeout_(read_timeout) {}

asio::awaitable<result<std::string_view>> body_stream::read_some(std::size_t max) {
  chunk_.clear();
  if (consumed_ == length_) co_return std::string_view{};
  // The client asked whether to send the body: only now, when the handler wants it, say yes (a
  // request refused on its headers never gets a 100).
  if (expect_continue_) {
    expect_continue_ = false;
    owner_.expires_after(read_timeout_);
    auto [ec, n] = co_await asio::async_write(stream_, asio::buffer("HTTP/1.1 100 Continue\r\n\r\n", 25), io_result);
    if (ec) co_return problem::bad_request("connection lost before the request body");
  }
  std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(max, length_ - consumed_));
  if (buffer_.size() > 0) {
    // Bytes read together with the header (or a pipelined request's, which stay buffered).
    std::size_t take = std::min(want, buffer_.size());
    const char* data = static_cast<const char*>(buffer_.data().data());
    chunk_.assign(data, take);
    buffer_.consume(take);
  } else {
    chunk_.resize(want);
    owner_.expires_after(read_timeout_);
    auto [ec, n] = co_await stream_.async_read_some(asio::buffer(chunk_.data(), want), io_result);
    owner_.expires_never();
    if (ec) {
      if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) {
        co_return problem(408, "the request body stalled; connection closed");
      }
      co_return problem::bad_request("the request body ended early (" + std::to_string(consumed_) + " of " +
                                     std::to_string(length_) + " bytes)");
    }
    chunk_.resize(n);
  }
  consumed_ += chunk_.size();
  co_return std::string_view(chunk_);
}

}  // namespace sc::server
