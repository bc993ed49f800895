#pragma once
// One HTTP/1.1 exchange with a server the controller itself runs on loopback (Prometheus, for
// GET /monitoring/status and the /monitoring/grafana/ proxy): a fresh connection to a fixed
// address, the request written, the response read with a limit on its size, the whole exchange
// under one deadline. Never an address from a client: the callers pass their own configuration.
//
// Awaited on the loop's executor. Errors: 503 when nothing accepts the connection, 502 when the
// answer is not HTTP or exceeds `max_body`, 504 at the deadline.

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstddef>
#include <string>

#include "core/problem.hpp"

namespace sc::http_client {

struct exchange_limits {
  std::size_t max_body = std::size_t{16} * 1024 * 1024;
  std::chrono::milliseconds timeout{30'000};
};

using string_request = boost::beast::http::request<boost::beast::http::string_body>;
using string_response = boost::beast::http::response<boost::beast::http::string_body>;

// `address` is an IP address (no name resolution).
boost::asio::awaitable<result<string_response>> exchange(std::string address, unsigned short port,
                                                         string_request request, exchange_limits limits);

}  // namespace sc::http_client
