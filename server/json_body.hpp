#pragma once
// Decoding of JSON request bodies, shared by every handler that takes one.
//
// Usage (collect every field, then check once):
//
//   auto body = json_body::parse(context.request.body());
//   if (!body) co_return http::problem_response(body.error());
//   std::string username = body->string("username", {.max_length = 64});
//   std::optional<bool> admin = body->optional_boolean("admin");
//   if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
//
// Failures, all problem+json naming the field in `errors[].field` (nested members as "fields.email"):
//   * empty body, malformed JSON, or a top-level value that is not an object → 400;
//   * a required member missing (or null)                                       → 400 "is required";
//   * wrong type, string too long, control characters, integer out of range     → 422.
// When both kinds occur, `finish()` answers 400 and still lists every field.
//
// Compatibility (behavior-core.md §2.7): member names match case-insensitively when no exact match
// exists, unknown members are ignored, Content-Type is not checked. Unlike the original, nothing
// here ever becomes a 500.
//
// Lifetime: a json_body views the thread's one reusable simdjson parser. Read everything you need
// before the next `parse` on the same thread and before any co_await; the accessors return copies.
// Using a json_body after another parse aborts (a programming error, not a client fault).
// Child objects (`optional_object`) record their errors in their root and must not outlive it.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/problem.hpp"

namespace sc::server {

struct string_rule {
  std::size_t max_length = 1024;  // bytes
  bool allow_empty = true;        // false: "" is a 422 "must not be empty"
  bool allow_newlines = false;    // true: TAB, LF and CR pass; other control characters never do
};

class json_body {
 public:
  // 400 for an empty body, malformed JSON, or a top-level value that is not an object.
  static result<json_body> parse(std::string_view text);

  json_body(json_body&&) noexcept;
  json_body& operator=(json_body&&) noexcept;
  ~json_body();

  // True when the member exists and is not null.
  bool has(std::string_view field) const;
  // Member names of this object, in document order.
  std::vector<std::string> keys() const;

  // Required members: on failure an error is recorded and an empty value returned.
  std::string string(std::string_view field, string_rule rule = {});
  bool boolean(std::string_view field);
  std::int64_t integer(std::string_view field, std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                       std::int64_t max = std::numeric_limits<std::int64_t>::max());

  // Optional members: nullopt when absent or null; wrong type etc. recorded as errors.
  std::optional<std::string> optional_string(std::string_view field, string_rule rule = {});
  std::optional<bool> optional_boolean(std::string_view field);
  std::optional<std::int64_t> optional_integer(std::string_view field,
                                               std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                                               std::int64_t max = std::numeric_limits<std::int64_t>::max());
  // An array of strings; each element obeys `rule`; more than `max_items` elements is a 422.
  std::optional<std::vector<std::string>> optional_string_list(std::string_view field, string_rule rule = {},
                                                               std::size_t max_items = 256);
  // An object of strings, numbers and booleans as (member, text) pairs in document order: a number
  // or boolean as its JSON text (clients send `"port": 8080`); null members are left out; any
  // other type, more than `max_items` members, a name over `max_key_length` or a string over
  // `max_value_length` bytes is a 422. nullopt when absent, null or refused.
  struct scalar_map_rule {
    std::size_t max_items = 256;
    std::size_t max_key_length = 128;
    std::size_t max_value_length = std::size_t{64} * 1024;
  };
  std::optional<std::vector<std::pair<std::string, std::string>>> optional_scalar_map(std::string_view field,
                                                                                      scalar_map_rule rule);
  // A nested object (errors inside it are named "<field>.<member>"); nullopt when absent or null.
  std::optional<json_body> optional_object(std::string_view field);
  // A required nested object.
  std::optional<json_body> object(std::string_view field);
  // The member as compact JSON text (any type), nullopt when absent. For values a handler passes on
  // verbatim (e.g. settings values of several types).
  std::optional<std::string> raw(std::string_view field) const;

  // Record a rule violation found by the caller (e.g. from core validation) → 422 in `finish()`.
  void reject(const std::string& field, std::string message);
  // Record a missing member found by the caller → 400 in `finish()`.
  void require(const std::string& field);

  bool ok() const noexcept;
  // Every recorded error as one problem (400 when a member was missing or malformed, else 422).
  result<void> finish() const;

 private:
  struct node;
  struct errors;
  explicit json_body(std::unique_ptr<node> n);
  std::unique_ptr<node> node_;
};

// True when `text` holds a control character (< 0x20 or 0x7F); TAB/LF/CR pass when `allow_newlines`.
bool has_control_characters(std::string_view text, bool allow_newlines = false) noexcept;

}  // namespace sc::server
