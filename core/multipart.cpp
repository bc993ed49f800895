#include "core/multipart.hpp"

#include <algorithm>
#include <cctype>

namespace sc::multipart {

namespace {

std::string lowered(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Reads `; key=value` parameters (value a token or a quoted string with \-escapes) after the
// first ';' of a header value. Calls `on(key_lowered, value)` for each; false on a syntax error.
template <class Fn>
bool for_each_parameter(std::string_view text, Fn on) {
  std::size_t i = text.find(';');
  while (i != std::string_view::npos && i < text.size()) {
    ++i;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    if (i >= text.size()) return true;
    std::size_t eq = text.find('=', i);
    if (eq == std::string_view::npos) return false;
    std::string key = lowered(trim(text.substr(i, eq - i)));
    i = eq + 1;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    std::string value;
    if (i < text.size() && text[i] == '"') {
      ++i;
      bool closed = false;
      while (i < text.size()) {
        char c = text[i++];
        if (c == '\\' && i < text.size()) {
          value += text[i++];
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          value += c;
        }
      }
      if (!closed) return false;
      while (i < text.size() && text[i] != ';') {
        if (text[i] != ' ' && text[i] != '\t') return false;
        ++i;
      }
    } else {
      std::size_t end = text.find(';', i);
      if (end == std::string_view::npos) end = text.size();
      value = std::string(trim(text.substr(i, end - i)));
      i = end;
    }
    on(key, std::move(value));
    if (i >= text.size()) return true;
  }
  return true;
}

problem malformed(const std::string& why) {
  return problem::bad_request("malformed multipart/form-data body: " + why);
}

}  // namespace

result<std::string> boundary_of(std::string_view content_type) {
  std::string_view media = trim(content_type.substr(0, content_type.find(';')));
  if (lowered(media) != "multipart/form-data") {
    return problem::unsupported_media_type("expected Content-Type multipart/form-data");
  }
  std::string boundary;
  bool ok = for_each_parameter(content_type, [&](const std::string& key, std::string value) {
    if (key == "boundary") boundary = std::move(value);
  });
  if (!ok || boundary.empty() || boundary.size() > 70) {
    return problem::bad_request("multipart/form-data needs a boundary of 1 to 70 characters");
  }
  for (unsigned char c : boundary) {
    if (c < 0x20 || c >= 0x7f) return problem::bad_request("the multipart boundary has invalid characters");
  }
  return boundary;
}

parser::parser(const std::string& boundary) : delimiter_("\r\n--" + boundary) {
  // The first delimiter may start the body without a preceding CRLF: pretend there was one.
  pending_ = "\r\n";
}

result<void> parser::parse_headers(std::string_view block, part_info& out) const {
  bool disposition = false;
  std::size_t start = 0;
  while (start < block.size()) {
    std::size_t end = block.find("\r\n", start);
    if (end == std::string_view::npos) end = block.size();
    std::string_view line = block.substr(start, end - start);
    start = end + 2;
    if (line.empty()) continue;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return malformed("a part header line has no name");
    std::string name = lowered(trim(line.substr(0, colon)));
    std::string_view value = trim(line.substr(colon + 1));
    if (name == "content-disposition") {
      if (lowered(trim(value.substr(0, value.find(';')))) != "form-data") {
        return malformed("part Content-Disposition is not form-data");
      }
      disposition = true;
      bool ok = for_each_parameter(value, [&](const std::string& key, std::string v) {
        if (key == "name") {
          out.name = std::move(v);
        } else if (key == "filename") {
          out.filename = std::move(v);
          out.has_filename = true;
        }
      });
      if (!ok) return malformed("bad Content-Disposition parameters");
    } else if (name == "content-type") {
      out.content_type = std::string(value);
    }
  }
  if (!disposition) return malformed("a part has no Content-Disposition");
  if (out.name.empty()) return malformed("a part has no field name");
  return {};
}

result<void> parser::feed(std::string_view bytes, part_handler& handler) {
  pending_.append(bytes.data(), bytes.size());
  std::size_t at = 0;  // consumed prefix of pending_
  for (;;) {
    std::string_view rest = std::string_view(pending_).substr(at);
    if (state_ == state::epilogue) {
      at = pending_.size();  // anything after the closing delimiter is ignored
      break;
    }
    if (state_ == state::preamble) {
      std::size_t found = rest.find(delimiter_);
      if (found == std::string_view::npos) {
        std::size_t keep = std::min(rest.size(), delimiter_.size() - 1);
        preamble_seen_ += rest.size() - keep;
        at += rest.size() - keep;
        if (preamble_seen_ > max_preamble) return malformed("no boundary found");
        break;
      }
      preamble_seen_ += found;
      if (preamble_seen_ > max_preamble) return malformed("no boundary found");
      at += found + delimiter_.size();
      state_ = state::after_delimiter;
      continue;
    }
    if (state_ == state::after_delimiter) {
      // "--" closes the body; otherwise optional whitespace then CRLF starts a part.
      if (rest.size() < 2) break;
      if (rest.starts_with("--")) {
        state_ = state::epilogue;
        at += 2;
        continue;
      }
      std::size_t i = 0;
      while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\t') && i < 64) ++i;
      if (rest.size() - i < 2) {
        if (i >= 64) return malformed("junk after a boundary");
        break;
      }
      if (rest.substr(i, 2) != "\r\n") return malformed("junk after a boundary");
      at += i + 2;
      state_ = state::headers;
      continue;
    }
    if (state_ == state::headers) {
      std::size_t end = rest.find("\r\n\r\n");
      // A part with no headers at all starts with the blank line directly.
      if (rest.starts_with("\r\n")) end = 0;
      if (end == std::string_view::npos) {
        if (rest.size() > max_header_bytes) return malformed("part headers are too large");
        break;
      }
      if (end > max_header_bytes) return malformed("part headers are too large");
      if (++parts_ > max_parts) return malformed("too many parts");
      part_info info;
      if (auto ok = parse_headers(rest.substr(0, end), info); !ok) return ok.error();
      at += end == 0 ? 2 : end + 4;
      state_ = state::body;
      if (auto ok = handler.on_part_begin(info); !ok) return ok.error();
      continue;
    }
    // state::body: everything up to the next delimiter is data. Without one, all but the last
    // delimiter-length bytes are safe to hand out (the delimiter may straddle chunks).
    std::size_t found = rest.find(delimiter_);
    if (found == std::string_view::npos) {
      std::size_t keep = std::min(rest.size(), delimiter_.size() - 1);
      std::size_t give = rest.size() - keep;
      if (give > 0) {
        if (auto ok = handler.on_part_data(rest.substr(0, give)); !ok) return ok.error();
      }
      at += give;
      break;
    }
    if (found > 0) {
      if (auto ok = handler.on_part_data(rest.substr(0, found)); !ok) return ok.error();
    }
    at += found + delimiter_.size();
    state_ = state::after_delimiter;
    if (auto ok = handler.on_part_end(); !ok) return ok.error();
  }
  pending_.erase(0, at);
  return {};
}

result<void> parser::finish() const {
  if (state_ != state::epilogue) return malformed("the body ended before the closing boundary");
  return {};
}

}  // namespace sc::multipart
