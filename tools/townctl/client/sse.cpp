#include "tools/townctl/client/sse.hpp"

namespace sc::client {

std::vector<sse_event> sse_parser::feed(std::string_view bytes) {
  std::vector<sse_event> out;
  for (char c : bytes) {
    if (skip_lf_) {
      skip_lf_ = false;
      if (c == '\n') continue;
    }
    if (c == '\r' || c == '\n') {
      skip_lf_ = c == '\r';
      line(partial_, out);
      partial_.clear();
      continue;
    }
    // An over-long line is cut, not buffered further: the event is malformed either way.
    if (partial_.size() < max_line) partial_.push_back(c);
  }
  return out;
}

void sse_parser::line(std::string_view text, std::vector<sse_event>& out) {
  if (text.empty()) {
    if (has_data_) out.push_back({last_event_id_, event_, data_});
    data_.clear();
    has_data_ = false;
    event_.clear();
    return;
  }
  if (text.front() == ':') return;
  auto colon = text.find(':');
  std::string_view field = text.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = text.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) last_event_id_ = std::string(value);
  } else if (field == "event") {
    event_ = std::string(value);
  }
}

}  // namespace sc::client
