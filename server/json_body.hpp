#pragma once
// Decoding of JSON request bodies, shared by every handler that takes one. The body is read by its
// route's declared request (route::contract, core/schema.hpp): each member's type, presence and
// limits come from that one declaration, which /openapi.json also publishes.
//
// Usage (collect every field, then check once):
//
//   auto body = json_body::parse(context);
//   if (!body) co_return http::problem_response(body.error());
//   std::string username = body->string("username");           // declared {"username", string(...)}
//   std::optional<bool> admin = body->optional_boolean("admin"); // declared optional("admin", boolean())
//   if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
//
// Reading a member the declaration lacks, as another type, or a required member as optional (or the
// reverse) is a programming error: logged, and fatal in debug builds (every test run), so the
// document cannot drift from the decoder.
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
#include "core/schema.hpp"

namespace sc::server {

struct request_context;
using schema::string_rule;

class json_body {
 public:
  // 400 for an empty body, malformed JSON, or a top-level value that is not an object. `declared`
  // is the request's object declaration.
  static result<json_body> parse(std::string_view text, const schema::type& declared);
  // The request's body, read by its route's declared request.
  static result<json_body> parse(const request_context& context);

  json_body(json_body&&) noexcept;
  json_body& operator=(json_body&&) noexcept;
  ~json_body();

  // True when the member exists and is not null.
  bool has(std::string_view field) const;
  // Member names of this object, in document order.
  std::vector<std::string> keys() const;

  // Required members: on failure an error is recorded and an empty value returned.
  std::string string(std::string_view field);
  bool boolean(std::string_view field);
  std::int64_t integer(std::string_view field);
  // An array of strings (declared array(string(rule), max_items)); each element obeys the rule.
  std::vector<std::string> string_list(std::string_view field);

  // Optional members: nullopt when absent or null; wrong type etc. recorded as errors.
  std::optional<std::string> optional_string(std::string_view field);
  std::optional<bool> optional_boolean(std::string_view field);
  std::optional<std::int64_t> optional_integer(std::string_view field);
  // An array of strings (declared array(string(rule), max_items)); each element obeys the rule.
  std::optional<std::vector<std::string>> optional_string_list(std::string_view field);
  // An object of strings, numbers and booleans (declared scalar_map(...)) as (member, text) pairs
  // in document order: a number or boolean as its JSON text (clients send `"port": 8080`); null
  // members are left out; any other type, too many members, a name or a string too long is a 422.
  // nullopt when absent, null or refused.
  std::optional<std::vector<std::pair<std::string, std::string>>> optional_scalar_map(std::string_view field);
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
  std::optional<json_body> child(std::string_view field, bool required);
  std::string string_as(std::string_view field, const schema::node& declared);
  std::int64_t integer_as(std::string_view field, const schema::node& declared);
  std::optional<std::string> optional_string_as(std::string_view field, const schema::node& declared);
  std::optional<std::int64_t> optional_integer_as(std::string_view field, const schema::node& declared);
  std::optional<std::vector<std::string>> optional_string_list_as(std::string_view field, const schema::node& declared);
  std::optional<std::vector<std::pair<std::string, std::string>>> optional_scalar_map_as(std::string_view field,
                                                                                         const schema::node& declared);
  explicit json_body(std::unique_ptr<node> n);
  std::unique_ptr<node> node_;
};

// A map of scalars for json_body::optional_scalar_map: at most `max_items` members, names of at most
// `max_key_length` bytes, strings of at most `max_value_length`.
schema::type scalar_map(std::size_t max_items = 256, std::size_t max_key_length = 128,
                        std::size_t max_value_length = std::size_t{64} * 1024);

// True when `text` holds a control character (< 0x20 or 0x7F); TAB/LF/CR pass when `allow_newlines`.
bool has_control_characters(std::string_view text, bool allow_newlines = false) noexcept;

}  // namespace sc::server
