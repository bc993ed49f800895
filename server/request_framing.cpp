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
    framing.chunked = parser.chunked();
    framing.send_continue = beast::iequals(parser.get()[bhttp::field::expect], "100-continue");
  }
  return framing;
}

chunked_body_scan::verdict chunked_body_scan::framing_byte() noexcept {
  return ++framing_bytes_ > framing_limit_ ? verdict::too_large : verdict::more;
}

chunked_body_scan::verdict chunked_body_scan::scan(std::string_view bytes) noexcept {
  const auto hex_digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  while (state_ != state::done && position_ < bytes.size()) {
    if (state_ == state::data) {
      const std::uint64_t take = std::min<std::uint64_t>(chunk_left_, bytes.size() - position_);
      position_ += static_cast<std::size_t>(take);
      chunk_left_ -= take;
      if (chunk_left_ == 0) state_ = state::data_cr;
      continue;
    }
    const char c = bytes[position_++];
    if (framing_byte() == verdict::too_large) return verdict::too_large;
    switch (state_) {
      case state::size:
        if (const int digit = hex_digit(c); digit >= 0) {
          if (++size_digits_ > 16) return verdict::malformed;  // more than 64 bits
          chunk_size_ = chunk_size_ * 16 + static_cast<std::uint64_t>(digit);
        } else if (size_digits_ != 0 && c == ';') {
          state_ = state::extension;  // Beast checks the extension's grammar
        } else if (size_digits_ != 0 && c == '\r') {
          state_ = state::size_lf;
        } else {
          return verdict::malformed;
        }
        break;
      case state::extension:
        if (c == '\r') {
          state_ = state::size_lf;
        } else if (c == '\n') {
          return verdict::malformed;
        }
        break;
      case state::size_lf:
        if (c != '\n') return verdict::malformed;
        if (chunk_size_ == 0) {
          state_ = state::trailer;  // the last chunk: the trailer section follows
          break;
        }
        if (chunk_size_ > body_limit_ - body_bytes_) return verdict::too_large;
        body_bytes_ += chunk_size_;
        chunk_left_ = chunk_size_;
        chunk_size_ = 0;
        size_digits_ = 0;
        state_ = state::data;
        break;
      case state::data_cr:
        if (c != '\r') return verdict::malformed;
        state_ = state::data_lf;
        break;
      case state::data_lf:
        if (c != '\n') return verdict::malformed;
        state_ = state::size;
        break;
      case state::trailer:
        if (c == '\r') {
          state_ = state::trailer_lf;
        } else if (c == '\n') {
          return verdict::malformed;
        } else {
          ++trailer_line_;
        }
        break;
      case state::trailer_lf:
        if (c != '\n') return verdict::malformed;
        state_ = trailer_line_ == 0 ? state::done : state::trailer;  // an empty line ends the body
        trailer_line_ = 0;
        break;
      case state::data:
      case state::done:
        break;
    }
  }
  return state_ == state::done ? verdict::complete : verdict::more;
}

problem chunked_body_problem(chunked_body_scan::verdict verdict) {
  if (verdict == chunked_body_scan::verdict::too_large) return problem::payload_too_large("request body is too large");
  return problem::bad_request("malformed chunked request body");
}

std::optional<problem> parse_chunked_body(request_parser& parser, beast::flat_buffer& buffer) {
  parser.eager(true);
  boost::system::error_code ec;
  const std::size_t used = parser.put(buffer.data(), ec);
  buffer.consume(used);
  if (ec) return read_error_problem(ec).value_or(problem::bad_request("malformed chunked request body"));
  // Complete by the scan's framing, so Beast must finish it in this one call: it never gets a second.
  if (!parser.is_done()) return problem::bad_request("malformed chunked request body");
  return std::nullopt;
}

}  // namespace sc::server
