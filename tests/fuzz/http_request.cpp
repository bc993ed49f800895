// The HTTP/1.1 request framing as the connection reads it (server/connection.cpp with
// server/request_framing.hpp): pipelined requests arrive in reads whose size the input's first
// byte chooses; each header is read within the header limit, the route decides how the body is
// framed (whole within the body limit, chunked bodies framed by chunked_body_scan before Beast
// parses them in one call, streamed with a Content-Length, refused), the target is split into path
// and query. Every refusal is a 4xx; what is accepted has an origin-form path and
// a body within the limit.
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/http.hpp"
#include "server/request_framing.hpp"
#include "server/router.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using sc::fuzz::check;

void check_refusal(const sc::problem& p, const char* what) {
  sc::fuzz::check_client_problem(p, what);
  check(!sc::http::problem_response(p).body().empty(), "a refusal has a problem body");
}

// The bytes of a streamed body that the handler would pull: the buffered rest first, then reads.
bool drain_streamed_body(beast::test::stream& stream, beast::flat_buffer& buffer, std::uint64_t length) {
  std::uint64_t from_buffer = std::min<std::uint64_t>(length, buffer.size());
  buffer.consume(from_buffer);
  length -= from_buffer;
  char chunk[4096];
  while (length > 0) {
    boost::system::error_code ec;
    std::size_t n = stream.read_some(boost::asio::buffer(chunk, std::min<std::uint64_t>(length, sizeof chunk)), ec);
    if (ec) return false;  // 400 "ended early" in body_stream; the connection closes
    length -= n;
  }
  return true;
}

// server/connection.cpp's read_chunked_body over the test stream: true when the request is ready.
bool read_chunked_body(beast::test::stream& stream, beast::flat_buffer& buffer, sc::server::request_parser& parser,
                       const sc::server::config& limits) {
  using verdict = sc::server::chunked_body_scan::verdict;
  sc::server::chunked_body_scan scan(limits.body_limit, limits.body_limit + limits.header_limit);
  const auto buffered = [&buffer] {
    return std::string_view(static_cast<const char*>(buffer.data().data()), buffer.size());
  };
  verdict seen = scan.scan(buffered());
  while (seen == verdict::more) {
    boost::system::error_code ec;
    std::size_t n = stream.read_some(buffer.prepare(4096), ec);
    if (ec) {
      if (auto p = sc::server::read_error_problem(ec)) check_refusal(*p, "chunked body read");
      return false;
    }
    buffer.commit(n);
    seen = scan.scan(buffered());
  }
  if (seen != verdict::complete) {
    check_refusal(sc::server::chunked_body_problem(seen), "chunked framing");
    return false;
  }
  check(scan.length() <= buffer.size(), "a complete chunked body lies within the buffer");
  if (auto p = sc::server::parse_chunked_body(parser, buffer)) {
    check_refusal(*p, "chunked body parse");
    return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const sc::server::router routes(sc::server::build_routes());
  static const sc::server::config limits = [] {
    sc::server::config c;
    c.header_limit = 4 * 1024;  // smaller than production so the fuzzer reaches the limits
    c.body_limit = 16 * 1024;
    return c;
  }();
  static boost::asio::io_context io;
  sc::fuzz::input in(data, size);
  const std::size_t read_size = 1 + in.byte();

  beast::test::stream stream(io);
  stream.read_size(read_size);
  stream.append(in.rest());
  stream.close_remote();  // the peer's FIN after its last byte

  beast::flat_buffer buffer;
  for (int served = 0; served < 100; ++served) {
    boost::system::error_code ec;
    if (buffer.size() == 0) {
      std::size_t n = stream.read_some(buffer.prepare(4096), ec);
      if (ec) break;
      buffer.commit(n);
    }
    sc::server::request_parser parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.header_limit));
    parser.body_limit(boost::none);
    bhttp::read_header(stream, buffer, parser, ec);
    if (ec) {
      if (auto p = sc::server::read_error_problem(ec)) check_refusal(*p, "header read");
      break;
    }
    const bool streams_body = sc::server::route_streams_body(routes, parser.get());
    auto framing = sc::server::frame_body(parser, streams_body, limits);
    if (framing.refuse) {
      check_refusal(*framing.refuse, "frame_body");
      break;
    }
    if (framing.read_whole && framing.chunked) {
      // As the connection does: the whole chunked body is framed first, then parsed in one call.
      if (!read_chunked_body(stream, buffer, parser, limits)) break;
    } else if (framing.read_whole) {
      bhttp::read(stream, buffer, parser, ec);
      if (ec) {
        if (auto p = sc::server::read_error_problem(ec)) check_refusal(*p, "body read");
        break;
      }
    }
    check(parser.is_header_done(), "a framed request has its header");
    const std::uint64_t streamed_length = parser.content_length().value_or(0);
    sc::http::request request = parser.release();
    check(streams_body || request.body().size() <= limits.body_limit, "a whole body is within the body limit");

    std::string_view path;
    sc::query_params query;
    if (!sc::server::split_target(request.target(), path, query)) break;  // 400 "malformed request target"
    check(!path.empty() && path.front() == '/', "an accepted target has an origin-form path");
    (void)routes.find(request.method(), path);
    for (const auto& [key, value] : query.items) (void)query.find(key);

    if (streams_body) {
      check(request.body().empty(), "a streamed body is left on the socket");
      if (!drain_streamed_body(stream, buffer, streamed_length)) break;
    }
    if (!request.keep_alive()) break;
  }
  return 0;
}
