#pragma once
// An incremental multipart/form-data parser (RFC 7578): bytes go in as they arrive, in chunks of
// any size, and come out as part events; nothing is buffered beyond one delimiter's length of
// body data and one part's header block. Pure: no I/O, so it is fuzzed in tests.
//
// Limits (all refused with a 400 problem naming the form): part headers ≤ 8 KiB, ≤ 32 parts, a
// preamble ≤ 16 KiB. A body that ends before the closing delimiter is refused by `finish()`.

#include <cstddef>
#include <string>
#include <string_view>

#include "core/problem.hpp"

namespace sc::multipart {

// The boundary of a `multipart/form-data; boundary=…` Content-Type (quoted or not, 1..70 chars);
// 415 for another media type, 400 for a missing or invalid boundary.
result<std::string> boundary_of(std::string_view content_type);

struct part_info {
  std::string name;      // form field name (Content-Disposition name=)
  std::string filename;  // empty when the part is not a file
  bool has_filename = false;
  std::string content_type;
};

// Receives the events of one body, in order: begin, data*, end, per part. A non-empty problem
// returned from a callback stops parsing and is returned by `feed`.
class part_handler {
 public:
  virtual ~part_handler() = default;
  virtual result<void> on_part_begin(const part_info& part) = 0;
  virtual result<void> on_part_data(std::string_view data) = 0;
  virtual result<void> on_part_end() = 0;
};

class parser {
 public:
  explicit parser(const std::string& boundary);

  // Feeds the next bytes; events are delivered to `handler` before it returns.
  result<void> feed(std::string_view bytes, part_handler& handler);
  // The body is complete: 400 unless the closing delimiter was seen.
  result<void> finish() const;
  bool done() const noexcept { return state_ == state::epilogue; }

  static constexpr std::size_t max_header_bytes = std::size_t{8} * 1024;
  static constexpr std::size_t max_parts = 32;
  static constexpr std::size_t max_preamble = std::size_t{16} * 1024;

 private:
  enum class state { preamble, after_delimiter, headers, body, epilogue };
  result<void> parse_headers(std::string_view block, part_info& out) const;

  std::string delimiter_;  // "\r\n--" + boundary
  std::string pending_;    // bytes not yet consumed
  state state_ = state::preamble;
  std::size_t parts_ = 0;
  std::size_t preamble_seen_ = 0;
};

}  // namespace sc::multipart
