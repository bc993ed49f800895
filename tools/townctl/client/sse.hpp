#pragma once
// An incremental Server-Sent Events parser (WHATWG HTML §9.2.6): bytes in, whole events out.
// Handles "\n", "\r\n" and "\r" line ends split anywhere across reads, comment lines (the server's
// keepalives and `: t=` stamps), multi-line data, and remembers the last event id for a resume
// with Last-Event-ID. No I/O.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sc::client {

struct sse_event {
  std::string id;     // the last event id in force when it was dispatched ("" if none yet)
  std::string event;  // the event type ("" = "message")
  std::string data;   // data lines joined by '\n'
};

class sse_parser {
 public:
  // Feeds the next bytes of the stream; returns the events they completed.
  std::vector<sse_event> feed(std::string_view bytes);
  const std::string& last_event_id() const noexcept { return last_event_id_; }
  // Bound on one line (a hostile or broken server cannot grow the buffer without end).
  static constexpr std::size_t max_line = std::size_t{1} << 20;

 private:
  void line(std::string_view text, std::vector<sse_event>& out);
  std::string partial_;
  bool skip_lf_ = false;  // the last byte was '\r': a '\n' right after it ends nothing
  std::string data_;
  bool has_data_ = false;
  std::string event_;
  std::string last_event_id_;
};

}  // namespace sc::client
