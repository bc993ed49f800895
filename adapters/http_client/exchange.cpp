#include "adapters/http_client/exchange.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "adapters/asio/completion.hpp"

namespace sc::http_client {

namespace asio = boost::asio;
namespace beast = boost::beast;

asio::awaitable<result<string_response>> exchange(std::string address, unsigned short port, string_request request,
                                                  exchange_limits limits) {
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(address, ec);
  if (ec) co_return problem::internal_error("upstream address " + address + " is not an IP address");
  const std::string where = address + ":" + std::to_string(port);

  beast::tcp_stream stream(co_await asio::this_coro::executor);
  // One deadline for the whole exchange: connect, write and read.
  stream.expires_after(limits.timeout);
  auto timed_out = [](const boost::system::error_code& e) { return e == beast::error::timeout; };

  auto [connect_error] = co_await stream.async_connect(asio::ip::tcp::endpoint(ip, port), io_result);
  if (connect_error) {
    if (timed_out(connect_error)) co_return problem::gateway_timeout(where + " did not accept the connection in time");
    co_return problem::unavailable(where + " is not answering: " + connect_error.message());
  }
  request.version(11);
  request.set(beast::http::field::host, where);
  request.set(beast::http::field::connection, "close");
  request.prepare_payload();
  auto [write_error, written] = co_await beast::http::async_write(stream, request, io_result);
  (void)written;
  if (write_error) {
    if (timed_out(write_error)) co_return problem::gateway_timeout(where + " did not take the request in time");
    co_return problem::bad_gateway(where + ": writing the request: " + write_error.message());
  }
  beast::flat_buffer buffer;
  beast::http::response_parser<beast::http::string_body> parser;
  parser.body_limit(limits.max_body);
  parser.header_limit(64 * 1024);
  auto [read_error, read] = co_await beast::http::async_read(stream, buffer, parser, io_result);
  (void)read;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  if (read_error) {
    if (timed_out(read_error)) co_return problem::gateway_timeout(where + " did not answer in time");
    if (read_error == beast::http::error::body_limit)
      co_return problem::bad_gateway(where + " answered with more than " + std::to_string(limits.max_body) + " bytes");
    co_return problem::bad_gateway(where + ": reading the answer: " + read_error.message());
  }
  co_return parser.release();
}

}  // namespace sc::http_client
