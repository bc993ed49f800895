#pragma once
// Declarations of JSON shapes (the JSON Schema 2020-12 subset OpenAPI 3.1 uses), one per request
// body, response body and stream event. They are the one source of the contract:
//   * the request decoder (server/json_body) takes every member's type, presence and limits from
//     the route's declared request; reading a member the declaration lacks is a programming error;
//   * /openapi.json writes them (`write`);
//   * the contract tests (tests/support/contract) validate every JSON response and stream event
//     the integration tests receive against the published document.
//
//   using namespace sc::schema;
//   type account = component("account", object({{"username", string()},
//                                               {"admin", boolean()},
//                                               optional("email", string({.max_length = 1024}))}));
//
// Response objects are closed (a member the declaration lacks fails the contract tests); request
// objects are open (`request`: unknown members are ignored, behavior-core.md §2.7).

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json_writer.hpp"

namespace sc::schema {

enum class kind : std::uint8_t { any, string, integer, number, boolean, array, object, map, one_of };
std::string_view to_string(kind k) noexcept;  // "string", …, "map", "one_of", "any"

struct node;
using type = std::shared_ptr<const node>;

struct member {
  member(std::string member_name, type member_type, bool is_required = true)
      : name(std::move(member_name)), value(std::move(member_type)), required(is_required) {}
  std::string name;
  type value;
  bool required = true;  // responses: always present; requests: a missing (or null) member is a 400
};

// Limits of a string: in requests they are enforced (422), in the document they are maxLength etc.
struct string_rule {
  std::size_t max_length = 1024;  // bytes
  bool allow_empty = true;        // false: "" is a 422 "must not be empty" (minLength 1)
  bool allow_newlines = false;    // true: TAB, LF and CR pass; other control characters never do
};

struct node {
  kind k = kind::any;
  std::string component{};  // non-empty: written once under components/schemas, referenced by $ref
  std::string description{};
  bool nullable = false;  // null is also a value
  // string
  string_rule text{.max_length = 0};  // max_length 0: no limit declared
  std::vector<std::string> values{};  // an enumeration
  std::string format{};               // "date-time", "uri", ...
  // integer
  std::optional<std::int64_t> minimum{};
  std::optional<std::int64_t> maximum{};
  // object: members in order; closed objects allow no others
  std::vector<member> members{};
  bool closed = true;
  // array items, map values
  type items{};
  std::size_t max_items = 0;       // array or map; 0: no limit
  std::size_t max_key_length = 0;  // map
  // one_of
  std::vector<type> alternatives{};

  // The member declaration, or null.
  const member* find(std::string_view name) const noexcept;
};

type string(string_rule rule = {.max_length = 0});
type enumeration(std::initializer_list<std::string_view> values);
type integer(std::optional<std::int64_t> minimum = std::nullopt, std::optional<std::int64_t> maximum = std::nullopt);
type number();
type boolean();
type any(std::string_view description = {});
type array(type items, std::size_t max_items = 0);
// A closed object (responses).
type object(std::vector<member> members);
// An open object (request bodies: unknown members are ignored). Its strings without a declared
// limit get the decoder's default, 1024 bytes.
type request(std::vector<member> members);
// An object of any member names whose values are all `values`.
type map(type values, std::size_t max_items = 0, std::size_t max_key_length = 0);
type one_of(std::vector<type> alternatives);
// The list envelope (core/json_writer.hpp write_list_envelope):
// {"entries":[entry…],"has_more":bool,"total_pages":n,"total_count":n}.
type page(type entry);

// Modifiers: each returns a copy of `t` with the change.
type component(std::string name, const type& t);
type describe(const type& t, std::string_view description);
type nullable(type t);
type format(const type& t, std::string_view format);

member optional(std::string name, type t);

// A stream's event: `event: <name>` (empty: unnamed, "message") with `data:` of shape `data`.
struct event {
  std::string name;
  type data{};
  std::string description{};
};

// Writes `t` as JSON Schema; components are written as {"$ref":"#/components/schemas/<name>"} and
// gathered in `components` for `write_components`.
using component_set = std::map<std::string, type, std::less<>>;
void write(json_writer& w, const type& t, component_set& components);
// Writes every gathered component as the members of components/schemas (and those they refer to).
void write_components(json_writer& w, component_set& components);

}  // namespace sc::schema
