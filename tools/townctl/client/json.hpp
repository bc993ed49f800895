#pragma once
// How townctl reads JSON (issue 12: simdjson's DOM is the one parser, core/json_writer.hpp the one
// writer). A json_document owns what it parsed, so it stays readable whatever else is parsed on
// the thread meanwhile (sc::json::parse's documents last only until the next parse).
//
// townctl prints what it reads (tables, KEY: VALUE lines, JSON written back), and scripts read
// that output, so reading and writing back keep what townctl did when it read with Boost.JSON: at
// most 32 levels of nesting, a key given twice counts once, at its first place with its last
// value. Doubles are written back as json_writer writes them, as the server does.

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json_writer.hpp"

namespace sc::client {

// A parsed JSON text with its own simdjson document. Move-only.
class json_document {
 public:
  json_document();  // the JSON null

  // `text` as JSON, or nullopt when it is not (then `failure`, when given, says why in the words
  // townctl used before: "syntax error", "incomplete JSON", "too deep"). Not UTF-8 is a syntax
  // error; so are numbers outside the 64-bit integers and the doubles.
  static std::optional<json_document> parse(std::string_view text, std::string* failure = nullptr);
  // A JSON string holding `text`; bytes that are not UTF-8 become U+FFFD.
  static json_document string(std::string_view text);

  // Its root; the element and what it reaches are valid while this document lives unmoved.
  simdjson::dom::element root() const noexcept { return document_.root(); }

 private:
  explicit json_document(simdjson::dom::document&& document) : document_(std::move(document)) {}
  simdjson::dom::document document_;
};

// The members of `object` in order; a key given more than once appears once, at its first place,
// with its last value.
std::vector<std::pair<std::string_view, simdjson::dom::element>> members(simdjson::dom::object object);
// The value of member `key` (its last when given more than once), or nullopt.
std::optional<simdjson::dom::element> find_member(simdjson::dom::object object, std::string_view key);

// `value` written as compact JSON: as Boost.JSON wrote it, but doubles as the server writes them
// (json_writer: the shortest text that reads back as the same double, "1.5" and not "1.5E0").
void write_json(json_writer& writer, simdjson::dom::element value);
void write_json(json_writer& writer, simdjson::dom::object object);
std::string json_text(simdjson::dom::element value);
std::string json_text(simdjson::dom::object object);

// A string as itself, null as "", anything else as its JSON text.
std::string text_of(simdjson::dom::element value);

// Field access that tolerates absent and mistyped members (a newer or older server).
std::string string_member(simdjson::dom::object object, std::string_view key);  // as text_of
std::int64_t integer_member(simdjson::dom::object object, std::string_view key);
bool boolean_member(simdjson::dom::object object, std::string_view key);

}  // namespace sc::client
