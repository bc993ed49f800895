#include "core/json_writer.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

namespace sc {

namespace {

// needs_escape[c]: the byte must be written as an escape sequence.
constexpr auto needs_escape = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 0x20; ++c) table[static_cast<std::size_t>(c)] = true;
  table['"'] = true;
  table['\\'] = true;
  return table;
}();

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  const char* data = text.data();
  const std::size_t size = text.size();
  std::size_t i = 0;
  while (i < size && !needs_escape[static_cast<unsigned char>(data[i])]) ++i;
  if (i == size) {  // the common case: nothing to escape, one resize and one copy
    std::size_t at = out.size();
    out.resize(at + size + 2);
    char* p = out.data() + at;
    p[0] = '"';
    if (size != 0) std::memcpy(p + 1, data, size);  // a default string_view has a null data()
    p[size + 1] = '"';
    return;
  }
  out.push_back('"');
  std::size_t run = 0;  // start of the pending run of bytes that need no escaping
  for (; i < size; ++i) {
    unsigned char c = static_cast<unsigned char>(data[i]);
    if (!needs_escape[c]) continue;
    out.append(data + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default: {
        char escaped[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
        out.append(escaped, sizeof escaped);
      }
    }
  }
  out.append(data + run, size - run);
  out.push_back('"');
}

void json_writer::separate() {
  if (need_comma_) out_.push_back(',');
}

json_writer& json_writer::open(char bracket) {
  separate();
  out_.push_back(bracket);
  need_comma_ = false;
  return *this;
}

json_writer& json_writer::close(char bracket) {
  out_.push_back(bracket);
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::key(std::string_view name) {
  // Keys are the program's own literals; one that needs escaping takes the general path.
  if (std::none_of(name.begin(), name.end(), [](char c) { return needs_escape[static_cast<unsigned char>(c)]; })) {
    std::size_t at = out_.size();
    std::size_t comma = need_comma_ ? 1 : 0;
    out_.resize(at + comma + name.size() + 3);
    char* p = out_.data() + at;
    if (comma != 0) *p++ = ',';
    *p++ = '"';
    if (!name.empty()) std::memcpy(p, name.data(), name.size());
    p[name.size()] = '"';
    p[name.size() + 1] = ':';
  } else {
    separate();
    append_json_string(out_, name);
    out_.push_back(':');
  }
  need_comma_ = false;
  return *this;
}

json_writer& json_writer::value(std::string_view text) {
  separate();
  append_json_string(out_, text);
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::value(bool flag) {
  separate();
  out_.append(flag ? "true" : "false");
  need_comma_ = true;
  return *this;
}

template <class Integer>
json_writer& json_writer::number(Integer value) {
  separate();
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out_.append(digits, static_cast<std::size_t>(end - digits));
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::value(std::int64_t number_value) {
  return number(number_value);
}
json_writer& json_writer::value(std::uint64_t number_value) {
  return number(number_value);
}

json_writer& json_writer::value(double number_value) {
  if (!std::isfinite(number_value)) return null();
  separate();
  char digits[32];
  // The shortest form spells a large integral double as a run of digits ("33917578575732350976"),
  // which integer-first readers (simdjson) refuse past 64 bits: from 2^53 up it is scientific.
  char* end = std::fabs(number_value) >= 9007199254740992.0
                  ? std::to_chars(digits, digits + sizeof digits, number_value, std::chars_format::scientific).ptr
                  : std::to_chars(digits, digits + sizeof digits, number_value).ptr;
  out_.append(digits, static_cast<std::size_t>(end - digits));
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::raw(std::string_view json) {
  separate();
  out_.append(json);
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::null() {
  separate();
  out_.append("null");
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::value(const std::vector<std::string>& texts) {
  begin_array();
  for (const auto& text : texts) value(std::string_view(text));
  return end_array();
}

void json_members::set(std::string_view key, std::string json) {
  auto it = std::find_if(items_.begin(), items_.end(), [key](const auto& item) { return item.first == key; });
  if (it == items_.end()) {
    items_.emplace_back(std::string(key), std::move(json));
  } else {
    it->second = std::move(json);
  }
}

void json_members::set_string(std::string_view key, std::string_view text) {
  std::string json;
  append_json_string(json, text);
  set(key, std::move(json));
}

void json_members::write(json_writer& writer) const {
  writer.begin_object();
  for (const auto& [key, json] : items_) writer.key(key).raw(json);
  writer.end_object();
}

}  // namespace sc
