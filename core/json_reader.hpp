#pragma once
// The one JSON parser: simdjson's DOM, one parser per thread (it reuses its buffers across
// documents, which is what makes it cheap). Request bodies (server/json_body.hpp), stored JSON and
// rendered bodies are all read through it; writing is core/json_writer.hpp's.
//
// A parsed document views the thread's parser: read what you need before the next parse on the
// same thread and before any co_await. `parse_generation()` counts parses, so a holder can check
// that its document is still the current one.

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sc::json {

// The document's root; the text is copied into the parser (it need not be padded).
simdjson::simdjson_result<simdjson::dom::element> parse(std::string_view text);

// The strings of a JSON array (other elements skipped); nullopt when `text` is not one. For lists
// kept as JSON text (account grants, settings, featured.json).
std::optional<std::vector<std::string>> string_array(std::string_view text);

// The boolean member `key` of the JSON object `text`; nullopt when there is none. For small option
// records kept as JSON text.
std::optional<bool> bool_member(std::string_view text, std::string_view key);

// The member `key` of an object; nullopt when there is none (or `value` is not an object).
std::optional<simdjson::dom::element> member(simdjson::dom::object object, std::string_view key);
std::optional<simdjson::dom::element> member(simdjson::dom::element value, std::string_view key);

// How many parses this thread has made.
std::uint64_t parse_generation() noexcept;

}  // namespace sc::json
