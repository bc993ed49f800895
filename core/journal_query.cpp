#include "core/journal_query.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <ctime>

#include "core/names.hpp"

namespace sc::journal_query {

namespace {

char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool is_hex(std::string_view text) noexcept {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// A field's problem keeps the field name as the client sent it, so it can tell which one was bad.
problem field_problem(std::string_view field, std::string message) {
  return problem::unprocessable(std::string(field), std::move(message));
}

// A whole decimal integer within [low, high]; nullopt for anything else (signs other than a
// leading '-', spaces, fractions, overflow).
std::optional<std::int64_t> parse_integer(std::string_view text, std::int64_t low, std::int64_t high) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value < low || value > high) {
    return std::nullopt;
  }
  return value;
}

// Seconds up to 2^40 (year ~36,800): far beyond any journal, small enough that ×1e6 never overflows.
constexpr std::int64_t latest_seconds = std::int64_t{1} << 40;

}  // namespace

result<cursor_position> parse_cursor(std::string_view text, std::string_view field) {
  if (text.empty()) return field_problem(field, "cursor is empty");
  if (text.size() > max_cursor_length) return field_problem(field, "cursor is too long");
  static constexpr std::array<char, 6> keys = {'s', 'i', 'b', 'm', 't', 'x'};
  cursor_position position;
  std::size_t start = 0;
  for (std::size_t index = 0; index < keys.size(); ++index) {
    std::size_t end = text.find(';', start);
    bool last = index + 1 == keys.size();
    // Exactly six fields in sd-journal's order: anything else was not written by
    // sd_journal_get_cursor().
    if (last != (end == std::string_view::npos)) return field_problem(field, "not a journal cursor");
    std::string_view part = text.substr(start, last ? std::string_view::npos : end - start);
    if (part.size() < 3 || part[0] != keys[index] || part[1] != '=')
      return field_problem(field, "not a journal cursor");
    std::string_view value = part.substr(2);
    bool long_id = keys[index] == 's' || keys[index] == 'b';
    if (!is_hex(value) || (long_id ? value.size() != 32 : value.size() > 16)) {
      return field_problem(field, "not a journal cursor");
    }
    if (keys[index] == 's') position.seqnum_id = std::string(value);
    if (keys[index] == 'i') {
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), position.seqnum, 16);
      if (ec != std::errc{} || ptr != value.data() + value.size()) return field_problem(field, "not a journal cursor");
    }
    if (!last) start = end + 1;
  }
  return position;
}

bool comes_after(const cursor_position& position, const cursor_position& last) noexcept {
  return position.seqnum_id != last.seqnum_id || position.seqnum > last.seqnum;
}

result<std::string> parse_unit_filter(const query_params& query) {
  std::string_view unit = query.find("unit").value_or("");
  if (unit.empty() || unit == "__system__") return std::string();
  if (auto valid = validate_unit_name(unit); !valid) {
    return problem::unprocessable(
        "unit", valid.error().errors.empty() ? "invalid unit name" : valid.error().errors.front().message);
  }
  return std::string(unit);
}

namespace {

// `lines`, shared by the tail and the stream: absent or empty is nullopt; otherwise a non-negative
// integer (422 naming the parameter).
result<std::optional<std::int64_t>> parse_lines(const query_params& query) {
  auto lines = query.find("lines");
  if (!lines || lines->empty()) return std::optional<std::int64_t>{};
  auto n = parse_integer(*lines, 0, INT64_MAX);
  if (!n) return problem::unprocessable("lines", "must be a non-negative integer");
  return std::optional<std::int64_t>(*n);
}

}  // namespace

result<tail_query> parse_tail_query(const query_params& query) {
  tail_query q;
  auto unit = parse_unit_filter(query);
  if (!unit) return unit.error();
  q.unit = std::move(*unit);

  auto lines = parse_lines(query);
  if (!lines) return lines.error();
  if (auto n = *lines) {
    q.lines = *n == 0 ? default_tail_lines : static_cast<std::size_t>(std::min<std::int64_t>(*n, max_tail_lines));
  }
  for (auto [name, slot] : {std::pair{"since", &q.since}, std::pair{"until", &q.until}}) {
    if (auto text = query.find(name); text && !text->empty()) {
      auto n = parse_integer(*text, 0, latest_seconds);
      if (!n) return problem::unprocessable(name, "must be unix seconds (a non-negative integer)");
      *slot = *n;
    }
  }
  if (auto text = query.find("priority"); text && !text->empty()) {
    auto n = parse_integer(*text, 0, 7);
    if (!n) return problem::unprocessable("priority", "must be an integer from 0 to 7");
    q.priority = static_cast<int>(*n);
  }
  if (auto text = query.find("grep"); text && !text->empty()) {
    if (text->size() > 1024) return problem::unprocessable("grep", "is longer than 1024 bytes");
    q.grep.reserve(text->size());
    for (char c : *text) q.grep.push_back(lower(c));
  }
  auto before = query.find("before").value_or("");
  auto after = query.find("after").value_or("");
  if (!before.empty() && !after.empty())
    return problem::unprocessable("before", "give either before or after, not both");
  if (!after.empty()) {
    if (auto ok = parse_cursor(after, "after"); !ok) return ok.error();
    q.after = std::string(after);
    q.how = tail_query::mode::after;
  } else if (!before.empty()) {
    if (auto ok = parse_cursor(before, "before"); !ok) return ok.error();
    q.before = std::string(before);
    q.how = tail_query::mode::before;
  } else if (q.since) {
    q.how = tail_query::mode::since;
  }
  return q;
}

result<stream_query> parse_stream_query(const query_params& query, std::string_view last_event_id_header) {
  stream_query q;
  auto unit = parse_unit_filter(query);
  if (!unit) return unit.error();
  q.unit = std::move(*unit);
  auto lines = parse_lines(query);
  if (!lines) return lines.error();
  if (auto n = *lines) q.lines = static_cast<std::size_t>(std::min<std::int64_t>(*n, max_stream_replay_lines));
  std::string_view id = last_event_id_header;
  std::string_view field = "Last-Event-ID";
  if (id.empty()) {
    id = query.find("last_event_id").value_or("");
    field = "last_event_id";
  }
  if (!id.empty()) {
    if (auto ok = parse_cursor(id, field); !ok) return ok.error();
    q.last_event_id = std::string(id);
  }
  return q;
}

bool entry_matches(std::string_view message, std::string_view priority_text, std::string_view grep_lowered,
                   int priority) noexcept {
  if (priority > 0) {
    auto level = parse_integer(priority_text, 0, 7);
    if (!level || *level > priority) return false;
  }
  if (grep_lowered.empty()) return true;
  if (grep_lowered.size() > message.size()) return false;
  for (std::size_t i = 0; i + grep_lowered.size() <= message.size(); ++i) {
    std::size_t k = 0;
    while (k < grep_lowered.size() && lower(message[i + k]) == grep_lowered[k]) ++k;
    if (k == grep_lowered.size()) return true;
  }
  return false;
}

std::string format_rfc3339_nano(std::uint64_t realtime_usec, long utc_offset_seconds) {
  std::int64_t seconds = static_cast<std::int64_t>(realtime_usec / 1'000'000) + utc_offset_seconds;
  auto micros = static_cast<unsigned>(realtime_usec % 1'000'000);
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm parts{};
  gmtime_r(&t, &parts);
  char text[64];
  std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &parts);
  std::string out(text, n);
  if (micros != 0) {
    char fraction[16];
    std::snprintf(fraction, sizeof fraction, ".%06u", micros);
    std::string_view f(fraction);
    while (f.back() == '0') f.remove_suffix(1);
    out += f;
  }
  if (utc_offset_seconds == 0) {
    out += 'Z';
  } else {
    long minutes = (utc_offset_seconds < 0 ? -utc_offset_seconds : utc_offset_seconds) / 60;
    char zone[48];
    std::snprintf(zone, sizeof zone, "%c%02ld:%02ld", utc_offset_seconds < 0 ? '-' : '+', minutes / 60, minutes % 60);
    out += zone;
  }
  return out;
}

namespace {

// Length of the valid UTF-8 sequence at `i`, or 0 when it is invalid (overlong forms, surrogates
// and code points beyond U+10FFFF included).
std::size_t utf8_sequence(std::string_view text, std::size_t i) noexcept {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    length = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    length = 3;
    if (c == 0xE0) low = 0xA0;
    if (c == 0xED) high = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    length = 4;
    if (c == 0xF0) low = 0x90;
    if (c == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return length;
}

}  // namespace

bool is_valid_utf8(std::string_view text) noexcept {
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = utf8_sequence(text, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string to_valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = utf8_sequence(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

}  // namespace sc::journal_query
