#include "tools/townctl/client/json.hpp"

#include <algorithm>
#include <charconv>

namespace sc::client {

namespace {

// Boost.JSON's default limit: 32 nested arrays or objects parse, 33 do not. simdjson counts the
// document itself as one level more.
constexpr std::size_t max_depth = 33;

// Boost.JSON's words for the failures (what townctl printed after "the answer is not valid
// JSON: "). simdjson does not tell a truncated document from a malformed one but for an empty
// text or an unclosed string; the rest read as a syntax error, as a stray character did before.
std::string failure_text(simdjson::error_code error) {
  switch (error) {
    case simdjson::EMPTY:
    case simdjson::UNCLOSED_STRING:
      return "incomplete JSON";
    case simdjson::DEPTH_ERROR:
      return "too deep";
    default:
      return "syntax error";
  }
}

// `text` with each byte that does not start a valid UTF-8 sequence replaced by U+FFFD.
std::string with_replacement_characters(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t at = 0;
  while (at < text.size()) {
    auto lead = static_cast<unsigned char>(text[at]);
    std::size_t length = lead < 0x80           ? 1
                         : (lead >> 5) == 0x6  ? 2
                         : (lead >> 4) == 0xE  ? 3
                         : (lead >> 3) == 0x1E ? 4
                                               : 0;
    if (length != 0 && at + length <= text.size() && simdjson::validate_utf8(text.data() + at, length)) {
      out.append(text.substr(at, length));
      at += length;
    } else {
      out.append("\xEF\xBF\xBD");
      ++at;
    }
  }
  return out;
}

}  // namespace

json_document::json_document() {
  simdjson::dom::parser parser;
  (void)parser.parse_into_document(document_, "null", 4);  // cannot fail
}

std::optional<json_document> json_document::parse(std::string_view text, std::string* failure) {
  // A parser per document: its buffers go with it, and the document keeps its tape and strings.
  simdjson::dom::parser parser;
  simdjson::dom::document document;
  auto error = parser.allocate(std::max<std::size_t>(text.size(), 1), max_depth);
  if (error == simdjson::SUCCESS) error = parser.parse_into_document(document, text.data(), text.size()).error();
  if (error != simdjson::SUCCESS) {
    if (failure != nullptr) *failure = failure_text(error);
    return std::nullopt;
  }
  return json_document(std::move(document));
}

json_document json_document::string(std::string_view text) {
  std::string literal;
  if (simdjson::validate_utf8(text.data(), text.size())) {
    append_json_string(literal, text);
  } else {
    append_json_string(literal, with_replacement_characters(text));
  }
  auto parsed = parse(literal);
  return parsed ? std::move(*parsed) : json_document();
}

std::vector<std::pair<std::string_view, simdjson::dom::element>> members(simdjson::dom::object object) {
  std::vector<std::pair<std::string_view, simdjson::dom::element>> out;
  for (auto member : object) {
    // Linear: objects are small; a key given twice is rare (the server never writes one).
    auto same = std::find_if(out.begin(), out.end(), [&member](const auto& seen) { return seen.first == member.key; });
    if (same == out.end()) {
      out.emplace_back(member.key, member.value);
    } else {
      same->second = member.value;
    }
  }
  return out;
}

std::optional<simdjson::dom::element> find_member(simdjson::dom::object object, std::string_view key) {
  std::optional<simdjson::dom::element> found;
  for (auto member : object) {
    if (member.key == key) found = member.value;
  }
  return found;
}

void write_json(json_writer& writer, simdjson::dom::element value) {
  switch (value.type()) {
    case simdjson::dom::element_type::ARRAY: {
      // A local: value_unsafe() refers into its temporary result.
      simdjson::dom::array items = value.get_array().value_unsafe();
      writer.begin_array();
      for (simdjson::dom::element item : items) write_json(writer, item);
      writer.end_array();
      break;
    }
    case simdjson::dom::element_type::OBJECT:
      write_json(writer, value.get_object().value_unsafe());
      break;
    case simdjson::dom::element_type::INT64:
      writer.value(value.get_int64().value_unsafe());
      break;
    case simdjson::dom::element_type::UINT64:
      writer.value(value.get_uint64().value_unsafe());
      break;
    case simdjson::dom::element_type::DOUBLE:
      writer.value(value.get_double().value_unsafe());
      break;
    case simdjson::dom::element_type::STRING:
      writer.value(value.get_string().value_unsafe());
      break;
    case simdjson::dom::element_type::BOOL:
      writer.value(value.get_bool().value_unsafe());
      break;
    case simdjson::dom::element_type::NULL_VALUE:
      writer.null();
      break;
  }
}

void write_json(json_writer& writer, simdjson::dom::object object) {
  writer.begin_object();
  for (const auto& [key, member] : members(object)) {
    writer.key(key);
    write_json(writer, member);
  }
  writer.end_object();
}

std::string json_text(simdjson::dom::element value) {
  return json_string([value](json_writer& writer) { write_json(writer, value); });
}

std::string json_text(simdjson::dom::object object) {
  return json_string([object](json_writer& writer) { write_json(writer, object); });
}

std::string text_of(simdjson::dom::element value) {
  if (value.is_string()) return std::string(value.get_string().value_unsafe());
  if (value.is_null()) return {};
  return json_text(value);
}

std::string string_member(simdjson::dom::object object, std::string_view key) {
  auto found = find_member(object, key);
  return found ? text_of(*found) : std::string();
}

std::int64_t integer_member(simdjson::dom::object object, std::string_view key) {
  auto found = find_member(object, key);
  if (!found) return 0;
  switch (found->type()) {
    case simdjson::dom::element_type::INT64:
      return found->get_int64().value_unsafe();
    case simdjson::dom::element_type::UINT64:
      return static_cast<std::int64_t>(found->get_uint64().value_unsafe());
    case simdjson::dom::element_type::DOUBLE:
      return static_cast<std::int64_t>(found->get_double().value_unsafe());
    default:
      return 0;
  }
}

bool boolean_member(simdjson::dom::object object, std::string_view key) {
  auto found = find_member(object, key);
  return found && found->is_bool() && found->get_bool().value_unsafe();
}

}  // namespace sc::client
