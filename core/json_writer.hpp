#pragma once
// The one JSON writer: appends compact JSON straight into a string, with the bytes
// boost::json::serialize produced (same escaping, no spaces) except doubles, which are the shortest
// text that reads back as the same double ("1.5", not "1.5E0"). Building a boost::json
// DOM and serialising it cost ~8k instructions per account in GET /account (callgrind); writing
// directly is a fraction of that. The caller is responsible for well-formedness (keys inside
// objects, values inside arrays); the writer only places the commas.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/list.hpp"

namespace sc {

class json_writer {
 public:
  explicit json_writer(std::string& out) : out_(out) {}

  json_writer& begin_object() { return open('{'); }
  json_writer& end_object() { return close('}'); }
  json_writer& begin_array() { return open('['); }
  json_writer& end_array() { return close(']'); }
  json_writer& key(std::string_view name);  // then exactly one value
  json_writer& value(std::string_view text);
  json_writer& value(const char* text) { return value(std::string_view(text)); }
  json_writer& value(bool flag);
  json_writer& value(std::int64_t number);
  json_writer& value(std::uint64_t number);
  json_writer& value(int number) { return value(static_cast<std::int64_t>(number)); }
  // The shortest text that reads back as the same double; NaN and infinities (not JSON) as null.
  json_writer& value(double number);
  json_writer& null();
  // A list of strings as a JSON array.
  json_writer& value(const std::vector<std::string>& texts);
  // A value already written as JSON (e.g. a cached serialisation), placed as is.
  json_writer& raw(std::string_view json);

 private:
  void separate();
  json_writer& open(char bracket);
  json_writer& close(char bracket);
  template <class Integer>
  json_writer& number(Integer value);
  std::string& out_;
  bool need_comma_ = false;
};

// An object's members gathered before it is written, for keys that may be set more than once: a
// key keeps the place of its first setting and the value of its last. Linear: for small objects.
class json_members {
 public:
  void set(std::string_view key, std::string json);  // a value already written as JSON
  void set_string(std::string_view key, std::string_view text);
  bool empty() const noexcept { return items_.empty(); }
  void write(json_writer& writer) const;  // as one object

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

// The JSON `write(writer)` produces, as a string: std::string body = json_string([&](json_writer& w) {…});
template <class Write>
std::string json_string(Write&& write) {
  std::string out;
  json_writer writer(out);
  write(writer);
  return out;
}

// Appends `text` as a JSON string literal (quotes included), escaped as boost::json does.
void append_json_string(std::string& out, std::string_view text);

// {"entries":[…],"has_more":…,"total_pages":…,"total_count":…} with `write_entry(writer, item)`
// writing each entry; the same bytes as list_envelope(...) serialised.
template <class T, class WriteEntry>
void write_list_envelope(json_writer& writer, const list_page<T>& page, WriteEntry&& write_entry) {
  writer.begin_object().key("entries").begin_array();
  for (const T* item : page.entries) write_entry(writer, *item);
  writer.end_array();
  writer.key("has_more").value(page.counts.has_more);
  writer.key("total_pages").value(static_cast<std::uint64_t>(page.counts.total_pages));
  writer.key("total_count").value(static_cast<std::uint64_t>(page.counts.total_count));
  writer.end_object();
}

}  // namespace sc
