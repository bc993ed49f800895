#pragma once
// How a connection frames one request (server/connection.cpp), as plain functions over Beast's
// parser: what the request target means, how the body is read once the header is in, and what a
// failed read is answered with. The connection awaits the reads; these decide. The HTTP fuzz
// target (tests/fuzz/http_request.cpp) drives the same functions over arbitrary bytes.

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <cstdint>
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
  bool chunked = false;           // ... and it is chunked: chunked_body_scan first, then parse_chunked_body
  bool send_continue = false;     // answer "100 Continue" before reading it
};
// Decides how the body of the header `parser` holds is read, and sets the parser's body limit:
// streaming routes need a Content-Length (411) and enforce their own limit; other bodies are read
// whole and may not exceed `limits.body_limit` (413, before any of it is read when declared).
body_framing frame_body(request_parser& parser, bool streams_body, const config& limits);

// A chunked request body (RFC 9112 §7.1), framed here before Beast's parser sees any of it. Beast
// 1.81 asserts in parse_chunk_header (`n >= 5`, an abort in a debug or sanitizer build) when the
// last chunk of a body reaches its parser in two pieces ("0\r\n", then one more byte): fixed
// upstream in Boost 1.86 (boostorg/beast#2861), not in Debian 12's. So the connection reads the
// whole chunked body into its buffer first, checking the framing strictly as it arrives (every
// line ends in CRLF, sizes are hex, each chunk's data is followed by CRLF, the trailer section ends
// with an empty line), and then hands the complete body to the parser in one call
// (parse_chunked_body), which never reaches that assertion.
class chunked_body_scan {
 public:
  enum class verdict { more, complete, malformed, too_large };

  // `body_limit` bounds the sum of the chunk sizes (Beast's body limit, checked early);
  // `framing_limit` bounds everything else (size lines, extensions, CRLFs, trailers).
  chunked_body_scan(std::uint64_t body_limit, std::uint64_t framing_limit) noexcept
      : body_limit_(body_limit), framing_limit_(framing_limit) {}

  // `bytes` is the body from its first byte, as much as has been read: each call sees what the
  // previous one saw and maybe more. Scans on from where the last call stopped.
  verdict scan(std::string_view bytes) noexcept;
  // Once complete: how many bytes of `bytes` the chunked body takes (what follows is the next request).
  std::size_t length() const noexcept { return position_; }

 private:
  enum class state { size, extension, size_lf, data, data_cr, data_lf, trailer, trailer_lf, done };
  verdict framing_byte() noexcept;

  std::uint64_t body_limit_;
  std::uint64_t framing_limit_;
  std::uint64_t body_bytes_ = 0;     // chunk data so far
  std::uint64_t framing_bytes_ = 0;  // everything else so far
  std::uint64_t chunk_left_ = 0;     // data bytes of the current chunk still to come
  std::uint64_t chunk_size_ = 0;     // the size line being read
  std::size_t size_digits_ = 0;
  std::size_t trailer_line_ = 0;  // bytes of the current trailer line
  std::size_t position_ = 0;
  state state_ = state::size;
};

// The problem a malformed or too large chunked body is answered with (400 or 413).
problem chunked_body_problem(chunked_body_scan::verdict verdict);

// Parses a chunked body that `scan` found complete from the start of `buffer` into `parser` (its
// header done, its body limit set), in one call, and consumes it from `buffer`. A problem (400,
// 413) when Beast refuses it.
std::optional<problem> parse_chunked_body(request_parser& parser, boost::beast::flat_buffer& buffer);

}  // namespace sc::server
