#include "server/request_framing.hpp"

#include <algorithm>
#include <boost/asio/error.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/url/parse.hpp>
#include <string>

#include "server/router.hpp"

namespace sc::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

bool split_target(std::string_view target, std::string_view& path, query_params& query) {
  // Most targets are a plain path: skip the full parser (about 1,200 instructions) when nothing
  // needs decoding. Anything unusual still goes through Boost.URL and is validated there.
  if (!target.empty() && target.front() == '/' && target.find_first_of("?%#") == std::string_view::npos &&
      std::all_of(target.begin(), target.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
    path = target;
    return true;
  }
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return false;
  path = parsed->encoded_path();
  if (parsed->has_query()) {
    for (auto param : parsed->params()) query.items.emplace_back(param.key, param.value);
  }
  return true;
}

std::optional<problem> read_error_problem(const boost::system::error_code& ec) {
  if (ec == bhttp::error::header_limit) return problem(431, "request header is too large");
  if (ec == bhttp::error::body_limit) return problem::payload_too_large("request body is too large");
  if (ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
      ec == asio::error::operation_aborted || ec == bhttp::error::partial_message ||
      ec == asio::error::bad_descriptor) {
    // The peer went away, or was too slow (the deadline sweep closed the socket): nothing to
    // answer, the connection just ends.
    return std::nullopt;
  }
  return problem::bad_request("malformed HTTP request: " + ec.message());
}

bool route_streams_body(const router& routes, const http::request& header) {
  std::string_view target = header.target();
  std::string_view path = target.substr(0, target.find('?'));
  auto found = routes.find(header.method(), path);
  return found.found != nullptr && found.found->streams_body;
}

body_framing frame_body(request_parser& parser, bool streams_body, const config& limits) {
  body_framing framing;
  // The limit is known only once the route is: streaming routes enforce their own.
  if (!streams_body) parser.body_limit(limits.body_limit);
  if (streams_body && !parser.is_done() && !parser.content_length()) {
    framing.refuse = problem(411, "this endpoint needs a Content-Length");
    return framing;
  }
  if (auto length = parser.content_length(); !streams_body && length && *length > limits.body_limit) {
    framing.refuse =
        problem::payload_too_large("request body is larger than " + std::to_string(limits.body_limit) + " bytes");
    return framing;
  }
  if (!parser.is_done() && !streams_body) {
    framing.read_whole = true;
    framing.send_continue = beast::iequals(parser.get()[bhttp::field::expect], "100-continue");
  }
  return framing;
}

}  // namespace sc::server
