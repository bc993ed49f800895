#include "core/json_reader.hpp"

namespace sc::json {

namespace {

thread_local simdjson::dom::parser parser;
thread_local std::uint64_t generation = 0;

}  // namespace

simdjson::simdjson_result<simdjson::dom::element> parse(std::string_view text) {
  ++generation;
  // realloc_if_needed: the text has no simdjson padding, so the parser copies it.
  return parser.parse(text.data(), text.size(), true);
}

std::optional<std::vector<std::string>> string_array(std::string_view text) {
  simdjson::dom::array items;
  if (parse(text).get(items) != simdjson::SUCCESS) return std::nullopt;
  std::vector<std::string> out;
  out.reserve(items.size());
  for (simdjson::dom::element item : items) {
    std::string_view s;
    if (item.get(s) == simdjson::SUCCESS) out.emplace_back(s);
  }
  return out;
}

std::optional<bool> bool_member(std::string_view text, std::string_view key) {
  simdjson::dom::object object;
  bool value = false;
  if (parse(text).get(object) != simdjson::SUCCESS || object[key].get(value) != simdjson::SUCCESS) return std::nullopt;
  return value;
}

std::optional<simdjson::dom::element> member(simdjson::dom::object object, std::string_view key) {
  simdjson::dom::element found;
  if (object.at_key(key).get(found) != simdjson::SUCCESS) return std::nullopt;
  return found;
}

std::optional<simdjson::dom::element> member(simdjson::dom::element value, std::string_view key) {
  simdjson::dom::element found;
  if (value.at_key(key).get(found) != simdjson::SUCCESS) return std::nullopt;
  return found;
}

std::uint64_t parse_generation() noexcept {
  return generation;
}

}  // namespace sc::json
