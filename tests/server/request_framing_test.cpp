// server/request_framing: the chunked body scan, and a chunked request read the way the connection
// reads it over a stream that delivers a few bytes per read. Beast 1.81 aborted (assert `n >= 5`
// in parse_chunk_header) when a body's last chunk reached its parser in pieces; the scan frames
// the whole body first, so the parser gets it in one call.
#include "server/request_framing.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace sc::server {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using verdict = chunked_body_scan::verdict;

verdict scan_whole(std::string_view body, std::uint64_t body_limit = 1024, std::uint64_t framing_limit = 1024) {
  chunked_body_scan scan(body_limit, framing_limit);
  return scan.scan(body);
}

TEST(chunked_body_scan, a_body_is_complete_only_with_its_last_chunk_and_the_empty_line) {
  const std::string body = "5\r\nhello\r\n3;name=value\r\n, w\r\nA\r\n0123456789\r\n0\r\nTrailer: t\r\n\r\n";
  chunked_body_scan scan(1024, 1024);
  for (std::size_t n = 0; n < body.size(); ++n) {
    EXPECT_EQ(scan.scan(std::string_view(body).substr(0, n)), verdict::more) << n;
  }
  EXPECT_EQ(scan.scan(body), verdict::complete);
  EXPECT_EQ(scan.length(), body.size());
}

TEST(chunked_body_scan, what_follows_the_body_is_the_next_request) {
  chunked_body_scan scan(1024, 1024);
  EXPECT_EQ(scan.scan("0\r\n\r\nGET /health HTTP/1.1\r\n\r\n"), verdict::complete);
  EXPECT_EQ(scan.length(), 5u);
}

TEST(chunked_body_scan, framing_that_is_not_chunked_is_malformed) {
  for (std::string_view bad :
       {"\r\n", "zz\r\n", "-1\r\n", "5 \r\nhello\r\n", "5\nhello\r\n", "5;a\nb\r\n", "5\r\nhelloX\r\n", "5\r\nhello\rX",
        "0\r\nX: y\nZ", "0\r\n\rX", "11111111111111111\r\n"}) {
    EXPECT_EQ(scan_whole(bad), verdict::malformed) << bad;
  }
}

TEST(chunked_body_scan, data_past_the_body_limit_and_framing_past_its_own_are_too_large) {
  EXPECT_EQ(scan_whole("400\r\n", 1023), verdict::too_large);  // announced, not yet sent
  EXPECT_EQ(scan_whole("400\r\n", 1024), verdict::more);
  EXPECT_EQ(scan_whole("200\r\n" + std::string(0x200, 'x') + "\r\n201\r\n", 1024), verdict::too_large);
  std::string tiny_chunks;
  for (int i = 0; i < 100; ++i) tiny_chunks += "1\r\nx\r\n";
  EXPECT_EQ(scan_whole(tiny_chunks, 1024, 64), verdict::too_large);
  EXPECT_EQ(scan_whole("0;" + std::string(2000, 'a'), 1024, 1024), verdict::too_large);
  EXPECT_EQ(scan_whole("0\r\n" + std::string(2000, 'a'), 1024, 1024), verdict::too_large);
}

// A request read as server/connection.cpp reads it, `read_size` bytes per read.
struct read_outcome {
  std::optional<problem> refused;
  bool peer_gone = false;
  std::string body;
  std::string rest;  // what is left in the buffer: the next request
};

read_outcome read_request(const std::string& wire, std::size_t read_size) {
  boost::asio::io_context io;
  beast::test::stream stream(io);
  stream.read_size(read_size);
  stream.append(wire);
  stream.close_remote();
  const config limits;
  beast::flat_buffer buffer;
  request_parser parser;
  parser.body_limit(boost::none);
  boost::system::error_code ec;
  bhttp::read_header(stream, buffer, parser, ec);
  EXPECT_FALSE(ec) << ec.message();
  body_framing framing = frame_body(parser, false, limits);
  EXPECT_TRUE(framing.read_whole && framing.chunked);
  read_outcome out;
  chunked_body_scan scan(limits.body_limit, limits.body_limit + limits.header_limit);
  const auto buffered = [&buffer] {
    return std::string_view(static_cast<const char*>(buffer.data().data()), buffer.size());
  };
  verdict seen = scan.scan(buffered());
  while (seen == verdict::more) {
    std::size_t n = stream.read_some(buffer.prepare(4096), ec);
    if (ec) {
      out.peer_gone = !read_error_problem(ec);
      return out;
    }
    buffer.commit(n);
    seen = scan.scan(buffered());
  }
  if (seen != verdict::complete) {
    out.refused = chunked_body_problem(seen);
    return out;
  }
  out.refused = parse_chunked_body(parser, buffer);
  if (!out.refused) out.body = parser.get().body();
  out.rest = std::string(buffered());
  return out;
}

TEST(request_framing, a_last_chunk_arriving_a_byte_at_a_time_is_parsed_whole) {
  const std::string head = "POST /account/authenticate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string next = "GET /health HTTP/1.1\r\n\r\n";
  for (std::size_t read_size : {1u, 2u, 3u, 4u, 5u, 7u, 4096u}) {
    auto empty = read_request(head + "0\r\n\r\n" + next, read_size);
    EXPECT_FALSE(empty.refused) << read_size;
    EXPECT_EQ(empty.body, "") << read_size;
    auto two = read_request(head + "3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: v\r\n\r\n" + next, read_size);
    EXPECT_FALSE(two.refused) << read_size;
    EXPECT_EQ(two.body, "abcde") << read_size;
    // Pipelined bytes stay for the next request (some may still be on the stream).
    EXPECT_TRUE(next.starts_with(two.rest)) << read_size;
  }
}

TEST(request_framing, a_chunked_body_cut_short_never_reaches_the_parser) {
  const std::string head = "POST /account/authenticate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::size_t read_size : {1u, 4u, 4096u}) {
    auto cut = read_request(head + "0\r\n\r", read_size);
    EXPECT_TRUE(cut.peer_gone) << read_size;
    EXPECT_FALSE(cut.refused) << read_size;
    auto malformed = read_request(head + "0\r\nX", read_size);
    EXPECT_TRUE(malformed.peer_gone) << read_size;  // a trailer line that never ends
    auto bad = read_request(head + "0\r\n\rX", read_size);
    ASSERT_TRUE(bad.refused) << read_size;
    EXPECT_EQ(bad.refused->status, 400);
  }
}

TEST(request_framing, a_chunked_body_past_the_body_limit_is_413) {
  const std::string head = "POST /account/authenticate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  auto large = read_request(head + "100001\r\n", 4096);  // one byte more than the default 1 MiB
  ASSERT_TRUE(large.refused);
  EXPECT_EQ(large.refused->status, 413);
}

}  // namespace
}  // namespace sc::server
