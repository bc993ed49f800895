#pragma once
// How a connection frames one request (server/connection.cpp), as plain functions over Beast's
// parser: what the request target means, how the body is read once the header is in, and what a
// failed read is answered with. The connection awaits the reads; these decide. The HTTP fuzz
// target (tests/fuzz/http_request.cpp) drives the same functions over arbitrary bytes.

#include <boost/beast/http/parser.hpp>
#include <boost/system/error_code.hpp>
#include <optional>
#include <string_view>

#include "core/problem.hpp"
#include "core/query.hpp"
#include "server/config.hpp"
#include "server/http.hpp"

namespace sc::server {

class router;

using request_parser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// Splits an origin-form request target into its path (a view into `target`, starting with '/')
// and the percent-decoded query parameters. False when the target is not origin-form.
bool split_target(std::string_view target, std::string_view& path, query_params& query);

// The problem a failed header or body read is answered with (431, 413 or 400); nullopt when the
// peer went away or was cut off by a deadline, which gets no answer.
std::optional<problem> read_error_problem(const boost::system::error_code& ec);

// True when the route the header names reads its own body (route::streams_body).
bool route_streams_body(const router& routes, const http::request& header);

// What follows a complete header.
struct body_framing {
  std::optional<problem> refuse;  // answer this, then close the connection
  bool read_whole = false;        // the body is still to be read, whole, within the body limit
  bool send_continue = false;     // answer "100 Continue" before reading it
};
// Decides how the body of the header `parser` holds is read, and sets the parser's body limit:
// streaming routes need a Content-Length (411) and enforce their own limit; other bodies are read
// whole and may not exceed `limits.body_limit` (413, before any of it is read when declared).
body_framing frame_body(request_parser& parser, bool streams_body, const config& limits);

}  // namespace sc::server
